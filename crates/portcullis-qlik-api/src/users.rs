//! `/users`: list (SCIM filter, sort, cursors, `totalResults`), get, `me`, create, invite by
//! e-mail (207, one result per invitee), JSON Patch (`name`, `status`, `assignedRoles`,
//! `assignedGroups`, the invitation's expiry and the profile: `locale`, `preferredLocale`,
//! `preferredZoneinfo`, `picture`; 207 when only some operations apply) and delete. Managing users needs
//! `user:manage`; other users' roles, groups and scopes are shown only to callers who may
//! read roles (`role:read`) or manage users, as Qlik does.

use std::collections::BTreeSet;

use portcullis_audit::EventType;
use portcullis_engine::Resource;
use portcullis_model::permission::Permission;
use portcullis_model::{Action, CapSet, Entitlement, ProviderType, RoleRef, RoleSetting, Subscription, Tenant, User, UserStatus};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::body::Reference;
use crate::caller::Ctx;
use crate::dto::{GroupRefDto, ListDto, RoleRefDto, group_ref, resolve_group_ref, resolve_role_ref, resolve_role_refs, role_ref, user_subject_by_id};
use crate::err::{ApiError, Service};
use crate::ids;
use crate::mutation::{AuditNote, Mutation};
use crate::paging::{PageStyle, Query, STANDARD, SelfLink, SortKey, paginate, paginate_by_id, parse_filter, parse_sort, sort_by_keys};
use crate::patch::{PatchOp, PatchOperation};
use crate::time::{rfc3339, sort_key};
use portcullis_model::{Change, Meta, MetaTarget};

const S: Service = Service::Users;

/// Attributes `filter` may name.
pub const FILTER_ATTRIBUTES: &[&str] = &[
    "id",
    "subject",
    "name",
    "email",
    "status",
    "tenantId",
    "clientId",
    "assignedRoles.id",
    "assignedRoles.name",
    "assignedGroups.id",
    "assignedGroups.name",
    "assignedGroupsAssignedRoles.name",
    "assignedScopes",
];

/// Fields `sort` may name.
pub const SORT_FIELDS: &[&str] = &[
    "name",
    "_id",
    "id",
    "tenantId",
    "clientId",
    "status",
    "subject",
    "email",
    "inviteExpiry",
    "createdAt",
];

/// A user on the wire. With the `fields` parameter only the named properties are sent, so
/// the document marks none of them required.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UserDto {
    /// API id.
    #[schema(required = false)]
    pub id: String,
    /// Tenant id.
    #[schema(required = false)]
    pub tenant_id: String,
    /// IdP subject (a tenant file's user `id`).
    #[schema(required = false)]
    pub subject: String,
    /// Display name.
    #[schema(required = false)]
    pub name: String,
    /// E-mail.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// Status.
    #[schema(required = false)]
    pub status: &'static str,
    /// Directly assigned roles (hidden from callers who may not read roles).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub assigned_roles: Option<Vec<RoleRefDto>>,
    /// Groups.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub assigned_groups: Option<Vec<GroupRefDto>>,
    /// Scopes of every role the user holds, UserDefault included (read-only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub assigned_scopes: Option<Vec<String>>,
    /// When the API created the user (absent for users from a tenant file).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created_at: Option<String>,
    /// When the API last changed the user.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_updated_at: Option<String>,
    /// Unix seconds an invited user's invitation expires at.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub invite_expiry: Option<i64>,
    /// Language tag.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub locale: Option<String>,
    /// Preferred language tag.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub preferred_locale: Option<String>,
    /// Preferred time zone.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub preferred_zoneinfo: Option<String>,
    /// URL of the user's picture.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub picture: Option<String>,
    /// `self`.
    #[schema(required = false)]
    pub links: SelfLink,
}

/// The scopes a user's roles stand for: UserDefault, direct, group and Everyone roles.
pub fn user_scopes(tenant: &Tenant, user: &User) -> Vec<String> {
    let mut caps = CapSet::EMPTY;
    for permission in Permission::all() {
        if permission.def().in_user_default
            && let Some(value) = tenant.user_default_value(permission)
        {
            caps |= permission.def().grants(value);
        }
    }
    let mut role_names: Vec<&str> = user.roles.iter().map(|r| r.role.as_str()).collect();
    for group in &user.groups {
        if let Some(group) = tenant.group(group) {
            role_names.extend(group.roles.iter().map(String::as_str));
        }
    }
    role_names.extend(tenant.everyone_roles.iter().map(String::as_str));
    for name in role_names {
        match tenant.role(name) {
            Some(RoleRef::Builtin(role)) => caps |= role.grants,
            Some(RoleRef::Custom(role)) => caps |= custom_role_caps(tenant, &role.permissions),
            None => {}
        }
    }
    let scopes: BTreeSet<&str> = caps.iter().map(|c| c.scope()).collect();
    scopes.into_iter().map(str::to_owned).collect()
}

/// What a custom role's settings grant now (a `user-default` setting follows UserDefault).
pub fn custom_role_caps(tenant: &Tenant, permissions: &std::collections::BTreeMap<Permission, RoleSetting>) -> CapSet {
    let mut caps = CapSet::EMPTY;
    for (permission, setting) in permissions {
        caps |= tenant.custom_setting_grants(*permission, *setting);
    }
    caps
}

/// The user as the API shows it; `full` adds roles, groups and scopes.
pub fn user_dto(tenant: &Tenant, api_base: &str, user: &User, full: bool) -> UserDto {
    let id = ids::user_id(&user.id);
    UserDto {
        links: SelfLink::new(api_base, &format!("/users/{id}")),
        id,
        tenant_id: ids::tenant_id(&tenant.name),
        subject: user.id.clone(),
        name: user.name.clone(),
        email: user.email.clone(),
        status: user.status.as_str(),
        assigned_roles: full.then(|| user.roles.iter().map(|r| role_ref(tenant, &r.role)).collect()),
        assigned_groups: full.then(|| user.groups.iter().map(|g| group_ref(tenant, g)).collect()),
        assigned_scopes: full.then(|| user_scopes(tenant, user)),
        created_at: user.meta.created_at.map(rfc3339),
        last_updated_at: user.meta.updated_at.map(rfc3339),
        invite_expiry: user.meta.invite_expiry,
        locale: user.meta.locale.clone(),
        preferred_locale: user.meta.preferred_locale.clone(),
        preferred_zoneinfo: user.meta.preferred_zoneinfo.clone(),
        picture: user.meta.picture.clone(),
    }
}

fn sees_details(ctx: &Ctx<'_>) -> bool {
    ctx.allowed(Action::RoleRead, Resource::Tenant) || ctx.allowed(Action::UserManage, Resource::Tenant)
}

fn attribute(tenant: &Tenant, user: &User, attr: &str, full: bool) -> Vec<String> {
    match attr {
        "id" => vec![ids::user_id(&user.id)],
        "subject" => vec![user.id.clone()],
        "name" => vec![user.name.clone()],
        "email" => user.email.clone().into_iter().collect(),
        "status" => vec![user.status.as_str().to_owned()],
        "tenantId" => vec![ids::tenant_id(&tenant.name)],
        _ if !full => Vec::new(),
        "assignedRoles.id" => user.roles.iter().map(|r| ids::role_api_id(tenant, &r.role)).collect(),
        "assignedRoles.name" => user.roles.iter().map(|r| r.role.clone()).collect(),
        "assignedGroups.id" => user.groups.iter().filter_map(|g| tenant.group(g)).map(ids::group_api_id).collect(),
        "assignedGroups.name" => user.groups.clone(),
        "assignedGroupsAssignedRoles.name" => user
            .groups
            .iter()
            .filter_map(|g| tenant.group(g))
            .flat_map(|g| g.roles.iter().cloned())
            .collect(),
        "assignedScopes" => user_scopes(tenant, user),
        _ => Vec::new(),
    }
}

fn sort_value(tenant: &Tenant, user: &User, field: &str) -> String {
    match field {
        "name" => user.name.clone(),
        "_id" | "id" => ids::user_id(&user.id),
        "subject" => user.id.clone(),
        "status" => user.status.as_str().to_owned(),
        "email" => user.email.clone().unwrap_or_default(),
        "tenantId" => ids::tenant_id(&tenant.name),
        "createdAt" => sort_key(user.meta.created_at),
        "inviteExpiry" => sort_key(user.meta.invite_expiry),
        _ => String::new(),
    }
}

/// `clientId` names no user here (Qlik's bot users of OAuth clients are not modelled as users
/// with a client id), so a filter or sort on it would answer nothing or in no order: refused.
fn refuse_client_id(filter: Option<&crate::filter::Filter>, sort: &[SortKey]) -> Result<(), ApiError> {
    let in_filter = filter.is_some_and(|f| f.attributes().contains(&"clientId"));
    if in_filter || sort.iter().any(|k| k.field == "clientId") {
        return Err(ApiError::bad_request(
            S,
            format!(
                "`clientId` in `{}` names no user in Portcullis: users carry no OAuth client id; filter or sort by `subject`, `id` or `name` instead",
                if in_filter { "filter" } else { "sort" }
            ),
        ));
    }
    Ok(())
}

/// The older query parameters of `GET /users` that Qlik still accepts (deprecated in favour of
/// `filter`, `sort` and `next`/`prev`). Qlik's Python SDK sends its defaults for them with every
/// list (`sortBy=name&sortOrder=asc&status=active`, beside `sort=+name`), so they combine with
/// the newer ones: every filter must hold, `sort` wins over `sortBy`/`sortOrder`, and only the
/// two kinds of cursor are refused together.
const LEGACY: &[&str] = &[
    "email",
    "subject",
    "status",
    "role",
    "tenantId",
    "startingAfter",
    "endingBefore",
    "sortBy",
    "sortOrder",
];

/// `startingAfter`/`endingBefore`: user ids, as Qlik's older cursors are.
const LEGACY_PAGES: PageStyle = PageStyle {
    next: "startingAfter",
    prev: "endingBefore",
    ..STANDARD
};

/// The older parameters read: equality filters, and `sortBy`/`sortOrder` as sort keys.
struct Legacy<'q> {
    email: Option<&'q str>,
    subject: Option<&'q str>,
    status: Option<UserStatus>,
    role: Option<&'q str>,
    tenant_id: Option<&'q str>,
    sort: Vec<SortKey>,
}

impl Legacy<'_> {
    fn parse(query: &Query) -> Result<Option<Legacy<'_>>, ApiError> {
        if !LEGACY.iter().any(|name| query.get(name).is_some()) {
            return Ok(None);
        }
        let old_cursor = ["startingAfter", "endingBefore"].into_iter().find(|name| query.get(name).is_some());
        let new_cursor = ["next", "prev"].into_iter().find(|name| query.get(name).is_some());
        if let (Some(old), Some(new)) = (old_cursor, new_cursor) {
            return Err(ApiError::bad_request(
                S,
                format!("`{new}` cannot be combined with the deprecated cursor `{old}`; page with `next`/`prev` alone"),
            )
            .at_parameter(new));
        }
        let status = match query.get("status") {
            None => None,
            Some(word) => Some(UserStatus::parse(word).ok_or_else(|| {
                let known: Vec<&str> = UserStatus::ALL.iter().map(|s| s.as_str()).collect();
                ApiError::bad_request(S, format!("`status` is one of {}, not `{word}`", known.join(", ")))
            })?),
        };
        let descending = match query.get("sortOrder") {
            None | Some("asc") => false,
            Some("desc") => true,
            Some(other) => return Err(ApiError::bad_request(S, format!("`sortOrder` is `asc` or `desc`, not `{other}`"))),
        };
        let sort = match query.get("sortBy") {
            Some("name") => vec![SortKey {
                field: "name".to_owned(),
                descending,
            }],
            Some(other) => return Err(ApiError::bad_request(S, format!("`sortBy` is `name`, not `{other}`"))),
            None => Vec::new(),
        };
        Ok(Some(Legacy {
            email: query.get("email"),
            subject: query.get("subject"),
            status,
            role: query.get("role"),
            tenant_id: query.get("tenantId"),
            sort,
        }))
    }

    fn matches(&self, tenant: &Tenant, user: &User) -> bool {
        self.email
            .is_none_or(|email| user.email.as_deref().is_some_and(|e| e.eq_ignore_ascii_case(email)))
            && self.subject.is_none_or(|subject| user.id == subject)
            && self.status.is_none_or(|status| user.status == status)
            && self.role.is_none_or(|role| user.roles.iter().any(|r| r.role.eq_ignore_ascii_case(role)))
            && self.tenant_id.is_none_or(|id| ids::tenant_id(&tenant.name) == id)
    }
}

/// `GET /users`.
pub fn list(ctx: &Ctx<'_>, query: &Query) -> Result<ListDto<UserDto>, ApiError> {
    ctx.caller_idx()?;
    let total_results = query.flag(S, "totalResults")?;
    let details = sees_details(ctx);
    let legacy = Legacy::parse(query)?;
    let filter = parse_filter(S, query.get("filter"), FILTER_ATTRIBUTES)?;
    let sort = match (query.get("sort"), &legacy) {
        (None, Some(legacy)) => legacy.sort.clone(),
        _ => parse_sort(S, query.get("sort"), SORT_FIELDS)?,
    };
    refuse_client_id(filter.as_ref(), &sort)?;
    let mut users: Vec<&User> = ctx
        .tenant
        .users
        .iter()
        .filter(|user| {
            let full = details || user.id == ctx.caller.user_id;
            legacy.as_ref().is_none_or(|legacy| legacy.matches(ctx.tenant, user))
                && filter.as_ref().is_none_or(|f| f.matches(&|attr| attribute(ctx.tenant, user, attr, full)))
        })
        .collect();
    // With the older parameters, pages go by id (`startingAfter`/`endingBefore`), as Qlik's
    // older cursors do, unless the request pages with the newer `next`/`prev`.
    let id_pages = legacy.is_some() && query.get("next").is_none() && query.get("prev").is_none();
    let page = if id_pages {
        let id = |user: &&User| ids::user_id(&user.id);
        paginate_by_id(
            users,
            &sort,
            |user, field| sort_value(ctx.tenant, user, field),
            id,
            query,
            S,
            LEGACY_PAGES,
            (ctx.api_base, "/users"),
        )?
    } else {
        sort_by_keys(&mut users, &sort, |user, field| sort_value(ctx.tenant, user, field));
        paginate(users, query, S, STANDARD, ctx.api_base, "/users")?
    };
    Ok(ListDto {
        data: page
            .items
            .iter()
            .map(|u| user_dto(ctx.tenant, ctx.api_base, u, details || u.id == ctx.caller.user_id))
            .collect(),
        links: page.links,
        total_results: total_results.then_some(page.total),
    })
}

fn find<'t>(ctx: &Ctx<'t>, id: &str) -> Result<&'t User, ApiError> {
    let subject = user_subject_by_id(ctx.ids, id).ok_or_else(|| ApiError::not_found(S, format!("no user with id `{id}`")))?;
    ctx.tenant
        .user(&subject)
        .ok_or_else(|| ApiError::not_found(S, format!("no user with id `{id}`")))
}

/// `GET /users/{id}`.
pub fn get(ctx: &Ctx<'_>, id: &str) -> Result<UserDto, ApiError> {
    ctx.caller_idx()?;
    let user = find(ctx, id)?;
    let full = user.id == ctx.caller.user_id || sees_details(ctx);
    Ok(user_dto(ctx.tenant, ctx.api_base, user, full))
}

/// `GET /users/me`.
pub fn me(ctx: &Ctx<'_>) -> Result<UserDto, ApiError> {
    ctx.caller_idx()?;
    let user = ctx
        .tenant
        .user(&ctx.caller.user_id)
        .ok_or_else(|| ApiError::unauthorized(format!("the credential's user `{}` no longer exists", ctx.caller.user_id)))?;
    Ok(user_dto(ctx.tenant, ctx.api_base, user, true))
}

/// `GET /users/actions/count`.
pub fn count(ctx: &Ctx<'_>) -> Result<Value, ApiError> {
    ctx.caller_idx()?;
    Ok(json!({ "total": ctx.tenant.users.len() }))
}

fn default_entitlement(subscription: Subscription) -> Entitlement {
    match subscription {
        Subscription::UserBased => Entitlement::Professional,
        Subscription::CapacityBased => Entitlement::Full,
    }
}

/// `POST /users`. Qlik's `tenantId` is ignored (a user is created in the caller's tenant).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UserCreate {
    /// The identity provider's subject.
    #[schema(required = true, value_type = String)]
    pub subject: Option<String>,
    /// Display name (the subject when absent).
    pub name: Option<String>,
    /// E-mail.
    pub email: Option<String>,
    /// `active` (default) or `invited`.
    pub status: Option<String>,
    /// Roles to assign.
    pub assigned_roles: Option<Vec<Reference>>,
    /// URL of the user's picture.
    pub picture: Option<String>,
}

/// `POST /users`: `{subject, name?, email?, status?, assignedRoles?, picture?}`. New users are
/// Professional on user-based tenants and Full on capacity tenants.
pub fn create(ctx: &Ctx<'_>, body: &UserCreate) -> Result<Mutation<UserDto>, ApiError> {
    ctx.require(S, Action::UserManage)?;
    let subject = body
        .subject
        .clone()
        .filter(|s| !s.trim().is_empty())
        .ok_or_else(|| ApiError::bad_request(S, "a user needs a `subject`"))?;
    let status = match body.status.as_deref() {
        None | Some("active") => UserStatus::Active,
        Some("invited") => UserStatus::Invited,
        Some(other) => {
            return Err(ApiError::bad_request(
                S,
                format!("a new user's `status` is `invited` or `active`, not `{other}`"),
            ));
        }
    };
    let roles = match &body.assigned_roles {
        None => Vec::new(),
        Some(references) => resolve_role_refs(S, ctx.tenant, references)?,
    };
    if let Some(picture) = body
        .picture
        .as_deref()
        .filter(|p| !(p.starts_with("https://") || p.starts_with("http://")))
    {
        return Err(ApiError::bad_request(S, format!("`picture` is an `http(s)://` URL, not `{picture}`")));
    }
    let user = User {
        meta: Meta {
            invite_expiry: (status == UserStatus::Invited).then_some(ctx.now + INVITE_VALID_SECONDS),
            picture: body.picture.clone(),
            ..Meta::created(ctx.now)
        },
        name: body.name.clone().unwrap_or_else(|| subject.clone()),
        email: body.email.clone(),
        entitlement: default_entitlement(ctx.tenant.subscription),
        status,
        roles: roles
            .iter()
            .map(|r| portcullis_model::DirectRole {
                role: r.clone(),
                origin: portcullis_model::DirectOrigin::Assigned,
            })
            .collect(),
        groups: Vec::new(),
        id: subject.clone(),
    };
    let note = AuditNote::new(
        EventType::UserCreated,
        "user",
        ids::user_id(&subject),
        json!({ "subject": subject, "assignedRoles": roles }),
    );
    Ok(Mutation::then(vec![Change::CreateUser { user }], note, S, 400, move |ctx| {
        let created = ctx.tenant.user(&subject).ok_or_else(ApiError::internal)?;
        Ok(user_dto(ctx.tenant, ctx.api_base, created, true))
    }))
}

/// Most invitees one `POST /users/actions/invite` takes.
pub const MAX_INVITEES: usize = 1000;

/// `POST /users/actions/invite`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct InviteRequest {
    /// Who to invite.
    #[schema(required = true)]
    pub invitees: Option<Vec<Invitee>>,
}

/// One invitee.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Invitee {
    /// E-mail address.
    #[schema(required = true, value_type = String)]
    pub email: Option<String>,
    /// Display name (the e-mail when absent).
    pub name: Option<String>,
    /// The invitation's language (ISO 639-1); Portcullis sends no mail, so it is not kept.
    pub language: Option<String>,
    /// Invite again a user who is invited already (reported as an error for active and
    /// disabled users).
    pub resend: Option<bool>,
}

/// One invitee's result: `ok` (invited now), `exists` (a user has this e-mail; nothing
/// changed) or `error` (with `code`, `title` and `detail`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct InviteResult {
    /// The invitee's e-mail, as sent.
    pub email: String,
    /// `ok`, `exists` or `error`.
    pub status: &'static str,
    /// The user's subject (`ok`, `exists`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    /// The user's API id (`ok`, `exists`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    /// `400` (bad invitee), `1001` (an active user has this e-mail), `1002` (a disabled one).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// The error's summary.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// What exactly.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// `InviteDataResponse`: one result per invitee, in order (answered 207).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct InviteResults {
    /// The results.
    pub data: Vec<InviteResult>,
}

impl InviteResult {
    fn user(email: &str, status: &'static str, subject: &str) -> InviteResult {
        InviteResult {
            email: email.to_owned(),
            status,
            subject: Some(subject.to_owned()),
            user_id: Some(ids::user_id(subject)),
            code: None,
            title: None,
            detail: None,
        }
    }

    fn error(email: &str, code: &str, title: &str, detail: String) -> InviteResult {
        InviteResult {
            email: email.to_owned(),
            status: "error",
            subject: None,
            user_id: None,
            code: Some(code.to_owned()),
            title: Some(title.to_owned()),
            detail: Some(detail),
        }
    }
}

/// Why an e-mail address is not one (`None`: it looks like one: a local part, `@`, a domain
/// with a dot, no spaces or control characters, at most 254 characters).
fn email_problem(email: &str) -> Option<&'static str> {
    let Some((local, domain)) = email.rsplit_once('@') else {
        return Some("has no `@`");
    };
    if email.len() > 254 {
        return Some("is longer than 254 characters");
    }
    if local.is_empty() || domain.is_empty() || !domain.contains('.') || domain.starts_with('.') || domain.ends_with('.') {
        return Some("is not `name@domain.example`");
    }
    if email.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Some("holds a space or a control character");
    }
    None
}

/// A new invitee's subject: a UUID (as an identity provider makes them) from 16 random bytes.
pub fn invitee_subject(random: [u8; 16]) -> String {
    let mut bytes = random;
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!("{}-{}-{}-{}-{}", &hex[..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..])
}

/// `POST /users/actions/invite` (`user:manage`): each invitee is reported on its own (207).
/// A new e-mail becomes a user with status `invited` (Professional on user-based tenants, Full
/// on capacity ones), its subject drawn from `random` (one per invitee); an e-mail a user
/// already has is reported `exists` and changes nothing, and with `resend` an invited user is
/// `ok` again while an active or disabled one is an error (`1001`, `1002`); an invitee without
/// a usable e-mail is an error (`400`). The users are created all together or, if the model
/// refuses one, not at all.
pub fn invite(ctx: &Ctx<'_>, body: &InviteRequest, random: &[[u8; 16]]) -> Result<Mutation<InviteResults>, ApiError> {
    ctx.require(S, Action::UserManage)?;
    let invitees = body
        .invitees
        .as_deref()
        .filter(|i| !i.is_empty())
        .ok_or_else(|| ApiError::bad_request(S, "`invitees` is required: a list of `{email, name?, resend?}`"))?;
    if invitees.len() > MAX_INVITEES || invitees.len() > random.len() {
        return Err(ApiError::bad_request(
            S,
            format!("{} invitees in one request; send at most {MAX_INVITEES} at a time", invitees.len()),
        ));
    }
    // Who holds each e-mail now (case-insensitive), and who this request invites.
    let mut by_email: std::collections::HashMap<String, (String, UserStatus)> = ctx
        .tenant
        .users
        .iter()
        .filter_map(|u| u.email.as_ref().map(|e| (e.to_lowercase(), (u.id.clone(), u.status))))
        .collect();
    let mut results = Vec::with_capacity(invitees.len());
    let mut changes = Vec::new();
    let mut notes = Vec::new();
    for (index, (invitee, random)) in invitees.iter().zip(random).enumerate() {
        let email = invitee.email.as_deref().unwrap_or_default().trim();
        if let Some(problem) = if email.is_empty() { Some("is missing") } else { email_problem(email) } {
            results.push(InviteResult::error(
                email,
                "400",
                "Invalid email",
                format!("`invitees[{index}].email` {problem}; give the invitee's e-mail address"),
            ));
            continue;
        }
        match by_email.get(&email.to_lowercase()) {
            Some((subject, status)) if invitee.resend == Some(true) => results.push(match status {
                UserStatus::Active => InviteResult::error(
                    email,
                    "1001",
                    "Active user",
                    format!("user `{subject}` with this e-mail is active already"),
                ),
                UserStatus::Disabled => InviteResult::error(
                    email,
                    "1002",
                    "Disabled user",
                    format!("user `{subject}` with this e-mail is disabled; enable it with `replace /status`"),
                ),
                _ => {
                    // Invited again: the invitation runs from now.
                    if let Some(user) = ctx.tenant.user(subject) {
                        let meta = Meta {
                            invite_expiry: Some(ctx.now + INVITE_VALID_SECONDS),
                            ..user.meta.updated(ctx.now)
                        };
                        notes.push(AuditNote::new(
                            EventType::UserUpdated,
                            "user",
                            ids::user_id(subject),
                            json!({ "subject": subject, "inviteExpiry": meta.invite_expiry }),
                        ));
                        changes.push(Change::SetMeta {
                            target: MetaTarget::User(subject.clone()),
                            meta,
                        });
                    }
                    InviteResult::user(email, "ok", subject)
                }
            }),
            Some((subject, _)) => results.push(InviteResult::user(email, "exists", subject)),
            None => {
                let subject = invitee_subject(*random);
                let user = User {
                    meta: Meta {
                        invite_expiry: Some(ctx.now + INVITE_VALID_SECONDS),
                        ..Meta::created(ctx.now)
                    },
                    id: subject.clone(),
                    name: invitee.name.clone().filter(|n| !n.trim().is_empty()).unwrap_or_else(|| email.to_owned()),
                    email: Some(email.to_owned()),
                    entitlement: default_entitlement(ctx.tenant.subscription),
                    status: UserStatus::Invited,
                    roles: Vec::new(),
                    groups: Vec::new(),
                };
                notes.push(AuditNote::new(
                    EventType::UserCreated,
                    "user",
                    ids::user_id(&subject),
                    json!({ "subject": subject, "email": email, "status": "invited" }),
                ));
                changes.push(Change::CreateUser { user });
                by_email.insert(email.to_lowercase(), (subject.clone(), UserStatus::Invited));
                results.push(InviteResult::user(email, "ok", &subject));
            }
        }
    }
    Ok(Mutation {
        changes,
        notes,
        refusal: (S, 400),
        body: crate::mutation::Reply::Ready(InviteResults { data: results }),
    })
}

fn custom_group(service: Service, tenant: &Tenant, name: &str) -> Result<(), ApiError> {
    match tenant.group(name).map(|g| g.provider_type) {
        Some(ProviderType::Custom) => Ok(()),
        _ => Err(ApiError::bad_request(
            service,
            format!("group `{name}` comes from the identity provider; its membership cannot be changed through the API"),
        )),
    }
}

/// How long an invitation is valid: seven days (Qlik says only "a limited period").
pub const INVITE_VALID_SECONDS: i64 = 7 * 86_400;

/// The paths a user patch may name (without the slash), for hints.
pub const PATCH_PATHS: &[&str] = &[
    "name",
    "status",
    "assignedRoles",
    "roles",
    "assignedGroups",
    "inviteExpiry",
    "locale",
    "preferredLocale",
    "preferredZoneinfo",
    "picture",
];

/// What a `PATCH /users/{id}` did: every operation (204), or all but those that failed, each
/// answered in a `207 Multi-Status` body pointing at it, as Qlik does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PatchOutcome {
    /// Every operation applied.
    Done,
    /// These operations (by position) failed; the others applied.
    Partial(Vec<(usize, ApiError)>),
}

/// Why one operation of a patch does not apply: its value is not of the shape its path takes
/// (the whole patch is refused, as a body of the wrong shape is), or it is refused on its own.
#[derive(Debug)]
enum OpFailure {
    Shape(ApiError),
    Refused(ApiError),
}

impl From<ApiError> for OpFailure {
    fn from(error: ApiError) -> OpFailure {
        OpFailure::Refused(error)
    }
}

/// A value read as its path's type; a mismatch is a failure of the patch's shape.
fn shape<T>(read: Result<T, ApiError>) -> Result<T, OpFailure> {
    read.map_err(OpFailure::Shape)
}

/// The user as the operations so far leave it.
#[derive(Debug, Clone)]
struct UserPlan {
    roles: Vec<String>,
    groups: Vec<String>,
    name: Option<String>,
    status: Option<UserStatus>,
    meta: Meta,
    /// Role and group changes, in order.
    changes: Vec<Change>,
}

/// A language tag (`en`, `sv-SE`, `en_US_POSIX`): letters, digits, `-` and `_`, at most 35.
fn is_language_tag(text: &str) -> bool {
    let mut parts = text.split(['-', '_']);
    parts
        .next()
        .is_some_and(|first| (2..=8).contains(&first.len()) && first.bytes().all(|b| b.is_ascii_alphabetic()))
        && parts.all(|part| (1..=8).contains(&part.len()) && part.bytes().all(|b| b.is_ascii_alphanumeric()))
        && text.len() <= 35
}

/// A time zone name of the tz database (`UTC`, `Europe/Stockholm`, `America/Argentina/Salta`).
fn is_zone_name(text: &str) -> bool {
    !text.is_empty()
        && text.len() <= 64
        && text.split('/').all(|part| {
            part.bytes().next().is_some_and(|b| b.is_ascii_alphabetic()) && part.bytes().all(|b| b.is_ascii_alphanumeric() || b"_+-".contains(&b))
        })
}

impl UserPlan {
    /// Reads one operation into the plan, or says why it cannot apply (the plan unchanged).
    fn apply(&mut self, ctx: &Ctx<'_>, subject: &str, status_now: UserStatus, op: &PatchOperation) -> Result<(), OpFailure> {
        let tenant = ctx.tenant;
        let set = matches!(op.op, PatchOp::Replace | PatchOp::Set | PatchOp::Add);
        match (op.op, op.target()) {
            (PatchOp::Replace | PatchOp::Set, "name") => {
                let name: String = shape(op.value(S))?;
                if name.trim().is_empty() {
                    return Err(OpFailure::Refused(ApiError::bad_request(
                        S,
                        format!("`[{}].value`: a user's name cannot be empty", op.index),
                    )));
                }
                self.name = Some(name);
            }
            (PatchOp::Replace | PatchOp::Set, "status") => {
                self.status = Some(match shape(op.value::<String>(S))?.as_str() {
                    "active" => UserStatus::Active,
                    "disabled" => UserStatus::Disabled,
                    other => {
                        return Err(OpFailure::Refused(ApiError::bad_request(
                            S,
                            format!("`status` is set to `active` or `disabled`, not `{other}`"),
                        )));
                    }
                });
            }
            (PatchOp::Replace | PatchOp::Set, "assignedRoles" | "roles") => {
                let wanted = resolve_role_refs(S, tenant, &shape(op.value::<Vec<Reference>>(S))?)?;
                self.replace_roles(subject, wanted);
            }
            (PatchOp::Unset, "assignedRoles" | "roles") => self.replace_roles(subject, Vec::new()),
            (PatchOp::Add, "assignedRoles/-" | "assignedRoles" | "roles") => {
                let role = resolve_role_ref(S, tenant, &shape(op.value(S))?)?;
                if self.roles.contains(&role) {
                    return Err(OpFailure::Refused(ApiError::bad_request(
                        S,
                        format!("the user holds role `{role}` already"),
                    )));
                }
                let mut wanted = self.roles.clone();
                wanted.push(role);
                self.replace_roles(subject, wanted);
            }
            (PatchOp::RemoveValue, "assignedRoles" | "roles") => {
                // A role the user does not hold directly stays where it is: no change, no
                // error (conformance README: steps that change nothing are no-ops).
                let role = resolve_role_ref(S, tenant, &shape(op.value(S))?)?;
                let mut wanted = self.roles.clone();
                wanted.retain(|r| r != &role);
                self.replace_roles(subject, wanted);
            }
            (PatchOp::Add, "assignedGroups/-" | "assignedGroups") => {
                let group = resolve_group_ref(S, tenant, ctx.ids, &shape(op.value(S))?)?;
                custom_group(S, tenant, &group)?;
                if self.groups.contains(&group) {
                    // Qlik: adding a group the user has already is refused (spec §5.3).
                    return Err(OpFailure::Refused(ApiError::bad_request(
                        S,
                        format!("user `{subject}` is in group `{group}` already"),
                    )));
                }
                self.groups.push(group.clone());
                self.changes.push(Change::JoinGroup {
                    user: subject.to_owned(),
                    group,
                });
            }
            (PatchOp::RemoveValue, "assignedGroups") => {
                // Leaving a group the user is not in changes nothing (model `leave_group`).
                let group = resolve_group_ref(S, tenant, ctx.ids, &shape(op.value(S))?)?;
                custom_group(S, tenant, &group)?;
                self.groups.retain(|g| g != &group);
                self.changes.push(Change::LeaveGroup {
                    user: subject.to_owned(),
                    group,
                });
            }
            (PatchOp::Replace | PatchOp::Set | PatchOp::Unset, "assignedGroups") => {
                let mut wanted: Vec<String> = Vec::new();
                if op.op != PatchOp::Unset {
                    for reference in &shape(op.value::<Vec<Reference>>(S))? {
                        let group = resolve_group_ref(S, tenant, ctx.ids, reference)?;
                        custom_group(S, tenant, &group)?;
                        if !wanted.contains(&group) {
                            wanted.push(group);
                        }
                    }
                }
                let held = self.groups.clone();
                for group in held.iter().filter(|g| !wanted.contains(g)) {
                    if tenant.group(group).is_some_and(|g| g.provider_type == ProviderType::Custom) {
                        self.groups.retain(|g| g != group);
                        self.changes.push(Change::LeaveGroup {
                            user: subject.to_owned(),
                            group: group.clone(),
                        });
                    }
                }
                for group in wanted.iter().filter(|g| !held.contains(g)) {
                    self.groups.push(group.clone());
                    self.changes.push(Change::JoinGroup {
                        user: subject.to_owned(),
                        group: group.clone(),
                    });
                }
            }
            (PatchOp::Renew, "inviteExpiry") => {
                if status_now != UserStatus::Invited {
                    return Err(OpFailure::Refused(ApiError::bad_request(
                        S,
                        format!("user `{subject}` is {status_now}, not invited: only an invitation is renewed"),
                    )));
                }
                self.meta.invite_expiry = Some(ctx.now + INVITE_VALID_SECONDS);
            }
            (PatchOp::Replace | PatchOp::Set, "inviteExpiry") => {
                let at: i64 = shape(op.value(S))?;
                if at <= ctx.now {
                    return Err(OpFailure::Refused(ApiError::bad_request(
                        S,
                        format!(
                            "`[{}].value` is {at}; an invitation expires in the future (Unix seconds), or use `renew`",
                            op.index
                        ),
                    )));
                }
                self.meta.invite_expiry = Some(at);
            }
            (PatchOp::Unset | PatchOp::Remove, "inviteExpiry") => self.meta.invite_expiry = None,
            (_, field @ ("locale" | "preferredLocale" | "preferredZoneinfo" | "picture"))
                if set || matches!(op.op, PatchOp::Unset | PatchOp::Remove) =>
            {
                let value: Option<String> = if set { Some(shape(op.value(S))?) } else { None };
                if let Some(text) = &value {
                    let fits = match field {
                        "preferredZoneinfo" => is_zone_name(text),
                        "picture" => (text.starts_with("https://") || text.starts_with("http://")) && text.len() <= 2048,
                        _ => is_language_tag(text),
                    };
                    if !fits {
                        let expected = match field {
                            "preferredZoneinfo" => "a time zone such as `Europe/Stockholm`",
                            "picture" => "an `http(s)://` URL of at most 2048 characters",
                            _ => "a language tag such as `en-US`",
                        };
                        return Err(OpFailure::Refused(ApiError::bad_request(
                            S,
                            format!("`{}` is {expected}, not `{text}`", op.path),
                        )));
                    }
                }
                let slot = match field {
                    "locale" => &mut self.meta.locale,
                    "preferredLocale" => &mut self.meta.preferred_locale,
                    "preferredZoneinfo" => &mut self.meta.preferred_zoneinfo,
                    _ => &mut self.meta.picture,
                };
                *slot = value;
            }
            (_, target) if PATCH_PATHS.contains(&target) || PATCH_PATHS.iter().any(|p| target.strip_suffix("/-") == Some(p)) => {
                return Err(OpFailure::Refused(op.unsupported(S)));
            }
            _ => {
                return Err(OpFailure::Refused(ApiError::bad_request(
                    S,
                    format!(
                        "`{}` is not a user field a patch may change; use one of {}",
                        op.path,
                        PATCH_PATHS.iter().map(|p| format!("`/{p}`")).collect::<Vec<_>>().join(", ")
                    ),
                )));
            }
        }
        Ok(())
    }

    fn replace_roles(&mut self, subject: &str, wanted: Vec<String>) {
        let mut kept: Vec<String> = Vec::new();
        for role in wanted {
            if !kept.contains(&role) {
                kept.push(role);
            }
        }
        self.roles = kept.clone();
        self.changes.push(Change::ReplaceUserRoles {
            id: subject.to_owned(),
            roles: kept,
        });
    }
}

/// `PATCH /users/{id}` (`user:manage`): Qlik's operations (`replace`, `set`, `unset`, `add`,
/// `renew`, `remove-value`) on `/name`, `/status`, `/assignedRoles` (`/roles`),
/// `/assignedGroups`, `/inviteExpiry`, `/locale`, `/preferredLocale`, `/preferredZoneinfo`,
/// `/picture`. A value not of its path's shape refuses the whole patch (400); otherwise each
/// operation is checked on its own, as Qlik does: when all apply the answer
/// is 204; when some do not, the others are written and each failure is reported (207); when
/// none does, the first failure is the answer. A patch that changes the user stamps its
/// `lastUpdatedAt`; one that changes nothing writes nothing.
pub fn patch(ctx: &Ctx<'_>, id: &str, ops: &[PatchOperation]) -> Result<Mutation<PatchOutcome>, ApiError> {
    ctx.require(S, Action::UserManage)?;
    let user = find(ctx, id)?;
    let subject = user.id.clone();
    let mut plan = UserPlan {
        roles: user.roles.iter().map(|r| r.role.clone()).collect(),
        groups: user.groups.clone(),
        name: None,
        status: None,
        meta: user.meta.clone(),
        changes: Vec::new(),
    };
    let mut failed: Vec<(usize, ApiError)> = Vec::new();
    for op in ops {
        let mut attempt = plan.clone();
        match attempt.apply(ctx, &subject, user.status, op) {
            Ok(()) => plan = attempt,
            Err(OpFailure::Shape(error)) => return Err(error),
            Err(OpFailure::Refused(error)) => failed.push((op.index, error)),
        }
    }
    if !failed.is_empty() && failed.len() == ops.len() {
        let (_, first) = failed.swap_remove(0);
        return Err(first);
    }
    let same = |a: &[String], b: &[String]| a.len() == b.len() && a.iter().all(|x| b.contains(x));
    let changed = plan.name.as_ref().is_some_and(|n| *n != user.name)
        || plan.status.is_some_and(|s| s != user.status)
        || !same(&plan.roles, &user.roles.iter().map(|r| r.role.clone()).collect::<Vec<_>>())
        || !same(&plan.groups, &user.groups)
        || plan.meta != user.meta;
    let mut changes = plan.changes;
    if plan.name.is_some() || plan.status.is_some() {
        changes.insert(
            0,
            Change::UpdateUser {
                id: subject.clone(),
                name: plan.name,
                status: plan.status,
            },
        );
    }
    // A patch that changes nothing stamps nothing (steps that change nothing are no-ops).
    if changed {
        changes.push(Change::SetMeta {
            target: MetaTarget::User(subject.clone()),
            meta: plan.meta.updated(ctx.now),
        });
    }
    let applied: Vec<&PatchOperation> = ops.iter().filter(|op| !failed.iter().any(|(i, _)| *i == op.index)).collect();
    let note = AuditNote::new(EventType::UserUpdated, "user", id, json!({ "patch": applied }));
    let outcome = if failed.is_empty() {
        PatchOutcome::Done
    } else {
        PatchOutcome::Partial(failed)
    };
    Ok(Mutation::new(changes, note, S, 400, outcome))
}

/// `DELETE /users/{id}`: refused (400) while the user owns a space or content.
pub fn delete(ctx: &Ctx<'_>, id: &str) -> Result<Mutation<()>, ApiError> {
    ctx.require(S, Action::UserManage)?;
    let subject = find(ctx, id)?.id.clone();
    let note = AuditNote::new(EventType::UserDeleted, "user", id, json!({ "subject": subject }));
    Ok(Mutation::new(vec![Change::DeleteUser { id: subject }], note, S, 400, ()))
}
