//! `portcullis rules ...`: audit and lint of security-rule sites.

use std::process::ExitCode;

/// The `rules` subcommands.
#[derive(clap::Subcommand)]
pub enum RulesCommand {
    /// Report problems in rule files.
    Lint,
}

/// Runs a `rules` subcommand.
pub fn run(command: RulesCommand) -> anyhow::Result<ExitCode> {
    match command {
        RulesCommand::Lint => anyhow::bail!("not implemented yet"),
    }
}
