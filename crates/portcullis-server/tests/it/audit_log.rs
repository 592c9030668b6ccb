//! Decision logging through the router: a denied export is logged with its reason, ordinary
//! decisions follow the tenant's policy, and a batch logs like single checks. A download
//! decision is stored before it is answered; one that cannot be stored is not answered.

use portcullis_store::{AuditQuery, AuditSettings, Author, DecisionLogMode, DecisionLogPolicy, EventBody};
use serde_json::json;

use crate::support::TestApp;

async fn logged(app: &TestApp) -> Vec<EventBody> {
    app.state.decision_log().flush().await;
    let record = app.state.store().tenant_by_name("demo").await.unwrap().unwrap();
    let query = AuditQuery {
        event_types: portcullis_store::EventType::ALL
            .iter()
            .filter(|t| t.is_decision())
            .map(|t| t.as_str().to_owned())
            .collect(),
        ..AuditQuery::default()
    };
    app.state
        .store()
        .audit_events(record.id, &query)
        .await
        .unwrap()
        .into_iter()
        .map(|(_, body)| body)
        .collect()
}

#[tokio::test]
async fn a_denied_export_is_logged_with_its_reason() {
    let app = TestApp::new().await;
    let admin = app.key("demo", "admin").await;
    let (_, body) = app
        .post(
            "/v1/check",
            &admin,
            json!({"user": "bob", "action": "app:exportdata", "resource": "sales-dashboard", "explain": false}),
        )
        .await;
    assert_eq!(body["decision"], "deny");
    let events = logged(&app).await;
    assert_eq!(events.len(), 1, "{events:#?}");
    let event = &events[0];
    assert_eq!(event.event_type, "com.qlik.v1.app.data.exported");
    assert_eq!(event.decision.as_deref(), Some("deny"));
    assert_eq!(event.actor.user.as_deref(), Some("bob"));
    assert_eq!(event.data["askedBy"], "admin");
    assert_eq!(event.action, "app:exportdata");
    let resource = event.resource.as_ref().expect("the app");
    assert_eq!(
        (resource.id.as_str(), resource.space.as_deref(), resource.owner.as_deref()),
        ("sales-dashboard", Some("sales-published"), Some("admin"))
    );
    let explanation = event.explanation.as_ref().expect("the reason at that moment");
    assert!(!explanation["reasons"].as_array().unwrap().is_empty(), "{explanation}");

    // An allowed export is logged too; an ordinary decision is not (mode off).
    app.post(
        "/v1/check",
        &admin,
        json!({"user": "ann", "action": "app:exportdata", "resource": "sales-dashboard"}),
    )
    .await;
    app.post("/v1/check", &admin, json!({"user": "ann", "action": "app:read", "resource": "budget"}))
        .await;
    let events = logged(&app).await;
    assert_eq!(events.iter().map(|e| e.decision.clone().unwrap()).collect::<Vec<_>>(), ["deny", "allow"]);
}

#[tokio::test]
async fn ordinary_decisions_follow_the_tenants_policy() {
    let app = TestApp::new().await;
    let admin = app.key("demo", "admin").await;
    let tenant = app.state.tenant_by_name("demo").await.unwrap().unwrap();
    let denies = AuditSettings {
        policy: DecisionLogPolicy {
            mode: DecisionLogMode::Denies,
            sample_per_million: 1_000_000,
        },
        retention_days: None,
    };
    app.state.store().set_audit_settings(tenant.id, &denies, &Author::cli()).await.unwrap();
    tenant.set_audit_policy(denies.policy);
    let checks = json!({"checks": [
        {"user": "ann", "action": "app:read", "resource": "budget"},
        {"user": "ann", "via": "oauth:reporting", "action": "app:delete", "resource": "budget"},
    ]});
    let (_, body) = app.post("/v1/check/batch", &admin, checks).await;
    assert_eq!(body["results"][1]["decision"], "deny", "{body}");
    let events = logged(&app).await;
    assert_eq!(events.len(), 1, "{events:#?}");
    assert_eq!(
        (events[0].event_type.as_str(), events[0].action.as_str()),
        ("com.qlik.v1.decision.made", "app:delete")
    );
    let record = app.state.store().tenant_by_name("demo").await.unwrap().unwrap();
    assert!(app.state.store().audit_chain(record.id).await.unwrap().verify().is_ok());
}

/// The events of a tenant as stored now, without waiting for the decision log.
async fn stored_now(app: &TestApp, event_type: &str) -> usize {
    let record = app.state.store().tenant_by_name("demo").await.unwrap().unwrap();
    let query = AuditQuery {
        event_types: vec![event_type.to_owned()],
        ..AuditQuery::default()
    };
    app.state.store().audit_events(record.id, &query).await.unwrap().len()
}

#[tokio::test]
async fn a_download_decision_is_stored_before_it_is_answered() {
    let app = TestApp::new().await;
    let admin = app.key("demo", "admin").await;
    let export = json!({"user": "ann", "action": "app:exportdata", "resource": "sales-dashboard"});
    let (status, _) = app.post("/v1/check", &admin, export.clone()).await;
    assert_eq!(status, 200);
    assert_eq!(stored_now(&app, "com.qlik.v1.app.data.exported").await, 1, "stored when the answer came");
    let (status, body) = app.post("/v1/check/batch", &admin, json!({"checks": vec![export.clone(); 7]})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(stored_now(&app, "com.qlik.v1.app.data.exported").await, 8);
    let evaluation = json!({
        "subject": {"type": "user", "id": "ann"},
        "action": {"name": "app:exportdata"},
        "resource": {"type": "app", "id": "sales-dashboard"},
    });
    let (status, body) = app.post("/access/v1/evaluation", &admin, evaluation).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(stored_now(&app, "com.qlik.v1.app.data.exported").await, 9);
}

#[tokio::test]
async fn a_download_decision_that_cannot_be_logged_is_not_answered() {
    use sqlx::Connection as _;
    let app = TestApp::new().await;
    let admin = app.key("demo", "admin").await;
    // Someone breaks the trail: every download event is refused by the database.
    let mut db = sqlx::SqliteConnection::connect(&app.url).await.unwrap();
    sqlx::query(
        "CREATE TRIGGER refuse_downloads BEFORE INSERT ON audit_events \
         WHEN NEW.event_type = 'com.qlik.v1.app.data.exported' BEGIN SELECT RAISE(ABORT, 'no room'); END",
    )
    .execute(&mut db)
    .await
    .unwrap();
    let export = json!({"user": "ann", "action": "app:exportdata", "resource": "sales-dashboard"});
    let answer = app.post("/v1/check", &admin, export.clone()).await;
    crate::support::assert_error(&answer, axum::http::StatusCode::SERVICE_UNAVAILABLE, "decision_not_logged", None);
    assert!(
        !answer.1.to_string().contains("no room"),
        "no store text reaches the client: {}",
        answer.1
    );
    let (status, body) = app.post("/v1/check/batch", &admin, json!({"checks": [export]})).await;
    assert_eq!(status, 503, "{body}");
    // A decision that lets no data leave is answered as before.
    let (status, body) = app
        .post("/v1/check", &admin, json!({"user": "ann", "action": "app:read", "resource": "budget"}))
        .await;
    assert_eq!((status.as_u16(), body["decision"].as_str()), (200, Some("allow")), "{body}");
}
