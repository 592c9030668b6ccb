//! Credentials: making and hashing secrets, and the [`Caller`] extractor that turns an
//! `Authorization: Bearer` header into a tenant and a principal. A request's tenant is the
//! tenant of its credential; nothing in a request body can name another tenant.
//!
//! Secrets are 32 random bytes, base64url, with a prefix that says what they are (`pc_` API
//! key, `pct_` OAuth access token, `pcs_` OAuth client secret). Only their SHA-256 is stored.

use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use base64::Engine as _;
use portcullis_engine::{Channel, Resource, Snapshot, UserIdx, allows};
use portcullis_model::Action;
use portcullis_store::SecretHash;
use sha2::{Digest, Sha256};

use crate::err::ApiError;
use crate::state::{AppState, TenantState, VerifiedCredential};

/// Prefix of API keys.
pub const API_KEY_PREFIX: &str = "pc_";
/// Prefix of OAuth access tokens.
pub const ACCESS_TOKEN_PREFIX: &str = "pct_";
/// Prefix of OAuth client secrets.
pub const CLIENT_SECRET_PREFIX: &str = "pcs_";
/// The header that names the tenant an operator acts in.
pub const TENANT_HEADER: &str = "portcullis-tenant";

/// A new random secret with a prefix, and its hash.
pub fn new_secret(prefix: &str) -> Result<(String, SecretHash), getrandom::Error> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes)?;
    let token = format!("{prefix}{}", base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes));
    let hash = hash_secret(&token);
    Ok((token, hash))
}

/// What an OAuth client secret is listed and revoked by: its last four characters (of a
/// random base64url secret, so safe in a path). The rest is never kept.
pub fn secret_hint(secret: &str) -> String {
    let start = secret.char_indices().rev().nth(3).map_or(0, |(at, _)| at);
    secret[start..].to_owned()
}

/// SHA-256 of a secret, as stored.
pub fn hash_secret(secret: &str) -> SecretHash {
    Sha256::digest(secret.as_bytes()).into()
}

/// Who is calling.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    /// A user of the tenant, through an API key or an OAuth token.
    User {
        /// The user's id.
        id: String,
        /// The credential's channel (an API key or an OAuth client): the caller's own rights
        /// are read through it.
        via: Channel,
    },
    /// The operator (automation): acts as an administrator in the tenant it names.
    Operator,
}

/// An authenticated caller: its tenant and principal.
#[derive(Debug, Clone)]
pub struct Caller {
    /// The tenant of the credential.
    pub tenant: Arc<TenantState>,
    /// Who.
    pub principal: Principal,
}

impl Caller {
    /// The caller's user id, when the caller is a user.
    pub fn user_id(&self) -> Option<&str> {
        match &self.principal {
            Principal::User { id, .. } => Some(id),
            Principal::Operator => None,
        }
    }

    /// Who the caller is, as audit events record it: the user and, for an OAuth token, the
    /// client acting for it; the operator acts as no user.
    pub fn author(&self) -> portcullis_store::Author {
        match &self.principal {
            Principal::User { id, via } => portcullis_store::Author::through(id.clone(), via),
            Principal::Operator => portcullis_store::Author::operator(),
        }
    }

    /// Whether the caller may take a tenant-level `action` (its own rights, through its own
    /// channel). The operator may take every action.
    pub fn may(&self, snapshot: &Snapshot, action: Action) -> bool {
        let Principal::User { id, via } = &self.principal else { return true };
        let Some(user) = snapshot.user_idx(id) else { return false };
        let Ok(channel) = via.try_map_client(|client| snapshot.client_idx(client).ok_or(())) else {
            return false;
        };
        allows(snapshot, user, channel, None, action, Resource::Tenant)
    }

    /// Refuses with 403 unless the caller may ask about `subject`: itself always; anyone else
    /// with `decision:ask-others` (TenantAdmin, or permission `evaluate-decisions-for-others`).
    pub fn check_may_ask_about(&self, snapshot: &Snapshot, subject: &str) -> Result<(), ApiError> {
        if self.user_id() == Some(subject) || self.may(snapshot, Action::DecisionAskOthers) {
            Ok(())
        } else {
            Err(
                ApiError::forbidden(format!("the caller may ask only about itself, not about `{subject}`"))
                    .hint("asking about other users needs the role TenantAdmin or a custom role with `evaluate-decisions-for-others: allowed`")
                    .field("user"),
            )
        }
    }

    /// Refuses with 403 unless the caller may take `action` (an administrative action).
    pub fn require(&self, snapshot: &Snapshot, action: Action) -> Result<(), ApiError> {
        if self.may(snapshot, action) {
            Ok(())
        } else {
            Err(ApiError::forbidden(format!("the caller may not `{action}`")).hint("ask a tenant administrator"))
        }
    }

    /// The caller's user index in a snapshot.
    pub fn user_idx(&self, snapshot: &Snapshot) -> Option<UserIdx> {
        self.user_id().and_then(|id| snapshot.user_idx(id))
    }
}

fn bearer(parts: &Parts) -> Result<&str, ApiError> {
    let header = parts
        .headers
        .get(axum::http::header::AUTHORIZATION)
        .ok_or_else(|| ApiError::unauthenticated("the request has no credentials"))?;
    let text = header
        .to_str()
        .map_err(|_| ApiError::unauthenticated("the Authorization header is not text"))?;
    let token = text
        .strip_prefix("Bearer ")
        .or_else(|| text.strip_prefix("bearer "))
        .ok_or_else(|| ApiError::unauthenticated("the Authorization header is not `Bearer <token>`"))?;
    Ok(token.trim())
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Caller, ApiError> {
        let token = bearer(parts)?;
        let hash = hash_secret(token);
        let now = portcullis_store::now();
        if state.config().operator_token_hash.is_some_and(|operator| operator == hash) {
            let name = parts.headers.get(TENANT_HEADER).and_then(|v| v.to_str().ok()).ok_or_else(|| {
                ApiError::bad_request("missing_tenant", "the operator must name a tenant").hint(format!("send the header `{TENANT_HEADER}: NAME`"))
            })?;
            let tenant = state
                .tenant_by_name(name)
                .await?
                .ok_or_else(|| ApiError::not_found("unknown_tenant", format!("unknown tenant `{name}`")).field(TENANT_HEADER))?;
            return Ok(Caller {
                tenant,
                principal: Principal::Operator,
            });
        }
        let epoch = state.credentials_epoch();
        let cached = state.verified_credential(&hash).filter(|c| c.expires_at.is_none_or(|at| now < at));
        let (tenant_id, user_id, via) = if let Some(credential) = cached {
            (credential.tenant, credential.user_id, credential.via)
        } else if token.starts_with(ACCESS_TOKEN_PREFIX) {
            let record = state
                .store()
                .oauth_token_by_hash(&hash)
                .await?
                .ok_or_else(|| ApiError::unauthenticated("the access token is not known"))?;
            if record.expires_at <= now {
                return Err(ApiError::unauthenticated("the access token has expired").hint("ask /oauth/token for a new one"));
            }
            let via = Channel::oauth(record.client_id);
            state.remember_credential(
                hash,
                VerifiedCredential::new(record.tenant, record.user_id.clone(), via.clone(), Some(record.expires_at)),
                epoch,
            );
            (record.tenant, record.user_id, via)
        } else {
            let record = state
                .store()
                .api_key_by_hash(&hash)
                .await?
                .ok_or_else(|| ApiError::unauthenticated("the API key is not known"))?;
            if !record.is_usable(now) {
                return Err(ApiError::unauthenticated("the API key is revoked or expired").hint("create a new API key"));
            }
            state.remember_credential(
                hash,
                VerifiedCredential::new(record.tenant, record.user_id.clone(), Channel::ApiKey, record.expires_at),
                epoch,
            );
            (record.tenant, record.user_id, Channel::ApiKey)
        };
        let tenant = state
            .tenant(tenant_id)
            .await?
            .ok_or_else(|| ApiError::unauthenticated("the credential's tenant no longer exists"))?;
        let view = tenant.view();
        if view.snapshot.user_idx(&user_id).is_none() {
            return Err(ApiError::unauthenticated("the credential's user no longer exists"));
        }
        // A token dies with its client, even when this node still remembers it.
        if let Some(client) = via.client()
            && view.snapshot.client_idx(client).is_none()
        {
            return Err(ApiError::unauthenticated("the token's OAuth client no longer exists"));
        }
        Ok(Caller {
            tenant,
            principal: Principal::User { id: user_id, via },
        })
    }
}
