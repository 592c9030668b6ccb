//! The site file format: what a `model: rules` scenario has under `site:` (conformance
//! README), decoded with serde and then validated into a [`Site`], with every semantic
//! problem reported at its [`SourcePath`] (so the caller can name the file's line).
//!
//! Unknown keys on users and resources are kept as attributes (`description: x` on a resource
//! is `resource.description`), so a site can carry any QRS attribute.

use std::collections::{BTreeMap, HashMap, HashSet};

use portcullis_model::source::{SourcePath, YamlError, check_yaml};
use serde::Deserialize;

use crate::action::ActionSet;
use crate::authzen::{AuthzenFile, Binding};
use crate::compile::CompiledSite;
use crate::context::RuleContext;
use crate::default_rules;
use crate::err::{RuleField, SiteError};
use crate::site::{Resource, Rule, RuleCategory, Site, User};

/// A YAML scalar, compared as its string form (`true` is `"true"`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(untagged)]
pub enum Scalar {
    /// `true` / `false`.
    Bool(bool),
    /// An integer.
    Int(i64),
    /// A float.
    Float(f64),
    /// A string.
    Str(String),
}

impl Scalar {
    /// The value as a string.
    pub fn text(&self) -> String {
        match self {
            Scalar::Bool(b) => b.to_string(),
            Scalar::Int(i) => i.to_string(),
            Scalar::Float(x) => x.to_string(),
            Scalar::Str(s) => s.clone(),
        }
    }
}

/// One value or a list of values.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(untagged)]
pub enum Values {
    /// A single value.
    One(Scalar),
    /// A list.
    Many(Vec<Scalar>),
}

impl Values {
    /// The values as strings.
    pub fn texts(&self) -> Vec<String> {
        match self {
            Values::One(value) => vec![value.text()],
            Values::Many(values) => values.iter().map(Scalar::text).collect(),
        }
    }
}

fn texts(map: &BTreeMap<String, Values>) -> BTreeMap<String, Vec<String>> {
    map.iter().map(|(k, v)| (k.clone(), v.texts())).collect()
}

/// The `site:` part of a scenario, as written.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SiteFile {
    /// Start from the shipped default rule set.
    #[serde(default)]
    pub default_rules: bool,
    /// The users.
    #[serde(default)]
    pub users: Vec<UserFile>,
    /// The resources.
    #[serde(default)]
    pub resources: Vec<ResourceFile>,
    /// The rules.
    #[serde(default)]
    pub rules: Vec<RuleFile>,
    /// How the site answers the AuthZEN API (its action names).
    #[serde(default)]
    pub authzen: Option<AuthzenFile>,
}

/// A user as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserFile {
    /// Directory.
    pub user_directory: Scalar,
    /// Id within the directory.
    pub user_id: Scalar,
    /// Display name.
    #[serde(default)]
    pub name: Option<Scalar>,
    /// E-mail.
    #[serde(default)]
    pub email: Option<Scalar>,
    /// Directory groups.
    #[serde(default)]
    pub groups: Vec<Scalar>,
    /// QMC roles.
    #[serde(default)]
    pub roles: Vec<Scalar>,
    /// Custom properties.
    #[serde(default)]
    pub custom_properties: BTreeMap<String, Values>,
    /// Anonymous login.
    #[serde(default)]
    pub anonymous: bool,
    /// Session attributes.
    #[serde(default)]
    pub environment: BTreeMap<String, Values>,
    /// Other directory attributes.
    #[serde(default)]
    pub attributes: BTreeMap<String, Values>,
    /// Any other key: kept as an attribute.
    #[serde(flatten)]
    pub extra: BTreeMap<String, Values>,
}

/// A resource as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResourceFile {
    /// Id.
    pub id: Scalar,
    /// QRS type or `TransientObject`.
    #[serde(rename = "type")]
    pub resource_type: String,
    /// Name.
    #[serde(default)]
    pub name: Option<Scalar>,
    /// Owner, `DIRECTORY\userId`.
    #[serde(default)]
    pub owner: Option<Scalar>,
    /// Custom properties.
    #[serde(default)]
    pub custom_properties: BTreeMap<String, Values>,
    /// The stream an app is published to.
    #[serde(default)]
    pub stream: Option<Scalar>,
    /// The app an object or task belongs to.
    #[serde(default)]
    pub app: Option<Scalar>,
    /// Other relations to resources by name.
    #[serde(default)]
    pub relations: BTreeMap<String, Values>,
    /// Other attributes.
    #[serde(default)]
    pub attributes: BTreeMap<String, Values>,
    /// Any other key (`objectType`, `published`, `approved`, ...): kept as an attribute.
    #[serde(flatten)]
    pub extra: BTreeMap<String, Values>,
}

/// A rule's actions: names or the QRS mask.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(untagged)]
pub enum ActionsFile {
    /// The QRS bit mask.
    Mask(i64),
    /// Action names.
    Names(Vec<String>),
    /// One name, or names separated by commas.
    Name(String),
}

/// A rule's context: a name or the QRS integer.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(untagged)]
pub enum ContextFile {
    /// 0, 1 or 2.
    Qrs(i64),
    /// `both`, `hub` or `qmc`.
    Name(String),
}

/// A rule as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RuleFile {
    /// The QRS id, when the rule came from QRS.
    #[serde(default)]
    pub id: Option<String>,
    /// Name.
    pub name: String,
    /// Resource filter.
    #[serde(default)]
    pub resource_filter: String,
    /// Condition (`rule` in QRS).
    #[serde(default, alias = "rule")]
    pub condition: Option<String>,
    /// Actions.
    #[serde(default)]
    pub actions: Option<ActionsFile>,
    /// Context (default both).
    #[serde(default, alias = "ruleContext")]
    pub context: Option<ContextFile>,
    /// Disabled.
    #[serde(default)]
    pub disabled: bool,
    /// Description.
    #[serde(default)]
    pub comment: Option<String>,
    /// `Security` (default), `License` or `Sync`.
    #[serde(default)]
    pub category: Option<String>,
}

impl ActionsFile {
    /// The action set.
    pub fn to_set(&self) -> Result<ActionSet, crate::err::ActionError> {
        match self {
            ActionsFile::Mask(mask) => ActionSet::from_mask(i128::from(*mask)),
            ActionsFile::Names(names) => ActionSet::from_names(names),
            ActionsFile::Name(names) => {
                let names: Vec<&str> = names.split(',').map(str::trim).filter(|n| !n.is_empty()).collect();
                ActionSet::from_names(&names)
            }
        }
    }
}

impl RuleFile {
    /// Validates the rule's fields (not its filter or condition: compiling does that).
    pub fn to_rule(&self, path: &SourcePath, errors: &mut Vec<SiteError>) -> Rule {
        let actions = match &self.actions {
            None => {
                errors.push(SiteError::new(
                    path.key("actions"),
                    format!("rule `{}` has no actions", self.name),
                    Some("give `actions` as a list of names, e.g. `[read]`, or a QRS mask".into()),
                ));
                ActionSet::NONE
            }
            Some(actions) => actions.to_set().unwrap_or_else(|error| {
                errors.push(SiteError::new(
                    path.key("actions"),
                    format!("rule `{}`: {error}", self.name),
                    Some(error.hint()),
                ));
                ActionSet::NONE
            }),
        };
        let context = match &self.context {
            None => Some(RuleContext::Both),
            Some(ContextFile::Qrs(n)) => RuleContext::from_qrs(*n),
            Some(ContextFile::Name(name)) => RuleContext::parse(name),
        }
        .unwrap_or_else(|| {
            errors.push(SiteError::new(
                path.key("context"),
                format!("rule `{}` has an unknown context", self.name),
                Some("write `both`, `hub` or `qmc` (QRS 0, 1, 2)".into()),
            ));
            RuleContext::Both
        });
        let category = match &self.category {
            None => RuleCategory::Security,
            Some(name) => RuleCategory::parse(name).unwrap_or_else(|| {
                errors.push(SiteError::new(
                    path.key("category"),
                    format!("rule `{}` has the unknown category `{name}`", self.name),
                    Some("write `Security`, `License` or `Sync`".into()),
                ));
                RuleCategory::Security
            }),
        };
        Rule {
            id: self.id.clone(),
            name: self.name.clone(),
            resource_filter: self.resource_filter.clone(),
            condition: self.condition.clone().unwrap_or_default(),
            actions,
            context,
            disabled: self.disabled,
            comment: self.comment.clone().unwrap_or_default(),
            category,
        }
    }
}

/// A loaded site: the validated data and its compiled form.
#[derive(Debug, Clone)]
pub struct LoadedSite {
    /// The data (default rules first when asked for).
    pub site: Site,
    /// Number of default rules at the start of `site.rules`.
    pub n_default_rules: usize,
    /// The compiled site.
    pub compiled: CompiledSite,
    /// How it answers the AuthZEN API.
    pub authzen: Binding,
}

impl SiteFile {
    /// Validates and compiles the site. `base` is where the site sits in its file (e.g.
    /// `site`), so every error's path is complete. Reports every problem found.
    pub fn load(&self, base: &SourcePath) -> Result<LoadedSite, Vec<SiteError>> {
        let mut errors = Vec::new();
        let site = self.to_site(base, &mut errors);
        let authzen = match &self.authzen {
            Some(file) => Binding::load(file, &base.key("authzen"), &mut errors),
            None => Binding::default(),
        };
        let n_default_rules = if self.default_rules { default_rules::rules().len() } else { 0 };
        if !errors.is_empty() {
            return Err(errors);
        }
        match CompiledSite::compile(&site) {
            Ok(compiled) => Ok(LoadedSite {
                site,
                n_default_rules,
                compiled,
                authzen,
            }),
            Err(rule_errors) => Err(rule_errors
                .into_iter()
                .map(|error| {
                    let path = if error.rule_idx < n_default_rules {
                        base.key("defaultRules")
                    } else {
                        base.key("rules").index(error.rule_idx - n_default_rules).key(error.field.key())
                    };
                    let message = match error.field {
                        RuleField::Filter | RuleField::Condition => format!("rule `{}`: {}", error.rule_name, error.message),
                    };
                    SiteError::new(path, message, error.hint)
                })
                .collect()),
        }
    }

    /// The site data, with structural problems (duplicates, dangling references, bad actions)
    /// added to `errors`.
    pub fn to_site(&self, base: &SourcePath, errors: &mut Vec<SiteError>) -> Site {
        let mut site = Site::default();
        let mut user_keys = HashSet::new();
        for (idx, user) in self.users.iter().enumerate() {
            let path = base.key("users").index(idx);
            let mut attributes = texts(&user.attributes);
            attributes.extend(texts(&user.extra));
            let user = User {
                user_directory: user.user_directory.text(),
                user_id: user.user_id.text(),
                name: user.name.as_ref().map(Scalar::text),
                email: user.email.as_ref().map(Scalar::text),
                groups: user.groups.iter().map(Scalar::text).collect(),
                roles: user.roles.iter().map(Scalar::text).collect(),
                custom_properties: texts(&user.custom_properties),
                anonymous: user.anonymous,
                environment: texts(&user.environment),
                attributes,
            };
            if !user_keys.insert(user.key().to_lowercase()) {
                errors.push(SiteError::new(path, format!("user `{}` is listed twice", user.key()), None));
            }
            site.users.push(user);
        }
        let mut ids: HashMap<String, usize> = HashMap::new();
        for (idx, resource) in self.resources.iter().enumerate() {
            if ids.insert(resource.id.text(), idx).is_some() {
                errors.push(SiteError::new(
                    base.key("resources").index(idx).key("id"),
                    format!("resource id `{}` is used twice", resource.id.text()),
                    None,
                ));
            }
        }
        for (idx, resource) in self.resources.iter().enumerate() {
            let path = base.key("resources").index(idx);
            let mut check = |key: &str, id: &str| {
                if !ids.contains_key(id) {
                    errors.push(SiteError::new(
                        path.key(key),
                        format!("resource `{}` refers to the unknown resource `{id}`", resource.id.text()),
                        Some("list the resource under `resources:` or fix the id".into()),
                    ));
                }
            };
            if let Some(stream) = &resource.stream {
                check("stream", &stream.text());
            }
            if let Some(app) = &resource.app {
                check("app", &app.text());
            }
            let relations: BTreeMap<String, Vec<String>> = texts(&resource.relations);
            for targets in relations.values() {
                for target in targets {
                    check("relations", target);
                }
            }
            let mut attributes = texts(&resource.attributes);
            attributes.extend(texts(&resource.extra));
            site.resources.push(Resource {
                id: resource.id.text(),
                resource_type: resource.resource_type.clone(),
                name: resource.name.as_ref().map(Scalar::text),
                owner: resource.owner.as_ref().map(Scalar::text),
                custom_properties: texts(&resource.custom_properties),
                stream: resource.stream.as_ref().map(Scalar::text),
                app: resource.app.as_ref().map(Scalar::text),
                relations,
                attributes,
            });
        }
        if self.default_rules {
            site.rules.extend(default_rules::rules());
        }
        for (idx, rule) in self.rules.iter().enumerate() {
            site.rules.push(rule.to_rule(&base.key("rules").index(idx), errors));
        }
        site
    }
}

/// A site file, or a scenario file with a `site:` key, decoded from YAML. Returns the site and
/// where it sits in the document. The text is first checked against the YAML limits
/// ([`check_yaml`]: depth, alias expansion); conditions and filters are bounded when the
/// site is compiled.
pub fn from_yaml(text: &str) -> Result<(SiteFile, SourcePath), YamlError> {
    #[derive(Deserialize)]
    struct Probe {
        #[serde(default)]
        site: Option<serde::de::IgnoredAny>,
    }
    #[derive(Deserialize)]
    struct Wrapped {
        site: SiteFile,
    }
    check_yaml(text)?;
    let probe: Probe = serde_norway::from_str(text)?;
    if probe.site.is_some() {
        let wrapped: Wrapped = serde_norway::from_str(text)?;
        Ok((wrapped.site, SourcePath::root().key("site")))
    } else {
        Ok((serde_norway::from_str(text)?, SourcePath::root()))
    }
}

/// Rules as a YAML list in the site file's `rules:` format (actions by name, context by name).
pub fn rules_to_yaml(rules: &[Rule]) -> String {
    let list: Vec<serde_json::Value> = rules
        .iter()
        .map(|rule| {
            let mut map = serde_json::Map::new();
            map.insert("name".into(), rule.name.clone().into());
            map.insert("resourceFilter".into(), rule.resource_filter.clone().into());
            map.insert("condition".into(), rule.condition.clone().into());
            let known = rule.actions.actions().fold(ActionSet::NONE, ActionSet::with);
            let actions: serde_json::Value = if known == rule.actions {
                rule.actions.actions().map(|a| serde_json::Value::from(a.name())).collect()
            } else {
                i64::from(rule.actions.0).into()
            };
            map.insert("actions".into(), actions);
            map.insert("context".into(), rule.context.name().into());
            if rule.disabled {
                map.insert("disabled".into(), true.into());
            }
            if rule.category != RuleCategory::Security {
                map.insert("category".into(), rule.category.name().into());
            }
            if !rule.comment.is_empty() {
                map.insert("comment".into(), rule.comment.clone().into());
            }
            serde_json::Value::Object(map)
        })
        .collect();
    serde_norway::to_string(&list).unwrap_or_default()
}

/// A site as a JSON site file (what [`from_yaml`] reads back to an equal [`Site`]): how an
/// imported QRS site is stored as a rule site. Every value is written as a list of strings,
/// and actions and contexts as QRS numbers, so nothing is lost on the way back.
pub fn site_to_json(site: &Site) -> String {
    use serde_json::{Map, Value, json};
    fn values(map: &BTreeMap<String, Vec<String>>) -> Value {
        Value::Object(map.iter().map(|(k, v)| (k.clone(), json!(v))).collect())
    }
    fn put(map: &mut Map<String, Value>, key: &str, value: Option<&String>) {
        if let Some(value) = value {
            map.insert(key.to_owned(), value.clone().into());
        }
    }
    let users: Vec<Value> = site
        .users
        .iter()
        .map(|user| {
            let mut map = Map::new();
            map.insert("userDirectory".into(), user.user_directory.clone().into());
            map.insert("userId".into(), user.user_id.clone().into());
            put(&mut map, "name", user.name.as_ref());
            put(&mut map, "email", user.email.as_ref());
            map.insert("groups".into(), json!(user.groups));
            map.insert("roles".into(), json!(user.roles));
            map.insert("customProperties".into(), values(&user.custom_properties));
            map.insert("anonymous".into(), user.anonymous.into());
            map.insert("environment".into(), values(&user.environment));
            map.insert("attributes".into(), values(&user.attributes));
            Value::Object(map)
        })
        .collect();
    let resources: Vec<Value> = site
        .resources
        .iter()
        .map(|resource| {
            let mut map = Map::new();
            map.insert("id".into(), resource.id.clone().into());
            map.insert("type".into(), resource.resource_type.clone().into());
            put(&mut map, "name", resource.name.as_ref());
            put(&mut map, "owner", resource.owner.as_ref());
            put(&mut map, "stream", resource.stream.as_ref());
            put(&mut map, "app", resource.app.as_ref());
            map.insert("customProperties".into(), values(&resource.custom_properties));
            map.insert("relations".into(), values(&resource.relations));
            map.insert("attributes".into(), values(&resource.attributes));
            Value::Object(map)
        })
        .collect();
    let rules: Vec<Value> = site
        .rules
        .iter()
        .map(|rule| {
            let mut rule_json = json!({
                "name": rule.name,
                "resourceFilter": rule.resource_filter,
                "condition": rule.condition,
                "actions": i64::from(rule.actions.0),
                "context": rule.context.qrs(),
                "disabled": rule.disabled,
                "comment": rule.comment,
                "category": rule.category.name(),
            });
            if let (Some(id), Some(object)) = (&rule.id, rule_json.as_object_mut()) {
                object.insert("id".into(), id.clone().into());
            }
            rule_json
        })
        .collect();
    let document = json!({ "users": users, "resources": resources, "rules": rules });
    let mut text = serde_json::to_string_pretty(&document).unwrap_or_default();
    text.push('\n');
    text
}
