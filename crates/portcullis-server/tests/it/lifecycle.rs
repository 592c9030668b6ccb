//! Credentials die with their owner, on both store backends: a deleted user's keys, a deleted
//! client's secrets and tokens, a deleted tenant's credentials and rule sites stop working at
//! once on the node that deleted them (and at the next poll on another node), and nothing
//! comes back when a user, client or tenant is created again under the same key. The
//! impersonation grant is opt-in per client, and every token issued is an audit event.

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use portcullis_model::tenant_file::load_tenant_text;
use portcullis_qlik_api::ids;
use portcullis_server::auth::{API_KEY_PREFIX, hash_secret, new_secret};
use portcullis_server::{AppState, ServerConfig, app};
use portcullis_store::{AuditQuery, EventType, ImportMode, NewApiKey, Store};
use serde_json::{Value, json};
use tower::ServiceExt as _;

use crate::support::{DEMO, OPERATOR};

const WHOAMI: &str = "/v1/whoami";
const IMPERSONATION: &str = "urn:qlik:oauth:user-impersonation";

/// A store (a temporary SQLite file, or the test PostgreSQL database) holding the demo tenant
/// under a name of the test's own.
pub(crate) struct Env {
    pub(crate) store: Arc<dyn Store>,
    pub(crate) tenant: String,
    _dir: Option<tempfile::TempDir>,
    /// PostgreSQL: the test's own schema, dropped at the end.
    schema: Option<(sqlx::postgres::PgConnectOptions, String)>,
}

/// One server node over the env's store.
pub(crate) struct Node {
    pub(crate) router: Router,
    pub(crate) state: AppState,
}

impl Env {
    pub(crate) async fn sqlite() -> Env {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let store = portcullis_store::open(&format!("sqlite://{}", dir.path().join("test.db").display()))
            .await
            .expect("the store opens");
        Env::with(store, "demo".to_owned(), Some(dir)).await
    }

    /// A fresh schema of the test PostgreSQL database (so tests running at once never see each
    /// other's tenants), or `None` when PostgreSQL does not answer and is not required.
    pub(crate) async fn postgres(test: &str) -> Option<Env> {
        use sqlx::Connection as _;
        use std::str::FromStr as _;

        let url = std::env::var("PORTCULLIS_TEST_POSTGRES").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned());
        let skip = |reason: String| {
            if std::env::var("PORTCULLIS_REQUIRE_POSTGRES").is_ok_and(|v| v == "1") {
                panic!("PostgreSQL is required (PORTCULLIS_REQUIRE_POSTGRES=1) but {url}: {reason}");
            }
            eprintln!("skipped (no PostgreSQL): lifecycle::{test}: {reason}");
            None
        };
        let options = match sqlx::postgres::PgConnectOptions::from_str(&url) {
            Ok(options) => options,
            Err(error) => return skip(error.to_string()),
        };
        let mut connection = match tokio::time::timeout(std::time::Duration::from_secs(5), sqlx::PgConnection::connect_with(&options)).await {
            Ok(Ok(connection)) => connection,
            Ok(Err(error)) => return skip(error.to_string()),
            Err(_) => return skip("no answer within 5 s".to_owned()),
        };
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let short: String = test.chars().take(30).collect();
        let schema = format!("lc_{short}_{}_{nanos}", std::process::id());
        sqlx::raw_sql(&format!("CREATE SCHEMA {schema}"))
            .execute(&mut connection)
            .await
            .expect("a fresh schema");
        let _ = connection.close().await;
        let options = options.options([("search_path", schema.as_str())]);
        let store = portcullis_store::postgres::PgStore::open_with(options.clone())
            .await
            .expect("the store opens");
        let mut env = Env::with(Arc::new(store), "demo".to_owned(), None).await;
        env.schema = Some((options, schema));
        Some(env)
    }

    pub(crate) async fn with(store: Arc<dyn Store>, tenant: String, dir: Option<tempfile::TempDir>) -> Env {
        let env = Env {
            store,
            tenant,
            _dir: dir,
            schema: None,
        };
        env.import(&env.tenant).await;
        env
    }

    pub(crate) async fn import(&self, name: &str) {
        let mut demo = load_tenant_text("demo", DEMO).expect("the demo tenant loads");
        demo.name = name.to_owned();
        self.store
            .import_tenant(&demo, ImportMode::Replace, &portcullis_store::Author::cli())
            .await
            .expect("import");
    }

    pub(crate) async fn node(&self) -> Node {
        let config = ServerConfig {
            operator_token_hash: Some(hash_secret(OPERATOR)),
            ..ServerConfig::default()
        };
        let state = AppState::new(self.store.clone(), config).await.expect("the state loads");
        Node {
            router: app(state.clone()),
            state,
        }
    }

    /// An API key for a user of `tenant`, minted in the store.
    pub(crate) async fn key_in(&self, tenant: &str, user: &str) -> String {
        let record = self.store.tenant_by_name(tenant).await.unwrap().expect("the tenant exists");
        let (token, hash) = new_secret(API_KEY_PREFIX).unwrap();
        let key = NewApiKey {
            tenant: record.id,
            user_id: user.to_owned(),
            hash,
            description: "test".into(),
            expires_at: None,
        };
        self.store.create_api_key(&key, &portcullis_store::Author::cli()).await.unwrap();
        token
    }

    pub(crate) async fn key(&self, user: &str) -> String {
        self.key_in(&self.tenant.clone(), user).await
    }

    pub(crate) async fn done(self) {
        use sqlx::Connection as _;

        if let Some((options, schema)) = &self.schema
            && let Ok(mut connection) = sqlx::PgConnection::connect_with(options).await
        {
            let _ = sqlx::raw_sql(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
                .execute(&mut connection)
                .await;
            let _ = connection.close().await;
        }
    }
}

impl Node {
    pub(crate) async fn call(&self, method: &str, path: &str, token: Option<&str>, body: Option<Value>) -> (StatusCode, Value) {
        let mut request = Request::builder().method(method).uri(path).header("host", "portcullis.test");
        if let Some(token) = token {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        let request = match body {
            Some(body) => request.header("content-type", "application/json").body(Body::from(body.to_string())),
            None => request.body(Body::empty()),
        };
        self.send(request.unwrap()).await
    }

    pub(crate) async fn send(&self, request: Request<Body>) -> (StatusCode, Value) {
        let response = self.router.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap();
        (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
    }

    pub(crate) async fn whoami(&self, token: &str) -> StatusCode {
        self.call("GET", WHOAMI, Some(token), None).await.0
    }

    /// `/oauth/token` with a form body; the status and the answer.
    async fn token(&self, form: &str) -> (StatusCode, Value) {
        let request = Request::post("/oauth/token")
            .header("content-type", "application/x-www-form-urlencoded")
            .body(Body::from(form.to_owned()))
            .unwrap();
        self.send(request).await
    }

    async fn client_credentials(&self, client: &str, secret: &str) -> (StatusCode, Value) {
        self.token(&format!("grant_type=client_credentials&client_id={client}&client_secret={secret}"))
            .await
    }

    async fn impersonate(&self, client: &str, secret: &str, subject: &str) -> (StatusCode, Value) {
        self.token(&format!(
            "grant_type={IMPERSONATION}&client_id={client}&client_secret={secret}&user_lookup[field]=subject&user_lookup[value]={subject}"
        ))
        .await
    }

    /// A new OAuth client through the management API: its id and secret.
    async fn create_client(&self, admin: &str, name: &str, grants: Option<Value>) -> (String, String) {
        let mut body = json!({ "clientName": name, "appType": "web", "allowedScopes": ["user_default"] });
        if let Some(grants) = grants {
            body["allowedGrantTypes"] = grants;
        }
        let (status, made) = self.call("POST", "/api/v1/oauth-clients", Some(admin), Some(body)).await;
        assert_eq!(status, StatusCode::CREATED, "{made}");
        (
            made["clientId"].as_str().unwrap().to_owned(),
            made["clientSecret"].as_str().unwrap().to_owned(),
        )
    }
}

/// Declares each test once per backend.
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test]
                async fn $name() {
                    super::$name(super::Env::sqlite().await).await;
                }
            )*
        }

        mod postgres {
            $(
                #[tokio::test]
                async fn $name() {
                    let Some(env) = super::Env::postgres(stringify!($name)).await else { return };
                    super::$name(env).await;
                }
            )*
        }
    };
}

on_both_backends!(
    a_deleted_users_keys_are_revoked_and_serve_no_one_after,
    a_deleted_clients_tokens_and_secrets_stop_working,
    a_client_created_again_under_its_name_is_another_client,
    impersonation_is_opt_in_per_client,
    every_token_issued_is_an_audit_event,
    a_tenant_created_again_under_its_name_gets_nothing_of_the_old_one,
    another_node_drops_revoked_credentials_at_its_next_poll,
    a_deleted_owners_space_and_apps_are_left_without_an_owner_and_handed_on,
);

async fn a_deleted_users_keys_are_revoked_and_serve_no_one_after(env: Env) {
    let node = env.node().await;
    let admin = env.key("admin").await;
    let (status, made) = node
        .call(
            "POST",
            "/v1/api-keys",
            Some(&admin),
            Some(json!({"user": "carl", "description": "carl's"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{made}");
    let carls = made["token"].as_str().unwrap().to_owned();
    assert_eq!(node.whoami(&carls).await, StatusCode::OK, "the key works (and is now cached)");

    let carl = ids::user_id("carl");
    let (status, body) = node.call("DELETE", &format!("/api/v1/users/{carl}"), Some(&admin), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    assert_eq!(node.whoami(&carls).await, StatusCode::UNAUTHORIZED);
    // Listed as revoked, by both APIs.
    let (_, listed) = node.call("GET", "/api/v1/api-keys", Some(&admin), None).await;
    let statuses: Vec<&Value> = listed["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|k| k["sub"] == carl)
        .map(|k| &k["status"])
        .collect();
    assert_eq!(statuses, [&json!("revoked")], "{listed}");
    let (_, listed) = node.call("GET", "/v1/api-keys", Some(&admin), None).await;
    assert!(
        listed
            .as_array()
            .unwrap()
            .iter()
            .filter(|k| k["user"] == "carl")
            .all(|k| k.get("revokedAt").is_some()),
        "{listed}"
    );

    // A user created again with the same subject does not get the old key.
    let (status, body) = node
        .call(
            "POST",
            "/api/v1/users",
            Some(&admin),
            Some(json!({"subject": "carl", "name": "Another Carl"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(node.whoami(&carls).await, StatusCode::UNAUTHORIZED, "the old key acts for no new user");
    // A fresh node (nothing cached) agrees.
    assert_eq!(env.node().await.whoami(&carls).await, StatusCode::UNAUTHORIZED);
    env.done().await;
}

async fn a_deleted_clients_tokens_and_secrets_stop_working(env: Env) {
    let node = env.node().await;
    let admin = env.key("admin").await;
    let (client, secret) = node.create_client(&admin, "Nightly", None).await;
    let (status, token) = node.client_credentials(&client, &secret).await;
    assert_eq!(status, StatusCode::OK, "{token}");
    let access = token["access_token"].as_str().unwrap().to_owned();
    assert_eq!(node.whoami(&access).await, StatusCode::OK, "the token works (and is now cached)");

    let (status, _) = node.call("DELETE", &format!("/api/v1/oauth-clients/{client}"), Some(&admin), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(node.whoami(&access).await, StatusCode::UNAUTHORIZED, "the token died with its client");
    let (status, error) = node.client_credentials(&client, &secret).await;
    assert_eq!((status, &error["error"]), (StatusCode::UNAUTHORIZED, &json!("invalid_client")), "{error}");
    let fresh = env.node().await;
    assert_eq!(fresh.whoami(&access).await, StatusCode::UNAUTHORIZED);
    // The store holds neither any more.
    assert_eq!(env.store.oauth_token_by_hash(&hash_secret(&access)).await.unwrap(), None);
    assert_eq!(env.store.client_secret_by_hash(&hash_secret(&secret)).await.unwrap(), None);
    env.done().await;
}

async fn a_client_created_again_under_its_name_is_another_client(env: Env) {
    let node = env.node().await;
    let admin = env.key("admin").await;
    let (first, old_secret) = node.create_client(&admin, "Portal", None).await;
    assert!(first.len() == 32 && first.bytes().all(|b| b.is_ascii_hexdigit()), "{first}");
    let (status, _) = node.call("DELETE", &format!("/api/v1/oauth-clients/{first}"), Some(&admin), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    // The same name again, now with more scopes: another id, and the old secret opens nothing.
    let body = json!({ "clientName": "Portal", "appType": "web", "allowedScopes": ["user_default", "admin_classic"] });
    let (status, made) = node.call("POST", "/api/v1/oauth-clients", Some(&admin), Some(body)).await;
    assert_eq!(status, StatusCode::CREATED, "{made}");
    let second = made["clientId"].as_str().unwrap().to_owned();
    assert_ne!(second, first, "a client's id is not derived from its name");
    let (status, error) = node.client_credentials(&second, &old_secret).await;
    assert_eq!((status, &error["error"]), (StatusCode::UNAUTHORIZED, &json!("invalid_client")), "{error}");
    let (status, error) = node.client_credentials(&first, &old_secret).await;
    assert_eq!((status, &error["error"]), (StatusCode::UNAUTHORIZED, &json!("invalid_client")), "{error}");
    // Two clients of one name at once are two clients.
    let (third, _) = node.create_client(&admin, "Portal", None).await;
    assert_ne!(third, second);
    env.done().await;
}

async fn impersonation_is_opt_in_per_client(env: Env) {
    let node = env.node().await;
    let admin = env.key("admin").await;
    // The demo's client was never allowed to impersonate.
    let (status, made) = node
        .call(
            "POST",
            "/v1/oauth-clients/reporting/secrets",
            Some(&admin),
            Some(json!({"botUser": "ann"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{made}");
    let reporting = made["clientSecret"].as_str().unwrap().to_owned();
    let (status, error) = node.impersonate("reporting", &reporting, "bob").await;
    assert_eq!(
        (status, &error["error"]),
        (StatusCode::BAD_REQUEST, &json!("unauthorized_client")),
        "{error}"
    );
    let (status, token) = node.client_credentials("reporting", &reporting).await;
    assert_eq!(status, StatusCode::OK, "client_credentials still works: {token}");
    let (_, shown) = node.call("GET", "/api/v1/oauth-clients/reporting", Some(&admin), None).await;
    assert_eq!(shown["allowedGrantTypes"], json!(["client_credentials"]));

    // A new client is off by default too, and on when it asks.
    let (plain, plain_secret) = node.create_client(&admin, "Plain", None).await;
    let (status, _) = node.impersonate(&plain, &plain_secret, "bob").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (portal, portal_secret) = node
        .create_client(&admin, "Embedding portal", Some(json!(["client_credentials", IMPERSONATION])))
        .await;
    let (status, token) = node.impersonate(&portal, &portal_secret, "bob").await;
    assert_eq!(status, StatusCode::OK, "{token}");
    let (_, me) = node.call("GET", WHOAMI, token["access_token"].as_str(), None).await;
    assert_eq!(me["user"], "bob");
    let (_, shown) = node.call("GET", &format!("/api/v1/oauth-clients/{portal}"), Some(&admin), None).await;
    assert_eq!(shown["allowedGrantTypes"], json!(["client_credentials", IMPERSONATION]));

    // Turned on and off again through PATCH.
    let patch = |grants: Value| json!([{ "op": "replace", "path": "/allowedGrantTypes", "value": grants }]);
    let (status, body) = node
        .call(
            "PATCH",
            "/api/v1/oauth-clients/reporting",
            Some(&admin),
            Some(patch(json!(["client_credentials", IMPERSONATION]))),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    let (status, token) = node.impersonate("reporting", &reporting, "bob").await;
    assert_eq!(status, StatusCode::OK, "{token}");
    let (status, _) = node
        .call(
            "PATCH",
            "/api/v1/oauth-clients/reporting",
            Some(&admin),
            Some(patch(json!(["client_credentials"]))),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = node.impersonate("reporting", &reporting, "bob").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, error) = node
        .call("PATCH", "/api/v1/oauth-clients/reporting", Some(&admin), Some(patch(json!(["password"]))))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{error}");
    // A fresh node reads the flag from the store.
    let (status, _) = env.node().await.impersonate(&portal, &portal_secret, "carl").await;
    assert_eq!(status, StatusCode::OK);
    env.done().await;
}

async fn every_token_issued_is_an_audit_event(env: Env) {
    let node = env.node().await;
    let admin = env.key("admin").await;
    let (portal, secret) = node
        .create_client(&admin, "Portal", Some(json!(["client_credentials", IMPERSONATION])))
        .await;
    assert_eq!(node.client_credentials(&portal, &secret).await.0, StatusCode::OK);
    assert_eq!(node.impersonate(&portal, &secret, "bob").await.0, StatusCode::OK);
    // A refused request issues nothing and records nothing.
    assert_eq!(node.impersonate(&portal, &secret, "nobody").await.0, StatusCode::BAD_REQUEST);

    let record = env.store.tenant_by_name(&env.tenant).await.unwrap().unwrap();
    let query = AuditQuery {
        event_types: vec![EventType::OauthTokenIssued.as_str().to_owned()],
        ..AuditQuery::default()
    };
    let issued: Vec<_> = env
        .store
        .audit_events(record.id, &query)
        .await
        .unwrap()
        .into_iter()
        .map(|(_, b)| b)
        .collect();
    assert_eq!(issued.len(), 2, "{issued:?}");
    let subjects: Vec<&Value> = issued.iter().map(|e| &e.data["sub"]).collect();
    assert_eq!(subjects, [&json!("admin"), &json!("bob")], "the bot user, then the impersonated user");
    for event in &issued {
        assert_eq!(event.actor.client.as_deref(), Some(portal.as_str()));
        assert_eq!(event.data["clientId"], json!(portal));
        assert_eq!(event.data["scopes"], json!(["user_default"]));
        assert!(event.event_time.starts_with("20"), "{}", event.event_time);
    }
    assert_eq!(issued[0].data["grantType"], "client_credentials");
    assert_eq!(issued[1].data["grantType"], IMPERSONATION);
    // And through the audits API, with the type in Qlik's words.
    let (status, page) = node
        .call("GET", "/api/v1/audits?eventType=com.qlik.v1.oauth-token.issued", Some(&admin), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert_eq!(page["data"].as_array().map(Vec::len), Some(2), "{page}");
    env.done().await;
}

async fn a_tenant_created_again_under_its_name_gets_nothing_of_the_old_one(env: Env) {
    let node = env.node().await;
    let name = format!("{}-again", env.tenant);
    // The newest tenant: on SQLite before migration 4 its id went to the next tenant.
    env.import(&name).await;
    let old_key = env.key_in(&name, "admin").await;
    assert_eq!(node.whoami(&old_key).await, StatusCode::OK, "the key works (and is now cached)");
    let site = "users:\n  - { userDirectory: ACME, userId: ann }\nresources:\n  - { id: s1, type: Stream, name: S1 }\nrules: []\n";
    let request = Request::put("/v1/rules/sites/acme")
        .header("authorization", format!("Bearer {old_key}"))
        .header("content-type", "application/yaml")
        .body(Body::from(site))
        .unwrap();
    assert_eq!(node.send(request).await.0, StatusCode::OK);

    let (status, body) = node.call("DELETE", &format!("/v1/operator/tenants/{name}"), Some(OPERATOR), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    assert_eq!(node.whoami(&old_key).await, StatusCode::UNAUTHORIZED);
    let request = Request::put(format!("/v1/operator/tenants/{name}"))
        .header("authorization", format!("Bearer {OPERATOR}"))
        .header("content-type", "application/yaml")
        .body(Body::from(DEMO))
        .unwrap();
    let (status, body) = node.send(request).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        node.whoami(&old_key).await,
        StatusCode::UNAUTHORIZED,
        "the old tenant's key acts in no new tenant"
    );
    // The new tenant's own administrator sees no site of the old one.
    let new_key = env.key_in(&name, "admin").await;
    let (status, sites) = node.call("GET", "/v1/rules/sites", Some(&new_key), None).await;
    assert_eq!(status, StatusCode::OK, "{sites}");
    assert_eq!(sites["sites"], json!([]), "rule sites go with their tenant");
    env.done().await;
}

async fn another_node_drops_revoked_credentials_at_its_next_poll(env: Env) {
    let here = env.node().await;
    let there = env.node().await;
    let admin = env.key("admin").await;
    let (status, made) = here.call("POST", "/v1/api-keys", Some(&admin), Some(json!({"user": "carl"}))).await;
    assert_eq!(status, StatusCode::CREATED, "{made}");
    let carls = made["token"].as_str().unwrap().to_owned();
    assert_eq!(there.whoami(&carls).await, StatusCode::OK, "cached on the other node");
    let (status, made) = here.call("POST", "/v1/api-keys", Some(&admin), Some(json!({"user": "bob"}))).await;
    assert_eq!(status, StatusCode::CREATED, "{made}");
    let bobs = made["token"].as_str().unwrap().to_owned();
    assert_eq!(there.whoami(&bobs).await, StatusCode::OK);

    // Here: carl deleted and created again, bob's key revoked.
    let carl = ids::user_id("carl");
    assert_eq!(
        here.call("DELETE", &format!("/api/v1/users/{carl}"), Some(&admin), None).await.0,
        StatusCode::NO_CONTENT
    );
    let (status, _) = here.call("POST", "/api/v1/users", Some(&admin), Some(json!({"subject": "carl"}))).await;
    assert_eq!(status, StatusCode::CREATED);
    let id = made["id"].as_i64().unwrap();
    assert_eq!(
        here.call("DELETE", &format!("/v1/api-keys/{id}"), Some(&admin), None).await.0,
        StatusCode::NO_CONTENT
    );
    assert_eq!(here.whoami(&carls).await, StatusCode::UNAUTHORIZED, "immediate on the node that revoked");
    assert_eq!(here.whoami(&bobs).await, StatusCode::UNAUTHORIZED);

    // There: at its next poll of the store (every `--poll-ms`), not CREDENTIAL_TTL later.
    there.state.follow_once().await;
    assert_eq!(there.whoami(&carls).await, StatusCode::UNAUTHORIZED);
    assert_eq!(there.whoami(&bobs).await, StatusCode::UNAUTHORIZED);
    assert_eq!(there.whoami(&admin).await, StatusCode::OK, "other credentials keep working");
    env.done().await;
}

/// The figures behind the cache's design (BENCHMARKS.md, "Credentials"): a request whose
/// credential is cached, a single-row read of the store (what checking a revocation counter
/// on every request would add), and a token issuance (a transaction with its audit event).
/// `cargo test --release -p portcullis-server --test it -- --ignored credential_costs --nocapture`
#[tokio::test]
#[ignore = "a measurement, not a check"]
async fn credential_costs() {
    let mut envs = vec![("sqlite", Env::sqlite().await)];
    if let Some(env) = Env::postgres("credential_costs").await {
        envs.push(("postgres", env));
    }
    for (backend, env) in envs {
        let node = env.node().await;
        let admin = env.key("admin").await;
        let id = env.store.tenant_by_name(&env.tenant).await.unwrap().unwrap().id;
        let per = |started: std::time::Instant, n: u32| started.elapsed().as_secs_f64() * 1e6 / f64::from(n);
        let n = 5_000;
        assert_eq!(node.whoami(&admin).await, StatusCode::OK);
        let started = std::time::Instant::now();
        for _ in 0..n {
            assert_eq!(node.whoami(&admin).await, StatusCode::OK);
        }
        let cached = per(started, n);
        let started = std::time::Instant::now();
        for _ in 0..n {
            env.store.revision(id).await.unwrap();
        }
        let read = per(started, n);
        let (client, secret) = node.create_client(&admin, "Bench", None).await;
        let m = 500;
        let started = std::time::Instant::now();
        for _ in 0..m {
            assert_eq!(node.client_credentials(&client, &secret).await.0, StatusCode::OK);
        }
        let issued = per(started, m);
        println!("{backend}: whoami with a cached key {cached:.1} µs; one single-row store read {read:.1} µs; one token issued {issued:.1} µs");
        env.done().await;
    }
}

/// `DELETE /api/v1/users/{id}` as Qlik does it: the user goes though they own a space and apps,
/// which stay without an owner; their keys are revoked; an admin names new owners
/// (`PATCH /spaces/{id}` `/ownerId`, `PUT /apps/{id}/owner`), and a node reading the store
/// afresh sees the same.
async fn a_deleted_owners_space_and_apps_are_left_without_an_owner_and_handed_on(env: Env) {
    let node = env.node().await;
    let admin = env.key("admin").await;
    let anns = env.key("ann").await;
    assert_eq!(node.whoami(&anns).await, StatusCode::OK);
    let (ann, bob) = (ids::user_id("ann"), ids::user_id("bob"));
    let (status, body) = node.call("DELETE", &format!("/api/v1/users/{ann}"), Some(&admin), None).await;
    assert_eq!(
        status,
        StatusCode::NO_CONTENT,
        "ann owns a space and apps, and is deleted all the same: {body}"
    );
    assert_eq!(node.whoami(&anns).await, StatusCode::UNAUTHORIZED, "her key is revoked");

    let space = format!("/api/v1/spaces/{}", ids::space_id("finance-team"));
    let (status, body) = node.call("GET", &space, Some(&admin), None).await;
    assert_eq!((status, &body["ownerId"]), (StatusCode::OK, &json!("")), "{body}");
    let budget = format!("/api/v1/apps/{}/owner", ids::content_id("budget"));
    let (status, body) = node.call("PUT", &budget, Some(&admin), Some(json!({ "ownerId": bob }))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["attributes"]["ownerId"], json!(bob));
    let (status, body) = node
        .call(
            "PATCH",
            &space,
            Some(&admin),
            Some(json!([{ "op": "replace", "path": "/ownerId", "value": bob }])),
        )
        .await;
    assert_eq!((status, &body["ownerId"]), (StatusCode::OK, &json!(bob)), "{body}");

    // A node that reads the store afresh: the forecast app still has no owner, the rest is bob's.
    let fresh = env.node().await;
    let bobs = env.key("bob").await;
    let (status, body) = fresh.call("GET", &space, Some(&bobs), None).await;
    assert_eq!((status, &body["ownerId"]), (StatusCode::OK, &json!(bob)), "{body}");
    let (status, body) = fresh
        .call("GET", &format!("/api/v1/items?ownerId={bob}&limit=100"), Some(&bobs), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let names: Vec<&str> = body["data"].as_array().unwrap().iter().filter_map(|i| i["name"].as_str()).collect();
    assert!(names.contains(&"Budget 2026") && !names.contains(&"Forecast"), "{names:?}");
    let (status, body) = fresh.call("GET", "/api/v1/items?limit=100", Some(&bobs), None).await;
    assert_eq!(status, StatusCode::OK);
    let forecast = body["data"].as_array().unwrap().iter().find(|i| i["name"] == "Forecast").cloned();
    assert_eq!(forecast.map(|f| f["ownerId"].clone()), Some(json!("")), "{body}");
    env.done().await;
}
