//! Mail in, as SES receiving does it: an SMTP listener (`make dev`:
//! 127.0.0.1:2525, `LIAISON_SMTP_ADDR`) that accepts mail for the reply
//! domain, stores each message whole in the bucket under `inbound/` (the
//! receipt rule's S3 action) and then invokes `receive-reply` with the
//! event SES would send (its Lambda action, invocation type `Event`). So
//! any mail client, `swaks` or Python's `smtplib` can answer a notification
//! that `make dev` printed.
//!
//! What SES decides before the function runs is decided here the same way:
//! a recipient outside the reply domain is refused at `RCPT TO` (SES
//! refuses mail for domains it does not receive), a message over SES's 40 MB
//! limit at `DATA`. The verdicts SES computes (spam, virus, SPF, DKIM,
//! DMARC) are `PASS` unless the message sets them for a test with
//! `X-Liaison-{Spam,Virus,Spf,Dkim,Dmarc}-Verdict: PASS|FAIL|GRAY|PROCESSING_FAILED`
//! headers; a deployed stack takes SES's real verdicts.
//!
//! `250` after `DATA` means stored (as SES's does); the invocation follows
//! asynchronously and, like Lambda's for an `Event` invocation, is retried
//! twice on an error. Plain SMTP, no TLS and no AUTH: it listens on
//! loopback for one developer.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use aws_lambda_events::event::ses::SimpleEmailEvent;
use mail_parser::MessageParser;
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use crate::{Functions, Shutdown};

/// Where `make dev` listens for mail.
pub const DEFAULT_SMTP_ADDR: &str = "127.0.0.1:2525";
/// The setting naming another address.
pub const SMTP_ADDR_VAR: &str = "LIAISON_SMTP_ADDR";
/// SES receiving's limit for a message (headers and body).
pub const MAX_MESSAGE_BYTES: usize = 40 * 1024 * 1024;
/// Where the receipt rule's S3 action stores messages.
pub const INBOUND_PREFIX: &str = "inbound/";
/// The longest command line accepted (RFC 5321 says 512 with the CRLF;
/// some clients send longer `MAIL FROM` parameters).
const MAX_LINE: usize = 4096;
/// A connection idle this long is closed (RFC 5321 suggests 5 minutes).
const IDLE: Duration = Duration::from_secs(300);
/// The headers whose value sets a verdict, and the verdict each sets.
pub const VERDICT_HEADERS: [(&str, &str); 5] = [
    ("X-Liaison-Spam-Verdict", "spamVerdict"),
    ("X-Liaison-Virus-Verdict", "virusVerdict"),
    ("X-Liaison-Spf-Verdict", "spfVerdict"),
    ("X-Liaison-Dkim-Verdict", "dkimVerdict"),
    ("X-Liaison-Dmarc-Verdict", "dmarcVerdict"),
];

/// What the listener needs besides the functions.
#[derive(Debug, Clone)]
pub struct SmtpOptions {
    /// The reply domain: the only one mail is accepted for.
    pub domain: String,
    pub bucket: String,
    pub region: String,
}

/// One accepted message, as SES would describe it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    /// `MAIL FROM` (empty for a bounce: `MAIL FROM:<>`).
    pub from: String,
    /// Every `RCPT TO` accepted.
    pub recipients: Vec<String>,
}

/// Binds the listener (port 0: the OS picks).
pub async fn bind(addr: SocketAddr) -> std::io::Result<TcpListener> {
    TcpListener::bind(addr).await
}

/// Serves SMTP on `listener` until `shutdown`.
pub fn start(
    listener: TcpListener,
    s3: aws_sdk_s3::Client,
    functions: Arc<Functions>,
    options: SmtpOptions,
    shutdown: Shutdown,
) -> JoinHandle<()> {
    let options = Arc::new(options);
    tokio::spawn(async move {
        let mut stop = shutdown.0.clone();
        loop {
            if crate::is_stopped(&stop) {
                return;
            }
            let accepted = tokio::select! {
                a = listener.accept() => a,
                _ = stop.changed() => return,
            };
            let Ok((socket, _)) = accepted else {
                continue;
            };
            let (s3, functions, options) = (s3.clone(), functions.clone(), options.clone());
            tokio::spawn(async move {
                let (read, write) = socket.into_split();
                let domain = options.domain.clone();
                let delivered = move |envelope: Envelope, raw: Vec<u8>| {
                    let (s3, functions, options) = (s3.clone(), functions.clone(), options.clone());
                    async move { deliver(&s3, functions, &options, envelope, raw).await }
                };
                if let Err(e) = session(read, write, &domain, delivered).await {
                    tracing::debug!(error = %e, "smtp session ended");
                }
            });
        }
    })
}

/// Stores the message, then invokes `receive-reply` in the background.
/// `Err` (a temporary failure for the client) when it could not be stored.
async fn deliver(
    s3: &aws_sdk_s3::Client,
    functions: Arc<Functions>,
    options: &SmtpOptions,
    envelope: Envelope,
    raw: Vec<u8>,
) -> Result<String, String> {
    let id = ses_message_id();
    let key = format!("{INBOUND_PREFIX}{id}");
    s3.put_object()
        .bucket(&options.bucket)
        .key(&key)
        .body(raw.clone().into())
        .send()
        .await
        .map_err(|e| {
            tracing::error!(error = %aws_sdk_s3::error::DisplayErrorContext(&e), "storing an inbound e-mail failed");
            "the message could not be stored".to_owned()
        })?;
    let event = ses_event(&raw, &id, &envelope, options);
    let event: SimpleEmailEvent = serde_json::from_value(event).map_err(|e| e.to_string())?;
    let message_id = id.clone();
    tokio::spawn(async move {
        // Lambda retries a failed Event invocation twice.
        for attempt in 1..=3u32 {
            match functions.receive_reply(event.clone()).await {
                Ok(_) => return,
                Err(d) => {
                    tracing::warn!(ses_message_id = %message_id, attempt, error_type = %d.error_type, "receive-reply failed");
                    tokio::time::sleep(Duration::from_millis(500 * u64::from(attempt))).await;
                }
            }
        }
    });
    Ok(id)
}

/// An id shaped like SES's (40 lower-case letters and digits).
fn ses_message_id() -> String {
    const CHARS: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    (0..40)
        .map(|_| CHARS[fastrand::usize(..CHARS.len())] as char)
        .collect()
}

/// The event SES receiving sends a Lambda action for this message, stored
/// as `inbound/{id}` in `options.bucket`.
pub fn ses_event(raw: &[u8], id: &str, envelope: &Envelope, options: &SmtpOptions) -> Value {
    let parsed = MessageParser::default().parse_headers(raw);
    let header = |name: &str| -> Option<String> {
        parsed
            .as_ref()
            .and_then(|m| m.header_raw(name))
            .map(|v| v.trim().to_owned())
    };
    let mut headers = Vec::new();
    if let Some(m) = &parsed {
        for h in m.headers_raw() {
            headers.push(json!({"name": h.0, "value": h.1.trim()}));
        }
    }
    let verdict = |name: &str| {
        let status = header(name)
            .map(|v| v.to_ascii_uppercase())
            .filter(|v| ["PASS", "FAIL", "GRAY", "PROCESSING_FAILED"].contains(&v.as_str()))
            .unwrap_or_else(|| "PASS".to_owned());
        json!({ "status": status })
    };
    let list = |name: &str| -> Vec<String> {
        header(name)
            .map(|v| {
                v.split(',')
                    .map(|s| s.trim().to_owned())
                    .filter(|s| !s.is_empty())
                    .collect()
            })
            .unwrap_or_default()
    };
    let now = time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default();
    let in_domain: Vec<&String> = envelope
        .recipients
        .iter()
        .filter(|r| in_domain(r, &options.domain))
        .collect();
    let mut receipt = json!({
        "recipients": in_domain,
        "timestamp": now,
        "processingTimeMillis": 1,
        "dmarcPolicy": "none",
        "action": {
            "type": "Lambda",
            "invocationType": "Event",
            "functionArn": format!("arn:aws:lambda:{}:123456789012:function:receive-reply", options.region),
        },
    });
    for (name, field) in VERDICT_HEADERS {
        receipt[field] = verdict(name);
    }
    json!({
        "Records": [{
            "eventVersion": "1.0",
            "eventSource": "aws:ses",
            "ses": {
                "mail": {
                    "timestamp": now,
                    "source": envelope.from,
                    "messageId": id,
                    "destination": envelope.recipients,
                    "headersTruncated": false,
                    "headers": headers,
                    "commonHeaders": {
                        "returnPath": envelope.from,
                        "from": list("From"),
                        "to": list("To"),
                        "date": header("Date"),
                        "messageId": header("Message-ID"),
                        "subject": header("Subject"),
                    },
                },
                "receipt": receipt,
            },
        }],
    })
}

fn in_domain(address: &str, domain: &str) -> bool {
    address
        .rsplit_once('@')
        .is_some_and(|(_, d)| d.eq_ignore_ascii_case(domain))
}

/// The address in `MAIL FROM:<a> …` / `RCPT TO:<a> …` after the colon.
fn path(arg: &str) -> Option<String> {
    let arg = arg.trim_start();
    let inner = arg.strip_prefix('<')?;
    let end = inner.find('>')?;
    Some(inner[..end].trim().to_owned())
}

async fn reply<W: AsyncWrite + Unpin>(w: &mut W, line: &str) -> std::io::Result<()> {
    w.write_all(line.as_bytes()).await?;
    w.write_all(b"\r\n").await?;
    w.flush().await
}

/// Reads one line (up to `MAX_LINE` bytes; longer: `None`), or `Ok(None)`
/// at the end of the stream.
async fn read_line<R: AsyncRead + Unpin>(
    r: &mut BufReader<R>,
    buf: &mut Vec<u8>,
) -> std::io::Result<Option<bool>> {
    buf.clear();
    let n = tokio::time::timeout(IDLE, (&mut *r).take(MAX_LINE as u64).read_until(b'\n', buf))
        .await
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "idle"))??;
    if n == 0 {
        return Ok(None);
    }
    Ok(Some(buf.ends_with(b"\n")))
}

/// One SMTP session (RFC 5321's minimum: HELO/EHLO, MAIL, RCPT, DATA,
/// RSET, NOOP, QUIT; VRFY answers 252). `deliver` stores an accepted
/// message and answers its id.
pub async fn session<R, W, F, Fut>(
    read: R,
    mut w: W,
    domain: &str,
    deliver: F,
) -> std::io::Result<()>
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
    F: Fn(Envelope, Vec<u8>) -> Fut,
    Fut: std::future::Future<Output = Result<String, String>>,
{
    let mut r = BufReader::new(read);
    let mut line = Vec::with_capacity(256);
    let mut from: Option<String> = None;
    let mut recipients: Vec<String> = Vec::new();
    let mut greeted = false;
    reply(
        &mut w,
        "220 liaison-local ESMTP (mail for the reply domain only)",
    )
    .await?;
    loop {
        let Some(complete) = read_line(&mut r, &mut line).await? else {
            return Ok(());
        };
        if !complete {
            reply(&mut w, "500 5.5.2 Line too long").await?;
            continue;
        }
        let text = String::from_utf8_lossy(&line);
        let text = text.trim_end_matches(['\r', '\n']);
        let (verb, arg) = text.split_once(' ').unwrap_or((text, ""));
        match verb.to_ascii_uppercase().as_str() {
            "EHLO" => {
                greeted = true;
                from = None;
                recipients.clear();
                reply(&mut w, "250-liaison-local").await?;
                reply(&mut w, &format!("250-SIZE {MAX_MESSAGE_BYTES}")).await?;
                reply(&mut w, "250-8BITMIME").await?;
                reply(&mut w, "250-SMTPUTF8").await?;
                reply(&mut w, "250 ENHANCEDSTATUSCODES").await?;
            }
            "HELO" => {
                greeted = true;
                from = None;
                recipients.clear();
                reply(&mut w, "250 liaison-local").await?;
            }
            "MAIL" => {
                let addr = arg
                    .get(..5)
                    .filter(|p| p.eq_ignore_ascii_case("FROM:"))
                    .and_then(|_| path(&arg[5..]));
                match addr {
                    _ if !greeted => reply(&mut w, "503 5.5.1 Say EHLO first").await?,
                    _ if from.is_some() => reply(&mut w, "503 5.5.1 Nested MAIL command").await?,
                    Some(a) => {
                        from = Some(a);
                        recipients.clear();
                        reply(&mut w, "250 2.1.0 Ok").await?;
                    }
                    None => reply(&mut w, "501 5.5.4 Syntax: MAIL FROM:<address>").await?,
                }
            }
            "RCPT" => {
                let addr = arg
                    .get(..3)
                    .filter(|p| p.eq_ignore_ascii_case("TO:"))
                    .and_then(|_| path(&arg[3..]));
                match addr {
                    _ if from.is_none() => reply(&mut w, "503 5.5.1 Need MAIL first").await?,
                    Some(a) if in_domain(&a, domain) => {
                        if recipients.len() >= 50 {
                            reply(&mut w, "452 4.5.3 Too many recipients").await?;
                        } else {
                            recipients.push(a);
                            reply(&mut w, "250 2.1.5 Ok").await?;
                        }
                    }
                    Some(_) => reply(
                        &mut w,
                        "550 5.1.1 Mailbox does not exist: only the reply domain is received here",
                    )
                    .await?,
                    None => reply(&mut w, "501 5.5.4 Syntax: RCPT TO:<address>").await?,
                }
            }
            "DATA" => {
                if from.is_none() || recipients.is_empty() {
                    reply(&mut w, "503 5.5.1 Need MAIL and RCPT first").await?;
                    continue;
                }
                reply(&mut w, "354 End data with <CR><LF>.<CR><LF>").await?;
                let mut raw = Vec::new();
                let mut too_big = false;
                loop {
                    let Some(_) = read_line(&mut r, &mut line).await? else {
                        return Ok(());
                    };
                    let content = line.strip_suffix(b"\n").unwrap_or(&line);
                    let content = content.strip_suffix(b"\r").unwrap_or(content);
                    if content == b"." {
                        break;
                    }
                    // Dot-stuffing (RFC 5321 4.5.2).
                    let content = content.strip_prefix(b".").unwrap_or(content);
                    if raw.len() + content.len() + 2 > MAX_MESSAGE_BYTES {
                        too_big = true;
                        continue;
                    }
                    if !too_big {
                        raw.extend_from_slice(content);
                        raw.extend_from_slice(b"\r\n");
                    }
                }
                let envelope = Envelope {
                    from: from.take().unwrap_or_default(),
                    recipients: std::mem::take(&mut recipients),
                };
                if too_big {
                    reply(
                        &mut w,
                        "552 5.3.4 Message too big (SES receives up to 40 MB)",
                    )
                    .await?;
                    continue;
                }
                match deliver(envelope, raw).await {
                    Ok(id) => reply(&mut w, &format!("250 2.0.0 Ok: queued as {id}")).await?,
                    Err(e) => reply(&mut w, &format!("451 4.3.0 {e}; try again")).await?,
                }
            }
            "RSET" => {
                from = None;
                recipients.clear();
                reply(&mut w, "250 2.0.0 Ok").await?;
            }
            "NOOP" => reply(&mut w, "250 2.0.0 Ok").await?,
            "VRFY" => reply(&mut w, "252 2.1.5 Cannot verify; send it").await?,
            "QUIT" => {
                reply(&mut w, "221 2.0.0 Bye").await?;
                return Ok(());
            }
            _ => reply(&mut w, "502 5.5.2 Command not recognized").await?,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    async fn converse(script: &str) -> (String, Vec<(Envelope, Vec<u8>)>) {
        let got = Arc::new(Mutex::new(Vec::new()));
        let (client, server) = tokio::io::duplex(1 << 20);
        let (sr, sw) = tokio::io::split(server);
        let sink = got.clone();
        let served = tokio::spawn(async move {
            session(sr, sw, "reply.example", move |e, raw| {
                let sink = sink.clone();
                async move {
                    sink.lock().unwrap().push((e, raw));
                    Ok("id1".to_owned())
                }
            })
            .await
        });
        let (mut cr, mut cw) = tokio::io::split(client);
        cw.write_all(script.as_bytes()).await.unwrap();
        let mut out = String::new();
        cr.read_to_string(&mut out).await.unwrap();
        served.await.unwrap().unwrap();
        let got = got.lock().unwrap().clone();
        (out, got)
    }

    #[tokio::test]
    async fn a_message_for_the_reply_domain_is_delivered_unstuffed() {
        let (out, got) = converse(
            "EHLO me\r\nMAIL FROM:<chris@acme.example> SIZE=100\r\nRCPT TO:<elsewhere@acme.example>\r\n\
             RCPT TO:<reply+abc@Reply.Example>\r\nDATA\r\nSubject: hi\r\n\r\n..leading dot\r\nbody\r\n.\r\nQUIT\r\n",
        )
        .await;
        assert!(out.starts_with("220 "), "{out}");
        assert!(out.contains("550 5.1.1"), "other domains refused: {out}");
        assert!(out.contains("354 "), "{out}");
        assert!(out.contains("250 2.0.0 Ok: queued as id1"), "{out}");
        assert!(out.trim_end().ends_with("221 2.0.0 Bye"), "{out}");
        assert_eq!(got.len(), 1);
        let (envelope, raw) = &got[0];
        assert_eq!(envelope.from, "chris@acme.example");
        assert_eq!(
            envelope.recipients,
            vec!["reply+abc@Reply.Example".to_owned()]
        );
        assert_eq!(raw, b"Subject: hi\r\n\r\n.leading dot\r\nbody\r\n");
    }

    #[tokio::test]
    async fn commands_out_of_order_are_refused() {
        let (out, got) = converse(
            "MAIL FROM:<a@b.example>\r\nHELO me\r\nRCPT TO:<reply+x@reply.example>\r\nDATA\r\n\
             MAIL FROM:<>\r\nDATA\r\nRCPT TO:nonsense\r\nBOGUS\r\nRSET\r\nQUIT\r\n",
        )
        .await;
        let codes: Vec<&str> = out.lines().map(|l| &l[..3]).collect();
        assert_eq!(
            codes,
            ["220", "503", "250", "503", "503", "250", "503", "501", "502", "250", "221"],
            "{out}"
        );
        assert!(got.is_empty());
    }

    #[test]
    fn the_event_is_what_ses_sends_with_verdicts_from_test_headers() {
        let raw = b"From: Chris <chris@acme.example>\r\nTo: reply+abc@reply.example\r\n\
            Subject: Re: hi\r\nMessage-ID: <m1@acme.example>\r\nX-Liaison-Spam-Verdict: fail\r\n\r\nbody\r\n";
        let options = SmtpOptions {
            domain: "reply.example".into(),
            bucket: "b".into(),
            region: "eu-west-1".into(),
        };
        let envelope = Envelope {
            from: "chris@acme.example".into(),
            recipients: vec!["reply+abc@reply.example".into(), "cc@other.example".into()],
        };
        let event: SimpleEmailEvent =
            serde_json::from_value(ses_event(raw, "id1", &envelope, &options)).unwrap();
        let ses = &event.records[0].ses;
        assert_eq!(ses.mail.message_id.as_deref(), Some("id1"));
        assert_eq!(ses.mail.source.as_deref(), Some("chris@acme.example"));
        assert_eq!(
            ses.mail.common_headers.from,
            vec!["Chris <chris@acme.example>"]
        );
        assert_eq!(ses.mail.common_headers.subject.as_deref(), Some("Re: hi"));
        assert_eq!(ses.receipt.recipients, vec!["reply+abc@reply.example"]);
        assert_eq!(ses.receipt.spam_verdict.status.as_deref(), Some("FAIL"));
        assert_eq!(ses.receipt.virus_verdict.status.as_deref(), Some("PASS"));
        assert_eq!(ses.receipt.dmarc_verdict.status.as_deref(), Some("PASS"));
    }
}
