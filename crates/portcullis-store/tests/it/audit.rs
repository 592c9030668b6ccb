//! The audit trail's contract: every write leaves exactly one event with the right fields in
//! its own transaction, refused writes leave none, the chain finds any tampering with stored
//! rows, queries filter and page, and archiving keeps the chain verifiable.

use portcullis_model::tenant::{Content, RoleTarget};
use portcullis_model::{ContentKind, Permission, PermissionValue, TenantSetting};
use portcullis_store::*;
use serde_json::json;

use crate::contract::{DEMO, admin, assign, five_events, group, import, join, leave, loaded, new_key, tenant, unassign, user};
use crate::harness::Harness;

async fn events(store: &std::sync::Arc<dyn Store>, id: TenantId) -> Vec<EventBody> {
    let query = AuditQuery::default();
    store
        .audit_events(id, &query)
        .await
        .expect("events")
        .into_iter()
        .map(|(_, body)| body)
        .collect()
}

/// Runs one write and checks it left exactly one more event, returned for field checks.
async fn one_event(store: &std::sync::Arc<dyn Store>, id: TenantId, before: usize) -> EventBody {
    let all = events(store, id).await;
    assert_eq!(all.len(), before + 1, "exactly one event: {all:#?}");
    let last = all.last().cloned().expect("an event");
    assert_eq!(last.seq, before as u64 + 1);
    assert_eq!(last.tenant, "demo");
    assert!(last.event_time.ends_with('Z') && last.event_time.len() == 24, "{}", last.event_time);
    last
}

pub async fn each_write_leaves_exactly_one_event(h: &impl Harness) {
    let store = h.open().await;
    let record = import(&store, &tenant(DEMO)).await;
    let imported = one_event(&store, record.id, 0).await;
    assert_eq!(
        (imported.event_type.as_str(), imported.channel.as_str()),
        ("com.qlik.v1.tenant.imported", "cli")
    );
    assert_eq!(imported.data["outcome"], "created");

    let author = admin();
    // (change, event type, the event's resource as (kind, id)).
    type Case<'a> = (Change, &'a str, Option<(&'a str, &'a str)>);
    let cases: Vec<Case> = vec![
        (assign("Steward", user("bob")), "com.qlik.v1.user.updated", Some(("user", "bob"))),
        (assign("Steward", group("sales")), "com.qlik.v1.group.updated", Some(("group", "sales"))),
        (
            assign("Steward", RoleTarget::Everyone),
            "com.qlik.v1.group-setting.updated",
            Some(("group", "Everyone")),
        ),
        (unassign("Steward", user("bob")), "com.qlik.v1.user.updated", Some(("user", "bob"))),
        (join("carl", "finance"), "com.qlik.v1.user.updated", Some(("user", "carl"))),
        (leave("ann", "sales"), "com.qlik.v1.user.updated", Some(("user", "ann"))),
        (
            Change::SetSetting {
                setting: TenantSetting::AdminsCanOpenAppsWithoutSpaceRole,
                value: true,
            },
            "com.qlik.v1.tenant.settings.updated",
            None,
        ),
        (
            Change::SetUserDefault {
                permission: Permission::parse("in-app-content-download").unwrap(),
                value: PermissionValue::Allowed,
            },
            "com.qlik.v1.role.updated",
            Some(("role", "UserDefault")),
        ),
        (
            Change::RecordLogin { user: "ann".into() },
            "com.qlik.v1.user.updated",
            Some(("user", "ann")),
        ),
    ];
    let mut n = 1;
    for (change, event_type, resource) in &cases {
        let revision = store
            .apply(record.id, change, &author)
            .await
            .unwrap_or_else(|e| panic!("{change:?}: {e}"));
        let event = one_event(&store, record.id, n).await;
        n += 1;
        assert_eq!(event.event_type, *event_type, "{change:?}");
        assert_eq!(event.action, change.kind());
        assert_eq!(event.actor.user.as_deref(), Some("admin"));
        assert_eq!(event.channel, "api-key");
        assert_eq!(event.data["revision"], json!(revision));
        assert_eq!(event.resource.as_ref().map(|r| (r.kind.as_str(), r.id.as_str())), *resource, "{change:?}");
    }

    let key = store
        .create_api_key(
            &NewApiKey {
                description: "ci".into(),
                ..new_key(record.id, "bob", 3)
            },
            &author,
        )
        .await
        .unwrap();
    let created = one_event(&store, record.id, n).await;
    assert_eq!(created.event_type, "com.qlik.api-key.created");
    assert_eq!(
        created.resource.as_ref().map(|r| (r.id.clone(), r.owner.clone())),
        Some((key.id.to_string(), Some("bob".into())))
    );
    n += 1;
    store.revoke_api_key(record.id, key.id, &author).await.unwrap();
    assert_eq!(one_event(&store, record.id, n).await.event_type, "com.qlik.api-key.deleted");
    n += 1;
    store.revoke_api_key(record.id, key.id, &author).await.unwrap();
    assert_eq!(events(&store, record.id).await.len(), n, "revoking a revoked key changes nothing");

    store
        .create_client_secret(
            &NewClientSecret {
                tenant: record.id,
                client_id: "reporting".into(),
                hash: [4; 32],
                bot_user: "admin".into(),
                hint: "hint".into(),
            },
            &author,
        )
        .await
        .unwrap();
    let secret = one_event(&store, record.id, n).await;
    assert_eq!(
        (secret.event_type.as_str(), secret.action.as_str()),
        ("com.qlik.v1.oauth-client.updated", "create-client-secret")
    );
    assert!(!secret.body_text().contains("hash"), "no secret material in events");
    n += 1;

    let settings = AuditSettings {
        policy: DecisionLogPolicy {
            mode: DecisionLogMode::Denies,
            sample_per_million: 500_000,
        },
        retention_days: Some(90),
    };
    store.set_audit_settings(record.id, &settings, &author).await.unwrap();
    assert_eq!(one_event(&store, record.id, n).await.data["audit"]["mode"], "denies");
    n += 1;

    let replaced = store
        .import_tenant(&tenant(DEMO), ImportMode::Replace, &Author::operator())
        .await
        .unwrap();
    assert_eq!(replaced.outcome, ImportOutcome::Replaced);
    let reimported = one_event(&store, record.id, n).await;
    assert_eq!(
        (reimported.data["outcome"].as_str(), reimported.channel.as_str()),
        (Some("replaced"), "operator")
    );
    n += 1;
    store
        .import_tenant(&tenant(DEMO), ImportMode::KeepExisting, &Author::cli())
        .await
        .unwrap();
    assert_eq!(events(&store, record.id).await.len(), n, "a kept import writes nothing");

    assert_eq!(store.audit_chain(record.id).await.unwrap().verify(), Ok(n as u64));
}

trait BodyText {
    fn body_text(&self) -> String;
}

impl BodyText for EventBody {
    fn body_text(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

pub async fn refused_writes_leave_no_event(h: &impl Harness) {
    let store = h.open().await;
    let record = import(&store, &tenant(DEMO)).await;
    for change in [assign("Nope", user("ann")), join("ann", "sales"), leave("bob", "nogroup")] {
        assert!(store.apply(record.id, &change, &admin()).await.is_err());
    }
    // Steps that change nothing are no-ops: no error, and no event either.
    for change in [unassign("Steward", user("ann")), leave("bob", "finance")] {
        assert_eq!(store.apply(record.id, &change, &admin()).await.unwrap(), 1);
    }
    assert!(store.revoke_api_key(record.id, 4242, &admin()).await.is_err());
    assert_eq!(events(&store, record.id).await.len(), 1, "only the import");
}

fn app(id: &str, space: &str) -> Content {
    Content {
        id: id.into(),
        name: id.into(),
        kind: ContentKind::App,
        space: Some(space.into()),
        owner: Some("ann".into()),
    }
}

pub async fn commit_changes_writes_the_touched_rows_and_refuses_a_stale_base(h: &impl Harness) {
    let store = h.open().await;
    let before = tenant(DEMO);
    let record = import(&store, &before).await;
    let mut after = before.clone();
    let changes = [
        Change::CreateContent {
            item: app("new-app", "finance-team"),
        },
        Change::DeleteUser { id: "dana".into() },
        Change::ReplaceGroupRoles {
            name: "sales".into(),
            roles: vec!["Steward".into()],
        },
    ];
    let mut touched = Touched::default();
    for applied in after.apply_all(&changes).expect("the model takes them") {
        touched.merge(applied.touched);
    }
    let drafts = [
        EventDraft::change(
            EventType::UserDeleted,
            &admin(),
            "user:manage",
            Some(ResourceRef {
                kind: "user".into(),
                id: "dana".into(),
                space: None,
                owner: None,
            }),
            json!({}),
        ),
        EventDraft::change(
            EventType::GroupUpdated,
            &admin(),
            "group:manage",
            Some(ResourceRef {
                kind: "group".into(),
                id: "sales".into(),
                space: None,
                owner: None,
            }),
            json!({ "roles": ["Steward"] }),
        ),
    ];
    let author = admin();
    let write = ChangeSet {
        base_revision: 1,
        after: &after,
        changes: &changes,
        touched: &touched,
        events: &drafts,
        sessions: &[],
        author: &author,
        applied: &[],
    };
    assert_eq!(store.commit_changes(record.id, write).await.unwrap(), 2);
    assert_eq!(loaded(&store, record.id).await, (after.clone(), 2));
    let all = events(&store, record.id).await;
    assert_eq!(
        all.iter().map(|e| e.event_type.as_str()).collect::<Vec<_>>(),
        ["com.qlik.v1.tenant.imported", "com.qlik.v1.user.deleted", "com.qlik.v1.group.updated"]
    );

    let write = ChangeSet {
        base_revision: 1,
        after: &before,
        changes: &changes,
        touched: &touched,
        events: &drafts,
        sessions: &[],
        author: &author,
        applied: &[],
    };
    let error = store.commit_changes(record.id, write).await.unwrap_err();
    assert!(matches!(error, StoreError::Conflict(_)), "{error}");
    assert_eq!(loaded(&store, record.id).await, (after, 2), "a stale commit writes nothing");
    assert_eq!(events(&store, record.id).await.len(), 3, "and records nothing");
}

/// Group commit: several writes in one transaction each keep the revision, change-log rows and
/// events they would have had alone (in order, one chain); a write that stores nothing keeps
/// the revision before it; the rows are those of the tenant after all of them.
pub async fn commit_batch_gives_each_write_its_revision_log_and_events(h: &impl Harness) {
    let store = h.open().await;
    let mut live = tenant(DEMO);
    let record = import(&store, &live).await;
    let writes: Vec<(Vec<Change>, Author)> = vec![
        (vec![join("carl", "finance")], admin()),
        // An analyzer's login records no toggle role: a no-op, stored as nothing.
        (vec![Change::RecordLogin { user: "carl".into() }], admin()),
        (
            vec![
                assign("Steward", group("sales")),
                Change::SetSetting {
                    setting: TenantSetting::AdminsCanOpenAppsWithoutSpaceRole,
                    value: true,
                },
            ],
            Author::cli(),
        ),
        (vec![leave("ann", "sales")], Author::user("bob", "session")),
    ];
    let mut staged = Vec::new();
    for (changes, author) in &writes {
        let mut touched = Touched::default();
        for applied in live.apply_all(changes).expect("the model takes them") {
            touched.merge(applied.touched);
        }
        let events: Vec<EventDraft> = if touched.is_empty() {
            Vec::new()
        } else {
            changes.iter().map(|c| change_event(c, author)).collect()
        };
        staged.push((touched, events));
    }
    let bases = [1, 2, 2, 3];
    let sets: Vec<ChangeSet<'_>> = writes
        .iter()
        .zip(&staged)
        .zip(bases)
        .map(|(((changes, author), (touched, events)), base_revision)| ChangeSet {
            base_revision,
            after: &live,
            changes,
            touched,
            events,
            sessions: &[],
            author,
            applied: &[],
        })
        .collect();
    assert_eq!(store.commit_batch(record.id, &sets).await.unwrap(), [2, 2, 3, 4]);
    assert_eq!(loaded(&store, record.id).await, (live.clone(), 4));
    assert_eq!(
        store.changes_since(record.id, 1).await.unwrap(),
        [
            (2, join("carl", "finance")),
            (3, assign("Steward", group("sales"))),
            (
                3,
                Change::SetSetting {
                    setting: TenantSetting::AdminsCanOpenAppsWithoutSpaceRole,
                    value: true
                }
            ),
            (4, leave("ann", "sales")),
        ]
    );
    let all = events(&store, record.id).await;
    let stored: Vec<(u64, &str, Option<u64>, &str)> = all
        .iter()
        .skip(1)
        .map(|e| (e.seq, e.action.as_str(), e.data["revision"].as_u64(), e.channel.as_str()))
        .collect();
    assert_eq!(
        stored,
        [
            (2, "join-group", Some(2), "api-key"),
            (3, "assign-role", Some(3), "cli"),
            (4, "set-setting", Some(3), "cli"),
            (5, "leave-group", Some(4), "session"),
        ]
    );
    assert_eq!(store.audit_chain(record.id).await.unwrap().verify(), Ok(5));

    // A batch whose second write was not planned on the first's revision: nothing is stored.
    let before = live.clone();
    let mut touched = Vec::new();
    for change in [join("bob", "finance"), leave("carl", "sales")] {
        touched.push(live.apply(&change).expect("the model takes it").touched);
    }
    let author = admin();
    let (first, second) = ([join("bob", "finance")], [leave("carl", "sales")]);
    let (first_events, second_events) = ([change_event(&first[0], &author)], [change_event(&second[0], &author)]);
    let stale = [
        ChangeSet {
            base_revision: 4,
            after: &live,
            changes: &first,
            touched: &touched[0],
            events: &first_events,
            sessions: &[],
            author: &author,
            applied: &[],
        },
        ChangeSet {
            base_revision: 4,
            after: &live,
            changes: &second,
            touched: &touched[1],
            events: &second_events,
            sessions: &[],
            author: &author,
            applied: &[],
        },
    ];
    assert!(matches!(store.commit_batch(record.id, &stale).await, Err(StoreError::Conflict(_))));
    assert_eq!(loaded(&store, record.id).await, (before, 4), "nothing of the batch is stored");
    assert_eq!(events(&store, record.id).await.len(), 5, "and nothing recorded");
}

pub async fn tampering_is_found_by_verify(h: &impl Harness) {
    let store = h.open().await;
    let id = five_events(&store).await;
    assert_eq!(store.audit_chain(id).await.unwrap().verify(), Ok(5));
    let t = id.0;

    // A changed field.
    h.execute(&format!(
        "UPDATE audit_events SET body_json = REPLACE(body_json, '\"admin\"', '\"eve\"') WHERE tenant_id = {t} AND seq = 3"
    ))
    .await;
    assert_eq!(store.audit_chain(id).await.unwrap().verify(), Err(ChainBreak::Altered { seq: 3 }));
    h.execute(&format!(
        "UPDATE audit_events SET body_json = REPLACE(body_json, '\"eve\"', '\"admin\"') WHERE tenant_id = {t} AND seq = 3"
    ))
    .await;
    assert_eq!(store.audit_chain(id).await.unwrap().verify(), Ok(5));

    // A changed field with its hash recomputed breaks the next link.
    let (sealed, _) = store.audit_event(id, 2).await.unwrap().unwrap();
    let forged = sealed.body_json.replace("\"carl\"", "\"bob\"");
    let forged_hash = portcullis_audit::chain::hash_of(&sealed.prev_hash, &forged);
    h.execute(&format!(
        "UPDATE audit_events SET body_json = '{forged}', hash = '{forged_hash}' WHERE tenant_id = {t} AND seq = 2"
    ))
    .await;
    assert_eq!(
        store.audit_chain(id).await.unwrap().verify(),
        Err(ChainBreak::Gap { seq: 3, expected_prev: 2 })
    );
    h.execute(&format!(
        "UPDATE audit_events SET body_json = '{}', hash = '{}' WHERE tenant_id = {t} AND seq = 2",
        sealed.body_json, sealed.hash
    ))
    .await;

    // Reordered events.
    h.execute(&format!(
        "UPDATE audit_events SET seq = -1 WHERE tenant_id = {t} AND seq = 2; \
         UPDATE audit_events SET seq = 2 WHERE tenant_id = {t} AND seq = 3; \
         UPDATE audit_events SET seq = 3 WHERE tenant_id = {t} AND seq = -1"
    ))
    .await;
    assert!(store.audit_chain(id).await.unwrap().verify().is_err());
    h.execute(&format!(
        "UPDATE audit_events SET seq = -1 WHERE tenant_id = {t} AND seq = 2; \
         UPDATE audit_events SET seq = 2 WHERE tenant_id = {t} AND seq = 3; \
         UPDATE audit_events SET seq = 3 WHERE tenant_id = {t} AND seq = -1"
    ))
    .await;
    assert_eq!(store.audit_chain(id).await.unwrap().verify(), Ok(5));

    // A deleted row in the middle, at the start, and at the end.
    h.execute(&format!("DELETE FROM audit_events WHERE tenant_id = {t} AND seq = 5")).await;
    assert_eq!(
        store.audit_chain(id).await.unwrap().verify(),
        Err(ChainBreak::Truncated { last: 4, head: 5 })
    );
    h.execute(&format!("DELETE FROM audit_events WHERE tenant_id = {t} AND seq = 3")).await;
    assert!(matches!(
        store.audit_chain(id).await.unwrap().verify(),
        Err(ChainBreak::Gap { seq: 4, .. })
    ));
    h.execute(&format!("DELETE FROM audit_events WHERE tenant_id = {t} AND seq = 1")).await;
    assert!(matches!(
        store.audit_chain(id).await.unwrap().verify(),
        Err(ChainBreak::Gap { seq: 2, .. })
    ));
}

fn decision(user: &str, action: &str, space: &str, allowed: bool, time: &str) -> EventDraft {
    EventDraft {
        event_type: EventType::for_decision(action),
        author: Author::user(user, "api-key"),
        action: action.into(),
        resource: Some(ResourceRef {
            kind: "app".into(),
            id: format!("app-in-{space}"),
            space: Some(space.into()),
            owner: Some("ann".into()),
        }),
        decision: Some(if allowed { "allow" } else { "deny" }.into()),
        explanation: Some(json!({ "sentences": ["because"] })),
        data: json!({}),
        event_time: Some(time.into()),
    }
}

pub async fn queries_filter_and_page(h: &impl Harness) {
    let store = h.open().await;
    let record = import(&store, &tenant(DEMO)).await;
    let drafts = [
        decision("ann", "app:export", "finance-team", true, "2026-01-01T10:00:00.000Z"),
        decision("bob", "app:exportdata", "finance-team", false, "2026-01-02T10:00:00.000Z"),
        decision("ann", "app:read", "sales-published", true, "2026-01-03T10:00:00.000Z"),
        decision("carl", "app:export", "sales-published", false, "2026-01-04T10:00:00.000Z"),
    ];
    assert_eq!(store.append_events(record.id, &drafts).await.unwrap(), [2, 3, 4, 5]);
    let seqs = |q: AuditQuery| {
        let store = store.clone();
        async move {
            store
                .audit_events(record.id, &q)
                .await
                .unwrap()
                .into_iter()
                .map(|(s, _)| s.seq)
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(
        seqs(AuditQuery {
            event_types: vec!["com.qlik.v1.app.exported".into()],
            ..Default::default()
        })
        .await,
        [2, 5]
    );
    assert_eq!(
        seqs(AuditQuery {
            user: Some("ann".into()),
            ..Default::default()
        })
        .await,
        [2, 4]
    );
    assert_eq!(
        seqs(AuditQuery {
            space: Some("finance-team".into()),
            ..Default::default()
        })
        .await,
        [2, 3]
    );
    let week = AuditQuery {
        since: Some("2026-01-02T00:00:00Z".into()),
        until: Some("2026-01-04T00:00:00Z".into()),
        ..Default::default()
    };
    assert_eq!(seqs(week).await, [3, 4]);
    assert_eq!(
        seqs(AuditQuery {
            newest_first: true,
            limit: 2,
            ..Default::default()
        })
        .await,
        [5, 4]
    );
    assert_eq!(
        seqs(AuditQuery {
            newest_first: true,
            limit: 2,
            before_seq: Some(4),
            ..Default::default()
        })
        .await,
        [3, 2]
    );
    assert_eq!(
        seqs(AuditQuery {
            after_seq: Some(3),
            limit: 1,
            ..Default::default()
        })
        .await,
        [4]
    );
    assert_eq!(
        seqs(AuditQuery {
            seqs: Some(vec![2, 4, 99]),
            ..Default::default()
        })
        .await,
        [2, 4]
    );
    assert!(
        seqs(AuditQuery {
            seqs: Some(Vec::new()),
            ..Default::default()
        })
        .await
        .is_empty()
    );
    // By type (byte order), then sequence number; a cursor is a (rank, seq) position.
    let by_type = AuditQuery {
        order: AuditOrder::EventType,
        ..Default::default()
    };
    assert_eq!(seqs(by_type.clone()).await, [3, 2, 5, 4, 1]);
    let exported = AuditOrder::EventType.rank("com.qlik.v1.app.exported");
    assert_eq!(
        seqs(AuditQuery {
            after_seq: Some(2),
            after_rank: Some(exported),
            limit: 2,
            ..by_type.clone()
        })
        .await,
        [5, 4]
    );
    assert_eq!(
        seqs(AuditQuery {
            before_seq: Some(5),
            before_rank: Some(exported),
            newest_first: true,
            ..by_type
        })
        .await,
        [2, 3]
    );
    // By source: the import's `com.qlik/portcullis` after the decisions' `com.qlik/decisions`.
    assert_eq!(
        seqs(AuditQuery {
            order: AuditOrder::Source,
            newest_first: true,
            ..Default::default()
        })
        .await,
        [1, 5, 4, 3, 2]
    );
    let (_, denied) = store.audit_event(record.id, 3).await.unwrap().unwrap();
    assert_eq!(
        (denied.decision.as_deref(), denied.explanation.clone()),
        (Some("deny"), Some(json!({ "sentences": ["because"] })))
    );
    assert!(store.audit_event(record.id, 99).await.unwrap().is_none());
    assert_eq!(store.audit_chain(record.id).await.unwrap().verify(), Ok(5));
}

pub async fn archiving_moves_the_anchor_and_verify_continues(h: &impl Harness) {
    let store = h.open().await;
    let record = import(&store, &tenant(DEMO)).await;
    // The import is stamped now; these follow it in the chain but carry older times, so only
    // a prefix (up to the first event that is not expired) can be archived.
    let drafts = [
        decision("ann", "app:export", "finance-team", true, "2020-01-01T10:00:00.000Z"),
        decision("bob", "app:export", "finance-team", true, "2020-01-02T10:00:00.000Z"),
    ];
    store.append_events(record.id, &drafts).await.unwrap();
    assert!(
        store.expired_audit_events(record.id, "2021-01-01T00:00:00Z").await.unwrap().is_empty(),
        "the import is recent"
    );
    let expired = store.expired_audit_events(record.id, "2999-01-01T00:00:00Z").await.unwrap();
    assert_eq!(expired.iter().map(|e| e.seq).collect::<Vec<_>>(), [1, 2, 3]);
    let last = &expired[1];
    assert!(matches!(
        store.archive_audit_events(record.id, 2, "not-its-hash").await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(store.archive_audit_events(record.id, last.seq, &last.hash).await.unwrap(), 2);
    let chain = store.audit_chain(record.id).await.unwrap();
    assert_eq!((chain.archived_seq, chain.events.len()), (2, 1));
    assert_eq!(chain.verify(), Ok(1));
    assert_eq!(
        portcullis_audit::verify(&expired[..2], portcullis_audit::GENESIS, &Keyring::none()),
        Ok(2),
        "the archive verifies on its own"
    );
    store.apply(record.id, &join("carl", "finance"), &admin()).await.unwrap();
    let chain = store.audit_chain(record.id).await.unwrap();
    assert_eq!(chain.events.iter().map(|e| e.seq).collect::<Vec<_>>(), [3, 4]);
    assert_eq!(chain.verify(), Ok(2));
}

pub async fn audit_settings_round_trip(h: &impl Harness) {
    let store = h.open().await;
    let record = import(&store, &tenant(DEMO)).await;
    assert_eq!(store.audit_settings(record.id).await.unwrap(), AuditSettings::default());
    let settings = AuditSettings {
        policy: DecisionLogPolicy {
            mode: DecisionLogMode::All,
            sample_per_million: 1000,
        },
        retention_days: None,
    };
    store.set_audit_settings(record.id, &settings, &admin()).await.unwrap();
    assert_eq!(store.audit_settings(record.id).await.unwrap(), settings);
    let store = h.open().await;
    assert_eq!(store.audit_settings(record.id).await.unwrap(), settings, "durable");
}
