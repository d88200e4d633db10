//! Reply by e-mail, the whole round trip through the local gateway as a
//! person lives it: the manager writes in the page (HTTP) → the client gets
//! the notification e-mail (SES) → the client answers it from their mail
//! program (SMTP to the gateway's listener, as SES receiving takes it) →
//! the answer is in the thread, by the client → the manager gets the usual
//! e-mail about it.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use liaison_local::client::{HttpClient, HttpResponse};
use liaison_local::Gateway;
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

use crate::notify::{sent_from, Sent};
use crate::support;

struct Local {
    gateway: Gateway,
    http: HttpClient,
    from: String,
}

impl Local {
    async fn start() -> Self {
        let mut config = support::gateway_config("rs").await;
        config.notify_delay = Duration::from_secs(1);
        config.smtp_addr = Some("127.0.0.1:0".parse().expect("an address"));
        let from = config.names.from_email.clone();
        Self {
            gateway: Gateway::start(config).await.expect("the gateway starts"),
            http: HttpClient::new(),
            from,
        }
    }

    async fn call(
        &self,
        user: &str,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> HttpResponse {
        let auth = format!("Bearer {}", support::demo_token(user));
        self.http
            .send(
                method,
                &format!("{}{path}", self.gateway.url()),
                &[
                    ("content-type", "application/json"),
                    ("authorization", &auth),
                ],
                body.map(|b| b.to_string().into_bytes()),
            )
            .await
            .expect("the gateway answers")
    }

    /// The first e-mail to `to` that `pick` accepts, waiting up to 90 s
    /// (the pipeline is seconds here, but CI machines are busy).
    async fn mail_to(&self, to: &str, pick: impl Fn(&Sent) -> bool) -> Sent {
        let started = Instant::now();
        loop {
            if let Some(m) = sent_from(&self.from)
                .await
                .into_iter()
                .find(|m| m.to == to && pick(m))
            {
                return m;
            }
            assert!(
                started.elapsed() < Duration::from_secs(90),
                "no e-mail to {to} after 90 s"
            );
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }
}

/// An SMTP client connection, as a mail program holds one.
struct Smtp {
    read: BufReader<tokio::net::tcp::OwnedReadHalf>,
    write: tokio::net::tcp::OwnedWriteHalf,
    replies: Vec<String>,
}

impl Smtp {
    async fn connect(addr: SocketAddr) -> Self {
        let stream = tokio::net::TcpStream::connect(addr)
            .await
            .expect("the SMTP listener accepts");
        let (read, write) = stream.into_split();
        let mut smtp = Self {
            read: BufReader::new(read),
            write,
            replies: Vec::new(),
        };
        smtp.step("", "220").await;
        smtp
    }

    /// Sends `cmd` (nothing if empty) and checks the reply's code.
    async fn step(&mut self, cmd: &str, expect: &str) {
        if !cmd.is_empty() {
            self.write.write_all(cmd.as_bytes()).await.expect("write");
        }
        loop {
            let mut line = String::new();
            self.read.read_line(&mut line).await.expect("a reply line");
            assert!(!line.is_empty(), "the listener hung up: {:?}", self.replies);
            self.replies.push(line.trim_end().to_owned());
            // A multi-line reply continues while the 4th char is '-'.
            if line.as_bytes().get(3) != Some(&b'-') {
                assert_eq!(&line[..3], expect, "after {cmd:?}: {:?}", self.replies);
                return;
            }
        }
    }
}

/// One SMTP conversation (what any mail program does), every reply code
/// the one expected; `raw`'s lines are dot-stuffed.
pub async fn smtp_send(addr: SocketAddr, from: &str, to: &[&str], raw: &str) {
    let mut smtp = Smtp::connect(addr).await;
    smtp.step("EHLO mail.acme.example\r\n", "250").await;
    smtp.step(&format!("MAIL FROM:<{from}>\r\n"), "250").await;
    for rcpt in to {
        smtp.step(&format!("RCPT TO:<{rcpt}>\r\n"), "250").await;
    }
    smtp.step("DATA\r\n", "354").await;
    let mut data = String::new();
    for line in raw.split('\n') {
        let line = line.trim_end_matches('\r');
        if line.starts_with('.') {
            data.push('.');
        }
        data.push_str(line);
        data.push_str("\r\n");
    }
    data.push_str(".\r\n");
    smtp.step(&data, "250").await;
    smtp.step("QUIT\r\n", "221").await;
}

#[tokio::test]
async fn a_client_answers_a_notification_by_smtp_and_the_manager_hears_of_it() {
    let local = Local::start().await;
    let smtp = local.gateway.smtp_addr().expect("an SMTP listener");

    let opened = local
        .call(
            "u_chris",
            "POST",
            "/threads",
            Some(json!({"scope": {"kind": "general"}})),
        )
        .await;
    assert_eq!(opened.status, 201, "{}", opened.text());
    let thread = opened.json()["id"].as_str().expect("an id").to_owned();
    let sent = local
        .call(
            "u_dana",
            "POST",
            &format!("/threads/{thread}/messages"),
            Some(
                json!({"body": "The second cut is ready for review.", "client_message_id": "rs-1"}),
            ),
        )
        .await;
    assert_eq!(sent.status, 201, "{}", sent.text());

    // Chris's notification, and the address to answer it.
    let mail = local
        .mail_to("chris@acme.example", |m| m.text.contains("second cut"))
        .await;
    let parsed = mail_parser::MessageParser::default()
        .parse(mail.raw.as_bytes())
        .expect("MIME");
    let reply_to = parsed
        .reply_to()
        .and_then(|a| a.first())
        .and_then(|a| a.address())
        .expect("a Reply-To")
        .to_owned();
    let domain = liaison_local::DEV_REPLY_DOMAIN;
    assert!(
        reply_to.starts_with("reply+") && reply_to.ends_with(&format!("@{domain}")),
        "{reply_to}"
    );
    let notification_id = parsed.message_id().map(str::to_owned);

    // Chris answers from Gmail: the answer on top, the quote below.
    let raw = format!(
        "From: Chris <chris@acme.example>\n\
         To: Dana via Liaison <{reply_to}>\n\
         Subject: Re: {subject}\n\
         Message-ID: <CAB+answer-1@mail.gmail.com>\n\
         {in_reply_to}\
         Date: Mon, 30 Nov 2026 08:02:11 +0100\n\
         MIME-Version: 1.0\n\
         Content-Type: text/plain; charset=\"UTF-8\"\n\
         \n\
         Looks great, ship it.\n\
         .A line that starts with a dot survives SMTP.\n\
         \n\
         On Mon, 30 Nov 2026 at 07:51, Dana via Liaison <{reply_to}> wrote:\n\
         > The second cut is ready for review.\n",
        subject = mail.subject,
        in_reply_to = notification_id
            .map(|id| format!("In-Reply-To: <{id}>\n"))
            .unwrap_or_default(),
    );
    smtp_send(smtp, "chris@acme.example", &[&reply_to], &raw).await;

    // The answer is in the thread, by Chris, without the quote.
    let started = Instant::now();
    let answer = loop {
        let listed = local
            .call(
                "u_dana",
                "GET",
                &format!("/threads/{thread}/messages"),
                None,
            )
            .await;
        assert_eq!(listed.status, 200, "{}", listed.text());
        let found = listed.json()["messages"]
            .as_array()
            .expect("messages")
            .iter()
            .find(|m| m["author"]["id"] == "u_chris")
            .cloned();
        if let Some(m) = found {
            break m;
        }
        assert!(
            started.elapsed() < Duration::from_secs(90),
            "the answer never arrived in the thread"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    assert_eq!(answer["author"]["role"], "client");
    assert_eq!(
        answer["body"],
        "Looks great, ship it.\n.A line that starts with a dot survives SMTP."
    );
    assert_eq!(answer["urgent"], false);

    // Dana hears of it the usual way.
    let to_dana = local
        .mail_to("dana@agency.example", |m| {
            m.text.contains("Looks great, ship it.")
        })
        .await;
    assert!(to_dana.subject.contains("Chris"), "{}", to_dana.subject);
    assert!(
        !to_dana.text.contains("The second cut is ready"),
        "Dana's own message is not e-mailed back to her"
    );
    local.gateway.shutdown().await;
}

#[tokio::test]
async fn the_listener_refuses_mail_for_other_domains() {
    let local = Local::start().await;
    let mut smtp = Smtp::connect(local.gateway.smtp_addr().expect("an SMTP listener")).await;
    smtp.step("HELO x\r\n", "250").await;
    smtp.step("MAIL FROM:<a@acme.example>\r\n", "250").await;
    smtp.step("RCPT TO:<dana@agency.example>\r\n", "550").await;
    smtp.step("QUIT\r\n", "221").await;
    local.gateway.shutdown().await;
}
