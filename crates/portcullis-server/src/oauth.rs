//! `POST /oauth/token`: OAuth 2.0 access tokens for the tenant's OAuth clients, with the
//! grants `client_credentials` (the token acts as the secret's bot user) and
//! `urn:qlik:oauth:user-impersonation` (the token acts as the user named by `user_lookup`;
//! only for a client whose `impersonation` flag is on, since such a token acts as anyone).
//! A token carries its client's scopes: decisions through it read `oauth:<client>`. Every
//! token issued is an audit event (`com.qlik.v1.oauth-token.issued`: the client, the user,
//! the grant, the scopes, when), stored with the token in one transaction.
//!
//! Errors here use OAuth's own shape (`{"error", "error_description"}`, RFC 6749 §5.2),
//! because OAuth client libraries read that shape; every other route uses `ApiError`.

use std::collections::HashMap;

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

use crate::auth::{ACCESS_TOKEN_PREFIX, hash_secret, new_secret};
use crate::state::AppState;

/// How long an access token lives: 6 hours.
pub const TOKEN_SECONDS: i64 = 6 * 3600;
/// The impersonation grant's name.
pub const IMPERSONATION_GRANT: &str = portcullis_store::IMPERSONATION_GRANT;

/// An access token.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TokenResponse {
    /// The token (`pct_...`), shown once.
    pub access_token: String,
    /// `Bearer`.
    pub token_type: &'static str,
    /// Seconds until it expires.
    pub expires_in: i64,
    /// The scopes it carries, space-separated.
    pub scope: String,
}

/// An OAuth error (RFC 6749 §5.2).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct OauthError {
    /// `invalid_request`, `invalid_client`, `invalid_grant`, `unauthorized_client`,
    /// `unsupported_grant_type`.
    pub error: &'static str,
    /// In words.
    pub error_description: String,
}

fn oauth_error(status: StatusCode, error: &'static str, description: impl Into<String>) -> Response {
    (
        status,
        Json(OauthError {
            error,
            error_description: description.into(),
        }),
    )
        .into_response()
}

/// Reads the token request's fields from a form or JSON body (flattening `user_lookup`).
/// A refused token request: status, OAuth error code, description.
type Refusal = (StatusCode, &'static str, String);

fn fields(headers: &HeaderMap, body: &[u8]) -> Result<HashMap<String, String>, Refusal> {
    let is_json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if !is_json {
        return serde_urlencoded::from_bytes::<Vec<(String, String)>>(body)
            .map(|pairs| pairs.into_iter().collect())
            .map_err(|e| (StatusCode::BAD_REQUEST, "invalid_request", format!("the form cannot be read: {e}")));
    }
    let value: Value =
        serde_json::from_slice(body).map_err(|e| (StatusCode::BAD_REQUEST, "invalid_request", format!("the JSON cannot be read: {e}")))?;
    let Value::Object(object) = value else {
        return Err((StatusCode::BAD_REQUEST, "invalid_request", "the body must be a JSON object".to_owned()));
    };
    let mut out = HashMap::new();
    for (key, value) in object {
        match value {
            Value::String(text) => {
                out.insert(key, text);
            }
            Value::Object(inner) => {
                for (inner_key, inner_value) in inner {
                    if let Value::String(text) = inner_value {
                        out.insert(format!("{key}[{inner_key}]"), text);
                    }
                }
            }
            _ => {}
        }
    }
    Ok(out)
}

/// Issues an access token.
#[utoipa::path(
    post, path = "/oauth/token", tag = "credentials",
    request_body(content = Object, description = "grant_type, client_id, client_secret; for impersonation user_lookup {field: subject, value}", content_type = "application/x-www-form-urlencoded"),
    responses((status = 200, description = "A token", body = TokenResponse), (status = 400, description = "Bad request or grant", body = OauthError), (status = 401, description = "Bad client credentials", body = OauthError))
)]
pub async fn token(State(state): State<AppState>, headers: HeaderMap, body: Result<Bytes, BytesRejection>) -> Response {
    let body = match body {
        Ok(body) => body,
        Err(rejection) => {
            let error = crate::err::ApiError::unreadable_body(rejection.status(), &rejection.body_text());
            return oauth_error(error.status, "invalid_request", error.body.message);
        }
    };
    let fields = match fields(&headers, &body) {
        Ok(fields) => fields,
        Err((status, error, description)) => return oauth_error(status, error, description),
    };
    let get = |key: &str| fields.get(key).map(String::as_str).filter(|v| !v.is_empty());
    let (Some(grant_type), Some(client_id), Some(client_secret)) = (get("grant_type"), get("client_id"), get("client_secret")) else {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "`grant_type`, `client_id` and `client_secret` are required",
        );
    };
    // Counted before the secret is checked: guesses at a client's secret are slowed as well.
    if let Err(seconds) = state.count_issue("oauth", client_id) {
        let mut response = oauth_error(
            StatusCode::TOO_MANY_REQUESTS,
            "too_many_requests",
            format!("too many token requests for client `{client_id}`; retry in {seconds} seconds"),
        );
        response.headers_mut().insert(axum::http::header::RETRY_AFTER, seconds.into());
        return response;
    }
    let secret = match state.store().client_secret_by_hash(&hash_secret(client_secret)).await {
        Ok(Some(secret)) if secret.client_id == client_id => secret,
        Ok(_) => return oauth_error(StatusCode::UNAUTHORIZED, "invalid_client", "the client id and secret do not match"),
        Err(error) => return crate::err::ApiError::from(error).into_response(),
    };
    let tenant = match state.tenant(secret.tenant).await {
        Ok(Some(tenant)) => tenant,
        Ok(None) => return oauth_error(StatusCode::UNAUTHORIZED, "invalid_client", "the client's tenant no longer exists"),
        Err(error) => return crate::err::ApiError::from(error).into_response(),
    };
    let view = tenant.view();
    let Some(client) = view.snapshot.client_idx(client_id).map(|idx| view.snapshot.client(idx)) else {
        return oauth_error(StatusCode::UNAUTHORIZED, "invalid_client", "the OAuth client no longer exists");
    };
    let user = match grant_type {
        "client_credentials" => secret.bot_user.clone(),
        IMPERSONATION_GRANT => {
            // Read from the live model (the snapshot does not carry the flag); the store checks
            // it again when it stores the token, in case it was turned off meanwhile.
            let may_impersonate = tenant.live().await.tenant.oauth_client(client_id).is_some_and(|c| c.impersonation);
            if !may_impersonate {
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    "unauthorized_client",
                    format!("OAuth client `{client_id}` may not impersonate users"),
                );
            }
            let field = get("user_lookup[field]").unwrap_or("subject");
            if field != "subject" {
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_request",
                    format!("user_lookup field `{field}` is not supported; use `subject`"),
                );
            }
            match get("user_lookup[value]").or_else(|| get("subject")) {
                Some(subject) => subject.to_owned(),
                None => {
                    return oauth_error(
                        StatusCode::BAD_REQUEST,
                        "invalid_request",
                        "impersonation needs `user_lookup[value]` (the user's subject)",
                    );
                }
            }
        }
        other => {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
                format!("grant `{other}` is not supported; use `client_credentials` or `{IMPERSONATION_GRANT}`"),
            );
        }
    };
    if view.snapshot.user_idx(&user).is_none() {
        return oauth_error(StatusCode::BAD_REQUEST, "invalid_grant", format!("unknown user `{user}`"));
    }
    let scopes: Vec<String> = client.scopes.names().to_vec();
    let (access_token, hash) = match new_secret(ACCESS_TOKEN_PREFIX) {
        Ok(pair) => pair,
        Err(error) => return crate::err::ApiError::from(error).into_response(),
    };
    // The event's actor is the user the token acts as, with the client acting for it, as for
    // every write made through such a token.
    let author = portcullis_store::Author::through(user.clone(), &portcullis_model::Channel::oauth(client_id));
    let record = portcullis_store::NewOauthToken {
        tenant: tenant.id,
        client_id: client_id.to_owned(),
        user_id: user,
        scopes: scopes.clone(),
        hash,
        expires_at: portcullis_store::now() + TOKEN_SECONDS,
        grant_type: grant_type.to_owned(),
        secret_id: secret.id,
    };
    match state.store().create_oauth_token(&record, &author).await {
        Ok(()) => {}
        // The client, its secret or the user went away, or the client lost the impersonation
        // flag, after the checks above.
        Err(portcullis_store::StoreError::NotFound(what)) => {
            return oauth_error(StatusCode::UNAUTHORIZED, "invalid_client", format!("{what} no longer exists"));
        }
        Err(portcullis_store::StoreError::Rejected(why)) => {
            return oauth_error(StatusCode::BAD_REQUEST, "unauthorized_client", why.to_string());
        }
        Err(error) => return crate::err::ApiError::from(error).into_response(),
    }
    Json(TokenResponse {
        access_token,
        token_type: "Bearer",
        expires_in: TOKEN_SECONDS,
        scope: scopes.join(" "),
    })
    .into_response()
}
