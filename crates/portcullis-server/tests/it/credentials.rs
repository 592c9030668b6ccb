//! Authentication: API keys (shown once, hashed, revocable, expiring), OAuth tokens, 401s.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use serde_json::{Value, json};

use crate::support::{TestApp, assert_error};

const CHECK: &str = "/v1/whoami";

#[tokio::test]
async fn missing_or_bad_credentials_get_401() {
    let app = TestApp::new().await;
    assert_error(
        &app.call("GET", CHECK, None, None).await,
        StatusCode::UNAUTHORIZED,
        "unauthenticated",
        None,
    );
    assert_error(
        &app.call("GET", CHECK, Some("pc_not-a-key"), None).await,
        StatusCode::UNAUTHORIZED,
        "unauthenticated",
        None,
    );
    assert_error(
        &app.call("GET", CHECK, Some("pct_not-a-token"), None).await,
        StatusCode::UNAUTHORIZED,
        "unauthenticated",
        None,
    );
    let request = Request::get(CHECK)
        .header("authorization", "Basic YWxhZGRpbjpvcGVuc2VzYW1l")
        .body(Body::empty())
        .unwrap();
    assert_error(&app.send(request).await, StatusCode::UNAUTHORIZED, "unauthenticated", None);
    let expired = app.key_expiring("demo", "ann", Some(portcullis_store::now() - 1)).await;
    assert_error(
        &app.call("GET", CHECK, Some(&expired), None).await,
        StatusCode::UNAUTHORIZED,
        "unauthenticated",
        None,
    );
    let answer = app
        .post("/v1/check", "pc_nope", json!({"user": "ann", "action": "app:read", "resource": "budget"}))
        .await;
    assert_error(&answer, StatusCode::UNAUTHORIZED, "unauthenticated", None);
}

#[tokio::test]
async fn api_keys_are_shown_once_listed_without_secret_and_revocable() {
    let app = TestApp::new().await;
    let admin = app.key("demo", "admin").await;
    let (status, created) = app.post("/v1/api-keys", &admin, json!({"description": "ci", "expiresInDays": 7})).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let token = created["token"].as_str().unwrap().to_owned();
    assert!(token.starts_with("pc_") && token.len() > 40, "{token}");
    let (status, me) = app.call("GET", CHECK, Some(&token), None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(me, json!({"tenant": "demo", "user": "admin", "via": "api-key", "revision": 1}));
    let (_, listed) = app.call("GET", "/v1/api-keys", Some(&admin), None).await;
    assert!(listed.as_array().unwrap().iter().all(|k| k.get("token").is_none()), "{listed}");
    let id = created["id"].as_i64().unwrap();
    let (status, _) = app.call("DELETE", &format!("/v1/api-keys/{id}"), Some(&admin), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_error(
        &app.call("GET", CHECK, Some(&token), None).await,
        StatusCode::UNAUTHORIZED,
        "unauthenticated",
        None,
    );

    // Keys for oneself need `api-key:create` (Developer role or the permission); ann has neither.
    let ann = app.key("demo", "ann").await;
    assert_error(&app.post("/v1/api-keys", &ann, json!({})).await, StatusCode::FORBIDDEN, "forbidden", None);
    // An administrator may mint a key for another user (e.g. an application's service user).
    let (status, for_gateway) = app.post("/v1/api-keys", &admin, json!({"user": "gateway"})).await;
    assert_eq!(status, StatusCode::CREATED);
    let (_, me) = app.call("GET", CHECK, for_gateway["token"].as_str(), None).await;
    assert_eq!(me["user"], "gateway");
    assert_error(
        &app.post("/v1/api-keys", &admin, json!({"user": "nobody"})).await,
        StatusCode::NOT_FOUND,
        "unknown_user",
        Some("user"),
    );
}

#[tokio::test]
async fn oauth_tokens_carry_their_clients_scopes() {
    let app = TestApp::new().await;
    let admin = app.key("demo", "admin").await;
    let (status, secret) = app.post("/v1/oauth-clients/reporting/secrets", &admin, json!({"botUser": "ann"})).await;
    assert_eq!(status, StatusCode::CREATED, "{secret}");
    let client_secret = secret["clientSecret"].as_str().unwrap().to_owned();

    let form = format!("grant_type=client_credentials&client_id=reporting&client_secret={client_secret}");
    let request = Request::post("/oauth/token")
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Body::from(form))
        .unwrap();
    let (status, token) = app.send(request).await;
    assert_eq!(status, StatusCode::OK, "{token}");
    assert_eq!(token["token_type"], "Bearer");
    assert_eq!(token["expires_in"], 21600);
    let access = token["access_token"].as_str().unwrap().to_owned();
    let (_, me) = app.call("GET", CHECK, Some(&access), None).await;
    assert_eq!(me["via"], "oauth:reporting");
    assert_eq!(me["user"], "ann");

    // Impersonation, as JSON: refused until the client is allowed it.
    let body = json!({"grant_type": "urn:qlik:oauth:user-impersonation", "client_id": "reporting", "client_secret": client_secret,
                      "user_lookup": {"field": "subject", "value": "bob"}});
    let (status, error) = app.call("POST", "/oauth/token", None, Some(body.clone())).await;
    assert_eq!((status, &error["error"]), (StatusCode::BAD_REQUEST, &json!("unauthorized_client")));
    let allow = json!([{"op": "replace", "path": "/allowedGrantTypes", "value": ["client_credentials", "urn:qlik:oauth:user-impersonation"]}]);
    let (status, _) = app.call("PATCH", "/api/v1/oauth-clients/reporting", Some(&admin), Some(allow)).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, token) = app.call("POST", "/oauth/token", None, Some(body)).await;
    assert_eq!(status, StatusCode::OK, "{token}");
    let (_, me) = app.call("GET", CHECK, token["access_token"].as_str(), None).await;
    assert_eq!(me["user"], "bob");

    let body = json!({"grant_type": "client_credentials", "client_id": "reporting", "client_secret": "pcs_wrong"});
    let (status, error) = app.call("POST", "/oauth/token", None, Some(body)).await;
    assert_eq!((status, &error["error"]), (StatusCode::UNAUTHORIZED, &json!("invalid_client")));
    let body = json!({"grant_type": "password", "client_id": "reporting", "client_secret": client_secret});
    let (status, error) = app.call("POST", "/oauth/token", None, Some(body)).await;
    assert_eq!((status, &error["error"]), (StatusCode::BAD_REQUEST, &json!("unsupported_grant_type")));
    let ann = app.key("demo", "ann").await;
    assert_error(
        &app.post("/v1/oauth-clients/reporting/secrets", &ann, json!({})).await,
        StatusCode::FORBIDDEN,
        "forbidden",
        None,
    );
}

/// Both key APIs cap a new key's lifetime at the same ten years, and answer past it with 400.
#[tokio::test]
async fn both_key_apis_share_one_expiry_cap() {
    let app = TestApp::new().await;
    let admin = app.key("demo", "admin").await;
    let cap_days = portcullis_qlik_api::api_keys::MAX_EXPIRY_SECONDS / 86_400;
    assert_eq!(cap_days, 3650);
    // The management API wants a role that may make keys.
    let (status, body) = app
        .post("/v1/changes", &admin, json!({"assign": {"role": "Developer", "user": "admin"}}))
        .await;
    assert!(status.is_success(), "{body}");

    let (status, body) = app
        .post("/v1/api-keys", &admin, json!({"description": "at the cap", "expiresInDays": cap_days}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (status, body) = app
        .post("/v1/api-keys", &admin, json!({"description": "over", "expiresInDays": cap_days + 1}))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");

    let (status, body) = app
        .post(
            "/api/v1/api-keys",
            &admin,
            json!({"description": "at the cap", "expiry": format!("P{cap_days}D")}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    for expiry in [format!("P{}D", cap_days + 1), "P100Y".to_owned(), "P0D".to_owned()] {
        let (status, body) = app
            .post("/api/v1/api-keys", &admin, json!({"description": "over", "expiry": expiry}))
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{expiry}: {body}");
        assert!(body["errors"][0]["detail"].as_str().unwrap_or_default().contains("expiry"), "{body}");
    }
}

/// Logins and token grants are rate-limited (per user, per OAuth client): past the limit,
/// 429 with `Retry-After`, in each route's envelope; another user or client is not slowed.
#[tokio::test]
async fn logins_and_token_grants_are_rate_limited() {
    use tower::ServiceExt as _;
    let app = TestApp::with_config(portcullis_server::ServerConfig {
        issues_per_minute: 3,
        ..Default::default()
    })
    .await;
    let admin = app.key("demo", "admin").await;
    let answer = |request: Request<Body>| {
        let router = app.router.clone();
        async move {
            let response = router.oneshot(request).await.unwrap();
            let retry_after = response.headers().get("retry-after").map(|v| v.to_str().unwrap().to_owned());
            let status = response.status();
            let bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap();
            (status, retry_after, serde_json::from_slice::<serde_json::Value>(&bytes).unwrap())
        }
    };
    let login = |user: &str| {
        Request::post("/v1/sessions")
            .header("authorization", format!("Bearer {admin}"))
            .header("content-type", "application/json")
            .body(Body::from(json!({"user": user}).to_string()))
            .unwrap()
    };
    for _ in 0..3 {
        let (status, _, body) = answer(login("bob")).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    let (status, retry_after, body) = answer(login("bob")).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    assert_eq!(body["code"], "too_many_requests");
    assert!(retry_after.is_some_and(|s| s.parse::<u64>().is_ok_and(|s| (1..=60).contains(&s))));
    assert_eq!(answer(login("carl")).await.0, StatusCode::OK);

    let (status, secret) = app.post("/v1/oauth-clients/reporting/secrets", &admin, json!({"botUser": "ann"})).await;
    assert_eq!(status, StatusCode::CREATED, "{secret}");
    let grant = |secret: &str| {
        Request::post("/oauth/token")
            .header("content-type", "application/x-www-form-urlencoded")
            .body(Body::from(format!(
                "grant_type=client_credentials&client_id=reporting&client_secret={secret}"
            )))
            .unwrap()
    };
    // Wrong secrets count too: guessing is what the limit slows.
    assert_eq!(answer(grant("pcs_wrong")).await.0, StatusCode::UNAUTHORIZED);
    for _ in 0..2 {
        let (status, _, body) = answer(grant(secret["clientSecret"].as_str().unwrap())).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    let (status, retry_after, body) = answer(grant(secret["clientSecret"].as_str().unwrap())).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    assert_eq!(body["error"], "too_many_requests");
    assert!(retry_after.is_some());
}

/// The token endpoint's answer to a client's secret: the status and the error, if any.
async fn token_with(app: &TestApp, client_secret: &str) -> (StatusCode, Value) {
    let body = json!({"grant_type": "client_credentials", "client_id": "reporting", "client_secret": client_secret});
    app.call("POST", "/oauth/token", None, Some(body)).await
}

#[tokio::test]
async fn issue_14_a_revoked_client_secret_is_refused_at_the_token_endpoint() {
    let app = TestApp::new().await;
    let admin = app.key("demo", "admin").await;
    let secrets = "/api/v1/oauth-clients/reporting/client-secrets";
    let (status, first) = app.call("POST", secrets, Some(&admin), None).await;
    assert_eq!(status, StatusCode::CREATED, "{first}");
    let (status, second) = app.call("POST", secrets, Some(&admin), None).await;
    assert_eq!(status, StatusCode::CREATED, "{second}");
    let first_secret = first["clientSecret"].as_str().unwrap();
    let hint = first["hint"].as_str().unwrap();
    assert_eq!(hint, &first_secret[first_secret.len() - 4..]);
    assert_eq!(first["createdBy"], portcullis_qlik_api::ids::user_id("admin"));
    assert_eq!(token_with(&app, first_secret).await.0, StatusCode::OK);

    // The client lists its secrets by hint, never the secrets.
    let (status, client) = app.call("GET", "/api/v1/oauth-clients/reporting", Some(&admin), None).await;
    assert_eq!(status, StatusCode::OK);
    let hints: Vec<&str> = client["clientSecrets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["hint"].as_str().unwrap())
        .collect();
    assert_eq!(hints, [hint, second["hint"].as_str().unwrap()]);
    assert!(!client.to_string().contains(first_secret));

    let (status, _) = app.call("DELETE", &format!("{secrets}/{hint}"), Some(&admin), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, error) = token_with(&app, first_secret).await;
    assert_eq!(
        (status, &error["error"]),
        (StatusCode::UNAUTHORIZED, &json!("invalid_client")),
        "a revoked secret is refused"
    );
    assert_eq!(
        token_with(&app, second["clientSecret"].as_str().unwrap()).await.0,
        StatusCode::OK,
        "the other still works"
    );
    let (status, error) = app.call("DELETE", &format!("{secrets}/{hint}"), Some(&admin), None).await;
    assert_eq!((status, &error["errors"][0]["code"]), (StatusCode::NOT_FOUND, &json!("OAUTH-CLIENTS-7")));
    let (_, client) = app.call("GET", "/api/v1/oauth-clients/reporting", Some(&admin), None).await;
    assert_eq!(client["clientSecrets"].as_array().unwrap().len(), 1);

    // Five at a time: the sixth is a conflict, and is not stored.
    for _ in 0..4 {
        assert_eq!(app.call("POST", secrets, Some(&admin), None).await.0, StatusCode::CREATED);
    }
    let (status, full) = app.call("POST", secrets, Some(&admin), None).await;
    assert_eq!(
        (status, &full["errors"][0]["code"]),
        (StatusCode::CONFLICT, &json!("OAUTH-CLIENTS-9")),
        "{full}"
    );
    let (_, client) = app.call("GET", "/api/v1/oauth-clients/reporting", Some(&admin), None).await;
    assert_eq!(client["clientSecrets"].as_array().unwrap().len(), 5);

    // Revoking is on the audit trail, with the hint and never the secret.
    let (_, events) = app
        .call("GET", "/api/v1/audits?eventType=com.qlik.v1.oauth-client.updated", Some(&admin), None)
        .await;
    let text = events.to_string();
    assert!(text.contains("delete-client-secret") || text.contains(hint), "{text}");
    assert!(!text.contains(first_secret));
}
