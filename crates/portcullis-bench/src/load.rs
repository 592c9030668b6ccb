//! `portcullis-bench load`: an HTTP load test of a running server (not yet written).

use anyhow::{Result, bail};

/// Options of `load`.
#[derive(Debug, Clone, clap::Args)]
pub struct LoadArgs {
    /// The server's base URL (loopback only).
    #[arg(long)]
    pub url: String,
}

/// Runs the load test.
pub fn run(args: &LoadArgs) -> Result<()> {
    bail!("load test against `{}` is not written yet", args.url)
}
