//! The immutable, indexed form of a tenant that decisions read.
//!
//! Built once per tenant revision: identifiers are interned into dense indices, every
//! user's tenant-level rights are precomputed as capability bitsets, and space and share
//! memberships become sorted vectors searched by index. A decision never hashes a string
//! after the request is resolved, and never touches the tenant model.

use std::collections::HashMap;

use rustc_hash::FxHashMap;
use std::sync::Arc;

use portcullis_model::permission::PermissionType;
use portcullis_model::role::{RoleLevel, builtin_role};
use portcullis_model::scope::ScopeSet;
use portcullis_model::tenant::{Assignee, RoleRef, RoleSetting, Tenant};
use portcullis_model::{CapSet, ContentKind, Entitlement, Permission, SpaceRole, SpaceRoleSet, SpaceType, TenantSetting, UserStatus};

use crate::explain::Via;

/// Dense index of a user in a snapshot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct UserIdx(pub u32);
/// Dense index of a group in a snapshot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct GroupIdx(pub u32);
/// Dense index of a space in a snapshot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SpaceIdx(pub u32);
/// Dense index of an app or data connection in a snapshot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ContentIdx(pub u32);
/// Dense index of an OAuth client in a snapshot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ClientIdx(pub u32);

/// A role as the engine sees it: what it grants, split by level.
#[derive(Debug, Clone)]
pub struct RoleInfo {
    /// Name.
    pub name: Arc<str>,
    /// Capabilities of user level (reachable with `user_default`).
    pub user_caps: CapSet,
    /// Capabilities of admin level (reachable with `admin_classic`).
    pub admin_caps: CapSet,
    /// Whether holding it promotes a Basic user.
    pub promotes_basic: bool,
}

/// One role a user holds, with its path and what it grants.
#[derive(Debug, Clone)]
pub struct Assignment {
    /// The role.
    pub role: Arc<RoleInfo>,
    /// How it reached the user.
    pub via: Via,
}

/// A user's tenant-level rights: live for API keys and tokens, frozen at login for sessions.
#[derive(Debug, Clone)]
pub struct TenantRights {
    /// The user's groups (sorted), as indices of the snapshot they were resolved against.
    pub groups: Vec<GroupIdx>,
    /// The same groups by name, so a frozen session can be re-resolved on a newer snapshot.
    pub group_names: Vec<Arc<str>>,
    /// What UserDefault grants.
    pub user_default: CapSet,
    /// Every role held, on every path (duplicates kept: each path is its own assignment).
    pub assignments: Vec<Assignment>,
    /// Union of UserDefault and user-level role capabilities.
    pub user_caps: CapSet,
    /// Union of admin-level role capabilities.
    pub admin_caps: CapSet,
    /// The entitlement decisions use (a promoted Basic user counts as Full).
    pub entitlement: Entitlement,
}

impl TenantRights {
    /// Re-resolves the group indices against another snapshot; groups deleted since are dropped.
    pub fn rebind(&mut self, snapshot: &Snapshot) {
        self.groups = self.group_names.iter().filter_map(|name| snapshot.group_idx(name)).collect();
        self.groups.sort_unstable();
    }
}

/// A user in a snapshot.
#[derive(Debug, Clone)]
pub struct UserInfo {
    /// IdP subject.
    pub id: Arc<str>,
    /// Display name.
    pub name: Arc<str>,
    /// Status.
    pub status: UserStatus,
    /// Entitlement as declared.
    pub declared_entitlement: Entitlement,
    /// Current tenant-level rights.
    pub rights: TenantRights,
}

/// A group in a snapshot.
#[derive(Debug, Clone)]
pub struct GroupInfo {
    /// Name.
    pub name: Arc<str>,
}

/// A space in a snapshot.
#[derive(Debug, Clone)]
pub struct SpaceInfo {
    /// Id.
    pub id: Arc<str>,
    /// Name.
    pub name: Arc<str>,
    /// Type.
    pub space_type: SpaceType,
    /// Owner.
    pub owner: UserIdx,
    /// Individual assignments, sorted by user.
    pub user_roles: Vec<(UserIdx, SpaceRoleSet)>,
    /// Group assignments, sorted by group.
    pub group_roles: Vec<(GroupIdx, SpaceRoleSet)>,
}

/// An app or data connection in a snapshot.
#[derive(Debug, Clone)]
pub struct ContentInfo {
    /// Id.
    pub id: Arc<str>,
    /// Name.
    pub name: Arc<str>,
    /// Kind.
    pub kind: ContentKind,
    /// Space, or `None` for the owner's personal space.
    pub space: Option<SpaceIdx>,
    /// Owner.
    pub owner: UserIdx,
    /// Sources it consumes when it runs.
    pub sources: Vec<ContentIdx>,
    /// Shares to users, sorted.
    pub user_shares: Vec<(UserIdx, SpaceRoleSet)>,
    /// Shares to groups, sorted.
    pub group_shares: Vec<(GroupIdx, SpaceRoleSet)>,
}

/// The fields of a content item that `list-resources` reads for every item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ContentHot {
    /// Its space's index, or `u32::MAX` for a personal item.
    pub space: u32,
    /// Its owner's index.
    pub owner: u32,
    /// App or data connection.
    pub kind: ContentKind,
    /// Whether any share exists for it.
    pub shared: bool,
}

impl ContentHot {
    /// The marker for "personal space".
    pub const PERSONAL: u32 = u32::MAX;
}

/// An OAuth client in a snapshot.
#[derive(Debug, Clone)]
pub struct ClientInfo {
    /// Client id.
    pub id: Arc<str>,
    /// Scopes.
    pub scopes: ScopeSet,
}

/// The immutable decision view of one tenant at one revision.
#[derive(Debug, Clone)]
pub struct Snapshot {
    /// The tenant's name.
    pub tenant_name: Arc<str>,
    /// The store revision it was built from (0 outside a store).
    pub revision: u64,
    /// `adminsCanOpenAppsWithoutSpaceRole`.
    pub admins_can_open_apps: bool,
    /// Users.
    pub users: Vec<UserInfo>,
    /// Groups.
    pub groups: Vec<GroupInfo>,
    /// Spaces.
    pub spaces: Vec<SpaceInfo>,
    /// Content.
    pub content: Vec<ContentInfo>,
    /// OAuth clients.
    pub clients: Vec<ClientInfo>,
    /// Per content item, the few fields a listing scans, packed so a pass over a million items
    /// stays in cache (same order as `content`).
    pub content_hot: Vec<ContentHot>,
    // Id maps use the Fx hash: keys come from the tenant's administrators, lookups are on the
    // request path, and SipHash's flooding resistance would cost more than it protects here.
    user_by_id: FxHashMap<Arc<str>, UserIdx>,
    group_by_name: FxHashMap<Arc<str>, GroupIdx>,
    space_by_id: FxHashMap<Arc<str>, SpaceIdx>,
    content_by_id: FxHashMap<Arc<str>, ContentIdx>,
    client_by_id: FxHashMap<Arc<str>, ClientIdx>,
}

fn role_info(tenant: &Tenant, name: &str) -> Option<RoleInfo> {
    let mut info = RoleInfo { name: Arc::from(name), user_caps: CapSet::EMPTY, admin_caps: CapSet::EMPTY, promotes_basic: true };
    match tenant.role(name)? {
        RoleRef::Builtin(role) => {
            match role.level {
                RoleLevel::Admin => info.admin_caps = role.grants,
                RoleLevel::User => info.user_caps = role.grants,
            }
            info.promotes_basic = role.promotes_basic;
        }
        RoleRef::Custom(role) => {
            for (permission, setting) in &role.permissions {
                let value = match setting {
                    RoleSetting::Value(value) => Some(*value),
                    RoleSetting::UserDefault => tenant.user_default_value(*permission),
                };
                let Some(value) = value else { continue };
                let caps = permission.def().grants(value);
                match permission.def().permission_type {
                    PermissionType::Admin => info.admin_caps |= caps,
                    PermissionType::User => info.user_caps |= caps,
                }
            }
        }
    }
    Some(info)
}

fn sorted<K: Ord + Copy>(mut entries: Vec<(K, SpaceRoleSet)>) -> Vec<(K, SpaceRoleSet)> {
    entries.sort_by_key(|(k, _)| *k);
    // Merge duplicates (a tenant file refuses them; the store may not).
    entries.dedup_by(|later, earlier| {
        if later.0 == earlier.0 {
            earlier.1 = earlier.1.union(later.1);
            true
        } else {
            false
        }
    });
    entries
}

impl Snapshot {
    /// Builds the snapshot of a validated tenant. References the tenant model guarantees
    /// (users, groups, roles, spaces) that are nonetheless missing are skipped, never a panic.
    pub fn build(tenant: &Tenant, revision: u64) -> Snapshot {
        let mut snapshot = Snapshot {
            tenant_name: Arc::from(tenant.name.as_str()),
            revision,
            admins_can_open_apps: tenant.setting(TenantSetting::AdminsCanOpenAppsWithoutSpaceRole),
            users: Vec::with_capacity(tenant.users.len()),
            groups: Vec::with_capacity(tenant.groups.len()),
            spaces: Vec::with_capacity(tenant.spaces.len()),
            content: Vec::with_capacity(tenant.content.len()),
            clients: Vec::with_capacity(tenant.oauth_clients.len()),
            content_hot: Vec::new(),
            user_by_id: FxHashMap::with_capacity_and_hasher(tenant.users.len(), Default::default()),
            group_by_name: FxHashMap::with_capacity_and_hasher(tenant.groups.len(), Default::default()),
            space_by_id: FxHashMap::with_capacity_and_hasher(tenant.spaces.len(), Default::default()),
            content_by_id: FxHashMap::with_capacity_and_hasher(tenant.content.len(), Default::default()),
            client_by_id: FxHashMap::with_capacity_and_hasher(tenant.oauth_clients.len(), Default::default()),
        };
        let mut roles: HashMap<&str, Arc<RoleInfo>> = HashMap::new();
        let mut role = |name: &str| -> Option<Arc<RoleInfo>> {
            if let Some(info) = roles.get(name) {
                return Some(info.clone());
            }
            let info = Arc::new(role_info(tenant, name)?);
            let key: &str = tenant.custom_roles.iter().find(|r| r.name == name).map(|r| r.name.as_str()).or_else(|| builtin_role(name).map(|r| r.name))?;
            roles.insert(key, info.clone());
            Some(info)
        };

        let user_default = Permission::all()
            .filter_map(|p| tenant.user_default_value(p).map(|v| p.def().grants(v)))
            .fold(CapSet::EMPTY, CapSet::union);

        for group in &tenant.groups {
            let name: Arc<str> = Arc::from(group.name.as_str());
            let idx = GroupIdx(snapshot.groups.len() as u32);
            snapshot.group_by_name.entry(name.clone()).or_insert(idx);
            snapshot.groups.push(GroupInfo { name });
        }
        let group_roles: Vec<Vec<Arc<RoleInfo>>> =
            tenant.groups.iter().map(|g| g.roles.iter().filter_map(|r| role(r)).collect()).collect();
        let everyone_roles: Vec<Arc<RoleInfo>> = tenant.everyone_roles.iter().filter_map(|r| role(r)).collect();

        for user in &tenant.users {
            let mut assignments = Vec::new();
            for direct in &user.roles {
                if let Some(info) = role(&direct.role) {
                    let via = match direct.origin {
                        portcullis_model::DirectOrigin::Assigned => Via::Direct,
                        portcullis_model::DirectOrigin::Setting(setting) => Via::Setting(setting),
                    };
                    assignments.push(Assignment { role: info, via });
                }
            }
            let mut groups = Vec::new();
            let mut group_names = Vec::new();
            for group_name in &user.groups {
                let Some(&group_idx) = snapshot.group_by_name.get(group_name.as_str()) else { continue };
                let name = snapshot.groups[group_idx.0 as usize].name.clone();
                for info in &group_roles[group_idx.0 as usize] {
                    assignments.push(Assignment { role: info.clone(), via: Via::Group(name.clone()) });
                }
                groups.push(group_idx);
                group_names.push(name);
            }
            groups.sort_unstable();
            for info in &everyone_roles {
                assignments.push(Assignment { role: info.clone(), via: Via::Everyone });
            }
            let (user_caps, admin_caps) = assignments
                .iter()
                .fold((user_default, CapSet::EMPTY), |(u, a), asg| (u | asg.role.user_caps, a | asg.role.admin_caps));
            let idx = UserIdx(snapshot.users.len() as u32);
            let id: Arc<str> = Arc::from(user.id.as_str());
            snapshot.user_by_id.entry(id.clone()).or_insert(idx);
            snapshot.users.push(UserInfo {
                id,
                name: Arc::from(user.name.as_str()),
                status: user.status,
                declared_entitlement: user.entitlement,
                rights: TenantRights { groups, group_names, user_default, assignments, user_caps, admin_caps, entitlement: user.entitlement },
            });
        }

        for space in &tenant.spaces {
            let Some(owner) = snapshot.user_idx(&space.owner) else { continue };
            let mut user_roles = Vec::new();
            let mut group_roles = Vec::new();
            for member in &space.members {
                match &member.assignee {
                    Assignee::User(id) => user_roles.extend(snapshot.user_idx(id).map(|u| (u, member.roles))),
                    Assignee::Group(name) => group_roles.extend(snapshot.group_idx(name).map(|g| (g, member.roles))),
                }
            }
            let idx = SpaceIdx(snapshot.spaces.len() as u32);
            let id: Arc<str> = Arc::from(space.id.as_str());
            snapshot.space_by_id.entry(id.clone()).or_insert(idx);
            snapshot.spaces.push(SpaceInfo {
                id,
                name: Arc::from(space.name.as_str()),
                space_type: space.space_type,
                owner,
                user_roles: sorted(user_roles),
                group_roles: sorted(group_roles),
            });
        }

        for item in &tenant.content {
            let Some(owner) = snapshot.user_idx(&item.owner) else { continue };
            let space = match &item.space {
                Some(space_id) => match snapshot.space_idx(space_id) {
                    Some(idx) => Some(idx),
                    None => continue,
                },
                None => None,
            };
            let idx = ContentIdx(snapshot.content.len() as u32);
            let id: Arc<str> = Arc::from(item.id.as_str());
            snapshot.content_by_id.entry(id.clone()).or_insert(idx);
            snapshot.content.push(ContentInfo {
                id,
                name: Arc::from(item.name.as_str()),
                kind: item.kind,
                space,
                owner,
                sources: Vec::new(),
                user_shares: Vec::new(),
                group_shares: Vec::new(),
            });
        }
        for use_ in &tenant.uses {
            if let (Some(consumer), Some(source)) = (snapshot.content_idx(&use_.consumer), snapshot.content_idx(&use_.source)) {
                snapshot.content[consumer.0 as usize].sources.push(source);
            }
        }
        for share in &tenant.shares {
            let Some(item) = snapshot.content_idx(&share.resource) else { continue };
            match &share.assignee {
                Assignee::User(id) => {
                    if let Some(user) = snapshot.user_idx(id) {
                        snapshot.content[item.0 as usize].user_shares.push((user, share.roles));
                    }
                }
                Assignee::Group(name) => {
                    if let Some(group) = snapshot.group_idx(name) {
                        snapshot.content[item.0 as usize].group_shares.push((group, share.roles));
                    }
                }
            }
        }
        for item in &mut snapshot.content {
            item.user_shares = sorted(std::mem::take(&mut item.user_shares));
            item.group_shares = sorted(std::mem::take(&mut item.group_shares));
        }

        for client in &tenant.oauth_clients {
            let idx = ClientIdx(snapshot.clients.len() as u32);
            let id: Arc<str> = Arc::from(client.id.as_str());
            snapshot.client_by_id.entry(id.clone()).or_insert(idx);
            snapshot.clients.push(ClientInfo { id, scopes: ScopeSet::new(client.scopes.iter().cloned()) });
        }

        snapshot.content_hot = snapshot
            .content
            .iter()
            .map(|item| ContentHot {
                space: item.space.map_or(ContentHot::PERSONAL, |s| s.0),
                owner: item.owner.0,
                kind: item.kind,
                shared: !item.user_shares.is_empty() || !item.group_shares.is_empty(),
            })
            .collect();
        let unified = tenant.setting(TenantSetting::CapacityUserTypesUnified);
        snapshot.resolve_basic_promotion(unified);
        snapshot
    }

    /// A capacity Basic user who holds any promoting role, any space role other than
    /// *Has restricted view*, or such a share, counts as Full (spec §6.2); so does a space
    /// owner, who holds every assignable role of the space (spec §8.1, README). With the 2026
    /// behaviour switched on, every Basic user does.
    fn resolve_basic_promotion(&mut self, unified: bool) {
        let restricted = SpaceRoleSet::of(&[SpaceRole::Basicconsumer]);
        let beyond_restricted = |roles: SpaceRoleSet| !roles.intersection(SpaceRoleSet(!restricted.0)).is_empty();
        let mut promoted = vec![false; self.users.len()];
        let mut promoted_groups = vec![false; self.groups.len()];
        for space in &self.spaces {
            promoted[space.owner.0 as usize] |= beyond_restricted(space.space_type.assignable_roles());
            for (user, roles) in &space.user_roles {
                promoted[user.0 as usize] |= beyond_restricted(*roles);
            }
            for (group, roles) in &space.group_roles {
                promoted_groups[group.0 as usize] |= beyond_restricted(*roles);
            }
        }
        for item in &self.content {
            for (user, roles) in &item.user_shares {
                promoted[user.0 as usize] |= beyond_restricted(*roles);
            }
            for (group, roles) in &item.group_shares {
                promoted_groups[group.0 as usize] |= beyond_restricted(*roles);
            }
        }
        for (idx, user) in self.users.iter_mut().enumerate() {
            if user.declared_entitlement != Entitlement::Basic {
                continue;
            }
            let by_role = user.rights.assignments.iter().any(|a| a.role.promotes_basic);
            let by_group = user.rights.groups.iter().any(|g| promoted_groups[g.0 as usize]);
            if unified || by_role || by_group || promoted[idx] {
                user.rights.entitlement = Entitlement::Full;
            }
        }
    }

    /// A user's index by IdP subject.
    pub fn user_idx(&self, id: &str) -> Option<UserIdx> {
        self.user_by_id.get(id).copied()
    }

    /// A group's index by name.
    pub fn group_idx(&self, name: &str) -> Option<GroupIdx> {
        self.group_by_name.get(name).copied()
    }

    /// A space's index by id.
    pub fn space_idx(&self, id: &str) -> Option<SpaceIdx> {
        self.space_by_id.get(id).copied()
    }

    /// A content item's index by id.
    pub fn content_idx(&self, id: &str) -> Option<ContentIdx> {
        self.content_by_id.get(id).copied()
    }

    /// An OAuth client's index by id.
    pub fn client_idx(&self, id: &str) -> Option<ClientIdx> {
        self.client_by_id.get(id).copied()
    }

    /// A user.
    pub fn user(&self, idx: UserIdx) -> &UserInfo {
        &self.users[idx.0 as usize]
    }

    /// A space.
    pub fn space(&self, idx: SpaceIdx) -> &SpaceInfo {
        &self.spaces[idx.0 as usize]
    }

    /// A content item.
    pub fn content_item(&self, idx: ContentIdx) -> &ContentInfo {
        &self.content[idx.0 as usize]
    }

    /// A group.
    pub fn group(&self, idx: GroupIdx) -> &GroupInfo {
        &self.groups[idx.0 as usize]
    }

    /// An OAuth client.
    pub fn client(&self, idx: ClientIdx) -> &ClientInfo {
        &self.clients[idx.0 as usize]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owning_a_space_promotes_a_basic_user_and_restricted_view_does_not() {
        let tenant = portcullis_model::tenant_file::load_tenant_text(
            "t.yaml",
            "subscription: capacity-based
users: [ { id: fay, entitlement: full }, { id: own, entitlement: basic }, { id: rv, entitlement: basic }, { id: no, entitlement: basic } ]
spaces:
  - { id: lake, type: data, owner: own }
  - { id: prod, type: managed, owner: fay, members: [ { user: rv, roles: [basicconsumer] } ] }
",
        )
        .unwrap();
        let snapshot = Snapshot::build(&tenant, 1);
        let entitlement = |id: &str| snapshot.user(snapshot.user_idx(id).unwrap()).rights.entitlement;
        assert_eq!(entitlement("own"), Entitlement::Full, "the owner holds every assignable role");
        assert_eq!(entitlement("rv"), Entitlement::Basic);
        assert_eq!(entitlement("no"), Entitlement::Basic);
        assert_eq!(entitlement("fay"), Entitlement::Full);
    }
}
