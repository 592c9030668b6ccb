//! `portcullis audit`: verify a tenant's hash chain (against signed checkpoints too), write
//! checkpoints, query its events (table, JSON, CSV), and archive expired events to
//! newline-delimited JSON. Works on the database directly, so it runs with or without a
//! server; it never changes an event, and archiving writes and flushes the archive file
//! before it deletes anything. The audit key comes from `audit_keys.rs`.

use crate::out::out;
use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context as _, bail};
use portcullis_store::checkpoint::{TenantCheckpoints, by_tenant, check_checkpoints, parse_checkpoints};
use portcullis_store::{AuditChain, AuditQuery, ChainBreak, Checkpoint, CheckpointBreak, EventBody, SealedEvent, Store, TenantRecord};

use crate::audit_keys::KeyArgs;

/// The chains `verify` and `checkpoint` look at, and what they check them against.
#[derive(clap::Args)]
pub struct ChainArgs {
    /// `sqlite://PATH` or `postgres://...`.
    #[arg(long)]
    database: String,
    /// Only this tenant (default: every tenant).
    #[arg(long)]
    tenant: Option<String>,
    /// A checkpoint file (JSON lines written by `audit checkpoint` or `serve
    /// --audit-checkpoints`) the chains must agree with; repeatable (one file per node). A chain
    /// that disagrees fails `verify` and gets no new checkpoint.
    #[arg(long, value_name = "FILE")]
    checkpoints: Vec<PathBuf>,
    #[command(flatten)]
    keys: KeyArgs,
}

/// `portcullis audit ...`.
#[derive(clap::Subcommand)]
pub enum AuditCommand {
    /// Recompute each tenant's hash chain (keyed hashes with the audit key) and check its
    /// indexed columns; with `--checkpoints`, also that it agrees with every signed checkpoint.
    /// Exit status 1 and the first break named when an event was altered, removed, reordered or
    /// re-indexed, or the chain was rewritten, truncated or deleted; 2 when it cannot be checked
    /// (a key that was not given).
    Verify(ChainArgs),
    /// Verify each tenant's chain, then print a checkpoint of its head signed with the audit
    /// key (one JSON line per tenant, for an append-only file or a SIEM: `>> FILE`). A chain
    /// that does not verify gets none (exit status 1).
    Checkpoint(ChainArgs),
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
        #[command(flatten)]
        keys: KeyArgs,
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
    #[command(flatten)]
    keys: KeyArgs,
}

pub fn run(command: AuditCommand) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async {
        match command {
            AuditCommand::Verify(chains) => verify(&chains.database, chains.tenant.as_deref(), &chains.checkpoints, &chains.keys).await,
            AuditCommand::Checkpoint(chains) => checkpoint(&chains.database, chains.tenant.as_deref(), &chains.checkpoints, &chains.keys).await,
            AuditCommand::Query(args) => query(args).await,
            AuditCommand::Archive {
                database,
                tenant,
                older_than,
                out,
                keys,
            } => archive(&database, &tenant, older_than, &out, &keys).await,
        }
    })
}

async fn open(database: &str, keys: &KeyArgs) -> anyhow::Result<Arc<dyn Store>> {
    let keyring = keys.keyring()?;
    portcullis_store::open_with_keys(database, keyring)
        .await
        .with_context(|| format!("cannot open `{}`", portcullis_store::redact(database)))
}

async fn tenant(store: &Arc<dyn Store>, name: &str) -> anyhow::Result<TenantRecord> {
    store.tenant_by_name(name).await?.with_context(|| format!("there is no tenant `{name}`"))
}

/// The tenants named (one, or every stored one).
async fn tenants(store: &Arc<dyn Store>, only: Option<&str>) -> anyhow::Result<Vec<TenantRecord>> {
    Ok(match only {
        Some(name) => vec![tenant(store, name).await?],
        None => store.tenants().await?,
    })
}

/// Reads checkpoint files whole, one after the other (`None`: no file given).
fn read_checkpoints(paths: &[PathBuf]) -> anyhow::Result<Option<Vec<Checkpoint>>> {
    if paths.is_empty() {
        return Ok(None);
    }
    let mut all = Vec::new();
    for path in paths {
        let text = std::fs::read_to_string(path).with_context(|| format!("cannot read the checkpoint file `{}`", path.display()))?;
        all.extend(parse_checkpoints(&text).with_context(|| format!("the checkpoint file `{}`", path.display()))?);
    }
    Ok(Some(all))
}

/// How one tenant's check ended.
enum Verdict {
    /// It checks out; the sentence says how far.
    Verified(String),
    /// Evidence of tampering.
    Broken(String),
    /// It cannot be checked with the keys given.
    Unverifiable(String),
}

fn chain_verdict(error: &ChainBreak) -> Verdict {
    match error {
        ChainBreak::UnknownKey { .. } => Verdict::Unverifiable(error.to_string()),
        _ => Verdict::Broken(error.to_string()),
    }
}

fn checkpoint_verdict(error: &CheckpointBreak) -> Verdict {
    match error {
        CheckpointBreak::UnknownKey { .. } => Verdict::Unverifiable(error.to_string()),
        _ => Verdict::Broken(error.to_string()),
    }
}

/// Reads one stored tenant's chain and verifies it (and, when given, its checkpoints), with a
/// spinner while it is read and a bar while its events are checked.
async fn read_and_verify(
    store: &Arc<dyn Store>,
    record: &TenantRecord,
    groups: Option<&[TenantCheckpoints<'_>]>,
) -> anyhow::Result<(AuditChain, Verdict)> {
    let reading = crate::progress::spinner(format!("reading the audit trail of `{}`", record.name));
    let chain = store
        .audit_chain(record.id)
        .await
        .with_context(|| format!("cannot read the audit trail of `{}`", record.name))?;
    reading.finish_and_clear();
    let bar = crate::progress::bar(format!("verifying `{}` (events)", record.name));
    let verdict = verify_tenant(record, &chain, groups, &mut crate::progress::reporter(&bar));
    bar.finish_and_clear();
    Ok((chain, verdict))
}

/// Verifies one stored tenant's chain and, when given, its checkpoints.
fn verify_tenant(record: &TenantRecord, chain: &AuditChain, groups: Option<&[TenantCheckpoints<'_>]>, progress: &mut dyn FnMut(u64, u64)) -> Verdict {
    let n_verified = match chain.verify_with_progress(progress) {
        Ok(n) => n,
        Err(error) => return chain_verdict(&error),
    };
    let mut said = format!("{n_verified} events verified");
    let n_unkeyed = chain.n_unkeyed();
    if let Some(key_id) = chain.events.iter().rev().find_map(|e| e.key_id.as_deref()) {
        said.push_str(&format!(
            " ({} keyed, the latest with the audit key `{key_id}`",
            chain.events.len() - n_unkeyed
        ));
        if n_unkeyed > 0 {
            said.push_str(&format!("; {n_unkeyed} sealed before the key, without it"));
        }
        said.push(')');
    } else if n_verified > 0 {
        said.push_str(" (not keyed: sealed without an audit key)");
    }
    if chain.archived_seq > 0 {
        said.push_str(&format!("; events 1 to {} are archived", chain.archived_seq));
    }
    let Some(groups) = groups else { return Verdict::Verified(said) };
    let mut n_checkpoints = 0;
    for group in groups.iter().filter(|g| g.tenant == record.name) {
        if group.tenant_id != record.id.0 {
            // A tenant of the same name before this one: gone on purpose, or not.
            match group.tombstone() {
                Some(_) => continue,
                None => {
                    return Verdict::Broken(
                        CheckpointBreak::Recreated {
                            tenant: record.name.clone(),
                            checkpointed_id: group.tenant_id,
                            tenant_id: record.id.0,
                        }
                        .to_string(),
                    );
                }
            }
        }
        match check_checkpoints(chain, record.id.0, &group.checkpoints) {
            Ok(n) => n_checkpoints += n,
            Err(error) => return checkpoint_verdict(&error),
        }
    }
    match groups
        .iter()
        .filter(|g| g.tenant == record.name && g.tenant_id == record.id.0)
        .find_map(|g| g.latest())
    {
        Some(latest) => said.push_str(&format!(
            "; {n_checkpoints} checkpoints agree (the latest at {}, event {})",
            latest.time, latest.seq
        )),
        None => said.push_str("; no checkpoint"),
    }
    Verdict::Verified(said)
}

async fn verify(database: &str, only: Option<&str>, checkpoints: &[PathBuf], keys: &KeyArgs) -> anyhow::Result<ExitCode> {
    let store = open(database, keys).await?;
    let records = tenants(&store, only).await?;
    let checkpoints = read_checkpoints(checkpoints)?;
    let groups = checkpoints.as_deref().map(by_tenant);
    let (mut n_broken, mut n_unverifiable) = (0, 0);
    let mut tell = |name: &str, verdict: Verdict| -> anyhow::Result<()> {
        match verdict {
            Verdict::Verified(said) => out!("tenant `{name}`: {said}"),
            Verdict::Broken(said) => {
                n_broken += 1;
                out!("tenant `{name}`: {said}");
            }
            Verdict::Unverifiable(said) => {
                n_unverifiable += 1;
                out!("tenant `{name}`: {said}");
            }
        }
        Ok(())
    };
    for record in &records {
        let (_, verdict) = read_and_verify(&store, record, groups.as_deref()).await?;
        tell(&record.name, verdict)?;
    }
    // Checkpointed tenants no longer in the database.
    for group in groups.iter().flatten() {
        if only.is_some_and(|name| name != group.tenant) || records.iter().any(|r| r.name == group.tenant) {
            continue;
        }
        let Some(latest) = group.latest() else { continue };
        let verdict = match group.checkpoints.iter().try_for_each(|c| c.check_signature(store.audit_keys())) {
            Err(error) => checkpoint_verdict(&error),
            Ok(()) => match group.tombstone() {
                Some(tombstone) => Verdict::Verified(format!("deleted on purpose at {} (store id {})", tombstone.time, group.tenant_id)),
                None => Verdict::Broken(
                    CheckpointBreak::TenantGone {
                        tenant: group.tenant.to_owned(),
                        seq: latest.seq,
                        time: latest.time.clone(),
                    }
                    .to_string(),
                ),
            },
        };
        tell(group.tenant, verdict)?;
    }
    Ok(if n_broken > 0 {
        ExitCode::from(1)
    } else if n_unverifiable > 0 {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    })
}

async fn checkpoint(database: &str, only: Option<&str>, checkpoints: &[PathBuf], keys: &KeyArgs) -> anyhow::Result<ExitCode> {
    let store = open(database, keys).await?;
    let Some(key) = store.audit_keys().sealing().cloned() else {
        bail!(
            "checkpoints are signed with the audit key: pass `--audit-key-file` or set `{}`",
            crate::audit_keys::ENV_AUDIT_KEY
        );
    };
    let checkpoints = read_checkpoints(checkpoints)?;
    let groups = checkpoints.as_deref().map(by_tenant);
    let mut n_refused = 0;
    let mut out = std::io::stdout().lock();
    for record in tenants(&store, only).await? {
        let (chain, verdict) = read_and_verify(&store, &record, groups.as_deref()).await?;
        match verdict {
            Verdict::Verified(_) => {
                let checkpoint = Checkpoint::sign(
                    &key,
                    &record.name,
                    record.id.0,
                    chain.head_seq,
                    &chain.head_hash,
                    &portcullis_store::rfc3339_now(),
                );
                writeln!(out, "{}", checkpoint.to_line())?;
            }
            Verdict::Broken(said) | Verdict::Unverifiable(said) => {
                n_refused += 1;
                eprintln!("tenant `{}`: no checkpoint: {said}", record.name);
            }
        }
    }
    out.flush()?;
    Ok(if n_refused == 0 { ExitCode::SUCCESS } else { ExitCode::from(1) })
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
    let store = open(&args.database, &args.keys).await?;
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
    let reading = crate::progress::spinner(format!("reading the events of `{}`", record.name));
    let events = store.audit_events(record.id, &query).await?;
    reading.finish_and_clear();
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

/// One archived event as a line: its position, hashes, the key that sealed it (if any), and
/// its body verbatim (the exact text the hash covers, so the archive can be verified on its own).
fn archive_line(event: &SealedEvent) -> String {
    let key_id = event.key_id.as_ref().map(|id| format!(",\"keyId\":\"{id}\"")).unwrap_or_default();
    format!(
        "{{\"seq\":{},\"prevHash\":\"{}\",\"hash\":\"{}\"{key_id},\"body\":{}}}",
        event.seq, event.prev_hash, event.hash, event.body_json
    )
}

async fn archive(database: &str, name: &str, older_than: Option<u32>, out: &std::path::Path, keys: &KeyArgs) -> anyhow::Result<ExitCode> {
    let store = open(database, keys).await?;
    let record = tenant(&store, name).await?;
    let days = match older_than {
        Some(days) => days,
        None => store.audit_settings(record.id).await?.retention_days.with_context(|| {
            format!("tenant `{name}` keeps its events for ever; pass `--older-than DAYS` or set a retention in /api/v1/audits/settings")
        })?,
    };
    let cutoff = portcullis_store::rfc3339_millis((portcullis_store::now() - i64::from(days) * 86_400) * 1000);
    // Access history keeps what the audit trail keeps: the changes (and their undos) older
    // than the retention go; each change's event is archived below with the others.
    match store.prune_history(record.id, portcullis_store::now() - i64::from(days) * 86_400).await? {
        Some(horizon) => out!("tenant `{name}`: access history now starts at revision {horizon}"),
        None => out!("tenant `{name}`: no access history before {cutoff}"),
    }
    let step = crate::progress::spinner(format!("reading the events of `{name}` before {cutoff}"));
    let expired = store.expired_audit_events(record.id, &cutoff).await?;
    step.finish_and_clear();
    let Some(last) = expired.last() else {
        out!("tenant `{name}`: no events before {cutoff}");
        return Ok(ExitCode::SUCCESS);
    };
    // INVARIANT: the file is written and flushed to disk before the events are deleted, so a
    // crash in between leaves them in both places (archiving again appends them again), never
    // in neither.
    let step = crate::progress::spinner(format!("writing {} events to {}", expired.len(), out.display()));
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
    step.set_message(format!("deleting the archived events of `{name}` from the database"));
    let n_deleted = store.archive_audit_events(record.id, last.seq, &last.hash).await?;
    step.finish_and_clear();
    out!(
        "tenant `{name}`: archived events {} to {} ({n_deleted} removed from the database) to {}",
        expired[0].seq,
        last.seq,
        out.display()
    );
    Ok(ExitCode::SUCCESS)
}
