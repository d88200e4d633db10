//! `sync-directory` — the platform pushes accounts, their people and their
//! catalog by direct (IAM-authorised) invocation. Every call is an
//! idempotent upsert: each account in it is its whole current state for
//! people (absent people leave the account, losing access and e-mail at
//! once), while catalog entries are upserted and never deleted.
//!
//! The whole event is parsed before anything is written: a bad field fails
//! the call, naming the field, and writes nothing.
//!
//! Each account's people are stored first, as a new directory version;
//! then its threads are brought in step with them (see
//! `Store::apply_membership`: one pass per account at a time, page by page,
//! repairing any drift). A call that runs out of its time budget fails with
//! `Incomplete` after saving its position: the directory is stored, and the
//! same event sent again finishes bringing the threads in step.

use std::collections::HashSet;
use std::time::Duration;

use lambda_runtime::Diagnostic;
use liaison::domain::{parse_directory, CatalogEntry, FieldError};
use liaison::store::{Applied, Store, StoreError};
use serde::Serialize;
use serde_json::Value;

pub struct App {
    pub store: Store,
}

/// How many of each the directory now holds for the accounts in the call.
#[derive(Debug, Default, Serialize, PartialEq, Eq)]
pub struct Counts {
    pub accounts: usize,
    pub users: usize,
    pub managers: usize,
    pub clients: usize,
    pub campaigns: usize,
    pub creatives: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error("validation_failed: {}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    Invalid(Vec<FieldError>),
    #[error("internal: the directory could not be stored; retry the call")]
    Store(#[from] StoreError),
    #[error(
        "incomplete: the directory is stored, but the threads of {} are still being brought in step with it; send the same event again to finish",
        .0.join(", ")
    )]
    Incomplete(Vec<String>),
}

/// How long one call works on bringing threads in step before it saves its
/// position and answers `Incomplete` (the function's timeout is 60 s).
pub const TIME_BUDGET: Duration = Duration::from_secs(40);

impl From<SyncError> for Diagnostic {
    fn from(e: SyncError) -> Self {
        let error_type = match &e {
            SyncError::Invalid(_) => "ValidationFailed",
            SyncError::Store(_) => "Internal",
            SyncError::Incomplete(_) => "Incomplete",
        };
        Diagnostic {
            error_type: error_type.into(),
            error_message: e.to_string(),
        }
    }
}

pub async fn handle(app: &App, event: Value) -> Result<Counts, SyncError> {
    handle_within(app, event, TIME_BUDGET).await
}

/// `handle` with a given time budget for bringing threads in step.
pub async fn handle_within(app: &App, event: Value, budget: Duration) -> Result<Counts, SyncError> {
    let deadline = tokio::time::Instant::now() + budget;
    let accounts = parse_directory(&event).map_err(SyncError::Invalid)?;
    let mut counts = Counts::default();
    // Every account's people and catalog first, so that whatever happens
    // next, the directory is stored and access follows it.
    for account in &accounts {
        let before = app.store.account(&account.profile.id).await.map_err(log)?;
        let version = app
            .store
            .write_profile(&account.profile)
            .await
            .map_err(log)?;
        app.store
            .put_catalog(&account.profile.id, &account.catalog)
            .await
            .map_err(log)?;

        let key = |e: &CatalogEntry| (e.client.clone(), e.campaign.clone(), e.creative.clone());
        let catalog: HashSet<_> = before
            .catalog
            .iter()
            .chain(account.catalog.iter())
            .map(key)
            .collect();
        counts.accounts += 1;
        counts.users += account.profile.users.len();
        counts.managers += account.profile.managers.len();
        for (_, campaign, creative) in &catalog {
            match (campaign, creative) {
                (None, _) => counts.clients += 1,
                (Some(_), None) => counts.campaigns += 1,
                (Some(_), Some(_)) => counts.creatives += 1,
            }
        }
        tracing::info!(
            account_id = %account.profile.id,
            version,
            users = account.profile.users.len(),
            managers = account.profile.managers.len(),
            catalog = account.catalog.len(),
            "account stored"
        );
    }
    let mut pending = Vec::new();
    for account in &accounts {
        let id = &account.profile.id;
        match app
            .store
            .apply_membership(id, deadline)
            .await
            .map_err(log)?
        {
            Applied::Done => tracing::info!(account_id = %id, "threads in step"),
            Applied::Pending => {
                tracing::warn!(account_id = %id, "out of time bringing threads in step");
                pending.push(id.to_string());
            }
        }
    }
    if pending.is_empty() {
        Ok(counts)
    } else {
        Err(SyncError::Incomplete(pending))
    }
}

fn log(e: StoreError) -> SyncError {
    tracing::error!(error = %e, "directory sync failed");
    SyncError::Store(e)
}
