//! Prints every e-mail that the local SES (moto) accepted, so a developer
//! sees the notifications: our moto (`scripts/moto_server.py`) serves what
//! was sent at [`SENT_EMAIL_PATH`], a plain moto at `GET
//! /moto-api/data.json` (the whole state: slow once it is large); both as
//! `ses.Message[]` for simple sends, `ses.RawMessage[].raw_data` for raw
//! MIME. A dev aid: it tolerates any
//! shape, and stays quiet if the endpoint is not a moto. The `Reply-To`
//! is shown: answering that address (over the local SMTP listener) posts
//! the answer in the thread. So is the one-click unsubscribe link of
//! `List-Unsubscribe`: `curl -X POST` it (or open it) to mute the thread.

use std::collections::HashSet;
use std::time::Duration;

use mail_parser::decoders::html::html_to_text;
use mail_parser::MessageParser;
use serde_json::Value;
use tokio::task::JoinHandle;

use crate::client::HttpClient;
use crate::Shutdown;

/// One accepted e-mail, as printed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Mail {
    pub id: String,
    pub to: String,
    /// Where an answer goes (`"Dana via Liaison" <reply+…@…>`); empty if none.
    pub reply_to: String,
    /// The `https` (here `http`) link of `List-Unsubscribe`; empty if none.
    pub unsubscribe: String,
    pub subject: String,
    pub text: String,
}

impl std::fmt::Display for Mail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "──── e-mail accepted by SES ────")?;
        writeln!(f, "To:       {}", self.to)?;
        if !self.reply_to.is_empty() {
            writeln!(f, "Reply-To: {}", self.reply_to)?;
        }
        writeln!(f, "Subject:  {}", self.subject)?;
        if !self.unsubscribe.is_empty() {
            writeln!(f, "Unsubscribe (one click, POST): {}", self.unsubscribe)?;
        }
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

/// A JSON list of addresses as one `To` line.
fn addresses(list: &Value) -> Option<String> {
    let list = list.as_array()?;
    Some(
        list.iter()
            .filter_map(Value::as_str)
            .collect::<Vec<_>>()
            .join(", "),
    )
}

/// The e-mails in a `data.json` document.
pub fn mails(data: &Value) -> Vec<Mail> {
    let ses = &data["ses"];
    let mut out = Vec::new();
    for m in ses["Message"].as_array().into_iter().flatten() {
        let to = addresses(&m["destinations"]["ToAddresses"])
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
            // moto does not keep a simple send's Reply-To (ours are raw).
            reply_to: String::new(),
            unsubscribe: String::new(),
            subject: m["subject"].as_str().unwrap_or_default().to_owned(),
            text: strip_tags(&text),
        });
    }
    for m in ses["RawMessage"].as_array().into_iter().flatten() {
        let raw = m["raw_data"].as_str().unwrap_or_default();
        let mut mail = parse_mime(raw);
        mail.id = m["id"].as_str().unwrap_or_default().to_owned();
        if mail.to.is_empty() {
            mail.to = addresses(&m["destinations"]).unwrap_or_default();
        }
        out.push(mail);
    }
    out
}

/// The To, Reply-To, Subject and `List-Unsubscribe` (its web link) headers
/// and the first text part (HTML turned into text) of a raw MIME message,
/// as `mail-parser` reads them.
pub fn parse_mime(raw: &str) -> Mail {
    let Some(message) = MessageParser::default().parse(raw) else {
        return Mail::default();
    };
    let list = |header: Option<&mail_parser::Address<'_>>| {
        header
            .map(|list| {
                list.iter()
                    .map(|a| match (a.name(), a.address()) {
                        (Some(name), Some(addr)) => format!("\"{name}\" <{addr}>"),
                        (name, addr) => addr.or(name).unwrap_or_default().to_owned(),
                    })
                    .collect::<Vec<_>>()
                    .join(", ")
            })
            .unwrap_or_default()
    };
    Mail {
        id: String::new(),
        to: list(message.to()),
        reply_to: list(message.reply_to()),
        unsubscribe: message
            .header_raw("List-Unsubscribe")
            .map(web_unsubscribe_link)
            .unwrap_or_default(),
        subject: message.subject().unwrap_or_default().to_owned(),
        text: message.body_text(0).unwrap_or_default().into_owned(),
    }
}

/// The `http(s)` link among a `List-Unsubscribe` header's `<…>` entries.
fn web_unsubscribe_link(header: &str) -> String {
    header
        .split(',')
        .filter_map(|entry| {
            let entry = entry.trim();
            entry.strip_prefix('<')?.split_once('>').map(|(l, _)| l)
        })
        .map(|link| link.split_whitespace().collect::<String>())
        .find(|link| link.starts_with("https://") || link.starts_with("http://"))
        .unwrap_or_default()
}

fn strip_tags(s: &str) -> String {
    if s.contains('<') {
        html_to_text(s)
    } else {
        s.to_owned()
    }
}

/// Where `scripts/moto_server.py` lists the e-mails SES accepted, in
/// data.json's shape but without the rest of moto's state.
pub const SENT_EMAIL_PATH: &str = "/_liaison/sent-email";

/// The URL listing the e-mails `endpoint`'s SES accepted: ours if it
/// answers, else a plain moto's data.json; `None` if neither does.
pub async fn sent_email_url(client: &HttpClient, endpoint: &str) -> Option<String> {
    let base = endpoint.trim_end_matches('/');
    for url in [
        format!("{base}{SENT_EMAIL_PATH}"),
        format!("{base}/moto-api/data.json"),
    ] {
        if matches!(client.get(&url, &[]).await, Ok(r) if r.status == 200) {
            return Some(url);
        }
    }
    None
}

/// Polls the local SES's sent e-mail ([`sent_email_url`]) about every
/// second and prints each e-mail not printed before. Quietly does nothing
/// unless the endpoint answers like a moto.
pub fn start(endpoint: String, shutdown: Shutdown) -> JoinHandle<()> {
    let mut stop = shutdown.0;
    tokio::spawn(async move {
        if !endpoint.starts_with("http://") {
            return;
        }
        let client = HttpClient::new();
        let Some(url) = sent_email_url(&client, &endpoint).await else {
            return;
        };
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
        let raw = "From: liaison@agency.example\r\nTo: \"Dana\" <dana@agency.example>\r\nReply-To: \"Chris via Liaison\"\r\n <reply+abc@reply.liaison.localhost>\r\nSubject: =?utf-8?B?W1VyZ2VudF0gTmV3IG1lc3NhZ2UgZnJvbSBDaHJpcyDigJQgR2VuZXJhbA==?=\r\nMIME-Version: 1.0\r\nContent-Type: multipart/alternative; boundary=\"b1\"\r\n\r\n--b1\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nChris wrote:=\r\n hello =E2=80=94 there\r\n\r\n--b1\r\nContent-Type: text/html\r\n\r\n<p>hello</p>\r\n--b1--\r\n";
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
        assert_eq!(
            all[1].reply_to,
            "\"Chris via Liaison\" <reply+abc@reply.liaison.localhost>"
        );
        assert!(
            all[1]
                .to_string()
                .contains("Reply-To: \"Chris via Liaison\" <reply+abc@reply.liaison.localhost>"),
            "{}",
            all[1]
        );
        assert!(!all[0].to_string().contains("Reply-To"), "none: no line");
        assert!(!all[1].to_string().contains("Unsubscribe"), "none: no line");
        assert!(
            all[1].text.contains("Chris wrote: hello — there"),
            "{}",
            all[1].text
        );
        // Any other shape: nothing, and no panic.
        assert!(mails(&json!([1, 2])).is_empty());
        assert!(mails(&json!({"ses": {"RawMessage": [{"raw_data": 3}]}})).len() == 1);
    }

    #[test]
    fn the_unsubscribe_link_is_shown() {
        let raw = "From: liaison@agency.example\r\nTo: dana@agency.example\r\nList-Unsubscribe: <http://127.0.0.1:3000/unsubscribe/b0abc>,\r\n <mailto:unsubscribe+b0abc@reply.liaison.localhost>\r\nList-Unsubscribe-Post: List-Unsubscribe=One-Click\r\nSubject: Hi\r\nContent-Type: text/plain\r\n\r\nhello\r\n";
        let mail = parse_mime(raw);
        assert_eq!(mail.unsubscribe, "http://127.0.0.1:3000/unsubscribe/b0abc");
        assert!(
            mail.to_string()
                .contains("Unsubscribe (one click, POST): http://127.0.0.1:3000/unsubscribe/b0abc"),
            "{mail}"
        );
        assert_eq!(web_unsubscribe_link("<mailto:x@y>"), "");
    }
}
