//! The account profile (people, directory version, membership pass state)
//! and catalog entries.

use aws_sdk_dynamodb::types::AttributeValue;

use crate::domain::{
    AccountId, AccountProfile, CampaignId, CatalogEntry, ClientId, CreativeId, Link, Person,
    TimeZone, UserId,
};
use crate::store::attr::{b, s, Item, Reader};
use crate::store::{keys, StoreError};

pub(in crate::store) fn people_attr(people: &[Person]) -> AttributeValue {
    AttributeValue::L(
        people
            .iter()
            .map(|p| {
                let mut m = Item::from([
                    ("id".into(), s(p.id.as_str())),
                    ("email".into(), s(&p.email)),
                    ("name".into(), s(&p.name)),
                ]);
                if let Some(tz) = &p.time_zone {
                    m.insert("time_zone".into(), s(tz.as_str()));
                }
                AttributeValue::M(m)
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
                    id: p.parse("id", UserId::parse)?,
                    email: p.s("email")?.to_owned(),
                    name: p.s("name")?.to_owned(),
                    time_zone: read_time_zone(&p)?,
                })
            }
            _ => Err(r.corrupt(format!("{name} holds a non-map"))),
        })
        .collect()
}

/// An optional `time_zone` (checked by sync-directory before it was
/// stored); absent in profiles stored before time zones.
fn read_time_zone(r: &Reader<'_>) -> Result<Option<TimeZone>, StoreError> {
    Ok(r.opt_s("time_zone")?.map(TimeZone::stored))
}

pub(in crate::store) fn read_profile(item: &Item) -> Result<AccountProfile, StoreError> {
    let r = Reader::new(item);
    Ok(AccountProfile {
        id: r.parse("account_id", AccountId::parse)?,
        name: r.s("name")?.to_owned(),
        users: read_people(&r, "users")?,
        managers: read_people(&r, "managers")?,
        time_zone: read_time_zone(&r)?,
    })
}

/// The profile's directory version: 0 for a profile stored before versions.
pub(in crate::store) fn read_version(item: &Item) -> Result<u64, StoreError> {
    Ok(Reader::new(item).opt_n("version")?.unwrap_or(0).max(0) as u64)
}

/// Where bringing an account's threads in step with its people stands,
/// as the profile item keeps it.
pub(in crate::store) struct Membership {
    pub profile: AccountProfile,
    pub version: u64,
    /// Everyone removed since the last complete pass: their rows are looked
    /// for in every thread even where the thread no longer lists them.
    pub leavers: Vec<UserId>,
    /// The last thread pointer done by the pass at `version`, if one is
    /// under way.
    pub cursor: Option<String>,
}

pub(in crate::store) fn read_membership(item: &Item) -> Result<Membership, StoreError> {
    let r = Reader::new(item);
    let version = read_version(item)?;
    let cursor = match r.opt_n("cursor_version")? {
        Some(v) if v >= 0 && v as u64 == version => r.opt_s("cursor")?.map(str::to_owned),
        _ => None,
    };
    let leavers = match item.get("leavers") {
        None => Vec::new(),
        Some(AttributeValue::Ss(ids)) => ids
            .iter()
            .map(|id| UserId::parse(id.clone()).map_err(|_| r.corrupt("leavers has a bad id")))
            .collect::<Result<_, _>>()?,
        Some(_) => return Err(r.corrupt("leavers is not a string set")),
    };
    Ok(Membership {
        profile: read_profile(item)?,
        version,
        leavers,
        cursor,
    })
}

/// A catalog entry's links: a list of `{label, url}` maps, absent when
/// there are none (as for every entry stored before links).
fn links_attr(links: &[Link]) -> AttributeValue {
    AttributeValue::L(
        links
            .iter()
            .map(|l| {
                AttributeValue::M(Item::from([
                    ("label".into(), s(&l.label)),
                    ("url".into(), s(&l.url)),
                ]))
            })
            .collect(),
    )
}

fn read_links(r: &Reader<'_>) -> Result<Vec<Link>, StoreError> {
    r.list("links")?
        .iter()
        .map(|v| match v {
            AttributeValue::M(m) => {
                let l = Reader::new(m);
                Ok(Link {
                    label: l.s("label")?.to_owned(),
                    url: l.s("url")?.to_owned(),
                })
            }
            _ => Err(r.corrupt("links holds a non-map")),
        })
        .collect()
}

pub(in crate::store) fn read_catalog_entry(item: &Item) -> Result<CatalogEntry, StoreError> {
    let r = Reader::new(item);
    Ok(CatalogEntry {
        client: r.parse("client_id", ClientId::parse)?,
        campaign: r.opt_parse("campaign_id", CampaignId::parse)?,
        creative: r.opt_parse("creative_id", CreativeId::parse)?,
        name: r.s("name")?.to_owned(),
        archived: r.bool_or("archived", false)?,
        links: read_links(&r)?,
    })
}

pub(in crate::store) fn catalog_item(acc: &AccountId, e: &CatalogEntry) -> Item {
    let mut path = vec![e.client.as_str()];
    path.extend(e.campaign.as_ref().map(CampaignId::as_str));
    path.extend(e.creative.as_ref().map(CreativeId::as_str));
    let mut item = keys::catalog(acc, &path);
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
    if !e.links.is_empty() {
        item.insert("links".into(), links_attr(&e.links));
    }
    item
}
