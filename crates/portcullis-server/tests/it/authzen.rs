//! The AuthZEN Authorization API on both models: evaluation(s), the three searches with
//! their pagination, the metadata, and the errors.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use serde_json::{Value, json};

use crate::rules_sites::put_site;
use crate::support::{TestApp, assert_error};

const TODO: &str = include_str!("../../../../examples/authzen/todo.yaml");
const SEARCH: &str = include_str!("../../../../examples/authzen/search.yaml");
const RICK: &str = "CiRmZDA2MTRkMy1jMzlhLTQ3ODEtYjdiZC04Yjk2ZjVhNTEwMGQSBWxvY2Fs";
const MORTY: &str = "CiRmZDE2MTRkMy1jMzlhLTQ3ODEtYjdiZC04Yjk2ZjVhNTEwMGQSBWxvY2Fs";

#[tokio::test]
async fn an_authzen_evaluation_answers_like_a_check() {
    let app = TestApp::new().await;
    let admin = app.key("demo", "admin").await;
    let request = json!({
        "subject": {"type": "user", "id": "ann"},
        "action": {"name": "app:exportdata"},
        "resource": {"type": "app", "id": "sales-dashboard"},
        "context": {"via": "api-key"}
    });
    let (status, body) = app.post("/access/v1/evaluation", &admin, request).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["decision"], true);
    assert!(body["context"]["reason_admin"]["en"].as_str().unwrap().contains("Exporters"));
    let tenant_level =
        json!({"subject": {"type": "user", "id": "admin"}, "action": {"name": "user:manage"}, "resource": {"type": "tenant", "id": "demo"}});
    assert_eq!(app.post("/access/v1/evaluation", &admin, tenant_level).await.1["decision"], true);
    let wrong_type = json!({"subject": {"type": "user", "id": "ann"}, "action": {"name": "app:read"}, "resource": {"type": "space", "id": "budget"}});
    let (_, body) = app.post("/access/v1/evaluation", &admin, wrong_type).await;
    assert_eq!(
        (body["decision"].clone(), body["context"]["error"]["code"].clone()),
        (json!(false), json!("wrong_resource_type"))
    );

    let ann = app.key("demo", "ann").await;
    let about_bob = json!({"subject": {"type": "user", "id": "bob"}, "action": {"name": "app:read"}, "resource": {"type": "app", "id": "budget"}});
    assert_error(
        &app.post("/access/v1/evaluation", &ann, about_bob).await,
        StatusCode::FORBIDDEN,
        "forbidden",
        Some("subject.id"),
    );
    assert_error(
        &app.post("/access/v1/evaluation", &ann, json!({"subject": "ann"})).await,
        StatusCode::BAD_REQUEST,
        "bad_json",
        None,
    );
}

#[tokio::test]
async fn authzen_evaluations_take_defaults_and_semantics() {
    let app = TestApp::new().await;
    let admin = app.key("demo", "admin").await;
    let request = json!({
        "subject": {"type": "user", "id": "carl"},
        "action": {"name": "app:read"},
        "evaluations": [
            {"resource": {"type": "app", "id": "forecast"}},
            {"resource": {"type": "app", "id": "budget"}},
            {"resource": {"type": "app", "id": "sales-dashboard"}},
            {"subject": {"type": "user", "id": "nobody"}, "resource": {"type": "app", "id": "budget"}},
            {"action": {"name": "app:read"}}
        ]
    });
    let (status, body) = app.post("/access/v1/evaluations", &admin, request.clone()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["evaluations"][3]["context"]["error"]["status"], 404);
    let decisions: Vec<bool> = body["evaluations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["decision"].as_bool().unwrap())
        .collect();
    assert_eq!(decisions, [true, false, true, false, false]);
    assert_eq!(body["evaluations"][3]["context"]["error"]["code"], "unknown_user");
    assert_eq!(body["evaluations"][4]["context"]["error"]["code"], "missing_part");
    // Without `options.explain`, decisions are the specification's bare `{decision}`.
    assert_eq!(body["evaluations"][0], json!({"decision": true}));
    let mut explained = request.clone();
    explained["options"] = json!({"explain": true});
    let (_, body) = app.post("/access/v1/evaluations", &admin, explained).await;
    let reasons = &body["evaluations"][0]["context"];
    assert!(reasons["tokens"].as_array().is_some_and(|t| !t.is_empty()), "{body}");
    assert!(reasons["reason_admin"]["en"].is_string(), "{body}");
    let mut short = request.clone();
    short["options"] = json!({"evaluations_semantic": "deny_on_first_deny"});
    let (_, body) = app.post("/access/v1/evaluations", &admin, short).await;
    assert_eq!(body["evaluations"].as_array().unwrap().len(), 2);
    let mut first_permit = request;
    first_permit["options"] = json!({"evaluations_semantic": "permit_on_first_permit"});
    let (_, body) = app.post("/access/v1/evaluations", &admin, first_permit).await;
    assert_eq!(body["evaluations"], json!([{"decision": true}]));
    let (status, meta) = app.call("GET", "/.well-known/authzen-configuration", None, None).await;
    assert_eq!(status, StatusCode::OK);
    for (key, path) in [
        ("access_evaluation_endpoint", "/access/v1/evaluation"),
        ("search_subject_endpoint", "/access/v1/search/subject"),
        ("search_resource_endpoint", "/access/v1/search/resource"),
        ("search_action_endpoint", "/access/v1/search/action"),
    ] {
        assert!(meta[key].as_str().unwrap().ends_with(path), "{key}: {meta}");
    }
}

/// With a public URL set, a client's `Host` header changes no absolute URL: not the AuthZEN
/// metadata, not the management API's links, not the audit log's.
#[tokio::test]
async fn a_forged_host_header_changes_no_url_when_the_public_url_is_set() {
    let app = TestApp::with_config(portcullis_server::ServerConfig {
        public_url: Some("https://pc.example.com/".to_owned()),
        ..Default::default()
    })
    .await;
    let admin = app.key("demo", "admin").await;
    let forged = |path: &str| {
        axum::http::Request::builder()
            .uri(path)
            .header("host", "evil.example")
            .header("authorization", format!("Bearer {admin}"))
            .body(axum::body::Body::empty())
            .unwrap()
    };
    let (status, meta) = app.send(forged("/.well-known/authzen-configuration")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(meta["policy_decision_point"], "https://pc.example.com");
    assert_eq!(meta["access_evaluation_endpoint"], "https://pc.example.com/access/v1/evaluation");
    assert_eq!(meta["access_evaluations_endpoint"], "https://pc.example.com/access/v1/evaluations");
    for path in ["/api/v1/users?limit=1", "/api/v1/audits/types"] {
        let (status, page) = app.send(forged(path)).await;
        assert_eq!(status, StatusCode::OK, "{path}: {page}");
        let text = page.to_string();
        assert!(!text.contains("evil.example"), "{path}: {text}");
        assert!(text.contains("https://pc.example.com/api/v1/"), "{path}: {text}");
    }

    // Without it, the Host header is used (documented).
    let app = TestApp::new().await;
    let (_, meta) = app.send(forged("/.well-known/authzen-configuration")).await;
    assert_eq!(meta["policy_decision_point"], "http://evil.example");
}

/// The results of a search, as `(type or name, id)` pairs, and its `page`.
fn results(body: &Value) -> Vec<String> {
    body["results"]
        .as_array()
        .unwrap_or_else(|| panic!("no results: {body}"))
        .iter()
        .map(|r| r["id"].as_str().or(r["name"].as_str()).unwrap_or_default().to_owned())
        .collect()
}

/// Every page of a search, followed by its `next_token` with `limit` results a page.
async fn all_pages(app: &TestApp, token: &str, path: &str, mut request: Value, limit: u64) -> Vec<String> {
    let mut found = Vec::new();
    request["page"] = json!({"limit": limit});
    for _ in 0..1000 {
        let (status, body) = app.post(path, token, request.clone()).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let page = results(&body);
        assert!(page.len() as u64 <= limit, "{body}");
        assert_eq!(body["page"]["count"], page.len(), "{body}");
        found.extend(page);
        let next = body["page"]["next_token"].as_str().expect("a paged answer has a next_token").to_owned();
        if next.is_empty() {
            return found;
        }
        request["page"]["token"] = next.into();
    }
    panic!("the search never ended");
}

/// Who may export data from an app, what a user may open, what a user may do: the Qlik
/// model's searches agree with its list routes and its decisions, page by page.
#[tokio::test]
async fn the_qlik_model_answers_the_three_searches() {
    let app = TestApp::new().await;
    let admin = app.key("demo", "admin").await;
    let who = json!({"subject": {"type": "user"}, "action": {"name": "app:exportdata"}, "resource": {"type": "app", "id": "sales-dashboard"}});
    let (status, body) = app.post("/access/v1/search/subject", &admin, who.clone()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body.get("page").is_none(), "one page and no `page` asked: no page object: {body}");
    let exporters = results(&body);
    let (_, listed) = app
        .post(
            "/v1/list-users",
            &admin,
            json!({"action": "app:exportdata", "resource": "sales-dashboard", "limit": 1000}),
        )
        .await;
    let listed: Vec<String> = listed["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(exporters, listed);
    assert!(!exporters.is_empty() && exporters.len() < 6, "{exporters:?}");
    assert_eq!(all_pages(&app, &admin, "/access/v1/search/subject", who.clone(), 1).await, exporters);

    let opens = json!({"subject": {"type": "user", "id": "ann"}, "action": {"name": "app:read"}, "resource": {"type": "app"}});
    let (_, body) = app.post("/access/v1/search/resource", &admin, opens.clone()).await;
    let (_, listed) = app.post("/v1/list-resources", &admin, json!({"user": "ann", "action": "app:read"})).await;
    let listed: Vec<String> = listed["resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(results(&body), listed);
    assert_eq!(body["results"][0]["type"], "app");
    assert_eq!(all_pages(&app, &admin, "/access/v1/search/resource", opens, 2).await, listed);

    let may = json!({"subject": {"type": "user", "id": "ann"}, "resource": {"type": "app", "id": "budget"}, "options": {"explain": true}});
    let (_, body) = app.post("/access/v1/search/action", &admin, may).await;
    let actions = results(&body);
    for action in portcullis_model::Action::ALL
        .iter()
        .filter(|a| a.resource_kind() == portcullis_model::ResourceKind::App)
    {
        let (_, check) = app
            .post(
                "/v1/check",
                &admin,
                json!({"user": "ann", "action": action.as_str(), "resource": "budget"}),
            )
            .await;
        assert_eq!(
            check["allowed"] == true,
            actions.iter().any(|a| a == action.as_str()),
            "{action}: {check}"
        );
    }
    assert!(
        body["results"][0]["context"]["tokens"].as_array().is_some_and(|t| !t.is_empty()),
        "{body}"
    );

    let tenant = json!({"subject": {"type": "user", "id": "admin"}, "action": {"name": "user:manage"}, "resource": {"type": "tenant"}});
    let (_, body) = app.post("/access/v1/search/resource", &admin, tenant).await;
    assert_eq!(body, json!({"results": [{"type": "tenant", "id": "demo"}]}));

    // What the model does not know is found nowhere; what the request lacks is a 400.
    for unknown in [
        json!({"subject": {"type": "user"}, "action": {"name": "app:fly"}, "resource": {"type": "app", "id": "budget"}}),
        json!({"subject": {"type": "user"}, "action": {"name": "app:read"}, "resource": {"type": "app", "id": "nope"}}),
        json!({"subject": {"type": "group"}, "action": {"name": "app:read"}, "resource": {"type": "app", "id": "budget"}}),
    ] {
        assert_eq!(app.post("/access/v1/search/subject", &admin, unknown).await.1, json!({"results": []}));
    }
    assert_error(
        &app.post(
            "/access/v1/search/subject",
            &admin,
            json!({"subject": {"type": "user"}, "action": {"name": "app:read"}, "resource": {"id": "budget"}}),
        )
        .await,
        StatusCode::BAD_REQUEST,
        "missing_part",
        Some("resource.type"),
    );
    let ann = app.key("demo", "ann").await;
    assert_error(
        &app.post("/access/v1/search/subject", &ann, who).await,
        StatusCode::FORBIDDEN,
        "forbidden",
        None,
    );
}

/// A page token resumes only the search it came from, and a limit is 1 to 10,000.
#[tokio::test]
async fn page_tokens_belong_to_their_search() {
    let app = TestApp::new().await;
    let admin = app.key("demo", "admin").await;
    let search =
        json!({"subject": {"type": "user"}, "action": {"name": "app:read"}, "resource": {"type": "app", "id": "forecast"}, "page": {"limit": 1}});
    let (_, first) = app.post("/access/v1/search/subject", &admin, search.clone()).await;
    let token = first["page"]["next_token"].as_str().expect("more than one reader").to_owned();
    assert!(!token.is_empty(), "{first}");
    let mut same = search.clone();
    same["page"]["token"] = token.clone().into();
    assert_eq!(app.post("/access/v1/search/subject", &admin, same).await.0, StatusCode::OK);
    let mut other_resource = search.clone();
    other_resource["resource"]["id"] = "budget".into();
    other_resource["page"]["token"] = token.clone().into();
    assert_error(
        &app.post("/access/v1/search/subject", &admin, other_resource).await,
        StatusCode::BAD_REQUEST,
        "bad_page_token",
        Some("page.token"),
    );
    let mut other_limit = search.clone();
    other_limit["page"] = json!({"limit": 2, "token": token});
    assert_error(
        &app.post("/access/v1/search/subject", &admin, other_limit).await,
        StatusCode::BAD_REQUEST,
        "bad_page_token",
        None,
    );
    let mut forged = search.clone();
    forged["page"]["token"] = "not-a-token".into();
    assert_error(
        &app.post("/access/v1/search/subject", &admin, forged).await,
        StatusCode::BAD_REQUEST,
        "bad_page_token",
        None,
    );
    for limit in [0, 10_001] {
        let mut bad = search.clone();
        bad["page"]["limit"] = limit.into();
        assert_error(
            &app.post("/access/v1/search/subject", &admin, bad).await,
            StatusCode::BAD_REQUEST,
            "bad_limit",
            Some("page.limit"),
        );
    }
}

/// A test app whose tenant `other` answers AuthZEN from the rule site `name` (stored from
/// `text` by its administrator), and that administrator's key.
async fn bound_to_site(name: &str, text: &str) -> (TestApp, String) {
    let app = TestApp::with_config(portcullis_server::ServerConfig {
        authzen_sites: [("other".to_owned(), name.to_owned())].into(),
        ..Default::default()
    })
    .await;
    let admin = app.key("other", "admin").await;
    let (status, body) = put_site(&app, &admin, name, text).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    (app, admin)
}

fn todo(subject: &str, action: &str, owner: &str) -> Value {
    json!({
        "subject": {"type": "user", "id": subject},
        "action": {"name": action},
        "resource": {"type": "todo", "id": "7240d0db", "properties": {"ownerID": owner}}
    })
}

/// The Todo scenario's site decides on todos the request describes, explains itself, and
/// answers the specification's errors; the tenant not bound to a site keeps its Qlik model.
#[tokio::test]
async fn a_rule_site_answers_authzen_for_resources_the_request_describes() {
    let (app, admin) = bound_to_site("todo", TODO).await;
    let (status, body) = app
        .post("/access/v1/evaluation", &admin, todo(RICK, "can_update_todo", "jerry@the-smiths.com"))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["decision"], true);
    assert_eq!(body["context"]["tokens"], json!(["rule:Evil geniuses update any todo"]));
    assert_eq!(body["context"]["site"], "todo");
    let (_, body) = app
        .post("/access/v1/evaluation", &admin, todo(MORTY, "can_update_todo", "rick@the-citadel.com"))
        .await;
    assert_eq!(
        (body["decision"].clone(), body["context"]["tokens"].clone()),
        (json!(false), json!(["no-grant"]))
    );
    let (_, body) = app
        .post("/access/v1/evaluation", &admin, todo(MORTY, "can_delete_todo", "morty@the-citadel.com"))
        .await;
    assert_eq!(body["context"]["tokens"], json!(["rule:Editors update and delete their own todos"]));

    let batch = json!({
        "subject": {"type": "user", "id": MORTY},
        "action": {"name": "can_update_todo"},
        "resource": {},
        "evaluations": [
            {"resource": {"type": "todo", "id": "1", "properties": {"ownerID": "rick@the-citadel.com"}}},
            {"resource": {"type": "todo", "id": "2", "properties": {"ownerID": "morty@the-citadel.com"}}}
        ]
    });
    let (status, body) = app.post("/access/v1/evaluations", &admin, batch).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body, json!({"evaluations": [{"decision": false}, {"decision": true}]}));

    // Errors of one evaluation are its context; the decision stays closed.
    let stranger = todo("nobody", "can_read_todos", "x");
    let (_, body) = app.post("/access/v1/evaluation", &admin, stranger).await;
    assert_eq!(body["decision"], false);
    assert_eq!(body["context"]["error"]["code"], "unknown_subject");
    assert_eq!(body["context"]["error"]["status"], 404);
    let (_, body) = app.post("/access/v1/evaluation", &admin, todo(RICK, "can_fly", "x")).await;
    assert_eq!(body["context"]["error"]["code"], "unknown_action");
    assert!(body["context"]["error"]["hint"].as_str().unwrap().contains("can_create_todo"), "{body}");
    let mut wrong_type = todo(RICK, "can_read_user", "x");
    wrong_type["resource"]["type"] = "todo".into();
    let (_, body) = app.post("/access/v1/evaluation", &admin, wrong_type).await;
    assert!(body["context"]["error"]["message"].as_str().unwrap().contains("does not apply"), "{body}");
    assert_error(
        &app.post(
            "/access/v1/evaluation",
            &admin,
            json!({"subject": {"type": "user", "id": RICK}, "action": {"name": "can_read_todos"}}),
        )
        .await,
        StatusCode::BAD_REQUEST,
        "missing_part",
        Some("resource"),
    );

    // A request identifier comes back; a caller that may not ask about others is refused.
    let request = Request::builder()
        .method("POST")
        .uri("/access/v1/evaluation")
        .header("authorization", format!("Bearer {admin}"))
        .header("content-type", "application/json")
        .header("x-request-id", "bfe9eb29-ab87")
        .body(Body::from(todo(RICK, "can_read_todos", "x").to_string()))
        .unwrap();
    let response = tower::ServiceExt::oneshot(app.router.clone(), request).await.unwrap();
    assert_eq!(response.headers()["x-request-id"], "bfe9eb29-ab87");
    let ann = app.key("other", "ann").await;
    assert_error(
        &app.post("/access/v1/evaluation", &ann, todo(RICK, "can_read_todos", "x")).await,
        StatusCode::FORBIDDEN,
        "forbidden",
        None,
    );

    // The other tenant still answers from its Qlik model.
    let demo_admin = app.key("demo", "admin").await;
    let qlik = json!({"subject": {"type": "user", "id": "ann"}, "action": {"name": "app:read"}, "resource": {"type": "app", "id": "budget"}});
    assert_eq!(app.post("/access/v1/evaluation", &demo_admin, qlik).await.1["decision"], true);
}

/// A bound site that the tenant does not hold is the server's fault: 500, saying what to do.
#[tokio::test]
async fn a_bound_site_the_tenant_does_not_hold_is_a_500_that_says_so() {
    let app = TestApp::with_config(portcullis_server::ServerConfig {
        authzen_sites: [("demo".to_owned(), "missing".to_owned())].into(),
        ..Default::default()
    })
    .await;
    let admin = app.key("demo", "admin").await;
    let answer = app.post("/access/v1/evaluation", &admin, todo(RICK, "read", "x")).await;
    assert_error(&answer, StatusCode::INTERNAL_SERVER_ERROR, "authzen_site_missing", None);
    assert!(answer.1["hint"].as_str().unwrap().contains("--rule-site"), "{}", answer.1);
}

/// The Search scenario's site: each search is complete (it equals one evaluation per
/// candidate), pages, and explains every result by the rules that granted it.
#[tokio::test]
async fn rule_site_searches_are_complete_paginated_and_explained() {
    let (app, admin) = bound_to_site("search", SEARCH).await;
    let users = ["alice", "bob", "carol", "dan", "erin", "felix"];
    let records: Vec<String> = (101..=120).map(|r| r.to_string()).collect();
    for user in users {
        for action in ["view", "edit", "delete"] {
            let search = json!({"subject": {"type": "user", "id": user}, "action": {"name": action}, "resource": {"type": "record"}});
            let (status, body) = app.post("/access/v1/search/resource", &admin, search).await;
            assert_eq!(status, StatusCode::OK, "{body}");
            let found = results(&body);
            let evaluations: Vec<Value> = records.iter().map(|r| json!({"resource": {"type": "record", "id": r}})).collect();
            let batch = json!({"subject": {"type": "user", "id": user}, "action": {"name": action}, "evaluations": evaluations});
            let (_, decided) = app.post("/access/v1/evaluations", &admin, batch).await;
            let allowed: Vec<String> = records
                .iter()
                .zip(decided["evaluations"].as_array().unwrap())
                .filter(|(_, d)| d["decision"] == true)
                .map(|(r, _)| r.clone())
                .collect();
            assert_eq!(found, allowed, "{user} {action}");
        }
    }

    let who = json!({"subject": {"type": "user"}, "action": {"name": "view"}, "resource": {"type": "record", "id": "105"}});
    let (_, body) = app.post("/access/v1/search/subject", &admin, who.clone()).await;
    let readers = ["alice", "bob", "carol", "dan", "erin"].map(|id| json!({"type": "user", "id": id}));
    let expected = json!({ "results": readers });
    assert_eq!(body, expected);
    assert_eq!(
        all_pages(&app, &admin, "/access/v1/search/subject", who.clone(), 2).await,
        ["alice", "bob", "carol", "dan", "erin"]
    );
    let mut explained = who;
    explained["options"] = json!({"explain": true});
    let (_, body) = app.post("/access/v1/search/subject", &admin, explained).await;
    assert_eq!(
        body["results"][1]["context"]["tokens"],
        json!(["rule:Users view the records of their department"])
    );
    assert_eq!(
        body["results"][4]["context"]["tokens"],
        json!(["rule:Owners view, edit and delete their records"])
    );

    let may = json!({"subject": {"type": "user", "id": "dan"}, "resource": {"type": "record", "id": "115"}});
    assert_eq!(
        app.post("/access/v1/search/action", &admin, may).await.1,
        json!({"results": [{"name": "view"}, {"name": "edit"}]})
    );
    let nothing = json!({"subject": {"type": "user", "id": "erin"}, "resource": {"type": "record", "id": "118"}});
    assert_eq!(app.post("/access/v1/search/action", &admin, nothing).await.1, json!({"results": []}));
    let stranger = json!({"subject": {"type": "user", "id": "zed"}, "action": {"name": "view"}, "resource": {"type": "record"}});
    assert_eq!(app.post("/access/v1/search/resource", &admin, stranger).await.1, json!({"results": []}));
    let unheld = json!({"subject": {"type": "user"}, "action": {"name": "view"}, "resource": {"type": "record", "id": "999"}});
    assert_eq!(app.post("/access/v1/search/subject", &admin, unheld).await.1, json!({"results": []}));
}
