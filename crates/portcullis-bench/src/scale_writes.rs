//! `portcullis-bench scale`, writes under load: at each tenant size, on an embedded SQLite store,
//! (a) acknowledged writes per second with many concurrent writers in process, (b) one write over
//! HTTP on a real loopback socket (one client, then many), and (c) `POST /v1/check` in process
//! while writes arrive in the background at a fixed rate. Its own table, after `scale`'s.
//!
//! Every write is a user joining a group they are not in, or leaving it again; each writer owns
//! its users, so no write is refused or a no-op and every one is a store transaction's worth of
//! work. A write counts once it is acknowledged (committed, and visible on the node).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::stats::{ms, quantile};
use anyhow::{Context, Result};
use portcullis_model::{Change, Tenant};
use portcullis_server::state::{AppState, TenantState};
use portcullis_store::Author;
use serde_json::{Value, json};

use crate::requests::{self, Bias, Mix, Target, TenantIndex, Via};
use crate::workload::{self, Shape};

/// What the write measurements do.
#[derive(clap::Args, Debug, Clone)]
pub struct WritesArgs {
    /// Only the write measurements (skip `scale`'s load, import and startup table).
    #[arg(long)]
    pub writes_only: bool,
    /// Concurrent writers for the throughput figures.
    #[arg(long, default_value_t = 16)]
    pub write_clients: usize,
    /// Seconds each throughput figure runs.
    #[arg(long, default_value_t = 5)]
    pub write_seconds: u64,
    /// Sequential HTTP writes timed for the one-client latency.
    #[arg(long, default_value_t = 300)]
    pub http_writes: usize,
    /// Background writes per second while checks are timed.
    #[arg(long, default_value_t = 100)]
    pub background_rate: u64,
    /// Seconds of checks, idle and with background writes each.
    #[arg(long, default_value_t = 5)]
    pub check_seconds: u64,
}

/// One size's figures.
#[derive(Debug, Clone)]
struct Row {
    users: usize,
    clients: usize,
    writes_per_s: f64,
    write_p50: Duration,
    write_p99: Duration,
    http_p50: Duration,
    http_p99: Duration,
    http_many_per_s: f64,
    http_many_p50: Duration,
    http_many_p99: Duration,
    check_idle_p50: Duration,
    check_idle_p99: Duration,
    check_busy_p50: Duration,
    check_busy_p99: Duration,
    background_per_s: f64,
}

/// Each writer's (user, group) pairs: users no other writer has, groups they are not in.
fn writer_pairs(tenant: &Tenant, writers: usize, per_writer: usize) -> Result<Vec<Vec<(String, String)>>> {
    let n = tenant.users.len();
    anyhow::ensure!(writers * per_writer < n, "{writers} writers × {per_writer} users do not fit {n} users");
    let mut all = Vec::with_capacity(writers);
    for w in 0..writers {
        let mut pairs = Vec::with_capacity(per_writer);
        for k in 0..per_writer {
            // 7919 is prime, so positions are distinct for distinct (w, k); position 0 (the
            // administrator) is never picked.
            let user = &tenant.users[((w * per_writer + k + 1) * 7919) % n];
            let group = (0..tenant.groups.len())
                .map(|g| &tenant.groups[((w * per_writer + k) * 104_729 + g) % tenant.groups.len()].name)
                .find(|g| !user.groups.contains(g))
                .context("a group the user is not in")?;
            pairs.push((user.id.clone(), group.clone()));
        }
        all.push(pairs);
    }
    Ok(all)
}

/// The `i`-th write of a writer: join a pair's group, then leave it, then the next pair.
fn nth_change(pairs: &[(String, String)], i: usize) -> Change {
    let (user, group) = pairs[(i / 2) % pairs.len()].clone();
    if i.is_multiple_of(2) {
        Change::JoinGroup { user, group }
    } else {
        Change::LeaveGroup { user, group }
    }
}

fn change_json(change: &Change) -> Value {
    match change {
        Change::JoinGroup { user, group } => json!({"join": {"user": user, "group": group}}),
        Change::LeaveGroup { user, group } => json!({"leave": {"user": user, "group": group}}),
        other => unreachable!("only joins and leaves are timed, not {other:?}"),
    }
}

/// `POST /v1/check` bodies of the allow-heavy read mix (API keys and OAuth clients; no sessions).
fn check_bodies(tenant: &Tenant, seed: u64) -> Vec<Value> {
    let index = TenantIndex::build(tenant);
    requests::generate(tenant, &index, Mix::Reads, Bias::AllowHeavy, 2_000, seed)
        .into_iter()
        .map(|r| {
            let via = match r.via {
                Via::OAuth(c) => format!("oauth:{}", tenant.oauth_clients[c].id),
                Via::Session | Via::ApiKey => "api-key".to_owned(),
            };
            let resource = match r.target {
                Target::Tenant => None,
                Target::Space(s) => Some(tenant.spaces[s].id.clone()),
                Target::Content(c) => Some(tenant.content[c].id.clone()),
            };
            json!({"user": tenant.users[r.user].id, "via": via, "action": r.action.as_str(), "resource": resource})
        })
        .collect()
}

fn sorted(mut v: Vec<Duration>) -> Vec<Duration> {
    v.sort();
    v
}

/// (a): `clients` writers in process for `seconds`; acknowledged writes/s and the latencies.
async fn in_process_writes(state: &AppState, live: &Arc<TenantState>, pairs: &[Vec<(String, String)>], seconds: u64) -> Result<(f64, Vec<Duration>)> {
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let start = Instant::now();
    let mut tasks = Vec::new();
    for (w, own) in pairs.iter().enumerate() {
        let (state, live, own) = (state.clone(), live.clone(), own.clone());
        tasks.push(tokio::spawn(async move {
            let author = Author::user(format!("writer-{w}"), "cli");
            let mut times = Vec::new();
            let mut i = 0usize;
            // An even number of writes leaves every pair as it was, for the next measurement.
            while Instant::now() < deadline || !i.is_multiple_of(2) {
                let change = nth_change(&own, i);
                let one = Instant::now();
                let written = state.write(&live, std::slice::from_ref(&change), &author).await?;
                times.push(one.elapsed());
                anyhow::ensure!(written.applied.iter().any(|a| !a.touched.is_empty()), "{change:?} changed nothing");
                i += 1;
            }
            anyhow::Ok(times)
        }));
    }
    let mut times = Vec::new();
    for task in tasks {
        times.extend(task.await.context("a writer task")??);
    }
    Ok((times.len() as f64 / start.elapsed().as_secs_f64(), times))
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(30)))
        .build()
        .into()
}

/// One HTTP write; its status must be 200.
fn http_write(agent: &ureq::Agent, url: &str, auth: &str, body: &Value) -> Result<()> {
    let mut response = agent
        .post(url)
        .header("Authorization", auth)
        .send_json(body)
        .context("the server answers")?;
    let status = response.status().as_u16();
    let text = response.body_mut().read_to_string().context("the body")?;
    anyhow::ensure!(status == 200, "a write answered {status}: {text}");
    Ok(())
}

/// (b): one client writing sequentially, then `pairs.len()` clients for `seconds`, over HTTP.
fn http_writes(url: &str, auth: &str, pairs: &[Vec<(String, String)>], n_single: usize, seconds: u64) -> Result<(Vec<Duration>, f64, Vec<Duration>)> {
    let client = agent();
    // The first pairs' writes, timed one after another (a warm-up request first).
    http_write(&client, url, auth, &change_json(&nth_change(&pairs[0], 0)))?;
    http_write(&client, url, auth, &change_json(&nth_change(&pairs[0], 1)))?;
    let n_single = n_single & !1;
    let mut single = Vec::with_capacity(n_single);
    for i in 0..n_single {
        let body = change_json(&nth_change(&pairs[0], i));
        let start = Instant::now();
        http_write(&client, url, auth, &body)?;
        single.push(start.elapsed());
    }
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let start = Instant::now();
    let threads: Vec<_> = pairs
        .iter()
        .cloned()
        .map(|own| {
            let (url, auth) = (url.to_owned(), auth.to_owned());
            std::thread::spawn(move || {
                let agent = agent();
                let mut times = Vec::new();
                // An even number of writes leaves every pair as it was (as the single client
                // above left pairs[0]).
                let mut i = 0usize;
                while Instant::now() < deadline || !i.is_multiple_of(2) {
                    let body = change_json(&nth_change(&own, i));
                    let one = Instant::now();
                    http_write(&agent, &url, &auth, &body)?;
                    times.push(one.elapsed());
                    i += 1;
                }
                anyhow::Ok(times)
            })
        })
        .collect();
    let mut many = Vec::new();
    for thread in threads {
        many.extend(thread.join().map_err(|_| anyhow::anyhow!("an HTTP writer panicked"))??);
    }
    let per_s = many.len() as f64 / start.elapsed().as_secs_f64();
    Ok((single, per_s, many))
}

/// Times `POST /v1/check` through the router (no socket) for `seconds`, one after another.
async fn timed_checks(router: &axum::Router, token: &str, bodies: &[Value], seconds: u64) -> Result<Vec<Duration>> {
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let mut times = Vec::new();
    let mut i = 0usize;
    while Instant::now() < deadline {
        let body = serde_json::to_vec(&bodies[i % bodies.len()]).context("a check body")?;
        let request = axum::http::Request::builder()
            .method("POST")
            .uri("/v1/check")
            .header("Authorization", format!("Bearer {token}"))
            .header("Content-Type", "application/json")
            .body(axum::body::Body::from(body))
            .context("a request")?;
        let start = Instant::now();
        let response = tower::ServiceExt::oneshot(router.clone(), request).await.context("the router answers")?;
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await.context("the body")?;
        times.push(start.elapsed());
        anyhow::ensure!(status.is_success(), "/v1/check answered {status}: {}", String::from_utf8_lossy(&bytes));
        i += 1;
    }
    Ok(times)
}

fn measure(users: usize, seed: u64, args: &WritesArgs, runtime: &tokio::runtime::Runtime) -> Result<Row> {
    let clients = args.write_clients.max(1);
    let tenant = workload::generate(&Shape::scaled(users, seed));
    // One more writer's pairs for the background writes of (c).
    let mut pairs = writer_pairs(&tenant, clients + 1, 8)?;
    let background = pairs.pop().context("the background writer's pairs")?;
    let bodies = check_bodies(&tenant, seed);
    let admin = tenant.users[0].id.clone();
    let name = tenant.name.clone();

    let (dir, url) = crate::scale::scratch_sqlite("scale-writes", users)?;
    let result = runtime.block_on(async {
        let (_, _, store, state) = crate::scale::import_and_start(&url, &tenant).await?;
        drop(tenant);
        let live = state.tenant_by_name(&name).await?.context("the tenant is live")?;
        let author = Author::cli();
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
            description: "scale writes".into(),
            expires_at: None,
        };
        store.create_api_key(&key, &author).await?;

        // (a) In process, many writers, after two seconds of the same untimed (the first
        // writes after an import also checkpoint SQLite's write-ahead log into the database).
        in_process_writes(&state, &live, &pairs, 2).await?;
        let (writes_per_s, write_times) = in_process_writes(&state, &live, &pairs, args.write_seconds).await?;

        // (b) Over HTTP on a loopback socket.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.context("a loopback port")?;
        let address = listener.local_addr().context("the port")?;
        let server = tokio::spawn(axum::serve(listener, portcullis_server::app(state.clone())).into_future());
        let (http_url, auth) = (format!("http://{address}/v1/changes"), format!("Bearer {token}"));
        let (http_pairs, http_single, http_seconds) = (pairs.clone(), args.http_writes, args.write_seconds);
        let http = tokio::task::spawn_blocking(move || http_writes(&http_url, &auth, &http_pairs, http_single, http_seconds))
            .await
            .context("the HTTP clients")??;
        server.abort();

        // (c) Checks in process, idle and with writes in the background.
        let router = portcullis_server::app(state.clone());
        timed_checks(&router, &token, &bodies, 1).await?;
        let idle = timed_checks(&router, &token, &bodies, args.check_seconds).await?;
        let stop = Arc::new(AtomicBool::new(false));
        let done = Arc::new(AtomicU64::new(0));
        let writer = {
            let (state, live, stop, done) = (state.clone(), live.clone(), stop.clone(), done.clone());
            let every = Duration::from_secs_f64(1.0 / args.background_rate.max(1) as f64);
            tokio::spawn(async move {
                let mut ticker = tokio::time::interval(every);
                ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                let author = Author::user("background", "cli");
                let mut i = 0usize;
                while !stop.load(Ordering::Relaxed) || !i.is_multiple_of(2) {
                    ticker.tick().await;
                    state.write(&live, std::slice::from_ref(&nth_change(&background, i)), &author).await?;
                    done.fetch_add(1, Ordering::Relaxed);
                    i += 1;
                }
                anyhow::Ok(())
            })
        };
        let busy_start = Instant::now();
        let busy = timed_checks(&router, &token, &bodies, args.check_seconds).await?;
        let background_per_s = done.load(Ordering::Relaxed) as f64 / busy_start.elapsed().as_secs_f64();
        stop.store(true, Ordering::Relaxed);
        writer.await.context("the background writer")??;
        anyhow::Ok((writes_per_s, write_times, http, idle, busy, background_per_s))
    });
    let _ = std::fs::remove_dir_all(&dir);
    let (writes_per_s, write_times, (single, http_many_per_s, many), idle, busy, background_per_s) = result?;
    let (write_times, single, many, idle, busy) = (sorted(write_times), sorted(single), sorted(many), sorted(idle), sorted(busy));
    Ok(Row {
        users,
        clients,
        writes_per_s,
        write_p50: quantile(&write_times, 0.5),
        write_p99: quantile(&write_times, 0.99),
        http_p50: quantile(&single, 0.5),
        http_p99: quantile(&single, 0.99),
        http_many_per_s,
        http_many_p50: quantile(&many, 0.5),
        http_many_p99: quantile(&many, 0.99),
        check_idle_p50: quantile(&idle, 0.5),
        check_idle_p99: quantile(&idle, 0.99),
        check_busy_p50: quantile(&busy, 0.5),
        check_busy_p99: quantile(&busy, 0.99),
        background_per_s,
    })
}

/// Measures every size and prints the write table.
pub fn run(users: &[usize], seed: u64, args: &WritesArgs, runtime: &tokio::runtime::Runtime) -> Result<()> {
    let mut rows = Vec::new();
    for &n in users {
        eprintln!("measuring writes at {n} users ...");
        rows.push(measure(n, seed, args, runtime)?);
    }
    println!(
        "| users | writers | acknowledged writes/s (in process) | write p50 / p99 (in process) | HTTP write p50 / p99 (1 client) | HTTP writes/s (writers) | HTTP write p50 / p99 (writers) | check p50 / p99 idle | check p50 / p99 with background writes | background writes/s |"
    );
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for r in &rows {
        println!(
            "| {} | {} | {:.0} | {} / {} | {} / {} | {:.0} | {} / {} | {} / {} | {} / {} | {:.0} |",
            r.users,
            r.clients,
            r.writes_per_s,
            ms(r.write_p50),
            ms(r.write_p99),
            ms(r.http_p50),
            ms(r.http_p99),
            r.http_many_per_s,
            ms(r.http_many_p50),
            ms(r.http_many_p99),
            ms(r.check_idle_p50),
            ms(r.check_idle_p99),
            ms(r.check_busy_p50),
            ms(r.check_busy_p99),
            r.background_per_s,
        );
    }
    Ok(())
}
