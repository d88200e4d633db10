use std::fmt;

use time::{format_description::FormatItem, macros::format_description, OffsetDateTime};

/// A UTC instant, shown as RFC 3339 with millisecond precision
/// (`2026-11-24T11:31:23.123Z`). Its string form sorts by time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(OffsetDateTime);

const FORMAT: &[FormatItem<'static>] =
    format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z");

impl Timestamp {
    pub fn now() -> Self {
        Self::from_unix_millis(
            (OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64,
        )
    }

    pub fn from_unix_millis(ms: i64) -> Self {
        let dt = OffsetDateTime::from_unix_timestamp_nanos(ms as i128 * 1_000_000)
            .unwrap_or(OffsetDateTime::UNIX_EPOCH);
        Self(dt)
    }

    pub fn unix_millis(&self) -> i64 {
        (self.0.unix_timestamp_nanos() / 1_000_000) as i64
    }

    pub fn unix_seconds(&self) -> i64 {
        self.0.unix_timestamp()
    }

    pub fn plus_seconds(&self, s: i64) -> Self {
        Self::from_unix_millis(self.unix_millis() + s * 1000)
    }

    /// Parses the exact form this type prints.
    pub fn parse(s: &str) -> Result<Self, TimestampError> {
        let dt = time::PrimitiveDateTime::parse(s, FORMAT).map_err(|_| TimestampError)?;
        Ok(Self(dt.assume_utc()))
    }
}

/// Not a timestamp in the form [`Timestamp`] prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("must be a UTC time like 2026-01-02T03:04:05.678Z")]
pub struct TimestampError;

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.0.format(FORMAT).map_err(|_| fmt::Error)?;
        f.write_str(&s)
    }
}

impl serde::Serialize for Timestamp {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prints_rfc3339_millis_utc_and_parses_back() {
        let t = Timestamp::from_unix_millis(1_795_519_883_123);
        assert_eq!(t.to_string(), "2026-11-24T11:31:23.123Z");
        assert_eq!(Timestamp::parse(&t.to_string()), Ok(t));
        assert_eq!(Timestamp::parse("yesterday"), Err(TimestampError));
    }
}
