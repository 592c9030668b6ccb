//! `portcullis audit` against someone who can write to the database (issue 11): checkpoints
//! written with the audit key, then `audit verify --checkpoints` finding a truncation with
//! the anchor moved back, a deleted trail and a deleted tenant that the database alone hides;
//! the key from a file or the environment; a wrong or missing key as a clear error (exit 2).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use portcullis_store::{AuditKey, Author, ImportMode, Keyring};
use sqlx::Connection as _;

const BINARY: &str = env!("CARGO_BIN_EXE_portcullis");
const KEY_HEX: &str = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
const OTHER_KEY_HEX: &str = "ffeeddccbbaa99887766554433221100ffeeddccbbaa99887766554433221100";
const DEMO: &str = include_str!("../../../../examples/demo-tenant.yaml");

struct Trail {
    dir: tempfile::TempDir,
    database: String,
    key_file: PathBuf,
    checkpoints: PathBuf,
}

impl Trail {
    /// A SQLite database with the demo tenant and a copy of it (`other`), each with a few
    /// events sealed with the key in `key_file`.
    fn new() -> Trail {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let database = format!("sqlite://{}", dir.path().join("audit.db").display());
        let key_file = key_file(dir.path(), "audit.key", KEY_HEX);
        let checkpoints = dir.path().join("checkpoints.jsonl");
        let keys = Keyring::new([AuditKey::from_text(KEY_HEX).expect("the key")]);
        runtime().block_on(async {
            let store = portcullis_store::open_with_keys(&database, keys).await.expect("the store opens");
            let mut tenant = portcullis_model::tenant_file::load_tenant_text("demo", DEMO).expect("the demo tenant");
            for name in ["demo", "other"] {
                tenant.name = name.to_owned();
                let imported = store
                    .import_tenant(&tenant, ImportMode::KeepExisting, &Author::cli())
                    .await
                    .expect("imported");
                for (user, group) in [("carl", "finance"), ("bob", "finance")] {
                    let change = portcullis_store::Change::JoinGroup {
                        user: user.into(),
                        group: group.into(),
                    };
                    store.apply(imported.tenant.id, &change, &Author::cli()).await.expect("applied");
                }
            }
        });
        Trail {
            dir,
            database,
            key_file,
            checkpoints,
        }
    }

    fn audit(&self, args: &[&str], env_key: Option<&str>) -> Output {
        let mut command = Command::new(BINARY);
        command.arg("audit").args(args).env_remove("PORTCULLIS_AUDIT_KEY");
        if let Some(key) = env_key {
            command.env("PORTCULLIS_AUDIT_KEY", key);
        }
        command.output().expect("the binary runs")
    }

    fn verify(&self, extra: &[&str]) -> Output {
        let mut args = vec!["verify", "--database", &self.database];
        args.extend_from_slice(extra);
        self.audit(&args, None)
    }

    fn sql(&self, statement: &str) {
        runtime().block_on(async {
            let mut db = sqlx::SqliteConnection::connect(&self.database).await.expect("the database");
            sqlx::raw_sql(statement)
                .execute(&mut db)
                .await
                .unwrap_or_else(|e| panic!("`{statement}`: {e}"));
        });
    }

    fn tenant_id(&self, name: &str) -> i64 {
        runtime().block_on(async {
            let store = portcullis_store::open(&self.database).await.expect("the store opens");
            store.tenant_by_name(name).await.unwrap().expect("the tenant").id.0
        })
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a runtime")
}

fn key_file(dir: &Path, name: &str, hex: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, format!("{hex}\n")).expect("the key file");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    }
    path
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn issue_11_verify_with_checkpoints_finds_what_the_database_alone_hides() {
    let trail = Trail::new();
    let key = trail.key_file.to_str().expect("a path");
    let checkpoints = trail.checkpoints.to_str().expect("a path");

    let written = trail.audit(&["checkpoint", "--database", &trail.database, "--audit-key-file", key], None);
    assert!(written.status.success(), "{}", stderr(&written));
    assert_eq!(stdout(&written).lines().count(), 2, "one checkpoint per tenant: {}", stdout(&written));
    std::fs::write(&trail.checkpoints, stdout(&written)).expect("the checkpoint file");

    let intact = trail.verify(&["--audit-key-file", key, "--checkpoints", checkpoints]);
    assert!(intact.status.success(), "{}", stdout(&intact));
    assert!(
        stdout(&intact).contains("tenant `demo`: 3 events verified (3 keyed"),
        "{}",
        stdout(&intact)
    );
    assert!(stdout(&intact).contains("1 checkpoints agree"), "{}", stdout(&intact));
    let from_env = trail.audit(&["verify", "--database", &trail.database, "--checkpoints", checkpoints], Some(KEY_HEX));
    assert!(from_env.status.success(), "{}", stdout(&from_env));

    // demo: its last event deleted and the anchor moved back to the one before; other: every
    // event and the anchor deleted. Each is consistent on its own.
    let (demo, other) = (trail.tenant_id("demo"), trail.tenant_id("other"));
    trail.sql(&format!(
        "DELETE FROM audit_events WHERE tenant_id = {demo} AND seq = 3; \
         UPDATE audit_anchors SET head_seq = 2, head_hash = (SELECT hash FROM audit_events WHERE tenant_id = {demo} AND seq = 2) WHERE tenant_id = {demo}; \
         DELETE FROM audit_events WHERE tenant_id = {other}; DELETE FROM audit_anchors WHERE tenant_id = {other}"
    ));
    let alone = trail.verify(&["--audit-key-file", key]);
    assert!(alone.status.success(), "without checkpoints: {}", stdout(&alone));
    let checked = trail.verify(&["--audit-key-file", key, "--checkpoints", checkpoints]);
    assert_eq!(checked.status.code(), Some(1), "{}", stdout(&checked));
    let said = stdout(&checked);
    assert!(said.contains("tenant `demo`: the chain ends at event 2, but a checkpoint at"), "{said}");
    assert!(said.contains("recorded event 3: its last events were removed"), "{said}");
    assert!(said.contains("tenant `other`: the tenant has no audit events and no anchor"), "{said}");
    let refused = trail.audit(
        &[
            "checkpoint",
            "--database",
            &trail.database,
            "--audit-key-file",
            key,
            "--checkpoints",
            checkpoints,
        ],
        None,
    );
    assert_eq!(refused.status.code(), Some(1), "no checkpoint certifies a broken chain");
    assert_eq!(stdout(&refused), "");

    // The tenant row itself deleted: the checkpoints remember it.
    trail.sql(&format!("DELETE FROM tenants WHERE id = {other}"));
    let gone = trail.verify(&["--audit-key-file", key, "--checkpoints", checkpoints]);
    assert!(
        stdout(&gone).contains("tenant `other` has checkpoints (the latest at"),
        "{}",
        stdout(&gone)
    );
    assert!(stdout(&gone).contains("but is not in the database"), "{}", stdout(&gone));
}

#[test]
fn issue_11_a_wrong_or_missing_key_is_a_clear_error() {
    let trail = Trail::new();
    let key_id = AuditKey::from_text(KEY_HEX).expect("the key").id().to_owned();
    let other = key_file(trail.dir.path(), "other.key", OTHER_KEY_HEX);
    for extra in [vec!["--audit-key-file", other.to_str().expect("a path")], vec![]] {
        let output = trail.verify(&extra);
        assert_eq!(output.status.code(), Some(2), "{}", stdout(&output));
        assert!(
            stdout(&output).contains(&format!("event 1 was sealed with the audit key `{key_id}`, which was not given")),
            "{}",
            stdout(&output)
        );
        assert!(!stdout(&output).contains("altered"));
    }
    let twice = trail.audit(
        &[
            "verify",
            "--database",
            &trail.database,
            "--audit-key-file",
            trail.key_file.to_str().expect("a path"),
        ],
        Some(KEY_HEX),
    );
    assert_eq!(twice.status.code(), Some(2));
    assert!(stderr(&twice).contains("given twice"), "{}", stderr(&twice));
    let short = trail.audit(&["verify", "--database", &trail.database], Some("abcd"));
    assert!(stderr(&short).contains("fewer than 32"), "{}", stderr(&short));
    let unsigned = trail.audit(&["checkpoint", "--database", &trail.database], None);
    assert_eq!(unsigned.status.code(), Some(2));
    assert!(
        stderr(&unsigned).contains("checkpoints are signed with the audit key"),
        "{}",
        stderr(&unsigned)
    );
    let serve = Command::new(BINARY)
        .args(["serve", "--database", &trail.database, "--audit-checkpoints", "x.jsonl"])
        .env_remove("PORTCULLIS_AUDIT_KEY")
        .output()
        .expect("the binary runs");
    assert_eq!(serve.status.code(), Some(2));
    assert!(stderr(&serve).contains("`--audit-checkpoints` needs the audit key"), "{}", stderr(&serve));
}
