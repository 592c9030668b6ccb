//! Sessions in the store: a login stores the rights it froze with its own revision and its
//! change-log row in one transaction, even when it records no role; a node reads back every
//! session or only those of the users it asks for; a session dies with its user (a commit
//! deleting the user, an import leaving it out, the tenant deleted) and survives reopening.

use portcullis_model::Tenant;
use portcullis_store::*;

use crate::contract::{DEMO, import, loaded, tenant};
use crate::harness::Harness;

fn login(user: &str) -> Change {
    Change::RecordLogin { user: user.to_owned() }
}

fn session(user: &str, rights: &str) -> NewSession {
    NewSession {
        user_id: user.to_owned(),
        rights: rights.to_owned(),
    }
}

/// Commits logins (each its own write of the batch, applied to `model` first).
async fn commit_logins(store: &std::sync::Arc<dyn Store>, id: TenantId, model: &mut Tenant, base: u64, logins: &[(&str, &str)]) -> Vec<u64> {
    let changes: Vec<[Change; 1]> = logins.iter().map(|(user, _)| [login(user)]).collect();
    let touched: Vec<Touched> = changes
        .iter()
        .map(|[change]| model.apply(change).expect("the login applies").touched)
        .collect();
    let sessions: Vec<[NewSession; 1]> = logins.iter().map(|(user, rights)| [session(user, rights)]).collect();
    let author = Author::user("admin", "api-key");
    let writes: Vec<ChangeSet<'_>> = (0..logins.len())
        .map(|i| ChangeSet {
            base_revision: base + i as u64,
            after: model,
            changes: &changes[i],
            touched: &touched[i],
            events: &[],
            sessions: &sessions[i],
            author: &author,
            applied: &[],
        })
        .collect();
    store.commit_batch(id, &writes).await.expect("the logins are stored")
}

pub async fn a_login_stores_its_session_with_a_revision_of_its_own(h: &impl Harness) {
    let store = h.open().await;
    let id = import(&store, &tenant(DEMO)).await.id;
    let (mut model, revision) = loaded(&store, id).await;
    assert_eq!(revision, 1);
    // dana is disabled: her login records no role, yet it is stored, with its log row.
    assert_eq!(commit_logins(&store, id, &mut model, 1, &[("dana", "{\"d\":1}")]).await, [2]);
    let LogPage::Changes { changes, revision, .. } = store.changes_after(id, 1, 10).await.unwrap() else {
        panic!("the log holds the login")
    };
    assert_eq!((revision, changes), (2, vec![(2, login("dana"))]));
    assert_eq!(
        loaded(&store, id).await.0,
        tenant(DEMO),
        "a login that records nothing changes no row of the model"
    );

    // Two logins in one batch: each its revision; the same user's later login wins.
    assert_eq!(
        commit_logins(
            &store,
            id,
            &mut model,
            2,
            &[("ann", "{\"a\":1}"), ("carl", "{\"c\":1}"), ("ann", "{\"a\":2}")]
        )
        .await,
        [3, 4, 5]
    );
    let all = store.sessions(id, None).await.unwrap();
    let seen: Vec<(&str, u64, &str)> = all.iter().map(|s| (s.user_id.as_str(), s.revision, s.rights.as_str())).collect();
    assert_eq!(seen, [("ann", 5, "{\"a\":2}"), ("carl", 4, "{\"c\":1}"), ("dana", 2, "{\"d\":1}")]);
    assert!(all.iter().all(|s| s.logged_in_at > 0));
    let some = store.sessions(id, Some(&["carl".to_owned(), "nobody".to_owned()])).await.unwrap();
    assert_eq!(some.iter().map(|s| s.user_id.as_str()).collect::<Vec<_>>(), ["carl"]);
    assert!(store.sessions(id, Some(&[])).await.unwrap().is_empty());

    // A write without a session, touching nothing and without events, still stores nothing.
    let author = Author::cli();
    let nothing = ChangeSet {
        base_revision: 5,
        after: &model,
        changes: &[],
        touched: &Touched::default(),
        events: &[],
        sessions: &[],
        author: &author,
        applied: &[],
    };
    assert_eq!(store.commit_changes(id, nothing).await.unwrap(), 5);

    // Durable; and a session dies with its user.
    let store = h.open().await;
    assert_eq!(store.sessions(id, None).await.unwrap().len(), 3);
    store.apply(id, &Change::DeleteUser { id: "carl".to_owned() }, &author).await.unwrap();
    let left: Vec<String> = store.sessions(id, None).await.unwrap().into_iter().map(|s| s.user_id).collect();
    assert_eq!(left, ["ann", "dana"]);
    let mut without_dana = tenant(DEMO);
    without_dana.apply(&Change::DeleteUser { id: "dana".to_owned() }).unwrap();
    store.import_tenant(&without_dana, ImportMode::Replace, &author).await.unwrap();
    let left: Vec<String> = store.sessions(id, None).await.unwrap().into_iter().map(|s| s.user_id).collect();
    assert_eq!(left, ["ann"], "an import keeps the sessions of the users it keeps");
    store.delete_tenant(id).await.unwrap();
    assert!(store.sessions(id, None).await.unwrap().is_empty());
}
