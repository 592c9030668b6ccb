//! `ApiJson<T>`: axum's JSON extractor with its rejections turned into [`ApiError`]s, so a
//! malformed, oversized or mistyped body gets the same JSON error shape as everything else;
//! `ApiText` does the same for a text body (a YAML file).

use axum::extract::{FromRequest, Request};
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
