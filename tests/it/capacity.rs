//! DynamoDB capacity by DynamoDB's rules (`liaison::capacity`), on the
//! local AWS: the meter sees what a call really reads and writes, and a
//! person's calls cost the same however large their account grows.

use aws_sdk_dynamodb::types::{
    AttributeValue, ConditionCheck, Put, ReturnValue, TransactWriteItem,
};
use liaison::capacity::{Cost, Meter};
use liaison::domain::{AccountId, Role, Timestamp, UserId};
use liaison::store::seed::{seeded_thread, SeedPerson};
use liaison::store::Store;
use serde_json::json;

use crate::support::*;

fn s(v: &str) -> AttributeValue {
    AttributeValue::S(v.to_owned())
}

fn item(pairs: &[(&str, &str)]) -> std::collections::HashMap<String, AttributeValue> {
    pairs.iter().map(|(k, v)| ((*k).to_owned(), s(v))).collect()
}

/// The developer guide's rules, seen through the meter on real calls.
#[tokio::test]
async fn the_meter_charges_what_dynamodb_would() {
    let w = World::empty().await;
    let meter = Meter::new(&w.aws);
    let db = aws_sdk_dynamodb::Client::from_conf(
        aws_sdk_dynamodb::config::Builder::from(&w.aws)
            .interceptor(meter.clone())
            .build(),
    );
    let table = w.names.table.as_str();
    let one = |c: Cost| {
        assert_eq!(c.ops.len(), 1, "{c:?}");
        c.ops[0].clone()
    };

    // A 10 KB item: 10 WCU to put; 3 RCU strong, 1.5 eventual, whatever
    // the projection returns; a missing item still costs the minimum.
    let body = "x".repeat(10 * 1024 - 20);
    let mut big = item(&[("pk", "cap#big"), ("sk", "x")]);
    big.insert("body".into(), s(&body));
    db.put_item()
        .table_name(table)
        .set_item(Some(big.clone()))
        .send()
        .await
        .unwrap();
    let put = one(meter.take());
    assert_eq!(
        (put.operation, put.wcu, put.gsi_wcu),
        ("PutItem", 10.0, 0.0)
    );
    let key = item(&[("pk", "cap#big"), ("sk", "x")]);
    for (consistent, rcu) in [(true, 3.0), (false, 1.5)] {
        db.get_item()
            .table_name(table)
            .set_key(Some(key.clone()))
            .consistent_read(consistent)
            .projection_expression("pk")
            .send()
            .await
            .unwrap();
        assert_eq!(one(meter.take()).rcu, rcu);
    }
    db.get_item()
        .table_name(table)
        .set_key(Some(item(&[("pk", "cap#none"), ("sk", "x")])))
        .send()
        .await
        .unwrap();
    assert_eq!(one(meter.take()).rcu, 0.5);

    // A failed conditional write still costs (the existing item's size).
    let refused = db
        .put_item()
        .table_name(table)
        .set_item(Some(big))
        .condition_expression("attribute_not_exists(pk)")
        .send()
        .await;
    assert!(refused.is_err());
    let c = one(meter.take());
    assert_eq!((c.wcu, c.gsi_wcu), (10.0, 0.0));

    // A Query pays for the items its filter drops: three 3 KB items, none
    // returned, 9 KB evaluated = 3 RCU strong (and the same for a COUNT).
    for i in 0..3 {
        let mut it = item(&[("pk", "cap#q"), ("sk", &format!("{i}"))]);
        it.insert("body".into(), s(&"y".repeat(3 * 1024)));
        db.put_item()
            .table_name(table)
            .set_item(Some(it))
            .send()
            .await
            .unwrap();
    }
    meter.take();
    let out = db
        .query()
        .table_name(table)
        .key_condition_expression("pk = :p")
        .filter_expression("attribute_exists(nothing)")
        .expression_attribute_values(":p", s("cap#q"))
        .consistent_read(true)
        .send()
        .await
        .unwrap();
    assert_eq!(out.count, 0);
    let q = one(meter.take());
    assert_eq!((q.rcu, q.items_read), (3.0, 3));
    db.query()
        .table_name(table)
        .key_condition_expression("pk = :p")
        .expression_attribute_values(":p", s("cap#q"))
        .select(aws_sdk_dynamodb::types::Select::Count)
        .send()
        .await
        .unwrap();
    assert_eq!(one(meter.take()).rcu, 1.5);

    // An index: a new entry is one write; moving its sort key is a delete
    // and a put (2); a change of a projected attribute one.
    let row = item(&[
        ("pk", "cap#g"),
        ("sk", "x"),
        ("gsi_user", "user#u_cap"),
        ("activity", "1"),
    ]);
    db.put_item()
        .table_name(table)
        .set_item(Some(row))
        .send()
        .await
        .unwrap();
    let c = one(meter.take());
    assert_eq!((c.wcu, c.gsi_wcu), (1.0, 1.0));
    let update = |expr: &'static str, v: &'static str| {
        db.update_item()
            .table_name(table)
            .set_key(Some(item(&[("pk", "cap#g"), ("sk", "x")])))
            .update_expression(expr)
            .expression_attribute_values(":v", s(v))
            .return_values(ReturnValue::None)
            .send()
    };
    update("SET activity = :v", "2").await.unwrap();
    let c = one(meter.take());
    assert_eq!((c.wcu, c.gsi_wcu), (1.0, 2.0));
    update("SET note = :v", "seen").await.unwrap();
    let c = one(meter.take());
    assert_eq!((c.wcu, c.gsi_wcu), (1.0, 1.0));

    // A transaction doubles: a put and a condition check of small items.
    db.transact_write_items()
        .transact_items(
            TransactWriteItem::builder()
                .put(
                    Put::builder()
                        .table_name(table)
                        .set_item(Some(item(&[("pk", "cap#t"), ("sk", "x")])))
                        .build()
                        .unwrap(),
                )
                .build(),
        )
        .transact_items(
            TransactWriteItem::builder()
                .condition_check(
                    ConditionCheck::builder()
                        .table_name(table)
                        .set_key(Some(item(&[("pk", "cap#g"), ("sk", "x")])))
                        .condition_expression("attribute_exists(pk)")
                        .build()
                        .unwrap(),
                )
                .build(),
        )
        .send()
        .await
        .unwrap();
    let c = one(meter.take());
    assert_eq!(
        (c.operation, c.wcu, c.gsi_wcu),
        ("TransactWriteItems", 4.0, 0.0)
    );
}

/// The demo directory's Acme people, as seeded threads carry them.
pub fn acme_people() -> Vec<SeedPerson> {
    let p = |id: &str, name: &str, role| SeedPerson {
        id: UserId::parse(id).expect("user id"),
        name: name.to_owned(),
        role,
    };
    vec![
        p("u_chris", "Chris", Role::Client),
        p("u_alex", "Alex", Role::Client),
        p("u_dana", "Dana", Role::Manager),
    ]
}

/// `n` threads in Acme, every third with an unread message for Chris.
async fn seed(w: &World, n: usize) {
    let store = Store::new(aws_sdk_dynamodb::Client::new(&w.aws), &w.names.table);
    let acme = AccountId::parse("acc_acme").expect("account");
    let people = acme_people();
    let start = Timestamp::now().plus_seconds(-86_400);
    let mut items = Vec::new();
    for i in 0..n {
        let last = (i % 3 == 0).then_some(Role::Manager);
        items.extend(
            seeded_thread(&acme, &people, i, start.plus_seconds(i as i64), last).expect("seed"),
        );
    }
    store.put_all(items, 4).await.expect("seed threads");
}

/// What a person's everyday calls cost (RCU, WCU) in a world.
async fn everyday(w: &World, meter: &Meter) -> Vec<(&'static str, f64, f64)> {
    let chris = chris();
    let mut out = Vec::new();
    let thread = general_thread(w).await;
    let calls: [(&'static str, &str, String, Option<serde_json::Value>); 5] = [
        ("list threads", "GET", "/threads?limit=20".into(), None),
        ("unread count", "GET", "/unread".into(), None),
        (
            "open existing",
            "POST",
            "/threads".into(),
            Some(json!({"scope": general()})),
        ),
        ("get thread", "GET", format!("/threads/{thread}"), None),
        (
            "list messages",
            "GET",
            format!("/threads/{thread}/messages?limit=20"),
            None,
        ),
    ];
    for (name, method, path, body) in calls {
        meter.take();
        let r = w.call(&chris, method, &path, body).await;
        assert!(r.status < 300, "{name}: {r:?}");
        let c = meter.take();
        out.push((name, c.rcu(), c.wcu()));
    }
    out
}

/// A person's list, unread count and open cost the same (within one
/// unit) in an account of 10 threads and of 300 (100 of them unread).
#[tokio::test]
async fn a_persons_calls_cost_the_same_in_a_large_account() {
    let mut costs = Vec::new();
    for n in [10, 300] {
        let meter = Meter::new(&aws().await);
        let w = World::metered(&meter).await;
        w.sync(directory()).await;
        seed(&w, n).await;
        costs.push(everyday(&w, &meter).await);
    }
    for (small, large) in costs[0].iter().zip(&costs[1]) {
        assert!(
            (large.1 - small.1).abs() <= 1.0 && (large.2 - small.2).abs() <= 1.0,
            "{} grows: {small:?} at 10 threads, {large:?} at 300",
            small.0
        );
    }
}
