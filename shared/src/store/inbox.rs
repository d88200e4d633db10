//! Inbox rows: one person's listing of their threads (over the rows'
//! indexes), the unread count, read positions (both ways) and mute.

use std::collections::BTreeMap;

use aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{ReturnValue, ReturnValuesOnConditionCheckFailure, Select};

use super::attr::{b, s, Reader};
use super::items::{opt_message_id, read_inbox_row, read_state, InboxRow, ReadState};
use super::keys::{self, Kind};
use super::schema::{self, Index};
use super::tx::Backoff;
use super::{Store, StoreError};
use crate::domain::{AccountId, MessageId, Principal, Role, Thread, ThreadId, UserId};

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
        index_of(&self.user, self.account.as_ref(), self.unread_only)
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

/// The index (and its partition) listing a person's threads or unread
/// threads, in all accounts or one.
fn index_of(user: &UserId, account: Option<&AccountId>, unread: bool) -> (Index, String) {
    match (account, unread) {
        (None, false) => (schema::BY_USER, keys::by_user(user)),
        (Some(a), false) => (schema::BY_USER_ACCOUNT, keys::by_user_account(user, a)),
        (None, true) => (schema::UNREAD_BY_USER, keys::unread_by_user(user)),
        (Some(a), true) => (
            schema::UNREAD_BY_USER_ACCOUNT,
            keys::unread_by_user_account(user, a),
        ),
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThreadPage {
    pub threads: Vec<Thread>,
    /// Where the next page starts, if there may be one.
    pub next: Option<BTreeMap<String, String>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReadOutcome {
    Read(ReadState),
    /// The thread is not the caller's.
    NotFound,
    /// The given message is not in this thread.
    NoSuchMessage,
}

/// The side a caller acts on, from their token, as `access::side_in` has
/// it: a client token only as a client user of its own account, a manager
/// token only as a manager. Rows where the directory puts the person on
/// the other side (or in another account) are not theirs to change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Side {
    pub role: Role,
    /// A client's own account (`None` for a manager).
    pub account: Option<AccountId>,
}

impl Side {
    pub fn of(caller: &Principal) -> Self {
        Self {
            role: caller.role,
            account: match caller.role {
                Role::Client => caller.account_id.clone(),
                Role::Manager => None,
            },
        }
    }

    /// Whether a row of `account` where the person is on `role`'s side is
    /// one this side may act on.
    fn admits(&self, account: &AccountId, role: Role) -> bool {
        role == self.role
            && match self.role {
                Role::Client => self.account.as_ref() == Some(account),
                Role::Manager => true,
            }
    }
}

/// What marking a thread unread did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UnreadOutcome {
    /// The read state after (unchanged when there was nothing to mark:
    /// no message from the other side, or it is unread already).
    Unread(ReadState),
    /// Not the caller's thread (no row, or not on their side).
    NotFound,
}

/// The id just before `id`: ids sort as messages do, so a read position
/// here has read everything older than `id` and not `id` itself. `None`
/// for the smallest id (nothing comes before it).
fn just_before(id: MessageId) -> Option<MessageId> {
    u128::from(id.ulid())
        .checked_sub(1)
        .map(|v| MessageId::from_ulid(ulid::Ulid::from(v)))
}

impl Store {
    /// A Query over one partition of an inbox-row index, keeping the rows
    /// where the person is on `role`'s side.
    fn rows_on_side(&self, index: Index, pk: String, role: Role) -> QueryFluentBuilder {
        self.db
            .query()
            .table_name(&self.table)
            .index_name(index.name)
            .key_condition_expression("#pk = :pk")
            .filter_expression("#role = :role")
            .expression_attribute_names("#pk", index.pk)
            .expression_attribute_names("#role", "role")
            .expression_attribute_values(":pk", s(pk))
            .expression_attribute_values(":role", s(role.as_str()))
    }

    /// One person's row for a thread; `None` if they are not in it.
    pub async fn inbox_row(
        &self,
        thread: &ThreadId,
        user: &UserId,
    ) -> Result<Option<InboxRow>, StoreError> {
        self.get(keys::inbox(thread, user))
            .await?
            .as_ref()
            .map(read_inbox_row)
            .transpose()
    }

    /// Several people's rows of one thread.
    pub async fn inbox_rows(
        &self,
        thread: &ThreadId,
        users: &[&UserId],
    ) -> Result<Vec<InboxRow>, StoreError> {
        let items = self
            .batch_get(users.iter().map(|u| keys::inbox(thread, u)).collect())
            .await?;
        items.iter().map(read_inbox_row).collect()
    }

    /// A page of a person's threads, newest activity first: one Query.
    pub async fn list_threads(
        &self,
        q: &ThreadQuery,
        start: Option<BTreeMap<String, String>>,
    ) -> Result<ThreadPage, StoreError> {
        let (index, pk) = q.index();
        let out = self
            .rows_on_side(index, pk, q.role)
            .scan_index_forward(false)
            .limit(q.limit)
            .set_exclusive_start_key(start.map(super::start_key))
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
    /// side (in `account`, if given), up to `cap`: a COUNT over the sparse
    /// unread index that reads at most `cap + 1` rows (a COUNT pays for
    /// every row it counts, so an uncapped one would grow with the
    /// person's unread history). The second value: there are more than
    /// `cap`.
    pub async fn count_unread(
        &self,
        user: &UserId,
        account: Option<&AccountId>,
        role: Role,
        cap: u64,
    ) -> Result<(u64, bool), StoreError> {
        let (index, pk) = index_of(user, account, true);
        let mut total = 0u64;
        let mut start = None;
        loop {
            let want = (cap + 1 - total).min(i32::MAX as u64) as i32;
            let page = self
                .rows_on_side(index, pk.clone(), role)
                .select(Select::Count)
                .limit(want)
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(|e| StoreError::aws("Query", e))?;
            total += page.count.max(0) as u64;
            start = page.last_evaluated_key;
            if total > cap || start.is_none() {
                return Ok((total.min(cap), total > cap));
            }
        }
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
            .set_key(Some(keys::inbox(thread, user)))
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
                    None => self.get(keys::inbox(thread, user)).await?,
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
                keys::inbox(thread, user),
                keys::message(thread, up_to),
            ])
            .await?;
        let mut row = None;
        let mut found = false;
        for item in &items {
            if Reader::new(item).kind()? == Kind::Inbox {
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
            .set_key(Some(keys::inbox(thread, user)))
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

    /// Mutes (or unmutes) the thread for the person: one conditional
    /// UpdateItem on their inbox row. `None` when they have no row (they
    /// are not in the thread): nothing is written. Idempotent. For callers
    /// that hold a signed token for (person, thread), such as the one-click
    /// unsubscribe; the API uses [`Store::set_muted_as`].
    pub async fn set_muted(
        &self,
        thread: &ThreadId,
        user: &UserId,
        muted: bool,
    ) -> Result<Option<bool>, StoreError> {
        self.update_muted(thread, user, muted, None).await
    }

    /// [`Store::set_muted`] for an API caller: only a row on the side their
    /// token acts on (see [`Side`]) counts, checked in the same conditional
    /// write. `None`: not their thread.
    pub async fn set_muted_as(
        &self,
        thread: &ThreadId,
        user: &UserId,
        side: &Side,
        muted: bool,
    ) -> Result<Option<bool>, StoreError> {
        self.update_muted(thread, user, muted, Some(side)).await
    }

    async fn update_muted(
        &self,
        thread: &ThreadId,
        user: &UserId,
        muted: bool,
        side: Option<&Side>,
    ) -> Result<Option<bool>, StoreError> {
        let mut req = self
            .db
            .update_item()
            .table_name(&self.table)
            .set_key(Some(keys::inbox(thread, user)));
        // Absent means false: unmuting removes the attribute.
        req = if muted {
            req.update_expression("SET muted = :t")
                .expression_attribute_values(":t", b(true))
        } else {
            req.update_expression("REMOVE muted")
        };
        let mut condition = "attribute_exists(pk)".to_owned();
        if let Some(side) = side {
            condition.push_str(" AND #role = :role");
            req = req
                .expression_attribute_names("#role", "role")
                .expression_attribute_values(":role", s(side.role.as_str()));
            if side.role == Role::Client {
                condition.push_str(" AND account_id = :acc");
                req = req.expression_attribute_values(
                    ":acc",
                    s(side.account.as_ref().map(AccountId::as_str).unwrap_or("")),
                );
            }
        }
        match req.condition_expression(condition).send().await {
            Ok(_) => Ok(Some(muted)),
            Err(err) => match err.as_service_error() {
                Some(UpdateItemError::ConditionalCheckFailedException(_)) => Ok(None),
                _ => Err(StoreError::aws("UpdateItem", err)),
            },
        }
    }

    /// Marks the thread unread for the person: their read position goes
    /// back to just before the newest message from the other side, the row
    /// becomes unread (with the sparse index keys a send sets), and
    /// `read_max` keeps the furthest position they had read, so what they
    /// read is never e-mailed because of this. A GetItem and a conditional
    /// UpdateItem, retried from the read if the row moved in between (a
    /// send, a read); nothing to mark (no message from the other side, or
    /// already unread) is the GetItem alone.
    pub async fn mark_unread(
        &self,
        thread: &ThreadId,
        user: &UserId,
        side: &Side,
    ) -> Result<UnreadOutcome, StoreError> {
        let mut backoff = Backoff::new(8);
        loop {
            if let Some(outcome) = self.try_mark_unread(thread, user, side).await? {
                return Ok(outcome);
            }
            if !backoff.wait().await {
                return Err(StoreError::Contention);
            }
        }
    }

    /// One attempt of [`Store::mark_unread`]: `None` when the row moved
    /// between the read and the conditional write.
    async fn try_mark_unread(
        &self,
        thread: &ThreadId,
        user: &UserId,
        side: &Side,
    ) -> Result<Option<UnreadOutcome>, StoreError> {
        let Some(item) = self.get(keys::inbox(thread, user)).await? else {
            return Ok(Some(UnreadOutcome::NotFound));
        };
        let row = read_inbox_row(&item)?;
        if !side.admits(&row.thread.account_id, row.role) {
            return Ok(Some(UnreadOutcome::NotFound));
        }
        let (Some(other_last), Some(position)) = (row.other_side_last, row.read_position) else {
            // Nothing from the other side, or nothing read: nothing to mark.
            return Ok(Some(UnreadOutcome::Unread(read_state(thread, &item)?)));
        };
        if position < other_last {
            // Already unread: moving the position would only skip messages.
            return Ok(Some(UnreadOutcome::Unread(read_state(thread, &item)?)));
        }
        let mut set = vec![
            "unread = :t".to_owned(),
            format!("{} = :u", schema::UNREAD_BY_USER.pk),
            format!("{} = :ua", schema::UNREAD_BY_USER_ACCOUNT.pk),
        ];
        let back = just_before(other_last);
        if back.is_some() {
            set.push("read_position = :back".into());
        }
        let keep_max = row.read_max.is_none_or(|m| m < position);
        if keep_max {
            set.push("read_max = :p".into());
        }
        let mut expr = format!("SET {}", set.join(", "));
        if back.is_none() {
            expr.push_str(" REMOVE read_position");
        }
        let mut req = self
            .db
            .update_item()
            .table_name(&self.table)
            .set_key(Some(keys::inbox(thread, user)))
            .update_expression(expr)
            // Only if nothing moved since we read: no newer message, no
            // read, no send by the person.
            .condition_expression(
                "attribute_exists(pk) AND read_position = :p AND other_side_last = :o",
            )
            .expression_attribute_values(":t", b(true))
            .expression_attribute_values(":u", s(keys::unread_by_user(user)))
            .expression_attribute_values(
                ":ua",
                s(keys::unread_by_user_account(user, &row.thread.account_id)),
            )
            .expression_attribute_values(":p", s(position.to_string()))
            .expression_attribute_values(":o", s(other_last.to_string()))
            .return_values(ReturnValue::AllNew);
        if let Some(back) = back {
            req = req.expression_attribute_values(":back", s(back.to_string()));
        }
        match req.send().await {
            Ok(out) => match out.attributes {
                Some(item) => Ok(Some(UnreadOutcome::Unread(read_state(thread, &item)?))),
                None => Ok(Some(UnreadOutcome::NotFound)),
            },
            Err(err) => match err.as_service_error() {
                Some(UpdateItemError::ConditionalCheckFailedException(_)) => Ok(None),
                _ => Err(StoreError::aws("UpdateItem", err)),
            },
        }
    }
}
