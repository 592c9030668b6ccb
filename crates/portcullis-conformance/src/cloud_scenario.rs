//! Runs `model: cloud` scenarios through the engine.

use crate::report::ScenarioReport;
use crate::runner::{SourceFile, load_failure};

/// Runs one cloud scenario.
pub fn run(source: &SourceFile, name: String) -> ScenarioReport {
    load_failure(&source.label, &name, "cloud scenarios are not supported yet".into())
}
