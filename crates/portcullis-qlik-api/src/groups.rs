//! `/groups`: list (SCIM filter, sort, cursors; `systemGroups=true` lists only Everyone),
//! create, get, patch `assignedRoles`, `name` and `description` (with or without the leading
//! slash; a custom group's name and description only), delete (custom groups only when empty),
//! and `/groups/settings` for Everyone's roles. Reads are open to every user of the tenant;
//! writes need `group:manage`.
//!
//! A group's id does not follow its name: a group created here gets a random id, kept in its
//! meta, and a group from a tenant file keeps the id of its first name when renamed. A group
//! deleted and created again is another group, with another id.

use portcullis_audit::EventType;
use portcullis_model::{Action, Group, Meta, MetaTarget, ProviderType, Tenant};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::body::Reference;
use crate::caller::Ctx;
use crate::dto::{ListDto, RoleRefDto, group_name_by_id, provider_word, resolve_role_refs, role_ref};
use crate::err::{ApiError, Service};
use crate::ids::{self, EVERYONE_ID, EVERYONE_NAME};
use crate::mutation::{AuditNote, Mutation};
use crate::paging::{Href, Query, STANDARD, SelfLink, paginate, paginate_by_id, parse_filter, parse_sort};
use crate::patch::{PatchOp, PatchOperation};
use crate::time::{rfc3339, sort_key};
use portcullis_model::Change;

const S: Service = Service::Groups;

/// Attributes `filter` may name.
pub const FILTER_ATTRIBUTES: &[&str] = &[
    "id",
    "name",
    "providerType",
    "status",
    "tenantId",
    "assignedRoles.id",
    "assignedRoles.name",
];

/// Fields `sort` may name.
pub const SORT_FIELDS: &[&str] = &["name", "id", "providerType", "status", "createdAt", "lastUpdatedAt"];

/// A group on the wire.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct GroupDto {
    /// API id.
    pub id: String,
    /// Tenant id.
    pub tenant_id: String,
    /// Name.
    pub name: String,
    /// Free text.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// `idp` or `custom` (absent for Everyone).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub provider_type: Option<&'static str>,
    /// Always `active`.
    pub status: &'static str,
    /// Roles every member gets.
    pub assigned_roles: Vec<RoleRefDto>,
    /// When the API created the group (absent for groups from a tenant file).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created_at: Option<String>,
    /// When the API last changed the group.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_updated_at: Option<String>,
    /// `self`.
    pub links: SelfLink,
}

/// A group as the API shows it.
pub fn group_dto(tenant: &Tenant, api_base: &str, group: &Group) -> GroupDto {
    let id = ids::group_api_id(group);
    GroupDto {
        links: SelfLink::new(api_base, &format!("/groups/{id}")),
        id,
        tenant_id: ids::tenant_id(&tenant.name),
        name: group.name.clone(),
        description: group.meta.description.clone(),
        provider_type: Some(provider_word(group.provider_type)),
        status: "active",
        assigned_roles: group.roles.iter().map(|r| role_ref(tenant, r)).collect(),
        created_at: group.meta.created_at.map(rfc3339),
        last_updated_at: group.meta.updated_at.map(rfc3339),
    }
}

/// Everyone as the API shows it.
pub fn everyone_dto(tenant: &Tenant, api_base: &str) -> GroupDto {
    GroupDto {
        id: EVERYONE_ID.to_owned(),
        tenant_id: ids::tenant_id(&tenant.name),
        name: EVERYONE_NAME.to_owned(),
        description: None,
        provider_type: None,
        status: "active",
        assigned_roles: tenant.everyone_roles.iter().map(|r| role_ref(tenant, r)).collect(),
        created_at: None,
        last_updated_at: None,
        links: SelfLink::new(api_base, &format!("/groups/{EVERYONE_ID}")),
    }
}

fn attribute(tenant: &Tenant, group: &Group, attr: &str) -> Vec<String> {
    match attr {
        "id" => vec![ids::group_api_id(group)],
        "name" => vec![group.name.clone()],
        "providerType" => vec![provider_word(group.provider_type).to_owned()],
        "status" => vec!["active".to_owned()],
        "tenantId" => vec![ids::tenant_id(&tenant.name)],
        "assignedRoles.id" => group.roles.iter().map(|r| ids::role_api_id(tenant, r)).collect(),
        "assignedRoles.name" => group.roles.clone(),
        "createdAt" => vec![sort_key(group.meta.created_at)],
        "lastUpdatedAt" => vec![sort_key(group.meta.updated_at)],
        _ => Vec::new(),
    }
}

/// `GET /groups`.
pub fn list(ctx: &Ctx<'_>, query: &Query) -> Result<ListDto<GroupDto>, ApiError> {
    ctx.caller_idx()?;
    let total_results = query.flag(S, "totalResults")?;
    if query.flag(S, "systemGroups")? {
        if let Some((other, _)) = query.pairs.iter().find(|(k, _)| k != "systemGroups") {
            return Err(ApiError::bad_request(S, format!("`systemGroups` cannot be combined with `{other}`")));
        }
        let page = paginate(vec![everyone_dto(ctx.tenant, ctx.api_base)], query, S, STANDARD, ctx.api_base, "/groups")?;
        return Ok(ListDto {
            data: page.items,
            links: page.links,
            total_results: None,
        });
    }
    let filter = parse_filter(S, query.get("filter"), FILTER_ATTRIBUTES)?;
    let sort = parse_sort(S, query.get("sort"), SORT_FIELDS)?;
    let groups: Vec<&Group> = ctx
        .tenant
        .groups
        .iter()
        .filter(|g| filter.as_ref().is_none_or(|f| f.matches(&|attr| attribute(ctx.tenant, g, attr))))
        .collect();
    // Qlik's group cursors are group ids: the page after (or before) that group.
    let page = paginate_by_id(
        groups,
        &sort,
        |g, field| attribute(ctx.tenant, g, field).into_iter().next().unwrap_or_default(),
        |g| ids::group_api_id(g),
        query,
        S,
        STANDARD,
        (ctx.api_base, "/groups"),
    )?;
    Ok(ListDto {
        data: page.items.iter().map(|g| group_dto(ctx.tenant, ctx.api_base, g)).collect(),
        links: page.links,
        total_results: total_results.then_some(page.total),
    })
}

fn find<'t>(ctx: &Ctx<'t>, id: &str) -> Result<&'t Group, ApiError> {
    group_name_by_id(ctx.ids, id)
        .and_then(|name| ctx.tenant.group(&name))
        .ok_or_else(|| ApiError::not_found(S, format!("no group with id `{id}`")))
}

/// `GET /groups/{id}` (Everyone included).
pub fn get(ctx: &Ctx<'_>, id: &str) -> Result<GroupDto, ApiError> {
    ctx.caller_idx()?;
    if id == EVERYONE_ID {
        return Ok(everyone_dto(ctx.tenant, ctx.api_base));
    }
    Ok(group_dto(ctx.tenant, ctx.api_base, find(ctx, id)?))
}

/// `POST /groups`. Qlik's `status` is ignored (groups are `active`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct GroupCreate {
    /// Name (at most 256 characters).
    #[schema(required = true, value_type = String)]
    pub name: Option<String>,
    /// Free text.
    pub description: Option<String>,
    /// `idp` (default) or `custom`.
    pub provider_type: Option<String>,
    /// Roles to assign.
    pub assigned_roles: Option<Vec<Reference>>,
}

/// A group name a client may give: 1 to 256 characters, not Everyone's.
fn check_name(name: &str) -> Result<(), ApiError> {
    if name.trim().is_empty() {
        return Err(ApiError::bad_request(S, "a group needs a `name`"));
    }
    if name.chars().count() > 256 {
        return Err(ApiError::bad_request(S, "a group name has at most 256 characters"));
    }
    if name == EVERYONE_NAME {
        return Err(ApiError::conflict(S, format!("`{EVERYONE_NAME}` is the system group Everyone")));
    }
    Ok(())
}

/// `POST /groups`: `{name, description?, providerType?: "idp"|"custom", assignedRoles?}`; the
/// group is known by `new_id` (random, drawn by the router) from then on.
pub fn create(ctx: &Ctx<'_>, body: &GroupCreate, new_id: &str) -> Result<Mutation<GroupDto>, ApiError> {
    ctx.require(S, Action::GroupManage)?;
    let name = body.name.as_deref().unwrap_or_default();
    check_name(name)?;
    let provider_type = match body.provider_type.as_deref() {
        None | Some("idp") => ProviderType::Idp,
        Some("custom") => ProviderType::Custom,
        Some(other) => {
            return Err(ApiError::bad_request(S, format!("`providerType` is `idp` or `custom`, not `{other}`")));
        }
    };
    let roles = match &body.assigned_roles {
        None => Vec::new(),
        Some(references) => resolve_role_refs(S, ctx.tenant, references)?,
    };
    let group = Group {
        meta: Meta {
            api_id: Some(new_id.to_owned()),
            description: body.description.clone().filter(|d| !d.is_empty()),
            ..Meta::created(ctx.now)
        },
        name: name.to_owned(),
        provider_type,
        roles: roles.clone(),
    };
    let note = AuditNote::new(
        EventType::GroupCreated,
        "group",
        new_id,
        json!({ "name": name, "providerType": provider_type.as_str(), "assignedRoles": roles }),
    );
    let name = name.to_owned();
    Ok(Mutation::then(vec![Change::CreateGroup { group }], note, S, 409, move |ctx| {
        let group = ctx.tenant.group(&name).ok_or_else(ApiError::internal)?;
        Ok(group_dto(ctx.tenant, ctx.api_base, group))
    }))
}

/// `PATCH /groups/{id}`: `replace` of `assignedRoles`, `name` or `description` (204); a
/// group's name and description change for custom groups only (Qlik's rule). A rename keeps the
/// group's id (recorded in its meta from then on); every change stamps `lastUpdatedAt`.
pub fn patch(ctx: &Ctx<'_>, id: &str, ops: &[PatchOperation]) -> Result<Mutation<()>, ApiError> {
    ctx.require(S, Action::GroupManage)?;
    if id == EVERYONE_ID {
        return Err(ApiError::bad_request(S, "Everyone's roles are changed through `/groups/settings`"));
    }
    let group = find(ctx, id)?;
    let name = group.name.clone();
    let mut changes = Vec::new();
    let mut new_name: Option<String> = None;
    let mut meta = group.meta.clone();
    for op in ops {
        match (op.op, op.target()) {
            (PatchOp::Replace, "assignedRoles") => {
                let roles = resolve_role_refs(S, ctx.tenant, &op.value::<Vec<Reference>>(S)?)?;
                changes.push(Change::ReplaceGroupRoles { name: name.clone(), roles });
            }
            (PatchOp::Replace, target @ ("name" | "description")) if group.provider_type != ProviderType::Custom => {
                return Err(ApiError::bad_request(
                    S,
                    format!("`{target}` of group `{name}` comes from the identity provider; only a custom group's is changed here"),
                ));
            }
            (PatchOp::Replace, "name") => {
                let wanted: String = op.value(S)?;
                check_name(&wanted)?;
                new_name = Some(wanted);
            }
            (PatchOp::Replace, "description") => {
                let description: String = op.value(S)?;
                meta.description = Some(description).filter(|d| !d.is_empty());
            }
            _ => return Err(op.unsupported(S)),
        }
    }
    // The id stays what it is now, whatever the name becomes.
    meta.api_id = Some(ids::group_api_id(group));
    changes.push(Change::SetMeta {
        target: MetaTarget::Group(name.clone()),
        meta: meta.updated(ctx.now),
    });
    if let Some(new_name) = new_name.filter(|n| *n != name) {
        changes.push(Change::RenameGroup {
            name: name.clone(),
            new_name,
        });
    }
    let note = AuditNote::new(EventType::GroupUpdated, "group", id, json!({ "name": name, "patch": ops }));
    Ok(Mutation::new(changes, note, S, 400, ()))
}

/// `DELETE /groups/{id}`: a custom group only when it has no members (409 otherwise).
pub fn delete(ctx: &Ctx<'_>, id: &str) -> Result<Mutation<()>, ApiError> {
    ctx.require(S, Action::GroupManage)?;
    if id == EVERYONE_ID {
        return Err(ApiError::bad_request(S, "Everyone cannot be deleted"));
    }
    let name = find(ctx, id)?.name.clone();
    let note = AuditNote::new(EventType::GroupDeleted, "group", id, json!({ "name": name }));
    Ok(Mutation::new(vec![Change::DeleteGroup { name }], note, S, 409, ()))
}

/// `GroupSettings`.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct GroupSettingsDto {
    /// Tenant id.
    pub tenant_id: String,
    /// Groups from login claims are created (always true in Portcullis).
    pub auto_create_groups: bool,
    /// Deprecated twin of `autoCreateGroups`.
    pub sync_idp_groups: bool,
    /// `{ "<Everyone id>": {id, name, enabled, assignedRoles} }`.
    pub system_groups: Value,
    /// `self`.
    pub links: SelfLinkOnly,
}

/// `{self: {href}}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct SelfLinkOnly {
    /// The settings.
    #[serde(rename = "self")]
    pub self_: Href,
}

/// `GET /groups/settings` (needs `group:manage`).
pub fn settings(ctx: &Ctx<'_>) -> Result<GroupSettingsDto, ApiError> {
    ctx.require(S, Action::GroupManage)?;
    Ok(settings_dto(ctx.tenant, ctx.api_base))
}

fn settings_dto(tenant: &Tenant, api_base: &str) -> GroupSettingsDto {
    let roles: Vec<RoleRefDto> = tenant.everyone_roles.iter().map(|r| role_ref(tenant, r)).collect();
    GroupSettingsDto {
        tenant_id: ids::tenant_id(&tenant.name),
        auto_create_groups: true,
        sync_idp_groups: true,
        system_groups: json!({ EVERYONE_ID: { "id": EVERYONE_ID, "name": EVERYONE_NAME, "enabled": true, "assignedRoles": roles } }),
        links: SelfLinkOnly {
            self_: Href {
                href: format!("{api_base}/groups/settings"),
            },
        },
    }
}

/// `PATCH /groups/settings`: `replace /systemGroups/{id}/assignedRoles` gives roles to
/// Everyone (204).
pub fn patch_settings(ctx: &Ctx<'_>, ops: &[PatchOperation]) -> Result<Mutation<()>, ApiError> {
    ctx.require(S, Action::GroupManage)?;
    let mut changes = Vec::new();
    let everyone_path = format!("systemGroups/{EVERYONE_ID}/assignedRoles");
    for op in ops {
        match (op.op, op.target()) {
            (PatchOp::Replace, path) if path == everyone_path => {
                let roles = resolve_role_refs(S, ctx.tenant, &op.value::<Vec<Reference>>(S)?)?;
                changes.push(Change::ReplaceEveryoneRoles { roles });
            }
            (PatchOp::Replace, "autoCreateGroups" | "syncIdpGroups") if op.value::<bool>(S)? => {}
            (PatchOp::Replace, "autoCreateGroups" | "syncIdpGroups") => {
                return Err(ApiError::bad_request(
                    S,
                    "Portcullis always creates groups from login claims; `false` is not supported",
                ));
            }
            _ => return Err(op.unsupported(S)),
        }
    }
    let note = AuditNote::new(
        EventType::GroupSettingUpdated,
        "group",
        EVERYONE_ID,
        json!({ "name": EVERYONE_NAME, "patch": ops }),
    );
    Ok(Mutation::new(changes, note, S, 400, ()))
}
