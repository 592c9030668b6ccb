//! An audit event: who did what to which resource, when, through which channel, with the
//! decision and its explanation as they were at that moment.

use serde::{Deserialize, Serialize};

macro_rules! event_types {
    ($( $variant:ident = $name:literal, $source:literal, $doc:literal ),* $(,)?) => {
        /// What happened. Names follow the Qlik audits API (`com.qlik.v1.<noun>.<verb>`).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum EventType {
            $(
                #[doc = $doc]
                $variant,
            )*
        }

        impl EventType {
            /// Every event type.
            pub const ALL: &'static [EventType] = &[$(EventType::$variant),*];

            /// The `eventType` string.
            pub fn as_str(self) -> &'static str {
                match self { $(EventType::$variant => $name),* }
            }

            /// The `source` service that emits it.
            pub fn source(self) -> &'static str {
                match self { $(EventType::$variant => $source),* }
            }
        }
    };
}

event_types! {
    TenantImported = "com.qlik.v1.tenant.imported", "com.qlik/portcullis", "a tenant file was imported (or replaced)",
    TenantSettingsUpdated = "com.qlik.v1.tenant.settings.updated", "com.qlik/tenants", "a tenant setting changed",
    UserCreated = "com.qlik.v1.user.created", "com.qlik/identities", "a user was created",
    UserUpdated = "com.qlik.v1.user.updated", "com.qlik/identities", "a user's name, status, roles or groups changed",
    UserDeleted = "com.qlik.v1.user.deleted", "com.qlik/identities", "a user was deleted",
    GroupCreated = "com.qlik.v1.group.created", "com.qlik/identities", "a group was created",
    GroupUpdated = "com.qlik.v1.group.updated", "com.qlik/identities", "a group's roles changed",
    GroupDeleted = "com.qlik.v1.group.deleted", "com.qlik/identities", "a group was deleted",
    GroupSettingUpdated = "com.qlik.v1.group-setting.updated", "com.qlik/identities", "the roles of Everyone (the group settings) changed",
    RoleCreated = "com.qlik.v1.role.created", "com.qlik/roles", "a custom role was created",
    RoleUpdated = "com.qlik.v1.role.updated", "com.qlik/roles", "a role's scopes changed (UserDefault included)",
    RoleDeleted = "com.qlik.v1.role.deleted", "com.qlik/roles", "a custom role was deleted",
    SpaceCreated = "com.qlik.space.created", "com.qlik/spaces", "a space was created",
    SpaceUpdated = "com.qlik.space.updated", "com.qlik/spaces", "a space was renamed or changed owner",
    SpaceDeleted = "com.qlik.space.deleted", "com.qlik/spaces", "a space was deleted",
    SpaceAssignmentCreated = "com.qlik.space.assignment.created", "com.qlik/spaces", "a member was added to a space",
    SpaceAssignmentUpdated = "com.qlik.space.assignment.updated", "com.qlik/spaces", "a member's space roles changed",
    SpaceAssignmentDeleted = "com.qlik.space.assignment.deleted", "com.qlik/spaces", "a member was removed from a space",
    ShareCreated = "com.qlik.space.share.created", "com.qlik/spaces", "an app was shared one by one",
    ShareUpdated = "com.qlik.space.share.updated", "com.qlik/spaces", "a fine-grained share's roles changed",
    ShareDeleted = "com.qlik.space.share.deleted", "com.qlik/spaces", "a fine-grained share was removed",
    OauthClientCreated = "com.qlik.v1.oauth-client.created", "com.qlik/oauth-clients", "an OAuth client was created",
    OauthClientUpdated = "com.qlik.v1.oauth-client.updated", "com.qlik/oauth-clients", "an OAuth client's scopes changed",
    OauthClientDeleted = "com.qlik.v1.oauth-client.deleted", "com.qlik/oauth-clients", "an OAuth client was deleted",
    OauthTokenIssued = "com.qlik.v1.oauth-token.issued", "com.qlik/oauth-clients", "an OAuth access token was issued (any grant)",
    ItemCreated = "com.qlik.v1.item.created", "com.qlik/items", "an app or data connection was created",
    ItemUpdated = "com.qlik.v1.item.updated", "com.qlik/items", "an item was moved or given another owner, or what it consumes when it runs changed",
    ItemDeleted = "com.qlik.v1.item.deleted", "com.qlik/items", "an app or data connection was deleted",
    ApiKeyCreated = "com.qlik.api-key.created", "com.qlik/api-keys", "an API key was created",
    ApiKeyRevoked = "com.qlik.api-key.deleted", "com.qlik/api-keys", "an API key was revoked by an administrator, or deleted by its owner",
    ApiKeyUpdated = "com.qlik.api-key.updated", "com.qlik/api-keys", "an API key's description changed",
    ApiKeysConfigUpdated = "com.qlik.api-keys-config.updated", "com.qlik/api-keys", "the tenant's API-key settings changed",
    RulesUpdated = "com.qlik.v1.security-rule.updated", "com.qlik/security-rules", "security rules were changed",
    AppExported = "com.qlik.v1.app.exported", "com.qlik/decisions", "a download of an app file was decided",
    AppDataExported = "com.qlik.v1.app.data.exported", "com.qlik/decisions", "a download of data from an app was decided",
    AppImageExported = "com.qlik.v1.app.image.exported", "com.qlik/decisions", "a download of images or PDFs was decided",
    RuleExportDecided = "com.qlik.v1.security-rule.export.decided", "com.qlik/decisions", "a rule-model export or export-data was decided",
    DecisionMade = "com.qlik.v1.decision.made", "com.qlik/decisions", "any other decision, when the tenant's policy logs it",
}

impl EventType {
    /// Parses an `eventType` string, also in the names Portcullis wrote before it took Qlik's
    /// (events already in a trail keep the name they were sealed with).
    pub fn parse(name: &str) -> Option<EventType> {
        EventType::ALL.iter().copied().find(|t| t.as_str() == name).or_else(|| {
            let earlier = match name {
                "com.qlik.v1.api-key.revoked" => return Some(EventType::ApiKeyRevoked),
                other => other.strip_prefix("com.qlik.v1.").map(|rest| format!("com.qlik.{rest}"))?,
            };
            EventType::ALL.iter().copied().find(|t| t.as_str() == earlier)
        })
    }

    /// The event type that records a decision on `action` (an action name of either model).
    pub fn for_decision(action: &str) -> EventType {
        match action {
            "app:export" => EventType::AppExported,
            "app:exportdata" => EventType::AppDataExported,
            "app:exportimage" => EventType::AppImageExported,
            "export" | "exportdata" => EventType::RuleExportDecided,
            _ => EventType::DecisionMade,
        }
    }

    /// Whether it records a decision (rather than a change).
    pub fn is_decision(self) -> bool {
        self.source() == "com.qlik/decisions"
    }
}

/// Who acted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Actor {
    /// The user's id (IdP subject), if a user acted.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub user: Option<String>,
    /// The OAuth client that acted for the user (impersonation) or as a bot.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub client: Option<String>,
    /// The API key's id, when a key was used.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub api_key: Option<String>,
}

/// The resource an event is about, with where it lived at the time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct ResourceRef {
    /// Kind: `app`, `data-connection`, `space`, `user`, `group`, `role`, ...
    #[serde(rename = "type")]
    pub kind: String,
    /// Id.
    pub id: String,
    /// Its space, if any.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub space: Option<String>,
    /// Its owner, if any.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub owner: Option<String>,
}

/// Everything an event says; this is what the chain hashes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EventBody {
    /// The tenant.
    pub tenant: String,
    /// Position in the tenant's chain, from 1.
    pub seq: u64,
    /// RFC 3339 time.
    pub event_time: String,
    /// `eventType`.
    pub event_type: String,
    /// Who acted.
    pub actor: Actor,
    /// `session`, `api-key`, `oauth:<client>`, `cli`, ...
    pub channel: String,
    /// The action asked for or performed.
    pub action: String,
    /// What it was about.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub resource: Option<ResourceRef>,
    /// For decisions: `allow` or `deny`.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub decision: Option<String>,
    /// For decisions: the explanation's tokens and sentences at that moment.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub explanation: Option<serde_json::Value>,
    /// Free details of a change (old and new values).
    #[serde(default)]
    pub data: serde_json::Value,
}

#[cfg(test)]
mod tests {
    use super::EventType;

    #[test]
    fn events_qlik_publishes_carry_qlik_names_and_sources() {
        assert_eq!(EventType::UserCreated.source(), "com.qlik/identities");
        assert_eq!(EventType::GroupSettingUpdated.as_str(), "com.qlik.v1.group-setting.updated");
        assert_eq!(EventType::SpaceAssignmentCreated.as_str(), "com.qlik.space.assignment.created");
        assert_eq!(EventType::ApiKeyRevoked.as_str(), "com.qlik.api-key.deleted");
        for event in EventType::ALL {
            assert_eq!(EventType::parse(event.as_str()), Some(*event), "{event:?} reads back");
        }
    }

    #[test]
    fn names_sealed_before_still_parse() {
        assert_eq!(EventType::parse("com.qlik.v1.space.created"), Some(EventType::SpaceCreated));
        assert_eq!(EventType::parse("com.qlik.v1.space.share.deleted"), Some(EventType::ShareDeleted));
        assert_eq!(EventType::parse("com.qlik.v1.api-key.created"), Some(EventType::ApiKeyCreated));
        assert_eq!(EventType::parse("com.qlik.v1.api-key.revoked"), Some(EventType::ApiKeyRevoked));
        assert_eq!(EventType::parse("com.qlik.v1.no.such"), None);
        assert_eq!(
            EventType::parse("com.qlik.user.created"),
            None,
            "only names Portcullis wrote are read as earlier ones"
        );
    }
}
