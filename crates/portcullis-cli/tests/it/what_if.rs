//! `portcullis what-if` on a tenant file: the summary and the NDJSON list of a proposal, and a
//! refused change named by its index.

use std::process::Command;

const BINARY: &str = env!("CARGO_BIN_EXE_portcullis");
const DEMO: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/demo-tenant.yaml");

fn run(changes: &str, extra: &[&str]) -> (bool, String, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("changes.json");
    std::fs::write(&path, changes).unwrap();
    let mut args = vec!["what-if", "--tenant", DEMO, "--changes", path.to_str().unwrap()];
    args.extend(extra);
    let out = Command::new(BINARY).args(&args).output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn a_proposal_prints_its_gains_by_action_and_path() {
    let join = r#"[{"change": "joinGroup", "user": "bob", "group": "finance"}]"#;
    let (ok, out, err) = run(join, &[]);
    assert!(ok, "{err}");
    assert!(out.contains("nothing was applied"), "{out}");
    assert!(out.contains("By action:") && out.contains("app:exportdata"), "{out}");
    assert!(out.contains("+ `bob` app:exportdata on `sales-dashboard`"), "{out}");
    let (ok, out, err) = run(join, &["--ndjson"]);
    assert!(ok, "{err}");
    let lines: Vec<serde_json::Value> = out.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert!(
        lines
            .iter()
            .any(|l| l["user"] == "bob" && l["action"] == "app:exportdata" && l["change"] == "gained"),
        "{out}"
    );
    assert!(lines.iter().all(|l| l["user"] == "bob"), "{out}");
}

#[test]
fn a_refused_change_is_named() {
    let bad = r#"{"changes": [{"change": "joinGroup", "user": "bob", "group": "finance"}, {"change": "deleteGroup", "name": "nope"}]}"#;
    let (ok, _, err) = run(bad, &[]);
    assert!(!ok);
    assert!(err.contains("change 1 (`delete-group`) was refused"), "{err}");
}
