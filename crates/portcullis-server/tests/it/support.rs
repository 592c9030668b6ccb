//! A test server: a temporary SQLite store with the demo tenant (`demo`) and a copy of it
//! with one more app (`other`), API keys minted straight in the store, and one `call` helper
//! every test goes through.

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use portcullis_model::tenant_file::load_tenant_text;
use portcullis_server::auth::{API_KEY_PREFIX, new_secret};
use portcullis_server::{AppState, ServerConfig, app};
use portcullis_store::{ImportMode, NewApiKey};
use serde_json::Value;
use tower::ServiceExt as _;

pub const DEMO: &str = include_str!("../../../../examples/demo-tenant.yaml");
pub const OPERATOR: &str = "operator-secret-for-tests";

pub struct TestApp {
    pub router: Router,
    pub state: AppState,
    /// The store's URL (a test may reach past the server into the database).
    pub url: String,
    /// The database's directory (`None`: another app owns it).
    _dir: Option<tempfile::TempDir>,
}

impl TestApp {
    pub async fn new() -> TestApp {
        TestApp::with_config(ServerConfig::default()).await
    }

    /// A test app with settings of its own (the operator token is always the test one).
    pub async fn with_config(config: ServerConfig) -> TestApp {
        TestApp::with_keys(
            config,
            portcullis_store::Keyring::none(),
            tempfile::tempdir().expect("a temporary directory"),
        )
        .await
    }

    /// A test app whose store holds audit keys, on a database in `dir`.
    pub async fn with_keys(config: ServerConfig, keys: portcullis_store::Keyring, dir: tempfile::TempDir) -> TestApp {
        let url = format!("sqlite://{}", dir.path().join("test.db").display());
        let store = portcullis_store::open_with_keys(&url, keys).await.expect("the store opens");
        let demo = load_tenant_text("demo", DEMO).expect("the demo tenant loads");
        store
            .import_tenant(&demo, ImportMode::KeepExisting, &portcullis_store::Author::cli())
            .await
            .expect("import demo");
        let mut other = demo.clone();
        other.name = "other".to_owned();
        let mut only_here = other.content[0].clone();
        only_here.id = "other-only".to_owned();
        other.content.upsert(only_here);
        store
            .import_tenant(&other, ImportMode::KeepExisting, &portcullis_store::Author::cli())
            .await
            .expect("import other");
        let config = ServerConfig {
            operator_token_hash: Some(portcullis_server::auth::hash_secret(OPERATOR)),
            ..config
        };
        let state = AppState::new(store, config).await.expect("the state loads");
        TestApp {
            router: app(state.clone()),
            state,
            url,
            _dir: Some(dir),
        }
    }

    /// A test app around a state of its own on another app's database (a restarted node).
    pub fn around(state: AppState, url: String) -> TestApp {
        TestApp {
            router: app(state.clone()),
            state,
            url,
            _dir: None,
        }
    }

    /// A fresh API key for a user of a tenant, minted in the store.
    pub async fn key(&self, tenant: &str, user: &str) -> String {
        self.key_expiring(tenant, user, None).await
    }

    pub async fn key_expiring(&self, tenant: &str, user: &str, expires_at: Option<i64>) -> String {
        let record = self.state.store().tenant_by_name(tenant).await.unwrap().expect("the tenant exists");
        let (token, hash) = new_secret(API_KEY_PREFIX).unwrap();
        self.state
            .store()
            .create_api_key(
                &NewApiKey {
                    tenant: record.id,
                    user_id: user.to_owned(),
                    hash,
                    description: "test".into(),
                    expires_at,
                },
                &portcullis_store::Author::cli(),
            )
            .await
            .unwrap();
        token
    }

    /// One request; the answer's status and JSON body (`Value::String` for a non-JSON body).
    pub async fn call(&self, method: &str, path: &str, token: Option<&str>, body: Option<Value>) -> (StatusCode, Value) {
        let mut request = Request::builder().method(method).uri(path);
        if let Some(token) = token {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        let request = match body {
            Some(body) => request.header("content-type", "application/json").body(Body::from(body.to_string())),
            None => request.body(Body::empty()),
        };
        self.send(request.expect("a valid request")).await
    }

    pub async fn send(&self, request: Request<Body>) -> (StatusCode, Value) {
        let response = self.router.clone().oneshot(request).await.expect("the router answers");
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await.expect("the body reads");
        let value = serde_json::from_slice(&bytes).unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()));
        (status, value)
    }

    pub async fn post(&self, path: &str, token: &str, body: Value) -> (StatusCode, Value) {
        self.call("POST", path, Some(token), Some(body)).await
    }
}

/// Asserts an error answer: status, code, and (when given) the field named.
#[track_caller]
pub fn assert_error(answer: &(StatusCode, Value), status: StatusCode, code: &str, field: Option<&str>) {
    assert_eq!(answer.0, status, "{}", answer.1);
    assert_eq!(answer.1["code"], code, "{}", answer.1);
    assert!(answer.1["message"].as_str().is_some_and(|m| !m.is_empty()), "{}", answer.1);
    if let Some(field) = field {
        assert_eq!(answer.1["field"], field, "{}", answer.1);
    }
}
