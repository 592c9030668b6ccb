//! Criterion benches of the engine on a generated tenant: one decision without and with
//! explanation, a batch of 1,000, `list-resources` (every item for one user) and the
//! snapshot build. The tenant is the full one (100,000 users, 1,000,000 items)
//! unless `PORTCULLIS_BENCH_USERS` asks for another size (the rest scales with it).
//!
//! Run: `cargo bench -p portcullis-bench --bench engine` (add `-- --quick` while iterating).

use std::hint::black_box;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use portcullis_bench::requests::{self, Bias, Mix, TenantIndex, to_engine};
use portcullis_bench::workload::{self, Shape};
use portcullis_engine::{Channel, Snapshot, decide, permitted_content};
use portcullis_model::Action;

fn shape() -> Shape {
    match std::env::var("PORTCULLIS_BENCH_USERS").ok().and_then(|v| v.parse().ok()) {
        Some(users) => Shape::scaled(users, 1),
        None => Shape::FULL,
    }
}

fn bench(c: &mut Criterion) {
    let shape = shape();
    let tenant = workload::generate(&shape);
    let snapshot = Snapshot::build(&tenant, 1);
    let index = TenantIndex::build(&tenant);
    let mut work = requests::generate(&tenant, &index, Mix::Mixed, Bias::AllowHeavy, 2048, 7);
    work.extend(requests::generate(&tenant, &index, Mix::Mixed, Bias::DenyHeavy, 2048, 8));
    let plain: Vec<_> = work.iter().map(|r| to_engine(&snapshot, &tenant, r, false)).collect();
    let explained: Vec<_> = work.iter().map(|r| to_engine(&snapshot, &tenant, r, true)).collect();
    let label = format!("{}k_users", shape.users / 1000);

    let mut group = c.benchmark_group(format!("decide_{label}"));
    let mut i = 0usize;
    group.bench_function("single", |b| {
        b.iter(|| {
            i = (i + 1) % plain.len();
            black_box(decide(&snapshot, black_box(&plain[i])).allowed)
        })
    });
    group.bench_function("single_explained", |b| {
        b.iter(|| {
            i = (i + 1) % explained.len();
            black_box(decide(&snapshot, black_box(&explained[i])))
        })
    });
    group.throughput(Throughput::Elements(1000));
    let mut start = 0usize;
    group.bench_function("batch_1000", |b| {
        b.iter(|| {
            start = (start + 1000) % (plain.len() - 1000);
            plain[start..start + 1000].iter().filter(|r| decide(&snapshot, r).allowed).count()
        })
    });
    group.finish();

    let mut group = c.benchmark_group(format!("list_resources_{label}"));
    group.sample_size(10);
    group.throughput(Throughput::Elements(snapshot.content.len() as u64));
    let busiest = (0..tenant.users.len()).max_by_key(|&u| index.spaces_of(u).len()).unwrap_or(0);
    let user = snapshot.user_idx(&tenant.users[busiest].id).expect("generated user");
    group.bench_function("app_read_one_user", |b| {
        b.iter(|| permitted_content(&snapshot, user, Channel::ApiKey, None, Action::AppRead).count())
    });
    group.bench_function("data_connection_use_one_user", |b| {
        b.iter(|| permitted_content(&snapshot, user, Channel::ApiKey, None, Action::DataConnectionUse).count())
    });
    group.finish();

    let mut group = c.benchmark_group(format!("snapshot_{label}"));
    group.sample_size(10);
    group.bench_function("build_from_tenant", |b| {
        b.iter_batched(|| (), |()| black_box(Snapshot::build(&tenant, 2)), BatchSize::PerIteration)
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
