//! Memory per entity: the bytes the model's refs and a snapshot hold (counted by a counting allocator, so the
//! figure is exact and independent of the machine), per content item and per user, for
//! generated tenants of several sizes. Not a timing: it prints a table.
//!
//! Run: `cargo bench -p portcullis-bench --bench memory` (`PORTCULLIS_BENCH_USERS` picks one size).

use portcullis_bench::workload::{self, Shape};
use portcullis_engine::Snapshot;

fn main() {
    let sizes: Vec<usize> = match std::env::var("PORTCULLIS_BENCH_USERS").ok().and_then(|v| v.parse().ok()) {
        Some(users) => vec![users],
        None => vec![10_000, 100_000],
    };
    println!("| users | items | tenant model (MB) | model's refs (MB) | snapshot (MB) | snapshot bytes per item | per (user + item + space) |");
    println!("|------:|------:|------------------:|------------------:|--------------:|------------------------:|--------------------------:|");
    for users in sizes {
        let shape = if users == 100_000 { Shape::FULL } else { Shape::scaled(users, 1) };
        let mut tenant = None;
        let model = allocation_counter::measure(|| tenant = Some(workload::generate(&shape)));
        let tenant = tenant.expect("generated");
        // The counts and indexes the model's whole-tenant rules read, built on the first question.
        let refs = allocation_counter::measure(|| {
            let _ = tenant.refs();
        });
        let mut snapshot = None;
        let built = allocation_counter::measure(|| snapshot = Some(Snapshot::build(&tenant, 1)));
        let snapshot = snapshot.expect("built");
        let bytes = built.bytes_current as f64;
        let n_entities = snapshot.users.len() + snapshot.content.len() + snapshot.spaces.len() + snapshot.groups.len();
        println!(
            "| {} | {} | {:.0} | {:.1} | {:.0} | {:.0} | {:.0} |",
            snapshot.users.len(),
            snapshot.content.len(),
            model.bytes_current as f64 / 1048576.0,
            refs.bytes_current as f64 / 1048576.0,
            bytes / 1048576.0,
            bytes / snapshot.content.len().max(1) as f64,
            bytes / n_entities.max(1) as f64
        );
    }
}
