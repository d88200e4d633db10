//! Messages: the send transaction (message, idempotency claim, thread,
//! every inbox row), listing, and read positions.

use std::collections::{BTreeMap, HashMap};

use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{
    AttributeValue, Put, ReturnValue, ReturnValuesOnConditionCheckFailure, TransactWriteItem,
    Update,
};
use sha2::{Digest, Sha256};

use super::attachments::{attachment_key, read_attachment, AttachmentRecord, BIND_MARGIN_SECONDS};
use super::attr::{b, n, s, Item, Reader};
use super::threads::{
    is_conditional_failure, last_message_attr, opt_message_id, read_record, ThreadRecord,
};
use super::{key, keys, schema, Backoff, Store, StoreError};
use crate::domain::{
    AttachmentId, AttachmentRef, Author, ClientMessageId, LastMessage, Message, MessageBody,
    MessageId, Role, ThreadId, Timestamp, UserId, PREVIEW_CHARS,
};

/// A message to send, checked.
#[derive(Debug, Clone)]
pub struct NewMessage {
    pub thread: ThreadId,
    pub author: Author,
    pub client_message_id: ClientMessageId,
    pub body: MessageBody,
    pub urgent: bool,
    pub attachments: Vec<AttachmentRef>,
}

impl NewMessage {
    /// What makes two sends with one key the same send.
    fn fingerprint(&self) -> String {
        send_fingerprint(
            &self.body,
            self.urgent,
            self.attachments.iter().map(|a| &a.id),
        )
    }
}

/// What makes two sends with one `client_message_id` the same send: the
/// body, the urgency and the attachment ids (in any order). Needs only the
/// request, so a replay is recognised before any attachment is looked at.
pub fn send_fingerprint<'a>(
    body: &MessageBody,
    urgent: bool,
    attachments: impl IntoIterator<Item = &'a AttachmentId>,
) -> String {
    let mut ids: Vec<String> = attachments.into_iter().map(|a| a.to_string()).collect();
    ids.sort();
    let mut h = Sha256::new();
    h.update(body.as_str().as_bytes());
    h.update([0, urgent as u8, 0]);
    h.update(ids.join(",").as_bytes());
    let digest = h.finalize();
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SendOutcome {
    Created(Message),
    /// The same send again: the original message.
    Replayed(Message),
    /// The key was used for a different message.
    Conflict,
    /// No such thread, or the author is not in it.
    NotFound,
    /// The attachment was bound to another message meanwhile, or came
    /// within [`BIND_MARGIN_SECONDS`] of its expiry since the caller
    /// checked it (see [`AttachmentRecord::bindable_at`]).
    AttachmentTaken(AttachmentId),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessagePage {
    pub messages: Vec<Message>,
    pub next: Option<BTreeMap<String, String>>,
}

/// A person's read state after marking a thread read.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ReadState {
    pub thread_id: ThreadId,
    pub last_read_message_id: Option<MessageId>,
    pub unread: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReadOutcome {
    Read(ReadState),
    /// The thread is not the caller's.
    NotFound,
    /// The given message is not in this thread.
    NoSuchMessage,
}

/// Where a page of messages that ends at `id` continues (a cursor's
/// position): the listing resumes with the next older message.
pub fn message_position(thread: &ThreadId, id: &MessageId) -> BTreeMap<String, String> {
    BTreeMap::from([
        (schema::PK.to_owned(), keys::thread(thread)),
        (
            schema::SK.to_owned(),
            format!("{}{id}", keys::MESSAGE_PREFIX),
        ),
    ])
}

fn message_key(thread: &ThreadId, id: &MessageId) -> Item {
    key(
        keys::thread(thread),
        format!("{}{id}", keys::MESSAGE_PREFIX),
    )
}

const CLAIM_PREFIX: &str = "IDEM#";

fn claim_key(thread: &ThreadId, author: &UserId, cmid: &ClientMessageId) -> Item {
    key(
        keys::thread(thread),
        format!("{CLAIM_PREFIX}{author}#{}", cmid.as_str()),
    )
}

fn attachment_attr(a: &AttachmentRef) -> AttributeValue {
    AttributeValue::M(Item::from([
        ("id".into(), s(a.id.to_string())),
        ("filename".into(), s(&a.filename)),
        ("content_type".into(), s(&a.content_type)),
        ("size".into(), n(a.size)),
    ]))
}

fn message_item(m: &Message, account: &str) -> Item {
    let mut item = message_key(&m.thread_id, &m.id);
    item.extend([
        ("type".into(), s("message")),
        ("message_id".into(), s(m.id.to_string())),
        ("thread_id".into(), s(m.thread_id.as_str())),
        ("account_id".into(), s(account)),
        ("client_message_id".into(), s(&m.client_message_id)),
        ("author_id".into(), s(m.author.id.as_str())),
        ("author_name".into(), s(&m.author.name)),
        ("author_role".into(), s(m.author.role.as_str())),
        ("body".into(), s(&m.body)),
        ("urgent".into(), b(m.urgent)),
        ("created_at".into(), s(m.created_at.to_string())),
        (
            "attachments".into(),
            AttributeValue::L(m.attachments.iter().map(attachment_attr).collect()),
        ),
    ]);
    item
}

/// Reads a message item (also from stream images).
pub fn read_message(item: &Item) -> Result<Message, StoreError> {
    let r = Reader::new(item);
    let attachments = r
        .list("attachments")?
        .iter()
        .map(|v| match v {
            AttributeValue::M(m) => {
                let a = Reader::new(m);
                Ok(AttachmentRef {
                    id: a.parse_opt("id", AttachmentId::parse)?,
                    filename: a.s("filename")?.to_owned(),
                    content_type: a.s("content_type")?.to_owned(),
                    size: a.n("size")?.max(0) as u64,
                })
            }
            _ => Err(r.corrupt("attachments holds a non-map")),
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Message {
        id: r.parse_opt("message_id", MessageId::parse)?,
        thread_id: r.parse_opt("thread_id", ThreadId::parse)?,
        client_message_id: r.s("client_message_id")?.to_owned(),
        author: Author {
            id: r.parse("author_id", |v| UserId::parse(v))?,
            name: r.s("author_name")?.to_owned(),
            role: r.parse_opt("author_role", Role::parse)?,
        },
        body: r.s("body")?.to_owned(),
        urgent: r.bool_or("urgent", false)?,
        attachments,
        created_at: r.parse_opt("created_at", Timestamp::parse)?,
    })
}

/// A message id newer than `after` (ids order messages within a thread).
fn next_id(after: Option<MessageId>) -> MessageId {
    let fresh = ulid::Ulid::new();
    match after {
        Some(last) if fresh <= last.ulid() => {
            MessageId::from_ulid(last.ulid().increment().unwrap_or(fresh))
        }
        _ => MessageId::from_ulid(fresh),
    }
}

fn build_err(e: aws_sdk_dynamodb::error::BuildError) -> StoreError {
    StoreError::Aws {
        op: "TransactWriteItems",
        message: e.to_string(),
    }
}

fn values(pairs: Vec<(&str, AttributeValue)>) -> HashMap<String, AttributeValue> {
    pairs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
}

/// What a send needs, read in one BatchGetItem: the thread (with its
/// participants), the attachments the message names, and the author's
/// idempotency claim for its `client_message_id` (if that was used).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendContext {
    pub record: Option<ThreadRecord>,
    pub attachments: Vec<AttachmentRecord>,
    pub claim: Option<Claim>,
}

/// An idempotency claim: a `client_message_id` already used by its author
/// in a thread, for the message it names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claim {
    fingerprint: String,
    message_id: MessageId,
}

fn read_claim(item: &Item) -> Result<Claim, StoreError> {
    let r = Reader::new(item);
    Ok(Claim {
        fingerprint: r.s("fingerprint")?.to_owned(),
        message_id: r.parse_opt("message_id", MessageId::parse)?,
    })
}

impl Store {
    /// The thread, the named attachments and (if `claim` is given) the
    /// author's idempotency claim for that key: one BatchGetItem.
    pub async fn send_context(
        &self,
        thread: &ThreadId,
        attachments: &[AttachmentId],
        claim: Option<(&UserId, &ClientMessageId)>,
    ) -> Result<SendContext, StoreError> {
        let mut wanted = vec![key(keys::thread(thread), keys::META)];
        wanted.extend(attachments.iter().map(|a| attachment_key(thread, a)));
        wanted.extend(claim.map(|(author, cmid)| claim_key(thread, author, cmid)));
        let items = self.batch_get(wanted).await?;
        let mut ctx = SendContext {
            record: None,
            attachments: Vec::new(),
            claim: None,
        };
        for item in &items {
            let sk = Reader::new(item).s(schema::SK)?;
            if sk == keys::META {
                ctx.record = Some(read_record(item)?);
            } else if sk.starts_with(CLAIM_PREFIX) {
                ctx.claim = Some(read_claim(item)?);
            } else {
                ctx.attachments.push(read_attachment(item)?);
            }
        }
        Ok(ctx)
    }

    /// What a send whose key is already claimed answers: the original
    /// message if `fingerprint` (see [`send_fingerprint`]) matches, else a
    /// conflict. One GetItem for the replay, none for the conflict.
    pub async fn answer_claim(
        &self,
        thread: &ThreadId,
        claim: &Claim,
        fingerprint: &str,
    ) -> Result<SendOutcome, StoreError> {
        if claim.fingerprint != fingerprint {
            return Ok(SendOutcome::Conflict);
        }
        match self.message(thread, &claim.message_id).await? {
            Some(m) => Ok(SendOutcome::Replayed(m)),
            None => Err(StoreError::Corrupt {
                key: keys::thread(thread),
                what: "an idempotency claim names a message that does not exist".into(),
            }),
        }
    }

    /// Stores a message in one transaction with its idempotency claim, the
    /// thread's activity, every participant's inbox row (the author's
    /// becomes read, the other side's unread) and the binding of each
    /// attachment (only if still unbound). Conflicts are retried with
    /// backoff and a newer id; a send either happens whole or not at all.
    pub async fn send_message(
        &self,
        new: &NewMessage,
        mut record: ThreadRecord,
    ) -> Result<SendOutcome, StoreError> {
        let mut backoff = Backoff::new(12);
        let fingerprint = new.fingerprint();
        let claim = claim_key(&new.thread, &new.author.id, &new.client_message_id);
        loop {
            if !record.participants.iter().any(|(u, _)| *u == new.author.id) {
                return Ok(SendOutcome::NotFound);
            }
            let id = next_id(record.thread.last_message.as_ref().map(|m| m.id));
            let created_at = Timestamp::from_unix_millis(id.ulid().timestamp_ms() as i64);
            let message = Message {
                id,
                thread_id: new.thread.clone(),
                client_message_id: new.client_message_id.as_str().to_owned(),
                author: new.author.clone(),
                body: new.body.as_str().to_owned(),
                urgent: new.urgent,
                attachments: new.attachments.clone(),
                created_at,
            };
            let items = self.send_items(&message, &record, &claim, &fingerprint)?;
            let result = self
                .db
                .transact_write_items()
                .set_transact_items(Some(items))
                .send()
                .await;
            let err = match result {
                Ok(_) => return Ok(SendOutcome::Created(message)),
                Err(err) => err,
            };
            let reasons = match err.as_service_error() {
                Some(TransactWriteItemsError::TransactionCanceledException(c)) => {
                    c.cancellation_reasons().to_vec()
                }
                _ => return Err(StoreError::aws("TransactWriteItems", err)),
            };
            // Item order: message, claim, META, rows..., attachments...
            if is_conditional_failure(&reasons, 1) {
                // The claim existed when the transaction ran. If it is gone
                // by the time we read it (expired, or removed by hand), the
                // send is simply tried again below.
                if let Some(outcome) = self.replay(&new.thread, &claim, &fingerprint).await? {
                    return Ok(outcome);
                }
            }
            let first_attachment = 3 + record.participants.len();
            if let Some(a) = new
                .attachments
                .iter()
                .enumerate()
                .find(|(i, _)| is_conditional_failure(&reasons, first_attachment + i))
            {
                return Ok(SendOutcome::AttachmentTaken(a.1.id));
            }
            // A newer message landed first (META's ordering condition), the
            // participants changed, or transactions collided
            // (TransactionConflict): read again and retry with a newer id.
            if !backoff.wait().await {
                return Err(StoreError::Contention);
            }
            match self.send_context(&new.thread, &[], None).await?.record {
                Some(r) => record = r,
                None => return Ok(SendOutcome::NotFound),
            }
        }
    }

    fn send_items(
        &self,
        m: &Message,
        meta: &ThreadRecord,
        claim: &Item,
        fingerprint: &str,
    ) -> Result<Vec<TransactWriteItem>, StoreError> {
        let thread = &meta.thread;
        let id = m.id.to_string();
        let at = m.created_at.to_string();
        let activity = keys::activity(&at, &thread.id);
        let last = last_message_attr(&LastMessage {
            id: m.id,
            author: m.author.clone(),
            preview: m.body.chars().take(PREVIEW_CHARS).collect(),
            urgent: m.urgent,
        });
        let put = |item: Item| -> Result<TransactWriteItem, StoreError> {
            Ok(TransactWriteItem::builder()
                .put(
                    Put::builder()
                        .table_name(&self.table)
                        .set_item(Some(item))
                        .condition_expression("attribute_not_exists(pk)")
                        .build()
                        .map_err(build_err)?,
                )
                .build())
        };
        let update = |k: Item,
                      expr: String,
                      condition: &str,
                      vals: HashMap<String, AttributeValue>|
         -> Result<TransactWriteItem, StoreError> {
            Ok(TransactWriteItem::builder()
                .update(
                    Update::builder()
                        .table_name(&self.table)
                        .set_key(Some(k))
                        .update_expression(expr)
                        .condition_expression(condition)
                        .set_expression_attribute_values(Some(vals))
                        .build()
                        .map_err(build_err)?,
                )
                .build())
        };
        let mut claim_item = claim.clone();
        claim_item.insert("type".into(), s("idempotency"));
        claim_item.insert("message_id".into(), s(&id));
        claim_item.insert("fingerprint".into(), s(fingerprint));

        let common = "SET last_activity_at = :at, last_message = :lm, last_message_id = :id, \
                      message_count = message_count + :one";
        let last_of_side = match m.author.role {
            Role::Client => "last_client_message",
            Role::Manager => "last_manager_message",
        };
        let mut items = vec![
            put(message_item(m, thread.account_id.as_str()))?,
            put(claim_item)?,
            update(
                key(keys::thread(&thread.id), keys::META),
                format!("{common}, {last_of_side} = :id"),
                "attribute_not_exists(last_message_id) OR last_message_id < :id",
                values(vec![
                    (":at", s(&at)),
                    (":lm", last.clone()),
                    (":id", s(&id)),
                    (":one", n(1)),
                ]),
            )?,
        ];
        for (user, role) in &meta.participants {
            let mut vals = vec![
                (":at", s(&at)),
                (":lm", last.clone()),
                (":id", s(&id)),
                (":one", n(1)),
                (":act", s(&activity)),
            ];
            let expr = if *user == m.author.id {
                vals.push((":f", b(false)));
                format!(
                    "{common}, {act} = :act, read_position = :id, unread = :f REMOVE {u}, {ua}",
                    act = schema::BY_USER.sk,
                    u = schema::UNREAD_BY_USER.pk,
                    ua = schema::UNREAD_BY_USER_ACCOUNT.pk
                )
            } else if *role != m.author.role {
                vals.push((":t", b(true)));
                vals.push((":u", s(keys::unread_by_user(user))));
                vals.push((
                    ":ua",
                    s(keys::unread_by_user_account(user, &thread.account_id)),
                ));
                format!(
                    "{common}, {act} = :act, other_side_last = :id, unread = :t, {u} = :u, {ua} = :ua",
                    act = schema::BY_USER.sk,
                    u = schema::UNREAD_BY_USER.pk,
                    ua = schema::UNREAD_BY_USER_ACCOUNT.pk
                )
            } else {
                format!("{common}, {act} = :act", act = schema::BY_USER.sk)
            };
            items.push(update(
                key(keys::thread(&thread.id), keys::inbox(user)),
                expr,
                "attribute_exists(pk)",
                values(vals),
            )?);
        }
        // Bound only while pending, the author's, and a margin short of
        // the record's expiry (DynamoDB deletes expired items late; the
        // object's lifecycle expiry is about as far off).
        let bindable = Timestamp::now()
            .unix_seconds()
            .saturating_add(BIND_MARGIN_SECONDS);
        for a in &m.attachments {
            items.push(update(
                attachment_key(&thread.id, &a.id),
                format!(
                    "SET attachment_state = :bound, message_id = :id REMOVE {ttl}",
                    ttl = schema::TTL_ATTRIBUTE
                ),
                &format!(
                    "attachment_state = :pending AND author_id = :author AND {ttl} > :bindable",
                    ttl = schema::TTL_ATTRIBUTE
                ),
                values(vec![
                    (":bound", s("bound")),
                    (":pending", s("pending")),
                    (":id", s(&id)),
                    (":author", s(m.author.id.as_str())),
                    (":bindable", n(bindable)),
                ]),
            )?);
        }
        // Bound uploads no longer count against the author's pending cap.
        items.extend(super::attachments::release_pending(
            &self.table,
            &m.author.id,
            &m.attachments,
        )?);
        Ok(items)
    }

    /// If `new` was already sent (its claim exists), what a replay answers:
    /// the original message, or a conflict if the content differs.
    pub async fn replay_of(&self, new: &NewMessage) -> Result<Option<SendOutcome>, StoreError> {
        let claim = claim_key(&new.thread, &new.author.id, &new.client_message_id);
        self.replay(&new.thread, &claim, &new.fingerprint()).await
    }

    async fn replay(
        &self,
        thread: &ThreadId,
        claim: &Item,
        fingerprint: &str,
    ) -> Result<Option<SendOutcome>, StoreError> {
        let Some(item) = self.get(claim.clone()).await? else {
            return Ok(None);
        };
        let r = Reader::new(&item);
        if r.s("fingerprint")? != fingerprint {
            return Ok(Some(SendOutcome::Conflict));
        }
        let id = r.parse_opt("message_id", MessageId::parse)?;
        match self.message(thread, &id).await? {
            Some(m) => Ok(Some(SendOutcome::Replayed(m))),
            None => Err(r.corrupt("claims a message that does not exist")),
        }
    }

    /// One message of a thread.
    pub async fn message(
        &self,
        thread: &ThreadId,
        id: &MessageId,
    ) -> Result<Option<Message>, StoreError> {
        self.get(message_key(thread, id))
            .await?
            .as_ref()
            .map(read_message)
            .transpose()
    }

    /// A page of a thread's messages, newest first: one Query.
    pub async fn list_messages(
        &self,
        thread: &ThreadId,
        limit: i32,
        start: Option<BTreeMap<String, String>>,
    ) -> Result<MessagePage, StoreError> {
        let start = start.map(super::start_key);
        let out = self
            .db
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk AND begins_with(sk, :msg)")
            .expression_attribute_values(":pk", s(keys::thread(thread)))
            .expression_attribute_values(":msg", s(keys::MESSAGE_PREFIX))
            .scan_index_forward(false)
            .consistent_read(true)
            .limit(limit)
            .set_exclusive_start_key(start)
            .send()
            .await
            .map_err(|e| StoreError::aws("Query", e))?;
        let messages = out
            .items()
            .iter()
            .map(read_message)
            .collect::<Result<Vec<_>, _>>()?;
        let next = super::page_key(out.last_evaluated_key)?;
        Ok(MessagePage { messages, next })
    }

    /// Marks the thread read up to its newest message: one conditional
    /// UpdateItem (the position only moves forward).
    pub async fn mark_read_latest(
        &self,
        thread: &ThreadId,
        user: &UserId,
    ) -> Result<Option<ReadState>, StoreError> {
        let result = self
            .db
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(keys::thread(thread), keys::inbox(user))))
            .update_expression(format!(
                "SET read_position = last_message_id, unread = :f REMOVE {}, {}",
                schema::UNREAD_BY_USER.pk,
                schema::UNREAD_BY_USER_ACCOUNT.pk
            ))
            .condition_expression(
                "attribute_exists(pk) AND attribute_exists(last_message_id) AND \
                 (attribute_not_exists(read_position) OR read_position < last_message_id)",
            )
            .expression_attribute_values(":f", b(false))
            .return_values(ReturnValue::AllNew)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        let item = match result {
            Ok(out) => out.attributes,
            Err(err) => match err.as_service_error() {
                Some(UpdateItemError::ConditionalCheckFailedException(c)) => match c.item() {
                    Some(old) => Some(old.clone()),
                    // Nothing to move (or no row): read what is there.
                    None => {
                        self.get(key(keys::thread(thread), keys::inbox(user)))
                            .await?
                    }
                },
                _ => return Err(StoreError::aws("UpdateItem", err)),
            },
        };
        item.as_ref().map(|i| read_state(thread, i)).transpose()
    }

    /// Marks the thread read up to `up_to`, which must be one of its
    /// messages. Never moves the position backwards.
    pub async fn mark_read_up_to(
        &self,
        thread: &ThreadId,
        user: &UserId,
        up_to: &MessageId,
    ) -> Result<ReadOutcome, StoreError> {
        // Each attempt reads the row and moves it only if nothing changed
        // since; a row that keeps changing (a busy thread) is retried with
        // backoff a bounded number of times, then the caller gets 503.
        let mut backoff = Backoff::new(8);
        loop {
            if let Some(outcome) = self.try_mark_read_up_to(thread, user, up_to).await? {
                return Ok(outcome);
            }
            if !backoff.wait().await {
                return Err(StoreError::Contention);
            }
        }
    }

    /// One attempt of [`Store::mark_read_up_to`]: `None` when the row moved
    /// between the read and the conditional write.
    async fn try_mark_read_up_to(
        &self,
        thread: &ThreadId,
        user: &UserId,
        up_to: &MessageId,
    ) -> Result<Option<ReadOutcome>, StoreError> {
        let items = self
            .batch_get(vec![
                key(keys::thread(thread), keys::inbox(user)),
                message_key(thread, up_to),
            ])
            .await?;
        let mut row = None;
        let mut found = false;
        for item in &items {
            if Reader::new(item)
                .s(schema::SK)?
                .starts_with(keys::INBOX_PREFIX)
            {
                row = Some(item.clone());
            } else {
                found = true;
            }
        }
        let Some(row) = row else {
            return Ok(Some(ReadOutcome::NotFound));
        };
        if !found {
            return Ok(Some(ReadOutcome::NoSuchMessage));
        }
        let r = Reader::new(&row);
        let position = opt_message_id(&r, "read_position")?;
        if position.is_some_and(|p| p >= *up_to) {
            return Ok(Some(ReadOutcome::Read(read_state(thread, &row)?)));
        }
        let other_last = opt_message_id(&r, "other_side_last")?;
        let now_read = other_last.is_none_or(|o| o <= *up_to);
        let mut expr = "SET read_position = :m".to_owned();
        if now_read {
            expr.push_str(&format!(
                ", unread = :f REMOVE {}, {}",
                schema::UNREAD_BY_USER.pk,
                schema::UNREAD_BY_USER_ACCOUNT.pk
            ));
        }
        let mut req = self
            .db
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(keys::thread(thread), keys::inbox(user))))
            .update_expression(expr)
            // Only if nothing moved since we read: the position never goes
            // back, and the unread flag matches the newest message.
            .condition_expression(
                "attribute_exists(pk) AND (attribute_not_exists(read_position) OR read_position < :m) \
                 AND (attribute_not_exists(other_side_last) OR other_side_last = :o)",
            )
            .expression_attribute_values(":m", s(up_to.to_string()))
            .expression_attribute_values(
                ":o",
                s(other_last.map(|o| o.to_string()).unwrap_or_default()),
            )
            .return_values(ReturnValue::AllNew);
        if now_read {
            req = req.expression_attribute_values(":f", b(false));
        }
        match req.send().await {
            Ok(out) => match out.attributes {
                Some(item) => Ok(Some(ReadOutcome::Read(read_state(thread, &item)?))),
                None => Ok(Some(ReadOutcome::NotFound)),
            },
            Err(err) => match err.as_service_error() {
                // Something moved meanwhile (a newer read or message): take
                // it from the top.
                Some(UpdateItemError::ConditionalCheckFailedException(_)) => Ok(None),
                _ => Err(StoreError::aws("UpdateItem", err)),
            },
        }
    }
}

fn read_state(thread: &ThreadId, item: &Item) -> Result<ReadState, StoreError> {
    let r = Reader::new(item);
    Ok(ReadState {
        thread_id: thread.clone(),
        last_read_message_id: opt_message_id(&r, "read_position")?,
        unread: r.bool_or("unread", false)?,
    })
}
