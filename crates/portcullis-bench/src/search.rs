//! `portcullis-bench search`: the AuthZEN subject search on the Qlik model at two tenant
//! sizes (10k and 100k users by default): "who can export data from this app", paged through
//! to the end with pages of 1,000, each page timed through the server's router (an API key
//! of a TenantAdmin, no sockets) until its JSON is read.
//!
//! The app is the one with the most candidate users among a sample of the tenant's apps
//! (members of its space, of its space's groups, sharees, administrators), so the search has
//! the most to decide. For comparison, the same question is paged through `/v1/list-users`,
//! which decides for every user of the tenant; and a tenant-level question (who may create a
//! shared space) shows the subject search where every user is a candidate.

use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use axum::http::Request;
use portcullis_engine::{Resource, Snapshot, candidate_users};
use portcullis_model::tenant::{ContentKind, RoleTarget};
use portcullis_model::{Change, Tenant};
use portcullis_store::Author;
use serde_json::{Value, json};

use crate::stats::{ms, quantile};
use crate::workload::{self, Shape};

/// What `search` measures.
#[derive(clap::Args, Debug, Clone)]
pub struct SearchArgs {
    /// Tenant sizes, in users (items are ten per user).
    #[arg(long, value_delimiter = ',', default_values_t = [10_000usize, 100_000])]
    pub users: Vec<usize>,
    /// The workload's seed.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Results per page.
    #[arg(long, default_value_t = 1_000)]
    pub limit: usize,
    /// Times each question is paged through (the figures are over every page of every run).
    #[arg(long, default_value_t = 5)]
    pub runs: usize,
}

/// The pages of one question: how many results, and each page's time.
struct Paged {
    results: usize,
    pages: Vec<Duration>,
}

impl Paged {
    fn cell(&self) -> String {
        let mut pages = self.pages.clone();
        pages.sort();
        let total: Duration = self.pages.iter().sum::<Duration>() / self.pages.len().max(1) as u32;
        format!(
            "{} / {} / {} ({} results)",
            ms(quantile(&pages, 0.5)),
            ms(pages.last().copied().unwrap_or_default()),
            ms(total),
            self.results
        )
    }
}

/// The router and a TenantAdmin's key.
struct Caller {
    router: axum::Router,
    token: String,
}

impl Caller {
    async fn post(&self, path: &str, body: &Value) -> Result<(Duration, Value)> {
        let request = Request::builder()
            .method("POST")
            .uri(path)
            .header("Authorization", format!("Bearer {}", self.token))
            .header("Content-Type", "application/json")
            .body(axum::body::Body::from(body.to_string()))
            .context("a request")?;
        let start = Instant::now();
        let response = tower::ServiceExt::oneshot(self.router.clone(), request)
            .await
            .context("the router answers")?;
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await.context("the body")?;
        let value: Value = serde_json::from_slice(&bytes).context("a JSON body")?;
        let took = start.elapsed();
        anyhow::ensure!(status.is_success(), "{path} answered {status}: {value}");
        Ok((took, value))
    }

    /// Pages through an AuthZEN subject search to its end, `runs` times.
    async fn subject_search(&self, mut request: Value, limit: usize, runs: usize) -> Result<Paged> {
        let mut pages = Vec::new();
        let mut results = 0;
        for _ in 0..runs {
            results = 0;
            request["page"] = json!({ "limit": limit });
            loop {
                let (took, body) = self.post("/access/v1/search/subject", &request).await?;
                pages.push(took);
                results += body["results"].as_array().map_or(0, Vec::len);
                match body["page"]["next_token"].as_str() {
                    Some(next) if !next.is_empty() => request["page"]["token"] = next.into(),
                    _ => break,
                }
            }
        }
        Ok(Paged { results, pages })
    }

    /// Pages through `/v1/list-users` (a decision for every user) to its end, `runs` times.
    async fn list_users(&self, action: &str, resource: &str, limit: usize, runs: usize) -> Result<Paged> {
        let mut pages = Vec::new();
        let mut results = 0;
        for _ in 0..runs {
            results = 0;
            let mut request = json!({ "action": action, "resource": resource, "limit": limit.min(1000) });
            loop {
                let (took, body) = self.post("/v1/list-users", &request).await?;
                pages.push(took);
                results += body["users"].as_array().map_or(0, Vec::len);
                match body["nextCursor"].as_str() {
                    Some(next) => request["cursor"] = next.into(),
                    None => break,
                }
            }
        }
        Ok(Paged { results, pages })
    }
}

/// The app of `tenant` with the most candidate users among every 500th app.
fn busiest_app(snapshot: &Snapshot, tenant: &Tenant) -> Option<(String, usize)> {
    tenant
        .content
        .iter()
        .filter(|item| item.kind == ContentKind::App)
        .step_by(500)
        .filter_map(|item| {
            let idx = snapshot.content_idx(&item.id)?;
            let n = candidate_users(snapshot, Resource::Content(idx)).map_or(usize::MAX, |c| c.len());
            Some((item.id.clone(), n))
        })
        .max_by_key(|(_, n)| *n)
}

/// One size's figures.
struct Row {
    users: usize,
    app: String,
    candidates: usize,
    exporters: Paged,
    decide_all: Paged,
    tenant_level: Paged,
}

fn measure(users: usize, args: &SearchArgs, runtime: &tokio::runtime::Runtime) -> Result<Row> {
    let tenant = workload::generate(&Shape::scaled(users, args.seed));
    let (app, candidates) = busiest_app(&Snapshot::build(&tenant, 0), &tenant).context("the tenant has apps")?;
    let admin = tenant.users[0].id.clone();
    let name = tenant.name.clone();
    let (dir, url) = crate::scale::scratch_sqlite("search", users)?;
    let result = runtime.block_on(async {
        let (_, _, store, state) = crate::scale::import_and_start(&url, &tenant).await?;
        let live = state.tenant_by_name(&name).await?.context("the tenant is live")?;
        let promote = Change::AssignRole {
            role: "TenantAdmin".into(),
            target: RoleTarget::User(admin.clone()),
        };
        state.write(&live, &[promote], &Author::cli()).await?;
        let (token, hash) = portcullis_server::auth::new_secret(portcullis_server::auth::API_KEY_PREFIX)
            .map_err(|e| anyhow::anyhow!("no randomness for a new secret: {e}"))?;
        let key = portcullis_store::NewApiKey {
            tenant: live.id,
            user_id: admin.clone(),
            hash,
            description: "search bench".into(),
            expires_at: None,
        };
        store.create_api_key(&key, &Author::cli()).await?;
        let caller = Caller {
            router: portcullis_server::app(state.clone()),
            token,
        };
        let exporters = json!({
            "subject": { "type": "user" },
            "action": { "name": "app:exportdata" },
            "resource": { "type": "app", "id": app },
        });
        // One untimed run first: the routes' first requests build what they build once.
        caller.subject_search(exporters.clone(), args.limit, 1).await?;
        let exporters_paged = caller.subject_search(exporters, args.limit, args.runs).await?;
        let decide_all = caller.list_users("app:exportdata", &app, args.limit, args.runs).await?;
        let creators = json!({
            "subject": { "type": "user" },
            "action": { "name": "space:create-shared" },
            "resource": { "type": "tenant", "id": name },
        });
        let tenant_level = caller.subject_search(creators, args.limit, args.runs).await?;
        anyhow::Ok((exporters_paged, decide_all, tenant_level))
    });
    let _ = std::fs::remove_dir_all(&dir);
    let (exporters, decide_all, tenant_level) = result?;
    anyhow::ensure!(
        exporters.results == decide_all.results,
        "the subject search found {} exporters, deciding for every user {}",
        exporters.results,
        decide_all.results
    );
    Ok(Row {
        users,
        app,
        candidates,
        exporters,
        decide_all,
        tenant_level,
    })
}

/// Measures every size and prints the table.
pub fn run(args: &SearchArgs) -> Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().context("a runtime")?;
    let mut rows = Vec::new();
    for &users in &args.users {
        eprintln!("measuring the AuthZEN subject search at {users} users ...");
        rows.push(measure(users, args, &runtime)?);
    }
    println!("Per page of {}: p50 / max / mean over every page of {} runs.", args.limit, args.runs);
    println!();
    println!(
        "| users | app (candidates) | who can export data: subject search | the same, deciding every user (`/v1/list-users`) | who can create a shared space: subject search (every user a candidate) |"
    );
    println!("|---:|---|---|---|---|");
    for row in &rows {
        println!(
            "| {} | `{}` ({}) | {} | {} | {} |",
            row.users,
            row.app,
            row.candidates,
            row.exporters.cell(),
            row.decide_all.cell(),
            row.tenant_level.cell()
        );
    }
    Ok(())
}
