//! A site as an AuthZEN policy decision point: how the entities of an AuthZEN request meet
//! the rule language, written once so that evaluations and the three searches agree.
//!
//! - **Subject**: a site user, `subject.type` being its user directory and `subject.id` its
//!   user id (`{type: "user", id: "alice"}` is `user\alice`). Its properties come from the
//!   site (the policy information point), never from the request.
//! - **Action**: the application's action names, mapped onto the rule language's actions
//!   by the site file's `authzen.actions` ([`Binding`]); a name may be limited to some
//!   resource types. Without a mapping, AuthZEN names are the rule language's (`read`, ...).
//! - **Resource**: a site resource of that type and id; or, for a type the site holds no
//!   resource of, the resource the request describes ([`supplied_resource`]: its properties
//!   become attributes, `owner` and `name` the rule language's own), so an application that
//!   keeps its own data can pass it with each question. A type the site does hold is the
//!   site's alone: an unknown id there is an unknown resource, and a request cannot give a
//!   held resource other properties.
//!
//! Searches walk [`crate::CompiledSite::users_in_directory`] or [`crate::CompiledSite::resources_of_type`]
//! in site order, deciding each; resources a request would supply are not searched, the
//! site does not know them. Pure: no IO.

use std::collections::{BTreeMap, HashSet};

use portcullis_model::source::SourcePath;
use serde::Deserialize;

use crate::action::{Action, ActionSet};
use crate::err::SiteError;
use crate::site::Resource;

/// The `authzen:` part of a site file, as written.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AuthzenFile {
    /// The application's action names, in the order action searches answer them.
    #[serde(default)]
    pub actions: Vec<ActionNameFile>,
}

/// One AuthZEN action name, as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ActionNameFile {
    /// The name a PEP sends (`can_read_todos`, `GET`, `view`).
    pub name: String,
    /// The rule language's action it means (`read`, `create`, ...).
    pub action: String,
    /// The resource types it applies to (all when empty).
    #[serde(default)]
    pub resource_types: Vec<String>,
}

/// One AuthZEN action name and what it means.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamedAction {
    /// The name a PEP sends.
    pub name: String,
    /// The rule language's action.
    pub action: Action,
    /// The resource types it applies to (all when empty).
    pub resource_types: Vec<String>,
}

impl NamedAction {
    fn applies_to(&self, resource_type: &str) -> bool {
        self.resource_types.is_empty() || self.resource_types.iter().any(|t| t.eq_ignore_ascii_case(resource_type))
    }
}

/// How a site answers AuthZEN's action names.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Binding {
    /// The mapped names, in order; none: AuthZEN names are the rule language's.
    pub actions: Vec<NamedAction>,
}

/// An AuthZEN action a site does not answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ActionNameError {
    /// The name is not mapped (or, without a mapping, not an action of the rule language).
    #[error("the site knows no action `{name}`")]
    Unknown {
        /// The name.
        name: String,
        /// The names it knows.
        known: Vec<String>,
    },
    /// The name is mapped, but not for this resource type.
    #[error("action `{name}` does not apply to resources of type `{resource_type}`")]
    WrongType {
        /// The name.
        name: String,
        /// The type asked about.
        resource_type: String,
        /// The types it applies to.
        types: Vec<String>,
    },
}

impl ActionNameError {
    /// What to do about it.
    pub fn hint(&self) -> String {
        match self {
            ActionNameError::Unknown { known, .. } => format!("use one of: {}", known.join(", ")),
            ActionNameError::WrongType { types, .. } => format!("it applies to resources of type {}", types.join(", ")),
        }
    }
}

impl Binding {
    /// Validates the `authzen:` part of a site file at `path`, adding every problem to `errors`.
    pub fn load(file: &AuthzenFile, path: &SourcePath, errors: &mut Vec<SiteError>) -> Binding {
        let mut seen = HashSet::new();
        let mut actions = Vec::with_capacity(file.actions.len());
        for (idx, entry) in file.actions.iter().enumerate() {
            let at = path.key("actions").index(idx);
            if entry.name.is_empty() {
                errors.push(SiteError::new(at.key("name"), "an AuthZEN action has an empty name", None));
            } else if !seen.insert(entry.name.as_str()) {
                errors.push(SiteError::new(
                    at.key("name"),
                    format!("AuthZEN action `{}` is listed twice", entry.name),
                    Some("list each name once; give it `resourceTypes` to limit where it applies".into()),
                ));
            }
            match Action::parse(&entry.action) {
                Ok(action) => actions.push(NamedAction {
                    name: entry.name.clone(),
                    action,
                    resource_types: entry.resource_types.clone(),
                }),
                Err(error) => errors.push(SiteError::new(
                    at.key("action"),
                    format!("AuthZEN action `{}`: {error}", entry.name),
                    Some(error.hint()),
                )),
            }
        }
        Binding { actions }
    }

    /// The rule language's action an AuthZEN action name means on a resource of `resource_type`.
    pub fn action(&self, name: &str, resource_type: &str) -> Result<Action, ActionNameError> {
        if self.actions.is_empty() {
            return Action::parse(name).map_err(|_| ActionNameError::Unknown {
                name: name.to_owned(),
                known: Action::ALL.iter().map(|a| a.name().to_owned()).collect(),
            });
        }
        let mut named = self.actions.iter().filter(|a| a.name == name).peekable();
        if named.peek().is_none() {
            return Err(ActionNameError::Unknown {
                name: name.to_owned(),
                known: self.actions.iter().map(|a| a.name.clone()).collect(),
            });
        }
        let mut types = Vec::new();
        for entry in named {
            if entry.applies_to(resource_type) {
                return Ok(entry.action);
            }
            types.extend(entry.resource_types.iter().map(|t| format!("`{t}`")));
        }
        Err(ActionNameError::WrongType {
            name: name.to_owned(),
            resource_type: resource_type.to_owned(),
            types,
        })
    }

    /// The AuthZEN names of the `granted` actions on a resource of `resource_type`, each with
    /// the action it means, in the binding's order (without a mapping, the rule language's
    /// names in bit order).
    pub fn names(&self, granted: ActionSet, resource_type: &str) -> Vec<(&str, Action)> {
        if self.actions.is_empty() {
            return granted.actions().map(|action| (action.name(), action)).collect();
        }
        self.actions
            .iter()
            .filter(|a| granted.contains(a.action) && a.applies_to(resource_type))
            .map(|a| (a.name.as_str(), a.action))
            .collect()
    }
}

/// The resource a request describes (a type the site holds no resource of): its type and id,
/// and its AuthZEN properties. `owner` (`DIRECTORY\userId`) and `name` are the rule
/// language's own; every other property is an attribute (`resource.ownerID`). A string,
/// number or boolean is one value, an array of them a list; objects and `null` are not read.
pub fn supplied_resource(resource_type: &str, id: &str, properties: Option<&serde_json::Map<String, serde_json::Value>>) -> Resource {
    let mut resource = Resource {
        id: id.to_owned(),
        resource_type: resource_type.to_owned(),
        ..Resource::default()
    };
    let mut attributes = BTreeMap::new();
    for (name, value) in properties.into_iter().flatten() {
        let values = values_of(value);
        if values.is_empty() {
            continue;
        }
        match name.as_str() {
            "owner" => resource.owner = values.into_iter().next(),
            "name" => resource.name = values.into_iter().next(),
            _ => {
                attributes.insert(name.clone(), values);
            }
        }
    }
    resource.attributes = attributes;
    resource
}

fn scalar(value: &serde_json::Value) -> Option<String> {
    match value {
        serde_json::Value::String(text) => Some(text.clone()),
        serde_json::Value::Number(number) => Some(number.to_string()),
        serde_json::Value::Bool(flag) => Some(flag.to_string()),
        serde_json::Value::Null | serde_json::Value::Array(_) | serde_json::Value::Object(_) => None,
    }
}

fn values_of(value: &serde_json::Value) -> Vec<String> {
    match value {
        serde_json::Value::Array(items) => items.iter().filter_map(scalar).collect(),
        other => scalar(other).into_iter().collect(),
    }
}
