//! `list-resources`: every content item a user may take one action on, in snapshot order;
//! and the other way round, who may take an action on one resource ([`candidate_users`]).
//!
//! A listing asks the same question of up to a million items, and almost all of the answer
//! depends on the item's space, not the item. So the grant paths of `decide.rs` are worked
//! out once per call — per space (with and without owning the item), the requirements and
//! the OAuth filter — and each item then costs a look at its packed `ContentHot` entry.
//! Reloads, whose sources are checked item by item, go through the full decision.
//! INVARIANT: the result equals filtering every item through `decide` (a property test checks it).
//!
//! Who may act on a resource is answered from the other side: a space or an item can only be
//! reached by its owners, the members it names (users and the members of groups), its
//! sharees, and the administrators whose role reaches every space of its type, so those are
//! the only users worth deciding for. INVARIANT: every user `decide` allows through an API
//! key or an OAuth client is a candidate (a property test checks it).

use portcullis_model::{Action, Capability, Channel, ContentKind, ResourceKind, SpaceType, UserStatus};

use crate::decide::{
    Ctx, Silent, admin_without_role, edit_script_in_shared, evaluate, export_mark, requirements, scope_allows, shared_with, space_row,
};
use crate::request::{Request, Resource};
use crate::snapshot::{ClientIdx, ContentHot, ContentIdx, Snapshot, SpaceInfo, TenantRights, UserIdx};
use crate::tables;

/// What the user path and the admin path give in one space.
#[derive(Debug, Clone, Copy, Default)]
struct SpaceGrant {
    /// For an item the user does not own.
    not_owner: bool,
    /// For an item the user owns.
    owner: bool,
    /// Through the admin path.
    admin: bool,
    /// The space's export mark withholds the action from this user on every user path
    /// (shares included).
    export_shut: bool,
}

/// The content the user may take `action` on through `channel` (empty for tenant and space
/// actions); `session` as in [`Request::session`].
pub fn permitted_content<'s>(
    snapshot: &'s Snapshot,
    user: UserIdx,
    channel: Channel<ClientIdx>,
    session: Option<&'s TenantRights>,
    action: Action,
) -> impl Iterator<Item = ContentIdx> + 's {
    list(snapshot, user, channel, session, action).into_iter()
}

fn list(snapshot: &Snapshot, user: UserIdx, channel: Channel<ClientIdx>, session: Option<&TenantRights>, action: Action) -> Vec<ContentIdx> {
    let kind = match action.resource_kind() {
        ResourceKind::App => ContentKind::App,
        ResourceKind::DataConnection => ContentKind::DataConnection,
        ResourceKind::Tenant | ResourceKind::Space => return Vec::new(),
    };
    let Some(info) = snapshot.users.get(user.0 as usize) else {
        return Vec::new();
    };
    if info.status != UserStatus::Active {
        return Vec::new();
    }
    if action == Action::AppReload {
        return snapshot
            .content_hot
            .iter()
            .enumerate()
            .filter(|(_, hot)| hot.kind == Some(kind))
            .map(|(i, _)| ContentIdx(i as u32))
            .filter(|&item| {
                evaluate(
                    snapshot,
                    &Request {
                        user,
                        channel,
                        session,
                        action,
                        resource: Resource::Content(item),
                        explain: false,
                    },
                    &mut Silent,
                )
            })
            .collect();
    }
    let (rights, scopes) = match channel {
        Channel::Session => (session.unwrap_or(&info.rights), None),
        Channel::ApiKey => (&info.rights, None),
        Channel::OAuth(client) => match snapshot.clients.get(client.0 as usize) {
            Some(client) => (&info.rights, Some(&client.scopes)),
            None => return Vec::new(),
        },
    };
    let ctx = Ctx {
        snapshot,
        user,
        rights,
        scopes,
    };
    let t = &mut Silent;
    let user_path_open = requirements(&ctx, action, t) && scope_allows(&ctx, action, false, t);
    let admin_scope_open = scope_allows(&ctx, action, true, t);
    let grants: Vec<SpaceGrant> = snapshot
        .spaces
        .slots()
        .map(|space| {
            let Some(space) = space else { return SpaceGrant::default() };
            let admin = admin_scope_open && admin_without_role(&ctx, space, action, t);
            // The export mark closes the user paths (own rows and shares) of a marked space.
            let export_shut = user_path_open && !export_mark(&ctx, space, action, t);
            if !user_path_open || export_shut {
                return SpaceGrant {
                    admin,
                    export_shut,
                    ..SpaceGrant::default()
                };
            }
            let (not_owner, owner) = match (space.space_type, action) {
                (SpaceType::Shared, Action::AppEditScript) => {
                    (edit_script_in_shared(&ctx, space, false, t), edit_script_in_shared(&ctx, space, true, t))
                }
                _ => {
                    let granted = space_row(&ctx, space, tables::row_for_entitlement(space.space_type, action, rights.entitlement), t);
                    (granted, granted)
                }
            };
            SpaceGrant {
                not_owner,
                owner,
                admin,
                export_shut: false,
            }
        })
        .collect();
    let personal_open = user_path_open && tables::personal_owner_grants(action);
    let may_share = user_path_open && tables::share_grants(action);
    let mut out = Vec::new();
    let mut base = 0usize;
    for leaf in snapshot.content_hot.leaves() {
        for (offset, hot) in leaf.iter().enumerate() {
            if hot.kind != Some(kind) {
                continue;
            }
            let i = base + offset;
            let owns = hot.owner == user.0;
            let allowed = if hot.space == ContentHot::PERSONAL {
                personal_open && owns
            } else {
                let grant = grants.get(hot.space as usize).copied().unwrap_or_default();
                grant.admin
                    || if owns { grant.owner } else { grant.not_owner }
                    || (may_share
                        && hot.shared
                        && !grant.export_shut
                        && snapshot.content.get(i).is_some_and(|item| shared_with(&ctx, item, action, t)))
            };
            if allowed {
                out.push(ContentIdx(i as u32));
            }
        }
        base += leaf.len();
    }
    out
}

/// The users who can hold a grant of any action on `resource` through an API key or an OAuth
/// client, sorted and without repeats: a superset of those [`crate::decide()`] allows there,
/// found through the snapshot's indices (space members, group members, shares, the holders
/// of admin roles) instead of every user. `None` when every user is a candidate: tenant-level
/// actions (UserDefault grants capabilities to everyone), and spaces whose administrators'
/// role is Everyone's. Not for sessions, whose rights were frozen at login.
pub fn candidate_users(snapshot: &Snapshot, resource: Resource) -> Option<Vec<UserIdx>> {
    let mut users = Vec::new();
    let space = match resource {
        Resource::Tenant => return None,
        Resource::Space(space) => snapshot.spaces.get(space.0 as usize),
        Resource::Content(item) => {
            let Some(info) = snapshot.content.get(item.0 as usize) else {
                return Some(users);
            };
            users.extend(info.owner);
            users.extend(info.user_shares.iter().map(|(user, _)| *user));
            for (group, _) in &info.group_shares {
                if let Some(group) = snapshot.groups.get(group.0 as usize) {
                    users.extend(group.members.iter().copied());
                }
            }
            info.space.and_then(|space| snapshot.spaces.get(space.0 as usize))
        }
    };
    if let Some(space) = space
        && !space_candidates(snapshot, space, &mut users)
    {
        return None;
    }
    users.sort_unstable();
    users.dedup();
    Some(users)
}

/// Adds the users a space's own table can grant to (its owner and members) and its
/// administrators without a role; false when those are every user.
fn space_candidates(snapshot: &Snapshot, space: &SpaceInfo, users: &mut Vec<UserIdx>) -> bool {
    users.extend(space.owner);
    users.extend(space.user_roles.iter().map(|(user, _)| *user));
    for (group, _) in space.group_roles.iter() {
        if let Some(group) = snapshot.groups.get(group.0 as usize) {
            users.extend(group.members.iter().copied());
        }
    }
    let admin = match space.space_type {
        SpaceType::Shared | SpaceType::Managed => Capability::AdminAnalyticsSpaces,
        SpaceType::Data => Capability::AdminDataSpaces,
    };
    snapshot.admin_cap_holders(admin, users)
}
