//! Two nodes on one store: a change made through one reaches the other from the change log
//! (never by reading the tenant whole, unless an import replaced it), a read carrying a
//! write's revision sees the write on the other node at once, and on PostgreSQL the change
//! feed carries revocations, audit settings and deletions to the other node without a poll.
//! On SQLite (one node in production) the same catch-up runs from the poll.

use std::time::{Duration, Instant};

use axum::http::StatusCode;
use portcullis_server::AppState;
use portcullis_store::AuditQuery;
use serde_json::{Value, json};

use crate::lifecycle::{Env, Node};

/// Declares each test once per backend.
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(crate::lifecycle::Env::sqlite().await).await;
                }
            )*
        }

        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let Some(env) = crate::lifecycle::Env::postgres(concat!("feed_", stringify!($name))).await else { return };
                    super::$name(env).await;
                }
            )*
        }
    };
}

on_both_backends!(
    a_change_through_one_node_reaches_the_other_from_the_log,
    a_read_with_a_writes_revision_sees_it_on_the_other_node,
    every_read_api_takes_the_token_on_the_other_node,
    a_rule_site_written_through_one_node_decides_on_the_other,
    a_site_revision_token_is_answered_at_once_by_the_other_node,
    a_session_decides_on_the_other_node_with_the_rights_of_its_login,
    a_login_replayed_with_later_changes_in_one_page_keeps_its_rights,
    sessions_survive_a_restart_and_die_with_their_user,
);

/// PostgreSQL only: what the feed carries, without any poll.
macro_rules! on_postgres {
    ($($name:ident),* $(,)?) => {
        mod feed_on_postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let Some(env) = crate::lifecycle::Env::postgres(concat!("feed_", stringify!($name))).await else { return };
                    super::$name(env).await;
                }
            )*
        }
    };
}

on_postgres!(
    a_key_revoked_through_one_node_is_refused_by_the_other_at_once,
    audit_settings_and_deletions_reach_the_other_node,
);

/// The feed's grace in these tests: far above what it takes, far below a poll.
const FEED_WAIT: Duration = Duration::from_secs(1);

/// Two nodes; the second follows the store's feed when there is one (PostgreSQL).
async fn two_nodes(env: &Env) -> (Node, Node) {
    let here = env.node().await;
    let there = env.node().await;
    tokio::spawn(there.state.clone().follow_feed());
    if env.store.subscribe().is_some() {
        // Listening before the test writes (the feed's first event is its resync).
        let started = Instant::now();
        while there.state.feed_listening() != Some(true) {
            assert!(started.elapsed() < Duration::from_secs(5), "the feed listens");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
    (here, there)
}

/// The revision of the env's tenant on a node.
async fn revision_on(node: &Node, env: &Env) -> u64 {
    let tenant = node.state.tenant_by_name(&env.tenant).await.unwrap().expect("the tenant is loaded");
    tenant.view().snapshot.revision
}

/// Waits until `node` holds `revision`: by the feed on PostgreSQL (no poll: the feed must
/// bring it within [`FEED_WAIT`]), by one poll on SQLite.
async fn reach(node: &Node, env: &Env, revision: u64) -> Duration {
    let started = Instant::now();
    if env.store.subscribe().is_none() {
        node.state.follow_once().await;
    }
    while revision_on(node, env).await < revision {
        assert!(started.elapsed() < FEED_WAIT, "revision {revision} did not arrive within {FEED_WAIT:?}");
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    started.elapsed()
}

async fn write(node: &Node, token: &str, change: Value) -> u64 {
    let (status, body) = node.call("POST", "/v1/changes", Some(token), Some(change)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["revision"].as_u64().expect("a write answers its revision")
}

async fn check(node: &Node, token: &str, body: Value) -> (StatusCode, Value) {
    node.call("POST", "/v1/check", Some(token), Some(body)).await
}

fn reloads(state: &AppState) -> u64 {
    state.metrics().followed().0
}

async fn a_change_through_one_node_reaches_the_other_from_the_log(env: Env) {
    let (here, there) = two_nodes(&env).await;
    let admin = env.key("admin").await;
    let (status, health) = there.call("GET", "/health", None, None).await;
    assert_eq!(status, StatusCode::OK);
    let feed = if env.store.subscribe().is_some() {
        json!("listening")
    } else {
        Value::Null
    };
    assert_eq!(health["feed"], feed, "{health}");
    let ask = json!({"user": "bob", "action": "app:exportdata", "resource": "sales-dashboard"});
    let (_, before) = check(&there, &admin, ask.clone()).await;
    assert_eq!(before["allowed"], false, "{before}");

    let mut last = 0;
    for change in [
        json!({"assign": {"role": "Exporters", "user": "bob"}}),
        json!({"join": {"user": "carl", "group": "finance"}}),
        json!({"leave": {"user": "ann", "group": "sales"}}),
        json!({"set": {"userDefault": "in-app-content-download", "value": "allowed"}}),
    ] {
        last = write(&here, &admin, change).await;
    }
    // A user deleted through the management API: the model's delete, its credentials retired.
    let carl = portcullis_qlik_api::ids::user_id("carl");
    let (status, _) = here.call("DELETE", &format!("/api/v1/users/{carl}"), Some(&admin), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let stored = env.store.tenant_by_name(&env.tenant).await.unwrap().unwrap().revision;
    assert!(stored > last);
    reach(&there, &env, stored).await;

    let (_, after) = check(&there, &admin, ask).await;
    assert_eq!(after["allowed"], true, "{after}");
    assert_eq!(after["revision"], stored, "the decision says which revision it was made at");
    // The follower's model is the store's, and it got there change by change.
    let tenant = there.state.tenant_by_name(&env.tenant).await.unwrap().unwrap();
    let (fresh, revision) = env.store.load_tenant(tenant.id).await.unwrap();
    assert_eq!(revision, stored);
    assert_eq!(tenant.live().await.tenant, fresh, "the live model equals the store");
    assert_eq!(reloads(&there.state), 0, "no tenant read whole");
    assert_eq!(there.state.metrics().followed().1, 5, "five changes applied from the log");
    let (status, metrics) = {
        let request = axum::http::Request::get("/metrics")
            .header("authorization", format!("Bearer {}", crate::support::OPERATOR))
            .body(axum::body::Body::empty())
            .unwrap();
        let response = tower::ServiceExt::oneshot(there.router.clone(), request).await.unwrap();
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap();
        (status, String::from_utf8_lossy(&bytes).into_owned())
    };
    assert_eq!(status, StatusCode::OK);
    assert!(metrics.contains("portcullis_tenant_reloads_total 0"), "{metrics}");
    assert!(metrics.contains("portcullis_changes_followed_total 5"), "{metrics}");

    // An import replaces the tenant: that is read whole, once.
    let (status, body) = {
        let request = axum::http::Request::put(format!("/v1/operator/tenants/{}?replace=true", env.tenant))
            .header("authorization", format!("Bearer {}", crate::support::OPERATOR))
            .header("content-type", "application/yaml")
            .body(axum::body::Body::from(crate::support::DEMO))
            .unwrap();
        here.send(request).await
    };
    assert_eq!((status, &body["outcome"]), (StatusCode::OK, &json!("replaced")), "{body}");
    let imported = env.store.tenant_by_name(&env.tenant).await.unwrap().unwrap().revision;
    reach(&there, &env, imported).await;
    assert_eq!(reloads(&there.state), 1);
    let (_, again) = check(
        &there,
        &admin,
        json!({"user": "bob", "action": "app:exportdata", "resource": "sales-dashboard"}),
    )
    .await;
    assert_eq!(again["allowed"], false, "the import took Exporters back: {again}");
    env.done().await;
}

async fn a_read_with_a_writes_revision_sees_it_on_the_other_node(env: Env) {
    // No feed and no poll on the reader: the revision alone brings the write.
    let here = env.node().await;
    let there = env.node().await;
    let admin = env.key("admin").await;
    let ask = |min: u64| json!({"user": "bob", "action": "app:exportdata", "resource": "sales-dashboard", "minRevision": min});
    let (status, body) = check(
        &there,
        &admin,
        json!({"user": "bob", "action": "app:exportdata", "resource": "sales-dashboard"}),
    )
    .await;
    assert_eq!((status, &body["allowed"]), (StatusCode::OK, &json!(false)), "{body}");
    for round in 0..20 {
        let change = if round % 2 == 0 {
            json!({"assign": {"role": "Exporters", "user": "bob"}})
        } else {
            json!({"unassign": {"role": "Exporters", "user": "bob"}})
        };
        let revision = write(&here, &admin, change).await;
        let (status, body) = check(&there, &admin, ask(revision)).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert!(body["revision"].as_u64().unwrap() >= revision, "{body}");
        assert_eq!(
            body["allowed"],
            round % 2 == 0,
            "round {round}: the other node answers with the write: {body}"
        );
    }
    assert_eq!(reloads(&there.state), 0, "caught up from the log");
    // A revision no node has reached: 409 with the revision this node has, at once.
    let stored = env.store.tenant_by_name(&env.tenant).await.unwrap().unwrap().revision;
    let started = Instant::now();
    let (status, body) = check(&there, &admin, ask(stored + 10)).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert!(body["message"].as_str().unwrap().contains(&format!("at revision {stored}")), "{body}");
    assert!(started.elapsed() < Duration::from_secs(1), "the store is asked, not waited for");
    env.done().await;
}

async fn a_key_revoked_through_one_node_is_refused_by_the_other_at_once(env: Env) {
    let (here, there) = two_nodes(&env).await;
    let admin = env.key("admin").await;
    let mut waits = Vec::new();
    for round in 0..10 {
        let (status, made) = here.call("POST", "/v1/api-keys", Some(&admin), Some(json!({"user": "bob"}))).await;
        assert_eq!(status, StatusCode::CREATED, "{made}");
        let token = made["token"].as_str().unwrap().to_owned();
        assert_eq!(there.whoami(&token).await, StatusCode::OK, "round {round}: cached on the other node");
        let id = made["id"].as_i64().unwrap();
        let (status, _) = here.call("DELETE", &format!("/v1/api-keys/{id}"), Some(&admin), None).await;
        assert_eq!(status, StatusCode::NO_CONTENT);
        assert_eq!(here.whoami(&token).await, StatusCode::UNAUTHORIZED);
        let started = Instant::now();
        while there.whoami(&token).await != StatusCode::UNAUTHORIZED {
            assert!(started.elapsed() < FEED_WAIT, "round {round}: the other node still takes the revoked key");
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        waits.push(started.elapsed());
    }
    // A deleted user's key, through the management API.
    let (status, made) = here.call("POST", "/v1/api-keys", Some(&admin), Some(json!({"user": "carl"}))).await;
    assert_eq!(status, StatusCode::CREATED, "{made}");
    let carls = made["token"].as_str().unwrap().to_owned();
    assert_eq!(there.whoami(&carls).await, StatusCode::OK);
    let carl = portcullis_qlik_api::ids::user_id("carl");
    assert_eq!(
        here.call("DELETE", &format!("/api/v1/users/{carl}"), Some(&admin), None).await.0,
        StatusCode::NO_CONTENT
    );
    let started = Instant::now();
    while there.whoami(&carls).await != StatusCode::UNAUTHORIZED {
        assert!(started.elapsed() < FEED_WAIT, "the deleted user's key still works on the other node");
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    assert_eq!(there.whoami(&admin).await, StatusCode::OK, "other credentials keep working");
    waits.sort();
    eprintln!(
        "revocation reached the other node in {:?} (median), {:?} (slowest)",
        waits[waits.len() / 2],
        waits[waits.len() - 1]
    );
    assert_eq!(reloads(&there.state), 0);
    env.done().await;
}

async fn audit_settings_and_deletions_reach_the_other_node(env: Env) {
    let (here, there) = two_nodes(&env).await;
    let admin = env.key("admin").await;
    let tenant = there.state.tenant_by_name(&env.tenant).await.unwrap().unwrap();
    assert_eq!(tenant.audit_policy().mode, portcullis_store::DecisionLogMode::Off);
    let (status, body) = here
        .call("PUT", "/api/v1/audits/settings", Some(&admin), Some(json!({"decisionLogMode": "all"})))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let started = Instant::now();
    while tenant.audit_policy().mode != portcullis_store::DecisionLogMode::All {
        assert!(started.elapsed() < FEED_WAIT, "the audit settings did not reach the other node");
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    // The other node now logs its decisions.
    let (status, _) = check(
        &there,
        &admin,
        json!({"user": "bob", "action": "app:read", "resource": "sales-dashboard"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    there.state.decision_log().flush().await;
    let events = env.store.audit_events(tenant.id, &AuditQuery::default()).await.unwrap();
    assert!(
        events.iter().any(|(_, body)| body.event_type == "com.qlik.v1.decision.made"),
        "the other node logged the decision"
    );

    // The tenant deleted through one node is gone from the other, keys included.
    let (status, _) = here
        .call(
            "DELETE",
            &format!("/v1/operator/tenants/{}", env.tenant),
            Some(crate::support::OPERATOR),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let started = Instant::now();
    while there.state.tenants().iter().any(|t| t.id == tenant.id) {
        assert!(started.elapsed() < FEED_WAIT, "the deleted tenant is still on the other node");
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    assert_eq!(there.whoami(&admin).await, StatusCode::UNAUTHORIZED);
    env.done().await;
}

/// A site whose one rule grants `read` or `update` on stream `s1` to ann's group.
fn rule_site(action: &str) -> String {
    format!(
        "users:\n  - {{ userDirectory: ACME, userId: ann, groups: [g1] }}\nresources:\n  - {{ id: s1, type: Stream, name: S1, customProperties: {{ GroupAccess: [g1] }} }}\n\
         rules:\n  - {{ name: Access, resourceFilter: Stream_*, condition: resource.@GroupAccess = user.group, actions: [{action}] }}\n"
    )
}

/// Waits until a rule check of ann's `read` on `node` answers with site revision `revision`
/// (or, `None`, that the site is unknown): by the feed on PostgreSQL within [`FEED_WAIT`], by
/// one poll on SQLite. Returns the last answer and how long it took.
async fn site_on(node: &Node, env: &Env, token: &str, revision: Option<u64>) -> (Value, Duration) {
    let started = Instant::now();
    if env.store.subscribe().is_none() {
        node.state.follow_once().await;
    }
    let ask = json!({"user": "ACME\\ann", "action": "read", "resource": "s1", "context": "hub"});
    loop {
        let (status, answer) = node.call("POST", "/v1/rules/sites/acme/check", Some(token), Some(ask.clone())).await;
        let seen = (status == StatusCode::OK).then(|| answer["siteRevision"].as_u64()).flatten();
        if seen == revision && (revision.is_some() || status == StatusCode::NOT_FOUND) {
            return (answer, started.elapsed());
        }
        assert!(
            started.elapsed() < FEED_WAIT,
            "site revision {revision:?} did not reach the other node within {FEED_WAIT:?}: {status} {answer}"
        );
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

/// A rule site put, replaced and deleted through one node is what decides on the other within
/// the feed's latency (PostgreSQL; the poll on SQLite); the other node reads only the site that
/// changed, never the tenant.
async fn a_rule_site_written_through_one_node_decides_on_the_other(env: Env) {
    let (here, there) = two_nodes(&env).await;
    let admin = env.key("admin").await;
    let put = |name: &'static str, text: String| {
        let request = axum::http::Request::put(format!("/v1/rules/sites/{name}"))
            .header("authorization", format!("Bearer {admin}"))
            .header("content-type", "application/yaml")
            .body(axum::body::Body::from(text))
            .unwrap();
        here.send(request)
    };
    let (status, body) = put("keep", rule_site("read")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = put("acme", rule_site("read")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let created = body["revision"].as_u64().unwrap();
    let (answer, took) = site_on(&there, &env, &admin, Some(created)).await;
    assert_eq!(answer["decision"], "allow", "{answer}");
    let mut waits = vec![took];
    let tenant = there.state.tenant_by_name(&env.tenant).await.unwrap().unwrap();
    let kept = tenant.rule_sites.get("keep").expect("both sites reached the other node");

    // Replaced: the other node decides with the new version; the untouched site is not read again.
    let (status, body) = put("acme", rule_site("update")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let replaced = body["revision"].as_u64().unwrap();
    assert!(replaced > created);
    let (answer, took) = site_on(&there, &env, &admin, Some(replaced)).await;
    assert_eq!(answer["decision"], "deny", "{answer}");
    waits.push(took);
    assert!(
        std::sync::Arc::ptr_eq(&kept, &tenant.rule_sites.get("keep").unwrap()),
        "the site that did not change is kept as compiled"
    );
    assert_eq!(tenant.rule_sites.revision(), replaced);

    // Deleted: gone on the other node too.
    let (status, _) = here.call("DELETE", "/v1/rules/sites/acme", Some(&admin), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (answer, took) = site_on(&there, &env, &admin, None).await;
    assert_eq!(answer["code"], "unknown_site", "{answer}");
    waits.push(took);
    assert_eq!(tenant.rule_sites.names(), [("keep".to_owned(), 1)]);
    assert_eq!(reloads(&there.state), 0, "sites never make a node read the tenant");
    assert_eq!(revision_on(&there, &env).await, 1, "nor move the model's revision");
    eprintln!("rule sites reached the other node in {waits:?}");
    env.done().await;
}

/// A site write's revision passed as a token to another node is answered at that revision at
/// once (the node reads the store), by the body's `minSiteRevision` or the header; a revision
/// no node answered is a 409 naming the one held.
async fn a_site_revision_token_is_answered_at_once_by_the_other_node(env: Env) {
    let here = env.node().await;
    // No feed and no poll on the other node: only the token can bring the site there.
    let there = env.node().await;
    let admin = env.key("admin").await;
    let put = |text: String| {
        let request = axum::http::Request::put("/v1/rules/sites/acme")
            .header("authorization", format!("Bearer {admin}"))
            .header("content-type", "application/yaml")
            .body(axum::body::Body::from(text))
            .unwrap();
        here.send(request)
    };
    let ask = json!({"user": "ACME\\ann", "action": "read", "resource": "s1", "context": "hub"});
    let (status, body) = put(rule_site("read")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let created = body["revision"].as_u64().unwrap();
    let mut with_token = ask.clone();
    with_token["minSiteRevision"] = json!(created);
    let (status, answer) = there.call("POST", "/v1/rules/sites/acme/check", Some(&admin), Some(with_token)).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(
        (answer["decision"].clone(), answer["siteRevision"].as_u64()),
        (json!("allow"), Some(created))
    );

    let (status, body) = put(rule_site("update")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let replaced = body["revision"].as_u64().unwrap();
    let asked = |min: u64| {
        let request = axum::http::Request::post("/v1/rules/sites/acme/check")
            .header("authorization", format!("Bearer {admin}"))
            .header("content-type", "application/json")
            .header("portcullis-min-site-revision", min.to_string())
            .body(axum::body::Body::from(ask.to_string()))
            .unwrap();
        there.send(request)
    };
    let (status, answer) = asked(replaced).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(
        (answer["decision"].clone(), answer["siteRevision"].as_u64()),
        (json!("deny"), Some(replaced))
    );
    let (status, answer) = asked(replaced + 100).await;
    assert_eq!(status, StatusCode::CONFLICT, "{answer}");
    assert_eq!(answer["code"], "site_revision_not_reached", "{answer}");
    env.done().await;
}

/// Logs `user` in through `node`; the login's revision.
async fn login(node: &Node, token: &str, user: &str) -> u64 {
    let (status, body) = node.call("POST", "/v1/sessions", Some(token), Some(json!({ "user": user }))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["revision"].as_u64().expect("a login answers its revision")
}

/// Whether `user` may do `action` (on `resource`) through `via`, asked of `node` at `min` or later.
async fn allowed(node: &Node, token: &str, user: &str, via: &str, action: &str, resource: Option<&str>, min: u64) -> bool {
    let mut ask = json!({"user": user, "via": via, "action": action, "minRevision": min});
    if let Some(resource) = resource {
        ask["resource"] = json!(resource);
    }
    let (status, body) = check(node, token, ask).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body["revision"].as_u64() >= Some(min), "{body}");
    body["allowed"].as_bool().expect("a decision")
}

/// A login through one node holds on the other: a `via: session` check there decides with the
/// rights frozen at the login's revision, asked at that revision and after later changes to
/// the user's roles and groups, gained or lost; a fresh login takes the new ones.
async fn a_session_decides_on_the_other_node_with_the_rights_of_its_login(env: Env) {
    let (here, there) = two_nodes(&env).await;
    let admin = env.key("admin").await;
    // Without a token, the feed (the poll on SQLite) brings each login's session there.
    let tenant = there.state.tenant_by_name(&env.tenant).await.unwrap().unwrap();
    let mut waits = Vec::new();
    for _ in 0..10 {
        let carl_in = login(&here, &admin, "carl").await;
        waits.push(reach(&there, &env, carl_in).await);
        assert_eq!(
            tenant.view().sessions.revision("carl"),
            Some(carl_in),
            "the session comes with its login's revision"
        );
    }
    waits.sort();
    eprintln!(
        "a login's session reached the other node in {:?} (median), {:?} (slowest)",
        waits[5], waits[9]
    );
    let logged_in = login(&here, &admin, "bob").await;
    for via in ["session", "api-key"] {
        assert!(!allowed(&there, &admin, "bob", via, "glossary:create", None, logged_in).await, "{via}");
        assert!(
            !allowed(&there, &admin, "bob", via, "app:exportdata", Some("sales-dashboard"), logged_in).await,
            "{via}"
        );
    }
    // bob gains a role and a group (whose role lets him download) after his login.
    write(&here, &admin, json!({"join": {"user": "bob", "group": "finance"}})).await;
    let later = write(&here, &admin, json!({"assign": {"role": "Steward", "user": "bob"}})).await;
    assert!(allowed(&there, &admin, "bob", "api-key", "glossary:create", None, later).await);
    assert!(allowed(&there, &admin, "bob", "api-key", "app:exportdata", Some("sales-dashboard"), later).await);
    assert!(
        !allowed(&there, &admin, "bob", "session", "glossary:create", None, later).await,
        "the session keeps its login's roles"
    );
    assert!(
        !allowed(&there, &admin, "bob", "session", "app:exportdata", Some("sales-dashboard"), later).await,
        "and its login's groups"
    );
    // ann loses the group that lets her download after her login: her session keeps it.
    let ann_in = login(&here, &admin, "ann").await;
    assert!(allowed(&there, &admin, "ann", "session", "app:exportdata", Some("sales-dashboard"), ann_in).await);
    let left = write(&here, &admin, json!({"leave": {"user": "ann", "group": "finance"}})).await;
    assert!(!allowed(&there, &admin, "ann", "api-key", "app:exportdata", Some("sales-dashboard"), left).await);
    assert!(allowed(&there, &admin, "ann", "session", "app:exportdata", Some("sales-dashboard"), left).await);
    // A fresh login takes the rights of its moment, on the other node too.
    let again = login(&here, &admin, "bob").await;
    assert!(allowed(&there, &admin, "bob", "session", "glossary:create", None, again).await);
    assert!(allowed(&there, &admin, "bob", "session", "app:exportdata", Some("sales-dashboard"), again).await);
    assert_eq!(tenant.view().sessions.revision("bob"), Some(again));
    assert_eq!(reloads(&there.state), 0, "every login came from the log and the sessions table");
    env.done().await;
}

/// A node that follows nothing, asked at a revision after a login and a later change, reads
/// both in one page of the log: the session still has the rights of its login's revision. A
/// login that records no role (an analyzer's) is a revision of its own, so it is seen too.
async fn a_login_replayed_with_later_changes_in_one_page_keeps_its_rights(env: Env) {
    let here = env.node().await;
    let there = env.node().await;
    let admin = env.key("admin").await;
    let before = revision_on(&there, &env).await;
    let logged_in = login(&here, &admin, "bob").await;
    let later = write(&here, &admin, json!({"assign": {"role": "Steward", "user": "bob"}})).await;
    assert_eq!(revision_on(&there, &env).await, before, "nothing brought the writes there yet");
    assert!(!allowed(&there, &admin, "bob", "session", "glossary:create", None, later).await);
    assert!(allowed(&there, &admin, "bob", "api-key", "glossary:create", None, later).await);
    let tenant = there.state.tenant_by_name(&env.tenant).await.unwrap().unwrap();
    assert_eq!(tenant.view().sessions.revision("bob"), Some(logged_in));

    // carl's login records nothing, yet takes a revision, its log row and its session.
    let carl_in = login(&here, &admin, "carl").await;
    assert_eq!(carl_in, later + 1);
    let (status, body) = check(
        &there,
        &admin,
        json!({"user": "carl", "via": "session", "action": "app:read", "resource": "sales-dashboard", "minRevision": carl_in}),
    )
    .await;
    assert_eq!((status, &body["allowed"]), (StatusCode::OK, &json!(true)), "{body}");
    assert_eq!(tenant.view().sessions.revision("carl"), Some(carl_in));
    assert_eq!(reloads(&there.state), 0);
    env.done().await;
}

/// A node started again over the same store decides sessions with their logins' rights; a
/// deleted user's session is gone from every node and from the store.
async fn sessions_survive_a_restart_and_die_with_their_user(env: Env) {
    let here = env.node().await;
    let admin = env.key("admin").await;
    login(&here, &admin, "bob").await;
    login(&here, &admin, "carl").await;
    let later = write(&here, &admin, json!({"assign": {"role": "Steward", "user": "bob"}})).await;
    drop(here);
    let restarted = env.node().await;
    assert!(
        !allowed(&restarted, &admin, "bob", "session", "glossary:create", None, later).await,
        "frozen before the restart"
    );
    assert!(allowed(&restarted, &admin, "bob", "api-key", "glossary:create", None, later).await);

    let other = env.node().await;
    let carl = portcullis_qlik_api::ids::user_id("carl");
    let (status, _) = restarted.call("DELETE", &format!("/api/v1/users/{carl}"), Some(&admin), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let deleted = env.store.tenant_by_name(&env.tenant).await.unwrap().unwrap().revision;
    let tenant = env.store.tenant_by_name(&env.tenant).await.unwrap().unwrap();
    let stored: Vec<String> = env
        .store
        .sessions(tenant.id, None)
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.user_id)
        .collect();
    assert_eq!(stored, ["bob"], "the store closed carl's session with carl");
    for node in [&restarted, &other] {
        let (status, _) = check(
            node,
            &admin,
            json!({"user": "bob", "action": "app:read", "resource": "sales-dashboard", "minRevision": deleted}),
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        let tenant = node.state.tenant_by_name(&env.tenant).await.unwrap().unwrap();
        assert!(
            tenant.view().sessions.rights("carl", portcullis_store::now()).is_none(),
            "carl's session is closed on every node"
        );
        assert!(tenant.view().sessions.rights("bob", portcullis_store::now()).is_some());
    }
    env.done().await;
}

/// A request with optional extra headers; the status, the answer's `Portcullis-Revision` and
/// its JSON body.
async fn send(
    node: &Node,
    method: &str,
    path: &str,
    token: &str,
    headers: &[(&str, String)],
    body: Option<Value>,
) -> (StatusCode, Option<u64>, Value) {
    let mut request = axum::http::Request::builder()
        .method(method)
        .uri(path)
        .header("host", "portcullis.test")
        .header("authorization", format!("Bearer {token}"));
    for (name, value) in headers {
        request = request.header(*name, value);
    }
    let request = match body {
        Some(body) => request
            .header("content-type", "application/json")
            .body(axum::body::Body::from(body.to_string())),
        None => request.body(axum::body::Body::empty()),
    }
    .unwrap();
    let response = tower::ServiceExt::oneshot(node.router.clone(), request).await.unwrap();
    let status = response.status();
    let revision = response
        .headers()
        .get("portcullis-revision")
        .map(|v| v.to_str().unwrap().parse::<u64>().expect("a revision number"));
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap();
    (status, revision, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
}

/// The consistency token on every read API, on a node that neither polls nor listens: the
/// management API answers a write's revision in `Portcullis-Revision`; the other node, asked
/// with it (`Portcullis-Min-Revision`, or `minRevision` in a body), answers with the write.
async fn every_read_api_takes_the_token_on_the_other_node(env: Env) {
    let here = env.node().await;
    let there = env.node().await;
    let admin = env.key("admin").await;
    let min = |revision: u64| vec![("portcullis-min-revision", revision.to_string())];

    // A user created through one node's management API.
    let (status, written, made) = send(
        &here,
        "POST",
        "/api/v1/users",
        &admin,
        &[],
        Some(json!({"subject": "zed", "name": "Zed"})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{made}");
    let written = written.expect("a management write says its revision");
    let id = made["id"].as_str().unwrap().to_owned();
    let path = format!("/api/v1/users/{id}");
    // Asked without the token, the other node has not seen it (nothing brought it there)...
    let (status, read, _) = send(&there, "GET", &path, &admin, &[], None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(read.unwrap() < written);
    // ...with it, it has.
    let (status, read, user) = send(&there, "GET", &path, &admin, &min(written), None).await;
    assert_eq!(status, StatusCode::OK, "{user}");
    assert!(read.unwrap() >= written);
    assert_eq!(user["name"], "Zed");

    // Decisions: the header and the body's field, on each decision API.
    let exporters = write(&here, &admin, json!({"assign": {"role": "Exporters", "user": "bob"}})).await;
    let ask = json!({"user": "bob", "action": "app:exportdata", "resource": "sales-dashboard"});
    let (status, _, body) = send(&there, "POST", "/v1/check", &admin, &min(exporters), Some(ask.clone())).await;
    assert_eq!(
        (status, &body["allowed"], body["revision"].as_u64() >= Some(exporters)),
        (StatusCode::OK, &json!(true), true),
        "{body}"
    );
    let (status, _, body) = send(
        &there,
        "POST",
        "/v1/check/batch",
        &admin,
        &[],
        Some(json!({"checks": [ask.clone()], "minRevision": exporters})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body["revision"].as_u64() >= Some(exporters), "{body}");

    let revoked = write(&here, &admin, json!({"unassign": {"role": "Exporters", "user": "bob"}})).await;
    let (status, _, body) = send(
        &there,
        "POST",
        "/v1/check/batch",
        &admin,
        &min(revoked),
        Some(json!({"checks": [ask.clone()]})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["results"][0]["allowed"], false, "{body}");

    let joined = write(&here, &admin, json!({"join": {"user": "zed", "group": "sales"}})).await;
    let (status, _, body) = send(
        &there,
        "POST",
        "/v1/list-users",
        &admin,
        &min(joined),
        Some(json!({"action": "app:read", "resource": "sales-dashboard"})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body.to_string().contains("\"zed\""), "zed reads the app through sales: {body}");
    let (status, _, body) = send(
        &there,
        "POST",
        "/v1/list-resources",
        &admin,
        &min(joined),
        Some(json!({"user": "zed", "action": "app:read"})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body.to_string().contains("sales-dashboard"), "{body}");

    // AuthZEN: `context.minRevision`, or the header.
    let again = write(&here, &admin, json!({"assign": {"role": "Exporters", "user": "bob"}})).await;
    let evaluation = json!({
        "subject": {"type": "user", "id": "bob"},
        "action": {"name": "app:exportdata"},
        "resource": {"type": "app", "id": "sales-dashboard"},
        "context": {"minRevision": again}
    });
    let (status, _, body) = send(&there, "POST", "/access/v1/evaluation", &admin, &[], Some(evaluation)).await;
    assert_eq!((status, &body["decision"]), (StatusCode::OK, &json!(true)), "{body}");
    assert!(body["context"]["revision"].as_u64() >= Some(again), "{body}");
    let last = write(&here, &admin, json!({"unassign": {"role": "Exporters", "user": "bob"}})).await;
    let evaluations = json!({
        "subject": {"type": "user", "id": "bob"},
        "action": {"name": "app:exportdata"},
        "evaluations": [{"resource": {"type": "app", "id": "sales-dashboard"}}]
    });
    let (status, _, body) = send(&there, "POST", "/access/v1/evaluations", &admin, &min(last), Some(evaluations)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["evaluations"][0]["decision"], false, "{body}");

    // A token no node has reached is a 409 naming the revision this node has; a malformed one, a 400.
    let (status, _, body) = send(&there, "POST", "/v1/check", &admin, &min(last + 100), Some(ask.clone())).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert!(body["message"].as_str().unwrap().contains(&format!("at revision {last}")), "{body}");
    let (status, _, body) = send(&there, "GET", &path, &admin, &min(last + 100), None).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert!(body["errors"][0].is_object(), "Qlik's envelope: {body}");
    let (status, _, body) = send(
        &there,
        "POST",
        "/v1/check",
        &admin,
        &[("portcullis-min-revision", "soon".to_owned())],
        Some(ask),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(reloads(&there.state), 0, "every catch-up came from the log");
    env.done().await;
}

/// The figure behind BENCHMARKS.md, "Change feed": 1,000 changes through one node, each timed
/// from its acknowledgement until the other node's view holds it (PostgreSQL, both nodes in
/// this process).
/// `cargo test --release -p portcullis-server --test it -- --ignored propagation_latency --nocapture`
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement, not a check"]
async fn propagation_latency() {
    let Some(env) = Env::postgres("feed_propagation_latency").await else {
        return;
    };
    let (here, there) = two_nodes(&env).await;
    let admin = env.key("admin").await;
    let tenant = there.state.tenant_by_name(&env.tenant).await.unwrap().unwrap();
    let mut revisions = tenant.revisions();
    let mut waits = Vec::with_capacity(1_000);
    for round in 0..1_000 {
        let change = if round % 2 == 0 {
            json!({"assign": {"role": "Exporters", "user": "bob"}})
        } else {
            json!({"unassign": {"role": "Exporters", "user": "bob"}})
        };
        let revision = write(&here, &admin, change).await;
        let acknowledged = Instant::now();
        tokio::time::timeout(FEED_WAIT, revisions.wait_for(|seen| *seen >= revision))
            .await
            .expect("the change arrives")
            .unwrap();
        waits.push(acknowledged.elapsed());
    }
    waits.sort();
    let at = |q: f64| waits[((waits.len() as f64 * q) as usize).min(waits.len() - 1)];
    println!(
        "1000 changes: the other node held each {:?} (p50), {:?} (p99), {:?} (max) after it was acknowledged; {} reloads, {} changes followed",
        at(0.5),
        at(0.99),
        waits[waits.len() - 1],
        reloads(&there.state),
        there.state.metrics().followed().1
    );
    assert_eq!(reloads(&there.state), 0);
    env.done().await;
}
