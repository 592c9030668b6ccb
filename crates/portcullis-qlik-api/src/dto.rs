//! Wire types shared by several resources, in Qlik's exact field names: role and group
//! references, the list envelope, and the resolution of `{id}` / `{name}` references.

use portcullis_model::permission::PermissionType;
use portcullis_model::role::{USER_DEFAULT, builtin_role};
use portcullis_model::{ProviderType, RoleRef, Tenant};
use serde::Serialize;
use serde_json::Value;

use crate::body::Reference;
use crate::err::{ApiError, Service};
use crate::ids;
use crate::paging::Links;

/// `{id, name, type, level}`: a role as users and groups show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct RoleRefDto {
    /// Role id.
    pub id: String,
    /// Role name.
    pub name: String,
    /// `default` or `custom`.
    #[serde(rename = "type")]
    pub role_type: &'static str,
    /// `admin` or `user`.
    pub level: &'static str,
}

/// `{id, name, providerType, assignedRoles}`: a group as users show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct GroupRefDto {
    /// Group id.
    pub id: String,
    /// Group name.
    pub name: String,
    /// `idp` or `custom`.
    pub provider_type: &'static str,
    /// The group's roles.
    pub assigned_roles: Vec<RoleRefDto>,
}

/// The list envelope `{data, links, totalResults?}`.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ListDto<T> {
    /// The page.
    pub data: Vec<T>,
    /// Absolute links.
    pub links: Links,
    /// The whole list's size, when asked for with `totalResults=true`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub total_results: Option<usize>,
}

/// A role's `type` and `level`.
pub fn role_kind(tenant: &Tenant, name: &str) -> (&'static str, &'static str) {
    if name == USER_DEFAULT {
        return ("default", "user");
    }
    match tenant.role(name) {
        Some(RoleRef::Builtin(role)) => ("default", role.level.as_str()),
        Some(RoleRef::Custom(role)) => {
            let admin = role.permissions.keys().any(|p| p.def().permission_type == PermissionType::Admin);
            ("custom", if admin { "admin" } else { "user" })
        }
        None => ("custom", "user"),
    }
}

/// A role reference by name.
pub fn role_ref(tenant: &Tenant, name: &str) -> RoleRefDto {
    let (role_type, level) = role_kind(tenant, name);
    RoleRefDto {
        id: ids::role_api_id(tenant, name),
        name: name.to_owned(),
        role_type,
        level,
    }
}

/// A group reference by name.
pub fn group_ref(tenant: &Tenant, name: &str) -> GroupRefDto {
    let group = tenant.group(name);
    GroupRefDto {
        id: group.map(ids::group_api_id).unwrap_or_else(|| ids::group_id(name)),
        name: name.to_owned(),
        provider_type: group.map(|g| provider_word(g.provider_type)).unwrap_or("idp"),
        assigned_roles: group.map(|g| g.roles.iter().map(|r| role_ref(tenant, r)).collect()).unwrap_or_default(),
    }
}

/// `idp` or `custom`.
pub fn provider_word(provider_type: ProviderType) -> &'static str {
    provider_type.as_str()
}

/// Every role name the tenant knows, UserDefault included.
pub fn all_role_names(tenant: &Tenant) -> Vec<String> {
    let mut names = vec![USER_DEFAULT.to_owned()];
    names.extend(portcullis_model::role::BUILTIN_ROLES.iter().map(|r| r.name.to_owned()));
    names.extend(tenant.custom_roles.iter().map(|r| r.name.clone()));
    names
}

/// The role with this API id.
pub fn role_name_by_id(tenant: &Tenant, id: &str) -> Option<String> {
    all_role_names(tenant).into_iter().find(|name| ids::role_api_id(tenant, name) == id)
}

/// The group with this API id (not Everyone).
pub fn group_name_by_id(ids: &ids::ApiIds, id: &str) -> Option<String> {
    ids.group(id).map(str::to_owned)
}

/// The user (subject) with this API id.
pub fn user_subject_by_id(ids: &ids::ApiIds, id: &str) -> Option<String> {
    ids.user(id).map(str::to_owned)
}

/// Resolves a role reference: `{"id"}`, `{"name"}`, or a bare string (an id, else a name).
/// UserDefault is nobody's to assign.
pub fn resolve_role_ref(service: Service, tenant: &Tenant, reference: &Reference) -> Result<String, ApiError> {
    let (id, name) = (reference.id(), reference.name());
    let found = match (id, name) {
        (Some(id), _) => role_name_by_id(tenant, id).or_else(|| {
            matches!(reference, Reference::Bare(_))
                .then(|| id.to_owned())
                .filter(|n| tenant.role(n).is_some())
        }),
        (None, Some(name)) => tenant
            .role(name)
            .map(|_| name.to_owned())
            .or_else(|| (name == USER_DEFAULT).then(|| name.to_owned())),
        (None, None) => {
            return Err(ApiError::bad_request(
                service,
                "a role reference is `{\"id\": ...}` or `{\"name\": ...}`; this one gives neither",
            ));
        }
    };
    match found {
        Some(name) if name == USER_DEFAULT => Err(ApiError::bad_request(service, "UserDefault applies to every user and cannot be assigned")),
        Some(name) => Ok(name),
        None => Err(ApiError::bad_request(
            service,
            format!("no role {}; known roles: {}", describe_ref(id, name), tenant.known_role_names()),
        )),
    }
}

/// Resolves a list of role references, each role once.
pub fn resolve_role_refs(service: Service, tenant: &Tenant, references: &[Reference]) -> Result<Vec<String>, ApiError> {
    let mut names: Vec<String> = Vec::new();
    for reference in references {
        let name = resolve_role_ref(service, tenant, reference)?;
        if !names.contains(&name) {
            names.push(name);
        }
    }
    Ok(names)
}

/// Resolves a group reference: `{"id"}`, `{"name"}` or a bare id string.
pub fn resolve_group_ref(service: Service, tenant: &Tenant, ids: &ids::ApiIds, reference: &Reference) -> Result<String, ApiError> {
    let (id, name) = (reference.id(), reference.name());
    if id == Some(ids::EVERYONE_ID) {
        return Err(ApiError::bad_request(
            service,
            "every user is in Everyone; its membership cannot be changed",
        ));
    }
    let found = match (id, name) {
        (Some(id), _) => group_name_by_id(ids, id),
        (None, Some(name)) => tenant.group(name).map(|g| g.name.clone()),
        (None, None) => {
            return Err(ApiError::bad_request(
                service,
                "a group reference is an id or `{\"id\": ...}` / `{\"name\": ...}`; this one gives neither",
            ));
        }
    };
    found.ok_or_else(|| ApiError::bad_request(service, format!("no group {}", describe_ref(id, name))))
}

fn describe_ref(id: Option<&str>, name: Option<&str>) -> String {
    match (id, name) {
        (Some(id), _) => format!("with id `{id}`"),
        (None, Some(name)) => format!("named `{name}`"),
        (None, None) => "given".to_owned(),
    }
}

/// True for the name of a built-in role other than UserDefault.
pub fn is_builtin(name: &str) -> bool {
    builtin_role(name).is_some()
}

/// Keeps only the listed top-level fields of an object (the `fields` query parameter).
pub fn project_fields(value: Value, fields: Option<&str>) -> Value {
    let Some(fields) = fields.filter(|f| !f.trim().is_empty()) else {
        return value;
    };
    let wanted: Vec<&str> = fields.split(',').map(str::trim).collect();
    match value {
        Value::Object(map) => Value::Object(map.into_iter().filter(|(k, _)| wanted.contains(&k.as_str())).collect()),
        other => other,
    }
}
