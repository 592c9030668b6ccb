//! `portcullis serve`: opens (and migrates) the store, imports tenant files, registers
//! known API keys, and serves the HTTP API until SIGTERM or Ctrl-C, finishing the requests
//! in flight. On a first start with no `--tenant`, it imports the demo tenant and prints an
//! administrator's API key (shown once) and a `curl` line to try.
//!
//! Standard output carries what a person needs (address, key, example); logs go to standard
//! error through `tracing` (`RUST_LOG` filters them, `--log-json` makes them JSON lines).

use crate::out::out;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, bail};
use portcullis_model::tenant_file::load_tenant_text;
use portcullis_server::auth::{API_KEY_PREFIX, hash_secret, new_secret};
use portcullis_server::{AppState, ConnectionLimits, ServerConfig};
use portcullis_store::{Author, ImportMode, ImportOutcome, NewApiKey, Store, TenantRecord};

/// The demo tenant imported on a first start.
const DEMO_TENANT: &str = include_str!("../../../examples/demo-tenant.yaml");
/// The demo tenant's administrator, who gets the printed key.
const DEMO_ADMIN: &str = "admin";

/// Arguments of `portcullis serve`.
#[derive(clap::Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8080")]
    listen: String,
    /// Store: `sqlite://PATH` (embedded, the default) or `postgres://...` (several nodes).
    #[arg(long, value_name = "URL", default_value = "sqlite://portcullis.db")]
    database: String,
    /// Import a tenant file at start (repeatable); a stored tenant of that name is kept unless `--replace`.
    #[arg(long = "tenant", value_name = "FILE")]
    tenants: Vec<PathBuf>,
    /// Replace stored tenants by the `--tenant` files of the same name.
    #[arg(long)]
    replace: bool,
    /// Register a known API key: `USER=TOKEN` for a user of the imported tenant, `TENANT/USER=TOKEN`
    /// when several are loaded (repeatable; for automation and tests).
    #[arg(long = "api-key", value_name = "[TENANT/]USER=TOKEN")]
    api_keys: Vec<String>,
    /// Store a security-rule site file at start under a name (repeatable): checked and
    /// compiled first, stored when its text differs from the stored site's.
    #[arg(long = "rule-site", value_name = "[TENANT/]NAME=FILE")]
    rule_sites: Vec<String>,
    /// Answer a tenant's AuthZEN requests (`/access/v1/...`) from one of its rule sites
    /// instead of its Qlik Cloud model (repeatable, one per tenant).
    #[arg(long = "authzen-site", value_name = "[TENANT/]SITE")]
    authzen_sites: Vec<String>,
    /// A server-wide operator token (automation: imports tenants, acts as an administrator in the
    /// tenant named by the `Portcullis-Tenant` header). Off when not given.
    #[arg(long, value_name = "TOKEN")]
    operator_token: Option<String>,
    /// With PostgreSQL: how often to poll for writes made by other nodes, in milliseconds. The
    /// change feed (`LISTEN/NOTIFY`) brings them at once; the poll heals a missed notification.
    #[arg(long, value_name = "MS", default_value_t = 1000)]
    poll_ms: u64,
    /// The public origin of every absolute URL the server writes (AuthZEN metadata, API links),
    /// e.g. `https://portcullis.example.com`. Without it (and without `PORTCULLIS_PUBLIC_URL`),
    /// URLs are built from the request's `Host` header, which the client chooses.
    #[arg(long, value_name = "URL")]
    public_url: Option<String>,
    /// Logins (`POST /v1/sessions`) per user and token grants (`POST /oauth/token`) per OAuth client
    /// allowed a minute; more are answered 429 with `Retry-After`. 0 turns the limit off.
    #[arg(long, value_name = "N", default_value_t = portcullis_server::state::ISSUES_PER_MINUTE)]
    issue_rate_limit: u32,
    /// Hours an interactive session keeps the rights of its login, however active (Qlik Cloud's
    /// "Maximum session duration": 1 to 168, default 24); 0: no limit.
    #[arg(long, value_name = "HOURS", default_value_t = 24, value_parser = session_limit::<1, 168>)]
    session_max_hours: i64,
    /// Minutes a session may go without a decision before it ends (Qlik Cloud's "Session
    /// inactivity timeout": 15 to 1440, default 30); 0: no limit. Counted per node.
    #[arg(long, value_name = "MINUTES", default_value_t = 30, value_parser = session_limit::<15, 1440>)]
    session_idle_minutes: i64,
    /// Seconds a client has to send a request's head (line and headers); slower ones are cut off.
    #[arg(long, value_name = "SECS", default_value_t = 10)]
    header_timeout: u64,
    /// Seconds one request may take, its body included, before it is answered 503.
    #[arg(long, value_name = "SECS", default_value_t = 30)]
    request_timeout: u64,
    /// Seconds a connection may stay open with no request in flight.
    #[arg(long, value_name = "SECS", default_value_t = 60)]
    idle_timeout: u64,
    /// On SIGTERM or Ctrl-C: seconds the requests in flight may still take before the server stops anyway.
    #[arg(long, value_name = "SECS", default_value_t = 30)]
    shutdown_grace: u64,
    /// Write logs as JSON lines.
    #[arg(long)]
    log_json: bool,
    #[command(flatten)]
    audit_keys: crate::audit_keys::KeyArgs,
    /// Append a signed checkpoint of each tenant's audit chain to this file (JSON lines; keep it
    /// where the database's owner cannot rewrite it), and check the chains against it at start.
    /// Needs the audit key.
    #[arg(long, value_name = "FILE")]
    audit_checkpoints: Option<PathBuf>,
    /// With `--audit-checkpoints`: a tenant whose chain grew by this many events is checkpointed.
    #[arg(long, value_name = "N", default_value_t = 1000)]
    audit_checkpoint_events: u64,
    /// With `--audit-checkpoints`: a tenant whose chain grew at all is checkpointed at least this often.
    #[arg(long, value_name = "SECS", default_value_t = 60)]
    audit_checkpoint_secs: u64,
}

/// A session timeout: 0 (no limit) or within Qlik Cloud's range `MIN..=MAX`.
fn session_limit<const MIN: i64, const MAX: i64>(text: &str) -> Result<i64, String> {
    let value: i64 = text.parse().map_err(|_| format!("`{text}` is not a whole number"))?;
    if value == 0 || (MIN..=MAX).contains(&value) {
        Ok(value)
    } else {
        Err(format!(
            "`{value}` is outside {MIN}..={MAX} (or 0 for no limit), the range Qlik Cloud allows"
        ))
    }
}

/// Runs the server until it is told to stop.
pub fn run(args: ServeArgs) -> anyhow::Result<std::process::ExitCode> {
    init_logs(args.log_json);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(serve(args))?;
    Ok(std::process::ExitCode::SUCCESS)
}

fn init_logs(json: bool) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn,tower_http=info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    // A second init (tests in one process) is harmless: the first subscriber stays.
    let _ = if json { builder.json().try_init() } else { builder.try_init() };
}

async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let keys = args.audit_keys.keyring()?;
    let audit_checkpoints = args
        .audit_checkpoints
        .as_ref()
        .map(|path| portcullis_server::audit_integrity::CheckpointConfig {
            path: path.clone(),
            every_events: args.audit_checkpoint_events.max(1),
            every: Duration::from_secs(args.audit_checkpoint_secs.max(1)),
        });
    if audit_checkpoints.is_some() && keys.sealing().is_none() {
        bail!(
            "`--audit-checkpoints` needs the audit key that signs them: pass `--audit-key-file` or set `{}`",
            crate::audit_keys::ENV_AUDIT_KEY
        );
    }
    // A damaged checkpoint file stops the start here, with its own message.
    portcullis_server::audit_integrity::AuditIntegrity::open(audit_checkpoints.clone()).map_err(|e| anyhow::anyhow!(e))?;
    match keys.sealing() {
        Some(key) => tracing::info!(key_id = key.id(), "audit events are sealed with the audit key"),
        None => tracing::warn!("no audit key: audit events are sealed with plain SHA-256, which whoever can write to the database can recompute"),
    }
    let store = portcullis_store::open_with_keys(&args.database, keys)
        .await
        .with_context(|| format!("cannot open the store `{}`", portcullis_store::redact(&args.database)))?;
    let first_start = store.tenants().await.context("cannot list the stored tenants")?.is_empty();

    let mut imported: Vec<TenantRecord> = Vec::new();
    let mode = if args.replace { ImportMode::Replace } else { ImportMode::KeepExisting };
    for path in &args.tenants {
        let label = path.display().to_string();
        let reading = crate::progress::spinner(format!("reading {label}"));
        let text = std::fs::read_to_string(path).with_context(|| format!("cannot read the tenant file `{label}`"))?;
        let tenant = load_tenant_text(&label, &text)
            .map_err(|e| anyhow::anyhow!("{e}"))
            .with_context(|| format!("the tenant file `{label}` is not valid"))?;
        reading.finish_and_clear();
        let bar = crate::progress::bar(format!("importing {label} (rows)"));
        let outcome = store
            .import_tenant_with_progress(&tenant, mode, &Author::cli(), &crate::progress::reporter(&bar))
            .await
            .with_context(|| format!("cannot import `{label}`"))?;
        bar.finish_and_clear();
        let what = match outcome.outcome {
            ImportOutcome::Created => "imported",
            ImportOutcome::Replaced => "replaced",
            ImportOutcome::Kept => "kept as stored (use --replace to replace it)",
        };
        out!(
            "tenant `{}` from {label}: {what} (revision {})",
            outcome.tenant.name,
            outcome.tenant.revision
        );
        imported.push(outcome.tenant);
    }

    let mut demo_key = None;
    if first_start && args.tenants.is_empty() {
        let demo = load_tenant_text("examples/demo-tenant.yaml", DEMO_TENANT)
            .map_err(|e| anyhow::anyhow!("{e}"))
            .context("the built-in demo tenant is not valid")?;
        let outcome = store
            .import_tenant(&demo, ImportMode::KeepExisting, &Author::cli())
            .await
            .context("cannot import the demo tenant")?;
        let (token, hash) = new_secret(API_KEY_PREFIX).map_err(|e| anyhow::anyhow!("no randomness for a new secret: {e}"))?;
        store
            .create_api_key(
                &NewApiKey {
                    tenant: outcome.tenant.id,
                    user_id: DEMO_ADMIN.to_owned(),
                    hash,
                    description: "printed at first start".to_owned(),
                    expires_at: Some(portcullis_store::now() + 90 * 86_400),
                },
                &Author::cli(),
            )
            .await
            .context("cannot store the admin API key")?;
        out!(
            "first start: imported the demo tenant `{}` (examples/demo-tenant.yaml)",
            outcome.tenant.name
        );
        imported.push(outcome.tenant);
        demo_key = Some(token);
    }

    for spec in &args.api_keys {
        register_key(&store, &imported, spec).await?;
    }
    for spec in &args.rule_sites {
        store_rule_site(&store, &imported, spec).await?;
    }
    let mut authzen_sites = std::collections::BTreeMap::new();
    for spec in &args.authzen_sites {
        let (tenant, site) = tenant_and(&store, &imported, spec, "--authzen-site", "SITE").await?;
        if store.rule_site(tenant.id, site).await?.is_none() {
            tracing::warn!(tenant = %tenant.name, %site, "`--authzen-site`: the tenant has no such rule site yet; AuthZEN requests fail until it is stored");
        }
        if let Some(other) = authzen_sites.insert(tenant.name.clone(), site.to_owned()) {
            bail!("`--authzen-site`: tenant `{}` is given two sites, `{other}` and `{site}`", tenant.name);
        }
    }

    // The environment is read here, once; the server keeps what it says.
    let api = portcullis_qlik_api::ApiConfig::from_lookup(|name| std::env::var(name).ok()).map_err(|e| anyhow::anyhow!(e))?;
    let config = ServerConfig {
        operator_token_hash: args.operator_token.as_deref().map(hash_secret),
        request_timeout: Duration::from_secs(args.request_timeout.max(1)),
        issues_per_minute: args.issue_rate_limit,
        public_url: args.public_url.or(api.public_base_url).as_deref().map(public_origin).transpose()?,
        api_rate_limits: api.rate_limits,
        audit_checkpoints,
        authzen_sites,
        session_timeouts: portcullis_engine::SessionTimeouts {
            max_duration: (args.session_max_hours > 0).then_some(args.session_max_hours * 3600),
            inactivity: (args.session_idle_minutes > 0).then_some(args.session_idle_minutes * 60),
        },
    };
    let state = AppState::new(store.clone(), config).await.context("cannot load the tenants")?;
    if store.backend() == portcullis_store::Backend::Postgres {
        tokio::spawn(state.clone().follow_store(Duration::from_millis(args.poll_ms.max(50))));
    }
    if state.audit_integrity().config().is_some() {
        tokio::spawn(state.clone().write_checkpoints());
    }
    let n_broken = state.audit_integrity().n_broken();
    if n_broken > 0 {
        out!("{n_broken} tenants' audit trails do not check out (see the log); run `portcullis audit verify`");
    }
    // Listened for before the address is printed: a SIGTERM sent as soon as the server says it
    // listens stops it gracefully instead of killing it.
    let shutdown = shutdown_signal();
    let listener = tokio::net::TcpListener::bind(&args.listen)
        .await
        .with_context(|| format!("cannot listen on `{}`", args.listen))?;
    let address = listener.local_addr().context("cannot read the listening address")?;
    out!(
        "portcullis listening on http://{address} (store {}; {} tenants)",
        portcullis_store::redact(&args.database),
        state.tenants().len()
    );
    if let Some(token) = demo_key {
        out!("admin API key for user `{DEMO_ADMIN}` of tenant `demo` (shown once, stored only as a hash):");
        out!("  {token}");
        out!("try it:");
        out!(
            "  curl -s -H 'Authorization: Bearer {token}' -H 'Content-Type: application/json' -d '{{\"user\":\"ann\",\"action\":\"app:exportdata\",\"resource\":\"sales-dashboard\"}}' http://{address}/v1/check"
        );
    }
    tracing::info!(%address, "serving");
    let limits = ConnectionLimits {
        header_read: Duration::from_secs(args.header_timeout.max(1)),
        idle: Duration::from_secs(args.idle_timeout.max(1)),
        shutdown_grace: Duration::from_secs(args.shutdown_grace),
    };
    portcullis_server::serve(listener, portcullis_server::app(state.clone()), limits, shutdown)
        .await
        .context("the server failed")?;
    // Decision events still queued are stored before the process ends.
    state.decision_log().flush().await;
    tracing::info!("stopped");
    Ok(())
}

/// Registers `[TENANT/]USER=TOKEN` as an API key (once: a token already stored is left alone).
async fn register_key(store: &Arc<dyn Store>, imported: &[TenantRecord], spec: &str) -> anyhow::Result<()> {
    let Some((who, token)) = spec.split_once('=') else {
        bail!("`--api-key {spec}` is not `USER=TOKEN` or `TENANT/USER=TOKEN`");
    };
    if token.len() < 16 {
        bail!("the token of `--api-key {who}=...` is shorter than 16 characters; use a long random one");
    }
    let (tenant, user) = tenant_and(store, imported, who, "--api-key", "USER=TOKEN").await?;
    let (tenant_model, _) = store.load_tenant(tenant.id).await?;
    if tenant_model.user(user).is_none() {
        bail!("`--api-key`: tenant `{}` has no user `{user}`", tenant.name);
    }
    let hash = hash_secret(token);
    match store.api_key_by_hash(&hash).await? {
        Some(existing) if existing.tenant == tenant.id && existing.user_id == user => {}
        Some(_) => bail!("`--api-key {who}=...`: that token is already registered for another user"),
        None => {
            store
                .create_api_key(
                    &NewApiKey {
                        tenant: tenant.id,
                        user_id: user.to_owned(),
                        hash,
                        description: "registered with --api-key".to_owned(),
                        expires_at: None,
                    },
                    &Author::cli(),
                )
                .await?;
        }
    }
    Ok(())
}

/// The tenant of a flag's `[TENANT/]REST` and the rest: without a tenant, the one tenant
/// imported at this start, or else the one tenant stored. `what` names the rest in messages.
async fn tenant_and<'a>(
    store: &Arc<dyn Store>,
    imported: &[TenantRecord],
    spec: &'a str,
    flag: &str,
    what: &str,
) -> anyhow::Result<(TenantRecord, &'a str)> {
    if let Some((tenant_name, rest)) = spec.split_once('/') {
        let tenant = store
            .tenant_by_name(tenant_name)
            .await?
            .with_context(|| format!("`{flag}`: unknown tenant `{tenant_name}`"))?;
        return Ok((tenant, rest));
    }
    match imported {
        [only] => Ok((only.clone(), spec)),
        [] => {
            let all = store.tenants().await?;
            match all.as_slice() {
                [only] => Ok((only.clone(), spec)),
                _ => bail!("`{flag} {spec}`: {} tenants are stored; write `TENANT/{what}`", all.len()),
            }
        }
        _ => bail!("`{flag} {spec}`: several tenants were imported; write `TENANT/{what}`"),
    }
}

/// Stores `[TENANT/]NAME=FILE` as a rule site, unless the stored site has the same text.
async fn store_rule_site(store: &Arc<dyn Store>, imported: &[TenantRecord], spec: &str) -> anyhow::Result<()> {
    let Some((who, file)) = spec.split_once('=') else {
        bail!("`--rule-site {spec}` is not `NAME=FILE` or `TENANT/NAME=FILE`");
    };
    let (tenant, name) = tenant_and(store, imported, who, "--rule-site", "NAME=FILE").await?;
    let path = PathBuf::from(file);
    let text = std::fs::read_to_string(&path).with_context(|| format!("cannot read the rule site file `{file}`"))?;
    if store.rule_site(tenant.id, name).await?.is_some_and(|stored| stored.source == text) {
        out!("rule site `{name}` of tenant `{}` from {file}: kept as stored (same text)", tenant.name);
        return Ok(());
    }
    crate::sites_cmd::store_site(store, &tenant, name, &path, &text, None, None).await?;
    Ok(())
}

/// `--public-url` (or `PORTCULLIS_PUBLIC_URL`), checked: `http(s)://host[:port][/prefix]`,
/// without the trailing `/`.
fn public_origin(url: &str) -> anyhow::Result<String> {
    let url = url.trim().trim_end_matches('/');
    let Some(rest) = url.strip_prefix("https://").or_else(|| url.strip_prefix("http://")) else {
        bail!("`--public-url {url}` does not start with `http://` or `https://`");
    };
    if rest.is_empty() || rest.contains(['?', '#', ' ']) {
        bail!("`--public-url {url}` is not an origin like `https://portcullis.example.com`");
    }
    Ok(url.to_owned())
}

/// Resolves on SIGTERM or Ctrl-C.
/// SIGTERM's handler is installed when this is called (not when the future is first polled),
/// so the process is not killed by a signal that arrives in between.
fn shutdown_signal() -> impl std::future::Future<Output = ()> {
    #[cfg(unix)]
    let terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    async move {
        let ctrl_c = async {
            if tokio::signal::ctrl_c().await.is_err() {
                std::future::pending::<()>().await;
            }
        };
        #[cfg(unix)]
        let terminate = async {
            match terminate {
                Some(mut signal) => {
                    signal.recv().await;
                }
                None => std::future::pending::<()>().await,
            }
        };
        #[cfg(not(unix))]
        let terminate = std::future::pending::<()>();
        tokio::select! {
            () = ctrl_c => {}
            () = terminate => {}
        }
        tracing::info!("shutting down: finishing the requests in flight");
    }
}
