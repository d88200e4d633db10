//! The thread's META item and each person's inbox row, which share the
//! thread's attributes.

use std::collections::BTreeMap;

use aws_sdk_dynamodb::types::AttributeValue;

use crate::domain::{
    AccountId, Author, CampaignId, ClientId, CreativeId, LabeledScope, LastMessage, MessageId,
    Role, Scope, Thread, ThreadId, Timestamp, UserId,
};
use crate::store::attr::{b, n, s, Item, Reader};
use crate::store::{keys, schema, StoreError};

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

/// One person's inbox row: their view of a thread plus their read state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InboxRow {
    pub user: UserId,
    pub role: Role,
    pub thread: Thread,
    pub read_position: Option<MessageId>,
    /// The newest message from the other side.
    pub other_side_last: Option<MessageId>,
    /// The person gets no e-mail about this thread (`muted`).
    pub muted: bool,
    /// The furthest the person ever read (`read_max`), kept when they mark
    /// the thread unread (which moves `read_position` back): what they read
    /// once is never e-mailed to them.
    pub read_max: Option<MessageId>,
}

impl InboxRow {
    /// Messages up to here were read in the app (now or before a "mark
    /// unread"): the notifier e-mails only what comes after.
    pub fn read_for_email(&self) -> Option<MessageId> {
        self.read_position.max(self.read_max)
    }
}

/// A person's read state after marking a thread read.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ReadState {
    pub thread_id: ThreadId,
    pub last_read_message_id: Option<MessageId>,
    pub unread: bool,
}

fn scope_attrs(item: &mut Item, scope: &LabeledScope) {
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
    let client = || r.parse("client_id", ClientId::parse);
    let campaign = || r.parse("campaign_id", CampaignId::parse);
    let creative = || r.parse("creative_id", CreativeId::parse);
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

pub(in crate::store) fn last_message_attr(m: &LastMessage) -> AttributeValue {
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
        id: r.parse("id", MessageId::parse)?,
        author: Author {
            id: r.parse("author_id", UserId::parse)?,
            name: r.s("author_name")?.to_owned(),
            role: r.parse("author_role", Role::parse)?,
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

/// The thread as one person sees it: `unread` and `muted` are theirs (both
/// false when read from META).
fn read_thread(r: &Reader<'_>, unread: bool, muted: bool) -> Result<Thread, StoreError> {
    Ok(Thread {
        id: r.parse("thread_id", ThreadId::parse)?,
        account_id: r.parse("account_id", AccountId::parse)?,
        scope: read_scope(r)?,
        created_at: r.parse("created_at", Timestamp::parse)?,
        created_by: r.parse("created_by", UserId::parse)?,
        last_activity_at: r.parse("last_activity_at", Timestamp::parse)?,
        last_message: r
            .opt_map("last_message")?
            .map(read_last_message)
            .transpose()?,
        message_count: r.n("message_count")?.max(0) as u64,
        unread,
        muted,
    })
}

pub(in crate::store) fn opt_message_id(
    r: &Reader<'_>,
    name: &str,
) -> Result<Option<MessageId>, StoreError> {
    r.opt_parse(name, MessageId::parse)
}

pub(in crate::store) fn read_record(item: &Item) -> Result<ThreadRecord, StoreError> {
    let r = Reader::new(item);
    let msg = |name: &str| opt_message_id(&r, name);
    let mut participants = Vec::new();
    for (user, role) in r.opt_map("participants")?.into_iter().flatten() {
        let user =
            UserId::parse(user.clone()).map_err(|_| r.corrupt("participants has a bad id"))?;
        let role = match role {
            AttributeValue::S(v) => Role::parse(v).ok(),
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
        thread: read_thread(&r, false, false)?,
        last_client_message: msg("last_client_message")?,
        last_manager_message: msg("last_manager_message")?,
        participants,
        names,
    })
}

pub(in crate::store) fn read_inbox_row(item: &Item) -> Result<InboxRow, StoreError> {
    let r = Reader::new(item);
    let msg = |name: &str| opt_message_id(&r, name);
    let muted = r.bool_or("muted", false)?;
    Ok(InboxRow {
        user: r.parse("user_id", UserId::parse)?,
        role: r.parse("role", Role::parse)?,
        thread: read_thread(&r, r.bool_or("unread", false)?, muted)?,
        read_position: msg("read_position")?,
        other_side_last: msg("other_side_last")?,
        muted,
        read_max: msg("read_max")?,
    })
}

pub(in crate::store) fn read_state(
    thread: &ThreadId,
    item: &Item,
) -> Result<ReadState, StoreError> {
    let r = Reader::new(item);
    Ok(ReadState {
        thread_id: thread.clone(),
        last_read_message_id: opt_message_id(&r, "read_position")?,
        unread: r.bool_or("unread", false)?,
    })
}

/// A person's inbox row for a thread, from the thread's current record: a
/// newcomer has read nothing, so the other side's messages are unread.
pub(in crate::store) fn inbox_item(record: &ThreadRecord, user: &UserId, role: Role) -> Item {
    let t = &record.thread;
    let mut item = thread_attrs(t);
    item.extend(keys::inbox(&t.id, user));
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

pub(in crate::store) fn participants_attr(people: &[(UserId, Role)]) -> AttributeValue {
    AttributeValue::M(
        people
            .iter()
            .map(|(u, r)| (u.to_string(), s(r.as_str())))
            .collect(),
    )
}

pub(in crate::store) fn names_attr(names: &BTreeMap<UserId, String>) -> AttributeValue {
    AttributeValue::M(
        names
            .iter()
            .map(|(u, name)| (u.to_string(), s(name)))
            .collect(),
    )
}

pub(in crate::store) fn meta_item(record: &ThreadRecord, scope_key: &str) -> Item {
    let mut item = thread_attrs(&record.thread);
    item.extend(keys::meta(&record.thread.id));
    item.insert("type".into(), s("thread"));
    item.insert("scope_key".into(), s(scope_key));
    item.insert(
        "participants".into(),
        participants_attr(&record.participants),
    );
    item.insert("names".into(), names_attr(&record.names));
    item
}
