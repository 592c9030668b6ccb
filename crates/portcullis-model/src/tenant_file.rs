//! The tenant file: YAML as in the conformance README (`tenant:` of a scenario, or the same
//! fields at top level with an optional `name:`), decoded with serde and then validated
//! whole, so that one load reports every problem with its file, line and a hint.
//! A file that has any problem yields no tenant at all.

use std::collections::{BTreeMap, HashSet};
use std::fmt;

use serde::Deserialize;

use crate::err::ModelError;
use crate::permission::{Permission, PermissionValue};
use crate::role::{self, MAX_CUSTOM_ROLES, USER_DEFAULT};
use crate::source::{LineIndex, SourcePath, YamlError, check_yaml};
use crate::space::{SpaceRole, SpaceRoleSet, SpaceType};
use crate::tenant::*;

/// A tenant as written in a file, before validation.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawTenant {
    /// The tenant's name.
    pub name: Option<String>,
    /// `user-based` (default) or `capacity-based`.
    pub subscription: Option<String>,
    /// Tenant booleans.
    #[serde(default)]
    pub settings: BTreeMap<String, bool>,
    /// UserDefault: permission key → value.
    #[serde(default)]
    pub user_default: BTreeMap<String, String>,
    /// Custom roles.
    #[serde(default)]
    pub roles: Vec<RawRole>,
    /// Groups.
    #[serde(default)]
    pub groups: Vec<RawGroup>,
    /// Roles on Everyone.
    pub everyone: Option<RawEveryone>,
    /// Users.
    #[serde(default)]
    pub users: Vec<RawUser>,
    /// OAuth clients.
    #[serde(default)]
    pub oauth_clients: Vec<RawOauthClient>,
    /// Spaces.
    #[serde(default)]
    pub spaces: Vec<RawSpace>,
    /// Content.
    #[serde(default)]
    pub content: Vec<RawContent>,
    /// Design-time references.
    #[serde(default)]
    pub uses: Vec<RawUse>,
    /// Fine-grained shares.
    #[serde(default)]
    pub shares: Vec<RawShare>,
}

/// A custom role as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRole {
    /// Name.
    pub name: String,
    /// Description.
    pub description: Option<String>,
    /// Permission key → value or `user-default`.
    #[serde(default)]
    pub permissions: BTreeMap<String, String>,
}

/// A group as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawGroup {
    /// Name.
    pub name: String,
    /// `idp` (default) or `custom`.
    pub provider_type: Option<String>,
    /// Roles.
    #[serde(default)]
    pub roles: Vec<String>,
}

/// The Everyone group's roles.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawEveryone {
    /// Roles.
    #[serde(default)]
    pub roles: Vec<String>,
}

/// A user as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawUser {
    /// IdP subject.
    pub id: String,
    /// Display name (default: the id).
    pub name: Option<String>,
    /// E-mail.
    pub email: Option<String>,
    /// Entitlement (default: professional on user-based, full on capacity-based tenants).
    pub entitlement: Option<String>,
    /// Status (default active).
    pub status: Option<String>,
    /// Direct roles.
    #[serde(default)]
    pub roles: Vec<String>,
    /// Groups.
    #[serde(default)]
    pub groups: Vec<String>,
}

/// An OAuth client as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawOauthClient {
    /// Client id.
    pub id: String,
    /// Name.
    pub name: Option<String>,
    /// Scopes.
    #[serde(default)]
    pub scopes: Vec<String>,
    /// May mint tokens for any user (the user-impersonation grant); default false.
    #[serde(default)]
    pub impersonation: bool,
}

/// A space as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSpace {
    /// Id.
    pub id: String,
    /// Name (default: the id).
    pub name: Option<String>,
    /// `shared`, `managed` or `data`.
    #[serde(rename = "type")]
    pub space_type: String,
    /// Owner's user id; omitted: no owner (its owner was deleted).
    pub owner: Option<String>,
    /// Assignments.
    #[serde(default)]
    pub members: Vec<RawAssignment>,
    /// Portcullis's export mark: the custom roles data may leave the space's items through
    /// (`docs/export-control.md`); omitted: Qlik's behaviour.
    #[serde(rename = "exportOnlyThrough", default)]
    pub export_only_through: Option<Vec<String>>,
}

/// A space assignment or share target as written: exactly one of `user` / `group`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAssignment {
    /// A user id.
    pub user: Option<String>,
    /// A group name.
    pub group: Option<String>,
    /// Space role API names.
    #[serde(default)]
    pub roles: Vec<String>,
}

/// Content as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawContent {
    /// Id.
    pub id: String,
    /// Name (default: the id).
    pub name: Option<String>,
    /// `app` or `data-connection`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Space id; omitted = the owner's personal space.
    pub space: Option<String>,
    /// Owner's user id; omitted: no owner (its owner was deleted).
    pub owner: Option<String>,
}

/// A design-time reference as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawUse {
    /// Consuming content id.
    pub consumer: String,
    /// Consumed content id.
    pub source: String,
}

/// A share as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawShare {
    /// The app id.
    pub resource: String,
    /// A user id.
    pub user: Option<String>,
    /// A group name.
    pub group: Option<String>,
    /// Share roles.
    #[serde(default)]
    pub roles: Vec<String>,
}

/// One problem found while validating, at a path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// Where.
    pub path: SourcePath,
    /// What is wrong.
    pub message: String,
    /// What to do, when we can say.
    pub hint: Option<String>,
}

/// A tenant file that cannot be loaded: every problem, located.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TenantFileError {
    /// Each line: `file:line:col: message (hint: ...)`.
    pub lines: Vec<String>,
}

impl fmt::Display for TenantFileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.lines.join("\n"))
    }
}

impl std::error::Error for TenantFileError {}

impl TenantFileError {
    /// Renders problems against a file's line index.
    pub fn from_problems(label: &str, lines: &LineIndex, problems: &[Problem]) -> Self {
        TenantFileError {
            lines: problems
                .iter()
                .map(|p| {
                    let at = lines
                        .locate(&p.path)
                        .map(|pos| format!("{label}:{pos}"))
                        .unwrap_or_else(|| label.to_owned());
                    match &p.hint {
                        Some(hint) => format!("{at}: {} (at `{}`); hint: {hint}", p.message, p.path),
                        None => format!("{at}: {} (at `{}`)", p.message, p.path),
                    }
                })
                .collect(),
        }
    }

    /// A document refused before or by the decoder: a limit it exceeds, or a YAML or type error.
    pub fn from_yaml(label: &str, error: &YamlError) -> Self {
        let at = match error.location() {
            Some(at) => format!("{label}:{at}"),
            None => label.to_owned(),
        };
        let line = match error.hint() {
            Some(hint) => format!("{at}: {}; hint: {hint}", error.message()),
            None => format!("{at}: {}", error.message()),
        };
        TenantFileError { lines: vec![line] }
    }

    /// A structural (YAML or type) error reported by the decoder.
    pub fn from_decode(label: &str, error: &serde_norway::Error) -> Self {
        let message = error.to_string();
        let message = match message.rfind(" at line ") {
            Some(cut) => message[..cut].to_owned(),
            None => message,
        };
        let line = match error.location() {
            Some(loc) => format!("{label}:{}:{}: {message}", loc.line(), loc.column()),
            None => format!("{label}: {message}"),
        };
        TenantFileError { lines: vec![line] }
    }
}

#[derive(Deserialize)]
struct WrapperProbe {
    tenant: Option<serde::de::IgnoredAny>,
}

#[derive(Deserialize)]
struct ScenarioTenant {
    tenant: RawTenant,
    name: Option<String>,
}

/// Whether the text is a scenario (a top-level `tenant:` key) rather than a bare tenant file.
/// A look at the lines for block style, so a large file is parsed once, not twice; a flow-style
/// document (`{...}`) is probed with the parser.
fn is_scenario(label: &str, text: &str) -> Result<bool, TenantFileError> {
    if text.lines().any(|line| line.starts_with("tenant:")) {
        return Ok(true);
    }
    let first = text
        .lines()
        .map(str::trim_start)
        .find(|line| !line.is_empty() && !line.starts_with('#') && *line != "---");
    if !first.is_some_and(|line| line.starts_with('{')) {
        return Ok(false);
    }
    let probe: WrapperProbe = serde_norway::from_str(text).map_err(|e| TenantFileError::from_decode(label, &e))?;
    Ok(probe.tenant.is_some())
}

/// Loads a tenant file's text (or a whole scenario file: its `tenant:` is taken).
/// `label` names the file in messages. The text is first checked against the YAML limits
/// ([`crate::source::check_yaml`]).
pub fn load_tenant_text(label: &str, text: &str) -> Result<Tenant, TenantFileError> {
    check_yaml(text).map_err(|e| TenantFileError::from_yaml(label, &e))?;
    let (raw, base) = if is_scenario(label, text)? {
        let wrapped: ScenarioTenant = serde_norway::from_str(text).map_err(|e| TenantFileError::from_decode(label, &e))?;
        let mut raw = wrapped.tenant;
        if raw.name.is_none() {
            raw.name = wrapped.name;
        }
        (raw, SourcePath::root().key("tenant"))
    } else {
        let raw: RawTenant = serde_norway::from_str(text).map_err(|e| TenantFileError::from_decode(label, &e))?;
        (raw, SourcePath::root())
    };
    tenant_from_raw(&raw, &base).map_err(|problems| TenantFileError::from_problems(label, &LineIndex::build(text), &problems))
}

/// Validates a raw tenant whose fields sit under `base` in its file.
pub fn tenant_from_raw(raw: &RawTenant, base: &SourcePath) -> Result<Tenant, Vec<Problem>> {
    let mut v = Validator { problems: Vec::new() };
    let tenant = v.tenant(raw, base);
    if v.problems.is_empty() { Ok(tenant) } else { Err(v.problems) }
}

struct Validator {
    problems: Vec<Problem>,
}

fn suggest<'a>(known: impl Iterator<Item = &'a str>) -> String {
    let list: Vec<&str> = known.collect();
    if list.is_empty() {
        "none are defined".to_owned()
    } else {
        format!("known: {}", list.join(", "))
    }
}

impl Validator {
    fn problem(&mut self, path: SourcePath, message: String, hint: Option<String>) {
        self.problems.push(Problem { path, message, hint });
    }

    fn word<T>(&mut self, path: SourcePath, what: &str, text: &str, parse: fn(&str) -> Option<T>, known: String) -> Option<T> {
        let parsed = parse(text);
        if parsed.is_none() {
            self.problem(path, format!("unknown {what} `{text}`"), Some(format!("use one of {known}")));
        }
        parsed
    }

    fn unique(&mut self, seen: &mut HashSet<String>, path: SourcePath, what: &str, key: &str) {
        if key.trim().is_empty() {
            self.problem(path, format!("{what} is empty"), None);
        } else if !seen.insert(key.to_owned()) {
            self.problem(path, format!("duplicate {what} `{key}`"), Some(format!("each {what} must be unique")));
        }
    }

    fn tenant(&mut self, raw: &RawTenant, base: &SourcePath) -> Tenant {
        let mut tenant = Tenant::new(raw.name.clone().unwrap_or_else(|| "default".to_owned()));
        if let Some(text) = &raw.subscription
            && let Some(s) = self.word(base.key("subscription"), "subscription", text, Subscription::parse, Subscription::known())
        {
            tenant.subscription = s;
        }
        for (name, value) in &raw.settings {
            let path = base.key("settings").key(name);
            if let Some(s) = self.word(path, "tenant setting", name, TenantSetting::parse, TenantSetting::known()) {
                tenant.settings.insert(s, *value);
            }
        }
        for (key, value) in &raw.user_default {
            self.user_default_entry(&mut tenant, base.key("userDefault").key(key), key, value);
        }
        let mut role_names = HashSet::new();
        if raw.roles.len() > MAX_CUSTOM_ROLES {
            self.problem(
                base.key("roles"),
                format!("{} custom roles; a tenant holds at most {MAX_CUSTOM_ROLES}", raw.roles.len()),
                None,
            );
        }
        for (i, role) in raw.roles.iter().enumerate() {
            let path = base.key("roles").index(i);
            self.unique(&mut role_names, path.key("name"), "custom role name", &role.name);
            if role::builtin_role(&role.name).is_some() || role.name == USER_DEFAULT {
                self.problem(
                    path.key("name"),
                    format!("custom role `{}` has the name of a built-in role", role.name),
                    Some("choose another name".into()),
                );
            }
            let custom = self.custom_role(role, &path);
            tenant.custom_roles.upsert(custom);
        }
        let mut group_names = HashSet::new();
        for (i, group) in raw.groups.iter().enumerate() {
            let path = base.key("groups").index(i);
            let provider_type = match &group.provider_type {
                Some(text) => self
                    .word(
                        path.key("providerType"),
                        "provider type",
                        text,
                        ProviderType::parse,
                        ProviderType::known(),
                    )
                    .unwrap_or(ProviderType::Idp),
                None => ProviderType::Idp,
            };
            self.unique(&mut group_names, path.key("name"), "group name", &group.name);
            if group.roles.len() > 100 {
                self.problem(path.key("roles"), format!("{} roles on one group; at most 100", group.roles.len()), None);
            }
            tenant.groups.upsert(Group {
                meta: Default::default(),
                name: group.name.clone(),
                provider_type,
                roles: group.roles.clone(),
            });
        }
        // Roles are checked once every custom role is known.
        for (i, group) in raw.groups.iter().enumerate() {
            self.role_list(&tenant, &group.roles, &base.key("groups").index(i).key("roles"));
        }
        if let Some(everyone) = &raw.everyone {
            self.role_list(&tenant, &everyone.roles, &base.key("everyone").key("roles"));
            tenant.everyone_roles = dedup(&everyone.roles);
        }
        self.users(&mut tenant, raw, base);
        let mut client_ids = HashSet::new();
        for (i, client) in raw.oauth_clients.iter().enumerate() {
            let path = base.key("oauthClients").index(i);
            self.unique(&mut client_ids, path.key("id"), "OAuth client id", &client.id);
            tenant.oauth_clients.upsert(OauthClient {
                meta: Default::default(),
                id: client.id.clone(),
                name: client.name.clone().unwrap_or_else(|| client.id.clone()),
                scopes: client.scopes.clone(),
                impersonation: client.impersonation,
            });
        }
        self.spaces(&mut tenant, raw, base);
        self.content(&mut tenant, raw, base);
        self.uses(&mut tenant, raw, base);
        self.shares(&mut tenant, raw, base);
        tenant
    }

    fn user_default_entry(&mut self, tenant: &mut Tenant, path: SourcePath, key: &str, value: &str) {
        let Some(permission) = Permission::parse(key) else {
            self.problem(
                path,
                format!("unknown permission `{key}`"),
                Some(format!("known permissions: {}", Permission::known_keys())),
            );
            return;
        };
        let def = permission.def();
        if !def.in_user_default {
            self.problem(
                path,
                format!("permission `{key}` cannot be set in UserDefault"),
                Some("set it in a custom role".into()),
            );
            return;
        }
        match PermissionValue::parse(value).filter(|v| def.values.contains(v)) {
            Some(v) => {
                tenant.user_default.insert(permission, v);
            }
            None => self.problem(
                path,
                format!("permission `{key}` does not take the value `{value}`"),
                Some(format!("use one of {}", def.value_names())),
            ),
        }
    }

    fn custom_role(&mut self, role: &RawRole, path: &SourcePath) -> CustomRole {
        let mut permissions = BTreeMap::new();
        for (key, value) in &role.permissions {
            let at = path.key("permissions").key(key);
            let Some(permission) = Permission::parse(key) else {
                self.problem(
                    at,
                    format!("unknown permission `{key}` in custom role `{}`", role.name),
                    Some(format!("known permissions: {}", Permission::known_keys())),
                );
                continue;
            };
            let def = permission.def();
            if !def.in_custom_roles {
                self.problem(
                    at,
                    format!("permission `{key}` cannot be set in a custom role"),
                    Some("set it in UserDefault".into()),
                );
                continue;
            }
            let setting = if value == "user-default" {
                if !def.in_user_default {
                    self.problem(
                        at,
                        format!("permission `{key}` has no UserDefault value to follow"),
                        Some(format!("use one of {}", def.value_names())),
                    );
                    continue;
                }
                RoleSetting::UserDefault
            } else {
                match PermissionValue::parse(value).filter(|v| def.values.contains(v)) {
                    Some(PermissionValue::NotAllowed) => {
                        self.problem(
                            at,
                            format!(
                                "custom role `{}` sets `{key}` to `not-allowed`, which exists only in UserDefault: custom roles can only add",
                                role.name
                            ),
                            Some(
                                "omit the permission, or use `user-default`; to withhold it from most users set UserDefault to `not-allowed`".into(),
                            ),
                        );
                        continue;
                    }
                    Some(v) => RoleSetting::Value(v),
                    None => match RoleSetting::parse_word(value) {
                        // Some of the permission's scopes, as Qlik's `assignedScopes` hold them.
                        Some(RoleSetting::Scopes(caps)) if caps.0 & !def.all_grants().0 == 0 => match def.value_granting(caps) {
                            Some(v) => RoleSetting::Value(v),
                            None => RoleSetting::Scopes(caps),
                        },
                        _ => {
                            self.problem(
                                at,
                                format!("permission `{key}` does not take the value `{value}`"),
                                Some(format!(
                                    "use one of {}, or user-default, or some of its scopes separated by spaces ({})",
                                    def.value_names(),
                                    def.all_grants().iter().map(|c| c.scope()).collect::<Vec<_>>().join(", ")
                                )),
                            );
                            continue;
                        }
                    },
                }
            };
            permissions.insert(permission, setting);
        }
        CustomRole {
            meta: Default::default(),
            name: role.name.clone(),
            description: role.description.clone().unwrap_or_default(),
            permissions,
        }
    }

    fn role_list(&mut self, tenant: &Tenant, roles: &[String], path: &SourcePath) {
        for (i, name) in roles.iter().enumerate() {
            if name == USER_DEFAULT {
                self.problem(
                    path.index(i),
                    "`UserDefault` is every user's baseline and cannot be assigned".into(),
                    Some("remove it from the list".into()),
                );
            } else if tenant.role(name).is_none() {
                self.problem(
                    path.index(i),
                    format!("unknown role `{name}`"),
                    Some(format!("known roles: {}", tenant.known_role_names())),
                );
            }
        }
    }

    /// The roles of a space's export mark: custom roles of this file, each named once.
    fn export_roles(&mut self, tenant: &Tenant, roles: &[String], path: &SourcePath) {
        for (i, name) in roles.iter().enumerate() {
            if roles[..i].contains(name) {
                self.problem(path.index(i), format!("role `{name}` is named twice"), Some("name each role once".into()));
            } else if !tenant.custom_roles.contains(name) {
                let hint = if tenant.role(name).is_some() || name == USER_DEFAULT {
                    "an export mark names custom roles only: create one that holds the users data may leave through".to_owned()
                } else {
                    let names: Vec<&str> = tenant.custom_roles.iter().map(|r| r.name.as_str()).collect();
                    if names.is_empty() {
                        "the file defines no custom role; add one under `roles`".to_owned()
                    } else {
                        format!("custom roles: {}", names.join(", "))
                    }
                };
                self.problem(path.index(i), format!("`{name}` is not a custom role"), Some(hint));
            }
        }
    }

    fn users(&mut self, tenant: &mut Tenant, raw: &RawTenant, base: &SourcePath) {
        let mut ids = HashSet::new();
        for (i, user) in raw.users.iter().enumerate() {
            let path = base.key("users").index(i);
            self.unique(&mut ids, path.key("id"), "user id", &user.id);
            let entitlement = match &user.entitlement {
                Some(text) => self.word(path.key("entitlement"), "entitlement", text, Entitlement::parse, Entitlement::known()),
                None => Some(tenant.toggle_entitlement()),
            };
            if let Some(e) = entitlement
                && !e.fits(tenant.subscription)
            {
                self.problem(
                    path.key("entitlement"),
                    format!("entitlement `{e}` does not exist on a {} tenant", tenant.subscription),
                    Some(match tenant.subscription {
                        Subscription::UserBased => "use professional, analyzer or analyzer-capacity".into(),
                        Subscription::CapacityBased => "use full or basic".into(),
                    }),
                );
            }
            let status = match &user.status {
                Some(text) => self.word(path.key("status"), "user status", text, UserStatus::parse, UserStatus::known()),
                None => Some(UserStatus::Active),
            };
            self.role_list(tenant, &user.roles, &path.key("roles"));
            for (g, group) in user.groups.iter().enumerate() {
                if tenant.group(group).is_none() {
                    self.problem(
                        path.key("groups").index(g),
                        format!("unknown group `{group}`"),
                        Some(suggest(tenant.groups.iter().map(|g| g.name.as_str()))),
                    );
                }
            }
            tenant.users.upsert(User {
                meta: Default::default(),
                id: user.id.clone(),
                name: user.name.clone().unwrap_or_else(|| user.id.clone()),
                email: user.email.clone(),
                entitlement: entitlement.unwrap_or(Entitlement::Professional),
                status: status.unwrap_or(UserStatus::Active),
                roles: dedup(&user.roles)
                    .into_iter()
                    .map(|role| DirectRole {
                        role,
                        origin: DirectOrigin::Assigned,
                    })
                    .collect(),
                groups: dedup(&user.groups),
            });
        }
    }

    fn user_ref(&mut self, tenant: &Tenant, path: SourcePath, id: &str) {
        if tenant.user(id).is_none() {
            self.problem(path, format!("unknown user `{id}`"), Some("declare the user under `users`".into()));
        }
    }

    fn assignee(&mut self, tenant: &Tenant, raw: &RawAssignment, path: &SourcePath) -> Option<Assignee> {
        match (&raw.user, &raw.group) {
            (Some(user), None) => {
                self.user_ref(tenant, path.key("user"), user);
                Some(Assignee::User(user.clone()))
            }
            (None, Some(group)) => {
                if tenant.group(group).is_none() {
                    self.problem(
                        path.key("group"),
                        format!("unknown group `{group}`"),
                        Some(suggest(tenant.groups.iter().map(|g| g.name.as_str()))),
                    );
                }
                Some(Assignee::Group(group.clone()))
            }
            _ => {
                self.problem(path.clone(), "an assignment names exactly one of `user` or `group`".into(), None);
                None
            }
        }
    }

    fn space_roles(&mut self, roles: &[String], allowed: SpaceRoleSet, where_: &str, path: &SourcePath) -> SpaceRoleSet {
        let mut set = SpaceRoleSet::EMPTY;
        if roles.is_empty() {
            self.problem(
                path.clone(),
                "the role list is empty".into(),
                Some(format!("give at least one of {}", allowed.names())),
            );
        }
        for (i, name) in roles.iter().enumerate() {
            match SpaceRole::parse(name) {
                Some(role) if allowed.contains(role) => set.insert(role),
                Some(role) => self.problem(
                    path.index(i),
                    format!("space role `{role}` is not assignable {where_}"),
                    Some(format!("use one of {}", allowed.names())),
                ),
                None => self.problem(
                    path.index(i),
                    format!("unknown space role `{name}`"),
                    Some(format!("use one of {}", allowed.names())),
                ),
            }
        }
        set
    }

    fn spaces(&mut self, tenant: &mut Tenant, raw: &RawTenant, base: &SourcePath) {
        let mut ids = HashSet::new();
        let mut names = HashSet::new();
        for (i, space) in raw.spaces.iter().enumerate() {
            let path = base.key("spaces").index(i);
            self.unique(&mut ids, path.key("id"), "space id", &space.id);
            let name = space.name.clone().unwrap_or_else(|| space.id.clone());
            self.unique(&mut names, path.key("name"), "space name", &name);
            let space_type = self.word(
                path.key("type"),
                "space type",
                &space.space_type,
                SpaceType::parse,
                "shared, managed, data".into(),
            );
            if let Some(owner) = &space.owner {
                self.user_ref(tenant, path.key("owner"), owner);
            }
            let mut members = Vec::new();
            let mut seen = HashSet::new();
            for (m, member) in space.members.iter().enumerate() {
                let at = path.key("members").index(m);
                let Some(assignee) = self.assignee(tenant, member, &at) else { continue };
                if let Some(owner) = &space.owner
                    && assignee == Assignee::User(owner.clone())
                {
                    self.problem(
                        at.clone(),
                        format!("the owner `{owner}` is assigned a role in their own space"),
                        Some("the owner holds the Owner column already; remove the assignment".into()),
                    );
                }
                if !seen.insert(assignee.clone()) {
                    self.problem(
                        at.clone(),
                        format!("{assignee} is assigned twice in space `{}`", space.id),
                        Some("put every role in one assignment".into()),
                    );
                }
                let Some(space_type) = space_type else { continue };
                let roles = self.space_roles(
                    &member.roles,
                    space_type.assignable_roles(),
                    &format!("in a {space_type} space"),
                    &at.key("roles"),
                );
                members.push(SpaceMember { assignee, roles });
            }
            if let Some(roles) = &space.export_only_through {
                self.export_roles(tenant, roles, &path.key("exportOnlyThrough"));
            }
            tenant.spaces.upsert(Space {
                meta: Default::default(),
                id: space.id.clone(),
                name,
                space_type: space_type.unwrap_or(SpaceType::Shared),
                owner: space.owner.clone(),
                members,
                export_only_through: space.export_only_through.clone(),
            });
        }
    }

    fn content(&mut self, tenant: &mut Tenant, raw: &RawTenant, base: &SourcePath) {
        let mut ids = HashSet::new();
        for (i, item) in raw.content.iter().enumerate() {
            let path = base.key("content").index(i);
            self.unique(&mut ids, path.key("id"), "content id", &item.id);
            let kind = self.word(path.key("type"), "content type", &item.kind, ContentKind::parse, ContentKind::known());
            if let Some(space) = &item.space {
                match tenant.space(space) {
                    None => self.problem(
                        path.key("space"),
                        format!("unknown space `{space}`"),
                        Some(suggest(tenant.spaces.iter().map(|s| s.id.as_str()))),
                    ),
                    Some(s) if s.space_type == SpaceType::Data && kind == Some(ContentKind::App) => self.problem(
                        path.key("space"),
                        ModelError::AppInDataSpace {
                            app: item.id.clone(),
                            space: space.clone(),
                        }
                        .to_string(),
                        Some("put the app in a shared or managed space, or omit `space` for its owner's personal space".into()),
                    ),
                    Some(_) => {}
                }
            }
            if let Some(owner) = &item.owner {
                self.user_ref(tenant, path.key("owner"), owner);
            }
            tenant.content.upsert(Content {
                id: item.id.clone(),
                name: item.name.clone().unwrap_or_else(|| item.id.clone()),
                kind: kind.unwrap_or(ContentKind::App),
                space: item.space.clone(),
                owner: item.owner.clone(),
            });
        }
    }

    fn uses(&mut self, tenant: &mut Tenant, raw: &RawTenant, base: &SourcePath) {
        for (i, use_) in raw.uses.iter().enumerate() {
            let path = base.key("uses").index(i);
            for (field, id) in [("consumer", &use_.consumer), ("source", &use_.source)] {
                if tenant.content_item(id).is_none() {
                    self.problem(
                        path.key(field),
                        format!("unknown content `{id}`"),
                        Some("declare it under `content`".into()),
                    );
                }
            }
            if use_.consumer == use_.source {
                self.problem(path.clone(), format!("`{}` cannot consume itself", use_.consumer), None);
            }
            // A repeated reference is the same reference.
            tenant.uses.upsert(Use {
                consumer: use_.consumer.clone(),
                source: use_.source.clone(),
            });
        }
    }

    fn shares(&mut self, tenant: &mut Tenant, raw: &RawTenant, base: &SourcePath) {
        for (i, share) in raw.shares.iter().enumerate() {
            let path = base.key("shares").index(i);
            let assignment = RawAssignment {
                user: share.user.clone(),
                group: share.group.clone(),
                roles: share.roles.clone(),
            };
            let assignee = self.assignee(tenant, &assignment, &path);
            let Some(item) = tenant.content_item(&share.resource) else {
                self.problem(
                    path.key("resource"),
                    format!("unknown content `{}`", share.resource),
                    Some("declare it under `content`".into()),
                );
                continue;
            };
            if item.kind != ContentKind::App {
                self.problem(
                    path.key("resource"),
                    format!("`{}` is a {}; only apps can be shared one by one", share.resource, item.kind),
                    None,
                );
                continue;
            }
            let Some(space) = item.space.as_deref().and_then(|s| tenant.space(s)) else {
                self.problem(
                    path.key("resource"),
                    format!(
                        "app `{}` is in a personal space; apps in personal spaces cannot be shared",
                        share.resource
                    ),
                    Some("move the app to a shared or managed space".into()),
                );
                continue;
            };
            let space_type = space.space_type;
            let roles = self.space_roles(
                &share.roles,
                space_type.shareable_roles(),
                &format!("on a share of an app in a {space_type} space"),
                &path.key("roles"),
            );
            if let Some(assignee) = assignee {
                // One share per app and assignee: a later one replaces the roles, as the API does.
                tenant.shares.upsert(Share {
                    resource: share.resource.clone(),
                    assignee,
                    roles,
                });
            }
        }
    }
}

fn dedup(items: &[String]) -> Vec<String> {
    let mut seen = HashSet::new();
    items.iter().filter(|i| seen.insert(i.as_str())).cloned().collect()
}
