//! `portcullis-bench nodes`: drives several running nodes on one database, each reached
//! directly and all behind one load balancer (`scripts/three-nodes.sh` starts them), and checks
//! what the change feed and consistency tokens promise:
//!
//! - `consistency`: a change made through one node is visible on every other (timed, p50/p99
//!   against a bound); a read carrying a write's revision, through the balancer or on another
//!   node, always sees the write; a revoked API key is refused on every node at once;
//! - `write`: writes through the balancer for a while (new users, one at a time), logging each
//!   one acknowledged, and counting what was refused while a node or the database was down;
//! - `verify`: every logged write is on every node, and the nodes agree on the revision.
//!
//! On loopback only; it starts and kills nothing itself.

use std::io::{BufRead, Write};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use serde_json::{Value, json};

use crate::load::{agent, loopback_only};

/// Options of `nodes`.
#[derive(Debug, Clone, clap::Args)]
pub struct NodesArgs {
    /// What to do.
    #[command(subcommand)]
    pub command: NodesCommand,
}

/// The steps of a multi-node run.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum NodesCommand {
    /// Propagation, tokens and revocation across the nodes.
    Consistency {
        /// Every node, directly (repeat; at least two).
        #[arg(long = "node", required = true)]
        nodes: Vec<String>,
        /// The load balancer in front of them.
        #[arg(long)]
        via: String,
        /// An API key of the demo tenant's `admin`.
        #[arg(long)]
        token: String,
        /// Changes in the propagation and token phases.
        #[arg(long, default_value_t = 1_000)]
        changes: usize,
        /// Revocation rounds.
        #[arg(long, default_value_t = 20)]
        revocations: usize,
        /// Fail when a change takes longer than this to be visible on every node, at p99 (ms).
        #[arg(long, default_value_t = 100)]
        max_p99_ms: u64,
    },
    /// Writes new users through the balancer for `seconds`, logging each acknowledged one.
    Write {
        /// The load balancer.
        #[arg(long)]
        via: String,
        /// An API key of the demo tenant's `admin`.
        #[arg(long)]
        token: String,
        /// How long to write.
        #[arg(long, default_value_t = 15)]
        seconds: u64,
        /// Where to log acknowledged writes (JSON lines: id, subject, revision).
        #[arg(long)]
        log: std::path::PathBuf,
    },
    /// Every acknowledged write in the log is on every node; the nodes agree on the revision.
    Verify {
        /// Every node, directly.
        #[arg(long = "node", required = true)]
        nodes: Vec<String>,
        /// An API key of the demo tenant's `admin`.
        #[arg(long)]
        token: String,
        /// The log `write` kept.
        #[arg(long)]
        log: std::path::PathBuf,
    },
}

/// Runs one step and prints its report; an error when a promise was broken.
pub fn run(args: &NodesArgs) -> Result<()> {
    match &args.command {
        NodesCommand::Consistency {
            nodes,
            via,
            token,
            changes,
            revocations,
            max_p99_ms,
        } => {
            for url in nodes.iter().chain([via]) {
                loopback_only(url)?;
            }
            if nodes.len() < 2 {
                bail!("give at least two nodes");
            }
            let client = Client::new(token);
            let p99 = propagation(&client, nodes, *changes)?;
            tokens(&client, nodes, via, *changes)?;
            revocation(&client, nodes, *revocations)?;
            if p99 > Duration::from_millis(*max_p99_ms) {
                bail!("p99 propagation {p99:?} is over the bound of {max_p99_ms} ms");
            }
            Ok(())
        }
        NodesCommand::Write { via, token, seconds, log } => {
            loopback_only(via)?;
            write(&Client::new(token), via, Duration::from_secs(*seconds), log)
        }
        NodesCommand::Verify { nodes, token, log } => {
            for url in nodes {
                loopback_only(url)?;
            }
            verify(&Client::new(token), nodes, log)
        }
    }
}

/// An HTTP client acting as one user.
struct Client {
    agent: ureq::Agent,
    auth: String,
}

/// An answer: status, `Portcullis-Revision` header, body.
struct Answer {
    status: u16,
    revision: Option<u64>,
    body: Value,
}

impl Client {
    fn new(token: &str) -> Client {
        Client {
            agent: agent(),
            auth: format!("Bearer {token}"),
        }
    }

    /// One request; `Err` only when no answer came (connection refused, reset, timeout).
    fn call(&self, method: &str, url: &str, auth: Option<&str>, min_revision: Option<u64>, body: Option<&Value>) -> Result<Answer> {
        let auth = auth.unwrap_or(&self.auth);
        let min = min_revision.map(|r| r.to_string());
        let mut response = match (method, body) {
            ("POST", Some(body)) => {
                let mut request = self.agent.post(url).header("Authorization", auth);
                if let Some(min) = &min {
                    request = request.header("Portcullis-Min-Revision", min);
                }
                request.send_json(body)
            }
            ("DELETE", _) => self.agent.delete(url).header("Authorization", auth).call(),
            _ => {
                let mut request = self.agent.get(url).header("Authorization", auth);
                if let Some(min) = &min {
                    request = request.header("Portcullis-Min-Revision", min);
                }
                request.call()
            }
        }
        .with_context(|| format!("{method} {url}"))?;
        let status = response.status().as_u16();
        let revision = response
            .headers()
            .get("portcullis-revision")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse().ok());
        let text = response.body_mut().read_to_string().unwrap_or_default();
        Ok(Answer {
            status,
            revision,
            body: serde_json::from_str(&text).unwrap_or(Value::Null),
        })
    }

    /// `POST /v1/changes`: the write's revision.
    fn change(&self, base: &str, change: &Value) -> Result<u64> {
        let answer = self.call("POST", &format!("{base}/v1/changes"), None, None, Some(change))?;
        if answer.status != 200 {
            bail!("a change through {base} answered {}: {}", answer.status, answer.body);
        }
        answer.body["revision"].as_u64().context("a write answers its revision")
    }

    /// `POST /v1/check` about bob exporting the sales dashboard: (revision, allowed).
    fn check(&self, base: &str, min_revision: Option<u64>) -> Result<(u64, bool)> {
        let ask = json!({"user": "bob", "action": "app:exportdata", "resource": "sales-dashboard", "explain": false});
        let answer = self.call("POST", &format!("{base}/v1/check"), None, min_revision, Some(&ask))?;
        if answer.status != 200 {
            bail!("a check on {base} answered {}: {}", answer.status, answer.body);
        }
        Ok((
            answer.body["revision"].as_u64().context("a decision says its revision")?,
            answer.body["allowed"].as_bool().context("a decision says allowed")?,
        ))
    }
}

/// The `i`-th change of a phase and whether bob may export after it: Exporters assigned to bob,
/// then taken back, in turn (every one touches something).
fn toggle(i: usize) -> (Value, bool) {
    if i.is_multiple_of(2) {
        (json!({"assign": {"role": "Exporters", "user": "bob"}}), true)
    } else {
        (json!({"unassign": {"role": "Exporters", "user": "bob"}}), false)
    }
}

/// Starts from bob without Exporters, whatever an earlier run left.
fn reset(client: &Client, base: &str) -> Result<()> {
    let answer = client.call("POST", &format!("{base}/v1/changes"), None, None, Some(&toggle(1).0))?;
    if answer.status != 200 {
        bail!("cannot reset the demo tenant through {base}: {} {}", answer.status, answer.body);
    }
    Ok(())
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1e3)
}

fn percentiles(mut samples: Vec<Duration>) -> (Duration, Duration, Duration) {
    samples.sort();
    let at = |q: f64| samples[((samples.len() as f64 * q) as usize).min(samples.len() - 1)];
    (at(0.5), at(0.99), samples[samples.len() - 1])
}

/// Each change through one node (in turn), timed from its acknowledgement until every other
/// node answers at its revision (each asked without a token every quarter millisecond or so); each of those
/// answers must be the change's. Returns the p99.
fn propagation(client: &Client, nodes: &[String], changes: usize) -> Result<Duration> {
    reset(client, &nodes[0])?;
    let mut waits = Vec::with_capacity(changes);
    for i in 0..changes {
        let writer = &nodes[i % nodes.len()];
        let (change, allowed) = toggle(i);
        let revision = client.change(writer, &change)?;
        let acknowledged = Instant::now();
        let seen = std::thread::scope(|scope| {
            let watchers: Vec<_> = nodes
                .iter()
                .filter(|node| *node != writer)
                .map(|node| {
                    scope.spawn(move || -> Result<Duration> {
                        loop {
                            let (at, answer) = client.check(node, None)?;
                            if at >= revision {
                                if at == revision && answer != allowed {
                                    bail!("{node} answered {answer} at revision {revision}, the change says {allowed}");
                                }
                                return Ok(acknowledged.elapsed());
                            }
                            if acknowledged.elapsed() > Duration::from_secs(5) {
                                bail!("{node} has not reached revision {revision} after 5 s");
                            }
                            // Asking without pause would take the CPU the nodes need.
                            std::thread::sleep(Duration::from_micros(250));
                        }
                    })
                })
                .collect();
            watchers
                .into_iter()
                .map(|w| w.join().unwrap_or_else(|_| Err(anyhow::anyhow!("a watcher panicked"))))
                .collect::<Result<Vec<Duration>>>()
        })?;
        waits.push(seen.into_iter().max().unwrap_or_default());
    }
    let (p50, p99, max) = percentiles(waits);
    println!(
        "propagation: {changes} changes, each through one of {} nodes: visible on every other node {} (p50), {} (p99), {} (max) after it was acknowledged",
        nodes.len(),
        ms(p50),
        ms(p99),
        ms(max)
    );
    Ok(p99)
}

/// Each change written through the balancer, then read back with its revision through the
/// balancer (another node, mostly), and through every node directly: always the write.
fn tokens(client: &Client, nodes: &[String], via: &str, changes: usize) -> Result<()> {
    reset(client, via)?;
    let mut reads = 0;
    for i in 0..changes {
        let (change, allowed) = toggle(i);
        let revision = client.change(via, &change)?;
        let targets = std::iter::once(via).chain(if i.is_multiple_of(10) {
            nodes.iter().map(String::as_str).collect()
        } else {
            Vec::new()
        });
        for target in targets {
            let (at, answer) = client.check(target, Some(revision))?;
            reads += 1;
            if at < revision {
                bail!("{target} answered at revision {at}, before the token {revision}");
            }
            if at == revision && answer != allowed {
                bail!("{target} answered {answer} at revision {revision}, the write says {allowed}");
            }
        }
    }
    println!(
        "tokens: {changes} writes through the balancer, {reads} reads with the write's revision (through the balancer, and every tenth on every node): every one saw its write"
    );
    Ok(())
}

/// A key created through the first node, used on every node, revoked through the first: then
/// every other node, asked at once and again until it refuses, is timed.
fn revocation(client: &Client, nodes: &[String], rounds: usize) -> Result<()> {
    let mut waits = Vec::new();
    let mut refused_at_once = 0;
    for round in 0..rounds {
        let made = client.call("POST", &format!("{}/v1/api-keys", nodes[0]), None, None, Some(&json!({"user": "bob"})))?;
        if made.status != 201 {
            bail!("cannot create a key: {} {}", made.status, made.body);
        }
        let (token, id) = (
            made.body["token"].as_str().context("the key's token")?.to_owned(),
            made.body["id"].as_i64().context("the key's id")?,
        );
        let auth = format!("Bearer {token}");
        for node in nodes {
            let answer = client.call("GET", &format!("{node}/v1/whoami"), Some(&auth), None, None)?;
            if answer.status != 200 {
                bail!("round {round}: the new key is refused by {node}: {}", answer.status);
            }
        }
        let revoked = client.call("DELETE", &format!("{}/v1/api-keys/{id}", nodes[0]), None, None, None)?;
        if revoked.status != 204 {
            bail!("cannot revoke the key: {} {}", revoked.status, revoked.body);
        }
        let acknowledged = Instant::now();
        for node in &nodes[1..] {
            let mut first = true;
            loop {
                let answer = client.call("GET", &format!("{node}/v1/whoami"), Some(&auth), None, None)?;
                if answer.status == 401 {
                    refused_at_once += usize::from(first);
                    waits.push(acknowledged.elapsed());
                    break;
                }
                first = false;
                if acknowledged.elapsed() > Duration::from_secs(5) {
                    bail!("round {round}: {node} still takes the revoked key after 5 s");
                }
            }
        }
    }
    let asked = waits.len();
    let (p50, p99, max) = percentiles(waits);
    println!(
        "revocation: {rounds} keys revoked through one node; the others refused them {} (p50), {} (p99), {} (max) after the revocation was acknowledged; {refused_at_once} of {asked} refused at the first request",
        ms(p50),
        ms(p99),
        ms(max)
    );
    Ok(())
}

/// Creates users `w<run>-<n>` through the balancer, one at a time, until `seconds` pass; logs
/// each acknowledged one (id, subject, revision). A refusal or a lost connection is counted and
/// the next write is another user (a write whose answer was lost may or may not be stored).
fn write(client: &Client, via: &str, seconds: Duration, log: &std::path::Path) -> Result<()> {
    let run = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis());
    let mut out = std::io::BufWriter::new(std::fs::File::create(log).with_context(|| format!("creating `{}`", log.display()))?);
    let started = Instant::now();
    let (mut acknowledged, mut lost) = (0u64, 0u64);
    let mut refused: std::collections::BTreeMap<u16, u64> = std::collections::BTreeMap::new();
    let mut longest_gap = Duration::ZERO;
    // (seconds into the run, what happened) for every refusal, lost answer and long wait.
    let mut events: Vec<(f64, String)> = Vec::new();
    let mut last_ack = Instant::now();
    let mut n = 0u64;
    while started.elapsed() < seconds {
        n += 1;
        let subject = format!("w{run}-{n}");
        match client.call(
            "POST",
            &format!("{via}/api/v1/users"),
            None,
            None,
            Some(&json!({"subject": subject, "name": subject})),
        ) {
            Ok(answer) if answer.status == 201 => {
                let id = answer.body["id"].as_str().context("a created user has an id")?;
                let revision = answer.revision.context("a management write says its revision")?;
                writeln!(out, "{}", json!({"id": id, "subject": subject, "revision": revision}))?;
                out.flush()?;
                acknowledged += 1;
                if last_ack.elapsed() > Duration::from_millis(200) {
                    events.push((started.elapsed().as_secs_f64(), format!("acknowledged after {}", ms(last_ack.elapsed()))));
                }
                longest_gap = longest_gap.max(last_ack.elapsed());
                last_ack = Instant::now();
            }
            Ok(answer) => {
                *refused.entry(answer.status).or_default() += 1;
                events.push((started.elapsed().as_secs_f64(), format!("{} {}", answer.status, answer.body)));
                std::thread::sleep(Duration::from_millis(20));
            }
            Err(error) => {
                lost += 1;
                events.push((started.elapsed().as_secs_f64(), format!("no answer: {error:#}")));
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    }
    println!(
        "writes: {acknowledged} acknowledged in {:.1} s, refused by status {refused:?}, {lost} without an answer; longest time without an acknowledged write {}",
        started.elapsed().as_secs_f64(),
        ms(longest_gap)
    );
    let shown = 12;
    for (at, what) in events.iter().take(shown) {
        println!("  {at:6.2} s: {what}");
    }
    if events.len() > shown {
        println!("  ... and {} more", events.len() - shown);
    }
    Ok(())
}

/// Every logged user is on every node (asked with the highest logged revision), and every node
/// holds the same revision once asked without a token (within 5 s).
fn verify(client: &Client, nodes: &[String], log: &std::path::Path) -> Result<()> {
    let file = std::fs::File::open(log).with_context(|| format!("opening `{}`", log.display()))?;
    let mut written = Vec::new();
    for line in std::io::BufReader::new(file).lines() {
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        let entry: Value = serde_json::from_str(&line).context("a log line")?;
        written.push((
            entry["id"].as_str().context("an id")?.to_owned(),
            entry["revision"].as_u64().context("a revision")?,
        ));
    }
    if written.is_empty() {
        bail!("no acknowledged write in `{}`", log.display());
    }
    let highest = written.iter().map(|(_, r)| *r).max().unwrap_or(0);
    for node in nodes {
        for (id, _) in &written {
            let answer = client.call("GET", &format!("{node}/api/v1/users/{id}"), None, Some(highest), None)?;
            if answer.status != 200 {
                bail!("acknowledged user {id} is not on {node}: {} {}", answer.status, answer.body);
            }
        }
    }
    let started = Instant::now();
    loop {
        let revisions = nodes
            .iter()
            .map(|node| client.check(node, None).map(|(revision, _)| revision))
            .collect::<Result<Vec<u64>>>()?;
        if revisions.iter().all(|r| *r == revisions[0] && *r >= highest) {
            println!(
                "verify: all {} acknowledged writes are on each of {} nodes; every node is at revision {}",
                written.len(),
                nodes.len(),
                revisions[0]
            );
            return Ok(());
        }
        if started.elapsed() > Duration::from_secs(5) {
            bail!("the nodes do not agree after 5 s: {revisions:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}
