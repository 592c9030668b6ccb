//! The audit trail over HTTP (`/api/v1/audits`, Qlik's shape): who may read it, filters,
//! cursor paging with absolute links, single events, types, sources and settings.

use std::time::Duration;

use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::support::TestApp;

async fn events(app: &TestApp, token: &str, query: &str) -> Value {
    let (status, body) = app.call("GET", &format!("/api/v1/audits{query}"), Some(token), None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

#[tokio::test]
async fn admins_read_changes_and_exports_with_qlik_fields_and_absolute_paging() {
    let app = TestApp::new().await;
    let admin = app.key("demo", "admin").await;
    let (status, body) = app
        .post("/v1/changes", &admin, json!({"assign": {"role": "Exporters", "user": "bob"}}))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // A denied data export is logged (off the hot path): wait for it to land.
    let (_, decision) = app
        .post(
            "/v1/check",
            &admin,
            json!({"user": "carl", "action": "app:exportdata", "resource": "sales-dashboard"}),
        )
        .await;
    assert_eq!(decision["decision"], "deny");
    let mut exports = Value::Null;
    for _ in 0..50 {
        exports = events(&app, &admin, "?eventType=com.qlik.v1.app.data.exported").await;
        if !exports["data"].as_array().unwrap().is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let export = &exports["data"][0];
    assert_eq!(export["source"], "com.qlik/decisions");
    assert_eq!(export["data"]["decision"], "deny");
    assert_eq!(export["data"]["resource"]["id"], "sales-dashboard");
    assert_eq!(
        export["extensions"]["spaceId"],
        portcullis_qlik_api::ids::space_id("sales-published"),
        "the space's API id"
    );
    assert_eq!(export["tenantId"], portcullis_qlik_api::ids::tenant_id("demo"), "the tenant's API id");
    assert!(export["data"]["explanation"].to_string().contains("user-default"), "{export}");

    // Newest first; paging by one follows absolute `next` links to older events.
    let first = events(&app, &admin, "?limit=1").await;
    assert_eq!(first["data"].as_array().unwrap().len(), 1);
    let next = first["links"]["next"]["href"].as_str().expect("a next link").to_owned();
    assert!(next.starts_with("http://"), "{next}");
    let path = next.split_once("127.0.0.1").map(|(_, p)| p.to_owned()).unwrap();
    let (_, second) = app.call("GET", &path, Some(&admin), None).await;
    let (a, b) = (
        first["data"][0]["id"].as_str().unwrap().parse::<u64>().unwrap(),
        second["data"][0]["id"].as_str().unwrap().parse::<u64>().unwrap(),
    );
    assert!(b < a, "{a} then {b}");
    assert!(second["links"]["prev"]["href"].is_string(), "{second}");

    // One event by id; types and sources.
    let (status, one) = app.call("GET", &format!("/api/v1/audits/{a}"), Some(&admin), None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(one["id"], first["data"][0]["id"]);
    let (status, missing) = app.call("GET", "/api/v1/audits/999999", Some(&admin), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(missing["errors"][0]["title"], "Not found");
    let (_, types) = app.call("GET", "/api/v1/audits/types", Some(&admin), None).await;
    assert!(types["data"].as_array().unwrap().iter().any(|t| t == "com.qlik.v1.user.updated"));
    let (_, sources) = app.call("GET", "/api/v1/audits/sources", Some(&admin), None).await;
    assert!(sources["data"].as_array().unwrap().iter().any(|s| s == "com.qlik/decisions"));

    // Filters: by user and by time range.
    let admin_id = portcullis_qlik_api::ids::user_id("admin");
    let by_admin = events(&app, &admin, &format!("?userId={admin_id}&limit=100")).await;
    assert!(!by_admin["data"].as_array().unwrap().is_empty());
    assert!(by_admin["data"].as_array().unwrap().iter().all(|e| e["userId"] == admin_id.as_str()));
    let none = events(&app, &admin, "?eventTime=2000-01-01T00:00:00Z/2000-01-02T00:00:00Z").await;
    assert!(none["data"].as_array().unwrap().is_empty());
    let (status, bad) = app.call("GET", "/api/v1/audits?eventTime=yesterday", Some(&admin), None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(bad["errors"][0]["detail"].as_str().unwrap().contains("start/end"));
}

#[tokio::test]
async fn only_audit_readers_see_the_trail_and_only_admins_change_its_settings() {
    let app = TestApp::new().await;
    let admin = app.key("demo", "admin").await;
    let bob = app.key("demo", "bob").await;
    let (status, body) = app.call("GET", "/api/v1/audits", Some(&bob), None).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert!(body["traceId"].is_string() && body["errors"][0]["code"].is_string(), "{body}");
    assert_eq!(app.call("GET", "/api/v1/audits", None, None).await.0, StatusCode::UNAUTHORIZED);

    let (status, settings) = app.call("GET", "/api/v1/audits/settings", Some(&admin), None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(settings["data"]["decisionLogMode"], "off");
    let change = json!({"decisionLogMode": "denies", "retentionDays": 90});
    assert_eq!(
        app.call("PUT", "/api/v1/audits/settings", Some(&bob), Some(change.clone())).await.0,
        StatusCode::FORBIDDEN
    );
    let (status, updated) = app.call("PUT", "/api/v1/audits/settings", Some(&admin), Some(change)).await;
    assert_eq!(status, StatusCode::OK, "{updated}");
    assert_eq!(updated["data"]["decisionLogMode"], "denies");
    assert_eq!(updated["data"]["EventTTL"], 90 * 86_400);
    let (status, _) = app
        .call(
            "PUT",
            "/api/v1/audits/settings",
            Some(&admin),
            Some(json!({"decisionLogMode": "sometimes"})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    // An AuditAdmin reads the trail and its settings, but changing them is `audit:manage`.
    let (status, body) = app
        .post("/v1/changes", &admin, json!({"assign": {"role": "AuditAdmin", "user": "bob"}}))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(app.call("GET", "/api/v1/audits", Some(&bob), None).await.0, StatusCode::OK);
    let (status, settings) = app.call("GET", "/api/v1/audits/settings", Some(&bob), None).await;
    assert_eq!((status, &settings["data"]["decisionLogMode"]), (StatusCode::OK, &json!("denies")));
    let (status, body) = app
        .call("PUT", "/api/v1/audits/settings", Some(&bob), Some(json!({"decisionLogMode": "off"})))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert!(
        body["errors"][0]["detail"].as_str().unwrap_or_default().contains("audit:manage"),
        "{body}"
    );
}

#[tokio::test]
async fn authzen_exports_are_logged_too() {
    let app = TestApp::new().await;
    let admin = app.key("demo", "admin").await;
    let ask = json!({"subject": {"type": "user", "id": "ann"}, "action": {"name": "app:exportimage"}, "resource": {"type": "app", "id": "budget"}});
    let (status, answer) = app.post("/access/v1/evaluation", &admin, ask).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    for _ in 0..50 {
        let found = events(&app, &admin, "?eventType=com.qlik.v1.app.image.exported").await;
        if let Some(event) = found["data"].as_array().unwrap().first() {
            assert_eq!(event["data"]["resource"]["id"], "budget");
            assert_eq!(event["data"]["decision"], if answer["decision"] == true { "allow" } else { "deny" });
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the AuthZEN export decision was not logged");
}

/// One stored event whose JSON no longer parses does not fail the listing: it is skipped
/// (and counted), the others are listed, in order, paging included.
#[tokio::test]
async fn an_unreadable_event_is_skipped_and_the_others_listed() {
    use sqlx::Connection as _;
    let app = TestApp::new().await;
    let admin = app.key("demo", "admin").await;
    for user in ["bob", "carl", "dana"] {
        let (status, body) = app
            .post("/v1/changes", &admin, json!({"assign": {"role": "Exporters", "user": user}}))
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    let before = events(&app, &admin, "?limit=100").await;
    let ids: Vec<String> = before["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_str().unwrap().to_owned())
        .collect();
    assert!(ids.len() >= 3, "{before}");
    let broken = ids[1].clone();

    let mut db = sqlx::SqliteConnection::connect(&app.url).await.unwrap();
    let changed = sqlx::query("UPDATE audit_events SET body_json = '{not json' WHERE seq = ?")
        .bind(broken.parse::<i64>().unwrap())
        .execute(&mut db)
        .await
        .unwrap();
    assert_eq!(changed.rows_affected(), 1);

    let after = events(&app, &admin, "?limit=100").await;
    let listed: Vec<String> = after["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_str().unwrap().to_owned())
        .collect();
    let expected: Vec<String> = ids.iter().filter(|id| **id != broken).cloned().collect();
    assert_eq!(listed, expected);
    // Oldest first too, and one page at a time across the broken row.
    let oldest = events(&app, &admin, "?limit=100&sort=%2BeventTime").await;
    assert_eq!(oldest["data"].as_array().unwrap().len(), expected.len(), "{oldest}");
    let (first, second) = (events(&app, &admin, "?limit=1").await, events(&app, &admin, "?limit=2").await);
    assert_eq!(first["data"][0]["id"], json!(expected[0]));
    assert_eq!(second["data"][1]["id"], json!(expected[1]), "{second}");

    let (_, metrics) = app.call("GET", "/metrics", None, None).await;
    assert!(
        metrics.as_str().unwrap().contains("portcullis_audit_events_unreadable_total 4"),
        "{metrics}"
    );
}

/// The audits answer in the same envelope, with the same codes, as the rest of `/api/v1`.
#[tokio::test]
async fn a_credential_failure_keeps_its_status_in_the_audits_envelope() {
    let app = TestApp::new().await;
    // No credential: 401, as `@qlik/api` reads it.
    let (status, body) = app.call("GET", "/api/v1/audits", None, None).await;
    assert_eq!(
        (status, body["errors"][0]["code"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("AUTH-1")),
        "{body}"
    );
    // The operator without a tenant header asked a bad question, and is told so: 400, not 401.
    for path in ["/api/v1/audits", "/api/v1/users"] {
        let (status, body) = app.call("GET", path, Some(crate::support::OPERATOR), None).await;
        assert_eq!(
            (status, body["errors"][0]["code"].as_str()),
            (StatusCode::BAD_REQUEST, Some("HTTP-400")),
            "{path}: {body}"
        );
        assert!(
            body["errors"][0]["detail"].as_str().unwrap_or_default().contains("portcullis-tenant"),
            "{path}: {body}"
        );
    }
    // With one, the operator is still no user of the tenant: under `/api/v1` it is told where it acts.
    let request = axum::http::Request::builder()
        .uri("/api/v1/audits")
        .header("authorization", format!("Bearer {}", crate::support::OPERATOR))
        .header("portcullis-tenant", "demo")
        .body(axum::body::Body::empty())
        .unwrap();
    let (status, body) = app.send(request).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert!(body["errors"][0]["detail"].as_str().unwrap_or_default().contains("/v1"), "{body}");
    // Refusals of the audits themselves use their service's codes.
    let bob = app.key("demo", "bob").await;
    let (status, body) = app.call("GET", "/api/v1/audits", Some(&bob), None).await;
    assert_eq!(
        (status, body["errors"][0]["code"].as_str()),
        (StatusCode::FORBIDDEN, Some("AUDITS-11")),
        "{body}"
    );
}
