//! Identifiers. Directory ids come from the platform; thread, message and
//! attachment ids are ours. Every id is checked once, at the edge, so the
//! rest of the code (and the store's `#`-separated keys) can trust it.

use std::fmt;

use sha2::{Digest, Sha256};
use ulid::Ulid;

/// Why a string is not a valid id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    #[error("must not be empty")]
    Empty,
    #[error("must be at most {0} characters")]
    TooLong(usize),
    #[error("may contain only letters, digits and . _ : -")]
    BadCharacter,
    /// Not one of the ids this service makes (thread, message, attachment).
    #[error("is not a valid id")]
    Malformed,
}

impl IdError {
    /// Checks a directory id without building one.
    pub fn check(s: &str) -> Result<(), IdError> {
        check_directory_id(s)
    }
}

/// Directory ids: 1–128 of `[A-Za-z0-9._:-]` (no `#`, no spaces, no `/`).
fn check_directory_id(s: &str) -> Result<(), IdError> {
    if s.is_empty() {
        return Err(IdError::Empty);
    }
    if s.len() > 128 {
        return Err(IdError::TooLong(128));
    }
    if !s
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'-'))
    {
        return Err(IdError::BadCharacter);
    }
    Ok(())
}

macro_rules! directory_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            pub fn parse(s: impl Into<String>) -> Result<Self, IdError> {
                let s = s.into();
                check_directory_id(&s)?;
                Ok(Self(s))
            }
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }
    };
}

directory_id!(
    /// An account (a customer of the agency).
    AccountId
);
directory_id!(
    /// A person: a client user or an account manager (the JWT `sub`).
    UserId
);
directory_id!(
    /// A client (brand) in an account's catalog.
    ClientId
);
directory_id!(
    /// A campaign inside a client.
    CampaignId
);
directory_id!(
    /// A creative (one video) inside a campaign.
    CreativeId
);

/// A thread: `thr_` followed by 26 Crockford base32 characters.
///
/// Thread ids are derived from (account, scope), so opening a scope is
/// idempotent by construction: every opener computes the same id and one
/// conditional write decides who created it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(transparent)]
pub struct ThreadId(String);

impl ThreadId {
    const PREFIX: &'static str = "thr_";

    pub fn for_scope(account: &AccountId, scope_key: &str) -> Self {
        let mut hasher = Sha256::new();
        hasher.update(account.as_str().as_bytes());
        hasher.update([0u8]);
        hasher.update(scope_key.as_bytes());
        let digest = hasher.finalize();
        let mut bytes = [0u8; 16];
        bytes.copy_from_slice(&digest[..16]);
        Self(format!(
            "{}{}",
            Self::PREFIX,
            Ulid::from_bytes(bytes).to_string().to_ascii_lowercase()
        ))
    }

    /// Only what [`ThreadId::for_scope`] makes: `thr_` and a lower-case ULID.
    pub fn parse(s: &str) -> Result<Self, IdError> {
        let rest = s.strip_prefix(Self::PREFIX).ok_or(IdError::Malformed)?;
        if rest.len() != 26
            || Ulid::from_string(&rest.to_ascii_uppercase()).is_err()
            || rest.bytes().any(|b| b.is_ascii_uppercase())
        {
            return Err(IdError::Malformed);
        }
        Ok(Self(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ThreadId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

macro_rules! ulid_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(Ulid);

        impl $name {
            pub fn new() -> Self {
                Self(Ulid::new())
            }
            pub fn from_ulid(u: Ulid) -> Self {
                Self(u)
            }
            pub fn ulid(&self) -> Ulid {
                self.0
            }
            /// Only a canonical (upper-case) ULID.
            pub fn parse(s: &str) -> Result<Self, IdError> {
                let u = Ulid::from_string(s).map_err(|_| IdError::Malformed)?;
                if u.to_string() != s {
                    return Err(IdError::Malformed);
                }
                Ok(Self(u))
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&self.0, f)
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(&self.0)
            }
        }
    };
}

ulid_id!(
    /// A message: a ULID, so ids sort by time.
    MessageId
);
ulid_id!(
    /// An uploaded file: a ULID.
    AttachmentId
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn directory_ids_reject_separators_and_empties() {
        assert!(AccountId::parse("acc_acme").is_ok());
        assert!(AccountId::parse("a.b:c-d_9").is_ok());
        assert_eq!(AccountId::parse(""), Err(IdError::Empty));
        assert_eq!(AccountId::parse("a#b"), Err(IdError::BadCharacter));
        assert_eq!(AccountId::parse("a/b"), Err(IdError::BadCharacter));
        assert_eq!(AccountId::parse("a b"), Err(IdError::BadCharacter));
        assert_eq!(
            AccountId::parse("x".repeat(129)),
            Err(IdError::TooLong(128))
        );
    }

    #[test]
    fn thread_ids_are_stable_per_scope_and_round_trip() {
        let acc = AccountId::parse("acc_acme").unwrap();
        let a = ThreadId::for_scope(&acc, "general");
        assert_eq!(a, ThreadId::for_scope(&acc, "general"));
        assert_ne!(a, ThreadId::for_scope(&acc, "client#cl_glow"));
        let other = AccountId::parse("acc_other").unwrap();
        assert_ne!(a, ThreadId::for_scope(&other, "general"));
        assert_eq!(ThreadId::parse(a.as_str()), Ok(a.clone()));
        assert_eq!(ThreadId::parse("thr_"), Err(IdError::Malformed));
        assert_eq!(
            ThreadId::parse(&a.as_str().to_uppercase()),
            Err(IdError::Malformed)
        );
        assert_eq!(ThreadId::parse("../etc/passwd"), Err(IdError::Malformed));
    }

    #[test]
    fn message_ids_must_be_canonical_ulids() {
        let id = MessageId::new();
        assert_eq!(MessageId::parse(&id.to_string()), Ok(id));
        assert_eq!(
            MessageId::parse(&id.to_string().to_lowercase()),
            Err(IdError::Malformed)
        );
        assert_eq!(MessageId::parse("nope"), Err(IdError::Malformed));
    }
}
