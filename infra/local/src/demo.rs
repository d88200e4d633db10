//! The demo directory `make dev` loads, and dev tokens for its people.

use serde_json::{json, Map, Value};

/// `infra/local/demo-directory.json`: Acme (two client users, a manager,
/// two clients with campaigns and creatives; Glow Serum's persona, its
/// spring campaign's brief and moodboard and Hook v2's delivered video as
/// context links) and Beta (its own manager).
pub const DIRECTORY_JSON: &str = include_str!("../demo-directory.json");

/// How long a minted dev token lives.
pub const TOKEN_HOURS: i64 = 12;

pub fn directory() -> Value {
    // The file is part of this crate and checked by a test.
    serde_json::from_str(DIRECTORY_JSON).unwrap_or(Value::Null)
}

/// Someone a dev token can be minted for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Person {
    pub id: String,
    pub name: String,
    pub email: String,
    /// A client user's account; `None` for a manager.
    pub account: Option<String>,
}

impl Person {
    /// The claims a Cognito ID token carries for them: `custom:account_id`
    /// for a client user, `cognito:groups` for a manager.
    pub fn claims(&self) -> Map<String, Value> {
        let mut claims = Map::new();
        claims.insert("sub".into(), json!(self.id));
        claims.insert("name".into(), json!(self.name));
        claims.insert("email".into(), json!(self.email));
        match &self.account {
            Some(acc) => {
                claims.insert("custom:account_id".into(), json!(acc));
            }
            None => {
                claims.insert(
                    "cognito:groups".into(),
                    json!([liaison::http::MANAGER_GROUP]),
                );
            }
        }
        claims
    }
}

fn person(p: &Value, account: Option<&str>) -> Option<Person> {
    Some(Person {
        id: p["id"].as_str()?.to_owned(),
        name: p["name"].as_str().unwrap_or_default().to_owned(),
        email: p["email"].as_str().unwrap_or_default().to_owned(),
        account: account.map(str::to_owned),
    })
}

/// Everyone in a directory: each account's client users, then its managers
/// (a manager of several accounts once).
pub fn people(directory: &Value) -> Vec<Person> {
    let mut out: Vec<Person> = Vec::new();
    for acc in directory["accounts"].as_array().into_iter().flatten() {
        let id = acc["id"].as_str();
        for u in acc["users"].as_array().into_iter().flatten() {
            out.extend(person(u, id));
        }
        for m in acc["managers"].as_array().into_iter().flatten() {
            if let Some(p) = person(m, None) {
                if !out.iter().any(|o| o.id == p.id && o.account.is_none()) {
                    out.push(p);
                }
            }
        }
    }
    out
}

/// A person of the directory by id (a client user before a manager).
pub fn find(directory: &Value, id: &str) -> Option<Person> {
    people(directory).into_iter().find(|p| p.id == id)
}

/// The first account's first client user and first manager.
pub fn demo_pair(directory: &Value) -> (Option<Person>, Option<Person>) {
    let all = people(directory);
    let first_account = directory["accounts"][0]["id"].as_str();
    let client = all
        .iter()
        .find(|p| p.account.is_some() && p.account.as_deref() == first_account)
        .cloned();
    let manager_id = directory["accounts"][0]["managers"][0]["id"].as_str();
    let manager = all
        .iter()
        .find(|p| p.account.is_none() && Some(p.id.as_str()) == manager_id)
        .cloned();
    (client, manager)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_demo_directory_has_its_people() {
        let dir = directory();
        assert!(dir.is_object(), "demo-directory.json must be JSON");
        let (client, manager) = demo_pair(&dir);
        let client = client.expect("a demo client user");
        assert_eq!(client.account.as_deref(), Some("acc_acme"));
        let manager = manager.expect("a demo manager");
        assert_eq!(manager.account, None);
        assert_eq!(
            manager.claims()["cognito:groups"],
            json!(["account-managers"])
        );
        assert_eq!(find(&dir, "u_chris").map(|p| p.name), Some("Chris".into()));
        assert_eq!(find(&dir, "u_max").and_then(|p| p.account), None);
        assert!(find(&dir, "u_nobody").is_none());
    }
}
