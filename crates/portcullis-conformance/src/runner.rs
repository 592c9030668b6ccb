//! Finds scenario files, reads them and hands each to the interpreter with a target.

use std::path::{Path, PathBuf};

use portcullis_model::source::{LineIndex, SourcePath};

use crate::interpreter::{Target, run};
use crate::report::{ScenarioReport, load_failure};

/// Scenarios that we believe are wrong, kept failing on purpose: (file name, reason).
/// Empty today: every shared scenario is expected to pass.
pub const EXPECTED_FAILURES: &[(&str, &str)] = &[];

/// A scenario file's text with its line index, so every error can name file and line.
#[derive(Debug)]
pub struct SourceFile {
    /// The path as given.
    pub label: String,
    /// The whole text.
    pub text: String,
    /// Positions of every node.
    pub lines: LineIndex,
}

impl SourceFile {
    /// Wraps text read from `label`.
    pub fn new(label: impl Into<String>, text: impl Into<String>) -> Self {
        let text = text.into();
        let lines = LineIndex::build(&text);
        SourceFile {
            label: label.into(),
            text,
            lines,
        }
    }

    /// `file:line:col` of a node, or just the file when the node is not found.
    pub fn locate(&self, path: &SourcePath) -> String {
        match self.lines.locate(path) {
            Some(pos) => format!("{}:{}", self.label, pos),
            None => self.label.clone(),
        }
    }

    /// A structural (serde) error with the file name in front of serde's own position.
    pub fn decode_error(&self, error: &serde_norway::Error) -> String {
        match error.location() {
            Some(loc) => format!("{}:{}:{}: {}", self.label, loc.line(), loc.column(), strip_location(&error.to_string())),
            None => format!("{}: {error}", self.label),
        }
    }
}

/// serde's message repeats the position at its end; we already put it in front.
fn strip_location(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(cut) => message[..cut].to_owned(),
        None => message.to_owned(),
    }
}

/// Every `*.yaml` / `*.yml` file under the given paths (files are taken as they are), sorted.
pub fn collect_scenario_files(paths: &[PathBuf]) -> std::io::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for path in paths {
        if path.is_dir() {
            walk(path, &mut files)?;
        } else {
            files.push(path.clone());
        }
    }
    Ok(files)
}

fn walk(dir: &Path, files: &mut Vec<PathBuf>) -> std::io::Result<()> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)?.collect::<Result<_, _>>()?;
    entries.sort_by_key(|e| e.path());
    for entry in entries {
        let path = entry.path();
        if path.is_dir() {
            walk(&path, files)?;
        } else if matches!(path.extension().and_then(|e| e.to_str()), Some("yaml" | "yml")) {
            files.push(path);
        }
    }
    Ok(())
}

/// The totals of a run, counted in checks.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct RunSummary {
    /// Checks that passed.
    pub n_passed: usize,
    /// Checks that failed, outside the expected-failures list.
    pub n_failed: usize,
    /// Checks that failed in scenarios on the expected-failures list.
    pub n_expected_failed: usize,
}

impl RunSummary {
    /// Adds one scenario's counts.
    pub fn add(&mut self, report: &ScenarioReport) {
        self.n_passed += report.n_passed;
        if report.expected_failure.is_some() {
            self.n_expected_failed += report.failures.len();
        } else {
            self.n_failed += report.failures.len();
        }
    }

    /// The closing line: `N passed, N failed`.
    pub fn closing_line(&self) -> String {
        format!("{} passed, {} failed", self.n_passed, self.n_failed)
    }
}

/// Reads and runs one scenario file against a target.
pub fn run_file(target: &mut dyn Target, path: &Path) -> ScenarioReport {
    let label = path.display().to_string();
    let mut report = match std::fs::read_to_string(path) {
        Ok(text) => run(target, &SourceFile::new(label.clone(), text)),
        Err(error) => load_failure(&label, &label, format!("{label}: cannot read the file: {error}")),
    };
    let file_name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default();
    report.expected_failure = EXPECTED_FAILURES.iter().find(|(name, _)| *name == file_name).map(|(_, reason)| *reason);
    report
}
