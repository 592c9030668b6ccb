//! The QSEoW security-rule language (spec `security-rules.md`): lexing and parsing conditions
//! with diagnostics, printing them back, resource filters, actions and contexts; a site model
//! compiled once into an indexed, interned form; decisions with explanations; the shipped
//! default rule set; QRS `SystemRule` JSON import/export and whole QRS sites (`/full` JSON); the audit matrix with preview diffs;
//! the linter; and a site as an AuthZEN decision point (action names, resources a request
//! supplies, searches).
//!
//! Pure: no IO, no async. Callers read files and hand over text (or an archive's bytes).
#![warn(missing_docs)]

pub mod action;
pub mod audit;
pub mod authzen;
mod classes;
pub mod compile;
pub mod context;
pub mod default_rules;
pub mod err;
pub mod eval;
pub mod explain;
pub mod filter;
pub mod lint;
pub mod qrs;
pub mod qrs_site;
pub mod reference;
pub mod site;
pub mod site_file;
mod suggest;
pub mod supplied;
pub mod syntax;

pub use action::{Action, ActionSet};
pub use compile::{CompiledRule, CompiledSite, ResourceId, RuleId, UserId};
pub use context::{RequestContext, RuleContext};
pub use err::{ActionError, EvalError, FilterError, RuleError, SiteError};
pub use explain::{Decision, RuleOutcome, RuleResult};
pub use filter::{FilterItem, FilterTarget, ResourceFilter, parse_filter};
pub use site::{Resource, Rule, RuleCategory, Site, User};
pub use supplied::{SuppliedResource, Target};
pub use syntax::{MAX_CONDITION_BYTES, MAX_CONDITION_DEPTH, MAX_PATH_STEPS, ParsedCondition, parse_condition, print_expr};

#[cfg(test)]
mod limit_tests;
#[cfg(test)]
mod tests;
