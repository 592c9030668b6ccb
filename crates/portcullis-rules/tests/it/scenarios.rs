//! Runs the `model: rules` scenario files of `test_data/scenarios` (and the shared conformance
//! scenarios when the shared folder sits beside the repository) through one `check` helper.

use std::path::{Path, PathBuf};

use portcullis_model::source::SourcePath;
use portcullis_rules::site_file::SiteFile;
use portcullis_rules::{Action, RequestContext};
use serde::Deserialize;

#[derive(Deserialize)]
struct Scenario {
    #[serde(default)]
    rejects: Option<serde_norway::Value>,
    #[serde(default)]
    site: SiteFile,
    #[serde(default)]
    checks: Vec<Check>,
}

#[derive(Deserialize)]
struct Check {
    user: String,
    action: String,
    resource: String,
    context: String,
    expect: String,
    #[serde(default)]
    because: Vec<String>,
}

/// Runs one scenario file; returns the failures in words.
fn check(path: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(path).expect("readable scenario");
    let scenario: Scenario = serde_norway::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let loaded = scenario.site.load(&SourcePath::root().key("site"));
    if scenario.rejects.is_some() {
        return if loaded.is_err() {
            Vec::new()
        } else {
            vec![format!("{}: loaded but should be refused", path.display())]
        };
    }
    let loaded = match loaded {
        Ok(loaded) => loaded,
        Err(errors) => return vec![format!("{}: {errors:?}", path.display())],
    };
    let site = &loaded.compiled;
    let mut failures = Vec::new();
    for check in &scenario.checks {
        let decision = site.decide(
            site.user(&check.user).expect("user"),
            site.resource(&check.resource).expect("resource"),
            Action::parse(&check.action).expect("action"),
            RequestContext::parse(&check.context).expect("context"),
        );
        let tokens: Vec<String> = decision.tokens().iter().map(|t| t.to_lowercase()).collect();
        let ok = decision.allowed == (check.expect == "allow") && check.because.iter().all(|b| tokens.contains(&b.to_lowercase()));
        if !ok {
            failures.push(format!(
                "{}: expected {} {:?}, got {decision}",
                path.display(),
                check.expect,
                check.because
            ));
        }
    }
    failures
}

fn yaml_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    files
}

#[test]
fn own_scenarios_pass() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("test_data/scenarios");
    let files = yaml_files(&dir);
    assert!(!files.is_empty());
    let failures: Vec<String> = files.iter().flat_map(|f| check(f)).collect();
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn shared_conformance_scenarios_pass() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/conformance/rules");
    if !dir.is_dir() {
        println!("note: {} not found; skipping the shared rule scenarios", dir.display());
        return;
    }
    let failures: Vec<String> = yaml_files(&dir).iter().flat_map(|f| check(f)).collect();
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
