//! What-if: the exact difference in effective permissions a proposed set of changes would make,
//! worked out without making them.
//!
//! [`propose`] applies the changes to the model through the one write path
//! ([`Tenant::apply_all`]: the model's own checks, all or none), derives the proposed snapshot
//! from the current one with [`Snapshot::apply`] (structural sharing: it copies only what the
//! changes touched), and undoes the changes, leaving the model as it was. [`diff`] then compares
//! the two snapshots, deciding again only the pairs the changes can have moved:
//!
//! - the rows that differ are found by pointer: a leaf of the users, spaces or content table
//!   that the proposed snapshot still shares with the current one holds the same rows
//!   ([`crate::cow::CowVec::unshared`]), so finding them costs what `apply` copied;
//! - a user whose rights differ is asked every tenant-level action; when what space and content
//!   decisions read of the rights moved too (status, entitlement, groups, the download and
//!   sharing permissions, the admin capabilities that reach spaces without a role), also the
//!   spaces they own, hold a role in (directly or through a group), the items in those spaces,
//!   their personal items and the items shared with them or their groups — and, when their
//!   admin capabilities moved, every space of the types those reach — for the actions what
//!   moved can change;
//! - a space whose row differs is asked for the users whose standing in it moved (owner,
//!   individual roles, the members of groups whose roles moved; every possible holder when the
//!   space is created or deleted), on the space and on its items; a space whose export mark
//!   moved, for every candidate of each of its items, on the data-leaving actions;
//! - a user who gains or loses a role some export mark names is asked the data-leaving actions
//!   on the items they reach as for a change of their download permission;
//! - an item whose row differs (moved, shared, created, deleted, new sources) is asked for every
//!   user who could hold a grant on it before or after ([`crate::candidate_users`]);
//! - a reload runs as its user with every consumed source: each flip of `app:read` or
//!   `data-connection:use` found above is followed to the apps consuming that source;
//! - `adminsCanOpenAppsWithoutSpaceRole` moves `app:read` of the holders of admin roles.
//!
//! Each pair is decided on both snapshots through an API key (the user's rights as they are,
//! as a login now would freeze them); a flip is explained on the side that allows, and its path
//! (role, group, space role, share, ...) is the explanation's tokens. INVARIANT: the result
//! equals (every allow after) minus (every allow before) and the other way round, for every
//! user × action × resource (`tests/it/whatif.rs` checks it on random tenants and change sets).

use std::collections::BTreeMap;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use rustc_hash::{FxHashMap, FxHashSet, FxHasher};

use portcullis_model::change::{Change, Touched};
use portcullis_model::tenant::{Assignee, Tenant};
use portcullis_model::tenant_ops::OpError;
use portcullis_model::{Action, CapSet, Capability, Channel, ContentKind, ResourceKind, SpaceType};

use crate::decide::{allows, decide};
use crate::explain::{Explanation, Reason, Via};
use crate::list::candidate_users;
use crate::request::{Request, Resource};
use crate::snapshot::{ContentHot, ContentIdx, ContentInfo, GroupIdx, Snapshot, SpaceIdx, SpaceInfo, UserIdx, UserInfo};

/// A proposed change the model refused; nothing was applied.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("change {index} (`{kind}`) was refused: {error}; nothing was applied (fix or drop that change and ask again)")]
pub struct WhatIfError {
    /// Its position in the proposal, from 0.
    pub index: usize,
    /// Its kind (`assign-role`, ...).
    pub kind: &'static str,
    /// The model's reason.
    pub error: OpError,
}

/// One user gaining or losing one action on one resource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessChange {
    /// The user's id.
    pub user: Arc<str>,
    /// The action.
    pub action: Action,
    /// The space or item's id; `None` for a tenant-level action.
    pub resource: Option<Arc<str>>,
    /// Gained (allowed after, denied before) or lost.
    pub gained: bool,
    /// How the allowing side allows it: its explanation's tokens (`role:Exporters group:finance`).
    pub path: Arc<str>,
}

/// Changes that share an action or a path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessGroup {
    /// The action's name or the path.
    pub key: String,
    /// How many are gained.
    pub gained: usize,
    /// How many are lost.
    pub lost: usize,
    /// The first few, as indices into [`AccessDiff::changes`].
    pub samples: Vec<usize>,
}

/// What the diff decided, to show that it followed the change and not the tenant.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WhatIfCost {
    /// Users whose rights differ.
    pub users: usize,
    /// Spaces whose row differs.
    pub spaces: usize,
    /// Items whose row differs.
    pub items: usize,
    /// (user, action, resource) pairs decided on both sides.
    pub pairs: usize,
}

/// The difference in effective permissions between two snapshots.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AccessDiff {
    /// Every gain and loss, by user id, action and resource id.
    pub changes: Vec<AccessChange>,
    /// How many are gained.
    pub gained: usize,
    /// How many are lost.
    pub lost: usize,
    /// Grouped by action, in the catalogue's order.
    pub by_action: Vec<AccessGroup>,
    /// Grouped by path, the largest first.
    pub by_path: Vec<AccessGroup>,
    /// What was decided.
    pub cost: WhatIfCost,
}

/// How many samples each group keeps.
pub const SAMPLES: usize = 5;

impl AccessDiff {
    /// Keeps only the changes `keep` accepts, counted and grouped again (access-diff's
    /// `users`, `actions` and `resources` filters); the cost stays what was decided.
    pub fn retain(self, keep: impl FnMut(&AccessChange) -> bool) -> AccessDiff {
        let mut changes = self.changes;
        changes.retain(keep);
        finish(changes, self.cost)
    }
}

/// Applies `changes` to `tenant` through the one write path, derives the snapshot they would
/// give from `current` (which must be `tenant`'s), and undoes them: `tenant` is left exactly as
/// it was, refused or not. The proposed snapshot shares every untouched row with `current`.
pub fn propose(tenant: &mut Tenant, current: &Snapshot, changes: &[Change]) -> Result<Snapshot, WhatIfError> {
    let applied = tenant.apply_all(changes).map_err(|(index, error)| WhatIfError {
        index,
        kind: changes.get(index).map_or("change", Change::kind),
        error,
    })?;
    let mut touched = Touched::default();
    for done in &applied {
        touched.merge(done.touched.clone());
    }
    let proposed = current.apply(tenant, &touched, current.revision);
    for done in applied.into_iter().rev() {
        tenant.undo(done.undo);
    }
    Ok(proposed)
}

/// The exact difference `changes` would make to `tenant`, whose snapshot is `current`; the
/// tenant is left as it was ([`propose`], then [`diff`]).
pub fn what_if(tenant: &mut Tenant, current: &Snapshot, changes: &[Change]) -> Result<AccessDiff, WhatIfError> {
    let proposed = propose(tenant, current, changes)?;
    Ok(diff(tenant, current, &proposed))
}

/// Capabilities of the user level that space and content decisions read (the requirements).
const RESOURCE_USER_CAPS: CapSet = CapSet::of(&[Capability::ExportData, Capability::ExportImage, Capability::ShareAppsFineGrained]);
/// Capabilities of the admin level that space and content decisions read (admins without a role).
const RESOURCE_ADMIN_CAPS: CapSet = CapSet::of(&[Capability::AdminAnalyticsSpaces, Capability::AdminDataSpaces]);
/// The actions admins without a space role may take (`decide::admin_without_role`).
const ADMIN_ACTIONS: &[Action] = &[
    Action::SpaceRead,
    Action::SpaceUpdate,
    Action::SpaceDelete,
    Action::SpaceManageMembers,
    Action::SpaceChangeOwner,
    Action::AppRead,
    Action::AppDelete,
    Action::AppChangeOwner,
];

/// The actions (as a bit set over [`Action::index`]) whose space and content decisions a
/// user's change of rights can move, and whether admin reach must be searched.
#[derive(Debug, Clone, Copy, Default)]
struct Reach {
    actions: u64,
    /// Search the spaces the user belongs to, their personal and shared items.
    member: bool,
    /// Search every space of the types the user's admin roles reach, before or after.
    admin: bool,
}

impl Reach {
    fn all() -> Reach {
        Reach {
            actions: u64::MAX,
            member: true,
            admin: true,
        }
    }
    fn add(&mut self, action: Action) {
        self.actions |= 1 << action.index();
    }
    fn has(self, action: Action) -> bool {
        self.actions & (1 << action.index()) != 0
    }
    fn merge(&mut self, other: Reach) {
        self.actions |= other.actions;
        self.member |= other.member;
        self.admin |= other.admin;
    }
}

fn sorted_groups(info: &UserInfo) -> Vec<GroupIdx> {
    let mut groups = info.rights.groups.to_vec();
    groups.sort_unstable();
    groups
}

/// What a change of a user's row can move in space and content decisions.
fn reach_of(before: Option<&UserInfo>, after: Option<&UserInfo>) -> Option<Reach> {
    let (Some(b), Some(a)) = (before, after) else {
        return Some(Reach::all());
    };
    if b.status != a.status {
        return Some(Reach::all());
    }
    let mut reach = Reach::default();
    if b.rights.entitlement != a.rights.entitlement || sorted_groups(b) != sorted_groups(a) {
        // User paths read both; the admin path reads neither.
        reach.actions = u64::MAX;
        reach.member = true;
    }
    let user_moved = (b.rights.user_caps.0 ^ a.rights.user_caps.0) & RESOURCE_USER_CAPS.0;
    for (cap, action) in [
        (Capability::ExportData, Action::AppExportData),
        (Capability::ExportImage, Action::AppExportImage),
        (Capability::ShareAppsFineGrained, Action::AppShare),
    ] {
        if user_moved & cap.bit().0 != 0 {
            reach.add(action);
            reach.member = true;
        }
    }
    if (b.rights.admin_caps.0 ^ a.rights.admin_caps.0) & RESOURCE_ADMIN_CAPS.0 != 0 {
        for &action in ADMIN_ACTIONS {
            reach.add(action);
        }
        reach.admin = true;
    }
    (reach.actions != 0).then_some(reach)
}

fn tenant_rights_moved(before: Option<&UserInfo>, after: Option<&UserInfo>) -> bool {
    match (before, after) {
        (Some(b), Some(a)) => b.status != a.status || b.rights.user_caps != a.rights.user_caps || b.rights.admin_caps != a.rights.admin_caps,
        (None, None) => false,
        _ => true,
    }
}

fn same_space(a: &SpaceInfo, b: &SpaceInfo) -> bool {
    a.id == b.id
        && a.space_type == b.space_type
        && a.owner == b.owner
        && a.user_roles == b.user_roles
        && a.group_roles == b.group_roles
        && a.export_only_through == b.export_only_through
}

/// The names of the roles a user holds on any path, sorted, without repeats (what an export
/// mark reads of the rights).
fn held_roles(info: &UserInfo) -> Vec<&str> {
    let mut names: Vec<&str> = info.rights.assignments.iter().map(|a| &*a.role.name).collect();
    names.sort_unstable();
    names.dedup();
    names
}

/// The data-leaving actions: what an export mark, or a change of the roles it names, moves.
fn data_leaving() -> Reach {
    let mut reach = Reach {
        member: true,
        ..Reach::default()
    };
    for &action in Action::ALL.iter().filter(|a| a.is_data_leaving()) {
        reach.add(action);
    }
    reach
}

/// Every role name an export mark names, on either side (a pass over the spaces, made only when
/// a user's held roles moved).
fn marked_roles(before: &Snapshot, after: &Snapshot) -> FxHashSet<Arc<str>> {
    let mut names = FxHashSet::default();
    for snapshot in [before, after] {
        for (_, space) in snapshot.spaces.iter() {
            names.extend(space.export_only_through.iter().flat_map(|roles| roles.iter().cloned()));
        }
    }
    names
}

fn same_item(a: &ContentInfo, b: &ContentInfo) -> bool {
    a.id == b.id
        && a.kind == b.kind
        && a.space == b.space
        && a.owner == b.owner
        && a.sources == b.sources
        && a.user_shares == b.user_shares
        && a.group_shares == b.group_shares
}

/// The actions taken on a kind of resource.
fn actions_on(kind: ResourceKind) -> impl Iterator<Item = Action> {
    Action::ALL.iter().copied().filter(move |a| a.resource_kind() == kind)
}

fn item_kind(kind: ContentKind) -> ResourceKind {
    match kind {
        ContentKind::App => ResourceKind::App,
        ContentKind::DataConnection => ResourceKind::DataConnection,
    }
}

/// Which admin capability reaches a space type without a role.
fn admin_cap_for(space_type: SpaceType) -> Capability {
    match space_type {
        SpaceType::Shared | SpaceType::Managed => Capability::AdminAnalyticsSpaces,
        SpaceType::Data => Capability::AdminDataSpaces,
    }
}

/// A decided pair, for not deciding it twice.
type Key = (u32, u8, u8, u32);

fn key(user: UserIdx, action: Action, resource: Resource) -> Key {
    let (kind, idx) = match resource {
        Resource::Tenant => (0, 0),
        Resource::Space(s) => (1, s.0),
        Resource::Content(c) => (2, c.0),
    };
    (user.0, action.index() as u8, kind, idx)
}

struct Differ<'a> {
    before: &'a Snapshot,
    after: &'a Snapshot,
    seen: FxHashSet<Key>,
    changes: Vec<AccessChange>,
    /// `app:read` / `data-connection:use` flips, to follow to the apps that consume the source.
    use_flips: Vec<(UserIdx, ContentIdx)>,
    /// Paths already written out, by a hash of their explanation: most flips share a few.
    paths: FxHashMap<u64, Vec<(Explanation, Arc<str>)>>,
    /// The path of a content decision that reads no item of its own, by what it reads instead.
    by_place: FxHashMap<Place, Arc<str>>,
}

/// What the explanation of a content action other than a reload reads of an item without
/// shares: its space (or none, personal) and whether the user owns it; with the side, the user
/// and the action, it decides the explanation.
type Place = (bool, u32, u8, u32, bool);

impl Differ<'_> {
    fn user_id(&self, user: UserIdx) -> Option<Arc<str>> {
        let slot = user.0 as usize;
        self.after.users.get(slot).or_else(|| self.before.users.get(slot)).map(|u| u.id.clone())
    }

    fn resource_id(&self, resource: Resource) -> Option<Arc<str>> {
        let id = |s: &Snapshot| match resource {
            Resource::Tenant => None,
            Resource::Space(space) => s.spaces.get(space.0 as usize).map(|i| i.id.clone()),
            Resource::Content(item) => s.content.get(item.0 as usize).map(|i| i.id.clone()),
        };
        id(self.after).or_else(|| id(self.before))
    }

    /// Decides one pair on both sides and records a flip.
    fn check(&mut self, user: UserIdx, action: Action, resource: Resource) {
        if !self.seen.insert(key(user, action, resource)) {
            return;
        }
        let was = fits(self.before, action, resource) && allows(self.before, user, Channel::ApiKey, None, action, resource);
        let is = fits(self.after, action, resource) && allows(self.after, user, Channel::ApiKey, None, action, resource);
        if was == is {
            return;
        }
        let side = if is { self.after } else { self.before };
        let request = Request {
            user,
            channel: Channel::ApiKey,
            session: None,
            action,
            resource,
            explain: true,
        };
        let place = match resource {
            Resource::Content(item) if action != Action::AppReload => side
                .content
                .get(item.0 as usize)
                .filter(|info| info.user_shares.is_empty() && info.group_shares.is_empty())
                .map(|info| {
                    (
                        is,
                        user.0,
                        action.index() as u8,
                        info.space.map_or(u32::MAX, |s| s.0),
                        info.owner == Some(user),
                    )
                }),
            _ => None,
        };
        let path = match place.and_then(|p| self.by_place.get(&p)) {
            Some(path) => path.clone(),
            None => {
                let path = self.path_of(decide(side, &request).explanation);
                if let Some(place) = place {
                    self.by_place.insert(place, path.clone());
                }
                path
            }
        };
        let (Some(user_id), resource_id) = (self.user_id(user), self.resource_id(resource)) else {
            return;
        };
        if let (Action::AppRead | Action::DataConnectionUse, Resource::Content(item)) = (action, resource) {
            self.use_flips.push((user, item));
        }
        self.changes.push(AccessChange {
            user: user_id,
            action,
            resource: resource_id,
            gained: is,
            path,
        });
    }

    /// The explanation's tokens, written once per distinct explanation.
    fn path_of(&mut self, explanation: Explanation) -> Arc<str> {
        let mut hasher = FxHasher::default();
        for reason in &explanation.reasons {
            hash_reason(reason, &mut hasher);
        }
        let known = self.paths.entry(hasher.finish()).or_default();
        if let Some((_, path)) = known.iter().find(|(e, _)| *e == explanation) {
            return path.clone();
        }
        let tokens = explanation.tokens();
        let path: Arc<str> = if tokens.is_empty() {
            Arc::from("-")
        } else {
            Arc::from(tokens.join(" "))
        };
        known.push((explanation, path.clone()));
        path
    }

    fn check_item(&mut self, user: UserIdx, item: ContentIdx, reach: Reach) {
        let slot = item.0 as usize;
        // An item deleted and created again under its id in one proposal keeps its slot, and
        // may change kind: the actions of both kinds are asked.
        let (before, after) = (
            self.before.content.get(slot).map(|i| i.kind),
            self.after.content.get(slot).map(|i| i.kind),
        );
        let kinds = [after, before.filter(|k| Some(*k) != after)];
        for kind in kinds.into_iter().flatten() {
            for action in actions_on(item_kind(kind)) {
                if reach.has(action) {
                    self.check(user, action, Resource::Content(item));
                }
            }
        }
    }

    fn check_space(&mut self, user: UserIdx, space: SpaceIdx, reach: Reach) {
        for action in actions_on(ResourceKind::Space) {
            if reach.has(action) {
                self.check(user, action, Resource::Space(space));
            }
        }
    }
}

/// Hashes what tells explanations apart: kinds and values, names by their `Arc` (the snapshot
/// hands out one per name, and a collision only costs a comparison).
fn hash_reason(reason: &Reason, h: &mut FxHasher) {
    let name = |n: &Arc<str>, h: &mut FxHasher| (Arc::as_ptr(n) as *const u8 as usize).hash(h);
    std::mem::discriminant(reason).hash(h);
    match reason {
        Reason::Status(status) => std::mem::discriminant(status).hash(h),
        Reason::UserDefault { capability, granted } => {
            std::mem::discriminant(capability).hash(h);
            granted.hash(h);
        }
        Reason::Role { role, via, capability } => {
            name(role, h);
            hash_via(via, h);
            std::mem::discriminant(capability).hash(h);
        }
        Reason::AdminWithoutSpaceRole { role, via } => {
            name(role, h);
            hash_via(via, h);
        }
        Reason::Setting(setting) => std::mem::discriminant(setting).hash(h),
        Reason::Entitlement(entitlement) => std::mem::discriminant(entitlement).hash(h),
        Reason::SpaceOwner { space } => name(space, h),
        Reason::SpaceRole { space, role, group } => {
            name(space, h);
            std::mem::discriminant(role).hash(h);
            if let Some(group) = group {
                name(group, h);
            }
        }
        Reason::Share { role, group } => {
            std::mem::discriminant(role).hash(h);
            if let Some(group) = group {
                name(group, h);
            }
        }
        Reason::Scope { scope, granted } => {
            scope.hash(h);
            granted.hash(h);
        }
        Reason::Source { id, inner } => {
            name(id, h);
            for reason in &inner.reasons {
                hash_reason(reason, h);
            }
        }
        Reason::ExportOnlyThrough { space, roles, through } => {
            name(space, h);
            roles.len().hash(h);
            if let Some((role, via)) = through {
                role.hash(h);
                hash_via(via, h);
            }
        }
        Reason::Error(text) => text.hash(h),
        Reason::Owner | Reason::NoGrant => {}
    }
}

fn hash_via(via: &Via, h: &mut FxHasher) {
    std::mem::discriminant(via).hash(h);
    match via {
        Via::Group(group) => (Arc::as_ptr(group) as *const u8 as usize).hash(h),
        Via::Setting(setting) => std::mem::discriminant(setting).hash(h),
        Via::Direct | Via::Everyone => {}
    }
}

/// Whether `action` is taken on the kind of thing `resource` is on this side (a request for
/// another kind is refused before any decision, so it is no grant).
fn fits(snapshot: &Snapshot, action: Action, resource: Resource) -> bool {
    match resource {
        Resource::Content(item) => snapshot
            .content
            .get(item.0 as usize)
            .is_some_and(|info| item_kind(info.kind) == action.resource_kind()),
        Resource::Tenant | Resource::Space(_) => true,
    }
}

/// The union of the candidates of a resource on both snapshots; `None`: every user.
fn candidates(before: &Snapshot, after: &Snapshot, resource: Resource) -> Option<Vec<UserIdx>> {
    let mut users = candidate_users(before, resource)?;
    users.extend(candidate_users(after, resource)?);
    users.sort_unstable();
    users.dedup();
    Some(users)
}

fn every_user(before: &Snapshot, after: &Snapshot) -> Vec<UserIdx> {
    (0..before.users.len().max(after.users.len()) as u32).map(UserIdx).collect()
}

/// The users whose standing in a space moved between two versions of its row: old and new
/// owner, changed individual roles, the members (on either side) of groups whose roles moved.
fn moved_in_space(before: &Snapshot, after: &Snapshot, b: &SpaceInfo, a: &SpaceInfo) -> Vec<UserIdx> {
    let mut users = Vec::new();
    if b.owner != a.owner {
        users.extend([b.owner, a.owner].into_iter().flatten());
    }
    let mut entries: BTreeMap<UserIdx, (Option<_>, Option<_>)> = BTreeMap::new();
    for (u, r) in b.user_roles.iter() {
        entries.entry(*u).or_default().0 = Some(*r);
    }
    for (u, r) in a.user_roles.iter() {
        entries.entry(*u).or_default().1 = Some(*r);
    }
    users.extend(entries.into_iter().filter(|(_, (x, y))| x != y).map(|(u, _)| u));
    let mut groups: BTreeMap<GroupIdx, (Option<_>, Option<_>)> = BTreeMap::new();
    for (g, r) in b.group_roles.iter() {
        groups.entry(*g).or_default().0 = Some(*r);
    }
    for (g, r) in a.group_roles.iter() {
        groups.entry(*g).or_default().1 = Some(*r);
    }
    for (g, _) in groups.into_iter().filter(|(_, (x, y))| x != y) {
        for snapshot in [before, after] {
            if let Some(group) = snapshot.groups.get(g.0 as usize) {
                users.extend(group.members.iter().copied());
            }
        }
    }
    users.sort_unstable();
    users.dedup();
    users
}

/// The difference in effective permissions between `before` and `after`, a snapshot derived
/// from it with [`Snapshot::apply`] (or by [`propose`]); `tenant` is the model `before` was
/// built from (it names the apps consuming a source). See the module documentation.
pub fn diff(tenant: &Tenant, before: &Snapshot, after: &Snapshot) -> AccessDiff {
    let mut d = Differ {
        before,
        after,
        seen: FxHashSet::default(),
        changes: Vec::new(),
        use_flips: Vec::new(),
        paths: FxHashMap::default(),
        by_place: FxHashMap::default(),
    };
    let mut cost = WhatIfCost::default();

    // Users whose rights moved: tenant actions now, resources below.
    let mut reach: FxHashMap<UserIdx, Reach> = FxHashMap::default();
    let mut marked: Option<FxHashSet<Arc<str>>> = None;
    for slot in before.users.unshared(&after.users) {
        let (b, a) = (before.users.get(slot), after.users.get(slot));
        let user = UserIdx(slot as u32);
        let same = match (b, a) {
            (Some(b), Some(a)) => {
                b.status == a.status
                    && b.rights.user_caps == a.rights.user_caps
                    && b.rights.admin_caps == a.rights.admin_caps
                    && b.rights.entitlement == a.rights.entitlement
                    && b.rights.groups == a.rights.groups
            }
            (None, None) => true,
            _ => false,
        };
        // The roles an export mark names move the user's data-leaving actions in marked spaces.
        if let (Some(b), Some(a)) = (b, a) {
            let (held_before, held_after) = (held_roles(b), held_roles(a));
            if held_before != held_after {
                let marked = marked.get_or_insert_with(|| marked_roles(before, after));
                let moved = held_before
                    .iter()
                    .filter(|r| !held_after.contains(r))
                    .chain(held_after.iter().filter(|r| !held_before.contains(r)));
                if moved.into_iter().any(|r| marked.contains(*r)) {
                    reach.entry(user).or_default().merge(data_leaving());
                }
            }
        }
        if same {
            continue;
        }
        cost.users += 1;
        if tenant_rights_moved(b, a) {
            for action in actions_on(ResourceKind::Tenant) {
                d.check(user, action, Resource::Tenant);
            }
        }
        if let Some(r) = reach_of(b, a) {
            reach.entry(user).or_default().merge(r);
        }
    }
    // The setting that opens apps to admins without a role moves their `app:read`.
    if before.admins_can_open_apps != after.admins_can_open_apps {
        let mut holders = Vec::new();
        let mut all = false;
        for snapshot in [before, after] {
            for cap in [Capability::AdminAnalyticsSpaces, Capability::AdminDataSpaces] {
                all |= !snapshot.admin_cap_holders(cap, &mut holders);
            }
        }
        if all {
            holders = every_user(before, after);
        }
        for user in holders {
            let entry = reach.entry(user).or_default();
            entry.add(Action::AppRead);
            entry.admin = true;
        }
    }

    // Spaces and items whose rows moved.
    let mut moved_spaces: Vec<(SpaceIdx, Option<Vec<UserIdx>>)> = Vec::new();
    // Spaces whose export mark moved: every candidate of each of their items, for the
    // data-leaving actions.
    let mut moved_marks: Vec<SpaceIdx> = Vec::new();
    for slot in before.spaces.unshared(&after.spaces) {
        let space = SpaceIdx(slot as u32);
        if let (Some(b), Some(a)) = (before.spaces.get(slot), after.spaces.get(slot))
            && b.id == a.id
            && b.export_only_through != a.export_only_through
        {
            moved_marks.push(space);
        }
        let users = match (before.spaces.get(slot), after.spaces.get(slot)) {
            (Some(b), Some(a)) if same_space(b, a) => continue,
            (Some(b), Some(a)) if b.space_type == a.space_type && b.id == a.id => Some(moved_in_space(before, after, b, a)),
            (None, None) => continue,
            _ => candidates(before, after, Resource::Space(space)),
        };
        moved_spaces.push((space, users));
    }
    cost.spaces = moved_spaces.len();
    let mut moved_items = Vec::new();
    for slot in before.content.unshared(&after.content) {
        match (before.content.get(slot), after.content.get(slot)) {
            (Some(b), Some(a)) if same_item(b, a) => continue,
            (None, None) => continue,
            _ => moved_items.push(ContentIdx(slot as u32)),
        }
    }
    cost.items = moved_items.len();

    // Which spaces' items are needed: those of moved spaces, and those the users above reach.
    let user_spaces = spaces_of(before, after, &reach);
    let mut wanted: FxHashSet<u32> = moved_spaces.iter().map(|(s, _)| s.0).collect();
    wanted.extend(user_spaces.values().flatten().map(|s| s.0));
    let admin_types = admin_types(before, after, &reach);
    let wanted_admin = |space: u32| -> bool {
        [before, after].iter().any(|s| {
            s.spaces
                .get(space as usize)
                .is_some_and(|info| admin_types.contains(&admin_cap_for(info.space_type)))
        })
    };
    let owners: FxHashSet<u32> = reach.iter().filter(|(_, r)| r.member).map(|(u, _)| u.0).collect();
    let (space_items, personal) = if wanted.is_empty() && admin_types.is_empty() && owners.is_empty() {
        (FxHashMap::default(), FxHashMap::default())
    } else {
        items_by_space(before, after, |space| wanted.contains(&space) || wanted_admin(space), &owners)
    };

    // The users' side.
    let mut users: Vec<(UserIdx, Reach)> = reach.into_iter().collect();
    users.sort_unstable_by_key(|(u, _)| *u);
    let none: Vec<SpaceIdx> = Vec::new();
    let no_items: Vec<ContentIdx> = Vec::new();
    for &(user, r) in &users {
        let mut spaces: Vec<SpaceIdx> = Vec::new();
        if r.member {
            spaces.extend(user_spaces.get(&user).unwrap_or(&none));
        }
        if r.admin {
            for slot in 0..before.spaces.len().max(after.spaces.len()) as u32 {
                if wanted_admin(slot) && admin_reaches(before, after, user, slot) {
                    spaces.push(SpaceIdx(slot));
                }
            }
        }
        spaces.sort_unstable();
        spaces.dedup();
        for &space in &spaces {
            d.check_space(user, space, r);
            for &item in space_items.get(&space.0).unwrap_or(&no_items) {
                d.check_item(user, item, r);
            }
        }
        if r.member {
            for &item in personal.get(&user.0).unwrap_or(&no_items) {
                d.check_item(user, item, r);
            }
            for item in shared_with(tenant, before, after, user) {
                d.check_item(user, item, r);
            }
        }
    }

    // The spaces' side.
    for (space, users) in moved_spaces {
        let users = users.unwrap_or_else(|| every_user(before, after));
        for &user in &users {
            d.check_space(user, space, Reach::all());
            for &item in space_items.get(&space.0).unwrap_or(&no_items) {
                d.check_item(user, item, Reach::all());
            }
        }
    }
    // The marks' side.
    for space in moved_marks {
        for &item in space_items.get(&space.0).unwrap_or(&no_items) {
            let users = candidates(before, after, Resource::Content(item)).unwrap_or_else(|| every_user(before, after));
            for user in users {
                d.check_item(user, item, data_leaving());
            }
        }
    }
    // The items' side.
    for item in moved_items {
        let users = candidates(before, after, Resource::Content(item)).unwrap_or_else(|| every_user(before, after));
        for user in users {
            d.check_item(user, item, Reach::all());
        }
    }
    // Reloads of the apps consuming a source whose use flipped.
    let flips = std::mem::take(&mut d.use_flips);
    for (user, source) in flips {
        let Some(id) = d.resource_id(Resource::Content(source)) else { continue };
        let consumers: Vec<ContentIdx> = tenant
            .uses
            .of_other(&id)
            .filter_map(|u| before.content_idx(&u.consumer).or_else(|| after.content_idx(&u.consumer)))
            .collect();
        let mut reload = Reach::default();
        reload.add(Action::AppReload);
        for consumer in consumers {
            // Only apps reload; `check_item` asks an item only the actions of its kind.
            d.check_item(user, consumer, reload);
        }
    }
    cost.pairs = d.seen.len();
    finish(d.changes, cost)
}

/// Per user of `reach` who searches their memberships: the spaces they own or hold a role in,
/// directly or through a group, on either side.
fn spaces_of(before: &Snapshot, after: &Snapshot, reach: &FxHashMap<UserIdx, Reach>) -> FxHashMap<UserIdx, Vec<SpaceIdx>> {
    let mut out: FxHashMap<UserIdx, Vec<SpaceIdx>> = FxHashMap::default();
    let members: Vec<UserIdx> = reach.iter().filter(|(_, r)| r.member).map(|(u, _)| *u).collect();
    if members.is_empty() {
        return out;
    }
    let mut by_group: FxHashMap<GroupIdx, Vec<UserIdx>> = FxHashMap::default();
    for &user in &members {
        for snapshot in [before, after] {
            if let Some(info) = snapshot.users.get(user.0 as usize) {
                for g in info.rights.groups.iter() {
                    by_group.entry(*g).or_default().push(user);
                }
            }
        }
    }
    let wanted: FxHashSet<UserIdx> = members.iter().copied().collect();
    for snapshot in [before, after] {
        for (slot, space) in snapshot.spaces.iter() {
            let idx = SpaceIdx(slot as u32);
            if let Some(owner) = space.owner.filter(|owner| wanted.contains(owner)) {
                out.entry(owner).or_default().push(idx);
            }
            for (u, _) in space.user_roles.iter().filter(|(u, _)| wanted.contains(u)) {
                out.entry(*u).or_default().push(idx);
            }
            for (g, _) in space.group_roles.iter() {
                for &u in by_group.get(g).map_or(&[][..], |v| &v[..]) {
                    out.entry(u).or_default().push(idx);
                }
            }
        }
    }
    for spaces in out.values_mut() {
        spaces.sort_unstable();
        spaces.dedup();
    }
    out
}

/// The admin capabilities reaching spaces that some user of `reach` who searches admin reach
/// holds on either side.
fn admin_types(before: &Snapshot, after: &Snapshot, reach: &FxHashMap<UserIdx, Reach>) -> Vec<Capability> {
    let mut caps = CapSet::EMPTY;
    for (user, _) in reach.iter().filter(|(_, r)| r.admin) {
        for snapshot in [before, after] {
            if let Some(info) = snapshot.users.get(user.0 as usize) {
                caps = caps.union(CapSet(info.rights.admin_caps.0 & RESOURCE_ADMIN_CAPS.0));
            }
        }
    }
    caps.iter().collect()
}

fn admin_reaches(before: &Snapshot, after: &Snapshot, user: UserIdx, space: u32) -> bool {
    [before, after].iter().any(|s| {
        let Some(info) = s.spaces.get(space as usize) else { return false };
        let cap = admin_cap_for(info.space_type);
        [before, after]
            .iter()
            .any(|t| t.users.get(user.0 as usize).is_some_and(|u| u.rights.admin_caps.contains(cap)))
    })
}

type ItemLists = FxHashMap<u32, Vec<ContentIdx>>;

/// One pass over the packed item table of both sides: the items of the wanted spaces, and the
/// personal items of the wanted owners.
fn items_by_space(before: &Snapshot, after: &Snapshot, wanted: impl Fn(u32) -> bool, owners: &FxHashSet<u32>) -> (ItemLists, ItemLists) {
    let mut spaces: ItemLists = FxHashMap::default();
    let mut personal: ItemLists = FxHashMap::default();
    let mut memo: FxHashMap<u32, bool> = FxHashMap::default();
    for (n, snapshot) in [before, after].into_iter().enumerate() {
        let mut base = 0usize;
        for leaf in snapshot.content_hot.leaves() {
            for (offset, hot) in leaf.iter().enumerate() {
                let item = ContentIdx((base + offset) as u32);
                if hot.kind.is_none() {
                    continue;
                }
                // The second side adds only what the first did not already list.
                let other = if n == 0 { None } else { before.content_hot.get(item.0 as usize) };
                if hot.space == ContentHot::PERSONAL {
                    if owners.contains(&hot.owner) && other.is_none_or(|o| o.space != hot.space || o.owner != hot.owner || o.kind.is_none()) {
                        personal.entry(hot.owner).or_default().push(item);
                    }
                } else if *memo.entry(hot.space).or_insert_with(|| wanted(hot.space))
                    && other.is_none_or(|o| o.space != hot.space || o.kind.is_none())
                {
                    spaces.entry(hot.space).or_default().push(item);
                }
            }
            base += leaf.len();
        }
    }
    (spaces, personal)
}

/// The items shared with `user` or with one of their groups, on either side.
fn shared_with(tenant: &Tenant, before: &Snapshot, after: &Snapshot, user: UserIdx) -> Vec<ContentIdx> {
    let mut items = Vec::new();
    for snapshot in [before, after] {
        let Some(info) = snapshot.users.get(user.0 as usize) else { continue };
        let mut assignees = vec![Assignee::User(info.id.to_string())];
        assignees.extend(info.rights.group_names.iter().map(|g| Assignee::Group(g.to_string())));
        for assignee in &assignees {
            items.extend(tenant.shares.of_other(assignee).filter_map(|s| snapshot.content_idx(&s.resource)));
        }
        // Items shared since (their rows moved and are asked for by the items' side anyway).
    }
    items.sort_unstable();
    items.dedup();
    items
}

/// Sorts the changes and counts them by action and by path.
fn finish(mut changes: Vec<AccessChange>, cost: WhatIfCost) -> AccessDiff {
    // By user id, action, resource id: the ids ranked once each, then a sort on numbers.
    fn ranks<'a>(ids: impl Iterator<Item = &'a Arc<str>>) -> FxHashMap<*const u8, u32> {
        let mut distinct: Vec<&Arc<str>> = ids.collect();
        distinct.sort_unstable_by_key(|id| Arc::as_ptr(id) as *const u8);
        distinct.dedup_by_key(|id| Arc::as_ptr(id) as *const u8);
        distinct.sort_unstable();
        let mut out = FxHashMap::default();
        let mut rank = 0u32;
        for (i, id) in distinct.iter().enumerate() {
            if i > 0 && distinct[i - 1] != *id {
                rank += 1;
            }
            out.insert(Arc::as_ptr(id) as *const u8, rank);
        }
        out
    }
    let users = ranks(changes.iter().map(|c| &c.user));
    let resources = ranks(changes.iter().filter_map(|c| c.resource.as_ref()));
    let rank = |c: &AccessChange| {
        let user = users.get(&(Arc::as_ptr(&c.user) as *const u8)).copied().unwrap_or(0);
        let resource = c
            .resource
            .as_ref()
            .map_or(0, |r| 1 + resources.get(&(Arc::as_ptr(r) as *const u8)).copied().unwrap_or(0));
        (u64::from(user) << 40) | ((c.action.index() as u64) << 32) | u64::from(resource)
    };
    let mut keyed: Vec<(u64, AccessChange)> = changes.drain(..).map(|c| (rank(&c), c)).collect();
    keyed.sort_unstable_by_key(|(k, _)| *k);
    changes.extend(keyed.into_iter().map(|(_, c)| c));

    let gained = changes.iter().filter(|c| c.gained).count();
    let lost = changes.len() - gained;
    let mut by_action: Vec<Option<AccessGroup>> = vec![None; Action::ALL.len()];
    let mut by_path: FxHashMap<*const u8, AccessGroup> = FxHashMap::default();
    let count = |group: &mut AccessGroup, i: usize, gained: bool| {
        if gained {
            group.gained += 1;
        } else {
            group.lost += 1;
        }
        if group.samples.len() < SAMPLES {
            group.samples.push(i);
        }
    };
    let empty = |key: String| AccessGroup {
        key,
        gained: 0,
        lost: 0,
        samples: Vec::new(),
    };
    for (i, change) in changes.iter().enumerate() {
        let slot = &mut by_action[change.action.index()];
        count(slot.get_or_insert_with(|| empty(change.action.as_str().to_owned())), i, change.gained);
        let group = by_path
            .entry(Arc::as_ptr(&change.path) as *const u8)
            .or_insert_with(|| empty(change.path.to_string()));
        count(group, i, change.gained);
    }
    let by_action: Vec<AccessGroup> = by_action.into_iter().flatten().collect();
    // Equal paths written apart (another explanation with the same tokens) are one group.
    let mut merged: BTreeMap<String, AccessGroup> = BTreeMap::new();
    for group in by_path.into_values() {
        match merged.get_mut(&group.key) {
            Some(into) => {
                into.gained += group.gained;
                into.lost += group.lost;
                into.samples.extend(group.samples);
                into.samples.sort_unstable();
                into.samples.truncate(SAMPLES);
            }
            None => {
                merged.insert(group.key.clone(), group);
            }
        }
    }
    let mut by_path: Vec<AccessGroup> = merged.into_values().collect();
    by_path.sort_by(|a, b| (b.gained + b.lost).cmp(&(a.gained + a.lost)).then_with(|| a.key.cmp(&b.key)));
    AccessDiff {
        changes,
        gained,
        lost,
        by_action,
        by_path,
        cost,
    }
}
