//! What running one scenario produced: checks passed, and each failure in words.

use std::fmt::Write as _;

/// One failed check: what was asked, what was expected, what came back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckFailure {
    /// The check in words, e.g. `bob app:exportdata sales via session (line 12)`.
    pub check: String,
    /// The expected outcome, e.g. `allow because [role:Exporters]`, or the phrases a
    /// refusal must contain.
    pub expected: String,
    /// The actual decision and its explanation, or the load error.
    pub actual: String,
}

/// The outcome of one scenario file.
#[derive(Debug, Clone, Default)]
pub struct ScenarioReport {
    /// The file as given on the command line.
    pub file: String,
    /// The scenario's `name:` (or the file name when it has none).
    pub name: String,
    /// Checks that passed.
    pub n_passed: usize,
    /// Checks that failed; a file that cannot be loaded is one failure.
    pub failures: Vec<CheckFailure>,
    /// Set when the scenario is on the runner's expected-failures list: the reason.
    pub expected_failure: Option<&'static str>,
}

impl ScenarioReport {
    /// True when every check passed.
    pub fn passed(&self) -> bool {
        self.failures.is_empty()
    }

    /// Records a check outcome.
    pub fn record(&mut self, outcome: Result<(), CheckFailure>) {
        match outcome {
            Ok(()) => self.n_passed += 1,
            Err(failure) => self.failures.push(failure),
        }
    }

    /// The report as printed by `portcullis test`: one line, then one indented block per failure.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let status = match (self.passed(), self.expected_failure) {
            (true, _) => "ok",
            (false, Some(_)) => "FAIL (expected)",
            (false, None) => "FAIL",
        };
        let _ = writeln!(
            out,
            "{status} {} — {} ({} checks)",
            self.file,
            self.name,
            self.n_passed + self.failures.len()
        );
        if let Some(reason) = self.expected_failure {
            let _ = writeln!(out, "    marked as an expected failure: {reason}");
        }
        for failure in &self.failures {
            let _ = writeln!(out, "    check:    {}", failure.check);
            let _ = writeln!(out, "    expected: {}", failure.expected);
            let _ = writeln!(out, "    actual:   {}", failure.actual);
        }
        out
    }
}

/// A report for a file that could not be loaded: one failed check carrying the message.
pub fn load_failure(file: &str, name: &str, message: String) -> ScenarioReport {
    ScenarioReport {
        file: file.to_owned(),
        name: name.to_owned(),
        n_passed: 0,
        failures: vec![CheckFailure {
            check: "load the scenario".into(),
            expected: "a valid scenario".into(),
            actual: message,
        }],
        expected_failure: None,
    }
}
