//! Condition corpora: every `test_data/ok/*.rule` parses and prints as its `.expected` file
//! says; every `test_data/err/*.rule` yields the diagnostics its `.expected` file lists. The
//! files are `expect-test` snapshots: run with `UPDATE_EXPECT=1` to rewrite them after a
//! deliberate change. Also lints the shared corpus of real rules when the shared folder sits
//! beside the repository.

use std::path::{Path, PathBuf};

use expect_test::expect_file;

use portcullis_rules::lint::{lint, read_rule_file};
use portcullis_rules::syntax::{Severity, parse_condition, print_expr};

fn rule_files(kind: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("test_data").join(kind);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("corpus folder")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "rule"))
        .collect();
    files.sort();
    files
}

fn render(text: &str) -> String {
    let parsed = parse_condition(text);
    let mut out = String::new();
    if let Some(expr) = &parsed.expr {
        let printed = print_expr(expr);
        // The printed form parses back to the same tree.
        let again = parse_condition(&printed);
        assert_eq!(
            again.expr.map(|e| e.without_spans()),
            Some(expr.without_spans()),
            "round trip of {printed}"
        );
        out.push_str(&printed);
        out.push('\n');
    }
    for diagnostic in &parsed.diagnostics {
        out.push_str(&format!("{} {diagnostic}\n", diagnostic.severity));
    }
    out
}

fn check_corpus(kind: &str, want_errors: bool) {
    let files = rule_files(kind);
    assert!(!files.is_empty());
    let mut mismatches = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file).expect("readable");
        let parsed = parse_condition(&text);
        let has_errors = parsed.diagnostics.iter().any(|d| d.severity == Severity::Error);
        assert_eq!(has_errors, want_errors, "{}: {:?}", file.display(), parsed.diagnostics);
        let actual = render(&text);
        // `expect-test` prints the diff and unwinds on a mismatch (or rewrites the file under
        // `UPDATE_EXPECT=1`); catching it lets one run report every file that differs.
        let expected = expect_file![file.with_extension("expected")];
        if std::panic::catch_unwind(|| expected.assert_eq(&actual)).is_err() {
            mismatches.push(file.with_extension("expected").display().to_string());
        }
    }
    assert!(
        mismatches.is_empty(),
        "these files differ from their `.expected` (diffs above; run with UPDATE_EXPECT=1 to accept):\n{}",
        mismatches.join("\n")
    );
}

#[test]
fn ok_corpus_parses_and_prints() {
    check_corpus("ok", false);
}

#[test]
fn err_corpus_reports_every_problem() {
    check_corpus("err", true);
}

#[test]
fn shared_real_rules_lint_with_only_the_known_defects() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus/qseow-rules");
    if !dir.is_dir() {
        println!("note: {} not found; skipping the real-rule corpus", dir.display());
        return;
    }
    let mut errors = Vec::new();
    let mut n_rules = 0;
    let mut entries: Vec<PathBuf> = std::fs::read_dir(&dir).expect("dir").filter_map(|e| e.ok().map(|e| e.path())).collect();
    entries.sort();
    for path in entries.iter().filter(|p| p.extension().is_some_and(|e| e == "json")) {
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default().to_owned();
        let text = std::fs::read_to_string(path).expect("readable");
        let rules = read_rule_file(&name, &text).expect("QRS JSON");
        n_rules += rules.len();
        for finding in lint(&rules).iter().filter(|f| f.severity == Severity::Error) {
            errors.push(format!("{name} #{} {}", finding.rule_idx, finding.message));
        }
    }
    assert_eq!(n_rules, 76);
    assert_eq!(
        errors,
        [
            "ahaydon_Qlik-DSC.json #0 `actions` is missing: the rule grants nothing",
            "ahaydon_Qlik-DSC.json #2 resource filter: the resource filter is empty",
            "eapowertools-archive_iPortal.json #7 unknown function `HasPrivelage`",
            "eapowertools-archive_iPortal.json #7 unknown function `HasPrivelage`",
            "eapowertools-archive_iPortal.json #8 unknown root `resourse`",
            "eapowertools-archive_iPortal.json #11 unknown function `HasPrivelege`",
            "eapowertools-archive_iPortal.json #11 unknown function `HasPrivelege`",
            "senseexcel_senseexcel-reporting.json #1 unknown function `IsAnononymous`",
        ]
    );
}
