//! Request mixes over a tenant: reads, exports, reloads, admin actions, or all of them mixed;
//! allow-heavy (users asking about what they work with) or deny-heavy (anyone asking about
//! anything). Requests name tenant positions, so every engine (Portcullis, Cedar, the HTTP
//! API) is asked exactly the same questions.

use std::collections::HashMap;
use std::fmt;

use portcullis_engine::{Request, Resource, Snapshot};
use portcullis_model::tenant::{Assignee, ContentKind, Tenant, UserStatus};
use portcullis_model::{Action, ResourceKind};

use crate::rng::Rng;

/// Which actions a mix asks about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Mix {
    /// Open apps, see spaces, read data connections.
    Reads,
    /// Download apps, data and images.
    Exports,
    /// Reload apps (with the execution-time check of every consumed source).
    Reloads,
    /// Space and app administration, management console, roles, users.
    Admin,
    /// Mostly reads, some of everything else.
    Mixed,
}

/// Whether the mix leans to allowed or to denied requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Bias {
    /// Users ask about spaces they belong to and content they own.
    AllowHeavy,
    /// Any user asks about any resource.
    DenyHeavy,
}

/// How the user reaches the tenant, the OAuth client by position in the tenant (a session is
/// logged in now, so its rights are the current ones).
pub type Via = portcullis_model::Channel<usize>;

/// What a request is about, by position in the tenant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// The tenant itself.
    Tenant,
    /// A space.
    Space(usize),
    /// An app or data connection.
    Content(usize),
}

/// One generated request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WorkRequest {
    /// The user, by position.
    pub user: usize,
    /// The channel.
    pub via: Via,
    /// The action.
    pub action: Action,
    /// The resource.
    pub target: Target,
}

impl fmt::Display for WorkRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "user #{} {:?} {} {:?}", self.user, self.via, self.action, self.target)
    }
}

/// Who works where: the lookups a generator needs to ask realistic questions.
pub struct TenantIndex {
    active_users: Vec<u32>,
    admins: Vec<u32>,
    spaces_of_user: Vec<Vec<u32>>,
    apps_in_space: Vec<Vec<u32>>,
    connections_in_space: Vec<Vec<u32>>,
    personal_of_user: HashMap<u32, Vec<u32>>,
    apps: Vec<u32>,
    connections: Vec<u32>,
    n_spaces: usize,
    n_clients: usize,
}

impl TenantIndex {
    /// Indexes a tenant.
    pub fn build(tenant: &Tenant) -> TenantIndex {
        let user_pos: HashMap<&str, u32> = tenant.users.iter().enumerate().map(|(i, u)| (u.id.as_str(), i as u32)).collect();
        let space_pos: HashMap<&str, u32> = tenant.spaces.iter().enumerate().map(|(i, s)| (s.id.as_str(), i as u32)).collect();
        let mut spaces_of_group: HashMap<&str, Vec<u32>> = HashMap::new();
        let mut spaces_of_user: Vec<Vec<u32>> = vec![Vec::new(); tenant.users.len()];
        for (s, space) in tenant.spaces.iter().enumerate() {
            if let Some(&owner) = space.owner.as_deref().and_then(|o| user_pos.get(o)) {
                spaces_of_user[owner as usize].push(s as u32);
            }
            for member in &space.members {
                match &member.assignee {
                    Assignee::User(id) => {
                        if let Some(&u) = user_pos.get(id.as_str()) {
                            spaces_of_user[u as usize].push(s as u32);
                        }
                    }
                    Assignee::Group(name) => spaces_of_group.entry(name.as_str()).or_default().push(s as u32),
                }
            }
        }
        let mut admins = Vec::new();
        let mut active_users = Vec::new();
        for (u, user) in tenant.users.iter().enumerate() {
            for group in &user.groups {
                if let Some(spaces) = spaces_of_group.get(group.as_str()) {
                    spaces_of_user[u].extend_from_slice(spaces);
                }
            }
            spaces_of_user[u].sort_unstable();
            spaces_of_user[u].dedup();
            if user.status == UserStatus::Active {
                active_users.push(u as u32);
                if user.roles.iter().any(|r| r.role.ends_with("Admin")) {
                    admins.push(u as u32);
                }
            }
        }
        let mut apps_in_space = vec![Vec::new(); tenant.spaces.len()];
        let mut connections_in_space = vec![Vec::new(); tenant.spaces.len()];
        let mut personal_of_user: HashMap<u32, Vec<u32>> = HashMap::new();
        let mut apps = Vec::new();
        let mut connections = Vec::new();
        for (c, item) in tenant.content.iter().enumerate() {
            let c = c as u32;
            match item.kind {
                ContentKind::App => apps.push(c),
                ContentKind::DataConnection => connections.push(c),
            }
            match item.space.as_deref().and_then(|s| space_pos.get(s)) {
                Some(&s) => match item.kind {
                    ContentKind::App => apps_in_space[s as usize].push(c),
                    ContentKind::DataConnection => connections_in_space[s as usize].push(c),
                },
                None => {
                    if let Some(&owner) = item.owner.as_deref().and_then(|o| user_pos.get(o)) {
                        personal_of_user.entry(owner).or_default().push(c);
                    }
                }
            }
        }
        TenantIndex {
            active_users,
            admins,
            spaces_of_user,
            apps_in_space,
            connections_in_space,
            personal_of_user,
            apps,
            connections,
            n_spaces: tenant.spaces.len(),
            n_clients: tenant.oauth_clients.len(),
        }
    }
}

impl TenantIndex {
    /// The spaces a user owns or holds a role in (individually or through a group).
    pub fn spaces_of(&self, user: usize) -> &[u32] {
        &self.spaces_of_user[user]
    }
}

fn pick<T: Copy>(rng: &mut Rng, items: &[T]) -> Option<T> {
    (!items.is_empty()).then(|| items[rng.below(items.len())])
}

fn actions_of(mix: Mix, rng: &mut Rng) -> Action {
    use Action::*;
    let from = |rng: &mut Rng, list: &[Action]| list[rng.below(list.len())];
    match mix {
        Mix::Reads => from(
            rng,
            &[
                AppRead,
                AppRead,
                AppRead,
                AppRead,
                AppRead,
                AppRead,
                SpaceRead,
                SpaceRead,
                DataConnectionRead,
                DataConnectionRead,
            ],
        ),
        Mix::Exports => from(rng, &[AppExportData, AppExportData, AppExportImage, AppExport]),
        Mix::Reloads => AppReload,
        Mix::Admin => from(
            rng,
            &[
                SpaceManageMembers,
                SpaceUpdate,
                SpaceDelete,
                SpaceChangeOwner,
                AppDelete,
                AppChangeOwner,
                ManagementConsoleAccess,
                RoleCreate,
                UserManage,
                AppShare,
            ],
        ),
        Mix::Mixed => match rng.below(100) {
            0..=69 => actions_of(Mix::Reads, rng),
            70..=79 => actions_of(Mix::Exports, rng),
            80..=89 => actions_of(Mix::Reloads, rng),
            90..=94 => actions_of(Mix::Admin, rng),
            _ => from(
                rng,
                &[
                    SpaceCreateShared,
                    ContentCreatePrivate,
                    ApiKeyCreate,
                    SpaceCreateApp,
                    AppEditScript,
                    AppUpdate,
                    DataConnectionUse,
                ],
            ),
        },
    }
}

/// Generates `n` requests of a mix; deterministic in `seed`.
pub fn generate(tenant: &Tenant, index: &TenantIndex, mix: Mix, bias: Bias, n: usize, seed: u64) -> Vec<WorkRequest> {
    let mut rng = Rng::new(seed ^ 0xC0FF_EE00);
    let mut out = Vec::with_capacity(n);
    while out.len() < n {
        let action = actions_of(mix, &mut rng);
        let via = match rng.below(100) {
            0..=59 => Via::Session,
            60..=84 => Via::ApiKey,
            _ if index.n_clients > 0 => Via::OAuth(rng.below(index.n_clients)),
            _ => Via::ApiKey,
        };
        let user = match bias {
            Bias::AllowHeavy if mix == Mix::Admin && rng.below(2) == 0 => pick(&mut rng, &index.admins),
            Bias::AllowHeavy => pick(&mut rng, &index.active_users),
            Bias::DenyHeavy => Some(rng.below(tenant.users.len()) as u32),
        };
        let Some(user) = user else { continue };
        let kind = action.resource_kind();
        let target = match bias {
            Bias::AllowHeavy => {
                let own_space = pick(&mut rng, &index.spaces_of_user[user as usize]);
                let personal = index.personal_of_user.get(&user).map(Vec::as_slice).unwrap_or(&[]);
                match kind {
                    ResourceKind::Tenant => Some(Target::Tenant),
                    ResourceKind::Space => own_space
                        .or_else(|| Some(rng.below(index.n_spaces) as u32))
                        .map(|s| Target::Space(s as usize)),
                    ResourceKind::App | ResourceKind::DataConnection => {
                        let in_space = |s: u32| match kind {
                            ResourceKind::App => &index.apps_in_space[s as usize],
                            _ => &index.connections_in_space[s as usize],
                        };
                        let from_space = own_space.and_then(|s| pick(&mut rng, in_space(s)));
                        let wanted = |c: &u32| (tenant.content[*c as usize].kind == ContentKind::App) == (kind == ResourceKind::App);
                        let from_personal = personal.iter().copied().filter(wanted).nth(0);
                        match (rng.below(5), from_space, from_personal) {
                            (0, _, Some(c)) | (_, None, Some(c)) => Some(c),
                            (_, Some(c), _) => Some(c),
                            _ => None,
                        }
                        .map(|c| Target::Content(c as usize))
                    }
                }
            }
            Bias::DenyHeavy => match kind {
                ResourceKind::Tenant => Some(Target::Tenant),
                ResourceKind::Space => (index.n_spaces > 0).then(|| Target::Space(rng.below(index.n_spaces))),
                ResourceKind::App => pick(&mut rng, &index.apps).map(|c| Target::Content(c as usize)),
                ResourceKind::DataConnection => pick(&mut rng, &index.connections).map(|c| Target::Content(c as usize)),
            },
        };
        let Some(target) = target else { continue };
        out.push(WorkRequest {
            user: user as usize,
            via,
            action,
            target,
        });
    }
    out
}

/// A request resolved against a snapshot, with the session rights it needs.
pub fn to_engine<'s>(snapshot: &'s Snapshot, tenant: &Tenant, request: &WorkRequest, explain: bool) -> Request<'s> {
    let user = snapshot
        .user_idx(&tenant.users[request.user].id)
        .expect("generated user is in the snapshot");
    let channel = request
        .via
        .try_map_client(|&client| snapshot.client_idx(&tenant.oauth_clients[client].id).ok_or(()))
        .expect("generated client is in the snapshot");
    let resource = match request.target {
        Target::Tenant => Resource::Tenant,
        Target::Space(s) => Resource::Space(snapshot.space_idx(&tenant.spaces[s].id).expect("generated space is in the snapshot")),
        Target::Content(c) => Resource::Content(snapshot.content_idx(&tenant.content[c].id).expect("generated item is in the snapshot")),
    };
    // A session logged in now: its frozen rights are the current ones (`session: None`).
    Request {
        user,
        channel,
        session: None,
        action: request.action,
        resource,
        explain,
    }
}
