//! The management operations behind the REST API (create, update and delete users, groups,
//! roles, spaces, members, shares, content and OAuth clients), with the rules of the spec:
//! unique names, groups deleted only when empty, custom roles only when unassigned, spaces
//! only when empty, space roles only from the type's assignable set. Each operation checks
//! everything first and changes nothing when it refuses.

use std::collections::BTreeMap;

use crate::capability::{CapSet, Capability};
use crate::err::ModelError;
use crate::permission::{Permission, PermissionValue};
use crate::role::{self, MAX_CUSTOM_ROLES, USER_DEFAULT};
use crate::space::{SpaceRoleSet, SpaceType};
use crate::tenant::*;

/// An operation refused for a reason beyond [`ModelError`]'s reference checks.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OpError {
    /// A reference or value problem.
    #[error(transparent)]
    Model(#[from] ModelError),
    /// The name or id is taken.
    #[error("{what} `{name}` already exists")]
    Conflict {
        /// What kind of thing.
        what: &'static str,
        /// The name.
        name: String,
    },
    /// The thing does not exist.
    #[error("{what} `{name}` does not exist")]
    NotFound {
        /// What kind of thing.
        what: &'static str,
        /// The name or id.
        name: String,
    },
    /// The operation is refused while something still depends on the thing.
    #[error("{message}")]
    InUse {
        /// Why.
        message: String,
    },
    /// The input is not acceptable.
    #[error("{message}")]
    Invalid {
        /// Why.
        message: String,
    },
}

fn not_found(what: &'static str, name: &str) -> OpError {
    OpError::NotFound { what, name: name.to_owned() }
}

fn conflict(what: &'static str, name: &str) -> OpError {
    OpError::Conflict { what, name: name.to_owned() }
}

impl Tenant {
    /// Adds a user.
    pub fn create_user(&mut self, user: User) -> Result<(), OpError> {
        if user.id.trim().is_empty() {
            return Err(OpError::Invalid {
                message: "a user needs a non-empty `subject`".into(),
            });
        }
        if self.user(&user.id).is_some() {
            return Err(conflict("user", &user.id));
        }
        if !user.entitlement.fits(self.subscription) {
            return Err(OpError::Invalid {
                message: format!("entitlement `{}` does not exist on a {} tenant", user.entitlement, self.subscription),
            });
        }
        for role in &user.roles {
            if role.role == USER_DEFAULT || self.role(&role.role).is_none() {
                return Err(ModelError::UnknownRole {
                    name: role.role.clone(),
                    known: self.known_role_names(),
                }
                .into());
            }
        }
        for group in &user.groups {
            if self.group(group).is_none() {
                return Err(ModelError::UnknownGroup { name: group.clone() }.into());
            }
        }
        self.users.upsert(user);
        Ok(())
    }

    /// Renames a user.
    pub fn rename_user(&mut self, id: &str, name: &str) -> Result<(), OpError> {
        self.users.get_mut(id).ok_or_else(|| not_found("user", id))?.name = name.to_owned();
        Ok(())
    }

    /// Sets a user's status.
    pub fn set_user_status(&mut self, id: &str, status: UserStatus) -> Result<(), OpError> {
        self.users.get_mut(id).ok_or_else(|| not_found("user", id))?.status = status;
        Ok(())
    }

    /// Replaces a user's directly assigned roles (roles recorded by toggles are replaced too).
    pub fn replace_user_roles(&mut self, id: &str, roles: &[String]) -> Result<(), OpError> {
        for role in roles {
            if role == USER_DEFAULT || self.role(role).is_none() {
                return Err(ModelError::UnknownRole {
                    name: role.clone(),
                    known: self.known_role_names(),
                }
                .into());
            }
        }
        let user = self.users.get_mut(id).ok_or_else(|| not_found("user", id))?;
        let mut kept: Vec<DirectRole> = Vec::new();
        for role in roles {
            if !kept.iter().any(|r| &r.role == role) {
                let origin = user
                    .roles
                    .iter()
                    .find(|r| &r.role == role)
                    .map(|r| r.origin)
                    .unwrap_or(DirectOrigin::Assigned);
                kept.push(DirectRole { role: role.clone(), origin });
            }
        }
        user.roles = kept;
        Ok(())
    }

    /// Deletes a user, with their space memberships and shares. Content they own and spaces
    /// they own keep them as owner id (the REST API refuses such deletes first).
    pub(crate) fn delete_user(&mut self, id: &str) -> Result<(), OpError> {
        if self.user(id).is_none() {
            return Err(not_found("user", id));
        }
        // As Qlik does: what the user owned stays where it is, without an owner, until an
        // admin names another (`update_space`, `set_content_owner`).
        let owned = self.refs().owned_by(id);
        let (spaces, items): (Vec<String>, Vec<String>) = (owned.spaces.iter().cloned().collect(), owned.items.iter().cloned().collect());
        for space in spaces {
            if let Some(space) = self.spaces.get_mut(&space) {
                space.owner = None;
            }
        }
        for item in items {
            if let Some(item) = self.content.get_mut(&item) {
                item.owner = None;
            }
        }
        let assignee = Assignee::User(id.to_owned());
        self.users.remove(id);
        for space in &mut self.spaces {
            space.members.retain(|m| m.assignee != assignee);
        }
        self.shares.remove_of_other(&assignee);
        Ok(())
    }

    /// Adds a group. Names are unique per provider type.
    pub fn create_group(&mut self, group: Group) -> Result<(), OpError> {
        if group.name.trim().is_empty() {
            return Err(OpError::Invalid {
                message: "a group needs a non-empty `name`".into(),
            });
        }
        if self.groups.contains(&group.name) {
            return Err(conflict("group", &group.name));
        }
        self.check_roles(&group.roles)?;
        if group.roles.len() > 100 {
            return Err(OpError::Invalid {
                message: format!("{} roles on one group; at most 100", group.roles.len()),
            });
        }
        self.groups.upsert(group);
        Ok(())
    }

    /// Replaces a group's roles (at most 100).
    pub fn replace_group_roles(&mut self, name: &str, roles: &[String]) -> Result<(), OpError> {
        self.check_roles(roles)?;
        if roles.len() > 100 {
            return Err(OpError::Invalid {
                message: format!("{} roles on one group; at most 100", roles.len()),
            });
        }
        let group = self.groups.get_mut(name).ok_or_else(|| not_found("group", name))?;
        group.roles = dedup(roles);
        Ok(())
    }

    /// Replaces the Everyone group's roles.
    pub fn replace_everyone_roles(&mut self, roles: &[String]) -> Result<(), OpError> {
        self.check_roles(roles)?;
        self.everyone_roles = dedup(roles);
        Ok(())
    }

    /// Deletes a group; a custom group only when it has no members (spec §5.3).
    pub(crate) fn delete_group(&mut self, name: &str) -> Result<(), OpError> {
        let group = self.group(name).ok_or_else(|| not_found("group", name))?;
        let n_members = self.refs().n_members(name);
        if group.provider_type == ProviderType::Custom && n_members > 0 {
            return Err(OpError::InUse {
                message: format!("group `{name}` still has {n_members} members; remove them first"),
            });
        }
        let assignee = Assignee::Group(name.to_owned());
        let members: Vec<String> = self.refs().members_of(name).map(str::to_owned).collect();
        self.groups.remove(name);
        for member in members {
            if let Some(user) = self.users.get_mut(&member) {
                user.groups.retain(|g| g != name);
            }
        }
        for space in &mut self.spaces {
            space.members.retain(|m| m.assignee != assignee);
        }
        self.shares.remove_of_other(&assignee);
        Ok(())
    }

    fn check_roles(&self, roles: &[String]) -> Result<(), OpError> {
        for role in roles {
            if role == USER_DEFAULT || self.role(role).is_none() {
                return Err(ModelError::UnknownRole {
                    name: role.clone(),
                    known: self.known_role_names(),
                }
                .into());
            }
        }
        Ok(())
    }

    /// Adds a custom role (unique name, not a built-in one, at most 500 per tenant).
    pub fn create_custom_role(&mut self, role: CustomRole) -> Result<(), OpError> {
        if role.name.trim().is_empty() {
            return Err(OpError::Invalid {
                message: "a role needs a non-empty `name`".into(),
            });
        }
        if self.role(&role.name).is_some() || role.name == USER_DEFAULT {
            return Err(conflict("role", &role.name));
        }
        if self.custom_roles.len() >= MAX_CUSTOM_ROLES {
            return Err(OpError::Invalid {
                message: format!("a tenant holds at most {MAX_CUSTOM_ROLES} custom roles"),
            });
        }
        check_custom_permissions(&role.permissions)?;
        self.custom_roles.upsert(role);
        Ok(())
    }

    /// Replaces a custom role's permissions and description.
    pub fn update_custom_role(
        &mut self,
        name: &str,
        description: Option<String>,
        permissions: Option<BTreeMap<Permission, RoleSetting>>,
    ) -> Result<(), OpError> {
        if role::builtin_role(name).is_some() || name == USER_DEFAULT {
            return Err(OpError::Invalid {
                message: format!("`{name}` is a default role and cannot be changed (UserDefault's scopes excepted)"),
            });
        }
        if let Some(permissions) = &permissions {
            check_custom_permissions(permissions)?;
        }
        let role = self.custom_roles.get_mut(name).ok_or_else(|| not_found("role", name))?;
        if let Some(description) = description {
            role.description = description;
        }
        if let Some(permissions) = permissions {
            role.permissions = permissions;
        }
        Ok(())
    }

    /// Where a role is assigned: users, groups, Everyone.
    pub fn role_assignees(&self, name: &str) -> Vec<String> {
        let mut out: Vec<String> = self
            .users
            .iter()
            .filter(|u| u.roles.iter().any(|r| r.role == name))
            .map(|u| format!("user `{}`", u.id))
            .collect();
        out.extend(
            self.groups
                .iter()
                .filter(|g| g.roles.iter().any(|r| r == name))
                .map(|g| format!("group `{}`", g.name)),
        );
        if self.everyone_roles.iter().any(|r| r == name) {
            out.push("Everyone".into());
        }
        out
    }

    /// Deletes a custom role, only once it is unassigned everywhere (spec §3.3).
    pub fn delete_custom_role(&mut self, name: &str) -> Result<(), OpError> {
        if role::builtin_role(name).is_some() || name == USER_DEFAULT {
            return Err(OpError::Invalid {
                message: format!("`{name}` is a default role and cannot be deleted"),
            });
        }
        if !self.custom_roles.contains(name) {
            return Err(not_found("role", name));
        }
        let assignees = self.role_assignees(name);
        if !assignees.is_empty() {
            return Err(OpError::InUse {
                message: format!("role `{name}` is still assigned to {}; unassign it first", assignees.join(", ")),
            });
        }
        let marking = self.spaces_exporting_through(name);
        if !marking.is_empty() {
            return Err(OpError::InUse {
                message: format!(
                    "role `{name}` is named by the export mark of space {}; take it out of `exportOnlyThrough` first",
                    marking.iter().map(|s| format!("`{s}`")).collect::<Vec<_>>().join(", ")
                ),
            });
        }
        self.custom_roles.remove(name);
        Ok(())
    }

    /// The spaces whose export mark names the custom role `name` (a pass over the spaces:
    /// only deleting and renaming a role ask, and both already pass over its holders).
    pub(crate) fn spaces_exporting_through(&self, name: &str) -> Vec<String> {
        self.spaces
            .iter()
            .filter(|s| s.export_only_through.as_ref().is_some_and(|roles| roles.iter().any(|r| r == name)))
            .map(|s| s.id.clone())
            .collect()
    }

    /// Checks the roles of an export mark: custom roles that exist, each named once.
    pub(crate) fn check_export_roles(&self, roles: &[String]) -> Result<(), OpError> {
        for (i, name) in roles.iter().enumerate() {
            if roles[..i].contains(name) {
                return Err(OpError::Invalid {
                    message: format!("role `{name}` is named twice in `exportOnlyThrough`"),
                });
            }
            if !self.custom_roles.contains(name) {
                let hint = if role::builtin_role(name).is_some() || name == USER_DEFAULT {
                    "it is a default role; an export mark names custom roles only"
                } else {
                    "create the custom role first"
                };
                return Err(OpError::Invalid {
                    message: format!("`exportOnlyThrough` names `{name}`, which is not a custom role ({hint})"),
                });
            }
        }
        Ok(())
    }

    /// Marks a space so that data leaves its items only through one of `roles` (custom
    /// roles; empty: through none), or takes the mark off (`None`). Portcullis's own
    /// extension, off unless set (`docs/export-control.md`).
    pub(crate) fn set_export_only_through(&mut self, id: &str, roles: Option<&[String]>) -> Result<(), OpError> {
        if let Some(roles) = roles {
            self.check_export_roles(roles)?;
        }
        let space = self.spaces.get_mut(id).ok_or_else(|| not_found("space", id))?;
        space.export_only_through = roles.map(<[String]>::to_vec);
        Ok(())
    }

    /// Replaces UserDefault's values.
    pub fn replace_user_default(&mut self, values: BTreeMap<Permission, PermissionValue>) -> Result<(), OpError> {
        for (permission, value) in &values {
            let def = permission.def();
            if !def.in_user_default {
                return Err(ModelError::NotInUserDefault { permission: def.key }.into());
            }
            if !def.values.contains(value) {
                return Err(ModelError::BadPermissionValue {
                    permission: def.key,
                    value: value.as_str().into(),
                    known: def.value_names(),
                }
                .into());
            }
        }
        self.user_default = values;
        Ok(())
    }

    /// Adds a space (unique id and name; the owner must exist).
    pub(crate) fn create_space(&mut self, space: Space) -> Result<(), OpError> {
        if space.name.trim().is_empty() {
            return Err(OpError::Invalid {
                message: "a space needs a non-empty `name`".into(),
            });
        }
        if self.space(&space.id).is_some() {
            return Err(conflict("space", &space.id));
        }
        if self.refs().space_named(&space.name).is_some() {
            return Err(conflict("space name", &space.name));
        }
        if let Some(owner) = &space.owner
            && self.user(owner).is_none()
        {
            return Err(not_found("user", owner));
        }
        if let Some(roles) = &space.export_only_through {
            self.check_export_roles(roles)?;
        }
        self.spaces.upsert(Space {
            members: Vec::new(),
            ..space.clone()
        });
        for member in &space.members {
            if let Err(error) = self.set_space_member(&space.id, member.assignee.clone(), member.roles) {
                self.spaces.remove(&space.id);
                return Err(error);
            }
        }
        Ok(())
    }

    /// Renames a space (names stay unique) or changes its owner.
    pub(crate) fn update_space(&mut self, id: &str, name: Option<&str>, owner: Option<&str>) -> Result<(), OpError> {
        if let Some(name) = name
            && self.refs().space_named(name).is_some_and(|named| named != id)
        {
            return Err(conflict("space name", name));
        }
        if let Some(owner) = owner
            && self.user(owner).is_none()
        {
            return Err(not_found("user", owner));
        }
        let space = self.spaces.get_mut(id).ok_or_else(|| not_found("space", id))?;
        if let Some(name) = name {
            space.name = name.to_owned();
        }
        if let Some(owner) = owner {
            space.owner = Some(owner.to_owned());
            // The owner holds the Owner column, never an assignment.
            space.members.retain(|m| m.assignee != Assignee::User(owner.to_owned()));
        }
        Ok(())
    }

    /// Deletes a space, refused while it holds content.
    pub(crate) fn delete_space(&mut self, id: &str) -> Result<(), OpError> {
        if self.space(id).is_none() {
            return Err(not_found("space", id));
        }
        let n_items = self.refs().items_in(id);
        if n_items > 0 {
            return Err(OpError::InUse {
                message: format!("space `{id}` still holds {n_items} items; move or delete them first"),
            });
        }
        self.spaces.remove(id);
        Ok(())
    }

    /// Creates or replaces one assignee's roles in a space (one assignment per assignee).
    pub fn set_space_member(&mut self, space_id: &str, assignee: Assignee, roles: SpaceRoleSet) -> Result<(), OpError> {
        self.check_assignee(&assignee)?;
        let space = self.spaces.get_mut(space_id).ok_or_else(|| not_found("space", space_id))?;
        if roles.is_empty() {
            return Err(OpError::Invalid {
                message: "an assignment needs at least one role".into(),
            });
        }
        let assignable = space.space_type.assignable_roles();
        if let Some(role) = roles.iter().find(|r| !assignable.contains(*r)) {
            return Err(ModelError::RoleNotAssignableInSpace {
                role: role.as_str(),
                space_type: space.space_type,
                assignable: assignable.names(),
            }
            .into());
        }
        if let Some(owner) = &space.owner
            && assignee == Assignee::User(owner.clone())
        {
            return Err(OpError::Invalid {
                message: format!("`{owner}` owns space `{space_id}` and holds every role already"),
            });
        }
        match space.members.iter_mut().find(|m| m.assignee == assignee) {
            Some(member) => member.roles = roles,
            None => space.members.push(SpaceMember { assignee, roles }),
        }
        Ok(())
    }

    /// Removes one assignee from a space.
    pub fn remove_space_member(&mut self, space_id: &str, assignee: &Assignee) -> Result<(), OpError> {
        let space = self.spaces.get_mut(space_id).ok_or_else(|| not_found("space", space_id))?;
        let before = space.members.len();
        space.members.retain(|m| &m.assignee != assignee);
        if before == space.members.len() {
            return Err(not_found("space assignment", &assignee.to_string()));
        }
        Ok(())
    }

    fn check_assignee(&self, assignee: &Assignee) -> Result<(), OpError> {
        match assignee {
            Assignee::User(id) if self.user(id).is_none() => Err(not_found("user", id)),
            Assignee::Group(name) if self.group(name).is_none() => Err(not_found("group", name)),
            _ => Ok(()),
        }
    }

    /// Adds an app or data connection (an app never in a data space).
    pub(crate) fn create_content(&mut self, item: Content) -> Result<(), OpError> {
        if self.content_item(&item.id).is_some() {
            return Err(conflict("content", &item.id));
        }
        if let Some(owner) = &item.owner
            && self.user(owner).is_none()
        {
            return Err(not_found("user", owner));
        }
        self.check_placement(&item.id, item.kind, item.space.as_deref())?;
        self.content.upsert(item);
        Ok(())
    }

    /// Names an item's owner (an admin giving a deleted user's app to someone, or an owner
    /// handing it on). The item stays where it is: one in a personal space moves with it to
    /// the new owner's.
    pub(crate) fn set_content_owner(&mut self, id: &str, owner: &str) -> Result<(), OpError> {
        if self.user(owner).is_none() {
            return Err(not_found("user", owner));
        }
        let item = self.content.get_mut(id).ok_or_else(|| not_found("content", id))?;
        item.owner = Some(owner.to_owned());
        Ok(())
    }

    /// Moves an item to another space, or with `None` to its owner's personal space. An app
    /// never goes to a data space, and is refused where its fine-grained shares would not
    /// hold (a personal space, or a space type that does not take their roles).
    pub(crate) fn move_content(&mut self, id: &str, space: Option<&str>) -> Result<(), OpError> {
        let item = self.content_item(id).ok_or_else(|| not_found("content", id))?;
        self.check_placement(id, item.kind, space)?;
        let shareable = space
            .and_then(|s| self.space(s))
            .map_or(SpaceRoleSet::EMPTY, |s| s.space_type.shareable_roles());
        let n_broken = self.shares.of(id).filter(|s| s.roles.iter().any(|r| !shareable.contains(r))).count();
        if n_broken > 0 {
            let place = space.map_or_else(|| "a personal space".to_owned(), |s| format!("space `{s}`"));
            return Err(OpError::InUse {
                message: format!("`{id}` has {n_broken} shares that {place} cannot hold; remove them first"),
            });
        }
        if let Some(item) = self.content.get_mut(id) {
            item.space = space.map(str::to_owned);
        }
        Ok(())
    }

    /// Whether an item of this kind may sit in `space` (`None` = personal): the space exists,
    /// and an app is not put in a data space (spec §8.1, §8.4; README).
    fn check_placement(&self, id: &str, kind: ContentKind, space: Option<&str>) -> Result<(), OpError> {
        let Some(space) = space else { return Ok(()) };
        let target = self.space(space).ok_or_else(|| not_found("space", space))?;
        if kind == ContentKind::App && target.space_type == SpaceType::Data {
            return Err(ModelError::AppInDataSpace {
                app: id.to_owned(),
                space: space.to_owned(),
            }
            .into());
        }
        Ok(())
    }

    /// Deletes an item with its shares and `uses` references.
    pub(crate) fn delete_content(&mut self, id: &str) -> Result<(), OpError> {
        if self.content_item(id).is_none() {
            return Err(not_found("content", id));
        }
        self.content.remove(id);
        self.shares.remove_of(id);
        self.uses.remove_of(id);
        self.uses.remove_of_other(id);
        Ok(())
    }

    /// Records that `consumer` reads `source` when it runs (both must exist; no self-use).
    pub fn add_use(&mut self, reference: Use) -> Result<(), OpError> {
        for id in [&reference.consumer, &reference.source] {
            if self.content_item(id).is_none() {
                return Err(not_found("content", id));
            }
        }
        if reference.consumer == reference.source {
            return Err(OpError::Invalid {
                message: format!("`{}` cannot consume itself", reference.consumer),
            });
        }
        let _ = self.uses.insert(reference);
        Ok(())
    }

    /// Shares one app with a user or group (apps in shared or managed spaces only).
    pub(crate) fn create_share(&mut self, share: Share) -> Result<(), OpError> {
        self.check_assignee(&share.assignee)?;
        let item = self.content_item(&share.resource).ok_or_else(|| not_found("app", &share.resource))?;
        if item.kind != ContentKind::App {
            return Err(OpError::Invalid {
                message: format!("`{}` is not an app; only apps are shared one by one", item.id),
            });
        }
        let space_type = item.space.as_deref().and_then(|s| self.space(s)).map(|s| s.space_type);
        let Some(space_type) = space_type.filter(|t| *t != SpaceType::Data) else {
            return Err(OpError::Invalid {
                message: format!("app `{}` is not in a shared or managed space and cannot be shared one by one", item.id),
            });
        };
        let shareable = space_type.shareable_roles();
        if share.roles.is_empty() || share.roles.iter().any(|r| !shareable.contains(r)) {
            return Err(OpError::Invalid {
                message: format!("a share of an app in a {space_type} space takes the roles {}", shareable.names()),
            });
        }
        self.shares.upsert(share);
        Ok(())
    }

    /// Removes a share.
    pub(crate) fn delete_share(&mut self, resource: &str, assignee: &Assignee) -> Result<(), OpError> {
        match self.shares.remove(resource, assignee) {
            Some(_) => Ok(()),
            None => Err(not_found("share", &format!("{resource} for {assignee}"))),
        }
    }

    /// Adds an OAuth client.
    pub fn create_oauth_client(&mut self, client: OauthClient) -> Result<(), OpError> {
        if self.oauth_client(&client.id).is_some() {
            return Err(conflict("OAuth client", &client.id));
        }
        self.oauth_clients.upsert(client);
        Ok(())
    }

    /// Replaces an OAuth client's name, scopes and impersonation flag (each when given).
    pub fn update_oauth_client(
        &mut self,
        id: &str,
        name: Option<String>,
        scopes: Option<Vec<String>>,
        impersonation: Option<bool>,
    ) -> Result<(), OpError> {
        let client = self.oauth_clients.get_mut(id).ok_or_else(|| not_found("OAuth client", id))?;
        if let Some(name) = name {
            client.name = name;
        }
        if let Some(scopes) = scopes {
            client.scopes = scopes;
        }
        if let Some(impersonation) = impersonation {
            client.impersonation = impersonation;
        }
        Ok(())
    }

    /// Deletes an OAuth client.
    pub fn delete_oauth_client(&mut self, id: &str) -> Result<(), OpError> {
        match self.oauth_clients.remove(id) {
            Some(_) => Ok(()),
            None => Err(not_found("OAuth client", id)),
        }
    }
}

fn check_custom_permissions(permissions: &BTreeMap<Permission, RoleSetting>) -> Result<(), OpError> {
    for (permission, setting) in permissions {
        let def = permission.def();
        if !def.in_custom_roles {
            return Err(OpError::Invalid {
                message: format!("permission `{}` cannot be set in a custom role", def.key),
            });
        }
        match setting {
            RoleSetting::Value(PermissionValue::NotAllowed) => {
                return Err(OpError::Invalid {
                    message: format!("`not-allowed` exists only in UserDefault: a custom role cannot withhold `{}`", def.key),
                });
            }
            RoleSetting::Value(value) if !def.values.contains(value) => {
                return Err(ModelError::BadPermissionValue {
                    permission: def.key,
                    value: value.as_str().into(),
                    known: def.value_names(),
                }
                .into());
            }
            RoleSetting::UserDefault if !def.in_user_default => {
                return Err(OpError::Invalid {
                    message: format!("permission `{}` has no UserDefault value to follow", def.key),
                });
            }
            RoleSetting::Scopes(caps) if caps.is_empty() || caps.0 & !def.all_grants().0 != 0 => {
                return Err(ModelError::BadScopeSetting {
                    permission: def.key,
                    setting: setting.word().into_owned(),
                    known: def.all_grants().iter().map(Capability::scope).collect::<Vec<_>>().join(", "),
                }
                .into());
            }
            _ => {}
        }
    }
    Ok(())
}

fn dedup(items: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::with_capacity(items.len());
    for item in items {
        if !out.contains(item) {
            out.push(item.clone());
        }
    }
    out
}

/// The scopes a custom role can hold: every scope of every permission custom roles may set.
pub fn custom_role_scopes() -> Vec<&'static str> {
    let mut caps = CapSet::EMPTY;
    for permission in Permission::all().filter(|p| p.def().in_custom_roles) {
        caps |= permission.def().all_grants();
    }
    caps.iter().map(Capability::scope).collect()
}

/// A custom role's settings holding exactly `scopes` (Qlik's `assignedScopes`): per
/// permission, the value granting exactly its scopes in the list, else those scopes as a
/// [`RoleSetting::Scopes`] (so `apps.data:export` alone is data export without images).
/// Refused naming the first scope that no permission a custom role may set stands for.
pub fn custom_settings_from_scopes(scopes: &[String]) -> Result<BTreeMap<Permission, RoleSetting>, ModelError> {
    let mut held: BTreeMap<Permission, CapSet> = BTreeMap::new();
    for scope in scopes {
        let permission = Capability::from_scope(scope)
            .and_then(|cap| Some((cap, Permission::granting(cap)?)))
            .filter(|(_, permission)| permission.def().in_custom_roles);
        let Some((cap, permission)) = permission else {
            return Err(ModelError::ScopeNotInCustomRoles {
                scope: scope.clone(),
                known: custom_role_scopes().join(", "),
            });
        };
        *held.entry(permission).or_default() |= cap.bit();
    }
    Ok(held
        .into_iter()
        .map(|(permission, caps)| {
            let setting = match permission.def().value_granting(caps) {
                Some(value) => RoleSetting::Value(value),
                None => RoleSetting::Scopes(caps),
            };
            (permission, setting)
        })
        .collect())
}

/// The permission values that a set of scopes stands for: for each permission, the most
/// granting value whose scopes are all present (used when a client PATCHes a role's
/// `assignedScopes`). Permissions none of whose granting values fit take their
/// "not allowed" value when they have one.
pub fn values_from_scopes(scopes: &[String]) -> BTreeMap<Permission, PermissionValue> {
    let mut out = BTreeMap::new();
    for permission in Permission::all() {
        let def = permission.def();
        let fitting = def.values.iter().copied().find(|v| {
            let granted = def.scopes(*v);
            !granted.is_empty() && granted.iter().all(|s| scopes.iter().any(|given| given == s))
        });
        match fitting {
            Some(value) => {
                out.insert(permission, value);
            }
            None if def.values.contains(&PermissionValue::NotAllowed) => {
                out.insert(permission, PermissionValue::NotAllowed);
            }
            None => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use crate::change::Change;

    /// Runs one change the way every writer does.
    fn ap(t: &mut Tenant, change: Change) -> Result<(), OpError> {
        t.apply(&change).map(|_| ())
    }
    use super::*;
    use crate::space::SpaceRole;

    fn tenant() -> Tenant {
        crate::tenant_file::load_tenant_text(
            "t.yaml",
            "groups: [ { name: crew, providerType: custom } ]\nusers: [ { id: ann, groups: [crew] }, { id: bob } ]\nroles: [ { name: Exporters, permissions: { in-app-content-download: allowed } } ]\n",
        )
        .unwrap()
    }

    fn user(id: &str) -> User {
        User {
            meta: Default::default(),
            id: id.into(),
            name: id.into(),
            email: None,
            entitlement: Entitlement::Professional,
            status: UserStatus::Active,
            roles: vec![],
            groups: vec![],
        }
    }

    #[test]
    fn conflicts_and_missing_things_are_refused_without_change() {
        let mut t = tenant();
        let before = t.clone();
        assert!(matches!(t.create_user(user("ann")), Err(OpError::Conflict { .. })));
        assert!(matches!(
            ap(&mut t, Change::DeleteGroup { name: "crew".into() }),
            Err(OpError::InUse { .. })
        ));
        assert!(matches!(
            ap(&mut t, Change::DeleteSpace { id: "nope".into() }),
            Err(OpError::NotFound { .. })
        ));
        assert!(matches!(t.update_custom_role("TenantAdmin", None, None), Err(OpError::Invalid { .. })));
        assert_eq!(t, before);
    }

    #[test]
    fn a_custom_role_is_deleted_only_once_unassigned() {
        let mut t = tenant();
        t.assign_role("Exporters", &RoleTarget::Group("crew".into())).unwrap();
        let refused = t.delete_custom_role("Exporters").unwrap_err();
        assert!(refused.to_string().contains("group `crew`"), "{refused}");
        t.unassign_role("Exporters", &RoleTarget::Group("crew".into())).unwrap();
        t.delete_custom_role("Exporters").unwrap();
        assert!(t.role("Exporters").is_none());
    }

    #[test]
    fn spaces_keep_unique_names_refuse_bad_roles_and_refuse_deletion_while_full() {
        let mut t = tenant();
        let space = Space {
            meta: Default::default(),
            id: "s1".into(),
            name: "Sales".into(),
            space_type: SpaceType::Shared,
            owner: Some("ann".into()),
            export_only_through: None,
            members: vec![],
        };
        ap(&mut t, Change::CreateSpace { space: space.clone() }).unwrap();
        assert!(matches!(
            ap(
                &mut t,
                Change::CreateSpace {
                    space: Space {
                        id: "s2".into(),
                        ..space.clone()
                    }
                }
            ),
            Err(OpError::Conflict { .. })
        ));
        let publisher = SpaceRoleSet::of(&[SpaceRole::Publisher]);
        assert!(matches!(
            t.set_space_member("s1", Assignee::User("bob".into()), publisher),
            Err(OpError::Model(ModelError::RoleNotAssignableInSpace { .. }))
        ));
        t.set_space_member("s1", Assignee::User("bob".into()), SpaceRoleSet::of(&[SpaceRole::Consumer]))
            .unwrap();
        ap(
            &mut t,
            Change::CreateContent {
                item: Content {
                    id: "a".into(),
                    name: "a".into(),
                    kind: ContentKind::App,
                    space: Some("s1".into()),
                    owner: Some("ann".into()),
                },
            },
        )
        .unwrap();
        assert!(matches!(ap(&mut t, Change::DeleteSpace { id: "s1".into() }), Err(OpError::InUse { .. })));
        ap(&mut t, Change::DeleteContent { id: "a".into() }).unwrap();
        ap(&mut t, Change::DeleteSpace { id: "s1".into() }).unwrap();
    }

    #[test]
    fn an_app_is_never_created_in_or_moved_to_a_data_space() {
        let mut t = tenant();
        let space = |id: &str, space_type| Space {
            meta: Default::default(),
            id: id.into(),
            name: id.into(),
            space_type,
            owner: Some("ann".into()),
            export_only_through: None,
            members: vec![],
        };
        ap(
            &mut t,
            Change::CreateSpace {
                space: space("lake", SpaceType::Data),
            },
        )
        .unwrap();
        ap(
            &mut t,
            Change::CreateSpace {
                space: space("team", SpaceType::Shared),
            },
        )
        .unwrap();
        let item = |id: &str, kind, space: Option<&str>| Content {
            id: id.into(),
            name: id.into(),
            kind,
            space: space.map(str::to_owned),
            owner: Some("ann".into()),
        };
        let before = t.clone();
        let refused = ap(
            &mut t,
            Change::CreateContent {
                item: item("report", ContentKind::App, Some("lake")),
            },
        )
        .unwrap_err();
        assert_eq!(
            refused,
            OpError::Model(ModelError::AppInDataSpace {
                app: "report".into(),
                space: "lake".into()
            })
        );
        assert!(refused.to_string().contains("data space `lake`"), "{refused}");
        assert_eq!(t, before);

        ap(
            &mut t,
            Change::CreateContent {
                item: item("dwh", ContentKind::DataConnection, Some("lake")),
            },
        )
        .unwrap();
        ap(
            &mut t,
            Change::CreateContent {
                item: item("report", ContentKind::App, Some("team")),
            },
        )
        .unwrap();
        let before = t.clone();
        assert!(matches!(
            ap(
                &mut t,
                Change::MoveContent {
                    id: "report".into(),
                    space: Some("lake".into())
                }
            ),
            Err(OpError::Model(ModelError::AppInDataSpace { .. }))
        ));
        assert!(matches!(
            ap(
                &mut t,
                Change::MoveContent {
                    id: "report".into(),
                    space: Some("nowhere".into())
                }
            ),
            Err(OpError::NotFound { .. })
        ));
        assert_eq!(t, before);
        ap(
            &mut t,
            Change::MoveContent {
                id: "dwh".into(),
                space: Some("team".into()),
            },
        )
        .unwrap();
        ap(
            &mut t,
            Change::MoveContent {
                id: "dwh".into(),
                space: Some("lake".into()),
            },
        )
        .unwrap();
        assert_eq!(t.content_item("dwh").unwrap().space.as_deref(), Some("lake"));

        // A move that would strand a fine-grained share is refused too.
        ap(
            &mut t,
            Change::CreateShare {
                share: Share {
                    resource: "report".into(),
                    assignee: Assignee::User("bob".into()),
                    roles: SpaceRoleSet::of(&[SpaceRole::Consumer]),
                },
            },
        )
        .unwrap();
        let before = t.clone();
        assert!(matches!(
            ap(
                &mut t,
                Change::MoveContent {
                    id: "report".into(),
                    space: None
                }
            ),
            Err(OpError::InUse { .. })
        ));
        assert_eq!(t, before);
        ap(
            &mut t,
            Change::DeleteShare {
                resource: "report".into(),
                assignee: Assignee::User("bob".into()),
            },
        )
        .unwrap();
        ap(
            &mut t,
            Change::MoveContent {
                id: "report".into(),
                space: None,
            },
        )
        .unwrap();
        assert_eq!(t.content_item("report").unwrap().space, None);
    }

    #[test]
    fn scopes_map_back_to_permission_values() {
        let values = values_from_scopes(&["apps.image:export".into(), "api-keys".into()]);
        let download = Permission::parse("in-app-content-download").unwrap();
        assert_eq!(values[&download], PermissionValue::NoData);
        assert_eq!(values[&Permission::parse("manage-api-keys").unwrap()], PermissionValue::Allowed);
        assert_eq!(values[&Permission::parse("manage-notes").unwrap()], PermissionValue::NotAllowed);
        let all = values_from_scopes(&["apps.data:export".into(), "apps.image:export".into()]);
        assert_eq!(all[&download], PermissionValue::Allowed);
    }

    #[test]
    fn custom_roles_hold_any_set_of_their_scopes_each_meaning_itself() {
        let download = Permission::parse("in-app-content-download").unwrap();
        let reports = Permission::parse("generate-reports").unwrap();
        let scopes = |list: &[&str]| list.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let data_only = custom_settings_from_scopes(&scopes(&["apps.data:export", "reports"])).unwrap();
        assert_eq!(data_only[&download], RoleSetting::Scopes(Capability::ExportData.bit()));
        assert_eq!(data_only[&reports], RoleSetting::Scopes(Capability::ReportsFull.bit()));
        assert_eq!(data_only.len(), 2, "permissions not named are not set");
        let both = custom_settings_from_scopes(&scopes(&["apps.image:export", "apps.data:export", "api-keys"])).unwrap();
        assert_eq!(
            both[&download],
            RoleSetting::Value(PermissionValue::Allowed),
            "a set a value grants is that value"
        );
        assert_eq!(
            both[&Permission::parse("manage-api-keys").unwrap()],
            RoleSetting::Value(PermissionValue::Allowed)
        );
        for refused in ["admin_classic", "spaces.shared:create", "nope"] {
            let error = custom_settings_from_scopes(&scopes(&["notes", refused])).unwrap_err();
            assert!(
                error
                    .to_string()
                    .starts_with(&format!("scope `{refused}` cannot be held by a custom role")),
                "{error}"
            );
        }
        // In words, as the store and tenant files keep them, and back.
        for setting in [
            data_only[&download],
            both[&download],
            RoleSetting::UserDefault,
            RoleSetting::Scopes(CapSet::of(&[Capability::ReportsFull])),
        ] {
            assert_eq!(RoleSetting::parse_word(&setting.word()), Some(setting));
        }
        assert_eq!(data_only[&download].word(), "apps.data:export");
        // In the change log, as every node replays it.
        let change = Change::UpdateCustomRole {
            name: "Half".into(),
            description: None,
            permissions: Some(data_only.clone()),
        };
        let text = serde_json::to_string(&change).unwrap();
        assert!(text.contains(r#""in-app-content-download":"apps.data:export""#), "{text}");
        assert_eq!(serde_json::from_str::<Change>(&text).unwrap(), change);
        // The model refuses a scope setting outside its permission.
        let mut tenant = Tenant::new("t");
        let mut permissions = BTreeMap::new();
        permissions.insert(download, RoleSetting::Scopes(Capability::ManageNotes.bit()));
        let role = CustomRole {
            name: "Odd".into(),
            description: String::new(),
            permissions,
            meta: Default::default(),
        };
        let error = ap(&mut tenant, Change::CreateCustomRole { role }).unwrap_err();
        assert!(
            error
                .to_string()
                .contains("not a set of the scopes of permission `in-app-content-download`"),
            "{error}"
        );
    }
}
