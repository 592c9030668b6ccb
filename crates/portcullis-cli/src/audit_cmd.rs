//! `portcullis audit`: verify a tenant's hash chain, query its events (table, JSON, CSV), and
//! archive expired events to newline-delimited JSON. Works on the database directly, so it
//! runs with or without a server; it never changes an event, and archiving writes and flushes
//! the archive file before it deletes anything.

use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context as _, bail};
use portcullis_store::{AuditQuery, EventBody, SealedEvent, Store, TenantRecord};

/// `portcullis audit ...`.
#[derive(clap::Subcommand)]
pub enum AuditCommand {
    /// Recompute each tenant's hash chain; exit status 1 and the first broken event named when
    /// an event was altered, removed or reordered.
    Verify {
        /// `sqlite://PATH` or `postgres://...`.
        #[arg(long)]
        database: String,
        /// Only this tenant (default: every tenant).
        #[arg(long)]
        tenant: Option<String>,
    },
    /// Print a tenant's events, oldest first.
    Query(QueryArgs),
    /// Move a tenant's expired events to a newline-delimited JSON file (appended to), then
    /// delete them from the database; the chain continues from the last archived event.
    Archive {
        /// `sqlite://PATH` or `postgres://...`.
        #[arg(long)]
        database: String,
        /// The tenant.
        #[arg(long)]
        tenant: String,
        /// Archive events older than this many days (default: the tenant's retention setting).
        #[arg(long)]
        older_than: Option<u32>,
        /// The archive file.
        #[arg(long)]
        out: PathBuf,
    },
}

/// Arguments of `portcullis audit query`.
#[derive(clap::Args)]
pub struct QueryArgs {
    /// `sqlite://PATH` or `postgres://...`.
    #[arg(long)]
    database: String,
    /// The tenant.
    #[arg(long)]
    tenant: String,
    /// Only this event type (`com.qlik.v1.app.exported` or `app.exported`); repeatable.
    #[arg(long = "type")]
    event_types: Vec<String>,
    /// Only events whose actor is this user.
    #[arg(long)]
    user: Option<String>,
    /// Only events about resources in this space (by id).
    #[arg(long)]
    space: Option<String>,
    /// From this time: RFC 3339, or a duration back from now (`7d`, `12h`).
    #[arg(long)]
    since: Option<String>,
    /// Before this time: RFC 3339, or a duration back from now.
    #[arg(long)]
    until: Option<String>,
    /// At most this many events (0 = all).
    #[arg(long, default_value_t = 0)]
    limit: usize,
    /// `table`, `json` (one event per line) or `csv`.
    #[arg(long, default_value = "table")]
    format: String,
}

pub fn run(command: AuditCommand) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async {
        match command {
            AuditCommand::Verify { database, tenant } => verify(&database, tenant.as_deref()).await,
            AuditCommand::Query(args) => query(args).await,
            AuditCommand::Archive {
                database,
                tenant,
                older_than,
                out,
            } => archive(&database, &tenant, older_than, &out).await,
        }
    })
}

async fn open(database: &str) -> anyhow::Result<Arc<dyn Store>> {
    portcullis_store::open(database)
        .await
        .with_context(|| format!("cannot open `{}`", portcullis_store::redact(database)))
}

async fn tenant(store: &Arc<dyn Store>, name: &str) -> anyhow::Result<TenantRecord> {
    store.tenant_by_name(name).await?.with_context(|| format!("there is no tenant `{name}`"))
}

async fn verify(database: &str, only: Option<&str>) -> anyhow::Result<ExitCode> {
    let store = open(database).await?;
    let tenants = match only {
        Some(name) => vec![tenant(&store, name).await?],
        None => store.tenants().await?,
    };
    let mut n_broken = 0;
    for record in tenants {
        let chain = store
            .audit_chain(record.id)
            .await
            .with_context(|| format!("cannot read the audit trail of `{}`", record.name))?;
        match chain.verify() {
            Ok(n) if chain.archived_seq > 0 => {
                println!(
                    "tenant `{}`: {n} events verified (events 1 to {} are archived)",
                    record.name, chain.archived_seq
                );
            }
            Ok(n) => println!("tenant `{}`: {n} events verified", record.name),
            Err(broken) => {
                n_broken += 1;
                println!("tenant `{}`: {broken}", record.name);
            }
        }
    }
    Ok(if n_broken == 0 { ExitCode::SUCCESS } else { ExitCode::from(1) })
}

/// An RFC 3339 time, or `Nd` / `Nh` / `Nm` back from now.
fn parse_time(text: &str) -> anyhow::Result<String> {
    let unit = |suffix: char, seconds: i64| -> Option<i64> { text.strip_suffix(suffix)?.parse::<i64>().ok().map(|n| n * seconds) };
    if let Some(back) = unit('d', 86_400).or_else(|| unit('h', 3600)).or_else(|| unit('m', 60)) {
        return Ok(portcullis_store::rfc3339_millis((portcullis_store::now() - back) * 1000));
    }
    if text.len() >= 20 && text.as_bytes().get(10) == Some(&b'T') && text.ends_with('Z') {
        return Ok(text.to_owned());
    }
    bail!("`{text}` is not a time: use RFC 3339 in UTC (`2026-11-23T00:00:00Z`) or a duration back from now (`7d`, `12h`)")
}

async fn query(args: QueryArgs) -> anyhow::Result<ExitCode> {
    if !matches!(args.format.as_str(), "table" | "json" | "csv") {
        bail!("unknown format `{}`: use `table`, `json` or `csv`", args.format);
    }
    let store = open(&args.database).await?;
    let record = tenant(&store, &args.tenant).await?;
    let query = AuditQuery {
        event_types: args
            .event_types
            .iter()
            .map(|t| {
                if t.starts_with("com.qlik.") {
                    t.clone()
                } else {
                    format!("com.qlik.v1.{t}")
                }
            })
            .collect(),
        user: args.user,
        space: args.space,
        since: args.since.as_deref().map(parse_time).transpose()?,
        until: args.until.as_deref().map(parse_time).transpose()?,
        limit: args.limit,
        ..AuditQuery::default()
    };
    let events = store.audit_events(record.id, &query).await?;
    let mut out = std::io::stdout().lock();
    match args.format.as_str() {
        "json" => {
            for (sealed, _) in &events {
                writeln!(out, "{}", sealed.body_json)?;
            }
        }
        "csv" => {
            writeln!(
                out,
                "seq,eventTime,eventType,user,client,channel,action,resourceType,resourceId,space,owner,decision"
            )?;
            for (_, body) in &events {
                let row: Vec<String> = columns(body).iter().map(|c| csv_field(c)).collect();
                writeln!(out, "{}", row.join(","))?;
            }
        }
        _ => {
            let header = [
                "SEQ", "TIME", "TYPE", "USER", "CLIENT", "CHANNEL", "ACTION", "RESOURCE", "ID", "SPACE", "OWNER", "DECISION",
            ];
            let rows: Vec<Vec<String>> = events.iter().map(|(_, body)| columns(body)).collect();
            let widths: Vec<usize> = (0..header.len())
                .map(|i| rows.iter().map(|r| r[i].chars().count()).chain([header[i].len()]).max().unwrap_or(0))
                .collect();
            let line = |cells: Vec<String>| cells.iter().zip(&widths).map(|(c, w)| format!("{c:<w$}")).collect::<Vec<_>>().join("  ");
            writeln!(out, "{}", line(header.iter().map(|h| (*h).to_owned()).collect()).trim_end())?;
            for row in rows {
                writeln!(out, "{}", line(row).trim_end())?;
            }
            writeln!(out, "{} events", events.len())?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn columns(body: &EventBody) -> Vec<String> {
    let resource = body.resource.as_ref();
    vec![
        body.seq.to_string(),
        body.event_time.clone(),
        body.event_type.trim_start_matches("com.qlik.v1.").to_owned(),
        body.actor.user.clone().unwrap_or_default(),
        body.actor.client.clone().unwrap_or_default(),
        body.channel.clone(),
        body.action.clone(),
        resource.map(|r| r.kind.clone()).unwrap_or_default(),
        resource.map(|r| r.id.clone()).unwrap_or_default(),
        resource.and_then(|r| r.space.clone()).unwrap_or_default(),
        resource.and_then(|r| r.owner.clone()).unwrap_or_default(),
        body.decision.clone().unwrap_or_default(),
    ]
}

fn csv_field(text: &str) -> String {
    if text.contains([',', '"', '\n']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_owned()
    }
}

/// One archived event as a line: its position, hashes, and its body verbatim (the exact text
/// the hash covers, so the archive can be verified on its own).
fn archive_line(event: &SealedEvent) -> String {
    format!(
        "{{\"seq\":{},\"prevHash\":\"{}\",\"hash\":\"{}\",\"body\":{}}}",
        event.seq, event.prev_hash, event.hash, event.body_json
    )
}

async fn archive(database: &str, name: &str, older_than: Option<u32>, out: &std::path::Path) -> anyhow::Result<ExitCode> {
    let store = open(database).await?;
    let record = tenant(&store, name).await?;
    let days = match older_than {
        Some(days) => days,
        None => store.audit_settings(record.id).await?.retention_days.with_context(|| {
            format!("tenant `{name}` keeps its events for ever; pass `--older-than DAYS` or set a retention in /api/v1/audits/settings")
        })?,
    };
    let cutoff = portcullis_store::rfc3339_millis((portcullis_store::now() - i64::from(days) * 86_400) * 1000);
    let expired = store.expired_audit_events(record.id, &cutoff).await?;
    let Some(last) = expired.last() else {
        println!("tenant `{name}`: no events before {cutoff}");
        return Ok(ExitCode::SUCCESS);
    };
    // INVARIANT: the file is written and flushed to disk before the events are deleted, so a
    // crash in between leaves them in both places (archiving again appends them again), never
    // in neither.
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(out)
        .with_context(|| format!("cannot open the archive `{}`", out.display()))?;
    let mut text = String::new();
    for event in &expired {
        text.push_str(&archive_line(event));
        text.push('\n');
    }
    file.write_all(text.as_bytes())
        .and_then(|()| file.sync_all())
        .with_context(|| format!("cannot write the archive `{}`", out.display()))?;
    let n_deleted = store.archive_audit_events(record.id, last.seq, &last.hash).await?;
    println!(
        "tenant `{name}`: archived events {} to {} ({n_deleted} removed from the database) to {}",
        expired[0].seq,
        last.seq,
        out.display()
    );
    Ok(ExitCode::SUCCESS)
}
