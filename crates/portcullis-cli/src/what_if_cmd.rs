//! `portcullis what-if`: what a proposed set of changes would do to effective permissions, on
//! a tenant file or a stored tenant, without making them; prints the counts, the changes by
//! action and by path with samples, and (on request) the whole list.

use crate::out::out;
use std::io::{Read as _, Write as _};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context as _, bail};
use portcullis_engine::{AccessChange, AccessDiff, AccessGroup, Snapshot, what_if};
use portcullis_model::Change;
use portcullis_model::tenant_file::load_tenant_text;

/// Arguments of `portcullis what-if`.
#[derive(clap::Args)]
pub struct WhatIfArgs {
    /// The tenant file (or a scenario file: its `tenant:` is used).
    #[arg(long, conflicts_with_all = ["database", "tenant_name"], required_unless_present = "database")]
    tenant: Option<PathBuf>,
    /// Or a store: `sqlite://PATH` or `postgres://...` (read only; nothing is written).
    #[arg(long, requires = "tenant_name")]
    database: Option<String>,
    /// The stored tenant's name, with `--database`.
    #[arg(long)]
    tenant_name: Option<String>,
    /// The proposal: a JSON array of changes as the change log writes them (or an object with
    /// `changes`, as `POST /v1/what-if` takes it); `-` reads standard input.
    #[arg(long)]
    changes: PathBuf,
    /// Samples shown per group.
    #[arg(long, default_value_t = 3)]
    samples: usize,
    /// Also print every change, one a line.
    #[arg(long, conflicts_with = "ndjson")]
    list: bool,
    /// Print every change as newline-delimited JSON instead of the summary.
    #[arg(long)]
    ndjson: bool,
}

fn read_changes(path: &PathBuf) -> anyhow::Result<Vec<Change>> {
    let label = path.display().to_string();
    let text = if label == "-" {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .context("cannot read the changes from standard input")?;
        text
    } else {
        std::fs::read_to_string(path).with_context(|| format!("cannot read the changes file `{label}`"))?
    };
    let value: serde_json::Value = serde_json::from_str(&text).with_context(|| format!("`{label}` is not JSON"))?;
    let list = match value {
        serde_json::Value::Array(list) => list,
        serde_json::Value::Object(mut object) => match object.remove("changes") {
            Some(serde_json::Value::Array(list)) => list,
            _ => bail!("`{label}`: expected an array of changes, or an object with `changes`"),
        },
        _ => bail!("`{label}`: expected an array of changes, or an object with `changes`"),
    };
    list.into_iter()
        .enumerate()
        .map(|(i, value)| {
            serde_json::from_value(value).with_context(|| format!("`{label}`: change {i} cannot be read (docs/what-if.md shows the format)"))
        })
        .collect()
}

fn line(change: &AccessChange) -> String {
    let sign = if change.gained { "+" } else { "-" };
    let on = change.resource.as_deref().map(|r| format!(" on `{r}`")).unwrap_or_default();
    format!("{sign} `{}` {}{on} ({})", change.user, change.action, change.path)
}

fn print_groups(title: &str, diff: &AccessDiff, groups: &[AccessGroup], samples: usize) -> anyhow::Result<()> {
    out!("\n{title}:");
    for group in groups {
        out!("  {:<40} +{:<8} -{}", group.key, group.gained, group.lost);
        for &i in group.samples.iter().take(samples) {
            if let Some(change) = diff.changes.get(i) {
                out!("      {}", line(change));
            }
        }
    }
    Ok(())
}

/// Prints the difference; exit status 0.
pub fn run(args: WhatIfArgs) -> anyhow::Result<ExitCode> {
    let changes = read_changes(&args.changes)?;
    let (mut tenant, revision) = match (&args.tenant, &args.database, &args.tenant_name) {
        (Some(path), _, _) => {
            let label = path.display().to_string();
            let text = std::fs::read_to_string(path).with_context(|| format!("cannot read the tenant file `{label}`"))?;
            (load_tenant_text(&label, &text)?, 0)
        }
        (None, Some(database), Some(name)) => {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .context("cannot start the async runtime")?;
            runtime.block_on(async {
                let store = portcullis_store::open(database)
                    .await
                    .with_context(|| format!("cannot open `{}`", portcullis_store::redact(database)))?;
                let record = store
                    .tenant_by_name(name)
                    .await?
                    .with_context(|| format!("there is no tenant `{name}`"))?;
                anyhow::Ok(store.load_tenant(record.id).await?)
            })?
        }
        _ => bail!("give `--tenant FILE`, or `--database URL --tenant-name NAME`"),
    };
    let snapshot = Snapshot::build(&tenant, revision);
    let diff = what_if(&mut tenant, &snapshot, &changes)?;
    if args.ndjson {
        let mut out = std::io::stdout().lock();
        for change in &diff.changes {
            let value = serde_json::json!({
                "user": &*change.user,
                "action": change.action.as_str(),
                "resource": change.resource.as_deref(),
                "change": if change.gained { "gained" } else { "lost" },
                "path": &*change.path,
            });
            // A reader that stops early (`| head`) ends the listing, not the program.
            if writeln!(out, "{value}").is_err() {
                break;
            }
        }
        return Ok(ExitCode::SUCCESS);
    }
    out!(
        "{} change(s) would give {} and take away {} (user, action, resource); nothing was applied",
        changes.len(),
        diff.gained,
        diff.lost
    );
    out!(
        "decided again: {} user(s), {} space(s), {} item(s) moved; {} pair(s) decided",
        diff.cost.users,
        diff.cost.spaces,
        diff.cost.items,
        diff.cost.pairs
    );
    if diff.changes.is_empty() {
        return Ok(ExitCode::SUCCESS);
    }
    print_groups("By action", &diff, &diff.by_action, args.samples)?;
    print_groups("By path", &diff, &diff.by_path, args.samples)?;
    if args.list {
        out!("\nEvery change:");
        for change in &diff.changes {
            out!("  {}", line(change));
        }
    }
    Ok(ExitCode::SUCCESS)
}
