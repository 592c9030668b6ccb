//! Whole QRS sites: the fixture (built by hand in the shapes of `/qrs/<kind>/full`) imports,
//! decides as its rules say, round-trips through export, and every kind of problem is
//! reported at its file, object and field. Archives and the one-object form too.

use std::io::Write as _;
use std::path::Path;

use portcullis_rules::qrs::SystemRule;
use portcullis_rules::qrs_site::{
    self, Kind, QrsApp, QrsCustomPropertyDefinition, QrsCustomPropertyValue, QrsOwner, QrsRef, QrsSite, QrsSiteFiles, QrsStream, QrsUser,
    QrsUserAttribute, Severity,
};
use portcullis_rules::site_file::{from_yaml, site_to_json};
use portcullis_rules::{Action, CompiledSite, RequestContext, Site};
use proptest::prelude::*;

fn fixture_dir() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/qrs-site")
}

fn fixture_files() -> QrsSiteFiles {
    let mut files = QrsSiteFiles::new("qrs-site");
    for entry in std::fs::read_dir(fixture_dir()).expect("fixture folder") {
        let path = entry.expect("entry").path();
        let name = path.file_name().expect("name").to_string_lossy().into_owned();
        files.insert(name, std::fs::read_to_string(&path).expect("fixture file"));
    }
    files
}

fn fixture() -> QrsSite {
    let (site, problems) = fixture_files().parse();
    assert!(problems.is_empty(), "{problems:#?}");
    site
}

fn imported_fixture() -> Site {
    match qrs_site::import_files(&fixture_files()) {
        Ok(imported) => {
            assert!(imported.warnings.is_empty(), "{:#?}", imported.warnings);
            imported.site
        }
        Err(problems) => panic!("the fixture does not import: {problems:#?}"),
    }
}

/// Imports a changed fixture and answers its problems as `(file, object, field)` of errors.
fn errors_of(change: impl FnOnce(&mut QrsSite)) -> Vec<(String, Option<String>, Option<String>, String)> {
    let mut site = fixture();
    change(&mut site);
    match qrs_site::import(&site) {
        Ok(_) => Vec::new(),
        Err(problems) => problems
            .into_iter()
            .filter(|p| p.severity == Severity::Error)
            .map(|p| (p.file, p.object, p.field, p.message))
            .collect(),
    }
}

fn located(errors: &[(String, Option<String>, Option<String>, String)], file: &str, object: &str, field: &str) -> bool {
    errors
        .iter()
        .any(|(f, o, fi, _)| f == file && o.as_deref() == Some(object) && fi.as_deref() == Some(field))
}

#[test]
fn the_fixture_imports_with_every_kind() {
    let imported = qrs_site::import_files(&fixture_files()).expect("imports");
    let counts: Vec<(Kind, usize)> = imported.counts.into_iter().collect();
    assert_eq!(
        counts,
        vec![
            (Kind::Users, 5),
            (Kind::UserDirectories, 2),
            (Kind::Streams, 3),
            (Kind::Apps, 4),
            (Kind::CustomPropertyDefinitions, 2),
            (Kind::DataConnections, 1),
            (Kind::SystemRules, 9),
        ]
    );
    let site = imported.site;
    assert_eq!(site.users.len(), 5);
    assert_eq!(site.resources.len(), 2 + 3 + 4 + 2 + 1);
    assert_eq!(site.rules.len(), 9);
    let alice = &site.users[0];
    assert_eq!(alice.key(), "ACME\\alice");
    assert_eq!(alice.email.as_deref(), Some("alice@acme.example"));
    assert_eq!(alice.groups, vec!["Sales Team".to_owned()]);
    assert_eq!(alice.custom_properties.get("Department"), Some(&vec!["Sales".to_owned()]));
    let bob = &site.users[1];
    assert_eq!(bob.roles, vec!["ContentAdmin".to_owned()]);
    assert_eq!(bob.attributes.get("title"), Some(&vec!["Controller".to_owned()]));
    let app = site.resources.iter().find(|r| r.name.as_deref() == Some("Sales Dashboard")).expect("app");
    assert_eq!(app.resource_type, "App");
    assert_eq!(app.owner.as_deref(), Some("ACME\\bob"));
    assert_eq!(app.stream.as_deref(), Some("e5000000-0000-4000-8000-000000000501"));
    assert_eq!(app.attributes.get("published"), Some(&vec!["true".to_owned()]));
    assert_eq!(app.custom_properties.get("Region"), Some(&vec!["North".to_owned()]));
    let disabled: Vec<&str> = site.rules.iter().filter(|r| r.disabled).map(|r| r.name.as_str()).collect();
    assert_eq!(disabled, vec!["Old CORP access"]);
}

#[test]
fn decisions_on_the_imported_site_follow_its_rules() {
    let site = imported_fixture();
    let compiled = CompiledSite::compile(&site).expect("compiles");
    let decide = |user: &str, action: Action, resource: &str, context: RequestContext| {
        let user = compiled.user(user).unwrap_or_else(|| panic!("user {user}"));
        let resource = compiled.resource(resource).unwrap_or_else(|| panic!("resource {resource}"));
        compiled.decide(user, resource, action, context)
    };
    let (sales_app, finance_app, draft, kpis) = (
        "a0000000-0000-4000-8000-0000000000a1",
        "a0000000-0000-4000-8000-0000000000a2",
        "a0000000-0000-4000-8000-0000000000a3",
        "a0000000-0000-4000-8000-0000000000a4",
    );
    let hub = RequestContext::Hub;
    // Department=Sales reads the app in the Sales stream, through the custom rule.
    let alice_sales = decide("ACME\\alice", Action::Read, sales_app, hub);
    assert!(alice_sales.allowed);
    assert!(
        alice_sales.tokens().iter().any(|t| t == "rule:Department apps in streams"),
        "{:?}",
        alice_sales.tokens()
    );
    assert!(!decide("ACME\\alice", Action::Read, finance_app, hub).allowed);
    // Nobody but the owner sees an unpublished app.
    assert!(decide("ACME\\alice", Action::Read, draft, hub).allowed);
    assert!(!decide("CORP\\dave", Action::Read, draft, hub).allowed);
    // Everyone reads the Everyone stream's apps; a user without a department nothing else.
    assert!(decide("CORP\\dave", Action::Read, kpis, hub).allowed);
    assert!(!decide("CORP\\dave", Action::Read, sales_app, hub).allowed);
    // The disabled rule grants nothing.
    assert!(!decide("CORP\\carol", Action::Read, finance_app, hub).allowed);
    // A hub-only rule: finance reads North apps in the hub, by the app's custom property.
    let bob_sales = decide("ACME\\bob", Action::Read, sales_app, hub);
    assert!(
        bob_sales.tokens().iter().any(|t| t == "rule:North apps for finance"),
        "{:?}",
        bob_sales.tokens()
    );
    let bob_qmc = decide("ACME\\bob", Action::Read, sales_app, RequestContext::Qmc);
    assert!(!bob_qmc.tokens().iter().any(|t| t == "rule:North apps for finance"));
    // Data connections by department; the root admin updates anything.
    assert!(decide("ACME\\alice", Action::Read, "dc000000-0000-4000-8000-00000000dc01", hub).allowed);
    assert!(!decide("CORP\\dave", Action::Read, "dc000000-0000-4000-8000-00000000dc01", hub).allowed);
    assert!(decide("CORP\\root", Action::Update, finance_app, RequestContext::Qmc).allowed);
}

#[test]
fn import_export_import_gives_the_same_site() {
    let site = imported_fixture();
    let exported = qrs_site::export(&site);
    assert_eq!(qrs_site::unexported(&site), 0);
    assert_eq!(qrs_site::import(&exported).expect("reimports").site, site);
    // Through the files as written, too, and the same files every time.
    let files = exported.to_files();
    assert_eq!(files, qrs_site::export(&site).to_files());
    let names: Vec<&str> = files.iter().map(|(name, _)| name.as_str()).collect();
    assert_eq!(names, Kind::ALL.map(Kind::file_name).iter().map(String::as_str).collect::<Vec<_>>());
    let mut again = QrsSiteFiles::new("exported");
    for (name, text) in &files {
        again.insert(name.clone(), text.clone());
    }
    assert_eq!(qrs_site::import_files(&again).expect("reimports").site, site);
    // Ids and owners come back as QRS had them, rules' too.
    assert_eq!(exported.systemrules[5].id.as_deref(), Some("7e000000-0000-4000-8000-000000000006"));
    assert_eq!(exported.users[0].id.as_deref(), Some("0f1e0000-0000-4000-8000-00000000a001"));
    assert_eq!(
        exported.apps[0].owner.as_ref().and_then(|o| o.id.as_deref()),
        Some("0f1e0000-0000-4000-8000-00000000a002")
    );
    assert_eq!(exported.apps[0].stream.as_ref().and_then(|s| s.name.as_deref()), Some("Sales"));
}

#[test]
fn the_stored_site_file_reads_back_to_the_same_site() {
    let site = imported_fixture();
    let text = site_to_json(&site);
    let (file, base) = from_yaml(&text).expect("a site file");
    let loaded = file.load(&base).expect("loads");
    assert_eq!(loaded.site, site);
}

#[test]
fn the_one_object_form_and_an_archive_import_the_same_site() {
    let site = imported_fixture();
    let object = serde_json::to_string(&qrs_site::export(&site)).expect("json");
    assert_eq!(qrs_site::import_object(&object).expect("imports").site, site);

    let mut builder = tar::Builder::new(flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default()));
    for (name, text) in fixture_files_sorted() {
        let mut header = tar::Header::new_gnu();
        header.set_size(text.len() as u64);
        header.set_mode(0o644);
        header.set_cksum();
        builder.append_data(&mut header, format!("site/{name}"), text.as_bytes()).expect("append");
    }
    let bytes = builder.into_inner().expect("tar").finish().expect("gzip");
    let files = QrsSiteFiles::from_tar_gz("site.tar.gz", &bytes).expect("an archive");
    assert_eq!(qrs_site::import_files(&files).expect("imports").site, site);

    let broken = QrsSiteFiles::from_tar_gz("broken.tar.gz", b"not gzip at all").map(|_| ()).unwrap_err();
    assert_eq!(broken[0].file, "broken.tar.gz");
}

fn fixture_files_sorted() -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = std::fs::read_dir(fixture_dir())
        .expect("fixture folder")
        .map(|e| {
            let path = e.expect("entry").path();
            (
                path.file_name().expect("name").to_string_lossy().into_owned(),
                std::fs::read_to_string(&path).expect("file"),
            )
        })
        .collect();
    out.sort();
    out
}

#[test]
fn a_missing_required_file_and_an_unknown_file_are_reported() {
    let mut files = QrsSiteFiles::new("partial");
    files.insert("users.json", "[]");
    files.insert("notes.txt", "hello");
    let problems = qrs_site::import_files(&files).map(|_| ()).unwrap_err();
    assert!(
        problems.iter().any(|p| p.file == "systemrules.json" && p.severity == Severity::Error),
        "{problems:#?}"
    );
    assert!(
        problems.iter().any(|p| p.file == "notes.txt" && p.severity == Severity::Warning),
        "{problems:#?}"
    );
    // The optional files may be missing, and names are read without regard to case.
    assert_eq!(Kind::of_file("SystemRules.JSON"), Some(Kind::SystemRules));
    assert_eq!(Kind::of_file("systemrules.yaml"), None);
    let mut files = QrsSiteFiles::new("minimal");
    files.insert("users.json", "[]");
    files.insert("systemrules.json", "[]");
    assert!(qrs_site::import_files(&files).is_ok());
    // A byte order mark before the JSON, as Windows tools write it, is skipped.
    files.insert("systemrules.json", "\u{feff}[]");
    assert!(qrs_site::import_files(&files).is_ok());
}

#[test]
fn a_file_that_is_not_json_or_an_object_of_another_shape_is_located() {
    let mut files = fixture_files();
    files.insert("streams.json", "[{\"id\": \"s1\", \"name\": ");
    files.insert("apps.json", "[{\"id\": \"x1\", \"published\": \"yes\"}]");
    let problems = qrs_site::import_files(&files).map(|_| ()).unwrap_err();
    assert!(
        problems.iter().any(|p| p.file == "streams.json" && p.message.starts_with("not JSON")),
        "{problems:#?}"
    );
    assert!(
        problems.iter().any(|p| p.file == "apps.json" && p.object.as_deref() == Some("x1")),
        "{problems:#?}"
    );
}

#[test]
fn an_owner_that_is_not_a_user_is_located() {
    let errors = errors_of(|site| site.apps[0].owner.as_mut().expect("owner").id = Some("nobody".into()));
    assert!(
        located(&errors, "apps.json", "a0000000-0000-4000-8000-0000000000a1", "owner"),
        "{errors:#?}"
    );
    let errors = errors_of(|site| {
        site.dataconnections[0].owner = Some(QrsOwner {
            user_id: Some("ghost".into()),
            user_directory: Some("ACME".into()),
            ..QrsOwner::default()
        })
    });
    assert!(
        located(&errors, "dataconnections.json", "dc000000-0000-4000-8000-00000000dc01", "owner"),
        "{errors:#?}"
    );
}

#[test]
fn a_custom_property_value_outside_its_choices_is_located() {
    let errors = errors_of(|site| site.users[3].custom_properties.push(value("Department", "Marketing")));
    assert!(
        located(&errors, "users.json", "0f1e0000-0000-4000-8000-00000000a004", "customProperties"),
        "{errors:#?}"
    );
    assert!(errors.iter().any(|e| e.3.contains("`Marketing`")));
}

#[test]
fn a_custom_property_on_an_excluded_object_type_is_located() {
    // Region is for apps only.
    let errors = errors_of(|site| site.streams[1].custom_properties.push(value("Region", "North")));
    assert!(
        located(&errors, "streams.json", "e5000000-0000-4000-8000-000000000501", "customProperties"),
        "{errors:#?}"
    );
    assert!(errors.iter().any(|e| e.3.contains("objectTypes")));
}

#[test]
fn a_custom_property_without_definition_is_located() {
    let errors = errors_of(|site| {
        site.apps[2].custom_properties.push(QrsCustomPropertyValue {
            value: "x".into(),
            definition: QrsRef {
                id: Some("no-such-definition".into()),
                name: Some("Secret".into()),
            },
        })
    });
    assert!(
        located(&errors, "apps.json", "a0000000-0000-4000-8000-0000000000a3", "customProperties"),
        "{errors:#?}"
    );
}

#[test]
fn duplicate_ids_are_located() {
    let errors = errors_of(|site| {
        let copy = site.apps[1].clone();
        site.apps.push(copy);
    });
    assert!(located(&errors, "apps.json", "a0000000-0000-4000-8000-0000000000a2", "id"), "{errors:#?}");
    // Across kinds too: a stream with an app's id.
    let errors = errors_of(|site| site.streams[2].id = Some("a0000000-0000-4000-8000-0000000000a4".into()));
    assert!(errors.iter().any(|e| e.0 == "apps.json" && e.2.as_deref() == Some("id")), "{errors:#?}");
    let errors = errors_of(|site| site.users[1].id = site.users[0].id.clone());
    assert!(
        located(&errors, "users.json", "0f1e0000-0000-4000-8000-00000000a001", "id"),
        "{errors:#?}"
    );
    let errors = errors_of(|site| site.systemrules[4].id = site.systemrules[3].id.clone());
    assert!(
        located(&errors, "systemrules.json", "7e000000-0000-4000-8000-000000000004", "id"),
        "{errors:#?}"
    );
}

#[test]
fn a_rule_that_does_not_parse_is_located() {
    let errors = errors_of(|site| site.systemrules[5].rule = Some("resource.stream.name = (".into()));
    assert!(
        located(&errors, "systemrules.json", "7e000000-0000-4000-8000-000000000006", "rule"),
        "{errors:#?}"
    );
    let errors = errors_of(|site| site.systemrules[6].resource_filter = Some("App*_*".into()));
    assert!(
        located(&errors, "systemrules.json", "7e000000-0000-4000-8000-000000000007", "resourceFilter"),
        "{errors:#?}"
    );
    let errors = errors_of(|site| site.systemrules[7].actions = None);
    assert!(
        located(&errors, "systemrules.json", "7e000000-0000-4000-8000-000000000008", "actions"),
        "{errors:#?}"
    );
    let errors = errors_of(|site| site.systemrules[8].rule_context = Some(portcullis_rules::qrs::QrsContext::Number(7)));
    assert!(
        located(&errors, "systemrules.json", "7e000000-0000-4000-8000-000000000009", "ruleContext"),
        "{errors:#?}"
    );
}

#[test]
fn an_app_in_an_unknown_stream_or_published_nowhere_is_located() {
    let errors = errors_of(|site| {
        site.apps[0].stream = Some(QrsRef {
            id: Some("no-such-stream".into()),
            name: None,
        })
    });
    assert!(
        located(&errors, "apps.json", "a0000000-0000-4000-8000-0000000000a1", "stream"),
        "{errors:#?}"
    );
    let errors = errors_of(|site| site.apps[1].stream = None);
    assert!(
        located(&errors, "apps.json", "a0000000-0000-4000-8000-0000000000a2", "stream"),
        "{errors:#?}"
    );
}

#[test]
fn every_problem_is_reported_at_once() {
    let errors = errors_of(|site| {
        site.apps[0].owner.as_mut().expect("owner").id = Some("nobody".into());
        site.users[3].custom_properties.push(value("Department", "Marketing"));
        site.systemrules[5].rule = Some("(".into());
    });
    assert!(
        located(&errors, "apps.json", "a0000000-0000-4000-8000-0000000000a1", "owner"),
        "{errors:#?}"
    );
    assert!(
        located(&errors, "users.json", "0f1e0000-0000-4000-8000-00000000a004", "customProperties"),
        "{errors:#?}"
    );
    assert!(
        located(&errors, "systemrules.json", "7e000000-0000-4000-8000-000000000006", "rule"),
        "{errors:#?}"
    );
}

#[test]
fn an_object_without_id_or_required_fields_is_located_by_index() {
    let errors = errors_of(|site| {
        site.users.push(QrsUser {
            user_id: Some("eve".into()),
            ..QrsUser::default()
        })
    });
    assert!(located(&errors, "users.json", "#5", "id"), "{errors:#?}");
    assert!(located(&errors, "users.json", "#5", "userDirectory"), "{errors:#?}");
}

fn value(definition: &str, value: &str) -> QrsCustomPropertyValue {
    QrsCustomPropertyValue {
        value: value.into(),
        definition: QrsRef {
            id: None,
            name: Some(definition.into()),
        },
    }
}

/// Random QRS sites of the fixture's shapes: users in a few directories, definitions, streams,
/// apps (published or not), rules, all consistent so they import.
fn qrs_sites() -> impl Strategy<Value = QrsSite> {
    let word = "[A-Za-z][A-Za-z0-9 ]{0,6}";
    (
        prop::collection::vec(
            (word, 0..3usize, prop::collection::vec(word, 0..2), prop::option::of(word), 0..3usize),
            1..6,
        ),
        prop::collection::vec(word, 1..4),
        prop::collection::vec((word, 0..8usize, any::<bool>(), 0..8usize), 0..6),
        prop::collection::vec((0..3i64, any::<bool>(), 0..4usize), 0..4),
    )
        .prop_map(|(users, choices, apps, rules)| {
            let directories = ["ACME", "CORP", "INTERNAL"];
            let definition = QrsCustomPropertyDefinition {
                id: Some("def-1".into()),
                name: Some("Department".into()),
                value_type: Some("Text".into()),
                choice_values: choices.clone(),
                object_types: vec!["User".into(), "App".into(), "Stream".into()],
                description: None,
            };
            let users: Vec<QrsUser> = users
                .into_iter()
                .enumerate()
                .map(|(idx, (name, directory, groups, email, choice))| QrsUser {
                    id: Some(format!("user-{idx}")),
                    user_id: Some(format!("u{idx}")),
                    user_directory: Some(directories[directory].into()),
                    name: Some(name),
                    roles: if choice == 0 { vec!["RootAdmin".into()] } else { Vec::new() },
                    attributes: groups
                        .into_iter()
                        .map(|g| QrsUserAttribute {
                            attribute_type: "Group".into(),
                            attribute_value: g,
                        })
                        .chain(email.map(|e| QrsUserAttribute {
                            attribute_type: "email".into(),
                            attribute_value: e,
                        }))
                        .collect(),
                    custom_properties: choices.get(choice).map(|c| value("Department", c)).into_iter().collect(),
                })
                .collect();
            let owner = |idx: usize| {
                let user = &users[idx % users.len()];
                QrsOwner {
                    id: user.id.clone(),
                    user_id: user.user_id.clone(),
                    user_directory: user.user_directory.clone(),
                    name: user.name.clone(),
                }
            };
            let streams: Vec<QrsStream> = choices
                .iter()
                .enumerate()
                .map(|(idx, choice)| QrsStream {
                    id: Some(format!("stream-{idx}")),
                    name: Some(choice.clone()),
                    owner: Some(owner(idx)),
                    custom_properties: vec![value("Department", choice)],
                })
                .collect();
            let apps: Vec<QrsApp> = apps
                .into_iter()
                .enumerate()
                .map(|(idx, (name, owner_idx, published, stream_idx))| QrsApp {
                    id: Some(format!("app-{idx}")),
                    name: Some(name),
                    owner: Some(owner(owner_idx)),
                    stream: published.then(|| QrsRef {
                        id: Some(format!("stream-{}", stream_idx % streams.len())),
                        name: None,
                    }),
                    published,
                    description: None,
                    custom_properties: Vec::new(),
                })
                .collect();
            let conditions = [
                "resource.stream.name = user.@Department",
                "resource.IsOwned() and resource.owner = user",
                "user.roles = \"RootAdmin\"",
                "",
            ];
            let systemrules: Vec<SystemRule> = rules
                .into_iter()
                .enumerate()
                .map(|(idx, (context, disabled, condition))| SystemRule {
                    id: Some(format!("rule-{idx}")),
                    category: Some("Security".into()),
                    subcategory: None,
                    rule_type: Some("Custom".into()),
                    name: format!("rule {}", idx % 2),
                    rule: Some(conditions[condition].into()),
                    resource_filter: Some("App_*".into()),
                    actions: Some(2),
                    comment: None,
                    disabled: Some(disabled),
                    rule_context: Some(portcullis_rules::qrs::QrsContext::Number(context)),
                    seed_id: None,
                    version: None,
                    tags: None,
                    schema_path: None,
                })
                .collect();
            QrsSite {
                users,
                userdirectories: Vec::new(),
                streams,
                apps,
                custompropertydefinitions: vec![definition],
                dataconnections: Vec::new(),
                systemrules,
            }
        })
}

proptest! {
    #[test]
    fn random_sites_round_trip(qrs_site in qrs_sites()) {
        // Consistent by construction (even with repeated choices): it must import.
        let site = qrs_site::import(&qrs_site).map_err(|p| TestCaseError::fail(format!("{p:#?}")))?.site;
        let exported = qrs_site::export(&site);
        let again = qrs_site::import(&exported).map_err(|p| TestCaseError::fail(format!("{p:#?}")))?;
        prop_assert_eq!(&again.site, &site);
        prop_assert_eq!(exported.to_files(), qrs_site::export(&again.site).to_files());
        let (file, base) = from_yaml(&site_to_json(&site)).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(&file.load(&base).map_err(|e| TestCaseError::fail(format!("{e:?}")))?.site, &site);
    }
}

#[test]
fn a_site_file_site_exports_to_files_that_import() {
    // A site written by hand (no definitions, owners by key): export makes definitions up.
    let text = r#"
users:
  - { userDirectory: ACME, userId: ann, customProperties: { Team: [Blue] } }
resources:
  - { id: s1, type: Stream, name: Blue }
  - { id: a1, type: App, name: One, owner: 'ACME\ann', stream: s1, published: "true", customProperties: { Team: Blue } }
  - { id: o1, type: App.Object, app: a1 }
rules:
  - { name: team, resourceFilter: "App_*", condition: "resource.stream.name = user.@Team", actions: [read] }
"#;
    let (file, base) = from_yaml(text).expect("yaml");
    let site = file.load(&base).expect("loads").site;
    assert_eq!(qrs_site::unexported(&site), 1);
    let exported = qrs_site::export(&site);
    assert_eq!(exported.custompropertydefinitions.len(), 1);
    assert_eq!(
        exported.custompropertydefinitions[0].object_types,
        vec!["User".to_owned(), "App".to_owned()]
    );
    let imported = qrs_site::import(&exported).expect("imports").site;
    let compiled = CompiledSite::compile(&imported).expect("compiles");
    let decision = compiled.decide(
        compiled.user("ACME\\ann").expect("ann"),
        compiled.resource("a1").expect("a1"),
        Action::Read,
        RequestContext::Hub,
    );
    assert!(decision.allowed);
}

#[test]
fn writing_the_fixture_to_a_folder_and_back_is_byte_stable() {
    let site = imported_fixture();
    let dir = tempdir();
    for (name, text) in qrs_site::export(&site).to_files() {
        let mut file = std::fs::File::create(dir.join(&name)).expect("create");
        file.write_all(text.as_bytes()).expect("write");
    }
    let mut files = QrsSiteFiles::new("folder");
    for kind in Kind::ALL {
        files.insert(kind.file_name(), std::fs::read_to_string(dir.join(kind.file_name())).expect("read"));
    }
    let again = qrs_site::import_files(&files).expect("imports").site;
    assert_eq!(qrs_site::export(&again).to_files(), qrs_site::export(&site).to_files());
    std::fs::remove_dir_all(&dir).ok();
}

fn tempdir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("portcullis-qrs-site-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

/// Each file of the shared corpus of real, public rules, as the `systemrules.json` of the
/// fixture site: the files without defects import, and the known defects are reported at
/// `systemrules.json`, the rule (by index: the corpus has no ids) and the field.
#[test]
fn the_public_rule_corpus_imports_as_a_sites_rules() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus/qseow-rules");
    if !dir.is_dir() {
        println!("note: {} not found; skipping the real-rule corpus", dir.display());
        return;
    }
    let mut paths: Vec<std::path::PathBuf> = std::fs::read_dir(&dir).expect("dir").filter_map(|e| e.ok().map(|e| e.path())).collect();
    paths.sort();
    let (mut n_imported, mut problems) = (0, Vec::new());
    for path in paths.iter().filter(|p| p.extension().is_some_and(|e| e == "json")) {
        let mut files = fixture_files();
        files.insert("systemrules.json", std::fs::read_to_string(path).expect("readable"));
        match qrs_site::import_files(&files) {
            Ok(imported) => {
                n_imported += 1;
                assert!(CompiledSite::compile(&imported.site).is_ok());
            }
            Err(errors) => {
                let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default();
                for error in errors {
                    assert_eq!(error.file, "systemrules.json", "{error}");
                    problems.push(format!("{name} {} {}", error.object.unwrap_or_default(), error.field.unwrap_or_default()));
                }
            }
        }
    }
    // The same defects as the linter finds (corpus.rs), each where it is.
    assert_eq!(n_imported, 5, "{problems:#?}");
    assert_eq!(
        problems,
        [
            "ahaydon_Qlik-DSC.json #0 actions",
            "ahaydon_Qlik-DSC.json #2 resourceFilter",
            "eapowertools-archive_iPortal.json #7 rule",
            "eapowertools-archive_iPortal.json #7 rule",
            "eapowertools-archive_iPortal.json #8 rule",
            "eapowertools-archive_iPortal.json #11 rule",
            "eapowertools-archive_iPortal.json #11 rule",
            "senseexcel_senseexcel-reporting.json #1 rule",
        ]
    );
}

#[test]
fn warnings_are_located_and_do_not_stop_the_import() {
    let mut site = fixture();
    site.users[3].user_directory = Some("LEGACY".into());
    site.apps[3].published = false;
    let imported = qrs_site::import(&site).expect("imports with warnings");
    let warnings: Vec<(String, Option<String>, Option<String>)> = imported.warnings.into_iter().map(|w| (w.file, w.object, w.field)).collect();
    assert_eq!(
        warnings,
        [
            (
                "users.json".to_owned(),
                Some("0f1e0000-0000-4000-8000-00000000a004".to_owned()),
                Some("userDirectory".to_owned())
            ),
            (
                "apps.json".to_owned(),
                Some("a0000000-0000-4000-8000-0000000000a4".to_owned()),
                Some("published".to_owned())
            ),
        ]
    );
    // The unpublished app is still in its stream, and says it is not published.
    let app = imported
        .site
        .resources
        .iter()
        .find(|r| r.id == "a0000000-0000-4000-8000-0000000000a4")
        .expect("app");
    assert_eq!(app.attributes.get("published"), Some(&vec!["false".to_owned()]));
}
