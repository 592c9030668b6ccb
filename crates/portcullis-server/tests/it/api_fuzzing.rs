//! Regressions found by schemathesis against `/openapi.json` (`scripts/schemathesis.sh`,
//! docs/api-fuzzing.md): answers that were not in the route's JSON error envelope, and
//! statuses or shapes the document did not list.

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use serde_json::Value;

use crate::support::{OPERATOR, TestApp, assert_error};

/// The status, content type and JSON body (or `Null`) of one request.
async fn raw(app: &TestApp, method: &str, path: &str, token: &str) -> (StatusCode, String, Value) {
    let request = Request::builder()
        .method(method)
        .uri(path)
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .header("portcullis-tenant", "demo")
        .header(header::CONTENT_TYPE, "application/yaml")
        .body(Body::from("users: []\n"))
        .expect("a request");
    let response = tower::ServiceExt::oneshot(app.router.clone(), request).await.expect("an answer");
    let status = response.status();
    let content_type = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await.expect("the body");
    (status, content_type, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
}

/// Found: `DELETE /v1/api-keys/9223372036854775808` and a path parameter whose percent-encoding
/// is not UTF-8 were answered by axum's `Path` in plain text.
#[tokio::test]
async fn a_path_parameter_that_cannot_be_read_is_a_json_400() {
    let app = TestApp::new().await;
    let admin = app.key("demo", "admin").await;
    for (method, path, token) in [
        ("DELETE", "/v1/api-keys/9223372036854775808", admin.as_str()),
        ("DELETE", "/v1/api-keys/%FF", admin.as_str()),
        ("POST", "/v1/oauth-clients/%FF/secrets", admin.as_str()),
        ("DELETE", "/v1/rules/sites/%FF", admin.as_str()),
        ("DELETE", "/v1/operator/tenants/%FF", OPERATOR),
    ] {
        let (status, content_type, body) = raw(&app, method, path, token).await;
        assert_eq!(content_type, "application/json", "{method} {path}");
        assert_error(&(status, body), StatusCode::BAD_REQUEST, "bad_path", None);
    }
}

/// Found: `PUT /v1/operator/tenants/{name}?replace=null` was answered by axum's `Query` in
/// plain text.
#[tokio::test]
async fn a_query_parameter_that_cannot_be_read_is_a_json_400() {
    let app = TestApp::new().await;
    let (status, content_type, body) = raw(&app, "PUT", "/v1/operator/tenants/fresh?replace=null", OPERATOR).await;
    assert_eq!(content_type, "application/json");
    assert_error(&(status, body), StatusCode::BAD_REQUEST, "bad_query", None);
}

/// A query string that does not decode (a `%` starting no escape, escapes that are not
/// UTF-8) is refused at the edge naming the parameter, on every route and in its envelope,
/// instead of being kept or replaced by the route's decoder; `+` is a space everywhere.
#[tokio::test]
async fn a_query_string_that_does_not_decode_is_a_400_naming_the_parameter() {
    let app = TestApp::new().await;
    let admin = app.key("demo", "admin").await;
    for (method, path, token, field) in [
        ("PUT", "/v1/operator/tenants/fresh?replace=tr%zzue", OPERATOR, "replace"),
        ("PUT", "/v1/operator/tenants/fresh?replace=%FF", OPERATOR, "replace"),
        ("GET", "/v1/api-keys?x=1%", admin.as_str(), "x"),
    ] {
        let (status, content_type, body) = raw(&app, method, path, token).await;
        assert_eq!(content_type, "application/json", "{method} {path}");
        assert_error(&(status, body), StatusCode::BAD_REQUEST, "bad_query", Some(field));
    }
    for path in [
        "/api/v1/users?filter=name%20co%20%22100%zz%22",
        "/api/v1/users?limit=2&filter=%C3%28",
        "/api/v1/audits?eventType=%FF",
    ] {
        let (status, _, body) = raw(&app, "GET", path, &admin).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{path}: {body}");
        assert_eq!(body["errors"][0]["code"], "HTTP-400", "{path}: {body}");
        let detail = body["errors"][0]["detail"].as_str().unwrap_or_default();
        assert!(detail.starts_with("the query parameter `"), "{path}: {detail}");
    }
    let (status, _, body) = raw(&app, "GET", "/api/v1/users?filter=subject+eq+%22admin%22", &admin).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["data"].as_array().map(Vec::len), Some(1), "{body}");
}

/// The same under `/api/v1`, in Qlik's envelope: the management API's routes and the audits.
#[tokio::test]
async fn an_unreadable_path_under_api_v1_is_a_400_in_qliks_envelope() {
    let app = TestApp::new().await;
    let admin = app.key("demo", "admin").await;
    for (path, code) in [
        ("/api/v1/users/%FF", "HTTP-400"),
        ("/api/v1/spaces/%FF/assignments/x", "HTTP-400"),
        ("/api/v1/api-keys/%C3%28", "HTTP-400"),
        ("/api/v1/audits/%FF", "HTTP-400"),
    ] {
        let (status, content_type, body) = raw(&app, "GET", path, &admin).await;
        assert_eq!(
            (status, content_type.as_str()),
            (StatusCode::BAD_REQUEST, "application/json"),
            "{path}: {body}"
        );
        assert_eq!(body["errors"][0]["code"], code, "{path}: {body}");
    }
}

/// Found by the status-code and schema checks: what the document left out.
#[tokio::test]
async fn the_document_lists_what_the_fuzzer_received() {
    let app = TestApp::new().await;
    let (_, doc) = app.call("GET", "/openapi.json", None, None).await;
    let responses = |method: &str, path: &str| doc["paths"][path][method]["responses"].as_object().cloned().unwrap_or_default();
    // A JSON body without `Content-Type: application/json` is refused 415 by the server's routes.
    for path in [
        "/v1/check",
        "/v1/check/batch",
        "/v1/list-users",
        "/v1/changes",
        "/access/v1/evaluation",
        "/v1/rules/sites/{name}/check",
    ] {
        assert!(responses("post", path).contains_key("415"), "POST {path} lacks 415");
    }
    // `minRevision` ahead of the tenant is 409 wherever a body takes it.
    for path in ["/v1/check", "/v1/check/batch", "/v1/list-users", "/v1/list-resources"] {
        assert!(responses("post", path).contains_key("409"), "POST {path} lacks 409");
        // `asOf` before the retained history is 404 `not_in_history` wherever a body takes it.
        assert!(responses("post", path).contains_key("404"), "POST {path} lacks 404");
    }
    // The rule check takes a JSON body, and says who may call it.
    assert!(doc["paths"]["/v1/rules/sites/{name}/check"]["post"]["requestBody"].is_object());
    assert!(responses("post", "/v1/rules/sites/{name}/check").contains_key("403"));
    // `fields` leaves any property of a user out.
    let user = &doc["components"]["schemas"]["UserDto"];
    assert!(user["required"].as_array().is_none_or(Vec::is_empty), "{user}");
    let (status, me) = app
        .call("GET", "/api/v1/users/me?fields=name", Some(&app.key("demo", "admin").await), None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        me.as_object().map(|o| o.keys().cloned().collect::<Vec<_>>()),
        Some(vec!["name".to_owned()])
    );
}

/// Found reviewing the document the fuzzer checks against: a timeout under `/api/v1` was
/// answered in the server's envelope, where the document (and `@qlik/api`) expect Qlik's.
/// The console's routes had no time bound at all.
#[tokio::test]
async fn a_timeout_is_a_503_in_the_envelope_of_its_route() {
    let config = portcullis_server::ServerConfig {
        request_timeout: std::time::Duration::from_millis(200),
        ..portcullis_server::ServerConfig::default()
    };
    let app = TestApp::with_config(config).await;
    let admin = app.key("demo", "admin").await;
    // The console's pages are bounded too (its sign-in form never finishes arriving here).
    for (path, qlik, content_type) in [
        ("/api/v1/users", true, "application/json"),
        ("/v1/check", false, "application/json"),
        ("/console/sign-in", false, "application/x-www-form-urlencoded"),
    ] {
        let request = Request::builder()
            .method("POST")
            .uri(path)
            .header(header::AUTHORIZATION, format!("Bearer {admin}"))
            .header(header::CONTENT_TYPE, content_type)
            .body(Body::from_stream(futures_util::stream::pending::<
                Result<axum::body::Bytes, std::io::Error>,
            >()))
            .expect("a request");
        let (status, body) = app.send(request).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{path}: {body}");
        if qlik {
            assert_eq!(body["errors"][0]["code"], "HTTP-503", "{path}: {body}");
        } else {
            assert_eq!(body["code"], "timeout", "{path}: {body}");
        }
    }
}
