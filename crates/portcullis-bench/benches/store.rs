//! Snapshot build from the store: `load_tenant` (one consistent read of the whole tenant)
//! followed by `Snapshot::build`, on SQLite (a temporary file) and, when
//! `PORTCULLIS_BENCH_POSTGRES` names a database, on PostgreSQL. The tenant is imported once
//! before timing. Full tenant by default; `PORTCULLIS_BENCH_USERS` picks another size.
//!
//! Run: `cargo bench -p portcullis-bench --bench store`.

use std::hint::black_box;
use std::time::Instant;

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use portcullis_bench::workload::{self, Shape};
use portcullis_engine::Snapshot;
use portcullis_store::ImportMode;

fn shape() -> Shape {
    match std::env::var("PORTCULLIS_BENCH_USERS").ok().and_then(|v| v.parse().ok()) {
        Some(users) => Shape::scaled(users, 1),
        None => Shape::FULL,
    }
}

fn bench_backend(c: &mut Criterion, runtime: &tokio::runtime::Runtime, name: &str, url: &str, tenant: &portcullis_model::Tenant) {
    let store = runtime
        .block_on(portcullis_store::open(url))
        .unwrap_or_else(|e| panic!("opening the {name} store: {e}"));
    let start = Instant::now();
    let imported = runtime
        .block_on(store.import_tenant(tenant, ImportMode::Replace, &portcullis_store::Author::cli()))
        .unwrap_or_else(|e| panic!("importing into {name}: {e}"));
    println!(
        "{name}: imported {} users, {} items in {:.1} s",
        tenant.users.len(),
        tenant.content.len(),
        start.elapsed().as_secs_f64()
    );
    let id = imported.tenant.id;
    let mut group = c.benchmark_group(format!("snapshot_from_store_{}k_users", tenant.users.len() / 1000));
    group.sample_size(10);
    group.bench_function(format!("{name}_load_and_build"), |b| {
        b.iter_batched(
            || (),
            |()| {
                let (loaded, revision) = runtime.block_on(store.load_tenant(id)).expect("load");
                black_box(Snapshot::build(&loaded, revision))
            },
            BatchSize::PerIteration,
        )
    });
    group.bench_function(format!("{name}_load_only"), |b| {
        b.iter_batched(
            || (),
            |()| black_box(runtime.block_on(store.load_tenant(id)).expect("load")),
            BatchSize::PerIteration,
        )
    });
    group.finish();
    runtime
        .block_on(store.delete_tenant(id))
        .unwrap_or_else(|e| panic!("deleting from {name}: {e}"));
}

fn bench(c: &mut Criterion) {
    let tenant = workload::generate(&shape());
    let runtime = tokio::runtime::Runtime::new().expect("a tokio runtime");
    let dir = std::env::temp_dir().join(format!("portcullis-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a temporary directory");
    let url = format!("sqlite://{}", dir.join("bench.db").display());
    bench_backend(c, &runtime, "sqlite", &url, &tenant);
    let _ = std::fs::remove_dir_all(&dir);
    if let Ok(url) = std::env::var("PORTCULLIS_BENCH_POSTGRES") {
        bench_backend(c, &runtime, "postgres", &url, &tenant);
    } else {
        println!("postgres: skipped (set PORTCULLIS_BENCH_POSTGRES=postgres://user@host/db to run it)");
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
