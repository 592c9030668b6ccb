//! Access history: `asOf` on the decision routes answers as the tenant stood then (a revision
//! or a time), `POST /v1/access-diff` lists who gained and lost what between two moments with
//! the changes (and authors) behind each row, and moments outside the history are refused.

use axum::http::StatusCode;
use serde_json::json;

use crate::support::{TestApp, assert_error};

#[tokio::test]
async fn checks_lists_and_diffs_answer_as_the_tenant_stood_then() {
    let app = TestApp::new().await;
    let admin = app.key("demo", "admin").await;
    let bob_exports = json!({"user": "bob", "action": "app:exportdata", "resource": "sales-dashboard"});
    let (_, before) = app.post("/v1/check", &admin, bob_exports.clone()).await;
    assert_eq!(
        (before["decision"].clone(), before["revision"].clone()),
        (json!("deny"), json!(1)),
        "{before}"
    );
    let (status, joined) = app
        .post("/v1/changes", &admin, json!({"join": {"user": "bob", "group": "finance"}}))
        .await;
    assert_eq!(status, StatusCode::OK, "{joined}");
    assert_eq!(joined["revision"], 2);

    // Now allowed; at revision 1 (a number, digits, or a time before the join) denied as then.
    let (_, now) = app.post("/v1/check", &admin, bob_exports.clone()).await;
    assert_eq!(now["decision"], "allow", "{now}");
    for as_of in [json!(1), json!("1")] {
        let mut ask = bob_exports.clone();
        ask["asOf"] = as_of;
        let (status, then) = app.post("/v1/check", &admin, ask).await;
        assert_eq!(status, StatusCode::OK, "{then}");
        assert_eq!((then["decision"].clone(), then["revision"].clone()), (json!("deny"), json!(1)), "{then}");
    }
    let mut ask = bob_exports.clone();
    ask["asOf"] = json!(2);
    let (_, then) = app.post("/v1/check", &admin, ask).await;
    assert_eq!(then["decision"], "allow", "{then}");
    assert!(then["explanation"]["tokens"].to_string().contains("group:finance"), "{then}");
    // A batch at a past moment decides every check then.
    let (status, batch) = app
        .post("/v1/check/batch", &admin, json!({"checks": [bob_exports.clone()], "asOf": 1}))
        .await;
    assert_eq!(
        (status, batch["results"][0]["decision"].clone()),
        (StatusCode::OK, json!("deny")),
        "{batch}"
    );
    // A time resolves to the last revision at or before it.
    let mut ask = bob_exports.clone();
    ask["asOf"] = json!("2999-01-01T00:00:00Z");
    let (_, later) = app.post("/v1/check", &admin, ask).await;
    assert_eq!(
        (later["decision"].clone(), later["revision"].clone()),
        (json!("allow"), json!(2)),
        "{later}"
    );

    // Listing at revision 1: the finance apps Bob may read then (none through finance).
    let (status, listed) = app
        .post(
            "/v1/list-resources",
            &admin,
            json!({"user": "bob", "action": "app:exportdata", "asOf": 1}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{listed}");
    assert_eq!(listed["revision"], 1);
    let (_, listed_now) = app
        .post("/v1/list-resources", &admin, json!({"user": "bob", "action": "app:exportdata"}))
        .await;
    assert!(
        listed_now["resources"].as_array().unwrap().len() > listed["resources"].as_array().unwrap().len(),
        "{listed} {listed_now}"
    );

    // The diff names the gain and the join behind it, with its author.
    let (status, diff) = app.post("/v1/access-diff", &admin, json!({"from": 1, "to": 2})).await;
    assert_eq!(status, StatusCode::OK, "{diff}");
    assert_eq!(
        (diff["from"].clone(), diff["to"].clone(), diff["changesBetween"].clone()),
        (json!(1), json!(2), json!(1))
    );
    let rows = diff["changes"].as_array().unwrap();
    let row = rows
        .iter()
        .find(|r| r["user"] == "bob" && r["action"] == "app:exportdata" && r["resource"] == "sales-dashboard")
        .unwrap_or_else(|| panic!("{diff}"));
    assert_eq!(row["change"], "gained");
    assert_eq!(row["causes"][0]["change"], "join-group", "{row}");
    assert_eq!(row["causes"][0]["revision"], 2, "{row}");
    assert!(row["causes"][0]["author"].to_string().contains("admin"), "{row}");
    assert_eq!(diff["lost"], 0);
    assert!(rows.iter().all(|r| r["user"] == "bob"), "only Bob's access moved: {diff}");
    // Filters keep the matching rows; `to` defaults to now.
    let (_, filtered) = app
        .post(
            "/v1/access-diff",
            &admin,
            json!({"from": 1, "actions": ["app:exportdata"], "resources": ["sales-dashboard"], "users": ["bob"]}),
        )
        .await;
    assert_eq!(
        (filtered["gained"].clone(), filtered["changes"].as_array().map(Vec::len)),
        (json!(1), Some(1)),
        "{filtered}"
    );

    // Leaving again: from 1 to 3 nothing moved, though two changes were made; 2 to 3 is lost.
    app.post("/v1/changes", &admin, json!({"leave": {"user": "bob", "group": "finance"}}))
        .await;
    let (_, net) = app.post("/v1/access-diff", &admin, json!({"from": 1, "to": 3})).await;
    assert_eq!(
        (net["gained"].clone(), net["lost"].clone(), net["changesBetween"].clone()),
        (json!(0), json!(0), json!(2)),
        "{net}"
    );
    let (_, lost) = app.post("/v1/access-diff", &admin, json!({"from": 2, "to": "3"})).await;
    assert!(lost["lost"].as_u64().unwrap() >= 1 && lost["gained"] == 0, "{lost}");
    assert_eq!(lost["changes"][0]["causes"][0]["change"], "leave-group", "{lost}");
}

#[tokio::test]
async fn moments_outside_the_history_are_refused_with_the_field_named() {
    let app = TestApp::new().await;
    let admin = app.key("demo", "admin").await;
    app.post("/v1/changes", &admin, json!({"join": {"user": "bob", "group": "finance"}}))
        .await;
    let check = |as_of: serde_json::Value| json!({"user": "bob", "action": "app:read", "resource": "sales-dashboard", "asOf": as_of});
    // Before the import that created the tenant: not in its history.
    assert_error(
        &app.post("/v1/check", &admin, check(json!(0))).await,
        StatusCode::NOT_FOUND,
        "not_in_history",
        Some("asOf"),
    );
    assert_error(
        &app.post("/v1/check", &admin, check(json!("2001-01-01T00:00:00Z"))).await,
        StatusCode::NOT_FOUND,
        "not_in_history",
        Some("asOf"),
    );
    assert_error(
        &app.post("/v1/check", &admin, check(json!("yesterday"))).await,
        StatusCode::BAD_REQUEST,
        "bad_as_of",
        Some("asOf"),
    );
    assert_error(
        &app.post("/v1/check", &admin, check(json!(-3))).await,
        StatusCode::BAD_REQUEST,
        "bad_as_of",
        Some("asOf"),
    );
    assert_error(
        &app.post("/v1/access-diff", &admin, json!({"from": 0})).await,
        StatusCode::NOT_FOUND,
        "not_in_history",
        Some("from"),
    );
    assert_error(
        &app.post("/v1/access-diff", &admin, json!({"from": 2, "to": 1})).await,
        StatusCode::BAD_REQUEST,
        "bad_range",
        Some("from"),
    );
    assert_error(
        &app.post("/v1/access-diff", &admin, json!({"from": 1, "actions": ["app:nope"]})).await,
        StatusCode::BAD_REQUEST,
        "unknown_action",
        Some("actions[0]"),
    );
    // Asking about others at a past moment needs the right to ask about others now.
    let bob = app.key("demo", "bob").await;
    assert_eq!(
        app.post("/v1/check", &bob, json!({"user": "ann", "action": "app:read", "asOf": 1}))
            .await
            .0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(app.post("/v1/access-diff", &bob, json!({"from": 1})).await.0, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn pruned_history_starts_at_the_last_pruned_revision() {
    let app = TestApp::new().await;
    let admin = app.key("demo", "admin").await;
    app.post("/v1/changes", &admin, json!({"join": {"user": "bob", "group": "finance"}}))
        .await;
    let tenant = app.state.store().tenant_by_name("demo").await.unwrap().unwrap();
    let horizon = app.state.store().prune_history(tenant.id, portcullis_store::now() + 5).await.unwrap();
    assert_eq!(horizon, Some(2));
    let check = |as_of: u64| json!({"user": "bob", "action": "app:exportdata", "resource": "sales-dashboard", "asOf": as_of});
    assert_error(
        &app.post("/v1/check", &admin, check(1)).await,
        StatusCode::NOT_FOUND,
        "not_in_history",
        Some("asOf"),
    );
    // Later writes are history again.
    app.post("/v1/changes", &admin, json!({"leave": {"user": "bob", "group": "finance"}}))
        .await;
    let (status, then) = app.post("/v1/check", &admin, check(2)).await;
    assert_eq!((status, then["decision"].clone()), (StatusCode::OK, json!("allow")), "{then}");
    let (_, diff) = app.post("/v1/access-diff", &admin, json!({"from": 2})).await;
    assert_eq!(diff["changes"][0]["causes"][0]["change"], "leave-group", "{diff}");
}
