//! The axum router of `/api/v1`, generic over an [`ApiHost`]: it extracts the [`Caller`] the
//! server inserted, applies the rate limits, reads the tenant's state from the host, runs a
//! pure handler and, for writes, commits the changes it returns (re-reading and retrying when
//! the tenant moved on in between). Every failure is rendered in Qlik's error envelope.
//!
//! Mount with `.nest("/api/v1", routes(host, config))` and `.merge(product_info_routes())`
//! (both are [`RouteTable`]s: the router, and the list of routes it serves, each built from
//! its handler's OpenAPI annotation; the document is [`crate::openapi::QlikApiDoc`]).

use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Path, Request, State};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::Value;

use crate::body::{FilterBody, decode};
use crate::caller::{Caller, Ctx};
use crate::dto::project_fields;
use crate::err::{ApiError, Failure, Service};
use crate::host::{ApiHost, Commit, HostError, TenantState};
use crate::mutation::{Mutation, Reply as Answer};
use crate::paging::Query;
use crate::patch::parse_patch;
use crate::ratelimit::{RateLimitConfig, RateLimiter, Tier};
use crate::route_table::RouteTable;
use crate::{api_keys, audits, groups, oauth_clients, roles, spaces, tenants, users};
use portcullis_model::Action;
// The types the routes' OpenAPI annotations name.
use crate::api_keys::{ApiKeyDto, ApiKeyPage};
use crate::audits::{AuditEventDto, AuditNames, AuditPage, AuditSettingsDto};
use crate::dto::ListDto;
use crate::groups::{GroupDto, GroupSettingsDto};
use crate::oauth_clients::OauthClientDto;
use crate::roles::RoleDto;
use crate::spaces::{AssignmentDto, MemberListDto, ShareDto, SpaceDto, SpacesDto};
use crate::users::UserDto;

/// How the router is set up.
#[derive(Debug, Clone)]
pub struct ApiConfig {
    /// The public origin (`https://portcullis.example.com`) for absolute links; when `None`,
    /// links use `http://` and the request's `Host` header.
    pub public_base_url: Option<String>,
    /// Where the router is mounted (`/api/v1`).
    pub mount_path: String,
    /// Per-user limits.
    pub rate_limits: RateLimitConfig,
}

impl Default for ApiConfig {
    fn default() -> Self {
        ApiConfig {
            public_base_url: None,
            mount_path: "/api/v1".to_owned(),
            rate_limits: RateLimitConfig::default(),
        }
    }
}

/// Environment variable: the public origin for absolute links.
pub const ENV_PUBLIC_URL: &str = "PORTCULLIS_PUBLIC_URL";
/// Environment variable: tier 1 (reads) per minute per user; 0 turns the limit off.
pub const ENV_READS_PER_MINUTE: &str = "PORTCULLIS_API_READS_PER_MINUTE";
/// Environment variable: tier 2 (writes) per minute per user; 0 turns the limit off.
pub const ENV_WRITES_PER_MINUTE: &str = "PORTCULLIS_API_WRITES_PER_MINUTE";

impl ApiConfig {
    /// The defaults, changed by whatever `lookup` finds for [`ENV_PUBLIC_URL`],
    /// [`ENV_READS_PER_MINUTE`] and [`ENV_WRITES_PER_MINUTE`]; an error names the variable
    /// whose value is not a number. The binary reads the environment through it once, at
    /// start; nothing reads it per request.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<ApiConfig, String> {
        let mut config = ApiConfig::default();
        if let Some(url) = lookup(ENV_PUBLIC_URL).filter(|u| !u.trim().is_empty()) {
            config.public_base_url = Some(url.trim().trim_end_matches('/').to_owned());
        }
        let number = |name: &str| -> Result<Option<u32>, String> {
            match lookup(name) {
                None => Ok(None),
                Some(text) => text
                    .trim()
                    .parse()
                    .map(Some)
                    .map_err(|_| format!("`{name}={text}` is not a number of requests per minute")),
            }
        };
        if let Some(reads) = number(ENV_READS_PER_MINUTE)? {
            config.rate_limits.tier1_per_minute = reads;
        }
        if let Some(writes) = number(ENV_WRITES_PER_MINUTE)? {
            config.rate_limits.tier2_per_minute = writes;
        }
        Ok(config)
    }
}

struct App<H> {
    host: H,
    config: ApiConfig,
    limiter: RateLimiter,
    /// Per tenant, the turn a write takes after losing a race (see [`write()`]).
    turns: Mutex<std::collections::HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

type Shared<H> = Arc<App<H>>;

fn host_error(error: HostError) -> ApiError {
    match error {
        HostError::Stale { .. } => ApiError::conflict(Service::Api, "the tenant changed while the request ran; send it again"),
        HostError::NotFound(what) => ApiError::unauthorized(format!("`{what}` does not exist")),
        HostError::Refused(message) => ApiError::bad_request(Service::Api, message),
        HostError::Rejected { error, .. } => ApiError::from_op(Service::Api, 400, error),
        HostError::Damaged(message) => ApiError::new(Service::Api, 500, message),
        HostError::Denied(message) => ApiError::forbidden(Service::Api, message),
        HostError::Full(message) => ApiError::conflict(Service::Api, message),
        HostError::Unavailable(message) => {
            tracing::warn!(%message, "storage unavailable");
            ApiError::new(Service::Api, 503, "storage is unavailable; try again")
        }
    }
}

/// The origin of absolute URLs: the configured public origin, else `http://` and the
/// request's `Host` header (which the client chooses), else the loopback address. The server
/// builds its own absolute URLs with it too, so every link it writes follows one rule.
pub fn public_origin(configured: Option<&str>, headers: &axum::http::HeaderMap) -> String {
    match configured {
        Some(url) => url.trim_end_matches('/').to_owned(),
        None => {
            let host = headers.get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or("127.0.0.1");
            format!("http://{host}")
        }
    }
}

fn now_seconds() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0)
}

/// Everything a handler needs from the request: the caller (401 without one), the absolute
/// API base for links, and the query (400 naming the parameter it cannot read). Extracting it counts the request against the caller's
/// rate limit (429 over it).
struct Req {
    caller: Caller,
    api_base: String,
    query: Query,
}

impl<H: ApiHost> FromRequestParts<Shared<H>> for Req {
    type Rejection = Failure;

    async fn from_request_parts(parts: &mut Parts, app: &Shared<H>) -> Result<Req, Failure> {
        let caller = parts
            .extensions
            .get::<Caller>()
            .cloned()
            .ok_or_else(|| ApiError::unauthorized("the request carries no valid credential; send `Authorization: Bearer <API key>`"))?;
        let tier = Tier::of_request(parts.method.as_str(), parts.uri.path());
        if let Err(seconds) = app.limiter.check(&caller.tenant, &caller.user_id, tier) {
            return Err(Failure::rate_limited(seconds));
        }
        let origin = public_origin(app.config.public_base_url.as_deref(), &parts.headers);
        let api_base = format!("{origin}{}", app.config.mount_path.trim_end_matches('/'));
        let query = Query::parse(parts.uri.query()).map_err(|error| ApiError::bad_request(Service::Api, error.to_string()))?;
        Ok(Req { caller, api_base, query })
    }
}

impl Req {
    fn ctx<'a>(&'a self, state: &'a TenantState) -> Ctx<'a> {
        Ctx {
            tenant: &state.tenant,
            snapshot: &state.snapshot,
            ids: &state.ids,
            caller: &self.caller,
            api_base: &self.api_base,
            now: now_seconds(),
        }
    }
}

async fn load<H: ApiHost>(app: &App<H>, req: &Req) -> Result<TenantState, Failure> {
    app.host.tenant_state(&req.caller.tenant).await.map_err(|e| Failure::from(host_error(e)))
}

async fn read<H: ApiHost, T: Serialize>(app: &App<H>, req: &Req, handler: impl FnOnce(&Ctx<'_>) -> Result<T, ApiError>) -> Result<Value, Failure> {
    let state = load(app, req).await?;
    let body = handler(&req.ctx(&state))?;
    serde_json::to_value(body).map_err(|_| Failure::from(ApiError::internal()))
}

/// How often a write is planned again after losing a race while it holds its tenant's turn.
/// Holders are served one at a time, so only writes from elsewhere (the decision API, other
/// nodes) can still move the tenant under one.
const TURN_ATTEMPTS: usize = 8;

/// Plans `handler`'s changes on the tenant as it is and commits them at that revision.
///
/// The first try runs alongside every other write (group commit batches them). A write whose
/// revision was moved past meanwhile waits for its tenant's turn and is planned again on the
/// newer state, one writer at a time, so concurrent scripts do not starve each other into 409s;
/// it is refused with 409 only when writes from elsewhere win every one of its turns.
async fn write<H, T, F>(app: &App<H>, req: &Req, handler: F) -> Result<T, Failure>
where
    H: ApiHost,
    T: Send,
    F: Fn(&Ctx<'_>) -> Result<Mutation<T>, ApiError> + Send + Sync,
{
    let mutation = match plan_and_commit(app, req, &handler).await? {
        Ok(mutation) => mutation,
        Err(mut stale) => {
            let turn = {
                let mut turns = app.turns.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                turns.entry(req.caller.tenant.clone()).or_default().clone()
            };
            let _turn = turn.lock().await;
            let mut attempts = 0;
            loop {
                attempts += 1;
                match plan_and_commit(app, req, &handler).await? {
                    Ok(mutation) => break mutation,
                    Err(again) if attempts < TURN_ATTEMPTS => stale = again,
                    Err(_) => return Err(host_error(stale).into()),
                }
            }
        }
    };
    match mutation.body {
        Answer::Ready(body) => Ok(body),
        Answer::After(body) => {
            let state = load(app, req).await?;
            Ok(body(&req.ctx(&state))?)
        }
    }
}

/// One try of [`write()`]: the inner error is [`HostError::Stale`], another write having moved the
/// tenant past the planned revision.
async fn plan_and_commit<H, T, F>(app: &App<H>, req: &Req, handler: &F) -> Result<Result<Mutation<T>, HostError>, Failure>
where
    H: ApiHost,
    T: Send,
    F: Fn(&Ctx<'_>) -> Result<Mutation<T>, ApiError> + Send + Sync,
{
    // Read, run the pure handler, and let go of the state before committing: the host may
    // hold a read lock on its model through it.
    let (mutation, base_revision) = {
        let state = load(app, req).await?;
        (handler(&req.ctx(&state))?, state.revision)
    };
    let commit = Commit {
        base_revision,
        changes: &mutation.changes,
        notes: &mutation.notes,
        actor: &req.caller,
    };
    match app.host.commit(&req.caller.tenant, commit).await {
        Ok(_) => Ok(Ok(mutation)),
        Err(stale @ HostError::Stale { .. }) => Ok(Err(stale)),
        Err(HostError::Rejected { error, .. }) => Err(mutation.refused(error).into()),
        Err(error) => Err(host_error(error).into()),
    }
}

/// A fresh random API id for a group or custom role created through the API.
fn random_api_id() -> Result<String, Failure> {
    let mut random = [0u8; 12];
    getrandom::fill(&mut random).map_err(|_| Failure::from(ApiError::internal()))?;
    Ok(crate::ids::random_id(random))
}

fn json(status: StatusCode, value: Value) -> Response {
    (status, axum::Json(value)).into_response()
}

fn to_json<T: Serialize>(value: T) -> Result<Value, Failure> {
    serde_json::to_value(value).map_err(|_| Failure::from(ApiError::internal()))
}

/// Path parameters. Percent-encoding that does not decode to UTF-8 is refused 400 in the
/// envelope, like every other failure (axum's own `Path` answers it in plain text).
struct Ids<T>(T);

impl<S: Send + Sync, T: serde::de::DeserializeOwned + Send> FromRequestParts<S> for Ids<T> {
    type Rejection = Failure;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Ids<T>, Failure> {
        Path::<T>::from_request_parts(parts, state)
            .await
            .map(|Path(value)| Ids(value))
            .map_err(|rejection| ApiError::bad_request(Service::Api, format!("cannot read the path: {}", rejection.body_text())).into())
    }
}

/// A request body; over the body limit (axum's `DefaultBodyLimit`, which the host sets) it is
/// refused 413 in the error envelope, like every other failure.
struct Body(Bytes);

impl<S: Send + Sync> FromRequest<S> for Body {
    type Rejection = Failure;

    async fn from_request(request: Request, state: &S) -> Result<Body, Failure> {
        Bytes::from_request(request, state).await.map(Body).map_err(|rejection| {
            let error = if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::new(Service::Api, 413, "the request body is longer than this server accepts")
            } else {
                ApiError::bad_request(Service::Api, format!("cannot read the request body: {}", rejection.body_text()))
            };
            Failure::from(error)
        })
    }
}

fn project_list(mut value: Value, fields: Option<&str>) -> Value {
    if fields.is_some()
        && let Some(items) = value.get_mut("data").and_then(Value::as_array_mut)
    {
        for item in items.iter_mut() {
            *item = project_fields(item.take(), fields);
        }
    }
    value
}

type Reply = Result<Response, Failure>;

// ---- users ---------------------------------------------------------------------------------

/// Lists users.
#[utoipa::path(get, path = "/users", tag = "users", params(crate::openapi::ListParams, crate::openapi::LegacyUserParams, crate::openapi::FieldsParam), responses((status = 200, description = "A page of users", body = ListDto<UserDto>)), security(("bearer" = [])))]
async fn users_list<H: ApiHost>(State(app): State<Shared<H>>, req: Req) -> Reply {
    let value = read(&app, &req, |ctx| users::list(ctx, &req.query)).await?;
    Ok(json(StatusCode::OK, project_list(value, req.query.get("fields"))))
}

/// Lists users matching the body's filter.
#[utoipa::path(post, path = "/users/actions/filter", tag = "users", params(crate::openapi::ListParams, crate::openapi::FieldsParam), request_body = crate::body::FilterBody, responses((status = 200, description = "A page of users", body = ListDto<UserDto>)), security(("bearer" = [])))]
async fn users_filter<H: ApiHost>(State(app): State<Shared<H>>, mut req: Req, Body(body): Body) -> Reply {
    let body: FilterBody = decode(Service::Users, &body)?;
    if let Some(filter) = body.filter {
        req.query.pairs.retain(|(k, _)| k != "filter");
        req.query.pairs.push(("filter".to_owned(), filter));
    }
    let value = read(&app, &req, |ctx| users::list(ctx, &req.query)).await?;
    Ok(json(StatusCode::OK, project_list(value, req.query.get("fields"))))
}

/// Creates a user (`user:manage`).
#[utoipa::path(post, path = "/users", tag = "users", request_body = crate::users::UserCreate, responses((status = 201, description = "The user", body = UserDto), (status = 403, description = "Needs user:manage"), (status = 409, description = "The subject exists")), security(("bearer" = [])))]
async fn users_create<H: ApiHost>(State(app): State<Shared<H>>, req: Req, Body(body): Body) -> Reply {
    let body: users::UserCreate = decode(Service::Users, &body)?;
    let user = write(&app, &req, |ctx| users::create(ctx, &body)).await?;
    Ok(json(StatusCode::CREATED, to_json(user)?))
}

/// Invites users by e-mail (`user:manage`): 207 with one result per invitee.
#[utoipa::path(post, path = "/users/actions/invite", tag = "users", request_body = crate::users::InviteRequest, responses((status = 207, description = "One result per invitee: `ok`, `exists` or `error`", body = crate::users::InviteResults), (status = 400, description = "No invitees, or too many"), (status = 403, description = "Needs user:manage")), security(("bearer" = [])))]
async fn users_invite<H: ApiHost>(State(app): State<Shared<H>>, req: Req, Body(body): Body) -> Reply {
    let body: users::InviteRequest = decode(Service::Users, &body)?;
    let count = body.invitees.as_ref().map_or(0, Vec::len).min(users::MAX_INVITEES);
    let mut random = vec![[0u8; 16]; count];
    for bytes in &mut random {
        getrandom::fill(bytes).map_err(|_| Failure::from(ApiError::internal()))?;
    }
    let results = write(&app, &req, |ctx| users::invite(ctx, &body, &random)).await?;
    Ok(json(StatusCode::MULTI_STATUS, to_json(results)?))
}

/// The caller.
#[utoipa::path(get, path = "/users/me", tag = "users", params(crate::openapi::FieldsParam), responses((status = 200, description = "The caller", body = UserDto)), security(("bearer" = [])))]
async fn users_me<H: ApiHost>(State(app): State<Shared<H>>, req: Req) -> Reply {
    let value = read(&app, &req, users::me).await?;
    Ok(json(StatusCode::OK, project_fields(value, req.query.get("fields"))))
}

/// Counts users.
#[utoipa::path(get, path = "/users/actions/count", tag = "users", responses((status = 200, description = "The count", body = crate::openapi::UserCount)), security(("bearer" = [])))]
async fn users_count<H: ApiHost>(State(app): State<Shared<H>>, req: Req) -> Reply {
    Ok(json(StatusCode::OK, read(&app, &req, users::count).await?))
}

/// One user.
#[utoipa::path(get, path = "/users/{id}", tag = "users", params(("id" = String, Path, description = "API id"), crate::openapi::FieldsParam), responses((status = 200, description = "The user", body = UserDto), (status = 404, description = "No such user in the caller's tenant")), security(("bearer" = [])))]
async fn users_get<H: ApiHost>(State(app): State<Shared<H>>, Ids(id): Ids<String>, req: Req) -> Reply {
    let value = read(&app, &req, |ctx| users::get(ctx, &id)).await?;
    Ok(json(StatusCode::OK, project_fields(value, req.query.get("fields"))))
}

/// Changes a user: `name`, `status`, `assignedRoles` (`roles`), `assignedGroups`, `inviteExpiry`, `locale`, `preferredLocale`, `preferredZoneinfo`, `picture`; each operation on its own, as Qlik does: 204 when all apply, 207 naming each that did not (the others applied).
#[utoipa::path(patch, path = "/users/{id}", tag = "users", params(("id" = String, Path, description = "API id")), request_body = Vec<crate::patch::PatchOperation>, responses((status = 204, description = "Changed"), (status = 207, description = "Some operations applied; each other one is an error pointing at it (`source.pointer`: `/<index>`)", body = crate::err::ErrorEnvelope), (status = 400, description = "No operation applies"), (status = 403, description = "Needs user:manage"), (status = 404, description = "No such user in the caller's tenant"), (status = 409, description = "The change collides with the tenant")), security(("bearer" = [])))]
async fn users_patch<H: ApiHost>(State(app): State<Shared<H>>, Ids(id): Ids<String>, req: Req, Body(body): Body) -> Reply {
    let ops = parse_patch(Service::Users, &body)?;
    match write(&app, &req, |ctx| users::patch(ctx, &id, &ops)).await? {
        users::PatchOutcome::Done => Ok(StatusCode::NO_CONTENT.into_response()),
        users::PatchOutcome::Partial(failed) => Ok(json(StatusCode::MULTI_STATUS, to_json(ApiError::multi_status(&failed))?)),
    }
}

/// Deletes a user, revoking its credentials.
#[utoipa::path(delete, path = "/users/{id}", tag = "users", params(("id" = String, Path, description = "API id")), responses((status = 204, description = "Deleted"), (status = 403, description = "Needs user:manage"), (status = 404, description = "No such user in the caller's tenant"), (status = 409, description = "The user cannot be deleted")), security(("bearer" = [])))]
async fn users_delete<H: ApiHost>(State(app): State<Shared<H>>, Ids(id): Ids<String>, req: Req) -> Reply {
    write(&app, &req, |ctx| users::delete(ctx, &id)).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

// ---- groups --------------------------------------------------------------------------------

/// Lists groups.
#[utoipa::path(get, path = "/groups", tag = "groups", params(crate::openapi::ListParams, crate::openapi::GroupListParams), responses((status = 200, description = "A page of groups", body = ListDto<GroupDto>)), security(("bearer" = [])))]
async fn groups_list<H: ApiHost>(State(app): State<Shared<H>>, req: Req) -> Reply {
    Ok(json(StatusCode::OK, read(&app, &req, |ctx| groups::list(ctx, &req.query)).await?))
}

/// Lists groups matching the body's filter.
#[utoipa::path(post, path = "/groups/actions/filter", tag = "groups", params(crate::openapi::ListParams, crate::openapi::GroupListParams), request_body = crate::body::FilterBody, responses((status = 200, description = "A page of groups", body = ListDto<GroupDto>)), security(("bearer" = [])))]
async fn groups_filter<H: ApiHost>(State(app): State<Shared<H>>, mut req: Req, Body(body): Body) -> Reply {
    let body: FilterBody = decode(Service::Groups, &body)?;
    if let Some(filter) = body.filter {
        req.query.pairs.retain(|(k, _)| k != "filter");
        req.query.pairs.push(("filter".to_owned(), filter));
    }
    Ok(json(StatusCode::OK, read(&app, &req, |ctx| groups::list(ctx, &req.query)).await?))
}

/// Creates a group (`group:manage`).
#[utoipa::path(post, path = "/groups", tag = "groups", request_body = crate::groups::GroupCreate, responses((status = 201, description = "The group", body = GroupDto), (status = 403, description = "Needs group:manage"), (status = 409, description = "The name is taken")), security(("bearer" = [])))]
async fn groups_create<H: ApiHost>(State(app): State<Shared<H>>, req: Req, Body(body): Body) -> Reply {
    let body: groups::GroupCreate = decode(Service::Groups, &body)?;
    let new_id = random_api_id()?;
    let group = write(&app, &req, |ctx| groups::create(ctx, &body, &new_id)).await?;
    Ok(json(StatusCode::CREATED, to_json(group)?))
}

/// One group (Everyone included).
#[utoipa::path(get, path = "/groups/{id}", tag = "groups", params(("id" = String, Path, description = "API id")), responses((status = 200, description = "The group", body = GroupDto), (status = 404, description = "No such group in the caller's tenant")), security(("bearer" = [])))]
async fn groups_get<H: ApiHost>(State(app): State<Shared<H>>, Ids(id): Ids<String>, req: Req) -> Reply {
    Ok(json(StatusCode::OK, read(&app, &req, |ctx| groups::get(ctx, &id)).await?))
}

/// Replaces a group's `assignedRoles`, or a custom group's `name` (its id stays) or `description`.
#[utoipa::path(patch, path = "/groups/{id}", tag = "groups", params(("id" = String, Path, description = "API id")), request_body = Vec<crate::patch::PatchOperation>, responses((status = 204, description = "Changed"), (status = 403, description = "Needs group:manage"), (status = 404, description = "No such group in the caller's tenant"), (status = 409, description = "The change collides with the tenant")), security(("bearer" = [])))]
async fn groups_patch<H: ApiHost>(State(app): State<Shared<H>>, Ids(id): Ids<String>, req: Req, Body(body): Body) -> Reply {
    let ops = parse_patch(Service::Groups, &body)?;
    write(&app, &req, |ctx| groups::patch(ctx, &id, &ops)).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// Deletes a custom group without members.
#[utoipa::path(delete, path = "/groups/{id}", tag = "groups", params(("id" = String, Path, description = "API id")), responses((status = 204, description = "Deleted"), (status = 403, description = "Needs group:manage"), (status = 404, description = "No such group in the caller's tenant"), (status = 409, description = "The group has members")), security(("bearer" = [])))]
async fn groups_delete<H: ApiHost>(State(app): State<Shared<H>>, Ids(id): Ids<String>, req: Req) -> Reply {
    write(&app, &req, |ctx| groups::delete(ctx, &id)).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// Group settings and the system group Everyone.
#[utoipa::path(get, path = "/groups/settings", tag = "groups", responses((status = 200, description = "The settings", body = GroupSettingsDto), (status = 403, description = "Needs group:manage")), security(("bearer" = [])))]
async fn group_settings<H: ApiHost>(State(app): State<Shared<H>>, req: Req) -> Reply {
    Ok(json(StatusCode::OK, read(&app, &req, groups::settings).await?))
}

/// Gives roles to Everyone: `replace /systemGroups/{id}/assignedRoles`.
#[utoipa::path(patch, path = "/groups/settings", tag = "groups", request_body = Vec<crate::patch::PatchOperation>, responses((status = 204, description = "Changed"), (status = 403, description = "Needs group:manage"), (status = 409, description = "The change collides with the tenant")), security(("bearer" = [])))]
async fn group_settings_patch<H: ApiHost>(State(app): State<Shared<H>>, req: Req, Body(body): Body) -> Reply {
    let ops = parse_patch(Service::Groups, &body)?;
    write(&app, &req, |ctx| groups::patch_settings(ctx, &ops)).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

// ---- roles ---------------------------------------------------------------------------------

/// Lists roles (`role:read`).
#[utoipa::path(get, path = "/roles", tag = "roles", params(crate::openapi::ListParams), responses((status = 200, description = "A page of roles", body = ListDto<RoleDto>), (status = 403, description = "Needs role:read")), security(("bearer" = [])))]
async fn roles_list<H: ApiHost>(State(app): State<Shared<H>>, req: Req) -> Reply {
    Ok(json(StatusCode::OK, read(&app, &req, |ctx| roles::list(ctx, &req.query)).await?))
}

/// Creates a custom role.
#[utoipa::path(post, path = "/roles", tag = "roles", request_body = crate::roles::RoleCreate, responses((status = 201, description = "The role", body = RoleDto), (status = 403, description = "Needs role:create, or the name is taken"), (status = 409, description = "The change collides with the tenant")), security(("bearer" = [])))]
async fn roles_create<H: ApiHost>(State(app): State<Shared<H>>, req: Req, Body(body): Body) -> Reply {
    let body: roles::RoleCreate = decode(Service::Roles, &body)?;
    let new_id = random_api_id()?;
    let role = write(&app, &req, |ctx| roles::create(ctx, &body, &new_id)).await?;
    Ok(json(StatusCode::CREATED, to_json(role)?))
}

/// One role.
#[utoipa::path(get, path = "/roles/{id}", tag = "roles", params(("id" = String, Path, description = "API id")), responses((status = 200, description = "The role", body = RoleDto), (status = 403, description = "Needs role:read"), (status = 404, description = "No such role in the caller's tenant")), security(("bearer" = [])))]
async fn roles_get<H: ApiHost>(State(app): State<Shared<H>>, Ids(id): Ids<String>, req: Req) -> Reply {
    Ok(json(StatusCode::OK, read(&app, &req, |ctx| roles::get(ctx, &id)).await?))
}

/// Changes a custom role's scopes, description or name (its id stays), or UserDefault's scopes.
#[utoipa::path(patch, path = "/roles/{id}", tag = "roles", params(("id" = String, Path, description = "API id")), request_body = Vec<crate::patch::PatchOperation>, responses((status = 204, description = "Changed"), (status = 403, description = "Needs role:create; default roles cannot be changed"), (status = 404, description = "No such role in the caller's tenant"), (status = 409, description = "The change collides with the tenant")), security(("bearer" = [])))]
async fn roles_patch<H: ApiHost>(State(app): State<Shared<H>>, Ids(id): Ids<String>, req: Req, Body(body): Body) -> Reply {
    let ops = parse_patch(Service::Roles, &body)?;
    write(&app, &req, |ctx| roles::patch(ctx, &id, &ops)).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// Deletes a custom role that nobody holds.
#[utoipa::path(delete, path = "/roles/{id}", tag = "roles", params(("id" = String, Path, description = "API id")), responses((status = 204, description = "Deleted"), (status = 403, description = "A default role, a role in use, or no role:create"), (status = 404, description = "No such role in the caller's tenant"), (status = 409, description = "The change collides with the tenant")), security(("bearer" = [])))]
async fn roles_delete<H: ApiHost>(State(app): State<Shared<H>>, Ids(id): Ids<String>, req: Req) -> Reply {
    write(&app, &req, |ctx| roles::delete(ctx, &id)).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

// ---- spaces --------------------------------------------------------------------------------

/// Lists the spaces the caller can see.
#[utoipa::path(get, path = "/spaces", tag = "spaces", params(crate::openapi::SpaceListParams), responses((status = 200, description = "A page of spaces", body = SpacesDto)), security(("bearer" = [])))]
async fn spaces_list<H: ApiHost>(State(app): State<Shared<H>>, req: Req) -> Reply {
    Ok(json(StatusCode::OK, read(&app, &req, |ctx| spaces::list(ctx, &req.query)).await?))
}

// ---- items ---------------------------------------------------------------------------------

/// The apps the caller may open, as items.
#[utoipa::path(get, path = "/items", tag = "items", params(crate::openapi::ItemListParams), responses((status = 200, description = "A page of items", body = crate::items::ItemsDto)), security(("bearer" = [])))]
async fn items_list<H: ApiHost>(State(app): State<Shared<H>>, req: Req) -> Reply {
    Ok(json(StatusCode::OK, read(&app, &req, |ctx| crate::items::list(ctx, &req.query)).await?))
}

/// One item (404 when the caller may not read its app).
#[utoipa::path(get, path = "/items/{id}", tag = "items", params(("id" = String, Path, description = "Item id")), responses((status = 200, description = "The item", body = crate::items::ItemDto), (status = 404, description = "No such item the caller may read")), security(("bearer" = [])))]
async fn items_get<H: ApiHost>(State(app): State<Shared<H>>, Ids(id): Ids<String>, req: Req) -> Reply {
    Ok(json(StatusCode::OK, read(&app, &req, |ctx| crate::items::get(ctx, &id)).await?))
}

/// Gives an app another owner (an admin handing on what a deleted user left).
#[utoipa::path(put, path = "/apps/{appId}/owner", tag = "apps", params(("appId" = String, Path, description = "App id")), request_body = crate::apps::UpdateOwner, responses((status = 200, description = "The app", body = crate::apps::NxApp), (status = 400, description = "No such new owner"), (status = 403, description = "Needs app:change_owner, or user:manage for an app without an owner"), (status = 404, description = "No such app the caller may read")), security(("bearer" = [])))]
async fn apps_owner<H: ApiHost>(State(app): State<Shared<H>>, Ids(id): Ids<String>, req: Req, Body(body): Body) -> Reply {
    let body: crate::apps::UpdateOwner = decode(Service::Apps, &body)?;
    let nx_app = write(&app, &req, |ctx| crate::apps::change_owner(ctx, &id, &body)).await?;
    Ok(json(StatusCode::OK, to_json(nx_app)?))
}

/// Gives data connections other owners (admins; Qlik's bulk update, of which Portcullis changes `ownerId` only).
#[utoipa::path(post, path = "/data-connections/actions/update", tag = "data-connections", request_body = crate::data_connections::ActionUpdateRequest, responses((status = 207, description = "The outcome per connection", body = crate::data_connections::BulkResponse), (status = 400, description = "No connections in the body"), (status = 403, description = "Needs user:manage (an admin)")), security(("bearer" = [])))]
async fn data_connections_update<H: ApiHost>(State(app): State<Shared<H>>, req: Req, Body(body): Body) -> Reply {
    let body: crate::data_connections::ActionUpdateRequest = decode(Service::DataConnections, &body)?;
    let outcome = write(&app, &req, |ctx| crate::data_connections::update(ctx, &body)).await?;
    Ok(json(StatusCode::MULTI_STATUS, to_json(outcome)?))
}

/// The space types.
#[utoipa::path(get, path = "/spaces/types", tag = "spaces", responses((status = 200, description = "The types", body = crate::openapi::SpaceTypes)), security(("bearer" = [])))]
async fn spaces_types<H: ApiHost>(State(app): State<Shared<H>>, req: Req) -> Reply {
    Ok(json(
        StatusCode::OK,
        read(&app, &req, |ctx| ctx.caller_idx().map(|_| spaces::types())).await?,
    ))
}

/// Creates a space owned by the caller.
#[utoipa::path(post, path = "/spaces", tag = "spaces", request_body = crate::spaces::SpaceCreate, responses((status = 201, description = "The space", body = SpaceDto), (status = 403, description = "The caller may not create this type of space"), (status = 409, description = "The name is taken")), security(("bearer" = [])))]
async fn spaces_create<H: ApiHost>(State(app): State<Shared<H>>, req: Req, Body(body): Body) -> Reply {
    let body: spaces::SpaceCreate = decode(Service::Spaces, &body)?;
    let space = write(&app, &req, |ctx| spaces::create(ctx, &body)).await?;
    Ok(json(StatusCode::CREATED, to_json(space)?))
}

/// One space.
#[utoipa::path(get, path = "/spaces/{id}", tag = "spaces", params(("id" = String, Path, description = "API id")), responses((status = 200, description = "The space", body = SpaceDto), (status = 403, description = "The caller may not read this space"), (status = 404, description = "No such space in the caller's tenant")), security(("bearer" = [])))]
async fn spaces_get<H: ApiHost>(State(app): State<Shared<H>>, Ids(id): Ids<String>, req: Req) -> Reply {
    Ok(json(StatusCode::OK, read(&app, &req, |ctx| spaces::get(ctx, &id)).await?))
}

/// Replaces `/name`, `/description` or `/ownerId`.
#[utoipa::path(patch, path = "/spaces/{id}", tag = "spaces", params(("id" = String, Path, description = "API id")), request_body = Vec<crate::patch::PatchOperation>, responses((status = 200, description = "The space", body = SpaceDto), (status = 403, description = "Needs space:update or space:change_owner"), (status = 404, description = "No such space in the caller's tenant"), (status = 409, description = "The name is taken")), security(("bearer" = [])))]
async fn spaces_patch<H: ApiHost>(State(app): State<Shared<H>>, Ids(id): Ids<String>, req: Req, Body(body): Body) -> Reply {
    let ops = parse_patch(Service::Spaces, &body)?;
    let space = write(&app, &req, |ctx| spaces::patch(ctx, &id, &ops)).await?;
    Ok(json(StatusCode::OK, to_json(space)?))
}

/// Renames a space, changes its description or gives it to another owner.
#[utoipa::path(put, path = "/spaces/{id}", tag = "spaces", params(("id" = String, Path, description = "API id")), request_body = crate::spaces::SpaceUpdate, responses((status = 200, description = "The space", body = SpaceDto), (status = 403, description = "Needs space:update or space:change_owner"), (status = 404, description = "No such space in the caller's tenant"), (status = 409, description = "The name is taken")), security(("bearer" = [])))]
async fn spaces_put<H: ApiHost>(State(app): State<Shared<H>>, Ids(id): Ids<String>, req: Req, Body(body): Body) -> Reply {
    let body: spaces::SpaceUpdate = decode(Service::Spaces, &body)?;
    let space = write(&app, &req, |ctx| spaces::put(ctx, &id, &body)).await?;
    Ok(json(StatusCode::OK, to_json(space)?))
}

/// Deletes an empty space.
#[utoipa::path(delete, path = "/spaces/{id}", tag = "spaces", params(("id" = String, Path, description = "API id")), responses((status = 204, description = "Deleted"), (status = 403, description = "Needs space:delete"), (status = 404, description = "No such space in the caller's tenant"), (status = 409, description = "The change collides with the tenant"), (status = 412, description = "Content remains in the space")), security(("bearer" = [])))]
async fn spaces_delete<H: ApiHost>(State(app): State<Shared<H>>, Ids(id): Ids<String>, req: Req) -> Reply {
    write(&app, &req, |ctx| spaces::delete(ctx, &id)).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// A space's members (the owner is not listed).
#[utoipa::path(get, path = "/spaces/{id}/assignments", tag = "spaces", params(("id" = String, Path, description = "API id"), crate::openapi::AssignmentListParams), responses((status = 200, description = "A page of assignments", body = MemberListDto<AssignmentDto>), (status = 403, description = "The caller may not read this space"), (status = 404, description = "No such space in the caller's tenant")), security(("bearer" = [])))]
async fn assignments_list<H: ApiHost>(State(app): State<Shared<H>>, Ids(id): Ids<String>, req: Req) -> Reply {
    Ok(json(
        StatusCode::OK,
        read(&app, &req, |ctx| spaces::list_assignments(ctx, &id, &req.query)).await?,
    ))
}

/// Adds a member.
#[utoipa::path(post, path = "/spaces/{id}/assignments", tag = "spaces", params(("id" = String, Path, description = "API id")), request_body = crate::spaces::AssignmentCreate, responses((status = 201, description = "The assignment", body = AssignmentDto), (status = 403, description = "Needs space:manage_members"), (status = 404, description = "No such space in the caller's tenant"), (status = 409, description = "The assignee is a member already")), security(("bearer" = [])))]
async fn assignments_create<H: ApiHost>(State(app): State<Shared<H>>, Ids(id): Ids<String>, req: Req, Body(body): Body) -> Reply {
    let body: spaces::AssignmentCreate = decode(Service::Spaces, &body)?;
    let assignment = write(&app, &req, |ctx| spaces::create_assignment(ctx, &id, &body)).await?;
    Ok(json(StatusCode::CREATED, to_json(assignment)?))
}

/// One member.
#[utoipa::path(get, path = "/spaces/{id}/assignments/{assignment}", tag = "spaces", params(("id" = String, Path, description = "API id"), ("assignment" = String, Path, description = "API id")), responses((status = 200, description = "The assignment", body = AssignmentDto), (status = 403, description = "The caller may not read this space"), (status = 404, description = "No such space or assignment in the caller's tenant")), security(("bearer" = [])))]
async fn assignments_get<H: ApiHost>(State(app): State<Shared<H>>, Ids((id, assignment)): Ids<(String, String)>, req: Req) -> Reply {
    Ok(json(
        StatusCode::OK,
        read(&app, &req, |ctx| spaces::get_assignment(ctx, &id, &assignment)).await?,
    ))
}

/// Replaces a member's roles.
#[utoipa::path(put, path = "/spaces/{id}/assignments/{assignment}", tag = "spaces", params(("id" = String, Path, description = "API id"), ("assignment" = String, Path, description = "API id")), request_body = crate::spaces::AssignmentUpdate, responses((status = 200, description = "The assignment", body = AssignmentDto), (status = 403, description = "Needs space:manage_members"), (status = 404, description = "No such space or assignment in the caller's tenant"), (status = 409, description = "The change collides with the tenant")), security(("bearer" = [])))]
async fn assignments_put<H: ApiHost>(
    State(app): State<Shared<H>>,
    Ids((id, assignment)): Ids<(String, String)>,
    req: Req,
    Body(body): Body,
) -> Reply {
    let body: spaces::AssignmentUpdate = decode(Service::Spaces, &body)?;
    let updated = write(&app, &req, |ctx| spaces::update_assignment(ctx, &id, &assignment, &body)).await?;
    Ok(json(StatusCode::OK, to_json(updated)?))
}

/// Removes a member.
#[utoipa::path(delete, path = "/spaces/{id}/assignments/{assignment}", tag = "spaces", params(("id" = String, Path, description = "API id"), ("assignment" = String, Path, description = "API id")), responses((status = 204, description = "Removed"), (status = 403, description = "Needs space:manage_members"), (status = 404, description = "No such space or assignment in the caller's tenant"), (status = 409, description = "The change collides with the tenant")), security(("bearer" = [])))]
async fn assignments_delete<H: ApiHost>(State(app): State<Shared<H>>, Ids((id, assignment)): Ids<(String, String)>, req: Req) -> Reply {
    write(&app, &req, |ctx| spaces::delete_assignment(ctx, &id, &assignment)).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// Shares of the space's apps.
#[utoipa::path(get, path = "/spaces/{id}/shares", tag = "spaces", params(("id" = String, Path, description = "API id"), crate::openapi::ShareListParams), responses((status = 200, description = "A page of shares", body = MemberListDto<ShareDto>), (status = 403, description = "The caller may not read this space"), (status = 404, description = "No such space in the caller's tenant")), security(("bearer" = [])))]
async fn shares_list<H: ApiHost>(State(app): State<Shared<H>>, Ids(id): Ids<String>, req: Req) -> Reply {
    Ok(json(
        StatusCode::OK,
        read(&app, &req, |ctx| spaces::list_shares(ctx, &id, &req.query)).await?,
    ))
}

/// Shares an app.
#[utoipa::path(post, path = "/spaces/{id}/shares", tag = "spaces", params(("id" = String, Path, description = "API id")), request_body = crate::spaces::ShareCreate, responses((status = 201, description = "The share", body = ShareDto), (status = 403, description = "Needs app:share"), (status = 404, description = "No such space or app in the caller's tenant"), (status = 409, description = "The assignee has a share already")), security(("bearer" = [])))]
async fn shares_create<H: ApiHost>(State(app): State<Shared<H>>, Ids(id): Ids<String>, req: Req, Body(body): Body) -> Reply {
    let body: spaces::ShareCreate = decode(Service::Spaces, &body)?;
    let share = write(&app, &req, |ctx| spaces::create_share(ctx, &id, &body)).await?;
    Ok(json(StatusCode::CREATED, to_json(share)?))
}

/// One share.
#[utoipa::path(get, path = "/spaces/{id}/shares/{share}", tag = "spaces", params(("id" = String, Path, description = "API id"), ("share" = String, Path, description = "API id")), responses((status = 200, description = "The share", body = ShareDto), (status = 403, description = "The caller may not read this space"), (status = 404, description = "No such space or share in the caller's tenant")), security(("bearer" = [])))]
async fn shares_get<H: ApiHost>(State(app): State<Shared<H>>, Ids((id, share)): Ids<(String, String)>, req: Req) -> Reply {
    Ok(json(StatusCode::OK, read(&app, &req, |ctx| spaces::get_share(ctx, &id, &share)).await?))
}

/// Replaces a share's `/roles`.
#[utoipa::path(patch, path = "/spaces/{id}/shares/{share}", tag = "spaces", params(("id" = String, Path, description = "API id"), ("share" = String, Path, description = "API id")), request_body = Vec<crate::patch::PatchOperation>, responses((status = 200, description = "The share", body = ShareDto), (status = 403, description = "Needs app:share"), (status = 404, description = "No such space or share in the caller's tenant"), (status = 409, description = "The change collides with the tenant")), security(("bearer" = [])))]
async fn shares_patch<H: ApiHost>(State(app): State<Shared<H>>, Ids((id, share)): Ids<(String, String)>, req: Req, Body(body): Body) -> Reply {
    let ops = parse_patch(Service::Spaces, &body)?;
    let updated = write(&app, &req, |ctx| spaces::patch_share(ctx, &id, &share, &ops)).await?;
    Ok(json(StatusCode::OK, to_json(updated)?))
}

/// Removes a share.
#[utoipa::path(delete, path = "/spaces/{id}/shares/{share}", tag = "spaces", params(("id" = String, Path, description = "API id"), ("share" = String, Path, description = "API id")), responses((status = 204, description = "Removed"), (status = 403, description = "Needs app:share"), (status = 404, description = "No such space or share in the caller's tenant"), (status = 409, description = "The change collides with the tenant")), security(("bearer" = [])))]
async fn shares_delete<H: ApiHost>(State(app): State<Shared<H>>, Ids((id, share)): Ids<(String, String)>, req: Req) -> Reply {
    write(&app, &req, |ctx| spaces::delete_share(ctx, &id, &share)).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

// ---- OAuth clients -------------------------------------------------------------------------

/// Lists OAuth clients.
#[utoipa::path(get, path = "/oauth-clients", tag = "oauth-clients", params(crate::openapi::ListParams), responses((status = 200, description = "A page of clients", body = ListDto<OauthClientDto>), (status = 403, description = "Needs oauth-client:manage")), security(("bearer" = [])))]
async fn clients_list<H: ApiHost>(State(app): State<Shared<H>>, req: Req) -> Reply {
    Ok(json(StatusCode::OK, read(&app, &req, |ctx| oauth_clients::list(ctx, &req.query)).await?))
}

/// Creates an OAuth client and its first secret.
#[utoipa::path(post, path = "/oauth-clients", tag = "oauth-clients", request_body = crate::oauth_clients::OauthClientCreate, responses((status = 201, description = "The client, with `clientSecret` shown once", body = OauthClientDto), (status = 403, description = "Needs oauth-client:manage"), (status = 409, description = "The change collides with the tenant")), security(("bearer" = [])))]
async fn clients_create<H: ApiHost>(State(app): State<Shared<H>>, req: Req, Body(body): Body) -> Reply {
    let body: oauth_clients::OauthClientCreate = decode(Service::OauthClients, &body)?;
    let mut random = [0u8; 16];
    getrandom::fill(&mut random).map_err(|_| Failure::from(ApiError::internal()))?;
    let id = oauth_clients::new_client_id(random);
    let mut client = write(&app, &req, |ctx| oauth_clients::create(ctx, &body, &id)).await?;
    // Only a confidential (`web`) client holds a secret; public clients have none, as in Qlik.
    if client.app_type == "web" {
        let secret = app
            .host
            .create_client_secret(&req.caller.tenant, &client.client_id, &req.caller.user_id)
            .await
            .map_err(|e| Failure::from(host_error(e)))?;
        client.client_secret = Some(secret.secret);
    }
    Ok(json(StatusCode::CREATED, to_json(client)?))
}

/// One OAuth client, with the hints of its secrets (`clientSecrets`).
#[utoipa::path(get, path = "/oauth-clients/{id}", tag = "oauth-clients", params(("id" = String, Path, description = "API id")), responses((status = 200, description = "The client", body = OauthClientDto), (status = 403, description = "Needs oauth-client:manage"), (status = 404, description = "No such client in the caller's tenant")), security(("bearer" = [])))]
async fn clients_get<H: ApiHost>(State(app): State<Shared<H>>, Ids(id): Ids<String>, req: Req) -> Reply {
    // Checked before the host is asked, so a caller who may not manage clients learns nothing.
    read(&app, &req, |ctx| oauth_clients::get(ctx, &id)).await?;
    let secrets = app
        .host
        .client_secrets(&req.caller.tenant, &id)
        .await
        .map_err(|e| Failure::from(host_error(e)))?;
    Ok(json(
        StatusCode::OK,
        read(&app, &req, |ctx| oauth_clients::get_with_secrets(ctx, &id, &secrets)).await?,
    ))
}

/// Changes Qlik's paths: `/clientName`, `/description`, `/clientUri`, `/logoUri`, `/redirectUris`, `/allowedOrigins`, `/allowedScopes`, `/allowedGrantTypes`.
#[utoipa::path(patch, path = "/oauth-clients/{id}", tag = "oauth-clients", params(("id" = String, Path, description = "API id")), request_body = Vec<crate::patch::PatchOperation>, responses((status = 204, description = "Changed"), (status = 403, description = "Needs oauth-client:manage"), (status = 404, description = "No such client in the caller's tenant"), (status = 409, description = "The change collides with the tenant")), security(("bearer" = [])))]
async fn clients_patch<H: ApiHost>(State(app): State<Shared<H>>, Ids(id): Ids<String>, req: Req, Body(body): Body) -> Reply {
    let ops = parse_patch(Service::OauthClients, &body)?;
    write(&app, &req, |ctx| oauth_clients::patch(ctx, &id, &ops)).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// Deletes an OAuth client, its secrets and tokens.
#[utoipa::path(delete, path = "/oauth-clients/{id}", tag = "oauth-clients", params(("id" = String, Path, description = "API id")), responses((status = 204, description = "Deleted"), (status = 403, description = "Needs oauth-client:manage"), (status = 404, description = "No such client in the caller's tenant"), (status = 409, description = "The change collides with the tenant")), security(("bearer" = [])))]
async fn clients_delete<H: ApiHost>(State(app): State<Shared<H>>, Ids(id): Ids<String>, req: Req) -> Reply {
    write(&app, &req, |ctx| oauth_clients::delete(ctx, &id)).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// A new secret for a client (`web` clients; at most five at a time).
#[utoipa::path(post, path = "/oauth-clients/{id}/client-secrets", tag = "oauth-clients", params(("id" = String, Path, description = "API id")), responses((status = 201, description = "The secret, shown once, and its hint", body = oauth_clients::ClientSecretCreated), (status = 400, description = "A public client holds no secrets"), (status = 403, description = "Needs oauth-client:manage"), (status = 404, description = "No such client in the caller's tenant"), (status = 409, description = "The client holds five secrets already")), security(("bearer" = [])))]
async fn clients_new_secret<H: ApiHost>(State(app): State<Shared<H>>, Ids(id): Ids<String>, req: Req) -> Reply {
    read(&app, &req, |ctx| oauth_clients::check_secrets(ctx, &id)).await?;
    let created = app
        .host
        .create_client_secret(&req.caller.tenant, &id, &req.caller.user_id)
        .await
        .map_err(|e| Failure::from(secret_error(e, &id)))?;
    Ok(json(StatusCode::CREATED, to_json(oauth_clients::secret_created(&id, &created))?))
}

/// Revokes one of a client's secrets, named by its hint; the token endpoint refuses it from then on.
#[utoipa::path(delete, path = "/oauth-clients/{id}/client-secrets/{hint}", tag = "oauth-clients", params(("id" = String, Path, description = "API id"), ("hint" = String, Path, description = "The secret's hint")), responses((status = 204, description = "Revoked"), (status = 400, description = "A public client holds no secrets"), (status = 403, description = "Needs oauth-client:manage"), (status = 404, description = "No such client, or no secret with this hint")), security(("bearer" = [])))]
async fn clients_delete_secret<H: ApiHost>(State(app): State<Shared<H>>, Ids((id, hint)): Ids<(String, String)>, req: Req) -> Reply {
    read(&app, &req, |ctx| oauth_clients::check_secrets(ctx, &id)).await?;
    app.host
        .delete_client_secret(&req.caller, &id, &hint)
        .await
        .map_err(|e| Failure::from(secret_error(e, &id)))?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// A host failure about a client's secrets, answered in the OAuth clients' codes.
fn secret_error(error: HostError, client_id: &str) -> ApiError {
    match error {
        HostError::NotFound(_) => ApiError::not_found(
            Service::OauthClients,
            format!("OAuth client `{client_id}` holds no secret with that hint"),
        ),
        HostError::Full(message) => ApiError::conflict(Service::OauthClients, message),
        other => host_error(other),
    }
}

/// Publishes a client (records when; 201 `{publishedAt}`).
#[utoipa::path(post, path = "/oauth-clients/{id}/actions/publish", tag = "oauth-clients", params(("id" = String, Path, description = "API id")), responses((status = 201, description = "`{publishedAt}`"), (status = 403, description = "Needs oauth-client:manage"), (status = 404, description = "No such client in the caller's tenant")), security(("bearer" = [])))]
async fn clients_publish<H: ApiHost>(State(app): State<Shared<H>>, Ids(id): Ids<String>, req: Req) -> Reply {
    let published = write(&app, &req, |ctx| oauth_clients::publish(ctx, &id)).await?;
    Ok(json(StatusCode::CREATED, published))
}

/// The caller's tenant's consent method for a client.
#[utoipa::path(get, path = "/oauth-clients/{id}/connection-configs/me", tag = "oauth-clients", params(("id" = String, Path, description = "API id")), responses((status = 200, description = "The consent method", body = oauth_clients::ConnectionConfig), (status = 403, description = "Needs oauth-client:manage"), (status = 404, description = "No such client in the caller's tenant")), security(("bearer" = [])))]
async fn clients_connection_config<H: ApiHost>(State(app): State<Shared<H>>, Ids(id): Ids<String>, req: Req) -> Reply {
    Ok(json(
        StatusCode::OK,
        read(&app, &req, |ctx| oauth_clients::connection_config(ctx, &id)).await?,
    ))
}

/// Sets the consent method (`replace /consentMethod`, `required` or `trusted`).
#[utoipa::path(patch, path = "/oauth-clients/{id}/connection-configs/me", tag = "oauth-clients", params(("id" = String, Path, description = "API id")), request_body = Vec<crate::patch::PatchOperation>, responses((status = 204, description = "Changed"), (status = 400, description = "Not a consent method"), (status = 403, description = "Needs oauth-client:manage"), (status = 404, description = "No such client in the caller's tenant")), security(("bearer" = [])))]
async fn clients_connection_config_patch<H: ApiHost>(State(app): State<Shared<H>>, Ids(id): Ids<String>, req: Req, Body(body): Body) -> Reply {
    let ops = parse_patch(Service::OauthClients, &body)?;
    write(&app, &req, |ctx| oauth_clients::patch_connection_config(ctx, &id, &ops)).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// Puts the consent method back to the default (`required`).
#[utoipa::path(delete, path = "/oauth-clients/{id}/connection-configs/me", tag = "oauth-clients", params(("id" = String, Path, description = "API id")), responses((status = 204, description = "Reset"), (status = 403, description = "Needs oauth-client:manage"), (status = 404, description = "No such client in the caller's tenant")), security(("bearer" = [])))]
async fn clients_connection_config_delete<H: ApiHost>(State(app): State<Shared<H>>, Ids(id): Ids<String>, req: Req) -> Reply {
    write(&app, &req, |ctx| oauth_clients::delete_connection_config(ctx, &id)).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

// ---- API keys ------------------------------------------------------------------------------

// The live tenant is read under a read guard: a handler drops it before a store call (which
// may take milliseconds) and reads again after, so writes to the tenant never wait on the store.

/// Lists the caller's API keys (every key for user administrators).
#[utoipa::path(get, path = "/api-keys", tag = "api-keys", params(crate::openapi::ApiKeyListParams), responses((status = 200, description = "A page of keys", body = ApiKeyPage), (status = 403, description = "Needs api-key:create")), security(("bearer" = [])))]
async fn keys_list<H: ApiHost>(State(app): State<Shared<H>>, req: Req) -> Reply {
    let owner = {
        let state = load(&app, &req).await?;
        api_keys::list_owner(&req.ctx(&state))?
    };
    let keys = app
        .host
        .api_keys(&req.caller.tenant, owner.as_deref())
        .await
        .map_err(|e| Failure::from(host_error(e)))?;
    let state = load(&app, &req).await?;
    Ok(json(StatusCode::OK, to_json(api_keys::list(&req.ctx(&state), keys, &req.query)?)?))
}

/// Creates an API key; its token is shown once.
#[utoipa::path(post, path = "/api-keys", tag = "api-keys", request_body = crate::api_keys::ApiKeyCreate, responses((status = 201, description = "The key, with `token`", body = ApiKeyDto), (status = 403, description = "Needs api-key:create; another user's key needs user:manage")), security(("bearer" = [])))]
async fn keys_create<H: ApiHost>(State(app): State<Shared<H>>, req: Req, Body(body): Body) -> Reply {
    let body: api_keys::ApiKeyCreate = decode(Service::ApiKeys, &body)?;
    let settings = app
        .host
        .api_key_settings(&req.caller.tenant)
        .await
        .map_err(|e| Failure::from(host_error(e)))?;
    let new_key = {
        let state = load(&app, &req).await?;
        api_keys::plan_create(&req.ctx(&state), &body, &settings)?
    };
    let created = app
        .host
        .create_api_key(&req.caller, new_key)
        .await
        .map_err(|e| Failure::from(host_error(e)))?;
    let state = load(&app, &req).await?;
    Ok(json(
        StatusCode::CREATED,
        to_json(api_keys::key_dto(&req.ctx(&state), &created.key, Some(created.token)))?,
    ))
}

/// The key with `id`, if the caller may see it (fetched before the tenant is read).
async fn find_key<H: ApiHost>(app: &App<H>, req: &Req, id: &str) -> Result<crate::host::ApiKeyInfo, Failure> {
    let keys = app
        .host
        .api_keys(&req.caller.tenant, None)
        .await
        .map_err(|e| Failure::from(host_error(e)))?;
    let key = keys.into_iter().find(|k| k.id == id);
    let state = load(app, req).await?;
    api_keys::check_access(&req.ctx(&state), key.as_ref(), id)?;
    key.ok_or_else(|| Failure::from(ApiError::not_found(Service::ApiKeys, format!("no API key with id `{id}`"))))
}

/// One API key.
#[utoipa::path(get, path = "/api-keys/{id}", tag = "api-keys", params(("id" = String, Path, description = "API id")), responses((status = 200, description = "The key", body = ApiKeyDto), (status = 404, description = "No such key in the caller's tenant")), security(("bearer" = [])))]
async fn keys_get<H: ApiHost>(State(app): State<Shared<H>>, Ids(id): Ids<String>, req: Req) -> Reply {
    let key = find_key(&app, &req, &id).await?;
    let state = load(&app, &req).await?;
    Ok(json(StatusCode::OK, to_json(api_keys::key_dto(&req.ctx(&state), &key, None))?))
}

/// Changes a key's description: `replace /description` (the key's owner, or `user:manage`).
#[utoipa::path(patch, path = "/api-keys/{id}", tag = "api-keys", params(("id" = String, Path, description = "API id")), request_body = Vec<crate::patch::PatchOperation>, responses((status = 204, description = "Changed"), (status = 400, description = "A path other than `/description`"), (status = 404, description = "No such key the caller may see")), security(("bearer" = [])))]
async fn keys_patch<H: ApiHost>(State(app): State<Shared<H>>, Ids(id): Ids<String>, req: Req, Body(body): Body) -> Reply {
    let description = api_keys::patched_description(&parse_patch(Service::ApiKeys, &body)?)?;
    find_key(&app, &req, &id).await?;
    app.host
        .update_api_key(&req.caller, &id, &description)
        .await
        .map_err(|e| Failure::from(host_error(e)))?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// Retires an API key as Qlik does: its owner deletes it; an administrator (`user:manage`) revokes it, and it stays listed as `revoked`.
#[utoipa::path(delete, path = "/api-keys/{id}", tag = "api-keys", params(("id" = String, Path, description = "API id")), responses((status = 204, description = "Deleted (by its owner) or revoked (by an administrator)"), (status = 404, description = "No such key the caller may see")), security(("bearer" = [])))]
async fn keys_delete<H: ApiHost>(State(app): State<Shared<H>>, Ids(id): Ids<String>, req: Req) -> Reply {
    let key = find_key(&app, &req, &id).await?;
    let retirement = {
        let state = load(&app, &req).await?;
        api_keys::retirement(&req.ctx(&state), &key)
    };
    let retired = match retirement {
        api_keys::Retirement::Delete => app.host.delete_api_key(&req.caller, &id).await,
        api_keys::Retirement::Revoke => app.host.revoke_api_key(&req.caller, &id).await,
    };
    retired.map_err(|e| Failure::from(host_error(e)))?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// The tenant's API-key settings (`api_keys_enabled`, `max_api_key_expiry`, `max_keys_per_user`).
#[utoipa::path(get, path = "/api-keys/configs/{tenantId}", tag = "api-keys", params(("tenantId" = String, Path, description = "The tenant's API id")), responses((status = 200, description = "The settings", body = crate::api_keys::ApiKeysConfigDto), (status = 404, description = "Not the caller's tenant")), security(("bearer" = [])))]
async fn keys_config<H: ApiHost>(State(app): State<Shared<H>>, Ids(tenant_id): Ids<String>, req: Req) -> Reply {
    {
        let state = load(&app, &req).await?;
        api_keys::check_tenant(&req.ctx(&state), &tenant_id)?;
    }
    let settings = app
        .host
        .api_key_settings(&req.caller.tenant)
        .await
        .map_err(|e| Failure::from(host_error(e)))?;
    Ok(json(StatusCode::OK, to_json(api_keys::config_dto(&settings))?))
}

/// Changes the tenant's API-key settings (`tenant:manage`, TenantAdmin): `replace` of `/api_keys_enabled`, `/max_api_key_expiry`, `/max_keys_per_user`.
#[utoipa::path(patch, path = "/api-keys/configs/{tenantId}", tag = "api-keys", params(("tenantId" = String, Path, description = "The tenant's API id")), request_body = Vec<crate::patch::PatchOperation>, responses((status = 204, description = "Changed"), (status = 400, description = "A setting or value the tenant does not take"), (status = 403, description = "Needs tenant:manage (TenantAdmin)"), (status = 404, description = "Not the caller's tenant")), security(("bearer" = [])))]
async fn keys_config_patch<H: ApiHost>(State(app): State<Shared<H>>, Ids(tenant_id): Ids<String>, req: Req, Body(body): Body) -> Reply {
    let ops = parse_patch(Service::ApiKeys, &body)?;
    let host_failure = |e| Failure::from(host_error(e));
    let current = app.host.api_key_settings(&req.caller.tenant).await.map_err(host_failure)?;
    let settings = {
        let state = load(&app, &req).await?;
        api_keys::patch_config(&req.ctx(&state), &tenant_id, &ops, current)?
    };
    app.host.set_api_key_settings(&req.caller, &settings).await.map_err(host_failure)?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

// ---- tenants -------------------------------------------------------------------------------

/// The caller's tenant.
#[utoipa::path(get, path = "/tenants/me", tag = "tenants", responses((status = 200, description = "The tenant", body = crate::tenants::TenantDto)), security(("bearer" = [])))]
async fn tenants_me<H: ApiHost>(State(app): State<Shared<H>>, req: Req) -> Reply {
    Ok(json(StatusCode::OK, read(&app, &req, tenants::me).await?))
}

/// The caller's tenant, by id.
#[utoipa::path(get, path = "/tenants/{id}", tag = "tenants", params(("id" = String, Path, description = "API id")), responses((status = 200, description = "The tenant", body = crate::tenants::TenantDto), (status = 404, description = "Not the caller's tenant")), security(("bearer" = [])))]
async fn tenants_get<H: ApiHost>(State(app): State<Shared<H>>, Ids(id): Ids<String>, req: Req) -> Reply {
    Ok(json(StatusCode::OK, read(&app, &req, |ctx| tenants::get(ctx, &id)).await?))
}

/// Replaces tenant booleans: the `autoAssign…ToProfessionals` toggles, `enableAnalyticCreation`, `enableAppOpeningFeedback` (`tenant:manage`, TenantAdmin).
#[utoipa::path(patch, path = "/tenants/{id}", tag = "tenants", params(("id" = String, Path, description = "API id")), request_body = Vec<crate::patch::PatchOperation>, responses((status = 204, description = "Changed"), (status = 400, description = "A path or value the tenant does not take"), (status = 403, description = "Needs tenant:manage (TenantAdmin)"), (status = 404, description = "Not the caller's tenant"), (status = 409, description = "The change collides with the tenant")), security(("bearer" = [])))]
async fn tenants_patch<H: ApiHost>(State(app): State<Shared<H>>, Ids(id): Ids<String>, req: Req, Body(body): Body) -> Reply {
    let ops = parse_patch(Service::Tenants, &body)?;
    write(&app, &req, |ctx| tenants::patch(ctx, &id, &ops)).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

// ---- audits --------------------------------------------------------------------------------

// The trail is the host's (its store); the tenant is read only to ask the engine whether the
// caller may, and let go of before the host is asked.

/// 403 unless the caller may take `action` in its tenant.
async fn require<H: ApiHost>(app: &App<H>, req: &Req, action: Action) -> Result<(), Failure> {
    let state = load(app, req).await?;
    req.ctx(&state).require(Service::Audits, action).map_err(Failure::from)
}

/// Audit events, newest first by default, in Qlik's audits shape.
#[utoipa::path(get, path = "/audits", tag = "audits", params(crate::openapi::AuditListParams), responses((status = 200, description = "A page of events", body = AuditPage), (status = 403, description = "Needs audit:read"), (status = 500, description = "The trail fails its integrity check")), security(("bearer" = [])))]
async fn audits_list<H: ApiHost>(State(app): State<Shared<H>>, req: Req) -> Reply {
    let listing = {
        let state = load(&app, &req).await?;
        let ctx = req.ctx(&state);
        ctx.require(Service::Audits, Action::AuditRead)?;
        audits::Listing::parse(&req.query, |id| ctx.ids.user(id).map(str::to_owned))?
    };
    let found = app
        .host
        .audit_events(&req.caller.tenant, listing.query())
        .await
        .map_err(|e| Failure::from(host_error(e)))?;
    Ok(json(StatusCode::OK, to_json(listing.page(&req.api_base, &req.caller.tenant, found))?))
}

/// One audit event.
#[utoipa::path(get, path = "/audits/{id}", tag = "audits", params(("id" = String, Path, description = "Event id")), responses((status = 200, description = "The event", body = AuditEventDto), (status = 403, description = "Needs audit:read"), (status = 404, description = "No such event"), (status = 500, description = "The event fails its integrity check")), security(("bearer" = [])))]
async fn audits_get<H: ApiHost>(State(app): State<Shared<H>>, Ids(id): Ids<String>, req: Req) -> Reply {
    require(&app, &req, Action::AuditRead).await?;
    let not_found = || Failure::from(ApiError::not_found(Service::Audits, format!("no audit event `{id}`")));
    let seq = audits::parse_id(&id).ok_or_else(not_found)?;
    let record = app
        .host
        .audit_event(&req.caller.tenant, seq)
        .await
        .map_err(|e| Failure::from(host_error(e)))?
        .ok_or_else(not_found)?;
    Ok(json(
        StatusCode::OK,
        to_json(audits::event_dto(&req.api_base, &req.caller.tenant, &record))?,
    ))
}

/// The events of one UTC day (`date=YYYY-MM-DD`), oldest first: the trail as this store still
/// holds it (what `portcullis audit archive` moved out lives in the operator's files).
#[utoipa::path(get, path = "/audits/archive", tag = "audits", params(crate::openapi::AuditArchiveParams), responses((status = 200, description = "The day's events", body = crate::audits::ArchiveDto), (status = 400, description = "`date` is missing or not a day, or the day holds too many events"), (status = 403, description = "Needs audit:read"), (status = 500, description = "The trail fails its integrity check")), security(("bearer" = [])))]
async fn audits_archive<H: ApiHost>(State(app): State<Shared<H>>, req: Req) -> Reply {
    require(&app, &req, Action::AuditRead).await?;
    let query = audits::archive_query(&req.query)?;
    let found = app
        .host
        .audit_events(&req.caller.tenant, &query)
        .await
        .map_err(|e| Failure::from(host_error(e)))?;
    Ok(json(
        StatusCode::OK,
        to_json(audits::archive(&req.api_base, &req.caller.tenant, &found)?)?,
    ))
}

/// Every event type.
#[utoipa::path(get, path = "/audits/types", tag = "audits", responses((status = 200, description = "Every event type", body = AuditNames), (status = 403, description = "Needs audit:read")), security(("bearer" = [])))]
async fn audits_types<H: ApiHost>(State(app): State<Shared<H>>, req: Req) -> Reply {
    require(&app, &req, Action::AuditRead).await?;
    Ok(json(StatusCode::OK, to_json(audits::types(&req.api_base))?))
}

/// Every event source.
#[utoipa::path(get, path = "/audits/sources", tag = "audits", responses((status = 200, description = "Every source", body = AuditNames), (status = 403, description = "Needs audit:read")), security(("bearer" = [])))]
async fn audits_sources<H: ApiHost>(State(app): State<Shared<H>>, req: Req) -> Reply {
    require(&app, &req, Action::AuditRead).await?;
    Ok(json(StatusCode::OK, to_json(audits::sources(&req.api_base))?))
}

/// The tenant's audit settings (decision-log mode, sampling, retention).
#[utoipa::path(get, path = "/audits/settings", tag = "audits", responses((status = 200, description = "The settings", body = AuditSettingsDto), (status = 403, description = "Needs audit:read")), security(("bearer" = [])))]
async fn audits_settings<H: ApiHost>(State(app): State<Shared<H>>, req: Req) -> Reply {
    require(&app, &req, Action::AuditRead).await?;
    let settings = app
        .host
        .audit_settings(&req.caller.tenant)
        .await
        .map_err(|e| Failure::from(host_error(e)))?;
    Ok(json(StatusCode::OK, to_json(audits::settings_dto(&settings))?))
}

/// Changes the audit settings (`audit:manage`, TenantAdmin): `{decisionLogMode: off|denies|all, samplePerMillion, retentionDays}`.
#[utoipa::path(put, path = "/audits/settings", tag = "audits", request_body = crate::audits::AuditSettingsChange, responses((status = 200, description = "The new settings", body = AuditSettingsDto), (status = 400, description = "Bad value"), (status = 403, description = "Needs audit:manage (TenantAdmin)")), security(("bearer" = [])))]
async fn audits_settings_put<H: ApiHost>(State(app): State<Shared<H>>, req: Req, Body(body): Body) -> Reply {
    require(&app, &req, Action::AuditManage).await?;
    let change: audits::AuditSettingsChange = decode(Service::Audits, &body)?;
    let host_failure = |e| Failure::from(host_error(e));
    let settings = change.apply(app.host.audit_settings(&req.caller.tenant).await.map_err(host_failure)?)?;
    app.host
        .set_audit_settings(&req.caller.tenant, &settings, &req.caller)
        .await
        .map_err(host_failure)?;
    Ok(json(StatusCode::OK, to_json(audits::settings_dto(&settings))?))
}

async fn method_not_allowed() -> Failure {
    ApiError::new(Service::Api, 405, "this endpoint does not take that method").into()
}

async fn not_found() -> Failure {
    ApiError::not_found(Service::Api, "no such endpoint in the management API").into()
}

/// The management API, to mount at [`ApiConfig::mount_path`] in a router of any state, with
/// the list of its routes (relative to the mount point).
pub fn routes<H: ApiHost, S: Clone + Send + Sync + 'static>(host: H, config: ApiConfig) -> RouteTable<S> {
    let limiter = RateLimiter::new(config.rate_limits);
    let app: Shared<H> = Arc::new(App {
        host,
        config,
        limiter,
        turns: Mutex::default(),
    });
    RouteTable::new()
        .add(__path_users_list, users_list::<H>)
        .add(__path_users_create, users_create::<H>)
        .add(__path_users_me, users_me::<H>)
        .add(__path_users_count, users_count::<H>)
        .add(__path_users_filter, users_filter::<H>)
        .add(__path_users_invite, users_invite::<H>)
        .add(__path_users_get, users_get::<H>)
        .add(__path_users_patch, users_patch::<H>)
        .add(__path_users_delete, users_delete::<H>)
        .add(__path_groups_list, groups_list::<H>)
        .add(__path_groups_create, groups_create::<H>)
        .add(__path_groups_filter, groups_filter::<H>)
        .add(__path_group_settings, group_settings::<H>)
        .add(__path_group_settings_patch, group_settings_patch::<H>)
        .add(__path_groups_get, groups_get::<H>)
        .add(__path_groups_patch, groups_patch::<H>)
        .add(__path_groups_delete, groups_delete::<H>)
        .add(__path_roles_list, roles_list::<H>)
        .add(__path_roles_create, roles_create::<H>)
        .add(__path_roles_get, roles_get::<H>)
        .add(__path_roles_patch, roles_patch::<H>)
        .add(__path_roles_delete, roles_delete::<H>)
        .add(__path_items_list, items_list::<H>)
        .add(__path_items_get, items_get::<H>)
        .add(__path_apps_owner, apps_owner::<H>)
        .add(__path_data_connections_update, data_connections_update::<H>)
        .add(__path_spaces_list, spaces_list::<H>)
        .add(__path_spaces_create, spaces_create::<H>)
        .add(__path_spaces_types, spaces_types::<H>)
        .add(__path_spaces_get, spaces_get::<H>)
        .add(__path_spaces_patch, spaces_patch::<H>)
        .add(__path_spaces_put, spaces_put::<H>)
        .add(__path_spaces_delete, spaces_delete::<H>)
        .add(__path_assignments_list, assignments_list::<H>)
        .add(__path_assignments_create, assignments_create::<H>)
        .add(__path_assignments_get, assignments_get::<H>)
        .add(__path_assignments_put, assignments_put::<H>)
        .add(__path_assignments_delete, assignments_delete::<H>)
        .add(__path_shares_list, shares_list::<H>)
        .add(__path_shares_create, shares_create::<H>)
        .add(__path_shares_get, shares_get::<H>)
        .add(__path_shares_patch, shares_patch::<H>)
        .add(__path_shares_delete, shares_delete::<H>)
        .add(__path_clients_list, clients_list::<H>)
        .add(__path_clients_create, clients_create::<H>)
        .add(__path_clients_get, clients_get::<H>)
        .add(__path_clients_patch, clients_patch::<H>)
        .add(__path_clients_delete, clients_delete::<H>)
        .add(__path_clients_new_secret, clients_new_secret::<H>)
        .add(__path_clients_delete_secret, clients_delete_secret::<H>)
        .add(__path_clients_publish, clients_publish::<H>)
        .add(__path_clients_connection_config, clients_connection_config::<H>)
        .add(__path_clients_connection_config_patch, clients_connection_config_patch::<H>)
        .add(__path_clients_connection_config_delete, clients_connection_config_delete::<H>)
        .add(__path_keys_list, keys_list::<H>)
        .add(__path_keys_create, keys_create::<H>)
        .add(__path_keys_get, keys_get::<H>)
        .add(__path_keys_patch, keys_patch::<H>)
        .add(__path_keys_delete, keys_delete::<H>)
        .add(__path_keys_config, keys_config::<H>)
        .add(__path_keys_config_patch, keys_config_patch::<H>)
        .add(__path_tenants_me, tenants_me::<H>)
        .add(__path_tenants_get, tenants_get::<H>)
        .add(__path_tenants_patch, tenants_patch::<H>)
        .add(__path_audits_list, audits_list::<H>)
        .add(__path_audits_archive, audits_archive::<H>)
        .add(__path_audits_types, audits_types::<H>)
        .add(__path_audits_sources, audits_sources::<H>)
        .add(__path_audits_settings, audits_settings::<H>)
        .add(__path_audits_settings_put, audits_settings_put::<H>)
        .add(__path_audits_get, audits_get::<H>)
        .map_router(|router| router.fallback(not_found).method_not_allowed_fallback(method_not_allowed))
        .with_state(app)
}

/// The probe's answer.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProductInfo {
    /// `{deploymentType: "QlikCloud"}`.
    #[schema(value_type = Object)]
    pub composition: Value,
}

/// The unauthenticated probe `@qlik/api` sends before every call.
#[utoipa::path(get, path = "/resources/autogenerated/product-info.json", tag = "qlik", responses((status = 200, description = "A cloud deployment", body = ProductInfo)))]
pub async fn product_info() -> axum::Json<ProductInfo> {
    axum::Json(ProductInfo {
        composition: serde_json::json!({ "deploymentType": "QlikCloud" }),
    })
}

/// `GET /resources/autogenerated/product-info.json`, without credentials: the probe
/// `@qlik/api` sends before every call. Answering a small JSON that names a cloud deployment
/// makes the client treat the host as Qlik Cloud (and cache the answer). Mount at the root.
pub fn product_info_routes<S: Clone + Send + Sync + 'static>() -> RouteTable<S> {
    RouteTable::new().add(__path_product_info, product_info)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_comes_from_the_environment() {
        let env = |name: &str| match name {
            ENV_PUBLIC_URL => Some("https://pc.example.com/".to_owned()),
            ENV_WRITES_PER_MINUTE => Some("5".to_owned()),
            _ => None,
        };
        let config = ApiConfig::from_lookup(env).unwrap();
        assert_eq!(config.public_base_url.as_deref(), Some("https://pc.example.com"));
        assert_eq!((config.rate_limits.tier1_per_minute, config.rate_limits.tier2_per_minute), (1000, 5));
        let bad = ApiConfig::from_lookup(|name| (name == ENV_READS_PER_MINUTE).then(|| "lots".to_owned())).unwrap_err();
        assert!(bad.contains(ENV_READS_PER_MINUTE), "{bad}");
    }
}
