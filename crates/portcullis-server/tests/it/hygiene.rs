//! Control characters (NUL above all, which PostgreSQL cannot store) in ids and names are
//! refused at the edge with 400 naming the field, in JSON bodies, path and query parameters,
//! on PostgreSQL, where they used to come back as 500/503.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use portcullis_model::tenant_file::load_tenant_text;
use portcullis_server::{AppState, ServerConfig, app};
use portcullis_store::{ImportMode, Store};
use serde_json::{Value, json};
use tower::ServiceExt as _;

use crate::support::{DEMO, OPERATOR};

async fn postgres() -> Option<Arc<dyn Store>> {
    let url = std::env::var("PORTCULLIS_TEST_POSTGRES").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned());
    match tokio::time::timeout(std::time::Duration::from_secs(5), portcullis_store::open(&url)).await {
        Ok(Ok(store)) => Some(store),
        outcome => {
            if std::env::var("PORTCULLIS_REQUIRE_POSTGRES").is_ok_and(|v| v == "1") {
                panic!("PostgreSQL is required but {url} did not open: {:?}", outcome.map(|r| r.err()));
            }
            eprintln!("skipped (no PostgreSQL): hygiene");
            None
        }
    }
}

/// One request as the operator acting in `tenant`; the status and the JSON answer.
async fn call(router: &axum::Router, tenant: &str, method: &str, path: &str, body: Option<Value>) -> (StatusCode, Value) {
    let request = Request::builder()
        .method(method)
        .uri(path)
        .header("authorization", format!("Bearer {OPERATOR}"))
        .header("portcullis-tenant", tenant)
        .header("content-type", "application/json");
    let request = request.body(body.map_or_else(Body::empty, |b| Body::from(b.to_string()))).unwrap();
    let response = router.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap();
    (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
}

#[tokio::test]
async fn control_characters_are_refused_with_400_naming_the_field_on_postgres() {
    let Some(store) = postgres().await else { return };
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let name = format!("hygiene-{}-{nanos}", std::process::id());
    let mut demo = load_tenant_text("demo", DEMO).unwrap();
    demo.name = name.clone();
    store
        .import_tenant(&demo, ImportMode::Replace, &portcullis_store::Author::cli())
        .await
        .unwrap();
    let config = ServerConfig {
        operator_token_hash: Some(portcullis_server::auth::hash_secret(OPERATOR)),
        ..ServerConfig::default()
    };
    let router = app(AppState::new(store.clone(), config).await.unwrap());

    // The server's own routes: `{code, field}`.
    for (method, path, body, field) in [
        (
            "POST",
            "/v1/check",
            Some(json!({"user": "ann\u{0}", "action": "app:read", "resource": "budget"})),
            "user",
        ),
        (
            "POST",
            "/v1/check/batch",
            Some(
                json!({"checks": [{"user": "ann", "action": "app:read", "resource": "budget"}, {"user": "ann", "action": "app:read", "resource": "bud\u{0}get"}]}),
            ),
            "checks[1].resource",
        ),
        (
            "POST",
            "/v1/changes",
            Some(json!({"assign": {"role": "Exporters", "user": "b\u{1}ob"}})),
            "assign.user",
        ),
        ("DELETE", "/v1/api-keys/1%00", None, "id"),
        ("PUT", "/v1/rules/sites/a%00b", Some(json!({"rules": []})), "name"),
    ] {
        let (status, answer) = call(&router, &name, method, path, body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{method} {path}: {answer}");
        assert_eq!(answer["code"], "control_character", "{method} {path}: {answer}");
        assert_eq!(answer["field"], field, "{method} {path}: {answer}");
    }
    // The management API: Qlik's envelope, the field named in the detail.
    for (method, path, body, field) in [
        ("POST", "/api/v1/users", Some(json!({"name": "Eve\u{0}", "subject": "eve"})), "name"),
        (
            "POST",
            "/api/v1/groups",
            Some(json!({"name": "g\u{0}", "providerType": "custom"})),
            "name",
        ),
        ("GET", "/api/v1/users/a%00b", None, "id"),
        ("GET", "/api/v1/users?subject=a%00b", None, "subject"),
        ("GET", "/api/v1/audits?eventType=x%00", None, "eventType"),
    ] {
        let (status, answer) = call(&router, &name, method, path, body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{method} {path}: {answer}");
        let detail = answer["errors"][0]["detail"].as_str().unwrap_or_default();
        assert!(detail.contains(&format!("`{field}`")), "{method} {path}: {answer}");
    }
    // Tabs and line breaks are not refused at the edge (free text may hold them).
    let (status, answer) = call(
        &router,
        &name,
        "POST",
        "/v1/check",
        Some(json!({"user": "line\tone", "action": "app:read", "resource": "budget"})),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{answer}");
    assert_eq!(answer["code"], "unknown_user", "{answer}");

    let record = store.tenant_by_name(&name).await.unwrap().expect("the tenant");
    store.delete_tenant(record.id).await.unwrap();
}
