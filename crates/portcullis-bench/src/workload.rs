//! The deterministic tenant generator: tenants shaped like real ones (skewed group sizes,
//! a few admins, spaces of all three types, apps next to the data connections they read,
//! shares, OAuth clients). Same [`Shape`] → same [`Tenant`], on every machine.
//!
//! It builds `portcullis_model::Tenant` values directly (no YAML round trip), and everything
//! it builds passes the tenant file's validation: unique ids, no owner assigned in their own
//! space, each assignee at most once per space, shares only on apps in shared or managed spaces.

use std::collections::BTreeMap;

use portcullis_model::tenant::{
    Assignee, Content, ContentKind, CustomRole, DirectOrigin, DirectRole, Entitlement, Group, OauthClient, ProviderType, RoleSetting, Share, Space,
    SpaceMember, Tenant, Use, User, UserStatus,
};
use portcullis_model::{Permission, PermissionValue, SpaceRole, SpaceRoleSet, SpaceType};

use crate::rng::Rng;

/// How big the tenant is and which seed drives it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shape {
    /// Users.
    pub users: usize,
    /// Groups (besides Everyone).
    pub groups: usize,
    /// Custom roles (at most 500, the tenant limit).
    pub custom_roles: usize,
    /// Shared, managed and data spaces together.
    pub spaces: usize,
    /// Apps and data connections together.
    pub content: usize,
    /// OAuth clients.
    pub clients: usize,
    /// The seed.
    pub seed: u64,
}

impl Shape {
    /// The full tenant: 100,000 users, 5,000 groups, 50 custom roles, 2,000 spaces,
    /// 1,000,000 apps and data connections, 100 OAuth clients.
    pub const FULL: Shape = Shape {
        users: 100_000,
        groups: 5_000,
        custom_roles: 50,
        spaces: 2_000,
        content: 1_000_000,
        clients: 100,
        seed: 1,
    };

    /// The same proportions for another number of users (groups = users / 20, spaces =
    /// users / 50, ten content items per user).
    pub fn scaled(users: usize, seed: u64) -> Shape {
        Shape {
            users: users.max(10),
            groups: (users / 20).max(2),
            custom_roles: 50,
            spaces: (users / 50).max(3),
            content: users.max(10) * 10,
            clients: 100,
            seed,
        }
    }
}

/// A user's id in generated tenants.
pub fn user_id(idx: usize) -> String {
    format!("u{idx}")
}

/// A group's name in generated tenants.
pub fn group_name(idx: usize) -> String {
    format!("g{idx}")
}

/// A space's id in generated tenants.
pub fn space_id(idx: usize) -> String {
    format!("s{idx}")
}

/// A content item's id in generated tenants (apps and data connections share one range).
pub fn content_id(idx: usize) -> String {
    format!("c{idx}")
}

/// The custom roles: export rights, sharing, API keys, automations and reports in a few
/// combinations, some following UserDefault.
fn custom_roles(n: usize) -> Vec<CustomRole> {
    let key = |k: &str| Permission::parse(k).expect("catalogue key");
    let download = key("in-app-content-download");
    let share = key("share-apps-fine-grained");
    let api_keys = key("manage-api-keys");
    let automations = key("private-automations");
    let reports = key("generate-reports");
    (0..n.min(portcullis_model::role::MAX_CUSTOM_ROLES))
        .map(|r| {
            let mut permissions = BTreeMap::new();
            match r % 5 {
                0 => drop(permissions.insert(download, RoleSetting::Value(PermissionValue::Allowed))),
                1 => drop(permissions.insert(download, RoleSetting::UserDefault)),
                2 => drop(permissions.insert(api_keys, RoleSetting::Value(PermissionValue::Allowed))),
                3 => {
                    permissions.insert(download, RoleSetting::Value(PermissionValue::Allowed));
                    permissions.insert(automations, RoleSetting::Value(PermissionValue::Allowed));
                }
                _ => drop(permissions.insert(reports, RoleSetting::Value(PermissionValue::Partial))),
            }
            if r % 7 == 0 {
                permissions.insert(share, RoleSetting::Value(PermissionValue::Allowed));
            }
            CustomRole {
                meta: Default::default(),
                name: format!("Custom{r:02}"),
                description: format!("generated role {r}"),
                permissions,
            }
        })
        .collect()
}

/// Picks a space role among those assignable in `space_type`, viewers most often.
fn member_role(rng: &mut Rng, space_type: SpaceType) -> SpaceRole {
    use SpaceRole::*;
    let weighted: &[(SpaceRole, u32)] = match space_type {
        SpaceType::Shared => &[(Consumer, 50), (Producer, 25), (Codeveloper, 8), (Dataconsumer, 10), (Facilitator, 7)],
        SpaceType::Managed => &[
            (Consumer, 45),
            (Basicconsumer, 15),
            (Contributor, 12),
            (Publisher, 8),
            (Operator, 8),
            (Dataconsumer, 7),
            (Facilitator, 5),
        ],
        SpaceType::Data => &[
            (Consumer, 30),
            (Dataconsumer, 20),
            (Producer, 20),
            (Datapreview, 10),
            (Operator, 10),
            (Facilitator, 5),
            (Publisher, 5),
        ],
    };
    let total: u32 = weighted.iter().map(|(_, w)| w).sum();
    let mut pick = rng.below(total as usize) as u32;
    for (role, weight) in weighted {
        if pick < *weight {
            return *role;
        }
        pick -= weight;
    }
    weighted[0].0
}

/// Generates the tenant of a shape.
pub fn generate(shape: &Shape) -> Tenant {
    let mut rng = Rng::new(shape.seed);
    let mut tenant = Tenant::new(format!("bench-{}u-{}", shape.users, shape.seed));
    // A realistic restriction: data export only through a custom role.
    tenant.user_default.insert(
        Permission::parse("in-app-content-download").expect("catalogue key"),
        PermissionValue::NoData,
    );
    tenant.custom_roles = custom_roles(shape.custom_roles).into();
    let n_roles = tenant.custom_roles.len();
    let custom_role = |r: usize| format!("Custom{:02}", r % n_roles.max(1));

    let creator_roles = [
        "SharedSpaceCreator",
        "ManagedSpaceCreator",
        "DataSpaceCreator",
        "Steward",
        "DataServicesContributor",
    ];
    for g in 0..shape.groups {
        let roles = match g % 10 {
            0 | 1 if n_roles > 0 => vec![custom_role(g / 10)],
            2 => vec![creator_roles[(g / 10) % creator_roles.len()].to_owned()],
            _ => Vec::new(),
        };
        let provider_type = if g % 8 == 7 { ProviderType::Custom } else { ProviderType::Idp };
        tenant.groups.upsert(Group {
            meta: Default::default(),
            name: group_name(g),
            provider_type,
            roles,
        });
    }
    tenant.everyone_roles.push("PrivateAnalyticsContentCreator".into());

    for u in 0..shape.users {
        // 1–20 groups, most users in few: cube of a uniform draw.
        let n_groups = 1 + (19.0 * rng.unit().powi(3)) as usize;
        let mut groups: Vec<String> = (0..n_groups.min(shape.groups)).map(|_| group_name(rng.skewed(shape.groups))).collect();
        groups.sort_unstable();
        groups.dedup();
        let roles: Vec<&str> = match rng.below(1000) {
            0 => vec!["TenantAdmin"],
            1 => vec!["AnalyticsAdmin"],
            2 => vec!["DataAdmin"],
            3..=30 => vec!["SharedSpaceCreator", "ManagedSpaceCreator"],
            31..=50 => vec!["Developer"],
            _ => Vec::new(),
        };
        let mut roles: Vec<DirectRole> = roles
            .into_iter()
            .map(|r| DirectRole {
                role: r.to_owned(),
                origin: DirectOrigin::Assigned,
            })
            .collect();
        if n_roles > 0 && rng.below(50) == 0 {
            roles.push(DirectRole {
                role: custom_role(rng.below(n_roles)),
                origin: DirectOrigin::Assigned,
            });
        }
        let status = match rng.below(200) {
            0 | 1 => UserStatus::Disabled,
            2 => UserStatus::Invited,
            _ => UserStatus::Active,
        };
        let entitlement = if rng.below(10) < 7 {
            Entitlement::Professional
        } else {
            Entitlement::Analyzer
        };
        tenant.users.upsert(User {
            meta: Default::default(),
            id: user_id(u),
            name: format!("User {u}"),
            email: Some(format!("u{u}@example.com")),
            entitlement,
            status,
            roles,
            groups,
        });
    }

    // Spaces: half shared, a third managed, the rest data; members skewed like groups.
    let mut space_owners = Vec::with_capacity(shape.spaces);
    for s in 0..shape.spaces {
        let space_type = match rng.below(20) {
            0..=9 => SpaceType::Shared,
            10..=16 => SpaceType::Managed,
            _ => SpaceType::Data,
        };
        let owner = rng.below(shape.users);
        space_owners.push(owner);
        let n_users = 2 + (60.0 * rng.unit().powi(2)) as usize;
        let n_groups = 1 + rng.below(4);
        let mut seen_users = Vec::with_capacity(n_users);
        let mut seen_groups = Vec::with_capacity(n_groups);
        let mut members = Vec::with_capacity(n_users + n_groups);
        for _ in 0..n_users {
            let user = rng.below(shape.users);
            if user == owner || seen_users.contains(&user) {
                continue;
            }
            seen_users.push(user);
            let roles = SpaceRoleSet::of(&[member_role(&mut rng, space_type)]);
            members.push(SpaceMember {
                assignee: Assignee::User(user_id(user)),
                roles,
            });
        }
        for _ in 0..n_groups {
            let group = rng.skewed(shape.groups);
            if seen_groups.contains(&group) {
                continue;
            }
            seen_groups.push(group);
            let roles = SpaceRoleSet::of(&[member_role(&mut rng, space_type)]);
            members.push(SpaceMember {
                assignee: Assignee::Group(group_name(group)),
                roles,
            });
        }
        tenant.spaces.upsert(Space {
            meta: Default::default(),
            id: space_id(s),
            name: format!("Space {s}"),
            space_type,
            owner: Some(user_id(owner)),
            export_only_through: None,
            members,
        });
    }

    // Content: four in five items in a space (popular spaces hold more), the rest personal;
    // one in four a data connection, and every item of a data space (it holds no apps).
    // Apps read earlier connections of their space.
    let mut connections_by_space: Vec<Vec<usize>> = vec![Vec::new(); shape.spaces];
    let mut personal_connections: Vec<usize> = Vec::new();
    tenant.content.reserve(shape.content);
    for c in 0..shape.content {
        let space = (shape.spaces > 0 && rng.below(5) != 0).then(|| rng.skewed(shape.spaces));
        let in_data_space = space.is_some_and(|s| tenant.spaces[s].space_type == SpaceType::Data);
        let kind = if rng.below(4) == 0 || in_data_space {
            ContentKind::DataConnection
        } else {
            ContentKind::App
        };
        let owner = match space {
            // Mostly the space's owner or one of its members; sometimes anyone.
            Some(s) => match rng.below(3) {
                0 => space_owners[s],
                _ => {
                    let members = &tenant.spaces[s].members;
                    match members.get(rng.below(members.len())).map(|m| &m.assignee) {
                        Some(Assignee::User(id)) => id[1..].parse().expect("generated user id"),
                        Some(Assignee::Group(_)) => rng.below(shape.users),
                        None => space_owners[s],
                    }
                }
            },
            None => rng.below(shape.users),
        };
        match (kind, space) {
            (ContentKind::DataConnection, Some(s)) => connections_by_space[s].push(c),
            (ContentKind::DataConnection, None) => personal_connections.push(c),
            (ContentKind::App, _) => {
                let pool = match space {
                    Some(s) => &connections_by_space[s],
                    None => &personal_connections,
                };
                if !pool.is_empty() && rng.below(3) != 0 {
                    let n_sources = 1 + rng.below(3);
                    let mut sources: Vec<usize> = (0..n_sources).map(|_| pool[pool.len() - 1 - rng.below(pool.len().min(50))]).collect();
                    sources.sort_unstable();
                    sources.dedup();
                    for source in sources {
                        tenant.uses.upsert(Use {
                            consumer: content_id(c),
                            source: content_id(source),
                        });
                    }
                }
                let shareable = space
                    .map(|s| tenant.spaces[s].space_type.shareable_roles())
                    .unwrap_or(SpaceRoleSet::EMPTY);
                if !shareable.is_empty() && rng.below(50) == 0 {
                    let roles: Vec<SpaceRole> = shareable.iter().collect();
                    let role = SpaceRoleSet::of(&[roles[rng.below(roles.len())]]);
                    let assignee = if rng.below(3) == 0 {
                        Assignee::Group(group_name(rng.skewed(shape.groups)))
                    } else {
                        Assignee::User(user_id(rng.below(shape.users)))
                    };
                    tenant.shares.upsert(Share {
                        resource: content_id(c),
                        assignee,
                        roles: role,
                    });
                }
            }
        }
        tenant.content.upsert(Content {
            id: content_id(c),
            name: format!("Item {c}"),
            kind,
            space: space.map(space_id),
            owner: Some(user_id(owner)),
        });
    }

    let scope_sets: &[&[&str]] = &[
        &["user_default"],
        &["apps:read", "spaces:read"],
        &["apps", "spaces", "data-connections"],
        &["user_default", "admin_classic"],
        &["apps:read", "apps.data:export"],
        &["data-connections:read"],
        &["admin.spaces", "admin.apps"],
    ];
    for k in 0..shape.clients {
        let scopes = scope_sets[k % scope_sets.len()].iter().map(|s| (*s).to_owned()).collect();
        tenant.oauth_clients.upsert(OauthClient {
            meta: Default::default(),
            id: format!("client{k}"),
            name: format!("Client {k}"),
            scopes,
            impersonation: false,
        });
    }
    tenant
}
