//! The one interpreter of scenarios: it reads the scenario, has a [`Target`] load its tenant
//! or site, compares a refusal with `rejects:`, asks the checks, applies the steps, and writes
//! every failure with its file:line:col. Targets only answer; what a scenario means (a
//! session check logs its user in first, what counts as a pass) is decided here, once.

use std::collections::HashSet;

use portcullis_model::Channel;
use portcullis_model::source::SourcePath;

use crate::report::{CheckFailure, ScenarioReport, load_failure};
use crate::runner::SourceFile;
use crate::scenario::{Check, Expect, Model, Scenario, Step, holds_phrase, same_word};

/// What a scenario runs against: the engine and rules crate in process
/// ([`crate::in_process::InProcess`]) or a running server ([`crate::http_target::HttpTarget`]).
/// A target holds one scenario at a time: `load` replaces the previous one.
pub trait Target {
    /// Loads the scenario's `tenant:` or `site:` from the file's text.
    fn load(&mut self, source: &SourceFile, model: Model) -> Result<(), LoadError>;

    /// Applies one step (never a `check`: the interpreter asks those).
    fn step(&mut self, step: &Step) -> Result<(), String>;

    /// Asks a check's question; an error is a question that could not be asked.
    fn ask(&mut self, check: &Check) -> Result<Answer, String>;

    /// Forgets what `load` made (a server's tenant); called after every `load`.
    fn unload(&mut self) {}
}

/// Why a tenant or site did not load.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoadError {
    /// It was refused: the message a `rejects:` is compared with.
    Refused(String),
    /// The target could not be asked (a server that does not answer): nothing was decided.
    Failed(String),
}

/// A decision as a target reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    /// Allowed or denied.
    pub allowed: bool,
    /// The explanation's tokens (`role:Exporters`, `no-grant`).
    pub tokens: Vec<String>,
    /// The decision and its explanation in words, shown when the check fails.
    pub text: String,
}

/// Runs one scenario against a target.
pub fn run(target: &mut dyn Target, source: &SourceFile) -> ScenarioReport {
    let scenario = match Scenario::parse(source) {
        Ok(scenario) => scenario,
        Err(unreadable) => {
            let name = unreadable.name.as_deref().unwrap_or(&source.label);
            return load_failure(&source.label, name, unreadable.message);
        }
    };
    let name = scenario.name.clone().unwrap_or_else(|| source.label.clone());
    let loaded = target.load(source, scenario.model);
    let report = run_loaded(target, source, &scenario, name, loaded);
    target.unload();
    report
}

fn run_loaded(target: &mut dyn Target, source: &SourceFile, scenario: &Scenario, name: String, loaded: Result<(), LoadError>) -> ScenarioReport {
    let mut report = ScenarioReport {
        file: source.label.clone(),
        name,
        ..ScenarioReport::default()
    };
    let refusal = match (loaded, &scenario.rejects) {
        (Ok(()), None) => None,
        (Ok(()), Some(phrases)) => Some((phrases, Ok(()))),
        (Err(LoadError::Refused(message)), Some(phrases)) => Some((phrases, Err(message))),
        // Nothing is to be refused, or nothing could be asked: the scenario cannot run.
        (Err(LoadError::Refused(message) | LoadError::Failed(message)), _) => return load_failure(&source.label, &report.name, message),
    };
    if let Some((phrases, loaded)) = refusal {
        report.record(expect_refusal(source, phrases.list(), loaded));
        return report;
    }
    let mut logged_in = HashSet::new();
    let root = SourcePath::root();
    for (idx, check) in scenario.checks.iter().enumerate() {
        let path = root.key("checks").index(idx);
        report.record(run_check(target, source, scenario.model, &mut logged_in, check, &path));
    }
    for (idx, step) in scenario.steps.iter().enumerate() {
        // Located at the step's key (`- join: ...`), where the step is written.
        let path = root.key("steps").index(idx).key(step.key());
        if let Step::Check(check) = step {
            report.record(run_check(target, source, scenario.model, &mut logged_in, check, &path));
            continue;
        }
        match target.step(step) {
            Ok(()) => {
                if let Step::Login(user) = step {
                    logged_in.insert(user.clone());
                }
            }
            Err(message) => report.record(Err(CheckFailure {
                check: format!("step `{}` at {}", step.key(), source.locate(&path)),
                expected: "the step applies".into(),
                actual: message,
            })),
        }
    }
    report
}

/// A `rejects:` scenario: loading must fail with every phrase in the message.
fn expect_refusal(source: &SourceFile, phrases: &[String], loaded: Result<(), String>) -> Result<(), CheckFailure> {
    let quoted: Vec<String> = phrases.iter().map(|phrase| format!("`{phrase}`")).collect();
    let fail = |actual: String| CheckFailure {
        check: format!("load {}", source.label),
        expected: format!("refused, with a message containing {}", quoted.join(", ")),
        actual,
    };
    match loaded {
        Ok(()) => Err(fail("loaded without error".into())),
        Err(message) if phrases.iter().all(|phrase| holds_phrase(&message, phrase)) => Ok(()),
        Err(message) => Err(fail(format!("refused with: {message}"))),
    }
}

fn run_check(
    target: &mut dyn Target,
    source: &SourceFile,
    model: Model,
    logged_in: &mut HashSet<String>,
    check: &Check,
    path: &SourcePath,
) -> Result<(), CheckFailure> {
    let fail = |actual: String| CheckFailure {
        check: format!("{} ({})", check.describe(), source.locate(path)),
        expected: check.expected(),
        actual,
    };
    // A session check for a user who never logged in logs them in first (a session's rights
    // are fixed at login); rule sites have no sessions.
    if model == Model::Cloud && check.channel() == Channel::Session && !logged_in.contains(&check.user) {
        target
            .step(&Step::Login(check.user.clone()))
            .map_err(|message| fail(format!("cannot log `{}` in first: {message}", check.user)))?;
        logged_in.insert(check.user.clone());
    }
    let answer = target.ask(check).map_err(fail)?;
    let missing: Vec<&str> = check
        .because
        .iter()
        .filter(|token| !answer.tokens.iter().any(|held| same_word(held, token)))
        .map(String::as_str)
        .collect();
    let verdict_matches = answer.allowed == (check.expect == Expect::Allow);
    if verdict_matches && missing.is_empty() {
        Ok(())
    } else if missing.is_empty() {
        Err(fail(answer.text))
    } else {
        Err(fail(format!("{} (missing tokens [{}])", answer.text, missing.join(", "))))
    }
}
