//! The DynamoDB stream → function event source mapping, as Lambda runs it:
//! per shard, GetRecords in order, each batch handed to the function as the
//! `aws_lambda_events` DynamoDB event, the next batch only after this one
//! succeeded. A failed batch is retried (from the first reported
//! `batchItemFailures` entry, if the function reports partial failures)
//! up to `max_retries` times, then skipped with an error in the log, as
//! `MaximumRetryAttempts` does on AWS. Where a shard is read from is a
//! checkpoint, not a held iterator: see `Poller` for why.

use std::collections::{HashMap, HashSet};
use std::fmt::Display;
use std::future::Future;
use std::time::Duration;

use aws_lambda_events::event::dynamodb::{Event, EventRecord, StreamViewType, UserIdentity};
use aws_sdk_dynamodbstreams::error::{DisplayErrorContext, ProvideErrorMetadata};
use aws_sdk_dynamodbstreams::types::{
    AttributeValue, Record, ShardIteratorType, StreamViewType as SdkViewType,
};
use serde::Serialize;
use serde_json::Value;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::Shutdown;

/// Where a mapping starts reading the shards that exist when it starts
/// (shards that appear later are read from their beginning).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StartingPosition {
    Latest,
    TrimHorizon,
}

#[derive(Debug, Clone)]
pub struct StreamOptions {
    pub starting_position: StartingPosition,
    /// Records per batch (Lambda's `BatchSize`, 1–10000; GetRecords takes ≤ 1000).
    pub batch_size: i32,
    /// The pause between polls of a shard that had nothing new.
    pub poll_interval: Duration,
    /// Retries of a failing batch before it is skipped (Lambda's
    /// `MaximumRetryAttempts`; the default is the template's).
    pub max_retries: u32,
    pub region: String,
}

impl Default for StreamOptions {
    fn default() -> Self {
        Self {
            starting_position: StartingPosition::Latest,
            batch_size: 100,
            poll_interval: Duration::from_millis(500),
            // With the backoff below (0.4 s doubling to 6.4 s), a batch
            // survives about 45 s of failures, e.g. a queue refusing sends.
            max_retries: 10,
            region: "us-east-1".into(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
#[error("reading the stream {stream_arn} failed: {message}")]
pub struct StreamError {
    stream_arn: String,
    message: String,
}

/// A stream record as Lambda delivers it (images as `serde_dynamo` items,
/// which serialize as DynamoDB JSON).
pub fn record(record: &Record, stream_arn: &str, region: &str) -> EventRecord {
    let mut out = EventRecord::default();
    out.event_id = record.event_id.clone().unwrap_or_default();
    out.event_name = record
        .event_name
        .as_ref()
        .map(|n| n.as_str().to_owned())
        .unwrap_or_default();
    out.event_version = Some(record.event_version.clone().unwrap_or_else(|| "1.1".into()));
    out.event_source = Some(
        record
            .event_source
            .clone()
            .unwrap_or_else(|| "aws:dynamodb".into()),
    );
    out.aws_region = record
        .aws_region
        .clone()
        .unwrap_or_else(|| region.to_owned());
    out.event_source_arn = Some(stream_arn.to_owned());
    if let Some(id) = &record.user_identity {
        let mut identity = UserIdentity::default();
        identity.type_ = id.r#type.clone().unwrap_or_default();
        identity.principal_id = id.principal_id.clone().unwrap_or_default();
        out.user_identity = Some(identity);
    }
    if let Some(s) = &record.dynamodb {
        let change = &mut out.change;
        if let Some(t) = s.approximate_creation_date_time {
            change.approximate_creation_date_time =
                chrono::DateTime::from_timestamp(t.secs(), t.subsec_nanos()).unwrap_or_default();
        }
        let item = |i: &Option<HashMap<String, AttributeValue>>| {
            i.clone().map(serde_dynamo::Item::from).unwrap_or_default()
        };
        change.keys = item(&s.keys);
        change.new_image = item(&s.new_image);
        change.old_image = item(&s.old_image);
        change.sequence_number = s.sequence_number.clone();
        change.size_bytes = s.size_bytes.unwrap_or(0);
        change.stream_view_type = s.stream_view_type.as_ref().and_then(|v| match v {
            SdkViewType::NewImage => Some(StreamViewType::NewImage),
            SdkViewType::OldImage => Some(StreamViewType::OldImage),
            SdkViewType::NewAndOldImages => Some(StreamViewType::NewAndOldImages),
            SdkViewType::KeysOnly => Some(StreamViewType::KeysOnly),
            _ => None,
        });
    }
    out
}

/// The event for a batch of records.
pub fn event(records: &[EventRecord]) -> Event {
    let mut event = Event::default();
    event.records = records.to_vec();
    event
}

/// The sequence numbers a function reported in `batchItemFailures`:
/// `Ok(None)` for full success, `Err(())` when the answer is unusable
/// (the whole batch counts as failed).
pub(crate) fn reported_failures(answer: &Value) -> Result<Option<Vec<String>>, ()> {
    let failures = match answer.get("batchItemFailures") {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Array(a)) if a.is_empty() => return Ok(None),
        Some(Value::Array(a)) => a,
        Some(_) => return Err(()),
    };
    failures
        .iter()
        .map(|f| match f.get("itemIdentifier").and_then(Value::as_str) {
            Some(id) if !id.is_empty() => Ok(id.to_owned()),
            _ => Err(()),
        })
        .collect::<Result<Vec<_>, ()>>()
        .map(Some)
}

/// A shard and how far its records are done (delivered, or skipped after
/// their retries): the checkpoint is the last such record's sequence number.
struct Shard {
    id: String,
    checkpoint: Option<String>,
    /// DynamoDB closed the shard and every record of it is done.
    closed: bool,
}

/// What one read of a shard found.
struct Read {
    records: Vec<Record>,
    /// No more records will ever come (a closed shard, read to its end).
    closed: bool,
}

/// Runs one invocation as Lambda would: in its own task, so a panic in
/// the handler fails that batch (it is retried) instead of ending the
/// mapping's poller, and with the error as text.
pub(crate) async fn invoke<Fut, R, E>(fut: Fut) -> Result<R, String>
where
    Fut: Future<Output = Result<R, E>> + Send + 'static,
    R: Send + 'static,
    E: Display + Send + 'static,
{
    match tokio::spawn(fut).await {
        Ok(Ok(answer)) => Ok(answer),
        Ok(Err(e)) => Err(e.to_string()),
        Err(join) if join.is_panic() => Err("the function panicked".into()),
        Err(_) => Err("the invocation was cancelled".into()),
    }
}

/// Starts the mapping: describes the stream and finds where to start on
/// every shard before returning (so with `Latest`, whatever is written after
/// this returns is delivered), then polls until `shutdown`.
pub async fn start<H, Fut, R, E>(
    client: aws_sdk_dynamodbstreams::Client,
    stream_arn: String,
    options: StreamOptions,
    handler: H,
    shutdown: Shutdown,
) -> Result<JoinHandle<()>, StreamError>
where
    H: Fn(Event) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<R, E>> + Send + 'static,
    R: Serialize + Send + 'static,
    E: Display + Send + 'static,
{
    let mut poller = Poller {
        client,
        stream_arn,
        options,
        shards: Vec::new(),
        known: HashSet::new(),
    };
    poller
        .discover(poller.options.starting_position)
        .await
        .map_err(|message| StreamError {
            stream_arn: poller.stream_arn.clone(),
            message,
        })?;
    Ok(tokio::spawn(poller.run(handler, shutdown.0)))
}

/// Reads the stream by checkpoint, never by a held iterator.
///
/// moto rolls a failed transaction back by putting a copy of the table
/// taken before it in the table's place. The copy's stream has the same
/// shard id and sequence numbering, without the rolled-back writes; an
/// iterator taken before the rollback keeps reading the old object, which
/// holds the rolled-back writes (*phantom* records: an INSERT of a message
/// that was never stored, MODIFYs of items the transaction never changed)
/// and never grows again. The copy then hands out the phantoms' sequence
/// numbers again to new, real records. So:
///
/// - every poll takes a fresh `AFTER_SEQUENCE_NUMBER` iterator from the
///   shard's checkpoint (`TRIM_HORIZON` before the first record), so an
///   iterator cannot go stale and no quiet iterator can hide records;
/// - records a read returns are delivered only if a second read, through
///   an iterator taken after the first read answered, returns the same
///   records, event ids included: a rollback between taking the first
///   iterator and reading it shows phantoms to the first read alone (and a
///   phantom differs in event id from the real record that later takes its
///   sequence number). A checkpoint is thus always a record that was
///   really stored, and a rollback cannot remove it: the copy a rollback
///   restores was taken after the record was read, since moto (as
///   `scripts/moto_server.py` runs it) serves one request at a time.
///
/// Without that serialization a read could also see a transaction half
/// done; this is the same limit as moto's missing isolation.
///
/// Against DynamoDB itself, where records never change, both reads agree.
/// The cost: a GetShardIterator per GetRecords (one more call per idle
/// poll), and a second read when a poll finds records.
struct Poller {
    client: aws_sdk_dynamodbstreams::Client,
    stream_arn: String,
    options: StreamOptions,
    shards: Vec<Shard>,
    known: HashSet<String>,
}

impl Poller {
    /// Finds shards not seen before and where to start reading each.
    async fn discover(&mut self, position: StartingPosition) -> Result<(), String> {
        let mut start: Option<String> = None;
        loop {
            let out = self
                .client
                .describe_stream()
                .stream_arn(&self.stream_arn)
                .set_exclusive_start_shard_id(start.clone())
                .send()
                .await
                .map_err(|e| format!("DescribeStream: {}", DisplayErrorContext(&e)))?;
            let Some(desc) = out.stream_description else {
                return Ok(());
            };
            for shard in desc.shards.unwrap_or_default() {
                let Some(id) = shard.shard_id else { continue };
                if self.known.contains(&id) {
                    continue;
                }
                let mut shard = Shard {
                    id: id.clone(),
                    checkpoint: None,
                    closed: false,
                };
                if position == StartingPosition::Latest {
                    shard.checkpoint = self.end_of(&shard).await?;
                }
                self.known.insert(id);
                self.shards.push(shard);
            }
            match desc.last_evaluated_shard_id {
                Some(next) => start = Some(next),
                None => return Ok(()),
            }
        }
    }

    /// The sequence number of a shard's last record (`LATEST` as a
    /// checkpoint: a `LATEST` iterator would be a held iterator).
    async fn end_of(&self, shard: &Shard) -> Result<Option<String>, String> {
        let mut at = Shard {
            id: shard.id.clone(),
            checkpoint: None,
            closed: false,
        };
        loop {
            let read = self.read(&at, 1000).await.map_err(|(_, e)| e)?;
            match read.records.last().and_then(sequence_of) {
                Some(last) => at.checkpoint = Some(last),
                None => return Ok(at.checkpoint),
            }
        }
    }

    /// One GetRecords from a fresh iterator at the shard's checkpoint.
    /// Errors carry the service's error code.
    async fn read_once(&self, shard: &Shard, limit: i32) -> Result<Read, (String, String)> {
        let req = self
            .client
            .get_shard_iterator()
            .stream_arn(&self.stream_arn)
            .shard_id(&shard.id);
        let req = match &shard.checkpoint {
            Some(seq) => req
                .shard_iterator_type(ShardIteratorType::AfterSequenceNumber)
                .sequence_number(seq),
            None => req.shard_iterator_type(ShardIteratorType::TrimHorizon),
        };
        let iterator = req
            .send()
            .await
            .map_err(|e| {
                (
                    e.code().unwrap_or_default().to_owned(),
                    format!("GetShardIterator: {}", DisplayErrorContext(&e)),
                )
            })?
            .shard_iterator;
        let Some(iterator) = iterator else {
            // No iterator: the shard is closed and read to its end.
            return Ok(Read {
                records: Vec::new(),
                closed: true,
            });
        };
        let out = self
            .client
            .get_records()
            .shard_iterator(iterator)
            .limit(limit)
            .send()
            .await
            .map_err(|e| {
                (
                    e.code().unwrap_or_default().to_owned(),
                    format!("GetRecords: {}", DisplayErrorContext(&e)),
                )
            })?;
        let records = out.records.unwrap_or_default();
        Ok(Read {
            closed: records.is_empty() && out.next_shard_iterator.is_none(),
            records,
        })
    }

    /// The records after the shard's checkpoint that two reads agree on
    /// (see `Poller`).
    async fn read(&self, shard: &Shard, limit: i32) -> Result<Read, (String, String)> {
        let first = self.read_once(shard, limit).await?;
        if first.records.is_empty() {
            return Ok(first);
        }
        let second = self.read_once(shard, limit).await?;
        let agreed = first
            .records
            .iter()
            .zip(second.records.iter())
            // The whole record: a rolled-back write and the real record
            // that later takes its sequence number differ in event id.
            .take_while(|(a, b)| a == b && sequence_of(a).is_some())
            .count();
        if agreed < first.records.len() {
            tracing::warn!(
                shard = %shard.id,
                read = first.records.len(),
                kept = agreed,
                "stream records gone on a second read (a rolled-back transaction); not delivered"
            );
        }
        let mut records = first.records;
        records.truncate(agreed);
        Ok(Read {
            records,
            closed: false,
        })
    }

    async fn run<H, Fut, R, E>(mut self, handler: H, mut shutdown: watch::Receiver<bool>)
    where
        H: Fn(Event) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<R, E>> + Send + 'static,
        R: Serialize + Send + 'static,
        E: Display + Send + 'static,
    {
        let mut polls: u64 = 0;
        loop {
            if crate::is_stopped(&shutdown) {
                return;
            }
            let mut delivered = false;
            for i in 0..self.shards.len() {
                if crate::is_stopped(&shutdown) {
                    return;
                }
                delivered |= self.poll_shard(i, &handler, &shutdown).await;
            }
            self.shards.retain(|s| !s.closed);
            polls += 1;
            // New shards appear when DynamoDB splits or rolls them over.
            if polls.is_multiple_of(20) || self.shards.is_empty() {
                if let Err(e) = self.discover(StartingPosition::TrimHorizon).await {
                    tracing::warn!(error = %e, stream = %self.stream_arn, "stream discovery failed");
                }
            }
            if !delivered {
                tokio::select! {
                    _ = shutdown.changed() => {}
                    _ = tokio::time::sleep(self.options.poll_interval) => {}
                }
            }
        }
    }

    /// One read of one shard, and the delivery of what it returned.
    /// True when records were delivered (poll again at once).
    async fn poll_shard<H, Fut, R, E>(
        &mut self,
        i: usize,
        handler: &H,
        shutdown: &watch::Receiver<bool>,
    ) -> bool
    where
        H: Fn(Event) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<R, E>> + Send + 'static,
        R: Serialize + Send + 'static,
        E: Display + Send + 'static,
    {
        let read = match self
            .read(&self.shards[i], self.options.batch_size.clamp(1, 1000))
            .await
        {
            Ok(read) => read,
            Err((code, e)) => {
                tracing::warn!(error = %e, shard = %self.shards[i].id, "reading the stream failed");
                match code.as_str() {
                    // Past the 24 h retention: read on from the oldest record, as Lambda does.
                    "TrimmedDataAccessException" => self.shards[i].checkpoint = None,
                    "ResourceNotFoundException" => self.shards[i].closed = true,
                    _ => {}
                }
                return false;
            }
        };
        if read.closed {
            self.shards[i].closed = true;
            return false;
        }
        if read.records.is_empty() {
            return false;
        }
        let region = self.options.region.clone();
        let mut batch: Vec<EventRecord> = read
            .records
            .iter()
            .map(|r| record(r, &self.stream_arn, &region))
            .collect();
        let last = read.records.last().and_then(sequence_of);
        let mut attempt = 0;
        while !batch.is_empty() {
            if crate::is_stopped(shutdown) {
                return true;
            }
            let failed_from = match invoke(handler(event(&batch))).await {
                Ok(answer) => {
                    let answer = serde_json::to_value(answer).unwrap_or(Value::Null);
                    match reported_failures(&answer) {
                        Ok(None) => None,
                        Ok(Some(ids)) => batch
                            .iter()
                            .position(|r| {
                                r.change
                                    .sequence_number
                                    .as_ref()
                                    .is_some_and(|s| ids.contains(s))
                            })
                            .or(Some(0)),
                        Err(()) => {
                            tracing::warn!(
                                "the function's batchItemFailures are unusable: whole batch failed"
                            );
                            Some(0)
                        }
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, records = batch.len(), "stream batch failed");
                    Some(0)
                }
            };
            match failed_from {
                None => {
                    self.shards[i].checkpoint = last;
                    return true;
                }
                Some(_) if attempt >= self.options.max_retries => {
                    tracing::error!(
                        records = batch.len(),
                        retries = attempt,
                        "stream batch still failing after its retries; skipped"
                    );
                    self.shards[i].checkpoint = last;
                    return true;
                }
                Some(from) => {
                    // What precedes the failed record is done.
                    if let Some(done) = from
                        .checked_sub(1)
                        .and_then(|d| batch.get(d))
                        .and_then(|r| r.change.sequence_number.clone())
                    {
                        self.shards[i].checkpoint = Some(done);
                    }
                    batch.drain(..from);
                    attempt += 1;
                    let backoff = Duration::from_millis(200 * 2u64.pow(attempt.min(5)));
                    tokio::time::sleep(backoff).await;
                }
            }
        }
        true
    }
}

fn sequence_of(record: &Record) -> Option<String> {
    record
        .dynamodb
        .as_ref()
        .and_then(|d| d.sequence_number.clone())
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_dynamodbstreams::types::{OperationType, StreamRecord};
    use serde_json::json;

    #[test]
    fn records_become_lambdas_dynamodb_event() {
        let mut image = std::collections::HashMap::new();
        image.insert("pk".to_owned(), AttributeValue::S("THREAD#thr_1".into()));
        image.insert("n".to_owned(), AttributeValue::N("3".into()));
        image.insert("urgent".to_owned(), AttributeValue::Bool(false));
        image.insert(
            "tags".to_owned(),
            AttributeValue::L(vec![AttributeValue::S("a".into())]),
        );
        let blob = aws_sdk_dynamodbstreams::primitives::Blob::new(b"hi".to_vec());
        image.insert("b".to_owned(), AttributeValue::B(blob.clone()));
        image.insert("bs".to_owned(), AttributeValue::Bs(vec![blob]));
        image.insert("none".to_owned(), AttributeValue::Null(true));
        image.insert("ss".to_owned(), AttributeValue::Ss(vec!["x".into()]));
        image.insert(
            "m".to_owned(),
            AttributeValue::M([("k".to_owned(), AttributeValue::N("1".into()))].into()),
        );
        let mut keys = std::collections::HashMap::new();
        keys.insert("pk".to_owned(), AttributeValue::S("THREAD#thr_1".into()));
        let record = Record::builder()
            .event_id("e1")
            .event_name(OperationType::Insert)
            .dynamodb(
                StreamRecord::builder()
                    .set_keys(Some(keys))
                    .set_new_image(Some(image))
                    .sequence_number("100")
                    .size_bytes(10)
                    .stream_view_type(SdkViewType::NewImage)
                    .build(),
            )
            .build();
        let ev = event(&[super::record(&record, "arn:stream", "us-east-1")]);
        // What the function gets is what serde makes of Lambda's JSON.
        let lambda_json = serde_json::to_value(&ev).expect("JSON");
        let json = &lambda_json["Records"][0];
        assert_eq!(json["eventName"], "INSERT");
        assert_eq!(json["eventSourceARN"], "arn:stream");
        assert_eq!(
            json["dynamodb"]["NewImage"]["pk"],
            json!({"S": "THREAD#thr_1"})
        );
        assert_eq!(
            json["dynamodb"]["NewImage"]["tags"],
            json!({"L": [{"S": "a"}]})
        );
        // Lambda's DynamoDB JSON: binary as base64, NULL as true.
        let image = &json["dynamodb"]["NewImage"];
        assert_eq!(image["b"], json!({"B": "aGk="}));
        assert_eq!(image["bs"], json!({"BS": ["aGk="]}));
        assert_eq!(image["none"], json!({"NULL": true}));
        assert_eq!(image["n"], json!({"N": "3"}));
        assert_eq!(image["urgent"], json!({"BOOL": false}));
        assert_eq!(image["ss"], json!({"SS": ["x"]}));
        assert_eq!(image["m"], json!({"M": {"k": {"N": "1"}}}));
        let ev: Event = serde_json::from_value(lambda_json.clone()).expect("an event");
        assert_eq!(ev.records.len(), 1);
        assert_eq!(ev.records[0].event_name, "INSERT");
        assert_eq!(ev.records[0].change.sequence_number.as_deref(), Some("100"));
        assert!(ev.records[0].change.new_image.contains_key("urgent"));
    }

    #[test]
    fn batch_item_failures_are_read_like_lambda() {
        assert_eq!(reported_failures(&Value::Null), Ok(None));
        assert_eq!(
            reported_failures(&json!({"batchItemFailures": []})),
            Ok(None)
        );
        assert_eq!(
            reported_failures(&json!({"batchItemFailures": [{"itemIdentifier": "7"}]})),
            Ok(Some(vec!["7".to_owned()]))
        );
        assert_eq!(
            reported_failures(&json!({"batchItemFailures": [{"itemIdentifier": ""}]})),
            Err(())
        );
    }
}
