//! Threads: the META item, one inbox row per participant, and the listings
//! over the inbox rows' indexes.

use std::collections::BTreeMap;

use aws_sdk_dynamodb::types::{AttributeValue, CancellationReason, Put, Select, TransactWriteItem};

use super::attr::{b, n, s, Item, Reader};
use super::schema::{self, Index};
use super::{key, keys, Backoff, Store, StoreError};
use crate::domain::{
    AccountId, AccountProfile, Author, CampaignId, CatalogEntry, ClientId, CreativeId,
    LabeledScope, LastMessage, MessageId, Role, Scope, Thread, ThreadId, Timestamp, UserId,
};

/// One person's inbox row: their view of a thread plus their read state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InboxRow {
    pub user: UserId,
    pub role: Role,
    pub thread: Thread,
    pub read_position: Option<MessageId>,
    /// The newest message from the other side.
    pub other_side_last: Option<MessageId>,
}

/// What `list_threads` reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThreadQuery {
    pub user: UserId,
    pub account: Option<AccountId>,
    /// Only the rows where the person is on this side.
    pub role: Role,
    pub unread_only: bool,
    pub limit: i32,
}

impl ThreadQuery {
    fn index(&self) -> (Index, String) {
        match (&self.account, self.unread_only) {
            (None, false) => (schema::BY_USER, keys::by_user(&self.user)),
            (Some(a), false) => (
                schema::BY_USER_ACCOUNT,
                keys::by_user_account(&self.user, a),
            ),
            (None, true) => (schema::UNREAD_BY_USER, keys::unread_by_user(&self.user)),
            (Some(a), true) => (
                schema::UNREAD_BY_USER_ACCOUNT,
                keys::unread_by_user_account(&self.user, a),
            ),
        }
    }

    /// Names the listing, so a cursor from one cannot be used with another.
    pub fn cursor_scope(&self) -> String {
        format!(
            "threads:{}:{}",
            if self.unread_only { "unread" } else { "all" },
            self.account.as_ref().map(AccountId::as_str).unwrap_or("*")
        )
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThreadPage {
    pub threads: Vec<Thread>,
    /// Where the next page starts, if there may be one.
    pub next: Option<BTreeMap<String, String>>,
}

/// What opening a scope needs, read in one round trip.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenContext {
    pub profile: Option<AccountProfile>,
    /// The profile's directory version (0 for one stored before versions):
    /// creating the thread is conditional on it being still the same.
    pub profile_version: u64,
    /// The caller's view of the thread, if it exists.
    pub existing: Option<Thread>,
    /// The catalog entries on the scope's path that exist.
    pub catalog: Vec<CatalogEntry>,
}

pub(super) fn scope_attrs(item: &mut Item, scope: &LabeledScope) {
    item.insert("scope_kind".into(), s(scope.scope.kind().as_str()));
    if let Some(c) = scope.scope.client() {
        item.insert("client_id".into(), s(c.as_str()));
    }
    if let Some(c) = scope.scope.campaign() {
        item.insert("campaign_id".into(), s(c.as_str()));
    }
    if let Some(c) = scope.scope.creative() {
        item.insert("creative_id".into(), s(c.as_str()));
    }
    item.insert("scope_label".into(), s(&scope.label));
}

fn read_scope(r: &Reader<'_>) -> Result<LabeledScope, StoreError> {
    let client = || r.parse("client_id", |v| ClientId::parse(v));
    let campaign = || r.parse("campaign_id", |v| CampaignId::parse(v));
    let creative = || r.parse("creative_id", |v| CreativeId::parse(v));
    let scope = match r.s("scope_kind")? {
        "general" => Scope::General,
        "client" => Scope::Client { client: client()? },
        "campaign" => Scope::Campaign {
            client: client()?,
            campaign: campaign()?,
        },
        "creative" => Scope::Creative {
            client: client()?,
            campaign: campaign()?,
            creative: creative()?,
        },
        _ => return Err(r.corrupt("scope_kind is unknown")),
    };
    Ok(LabeledScope {
        scope,
        label: r.s("scope_label")?.to_owned(),
    })
}

pub(super) fn last_message_attr(m: &LastMessage) -> AttributeValue {
    AttributeValue::M(Item::from([
        ("id".into(), s(m.id.to_string())),
        ("author_id".into(), s(m.author.id.as_str())),
        ("author_name".into(), s(&m.author.name)),
        ("author_role".into(), s(m.author.role.as_str())),
        ("preview".into(), s(&m.preview)),
        ("urgent".into(), b(m.urgent)),
    ]))
}

fn read_last_message(item: &Item) -> Result<LastMessage, StoreError> {
    let r = Reader::new(item);
    Ok(LastMessage {
        id: r.parse_opt("id", MessageId::parse)?,
        author: Author {
            id: r.parse("author_id", |v| UserId::parse(v))?,
            name: r.s("author_name")?.to_owned(),
            role: r.parse_opt("author_role", Role::parse)?,
        },
        preview: r.s("preview")?.to_owned(),
        urgent: r.bool_or("urgent", false)?,
    })
}

/// The attributes the META item and every inbox row share.
fn thread_attrs(t: &Thread) -> Item {
    let mut item = Item::from([
        ("thread_id".into(), s(t.id.as_str())),
        ("account_id".into(), s(t.account_id.as_str())),
        ("created_at".into(), s(t.created_at.to_string())),
        ("created_by".into(), s(t.created_by.as_str())),
        ("last_activity_at".into(), s(t.last_activity_at.to_string())),
        ("message_count".into(), n(t.message_count)),
    ]);
    scope_attrs(&mut item, &t.scope);
    if let Some(m) = &t.last_message {
        item.insert("last_message".into(), last_message_attr(m));
        item.insert("last_message_id".into(), s(m.id.to_string()));
    }
    item
}

fn read_thread(r: &Reader<'_>, unread: bool) -> Result<Thread, StoreError> {
    Ok(Thread {
        id: r.parse_opt("thread_id", ThreadId::parse)?,
        account_id: r.parse("account_id", |v| AccountId::parse(v))?,
        scope: read_scope(r)?,
        created_at: r.parse_opt("created_at", Timestamp::parse)?,
        created_by: r.parse("created_by", |v| UserId::parse(v))?,
        last_activity_at: r.parse_opt("last_activity_at", Timestamp::parse)?,
        last_message: r
            .opt_map("last_message")?
            .map(read_last_message)
            .transpose()?,
        message_count: r.n("message_count")?.max(0) as u64,
        unread,
    })
}

/// The META item: the thread, the newest message of each side, and who is
/// in it (so a send knows every inbox row to update without reading them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThreadRecord {
    pub thread: Thread,
    pub last_client_message: Option<MessageId>,
    pub last_manager_message: Option<MessageId>,
    pub participants: Vec<(UserId, Role)>,
    /// The directory's name of each participant (empty for threads stored
    /// before names were kept here).
    pub names: BTreeMap<UserId, String>,
}

/// What `create_thread` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CreateOutcome {
    Created,
    /// Someone else created it first.
    Exists,
    /// The account's people changed since the profile was read: read again.
    DirectoryChanged,
}

impl ThreadRecord {
    /// The side and directory name of a participant.
    pub fn member(&self, user: &UserId) -> Option<(Role, Option<&str>)> {
        let role = self
            .participants
            .iter()
            .find(|(u, _)| u == user)
            .map(|(_, r)| *r)?;
        Some((role, self.names.get(user).map(String::as_str)))
    }

    pub fn last_from(&self, role: Role) -> Option<MessageId> {
        match role {
            Role::Client => self.last_client_message,
            Role::Manager => self.last_manager_message,
        }
    }
}

pub(super) fn opt_message_id(r: &Reader<'_>, name: &str) -> Result<Option<MessageId>, StoreError> {
    r.opt_s(name)?
        .map(|v| MessageId::parse(v).ok_or_else(|| r.corrupt(format!("{name} is not valid"))))
        .transpose()
}

pub(super) fn read_record(item: &Item) -> Result<ThreadRecord, StoreError> {
    let r = Reader::new(item);
    let msg = |name: &str| opt_message_id(&r, name);
    let mut participants = Vec::new();
    for (user, role) in r.opt_map("participants")?.into_iter().flatten() {
        let user =
            UserId::parse(user.clone()).map_err(|_| r.corrupt("participants has a bad id"))?;
        let role = match role {
            AttributeValue::S(v) => Role::parse(v),
            _ => None,
        }
        .ok_or_else(|| r.corrupt("participants has a bad role"))?;
        participants.push((user, role));
    }
    participants.sort();
    let mut names = BTreeMap::new();
    for (user, name) in r.opt_map("names")?.into_iter().flatten() {
        let user = UserId::parse(user.clone()).map_err(|_| r.corrupt("names has a bad id"))?;
        match name {
            AttributeValue::S(v) => names.insert(user, v.clone()),
            _ => return Err(r.corrupt("names holds a non-string")),
        };
    }
    Ok(ThreadRecord {
        thread: read_thread(&r, false)?,
        last_client_message: msg("last_client_message")?,
        last_manager_message: msg("last_manager_message")?,
        participants,
        names,
    })
}

pub(super) fn read_inbox_row(item: &Item) -> Result<InboxRow, StoreError> {
    let r = Reader::new(item);
    let msg = |name: &str| opt_message_id(&r, name);
    Ok(InboxRow {
        user: r.parse("user_id", |v| UserId::parse(v))?,
        role: r.parse_opt("role", Role::parse)?,
        thread: read_thread(&r, r.bool_or("unread", false)?)?,
        read_position: msg("read_position")?,
        other_side_last: msg("other_side_last")?,
    })
}

/// A person's inbox row for a thread, from the thread's current record: a
/// newcomer has read nothing, so the other side's messages are unread.
pub(super) fn inbox_item(record: &ThreadRecord, user: &UserId, role: Role) -> Item {
    let t = &record.thread;
    let mut item = thread_attrs(t);
    item.extend(key(keys::thread(&t.id), keys::inbox(user)));
    item.insert("type".into(), s("inbox"));
    item.insert("user_id".into(), s(user.as_str()));
    item.insert("role".into(), s(role.as_str()));
    let activity = keys::activity(&t.last_activity_at.to_string(), &t.id);
    item.insert(schema::BY_USER.pk.into(), s(keys::by_user(user)));
    item.insert(
        schema::BY_USER_ACCOUNT.pk.into(),
        s(keys::by_user_account(user, &t.account_id)),
    );
    item.insert(schema::BY_USER.sk.into(), s(&activity));
    let other_last = record.last_from(role.other());
    if let Some(m) = other_last {
        item.insert("other_side_last".into(), s(m.to_string()));
        item.insert(
            schema::UNREAD_BY_USER.pk.into(),
            s(keys::unread_by_user(user)),
        );
        item.insert(
            schema::UNREAD_BY_USER_ACCOUNT.pk.into(),
            s(keys::unread_by_user_account(user, &t.account_id)),
        );
    }
    item.insert("unread".into(), b(other_last.is_some()));
    item
}

pub(super) fn participants_attr(people: &[(UserId, Role)]) -> AttributeValue {
    AttributeValue::M(
        people
            .iter()
            .map(|(u, r)| (u.to_string(), s(r.as_str())))
            .collect(),
    )
}

pub(super) fn names_attr(names: &BTreeMap<UserId, String>) -> AttributeValue {
    AttributeValue::M(
        names
            .iter()
            .map(|(u, name)| (u.to_string(), s(name)))
            .collect(),
    )
}

fn meta_item(record: &ThreadRecord, scope_key: &str) -> Item {
    let mut item = thread_attrs(&record.thread);
    item.extend(key(keys::thread(&record.thread.id), keys::META));
    item.insert("type".into(), s("thread"));
    item.insert("scope_key".into(), s(scope_key));
    item.insert(
        "participants".into(),
        participants_attr(&record.participants),
    );
    item.insert("names".into(), names_attr(&record.names));
    item
}

fn catalog_key(acc: &AccountId, entry_path: &[&str]) -> Item {
    key(
        keys::account(acc),
        format!("{}{}", keys::CATALOG_PREFIX, entry_path.join("#")),
    )
}

/// The catalog keys along a scope's path.
fn scope_catalog_keys(acc: &AccountId, scope: &Scope) -> Vec<Item> {
    let ids: Vec<&str> = [
        scope.client().map(ClientId::as_str),
        scope.campaign().map(CampaignId::as_str),
        scope.creative().map(CreativeId::as_str),
    ]
    .into_iter()
    .flatten()
    .collect();
    (1..=ids.len())
        .map(|i| catalog_key(acc, &ids[..i]))
        .collect()
}

pub(super) fn is_conditional_failure(reasons: &[CancellationReason], index: usize) -> bool {
    reasons
        .get(index)
        .and_then(|r| r.code())
        .is_some_and(|c| c == "ConditionalCheckFailed")
}

pub(super) fn is_conflict(reasons: &[CancellationReason]) -> bool {
    reasons
        .iter()
        .any(|r| matches!(r.code(), Some("TransactionConflict")))
}

impl Store {
    /// Everything opening a scope needs, in one BatchGetItem: the thread's
    /// META and the caller's row, the account profile, and the scope's
    /// catalog entries.
    pub async fn open_context(
        &self,
        account: &AccountId,
        thread: &ThreadId,
        caller: &UserId,
        scope: &Scope,
    ) -> Result<OpenContext, StoreError> {
        let mut wanted = vec![
            key(keys::thread(thread), keys::META),
            key(keys::thread(thread), keys::inbox(caller)),
            key(keys::account(account), keys::PROFILE),
        ];
        wanted.extend(scope_catalog_keys(account, scope));
        let items = self.batch_get(wanted).await?;
        let mut ctx = OpenContext {
            profile: None,
            profile_version: 0,
            existing: None,
            catalog: Vec::new(),
        };
        let mut meta = None;
        for item in &items {
            let sk = Reader::new(item).s(schema::SK)?;
            if sk == keys::META {
                meta = Some(read_record(item)?);
            } else if sk.starts_with(keys::INBOX_PREFIX) {
                ctx.existing = Some(read_inbox_row(item)?.thread);
            } else if sk == keys::PROFILE {
                ctx.profile = Some(super::directory::read_profile(item)?);
                ctx.profile_version = super::directory::read_version(item)?;
            } else {
                ctx.catalog
                    .push(super::directory::read_catalog_entry(item)?);
            }
        }
        if ctx.existing.is_none() {
            ctx.existing = meta.map(|m| m.thread);
        }
        Ok(ctx)
    }

    /// Creates the thread with an inbox row for every participant in one
    /// transaction, conditional on the account's directory version still
    /// being `version` (the one `profile` was read at): a sync that changes
    /// the people bumps the version before it lists the account's threads,
    /// so a thread either exists before that listing (and the sync brings it
    /// in step) or is created with the new people.
    pub async fn create_thread(
        &self,
        thread: &Thread,
        scope_key: &str,
        profile: &AccountProfile,
        version: u64,
    ) -> Result<CreateOutcome, StoreError> {
        let record = ThreadRecord {
            thread: thread.clone(),
            last_client_message: None,
            last_manager_message: None,
            participants: profile
                .participants()
                .map(|(p, r)| (p.id.clone(), r))
                .collect(),
            names: profile
                .participants()
                .map(|(p, _)| (p.id.clone(), p.name.clone()))
                .collect(),
        };
        let put = |item: Item, condition: Option<&str>| -> Result<TransactWriteItem, StoreError> {
            let put = Put::builder()
                .table_name(&self.table)
                .set_item(Some(item))
                .set_condition_expression(condition.map(str::to_owned))
                .build()
                .map_err(|e| StoreError::Aws {
                    op: "TransactWriteItems",
                    message: e.to_string(),
                })?;
            Ok(TransactWriteItem::builder().put(put).build())
        };
        let mut items = vec![
            put(
                meta_item(&record, scope_key),
                Some("attribute_not_exists(pk)"),
            )?,
            put(
                {
                    let mut p = key(
                        keys::account_threads(&thread.account_id),
                        keys::thread_pointer(&thread.id),
                    );
                    p.insert("scope_key".into(), s(scope_key));
                    p
                },
                None,
            )?,
            super::directory::version_check(&self.table, &profile.id, version)?,
        ];
        for (person, role) in profile.participants() {
            items.push(put(inbox_item(&record, &person.id, role), None)?);
        }
        let mut backoff = Backoff::new(10);
        loop {
            let result = self
                .db
                .transact_write_items()
                .set_transact_items(Some(items.clone()))
                .send()
                .await;
            match result {
                Ok(_) => return Ok(CreateOutcome::Created),
                Err(err) => {
                    if let Some(
                        aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError::TransactionCanceledException(c),
                    ) = err.as_service_error()
                    {
                        let reasons = c.cancellation_reasons();
                        if is_conditional_failure(reasons, 0) {
                            return Ok(CreateOutcome::Exists);
                        }
                        if is_conditional_failure(reasons, 2) {
                            return Ok(CreateOutcome::DirectoryChanged);
                        }
                        if is_conflict(reasons) {
                            if backoff.wait().await {
                                continue;
                            }
                            return Err(StoreError::Contention);
                        }
                    }
                    return Err(StoreError::aws("TransactWriteItems", err));
                }
            }
        }
    }

    /// One person's row for a thread; `None` if they are not in it.
    pub async fn inbox_row(
        &self,
        thread: &ThreadId,
        user: &UserId,
    ) -> Result<Option<InboxRow>, StoreError> {
        self.get(key(keys::thread(thread), keys::inbox(user)))
            .await?
            .as_ref()
            .map(read_inbox_row)
            .transpose()
    }

    /// A page of a person's threads, newest activity first: one Query.
    pub async fn list_threads(
        &self,
        q: &ThreadQuery,
        start: Option<BTreeMap<String, String>>,
    ) -> Result<ThreadPage, StoreError> {
        let (index, pk) = q.index();
        let start = start.map(super::start_key);
        let out = self
            .db
            .query()
            .table_name(&self.table)
            .index_name(index.name)
            .key_condition_expression("#pk = :pk")
            .filter_expression("#role = :role")
            .expression_attribute_names("#pk", index.pk)
            .expression_attribute_names("#role", "role")
            .expression_attribute_values(":pk", s(pk))
            .expression_attribute_values(":role", s(q.role.as_str()))
            .scan_index_forward(false)
            .limit(q.limit)
            .set_exclusive_start_key(start)
            .send()
            .await
            .map_err(|e| StoreError::aws("Query", e))?;
        let threads = out
            .items()
            .iter()
            .map(|i| read_inbox_row(i).map(|r| r.thread))
            .collect::<Result<Vec<_>, _>>()?;
        let next = super::page_key(out.last_evaluated_key)?;
        Ok(ThreadPage { threads, next })
    }

    /// How many of a person's threads are unread where they are on `role`'s
    /// side (in `account`, if given): a COUNT over the sparse unread index.
    pub async fn count_unread(
        &self,
        user: &UserId,
        account: Option<&AccountId>,
        role: Role,
    ) -> Result<u64, StoreError> {
        let (index, pk) = match account {
            Some(a) => (
                schema::UNREAD_BY_USER_ACCOUNT,
                keys::unread_by_user_account(user, a),
            ),
            None => (schema::UNREAD_BY_USER, keys::unread_by_user(user)),
        };
        let mut total = 0u64;
        let mut start = None;
        loop {
            let out = self
                .db
                .query()
                .table_name(&self.table)
                .index_name(index.name)
                .key_condition_expression("#pk = :pk")
                .filter_expression("#role = :role")
                .expression_attribute_names("#pk", index.pk)
                .expression_attribute_names("#role", "role")
                .expression_attribute_values(":pk", s(&pk))
                .expression_attribute_values(":role", s(role.as_str()))
                .select(Select::Count)
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(|e| StoreError::aws("Query", e))?;
            total += out.count.max(0) as u64;
            match out.last_evaluated_key {
                Some(k) if !k.is_empty() => start = Some(k),
                _ => return Ok(total),
            }
        }
    }
}
