//! The directory: account profiles (people) and catalogs, and keeping
//! every thread's inbox rows in step with the account's people.
//!
//! The profile item carries a directory `version`, bumped (conditionally on
//! the version read) whenever the people change. Opening a thread checks
//! that version inside its transaction; a sync writes the version first and
//! only then lists and reconciles the account's threads, under a lease so
//! one pass at a time writes an account's rows. See `apply_membership`.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue, TransactWriteItem};

use super::attr::{n, s, Reader};
use super::items::{
    catalog_item, inbox_item, names_attr, participants_attr, people_attr, read_catalog_entry,
    read_inbox_row, read_membership, read_profile, read_record, read_version, Membership,
    ThreadRecord,
};
use super::keys::{self, Kind};
use super::tx::{self, Backoff, UpdateItem};
use super::{Store, StoreError};
use crate::domain::{AccountId, AccountProfile, CatalogEntry, Role, ThreadId, UserId};

/// How long a sync may hold an account's membership lease without renewing
/// it: longer than any page takes, so only a crashed holder loses it.
const LEASE_MS: i64 = 60_000;

/// Threads brought in step per page (and per saved position).
const PAGE: i32 = 100;

/// Threads whose own writes run at once within a page.
const CONCURRENT_THREADS: usize = 16;

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// Whether bringing an account's threads in step finished within the call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    Done,
    /// Out of time: the position is saved; the next sync of the account
    /// (the same event again) continues from it.
    Pending,
}

enum PassEnd {
    Done,
    /// A newer directory version was written meanwhile: start over with it.
    Superseded,
    OutOfTime,
}

/// Who should be in every thread of the account, on which side, named how.
struct Target {
    sides: BTreeMap<UserId, Role>,
    names: BTreeMap<UserId, String>,
    participants: Vec<(UserId, Role)>,
}

impl Target {
    fn of(profile: &AccountProfile) -> Self {
        let sides: BTreeMap<UserId, Role> = profile
            .participants()
            .map(|(p, r)| (p.id.clone(), r))
            .collect();
        let names = profile
            .participants()
            .map(|(p, _)| (p.id.clone(), p.name.clone()))
            .collect();
        let mut participants: Vec<(UserId, Role)> =
            sides.iter().map(|(u, r)| (u.clone(), *r)).collect();
        participants.sort();
        Self {
            sides,
            names,
            participants,
        }
    }
}

/// An account as stored: its profile and whole catalog (archived included),
/// catalog in path order (client, its campaigns, their creatives).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountSnapshot {
    pub profile: Option<AccountProfile>,
    pub catalog: Vec<CatalogEntry>,
}

impl Store {
    /// A transaction item that holds only while the account's directory
    /// version is still `version`.
    pub(super) fn version_check(
        &self,
        acc: &AccountId,
        version: u64,
    ) -> Result<TransactWriteItem, StoreError> {
        if version == 0 {
            tx::check(
                &self.table,
                keys::profile(acc),
                "attribute_not_exists(version)",
                vec![],
            )
        } else {
            tx::check(
                &self.table,
                keys::profile(acc),
                "version = :v",
                vec![(":v", n(version))],
            )
        }
    }

    /// The account's profile and catalog: one Query over its partition.
    pub async fn account(&self, acc: &AccountId) -> Result<AccountSnapshot, StoreError> {
        let mut snapshot = AccountSnapshot {
            profile: None,
            catalog: Vec::new(),
        };
        for item in &self.partition(keys::account_pk(acc)).await? {
            match Reader::new(item).kind()? {
                Kind::Profile => snapshot.profile = Some(read_profile(item)?),
                Kind::Catalog => snapshot.catalog.push(read_catalog_entry(item)?),
                _ => {}
            }
        }
        Ok(snapshot)
    }

    /// Just the profile (people) of an account.
    pub async fn profile(&self, acc: &AccountId) -> Result<Option<AccountProfile>, StoreError> {
        self.get(keys::profile(acc))
            .await?
            .as_ref()
            .map(read_profile)
            .transpose()
    }

    /// Stores the account's name and people as its newest directory version,
    /// unless they are what is stored already, and answers that version.
    /// Conditional on the version read, so two syncs at once get two
    /// versions, one after the other; whoever left is remembered as a leaver
    /// until a pass over the threads has removed them everywhere.
    pub async fn write_profile(&self, profile: &AccountProfile) -> Result<u64, StoreError> {
        let profile_key = keys::profile(&profile.id);
        let mut backoff = Backoff::new(10);
        loop {
            let stored = self.get(profile_key.clone()).await?;
            let (before, version) = match &stored {
                Some(item) => (Some(read_profile(item)?), read_version(item)?),
                None => (None, 0),
            };
            if version > 0 && before.as_ref() == Some(profile) {
                return Ok(version);
            }
            let left: Vec<String> = before
                .iter()
                .flat_map(|p| p.participants())
                .filter(|(p, _)| profile.role_of(&p.id).is_none())
                .map(|(p, _)| p.id.to_string())
                .collect();
            let next = version + 1;
            let mut expr = "SET #type = :type, account_id = :acc, #name = :name, #users = :users, \
                            managers = :managers, version = :next"
                .to_owned();
            let mut req = self
                .db
                .update_item()
                .table_name(&self.table)
                .set_key(Some(profile_key.clone()))
                .expression_attribute_names("#type", "type")
                .expression_attribute_names("#name", "name")
                .expression_attribute_names("#users", "users")
                .expression_attribute_values(":type", s("account"))
                .expression_attribute_values(":acc", s(profile.id.as_str()))
                .expression_attribute_values(":name", s(&profile.name))
                .expression_attribute_values(":users", people_attr(&profile.users))
                .expression_attribute_values(":managers", people_attr(&profile.managers))
                .expression_attribute_values(":next", n(next));
            match &profile.time_zone {
                Some(tz) => {
                    expr.push_str(", time_zone = :tz");
                    req = req.expression_attribute_values(":tz", s(tz.as_str()));
                }
                None => expr.push_str(" REMOVE time_zone"),
            }
            if !left.is_empty() {
                expr.push_str(" ADD leavers :left");
                req = req.expression_attribute_values(":left", AttributeValue::Ss(left));
            }
            req = if version == 0 {
                req.condition_expression("attribute_not_exists(version)")
            } else {
                req.condition_expression("version = :v")
                    .expression_attribute_values(":v", n(version))
            };
            match req.update_expression(expr).send().await {
                Ok(_) => return Ok(next),
                Err(err) => match err.as_service_error() {
                    Some(UpdateItemError::ConditionalCheckFailedException(_)) => {
                        if !backoff.wait().await {
                            return Err(StoreError::Contention);
                        }
                    }
                    _ => return Err(StoreError::aws("UpdateItem", err)),
                },
            }
        }
    }

    /// Upserts catalog entries (never deleted: threads refer to them).
    pub async fn put_catalog(
        &self,
        acc: &AccountId,
        catalog: &[CatalogEntry],
    ) -> Result<(), StoreError> {
        let mut writes = Vec::with_capacity(catalog.len());
        for e in catalog {
            writes.push(tx::put_request(catalog_item(acc, e))?);
        }
        self.batch_write(writes).await
    }

    /// Brings every thread of the account in step with its newest directory
    /// version: exactly its people have inbox rows, on their side, and the
    /// thread lists them. One sync at a time per account holds the lease
    /// for this (others wait for it); the holder goes page by page, saving
    /// its position with each page, and starts over whenever a newer
    /// version was written meanwhile. It reconciles rather than diffs: each
    /// thread's rows are read and compared with the people, so a pass also
    /// repairs any row lost or left over. Stops at `deadline` with the
    /// position saved (`Pending`); the next call continues from it.
    pub async fn apply_membership(
        &self,
        acc: &AccountId,
        deadline: tokio::time::Instant,
    ) -> Result<Applied, StoreError> {
        let owner = ulid::Ulid::new().to_string();
        let owner = owner.as_str();
        loop {
            let Some(state) = self.take_lease(acc, owner).await? else {
                // Another sync of this account is applying a version: wait
                // for it, then make a pass of our own.
                if tokio::time::Instant::now() >= deadline {
                    return Ok(Applied::Pending);
                }
                tokio::time::sleep(std::time::Duration::from_millis(50 + fastrand::u64(0..100)))
                    .await;
                continue;
            };
            let end = self.membership_pass(acc, owner, &state, deadline).await;
            match end {
                Ok(PassEnd::Done) => return Ok(Applied::Done),
                // Start over with the newer version, unless out of time.
                Ok(PassEnd::Superseded) if tokio::time::Instant::now() < deadline => continue,
                Ok(PassEnd::Superseded | PassEnd::OutOfTime) => {
                    self.release_lease(acc, owner).await?;
                    return Ok(Applied::Pending);
                }
                Err(e) => {
                    if let Err(release) = self.release_lease(acc, owner).await {
                        tracing::warn!(error = %release, "membership lease not released");
                    }
                    return Err(e);
                }
            }
        }
    }

    async fn membership_pass(
        &self,
        acc: &AccountId,
        owner: &str,
        state: &Membership,
        deadline: tokio::time::Instant,
    ) -> Result<PassEnd, StoreError> {
        let target = Arc::new(Target::of(&state.profile));
        let mut start = state.cursor.clone();
        loop {
            let (threads, next) = self.thread_pointers(acc, start.as_deref()).await?;
            self.reconcile_threads(&threads, &target, &state.leavers)
                .await?;
            match next {
                Some(last) => {
                    if !self.save_position(acc, owner, state.version, &last).await? {
                        return Ok(PassEnd::Superseded);
                    }
                    start = Some(last);
                    // At least one page per call, so every call gets on.
                    if tokio::time::Instant::now() >= deadline {
                        return Ok(PassEnd::OutOfTime);
                    }
                }
                None => {
                    return Ok(if self.finish_pass(acc, owner, state.version).await? {
                        PassEnd::Done
                    } else {
                        PassEnd::Superseded
                    })
                }
            }
        }
    }

    /// A page of the account's thread pointers after `after`, and the last
    /// pointer's sort key if more may follow.
    async fn thread_pointers(
        &self,
        acc: &AccountId,
        after: Option<&str>,
    ) -> Result<(Vec<ThreadId>, Option<String>), StoreError> {
        let pk = keys::account_threads_pk(acc);
        let start = after.map(|sk| keys::key(pk.clone(), sk));
        let out = self
            .db
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk")
            .expression_attribute_values(":pk", s(&pk))
            .consistent_read(true)
            .limit(PAGE)
            .set_exclusive_start_key(start)
            .send()
            .await
            .map_err(|e| StoreError::aws("Query", e))?;
        let mut ids = Vec::new();
        let mut last = None;
        for item in out.items() {
            let r = Reader::new(item);
            let sk = r.s(super::schema::SK)?;
            let id =
                keys::pointed_thread(sk).ok_or_else(|| r.corrupt("sk is not a thread pointer"))?;
            ids.push(id);
            last = Some(sk.to_owned());
        }
        let more = out.last_evaluated_key.is_some_and(|k| !k.is_empty());
        Ok((ids, last.filter(|_| more)))
    }

    /// Brings a page of threads in step: reads each thread (META) and the
    /// rows of everyone who should or might have one, then adds the missing
    /// (with the thread, in one transaction), rewrites the thread's people,
    /// and deletes the rows of everyone else, in that order, so a thread
    /// never lists someone without a row.
    async fn reconcile_threads(
        &self,
        threads: &[ThreadId],
        target: &Arc<Target>,
        leavers: &[UserId],
    ) -> Result<(), StoreError> {
        if threads.is_empty() {
            return Ok(());
        }
        let metas = self
            .batch_get(threads.iter().map(keys::meta).collect())
            .await?;
        let records: Vec<ThreadRecord> = metas.iter().map(read_record).collect::<Result<_, _>>()?;
        let mut wanted = Vec::new();
        for record in &records {
            let mut users: HashSet<&UserId> = target.sides.keys().collect();
            users.extend(record.participants.iter().map(|(u, _)| u));
            users.extend(leavers);
            wanted.extend(users.into_iter().map(|u| keys::inbox(&record.thread.id, u)));
        }
        let mut rows: HashMap<ThreadId, BTreeMap<UserId, Role>> = HashMap::new();
        for item in &self.batch_get(wanted).await? {
            let row = read_inbox_row(item)?;
            rows.entry(row.thread.id)
                .or_default()
                .insert(row.user, row.role);
        }
        let mut deletes = Vec::new();
        let mut changes = Vec::new();
        for record in records {
            let have = rows.remove(&record.thread.id).unwrap_or_default();
            let adds: Vec<(UserId, Role)> = target
                .sides
                .iter()
                .filter(|(u, r)| have.get(*u) != Some(*r))
                .map(|(u, r)| (u.clone(), *r))
                .collect();
            for user in have.keys().filter(|u| !target.sides.contains_key(*u)) {
                deletes.push(tx::delete_request(keys::inbox(&record.thread.id, user))?);
            }
            if !adds.is_empty()
                || record.participants != target.participants
                || record.names != target.names
            {
                changes.push((record, adds));
            }
        }
        // The threads' own writes, a few at a time (each is one call, or
        // one transaction when someone joins).
        for batch in changes.chunks(CONCURRENT_THREADS) {
            let mut writes = tokio::task::JoinSet::new();
            for (record, adds) in batch.iter().cloned() {
                let store = self.clone();
                let target = Arc::clone(target);
                writes.spawn(async move {
                    if adds.is_empty() {
                        store.set_members(&record.thread.id, &target).await
                    } else {
                        store.add_members(record, &target, &adds).await
                    }
                });
            }
            while let Some(done) = writes.join_next().await {
                done.map_err(|e| StoreError::Aws {
                    op: "UpdateItem",
                    message: format!("thread update task failed: {e}"),
                })??;
            }
        }
        self.batch_write(deletes).await
    }

    /// The thread's people and names, as the target has them.
    async fn set_members(&self, thread: &ThreadId, target: &Target) -> Result<(), StoreError> {
        let result = self
            .db
            .update_item()
            .table_name(&self.table)
            .set_key(Some(keys::meta(thread)))
            .update_expression("SET participants = :p, #names = :n")
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_names("#names", "names")
            .expression_attribute_values(":p", participants_attr(&target.participants))
            .expression_attribute_values(":n", names_attr(&target.names))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(err) => match err.as_service_error() {
                Some(UpdateItemError::ConditionalCheckFailedException(_)) => Ok(()),
                _ => Err(StoreError::aws("UpdateItem", err)),
            },
        }
    }

    /// Gives newcomers (or people whose side changed) a row made from the
    /// thread as it is, in one transaction with the thread's new people,
    /// conditional on no message having landed since the thread was read,
    /// so a row never misses a message. Retried with the thread read again.
    async fn add_members(
        &self,
        mut record: ThreadRecord,
        target: &Target,
        adds: &[(UserId, Role)],
    ) -> Result<(), StoreError> {
        let mut backoff = Backoff::new(10);
        loop {
            let thread = record.thread.id.clone();
            let mut values = vec![
                (":p", participants_attr(&target.participants)),
                (":n", names_attr(&target.names)),
            ];
            let condition = match &record.thread.last_message {
                Some(m) => {
                    values.push((":lm", s(m.id.to_string())));
                    "last_message_id = :lm"
                }
                None => "attribute_exists(pk) AND attribute_not_exists(last_message_id)",
            };
            let mut items = vec![tx::update(
                &self.table,
                UpdateItem {
                    key: keys::meta(&thread),
                    expression: "SET participants = :p, #names = :n".into(),
                    condition: Some(condition),
                    names: vec![("#names", "names")],
                    values,
                },
            )?];
            for (user, role) in adds {
                items.push(tx::put(
                    &self.table,
                    inbox_item(&record, user, *role),
                    None,
                )?);
            }
            let Some(reasons) = self.transact(items).await? else {
                return Ok(());
            };
            if !(reasons.condition_failed(0) || reasons.conflict()) {
                return Err(reasons.into_error());
            }
            if !backoff.wait().await {
                return Err(StoreError::Contention);
            }
            match self.get(keys::meta(&thread)).await? {
                Some(item) => record = read_record(&item)?,
                None => return Ok(()),
            }
        }
    }

    /// Takes (or renews) the account's membership lease; the profile item
    /// as it is then, or `None` while another sync holds it.
    async fn take_lease(
        &self,
        acc: &AccountId,
        owner: &str,
    ) -> Result<Option<Membership>, StoreError> {
        let now = now_ms();
        let result = self
            .db
            .update_item()
            .table_name(&self.table)
            .set_key(Some(keys::profile(acc)))
            .update_expression("SET lease_owner = :me, lease_until = :until")
            .condition_expression(
                "attribute_exists(pk) AND (attribute_not_exists(lease_owner) \
                 OR lease_owner = :me OR lease_until < :now)",
            )
            .expression_attribute_values(":me", s(owner))
            .expression_attribute_values(":until", n(now + LEASE_MS))
            .expression_attribute_values(":now", n(now))
            .return_values(ReturnValue::AllNew)
            .send()
            .await;
        match result {
            Ok(out) => match out.attributes {
                Some(item) => Ok(Some(read_membership(&item)?)),
                None => Ok(None),
            },
            Err(err) => match err.as_service_error() {
                Some(UpdateItemError::ConditionalCheckFailedException(_)) => Ok(None),
                _ => Err(StoreError::aws("UpdateItem", err)),
            },
        }
    }

    /// Saves the pass's position (and renews the lease); `false` if a newer
    /// version was written or the lease was lost.
    async fn save_position(
        &self,
        acc: &AccountId,
        owner: &str,
        version: u64,
        cursor: &str,
    ) -> Result<bool, StoreError> {
        self.lease_update(
            acc,
            "SET #cursor = :c, cursor_version = :v, lease_until = :until",
            owner,
            Some(version),
            Some(cursor),
        )
        .await
    }

    /// Records that the threads reflect `version` and gives the lease up;
    /// `false` if a newer version was written meanwhile.
    async fn finish_pass(
        &self,
        acc: &AccountId,
        owner: &str,
        version: u64,
    ) -> Result<bool, StoreError> {
        self.lease_update(
            acc,
            "SET applied = :v REMOVE lease_owner, lease_until, #cursor, cursor_version, leavers",
            owner,
            Some(version),
            None,
        )
        .await
    }

    async fn release_lease(&self, acc: &AccountId, owner: &str) -> Result<bool, StoreError> {
        self.lease_update(acc, "REMOVE lease_owner, lease_until", owner, None, None)
            .await
    }

    async fn lease_update(
        &self,
        acc: &AccountId,
        expr: &str,
        owner: &str,
        version: Option<u64>,
        cursor: Option<&str>,
    ) -> Result<bool, StoreError> {
        let mut req = self
            .db
            .update_item()
            .table_name(&self.table)
            .set_key(Some(keys::profile(acc)))
            .update_expression(expr)
            .expression_attribute_values(":me", s(owner));
        if expr.contains("#cursor") {
            req = req.expression_attribute_names("#cursor", "cursor");
        }
        if expr.contains(":until") {
            req = req.expression_attribute_values(":until", n(now_ms() + LEASE_MS));
        }
        if let Some(c) = cursor {
            req = req.expression_attribute_values(":c", s(c));
        }
        req = match version {
            Some(v) => req
                .condition_expression("lease_owner = :me AND version = :v")
                .expression_attribute_values(":v", n(v)),
            None => req.condition_expression("lease_owner = :me"),
        };
        match req.send().await {
            Ok(_) => Ok(true),
            Err(err) => match err.as_service_error() {
                Some(UpdateItemError::ConditionalCheckFailedException(_)) => Ok(false),
                _ => Err(StoreError::aws("UpdateItem", err)),
            },
        }
    }
}
