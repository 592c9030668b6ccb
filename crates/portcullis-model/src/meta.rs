//! What the management API shows of an entity beyond what decisions read: Qlik's timestamps
//! (`createdAt`, `lastUpdatedAt`, `createdBy`), a user's profile (`inviteExpiry`, `locale`,
//! `preferredLocale`, `preferredZoneinfo`, `picture`), a group's, space's or OAuth client's
//! `description`, an OAuth client's profile ([`ClientProfile`]),
//! and the API id of a group or custom role once it no longer follows the name. No decision
//! reads it; it travels with its row (created, renamed and deleted with it) and is written
//! by [`Change::SetMeta`](crate::Change::SetMeta), which the API sends with the time in it, so
//! every node replaying the change log holds the same values.
//!
//! Also the operations that rename a group or a custom role: every reference to the old name
//! (members, space assignments, shares; direct, group and Everyone holders) follows.

use serde::{Deserialize, Serialize};

use crate::role::{self, USER_DEFAULT};
use crate::tenant::{Assignee, Tenant};
use crate::tenant_ops::OpError;

/// The API's extra fields of a user, group, custom role, OAuth client or space. Each kind uses
/// the fields Qlik gives it (named below); all are empty for rows from a tenant file until the
/// API sets them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Meta {
    /// The API id, once it no longer follows the name (groups and custom roles created or
    /// renamed through the API).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub api_id: Option<String>,
    /// Free text (groups and spaces; custom roles keep theirs in `description`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Unix seconds the API created it at.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created_at: Option<i64>,
    /// Unix seconds the API last changed it at.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<i64>,
    /// The user who created it (a user id; spaces).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created_by: Option<String>,
    /// Unix seconds an invited user's invitation expires at.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub invite_expiry: Option<i64>,
    /// A user's language tag.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub locale: Option<String>,
    /// A user's preferred language tag.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub preferred_locale: Option<String>,
    /// A user's preferred time zone.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub preferred_zoneinfo: Option<String>,
    /// A static URL of a user's picture.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub picture: Option<String>,
    /// What Qlik keeps of an OAuth client beyond what tokens read (OAuth clients only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client: Option<Box<ClientProfile>>,
}

/// An OAuth client's fields that Qlik keeps and shows and no decision reads: `appType`,
/// `redirectUris`, `allowedOrigins`, `clientUri`, `logoUri`, when it was published, and the
/// tenant's consent method for it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ClientProfile {
    /// `web`, `native`, `spa` or `anonymous-embed` (fixed at creation).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub app_type: Option<String>,
    /// Where the authorization server may send a user back.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub redirect_uris: Vec<String>,
    /// Origins a browser client may call from (`spa`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub allowed_origins: Vec<String>,
    /// The client's home page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_uri: Option<String>,
    /// The client's logo.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub logo_uri: Option<String>,
    /// Unix seconds it was published at.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub published_at: Option<i64>,
    /// `required` or `trusted`; `None`: the default (`required`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub consent_method: Option<String>,
}

impl Meta {
    /// Whether no field is set (such a row's meta is not stored).
    pub fn is_empty(&self) -> bool {
        *self == Meta::default()
    }

    /// Stamped as created at `at` (and changed then).
    pub fn created(at: i64) -> Meta {
        Meta {
            created_at: Some(at),
            updated_at: Some(at),
            ..Meta::default()
        }
    }

    /// This meta, stamped as changed at `at`.
    pub fn updated(&self, at: i64) -> Meta {
        Meta {
            updated_at: Some(at),
            ..self.clone()
        }
    }
}

/// Whose meta a [`Change::SetMeta`](crate::Change::SetMeta) replaces.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum MetaTarget {
    /// A user, by id.
    User(String),
    /// A group, by name.
    Group(String),
    /// A custom role, by name.
    CustomRole(String),
    /// An OAuth client, by id.
    Client(String),
    /// A space, by id.
    Space(String),
}

impl Tenant {
    /// Replaces the meta of one entity (which must exist).
    pub fn set_meta(&mut self, target: &MetaTarget, meta: Meta) -> Result<(), OpError> {
        let missing = |what: &'static str, name: &str| OpError::NotFound { what, name: name.to_owned() };
        let slot = match target {
            MetaTarget::User(id) => &mut self.users.get_mut(id).ok_or_else(|| missing("user", id))?.meta,
            MetaTarget::Group(name) => &mut self.groups.get_mut(name).ok_or_else(|| missing("group", name))?.meta,
            MetaTarget::CustomRole(name) => &mut self.custom_roles.get_mut(name).ok_or_else(|| missing("role", name))?.meta,
            MetaTarget::Client(id) => &mut self.oauth_clients.get_mut(id).ok_or_else(|| missing("OAuth client", id))?.meta,
            MetaTarget::Space(id) => &mut self.spaces.get_mut(id).ok_or_else(|| missing("space", id))?.meta,
        };
        *slot = meta;
        Ok(())
    }

    /// Renames a group, keeping everything it holds and everything that names it: its members,
    /// its space assignments and its shares follow. The new name must be free (names are
    /// unique, spec §5.3).
    pub(crate) fn rename_group(&mut self, name: &str, new_name: &str) -> Result<(), OpError> {
        check_new_name("group", new_name)?;
        if name == new_name {
            return Ok(());
        }
        if self.groups.contains(new_name) {
            return Err(OpError::Conflict {
                what: "group",
                name: new_name.to_owned(),
            });
        }
        let mut group = self.groups.remove(name).ok_or_else(|| OpError::NotFound {
            what: "group",
            name: name.to_owned(),
        })?;
        let members: Vec<String> = self.refs().members_of(name).map(str::to_owned).collect();
        group.name = new_name.to_owned();
        self.groups.upsert(group);
        for member in members {
            if let Some(user) = self.users.get_mut(&member) {
                for held in user.groups.iter_mut().filter(|g| *g == name) {
                    *held = new_name.to_owned();
                }
            }
        }
        let (before, after) = (Assignee::Group(name.to_owned()), Assignee::Group(new_name.to_owned()));
        for space in &mut self.spaces {
            for member in space.members.iter_mut().filter(|m| m.assignee == before) {
                member.assignee = after.clone();
            }
        }
        let shares = self.shares.remove_of_other(&before);
        self.shares.extend(shares.into_iter().map(|mut share| {
            share.assignee = after.clone();
            share
        }));
        Ok(())
    }

    /// Renames a custom role; the users, groups and Everyone holding it hold it under its new
    /// name. Default roles keep their names; the new name must be no role's.
    pub(crate) fn rename_custom_role(&mut self, name: &str, new_name: &str) -> Result<(), OpError> {
        check_new_name("role", new_name)?;
        if name == new_name {
            return Ok(());
        }
        if role::builtin_role(name).is_some() || name == USER_DEFAULT {
            return Err(OpError::Invalid {
                message: format!("`{name}` is a default role and keeps its name"),
            });
        }
        if self.role(new_name).is_some() || new_name == USER_DEFAULT {
            return Err(OpError::Conflict {
                what: "role",
                name: new_name.to_owned(),
            });
        }
        let mut role = self.custom_roles.remove(name).ok_or_else(|| OpError::NotFound {
            what: "role",
            name: name.to_owned(),
        })?;
        role.name = new_name.to_owned();
        self.custom_roles.upsert(role);
        for user in self.users.iter_mut() {
            for held in user.roles.iter_mut().filter(|r| r.role == name) {
                held.role = new_name.to_owned();
            }
        }
        for group in self.groups.iter_mut() {
            for held in group.roles.iter_mut().filter(|r| *r == name) {
                *held = new_name.to_owned();
            }
        }
        for held in self.everyone_roles.iter_mut().filter(|r| *r == name) {
            *held = new_name.to_owned();
        }
        for space in self.spaces_exporting_through(name) {
            if let Some(roles) = self.spaces.get_mut(&space).and_then(|s| s.export_only_through.as_mut()) {
                for held in roles.iter_mut().filter(|r| *r == name) {
                    *held = new_name.to_owned();
                }
            }
        }
        Ok(())
    }

    /// The users and groups holding a role by name (what renaming it rewrites).
    pub(crate) fn role_holders(&self, name: &str) -> (Vec<String>, Vec<String>) {
        let users = self
            .users
            .iter()
            .filter(|u| u.roles.iter().any(|r| r.role == name))
            .map(|u| u.id.clone())
            .collect();
        let groups = self
            .groups
            .iter()
            .filter(|g| g.roles.iter().any(|r| r == name))
            .map(|g| g.name.clone())
            .collect();
        (users, groups)
    }
}

fn check_new_name(what: &'static str, name: &str) -> Result<(), OpError> {
    if name.trim().is_empty() {
        return Err(OpError::Invalid {
            message: format!("a {what} needs a non-empty name"),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Change;
    use crate::tenant::Tenant;

    fn tenant() -> Tenant {
        crate::tenant_file::load_tenant_text(
            "t.yaml",
            "roles: [ { name: Readers, permissions: { in-app-content-download: allowed } } ]\n\
             groups: [ { name: crew, providerType: custom, roles: [Readers] }, { name: other, providerType: custom } ]\n\
             everyone: { roles: [Readers] }\n\
             users: [ { id: ann, groups: [crew], roles: [Readers] }, { id: bob } ]\n\
             spaces: [ { id: s1, type: shared, owner: ann, members: [ { group: crew, roles: [consumer] } ] } ]\n\
             content: [ { id: a1, type: app, space: s1, owner: ann } ]\n\
             shares: [ { resource: a1, group: crew, roles: [consumer] } ]\n",
        )
        .unwrap()
    }

    #[test]
    fn a_renamed_group_keeps_its_members_assignments_shares_and_meta() {
        let mut t = tenant();
        let before = t.clone();
        t.apply(&Change::SetMeta {
            target: MetaTarget::Group("crew".into()),
            meta: Meta {
                api_id: Some("0123456789abcdef01234567".into()),
                ..Meta::created(5)
            },
        })
        .unwrap();
        let applied = t
            .apply(&Change::RenameGroup {
                name: "crew".into(),
                new_name: "team".into(),
            })
            .unwrap();
        assert!(t.group("crew").is_none());
        let team = t.group("team").unwrap();
        assert_eq!(
            (team.roles.as_slice(), team.meta.api_id.as_deref()),
            (&["Readers".to_owned()][..], Some("0123456789abcdef01234567"))
        );
        assert_eq!(t.user("ann").unwrap().groups, ["team"]);
        assert_eq!(t.space("s1").unwrap().members[0].assignee, Assignee::Group("team".into()));
        assert_eq!(t.shares.of("a1").next().unwrap().assignee, Assignee::Group("team".into()));
        assert_eq!(t.refs().members_of("team").collect::<Vec<_>>(), ["ann"]);
        assert_eq!(*t.refs(), crate::Refs::build(&t), "the counts follow the rename");
        let touched = &applied.touched;
        assert!(touched.groups.contains("crew") && touched.groups.contains("team"));
        assert!(touched.users.contains("ann") && touched.spaces.contains("s1") && touched.content.contains("a1"));
        assert!(!touched.users.contains("bob"), "a rename costs what names the group");

        t.undo(applied.undo);
        assert_eq!(t.group("crew").unwrap().meta.created_at, Some(5));
        assert!(t.group("team").is_none());
        for refused in [("crew", "other"), ("crew", " "), ("nope", "x")] {
            let error = t.apply(&Change::RenameGroup {
                name: refused.0.into(),
                new_name: refused.1.into(),
            });
            assert!(error.is_err(), "{refused:?}");
        }
        t.apply(&Change::SetMeta {
            target: MetaTarget::Group("crew".into()),
            meta: Meta::default(),
        })
        .unwrap();
        assert_eq!(t, before);
    }

    #[test]
    fn a_renamed_custom_role_is_held_under_its_new_name_on_every_path() {
        let mut t = tenant();
        let applied = t
            .apply(&Change::RenameCustomRole {
                name: "Readers".into(),
                new_name: "Viewers".into(),
            })
            .unwrap();
        assert!(t.custom_roles.get("Readers").is_none());
        assert_eq!(t.user("ann").unwrap().roles[0].role, "Viewers");
        assert_eq!(t.group("crew").unwrap().roles, ["Viewers"]);
        assert_eq!(t.everyone_roles, ["Viewers"]);
        assert!(applied.touched.everyone_roles && applied.touched.users.contains("ann") && applied.touched.groups.contains("crew"));
        for (name, new_name) in [
            ("Viewers", "TenantAdmin"),
            ("TenantAdmin", "Boss"),
            ("Viewers", "UserDefault"),
            ("Nope", "X"),
        ] {
            let refused = t.apply(&Change::RenameCustomRole {
                name: name.into(),
                new_name: new_name.into(),
            });
            assert!(refused.is_err(), "{name} → {new_name}");
        }
        assert!(
            t.apply(&Change::SetMeta {
                target: MetaTarget::User("nobody".into()),
                meta: Meta::created(1),
            })
            .is_err()
        );
        let json = serde_json::to_string(&Change::SetMeta {
            target: MetaTarget::Space("s1".into()),
            meta: Meta::created(7),
        })
        .unwrap();
        assert_eq!(
            json,
            r#"{"change":"setMeta","target":{"space":"s1"},"meta":{"createdAt":7,"updatedAt":7}}"#
        );
        assert!(
            !serde_json::to_string(&t.user("bob").unwrap()).unwrap().contains("meta"),
            "an empty meta is not written, so rows logged before it read the same"
        );
    }
}
