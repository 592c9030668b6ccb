//! Decision cost on a synthetic tenant of 10,000 users: without and with explanation, per
//! channel, list-resources, plus snapshot build; decisions and a listing at 100,000 users and
//! 1,000,000 items. Run with `cargo bench -p portcullis-engine`.

#[path = "../tests/common/synthetic.rs"]
mod synthetic;

use std::hint::black_box;

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use portcullis_engine::{Channel, ClientIdx, ContentIdx, Request, Resource, Snapshot, decide, permitted_content};
use portcullis_model::Action;

fn requests(snapshot: &Snapshot, n: usize, channel: Channel<ClientIdx>, explain: bool) -> Vec<Request<'static>> {
    let mut rng = synthetic::Rng::new(42);
    let actions = [
        Action::AppRead,
        Action::AppExportData,
        Action::AppUpdate,
        Action::AppReload,
        Action::DataConnectionUse,
    ];
    (0..n)
        .map(|_| {
            let user = snapshot.user_idx(&synthetic::user_id(rng.below(snapshot.users.len()))).unwrap();
            let resource = Resource::Content(ContentIdx(rng.below(snapshot.content.len()) as u32));
            Request {
                user,
                channel,
                session: None,
                action: actions[rng.below(actions.len())],
                resource,
                explain,
            }
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let tenant = synthetic::tenant(10_000, 1);
    let snapshot = Snapshot::build(&tenant, 1);
    let portal = snapshot.client_idx("portal").unwrap();
    let mut group = c.benchmark_group("decide_10k_users");
    for (name, channel, explain) in [
        ("api_key", Channel::ApiKey, false),
        ("oauth_user_default", Channel::OAuth(portal), false),
        ("api_key_explained", Channel::ApiKey, true),
    ] {
        let batch = requests(&snapshot, 4096, channel, explain);
        let mut i = 0usize;
        group.bench_function(name, |b| {
            b.iter(|| {
                i = (i + 1) % batch.len();
                black_box(decide(&snapshot, &batch[i]))
            })
        });
    }
    group.bench_function("tenant_action_api_key", |b| {
        let user = snapshot.user_idx("u1").unwrap();
        let request = Request {
            user,
            channel: Channel::ApiKey,
            session: None,
            action: Action::SpaceCreateShared,
            resource: Resource::Tenant,
            explain: false,
        };
        b.iter(|| black_box(decide(&snapshot, black_box(&request))))
    });
    group.bench_function("list_resources_app_read", |b| {
        let user = snapshot.user_idx("u1").unwrap();
        b.iter(|| black_box(permitted_content(&snapshot, user, Channel::ApiKey, None, Action::AppRead).count()))
    });
    group.finish();

    // The scale: 100,000 users and 1,000,000 items.
    let large = synthetic::tenant_sized(100_000, 1_000_000, 1);
    let large_snapshot = Snapshot::build(&large, 1);
    let mut group = c.benchmark_group("decide_100k_users_1m_items");
    let batch = requests(&large_snapshot, 4096, Channel::ApiKey, false);
    let mut i = 0usize;
    group.bench_function("api_key", |b| {
        b.iter(|| {
            i = (i + 1) % batch.len();
            black_box(decide(&large_snapshot, &batch[i]))
        })
    });
    group.sample_size(20);
    group.bench_function("list_resources_app_read", |b| {
        let user = large_snapshot.user_idx("u1").unwrap();
        b.iter(|| black_box(permitted_content(&large_snapshot, user, Channel::ApiKey, None, Action::AppRead).count()))
    });
    group.sample_size(10);
    group.bench_function("snapshot_build", |b| {
        b.iter_batched(|| (), |()| black_box(Snapshot::build(&large, 2)), BatchSize::LargeInput)
    });
    group.finish();
    drop(large);
    c.bench_function("snapshot_build_10k_users", |b| {
        b.iter_batched(|| (), |()| black_box(Snapshot::build(&tenant, 2)), BatchSize::LargeInput)
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
