//! The notification e-mail: subject, text and HTML bodies, raw MIME.
//! All e-mail wording lives here.

use mail_builder::headers::address::Address;
use mail_builder::headers::raw::Raw;
use mail_builder::MessageBuilder;

use crate::domain::{Message, Person, ScanState, Thread, TimeZone};

/// A rendered e-mail to one person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email {
    pub to: Person,
    pub subject: String,
    pub text: String,
    pub html: String,
    /// Where an answer goes: `"{author} via Liaison" <reply+{key}@…>`.
    pub reply_to: Option<ReplyTo>,
    /// The previous notification of this thread to this person, as a
    /// message id without angle brackets (`{ses id}@email.amazonses.com`):
    /// `In-Reply-To` and `References`, so mail clients thread them.
    pub in_reply_to: Option<String>,
    /// `List-Id`, `List-Unsubscribe` and `List-Unsubscribe-Post` (RFC 2919,
    /// RFC 2369, RFC 8058).
    pub list: Option<ListHeaders>,
}

/// The mailing-list headers of a notification: which conversation it
/// belongs to, and how to stop e-mail about it in one click.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListHeaders {
    /// The list's name: the thread's scope label.
    pub name: String,
    /// `{thread_id}.{reply domain}`.
    pub id: String,
    /// `{api_url}/unsubscribe/{token}`: one-click (POST) and a
    /// confirmation page (GET).
    pub unsubscribe_url: String,
    /// `unsubscribe+{token}@{reply domain}`.
    pub unsubscribe_address: String,
}

/// What an e-mail's footer links to besides the conversation.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FooterLinks<'a> {
    /// `{api_url}/unsubscribe/{token}`, when the e-mail has a mute token.
    pub mute: Option<&'a str>,
}

/// The footer line that mutes the conversation (followed by the link).
/// After the name of a file the malware scan found a threat in.
pub const INFECTED_NOTE: &str = "(removed: malware found)";

pub const MUTE_LINE: &str = "Mute this conversation:";
/// The footer line that leads to the e-mail preferences (followed by the link).
pub const PREFERENCES_LINE: &str = "E-mail preferences:";

/// Where the e-mail preferences are set in the app.
pub fn preferences_url(app_url: &str) -> String {
    format!("{app_url}/messages?settings=notifications")
}

/// A `Reply-To` mailbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplyTo {
    pub name: String,
    pub address: String,
}

/// The line above the messages that says an answer works.
pub const REPLY_LINE: &str = "Reply to this e-mail to answer in Liaison.";

pub fn escape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The name of the newest author among `messages`.
pub fn newest_author(messages: &[Message]) -> &str {
    messages
        .last()
        .map(|m| m.author.name.as_str())
        .unwrap_or("your contact")
}

/// One e-mail covering `messages` (oldest first, at least one) in `thread`,
/// its times in `zone` (UTC if none), its footer linking to muting the
/// conversation (`links.mute`) and to the e-mail preferences. No
/// `Reply-To` or list headers yet: the notifier adds the person's reply
/// address, the previous e-mail's id and the [`ListHeaders`].
pub fn render(
    to: &Person,
    zone: Option<&TimeZone>,
    thread: &Thread,
    messages: &[Message],
    app_url: &str,
    links: FooterLinks<'_>,
) -> Email {
    let urgent = messages.iter().any(|m| m.urgent);
    let newest_author = newest_author(messages);
    let label = &thread.scope.label;
    let subject = format!(
        "{}New message from {newest_author} — {label}",
        if urgent { "[Urgent] " } else { "" }
    );
    let link = format!("{app_url}/messages/{}", thread.id);

    let mut text = format!("{REPLY_LINE}\n\n");
    let mut html = String::from(
        "<!doctype html><html><body style=\"font-family:sans-serif;line-height:1.4\">",
    );
    html.push_str(&format!(
        "<p style=\"color:#555\">{}</p><p style=\"color:#555\">{}</p>",
        escape_html(REPLY_LINE),
        escape_html(label)
    ));
    for m in messages {
        let marker = if m.urgent { "[Urgent] " } else { "" };
        let when = m.created_at.human(zone);
        text.push_str(&format!("{marker}{} wrote on {when}:\n\n", m.author.name));
        html.push_str(&format!(
            "<p><strong>{}{}</strong> <span style=\"color:#777\">{}</span></p>",
            if m.urgent {
                "<span style=\"color:#b00\">[Urgent]</span> "
            } else {
                ""
            },
            escape_html(&m.author.name),
            escape_html(&when)
        ));
        if !m.body.is_empty() {
            text.push_str(m.body.as_str());
            text.push_str("\n\n");
            html.push_str(&format!(
                "<div style=\"white-space:pre-wrap\">{}</div>",
                escape_html(m.body.as_str())
            ));
        }
        if !m.attachments.is_empty() {
            // Files are named, never linked; one the malware scan found a
            // threat in says so.
            let names: Vec<String> = m
                .attachments
                .iter()
                .map(|a| match a.scan {
                    ScanState::Infected => format!("{} {INFECTED_NOTE}", a.filename),
                    _ => a.filename.clone(),
                })
                .collect();
            text.push_str(&format!("Attached: {}\n\n", names.join(", ")));
            html.push_str("<p>Attached:</p><ul>");
            for n in &names {
                html.push_str(&format!("<li>{}</li>", escape_html(n)));
            }
            html.push_str("</ul>");
        }
    }
    let preferences = preferences_url(app_url);
    text.push_str(&format!(
        "Open the conversation in Liaison: {link}\n\nYou receive this because you take part in this conversation. \
         Messages you read in the app first are not e-mailed.\n"
    ));
    if let Some(mute) = links.mute {
        text.push_str(&format!("{MUTE_LINE} {mute}\n"));
    }
    text.push_str(&format!("{PREFERENCES_LINE} {preferences}\n"));
    html.push_str(&format!(
        "<p><a href=\"{}\">Open the conversation in Liaison</a></p><p style=\"color:#777;font-size:small\">You receive this because you take part in this conversation. Messages you read in the app first are not e-mailed.</p>",
        escape_html(&link)
    ));
    html.push_str("<p style=\"color:#777;font-size:small\">");
    if let Some(mute) = links.mute {
        html.push_str(&format!(
            "{} <a href=\"{}\">{}</a><br>",
            escape_html(MUTE_LINE),
            escape_html(mute),
            escape_html(mute)
        ));
    }
    html.push_str(&format!(
        "{} <a href=\"{}\">{}</a></p></body></html>",
        escape_html(PREFERENCES_LINE),
        escape_html(&preferences),
        escape_html(&preferences)
    ));
    Email {
        to: to.clone(),
        subject,
        text,
        html,
        reply_to: None,
        in_reply_to: None,
        list: None,
    }
}

/// The e-mail as raw MIME (text and HTML alternatives), marked as
/// automatic so out-of-office replies do not loop back. Its `Message-ID`
/// carries the sender's domain (SES replaces it with its own anyway; this
/// keeps the host name out of it).
pub fn to_mime(email: &Email, from: &str) -> Result<Vec<u8>, std::io::Error> {
    let domain = from.rsplit_once('@').map_or("liaison.invalid", |(_, d)| d);
    let mut message = MessageBuilder::new()
        .from(("Liaison", from))
        .to((email.to.name.as_str(), email.to.email.as_str()))
        .subject(email.subject.as_str())
        .message_id(format!("{}@{domain}", ulid::Ulid::new()))
        .header("Auto-Submitted", Raw::new("auto-generated"))
        .header("X-Auto-Response-Suppress", Raw::new("All"));
    if let Some(r) = &email.reply_to {
        message = message.reply_to(Address::new_address(
            Some(r.name.as_str()),
            r.address.as_str(),
        ));
    }
    if let Some(previous) = &email.in_reply_to {
        message = message
            .in_reply_to(previous.as_str())
            .references(previous.as_str());
    }
    if let Some(list) = &email.list {
        message = message
            .header(
                "List-Id",
                Address::new_address(Some(list.name.as_str()), list.id.as_str()),
            )
            .header(
                "List-Unsubscribe",
                Raw::new(format!(
                    "<{}>, <mailto:{}>",
                    list.unsubscribe_url, list.unsubscribe_address
                )),
            )
            .header(
                "List-Unsubscribe-Post",
                Raw::new("List-Unsubscribe=One-Click"),
            );
    }
    message
        .text_body(email.text.as_str())
        .html_body(email.html.as_str())
        .write_to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{
        AccountId, AttachmentId, AttachmentRef, Author, ClientMessageId, LabeledScope, MessageBody,
        MessageId, Role, Scope, ThreadId, TimeZone, Timestamp, UserId,
    };

    fn message(body: &str, urgent: bool, files: &[&str]) -> Message {
        Message {
            id: MessageId::new(),
            thread_id: ThreadId::for_scope(&AccountId::parse("acc").unwrap(), "general"),
            client_message_id: ClientMessageId::parse("c").unwrap(),
            author: Author {
                id: UserId::parse("u_chris").unwrap(),
                name: "Chris".into(),
                role: Role::Client,
            },
            body: MessageBody::parse(body).unwrap(),
            urgent,
            attachments: files
                .iter()
                .map(|f| AttachmentRef {
                    id: AttachmentId::new(),
                    filename: f.to_string(),
                    content_type: "image/png".into(),
                    size: 1,
                    scan: ScanState::Pending,
                    key: Default::default(),
                })
                .collect(),
            created_at: Timestamp::from_unix_millis(0),
        }
    }

    fn thread() -> Thread {
        Thread {
            id: ThreadId::for_scope(&AccountId::parse("acc").unwrap(), "general"),
            account_id: AccountId::parse("acc").unwrap(),
            scope: LabeledScope::new(Scope::General, &[]),
            created_at: Timestamp::from_unix_millis(0),
            created_by: UserId::parse("u").unwrap(),
            last_activity_at: Timestamp::from_unix_millis(0),
            last_message: None,
            message_count: 0,
            unread: false,
            muted: false,
        }
    }

    fn dana() -> Person {
        Person {
            id: UserId::parse("u_dana").unwrap(),
            email: "dana@agency.example".into(),
            name: "Dana".into(),
            time_zone: None,
        }
    }

    #[test]
    fn subject_marks_urgency_and_names_author_and_scope() {
        let e = render(
            &dana(),
            None,
            &thread(),
            &[message("hi", false, &[])],
            "https://app",
            FooterLinks::default(),
        );
        assert_eq!(e.subject, "New message from Chris — General");
        let e = render(
            &dana(),
            None,
            &thread(),
            &[message("a", false, &[]), message("b", true, &[])],
            "https://app",
            FooterLinks::default(),
        );
        assert_eq!(e.subject, "[Urgent] New message from Chris — General");
    }

    #[test]
    fn infected_files_are_named_as_removed_never_linked() {
        let mut m = message("see", false, &["clean.png", "evil.pdf"]);
        m.attachments[0].scan = ScanState::Clean;
        m.attachments[1].scan = ScanState::Infected;
        let e = render(
            &dana(),
            None,
            &thread(),
            &[m],
            "https://app.example",
            FooterLinks::default(),
        );
        assert!(e
            .text
            .contains("Attached: clean.png, evil.pdf (removed: malware found)"));
        assert!(e
            .html
            .contains("<li>evil.pdf (removed: malware found)</li>"));
        assert!(!e.text.contains("amazonaws") && !e.html.contains("X-Amz"));
    }

    #[test]
    fn bodies_escape_html_list_files_and_link_the_thread() {
        let t = thread();
        let e = render(
            &dana(),
            None,
            &t,
            &[message(
                "<script>alert(1)</script>",
                false,
                &["hook.png", "a&b.pdf"],
            )],
            "https://app.example",
            FooterLinks::default(),
        );
        assert!(e.text.contains("<script>alert(1)</script>"), "text is text");
        assert!(!e.html.contains("<script>"));
        assert!(e.html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
        assert!(e.text.contains("Attached: hook.png, a&b.pdf"));
        assert!(!e.text.contains(INFECTED_NOTE));
        assert!(e.html.contains("a&amp;b.pdf"));
        let link = format!("https://app.example/messages/{}", t.id);
        assert!(e.text.contains(&link));
        assert!(e.html.contains(&link));
    }

    #[test]
    fn mime_carries_auto_submitted_headers_and_both_parts() {
        let e = render(
            &dana(),
            None,
            &thread(),
            &[message("hello", false, &[])],
            "https://app",
            FooterLinks::default(),
        );
        let raw = String::from_utf8(to_mime(&e, "liaison@agency.example").unwrap()).unwrap();
        assert!(raw.contains("Auto-Submitted: auto-generated"));
        assert!(raw.contains("X-Auto-Response-Suppress: All"));
        assert!(raw.contains("text/plain"));
        assert!(raw.contains("text/html"));
        assert!(raw.contains("dana@agency.example"));
        assert!(!raw.contains("Reply-To"), "none given");
        let id = raw
            .lines()
            .find_map(|l| l.strip_prefix("Message-ID: "))
            .expect("a Message-ID");
        assert!(id.ends_with("@agency.example>"), "{id}");
    }

    #[test]
    fn times_read_as_people_read_them_in_their_zone() {
        let mut m = message("hello", false, &[]);
        m.created_at = Timestamp::parse("2026-11-30T06:51:31.643Z").unwrap();
        let berlin = TimeZone::parse("Europe/Berlin").unwrap();
        let e = render(
            &dana(),
            Some(&berlin),
            &thread(),
            &[m.clone()],
            "https://app",
            FooterLinks::default(),
        );
        assert!(
            e.text
                .contains("Chris wrote on Mon 30 Nov, 07:51 (Europe/Berlin):"),
            "{}",
            e.text
        );
        assert!(
            e.html.contains("Mon 30 Nov, 07:51 (Europe/Berlin)"),
            "{}",
            e.html
        );
        assert!(!e.text.contains("2026-11-30T"), "no machine times");
        let e = render(
            &dana(),
            None,
            &thread(),
            &[m],
            "https://app",
            FooterLinks::default(),
        );
        assert!(
            e.text.contains("Chris wrote on Mon 30 Nov, 06:51 UTC:"),
            "{}",
            e.text
        );
        assert!(e.html.contains("Mon 30 Nov, 06:51 UTC"));
    }

    #[test]
    fn the_reply_line_comes_before_the_messages() {
        let e = render(
            &dana(),
            None,
            &thread(),
            &[message("hello", false, &[])],
            "https://app",
            FooterLinks::default(),
        );
        let line = e.text.find(REPLY_LINE).expect("the reply line");
        assert!(line < e.text.find("hello").unwrap());
        let line = e.html.find(REPLY_LINE).expect("the reply line in HTML");
        assert!(line < e.html.find("hello").unwrap());
    }

    #[test]
    fn mime_carries_reply_to_and_threading_headers() {
        let mut e = render(
            &dana(),
            None,
            &thread(),
            &[message("hello", false, &[])],
            "https://app",
            FooterLinks::default(),
        );
        e.reply_to = Some(ReplyTo {
            name: "Chris \"C\" O'Neil via Liaison".into(),
            address: "reply+abc@reply.example".into(),
        });
        e.in_reply_to = Some("0100-abc@email.amazonses.com".into());
        let raw = to_mime(&e, "liaison@agency.example").unwrap();
        let parsed = mail_parser::MessageParser::default().parse(&raw).unwrap();
        let reply_to = parsed.reply_to().and_then(|a| a.first()).unwrap();
        assert_eq!(reply_to.address(), Some("reply+abc@reply.example"));
        assert_eq!(reply_to.name(), Some("Chris \"C\" O'Neil via Liaison"));
        assert_eq!(
            parsed.in_reply_to().as_text(),
            Some("0100-abc@email.amazonses.com")
        );
        assert_eq!(
            parsed.references().as_text(),
            Some("0100-abc@email.amazonses.com")
        );
        assert!(parsed.message_id().unwrap().ends_with("@agency.example"));
    }

    #[test]
    fn the_footer_links_muting_and_preferences_and_mime_carries_list_headers() {
        let url = "https://api.example/unsubscribe/b0123456789abcdefghijklmnopqrstu";
        let mut e = render(
            &dana(),
            None,
            &thread(),
            &[message("hello", false, &[])],
            "https://app.example",
            FooterLinks { mute: Some(url) },
        );
        assert!(
            e.text.contains(&format!("{MUTE_LINE} {url}\n")),
            "{}",
            e.text
        );
        assert!(e
            .text
            .contains("E-mail preferences: https://app.example/messages?settings=notifications"));
        assert!(e.html.contains(&format!("<a href=\"{url}\">")));
        assert!(e
            .html
            .contains("<a href=\"https://app.example/messages?settings=notifications\">"));
        assert!(e.text.find("hello").unwrap() < e.text.find(MUTE_LINE).unwrap());
        e.list = Some(ListHeaders {
            name: "Glow \"Serum\" — Spring".into(),
            id: "thr_abc.reply.example".into(),
            unsubscribe_url: url.into(),
            unsubscribe_address: "unsubscribe+b0123@reply.example".into(),
        });
        let raw = to_mime(&e, "liaison@agency.example").unwrap();
        let parsed = mail_parser::MessageParser::default().parse(&raw).unwrap();
        let header = |name: &str| {
            parsed
                .header_raw(name)
                .map(|v| v.replace("\r\n", "").trim().to_owned())
        };
        assert_eq!(
            header("List-Unsubscribe").as_deref(),
            Some(format!("<{url}>, <mailto:unsubscribe+b0123@reply.example>").as_str())
        );
        assert_eq!(
            header("List-Unsubscribe-Post").as_deref(),
            Some("List-Unsubscribe=One-Click")
        );
        let list_id = parsed.header("List-Id").expect("a List-Id");
        let list_id = list_id.as_address().and_then(|a| a.first()).unwrap();
        assert_eq!(list_id.name(), Some("Glow \"Serum\" — Spring"));
        assert_eq!(list_id.address(), Some("thr_abc.reply.example"));
        let without = render(
            &dana(),
            None,
            &thread(),
            &[message("hello", false, &[])],
            "https://app.example",
            FooterLinks::default(),
        );
        assert!(!without.text.contains(MUTE_LINE), "no token, no mute line");
        assert!(without.text.contains(PREFERENCES_LINE));
        let raw = String::from_utf8(to_mime(&without, "liaison@agency.example").unwrap()).unwrap();
        assert!(!raw.contains("List-"));
    }
}
