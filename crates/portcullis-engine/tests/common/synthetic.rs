//! A deterministic synthetic tenant for tests and benches: users in several groups, custom
//! roles, spaces of every type with user and group members, apps and data connections with
//! shares and `uses` references, and OAuth clients. Same size and seed → same tenant.

use std::collections::BTreeMap;

use portcullis_model::tenant::*;
use portcullis_model::{Permission, PermissionValue, SpaceRole, SpaceRoleSet, SpaceType};

/// A tiny deterministic generator (SplitMix64), so the tenant does not depend on a crate.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n.max(1) as u64) as usize
    }
}

pub fn user_id(i: usize) -> String {
    format!("u{i}")
}

/// Builds a tenant of `n_users` users (groups, spaces and content scale with it).
pub fn tenant(n_users: usize, seed: u64) -> Tenant {
    tenant_sized(n_users, n_users, seed)
}

/// The same with `n_content` apps and data connections.
pub fn tenant_sized(n_users: usize, n_content: usize, seed: u64) -> Tenant {
    let mut rng = Rng::new(seed);
    let mut tenant = Tenant::new("synthetic");
    let download = Permission::parse("in-app-content-download").unwrap();
    tenant.user_default.insert(download, PermissionValue::NoData);
    for r in 0..10 {
        let mut permissions = BTreeMap::new();
        permissions.insert(
            download,
            if r % 2 == 0 {
                RoleSetting::Value(PermissionValue::Allowed)
            } else {
                RoleSetting::UserDefault
            },
        );
        tenant.custom_roles.upsert(CustomRole {
            meta: Default::default(),
            name: format!("custom{r}"),
            description: String::new(),
            permissions,
        });
    }
    let builtin = ["SharedSpaceCreator", "ManagedSpaceCreator", "Steward", "PrivateAnalyticsContentCreator"];
    let n_groups = (n_users / 20).max(2);
    for g in 0..n_groups {
        let roles = if g % 3 == 0 {
            vec![format!("custom{}", g % 10)]
        } else {
            vec![builtin[g % builtin.len()].to_owned()]
        };
        tenant.groups.upsert(Group {
            meta: Default::default(),
            name: format!("g{g}"),
            provider_type: ProviderType::Idp,
            roles,
        });
    }
    tenant.everyone_roles.push("Steward".into());
    for i in 0..n_users {
        let mut groups: Vec<String> = (0..1 + rng.below(5)).map(|_| format!("g{}", rng.below(n_groups))).collect();
        groups.sort();
        groups.dedup();
        let roles = match i % 50 {
            0 => vec!["TenantAdmin".to_owned()],
            1..=5 => vec![format!("custom{}", i % 10)],
            _ => vec![],
        };
        tenant.users.upsert(User {
            meta: Default::default(),
            id: user_id(i),
            name: format!("User {i}"),
            email: None,
            entitlement: if i % 7 == 0 { Entitlement::Analyzer } else { Entitlement::Professional },
            status: if i % 97 == 0 { UserStatus::Disabled } else { UserStatus::Active },
            roles: roles
                .into_iter()
                .map(|role| DirectRole {
                    role,
                    origin: DirectOrigin::Assigned,
                })
                .collect(),
            groups,
        });
    }
    let n_spaces = (n_users / 50).max(3);
    for s in 0..n_spaces {
        let space_type = [SpaceType::Shared, SpaceType::Managed, SpaceType::Data][s % 3];
        let assignable: Vec<SpaceRole> = space_type.assignable_roles().iter().collect();
        let owner = user_id(rng.below(n_users));
        let mut members = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for _ in 0..8 {
            let assignee = if rng.below(3) == 0 {
                Assignee::Group(format!("g{}", rng.below(n_groups)))
            } else {
                Assignee::User(user_id(rng.below(n_users)))
            };
            if assignee == Assignee::User(owner.clone()) || !seen.insert(assignee.clone()) {
                continue;
            }
            let roles = SpaceRoleSet::of(&[assignable[rng.below(assignable.len())]]);
            members.push(SpaceMember { assignee, roles });
        }
        tenant.spaces.upsert(Space {
            meta: Default::default(),
            id: format!("s{s}"),
            name: format!("Space {s}"),
            space_type,
            owner: Some(owner),
            export_only_through: None,
            members,
        });
    }
    for c in 0..n_content {
        let in_space = rng.below(4) != 0;
        let space = in_space.then(|| format!("s{}", rng.below(n_spaces)));
        let kind = if c % 4 == 3 { ContentKind::DataConnection } else { ContentKind::App };
        tenant.content.upsert(Content {
            id: format!("c{c}"),
            name: format!("Item {c}"),
            kind,
            space,
            owner: Some(user_id(rng.below(n_users))),
        });
    }
    for c in 0..n_content {
        if tenant.content[c].kind != ContentKind::App {
            continue;
        }
        if rng.below(3) == 0 {
            let source = (c / 4) * 4 + 3;
            if source < n_content {
                tenant.uses.upsert(Use {
                    consumer: format!("c{c}"),
                    source: format!("c{source}"),
                });
            }
        }
        let space_type = tenant.content[c].space.as_ref().and_then(|s| tenant.space(s)).map(|s| s.space_type);
        if let Some(space_type) = space_type.filter(|t| *t != SpaceType::Data)
            && rng.below(5) == 0
        {
            let role = space_type.shareable_roles().iter().next().unwrap();
            tenant.shares.upsert(Share {
                resource: format!("c{c}"),
                assignee: Assignee::User(user_id(rng.below(n_users))),
                roles: SpaceRoleSet::of(&[role]),
            });
        }
    }
    tenant.oauth_clients.upsert(OauthClient {
        meta: Default::default(),
        id: "portal".into(),
        name: "portal".into(),
        scopes: vec!["user_default".into()],
        impersonation: false,
    });
    tenant.oauth_clients.upsert(OauthClient {
        meta: Default::default(),
        id: "reader".into(),
        name: "reader".into(),
        scopes: vec!["apps:read".into(), "spaces:read".into()],
        impersonation: false,
    });
    tenant.oauth_clients.upsert(OauthClient {
        meta: Default::default(),
        id: "console".into(),
        name: "console".into(),
        scopes: vec!["user_default".into(), "admin_classic".into()],
        impersonation: false,
    });
    tenant
}
