//! Prometheus metrics, rendered by hand in the text format: requests by route and status,
//! request latency histograms by route, decisions by outcome, committed writes and the store
//! transactions that carried them (group commit), other nodes' changes followed from the change
//! log and tenants read whole instead, each tenant's snapshot revision, and the
//! audit trail's integrity (events refused on reads, checkpoints written, chains that do not
//! check out). Counters are atomics or short critical sections; nothing here blocks a request
//! for long.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Upper bounds of the latency buckets, in seconds.
const BUCKETS: &[f64] = &[0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];

#[derive(Debug, Default, Clone)]
struct Histogram {
    counts: Vec<u64>,
    sum: f64,
    count: u64,
}

/// The server's counters.
#[derive(Debug, Default)]
pub struct Metrics {
    requests: Mutex<BTreeMap<(String, String, u16), u64>>,
    latency: Mutex<BTreeMap<String, Histogram>>,
    allowed: AtomicU64,
    denied: AtomicU64,
    writes: AtomicU64,
    write_transactions: AtomicU64,
    unreadable_audit_events: AtomicU64,
    audit_integrity_failures: AtomicU64,
    audit_checkpoints: AtomicU64,
    tenant_reloads: AtomicU64,
    changes_followed: AtomicU64,
}

/// The audit chains' state for [`Metrics::render`].
#[derive(Debug, Default)]
pub struct AuditChains {
    /// How many chains do not check out on this node.
    pub n_broken: usize,
    /// Per tenant (name), whether its chain checks out: shown to the operator only.
    pub per_tenant: Vec<(String, bool)>,
}

impl Metrics {
    /// Counts a finished request.
    pub fn record_request(&self, method: &str, route: &str, status: u16, elapsed: Duration) {
        if let Ok(mut requests) = self.requests.lock() {
            *requests.entry((method.to_owned(), route.to_owned(), status)).or_default() += 1;
        }
        if let Ok(mut latency) = self.latency.lock() {
            let histogram = latency.entry(route.to_owned()).or_insert_with(|| Histogram {
                counts: vec![0; BUCKETS.len()],
                ..Default::default()
            });
            let seconds = elapsed.as_secs_f64();
            for (bound, count) in BUCKETS.iter().zip(histogram.counts.iter_mut()) {
                if seconds <= *bound {
                    *count += 1;
                }
            }
            histogram.sum += seconds;
            histogram.count += 1;
        }
    }

    /// Counts decisions.
    pub fn record_decisions(&self, allowed: u64, denied: u64) {
        self.allowed.fetch_add(allowed, Ordering::Relaxed);
        self.denied.fetch_add(denied, Ordering::Relaxed);
    }

    /// Counts one store transaction of the write path and the writes it committed.
    pub fn record_commit(&self, writes: u64) {
        self.writes.fetch_add(writes, Ordering::Relaxed);
        self.write_transactions.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a stored audit event a listing skipped because its JSON does not parse.
    pub fn record_unreadable_audit_event(&self) {
        self.unreadable_audit_events.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a stored audit event a read refused because it fails its integrity check
    /// (altered, an edited column, unkeyed where it must be keyed, sealed with an unknown key).
    pub fn record_audit_integrity_failure(&self) {
        self.audit_integrity_failures.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a checkpoint written to the checkpoint file.
    pub fn record_checkpoint(&self) {
        self.audit_checkpoints.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a tenant read whole from the store to catch up (not its first load).
    pub fn record_reload(&self) {
        self.tenant_reloads.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts changes of other nodes applied from the change log.
    pub fn record_followed(&self, changes: u64) {
        self.changes_followed.fetch_add(changes, Ordering::Relaxed);
    }

    /// Tenants read whole to catch up, and changes applied from the log, so far.
    pub fn followed(&self) -> (u64, u64) {
        (self.tenant_reloads.load(Ordering::Relaxed), self.changes_followed.load(Ordering::Relaxed))
    }

    /// Writes committed so far, and the store transactions that carried them.
    pub fn commits(&self) -> (u64, u64) {
        (self.writes.load(Ordering::Relaxed), self.write_transactions.load(Ordering::Relaxed))
    }

    /// The text exposition, with the revisions of the tenants given and the audit chains' state.
    pub fn render(&self, revisions: &[(String, u64)], chains: &AuditChains) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "# HELP portcullis_http_requests_total HTTP requests by method, route and status.");
        let _ = writeln!(out, "# TYPE portcullis_http_requests_total counter");
        if let Ok(requests) = self.requests.lock() {
            for ((method, route, status), count) in requests.iter() {
                let _ = writeln!(
                    out,
                    "portcullis_http_requests_total{{method=\"{method}\",route=\"{}\",status=\"{status}\"}} {count}",
                    escape(route)
                );
            }
        }
        let _ = writeln!(out, "# HELP portcullis_http_request_duration_seconds HTTP request latency by route.");
        let _ = writeln!(out, "# TYPE portcullis_http_request_duration_seconds histogram");
        if let Ok(latency) = self.latency.lock() {
            for (route, histogram) in latency.iter() {
                let route = escape(route);
                for (bound, count) in BUCKETS.iter().zip(&histogram.counts) {
                    let _ = writeln!(
                        out,
                        "portcullis_http_request_duration_seconds_bucket{{route=\"{route}\",le=\"{bound}\"}} {count}"
                    );
                }
                let _ = writeln!(
                    out,
                    "portcullis_http_request_duration_seconds_bucket{{route=\"{route}\",le=\"+Inf\"}} {}",
                    histogram.count
                );
                let _ = writeln!(out, "portcullis_http_request_duration_seconds_sum{{route=\"{route}\"}} {}", histogram.sum);
                let _ = writeln!(
                    out,
                    "portcullis_http_request_duration_seconds_count{{route=\"{route}\"}} {}",
                    histogram.count
                );
            }
        }
        let _ = writeln!(out, "# HELP portcullis_decisions_total Decisions made, by outcome.");
        let _ = writeln!(out, "# TYPE portcullis_decisions_total counter");
        let _ = writeln!(
            out,
            "portcullis_decisions_total{{decision=\"allow\"}} {}",
            self.allowed.load(Ordering::Relaxed)
        );
        let _ = writeln!(
            out,
            "portcullis_decisions_total{{decision=\"deny\"}} {}",
            self.denied.load(Ordering::Relaxed)
        );
        let (writes, transactions) = self.commits();
        let _ = writeln!(
            out,
            "# HELP portcullis_writes_total Writes committed to the store (each with its own revision)."
        );
        let _ = writeln!(out, "# TYPE portcullis_writes_total counter");
        let _ = writeln!(out, "portcullis_writes_total {writes}");
        let _ = writeln!(
            out,
            "# HELP portcullis_write_transactions_total Store transactions that committed writes (concurrent writes share one)."
        );
        let _ = writeln!(out, "# TYPE portcullis_write_transactions_total counter");
        let _ = writeln!(out, "portcullis_write_transactions_total {transactions}");
        let (reloads, followed) = self.followed();
        let _ = writeln!(
            out,
            "# HELP portcullis_tenant_reloads_total Tenants read whole from the store to catch up (when the change log could not bring them)."
        );
        let _ = writeln!(out, "# TYPE portcullis_tenant_reloads_total counter");
        let _ = writeln!(out, "portcullis_tenant_reloads_total {reloads}");
        let _ = writeln!(
            out,
            "# HELP portcullis_changes_followed_total Changes made through a different node, applied here from the change log."
        );
        let _ = writeln!(out, "# TYPE portcullis_changes_followed_total counter");
        let _ = writeln!(out, "portcullis_changes_followed_total {followed}");
        let _ = writeln!(
            out,
            "# HELP portcullis_audit_events_unreadable_total Stored audit events skipped by a listing because they do not parse."
        );
        let _ = writeln!(out, "# TYPE portcullis_audit_events_unreadable_total counter");
        let _ = writeln!(
            out,
            "portcullis_audit_events_unreadable_total {}",
            self.unreadable_audit_events.load(Ordering::Relaxed)
        );
        let _ = writeln!(
            out,
            "# HELP portcullis_audit_integrity_failures_total Stored audit events a read refused because they fail their integrity check."
        );
        let _ = writeln!(out, "# TYPE portcullis_audit_integrity_failures_total counter");
        let _ = writeln!(
            out,
            "portcullis_audit_integrity_failures_total {}",
            self.audit_integrity_failures.load(Ordering::Relaxed)
        );
        let _ = writeln!(
            out,
            "# HELP portcullis_audit_checkpoints_total Signed audit checkpoints written to the checkpoint file."
        );
        let _ = writeln!(out, "# TYPE portcullis_audit_checkpoints_total counter");
        let _ = writeln!(
            out,
            "portcullis_audit_checkpoints_total {}",
            self.audit_checkpoints.load(Ordering::Relaxed)
        );
        let _ = writeln!(
            out,
            "# HELP portcullis_audit_chains_broken Tenants whose audit chain does not check out on this node (see the log)."
        );
        let _ = writeln!(out, "# TYPE portcullis_audit_chains_broken gauge");
        let _ = writeln!(out, "portcullis_audit_chains_broken {}", chains.n_broken);
        if !chains.per_tenant.is_empty() {
            let _ = writeln!(
                out,
                "# HELP portcullis_audit_chain_ok Whether each tenant's audit chain checks out on this node (1) or not (0)."
            );
            let _ = writeln!(out, "# TYPE portcullis_audit_chain_ok gauge");
            for (tenant, ok) in &chains.per_tenant {
                let _ = writeln!(out, "portcullis_audit_chain_ok{{tenant=\"{}\"}} {}", escape(tenant), u8::from(*ok));
            }
        }
        let _ = writeln!(
            out,
            "# HELP portcullis_snapshot_revision The revision of each tenant's snapshot on this node."
        );
        let _ = writeln!(out, "# TYPE portcullis_snapshot_revision gauge");
        for (tenant, revision) in revisions {
            let _ = writeln!(out, "portcullis_snapshot_revision{{tenant=\"{}\"}} {revision}", escape(tenant));
        }
        out
    }
}

fn escape(label: &str) -> String {
    label.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}
