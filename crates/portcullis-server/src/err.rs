//! The one HTTP error type: every failure a route can have becomes an [`ApiError`], rendered
//! as a status and JSON `{code, message, hint, field}`. Store and engine errors are mapped
//! here and nowhere else; no SQL, driver text or internal detail is ever sent to a client.

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use portcullis_engine::RequestError;
use portcullis_model::ModelError;
use portcullis_model::tenant_ops::OpError;
use portcullis_store::StoreError;
use serde::Serialize;
use utoipa::ToSchema;

/// A failed request: an HTTP status and a JSON body that says what, where, and what to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// The HTTP status.
    pub status: StatusCode,
    /// The body.
    pub body: ErrorBody,
    /// Seconds to wait before retrying (429), sent as `Retry-After`.
    pub retry_after: Option<u64>,
}

/// The JSON body of every error.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct ErrorBody {
    /// A stable, machine-readable code, e.g. `unknown_user`.
    pub code: &'static str,
    /// What went wrong, in one line.
    pub message: String,
    /// What to do about it, when we can say.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
    /// The request field at fault, when there is one (`user`, `resource`, `checks[3].action`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

impl ApiError {
    /// An error with a status, code and message.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            body: ErrorBody {
                code,
                message: message.into(),
                hint: None,
                field: None,
            },
            retry_after: None,
        }
    }

    /// Adds a hint.
    pub fn hint(mut self, hint: impl Into<String>) -> ApiError {
        self.body.hint = Some(hint.into());
        self
    }

    /// Names the field at fault.
    pub fn field(mut self, field: impl Into<String>) -> ApiError {
        self.body.field = Some(field.into());
        self
    }

    /// 400 with a code.
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, code, message)
    }

    /// 404 with a code.
    pub fn not_found(code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, code, message)
    }

    /// 401: no usable credential.
    pub fn unauthenticated(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::UNAUTHORIZED, "unauthenticated", message).hint("send `Authorization: Bearer <API key or access token>`")
    }

    /// 403: the caller may not do this.
    pub fn forbidden(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::FORBIDDEN, "forbidden", message)
    }

    /// 429: too many of these requests; try again in `seconds` (sent as `Retry-After`).
    pub fn too_many(message: impl Into<String>, seconds: u64) -> ApiError {
        let mut error = ApiError::new(StatusCode::TOO_MANY_REQUESTS, "too_many_requests", message).hint(format!("retry in {seconds} seconds"));
        error.retry_after = Some(seconds);
        error
    }

    /// 413: the request body is longer than [`crate::MAX_BODY_BYTES`].
    pub fn body_too_large() -> ApiError {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "body_too_large",
            format!("the request body is longer than {} bytes", crate::MAX_BODY_BYTES),
        )
        .hint("split the request; a body may hold at most 16 MiB")
    }

    /// A body that could not be read: 413 when it was over the limit, 400 otherwise.
    pub fn unreadable_body(status: StatusCode, detail: &str) -> ApiError {
        if status == StatusCode::PAYLOAD_TOO_LARGE || rejection_is_too_large(detail) {
            ApiError::body_too_large()
        } else {
            ApiError::bad_request("unreadable_body", format!("cannot read the body: {detail}"))
        }
    }

    /// 500/503 for failures that are not the caller's; the detail goes to the log only.
    pub fn internal(context: &str, detail: &dyn std::fmt::Display) -> ApiError {
        tracing::error!(%detail, "{context}");
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            format!("{context}; the server log has the details"),
        )
    }

    /// Prefixes the field with a path, e.g. `checks[3]`.
    pub fn within(mut self, prefix: &str) -> ApiError {
        self.body.field = Some(match self.body.field.take() {
            Some(field) => format!("{prefix}.{field}"),
            None => prefix.to_owned(),
        });
        self
    }
}

impl From<crate::decision_log::NotLogged> for ApiError {
    /// 503: a data-leaving decision whose event could not be stored is not answered.
    fn from(error: crate::decision_log::NotLogged) -> ApiError {
        tracing::error!(%error, "a data-leaving decision was not answered: its event could not be stored");
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "decision_not_logged",
            "the decision lets data leave and could not be written to the audit trail, so it is not answered",
        )
        .hint("retry; if it persists, the store is unavailable")
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let retry_after = self.retry_after;
        let mut response = (self.status, Json(self.body)).into_response();
        if let Some(seconds) = retry_after {
            response.headers_mut().insert(axum::http::header::RETRY_AFTER, seconds.into());
        }
        response
    }
}

impl From<getrandom::Error> for ApiError {
    fn from(error: getrandom::Error) -> ApiError {
        ApiError::internal("no randomness for a new secret", &error)
    }
}

impl From<portcullis_model::UnknownChannel> for ApiError {
    fn from(error: portcullis_model::UnknownChannel) -> ApiError {
        ApiError::bad_request("unknown_channel", error.to_string()).field("via")
    }
}

impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> ApiError {
        let message = rejection.body_text();
        match rejection {
            JsonRejection::MissingJsonContentType(_) => {
                ApiError::new(StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type", message).hint("send `Content-Type: application/json`")
            }
            JsonRejection::BytesRejection(_) if rejection_is_too_large(&message) => {
                ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "body_too_large", message).hint("split the request; a body may hold at most 16 MiB")
            }
            _ => ApiError::bad_request("bad_json", message).hint("see /openapi.json for the request's shape"),
        }
    }
}

fn rejection_is_too_large(message: &str) -> bool {
    message.contains("length limit") || message.contains("too large")
}

impl From<RequestError> for ApiError {
    fn from(error: RequestError) -> ApiError {
        let message = error.to_string();
        match error {
            RequestError::UnknownUser(_) => ApiError::not_found("unknown_user", message).field("user"),
            RequestError::UnknownClient(_) => ApiError::not_found("unknown_oauth_client", message).field("via"),
            RequestError::UnknownAction(name) => ApiError::bad_request("unknown_action", format!("unknown action `{name}`"))
                .hint(format!("known actions: {}", portcullis_model::Action::known_names()))
                .field("action"),
            RequestError::MissingResource { .. } => ApiError::bad_request("missing_resource", message).field("resource"),
            RequestError::UnexpectedResource { .. } => ApiError::bad_request("unexpected_resource", message)
                .hint("leave `resource` out for tenant-level actions")
                .field("resource"),
            RequestError::UnknownResource { .. } => ApiError::not_found("unknown_resource", message).field("resource"),
            RequestError::WrongResourceKind { .. } => ApiError::bad_request("wrong_resource_kind", message).field("resource"),
        }
    }
}

impl From<ModelError> for ApiError {
    fn from(error: ModelError) -> ApiError {
        let message = error.to_string();
        match error {
            ModelError::UnknownUser { .. } => ApiError::not_found("unknown_user", message).field("user"),
            ModelError::UnknownGroup { .. } => ApiError::not_found("unknown_group", message).field("group"),
            ModelError::UnknownRole { .. } => ApiError::not_found("unknown_role", message).field("role"),
            ModelError::AlreadyMember { .. } => ApiError::new(StatusCode::CONFLICT, "already_member", message),
            _ => ApiError::bad_request("invalid_change", message),
        }
    }
}

impl From<OpError> for ApiError {
    fn from(error: OpError) -> ApiError {
        let message = error.to_string();
        match error {
            OpError::Model(model) => model.into(),
            OpError::Conflict { .. } => ApiError::new(StatusCode::CONFLICT, "conflict", message),
            OpError::NotFound { .. } => ApiError::not_found("not_found", message),
            OpError::InUse { .. } => ApiError::new(StatusCode::CONFLICT, "in_use", message),
            OpError::Invalid { .. } => ApiError::bad_request("invalid_change", message),
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> ApiError {
        match error {
            StoreError::Rejected(refusal) => refusal.into(),
            StoreError::NotFound(what) => ApiError::not_found("not_found", format!("{what} was not found")),
            StoreError::Conflict(_) => {
                ApiError::new(StatusCode::CONFLICT, "conflict", "the write collided with another; nothing was changed").hint("retry the request")
            }
            StoreError::PreconditionFailed(message) => ApiError::new(StatusCode::PRECONDITION_FAILED, "precondition_failed", message)
                .hint("read it again and retry with the revision it is at now (its `ETag`)"),
            StoreError::LimitReached(message) => ApiError::new(StatusCode::CONFLICT, "limit_reached", message),
            StoreError::Unavailable(detail) => {
                tracing::error!(%detail, "the database is unavailable");
                ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "database_unavailable",
                    "the database is unavailable; try again shortly",
                )
            }
            other => ApiError::internal("the store failed", &other),
        }
    }
}
