use serde_json::Value;

use super::{CampaignId, ClientId, CreativeId, FieldError};

/// What a thread is about.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Scope {
    General,
    Client {
        client: ClientId,
    },
    Campaign {
        client: ClientId,
        campaign: CampaignId,
    },
    Creative {
        client: ClientId,
        campaign: CampaignId,
        creative: CreativeId,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScopeKind {
    General,
    Client,
    Campaign,
    Creative,
}

impl ScopeKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ScopeKind::General => "general",
            ScopeKind::Client => "client",
            ScopeKind::Campaign => "campaign",
            ScopeKind::Creative => "creative",
        }
    }
}

const ID_FIELDS: [&str; 3] = ["client_id", "campaign_id", "creative_id"];

impl Scope {
    pub fn kind(&self) -> ScopeKind {
        match self {
            Scope::General => ScopeKind::General,
            Scope::Client { .. } => ScopeKind::Client,
            Scope::Campaign { .. } => ScopeKind::Campaign,
            Scope::Creative { .. } => ScopeKind::Creative,
        }
    }

    pub fn client(&self) -> Option<&ClientId> {
        match self {
            Scope::General => None,
            Scope::Client { client }
            | Scope::Campaign { client, .. }
            | Scope::Creative { client, .. } => Some(client),
        }
    }

    pub fn campaign(&self) -> Option<&CampaignId> {
        match self {
            Scope::Campaign { campaign, .. } | Scope::Creative { campaign, .. } => Some(campaign),
            _ => None,
        }
    }

    pub fn creative(&self) -> Option<&CreativeId> {
        match self {
            Scope::Creative { creative, .. } => Some(creative),
            _ => None,
        }
    }

    /// A stable key naming this scope within its account: `general`,
    /// `client#cl`, `campaign#cl#cp`, `creative#cl#cp#cr`.
    pub fn key(&self) -> String {
        let mut key = self.kind().as_str().to_owned();
        for id in [
            self.client().map(|c| c.as_str()),
            self.campaign().map(|c| c.as_str()),
            self.creative().map(|c| c.as_str()),
        ]
        .into_iter()
        .flatten()
        {
            key.push('#');
            key.push_str(id);
        }
        key
    }

    /// Parses `{"kind": ..., "client_id": ..., ...}`; every problem is
    /// reported against `{prefix}.{field}`.
    pub fn from_json(value: &Value, prefix: &str) -> Result<Self, Vec<FieldError>> {
        let field = |name: &str| format!("{prefix}.{name}");
        let Some(obj) = value.as_object() else {
            return Err(vec![FieldError::new(prefix, "must be an object")]);
        };
        let kind = match obj.get("kind") {
            None | Some(Value::Null) => {
                return Err(vec![FieldError::new(field("kind"), "is required")])
            }
            Some(Value::String(k)) => k.as_str(),
            Some(_) => return Err(vec![FieldError::new(field("kind"), "must be a string")]),
        };
        let wanted = match kind {
            "general" => 0,
            "client" => 1,
            "campaign" => 2,
            "creative" => 3,
            _ => {
                return Err(vec![FieldError::new(
                    field("kind"),
                    "must be one of general, client, campaign, creative",
                )])
            }
        };
        let mut errors = Vec::new();
        let mut ids: Vec<String> = Vec::new();
        for (i, name) in ID_FIELDS.iter().enumerate() {
            let present = obj.get(*name).filter(|v| !v.is_null());
            if i < wanted {
                match present {
                    None => errors.push(FieldError::new(
                        field(name),
                        format!("is required for a {kind} scope"),
                    )),
                    Some(Value::String(s)) => match super::ids::IdError::check(s) {
                        Ok(()) => ids.push(s.clone()),
                        Err(e) => errors.push(FieldError::new(field(name), e.to_string())),
                    },
                    Some(_) => errors.push(FieldError::new(field(name), "must be a string")),
                }
            } else if present.is_some() {
                errors.push(FieldError::new(
                    field(name),
                    format!("is not allowed for a {kind} scope"),
                ));
            }
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        // The ids were checked above, so these parses cannot fail.
        let client = || ClientId::parse(ids[0].clone()).map_err(|_| Vec::new());
        let campaign = || CampaignId::parse(ids[1].clone()).map_err(|_| Vec::new());
        let creative = || CreativeId::parse(ids[2].clone()).map_err(|_| Vec::new());
        Ok(match wanted {
            0 => Scope::General,
            1 => Scope::Client { client: client()? },
            2 => Scope::Campaign {
                client: client()?,
                campaign: campaign()?,
            },
            _ => Scope::Creative {
                client: client()?,
                campaign: campaign()?,
                creative: creative()?,
            },
        })
    }
}

/// A scope with its human label, as responses show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabeledScope {
    pub scope: Scope,
    pub label: String,
}

impl LabeledScope {
    /// Label from the names along the path: `General`, `Glow Serum`,
    /// `Glow Serum › Spring launch`, `Glow Serum › Spring launch › Hook v2`.
    pub fn new(scope: Scope, names: &[&str]) -> Self {
        let label = if names.is_empty() {
            "General".to_owned()
        } else {
            names.join(" › ")
        };
        Self { scope, label }
    }
}

impl serde::Serialize for LabeledScope {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = s.serialize_map(None)?;
        map.serialize_entry("kind", self.scope.kind().as_str())?;
        if let Some(c) = self.scope.client() {
            map.serialize_entry("client_id", c)?;
        }
        if let Some(c) = self.scope.campaign() {
            map.serialize_entry("campaign_id", c)?;
        }
        if let Some(c) = self.scope.creative() {
            map.serialize_entry("creative_id", c)?;
        }
        map.serialize_entry("label", &self.label)?;
        map.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn fields(v: Value) -> Vec<String> {
        Scope::from_json(&v, "scope")
            .unwrap_err()
            .into_iter()
            .map(|e| e.field)
            .collect()
    }

    #[test]
    fn parses_every_kind() {
        assert_eq!(
            Scope::from_json(&json!({"kind": "general"}), "scope").unwrap(),
            Scope::General
        );
        let s = Scope::from_json(
            &json!({"kind": "creative", "client_id": "cl", "campaign_id": "cp", "creative_id": "cr"}),
            "scope",
        )
        .unwrap();
        assert_eq!(s.key(), "creative#cl#cp#cr");
        assert_eq!(
            Scope::from_json(&json!({"kind": "client", "client_id": "cl"}), "scope")
                .unwrap()
                .key(),
            "client#cl"
        );
    }

    #[test]
    fn names_the_field_for_every_malformed_combination() {
        assert_eq!(fields(json!({})), vec!["scope.kind"]);
        assert_eq!(fields(json!({"kind": "team"})), vec!["scope.kind"]);
        assert_eq!(fields(json!({"kind": 3})), vec!["scope.kind"]);
        assert_eq!(fields(json!("general")), vec!["scope"]);
        assert_eq!(
            fields(json!({"kind": "general", "client_id": "cl"})),
            vec!["scope.client_id"]
        );
        assert_eq!(fields(json!({"kind": "client"})), vec!["scope.client_id"]);
        assert_eq!(
            fields(json!({"kind": "campaign", "campaign_id": "cp"})),
            vec!["scope.client_id"]
        );
        assert_eq!(
            fields(
                json!({"kind": "campaign", "client_id": "cl", "campaign_id": "cp", "creative_id": "cr"})
            ),
            vec!["scope.creative_id"]
        );
        assert_eq!(
            fields(json!({"kind": "client", "client_id": "a#b"})),
            vec!["scope.client_id"]
        );
        assert_eq!(
            fields(json!({"kind": "client", "client_id": 7})),
            vec!["scope.client_id"]
        );
    }

    #[test]
    fn serializes_with_label() {
        let s = LabeledScope::new(
            Scope::Campaign {
                client: ClientId::parse("cl_glow").unwrap(),
                campaign: CampaignId::parse("cp_spring").unwrap(),
            },
            &["Glow Serum", "Spring launch"],
        );
        assert_eq!(
            serde_json::to_value(&s).unwrap(),
            json!({"kind": "campaign", "client_id": "cl_glow", "campaign_id": "cp_spring", "label": "Glow Serum › Spring launch"})
        );
    }
}
