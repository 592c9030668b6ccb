//! Unit tests of the tenant file loader and the tenant's mutations.

use crate::tenant::{DirectOrigin, RoleTarget};
use crate::tenant_file::load_tenant_text;
use crate::{ModelError, Permission, PermissionValue, TenantSetting};

const TENANT: &str = "\
name: acme
subscription: user-based
settings: { autoAssignCreateSharedSpacesRoleToProfessionals: true }
groups:
  - { name: sales, roles: [Steward] }
users:
  - { id: ann, roles: [TenantAdmin], groups: [sales] }
  - { id: zed, entitlement: analyzer }
";

#[test]
fn a_top_level_tenant_file_loads_with_defaults() {
    let tenant = load_tenant_text("t.yaml", TENANT).unwrap();
    assert_eq!(tenant.name, "acme");
    let ann = tenant.user("ann").unwrap();
    assert_eq!(ann.name, "ann", "the name defaults to the id");
    assert_eq!(ann.entitlement, crate::Entitlement::Professional);
    assert_eq!(ann.status, crate::UserStatus::Active);
    assert_eq!(tenant.group("sales").unwrap().provider_type, crate::ProviderType::Idp);
}

#[test]
fn a_scenario_file_gives_its_tenant() {
    let indented: String = TENANT.lines().map(|l| format!("  {l}\n")).collect();
    let text = format!("name: scenario name\ntenant:\n{indented}checks: []\n");
    let tenant = load_tenant_text("s.yaml", &text).unwrap();
    assert_eq!(tenant.users.len(), 2);
    assert_eq!(tenant.name, "acme");
}

#[test]
fn every_problem_is_reported_with_its_line() {
    let text = "users:\n  - { id: ann, roles: [Nope] }\n  - { id: bob, status: asleep }\n";
    let error = load_tenant_text("bad.yaml", text).unwrap_err();
    assert_eq!(error.lines.len(), 2, "{error}");
    assert!(error.lines[0].starts_with("bad.yaml:2:"), "{error}");
    assert!(
        error.lines[0].contains("unknown role `Nope`") && error.lines[0].contains("TenantAdmin"),
        "{error}"
    );
    assert!(
        error.lines[1].starts_with("bad.yaml:3:") && error.lines[1].contains("unknown user status `asleep`"),
        "{error}"
    );
}

#[test]
fn a_syntax_error_names_the_line() {
    let error = load_tenant_text("bad.yaml", "users:\n  - { id: ann\n").unwrap_err();
    assert!(error.to_string().starts_with("bad.yaml:"), "{error}");
}

#[test]
fn a_custom_role_cannot_take_a_built_in_name_or_hold_too_much() {
    let error = load_tenant_text(
        "r.yaml",
        "roles:\n  - { name: Steward }\n  - { name: x, permissions: { manage-notes: sometimes } }\n",
    )
    .unwrap_err();
    let text = error.to_string();
    assert!(text.contains("name of a built-in role"), "{text}");
    assert!(text.contains("does not take the value `sometimes`"), "{text}");
}

#[test]
fn removing_a_direct_role_leaves_the_group_path() {
    let mut tenant = load_tenant_text("t.yaml", TENANT).unwrap();
    tenant.assign_role("Steward", &RoleTarget::User("ann".into())).unwrap();
    tenant.unassign_role("Steward", &RoleTarget::User("ann".into())).unwrap();
    assert!(tenant.group("sales").unwrap().roles.contains(&"Steward".to_owned()));
    // ann now holds Steward only through sales: unassigning it from her is a no-op.
    let before = tenant.clone();
    tenant.unassign_role("Steward", &RoleTarget::User("ann".into())).unwrap();
    assert_eq!(tenant, before);
}

#[test]
fn steps_that_change_nothing_succeed_and_change_nothing() {
    let mut tenant = load_tenant_text("t.yaml", TENANT).unwrap();
    let before = tenant.clone();
    tenant.unassign_role("Steward", &RoleTarget::User("ann".into())).unwrap();
    tenant.unassign_role("TenantAdmin", &RoleTarget::Group("sales".into())).unwrap();
    tenant.unassign_role("Steward", &RoleTarget::Everyone).unwrap();
    tenant.leave_group("zed", "sales").unwrap();
    assert_eq!(tenant, before);
    // Only references that do not exist are refused.
    assert!(matches!(
        tenant.unassign_role("Nope", &RoleTarget::Everyone),
        Err(ModelError::UnknownRole { .. })
    ));
    assert!(matches!(
        tenant.unassign_role("Steward", &RoleTarget::User("nobody".into())),
        Err(ModelError::UnknownUser { .. })
    ));
    assert!(matches!(
        tenant.unassign_role("Steward", &RoleTarget::Group("nope".into())),
        Err(ModelError::UnknownGroup { .. })
    ));
    assert!(matches!(tenant.leave_group("ann", "nope"), Err(ModelError::UnknownGroup { .. })));
    assert!(matches!(tenant.leave_group("nobody", "sales"), Err(ModelError::UnknownUser { .. })));
    assert_eq!(tenant, before);
}

#[test]
fn a_login_of_a_user_who_is_not_active_records_nothing() {
    let mut tenant = load_tenant_text("t.yaml", TENANT).unwrap();
    for status in [
        crate::UserStatus::Invited,
        crate::UserStatus::Disabled,
        crate::UserStatus::Deleted,
        crate::UserStatus::Provisioned,
    ] {
        tenant.set_user_status("ann", status).unwrap();
        let before = tenant.clone();
        assert!(tenant.record_login("ann").unwrap().is_empty(), "{status}");
        assert_eq!(tenant, before, "{status}");
    }
    tenant.set_user_status("ann", crate::UserStatus::Active).unwrap();
    assert_eq!(tenant.record_login("ann").unwrap(), ["SharedSpaceCreator"]);
}

#[test]
fn mutations_refuse_unknown_names_and_change_nothing() {
    let mut tenant = load_tenant_text("t.yaml", TENANT).unwrap();
    let before = tenant.clone();
    assert!(matches!(
        tenant.assign_role("Nope", &RoleTarget::Everyone),
        Err(ModelError::UnknownRole { .. })
    ));
    assert!(matches!(
        tenant.assign_role("UserDefault", &RoleTarget::Everyone),
        Err(ModelError::UserDefaultNotAssignable)
    ));
    assert!(matches!(tenant.join_group("ann", "nope"), Err(ModelError::UnknownGroup { .. })));
    assert!(matches!(tenant.join_group("ann", "sales"), Err(ModelError::AlreadyMember { .. })));
    assert!(matches!(tenant.leave_group("zed", "nope"), Err(ModelError::UnknownGroup { .. })));
    assert_eq!(tenant, before);
}

#[test]
fn login_records_toggle_roles_for_matching_entitlements_only() {
    let mut tenant = load_tenant_text("t.yaml", TENANT).unwrap();
    assert_eq!(tenant.record_login("ann").unwrap(), ["SharedSpaceCreator"]);
    assert!(tenant.record_login("zed").unwrap().is_empty(), "analyzers are not Professionals");
    let recorded = tenant.user("ann").unwrap().roles.iter().find(|r| r.role == "SharedSpaceCreator").unwrap();
    assert_eq!(
        recorded.origin,
        DirectOrigin::Setting(TenantSetting::AutoAssignCreateSharedSpacesRoleToProfessionals)
    );
    // Turning the toggle off keeps what was recorded; a second login records nothing new.
    tenant.set_setting(TenantSetting::AutoAssignCreateSharedSpacesRoleToProfessionals, false);
    assert!(tenant.record_login("ann").unwrap().is_empty());
    assert!(tenant.user("ann").unwrap().roles.iter().any(|r| r.role == "SharedSpaceCreator"));
}

#[test]
fn user_default_accepts_only_its_permissions_and_values() {
    let mut tenant = load_tenant_text("t.yaml", TENANT).unwrap();
    let download = Permission::parse("in-app-content-download").unwrap();
    tenant.set_user_default(download, PermissionValue::NoData).unwrap();
    assert_eq!(tenant.user_default_value(download), Some(PermissionValue::NoData));
    let shared_automations = Permission::parse("manage-automations-shared").unwrap();
    assert!(matches!(
        tenant.set_user_default(shared_automations, PermissionValue::Allowed),
        Err(ModelError::NotInUserDefault { .. })
    ));
    let notes = Permission::parse("manage-notes").unwrap();
    assert!(matches!(
        tenant.set_user_default(notes, PermissionValue::NoData),
        Err(ModelError::BadPermissionValue { .. })
    ));
}

#[test]
fn an_app_in_a_data_space_is_refused_where_it_is_placed() {
    let text = "\
users: [ { id: dora } ]
spaces: [ { id: lake, type: data, owner: dora } ]
content:
  - { id: dc, type: data-connection, space: lake, owner: dora }
  - { id: report, type: app, space: lake, owner: dora }
";
    let error = load_tenant_text("t.yaml", text).unwrap_err().to_string();
    assert!(error.starts_with("t.yaml:5:"), "{error}");
    assert!(error.contains("app `report` cannot be in data space `lake`"), "{error}");
    assert!(!error.contains("`dc`"), "a data connection belongs there: {error}");
}

#[test]
fn every_qlik_tenant_boolean_is_accepted_and_any_other_name_is_refused_by_name() {
    let text = "\
settings:
  autoAssignCreateSharedSpacesRoleToProfessionals: true
  autoAssignPrivateAnalyticsContentCreatorRoleToProfessionals: false
  autoAssignDataServicesContributorRoleToProfessionals: true
  enableAnalyticCreation: true
  adminsCanOpenAppsWithoutSpaceRole: false
  capacityUserTypesUnified: false
";
    let tenant = load_tenant_text("t.yaml", text).unwrap();
    assert_eq!(tenant.settings.len(), 6);
    assert!(tenant.setting(TenantSetting::EnableAnalyticCreation));
    assert_eq!(
        TenantSetting::parse("enableAnalyticCreation"),
        Some(TenantSetting::EnableAnalyticCreation)
    );
    assert_eq!(TenantSetting::EnableAnalyticCreation.toggle_role(), None, "deprecated: it gives no role");

    let error = load_tenant_text("t.yaml", "users: [ { id: ann } ]\nsettings:\n  enableAnalyticsCreation: true\n")
        .unwrap_err()
        .to_string();
    assert!(error.starts_with("t.yaml:3:3:"), "{error}");
    assert!(error.contains("unknown tenant setting `enableAnalyticsCreation`"), "{error}");
    assert!(error.contains("enableAnalyticCreation"), "the hint lists the known names: {error}");
}

/// Runs `f` on a thread with a test thread's default stack (2 MiB).
fn on_test_stack(f: impl FnOnce() + Send + 'static) {
    std::thread::Builder::new()
        .stack_size(2 << 20)
        .spawn(f)
        .expect("a thread starts")
        .join()
        .expect("no panic");
}

#[test]
fn a_deeply_nested_document_is_refused_naming_the_limit() {
    on_test_stack(|| {
        // Deep junk beside the tenant of a scenario file, and a problem that needs the line index.
        let text = format!(
            "tenant:\n  users:\n    - {{ id: ann, roles: [Nope] }}\njunk:\n  {}x\n",
            "- ".repeat(100_000)
        );
        let error = load_tenant_text("deep.yaml", &text).unwrap_err().to_string();
        assert!(error.contains("nests deeper than 64 levels"), "{error}");
        assert!(error.starts_with("deep.yaml:5:"), "{error}");
        let flow = format!("users: {}{}\n", "[".repeat(100), "]".repeat(100));
        let error = load_tenant_text("flow.yaml", &flow).unwrap_err().to_string();
        assert!(error.contains("nests deeper than 64 levels"), "{error}");
    });
}

#[test]
fn aliases_that_expand_past_the_limit_are_refused() {
    // One anchored list of 1,000 groups, used by 200 users: 200,000 nodes from a 30 KB file.
    let groups: Vec<String> = (0..1_000).map(|i| format!("g{i}")).collect();
    let mut text = format!(
        "groups: [{}]\nusers:\n  - {{ id: u0, groups: &many [{}] }}\n",
        groups.iter().map(|g| format!("{{ name: {g} }}")).collect::<Vec<_>>().join(", "),
        groups.join(", ")
    );
    for i in 1..200 {
        text.push_str(&format!("  - {{ id: u{i}, groups: *many }}\n"));
    }
    let error = load_tenant_text("laughs.yaml", &text).unwrap_err().to_string();
    assert!(error.contains("aliases expand to more than 100000 nodes"), "{error}");
    // A few aliases stay fine.
    let small = "groups: [{ name: a }, { name: b }]\nusers:\n  - { id: x, groups: &both [a, b] }\n  - { id: y, groups: *both }\n";
    let tenant = load_tenant_text("small.yaml", small).unwrap();
    assert_eq!(tenant.user("y").unwrap().groups.len(), 2);
}

#[test]
fn a_repeated_use_or_share_is_one_row_the_later_share_winning() {
    use crate::tenant::Assignee;
    use crate::{SpaceRole, SpaceRoleSet};
    let text = "\
users: [ { id: ann }, { id: bob } ]
spaces: [ { id: m, type: managed, owner: ann } ]
content: [ { id: a, type: app, space: m, owner: ann }, { id: d, type: data-connection, space: m, owner: ann } ]
uses: [ { consumer: a, source: d }, { consumer: a, source: d } ]
shares:
  - { resource: a, user: bob, roles: [consumer] }
  - { resource: a, user: bob, roles: [contributor] }
";
    let tenant = load_tenant_text("t.yaml", text).unwrap();
    assert_eq!(tenant.uses.len(), 1);
    assert_eq!(tenant.shares.len(), 1);
    let bob = Assignee::User("bob".into());
    assert_eq!(tenant.shares.get("a", &bob).unwrap().roles, SpaceRoleSet::of(&[SpaceRole::Contributor]));
}

#[test]
fn an_export_mark_names_custom_roles_only_and_each_problem_where_it_is_written() {
    let text = "roles: [ { name: Exporters } ]\n\
                spaces:\n  \
                  - { id: s1, type: shared, exportOnlyThrough: [Exporters] }\n  \
                  - { id: s2, type: shared, exportOnlyThrough: [Exporters, TenantAdmin, Nope, Exporters] }\n";
    let error = load_tenant_text("t.yaml", text).unwrap_err();
    assert_eq!(error.lines.len(), 3, "{error}");
    assert!(error.lines.iter().all(|l| l.starts_with("t.yaml:4:")), "{error}");
    assert!(
        error.lines[0].contains("`TenantAdmin` is not a custom role") && error.lines[0].contains("custom roles only"),
        "{error}"
    );
    assert!(
        error.lines[1].contains("`Nope` is not a custom role") && error.lines[1].contains("custom roles: Exporters"),
        "{error}"
    );
    assert!(error.lines[2].contains("named twice"), "{error}");
    let tenant = load_tenant_text(
        "t.yaml",
        "roles: [ { name: Exporters } ]\nspaces: [ { id: s1, type: shared, exportOnlyThrough: [] } ]\n",
    )
    .unwrap();
    assert_eq!(tenant.space("s1").unwrap().export_only_through, Some(Vec::new()));
    let tenant = load_tenant_text("t.yaml", "spaces: [ { id: s1, type: shared } ]\n").unwrap();
    assert_eq!(tenant.space("s1").unwrap().export_only_through, None);
}
