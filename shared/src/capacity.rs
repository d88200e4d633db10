//! DynamoDB capacity, computed by DynamoDB's published rules from what each
//! call really reads and writes (the local AWS answers
//! `ReturnConsumedCapacity` with constants). Two parts:
//!
//! - pure functions: an item's size, the read and write units of an item
//!   or a page, the index writes of a change ([`item_size`],
//!   [`read_units`], [`write_units`], [`index_writes`]);
//! - [`Meter`], an SDK interceptor for the DynamoDB client that applies
//!   them to every call and keeps per-operation totals. What a response
//!   does not show (the whole item behind a projection, the items a filter
//!   dropped, a write's before- and after-image) it reads itself, with its
//!   own un-metered client on a thread of its own.
//!
//! Units computed this way do not depend on the machine or on the local
//! AWS, so they carry over to AWS. Behind the `metering` feature: for the
//! bench and the tests; no function links it.

use std::collections::HashMap;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};

use aws_sdk_dynamodb::types::{AttributeValue, KeysAndAttributes};
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::context::{
    BeforeSerializationInterceptorContextRef, BeforeTransmitInterceptorContextRef,
    FinalizerInterceptorContextRef,
};
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::{ConfigBag, Storable, StoreReplace};

use crate::store::schema::{Index, INDEXES};

pub type Item = HashMap<String, AttributeValue>;

// ---------------------------------------------------------------------------
// Item sizes.
// Source: "DynamoDB item sizes and formats", Amazon DynamoDB Developer Guide,
// https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/CapacityUnitCalculations.html

/// An item's size in bytes: the sum of its attributes' names and values.
pub fn item_size(item: &Item) -> usize {
    item.iter().map(|(k, v)| k.len() + value_size(v)).sum()
}

/// A value's size without its name (CapacityUnitCalculations.html):
/// strings and binaries their (UTF-8 / raw) length; numbers ≈ 1 byte per
/// two significant digits + 1; null and Boolean 1; a list or map 3 bytes
/// of overhead + its elements + 1 byte per element; a set the sum of its
/// elements.
pub fn value_size(v: &AttributeValue) -> usize {
    match v {
        AttributeValue::S(s) => s.len(),
        AttributeValue::N(n) => number_size(n),
        AttributeValue::B(b) => b.as_ref().len(),
        AttributeValue::Bool(_) | AttributeValue::Null(_) => 1,
        AttributeValue::L(l) => 3 + l.iter().map(|e| value_size(e) + 1).sum::<usize>(),
        AttributeValue::M(m) => {
            3 + m
                .iter()
                .map(|(k, e)| k.len() + value_size(e) + 1)
                .sum::<usize>()
        }
        AttributeValue::Ss(s) => s.iter().map(String::len).sum(),
        AttributeValue::Ns(s) => s.iter().map(|n| number_size(n)).sum(),
        AttributeValue::Bs(s) => s.iter().map(|b| b.as_ref().len()).sum(),
        _ => 0,
    }
}

/// A number's size (CapacityUnitCalculations.html): leading and trailing
/// zeroes trimmed, 1 byte per two significant digits, + 1 byte.
pub fn number_size(n: &str) -> usize {
    let mantissa = n.split(['e', 'E']).next().unwrap_or_default();
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let significant = digits.trim_start_matches('0').trim_end_matches('0').len();
    significant.div_ceil(2) + 1
}

// ---------------------------------------------------------------------------
// Read and write units.
// Source: "DynamoDB read and write operations" (capacity unit consumption
// for reads and writes), Amazon DynamoDB Developer Guide,
// https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/read-write-operations.html

/// How a read is made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Consistency {
    /// Eventually consistent: half a unit per 4 KB.
    Eventual,
    /// Strongly consistent: one unit per 4 KB.
    Strong,
    /// Inside TransactGetItems: two units per 4 KB.
    Transactional,
}

impl Consistency {
    pub fn of(consistent_read: Option<bool>) -> Self {
        if consistent_read == Some(true) {
            Self::Strong
        } else {
            Self::Eventual
        }
    }
}

/// Read units for `bytes` read as one unit of rounding (read-write-operations.html):
/// sizes round up to the next 4 KB, and a read of nothing (a missing item,
/// an empty page) still costs the minimum of one 4 KB read. GetItem and
/// BatchGetItem round each item on its own; Query and Scan round the
/// page's total ("all items returned are treated as a single read").
pub fn read_units(bytes: usize, consistency: Consistency) -> f64 {
    let blocks = bytes.div_ceil(4096).max(1) as f64;
    match consistency {
        Consistency::Eventual => blocks / 2.0,
        Consistency::Strong => blocks,
        Consistency::Transactional => blocks * 2.0,
    }
}

/// Write units for an item of `bytes` (read-write-operations.html): sizes
/// round up to the next 1 KB, one unit per KB (minimum 1); a transactional
/// write costs two. For an update or a replacing put, `bytes` is the larger
/// of the before- and after-image; for a delete, the deleted item; for a
/// conditional write that fails, the existing item (minimum 1).
pub fn write_units(bytes: usize, transactional: bool) -> f64 {
    let blocks = bytes.div_ceil(1024).max(1) as f64;
    if transactional {
        blocks * 2.0
    } else {
        blocks
    }
}

// ---------------------------------------------------------------------------
// Index writes.
// Source: "Using Global Secondary Indexes in DynamoDB", section "Write
// capacity units consumption for global secondary indexes"
// (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/GSI.html#GSI.ThroughputConsiderations.Writes):
// - an item written to the table that defines an indexed attribute: one
//   write to put it in the index (its projected size);
// - an update that changes an index key attribute (A to B): two writes,
//   a delete of the old index entry and a put of the new;
// - an item in the index whose projected non-key attribute changes: one;
// - an index entry removed (item deleted, or index key removed): one.
// Our indexes project ALL (schema::INDEXES), so an entry's size is the
// item's, and any change to an indexed item changes the entry.

/// An item's entry in `index`, if it has one (both key attributes).
fn index_key<'a>(
    item: &'a Item,
    index: &Index,
) -> Option<(&'a AttributeValue, &'a AttributeValue)> {
    Some((item.get(index.pk)?, item.get(index.sk)?))
}

/// The index write units of one item going from `before` to `after`
/// (None: absent), over `indexes` (each projecting ALL).
pub fn index_writes(before: Option<&Item>, after: Option<&Item>, indexes: &[Index]) -> f64 {
    let mut units = 0.0;
    for index in indexes {
        let old = before.and_then(|b| index_key(b, index).map(|k| (k, b)));
        let new = after.and_then(|a| index_key(a, index).map(|k| (k, a)));
        units += match (old, new) {
            (None, None) => 0.0,
            (None, Some((_, a))) => write_units(item_size(a), false),
            (Some((_, b)), None) => write_units(item_size(b), false),
            (Some((kb, b)), Some((ka, a))) if kb != ka => {
                write_units(item_size(b), false) + write_units(item_size(a), false)
            }
            (Some((_, b)), Some((_, a))) if b != a => write_units(item_size(a), false),
            _ => 0.0,
        };
    }
    units
}

// ---------------------------------------------------------------------------
// The meter.

/// One DynamoDB call's cost.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct OpCost {
    /// The API operation (`GetItem`, `Query`, `TransactWriteItems`, …).
    pub operation: &'static str,
    pub rcu: f64,
    /// Write units on the table.
    pub wcu: f64,
    /// Write units on the indexes.
    pub gsi_wcu: f64,
    /// Items read (for a Query, evaluated before a filter).
    pub items_read: usize,
    /// Requests put on the wire (retries included).
    pub trips: usize,
}

/// The cost of everything metered since the last [`Meter::take`].
#[derive(Debug, Clone, Default)]
pub struct Cost {
    pub ops: Vec<OpCost>,
}

impl Cost {
    pub fn rcu(&self) -> f64 {
        self.ops.iter().map(|o| o.rcu).sum()
    }
    /// Table and index write units.
    pub fn wcu(&self) -> f64 {
        self.ops.iter().map(|o| o.wcu + o.gsi_wcu).sum()
    }
    pub fn gsi_wcu(&self) -> f64 {
        self.ops.iter().map(|o| o.gsi_wcu).sum()
    }
    pub fn items_read(&self) -> usize {
        self.ops.iter().map(|o| o.items_read).sum()
    }
    pub fn trips(&self) -> usize {
        self.ops.iter().map(|o| o.trips).sum()
    }
    /// `GetItem×2 Query` style summary of the calls made.
    pub fn breakdown(&self) -> String {
        let mut seen: Vec<(&str, usize)> = Vec::new();
        for o in &self.ops {
            match seen.iter_mut().find(|(n, _)| *n == o.operation) {
                Some((_, c)) => *c += 1,
                None => seen.push((o.operation, 1)),
            }
        }
        seen.iter()
            .map(|(n, c)| {
                if *c > 1 {
                    format!("{n}×{c}")
                } else {
                    (*n).to_owned()
                }
            })
            .collect::<Vec<_>>()
            .join(" ")
    }
}

type Job = Box<dyn FnOnce(&tokio::runtime::Runtime, &aws_sdk_dynamodb::Client) + Send>;

/// The meter's own client, on a thread with its own runtime: interceptors
/// are synchronous, and a call's handler may run on a current-thread
/// runtime that is blocked while the interceptor waits.
#[derive(Debug)]
struct Side {
    jobs: Mutex<mpsc::Sender<Job>>,
}

impl Side {
    fn new(aws: &aws_config::SdkConfig) -> Self {
        // Its own HTTP client: pooled connections of the caller's client
        // are driven by the caller's runtime, which waits on us.
        let conf = aws_sdk_dynamodb::config::Builder::from(aws)
            .http_client(crate::aws::http_client())
            .build();
        let (tx, rx) = mpsc::channel::<Job>();
        std::thread::Builder::new()
            .name("capacity-meter".into())
            .spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("the meter's runtime");
                let client = aws_sdk_dynamodb::Client::from_conf(conf);
                while let Ok(job) = rx.recv() {
                    job(&rt, &client);
                }
            })
            .expect("the meter's thread");
        Self {
            jobs: Mutex::new(tx),
        }
    }

    /// Runs `f` with the meter's client and waits for its answer.
    fn run<T, F, Fut>(&self, f: F) -> Result<T, BoxError>
    where
        T: Send + 'static,
        F: FnOnce(aws_sdk_dynamodb::Client) -> Fut + Send + 'static,
        Fut: std::future::Future<Output = Result<T, BoxError>>,
    {
        let (tx, rx) = mpsc::channel();
        let job: Job = Box::new(move |rt, client| {
            let _ = tx.send(rt.block_on(f(client.clone())));
        });
        self.jobs
            .lock()
            .map_err(|_| "meter poisoned")?
            .send(job)
            .map_err(|_| "the meter's thread is gone")?;
        rx.recv().map_err(|_| "the meter's thread is gone")?
    }

    /// The whole items at `keys` of `table` now (None: absent), strongly
    /// consistent, in the keys' order (BatchGetItem, 100 keys at a time).
    fn items(&self, table: &str, keys: Vec<Item>) -> Result<Vec<Option<Item>>, BoxError> {
        let table = table.to_owned();
        self.run(move |client| async move {
            use crate::store::schema::{PK, SK};
            let id = |i: &Item| format!("{:?}\u{0}{:?}", i.get(PK), i.get(SK));
            let mut found = HashMap::new();
            for chunk in keys.chunks(100) {
                let mut pending = chunk.to_vec();
                for _ in 0..20 {
                    if pending.is_empty() {
                        break;
                    }
                    let ka = KeysAndAttributes::builder()
                        .set_keys(Some(std::mem::take(&mut pending)))
                        .consistent_read(true)
                        .build()?;
                    let out = client
                        .batch_get_item()
                        .request_items(&table, ka)
                        .send()
                        .await?;
                    for item in out
                        .responses
                        .and_then(|mut r| r.remove(&table))
                        .unwrap_or_default()
                    {
                        found.insert(id(&item), item);
                    }
                    pending = out
                        .unprocessed_keys
                        .and_then(|mut u| u.remove(&table))
                        .map(|k| k.keys)
                        .unwrap_or_default();
                }
            }
            Ok(keys.iter().map(|k| found.get(&id(k)).cloned()).collect())
        })
    }

    /// The items a Query evaluates (before any filter, whole items).
    fn evaluated(
        &self,
        q: aws_sdk_dynamodb::operation::query::QueryInput,
    ) -> Result<Vec<Item>, BoxError> {
        self.run(move |client| async move {
            let kce = q.key_condition_expression.clone().unwrap_or_default();
            let names = q.expression_attribute_names.clone().map(|m| {
                m.into_iter()
                    .filter(|(k, _)| mentions(&kce, k))
                    .collect::<HashMap<_, _>>()
            });
            let values = q.expression_attribute_values.clone().map(|m| {
                m.into_iter()
                    .filter(|(k, _)| mentions(&kce, k))
                    .collect::<HashMap<_, _>>()
            });
            let out = client
                .query()
                .set_table_name(q.table_name)
                .set_index_name(q.index_name)
                .set_key_condition_expression(q.key_condition_expression)
                .set_expression_attribute_names(names.filter(|m| !m.is_empty()))
                .set_expression_attribute_values(values.filter(|m| !m.is_empty()))
                .set_exclusive_start_key(q.exclusive_start_key)
                .set_scan_index_forward(q.scan_index_forward)
                .set_limit(q.limit)
                .send()
                .await?;
            Ok(out.items.unwrap_or_default())
        })
    }
}

/// Whether expression `e` names placeholder `p` (`:v`, `#n`) as a token.
fn mentions(e: &str, p: &str) -> bool {
    e.match_indices(p).any(|(i, _)| {
        e[i + p.len()..]
            .chars()
            .next()
            .is_none_or(|c| !(c.is_alphanumeric() || c == '_'))
    })
}

/// What a call's start leaves for its end (in the call's config bag).
#[derive(Debug, Clone)]
enum Pending {
    Get(Box<aws_sdk_dynamodb::operation::get_item::GetItemInput>),
    BatchGet(HashMap<String, KeysAndAttributes>),
    TransactGet(Vec<(String, Item)>),
    Query(Box<aws_sdk_dynamodb::operation::query::QueryInput>),
    Scan,
    /// Writes: (table, key, before-image, after-image if known now
    /// (a Put's item; None for a delete or a not-yet-applied update),
    /// kind).
    Writes {
        operation: &'static str,
        transactional: bool,
        writes: Vec<Write>,
    },
    Other(&'static str),
}

#[derive(Debug, Clone)]
struct Write {
    table: String,
    key: Item,
    before: Option<Item>,
    kind: WriteKind,
}

#[derive(Debug, Clone)]
enum WriteKind {
    Put(Item),
    Update,
    Delete,
    Check,
}

impl Storable for Pending {
    type Storer = StoreReplace<Self>;
}

/// Counts DynamoDB capacity per call by DynamoDB's rules (see the module).
/// Clones share their totals.
#[derive(Debug, Clone)]
pub struct Meter {
    ops: Arc<Mutex<Vec<OpCost>>>,
    side: Arc<Side>,
    indexes: Vec<Index>,
}

impl Meter {
    /// A meter whose side reads use a client of `aws` (not metered).
    pub fn new(aws: &aws_config::SdkConfig) -> Self {
        Self {
            ops: Arc::default(),
            side: Arc::new(Side::new(aws)),
            indexes: INDEXES.to_vec(),
        }
    }

    /// Everything metered since the last call (and resets it).
    pub fn take(&self) -> Cost {
        let ops = self
            .ops
            .lock()
            .map(|mut o| std::mem::take(&mut *o))
            .unwrap_or_default();
        Cost { ops }
    }

    fn record(&self, cost: OpCost) {
        if let Ok(mut ops) = self.ops.lock() {
            ops.push(cost);
        }
    }

    fn key_of(item: &Item) -> Item {
        use crate::store::schema::{PK, SK};
        item.iter()
            .filter(|(k, _)| k.as_str() == PK || k.as_str() == SK)
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }

    /// The before-images of `writes`' keys (batched side reads).
    fn with_before(&self, mut writes: Vec<Write>) -> Result<Vec<Write>, BoxError> {
        let mut tables: Vec<String> = writes.iter().map(|w| w.table.clone()).collect();
        tables.dedup();
        for table in tables {
            let at: Vec<usize> = (0..writes.len())
                .filter(|&i| writes[i].table == table)
                .collect();
            let keys = at.iter().map(|&i| writes[i].key.clone()).collect();
            for (i, before) in at.into_iter().zip(self.side.items(&table, keys)?) {
                writes[i].before = before;
            }
        }
        Ok(writes)
    }

    /// The after-images of `writes` (updates read back, batched).
    fn afters(&self, writes: &[Write]) -> Result<Vec<Option<Item>>, BoxError> {
        let mut out: Vec<Option<Item>> = writes
            .iter()
            .map(|w| match &w.kind {
                WriteKind::Put(item) => Some(item.clone()),
                WriteKind::Check => w.before.clone(),
                WriteKind::Update | WriteKind::Delete => None,
            })
            .collect();
        let updated: Vec<usize> = (0..writes.len())
            .filter(|&i| matches!(writes[i].kind, WriteKind::Update))
            .collect();
        let mut tables: Vec<String> = updated.iter().map(|&i| writes[i].table.clone()).collect();
        tables.dedup();
        for table in tables {
            let at: Vec<usize> = updated
                .iter()
                .copied()
                .filter(|&i| writes[i].table == table)
                .collect();
            let keys = at.iter().map(|&i| writes[i].key.clone()).collect();
            for (i, after) in at.into_iter().zip(self.side.items(&table, keys)?) {
                out[i] = after;
            }
        }
        Ok(out)
    }

    fn pending(
        &self,
        input: &aws_smithy_runtime_api::client::interceptors::context::Input,
    ) -> Result<Pending, BoxError> {
        use aws_sdk_dynamodb::operation as op;
        if let Some(i) = input.downcast_ref::<op::get_item::GetItemInput>() {
            return Ok(Pending::Get(Box::new(i.clone())));
        }
        if let Some(i) = input.downcast_ref::<op::batch_get_item::BatchGetItemInput>() {
            return Ok(Pending::BatchGet(
                i.request_items.clone().unwrap_or_default(),
            ));
        }
        if let Some(i) = input.downcast_ref::<op::query::QueryInput>() {
            return Ok(Pending::Query(Box::new(i.clone())));
        }
        if input.downcast_ref::<op::scan::ScanInput>().is_some() {
            return Ok(Pending::Scan);
        }
        if let Some(i) = input.downcast_ref::<op::transact_get_items::TransactGetItemsInput>() {
            let gets = i
                .transact_items()
                .iter()
                .filter_map(|t| t.get.as_ref())
                .map(|g| (g.table_name.clone(), g.key.clone()))
                .collect();
            return Ok(Pending::TransactGet(gets));
        }
        let write = |table: &str, key: Item, kind| Write {
            table: table.to_owned(),
            key,
            before: None,
            kind,
        };
        let (operation, transactional, writes) = if let Some(i) =
            input.downcast_ref::<op::put_item::PutItemInput>()
        {
            let item = i.item.clone().unwrap_or_default();
            let table = i.table_name().unwrap_or_default();
            (
                "PutItem",
                false,
                vec![write(table, Self::key_of(&item), WriteKind::Put(item))],
            )
        } else if let Some(i) = input.downcast_ref::<op::update_item::UpdateItemInput>() {
            let key = i.key.clone().unwrap_or_default();
            (
                "UpdateItem",
                false,
                vec![write(
                    i.table_name().unwrap_or_default(),
                    key,
                    WriteKind::Update,
                )],
            )
        } else if let Some(i) = input.downcast_ref::<op::delete_item::DeleteItemInput>() {
            let key = i.key.clone().unwrap_or_default();
            (
                "DeleteItem",
                false,
                vec![write(
                    i.table_name().unwrap_or_default(),
                    key,
                    WriteKind::Delete,
                )],
            )
        } else if let Some(i) = input.downcast_ref::<op::batch_write_item::BatchWriteItemInput>() {
            let mut ws = Vec::new();
            for (table, requests) in i.request_items.clone().unwrap_or_default() {
                for r in requests {
                    if let Some(p) = r.put_request {
                        ws.push(write(&table, Self::key_of(&p.item), WriteKind::Put(p.item)));
                    } else if let Some(d) = r.delete_request {
                        ws.push(write(&table, d.key, WriteKind::Delete));
                    }
                }
            }
            ("BatchWriteItem", false, ws)
        } else if let Some(i) =
            input.downcast_ref::<op::transact_write_items::TransactWriteItemsInput>()
        {
            let mut ws = Vec::new();
            for t in i.transact_items() {
                if let Some(p) = &t.put {
                    ws.push(write(
                        &p.table_name,
                        Self::key_of(&p.item),
                        WriteKind::Put(p.item.clone()),
                    ));
                } else if let Some(u) = &t.update {
                    ws.push(write(&u.table_name, u.key.clone(), WriteKind::Update));
                } else if let Some(d) = &t.delete {
                    ws.push(write(&d.table_name, d.key.clone(), WriteKind::Delete));
                } else if let Some(c) = &t.condition_check {
                    ws.push(write(&c.table_name, c.key.clone(), WriteKind::Check));
                }
            }
            ("TransactWriteItems", true, ws)
        } else {
            return Ok(Pending::Other("other"));
        };
        Ok(Pending::Writes {
            operation,
            transactional,
            writes: self.with_before(writes)?,
        })
    }

    fn finish(
        &self,
        pending: Pending,
        output: Option<
            Result<&aws_smithy_runtime_api::client::interceptors::context::Output, bool>,
        >,
        trips: usize,
    ) -> Result<OpCost, BoxError> {
        use aws_sdk_dynamodb::operation as op;
        // Ok: succeeded; Err(true): the service refused it (a failed
        // condition still costs); Err(false): nothing reached DynamoDB.
        let mut cost = OpCost {
            trips,
            ..OpCost::default()
        };
        let answered = !matches!(output, None | Some(Err(false)));
        let succeeded = matches!(output, Some(Ok(_)));
        match pending {
            Pending::Get(i) => {
                cost.operation = "GetItem";
                if answered {
                    let key = i.key.clone().unwrap_or_default();
                    let table = i.table_name.clone().unwrap_or_default();
                    let item = self.side.items(&table, vec![key])?.pop().flatten();
                    cost.items_read = usize::from(item.is_some());
                    // read-write-operations.html: GetItem, per item, 4 KB.
                    cost.rcu = read_units(
                        item.as_ref().map(item_size).unwrap_or(0),
                        Consistency::of(i.consistent_read),
                    );
                }
            }
            Pending::BatchGet(requests) => {
                cost.operation = "BatchGetItem";
                if answered {
                    // read-write-operations.html: BatchGetItem rounds each item
                    // to 4 KB on its own. Unprocessed keys cost nothing.
                    let unprocessed: Vec<Item> = output
                        .and_then(|o| o.ok())
                        .and_then(|o| o.downcast_ref::<op::batch_get_item::BatchGetItemOutput>())
                        .and_then(|o| o.unprocessed_keys.clone())
                        .unwrap_or_default()
                        .into_values()
                        .flat_map(|k| k.keys)
                        .collect();
                    for (table, ka) in requests {
                        let keys: Vec<Item> = ka
                            .keys
                            .into_iter()
                            .filter(|k| !unprocessed.contains(k))
                            .collect();
                        let consistency = Consistency::of(ka.consistent_read);
                        for item in self.side.items(&table, keys)? {
                            cost.items_read += usize::from(item.is_some());
                            cost.rcu +=
                                read_units(item.as_ref().map(item_size).unwrap_or(0), consistency);
                        }
                    }
                }
            }
            Pending::TransactGet(gets) => {
                cost.operation = "TransactGetItems";
                if answered {
                    for (table, key) in gets {
                        let item = self.side.items(&table, vec![key])?.pop().flatten();
                        cost.items_read += usize::from(item.is_some());
                        cost.rcu += read_units(
                            item.as_ref().map(item_size).unwrap_or(0),
                            Consistency::Transactional,
                        );
                    }
                }
            }
            Pending::Query(q) => {
                cost.operation = "Query";
                if answered {
                    // Query.FilterExpression.html: "a Query consumes the same
                    // amount of read capacity, regardless of whether a filter
                    // expression is present"; read-write-operations.html: the
                    // page's items are one read, their total rounded to 4 KB.
                    // Select=COUNT reads the same items.
                    let consistency = Consistency::of(q.consistent_read);
                    let items = self.side.evaluated(*q)?;
                    cost.items_read = items.len();
                    cost.rcu = read_units(items.iter().map(item_size).sum(), consistency);
                }
            }
            Pending::Scan => {
                cost.operation = "Scan";
                if let Some(Ok(o)) = output {
                    if let Some(o) = o.downcast_ref::<op::scan::ScanOutput>() {
                        let items = o.items();
                        cost.items_read = o.scanned_count as usize;
                        cost.rcu =
                            read_units(items.iter().map(item_size).sum(), Consistency::Eventual);
                    }
                }
            }
            Pending::Writes {
                operation,
                transactional,
                writes,
            } => {
                cost.operation = operation;
                if answered {
                    // ConditionalCheckFailed / TransactionCanceled: nothing
                    // changed; the existing item is charged
                    // (WorkingWithItems.html#WorkingWithItems.ConditionalUpdate).
                    let afters = if succeeded {
                        self.afters(&writes)?
                    } else {
                        writes.iter().map(|w| w.before.clone()).collect()
                    };
                    for (w, after) in writes.into_iter().zip(afters) {
                        let size = w
                            .before
                            .as_ref()
                            .map(item_size)
                            .max(after.as_ref().map(item_size))
                            .unwrap_or(0);
                        // transaction-apis.html, "Capacity management for
                        // transactions": each item of TransactWriteItems
                        // (ConditionCheck included) is two underlying writes.
                        cost.wcu += write_units(size, transactional);
                        if succeeded && !matches!(w.kind, WriteKind::Check) {
                            cost.gsi_wcu +=
                                index_writes(w.before.as_ref(), after.as_ref(), &self.indexes);
                        }
                    }
                }
            }
            Pending::Other(name) => cost.operation = name,
        }
        Ok(cost)
    }
}

#[derive(Debug, Clone, Copy, Default)]
struct Trips(usize);

impl Storable for Trips {
    type Storer = StoreReplace<Self>;
}

impl Intercept for Meter {
    fn name(&self) -> &'static str {
        "CapacityMeter"
    }

    fn read_before_execution(
        &self,
        context: &BeforeSerializationInterceptorContextRef<'_>,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let pending = self.pending(context.input())?;
        cfg.interceptor_state().store_put(pending);
        cfg.interceptor_state().store_put(Trips(0));
        Ok(())
    }

    fn read_before_transmit(
        &self,
        _context: &BeforeTransmitInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let n = cfg.load::<Trips>().copied().unwrap_or_default().0;
        cfg.interceptor_state().store_put(Trips(n + 1));
        Ok(())
    }

    fn read_after_execution(
        &self,
        context: &FinalizerInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let Some(pending) = cfg.load::<Pending>().cloned() else {
            return Ok(());
        };
        let trips = cfg.load::<Trips>().copied().unwrap_or_default().0;
        let output = context.output_or_error().map(|r| match r {
            Ok(o) => Ok(o),
            Err(e) => Err(e.as_operation_error().is_some()),
        });
        let cost = self.finish(pending, output, trips)?;
        self.record(cost);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    //! Against the examples of DynamoDB's developer guide.
    use super::*;

    fn s(v: &str) -> AttributeValue {
        AttributeValue::S(v.into())
    }

    /// CapacityUnitCalculations.html: name + UTF-8 bytes.
    #[test]
    fn strings_count_name_and_utf8_bytes() {
        let item: Item = [("name".to_owned(), s("héllo"))].into();
        assert_eq!(item_size(&item), 4 + 6);
    }

    /// CapacityUnitCalculations.html: 1 byte per two significant digits + 1,
    /// leading and trailing zeroes trimmed.
    #[test]
    fn numbers_count_significant_digits() {
        assert_eq!(number_size("1"), 2);
        assert_eq!(number_size("12"), 2);
        assert_eq!(number_size("123"), 3);
        assert_eq!(number_size("-0012300"), 3);
        assert_eq!(number_size("1.5e10"), 2);
        assert_eq!(number_size("0"), 1);
        assert_eq!(number_size("1700000000123"), 8);
    }

    /// CapacityUnitCalculations.html: null/Boolean 1; binary raw length;
    /// list/map 3 + elements + 1 per element; empty list/map 3.
    #[test]
    fn other_types() {
        use aws_smithy_types::Blob;
        assert_eq!(value_size(&AttributeValue::Bool(true)), 1);
        assert_eq!(value_size(&AttributeValue::Null(true)), 1);
        assert_eq!(value_size(&AttributeValue::B(Blob::new(vec![0; 10]))), 10);
        assert_eq!(value_size(&AttributeValue::L(vec![])), 3);
        assert_eq!(value_size(&AttributeValue::M(HashMap::new())), 3);
        assert_eq!(
            value_size(&AttributeValue::L(vec![s("ab"), s("c")])),
            3 + 3 + 2
        );
        let m = AttributeValue::M([("k".to_owned(), s("ab"))].into());
        assert_eq!(value_size(&m), 3 + 1 + 2 + 1);
        assert_eq!(
            value_size(&AttributeValue::Ss(vec!["ab".into(), "cde".into()])),
            5
        );
    }

    /// read-write-operations.html: "reading a 3,500-byte item consumes the
    /// same throughput as reading a 4 KB item"; eventually consistent half,
    /// transactional double; an 8 KB item: 2 strong.
    #[test]
    fn reads_round_to_4kb() {
        assert_eq!(read_units(3_500, Consistency::Strong), 1.0);
        assert_eq!(read_units(3_500, Consistency::Eventual), 0.5);
        assert_eq!(read_units(3_500, Consistency::Transactional), 2.0);
        assert_eq!(read_units(8 * 1024, Consistency::Strong), 2.0);
        assert_eq!(read_units(10 * 1024, Consistency::Strong), 3.0);
        assert_eq!(read_units(10 * 1024, Consistency::Eventual), 1.5);
        // A missing item still costs the minimum.
        assert_eq!(read_units(0, Consistency::Strong), 1.0);
    }

    /// read-write-operations.html: BatchGetItem of a 1.5 KB and a 6.5 KB
    /// item is 12 KB (4 + 8), not 8; a Query of 10 items totalling 40.8 KB
    /// is 44 KB; 1,500 items of 64 bytes are 96 KB.
    #[test]
    fn batch_per_item_query_per_page() {
        let batch = read_units(1536, Consistency::Strong) + read_units(6656, Consistency::Strong);
        assert_eq!(batch, 3.0);
        assert_eq!(read_units(41_779, Consistency::Strong), 11.0);
        assert_eq!(read_units(1_500 * 64, Consistency::Strong), 24.0);
    }

    /// read-write-operations.html: writes round up to 1 KB (500 bytes: 1,
    /// 3.5 KB: 4); transactional writes cost two per KB.
    #[test]
    fn writes_round_to_1kb() {
        assert_eq!(write_units(500, false), 1.0);
        assert_eq!(write_units(3_584, false), 4.0);
        assert_eq!(write_units(500, true), 2.0);
        assert_eq!(write_units(0, false), 1.0);
    }

    /// GSI.html: a new indexed item 1 write; a key change delete + put; a
    /// non-key change 1; a removed entry 1; an item outside the index 0.
    #[test]
    fn index_writes_follow_the_gsi_rules() {
        let idx = [crate::store::schema::BY_USER];
        let a: Item = [("gsi_user".into(), s("u")), ("activity".into(), s("1"))].into();
        let mut b = a.clone();
        b.insert("activity".into(), s("2"));
        let mut c = a.clone();
        c.insert("other".into(), s("x"));
        let outside: Item = [("pk".into(), s("p"))].into();
        assert_eq!(index_writes(None, Some(&a), &idx), 1.0);
        assert_eq!(index_writes(Some(&a), Some(&b), &idx), 2.0);
        assert_eq!(index_writes(Some(&a), Some(&c), &idx), 1.0);
        assert_eq!(index_writes(Some(&a), Some(&a), &idx), 0.0);
        assert_eq!(index_writes(Some(&a), None, &idx), 1.0);
        assert_eq!(index_writes(Some(&outside), Some(&outside), &idx), 0.0);
    }

    #[test]
    fn placeholders_match_as_tokens() {
        assert!(mentions("pk = :p AND sk > :s", ":p"));
        assert!(!mentions("pk = :pk", ":p"));
    }
}
