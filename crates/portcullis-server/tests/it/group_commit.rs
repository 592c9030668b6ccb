//! Group commit: many writers on one tenant at once. Their writes share store transactions,
//! yet each writer gets its own answer — its own revision and a view that includes its write,
//! or its own refusal — every accepted write is logged at its revision, and the live view
//! decides exactly as a node started afresh from the store.

use std::collections::BTreeMap;
use std::sync::Arc;

use portcullis_model::tenant::{RoleTarget, User};
use portcullis_model::tenant_file::load_tenant_text;
use portcullis_model::{Change, Entitlement, UserStatus};
use portcullis_server::state::{TenantState, Written};
use portcullis_server::{AppState, ServerConfig};
use portcullis_store::{Author, ImportMode, Store, StoreError};

use crate::live_view::decisions;
use crate::support::DEMO;

/// The demo tenant imported into a fresh SQLite store and loaded by a node.
struct Demo {
    /// Holds the database file: keep it as long as the store.
    dir: tempfile::TempDir,
    /// The store's URL, for another node on the same database.
    url: String,
    store: Arc<dyn Store>,
    state: AppState,
    tenant: Arc<TenantState>,
    /// The ids of its OAuth clients (the channels `decisions` asks through).
    clients: Vec<String>,
}

async fn demo() -> Demo {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let url = format!("sqlite://{}", dir.path().join("group.db").display());
    let store = portcullis_store::open(&url).await.expect("the store opens");
    let demo = load_tenant_text("demo", DEMO).expect("the demo tenant loads");
    let clients: Vec<String> = demo.oauth_clients.iter().map(|c| c.id.clone()).collect();
    store.import_tenant(&demo, ImportMode::Replace, &Author::cli()).await.expect("import");
    let state = AppState::new(store.clone(), ServerConfig::default()).await.expect("the state loads");
    let tenant = state
        .tenant_by_name("demo")
        .await
        .expect("the store answers")
        .expect("the tenant is live");
    Demo {
        dir,
        url,
        store,
        state,
        tenant,
        clients,
    }
}

const WRITERS: usize = 16;
const ROUNDS: usize = 4;

fn new_user(id: &str) -> User {
    User {
        meta: Default::default(),
        id: id.into(),
        name: id.into(),
        email: None,
        entitlement: Entitlement::Professional,
        status: UserStatus::Active,
        roles: vec![],
        groups: vec![],
    }
}

fn in_group(written: &Written, user: &str, group: &str) -> bool {
    let snapshot = &written.view.snapshot;
    let idx = snapshot.user_idx(user).unwrap_or_else(|| panic!("{user} is in the view"));
    snapshot.user(idx).rights.group_names.iter().any(|g| &**g == group)
}

/// One writer: creates its user, logs it in, then per round a join, a refused join (a group
/// that does not exist, named after the writer and round), a leave and a refused two-change
/// write (its first change is good, so all-or-nothing is tested too). Returns its accepted
/// writes as (revision, changes).
async fn writer(state: AppState, tenant: Arc<TenantState>, w: usize) -> Vec<(u64, Vec<Change>)> {
    let me = format!("w{w}");
    let author = Author::user(me.clone(), "api-key");
    let mut accepted = Vec::new();
    let create = vec![Change::CreateUser { user: new_user(&me) }];
    let written = state.write(&tenant, &create, &author).await.expect("a new user");
    assert!(written.view.snapshot.revision >= written.revision);
    assert!(written.view.snapshot.user_idx(&me).is_some(), "{me} is in the view of its own write");
    accepted.push((written.revision, create));

    // The demo tenant auto-assigns a role to professionals at their first login: a write.
    let login = state.login(&tenant, &me, &author).await.expect("a login");
    assert!(
        login.view.sessions.rights(&me, portcullis_store::now()).is_some(),
        "{me}'s session is in the view of its login"
    );
    assert_eq!(login.applied[0].recorded_roles.len(), 1, "{me}'s first login records its role");
    accepted.push((login.revision, vec![Change::RecordLogin { user: me.clone() }]));

    for round in 0..ROUNDS {
        let join = vec![Change::JoinGroup {
            user: me.clone(),
            group: "finance".into(),
        }];
        let written = state.write(&tenant, &join, &author).await.expect("a join");
        assert!(in_group(&written, &me, "finance"), "{me} joined finance in its own view");
        accepted.push((written.revision, join));

        let missing = format!("missing-{w}-{round}");
        let refused = [Change::JoinGroup {
            user: me.clone(),
            group: missing.clone(),
        }];
        match state.write(&tenant, &refused, &author).await {
            Err(StoreError::Rejected(error)) => assert!(error.to_string().contains(&missing), "{me} got another's refusal: {error}"),
            other => panic!("{me}: a join to `{missing}` was not refused: {other:?}"),
        }

        let leave = vec![Change::LeaveGroup {
            user: me.clone(),
            group: "finance".into(),
        }];
        let written = state.write(&tenant, &leave, &author).await.expect("a leave");
        assert!(!in_group(&written, &me, "finance"), "{me} left finance in its own view");
        accepted.push((written.revision, leave));

        let role = format!("NoSuchRole{w}x{round}");
        let half = [
            Change::JoinGroup {
                user: me.clone(),
                group: "sales".into(),
            },
            Change::AssignRole {
                role: role.clone(),
                target: RoleTarget::User(me.clone()),
            },
        ];
        match state.write(&tenant, &half, &author).await {
            Err(StoreError::Rejected(error)) => assert!(error.to_string().contains(&role), "{me} got another's refusal: {error}"),
            other => panic!("{me}: assigning `{role}` was not refused: {other:?}"),
        }
    }
    accepted
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_writers_each_get_their_own_answer() {
    let Demo {
        dir: _dir,
        store,
        state,
        tenant,
        clients,
        ..
    } = demo().await;

    let tasks: Vec<_> = (0..WRITERS).map(|w| tokio::spawn(writer(state.clone(), tenant.clone(), w))).collect();
    let mut accepted: BTreeMap<u64, Vec<Change>> = BTreeMap::new();
    for task in tasks {
        for (revision, changes) in task.await.expect("a writer") {
            assert!(accepted.insert(revision, changes).is_none(), "revision {revision} was answered twice");
        }
    }

    // Every accepted write has its own revision, one after another from the import's.
    let n = accepted.len() as u64;
    assert_eq!(n, (WRITERS * (2 + 2 * ROUNDS)) as u64);
    assert_eq!(accepted.keys().copied().collect::<Vec<_>>(), (2..2 + n).collect::<Vec<_>>());
    assert_eq!(store.revision(tenant.id).await.unwrap(), 1 + n);
    assert_eq!(tenant.view().snapshot.revision, 1 + n);
    // ... logged at that revision, and nothing else (no refused change reached the store).
    let mut logged: BTreeMap<u64, Vec<Change>> = BTreeMap::new();
    for (revision, change) in store.changes_since(tenant.id, 1).await.unwrap() {
        logged.entry(revision).or_default().push(change);
    }
    assert_eq!(logged, accepted);
    // ... with its event, in one whole chain.
    assert_eq!(store.audit_chain(tenant.id).await.unwrap().verify(), Ok(1 + n));

    // The writes shared transactions.
    let (writes, transactions) = state.metrics().commits();
    assert_eq!(writes, n);
    assert!(
        transactions < writes,
        "{writes} writes in {transactions} transactions: nothing was grouped"
    );

    let fresh = AppState::new(store.clone(), ServerConfig::default()).await.expect("a fresh state loads");
    let fresh_tenant = fresh
        .tenant_by_name("demo")
        .await
        .expect("the store answers")
        .expect("the tenant is there");
    assert_eq!(fresh_tenant.view().snapshot.revision, 1 + n);
    let live = decisions(&tenant, &clients);
    let rebuilt = decisions(&fresh_tenant, &clients);
    assert_eq!(live.len(), rebuilt.len());
    for (a, b) in live.iter().zip(&rebuilt) {
        assert_eq!(a, b, "the live view and a fresh start disagree");
    }
    // Every writer's login is in the live view, and stored with the login's revision.
    let view = tenant.view();
    let stored = store.sessions(tenant.id, None).await.unwrap();
    for w in 0..WRITERS {
        let me = format!("w{w}");
        assert!(view.sessions.rights(&me, portcullis_store::now()).is_some(), "{me}'s session was lost");
        let login = accepted
            .iter()
            .find(|(_, changes)| changes[..] == [Change::RecordLogin { user: me.clone() }]);
        let revision = login.map(|(revision, _)| *revision);
        assert_eq!(view.sessions.revision(&me), revision, "{me}");
        assert_eq!(stored.iter().find(|s| s.user_id == me).map(|s| s.revision), revision, "{me}");
    }
}

/// Logins queued into one batch with writes before and after them: each freezes the rights
/// of its own place in the batch (the writes before it, none after), here and as stored.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_login_in_a_batch_freezes_the_rights_of_its_place() {
    let Demo {
        dir: _dir,
        store,
        state,
        tenant,
        clients,
        ..
    } = demo().await;
    let steward = |user: &str| Change::AssignRole {
        role: "Steward".into(),
        target: RoleTarget::User(user.into()),
    };
    let join = Change::JoinGroup {
        user: "carl".into(),
        group: "finance".into(),
    };
    // In this order: bob's login, Steward for bob, carl into finance, carl's login, Steward for carl.
    let steps: Vec<Option<Change>> = vec![None, Some(steward("bob")), Some(join), None, Some(steward("carl"))];
    let hold = tenant.live().await;
    let mut tasks = Vec::new();
    for (i, step) in steps.into_iter().enumerate() {
        let (state, tenant) = (state.clone(), tenant.clone());
        tasks.push(tokio::spawn(async move {
            let author = Author::cli();
            match step {
                Some(change) => state.write(&tenant, &[change], &author).await,
                None => state.login(&tenant, if i == 0 { "bob" } else { "carl" }, &author).await,
            }
        }));
        // Queued in this order.
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    drop(hold);
    let mut revisions = Vec::new();
    for task in tasks {
        revisions.push(task.await.expect("a writer").expect("a write").revision);
    }
    assert_eq!(revisions, [2, 3, 4, 5, 6]);
    assert_eq!(state.metrics().commits(), (5, 1), "one batch");
    let rights = |user: &str| {
        let view = tenant.view();
        let rights = view
            .sessions
            .rights(user, portcullis_store::now())
            .unwrap_or_else(|| panic!("{user}'s session"))
            .clone();
        let roles: Vec<String> = rights.assignments.iter().map(|a| a.role.name.to_string()).collect();
        let groups: Vec<String> = rights.group_names.iter().map(|g| g.to_string()).collect();
        (roles, groups)
    };
    let (bob_roles, _) = rights("bob");
    assert!(!bob_roles.contains(&"Steward".to_owned()), "bob logged in before Steward: {bob_roles:?}");
    let (carl_roles, carl_groups) = rights("carl");
    assert!(carl_groups.contains(&"finance".to_owned()), "carl logged in after joining finance");
    assert!(
        carl_roles.contains(&"Exporters".to_owned()) && !carl_roles.contains(&"Steward".to_owned()),
        "{carl_roles:?}"
    );
    assert_eq!(tenant.view().sessions.revision("carl"), Some(5));
    // A node started from the store decides every session exactly so.
    let fresh = AppState::new(store.clone(), ServerConfig::default()).await.expect("a fresh state loads");
    let fresh_tenant = fresh.tenant_by_name("demo").await.unwrap().expect("the tenant is there");
    assert_eq!(decisions(&tenant, &clients), decisions(&fresh_tenant, &clients));
}

/// A batch whose transaction fails (here: another node wrote first, so the revision moved) is
/// undone and its writes are committed one by one: each good write still goes through (caught
/// up on the other node's write), a write planned at the old revision is refused with a
/// conflict, a refused one keeps its own refusal, and the live view equals a fresh start.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_failed_batch_is_committed_one_by_one() {
    let Demo {
        dir: _dir,
        url,
        store,
        state,
        tenant,
        clients,
    } = demo().await;
    // Another node on the same database.
    let other = AppState::new(portcullis_store::open(&url).await.expect("a second store"), ServerConfig::default())
        .await
        .expect("the other node loads");
    let other_tenant = other.tenant_by_name("demo").await.unwrap().expect("the tenant");

    // Hold the live model so the writes queue up into one batch, and meanwhile let the other
    // node write.
    let hold = tenant.live().await;
    let author = Author::cli();
    let mut tasks = Vec::new();
    for w in 0..WRITERS {
        let (state, tenant, author) = (state.clone(), tenant.clone(), author.clone());
        tasks.push(tokio::spawn(async move {
            let me = format!("w{w}");
            let changes = match w {
                // Planned at revision 1, which the other node's write makes stale.
                0 => vec![Change::CreateUser { user: new_user(&me) }],
                // Refused by the model.
                1 => vec![Change::JoinGroup {
                    user: "ann".into(),
                    group: "missing".into(),
                }],
                _ => vec![Change::CreateUser { user: new_user(&me) }],
            };
            let options = portcullis_server::state::WriteOptions {
                base_revision: (w == 0).then_some(1),
                events: None,
            };
            (w, state.write_with(&tenant, &changes, &author, options).await)
        }));
    }
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    other
        .write(
            &other_tenant,
            &[Change::JoinGroup {
                user: "carl".into(),
                group: "finance".into(),
            }],
            &author,
        )
        .await
        .expect("the other node writes");
    drop(hold);

    let mut revisions = Vec::new();
    for task in tasks {
        let (w, outcome) = task.await.expect("a writer");
        match (w, outcome) {
            (0, Err(portcullis_server::state::WriteFailure::Store(StoreError::Conflict(_)))) => {}
            (1, Err(portcullis_server::state::WriteFailure::Refused { index: 0, error })) => {
                assert!(error.to_string().contains("missing"), "{error}")
            }
            (w, Ok(written)) if w > 1 => {
                assert!(written.view.snapshot.user_idx(&format!("w{w}")).is_some());
                revisions.push(written.revision);
            }
            (w, other) => panic!("writer {w}: {other:?}"),
        }
    }
    revisions.sort();
    let n = (WRITERS - 2) as u64;
    // Revision 2 is the other node's; ours follow it.
    assert_eq!(revisions, (3..3 + n).collect::<Vec<_>>());
    let (writes, transactions) = state.metrics().commits();
    assert_eq!((writes, transactions), (n, n), "the batch failed, so each write had its own transaction");

    let fresh = AppState::new(store.clone(), ServerConfig::default()).await.expect("a fresh state loads");
    let fresh_tenant = fresh.tenant_by_name("demo").await.unwrap().expect("the tenant is there");
    assert_eq!(tenant.view().snapshot.revision, 2 + n);
    assert_eq!(fresh_tenant.view().snapshot.revision, 2 + n);
    assert_eq!(decisions(&tenant, &clients), decisions(&fresh_tenant, &clients));
    assert_eq!(store.audit_chain(tenant.id).await.unwrap().verify(), Ok(2 + n));
}
