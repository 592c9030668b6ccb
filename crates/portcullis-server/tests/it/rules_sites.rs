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

pub async fn put_site(app: &TestApp, token: &str, name: &str, text: &str) -> (StatusCode, serde_json::Value) {
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
    assert_eq!(change["userId"], portcullis_qlik_api::ids::user_id("admin"), "the user's API id");

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

/// A request with headers; the status, the headers and the body as text.
async fn raw(
    app: &TestApp,
    method: &str,
    path: &str,
    token: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> (StatusCode, axum::http::HeaderMap, String) {
    let mut request = Request::builder()
        .method(method)
        .uri(path)
        .header("authorization", format!("Bearer {token}"));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = tower::ServiceExt::oneshot(app.router.clone(), request.body(Body::from(body.to_owned())).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap();
    (status, headers, String::from_utf8_lossy(&bytes).into_owned())
}

fn etag_of(headers: &axum::http::HeaderMap) -> &str {
    headers.get("etag").and_then(|v| v.to_str().ok()).expect("an ETag")
}

#[tokio::test]
async fn a_site_survives_a_restart_and_is_given_back_as_uploaded() {
    let app = TestApp::new().await;
    let admin = app.key("demo", "admin").await;
    let json_site = json!({
        "users": [{"userDirectory": "ACME", "userId": "ann", "groups": ["proj1_aud1"]}],
        "resources": [{"id": "s1", "type": "Stream", "name": "Proj1_Aud1", "customProperties": {"GroupAccess": ["proj1_aud1"]}}],
        "rules": [{"name": "ResourceAccess", "resourceFilter": "Stream_*", "condition": "resource.@GroupAccess = user.group", "actions": ["read"]}]
    })
    .to_string();
    let (status, headers, body) = raw(
        &app,
        "PUT",
        "/v1/rules/sites/acme",
        &admin,
        &[("content-type", "application/json")],
        &json_site,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(etag_of(&headers), "\"1\"");
    assert_eq!(put_site(&app, &admin, "yaml-one", SITE).await.0, StatusCode::OK);

    // A new server state over the same store: the sites come back from it, compiled.
    let store = portcullis_store::open(&app.url).await.unwrap();
    let restarted = portcullis_server::AppState::new(store, portcullis_server::ServerConfig::default())
        .await
        .unwrap();
    let restarted = TestApp::around(restarted, app.url.clone());
    let ask = json!({"user": "ACME\\ann", "action": "read", "resource": "s1", "context": "hub"});
    let (status, answer) = restarted.post("/v1/rules/sites/acme/check", &admin, ask).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!((&answer["decision"], &answer["siteRevision"]), (&json!("allow"), &json!(1)), "{answer}");
    let (_, listed) = restarted.call("GET", "/v1/rules/sites", Some(&admin), None).await;
    assert_eq!(listed["sites"], json!(["acme", "yaml-one"]));
    assert_eq!(listed["items"][1], json!({"name": "yaml-one", "revision": 2}));

    // The text as uploaded, in its format, with its revision.
    let (status, headers, text) = raw(&restarted, "GET", "/v1/rules/sites/acme", &admin, &[], "").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!((text.as_str(), etag_of(&headers)), (json_site.as_str(), "\"1\""));
    assert_eq!(headers["content-type"], "application/json");
    let (_, headers, text) = raw(&restarted, "GET", "/v1/rules/sites/yaml-one", &admin, &[], "").await;
    assert_eq!((text.as_str(), headers["content-type"].to_str().unwrap()), (SITE, "application/yaml"));
    assert_eq!(
        raw(&restarted, "GET", "/v1/rules/sites/nope", &admin, &[], "").await.0,
        StatusCode::NOT_FOUND
    );
    let bob = app.key("demo", "bob").await;
    assert_eq!(
        raw(&restarted, "GET", "/v1/rules/sites/acme", &bob, &[], "").await.0,
        StatusCode::FORBIDDEN
    );

    // Deleted on one, gone after a restart too.
    assert_eq!(
        restarted.call("DELETE", "/v1/rules/sites/acme", Some(&admin), None).await.0,
        StatusCode::NO_CONTENT
    );
    let store = portcullis_store::open(&app.url).await.unwrap();
    let again = portcullis_server::AppState::new(store, portcullis_server::ServerConfig::default())
        .await
        .unwrap();
    let again = TestApp::around(again, app.url.clone());
    let (_, listed) = again.call("GET", "/v1/rules/sites", Some(&admin), None).await;
    assert_eq!(listed["sites"], json!(["yaml-one"]));
    let tenant = again.state.tenant_by_name("demo").await.unwrap().unwrap();
    assert_eq!(tenant.rule_sites.names(), [("yaml-one".to_owned(), 2)]);
}

#[tokio::test]
async fn a_replacement_names_the_revision_it_replaces() {
    let app = TestApp::new().await;
    let admin = app.key("demo", "admin").await;
    let (_, headers, _) = raw(&app, "PUT", "/v1/rules/sites/acme", &admin, &[], SITE).await;
    let first = etag_of(&headers).to_owned();
    let denying = SITE.replace("actions: [read]", "actions: [update]");
    let (status, headers, body) = raw(&app, "PUT", "/v1/rules/sites/acme", &admin, &[("if-match", &first)], &denying).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let second = etag_of(&headers).to_owned();
    assert_eq!(second, "\"2\"");
    // The node answers from the version it acknowledged.
    let ask = json!({"user": "ACME\\ann", "action": "read", "resource": "s1", "context": "hub"});
    let (_, answer) = app.post("/v1/rules/sites/acme/check", &admin, ask.clone()).await;
    assert_eq!((&answer["decision"], &answer["siteRevision"]), (&json!("deny"), &json!(2)), "{answer}");

    // A write based on the first version is refused, and changes nothing.
    let (status, _, body) = raw(&app, "PUT", "/v1/rules/sites/acme", &admin, &[("if-match", &first)], SITE).await;
    assert_eq!(status, StatusCode::PRECONDITION_FAILED, "{body}");
    let body: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(body["code"], "precondition_failed");
    assert!(body["message"].as_str().unwrap().contains("at revision 2, not 1"), "{body}");
    assert_eq!(app.post("/v1/rules/sites/acme/check", &admin, ask).await.1["decision"], "deny");
    let (status, _, _) = raw(&app, "DELETE", "/v1/rules/sites/acme", &admin, &[("if-match", "W/\"1\"")], "").await;
    assert_eq!(status, StatusCode::PRECONDITION_FAILED);
    let (status, _, body) = raw(&app, "PUT", "/v1/rules/sites/acme", &admin, &[("if-match", "yesterday")], SITE).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(body.contains("invalid_if_match") && body.contains("If-Match"), "{body}");
    let (status, _, _) = raw(&app, "PUT", "/v1/rules/sites/new", &admin, &[("if-match", "\"1\"")], SITE).await;
    assert_eq!(status, StatusCode::PRECONDITION_FAILED, "If-Match on a site that does not exist");
    // `*` asks only that the site exist; a list, that it be at one of the revisions.
    let (status, _, body) = raw(&app, "PUT", "/v1/rules/sites/new", &admin, &[("if-match", "*")], SITE).await;
    assert_eq!(status, StatusCode::PRECONDITION_FAILED, "{body}");
    assert!(body.contains("does not exist"), "{body}");
    let (status, _, body) = raw(&app, "PUT", "/v1/rules/sites/acme", &admin, &[("if-match", "\"1\", W/\"7\"")], &denying).await;
    assert_eq!(status, StatusCode::PRECONDITION_FAILED, "{body}");
    let (status, headers, body) = raw(&app, "PUT", "/v1/rules/sites/acme", &admin, &[("if-match", "\"1\", \"2\"")], &denying).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let second = etag_of(&headers).to_owned();
    let (status, headers, body) = raw(&app, "PUT", "/v1/rules/sites/acme", &admin, &[("if-match", "*")], &denying).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_ne!(etag_of(&headers), second);
    let second = etag_of(&headers).to_owned();
    let (status, _, _) = raw(&app, "DELETE", "/v1/rules/sites/acme", &admin, &[("if-match", &second)], "").await;
    assert_eq!(status, StatusCode::NO_CONTENT);

    // Each write is one event, naming the revision it reached.
    let (_, events) = app
        .call("GET", "/api/v1/audits?eventType=com.qlik.v1.security-rule.updated", Some(&admin), None)
        .await;
    let mut revisions: Vec<u64> = events["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["data"]["details"]["revision"].as_u64().unwrap_or_else(|| panic!("{e}")))
        .collect();
    revisions.sort();
    assert_eq!(revisions, [1, 2, 3, 4, 5], "{events}");
}

#[tokio::test]
async fn the_number_of_sites_is_limited() {
    let app = TestApp::new().await;
    let admin = app.key("demo", "admin").await;
    let demo = app.state.store().tenant_by_name("demo").await.unwrap().unwrap();
    for n in 0..portcullis_store::MAX_RULE_SITES {
        let site = portcullis_store::NewRuleSite {
            tenant: demo.id,
            name: &format!("site-{n}"),
            format: portcullis_store::RuleSiteFormat::Yaml,
            source: SITE,
            expected_revision: None,
            summary: json!({}),
        };
        app.state.store().put_rule_site(&site, &portcullis_store::Author::cli()).await.unwrap();
    }
    let answer = put_site(&app, &admin, "one-more", SITE).await;
    assert_error(&answer, StatusCode::CONFLICT, "limit_reached", None);
    assert!(answer.1["message"].as_str().unwrap().contains("at most 100 rule sites"), "{}", answer.1);
    // Replacing one is still allowed; the poll brings the others to this node.
    assert_eq!(put_site(&app, &admin, "site-0", SITE).await.0, StatusCode::OK);
    app.state.follow_once().await;
    let tenant = app.state.tenant_by_name("demo").await.unwrap().unwrap();
    assert_eq!(tenant.rule_sites.names().len() as u64, portcullis_store::MAX_RULE_SITES);
    let long = "n".repeat(portcullis_store::MAX_RULE_SITE_NAME_BYTES + 1);
    let answer = put_site(&app, &admin, &long, SITE).await;
    assert_error(&answer, StatusCode::CONFLICT, "limit_reached", None);
    assert!(answer.1["message"].as_str().unwrap().contains("name is at most"), "{}", answer.1);
}
