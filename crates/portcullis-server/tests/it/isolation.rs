//! Two tenants in one server cannot see each other's anything: every route answers another
//! tenant's object as if it did not exist.

use axum::http::StatusCode;
use serde_json::json;

use crate::support::{TestApp, assert_error};

#[tokio::test]
async fn two_tenants_cannot_see_each_others_anything() {
    let app = TestApp::new().await;
    let demo_admin = app.key("demo", "admin").await;
    let other_admin = app.key("other", "admin").await;

    // The same user ids live in both; a credential only ever reaches its own tenant.
    let (_, me) = app.call("GET", "/v1/whoami", Some(&other_admin), None).await;
    assert_eq!(me["tenant"], "other");
    let other_only = json!({"user": "admin", "action": "app:read", "resource": "other-only"});
    let (status, body) = app.post("/v1/check", &other_admin, other_only.clone()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_error(
        &app.post("/v1/check", &demo_admin, other_only).await,
        StatusCode::NOT_FOUND,
        "unknown_resource",
        Some("resource"),
    );

    let (_, body) = app
        .post("/v1/list-resources", &demo_admin, json!({"user": "admin", "action": "app:read"}))
        .await;
    assert!(!body.to_string().contains("other-only"), "{body}");
    let answer = app
        .post(
            "/access/v1/evaluation",
            &demo_admin,
            json!({"subject": {"type": "user", "id": "admin"}, "action": {"name": "app:read"}, "resource": {"type": "app", "id": "other-only"}}),
        )
        .await;
    assert_eq!(answer.1["decision"], false);
    assert_eq!(answer.1["context"]["error"]["code"], "unknown_resource");

    // Keys: another tenant's key is neither listed nor revocable (404, as if absent).
    let (_, created) = app.post("/v1/api-keys", &other_admin, json!({"user": "ann"})).await;
    let other_key_id = created["id"].as_i64().unwrap();
    let (_, listed) = app.call("GET", "/v1/api-keys", Some(&demo_admin), None).await;
    assert!(
        listed.as_array().unwrap().iter().all(|k| k["id"].as_i64() != Some(other_key_id)),
        "{listed}"
    );
    let answer = app.call("DELETE", &format!("/v1/api-keys/{other_key_id}"), Some(&demo_admin), None).await;
    assert_error(&answer, StatusCode::NOT_FOUND, "unknown_api_key", Some("id"));
    let (_, me) = app.call("GET", "/v1/whoami", created["token"].as_str(), None).await;
    assert_eq!(me["tenant"], "other", "the key still works: nothing was revoked");

    // Writes in one tenant change nothing in the other.
    let (status, body) = app
        .post("/v1/changes", &demo_admin, json!({"assign": {"role": "Exporters", "user": "bob"}}))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let bob_exports = json!({"user": "bob", "action": "app:exportdata", "resource": "sales-dashboard"});
    assert_eq!(app.post("/v1/check", &demo_admin, bob_exports.clone()).await.1["decision"], "allow");
    let (_, body) = app.post("/v1/check", &other_admin, bob_exports).await;
    assert_eq!((body["decision"].clone(), body["revision"].clone()), (json!("deny"), json!(1)));

    // OAuth: a client secret of one tenant does not name the other's client.
    let (_, secret) = app.post("/v1/oauth-clients/reporting/secrets", &other_admin, json!({})).await;
    let (_, token) = app
        .call(
            "POST",
            "/oauth/token",
            None,
            Some(json!({"grant_type": "client_credentials", "client_id": "reporting", "client_secret": secret["clientSecret"]})),
        )
        .await;
    let (_, me) = app.call("GET", "/v1/whoami", token["access_token"].as_str(), None).await;
    assert_eq!(me["tenant"], "other");
}
