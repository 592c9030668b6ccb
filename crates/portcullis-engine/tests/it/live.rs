//! Property test of the live view: random tenants take random sequences of writes (every kind
//! of `Change`, refused ones skipped, sometimes several merged into one batch); after each,
//! the snapshot maintained with `Snapshot::apply` must decide EXACTLY as one built from scratch
//! with `Snapshot::build`: every user × action × resource (all spaces, sampled content), every
//! channel (session, API key, each OAuth client), explanations included, and list-resources.
//! Sessions are carried the way the server carries them (clone, then `rebind`) and compared
//! with sessions re-bound to each fresh build, and with sessions stored as the server stores
//! them (frozen at the login, as JSON) and read back against each fresh build, as a restarted
//! node or another node would.

use std::collections::{BTreeMap, BTreeSet};

use portcullis_engine::{Channel, Decision, FrozenRights, RawRequest, Sessions, Snapshot, decide, permitted_content, resolve};
use portcullis_model::change::{Change, Touched};
use portcullis_model::tenant::*;
use portcullis_model::{Action, Permission, PermissionValue, Refs, ResourceKind, SpaceRoleSet, SpaceType};
use proptest::prelude::*;

use crate::prop::{ROLE_POOL, SCOPE_POOL, random_tenant};
use crate::synthetic::Rng;

const PERMS: &[&str] = &[
    "in-app-content-download",
    "share-apps-fine-grained",
    "manage-api-keys",
    "private-automations",
    "evaluate-decisions-for-others",
];

fn pick<'a, T>(rng: &mut Rng, items: &'a [T]) -> &'a T {
    &items[rng.below(items.len())]
}

/// An id that is usually taken and sometimes new (or unknown, for a refusal).
fn some_id(rng: &mut Rng, taken: &[String], prefix: &str, spare: usize) -> String {
    if !taken.is_empty() && rng.below(4) != 0 {
        pick(rng, taken).clone()
    } else {
        format!("{prefix}{}", rng.below(taken.len() + spare))
    }
}

fn role_names(rng: &mut Rng, t: &Tenant) -> Vec<String> {
    let mut pool: Vec<String> = ROLE_POOL.iter().map(|r| r.to_string()).collect();
    pool.extend(t.custom_roles.iter().map(|r| r.name.clone()));
    let n = rng.below(3);
    (0..n).map(|_| pick(rng, &pool).clone()).collect::<BTreeSet<_>>().into_iter().collect()
}

fn permissions(rng: &mut Rng) -> BTreeMap<Permission, RoleSetting> {
    let mut out = BTreeMap::new();
    for key in PERMS {
        let p = Permission::parse(key).unwrap();
        match rng.below(4) {
            0 if p.def().in_user_default => {
                out.insert(p, RoleSetting::UserDefault);
            }
            1 => {
                let allowed: Vec<PermissionValue> = p.def().values.iter().copied().filter(|v| *v != PermissionValue::NotAllowed).collect();
                out.insert(p, RoleSetting::Value(*pick(rng, &allowed)));
            }
            // Some of its scopes that no value grants (data export without images).
            2 => {
                // No draw from the generator, so the rest of the stream stays as it was.
                if let Some(cap) = p.def().all_grants().iter().find(|c| p.def().value_granting(c.bit()).is_none()) {
                    out.insert(p, RoleSetting::Scopes(cap.bit()));
                }
            }
            _ => {}
        }
    }
    out
}

fn assignee(rng: &mut Rng, users: &[String], groups: &[String]) -> Assignee {
    if !groups.is_empty() && rng.below(3) == 0 {
        Assignee::Group(some_id(rng, groups, "g", 2))
    } else {
        Assignee::User(some_id(rng, users, "u", 2))
    }
}

fn space_roles(rng: &mut Rng, space_type: SpaceType) -> SpaceRoleSet {
    let assignable: Vec<_> = space_type.assignable_roles().iter().collect();
    let mut roles = SpaceRoleSet::EMPTY;
    for _ in 0..1 + rng.below(2) {
        roles.insert(*pick(rng, &assignable));
    }
    roles
}

/// A random write to `t`, of any kind; many are valid, some are refused.
pub(crate) fn random_change(rng: &mut Rng, t: &Tenant) -> Change {
    let users: Vec<String> = t.users.iter().map(|u| u.id.clone()).collect();
    let groups: Vec<String> = t.groups.iter().map(|g| g.name.clone()).collect();
    let spaces: Vec<String> = t.spaces.iter().map(|s| s.id.clone()).collect();
    let content: Vec<String> = t.content.iter().map(|c| c.id.clone()).collect();
    let roles: Vec<String> = t.custom_roles.iter().map(|r| r.name.clone()).collect();
    let clients: Vec<String> = t.oauth_clients.iter().map(|c| c.id.clone()).collect();
    let user = |rng: &mut Rng| some_id(rng, &users, "u", 2);
    let group = |rng: &mut Rng| some_id(rng, &groups, "g", 2);
    let space = |rng: &mut Rng| some_id(rng, &spaces, "s", 2);
    let item = |rng: &mut Rng| some_id(rng, &content, "c", 2);
    let target = |rng: &mut Rng| match rng.below(3) {
        0 => RoleTarget::User(some_id(rng, &users, "u", 1)),
        1 => RoleTarget::Group(some_id(rng, &groups, "g", 1)),
        _ => RoleTarget::Everyone,
    };
    let role = |rng: &mut Rng| {
        let mut pool: Vec<String> = ROLE_POOL.iter().map(|r| r.to_string()).collect();
        pool.extend(roles.iter().cloned());
        pick(rng, &pool).clone()
    };
    let entitlement = |rng: &mut Rng| match t.subscription {
        Subscription::CapacityBased => *pick(rng, &[Entitlement::Full, Entitlement::Basic]),
        Subscription::UserBased => *pick(rng, &[Entitlement::Professional, Entitlement::Analyzer, Entitlement::AnalyzerCapacity]),
    };
    let status = |rng: &mut Rng| {
        *pick(
            rng,
            &[
                UserStatus::Active,
                UserStatus::Active,
                UserStatus::Active,
                UserStatus::Disabled,
                UserStatus::Invited,
            ],
        )
    };
    match rng.below(40) {
        0 | 1 => Change::AssignRole {
            role: role(rng),
            target: target(rng),
        },
        2 => Change::UnassignRole {
            role: role(rng),
            target: target(rng),
        },
        3 | 4 => Change::JoinGroup {
            user: user(rng),
            group: group(rng),
        },
        5 => Change::LeaveGroup {
            user: user(rng),
            group: group(rng),
        },
        6 => Change::SetSetting {
            setting: *pick(rng, TenantSetting::ALL),
            value: rng.below(2) == 0,
        },
        7 => {
            let key = *pick(rng, &PERMS[..4]);
            let p = Permission::parse(key).unwrap();
            Change::SetUserDefault {
                permission: p,
                value: *pick(rng, p.def().values),
            }
        }
        8 => {
            let mut values = BTreeMap::new();
            for key in &PERMS[..4] {
                let p = Permission::parse(key).unwrap();
                if rng.below(2) == 0 {
                    values.insert(p, *pick(rng, p.def().values));
                }
            }
            Change::ReplaceUserDefault { values }
        }
        9 => Change::RecordLogin { user: user(rng) },
        10 | 11 => {
            let member_of: Vec<String> = (0..rng.below(3))
                .filter(|_| !groups.is_empty())
                .map(|_| pick(rng, &groups).clone())
                .collect::<BTreeSet<_>>()
                .into_iter()
                .collect();
            let direct = role_names(rng, t)
                .into_iter()
                .map(|role| DirectRole {
                    role,
                    origin: DirectOrigin::Assigned,
                })
                .collect();
            let id = format!("u{}", rng.below(users.len() + 3));
            Change::CreateUser {
                user: User {
                    meta: Default::default(),
                    name: id.clone(),
                    id,
                    email: None,
                    entitlement: entitlement(rng),
                    status: status(rng),
                    roles: direct,
                    groups: member_of,
                },
            }
        }
        12 => Change::UpdateUser {
            id: user(rng),
            name: (rng.below(2) == 0).then(|| format!("n{}", rng.below(9))),
            status: (rng.below(2) == 0).then(|| status(rng)),
        },
        13 => Change::ReplaceUserRoles {
            id: user(rng),
            roles: role_names(rng, t),
        },
        14 => Change::DeleteUser { id: user(rng) },
        15 => {
            let provider_type = if rng.below(2) == 0 { ProviderType::Idp } else { ProviderType::Custom };
            Change::CreateGroup {
                group: Group {
                    meta: Default::default(),
                    name: format!("g{}", rng.below(groups.len() + 2)),
                    provider_type,
                    roles: role_names(rng, t),
                },
            }
        }
        16 => Change::ReplaceGroupRoles {
            name: group(rng),
            roles: role_names(rng, t),
        },
        17 => Change::ReplaceEveryoneRoles { roles: role_names(rng, t) },
        18 => Change::DeleteGroup { name: group(rng) },
        19 => Change::CreateCustomRole {
            role: CustomRole {
                meta: Default::default(),
                name: format!("c{}", rng.below(roles.len() + 2)),
                description: String::new(),
                permissions: permissions(rng),
            },
        },
        20 => Change::UpdateCustomRole {
            name: some_id(rng, &roles, "c", 1),
            description: None,
            permissions: Some(permissions(rng)),
        },
        21 => Change::DeleteCustomRole {
            name: some_id(rng, &roles, "c", 1),
        },
        22 => {
            let space_type = *pick(rng, &[SpaceType::Shared, SpaceType::Managed, SpaceType::Data]);
            let owner = user(rng);
            let mut members: Vec<SpaceMember> = Vec::new();
            for _ in 0..rng.below(3) {
                let assignee = assignee(rng, &users, &groups);
                if assignee != Assignee::User(owner.clone()) && !members.iter().any(|m| m.assignee == assignee) {
                    members.push(SpaceMember {
                        assignee,
                        roles: space_roles(rng, space_type),
                    });
                }
            }
            let id = format!("s{}", rng.below(spaces.len() + 2));
            Change::CreateSpace {
                space: Space {
                    meta: Default::default(),
                    name: id.clone(),
                    id,
                    space_type,
                    owner: Some(owner),
                    export_only_through: (rng.below(4) == 0).then(|| roles.iter().take(1).cloned().collect()),
                    members,
                },
            }
        }
        23 => Change::UpdateSpace {
            id: space(rng),
            name: None,
            owner: (rng.below(2) == 0).then(|| user(rng)),
        },
        24 => Change::DeleteSpace { id: space(rng) },
        25 | 26 => {
            let id = space(rng);
            let space_type = t.space(&id).map_or(SpaceType::Shared, |s| s.space_type);
            Change::SetSpaceMember {
                space: id,
                assignee: assignee(rng, &users, &groups),
                roles: space_roles(rng, space_type),
            }
        }
        27 => Change::RemoveSpaceMember {
            space: space(rng),
            assignee: assignee(rng, &users, &groups),
        },
        28 | 29 => {
            let kind = if rng.below(3) == 0 {
                ContentKind::DataConnection
            } else {
                ContentKind::App
            };
            let in_space = !spaces.is_empty() && rng.below(4) != 0;
            let id = format!("c{}", rng.below(content.len() + 2));
            Change::CreateContent {
                item: Content {
                    name: id.clone(),
                    id,
                    kind,
                    space: in_space.then(|| space(rng)),
                    owner: Some(user(rng)),
                },
            }
        }
        30 => match rng.below(3) {
            0 => Change::DeleteContent { id: item(rng) },
            1 => Change::SetContentOwner {
                id: item(rng),
                owner: user(rng),
            },
            _ => Change::MoveContent {
                id: item(rng),
                space: (!spaces.is_empty() && rng.below(4) != 0).then(|| space(rng)),
            },
        },
        31 => Change::AddUse {
            reference: Use {
                consumer: item(rng),
                source: item(rng),
            },
        },
        32 | 33 => {
            let resource = item(rng);
            let space_type = t
                .content_item(&resource)
                .and_then(|c| c.space.as_deref())
                .and_then(|s| t.space(s))
                .map_or(SpaceType::Shared, |s| s.space_type);
            let shareable: Vec<_> = space_type.shareable_roles().iter().collect();
            let roles = if shareable.is_empty() {
                SpaceRoleSet::EMPTY
            } else {
                SpaceRoleSet::of(&[*pick(rng, &shareable)])
            };
            Change::CreateShare {
                share: Share {
                    resource,
                    assignee: assignee(rng, &users, &groups),
                    roles,
                },
            }
        }
        34 => Change::DeleteShare {
            resource: item(rng),
            assignee: assignee(rng, &users, &groups),
        },
        38 | 39 => Change::SetExportOnlyThrough {
            space: space(rng),
            // A name that is not a custom role now and then, so refusals are exercised too.
            roles: (rng.below(4) != 0).then(|| {
                let mut pool = roles.clone();
                pool.push("Nope".into());
                let mut chosen: Vec<String> = Vec::new();
                for _ in 0..rng.below(3) {
                    let name = pick(rng, &pool).clone();
                    if !chosen.contains(&name) {
                        chosen.push(name);
                    }
                }
                chosen
            }),
        },
        36 => Change::RenameGroup {
            name: group(rng),
            new_name: format!("g{}", rng.below(groups.len() + 2)),
        },
        37 => Change::RenameCustomRole {
            name: some_id(rng, &roles, "c", 1),
            new_name: format!("c{}", rng.below(roles.len() + 2)),
        },
        _ => match rng.below(3) {
            0 => {
                let scopes = (0..1 + rng.below(3)).map(|_| pick(rng, SCOPE_POOL).to_string()).collect();
                let id = format!("o{}", rng.below(clients.len() + 2));
                Change::CreateOauthClient {
                    client: OauthClient {
                        meta: Default::default(),
                        name: id.clone(),
                        id,
                        scopes,
                        impersonation: false,
                    },
                }
            }
            1 => {
                let scopes = (0..1 + rng.below(3)).map(|_| pick(rng, SCOPE_POOL).to_string()).collect();
                Change::UpdateOauthClient {
                    id: some_id(rng, &clients, "o", 1),
                    name: None,
                    scopes: Some(scopes),
                    impersonation: None,
                }
            }
            _ => Change::DeleteOauthClient {
                id: some_id(rng, &clients, "o", 1),
            },
        },
    }
}

/// The decisions of one snapshot for one request, with the sessions the channel reads.
fn decision(snapshot: &Snapshot, sessions: &Sessions, raw: &RawRequest<'_>) -> Result<(Decision, bool), String> {
    let resolved = resolve(snapshot, raw).map_err(|e| e.to_string())?;
    let session = sessions.rights(raw.user, 0);
    let explained = decide(snapshot, &resolved.request(session, true));
    let silent = decide(snapshot, &resolved.request(session, false)).allowed;
    Ok((explained, silent))
}

fn listed(snapshot: &Snapshot, sessions: &Sessions, user: &str, via: &Channel, action: Action) -> Vec<String> {
    let idx = snapshot.user_idx(user).unwrap();
    let channel = via.try_map_client(|client| snapshot.client_idx(client).ok_or(())).unwrap();
    let mut ids: Vec<String> = permitted_content(snapshot, idx, channel, sessions.rights(user, 0), action)
        .map(|c| snapshot.content_item(c).id.to_string())
        .collect();
    ids.sort();
    ids
}

/// Everything the live snapshot answers equals what the fresh one answers.
pub(crate) fn same_answers(rng: &mut Rng, tenant: &Tenant, live: (&Snapshot, &Sessions), fresh: (&Snapshot, &Sessions)) -> Result<usize, String> {
    let counts = |s: &Snapshot| {
        (
            s.users.iter().count(),
            s.groups.iter().count(),
            s.spaces.iter().count(),
            s.content.iter().count(),
            s.clients.iter().count(),
        )
    };
    if counts(live.0) != counts(fresh.0) {
        return Err(format!("live entities {:?}, fresh {:?}", counts(live.0), counts(fresh.0)));
    }
    let mut vias = vec![Channel::Session, Channel::ApiKey];
    vias.extend(tenant.oauth_clients.iter().map(|c| Channel::oauth(c.id.as_str())));
    let apps: Vec<&str> = tenant
        .content
        .iter()
        .filter(|c| c.kind == ContentKind::App)
        .map(|c| c.id.as_str())
        .collect();
    let connections: Vec<&str> = tenant
        .content
        .iter()
        .filter(|c| c.kind == ContentKind::DataConnection)
        .map(|c| c.id.as_str())
        .collect();
    let mut n = 0;
    for user in &tenant.users {
        if (live.1.rights(&user.id, 0).is_some()) != (fresh.1.rights(&user.id, 0).is_some()) {
            return Err(format!("{}: logged in on one side only", user.id));
        }
        let (app_sample, connection_sample) = (sample(rng, &apps), sample(rng, &connections));
        for action in Action::ALL {
            let resources: Vec<Option<&str>> = match action.resource_kind() {
                ResourceKind::Tenant => vec![None],
                ResourceKind::Space => tenant.spaces.iter().map(|s| Some(s.id.as_str())).collect(),
                ResourceKind::App => app_sample.clone(),
                ResourceKind::DataConnection => connection_sample.clone(),
            };
            for resource in &resources {
                for via in &vias {
                    let raw = RawRequest {
                        user: &user.id,
                        via,
                        action: action.as_str(),
                        resource: *resource,
                    };
                    let (a, b) = (decision(live.0, live.1, &raw), decision(fresh.0, fresh.1, &raw));
                    match (&a, &b) {
                        (Ok((a, a_silent)), Ok((b, _))) if a == b && *a_silent == a.allowed => {}
                        (Err(a), Err(b)) if a == b => {}
                        _ => {
                            let show = |d: &Result<(Decision, bool), String>| match d {
                                Ok((d, silent)) => format!("{} (silent {silent}) {}", d.allowed, d.explanation),
                                Err(e) => format!("error {e}"),
                            };
                            return Err(format!(
                                "{} {action} {resource:?} via {via}: live {}, fresh {}",
                                user.id,
                                show(&a),
                                show(&b)
                            ));
                        }
                    }
                    n += 1;
                }
            }
            if matches!(action.resource_kind(), ResourceKind::App | ResourceKind::DataConnection) {
                for via in &vias {
                    let (a, b) = (
                        listed(live.0, live.1, &user.id, via, *action),
                        listed(fresh.0, fresh.1, &user.id, via, *action),
                    );
                    if a != b {
                        return Err(format!("{} list {action} via {via}: live {a:?}, fresh {b:?}", user.id));
                    }
                }
            }
        }
    }
    Ok(n)
}

/// All of `ids` when there are few, else four picked at random.
fn sample<'a>(rng: &mut Rng, ids: &[&'a str]) -> Vec<Option<&'a str>> {
    if ids.len() <= 4 {
        ids.iter().map(|id| Some(*id)).collect()
    } else {
        (0..4).map(|_| Some(*pick(rng, ids))).collect()
    }
}

/// Half the time, a capacity tenant whose Basic users mostly hold no promoting role, so that
/// space assignments and shares decide their entitlement (spec §6.2) and writes flip it.
pub(crate) fn basic_heavy(rng: &mut Rng, mut tenant: Tenant) -> Tenant {
    if rng.below(2) == 0 {
        return tenant;
    }
    tenant.subscription = Subscription::CapacityBased;
    tenant.settings.remove(&TenantSetting::CapacityUserTypesUnified);
    if rng.below(2) == 0 {
        tenant.everyone_roles.clear();
    }
    for user in tenant.users.iter_mut() {
        user.entitlement = if rng.below(3) == 0 { Entitlement::Full } else { Entitlement::Basic };
        if rng.below(3) != 0 {
            user.roles.clear();
        }
    }
    for group in tenant.groups.iter_mut() {
        if rng.below(2) == 0 {
            group.roles.clear();
        }
    }
    tenant
}

/// Runs `steps` random writes from a random tenant, comparing after each.
fn run(seed: u64, steps: usize) -> Result<(usize, usize), String> {
    let mut rng = Rng::new(seed ^ 0x5eed);
    let mut tenant = basic_heavy(&mut rng, random_tenant(seed));
    // Counted before the first write, so every write has to move the counts.
    let _ = tenant.refs();
    let mut revision = 1;
    let mut live = Snapshot::build(&tenant, revision);
    let mut live_sessions = Sessions::default();
    let mut fresh_sessions = Sessions::default();
    // Each login's rights as the store keeps them: (revision, JSON), by user.
    let mut stored: BTreeMap<String, (u64, String)> = BTreeMap::new();
    let (mut applied, mut compared) = (0, 0);
    for step in 0..steps {
        // One change, or a batch of a few merged into one `apply`.
        let batch = if rng.below(4) == 0 { 2 + rng.below(3) } else { 1 };
        let mut touched = Touched::default();
        let mut changes = Vec::new();
        for _ in 0..batch {
            let change = random_change(&mut rng, &tenant);
            if let Ok(done) = tenant.apply(&change) {
                touched.merge(done.touched);
                changes.push(change);
                applied += 1;
            }
        }
        if *tenant.refs() != Refs::build(&tenant) {
            return Err(format!("step {step}: the model's counts drifted from its rows after {changes:?}"));
        }
        revision += 1;
        let before: Vec<(String, u32)> = tenant
            .users
            .iter()
            .filter_map(|u| live.user_idx(&u.id).map(|i| (u.id.clone(), i.0)))
            .collect();
        live = live.apply(&tenant, &touched, revision);
        let fresh = Snapshot::build(&tenant, revision);
        for (id, idx) in before {
            if live.user_idx(&id).map(|i| i.0) != Some(idx) {
                return Err(format!("step {step}: user {id} moved from slot {idx}"));
            }
        }
        live_sessions = live_sessions.clone();
        live_sessions.rebind(&live);
        fresh_sessions.rebind(&fresh);
        if !tenant.users.is_empty() && rng.below(2) == 0 {
            let user = tenant.users[rng.below(tenant.users.len())].id.clone();
            live_sessions.login(&live, live.user_idx(&user).unwrap(), 0);
            fresh_sessions.login(&fresh, fresh.user_idx(&user).unwrap(), 0);
            let frozen = live.user(live.user_idx(&user).unwrap()).rights.freeze();
            stored.insert(user, (revision, serde_json::to_string(&frozen).unwrap()));
        }
        compared += same_answers(&mut rng, &tenant, (&live, &live_sessions), (&fresh, &fresh_sessions))
            .map_err(|message| format!("step {step} after {changes:?} (touched {touched:?}): {message}"))?;
        let mut restored = Sessions::default();
        for (user, (at, json)) in &stored {
            let frozen: FrozenRights = serde_json::from_str(json).map_err(|e| format!("{user}'s stored session: {e}"))?;
            let rights = frozen.thaw(&fresh).map_err(|e| format!("{user}'s stored session: {e}"))?;
            restored.insert(user.as_str().into(), rights, *at, fresh.group_binding(), 0);
        }
        compared += same_answers(&mut rng, &tenant, (&live, &live_sessions), (&fresh, &restored))
            .map_err(|message| format!("step {step}, sessions read back from storage: {message}"))?;
    }
    Ok((applied, compared))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn apply_decides_exactly_as_build(seed in any::<u64>()) {
        if let Err(message) = run(seed, 24) {
            prop_assert!(false, "seed {seed}: {message}");
        }
    }
}

#[test]
fn random_writes_are_mostly_accepted_and_cover_every_kind() {
    // Guard against a generator whose writes are all refused: agreement would then mean nothing.
    let mut kinds = BTreeSet::new();
    let (mut accepted, mut total) = (0, 0);
    for seed in 0..40 {
        let mut rng = Rng::new(seed);
        let mut tenant = random_tenant(seed);
        for _ in 0..40 {
            let change = random_change(&mut rng, &tenant);
            total += 1;
            if let Ok(done) = tenant.apply(&change)
                && !done.touched.is_empty()
            {
                accepted += 1;
                kinds.insert(change.kind());
            }
        }
    }
    assert!(accepted * 3 > total, "{accepted} of {total} writes accepted");
    assert_eq!(kinds.len(), 37, "kinds seen: {kinds:?}");
}

/// A session frozen while its user was in a group follows the group by name: deleted, the
/// group stops counting; created again and given a space role, it counts again (as a session
/// re-bound to a fresh build sees it).
#[test]
fn sessions_follow_a_group_deleted_and_created_again() {
    let mut tenant = portcullis_model::tenant_file::load_tenant_text(
        "t.yaml",
        "groups: [ { name: crew, providerType: idp }, { name: other, providerType: idp } ]\n\
         users: [ { id: ann, groups: [crew] }, { id: bob } ]\n\
         spaces: [ { id: s1, type: shared, owner: bob, members: [ { group: crew, roles: [consumer] } ] } ]\n",
    )
    .unwrap();
    let mut live = Snapshot::build(&tenant, 1);
    let mut sessions = Sessions::default();
    sessions.login(&live, live.user_idx("ann").unwrap(), 0);
    let space_read = |snapshot: &Snapshot, sessions: &Sessions| {
        let raw = RawRequest {
            user: "ann",
            via: &Channel::Session,
            action: "space:read",
            resource: Some("s1"),
        };
        decision(snapshot, sessions, &raw).unwrap().0.allowed
    };
    assert!(space_read(&live, &sessions));
    let steps = [
        (Change::DeleteGroup { name: "crew".into() }, false),
        (
            Change::CreateGroup {
                group: Group {
                    meta: Default::default(),
                    name: "crew".into(),
                    provider_type: ProviderType::Idp,
                    roles: vec![],
                },
            },
            false,
        ),
        (
            Change::SetSpaceMember {
                space: "s1".into(),
                assignee: Assignee::Group("crew".into()),
                roles: SpaceRoleSet::of(&[portcullis_model::SpaceRole::Consumer]),
            },
            true,
        ),
    ];
    for (revision, (change, allowed)) in steps.into_iter().enumerate() {
        let touched = tenant.apply(&change).unwrap().touched;
        live = live.apply(&tenant, &touched, revision as u64 + 2);
        sessions = sessions.clone();
        sessions.rebind(&live);
        let mut fresh_sessions = sessions.clone();
        let fresh = Snapshot::build(&tenant, revision as u64 + 2);
        fresh_sessions.rebind(&fresh);
        assert_eq!(space_read(&live, &sessions), allowed, "after {change:?}");
        assert_eq!(space_read(&fresh, &fresh_sessions), allowed, "after {change:?}");
    }
    // A write that creates or deletes no group leaves the sessions' groups as they are.
    let binding = live.group_binding();
    let touched = tenant
        .apply(&Change::JoinGroup {
            user: "bob".into(),
            group: "other".into(),
        })
        .unwrap()
        .touched;
    assert_eq!(live.apply(&tenant, &touched, 9).group_binding(), binding);
}

/// Stored sessions are read back in the model's words: a word this build does not know is an
/// error naming it (never a session with fewer or other rights); a later login is not replaced
/// by an earlier one arriving late.
#[test]
fn a_stored_session_names_what_it_cannot_read_and_never_goes_back() {
    let tenant = portcullis_model::tenant_file::load_tenant_text(
        "t.yaml",
        "groups: [ { name: crew, providerType: idp, roles: [Steward] } ]\nusers: [ { id: ann, roles: [TenantAdmin], groups: [crew] } ]\n",
    )
    .unwrap();
    let snapshot = Snapshot::build(&tenant, 3);
    let frozen = snapshot.user(snapshot.user_idx("ann").unwrap()).rights.freeze();
    let json = serde_json::to_value(&frozen).unwrap();
    assert_eq!(json["groups"], serde_json::json!(["crew"]));
    assert!(
        json["roles"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["via"] == serde_json::json!({"kind": "group", "name": "crew"}))
    );
    let mut bad = frozen.clone();
    bad.roles[0].admin_caps.push("admin.everything".to_owned());
    assert_eq!(bad.thaw(&snapshot).unwrap_err(), "unknown capability `admin.everything`");
    let mut bad = frozen.clone();
    bad.entitlement = "platinum".to_owned();
    assert_eq!(bad.thaw(&snapshot).unwrap_err(), "unknown entitlement `platinum`");
    let mut bad = frozen.clone();
    bad.roles[0].via = portcullis_engine::FrozenVia::Setting("autoAssignEverything".to_owned());
    assert!(bad.thaw(&snapshot).unwrap_err().contains("`autoAssignEverything`"));
    assert!(serde_json::from_str::<FrozenRights>(r#"{"groups":[],"userDefault":[],"roles":[],"entitlement":"full","extra":1}"#).is_err());

    let mut sessions = Sessions::default();
    let rights = frozen.thaw(&snapshot).unwrap();
    assert!(sessions.insert("ann".into(), rights.clone(), 7, snapshot.group_binding(), 0));
    assert!(
        !sessions.insert("ann".into(), rights.clone(), 5, snapshot.group_binding(), 0),
        "an older login arriving late"
    );
    assert_eq!(sessions.revision("ann"), Some(7));
    sessions.remove("ann");
    assert!(sessions.rights("ann", 0).is_none());
}

/// A session lasts as Qlik Cloud's timeouts say: its login's rights until the maximum duration
/// whatever the activity, and not past a spell of inactivity; expired, it is as none (the
/// current rights decide), and a new login opens it again.
#[test]
fn sessions_expire_at_their_maximum_duration_and_after_inactivity() {
    let tenant = portcullis_model::tenant_file::load_tenant_text("t.yaml", "users: [ { id: ann, roles: [TenantAdmin] } ]\n").unwrap();
    let snapshot = Snapshot::build(&tenant, 3);
    let ann = snapshot.user_idx("ann").unwrap();
    let timeouts = portcullis_engine::SessionTimeouts {
        max_duration: Some(3600),
        inactivity: Some(600),
    };
    let mut sessions = Sessions::with_timeouts(timeouts);
    let login = 1_000_000;
    assert!(sessions.login(&snapshot, ann, login));
    // Active every 10 minutes: kept until the hour is up, whatever the activity.
    for minutes in (10..=60).step_by(10) {
        assert!(sessions.rights("ann", login + minutes * 60).is_some(), "{minutes} min after the login");
    }
    assert!(sessions.rights("ann", login + 3601).is_none(), "past the maximum duration");
    assert!(sessions.login(&snapshot, ann, login + 4000));
    assert!(sessions.rights("ann", login + 4000 + 600).is_some(), "idle for exactly the limit");
    assert!(sessions.rights("ann", login + 4000 + 1201).is_none(), "idle for longer than the limit");
    assert!(sessions.rights("ann", login + 4000 + 1202).is_none(), "an expired session stays expired");
    assert_eq!(
        sessions.revision("ann"),
        Some(snapshot.revision),
        "still recorded, until the next login replaces it"
    );
    // A clone (the next view) shares the activity.
    assert!(sessions.login(&snapshot, ann, login + 10_000));
    let next_view = sessions.clone();
    assert!(sessions.rights("ann", login + 10_500).is_some());
    assert!(next_view.rights("ann", login + 11_000).is_some(), "activity seen through the other view");
    // No timeouts: a session never expires.
    let mut forever = Sessions::default();
    forever.login(&snapshot, ann, 0);
    assert!(forever.rights("ann", i64::MAX).is_some());
}
