use super::{AccountId, UserId};

/// Which side of the conversation a person is on.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Client,
    Manager,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Client => "client",
            Role::Manager => "manager",
        }
    }

    pub fn parse(s: &str) -> Result<Self, UnknownRole> {
        match s {
            "client" => Ok(Role::Client),
            "manager" => Ok(Role::Manager),
            _ => Err(UnknownRole),
        }
    }

    pub fn other(self) -> Self {
        match self {
            Role::Client => Role::Manager,
            Role::Manager => Role::Client,
        }
    }
}

/// A side that is neither `client` nor `manager`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("must be \"client\" or \"manager\"")]
pub struct UnknownRole;

/// The authenticated caller, built only from the JWT claims that API
/// Gateway verified (never from headers or bodies; `crate::http::claims`). `role` and
/// `account_id` are what the token claims; where the caller acts, the
/// directory must agree (`access::side_in`, `access::member_of`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub user_id: UserId,
    pub name: String,
    pub email: Option<String>,
    /// A client user's own account; `None` for managers, whose accounts come
    /// from the directory.
    pub account_id: Option<AccountId>,
    pub role: Role,
}
