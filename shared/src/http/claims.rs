//! Cognito's JWT claims → [`Principal`]: what API Gateway's JWT authorizer
//! verified, read into the domain's caller (the domain knows no Cognito).

use std::collections::HashMap;

use crate::domain::{clean_line, AccountId, Principal, Role, UserId};

/// The Cognito group that makes a caller an account manager.
pub const MANAGER_GROUP: &str = "account-managers";

/// `cognito:groups` arrives as `"[a b]"`, `"a,b"`, `"a"` or a JSON array text.
pub fn parse_groups(raw: &str) -> Vec<String> {
    let trimmed = raw.trim().trim_start_matches('[').trim_end_matches(']');
    trimmed
        .split(|c: char| c == ',' || c.is_whitespace())
        .map(|g| g.trim().trim_matches('"'))
        .filter(|g| !g.is_empty())
        .map(str::to_owned)
        .collect()
}

/// The caller the claims name; `None` when they do not identify a usable
/// caller (→ 401).
pub fn principal_from_claims(claims: &HashMap<String, String>) -> Option<Principal> {
    let user_id = UserId::parse(claims.get("sub")?.trim()).ok()?;
    let is_manager = claims
        .get("cognito:groups")
        .map(|g| parse_groups(g).iter().any(|g| g == MANAGER_GROUP))
        .unwrap_or(false);
    // Only a fallback: the directory's name is the one others see
    // (a user can edit this claim in Cognito).
    let name = claims
        .get("name")
        .map(|n| clean_line(n))
        .filter(|n| !n.is_empty())
        .map(|n| n.chars().take(200).collect())
        .unwrap_or_else(|| user_id.to_string());
    let email = claims
        .get("email")
        .map(|e| e.trim().to_owned())
        .filter(|e| !e.is_empty());
    if is_manager {
        return Some(Principal {
            user_id,
            name,
            email,
            account_id: None,
            role: Role::Manager,
        });
    }
    let account_id = AccountId::parse(claims.get("custom:account_id")?.trim()).ok()?;
    Some(Principal {
        user_id,
        name,
        email,
        account_id: Some(account_id),
        role: Role::Client,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn groups_in_every_encoding() {
        assert_eq!(parse_groups("[a b]"), vec!["a", "b"]);
        assert_eq!(parse_groups("a,b"), vec!["a", "b"]);
        assert_eq!(parse_groups("a, b"), vec!["a", "b"]);
        assert_eq!(parse_groups("[\"a\",\"b\"]"), vec!["a", "b"]);
        assert_eq!(parse_groups("account-managers"), vec!["account-managers"]);
        assert!(parse_groups("[]").is_empty());
    }

    #[test]
    fn manager_by_either_group_encoding() {
        for groups in ["[account-managers admins]", "admins,account-managers"] {
            let p =
                principal_from_claims(&claims(&[("sub", "u_dana"), ("cognito:groups", groups)]))
                    .unwrap();
            assert_eq!(p.role, Role::Manager);
            assert_eq!(p.account_id, None);
            assert_eq!(p.name, "u_dana");
        }
    }

    #[test]
    fn client_needs_an_account() {
        let p = principal_from_claims(&claims(&[
            ("sub", "u_chris"),
            ("name", "Chris"),
            ("custom:account_id", "acc_acme"),
        ]))
        .unwrap();
        assert_eq!(p.role, Role::Client);
        assert_eq!(p.account_id.unwrap().as_str(), "acc_acme");
        assert!(principal_from_claims(&claims(&[("sub", "u_chris")])).is_none());
        assert!(principal_from_claims(&claims(&[
            ("sub", "u_chris"),
            ("custom:account_id", "bad#id")
        ]))
        .is_none());
        assert!(principal_from_claims(&claims(&[("custom:account_id", "acc")])).is_none());
        assert!(
            principal_from_claims(&claims(&[("sub", ""), ("custom:account_id", "acc")])).is_none()
        );
    }
}
