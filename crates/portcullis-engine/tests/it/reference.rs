//! A deliberately naive reference evaluator, written straight from the spec and the
//! conformance README: it reads the `Tenant` model with string comparisons and role-centric
//! tables, computes nothing ahead of time, and answers allow/deny only. The property tests
//! compare the engine with it on random tenants.

use portcullis_model::scope::covers;
use portcullis_model::tenant::{Assignee, DirectOrigin, RoleSetting, Tenant};
use portcullis_model::{Action, ContentKind, Entitlement, Permission, PermissionValue, SpaceRole, SpaceType, TenantSetting, UserStatus};

/// The channel of a reference request.
#[derive(Debug, Clone)]
pub enum Via {
    ApiKey,
    OAuth(String),
}

fn roles_held(t: &Tenant, user: &str) -> Vec<String> {
    let u = t.user(user).unwrap();
    let mut roles: Vec<String> = u.roles.iter().map(|r| r.role.clone()).collect();
    let _ = DirectOrigin::Assigned;
    for g in &u.groups {
        if let Some(group) = t.group(g) {
            roles.extend(group.roles.iter().cloned());
        }
    }
    roles.extend(t.everyone_roles.iter().cloned());
    roles
}

/// The value a custom role gives a permission, or `None`.
fn custom_value(t: &Tenant, role: &str, key: &str) -> Option<PermissionValue> {
    let role = t.custom_roles.iter().find(|r| r.name == role)?;
    let permission = Permission::parse(key)?;
    match role.permissions.get(&permission)? {
        RoleSetting::Value(v) => Some(*v),
        RoleSetting::UserDefault => t.user_default_value(permission),
        RoleSetting::Scopes(_) => None,
    }
}

/// Does a custom role hold the scope named `scope` of the permission, as a set of scopes?
fn custom_holds_scope(t: &Tenant, role: &str, key: &str, scope: &str) -> bool {
    let Some(role) = t.custom_roles.iter().find(|r| r.name == role) else {
        return false;
    };
    match Permission::parse(key).and_then(|p| role.permissions.get(&p)) {
        Some(RoleSetting::Scopes(caps)) => caps.iter().any(|c| c.scope() == scope),
        _ => false,
    }
}

/// Does UserDefault or any held custom role give the permission one of `values`, or a held
/// custom role the `scope` itself?
fn permission_is(t: &Tenant, user: &str, key: &str, values: &[PermissionValue], scope: &str) -> bool {
    let permission = Permission::parse(key).unwrap();
    if t.user_default_value(permission).is_some_and(|v| values.contains(&v)) {
        return true;
    }
    roles_held(t, user)
        .iter()
        .any(|r| custom_value(t, r, key).is_some_and(|v| values.contains(&v)) || custom_holds_scope(t, r, key, scope))
}

fn holds(t: &Tenant, user: &str, role: &str) -> bool {
    roles_held(t, user).iter().any(|r| r == role)
}

fn space_roles(t: &Tenant, user: &str, space: &str) -> Vec<SpaceRole> {
    let u = t.user(user).unwrap();
    let s = t.space(space).unwrap();
    let mut out = Vec::new();
    for m in &s.members {
        let mine = match &m.assignee {
            Assignee::User(id) => id == user,
            Assignee::Group(g) => u.groups.contains(g),
        };
        if mine {
            out.extend(m.roles.iter());
        }
    }
    out
}

fn effective_entitlement(t: &Tenant, user: &str) -> Entitlement {
    let u = t.user(user).unwrap();
    if u.entitlement != Entitlement::Basic {
        return u.entitlement;
    }
    if t.setting(TenantSetting::CapacityUserTypesUnified) {
        return Entitlement::Full;
    }
    if roles_held(t, user).iter().any(|r| r != "CollaborationPlatformUser") {
        return Entitlement::Full;
    }
    let beyond = |roles: &[SpaceRole]| roles.iter().any(|r| *r != SpaceRole::Basicconsumer);
    if t.spaces.iter().any(|s| beyond(&space_roles(t, user, &s.id))) {
        return Entitlement::Full;
    }
    // A space owner implicitly holds every assignable role of the space (spec §8.1, README).
    if t.spaces.iter().any(|s| s.owner.as_deref() == Some(user)) {
        return Entitlement::Full;
    }
    if t.content.iter().any(|c| beyond(&share_roles(t, user, &c.id))) {
        return Entitlement::Full;
    }
    Entitlement::Basic
}

fn share_roles(t: &Tenant, user: &str, item: &str) -> Vec<SpaceRole> {
    let u = t.user(user).unwrap();
    let mut out = Vec::new();
    for share in t.shares.iter().filter(|s| s.resource == item) {
        let mine = match &share.assignee {
            Assignee::User(id) => id == user,
            Assignee::Group(g) => u.groups.contains(g),
        };
        if mine {
            out.extend(share.roles.iter());
        }
    }
    out
}

/// What a space role allows, read from spec §8.2–8.4 role by role.
fn role_allows(space_type: SpaceType, role: SpaceRole, action: Action) -> bool {
    use Action::*;
    use SpaceRole::*;
    let exports_and_read = [AppRead, AppExportData, AppExportImage];
    let list: &[Action] = match (space_type, role) {
        (SpaceType::Shared, Facilitator) => &[
            SpaceUpdate,
            SpaceDelete,
            SpaceManageMembers,
            SpaceCreateApp,
            SpaceCreateDataConnection,
            AppRead,
            AppUpdate,
            AppDelete,
            AppDuplicate,
            AppExport,
            AppPublish,
            AppShare,
            AppExportData,
            AppExportImage,
            DataConnectionRead,
            DataConnectionUse,
            DataConnectionUpdate,
            DataConnectionDelete,
        ],
        (SpaceType::Shared, Codeveloper) => &[
            SpaceCreateApp,
            SpaceCreateDataConnection,
            AppRead,
            AppUpdate,
            AppDelete,
            AppDuplicate,
            AppExport,
            AppPublish,
            AppEditScript,
            AppExportData,
            AppExportImage,
            DataConnectionRead,
            DataConnectionUse,
            DataConnectionUpdate,
            DataConnectionDelete,
        ],
        (SpaceType::Shared, Producer) => &[
            SpaceCreateApp,
            SpaceCreateDataConnection,
            AppRead,
            AppUpdate,
            AppDelete,
            AppDuplicate,
            AppExport,
            AppPublish,
            AppExportData,
            AppExportImage,
            DataConnectionRead,
            DataConnectionUse,
            DataConnectionUpdate,
            DataConnectionDelete,
        ],
        (SpaceType::Shared, Consumer) => &exports_and_read,
        (SpaceType::Shared, Dataconsumer) => &[DataConnectionRead, DataConnectionUse],
        (SpaceType::Managed, Facilitator) => &[
            SpaceUpdate,
            SpaceDelete,
            SpaceManageMembers,
            SpaceCreateDataConnection,
            AppRead,
            AppUpdate,
            AppDelete,
            AppExport,
            AppShare,
            AppReload,
            AppExportData,
            AppExportImage,
            DataConnectionRead,
            DataConnectionUse,
            DataConnectionUpdate,
            DataConnectionDelete,
        ],
        // Apps enter a managed space only by publishing; Can publish uses no data connection (README).
        (SpaceType::Managed, Publisher) => &[SpacePublishApp, AppPublish],
        (SpaceType::Managed, Contributor | Consumer | Basicconsumer) => &exports_and_read,
        (SpaceType::Managed, Operator) => &[
            AppRead,
            AppUpdate,
            AppReload,
            AppExportData,
            AppExportImage,
            DataConnectionRead,
            DataConnectionUse,
        ],
        (SpaceType::Managed, Dataconsumer) => &[DataConnectionRead, DataConnectionUse],
        // A data space holds no apps: nobody creates one there (README).
        (SpaceType::Data, Facilitator) => &[
            SpaceUpdate,
            SpaceDelete,
            SpaceManageMembers,
            SpaceCreateDataConnection,
            AppRead,
            AppUpdate,
            AppDelete,
            AppReload,
            AppExportData,
            AppExportImage,
            DataConnectionRead,
            DataConnectionUse,
            DataConnectionUpdate,
            DataConnectionDelete,
        ],
        (SpaceType::Data, Producer) => &[
            SpaceCreateDataConnection,
            AppRead,
            AppUpdate,
            AppDelete,
            AppReload,
            AppExportData,
            AppExportImage,
            DataConnectionRead,
            DataConnectionUse,
            DataConnectionUpdate,
            DataConnectionDelete,
        ],
        (SpaceType::Data, Operator) => &[AppRead, AppReload, AppExportData, AppExportImage, DataConnectionRead],
        (SpaceType::Data, Consumer) => &[AppRead, AppExportData, AppExportImage, DataConnectionRead],
        (SpaceType::Data, Datapreview) => &[DataConnectionRead],
        (SpaceType::Data, Dataconsumer) => &[DataConnectionRead, DataConnectionUse],
        _ => &[],
    };
    list.contains(&action)
}

/// The Owner column: what the space owner may do without an assignment.
fn owner_allows(space_type: SpaceType, action: Action) -> bool {
    use Action::*;
    match space_type {
        // The owner has every Can manage right, but not Can edit data in applications.
        SpaceType::Shared => role_allows(space_type, SpaceRole::Facilitator, action),
        SpaceType::Managed => role_allows(space_type, SpaceRole::Facilitator, action) || matches!(action, SpacePublishApp | AppPublish),
        SpaceType::Data => role_allows(space_type, SpaceRole::Facilitator, action),
    }
}

/// Analyzers in managed spaces (spec §8.3, Analyzer variant): no Owner column; apps are
/// seen by M/C/V/RV; nobody publishes; only M exports. Every member sees the space (README).
fn analyzer_in_managed(t: &Tenant, user: &str, space: &str, action: Action) -> bool {
    use SpaceRole::*;
    let roles = space_roles(t, user, space);
    let has = |list: &[SpaceRole]| roles.iter().any(|r| list.contains(r));
    match action {
        Action::SpaceRead => t.space(space).is_some_and(|s| s.owner.as_deref() == Some(user)) || !roles.is_empty(),
        Action::AppRead | Action::AppExportData | Action::AppExportImage => has(&[Facilitator, Contributor, Consumer, Basicconsumer]),
        Action::AppPublish | Action::SpacePublishApp => false,
        Action::AppExport => has(&[Facilitator]),
        _ => roles.iter().any(|r| role_allows(SpaceType::Managed, *r, action)),
    }
}

fn in_space(t: &Tenant, user: &str, space: &str, action: Action) -> bool {
    let s = t.space(space).unwrap();
    if s.space_type == SpaceType::Managed && matches!(effective_entitlement(t, user), Entitlement::Analyzer | Entitlement::AnalyzerCapacity) {
        return analyzer_in_managed(t, user, space, action);
    }
    if action == Action::SpaceRead {
        return s.owner.as_deref() == Some(user) || !space_roles(t, user, space).is_empty();
    }
    (s.owner.as_deref() == Some(user) && owner_allows(s.space_type, action))
        || space_roles(t, user, space).iter().any(|r| role_allows(s.space_type, *r, action))
}

/// The non-admin grant of a content action, before requirements.
fn user_path_content(t: &Tenant, user: &str, item_id: &str, action: Action) -> bool {
    let item = t.content_item(item_id).unwrap();
    let Some(space_id) = &item.space else {
        return item.owner.as_deref() == Some(user) && action != Action::AppShare;
    };
    let space = t.space(space_id).unwrap();
    let owns = item.owner.as_deref() == Some(user);
    let granted = match (space.space_type, action) {
        (SpaceType::Shared, Action::AppEditScript) => {
            in_space(t, user, space_id, Action::AppEditScript) || (owns && in_space(t, user, space_id, Action::AppUpdate))
        }
        (SpaceType::Shared, Action::AppReload) => {
            in_space(t, user, space_id, Action::AppUpdate) && (owns || in_space(t, user, space_id, Action::AppEditScript))
        }
        _ => in_space(t, user, space_id, action),
    };
    granted || (matches!(action, Action::AppRead | Action::AppExportData | Action::AppExportImage) && !share_roles(t, user, item_id).is_empty())
}

/// Portcullis's export mark: a data-leaving action on an item of a marked space needs one of
/// the roles the mark names, however it is held.
fn export_mark_ok(t: &Tenant, user: &str, item_id: &str, action: Action) -> bool {
    let item = t.content_item(item_id).unwrap();
    let Some(roles) = item
        .space
        .as_deref()
        .and_then(|s| t.space(s))
        .and_then(|s| s.export_only_through.as_ref())
    else {
        return true;
    };
    !matches!(action, Action::AppExport | Action::AppExportData | Action::AppExportImage) || roles.iter().any(|r| holds(t, user, r))
}

fn requirements(t: &Tenant, user: &str, action: Action) -> bool {
    use PermissionValue::*;
    match action {
        Action::AppExportData => permission_is(t, user, "in-app-content-download", &[Allowed], "apps.data:export"),
        Action::AppExportImage => permission_is(t, user, "in-app-content-download", &[Allowed, NoData], "apps.image:export"),
        Action::AppShare => permission_is(t, user, "share-apps-fine-grained", &[Allowed], "apps:share"),
        Action::SpaceCreateApp | Action::AppEditScript | Action::AppDuplicate => {
            matches!(effective_entitlement(t, user), Entitlement::Professional | Entitlement::Full)
        }
        _ => true,
    }
}

fn admin_path_space(t: &Tenant, user: &str, space_id: Option<&str>, action: Action) -> bool {
    use Action::*;
    let Some(space) = space_id.and_then(|s| t.space(s)) else { return false };
    let admins: &[&str] = match space.space_type {
        SpaceType::Shared | SpaceType::Managed => &["TenantAdmin", "AnalyticsAdmin"],
        SpaceType::Data => &["TenantAdmin", "DataAdmin"],
    };
    let is_admin = admins.iter().any(|r| holds(t, user, r));
    let action_ok = matches!(
        action,
        SpaceRead | SpaceUpdate | SpaceDelete | SpaceManageMembers | SpaceChangeOwner | AppDelete | AppChangeOwner
    ) || (action == AppRead && t.setting(TenantSetting::AdminsCanOpenAppsWithoutSpaceRole));
    is_admin && action_ok
}

fn tenant_user_path(t: &Tenant, user: &str, action: Action) -> bool {
    use Action::*;
    match action {
        SpaceCreateShared => holds(t, user, "SharedSpaceCreator"),
        SpaceCreateManaged => holds(t, user, "ManagedSpaceCreator"),
        SpaceCreateData => holds(t, user, "DataSpaceCreator"),
        ContentCreatePrivate => holds(t, user, "PrivateAnalyticsContentCreator"),
        AutomationCreatePrivate => {
            holds(t, user, "AutomationCreator") || permission_is(t, user, "private-automations", &[PermissionValue::Allowed], "automations.private")
        }
        GlossaryCreate => holds(t, user, "Steward"),
        ApiKeyCreate => holds(t, user, "Developer") || permission_is(t, user, "manage-api-keys", &[PermissionValue::Allowed], "api-keys"),
        DataIntegrationAccess => holds(t, user, "DataServicesContributor"),
        _ => false,
    }
}

fn tenant_admin_path(t: &Tenant, user: &str, action: Action) -> bool {
    use Action::*;
    let any = |roles: &[&str]| roles.iter().any(|r| holds(t, user, r));
    match action {
        ManagementConsoleAccess => any(&["TenantAdmin", "AnalyticsAdmin", "AuditAdmin", "DataAdmin"]),
        RoleCreate | RoleRead | UserManage | GroupManage | OauthClientManage => any(&["TenantAdmin"]),
        AuditRead => any(&["TenantAdmin", "AuditAdmin"]),
        // The settings decide what the trail records: TenantAdmin alone, not the auditor.
        AuditManage => any(&["TenantAdmin"]),
        // The tenant's settings and its API-key settings: TenantAdmin alone.
        TenantManage => any(&["TenantAdmin"]),
        DecisionAskOthers => {
            any(&["TenantAdmin"])
                || roles_held(t, user)
                    .iter()
                    .any(|r| custom_value(t, r, "evaluate-decisions-for-others") == Some(PermissionValue::Allowed))
        }
        SpaceCreateShared | SpaceCreateManaged => any(&["TenantAdmin", "AnalyticsAdmin"]),
        SpaceCreateData => any(&["TenantAdmin", "DataAdmin"]),
        _ => false,
    }
}

fn required_user_scope(action: Action) -> Option<&'static str> {
    let name = action.as_str();
    match action {
        Action::AppRead => Some("apps:read"),
        Action::AppExportData => Some("apps.data:export"),
        Action::AppExportImage => Some("apps.image:export"),
        Action::AppExport => Some("apps:export"),
        Action::SpaceRead => Some("spaces:read"),
        Action::DataConnectionRead => Some("data-connections:read"),
        Action::ContentCreatePrivate => Some("apps"),
        Action::AutomationCreatePrivate => Some("automations"),
        Action::GlossaryCreate => Some("glossaries"),
        Action::ApiKeyCreate => Some("api-keys"),
        Action::DataIntegrationAccess => Some("data-integration"),
        _ if name.starts_with("app:") => Some("apps"),
        _ if name.starts_with("space:") => Some("spaces"),
        _ if name.starts_with("data-connection:") => Some("data-connections"),
        _ => None,
    }
}

fn scopes_of<'t>(t: &'t Tenant, via: &Via) -> Option<&'t [String]> {
    match via {
        Via::ApiKey => None,
        Via::OAuth(client) => Some(&t.oauth_client(client).unwrap().scopes),
    }
}

fn user_scope_ok(scopes: Option<&[String]>, action: Action) -> bool {
    let Some(scopes) = scopes else { return true };
    let Some(required) = required_user_scope(action) else { return false };
    scopes.iter().any(|s| s == "user_default" || covers(s, required))
}

fn admin_scope_ok(scopes: Option<&[String]>, action: Action) -> bool {
    let Some(scopes) = scopes else { return true };
    let name = action.as_str();
    let admin_scope = if name.starts_with("app:") {
        Some("admin.apps")
    } else if name.starts_with("space:")
        && !name.starts_with("space:create-shared")
        && !name.starts_with("space:create-managed")
        && !name.starts_with("space:create-data")
    {
        Some("admin.spaces")
    } else if name.starts_with("data-connection:") {
        Some("admin.data-connections")
    } else {
        None
    };
    scopes.iter().any(|s| s == "admin_classic" || admin_scope.is_some_and(|a| covers(s, a)))
}

/// The reference decision.
pub fn allows(t: &Tenant, user: &str, via: &Via, action: Action, resource: Option<&str>) -> bool {
    let u = t.user(user).unwrap();
    if u.status != UserStatus::Active {
        return false;
    }
    let scopes = scopes_of(t, via);
    let base = match (action.resource_kind(), resource) {
        (portcullis_model::ResourceKind::Tenant, _) => {
            (tenant_user_path(t, user, action) && user_scope_ok(scopes, action))
                || (tenant_admin_path(t, user, action) && admin_scope_ok(scopes, action))
        }
        (portcullis_model::ResourceKind::Space, Some(space)) => {
            (in_space(t, user, space, action) && requirements(t, user, action) && user_scope_ok(scopes, action))
                || (admin_path_space(t, user, Some(space), action) && admin_scope_ok(scopes, action))
        }
        (_, Some(item_id)) => {
            let item = t.content_item(item_id).unwrap();
            (user_path_content(t, user, item_id, action)
                && requirements(t, user, action)
                && export_mark_ok(t, user, item_id, action)
                && user_scope_ok(scopes, action))
                || (admin_path_space(t, user, item.space.as_deref(), action) && admin_scope_ok(scopes, action))
        }
        _ => false,
    };
    if !base || action != Action::AppReload {
        return base;
    }
    let item_id = resource.unwrap();
    t.uses.iter().filter(|u| u.consumer == item_id).all(|u| {
        let source = t.content_item(&u.source).unwrap();
        let source_action = if source.kind == ContentKind::DataConnection {
            Action::DataConnectionUse
        } else {
            Action::AppRead
        };
        allows(t, user, &Via::ApiKey, source_action, Some(&u.source))
    })
}
