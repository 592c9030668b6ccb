//! `/api-keys`: the pure half. Keys live in the host's credential store, so the router reads
//! them through [`crate::ApiHost`] and these functions decide who may do what and shape the
//! wire types. Creating needs `api-key:create` (the *Manage API keys* permission or the
//! `Developer` role) and is bound by the tenant's API-key settings (`/api-keys/configs/{id}`:
//! `api_keys_enabled`, `max_api_key_expiry`, `max_keys_per_user`; reading them needs a user of
//! the tenant, changing them `tenant:manage`); listing, renaming or revoking other users' keys
//! needs `user:manage`. `DELETE` answers as Qlik documents it: the key's owner deletes it, an
//! administrator revokes it (it stays listed as `revoked`).

use portcullis_engine::Resource;
use portcullis_model::Action;
use serde::{Deserialize, Serialize};

use crate::caller::Ctx;
use crate::dto::user_subject_by_id;
use crate::err::{ApiError, Service};
use crate::host::{ApiKeyInfo, ApiKeySettings, NewApiKey};
use crate::ids;
use crate::paging::{Links, PageStyle, Query, paginate_by_id, parse_sort};
use crate::patch::{PatchOp, PatchOperation};
use crate::time::{parse_duration, rfc3339};

const S: Service = Service::ApiKeys;

/// API keys page with `startingAfter` / `endingBefore` cursors.
pub const KEY_PAGES: PageStyle = PageStyle {
    next: "startingAfter",
    prev: "endingBefore",
    default_limit: 20,
    max_limit: 100,
};

/// Default key lifetime when `expiry` is absent: one year, or the tenant's maximum when that
/// is shorter.
pub const DEFAULT_EXPIRY_SECONDS: i64 = 365 * 86_400;
/// The most `max_keys_per_user` may be (Qlik's maximum).
pub const MAX_KEYS_PER_USER: u32 = 1000;
/// The longest lifetime of a new key, ten years: the one cap of both key APIs (the server's
/// `/v1/api-keys` takes it in days), so a leaked key cannot outlive every review.
pub const MAX_EXPIRY_SECONDS: i64 = 3650 * 86_400;

/// An API key on the wire.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ApiKeyDto {
    /// Key id.
    pub id: String,
    /// Tenant id.
    pub tenant_id: String,
    /// Free text.
    pub description: String,
    /// The user's API id.
    pub sub: String,
    /// Always `user`.
    pub sub_type: &'static str,
    /// `active`, `expired` or `revoked`.
    pub status: &'static str,
    /// When it stops working.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expiry: Option<String>,
    /// The user's API id.
    pub created_by_user: String,
    /// Creation time.
    pub created: String,
    /// Last change (creation or revocation).
    pub last_updated: String,
    /// The token: only in the response that created the key.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
}

/// `ApiKeyPage`.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct ApiKeyPage {
    /// The page.
    pub data: Vec<ApiKeyDto>,
    /// Absolute links.
    pub links: Links,
}

fn status(info: &ApiKeyInfo, now: i64) -> &'static str {
    if info.revoked_at.is_some() {
        "revoked"
    } else if info.expires_at.is_some_and(|at| now >= at) {
        "expired"
    } else {
        "active"
    }
}

/// A key as the API shows it.
pub fn key_dto(ctx: &Ctx<'_>, info: &ApiKeyInfo, token: Option<String>) -> ApiKeyDto {
    let user = ids::user_id(&info.user_id);
    ApiKeyDto {
        id: info.id.clone(),
        tenant_id: ctx.tenant_id(),
        description: info.description.clone(),
        sub: user.clone(),
        sub_type: "user",
        status: status(info, ctx.now),
        expiry: info.expires_at.map(rfc3339),
        created_by_user: user,
        created: rfc3339(info.created_at),
        last_updated: rfc3339(info.created_at.max(info.revoked_at.unwrap_or(0)).max(info.updated_at.unwrap_or(0))),
        token,
    }
}

fn manages_users(ctx: &Ctx<'_>) -> bool {
    ctx.allowed(Action::UserManage, Resource::Tenant)
}

/// Whose keys a list may read: `None` = everyone's (admins), else the caller's only.
pub fn list_owner(ctx: &Ctx<'_>) -> Result<Option<String>, ApiError> {
    ctx.caller_idx()?;
    Ok(if manages_users(ctx) { None } else { Some(ctx.caller.user_id.clone()) })
}

/// `GET /api-keys` over the keys the host returned for [`list_owner`].
pub fn list(ctx: &Ctx<'_>, keys: Vec<ApiKeyInfo>, query: &Query) -> Result<ApiKeyPage, ApiError> {
    let sort = parse_sort(S, query.get("sort"), &["createdByUser", "sub", "status", "description", "created"])?;
    let wanted_status = query.get("status");
    if let Some(s) = wanted_status.filter(|s| !["active", "expired", "revoked"].contains(s)) {
        return Err(ApiError::bad_request(S, format!("`status` is active, expired or revoked, not `{s}`")));
    }
    let wanted_user = query.get("sub").or(query.get("createdByUser"));
    let items: Vec<ApiKeyDto> = keys
        .iter()
        .map(|k| key_dto(ctx, k, None))
        .filter(|k| wanted_status.is_none_or(|s| k.status == s) && wanted_user.is_none_or(|u| k.sub == u))
        .collect();
    let value = |k: &ApiKeyDto, field: &str| match field {
        "createdByUser" => k.created_by_user.clone(),
        "sub" => k.sub.clone(),
        "status" => k.status.to_owned(),
        "description" => k.description.clone(),
        _ => k.created.clone(),
    };
    let page = paginate_by_id(items, &sort, value, |k| k.id.clone(), query, S, KEY_PAGES, (ctx.api_base, "/api-keys"))?;
    Ok(ApiKeyPage {
        data: page.items,
        links: page.links,
    })
}

/// `POST /api-keys`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ApiKeyCreate {
    /// What the key is for.
    #[schema(required = true, value_type = String)]
    pub description: Option<String>,
    /// An ISO 8601 duration, `P7D` or `PT12H` (at most `P3650D`).
    pub expiry: Option<String>,
    /// The key's user (an API user id); another user's key needs user administration.
    pub sub: Option<String>,
    /// `user` only.
    pub sub_type: Option<String>,
}

/// `POST /api-keys`: `{description, expiry?, sub?}` → what to store, within the tenant's
/// `settings` (the host checks them again as it stores the key).
pub fn plan_create(ctx: &Ctx<'_>, body: &ApiKeyCreate, settings: &ApiKeySettings) -> Result<NewApiKey, ApiError> {
    ctx.require(S, Action::ApiKeyCreate)?;
    if !settings.enabled {
        return Err(ApiError::forbidden(
            S,
            "API keys are turned off for this tenant (`api_keys_enabled` is false); a tenant administrator turns them on",
        ));
    }
    let description = body
        .description
        .clone()
        .ok_or_else(|| ApiError::bad_request(S, "an API key needs a `description`"))?;
    let user_id = match body.sub.as_deref() {
        None => ctx.caller.user_id.clone(),
        Some(sub) => {
            let subject = user_subject_by_id(ctx.ids, sub).ok_or_else(|| ApiError::bad_request(S, format!("no user with id `{sub}`")))?;
            if subject != ctx.caller.user_id && !manages_users(ctx) {
                return Err(ApiError::forbidden(S, "only user administrators create keys for other users"));
            }
            subject
        }
    };
    if let Some(kind) = body.sub_type.as_deref().filter(|k| *k != "user") {
        return Err(ApiError::bad_request(S, format!("Portcullis issues keys for users only, not `{kind}`")));
    }
    let max = settings.max_expiry_seconds.min(MAX_EXPIRY_SECONDS);
    let lifetime = match body.expiry.as_deref() {
        None => DEFAULT_EXPIRY_SECONDS.min(max),
        Some(text) => {
            parse_duration(text).ok_or_else(|| ApiError::bad_request(S, format!("`expiry` is an ISO 8601 duration such as `P7D`, not `{text}`")))?
        }
    };
    if lifetime <= 0 || lifetime > max {
        return Err(ApiError::bad_request(
            S,
            format!(
                "`expiry` is {lifetime} seconds; use more than 0 and at most {max} ({}, the tenant's `max_api_key_expiry`)",
                duration_text(max)
            ),
        ));
    }
    Ok(NewApiKey {
        user_id,
        description,
        expires_at: Some(ctx.now.saturating_add(lifetime)),
    })
}

/// May the caller read or revoke this key (its owner, or a user administrator)? 404 when
/// the key is not theirs to see.
pub fn check_access(ctx: &Ctx<'_>, key: Option<&ApiKeyInfo>, id: &str) -> Result<(), ApiError> {
    ctx.caller_idx()?;
    match key {
        Some(key) if key.user_id == ctx.caller.user_id || manages_users(ctx) => Ok(()),
        _ => Err(ApiError::not_found(S, format!("no API key with id `{id}`"))),
    }
}

/// What `DELETE /api-keys/{id}` does to a key the caller may see (see [`check_access`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retirement {
    /// The caller owns the key: it is deleted and leaves the list.
    Delete,
    /// An administrator's: the key is revoked and listed as `revoked`.
    Revoke,
}

/// Qlik's rule: the owner deletes, an administrator revokes.
pub fn retirement(ctx: &Ctx<'_>, key: &ApiKeyInfo) -> Retirement {
    if key.user_id == ctx.caller.user_id {
        Retirement::Delete
    } else {
        Retirement::Revoke
    }
}

/// `PATCH /api-keys/{id}`: `replace /description` with a string → the new description.
pub fn patched_description(ops: &[PatchOperation]) -> Result<String, ApiError> {
    let mut description = None;
    for op in ops {
        match (op.op, op.target()) {
            (PatchOp::Replace, "description") => description = Some(op.value::<String>(S)?),
            (_, "description") => return Err(op.unsupported(S)),
            _ => {
                return Err(ApiError::bad_request(
                    S,
                    format!("`{}` is not a field of an API key a patch may change; only `/description` is", op.path),
                ));
            }
        }
    }
    description.ok_or_else(|| ApiError::bad_request(S, "the patch changes nothing"))
}

/// `ApiKeysConfig`: the tenant's API-key settings, in Qlik's field names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct ApiKeysConfigDto {
    /// Whether users may create API keys.
    pub api_keys_enabled: bool,
    /// The longest lifetime of a new key, an ISO 8601 duration (`P365D`).
    pub max_api_key_expiry: String,
    /// How many active keys one user may hold.
    pub max_keys_per_user: u32,
}

/// A lifetime as Qlik writes it: whole days as `P<n>D`, else `PT<n>S`.
pub fn duration_text(seconds: i64) -> String {
    if seconds % 86_400 == 0 {
        format!("P{}D", seconds / 86_400)
    } else {
        format!("PT{seconds}S")
    }
}

/// 404 unless `tenant_id` is the caller's tenant.
pub fn check_tenant(ctx: &Ctx<'_>, tenant_id: &str) -> Result<(), ApiError> {
    ctx.caller_idx()?;
    if tenant_id == ctx.tenant_id() {
        Ok(())
    } else {
        Err(ApiError::not_found(
            S,
            format!("no tenant with id `{tenant_id}`; the caller's tenant is `{}`", ctx.tenant_id()),
        ))
    }
}

/// The settings in their wire shape.
pub fn config_dto(settings: &ApiKeySettings) -> ApiKeysConfigDto {
    ApiKeysConfigDto {
        api_keys_enabled: settings.enabled,
        max_api_key_expiry: duration_text(settings.max_expiry_seconds),
        max_keys_per_user: settings.max_keys_per_user,
    }
}

/// `PATCH /api-keys/configs/{tenantId}` (`tenant:manage`): the settings after `replace` of
/// `/api_keys_enabled` (a boolean), `/max_api_key_expiry` (an ISO 8601 duration, at most
/// `P3650D`) or `/max_keys_per_user` (1 to 1000); all or none.
pub fn patch_config(ctx: &Ctx<'_>, tenant_id: &str, ops: &[PatchOperation], settings: ApiKeySettings) -> Result<ApiKeySettings, ApiError> {
    check_tenant(ctx, tenant_id)?;
    ctx.require(S, Action::TenantManage)?;
    let mut next = settings;
    for op in ops {
        let target = op.target();
        if op.op != PatchOp::Replace {
            return Err(op.unsupported(S));
        }
        match target {
            "api_keys_enabled" => next.enabled = op.value(S)?,
            "max_api_key_expiry" => {
                let text: String = op.value(S)?;
                next.max_expiry_seconds = parse_duration(&text).filter(|s| *s <= MAX_EXPIRY_SECONDS).ok_or_else(|| {
                    ApiError::bad_request(
                        S,
                        format!("`/max_api_key_expiry` is an ISO 8601 duration from `PT1S` to `P3650D`, not `{text}`"),
                    )
                })?;
            }
            "max_keys_per_user" => {
                let count: u32 = op.value(S)?;
                if !(1..=MAX_KEYS_PER_USER).contains(&count) {
                    return Err(ApiError::bad_request(
                        S,
                        format!("`/max_keys_per_user` is 1 to {MAX_KEYS_PER_USER}, not {count}"),
                    ));
                }
                next.max_keys_per_user = count;
            }
            "scim_externalClient_expiry" => {
                return Err(ApiError::bad_request(
                    S,
                    "`/scim_externalClient_expiry` cannot be set: Portcullis issues no SCIM (`externalClient`) keys",
                ));
            }
            _ => {
                return Err(ApiError::bad_request(
                    S,
                    format!(
                        "`{}` is not an API-key setting; use `/api_keys_enabled`, `/max_api_key_expiry` or `/max_keys_per_user`",
                        op.path
                    ),
                ));
            }
        }
    }
    Ok(next)
}
