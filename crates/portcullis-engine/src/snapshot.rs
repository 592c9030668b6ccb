//! The immutable, indexed form of a tenant that decisions read.
//!
//! [`Snapshot::build`] makes one from a whole tenant: identifiers are interned into dense
//! indices, every user's tenant-level rights are precomputed as capability bitsets, and space and
//! share memberships become sorted vectors searched by index. A decision never hashes a string
//! after the request is resolved, and never touches the tenant model.
//!
//! [`Snapshot::apply`] makes the next one after a write, at the cost of what the write touched:
//! entity tables are persistent vectors ([`crate::cow`]) and the id maps persistent hash maps,
//! so the next snapshot shares every untouched row with the previous one. New entities take new
//! slots; deleted ones leave tombstones, so an index never changes meaning. To know what to
//! recompute, the snapshot keeps a few reverse indices (each group's members, each role's direct
//! holders, Basic-promotion counts). INVARIANT: `apply` decides exactly as `build` on the same
//! tenant (`tests/it/live.rs` checks it on random tenants and writes).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use rustc_hash::{FxBuildHasher, FxHashMap, FxHashSet};

use portcullis_model::change::Touched;
use portcullis_model::permission::PermissionType;
use portcullis_model::role::{BUILTIN_ROLES, RoleLevel};
use portcullis_model::scope::ScopeSet;
use portcullis_model::tenant::{Assignee, Content, RoleRef, Share, Space, Tenant, User};
use portcullis_model::{CapSet, ContentKind, Entitlement, Permission, SpaceRole, SpaceRoleSet, SpaceType, TenantSetting, UserStatus};

pub use crate::cow::{CowVec, Rows};
use crate::explain::Via;
use crate::id_map::IdMap;

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

/// Users are stored eight to a leaf: a role given to a large group rewrites members scattered
/// over the whole table, and each of them copies its leaf.
pub const USER_LEAF_BITS: u32 = 3;

/// A persistent set of users, in index order.
pub type UserSet = imbl::OrdSet<UserIdx>;

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
/// Cloning is three reference-count increments.
#[derive(Debug, Clone)]
pub struct TenantRights {
    /// The user's groups, in the order of the user's memberships, as indices of the snapshot
    /// they were resolved against.
    pub groups: Arc<[GroupIdx]>,
    /// The same groups by name, so a frozen session can be re-resolved on a newer snapshot.
    pub group_names: Arc<[Arc<str>]>,
    /// What UserDefault grants.
    pub user_default: CapSet,
    /// Every role held, on every path (duplicates kept: each path is its own assignment).
    pub assignments: Arc<[Assignment]>,
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
    /// The roles every member gets (those the tenant knows).
    pub roles: Arc<[Arc<RoleInfo>]>,
    /// Its members: the reverse index a write to the group walks.
    pub members: UserSet,
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
    /// Owner; `None` once the owner was deleted.
    pub owner: Option<UserIdx>,
    /// Individual assignments, sorted by user.
    pub user_roles: Arc<[(UserIdx, SpaceRoleSet)]>,
    /// Group assignments, sorted by group.
    pub group_roles: Arc<[(GroupIdx, SpaceRoleSet)]>,
    /// The export mark (`docs/export-control.md`): data leaves the space's items only
    /// through these custom roles; `None`: no mark, Qlik's behaviour.
    pub export_only_through: Option<Arc<[Arc<str>]>>,
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
    /// Owner; `None` once the owner was deleted.
    pub owner: Option<UserIdx>,
    /// Sources it consumes when it runs, in the tenant's order of `uses`.
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
    /// Its owner's index, or [`ContentHot::NO_OWNER`].
    pub owner: u32,
    /// App or data connection; `None` for a deleted item's slot.
    pub kind: Option<ContentKind>,
    /// Whether any share exists for it.
    pub shared: bool,
}

impl ContentHot {
    /// The marker for "personal space".
    pub const PERSONAL: u32 = u32::MAX;

    /// The marker for "no owner" (its owner was deleted): no user's index.
    pub const NO_OWNER: u32 = u32::MAX;

    /// The entry of a deleted item: matches no kind.
    pub const TOMBSTONE: ContentHot = ContentHot {
        space: ContentHot::PERSONAL,
        owner: ContentHot::NO_OWNER,
        kind: None,
        shared: false,
    };

    fn of(item: &ContentInfo) -> ContentHot {
        ContentHot {
            space: item.space.map_or(ContentHot::PERSONAL, |s| s.0),
            owner: item.owner.map_or(ContentHot::NO_OWNER, |o| o.0),
            kind: Some(item.kind),
            shared: !item.user_shares.is_empty() || !item.group_shares.is_empty(),
        }
    }
}

/// An OAuth client in a snapshot.
#[derive(Debug, Clone)]
pub struct ClientInfo {
    /// Client id.
    pub id: Arc<str>,
    /// Scopes.
    pub scopes: ScopeSet,
}

/// The immutable decision view of one tenant at one revision. Cloning is cheap (a few
/// reference counts); [`Snapshot::apply`] derives the next revision's view from it.
#[derive(Debug, Clone)]
pub struct Snapshot {
    /// The tenant's name.
    pub tenant_name: Arc<str>,
    /// The store revision it was built from (0 outside a store).
    pub revision: u64,
    /// `adminsCanOpenAppsWithoutSpaceRole`.
    pub admins_can_open_apps: bool,
    /// Users, by [`UserIdx`] (deleted users are tombstones).
    pub users: Rows<UserInfo, USER_LEAF_BITS>,
    /// Groups, by [`GroupIdx`].
    pub groups: Rows<GroupInfo>,
    /// Spaces, by [`SpaceIdx`].
    pub spaces: Rows<SpaceInfo>,
    /// Content, by [`ContentIdx`].
    pub content: Rows<ContentInfo>,
    /// OAuth clients, by [`ClientIdx`].
    pub clients: Rows<ClientInfo>,
    /// Per content slot, the few fields a listing scans, packed so a pass over a million items
    /// stays in cache (same slots as `content`; a tombstone has no kind).
    pub content_hot: CowVec<ContentHot>,
    user_by_id: IdMap<UserIdx>,
    group_by_name: IdMap<GroupIdx>,
    space_by_id: IdMap<SpaceIdx>,
    content_by_id: IdMap<ContentIdx>,
    client_by_id: IdMap<ClientIdx>,
    derived: Derived,
}

/// What `apply` needs besides the tables: the inputs of a user's rights, and reverse indices.
#[derive(Debug, Clone)]
struct Derived {
    /// Every role the tenant knows (built-in and custom), by name.
    roles: Arc<FxHashMap<Arc<str>, Arc<RoleInfo>>>,
    /// The roles of Everyone.
    everyone: Arc<[Arc<RoleInfo>]>,
    /// What UserDefault grants.
    user_default: CapSet,
    /// `capacityUserTypesUnified`.
    unified: bool,
    /// Role name → the users holding it directly.
    direct_holders: imbl::GenericHashMap<Arc<str>, UserSet, FxBuildHasher, imbl::shared_ptr::DefaultSharedPtr>,
    /// Per user slot, how many space assignments and shares beyond *Has restricted view* it has.
    user_promotions: CowVec<u32>,
    /// The same per group slot.
    group_promotions: CowVec<u32>,
    /// Which `build` this snapshot descends from, and how many times since groups were created
    /// or deleted: sessions re-resolve their groups only when this pair changes.
    lineage: u64,
    group_epoch: u64,
}

/// Which snapshot a set of group indices was resolved against, as far as groups go: two
/// snapshots with the same binding give every group name the same index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GroupBinding {
    lineage: u64,
    epoch: u64,
}

static LINEAGE: AtomicU64 = AtomicU64::new(1);

fn role_info(tenant: &Tenant, name: &str) -> Option<RoleInfo> {
    let mut info = RoleInfo {
        name: Arc::from(name),
        user_caps: CapSet::EMPTY,
        admin_caps: CapSet::EMPTY,
        promotes_basic: true,
    };
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
                let caps = tenant.custom_setting_grants(*permission, *setting);
                match permission.def().permission_type {
                    PermissionType::Admin => info.admin_caps |= caps,
                    PermissionType::User => info.user_caps |= caps,
                }
            }
        }
    }
    Some(info)
}

fn role_table(tenant: &Tenant) -> FxHashMap<Arc<str>, Arc<RoleInfo>> {
    let names = BUILTIN_ROLES
        .iter()
        .map(|r| r.name)
        .chain(tenant.custom_roles.iter().map(|r| r.name.as_str()));
    names
        .filter_map(|name| role_info(tenant, name).map(|info| (info.name.clone(), Arc::new(info))))
        .collect()
}

fn user_default_caps(tenant: &Tenant) -> CapSet {
    Permission::all()
        .filter_map(|p| tenant.user_default_value(p).map(|v| p.def().grants(v)))
        .fold(CapSet::EMPTY, CapSet::union)
}

fn resolve_roles(roles: &FxHashMap<Arc<str>, Arc<RoleInfo>>, names: &[String]) -> Arc<[Arc<RoleInfo>]> {
    names.iter().filter_map(|name| roles.get(name.as_str()).cloned()).collect()
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

/// Whether a space or share role counts towards Basic promotion (spec §6.2): anything but
/// *Has restricted view*.
fn promotes(roles: SpaceRoleSet) -> bool {
    let restricted = SpaceRoleSet::of(&[SpaceRole::Basicconsumer]);
    !roles.intersection(SpaceRoleSet(!restricted.0)).is_empty()
}

/// Direct roles of a user's rights (the names a `direct_holders` entry is kept under).
fn direct_role_names(rights: &TenantRights) -> impl Iterator<Item = &Arc<str>> {
    rights
        .assignments
        .iter()
        .filter(|a| matches!(a.via, Via::Direct | Via::Setting(_)))
        .map(|a| &a.role.name)
}

fn groups_of(rights: Option<&TenantRights>) -> &[GroupIdx] {
    rights.map_or(&[], |r| &r.groups[..])
}

fn names_of(rights: Option<&TenantRights>) -> impl Iterator<Item = &Arc<str>> {
    rights.into_iter().flat_map(direct_role_names)
}

impl Snapshot {
    /// Builds the snapshot of a validated tenant from scratch. References the tenant model
    /// guarantees (users, groups, roles, spaces) that are nonetheless missing are skipped, never
    /// a panic.
    pub fn build(tenant: &Tenant, revision: u64) -> Snapshot {
        let roles = role_table(tenant);
        let everyone = resolve_roles(&roles, &tenant.everyone_roles);
        let mut snapshot = Snapshot {
            tenant_name: Arc::from(tenant.name.as_str()),
            revision,
            admins_can_open_apps: tenant.setting(TenantSetting::AdminsCanOpenAppsWithoutSpaceRole),
            users: Rows::default(),
            groups: Rows::default(),
            spaces: Rows::default(),
            content: Rows::default(),
            clients: Rows::default(),
            content_hot: CowVec::new(),
            user_by_id: IdMap::default(),
            group_by_name: IdMap::default(),
            space_by_id: IdMap::default(),
            content_by_id: IdMap::default(),
            client_by_id: IdMap::default(),
            derived: Derived {
                roles: Arc::new(roles),
                everyone,
                user_default: user_default_caps(tenant),
                unified: tenant.setting(TenantSetting::CapacityUserTypesUnified),
                direct_holders: Default::default(),
                user_promotions: CowVec::new(),
                group_promotions: CowVec::new(),
                lineage: LINEAGE.fetch_add(1, Ordering::Relaxed),
                group_epoch: 0,
            },
        };

        // Ids resolve through plain hash maps while building (a few million look-ups for a large
        // tenant); the persistent maps are filled once at the end.
        let mut ids = BuildIds {
            users: with_capacity(tenant.users.len()),
            groups: with_capacity(tenant.groups.len()),
            spaces: with_capacity(tenant.spaces.len()),
        };
        let mut groups = Vec::with_capacity(tenant.groups.len());
        for group in &tenant.groups {
            let name: Arc<str> = Arc::from(group.name.as_str());
            let idx = GroupIdx(groups.len() as u32);
            if ids.groups.contains_key(&name) {
                continue;
            }
            ids.groups.insert(name.clone(), idx);
            groups.push(GroupInfo {
                name,
                roles: resolve_roles(&snapshot.derived.roles, &group.roles),
                members: UserSet::new(),
            });
        }
        snapshot.groups = groups.into_iter().collect();

        // Users' ids first: spaces and content resolve owners, members and shares through them
        // while the users' rights are computed beside.
        for (idx, user) in tenant.users.iter().enumerate() {
            ids.users.entry(Arc::from(user.id.as_str())).or_insert(UserIdx(idx as u32));
        }
        let mut spaces = Vec::with_capacity(tenant.spaces.len());
        for space in &tenant.spaces {
            let Some(info) = space_info(&ids, space) else { continue };
            ids.spaces.entry(info.id.clone()).or_insert(SpaceIdx(spaces.len() as u32));
            spaces.push(info);
        }
        snapshot.spaces = spaces.into_iter().collect();

        // The large parts on two threads: the items beside while the users' rights are worked
        // out here; then the items' links (and their hot entries) beside while the items' id map
        // is made persistent here.
        let (users, content, content_hot, content_by_id) = std::thread::scope(|scope| {
            let items = scope.spawn(|| content_items(&ids, tenant));
            let users = snapshot.build_users(&ids, tenant);
            let (mut content, by_position) = items.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic));
            let persistent_ids: Vec<(Arc<str>, ContentIdx)> = content
                .iter()
                .enumerate()
                .map(|(idx, item)| (item.id.clone(), ContentIdx(idx as u32)))
                .collect();
            let (hot, persistent) = std::thread::scope(|inner| {
                let links = inner.spawn(|| link_content(&ids, tenant, &by_position, &mut content));
                let persistent: IdMap<ContentIdx> = persistent_ids.into_iter().collect();
                (links.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic)), persistent)
            });
            (users, content, hot, persistent)
        });
        let (mut users, members, holders, user_by_id) = users;
        snapshot.user_by_id = user_by_id;
        snapshot.content_by_id = content_by_id;
        snapshot.content_hot = content_hot;
        for (slot, group_members) in members.into_iter().enumerate() {
            if let Some(group) = snapshot.groups.get_mut(slot) {
                group.members = group_members.into_iter().collect();
            }
        }
        snapshot.derived.direct_holders = holders.into_iter().map(|(name, users)| (name, users.into_iter().collect())).collect();

        // Basic promotion counts, then the entitlements they decide.
        let mut user_promotions = vec![0u32; users.len()];
        let mut group_promotions = vec![0u32; snapshot.groups.len()];
        // A space owner holds every assignable role of the space (spec §8.1, README).
        for (_, space) in snapshot.spaces.iter() {
            if let Some(owner) = space.owner {
                user_promotions[owner.0 as usize] += u32::from(promotes(space.space_type.assignable_roles()));
            }
        }
        let space_entries = snapshot.spaces.iter().map(|(_, s)| (&s.user_roles[..], &s.group_roles[..]));
        for (user_entries, group_entries) in space_entries.chain(content.iter().map(|c| (&c.user_shares[..], &c.group_shares[..]))) {
            for (user, roles) in user_entries {
                user_promotions[user.0 as usize] += u32::from(promotes(*roles));
            }
            for (group, roles) in group_entries {
                group_promotions[group.0 as usize] += u32::from(promotes(*roles));
            }
        }
        snapshot.content = content.into_iter().collect();
        snapshot.derived.user_promotions = user_promotions.iter().copied().collect();
        snapshot.derived.group_promotions = group_promotions.into_iter().collect();
        for (idx, user) in users.iter_mut().enumerate() {
            user.rights.entitlement = snapshot.entitlement(user, user_promotions[idx]);
        }
        snapshot.users = users.into_iter().collect();

        let mut clients = Vec::with_capacity(tenant.oauth_clients.len());
        for client in &tenant.oauth_clients {
            let id: Arc<str> = Arc::from(client.id.as_str());
            if snapshot.client_by_id.get(&id).is_none() {
                snapshot.client_by_id.insert(id.clone(), ClientIdx(clients.len() as u32));
            }
            clients.push(ClientInfo {
                id,
                scopes: ScopeSet::new(client.scopes.iter().cloned()),
            });
        }
        snapshot.clients = clients.into_iter().collect();
        snapshot.group_by_name = ids.groups.into_iter().collect();
        snapshot.space_by_id = ids.spaces.into_iter().collect();
        snapshot
    }

    /// The users' part of [`Snapshot::build`]: every user's rights (entitlement not yet
    /// promoted), each group's members, each role's direct holders, and the id map.
    fn build_users(&self, ids: &BuildIds, tenant: &Tenant) -> BuiltUsers {
        let mut users = Vec::with_capacity(tenant.users.len());
        let mut members: Vec<Vec<UserIdx>> = vec![Vec::new(); self.groups.len()];
        let mut holders: FxHashMap<Arc<str>, Vec<UserIdx>> = FxHashMap::default();
        for user in &tenant.users {
            let idx = UserIdx(users.len() as u32);
            let info = self.user_info(ids, user, None);
            for &group in info.rights.groups.iter() {
                members[group.0 as usize].push(idx);
            }
            for name in direct_role_names(&info.rights) {
                holders.entry(name.clone()).or_default().push(idx);
            }
            users.push(info);
        }
        let by_id = ids.users.iter().map(|(id, idx)| (id.clone(), *idx)).collect();
        (users, members, holders, by_id)
    }

    /// A user's info with rights from this snapshot's roles and groups; the entitlement is the
    /// declared one (promotion is decided by [`Snapshot::entitlement`]). The shared parts of
    /// `previous` (id, name, group lists) are reused when unchanged, so recomputing the members
    /// of a group allocates one list per member.
    fn user_info(&self, ids: &impl Ids, user: &User, previous: Option<&UserInfo>) -> UserInfo {
        let d = &self.derived;
        let mut assignments = Vec::new();
        for direct in &user.roles {
            if let Some(info) = d.roles.get(direct.role.as_str()) {
                let via = match direct.origin {
                    portcullis_model::DirectOrigin::Assigned => Via::Direct,
                    portcullis_model::DirectOrigin::Setting(setting) => Via::Setting(setting),
                };
                assignments.push(Assignment { role: info.clone(), via });
            }
        }
        let mut groups = Vec::with_capacity(user.groups.len());
        let mut group_names = Vec::with_capacity(user.groups.len());
        for group_name in &user.groups {
            let Some(group_idx) = ids.group(group_name) else { continue };
            let Some(group) = self.groups.get(group_idx.0 as usize) else { continue };
            for info in group.roles.iter() {
                assignments.push(Assignment {
                    role: info.clone(),
                    via: Via::Group(group.name.clone()),
                });
            }
            groups.push(group_idx);
            group_names.push(group.name.clone());
        }
        for info in d.everyone.iter() {
            assignments.push(Assignment {
                role: info.clone(),
                via: Via::Everyone,
            });
        }
        let (user_caps, admin_caps) = assignments.iter().fold((d.user_default, CapSet::EMPTY), |(u, a), asg| {
            (u | asg.role.user_caps, a | asg.role.admin_caps)
        });
        let reuse = |text: &str, old: Option<&Arc<str>>| match old {
            Some(old) if **old == *text => old.clone(),
            _ => Arc::from(text),
        };
        let (groups, group_names): (Arc<[GroupIdx]>, Arc<[Arc<str>]>) = match previous {
            Some(old) if *old.rights.groups == *groups && *old.rights.group_names == *group_names => {
                (old.rights.groups.clone(), old.rights.group_names.clone())
            }
            _ => (groups.into(), group_names.into()),
        };
        UserInfo {
            id: reuse(&user.id, previous.map(|p| &p.id)),
            name: reuse(&user.name, previous.map(|p| &p.name)),
            status: user.status,
            declared_entitlement: user.entitlement,
            rights: TenantRights {
                groups,
                group_names,
                user_default: d.user_default,
                assignments: assignments.into(),
                user_caps,
                admin_caps,
                entitlement: user.entitlement,
            },
        }
    }

    /// A capacity Basic user who holds any promoting role, any space role other than
    /// *Has restricted view*, or such a share (directly or through a group), counts as Full
    /// (spec §6.2); so does a space owner, who holds every assignable role of the space (spec
    /// §8.1, README). With the 2026 behaviour switched on, every Basic user does.
    fn entitlement(&self, user: &UserInfo, own_promotions: u32) -> Entitlement {
        if user.declared_entitlement != Entitlement::Basic {
            return user.declared_entitlement;
        }
        let d = &self.derived;
        let by_role = || user.rights.assignments.iter().any(|a| a.role.promotes_basic);
        let by_group = || {
            user.rights
                .groups
                .iter()
                .any(|g| d.group_promotions.get(g.0 as usize).is_some_and(|n| *n > 0))
        };
        if d.unified || own_promotions > 0 || by_role() || by_group() {
            Entitlement::Full
        } else {
            Entitlement::Basic
        }
    }

    /// The snapshot of `tenant` after a write, derived from this one at the cost of what the
    /// write touched (the members of a touched group, the holders of a touched role, one item
    /// for a new app), instead of rebuilding the whole view.
    ///
    /// `tenant` is the tenant as it is AFTER the write, and `touched` what
    /// `portcullis_model::Tenant::apply` reported for it (merge the `Touched` of several changes
    /// with `Touched::merge` to apply a batch at once); `self` must be the snapshot of the tenant
    /// just before those changes. Any other tenant (an import, a reload from the store) needs
    /// [`Snapshot::build`]. Both make snapshots that decide identically.
    ///
    /// ```ignore
    /// let applied = tenant.apply(&change)?;
    /// let next = Arc::new(view.snapshot.apply(&tenant, &applied.touched, revision));
    /// let mut sessions = view.sessions.clone(); // O(1)
    /// sessions.rebind(&next);                   // O(1) unless groups were created or deleted
    /// ```
    ///
    /// Tenant-wide changes (settings that matter to rights, UserDefault, the roles of Everyone)
    /// recompute every user. A touched content item reads its own shares and `uses` through the
    /// model's index of them, so content writes cost the item's rows, not the tenant's.
    pub fn apply(&self, tenant: &Tenant, touched: &Touched, revision: u64) -> Snapshot {
        let mut next = self.clone();
        next.revision = revision;
        if *next.tenant_name != *tenant.name {
            next.tenant_name = Arc::from(tenant.name.as_str());
        }
        let mut work = Work::default();
        next.apply_tenant_wide(tenant, touched, &mut work);
        next.apply_roles(tenant, touched, &mut work);
        next.apply_groups(tenant, touched, &mut work);
        next.apply_user_slots(tenant, touched, &mut work);
        next.apply_spaces(tenant, touched, &mut work);
        next.apply_content(tenant, touched, &mut work);
        next.apply_clients(tenant, touched);
        next.apply_users(tenant, &mut work);
        next
    }

    fn apply_tenant_wide(&mut self, tenant: &Tenant, touched: &Touched, work: &mut Work) {
        if touched.settings {
            self.admins_can_open_apps = tenant.setting(TenantSetting::AdminsCanOpenAppsWithoutSpaceRole);
            let unified = tenant.setting(TenantSetting::CapacityUserTypesUnified);
            if unified != self.derived.unified {
                self.derived.unified = unified;
                work.all_users = true;
            }
        }
        if touched.user_default {
            self.derived.user_default = user_default_caps(tenant);
            work.all_users = true;
        }
    }

    /// Refreshes the role table for touched custom roles (all of them after a UserDefault change,
    /// since a custom role may follow it), then the resolved role lists of the groups and of
    /// Everyone that hold a changed role.
    fn apply_roles(&mut self, tenant: &Tenant, touched: &Touched, work: &mut Work) {
        let changed: Vec<Arc<str>> = if touched.user_default {
            self.derived.roles = Arc::new(role_table(tenant));
            tenant.custom_roles.iter().map(|r| Arc::from(r.name.as_str())).collect()
        } else if !touched.custom_roles.is_empty() {
            let roles = Arc::make_mut(&mut self.derived.roles);
            for name in &touched.custom_roles {
                match role_info(tenant, name) {
                    Some(info) => roles.insert(info.name.clone(), Arc::new(info)),
                    None => roles.remove(name.as_str()),
                };
            }
            touched.custom_roles.iter().map(|name| Arc::from(name.as_str())).collect()
        } else {
            Vec::new()
        };
        if !changed.is_empty() {
            let changed: FxHashSet<&str> = changed.iter().map(|name| &**name).collect();
            for name in &changed {
                if let Some(holders) = self.derived.direct_holders.get(*name) {
                    work.users.extend(holders.iter().map(|u| u.0));
                }
            }
            let holding: Vec<usize> = self
                .groups
                .iter()
                .filter(|(_, g)| g.roles.iter().any(|r| changed.contains(&*r.name)))
                .map(|(slot, _)| slot)
                .collect();
            for slot in holding {
                self.refresh_group_roles(tenant, slot, work);
            }
        }
        let everyone_stale = self
            .derived
            .everyone
            .iter()
            .any(|r| !self.derived.roles.get(&r.name).is_some_and(|now| Arc::ptr_eq(now, r)));
        if touched.everyone_roles || everyone_stale {
            self.derived.everyone = resolve_roles(&self.derived.roles, &tenant.everyone_roles);
            work.all_users = true;
        }
    }

    /// Re-resolves one group's roles from the tenant and marks its members.
    fn refresh_group_roles(&mut self, tenant: &Tenant, slot: usize, work: &mut Work) {
        let roles = &self.derived.roles;
        let Some(group) = self.groups.get_mut(slot) else { return };
        if let Some(model) = tenant.group(&group.name) {
            group.roles = resolve_roles(roles, &model.roles);
        }
        work.users.extend(group.members.iter().map(|u| u.0));
    }

    /// Created groups get a slot, deleted ones become tombstones, changed ones re-resolve roles.
    fn apply_groups(&mut self, tenant: &Tenant, touched: &Touched, work: &mut Work) {
        for name in &touched.groups {
            let slot = self.group_idx(name).map(|g| g.0 as usize);
            match (tenant.group(name), slot) {
                (Some(_), Some(slot)) => self.refresh_group_roles(tenant, slot, work),
                (Some(model), None) => {
                    let name: Arc<str> = Arc::from(name.as_str());
                    let roles = resolve_roles(&self.derived.roles, &model.roles);
                    let slot = self.groups.push(GroupInfo {
                        name: name.clone(),
                        roles,
                        members: UserSet::new(),
                    });
                    self.group_by_name.insert(name, GroupIdx(slot as u32));
                    self.derived.group_promotions.push(0);
                    self.derived.group_epoch += 1;
                }
                (None, Some(slot)) => {
                    if let Some(group) = self.groups.get(slot) {
                        work.users.extend(group.members.iter().map(|u| u.0));
                    }
                    self.groups.set(slot, None);
                    self.group_by_name.remove(name.as_str());
                    self.derived.group_epoch += 1;
                }
                (None, None) => {}
            }
        }
    }

    /// Created users get a slot (their rights are computed last), deleted ones leave the
    /// reverse indices and become tombstones.
    fn apply_user_slots(&mut self, tenant: &Tenant, touched: &Touched, work: &mut Work) {
        for id in &touched.users {
            match (tenant.user(id), self.user_idx(id)) {
                (Some(_), Some(idx)) => work.users.push(idx.0),
                (Some(model), None) => {
                    let info = self.user_info(
                        self,
                        &User {
                            roles: Vec::new(),
                            groups: Vec::new(),
                            ..model.clone()
                        },
                        None,
                    );
                    let slot = self.users.push(info);
                    self.user_by_id.insert(Arc::from(id.as_str()), UserIdx(slot as u32));
                    self.derived.user_promotions.push(0);
                    work.users.push(slot as u32);
                }
                (None, Some(idx)) => {
                    if let Some(old) = self.users.get(idx.0 as usize).cloned() {
                        self.reindex_user(idx, Some(&old.rights), None);
                    }
                    self.users.set(idx.0 as usize, None);
                    self.user_by_id.remove(id.as_str());
                }
                (None, None) => {}
            }
        }
    }

    /// Moves a user between groups' member sets and roles' holder sets.
    fn reindex_user(&mut self, user: UserIdx, old: Option<&TenantRights>, new: Option<&TenantRights>) {
        let (old_groups, new_groups) = (groups_of(old), groups_of(new));
        if old_groups != new_groups {
            let (old_groups, new_groups) = (old_groups.to_vec(), new_groups.to_vec());
            for g in old_groups.iter().filter(|g| !new_groups.contains(g)) {
                if let Some(group) = self.groups.get_mut(g.0 as usize) {
                    group.members.remove(&user);
                }
            }
            for g in new_groups.iter().filter(|g| !old_groups.contains(g)) {
                if let Some(group) = self.groups.get_mut(g.0 as usize) {
                    group.members.insert(user);
                }
            }
        }
        if !names_of(old).eq(names_of(new)) {
            let roles = |rights: Option<&TenantRights>| -> Vec<Arc<str>> { names_of(rights).cloned().collect() };
            let (old_roles, new_roles) = (roles(old), roles(new));
            let holders = &mut self.derived.direct_holders;
            for name in old_roles.iter().filter(|r| !new_roles.contains(r)) {
                if let Some(set) = holders.get_mut(name) {
                    set.remove(&user);
                    if set.is_empty() {
                        holders.remove(name);
                    }
                }
            }
            for name in new_roles.iter().filter(|r| !old_roles.contains(r)) {
                holders.entry(name.clone()).or_default().insert(user);
            }
        }
    }

    /// Moves the counts towards Basic promotion from `old` assignments or shares to `new` ones,
    /// and marks the users whose promotion may flip (net changes only: an assignment rewritten
    /// as it was marks nobody).
    fn count_promotions(&mut self, old: Entries<'_>, new: Entries<'_>, work: &mut Work) {
        fn net<K: Copy + Ord>(old: &[(K, SpaceRoleSet)], new: &[(K, SpaceRoleSet)]) -> Vec<(K, i64)> {
            let mut deltas: Vec<(K, i64)> = old.iter().filter(|(_, r)| promotes(*r)).map(|(k, _)| (*k, -1)).collect();
            deltas.extend(new.iter().filter(|(_, r)| promotes(*r)).map(|(k, _)| (*k, 1)));
            deltas.sort_unstable_by_key(|(k, _)| *k);
            deltas.dedup_by(|later, earlier| {
                if later.0 == earlier.0 {
                    earlier.1 += later.1;
                    true
                } else {
                    false
                }
            });
            deltas.retain(|(_, d)| *d != 0);
            deltas
        }
        let flips = |counts: &mut CowVec<u32>, slot: usize, delta: i64| -> bool {
            let Some(count) = counts.get_mut(slot) else { return false };
            let before = *count;
            *count = (i64::from(before) + delta).max(0) as u32;
            (before == 0) != (*count == 0)
        };
        for (user, delta) in net(old.0, new.0) {
            if flips(&mut self.derived.user_promotions, user.0 as usize, delta) {
                work.users.push(user.0);
            }
        }
        for (group, delta) in net(old.1, new.1) {
            if flips(&mut self.derived.group_promotions, group.0 as usize, delta) {
                work.flipped_groups.push(group.0);
            }
        }
    }

    fn apply_spaces(&mut self, tenant: &Tenant, touched: &Touched, work: &mut Work) {
        for id in &touched.spaces {
            let slot = self.space_idx(id).map(|s| s.0 as usize);
            let old = slot.and_then(|s| self.spaces.get(s)).cloned();
            let info = tenant.space(id).and_then(|space| space_info(self, space));
            let none: Entries<'_> = (&[], &[]);
            let old_entries = old.as_ref().map_or(none, |s| (&s.user_roles[..], &s.group_roles[..]));
            let new_entries = info.as_ref().map_or(none, |s| (&s.user_roles[..], &s.group_roles[..]));
            self.count_promotions(old_entries, new_entries, work);
            // The owner counts as holding every assignable role of the space.
            let owner_entry = |s: &SpaceInfo| s.owner.map(|owner| [(owner, s.space_type.assignable_roles())]);
            let old_owner = old.as_ref().and_then(owner_entry);
            let new_owner = info.as_ref().and_then(owner_entry);
            let old_owner_entries: Entries<'_> = (old_owner.as_ref().map_or(&[][..], |e| &e[..]), &[]);
            let new_owner_entries: Entries<'_> = (new_owner.as_ref().map_or(&[][..], |e| &e[..]), &[]);
            self.count_promotions(old_owner_entries, new_owner_entries, work);
            match (info, slot) {
                (Some(info), Some(slot)) => self.spaces.set(slot, Some(info)),
                (Some(info), None) => {
                    let id = info.id.clone();
                    let slot = self.spaces.push(info);
                    self.space_by_id.insert(id, SpaceIdx(slot as u32));
                }
                (None, Some(slot)) => {
                    self.spaces.set(slot, None);
                    self.space_by_id.remove(id.as_str());
                }
                (None, None) => {}
            }
        }
    }

    /// Touched items: new ones get a slot, deleted ones a tombstone, the rest are recomputed
    /// with their sources and shares.
    fn apply_content(&mut self, tenant: &Tenant, touched: &Touched, work: &mut Work) {
        if touched.content.is_empty() {
            return;
        }
        // Slots first: an item may consume another created in the same batch.
        for id in &touched.content {
            match (tenant.content_item(id).and_then(|item| content_info(self, item)), self.content_idx(id)) {
                (Some(info), None) => {
                    let slot = self.content.push(info);
                    self.content_hot.push(ContentHot::TOMBSTONE);
                    self.content_by_id.insert(Arc::from(id.as_str()), ContentIdx(slot as u32));
                }
                (None, Some(idx)) => {
                    let slot = idx.0 as usize;
                    if let Some(old) = self.content.get(slot).cloned() {
                        self.count_promotions((&old.user_shares, &old.group_shares), (&[], &[]), work);
                    }
                    self.content.set(slot, None);
                    self.content_hot.set(slot, ContentHot::TOMBSTONE);
                    self.content_by_id.remove(id.as_str());
                }
                _ => {}
            }
        }
        for id in &touched.content {
            let Some(idx) = self.content_idx(id) else { continue };
            let slot = idx.0 as usize;
            let Some(mut info) = tenant.content_item(id).and_then(|item| content_info(self, item)) else {
                continue;
            };
            info.sources = tenant.uses.of(id).filter_map(|u| self.content_idx(&u.source)).collect();
            for share in tenant.shares.of(id) {
                add_share(self, &mut info, share);
            }
            info.user_shares = sorted(info.user_shares);
            info.group_shares = sorted(info.group_shares);
            // A new item's slot holds its placeholder, which has no shares.
            let old = self.content.get(slot).cloned();
            let (old_users, old_groups) = old.as_ref().map_or((&[][..], &[][..]), |o| (&o.user_shares[..], &o.group_shares[..]));
            self.count_promotions((old_users, old_groups), (&info.user_shares, &info.group_shares), work);
            self.content_hot.set(slot, ContentHot::of(&info));
            self.content.set(slot, Some(info));
        }
    }

    fn apply_clients(&mut self, tenant: &Tenant, touched: &Touched) {
        for id in &touched.clients {
            let info = tenant.oauth_client(id).map(|c| ClientInfo {
                id: Arc::from(c.id.as_str()),
                scopes: ScopeSet::new(c.scopes.iter().cloned()),
            });
            match (info, self.client_idx(id)) {
                (Some(info), Some(idx)) => self.clients.set(idx.0 as usize, Some(info)),
                (Some(info), None) => {
                    let slot = self.clients.push(info);
                    self.client_by_id.insert(Arc::from(id.as_str()), ClientIdx(slot as u32));
                }
                (None, Some(idx)) => {
                    self.clients.set(idx.0 as usize, None);
                    self.client_by_id.remove(id.as_str());
                }
                (None, None) => {}
            }
        }
    }

    /// Recomputes the rights of every user marked on the way (all of them after a tenant-wide
    /// change), keeping the member and holder indices in step.
    fn apply_users(&mut self, tenant: &Tenant, work: &mut Work) {
        // A group whose promotion flipped changes only its Basic members.
        for g in std::mem::take(&mut work.flipped_groups) {
            if let Some(group) = self.groups.get(g as usize) {
                let basic = group
                    .members
                    .iter()
                    .filter(|u| self.users.get(u.0 as usize).is_some_and(|i| i.declared_entitlement == Entitlement::Basic));
                work.users.extend(basic.map(|u| u.0).collect::<Vec<_>>());
            }
        }
        if work.all_users {
            // Every row changes: build the table anew rather than copy it leaf by leaf.
            let mut rows = Vec::with_capacity(self.users.len());
            let mut moved = Vec::new();
            for (slot, old) in self.users.slots().enumerate() {
                let Some((old, model)) = old.and_then(|old| tenant.user(&old.id).map(|model| (old, model))) else {
                    rows.push(None);
                    continue;
                };
                let info = self.user_info_with_entitlement(slot, model, old);
                if !Arc::ptr_eq(&old.rights.groups, &info.rights.groups) || !direct_role_names(&old.rights).eq(direct_role_names(&info.rights)) {
                    moved.push((slot, old.rights.clone(), info.rights.clone()));
                }
                rows.push(Some(info));
            }
            self.users = Rows::from_slots(rows);
            for (slot, old, new) in moved {
                self.reindex_user(UserIdx(slot as u32), Some(&old), Some(&new));
            }
            return;
        }
        let mut slots = std::mem::take(&mut work.users);
        slots.sort_unstable();
        slots.dedup();
        for slot in slots {
            let Some(old) = self.users.get(slot as usize) else { continue };
            let Some(model) = tenant.user(&old.id) else { continue };
            let info = self.user_info_with_entitlement(slot as usize, model, old);
            let old_rights = old.rights.clone();
            self.reindex_user(UserIdx(slot), Some(&old_rights), Some(&info.rights));
            self.users.set(slot as usize, Some(info));
        }
    }

    fn user_info_with_entitlement(&self, slot: usize, model: &User, old: &UserInfo) -> UserInfo {
        let mut info = self.user_info(self, model, Some(old));
        let own = self.derived.user_promotions.get(slot).copied().unwrap_or(0);
        info.rights.entitlement = self.entitlement(&info, own);
        info
    }

    /// Which group names resolve to which indices here (see [`crate::Sessions::rebind`]).
    pub fn group_binding(&self) -> GroupBinding {
        GroupBinding {
            lineage: self.derived.lineage,
            epoch: self.derived.group_epoch,
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

    /// A user. Panics on an index that is not a live user of this snapshot (indices from
    /// [`Snapshot::user_idx`] always are).
    pub fn user(&self, idx: UserIdx) -> &UserInfo {
        self.users.get(idx.0 as usize).expect("a live user index")
    }

    /// A space. Panics on an index that is not a live space of this snapshot.
    pub fn space(&self, idx: SpaceIdx) -> &SpaceInfo {
        self.spaces.get(idx.0 as usize).expect("a live space index")
    }

    /// A content item. Panics on an index that is not a live item of this snapshot.
    pub fn content_item(&self, idx: ContentIdx) -> &ContentInfo {
        self.content.get(idx.0 as usize).expect("a live content index")
    }

    /// A group. Panics on an index that is not a live group of this snapshot.
    pub fn group(&self, idx: GroupIdx) -> &GroupInfo {
        self.groups.get(idx.0 as usize).expect("a live group index")
    }

    /// An OAuth client. Panics on an index that is not a live client of this snapshot.
    pub fn client(&self, idx: ClientIdx) -> &ClientInfo {
        self.clients.get(idx.0 as usize).expect("a live client index")
    }

    /// Adds to `out` every user holding `capability` at admin level through a role, directly
    /// or through a group, found through the reverse indices (each role's direct holders,
    /// each group's members); false, adding nothing, when Everyone's roles give it to every user.
    pub(crate) fn admin_cap_holders(&self, capability: portcullis_model::Capability, out: &mut Vec<UserIdx>) -> bool {
        let d = &self.derived;
        if d.everyone.iter().any(|role| role.admin_caps.contains(capability)) {
            return false;
        }
        for (name, role) in d.roles.iter() {
            if role.admin_caps.contains(capability)
                && let Some(holders) = d.direct_holders.get(name)
            {
                out.extend(holders.iter().copied());
            }
        }
        for (_, group) in self.groups.iter() {
            if group.roles.iter().any(|role| role.admin_caps.contains(capability)) {
                out.extend(group.members.iter().copied());
            }
        }
        true
    }
}

fn space_info(ids: &impl Ids, space: &Space) -> Option<SpaceInfo> {
    let owner = match &space.owner {
        Some(owner) => Some(ids.user(owner)?),
        None => None,
    };
    let mut user_roles = Vec::new();
    let mut group_roles = Vec::new();
    for member in &space.members {
        match &member.assignee {
            Assignee::User(id) => user_roles.extend(ids.user(id).map(|u| (u, member.roles))),
            Assignee::Group(name) => group_roles.extend(ids.group(name).map(|g| (g, member.roles))),
        }
    }
    Some(SpaceInfo {
        id: Arc::from(space.id.as_str()),
        name: Arc::from(space.name.as_str()),
        space_type: space.space_type,
        owner,
        user_roles: sorted(user_roles).into(),
        group_roles: sorted(group_roles).into(),
        export_only_through: space
            .export_only_through
            .as_ref()
            .map(|roles| roles.iter().map(|r| Arc::from(r.as_str())).collect()),
    })
}

/// An item without its sources and shares; `None` when its owner or space is unknown.
fn content_info(ids: &impl Ids, item: &Content) -> Option<ContentInfo> {
    let owner = match &item.owner {
        Some(owner) => Some(ids.user(owner)?),
        None => None,
    };
    let space = match &item.space {
        Some(space_id) => Some(ids.space(space_id)?),
        None => None,
    };
    Some(ContentInfo {
        id: Arc::from(item.id.as_str()),
        name: Arc::from(item.name.as_str()),
        kind: item.kind,
        space,
        owner,
        sources: Vec::new(),
        user_shares: Vec::new(),
        group_shares: Vec::new(),
    })
}

/// Adds one share to an item (unsorted; the caller sorts).
fn add_share(ids: &impl Ids, item: &mut ContentInfo, share: &Share) {
    match &share.assignee {
        Assignee::User(id) => item.user_shares.extend(ids.user(id).map(|u| (u, share.roles))),
        Assignee::Group(name) => item.group_shares.extend(ids.group(name).map(|g| (g, share.roles))),
    }
}

/// What [`Snapshot::build_users`] gives back.
type BuiltUsers = (Vec<UserInfo>, Vec<Vec<UserIdx>>, FxHashMap<Arc<str>, Vec<UserIdx>>, IdMap<UserIdx>);

/// Every item of the tenant without its links, and per position in the model's content table
/// the item's index (`None` for an item skipped: its owner or space is unknown). Ids resolve
/// through the model's own index of its content and this list, so a start builds no map of a
/// million ids just to link the items.
fn content_items(ids: &BuildIds, tenant: &Tenant) -> (Vec<ContentInfo>, Vec<Option<ContentIdx>>) {
    let mut content = Vec::with_capacity(tenant.content.len());
    let mut by_position = Vec::with_capacity(tenant.content.len());
    for item in &tenant.content {
        let info = content_info(ids, item);
        by_position.push(info.is_some().then_some(ContentIdx(content.len() as u32)));
        content.extend(info);
    }
    (content, by_position)
}

/// Adds every item's sources and (sorted) shares; returns the items' hot entries.
fn link_content(ids: &BuildIds, tenant: &Tenant, by_position: &[Option<ContentIdx>], content: &mut [ContentInfo]) -> CowVec<ContentHot> {
    let item = |id: &str| tenant.content.position(id).and_then(|p| by_position[p]);
    for use_ in &tenant.uses {
        if let (Some(consumer), Some(source)) = (item(&use_.consumer), item(&use_.source)) {
            content[consumer.0 as usize].sources.push(source);
        }
    }
    for share in &tenant.shares {
        let Some(item) = item(&share.resource) else { continue };
        add_share(ids, &mut content[item.0 as usize], share);
    }
    for item in content.iter_mut() {
        item.user_shares = sorted(std::mem::take(&mut item.user_shares));
        item.group_shares = sorted(std::mem::take(&mut item.group_shares));
    }
    content.iter().map(ContentHot::of).collect()
}

/// Id → index resolution: the snapshot's persistent maps, or plain hash maps while building.
trait Ids {
    fn user(&self, id: &str) -> Option<UserIdx>;
    fn group(&self, name: &str) -> Option<GroupIdx>;
    fn space(&self, id: &str) -> Option<SpaceIdx>;
}

impl Ids for Snapshot {
    fn user(&self, id: &str) -> Option<UserIdx> {
        self.user_idx(id)
    }
    fn group(&self, name: &str) -> Option<GroupIdx> {
        self.group_idx(name)
    }
    fn space(&self, id: &str) -> Option<SpaceIdx> {
        self.space_idx(id)
    }
}

fn with_capacity<V>(n: usize) -> FxHashMap<Arc<str>, V> {
    FxHashMap::with_capacity_and_hasher(n, Default::default())
}

struct BuildIds {
    users: FxHashMap<Arc<str>, UserIdx>,
    groups: FxHashMap<Arc<str>, GroupIdx>,
    spaces: FxHashMap<Arc<str>, SpaceIdx>,
}

impl Ids for BuildIds {
    fn user(&self, id: &str) -> Option<UserIdx> {
        self.users.get(id).copied()
    }
    fn group(&self, name: &str) -> Option<GroupIdx> {
        self.groups.get(name).copied()
    }
    fn space(&self, id: &str) -> Option<SpaceIdx> {
        self.spaces.get(id).copied()
    }
}

/// Assignments or shares to users and to groups.
type Entries<'a> = (&'a [(UserIdx, SpaceRoleSet)], &'a [(GroupIdx, SpaceRoleSet)]);

/// What one `apply` still has to recompute.
#[derive(Default)]
struct Work {
    /// User slots whose rights to recompute (duplicates allowed).
    users: Vec<u32>,
    /// Every user's.
    all_users: bool,
    /// Groups whose Basic promotion flipped.
    flipped_groups: Vec<u32>,
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
