//! `portcullis-bench soak`: minutes of mixed load on a running server at a fixed rate — single
//! checks, batches, writes, management API reads, API keys created and revoked, audit reads —
//! counting every unexpected answer and sampling the server's resident memory, so that "no
//! errors and flat memory over time" is a measurement, not a hope. Loopback only; it starts
//! nothing itself: point it at `portcullis serve` with the demo tenant and an administrator's key,
//! started with the management API's per-user rate limits off
//! (`PORTCULLIS_API_READS_PER_MINUTE=0 PORTCULLIS_API_WRITES_PER_MINUTE=0`): every request comes
//! from one user, whose management reads pass Qlik's 1,000 a minute from about 85 req/s on, and
//! a 429 counts as an error.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use serde_json::{Value, json};

use crate::load::{agent, demo_checks, loopback_only, wait_until};
use crate::stats::{Summary, resident_bytes_of};

/// Options of `soak`.
#[derive(Debug, Clone, clap::Args)]
pub struct SoakArgs {
    /// The server's base URL; must resolve to a loopback address.
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    pub url: String,
    /// An API key of the demo tenant's `admin`.
    #[arg(long)]
    pub token: String,
    /// The server's process id, whose resident memory is sampled.
    #[arg(long)]
    pub pid: u32,
    /// Minutes of load (at most 120).
    #[arg(long, default_value_t = 10)]
    pub minutes: u64,
    /// Requests per second over all client threads.
    #[arg(long, default_value_t = 200)]
    pub rate: u32,
    /// Client threads (1 to 4: each writes to a user of its own).
    #[arg(long, default_value_t = 4)]
    pub threads: usize,
    /// Seconds between memory samples.
    #[arg(long, default_value_t = 30)]
    pub sample_seconds: u64,
}

/// One kind of request in the mix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Check,
    Batch,
    Write,
    UsersPage,
    Me,
    KeyCycle,
    Audits,
}

impl Op {
    const ALL: [Op; 7] = [Op::Check, Op::Batch, Op::Write, Op::UsersPage, Op::Me, Op::KeyCycle, Op::Audits];

    fn label(self) -> &'static str {
        match self {
            Op::Check => "POST /v1/check",
            Op::Batch => "POST /v1/check/batch (100 checks)",
            Op::Write => "POST /v1/changes (join or leave a group)",
            Op::UsersPage => "GET /api/v1/users?limit=100",
            Op::Me => "GET /api/v1/users/me",
            Op::KeyCycle => "POST then DELETE /v1/api-keys",
            Op::Audits => "GET /api/v1/audits?limit=100",
        }
    }
}

/// The mix, repeated: 20 requests of which 8 checks, 2 batches, 3 writes, 2 user pages,
/// 2 `users/me`, 1 key created and revoked and 2 audit pages.
const CYCLE: [Op; 20] = [
    Op::Check,
    Op::Write,
    Op::Check,
    Op::UsersPage,
    Op::Check,
    Op::Batch,
    Op::Me,
    Op::Check,
    Op::Audits,
    Op::Write,
    Op::Check,
    Op::KeyCycle,
    Op::Check,
    Op::UsersPage,
    Op::Batch,
    Op::Me,
    Op::Check,
    Op::Write,
    Op::Audits,
    Op::Check,
];

/// The users the client threads move in and out of `finance`, one each.
const WRITERS: [&str; 4] = ["admin", "bob", "carl", "gateway"];

/// What one client thread saw.
#[derive(Default)]
struct Seen {
    /// Latencies in µs per op, in [`Op::ALL`] order.
    latencies: [Vec<f64>; 7],
    errors: Vec<String>,
    late: usize,
}

struct Client {
    agent: ureq::Agent,
    base: String,
    auth: String,
    checks: Arc<Vec<Value>>,
    batch: Arc<Value>,
    writer: &'static str,
    joined: bool,
}

impl Client {
    fn request(&self, method: &str, path: &str, body: Option<&Value>) -> Result<(u16, String), String> {
        let url = format!("{}{path}", self.base);
        let answer = match body {
            Some(body) => self.agent.post(&url).header("Authorization", &self.auth).send_json(body),
            None if method == "DELETE" => self.agent.delete(&url).header("Authorization", &self.auth).call(),
            None => self.agent.get(&url).header("Authorization", &self.auth).call(),
        };
        let mut response = answer.map_err(|e| format!("{method} {path}: {e}"))?;
        let status = response.status().as_u16();
        Ok((status, response.body_mut().read_to_string().unwrap_or_default()))
    }

    fn expect(&self, method: &str, path: &str, body: Option<&Value>, wanted: u16) -> Result<String, String> {
        match self.request(method, path, body)? {
            (status, text) if status == wanted => Ok(text),
            (status, text) => Err(format!("{method} {path}: {status} {}", text.chars().take(300).collect::<String>())),
        }
    }

    fn run(&mut self, op: Op, i: usize) -> Result<(), String> {
        match op {
            Op::Check => self.expect("POST", "/v1/check", Some(&self.checks[i % self.checks.len()]), 200).map(drop),
            Op::Batch => self.expect("POST", "/v1/check/batch", Some(&self.batch), 200).map(drop),
            Op::Write => {
                let verb = if self.joined { "leave" } else { "join" };
                let change = json!({ verb: {"user": self.writer, "group": "finance"} });
                self.expect("POST", "/v1/changes", Some(&change), 200)?;
                self.joined = !self.joined;
                Ok(())
            }
            Op::UsersPage => self.expect("GET", "/api/v1/users?limit=100", None, 200).map(drop),
            Op::Me => self.expect("GET", "/api/v1/users/me", None, 200).map(drop),
            Op::KeyCycle => {
                let created = self.expect("POST", "/v1/api-keys", Some(&json!({"description": "soak"})), 201)?;
                let id = serde_json::from_str::<Value>(&created)
                    .ok()
                    .map(|key| key["id"].to_string().trim_matches('"').to_owned())
                    .filter(|id| !id.is_empty() && id != "null")
                    .ok_or_else(|| format!("POST /v1/api-keys: no id in {created}"))?;
                self.expect("DELETE", &format!("/v1/api-keys/{id}"), None, 204).map(drop)
            }
            Op::Audits => self.expect("GET", "/api/v1/audits?limit=100", None, 200).map(drop),
        }
    }
}

/// Runs the soak and prints its report; fails when any request failed.
pub fn run(args: &SoakArgs) -> Result<()> {
    loopback_only(&args.url)?;
    let minutes = args.minutes.clamp(1, 120);
    let threads = args.threads.clamp(1, WRITERS.len());
    let sample_every = Duration::from_secs(args.sample_seconds.max(1));
    let start_rss = resident_bytes_of(args.pid).with_context(|| format!("cannot read the memory of process {}", args.pid))?;
    let base = args.url.trim_end_matches('/').to_owned();
    let checks = Arc::new(demo_checks());
    let batch = Arc::new(json!({ "checks": (0..100).map(|i| checks[i % checks.len()].clone()).collect::<Vec<_>>() }));

    // The writers start out of `finance` (a run stopped half way may have left one in it;
    // leaving a group one is not in is a no-op).
    let probe = agent();
    for writer in &WRITERS[..threads] {
        let mut response = probe
            .post(format!("{base}/v1/changes"))
            .header("Authorization", format!("Bearer {}", args.token))
            .send_json(json!({"leave": {"user": writer, "group": "finance"}}))
            .with_context(|| format!("POST {base}/v1/changes"))?;
        let status = response.status().as_u16();
        let text = response.body_mut().read_to_string().unwrap_or_default();
        if status != 200 {
            bail!("preparing writer `{writer}`: {status} {text}");
        }
    }

    let started = Instant::now();
    let deadline = started + Duration::from_secs(minutes * 60);
    let interval = Duration::from_secs_f64(threads as f64 / f64::from(args.rate.max(1)));
    let samples = Arc::new(Mutex::new(vec![(0.0f64, start_rss)]));
    let sampler = {
        let (samples, pid) = (samples.clone(), args.pid);
        std::thread::spawn(move || {
            let mut next = started + sample_every;
            while next <= deadline {
                std::thread::sleep(next.saturating_duration_since(Instant::now()));
                if let Some(rss) = resident_bytes_of(pid) {
                    samples.lock().expect("samples").push((started.elapsed().as_secs_f64(), rss));
                }
                next += sample_every;
            }
        })
    };
    let workers: Vec<_> = (0..threads)
        .map(|t| {
            let mut client = Client {
                agent: agent(),
                base: base.clone(),
                auth: format!("Bearer {}", args.token),
                checks: checks.clone(),
                batch: batch.clone(),
                writer: WRITERS[t],
                joined: false,
            };
            std::thread::spawn(move || {
                let mut seen = Seen::default();
                let mut next = Instant::now() + interval.mul_f64(t as f64 / threads as f64);
                let mut i = t;
                while next < deadline {
                    seen.late += usize::from(wait_until(next));
                    let op = CYCLE[i % CYCLE.len()];
                    let scheduled = next;
                    match client.run(op, i) {
                        Ok(()) => {
                            let slot = Op::ALL.iter().position(|o| *o == op).expect("every op is listed");
                            seen.latencies[slot].push(scheduled.elapsed().as_secs_f64() * 1e6);
                        }
                        Err(error) => seen.errors.push(error),
                    }
                    i += threads;
                    next += interval;
                }
                seen
            })
        })
        .collect();
    let mut seen = Seen::default();
    for worker in workers {
        let part = worker.join().map_err(|_| anyhow::anyhow!("a client thread panicked"))?;
        for (all, mine) in seen.latencies.iter_mut().zip(part.latencies) {
            all.extend(mine);
        }
        seen.errors.extend(part.errors);
        seen.late += part.late;
    }
    sampler.join().map_err(|_| anyhow::anyhow!("the memory sampler panicked"))?;
    let elapsed = started.elapsed().as_secs_f64();
    report(args, minutes, threads, elapsed, &seen, &samples.lock().expect("samples"));
    if !seen.errors.is_empty() {
        bail!("{} requests failed; the first: {}", seen.errors.len(), seen.errors[0]);
    }
    Ok(())
}

fn report(args: &SoakArgs, minutes: u64, threads: usize, elapsed: f64, seen: &Seen, samples: &[(f64, u64)]) {
    let total: usize = seen.latencies.iter().map(Vec::len).sum::<usize>() + seen.errors.len();
    println!(
        "Soak of {} for {minutes} min at {} req/s ({threads} client threads, same machine): {total} requests, {:.0}/s, {} errors, {} sent >100 ms late",
        args.url,
        args.rate,
        total as f64 / elapsed,
        seen.errors.len(),
        seen.late
    );
    println!();
    println!("| request | count | p50 | p99 |");
    println!("|---|---:|---:|---:|");
    for (op, latencies) in Op::ALL.iter().zip(&seen.latencies) {
        let summary = Summary::of(latencies.clone());
        println!("| {} | {} | {:.0} µs | {:.0} µs |", op.label(), latencies.len(), summary.p50, summary.p99);
    }
    for error in seen.errors.iter().take(5) {
        println!("error: {error}");
    }
    println!();
    println!("| minute | server RSS (MiB) |");
    println!("|---:|---:|");
    let mib = |bytes: u64| bytes as f64 / (1024.0 * 1024.0);
    for (at, rss) in samples {
        println!("| {:.1} | {:.1} |", at / 60.0, mib(*rss));
    }
    // Flat: after the first minute (caches and pools warm), the peak of the second half is
    // compared with the peak of the first half.
    let warm: Vec<&(f64, u64)> = samples.iter().filter(|(at, _)| *at >= 60.0).collect();
    if warm.len() >= 4 {
        let (first, second) = warm.split_at(warm.len() / 2);
        let peak = |part: &[&(f64, u64)]| part.iter().map(|(_, rss)| *rss).max().unwrap_or(0);
        let (a, b) = (peak(first), peak(second));
        println!();
        println!(
            "RSS peak, first half after minute 1: {:.1} MiB; second half: {:.1} MiB ({:+.1}%)",
            mib(a),
            mib(b),
            (b as f64 / a.max(1) as f64 - 1.0) * 100.0
        );
    }
}
