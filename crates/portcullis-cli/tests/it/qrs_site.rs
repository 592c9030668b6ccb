//! `portcullis rules import-site` and `export-site` on the rules crate's fixture (a QRS site
//! built by hand in the public shapes): a summary without a store, every problem located and
//! exit 2 for a broken site, storing into a database, and writing a stored site or a site
//! file back as the seven files, which import again to the same site.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use portcullis_store::{Author, ImportMode};

const BINARY: &str = env!("CARGO_BIN_EXE_portcullis");
const DEMO: &str = include_str!("../../../../examples/demo-tenant.yaml");

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../portcullis-rules/tests/fixtures/qrs-site")
}

fn portcullis(args: &[&str]) -> Output {
    Command::new(BINARY)
        .args(args)
        .env_remove("PORTCULLIS_AUDIT_KEY")
        .output()
        .expect("the binary runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn copy_fixture(to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(fixture()).unwrap() {
        let path = entry.unwrap().path();
        std::fs::copy(&path, to.join(path.file_name().unwrap())).unwrap();
    }
}

#[test]
fn a_qrs_site_folder_is_checked_and_summed_up() {
    let fixture = fixture();
    let out = portcullis(&["rules", "import-site", fixture.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("5 users, 2 userdirectories, 3 streams, 4 apps, 2 custompropertydefinitions, 1 dataconnections, 9 systemrules"),
        "{stdout}"
    );
    assert!(
        stdout.contains("site: 5 users, 12 resources, 9 rules (1 disabled); 0 warnings"),
        "{stdout}"
    );
}

#[test]
fn an_archive_and_a_json_object_are_sites_too() {
    let dir = tempfile::tempdir().unwrap();
    let mut names: Vec<PathBuf> = std::fs::read_dir(fixture()).unwrap().map(|e| e.unwrap().path()).collect();
    names.sort();
    let mut builder = tar::Builder::new(flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default()));
    let mut object = serde_json::Map::new();
    for path in &names {
        let name = path.file_name().unwrap().to_str().unwrap();
        builder.append_path_with_name(path, format!("qrs-site/{name}")).unwrap();
        let text = std::fs::read_to_string(path).unwrap();
        object.insert(name.trim_end_matches(".json").to_owned(), serde_json::from_str(&text).unwrap());
    }
    let archive = dir.path().join("site.tar.gz");
    std::fs::write(&archive, builder.into_inner().unwrap().finish().unwrap()).unwrap();
    let json = dir.path().join("site.json");
    std::fs::write(&json, serde_json::Value::Object(object).to_string()).unwrap();
    for input in [&archive, &json] {
        let out = portcullis(&["rules", "import-site", input.to_str().unwrap()]);
        assert!(out.status.success(), "{}", text(&out.stderr));
        assert!(
            text(&out.stdout).contains("site: 5 users, 12 resources, 9 rules (1 disabled)"),
            "{}",
            text(&out.stdout)
        );
    }
    let broken = dir.path().join("broken.tgz");
    std::fs::write(&broken, b"not an archive").unwrap();
    let out = portcullis(&["rules", "import-site", broken.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("broken.tgz: error: not a .tar.gz archive"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn a_broken_site_names_every_problem_and_exits_with_2() {
    let dir = tempfile::tempdir().unwrap();
    let site = dir.path().join("site");
    copy_fixture(&site);
    let apps = std::fs::read_to_string(site.join("apps.json")).unwrap();
    std::fs::write(site.join("apps.json"), apps.replace("0f1e0000-0000-4000-8000-00000000a002", "nobody")).unwrap();
    std::fs::remove_file(site.join("systemrules.json")).unwrap();
    let out = portcullis(&["rules", "import-site", site.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("apps.json: object a0000000-0000-4000-8000-0000000000a1: field `owner`: error: the owner `nobody` is not a user"),
        "{stderr}"
    );
    assert!(stderr.contains("systemrules.json: error: the file is missing"), "{stderr}");
    let out = portcullis(&["rules", "import-site", dir.path().join("nothing-here").to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn a_qrs_site_is_stored_and_exported_back() {
    let dir = tempfile::tempdir().unwrap();
    let database = format!("sqlite://{}", dir.path().join("sites.db").display());
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(async {
            let store = portcullis_store::open(&database).await.expect("the store opens");
            let demo = portcullis_model::tenant_file::load_tenant_text("demo", DEMO).expect("the demo tenant");
            store
                .import_tenant(&demo, ImportMode::KeepExisting, &Author::cli())
                .await
                .expect("imported");
        });
    let fixture = fixture();
    let out = portcullis(&[
        "rules",
        "import-site",
        fixture.to_str().unwrap(),
        "--store",
        &database,
        "--tenant",
        "demo",
        "--name",
        "qseow",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("stored rule site `qseow` of tenant `demo` at revision 1"),
        "{}",
        text(&out.stdout)
    );
    // `--store` without a name is refused by the parser.
    let out = portcullis(&["rules", "import-site", fixture.to_str().unwrap(), "--store", &database]);
    assert_eq!(out.status.code(), Some(2));

    // Out of the store, into a folder; that folder imports to the same summary, and exporting
    // it again writes the same bytes.
    let first = dir.path().join("first");
    let out = portcullis(&[
        "rules",
        "export-site",
        "qseow",
        "--to",
        first.to_str().unwrap(),
        "--store",
        &database,
        "--tenant",
        "demo",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = portcullis(&["rules", "import-site", first.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("site: 5 users, 12 resources, 9 rules (1 disabled)"),
        "{}",
        text(&out.stdout)
    );
    let stored = portcullis(&["rules", "sites", "get", "qseow", "--database", &database, "--tenant", "demo"]);
    let site_file = dir.path().join("stored.json");
    std::fs::write(&site_file, stored.stdout).unwrap();
    let second = dir.path().join("second");
    let out = portcullis(&["rules", "export-site", site_file.to_str().unwrap(), "--to", second.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    for name in ["users.json", "apps.json", "systemrules.json", "custompropertydefinitions.json"] {
        assert_eq!(
            std::fs::read_to_string(first.join(name)).unwrap(),
            std::fs::read_to_string(second.join(name)).unwrap(),
            "{name}"
        );
    }
    // A decision on the exported files, as on the original.
    let out = portcullis(&[
        "rules",
        "check",
        site_file.to_str().unwrap(),
        "ACME\\alice",
        "read",
        "a0000000-0000-4000-8000-0000000000a1",
    ]);
    assert!(out.status.success(), "{}", text(&out.stdout));

    let out = portcullis(&["rules", "export-site", "no-such-site", "--to", second.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("--store"), "{}", text(&out.stderr));
}
