//! Security-rule sites in the store: created, replaced and deleted each with its revision and
//! its audit event in one transaction; a stale expected revision and the limits refuse a write
//! whole (no row, no event, no revision); a reader gets only the sites written after the
//! revision it holds; sites survive reopening and go with their tenant.

use portcullis_store::*;

use crate::contract::{DEMO, admin, import, tenant};
use crate::harness::Harness;

fn site<'a>(tenant: TenantId, name: &'a str, source: &'a str) -> NewRuleSite<'a> {
    NewRuleSite {
        tenant,
        name,
        format: RuleSiteFormat::Yaml,
        source,
        expected_revision: None,
        summary: serde_json::json!({ "users": 1, "resources": 0, "rules": ["R"] }),
    }
}

/// The events of site writes: (revision the event says, site name, deleted?).
async fn site_events(store: &std::sync::Arc<dyn Store>, id: TenantId) -> Vec<(u64, String, bool)> {
    let query = AuditQuery {
        event_types: vec![EventType::RulesUpdated.as_str().to_owned()],
        ..AuditQuery::default()
    };
    store
        .audit_events(id, &query)
        .await
        .expect("the events are read")
        .into_iter()
        .map(|(_, body)| {
            (
                body.data["revision"].as_u64().expect("the event names the site's revision"),
                body.resource.expect("the event names the site").id,
                body.data["deleted"] == true,
            )
        })
        .collect()
}

async fn sites_revision(store: &std::sync::Arc<dyn Store>, name: &str) -> u64 {
    store.tenant_by_name(name).await.unwrap().unwrap().rule_sites_revision
}

pub async fn rule_sites_are_created_replaced_and_deleted_with_revisions(h: &impl Harness) {
    let store = h.open().await;
    let id = import(&store, &tenant(DEMO)).await.id;
    assert_eq!(sites_revision(&store, "demo").await, 0);
    let created = store.put_rule_site(&site(id, "acme", "users: []\n"), &admin()).await.unwrap();
    assert_eq!(
        (created.name.as_str(), created.revision, created.format),
        ("acme", 1, RuleSiteFormat::Yaml)
    );
    assert!(created.created_by.contains("\"admin\""), "{}", created.created_by);
    let json = NewRuleSite {
        format: RuleSiteFormat::Json,
        ..site(id, "other", "{\"users\": []}")
    };
    assert_eq!(store.put_rule_site(&json, &admin()).await.unwrap().revision, 2);
    let replaced = store
        .put_rule_site(&site(id, "acme", "users: []\nrules: []\n"), &Author::cli())
        .await
        .unwrap();
    assert_eq!(replaced.revision, 3, "a site's revision grows with each write");
    assert_eq!((replaced.created_at, &replaced.created_by), (created.created_at, &created.created_by));
    assert!(replaced.updated_by.contains("cli"), "{}", replaced.updated_by);
    assert_eq!(store.rule_site(id, "acme").await.unwrap(), Some(replaced.clone()));
    assert_eq!(store.revision(id).await.unwrap(), 1, "sites are not the access model: its revision stays");
    assert_eq!(sites_revision(&store, "demo").await, 3);

    // A reader holding revision 2 reads only what was written since; one holding 0, all.
    let read = store.rule_sites_after(id, 2).await.unwrap();
    assert_eq!(read.revision, 3);
    assert_eq!(read.heads, [("acme".to_owned(), 3), ("other".to_owned(), 2)]);
    assert_eq!(read.changed, std::slice::from_ref(&replaced));
    let all = store.rule_sites_after(id, 0).await.unwrap();
    assert_eq!(all.changed.iter().map(|s| s.name.as_str()).collect::<Vec<_>>(), ["acme", "other"]);
    assert_eq!(all.changed[1].format, RuleSiteFormat::Json);
    assert!(store.rule_sites_after(id, 3).await.unwrap().changed.is_empty());

    assert_eq!(store.delete_rule_site(id, "acme", None, &admin()).await.unwrap(), 4);
    assert_eq!(store.rule_site(id, "acme").await.unwrap(), None);
    assert!(matches!(
        store.delete_rule_site(id, "acme", None, &admin()).await,
        Err(StoreError::NotFound(what)) if what.contains("acme")
    ));
    let read = store.rule_sites_after(id, 3).await.unwrap();
    assert_eq!(
        (read.revision, read.heads.len(), read.changed.len()),
        (4, 1, 0),
        "a deletion shows as a head gone"
    );
    // Created again, it never gets a revision it had: an ETag never names another version.
    assert_eq!(store.put_rule_site(&site(id, "acme", "users: []\n"), &admin()).await.unwrap().revision, 5);
    assert_eq!(
        site_events(&store, id).await,
        [
            (1, "acme".to_owned(), false),
            (2, "other".to_owned(), false),
            (3, "acme".to_owned(), false),
            (4, "acme".to_owned(), true),
            (5, "acme".to_owned(), false),
        ],
        "one event per write, naming its site and revision"
    );
    let chain = store.audit_chain(id).await.unwrap();
    assert!(chain.verify().is_ok(), "the events extend the tenant's chain");

    // Durable, and per tenant.
    let reopened = h.open().await;
    assert_eq!(reopened.rule_sites_after(id, 0).await.unwrap().heads.len(), 2);
    let mut other = tenant(DEMO);
    other.name = "second".to_owned();
    let second = import(&reopened, &other).await.id;
    assert!(reopened.rule_sites_after(second, 0).await.unwrap().heads.is_empty());
    assert_eq!(reopened.rule_site(second, "acme").await.unwrap(), None);
    reopened.delete_tenant(id).await.unwrap();
    assert!(matches!(reopened.rule_sites_after(id, 0).await, Err(StoreError::NotFound(_))));
    assert!(matches!(
        reopened.put_rule_site(&site(id, "acme", "users: []\n"), &admin()).await,
        Err(StoreError::NotFound(_))
    ));
    let again = import(&reopened, &tenant(DEMO)).await.id;
    assert!(
        reopened.rule_sites_after(again, 0).await.unwrap().heads.is_empty(),
        "a tenant created again has no sites"
    );
}

pub async fn a_stale_site_revision_writes_nothing(h: &impl Harness) {
    let store = h.open().await;
    let id = import(&store, &tenant(DEMO)).await.id;
    let first = store.put_rule_site(&site(id, "acme", "first\n"), &admin()).await.unwrap();
    let stale = NewRuleSite {
        expected_revision: Some(first.revision + 7),
        ..site(id, "acme", "second\n")
    };
    match store.put_rule_site(&stale, &admin()).await {
        Err(StoreError::PreconditionFailed(message)) => assert!(message.contains("at revision 1, not 8"), "{message}"),
        other => panic!("a stale revision is refused: {other:?}"),
    }
    let missing = NewRuleSite {
        expected_revision: Some(1),
        ..site(id, "nowhere", "x\n")
    };
    assert!(matches!(
        store.put_rule_site(&missing, &admin()).await,
        Err(StoreError::PreconditionFailed(_))
    ));
    assert!(matches!(
        store.delete_rule_site(id, "acme", Some(9), &admin()).await,
        Err(StoreError::PreconditionFailed(_))
    ));
    assert_eq!(store.rule_site(id, "acme").await.unwrap(), Some(first.clone()), "nothing replaced");
    assert_eq!(store.rule_site(id, "nowhere").await.unwrap(), None);
    assert_eq!(sites_revision(&store, "demo").await, 1, "refused writes move no revision");
    assert_eq!(site_events(&store, id).await.len(), 1, "and leave no event");

    // At the expected revision, the write goes through.
    let current = NewRuleSite {
        expected_revision: Some(first.revision),
        ..site(id, "acme", "second\n")
    };
    let second = store.put_rule_site(&current, &admin()).await.unwrap();
    assert_eq!((second.revision, second.source.as_str()), (2, "second\n"));
    assert_eq!(store.delete_rule_site(id, "acme", Some(2), &admin()).await.unwrap(), 3);
    assert_eq!(site_events(&store, id).await.len(), 3);
}

pub async fn site_limits_refuse_a_write_whole(h: &impl Harness) {
    let store = h.open().await;
    let id = import(&store, &tenant(DEMO)).await.id;
    let names: Vec<String> = (0..MAX_RULE_SITES).map(|n| format!("site-{n:03}")).collect();
    for name in &names {
        store.put_rule_site(&site(id, name, "users: []\n"), &admin()).await.unwrap();
    }
    match store.put_rule_site(&site(id, "one-too-many", "users: []\n"), &admin()).await {
        Err(StoreError::LimitReached(message)) => {
            assert!(message.contains(&format!("at most {MAX_RULE_SITES} rule sites")), "{message}");
            assert!(message.contains("one-too-many"), "{message}");
        }
        other => panic!("the site count is limited: {other:?}"),
    }
    // At the limit, a site is still replaced.
    store.put_rule_site(&site(id, &names[0], "rules: []\n"), &admin()).await.unwrap();
    let big = "#".repeat(MAX_RULE_SITE_BYTES + 1);
    match store.put_rule_site(&site(id, &names[1], &big), &admin()).await {
        Err(StoreError::LimitReached(message)) => assert!(message.contains(&MAX_RULE_SITE_BYTES.to_string()), "{message}"),
        other => panic!("the source size is limited: {other:?}"),
    }
    let long = "n".repeat(MAX_RULE_SITE_NAME_BYTES + 1);
    store.delete_rule_site(id, &names[2], None, &admin()).await.unwrap();
    assert!(matches!(
        store.put_rule_site(&site(id, &long, "x\n"), &admin()).await,
        Err(StoreError::LimitReached(message)) if message.contains("name")
    ));
    let read = store.rule_sites_after(id, 0).await.unwrap();
    assert_eq!(read.heads.len() as u64, MAX_RULE_SITES - 1);
    assert_eq!(read.revision, MAX_RULE_SITES + 2, "the refused writes moved nothing");
    assert_eq!(site_events(&store, id).await.len() as u64, MAX_RULE_SITES + 2);
}
