//! `portcullis-bench scale`, management-API writes: at each tenant size, on an embedded SQLite
//! store, an administrator drives the Qlik-compatible REST API through the server's router (an
//! API key, no sockets) through the requests whose checks once asked the whole tenant: create a
//! shared space (is the name taken?), share an app in it (which app has this id?), list the
//! space's shares, delete the space (does it hold content?), create and delete a user (do they
//! own anything?) and a group (who are its members?). Each request is timed until it is answered
//! (for a write: committed, and visible on the node). Its own table, after `scale`'s.

use std::time::{Duration, Instant};

use crate::stats::{ms, quantile};
use anyhow::{Context, Result};
use axum::http::{Method, Request};
use portcullis_model::tenant::{Content, ContentKind, RoleTarget};
use portcullis_model::{Change, Tenant};
use portcullis_server::state::AppState;
use portcullis_store::Author;
use serde_json::{Value, json};

use crate::workload::{self, Shape};

/// What the management-API measurements do.
#[derive(clap::Args, Debug, Clone)]
pub struct AdminArgs {
    /// Only the management-API measurements (skip `scale`'s other tables).
    #[arg(long)]
    pub admin_only: bool,
    /// Request cycles timed per size.
    #[arg(long, default_value_t = 200)]
    pub admin_cycles: usize,
}

/// The timed requests of one cycle, in order.
const KINDS: [&str; 6] = [
    "create space",
    "share an app",
    "list its shares",
    "delete space",
    "delete user",
    "delete group",
];

/// One size's figures: p50 and p99 per request.
struct Row {
    users: usize,
    items: usize,
    per_kind: [(Duration, Duration); 6],
}

/// The router and the administrator's key.
struct Admin {
    router: axum::Router,
    token: String,
}

impl Admin {
    /// Sends one request; the status must be `expected`. Gives the time and the body.
    async fn send(&self, method: Method, path: &str, body: Option<Value>, expected: u16) -> Result<(Duration, Value)> {
        let request = Request::builder()
            .method(method.clone())
            .uri(path)
            .header("Authorization", format!("Bearer {}", self.token))
            .header("Content-Type", "application/json")
            .body(axum::body::Body::from(body.map(|b| b.to_string()).unwrap_or_default()))
            .context("a request")?;
        let start = Instant::now();
        let response = tower::ServiceExt::oneshot(self.router.clone(), request)
            .await
            .context("the router answers")?;
        let status = response.status().as_u16();
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await.context("the body")?;
        let took = start.elapsed();
        anyhow::ensure!(
            status == expected,
            "{method} {path} answered {status}, not {expected}: {}",
            String::from_utf8_lossy(&bytes)
        );
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).context("a JSON body")?
        };
        Ok((took, body))
    }
}

fn id_of(body: &Value) -> Result<String> {
    body["id"].as_str().map(str::to_owned).context("an `id` in the answer")
}

/// One cycle: the six timed requests, with untimed set-up (an app in the new space) and
/// clean-up (the app) through the write path.
async fn cycle(
    admin: &Admin,
    state: &AppState,
    live: &std::sync::Arc<portcullis_server::state::TenantState>,
    owner: &str,
    share_with: &str,
    i: usize,
) -> Result<[Duration; 6]> {
    let (create_space, space) = admin
        .send(
            Method::POST,
            "/api/v1/spaces",
            Some(json!({"name": format!("bench space {i}"), "type": "shared"})),
            201,
        )
        .await?;
    let space_id = id_of(&space)?;
    let app = format!("bench-admin-app-{i}");
    let item = Content {
        id: app.clone(),
        name: format!("Bench app {i}"),
        kind: ContentKind::App,
        space: Some(space_id.clone()),
        owner: Some(owner.to_owned()),
    };
    state.write(live, &[Change::CreateContent { item }], &Author::cli()).await?;
    let share = json!({
        "type": "user",
        "assigneeId": portcullis_qlik_api::ids::user_id(share_with),
        "resourceId": portcullis_qlik_api::ids::content_id(&app),
        "resourceType": "app",
        "roles": ["consumer"],
    });
    let shares = format!("/api/v1/spaces/{space_id}/shares");
    let (share_app, _) = admin.send(Method::POST, &shares, Some(share), 201).await?;
    let (list, listed) = admin.send(Method::GET, &shares, None, 200).await?;
    anyhow::ensure!(listed["data"].as_array().map(Vec::len) == Some(1), "the space lists one share: {listed}");
    state.write(live, &[Change::DeleteContent { id: app }], &Author::cli()).await?;
    let (delete_space, _) = admin.send(Method::DELETE, &format!("/api/v1/spaces/{space_id}"), None, 204).await?;

    let (_, user) = admin
        .send(
            Method::POST,
            "/api/v1/users",
            Some(json!({"subject": format!("bench-admin-user-{i}")})),
            201,
        )
        .await?;
    let (delete_user, _) = admin.send(Method::DELETE, &format!("/api/v1/users/{}", id_of(&user)?), None, 204).await?;
    let (_, group) = admin
        .send(
            Method::POST,
            "/api/v1/groups",
            Some(json!({"name": format!("bench admin group {i}"), "providerType": "custom"})),
            201,
        )
        .await?;
    let (delete_group, _) = admin
        .send(Method::DELETE, &format!("/api/v1/groups/{}", id_of(&group)?), None, 204)
        .await?;
    Ok([create_space, share_app, list, delete_space, delete_user, delete_group])
}

fn p50_p99(mut v: Vec<Duration>) -> (Duration, Duration) {
    v.sort();
    (quantile(&v, 0.5), quantile(&v, 0.99))
}

fn measure(users: usize, seed: u64, cycles: usize, runtime: &tokio::runtime::Runtime) -> Result<Row> {
    let tenant: Tenant = workload::generate(&Shape::scaled(users, seed));
    let items = tenant.content.len();
    let name = tenant.name.clone();
    let owner = tenant.users[0].id.clone();
    let share_with = tenant.users[1].id.clone();
    let (dir, url) = crate::scale::scratch_sqlite("scale-admin", users)?;
    let result = runtime.block_on(async {
        let (_, _, store, state) = crate::scale::import_and_start(&url, &tenant).await?;
        drop(tenant);
        let live = state.tenant_by_name(&name).await?.context("the tenant is live")?;
        let promote = Change::AssignRole {
            role: "TenantAdmin".into(),
            target: RoleTarget::User(owner.clone()),
        };
        state.write(&live, &[promote], &Author::cli()).await?;
        let (token, hash) = portcullis_server::auth::new_secret(portcullis_server::auth::API_KEY_PREFIX)
            .map_err(|e| anyhow::anyhow!("no randomness for a new secret: {e}"))?;
        let key = portcullis_store::NewApiKey {
            tenant: live.id,
            user_id: owner.clone(),
            hash,
            description: "scale-admin".into(),
            expires_at: None,
        };
        store.create_api_key(&key, &Author::cli()).await?;
        let admin = Admin {
            router: portcullis_server::app(state.clone()),
            token,
        };
        let mut times: [Vec<Duration>; 6] = Default::default();
        // Untimed cycles first: SQLite checkpoints its log after an import, and indexes built
        // on first use are built here.
        let warm_up = 10;
        for i in 0..warm_up + cycles {
            let took = cycle(&admin, &state, &live, &owner, &share_with, i).await?;
            if i >= warm_up {
                for (k, t) in took.into_iter().enumerate() {
                    times[k].push(t);
                }
            }
        }
        anyhow::Ok(times)
    });
    let _ = std::fs::remove_dir_all(&dir);
    let times = result?;
    Ok(Row {
        users,
        items,
        per_kind: times.map(p50_p99),
    })
}

/// Measures every size and prints the management-API table, with the ratio of the largest
/// size to the smallest.
pub fn run(users: &[usize], seed: u64, args: &AdminArgs, runtime: &tokio::runtime::Runtime) -> Result<()> {
    let mut rows = Vec::new();
    for &n in users {
        eprintln!("measuring management-API writes at {n} users ...");
        rows.push(measure(n, seed, args.admin_cycles, runtime)?);
    }
    let heads: Vec<String> = KINDS.iter().map(|k| format!("{k} p50 / p99")).collect();
    println!("| users | items | {} |", heads.join(" | "));
    println!("|---:|---:|{}", "---:|".repeat(KINDS.len()));
    for r in &rows {
        let times: Vec<String> = r.per_kind.iter().map(|(p50, p99)| format!("{} / {}", ms(*p50), ms(*p99))).collect();
        println!("| {} | {} | {} |", r.users, r.items, times.join(" | "));
    }
    if let (Some(small), Some(large)) = (rows.first(), rows.last())
        && rows.len() > 1
    {
        let ratio = |a: Duration, b: Duration| format!("{:.2}×", b.as_secs_f64() / a.as_secs_f64().max(1e-9));
        let ratios: Vec<String> = small
            .per_kind
            .iter()
            .zip(large.per_kind)
            .map(|(a, b)| format!("{} / {}", ratio(a.0, b.0), ratio(a.1, b.1)))
            .collect();
        println!("| ratio {}k → {}k | | {} |", small.users / 1000, large.users / 1000, ratios.join(" | "));
    }
    Ok(())
}
