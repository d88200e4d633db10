//! Reply keys: the `{key}` of `reply+{key}@{reply domain}`, the address a
//! notification's `Reply-To` carries.
//!
//! A key is bound to one (thread, recipient) by its row in the table (see
//! `store::replies`); the key itself carries no ids, only:
//!
//! ```text
//! v | 16 random base32 chars (80 bits) | 16 base32 chars of HMAC-SHA256 (80 bits)
//! ```
//!
//! 33 characters, lower-case base32 (mail systems may fold the case of a
//! local part; base32 survives it), so `reply+{key}` is 39 octets, well
//! inside the 64 of RFC 5321. `v` is the version of the secret that signed
//! it: secrets rotate by adding a new first version and keeping the old
//! ones until their keys expire. The HMAC lets a forged or mistyped key be
//! refused without reading the table.

use hmac::{Hmac, Mac};
use sha2::Sha256;

const ALPHABET: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";
/// Random bytes per key (80 bits: unguessable, and 16 base32 chars).
const RANDOM_BYTES: usize = 10;
/// HMAC bytes kept (80 bits).
const MAC_BYTES: usize = 10;
/// The length of a key's text.
pub const KEY_LEN: usize = 1 + 16 + 16;
/// The local part's prefix before the key.
pub const LOCAL_PREFIX: &str = "reply+";
/// The local part's prefix before an unsubscribe token
/// (`List-Unsubscribe: <mailto:unsubscribe+{token}@{domain}>`).
pub const UNSUBSCRIBE_PREFIX: &str = "unsubscribe+";
/// What each HMAC signs besides the key's text: a reply key and an
/// unsubscribe token of the same random part differ.
const REPLY_PURPOSE: &[u8] = b"liaison-reply-key:";
const MUTE_PURPOSE: &[u8] = b"liaison-mute-token:";

/// Constant-time equality of two tags' encodings.
fn same(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// Why the reply secrets setting is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretsError {
    #[error("no secret given")]
    Empty,
    #[error(
        "each entry must be `version:secret` with a version 1-31 and a secret of at least 16 bytes"
    )]
    Malformed,
    #[error("version {0} is given twice")]
    Duplicate(u8),
}

/// Why a key is refused (check 3's first half: no table read needed).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error("not a reply key")]
    Malformed,
    #[error("signed by an unknown secret version")]
    UnknownVersion,
    #[error("signature does not match")]
    BadSignature,
}

/// The versioned secrets: the first signs new keys, every one verifies.
#[derive(Clone)]
pub struct ReplyKeys {
    secrets: Vec<(u8, Vec<u8>)>,
}

impl std::fmt::Debug for ReplyKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let versions: Vec<u8> = self.secrets.iter().map(|(v, _)| *v).collect();
        f.debug_struct("ReplyKeys")
            .field("versions", &versions)
            .finish()
    }
}

/// A key whose signature checked out (its row may still be missing or
/// expired: `Store::reply_key`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ReplyKey(String);

impl ReplyKey {
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// `reply+{key}@{domain}`.
    pub fn address(&self, domain: &str) -> String {
        format!("{LOCAL_PREFIX}{}@{domain}", self.0)
    }
}

impl std::fmt::Display for ReplyKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

fn base32(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 8 / 5 + 1);
    let (mut acc, mut bits) = (0u32, 0u32);
    for &b in bytes {
        acc = (acc << 8) | u32::from(b);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(ALPHABET[((acc >> bits) & 31) as usize] as char);
        }
    }
    if bits > 0 {
        out.push(ALPHABET[((acc << (5 - bits)) & 31) as usize] as char);
    }
    out
}

fn digit(v: u8) -> char {
    ALPHABET[usize::from(v & 31)] as char
}

impl ReplyKeys {
    /// From `version:secret[,version:secret…]` (the first signs).
    pub fn parse(setting: &str) -> Result<Self, SecretsError> {
        let mut secrets: Vec<(u8, Vec<u8>)> = Vec::new();
        for entry in setting.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            let (v, secret) = entry.split_once(':').ok_or(SecretsError::Malformed)?;
            let v: u8 = v.trim().parse().map_err(|_| SecretsError::Malformed)?;
            if !(1..=31).contains(&v) || secret.len() < 16 {
                return Err(SecretsError::Malformed);
            }
            if secrets.iter().any(|(known, _)| *known == v) {
                return Err(SecretsError::Duplicate(v));
            }
            secrets.push((v, secret.as_bytes().to_vec()));
        }
        if secrets.is_empty() {
            return Err(SecretsError::Empty);
        }
        Ok(Self { secrets })
    }

    fn mac(secret: &[u8], signed: &str) -> Hmac<Sha256> {
        Self::mac_for(REPLY_PURPOSE, secret, signed)
    }

    fn mac_for(purpose: &[u8], secret: &[u8], signed: &str) -> Hmac<Sha256> {
        let mut mac = Hmac::<Sha256>::new_from_slice(secret).unwrap_or_else(|_| unreachable!());
        mac.update(purpose);
        mac.update(signed.as_bytes());
        mac
    }

    /// A new random key signed with the current secret.
    pub fn mint(&self) -> ReplyKey {
        let (v, secret) = &self.secrets[0];
        let mut random = [0u8; RANDOM_BYTES];
        // The OS's CSPRNG; without it no key can be unguessable.
        getrandom::fill(&mut random).expect("the operating system's random source");
        let signed = format!("{}{}", digit(*v), base32(&random));
        let tag = Self::mac(secret, &signed).finalize().into_bytes();
        ReplyKey(format!("{signed}{}", base32(&tag[..MAC_BYTES])))
    }

    /// The one-click unsubscribe token of a reply key: the same version
    /// and random part, signed for another purpose ("mute"), so neither
    /// text works as the other. It stands for the key's (thread, person)
    /// and lives as long as the key's row.
    pub fn mute_token(&self, key: &ReplyKey) -> Result<String, KeyError> {
        let (v, secret) = self.secret_of(key.as_str())?;
        let signed = &key.as_str()[..1 + 16];
        let tag = Self::mac_for(MUTE_PURPOSE, secret, signed)
            .finalize()
            .into_bytes();
        debug_assert_eq!(key.as_str().as_bytes()[0], digit(v) as u8);
        Ok(format!("{signed}{}", base32(&tag[..MAC_BYTES])))
    }

    /// The reply key an unsubscribe token stands for, if this deployment
    /// signed the token (its row is then read like the key's).
    pub fn verify_mute_token(&self, text: &str) -> Result<ReplyKey, KeyError> {
        let text = text.to_ascii_lowercase();
        let (_, secret) = self.secret_of(&text)?;
        let (signed, tag) = text.split_at(1 + 16);
        let expected = Self::mac_for(MUTE_PURPOSE, secret, signed)
            .finalize()
            .into_bytes();
        if !same(&base32(&expected[..MAC_BYTES]), tag) {
            return Err(KeyError::BadSignature);
        }
        let key_tag = Self::mac(secret, signed).finalize().into_bytes();
        Ok(ReplyKey(format!(
            "{signed}{}",
            base32(&key_tag[..MAC_BYTES])
        )))
    }

    /// The version and secret that signed a well-formed key or token.
    fn secret_of(&self, text: &str) -> Result<(u8, &[u8]), KeyError> {
        if text.len() != KEY_LEN || !text.bytes().all(|b| ALPHABET.contains(&b)) {
            return Err(KeyError::Malformed);
        }
        let v = ALPHABET
            .iter()
            .position(|&c| c == text.as_bytes()[0])
            .unwrap_or(0) as u8;
        self.secrets
            .iter()
            .find(|(known, _)| *known == v)
            .map(|(v, s)| (*v, s.as_slice()))
            .ok_or(KeyError::UnknownVersion)
    }

    /// A key's text (any case) checked against its secret.
    pub fn verify(&self, text: &str) -> Result<ReplyKey, KeyError> {
        let text = text.to_ascii_lowercase();
        let (_, secret) = self.secret_of(&text)?;
        let (signed, tag) = text.split_at(1 + 16);
        let expected = Self::mac(secret, signed).finalize().into_bytes();
        if !same(&base32(&expected[..MAC_BYTES]), tag) {
            return Err(KeyError::BadSignature);
        }
        Ok(ReplyKey(text))
    }
}

/// The key text of `address` if it is `reply+{key}@{domain}` (the domain
/// compared case-insensitively; display names and angle brackets allowed).
pub fn key_in_address<'a>(address: &'a str, domain: &str) -> Option<&'a str> {
    token_in_address(address, domain, LOCAL_PREFIX)
}

/// The token of `address` if it is `unsubscribe+{token}@{domain}`.
pub fn unsubscribe_token_in_address<'a>(address: &'a str, domain: &str) -> Option<&'a str> {
    token_in_address(address, domain, UNSUBSCRIBE_PREFIX)
}

fn token_in_address<'a>(address: &'a str, domain: &str, prefix_wanted: &str) -> Option<&'a str> {
    let address = address.trim();
    let address = match (address.rfind('<'), address.rfind('>')) {
        (Some(a), Some(b)) if a < b => &address[a + 1..b],
        _ => address,
    };
    let (local, host) = address.rsplit_once('@')?;
    if !host.eq_ignore_ascii_case(domain) {
        return None;
    }
    let prefix = local.get(..prefix_wanted.len())?;
    prefix
        .eq_ignore_ascii_case(prefix_wanted)
        .then(|| &local[prefix_wanted.len()..])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys() -> ReplyKeys {
        ReplyKeys::parse("2:second-secret-0123456789,1:first-secret-0123456789").unwrap()
    }

    #[test]
    fn minted_keys_verify_fit_a_local_part_and_differ() {
        let k = keys();
        let a = k.mint();
        let b = k.mint();
        assert_ne!(a, b);
        assert_eq!(a.as_str().len(), KEY_LEN);
        assert!(a.address("reply.example").split('@').next().unwrap().len() <= 64);
        assert_eq!(k.verify(a.as_str()), Ok(a.clone()));
        assert_eq!(k.verify(&a.as_str().to_ascii_uppercase()), Ok(a.clone()));
        assert!(a.as_str().starts_with('c'), "version 2 is the first: signs");
    }

    #[test]
    fn forged_mistyped_and_rotated_keys() {
        let k = keys();
        let a = k.mint();
        let mut flipped = a.as_str().to_owned().into_bytes();
        flipped[5] = if flipped[5] == b'a' { b'b' } else { b'a' };
        let flipped = String::from_utf8(flipped).unwrap();
        assert_eq!(k.verify(&flipped), Err(KeyError::BadSignature));
        assert_eq!(k.verify("short"), Err(KeyError::Malformed));
        assert_eq!(k.verify(&"!".repeat(KEY_LEN)), Err(KeyError::Malformed));
        // Rotation: an old secret's keys verify while it is listed.
        let old = ReplyKeys::parse("1:first-secret-0123456789")
            .unwrap()
            .mint();
        assert!(k.verify(old.as_str()).is_ok());
        let rotated = ReplyKeys::parse("3:third-secret-0123456789").unwrap();
        assert_eq!(rotated.verify(old.as_str()), Err(KeyError::UnknownVersion));
        // Another deployment's secret of the same version: forged.
        let other = ReplyKeys::parse("1:another-secret-987654321").unwrap();
        assert_eq!(other.verify(old.as_str()), Err(KeyError::BadSignature));
    }

    #[test]
    fn mute_tokens_stand_for_their_key_and_are_not_keys() {
        let k = keys();
        let key = k.mint();
        let token = k.mute_token(&key).unwrap();
        assert_eq!(token.len(), KEY_LEN);
        assert_ne!(token, key.as_str());
        assert!(format!("{UNSUBSCRIBE_PREFIX}{token}").len() <= 64);
        assert_eq!(k.verify_mute_token(&token), Ok(key.clone()));
        assert_eq!(
            k.verify_mute_token(&token.to_ascii_uppercase()),
            Ok(key.clone())
        );
        // Neither works as the other.
        assert_eq!(k.verify(&token), Err(KeyError::BadSignature));
        assert_eq!(
            k.verify_mute_token(key.as_str()),
            Err(KeyError::BadSignature)
        );
        // Another deployment's token of the same version: forged.
        let other = ReplyKeys::parse("2:another-secret-987654321").unwrap();
        assert_eq!(other.verify_mute_token(&token), Err(KeyError::BadSignature));
        assert_eq!(k.verify_mute_token("x"), Err(KeyError::Malformed));
        assert_eq!(
            unsubscribe_token_in_address(
                &format!("unsubscribe+{token}@Reply.Example"),
                "reply.example"
            ),
            Some(token.as_str())
        );
        assert_eq!(
            unsubscribe_token_in_address("reply+abc@reply.example", "reply.example"),
            None
        );
    }

    #[test]
    fn secrets_setting() {
        assert_eq!(ReplyKeys::parse("").unwrap_err(), SecretsError::Empty);
        assert_eq!(ReplyKeys::parse("x").unwrap_err(), SecretsError::Malformed);
        assert_eq!(
            ReplyKeys::parse("1:short").unwrap_err(),
            SecretsError::Malformed
        );
        assert_eq!(
            ReplyKeys::parse("32:first-secret-0123456789").unwrap_err(),
            SecretsError::Malformed
        );
        assert_eq!(
            ReplyKeys::parse("1:first-secret-0123456789,1:other-secret-0123456789").unwrap_err(),
            SecretsError::Duplicate(1)
        );
        assert!(
            !format!("{:?}", keys()).contains("secret-"),
            "Debug hides secrets"
        );
    }

    #[test]
    fn addresses() {
        assert_eq!(
            key_in_address("reply+abc@Reply.Example", "reply.example"),
            Some("abc")
        );
        assert_eq!(
            key_in_address(
                "\"Dana via Liaison\" <REPLY+abc@reply.example>",
                "reply.example"
            ),
            Some("abc")
        );
        assert_eq!(
            key_in_address("reply+abc@other.example", "reply.example"),
            None
        );
        assert_eq!(key_in_address("dana@reply.example", "reply.example"), None);
        assert_eq!(key_in_address("reply@reply.example", "reply.example"), None);
    }
}
