//! Whether an attachment was scanned for malware, and what the scan found.
//! Nobody downloads a file until it is [`ScanState::Clean`]; an
//! [`ScanState::Infected`] result is final (a later or repeated event never
//! turns it clean).

/// An attachment's malware-scan state.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum ScanState {
    /// Not scanned yet (or the scanner could not scan it).
    #[default]
    Pending,
    /// Scanned, no threat found: downloadable.
    Clean,
    /// Scanned, a threat found: never downloadable.
    Infected,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("must be one of: pending, clean, infected")]
pub struct UnknownScanState;

impl ScanState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Clean => "clean",
            Self::Infected => "infected",
        }
    }

    pub fn parse(s: &str) -> Result<Self, UnknownScanState> {
        match s {
            "pending" => Ok(Self::Pending),
            "clean" => Ok(Self::Clean),
            "infected" => Ok(Self::Infected),
            _ => Err(UnknownScanState),
        }
    }

    /// What a new result makes of this state: infected is final; anything
    /// else takes the newer result (pending never overrides a result).
    pub fn then(self, result: ScanState) -> ScanState {
        match (self, result) {
            (Self::Infected, _) => Self::Infected,
            (current, Self::Pending) => current,
            (_, result) => result,
        }
    }

    pub fn is_clean(self) -> bool {
        self == Self::Clean
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spelled_as_the_api_spells_them() {
        for s in [ScanState::Pending, ScanState::Clean, ScanState::Infected] {
            assert_eq!(ScanState::parse(s.as_str()), Ok(s));
            assert_eq!(
                serde_json::to_value(s).unwrap(),
                serde_json::json!(s.as_str())
            );
        }
        assert!(ScanState::parse("CLEAN").is_err());
        assert_eq!(ScanState::default(), ScanState::Pending);
    }

    #[test]
    fn infected_is_final() {
        use ScanState::*;
        assert_eq!(Infected.then(Clean), Infected);
        assert_eq!(Infected.then(Pending), Infected);
        assert_eq!(Clean.then(Infected), Infected);
        assert_eq!(Pending.then(Clean), Clean);
        assert_eq!(Clean.then(Pending), Clean);
        assert_eq!(Pending.then(Infected), Infected);
    }
}
