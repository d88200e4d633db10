//! The directory the platform pushes: accounts, their people and catalog.
//! Parsed whole before anything is written, every problem named by its path
//! in the event (`accounts[0].users[1].email`).

use std::collections::HashSet;
use std::hash::Hash;

use serde_json::Value;

use super::{
    clean_line, AccountId, CampaignId, ClientId, CreativeId, FieldError, IdError, Role, TimeZone,
    UserId,
};

/// The most people (users + managers) one account may have: a send updates
/// every participant's inbox row in one DynamoDB transaction (100 items,
/// shared with the message, its claim, the thread and up to 10 attachments).
pub const MAX_PEOPLE_PER_ACCOUNT: usize = 80;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Person {
    pub id: UserId,
    pub email: String,
    pub name: String,
    /// The zone e-mails show this person times in; else the account's.
    pub time_zone: Option<TimeZone>,
}

/// An account and the people on both sides of its conversations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountProfile {
    pub id: AccountId,
    pub name: String,
    pub users: Vec<Person>,
    pub managers: Vec<Person>,
    /// The zone of people who have none of their own; else UTC.
    pub time_zone: Option<TimeZone>,
}

impl AccountProfile {
    /// The zone `person` reads times in: their own, else the account's
    /// (`None`: UTC).
    pub fn time_zone_of<'a>(&'a self, person: &'a Person) -> Option<&'a TimeZone> {
        person.time_zone.as_ref().or(self.time_zone.as_ref())
    }

    /// The side a person is on in this account, if they belong to it.
    pub fn role_of(&self, user: &UserId) -> Option<Role> {
        if self.managers.iter().any(|p| &p.id == user) {
            Some(Role::Manager)
        } else if self.users.iter().any(|p| &p.id == user) {
            Some(Role::Client)
        } else {
            None
        }
    }

    /// Everyone, with their side.
    pub fn participants(&self) -> impl Iterator<Item = (&Person, Role)> {
        self.users
            .iter()
            .map(|p| (p, Role::Client))
            .chain(self.managers.iter().map(|p| (p, Role::Manager)))
    }

    pub fn people_on(&self, role: Role) -> &[Person] {
        match role {
            Role::Client => &self.users,
            Role::Manager => &self.managers,
        }
    }
}

/// The first segments of the bucket's keys that are not an account's:
/// received e-mail (`inbound/`) and attachments stored since the key lost
/// its account (`t/`, see `liaison::attachments::object_key`). No account
/// may take them, so no key of an account's older files
/// (`{account}/{thread}/{attachment}`) falls under either prefix, and
/// neither prefix's rules (received e-mail expires) reach an account's
/// files. S3 keys are case-sensitive: `T` is not `t`.
pub const RESERVED_ACCOUNT_IDS: [&str; 2] = ["inbound", "t"];

/// The most links one client, campaign or creative may carry.
pub const MAX_LINKS: usize = 5;
/// The longest link label, in characters (after cleaning).
pub const MAX_LINK_LABEL_CHARS: usize = 80;
/// The longest link URL, in bytes.
pub const MAX_LINK_URL_LEN: usize = 2048;

/// Context the team pulls before replying (the campaign brief, the
/// delivered video, the persona): a label and an absolute https URL.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Link {
    pub label: String,
    pub url: String,
}

/// One catalog entry: a client, a campaign in it, or a creative in that.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CatalogEntry {
    pub client: ClientId,
    pub campaign: Option<CampaignId>,
    pub creative: Option<CreativeId>,
    pub name: String,
    pub archived: bool,
    /// In the order the directory gave them.
    pub links: Vec<Link>,
}

/// One account of a sync event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirectoryAccount {
    pub profile: AccountProfile,
    pub catalog: Vec<CatalogEntry>,
}

struct Parser {
    errors: Vec<FieldError>,
}

/// A client, campaign or creative object of the event, read.
struct Entry<'v, T> {
    path: String,
    obj: &'v serde_json::Map<String, Value>,
    id: Option<T>,
    name: Option<String>,
    archived: bool,
    links: Vec<Link>,
}

impl<T> Entry<'_, T> {
    /// The catalog entry, if its id and name are valid; `ids` places it.
    fn catalog_entry(
        &self,
        ids: impl FnOnce(&T) -> (ClientId, Option<CampaignId>, Option<CreativeId>),
    ) -> Option<CatalogEntry> {
        let (client, campaign, creative) = ids(self.id.as_ref()?);
        Some(CatalogEntry {
            client,
            campaign,
            creative,
            name: self.name.clone()?,
            archived: self.archived,
            links: self.links.clone(),
        })
    }
}

impl Parser {
    fn err(&mut self, field: impl Into<String>, msg: impl Into<String>) {
        self.errors.push(FieldError::new(field, msg));
    }

    fn obj<'v>(&mut self, v: &'v Value, path: &str) -> Option<&'v serde_json::Map<String, Value>> {
        match v.as_object() {
            Some(o) => Some(o),
            None => {
                self.err(path, "must be an object");
                None
            }
        }
    }

    fn array<'v>(
        &mut self,
        o: &'v serde_json::Map<String, Value>,
        key: &str,
        path: &str,
    ) -> &'v [Value] {
        match o.get(key) {
            None | Some(Value::Null) => &[],
            Some(Value::Array(a)) => a,
            Some(_) => {
                self.err(format!("{path}.{key}"), "must be an array");
                &[]
            }
        }
    }

    fn id<T>(
        &mut self,
        o: &serde_json::Map<String, Value>,
        path: &str,
        parse: fn(String) -> Result<T, IdError>,
    ) -> Option<T> {
        let raw = self.string(o, "id", path)?;
        parse(raw.to_owned())
            .map_err(|e| self.err(format!("{path}.id"), e.to_string()))
            .ok()
    }

    /// A required string field.
    fn string<'v>(
        &mut self,
        o: &'v serde_json::Map<String, Value>,
        key: &str,
        path: &str,
    ) -> Option<&'v str> {
        match o.get(key) {
            Some(Value::String(s)) => Some(s),
            None | Some(Value::Null) => {
                self.err(format!("{path}.{key}"), "is required");
                None
            }
            Some(_) => {
                self.err(format!("{path}.{key}"), "must be a string");
                None
            }
        }
    }

    /// Reports an id seen before among its siblings.
    fn unique<T: Clone + Eq + Hash>(&mut self, seen: &mut HashSet<T>, id: &Option<T>, path: &str) {
        if let Some(id) = id {
            if !seen.insert(id.clone()) {
                self.err(format!("{path}.id"), "appears twice");
            }
        }
    }

    /// The catalog entries under `key` (clients, campaigns or creatives):
    /// each one's own fields (id, name, archived), ids unique among them.
    fn children<'v, T: Clone + Eq + Hash>(
        &mut self,
        o: &'v serde_json::Map<String, Value>,
        key: &str,
        path: &str,
        parse: fn(String) -> Result<T, IdError>,
    ) -> Vec<Entry<'v, T>> {
        let mut seen = HashSet::new();
        let mut out = Vec::new();
        for (i, v) in self.array(o, key, path).iter().enumerate() {
            let path = format!("{path}.{key}[{i}]");
            let Some(obj) = self.obj(v, &path) else {
                continue;
            };
            let id = self.id(obj, &path, parse);
            let name = self.name(obj, &path);
            let archived = self.archived(obj, &path);
            let links = self.links(obj, &path);
            self.unique(&mut seen, &id, &path);
            out.push(Entry {
                path,
                obj,
                id,
                name,
                archived,
                links,
            });
        }
        out
    }

    /// A name others see: cleaned with [`clean_line`] (controls become
    /// spaces, invisible format characters go), then required non-empty.
    fn name(&mut self, o: &serde_json::Map<String, Value>, path: &str) -> Option<String> {
        let t = clean_line(self.string(o, "name", path)?);
        let field = format!("{path}.name");
        if t.is_empty() {
            self.err(
                field,
                "must not be empty (after removing control and invisible characters)",
            );
            None
        } else if t.chars().count() > 200 {
            self.err(field, "must be at most 200 characters");
            None
        } else {
            Some(t)
        }
    }

    /// The optional `links` of a client, campaign or creative: at most
    /// [`MAX_LINKS`], each a cleaned label and an absolute https URL.
    fn links(&mut self, o: &serde_json::Map<String, Value>, path: &str) -> Vec<Link> {
        let items = self.array(o, "links", path);
        if items.len() > MAX_LINKS {
            self.err(
                format!("{path}.links"),
                format!("at most {MAX_LINKS} links"),
            );
            return Vec::new();
        }
        let mut out = Vec::new();
        for (i, v) in items.iter().enumerate() {
            let lpath = format!("{path}.links[{i}]");
            let Some(lo) = self.obj(v, &lpath) else {
                continue;
            };
            let label = self.link_label(lo, &lpath);
            let url = self.link_url(lo, &lpath);
            if let (Some(label), Some(url)) = (label, url) {
                out.push(Link { label, url });
            }
        }
        out
    }

    fn link_label(&mut self, o: &serde_json::Map<String, Value>, path: &str) -> Option<String> {
        let t = clean_line(self.string(o, "label", path)?);
        let field = format!("{path}.label");
        if t.is_empty() {
            self.err(
                field,
                "must not be empty (after removing control and invisible characters)",
            );
            None
        } else if t.chars().count() > MAX_LINK_LABEL_CHARS {
            self.err(
                field,
                format!("must be at most {MAX_LINK_LABEL_CHARS} characters"),
            );
            None
        } else {
            Some(t)
        }
    }

    fn link_url(&mut self, o: &serde_json::Map<String, Value>, path: &str) -> Option<String> {
        let raw = self.string(o, "url", path)?;
        match check_link_url(raw) {
            Ok(url) => Some(url),
            Err(why) => {
                self.err(format!("{path}.url"), why);
                None
            }
        }
    }

    fn email(&mut self, o: &serde_json::Map<String, Value>, path: &str) -> Option<String> {
        let s = self.string(o, "email", path)?.trim();
        match check_email(s) {
            Ok(()) => Some(s.to_owned()),
            Err(why) => {
                let who = o
                    .get("id")
                    .and_then(Value::as_str)
                    .map(|id| format!(" for {}", clean_line(id)))
                    .unwrap_or_default();
                self.err(
                    format!("{path}.email"),
                    format!("must be an e-mail address SES accepts{who}: {why}"),
                );
                None
            }
        }
    }

    /// An optional IANA time zone name (absent or `null`: none).
    fn time_zone(&mut self, o: &serde_json::Map<String, Value>, path: &str) -> Option<TimeZone> {
        let field = format!("{path}.time_zone");
        match o.get("time_zone") {
            None | Some(Value::Null) => None,
            Some(Value::String(name)) => TimeZone::parse(name)
                .map_err(|e| self.err(field, e.to_string()))
                .ok(),
            Some(_) => {
                self.err(field, "must be a string");
                None
            }
        }
    }

    fn archived(&mut self, o: &serde_json::Map<String, Value>, path: &str) -> bool {
        match o.get("archived") {
            None | Some(Value::Null) => false,
            Some(Value::Bool(b)) => *b,
            Some(_) => {
                self.err(format!("{path}.archived"), "must be true or false");
                false
            }
        }
    }

    fn people(&mut self, o: &serde_json::Map<String, Value>, key: &str, path: &str) -> Vec<Person> {
        let mut out = Vec::new();
        let mut seen = HashSet::new();
        for (i, p) in self.array(o, key, path).iter().enumerate() {
            let ppath = format!("{path}.{key}[{i}]");
            let Some(po) = self.obj(p, &ppath) else {
                continue;
            };
            let id = self.id(po, &ppath, UserId::parse);
            let email = self.email(po, &ppath);
            let name = self.name(po, &ppath);
            let time_zone = self.time_zone(po, &ppath);
            self.unique(&mut seen, &id, &ppath);
            if let (Some(id), Some(email), Some(name)) = (id, email, name) {
                out.push(Person {
                    id,
                    email,
                    name,
                    time_zone,
                });
            }
        }
        out
    }
}

/// An address SES sends to without SMTPUTF8: `local@domain`, ASCII only,
/// at most 254 bytes (64 before the `@`); the local part of RFC 5322 atom
/// characters in dot-separated non-empty pieces; a domain of two or more
/// labels of letters, digits and inner hyphens (1–63 bytes each), the last
/// not all digits. The reason, when it is not one.
fn check_email(s: &str) -> Result<(), &'static str> {
    if !s.is_ascii() {
        return Err("only ASCII characters (no SMTPUTF8)");
    }
    if s.len() > 254 {
        return Err("at most 254 characters");
    }
    let Some((local, domain)) = s.rsplit_once('@') else {
        return Err("no @");
    };
    if local.is_empty() {
        return Err("nothing before the @");
    }
    if local.len() > 64 {
        return Err("at most 64 characters before the @");
    }
    if local.split('.').any(str::is_empty) {
        return Err("a dot at either end of the part before the @, or two dots in a row");
    }
    let atom = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-/=?^_`{|}~".contains(c);
    if !local.chars().all(|c| c == '.' || atom(c)) {
        return Err("a character not allowed before the @");
    }
    if domain.is_empty() {
        return Err("no domain");
    }
    let labels: Vec<&str> = domain.split('.').collect();
    if labels.iter().any(|l| l.is_empty()) {
        return Err("a dot at either end of the domain, or two dots in a row");
    }
    if labels.len() < 2 {
        return Err("the domain needs a dot");
    }
    for l in &labels {
        if l.len() > 63 {
            return Err("a domain label longer than 63 characters");
        }
        if !l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
            return Err("a character not allowed in the domain");
        }
        if l.starts_with('-') || l.ends_with('-') {
            return Err("a domain label starting or ending with a hyphen");
        }
    }
    if labels
        .last()
        .is_some_and(|tld| tld.chars().all(|c| c.is_ascii_digit()))
    {
        return Err("the domain's last label is all digits");
    }
    Ok(())
}

/// A link's URL as stored: an absolute URL starting `https://`, with a
/// host, no user name or password, normalised by the WHATWG parser, at most [`MAX_LINK_URL_LEN`] bytes (given and as
/// normalised). The reason, when it is not one.
fn check_link_url(raw: &str) -> Result<String, String> {
    let too_long = || format!("must be at most {MAX_LINK_URL_LEN} characters");
    if raw.len() > MAX_LINK_URL_LEN {
        return Err(too_long());
    }
    if raw.trim() != raw || raw.is_empty() {
        return Err("must be an absolute https URL (no surrounding spaces)".into());
    }
    if !raw.starts_with("https://") {
        return Err("must be an https URL (starting https://)".into());
    }
    let url = url::Url::parse(raw).map_err(|e| format!("must be an absolute https URL: {e}"))?;
    if url.host_str().is_none_or(str::is_empty) {
        return Err("must be an absolute https URL with a host".into());
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("must not carry a user name or password".into());
    }
    let url: String = url.into();
    if url.len() > MAX_LINK_URL_LEN {
        return Err(too_long());
    }
    Ok(url)
}

#[cfg(test)]
fn is_email(s: &str) -> bool {
    check_email(s).is_ok()
}

/// Parses a whole `sync-directory` event; all problems or nothing.
pub fn parse_directory(event: &Value) -> Result<Vec<DirectoryAccount>, Vec<FieldError>> {
    let mut p = Parser { errors: Vec::new() };
    let Some(root) = p.obj(event, "event") else {
        return Err(p.errors);
    };
    let accounts = match root.get("accounts") {
        Some(Value::Array(a)) => a.as_slice(),
        None | Some(Value::Null) => {
            return Err(vec![FieldError::new("accounts", "is required")]);
        }
        Some(_) => return Err(vec![FieldError::new("accounts", "must be an array")]),
    };
    let mut out = Vec::new();
    let mut seen_accounts = HashSet::new();
    for (i, a) in accounts.iter().enumerate() {
        let path = format!("accounts[{i}]");
        let Some(o) = p.obj(a, &path) else { continue };
        let id = p.id(o, &path, AccountId::parse);
        if let Some(reserved) = id
            .as_ref()
            .filter(|a| RESERVED_ACCOUNT_IDS.contains(&a.as_str()))
        {
            p.err(
                format!("{path}.id"),
                format!("{:?} is reserved", reserved.as_str()),
            );
        }
        p.unique(&mut seen_accounts, &id, &path);
        let name = p.name(o, &path);
        let time_zone = p.time_zone(o, &path);
        let managers = p.people(o, "managers", &path);
        let users = p.people(o, "users", &path);
        for u in &users {
            if managers.iter().any(|m| m.id == u.id) {
                p.err(
                    format!("{path}.users"),
                    format!("{} is also a manager of this account", u.id),
                );
            }
        }
        if users.len() + managers.len() > MAX_PEOPLE_PER_ACCOUNT {
            p.err(
                format!("{path}.users"),
                format!("an account has at most {MAX_PEOPLE_PER_ACCOUNT} users and managers"),
            );
        }
        let mut catalog = Vec::new();
        for client in p.children(o, "clients", &path, ClientId::parse) {
            catalog.extend(client.catalog_entry(|cl| (cl.clone(), None, None)));
            for campaign in p.children(client.obj, "campaigns", &client.path, CampaignId::parse) {
                catalog.extend(client.id.as_ref().and_then(|cl| {
                    campaign.catalog_entry(|cp| (cl.clone(), Some(cp.clone()), None))
                }));
                for creative in
                    p.children(campaign.obj, "creatives", &campaign.path, CreativeId::parse)
                {
                    let parents = client.id.as_ref().zip(campaign.id.as_ref());
                    catalog.extend(parents.and_then(|(cl, cp)| {
                        creative.catalog_entry(|r| (cl.clone(), Some(cp.clone()), Some(r.clone())))
                    }));
                }
            }
        }
        if let (Some(id), Some(name)) = (id, name) {
            out.push(DirectoryAccount {
                profile: AccountProfile {
                    id,
                    name,
                    users,
                    managers,
                    time_zone,
                },
                catalog,
            });
        }
    }
    if p.errors.is_empty() {
        Ok(out)
    } else {
        Err(p.errors)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// The fields a refused event names, in order.
    fn error_fields(e: &Value) -> Vec<String> {
        parse_directory(e)
            .unwrap_err()
            .into_iter()
            .map(|f| f.field)
            .collect()
    }

    fn acme() -> Value {
        json!({"accounts": [{
            "id": "acc_acme", "name": "Acme Beauty",
            "managers": [{"id": "u_dana", "email": "dana@agency.example", "name": "Dana"}],
            "users":    [{"id": "u_chris", "email": "chris@acme.example", "name": "Chris"}],
            "clients":  [{"id": "cl_glow", "name": "Glow Serum", "campaigns": [
                {"id": "cp_spring", "name": "Spring launch", "creatives": [
                    {"id": "cr_hook2", "name": "Hook v2"}]}]}]}]})
    }

    #[test]
    fn parses_the_api_example() {
        let accounts = parse_directory(&acme()).unwrap();
        assert_eq!(accounts.len(), 1);
        let a = &accounts[0];
        assert_eq!(a.profile.name, "Acme Beauty");
        assert_eq!(a.profile.managers[0].id.as_str(), "u_dana");
        assert_eq!(a.catalog.len(), 3);
        assert_eq!(a.catalog[2].creative.as_ref().unwrap().as_str(), "cr_hook2");
    }

    #[test]
    fn names_each_bad_field_by_path() {
        let mut e = acme();
        e["accounts"][0]["users"][0]["email"] = json!("not-an-address");
        e["accounts"][0]["clients"][0]["campaigns"][0]["creatives"][0]["id"] = json!("bad id");
        let fields = error_fields(&e);
        assert_eq!(
            fields,
            vec![
                "accounts[0].users[0].email",
                "accounts[0].clients[0].campaigns[0].creatives[0].id"
            ]
        );
        assert_eq!(
            parse_directory(&json!({})).unwrap_err()[0].field,
            "accounts"
        );
    }

    #[test]
    fn the_bucket_prefixes_are_reserved_account_ids() {
        for reserved in ["inbound", "t"] {
            let mut e = acme();
            e["accounts"][0]["id"] = json!(reserved);
            assert_eq!(error_fields(&e), vec!["accounts[0].id"], "{reserved}");
        }
        // Keys are case-sensitive: "T" is an account like any other.
        let mut e = acme();
        e["accounts"][0]["id"] = json!("T");
        assert!(parse_directory(&e).is_ok());
    }

    #[test]
    fn rejects_duplicates_and_dual_roles() {
        let mut e = acme();
        e["accounts"][0]["users"][0]["id"] = json!("u_dana");
        assert_eq!(
            parse_directory(&e).unwrap_err()[0].field,
            "accounts[0].users"
        );
        let mut e = acme();
        let c = e["accounts"][0]["clients"][0].clone();
        e["accounts"][0]["clients"].as_array_mut().unwrap().push(c);
        assert_eq!(
            parse_directory(&e).unwrap_err()[0].field,
            "accounts[0].clients[1].id"
        );
    }

    #[test]
    fn links_are_read_cleaned_and_checked() {
        let mut e = acme();
        e["accounts"][0]["clients"][0]["links"] = json!([
            {"label": " Persona\u{200B}: Mia ", "url": "https://wiki.agency.example/personas/mia"}]);
        e["accounts"][0]["clients"][0]["campaigns"][0]["creatives"][0]["links"] =
            json!([{"label": "Video", "url": "https://CDN.example/v/hook2.mp4?t=1"}]);
        let a = &parse_directory(&e).unwrap()[0];
        assert_eq!(
            a.catalog[0].links,
            vec![Link {
                label: "Persona: Mia".into(),
                url: "https://wiki.agency.example/personas/mia".into()
            }]
        );
        assert!(a.catalog[1].links.is_empty());
        assert_eq!(
            a.catalog[2].links[0].url,
            "https://cdn.example/v/hook2.mp4?t=1"
        );

        let mut e = acme();
        let campaign = "accounts[0].clients[0].campaigns[0]";
        e["accounts"][0]["clients"][0]["campaigns"][0]["links"] = json!([
            {"label": "Brief", "url": "http://docs.example/brief"},
            {"label": "\u{200B}", "url": "https://docs.example/a"},
            {"label": "x".repeat(81), "url": "https://docs.example/b"},
            {"label": "No host", "url": "https://"},
            {"label": "Relative", "url": "/brief"}]);
        e["accounts"][0]["clients"][0]["links"] = json!([
            {"label": "Secret", "url": "https://user:pw@docs.example/"},
            {"label": "Long", "url": format!("https://docs.example/{}", "a".repeat(2048))},
            {"url": "https://docs.example/"},
            "https://docs.example/"]);
        e["accounts"][0]["clients"][0]["campaigns"][0]["creatives"][0]["links"] =
            json!(vec![json!({"label": "a", "url": "https://a.example/"}); 6]);
        let fields: Vec<String> = parse_directory(&e)
            .unwrap_err()
            .into_iter()
            .map(|f| f.field)
            .collect();
        assert_eq!(
            fields,
            vec![
                "accounts[0].clients[0].links[0].url".to_owned(),
                "accounts[0].clients[0].links[1].url".to_owned(),
                "accounts[0].clients[0].links[2].label".to_owned(),
                "accounts[0].clients[0].links[3]".to_owned(),
                format!("{campaign}.links[0].url"),
                format!("{campaign}.links[1].label"),
                format!("{campaign}.links[2].label"),
                format!("{campaign}.links[3].url"),
                format!("{campaign}.links[4].url"),
                format!("{campaign}.creatives[0].links"),
            ]
        );
        let mut e = acme();
        e["accounts"][0]["clients"][0]["links"] = json!({"label": "x"});
        assert_eq!(
            parse_directory(&e).unwrap_err()[0].field,
            "accounts[0].clients[0].links"
        );
    }

    #[test]
    fn emails() {
        assert!(is_email("a@b.co"));
        assert!(is_email("first.last+tag@mail.example.com"));
        assert!(is_email("o'neil@x-y.example"));
        assert!(!is_email("a@b"));
        assert!(!is_email("a b@c.de"));
        assert!(!is_email("@c.de"));
        assert!(!is_email("a@@c.de"));
        assert!(!is_email("a@b..c"));
        assert!(!is_email("a@.b.c"));
        assert!(!is_email("a@b.c."));
        assert!(!is_email(".a@b.c"));
        assert!(!is_email("a.@b.c"));
        assert!(!is_email("a..b@c.de"));
        assert!(!is_email("jos\u{e9}@b.com"));
        assert!(!is_email("a@b\u{fc}cher.de"));
        assert!(!is_email("a@-b.de"));
        assert!(!is_email("a@b-.de"));
        assert!(!is_email("a@b_c.de"));
        assert!(!is_email("a@1.2"));
        assert!(!is_email("a\"b@c.de"));
        assert!(!is_email("a@"));
        assert!(!is_email(&format!("{}@b.de", "a".repeat(65))));
        assert!(!is_email(&format!("a@{}.de", "b".repeat(64))));
        assert!(!is_email(&format!(
            "a@{}.de",
            vec!["b".repeat(60); 5].join(".")
        )));
    }

    #[test]
    fn a_bad_address_names_the_field_and_the_person() {
        let mut e = acme();
        e["accounts"][0]["managers"][0]["email"] = json!("dana@agency..example");
        e["accounts"][0]["users"][0]["email"] = json!("chr\u{ef}s@acme.example");
        let errors = parse_directory(&e).unwrap_err();
        assert_eq!(errors.len(), 2, "every bad address is reported: {errors:?}");
        assert_eq!(errors[0].field, "accounts[0].managers[0].email");
        assert!(errors[0].to_string().contains("u_dana"), "{}", errors[0]);
        assert!(errors[0].to_string().contains("two dots"), "{}", errors[0]);
        assert_eq!(errors[1].field, "accounts[0].users[0].email");
        assert!(errors[1].to_string().contains("u_chris"), "{}", errors[1]);
        assert!(errors[1].to_string().contains("ASCII"), "{}", errors[1]);
    }

    #[test]
    fn time_zones_are_optional_iana_names_named_by_field() {
        let mut e = acme();
        e["accounts"][0]["time_zone"] = json!("Europe/Berlin");
        e["accounts"][0]["users"][0]["time_zone"] = json!("america/new_york");
        let a = &parse_directory(&e).unwrap()[0].profile;
        assert_eq!(a.time_zone.as_ref().unwrap().as_str(), "Europe/Berlin");
        let chris = &a.users[0];
        assert_eq!(a.time_zone_of(chris).unwrap().as_str(), "America/New_York");
        assert_eq!(
            a.time_zone_of(&a.managers[0]).unwrap().as_str(),
            "Europe/Berlin"
        );
        let a = &parse_directory(&acme()).unwrap()[0].profile;
        assert_eq!(a.time_zone, None);
        assert_eq!(a.time_zone_of(&a.users[0]), None);

        let mut e = acme();
        e["accounts"][0]["time_zone"] = json!(60);
        e["accounts"][0]["managers"][0]["time_zone"] = json!(null);
        e["accounts"][0]["users"]
            .as_array_mut()
            .unwrap()
            .push(json!({"id": "u_alex", "email": "alex@acme.example", "name": "Alex", "time_zone": "Berlin"}));
        let errors = parse_directory(&e).unwrap_err();
        let fields: Vec<&str> = errors.iter().map(|f| f.field.as_str()).collect();
        assert_eq!(
            fields,
            vec!["accounts[0].time_zone", "accounts[0].users[1].time_zone"]
        );
        assert!(errors[1].message.contains("IANA"), "{}", errors[1]);
    }

    #[test]
    fn names_are_cleaned_or_refused() {
        let mut e = acme();
        e["accounts"][0]["users"][0]["name"] = json!("  Chris\u{202E}nosaM\n (client) ");
        e["accounts"][0]["clients"][0]["name"] = json!("Glow\u{200B} Serum");
        let a = &parse_directory(&e).unwrap()[0];
        assert_eq!(a.profile.users[0].name, "ChrisnosaM (client)");
        assert_eq!(a.catalog[0].name, "Glow Serum");
        let mut e = acme();
        e["accounts"][0]["managers"][0]["name"] = json!("\u{200B}\u{202E}\t");
        e["accounts"][0]["clients"][0]["campaigns"][0]["name"] = json!("\n");
        let fields = error_fields(&e);
        assert_eq!(
            fields,
            vec![
                "accounts[0].managers[0].name",
                "accounts[0].clients[0].campaigns[0].name"
            ]
        );
    }
}
