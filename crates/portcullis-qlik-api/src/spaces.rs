//! `/spaces`, `/spaces/{id}/assignments` and `/spaces/{id}/shares`.
//!
//! Spaces are listed only where the caller may `space:read`, each with `meta.actions` (from
//! the space decisions), `meta.roles` (the caller's roles; an owner holds every assignable
//! role) and `meta.assignableRoles`. A space the caller may not read answers 404, as Qlik's
//! `GET /spaces/{id}` lists no 403. Creating needs `space:create-<type>`; names are unique
//! (409). Deleting is refused (412) while the space holds content. The owner is never an
//! assignment. Shares are fine-grained app shares and need `app:share` on the app.

use std::fmt;

use portcullis_audit::EventType;
use portcullis_engine::Resource;
use portcullis_model::tenant::Share;
use portcullis_model::{Action, Assignee, Content, ContentKind, Meta, MetaTarget, Space, SpaceRole, SpaceRoleSet, SpaceType, Tenant};
use serde::de::{self, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Value, json};

use crate::caller::Ctx;
use crate::dto::{group_name_by_id, user_subject_by_id};
use crate::err::{ApiError, Service};
use crate::ids::{self, IdKind};
use crate::mutation::{AuditNote, Mutation};
use crate::paging::{Href, Links, Query, STANDARD, paginate, parse_sort, sort_by_keys};
use crate::patch::{PatchOp, PatchOperation};
use crate::time::rfc3339;
use portcullis_model::Change;

const S: Service = Service::Spaces;

/// A space on the wire.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SpaceDto {
    /// API id.
    pub id: String,
    /// Tenant id.
    pub tenant_id: String,
    /// Unique name.
    pub name: String,
    /// Free text (empty when none was given).
    pub description: String,
    /// `shared`, `managed` or `data`.
    #[serde(rename = "type")]
    pub space_type: &'static str,
    /// The owner's user id.
    pub owner_id: String,
    /// When the API created the space (absent for spaces from a tenant file).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created_at: Option<String>,
    /// Who created it (a user id).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created_by: Option<String>,
    /// When the API last changed it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<String>,
    /// `self` and `assignments`.
    pub links: SpaceLinks,
    /// The caller's view of the space.
    pub meta: SpaceMeta,
}

/// A space's links.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct SpaceLinks {
    /// The space.
    #[serde(rename = "self")]
    pub self_: Href,
    /// Its assignments.
    pub assignments: Href,
}

/// `meta` of a space.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SpaceMeta {
    /// What the caller may do (`ActionName`s).
    pub actions: Vec<&'static str>,
    /// The caller's roles in the space.
    pub roles: Vec<&'static str>,
    /// The roles the space's type accepts.
    pub assignable_roles: Vec<&'static str>,
}

/// The list envelope of spaces (`meta.count` instead of `totalResults`).
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct SpacesDto {
    /// The page.
    pub data: Vec<SpaceDto>,
    /// Absolute links.
    pub links: Links,
    /// `{count}`.
    pub meta: Value,
}

fn roles_of(set: SpaceRoleSet) -> Vec<&'static str> {
    set.iter().map(SpaceRole::as_str).collect()
}

/// The caller's roles in a space: every assignable role for the owner, else the union of the
/// user's and their groups' assignments.
pub fn caller_roles(tenant: &Tenant, space: &Space, user_id: &str) -> SpaceRoleSet {
    if space.owner.as_deref() == Some(user_id) {
        return space.space_type.assignable_roles();
    }
    let groups: &[String] = tenant.user(user_id).map(|u| u.groups.as_slice()).unwrap_or_default();
    space
        .members
        .iter()
        .filter(|m| match &m.assignee {
            Assignee::User(id) => id == user_id,
            Assignee::Group(name) => groups.contains(name),
        })
        .fold(SpaceRoleSet::EMPTY, |acc, m| acc.union(m.roles))
}

fn actions(ctx: &Ctx<'_>, space: &Space) -> Vec<&'static str> {
    let Some(idx) = ctx.snapshot.space_idx(&space.id) else {
        return Vec::new();
    };
    let allowed = |action| ctx.allowed(action, Resource::Space(idx));
    // Apps enter a managed space only by publishing, there `publish` replaces `create`; a
    // data space holds no apps, there `create` is about its data connections.
    let (create_word, create_action) = match space.space_type {
        SpaceType::Shared => ("create", Action::SpaceCreateApp),
        SpaceType::Managed => ("publish", Action::SpacePublishApp),
        SpaceType::Data => ("create", Action::SpaceCreateDataConnection),
    };
    let mut words: Vec<&'static str> = [
        ("change_owner", Action::SpaceChangeOwner),
        (create_word, create_action),
        ("delete", Action::SpaceDelete),
        ("read", Action::SpaceRead),
        ("update", Action::SpaceUpdate),
    ]
    .into_iter()
    .filter(|(_, action)| allowed(*action))
    .map(|(word, _)| word)
    .collect();
    // Sorted like `owner_actions`, so a space reads the same when created and when fetched.
    words.sort_unstable();
    words
}

/// A space as the caller sees it.
pub fn space_dto(ctx: &Ctx<'_>, tenant: &Tenant, space: &Space) -> SpaceDto {
    let id = ids::space_id(&space.id);
    SpaceDto {
        links: SpaceLinks {
            self_: Href {
                href: format!("{}/spaces/{id}", ctx.api_base),
            },
            assignments: Href {
                href: format!("{}/spaces/{id}/assignments", ctx.api_base),
            },
        },
        id,
        tenant_id: ids::tenant_id(&tenant.name),
        name: space.name.clone(),
        description: space.meta.description.clone().unwrap_or_default(),
        space_type: space.space_type.as_str(),
        // A space whose owner was deleted has none until an admin names one: `""` on the wire.
        owner_id: space.owner.as_deref().map(ids::user_id).unwrap_or_default(),
        created_at: space.meta.created_at.map(rfc3339),
        created_by: space.meta.created_by.as_deref().map(ids::user_id),
        updated_at: space.meta.updated_at.map(rfc3339),
        meta: SpaceMeta {
            actions: actions(ctx, space),
            roles: roles_of(caller_roles(tenant, space, &ctx.caller.user_id)),
            assignable_roles: roles_of(space.space_type.assignable_roles()),
        },
    }
}

fn readable(ctx: &Ctx<'_>, space: &Space) -> bool {
    ctx.snapshot
        .space_idx(&space.id)
        .is_some_and(|idx| ctx.allowed(Action::SpaceRead, Resource::Space(idx)))
}

fn find<'t>(ctx: &Ctx<'t>, id: &str) -> Result<&'t Space, ApiError> {
    ctx.ids
        .space(id)
        .and_then(|key| ctx.tenant.space(key))
        .filter(|s| readable(ctx, s))
        .ok_or_else(|| ApiError::not_found(S, format!("no space with id `{id}`")))
}

/// `GET /spaces`: `name` (substring), `type` (comma list), `ownerId`, `roles` (comma list of
/// the caller's roles), `action=publish`, `sort` (`type`, `name`, `createdAt`), cursors.
pub fn list(ctx: &Ctx<'_>, query: &Query) -> Result<SpacesDto, ApiError> {
    ctx.caller_idx()?;
    let sort = parse_sort(S, query.get("sort"), &["type", "name", "createdAt"])?;
    let types: Option<Vec<&str>> = query.get("type").map(|t| t.split(',').map(str::trim).collect());
    let name = query.get("name").map(str::to_lowercase);
    let owner = query.get("ownerId");
    let wanted_roles: Option<Vec<SpaceRole>> = match query.get("roles") {
        None => None,
        Some(text) => Some(
            text.split(',')
                .map(str::trim)
                .map(|r| SpaceRole::parse(r).ok_or_else(|| ApiError::bad_request(S, format!("`{r}` is not a space role"))))
                .collect::<Result<_, _>>()?,
        ),
    };
    let action = query.get("action");
    if let Some(action) = action.filter(|a| *a != "publish") {
        return Err(ApiError::bad_request(S, format!("`action` supports only `publish`, not `{action}`")));
    }
    let mut spaces: Vec<SpaceDto> = ctx
        .tenant
        .spaces
        .iter()
        .filter(|s| readable(ctx, s))
        .filter(|s| types.as_ref().is_none_or(|t| t.contains(&s.space_type.as_str())))
        .filter(|s| name.as_ref().is_none_or(|n| s.name.to_lowercase().contains(n.as_str())))
        .filter(|s| owner.is_none_or(|o| s.owner.as_deref().is_some_and(|owner| ids::user_id(owner) == o)))
        .filter(|s| {
            wanted_roles.as_ref().is_none_or(|roles| {
                let held = caller_roles(ctx.tenant, s, &ctx.caller.user_id);
                roles.iter().any(|r| held.contains(*r))
            })
        })
        .map(|s| space_dto(ctx, ctx.tenant, s))
        .filter(|s| action.is_none() || s.meta.actions.contains(&"publish"))
        .collect();
    // RFC 3339 in one format: `createdAt` sorts as the time does (absent first, going up).
    sort_by_keys(&mut spaces, &sort, |s, field| match field {
        "type" => s.space_type.to_owned(),
        "name" => s.name.clone(),
        _ => s.created_at.clone().unwrap_or_default(),
    });
    let page = paginate(spaces, query, S, STANDARD, ctx.api_base, "/spaces")?;
    Ok(SpacesDto {
        data: page.items,
        links: page.links,
        meta: json!({ "count": page.total }),
    })
}

/// `GET /spaces/types`.
pub fn types() -> Value {
    json!({ "data": ["shared", "managed", "data"] })
}

/// `GET /spaces/{id}`.
pub fn get(ctx: &Ctx<'_>, id: &str) -> Result<SpaceDto, ApiError> {
    ctx.caller_idx()?;
    Ok(space_dto(ctx, ctx.tenant, find(ctx, id)?))
}

fn check_name(name: &str) -> Result<(), ApiError> {
    if name.trim().is_empty() || name.chars().count() > 256 || name.chars().any(|c| "\"*?<>/|\\:".contains(c)) {
        return Err(ApiError::bad_request(
            S,
            format!("`{name}` is not a space name: 1 to 256 characters, none of \" * ? < > / | \\ :"),
        ));
    }
    Ok(())
}

/// The status of "still in use" for spaces (`ApiError::from_op`).
const IN_USE: u16 = 412;

/// `POST /spaces`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, utoipa::ToSchema)]
pub struct SpaceCreate {
    /// Name.
    #[schema(required = true, value_type = String)]
    pub name: Option<String>,
    /// `shared`, `managed` or `data`.
    #[serde(rename = "type")]
    #[schema(required = true, value_type = String)]
    pub space_type: Option<String>,
    /// Free text.
    pub description: Option<String>,
}

/// `POST /spaces`: `{name, type, description?}` (201); the caller becomes the owner.
pub fn create(ctx: &Ctx<'_>, body: &SpaceCreate) -> Result<Mutation<SpaceDto>, ApiError> {
    ctx.caller_idx()?;
    let name = body.name.as_deref().ok_or_else(|| ApiError::bad_request(S, "a space needs a `name`"))?;
    let type_word = body
        .space_type
        .as_deref()
        .ok_or_else(|| ApiError::bad_request(S, "a space needs a `type`: shared, managed or data"))?;
    let space_type = SpaceType::parse(type_word)
        .ok_or_else(|| ApiError::bad_request(S, format!("`{type_word}` is not a space type; use shared, managed or data")))?;
    check_name(name)?;
    let action = match space_type {
        SpaceType::Shared => Action::SpaceCreateShared,
        SpaceType::Managed => Action::SpaceCreateManaged,
        SpaceType::Data => Action::SpaceCreateData,
    };
    ctx.require(S, action)?;
    if ctx.tenant.refs().space_named(name).is_some() {
        return Err(ApiError::conflict(S, format!("a space named `{name}` exists already")));
    }
    let key = ids::fresh_key(IdKind::Space, name, |k| ctx.tenant.space(k).is_some());
    let space = Space {
        meta: Meta {
            description: body.description.clone().filter(|d| !d.is_empty()),
            created_by: Some(ctx.caller.user_id.clone()),
            ..Meta::created(ctx.now)
        },
        id: key.clone(),
        name: name.to_owned(),
        space_type,
        owner: Some(ctx.caller.user_id.clone()),
        export_only_through: None,
        members: Vec::new(),
    };
    // INVARIANT: `meta` describes the new space as its owner sees it; the snapshot does not
    // know the space yet, so the owner's actions are the owner column of the space tables.
    let mut dto = space_dto(ctx, ctx.tenant, &space);
    dto.meta.actions = owner_actions(space_type);
    let note = AuditNote::new(
        EventType::SpaceCreated,
        "space",
        dto.id.clone(),
        json!({ "name": name, "type": type_word }),
    );
    Ok(Mutation::new(vec![Change::CreateSpace { space }], note, S, IN_USE, dto))
}

fn owner_actions(space_type: SpaceType) -> Vec<&'static str> {
    let create_word = if space_type == SpaceType::Managed { "publish" } else { "create" };
    let mut actions = vec![create_word, "delete", "read", "update"];
    actions.sort_unstable();
    actions
}

/// What a PATCH or PUT changes of a space; `None` leaves it.
#[derive(Debug)]
struct SpaceEdit<'a> {
    name: Option<&'a str>,
    owner_id: Option<&'a str>,
    description: Option<&'a str>,
}

fn update(ctx: &Ctx<'_>, id: &str, edit: SpaceEdit<'_>, data: Value) -> Result<Mutation<SpaceDto>, ApiError> {
    let SpaceEdit { name, owner_id, description } = edit;
    let current = find(ctx, id)?;
    let key = current.id.clone();
    if name.is_some() || description.is_some() {
        ctx.require_space(&key, Action::SpaceUpdate)?;
    }
    if let Some(name) = name {
        check_name(name)?;
        if ctx.tenant.refs().space_named(name).is_some_and(|named| named != key) {
            return Err(ApiError::conflict(S, format!("a space named `{name}` exists already")));
        }
    }
    let owner = match owner_id {
        None => None,
        Some(owner_id) => {
            ctx.require_space(&key, Action::SpaceChangeOwner)?;
            Some(user_subject_by_id(ctx.ids, owner_id).ok_or_else(|| ApiError::bad_request(S, format!("no user with id `{owner_id}`")))?)
        }
    };
    // The space as the update leaves it (`Tenant::update_space`), described as before.
    let mut space = current.clone();
    if let Some(name) = name {
        space.name = name.to_owned();
    }
    if let Some(owner) = &owner {
        space.owner = Some(owner.clone());
        space.members.retain(|m| m.assignee != Assignee::User(owner.clone()));
    }
    if let Some(description) = description {
        space.meta.description = Some(description.to_owned()).filter(|d| !d.is_empty());
    }
    space.meta = space.meta.updated(ctx.now);
    let dto = space_dto(ctx, ctx.tenant, &space);
    let note = AuditNote::new(EventType::SpaceUpdated, "space", id, data);
    let mut changes = Vec::new();
    if name.is_some() || owner.is_some() {
        changes.push(Change::UpdateSpace {
            id: key.clone(),
            name: name.map(str::to_owned),
            owner,
        });
    }
    changes.push(Change::SetMeta {
        target: MetaTarget::Space(key),
        meta: space.meta,
    });
    Ok(Mutation::new(changes, note, S, IN_USE, dto))
}

/// `PATCH /spaces/{id}`: `replace` of `/name` or `/description` (`space:update`) or
/// `/ownerId` (`space:change_owner`); 200 with the space.
pub fn patch(ctx: &Ctx<'_>, id: &str, ops: &[PatchOperation]) -> Result<Mutation<SpaceDto>, ApiError> {
    let mut name = None;
    let mut owner = None;
    let mut description = None;
    for op in ops {
        match (op.op, op.target()) {
            (PatchOp::Replace, "name") => name = Some(op.value::<String>(S)?),
            (PatchOp::Replace, "ownerId") => owner = Some(op.value::<String>(S)?),
            (PatchOp::Replace, "description") => description = Some(op.value::<String>(S)?),
            _ => return Err(op.unsupported(S)),
        }
    }
    let edit = SpaceEdit {
        name: name.as_deref(),
        owner_id: owner.as_deref(),
        description: description.as_deref(),
    };
    update(ctx, id, edit, json!({ "patch": ops }))
}

/// `PUT /spaces/{id}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SpaceUpdate {
    /// New name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// New owner (an API user id).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub owner_id: Option<String>,
    /// New description.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// `PUT /spaces/{id}`: `{name?, ownerId?, description?}`.
pub fn put(ctx: &Ctx<'_>, id: &str, body: &SpaceUpdate) -> Result<Mutation<SpaceDto>, ApiError> {
    let edit = SpaceEdit {
        name: body.name.as_deref(),
        owner_id: body.owner_id.as_deref(),
        description: body.description.as_deref(),
    };
    update(ctx, id, edit, json!(body))
}

/// `DELETE /spaces/{id}`: `space:delete`; 412 while content remains.
pub fn delete(ctx: &Ctx<'_>, id: &str) -> Result<Mutation<()>, ApiError> {
    let space = find(ctx, id)?;
    ctx.require_space(&space.id, Action::SpaceDelete)?;
    let note = AuditNote::new(EventType::SpaceDeleted, "space", id, json!({ "name": space.name }));
    Ok(Mutation::new(vec![Change::DeleteSpace { id: space.id.clone() }], note, S, IN_USE, ()))
}

// ---- assignments -------------------------------------------------------------------------

/// A space assignment on the wire.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AssignmentDto {
    /// API id.
    pub id: String,
    /// The space.
    pub space_id: String,
    /// Tenant id.
    pub tenant_id: String,
    /// The user's or group's id.
    pub assignee_id: String,
    /// `user` or `group`.
    #[serde(rename = "type")]
    pub assignee_type: &'static str,
    /// Space roles.
    pub roles: Vec<&'static str>,
    /// `self` and `space`.
    pub links: AssignmentLinks,
}

/// An assignment's or share's links.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct AssignmentLinks {
    /// Itself.
    #[serde(rename = "self")]
    pub self_: Href,
    /// Its space.
    pub space: Href,
}

/// The list envelope of assignments and shares (`meta.count`).
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct MemberListDto<T> {
    /// The page.
    pub data: Vec<T>,
    /// Absolute links.
    pub links: Links,
    /// `{count}`.
    pub meta: Value,
}

fn assignee_id(tenant: &Tenant, assignee: &Assignee) -> (String, &'static str) {
    match assignee {
        Assignee::User(id) => (ids::user_id(id), "user"),
        Assignee::Group(name) => (tenant.group(name).map(ids::group_api_id).unwrap_or_else(|| ids::group_id(name)), "group"),
    }
}

fn assignment_dto(ctx: &Ctx<'_>, tenant: &Tenant, space: &Space, assignee: &Assignee, roles: SpaceRoleSet) -> AssignmentDto {
    let space_id = ids::space_id(&space.id);
    let id = ids::assignment_id(&space.id, assignee);
    let (assignee_id, assignee_type) = assignee_id(tenant, assignee);
    AssignmentDto {
        links: AssignmentLinks {
            self_: Href {
                href: format!("{}/spaces/{space_id}/assignments/{id}", ctx.api_base),
            },
            space: Href {
                href: format!("{}/spaces/{space_id}", ctx.api_base),
            },
        },
        id,
        tenant_id: ids::tenant_id(&tenant.name),
        space_id,
        assignee_id,
        assignee_type,
        roles: roles_of(roles),
    }
}

/// `GET /spaces/{id}/assignments`: `assigneeId`, `type`, cursors. The owner is never listed.
pub fn list_assignments(ctx: &Ctx<'_>, id: &str, query: &Query) -> Result<MemberListDto<AssignmentDto>, ApiError> {
    let space = find(ctx, id)?;
    let wanted_assignee = query.get("assigneeId");
    let wanted_type = query.get("type");
    let items: Vec<AssignmentDto> = space
        .members
        .iter()
        .map(|m| assignment_dto(ctx, ctx.tenant, space, &m.assignee, m.roles))
        .filter(|a| wanted_assignee.is_none_or(|w| a.assignee_id == w) && wanted_type.is_none_or(|t| a.assignee_type == t))
        .collect();
    let page = paginate(items, query, S, STANDARD, ctx.api_base, &format!("/spaces/{id}/assignments"))?;
    Ok(MemberListDto {
        data: page.items,
        links: page.links,
        meta: json!({ "count": page.total }),
    })
}

/// Space or share roles as a body gives them: an array of role names or, leniently, one
/// comma-separated string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpaceRoles(pub Vec<String>);

impl<'de> Deserialize<'de> for SpaceRoles {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<SpaceRoles, D::Error> {
        struct Shape;

        impl<'de> Visitor<'de> for Shape {
            type Value = SpaceRoles;

            fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
                formatter.write_str("an array of space roles")
            }

            fn visit_str<E: de::Error>(self, text: &str) -> Result<SpaceRoles, E> {
                Ok(SpaceRoles(
                    text.split(',').map(|s| s.trim().to_owned()).filter(|s| !s.is_empty()).collect(),
                ))
            }

            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<SpaceRoles, A::Error> {
                // Read by the derived impl, so an element's error keeps its index.
                Vec::<String>::deserialize(de::value::SeqAccessDeserializer::new(seq)).map(SpaceRoles)
            }
        }

        deserializer.deserialize_any(Shape)
    }
}

fn parse_roles(roles: Option<&SpaceRoles>) -> Result<Vec<SpaceRole>, ApiError> {
    let words = match roles {
        Some(SpaceRoles(words)) if !words.is_empty() => words,
        _ => return Err(ApiError::bad_request(S, "`roles` must be a non-empty array of space roles")),
    };
    words
        .iter()
        .map(|w| SpaceRole::parse(w).ok_or_else(|| ApiError::bad_request(S, format!("`{w}` is not a space role"))))
        .collect()
}

fn resolve_assignee(ctx: &Ctx<'_>, kind: &str, id: &str) -> Result<Assignee, ApiError> {
    match kind {
        "user" | "bot" => user_subject_by_id(ctx.ids, id)
            .map(Assignee::User)
            .ok_or_else(|| ApiError::not_found(S, format!("no user with id `{id}`"))),
        "group" => group_name_by_id(ctx.ids, id)
            .map(Assignee::Group)
            .ok_or_else(|| ApiError::not_found(S, format!("no group with id `{id}`"))),
        other => Err(ApiError::bad_request(S, format!("`type` is `user` or `group`, not `{other}`"))),
    }
}

/// `POST /spaces/{id}/assignments`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AssignmentCreate {
    /// `user` (default) or `group`.
    #[serde(rename = "type")]
    pub assignee_type: Option<String>,
    /// The user's or group's API id.
    #[schema(required = true, value_type = String)]
    pub assignee_id: Option<String>,
    /// Space roles: `consumer`, `contributor`, `dataconsumer`, `facilitator`, `operator`,
    /// `producer`, `publisher`, `basicconsumer`, `codeveloper`.
    #[schema(required = true, value_type = Vec<String>)]
    pub roles: Option<SpaceRoles>,
}

/// `POST /spaces/{id}/assignments`: `{type, assigneeId, roles}` (201); one per assignee (409).
pub fn create_assignment(ctx: &Ctx<'_>, id: &str, body: &AssignmentCreate) -> Result<Mutation<AssignmentDto>, ApiError> {
    let space = find(ctx, id)?;
    ctx.require_space(&space.id, Action::SpaceManageMembers)?;
    let kind = body.assignee_type.as_deref().unwrap_or("user");
    let assignee_text = body
        .assignee_id
        .as_deref()
        .ok_or_else(|| ApiError::bad_request(S, "an assignment needs an `assigneeId`"))?;
    let assignee = resolve_assignee(ctx, kind, assignee_text)?;
    if Tenant::space_member_roles(space, &assignee).is_some() {
        return Err(ApiError::conflict(
            S,
            format!("{assignee} has an assignment in this space already; update it instead"),
        ));
    }
    let roles = Tenant::check_space_roles(space.space_type, &parse_roles(body.roles.as_ref())?).map_err(|e| ApiError::from_model(S, e))?;
    let dto = assignment_dto(ctx, ctx.tenant, space, &assignee, roles);
    let note = AuditNote::new(
        EventType::SpaceAssignmentCreated,
        "space-assignment",
        dto.id.clone(),
        json!({ "spaceId": id, "assigneeId": assignee_text, "roles": dto.roles }),
    );
    let change = Change::SetSpaceMember {
        space: space.id.clone(),
        assignee,
        roles,
    };
    Ok(Mutation::new(vec![change], note, S, IN_USE, dto))
}

fn find_assignment<'t>(space: &'t Space, assignment_id: &str) -> Result<&'t portcullis_model::SpaceMember, ApiError> {
    space
        .members
        .iter()
        .find(|m| ids::assignment_id(&space.id, &m.assignee) == assignment_id)
        .ok_or_else(|| ApiError::not_found(S, format!("no assignment with id `{assignment_id}` in this space")))
}

/// `GET /spaces/{id}/assignments/{assignmentId}`.
pub fn get_assignment(ctx: &Ctx<'_>, id: &str, assignment_id: &str) -> Result<AssignmentDto, ApiError> {
    let space = find(ctx, id)?;
    let member = find_assignment(space, assignment_id)?;
    Ok(assignment_dto(ctx, ctx.tenant, space, &member.assignee, member.roles))
}

/// `PUT /spaces/{id}/assignments/{assignmentId}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, utoipa::ToSchema)]
pub struct AssignmentUpdate {
    /// The complete list of space roles.
    #[schema(required = true, value_type = Vec<String>)]
    pub roles: Option<SpaceRoles>,
}

/// `PUT /spaces/{id}/assignments/{assignmentId}`: `{roles}`, the complete list (200).
pub fn update_assignment(ctx: &Ctx<'_>, id: &str, assignment_id: &str, body: &AssignmentUpdate) -> Result<Mutation<AssignmentDto>, ApiError> {
    let space = find(ctx, id)?;
    let assignee = find_assignment(space, assignment_id)?.assignee.clone();
    ctx.require_space(&space.id, Action::SpaceManageMembers)?;
    let roles = Tenant::check_space_roles(space.space_type, &parse_roles(body.roles.as_ref())?).map_err(|e| ApiError::from_model(S, e))?;
    let dto = assignment_dto(ctx, ctx.tenant, space, &assignee, roles);
    let note = AuditNote::new(
        EventType::SpaceAssignmentUpdated,
        "space-assignment",
        assignment_id,
        json!({ "spaceId": id, "roles": dto.roles }),
    );
    let change = Change::SetSpaceMember {
        space: space.id.clone(),
        assignee,
        roles,
    };
    Ok(Mutation::new(vec![change], note, S, IN_USE, dto))
}

/// `DELETE /spaces/{id}/assignments/{assignmentId}` (204).
pub fn delete_assignment(ctx: &Ctx<'_>, id: &str, assignment_id: &str) -> Result<Mutation<()>, ApiError> {
    let space = find(ctx, id)?;
    let assignee = find_assignment(space, assignment_id)?.assignee.clone();
    ctx.require_space(&space.id, Action::SpaceManageMembers)?;
    let note = AuditNote::new(
        EventType::SpaceAssignmentDeleted,
        "space-assignment",
        assignment_id,
        json!({ "spaceId": id, "assignee": assignee.to_string() }),
    );
    let change = Change::RemoveSpaceMember {
        space: space.id.clone(),
        assignee,
    };
    Ok(Mutation::new(vec![change], note, S, IN_USE, ()))
}

// ---- shares ------------------------------------------------------------------------------

/// A fine-grained share on the wire.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ShareDto {
    /// API id.
    pub id: String,
    /// The app's space.
    pub space_id: String,
    /// Tenant id.
    pub tenant_id: String,
    /// The user's or group's id.
    pub assignee_id: String,
    /// `user` or `group`.
    #[serde(rename = "type")]
    pub assignee_type: &'static str,
    /// The app's id.
    pub resource_id: String,
    /// The app's name.
    pub resource_name: String,
    /// Always `app`.
    pub resource_type: &'static str,
    /// Share roles.
    pub roles: Vec<&'static str>,
    /// Always false (link shares are not supported).
    pub disabled: bool,
    /// `self` and `space`.
    pub links: AssignmentLinks,
}

fn share_dto(ctx: &Ctx<'_>, tenant: &Tenant, space: &Space, item: &Content, share: &Share) -> ShareDto {
    let space_id = ids::space_id(&space.id);
    let id = ids::share_id(&item.id, &share.assignee);
    let (assignee_id, assignee_type) = assignee_id(tenant, &share.assignee);
    ShareDto {
        links: AssignmentLinks {
            self_: Href {
                href: format!("{}/spaces/{space_id}/shares/{id}", ctx.api_base),
            },
            space: Href {
                href: format!("{}/spaces/{space_id}", ctx.api_base),
            },
        },
        id,
        space_id,
        tenant_id: ids::tenant_id(&tenant.name),
        assignee_id,
        assignee_type,
        resource_id: ids::content_id(&item.id),
        resource_name: item.name.clone(),
        resource_type: "app",
        roles: roles_of(share.roles),
        disabled: false,
    }
}

/// The space's shares, by app id: only its shared apps are visited, not every share.
fn shares_in<'t>(tenant: &'t Tenant, space: &'t Space) -> impl Iterator<Item = (&'t Content, &'t Share)> + 't {
    tenant
        .refs()
        .shared_items_in(&space.id)
        .filter_map(|id| tenant.content_item(id))
        .flat_map(|item| tenant.shares.of(&item.id).map(move |share| (item, share)))
}

/// `GET /spaces/{id}/shares`: `resourceId`, `resourceType` (`app`, the only kind shared one by
/// one), `name` (the app's name, a case-insensitive substring), `type`, `userId`, `groupId`,
/// cursors.
pub fn list_shares(ctx: &Ctx<'_>, id: &str, query: &Query) -> Result<MemberListDto<ShareDto>, ApiError> {
    let space = find(ctx, id)?;
    if let Some(kind) = query.get("resourceType").filter(|k| *k != "app") {
        return Err(ApiError::bad_request(
            S,
            format!("`resourceType` is `app` (only apps are shared one by one), not `{kind}`"),
        ));
    }
    if let Some(kind) = query.get("type").filter(|k| !["user", "group", "link"].contains(k)) {
        return Err(ApiError::bad_request(S, format!("`type` is `user`, `group` or `link`, not `{kind}`")));
    }
    let name = query.get("name").map(str::to_lowercase);
    let items: Vec<ShareDto> = shares_in(ctx.tenant, space)
        .filter(|(item, _)| name.as_deref().is_none_or(|n| item.name.to_lowercase().contains(n)))
        .map(|(item, share)| share_dto(ctx, ctx.tenant, space, item, share))
        .filter(|s| query.get("resourceId").is_none_or(|r| s.resource_id == r))
        .filter(|s| query.get("type").is_none_or(|t| s.assignee_type == t))
        .filter(|s| query.get("userId").is_none_or(|u| s.assignee_type == "user" && s.assignee_id == u))
        .filter(|s| query.get("groupId").is_none_or(|g| s.assignee_type == "group" && s.assignee_id == g))
        .collect();
    let page = paginate(items, query, S, STANDARD, ctx.api_base, &format!("/spaces/{id}/shares"))?;
    Ok(MemberListDto {
        data: page.items,
        links: page.links,
        meta: json!({ "count": page.total }),
    })
}

fn require_share(ctx: &Ctx<'_>, item: &Content) -> Result<(), ApiError> {
    let allowed = ctx
        .snapshot
        .content_idx(&item.id)
        .is_some_and(|idx| ctx.allowed(Action::AppShare, Resource::Content(idx)));
    if allowed {
        Ok(())
    } else {
        Err(ApiError::forbidden(S, format!("the caller may not `app:share` app `{}`", item.name)))
    }
}

/// `POST /spaces/{id}/shares`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ShareCreate {
    /// `user` (default) or `group`.
    #[serde(rename = "type")]
    pub assignee_type: Option<String>,
    /// The user's or group's API id.
    #[schema(required = true, value_type = String)]
    pub assignee_id: Option<String>,
    /// The app's API id.
    #[schema(required = true, value_type = String)]
    pub resource_id: Option<String>,
    /// `app`.
    pub resource_type: Option<String>,
    /// Roles on the app.
    #[schema(required = true, value_type = Vec<String>)]
    pub roles: Option<SpaceRoles>,
}

/// `POST /spaces/{id}/shares`: `{type, assigneeId, resourceId, resourceType: "app", roles}`
/// (201); needs `app:share` on the app; 409 when the assignee has a share of it already.
pub fn create_share(ctx: &Ctx<'_>, id: &str, body: &ShareCreate) -> Result<Mutation<ShareDto>, ApiError> {
    let space = find(ctx, id)?;
    if let Some(kind) = body.resource_type.as_deref().filter(|k| *k != "app") {
        return Err(ApiError::bad_request(S, format!("only apps are shared one by one, not `{kind}`")));
    }
    let resource_id = body
        .resource_id
        .as_deref()
        .ok_or_else(|| ApiError::bad_request(S, "a share needs a `resourceId`"))?;
    let item = ctx
        .ids
        .content(ctx.tenant, resource_id)
        .and_then(|key| ctx.tenant.content_item(key))
        .filter(|c| c.space.as_deref() == Some(space.id.as_str()) && c.kind == ContentKind::App)
        .ok_or_else(|| ApiError::not_found(S, format!("no app with id `{resource_id}` in this space")))?;
    require_share(ctx, item)?;
    let kind = body.assignee_type.as_deref().unwrap_or("user");
    let assignee_text = body
        .assignee_id
        .as_deref()
        .ok_or_else(|| ApiError::bad_request(S, "a share needs an `assigneeId`"))?;
    let assignee = resolve_assignee(ctx, kind, assignee_text)?;
    if ctx.tenant.shares.contains(&item.id, &assignee) {
        return Err(ApiError::conflict(S, format!("app `{}` is shared with {assignee} already", item.name)));
    }
    let roles = SpaceRoleSet::of(&parse_roles(body.roles.as_ref())?);
    let share = Share {
        resource: item.id.clone(),
        assignee,
        roles,
    };
    let dto = share_dto(ctx, ctx.tenant, space, item, &share);
    let note = AuditNote::new(
        EventType::ShareCreated,
        "share",
        dto.id.clone(),
        json!({ "spaceId": id, "resourceId": resource_id, "assigneeId": assignee_text, "roles": dto.roles }),
    );
    Ok(Mutation::new(vec![Change::CreateShare { share }], note, S, IN_USE, dto))
}

fn find_share<'t>(ctx: &Ctx<'t>, space: &'t Space, share_id: &str) -> Result<(&'t Content, &'t Share), ApiError> {
    shares_in(ctx.tenant, space)
        .find(|(item, share)| ids::share_id(&item.id, &share.assignee) == share_id)
        .ok_or_else(|| ApiError::not_found(S, format!("no share with id `{share_id}` in this space")))
}

/// `GET /spaces/{id}/shares/{shareId}`.
pub fn get_share(ctx: &Ctx<'_>, id: &str, share_id: &str) -> Result<ShareDto, ApiError> {
    let space = find(ctx, id)?;
    let (item, share) = find_share(ctx, space, share_id)?;
    Ok(share_dto(ctx, ctx.tenant, space, item, share))
}

/// `PATCH /spaces/{id}/shares/{shareId}`: `replace /roles` (200).
pub fn patch_share(ctx: &Ctx<'_>, id: &str, share_id: &str, ops: &[PatchOperation]) -> Result<Mutation<ShareDto>, ApiError> {
    let space = find(ctx, id)?;
    let (item, share) = find_share(ctx, space, share_id)?;
    require_share(ctx, item)?;
    let mut updated = share.clone();
    for op in ops {
        match (op.op, op.target()) {
            (PatchOp::Replace, "roles") => updated.roles = SpaceRoleSet::of(&parse_roles(op.optional_value(S)?.as_ref())?),
            (PatchOp::Replace, "disabled") => {
                return Err(ApiError::bad_request(S, "only link shares can be disabled, and Portcullis has none"));
            }
            _ => return Err(op.unsupported(S)),
        }
    }
    let dto = share_dto(ctx, ctx.tenant, space, item, &updated);
    let note = AuditNote::new(EventType::ShareUpdated, "share", share_id, json!({ "spaceId": id, "patch": ops }));
    Ok(Mutation::new(vec![Change::CreateShare { share: updated }], note, S, IN_USE, dto))
}

/// `DELETE /spaces/{id}/shares/{shareId}` (204).
pub fn delete_share(ctx: &Ctx<'_>, id: &str, share_id: &str) -> Result<Mutation<()>, ApiError> {
    let space = find(ctx, id)?;
    let (item, share) = find_share(ctx, space, share_id)?;
    require_share(ctx, item)?;
    let note = AuditNote::new(EventType::ShareDeleted, "share", share_id, json!({ "spaceId": id }));
    let change = Change::DeleteShare {
        resource: item.id.clone(),
        assignee: share.assignee.clone(),
    };
    Ok(Mutation::new(vec![change], note, S, IN_USE, ()))
}
