//! `/roles`: list (TenantAdmin only since 2024-04: `role:read`, else 403), get, create custom
//! roles from `assignedScopes`, patch (`/assignedScopes` replace, `/assignedScopes/-` add,
//! `remove-value`; `/description`; `/name`), delete (refused with 403 while assigned). Default
//! roles cannot be changed, except UserDefault's scopes.
//!
//! A custom role's id does not follow its name: one created here gets a random id, kept in its
//! meta, and one from a tenant file keeps the id of its first name when renamed; a role deleted
//! and created again is another role, with another id.
//!
//! A custom role holds any set of the scopes custom roles can hold, each meaning exactly itself
//! (`tenant_ops::custom_settings_from_scopes`: a permission's value where one grants exactly
//! those scopes, else the scopes themselves); UserDefault holds values
//! (`tenant_ops::values_from_scopes`). A scope neither can hold is refused by name rather than
//! silently dropped.

use std::collections::{BTreeMap, BTreeSet};

use portcullis_audit::EventType;
use portcullis_model::permission::Permission;
use portcullis_model::role::{BUILTIN_ROLES, USER_DEFAULT};
use portcullis_model::tenant_ops::{custom_settings_from_scopes, values_from_scopes};
use portcullis_model::{Action, CapSet, CustomRole, Meta, MetaTarget, PermissionValue, RoleRef, RoleSetting, Tenant};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::caller::Ctx;
use crate::dto::{ListDto, role_kind, role_name_by_id};
use crate::err::{ApiError, Service};
use crate::ids;
use crate::mutation::{AuditNote, Mutation};
use crate::paging::{Query, STANDARD, SelfLink, paginate, parse_filter, parse_sort, sort_by_keys};
use crate::patch::{PatchOp, PatchOperation};
use crate::time::rfc3339;
use crate::users::custom_role_caps;
use portcullis_model::Change;

const S: Service = Service::Roles;

/// Attributes `filter` may name.
pub const FILTER_ATTRIBUTES: &[&str] = &["id", "name", "type", "level", "description", "assignedScopes"];

/// Fields `sort` may name.
pub const SORT_FIELDS: &[&str] = &["name", "id", "type", "level", "description", "createdAt", "lastUpdatedAt"];

/// A role on the wire.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RoleDto {
    /// API id.
    pub id: String,
    /// Tenant id.
    pub tenant_id: String,
    /// Unique name.
    pub name: String,
    /// Free text.
    pub description: String,
    /// `default` or `custom`.
    #[serde(rename = "type")]
    pub role_type: &'static str,
    /// `admin` or `user`.
    pub level: &'static str,
    /// The scopes the role stands for.
    pub assigned_scopes: Vec<String>,
    /// Always empty (Qlik's legacy field).
    pub permissions: Vec<String>,
    /// Custom roles and UserDefault.
    pub can_edit: bool,
    /// Custom roles only.
    pub can_delete: bool,
    /// `fullUser` when holding the role promotes a capacity Basic user.
    pub user_entitlement_type: &'static str,
    /// Deprecated twin of `userEntitlementType`.
    pub full_user: bool,
    /// When the API created the role (custom roles created through the API).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created_at: Option<String>,
    /// When the API last changed the role.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_updated_at: Option<String>,
    /// `self`.
    pub links: SelfLink,
}

fn scopes_of(caps: CapSet) -> Vec<String> {
    let scopes: BTreeSet<&str> = caps.iter().map(|c| c.scope()).collect();
    scopes.into_iter().map(str::to_owned).collect()
}

/// UserDefault's scopes now.
pub fn user_default_scopes(tenant: &Tenant) -> Vec<String> {
    let mut caps = CapSet::EMPTY;
    for permission in Permission::all().filter(|p| p.def().in_user_default) {
        if let Some(value) = tenant.user_default_value(permission) {
            caps |= permission.def().grants(value);
        }
    }
    scopes_of(caps)
}

/// A role, by name, as the API shows it (`None` for an unknown name).
pub fn role_dto(tenant: &Tenant, api_base: &str, name: &str) -> Option<RoleDto> {
    let (role_type, level) = role_kind(tenant, name);
    let (description, scopes, promotes, custom) = if name == USER_DEFAULT {
        (
            "The permissions every user of the tenant has".to_owned(),
            user_default_scopes(tenant),
            false,
            false,
        )
    } else {
        match tenant.role(name)? {
            RoleRef::Builtin(role) => (role.description.to_owned(), scopes_of(role.grants), role.promotes_basic, false),
            RoleRef::Custom(role) => (
                role.description.clone(),
                scopes_of(custom_role_caps(tenant, &role.permissions)),
                false,
                true,
            ),
        }
    };
    let id = ids::role_api_id(tenant, name);
    let meta = tenant.custom_roles.get(name).map(|r| r.meta.clone()).unwrap_or_default();
    Some(RoleDto {
        links: SelfLink::new(api_base, &format!("/roles/{id}")),
        id,
        tenant_id: ids::tenant_id(&tenant.name),
        name: name.to_owned(),
        description,
        role_type,
        level,
        assigned_scopes: scopes,
        permissions: Vec::new(),
        can_edit: custom || name == USER_DEFAULT,
        can_delete: custom,
        user_entitlement_type: if promotes { "fullUser" } else { "" },
        full_user: promotes,
        created_at: meta.created_at.map(rfc3339),
        last_updated_at: meta.updated_at.map(rfc3339),
    })
}

fn all_roles(tenant: &Tenant, api_base: &str) -> Vec<RoleDto> {
    let mut names = vec![USER_DEFAULT.to_owned()];
    names.extend(BUILTIN_ROLES.iter().map(|r| r.name.to_owned()));
    names.extend(tenant.custom_roles.iter().map(|r| r.name.clone()));
    names.iter().filter_map(|n| role_dto(tenant, api_base, n)).collect()
}

fn attribute(role: &RoleDto, attr: &str) -> Vec<String> {
    match attr {
        "id" => vec![role.id.clone()],
        "name" => vec![role.name.clone()],
        "type" => vec![role.role_type.to_owned()],
        "level" => vec![role.level.to_owned()],
        "description" => vec![role.description.clone()],
        "assignedScopes" => role.assigned_scopes.clone(),
        // RFC 3339 in one format: the text sorts as the time does.
        "createdAt" => role.created_at.clone().into_iter().collect(),
        "lastUpdatedAt" => role.last_updated_at.clone().into_iter().collect(),
        _ => Vec::new(),
    }
}

/// `GET /roles` (403 unless the caller may `role:read`).
pub fn list(ctx: &Ctx<'_>, query: &Query) -> Result<ListDto<RoleDto>, ApiError> {
    ctx.require(S, Action::RoleRead)?;
    let filter = parse_filter(S, query.get("filter"), FILTER_ATTRIBUTES)?;
    let sort = parse_sort(S, query.get("sort"), SORT_FIELDS)?;
    let total_results = query.flag(S, "totalResults")?;
    let mut roles: Vec<RoleDto> = all_roles(ctx.tenant, ctx.api_base)
        .into_iter()
        .filter(|r| filter.as_ref().is_none_or(|f| f.matches(&|a| attribute(r, a))))
        .collect();
    sort_by_keys(&mut roles, &sort, |r, field| attribute(r, field).into_iter().next().unwrap_or_default());
    let page = paginate(roles, query, S, STANDARD, ctx.api_base, "/roles")?;
    Ok(ListDto {
        data: page.items,
        links: page.links,
        total_results: total_results.then_some(page.total),
    })
}

fn find(ctx: &Ctx<'_>, id: &str) -> Result<String, ApiError> {
    role_name_by_id(ctx.tenant, id).ok_or_else(|| ApiError::not_found(S, format!("no role with id `{id}`")))
}

/// `GET /roles/{id}`: 403 to whoever may not list the roles, as the list answers (one role
/// must not tell what the list would not).
pub fn get(ctx: &Ctx<'_>, id: &str) -> Result<RoleDto, ApiError> {
    ctx.require(S, Action::RoleRead)?;
    let name = find(ctx, id)?;
    role_dto(ctx.tenant, ctx.api_base, &name).ok_or_else(|| ApiError::not_found(S, format!("no role with id `{id}`")))
}

fn user_default_scopes_known() -> String {
    let mut scopes = BTreeSet::new();
    for permission in Permission::all().filter(|p| p.def().in_user_default) {
        scopes.extend(permission.def().all_grants().iter().map(|c| c.scope()));
    }
    scopes.into_iter().collect::<Vec<_>>().join(", ")
}

/// The permission values a list of scopes stands for in UserDefault, which holds values (a
/// permission none of whose values fit is "not allowed"); 400 when a scope is not
/// accounted for.
pub fn user_default_values_for_scopes(scopes: &[String]) -> Result<BTreeMap<Permission, PermissionValue>, ApiError> {
    let values: BTreeMap<Permission, PermissionValue> = values_from_scopes(scopes).into_iter().filter(|(p, _)| p.def().in_user_default).collect();
    let covered: BTreeSet<&str> = values.iter().flat_map(|(p, v)| p.def().scopes(*v)).collect();
    if let Some(scope) = scopes.iter().find(|s| !covered.contains(s.as_str())) {
        return Err(ApiError::bad_request(
            S,
            format!(
                "scope `{scope}` is not one UserDefault can hold alone; UserDefault holds each permission's values \
                 (`apps.data:export` only with `apps.image:export`); known scopes: {}",
                user_default_scopes_known()
            ),
        ));
    }
    Ok(values)
}

/// A custom role's settings for a list of scopes: any set of the scopes custom roles can hold
/// (each means exactly itself); 400 naming the first scope a custom role cannot hold.
pub fn custom_settings_for_scopes(scopes: &[String]) -> Result<BTreeMap<Permission, RoleSetting>, ApiError> {
    custom_settings_from_scopes(scopes).map_err(|error| ApiError::bad_request(S, error.to_string()))
}

/// `POST /roles`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RoleCreate {
    /// Name.
    #[schema(required = true, value_type = String)]
    pub name: Option<String>,
    /// Description.
    pub description: Option<String>,
    /// Scopes, e.g. `apps:read`.
    pub assigned_scopes: Option<Vec<String>>,
}

/// `POST /roles`: `{name, description?, assignedScopes?}` (201); the role is known by `new_id`
/// (random, drawn by the router) from then on.
pub fn create(ctx: &Ctx<'_>, body: &RoleCreate, new_id: &str) -> Result<Mutation<RoleDto>, ApiError> {
    ctx.require(S, Action::RoleCreate)?;
    let name = body
        .name
        .as_deref()
        .filter(|n| !n.trim().is_empty())
        .ok_or_else(|| ApiError::bad_request(S, "a role needs a `name`"))?;
    let description = body.description.clone().unwrap_or_default();
    let scopes = body.assigned_scopes.clone().unwrap_or_default();
    let permissions = custom_settings_for_scopes(&scopes)?;
    let role = CustomRole {
        meta: Meta {
            api_id: Some(new_id.to_owned()),
            ..Meta::created(ctx.now)
        },
        name: name.to_owned(),
        description,
        permissions,
    };
    let note = AuditNote::new(EventType::RoleCreated, "role", new_id, json!({ "name": name, "assignedScopes": scopes }));
    let name = name.to_owned();
    Ok(Mutation::then(vec![Change::CreateCustomRole { role }], note, S, 403, move |ctx| {
        role_dto(ctx.tenant, ctx.api_base, &name).ok_or_else(ApiError::internal)
    }))
}

fn current_scopes(tenant: &Tenant, name: &str) -> Vec<String> {
    role_dto(tenant, "", name).map(|r| r.assigned_scopes).unwrap_or_default()
}

/// `PATCH /roles/{id}` (204). Default roles: 403, except UserDefault's scopes. A custom role's
/// rename keeps its id; every change of a custom role stamps `lastUpdatedAt`.
pub fn patch(ctx: &Ctx<'_>, id: &str, ops: &[PatchOperation]) -> Result<Mutation<()>, ApiError> {
    ctx.require(S, Action::RoleCreate)?;
    let name = find(ctx, id)?;
    let user_default = name == USER_DEFAULT;
    let custom = ctx.tenant.custom_roles.iter().any(|r| r.name == name);
    if !custom && !user_default {
        return Err(ApiError::forbidden(S, format!("`{name}` is a default role and cannot be changed")));
    }
    let mut changes = Vec::new();
    let mut new_name: Option<String> = None;
    // The role's scopes as the operations so far leave them.
    let mut held = current_scopes(ctx.tenant, &name);
    for op in ops {
        let mut scopes = held.clone();
        match (op.op, op.target()) {
            (PatchOp::Replace, "assignedScopes") => scopes = op.value(S)?,
            (PatchOp::Add, "assignedScopes/-" | "assignedScopes") => {
                let scope: String = op.value(S)?;
                if !scopes.contains(&scope) {
                    scopes.push(scope);
                }
            }
            (PatchOp::RemoveValue, "assignedScopes") => {
                let scope: String = op.value(S)?;
                if !scopes.contains(&scope) {
                    return Err(ApiError::bad_request(S, format!("role `{name}` does not hold scope `{scope}`")));
                }
                scopes.retain(|s| *s != scope);
            }
            (PatchOp::Replace, "description") if custom => {
                changes.push(Change::UpdateCustomRole {
                    name: name.clone(),
                    description: Some(op.value(S)?),
                    permissions: None,
                });
                continue;
            }
            (PatchOp::Replace, "name") if custom => {
                let wanted: String = op.value(S)?;
                if wanted.trim().is_empty() {
                    return Err(ApiError::bad_request(S, format!("`[{}].value`: a role's name cannot be empty", op.index)));
                }
                new_name = Some(wanted);
                continue;
            }
            (PatchOp::Replace, "name") => {
                return Err(ApiError::forbidden(S, "UserDefault keeps its name"));
            }
            (PatchOp::Replace, "description") => {
                return Err(ApiError::forbidden(S, "UserDefault's description cannot be changed"));
            }
            _ => return Err(op.unsupported(S)),
        }
        if custom {
            changes.push(Change::UpdateCustomRole {
                name: name.clone(),
                description: None,
                permissions: Some(custom_settings_for_scopes(&scopes)?),
            });
        } else {
            changes.push(Change::ReplaceUserDefault {
                values: user_default_values_for_scopes(&scopes)?.into_iter().collect(),
            });
        }
        held = scopes;
    }
    if let Some(role) = ctx.tenant.custom_roles.get(&name) {
        // The id stays what it is now, whatever the name becomes; the change is stamped.
        let meta = Meta {
            api_id: Some(ids::role_api_id(ctx.tenant, &name)),
            ..role.meta.updated(ctx.now)
        };
        changes.push(Change::SetMeta {
            target: MetaTarget::CustomRole(name.clone()),
            meta,
        });
    }
    if let Some(new_name) = new_name.filter(|n| *n != name) {
        changes.push(Change::RenameCustomRole {
            name: name.clone(),
            new_name,
        });
    }
    let note = AuditNote::new(EventType::RoleUpdated, "role", id, json!({ "name": name, "patch": ops }));
    Ok(Mutation::new(changes, note, S, 400, ()))
}

/// `DELETE /roles/{id}` (204); 403 for default roles and while the role is assigned.
pub fn delete(ctx: &Ctx<'_>, id: &str) -> Result<Mutation<()>, ApiError> {
    ctx.require(S, Action::RoleCreate)?;
    let name = find(ctx, id)?;
    if !ctx.tenant.custom_roles.iter().any(|r| r.name == name) {
        return Err(ApiError::forbidden(S, format!("`{name}` is a default role and cannot be deleted")));
    }
    let note = AuditNote::new(EventType::RoleDeleted, "role", id, json!({ "name": name }));
    Ok(Mutation::new(vec![Change::DeleteCustomRole { name }], note, S, 403, ()))
}
