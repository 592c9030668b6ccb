//! Actions (spec §3): names, the QRS bit mask, and sets of actions.

use std::fmt;

use crate::err::ActionError;

/// One action a rule can grant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Action {
    /// Create (1).
    Create,
    /// Read (2).
    Read,
    /// Update (4).
    Update,
    /// Delete (8).
    Delete,
    /// Export an app to a file (16).
    Export,
    /// Publish to a stream (32).
    Publish,
    /// Change owner (64).
    ChangeOwner,
    /// Change role (128).
    ChangeRole,
    /// Export data from an object (256).
    ExportData,
    /// Use apps offline (512).
    AccessOffline,
    /// Distribute (1024).
    Distribute,
    /// Duplicate an app (2048).
    Duplicate,
    /// Approve an object (4096).
    Approve,
}

impl Action {
    /// Every action, in bit order.
    pub const ALL: [Action; 13] = [
        Action::Create,
        Action::Read,
        Action::Update,
        Action::Delete,
        Action::Export,
        Action::Publish,
        Action::ChangeOwner,
        Action::ChangeRole,
        Action::ExportData,
        Action::AccessOffline,
        Action::Distribute,
        Action::Duplicate,
        Action::Approve,
    ];

    /// The QRS bit.
    pub fn bit(self) -> u32 {
        1 << (self as u32)
    }

    /// The name used in scenario files and the CLI (lower case).
    pub fn name(self) -> &'static str {
        match self {
            Action::Create => "create",
            Action::Read => "read",
            Action::Update => "update",
            Action::Delete => "delete",
            Action::Export => "export",
            Action::Publish => "publish",
            Action::ChangeOwner => "changeowner",
            Action::ChangeRole => "changerole",
            Action::ExportData => "exportdata",
            Action::AccessOffline => "accessoffline",
            Action::Distribute => "distribute",
            Action::Duplicate => "duplicate",
            Action::Approve => "approve",
        }
    }

    /// The action of a name, ignoring case, spaces, `_` and `-` (`ChangeOwner`, `change owner`);
    /// `OfflineAccess` (the QRS enum name) is accepted too.
    pub fn parse(name: &str) -> Result<Action, ActionError> {
        let folded: String = name
            .chars()
            .filter(|c| !matches!(c, ' ' | '_' | '-'))
            .flat_map(char::to_lowercase)
            .collect();
        if folded == "offlineaccess" {
            return Ok(Action::AccessOffline);
        }
        Action::ALL
            .into_iter()
            .find(|a| a.name() == folded)
            .ok_or_else(|| ActionError::UnknownName(name.to_owned()))
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A set of actions, stored as the QRS bit mask.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, PartialOrd, Ord)]
pub struct ActionSet(pub u32);

impl ActionSet {
    /// No action.
    pub const NONE: ActionSet = ActionSet(0);
    /// Every bit (QRS `All`, 4294967295).
    pub const ALL: ActionSet = ActionSet(u32::MAX);

    /// The set of a QRS mask.
    pub fn from_mask(mask: i128) -> Result<ActionSet, ActionError> {
        u32::try_from(mask).map(ActionSet).map_err(|_| ActionError::MaskOutOfRange(mask))
    }

    /// The set of a list of names.
    pub fn from_names<S: AsRef<str>>(names: &[S]) -> Result<ActionSet, ActionError> {
        names
            .iter()
            .try_fold(ActionSet::NONE, |set, name| Ok(set.with(Action::parse(name.as_ref())?)))
    }

    /// The set with `action` added.
    pub fn with(self, action: Action) -> ActionSet {
        ActionSet(self.0 | action.bit())
    }

    /// True when `action` is in the set.
    pub fn contains(self, action: Action) -> bool {
        self.0 & action.bit() != 0
    }

    /// True when every action of `other` is in the set.
    pub fn contains_all(self, other: ActionSet) -> bool {
        self.0 & other.0 == other.0
    }

    /// The union.
    pub fn union(self, other: ActionSet) -> ActionSet {
        ActionSet(self.0 | other.0)
    }

    /// The actions of `self` that are not in `other`.
    pub fn minus(self, other: ActionSet) -> ActionSet {
        ActionSet(self.0 & !other.0)
    }

    /// True when empty.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The named actions in the set, in bit order.
    pub fn actions(self) -> impl Iterator<Item = Action> {
        Action::ALL.into_iter().filter(move |a| self.contains(*a))
    }
}

impl fmt::Display for ActionSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_empty() {
            return f.write_str("none");
        }
        let names: Vec<&str> = self.actions().map(Action::name).collect();
        f.write_str(&names.join(", "))
    }
}
