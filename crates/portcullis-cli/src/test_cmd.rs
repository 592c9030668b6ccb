//! `portcullis test PATH...`: the scenario runner.

use crate::out::{out, put};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use portcullis_conformance::{HttpTarget, InProcess, RunSummary, Target, collect_scenario_files, run_file};

/// Arguments of `portcullis test`.
#[derive(clap::Args)]
pub struct TestArgs {
    /// Scenario files or folders (searched recursively for `*.yaml`).
    #[arg(required = true)]
    paths: Vec<PathBuf>,
    /// Run cloud scenarios through a running server's HTTP API (e.g. `http://127.0.0.1:8080`).
    #[arg(long, value_name = "URL", requires = "operator_token")]
    server: Option<String>,
    /// The operator token the server was started with (`portcullis serve --operator-token`).
    #[arg(long, value_name = "TOKEN")]
    operator_token: Option<String>,
}

/// Runs every scenario and prints one line each, then `N passed, N failed`.
pub fn run(args: TestArgs) -> anyhow::Result<ExitCode> {
    let files = collect_scenario_files(&args.paths).context("cannot list the scenario files")?;
    if files.is_empty() {
        anyhow::bail!("no scenario files (*.yaml) under the given paths");
    }
    let mut target: Box<dyn Target> = match (&args.server, &args.operator_token) {
        (Some(server), Some(token)) => Box::new(HttpTarget::new(server, token)),
        _ => Box::new(InProcess::default()),
    };
    let mut summary = RunSummary::default();
    for file in &files {
        let report = run_file(target.as_mut(), file);
        put!("{}", report.render());
        summary.add(&report);
    }
    out!("{}", summary.closing_line());
    Ok(if summary.n_failed == 0 { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}
