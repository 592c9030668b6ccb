//! Decision cost on a synthetic tenant of 10,000 users: without and with explanation, per
//! channel, plus snapshot build. Run with `cargo bench -p portcullis-engine`.

#[path = "../tests/common/synthetic.rs"]
mod synthetic;

use std::hint::black_box;

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use portcullis_engine::{Channel, ContentIdx, Request, Resource, Snapshot, decide};
use portcullis_model::Action;

fn requests(snapshot: &Snapshot, n: usize, channel: Channel<'static>, explain: bool) -> Vec<Request<'static>> {
    let mut rng = synthetic::Rng::new(42);
    let actions = [Action::AppRead, Action::AppExportData, Action::AppUpdate, Action::AppReload, Action::DataConnectionUse];
    (0..n)
        .map(|_| {
            let user = snapshot.user_idx(&synthetic::user_id(rng.below(snapshot.users.len()))).unwrap();
            let resource = Resource::Content(ContentIdx(rng.below(snapshot.content.len()) as u32));
            Request { user, channel, action: actions[rng.below(actions.len())], resource, explain }
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
        let request = Request { user, channel: Channel::ApiKey, action: Action::SpaceCreateShared, resource: Resource::Tenant, explain: false };
        b.iter(|| black_box(decide(&snapshot, black_box(&request))))
    });
    group.finish();
    c.bench_function("snapshot_build_10k_users", |b| {
        b.iter_batched(|| (), |()| black_box(Snapshot::build(&tenant, 2)), BatchSize::LargeInput)
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
