//! Threads: opening a scope (what it needs, read at once) and creating the
//! thread with every participant's inbox row in one transaction.

use super::attr::{s, Reader};
use super::items::{
    inbox_item, meta_item, read_catalog_entry, read_inbox_row, read_profile, read_record,
    read_version, ThreadRecord,
};
use super::keys::{self, Kind};
use super::{tx, Item, Store, StoreError};
use crate::domain::{AccountId, AccountProfile, CatalogEntry, Scope, Thread, ThreadId, UserId};

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

/// What `create_thread` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CreateOutcome {
    Created,
    /// Someone else created it first.
    Exists,
    /// The account's people changed since the profile was read: read again.
    DirectoryChanged,
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
            keys::meta(thread),
            keys::inbox(thread, caller),
            keys::profile(account),
        ];
        wanted.extend(keys::scope_catalog(account, scope));
        let items = self.batch_get(wanted).await?;
        let mut ctx = OpenContext {
            profile: None,
            profile_version: 0,
            existing: None,
            catalog: Vec::new(),
        };
        let mut meta = None;
        for item in &items {
            match Reader::new(item).kind()? {
                Kind::Meta => meta = Some(read_record(item)?),
                Kind::Inbox => ctx.existing = Some(read_inbox_row(item)?.thread),
                Kind::Profile => {
                    ctx.profile = Some(read_profile(item)?);
                    ctx.profile_version = read_version(item)?;
                }
                _ => ctx.catalog.push(read_catalog_entry(item)?),
            }
        }
        if ctx.existing.is_none() {
            ctx.existing = meta.map(|m| m.thread);
        }
        Ok(ctx)
    }

    /// The catalog entries on a scope's path (none for General): one
    /// BatchGetItem of at most three keys, or no call at all.
    pub async fn scope_catalog(
        &self,
        account: &AccountId,
        scope: &Scope,
    ) -> Result<Vec<CatalogEntry>, StoreError> {
        let wanted = keys::scope_catalog(account, scope);
        if wanted.is_empty() {
            return Ok(Vec::new());
        }
        self.batch_get(wanted)
            .await?
            .iter()
            .map(read_catalog_entry)
            .collect()
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
        let record = ThreadRecord::opened(thread, profile);
        let [meta, pointer, inboxes @ ..] = &thread_items(&record, scope_key)[..] else {
            unreachable!("a thread has its META and pointer")
        };
        // Item order matters: the outcome is read from reasons 0 and 2.
        let mut items = vec![
            tx::put(&self.table, meta.clone(), Some("attribute_not_exists(pk)"))?,
            tx::put(&self.table, pointer.clone(), None)?,
            self.version_check(&profile.id, version)?,
        ];
        for inbox in inboxes {
            items.push(tx::put(&self.table, inbox.clone(), None)?);
        }
        match self.transact_retrying(items, 10).await? {
            None => Ok(CreateOutcome::Created),
            Some(c) if c.condition_failed(0) => Ok(CreateOutcome::Exists),
            Some(c) if c.condition_failed(2) => Ok(CreateOutcome::DirectoryChanged),
            Some(c) => Err(c.into_error()),
        }
    }
}

impl ThreadRecord {
    /// A thread just opened in `profile`'s account: its people, no message.
    pub fn opened(thread: &Thread, profile: &AccountProfile) -> Self {
        Self {
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
        }
    }
}

/// The items a thread is stored as, in this order: its META, the account's
/// pointer to it, and every participant's inbox row (what `create_thread`
/// writes; the bench and tests seed many threads with them).
pub fn thread_items(record: &ThreadRecord, scope_key: &str) -> Vec<Item> {
    let thread = &record.thread;
    let mut pointer = keys::thread_pointer(&thread.account_id, &thread.id);
    pointer.insert("scope_key".into(), s(scope_key));
    let mut items = vec![meta_item(record, scope_key), pointer];
    for (user, role) in &record.participants {
        items.push(inbox_item(record, user, *role));
    }
    items
}
