//! The AuthZEN Authorization API: `/access/v1/evaluation(s)` and the metadata.

use axum::http::StatusCode;
use serde_json::json;

use crate::support::{TestApp, assert_error};

#[tokio::test]
async fn an_authzen_evaluation_answers_like_a_check() {
    let app = TestApp::new().await;
    let admin = app.key("demo", "admin").await;
    let request = json!({
        "subject": {"type": "user", "id": "ann"},
        "action": {"name": "app:exportdata"},
        "resource": {"type": "app", "id": "sales-dashboard"},
        "context": {"via": "api-key"}
    });
    let (status, body) = app.post("/access/v1/evaluation", &admin, request).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["decision"], true);
    assert!(body["context"]["reason_admin"]["en"].as_str().unwrap().contains("Exporters"));
    let tenant_level =
        json!({"subject": {"type": "user", "id": "admin"}, "action": {"name": "user:manage"}, "resource": {"type": "tenant", "id": "demo"}});
    assert_eq!(app.post("/access/v1/evaluation", &admin, tenant_level).await.1["decision"], true);
    let wrong_type = json!({"subject": {"type": "user", "id": "ann"}, "action": {"name": "app:read"}, "resource": {"type": "space", "id": "budget"}});
    let (_, body) = app.post("/access/v1/evaluation", &admin, wrong_type).await;
    assert_eq!(
        (body["decision"].clone(), body["context"]["error"]["code"].clone()),
        (json!(false), json!("wrong_resource_type"))
    );

    let ann = app.key("demo", "ann").await;
    let about_bob = json!({"subject": {"type": "user", "id": "bob"}, "action": {"name": "app:read"}, "resource": {"type": "app", "id": "budget"}});
    assert_error(
        &app.post("/access/v1/evaluation", &ann, about_bob).await,
        StatusCode::FORBIDDEN,
        "forbidden",
        Some("subject.id"),
    );
    assert_error(
        &app.post("/access/v1/evaluation", &ann, json!({"subject": "ann"})).await,
        StatusCode::BAD_REQUEST,
        "bad_json",
        None,
    );
}

#[tokio::test]
async fn authzen_evaluations_take_defaults_and_semantics() {
    let app = TestApp::new().await;
    let admin = app.key("demo", "admin").await;
    let request = json!({
        "subject": {"type": "user", "id": "carl"},
        "action": {"name": "app:read"},
        "evaluations": [
            {"resource": {"type": "app", "id": "forecast"}},
            {"resource": {"type": "app", "id": "budget"}},
            {"resource": {"type": "app", "id": "sales-dashboard"}},
            {"subject": {"type": "user", "id": "nobody"}, "resource": {"type": "app", "id": "budget"}},
            {"action": {"name": "app:read"}}
        ]
    });
    let (status, body) = app.post("/access/v1/evaluations", &admin, request.clone()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let decisions: Vec<bool> = body["evaluations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["decision"].as_bool().unwrap())
        .collect();
    assert_eq!(decisions, [true, false, true, false, false]);
    assert_eq!(body["evaluations"][3]["context"]["error"]["code"], "unknown_user");
    assert_eq!(body["evaluations"][4]["context"]["error"]["code"], "missing_part");
    let mut short = request;
    short["options"] = json!({"evaluations_semantic": "deny_on_first_deny"});
    let (_, body) = app.post("/access/v1/evaluations", &admin, short).await;
    assert_eq!(body["evaluations"].as_array().unwrap().len(), 2);
    let (status, meta) = app.call("GET", "/.well-known/authzen-configuration", None, None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(meta["access_evaluation_endpoint"].as_str().unwrap().ends_with("/access/v1/evaluation"));
}

/// With a public URL set, a client's `Host` header changes no absolute URL: not the AuthZEN
/// metadata, not the management API's links, not the audit log's.
#[tokio::test]
async fn a_forged_host_header_changes_no_url_when_the_public_url_is_set() {
    let app = TestApp::with_config(portcullis_server::ServerConfig {
        public_url: Some("https://pc.example.com/".to_owned()),
        ..Default::default()
    })
    .await;
    let admin = app.key("demo", "admin").await;
    let forged = |path: &str| {
        axum::http::Request::builder()
            .uri(path)
            .header("host", "evil.example")
            .header("authorization", format!("Bearer {admin}"))
            .body(axum::body::Body::empty())
            .unwrap()
    };
    let (status, meta) = app.send(forged("/.well-known/authzen-configuration")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(meta["policy_decision_point"], "https://pc.example.com");
    assert_eq!(meta["access_evaluation_endpoint"], "https://pc.example.com/access/v1/evaluation");
    assert_eq!(meta["access_evaluations_endpoint"], "https://pc.example.com/access/v1/evaluations");
    for path in ["/api/v1/users?limit=1", "/api/v1/audits/types"] {
        let (status, page) = app.send(forged(path)).await;
        assert_eq!(status, StatusCode::OK, "{path}: {page}");
        let text = page.to_string();
        assert!(!text.contains("evil.example"), "{path}: {text}");
        assert!(text.contains("https://pc.example.com/api/v1/"), "{path}: {text}");
    }

    // Without it, the Host header is used (documented).
    let app = TestApp::new().await;
    let (_, meta) = app.send(forged("/.well-known/authzen-configuration")).await;
    assert_eq!(meta["policy_decision_point"], "http://evil.example");
}
