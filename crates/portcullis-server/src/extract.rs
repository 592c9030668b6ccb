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
