//! The same tenant and requests encoded for Cedar (`cedar-policy`), to compare decisions and
//! their cost in one process.
//!
//! The encoding is what a Cedar user would write by hand from the spec; BENCHMARKS.md
//! describes it in words. In short:
//! - **Entities.** `User` (attributes `status`, `entitlement`; parents: `Everyone`, its
//!   groups, its directly held `Role`s, the `SpaceRole`s it is assigned individually and the
//!   `Share`s made to it). `Group` (parents: its `Role`s, the `SpaceRole`s and `Share`s made to
//!   the group). `Role` (parents: the `Capability` / `AdminCapability` entities it grants,
//!   named by scope; UserDefault is a role too). `Everyone` (parents: `Role::"UserDefault"` and the roles on Everyone).
//!   `Space` (`type`, `owner`, and one `SpaceRole` entity reference per role the space type
//!   accepts, named after the role). `App` / `DataConnection` (`owner`, optional `space`,
//!   optional `share`). `OAuthClient` (`scopes`). `Tenant::"tenant"` is the resource of
//!   tenant-level actions. Cedar's transitive closure then answers "does this user hold this
//!   space role, individually or through a group?" with one `in`.
//! - **Policies.** One `permit` per grant path and action: the space tables of spec §8
//!   (generated from the engine's `tables` so both read the same rows), personal ownership,
//!   shares, tenant capabilities (as `principal in Capability::"<scope>"`), and admins without a
//!   space role; each `permit` carries its OAuth scope condition (user paths need
//!   `user_default` or a scope covering the action's, admin paths `admin_classic` or an
//!   `admin.*` scope). `forbid`s carry what holds on every path: only active users, the
//!   download and sharing permissions, and the entitlement for creating and editing apps.
//! - **Not expressible in one Cedar request**, done the way a Cedar deployment would do it:
//!   the execution-time check of a reload (every consumed source must be usable by the
//!   executing user) is one more Cedar request per source, made by the caller. Precomputed by
//!   the encoder: a custom role's `user-default` values (resolved against UserDefault) and a
//!   capacity Basic user's promotion (the `entitlement` attribute is the effective one).
//!   Sessions are logged in at the time of the snapshot, so frozen rights equal current ones;
//!   Cedar has no notion of rights fixed at login, and the benchmark asks no such question.

use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;
use std::str::FromStr;

use anyhow::{Context as _, Result};
use cedar_policy::{Authorizer, Context, Decision, Entities, Entity, EntityId, EntityTypeName, EntityUid, PolicySet, Request, RestrictedExpression};
use portcullis_engine::tables::{self, Row};
use portcullis_engine::{Snapshot, admin_scope, tenant_caps, user_scope};
use portcullis_model::permission::PermissionType;
use portcullis_model::role::{BUILTIN_ROLES, RoleLevel};
use portcullis_model::tenant::{Assignee, ContentKind, Tenant};
use portcullis_model::{Action, CapSet, Capability, Entitlement, Permission, ResourceKind, SpaceRole, SpaceType, TenantSetting};

use crate::requests::{Target, Via, WorkRequest};

/// The encoded tenant: policies and entities.
pub struct CedarTenant {
    /// The generated policy text.
    pub policy_text: String,
    /// The parsed policies.
    pub policies: PolicySet,
    /// Every entity.
    pub entities: Entities,
    /// How many entities.
    pub n_entities: usize,
}

/// One question for Cedar: the request, and for a reload the requests for its sources
/// (each must be allowed too).
pub struct CedarQuestion {
    main: Request,
    sources: Vec<Request>,
}

fn type_name(name: &str) -> EntityTypeName {
    EntityTypeName::from_str(name).expect("a valid Cedar type name")
}

/// Entity type names, parsed once.
struct Types {
    user: EntityTypeName,
    group: EntityTypeName,
    everyone: EntityTypeName,
    role: EntityTypeName,
    capability: EntityTypeName,
    admin_capability: EntityTypeName,
    space: EntityTypeName,
    space_role: EntityTypeName,
    share: EntityTypeName,
    app: EntityTypeName,
    connection: EntityTypeName,
    client: EntityTypeName,
    tenant: EntityTypeName,
    action: EntityTypeName,
}

impl Types {
    fn new() -> Types {
        Types {
            user: type_name("User"),
            group: type_name("Group"),
            everyone: type_name("Everyone"),
            role: type_name("Role"),
            capability: type_name("Capability"),
            admin_capability: type_name("AdminCapability"),
            space: type_name("Space"),
            space_role: type_name("SpaceRole"),
            share: type_name("Share"),
            app: type_name("App"),
            connection: type_name("DataConnection"),
            client: type_name("OAuthClient"),
            tenant: type_name("Tenant"),
            action: type_name("Action"),
        }
    }
}

fn uid(type_name: &EntityTypeName, id: &str) -> EntityUid {
    EntityUid::from_type_name_and_id(type_name.clone(), EntityId::new(id))
}

fn space_role_id(space: &str, role: SpaceRole) -> String {
    format!("{space}#{}", role.as_str())
}

/// What each role grants, at user and at admin level, as the engine computes it.
fn role_caps(tenant: &Tenant) -> Vec<(String, CapSet, CapSet)> {
    let user_default = Permission::all()
        .filter_map(|p| tenant.user_default_value(p).map(|v| p.def().grants(v)))
        .fold(CapSet::EMPTY, CapSet::union);
    let mut roles = vec![("UserDefault".to_owned(), user_default, CapSet::EMPTY)];
    for role in BUILTIN_ROLES {
        match role.level {
            RoleLevel::Admin => roles.push((role.name.to_owned(), CapSet::EMPTY, role.grants)),
            RoleLevel::User => roles.push((role.name.to_owned(), role.grants, CapSet::EMPTY)),
        }
    }
    for role in &tenant.custom_roles {
        let (mut user, mut admin) = (CapSet::EMPTY, CapSet::EMPTY);
        for (permission, setting) in &role.permissions {
            let caps = tenant.custom_setting_grants(*permission, *setting);
            match permission.def().permission_type {
                PermissionType::User => user |= caps,
                PermissionType::Admin => admin |= caps,
            }
        }
        roles.push((role.name.clone(), user, admin));
    }
    roles
}

/// `principal in [Capability::"a"]` for the capabilities in `wanted` at a level (user-level
/// capabilities are `Capability`, admin-level ones `AdminCapability`), or `false` when no
/// role grants any of them. Roles are parents of the capabilities they grant, so Cedar's
/// transitive closure takes User → Group → Role → Capability in one `in`.
fn holds_cap(roles: &[(String, CapSet, CapSet)], wanted: CapSet, admin: bool) -> String {
    let granted = roles
        .iter()
        .fold(CapSet::EMPTY, |acc, (_, user, adm)| acc | if admin { *adm } else { *user });
    let type_name = if admin { "AdminCapability" } else { "Capability" };
    let names: Vec<String> = wanted
        .iter()
        .filter(|c| granted.contains(*c))
        .map(|c| format!("{type_name}::{:?}", c.scope()))
        .collect();
    if names.is_empty() {
        "false".to_owned()
    } else {
        format!("principal in [{}]", names.join(", "))
    }
}

/// Every scope that covers `required`: itself and each parent (a prefix ending before `:` or `.`).
fn covering_scopes(required: &str) -> Vec<String> {
    let mut scopes: Vec<String> = required
        .char_indices()
        .filter(|(_, c)| *c == ':' || *c == '.')
        .map(|(i, _)| required[..i].to_owned())
        .collect();
    scopes.push(required.to_owned());
    scopes
}

fn scope_condition(granting: Vec<String>) -> String {
    let list: Vec<String> = granting.iter().map(|s| format!("{s:?}")).collect();
    format!("(!(context has client) || context.client.scopes.containsAny([{}]))", list.join(", "))
}

fn user_scope_condition(action: Action) -> String {
    match user_scope(action) {
        Some(required) => {
            let mut granting = vec!["user_default".to_owned()];
            granting.extend(covering_scopes(required));
            scope_condition(granting)
        }
        None => "!(context has client)".to_owned(),
    }
}

fn admin_scope_condition(action: Action) -> String {
    let mut granting = vec!["admin_classic".to_owned()];
    if let Some(scope) = admin_scope(action) {
        granting.extend(covering_scopes(scope));
    }
    scope_condition(granting)
}

/// The rows of a space table that apply to an action, each with the condition on the user's
/// entitlement it needs (spec §8.3: Analyzers have their own managed-space table). Roles a
/// space type does not accept are left out: nobody holds them, and the space has no
/// attribute for them.
fn rows(space_type: SpaceType, action: Action) -> Vec<(&'static str, Row)> {
    let accepted = |row: Row| Row {
        roles: row.roles.intersection(space_type.assignable_roles()),
        ..row
    };
    let analyzer = accepted(tables::row_for_entitlement(space_type, action, Entitlement::Analyzer));
    let others = accepted(tables::row_for_entitlement(space_type, action, Entitlement::Professional));
    if analyzer == others {
        vec![("", others)]
    } else {
        vec![(ANALYZER, analyzer), (NOT_ANALYZER, others)]
    }
}

const ANALYZER: &str = "[\"analyzer\", \"analyzer-capacity\"].contains(principal.entitlement) && ";
const NOT_ANALYZER: &str = "!([\"analyzer\", \"analyzer-capacity\"].contains(principal.entitlement)) && ";

const SPACE_TYPES: [SpaceType; 3] = [SpaceType::Shared, SpaceType::Managed, SpaceType::Data];

/// `space.owner == principal || principal in [space.r1, ...]` for a row, or `false`.
fn row_condition(space: &str, row: Row) -> String {
    let mut parts = Vec::new();
    if row.owner {
        parts.push(format!("{space}.owner == principal"));
    }
    let roles: Vec<String> = row.roles.iter().map(|r| format!("{space}.{}", r.as_str())).collect();
    if !roles.is_empty() {
        parts.push(format!("principal in [{}]", roles.join(", ")));
    }
    if parts.is_empty() {
        "false".to_owned()
    } else {
        format!("({})", parts.join(" || "))
    }
}

fn resource_type(action: Action) -> &'static str {
    match action.resource_kind() {
        ResourceKind::App => "App",
        ResourceKind::DataConnection => "DataConnection",
        ResourceKind::Space => "Space",
        ResourceKind::Tenant => "Tenant",
    }
}

/// The policy text for a tenant.
pub fn policies(tenant: &Tenant) -> String {
    let roles = role_caps(tenant);
    // Collected first, then permits with the same condition are merged into one
    // `action in [...]` policy, as a Cedar author would write them (fewer policies to evaluate).
    let mut text: Vec<(String, String)> = Vec::new();
    let emit = |text: &mut Vec<(String, String)>, comment: &str, policy: String| text.push((comment.to_owned(), policy));
    emit(
        &mut text,
        "Only active users are granted anything.",
        "forbid(principal, action, resource) unless { principal.status == \"active\" }".into(),
    );
    for (action, cap) in [
        (Action::AppExportData, Capability::ExportData),
        (Action::AppExportImage, Capability::ExportImage),
        (Action::AppShare, Capability::ShareAppsFineGrained),
    ] {
        emit(
            &mut text,
            &format!("{action} needs the permission granting `{}`.", cap.scope()),
            format!(
                "forbid(principal, action == Action::{:?}, resource) unless {{ {} }}",
                action.as_str(),
                holds_cap(&roles, cap.bit(), false)
            ),
        );
    }
    emit(
        &mut text,
        "Creating and editing apps needs a Professional or Full entitlement.",
        "forbid(principal, action in [Action::\"space:create-app\", Action::\"app:edit-script\", Action::\"app:duplicate\"], resource) \
         unless { [\"professional\", \"full\"].contains(principal.entitlement) }"
            .into(),
    );

    for &action in Action::ALL {
        let act = format!("Action::{:?}", action.as_str());
        let user_scope = user_scope_condition(action);
        let admin_scope = admin_scope_condition(action);
        match action.resource_kind() {
            ResourceKind::Tenant => {
                let wanted = tenant_caps(action);
                let user = holds_cap(&roles, wanted, false);
                if user != "false" {
                    emit(
                        &mut text,
                        &format!("{action}: a user-level role or UserDefault."),
                        format!("permit(principal, action == {act}, resource is Tenant) when {{ {user} && {user_scope} }}"),
                    );
                }
                let admin = holds_cap(&roles, wanted, true);
                if admin != "false" {
                    emit(
                        &mut text,
                        &format!("{action}: an admin role."),
                        format!("permit(principal, action == {act}, resource is Tenant) when {{ {admin} && {admin_scope} }}"),
                    );
                }
            }
            ResourceKind::Space => {
                for space_type in SPACE_TYPES {
                    for (who, row) in rows(space_type, action) {
                        let condition = row_condition("resource", row);
                        if condition != "false" {
                            emit(
                                &mut text,
                                &format!("{action} in a {space_type} space (spec §8)."),
                                format!(
                                    "permit(principal, action == {act}, resource is Space) when {{ resource.type == \"{space_type}\" && {who}{condition} && {user_scope} }}"
                                ),
                            );
                        }
                    }
                }
            }
            ResourceKind::App | ResourceKind::DataConnection => {
                let is = resource_type(action);
                for (space_type, (who, row)) in SPACE_TYPES.into_iter().flat_map(|t| rows(t, action).into_iter().map(move |r| (t, r))) {
                    let condition = match (space_type, action) {
                        (SpaceType::Shared, Action::AppEditScript) => format!(
                            "({} || (resource.owner == principal && {}))",
                            row_condition("resource.space", tables::row_for(SpaceType::Shared, Action::AppEditScript)),
                            row_condition("resource.space", tables::SHARED_OWN_SCRIPT)
                        ),
                        (SpaceType::Shared, Action::AppReload) => format!(
                            "{} && (resource.owner == principal || {})",
                            row_condition("resource.space", tables::row_for(SpaceType::Shared, Action::AppUpdate)),
                            row_condition("resource.space", tables::row_for(SpaceType::Shared, Action::AppEditScript))
                        ),
                        _ => row_condition("resource.space", row),
                    };
                    if condition != "false" {
                        emit(
                            &mut text,
                            &format!("{action} on content in a {space_type} space (spec §8)."),
                            format!(
                                "permit(principal, action == {act}, resource is {is}) when {{ resource has space && resource.space.type == \"{space_type}\" && {who}{condition} && {user_scope} }}"
                            ),
                        );
                    }
                }
                if tables::personal_owner_grants(action) {
                    emit(
                        &mut text,
                        &format!("{action}: the owner of personal content."),
                        format!(
                            "permit(principal, action == {act}, resource is {is}) when {{ !(resource has space) && resource.owner == principal && {user_scope} }}"
                        ),
                    );
                }
                if tables::share_grants(action) {
                    emit(
                        &mut text,
                        &format!("{action}: a fine-grained share (spec §9)."),
                        format!(
                            "permit(principal, action == {act}, resource is {is}) when {{ resource has space && resource has share && principal in resource.share && {user_scope} }}"
                        ),
                    );
                }
            }
        }
        // Admins without a space role (spec §8.5).
        let admin_action = matches!(
            action,
            Action::SpaceRead
                | Action::SpaceUpdate
                | Action::SpaceDelete
                | Action::SpaceManageMembers
                | Action::SpaceChangeOwner
                | Action::AppDelete
                | Action::AppChangeOwner
        ) || (action == Action::AppRead && tenant.setting(TenantSetting::AdminsCanOpenAppsWithoutSpaceRole));
        if admin_action {
            let space = if action.resource_kind() == ResourceKind::Space {
                "resource"
            } else {
                "resource.space"
            };
            let has_space = if space == "resource" {
                String::new()
            } else {
                "resource has space && ".to_owned()
            };
            let analytics = holds_cap(&roles, Capability::AdminAnalyticsSpaces.bit(), true);
            let data = holds_cap(&roles, Capability::AdminDataSpaces.bit(), true);
            emit(
                &mut text,
                &format!("{action}: an admin without a space role (spec §8.5)."),
                format!(
                    "permit(principal, action == {act}, resource is {}) when {{ {has_space}(if {space}.type == \"data\" then {data} else {analytics}) && {admin_scope} }}",
                    resource_type(action)
                ),
            );
        }
    }
    merge_permits(text)
}

/// Merges permits that differ only in their action; keeps the first one's place.
fn merge_permits(policies: Vec<(String, String)>) -> String {
    const HEAD: &str = "permit(principal, action == ";
    let mut merged: Vec<(Vec<String>, String, String)> = Vec::new();
    let mut by_rest: HashMap<String, usize> = HashMap::new();
    for (comment, policy) in policies {
        let parsed = policy.strip_prefix(HEAD).and_then(|tail| tail.split_once(", resource"));
        match parsed {
            Some((action, rest)) => {
                let action_name = action.trim_start_matches("Action::").trim_matches('"');
                let note = comment
                    .strip_prefix(action_name)
                    .unwrap_or(&comment)
                    .trim_start_matches(':')
                    .trim()
                    .to_owned();
                let key = format!(", resource{rest}");
                match by_rest.get(&key) {
                    Some(&i) => merged[i].0.push(action.to_owned()),
                    None => {
                        by_rest.insert(key.clone(), merged.len());
                        merged.push((vec![action.to_owned()], note, key));
                    }
                }
            }
            None => merged.push((Vec::new(), comment, policy)),
        }
    }
    let mut text = String::new();
    for (actions, note, rest) in merged {
        match actions.as_slice() {
            [] => writeln!(text, "// {note}\n{rest};\n"),
            [action] => writeln!(text, "// {}: {note}\n{HEAD}{action}{rest};\n", action.trim_start_matches("Action::")),
            _ => {
                let names: Vec<&str> = actions.iter().map(|a| a.trim_start_matches("Action::")).collect();
                writeln!(
                    text,
                    "// {}: {note}\npermit(principal, action in [{}]{rest};\n",
                    names.join(", "),
                    actions.join(", ")
                )
            }
        }
        .expect("string write");
    }
    text
}

fn string(value: &str) -> RestrictedExpression {
    RestrictedExpression::new_string(value.to_owned())
}

fn entity(uid: EntityUid, attrs: HashMap<String, RestrictedExpression>, parents: HashSet<EntityUid>) -> Result<Entity> {
    Entity::new(uid, attrs, parents).context("building a Cedar entity")
}

/// Encodes a tenant (and the effective entitlements of its snapshot) for Cedar.
pub fn encode(tenant: &Tenant, snapshot: &Snapshot) -> Result<CedarTenant> {
    let types = Types::new();
    let policy_text = policies(tenant);
    let policies = PolicySet::from_str(&policy_text).map_err(|e| anyhow::anyhow!("the generated Cedar policies do not parse: {e}"))?;

    // Parents of users and groups from space assignments and shares.
    let mut user_parents: HashMap<&str, HashSet<EntityUid>> = HashMap::new();
    let mut group_parents: HashMap<&str, HashSet<EntityUid>> = HashMap::new();
    for space in &tenant.spaces {
        for member in &space.members {
            for role in member.roles.iter() {
                let parent = uid(&types.space_role, &space_role_id(&space.id, role));
                match &member.assignee {
                    Assignee::User(id) => user_parents.entry(id.as_str()).or_default().insert(parent),
                    Assignee::Group(name) => group_parents.entry(name.as_str()).or_default().insert(parent),
                };
            }
        }
    }
    let mut shared: HashSet<&str> = HashSet::new();
    for share in &tenant.shares {
        shared.insert(share.resource.as_str());
        let parent = uid(&types.share, &share.resource);
        match &share.assignee {
            Assignee::User(id) => user_parents.entry(id.as_str()).or_default().insert(parent),
            Assignee::Group(name) => group_parents.entry(name.as_str()).or_default().insert(parent),
        };
    }

    let mut entities = Vec::with_capacity(tenant.users.len() + tenant.groups.len() + tenant.spaces.len() + tenant.content.len() + 16);
    entities.push(entity(uid(&types.tenant, "tenant"), HashMap::new(), HashSet::new())?);
    for (name, user_caps, admin_caps) in role_caps(tenant) {
        let mut parents: HashSet<EntityUid> = user_caps.iter().map(|c| uid(&types.capability, c.scope())).collect();
        parents.extend(admin_caps.iter().map(|c| uid(&types.admin_capability, c.scope())));
        entities.push(entity(uid(&types.role, &name), HashMap::new(), parents)?);
    }
    let everyone = uid(&types.everyone, "everyone");
    let mut everyone_parents: HashSet<EntityUid> = tenant.everyone_roles.iter().map(|r| uid(&types.role, r)).collect();
    everyone_parents.insert(uid(&types.role, "UserDefault"));
    entities.push(entity(everyone.clone(), HashMap::new(), everyone_parents)?);
    for group in &tenant.groups {
        let mut parents: HashSet<EntityUid> = group.roles.iter().map(|r| uid(&types.role, r)).collect();
        parents.extend(group_parents.remove(group.name.as_str()).unwrap_or_default());
        entities.push(entity(uid(&types.group, &group.name), HashMap::new(), parents)?);
    }
    for user in &tenant.users {
        let effective = snapshot
            .user_idx(&user.id)
            .map(|u| snapshot.user(u).rights.entitlement)
            .unwrap_or(user.entitlement);
        let attrs = HashMap::from([
            ("status".to_owned(), string(user.status.as_str())),
            ("entitlement".to_owned(), string(effective.as_str())),
        ]);
        let mut parents: HashSet<EntityUid> = user.groups.iter().map(|g| uid(&types.group, g)).collect();
        parents.insert(everyone.clone());
        parents.extend(user.roles.iter().map(|r| uid(&types.role, &r.role)));
        parents.extend(user_parents.remove(user.id.as_str()).unwrap_or_default());
        entities.push(entity(uid(&types.user, &user.id), attrs, parents)?);
    }
    for space in &tenant.spaces {
        let mut attrs = HashMap::from([
            ("type".to_owned(), string(space.space_type.as_str())),
            (
                "owner".to_owned(),
                RestrictedExpression::new_entity_uid(uid(&types.user, space.owner.as_deref().unwrap_or_default())),
            ),
        ]);
        for role in space.space_type.assignable_roles().iter() {
            attrs.insert(
                role.as_str().to_owned(),
                RestrictedExpression::new_entity_uid(uid(&types.space_role, &space_role_id(&space.id, role))),
            );
        }
        entities.push(entity(uid(&types.space, &space.id), attrs, HashSet::new())?);
    }
    for item in &tenant.content {
        let mut attrs = HashMap::from([(
            "owner".to_owned(),
            RestrictedExpression::new_entity_uid(uid(&types.user, item.owner.as_deref().unwrap_or_default())),
        )]);
        if let Some(space) = &item.space {
            attrs.insert("space".to_owned(), RestrictedExpression::new_entity_uid(uid(&types.space, space)));
        }
        if shared.contains(item.id.as_str()) {
            attrs.insert("share".to_owned(), RestrictedExpression::new_entity_uid(uid(&types.share, &item.id)));
        }
        let type_name = match item.kind {
            ContentKind::App => &types.app,
            ContentKind::DataConnection => &types.connection,
        };
        entities.push(entity(uid(type_name, &item.id), attrs, HashSet::new())?);
    }
    for client in &tenant.oauth_clients {
        let scopes = RestrictedExpression::new_set(client.scopes.iter().map(|s| string(s)));
        entities.push(entity(
            uid(&types.client, &client.id),
            HashMap::from([("scopes".to_owned(), scopes)]),
            HashSet::new(),
        )?);
    }
    let n_entities = entities.len();
    let entities = Entities::from_entities(entities, None).context("building the Cedar entity store")?;
    Ok(CedarTenant {
        policy_text,
        policies,
        entities,
        n_entities,
    })
}

/// Prepares the Cedar question for a generated request (not timed: a Cedar caller builds its
/// request from the incoming call just as Portcullis resolves names to indices).
pub fn question(tenant: &Tenant, snapshot: &Snapshot, request: &WorkRequest) -> Result<CedarQuestion> {
    let types = Types::new();
    let principal = uid(&types.user, &tenant.users[request.user].id);
    let resource_of = |target: Target| match target {
        Target::Tenant => uid(&types.tenant, "tenant"),
        Target::Space(s) => uid(&types.space, &tenant.spaces[s].id),
        Target::Content(c) => {
            let item = &tenant.content[c];
            match item.kind {
                ContentKind::App => uid(&types.app, &item.id),
                ContentKind::DataConnection => uid(&types.connection, &item.id),
            }
        }
    };
    let context = match request.via {
        Via::OAuth(client) => Context::from_pairs([(
            "client".to_owned(),
            RestrictedExpression::new_entity_uid(uid(&types.client, &tenant.oauth_clients[client].id)),
        )])?,
        Via::Session | Via::ApiKey => Context::empty(),
    };
    let make = |action: Action, resource: EntityUid, context: Context| -> Result<Request> {
        Ok(Request::new(
            principal.clone(),
            uid(&types.action, action.as_str()),
            resource,
            context,
            None,
        )?)
    };
    let main = make(request.action, resource_of(request.target), context)?;
    let mut sources = Vec::new();
    if let (Action::AppReload, Target::Content(c)) = (request.action, request.target) {
        let consumer = snapshot.content_idx(&tenant.content[c].id).context("generated item is in the snapshot")?;
        for &source in &snapshot.content_item(consumer).sources {
            let item = snapshot.content_item(source);
            let (action, type_name) = match item.kind {
                ContentKind::DataConnection => (Action::DataConnectionUse, &types.connection),
                ContentKind::App => (Action::AppRead, &types.app),
            };
            // The reload's own reads run as the executing user with full rights, not through the client.
            sources.push(make(action, uid(type_name, &item.id), Context::empty())?);
        }
    }
    Ok(CedarQuestion { main, sources })
}

/// Cedar's decision: the request, and for a reload every source.
pub fn decide(authorizer: &Authorizer, cedar: &CedarTenant, question: &CedarQuestion) -> bool {
    let allowed = |request: &Request| authorizer.is_authorized(request, &cedar.policies, &cedar.entities).decision() == Decision::Allow;
    allowed(&question.main) && question.sources.iter().all(allowed)
}

/// The errors Cedar met while evaluating a request (a sign of a broken encoding).
pub fn errors(authorizer: &Authorizer, cedar: &CedarTenant, question: &CedarQuestion) -> Vec<String> {
    std::iter::once(&question.main)
        .chain(&question.sources)
        .flat_map(|request| {
            let response = authorizer.is_authorized(request, &cedar.policies, &cedar.entities);
            response.diagnostics().errors().map(|e| e.to_string()).collect::<Vec<_>>()
        })
        .collect()
}
