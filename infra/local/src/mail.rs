//! Prints every e-mail that the local SES (moto) accepted, so a developer
//! sees the notifications: moto keeps what was sent and shows it at
//! `GET /moto-api/data.json` (`ses.Message[]` for simple sends,
//! `ses.RawMessage[].raw_data` for raw MIME). A dev aid: it tolerates any
//! shape, and stays quiet if the endpoint is not a moto.

use std::collections::HashSet;
use std::time::Duration;

use serde_json::Value;
use tokio::task::JoinHandle;

use crate::client::HttpClient;
use crate::Shutdown;

/// One accepted e-mail, as printed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mail {
    pub id: String,
    pub to: String,
    pub subject: String,
    pub text: String,
}

impl std::fmt::Display for Mail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "──── e-mail accepted by SES ────")?;
        writeln!(f, "To:      {}", self.to)?;
        writeln!(f, "Subject: {}", self.subject)?;
        for line in self
            .text
            .lines()
            .map(str::trim_end)
            .filter(|l| !l.is_empty())
            .take(8)
        {
            writeln!(f, "  {line}")?;
        }
        write!(f, "────────────────────────────────")
    }
}

/// The e-mails in a `data.json` document.
pub fn mails(data: &Value) -> Vec<Mail> {
    let ses = &data["ses"];
    let mut out = Vec::new();
    for m in ses["Message"].as_array().into_iter().flatten() {
        let to = m["destinations"]["ToAddresses"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .collect::<Vec<_>>()
                    .join(", ")
            })
            .or_else(|| m["destinations"].as_str().map(str::to_owned))
            .unwrap_or_default();
        let body = &m["body"];
        let text = body
            .as_str()
            .map(str::to_owned)
            .or_else(|| {
                body.as_object().map(|o| {
                    o.values()
                        .filter_map(Value::as_str)
                        .next()
                        .unwrap_or_default()
                        .to_owned()
                })
            })
            .unwrap_or_default();
        out.push(Mail {
            id: m["id"].as_str().unwrap_or_default().to_owned(),
            to,
            subject: m["subject"].as_str().unwrap_or_default().to_owned(),
            text: strip_tags(&text),
        });
    }
    for m in ses["RawMessage"].as_array().into_iter().flatten() {
        let raw = m["raw_data"].as_str().unwrap_or_default();
        let mut mail = parse_mime(raw);
        mail.id = m["id"].as_str().unwrap_or_default().to_owned();
        if mail.to.is_empty() {
            mail.to = m["destinations"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(Value::as_str)
                        .collect::<Vec<_>>()
                        .join(", ")
                })
                .unwrap_or_default();
        }
        out.push(mail);
    }
    out
}

/// Just enough MIME: the To and Subject headers (RFC 2047 words decoded
/// when they are UTF-8 base64 or Q), and the first text/plain part
/// (quoted-printable or base64 decoded).
pub fn parse_mime(raw: &str) -> Mail {
    let raw = raw.replace("\r\n", "\n");
    let (head, body) = raw.split_once("\n\n").unwrap_or((&raw, ""));
    let headers = unfold(head);
    let header = |name: &str| {
        headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| decode_words(v))
            .unwrap_or_default()
    };
    let text = text_part(&headers, body);
    Mail {
        id: String::new(),
        to: header("To"),
        subject: header("Subject"),
        text,
    }
}

fn unfold(head: &str) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for line in head.lines() {
        if line.starts_with([' ', '\t']) {
            if let Some(last) = out.last_mut() {
                last.1.push(' ');
                last.1.push_str(line.trim());
            }
        } else if let Some((k, v)) = line.split_once(':') {
            out.push((k.trim().to_owned(), v.trim().to_owned()));
        }
    }
    out
}

fn header_param(value: &str, param: &str) -> Option<String> {
    value.split(';').skip(1).find_map(|p| {
        let (k, v) = p.split_once('=')?;
        k.trim()
            .eq_ignore_ascii_case(param)
            .then(|| v.trim().trim_matches('"').to_owned())
    })
}

fn text_part(headers: &[(String, String)], body: &str) -> String {
    let get = |name: &str| {
        headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .unwrap_or_default()
    };
    let content_type = get("Content-Type");
    if content_type.to_ascii_lowercase().starts_with("multipart/") {
        let Some(boundary) = header_param(content_type, "boundary") else {
            return String::new();
        };
        let delimiter = format!("--{boundary}");
        let parts: Vec<&str> = body.split(delimiter.as_str()).skip(1).collect();
        // Prefer text/plain; fall back to the first part that yields text.
        let mut fallback = String::new();
        for part in parts {
            if part.starts_with("--") {
                break;
            }
            let part = part.trim_start_matches('\n');
            let (h, b) = part.split_once("\n\n").unwrap_or((part, ""));
            let hs = unfold(h);
            let ct = hs
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case("Content-Type"))
                .map(|(_, v)| v.to_ascii_lowercase())
                .unwrap_or_else(|| "text/plain".into());
            let text = text_part(&hs, b);
            if ct.starts_with("text/plain") && !text.trim().is_empty() {
                return text;
            }
            if fallback.trim().is_empty() {
                fallback = text;
            }
        }
        return fallback;
    }
    let decoded = match get("Content-Transfer-Encoding")
        .to_ascii_lowercase()
        .as_str()
    {
        "base64" => {
            use base64::Engine as _;
            let compact: String = body.split_whitespace().collect();
            base64::engine::general_purpose::STANDARD
                .decode(compact)
                .map(|b| String::from_utf8_lossy(&b).into_owned())
                .unwrap_or_default()
        }
        "quoted-printable" => quoted_printable(body),
        _ => body.to_owned(),
    };
    if content_type.to_ascii_lowercase().starts_with("text/html") {
        strip_tags(&decoded)
    } else {
        decoded
    }
}

fn quoted_printable(s: &str) -> String {
    let mut bytes = Vec::with_capacity(s.len());
    let src = s.as_bytes();
    let mut i = 0;
    while i < src.len() {
        match src[i] {
            b'=' if src.get(i + 1) == Some(&b'\n') => i += 2,
            b'=' if i + 2 < src.len() => {
                let hex = std::str::from_utf8(&src[i + 1..i + 3]).unwrap_or("");
                match u8::from_str_radix(hex, 16) {
                    Ok(b) => {
                        bytes.push(b);
                        i += 3;
                    }
                    Err(_) => {
                        bytes.push(b'=');
                        i += 1;
                    }
                }
            }
            b => {
                bytes.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

fn decode_words(v: &str) -> String {
    // =?UTF-8?B?...?= and =?UTF-8?Q?...?=, as mail builders write them.
    let mut out = String::new();
    let mut rest = v;
    while let Some(start) = rest.find("=?") {
        out.push_str(&rest[..start]);
        let word = &rest[start + 2..];
        let mut it = word.splitn(3, '?');
        let (Some(_charset), Some(enc), Some(tail)) = (it.next(), it.next(), it.next()) else {
            out.push_str(&rest[start..]);
            return out;
        };
        let Some(end) = tail.find("?=") else {
            out.push_str(&rest[start..]);
            return out;
        };
        let text = &tail[..end];
        let decoded = if enc.eq_ignore_ascii_case("B") {
            use base64::Engine as _;
            base64::engine::general_purpose::STANDARD
                .decode(text)
                .map(|b| String::from_utf8_lossy(&b).into_owned())
                .unwrap_or_else(|_| text.to_owned())
        } else {
            quoted_printable(&text.replace('_', " "))
        };
        out.push_str(&decoded);
        rest = tail[end + 2..].trim_start_matches([' ', '\t']);
        if !rest.starts_with("=?") && !rest.is_empty() {
            out.push(' ');
        }
    }
    out.push_str(rest);
    out.trim().to_owned()
}

fn strip_tags(s: &str) -> String {
    if !s.contains('<') {
        return s.to_owned();
    }
    let mut out = String::with_capacity(s.len());
    let mut in_tag = false;
    for c in s.chars() {
        match c {
            '<' => in_tag = true,
            '>' if in_tag => {
                in_tag = false;
                out.push(' ');
            }
            c if !in_tag => out.push(c),
            _ => {}
        }
    }
    out.split('\n')
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Polls `{endpoint}/moto-api/data.json` about every second and prints
/// each e-mail not printed before. Quietly does nothing unless the endpoint
/// answers like a moto.
pub fn start(endpoint: String, shutdown: Shutdown) -> JoinHandle<()> {
    let mut stop = shutdown.0;
    tokio::spawn(async move {
        if !endpoint.starts_with("http://") {
            return;
        }
        let url = format!("{}/moto-api/data.json", endpoint.trim_end_matches('/'));
        let client = HttpClient::new();
        let mut seen: HashSet<String> = HashSet::new();
        let mut first = true;
        loop {
            match client.get(&url, &[]).await {
                Ok(r) if r.status == 200 => {
                    let data = r.json();
                    if data.is_null() {
                        return;
                    }
                    for mail in mails(&data) {
                        let key = if mail.id.is_empty() {
                            format!("{}|{}|{}", mail.to, mail.subject, mail.text)
                        } else {
                            mail.id.clone()
                        };
                        // What was sent before the gateway started is old news.
                        if seen.insert(key) && !first {
                            println!("{mail}");
                        }
                    }
                    first = false;
                }
                // Not a moto (or not up): nothing to print.
                Ok(_) if first => return,
                Ok(_) | Err(_) => {}
            }
            tokio::select! {
                _ = stop.changed() => return,
                _ = tokio::time::sleep(Duration::from_secs(1)) => {}
            }
            if crate::is_stopped(&stop) {
                return;
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn raw_and_simple_mails_are_read() {
        let raw = "From: liaison@agency.example\r\nTo: \"Dana\" <dana@agency.example>\r\nSubject: =?utf-8?B?W1VyZ2VudF0gTmV3IG1lc3NhZ2UgZnJvbSBDaHJpcyDigJQgR2VuZXJhbA==?=\r\nMIME-Version: 1.0\r\nContent-Type: multipart/alternative; boundary=\"b1\"\r\n\r\n--b1\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nChris wrote:=\r\n hello =E2=80=94 there\r\n\r\n--b1\r\nContent-Type: text/html\r\n\r\n<p>hello</p>\r\n--b1--\r\n";
        let data = json!({"ses": {
            "RawMessage": [{"id": "r1", "raw_data": raw, "destinations": []}],
            "Message": [{"id": "m1", "subject": "Hi", "body": "<p>Body</p>",
                         "destinations": {"ToAddresses": ["chris@acme.example"]}}]
        }});
        let all = mails(&data);
        assert_eq!(all.len(), 2);
        assert_eq!(all[0].to, "chris@acme.example");
        assert_eq!(all[0].text.trim(), "Body");
        assert_eq!(all[1].id, "r1");
        assert_eq!(all[1].to, "\"Dana\" <dana@agency.example>");
        assert_eq!(all[1].subject, "[Urgent] New message from Chris — General");
        assert!(
            all[1].text.contains("Chris wrote: hello — there"),
            "{}",
            all[1].text
        );
        // Any other shape: nothing, and no panic.
        assert!(mails(&json!([1, 2])).is_empty());
        assert!(mails(&json!({"ses": {"RawMessage": [{"raw_data": 3}]}})).len() == 1);
    }
}
