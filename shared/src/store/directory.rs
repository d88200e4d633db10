//! The directory: account profiles (people) and catalogs, and keeping
//! inbox rows in step when people join or leave an account.

use std::collections::HashSet;

use aws_sdk_dynamodb::types::{AttributeValue, DeleteRequest, PutRequest, WriteRequest};

use super::attr::{b, s, Item, Reader};
use super::threads::{inbox_item, participants_attr, read_record, ThreadRecord};
use super::{key, keys, schema, Store, StoreError};
use crate::domain::{
    AccountId, AccountProfile, CampaignId, CatalogEntry, ClientId, CreativeId, Person, Role,
    ThreadId, UserId,
};

fn people_attr(people: &[Person]) -> AttributeValue {
    AttributeValue::L(
        people
            .iter()
            .map(|p| {
                AttributeValue::M(Item::from([
                    ("id".into(), s(p.id.as_str())),
                    ("email".into(), s(&p.email)),
                    ("name".into(), s(&p.name)),
                ]))
            })
            .collect(),
    )
}

fn read_people(r: &Reader<'_>, name: &str) -> Result<Vec<Person>, StoreError> {
    r.list(name)?
        .iter()
        .map(|v| match v {
            AttributeValue::M(m) => {
                let p = Reader::new(m);
                Ok(Person {
                    id: p.parse("id", |v| UserId::parse(v))?,
                    email: p.s("email")?.to_owned(),
                    name: p.s("name")?.to_owned(),
                })
            }
            _ => Err(r.corrupt(format!("{name} holds a non-map"))),
        })
        .collect()
}

pub(super) fn read_profile(item: &Item) -> Result<AccountProfile, StoreError> {
    let r = Reader::new(item);
    Ok(AccountProfile {
        id: r.parse("account_id", |v| AccountId::parse(v))?,
        name: r.s("name")?.to_owned(),
        users: read_people(&r, "users")?,
        managers: read_people(&r, "managers")?,
    })
}

fn profile_item(p: &AccountProfile) -> Item {
    let mut item = key(keys::account(&p.id), keys::PROFILE);
    item.insert("type".into(), s("account"));
    item.insert("account_id".into(), s(p.id.as_str()));
    item.insert("name".into(), s(&p.name));
    item.insert("users".into(), people_attr(&p.users));
    item.insert("managers".into(), people_attr(&p.managers));
    item
}

pub(super) fn read_catalog_entry(item: &Item) -> Result<CatalogEntry, StoreError> {
    let r = Reader::new(item);
    let opt = |name: &str| r.opt_s(name);
    Ok(CatalogEntry {
        client: r.parse("client_id", |v| ClientId::parse(v))?,
        campaign: opt("campaign_id")?
            .map(|v| CampaignId::parse(v).map_err(|_| r.corrupt("campaign_id is not valid")))
            .transpose()?,
        creative: opt("creative_id")?
            .map(|v| CreativeId::parse(v).map_err(|_| r.corrupt("creative_id is not valid")))
            .transpose()?,
        name: r.s("name")?.to_owned(),
        archived: r.bool_or("archived", false)?,
    })
}

fn catalog_item(acc: &AccountId, e: &CatalogEntry) -> Item {
    let mut path = vec![e.client.as_str()];
    path.extend(e.campaign.as_ref().map(CampaignId::as_str));
    path.extend(e.creative.as_ref().map(CreativeId::as_str));
    let mut item = key(
        keys::account(acc),
        format!("{}{}", keys::CATALOG_PREFIX, path.join("#")),
    );
    item.insert("type".into(), s("catalog"));
    item.insert("client_id".into(), s(e.client.as_str()));
    if let Some(c) = &e.campaign {
        item.insert("campaign_id".into(), s(c.as_str()));
    }
    if let Some(c) = &e.creative {
        item.insert("creative_id".into(), s(c.as_str()));
    }
    item.insert("name".into(), s(&e.name));
    item.insert("archived".into(), b(e.archived));
    item
}

fn put(item: Item) -> Result<WriteRequest, StoreError> {
    let put = PutRequest::builder()
        .set_item(Some(item))
        .build()
        .map_err(|e| StoreError::Aws {
            op: "BatchWriteItem",
            message: e.to_string(),
        })?;
    Ok(WriteRequest::builder().put_request(put).build())
}

fn delete(k: Item) -> Result<WriteRequest, StoreError> {
    let del = DeleteRequest::builder()
        .set_key(Some(k))
        .build()
        .map_err(|e| StoreError::Aws {
            op: "BatchWriteItem",
            message: e.to_string(),
        })?;
    Ok(WriteRequest::builder().delete_request(del).build())
}

/// An account as stored: its profile and whole catalog (archived included),
/// catalog in path order (client, its campaigns, their creatives).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountSnapshot {
    pub profile: Option<AccountProfile>,
    pub catalog: Vec<CatalogEntry>,
}

impl Store {
    /// The account's profile and catalog: one Query over its partition.
    pub async fn account(&self, acc: &AccountId) -> Result<AccountSnapshot, StoreError> {
        let mut snapshot = AccountSnapshot {
            profile: None,
            catalog: Vec::new(),
        };
        for item in &self.partition(keys::account(acc)).await? {
            let sk = Reader::new(item).s(schema::SK)?;
            if sk == keys::PROFILE {
                snapshot.profile = Some(read_profile(item)?);
            } else if sk.starts_with(keys::CATALOG_PREFIX) {
                snapshot.catalog.push(read_catalog_entry(item)?);
            }
        }
        Ok(snapshot)
    }

    /// Just the profile (people) of an account.
    pub async fn profile(&self, acc: &AccountId) -> Result<Option<AccountProfile>, StoreError> {
        self.get(key(keys::account(acc), keys::PROFILE))
            .await?
            .as_ref()
            .map(read_profile)
            .transpose()
    }

    /// Upserts the profile and catalog entries (catalog entries are never
    /// deleted: threads refer to them).
    pub async fn put_account(
        &self,
        profile: &AccountProfile,
        catalog: &[CatalogEntry],
    ) -> Result<(), StoreError> {
        let mut writes = vec![put(profile_item(profile))?];
        for e in catalog {
            writes.push(put(catalog_item(&profile.id, e))?);
        }
        self.batch_write(writes).await
    }

    /// Every thread of an account (for membership changes, not requests).
    pub async fn account_threads(&self, acc: &AccountId) -> Result<Vec<ThreadRecord>, StoreError> {
        let mut ids = Vec::new();
        for item in &self.partition(keys::account_threads(acc)).await? {
            let r = Reader::new(item);
            let sk = r.s(schema::SK)?;
            let id = sk
                .strip_prefix("THREAD#")
                .and_then(ThreadId::parse)
                .ok_or_else(|| r.corrupt("sk is not a thread pointer"))?;
            ids.push(id);
        }
        let metas = self
            .batch_get(
                ids.iter()
                    .map(|t| key(keys::thread(t), keys::META))
                    .collect(),
            )
            .await?;
        metas.iter().map(read_record).collect()
    }

    /// Brings inbox rows in step with who is in the account now: newcomers
    /// get a row in every thread, people who left lose theirs (and with
    /// them access and e-mail).
    pub async fn sync_membership(
        &self,
        before: Option<&AccountProfile>,
        now: &AccountProfile,
    ) -> Result<(), StoreError> {
        let was: HashSet<(&UserId, Role)> = before
            .map(|p| p.participants().map(|(p, r)| (&p.id, r)).collect())
            .unwrap_or_default();
        let is: HashSet<(&UserId, Role)> = now.participants().map(|(p, r)| (&p.id, r)).collect();
        let joined: Vec<_> = is.difference(&was).copied().collect();
        let left: Vec<_> = was
            .difference(&is)
            .copied()
            .filter(|(u, _)| !is.iter().any(|(v, _)| v == u))
            .collect();
        if joined.is_empty() && left.is_empty() {
            return Ok(());
        }
        let threads = self.account_threads(&now.id).await?;
        let people: Vec<(UserId, Role)> =
            now.participants().map(|(p, r)| (p.id.clone(), r)).collect();
        for record in &threads {
            self.db
                .update_item()
                .table_name(&self.table)
                .set_key(Some(key(keys::thread(&record.thread.id), keys::META)))
                .update_expression("SET participants = :p")
                .condition_expression("attribute_exists(pk)")
                .expression_attribute_values(":p", participants_attr(&people))
                .send()
                .await
                .map_err(|e| StoreError::aws("UpdateItem", e))?;
        }
        let mut writes = Vec::new();
        for record in &threads {
            for (user, _) in &left {
                writes.push(delete(key(
                    keys::thread(&record.thread.id),
                    keys::inbox(user),
                ))?);
            }
            for (user, role) in &joined {
                writes.push(put(inbox_item(record, user, *role))?);
            }
        }
        self.batch_write(writes).await
    }
}
