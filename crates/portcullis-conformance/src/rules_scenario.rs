//! Runs `model: rules` scenarios (security-rule sites) through `portcullis-rules`.

use crate::report::ScenarioReport;
use crate::runner::{SourceFile, load_failure};

/// Runs one rules scenario.
pub fn run(source: &SourceFile, name: String) -> ScenarioReport {
    load_failure(&source.label, &name, "rule scenarios are not supported yet".into())
}
