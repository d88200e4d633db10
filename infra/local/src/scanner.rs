//! The stand-in for GuardDuty Malware Protection for S3: about every
//! [`POLL_INTERVAL`] it lists the attachments bucket's attachment objects
//! (in either key layout, `t/{thread}/{attachment}` or the older
//! `{account}/{thread}/{attachment}`; not the raw e-mails under
//! `inbound/`), and each one not scanned yet,
//! once it is [`Config::scan_delay`](crate::Config) old, is read and
//! judged: containing the [`EICAR`] test string → `THREATS_FOUND`, else
//! `NO_THREATS_FOUND`. As GuardDuty does, it tags the object
//! `GuardDutyMalwareScanStatus` (keeping its other tags) and sends the
//! result event, the EventBridge event inside an SQS record, to
//! `record-scan`; an event the function reports failed is delivered again
//! on the next pass (as SQS would redeliver it).
//!
//! Tests run one pass on their own world with [`StandIn::pass`].

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use aws_lambda_events::event::sqs::{SqsEvent, SqsMessage};
use aws_sdk_s3::types::{Tag, Tagging};
use serde_json::{json, Value};
use tokio::task::JoinHandle;

use crate::functions::Functions;
use crate::Shutdown;

/// The EICAR anti-virus test file's signature: any file containing it is
/// "infected".
pub const EICAR: &[u8] = br"X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*";
/// How long after its upload an object is scanned (`make dev`'s default).
pub const DEFAULT_SCAN_DELAY: Duration = Duration::from_secs(1);
/// How often the bucket is listed.
pub const POLL_INTERVAL: Duration = Duration::from_millis(500);

/// What one object's scan found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scanned {
    pub key: String,
    /// `NO_THREATS_FOUND` or `THREATS_FOUND`.
    pub status: &'static str,
    /// Whether record-scan took the event (otherwise it comes again).
    pub delivered: bool,
}

/// The scanner's memory: objects done, and events to deliver again.
pub struct StandIn {
    s3: aws_sdk_s3::Client,
    bucket: String,
    region: String,
    delay: Duration,
    done: HashSet<String>,
    redeliver: HashMap<String, (&'static str, Value)>,
}

/// The EventBridge event GuardDuty publishes for one scanned object.
pub fn scan_event(
    bucket: &str,
    key: &str,
    etag: &str,
    status: &str,
    region: &str,
    at: &str,
) -> Value {
    json!({
        "version": "0",
        "id": ulid::Ulid::new().to_string(),
        "detail-type": record_scan::DETAIL_TYPE,
        "source": record_scan::SOURCE,
        "account": "123456789012",
        "time": at,
        "region": region,
        "resources": [format!("arn:aws:guardduty:{region}:123456789012:malware-protection-plan/liaison-local")],
        "detail": {
            "schemaVersion": "1.0",
            "scanStatus": "COMPLETED",
            "resourceType": "S3_OBJECT",
            "s3ObjectDetails": {
                "bucketName": bucket,
                "objectKey": key,
                "eTag": etag,
                "versionId": null,
                "s3Throttled": false
            },
            "scanResultDetails": {
                "scanResultStatus": status,
                "threats": if status == record_scan::THREATS_FOUND {
                    json!([{"name": "EICAR-Test-File (not a virus)"}])
                } else {
                    Value::Null
                }
            }
        }
    })
}

/// `events` as the SQS records of one batch, as Lambda delivers them.
pub fn sqs_event(events: &[Value], region: &str) -> SqsEvent {
    let mut out = SqsEvent::default();
    out.records = events
        .iter()
        .map(|e| {
            let mut m = SqsMessage::default();
            m.message_id = Some(ulid::Ulid::new().to_string());
            m.receipt_handle = Some(ulid::Ulid::new().to_string());
            m.body = Some(e.to_string());
            m.event_source = Some("aws:sqs".into());
            m.event_source_arn = Some(format!("arn:aws:sqs:{region}:123456789012:scan-results"));
            m.aws_region = Some(region.to_owned());
            m
        })
        .collect();
    out
}

fn s3_error<E>(op: &str, e: aws_sdk_s3::error::SdkError<E>) -> String
where
    E: std::error::Error + Send + Sync + 'static,
{
    format!("{op}: {}", aws_sdk_s3::error::DisplayErrorContext(&e))
}

impl StandIn {
    pub fn new(
        s3: aws_sdk_s3::Client,
        bucket: impl Into<String>,
        region: impl Into<String>,
        delay: Duration,
    ) -> Self {
        Self {
            s3,
            bucket: bucket.into(),
            region: region.into(),
            delay,
            done: HashSet::new(),
            redeliver: HashMap::new(),
        }
    }

    /// One pass over the bucket: scans what is due, delivers the results
    /// to `functions`' record-scan. What it scanned (or delivered again).
    pub async fn pass(&mut self, functions: &Functions) -> Result<Vec<Scanned>, String> {
        let mut out = Vec::new();
        let mut pages = self
            .s3
            .list_objects_v2()
            .bucket(&self.bucket)
            .into_paginator()
            .send();
        let now = std::time::SystemTime::now();
        let mut due = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| s3_error("ListObjectsV2", e))?;
            for o in page.contents() {
                let Some(key) = o.key() else { continue };
                if self.done.contains(key) || record_scan::attachment_of(key).is_none() {
                    continue;
                }
                let modified = o
                    .last_modified()
                    .and_then(|t| std::time::SystemTime::try_from(*t).ok())
                    .unwrap_or(now);
                let age = now.duration_since(modified).unwrap_or_default();
                if age >= self.delay || self.redeliver.contains_key(key) {
                    due.push((key.to_owned(), o.e_tag().unwrap_or_default().to_owned()));
                }
            }
        }
        for (key, etag) in due {
            let (status, event) = match self.redeliver.remove(&key) {
                Some(again) => again,
                None => match self.scan(&key, &etag).await? {
                    Some(found) => found,
                    None => {
                        // Scanned before (by an earlier run), or gone.
                        self.done.insert(key);
                        continue;
                    }
                },
            };
            let answer = functions
                .record_scan(sqs_event(std::slice::from_ref(&event), &self.region))
                .await
                .map_err(|d| format!("record-scan: {}: {}", d.error_type, d.error_message))?;
            let failed = answer["batchItemFailures"]
                .as_array()
                .is_some_and(|f| !f.is_empty());
            if failed {
                self.redeliver.insert(key.clone(), (status, event));
            } else {
                self.done.insert(key.clone());
            }
            out.push(Scanned {
                key,
                status,
                delivered: !failed,
            });
        }
        Ok(out)
    }

    /// Reads and tags one object; its status and event, or `None` if it
    /// carries a scan tag already or is gone.
    async fn scan(&self, key: &str, etag: &str) -> Result<Option<(&'static str, Value)>, String> {
        let tags = match self
            .s3
            .get_object_tagging()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
        {
            Ok(t) => t.tag_set,
            Err(e) if e.raw_response().map(|r| r.status().as_u16()) == Some(404) => {
                return Ok(None)
            }
            Err(e) => return Err(s3_error("GetObjectTagging", e)),
        };
        if tags.iter().any(|t| t.key == record_scan::SCAN_TAG_KEY) {
            return Ok(None);
        }
        let infected = match self.contains_eicar(key).await? {
            Some(found) => found,
            None => return Ok(None),
        };
        let status = if infected {
            record_scan::THREATS_FOUND
        } else {
            record_scan::NO_THREATS_FOUND
        };
        let mut set: Vec<Tag> = tags
            .into_iter()
            .filter(|t| t.key != record_scan::SCAN_TAG_KEY)
            .collect();
        set.push(
            Tag::builder()
                .key(record_scan::SCAN_TAG_KEY)
                .value(status)
                .build()
                .map_err(|e| e.to_string())?,
        );
        let tagging = Tagging::builder()
            .set_tag_set(Some(set))
            .build()
            .map_err(|e| e.to_string())?;
        match self
            .s3
            .put_object_tagging()
            .bucket(&self.bucket)
            .key(key)
            .tagging(tagging)
            .send()
            .await
        {
            Ok(_) => {}
            Err(e) if e.raw_response().map(|r| r.status().as_u16()) == Some(404) => {
                return Ok(None)
            }
            Err(e) => return Err(s3_error("PutObjectTagging", e)),
        }
        let at = time::OffsetDateTime::now_utc()
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default();
        let event = scan_event(
            &self.bucket,
            key,
            etag.trim_matches('"'),
            status,
            &self.region,
            &at,
        );
        Ok(Some((status, event)))
    }

    /// Whether the object contains the EICAR string (read as a stream, so
    /// a large video is never held whole); `None` if it is gone.
    async fn contains_eicar(&self, key: &str) -> Result<Option<bool>, String> {
        let out = match self
            .s3
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
        {
            Ok(o) => o,
            Err(e) if e.raw_response().map(|r| r.status().as_u16()) == Some(404) => {
                return Ok(None)
            }
            Err(e) => return Err(s3_error("GetObject", e)),
        };
        let mut body = out.body;
        let mut window: Vec<u8> = Vec::new();
        while let Some(chunk) = body
            .try_next()
            .await
            .map_err(|e| format!("GetObject body: {e}"))?
        {
            window.extend_from_slice(&chunk);
            if window.windows(EICAR.len()).any(|w| w == EICAR) {
                return Ok(Some(true));
            }
            // Keep only what could start a match across chunks.
            let keep = EICAR.len().saturating_sub(1).min(window.len());
            window.drain(..window.len() - keep);
        }
        Ok(Some(false))
    }
}

/// Starts the stand-in scanner; it runs until `shutdown`.
pub fn start(
    mut scanner: StandIn,
    functions: std::sync::Arc<Functions>,
    shutdown: Shutdown,
) -> JoinHandle<()> {
    let mut stop = shutdown.0;
    tokio::spawn(async move {
        loop {
            if crate::is_stopped(&stop) {
                return;
            }
            match scanner.pass(&functions).await {
                Ok(scanned) => {
                    for s in scanned {
                        tracing::info!(key = %s.key, status = s.status, delivered = s.delivered, "stand-in scanner: object scanned");
                    }
                }
                Err(e) => tracing::warn!(error = %e, "stand-in scanner pass failed"),
            }
            tokio::select! {
                _ = stop.changed() => return,
                _ = tokio::time::sleep(POLL_INTERVAL) => {}
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_event_is_what_record_scan_reads() {
        use liaison::domain::{AccountId, AttachmentRef, KeyLayout, ScanState, ThreadId};
        let account = AccountId::parse("acc_acme").unwrap();
        let thread = ThreadId::for_scope(&account, "general");
        // Both key layouts: new files, and files stored before.
        for layout in [KeyLayout::Thread, KeyLayout::Account(account.clone())] {
            let file = AttachmentRef {
                id: liaison::domain::AttachmentId::new(),
                filename: "a.png".into(),
                content_type: "image/png".into(),
                size: 1,
                scan: ScanState::Pending,
                key: layout,
            };
            let key = liaison::attachments::object_key(&thread, &file);
            let e = scan_event(
                "b",
                &key,
                "etag",
                record_scan::THREATS_FOUND,
                "us-east-1",
                "2026-01-01T00:00:00Z",
            );
            let record_scan::Parsed::Result { object, result, at } =
                record_scan::parse(&e.to_string(), "b")
            else {
                panic!("not a result: {key}");
            };
            assert!(object.names(&file), "{key}");
            assert_eq!(object.to_string(), key);
            assert_eq!((result, at), (ScanState::Infected, Some(1_767_225_600)));
        }
        assert_eq!(EICAR.len(), 68);
    }
}
