//! `portcullis-bench asof`: the cost of access history on a large tenant. `--changes` writes
//! are made first (for real, untimed: users joining a new group and a custom role given to
//! some of them), each change's undo kept as the change log keeps it (JSON). Then, for each
//! distance back `--back`, the median of `--runs`: copying the live model, reading the undos
//! back and rewinding (what `asOf` does before it builds), building the snapshot of that
//! moment, and an access diff from that moment to now (re-applying the changes, deriving the
//! later snapshot, the what-if diff). The store's read of the change-log rows is not in it.

use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use portcullis_engine::Snapshot;
use portcullis_model::Undo;
use portcullis_model::change::{Change, Touched};
use portcullis_model::tenant::{Group, ProviderType, RoleTarget};

use crate::stats::{ms, quantile};
use crate::workload::{self, Shape};

/// What `asof` measures.
#[derive(clap::Args, Debug, Clone)]
pub struct AsOfArgs {
    /// The tenant size, in users (the 100,000-user tenant has 1,000,000 items).
    #[arg(long, default_value_t = 100_000)]
    pub users: usize,
    /// Changes made before measuring.
    #[arg(long, default_value_t = 1_000)]
    pub changes: usize,
    /// How many changes back each figure rewinds.
    #[arg(long, value_delimiter = ',', default_value = "1,100,1000")]
    pub back: Vec<usize>,
    /// Timed runs per figure (the median is shown).
    #[arg(long, default_value_t = 3)]
    pub runs: usize,
    /// The seed.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
}

fn median(mut times: Vec<Duration>) -> Duration {
    times.sort_unstable();
    quantile(&times, 0.5)
}

/// Runs the measurement and prints the table.
pub fn run(args: &AsOfArgs) -> Result<()> {
    let start = Instant::now();
    let mut tenant = workload::generate(&Shape::scaled(args.users, args.seed));
    if args.changes == 0 || args.changes > tenant.users.len() {
        bail!("--changes {} must be between 1 and the {} users", args.changes, tenant.users.len());
    }
    let _ = tenant.refs();
    let group = "history-group".to_owned();
    let role = tenant
        .custom_roles
        .iter()
        .next()
        .map(|r| r.name.clone())
        .context("the tenant has no custom role")?;
    let mut log: Vec<(Change, String)> = Vec::with_capacity(args.changes + 1);
    let step = tenant.users.len() / args.changes;
    let mut changes = vec![Change::CreateGroup {
        group: Group {
            meta: Default::default(),
            name: group.clone(),
            provider_type: ProviderType::Custom,
            roles: Vec::new(),
        },
    }];
    for i in 1..args.changes {
        let user = tenant.users[i * step].id.clone();
        changes.push(if i % 4 == 0 && !tenant.users[i * step].roles.iter().any(|r| r.role == role) {
            Change::AssignRole {
                role: role.clone(),
                target: RoleTarget::User(user),
            }
        } else {
            Change::JoinGroup { user, group: group.clone() }
        });
    }
    for change in changes {
        let applied = tenant.apply(&change).with_context(|| format!("making {change:?}"))?;
        log.push((change, serde_json::to_string(&applied.undo)?));
    }
    let live_revision = log.len() as u64 + 1;
    let live = Snapshot::build(&tenant, live_revision);
    eprintln!(
        "{} users, {} items, {} changes: made in {:.1} s",
        tenant.users.len(),
        tenant.content.len(),
        log.len(),
        start.elapsed().as_secs_f64()
    );
    drop(live);
    println!(
        "asOf and access-diff on {} users, {} items (median of {} runs)",
        tenant.users.len(),
        tenant.content.len(),
        args.runs
    );
    println!(
        "| {:>6} | {:>9} | {:>9} | {:>9} | {:>9} | {:>9} | {:>9} | {:>11} | {:>7} |",
        "back", "copy", "rewind", "build", "asOf", "replay", "diff", "access-diff", "rows"
    );
    for &back in &args.back {
        let back = back.min(log.len());
        let revision = live_revision - back as u64;
        let (mut copies, mut rewinds, mut builds, mut replays, mut diffs) = (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
        let mut rows = 0;
        for _ in 0..args.runs.max(1) {
            let clock = Instant::now();
            let mut then = tenant.clone();
            copies.push(clock.elapsed());
            let clock = Instant::now();
            for (_, undo) in log.iter().rev().take(back) {
                let undo: Undo = serde_json::from_str(undo)?;
                then.undo(undo);
            }
            rewinds.push(clock.elapsed());
            let clock = Instant::now();
            let before = Snapshot::build(&then, revision);
            builds.push(clock.elapsed());
            let clock = Instant::now();
            let mut after = then.clone();
            let mut touched = Touched::default();
            for (change, _) in &log[log.len() - back..] {
                touched.merge(after.apply(change).context("re-applying")?.touched);
            }
            let derived = before.apply(&after, &touched, live_revision);
            replays.push(clock.elapsed());
            let clock = Instant::now();
            let diff = portcullis_engine::diff(&then, &before, &derived);
            diffs.push(clock.elapsed());
            rows = diff.changes.len();
        }
        let (copy, rewind, build) = (median(copies), median(rewinds), median(builds));
        let (replay, diff) = (median(replays), median(diffs));
        println!(
            "| {:>6} | {:>9} | {:>9} | {:>9} | {:>9} | {:>9} | {:>9} | {:>11} | {:>7} |",
            back,
            ms(copy),
            ms(rewind),
            ms(build),
            ms(copy + rewind + build),
            ms(replay),
            ms(diff),
            ms(copy + rewind + build + replay + diff),
            rows
        );
    }
    println!(
        "(asOf = copy + rewind + build, once per moment: a node keeps the last two built; access-diff adds replay: re-applying the changes and deriving the later snapshot, and the what-if diff)"
    );
    Ok(())
}
