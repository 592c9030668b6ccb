//! `POST /v1/what-if`: the access a proposal would change, counted, grouped, paged and exported,
//! with nothing applied; refusals name the change.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use serde_json::{Value, json};

use crate::support::{TestApp, assert_error};

/// Bob joining finance (whose role Exporters allows data export), and the finance space
/// taking the sales group as consumers.
fn proposal() -> Value {
    json!([
        {"change": "joinGroup", "user": "bob", "group": "finance"},
        {"change": "setSpaceMember", "space": "finance-team", "assignee": {"group": "sales"}, "roles": ["consumer"]},
    ])
}

#[tokio::test]
async fn a_proposal_is_answered_with_its_gains_and_nothing_is_applied() {
    let app = TestApp::new().await;
    let admin = app.key("demo", "admin").await;
    let bob_exports = json!({"user": "bob", "action": "app:exportdata", "resource": "sales-dashboard"});
    let (status, body) = app.post("/v1/what-if", &admin, json!({"changes": proposal()})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["revision"], 1, "{body}");
    let changes = body["changes"].as_array().unwrap();
    let has = |user: &str, action: &str, resource: &str, change: &str| {
        changes
            .iter()
            .any(|c| c["user"] == user && c["action"] == action && c["resource"] == resource && c["change"] == change)
    };
    // Through the new group: Exporters lets Bob export where he can read.
    assert!(has("bob", "app:exportdata", "sales-dashboard", "gained"), "{body}");
    // Through the new space assignment: Carl (in sales) may read the finance apps.
    assert!(has("carl", "app:read", "budget", "gained"), "{body}");
    assert_eq!(body["gained"].as_u64().unwrap() as usize, changes.len(), "{body}");
    assert_eq!(body["lost"], 0);
    let export = body["byAction"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["key"] == "app:exportdata")
        .unwrap();
    assert!(
        export["gained"].as_u64().unwrap() >= 1 && !export["samples"].as_array().unwrap().is_empty(),
        "{export}"
    );
    let paths: Vec<&str> = body["byPath"].as_array().unwrap().iter().filter_map(|g| g["key"].as_str()).collect();
    assert!(paths.iter().any(|p| p.contains("group:finance")), "{paths:?}");
    assert!(paths.iter().any(|p| p.contains("space-role:consumer group:sales")), "{paths:?}");
    assert!(body["cost"]["pairs"].as_u64().unwrap() > 0);
    // Nothing was applied: Bob still may not export, the revision has not moved.
    let (_, check) = app.post("/v1/check", &admin, bob_exports).await;
    assert_eq!(
        (check["decision"].clone(), check["revision"].clone()),
        (json!("deny"), json!(1)),
        "{check}"
    );
    // Undoing it the other way round is the same list, lost.
    app.post("/v1/changes", &admin, json!({"join": {"user": "bob", "group": "finance"}}))
        .await;
    let (_, back) = app
        .post(
            "/v1/what-if",
            &admin,
            json!({"changes": [{"change": "leaveGroup", "user": "bob", "group": "finance"}]}),
        )
        .await;
    assert!(back["gained"] == 0 && back["lost"].as_u64().unwrap() >= 1, "{back}");
}

#[tokio::test]
async fn pages_and_the_ndjson_export_list_the_same_changes() {
    let app = TestApp::new().await;
    let admin = app.key("demo", "admin").await;
    let (_, whole) = app.post("/v1/what-if", &admin, json!({"changes": proposal()})).await;
    let all = whole["changes"].as_array().unwrap().clone();
    assert!(all.len() > 3, "{whole}");
    let mut paged = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let mut request = json!({"changes": proposal(), "pageSize": 2});
        if let Some(t) = &token {
            request["pageToken"] = json!(t);
        }
        let (status, page) = app.post("/v1/what-if", &admin, request).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        paged.extend(page["changes"].as_array().unwrap().iter().cloned());
        match page["nextPageToken"].as_str() {
            Some(t) => token = Some(t.to_owned()),
            None => break,
        }
    }
    assert_eq!(paged, all);
    // A token belongs to its proposal.
    let (_, first) = app.post("/v1/what-if", &admin, json!({"changes": proposal(), "pageSize": 2})).await;
    let other = json!({"changes": [proposal()[0].clone()], "pageToken": first["nextPageToken"]});
    assert_error(
        &app.post("/v1/what-if", &admin, other).await,
        StatusCode::BAD_REQUEST,
        "bad_page_token",
        Some("pageToken"),
    );
    assert_error(
        &app.post("/v1/what-if", &admin, json!({"changes": proposal(), "pageSize": 0})).await,
        StatusCode::BAD_REQUEST,
        "bad_page_size",
        Some("pageSize"),
    );

    let request = Request::builder()
        .method("POST")
        .uri("/v1/what-if")
        .header("authorization", format!("Bearer {admin}"))
        .header("content-type", "application/json")
        .header("accept", "application/x-ndjson")
        .body(Body::from(json!({"changes": proposal()}).to_string()))
        .unwrap();
    let (status, text) = app.send(request).await;
    assert_eq!(status, StatusCode::OK);
    let lines: Vec<Value> = text.as_str().unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines, all);
}

#[tokio::test]
async fn a_bad_change_is_named_and_nothing_is_applied() {
    let app = TestApp::new().await;
    let admin = app.key("demo", "admin").await;
    let refused = json!({"changes": [
        {"change": "joinGroup", "user": "bob", "group": "finance"},
        {"change": "joinGroup", "user": "nobody", "group": "finance"},
    ]});
    let answer = app.post("/v1/what-if", &admin, refused).await;
    assert_error(&answer, StatusCode::BAD_REQUEST, "change_refused", Some("changes[1]"));
    assert!(answer.1["message"].as_str().unwrap().contains("change 1 (`join-group`)"), "{}", answer.1);
    let unreadable = json!({"changes": [{"change": "joinGroup", "user": "bob"}, {"change": "nope"}]});
    assert_error(
        &app.post("/v1/what-if", &admin, unreadable).await,
        StatusCode::BAD_REQUEST,
        "bad_change",
        None,
    );
    let answer = app.post("/v1/what-if", &admin, json!({"changes": [{"change": "nope"}]})).await;
    assert!(answer.1["field"].as_str().unwrap().starts_with("changes[0]"), "{}", answer.1);
    assert_error(
        &app.post("/v1/what-if", &admin, json!({"changes": []})).await,
        StatusCode::BAD_REQUEST,
        "no_changes",
        Some("changes"),
    );
    // The first change was not kept either.
    let (_, check) = app
        .post(
            "/v1/check",
            &admin,
            json!({"user": "bob", "action": "app:exportdata", "resource": "sales-dashboard"}),
        )
        .await;
    assert_eq!(check["decision"], "deny", "{check}");
}

#[tokio::test]
async fn only_administrators_may_ask() {
    let app = TestApp::new().await;
    let bob = app.key("demo", "bob").await;
    let answer = app.post("/v1/what-if", &bob, json!({"changes": proposal()})).await;
    assert_error(&answer, StatusCode::FORBIDDEN, "forbidden", None);
}
