//! `/v1/check`, `/v1/check/batch`, `/v1/list-resources`, `/v1/list-users`.

use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::support::{TestApp, assert_error};

/// One check as `caller`, returning the whole answer.
async fn check(app: &TestApp, caller: &str, body: Value) -> (StatusCode, Value) {
    app.post("/v1/check", caller, body).await
}

#[tokio::test]
async fn a_check_answers_with_the_decision_and_its_reasons() {
    let app = TestApp::new().await;
    let admin = app.key("demo", "admin").await;
    let (status, body) = check(
        &app,
        &admin,
        json!({"user": "ann", "action": "app:exportdata", "resource": "sales-dashboard"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["decision"], "allow");
    assert_eq!(body["allowed"], true);
    assert_eq!(body["revision"], 1);
    let tokens: Vec<&str> = body["explanation"]["tokens"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap())
        .collect();
    assert_eq!(tokens, ["space-role:consumer", "group:sales", "role:Exporters", "group:finance"]);
    assert_eq!(body["explanation"]["reasons"][0]["kind"], "space-role");
    assert!(body["explanation"]["reasons"][0]["text"].as_str().unwrap().contains("sales-published"));

    let (_, body) = check(
        &app,
        &admin,
        json!({"user": "bob", "action": "app:exportdata", "resource": "sales-dashboard", "explain": false}),
    )
    .await;
    assert_eq!(body["decision"], "deny");
    assert!(body.get("explanation").is_none());
    let (_, body) = check(
        &app,
        &admin,
        json!({"user": "ann", "via": "oauth:reporting", "action": "app:read", "resource": "budget"}),
    )
    .await;
    assert_eq!(body["decision"], "allow", "{body}");
    let (_, body) = check(
        &app,
        &admin,
        json!({"user": "ann", "via": "oauth:reporting", "action": "app:delete", "resource": "budget"}),
    )
    .await;
    assert_eq!(body["decision"], "deny", "{body}");
}

#[tokio::test]
async fn any_user_may_ask_about_themself_but_not_about_others() {
    let app = TestApp::new().await;
    let ann = app.key("demo", "ann").await;
    let (status, body) = check(&app, &ann, json!({"user": "ann", "action": "app:read", "resource": "budget"})).await;
    assert_eq!((status, &body["decision"]), (StatusCode::OK, &json!("allow")));
    let answer = check(&app, &ann, json!({"user": "bob", "action": "app:read", "resource": "budget"})).await;
    assert_error(&answer, StatusCode::FORBIDDEN, "forbidden", Some("user"));
    // Not even whether the user exists is revealed.
    let answer = check(&app, &ann, json!({"user": "nobody", "action": "app:read", "resource": "budget"})).await;
    assert_error(&answer, StatusCode::FORBIDDEN, "forbidden", Some("user"));
    // The service key of an enforcing application: a custom role with the catalogue permission.
    let gateway = app.key("demo", "gateway").await;
    let (status, body) = check(&app, &gateway, json!({"user": "bob", "action": "app:read", "resource": "budget"})).await;
    assert_eq!((status, &body["decision"]), (StatusCode::OK, &json!("allow")), "{body}");
}

#[tokio::test]
async fn bad_input_gets_a_json_error_naming_the_field() {
    let app = TestApp::new().await;
    let admin = app.key("demo", "admin").await;
    let cases = [
        (
            json!({"user": "nobody", "action": "app:read", "resource": "budget"}),
            StatusCode::NOT_FOUND,
            "unknown_user",
            "user",
        ),
        (
            json!({"user": "ann", "action": "app:fly", "resource": "budget"}),
            StatusCode::BAD_REQUEST,
            "unknown_action",
            "action",
        ),
        (
            json!({"user": "ann", "action": "app:read"}),
            StatusCode::BAD_REQUEST,
            "missing_resource",
            "resource",
        ),
        (
            json!({"user": "ann", "action": "app:read", "resource": "nothing"}),
            StatusCode::NOT_FOUND,
            "unknown_resource",
            "resource",
        ),
        (
            json!({"user": "ann", "action": "app:read", "resource": "ledger-db"}),
            StatusCode::BAD_REQUEST,
            "wrong_resource_kind",
            "resource",
        ),
        (
            json!({"user": "ann", "action": "space:create-shared", "resource": "budget"}),
            StatusCode::BAD_REQUEST,
            "unexpected_resource",
            "resource",
        ),
        (
            json!({"user": "ann", "via": "carrier-pigeon", "action": "app:read", "resource": "budget"}),
            StatusCode::BAD_REQUEST,
            "unknown_channel",
            "via",
        ),
        (
            json!({"user": "ann", "via": "oauth:nope", "action": "app:read", "resource": "budget"}),
            StatusCode::NOT_FOUND,
            "unknown_oauth_client",
            "via",
        ),
        (
            json!({"user": "ann", "action": "app:read", "resource": "budget", "minRevision": 99}),
            StatusCode::CONFLICT,
            "revision_not_reached",
            "minRevision",
        ),
    ];
    for (body, status, code, field) in cases {
        let answer = check(&app, &admin, body.clone()).await;
        assert_error(&answer, status, code, Some(field));
    }
    for body in [
        json!({"user": "ann"}),
        json!({"user": 5, "action": "app:read"}),
        json!({"user": "ann", "action": "app:read", "colour": "red"}),
        json!([1, 2]),
    ] {
        assert_error(&check(&app, &admin, body).await, StatusCode::BAD_REQUEST, "bad_json", None);
    }
    let request = axum::http::Request::post("/v1/check")
        .header("authorization", format!("Bearer {admin}"))
        .header("content-type", "application/json")
        .body(axum::body::Body::from("{not json"))
        .unwrap();
    assert_error(&app.send(request).await, StatusCode::BAD_REQUEST, "bad_json", None);
    let request = axum::http::Request::post("/v1/check")
        .header("authorization", format!("Bearer {admin}"))
        .body(axum::body::Body::from("{}"))
        .unwrap();
    assert_error(
        &app.send(request).await,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
        None,
    );
    let huge = format!("{{\"user\": \"{}\"}}", "a".repeat(17 * 1024 * 1024));
    let request = axum::http::Request::post("/v1/check")
        .header("authorization", format!("Bearer {admin}"))
        .header("content-type", "application/json")
        .body(axum::body::Body::from(huge))
        .unwrap();
    assert_error(&app.send(request).await, StatusCode::PAYLOAD_TOO_LARGE, "body_too_large", None);
}

#[tokio::test]
async fn a_batch_of_ten_thousand_checks_is_decided_on_one_snapshot() {
    let app = TestApp::new().await;
    let admin = app.key("demo", "admin").await;
    let pattern = [
        json!({"user": "ann", "action": "app:read", "resource": "budget"}),
        json!({"user": "bob", "action": "app:read", "resource": "budget"}),
        json!({"user": "carl", "action": "app:read", "resource": "forecast"}),
        json!({"user": "dana", "action": "app:read", "resource": "budget"}),
        json!({"user": "nobody", "action": "app:read", "resource": "budget"}),
    ];
    let checks: Vec<Value> = (0..10_000).map(|i| pattern[i % pattern.len()].clone()).collect();
    let started = std::time::Instant::now();
    let (status, body) = app.post("/v1/check/batch", &admin, json!({"checks": checks})).await;
    let elapsed = started.elapsed();
    assert_eq!(status, StatusCode::OK);
    let results = body["results"].as_array().unwrap();
    assert_eq!(results.len(), 10_000);
    let expected = ["allow", "allow", "allow", "deny", "deny"];
    for (i, result) in results.iter().enumerate() {
        assert_eq!(result["decision"], expected[i % 5], "check {i}: {result}");
    }
    assert_eq!(results[4]["error"]["code"], "unknown_user");
    assert_eq!(results[4]["error"]["field"], "checks[4].user");
    assert!(results[0].get("error").is_none());
    eprintln!("10,000 checks in one batch: {elapsed:?} (debug build, through the router)");

    let ann = app.key("demo", "ann").await;
    let (_, body) = app
        .post("/v1/check/batch", &ann, json!({"checks": [pattern[0], pattern[1]], "explain": true}))
        .await;
    assert_eq!(body["results"][0]["decision"], "allow");
    assert!(body["results"][0]["explanation"]["tokens"].is_array());
    assert_eq!(body["results"][1]["error"]["code"], "forbidden");
}

#[tokio::test]
async fn list_resources_pages_with_a_cursor() {
    let app = TestApp::new().await;
    let ann = app.key("demo", "ann").await;
    let (status, body) = app.post("/v1/list-resources", &ann, json!({"user": "ann", "action": "app:read"})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let ids = |body: &Value| -> Vec<String> {
        body["resources"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["id"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(ids(&body), ["sales-dashboard", "budget", "forecast"]);
    assert!(body.get("nextCursor").is_none());
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..10 {
        let mut request = json!({"user": "ann", "action": "app:read", "limit": 1});
        if let Some(cursor) = &cursor {
            request["cursor"] = json!(cursor);
        }
        let (_, page) = app.post("/v1/list-resources", &ann, request).await;
        seen.extend(ids(&page));
        match page.get("nextCursor").and_then(Value::as_str) {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    assert_eq!(seen, ["sales-dashboard", "budget", "forecast"]);
    let (_, body) = app.post("/v1/list-resources", &ann, json!({"user": "ann", "action": "space:read"})).await;
    assert_eq!(ids(&body), ["finance-team", "sales-published"]);
    let answer = app
        .post("/v1/list-resources", &ann, json!({"user": "ann", "action": "app:read", "cursor": "!!"}))
        .await;
    assert_error(&answer, StatusCode::BAD_REQUEST, "bad_cursor", Some("cursor"));
    let answer = app
        .post("/v1/list-resources", &ann, json!({"user": "ann", "action": "glossary:create"}))
        .await;
    assert_error(&answer, StatusCode::BAD_REQUEST, "tenant_action", Some("action"));
    let answer = app
        .post("/v1/list-resources", &ann, json!({"user": "ann", "action": "app:read", "limit": 5000}))
        .await;
    assert_error(&answer, StatusCode::BAD_REQUEST, "bad_limit", Some("limit"));
}

#[tokio::test]
async fn list_users_needs_the_right_to_ask_about_others() {
    let app = TestApp::new().await;
    let admin = app.key("demo", "admin").await;
    let (status, body) = app
        .post("/v1/list-users", &admin, json!({"action": "app:read", "resource": "forecast"}))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let users: Vec<&str> = body["users"].as_array().unwrap().iter().map(|u| u["id"].as_str().unwrap()).collect();
    assert_eq!(users, ["ann", "bob", "carl"]);
    let (_, page) = app
        .post(
            "/v1/list-users",
            &admin,
            json!({"action": "app:read", "resource": "forecast", "limit": 2}),
        )
        .await;
    assert_eq!(page["users"].as_array().unwrap().len(), 2);
    let cursor = page["nextCursor"].as_str().unwrap();
    let (_, rest) = app
        .post(
            "/v1/list-users",
            &admin,
            json!({"action": "app:read", "resource": "forecast", "cursor": cursor}),
        )
        .await;
    assert_eq!(rest["users"][0]["id"], "carl");
    let ann = app.key("demo", "ann").await;
    let answer = app
        .post("/v1/list-users", &ann, json!({"action": "app:read", "resource": "forecast"}))
        .await;
    assert_error(&answer, StatusCode::FORBIDDEN, "forbidden", None);
}
