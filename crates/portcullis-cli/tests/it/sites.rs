//! `portcullis rules sites` on a database: a site file stored (checked first: a broken one is
//! refused with its line and nothing stored), listed, printed back as stored, replaced only at
//! the revision named, deleted — each write with its audit event — and what a server reads.

use std::process::{Command, Output};

use portcullis_store::{Author, ImportMode};

const BINARY: &str = env!("CARGO_BIN_EXE_portcullis");
const DEMO: &str = include_str!("../../../../examples/demo-tenant.yaml");
const SITE: &str = "users:\n  - { userDirectory: ACME, userId: ann, groups: [g1] }\nresources:\n  - { id: s1, type: Stream, name: S1, customProperties: { GroupAccess: [g1] } }\nrules:\n  - { name: Access, resourceFilter: Stream_*, condition: resource.@GroupAccess = user.group, actions: [read] }\n";

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a runtime")
}

fn sites(database: &str, args: &[&str]) -> Output {
    let mut command = Command::new(BINARY);
    command
        .args(["rules", "sites"])
        .args(args)
        .args(["--database", database, "--tenant", "demo"])
        .env_remove("PORTCULLIS_AUDIT_KEY");
    command.output().expect("the binary runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn an_operator_manages_a_tenants_sites_without_the_server() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let database = format!("sqlite://{}", dir.path().join("sites.db").display());
    runtime().block_on(async {
        let store = portcullis_store::open(&database).await.expect("the store opens");
        let demo = portcullis_model::tenant_file::load_tenant_text("demo", DEMO).expect("the demo tenant");
        store
            .import_tenant(&demo, ImportMode::KeepExisting, &Author::cli())
            .await
            .expect("imported");
    });
    let file = dir.path().join("acme.yaml");
    std::fs::write(&file, SITE).unwrap();
    let file = file.to_str().unwrap();

    let out = sites(&database, &["list"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("no rule sites"), "{}", text(&out.stdout));

    let out = sites(&database, &["put", "acme", file]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("at revision 1 (1 users, 1 resources, 1 rules)"),
        "{}",
        text(&out.stdout)
    );
    let out = sites(&database, &["get", "acme"]);
    assert_eq!(
        (out.status.code(), text(&out.stdout)),
        (Some(0), SITE.to_owned()),
        "{}",
        text(&out.stderr)
    );

    // A broken file: refused with where, nothing stored.
    let broken = dir.path().join("broken.yaml");
    std::fs::write(
        &broken,
        SITE.replace("resource.@GroupAccess = user.group", "resource.HasPrivelage(\"read\")"),
    )
    .unwrap();
    let out = sites(&database, &["put", "acme", broken.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("broken.yaml:6:") && text(&out.stderr).contains("HasPrivelage"),
        "{}",
        text(&out.stderr)
    );
    // A stale revision: refused, nothing replaced.
    let updated = dir.path().join("updated.yaml");
    std::fs::write(&updated, SITE.replace("actions: [read]", "actions: [read, update]")).unwrap();
    let out = sites(&database, &["put", "acme", updated.to_str().unwrap(), "--if-match", "7"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("at revision 1, not 7"), "{}", text(&out.stderr));
    let out = sites(&database, &["put", "acme", updated.to_str().unwrap(), "--if-match", "1"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        text(&sites(&database, &["get", "acme"]).stdout),
        SITE.replace("actions: [read]", "actions: [read, update]")
    );

    // `--store` is the same option as `--database`.
    let out = Command::new(BINARY)
        .args(["rules", "sites", "list", "--store", &database, "--tenant", "demo"])
        .output()
        .unwrap();
    let listed = text(&out.stdout);
    assert!(listed.lines().next().unwrap().starts_with("NAME"), "{listed}");
    assert!(
        listed
            .lines()
            .any(|l| l.starts_with("acme") && l.contains(" 2 ") && l.contains("yaml") && l.ends_with("cli")),
        "{listed}"
    );

    // What a server reads: the stored site, compiled; the CLI's writes are events of the tenant.
    runtime().block_on(async {
        let store = portcullis_store::open(&database).await.unwrap();
        let state = portcullis_server::AppState::new(store.clone(), portcullis_server::ServerConfig::default())
            .await
            .unwrap();
        let tenant = state.tenant_by_name("demo").await.unwrap().unwrap();
        let held = tenant.rule_sites.get("acme").expect("the server loads the site");
        assert_eq!(held.revision, 2);
        assert!(held.compiled.is_ok());
        let query = portcullis_store::AuditQuery {
            event_types: vec!["com.qlik.v1.security-rule.updated".to_owned()],
            ..Default::default()
        };
        let events = store.audit_events(tenant.id, &query).await.unwrap();
        assert_eq!(events.len(), 2, "one event per stored write");
        assert!(events.iter().all(|(_, body)| body.channel == "cli"));
    });

    let out = sites(&database, &["delete", "acme"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = sites(&database, &["delete", "acme"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("has no rule site `acme`"), "{}", text(&out.stderr));
    let out = sites(&database, &["get", "acme"]);
    assert_eq!(out.status.code(), Some(2));
    let mut wrong = Command::new(BINARY);
    let out = wrong
        .args(["rules", "sites", "list", "--database", &database, "--tenant", "nobody"])
        .output()
        .unwrap();
    assert!(text(&out.stderr).contains("there is no tenant `nobody`"), "{}", text(&out.stderr));
}
