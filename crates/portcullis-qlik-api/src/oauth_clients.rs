//! `/oauth-clients`: list, create (a `web` client's secret is shown once, by the router, from
//! [`crate::ApiHost::create_client_secret`]), get, patch (Qlik's paths: `/clientName`,
//! `/description`, `/clientUri`, `/logoUri`, `/redirectUris`, `/allowedOrigins`,
//! `/allowedScopes`, `/allowedGrantTypes`), delete, `actions/publish` and
//! `connection-configs/me`. Everything needs `oauth-client:manage`.
//!
//! The model keeps what tokens read (id, name, scopes, whether it may impersonate users); the
//! rest Qlik shows — `appType` (`web`, `native`, `spa`, `anonymous-embed`, fixed at creation),
//! `description`, `redirectUris`, `allowedOrigins`, `clientUri`, `logoUri`, `publishedAt`, the
//! consent method — is its meta ([`ClientProfile`]), written with the client and carried by the
//! change log. Only `web` clients are confidential: they alone get secrets and grants. Keys
//! (`publicKeys`, `jwksUri`, the `private_key_jwt` method) are refused: Portcullis
//! authenticates clients by secret only.
//!
//! A client's id is random (the router draws it, [`new_client_id`]), never derived from its
//! name: a client deleted and created again under the same name is another client, and what
//! was issued to the old one (secrets, tokens) names an id nobody gets again.
//!
//! Every client may use `client_credentials`; the user-impersonation grant, which mints
//! tokens for any user of the tenant, only when `allowedGrantTypes` lists it (off by default).

use portcullis_audit::EventType;
use portcullis_model::{Action, ClientProfile, Meta, MetaTarget, OauthClient, Tenant};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::caller::Ctx;
use crate::dto::ListDto;
use crate::err::{ApiError, Service};
use crate::host::{ClientSecretInfo, CreatedClientSecret};
use crate::ids;
use crate::mutation::{AuditNote, Mutation};
use crate::paging::{Query, STANDARD, SelfLink, paginate, parse_filter, parse_sort, sort_by_keys};
use crate::patch::{PatchOp, PatchOperation};
use crate::time::{rfc3339, sort_key};
use portcullis_model::Change;

const S: Service = Service::OauthClients;

/// An OAuth client on the wire.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct OauthClientDto {
    /// The client id (as used at `/oauth/token`).
    pub client_id: String,
    /// Display name.
    pub client_name: String,
    /// `web` (confidential), `native`, `spa` or `anonymous-embed`.
    pub app_type: String,
    /// Free text.
    pub description: String,
    /// Where the client may send a user back.
    pub redirect_uris: Vec<String>,
    /// Origins a browser client may call from.
    pub allowed_origins: Vec<String>,
    /// The client's home page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_uri: Option<String>,
    /// The client's logo.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub logo_uri: Option<String>,
    /// When it was published (`actions/publish`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub published_at: Option<String>,
    /// The tenant's consent method for it.
    pub connection_config: ConnectionConfig,
    /// Scopes the client may ask for.
    pub allowed_scopes: Vec<String>,
    /// `client_credentials`, and the impersonation grant when the client may impersonate
    /// (`web` clients; none for the others).
    pub allowed_grant_types: Vec<&'static str>,
    /// `client_secret` for `web` clients; none for public clients.
    pub allowed_auth_methods: Vec<&'static str>,
    /// Always `user`.
    pub created_by_type: &'static str,
    /// Tenant id.
    pub tenant_id: String,
    /// The secret, only in the response that created it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<String>,
    /// The hints of the client's secrets (`GET /oauth-clients/{id}` of a `web` client): Qlik
    /// never shows a secret again after it was created.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_secrets: Option<Vec<ClientSecretHint>>,
    /// When the API created the client (absent for clients from a tenant file).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created_at: Option<String>,
    /// When the API last changed the client.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<String>,
    /// `self`.
    pub links: SelfLink,
}

/// One entry of a client's `clientSecrets` (Qlik's `ClientSecrets`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ClientSecretHint {
    /// The secret's last characters: what it is revoked by.
    pub hint: String,
    /// When it was created.
    pub created_at: String,
    /// The user id of who created it (whom its `client_credentials` tokens act as).
    pub created_by: String,
}

/// `POST /oauth-clients/{id}/client-secrets` (Qlik's `OAuthClientSecretResponse`): the secret,
/// shown once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ClientSecretCreated {
    /// The client.
    pub client_id: String,
    /// The secret; never shown again.
    pub client_secret: String,
    /// Its last characters: what it is listed and revoked by.
    pub hint: String,
    /// When it was created.
    pub created_at: String,
    /// The user id of who created it.
    pub created_by: String,
}

fn secret_hint(secret: &ClientSecretInfo) -> ClientSecretHint {
    ClientSecretHint {
        hint: secret.hint.clone(),
        created_at: rfc3339(secret.created_at),
        created_by: ids::user_id(&secret.created_by),
    }
}

/// The answer to `POST /oauth-clients/{id}/client-secrets`.
pub fn secret_created(client_id: &str, created: &CreatedClientSecret) -> ClientSecretCreated {
    let hint = secret_hint(&created.info);
    ClientSecretCreated {
        client_id: client_id.to_owned(),
        client_secret: created.secret.clone(),
        hint: hint.hint,
        created_at: hint.created_at,
        created_by: hint.created_by,
    }
}

/// `connectionConfig`: the tenant's consent method for a client.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ConnectionConfig {
    /// `required` (the default) or `trusted` (no consent asked).
    pub consent_method: String,
}

/// The app types Qlik has.
pub const APP_TYPES: &[&str] = &["web", "native", "spa", "anonymous-embed"];

/// The consent methods Qlik has.
pub const CONSENT_METHODS: &[&str] = &["required", "trusted"];

/// A client's profile (empty for a client from a tenant file: a `web` client).
pub fn profile(client: &OauthClient) -> ClientProfile {
    client.meta.client.as_deref().cloned().unwrap_or_default()
}

/// A client's app type (`web` unless created otherwise).
pub fn app_type(client: &OauthClient) -> String {
    profile(client).app_type.unwrap_or_else(|| "web".to_owned())
}

/// Whether the client is confidential (a `web` client): only those hold secrets.
pub fn is_confidential(client: &OauthClient) -> bool {
    app_type(client) == "web"
}

/// A client as the API shows it.
pub fn client_dto(tenant: &Tenant, api_base: &str, client: &OauthClient) -> OauthClientDto {
    let profile = profile(client);
    let confidential = is_confidential(client);
    OauthClientDto {
        links: SelfLink::new(api_base, &format!("/oauth-clients/{}", client.id)),
        client_id: client.id.clone(),
        client_name: client.name.clone(),
        app_type: app_type(client),
        description: client.meta.description.clone().unwrap_or_default(),
        redirect_uris: profile.redirect_uris,
        allowed_origins: profile.allowed_origins,
        client_uri: profile.client_uri,
        logo_uri: profile.logo_uri,
        published_at: profile.published_at.map(rfc3339),
        connection_config: ConnectionConfig {
            consent_method: profile.consent_method.unwrap_or_else(|| "required".to_owned()),
        },
        allowed_scopes: client.scopes.clone(),
        allowed_grant_types: if confidential { grant_types(client) } else { Vec::new() },
        allowed_auth_methods: if confidential { vec!["client_secret"] } else { Vec::new() },
        created_by_type: "user",
        tenant_id: ids::tenant_id(&tenant.name),
        client_secret: None,
        client_secrets: None,
        created_at: client.meta.created_at.map(rfc3339),
        updated_at: client.meta.updated_at.map(rfc3339),
    }
}

/// The grant every client may use.
pub const CLIENT_CREDENTIALS: &str = "client_credentials";
/// The grant that mints tokens for any user; a client uses it only when allowed.
pub const IMPERSONATION_GRANT: &str = "urn:qlik:oauth:user-impersonation";

fn grant_types(client: &OauthClient) -> Vec<&'static str> {
    if client.impersonation {
        vec![CLIENT_CREDENTIALS, IMPERSONATION_GRANT]
    } else {
        vec![CLIENT_CREDENTIALS]
    }
}

/// A new client id: 32 lowercase hex characters from `random` (16 bytes the router draws),
/// the shape of Qlik Cloud's client ids.
pub fn new_client_id(random: [u8; 16]) -> String {
    random.iter().map(|b| format!("{b:02x}")).collect()
}

/// Whether `allowedGrantTypes` asks for impersonation; `None` when absent. Unknown grants
/// are refused; `client_credentials` is always allowed, listed or not.
fn impersonation(grants: Option<&[String]>) -> Result<Option<bool>, ApiError> {
    let Some(grants) = grants else {
        return Ok(None);
    };
    let mut impersonate = false;
    for grant in grants {
        match grant.as_str() {
            CLIENT_CREDENTIALS => {}
            IMPERSONATION_GRANT => impersonate = true,
            other => {
                return Err(ApiError::bad_request(
                    S,
                    format!("grant type `{other}` is not supported; use `{CLIENT_CREDENTIALS}` or `{IMPERSONATION_GRANT}`"),
                ));
            }
        }
    }
    Ok(Some(impersonate))
}

fn attribute(tenant: &Tenant, client: &OauthClient, attr: &str) -> Vec<String> {
    match attr {
        "clientId" => vec![client.id.clone()],
        "clientName" => vec![client.name.clone()],
        "appType" => vec![app_type(client)],
        "tenantId" => vec![ids::tenant_id(&tenant.name)],
        "createdByType" => vec!["user".to_owned()],
        "createdAt" => vec![sort_key(client.meta.created_at)],
        "updatedAt" => vec![sort_key(client.meta.updated_at)],
        _ => Vec::new(),
    }
}

/// `GET /oauth-clients`.
pub fn list(ctx: &Ctx<'_>, query: &Query) -> Result<ListDto<OauthClientDto>, ApiError> {
    ctx.require(S, Action::OauthClientManage)?;
    let filter = parse_filter(
        S,
        query.get("filter"),
        &["clientId", "clientName", "appType", "tenantId", "createdByType"],
    )?;
    let sort = parse_sort(
        S,
        query.get("sort"),
        &["clientId", "clientName", "appType", "tenantId", "createdAt", "updatedAt"],
    )?;
    let total_results = query.flag(S, "totalResults")?;
    let mut clients: Vec<&OauthClient> = ctx
        .tenant
        .oauth_clients
        .iter()
        .filter(|c| filter.as_ref().is_none_or(|f| f.matches(&|a| attribute(ctx.tenant, c, a))))
        .collect();
    sort_by_keys(&mut clients, &sort, |c, field| {
        attribute(ctx.tenant, c, field).into_iter().next().unwrap_or_default()
    });
    let page = paginate(clients, query, S, STANDARD, ctx.api_base, "/oauth-clients")?;
    Ok(ListDto {
        data: page.items.iter().map(|c| client_dto(ctx.tenant, ctx.api_base, c)).collect(),
        links: page.links,
        total_results: total_results.then_some(page.total),
    })
}

fn find<'t>(ctx: &Ctx<'t>, id: &str) -> Result<&'t OauthClient, ApiError> {
    ctx.tenant
        .oauth_client(id)
        .ok_or_else(|| ApiError::not_found(S, format!("no OAuth client with id `{id}`")))
}

/// `GET /oauth-clients/{id}`, without its secrets.
pub fn get(ctx: &Ctx<'_>, id: &str) -> Result<OauthClientDto, ApiError> {
    ctx.require(S, Action::OauthClientManage)?;
    Ok(client_dto(ctx.tenant, ctx.api_base, find(ctx, id)?))
}

/// `GET /oauth-clients/{id}` as Qlik answers an admin: with `clientSecrets`, the hints of the
/// `secrets` the host holds for it (a `web` client's; public clients have none).
pub fn get_with_secrets(ctx: &Ctx<'_>, id: &str, secrets: &[ClientSecretInfo]) -> Result<OauthClientDto, ApiError> {
    let mut dto = get(ctx, id)?;
    if dto.app_type == "web" {
        dto.client_secrets = Some(secrets.iter().map(secret_hint).collect());
    }
    Ok(dto)
}

/// Checks that the caller may manage the client's secrets and that it holds any: `web`
/// clients only (400 for a public client, as it holds none).
pub fn check_secrets(ctx: &Ctx<'_>, id: &str) -> Result<(), ApiError> {
    ctx.require(S, Action::OauthClientManage)?;
    let client = find(ctx, id)?;
    if is_confidential(client) {
        Ok(())
    } else {
        Err(ApiError::bad_request(
            S,
            format!("a `{}` client is public and holds no secrets; only `web` clients do", app_type(client)),
        ))
    }
}

/// The scopes asked for; `user_default` when none are given.
fn scopes(asked: Option<Vec<String>>) -> Vec<String> {
    asked.unwrap_or_else(|| vec!["user_default".to_owned()])
}

/// `POST /oauth-clients` (Qlik's `OAuthClientCreateRequest`).
#[derive(Debug, Clone, Default, PartialEq, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct OauthClientCreate {
    /// Name.
    #[schema(required = true, value_type = String)]
    pub client_name: Option<String>,
    /// `web` (the default), `native`, `spa` or `anonymous-embed`; fixed once created.
    pub app_type: Option<String>,
    /// Free text.
    pub description: Option<String>,
    /// The client's home page.
    pub client_uri: Option<String>,
    /// The client's logo.
    pub logo_uri: Option<String>,
    /// Where the client may send a user back.
    pub redirect_uris: Option<Vec<String>>,
    /// Origins a browser client may call from.
    pub allowed_origins: Option<Vec<String>>,
    /// Scopes the client may ask for (`user_default` when absent).
    pub allowed_scopes: Option<Vec<String>>,
    /// `client_credentials`, and `urn:qlik:oauth:user-impersonation` to act as users (`web`).
    pub allowed_grant_types: Option<Vec<String>>,
    /// `client_secret` only (`web`).
    pub allowed_auth_methods: Option<Vec<String>>,
    /// Refused: Portcullis authenticates clients by secret.
    #[schema(value_type = Option<Vec<Object>>)]
    pub public_keys: Option<Vec<serde_json::Value>>,
    /// Refused: Portcullis authenticates clients by secret.
    pub jwks_uri: Option<String>,
    /// `{consentMethod}`: `required` (the default) or `trusted`.
    pub connection_config: Option<ConnectionConfigBody>,
}

/// `connectionConfig` in a request.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ConnectionConfigBody {
    /// `required` or `trusted`.
    pub consent_method: Option<String>,
}

fn one_of(field: &str, value: &str, known: &[&str]) -> Result<String, ApiError> {
    if known.contains(&value) {
        Ok(value.to_owned())
    } else {
        Err(ApiError::bad_request(
            S,
            format!("`{field}` `{value}` is not one of {}", known.join(", ")),
        ))
    }
}

fn check_auth_methods(methods: Option<&[String]>, confidential: bool) -> Result<(), ApiError> {
    for method in methods.unwrap_or_default() {
        match method.as_str() {
            "client_secret" if confidential => {}
            "client_secret" => return Err(ApiError::bad_request(S, "`client_secret`: only `web` clients hold secrets")),
            other => {
                return Err(ApiError::bad_request(
                    S,
                    format!("auth method `{other}` is not supported; Portcullis authenticates clients by `client_secret`"),
                ));
            }
        }
    }
    Ok(())
}

/// `POST /oauth-clients`: `{clientName, appType?, allowedScopes?, allowedGrantTypes?, ...}`
/// (201) under the fresh id `new_id` (see [`new_client_id`]). The router adds `clientSecret`
/// once the host has stored it.
pub fn create(ctx: &Ctx<'_>, body: &OauthClientCreate, new_id: &str) -> Result<Mutation<OauthClientDto>, ApiError> {
    ctx.require(S, Action::OauthClientManage)?;
    let name = body
        .client_name
        .as_deref()
        .filter(|n| !n.trim().is_empty())
        .ok_or_else(|| ApiError::bad_request(S, "a client needs a `clientName`"))?;
    let kind = one_of("appType", body.app_type.as_deref().unwrap_or("web"), APP_TYPES)?;
    let confidential = kind == "web";
    if !confidential && body.allowed_grant_types.as_ref().is_some_and(|g| !g.is_empty()) {
        return Err(ApiError::bad_request(
            S,
            format!("`allowedGrantTypes`: a `{kind}` client is public and takes no grants; only `web` clients do"),
        ));
    }
    check_auth_methods(body.allowed_auth_methods.as_deref(), confidential)?;
    if body.public_keys.as_ref().is_some_and(|k| !k.is_empty()) || body.jwks_uri.is_some() {
        return Err(ApiError::bad_request(
            S,
            "`publicKeys`/`jwksUri` are not supported: Portcullis authenticates clients by `client_secret`",
        ));
    }
    let consent_method = match body.connection_config.as_ref().and_then(|c| c.consent_method.as_deref()) {
        Some(method) => Some(one_of("connectionConfig.consentMethod", method, CONSENT_METHODS)?),
        None => None,
    };
    let allowed_scopes = scopes(body.allowed_scopes.clone());
    let impersonation = impersonation(body.allowed_grant_types.as_deref())?.unwrap_or(false);
    let profile = ClientProfile {
        app_type: Some(kind),
        redirect_uris: body.redirect_uris.clone().unwrap_or_default(),
        allowed_origins: body.allowed_origins.clone().unwrap_or_default(),
        client_uri: body.client_uri.clone(),
        logo_uri: body.logo_uri.clone(),
        published_at: None,
        consent_method,
    };
    if ctx.tenant.oauth_client(new_id).is_some() {
        // 128 random bits do not collide; if they ever did, the client asks again.
        return Err(ApiError::conflict(S, "the new client's id is taken; send the request again"));
    }
    let id = new_id.to_owned();
    let client = OauthClient {
        meta: Meta {
            description: body.description.clone(),
            client: Some(Box::new(profile)),
            ..Meta::created(ctx.now)
        },
        id: id.clone(),
        name: name.to_owned(),
        scopes: allowed_scopes.clone(),
        impersonation,
    };
    let note = AuditNote::new(
        EventType::OauthClientCreated,
        "oauth-client",
        id.clone(),
        json!({ "clientName": name, "appType": app_type(&client), "allowedScopes": allowed_scopes, "allowedGrantTypes": grant_types(&client) }),
    );
    Ok(Mutation::then(vec![Change::CreateOauthClient { client }], note, S, 400, move |ctx| {
        let client = ctx.tenant.oauth_client(&id).ok_or_else(ApiError::internal)?;
        Ok(client_dto(ctx.tenant, ctx.api_base, client))
    }))
}

/// The list at a list path after `op`: `replace` sets it, `add` appends a value or a list
/// (`/redirectUris/-` too), `remove` empties it, `remove-value` takes one value out.
fn patched_list(op: &PatchOperation, list: &[String]) -> Result<Vec<String>, ApiError> {
    let mut list = list.to_vec();
    match op.op {
        PatchOp::Replace | PatchOp::Set => list = op.optional_value::<StringOrList>(S)?.map(StringOrList::into_vec).unwrap_or_default(),
        PatchOp::Add => {
            for value in op.value::<StringOrList>(S)?.into_vec() {
                if !list.contains(&value) {
                    list.push(value);
                }
            }
        }
        PatchOp::Remove | PatchOp::Unset => list.clear(),
        PatchOp::RemoveValue => {
            let value: String = op.value(S)?;
            list.retain(|v| *v != value);
        }
        PatchOp::Renew => return Err(op.unsupported(S)),
    }
    Ok(list)
}

/// A patch value that is one string or a list of them.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum StringOrList {
    One(String),
    Many(Vec<String>),
}

impl StringOrList {
    fn into_vec(self) -> Vec<String> {
        match self {
            StringOrList::One(one) => vec![one],
            StringOrList::Many(many) => many,
        }
    }
}

/// A text field after `op`: `replace`/`add` set it, `remove` unsets it.
fn patched_text(op: &PatchOperation) -> Result<Option<String>, ApiError> {
    match op.op {
        PatchOp::Replace | PatchOp::Set | PatchOp::Add => Ok(op.optional_value::<String>(S)?.filter(|v| !v.is_empty())),
        PatchOp::Remove | PatchOp::Unset => Ok(None),
        _ => Err(op.unsupported(S)),
    }
}

/// `PATCH /oauth-clients/{id}` (204): Qlik's paths `/clientName`, `/description`,
/// `/clientUri`, `/logoUri`, `/redirectUris`, `/allowedOrigins`, `/allowedScopes` and
/// `/allowedGrantTypes` (`web` clients). `/publicKeys`, `/jwksUri` and `/allowedAuthMethods`
/// beyond `client_secret` are refused: Portcullis authenticates clients by secret, so no
/// change here creates a secret (Qlik's 202).
pub fn patch(ctx: &Ctx<'_>, id: &str, ops: &[PatchOperation]) -> Result<Mutation<()>, ApiError> {
    ctx.require(S, Action::OauthClientManage)?;
    let client = find(ctx, id)?;
    let confidential = is_confidential(client);
    let mut changes = Vec::new();
    let mut meta = client.meta.clone();
    let mut profile = self::profile(client);
    let update = |name: Option<String>, scopes: Option<Vec<String>>, impersonation: Option<bool>| Change::UpdateOauthClient {
        id: id.to_owned(),
        name,
        scopes,
        impersonation,
    };
    for op in ops {
        match (op.op, op.target()) {
            (PatchOp::Replace | PatchOp::Set, "clientName") => changes.push(update(Some(op.value(S)?), None, None)),
            (_, "description") => meta.description = patched_text(op)?,
            (_, "clientUri") => profile.client_uri = patched_text(op)?,
            (_, "logoUri") => profile.logo_uri = patched_text(op)?,
            (_, "redirectUris" | "redirectUris/-") => profile.redirect_uris = patched_list(op, &profile.redirect_uris)?,
            (_, "allowedOrigins" | "allowedOrigins/-") => profile.allowed_origins = patched_list(op, &profile.allowed_origins)?,
            (_, "allowedScopes" | "allowedScopes/-") => {
                let listed = patched_list(op, &client.scopes)?;
                changes.push(update(None, Some(if listed.is_empty() { scopes(None) } else { listed }), None));
            }
            (_, "allowedGrantTypes" | "allowedGrantTypes/-") => {
                let now: Vec<String> = grant_types(client).into_iter().map(str::to_owned).collect();
                let listed = patched_list(op, &now)?;
                if !confidential && !listed.is_empty() {
                    return Err(ApiError::bad_request(S, "`allowedGrantTypes`: only `web` clients take grants"));
                }
                changes.push(update(None, None, Some(impersonation(Some(&listed))?.unwrap_or(false))));
            }
            (_, "allowedAuthMethods" | "allowedAuthMethods/-") => {
                let now: Vec<String> = if confidential { vec!["client_secret".to_owned()] } else { Vec::new() };
                check_auth_methods(Some(&patched_list(op, &now)?), confidential)?;
            }
            (_, "publicKeys" | "jwksUri") => {
                return Err(ApiError::bad_request(
                    S,
                    format!("`{}` is not supported: Portcullis authenticates clients by `client_secret`", op.path),
                ));
            }
            _ => return Err(op.unsupported(S)),
        }
    }
    meta.client = Some(Box::new(profile));
    changes.push(Change::SetMeta {
        target: MetaTarget::Client(id.to_owned()),
        meta: meta.updated(ctx.now),
    });
    let note = AuditNote::new(EventType::OauthClientUpdated, "oauth-client", id, json!({ "patch": ops }));
    Ok(Mutation::new(changes, note, S, 400, ()))
}

/// `POST /oauth-clients/{id}/actions/publish` (201 `{publishedAt}`). Portcullis has one
/// region per server, so publishing only records when; publishing again keeps the first time.
pub fn publish(ctx: &Ctx<'_>, id: &str) -> Result<Mutation<serde_json::Value>, ApiError> {
    ctx.require(S, Action::OauthClientManage)?;
    let client = find(ctx, id)?;
    let mut profile = self::profile(client);
    let published_at = *profile.published_at.get_or_insert(ctx.now);
    let meta = Meta {
        client: Some(Box::new(profile)),
        ..client.meta.updated(ctx.now)
    };
    let note = AuditNote::new(EventType::OauthClientUpdated, "oauth-client", id, json!({ "published": true }));
    let change = Change::SetMeta {
        target: MetaTarget::Client(id.to_owned()),
        meta,
    };
    Ok(Mutation::new(vec![change], note, S, 400, json!({ "publishedAt": rfc3339(published_at) })))
}

/// `GET /oauth-clients/{id}/connection-configs/me`: the caller's tenant's consent method for
/// the client (`required` unless set to `trusted`).
pub fn connection_config(ctx: &Ctx<'_>, id: &str) -> Result<ConnectionConfig, ApiError> {
    Ok(get(ctx, id)?.connection_config)
}

/// `PATCH /oauth-clients/{id}/connection-configs/me`: `replace /consentMethod` (204).
pub fn patch_connection_config(ctx: &Ctx<'_>, id: &str, ops: &[PatchOperation]) -> Result<Mutation<()>, ApiError> {
    ctx.require(S, Action::OauthClientManage)?;
    let client = find(ctx, id)?;
    let mut profile = self::profile(client);
    for op in ops {
        match (op.op, op.target()) {
            (PatchOp::Replace | PatchOp::Set | PatchOp::Add, "consentMethod") => {
                let method: String = op.value(S)?;
                profile.consent_method = Some(one_of("consentMethod", &method, CONSENT_METHODS)?);
            }
            _ => return Err(op.unsupported(S)),
        }
    }
    set_profile(ctx, client, profile, json!({ "connectionConfig": ops }))
}

/// `DELETE /oauth-clients/{id}/connection-configs/me` (204): back to the default consent method.
pub fn delete_connection_config(ctx: &Ctx<'_>, id: &str) -> Result<Mutation<()>, ApiError> {
    ctx.require(S, Action::OauthClientManage)?;
    let client = find(ctx, id)?;
    let profile = ClientProfile {
        consent_method: None,
        ..self::profile(client)
    };
    set_profile(ctx, client, profile, json!({ "connectionConfig": null }))
}

fn set_profile(ctx: &Ctx<'_>, client: &OauthClient, profile: ClientProfile, data: serde_json::Value) -> Result<Mutation<()>, ApiError> {
    let meta = Meta {
        client: Some(Box::new(profile)),
        ..client.meta.updated(ctx.now)
    };
    let note = AuditNote::new(EventType::OauthClientUpdated, "oauth-client", client.id.clone(), data);
    let change = Change::SetMeta {
        target: MetaTarget::Client(client.id.clone()),
        meta,
    };
    Ok(Mutation::new(vec![change], note, S, 400, ()))
}

/// `DELETE /oauth-clients/{id}` (204).
pub fn delete(ctx: &Ctx<'_>, id: &str) -> Result<Mutation<()>, ApiError> {
    ctx.require(S, Action::OauthClientManage)?;
    find(ctx, id)?;
    let note = AuditNote::new(EventType::OauthClientDeleted, "oauth-client", id, json!({}));
    Ok(Mutation::new(vec![Change::DeleteOauthClient { id: id.to_owned() }], note, S, 400, ()))
}
