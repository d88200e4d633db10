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

/// An IANA time zone (`Europe/Berlin`) a person reads times in, as the
/// directory gives it: known to the bundled tz database, kept in its
/// canonical spelling.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TimeZone(String);

/// Not a time zone of the IANA database.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("must be an IANA time zone name like Europe/Berlin or America/New_York")]
pub struct TimeZoneError;

/// `Mon 30 Nov, 07:51`.
const HUMAN: &str = "%a %-d %b, %H:%M";

/// The longest zone name accepted (the longest IANA name is 32 bytes).
const MAX_ZONE_NAME: usize = 64;

impl TimeZone {
    pub fn parse(name: &str) -> Result<Self, TimeZoneError> {
        if name.is_empty() || name.len() > MAX_ZONE_NAME || name.trim() != name {
            return Err(TimeZoneError);
        }
        let tz = jiff::tz::db().get(name).map_err(|_| TimeZoneError)?;
        if tz.is_unknown() {
            return Err(TimeZoneError);
        }
        let canonical = tz.iana_name().unwrap_or(name);
        Ok(Self(canonical.to_owned()))
    }

    /// A name as the store kept it, after [`parse`](Self::parse) checked
    /// it at the edge. Not looked up again: reading a profile (every API
    /// call does) need not link the tz database; [`Timestamp::human`]
    /// shows UTC for a name the database no longer knows.
    pub fn stored(name: impl Into<String>) -> Self {
        Self(name.into())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for TimeZone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Timestamp {
    /// As people read it in an e-mail, in `zone` (UTC if none), the zone
    /// named: `Mon 30 Nov, 07:51 (Europe/Berlin)`, `Mon 30 Nov, 06:51 UTC`.
    pub fn human(&self, zone: Option<&TimeZone>) -> String {
        let found = zone.and_then(|z| {
            let tz = jiff::tz::db().get(z.as_str()).ok()?;
            (!tz.is_unknown() && z.as_str() != "UTC").then_some((z, tz))
        });
        let at = jiff::Timestamp::from_millisecond(self.unix_millis())
            .unwrap_or(jiff::Timestamp::UNIX_EPOCH);
        match found {
            Some((name, tz)) => {
                let when = at.to_zoned_datetime(tz).strftime(HUMAN);
                format!("{when} ({name})")
            }
            None => {
                let when = at
                    .to_zoned_datetime(jiff::tz::TimeZone::UTC)
                    .strftime(HUMAN);
                format!("{when} UTC")
            }
        }
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

    #[test]
    fn zones_are_iana_names_in_their_canonical_spelling() {
        assert_eq!(
            TimeZone::parse("Europe/Berlin").unwrap().as_str(),
            "Europe/Berlin"
        );
        assert_eq!(
            TimeZone::parse("europe/BERLIN").unwrap().as_str(),
            "Europe/Berlin"
        );
        assert_eq!(TimeZone::parse("UTC").unwrap().as_str(), "UTC");
        for bad in [
            "",
            "Mars/Olympus",
            "Etc/Unknown",
            " Europe/Berlin",
            "CET-1CEST",
            "../etc/passwd",
        ] {
            assert_eq!(TimeZone::parse(bad), Err(TimeZoneError), "{bad:?}");
        }
        assert_eq!(TimeZone::parse(&"a".repeat(65)), Err(TimeZoneError));
    }

    #[test]
    fn human_times_in_the_readers_zone() {
        // 2026-11-30T06:51:31.643Z, a Monday.
        let t = Timestamp::parse("2026-11-30T06:51:31.643Z").unwrap();
        let berlin = TimeZone::parse("Europe/Berlin").unwrap();
        assert_eq!(t.human(Some(&berlin)), "Mon 30 Nov, 07:51 (Europe/Berlin)");
        assert_eq!(t.human(None), "Mon 30 Nov, 06:51 UTC");
        assert_eq!(
            t.human(Some(&TimeZone::parse("UTC").unwrap())),
            "Mon 30 Nov, 06:51 UTC"
        );
        let ny = TimeZone::parse("America/New_York").unwrap();
        assert_eq!(t.human(Some(&ny)), "Mon 30 Nov, 01:51 (America/New_York)");
        // Across midnight and a one-digit day; summer time.
        let t = Timestamp::parse("2026-07-01T22:30:00.000Z").unwrap();
        assert_eq!(t.human(Some(&berlin)), "Thu 2 Jul, 00:30 (Europe/Berlin)");
        let tokyo = TimeZone::parse("Asia/Tokyo").unwrap();
        assert_eq!(t.human(Some(&tokyo)), "Thu 2 Jul, 07:30 (Asia/Tokyo)");
        // A stored name the database does not know: UTC, named so.
        let gone = TimeZone::stored("Europe/Atlantis");
        assert_eq!(t.human(Some(&gone)), "Wed 1 Jul, 22:30 UTC");
    }
}
