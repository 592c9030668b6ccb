//! `decide(snapshot, request)`: the Qlik Cloud access decision, written once and run in two
//! modes through the [`Trace`] trait: silent (no allocation at all) or recording the reasons.
//!
//! Order of evaluation: user status; then the grant paths of the action (tenant
//! capabilities, ownership, space roles, shares, admins without a space role), each with its
//! requirements (download and sharing permissions, entitlement) and the OAuth scope filter;
//! then, for a reload, every consumed source checked for the executing user.

use std::sync::Arc;

use portcullis_model::scope::{ADMIN_CLASSIC_SCOPE, ScopeSet, USER_DEFAULT_SCOPE};
use portcullis_model::{Action, CapSet, Capability, ContentKind, Permission, SpaceRoleSet, SpaceType, TenantSetting, UserStatus};

use crate::explain::{Explanation, Reason};
use portcullis_model::Channel;

use crate::request::{Request, Resource};
use crate::snapshot::{ContentInfo, GroupIdx, Snapshot, SpaceIdx, SpaceInfo, TenantRights, UserIdx};
use crate::tables::{self, Row};

/// A decision and, when asked for, its explanation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    /// Allow or deny.
    pub allowed: bool,
    /// Why (empty unless the request asked for it).
    pub explanation: Explanation,
}

impl Decision {
    /// `allow` or `deny`.
    pub fn verdict(&self) -> &'static str {
        portcullis_model::verdict(self.allowed)
    }
}

/// Decides a request. Never panics on a request resolved against this snapshot.
pub fn decide(snapshot: &Snapshot, request: &Request<'_>) -> Decision {
    if request.explain {
        let mut trace = Recorder(Vec::new());
        let allowed = evaluate(snapshot, request, &mut trace);
        Decision {
            allowed,
            explanation: Explanation { reasons: trace.0 },
        }
    } else {
        Decision {
            allowed: evaluate(snapshot, request, &mut Silent),
            explanation: Explanation::default(),
        }
    }
}

/// Whether `user` may do `action` on `resource` through `channel` (`session`: the rights frozen
/// at login, see [`Request::session`]): [`decide`] without an explanation (allocates nothing),
/// for callers that need only the answer.
pub fn allows(
    snapshot: &Snapshot,
    user: crate::UserIdx,
    channel: Channel<crate::ClientIdx>,
    session: Option<&TenantRights>,
    action: portcullis_model::Action,
    resource: crate::Resource,
) -> bool {
    let request = Request {
        user,
        channel,
        session,
        action,
        resource,
        explain: false,
    };
    evaluate(snapshot, &request, &mut Silent)
}

/// Where reasons go. `Silent` makes every call a no-op so the plain decision allocates nothing.
pub(crate) trait Trace: Sized {
    fn push(&mut self, reason: impl FnOnce() -> Reason);
    fn len(&self) -> usize;
    /// Drops the reasons recorded in `from..to` (a failed path before a path that granted).
    fn discard(&mut self, from: usize, to: usize);
    fn child(&self) -> Self;
    fn into_explanation(self) -> Explanation;
}

pub(crate) struct Silent;

impl Trace for Silent {
    fn push(&mut self, _: impl FnOnce() -> Reason) {}
    fn len(&self) -> usize {
        0
    }
    fn discard(&mut self, _: usize, _: usize) {}
    fn child(&self) -> Self {
        Silent
    }
    fn into_explanation(self) -> Explanation {
        Explanation::default()
    }
}

struct Recorder(Vec<Reason>);

impl Trace for Recorder {
    fn push(&mut self, reason: impl FnOnce() -> Reason) {
        // The same grant can be found by two rows (reload checks update, then script rights).
        let reason = reason();
        if !self.0.contains(&reason) {
            self.0.push(reason);
        }
    }
    fn len(&self) -> usize {
        self.0.len()
    }
    fn discard(&mut self, from: usize, to: usize) {
        self.0.drain(from..to);
    }
    fn child(&self) -> Self {
        Recorder(Vec::new())
    }
    fn into_explanation(self) -> Explanation {
        Explanation { reasons: self.0 }
    }
}

/// What one evaluation needs besides the request.
pub(crate) struct Ctx<'a> {
    pub(crate) snapshot: &'a Snapshot,
    pub(crate) user: UserIdx,
    pub(crate) rights: &'a TenantRights,
    pub(crate) scopes: Option<&'a ScopeSet>,
}

pub(crate) fn evaluate<T: Trace>(snapshot: &Snapshot, request: &Request<'_>, trace: &mut T) -> bool {
    let Some(user) = snapshot.users.get(request.user.0 as usize) else {
        trace.push(|| Reason::Error(format!("user index {} is not in this snapshot", request.user.0)));
        return false;
    };
    if user.status != UserStatus::Active {
        trace.push(|| Reason::Status(user.status));
        return false;
    }
    let (rights, scopes) = match request.channel {
        Channel::Session => (request.session.unwrap_or(&user.rights), None),
        Channel::ApiKey => (&user.rights, None),
        Channel::OAuth(client) => match snapshot.clients.get(client.0 as usize) {
            Some(client) => (&user.rights, Some(&client.scopes)),
            None => {
                trace.push(|| Reason::Error(format!("OAuth client index {} is not in this snapshot", client.0)));
                return false;
            }
        },
    };
    let ctx = Ctx {
        snapshot,
        user: request.user,
        rights,
        scopes,
    };
    let action = request.action;
    match request.resource {
        Resource::Tenant => tenant_action(&ctx, action, trace),
        Resource::Space(space) => match snapshot.spaces.get(space.0 as usize) {
            Some(info) => space_action(&ctx, info, action, trace),
            None => missing(trace, "space", space.0),
        },
        Resource::Content(item) => match snapshot.content.get(item.0 as usize) {
            Some(info) => {
                let allowed = content_action(&ctx, info, action, trace);
                if allowed && action == Action::AppReload {
                    sources_usable(&ctx, request, info, trace)
                } else {
                    allowed
                }
            }
            None => missing(trace, "content", item.0),
        },
    }
}

fn missing<T: Trace>(trace: &mut T, what: &'static str, idx: u32) -> bool {
    trace.push(|| Reason::Error(format!("{what} index {idx} is not in this snapshot")));
    false
}

/// Execution time: the reload runs as the executing user, who must be able to use every
/// consumed source. The OAuth filter applied to the call, not to the reload's own reads.
fn sources_usable<T: Trace>(ctx: &Ctx<'_>, request: &Request<'_>, item: &ContentInfo, trace: &mut T) -> bool {
    let mut all_usable = true;
    for &source in &item.sources {
        let Some(source_info) = ctx.snapshot.content.get(source.0 as usize) else {
            continue;
        };
        let action = match source_info.kind {
            ContentKind::DataConnection => Action::DataConnectionUse,
            ContentKind::App => Action::AppRead,
        };
        let channel = match request.channel {
            Channel::OAuth(_) => Channel::ApiKey,
            other => other,
        };
        let inner_request = Request {
            channel,
            action,
            resource: Resource::Content(source),
            ..*request
        };
        let mut inner = trace.child();
        if !evaluate(ctx.snapshot, &inner_request, &mut inner) {
            all_usable = false;
            let id = source_info.id.clone();
            trace.push(|| Reason::Source {
                id,
                inner: inner.into_explanation(),
            });
        }
    }
    all_usable
}

/// The capabilities that grant a tenant-level action (any of them).
pub fn tenant_caps(action: Action) -> CapSet {
    use Capability as C;
    let caps: &[Capability] = match action {
        Action::SpaceCreateShared => &[C::CreateSharedSpace],
        Action::SpaceCreateManaged => &[C::CreateManagedSpace],
        Action::SpaceCreateData => &[C::CreateDataSpace],
        Action::ContentCreatePrivate => &[C::CreatePrivateContent],
        Action::AutomationCreatePrivate => &[C::CreatePrivateAutomation, C::PrivateAutomations],
        Action::GlossaryCreate => &[C::ManageGlossaries],
        Action::ApiKeyCreate => &[C::ManageApiKeys],
        Action::DataIntegrationAccess => &[C::DataIntegration],
        Action::ManagementConsoleAccess => &[C::ManagementConsole],
        Action::RoleCreate | Action::RoleRead => &[C::ManageRoles],
        Action::UserManage => &[C::ManageUsers],
        Action::GroupManage => &[C::ManageGroups],
        Action::OauthClientManage => &[C::ManageOauthClients],
        Action::AuditRead => &[C::ReadAudit],
        Action::AuditManage => &[C::ManageAudit],
        Action::TenantManage => &[C::ManageTenant],
        Action::DecisionAskOthers => &[C::AskForOthers],
        _ => &[],
    };
    CapSet::of(caps)
}

/// The user scope an OAuth client needs for an action; `None` for admin-only actions.
pub fn user_scope(action: Action) -> Option<&'static str> {
    use Action::*;
    Some(match action {
        AppRead => "apps:read",
        AppExportData => "apps.data:export",
        AppExportImage => "apps.image:export",
        AppExport => "apps:export",
        AppUpdate | AppDelete | AppReload | AppEditScript | AppDuplicate | AppPublish | AppShare | AppChangeOwner => "apps",
        ContentCreatePrivate => "apps",
        SpaceRead => "spaces:read",
        SpaceUpdate | SpaceDelete | SpaceManageMembers | SpaceChangeOwner | SpaceCreateApp | SpacePublishApp | SpaceCreateDataConnection => "spaces",
        SpaceCreateShared | SpaceCreateManaged | SpaceCreateData => "spaces",
        DataConnectionRead => "data-connections:read",
        DataConnectionUse | DataConnectionUpdate | DataConnectionDelete => "data-connections",
        AutomationCreatePrivate => "automations",
        GlossaryCreate => "glossaries",
        ApiKeyCreate => "api-keys",
        DataIntegrationAccess => "data-integration",
        ManagementConsoleAccess
        | RoleCreate
        | RoleRead
        | UserManage
        | GroupManage
        | OauthClientManage
        | AuditRead
        | AuditManage
        | TenantManage
        | DecisionAskOthers => {
            return None;
        }
    })
}

/// The `admin.*` scope that reaches an action through an admin path, besides `admin_classic`.
pub fn admin_scope(action: Action) -> Option<&'static str> {
    match action.resource_kind() {
        portcullis_model::ResourceKind::App => Some("admin.apps"),
        portcullis_model::ResourceKind::Space => Some("admin.spaces"),
        portcullis_model::ResourceKind::DataConnection => Some("admin.data-connections"),
        portcullis_model::ResourceKind::Tenant => None,
    }
}

/// The OAuth filter: a path granted by user rights needs `user_default` or the action's
/// scope; a path granted by an admin role needs `admin_classic` (or the `admin.*` scope).
pub(crate) fn scope_allows<T: Trace>(ctx: &Ctx<'_>, action: Action, admin_path: bool, trace: &mut T) -> bool {
    let Some(scopes) = ctx.scopes else { return true };
    let scope_reason = |scope: &str, granted: bool| Reason::Scope {
        scope: Arc::from(scope),
        granted,
    };
    if admin_path {
        if scopes.has_admin_classic() {
            trace.push(|| scope_reason(ADMIN_CLASSIC_SCOPE, true));
            return true;
        }
        if let Some(covering) = admin_scope(action).and_then(|s| scopes.covering(s)) {
            trace.push(|| scope_reason(covering, true));
            return true;
        }
        trace.push(|| scope_reason(ADMIN_CLASSIC_SCOPE, false));
        return false;
    }
    let Some(required) = user_scope(action) else {
        trace.push(|| scope_reason(ADMIN_CLASSIC_SCOPE, false));
        return false;
    };
    if scopes.has_user_default() {
        trace.push(|| scope_reason(USER_DEFAULT_SCOPE, true));
        return true;
    }
    if let Some(covering) = scopes.covering(required) {
        trace.push(|| scope_reason(covering, true));
        return true;
    }
    trace.push(|| scope_reason(required, false));
    false
}

/// Records every source of a user-level capability in `wanted`; false when none grants it.
fn user_cap<T: Trace>(rights: &TenantRights, wanted: CapSet, trace: &mut T) -> bool {
    if rights.user_caps.0 & wanted.0 == 0 {
        return false;
    }
    let first = |caps: CapSet| caps.iter().find(|c| wanted.contains(*c));
    if let Some(capability) = first(rights.user_default) {
        trace.push(|| Reason::UserDefault { capability, granted: true });
    }
    for assignment in rights.assignments.iter() {
        if let Some(capability) = first(assignment.role.user_caps) {
            trace.push(|| Reason::Role {
                role: assignment.role.name.clone(),
                via: assignment.via.clone(),
                capability,
            });
        }
    }
    true
}

/// Records every admin role that grants a capability in `wanted`; false when none does.
fn admin_cap<T: Trace>(rights: &TenantRights, wanted: CapSet, trace: &mut T) -> bool {
    if rights.admin_caps.0 & wanted.0 == 0 {
        return false;
    }
    for assignment in rights.assignments.iter() {
        if let Some(capability) = assignment.role.admin_caps.iter().find(|c| wanted.contains(*c)) {
            trace.push(|| Reason::Role {
                role: assignment.role.name.clone(),
                via: assignment.via.clone(),
                capability,
            });
        }
    }
    true
}

/// Says that the baseline withholds a capability (and no role adds it).
fn withheld<T: Trace>(wanted: CapSet, trace: &mut T) {
    if let Some(capability) = wanted.iter().next()
        && Permission::granting(capability).is_some()
    {
        trace.push(|| Reason::UserDefault { capability, granted: false });
    }
}

fn tenant_action<T: Trace>(ctx: &Ctx<'_>, action: Action, trace: &mut T) -> bool {
    let wanted = tenant_caps(action);
    let start = trace.len();
    let mut found = false;
    if user_cap(ctx.rights, wanted, trace) {
        found = true;
        if scope_allows(ctx, action, false, trace) {
            return true;
        }
    }
    let admin_start = trace.len();
    if admin_cap(ctx.rights, wanted, trace) {
        found = true;
        if scope_allows(ctx, action, true, trace) {
            trace.discard(start, admin_start);
            return true;
        }
    }
    if !found {
        withheld(wanted, trace);
        trace.push(|| Reason::NoGrant);
    }
    false
}

/// The space roles the user holds in a space: individually, then through each group.
fn space_roles_of(ctx: &Ctx<'_>, space: &SpaceInfo) -> impl Iterator<Item = (SpaceRoleSet, Option<GroupIdx>)> {
    let individual = lookup(&space.user_roles, ctx.user).map(|roles| (roles, None));
    let through_groups = ctx
        .rights
        .groups
        .iter()
        .filter_map(|g| lookup(&space.group_roles, *g).map(|roles| (roles, Some(*g))));
    individual.into_iter().chain(through_groups)
}

pub(crate) fn lookup<K: Ord + Copy>(entries: &[(K, SpaceRoleSet)], key: K) -> Option<SpaceRoleSet> {
    entries.binary_search_by_key(&key, |(k, _)| *k).ok().map(|i| entries[i].1)
}

/// Grants when the user is the space owner (and the row has the Owner column) or holds one
/// of the row's roles; records which.
pub(crate) fn space_row<T: Trace>(ctx: &Ctx<'_>, space: &SpaceInfo, row: Row, trace: &mut T) -> bool {
    if row.owner && space.owner == Some(ctx.user) {
        trace.push(|| Reason::SpaceOwner { space: space.id.clone() });
        return true;
    }
    for (roles, group) in space_roles_of(ctx, space) {
        if let Some(role) = roles.intersection(row.roles).iter().next() {
            trace.push(|| Reason::SpaceRole {
                space: space.id.clone(),
                role,
                group: group.map(|g| ctx.snapshot.group(g).name.clone()),
            });
            return true;
        }
    }
    false
}

/// The user's requirement checks that follow a granted path: permissions and entitlement.
pub(crate) fn requirements<T: Trace>(ctx: &Ctx<'_>, action: Action, trace: &mut T) -> bool {
    let cap = match action {
        Action::AppExportData => Some(Capability::ExportData),
        Action::AppExportImage => Some(Capability::ExportImage),
        Action::AppShare => Some(Capability::ShareAppsFineGrained),
        _ => None,
    };
    if let Some(cap) = cap
        && !user_cap(ctx.rights, cap.bit(), trace)
    {
        trace.push(|| Reason::UserDefault {
            capability: cap,
            granted: false,
        });
        return false;
    }
    if matches!(action, Action::SpaceCreateApp | Action::AppEditScript | Action::AppDuplicate) {
        let entitlement = ctx.rights.entitlement;
        if !entitlement.creates_content() {
            trace.push(|| Reason::Entitlement(entitlement));
            return false;
        }
    }
    true
}

/// Admins' fixed rights in shared, managed (TenantAdmin, AnalyticsAdmin) and data spaces
/// (TenantAdmin, DataAdmin) where they hold no role (spec §8.5).
pub(crate) fn admin_without_role<T: Trace>(ctx: &Ctx<'_>, space: &SpaceInfo, action: Action, trace: &mut T) -> bool {
    use Action::*;
    let opens_app = action == AppRead;
    let allowed = match action {
        SpaceRead | SpaceUpdate | SpaceDelete | SpaceManageMembers | SpaceChangeOwner | AppDelete | AppChangeOwner => true,
        AppRead => ctx.snapshot.admins_can_open_apps,
        _ => false,
    };
    let cap = match space.space_type {
        SpaceType::Shared | SpaceType::Managed => Capability::AdminAnalyticsSpaces,
        SpaceType::Data => Capability::AdminDataSpaces,
    };
    if !allowed || !ctx.rights.admin_caps.contains(cap) {
        return false;
    }
    for assignment in ctx.rights.assignments.iter() {
        if assignment.role.admin_caps.contains(cap) {
            trace.push(|| Reason::AdminWithoutSpaceRole {
                role: assignment.role.name.clone(),
                via: assignment.via.clone(),
            });
        }
    }
    if opens_app {
        trace.push(|| Reason::Setting(TenantSetting::AdminsCanOpenAppsWithoutSpaceRole));
    }
    true
}

/// A space's export mark (Portcullis's extension, `docs/export-control.md`): a data-leaving
/// action on an item of a marked space needs one of the roles it names, on any path (directly,
/// through a group, through Everyone, recorded at login). It only restricts: true for every
/// other action and every unmarked space. Records which role let the data out, or that none did.
pub(crate) fn export_mark<T: Trace>(ctx: &Ctx<'_>, space: &SpaceInfo, action: Action, trace: &mut T) -> bool {
    let Some(roles) = &space.export_only_through else { return true };
    if !action.is_data_leaving() {
        return true;
    }
    let held = ctx.rights.assignments.iter().find(|a| roles.iter().any(|r| **r == *a.role.name));
    let through = held.map(|a| (a.role.name.clone(), a.via.clone()));
    let allowed = through.is_some();
    trace.push(|| Reason::ExportOnlyThrough {
        space: space.id.clone(),
        roles: roles.clone(),
        through,
    });
    allowed
}

/// Tries the user paths, then the admin path; on a deny, keeps what was found and says
/// `no-grant` when nothing was.
fn decide_paths<T: Trace>(ctx: &Ctx<'_>, action: Action, space: Option<&SpaceInfo>, trace: &mut T, user_paths: impl FnOnce(&mut T) -> bool) -> bool {
    let start = trace.len();
    if user_paths(trace)
        && requirements(ctx, action, trace)
        && space.is_none_or(|space| export_mark(ctx, space, action, trace))
        && scope_allows(ctx, action, false, trace)
    {
        return true;
    }
    let admin_start = trace.len();
    if let Some(space) = space
        && admin_without_role(ctx, space, action, trace)
        && scope_allows(ctx, action, true, trace)
    {
        trace.discard(start, admin_start);
        return true;
    }
    if trace.len() == start {
        trace.push(|| Reason::NoGrant);
    }
    false
}

fn space_action<T: Trace>(ctx: &Ctx<'_>, space: &SpaceInfo, action: Action, trace: &mut T) -> bool {
    decide_paths(ctx, action, Some(space), trace, |trace| {
        space_row(
            ctx,
            space,
            tables::row_for_entitlement(space.space_type, action, ctx.rights.entitlement),
            trace,
        )
    })
}

fn content_action<T: Trace>(ctx: &Ctx<'_>, item: &ContentInfo, action: Action, trace: &mut T) -> bool {
    let space = item.space.and_then(|s: SpaceIdx| ctx.snapshot.spaces.get(s.0 as usize));
    decide_paths(ctx, action, space, trace, |trace| match space {
        None => {
            let granted = item.owner == Some(ctx.user) && tables::personal_owner_grants(action);
            if granted {
                trace.push(|| Reason::Owner);
            }
            granted
        }
        Some(space) => space_content(ctx, space, item, action, trace) || shared_with(ctx, item, action, trace),
    })
}

fn space_content<T: Trace>(ctx: &Ctx<'_>, space: &SpaceInfo, item: &ContentInfo, action: Action, trace: &mut T) -> bool {
    let owns_app = item.owner == Some(ctx.user);
    match (space.space_type, action) {
        // Editing the script of one's own app needs Can edit or more; of another's, Can edit data.
        (SpaceType::Shared, Action::AppEditScript) => edit_script_in_shared(ctx, space, owns_app, trace),
        // Reload: whoever may update the app, and for another's app, edit its script too.
        (SpaceType::Shared, Action::AppReload) => {
            let mark = trace.len();
            if !space_row(ctx, space, tables::row_for(SpaceType::Shared, Action::AppUpdate), trace) {
                return false;
            }
            if owns_app {
                trace.push(|| Reason::Owner);
                return true;
            }
            if edit_script_in_shared(ctx, space, false, trace) {
                return true;
            }
            trace.discard(mark, trace.len());
            false
        }
        (space_type, action) => space_row(ctx, space, tables::row_for_entitlement(space_type, action, ctx.rights.entitlement), trace),
    }
}

pub(crate) fn edit_script_in_shared<T: Trace>(ctx: &Ctx<'_>, space: &SpaceInfo, owns_app: bool, trace: &mut T) -> bool {
    if space_row(ctx, space, tables::row_for(SpaceType::Shared, Action::AppEditScript), trace) {
        return true;
    }
    if owns_app && space_row(ctx, space, tables::SHARED_OWN_SCRIPT, trace) {
        trace.push(|| Reason::Owner);
        return true;
    }
    false
}

pub(crate) fn shared_with<T: Trace>(ctx: &Ctx<'_>, item: &ContentInfo, action: Action, trace: &mut T) -> bool {
    if !tables::share_grants(action) {
        return false;
    }
    if let Some(role) = lookup(&item.user_shares, ctx.user).and_then(|roles| roles.iter().next()) {
        trace.push(|| Reason::Share { role, group: None });
        return true;
    }
    for &group in ctx.rights.groups.iter() {
        if let Some(role) = lookup(&item.group_shares, group).and_then(|roles| roles.iter().next()) {
            trace.push(|| Reason::Share {
                role,
                group: Some(ctx.snapshot.group(group).name.clone()),
            });
            return true;
        }
    }
    false
}
