//! Server-assigned ids: 24 lowercase hex characters, derived from a SHA-256 of the kind and
//! the stable key (user subject, group name, role name, space key, content id), so the same
//! tenant always shows the same ids and no id table has to be stored.
//!
//! Spaces and content created through the API get a model key that already is such an id,
//! and such keys are shown as they are; keys from tenant files (`sales`, `app1`) are hashed.
//!
//! A hash cannot be read backwards, so [`ApiIds`] maps the ids of users and groups back to
//! their keys; the host keeps it beside its snapshot and updates it with each write's
//! [`Touched`], so finding a user by id costs a lookup, not a hash per user.

use portcullis_model::{Tenant, Touched};
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

/// The hashed id of `key`.
pub fn hashed_id(kind: IdKind, key: &str) -> String {
    let mut hasher = Sha256::new();
    hasher.update(kind.as_str().as_bytes());
    hasher.update([0u8]);
    hasher.update(key.as_bytes());
    let digest = hasher.finalize();
    digest.iter().take(12).map(|b| format!("{b:02x}")).collect()
}

/// True for 24 lowercase hex characters.
pub fn is_api_id(text: &str) -> bool {
    text.len() == 24 && text.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// A user's id.
pub fn user_id(subject: &str) -> String {
    hashed_id(IdKind::User, subject)
}

/// A group's id.
pub fn group_id(name: &str) -> String {
    hashed_id(IdKind::Group, name)
}

/// A role's id.
pub fn role_id(name: &str) -> String {
    hashed_id(IdKind::Role, name)
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
}

/// The API ids of a tenant's users and groups, each mapped to its model key. Persistent maps:
/// a copy is O(1) and a write costs what it touched.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ApiIds {
    users: imbl::HashMap<String, String>,
    groups: imbl::HashMap<String, String>,
}

impl ApiIds {
    /// The ids of every user and group of `tenant`.
    pub fn build(tenant: &Tenant) -> ApiIds {
        ApiIds {
            users: tenant.users.iter().map(|u| (user_id(&u.id), u.id.clone())).collect(),
            groups: tenant.groups.iter().map(|g| (group_id(&g.name), g.name.clone())).collect(),
        }
    }

    /// The ids after a write: the touched users and groups still in `tenant` are added, the
    /// others removed.
    pub fn after(&self, tenant: &Tenant, touched: &Touched) -> ApiIds {
        let mut next = self.clone();
        for key in &touched.users {
            if tenant.user(key).is_some() {
                next.users.insert(user_id(key), key.clone());
            } else {
                next.users.remove(&user_id(key));
            }
        }
        for name in &touched.groups {
            if tenant.group(name).is_some() {
                next.groups.insert(group_id(name), name.clone());
            } else {
                next.groups.remove(&group_id(name));
            }
        }
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
}
