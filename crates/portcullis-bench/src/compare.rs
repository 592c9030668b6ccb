//! `portcullis-bench compare`: the same tenant and the same requests decided by Portcullis
//! and by Cedar in one process and one run. First every sampled request is decided by both
//! and any disagreement stops the run (a faster wrong answer proves nothing); then both are
//! timed on those requests, and the last line printed is `speedup vs cedar: <x>`, the median
//! Cedar decision time divided by ours.

use std::time::Instant;

use anyhow::{Result, bail};
use cedar_policy::Authorizer;
use portcullis_engine::{Snapshot, decide, permitted_content};
use portcullis_model::Action;

use crate::cedar;
use crate::requests::{self, Bias, Mix, TenantIndex, WorkRequest, to_engine};
use crate::stats::{self, Summary, ns};
use crate::workload::{self, Shape};

/// What `compare` runs on.
#[derive(Debug, Clone)]
pub struct CompareOptions {
    /// The tenant's shape.
    pub shape: Shape,
    /// Requests per mix and bias (5 mixes × 2 biases).
    pub per_mix: usize,
    /// Repetitions per request when timing Portcullis.
    pub reps_ours: u32,
    /// Repetitions per request when timing Cedar.
    pub reps_cedar: u32,
}

impl CompareOptions {
    /// The full run: the tenant (100,000 users, 1,000,000 items), 20,000 requests.
    pub fn full(seed: u64) -> CompareOptions {
        CompareOptions {
            shape: Shape { seed, ..Shape::FULL },
            per_mix: 2_000,
            reps_ours: 32,
            reps_cedar: 4,
        }
    }

    /// The quick run (under a minute): 10,000 users, 100,000 items, 5,000 requests.
    pub fn quick(seed: u64) -> CompareOptions {
        CompareOptions {
            shape: Shape::scaled(10_000, seed),
            per_mix: 500,
            reps_ours: 16,
            reps_cedar: 2,
        }
    }
}

fn step<T>(label: &str, f: impl FnOnce() -> T) -> T {
    let start = Instant::now();
    let value = f();
    println!("{label:<44} {:>9.2} s", start.elapsed().as_secs_f64());
    value
}

/// Runs the comparison and prints its report.
pub fn run(options: &CompareOptions) -> Result<()> {
    let shape = &options.shape;
    println!(
        "tenant: {} users, {} groups, {} custom roles, {} spaces, {} items, {} OAuth clients (seed {})",
        shape.users, shape.groups, shape.custom_roles, shape.spaces, shape.content, shape.clients, shape.seed
    );
    let tenant = step("generate tenant", || workload::generate(shape));
    println!(
        "  {} space assignments, {} uses, {} shares",
        tenant.spaces.iter().map(|s| s.members.len()).sum::<usize>(),
        tenant.uses.len(),
        tenant.shares.len()
    );
    let rss_before = stats::resident_bytes();
    let snapshot = step("portcullis: build snapshot", || Snapshot::build(&tenant, 1));
    let snapshot_rss = stats::resident_bytes().saturating_sub(rss_before);
    let rss_before = stats::resident_bytes();
    let cedar_tenant = step("cedar: build entities and policies", || cedar::encode(&tenant, &snapshot))?;
    let cedar_rss = stats::resident_bytes().saturating_sub(rss_before);
    println!(
        "  resident memory: portcullis snapshot {} MB ({:.0} B per item), cedar entities {} MB ({} entities, {} policies)",
        snapshot_rss >> 20,
        snapshot_rss as f64 / shape.content.max(1) as f64,
        cedar_rss >> 20,
        cedar_tenant.n_entities,
        cedar_tenant.policies.policies().count()
    );

    let index = TenantIndex::build(&tenant);
    let mut work: Vec<WorkRequest> = Vec::new();
    let mut labels: Vec<(String, std::ops::Range<usize>)> = Vec::new();
    for (m, mix) in [Mix::Reads, Mix::Exports, Mix::Reloads, Mix::Admin, Mix::Mixed].into_iter().enumerate() {
        for (b, bias) in [Bias::AllowHeavy, Bias::DenyHeavy].into_iter().enumerate() {
            let start = work.len();
            work.extend(requests::generate(
                &tenant,
                &index,
                mix,
                bias,
                options.per_mix,
                shape.seed + (m * 2 + b) as u64,
            ));
            labels.push((format!("{mix:?}/{bias:?}"), start..work.len()));
        }
    }
    let ours: Vec<_> = work.iter().map(|r| to_engine(&snapshot, &tenant, r, false)).collect();
    let ours_explained: Vec<_> = work.iter().map(|r| to_engine(&snapshot, &tenant, r, true)).collect();
    let theirs: Vec<_> = work.iter().map(|r| cedar::question(&tenant, &snapshot, r)).collect::<Result<_>>()?;
    let authorizer = Authorizer::new();

    // Agreement first, on every request that is timed below.
    let mut disagreements = 0usize;
    let mut allowed = vec![false; work.len()];
    for i in 0..work.len() {
        let mine = decide(&snapshot, &ours[i]).allowed;
        let cedars = cedar::decide(&authorizer, &cedar_tenant, &theirs[i]);
        allowed[i] = mine;
        if mine != cedars {
            disagreements += 1;
            if disagreements <= 10 {
                let explanation = decide(&snapshot, &ours_explained[i]).explanation.tokens();
                println!(
                    "DISAGREE {}: portcullis {} ({}), cedar {} (errors: {:?})",
                    work[i],
                    portcullis_model::verdict(mine),
                    explanation.join(" "),
                    portcullis_model::verdict(cedars),
                    cedar::errors(&authorizer, &cedar_tenant, &theirs[i])
                );
            }
        }
    }
    println!("agreement: {} of {} requests decided identically", work.len() - disagreements, work.len());
    for (label, range) in &labels {
        let n_allowed = allowed[range.clone()].iter().filter(|a| **a).count();
        println!("  {label:<24} {:>5.1}% allowed", 100.0 * n_allowed as f64 / range.len().max(1) as f64);
    }
    if disagreements > 0 {
        bail!("{disagreements} disagreements between Portcullis and the Cedar encoding; no timing on different answers");
    }

    println!(
        "timing {} requests ({} reps each for portcullis, {} for cedar) ...",
        work.len(),
        options.reps_ours,
        options.reps_cedar
    );
    let plain = Summary::of(stats::per_item(&ours, options.reps_ours, |r| decide(&snapshot, r).allowed));
    let explained = Summary::of(stats::per_item(&ours_explained, options.reps_ours.div_ceil(4), |r| {
        decide(&snapshot, r).allowed
    }));
    let cedar_times = Summary::of(stats::per_item(&theirs, options.reps_cedar, |q| {
        cedar::decide(&authorizer, &cedar_tenant, q)
    }));
    let plain_stream = stats::streaming(&ours, 4, |r| decide(&snapshot, r).allowed);
    let explained_stream = stats::streaming(&ours_explained, 1, |r| decide(&snapshot, r).allowed);
    let cedar_stream = stats::streaming(&theirs, 1, |q| cedar::decide(&authorizer, &cedar_tenant, q));

    // list-resources for one user over every item (the user with the most space roles).
    let busiest = (0..tenant.users.len()).max_by_key(|&u| index_spaces(&index, u)).unwrap_or(0);
    let user = snapshot.user_idx(&tenant.users[busiest].id).expect("generated user is in the snapshot");
    let list_start = Instant::now();
    let n_listed = permitted_content(&snapshot, user, portcullis_engine::Channel::ApiKey, None, Action::AppRead).count();
    let list_time = list_start.elapsed();

    println!();
    println!("| engine                      |      p50 |      p90 |      p99 | stream mean |");
    println!("|-----------------------------|----------|----------|----------|-------------|");
    let row = |name: &str, s: &Summary, stream: f64| {
        println!(
            "| {name:<27} | {:>8} | {:>8} | {:>8} | {:>11} |",
            ns(s.p50),
            ns(s.p90),
            ns(s.p99),
            ns(stream)
        );
    };
    row("portcullis", &plain, plain_stream);
    row("portcullis with explanation", &explained, explained_stream);
    row("cedar-policy 4", &cedar_times, cedar_stream);
    println!();
    println!(
        "list-resources (app:read, user #{busiest}, {} items): {n_listed} permitted in {:.2} ms",
        snapshot.content.len(),
        list_time.as_secs_f64() * 1e3
    );
    println!(
        "speedup with explanation vs cedar: {:.1}x (p50), streaming {:.1}x",
        cedar_times.p50 / explained.p50,
        cedar_stream / explained_stream
    );
    println!("speedup streaming vs cedar: {:.1}x", cedar_stream / plain_stream);
    println!("speedup vs cedar: {:.1}x", cedar_times.p50 / plain.p50);
    Ok(())
}

fn index_spaces(index: &TenantIndex, user: usize) -> usize {
    index.spaces_of(user).len()
}
