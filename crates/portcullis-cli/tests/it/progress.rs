//! Long work shows progress only on a terminal: run with standard error piped (as in CI,
//! cron or `2> file`), the rules audit, the audit trail's commands and `serve`'s tenant
//! import write no bar, spinner or terminal control to it.

use std::io::{BufRead as _, BufReader};
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use portcullis_store::{Author, ImportMode};

const BINARY: &str = env!("CARGO_BIN_EXE_portcullis");
const DEMO: &str = include_str!("../../../../examples/demo-tenant.yaml");

/// What a drawn bar or spinner leaves in a stream: carriage returns, escape sequences, the
/// bar's brackets, and the labels the CLI gives its bars.
fn assert_no_progress(what: &str, stderr: &[u8]) {
    let text = String::from_utf8_lossy(stderr);
    for mark in [
        "\r",
        "\u{1b}[",
        "[=",
        "=>",
        "auditing",
        "previewing",
        "importing",
        "reading",
        "verifying",
        "writing",
        "deleting",
    ] {
        assert!(!text.contains(mark), "{what}: standard error shows progress ({mark:?}): {text:?}");
    }
}

fn run(args: &[&str]) -> Output {
    let output = Command::new(BINARY)
        .args(args)
        .env_remove("PORTCULLIS_AUDIT_KEY")
        .stdin(Stdio::null())
        .output()
        .expect("the binary runs");
    assert!(output.status.success(), "{args:?} failed: {}", String::from_utf8_lossy(&output.stderr));
    output
}

/// A site of `n` users and `n` streams, each stream readable by one group in ten.
pub(crate) fn site(dir: &Path, n: usize) -> String {
    let mut text = String::from("users:\n");
    for i in 0..n {
        text.push_str(&format!("  - {{ userDirectory: ACME, userId: u{i}, groups: [g{}] }}\n", i % 10));
    }
    text.push_str("resources:\n");
    for i in 0..n {
        text.push_str(&format!(
            "  - {{ id: s{i}, type: Stream, name: S{i}, customProperties: {{ GroupAccess: [g{}] }} }}\n",
            i % 10
        ));
    }
    text.push_str(
        "rules:\n  - name: ResourceAccess\n    resourceFilter: Stream_*\n    condition: resource.@GroupAccess = user.group\n    actions: [read]\n",
    );
    let path = dir.join("site.yaml");
    std::fs::write(&path, text).expect("the site file");
    path.display().to_string()
}

#[test]
fn a_rules_audit_with_piped_stderr_draws_no_bar() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let site = site(dir.path(), 200);
    let output = run(&["rules", "audit", &site, "--format", "csv"]);
    assert_eq!(
        String::from_utf8_lossy(&output.stdout).lines().count(),
        1 + 200 * 20,
        "the matrix is all there"
    );
    assert_no_progress("rules audit", &output.stderr);
    assert!(output.stderr.is_empty(), "{}", String::from_utf8_lossy(&output.stderr));
}

#[test]
fn the_audit_trail_commands_with_piped_stderr_draw_no_bar() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let database = format!("sqlite://{}", dir.path().join("trail.db").display());
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime")
        .block_on(async {
            let store = portcullis_store::open(&database).await.expect("the store opens");
            let tenant = portcullis_model::tenant_file::load_tenant_text("demo", DEMO).expect("the demo tenant");
            let imported = store
                .import_tenant(&tenant, ImportMode::KeepExisting, &Author::cli())
                .await
                .expect("imported");
            let change = portcullis_store::Change::JoinGroup {
                user: "carl".into(),
                group: "finance".into(),
            };
            store.apply(imported.tenant.id, &change, &Author::cli()).await.expect("applied");
        });
    let verified = run(&["audit", "verify", "--database", &database]);
    assert!(String::from_utf8_lossy(&verified.stdout).contains("2 events verified"), "{verified:?}");
    assert_no_progress("audit verify", &verified.stderr);
    let queried = run(&["audit", "query", "--database", &database, "--tenant", "demo", "--format", "csv"]);
    assert_eq!(String::from_utf8_lossy(&queried.stdout).lines().count(), 3, "a header and two events");
    assert_no_progress("audit query", &queried.stderr);
    // `--older-than 0` archives what is older than the current second.
    std::thread::sleep(Duration::from_millis(1100));
    let archive = dir.path().join("archive.ndjson");
    let archived = run(&[
        "audit",
        "archive",
        "--database",
        &database,
        "--tenant",
        "demo",
        "--older-than",
        "0",
        "--out",
        &archive.display().to_string(),
    ]);
    assert!(String::from_utf8_lossy(&archived.stdout).contains("archived events 1 to"), "{archived:?}");
    // Access history goes with the trail: it now starts at the last revision (the join).
    assert!(
        String::from_utf8_lossy(&archived.stdout).contains("access history now starts at revision 2"),
        "{archived:?}"
    );
    assert_no_progress("audit archive", &archived.stderr);
    for output in [&verified, &queried, &archived] {
        assert!(output.stderr.is_empty(), "{}", String::from_utf8_lossy(&output.stderr));
    }
}

#[test]
fn a_tenant_import_at_start_with_piped_stderr_draws_no_bar() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let tenant_file = dir.path().join("demo.yaml");
    std::fs::write(&tenant_file, DEMO).expect("the tenant file");
    let database = format!("sqlite://{}", dir.path().join("serve.db").display());
    let mut child = Command::new(BINARY)
        .args(["serve", "--listen", "127.0.0.1:0", "--database", &database, "--tenant"])
        .arg(&tenant_file)
        .env("RUST_LOG", "off")
        .env_remove("PORTCULLIS_AUDIT_KEY")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary starts");
    let stdout = child.stdout.take().expect("stdout is piped");
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if sender.send(line).is_err() {
                break;
            }
        }
    });
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut printed = Vec::new();
    while !printed.iter().any(|line: &String| line.contains("listening on")) {
        let left = deadline.saturating_duration_since(Instant::now());
        match receiver.recv_timeout(left) {
            Ok(line) => printed.push(line),
            Err(_) => {
                let _ = child.kill();
                panic!("the server did not start; it printed {printed:?}");
            }
        }
    }
    assert!(printed.iter().any(|line| line.contains("imported (revision 1)")), "{printed:?}");
    let status = Command::new("kill").arg("-TERM").arg(child.id().to_string()).status().expect("kill runs");
    assert!(status.success());
    let output = child.wait_with_output().expect("the server stops");
    assert!(output.status.success(), "{output:?}");
    assert_no_progress("serve --tenant", &output.stderr);
    assert!(output.stderr.is_empty(), "{}", String::from_utf8_lossy(&output.stderr));
}
