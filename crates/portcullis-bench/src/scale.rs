//! `portcullis-bench scale`: the cost of everything around a decision at two tenant sizes in
//! one run (10k and 100k users by default), and the ratio between them — the proof that an
//! operation's cost follows the work it does, not the size of the tenant.
//!
//! Each size is generated, written as a tenant file and then timed: loading and validating the
//! file, building the engine's snapshot; then, on an embedded SQLite store in a temporary
//! folder, the server's state: importing the tenant, starting from the store, writes through the
//! one write path (acknowledged and visible on the node), logins, and three management-API reads
//! through the server's router (`GET /api/v1/users/me`, `GET /api/v1/users?limit=100` and the
//! last user by API id, `GET /api/v1/users/{id}`, with an API key, no sockets). The figures go to BENCHMARKS.md.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::stats::{ms, quantile};
use anyhow::{Context, Result};
use portcullis_engine::Snapshot;
use portcullis_model::Change;
use portcullis_model::tenant_file::load_tenant_text;
use portcullis_server::state::{AppState, ServerConfig};
use portcullis_store::{Author, ImportMode};

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
    /// Writes (and logins) timed per size.
    #[arg(long, default_value_t = 500)]
    pub writes: usize,
    /// Also time importing and starting from a PostgreSQL store at this URL: give an empty
    /// database (a start loads every tenant in it); the benchmark's tenant is deleted afterwards.
    #[arg(long)]
    pub postgres: Option<String>,
    /// The write measurements (`scale_writes`).
    #[command(flatten)]
    pub write_load: crate::scale_writes::WritesArgs,
    /// The content-write measurements (`scale_content`).
    #[command(flatten)]
    pub content: crate::scale_content::ContentArgs,
    /// The management-API measurements (`scale_admin`).
    #[command(flatten)]
    pub admin: crate::scale_admin::AdminArgs,
}

/// One size's figures.
#[derive(Debug, Clone)]
struct Row {
    users: usize,
    items: usize,
    load_file: Duration,
    build_snapshot: Duration,
    import: Duration,
    load_rows: Duration,
    startup: Duration,
    postgres: Option<(Duration, Duration)>,
    write_p50: Duration,
    write_p99: Duration,
    login_p50: Duration,
    me_p50: Duration,
    users_page_p50: Duration,
    user_by_id_p50: Duration,
}

/// A scratch SQLite database for one measurement: its folder (remove it afterwards) and URL.
pub(crate) fn scratch_sqlite(label: &str, users: usize) -> Result<(std::path::PathBuf, String)> {
    let dir = std::env::temp_dir().join(format!("portcullis-{label}-{}-{users}", std::process::id()));
    std::fs::create_dir_all(&dir).context("a temporary folder")?;
    let url = format!("sqlite://{}", dir.join("scale.db").display());
    Ok((dir, url))
}

/// Imports the tenant into the store at `url` and times the import and a server start from it.
/// The management API's rate limits are off: a benchmark sends every request as one user.
pub(crate) async fn import_and_start(
    url: &str,
    tenant: &portcullis_model::Tenant,
) -> Result<(Duration, Duration, Arc<dyn portcullis_store::Store>, AppState)> {
    let store = portcullis_store::open(url).await?;
    let start = Instant::now();
    store.import_tenant(tenant, ImportMode::Replace, &Author::cli()).await?;
    let import = start.elapsed();
    let start = Instant::now();
    let config = ServerConfig {
        api_rate_limits: portcullis_qlik_api::RateLimitConfig::OFF,
        ..ServerConfig::default()
    };
    let state = AppState::new(Arc::clone(&store), config).await?;
    Ok((import, start.elapsed(), store, state))
}

fn measure(users: usize, seed: u64, n_writes: usize, postgres: Option<&str>, runtime: &tokio::runtime::Runtime) -> Result<Row> {
    let tenant = workload::generate(&Shape::scaled(users, seed));
    let mut text = Vec::new();
    write_tenant(&tenant, &mut text).context("writing the tenant file")?;
    let text = String::from_utf8(text).context("the tenant file is UTF-8")?;

    let start = Instant::now();
    let loaded = load_tenant_text("bench.yaml", &text).map_err(|e| anyhow::anyhow!("{e}"))?;
    let load_file = start.elapsed();
    anyhow::ensure!(loaded.users.len() == tenant.users.len(), "the loaded tenant lost users");
    drop(text);

    let start = Instant::now();
    let snapshot = Snapshot::build(&loaded, 1);
    let build_snapshot = start.elapsed();
    drop(snapshot);

    let (dir, url) = scratch_sqlite("scale", users)?;
    let postgres = match postgres {
        Some(url) => Some(runtime.block_on(async {
            let (import, startup, store, state) = import_and_start(url, &loaded).await?;
            let live = state.tenant_by_name(&loaded.name).await?.context("the tenant is live")?;
            store.delete_tenant(live.id).await?;
            anyhow::Ok((import, startup))
        })?),
        None => None,
    };
    let result = runtime.block_on(async {
        let (import, startup, store, state) = import_and_start(&url, &loaded).await?;
        let id = state.tenant_by_name(&loaded.name).await?.context("the tenant is live")?.id;
        let start = Instant::now();
        store.load_tenant(id).await?;
        let load_rows = start.elapsed();
        let live = state.tenant_by_name(&loaded.name).await?.context("the tenant is live")?;
        let author = Author::cli();
        // A user joins a group they are not in, then leaves it again: every write changes one
        // user (none is a no-op, which would write nothing).
        let mut writes = Vec::with_capacity(n_writes);
        for i in 0..n_writes {
            let pair = i / 2;
            let user = &loaded.users[(pair * 7919) % loaded.users.len()];
            let group = (0..loaded.groups.len())
                .map(|k| &loaded.groups[(pair * 104_729 + k) % loaded.groups.len()].name)
                .find(|g| !user.groups.contains(g))
                .context("a group the user is not in")?
                .clone();
            let change = if i % 2 == 0 {
                Change::JoinGroup {
                    user: user.id.clone(),
                    group,
                }
            } else {
                Change::LeaveGroup {
                    user: user.id.clone(),
                    group,
                }
            };
            let start = Instant::now();
            let written = state.write(&live, std::slice::from_ref(&change), &author).await?;
            writes.push(start.elapsed());
            anyhow::ensure!(written.applied.iter().any(|a| !a.touched.is_empty()), "{change:?} changed nothing");
        }
        let mut logins = Vec::with_capacity(n_writes);
        for i in 0..n_writes {
            let user = &loaded.users[(i * 31) % loaded.users.len()].id;
            let start = Instant::now();
            state.login(&live, user, &author).await?;
            logins.push(start.elapsed());
        }
        // Management-API reads through the router, as an administrator with an API key.
        let admin = loaded.users[0].id.clone();
        let promote = Change::AssignRole {
            role: "TenantAdmin".into(),
            target: portcullis_model::tenant::RoleTarget::User(admin.clone()),
        };
        state.write(&live, &[promote], &author).await?;
        let (token, hash) = portcullis_server::auth::new_secret(portcullis_server::auth::API_KEY_PREFIX)
            .map_err(|e| anyhow::anyhow!("no randomness for a new secret: {e}"))?;
        let key = portcullis_store::NewApiKey {
            tenant: live.id,
            user_id: admin,
            hash,
            description: "scale".into(),
            expires_at: None,
        };
        store.create_api_key(&key, &author).await?;
        let router = portcullis_server::app(state.clone());
        let timed = |path: String| {
            let router = router.clone();
            let token = token.clone();
            async move {
                let mut times = Vec::new();
                for _ in 0..150 {
                    let request = axum::http::Request::builder()
                        .uri(path.as_str())
                        .header("Authorization", format!("Bearer {token}"))
                        .body(axum::body::Body::empty())
                        .context("a request")?;
                    let start = Instant::now();
                    let response = tower::ServiceExt::oneshot(router.clone(), request).await.context("the router answers")?;
                    let status = response.status();
                    axum::body::to_bytes(response.into_body(), usize::MAX).await.context("the body")?;
                    times.push(start.elapsed());
                    anyhow::ensure!(status.is_success(), "{path} answered {status}");
                }
                anyhow::Ok(times)
            }
        };
        let me = timed("/api/v1/users/me".to_owned()).await?;
        let page = timed("/api/v1/users?limit=100".to_owned()).await?;
        let last_user = &tenant.users.iter().last().context("a user")?.id;
        let by_id = timed(format!("/api/v1/users/{}", portcullis_qlik_api::ids::user_id(last_user))).await?;
        anyhow::Ok((import, load_rows, startup, writes, logins, me, page, by_id))
    });
    let _ = std::fs::remove_dir_all(&dir);
    let (import, load_rows, startup, mut writes, mut logins, mut me, mut page, mut by_id) = result?;
    writes.sort();
    logins.sort();
    me.sort();
    page.sort();
    by_id.sort();
    let at = quantile;
    Ok(Row {
        users: tenant.users.len(),
        items: tenant.content.len(),
        load_file,
        build_snapshot,
        import,
        load_rows,
        startup,
        postgres,
        write_p50: at(&writes, 0.5),
        write_p99: at(&writes, 0.99),
        login_p50: at(&logins, 0.5),
        me_p50: at(&me, 0.5),
        users_page_p50: at(&page, 0.5),
        user_by_id_p50: at(&by_id, 0.5),
    })
}

/// Runs every size and prints a table with the ratio of the largest to the smallest.
pub fn run(args: &ScaleArgs) -> Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("a tokio runtime")?;
    if args.admin.admin_only {
        return crate::scale_admin::run(&args.users, args.seed, &args.admin, &runtime);
    }
    if args.content.content_only {
        return crate::scale_content::run(&args.users, args.seed, &args.content, &runtime);
    }
    if args.write_load.writes_only {
        return crate::scale_writes::run(&args.users, args.seed, &args.write_load, &runtime);
    }
    let mut rows = Vec::new();
    for &users in &args.users {
        eprintln!("measuring {users} users ...");
        rows.push(measure(users, args.seed, args.writes, args.postgres.as_deref(), &runtime)?);
    }
    println!(
        "| users | items | load + validate file | build snapshot | import (SQLite) | rows → model (SQLite) | start from store (SQLite) | write p50 | write p99 | login p50 | users/me p50 | users?limit=100 p50 | users/{{id}} p50 |"
    );
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    let cells = |r: &Row| {
        [
            r.load_file,
            r.build_snapshot,
            r.import,
            r.load_rows,
            r.startup,
            r.write_p50,
            r.write_p99,
            r.login_p50,
            r.me_p50,
            r.users_page_p50,
            r.user_by_id_p50,
        ]
    };
    for row in &rows {
        let times: Vec<String> = cells(row).iter().map(|d| ms(*d)).collect();
        println!("| {} | {} | {} |", row.users, row.items, times.join(" | "));
    }
    if let (Some(small), Some(large)) = (rows.first(), rows.last())
        && rows.len() > 1
    {
        let ratios: Vec<String> = cells(small)
            .iter()
            .zip(cells(large))
            .map(|(a, b)| format!("{:.2}×", b.as_secs_f64() / a.as_secs_f64().max(1e-9)))
            .collect();
        println!("| ratio {}k → {}k | | {} |", small.users / 1000, large.users / 1000, ratios.join(" | "));
    }
    if rows.iter().any(|r| r.postgres.is_some()) {
        println!();
        println!("| users | items | import (PostgreSQL) | start from store (PostgreSQL) |");
        println!("|---:|---:|---:|---:|");
        for row in &rows {
            if let Some((import, startup)) = row.postgres {
                println!("| {} | {} | {} | {} |", row.users, row.items, ms(import), ms(startup));
            }
        }
    }
    println!();
    crate::scale_writes::run(&args.users, args.seed, &args.write_load, &runtime)?;
    println!();
    crate::scale_content::run(&args.users, args.seed, &args.content, &runtime)?;
    println!();
    crate::scale_admin::run(&args.users, args.seed, &args.admin, &runtime)
}

/// What `startup` measures.
#[derive(clap::Args, Debug, Clone)]
pub struct StartupArgs {
    /// The store (`sqlite://PATH` or `postgres://…`); a generated tenant is imported when it has none.
    #[arg(long)]
    pub url: String,
    /// Users of the generated tenant (items are ten per user).
    #[arg(long, default_value_t = 100_000)]
    pub users: usize,
    /// The workload's seed.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Times each step is repeated.
    #[arg(long, default_value_t = 3)]
    pub repeat: usize,
}

/// CPU time this process has used (user + system), where the platform says (Linux).
fn cpu_time() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name (which is in parentheses and may hold spaces).
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    Some(Duration::from_millis(ticks * 10))
}

/// Starting from an existing store, step by step: rows → model, and a whole server start
/// (model and view). Wall and CPU time, so a busy machine can still be read.
pub fn startup(args: &StartupArgs) -> Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("a tokio runtime")?;
    runtime.block_on(async {
        let store = portcullis_store::open(&args.url).await?;
        if store.tenants().await?.is_empty() {
            eprintln!("importing a generated tenant of {} users ...", args.users);
            let tenant = workload::generate(&Shape::scaled(args.users, args.seed));
            store.import_tenant(&tenant, ImportMode::Replace, &Author::cli()).await?;
        }
        let id = store.tenants().await?.first().context("a tenant")?.id;
        let timed = |label: &'static str, wall: Duration, cpu: Option<Duration>| {
            let cpu = cpu.map(ms).unwrap_or_else(|| "?".into());
            println!("{label}: {} wall, {cpu} CPU", ms(wall));
        };
        for _ in 0..args.repeat {
            let (cpu, start) = (cpu_time(), Instant::now());
            let (tenant, _) = store.load_tenant(id).await?;
            timed("rows → model", start.elapsed(), cpu_time().zip(cpu).map(|(b, a)| b - a));
            let (cpu, start) = (cpu_time(), Instant::now());
            let snapshot = Snapshot::build(&tenant, 1);
            timed("model → snapshot", start.elapsed(), cpu_time().zip(cpu).map(|(b, a)| b - a));
            drop(snapshot);
            let (cpu, start) = (cpu_time(), Instant::now());
            let ids = portcullis_qlik_api::ids::ApiIds::build(&tenant);
            timed("model → API ids", start.elapsed(), cpu_time().zip(cpu).map(|(b, a)| b - a));
            drop(ids);
            // The counts the model's whole-tenant rules read (`Refs`), built on the first
            // question; a server counts them in the background after its start.
            let (rss, cpu, start) = (crate::stats::resident_bytes(), cpu_time(), Instant::now());
            let _ = tenant.refs();
            timed("refs (counts and indexes)", start.elapsed(), cpu_time().zip(cpu).map(|(b, a)| b - a));
            if rss > 0 {
                let grown = crate::stats::resident_bytes().saturating_sub(rss);
                println!("resident added by the refs: {:.1} MiB", grown as f64 / 1_048_576.0);
            }
            drop(tenant);
            let (cpu, start) = (cpu_time(), Instant::now());
            let state = AppState::new(Arc::clone(&store), ServerConfig::default()).await?;
            timed("server start (model + view)", start.elapsed(), cpu_time().zip(cpu).map(|(b, a)| b - a));
            let rss = crate::stats::resident_bytes();
            if rss > 0 {
                println!("resident with the live model and the view: {:.0} MiB", rss as f64 / 1_048_576.0);
            }
            drop(state);
        }
        anyhow::Ok(())
    })
}
