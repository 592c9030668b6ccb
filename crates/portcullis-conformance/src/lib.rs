//! The scenario runner: loads scenario files (cloud tenants and rule sites, see the
//! conformance README's format), runs their checks and steps, and reports one line per
//! scenario plus a closing `N passed, N failed` line counting checks.
//!
//! One interpreter (`interpreter.rs`) reads every scenario and drives a [`Target`]: the engine
//! and the rules crate in process ([`InProcess`]), or a running server over HTTP
//! ([`HttpTarget`]). It reads files (the CLI hands it paths) but holds no decision logic of its own.
#![warn(missing_docs)]

pub mod http_target;
pub mod in_process;
pub mod interpreter;
pub mod report;
pub mod runner;
pub mod scenario;

pub use http_target::HttpTarget;
pub use in_process::InProcess;
pub use interpreter::{Answer, LoadError, Target};
pub use report::{CheckFailure, ScenarioReport};
pub use runner::{RunSummary, SourceFile, collect_scenario_files, run_file};
