//! Errors of the crate outside the condition syntax: resource filters, actions, contexts,
//! and loading a site (which collects all of them with where they are).

use portcullis_model::source::SourcePath;
use serde::Serialize;

use crate::syntax::Diagnostic;

/// A problem in a resource filter.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FilterError {
    /// Nothing at all.
    #[error("the resource filter is empty")]
    Empty,
    /// Nothing between two commas.
    #[error("empty entry at column {column}")]
    EmptyItem {
        /// Column of the entry, from 1.
        column: usize,
    },
    /// `App*_*`: a type prefix combined with `_*`.
    #[error("`{item}` at column {column} combines a type prefix `*` with `_*`")]
    PrefixWithInstance {
        /// The entry.
        item: String,
        /// Column of the entry, from 1.
        column: usize,
    },
    /// A `*` anywhere but at the end.
    #[error("`{item}` at column {column} has `*` in the middle")]
    InnerStar {
        /// The entry.
        item: String,
        /// Column of the entry, from 1.
        column: usize,
    },
    /// A bare type name without `*`, `_*` or `_<id>`.
    #[error("`{item}` at column {column} names no resources")]
    NoSelector {
        /// The entry.
        item: String,
        /// Column of the entry, from 1.
        column: usize,
    },
    /// A character a filter entry cannot hold.
    #[error("`{item}` at column {column} has the character `{ch}`")]
    BadChar {
        /// The entry.
        item: String,
        /// The character.
        ch: char,
        /// Column of the entry, from 1.
        column: usize,
    },
    /// Longer than a filter may be.
    #[error(transparent)]
    Limit(portcullis_model::LimitError),
}

impl FilterError {
    /// What to do about it.
    pub fn hint(&self) -> String {
        match self {
            FilterError::Empty | FilterError::EmptyItem { .. } => {
                "write entries such as `App_*`, `App*` or `Stream_<id>`, separated by commas".into()
            }
            FilterError::PrefixWithInstance { item, .. } | FilterError::InnerStar { item, .. } => {
                let base = item.split(['*', '_']).next().unwrap_or_default();
                format!("write `{base}*` for every type starting with `{base}`, or `{base}_*` for that type only")
            }
            FilterError::NoSelector { item, .. } => {
                format!("write `{item}_*` for every resource of that type, or `{item}*` for every type starting with it")
            }
            FilterError::BadChar { .. } => "entries hold letters, digits, `.`, `_`, `-` and a final `*`".into(),
            FilterError::Limit(limit) => limit.hint(),
        }
    }
}

/// An action name or mask that is not one of spec §3.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ActionError {
    /// An unknown action name.
    #[error("unknown action `{0}`")]
    UnknownName(String),
    /// A mask that does not fit QRS's 32 bits.
    #[error("action mask `{0}` is out of range")]
    MaskOutOfRange(i128),
}

impl ActionError {
    /// What to do about it.
    pub fn hint(&self) -> String {
        match self {
            ActionError::UnknownName(name) => {
                let names = crate::action::Action::ALL.map(|a| a.name());
                match crate::suggest::closest(name, names) {
                    Some(best) => format!("did you mean `{best}`? actions: {}", names.join(", ")),
                    None => format!("actions: {}", names.join(", ")),
                }
            }
            ActionError::MaskOutOfRange(_) => "a mask is a sum of action bits between 0 and 4294967295".into(),
        }
    }
}

/// A problem found while loading a site: where it is, what it is, what to do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct SiteError {
    /// The node of the site file it concerns.
    pub path: SourcePath,
    /// The problem, one line.
    pub message: String,
    /// What to do about it.
    pub hint: Option<String>,
}

impl SiteError {
    /// A site error at `path`.
    pub fn new(path: SourcePath, message: impl Into<String>, hint: Option<String>) -> Self {
        SiteError {
            path,
            message: message.into(),
            hint,
        }
    }

    /// The error of a rule's condition, naming the rule and the position inside the condition.
    pub fn condition(path: SourcePath, rule_name: &str, diagnostic: &Diagnostic) -> Self {
        SiteError {
            path,
            message: format!("rule `{rule_name}`: condition {}: {}", diagnostic.at, diagnostic.error),
            hint: diagnostic.hint.clone(),
        }
    }

    /// The message followed by the hint, on one line.
    pub fn with_hint(&self) -> String {
        match &self.hint {
            Some(hint) => format!("{} (hint: {hint})", self.message),
            None => self.message.clone(),
        }
    }
}

/// Which part of a rule a [`RuleError`] is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RuleField {
    /// The resource filter.
    Filter,
    /// The condition.
    Condition,
}

impl RuleField {
    /// The field's key in a site file.
    pub fn key(self) -> &'static str {
        match self {
            RuleField::Filter => "resourceFilter",
            RuleField::Condition => "condition",
        }
    }
}

/// A rule that cannot be compiled: its filter or condition does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("rule `{rule_name}`: {message}")]
pub struct RuleError {
    /// Index of the rule in the site.
    pub rule_idx: usize,
    /// The rule's name.
    pub rule_name: String,
    /// The part at fault.
    pub field: RuleField,
    /// The problem, with its line:column inside the condition (or column inside the filter).
    pub message: String,
    /// What to do about it.
    pub hint: Option<String>,
}

/// Why a rule failed while being evaluated. Such a rule grants nothing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EvalError {
    /// `node.` in a security rule.
    #[error("`{0}` refers to a server node, which only load-balancing rules have")]
    NodeInSecurityRule(String),
    /// `HasPrivilege("x")` with an unknown action.
    #[error("`HasPrivilege(\"{0}\")` names an unknown action")]
    UnknownAction(String),
    /// A function on a value or entity it does not apply to.
    #[error("`{function}()` cannot be called on `{path}`: {reason}")]
    FunctionTarget {
        /// The function.
        function: &'static str,
        /// The path it was called on.
        path: String,
        /// Why not.
        reason: &'static str,
    },
    /// A `matches` pattern that is not a regular expression.
    #[error("`{pattern}` is not a valid regular expression: {message}")]
    BadRegex {
        /// The pattern.
        pattern: String,
        /// The regex engine's complaint.
        message: String,
    },
    /// Nested `HasPrivilege` calls went too deep.
    #[error("`HasPrivilege` calls nest deeper than {0} levels")]
    TooDeep(usize),
    /// A compiled condition deeper than the parser allows (never, for a parsed one).
    #[error("the condition nests deeper than {0} levels")]
    ConditionTooDeep(usize),
}

/// A document that is not QRS `SystemRule` JSON.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QrsError {
    /// Not JSON of the expected shape.
    #[error("not QRS SystemRule JSON: {0}")]
    Json(String),
}

/// How bad a problem is: errors fail the import, warnings are reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// The site is not imported.
    Error,
    /// Reported; the site is imported.
    Warning,
}

/// A problem of a QRS site, located as (file, object id, field).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[error("{}", self.located())]
pub struct QrsSiteProblem {
    /// Error or warning.
    pub severity: Severity,
    /// The file (`apps.json`), or the archive when it is about the archive.
    pub file: String,
    /// The object's id (or `#index` when it has none).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub object: Option<String>,
    /// The field (`owner`, `customProperties`, `rule`, ...).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// What is wrong.
    pub message: String,
    /// What to do about it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
}

impl QrsSiteProblem {
    /// `file: object id: field `f`: severity: message (hint: ...)`, on one line.
    pub fn located(&self) -> String {
        use std::fmt::Write as _;
        let mut f = String::new();
        let severity = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        f.push_str(&self.file);
        if let Some(object) = &self.object {
            let _ = write!(f, ": object {object}");
        }
        if let Some(field) = &self.field {
            let _ = write!(f, ": field `{field}`");
        }
        let _ = write!(f, ": {severity}: {}", self.message);
        if let Some(hint) = &self.hint {
            let _ = write!(f, " (hint: {hint})");
        }
        f
    }
}
