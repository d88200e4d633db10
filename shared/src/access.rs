//! Who may act on which account: the one rule every endpoint applies.
//! A client user acts on their own account; a manager on the accounts the
//! directory assigns them. Anything else is 404, never a hint.

use crate::domain::{AccountId, AccountProfile, Principal, Role};
use crate::error::ApiError;

/// The account a request names (`account_id` in the query or body).
/// Clients may omit it or must name their own (another → 404); managers
/// must name one when `manager_must_name` (else `None` = all of theirs).
pub fn requested_account(
    caller: &Principal,
    given: Option<&str>,
    manager_must_name: bool,
) -> Result<Option<AccountId>, ApiError> {
    let given = given
        .map(|g| AccountId::parse(g).map_err(|e| ApiError::field("account_id", e.to_string())))
        .transpose()?;
    match caller.role {
        Role::Client => {
            let own = caller
                .account_id
                .clone()
                .ok_or_else(ApiError::unauthenticated)?;
            match given {
                Some(g) if g != own => Err(ApiError::not_found()),
                _ => Ok(Some(own)),
            }
        }
        Role::Manager => match given {
            None if manager_must_name => Err(ApiError::field(
                "account_id",
                "is required for account managers",
            )),
            other => Ok(other),
        },
    }
}

/// The caller's side in a thread of `account`, as the directory has it
/// (the thread's participants, the caller's inbox row), if the token agrees
/// with it: a client token acts only as a client user of its own account, a
/// manager token only as a manager. Someone who is a client user of one
/// account and a manager of another thus never acts (nor is labelled) as a
/// client where they manage, nor as a manager where they are a client.
pub fn side_in(caller: &Principal, account: &AccountId, directory: Role) -> Result<Role, ApiError> {
    let agrees = match caller.role {
        Role::Client => directory == Role::Client && caller.account_id.as_ref() == Some(account),
        Role::Manager => directory == Role::Manager,
    };
    if agrees {
        Ok(directory)
    } else {
        Err(ApiError::not_found())
    }
}

/// The account's profile, if the caller is in it on their own side.
pub fn member_of(
    profile: Option<AccountProfile>,
    caller: &Principal,
) -> Result<AccountProfile, ApiError> {
    match profile {
        Some(p) if p.role_of(&caller.user_id) == Some(caller.role) => Ok(p),
        _ => Err(ApiError::not_found()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::UserId;

    fn caller(role: Role, account: Option<&str>) -> Principal {
        Principal {
            user_id: UserId::parse("u_pat").unwrap(),
            name: "Pat".into(),
            email: None,
            account_id: account.map(|a| AccountId::parse(a).unwrap()),
            role,
        }
    }

    #[test]
    fn the_token_must_agree_with_the_directory() {
        let acme = AccountId::parse("acc_acme").unwrap();
        let beta = AccountId::parse("acc_beta").unwrap();
        let client_of_beta = caller(Role::Client, Some("acc_beta"));
        let manager = caller(Role::Manager, None);
        assert_eq!(
            side_in(&client_of_beta, &beta, Role::Client).unwrap(),
            Role::Client
        );
        // A client token where the directory makes them a manager, or in
        // another account: not theirs.
        assert!(side_in(&client_of_beta, &acme, Role::Manager).is_err());
        assert!(side_in(&client_of_beta, &acme, Role::Client).is_err());
        assert_eq!(
            side_in(&manager, &acme, Role::Manager).unwrap(),
            Role::Manager
        );
        assert!(side_in(&manager, &beta, Role::Client).is_err());
    }
}
