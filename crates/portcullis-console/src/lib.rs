//! The web console: server-rendered HTML pages that `portcullis serve` answers at `/console`.
//!
//! Every page's data comes from the server's own API, called in-process with the signed-in
//! user's API key ([`api::Api`]), so the console can never show or do what the API would refuse
//! that user. Pages are [`maud`] templates, checked when the crate compiles and escaped by
//! default; the stylesheet is embedded in the binary. No script is needed: links, forms and
//! `<details>` carry every interaction, so the pages work from the keyboard and without network
//! access to anything but the server.
//!
//! This crate knows neither the server's types nor its state: it gets the API as an axum
//! `Router` and reads its JSON. It does not register its routes in the OpenAPI document (they
//! answer HTML to browsers, not JSON to scripts); [`ROUTES`] lists them instead.
#![warn(missing_docs)]

pub mod api;
pub mod explorer;
pub mod layout;
pub mod logs;
pub mod session;
pub mod sign_in;

#[cfg(test)]
mod tests;

use axum::Router;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};

use crate::api::{Api, ApiFailure};
use crate::session::{SESSION_COOKIE, Session};

/// The console's routes (method, path): the console's own list, kept beside the router that
/// serves them (the server's tests check the OpenAPI document lists none of them).
pub const ROUTES: &[(&str, &str)] = &[
    ("GET", "/"),
    ("GET", "/console"),
    ("GET", "/console/sign-in"),
    ("POST", "/console/sign-in"),
    ("POST", "/console/sign-out"),
    ("GET", "/console/users/{user}"),
    ("GET", "/console/apps/{app}"),
    ("GET", "/console/check"),
    ("GET", "/console/downloads"),
    ("GET", "/console/downloads.csv"),
    ("GET", "/console/history"),
    ("GET", "/console/assets/console.css"),
];

/// The stylesheet, embedded.
const STYLESHEET: &str = include_str!("../assets/console.css");

/// How the console is served.
#[derive(Debug, Clone, Default)]
pub struct ConsoleConfig {
    /// Mark cookies `Secure` (the server's public URL is https).
    pub secure_cookies: bool,
}

/// What the console's handlers share.
#[derive(Clone)]
pub struct Console {
    api: Api,
    config: ConsoleConfig,
}

/// The console's router, calling `api` (the server's API router, without the console) for
/// every piece of data.
pub fn router(api: Router, config: ConsoleConfig) -> Router {
    let console = Console { api: Api::new(api), config };
    Router::new()
        .route("/", get(|| async { Redirect::to("/console") }))
        .route("/console", get(explorer::home))
        .route("/console/sign-in", get(sign_in::form).post(sign_in::submit))
        .route("/console/sign-out", post(sign_in::sign_out))
        .route("/console/users/{user}", get(explorer::user))
        .route("/console/apps/{app}", get(explorer::app))
        .route("/console/check", get(explorer::check))
        .route("/console/downloads", get(logs::downloads))
        .route("/console/downloads.csv", get(logs::downloads_csv))
        .route("/console/history", get(logs::history))
        .route("/console/assets/console.css", get(stylesheet))
        .with_state(console)
}

async fn stylesheet() -> Response {
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static("text/css; charset=utf-8")),
            (header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=3600")),
        ],
        STYLESHEET,
    )
        .into_response()
}

/// A page's signed-in user; a request without a session is sent to the sign-in page.
pub struct SignedIn(pub Session);

impl<S: Send + Sync> FromRequestParts<S> for SignedIn {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<SignedIn, Response> {
        Session::of(&parts.headers)
            .map(SignedIn)
            .ok_or_else(|| Redirect::to("/console/sign-in").into_response())
    }
}

/// An HTML answer with the console's headers: never cached (pages show one user's data), never
/// framed, and no script or style from anywhere but the server.
pub fn html(status: StatusCode, markup: maud::Markup) -> Response {
    let mut response = (status, markup.into_string()).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"),
    );
    response
}

impl Console {
    /// A page's answer when the API refused its main call: a revoked or expired key signs the
    /// user out; anything else is shown as the API's refusal, with its status.
    fn refused(&self, title: &str, section: layout::Section, session: &Session, failure: &ApiFailure) -> Response {
        if failure.status == 401 {
            let mut response = Redirect::to("/console/sign-in").into_response();
            let cookie = session::clear_cookie(SESSION_COOKIE, self.config.secure_cookies);
            if let Ok(value) = HeaderValue::from_str(&cookie) {
                response.headers_mut().insert(header::SET_COOKIE, value);
            }
            return response;
        }
        let status = StatusCode::from_u16(failure.status).unwrap_or(StatusCode::BAD_GATEWAY);
        html(status, layout::page(title, section, Some(session), layout::refusal(failure)))
    }
}

/// `/console/...` with its path segment encoded.
pub fn segment(text: &str) -> String {
    percent_encoding::utf8_percent_encode(text, percent_encoding::NON_ALPHANUMERIC).to_string()
}
