//! Credentials and writes: API keys (`/v1/api-keys`), sessions (`/v1/sessions`), changes to
//! the access model (`/v1/changes`), OAuth client secrets, and the operator's tenant
//! imports (`/v1/operator/tenants/{name}`). Each write goes through the store and then
//! refreshes this node's view, and answers with the revision that includes it.

use axum::Json;
use axum::extract::{FromRequestParts, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use portcullis_model::Action;
use portcullis_model::step::{self, SetValue, StepError};
use portcullis_model::tenant::RoleTarget;
use portcullis_model::tenant_file::load_tenant_text;
use portcullis_store::{ApiKeyRecord, Change, ImportMode, ImportOutcome, NewApiKey, NewClientSecret};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::auth::{API_KEY_PREFIX, CLIENT_SECRET_PREFIX, Caller, hash_secret, new_secret, secret_hint};
use crate::err::{ApiError, ErrorBody};
use crate::extract::{ApiJson, ApiPath, ApiQuery, ApiText};
use crate::state::AppState;

/// Default lifetime of a new API key.
const DEFAULT_KEY_DAYS: u32 = 90;
/// Longest lifetime of a new API key: the management API's cap, in days.
const MAX_KEY_DAYS: u32 = (portcullis_qlik_api::api_keys::MAX_EXPIRY_SECONDS / 86_400) as u32;

/// A new API key.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NewApiKeyRequest {
    /// The user the key acts as (default: the caller; another user needs `user:manage`).
    #[serde(default)]
    pub user: Option<String>,
    /// Free text.
    #[serde(default)]
    pub description: Option<String>,
    /// Days until it expires (default 90, at most 3650).
    #[serde(default)]
    pub expires_in_days: Option<u32>,
}

/// An API key; `token` only in the answer that created it.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ApiKeyBody {
    /// Key id (for revocation).
    pub id: i64,
    /// The user it acts as.
    pub user: String,
    /// Free text.
    pub description: String,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds after which it is refused.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<i64>,
    /// Unix seconds of revocation.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub revoked_at: Option<i64>,
    /// The secret: shown once, stored only as a hash.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
}

impl ApiKeyBody {
    fn new(record: ApiKeyRecord, token: Option<String>) -> ApiKeyBody {
        ApiKeyBody {
            id: record.id,
            user: record.user_id,
            description: record.description,
            created_at: record.created_at,
            expires_at: record.expires_at,
            revoked_at: record.revoked_at,
            token,
        }
    }
}

/// Mints an API key for a user of the caller's tenant (the caller itself with
/// `api-key:create`, anyone with `user:manage`).
pub async fn mint_api_key(state: &AppState, caller: &Caller, request: NewApiKeyRequest) -> Result<ApiKeyBody, ApiError> {
    let view = caller.tenant.view();
    let snapshot = &view.snapshot;
    let user = match (&request.user, caller.user_id()) {
        (Some(user), _) => user.clone(),
        (None, Some(me)) => me.to_owned(),
        (None, None) => return Err(ApiError::bad_request("missing_user", "the operator must say which user the key is for").field("user")),
    };
    if caller.user_id() == Some(user.as_str()) {
        if !caller.may(snapshot, Action::ApiKeyCreate) && !caller.may(snapshot, Action::UserManage) {
            return Err(ApiError::forbidden("the caller may not create API keys")
                .hint("API keys need the role Developer or the permission `manage-api-keys`"));
        }
    } else {
        caller.require(snapshot, Action::UserManage)?;
    }
    if snapshot.user_idx(&user).is_none() {
        return Err(ApiError::not_found("unknown_user", format!("unknown user `{user}`")).field("user"));
    }
    let days = request.expires_in_days.unwrap_or(DEFAULT_KEY_DAYS);
    if days == 0 || days > MAX_KEY_DAYS {
        return Err(ApiError::bad_request("bad_expiry", format!("`expiresInDays` is {days}; use 1 to {MAX_KEY_DAYS}")).field("expiresInDays"));
    }
    let (token, hash) = new_secret(API_KEY_PREFIX)?;
    let key = NewApiKey {
        tenant: caller.tenant.id,
        user_id: user,
        hash,
        description: request.description.unwrap_or_default(),
        expires_at: Some(portcullis_store::now() + i64::from(days) * 86_400),
    };
    // A user's key is bound by the tenant's API-key settings, as through the Qlik API; the
    // operator's is not.
    let record = if caller.user_id().is_some() {
        state.store().create_api_key_within_settings(&key, &caller.author()).await?
    } else {
        state.store().create_api_key(&key, &caller.author()).await?
    };
    Ok(ApiKeyBody::new(record, Some(token)))
}

/// Creates an API key; the answer is the only place its secret ever appears.
#[utoipa::path(
    post, path = "/v1/api-keys", tag = "credentials",
    request_body = NewApiKeyRequest,
    responses(
        (status = 201, description = "The key, with its secret", body = ApiKeyBody),
        (status = 403, description = "The caller may not create this key", body = ErrorBody),
        (status = 404, description = "No such user", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn create_api_key(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<NewApiKeyRequest>,
) -> Result<(StatusCode, Json<ApiKeyBody>), ApiError> {
    Ok((StatusCode::CREATED, Json(mint_api_key(&state, &caller, body).await?)))
}

/// The caller's API keys (every key of the tenant with `user:manage`), without secrets.
#[utoipa::path(
    get, path = "/v1/api-keys", tag = "credentials",
    responses((status = 200, description = "The keys", body = [ApiKeyBody])),
    security(("bearer" = []))
)]
pub async fn list_api_keys(State(state): State<AppState>, caller: Caller) -> Result<Json<Vec<ApiKeyBody>>, ApiError> {
    let view = caller.tenant.view();
    let only = if caller.may(&view.snapshot, Action::UserManage) {
        None
    } else {
        caller.user_id()
    };
    let keys = state.store().api_keys(caller.tenant.id, only).await?;
    Ok(Json(keys.into_iter().map(|k| ApiKeyBody::new(k, None)).collect()))
}

/// Revokes an API key: the caller's own, or any of the tenant's with `user:manage`.
#[utoipa::path(
    delete, path = "/v1/api-keys/{id}", tag = "credentials",
    params(("id" = i64, Path, description = "Key id")),
    responses(
        (status = 204, description = "Revoked"),
        (status = 404, description = "No such key in the caller's tenant", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn revoke_api_key(State(state): State<AppState>, caller: Caller, ApiPath(id): ApiPath<i64>) -> Result<StatusCode, ApiError> {
    let view = caller.tenant.view();
    let not_found = || ApiError::not_found("unknown_api_key", format!("no API key {id}")).field("id");
    if !caller.may(&view.snapshot, Action::UserManage) {
        let own = state.store().api_keys(caller.tenant.id, caller.user_id()).await?;
        if !own.iter().any(|k| k.id == id) {
            return Err(not_found());
        }
    }
    state
        .store()
        .revoke_api_key(caller.tenant.id, id, &caller.author())
        .await
        .map_err(|e| match e {
            portcullis_store::StoreError::NotFound(_) => not_found(),
            other => other.into(),
        })?;
    state.forget_credentials();
    Ok(StatusCode::NO_CONTENT)
}

/// Who the caller is.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct WhoAmI {
    /// The tenant of the credential.
    pub tenant: String,
    /// The user, absent for the operator.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// `api-key`, `oauth:<client>` or `operator`.
    pub via: String,
    /// The tenant's revision on this node.
    pub revision: u64,
}

/// The caller's tenant and identity.
#[utoipa::path(get, path = "/v1/whoami", tag = "credentials", responses((status = 200, description = "The caller", body = WhoAmI)), security(("bearer" = [])))]
pub async fn whoami(caller: Caller) -> Json<WhoAmI> {
    let via = match &caller.principal {
        crate::auth::Principal::User { via, .. } => via.to_string(),
        crate::auth::Principal::Operator => "operator".to_owned(),
    };
    Json(WhoAmI {
        tenant: caller.tenant.name.clone(),
        user: caller.user_id().map(str::to_owned),
        via,
        revision: caller.tenant.view().snapshot.revision,
    })
}

/// A login.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SessionRequest {
    /// The user logging in (the caller itself, or anyone with `user:manage`).
    pub user: String,
}

/// The revision a write produced.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RevisionBody {
    /// The tenant's revision that includes the write; pass it as `minRevision` to read it anywhere.
    pub revision: u64,
}

/// Logs a user in: records the login (entitlement toggles) and freezes the user's
/// tenant-level rights in a session, stored with it: `via: session` checks on every node read
/// it (pass the answered revision as `minRevision` to read it on another node at once).
#[utoipa::path(
    post, path = "/v1/sessions", tag = "writes",
    request_body = SessionRequest,
    responses((status = 200, description = "Logged in", body = RevisionBody), (status = 404, description = "No such user", body = ErrorBody)),
    security(("bearer" = []))
)]
pub async fn login(State(state): State<AppState>, caller: Caller, ApiJson(body): ApiJson<SessionRequest>) -> Result<Json<RevisionBody>, ApiError> {
    if caller.user_id() != Some(body.user.as_str()) {
        caller.require(&caller.tenant.view().snapshot, Action::UserManage)?;
    }
    if let Err(seconds) = state.count_issue(&format!("login:{}", caller.tenant.name), &body.user) {
        return Err(ApiError::too_many(
            format!("too many logins of `{}`; retry in {seconds} seconds", body.user),
            seconds,
        ));
    }
    let written = state.login(&caller.tenant, &body.user, &caller.author()).await?;
    Ok(Json(RevisionBody { revision: written.revision }))
}

/// Who a role assignment goes to: exactly one of `user`, `group`, `everyone: true`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AssignBody {
    /// Role name.
    pub role: String,
    /// A user id.
    #[serde(default)]
    pub user: Option<String>,
    /// A group name.
    #[serde(default)]
    pub group: Option<String>,
    /// The system group Everyone.
    #[serde(default)]
    pub everyone: bool,
}

/// A group membership.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MembershipBody {
    /// User id.
    pub user: String,
    /// Group name.
    pub group: String,
}

/// A setting or a UserDefault permission: exactly one of `setting`, `userDefault`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SetBody {
    /// A tenant setting's name.
    #[serde(default)]
    pub setting: Option<String>,
    /// A UserDefault permission key.
    #[serde(default)]
    pub user_default: Option<String>,
    /// `true`/`false` for a setting; a permission value such as `allowed` for UserDefault.
    #[schema(value_type = Object)]
    pub value: serde_json::Value,
}

/// Portcullis's export mark on a space (`docs/export-control.md`): data leaves the space's
/// items only through the custom roles named; `exportOnlyThrough` absent or null takes the
/// mark off (Qlik's behaviour).
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MarkBody {
    /// The space id.
    pub space: String,
    /// Custom role names (`[]`: no data leaves); absent or null: no mark.
    #[serde(default)]
    pub export_only_through: Option<Vec<String>>,
}

/// One change to the access model, in the words of the conformance scenarios' steps.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase", deny_unknown_fields)]
pub enum ChangeBody {
    /// Assign a role.
    Assign(AssignBody),
    /// Remove a role from one path (no change when not held on that path).
    Unassign(AssignBody),
    /// Add a user to a group.
    Join(MembershipBody),
    /// Remove a user from a group (no change when not a member).
    Leave(MembershipBody),
    /// Set a tenant setting or a UserDefault permission.
    Set(SetBody),
    /// Mark a space so that data leaves it only through named roles, or take the mark off.
    Mark(MarkBody),
}

/// The step's words checked by the model (the scenario runner reads them the same way).
fn step_error(error: StepError) -> ApiError {
    let mut api = ApiError::bad_request(error.code, error.message);
    if let Some(hint) = error.hint {
        api = api.hint(hint);
    }
    if let Some(field) = error.field {
        api = api.field(field);
    }
    api
}

fn role_target(body: &AssignBody) -> Result<RoleTarget, ApiError> {
    step::role_target(body.user.as_deref(), body.group.as_deref(), body.everyone).map_err(step_error)
}

/// The store's change for a wire change.
pub fn change_of(body: &ChangeBody) -> Result<Change, ApiError> {
    Ok(match body {
        ChangeBody::Assign(a) => Change::AssignRole {
            role: a.role.clone(),
            target: role_target(a)?,
        },
        ChangeBody::Unassign(a) => Change::UnassignRole {
            role: a.role.clone(),
            target: role_target(a)?,
        },
        ChangeBody::Join(m) => Change::JoinGroup {
            user: m.user.clone(),
            group: m.group.clone(),
        },
        ChangeBody::Leave(m) => Change::LeaveGroup {
            user: m.user.clone(),
            group: m.group.clone(),
        },
        ChangeBody::Mark(mark) => Change::SetExportOnlyThrough {
            space: mark.space.clone(),
            roles: mark.export_only_through.clone(),
        },
        ChangeBody::Set(set) => {
            let shown = set.value.to_string();
            let value = match &set.value {
                serde_json::Value::Bool(b) => SetValue::Bool(*b),
                serde_json::Value::String(text) => SetValue::Text(text),
                _ => SetValue::Other(&shown),
            };
            step::set_change(set.setting.as_deref(), set.user_default.as_deref(), value).map_err(step_error)?
        }
    })
}

/// Applies one change to the caller's tenant (needs `user:manage`), in one transaction.
#[utoipa::path(
    post, path = "/v1/changes", tag = "writes",
    request_body = ChangeBody,
    responses(
        (status = 200, description = "Applied", body = RevisionBody),
        (status = 400, description = "The change is not valid", body = ErrorBody),
        (status = 403, description = "The caller may not change the tenant", body = ErrorBody),
        (status = 404, description = "No such user, group or role", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn apply_change(State(state): State<AppState>, caller: Caller, ApiJson(body): ApiJson<ChangeBody>) -> Result<Json<RevisionBody>, ApiError> {
    caller.require(&caller.tenant.view().snapshot, Action::UserManage)?;
    let change = change_of(&body)?;
    let written = state.apply(&caller.tenant, &change, &caller.author()).await?;
    Ok(Json(RevisionBody { revision: written.revision }))
}

/// A new OAuth client secret.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NewClientSecretRequest {
    /// The user `client_credentials` tokens act as (default: the caller).
    #[serde(default)]
    pub bot_user: Option<String>,
}

/// A client secret, shown once.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ClientSecretBody {
    /// The client.
    pub client_id: String,
    /// The secret (stored only as a hash).
    pub client_secret: String,
    /// The bot user of `client_credentials` tokens.
    pub bot_user: String,
    /// Its last characters, by which `/api/v1/oauth-clients/{id}` lists it and
    /// `DELETE /api/v1/oauth-clients/{id}/client-secrets/{hint}` revokes it.
    pub hint: String,
}

/// Creates a secret for one of the tenant's OAuth clients (needs `oauth-client:manage`).
#[utoipa::path(
    post, path = "/v1/oauth-clients/{id}/secrets", tag = "credentials",
    params(("id" = String, Path, description = "OAuth client id")),
    request_body = NewClientSecretRequest,
    responses(
        (status = 201, description = "The secret", body = ClientSecretBody),
        (status = 404, description = "No such client or bot user", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn create_client_secret(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(client_id): ApiPath<String>,
    ApiJson(body): ApiJson<NewClientSecretRequest>,
) -> Result<(StatusCode, Json<ClientSecretBody>), ApiError> {
    let view = caller.tenant.view();
    caller.require(&view.snapshot, Action::OauthClientManage)?;
    if view.snapshot.client_idx(&client_id).is_none() {
        return Err(ApiError::not_found("unknown_oauth_client", format!("unknown OAuth client `{client_id}`")).field("id"));
    }
    let bot_user = match (body.bot_user, caller.user_id()) {
        (Some(user), _) => user,
        (None, Some(me)) => me.to_owned(),
        (None, None) => return Err(ApiError::bad_request("missing_bot_user", "the operator must name the bot user").field("botUser")),
    };
    if view.snapshot.user_idx(&bot_user).is_none() {
        return Err(ApiError::not_found("unknown_user", format!("unknown user `{bot_user}`")).field("botUser"));
    }
    let (secret, hash) = new_secret(CLIENT_SECRET_PREFIX)?;
    state
        .store()
        .create_client_secret(
            &NewClientSecret {
                tenant: caller.tenant.id,
                client_id: client_id.clone(),
                hash,
                bot_user: bot_user.clone(),
                hint: secret_hint(&secret),
            },
            &caller.author(),
        )
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(ClientSecretBody {
            client_id,
            hint: secret_hint(&secret),
            client_secret: secret,
            bot_user,
        }),
    ))
}

/// The operator: a server-wide credential for automation, configured at start.
pub struct Operator;

impl FromRequestParts<AppState> for Operator {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Operator, ApiError> {
        let token = parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .ok_or_else(|| ApiError::unauthenticated("the request has no credentials"))?;
        match state.config().operator_token_hash {
            Some(hash) if hash == hash_secret(token.trim()) => Ok(Operator),
            _ => Err(ApiError::unauthenticated("only the operator may manage tenants")),
        }
    }
}

/// Import options.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
pub struct ImportQuery {
    /// Replace the tenant when it exists (default: keep it as stored).
    #[serde(default)]
    pub replace: bool,
}

/// What an import did.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ImportBody {
    /// The tenant's name.
    pub tenant: String,
    /// Its revision now.
    pub revision: u64,
    /// `created`, `replaced` or `kept`.
    pub outcome: &'static str,
}

/// Imports a tenant file (YAML) under `name` (operator only).
#[utoipa::path(
    put, path = "/v1/operator/tenants/{name}", tag = "operator",
    params(("name" = String, Path, description = "Tenant name"), ("replace" = Option<bool>, Query, description = "Replace an existing tenant")),
    request_body(content = String, content_type = "application/yaml", description = "A tenant file"),
    responses(
        (status = 200, description = "Imported", body = ImportBody),
        (status = 400, description = "The tenant file is not valid; every problem is listed", body = ErrorBody),
    ),
    security(("operator" = []))
)]
pub async fn import_tenant(
    State(state): State<AppState>,
    _operator: Operator,
    ApiPath(name): ApiPath<String>,
    ApiQuery(query): ApiQuery<ImportQuery>,
    ApiText(body): ApiText,
) -> Result<Json<ImportBody>, ApiError> {
    let mut tenant = load_tenant_text(&name, &body)
        .map_err(|e| ApiError::bad_request("invalid_tenant", e.to_string()).hint("fix every problem listed and send the file again"))?;
    tenant.name = name;
    let mode = if query.replace { ImportMode::Replace } else { ImportMode::KeepExisting };
    let imported = state.import(&tenant, mode, &portcullis_store::Author::operator()).await?;
    let outcome = match imported.outcome {
        ImportOutcome::Created => "created",
        ImportOutcome::Replaced => "replaced",
        ImportOutcome::Kept => "kept",
    };
    Ok(Json(ImportBody {
        tenant: imported.tenant.name,
        revision: imported.tenant.revision,
        outcome,
    }))
}

/// Deletes a tenant and everything in it (operator only).
#[utoipa::path(
    delete, path = "/v1/operator/tenants/{name}", tag = "operator",
    params(("name" = String, Path, description = "Tenant name")),
    responses((status = 204, description = "Deleted"), (status = 404, description = "No such tenant", body = ErrorBody)),
    security(("operator" = []))
)]
pub async fn delete_tenant(State(state): State<AppState>, _operator: Operator, ApiPath(name): ApiPath<String>) -> Result<StatusCode, ApiError> {
    let tenant = state
        .tenant_by_name(&name)
        .await?
        .ok_or_else(|| ApiError::not_found("unknown_tenant", format!("unknown tenant `{name}`")))?;
    state.delete(&tenant).await?;
    Ok(StatusCode::NO_CONTENT)
}
