//! Sizes at the edges of the contract: the largest valid request is
//! accepted, the largest page fits in a Lambda response.

use aws_lambda_events::apigw::ApiGatewayV2httpResponse;
use aws_lambda_events::http;
use lambda_http::Body;
use serde_json::{json, Value};

use crate::support::*;

/// JSON text of `s` with every UTF-16 unit escaped, as Python's
/// `json.dumps` writes non-ASCII text (an emoji is `\ud83d\ude00`).
fn ascii_json_string(s: &str) -> String {
    let mut out = String::from("\"");
    for unit in s.encode_utf16() {
        out.push_str(&format!("\\u{unit:04x}"));
    }
    out.push('"');
    out
}

/// Lambda's limit on a synchronous response, the envelope included.
const LAMBDA_RESPONSE_LIMIT: usize = 6 * 1024 * 1024;

#[tokio::test]
async fn the_largest_valid_body_is_accepted_in_its_most_verbose_encoding() {
    let w = World::new().await;
    let t = general_thread(&w).await;
    let (chris, path) = (chris(), format!("/threads/{t}/messages"));
    let post = |raw: String| w.call_raw(&chris, "POST", &path, Some(raw));
    let body = "😀".repeat(liaison::domain::BODY_MAX_CHARS);
    let raw = format!(
        "{{{}: {}, {}: {}, {}: true}}",
        ascii_json_string("body"),
        ascii_json_string(&body),
        ascii_json_string("client_message_id"),
        ascii_json_string(&"c".repeat(100)),
        ascii_json_string("urgent"),
    );
    assert!(raw.len() > 120_000, "{}", raw.len());
    let m = post(raw).await.expect(201);
    assert_eq!(m["body"].as_str().unwrap().chars().count(), 10_000);
    // One character more is refused, by the body rule, not by size.
    let raw = format!(
        "{{\"body\": {}, \"client_message_id\": \"c-2\"}}",
        ascii_json_string(&format!("{body}x"))
    );
    let err = post(raw).await.problem(400, "validation_failed");
    assert_eq!(err["errors"][0]["field"], "body");
    // Past the limit, a 413 before any parsing.
    post(" ".repeat(liaison::http::MAX_BODY_BYTES + 1))
        .await
        .problem(413, "payload_too_large");
}

#[tokio::test]
async fn a_page_of_the_largest_messages_fits_in_a_lambda_response() {
    let w = World::new().await;
    let t = general_thread(&w).await;
    // Control characters are the most expensive in JSON: 1 byte stored,
    // `\u0001` (6 bytes) in the body, 7 once the body is a string in the
    // Lambda response.
    let body = "\u{1}".repeat(liaison::domain::BODY_MAX_CHARS);
    for i in 0..100 {
        w.call(
            &chris(),
            "POST",
            &format!("/threads/{t}/messages"),
            Some(
                json!({"body": format!("{i}{body}").chars().take(10_000).collect::<String>(),
                        "client_message_id": format!("big-{i}")}),
            ),
        )
        .await
        .expect(201);
    }
    let mut seen: Vec<String> = Vec::new();
    let mut pages = 0;
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            None => format!("/threads/{t}/messages?limit=100"),
            Some(c) => format!("/threads/{t}/messages?limit=100&cursor={c}"),
        };
        let page = w.call(&chris(), "GET", &path, None).await.expect(200);
        pages += 1;
        // The response as the Lambda runtime sends it: the body, as text,
        // inside API Gateway's JSON envelope (measured here independently of
        // the budget's own estimate).
        let mut envelope = ApiGatewayV2httpResponse::default();
        envelope.status_code = 200;
        envelope.headers.insert(
            http::header::CONTENT_TYPE,
            http::HeaderValue::from_static("application/json; charset=utf-8"),
        );
        envelope.body = Some(Body::Text(serde_json::to_string(&page).unwrap()));
        let envelope = serde_json::to_string(&envelope).unwrap().len();
        assert!(
            envelope < LAMBDA_RESPONSE_LIMIT,
            "page {pages} needs {envelope} bytes"
        );
        let messages = page["messages"].as_array().unwrap();
        assert!(!messages.is_empty());
        seen.extend(
            messages
                .iter()
                .map(|m: &Value| m["id"].as_str().unwrap().to_owned()),
        );
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    assert!(pages >= 2, "100 × 70 KB cannot fit one response");
    let mut sorted = seen.clone();
    sorted.sort_by(|a, b| b.cmp(a));
    sorted.dedup();
    assert_eq!(seen, sorted, "newest first, each once");
    assert_eq!(seen.len(), 100);
}
