//! The Qlik error envelope: `{"errors":[{"code","title","detail","status"}],"traceId"}`.
//!
//! Every refusal under `/api/v1` is an [`ApiError`], rendered as a [`Failure`] with a trace id:
//! the pure handlers', the router's, and the server's own answers there (a credential it
//! cannot check, an unknown route, a timeout, a body over the limit).
//! Codes follow Qlik's `<SERVICE>-<n>` pattern (`USERS-7` is "Not found", as in Qlik's
//! examples); 401 is `AUTH-1` and 429 `HTTP-429`, as the official client reports them.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use portcullis_model::ModelError;
use portcullis_model::tenant_ops::OpError;
use serde::{Deserialize, Serialize};

/// Which service an error comes from (the code's prefix).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Service {
    /// `/users`
    Users,
    /// `/groups`
    Groups,
    /// `/roles`
    Roles,
    /// `/spaces`
    Spaces,
    /// `/oauth-clients`
    OauthClients,
    /// `/api-keys`
    ApiKeys,
    /// `/items`
    Items,
    /// `/apps` (the owner change only)
    Apps,
    /// `/data-connections` (the owner change only)
    DataConnections,
    /// `/audits`
    Audits,
    /// `/tenants`
    Tenants,
    /// Anything else (unknown routes, the envelope itself).
    Api,
}

impl Service {
    fn prefix(self) -> &'static str {
        match self {
            Service::Users => "USERS",
            Service::Groups => "GROUPS",
            Service::Roles => "IDENTITIES",
            Service::Spaces => "SPACES",
            Service::OauthClients => "OAUTH-CLIENTS",
            Service::ApiKeys => "API-KEYS",
            Service::Items => "ITEMS",
            Service::Apps => "APPS",
            Service::DataConnections => "DATA-CONNECTIONS",
            Service::Audits => "AUDITS",
            Service::Tenants => "TENANTS",
            Service::Api => "HTTP",
        }
    }
}

/// A refused request: HTTP status, Qlik code, title and detail.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{status} {code}: {title}{}", detail.as_deref().map(|d| format!(" ({d})")).unwrap_or_default())]
pub struct ApiError {
    /// HTTP status.
    pub status: u16,
    /// Qlik code, e.g. `USERS-7`.
    pub code: String,
    /// Short title, e.g. `Not found`.
    pub title: String,
    /// What exactly, in one line (lowercase, user input in backticks).
    pub detail: Option<String>,
    /// The part of the request it is about, where Qlik names it: the query parameter, or a
    /// JSON Pointer into the body (`source` on the wire; named otherwise here because
    /// `thiserror` reads a field called `source` as the error's cause).
    /// Boxed: most errors have none, and the error stays small to return.
    pub part: Option<Box<ErrorSource>>,
}

fn number(status: u16) -> u16 {
    match status {
        400 => 3,
        403 => 11,
        404 => 7,
        409 => 9,
        412 => 12,
        _ => status,
    }
}

fn title(status: u16) -> &'static str {
    match status {
        400 => "Bad request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not found",
        405 => "Method not allowed",
        409 => "Conflict",
        412 => "Precondition failed",
        413 => "Payload too large",
        429 => "API rate limit reached.",
        503 => "Service unavailable",
        _ => "Internal server error",
    }
}

impl ApiError {
    /// An error of a service with a status and detail.
    pub fn new(service: Service, status: u16, detail: impl Into<String>) -> ApiError {
        let code = match (service, status) {
            (_, 401) => "AUTH-1".to_owned(),
            (_, 429) => "HTTP-429".to_owned(),
            (Service::Api, _) => format!("HTTP-{status}"),
            (service, status) => format!("{}-{}", service.prefix(), number(status)),
        };
        ApiError {
            status,
            code,
            title: title(status).to_owned(),
            detail: Some(detail.into()),
            part: None,
        }
    }

    /// This error, about the query parameter `name` (`source.parameter`).
    pub fn at_parameter(self, name: &str) -> ApiError {
        ApiError {
            part: Some(Box::new(ErrorSource {
                parameter: Some(name.to_owned()),
                pointer: None,
            })),
            ..self
        }
    }

    /// This error, about the body's value at `pointer` (a JSON Pointer, `source.pointer`).
    pub fn at_pointer(self, pointer: impl Into<String>) -> ApiError {
        ApiError {
            part: Some(Box::new(ErrorSource {
                parameter: None,
                pointer: Some(pointer.into()),
            })),
            ..self
        }
    }

    /// 400.
    pub fn bad_request(service: Service, detail: impl Into<String>) -> ApiError {
        ApiError::new(service, 400, detail)
    }

    /// 401: no or an unusable credential.
    pub fn unauthorized(detail: impl Into<String>) -> ApiError {
        ApiError::new(Service::Api, 401, detail)
    }

    /// 403.
    pub fn forbidden(service: Service, detail: impl Into<String>) -> ApiError {
        ApiError::new(service, 403, detail)
    }

    /// 404.
    pub fn not_found(service: Service, detail: impl Into<String>) -> ApiError {
        ApiError::new(service, 404, detail)
    }

    /// 409.
    pub fn conflict(service: Service, detail: impl Into<String>) -> ApiError {
        ApiError::new(service, 409, detail)
    }

    /// 500 without internals: the detail is for logs, not for clients.
    pub fn internal() -> ApiError {
        ApiError::new(Service::Api, 500, "the server failed to answer; try again")
    }

    /// Maps a refused model operation; `in_use_status` is the status of "still in use"
    /// (403 for roles, 412 for spaces, 409 for groups, 400 for users).
    pub fn from_op(service: Service, in_use_status: u16, error: OpError) -> ApiError {
        let detail = error.to_string();
        match error {
            OpError::Conflict { .. } => ApiError::conflict(service, detail),
            OpError::NotFound { .. } => ApiError::bad_request(service, detail),
            OpError::InUse { .. } => ApiError::new(service, in_use_status, detail),
            OpError::Invalid { .. } => ApiError::bad_request(service, detail),
            OpError::Model(model) => ApiError::from_model(service, model),
        }
    }

    /// Maps a model error (an unknown reference or a bad value): 400.
    pub fn from_model(service: Service, error: ModelError) -> ApiError {
        ApiError::bad_request(service, error.to_string())
    }

    /// The JSON body, with a trace id.
    pub fn envelope(&self, trace_id: &str) -> ErrorEnvelope {
        ErrorEnvelope {
            errors: vec![self.item(None)],
            trace_id: Some(trace_id.to_owned()),
        }
    }

    fn item(&self, pointer: Option<String>) -> ErrorItem {
        ErrorItem {
            code: self.code.clone(),
            title: self.title.clone(),
            detail: self.detail.clone(),
            status: Some(self.status),
            source: match pointer {
                Some(pointer) => Some(ErrorSource {
                    parameter: None,
                    pointer: Some(pointer),
                }),
                None => self.part.as_deref().cloned(),
            },
        }
    }

    /// The body of a `207 Multi-Status` answer: one item per failed part of the request, each
    /// pointing at it (`/2`: the third operation of a patch).
    pub fn multi_status(failed: &[(usize, ApiError)]) -> ErrorEnvelope {
        ErrorEnvelope {
            errors: failed.iter().map(|(index, error)| error.item(Some(format!("/{index}")))).collect(),
            trace_id: Some(trace_id()),
        }
    }
}

/// An error on its way out: the envelope, plus `retry-after` for 429.
#[derive(Debug)]
pub struct Failure {
    error: ApiError,
    retry_after: Option<u64>,
}

impl From<ApiError> for Failure {
    fn from(error: ApiError) -> Failure {
        Failure { error, retry_after: None }
    }
}

impl Failure {
    /// 429: over the caller's rate limit; `retry-after` says in how many seconds to try again.
    pub fn rate_limited(seconds: u64) -> Failure {
        Failure {
            error: ApiError::new(Service::Api, 429, format!("you need to wait {seconds} seconds until the limit is lifted")),
            retry_after: Some(seconds),
        }
    }

    /// The error inside.
    pub fn error(&self) -> &ApiError {
        &self.error
    }
}

static TRACE_COUNTER: AtomicU64 = AtomicU64::new(1);

/// A trace id: the time in nanoseconds and a counter, so two answers never share one.
fn trace_id() -> String {
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos() as u64).unwrap_or(0);
    let n = TRACE_COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("{:016x}{:08x}", nanos, n as u32)
}

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.error.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let trace = trace_id();
        if status.is_server_error() {
            tracing::warn!(trace_id = %trace, error = %self.error, "management API failure");
        }
        let mut response = (status, axum::Json(self.error.envelope(&trace))).into_response();
        if let Some(seconds) = self.retry_after
            && let Ok(value) = HeaderValue::from_str(&seconds.to_string())
        {
            response.headers_mut().insert(header::RETRY_AFTER, value);
        }
        response
    }
}

/// The JSON body of every error.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ErrorEnvelope {
    /// One item per problem (Portcullis sends one).
    pub errors: Vec<ErrorItem>,
    /// Correlates the response with the server's log.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub trace_id: Option<String>,
}

/// One problem.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ErrorItem {
    /// Qlik code.
    pub code: String,
    /// Short title.
    pub title: String,
    /// Details.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub detail: Option<String>,
    /// HTTP status.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub status: Option<u16>,
    /// What part of the request it is about.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub source: Option<ErrorSource>,
}

/// Where a problem is in the request (Qlik's `source`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ErrorSource {
    /// The query parameter at fault (`limit`, `filter`, ...).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub parameter: Option<String>,
    /// A JSON Pointer into the body (`/2`: the third operation of a patch; `/name`).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub pointer: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelope_has_qlik_shape() {
        let error = ApiError::not_found(Service::Users, "no user `x`");
        let json = serde_json::to_value(error.envelope("t1")).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"errors":[{"code":"USERS-7","title":"Not found","detail":"no user `x`","status":404}],"traceId":"t1"})
        );
        assert_eq!(ApiError::unauthorized("x").code, "AUTH-1");
        assert_eq!(ApiError::forbidden(Service::Audits, "x").code, "AUDITS-11");
        let at_limit = serde_json::to_value(ApiError::bad_request(Service::Users, "x").at_parameter("limit").envelope("t")).unwrap();
        assert_eq!(at_limit["errors"][0]["source"], serde_json::json!({ "parameter": "limit" }));
        let at_name = serde_json::to_value(ApiError::bad_request(Service::Users, "x").at_pointer("/name").envelope("t")).unwrap();
        assert_eq!(at_name["errors"][0]["source"], serde_json::json!({ "pointer": "/name" }));
    }

    #[test]
    fn a_rate_limited_answer_says_when_to_retry() {
        let response = Failure::rate_limited(7).into_response();
        assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(response.headers()[header::RETRY_AFTER], "7");
    }
}
