//! [`Refs`]: what the model's write rules ask about the whole tenant, counted instead of scanned.
//!
//! Deleting a user must know the spaces and items they own (left without an owner); deleting a space whether it
//! holds content; naming a space whether the name is taken; listing a space's shares which of
//! its items are shared; deleting a group who its members are. Scanning a million items for that makes one request cost the whole
//! tenant, so these answers are kept as counts and small indexes.
//!
//! INVARIANT: once built, the counts equal [`Refs::build`] of the rows. The index is built on the
//! first question (loaders fill the tables directly and never ask), and from then on rows change
//! only through [`Tenant::apply`](crate::Tenant::apply) and [`Tenant::undo`](crate::Tenant::undo),
//! which move it with each row they replace ([`RefsCell::replace_user`],
//! [`RefsCell::replace_space`], [`RefsCell::replace_item`]).

use std::collections::BTreeSet;
use std::sync::OnceLock;

use rustc_hash::FxHashMap;

use crate::tenant::{Content, Space, Tenant, User};

/// What one user owns, by id.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Owned {
    /// Spaces whose owner the user is.
    pub spaces: BTreeSet<String>,
    /// Apps and data connections whose owner the user is.
    pub items: BTreeSet<String>,
}

impl Owned {
    fn is_empty(&self) -> bool {
        self.spaces.is_empty() && self.items.is_empty()
    }
}

/// Counts and the space-name index; see the module docs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Refs {
    space_by_name: FxHashMap<String, String>,
    owned: FxHashMap<String, Owned>,
    items_in_space: FxHashMap<String, u32>,
    shared_in_space: FxHashMap<String, BTreeSet<String>>,
    members: FxHashMap<String, BTreeSet<String>>,
}

/// An item row and whether it has fine-grained shares: what [`Refs`] counts of it.
pub(crate) type ItemRow<'a> = (&'a Content, bool);

impl Refs {
    /// Counts everything from the rows: O(tenant), once.
    pub fn build(tenant: &Tenant) -> Refs {
        let mut refs = Refs::default();
        for space in &tenant.spaces {
            refs.add_space(space);
        }
        for user in &tenant.users {
            refs.add_user(user);
        }
        for item in &tenant.content {
            refs.add_item((item, tenant.shares.of(&item.id).next().is_some()));
        }
        refs
    }

    /// The id of the space called `name`.
    pub fn space_named(&self, name: &str) -> Option<&str> {
        self.space_by_name.get(name).map(String::as_str)
    }

    /// What `user` owns.
    pub fn owned_by(&self, user: &str) -> &Owned {
        static NOTHING: Owned = Owned {
            spaces: BTreeSet::new(),
            items: BTreeSet::new(),
        };
        self.owned.get(user).unwrap_or(&NOTHING)
    }

    /// How many items sit in `space`.
    pub fn items_in(&self, space: &str) -> u32 {
        self.items_in_space.get(space).copied().unwrap_or(0)
    }

    /// The ids of `space`'s items that have fine-grained shares, in id order.
    pub fn shared_items_in(&self, space: &str) -> impl Iterator<Item = &str> {
        self.shared_in_space.get(space).into_iter().flatten().map(String::as_str)
    }

    /// The ids of `group`'s members, in id order.
    pub fn members_of(&self, group: &str) -> impl Iterator<Item = &str> {
        self.members.get(group).into_iter().flatten().map(String::as_str)
    }

    /// How many members `group` has.
    pub fn n_members(&self, group: &str) -> usize {
        self.members.get(group).map_or(0, BTreeSet::len)
    }

    fn add_user(&mut self, user: &User) {
        for group in &user.groups {
            self.members.entry(group.clone()).or_default().insert(user.id.clone());
        }
    }

    fn remove_user(&mut self, user: &User) {
        for group in &user.groups {
            if let Some(members) = self.members.get_mut(group) {
                members.remove(&user.id);
                if members.is_empty() {
                    self.members.remove(group);
                }
            }
        }
    }

    fn add_space(&mut self, space: &Space) {
        self.space_by_name.insert(space.name.clone(), space.id.clone());
        if let Some(owner) = &space.owner {
            self.owned.entry(owner.clone()).or_default().spaces.insert(space.id.clone());
        }
    }

    fn remove_space(&mut self, space: &Space) {
        if self.space_by_name.get(&space.name) == Some(&space.id) {
            self.space_by_name.remove(&space.name);
        }
        if let Some(owner) = &space.owner {
            disown(&mut self.owned, owner, |o| &mut o.spaces, &space.id);
        }
    }

    fn add_item(&mut self, (item, shared): ItemRow<'_>) {
        if let Some(owner) = &item.owner {
            self.owned.entry(owner.clone()).or_default().items.insert(item.id.clone());
        }
        if let Some(space) = &item.space {
            *self.items_in_space.entry(space.clone()).or_default() += 1;
            if shared {
                self.shared_in_space.entry(space.clone()).or_default().insert(item.id.clone());
            }
        }
    }

    fn remove_item(&mut self, (item, shared): ItemRow<'_>) {
        if let Some(owner) = &item.owner {
            disown(&mut self.owned, owner, |o| &mut o.items, &item.id);
        }
        if let Some(space) = &item.space {
            decrement(&mut self.items_in_space, space, |n| n, |n| *n == 0);
            if shared && let Some(items) = self.shared_in_space.get_mut(space) {
                items.remove(&item.id);
                if items.is_empty() {
                    self.shared_in_space.remove(space);
                }
            }
        }
    }
}

/// Takes one id from what a user owns, dropping the user's entry when nothing is left.
fn disown(owned: &mut FxHashMap<String, Owned>, owner: &str, set: impl Fn(&mut Owned) -> &mut BTreeSet<String>, id: &str) {
    if let Some(entry) = owned.get_mut(owner) {
        set(entry).remove(id);
        if entry.is_empty() {
            owned.remove(owner);
        }
    }
}

/// Lowers one count, dropping the entry when nothing is left.
fn decrement<V>(map: &mut FxHashMap<String, V>, key: &str, count: impl Fn(&mut V) -> &mut u32, empty: impl Fn(&V) -> bool) {
    if let Some(value) = map.get_mut(key) {
        let n = count(value);
        *n = n.saturating_sub(1);
        if empty(value) {
            map.remove(key);
        }
    }
}

/// The tenant's [`Refs`], built on the first question. Not part of a tenant's value: two
/// tenants with the same rows are equal whether or not either has counted yet.
#[derive(Clone, Default)]
pub struct RefsCell(OnceLock<Refs>);

impl RefsCell {
    /// The counts, built from `tenant`'s rows if nobody asked before.
    pub(crate) fn get(&self, tenant: &Tenant) -> &Refs {
        self.0.get_or_init(|| Refs::build(tenant))
    }

    /// Moves the counts from a user row as it was to the row as it is (`None`: absent).
    pub(crate) fn replace_user(&mut self, before: Option<&User>, after: Option<&User>) {
        if let Some(refs) = self.0.get_mut() {
            before.into_iter().for_each(|u| refs.remove_user(u));
            after.into_iter().for_each(|u| refs.add_user(u));
        }
    }

    /// Moves the counts from a space row as it was to the row as it is (`None`: absent).
    pub(crate) fn replace_space(&mut self, before: Option<&Space>, after: Option<&Space>) {
        if let Some(refs) = self.0.get_mut() {
            before.into_iter().for_each(|s| refs.remove_space(s));
            after.into_iter().for_each(|s| refs.add_space(s));
        }
    }

    /// Moves the counts from an item row as it was to the row as it is (`None`: absent).
    pub(crate) fn replace_item(&mut self, before: Option<ItemRow<'_>>, after: Option<ItemRow<'_>>) {
        if let Some(refs) = self.0.get_mut() {
            before.into_iter().for_each(|c| refs.remove_item(c));
            after.into_iter().for_each(|c| refs.add_item(c));
        }
    }
}

impl PartialEq for RefsCell {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl Eq for RefsCell {}

impl std::fmt::Debug for RefsCell {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.get().is_some() {
            "RefsCell(counted)"
        } else {
            "RefsCell(not counted)"
        })
    }
}
