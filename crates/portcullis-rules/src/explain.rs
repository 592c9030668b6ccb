//! What a decision says about itself: which applicable rules granted the action, which did
//! not, and which failed and why. Renders as the `because` tokens of the conformance
//! scenarios (`rule:<name>`, `no-grant`) and as one line for people.

use std::fmt;

use serde::Serialize;

use crate::action::{Action, ActionSet};
use crate::context::RequestContext;
use crate::err::EvalError;

/// A decision and its explanation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    /// True when some rule granted the action.
    pub allowed: bool,
    /// The user, `DIRECTORY\userId`.
    pub user: String,
    /// The resource id.
    pub resource: String,
    /// The action asked for.
    pub action: Action,
    /// Where the request came from.
    pub context: RequestContext,
    /// Every applicable rule whose actions include `action`, in site order.
    pub outcomes: Vec<RuleOutcome>,
}

/// What one rule did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleOutcome {
    /// The rule's name.
    pub rule: String,
    /// Everything the rule grants.
    pub actions: ActionSet,
    /// The result.
    pub result: RuleResult,
}

/// The result of one rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RuleResult {
    /// Its condition held: it grants its actions.
    Granted,
    /// Its condition did not hold.
    NotGranted {
        /// A `HasPrivilege` met a cycle and counted as false.
        cycle: bool,
    },
    /// It failed while being evaluated, and grants nothing.
    Failed(EvalError),
}

impl Decision {
    /// `allow` or `deny`.
    pub fn verdict(&self) -> &'static str {
        portcullis_model::verdict(self.allowed)
    }

    /// The rules that granted the action.
    pub fn granting_rules(&self) -> impl Iterator<Item = &str> {
        self.outcomes.iter().filter(|o| o.result == RuleResult::Granted).map(|o| o.rule.as_str())
    }

    /// The explanation tokens: `rule:<name>` per granting rule, or `no-grant`.
    pub fn tokens(&self) -> Vec<String> {
        let mut tokens: Vec<String> = self.granting_rules().map(|name| format!("rule:{name}")).collect();
        if tokens.is_empty() {
            tokens.push("no-grant".into());
        }
        tokens
    }

    /// The decision as JSON-ready data.
    pub fn to_report(&self) -> DecisionReport {
        DecisionReport {
            decision: self.verdict(),
            user: self.user.clone(),
            resource: self.resource.clone(),
            action: self.action.name(),
            context: self.context.name(),
            because: self.tokens(),
            rules: self
                .outcomes
                .iter()
                .map(|o| RuleReport {
                    rule: o.rule.clone(),
                    actions: o.actions.to_string(),
                    result: match &o.result {
                        RuleResult::Granted => "granted".into(),
                        RuleResult::NotGranted { cycle: false } => "condition false".into(),
                        RuleResult::NotGranted { cycle: true } => "condition false (HasPrivilege cycle)".into(),
                        RuleResult::Failed(error) => format!("failed: {error}"),
                    },
                })
                .collect(),
        }
    }
}

/// A decision as JSON.
#[derive(Debug, Clone, Serialize)]
pub struct DecisionReport {
    /// `allow` or `deny`.
    pub decision: &'static str,
    /// The user.
    pub user: String,
    /// The resource.
    pub resource: String,
    /// The action.
    pub action: &'static str,
    /// The context.
    pub context: &'static str,
    /// The explanation tokens.
    pub because: Vec<String>,
    /// Each applicable rule and what it did.
    pub rules: Vec<RuleReport>,
}

/// One rule in a [`DecisionReport`].
#[derive(Debug, Clone, Serialize)]
pub struct RuleReport {
    /// The rule.
    pub rule: String,
    /// What it grants.
    pub actions: String,
    /// What it did.
    pub result: String,
}

impl fmt::Display for Decision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} on `{}` for `{}` in {} because [{}]",
            self.verdict(),
            self.action,
            self.resource,
            self.user,
            self.context,
            self.tokens().join(", ")
        )?;
        if self.outcomes.is_empty() {
            return f.write_str("; no applicable rule grants this action");
        }
        let parts: Vec<String> = self
            .outcomes
            .iter()
            .map(|o| match &o.result {
                RuleResult::Granted => format!("rule `{}` granted [{}]", o.rule, o.actions),
                RuleResult::NotGranted { cycle: false } => format!("rule `{}` condition false", o.rule),
                RuleResult::NotGranted { cycle: true } => {
                    format!("rule `{}` condition false (a HasPrivilege cycle grants nothing)", o.rule)
                }
                RuleResult::Failed(error) => format!("rule `{}` failed: {error}", o.rule),
            })
            .collect();
        write!(f, "; {}", parts.join("; "))
    }
}
