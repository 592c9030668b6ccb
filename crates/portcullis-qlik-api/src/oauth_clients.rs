//! `/oauth-clients`: list, create (the secret is shown once, by the router, from
//! [`crate::ApiHost::create_client_secret`]), get, patch (`/clientName`, `/allowedScopes`,
//! `/allowedGrantTypes`) and delete. Everything needs `oauth-client:manage`. Portcullis keeps
//! a client's id, name, scopes and whether it may impersonate users; the other request fields
//! are echoed at creation but not stored.
//!
//! A client's id is random (the router draws it, [`new_client_id`]), never derived from its
//! name: a client deleted and created again under the same name is another client, and what
//! was issued to the old one (secrets, tokens) names an id nobody gets again.
//!
//! Every client may use `client_credentials`; the user-impersonation grant, which mints
//! tokens for any user of the tenant, only when `allowedGrantTypes` lists it (off by default).

use portcullis_audit::EventType;
use portcullis_model::{Action, Meta, MetaTarget, OauthClient, Tenant};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::caller::Ctx;
use crate::dto::ListDto;
use crate::err::{ApiError, Service};
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
    /// Always `web` (a confidential client).
    pub app_type: &'static str,
    /// Scopes the client may ask for.
    pub allowed_scopes: Vec<String>,
    /// `client_credentials`, and the impersonation grant when the client may impersonate.
    pub allowed_grant_types: Vec<&'static str>,
    /// Always `user`.
    pub created_by_type: &'static str,
    /// Tenant id.
    pub tenant_id: String,
    /// The secret, only in the response that created it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<String>,
    /// When the API created the client (absent for clients from a tenant file).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created_at: Option<String>,
    /// When the API last changed the client.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<String>,
    /// `self`.
    pub links: SelfLink,
}

/// A client as the API shows it.
pub fn client_dto(tenant: &Tenant, api_base: &str, client: &OauthClient) -> OauthClientDto {
    OauthClientDto {
        links: SelfLink::new(api_base, &format!("/oauth-clients/{}", client.id)),
        client_id: client.id.clone(),
        client_name: client.name.clone(),
        app_type: "web",
        allowed_scopes: client.scopes.clone(),
        allowed_grant_types: grant_types(client),
        created_by_type: "user",
        tenant_id: ids::tenant_id(&tenant.name),
        client_secret: None,
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
        "appType" => vec!["web".to_owned()],
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

/// `GET /oauth-clients/{id}`.
pub fn get(ctx: &Ctx<'_>, id: &str) -> Result<OauthClientDto, ApiError> {
    ctx.require(S, Action::OauthClientManage)?;
    Ok(client_dto(ctx.tenant, ctx.api_base, find(ctx, id)?))
}

/// The scopes asked for; `user_default` when none are given.
fn scopes(asked: Option<Vec<String>>) -> Vec<String> {
    asked.unwrap_or_else(|| vec!["user_default".to_owned()])
}

/// `POST /oauth-clients`. Qlik's other fields (`redirectUris`, `allowedOrigins`, `logoUri`, ...)
/// are ignored: Portcullis keeps no record of them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct OauthClientCreate {
    /// Name.
    #[schema(required = true, value_type = String)]
    pub client_name: Option<String>,
    /// `web` only.
    pub app_type: Option<String>,
    /// Scopes the client may ask for (`user_default` when absent).
    pub allowed_scopes: Option<Vec<String>>,
    /// `client_credentials`, and `urn:qlik:oauth:user-impersonation` to act as users.
    pub allowed_grant_types: Option<Vec<String>>,
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
    if let Some(app_type) = body.app_type.as_deref().filter(|t| *t != "web") {
        return Err(ApiError::bad_request(
            S,
            format!("Portcullis supports `web` clients only, not `{app_type}`"),
        ));
    }
    let allowed_scopes = scopes(body.allowed_scopes.clone());
    let impersonation = impersonation(body.allowed_grant_types.as_deref())?.unwrap_or(false);
    if ctx.tenant.oauth_client(new_id).is_some() {
        // 128 random bits do not collide; if they ever did, the client asks again.
        return Err(ApiError::conflict(S, "the new client's id is taken; send the request again"));
    }
    let id = new_id.to_owned();
    let client = OauthClient {
        meta: Meta::created(ctx.now),
        id: id.clone(),
        name: name.to_owned(),
        scopes: allowed_scopes.clone(),
        impersonation,
    };
    let note = AuditNote::new(
        EventType::OauthClientCreated,
        "oauth-client",
        id.clone(),
        json!({ "clientName": name, "allowedScopes": allowed_scopes, "allowedGrantTypes": grant_types(&client) }),
    );
    Ok(Mutation::then(vec![Change::CreateOauthClient { client }], note, S, 400, move |ctx| {
        let client = ctx.tenant.oauth_client(&id).ok_or_else(ApiError::internal)?;
        Ok(client_dto(ctx.tenant, ctx.api_base, client))
    }))
}

/// `PATCH /oauth-clients/{id}`: `replace` of `/clientName`, `/allowedScopes` or
/// `/allowedGrantTypes` (204).
pub fn patch(ctx: &Ctx<'_>, id: &str, ops: &[PatchOperation]) -> Result<Mutation<()>, ApiError> {
    ctx.require(S, Action::OauthClientManage)?;
    let client = find(ctx, id)?;
    let mut changes = Vec::new();
    for op in ops {
        changes.push(match (op.op, op.target()) {
            (PatchOp::Replace, "clientName") => Change::UpdateOauthClient {
                id: id.to_owned(),
                name: Some(op.value(S)?),
                scopes: None,
                impersonation: None,
            },
            (PatchOp::Replace, "allowedScopes") => Change::UpdateOauthClient {
                id: id.to_owned(),
                name: None,
                scopes: Some(scopes(op.optional_value(S)?)),
                impersonation: None,
            },
            (PatchOp::Replace, "allowedGrantTypes") => Change::UpdateOauthClient {
                id: id.to_owned(),
                name: None,
                scopes: None,
                impersonation: Some(impersonation(op.optional_value::<Vec<String>>(S)?.as_deref())?.unwrap_or(false)),
            },
            _ => return Err(op.unsupported(S)),
        });
    }
    changes.push(Change::SetMeta {
        target: MetaTarget::Client(id.to_owned()),
        meta: client.meta.updated(ctx.now),
    });
    let note = AuditNote::new(EventType::OauthClientUpdated, "oauth-client", id, json!({ "patch": ops }));
    Ok(Mutation::new(changes, note, S, 400, ()))
}

/// `DELETE /oauth-clients/{id}` (204).
pub fn delete(ctx: &Ctx<'_>, id: &str) -> Result<Mutation<()>, ApiError> {
    ctx.require(S, Action::OauthClientManage)?;
    find(ctx, id)?;
    let note = AuditNote::new(EventType::OauthClientDeleted, "oauth-client", id, json!({}));
    Ok(Mutation::new(vec![Change::DeleteOauthClient { id: id.to_owned() }], note, S, 400, ()))
}
