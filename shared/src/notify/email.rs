//! The notification e-mail: subject, text and HTML bodies, raw MIME.
//! All e-mail wording lives here.

use mail_builder::headers::raw::Raw;
use mail_builder::MessageBuilder;

use crate::domain::{Message, Person, Thread};

/// A rendered e-mail to one person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email {
    pub to: Person,
    pub subject: String,
    pub text: String,
    pub html: String,
}

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

/// One e-mail covering `messages` (oldest first, at least one) in `thread`.
pub fn render(to: &Person, thread: &Thread, messages: &[Message], app_url: &str) -> Email {
    let urgent = messages.iter().any(|m| m.urgent);
    let newest_author = messages
        .last()
        .map(|m| m.author.name.as_str())
        .unwrap_or("your contact");
    let label = &thread.scope.label;
    let subject = format!(
        "{}New message from {newest_author} — {label}",
        if urgent { "[Urgent] " } else { "" }
    );
    let link = format!("{app_url}/messages/{}", thread.id);

    let mut text = String::new();
    let mut html = String::from(
        "<!doctype html><html><body style=\"font-family:sans-serif;line-height:1.4\">",
    );
    html.push_str(&format!(
        "<p style=\"color:#555\">{}</p>",
        escape_html(label)
    ));
    for m in messages {
        let marker = if m.urgent { "[Urgent] " } else { "" };
        text.push_str(&format!(
            "{marker}{} wrote at {}:\n\n",
            m.author.name, m.created_at
        ));
        html.push_str(&format!(
            "<p><strong>{}{}</strong> <span style=\"color:#777\">{}</span></p>",
            if m.urgent {
                "<span style=\"color:#b00\">[Urgent]</span> "
            } else {
                ""
            },
            escape_html(&m.author.name),
            m.created_at
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
            let names: Vec<&str> = m.attachments.iter().map(|a| a.filename.as_str()).collect();
            text.push_str(&format!("Attached: {}\n\n", names.join(", ")));
            html.push_str("<p>Attached:</p><ul>");
            for n in names {
                html.push_str(&format!("<li>{}</li>", escape_html(n)));
            }
            html.push_str("</ul>");
        }
    }
    text.push_str(&format!(
        "Reply in Liaison: {link}\n\nYou receive this because you take part in this conversation. \
         Messages you read in the app first are not e-mailed.\n"
    ));
    html.push_str(&format!(
        "<p><a href=\"{}\">Reply in Liaison</a></p><p style=\"color:#777;font-size:small\">You receive this because you take part in this conversation. Messages you read in the app first are not e-mailed.</p></body></html>",
        escape_html(&link)
    ));
    Email {
        to: to.clone(),
        subject,
        text,
        html,
    }
}

/// The e-mail as raw MIME (text and HTML alternatives), marked as
/// automatic so out-of-office replies do not loop back.
pub fn to_mime(email: &Email, from: &str) -> Result<Vec<u8>, std::io::Error> {
    MessageBuilder::new()
        .from(("Liaison", from))
        .to((email.to.name.as_str(), email.to.email.as_str()))
        .subject(email.subject.as_str())
        .header("Auto-Submitted", Raw::new("auto-generated"))
        .header("X-Auto-Response-Suppress", Raw::new("All"))
        .text_body(email.text.as_str())
        .html_body(email.html.as_str())
        .write_to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{
        AccountId, AttachmentId, AttachmentRef, Author, ClientMessageId, LabeledScope, MessageBody,
        MessageId, Role, Scope, ThreadId, Timestamp, UserId,
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
        }
    }

    fn dana() -> Person {
        Person {
            id: UserId::parse("u_dana").unwrap(),
            email: "dana@agency.example".into(),
            name: "Dana".into(),
        }
    }

    #[test]
    fn subject_marks_urgency_and_names_author_and_scope() {
        let e = render(
            &dana(),
            &thread(),
            &[message("hi", false, &[])],
            "https://app",
        );
        assert_eq!(e.subject, "New message from Chris — General");
        let e = render(
            &dana(),
            &thread(),
            &[message("a", false, &[]), message("b", true, &[])],
            "https://app",
        );
        assert_eq!(e.subject, "[Urgent] New message from Chris — General");
    }

    #[test]
    fn bodies_escape_html_list_files_and_link_the_thread() {
        let t = thread();
        let e = render(
            &dana(),
            &t,
            &[message(
                "<script>alert(1)</script>",
                false,
                &["hook.png", "a&b.pdf"],
            )],
            "https://app.example",
        );
        assert!(e.text.contains("<script>alert(1)</script>"), "text is text");
        assert!(!e.html.contains("<script>"));
        assert!(e.html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
        assert!(e.text.contains("Attached: hook.png, a&b.pdf"));
        assert!(e.html.contains("a&amp;b.pdf"));
        let link = format!("https://app.example/messages/{}", t.id);
        assert!(e.text.contains(&link));
        assert!(e.html.contains(&link));
    }

    #[test]
    fn mime_carries_auto_submitted_headers_and_both_parts() {
        let e = render(
            &dana(),
            &thread(),
            &[message("hello", false, &[])],
            "https://app",
        );
        let raw = String::from_utf8(to_mime(&e, "liaison@agency.example").unwrap()).unwrap();
        assert!(raw.contains("Auto-Submitted: auto-generated"));
        assert!(raw.contains("X-Auto-Response-Suppress: All"));
        assert!(raw.contains("text/plain"));
        assert!(raw.contains("text/html"));
        assert!(raw.contains("dana@agency.example"));
    }
}
