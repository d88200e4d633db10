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
//! 7. [`Incoming::content`]: the text part (else the HTML without its
//!    quote blocks, as text), `format=flowed` undone, trimmed of quoted
//!    history and signature ([`super::trim`]); longer than
//!    [`BODY_MAX_CHARS`] → cut with a note. Nothing left and no file →
//!    [`Refusal::Empty`].
//! 8. The files: each attachment checked like an upload
//!    ([`check_upload`]: type, size, name; `application/octet-stream` and
//!    `image/jpg` read by the name's extension), at most
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

use super::trim::{html_without_quotes, strip_quotes_html, trim_reply};
use super::{key_in_address, Refusal};
use crate::attachments::{check_upload, UploadError};
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

/// The note when the text was longer than the limit.
pub const CUT_NOTE: &str = "[… cut: the e-mail was longer than 10,000 characters]";

const REPLY_PREFIXES: &[&str] = &[
    "re", "aw", "antw", "wg", "fwd", "fw", "tr", "rv", "res", "sv", "vs", "r", "rif", "odp",
    "réf", "ref",
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
                    let v = v.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
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
    /// `Fwd:`…), starts with `[Urgent]` (any case) or `URGENT`.
    pub fn urgent(&self) -> bool {
        let mut s = self.message.subject().unwrap_or("").trim();
        loop {
            let Some((prefix, rest)) = s.split_once(':') else {
                break;
            };
            let p = prefix.trim().to_lowercase();
            // "Re[2]" and "Re(2)" too.
            let p = p.split(['[', '(']).next().unwrap_or("");
            if !REPLY_PREFIXES.contains(&p) {
                break;
            }
            s = rest.trim_start();
        }
        s.get(..8).is_some_and(|p| p.eq_ignore_ascii_case("[urgent]")) || s.starts_with("URGENT")
    }

    /// Checks 7 and 8: the trimmed text and the accepted files.
    pub fn content(&self) -> Result<Content, Refusal> {
        let (text, kept_html) = self.text();
        let mut notes = Vec::new();
        let files = self.files(&kept_html, &mut notes);

        let text: String = trim_reply(&text).replace('\0', "");
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
                PartType::Html(h) => Some(strip_quotes_html(h)),
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
        if !plain.is_empty() {
            return (plain.join("\n"), kept_html);
        }
        let html: Vec<String> = self
            .message
            .html_bodies()
            .filter_map(|p| match &p.body {
                PartType::Html(h) => Some(html_without_quotes(h)),
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
                Ok(upload) => {
                    files.push(InboundFile {
                        filename: upload.filename,
                        content_type: upload.content_type,
                        bytes: bytes.to_vec(),
                    });
                    continue;
                }
                Err(UploadError::UnsupportedType { .. }) => "type not accepted".to_owned(),
                Err(UploadError::TooLarge { max_mib, .. }) => {
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
            out.push_str(if delsp {
                &line[..line.len() - 1]
            } else {
                line
            });
            joining = true;
        } else {
            out.push_str(line);
            out.push('\n');
            joining = false;
        }
    }
    out
}

