use std::fmt;

/// The longest body, in Unicode scalar values (not bytes, not UTF-16 units).
pub const BODY_MAX_CHARS: usize = 10_000;

/// At most this many attachments per message.
pub const MAX_ATTACHMENTS: usize = 10;

/// A message body: trimmed, at most [`BODY_MAX_CHARS`] characters. It may
/// be empty; whether empty is allowed depends on attachments, which the
/// send decides.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(transparent)]
pub struct MessageBody(String);

/// Why a string is not a message body.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BodyError {
    #[error("must be at most {BODY_MAX_CHARS} characters after trimming (got {0})")]
    TooLong(usize),
    #[error("must not contain NUL characters")]
    Nul,
}

impl MessageBody {
    pub fn parse(raw: &str) -> Result<Self, BodyError> {
        let trimmed = raw.trim();
        let chars = trimmed.chars().count();
        if chars > BODY_MAX_CHARS {
            return Err(BodyError::TooLong(chars));
        }
        if trimmed.contains('\0') {
            return Err(BodyError::Nul);
        }
        Ok(Self(trimmed.to_owned()))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The first `n` characters, for previews.
    pub fn preview(&self, n: usize) -> String {
        self.0.chars().take(n).collect()
    }
}

impl fmt::Display for MessageBody {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The caller's idempotency key for a send: 1–100 of `[A-Za-z0-9._:-]`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(transparent)]
pub struct ClientMessageId(String);

/// Why a string is not a `client_message_id`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClientMessageIdError {
    #[error("must be 1 to 100 characters")]
    Length,
    #[error("may contain only letters, digits and . _ : -")]
    BadCharacter,
}

impl ClientMessageId {
    pub fn parse(s: &str) -> Result<Self, ClientMessageIdError> {
        if s.is_empty() || s.len() > 100 {
            return Err(ClientMessageIdError::Length);
        }
        if !s
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'-'))
        {
            return Err(ClientMessageIdError::BadCharacter);
        }
        Ok(Self(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_counts_characters_not_bytes() {
        let emoji = "😀".repeat(BODY_MAX_CHARS);
        assert!(MessageBody::parse(&emoji).is_ok());
        let combining = "e\u{301}".repeat(BODY_MAX_CHARS / 2);
        assert!(MessageBody::parse(&combining).is_ok());
        assert!(MessageBody::parse(&format!("{emoji}x")).is_err());
        assert_eq!(MessageBody::parse("  hi \n").unwrap().as_str(), "hi");
        assert!(MessageBody::parse(" \t\n ").unwrap().is_empty());
        // Trimming happens before counting.
        assert!(MessageBody::parse(&format!("  {emoji}  ")).is_ok());
    }

    #[test]
    fn client_message_id_charset_and_length() {
        assert!(ClientMessageId::parse("c-123:a.b_c").is_ok());
        assert!(ClientMessageId::parse("").is_err());
        assert!(ClientMessageId::parse(&"a".repeat(101)).is_err());
        assert!(ClientMessageId::parse("a b").is_err());
        assert!(ClientMessageId::parse("a#b").is_err());
    }
}
