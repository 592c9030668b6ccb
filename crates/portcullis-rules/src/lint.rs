//! The linter: syntax errors with positions, unknown attributes and functions, `!=` on a
//! multi-valued attribute, `and`/`or` mixed without parentheses, conditions that can never
//! match their own resource filter, rules shadowed by broader ones, disabled rules, and rule
//! fields that QRS would refuse (no actions, an empty filter).
//!
//! It reads rule files in the formats Portcullis knows: QRS `SystemRule` JSON, a site or
//! scenario YAML file, or a YAML list of rules. Text in, findings out: no IO.

use std::fmt;

use portcullis_model::source::{LineCol, SourcePath};
use serde::Serialize;

use crate::action::Action;
use crate::filter::{ResourceFilter, parse_filter};
use crate::qrs;
use crate::site::{Rule, RuleCategory};
use crate::site_file::{RuleFile, from_yaml};
use crate::suggest::closest;
use crate::syntax::{CmpOp, Expr, ExprKind, Function, OperandKind, Path, Root, Severity, StepKind, line_col, parse_condition, print_expr};

/// A rule to lint, with the problems its loader already found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LintRule {
    /// The rule.
    pub rule: Rule,
    /// Field problems found while reading it (no actions, unknown context, ...).
    pub load_problems: Vec<String>,
}

/// One finding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// How bad.
    pub severity: Severity,
    /// A stable short name of the check (`syntax`, `unknown-attribute`, `shadowed`, ...).
    pub code: &'static str,
    /// Index of the rule in its file.
    pub rule_idx: usize,
    /// The rule's name.
    pub rule_name: String,
    /// Where in the condition (`None` for the whole rule or another field).
    #[serde(serialize_with = "serialize_at")]
    pub at: Option<LineCol>,
    /// The problem.
    pub message: String,
    /// What to do.
    pub hint: Option<String>,
}

fn serialize_at<S: serde::Serializer>(at: &Option<LineCol>, serializer: S) -> Result<S::Ok, S::Error> {
    match at {
        Some(at) => serializer.serialize_str(&at.to_string()),
        None => serializer.serialize_none(),
    }
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "rule #{} `{}`: {}: ", self.rule_idx, self.rule_name, self.severity)?;
        if let Some(at) = self.at {
            write!(f, "condition {at}: ")?;
        }
        f.write_str(&self.message)?;
        if let Some(hint) = &self.hint {
            write!(f, "\n    hint: {hint}")?;
        }
        Ok(())
    }
}

/// Reads the rules of a file. `name` picks the format by extension (`.json` is QRS JSON,
/// anything else YAML: a site or scenario file, or a list of rules).
pub fn read_rule_file(name: &str, text: &str) -> Result<Vec<LintRule>, String> {
    let is_json = name.to_ascii_lowercase().ends_with(".json") || text.trim_start().starts_with('[');
    if is_json {
        let imported = qrs::import(text).map_err(|e| e.to_string())?;
        return Ok(imported
            .into_iter()
            .map(|i| LintRule {
                rule: i.rule,
                load_problems: i.problems,
            })
            .collect());
    }
    portcullis_model::source::check_yaml(text).map_err(|e| e.to_string())?;
    let files: Vec<RuleFile> = match serde_norway::from_str::<Vec<RuleFile>>(text) {
        Ok(files) => files,
        Err(list_error) => match from_yaml(text) {
            Ok((site, _)) => site.rules,
            Err(site_error) => {
                return Err(format!("neither a list of rules ({list_error}) nor a site file ({site_error})"));
            }
        },
    };
    Ok(files
        .iter()
        .enumerate()
        .map(|(idx, file)| {
            let mut errors = Vec::new();
            let rule = file.to_rule(&SourcePath::root().index(idx), &mut errors);
            LintRule {
                rule,
                load_problems: errors.iter().map(|e| e.with_hint()).collect(),
            }
        })
        .collect())
}

const USER_ATTRIBUTES: &[&str] = &["name", "userId", "userDirectory", "email", "group", "roles", "id", "environment"];
const RESOURCE_ATTRIBUTES: &[&str] = &[
    "id",
    "name",
    "resourcetype",
    "description",
    "owner",
    "stream",
    "app",
    "objectType",
    "published",
    "approved",
    "type",
    "ContentLibrarys",
    "engineObjectId",
    "createdDate",
    "modifiedDate",
    "tags",
    "category",
    // A resource may be a user (`User_*` filters).
    "userId",
    "userDirectory",
    "email",
    "group",
    "roles",
];
const NODE_ATTRIBUTES: &[&str] = &["name", "hostName", "isCentral", "id"];

/// Lints rules that live together (a file or a site): each alone, then pairs for shadowing.
pub fn lint(rules: &[LintRule]) -> Vec<Finding> {
    let mut findings = Vec::new();
    let mut parsed: Vec<Option<(ResourceFilter, Option<Expr>)>> = Vec::with_capacity(rules.len());
    for (rule_idx, lint_rule) in rules.iter().enumerate() {
        let rule = &lint_rule.rule;
        let mut push = |severity, code, at: Option<LineCol>, message: String, hint: Option<String>| {
            findings.push(Finding {
                severity,
                code,
                rule_idx,
                rule_name: rule.name.clone(),
                at,
                message,
                hint,
            });
        };
        for problem in &lint_rule.load_problems {
            push(Severity::Error, "field", None, problem.clone(), None);
        }
        if lint_rule.load_problems.is_empty() && rule.actions.is_empty() {
            push(
                Severity::Warning,
                "no-actions",
                None,
                "the rule grants no action".into(),
                Some("set at least one action".into()),
            );
        }
        if rule.disabled {
            push(
                Severity::Note,
                "disabled",
                None,
                "the rule is disabled: it grants nothing (audit and preview can still run it)".into(),
                None,
            );
        }
        let filter = match parse_filter(&rule.resource_filter) {
            Ok(filter) => Some(filter),
            Err(errors) => {
                for error in errors {
                    push(Severity::Error, "filter", None, format!("resource filter: {error}"), Some(error.hint()));
                }
                None
            }
        };
        let condition = parse_condition(&rule.condition);
        for diagnostic in &condition.diagnostics {
            push(
                diagnostic.severity,
                "syntax",
                Some(diagnostic.at),
                diagnostic.error.to_string(),
                diagnostic.hint.clone(),
            );
        }
        if condition.is_ok() && condition.expr.is_none() && rule.category == RuleCategory::Security {
            push(
                Severity::Note,
                "empty-condition",
                None,
                "the condition is empty: the rule applies to every user, anonymous ones included".into(),
                None,
            );
        }
        if let Some(expr) = &condition.expr {
            lint_expr(rule, expr, filter.as_ref(), &mut push);
        }
        parsed.push(match (filter, condition.is_ok()) {
            (Some(filter), true) => Some((filter, condition.expr)),
            _ => None,
        });
    }
    lint_shadowing(rules, &parsed, &mut findings);
    findings.sort_by_key(|f| (f.rule_idx, f.at.map(|a| (a.line, a.column))));
    findings
}

type Push<'a> = dyn FnMut(Severity, &'static str, Option<LineCol>, String, Option<String>) + 'a;

fn lint_expr(rule: &Rule, expr: &Expr, filter: Option<&ResourceFilter>, push: &mut Push<'_>) {
    let text = &rule.condition;
    let at = |offset: usize| Some(line_col(text, offset));
    expr.walk(&mut |node| match &node.kind {
        ExprKind::Or(items) => {
            for item in items {
                if matches!(item.kind, ExprKind::And(_)) && !text[item.span.start.min(text.len())..].starts_with('(') {
                    push(
                        Severity::Warning,
                        "mixed-and-or",
                        at(item.span.start),
                        "`and` binds tighter than `or`: this `and` group is one alternative of the `or` around it".into(),
                        Some("add parentheses to say which grouping you mean".into()),
                    );
                }
            }
        }
        ExprKind::Compare { lhs, op, rhs } => {
            for operand in [lhs, rhs] {
                match &operand.kind {
                    OperandKind::Path(path) => check_path(rule, path, text, push),
                    OperandKind::Bare(value) => push(
                        Severity::Warning,
                        "unquoted",
                        at(operand.span.start),
                        format!("`{value}` is not quoted"),
                        Some(format!("write \"{value}\"")),
                    ),
                    OperandKind::Str(_) => {}
                }
            }
            if matches!(op, CmpOp::Ne | CmpOp::StrictNe) {
                for operand in [lhs, rhs] {
                    if let OperandKind::Path(path) = &operand.kind
                        && is_multi_valued(path)
                    {
                        let other = if std::ptr::eq(operand, lhs) { rhs } else { lhs };
                        let other_text = &text[other.span.start.min(text.len())..other.span.end.min(text.len())];
                        let eq = if *op == CmpOp::Ne { "=" } else { "==" };
                        push(
                            Severity::Warning,
                            "not-equal-on-list",
                            at(node.span.start),
                            format!(
                                "`{path} {} ...` is true when *some* value differs, so it holds for members with other values too",
                                op.as_str()
                            ),
                            Some(format!("for \"not a member\" write `!({path} {eq} {other_text})`")),
                        );
                        break;
                    }
                }
            }
            if *op == CmpOp::Like
                && let OperandKind::Str(pattern) = &rhs.kind
                && !pattern.contains('*')
            {
                push(
                    Severity::Note,
                    "like-without-wildcard",
                    at(rhs.span.start),
                    format!("`like \"{pattern}\"` has no `*`: it works as `=`"),
                    None,
                );
            }
            if *op == CmpOp::Matches
                && let OperandKind::Str(pattern) | OperandKind::Bare(pattern) = &rhs.kind
                && let Err(problem) = crate::compile::anchored_regex(pattern)
            {
                push(
                    Severity::Error,
                    "bad-regex",
                    at(rhs.span.start),
                    format!("`{pattern}` is not a valid regular expression: {problem}"),
                    Some("the rule will fail, and grant nothing, whenever this comparison is evaluated".into()),
                );
            }
        }
        ExprKind::Call { target, function, argument } => {
            check_path(rule, target, text, push);
            let kind = entity_kind(target);
            let wrong = match function {
                Function::IsAnonymous => (kind != Some(EntityKind::User)).then_some("a user"),
                Function::IsOwned | Function::HasPrivilege => (kind != Some(EntityKind::Resource)).then_some("a resource"),
                Function::Empty => None,
            };
            if let Some(wanted) = wrong {
                push(
                    Severity::Error,
                    "function-target",
                    at(node.span.start),
                    format!("`{}()` needs {wanted}, and `{target}` is not one", function.name()),
                    Some("the rule will fail, and grant nothing, whenever this call is evaluated".into()),
                );
            }
            if *function == Function::HasPrivilege
                && let Some(name) = argument
                && let Err(error) = Action::parse(name)
            {
                push(
                    Severity::Error,
                    "unknown-action",
                    at(node.span.start),
                    error.to_string(),
                    Some(error.hint()),
                );
            }
        }
        ExprKind::And(_) | ExprKind::Not(_) => {}
    });

    if let Some(filter) = filter {
        if !possible(expr, filter) {
            push(
                Severity::Warning,
                "never-matches-filter",
                at(expr.span.start),
                format!(
                    "the condition requires a resource type that the filter `{}` never selects",
                    rule.resource_filter
                ),
                Some("fix the resource filter or the `resource.resourcetype` test".into()),
            );
        } else if let ExprKind::Or(items) = &expr.kind {
            for item in items {
                if !possible(item, filter) {
                    push(
                        Severity::Warning,
                        "never-matches-filter",
                        at(item.span.start),
                        format!(
                            "this alternative requires a resource type that the filter `{}` never selects",
                            rule.resource_filter
                        ),
                        Some("add the type to the resource filter, or drop the alternative".into()),
                    );
                }
            }
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum EntityKind {
    User,
    Resource,
    Node,
    Value,
}

/// What a path ends on: the user, a resource, a node or a plain value.
fn entity_kind(path: &Path) -> Option<EntityKind> {
    let mut kind = match path.root {
        Root::User => EntityKind::User,
        Root::Resource => EntityKind::Resource,
        Root::Node => EntityKind::Node,
    };
    for step in &path.steps {
        kind = match (&step.kind, kind) {
            (StepKind::Name(name), EntityKind::Resource) if name.eq_ignore_ascii_case("owner") => EntityKind::User,
            (StepKind::Name(name), EntityKind::Resource) if ["stream", "app", "contentlibrarys"].iter().any(|n| name.eq_ignore_ascii_case(n)) => {
                EntityKind::Resource
            }
            _ => EntityKind::Value,
        };
    }
    Some(kind)
}

fn is_multi_valued(path: &Path) -> bool {
    match path.steps.last().map(|s| &s.kind) {
        Some(StepKind::CustomProperty(_)) => true,
        Some(StepKind::Name(name)) => ["group", "groups", "roles"].iter().any(|n| name.eq_ignore_ascii_case(n)),
        None => false,
    }
}

fn check_path(rule: &Rule, path: &Path, text: &str, push: &mut Push<'_>) {
    let at = |offset: usize| Some(line_col(text, offset));
    if path.root == Root::Node && rule.category != RuleCategory::Sync {
        push(
            Severity::Warning,
            "node-root",
            at(path.span.start),
            format!("`{path}` refers to a server node, which only load-balancing (Sync) rules have"),
            Some("the rule will fail, and grant nothing, whenever this is evaluated".into()),
        );
        return;
    }
    let mut kind = match path.root {
        Root::User => EntityKind::User,
        Root::Resource => EntityKind::Resource,
        Root::Node => EntityKind::Node,
    };
    let mut steps = path.steps.iter().peekable();
    while let Some(step) = steps.next() {
        let StepKind::Name(name) = &step.kind else { return };
        let known: &[&str] = match kind {
            EntityKind::User => USER_ATTRIBUTES,
            EntityKind::Resource => RESOURCE_ATTRIBUTES,
            EntityKind::Node => NODE_ATTRIBUTES,
            EntityKind::Value => return,
        };
        if kind == EntityKind::User && name.eq_ignore_ascii_case("environment") {
            return;
        }
        if !known.iter().any(|k| k.eq_ignore_ascii_case(name)) {
            let suggestion = closest(name, known.iter().copied());
            let (severity, message) = if kind == EntityKind::User {
                (
                    Severity::Note,
                    format!("`{name}` is not a Qlik user attribute: it must come from the user directory"),
                )
            } else {
                (Severity::Warning, format!("unknown attribute `{name}` in `{path}`"))
            };
            let hint = match suggestion {
                Some(best) if !best.eq_ignore_ascii_case(name) => format!("did you mean `{best}`? known: {}", known.join(", ")),
                _ => format!("known: {}", known.join(", ")),
            };
            push(severity, "unknown-attribute", at(step.span.start), message, Some(hint));
            return;
        }
        kind = match kind {
            EntityKind::Resource if name.eq_ignore_ascii_case("owner") => EntityKind::User,
            EntityKind::Resource if ["stream", "app", "contentlibrarys"].iter().any(|n| n.eq_ignore_ascii_case(name)) => EntityKind::Resource,
            _ => EntityKind::Value,
        };
        if kind == EntityKind::Value && steps.peek().is_some() {
            let next = steps.peek().map(|s| s.span.start).unwrap_or_default();
            push(
                Severity::Warning,
                "unknown-attribute",
                at(next),
                format!("`{name}` is a value: nothing follows it in `{path}`"),
                None,
            );
            return;
        }
    }
}

/// False when `expr` can only hold for resource types the filter never selects.
fn possible(expr: &Expr, filter: &ResourceFilter) -> bool {
    match &expr.kind {
        ExprKind::Or(items) => items.iter().any(|item| possible(item, filter)),
        ExprKind::And(items) => items.iter().all(|item| possible(item, filter)),
        ExprKind::Compare {
            lhs,
            op: CmpOp::Eq | CmpOp::StrictEq,
            rhs,
        } => {
            fn type_test<'e>(path: &OperandKind, value: &'e OperandKind) -> Option<&'e str> {
                match (path, value) {
                    (OperandKind::Path(p), OperandKind::Str(v)) if p.root == Root::Resource && p.steps.len() == 1 => {
                        matches!(&p.steps[0].kind, StepKind::Name(n) if n.eq_ignore_ascii_case("resourcetype")).then_some(v.as_str())
                    }
                    _ => None,
                }
            }
            match type_test(&lhs.kind, &rhs.kind).or_else(|| type_test(&rhs.kind, &lhs.kind)) {
                Some(resource_type) => filter.can_match_type(resource_type),
                None => true,
            }
        }
        _ => true,
    }
}

/// Rule B is shadowed by rule A when A is enabled, of the same category, selects at least
/// B's resources in at least B's contexts, grants at least B's actions, and holds whenever B
/// holds (A's condition is empty, the same, or one of B's `and` terms).
fn lint_shadowing(rules: &[LintRule], parsed: &[Option<(ResourceFilter, Option<Expr>)>], findings: &mut Vec<Finding>) {
    let printed: Vec<Option<(String, Vec<String>)>> = parsed
        .iter()
        .map(|p| {
            p.as_ref().map(|(_, expr)| match expr {
                None => (String::new(), Vec::new()),
                Some(expr) => {
                    let terms = match &expr.kind {
                        ExprKind::And(items) => items.iter().map(|i| print_expr(&i.without_spans())).collect(),
                        _ => vec![print_expr(&expr.without_spans())],
                    };
                    (
                        print_expr(&expr.without_spans()).to_lowercase(),
                        terms.into_iter().map(|t| t.to_lowercase()).collect(),
                    )
                }
            })
        })
        .collect();
    for (b_idx, b) in rules.iter().enumerate() {
        let (Some((b_filter, _)), Some((b_text, b_terms))) = (&parsed[b_idx], &printed[b_idx]) else {
            continue;
        };
        if b.rule.disabled || b.rule.actions.is_empty() {
            continue;
        }
        for (a_idx, a) in rules.iter().enumerate() {
            if a_idx == b_idx || a.rule.disabled || a.rule.category != b.rule.category {
                continue;
            }
            let (Some((a_filter, _)), Some((a_text, a_terms))) = (&parsed[a_idx], &printed[a_idx]) else {
                continue;
            };
            let implied = a_text.is_empty() || a_text == b_text || a_terms.iter().all(|t| b_terms.contains(t));
            let broader = a_filter.covers(b_filter) && a.rule.actions.contains_all(b.rule.actions) && a.rule.context.covers(b.rule.context);
            if !(implied && broader) {
                continue;
            }
            // Two identical rules shadow each other: report only the later one.
            let mutual = b_filter.covers(a_filter)
                && b.rule.actions.contains_all(a.rule.actions)
                && b.rule.context.covers(a.rule.context)
                && (b_text.is_empty() || b_text == a_text || b_terms.iter().all(|t| a_terms.contains(t)));
            if mutual && b_idx < a_idx {
                continue;
            }
            findings.push(Finding {
                severity: Severity::Warning,
                code: "shadowed",
                rule_idx: b_idx,
                rule_name: b.rule.name.clone(),
                at: None,
                message: format!(
                    "shadowed by rule #{a_idx} `{}`, which grants the same actions on the same resources whenever this rule does",
                    a.rule.name
                ),
                hint: Some("delete or disable one of them, or narrow the broader rule".into()),
            });
            break;
        }
    }
}

/// Counts of findings by severity: (errors, warnings, notes).
pub fn counts(findings: &[Finding]) -> (usize, usize, usize) {
    findings.iter().fold((0, 0, 0), |(e, w, n), f| match f.severity {
        Severity::Error => (e + 1, w, n),
        Severity::Warning => (e, w + 1, n),
        Severity::Note => (e, w, n + 1),
    })
}
