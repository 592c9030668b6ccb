//! Bounded parsing over HTTP: the inputs that once overflowed the stack and aborted the
//! process (nested SCIM filters, long and-chains, deeply nested rule conditions, deep YAML)
//! are refused 400 with a JSON body naming the limit, bodies over the limit are refused 413
//! in JSON on every route, and the server answers afterwards. Each test runs on a thread with
//! a test thread's default stack (2 MiB) and a runtime of its own.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use serde_json::{Value, json};

use crate::support::{OPERATOR, TestApp, assert_error};

fn on_test_stack<F>(test: impl FnOnce() -> F + Send + 'static)
where
    F: std::future::Future<Output = ()>,
{
    std::thread::Builder::new()
        .stack_size(2 << 20)
        .spawn(move || {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime")
                .block_on(test())
        })
        .expect("a thread starts")
        .join()
        .expect("the test passes");
}

fn request(method: &str, path: &str, token: &str, body: impl Into<Body>) -> Request<Body> {
    Request::builder()
        .method(method)
        .uri(path)
        .header("authorization", format!("Bearer {token}"))
        .body(body.into())
        .expect("a valid request")
}

/// The server still decides after the attack.
async fn still_answers(app: &TestApp, token: &str) {
    let check = json!({"user": "ann", "action": "app:read", "resource": "budget"});
    let (status, body) = app.post("/v1/check", token, check).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(app.call("GET", "/health", None, None).await.0, StatusCode::OK);
}

/// A 400 in Qlik's envelope whose detail names the limit.
#[track_caller]
fn assert_qlik_limit(answer: &(StatusCode, Value), limit: &str) {
    assert_eq!(answer.0, StatusCode::BAD_REQUEST, "{}", answer.1);
    let detail = answer.1["errors"][0]["detail"].as_str().unwrap_or_default();
    assert!(detail.contains(limit), "{}", answer.1);
}

/// A 400 `{code, message, hint}` whose message names the limit.
#[track_caller]
fn assert_limit(answer: &(StatusCode, Value), code: &str, limit: &str) {
    assert_error(answer, StatusCode::BAD_REQUEST, code, None);
    let message = answer.1["message"].as_str().unwrap_or_default();
    assert!(message.contains(limit), "{}", answer.1);
    assert!(answer.1["hint"].is_string(), "{}", answer.1);
}

#[test]
fn scim_filter_attacks_are_refused_naming_the_limit() {
    on_test_stack(|| async {
        let app = TestApp::new().await;
        let admin = app.key("demo", "admin").await;
        // 20 KB of nested parentheses, in a POST body and in a 60 KB URL.
        let nested = format!("{}name pr{}", "(".repeat(10_000), ")".repeat(10_000));
        let answer = app.post("/api/v1/users/actions/filter", &admin, json!({ "filter": nested })).await;
        assert_qlik_limit(&answer, "filter is longer than 16384 bytes");
        let encoded = portcullis_qlik_api::paging::encode_component(&nested)
            .replace('(', "%28")
            .replace(')', "%29");
        let answer = app.call("GET", &format!("/api/v1/users?filter={encoded}"), Some(&admin), None).await;
        assert_qlik_limit(&answer, "filter is longer than 16384 bytes");
        let deep = format!("{}name pr{}", "(".repeat(1_000), ")".repeat(1_000));
        let answer = app
            .call(
                "GET",
                &format!("/api/v1/groups?filter={}", portcullis_qlik_api::paging::encode_component(&deep)),
                Some(&admin),
                None,
            )
            .await;
        assert_qlik_limit(&answer, "filter nests deeper than 64 levels");
        // 1.2 MB of `name pr and name pr and ...`.
        let flat = vec!["name pr"; 100_001].join(" and ");
        let answer = app.post("/api/v1/users/actions/filter", &admin, json!({ "filter": flat })).await;
        assert_qlik_limit(&answer, "filter is longer than 16384 bytes");
        still_answers(&app, &admin).await;
    });
}

fn site_with_condition(condition: &str) -> String {
    format!(
        "users:\n  - {{ userDirectory: ACME, userId: ann }}\nresources:\n  - {{ id: s1, type: Stream }}\nrules:\n  - name: Deep\n    resourceFilter: Stream_*\n    condition: '{condition}'\n    actions: [read]\n"
    )
}

#[test]
fn rule_condition_attacks_are_refused_naming_the_limit() {
    on_test_stack(|| async {
        let app = TestApp::new().await;
        let admin = app.key("demo", "admin").await;
        let parens = format!("{}user.name = \"ann\"{}", "(".repeat(10_000), ")".repeat(10_000));
        let answer = app
            .send(request("PUT", "/v1/rules/sites/deep", &admin, site_with_condition(&parens)))
            .await;
        assert_limit(&answer, "invalid_site", "condition nests deeper than 64 levels");
        let bangs = format!("{}user.name = \"ann\"", "!".repeat(100_000));
        let answer = app
            .send(request("PUT", "/v1/rules/sites/deep", &admin, site_with_condition(&bangs)))
            .await;
        assert_limit(&answer, "invalid_site", "condition is longer than 65536 bytes");
        let bangs = format!("{}user.name = \"ann\"", "!".repeat(10_000));
        let answer = app
            .send(request("PUT", "/v1/rules/sites/deep", &admin, site_with_condition(&bangs)))
            .await;
        assert_limit(&answer, "invalid_site", "condition nests deeper than 64 levels");
        // Deep YAML beside a site with a problem (whose line is looked up).
        let yaml = format!("{}junk:\n  {}x\n", site_with_condition("user.name ="), "- ".repeat(100_000));
        let answer = app.send(request("PUT", "/v1/rules/sites/deep", &admin, yaml)).await;
        assert_limit(&answer, "invalid_site", "the YAML document nests deeper than 64 levels");
        // A site within the limits still loads and decides.
        let ok = format!("{}user.name = \"ann\"{}", "(".repeat(64), ")".repeat(64));
        let (status, body) = app.send(request("PUT", "/v1/rules/sites/deep", &admin, site_with_condition(&ok))).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let ask = json!({"user": "ACME\\ann", "action": "read", "resource": "s1", "context": "hub"});
        assert_eq!(app.post("/v1/rules/sites/deep/check", &admin, ask).await.1["decision"], "allow");
        still_answers(&app, &admin).await;
    });
}

#[test]
fn tenant_file_attacks_are_refused_naming_the_limit() {
    on_test_stack(|| async {
        let app = TestApp::new().await;
        let deep = format!(
            "tenant:\n  users:\n    - {{ id: amy, roles: [Nope] }}\njunk:\n  {}x\n",
            "- ".repeat(100_000)
        );
        let answer = app.send(request("PUT", "/v1/operator/tenants/deep", OPERATOR, deep)).await;
        assert_limit(&answer, "invalid_tenant", "the YAML document nests deeper than 64 levels");
        let mut laughs = format!(
            "groups: [{{ name: g }}]\nusers:\n  - {{ id: u0, groups: &many [{}] }}\n",
            vec!["g"; 1_000].join(", ")
        );
        for i in 1..200 {
            laughs.push_str(&format!("  - {{ id: u{i}, groups: *many }}\n"));
        }
        let answer = app.send(request("PUT", "/v1/operator/tenants/laughs", OPERATOR, laughs)).await;
        assert_limit(&answer, "invalid_tenant", "aliases expand to more than 100000 nodes");
        let admin = app.key("demo", "admin").await;
        still_answers(&app, &admin).await;
    });
}

/// A body one byte over the limit.
fn oversized() -> Vec<u8> {
    vec![b' '; portcullis_server::MAX_BODY_BYTES + 1]
}

#[test]
fn bodies_over_the_limit_are_refused_413_in_json_on_every_route() {
    on_test_stack(|| async {
        let app = TestApp::new().await;
        let admin = app.key("demo", "admin").await;
        let routes = [
            ("POST", "/v1/check", admin.as_str(), false),
            ("PUT", "/v1/rules/sites/big", admin.as_str(), false),
            ("PUT", "/v1/operator/tenants/big", OPERATOR, false),
            ("POST", "/access/v1/evaluation", admin.as_str(), false),
            ("POST", "/api/v1/users/actions/filter", admin.as_str(), true),
            ("POST", "/api/v1/users", admin.as_str(), true),
            ("POST", "/v1/sessions", admin.as_str(), false),
            ("POST", "/v1/changes", admin.as_str(), false),
            ("POST", "/v1/api-keys", admin.as_str(), false),
            ("POST", "/access/v1/evaluations", admin.as_str(), false),
            ("PUT", "/api/v1/audits/settings", admin.as_str(), true),
            ("POST", "/api/v1/api-keys", admin.as_str(), true),
        ];
        for (method, path, token, qlik) in routes {
            for declared in [true, false] {
                // Without `content-length`, the body is only found too long as it is read.
                let mut req = request(method, path, token, oversized());
                if declared {
                    req.headers_mut().insert("content-length", oversized().len().into());
                }
                req.headers_mut().insert("content-type", "application/json".parse().unwrap());
                let (status, body) = app.send(req).await;
                assert_eq!(
                    status,
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "{method} {path} (length declared: {declared}): {body}"
                );
                if qlik {
                    assert_eq!(body["errors"][0]["code"], "HTTP-413", "{method} {path}: {body}");
                } else {
                    assert_eq!(body["code"], "body_too_large", "{method} {path}: {body}");
                }
            }
        }
        let (status, body) = app.send(request("POST", "/oauth/token", "x", oversized())).await;
        assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{body}");
        assert_eq!(body["error"], "invalid_request", "{body}");
        still_answers(&app, &admin).await;
    });
}

#[test]
fn deeply_nested_json_is_refused_as_bad_json() {
    on_test_stack(|| async {
        let app = TestApp::new().await;
        let admin = app.key("demo", "admin").await;
        // Deep arrays as the body, and under a field the request type does not have.
        let arrays = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
        let field = format!("{{\"user\": \"ann\", \"extra\": {arrays}}}");
        for path in ["/v1/check", "/access/v1/evaluation", "/api/v1/users", "/api/v1/users/actions/filter"] {
            for deep in [&arrays, &field] {
                let mut req = request("POST", path, &admin, deep.clone());
                req.headers_mut().insert("content-type", "application/json".parse().unwrap());
                let (status, body) = app.send(req).await;
                assert_eq!(status, StatusCode::BAD_REQUEST, "{path}: {body}");
                let text = if path.starts_with("/api/v1") {
                    &body["errors"][0]["detail"]
                } else {
                    &body["message"]
                };
                assert!(text.is_string(), "{path}: {body}");
            }
        }
        still_answers(&app, &admin).await;
    });
}
