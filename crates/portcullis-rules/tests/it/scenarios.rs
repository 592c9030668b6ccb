//! Runs the `model: rules` scenario files of `test_data/scenarios` (and the shared conformance
//! scenarios when the shared folder sits beside the repository) through the conformance
//! crate's scenario interpreter, in process: one reader of the format for every runner.

use std::path::Path;

use portcullis_conformance::{InProcess, collect_scenario_files, run_file};

/// Runs every scenario under `dir`; returns the reports of those that failed, and how many checks ran.
fn check(dir: &Path) -> (String, usize) {
    let files = collect_scenario_files(&[dir.to_path_buf()]).expect("the scenario folder lists");
    assert!(!files.is_empty(), "no scenarios under {}", dir.display());
    let mut target = InProcess::default();
    let mut failures = String::new();
    let mut n_checks = 0;
    for file in &files {
        let report = run_file(&mut target, file);
        n_checks += report.n_passed + report.failures.len();
        if !report.passed() {
            failures.push_str(&report.render());
        }
    }
    (failures, n_checks)
}

#[test]
fn own_scenarios_pass() {
    let (failures, n_checks) = check(&Path::new(env!("CARGO_MANIFEST_DIR")).join("test_data/scenarios"));
    assert!(failures.is_empty(), "{failures}");
    assert!(n_checks >= 45, "only {n_checks} checks ran");
}

#[test]
fn shared_conformance_scenarios_pass() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/conformance/rules");
    if !dir.is_dir() {
        println!("note: {} not found; skipping the shared rule scenarios", dir.display());
        return;
    }
    let (failures, _) = check(&dir);
    assert!(failures.is_empty(), "{failures}");
}
