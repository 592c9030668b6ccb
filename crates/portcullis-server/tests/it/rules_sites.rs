//! Security-rule sites over HTTP: load a site (every problem refused with its line), decide
//! with explanations, per-tenant isolation, and who may do what.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use serde_json::json;

use crate::support::{TestApp, assert_error};

const SITE: &str = r#"
users:
  - { userDirectory: ACME, userId: ann, groups: [proj1_aud1] }
  - { userDirectory: ACME, userId: bob, groups: [finance] }
resources:
  - { id: s1, type: Stream, name: Proj1_Aud1, customProperties: { GroupAccess: [proj1_aud1] } }
rules:
  - name: ResourceAccess
    resourceFilter: Stream_*
    condition: resource.@GroupAccess = user.group
    actions: [read]
"#;

async fn put_site(app: &TestApp, token: &str, name: &str, text: &str) -> (StatusCode, serde_json::Value) {
    let request = Request::builder()
        .method("PUT")
        .uri(format!("/v1/rules/sites/{name}"))
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "application/yaml")
        .body(Body::from(text.to_owned()))
        .expect("a valid request");
    app.send(request).await
}

#[tokio::test]
async fn a_site_is_loaded_and_decides_with_its_reasons() {
    let app = TestApp::new().await;
    let admin = app.key("demo", "admin").await;
    let (status, body) = put_site(&app, &admin, "acme", SITE).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["rules"], 1);

    let ask = |user: &str| json!({"user": user, "action": "read", "resource": "s1", "context": "hub"});
    let (status, answer) = app.post("/v1/rules/sites/acme/check", &admin, ask("ACME\\ann")).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["decision"], "allow");
    assert_eq!(answer["explanation"]["tokens"], json!(["rule:ResourceAccess"]));
    let (_, answer) = app.post("/v1/rules/sites/acme/check", &admin, ask("ACME\\bob")).await;
    assert_eq!(answer["decision"], "deny");
    assert_eq!(answer["explanation"]["tokens"], json!(["no-grant"]));

    assert_error(
        &app.post("/v1/rules/sites/acme/check", &admin, ask("ACME\\zed")).await,
        StatusCode::NOT_FOUND,
        "unknown_user",
        Some("user"),
    );
    let bad_context = json!({"user": "ACME\\ann", "action": "read", "resource": "s1", "context": "desk"});
    assert_error(
        &app.post("/v1/rules/sites/acme/check", &admin, bad_context).await,
        StatusCode::BAD_REQUEST,
        "unknown_context",
        Some("context"),
    );
}

#[tokio::test]
async fn a_bad_site_is_refused_with_every_problem_and_keeps_the_old_one() {
    let app = TestApp::new().await;
    let admin = app.key("demo", "admin").await;
    assert_eq!(put_site(&app, &admin, "acme", SITE).await.0, StatusCode::OK);
    let broken = SITE.replace("resource.@GroupAccess = user.group", "resource.stream.HasPrivelage(\"read\")");
    let (status, body) = put_site(&app, &admin, "acme", &broken).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let message = body["message"].as_str().unwrap();
    assert!(
        message.contains("HasPrivelage") && message.contains("ResourceAccess") && message.contains("line 10"),
        "{message}"
    );
    // Nothing was replaced: the old site still answers.
    let ask = json!({"user": "ACME\\ann", "action": "read", "resource": "s1", "context": "hub"});
    assert_eq!(app.post("/v1/rules/sites/acme/check", &admin, ask).await.1["decision"], "allow");
}

#[tokio::test]
async fn sites_belong_to_their_tenant_and_need_admin_rights() {
    let app = TestApp::new().await;
    let admin = app.key("demo", "admin").await;
    let other_admin = app.key("other", "admin").await;
    let bob = app.key("demo", "bob").await;
    assert_eq!(put_site(&app, &admin, "acme", SITE).await.0, StatusCode::OK);
    let ask = json!({"user": "ACME\\ann", "action": "read", "resource": "s1", "context": "hub"});
    assert_error(
        &app.post("/v1/rules/sites/acme/check", &other_admin, ask.clone()).await,
        StatusCode::NOT_FOUND,
        "unknown_site",
        None,
    );
    assert_eq!(app.post("/v1/rules/sites/acme/check", &bob, ask).await.0, StatusCode::FORBIDDEN);
    assert_eq!(put_site(&app, &bob, "mine", SITE).await.0, StatusCode::FORBIDDEN);
    assert_eq!(app.call("GET", "/v1/rules/sites", None, None).await.0, StatusCode::UNAUTHORIZED);
    let (_, listed) = app.call("GET", "/v1/rules/sites", Some(&admin), None).await;
    assert_eq!(listed["sites"], json!(["acme"]));
    assert_eq!(
        app.call("DELETE", "/v1/rules/sites/acme", Some(&admin), None).await.0,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        app.call("DELETE", "/v1/rules/sites/acme", Some(&admin), None).await.0,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn site_changes_and_rule_exports_leave_audit_events() {
    let app = TestApp::new().await;
    let admin = app.key("demo", "admin").await;
    let with_export = SITE.replace("actions: [read]", "actions: [read, exportdata]");
    assert_eq!(put_site(&app, &admin, "acme", &with_export).await.0, StatusCode::OK);
    let (_, changes) = app
        .call("GET", "/api/v1/audits?eventType=com.qlik.v1.security-rule.updated", Some(&admin), None)
        .await;
    let change = &changes["data"][0];
    assert_eq!(change["data"]["resource"]["id"], "acme", "{changes}");
    assert_eq!(change["userId"], "admin");

    let ask = json!({"user": "ACME\\bob", "action": "exportdata", "resource": "s1", "context": "hub"});
    assert_eq!(app.post("/v1/rules/sites/acme/check", &admin, ask).await.1["decision"], "deny");
    for _ in 0..50 {
        let (_, found) = app
            .call(
                "GET",
                "/api/v1/audits?eventType=com.qlik.v1.security-rule.export.decided",
                Some(&admin),
                None,
            )
            .await;
        if let Some(event) = found["data"].as_array().and_then(|d| d.first()) {
            assert_eq!(event["data"]["decision"], "deny");
            assert_eq!(event["data"]["explanation"]["tokens"], json!(["no-grant"]));
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("the denied rule-model export was not logged");
}
