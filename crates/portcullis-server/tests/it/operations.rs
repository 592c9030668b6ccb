//! `/health`, `/metrics`, `/openapi.json`, unknown routes and methods.

use axum::http::StatusCode;
use serde_json::json;

use crate::support::{OPERATOR, TestApp, assert_error};

#[tokio::test]
async fn health_metrics_and_openapi_answer() {
    let app = TestApp::new().await;
    let (status, health) = app.call("GET", "/health", None, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(health, json!({"status": "ok", "store": "sqlite", "tenants": 2}));

    let admin = app.key("demo", "admin").await;
    app.post("/v1/check", &admin, json!({"user": "ann", "action": "app:read", "resource": "budget"}))
        .await;
    let (status, metrics) = app.call("GET", "/metrics", Some(OPERATOR), None).await;
    assert_eq!(status, StatusCode::OK);
    let text = metrics.as_str().unwrap();
    for needle in [
        "portcullis_http_requests_total{method=\"POST\",route=\"/v1/check\",status=\"200\"} 1",
        "portcullis_http_request_duration_seconds_bucket{route=\"/v1/check\",le=\"+Inf\"} 1",
        "portcullis_decisions_total{decision=\"allow\"} 1",
        "portcullis_snapshot_revision{tenant=\"demo\"} 1",
    ] {
        assert!(text.contains(needle), "missing `{needle}` in:\n{text}");
    }

    // Without the operator token (or with a tenant's key): the same series, no tenant's name.
    for token in [None, Some(admin.as_str())] {
        let (status, metrics) = app.call("GET", "/metrics", token, None).await;
        assert_eq!(status, StatusCode::OK);
        let text = metrics.as_str().unwrap();
        assert!(text.contains("portcullis_decisions_total{decision=\"allow\"} 1"), "{text}");
        for name in ["demo", "other", "tenant="] {
            assert!(!text.contains(name), "`{name}` in the metrics without the operator token:\n{text}");
        }
    }

    let (status, doc) = app.call("GET", "/openapi.json", None, None).await;
    assert_eq!(status, StatusCode::OK);
    let paths = doc["paths"].as_object().unwrap();
    for path in [
        "/health",
        "/metrics",
        "/openapi.json",
        "/v1/check",
        "/v1/check/batch",
        "/v1/list-resources",
        "/v1/list-users",
        "/v1/whoami",
        "/v1/api-keys",
        "/v1/api-keys/{id}",
        "/v1/sessions",
        "/v1/changes",
        "/v1/oauth-clients/{id}/secrets",
        "/v1/operator/tenants/{name}",
        "/oauth/token",
        "/access/v1/evaluation",
        "/access/v1/evaluations",
        "/.well-known/authzen-configuration",
    ] {
        assert!(paths.contains_key(path), "the OpenAPI document lacks {path}");
    }
    assert!(doc["components"]["schemas"]["CheckRequest"].is_object());
}

#[tokio::test]
async fn unknown_routes_and_methods_get_json_errors() {
    let app = TestApp::new().await;
    assert_error(&app.call("GET", "/v2/nothing", None, None).await, StatusCode::NOT_FOUND, "no_route", None);
    assert_error(
        &app.call("GET", "/v1/check", None, None).await,
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        None,
    );
}

/// Every unknown route and wrong method answers JSON: the server's envelope outside
/// `/api/v1`, Qlik's `{errors: [...]}` inside it (merged routes like `/api/v1/audits` included).
#[tokio::test]
async fn every_router_answers_404_and_405_in_its_json_envelope() {
    let app = TestApp::new().await;
    for (method, path, status) in [
        ("DELETE", "/v1/rules/sites", StatusCode::METHOD_NOT_ALLOWED),
        ("POST", "/.well-known/authzen-configuration", StatusCode::METHOD_NOT_ALLOWED),
        ("DELETE", "/metrics", StatusCode::METHOD_NOT_ALLOWED),
        ("GET", "/v1/nothing/here", StatusCode::NOT_FOUND),
    ] {
        let answer = app.call(method, path, None, None).await;
        assert_eq!(answer.0, status, "{method} {path}: {}", answer.1);
        assert!(answer.1["code"].is_string(), "{method} {path}: {}", answer.1);
    }
    for (method, path, status) in [
        ("DELETE", "/api/v1/audits", StatusCode::METHOD_NOT_ALLOWED),
        ("DELETE", "/api/v1/users", StatusCode::METHOD_NOT_ALLOWED),
        ("PUT", "/api/v1/roles", StatusCode::METHOD_NOT_ALLOWED),
        ("GET", "/api/v1/nothing", StatusCode::NOT_FOUND),
        ("GET", "/api/v1/audits/x/y/z", StatusCode::NOT_FOUND),
        ("GET", "/api/v1", StatusCode::NOT_FOUND),
    ] {
        let answer = app.call(method, path, None, None).await;
        assert_eq!(answer.0, status, "{method} {path}: {}", answer.1);
        assert_eq!(answer.1["errors"][0]["status"], status.as_u16(), "{method} {path}: {}", answer.1);
    }
}
