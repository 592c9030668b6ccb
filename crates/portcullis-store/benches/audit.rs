//! What the audit key costs: sealing one decision event with plain SHA-256 and with the key
//! (HMAC-SHA256), appending batches of 1,000 such events to a SQLite store (a temporary file)
//! without and with the key, and the check a server makes when it loads a tenant (the anchor
//! and the last 1,000 events read and verified).
//!
//! Run: `cargo bench -p portcullis-store --bench audit`.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use portcullis_store::{Actor, AuditKey, Author, EventBody, EventDraft, EventType, GENESIS, ImportMode, Keyring, ResourceRef, TenantId};

const DEMO: &str = include_str!("../../../examples/demo-tenant.yaml");

fn explanation() -> serde_json::Value {
    serde_json::json!({
        "tokens": ["space-role:consumer", "permission:export-data"],
        "sentences": ["ann may export data from app-1: she is a consumer of the space finance and the tenant allows data export."]
    })
}

fn draft(i: usize) -> EventDraft {
    EventDraft {
        event_type: EventType::AppDataExported,
        author: Author::user(format!("user{i}"), "api-key"),
        action: "app:exportdata".into(),
        resource: Some(ResourceRef {
            kind: "app".into(),
            id: format!("app-{i}"),
            space: Some("finance".into()),
            owner: Some("ann".into()),
        }),
        decision: Some("allow".into()),
        explanation: Some(explanation()),
        data: serde_json::json!({}),
        event_time: None,
    }
}

fn key() -> AuditKey {
    AuditKey::from_bytes(&[9; 32]).expect("a key")
}

fn bench_seal(c: &mut Criterion) {
    let body = EventBody {
        tenant: "demo".into(),
        seq: 1,
        event_time: "2026-11-23T10:00:00.000Z".into(),
        event_type: EventType::AppDataExported.as_str().into(),
        actor: Actor {
            user: Some("ann".into()),
            ..Actor::default()
        },
        channel: "api-key".into(),
        action: "app:exportdata".into(),
        resource: None,
        decision: Some("allow".into()),
        explanation: Some(explanation()),
        data: serde_json::json!({}),
    };
    let key = key();
    let mut group = c.benchmark_group("audit_seal_one_event");
    group.bench_function("plain", |b| b.iter(|| black_box(portcullis_audit::seal_with(None, GENESIS, &body))));
    group.bench_function("keyed", |b| b.iter(|| black_box(portcullis_audit::seal_with(Some(&key), GENESIS, &body))));
    group.finish();
}

fn bench_store(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a runtime");
    let tenant = portcullis_model::tenant_file::load_tenant_text("demo", DEMO).expect("the demo tenant");
    let drafts: Vec<EventDraft> = (0..1000).map(draft).collect();
    let mut group = c.benchmark_group("audit_store_sqlite");
    group.sample_size(10);
    for (label, keys) in [("plain", Keyring::none()), ("keyed", Keyring::new([key()]))] {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let url = format!("sqlite://{}", dir.path().join("audit.db").display());
        let store = runtime.block_on(portcullis_store::open_with_keys(&url, keys)).expect("the store opens");
        let id: TenantId = runtime
            .block_on(store.import_tenant(&tenant, ImportMode::KeepExisting, &Author::cli()))
            .expect("imported")
            .tenant
            .id;
        group.bench_function(format!("{label}_append_1000_events"), |b| {
            b.iter(|| black_box(runtime.block_on(store.append_events(id, &drafts)).expect("appended")))
        });
        group.bench_function(format!("{label}_check_the_last_1000_events"), |b| {
            b.iter(|| {
                let tail = runtime.block_on(store.audit_tail(id, 1000)).expect("the tail");
                black_box(tail.verify().expect("it verifies"))
            })
        });
        drop(store);
        drop(dir);
    }
    group.finish();
}

criterion_group!(benches, bench_seal, bench_store);
criterion_main!(benches);
