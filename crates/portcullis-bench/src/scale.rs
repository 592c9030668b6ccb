//! `portcullis-bench scale`: the cost of everything around a decision at two tenant sizes in
//! one run (10k and 100k users by default), and the ratio between them — the proof that an
//! operation's cost follows the work it does, not the size of the tenant.
//!
//! Each size is generated, written as a tenant file and then timed: loading and validating the
//! file, building the engine's snapshot. The figures go to BENCHMARKS.md.

use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use portcullis_engine::Snapshot;
use portcullis_model::tenant_file::load_tenant_text;

use crate::tenant_file::write_tenant;
use crate::workload::{self, Shape};

/// What `scale` measures and at which sizes.
#[derive(clap::Args, Debug, Clone)]
pub struct ScaleArgs {
    /// Tenant sizes, in users (items are ten per user).
    #[arg(long, value_delimiter = ',', default_values_t = [10_000usize, 100_000])]
    pub users: Vec<usize>,
    /// The workload's seed.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
}

/// One size's figures.
#[derive(Debug, Clone)]
struct Row {
    users: usize,
    items: usize,
    file_bytes: usize,
    load_file: Duration,
    build_snapshot: Duration,
}

fn measure(users: usize, seed: u64) -> Result<Row> {
    let tenant = workload::generate(&Shape::scaled(users, seed));
    let mut text = Vec::new();
    write_tenant(&tenant, &mut text).context("writing the tenant file")?;
    let text = String::from_utf8(text).context("the tenant file is UTF-8")?;

    let start = Instant::now();
    let loaded = load_tenant_text("bench.yaml", &text).map_err(|e| anyhow::anyhow!("{e}"))?;
    let load_file = start.elapsed();
    anyhow::ensure!(loaded.users.len() == tenant.users.len(), "the loaded tenant lost users");

    let start = Instant::now();
    let snapshot = Snapshot::build(&loaded, 1);
    let build_snapshot = start.elapsed();
    std::hint::black_box(&snapshot);

    Ok(Row { users: tenant.users.len(), items: tenant.content.len(), file_bytes: text.len(), load_file, build_snapshot })
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1e3)
}

/// Runs every size and prints a table with the ratio of the largest to the smallest.
pub fn run(args: &ScaleArgs) -> Result<()> {
    let mut rows = Vec::new();
    for &users in &args.users {
        eprintln!("measuring {users} users ...");
        rows.push(measure(users, args.seed)?);
    }
    println!("| users | items | file | load + validate file | build snapshot |");
    println!("|---:|---:|---:|---:|---:|");
    for row in &rows {
        println!(
            "| {} | {} | {:.1} MB | {} | {} |",
            row.users,
            row.items,
            row.file_bytes as f64 / 1e6,
            ms(row.load_file),
            ms(row.build_snapshot)
        );
    }
    if let (Some(small), Some(large)) = (rows.first(), rows.last())
        && rows.len() > 1
    {
        let ratio = |a: Duration, b: Duration| b.as_secs_f64() / a.as_secs_f64().max(1e-9);
        println!(
            "| ratio {}k → {}k ({}×) | | | {:.2}× | {:.2}× |",
            small.users / 1000,
            large.users / 1000,
            large.users / small.users.max(1),
            ratio(small.load_file, large.load_file),
            ratio(small.build_snapshot, large.build_snapshot)
        );
    }
    Ok(())
}
