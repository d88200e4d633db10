//! `sync-directory` — the platform pushes accounts, their people and their
//! catalog by direct (IAM-authorised) invocation. Every call is an
//! idempotent upsert: each account in it is its whole current state for
//! people (absent people leave the account, losing access and e-mail at
//! once), while catalog entries are upserted and never deleted.
//!
//! The whole event is parsed before anything is written: a bad field fails
//! the call, naming the field, and writes nothing.

use std::collections::HashSet;

use lambda_runtime::Diagnostic;
use liaison::domain::{parse_directory, CatalogEntry, FieldError};
use liaison::store::{Store, StoreError};
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
}

impl From<SyncError> for Diagnostic {
    fn from(e: SyncError) -> Self {
        let error_type = match &e {
            SyncError::Invalid(_) => "ValidationFailed",
            SyncError::Store(_) => "Internal",
        };
        Diagnostic {
            error_type: error_type.into(),
            error_message: e.to_string(),
        }
    }
}

pub async fn handle(app: &App, event: Value) -> Result<Counts, SyncError> {
    let accounts = parse_directory(&event).map_err(SyncError::Invalid)?;
    let mut counts = Counts::default();
    for account in &accounts {
        let before = app.store.account(&account.profile.id).await.map_err(log)?;
        // People first, profile last: if anything fails midway, a retry of
        // the same event still sees the old profile and redoes the diff.
        app.store
            .sync_membership(before.profile.as_ref(), &account.profile)
            .await
            .map_err(log)?;
        app.store
            .put_account(&account.profile, &account.catalog)
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
            users = account.profile.users.len(),
            managers = account.profile.managers.len(),
            catalog = account.catalog.len(),
            "account synced"
        );
    }
    Ok(counts)
}

fn log(e: StoreError) -> SyncError {
    tracing::error!(error = %e, "directory sync failed");
    SyncError::Store(e)
}
