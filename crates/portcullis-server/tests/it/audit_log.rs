//! Decision logging through the router: a denied export is logged with its reason, ordinary
//! decisions follow the tenant's policy, and a batch logs like single checks.

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
