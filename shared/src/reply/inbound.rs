//! Reading an incoming e-mail: the checks that need only the e-mail and
//! SES's receipt, pure (no AWS call), in the order `receive-reply` runs
//! them (3 and 6 need the table and live there):
//!
//! 1. [`check_verdicts`]: SES's virus verdict FAIL → [`Refusal::Virus`],
//!    then spam FAIL → [`Refusal::Spam`]. Other verdicts (GRAY,
//!    PROCESSING_FAILED, DISABLED) pass: SES only says FAIL when it is sure.
//! 2. [`reply_key_in`]: exactly one key among the envelope recipients
//!    whose address is `reply+{key}@{our domain}` (the same key twice, as
//!    in To and Cc, counts once).
//! 4. [`Incoming::sender`]: `From` is one mailbox (one header, one
//!    address) → its address, lower-cased; then [`check_sender`]: it is the
//!    address the key was issued to (case-insensitive), and SES found it
//!    authentic: DMARC not FAIL, and SPF or DKIM PASS.
//! 5. [`Incoming::automatic`]: an empty envelope sender (`<>`: a bounce),
//!    a `mailer-daemon`/`postmaster` sender (envelope or `From`),
//!    `Auto-Submitted` other than `no`, `Precedence: bulk/junk/list`,
//!    `X-Autoreply`/`X-Autorespond`, or a `multipart/report` (delivery and
//!    read reports) → [`Refusal::Automatic`].
//! 7. [`Incoming::content`]: the text part (else, or when Outlook
//!    desktop marked its signature only in the HTML, the HTML without its
//!    quote blocks and signature, as text), `format=flowed` undone, its
//!    first 100,000 characters trimmed of quoted history and signature
//!    ([`super::trim`]); longer than [`BODY_MAX_CHARS`] → cut with a note.
//!    Nothing left and no file → [`Refusal::Empty`].
//! 8. The files: each attachment checked like an upload
//!    ([`check_upload`]: type, size, name; `application/octet-stream` and
//!    `image/jpg` read by the name's extension; the first bytes must be a
//!    file of that type, [`is_declared_type`]), at most
//!    [`MAX_ATTACHMENTS`]; the others are left out with a note in the text.
//!    Images the HTML shows by `cid:` are decorations, not files, when the
//!    sender's own part does not show them (a logo in the quoted history)
//!    or they are small (< [`DECORATION_MAX_BYTES`]: signature logos,
//!    icons); a larger picture in the sender's text is a file.
//!
//! Parsing is `mail-parser`'s (it decodes quoted-printable, base64,
//! charsets and encoded words); nothing here reads MIME by hand.

use std::borrow::Cow;

use aws_lambda_events::event::ses::{SimpleEmailReceipt, SimpleEmailVerdict};
use mail_parser::{Message, MessageParser, MimeHeaders, PartType};

use super::trim::{html_without_quotes, strip_quotes_html, trim_reply, OUTLOOK_SIGNATURE};
use super::{key_in_address, Refusal};
use crate::attachments::{check_upload, is_declared_type, UploadError};
use crate::domain::{MessageBody, BODY_MAX_CHARS, MAX_ATTACHMENTS};

/// An inline image the HTML refers to that is smaller than this is a
/// decoration (a logo, an icon), not a file.
pub const DECORATION_MAX_BYTES: usize = 16 * 1024;

/// One of SES's verdicts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Pass,
    Fail,
    Gray,
    ProcessingFailed,
    Disabled,
    Unknown,
}

impl Verdict {
    /// From SES's `status` (`PASS`, `FAIL`, `GRAY`, `PROCESSING_FAILED`,
    /// `DISABLED`); anything else or missing is `Unknown`.
    pub fn parse(status: Option<&str>) -> Self {
        match status.map(|s| s.trim().to_ascii_uppercase()).as_deref() {
            Some("PASS") => Self::Pass,
            Some("FAIL") => Self::Fail,
            Some("GRAY") => Self::Gray,
            Some("PROCESSING_FAILED") => Self::ProcessingFailed,
            Some("DISABLED") => Self::Disabled,
            _ => Self::Unknown,
        }
    }

    fn of(v: &SimpleEmailVerdict) -> Self {
        Self::parse(v.status.as_deref())
    }
}

/// SES's verdicts on one received e-mail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verdicts {
    pub spam: Verdict,
    pub virus: Verdict,
    pub spf: Verdict,
    pub dkim: Verdict,
    pub dmarc: Verdict,
}

impl Verdicts {
    pub fn from_receipt(r: &SimpleEmailReceipt) -> Self {
        Self {
            spam: Verdict::of(&r.spam_verdict),
            virus: Verdict::of(&r.virus_verdict),
            spf: Verdict::of(&r.spf_verdict),
            dkim: Verdict::of(&r.dkim_verdict),
            dmarc: Verdict::of(&r.dmarc_verdict),
        }
    }
}

/// Check 1: virus, then spam.
pub fn check_verdicts(v: &Verdicts) -> Result<(), Refusal> {
    if v.virus == Verdict::Fail {
        return Err(Refusal::Virus);
    }
    if v.spam == Verdict::Fail {
        return Err(Refusal::Spam);
    }
    Ok(())
}

/// Check 2: the one reply key among the recipients (SES's
/// `receipt.recipients`: the envelope recipients of this deployment).
pub fn reply_key_in<'a>(recipients: &'a [String], domain: &str) -> Result<&'a str, Refusal> {
    let mut found: Option<&'a str> = None;
    for r in recipients {
        let Some(key) = key_in_address(r, domain) else {
            continue;
        };
        match found {
            None => found = Some(key),
            Some(k) if k.eq_ignore_ascii_case(key) => {}
            Some(_) => return Err(Refusal::SeveralReplyAddresses),
        }
    }
    found.ok_or(Refusal::NoReplyAddress)
}

/// Check 4's second half: the sender is who the key was issued to, and
/// SES found the mail authentic.
pub fn check_sender(sender: &str, issued_to: &str, v: &Verdicts) -> Result<(), Refusal> {
    if sender.trim().to_lowercase() != issued_to.trim().to_lowercase() {
        return Err(Refusal::WrongSender);
    }
    if v.dmarc == Verdict::Fail || (v.spf != Verdict::Pass && v.dkim != Verdict::Pass) {
        return Err(Refusal::NotAuthenticated);
    }
    Ok(())
}

/// A parsed incoming e-mail.
pub struct Incoming<'x> {
    message: Message<'x>,
}

impl std::fmt::Debug for Incoming<'_> {
    // Never the addresses or the body (they are personal data).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Incoming")
            .field("parts", &self.message.parts.len())
            .finish()
    }
}

/// The raw e-mail, parsed; [`Refusal::Unreadable`] when it has no header.
pub fn parse(raw: &[u8]) -> Result<Incoming<'_>, Refusal> {
    let message = MessageParser::default()
        .parse(raw)
        .ok_or(Refusal::Unreadable)?;
    if message.headers().is_empty() {
        return Err(Refusal::Unreadable);
    }
    Ok(Incoming { message })
}

/// What the e-mail becomes: the message's body and files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Content {
    /// The trimmed text and, after a blank line, the notes.
    pub body: MessageBody,
    pub files: Vec<InboundFile>,
    /// What was cut or left out, one line each (also at the body's end).
    pub notes: Vec<String>,
}

/// An attachment accepted as a file of the message.
#[derive(Clone, PartialEq, Eq)]
pub struct InboundFile {
    /// Cleaned like an upload's name.
    pub filename: String,
    pub content_type: &'static str,
    pub bytes: Vec<u8>,
}

impl std::fmt::Debug for InboundFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InboundFile")
            .field("filename", &self.filename)
            .field("content_type", &self.content_type)
            .field("bytes", &self.bytes.len())
            .finish()
    }
}

/// Only this much of the text (and ten times as much HTML) is trimmed:
/// the message keeps at most [`BODY_MAX_CHARS`], and a 40 MB e-mail must
/// not cost seconds.
const TRIM_INPUT_MAX_CHARS: usize = 100_000;

/// The note when the text was longer than the limit.
pub const CUT_NOTE: &str = "[… cut: the e-mail was longer than 10,000 characters]";

/// How a notification's subject goes on after its `[Urgent] ` marker
/// (`crate::notify::email::render`): kept in an answer's subject, it is
/// not the person marking their answer urgent.
pub const NOTIFICATION_SUBJECT: &str = "New message from ";

const REPLY_PREFIXES: &[&str] = &[
    "re", "aw", "antw", "wg", "fwd", "fw", "tr", "rv", "res", "sv", "vs", "r", "rif", "odp", "réf",
    "ref",
];

impl Incoming<'_> {
    /// The parsed message (for logging sizes, never contents).
    pub fn message(&self) -> &Message<'_> {
        &self.message
    }

    /// Check 4's first half: exactly one `From` mailbox → its address,
    /// lower-cased.
    pub fn sender(&self) -> Result<String, Refusal> {
        let mut headers = self.message.header_values("From");
        let (Some(from), None) = (headers.next(), headers.next()) else {
            return Err(Refusal::NotOneSender);
        };
        let from = from.as_address().ok_or(Refusal::NotOneSender)?;
        let mut mailboxes = from.iter();
        let (Some(one), None) = (mailboxes.next(), mailboxes.next()) else {
            return Err(Refusal::NotOneSender);
        };
        let address = one.address().map(str::trim).unwrap_or("");
        match address.rsplit_once('@') {
            Some((local, host))
                if !local.is_empty()
                    && !host.is_empty()
                    && !address.contains(char::is_whitespace) =>
            {
                Ok(address.to_lowercase())
            }
            _ => Err(Refusal::NotOneSender),
        }
    }

    /// Check 5: not an automatic e-mail. `envelope_from` is SES's
    /// `mail.source` (empty or `<>` for a bounce).
    pub fn automatic(&self, envelope_from: &str) -> Result<(), Refusal> {
        let envelope = envelope_from
            .trim()
            .trim_start_matches('<')
            .trim_end_matches('>');
        if envelope.is_empty() || is_daemon(envelope) {
            return Err(Refusal::Automatic);
        }
        let from_daemon = self
            .message
            .from()
            .into_iter()
            .flat_map(|a| a.iter())
            .filter_map(|a| a.address())
            .any(is_daemon);
        let header_says = |name: &str, automatic: fn(&str) -> bool| {
            self.message
                .header_values(name)
                .filter_map(|v| v.as_text())
                .any(|v| {
                    let v = v
                        .split(';')
                        .next()
                        .unwrap_or("")
                        .trim()
                        .to_ascii_lowercase();
                    automatic(&v)
                })
        };
        let report = self
            .message
            .parts
            .iter()
            .filter_map(|p| p.content_type())
            .any(|ct| {
                let sub = ct.subtype().unwrap_or("").to_ascii_lowercase();
                let main = ct.ctype().to_ascii_lowercase();
                (main == "multipart" && sub == "report")
                    || (main == "message"
                        && (sub == "delivery-status" || sub == "disposition-notification"))
            });
        if from_daemon
            || report
            || header_says("Auto-Submitted", |v| v != "no")
            || header_says("Precedence", |v| matches!(v, "bulk" | "junk" | "list"))
            || header_says("X-Autoreply", |v| v != "no")
            || header_says("X-Autorespond", |v| v != "no")
        {
            return Err(Refusal::Automatic);
        }
        Ok(())
    }

    /// The subject, after reply and forward prefixes (`Re:`, `AW:`,
    /// `Fwd:`…), starts with `[Urgent]` (any case) or `URGENT`, put there
    /// by the person: an answer that only keeps the subject of an urgent
    /// notification ("Re: [Urgent] New message from Dana — …") is not
    /// urgent itself (the urgency was the other side's).
    pub fn urgent(&self) -> bool {
        let mut s = self.message.subject().unwrap_or("").trim();
        while let Some((prefix, rest)) = s.split_once(':') {
            let p = prefix.trim().to_lowercase();
            // "Re[2]" and "Re(2)" too.
            let p = p.split(['[', '(']).next().unwrap_or("");
            if !REPLY_PREFIXES.contains(&p) {
                break;
            }
            s = rest.trim_start();
        }
        let marked = match s.get(..8) {
            Some(p) if p.eq_ignore_ascii_case("[urgent]") => Some(&s[8..]),
            _ => s.strip_prefix("URGENT"),
        };
        marked.is_some_and(|rest| !rest.trim_start().starts_with(NOTIFICATION_SUBJECT))
    }

    /// Checks 7 and 8: the trimmed text and the accepted files.
    pub fn content(&self) -> Result<Content, Refusal> {
        let (text, kept_html) = self.text();
        let mut notes = Vec::new();
        let files = self.files(&kept_html, &mut notes);

        let text = prefix(&text, TRIM_INPUT_MAX_CHARS);
        let text: String = trim_reply(text).replace('\0', "");
        let mut notes_len = notes.iter().map(|n| n.chars().count() + 1).sum::<usize>();
        let chars = text.chars().count();
        let text = if chars > BODY_MAX_CHARS.saturating_sub(notes_len + 2) {
            notes.insert(0, CUT_NOTE.to_owned());
            notes_len += CUT_NOTE.chars().count() + 1;
            // Many left-out files could leave no room: keep the first notes.
            while notes_len + 2 > BODY_MAX_CHARS / 2 && notes.len() > 1 {
                let gone = notes.pop().unwrap_or_default();
                notes_len -= gone.chars().count() + 1;
            }
            let room = BODY_MAX_CHARS.saturating_sub(notes_len + 2);
            text.chars()
                .take(room)
                .collect::<String>()
                .trim_end()
                .to_owned()
        } else {
            text
        };
        if text.is_empty() && files.is_empty() {
            return Err(Refusal::Empty);
        }
        let mut body = text;
        if !notes.is_empty() {
            if !body.is_empty() {
                body.push_str("\n\n");
            }
            body.push_str(&notes.join("\n"));
        }
        let body = MessageBody::parse(&body).map_err(|_| Refusal::Unreadable)?;
        Ok(Content { body, files, notes })
    }

    /// The text to trim (text/plain preferred, else the HTML without its
    /// quotes) and the HTML the sender's own part keeps (for `cid:`).
    fn text(&self) -> (String, String) {
        let kept_html: String = self
            .message
            .html_bodies()
            .filter_map(|p| match &p.body {
                PartType::Html(h) => Some(strip_quotes_html(prefix(h, 10 * TRIM_INPUT_MAX_CHARS))),
                _ => None,
            })
            .collect();
        let plain: Vec<String> = self
            .message
            .text_bodies()
            .filter_map(|p| match &p.body {
                PartType::Text(t) => {
                    let flowed = p.content_type().is_some_and(|ct| {
                        ct.attribute("format")
                            .is_some_and(|f| f.eq_ignore_ascii_case("flowed"))
                    });
                    let delsp = p.content_type().is_some_and(|ct| {
                        ct.attribute("delsp")
                            .is_some_and(|f| f.eq_ignore_ascii_case("yes"))
                    });
                    Some(if flowed {
                        unflow(t, delsp)
                    } else {
                        t.to_string()
                    })
                }
                _ => None,
            })
            .collect();
        // Outlook desktop marks its signature only in the HTML: there the
        // HTML says more precisely what the sender wrote.
        let outlook_signature = self
            .message
            .html_bodies()
            .any(|p| matches!(&p.body, PartType::Html(h) if h.contains(OUTLOOK_SIGNATURE)));
        if !plain.is_empty() && !outlook_signature {
            return (plain.join("\n"), kept_html);
        }
        let html: Vec<String> = self
            .message
            .html_bodies()
            .filter_map(|p| match &p.body {
                PartType::Html(h) => {
                    Some(html_without_quotes(prefix(h, 10 * TRIM_INPUT_MAX_CHARS)))
                }
                _ => None,
            })
            .collect();
        (html.join("\n"), kept_html)
    }

    fn files(&self, kept_html: &str, notes: &mut Vec<String>) -> Vec<InboundFile> {
        let all_html: String = self
            .message
            .html_bodies()
            .filter_map(|p| match &p.body {
                PartType::Html(h) => Some(h.as_ref()),
                _ => None,
            })
            .collect();
        let mut files: Vec<InboundFile> = Vec::new();
        for (n, part) in self.message.attachments().enumerate() {
            let bytes = part.contents();
            let disposition_attachment = part
                .content_disposition()
                .is_some_and(|d| d.is_attachment());
            if let Some(cid) = part.content_id() {
                let reference = format!("cid:{}", cid.trim_matches(['<', '>']));
                let shown = all_html.contains(&reference);
                let shown_by_sender = kept_html.contains(&reference);
                if shown
                    && !disposition_attachment
                    && (!shown_by_sender || bytes.len() < DECORATION_MAX_BYTES)
                {
                    continue;
                }
            }
            let declared = part
                .content_type()
                .map(|ct| match ct.subtype() {
                    Some(sub) => format!("{}/{}", ct.ctype(), sub),
                    None => ct.ctype().to_owned(),
                })
                .unwrap_or_default()
                .to_ascii_lowercase();
            let name: Cow<'_, str> = match part.attachment_name() {
                Some(name) if !name.trim().is_empty() => name.into(),
                _ => match extension_of(&declared) {
                    Some(ext) => format!("attachment-{}.{ext}", n + 1).into(),
                    None => match part.message() {
                        Some(_) => "forwarded e-mail".into(),
                        None => format!("attachment-{}", n + 1).into(),
                    },
                },
            };
            let ctype = effective_type(&declared, &name);
            let why = match check_upload(&name, &ctype, bytes.len() as u64) {
                Ok(_) if files.len() >= MAX_ATTACHMENTS => {
                    format!("more than {MAX_ATTACHMENTS} files")
                }
                Ok(upload) if !is_declared_type(upload.content_type, bytes) => {
                    format!("not a {} file", upload.content_type)
                }
                Ok(upload) => {
                    files.push(InboundFile {
                        filename: upload.filename,
                        content_type: upload.content_type,
                        bytes: bytes.to_vec(),
                    });
                    continue;
                }
                Err(UploadError::UnsupportedType { .. }) => "type not accepted".to_owned(),
                Err(
                    UploadError::TooLarge { max_mib, .. } | UploadError::UseMultipart { max_mib },
                ) => {
                    format!("larger than {max_mib} MiB")
                }
                Err(UploadError::Field { field: "size", .. }) => "empty".to_owned(),
                Err(UploadError::Field { .. }) => "name not accepted".to_owned(),
            };
            let shown_name = crate::domain::clean_line(&name);
            let shown_name: String = shown_name.chars().take(120).collect();
            notes.push(format!("[Left out: {shown_name} ({why})]"));
        }
        files
    }
}

/// The first `max` characters of `s`.
fn prefix(s: &str, max: usize) -> &str {
    s.char_indices().nth(max).map_or(s, |(i, _)| &s[..i])
}

fn is_daemon(address: &str) -> bool {
    let local = address.rsplit_once('@').map_or(address, |(l, _)| l);
    local.eq_ignore_ascii_case("mailer-daemon") || local.eq_ignore_ascii_case("postmaster")
}

/// The type to check: the declared one, unless mail clients are known to
/// get it wrong (`application/octet-stream`, `image/jpg`): then the
/// name's extension says.
fn effective_type(declared: &str, name: &str) -> String {
    match declared {
        "image/jpg" | "image/pjpeg" => "image/jpeg".to_owned(),
        "application/x-pdf" => "application/pdf".to_owned(),
        "application/x-zip-compressed" => "application/zip".to_owned(),
        "application/octet-stream" | "" => {
            let ext = name
                .rsplit_once('.')
                .map(|(_, e)| e.to_ascii_lowercase())
                .unwrap_or_default();
            match ext.as_str() {
                "jpg" | "jpeg" => "image/jpeg",
                "png" => "image/png",
                "gif" => "image/gif",
                "webp" => "image/webp",
                "pdf" => "application/pdf",
                "zip" => "application/zip",
                "mp4" => "video/mp4",
                "mov" => "video/quicktime",
                "webm" => "video/webm",
                _ => declared,
            }
            .to_owned()
        }
        other => other.to_owned(),
    }
}

fn extension_of(content_type: &str) -> Option<&'static str> {
    Some(match content_type {
        "image/jpeg" | "image/jpg" => "jpg",
        "image/png" => "png",
        "image/gif" => "gif",
        "image/webp" => "webp",
        "application/pdf" => "pdf",
        "application/zip" => "zip",
        "video/mp4" => "mp4",
        "video/quicktime" => "mov",
        "video/webm" => "webm",
        _ => return None,
    })
}

/// Undoes `format=flowed` (RFC 3676) for the sender's lines: a line
/// ending in a space continues on the next; space-stuffing goes. Quoted
/// lines are left as they are (they are trimmed away or kept whole).
fn unflow(text: &str, delsp: bool) -> String {
    let mut out = String::with_capacity(text.len());
    let mut joining = false;
    for line in text.split('\n') {
        let line = line.strip_suffix('\r').unwrap_or(line);
        let quoted = line.starts_with('>');
        let line = if quoted {
            line
        } else {
            line.strip_prefix(' ').unwrap_or(line)
        };
        if joining && quoted {
            out.push('\n');
        }
        let soft = !quoted && line.ends_with(' ') && line != "-- ";
        if soft {
            out.push_str(if delsp { &line[..line.len() - 1] } else { line });
            joining = true;
        } else {
            out.push_str(line);
            out.push('\n');
            joining = false;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reply::ReplyKeys;

    const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/fixtures/email/");
    const DOMAIN: &str = "reply.liaison.localhost";
    const ISSUED_TO: &str = "Chris@ACME.example";

    fn keys() -> ReplyKeys {
        ReplyKeys::parse("1:liaison-dev-reply-secret").unwrap()
    }

    /// The fixture with `{{KEY}}` replaced by a freshly minted key.
    fn fixture(name: &str) -> Vec<u8> {
        let raw = std::fs::read(format!("{DIR}{name}.eml")).unwrap();
        let key = keys().mint();
        String::from_utf8_lossy(&raw)
            .replace("{{KEY}}", key.as_str())
            .into_bytes()
    }

    fn expected(name: &str) -> String {
        let text = std::fs::read_to_string(format!("{DIR}{name}.expected.txt")).unwrap();
        text.strip_suffix('\n').unwrap_or(&text).to_owned()
    }

    /// The local verdict headers, as the local SMTP listener reads them.
    fn local_verdicts(m: &Incoming<'_>) -> Verdicts {
        let v = |name: &str| {
            Verdict::parse(Some(
                m.message()
                    .header_raw(name)
                    .map(str::trim)
                    .unwrap_or("PASS"),
            ))
        };
        Verdicts {
            spam: v("X-Liaison-Spam-Verdict"),
            virus: v("X-Liaison-Virus-Verdict"),
            spf: v("X-Liaison-Spf-Verdict"),
            dkim: v("X-Liaison-Dkim-Verdict"),
            dmarc: v("X-Liaison-Dmarc-Verdict"),
        }
    }

    /// The pure checks in receive-reply's order (3: the HMAC only; 6: the
    /// table's). Recipients are the To and Cc addresses, the envelope
    /// sender is `Return-Path`.
    fn judge(raw: &[u8]) -> Result<Content, Refusal> {
        let m = parse(raw)?;
        let verdicts = local_verdicts(&m);
        check_verdicts(&verdicts)?;
        let recipients: Vec<String> = [m.message().to(), m.message().cc()]
            .into_iter()
            .flatten()
            .flat_map(|a| a.iter())
            .filter_map(|a| a.address())
            .map(str::to_owned)
            .collect();
        let key = reply_key_in(&recipients, DOMAIN)?;
        keys().verify(key).map_err(|_| Refusal::ForgedKey)?;
        let sender = m.sender()?;
        check_sender(&sender, ISSUED_TO, &verdicts)?;
        let envelope = m.message().header_raw("Return-Path").unwrap_or("").trim();
        m.automatic(envelope)?;
        m.content()
    }

    const REPLIES: &[&str] = &[
        "gmail",
        "gmail-es",
        "outlook-desktop",
        "outlook-web",
        "apple-mail-ios",
        "apple-mail-macos",
        "thunderbird",
        "long-body",
        "attachments",
    ];

    /// Words of the notification every fixture answers: any of them in a
    /// body means quoted history got through.
    fn residue(text: &str) -> Option<&'static str> {
        [
            "Reply to this e-mail",
            "Could you send the new logo",
            "You receive this because",
            "notifications@liaison.example",
            "Reply in Liaison",
            "wrote:",
            " schrieb ",
            "a écrit",
            "escribió",
            "\n>",
            "reply+",
        ]
        .into_iter()
        .find(|w| text.contains(w))
    }

    #[test]
    fn every_client_reply_becomes_its_expected_text() {
        for name in REPLIES {
            let content = judge(&fixture(name)).unwrap_or_else(|r| panic!("{name}: {r}"));
            let body = content.body.as_str();
            assert_eq!(body, expected(name), "{name}");
            assert_eq!(residue(body), None, "{name}: quoted history left");
            assert!(body.chars().count() <= BODY_MAX_CHARS, "{name}");
        }
    }

    #[test]
    fn an_untrimmed_quote_would_be_caught() {
        // The checks above bite: each fixture's text before trimming
        // differs from its expected text and shows the notification.
        for name in REPLIES {
            let raw = fixture(name);
            let m = parse(&raw).unwrap();
            let untrimmed: String = m
                .message()
                .text_bodies()
                .filter_map(|p| p.text_contents())
                .collect();
            assert!(residue(&untrimmed).is_some(), "{name}: no quote to trim");
            assert_ne!(untrimmed.trim(), expected(name), "{name}");
        }
    }

    fn files(name: &str) -> Vec<(String, &'static str, usize, Vec<u8>)> {
        judge(&fixture(name))
            .unwrap()
            .files
            .into_iter()
            .map(|f| {
                let head = f.bytes[..4].to_vec();
                (f.filename, f.content_type, f.bytes.len(), head)
            })
            .collect()
    }

    #[test]
    fn attachments_are_files_and_decorations_are_not() {
        let png = b"\x89PNG".to_vec();
        let pdf = b"%PDF".to_vec();
        let jpeg = b"\xff\xd8\xff\xe0".to_vec();
        let names = |name| {
            files(name)
                .into_iter()
                .map(|(n, t, _, head)| (n, t, head))
                .collect::<Vec<_>>()
        };
        assert_eq!(
            names("gmail"),
            [("acme-logo-2027.png".into(), "image/png", png.clone())]
        );
        // The signature logo (cid, inline, small) is not a file.
        assert_eq!(
            names("outlook-desktop"),
            [(
                "Briefing_signiert.pdf".into(),
                "application/pdf",
                pdf.clone()
            )]
        );
        // A photo in the sender's own text is.
        assert_eq!(
            names("apple-mail-ios"),
            [("IMG_4711.jpeg".into(), "image/jpeg", jpeg)]
        );
        assert_eq!(
            names("apple-mail-macos"),
            [("quote-2026-11.pdf".into(), "application/pdf", pdf.clone())]
        );
        for name in ["gmail-es", "outlook-web", "thunderbird", "long-body"] {
            assert_eq!(names(name), [], "{name}");
        }
        // octet-stream with an encoded name: a PDF by its extension; the
        // .exe is left out with a note (in the expected text), the
        // signature logo is no file.
        let got = judge(&fixture("attachments")).unwrap();
        assert_eq!(
            names("attachments"),
            [
                ("stand-photo.png".into(), "image/png", png),
                ("Briefing München.pdf".into(), "application/pdf", pdf),
            ]
        );
        assert_eq!(
            got.notes,
            ["[Left out: PrinterSetup.exe (type not accepted)]"]
        );
        assert_eq!(files("gmail")[0].2, 20881, "decoded, not base64");
    }

    #[test]
    fn every_refusal_fixture_is_refused_by_its_check() {
        use Refusal::*;
        let cases = [
            ("refuse-1-virus", Virus),
            ("refuse-1-spam", Spam),
            ("refuse-2-no-reply-address", NoReplyAddress),
            ("refuse-2-two-keys", SeveralReplyAddresses),
            ("refuse-3-forged-key", ForgedKey),
            ("refuse-4-wrong-sender", WrongSender),
            ("refuse-4-two-senders", NotOneSender),
            ("refuse-4-dmarc-fail", NotAuthenticated),
            ("refuse-5-auto-submitted", Automatic),
            ("refuse-5-bulk", Automatic),
            ("refuse-5-bounce", Automatic),
            ("refuse-5-mailer-daemon", Automatic),
            ("refuse-7-only-quote", Empty),
        ];
        let on_disk = std::fs::read_dir(DIR)
            .unwrap()
            .filter_map(|e| e.ok()?.file_name().into_string().ok())
            .filter(|n| n.starts_with("refuse-") && n.ends_with(".eml"))
            .count();
        assert_eq!(on_disk, cases.len(), "a refusal fixture without a case");
        for (name, refusal) in cases {
            assert_eq!(judge(&fixture(name)).err(), Some(refusal), "{name}");
            let check: u8 = name[7..8].parse().unwrap();
            assert_eq!(refusal.check(), check, "{name}");
        }
    }

    #[test]
    fn each_automatic_signal_alone_refuses() {
        let bounce = fixture("refuse-5-bounce");
        let m = parse(&bounce).unwrap();
        // multipart/report even with an ordinary envelope sender.
        assert_eq!(m.automatic("chris@acme.example"), Err(Refusal::Automatic));
        let plain = |headers: &str| {
            format!(
                "From: Chris <chris@acme.example>\r\nTo: x@y.example\r\nSubject: Re: hi\r\n{headers}\r\nok\r\n"
            )
        };
        let verdict = |headers: &str, envelope: &str| {
            let raw = plain(headers);
            parse(raw.as_bytes()).unwrap().automatic(envelope)
        };
        assert_eq!(verdict("", "chris@acme.example"), Ok(()));
        assert_eq!(
            verdict("Auto-Submitted: no\r\n", "chris@acme.example"),
            Ok(())
        );
        assert_eq!(
            verdict("Precedence: first-class\r\n", "c@acme.example"),
            Ok(())
        );
        for (headers, envelope) in [
            ("", ""),
            ("", "<>"),
            ("", "MAILER-DAEMON@mx.acme.example"),
            ("", "<postmaster@acme.example>"),
            ("Auto-Submitted: auto-generated\r\n", "c@acme.example"),
            (
                "Auto-Submitted: Auto-Replied; owner-email=c@acme.example\r\n",
                "c@acme.example",
            ),
            ("Precedence: junk\r\n", "c@acme.example"),
            ("Precedence: List\r\n", "c@acme.example"),
            ("X-Autoreply: yes\r\n", "c@acme.example"),
        ] {
            assert_eq!(
                verdict(headers, envelope),
                Err(Refusal::Automatic),
                "{headers:?} {envelope:?}"
            );
        }
        let daemon =
            "From: Mail Delivery System <MAILER-DAEMON@acme.example>\r\nSubject: x\r\n\r\nx\r\n";
        assert_eq!(
            parse(daemon.as_bytes())
                .unwrap()
                .automatic("x@acme.example"),
            Err(Refusal::Automatic)
        );
    }

    fn status(s: &str) -> SimpleEmailVerdict {
        let mut v = SimpleEmailVerdict::default();
        v.status = Some(s.to_owned());
        v
    }

    #[test]
    fn verdicts_from_the_receipt_and_check_1() {
        let mut r = SimpleEmailReceipt::default();
        r.spam_verdict = status("PASS");
        r.virus_verdict = status("FAIL");
        r.spf_verdict = status("GRAY");
        r.dkim_verdict = status("PROCESSING_FAILED");
        r.dmarc_verdict = status("DISABLED");
        let v = Verdicts::from_receipt(&r);
        assert_eq!(
            v,
            Verdicts {
                spam: Verdict::Pass,
                virus: Verdict::Fail,
                spf: Verdict::Gray,
                dkim: Verdict::ProcessingFailed,
                dmarc: Verdict::Disabled,
            }
        );
        assert_eq!(check_verdicts(&v), Err(Refusal::Virus));
        let spam = Verdicts {
            virus: Verdict::Pass,
            spam: Verdict::Fail,
            ..v
        };
        assert_eq!(check_verdicts(&spam), Err(Refusal::Spam));
        let both = Verdicts {
            virus: Verdict::Fail,
            ..spam
        };
        assert_eq!(check_verdicts(&both), Err(Refusal::Virus), "virus first");
        let unsure = Verdicts {
            spam: Verdict::Gray,
            virus: Verdict::ProcessingFailed,
            ..v
        };
        assert_eq!(check_verdicts(&unsure), Ok(()));
        assert_eq!(
            Verdicts::from_receipt(&SimpleEmailReceipt::default()).spf,
            Verdict::Unknown
        );
    }

    #[test]
    fn check_2_finds_one_key() {
        let k = "1abcdefghijklmnopabcdefghijklmnop";
        let addr = |key: &str| format!("reply+{key}@reply.liaison.localhost");
        let one = vec![addr(k), "ana@liaison.example".to_owned()];
        assert_eq!(reply_key_in(&one, DOMAIN), Ok(k));
        // The same key in To and Cc (any case) is one.
        let twice = vec![addr(k), addr(&k.to_uppercase())];
        assert_eq!(reply_key_in(&twice, DOMAIN), Ok(k));
        let two = vec![addr(k), addr("1bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb")];
        assert_eq!(
            reply_key_in(&two, DOMAIN),
            Err(Refusal::SeveralReplyAddresses)
        );
        let other_domain = vec![format!("reply+{k}@reply.other.example")];
        assert_eq!(
            reply_key_in(&other_domain, DOMAIN),
            Err(Refusal::NoReplyAddress)
        );
        assert_eq!(reply_key_in(&[], DOMAIN), Err(Refusal::NoReplyAddress));
    }

    #[test]
    fn check_4_sender_and_authentication() {
        let pass = Verdicts {
            spam: Verdict::Pass,
            virus: Verdict::Pass,
            spf: Verdict::Pass,
            dkim: Verdict::Pass,
            dmarc: Verdict::Pass,
        };
        assert_eq!(check_sender("chris@acme.example", ISSUED_TO, &pass), Ok(()));
        assert_eq!(
            check_sender("chris@acme.example.evil", ISSUED_TO, &pass),
            Err(Refusal::WrongSender)
        );
        let spf_only = Verdicts {
            dkim: Verdict::Fail,
            dmarc: Verdict::Gray,
            ..pass
        };
        assert_eq!(
            check_sender("chris@acme.example", ISSUED_TO, &spf_only),
            Ok(())
        );
        let dkim_only = Verdicts {
            spf: Verdict::Fail,
            ..pass
        };
        assert_eq!(
            check_sender("chris@acme.example", ISSUED_TO, &dkim_only),
            Ok(())
        );
        for v in [
            Verdicts {
                dmarc: Verdict::Fail,
                ..pass
            },
            Verdicts {
                spf: Verdict::Gray,
                dkim: Verdict::ProcessingFailed,
                ..pass
            },
        ] {
            assert_eq!(
                check_sender("chris@acme.example", ISSUED_TO, &v),
                Err(Refusal::NotAuthenticated)
            );
        }
        let sender = |from: &str| {
            let raw = format!("{from}Subject: x\r\n\r\nbody\r\n");
            parse(raw.as_bytes()).unwrap().sender()
        };
        assert_eq!(
            sender("From: \"Doe, Chris\" <Chris@ACME.example>\r\n"),
            Ok("chris@acme.example".into())
        );
        assert_eq!(
            sender("From: chris@acme.example\r\n"),
            Ok("chris@acme.example".into())
        );
        for from in [
            "",
            "From: \r\n",
            "From: Chris\r\n",
            "From: a@acme.example, b@acme.example\r\n",
            "From: a@acme.example\r\nFrom: b@acme.example\r\n",
            "From: Team: a@acme.example, b@acme.example;\r\n",
        ] {
            assert_eq!(sender(from), Err(Refusal::NotOneSender), "{from:?}");
        }
    }

    #[test]
    fn urgent_by_subject_after_reply_prefixes() {
        let urgent = |subject: &str| {
            let raw = format!("From: c@acme.example\r\nSubject: {subject}\r\n\r\nx\r\n");
            parse(raw.as_bytes()).unwrap().urgent()
        };
        for s in [
            "[Urgent] stand",
            "URGENT: stand",
            "Re: [Urgent] Ana, the new cut please",
            "AW: WG: [URGENT] stand",
            "RE: Fwd: URGENT stand",
            "Re[2]: [urgent] x",
            "=?UTF-8?Q?Re=3A_=5BUrgent=5D_Stand_=E2=80=94_M=C3=BCnchen?=",
        ] {
            assert!(urgent(s), "{s}");
        }
        for s in [
            "Re: New message",
            "Urgent stand",
            "Re: not [Urgent]",
            "Re: [Urgent] New message from Ana — General",
            "[Urgent] New message from Ana — General",
            "Reminder: URGENT",
            "",
        ] {
            assert!(!urgent(s), "{s}");
        }
    }

    #[test]
    fn a_file_that_is_not_its_type_is_left_out() {
        use base64::Engine;
        let b64 = |b: &[u8]| base64::engine::general_purpose::STANDARD.encode(b);
        let mut raw = String::from(
            "From: c@acme.example\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nFiles.\r\n",
        );
        for (name, ctype, bytes) in [
            ("real.pdf", "application/pdf", &b"%PDF-1.4\n%%EOF\n"[..]),
            (
                "invoice.pdf",
                "application/pdf",
                b"MZ\x90\0\x03\0\0\0%PDF-1.4\n",
            ),
            (
                "cute.png",
                "image/png",
                b"<html><script>alert(1)</script></html>",
            ),
            (
                "cut.mp4",
                "application/octet-stream",
                b"plain text, not a video",
            ),
        ] {
            raw.push_str(&format!(
                "--b\r\nContent-Type: {ctype}; name=\"{name}\"\r\nContent-Disposition: attachment; filename=\"{name}\"\r\nContent-Transfer-Encoding: base64\r\n\r\n{}\r\n",
                b64(bytes)
            ));
        }
        raw.push_str("--b--\r\n");
        let c = parse(raw.as_bytes()).unwrap().content().unwrap();
        let kept: Vec<&str> = c.files.iter().map(|f| f.filename.as_str()).collect();
        assert_eq!(kept, ["real.pdf"]);
        assert_eq!(
            c.notes,
            [
                "[Left out: invoice.pdf (not a application/pdf file)]",
                "[Left out: cute.png (not a image/png file)]",
                "[Left out: cut.mp4 (not a video/mp4 file)]",
            ]
        );
    }

    #[test]
    fn unreadable_and_html_only_and_limits() {
        assert_eq!(parse(b"").err(), Some(Refusal::Unreadable));
        assert_eq!(parse(b"\r\n\r\n").err(), Some(Refusal::Unreadable));

        // HTML only: the quote block goes, blocks become lines.
        let html = "From: c@acme.example\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<div>Yes,</div><div>Friday.</div><blockquote type=\"cite\">old</blockquote>\r\n";
        let c = parse(html.as_bytes()).unwrap().content().unwrap();
        assert_eq!(c.body.as_str(), "Yes,\nFriday.");

        // NUL characters never reach the body.
        let nul = "From: c@acme.example\r\n\r\nok\0 then\r\n";
        let c = parse(nul.as_bytes()).unwrap().content().unwrap();
        assert_eq!(c.body.as_str(), "ok then");

        // No text but a file: not empty. Eleven files: ten and a note.
        let mut raw = String::from(
            "From: c@acme.example\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\n\r\n",
        );
        for i in 1..=11 {
            raw.push_str(&format!(
                "--b\r\nContent-Type: application/pdf; name=\"f{i}.pdf\"\r\nContent-Disposition: attachment; filename=\"f{i}.pdf\"\r\nContent-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQK\r\n"
            ));
        }
        raw.push_str("--b--\r\n");
        let c = parse(raw.as_bytes()).unwrap().content().unwrap();
        assert_eq!(c.files.len(), MAX_ATTACHMENTS);
        assert_eq!(c.files[9].filename, "f10.pdf");
        assert_eq!(c.notes, ["[Left out: f11.pdf (more than 10 files)]"]);
        assert_eq!(c.body.as_str(), c.notes[0]);

        // Nothing at all: empty.
        let none = "From: c@acme.example\r\n\r\n\r\n> On x wrote:\r\n> old\r\n";
        assert_eq!(
            parse(none.as_bytes()).unwrap().content().err(),
            Some(Refusal::Empty)
        );
    }

    #[test]
    fn every_fixture_is_read_fast() {
        let all: Vec<Vec<u8>> = REPLIES.iter().map(|n| fixture(n)).collect();
        let start = std::time::Instant::now();
        for raw in &all {
            judge(raw).unwrap();
        }
        // A debug build; well under a millisecond each in release.
        assert!(start.elapsed() < std::time::Duration::from_secs(2));
    }

    #[test]
    fn html_parts_trim_to_the_same_words() {
        // Without the text part, each client's HTML says the same.
        let words = |s: &str| s.split_whitespace().collect::<Vec<_>>().join(" ");
        for name in REPLIES.iter().filter(|n| **n != "long-body") {
            let raw = fixture(name);
            let m = parse(&raw).unwrap();
            let html: Vec<String> = m
                .message()
                .html_bodies()
                .filter_map(|p| match &p.body {
                    PartType::Html(h) => Some(html_without_quotes(h)),
                    _ => None,
                })
                .collect();
            let text = trim_reply(&html.join("\n"));
            assert_eq!(residue(&text), None, "{name}: {text}");
            let want = expected(name);
            let want = want.split("\n\n[Left out").next().unwrap_or("");
            assert_eq!(words(&text), words(want), "{name}");
        }
    }

    #[test]
    fn a_huge_email_is_cut_quickly() {
        let raw = format!(
            "From: c@acme.example\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{}\r\n\r\nOn x wrote:\r\n{}",
            "Lorem ipsum dolor sit amet, \u{e9}l\u{e8}ve.\r\n".repeat(100_000),
            "> old\r\n".repeat(100_000)
        );
        let start = std::time::Instant::now();
        let c = parse(raw.as_bytes()).unwrap().content().unwrap();
        assert!(start.elapsed() < std::time::Duration::from_secs(3));
        let chars = c.body.as_str().chars().count();
        assert!(
            (BODY_MAX_CHARS - 10..=BODY_MAX_CHARS).contains(&chars),
            "{chars}"
        );
        assert!(c.body.as_str().ends_with(&format!("\n\n{CUT_NOTE}")));
        assert_eq!(c.notes, [CUT_NOTE]);
    }
}
