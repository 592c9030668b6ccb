//! The conformance crate's tests: the project's own scenario corpus must pass in full, and
//! the runner must report failures, refusals and malformed files as failures; the interpreter
//! itself is tested against a fake target in `interpreter.rs`.

mod interpreter;

use std::path::{Path, PathBuf};

use portcullis_conformance::interpreter::run;
use portcullis_conformance::{InProcess, SourceFile, collect_scenario_files, run_file};

fn test_data() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("test_data")
}

/// Runs scenario text and returns (passed, failed, rendered report).
fn check(text: &str) -> (usize, usize, String) {
    let report = run(&mut InProcess::default(), &SourceFile::new("inline.yaml", text));
    (report.n_passed, report.failures.len(), report.render())
}

#[test]
fn own_corpus_passes() {
    let files = collect_scenario_files(&[test_data()]).unwrap();
    assert!(files.len() >= 12, "the corpus shrank: {} files", files.len());
    let mut failures = String::new();
    let mut n_checks = 0;
    let mut target = InProcess::default();
    for file in &files {
        let report = run_file(&mut target, file);
        n_checks += report.n_passed + report.failures.len();
        if !report.passed() {
            failures.push_str(&report.render());
        }
    }
    assert!(failures.is_empty(), "{failures}");
    assert!(n_checks >= 70, "only {n_checks} checks ran");
}

#[test]
fn shared_corpus_passes_when_present() {
    let shared = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/conformance");
    if !shared.is_dir() {
        println!("skipped: no shared conformance folder beside the repository");
        return;
    }
    let mut target = InProcess::default();
    for file in collect_scenario_files(&[shared]).unwrap() {
        let report = run_file(&mut target, &file);
        assert!(report.passed(), "{}", report.render());
    }
}

const TENANT: &str = "
tenant:
  userDefault: { in-app-content-download: not-allowed }
  users: [ { id: ann }, { id: bob } ]
  spaces:
    - { id: s, type: shared, owner: ann, members: [ { user: bob, roles: [consumer] } ] }
  content:
    - { id: app1, type: app, space: s, owner: ann }
";

#[test]
fn a_wrong_expectation_is_reported_with_the_actual_explanation() {
    let text = format!("name: wrong{TENANT}checks:\n  - {{ user: bob, action: app:exportdata, resource: app1, expect: allow }}\n");
    let (passed, failed, rendered) = check(&text);
    assert_eq!((passed, failed), (0, 1));
    assert!(rendered.contains("FAIL"), "{rendered}");
    assert!(rendered.contains("deny [space-role:consumer, user-default]"), "{rendered}");
    assert!(rendered.contains("inline.yaml:10"), "the check's line is named: {rendered}");
}

#[test]
fn a_missing_because_token_fails_the_check() {
    let text =
        format!("name: t{TENANT}checks:\n  - {{ user: bob, action: app:read, resource: app1, expect: allow, because: [space-role:producer] }}\n");
    let (_, failed, rendered) = check(&text);
    assert_eq!(failed, 1);
    assert!(rendered.contains("missing tokens"), "{rendered}");
}

#[test]
fn because_tokens_match_case_insensitively() {
    let text =
        format!("name: t{TENANT}checks:\n  - {{ user: bob, action: app:read, resource: app1, expect: allow, because: [SPACE-ROLE:Consumer] }}\n");
    assert_eq!(check(&text).0, 1);
}

#[test]
fn a_refusal_that_does_not_happen_fails() {
    let text = format!("name: t\nrejects: nothing{TENANT}");
    let (_, failed, rendered) = check(&text);
    assert_eq!(failed, 1);
    assert!(rendered.contains("loaded without error"), "{rendered}");
}

#[test]
fn a_refusal_with_other_words_fails() {
    let text = "name: t\nrejects: [carrots]\ntenant:\n  users: [ { id: ann, roles: [Nope] } ]\n";
    let (_, failed, rendered) = check(text);
    assert_eq!(failed, 1);
    assert!(rendered.contains("unknown role `Nope`"), "{rendered}");
}

#[test]
fn malformed_yaml_names_file_and_line() {
    let (_, failed, rendered) = check("name: t\ntenant:\n  users: [ { id: ann }\n");
    assert_eq!(failed, 1);
    assert!(rendered.contains("inline.yaml:"), "{rendered}");
}

#[test]
fn a_step_that_cannot_apply_is_a_failure() {
    let text = format!("name: t{TENANT}steps:\n  - unassign: {{ role: Steward, user: nobody }}\n");
    let (_, failed, rendered) = check(&text);
    assert_eq!(failed, 1);
    assert!(rendered.contains("unknown user `nobody`"), "{rendered}");
}

#[test]
fn a_step_that_changes_nothing_applies() {
    let text = format!(
        "name: t{TENANT}steps:\n  - unassign: {{ role: Steward, user: bob }}\n  - check: {{ user: bob, action: app:read, resource: app1, expect: allow }}\n"
    );
    let (passed, failed, rendered) = check(&text);
    assert_eq!((passed, failed), (1, 0), "{rendered}");
}

#[test]
fn unknown_model_is_refused() {
    let (_, failed, rendered) = check("name: t\nmodel: galaxy\n");
    assert_eq!(failed, 1);
    assert!(rendered.contains("unknown model `galaxy`"), "{rendered}");
}

/// Paste a failing case here while investigating.
#[test]
fn smoke() {
    let text = format!("name: smoke{TENANT}checks:\n  - {{ user: ann, action: space:delete, resource: s, expect: allow, because: [space-owner] }}\n");
    let (passed, failed, rendered) = check(&text);
    assert_eq!((passed, failed), (1, 0), "{rendered}");
}
