//! Server-assigned ids: 24 lowercase hex characters, derived from a SHA-256 of the kind and
//! the stable key (user subject, group name, role name, space key, content id), so the same
//! tenant always shows the same ids and no id table has to be stored.
//!
//! Spaces and content created through the API get a model key that already is such an id,
//! and such keys are shown as they are; keys from tenant files (`sales`, `app1`) are hashed.
//!
//! A hash cannot be read backwards, so [`ApiIds`] maps the ids of users, groups, spaces and
//! content back to their keys; the host keeps it beside its snapshot and updates it with each
//! write's [`Touched`], so finding a user by id costs a lookup, not a hash per user.

use std::collections::BTreeSet;
use std::sync::{Arc, OnceLock};

use portcullis_model::{Group, Tenant, Touched};
use sha2::{Digest, Sha256};

/// The id of the system group Everyone.
pub const EVERYONE_ID: &str = "000000000000000000000001";

/// The name of the system group Everyone.
pub const EVERYONE_NAME: &str = "com.qlik.Everyone";

/// What an id names; part of the hash so that a user and a group of the same name differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdKind {
    /// A tenant, by name.
    Tenant,
    /// A user, by subject.
    User,
    /// A group, by name.
    Group,
    /// A role, by name.
    Role,
    /// A space, by model key.
    Space,
    /// An app or data connection, by model key.
    Content,
    /// A space assignment, by space key and assignee.
    Assignment,
    /// A fine-grained share, by app key and assignee.
    Share,
}

impl IdKind {
    fn as_str(self) -> &'static str {
        match self {
            IdKind::Tenant => "tenant",
            IdKind::User => "user",
            IdKind::Group => "group",
            IdKind::Role => "role",
            IdKind::Space => "space",
            IdKind::Content => "content",
            IdKind::Assignment => "assignment",
            IdKind::Share => "share",
        }
    }
}

/// The 96 bits an id shows: the first 12 bytes of the SHA-256 of kind and key.
fn digest(kind: IdKind, key: &str) -> u128 {
    let mut hasher = Sha256::new();
    hasher.update(kind.as_str().as_bytes());
    hasher.update([0u8]);
    hasher.update(key.as_bytes());
    let digest = hasher.finalize();
    let mut bits = [0u8; 16];
    bits[4..].copy_from_slice(&digest[..12]);
    u128::from_be_bytes(bits)
}

/// The hashed id of `key`.
pub fn hashed_id(kind: IdKind, key: &str) -> String {
    format!("{:024x}", digest(kind, key))
}

/// The 96 bits of an API id (24 lowercase hex characters).
fn id_bits(text: &str) -> Option<u128> {
    is_api_id(text).then(|| u128::from_str_radix(text, 16).ok()).flatten()
}

/// True for 24 lowercase hex characters.
pub fn is_api_id(text: &str) -> bool {
    text.len() == 24 && text.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// A user's id.
pub fn user_id(subject: &str) -> String {
    hashed_id(IdKind::User, subject)
}

/// The id a group named `name` gets when nothing else is recorded for it (a group from a
/// tenant file, before any rename).
pub fn group_id(name: &str) -> String {
    hashed_id(IdKind::Group, name)
}

/// The id a role named `name` gets when nothing else is recorded for it (the default roles,
/// custom roles from a tenant file before any rename).
pub fn role_id(name: &str) -> String {
    hashed_id(IdKind::Role, name)
}

/// A group's API id: the one recorded in its meta (groups created or renamed through the API:
/// the id does not follow the name), else [`group_id`] of its name.
pub fn group_api_id(group: &Group) -> String {
    group.meta.api_id.clone().unwrap_or_else(|| group_id(&group.name))
}

/// A role's API id, by name: a custom role's recorded id, else [`role_id`] of the name.
pub fn role_api_id(tenant: &Tenant, name: &str) -> String {
    tenant
        .custom_roles
        .get(name)
        .and_then(|role| role.meta.api_id.clone())
        .unwrap_or_else(|| role_id(name))
}

/// A fresh API id from 12 random bytes (the router draws them): what a group or custom role
/// created through the API is known by, so one deleted and created again under its name is
/// another.
pub fn random_id(random: [u8; 12]) -> String {
    random.iter().map(|b| format!("{b:02x}")).collect()
}

/// A tenant's id.
pub fn tenant_id(name: &str) -> String {
    hashed_id(IdKind::Tenant, name)
}

/// A space's id: its key when that already is an id, else the key's hash.
pub fn space_id(key: &str) -> String {
    if is_api_id(key) { key.to_owned() } else { hashed_id(IdKind::Space, key) }
}

/// A content item's id, like [`space_id`].
pub fn content_id(key: &str) -> String {
    if is_api_id(key) {
        key.to_owned()
    } else {
        hashed_id(IdKind::Content, key)
    }
}

/// The assignee part of assignment and share keys.
pub fn assignee_key(assignee: &portcullis_model::Assignee) -> String {
    match assignee {
        portcullis_model::Assignee::User(id) => format!("user:{id}"),
        portcullis_model::Assignee::Group(name) => format!("group:{name}"),
    }
}

/// A space assignment's id.
pub fn assignment_id(space_key: &str, assignee: &portcullis_model::Assignee) -> String {
    hashed_id(IdKind::Assignment, &format!("{space_key}\0{}", assignee_key(assignee)))
}

/// A share's id.
pub fn share_id(content_key: &str, assignee: &portcullis_model::Assignee) -> String {
    hashed_id(IdKind::Share, &format!("{content_key}\0{}", assignee_key(assignee)))
}

/// A fresh model key for a space or content created through the API: an id derived from
/// `seed`, with a counter when it is taken.
pub fn fresh_key(kind: IdKind, seed: &str, taken: impl Fn(&str) -> bool) -> String {
    let mut attempt = 0u32;
    loop {
        let candidate = hashed_id(kind, &format!("new\0{seed}\0{attempt}"));
        if !taken(&candidate) && candidate != EVERYONE_ID {
            return candidate;
        }
        attempt += 1;
    }
}

/// The API ids of a tenant's users, groups, spaces and content, each mapped back to its model
/// key. Persistent maps: a copy is O(1) and a write costs what it touched.
///
/// Content is counted in millions and only sharing one app asks for it, so its index is built
/// on that first question (about a second of hashing at a million items) rather than at every
/// start; after that each write moves it by the items it touched.
#[derive(Debug, Clone, Default)]
pub struct ApiIds {
    users: imbl::HashMap<String, String>,
    groups: imbl::HashMap<String, String>,
    /// Each group's id by name, to drop the id of a group deleted or renamed (its id may be
    /// recorded rather than derived from the name).
    group_ids: imbl::HashMap<String, String>,
    spaces: imbl::HashMap<String, String>,
    content: Arc<OnceLock<imbl::HashMap<u128, String>>>,
}

/// Equal when the same ids name the same keys; an index not built yet counts as the tenant's.
impl PartialEq for ApiIds {
    fn eq(&self, other: &ApiIds) -> bool {
        let content_equal = match (self.content.get(), other.content.get()) {
            (Some(mine), Some(theirs)) => mine == theirs,
            _ => true,
        };
        self.users == other.users && self.groups == other.groups && self.group_ids == other.group_ids && self.spaces == other.spaces && content_equal
    }
}

impl Eq for ApiIds {}

impl ApiIds {
    /// The ids of every user, group and space of `tenant` (content: on first use).
    pub fn build(tenant: &Tenant) -> ApiIds {
        ApiIds {
            users: tenant.users.iter().map(|u| (user_id(&u.id), u.id.clone())).collect(),
            groups: tenant.groups.iter().map(|g| (group_api_id(g), g.name.clone())).collect(),
            group_ids: tenant.groups.iter().map(|g| (g.name.clone(), group_api_id(g))).collect(),
            spaces: tenant.spaces.iter().map(|s| (space_id(&s.id), s.id.clone())).collect(),
            content: Arc::default(),
        }
    }

    /// The ids after a write: the touched rows still in `tenant` are added, the others removed.
    pub fn after(&self, tenant: &Tenant, touched: &Touched) -> ApiIds {
        let mut next = self.clone();
        follow(&mut next.users, &touched.users, user_id, |key| tenant.user(key).is_some());
        for name in &touched.groups {
            if let Some(id) = next.group_ids.remove(name) {
                next.groups.remove(&id);
            }
            if let Some(group) = tenant.group(name) {
                let id = group_api_id(group);
                next.groups.insert(id.clone(), name.clone());
                next.group_ids.insert(name.clone(), id);
            }
        }
        follow(&mut next.spaces, &touched.spaces, space_id, |key| tenant.space(key).is_some());
        next.content = match self.content.get() {
            Some(content) if !touched.content.is_empty() => {
                let mut content = content.clone();
                for key in &touched.content {
                    let bits = content_bits(key);
                    if tenant.content_item(key).is_some() {
                        content.insert(bits, key.clone());
                    } else {
                        content.remove(&bits);
                    }
                }
                Arc::new(OnceLock::from(content))
            }
            Some(_) => self.content.clone(),
            // Never asked: the next question builds it from that revision's rows.
            None => Arc::default(),
        };
        next
    }

    /// The subject of the user with this API id.
    pub fn user(&self, id: &str) -> Option<&str> {
        self.users.get(id).map(String::as_str)
    }

    /// The name of the group with this API id (not Everyone).
    pub fn group(&self, id: &str) -> Option<&str> {
        self.groups.get(id).map(String::as_str)
    }

    /// The key of the space with this API id.
    pub fn space(&self, id: &str) -> Option<&str> {
        self.spaces.get(id).map(String::as_str)
    }

    /// The key of the app or data connection with this API id. `tenant` must be the rows these
    /// ids were made for; they build the index on the first call.
    pub fn content<'t>(&'t self, tenant: &Tenant, id: &str) -> Option<&'t str> {
        let bits = id_bits(id)?;
        let content = self
            .content
            .get_or_init(|| tenant.content.iter().map(|item| (content_bits(&item.id), item.id.clone())).collect());
        content.get(&bits).map(String::as_str)
    }
}

/// A content key's id as bits: the key itself when it already is an id.
fn content_bits(key: &str) -> u128 {
    id_bits(key).unwrap_or_else(|| digest(IdKind::Content, key))
}

/// Moves one map by the touched keys: present rows (by `exists`) are added, the rest removed.
fn follow(map: &mut imbl::HashMap<String, String>, touched: &BTreeSet<String>, id_of: fn(&str) -> String, exists: impl Fn(&str) -> bool) {
    for key in touched {
        if exists(key) {
            map.insert(id_of(key), key.clone());
        } else {
            map.remove(&id_of(key));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_24_hex_stable_and_kind_specific() {
        let ann = user_id("ann");
        assert!(is_api_id(&ann), "{ann}");
        assert_eq!(ann, user_id("ann"));
        assert_ne!(ann, group_id("ann"));
        assert!(is_api_id(EVERYONE_ID));
    }

    #[test]
    fn api_keys_are_shown_as_they_are_and_others_hashed() {
        let key = fresh_key(IdKind::Space, "Sales", |_| false);
        assert_eq!(space_id(&key), key);
        assert_ne!(space_id("sales"), "sales");
        let taken = key.clone();
        assert_ne!(fresh_key(IdKind::Space, "Sales", |k| k == taken), key);
    }

    #[test]
    fn every_kind_of_id_is_found_again_and_follows_writes() {
        use portcullis_model::{Change, Content, ContentKind, Space, SpaceType, User};
        let mut tenant = Tenant::new("t");
        let user = User {
            meta: Default::default(),
            id: "ann".into(),
            name: "Ann".into(),
            email: None,
            entitlement: portcullis_model::Entitlement::Professional,
            status: portcullis_model::UserStatus::Active,
            roles: Vec::new(),
            groups: Vec::new(),
        };
        tenant.apply(&Change::CreateUser { user }).unwrap();
        let space = Space {
            meta: Default::default(),
            id: "sales".into(),
            name: "Sales".into(),
            space_type: SpaceType::Shared,
            owner: Some("ann".into()),
            export_only_through: None,
            members: Vec::new(),
        };
        tenant.apply(&Change::CreateSpace { space }).unwrap();
        let item = |id: &str| Content {
            id: id.into(),
            name: id.into(),
            kind: ContentKind::App,
            space: Some("sales".into()),
            owner: Some("ann".into()),
        };
        tenant.apply(&Change::CreateContent { item: item("app1") }).unwrap();
        let ids = ApiIds::build(&tenant);
        assert_eq!(ids.user(&user_id("ann")), Some("ann"));
        assert_eq!(ids.space(&space_id("sales")), Some("sales"));
        assert_eq!(ids.content(&tenant, &content_id("app1")), Some("app1"));
        assert_eq!(ids.content(&tenant, "not an id"), None);

        // A key that already is an id is its own id.
        let api_key = fresh_key(IdKind::Content, "Budget", |_| false);
        let applied = tenant.apply(&Change::CreateContent { item: item(&api_key) }).unwrap();
        let gone = tenant.apply(&Change::DeleteContent { id: "app1".into() }).unwrap();
        let mut touched = applied.touched;
        touched.content.extend(gone.touched.content);
        let next = ids.after(&tenant, &touched);
        assert_eq!(next.content(&tenant, &api_key), Some(api_key.as_str()));
        assert_eq!(next.content(&tenant, &content_id("app1")), None);
        assert_eq!(next, ApiIds::build(&tenant));
        // Built after the write, from the rows, the index says the same.
        let fresh = ApiIds::build(&tenant);
        assert_eq!(fresh.content(&tenant, &api_key), Some(api_key.as_str()));
        assert_eq!(fresh, next);

        // A group's id follows it through a rename and leaves with it.
        use portcullis_model::{Group, Meta, ProviderType};
        let kept = random_id([7; 12]);
        let group = Group {
            meta: Meta {
                api_id: Some(kept.clone()),
                ..Meta::default()
            },
            name: "crew".into(),
            provider_type: ProviderType::Custom,
            roles: Vec::new(),
        };
        let created = tenant.apply(&Change::CreateGroup { group }).unwrap();
        let with_group = next.after(&tenant, &created.touched);
        assert_eq!(with_group.group(&kept), Some("crew"));
        let renamed = tenant
            .apply(&Change::RenameGroup {
                name: "crew".into(),
                new_name: "team".into(),
            })
            .unwrap();
        let after_rename = with_group.after(&tenant, &renamed.touched);
        assert_eq!(after_rename.group(&kept), Some("team"));
        assert_eq!(after_rename, ApiIds::build(&tenant));
        let gone = tenant.apply(&Change::DeleteGroup { name: "team".into() }).unwrap();
        let after_delete = after_rename.after(&tenant, &gone.touched);
        assert_eq!(after_delete.group(&kept), None);
        assert_eq!(after_delete, ApiIds::build(&tenant));
    }
}
