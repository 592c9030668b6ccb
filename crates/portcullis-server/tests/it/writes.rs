//! Writes: changes, sessions, operator imports; read-your-writes and `minRevision`.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use serde_json::json;

use crate::support::{OPERATOR, TestApp, assert_error};

#[tokio::test]
async fn a_change_is_read_at_once_by_the_node_that_wrote_it() {
    let app = TestApp::new().await;
    let admin = app.key("demo", "admin").await;
    let bob_exports = json!({"user": "bob", "action": "app:exportdata", "resource": "sales-dashboard"});
    assert_eq!(app.post("/v1/check", &admin, bob_exports.clone()).await.1["decision"], "deny");
    let (status, written) = app
        .post("/v1/changes", &admin, json!({"join": {"user": "bob", "group": "finance"}}))
        .await;
    assert_eq!(status, StatusCode::OK, "{written}");
    assert_eq!(written["revision"], 2);
    let mut fresh = bob_exports.clone();
    fresh["minRevision"] = written["revision"].clone();
    let (_, body) = app.post("/v1/check", &admin, fresh).await;
    assert_eq!((body["decision"].clone(), body["revision"].clone()), (json!("allow"), json!(2)), "{body}");

    // A step that changes nothing is a no-op: it succeeds and writes no new revision.
    let (status, body) = app
        .post("/v1/changes", &admin, json!({"leave": {"user": "carl", "group": "finance"}}))
        .await;
    assert_eq!((status, body["revision"].clone()), (StatusCode::OK, json!(2)), "{body}");
    let cases = [
        (
            json!({"join": {"user": "bob", "group": "finance"}}),
            StatusCode::CONFLICT,
            "already_member",
        ),
        (json!({"assign": {"role": "Nope", "user": "bob"}}), StatusCode::NOT_FOUND, "unknown_role"),
        (
            json!({"assign": {"role": "Steward", "user": "bob", "everyone": true}}),
            StatusCode::BAD_REQUEST,
            "bad_assignment",
        ),
        (
            json!({"set": {"setting": "nope", "value": true}}),
            StatusCode::BAD_REQUEST,
            "unknown_setting",
        ),
        (
            json!({"set": {"userDefault": "in-app-content-download", "value": "maybe"}}),
            StatusCode::BAD_REQUEST,
            "bad_value",
        ),
        (
            json!({"leave": {"user": "nobody", "group": "finance"}}),
            StatusCode::NOT_FOUND,
            "unknown_user",
        ),
    ];
    for (change, status, code) in cases {
        assert_error(&app.post("/v1/changes", &admin, change).await, status, code, None);
    }
    let (_, me) = app.call("GET", "/v1/whoami", Some(&admin), None).await;
    assert_eq!(me["revision"], 2, "refused changes write nothing");
    let ann = app.key("demo", "ann").await;
    assert_error(
        &app.post("/v1/changes", &ann, json!({"join": {"user": "ann", "group": "sales"}})).await,
        StatusCode::FORBIDDEN,
        "forbidden",
        None,
    );
}

#[tokio::test]
async fn changes_that_change_nothing_succeed() {
    let app = TestApp::new().await;
    let admin = app.key("demo", "admin").await;
    let ann_exports = json!({"user": "ann", "via": "api-key", "action": "app:exportdata", "resource": "sales-dashboard"});
    assert_eq!(app.post("/v1/check", &admin, ann_exports.clone()).await.1["decision"], "allow");
    let demo = app.state.store().tenant_by_name("demo").await.unwrap().unwrap();
    let (before, _) = app.state.store().load_tenant(demo.id).await.unwrap();
    // ann holds Exporters only through finance; sales never held Steward, nor did Everyone;
    // carl is not in finance; dana is disabled, so her login records no toggle role.
    for change in [
        json!({"unassign": {"role": "Exporters", "user": "ann"}}),
        json!({"unassign": {"role": "Steward", "group": "sales"}}),
        json!({"unassign": {"role": "Steward", "everyone": true}}),
        json!({"leave": {"user": "carl", "group": "finance"}}),
    ] {
        let (status, body) = app.post("/v1/changes", &admin, change.clone()).await;
        assert_eq!(status, StatusCode::OK, "{change}: {body}");
    }
    let (status, body) = app.post("/v1/sessions", &admin, json!({"user": "dana"})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (after, _) = app.state.store().load_tenant(demo.id).await.unwrap();
    assert_eq!(after, before, "nothing changed");
    assert_eq!(
        app.post("/v1/check", &admin, ann_exports).await.1["decision"],
        "allow",
        "the group path stays"
    );
    let cases = [
        (
            json!({"unassign": {"role": "Nope", "user": "ann"}}),
            StatusCode::NOT_FOUND,
            "unknown_role",
        ),
        (
            json!({"unassign": {"role": "Steward", "group": "nogroup"}}),
            StatusCode::NOT_FOUND,
            "unknown_group",
        ),
        (
            json!({"leave": {"user": "carl", "group": "nogroup"}}),
            StatusCode::NOT_FOUND,
            "unknown_group",
        ),
    ];
    for (change, status, code) in cases {
        assert_error(&app.post("/v1/changes", &admin, change).await, status, code, None);
    }
}

#[tokio::test]
async fn every_qlik_tenant_boolean_is_accepted_and_other_names_are_refused() {
    let app = TestApp::new().await;
    let admin = app.key("demo", "admin").await;
    for setting in [
        "enableAnalyticCreation",
        "autoAssignPrivateAnalyticsContentCreatorRoleToProfessionals",
        "autoAssignDataServicesContributorRoleToProfessionals",
        "capacityUserTypesUnified",
    ] {
        let (status, body) = app.post("/v1/changes", &admin, json!({"set": {"setting": setting, "value": true}})).await;
        assert_eq!(status, StatusCode::OK, "{setting}: {body}");
    }
    let demo = app.state.store().tenant_by_name("demo").await.unwrap().unwrap();
    let (stored, _) = app.state.store().load_tenant(demo.id).await.unwrap();
    assert!(stored.setting(portcullis_model::TenantSetting::EnableAnalyticCreation));
    let answer = app
        .post(
            "/v1/changes",
            &admin,
            json!({"set": {"setting": "enableAnalyticsCreation", "value": true}}),
        )
        .await;
    assert_error(&answer, StatusCode::BAD_REQUEST, "unknown_setting", None);
    assert!(
        answer.1["message"].as_str().unwrap().contains("`enableAnalyticsCreation`"),
        "{}",
        answer.1
    );

    let put = |body: &str| {
        Request::put("/v1/operator/tenants/fourth")
            .header("authorization", format!("Bearer {OPERATOR}"))
            .body(Body::from(body.to_owned()))
            .unwrap()
    };
    let (status, body) = app
        .send(put("settings: { enableAnalyticCreation: true }\nusers: [ { id: amy } ]\n"))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let answer = app
        .send(put(
            "settings: { autoAssignCreateSharedSpaceRoleToProfessionals: true }\nusers: [ { id: amy } ]\n",
        ))
        .await;
    assert_error(&answer, StatusCode::BAD_REQUEST, "invalid_tenant", None);
    assert!(
        answer.1["message"]
            .as_str()
            .unwrap()
            .contains("autoAssignCreateSharedSpaceRoleToProfessionals"),
        "{}",
        answer.1
    );
}

#[tokio::test]
async fn a_session_keeps_the_rights_of_its_login() {
    let app = TestApp::new().await;
    let admin = app.key("demo", "admin").await;
    let (status, body) = app.post("/v1/sessions", &admin, json!({"user": "bob"})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    app.post("/v1/changes", &admin, json!({"assign": {"role": "Steward", "user": "bob"}}))
        .await;
    let glossary = |via: &str| json!({"user": "bob", "via": via, "action": "glossary:create"});
    assert_eq!(app.post("/v1/check", &admin, glossary("api-key")).await.1["decision"], "allow");
    assert_eq!(
        app.post("/v1/check", &admin, glossary("session")).await.1["decision"],
        "deny",
        "the session froze bob's rights at login"
    );
    app.post("/v1/sessions", &admin, json!({"user": "bob"})).await;
    assert_eq!(app.post("/v1/check", &admin, glossary("session")).await.1["decision"], "allow");
}

/// An idle session ends (Qlik Cloud's inactivity timeout, here 2 s): the user's current rights
/// decide again, as a new login would freeze them.
#[tokio::test]
async fn an_idle_session_ends_and_the_current_rights_decide() {
    let app = TestApp::with_config(portcullis_server::ServerConfig {
        session_timeouts: portcullis_engine::SessionTimeouts {
            max_duration: None,
            inactivity: Some(2),
        },
        ..Default::default()
    })
    .await;
    let admin = app.key("demo", "admin").await;
    app.post("/v1/sessions", &admin, json!({"user": "bob"})).await;
    app.post("/v1/changes", &admin, json!({"assign": {"role": "Steward", "user": "bob"}}))
        .await;
    let glossary = json!({"user": "bob", "via": "session", "action": "glossary:create"});
    assert_eq!(
        app.post("/v1/check", &admin, glossary.clone()).await.1["decision"],
        "deny",
        "frozen at the login"
    );
    tokio::time::sleep(std::time::Duration::from_millis(3500)).await;
    assert_eq!(app.post("/v1/check", &admin, glossary).await.1["decision"], "allow", "the session ended");
}

#[tokio::test]
async fn the_operator_imports_tenants() {
    let app = TestApp::new().await;
    let tenant = "users:\n  - { id: zed, entitlement: professional, roles: [Steward] }\n";
    let put = |path: &str, token: &str, body: &str| {
        Request::put(path)
            .header("authorization", format!("Bearer {token}"))
            .body(Body::from(body.to_owned()))
            .unwrap()
    };
    let (status, body) = app.send(put("/v1/operator/tenants/third", OPERATOR, tenant)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body, json!({"tenant": "third", "revision": 1, "outcome": "created"}));
    let (_, body) = app.send(put("/v1/operator/tenants/third", OPERATOR, "users: []\n")).await;
    assert_eq!(body["outcome"], "kept");
    let (_, body) = app
        .send(put("/v1/operator/tenants/third?replace=true", OPERATOR, "users: [{ id: amy }]\n"))
        .await;
    assert_eq!((body["outcome"].clone(), body["revision"].clone()), (json!("replaced"), json!(2)));
    let answer = app
        .send(put("/v1/operator/tenants/third", OPERATOR, "users: [{ id: amy, roles: [Nope] }]\n"))
        .await;
    assert_error(&answer, StatusCode::BAD_REQUEST, "invalid_tenant", None);
    assert!(answer.1["message"].as_str().unwrap().contains("Nope"), "{}", answer.1);
    let admin = app.key("demo", "admin").await;
    assert_error(
        &app.send(put("/v1/operator/tenants/third", &admin, tenant)).await,
        StatusCode::UNAUTHORIZED,
        "unauthenticated",
        None,
    );

    // The operator acts as an administrator in the tenant it names.
    let request = Request::post("/v1/check")
        .header("authorization", format!("Bearer {OPERATOR}"))
        .header("portcullis-tenant", "third")
        .header("content-type", "application/json")
        .body(Body::from(json!({"user": "amy", "action": "glossary:create"}).to_string()))
        .unwrap();
    let (status, body) = app.send(request).await;
    assert_eq!((status, body["decision"].clone()), (StatusCode::OK, json!("deny")), "{body}");
    let request = Request::delete("/v1/operator/tenants/third")
        .header("authorization", format!("Bearer {OPERATOR}"))
        .body(Body::empty())
        .unwrap();
    assert_eq!(app.send(request).await.0, StatusCode::NO_CONTENT);
}
