//! `portcullis-bench scale`, content writes: at each tenant size, on an embedded SQLite store,
//! one writer drives the server's one write path (`AppState::write`) through an app's life:
//! create it in a shared or managed space, share it with a user, record that it reads a data
//! connection, delete it. Each write is timed until it is acknowledged (committed, and visible
//! on the node). Its own table, after `scale`'s.
//!
//! These are the writes whose cost used to follow the tenant's lists of `uses` and shares
//! (hundreds of thousands of rows at 100k users) rather than the rows of the one app.

use std::time::{Duration, Instant};

use crate::stats::{ms, quantile};
use anyhow::{Context, Result};
use portcullis_model::tenant::{Assignee, Content, ContentKind, Share, Use};
use portcullis_model::{Change, SpaceRole, SpaceRoleSet, SpaceType, Tenant};
use portcullis_store::Author;

use crate::workload::{self, Shape};

/// What the content-write measurements do.
#[derive(clap::Args, Debug, Clone)]
pub struct ContentArgs {
    /// Only the content-write measurements (skip `scale`'s other tables).
    #[arg(long)]
    pub content_only: bool,
    /// App lifecycles (create, share, use, delete) timed per size.
    #[arg(long, default_value_t = 300)]
    pub content_cycles: usize,
}

/// The four writes of one cycle, in order.
const KINDS: [&str; 4] = ["create app", "share it", "add a use", "delete it"];

/// One size's figures: p50 and p99 per kind of write, then over all of them.
struct Row {
    users: usize,
    items: usize,
    links: usize,
    per_kind: [(Duration, Duration); 4],
    all: (Duration, Duration),
}

/// What each cycle's writes refer to: spaces that take shares (with their owners), users to
/// share with, data connections to read.
struct Targets {
    spaces: Vec<(String, String)>,
    users: Vec<String>,
    sources: Vec<String>,
}

fn targets(tenant: &Tenant) -> Result<Targets> {
    let spaces: Vec<(String, String)> = tenant
        .spaces
        .iter()
        .filter(|s| s.space_type != SpaceType::Data)
        .take(64)
        .filter_map(|s| Some((s.id.clone(), s.owner.clone()?)))
        .collect();
    let users: Vec<String> = tenant.users.iter().skip(1).step_by(97).take(64).map(|u| u.id.clone()).collect();
    let sources: Vec<String> = tenant
        .content
        .iter()
        .filter(|c| c.kind == ContentKind::DataConnection)
        .take(64)
        .map(|c| c.id.clone())
        .collect();
    anyhow::ensure!(
        !spaces.is_empty() && !users.is_empty() && !sources.is_empty(),
        "the tenant has no space, user or data connection to use"
    );
    Ok(Targets { spaces, users, sources })
}

/// The `i`-th cycle's four changes.
fn cycle(targets: &Targets, i: usize) -> [Change; 4] {
    let id = format!("bench-app-{i}");
    let (space, owner) = &targets.spaces[i % targets.spaces.len()];
    // Any user but the space's owner (who holds every role already) takes a share.
    let user = targets
        .users
        .iter()
        .cycle()
        .skip(i)
        .find(|u| *u != owner)
        .expect("a user besides the owner")
        .clone();
    [
        Change::CreateContent {
            item: Content {
                id: id.clone(),
                name: format!("Bench app {i}"),
                kind: ContentKind::App,
                space: Some(space.clone()),
                owner: Some(owner.clone()),
            },
        },
        Change::CreateShare {
            share: Share {
                resource: id.clone(),
                assignee: Assignee::User(user),
                roles: SpaceRoleSet::of(&[SpaceRole::Consumer]),
            },
        },
        Change::AddUse {
            reference: Use {
                consumer: id.clone(),
                source: targets.sources[i % targets.sources.len()].clone(),
            },
        },
        Change::DeleteContent { id },
    ]
}

fn p50_p99(mut v: Vec<Duration>) -> (Duration, Duration) {
    v.sort();
    (quantile(&v, 0.5), quantile(&v, 0.99))
}

fn measure(users: usize, seed: u64, cycles: usize, runtime: &tokio::runtime::Runtime) -> Result<Row> {
    let tenant = workload::generate(&Shape::scaled(users, seed));
    let targets = targets(&tenant)?;
    let (items, links) = (tenant.content.len(), tenant.uses.len() + tenant.shares.len());
    let name = tenant.name.clone();
    let (dir, url) = crate::scale::scratch_sqlite("scale-content", users)?;
    let result = runtime.block_on(async {
        let (_, _, _store, state) = crate::scale::import_and_start(&url, &tenant).await?;
        drop(tenant);
        let live = state.tenant_by_name(&name).await?.context("the tenant is live")?;
        let author = Author::cli();
        let mut times: [Vec<Duration>; 4] = Default::default();
        // Untimed cycles first: the first writes after an import also checkpoint SQLite's
        // write-ahead log into the database.
        let warm_up = 20;
        for i in 0..warm_up + cycles {
            for (k, change) in cycle(&targets, i).into_iter().enumerate() {
                let start = Instant::now();
                let written = state.write(&live, std::slice::from_ref(&change), &author).await?;
                let took = start.elapsed();
                anyhow::ensure!(written.applied.iter().any(|a| !a.touched.is_empty()), "{change:?} changed nothing");
                if i >= warm_up {
                    times[k].push(took);
                }
            }
        }
        anyhow::Ok(times)
    });
    let _ = std::fs::remove_dir_all(&dir);
    let times = result?;
    let all = p50_p99(times.iter().flatten().copied().collect());
    let [a, b, c, d] = times;
    Ok(Row {
        users,
        items,
        links,
        per_kind: [p50_p99(a), p50_p99(b), p50_p99(c), p50_p99(d)],
        all,
    })
}

/// Measures every size and prints the content-write table, with the ratio of the largest size
/// to the smallest.
pub fn run(users: &[usize], seed: u64, args: &ContentArgs, runtime: &tokio::runtime::Runtime) -> Result<()> {
    let mut rows = Vec::new();
    for &n in users {
        eprintln!("measuring content writes at {n} users ...");
        rows.push(measure(n, seed, args.content_cycles, runtime)?);
    }
    let heads: Vec<String> = KINDS.iter().map(|k| format!("{k} p50 / p99")).collect();
    println!("| users | items | uses + shares | {} | all four p50 / p99 |", heads.join(" | "));
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|");
    let cells = |r: &Row| -> Vec<(Duration, Duration)> { r.per_kind.iter().copied().chain([r.all]).collect() };
    for r in &rows {
        let times: Vec<String> = cells(r).iter().map(|(p50, p99)| format!("{} / {}", ms(*p50), ms(*p99))).collect();
        println!("| {} | {} | {} | {} |", r.users, r.items, r.links, times.join(" | "));
    }
    if let (Some(small), Some(large)) = (rows.first(), rows.last())
        && rows.len() > 1
    {
        let ratio = |a: Duration, b: Duration| format!("{:.2}×", b.as_secs_f64() / a.as_secs_f64().max(1e-9));
        let ratios: Vec<String> = cells(small)
            .iter()
            .zip(cells(large))
            .map(|(a, b)| format!("{} / {}", ratio(a.0, b.0), ratio(a.1, b.1)))
            .collect();
        println!("| ratio {}k → {}k | | | {} |", small.users / 1000, large.users / 1000, ratios.join(" | "));
    }
    Ok(())
}
