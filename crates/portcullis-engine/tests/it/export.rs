//! The export mark (`docs/export-control.md`), on seed 000's words: "We would like to block
//! data exports for apps with sensitive data, but the users should be allowed to export from
//! other apps". Decisions and explanations, listings, the live view and what-if, on one small
//! tenant whose UserDefault lets everyone download.

use portcullis_engine::{Channel, RawRequest, Snapshot, decide, permitted_content, resolve, what_if};
use portcullis_model::Action;
use portcullis_model::change::Change;
use portcullis_model::tenant::{RoleTarget, Tenant};
use portcullis_model::tenant_file::load_tenant_text;

const TENANT: &str = "\
roles:
  - { name: Sensitive exporters, permissions: { in-app-content-download: allowed } }
groups:
  - { name: controllers, roles: [Sensitive exporters] }
users:
  - { id: ann, groups: [controllers] }
  - { id: bob }
spaces:
  - id: finance
    type: shared
    owner: ann
    members: [ { user: bob, roles: [consumer] } ]
    exportOnlyThrough: [Sensitive exporters]
  - id: sales
    type: shared
    owner: ann
    members: [ { user: bob, roles: [consumer] } ]
content:
  - { id: payroll, type: app, space: finance, owner: ann }
  - { id: pipeline, type: app, space: sales, owner: ann }
";

fn tenant() -> Tenant {
    load_tenant_text("seed-000.yaml", TENANT).unwrap()
}

/// Allowed, and the explanation's tokens.
fn check(snapshot: &Snapshot, user: &str, action: Action, item: &str) -> (bool, String) {
    let via = Channel::ApiKey;
    let raw = RawRequest {
        user,
        via: &via,
        action: action.as_str(),
        resource: Some(item),
    };
    let decision = decide(snapshot, &resolve(snapshot, &raw).unwrap().request(None, true));
    (decision.allowed, decision.explanation.tokens().join(" "))
}

fn listed(snapshot: &Snapshot, user: &str, action: Action) -> Vec<String> {
    let idx = snapshot.user_idx(user).unwrap();
    permitted_content(snapshot, idx, Channel::ApiKey, None, action)
        .map(|item| snapshot.content_item(item).id.to_string())
        .collect()
}

#[test]
fn a_marked_space_lets_data_out_only_through_its_roles() {
    let snapshot = Snapshot::build(&tenant(), 1);
    // bob may export from the sales app but not from the sensitive payroll app.
    let (allowed, path) = check(&snapshot, "bob", Action::AppExportData, "pipeline");
    assert!(allowed, "{path}");
    assert!(!path.contains("export-mark"), "an unmarked space says nothing: {path}");
    let (allowed, path) = check(&snapshot, "bob", Action::AppExportData, "payroll");
    assert!(!allowed);
    assert_eq!(path, "space-role:consumer user-default export-mark:finance");
    // Reading the app is not data leaving: the mark does not touch it.
    assert!(check(&snapshot, "bob", Action::AppRead, "payroll").0);
    // ann holds the role through her group.
    let (allowed, path) = check(&snapshot, "ann", Action::AppExportData, "payroll");
    assert!(allowed);
    assert!(
        path.ends_with("export-mark:finance export-through:Sensitive exporters group:controllers"),
        "{path}"
    );
    assert!(check(&snapshot, "ann", Action::AppExportImage, "payroll").0);
    assert!(check(&snapshot, "ann", Action::AppExport, "payroll").0);
    // Listings agree.
    assert_eq!(listed(&snapshot, "bob", Action::AppExportData), ["pipeline"]);
    assert_eq!(listed(&snapshot, "ann", Action::AppExportData), ["payroll", "pipeline"]);
    assert_eq!(listed(&snapshot, "bob", Action::AppRead), ["payroll", "pipeline"]);
}

#[test]
fn an_empty_mark_lets_nothing_out_and_no_mark_is_qliks_behaviour() {
    let mut t = tenant();
    let before = Snapshot::build(&t, 1);
    let applied = t
        .apply(&Change::SetExportOnlyThrough {
            space: "finance".into(),
            roles: Some(Vec::new()),
        })
        .unwrap();
    let after = before.apply(&t, &applied.touched, 2);
    let (allowed, path) = check(&after, "ann", Action::AppExportData, "payroll");
    assert!(!allowed);
    assert!(path.ends_with("export-mark:finance"), "{path}");
    t.apply(&Change::SetExportOnlyThrough {
        space: "finance".into(),
        roles: None,
    })
    .unwrap();
    let unmarked = Snapshot::build(&t, 3);
    assert!(check(&unmarked, "bob", Action::AppExportData, "payroll").0);
}

#[test]
fn the_model_checks_marks_and_keeps_them_when_roles_are_renamed() {
    let mut t = tenant();
    let refused = |t: &mut Tenant, roles: &[&str]| {
        t.apply(&Change::SetExportOnlyThrough {
            space: "sales".into(),
            roles: Some(roles.iter().map(|r| r.to_string()).collect()),
        })
        .unwrap_err()
        .to_string()
    };
    assert!(refused(&mut t, &["TenantAdmin"]).contains("default role"));
    assert!(refused(&mut t, &["Nope"]).contains("not a custom role"));
    assert!(refused(&mut t, &["Sensitive exporters", "Sensitive exporters"]).contains("named twice"));
    // A role a mark names is not deleted from under it.
    t.apply(&Change::ReplaceGroupRoles {
        name: "controllers".into(),
        roles: Vec::new(),
    })
    .unwrap();
    let error = t
        .apply(&Change::DeleteCustomRole {
            name: "Sensitive exporters".into(),
        })
        .unwrap_err();
    assert!(error.to_string().contains("export mark of space `finance`"), "{error}");
    // Renamed, the mark follows and the rename touches the space.
    t.apply(&Change::AssignRole {
        role: "Sensitive exporters".into(),
        target: RoleTarget::User("bob".into()),
    })
    .unwrap();
    let before = Snapshot::build(&t, 1);
    let applied = t
        .apply(&Change::RenameCustomRole {
            name: "Sensitive exporters".into(),
            new_name: "Payroll exporters".into(),
        })
        .unwrap();
    assert!(applied.touched.spaces.contains("finance"));
    assert_eq!(
        t.space("finance").unwrap().export_only_through,
        Some(vec!["Payroll exporters".to_owned()])
    );
    let after = before.apply(&t, &applied.touched, 2);
    assert!(
        check(&after, "bob", Action::AppExportData, "payroll")
            .1
            .contains("export-through:Payroll exporters")
    );
}

#[test]
fn what_if_shows_who_a_mark_would_stop() {
    let mut t = tenant();
    let current = Snapshot::build(&t, 1);
    let diff = what_if(
        &mut t,
        &current,
        &[Change::SetExportOnlyThrough {
            space: "sales".into(),
            roles: Some(vec!["Sensitive exporters".into()]),
        }],
    )
    .unwrap();
    let lost: Vec<(String, Action, String)> = diff
        .changes
        .iter()
        .map(|c| (c.user.to_string(), c.action, c.resource.as_deref().unwrap_or("-").to_owned()))
        .collect();
    assert_eq!(
        lost,
        [
            ("bob".to_owned(), Action::AppExportData, "pipeline".to_owned()),
            ("bob".to_owned(), Action::AppExportImage, "pipeline".to_owned()),
        ]
    );
    assert!(diff.changes.iter().all(|c| !c.gained));
    assert_eq!(t, tenant(), "what-if keeps nothing");
    // Granting the role named by the mark gives back what the mark withholds.
    let diff = what_if(
        &mut t,
        &current,
        &[Change::AssignRole {
            role: "Sensitive exporters".into(),
            target: RoleTarget::User("bob".into()),
        }],
    )
    .unwrap();
    assert!(
        diff.changes
            .iter()
            .any(|c| c.gained && c.action == Action::AppExportData && c.path.contains("export-through:Sensitive exporters")),
        "{:?}",
        diff.changes
    );
}
