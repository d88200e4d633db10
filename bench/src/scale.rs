//! How cost grows with the data: DynamoDB read and write units and round
//! trips of every API call, computed by DynamoDB's published rules
//! (`liaison::capacity::Meter`, from what each call really reads and
//! writes) with the functions in-process, in accounts of 10, 1,000 and
//! 10,000 threads, a thread of 10,000 messages, 1,000 unread threads, and
//! accounts of 2 and 80 people. Accounts are seeded with the store's own
//! item builders (`liaison::store::seed`) and BatchWriteItem.

use std::time::Instant;

use aws_config::SdkConfig;
use lambda_http::Body;
use liaison::aws::RoundTrips;
use liaison::capacity::{Cost, Meter};
use liaison::domain::{
    AccountId, Author, ClientMessageId, Message, MessageBody, MessageId, Role, ThreadId, Timestamp,
    UserId,
};
use liaison::provision::{Names, Stream};
use liaison::store::seed::{message_items, seeded_thread, SeedPerson};
use liaison::store::Store;
use liaison_local::apigw::GatewayRequest;
use liaison_local::{Clients, FunctionEnv, Functions};
use serde_json::{json, Map, Value};

use crate::world::{BoxError, APP_URL, CURSOR_SECRET};

/// On-demand prices, us-east-1, since 1 Nov 2024 (aws.amazon.com/dynamodb/pricing/on-demand;
/// the 50% cut announced 14 Nov 2024): per million read / write request units.
pub const PRICE_RRU: f64 = 0.125;
pub const PRICE_WRU: f64 = 0.625;

use crate::world::PNG;

use crate::page::{Section, TargetRow};

/// One account the calls run in.
struct Shape {
    label: &'static str,
    threads: usize,
    /// Every `unread_every`th thread is unread for the caller.
    unread_every: usize,
    messages: usize,
    people: usize,
}

const SHAPES: [Shape; 4] = [
    Shape {
        label: "10 threads",
        threads: 10,
        unread_every: 10,
        messages: 10,
        people: 2,
    },
    Shape {
        label: "1,000 threads",
        threads: 1_000,
        unread_every: 10,
        messages: 10,
        people: 2,
    },
    Shape {
        label: "80 people, 10 threads",
        threads: 10,
        unread_every: 10,
        messages: 10,
        people: 80,
    },
    Shape {
        label: "10,000 threads, 1,000 unread, thread of 10,000 messages",
        threads: 10_000,
        unread_every: 10,
        messages: 10_000,
        people: 2,
    },
];

/// One call's cost in one account.
#[derive(Debug, Clone, Default)]
struct Measure {
    rcu: f64,
    wcu: f64,
    trips: usize,
    ops: String,
    status: u16,
}

struct Scaled {
    table: String,
    bucket: String,
    functions: Functions,
    meter: Meter,
    trips: RoundTrips,
    thread: String,
}

fn people(n: usize) -> (Vec<SeedPerson>, Value) {
    let managers = (n / 10).max(1);
    let mut seed = vec![SeedPerson {
        id: UserId::parse("u_chris").expect("id"),
        name: "Chris".into(),
        role: Role::Client,
    }];
    for i in 1..n - managers {
        seed.push(SeedPerson {
            id: UserId::parse(format!("u_c{i}")).expect("id"),
            name: format!("Client {i}"),
            role: Role::Client,
        });
    }
    seed.push(SeedPerson {
        id: UserId::parse("u_dana").expect("id"),
        name: "Dana".into(),
        role: Role::Manager,
    });
    for i in 1..managers {
        seed.push(SeedPerson {
            id: UserId::parse(format!("u_m{i}")).expect("id"),
            name: format!("Manager {i}"),
            role: Role::Manager,
        });
    }
    let json_of = |role| {
        seed.iter()
            .filter(|p| p.role == role)
            .map(|p| json!({"id": p.id.as_str(), "name": p.name, "email": format!("{}@example.com", p.id.as_str())}))
            .collect::<Vec<_>>()
    };
    let directory = json!({"accounts": [{"id": "acc_acme", "name": "Acme",
        "users": json_of(Role::Client), "managers": json_of(Role::Manager),
        "clients": [{"id": "cl_glow", "name": "Glow Serum", "campaigns": [
            {"id": "cp_spring", "name": "Spring launch", "creatives": [{"id": "cr_hook2", "name": "Hook v2"}]}]}]}]});
    (seed, directory)
}

fn claims(user: &str, role: Role) -> Map<String, Value> {
    let v = match role {
        Role::Manager => {
            json!({"sub": user, "name": user, "email": format!("{user}@agency.example"),
                                "cognito:groups": "[account-managers]"})
        }
        Role::Client => json!({"sub": user, "name": user, "email": format!("{user}@acme.example"),
                               "custom:account_id": "acc_acme"}),
    };
    v.as_object().cloned().unwrap_or_default()
}

impl Scaled {
    async fn call(
        &self,
        user: &str,
        role: Role,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> Result<(u16, Value), BoxError> {
        let (route, req) = GatewayRequest::routed(
            method,
            path,
            Some(claims(user, role)),
            body.map(|b| b.to_string()),
        )
        .map_err(|e| format!("no route for {method} {path}: {e:?}"))?;
        let resp = self
            .functions
            .http(route.function, req.to_request()?)
            .await
            .ok_or("not an HTTP function")?;
        let body = match resp.body() {
            Body::Text(t) => serde_json::from_str(t).unwrap_or(Value::String(t.clone())),
            Body::Binary(b) => serde_json::from_slice(b).unwrap_or(Value::Null),
            _ => Value::Null,
        };
        Ok((resp.status().as_u16(), body))
    }

    /// Runs a call and takes its cost.
    async fn measured(
        &self,
        user: &str,
        role: Role,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> Result<(Measure, Value), BoxError> {
        self.meter.take();
        self.trips.take();
        let (status, body) = self.call(user, role, method, path, body).await?;
        Ok((self.took(status), body))
    }

    fn took(&self, status: u16) -> Measure {
        let c: Cost = self.meter.take();
        Measure {
            rcu: c.rcu(),
            wcu: c.wcu(),
            trips: self.trips.take(),
            ops: c.breakdown(),
            status,
        }
    }
}

/// Provisions an account of `shape` and seeds it.
async fn account(aws: &SdkConfig, shape: &Shape) -> Result<Scaled, BoxError> {
    let prefix = format!("scale{}", ulid::Ulid::new().to_string().to_lowercase());
    let names = Names::with_prefix(&prefix);
    let provisioned = liaison::provision::all_with(aws, &names, Stream::Off).await?;
    let env = FunctionEnv {
        names: names.clone(),
        queue_url: provisioned.queue_url,
        dead_letter_queue_url: provisioned.dead_letter_queue_url,
        app_url: APP_URL.to_owned(),
        api_url: "https://api.liaison.example".to_owned(),
        cursor_secret: CURSOR_SECRET.as_bytes().to_vec(),
        notify_delay: std::time::Duration::ZERO,
        reply_domain: liaison_local::DEV_REPLY_DOMAIN.to_owned(),
        reply_secrets: liaison_local::DEV_REPLY_SECRETS.to_owned(),
    };
    let meter = Meter::new(aws);
    let trips = RoundTrips::new();
    let functions = Functions::new(&Clients::metered(aws, &trips, &meter), &env);
    let (seed, directory) = people(shape.people);
    functions
        .sync_directory(directory)
        .await
        .map_err(|e| format!("sync directory: {}", e.error_message))?;
    let mut s = Scaled {
        table: names.table.clone(),
        bucket: names.bucket.clone(),
        functions,
        meter,
        trips,
        thread: String::new(),
    };
    let (status, opened) = s
        .call(
            "u_chris",
            Role::Client,
            "POST",
            "/threads",
            Some(json!({"scope": {"kind": "general"}})),
        )
        .await?;
    s.thread = opened["id"]
        .as_str()
        .ok_or_else(|| format!("open general: {status} {opened}"))?
        .to_owned();

    // The account's other threads and the general thread's history, with
    // the store's own item builders, unmetered.
    let store = Store::new(aws_sdk_dynamodb::Client::new(aws), &names.table);
    let acme = AccountId::parse("acc_acme")?;
    let start = Timestamp::now().plus_seconds(-30 * 86_400);
    let mut items = Vec::new();
    for i in 0..shape.threads.saturating_sub(1) {
        let last = (i % shape.unread_every == 0).then_some(Role::Manager);
        items.extend(seeded_thread(
            &acme,
            &seed,
            i,
            start.plus_seconds(i as i64),
            last,
        )?);
    }
    let thread = ThreadId::parse(&s.thread)?;
    for i in 0..shape.messages {
        let author = &seed[if i % 2 == 0 { 0 } else { seed.len() - 1 }];
        let m = Message {
            id: MessageId::new(),
            thread_id: thread.clone(),
            client_message_id: ClientMessageId::parse(&format!("seed-{i}"))?,
            author: Author {
                id: author.id.clone(),
                name: author.name.clone(),
                role: author.role,
            },
            body: MessageBody::parse(
                "Here is the new cut with the revised hook: can you check the first \
                 three seconds before Friday? The colour grade is final.",
            )?,
            urgent: false,
            attachments: Vec::new(),
            created_at: start.plus_seconds(i as i64),
        };
        items.push(message_items(&m, &acme));
    }
    store.put_all(items, 8).await?;
    s.meter.take();
    s.trips.take();
    Ok(s)
}

/// Every call of the table in one account, in order.
async fn calls(s: &Scaled, aws: &SdkConfig) -> Result<Vec<(&'static str, Measure)>, BoxError> {
    let t = s.thread.clone();
    let c = Role::Client;
    let m = Role::Manager;
    let mut out = Vec::new();
    let (r, _) = s
        .measured("u_chris", c, "GET", "/threads?limit=20", None)
        .await?;
    out.push(("list threads (client)", r));
    let (r, _) = s
        .measured("u_dana", m, "GET", "/threads?limit=20", None)
        .await?;
    out.push(("list threads (manager)", r));
    let (r, _) = s
        .measured("u_chris", c, "GET", &format!("/threads/{t}"), None)
        .await?;
    out.push(("get thread", r));
    let general = Some(json!({"scope": {"kind": "general"}}));
    let (r, _) = s
        .measured("u_chris", c, "POST", "/threads", general)
        .await?;
    out.push(("open thread (existing)", r));
    let glow = Some(json!({"scope": {"kind": "client", "client_id": "cl_glow"}}));
    let (r, _) = s.measured("u_chris", c, "POST", "/threads", glow).await?;
    out.push(("open thread (new)", r));
    let path = format!("/threads/{t}/messages");
    let (r, _) = s
        .measured(
            "u_chris",
            c,
            "POST",
            &path,
            Some(json!({"body": "Looks good", "client_message_id": "scale-1"})),
        )
        .await?;
    out.push(("send message", r));
    let (r, presigned) = s
        .measured(
            "u_chris",
            c,
            "POST",
            &format!("/threads/{t}/attachments"),
            Some(json!({"filename": "hook.png", "content_type": "image/png", "size": PNG.len()})),
        )
        .await?;
    out.push(("presign upload", r));
    let attachment = presigned["attachment_id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    crate::world::upload(&presigned, PNG)?;
    let (r, _) = s
        .measured(
            "u_chris",
            c,
            "POST",
            &path,
            Some(
                json!({"body": "", "client_message_id": "scale-2", "attachment_ids": [attachment]}),
            ),
        )
        .await?;
    out.push(("send message, 1 attachment", r));
    // The stand-in malware scanner passes it (downloads wait for a clean scan).
    liaison_local::scanner::StandIn::new(
        liaison::aws::s3_client(aws),
        &s.bucket,
        "us-east-1",
        std::time::Duration::ZERO,
    )
    .pass(&s.functions)
    .await?;
    let (r, _) = s
        .measured(
            "u_chris",
            c,
            "GET",
            &format!("/threads/{t}/attachments/{attachment}"),
            None,
        )
        .await?;
    out.push(("presign download", r));
    let (r, _) = s
        .measured("u_chris", c, "GET", &format!("{path}?limit=20"), None)
        .await?;
    out.push(("list messages (first page)", r));
    // Something new from the other side to read.
    let (_, sent) = s
        .call(
            "u_dana",
            m,
            "POST",
            &path,
            Some(json!({"body": "New cut", "client_message_id": "scale-3"})),
        )
        .await?;
    let message = sent["id"].as_str().unwrap_or_default().to_owned();
    let (r, _) = s.measured("u_chris", c, "GET", "/unread", None).await?;
    out.push(("unread count", r));
    let (r, _) = s
        .measured(
            "u_chris",
            c,
            "POST",
            &format!("/threads/{t}/read"),
            Some(json!({})),
        )
        .await?;
    out.push(("mark read", r));
    let (r, _) = s
        .measured(
            "u_chris",
            c,
            "POST",
            &format!("/threads/{t}/unread"),
            Some(json!({})),
        )
        .await?;
    out.push(("mark unread", r));
    let (r, _) = s
        .measured(
            "u_chris",
            c,
            "PUT",
            &format!("/threads/{t}/mute"),
            Some(json!({})),
        )
        .await?;
    out.push(("mute", r));
    let (r, _) = s
        .measured("u_chris", c, "DELETE", &format!("/threads/{t}/mute"), None)
        .await?;
    out.push(("unmute", r));
    let (r, _) = s
        .measured("u_chris", c, "GET", "/me/notifications", None)
        .await?;
    out.push(("preferences (read)", r));
    let (r, _) = s
        .measured(
            "u_chris",
            c,
            "PUT",
            "/me/notifications",
            Some(json!({"email": "all"})),
        )
        .await?;
    out.push(("preferences (write)", r));
    let (r, started) = s
        .measured(
            "u_chris",
            c,
            "POST",
            &format!("/threads/{t}/uploads"),
            Some(json!({"filename": "cut.mp4", "content_type": "video/mp4", "size": 100u64 << 20})),
        )
        .await?;
    out.push(("start an upload in parts", r));
    let upload = started["attachment_id"].as_str().unwrap_or_default();
    let (r, _) = s
        .measured(
            "u_chris",
            c,
            "POST",
            &format!("/threads/{t}/uploads/{upload}/parts"),
            Some(json!({"part_numbers": [1, 2, 3]})),
        )
        .await?;
    out.push(("part URLs (3)", r));
    let (r, _) = s
        .measured(
            "u_chris",
            c,
            "DELETE",
            &format!("/threads/{t}/uploads/{upload}"),
            None,
        )
        .await?;
    out.push(("discard an upload in parts", r));
    let (r, _) = s.measured("u_chris", c, "GET", "/catalog", None).await?;
    out.push(("catalog", r));

    // The e-mail pipeline: the notification job of Dana's reply.
    let job = json!({"account_id": "acc_acme", "thread_id": t, "message_id": message,
                     "author_role": "manager"});
    let event: lambda_http::aws_lambda_events::sqs::SqsEvent = serde_json::from_value(json!({
        "Records": [{"messageId": "scale-1", "receiptHandle": "r", "body": job.to_string(),
                     "attributes": {}, "messageAttributes": {}, "md5OfBody": "",
                     "eventSource": "aws:sqs", "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:q",
                     "awsRegion": "us-east-1"}]
    }))?;
    s.meter.take();
    s.trips.take();
    let status = match s.functions.notify_reply(event).await {
        Ok(_) => 200,
        Err(_) => 500,
    };
    out.push(("notify-reply (per job)", s.took(status)));
    Ok(out)
}

/// sync-directory adding, then removing, one person: per thread of the
/// account (measured at `threads`, extrapolated linearly).
async fn sync_one_person(aws: &SdkConfig, threads: usize) -> Result<(Measure, Measure), BoxError> {
    let shape = Shape {
        label: "",
        threads,
        unread_every: 10,
        messages: 0,
        people: 2,
    };
    let s = account(aws, &shape).await?;
    let (_, mut directory) = people(3);
    s.meter.take();
    s.trips.take();
    s.functions
        .sync_directory(directory.clone())
        .await
        .map_err(|e| format!("sync: {}", e.error_message))?;
    let added = s.took(200);
    let (_, two) = people(2);
    directory = two;
    s.functions
        .sync_directory(directory)
        .await
        .map_err(|e| format!("sync: {}", e.error_message))?;
    let removed = s.took(200);
    drop_table(aws, &s.table).await;
    Ok((added, removed))
}

/// The local AWS copies every table for each transaction item: a done
/// account's table would slow the next ones.
async fn drop_table(aws: &SdkConfig, table: &str) {
    let _ = aws_sdk_dynamodb::Client::new(aws)
        .delete_table()
        .table_name(table)
        .send()
        .await;
}

fn units(m: &Measure) -> String {
    format!("{} / {} / {}", fmt(m.rcu), fmt(m.wcu), m.trips)
}

fn fmt(x: f64) -> String {
    if x.fract() == 0.0 || x >= 100.0 {
        format!("{x:.0}")
    } else {
        format!("{x:.1}")
    }
}

/// The scaling section: runs every shape and renders the table.
pub async fn run(aws: &SdkConfig) -> Result<Section, BoxError> {
    let began = Instant::now();
    let mut columns: Vec<Vec<(&'static str, Measure)>> = Vec::new();
    let mut notes = Vec::new();
    const SYNC_AT: usize = 100;
    let (added, removed) = sync_one_person(aws, SYNC_AT).await?;
    for shape in &SHAPES {
        let t0 = Instant::now();
        let s = account(aws, shape).await?;
        let seeded = t0.elapsed();
        let t1 = Instant::now();
        columns.push(calls(&s, aws).await?);
        drop_table(aws, &s.table).await;
        eprintln!(
            "bench: scale: {}: seeded in {:.1} s, calls in {:.1} s",
            shape.label,
            seeded.as_secs_f64(),
            t1.elapsed().as_secs_f64()
        );
        notes.push(format!(
            "{}: seeded in {:.1} s",
            shape.label,
            seeded.as_secs_f64()
        ));
    }

    let mut md = String::new();
    md.push_str(
        "DynamoDB read units / write units (index writes included) / round trips (all AWS) per call, \
         computed by DynamoDB's published rules from what each call really reads and writes \
         (`liaison::capacity`, tested against the developer guide's examples): \
         independent of the machine, so they carry over to AWS. The caller is a client user \
         (Chris) unless noted; \"unread\" rows are every 10th thread.\n\n",
    );
    md.push_str("| call |");
    for s in &SHAPES {
        md.push_str(&format!(" {} |", s.label));
    }
    md.push_str(" verdict |\n|---|");
    for _ in &SHAPES {
        md.push_str("---|");
    }
    md.push_str("---|\n");
    let mut grew: Vec<String> = Vec::new();
    for (row, (name, _)) in columns[0].iter().enumerate() {
        md.push_str(&format!("| {name} ({}) |", columns[3][row].1.ops));
        for col in &columns {
            let m = &col[row].1;
            let flag = if m.status >= 300 {
                format!(" ({})", m.status)
            } else {
                String::new()
            };
            md.push_str(&format!(" {}{flag} |", units(m)));
        }
        let small = &columns[0][row].1;
        let people80 = &columns[2][row].1;
        let large = &columns[3][row].1;
        let flat = (large.rcu - small.rcu).abs() <= 1.0 && (large.wcu - small.wcu).abs() <= 1.0;
        let by_people =
            (people80.rcu - small.rcu).abs() > 1.0 || (people80.wcu - small.wcu).abs() > 1.0;
        let failed = columns.iter().any(|col| col[row].1.status >= 400);
        let verdict = match (flat, by_people) {
            _ if failed => {
                grew.push(format!("{name} (the call failed)"));
                "**FAILED**: an error answer measures nothing"
            }
            (true, false) => "ok: flat (O(page))",
            (true, true) if name.starts_with("notify") => {
                "ok: flat in threads; grows with people (one e-mail each)"
            }
            (true, true) => {
                "ok: flat in threads and messages; grows with people (one inbox row each)"
            }
            (false, _) => {
                grew.push(name.to_string());
                "GROWS with the account"
            }
        };
        md.push_str(&format!(" {verdict} |\n"));
    }
    md.push_str(&format!(
        "| sync-directory: add one person | per thread ×10,000: {} / {} / {} | | | | grows with the account's threads (one inbox row per thread: why it must, below) |\n",
        fmt(added.rcu / SYNC_AT as f64 * 10_000.0),
        fmt(added.wcu / SYNC_AT as f64 * 10_000.0),
        added.trips * 10_000 / SYNC_AT,
    ));
    md.push_str(&format!(
        "| sync-directory: remove one person | per thread ×10,000: {} / {} / {} | | | | same |\n",
        fmt(removed.rcu / SYNC_AT as f64 * 10_000.0),
        fmt(removed.wcu / SYNC_AT as f64 * 10_000.0),
        removed.trips * 10_000 / SYNC_AT,
    ));
    md.push_str(&format!(
        "\nsync-directory was measured at {SYNC_AT} threads ({} / {} / {} to add, {} / {} / {} to remove) and scaled linearly to 10,000 \
         (the local AWS copies the whole table for every transaction item, so 10,000 transactions on a 50,000-item table would take hours there; on DynamoDB it is minutes of one sync).\n",
        fmt(added.rcu), fmt(added.wcu), added.trips, fmt(removed.rcu), fmt(removed.wcu), removed.trips
    ));

    // The bill: a usage model per active person per month (22 working days).
    let per_day: [(&str, f64); 10] = [
        ("list threads (client)", 10.0),
        ("unread count", 100.0),
        ("get thread", 20.0),
        ("list messages (first page)", 20.0),
        ("mark read", 20.0),
        ("send message", 8.0),
        ("send message, 1 attachment", 2.0),
        ("presign upload", 2.0),
        ("presign download", 3.0),
        ("notify-reply (per job)", 10.0),
    ];
    let col = &columns[3];
    let (mut rru, mut wru) = (0.0, 0.0);
    for (name, n) in per_day {
        if let Some((_, m)) = col.iter().find(|(c, _)| *c == name) {
            rru += m.rcu * n * 22.0;
            wru += m.wcu * n * 22.0;
        }
    }
    let dollars = (rru * PRICE_RRU + wru * PRICE_WRU) / 1e6 * 1_000.0;
    md.push_str(&format!(
        "\nThe bill, on-demand, us-east-1 (${PRICE_RRU} per million read request units, ${PRICE_WRU} per million write request units, \
         AWS's DynamoDB on-demand pricing since 1 Nov 2024): an active person a working day (22 a month) lists threads 10×, \
         polls the badge 100×, opens 20 threads (get thread + first page of messages + mark read), sends 10 messages (2 with a file, \
         2 presigned uploads, 3 downloads), and 10 e-mail notification jobs run for them, in an account of 10,000 threads: \
         {:.0} read and {:.0} write request units a person a month, **${dollars:.2} a month per 1,000 active people** \
         (request units only; storage and the e-mail pipeline's other services not included).\n",
        rru, wru
    ));
    md.push_str(&format!(
        "\nSeeding: {}. The whole scaling part took {:.0} s.\n",
        notes.join("; "),
        began.elapsed().as_secs_f64()
    ));
    let worst = if grew.is_empty() {
        "every call flat (10 → 10,000 threads, 10 → 10,000 messages, 1,000 unread)".to_owned()
    } else {
        format!("grows or fails: {}", grew.join(", "))
    };
    Ok(Section {
        title: "How cost grows with the data".to_owned(),
        markdown: md,
        targets: vec![TargetRow {
            target: "every call a person makes costs the same at 10,000 threads as at 10, within 1 capacity unit"
                .to_owned(),
            worst,
            met: grew.is_empty(),
        }],
        failure: None,
    })
}
