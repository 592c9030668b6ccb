//! Import and export of QRS `SystemRule` JSON: the `/qrs/systemrule/full` shape (one object or
//! an array), actions as bit masks, `ruleContext` 0/1/2 (QRS enum names accepted too).
//!
//! Import keeps going on rules with missing or odd fields and reports them per rule, so the
//! linter can show them; fields Portcullis does not use are accepted and dropped.

use serde::{Deserialize, Serialize};

use crate::action::ActionSet;
use crate::context::RuleContext;
use crate::err::QrsError;
use crate::site::{Rule, RuleCategory};

/// `ruleContext` as QRS writes it: an integer, or sometimes the enum name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum QrsContext {
    /// 0, 1 or 2.
    Number(i64),
    /// `BothQlikSenseAndQMC`, `QlikSenseOnly`, `QMCOnly`.
    Name(String),
}

/// One `SystemRule` as QRS returns it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SystemRule {
    /// GUID.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// `Security`, `License` or `Sync`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
    /// Not documented by Qlik.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subcategory: Option<String>,
    /// `Default`, `Custom`, ... (read-only in QRS).
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub rule_type: Option<String>,
    /// Name.
    pub name: String,
    /// Condition.
    #[serde(default)]
    pub rule: Option<String>,
    /// Resource filter.
    #[serde(default)]
    pub resource_filter: Option<String>,
    /// Bit mask.
    #[serde(default)]
    pub actions: Option<i64>,
    /// Description.
    #[serde(default)]
    pub comment: Option<String>,
    /// Disabled.
    #[serde(default)]
    pub disabled: Option<bool>,
    /// 0 both, 1 hub, 2 QMC.
    #[serde(default)]
    pub rule_context: Option<QrsContext>,
    /// Seed rule id (zeros for custom rules).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed_id: Option<String>,
    /// Revision.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<i64>,
    /// Tags, kept as they are.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<Vec<serde_json::Value>>,
    /// `SystemRule`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schema_path: Option<String>,
}

/// A rule read from QRS JSON, with what was wrong with its fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportedRule {
    /// The rule (missing fields take their QRS defaults; missing actions grant nothing).
    pub rule: Rule,
    /// Field problems, in words: `actions` missing, unknown context or category.
    pub problems: Vec<String>,
}

/// Reads one `SystemRule` object or an array of them.
pub fn import(json: &str) -> Result<Vec<ImportedRule>, QrsError> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        Many(Vec<SystemRule>),
        One(Box<SystemRule>),
    }
    let parsed: OneOrMany = serde_json::from_str(json).map_err(|e| QrsError::Json(e.to_string()))?;
    let rules = match parsed {
        OneOrMany::Many(rules) => rules,
        OneOrMany::One(rule) => vec![*rule],
    };
    Ok(rules.into_iter().map(from_system_rule).collect())
}

/// Converts one `SystemRule`.
pub fn from_system_rule(system_rule: SystemRule) -> ImportedRule {
    let mut problems = Vec::new();
    let actions = match system_rule.actions {
        None => {
            problems.push("`actions` is missing: the rule grants nothing".to_owned());
            ActionSet::NONE
        }
        Some(mask) => ActionSet::from_mask(i128::from(mask)).unwrap_or_else(|error| {
            problems.push(error.to_string());
            ActionSet::NONE
        }),
    };
    let context = match &system_rule.rule_context {
        None => RuleContext::Both,
        Some(QrsContext::Number(n)) => RuleContext::from_qrs(*n).unwrap_or_else(|| {
            problems.push(format!("unknown `ruleContext` {n}; expected 0, 1 or 2"));
            RuleContext::Both
        }),
        Some(QrsContext::Name(name)) => RuleContext::parse(name).unwrap_or_else(|| {
            problems.push(format!("unknown `ruleContext` `{name}`"));
            RuleContext::Both
        }),
    };
    let category = match &system_rule.category {
        None => RuleCategory::Security,
        Some(name) => RuleCategory::parse(name).unwrap_or_else(|| {
            problems.push(format!("unknown category `{name}`"));
            RuleCategory::Security
        }),
    };
    ImportedRule {
        rule: Rule {
            id: system_rule.id.filter(|id| !id.trim().is_empty()),
            name: system_rule.name,
            resource_filter: system_rule.resource_filter.unwrap_or_default(),
            condition: system_rule.rule.unwrap_or_default(),
            actions,
            context,
            disabled: system_rule.disabled.unwrap_or(false),
            comment: system_rule.comment.unwrap_or_default(),
            category,
        },
        problems,
    }
}

/// The `SystemRule` of a rule, as a custom rule (`type: Custom`, zero seed id). The id is the
/// rule's QRS id, or else derived from the name so that exporting twice gives the same document.
pub fn to_system_rule(rule: &Rule) -> SystemRule {
    SystemRule {
        id: Some(rule.id.clone().unwrap_or_else(|| guid_from(&rule.name))),
        category: Some(rule.category.name().to_owned()),
        subcategory: Some(String::new()),
        rule_type: Some("Custom".to_owned()),
        name: rule.name.clone(),
        rule: Some(rule.condition.clone()),
        resource_filter: Some(rule.resource_filter.clone()),
        actions: Some(i64::from(rule.actions.0)),
        comment: Some(rule.comment.clone()),
        disabled: Some(rule.disabled),
        rule_context: Some(QrsContext::Number(rule.context.qrs())),
        seed_id: Some("00000000-0000-0000-0000-000000000000".to_owned()),
        version: Some(0),
        tags: Some(Vec::new()),
        schema_path: Some("SystemRule".to_owned()),
    }
}

/// The rules as a `/qrs/systemrule/full` JSON array (pretty-printed).
pub fn export(rules: &[Rule]) -> String {
    let system_rules: Vec<SystemRule> = rules.iter().map(to_system_rule).collect();
    serde_json::to_string_pretty(&system_rules).unwrap_or_else(|_| "[]".to_owned())
}

/// A GUID-shaped id from two 64-bit FNV-1a hashes of `text`.
pub(crate) fn guid_from(text: &str) -> String {
    let hash = |seed: u64| text.bytes().fold(seed, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3));
    let a = hash(0xcbf2_9ce4_8422_2325);
    let b = hash(0x84222325_cbf29ce4);
    format!(
        "{:08x}-{:04x}-4{:03x}-8{:03x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xffff,
        a & 0xfff,
        b >> 52,
        b & 0xffff_ffff_ffff
    )
}
