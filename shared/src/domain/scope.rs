use super::{CampaignId, ClientId, CreativeId};

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

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
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
