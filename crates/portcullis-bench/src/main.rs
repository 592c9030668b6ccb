//! The `portcullis-bench` binary: `generate` a workload (and write it as a tenant file),
//! `compare` Portcullis with Cedar on it, `load` a running server over HTTP, `scale` the cost
//! around decisions at two tenant sizes, drive several `nodes` on one database, time a `what-if`.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
#[cfg(feature = "cedar")]
use portcullis_bench::compare::{self, CompareOptions};
use portcullis_bench::requests::{self, Bias, Mix, Target, TenantIndex};
use portcullis_bench::workload::{self, Shape};
use portcullis_bench::{load, scale, tenant_file};

#[derive(Parser)]
#[command(name = "portcullis-bench", about = "Portcullis benchmarks: workloads, Cedar side by side, HTTP load")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(clap::Args, Clone)]
struct ShapeArgs {
    /// Users (the other counts scale with it unless given).
    #[arg(long, default_value_t = 100_000)]
    users: usize,
    /// Groups (default: users / 20).
    #[arg(long)]
    groups: Option<usize>,
    /// Custom roles.
    #[arg(long, default_value_t = 50)]
    roles: usize,
    /// Spaces of all three types (default: users / 50).
    #[arg(long)]
    spaces: Option<usize>,
    /// Apps and data connections (default: users × 10).
    #[arg(long)]
    content: Option<usize>,
    /// OAuth clients.
    #[arg(long, default_value_t = 100)]
    clients: usize,
    /// The seed: the same seed and counts give the same tenant.
    #[arg(long, default_value_t = 1)]
    seed: u64,
}

impl ShapeArgs {
    fn shape(&self) -> Shape {
        let scaled = Shape::scaled(self.users, self.seed);
        Shape {
            groups: self.groups.unwrap_or(scaled.groups),
            custom_roles: self.roles,
            spaces: self.spaces.unwrap_or(scaled.spaces),
            content: self.content.unwrap_or(scaled.content),
            clients: self.clients,
            ..scaled
        }
    }
}

#[derive(Subcommand)]
enum Command {
    /// Generates a tenant (and optionally a request mix) and prints its size.
    Generate {
        #[command(flatten)]
        shape: ShapeArgs,
        /// Write the tenant as a tenant file (YAML) here.
        #[arg(long)]
        tenant_file: Option<PathBuf>,
        /// Write this many requests as JSON lines (`user`, `via`, `action`, `resource`) here.
        #[arg(long)]
        requests: Option<PathBuf>,
        /// How many requests.
        #[arg(long, default_value_t = 10_000)]
        n_requests: usize,
        /// Which actions the requests ask about.
        #[arg(long, value_enum, default_value_t = Mix::Mixed)]
        mix: Mix,
        /// Allow-heavy or deny-heavy.
        #[arg(long, value_enum, default_value_t = Bias::AllowHeavy)]
        bias: Bias,
    },
    /// Decides the same requests with Portcullis and Cedar; prints a table and the speedup.
    #[cfg(feature = "cedar")]
    Compare {
        /// A run under a minute: 10,000 users, 100,000 items.
        #[arg(long)]
        quick: bool,
        /// The seed.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Users, instead of the full (100,000) or quick (10,000) tenant.
        #[arg(long)]
        users: Option<usize>,
    },
    /// Loads a running server on loopback: single checks at a fixed rate, then batches.
    Load(load::LoadArgs),
    /// Minutes of mixed load on a running server at a fixed rate: errors and memory over time.
    Soak(portcullis_bench::soak::SoakArgs),
    /// Times loading, snapshot building and writes at two tenant sizes; prints the ratio.
    Scale(scale::ScaleArgs),
    /// Times a server start from an existing store, step by step.
    Startup(scale::StartupArgs),
    /// The AuthZEN subject search on the Qlik model at two tenant sizes, page by page.
    Search(portcullis_bench::search::SearchArgs),
    /// Several nodes on one database: propagation, consistency tokens, revocation, writes under faults.
    Nodes(portcullis_bench::nodes::NodesArgs),
    /// What-if: a role given to a 5,000-member group, at two tenant sizes in one run.
    WhatIf(portcullis_bench::what_if::WhatIfArgs),
    /// Access history: `asOf` and access-diff on a large tenant, by distance back.
    Asof(portcullis_bench::asof::AsOfArgs),
}

fn generate(shape: &Shape, tenant_path: Option<&PathBuf>, requests_path: Option<&PathBuf>, n: usize, mix: Mix, bias: Bias) -> Result<()> {
    let start = Instant::now();
    let tenant = workload::generate(shape);
    println!(
        "generated {} users, {} groups, {} custom roles, {} spaces ({} assignments), {} items, {} uses, {} shares, {} OAuth clients in {:.2} s",
        tenant.users.len(),
        tenant.groups.len(),
        tenant.custom_roles.len(),
        tenant.spaces.len(),
        tenant.spaces.iter().map(|s| s.members.len()).sum::<usize>(),
        tenant.content.len(),
        tenant.uses.len(),
        tenant.shares.len(),
        tenant.oauth_clients.len(),
        start.elapsed().as_secs_f64()
    );
    if let Some(path) = tenant_path {
        let start = Instant::now();
        let file = File::create(path).with_context(|| format!("creating `{}`", path.display()))?;
        let mut out = BufWriter::new(file);
        tenant_file::write_tenant(&tenant, &mut out)
            .and_then(|()| out.flush())
            .with_context(|| format!("writing `{}`", path.display()))?;
        println!("wrote tenant file `{}` in {:.2} s", path.display(), start.elapsed().as_secs_f64());
    }
    if let Some(path) = requests_path {
        let index = TenantIndex::build(&tenant);
        let work = requests::generate(&tenant, &index, mix, bias, n, shape.seed);
        let file = File::create(path).with_context(|| format!("creating `{}`", path.display()))?;
        let mut out = BufWriter::new(file);
        for request in &work {
            let via = request.via.map_client(|&c| tenant.oauth_clients[c].id.clone()).to_string();
            let resource = match request.target {
                Target::Tenant => None,
                Target::Space(s) => Some(tenant.spaces[s].id.as_str()),
                Target::Content(c) => Some(tenant.content[c].id.as_str()),
            };
            let line =
                serde_json::json!({ "user": tenant.users[request.user].id, "via": via, "action": request.action.as_str(), "resource": resource });
            writeln!(out, "{line}").with_context(|| format!("writing `{}`", path.display()))?;
        }
        out.flush().with_context(|| format!("writing `{}`", path.display()))?;
        println!("wrote {} requests ({mix:?}, {bias:?}) to `{}`", work.len(), path.display());
    }
    Ok(())
}

fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Generate {
            shape,
            tenant_file,
            requests,
            n_requests,
            mix,
            bias,
        } => generate(&shape.shape(), tenant_file.as_ref(), requests.as_ref(), n_requests, mix, bias),
        #[cfg(feature = "cedar")]
        Command::Compare { quick, seed, users } => {
            let mut options = if quick {
                CompareOptions::quick(seed)
            } else {
                CompareOptions::full(seed)
            };
            if let Some(users) = users {
                options.shape = Shape::scaled(users, seed);
            }
            compare::run(&options)
        }
        Command::Load(args) => load::run(&args),
        Command::Soak(args) => portcullis_bench::soak::run(&args),
        Command::Scale(args) => scale::run(&args),
        Command::Startup(args) => scale::startup(&args),
        Command::Search(args) => portcullis_bench::search::run(&args),
        Command::Nodes(args) => portcullis_bench::nodes::run(&args),
        Command::WhatIf(args) => portcullis_bench::what_if::run(&args),
        Command::Asof(args) => portcullis_bench::asof::run(&args),
    }
}

fn main() -> ExitCode {
    // `RUST_LOG=info` shows the server's own timings (a tenant's read and view) beside ours.
    if std::env::var_os("RUST_LOG").is_some() {
        tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_writer(std::io::stderr)
            .init();
    }
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}
