//! Sending: the one transaction that stores a message with its idempotency
//! claim, the thread's activity, every inbox row and the attachments it
//! binds; and what a replayed send answers.

use aws_sdk_dynamodb::types::TransactWriteItem;
use sha2::{Digest, Sha256};

use super::attachments::release_pending;
use super::attr::{b, n, s, Reader};
use super::items::{
    claim_item, last_message_attr, message_item, read_attachment, read_claim, read_record,
    AttachmentRecord, Claim, ThreadRecord,
};
use super::keys::{self, Kind};
use super::tx::{self, Backoff, UpdateItem};
use super::{schema, Store, StoreError, BIND_MARGIN_SECONDS};
use crate::domain::{
    AttachmentId, AttachmentRef, Author, ClientMessageId, LastMessage, Message, MessageBody,
    MessageId, Role, ScanState, ThreadId, Timestamp, UserId, PREVIEW_CHARS,
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

/// What a send needs, read in one BatchGetItem: the thread (with its
/// participants), the attachments the message names, and the author's
/// idempotency claim for its `client_message_id` (if that was used).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendContext {
    pub record: Option<ThreadRecord>,
    pub attachments: Vec<AttachmentRecord>,
    pub claim: Option<Claim>,
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
        let mut wanted = vec![keys::meta(thread)];
        wanted.extend(attachments.iter().map(|a| keys::attachment(thread, a)));
        wanted.extend(claim.map(|(author, cmid)| keys::claim(thread, author, cmid)));
        let items = self.batch_get(wanted).await?;
        let mut ctx = SendContext {
            record: None,
            attachments: Vec::new(),
            claim: None,
        };
        for item in &items {
            match Reader::new(item).kind()? {
                Kind::Meta => ctx.record = Some(read_record(item)?),
                Kind::Claim => ctx.claim = Some(read_claim(item)?),
                _ => ctx.attachments.push(read_attachment(item)?),
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
                key: format!("thread {thread}"),
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
        // The files as the message lists them, each with the scan state its
        // record had when read: the bind is conditional on that state, so a
        // scan result landing between the caller's read and this write
        // fails the bind, and the retry below takes the new state.
        let mut attachments = new.attachments.clone();
        loop {
            if !record.participants.iter().any(|(u, _)| *u == new.author.id) {
                return Ok(SendOutcome::NotFound);
            }
            let id = next_id(record.thread.last_message.as_ref().map(|m| m.id));
            let created_at = Timestamp::from_unix_millis(id.ulid().timestamp_ms() as i64);
            let message = Message {
                id,
                thread_id: new.thread.clone(),
                client_message_id: new.client_message_id.clone(),
                author: new.author.clone(),
                body: new.body.clone(),
                urgent: new.urgent,
                attachments: attachments.clone(),
                created_at,
            };
            let claim = Claim {
                fingerprint: fingerprint.clone(),
                message_id: id,
            };
            let items = self.send_items(&message, &record, &claim)?;
            let Some(reasons) = self.transact(items).await? else {
                return Ok(SendOutcome::Created(message));
            };
            // Item order: message, claim, META, rows..., attachments...
            if reasons.condition_failed(1) {
                // The claim existed when the transaction ran. If it is gone
                // by the time we read it (expired, or removed by hand), the
                // send is simply tried again below.
                if let Some(outcome) = self.replay_of(new).await? {
                    return Ok(outcome);
                }
            }
            let first_attachment = 3 + record.participants.len();
            if let Some((_, a)) = attachments
                .iter()
                .enumerate()
                .find(|(i, _)| reasons.condition_failed(first_attachment + i))
            {
                // A scan result that landed since the read is taken and
                // the send retried; anything else means the file is gone.
                match self
                    .rescanned(&new.thread, &new.author.id, &attachments)
                    .await?
                {
                    Some(fresh) => attachments = fresh,
                    None => return Ok(SendOutcome::AttachmentTaken(a.id)),
                }
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
        claim: &Claim,
    ) -> Result<Vec<TransactWriteItem>, StoreError> {
        let thread = &meta.thread;
        let id = m.id.to_string();
        let at = m.created_at.to_string();
        let activity = keys::activity(&at, &thread.id);
        let last = last_message_attr(&LastMessage {
            id: m.id,
            author: m.author.clone(),
            preview: m.body.preview(PREVIEW_CHARS),
            urgent: m.urgent,
        });
        let fresh = Some("attribute_not_exists(pk)");
        let common = "SET last_activity_at = :at, last_message = :lm, last_message_id = :id, \
                      message_count = message_count + :one";
        let last_of_side = match m.author.role {
            Role::Client => "last_client_message",
            Role::Manager => "last_manager_message",
        };
        let shared = || {
            vec![
                (":at", s(&at)),
                (":lm", last.clone()),
                (":id", s(&id)),
                (":one", n(1)),
            ]
        };
        let mut items = vec![
            tx::put(
                &self.table,
                message_item(m, thread.account_id.as_str()),
                fresh,
            )?,
            tx::put(
                &self.table,
                claim_item(&thread.id, &m.author.id, &m.client_message_id, claim),
                fresh,
            )?,
            tx::update(
                &self.table,
                UpdateItem {
                    key: keys::meta(&thread.id),
                    expression: format!("{common}, {last_of_side} = :id"),
                    condition: Some(
                        "attribute_not_exists(last_message_id) OR last_message_id < :id",
                    ),
                    names: vec![],
                    values: shared(),
                },
            )?,
        ];
        for (user, role) in &meta.participants {
            let mut values = shared();
            values.push((":act", s(&activity)));
            let expression = if *user == m.author.id {
                values.push((":f", b(false)));
                format!(
                    "{common}, {act} = :act, read_position = :id, unread = :f REMOVE {u}, {ua}",
                    act = schema::BY_USER.sk,
                    u = schema::UNREAD_BY_USER.pk,
                    ua = schema::UNREAD_BY_USER_ACCOUNT.pk
                )
            } else if *role != m.author.role {
                values.push((":t", b(true)));
                values.push((":u", s(keys::unread_by_user(user))));
                values.push((
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
            items.push(tx::update(
                &self.table,
                UpdateItem {
                    key: keys::inbox(&thread.id, user),
                    expression,
                    condition: Some("attribute_exists(pk)"),
                    names: vec![],
                    values,
                },
            )?);
        }
        // Bound only while pending, the author's, and a margin short of
        // the record's expiry (DynamoDB deletes expired records late; the
        // object's lifecycle expiry is about as far off).
        let bindable = Timestamp::now()
            .unix_seconds()
            .saturating_add(BIND_MARGIN_SECONDS);
        // And only while its scan state is the one the message copies (a
        // record written before scanning existed has none: pending).
        let bind_condition = |scan: ScanState| {
            format!(
                "attachment_state = :pending AND author_id = :author AND {ttl} > :bindable AND {}",
                if scan == ScanState::Pending {
                    "(attribute_not_exists(#scan) OR #scan = :scan)"
                } else {
                    "#scan = :scan"
                },
                ttl = schema::TTL_ATTRIBUTE
            )
        };
        for a in &m.attachments {
            items.push(tx::update(
                &self.table,
                UpdateItem {
                    key: keys::attachment(&thread.id, &a.id),
                    expression: format!(
                        "SET attachment_state = :bound, message_id = :id REMOVE {ttl}",
                        ttl = schema::TTL_ATTRIBUTE
                    ),
                    condition: Some(&bind_condition(a.scan)),
                    names: vec![("#scan", "scan")],
                    values: vec![
                        (":bound", s("bound")),
                        (":pending", s("pending")),
                        (":id", s(&id)),
                        (":author", s(m.author.id.as_str())),
                        (":bindable", n(bindable)),
                        (":scan", s(a.scan.as_str())),
                    ],
                },
            )?);
        }
        // Bound uploads no longer count against the author's pending cap.
        items.extend(release_pending(&self.table, &m.author.id, &m.attachments)?);
        Ok(items)
    }

    /// After a send's bind failed: `files` with their records' current
    /// scan states, if every record is still bindable by `author` and at
    /// least one scan state changed (a result landed since they were read);
    /// `None` if a file was taken, expired or is gone (or nothing changed).
    async fn rescanned(
        &self,
        thread: &ThreadId,
        author: &UserId,
        files: &[AttachmentRef],
    ) -> Result<Option<Vec<AttachmentRef>>, StoreError> {
        let ids: Vec<AttachmentId> = files.iter().map(|a| a.id).collect();
        let records = self.send_context(thread, &ids, None).await?.attachments;
        let now = Timestamp::now().unix_seconds();
        let mut changed = false;
        let mut fresh = Vec::with_capacity(files.len());
        for a in files {
            let Some(r) = records.iter().find(|r| r.file.id == a.id) else {
                return Ok(None);
            };
            if r.message.is_some() || r.author != *author || !r.bindable_at(now) {
                return Ok(None);
            }
            changed |= r.file.scan != a.scan;
            fresh.push(AttachmentRef {
                scan: r.file.scan,
                ..a.clone()
            });
        }
        Ok(changed.then_some(fresh))
    }

    /// If `new` was already sent (its claim exists), what a replay answers:
    /// the original message, or a conflict if the content differs.
    pub async fn replay_of(&self, new: &NewMessage) -> Result<Option<SendOutcome>, StoreError> {
        let key = keys::claim(&new.thread, &new.author.id, &new.client_message_id);
        let Some(item) = self.get(key).await? else {
            return Ok(None);
        };
        let claim = read_claim(&item)?;
        self.answer_claim(&new.thread, &claim, &new.fingerprint())
            .await
            .map(Some)
    }
}
