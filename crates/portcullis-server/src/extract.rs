//! `ApiJson<T>`: axum's JSON extractor with its rejections turned into [`ApiError`]s, so a
//! malformed, oversized or mistyped body gets the same JSON error shape as everything else;
//! `ApiText` does the same for a text body (a YAML file), `ApiPath` and `ApiQuery` for path
//! and query parameters (axum's own answer those in plain text).

use axum::extract::{FromRequest, FromRequestParts, Path, Query, Request};
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use crate::err::ApiError;

/// A JSON body, or a 400/413/415 [`ApiError`] that says what is wrong with it.
#[derive(Debug, Clone)]
pub struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<ApiJson<T>, ApiError> {
        match axum::Json::<T>::from_request(request, state).await {
            Ok(axum::Json(value)) => Ok(ApiJson(value)),
            Err(rejection) => Err(rejection.into()),
        }
    }
}

/// A UTF-8 text body, or a 400/413 [`ApiError`] that says what is wrong with it.
#[derive(Debug, Clone)]
pub struct ApiText(pub String);

impl<S: Send + Sync> FromRequest<S> for ApiText {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<ApiText, ApiError> {
        String::from_request(request, state)
            .await
            .map(ApiText)
            .map_err(|rejection| ApiError::unreadable_body(rejection.status(), &rejection.body_text()))
    }
}

/// Path parameters, or a 400 [`ApiError`] naming what cannot be read (a number out of range,
/// percent-encoding that is not UTF-8).
#[derive(Debug, Clone)]
pub struct ApiPath<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for ApiPath<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<ApiPath<T>, ApiError> {
        match Path::<T>::from_request_parts(parts, state).await {
            Ok(Path(value)) => Ok(ApiPath(value)),
            Err(rejection) => Err(ApiError::bad_request("bad_path", rejection.body_text()).hint("see /openapi.json for the route's parameters")),
        }
    }
}

/// Query parameters, or a 400 [`ApiError`] naming the one that cannot be read.
#[derive(Debug, Clone)]
pub struct ApiQuery<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<ApiQuery<T>, ApiError> {
        match Query::<T>::from_request_parts(parts, state).await {
            Ok(Query(value)) => Ok(ApiQuery(value)),
            Err(rejection) => Err(ApiError::bad_request("bad_query", rejection.body_text()).hint("see /openapi.json for the route's parameters")),
        }
    }
}

/// The request header that carries a consistency token: answer at this tenant revision or
/// later (a revision a write answered with, on any node). The same as `minRevision` in the
/// bodies that have it; every read API takes it.
pub const MIN_REVISION_HEADER: &str = "portcullis-min-revision";

/// The response header naming the tenant revision an answer was made at (for a write: a
/// revision that includes it), where the body has no `revision` of its own.
pub const REVISION_HEADER: &str = "portcullis-revision";

/// The [`MIN_REVISION_HEADER`] of a request, if sent; anything but a number is a 400.
#[derive(Debug, Clone, Copy, Default)]
pub struct MinRevision(pub Option<u64>);

impl MinRevision {
    /// The header and a body's `minRevision` together: the later of the two.
    pub fn or(self, body: Option<u64>) -> Option<u64> {
        self.0.max(body)
    }

    /// Reads the header from `headers`.
    pub fn from_headers(headers: &axum::http::HeaderMap) -> Result<MinRevision, ApiError> {
        let Some(value) = headers.get(MIN_REVISION_HEADER) else {
            return Ok(MinRevision(None));
        };
        value
            .to_str()
            .ok()
            .and_then(|text| text.trim().parse::<u64>().ok())
            .map(|revision| MinRevision(Some(revision)))
            .ok_or_else(|| {
                ApiError::bad_request("bad_min_revision", format!("the `{MIN_REVISION_HEADER}` header is not a revision number"))
                    .hint("send a revision a write answered with, e.g. `Portcullis-Min-Revision: 42`")
                    .field(MIN_REVISION_HEADER)
            })
    }
}

impl<S: Send + Sync> FromRequestParts<S> for MinRevision {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<MinRevision, ApiError> {
        MinRevision::from_headers(&parts.headers)
    }
}
