//! The HTTP decision service: axum routes over the store and the engine.
//!
//! [`app`] builds the whole router from an [`AppState`] (tests drive it without sockets).
//! Requests authenticate with a bearer credential whose tenant is the request's tenant;
//! decisions read an immutable per-tenant snapshot, never the database; writes go to the
//! store, then the snapshot is rebuilt. Every error is an [`ApiError`] with a JSON body.
//!
//! This crate knows HTTP and JSON and nothing about SQL (the store's) or access rules (the
//! engine's).
#![warn(missing_docs)]

pub mod admin;
pub mod audit_integrity;
pub mod auth;
pub mod authzen;
pub mod decision;
pub mod decision_log;
pub mod dto;
pub mod edge;
pub mod err;
pub mod extract;
pub mod history;
pub mod listen;
pub mod metrics;
pub mod oauth;
pub mod ops;
pub mod qlik;
pub mod rules_api;
pub mod state;
pub mod whatif;

use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{MatchedPath, Request, State};
use axum::http::header;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::trace::TraceLayer;

pub use err::{ApiError, ErrorBody};
pub use listen::{ConnectionLimits, serve};
pub use portcullis_qlik_api::route_table::Route;
use portcullis_qlik_api::route_table::RouteTable;
pub use state::{AppState, ServerConfig};

/// The largest request body, on every route: room for a batch of 100,000 checks. A longer
/// one is answered 413 in the route's JSON error envelope (Qlik's under `/api/v1`).
pub const MAX_BODY_BYTES: usize = 16 * 1024 * 1024;

// A rule site is sent as one body: the store keeps any site the server can take.
const _: () = assert!(portcullis_store::MAX_RULE_SITE_BYTES == MAX_BODY_BYTES);

/// How long a request may take (reading its body included) before it is answered with a
/// 503, unless [`ServerConfig::request_timeout`] says otherwise.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// Every route the server answers, each from its handler's OpenAPI annotation; the document
/// ([`ops::ApiDoc`]) must list exactly these, which a test checks.
fn route_table(state: &AppState) -> RouteTable<AppState> {
    RouteTable::new()
        .add(ops::__path_health, ops::health)
        .add(ops::__path_metrics, ops::metrics)
        .add(ops::__path_openapi, ops::openapi)
        .add(decision::__path_check, decision::check)
        .add(decision::__path_check_batch, decision::check_batch)
        .add(decision::__path_list_resources, decision::list_resources)
        .add(decision::__path_list_users, decision::list_users)
        .add(admin::__path_whoami, admin::whoami)
        .add(admin::__path_create_api_key, admin::create_api_key)
        .add(admin::__path_list_api_keys, admin::list_api_keys)
        .add(admin::__path_revoke_api_key, admin::revoke_api_key)
        .add(admin::__path_login, admin::login)
        .add(admin::__path_apply_change, admin::apply_change)
        .add(whatif::__path_what_if, whatif::what_if)
        .add(history::__path_access_diff, history::access_diff)
        .add(admin::__path_create_client_secret, admin::create_client_secret)
        .add(admin::__path_import_tenant, admin::import_tenant)
        .add(admin::__path_delete_tenant, admin::delete_tenant)
        .add(oauth::__path_token, oauth::token)
        .add(authzen::__path_evaluation, authzen::evaluation)
        .add(authzen::__path_evaluations, authzen::evaluations)
        .add(authzen::__path_search_subject, authzen::search_subject)
        .add(authzen::__path_search_resource, authzen::search_resource)
        .add(authzen::__path_search_action, authzen::search_action)
        .add(authzen::__path_configuration, authzen::configuration)
        .nest("/api/v1", qlik::management_api(state.clone(), qlik_config(state)))
        .merge(portcullis_qlik_api::product_info_routes())
        .merge(rules_api::routes(state.clone()))
}

/// The routes the server answers (method and path), as its router serves them.
pub fn served_routes(state: &AppState) -> Vec<Route> {
    route_table(state).routes().to_vec()
}

/// The whole HTTP application: the API, and the console at `/` and `/console`, which calls
/// that very API (in-process, with the signed-in user's key) for every piece of data.
pub fn app(state: AppState) -> Router {
    let api = api(state.clone());
    // A console page is bounded in time as an API request is (a CSV export walks every page
    // of the audit trail).
    let console = guarded(
        portcullis_console::router(api.clone(), console_config(&state)),
        state.config().request_timeout,
    );
    // The console has no fallback: everything it does not serve is the API's (404s included).
    console.merge(api)
}

/// The console's routes (method, path): HTML for browsers, so not in the OpenAPI document.
pub fn console_routes() -> Vec<Route> {
    portcullis_console::ROUTES
        .iter()
        .map(|(method, path)| Route {
            method: (*method).to_owned(),
            path: (*path).to_owned(),
        })
        .collect()
}

/// The console's settings, from the server's: cookies are `Secure` behind an https public URL.
fn console_config(state: &AppState) -> portcullis_console::ConsoleConfig {
    let public_url = state.config().public_url.as_deref().unwrap_or_default();
    portcullis_console::ConsoleConfig {
        secure_cookies: public_url.to_ascii_lowercase().starts_with("https://"),
    }
}

/// The API: every route of the route table, with the layers every API answer goes through.
fn api(state: AppState) -> Router {
    let api = route_table(&state)
        .into_router()
        .fallback(ops::not_found)
        .method_not_allowed_fallback(ops::method_not_allowed)
        // Bodies sent without a length are cut at the limit as they are read (and the
        // extractors answer 413 in JSON); a declared length over it is refused before.
        .layer(middleware::from_fn(edge::refuse_bad_input))
        .layer(RequestBodyLimitLayer::new(MAX_BODY_BYTES))
        .layer(middleware::from_fn(limit_body))
        .layer(middleware::from_fn_with_state(state.clone(), observe))
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY_BYTES));
    guarded(api, state.config().request_timeout)
        .layer(middleware::from_fn(echo_request_id))
        .with_state(state)
}

/// The outer layers of every answer, API or console page: a request over `timeout` is
/// stopped and answered 503 in its route's error envelope, and a bug that panics in a handler
/// answers that request 500 (and is logged) instead of dropping its connection without a word.
fn guarded<S: Clone + Send + Sync + 'static>(router: Router<S>, timeout: std::time::Duration) -> Router<S> {
    router
        .layer(
            tower::ServiceBuilder::new()
                .layer(axum::error_handling::HandleErrorLayer::new(ops::timed_out))
                .layer(tower::timeout::TimeoutLayer::new(timeout)),
        )
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(ops::panicked))
        .layer(TraceLayer::new_for_http())
}

/// The header a client may identify a request by (AuthZEN's request identification).
const REQUEST_ID_HEADER: &str = "x-request-id";

/// Answers a request that carries `X-Request-ID` with the same header, whatever the answer
/// (AuthZEN requires it of a decision point; the other routes do it too).
async fn echo_request_id(request: Request, next: Next) -> Response {
    let id = request.headers().get(REQUEST_ID_HEADER).cloned();
    let mut response = next.run(request).await;
    if let Some(id) = id {
        response.headers_mut().insert(REQUEST_ID_HEADER, id);
    }
    response
}

/// The management API's settings, from the server's (read once, at start).
fn qlik_config(state: &AppState) -> portcullis_qlik_api::ApiConfig {
    let config = state.config();
    portcullis_qlik_api::ApiConfig {
        public_base_url: config.public_url.as_ref().map(|url| url.trim_end_matches('/').to_owned()),
        rate_limits: config.api_rate_limits,
        ..portcullis_qlik_api::ApiConfig::default()
    }
}

/// Refuses a request whose `Content-Length` is over [`MAX_BODY_BYTES`] before its body is
/// read: 413 in the JSON envelope of its route.
async fn limit_body(request: Request, next: Next) -> Response {
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_none_or(|length| length <= MAX_BODY_BYTES as u64) {
        return next.run(request).await;
    }
    if ops::is_qlik_path(request.uri().path()) {
        return ops::qlik_error(413, format!("the request body is longer than {MAX_BODY_BYTES} bytes"));
    }
    ApiError::body_too_large().into_response()
}

/// Counts every request by route and status, and its latency.
async fn observe(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().as_str().to_owned();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".to_owned());
    let response = next.run(request).await;
    state
        .metrics()
        .record_request(&method, &route, response.status().as_u16(), started.elapsed());
    response
}
