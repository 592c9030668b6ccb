//! The change feed: the log read back after a revision replays to exactly the stored tenant
//! (both backends), says when it cannot (an import), and on PostgreSQL every committed write
//! notifies the listeners of its schema — and a write that did not commit notifies no one.

use std::time::Duration;

use portcullis_model::TenantSetting;
use portcullis_store::*;

use crate::contract::{DEMO, assign, group, import, join, leave, loaded, new_key, tenant};
use crate::harness::Harness;

/// Pages of at most three revisions, applied to the tenant as imported, give the stored
/// tenant; an import makes the log insufficient; a node ahead of the store is told to read.
pub async fn the_log_after_a_revision_replays_to_the_stored_tenant(h: &impl Harness) {
    let store = h.open().await;
    let imported = tenant(DEMO);
    let id = import(&store, &imported).await.id;
    let changes = [
        join("carl", "finance"),
        assign("Steward", group("sales")),
        Change::SetSetting {
            setting: TenantSetting::AdminsCanOpenAppsWithoutSpaceRole,
            value: true,
        },
        leave("ann", "sales"),
        Change::DeleteUser { id: "carl".to_owned() },
        join("bob", "finance"),
        assign("Steward", group("sales")),
    ];
    for change in &changes {
        store.apply(id, change, &Author::cli()).await.expect("the change is stored");
    }
    let (stored, revision) = loaded(&store, id).await;
    // The repeated assignment touched nothing: not stored, no revision.
    assert_eq!(revision, 1 + changes.len() as u64 - 1);

    let mut follower = imported.clone();
    let mut at = 1;
    let mut pages = 0;
    while at < revision {
        let page = store.changes_after(id, at, 3).await.expect("the log is read");
        let LogPage::Changes {
            through,
            revision: now,
            changes,
        } = page
        else {
            panic!("the log holds every revision: {page:?}")
        };
        assert_eq!(now, revision);
        assert!(through > at && through <= at + 3, "a page of at most three revisions: {at} → {through}");
        assert!(changes.iter().all(|(r, _)| *r > at && *r <= through));
        for (_, change) in &changes {
            follower.apply(change).expect("a logged change applies");
        }
        at = through;
        pages += 1;
    }
    assert_eq!(pages, 2);
    assert_eq!(follower, stored, "the log replays to the stored tenant");
    assert_eq!(
        store.changes_after(id, revision, 100).await.unwrap(),
        LogPage::Changes {
            through: revision,
            revision,
            changes: Vec::new()
        },
        "nothing after the last revision"
    );
    assert_eq!(
        store.changes_after(id, revision + 5, 100).await.unwrap(),
        LogPage::Missing { revision },
        "a reader ahead of the store reads it whole"
    );

    // An import replaces the tenant: the log cannot bring a reader across it.
    store.import_tenant(&imported, ImportMode::Replace, &Author::cli()).await.unwrap();
    assert_eq!(
        store.changes_after(id, revision, 100).await.unwrap(),
        LogPage::Missing { revision: revision + 1 }
    );
    store.apply(id, &join("carl", "finance"), &Author::cli()).await.unwrap();
    assert!(
        matches!(store.changes_after(id, revision + 1, 100).await.unwrap(), LogPage::Changes { ref changes, .. } if changes.len() == 1),
        "after the import the log serves again"
    );
    store.delete_tenant(id).await.unwrap();
    assert!(matches!(store.changes_after(id, 0, 10).await, Err(StoreError::NotFound(_))));
}

/// The next notice, skipping the resyncs a listener sends when it connects.
async fn next_notice(feed: &mut Feed) -> Notice {
    loop {
        match tokio::time::timeout(Duration::from_secs(5), feed.next()).await {
            Ok(Some(FeedEvent::Notice(notice))) => return notice,
            Ok(Some(FeedEvent::Resync)) => continue,
            Ok(None) => panic!("the feed closed"),
            Err(_) => panic!("no notice within 5 s"),
        }
    }
}

/// Nothing more within `wait`.
async fn quiet(feed: &mut Feed, wait: Duration) {
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        match tokio::time::timeout_at(deadline, feed.next()).await {
            Err(_) => return,
            Ok(Some(FeedEvent::Resync)) => continue,
            Ok(other) => panic!("expected nothing, got {other:?}"),
        }
    }
}

/// Every kind of committed write notifies, with the revisions it reached; a refused write, a
/// write touching nothing and another schema's writes notify no one.
pub async fn postgres_every_committed_write_notifies(h: &impl Harness, other: &impl Harness) {
    let store = h.open().await;
    let mut feed = store.subscribe().expect("PostgreSQL has a feed");
    // Listening before the first write: the first event is the listener's resync.
    match tokio::time::timeout(Duration::from_secs(5), feed.next()).await {
        Ok(Some(FeedEvent::Resync)) => {}
        other => panic!("the listener starts with a resync, got {other:?}"),
    }
    assert!(feed.is_listening());

    let id = import(&store, &tenant(DEMO)).await.id;
    let notice = next_notice(&mut feed).await;
    assert_eq!((notice.tenant, notice.revision, notice.kind), (id, 1, NoticeKind::Model), "a new tenant");

    store.apply(id, &join("carl", "finance"), &Author::cli()).await.unwrap();
    let notice = next_notice(&mut feed).await;
    assert_eq!((notice.tenant, notice.revision, notice.kind), (id, 2, NoticeKind::Model));

    // Refused by the model, or stale: nothing committed, nothing said.
    assert!(store.apply(id, &join("nobody", "finance"), &Author::cli()).await.is_err());
    let (mut stale, _) = loaded(&store, id).await;
    let applied = stale.apply(&leave("ann", "sales")).unwrap();
    let write = ChangeSet {
        base_revision: 1,
        after: &stale,
        changes: &[leave("ann", "sales")],
        touched: &applied.touched,
        events: &[],
        sessions: &[],
        author: &Author::cli(),
        applied: &[],
    };
    assert!(matches!(store.commit_changes(id, write).await, Err(StoreError::Conflict(_))));
    quiet(&mut feed, Duration::from_millis(300)).await;

    // A key revoked: the credentials revision moves, not the model's.
    let key = store.create_api_key(&new_key(id, "ann", 7), &Author::cli()).await.unwrap();
    store.revoke_api_key(id, key.id, &Author::cli()).await.unwrap();
    let notice = next_notice(&mut feed).await;
    assert_eq!(
        (notice.revision, notice.credentials_revision, notice.kind),
        (2, 1, NoticeKind::Credentials)
    );

    // A user deleted with a key: the model and the credentials, in that order, one transaction.
    store.create_api_key(&new_key(id, "carl", 8), &Author::cli()).await.unwrap();
    store
        .apply(id, &Change::DeleteUser { id: "carl".to_owned() }, &Author::cli())
        .await
        .unwrap();
    let first = next_notice(&mut feed).await;
    let second = next_notice(&mut feed).await;
    assert_eq!((first.kind, first.revision), (NoticeKind::Model, 3));
    assert_eq!((second.kind, second.credentials_revision), (NoticeKind::Credentials, 2));

    let settings = AuditSettings {
        retention_days: Some(30),
        ..AuditSettings::default()
    };
    store.set_audit_settings(id, &settings, &Author::cli()).await.unwrap();
    let notice = next_notice(&mut feed).await;
    assert_eq!((notice.tenant, notice.kind), (id, NoticeKind::AuditSettings));

    // A rule site written: the rule-sites revision moves, not the model's; a stale one says nothing.
    let site = NewRuleSite {
        tenant: id,
        name: "acme",
        format: RuleSiteFormat::Yaml,
        source: "users: []\n",
        expected_revision: None,
        summary: serde_json::json!({}),
    };
    store.put_rule_site(&site, &Author::cli()).await.unwrap();
    let notice = next_notice(&mut feed).await;
    assert_eq!((notice.kind, notice.revision, notice.rule_sites_revision), (NoticeKind::RuleSites, 3, 1));
    let stale = NewRuleSite {
        expected_revision: Some(9),
        ..site.clone()
    };
    assert!(store.put_rule_site(&stale, &Author::cli()).await.is_err());
    quiet(&mut feed, Duration::from_millis(300)).await;
    store.delete_rule_site(id, "acme", None, &Author::cli()).await.unwrap();
    let notice = next_notice(&mut feed).await;
    assert_eq!((notice.kind, notice.rule_sites_revision), (NoticeKind::RuleSites, 2));

    // Another schema of the same database is another deployment.
    let elsewhere = other.open().await;
    let there = import(&elsewhere, &tenant(DEMO)).await.id;
    elsewhere.apply(there, &join("carl", "finance"), &Author::cli()).await.unwrap();
    quiet(&mut feed, Duration::from_millis(300)).await;

    store.delete_tenant(id).await.unwrap();
    let notice = next_notice(&mut feed).await;
    assert_eq!((notice.tenant, notice.kind), (id, NoticeKind::TenantDeleted));
}

/// The listening connection is cut (its backend terminated, as a restart or a network fault
/// would): the feed says so, listens again by itself, and resyncs — so the subscriber reads
/// the log for whatever it missed — and the next write notifies again.
pub async fn postgres_a_lost_listener_listens_again_and_resyncs(h: &crate::harness::PgHarness) {
    let store = h.open().await;
    let id = import(&store, &tenant(DEMO)).await.id;
    let mut feed = store.subscribe().expect("PostgreSQL has a feed");
    assert_eq!(
        tokio::time::timeout(Duration::from_secs(5), feed.next()).await.ok().flatten(),
        Some(FeedEvent::Resync)
    );
    // Only this test's listening connection: its application name is the test's schema.
    h.execute(&format!(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = '{}' AND query LIKE 'LISTEN%'",
        h.schema()
    ))
    .await;
    let started = std::time::Instant::now();
    match tokio::time::timeout(Duration::from_secs(10), feed.next()).await {
        Ok(Some(FeedEvent::Resync)) => {}
        other => panic!("the feed listens again and resyncs, got {other:?}"),
    }
    assert!(feed.is_listening());
    assert!(feed.listening().for_how_long() <= started.elapsed(), "listening again since the cut");
    store.apply(id, &join("carl", "finance"), &Author::cli()).await.unwrap();
    let notice = next_notice(&mut feed).await;
    assert_eq!(
        (notice.tenant, notice.revision, notice.kind),
        (id, 2, NoticeKind::Model),
        "notices flow again"
    );
}
