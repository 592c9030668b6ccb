//! The structured explanation of a decision: which baseline, role, assignment path,
//! entitlement, scope, space role, ownership, share or consumed source decided it.
//!
//! Each reason renders as the conformance tokens (`role:Exporters`, `group:finance`, ...)
//! and as a sentence for people. Names are `Arc<str>` taken from the snapshot, so building
//! an explanation copies no strings.

use std::fmt::{self, Write as _};
use std::sync::Arc;

use portcullis_model::{Capability, Entitlement, SpaceRole, TenantSetting, UserStatus};

/// How a tenant role reached the user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Via {
    /// Assigned to the user directly.
    Direct,
    /// Recorded at login by an entitlement toggle.
    Setting(TenantSetting),
    /// Through membership of this group.
    Group(Arc<str>),
    /// Through the system group Everyone ("Auto assign").
    Everyone,
}

/// One part of an explanation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reason {
    /// The user is not active.
    Status(UserStatus),
    /// UserDefault granted (or, when `granted` is false, withheld) a capability.
    UserDefault {
        /// The capability.
        capability: Capability,
        /// Granted or withheld.
        granted: bool,
    },
    /// A tenant role granted a capability.
    Role {
        /// Role name.
        role: Arc<str>,
        /// Assignment path.
        via: Via,
        /// What it granted.
        capability: Capability,
    },
    /// A tenant setting took part.
    Setting(TenantSetting),
    /// The user's entitlement withheld the action.
    Entitlement(Entitlement),
    /// The user owns the space.
    SpaceOwner {
        /// Space id.
        space: Arc<str>,
    },
    /// A space role granted it.
    SpaceRole {
        /// Space id.
        space: Arc<str>,
        /// The role.
        role: SpaceRole,
        /// The group the assignment came through, if any.
        group: Option<Arc<str>>,
    },
    /// An admin role granted it without a space role.
    AdminWithoutSpaceRole {
        /// Role name.
        role: Arc<str>,
        /// Assignment path.
        via: Via,
    },
    /// The user owns the resource.
    Owner,
    /// A fine-grained share granted it.
    Share {
        /// The share's role.
        role: SpaceRole,
        /// The group the share is for, if any.
        group: Option<Arc<str>>,
    },
    /// An OAuth scope allowed it or, when missing, withheld it.
    Scope {
        /// The scope.
        scope: Arc<str>,
        /// Allowed or withheld.
        granted: bool,
    },
    /// Execution time: a consumed source the executing user may not use, and why.
    Source {
        /// The source's id.
        id: Arc<str>,
        /// The inner decision on the source.
        inner: Explanation,
    },
    /// A space's export mark (Portcullis's extension, `docs/export-control.md`) took part in a
    /// data-leaving action on one of its items: `through` is the held role it let the data
    /// leave through, or `None` when the user holds none of `roles` and it withheld the action.
    ExportOnlyThrough {
        /// Space id.
        space: Arc<str>,
        /// The custom roles the mark names.
        roles: Arc<[Arc<str>]>,
        /// The role the user holds among them, with its path.
        through: Option<(Arc<str>, Via)>,
    },
    /// Nothing granted it.
    NoGrant,
    /// The request could not be evaluated; deny.
    Error(String),
}

/// Everything that decided a decision, in the order it was found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Explanation {
    /// The reasons.
    pub reasons: Vec<Reason>,
}

fn via_tokens(via: &Via, out: &mut Vec<String>) {
    match via {
        Via::Direct => {}
        Via::Setting(setting) => out.push(format!("setting:{setting}")),
        Via::Group(group) => out.push(format!("group:{group}")),
        Via::Everyone => out.push("everyone".to_owned()),
    }
}

fn via_words(via: &Via) -> String {
    match via {
        Via::Direct => "assigned directly".to_owned(),
        Via::Setting(setting) => format!("recorded at login by the setting `{setting}`"),
        Via::Group(group) => format!("through group `{group}`"),
        Via::Everyone => "through Everyone (auto assign)".to_owned(),
    }
}

impl Reason {
    /// A stable name for the kind of reason, for JSON consumers (`role`, `space-role`, ...).
    pub fn kind(&self) -> &'static str {
        match self {
            Reason::Status(_) => "status",
            Reason::UserDefault { .. } => "user-default",
            Reason::Role { .. } => "role",
            Reason::Setting(_) => "setting",
            Reason::Entitlement(_) => "entitlement",
            Reason::SpaceOwner { .. } => "space-owner",
            Reason::SpaceRole { .. } => "space-role",
            Reason::AdminWithoutSpaceRole { .. } => "admin-without-space-role",
            Reason::Owner => "owner",
            Reason::Share { .. } => "share",
            Reason::Scope { .. } => "scope",
            Reason::Source { .. } => "source",
            Reason::ExportOnlyThrough { .. } => "export-only-through",
            Reason::NoGrant => "no-grant",
            Reason::Error(_) => "error",
        }
    }

    /// The conformance tokens of this reason.
    pub fn tokens(&self, out: &mut Vec<String>) {
        match self {
            Reason::Status(status) => out.push(format!("status:{status}")),
            Reason::UserDefault { .. } => out.push("user-default".to_owned()),
            Reason::Role { role, via, .. } | Reason::AdminWithoutSpaceRole { role, via } => {
                out.push(format!("role:{role}"));
                via_tokens(via, out);
            }
            Reason::Setting(setting) => out.push(format!("setting:{setting}")),
            Reason::Entitlement(entitlement) => out.push(format!("entitlement:{entitlement}")),
            Reason::SpaceOwner { .. } => out.push("space-owner".to_owned()),
            Reason::SpaceRole { role, group, .. } => {
                out.push(format!("space-role:{role}"));
                if let Some(group) = group {
                    out.push(format!("group:{group}"));
                }
            }
            Reason::Owner => out.push("owner".to_owned()),
            Reason::Share { role, group } => {
                out.push(format!("share:{role}"));
                if let Some(group) = group {
                    out.push(format!("group:{group}"));
                }
            }
            Reason::Scope { scope, .. } => out.push(format!("scope:{scope}")),
            Reason::Source { id, inner } => {
                out.push(format!("source:{id}"));
                out.extend(inner.tokens());
            }
            Reason::ExportOnlyThrough { space, through, .. } => {
                out.push(format!("export-mark:{space}"));
                if let Some((role, via)) = through {
                    out.push(format!("export-through:{role}"));
                    via_tokens(via, out);
                }
            }
            Reason::NoGrant => out.push("no-grant".to_owned()),
            Reason::Error(_) => out.push("error".to_owned()),
        }
    }

    /// The reason as a sentence.
    pub fn sentence(&self) -> String {
        match self {
            Reason::Status(status) => format!("the user's status is `{status}`; only active users are granted anything"),
            Reason::UserDefault { capability, granted: true } => format!("UserDefault grants `{}`", capability.scope()),
            Reason::UserDefault { capability, granted: false } => {
                format!("UserDefault withholds `{}` and no role of the user grants it", capability.scope())
            }
            Reason::Role { role, via, capability } => format!("role `{role}` ({}) grants `{}`", via_words(via), capability.scope()),
            Reason::Setting(setting) => format!("tenant setting `{setting}` is on"),
            Reason::Entitlement(entitlement) => format!("the `{entitlement}` entitlement does not allow creating or editing apps"),
            Reason::SpaceOwner { space } => format!("the user owns space `{space}`"),
            Reason::SpaceRole { space, role, group: None } => format!("space role `{role}` ({}) in space `{space}`", role.label()),
            Reason::SpaceRole {
                space,
                role,
                group: Some(group),
            } => {
                format!("space role `{role}` ({}) in space `{space}` through group `{group}`", role.label())
            }
            Reason::AdminWithoutSpaceRole { role, via } => {
                format!("admin role `{role}` ({}) acts in the space without a space role", via_words(via))
            }
            Reason::Owner => "the user owns the resource".to_owned(),
            Reason::Share { role, group: None } => format!("the app is shared with the user as `{role}`"),
            Reason::Share { role, group: Some(group) } => format!("the app is shared with group `{group}` as `{role}`"),
            Reason::Scope { scope, granted: true } => format!("the OAuth client's scope `{scope}` allows it"),
            Reason::Scope { scope, granted: false } => format!("the OAuth client lacks the scope `{scope}`"),
            Reason::Source { id, inner } => format!("the executing user may not use source `{id}`: {}", inner.sentence()),
            Reason::ExportOnlyThrough {
                space,
                through: Some((role, via)),
                ..
            } => format!(
                "space `{space}` lets data leave only through named roles; the user holds `{role}` ({})",
                via_words(via)
            ),
            Reason::ExportOnlyThrough { space, roles, through: None } => {
                let names: Vec<String> = roles.iter().map(|r| format!("`{r}`")).collect();
                if names.is_empty() {
                    format!("space `{space}` lets no data leave its items")
                } else {
                    format!(
                        "space `{space}` lets data leave only through {}; the user holds none of them",
                        names.join(", ")
                    )
                }
            }
            Reason::NoGrant => "nothing grants it".to_owned(),
            Reason::Error(message) => format!("the request could not be evaluated: {message}"),
        }
    }
}

impl Explanation {
    /// All tokens, in order.
    pub fn tokens(&self) -> Vec<String> {
        let mut out = Vec::new();
        for reason in &self.reasons {
            reason.tokens(&mut out);
        }
        out
    }

    /// The reasons joined into one line.
    pub fn sentence(&self) -> String {
        let mut out = String::new();
        for (i, reason) in self.reasons.iter().enumerate() {
            if i > 0 {
                out.push_str("; ");
            }
            let _ = write!(out, "{}", reason.sentence());
        }
        out
    }
}

impl fmt::Display for Explanation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[{}] {}", self.tokens().join(", "), self.sentence())
    }
}
