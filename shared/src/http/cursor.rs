//! Opaque, tamper-proof, per-caller pagination cursors.
//!
//! A cursor is `base64url(json) "." base64url(hmac-sha256(json))`. The JSON
//! binds the position (DynamoDB's last evaluated key, all strings) to the
//! caller and to the query it came from, so a cursor cannot be edited,
//! replayed by another caller, or used with another listing.

use std::collections::BTreeMap;

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::error::ApiError;

type HmacSha256 = Hmac<Sha256>;

#[derive(serde::Serialize, serde::Deserialize)]
struct Payload {
    /// The caller's user id.
    u: String,
    /// Which listing (e.g. `threads:all:*`, `messages:thr_...`).
    q: String,
    /// The position: the last evaluated key.
    k: BTreeMap<String, String>,
}

#[derive(Clone)]
pub struct CursorCodec {
    /// HMAC keyed once with the secret; cloned for each cursor.
    mac: HmacSha256,
}

impl std::fmt::Debug for CursorCodec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CursorCodec(..)")
    }
}

impl CursorCodec {
    pub fn new(secret: &[u8]) -> Self {
        // HMAC takes keys of any length; the fallback (an all-zero key of
        // the block size) is only there so that no panic is compiled in.
        let mac = <HmacSha256 as Mac>::new_from_slice(secret)
            .unwrap_or_else(|_| <HmacSha256 as Mac>::new(&Default::default()));
        Self { mac }
    }

    fn mac(&self, data: &[u8]) -> HmacSha256 {
        let mut mac = self.mac.clone();
        mac.update(data);
        mac
    }

    pub fn encode(&self, user: &str, query: &str, key: BTreeMap<String, String>) -> String {
        let payload = Payload {
            u: user.to_owned(),
            q: query.to_owned(),
            k: key,
        };
        let json = serde_json::to_vec(&payload).unwrap_or_default();
        let tag = self.mac(&json).finalize().into_bytes();
        format!("{}.{}", B64.encode(&json), B64.encode(tag))
    }

    /// The position, if the cursor is genuine and was issued to this caller
    /// for this listing; otherwise `400 validation_failed` on `cursor`.
    pub fn decode(
        &self,
        cursor: &str,
        user: &str,
        query: &str,
    ) -> Result<BTreeMap<String, String>, ApiError> {
        let invalid = || ApiError::field("cursor", "is not a valid cursor for this listing");
        let (data, tag) = cursor.split_once('.').ok_or_else(invalid)?;
        let json = B64.decode(data).map_err(|_| invalid())?;
        let tag = B64.decode(tag).map_err(|_| invalid())?;
        self.mac(&json).verify_slice(&tag).map_err(|_| invalid())?;
        let payload: Payload = serde_json::from_slice(&json).map_err(|_| invalid())?;
        if payload.u != user || payload.q != query {
            return Err(invalid());
        }
        Ok(payload.k)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> BTreeMap<String, String> {
        [("pk".to_owned(), "THREAD#x".to_owned())].into()
    }

    #[test]
    fn round_trips_for_its_caller_and_query_only() {
        let c = CursorCodec::new(b"secret");
        let cur = c.encode("u1", "threads", key());
        assert_eq!(c.decode(&cur, "u1", "threads").unwrap(), key());
        assert!(c.decode(&cur, "u2", "threads").is_err());
        assert!(c.decode(&cur, "u1", "threads:unread").is_err());
        assert!(CursorCodec::new(b"other")
            .decode(&cur, "u1", "threads")
            .is_err());
    }

    #[test]
    fn tampering_is_rejected() {
        let c = CursorCodec::new(b"secret");
        let cur = c.encode("u1", "threads", key());
        let (data, tag) = cur.split_once('.').unwrap();
        let mut json = B64.decode(data).unwrap();
        let pos = json.iter().position(|b| *b == b'x').unwrap();
        json[pos] = b'y';
        let forged = format!("{}.{}", B64.encode(&json), tag);
        assert_eq!(
            c.decode(&forged, "u1", "threads").unwrap_err().code,
            "validation_failed"
        );
        assert!(c.decode("garbage", "u1", "threads").is_err());
        assert!(c.decode("a.b", "u1", "threads").is_err());
        assert!(c.decode("", "u1", "threads").is_err());
    }
}
