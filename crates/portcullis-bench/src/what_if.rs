//! `portcullis-bench what-if`: the cost of a what-if at two tenant sizes in one run. At each
//! size a group of `--members` users is made first (for real, untimed); then a role given to
//! that group is proposed, and the time from the proposal to the full diff (propose: apply,
//! derive, undo; diff: decide again what moved) is the median of `--runs`. Two roles: one whose
//! permissions reach content decisions (a custom role that allows data export and fine-grained
//! sharing: every member's `app:exportdata` and `app:share` on the apps they can read may move),
//! and one that grants only tenant-level rights (a space creator role).

use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use portcullis_engine::{AccessDiff, Snapshot, propose, what_if};
use portcullis_model::change::{Change, Touched};
use portcullis_model::tenant::{Group, ProviderType, RoleTarget};

use crate::stats::{ms, quantile};
use crate::workload::{self, Shape};

/// What `what-if` measures.
#[derive(clap::Args, Debug, Clone)]
pub struct WhatIfArgs {
    /// The tenant sizes, in users (the other counts scale with it: the 100,000-user tenant has 1,000,000 items).
    #[arg(long, value_delimiter = ',', default_value = "10000,100000")]
    pub users: Vec<usize>,
    /// Members of the group the role is given to.
    #[arg(long, default_value_t = 5_000)]
    pub members: usize,
    /// Timed runs per figure (the median is shown).
    #[arg(long, default_value_t = 5)]
    pub runs: usize,
    /// The seed.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
}

struct Row {
    users: usize,
    items: usize,
    role: &'static str,
    total: Duration,
    propose: Duration,
    diff: AccessDiff,
}

const ROLES: [&str; 2] = ["Custom00", "SharedSpaceCreator"];

fn measure(users: usize, args: &WhatIfArgs) -> Result<Vec<Row>> {
    let start = Instant::now();
    let mut tenant = workload::generate(&Shape::scaled(users, args.seed));
    if args.members > tenant.users.len() {
        bail!("--members {} is more than the {} users of the tenant", args.members, tenant.users.len());
    }
    let mut snapshot = Snapshot::build(&tenant, 1);
    // The group: every (users / members)-th user joins it, for real.
    let group = "what-if-group".to_owned();
    let mut changes = vec![Change::CreateGroup {
        group: Group {
            meta: Default::default(),
            name: group.clone(),
            provider_type: ProviderType::Custom,
            roles: Vec::new(),
        },
    }];
    let step = tenant.users.len() / args.members;
    changes.extend((0..args.members).map(|i| Change::JoinGroup {
        user: tenant.users[i * step].id.clone(),
        group: group.clone(),
    }));
    let mut touched = Touched::default();
    for change in &changes {
        touched.merge(tenant.apply(change).context("making the group")?.touched);
    }
    snapshot = snapshot.apply(&tenant, &touched, 2);
    let items = tenant.content.len();
    eprintln!(
        "{users} users, {items} items: generated and grouped in {:.1} s",
        start.elapsed().as_secs_f64()
    );
    let mut rows = Vec::new();
    for role in ROLES {
        let proposal = [Change::AssignRole {
            role: role.to_owned(),
            target: RoleTarget::Group(group.clone()),
        }];
        let mut totals = Vec::new();
        let mut proposes = Vec::new();
        let mut diff = AccessDiff::default();
        for _ in 0..args.runs.max(1) {
            let start = Instant::now();
            let proposed = propose(&mut tenant, &snapshot, &proposal)?;
            proposes.push(start.elapsed());
            drop(proposed);
            // The previous answer is let go of before the clock starts.
            drop(std::mem::take(&mut diff));
            let start = Instant::now();
            diff = what_if(&mut tenant, &snapshot, &proposal)?;
            totals.push(start.elapsed());
        }
        totals.sort_unstable();
        proposes.sort_unstable();
        rows.push(Row {
            users,
            items,
            role,
            total: quantile(&totals, 0.5),
            propose: quantile(&proposes, 0.5),
            diff,
        });
    }
    Ok(rows)
}

/// Runs the measurement at every size and prints the table and the ratios.
pub fn run(args: &WhatIfArgs) -> Result<()> {
    let mut rows = Vec::new();
    for &users in &args.users {
        rows.extend(measure(users, args)?);
    }
    println!(
        "what-if: a role given to a group of {} members (median of {} runs)",
        args.members, args.runs
    );
    println!(
        "| {:>7} | {:>9} | {:<18} | {:>9} | {:>9} | {:>8} | {:>8} | {:>6} | {:>9} |",
        "users", "items", "role", "total", "propose", "gained", "lost", "users*", "pairs"
    );
    for row in &rows {
        println!(
            "| {:>7} | {:>9} | {:<18} | {:>9} | {:>9} | {:>8} | {:>8} | {:>6} | {:>9} |",
            row.users,
            row.items,
            row.role,
            ms(row.total),
            ms(row.propose),
            row.diff.gained,
            row.diff.lost,
            row.diff.cost.users,
            row.diff.cost.pairs
        );
    }
    println!("(users*: users whose rights moved; pairs: user × action × resource decided on both sides)");
    if let (Some(small), Some(large)) = (args.users.first(), args.users.last())
        && small != large
    {
        for role in ROLES {
            let at = |n: usize| rows.iter().find(|r| r.users == n && r.role == role).map(|r| r.total.as_secs_f64());
            if let (Some(a), Some(b)) = (at(*small), at(*large)) {
                println!("{role}: {large} users / {small} users = {:.2}×", b / a.max(1e-9));
            }
        }
    }
    Ok(())
}
