//! The scenario runner: loads scenario files (cloud tenants and rule sites, see the
//! conformance README's format), runs their checks and steps, and reports one line per
//! scenario plus a closing `N passed, N failed` line counting checks.
//!
//! It reads files (the CLI hands it paths) but holds no decision logic of its own: cloud
//! scenarios go through `portcullis-engine`, rule scenarios through `portcullis-rules`.
#![warn(missing_docs)]

pub mod cloud_scenario;
pub mod http_runner;
pub mod report;
pub mod rules_scenario;
pub mod runner;

pub use report::{CheckFailure, ScenarioReport};
pub use runner::{RunSummary, SourceFile, collect_scenario_files, run_file};
