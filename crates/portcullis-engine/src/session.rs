//! Interactive sessions: a user's tenant-level rights frozen at login (spec §5.4).
//!
//! API keys and tokens read the snapshot's current rights; a session keeps the rights of
//! its login until the next one. The frozen groups are held by index and by name, so space
//! roles are still read live through them: when a newer snapshot numbers groups differently
//! (groups were created or deleted, or it was built from scratch), [`Sessions::rebind`]
//! re-resolves them by name. Carrying sessions to the next snapshot is O(1) otherwise: the map
//! is persistent, so cloning it copies nothing.
//!
//! A session lasts as Qlik Cloud's tenant session timeouts say ([`SessionTimeouts`]): at most a
//! maximum duration after its login, and not past a spell of inactivity (no decision asked for
//! it). An expired session is as none: the user's current rights decide, as a new login would
//! freeze them. Activity is counted per node and from the login after a restart.
//!
//! A session outlives the process and travels between nodes as [`FrozenRights`]: the same
//! rights in the model's words (group and role names, capability scopes, the entitlement), so
//! a node that did not see the login — another node, or this one after a restart — decides
//! with exactly the rights frozen then, whatever its own snapshot says now.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use portcullis_model::{CapSet, Capability, Entitlement, TenantSetting};
use rustc_hash::FxBuildHasher;
use serde::{Deserialize, Serialize};

use crate::explain::Via;
use crate::snapshot::{Assignment, GroupBinding, RoleInfo, Snapshot, TenantRights, UserIdx};

/// How long a session lasts, in seconds (`None`: no limit). Qlik Cloud's defaults are a
/// maximum of 24 hours and 30 minutes of inactivity ([`SessionTimeouts::QLIK_CLOUD`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SessionTimeouts {
    /// The longest a session lasts after its login, however active.
    pub max_duration: Option<i64>,
    /// The longest a session lasts without a decision asking for it.
    pub inactivity: Option<i64>,
}

impl SessionTimeouts {
    /// Qlik Cloud's defaults: 24 hours at most, 30 minutes of inactivity.
    pub const QLIK_CLOUD: SessionTimeouts = SessionTimeouts {
        max_duration: Some(24 * 3600),
        inactivity: Some(30 * 60),
    };
}

/// One open session: the rights frozen at a login, the revision and time (Unix seconds) of
/// that login, and when a decision last asked for it (shared by the views that hold it).
#[derive(Debug, Clone)]
struct Session {
    rights: TenantRights,
    revision: u64,
    logged_in_at: i64,
    last_active: Arc<AtomicI64>,
}

/// The open sessions of one tenant, by user id.
#[derive(Debug, Clone, Default)]
pub struct Sessions {
    by_user: imbl::GenericHashMap<Arc<str>, Session, FxBuildHasher, imbl::shared_ptr::DefaultSharedPtr>,
    /// The snapshot numbering every session's groups are resolved against (`None`: unknown).
    bound: Option<GroupBinding>,
    timeouts: SessionTimeouts,
}

impl Sessions {
    /// No session yet; sessions last as `timeouts` say.
    pub fn with_timeouts(timeouts: SessionTimeouts) -> Sessions {
        Sessions {
            timeouts,
            ..Sessions::default()
        }
    }

    /// Logs a user in at `now` (Unix seconds): freezes their current rights, at the snapshot's
    /// revision. Returns false for an unknown user.
    pub fn login(&mut self, snapshot: &Snapshot, user: UserIdx, now: i64) -> bool {
        let Some(info) = snapshot.users.get(user.0 as usize) else { return false };
        self.insert(info.id.clone(), info.rights.clone(), snapshot.revision, snapshot.group_binding(), now)
    }

    /// Opens (or replaces) a user's session with rights frozen at the login of `revision` at
    /// `logged_in_at` (Unix seconds), their groups resolved against a snapshot of `binding`; a
    /// session from a later login is kept (returns false then).
    pub fn insert(&mut self, user_id: Arc<str>, rights: TenantRights, revision: u64, binding: GroupBinding, logged_in_at: i64) -> bool {
        if self.by_user.get(&user_id).is_some_and(|held| held.revision > revision) {
            return false;
        }
        let session = Session {
            rights,
            revision,
            logged_in_at,
            last_active: Arc::new(AtomicI64::new(logged_in_at)),
        };
        self.by_user.insert(user_id, session);
        if self.by_user.len() == 1 {
            self.bound = Some(binding);
        } else if self.bound != Some(binding) {
            self.bound = None;
        }
        true
    }

    /// Closes a user's session (the user was deleted).
    pub fn remove(&mut self, user_id: &str) {
        self.by_user.remove(user_id);
    }

    /// The frozen rights of a user's session at `now` (Unix seconds), if logged in and the
    /// session has not expired; asking counts as activity.
    pub fn rights(&self, user_id: &str, now: i64) -> Option<&TenantRights> {
        let session = self.by_user.get(user_id)?;
        let within = |limit: Option<i64>, since: i64| limit.is_none_or(|limit| now.saturating_sub(since) <= limit);
        let last_active = session.last_active.load(Ordering::Relaxed);
        if !within(self.timeouts.max_duration, session.logged_in_at) || !within(self.timeouts.inactivity, last_active) {
            return None;
        }
        session.last_active.fetch_max(now, Ordering::Relaxed);
        Some(&session.rights)
    }

    /// The revision of the login a user's session froze, if logged in.
    pub fn revision(&self, user_id: &str) -> Option<u64> {
        self.by_user.get(user_id).map(|session| session.revision)
    }

    /// The number of open sessions.
    pub fn len(&self) -> usize {
        self.by_user.len()
    }

    /// Whether no session is open.
    pub fn is_empty(&self) -> bool {
        self.by_user.is_empty()
    }

    /// Re-resolves every session's groups against a newer snapshot; nothing to do (O(1)) when
    /// that snapshot numbers groups as the one they were resolved against.
    pub fn rebind(&mut self, snapshot: &Snapshot) {
        let binding = snapshot.group_binding();
        if self.bound == Some(binding) {
            return;
        }
        for (_, session) in self.by_user.iter_mut() {
            session.rights.rebind(snapshot);
        }
        self.bound = Some(binding);
    }
}

/// A session's rights in the model's words, to store and to read on another node: what
/// [`TenantRights`] holds, with every role's capabilities as they were at the login (a custom
/// role edited since keeps its old meaning in the session) and groups by name (resolved
/// against the snapshot that reads it: space roles are read live through them).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FrozenRights {
    /// The user's groups, by name, in the order of the user's memberships.
    pub groups: Vec<String>,
    /// What UserDefault granted (capability scopes).
    pub user_default: Vec<String>,
    /// Every role held, on every path.
    pub roles: Vec<FrozenRole>,
    /// The entitlement decisions used (a promoted Basic user counts as `full`).
    pub entitlement: String,
}

/// One role of a [`FrozenRights`], with its path and what it granted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FrozenRole {
    /// The role's name.
    pub role: String,
    /// How it reached the user.
    pub via: FrozenVia,
    /// Its user-level capabilities (scopes).
    pub user_caps: Vec<String>,
    /// Its admin-level capabilities (scopes).
    pub admin_caps: Vec<String>,
    /// Whether it promoted a Basic user.
    pub promotes_basic: bool,
}

/// How a role reached the user ([`Via`] in words).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "name", rename_all = "kebab-case")]
pub enum FrozenVia {
    /// Assigned to the user.
    Direct,
    /// Recorded at a login by this tenant setting.
    Setting(String),
    /// Through this group.
    Group(String),
    /// Through Everyone.
    Everyone,
}

fn scopes(caps: CapSet) -> Vec<String> {
    caps.iter().map(|c| c.scope().to_owned()).collect()
}

fn caps_of(scopes: &[String]) -> Result<CapSet, String> {
    scopes.iter().try_fold(CapSet::EMPTY, |set, scope| {
        Capability::from_scope(scope)
            .map(|c| set | c.bit())
            .ok_or_else(|| format!("unknown capability `{scope}`"))
    })
}

impl TenantRights {
    /// These rights in the model's words, to store ([`FrozenRights::thaw`] reads them back).
    pub fn freeze(&self) -> FrozenRights {
        FrozenRights {
            groups: self.group_names.iter().map(|g| g.to_string()).collect(),
            user_default: scopes(self.user_default),
            roles: self
                .assignments
                .iter()
                .map(|a| FrozenRole {
                    role: a.role.name.to_string(),
                    via: match &a.via {
                        Via::Direct => FrozenVia::Direct,
                        Via::Setting(setting) => FrozenVia::Setting(setting.as_str().to_owned()),
                        Via::Group(group) => FrozenVia::Group(group.to_string()),
                        Via::Everyone => FrozenVia::Everyone,
                    },
                    user_caps: scopes(a.role.user_caps),
                    admin_caps: scopes(a.role.admin_caps),
                    promotes_basic: a.role.promotes_basic,
                })
                .collect(),
            entitlement: self.entitlement.as_str().to_owned(),
        }
    }
}

impl FrozenRights {
    /// The rights again, their groups resolved against `snapshot` (groups it does not hold are
    /// kept by name and left out, as [`TenantRights::rebind`] does); a word this build does not
    /// know is an error naming it.
    pub fn thaw(&self, snapshot: &Snapshot) -> Result<TenantRights, String> {
        let user_default = caps_of(&self.user_default)?;
        let mut assignments = Vec::with_capacity(self.roles.len());
        for role in &self.roles {
            let via = match &role.via {
                FrozenVia::Direct => Via::Direct,
                FrozenVia::Setting(word) => Via::Setting(TenantSetting::parse(word).ok_or_else(|| format!("unknown tenant setting `{word}`"))?),
                FrozenVia::Group(name) => Via::Group(Arc::from(name.as_str())),
                FrozenVia::Everyone => Via::Everyone,
            };
            let info = RoleInfo {
                name: Arc::from(role.role.as_str()),
                user_caps: caps_of(&role.user_caps)?,
                admin_caps: caps_of(&role.admin_caps)?,
                promotes_basic: role.promotes_basic,
            };
            assignments.push(Assignment { role: Arc::new(info), via });
        }
        let (user_caps, admin_caps) = assignments.iter().fold((user_default, CapSet::EMPTY), |(u, a), asg| {
            (u | asg.role.user_caps, a | asg.role.admin_caps)
        });
        let entitlement = Entitlement::parse(&self.entitlement).ok_or_else(|| format!("unknown entitlement `{}`", self.entitlement))?;
        let group_names: Arc<[Arc<str>]> = self.groups.iter().map(|g| Arc::from(g.as_str())).collect();
        let mut rights = TenantRights {
            groups: Arc::from([]),
            group_names,
            user_default,
            assignments: assignments.into(),
            user_caps,
            admin_caps,
            entitlement,
        };
        rights.rebind(snapshot);
        Ok(rights)
    }
}
