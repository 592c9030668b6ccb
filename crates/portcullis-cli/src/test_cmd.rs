//! `portcullis test PATH...`: the scenario runner.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use portcullis_conformance::{RunSummary, collect_scenario_files, run_file};

/// Arguments of `portcullis test`.
#[derive(clap::Args)]
pub struct TestArgs {
    /// Scenario files or folders (searched recursively for `*.yaml`).
    #[arg(required = true)]
    paths: Vec<PathBuf>,
}

/// Runs every scenario and prints one line each, then `N passed, N failed`.
pub fn run(args: TestArgs) -> anyhow::Result<ExitCode> {
    let files = collect_scenario_files(&args.paths).context("cannot list the scenario files")?;
    if files.is_empty() {
        anyhow::bail!("no scenario files (*.yaml) under the given paths");
    }
    let mut summary = RunSummary::default();
    for file in &files {
        let report = run_file(file);
        print!("{}", report.render());
        summary.add(&report);
    }
    println!("{}", summary.closing_line());
    Ok(if summary.n_failed == 0 { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}
