//! Prometheus metrics, kept and rendered by `prometheus-client`: requests by route and status,
//! request latency histograms by route, decisions by outcome, committed writes and the store
//! transactions that carried them (group commit), other nodes' changes followed from the change
//! log and tenants read whole instead, each tenant's snapshot revision, and the audit trail's
//! integrity (events refused on reads, checkpoints written, chains that do not check out).
//!
//! Counters and histograms live as long as the server; the gauges of a scrape (the chains that
//! are broken, and the per-tenant series) are read from the server's state when it is scraped.
//! A scrape registers them all in a registry of its own, the per-tenant series only when the
//! operator asks, and encodes it in the Prometheus text format (0.0.4). Recording is an atomic
//! add (a family's label set is found under a read lock); nothing here blocks a request for long.

use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

/// The `Content-Type` of what [`Metrics::render`] writes.
pub const CONTENT_TYPE: &str = prometheus_client::encoding::prometheus_text::CONTENT_TYPE;

/// Upper bounds of the latency buckets, in seconds.
const BUCKETS: &[f64] = &[0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];

/// A request's series.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct RequestLabels {
    method: String,
    route: String,
    status: u16,
}

/// A route's latency series.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct RouteLabels {
    route: String,
}

/// A decision outcome's series.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct DecisionLabels {
    decision: &'static str,
}

/// A tenant's series (the operator's only).
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct TenantLabels {
    tenant: String,
}

fn latency_histogram() -> Histogram {
    Histogram::new(BUCKETS.iter().copied())
}

/// The server's counters.
#[derive(Debug)]
pub struct Metrics {
    requests: Family<RequestLabels, Counter>,
    latency: Family<RouteLabels, Histogram, fn() -> Histogram>,
    decisions: Family<DecisionLabels, Counter>,
    writes: Counter,
    write_transactions: Counter,
    unreadable_audit_events: Counter,
    audit_integrity_failures: Counter,
    audit_checkpoints: Counter,
    tenant_reloads: Counter,
    changes_followed: Counter,
}

impl Default for Metrics {
    fn default() -> Metrics {
        let decisions = Family::<DecisionLabels, Counter>::default();
        // Both outcomes are shown from the start, 0 until counted.
        for decision in ["allow", "deny"] {
            drop(decisions.get_or_create(&DecisionLabels { decision }));
        }
        Metrics {
            requests: Family::default(),
            latency: Family::new_with_constructor(latency_histogram),
            decisions,
            writes: Counter::default(),
            write_transactions: Counter::default(),
            unreadable_audit_events: Counter::default(),
            audit_integrity_failures: Counter::default(),
            audit_checkpoints: Counter::default(),
            tenant_reloads: Counter::default(),
            changes_followed: Counter::default(),
        }
    }
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
        let labels = RequestLabels {
            method: method.to_owned(),
            route: route.to_owned(),
            status,
        };
        self.requests.get_or_create(&labels).inc();
        self.latency
            .get_or_create(&RouteLabels { route: labels.route })
            .observe(elapsed.as_secs_f64());
    }

    /// Counts decisions.
    pub fn record_decisions(&self, allowed: u64, denied: u64) {
        for (decision, n) in [("allow", allowed), ("deny", denied)] {
            if n > 0 {
                self.decisions.get_or_create(&DecisionLabels { decision }).inc_by(n);
            }
        }
    }

    /// Counts one store transaction of the write path and the writes it committed.
    pub fn record_commit(&self, writes: u64) {
        self.writes.inc_by(writes);
        self.write_transactions.inc();
    }

    /// Counts a stored audit event a listing skipped because its JSON does not parse.
    pub fn record_unreadable_audit_event(&self) {
        self.unreadable_audit_events.inc();
    }

    /// Counts a stored audit event a read refused because it fails its integrity check
    /// (altered, an edited column, unkeyed where it must be keyed, sealed with an unknown key).
    pub fn record_audit_integrity_failure(&self) {
        self.audit_integrity_failures.inc();
    }

    /// Counts a checkpoint written to the checkpoint file.
    pub fn record_checkpoint(&self) {
        self.audit_checkpoints.inc();
    }

    /// Counts a tenant read whole from the store to catch up (not its first load).
    pub fn record_reload(&self) {
        self.tenant_reloads.inc();
    }

    /// Counts changes of other nodes applied from the change log.
    pub fn record_followed(&self, changes: u64) {
        self.changes_followed.inc_by(changes);
    }

    /// Tenants read whole to catch up, and changes applied from the log, so far.
    pub fn followed(&self) -> (u64, u64) {
        (self.tenant_reloads.get(), self.changes_followed.get())
    }

    /// Writes committed so far, and the store transactions that carried them.
    pub fn commits(&self) -> (u64, u64) {
        (self.writes.get(), self.write_transactions.get())
    }

    /// The text exposition, with the revisions of the tenants given and the audit chains'
    /// state; the per-tenant series appear only when `revisions` or `chains.per_tenant` hold
    /// some (the operator's scrape).
    pub fn render(&self, revisions: &[(String, u64)], chains: &AuditChains) -> String {
        // Counter names are given without `_total`: the encoder adds it, as Prometheus names them.
        let mut registry = Registry::default();
        registry.register(
            "portcullis_http_requests",
            "HTTP requests by method, route and status",
            self.requests.clone(),
        );
        registry.register(
            "portcullis_http_request_duration_seconds",
            "HTTP request latency by route",
            self.latency.clone(),
        );
        registry.register("portcullis_decisions", "Decisions made, by outcome", self.decisions.clone());
        registry.register(
            "portcullis_writes",
            "Writes committed to the store (each with its own revision)",
            self.writes.clone(),
        );
        registry.register(
            "portcullis_write_transactions",
            "Store transactions that committed writes (concurrent writes share one)",
            self.write_transactions.clone(),
        );
        registry.register(
            "portcullis_tenant_reloads",
            "Tenants read whole from the store to catch up (when the change log could not bring them)",
            self.tenant_reloads.clone(),
        );
        registry.register(
            "portcullis_changes_followed",
            "Changes made through a different node, applied here from the change log",
            self.changes_followed.clone(),
        );
        registry.register(
            "portcullis_audit_events_unreadable",
            "Stored audit events skipped by a listing because they do not parse",
            self.unreadable_audit_events.clone(),
        );
        registry.register(
            "portcullis_audit_integrity_failures",
            "Stored audit events a read refused because they fail their integrity check",
            self.audit_integrity_failures.clone(),
        );
        registry.register(
            "portcullis_audit_checkpoints",
            "Signed audit checkpoints written to the checkpoint file",
            self.audit_checkpoints.clone(),
        );
        let broken = Gauge::<i64>::default();
        broken.set(i64::try_from(chains.n_broken).unwrap_or(i64::MAX));
        registry.register(
            "portcullis_audit_chains_broken",
            "Tenants whose audit chain does not check out on this node (see the log)",
            broken,
        );
        if !chains.per_tenant.is_empty() {
            let chain_ok = Family::<TenantLabels, Gauge>::default();
            for (tenant, ok) in &chains.per_tenant {
                chain_ok.get_or_create(&TenantLabels { tenant: tenant.clone() }).set(i64::from(*ok));
            }
            registry.register(
                "portcullis_audit_chain_ok",
                "Whether each tenant's audit chain checks out on this node (1) or not (0)",
                chain_ok,
            );
        }
        if !revisions.is_empty() {
            let revision = Family::<TenantLabels, Gauge>::default();
            for (tenant, at) in revisions {
                revision
                    .get_or_create(&TenantLabels { tenant: tenant.clone() })
                    .set(i64::try_from(*at).unwrap_or(i64::MAX));
            }
            registry.register(
                "portcullis_snapshot_revision",
                "The revision of each tenant's snapshot on this node",
                revision,
            );
        }
        let mut out = String::new();
        // Writing to a String cannot fail; a metric's own encoder failing would leave the rest out.
        if let Err(error) = prometheus_client::encoding::prometheus_text::encode(&mut out, &registry) {
            tracing::error!(%error, "metrics could not be encoded");
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_series_keep_their_names_and_labels_and_tenants_only_when_given() {
        let metrics = Metrics::default();
        let fresh = metrics.render(&[], &AuditChains::default());
        assert!(fresh.contains("portcullis_decisions_total{decision=\"allow\"} 0"), "{fresh}");
        metrics.record_request("GET", "/v1/check", 200, Duration::from_millis(3));
        metrics.record_request("GET", "/v1/check", 200, Duration::from_secs(20));
        metrics.record_decisions(2, 1);
        metrics.record_commit(3);
        metrics.record_followed(5);
        let public = metrics.render(
            &[],
            &AuditChains {
                n_broken: 1,
                per_tenant: Vec::new(),
            },
        );
        for needle in [
            "# TYPE portcullis_http_requests_total counter",
            "portcullis_http_requests_total{method=\"GET\",route=\"/v1/check\",status=\"200\"} 2",
            "# TYPE portcullis_http_request_duration_seconds histogram",
            "portcullis_http_request_duration_seconds_bucket{route=\"/v1/check\",le=\"0.0025\"} 0",
            "portcullis_http_request_duration_seconds_bucket{route=\"/v1/check\",le=\"0.005\"} 1",
            "portcullis_http_request_duration_seconds_bucket{route=\"/v1/check\",le=\"10\"} 1",
            "portcullis_http_request_duration_seconds_bucket{route=\"/v1/check\",le=\"+Inf\"} 2",
            "portcullis_http_request_duration_seconds_count{route=\"/v1/check\"} 2",
            "portcullis_decisions_total{decision=\"allow\"} 2",
            "portcullis_decisions_total{decision=\"deny\"} 1",
            "portcullis_writes_total 3",
            "portcullis_write_transactions_total 1",
            "portcullis_changes_followed_total 5",
            "portcullis_tenant_reloads_total 0",
            "portcullis_audit_chains_broken 1",
            "# HELP portcullis_audit_chains_broken Tenants whose audit chain does not check out on this node (see the log).\n",
        ] {
            assert!(public.contains(needle), "missing `{needle}` in:\n{public}");
        }
        assert!(!public.contains("tenant="), "{public}");
        let operator = metrics.render(
            &[("demo".to_owned(), 7)],
            &AuditChains {
                n_broken: 1,
                per_tenant: vec![("demo".to_owned(), false), ("other \"x\"".to_owned(), true)],
            },
        );
        for needle in [
            "portcullis_snapshot_revision{tenant=\"demo\"} 7",
            "portcullis_audit_chain_ok{tenant=\"demo\"} 0",
            "portcullis_audit_chain_ok{tenant=\"other \\\"x\\\"\"} 1",
        ] {
            assert!(operator.contains(needle), "missing `{needle}` in:\n{operator}");
        }
    }
}
