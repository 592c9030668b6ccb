//! The `portcullis` binary: a thin layer of commands over the library crates.
//! Errors are printed once, as a chain, and mapped to an exit code here.

mod audit_cmd;
mod audit_keys;
mod check_cmd;
mod out;
mod progress;
mod qrs_site_cmd;
mod rules_cmd;
mod serve_cmd;
mod sites_cmd;
mod test_cmd;
mod what_if_cmd;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Portcullis: authorization decisions for the Qlik Cloud access model and QSEoW security rules.
#[derive(Parser)]
#[command(name = "portcullis", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run conformance scenario files (files or folders, recursively `*.yaml`).
    Test(test_cmd::TestArgs),
    /// Decide one request on a tenant file and explain it.
    Check(check_cmd::CheckArgs),
    /// Security rules: audit, lint, check, QRS import/export, a tenant's stored sites.
    #[command(subcommand)]
    Rules(rules_cmd::RulesCommand),
    /// The audit trail: verify its hash chains and checkpoints, write checkpoints, query it, archive expired events.
    #[command(subcommand)]
    Audit(audit_cmd::AuditCommand),
    /// Run the decision server (embedded SQLite `portcullis.db` and a demo tenant by default).
    Serve(serve_cmd::ServeArgs),
    /// What a proposed set of changes would do to effective permissions, without making them.
    WhatIf(what_if_cmd::WhatIfArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Test(args) => test_cmd::run(args),
        Command::Check(args) => check_cmd::run(args),
        Command::Rules(command) => rules_cmd::run(command),
        Command::Serve(args) => serve_cmd::run(args),
        Command::Audit(command) => audit_cmd::run(command),
        Command::WhatIf(args) => what_if_cmd::run(args),
    };
    match result {
        Ok(code) => code,
        // A reader that stopped early (`| head`) took what it wanted.
        Err(error) if out::closed(&error) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::from(2)
        }
    }
}
