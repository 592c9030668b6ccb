//! `portcullis-bench load`: an HTTP load test of a running server, on loopback only and
//! bounded in count and time. Phase 1 sends single `POST /v1/check` requests at a fixed rate
//! (open loop: a late answer does not slow the schedule, so queueing shows in the latency)
//! and reports checks/s and p50/p99; phase 2 sends `POST /v1/check/batch` with many checks
//! per call and reports decisions/s. It starts nothing itself: point it at a server, e.g.
//! `portcullis serve` with the demo tenant and `--api-key admin=TOKEN`.

use std::net::{IpAddr, ToSocketAddrs};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use serde_json::{Value, json};

use crate::stats::Summary;

/// Options of `load`.
#[derive(Debug, Clone, clap::Args)]
pub struct LoadArgs {
    /// The server's base URL; must resolve to a loopback address.
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    pub url: String,
    /// An API key of a user who may ask about others (the demo tenant's `admin`).
    #[arg(long)]
    pub token: String,
    /// Target rate of single checks, per second, over all threads.
    #[arg(long, default_value_t = 10_000)]
    pub rate: u32,
    /// Seconds of the single-check phase (at most 120).
    #[arg(long, default_value_t = 10)]
    pub seconds: u64,
    /// Client threads.
    #[arg(long, default_value_t = 4)]
    pub threads: usize,
    /// Checks per batch request.
    #[arg(long, default_value_t = 10_000)]
    pub batch_size: usize,
    /// Batch requests in the batch phase (at most 1,000).
    #[arg(long, default_value_t = 20)]
    pub batches: usize,
    /// JSON check bodies to cycle through, one per line (`{"user","action","resource"}`);
    /// the default is a mix of allows and denies on the demo tenant.
    #[arg(long)]
    pub checks: Option<std::path::PathBuf>,
}

/// Demo-tenant checks: allows and denies, content and tenant actions.
pub(crate) fn demo_checks() -> Vec<Value> {
    let mut checks = Vec::new();
    for user in ["ann", "bob", "carl", "admin", "dana"] {
        for (action, resource) in [
            ("app:read", Some("sales-dashboard")),
            ("app:exportdata", Some("sales-dashboard")),
            ("app:read", Some("budget")),
            ("app:reload", Some("budget")),
            ("app:read", Some("forecast")),
            ("space:read", Some("finance-team")),
            ("space:create-shared", None),
        ] {
            checks.push(json!({"user": user, "action": action, "resource": resource}));
        }
    }
    checks
}

/// Open-loop pacing: sleeps until `next`, or, when the client is already past it, says whether
/// it is more than 100 ms late (counted, never made up for by skipping).
pub(crate) fn wait_until(next: Instant) -> bool {
    let now = Instant::now();
    if next > now {
        std::thread::sleep(next - now);
        false
    } else {
        now - next > Duration::from_millis(100)
    }
}

/// Refuses a URL that is not on this machine: the load commands only target loopback.
pub(crate) fn loopback_only(url: &str) -> Result<()> {
    let rest = url
        .strip_prefix("http://")
        .context("the URL must start with http:// (loopback, no TLS)")?;
    let host_port = rest.split('/').next().unwrap_or_default();
    let with_port = if host_port.contains(':') && !host_port.ends_with(']') {
        host_port.to_owned()
    } else {
        format!("{host_port}:80")
    };
    let addrs: Vec<IpAddr> = with_port
        .to_socket_addrs()
        .with_context(|| format!("cannot resolve `{host_port}`"))?
        .map(|a| a.ip())
        .collect();
    if addrs.is_empty() || !addrs.iter().all(IpAddr::is_loopback) {
        bail!("`{url}` is not a loopback address; the load test only targets this machine");
    }
    Ok(())
}

/// An HTTP client that returns every status instead of failing on 4xx/5xx.
pub(crate) fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(30)))
        .build()
        .into()
}

/// Runs the load test and prints its report.
pub fn run(args: &LoadArgs) -> Result<()> {
    loopback_only(&args.url)?;
    let seconds = args.seconds.clamp(1, 120);
    let batches = args.batches.clamp(1, 1_000);
    let threads = args.threads.clamp(1, 64);
    let checks = match &args.checks {
        Some(path) => std::fs::read_to_string(path)
            .with_context(|| format!("cannot read `{}`", path.display()))?
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(serde_json::from_str)
            .collect::<Result<Vec<Value>, _>>()
            .context("each line must be one JSON check")?,
        None => demo_checks(),
    };
    if checks.is_empty() {
        bail!("no checks to send");
    }
    let checks = Arc::new(checks);
    let base = args.url.trim_end_matches('/').to_owned();
    let auth = format!("Bearer {}", args.token);

    // A first request proves the URL and the key before anything is timed.
    let (status, body) = post(&agent(), &format!("{base}/v1/check"), &auth, &checks[0])?;
    if status != 200 {
        bail!("the first check answered {status}: {body}");
    }

    // Phase 1: single checks at a fixed rate, open loop.
    let per_thread_interval = Duration::from_secs_f64(threads as f64 / f64::from(args.rate.max(1)));
    let started = Instant::now();
    let deadline = started + Duration::from_secs(seconds);
    let workers: Vec<_> = (0..threads)
        .map(|t| {
            let (checks, base, auth) = (checks.clone(), base.clone(), auth.clone());
            std::thread::spawn(move || -> (Vec<f64>, usize, usize) {
                let agent = agent();
                let url = format!("{base}/v1/check");
                let (mut latencies, mut errors, mut late) = (Vec::new(), 0usize, 0usize);
                let mut next = Instant::now() + per_thread_interval.mul_f64(t as f64 / threads as f64);
                let mut i = t;
                while next < deadline {
                    late += usize::from(wait_until(next));
                    // Latency counts from the scheduled time, so a client that falls behind
                    // shows the server's queueing instead of hiding it.
                    let scheduled = next;
                    match post(&agent, &url, &auth, &checks[i % checks.len()]) {
                        Ok((200, _)) => latencies.push(scheduled.elapsed().as_secs_f64() * 1e6),
                        _ => errors += 1,
                    }
                    i += threads;
                    next += per_thread_interval;
                }
                (latencies, errors, late)
            })
        })
        .collect();
    let mut latencies = Vec::new();
    let (mut errors, mut late) = (0, 0);
    for worker in workers {
        let (l, e, la) = worker.join().map_err(|_| anyhow::anyhow!("a client thread panicked"))?;
        latencies.extend(l);
        errors += e;
        late += la;
    }
    let elapsed = started.elapsed().as_secs_f64();
    let n_single = latencies.len();
    let single = Summary::of(latencies);

    // Phase 2: batches.
    let batch: Vec<Value> = (0..args.batch_size).map(|i| checks[i % checks.len()].clone()).collect();
    let batch_body = json!({ "checks": batch });
    let agent = agent();
    let url = format!("{base}/v1/check/batch");
    let mut batch_latencies = Vec::new();
    let batch_started = Instant::now();
    for _ in 0..batches {
        let t = Instant::now();
        let (status, body) = post(&agent, &url, &auth, &batch_body)?;
        if status != 200 {
            bail!("a batch answered {status}: {body}");
        }
        batch_latencies.push(t.elapsed().as_secs_f64() * 1e3);
    }
    let batch_elapsed = batch_started.elapsed().as_secs_f64();
    let batch_summary = Summary::of(batch_latencies);

    println!("HTTP load on {base} ({threads} client threads, same machine)");
    println!("| phase | requests | decisions/s | p50 | p99 |");
    println!("|---|---:|---:|---:|---:|");
    println!(
        "| single checks at {} req/s for {seconds} s | {n_single} ({errors} errors, {late} sent >100 ms late) | {:.0} | {:.0} µs | {:.0} µs |",
        args.rate,
        n_single as f64 / elapsed,
        single.p50,
        single.p99
    );
    println!(
        "| batches of {} | {batches} | {:.0} | {:.1} ms | {:.1} ms |",
        args.batch_size,
        (batches * args.batch_size) as f64 / batch_elapsed,
        batch_summary.p50,
        batch_summary.p99
    );
    Ok(())
}

fn post(agent: &ureq::Agent, url: &str, auth: &str, body: &Value) -> Result<(u16, String)> {
    let mut response = agent
        .post(url)
        .header("Authorization", auth)
        .send_json(body)
        .with_context(|| format!("POST {url}"))?;
    let status = response.status().as_u16();
    let text = response.body_mut().read_to_string().unwrap_or_default();
    Ok((status, text))
}
