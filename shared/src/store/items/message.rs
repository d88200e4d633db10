//! Message items (also read from stream images) and send claims.

use aws_sdk_dynamodb::types::AttributeValue;

use crate::domain::{
    AccountId, AttachmentId, AttachmentRef, Author, ClientMessageId, Message, MessageBody,
    MessageId, Role, ThreadId, Timestamp, UserId,
};
use crate::store::attr::{b, n, s, Item, Reader};
use crate::store::{keys, StoreError};

fn attachment_attr(a: &AttachmentRef) -> AttributeValue {
    let mut entry = Item::from([
        ("id".into(), s(a.id.to_string())),
        ("filename".into(), s(&a.filename)),
        ("content_type".into(), s(&a.content_type)),
        ("size".into(), n(a.size)),
        ("scan".into(), s(a.scan.as_str())),
    ]);
    entry.extend(super::attachment::key_layout_attr(&a.key));
    AttributeValue::M(entry)
}

pub(in crate::store) fn message_item(m: &Message, account: &str) -> Item {
    let mut item = keys::message(&m.thread_id, &m.id);
    item.extend([
        ("type".into(), s("message")),
        ("message_id".into(), s(m.id.to_string())),
        ("thread_id".into(), s(m.thread_id.as_str())),
        ("account_id".into(), s(account)),
        ("client_message_id".into(), s(m.client_message_id.as_str())),
        ("author_id".into(), s(m.author.id.as_str())),
        ("author_name".into(), s(&m.author.name)),
        ("author_role".into(), s(m.author.role.as_str())),
        ("body".into(), s(m.body.as_str())),
        ("urgent".into(), b(m.urgent)),
        ("created_at".into(), s(m.created_at.to_string())),
        (
            "attachments".into(),
            AttributeValue::L(m.attachments.iter().map(attachment_attr).collect()),
        ),
    ]);
    item
}

/// Reads a message item.
pub(in crate::store) fn read_message(item: &Item) -> Result<Message, StoreError> {
    let r = Reader::new(item);
    let attachments = r
        .list("attachments")?
        .iter()
        .map(|v| match v {
            AttributeValue::M(m) => {
                let a = Reader::new(m);
                Ok(AttachmentRef {
                    id: a.parse("id", AttachmentId::parse)?,
                    filename: a.s("filename")?.to_owned(),
                    content_type: a.s("content_type")?.to_owned(),
                    size: a.n("size")?.max(0) as u64,
                    scan: super::attachment::read_scan(&a)?,
                    // Without a marker: the message's account (the thread's).
                    key: super::attachment::read_key_layout(&a, || {
                        r.parse("account_id", AccountId::parse)
                    })?,
                })
            }
            _ => Err(r.corrupt("attachments holds a non-map")),
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Message {
        id: r.parse("message_id", MessageId::parse)?,
        thread_id: r.parse("thread_id", ThreadId::parse)?,
        client_message_id: r.parse("client_message_id", ClientMessageId::parse)?,
        author: Author {
            id: r.parse("author_id", UserId::parse)?,
            name: r.s("author_name")?.to_owned(),
            role: r.parse("author_role", Role::parse)?,
        },
        body: r.parse("body", MessageBody::parse)?,
        urgent: r.bool_or("urgent", false)?,
        attachments,
        created_at: r.parse("created_at", Timestamp::parse)?,
    })
}

/// An idempotency claim: a `client_message_id` already used by its author
/// in a thread, for the message it names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claim {
    pub(in crate::store) fingerprint: String,
    pub(in crate::store) message_id: MessageId,
}

pub(in crate::store) fn claim_item(
    thread: &ThreadId,
    author: &UserId,
    cmid: &ClientMessageId,
    claim: &Claim,
) -> Item {
    let mut item = keys::claim(thread, author, cmid);
    item.insert("type".into(), s("idempotency"));
    item.insert("message_id".into(), s(claim.message_id.to_string()));
    item.insert("fingerprint".into(), s(&claim.fingerprint));
    item
}

pub(in crate::store) fn read_claim(item: &Item) -> Result<Claim, StoreError> {
    let r = Reader::new(item);
    Ok(Claim {
        fingerprint: r.s("fingerprint")?.to_owned(),
        message_id: r.parse("message_id", MessageId::parse)?,
    })
}
