//! Operations: `/health`, `/metrics` (Prometheus text), `/openapi.json` (generated from the
//! routes' annotations), and the JSON answers for unknown routes, wrong methods and timeouts.

use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi, ToSchema};

use crate::err::ApiError;
use crate::state::AppState;

/// The health answer.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Health {
    /// `ok` when the store answers.
    pub status: &'static str,
    /// `sqlite` or `postgres`.
    pub store: &'static str,
    /// Tenants loaded on this node.
    pub tenants: usize,
    /// The change feed from other nodes: `listening`, or `reconnecting` while its connection
    /// is being made again (other nodes' writes then arrive by the poll); absent without one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub feed: Option<&'static str>,
    /// For how long (ms) the feed has been in that state: while reconnecting, how long this
    /// node's views may have missed other nodes' writes (the poll, every `--poll-ms`, still
    /// catches up whenever the database answers).
    #[serde(rename = "feedSinceMs", skip_serializing_if = "Option::is_none")]
    pub feed_since_ms: Option<u64>,
}

/// How long `/health` waits for the store.
const HEALTH_PROBE: std::time::Duration = std::time::Duration::from_secs(2);

/// Health: 200 when the store answers, 503 when it does not (decisions still go on from this
/// node's views; the answer's hint says how long the change feed has been down).
#[utoipa::path(get, path = "/health", tag = "operations", responses((status = 200, description = "Healthy", body = Health), (status = 503, description = "The store does not answer", body = crate::err::ErrorBody)))]
pub async fn health(State(state): State<AppState>) -> Result<Json<Health>, ApiError> {
    // A probe answers quickly: the pool would wait up to 10 s for a connection.
    let answered = match tokio::time::timeout(HEALTH_PROBE, state.store().tenants()).await {
        Ok(answered) => answered.map(drop),
        Err(_) => Err(portcullis_store::StoreError::Unavailable(format!(
            "the database did not answer within {} s",
            HEALTH_PROBE.as_secs()
        ))),
    };
    if let Err(error) = answered {
        let error = ApiError::from(error);
        let unanswered = match state.store().unreachable_for() {
            Some(down) => format!("the database has not answered for {} ms; ", down.as_millis()),
            None => String::new(),
        };
        return Err(match state.feed_state() {
            Some((false, down)) => error.hint(format!(
                "{unanswered}decisions are answered from this node's views, which have not heard other nodes' writes for {} ms",
                down.as_millis()
            )),
            _ => error.hint(format!("{unanswered}decisions are answered from this node's views")),
        });
    }
    let store = match state.store().backend() {
        portcullis_store::Backend::Sqlite => "sqlite",
        portcullis_store::Backend::Postgres => "postgres",
    };
    let feed = state.feed_state();
    Ok(Json(Health {
        status: "ok",
        store,
        tenants: state.tenants().len(),
        feed: feed.map(|(listening, _)| if listening { "listening" } else { "reconnecting" }),
        feed_since_ms: feed.map(|(_, since)| since.as_millis() as u64),
    }))
}

/// Prometheus metrics. Tenants' names (the per-tenant snapshot revisions and audit chain
/// states) are shown to the operator only (`Authorization: Bearer <operator token>`): anyone may scrape the rest, which
/// names routes and outcomes but no tenant.
#[utoipa::path(get, path = "/metrics", tag = "operations", responses((status = 200, description = "Prometheus text format; per-tenant series only for the operator", body = String, content_type = "text/plain")))]
pub async fn metrics(State(state): State<AppState>, headers: axum::http::HeaderMap) -> impl IntoResponse {
    let operator = state.config().operator_token_hash.is_some_and(|operator| {
        headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .is_some_and(|token| crate::auth::hash_secret(token.trim()) == operator)
    });
    let revisions: Vec<(String, u64)> = if operator {
        state.tenants().iter().map(|t| (t.name.clone(), t.view().snapshot.revision)).collect()
    } else {
        Vec::new()
    };
    let chains = crate::metrics::AuditChains {
        n_broken: state.audit_integrity().n_broken(),
        per_tenant: if operator { state.audit_integrity().statuses() } else { Vec::new() },
    };
    (
        [(header::CONTENT_TYPE, crate::metrics::CONTENT_TYPE)],
        state.metrics().render(&revisions, &chains),
    )
}

/// The OpenAPI document of every route.
#[utoipa::path(get, path = "/openapi.json", tag = "operations", responses((status = 200, description = "OpenAPI 3.1", body = Object)))]
pub async fn openapi() -> impl IntoResponse {
    Json(ApiDoc::openapi())
}

/// 404 for a route that does not exist (in Qlik's envelope under `/api/v1`).
pub async fn not_found(uri: axum::http::Uri) -> Response {
    let path = uri.path();
    if is_qlik_path(path) {
        return qlik_error(404, format!("there is no route `{path}`"));
    }
    ApiError::not_found("no_route", format!("there is no route `{path}`"))
        .hint("see /openapi.json for the routes")
        .into_response()
}

/// 405 for a known route with another method (in Qlik's envelope under `/api/v1`).
pub async fn method_not_allowed(method: axum::http::Method, uri: axum::http::Uri) -> Response {
    let message = format!("`{}` does not take {method}", uri.path());
    if is_qlik_path(uri.path()) {
        return qlik_error(405, message);
    }
    ApiError::new(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed", message)
        .hint("see /openapi.json for the routes")
        .into_response()
}

/// Whether a path is under the Qlik-compatible API, whose errors use Qlik's envelope.
pub fn is_qlik_path(path: &str) -> bool {
    path == "/api/v1" || path.starts_with("/api/v1/")
}

/// An error in Qlik's envelope, for answers given outside the Qlik router.
pub fn qlik_error(status: u16, message: String) -> Response {
    let error = portcullis_qlik_api::ApiError::new(portcullis_qlik_api::err::Service::Api, status, message);
    portcullis_qlik_api::Failure::from(error).into_response()
}

/// One of the server's own errors under `/api/v1`: its status, and its message and hint as
/// the detail, in Qlik's envelope (a store failure's detail stays in the log, as everywhere).
pub fn in_qlik_envelope(error: ApiError) -> Response {
    let detail = match error.body.hint {
        Some(hint) => format!("{}; {hint}", error.body.message),
        None => error.body.message,
    };
    qlik_error(error.status.as_u16(), detail)
}

/// The answer when a request took longer than the server's timeout, in its route's envelope
/// (Qlik's under `/api/v1`, as the document says).
pub async fn timed_out(uri: axum::http::Uri, error: tower::BoxError) -> Response {
    if !error.is::<tower::timeout::error::Elapsed>() {
        return ApiError::internal("the request failed", &error).into_response();
    }
    let message = "the request took too long and was stopped";
    if is_qlik_path(uri.path()) {
        return qlik_error(503, message.to_owned());
    }
    ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "timeout", message)
        .hint("retry, or split a large batch")
        .into_response()
}

/// The security schemes, and the error responses every route shares because its layers
/// answer them (so a handler's annotation lists only its own), each in its route's envelope.
struct Conventions;

/// What every route may answer before or around its handler: 400 (a control character in
/// the path or query, or a query string that does not decode, see `edge.rs`) and 503 (the
/// request timed out, or the store is down).
const SHARED_ERRORS: &[(&str, &str)] = &[
    (
        "400",
        "A parameter or the body is not valid (a control character, a query string that does not decode, a field of the wrong type)",
    ),
    ("503", "The request took too long, or the store is unavailable"),
];

impl Modify for Conventions {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::path::Operation;
        use utoipa::openapi::{ContentBuilder, Ref, ResponseBuilder};

        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "An API key (`pc_...`), an OAuth access token (`pct_...`), or the operator token with the header `portcullis-tenant: NAME`",
                    ))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "operator",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("The operator token (`portcullis serve --operator-token`)"))
                    .build(),
            ),
        );
        for (path, item) in openapi.paths.paths.iter_mut() {
            let envelope = if path == "/oauth/token" {
                "OauthError"
            } else if is_qlik_path(path) {
                "ErrorEnvelope"
            } else {
                "ErrorBody"
            };
            let operations: [&mut Option<Operation>; 5] = [&mut item.get, &mut item.post, &mut item.put, &mut item.patch, &mut item.delete];
            for operation in operations.into_iter().flatten() {
                let secured = operation.security.as_ref().is_some_and(|s| !s.is_empty());
                let takes_body = operation.request_body.is_some();
                let mut shared: Vec<(&str, &str)> = SHARED_ERRORS.to_vec();
                if secured {
                    shared.push(("401", "No usable credential"));
                }
                if takes_body {
                    shared.push(("413", "The body is longer than 16 MiB"));
                }
                // The server's JSON extractor refuses another content type; the Qlik API reads
                // the bytes whatever their label, as Qlik does.
                let json_body = operation
                    .request_body
                    .as_ref()
                    .is_some_and(|body| body.content.contains_key("application/json"));
                if json_body && !is_qlik_path(path) {
                    shared.push(("415", "The body is not labelled `Content-Type: application/json`"));
                }
                if is_qlik_path(path) && secured || path == "/v1/sessions" || path == "/oauth/token" {
                    shared.push(("429", "Too many requests; see `Retry-After`"));
                }
                let responses = &mut operation.responses.responses;
                for (status, description) in shared {
                    responses
                        .entry(status.to_owned())
                        .or_insert_with(|| ResponseBuilder::new().description(description).into());
                }
                for (status, response) in responses.iter_mut() {
                    let utoipa::openapi::RefOr::T(response) = response else { continue };
                    if status.starts_with(['4', '5']) && response.content.is_empty() {
                        let content = ContentBuilder::new().schema(Some(Ref::from_schema_name(envelope))).build();
                        response.content.insert("application/json".to_owned(), content);
                    }
                }
            }
        }
    }
}

/// The OpenAPI document: every route the router serves (a test checks it against the
/// router's [`crate::served_routes`]), the Qlik-compatible API nested under `/api/v1`.
#[derive(OpenApi)]
#[openapi(
    info(title = "Portcullis", description = "Authorization decisions for the Qlik Cloud access model, with their reasons."),
    paths(
        health, metrics, openapi,
        crate::decision::check, crate::decision::check_batch, crate::decision::list_resources, crate::decision::list_users,
        crate::admin::whoami, crate::admin::create_api_key, crate::admin::list_api_keys, crate::admin::revoke_api_key,
        crate::admin::login, crate::admin::apply_change, crate::admin::create_client_secret,
        crate::admin::import_tenant, crate::admin::delete_tenant,
        crate::whatif::what_if, crate::history::access_diff,
        crate::oauth::token,
        crate::authzen::evaluation, crate::authzen::evaluations, crate::authzen::search_subject,
        crate::authzen::search_resource, crate::authzen::search_action, crate::authzen::configuration,
        crate::rules_api::list_sites, crate::rules_api::put_site, crate::rules_api::get_site, crate::rules_api::delete_site, crate::rules_api::check,
        crate::rules_api::put_qrs_site, crate::rules_api::get_qrs_site,
        portcullis_qlik_api::routes::product_info,
    ),
    components(schemas(crate::err::ErrorBody, crate::oauth::OauthError)),
    nest((path = "/api/v1", api = portcullis_qlik_api::openapi::QlikApiDoc)),
    modifiers(&Conventions)
)]
pub struct ApiDoc;

/// The answer to a request whose handler panicked: 500 in the server's JSON shape, the panic
/// logged (its message may hold internals, so it is not sent).
pub(crate) fn panicked(panic: Box<dyn std::any::Any + Send + 'static>) -> axum::response::Response {
    let message = panic
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| panic.downcast_ref::<&str>().copied())
        .unwrap_or("(no message)");
    tracing::error!(panic = message, "a request's handler panicked");
    ApiError::new(
        axum::http::StatusCode::INTERNAL_SERVER_ERROR,
        "internal",
        "the request failed inside the server; it was logged",
    )
    .into_response()
}

#[cfg(test)]
mod panic_tests {
    use std::convert::Infallible;

    use axum::body::Body;
    use axum::http::{Request, Response, StatusCode};
    use tower::{Service as _, ServiceBuilder};
    use tower_http::catch_panic::CatchPanicLayer;

    #[tokio::test]
    async fn a_panicking_handler_is_answered_500_in_json() {
        let mut service = ServiceBuilder::new()
            .layer(CatchPanicLayer::custom(super::panicked))
            .service_fn(|request: Request<Body>| async move {
                if request.uri().path() == "/boom" {
                    panic!("internal detail");
                }
                Ok::<_, Infallible>(Response::new(Body::empty()))
            });
        let response = service.call(Request::get("/boom").body(Body::empty()).unwrap()).await.unwrap();
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let body = axum::body::to_bytes(Body::new(response.into_body()), 1 << 16).await.unwrap();
        let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(body["code"], "internal");
        assert!(
            !body.to_string().contains("internal detail"),
            "the panic's message stays in the log: {body}"
        );
    }
}
