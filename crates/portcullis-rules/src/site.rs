//! A site governed by security rules: users (directory attributes, groups, roles, custom
//! properties, session attributes), resources of the QRS types with their relations, and
//! rules. Plain validated data; [`crate::compile`] turns it into the form decisions use.

use std::collections::BTreeMap;

use crate::action::ActionSet;
use crate::context::RuleContext;
use crate::filter::FilterTarget;

/// Everything a decision needs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Site {
    /// The users.
    pub users: Vec<User>,
    /// The resources.
    pub resources: Vec<Resource>,
    /// The rules, in order (order has no effect on decisions).
    pub rules: Vec<Rule>,
}

/// A user of the site.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct User {
    /// The user directory, e.g. `ACME`.
    pub user_directory: String,
    /// The id within the directory.
    pub user_id: String,
    /// The display name (defaults to the user id).
    pub name: Option<String>,
    /// The e-mail address.
    pub email: Option<String>,
    /// Directory groups (`user.group`).
    pub groups: Vec<String>,
    /// QMC roles (`user.roles`).
    pub roles: Vec<String>,
    /// Custom properties (`user.@Name`).
    pub custom_properties: BTreeMap<String, Vec<String>>,
    /// Logged in anonymously (`user.IsAnonymous()`).
    pub anonymous: bool,
    /// Session attributes (`user.environment.Name`).
    pub environment: BTreeMap<String, Vec<String>>,
    /// Other directory attributes (`user.role`, ...).
    pub attributes: BTreeMap<String, Vec<String>>,
}

impl User {
    /// `DIRECTORY\userId`, the way checks and owners name a user.
    pub fn key(&self) -> String {
        format!("{}\\{}", self.user_directory, self.user_id)
    }
}

/// A resource of the site.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Resource {
    /// Its id (a GUID in QRS).
    pub id: String,
    /// The QRS type (`App`, `App.Object`, `Stream`, ...) or `TransientObject`.
    pub resource_type: String,
    /// Its name (for a `TransientObject`, what filters match: `QmcSection_App`).
    pub name: Option<String>,
    /// The owner, as `DIRECTORY\userId` (the user need not be in the site).
    pub owner: Option<String>,
    /// Custom properties (`resource.@Name`).
    pub custom_properties: BTreeMap<String, Vec<String>>,
    /// The stream an app is published to (a resource id).
    pub stream: Option<String>,
    /// The app an object or task belongs to (a resource id).
    pub app: Option<String>,
    /// Other relations to resources, by name (`ContentLibrarys: [lib1]`).
    pub relations: BTreeMap<String, Vec<String>>,
    /// Other attributes (`objectType`, `published`, `approved`, `description`, `type`, ...).
    pub attributes: BTreeMap<String, Vec<String>>,
}

impl Resource {
    /// True for transient resources, which filters match by name.
    pub fn is_transient(&self) -> bool {
        self.resource_type.eq_ignore_ascii_case("TransientObject")
    }

    /// What a rule's resource filter is matched against: a transient resource by its name,
    /// a stored one by its type and id.
    pub(crate) fn filter_target(&self) -> FilterTarget<'_> {
        if self.is_transient() {
            FilterTarget::Transient {
                name: self.name.as_deref().unwrap_or_default(),
            }
        } else {
            FilterTarget::Stored {
                resource_type: &self.resource_type,
                id: &self.id,
            }
        }
    }
}

/// The kind of a rule (QRS `category`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum RuleCategory {
    /// Access control: the only kind that takes part in decisions.
    #[default]
    Security,
    /// License allocation.
    License,
    /// Load balancing (subject `node`).
    Sync,
}

impl RuleCategory {
    /// The category of a QRS name, ignoring case.
    pub fn parse(name: &str) -> Option<RuleCategory> {
        match name.to_ascii_lowercase().as_str() {
            "security" => Some(RuleCategory::Security),
            "license" => Some(RuleCategory::License),
            "sync" => Some(RuleCategory::Sync),
            _ => None,
        }
    }

    /// The QRS name.
    pub fn name(self) -> &'static str {
        match self {
            RuleCategory::Security => "Security",
            RuleCategory::License => "License",
            RuleCategory::Sync => "Sync",
        }
    }
}

/// A rule as written: allow *actions* on *resources matched by the filter* when *condition*.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Rule {
    /// Its QRS id, when it came from QRS: kept so that an export gives it back. No effect on
    /// decisions.
    pub id: Option<String>,
    /// Its name.
    pub name: String,
    /// The resource filter text.
    pub resource_filter: String,
    /// The condition text (empty = always).
    pub condition: String,
    /// What it grants.
    pub actions: ActionSet,
    /// Where it applies.
    pub context: RuleContext,
    /// Disabled rules grant nothing (audit and preview can still run them).
    pub disabled: bool,
    /// Its description (QRS `comment`).
    pub comment: String,
    /// Its kind.
    pub category: RuleCategory,
}
