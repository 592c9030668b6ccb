//! Issue 11 on a running server: an altered event (an edited `user_id`, a body rewritten
//! without the key, an event relabelled unkeyed) is never served as intact, and a chain that
//! was rewritten, truncated or deleted is reported at start (log and metric, tenant names for
//! the operator only); checkpoints are written as the chains grow, and a tenant deleted
//! through the server leaves a tombstone.

use std::path::PathBuf;
use std::time::Duration;

use axum::http::StatusCode;
use portcullis_server::audit_integrity::CheckpointConfig;
use portcullis_server::{AppState, ServerConfig};
use portcullis_store::{AuditKey, Keyring, TenantId};
use serde_json::{Value, json};
use sqlx::Connection as _;

use crate::support::{OPERATOR, TestApp};

/// What someone without the key can compute: the plain SHA-256 chain hash.
fn plain_hash(prev_hash: &str, body_json: &str) -> String {
    use sha2::{Digest as _, Sha256};
    let digest = Sha256::digest(format!("{prev_hash}\n{body_json}").as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

fn keys() -> Keyring {
    Keyring::new([AuditKey::from_bytes(&[11; 32]).expect("a key")])
}

fn checkpoint_config(dir: &tempfile::TempDir) -> CheckpointConfig {
    CheckpointConfig {
        path: dir.path().join("checkpoints.jsonl"),
        every_events: 1000,
        every: Duration::from_secs(3600),
    }
}

/// A keyed test app, checkpointing to a file beside its database when `checkpoints`.
async fn keyed_app(checkpoints: bool) -> (TestApp, Option<CheckpointConfig>) {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let config = checkpoints.then(|| checkpoint_config(&dir));
    let server = ServerConfig {
        audit_checkpoints: config.clone(),
        ..ServerConfig::default()
    };
    (TestApp::with_keys(server, keys(), dir).await, config)
}

/// A second node (a restart) on the same database, with the same keys and checkpoint file.
async fn restart(app: &TestApp, checkpoints: Option<CheckpointConfig>) -> TestApp {
    let store = portcullis_store::open_with_keys(&app.url, keys()).await.expect("the store opens");
    let state = AppState::new(
        store,
        ServerConfig {
            operator_token_hash: Some(portcullis_server::auth::hash_secret(OPERATOR)),
            audit_checkpoints: checkpoints,
            ..ServerConfig::default()
        },
    )
    .await
    .expect("the state loads");
    TestApp::around(state, app.url.clone())
}

async fn writes(app: &TestApp, admin: &str, users: &[&str]) {
    for user in users {
        let (status, body) = app
            .post("/v1/changes", admin, json!({"assign": {"role": "Exporters", "user": user}}))
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
}

async fn sql(app: &TestApp, statement: &str) {
    let mut db = sqlx::SqliteConnection::connect(&app.url).await.expect("the database");
    sqlx::raw_sql(statement)
        .execute(&mut db)
        .await
        .unwrap_or_else(|e| panic!("`{statement}`: {e}"));
}

async fn tenant_id(app: &TestApp, name: &str) -> TenantId {
    app.state.store().tenant_by_name(name).await.unwrap().expect("the tenant").id
}

async fn listed(app: &TestApp, token: &str, query: &str) -> Vec<u64> {
    let (status, body) = app.call("GET", &format!("/api/v1/audits?limit=100{query}"), Some(token), None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["data"]
        .as_array()
        .expect("data")
        .iter()
        .map(|e| e["id"].as_str().unwrap().parse().unwrap())
        .collect()
}

async fn metrics(app: &TestApp, token: Option<&str>) -> String {
    let (status, body) = app.call("GET", "/metrics", token, None).await;
    assert_eq!(status, StatusCode::OK);
    body.as_str().expect("text").to_owned()
}

/// Issue 11: "edits indexed columns (`user_id`), after which queries return the wrong events.
/// The server serves altered events without noticing." Now the event is not served, and it is
/// logged and counted.
#[tokio::test]
async fn issue_11_an_edited_user_id_is_not_served() {
    let app = TestApp::new().await;
    let admin = app.key("demo", "admin").await;
    writes(&app, &admin, &["bob", "carl"]).await;
    let by_admin = listed(&app, &admin, "&userId=admin").await;
    let edited = by_admin[0];
    let id = tenant_id(&app, "demo").await;
    sql(
        &app,
        &format!("UPDATE audit_events SET user_id = 'bob' WHERE tenant_id = {} AND seq = {edited}", id.0),
    )
    .await;

    assert_eq!(
        listed(&app, &admin, "&userId=bob").await,
        Vec::<u64>::new(),
        "admin's event is not served as bob's"
    );
    assert!(!listed(&app, &admin, "").await.contains(&edited));
    let (status, body) = app.call("GET", &format!("/api/v1/audits/{edited}"), Some(&admin), None).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR, "{body}");
    let detail = body["errors"][0]["detail"].as_str().unwrap_or_default();
    assert!(detail.contains("integrity") && detail.contains("user_id"), "{body}");
    assert!(metrics(&app, None).await.contains("portcullis_audit_integrity_failures_total 3"));
}

/// Issue 11: an event rewritten and rehashed without the key, and one relabelled as unkeyed
/// (with a plain hash that matches), are not served.
#[tokio::test]
async fn issue_11_an_event_rewritten_without_the_key_is_not_served() {
    let (app, _) = keyed_app(false).await;
    let admin = app.key("demo", "admin").await;
    writes(&app, &admin, &["bob", "carl", "dana"]).await;
    let all = listed(&app, &admin, "&sort=%2BeventTime").await;
    let id = tenant_id(&app, "demo").await;
    let (rehashed, relabelled) = (all[all.len() - 2], all[all.len() - 1]);
    for (seq, relabel) in [(rehashed, false), (relabelled, true)] {
        let (sealed, _) = app.state.store().audit_event(id, seq).await.unwrap().expect("the event");
        let forged = sealed.body_json.replace("\"dana\"", "\"eve\"").replace("\"carl\"", "\"eve\"");
        let hash = plain_hash(&sealed.prev_hash, &forged);
        let key_id = if relabel { ", key_id = NULL" } else { "" };
        sql(
            &app,
            &format!(
                "UPDATE audit_events SET body_json = '{forged}', hash = '{hash}'{key_id} WHERE tenant_id = {} AND seq = {seq}",
                id.0
            ),
        )
        .await;
    }
    let now = listed(&app, &admin, "&sort=%2BeventTime").await;
    assert_eq!(now, all[..all.len() - 2], "neither forged event is served");
    for seq in [rehashed, relabelled] {
        let (status, body) = app.call("GET", &format!("/api/v1/audits/{seq}"), Some(&admin), None).await;
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR, "{body}");
    }
    let (_, body) = app.call("GET", &format!("/api/v1/audits/{relabelled}"), Some(&admin), None).await;
    assert!(body["errors"][0]["detail"].as_str().unwrap_or_default().contains("not keyed"), "{body}");
}

/// Issue 11: "the server checks the chain head at start and reports a mismatch (log and
/// metric)": a rewritten tail, a truncation (with the anchor moved back) and a deleted trail
/// are found when a node starts; tenants are named to the operator only.
#[tokio::test]
async fn issue_11_a_broken_chain_is_reported_at_start() {
    let (app, checkpoints) = keyed_app(true).await;
    let config = checkpoints.clone().expect("a checkpoint file");
    let admin = app.key("demo", "admin").await;
    writes(&app, &admin, &["bob", "carl", "dana"]).await;
    assert_eq!(app.state.checkpoint_once(&config).await, 2, "one checkpoint per tenant");
    let intact = restart(&app, checkpoints.clone()).await;
    assert!(metrics(&intact, None).await.contains("portcullis_audit_chains_broken 0"));

    // demo: its last two events deleted and the anchor moved back; other: everything deleted.
    let (demo, other) = (tenant_id(&app, "demo").await, tenant_id(&app, "other").await);
    let head = app.state.store().audit_tail(demo, 0).await.unwrap().head_seq;
    let (kept, _) = app.state.store().audit_event(demo, head - 2).await.unwrap().expect("an event");
    sql(
        &app,
        &format!(
            "DELETE FROM audit_events WHERE tenant_id = {d} AND seq > {}; \
             UPDATE audit_anchors SET head_seq = {}, head_hash = '{}' WHERE tenant_id = {d}; \
             DELETE FROM audit_events WHERE tenant_id = {o}; DELETE FROM audit_anchors WHERE tenant_id = {o}",
            kept.seq,
            kept.seq,
            kept.hash,
            d = demo.0,
            o = other.0
        ),
    )
    .await;
    let without_checkpoints = restart(&app, None).await;
    assert!(
        metrics(&without_checkpoints, None).await.contains("portcullis_audit_chains_broken 0"),
        "consistent on their own"
    );
    let node = restart(&app, checkpoints).await;
    let public = metrics(&node, None).await;
    assert!(public.contains("portcullis_audit_chains_broken 2"), "{public}");
    assert!(!public.contains("tenant=\"demo\""), "no tenant names without the operator token");
    let operator = metrics(&node, Some(OPERATOR)).await;
    assert!(operator.contains("portcullis_audit_chain_ok{tenant=\"demo\"} 0"), "{operator}");
    assert!(operator.contains("portcullis_audit_chain_ok{tenant=\"other\"} 0"), "{operator}");
    let demo_problem = node.state.audit_integrity().problem(demo).unwrap_or_default();
    assert!(demo_problem.contains("last events were removed"), "{demo_problem}");
    let other_problem = node.state.audit_integrity().problem(other).unwrap_or_default();
    assert!(other_problem.contains("trail was deleted"), "{other_problem}");
    assert_eq!(
        node.state.checkpoint_once(&checkpoint_config_at(&node_path(&node))).await,
        0,
        "no checkpoint certifies a broken chain"
    );

    // A rewritten last event (rehashed without the key) is found by the tail alone.
    let (app, _) = keyed_app(false).await;
    let admin = app.key("demo", "admin").await;
    writes(&app, &admin, &["bob"]).await;
    let demo = tenant_id(&app, "demo").await;
    let head = app.state.store().audit_tail(demo, 0).await.unwrap().head_seq;
    let (last, _) = app.state.store().audit_event(demo, head).await.unwrap().expect("the head");
    let forged = last.body_json.replace("\"bob\"", "\"eve\"");
    let hash = plain_hash(&last.prev_hash, &forged);
    sql(
        &app,
        &format!(
            "UPDATE audit_events SET body_json = '{forged}', hash = '{hash}' WHERE tenant_id = {d} AND seq = {head}; \
             UPDATE audit_anchors SET head_hash = '{hash}' WHERE tenant_id = {d}",
            d = demo.0
        ),
    )
    .await;
    let node = restart(&app, None).await;
    assert!(metrics(&node, None).await.contains("portcullis_audit_chains_broken 1"));
    assert!(node.state.audit_integrity().problem(demo).unwrap_or_default().contains("altered"));
}

fn node_path(node: &TestApp) -> PathBuf {
    node.state.audit_integrity().config().expect("a checkpoint file").path.clone()
}

fn checkpoint_config_at(path: &std::path::Path) -> CheckpointConfig {
    CheckpointConfig {
        path: path.to_owned(),
        every_events: 1,
        every: Duration::from_secs(3600),
    }
}

/// Checkpoints follow the chains (every N events or T seconds, nothing when nothing moved),
/// verify against the store, and a tenant deleted through the server leaves a tombstone, so
/// that the next start does not take its absence for an attack.
#[tokio::test]
async fn checkpoints_follow_the_chains_and_a_deleted_tenant_leaves_a_tombstone() {
    let (app, checkpoints) = keyed_app(true).await;
    let config = checkpoints.clone().expect("a checkpoint file");
    let admin = app.key("demo", "admin").await;
    assert_eq!(app.state.checkpoint_once(&config).await, 2);
    assert_eq!(app.state.checkpoint_once(&config).await, 0, "nothing moved");
    writes(&app, &admin, &["bob"]).await;
    assert_eq!(app.state.checkpoint_once(&config).await, 0, "one event, within the hour");
    assert_eq!(app.state.checkpoint_once(&checkpoint_config_at(&config.path)).await, 1, "every event");

    let text = std::fs::read_to_string(&config.path).expect("the file");
    let lines: Vec<Value> = text.lines().map(|l| serde_json::from_str(l).expect("JSON")).collect();
    assert_eq!(lines.len(), 3, "{text}");
    let demo = tenant_id(&app, "demo").await;
    let chain = app.state.store().audit_chain(demo).await.unwrap();
    assert_eq!(
        (lines[2]["tenant"].as_str(), lines[2]["seq"].as_u64(), lines[2]["head"].as_str()),
        (Some("demo"), Some(chain.head_seq), Some(chain.head_hash.as_str()))
    );
    let parsed = portcullis_store::checkpoint::parse_checkpoints(&text).expect("checkpoints");
    for checkpoint in &parsed {
        checkpoint.check_signature(&keys()).expect("signed with the key");
    }

    let (status, body) = app.call("DELETE", "/v1/operator/tenants/other", Some(OPERATOR), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    let text = std::fs::read_to_string(&config.path).expect("the file");
    let tombstone: Value = serde_json::from_str(text.lines().last().expect("a line")).expect("JSON");
    assert_eq!(
        (tombstone["tenant"].as_str(), tombstone["deleted"].as_bool()),
        (Some("other"), Some(true))
    );
    let node = restart(&app, checkpoints).await;
    assert!(metrics(&node, None).await.contains("portcullis_audit_chains_broken 0"));
}

/// A checkpoint file that is not one stops the start, naming the line: it is the operator's,
/// and damage to it must be seen rather than read as "no checkpoints".
#[tokio::test]
async fn a_damaged_checkpoint_file_stops_the_start() {
    let (app, checkpoints) = keyed_app(true).await;
    let config = checkpoints.clone().expect("a checkpoint file");
    assert_eq!(app.state.checkpoint_once(&config).await, 2);
    let mut text = std::fs::read_to_string(&config.path).expect("the file");
    text.push_str("{\"tenant\":\"demo\"}\n");
    std::fs::write(&config.path, text).expect("written");
    let store = portcullis_store::open_with_keys(&app.url, keys()).await.expect("the store opens");
    let error = AppState::new(
        store,
        ServerConfig {
            audit_checkpoints: checkpoints,
            ..ServerConfig::default()
        },
    )
    .await
    .err()
    .expect("refused");
    assert!(error.to_string().contains("line 3"), "{error}");
}
