//! `record-scan` — GuardDuty Malware Protection for S3 results → each
//! attachment's scan state (`liaison::store::Store::record_scan`).
//!
//! GuardDuty scans every new object of the attachments bucket, tags it
//! `GuardDutyMalwareScanStatus` and publishes an EventBridge event
//! (`source: aws.guardduty`, `detail-type: GuardDuty Malware Protection
//! Object Scan Result`); a rule puts it on an SQS queue, whose records are
//! this function's batch. `NO_THREATS_FOUND` makes the file clean
//! (downloadable), `THREATS_FOUND` infected (never downloadable; final);
//! `UNSUPPORTED`, `ACCESS_DENIED` and `FAILED` leave it pending (logged
//! with the reason: such a file is never served). An object key names its
//! attachment in either layout (`t/{thread}/{attachment}`, or
//! `{account}/{thread}/{attachment}` for files stored before; see
//! `liaison::attachments::object_key`), and a result is recorded only on
//! the record whose file is stored under that very key. Other objects (the
//! raw e-mails under `inbound/`) and other buckets are ignored.
//!
//! Once a file is bound to a message, its S3 tag must agree with its
//! record (the bucket policy serves only objects tagged
//! `NO_THREATS_FOUND`): send-message's retag reads and rewrites the tag set,
//! and a GuardDuty tag written in between would be lost, so for a bound
//! file this checks the tag (one GetObjectTagging) and puts it back if it
//! is missing or stale.
//!
//! A record that fails for a reason that may pass (DynamoDB, S3) is reported in
//! the `SqsBatchResponse`, so SQS delivers it again; so is a result for an
//! attachment whose record does not exist yet, while the event is younger
//! than [`MISSING_RECORD_RETRY`] (receive-reply stores an e-mail's files
//! just before their records). A malformed record is logged and dropped.
//! Logs carry ids and states, never file names or contents.

use std::time::Duration;

use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent, SqsMessage};
use liaison::attachments::{AttachmentKey, Attachments};
use liaison::domain::ScanState;
use liaison::store::{ScanRecorded, Store};
use serde::Deserialize;

pub const SOURCE: &str = "aws.guardduty";
pub const DETAIL_TYPE: &str = "GuardDuty Malware Protection Object Scan Result";
/// The object tag GuardDuty sets after a scan (and the bucket policy reads).
pub const SCAN_TAG_KEY: &str = "GuardDutyMalwareScanStatus";
/// The tag value (and result status) of a file with no threat found.
pub const NO_THREATS_FOUND: &str = "NO_THREATS_FOUND";
pub const THREATS_FOUND: &str = "THREATS_FOUND";
/// How long a result for an attachment with no record is retried.
pub const MISSING_RECORD_RETRY: Duration = Duration::from_secs(120);

pub struct App {
    pub store: Store,
    /// The attachments bucket: events about other buckets are ignored.
    pub attachments: Attachments,
}

/// The EventBridge event, as much of it as is read.
#[derive(Debug, Clone, Deserialize)]
pub struct ScanEvent {
    pub source: String,
    #[serde(rename = "detail-type")]
    pub detail_type: String,
    #[serde(default)]
    pub time: Option<String>,
    pub detail: Detail,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Detail {
    pub s3_object_details: ObjectDetails,
    #[serde(default)]
    pub scan_result_details: Option<ResultDetails>,
    #[serde(default)]
    pub scan_status: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ObjectDetails {
    pub bucket_name: String,
    pub object_key: String,
    #[serde(default)]
    pub e_tag: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResultDetails {
    pub scan_result_status: String,
}

/// What one SQS record asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Parsed {
    /// Record `result` for the attachment stored under this key.
    Result {
        object: AttachmentKey,
        result: ScanState,
        /// The event's time (unix seconds), if it has one.
        at: Option<i64>,
    },
    /// Nothing to do (logged with the reason).
    Ignore(&'static str),
    /// Not a scan result at all (logged and dropped).
    Malformed(String),
}

/// The attachment an object key names, in either layout; `None` for the
/// raw e-mails under `inbound/` and anything else.
pub fn attachment_of(key: &str) -> Option<AttachmentKey> {
    AttachmentKey::parse(key)
}

/// What a scan result status means for the file; `None` for statuses that
/// are not a verdict (UNSUPPORTED, ACCESS_DENIED, FAILED, ...).
pub fn verdict(status: &str) -> Option<ScanState> {
    match status {
        NO_THREATS_FOUND => Some(ScanState::Clean),
        THREATS_FOUND => Some(ScanState::Infected),
        _ => None,
    }
}

/// Reads one SQS record's body (an EventBridge event).
pub fn parse(body: &str, bucket: &str) -> Parsed {
    let event: ScanEvent = match serde_json::from_str(body) {
        Ok(e) => e,
        Err(e) => return Parsed::Malformed(format!("not a scan result event: {e}")),
    };
    if event.source != SOURCE || event.detail_type != DETAIL_TYPE {
        return Parsed::Ignore("not a GuardDuty object scan result");
    }
    let object = &event.detail.s3_object_details;
    if object.bucket_name != bucket {
        return Parsed::Ignore("another bucket");
    }
    let Some(key) = attachment_of(&object.object_key) else {
        return Parsed::Ignore("not an attachment object");
    };
    let (thread, attachment) = (&key.thread, &key.id);
    let status = event
        .detail
        .scan_result_details
        .as_ref()
        .map(|d| d.scan_result_status.as_str())
        .unwrap_or_default();
    let Some(result) = verdict(status) else {
        tracing::warn!(
            %thread,
            attachment_id = %attachment,
            status,
            scan_status = event.detail.scan_status.as_deref().unwrap_or_default(),
            "scan gave no verdict: the file stays pending (never downloadable)"
        );
        return Parsed::Ignore("no verdict");
    };
    let at = event.time.as_deref().and_then(|t| {
        time::OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339)
            .ok()
            .map(|t| t.unix_timestamp())
    });
    Parsed::Result {
        object: key,
        result,
        at,
    }
}

pub async fn handle(app: &App, event: SqsEvent) -> SqsBatchResponse {
    let mut response = SqsBatchResponse::default();
    for record in &event.records {
        if !process(app, record).await {
            let mut failure = BatchItemFailure::default();
            failure.item_identifier = record.message_id.clone().unwrap_or_default();
            response.batch_item_failures.push(failure);
        }
    }
    response
}

/// Handles one record; `false` if SQS should deliver it again.
async fn process(app: &App, record: &SqsMessage) -> bool {
    let body = record.body.as_deref().unwrap_or_default();
    let (object, result, at) = match parse(body, app.attachments.bucket()) {
        Parsed::Result { object, result, at } => (object, result, at),
        Parsed::Ignore(reason) => {
            tracing::info!(reason, "scan event ignored");
            return true;
        }
        Parsed::Malformed(reason) => {
            tracing::error!(%reason, "malformed scan event dropped");
            return true;
        }
    };
    let (thread, attachment) = (&object.thread, &object.id);
    match app.store.record_scan(&object, result).await {
        Ok(ScanRecorded::Recorded { state, message }) => {
            tracing::info!(%thread, attachment_id = %attachment, result = result.as_str(), state = state.as_str(), bound = message.is_some(), "scan recorded");
            if message.is_none() {
                return true;
            }
            // A bound file's S3 tag must say what the record says (the
            // bucket policy reads it): put it back if a retag dropped it.
            let value = if state == ScanState::Infected {
                THREATS_FOUND
            } else {
                NO_THREATS_FOUND
            };
            // The record's file is stored under this key (the store checked).
            match app
                .attachments
                .ensure_scan_tag(&object.to_string(), SCAN_TAG_KEY, value)
                .await
            {
                Ok(restored) => {
                    if restored {
                        tracing::warn!(%thread, attachment_id = %attachment, "scan tag was missing on a bound file: restored");
                    }
                    true
                }
                Err(e) => {
                    tracing::error!(%thread, attachment_id = %attachment, error = %e, "checking the scan tag failed; SQS retries");
                    false
                }
            }
        }
        Ok(ScanRecorded::NoRecord) => {
            let now = liaison::domain::Timestamp::now().unix_seconds();
            let young = at.is_some_and(|at| now - at < MISSING_RECORD_RETRY.as_secs() as i64);
            tracing::warn!(%thread, attachment_id = %attachment, retry = young, "scan result for an attachment with no record");
            !young
        }
        Err(e) => {
            tracing::error!(%thread, attachment_id = %attachment, error = %e, "recording the scan failed; SQS retries");
            false
        }
    }
}
