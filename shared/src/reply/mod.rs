//! Reply by e-mail: a notification's `Reply-To` is `reply+{key}@{domain}`
//! ([`key`]); an answer to it arrives through SES receiving, is judged by
//! eight checks in order ([`Refusal`] names each way one fails;
//! [`inbound`] reads the e-mail, [`trim`] cuts quoted history and
//! signatures), and becomes a message posted by the key's recipient
//! through the same send path as the API.

pub mod inbound;
pub mod key;
pub mod trim;

use std::time::Duration;

pub use key::{key_in_address, unsubscribe_token_in_address, KeyError, ReplyKey, ReplyKeys};

/// How long a reply key answers after it is issued, unless set.
pub const DEFAULT_KEY_TTL: Duration = Duration::from_secs(90 * 24 * 3600);

/// What a deployment needs to issue and accept reply addresses.
#[derive(Debug, Clone)]
pub struct ReplySettings {
    /// The domain of `reply+{key}@{domain}` (SES receives mail for it).
    pub domain: String,
    pub keys: ReplyKeys,
    /// How long a key answers after it is issued.
    pub key_ttl: Duration,
}

/// Why an incoming e-mail was not posted, by the check that refused it
/// (1-8, in the order they run). Logged as `reason = as_str()`; a refused
/// e-mail is never answered (no backscatter).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Refusal {
    /// The raw message is missing from the bucket or is not MIME.
    Unreadable,
    /// 1. SES's virus verdict is FAIL.
    Virus,
    /// 1. SES's spam verdict is FAIL.
    Spam,
    /// 2. No recipient is a reply address of this deployment.
    NoReplyAddress,
    /// 2. More than one recipient is.
    SeveralReplyAddresses,
    /// 3. The key's HMAC does not check out (or it is not a key at all).
    ForgedKey,
    /// 3. No row for the key.
    UnknownKey,
    /// 3. The key's row has expired.
    ExpiredKey,
    /// 3. The key's recipient no longer takes part in the thread.
    NotParticipant,
    /// 4. `From` is not exactly one mailbox.
    NotOneSender,
    /// 4. `From` is not the address the key was issued to.
    WrongSender,
    /// 4. DMARC FAIL, or neither SPF nor DKIM PASS.
    NotAuthenticated,
    /// 5. `Auto-Submitted` other than `no`, `Precedence: bulk/junk/list`,
    ///    a bounce (`multipart/report`) or a mailer-daemon sender.
    Automatic,
    /// 6. The sender sent too many replies lately.
    RateLimited,
    /// 7. Nothing left after trimming quotes and signatures, and no file.
    Empty,
}

impl Refusal {
    /// The check (1-8) that refuses; 0 for an unreadable e-mail.
    pub fn check(self) -> u8 {
        use Refusal::*;
        match self {
            Unreadable => 0,
            Virus | Spam => 1,
            NoReplyAddress | SeveralReplyAddresses => 2,
            ForgedKey | UnknownKey | ExpiredKey | NotParticipant => 3,
            NotOneSender | WrongSender | NotAuthenticated => 4,
            Automatic => 5,
            RateLimited => 6,
            Empty => 7,
        }
    }

    /// The log field's value.
    pub fn as_str(self) -> &'static str {
        use Refusal::*;
        match self {
            Unreadable => "unreadable",
            Virus => "virus",
            Spam => "spam",
            NoReplyAddress => "no_reply_address",
            SeveralReplyAddresses => "several_reply_addresses",
            ForgedKey => "forged_key",
            UnknownKey => "unknown_key",
            ExpiredKey => "expired_key",
            NotParticipant => "not_participant",
            NotOneSender => "not_one_sender",
            WrongSender => "wrong_sender",
            NotAuthenticated => "not_authenticated",
            Automatic => "automatic",
            RateLimited => "rate_limited",
            Empty => "empty",
        }
    }
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
