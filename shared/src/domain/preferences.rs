//! Who gets e-mailed: a person's e-mail preference (`/me/notifications`).

/// Which messages from the other side a person is e-mailed about.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum EmailPreference {
    /// Every message they have not read in the app first (the default).
    #[default]
    All,
    /// Only urgent ones.
    UrgentOnly,
    /// None.
    Off,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("must be one of: all, urgent_only, off")]
pub struct UnknownPreference;

impl EmailPreference {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::All => "all",
            Self::UrgentOnly => "urgent_only",
            Self::Off => "off",
        }
    }

    pub fn parse(s: &str) -> Result<Self, UnknownPreference> {
        match s {
            "all" => Ok(Self::All),
            "urgent_only" => Ok(Self::UrgentOnly),
            "off" => Ok(Self::Off),
            _ => Err(UnknownPreference),
        }
    }

    /// Whether a message of this urgency is e-mailed under this preference.
    pub fn emails(self, urgent: bool) -> bool {
        match self {
            Self::All => true,
            Self::UrgentOnly => urgent,
            Self::Off => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spelled_as_the_api_spells_them() {
        for p in [
            EmailPreference::All,
            EmailPreference::UrgentOnly,
            EmailPreference::Off,
        ] {
            assert_eq!(EmailPreference::parse(p.as_str()), Ok(p));
            assert_eq!(serde_json::to_value(p).unwrap(), p.as_str());
        }
        assert!(EmailPreference::parse("none").is_err());
        assert!(EmailPreference::UrgentOnly.emails(true));
        assert!(!EmailPreference::UrgentOnly.emails(false));
        assert!(!EmailPreference::Off.emails(true));
        assert_eq!(EmailPreference::default(), EmailPreference::All);
    }
}
