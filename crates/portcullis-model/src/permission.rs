//! The permission catalogue of UserDefault and custom roles (spec §3).
//!
//! Every permission has a key (used in tenant files), its allowed values, its default in
//! UserDefault, where it may be set, and what each value grants as capabilities (and so
//! as scopes). "Not allowed" exists only in UserDefault; a custom role can only add, or
//! follow UserDefault with `user-default`.

use std::fmt;

use crate::capability::{CapSet, Capability};

/// A value a permission can take.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PermissionValue {
    /// `allowed`
    Allowed,
    /// `no-data` (In-app content download: images and PDFs only)
    NoData,
    /// `partial` (metered reporting)
    Partial,
    /// `not-allowed` (UserDefault only)
    NotAllowed,
}

impl PermissionValue {
    /// The value's key in tenant files.
    pub fn as_str(self) -> &'static str {
        match self {
            PermissionValue::Allowed => "allowed",
            PermissionValue::NoData => "no-data",
            PermissionValue::Partial => "partial",
            PermissionValue::NotAllowed => "not-allowed",
        }
    }

    /// Parses a value key.
    pub fn parse(text: &str) -> Option<PermissionValue> {
        [
            PermissionValue::Allowed,
            PermissionValue::NoData,
            PermissionValue::Partial,
            PermissionValue::NotAllowed,
        ]
        .into_iter()
        .find(|v| v.as_str() == text)
    }
}

impl fmt::Display for PermissionValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Whether a permission is a user or an admin permission (spec §3.1 "Type").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PermissionType {
    /// A user permission: reachable through the OAuth scope `user_default`.
    User,
    /// An admin permission: reachable through `admin_classic` only.
    Admin,
}

/// One row of the catalogue.
#[derive(Debug)]
pub struct PermissionDef {
    /// Key in tenant files, e.g. `in-app-content-download`.
    pub key: &'static str,
    /// The label in the Qlik UI.
    pub label: &'static str,
    /// User or admin permission.
    pub permission_type: PermissionType,
    /// Values it accepts, from most to least granting.
    pub values: &'static [PermissionValue],
    /// Its value in UserDefault when not set; `None` for permissions that UserDefault cannot hold.
    pub default: Option<PermissionValue>,
    /// May be set in UserDefault.
    pub in_user_default: bool,
    /// May be set in custom roles.
    pub in_custom_roles: bool,
    grants: fn(PermissionValue) -> CapSet,
}

impl PermissionDef {
    /// The capabilities a value grants.
    pub fn grants(&self, value: PermissionValue) -> CapSet {
        (self.grants)(value)
    }

    /// The scopes a value grants (as stored in `Role.assignedScopes`).
    pub fn scopes(&self, value: PermissionValue) -> Vec<&'static str> {
        self.grants(value).iter().map(Capability::scope).collect()
    }

    /// Everything any of its values grants: the scopes a custom role may hold through it.
    pub fn all_grants(&self) -> CapSet {
        self.values.iter().fold(CapSet::EMPTY, |caps, value| caps | self.grants(*value))
    }

    /// The value that grants exactly `caps`, if one does.
    pub fn value_granting(&self, caps: CapSet) -> Option<PermissionValue> {
        self.values.iter().copied().find(|value| self.grants(*value) == caps)
    }

    /// The accepted values in words, for hints.
    pub fn value_names(&self) -> String {
        self.values.iter().map(|v| v.as_str()).collect::<Vec<_>>().join(", ")
    }
}

/// A permission, as an index into [`CATALOGUE`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Permission(u8);

impl Permission {
    /// Its definition.
    pub fn def(self) -> &'static PermissionDef {
        &CATALOGUE[self.0 as usize]
    }

    /// Looks a permission up by key.
    pub fn parse(key: &str) -> Option<Permission> {
        CATALOGUE.iter().position(|d| d.key == key).map(|i| Permission(i as u8))
    }

    /// Every permission.
    pub fn all() -> impl Iterator<Item = Permission> {
        (0..CATALOGUE.len() as u8).map(Permission)
    }

    /// The known keys, for hints.
    pub fn known_keys() -> String {
        CATALOGUE.iter().map(|d| d.key).collect::<Vec<_>>().join(", ")
    }

    /// The key.
    pub fn key(self) -> &'static str {
        self.def().key
    }

    /// The permission that grants a capability, if one does.
    pub fn granting(cap: Capability) -> Option<Permission> {
        Permission::all().find(|p| p.def().values.iter().any(|v| p.def().grants(*v).contains(cap)))
    }
}

const ALLOWED_ONLY: &[PermissionValue] = &[PermissionValue::Allowed, PermissionValue::NotAllowed];

fn on_allowed(value: PermissionValue, caps: CapSet) -> CapSet {
    if value == PermissionValue::Allowed { caps } else { CapSet::EMPTY }
}

/// The catalogue: every permission confirmed in spec §3.2, plus Portcullis's own
/// `evaluate-decisions-for-others` (who may ask the decision API about other users).
pub static CATALOGUE: &[PermissionDef] = &[
    PermissionDef {
        key: "in-app-content-download",
        label: "In-app content download",
        permission_type: PermissionType::User,
        values: &[PermissionValue::Allowed, PermissionValue::NoData, PermissionValue::NotAllowed],
        default: Some(PermissionValue::Allowed),
        in_user_default: true,
        in_custom_roles: true,
        grants: |v| match v {
            PermissionValue::Allowed => CapSet::of(&[Capability::ExportData, Capability::ExportImage]),
            PermissionValue::NoData => Capability::ExportImage.bit(),
            _ => CapSet::EMPTY,
        },
    },
    PermissionDef {
        key: "share-apps-fine-grained",
        label: "Share applications via fine-grained access control",
        permission_type: PermissionType::User,
        values: ALLOWED_ONLY,
        default: Some(PermissionValue::Allowed),
        in_user_default: true,
        in_custom_roles: true,
        grants: |v| on_allowed(v, Capability::ShareAppsFineGrained.bit()),
    },
    PermissionDef {
        key: "manage-api-keys",
        label: "Manage API keys",
        permission_type: PermissionType::User,
        values: ALLOWED_ONLY,
        default: Some(PermissionValue::NotAllowed),
        in_user_default: true,
        in_custom_roles: true,
        grants: |v| on_allowed(v, Capability::ManageApiKeys.bit()),
    },
    PermissionDef {
        key: "manage-notes",
        label: "Manage notes",
        permission_type: PermissionType::User,
        values: ALLOWED_ONLY,
        default: Some(PermissionValue::Allowed),
        in_user_default: true,
        in_custom_roles: true,
        grants: |v| on_allowed(v, Capability::ManageNotes.bit()),
    },
    PermissionDef {
        key: "approve-automl-models",
        label: "Approve or reject your AutoML models",
        permission_type: PermissionType::User,
        values: ALLOWED_ONLY,
        default: Some(PermissionValue::NotAllowed),
        in_user_default: true,
        in_custom_roles: true,
        grants: |v| on_allowed(v, Capability::ApproveAutomlModels.bit()),
    },
    PermissionDef {
        key: "insight-advisor",
        label: "Insight Advisor",
        permission_type: PermissionType::User,
        values: ALLOWED_ONLY,
        default: Some(PermissionValue::Allowed),
        in_user_default: true,
        in_custom_roles: true,
        grants: |v| on_allowed(v, Capability::InsightAdvisor.bit()),
    },
    PermissionDef {
        key: "knowledge-bases",
        label: "Knowledge bases",
        permission_type: PermissionType::User,
        values: ALLOWED_ONLY,
        default: Some(PermissionValue::Allowed),
        in_user_default: true,
        in_custom_roles: true,
        grants: |v| on_allowed(v, Capability::KnowledgeBases.bit()),
    },
    PermissionDef {
        key: "assistants",
        label: "Assistants",
        permission_type: PermissionType::User,
        values: ALLOWED_ONLY,
        default: Some(PermissionValue::Allowed),
        in_user_default: true,
        in_custom_roles: true,
        grants: |v| on_allowed(v, Capability::Assistants.bit()),
    },
    PermissionDef {
        key: "manage-automations-shared",
        label: "Manage your automations in shared spaces",
        permission_type: PermissionType::User,
        values: ALLOWED_ONLY,
        default: None,
        in_user_default: false,
        in_custom_roles: true,
        grants: |v| on_allowed(v, Capability::AutomationsShared.bit()),
    },
    PermissionDef {
        key: "private-automations",
        label: "Private automations",
        permission_type: PermissionType::User,
        values: ALLOWED_ONLY,
        default: Some(PermissionValue::NotAllowed),
        in_user_default: true,
        in_custom_roles: true,
        grants: |v| on_allowed(v, Capability::PrivateAutomations.bit()),
    },
    PermissionDef {
        key: "generate-reports",
        label: "Generate all reports (metered reporting)",
        permission_type: PermissionType::User,
        values: &[PermissionValue::Allowed, PermissionValue::Partial, PermissionValue::NotAllowed],
        default: Some(PermissionValue::Allowed),
        in_user_default: true,
        in_custom_roles: true,
        grants: |v| match v {
            PermissionValue::Allowed => CapSet::of(&[Capability::ReportsFull, Capability::ReportsPartial]),
            PermissionValue::Partial => Capability::ReportsPartial.bit(),
            _ => CapSet::EMPTY,
        },
    },
    PermissionDef {
        key: "ai-descriptions",
        label: "Generate AI descriptions (admin)",
        permission_type: PermissionType::Admin,
        values: ALLOWED_ONLY,
        default: None,
        in_user_default: false,
        in_custom_roles: true,
        grants: |v| on_allowed(v, Capability::AiDescriptions.bit()),
    },
    PermissionDef {
        key: "evaluate-decisions-for-others",
        label: "Ask the decision API about other users (Portcullis)",
        permission_type: PermissionType::Admin,
        values: ALLOWED_ONLY,
        default: None,
        in_user_default: false,
        in_custom_roles: true,
        grants: |v| on_allowed(v, Capability::AskForOthers.bit()),
    },
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn download_values_map_to_scopes() {
        let download = Permission::parse("in-app-content-download").unwrap().def();
        assert_eq!(download.scopes(PermissionValue::Allowed), ["apps.data:export", "apps.image:export"]);
        assert_eq!(download.scopes(PermissionValue::NoData), ["apps.image:export"]);
        assert!(download.scopes(PermissionValue::NotAllowed).is_empty());
    }

    #[test]
    fn every_default_is_one_of_its_values() {
        for def in CATALOGUE {
            if let Some(default) = def.default {
                assert!(def.values.contains(&default), "{}", def.key);
            }
            assert_eq!(def.default.is_some(), def.in_user_default, "{}", def.key);
        }
    }
}
