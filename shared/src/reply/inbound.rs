//! STAND-IN (helper "receive"): a minimal version of the plan's API for
//! reading an incoming e-mail, so `receive-reply` compiles and its tests
//! run. Helper "parse" owns this file; the integrator keeps their version
//! at merge. Only the plan's names and signatures are used elsewhere.

use aws_lambda_events::event::ses::{SimpleEmailReceipt, SimpleEmailVerdict};
use mail_parser::{MessageParser, MimeHeaders};

use super::Refusal;
use crate::attachments::check_upload;
use crate::domain::{MessageBody, BODY_MAX_CHARS, MAX_ATTACHMENTS};

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
    fn of(v: &SimpleEmailVerdict) -> Self {
        match v.status.as_deref().map(str::to_ascii_uppercase).as_deref() {
            Some("PASS") => Verdict::Pass,
            Some("FAIL") => Verdict::Fail,
            Some("GRAY") => Verdict::Gray,
            Some("PROCESSING_FAILED") => Verdict::ProcessingFailed,
            Some("DISABLED") => Verdict::Disabled,
            _ => Verdict::Unknown,
        }
    }
}

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

/// Check 1.
pub fn check_verdicts(v: &Verdicts) -> Result<(), Refusal> {
    if v.virus == Verdict::Fail {
        return Err(Refusal::Virus);
    }
    if v.spam == Verdict::Fail {
        return Err(Refusal::Spam);
    }
    Ok(())
}

/// Check 2: the one key among the recipients (the same key twice is one).
pub fn reply_key_in<'a>(recipients: &'a [String], domain: &str) -> Result<&'a str, Refusal> {
    let mut found: Option<&'a str> = None;
    for r in recipients {
        if let Some(key) = super::key_in_address(r, domain) {
            match found {
                Some(k) if !k.eq_ignore_ascii_case(key) => {
                    return Err(Refusal::SeveralReplyAddresses)
                }
                _ => found = Some(key),
            }
        }
    }
    found.ok_or(Refusal::NoReplyAddress)
}

pub struct Incoming<'x> {
    message: mail_parser::Message<'x>,
}

pub fn parse(raw: &[u8]) -> Result<Incoming<'_>, Refusal> {
    MessageParser::default()
        .parse(raw)
        .filter(|m| {
            m.headers()
                .iter()
                .any(|h| h.name().eq_ignore_ascii_case("from"))
        })
        .map(|message| Incoming { message })
        .ok_or(Refusal::Unreadable)
}

/// Check 4b.
pub fn check_sender(sender: &str, issued_to: &str, v: &Verdicts) -> Result<(), Refusal> {
    if !sender.trim().eq_ignore_ascii_case(issued_to.trim()) {
        return Err(Refusal::WrongSender);
    }
    if v.dmarc == Verdict::Fail || (v.spf != Verdict::Pass && v.dkim != Verdict::Pass) {
        return Err(Refusal::NotAuthenticated);
    }
    Ok(())
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Content {
    pub body: MessageBody,
    pub files: Vec<InboundFile>,
    pub notes: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InboundFile {
    pub filename: String,
    pub content_type: &'static str,
    pub bytes: Vec<u8>,
}

const REPLY_PREFIXES: &[&str] = &["re:", "aw:", "sv:", "wg:", "fwd:", "fw:"];

impl Incoming<'_> {
    /// Check 4a.
    pub fn sender(&self) -> Result<String, Refusal> {
        let from = self.message.from().ok_or(Refusal::NotOneSender)?;
        let mut all = from.iter();
        match (all.next().and_then(|a| a.address()), all.next()) {
            (Some(a), None) if a.contains('@') => Ok(a.trim().to_lowercase()),
            _ => Err(Refusal::NotOneSender),
        }
    }

    fn header_text(&self, name: &str) -> Option<String> {
        self.message
            .header_raw(name)
            .map(|v| v.trim().to_ascii_lowercase())
    }

    /// Check 5.
    pub fn automatic(&self, envelope_from: &str) -> Result<(), Refusal> {
        let envelope = envelope_from
            .trim()
            .trim_matches(['<', '>'])
            .to_ascii_lowercase();
        if envelope.is_empty() || envelope.starts_with("mailer-daemon@") {
            return Err(Refusal::Automatic);
        }
        if let Ok(sender) = self.sender() {
            if sender.starts_with("mailer-daemon@") || sender.starts_with("postmaster@") {
                return Err(Refusal::Automatic);
            }
        }
        if let Some(v) = self.header_text("Auto-Submitted") {
            if v.split(';').next().map(str::trim) != Some("no") {
                return Err(Refusal::Automatic);
            }
        }
        if let Some(v) = self.header_text("Precedence") {
            if ["bulk", "junk", "list"].contains(&v.as_str()) {
                return Err(Refusal::Automatic);
            }
        }
        let root = self.message.root_part();
        if let Some(ct) = root.content_type() {
            if ct.ctype().eq_ignore_ascii_case("multipart")
                && ct
                    .subtype()
                    .is_some_and(|s| s.eq_ignore_ascii_case("report"))
            {
                return Err(Refusal::Automatic);
            }
        }
        Ok(())
    }

    pub fn urgent(&self) -> bool {
        let mut subject = self.message.subject().unwrap_or("").trim();
        'strip: loop {
            for p in REPLY_PREFIXES {
                if subject.len() >= p.len() && subject[..p.len()].eq_ignore_ascii_case(p) {
                    subject = subject[p.len()..].trim_start();
                    continue 'strip;
                }
            }
            break;
        }
        subject.starts_with("[Urgent]") || subject.starts_with("URGENT")
    }

    /// Checks 7 and 8.
    pub fn content(&self) -> Result<Content, Refusal> {
        let text = match self.message.text_part(0).and_then(|p| p.text_contents()) {
            Some(t) => t.to_owned(),
            None => self
                .message
                .html_part(0)
                .and_then(|p| p.text_contents())
                .map(mail_parser::decoders::html::html_to_text)
                .unwrap_or_default(),
        };
        let mut kept = Vec::new();
        for line in text.lines() {
            let l = line.trim();
            if l == "--" || (l.starts_with("On ") && l.ends_with("wrote:")) {
                break;
            }
            if !l.starts_with('>') {
                kept.push(line);
            }
        }
        let mut body = kept.join("\n").trim().to_owned();
        let mut notes = Vec::new();
        if body.chars().count() > BODY_MAX_CHARS - 200 {
            body = body.chars().take(BODY_MAX_CHARS - 200).collect();
            notes.push("[… cut: the e-mail was longer than 10,000 characters]".to_owned());
        }
        let mut files = Vec::new();
        for part in self.message.attachments() {
            let name = part.attachment_name().unwrap_or("attachment").to_owned();
            if part.content_id().is_some()
                && part
                    .content_disposition()
                    .is_none_or(|d| d.ctype() != "attachment")
            {
                continue;
            }
            let declared = part
                .content_type()
                .map(|c| format!("{}/{}", c.ctype(), c.subtype().unwrap_or("")))
                .unwrap_or_default();
            let bytes = part.contents();
            match check_upload(&name, &declared, bytes.len() as u64) {
                Ok(_) if files.len() >= MAX_ATTACHMENTS => notes.push(format!(
                    "[Left out: {name} (more than {MAX_ATTACHMENTS} files)]"
                )),
                Ok(u) => files.push(InboundFile {
                    filename: u.filename,
                    content_type: u.content_type,
                    bytes: bytes.to_vec(),
                }),
                Err(_) => notes.push(format!("[Left out: {name} (type not accepted)]")),
            }
        }
        if body.is_empty() && files.is_empty() {
            return Err(Refusal::Empty);
        }
        for n in &notes {
            body.push_str("\n\n");
            body.push_str(n);
        }
        let body = MessageBody::parse(&body).map_err(|_| Refusal::Unreadable)?;
        Ok(Content { body, files, notes })
    }
}
