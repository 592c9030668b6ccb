//! Evaluates compiled rules: the decision procedure of spec §6.2 with the semantics fixed by
//! the conformance README (any-value lists, absent values compare false, `HasPrivilege` on any
//! target, a cycle grants nothing, a failing rule grants nothing).
//!
//! The yes/no path ([`CompiledSite::is_allowed`], [`CompiledSite::granted_actions`]) does not
//! allocate: nested `HasPrivilege` evaluations keep their stack in a fixed array, and values
//! are visited in place. Only [`CompiledSite::decide`], which builds an explanation, allocates.

use std::ops::ControlFlow;

use regex::Regex;
use rustc_hash::FxHashMap;

use crate::action::{Action, ActionSet};
use crate::classes::{AuditPlan, PathUse};
use crate::compile::{CResource, Candidate, CompiledRule, CompiledSite, LOperand, LPath, Nav, Node, ResourceId, Sym, Term, UserId, Val, meets_guard};
use crate::context::RequestContext;
use crate::err::EvalError;
use crate::explain::{Decision, RuleOutcome, RuleResult};
use crate::supplied::{SuppliedResource, Target};
use crate::syntax::{CmpOp, MAX_CONDITION_DEPTH, Root};

/// How deep `HasPrivilege` calls may nest before evaluation fails.
pub const MAX_PRIVILEGE_DEPTH: usize = 32;

/// The most `and`/`or`/`!` nodes above a leaf of a compiled condition: the parser allows
/// [`MAX_CONDITION_DEPTH`] levels of `(` and `!`, and each `(` opens at most an `or` and an
/// `and` (`a or b and (...)`), as does the top level.
const MAX_TREE_DEPTH: usize = 2 * MAX_CONDITION_DEPTH + 2;

/// Conditions at most this deep are walked with a small stack (most rules: the full one would
/// cost a kilobyte of zeroing per rule evaluated).
const SHALLOW_TREE_DEPTH: usize = 8;

#[derive(Clone, Copy)]
enum Ent {
    User(u32),
    /// A user known only by key (an owner who is not in the site).
    ExtUser(Val),
    Resource(u32),
}

/// What a decision reads: the site, and the resource the request supplied if any, which goes
/// by the index one past the site's resources.
#[derive(Clone, Copy)]
pub(crate) struct Scope<'a> {
    pub(crate) site: &'a CompiledSite,
    supplied: Option<&'a SuppliedResource>,
}

impl<'a> Scope<'a> {
    pub(crate) fn of(site: &'a CompiledSite) -> Scope<'a> {
        Scope { site, supplied: None }
    }

    /// The scope of a decision on `target`, and the target's index in it.
    fn target(site: &'a CompiledSite, target: Target<'a>) -> (Scope<'a>, u32) {
        match target {
            Target::Held(resource) => (Scope::of(site), resource.0),
            Target::Supplied(supplied) => (
                Scope {
                    site,
                    supplied: Some(supplied),
                },
                site.resources.len() as u32,
            ),
        }
    }

    fn is_supplied(self, idx: u32) -> bool {
        self.supplied.is_some() && idx as usize == self.site.resources.len()
    }

    fn resource(self, idx: u32) -> Option<&'a CResource> {
        match self.site.resources.get(idx as usize) {
            Some(resource) => Some(resource),
            None => self.supplied.filter(|_| self.is_supplied(idx)).map(|s| &s.resource),
        }
    }

    fn text(self, sym: Sym) -> &'a str {
        if (sym as usize) < self.site.strings.len() {
            self.site.strings.get(sym)
        } else {
            self.supplied.map_or("", |s| s.text(sym))
        }
    }

    fn resource_id(self, idx: u32) -> &'a str {
        self.resource(idx).map_or("", |r| self.text(r.id.exact))
    }

    /// The rules that may apply to a resource in `context` (filter and context checked, but
    /// for `Type_<id>` entries: see [`Scope::applies`]).
    fn candidates(self, idx: u32, context: RequestContext) -> &'a [Candidate] {
        match self.supplied {
            Some(supplied) if self.is_supplied(idx) => &supplied.candidates[context.index()],
            _ => self.site.candidates_of(ResourceId(idx), context),
        }
    }

    /// The relation a path's last step names when only the supplied resource uses that
    /// relation name: the site compiled the step as an attribute, but with the resource held
    /// it would navigate.
    fn late_relation(self, path: &LPath) -> Option<Sym> {
        let supplied = self.supplied?;
        let named = !matches!(path.term, Term::Entity | Term::CustomProperty(_) | Term::Environment(_) | Term::Nothing);
        (named && supplied.new_relations.contains(&path.term_name)).then_some(path.term_name)
    }

    fn applies(self, candidate: &Candidate, idx: u32) -> bool {
        self.is_supplied(idx) || self.site.candidate_applies(candidate, ResourceId(idx))
    }
}

/// Results of nested `HasPrivilege` decisions for one user and context, kept across the
/// cells of an audit row: (resource, action) → (result, how many levels it went deeper).
pub(crate) type PrivilegeMemo = FxHashMap<(u32, u8), (bool, usize)>;

/// One evaluation: the requesting user, the context and the `HasPrivilege` stack.
struct Evaluator<'s, 'm> {
    site: &'s CompiledSite,
    scope: Scope<'s>,
    user: u32,
    /// The user's guard bits.
    guards: &'s [u64],
    context: RequestContext,
    stack: [(u32, u8); MAX_PRIVILEGE_DEPTH],
    depth: usize,
    /// Set when a nested `HasPrivilege` met a cycle (it then counts as false).
    cycle: bool,
    /// Set when a result depended on the stack (a cycle or the depth limit): not memoizable.
    tainted: bool,
    /// The deepest stack reached.
    high_water: usize,
    memo: Option<&'m mut PrivilegeMemo>,
    /// Per rule, its condition for this user alone (audit rows only).
    prefilter: Option<&'m [Tri]>,
}

impl CompiledSite {
    /// True when some rule grants `action` on `resource` to `user` in `context`.
    pub fn is_allowed(&self, user: UserId, resource: ResourceId, action: Action, context: RequestContext) -> bool {
        self.allows_on(user, Target::Held(resource), action, context)
    }

    /// [`CompiledSite::is_allowed`] on a held or a supplied resource.
    pub fn allows_on(&self, user: UserId, target: Target<'_>, action: Action, context: RequestContext) -> bool {
        let (scope, resource) = Scope::target(self, target);
        let mut evaluator = Evaluator::new(scope, user, context);
        evaluator.allows(resource, action).unwrap_or(false)
    }

    /// Every action some rule grants on `resource` to `user` in `context` (one audit cell).
    pub fn granted_actions(&self, user: UserId, resource: ResourceId, context: RequestContext) -> ActionSet {
        self.granted_actions_on(user, Target::Held(resource), context)
    }

    /// [`CompiledSite::granted_actions`] on a held or a supplied resource.
    pub fn granted_actions_on(&self, user: UserId, target: Target<'_>, context: RequestContext) -> ActionSet {
        let (scope, resource) = Scope::target(self, target);
        let mut evaluator = Evaluator::new(scope, user, context);
        let mut granted = ActionSet::NONE;
        for candidate in scope.candidates(resource, context) {
            let Some(rule) = self.rules.get(candidate.rule as usize) else { continue };
            if granted.contains_all(rule.actions) || !meets_guard(evaluator.guards, rule) || !scope.applies(candidate, resource) {
                continue;
            }
            if let Ok(true) = evaluator.rule(rule, resource) {
                granted = granted.union(rule.actions);
            }
        }
        granted
    }

    /// The decision with its explanation: every applicable rule that could grant `action`,
    /// and whether it granted, did not, or failed (and why).
    pub fn decide(&self, user: UserId, resource: ResourceId, action: Action, context: RequestContext) -> Decision {
        self.decide_on(user, Target::Held(resource), action, context)
    }

    /// [`CompiledSite::decide`] on a held or a supplied resource.
    pub fn decide_on(&self, user: UserId, target: Target<'_>, action: Action, context: RequestContext) -> Decision {
        let (scope, resource) = Scope::target(self, target);
        let mut evaluator = Evaluator::new(scope, user, context);
        let mut outcomes = Vec::new();
        for candidate in scope.candidates(resource, context) {
            let Some(rule) = self.rules.get(candidate.rule as usize) else { continue };
            if !rule.actions.contains(action) || !scope.applies(candidate, resource) {
                continue;
            }
            // A leading guard the user does not meet makes the condition false without
            // evaluating it: only conjuncts that cannot fail come before the guard.
            let result = if rule.guard.is_some_and(|guard| guard.leading) && !meets_guard(evaluator.guards, rule) {
                RuleResult::NotGranted { cycle: false }
            } else {
                evaluator.cycle = false;
                match evaluator.rule(rule, resource) {
                    Ok(true) => RuleResult::Granted,
                    Ok(false) => RuleResult::NotGranted { cycle: evaluator.cycle },
                    Err(error) => RuleResult::Failed(error),
                }
            };
            outcomes.push(RuleOutcome {
                rule: rule.name.clone(),
                actions: rule.actions,
                result,
            });
        }
        let allowed = outcomes.iter().any(|o| o.result == RuleResult::Granted);
        Decision {
            allowed,
            user: self.user_key(user).to_owned(),
            resource: scope.resource_id(resource).to_owned(),
            action,
            context,
            outcomes,
        }
    }

    /// Evaluates one rule's condition for `user` on `resource`, whether or not the rule's filter
    /// and context select the resource (for audit, preview and tests).
    pub fn evaluate_rule(
        &self,
        rule: crate::compile::RuleId,
        user: UserId,
        resource: ResourceId,
        context: RequestContext,
    ) -> Result<bool, EvalError> {
        let Some(rule) = self.rules.get(rule.0 as usize) else { return Ok(false) };
        Evaluator::new(Scope::of(self), user, context).rule(rule, resource.0)
    }
}

/// What a condition is for one user whatever the resource: decided, or depends on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tri {
    False,
    True,
    /// Depends on the resource (or may fail): evaluate per resource.
    Unknown,
}

impl CompiledSite {
    /// One row of the audit matrix: for `user`, each audited position (see [`AuditPlan`]) where
    /// an applicable rule grants one of the plan's actions, with those actions and the granting
    /// rules (by index, in site order), passed to `emit` in position order.
    ///
    /// The row goes rule by rule rather than cell by cell. A rule whose guard the user does not
    /// meet, or whose condition is false for the user alone, costs nothing; one that holds for
    /// the user alone grants on all its resources; any other is evaluated once per class of
    /// resources it cannot tell apart (only the classes whose joined value the user has, when
    /// it compares a resource's value with the user's), and the result fans out to the class.
    /// Nested `HasPrivilege` results are kept across the row, in `memo` (emptied first: a
    /// caller doing many rows keeps its allocation).
    pub(crate) fn audit_row(
        &self,
        plan: &AuditPlan,
        user: UserId,
        context: RequestContext,
        memo: &mut PrivilegeMemo,
        emit: &mut dyn FnMut(u32, ActionSet, &[u32]),
    ) {
        memo.clear();
        let mut evaluator = Evaluator::new(Scope::of(self), user, context);
        let prefilter: Vec<Tri> = self
            .rules
            .iter()
            .map(|rule| evaluator.user_only_rule(rule.root, plan.any_resource))
            .collect();
        evaluator.memo = Some(memo);
        evaluator.prefilter = Some(&prefilter);
        let user_entity = self.users.get(user.0 as usize);
        // (position, rule) for every grant, rules in site order.
        let mut grants: Vec<(u32, u32)> = Vec::new();
        let mut chosen: Vec<u32> = Vec::new();
        for rule_plan in &plan.rules {
            let Some(rule) = self.rules.get(rule_plan.rule as usize) else { continue };
            if !meets_guard(evaluator.guards, rule) {
                continue;
            }
            let all_classes = match prefilter.get(rule_plan.rule as usize) {
                Some(Tri::False) => continue,
                Some(Tri::True) => true,
                _ => false,
            };
            chosen.clear();
            match (&rule_plan.join, user_entity) {
                (Some(join), Some(user_entity)) if !all_classes => {
                    for value in join.field.values(user_entity) {
                        let sym = if join.strict { value.exact } else { value.folded };
                        chosen.extend(join.classes_by_value.get(&sym).into_iter().flatten());
                    }
                    chosen.sort_unstable();
                    chosen.dedup();
                }
                _ => chosen.extend(0..rule_plan.classes.len() as u32),
            }
            for class_idx in &chosen {
                let Some(class) = rule_plan.classes.get(*class_idx as usize) else {
                    continue;
                };
                if all_classes || matches!(evaluator.rule(rule, class.representative), Ok(true)) {
                    grants.extend(class.positions.iter().map(|position| (*position, rule_plan.rule)));
                }
            }
        }
        // Stable: each position keeps its rules in site order.
        grants.sort_by_key(|(position, _)| *position);
        let mut granting = Vec::new();
        let mut rest = grants.as_slice();
        while let Some(((position, _), _)) = rest.split_first() {
            let n_same = rest.iter().take_while(|(p, _)| p == position).count();
            let (cell, after) = rest.split_at(n_same);
            granting.clear();
            let mut granted = ActionSet::NONE;
            for (_, rule_idx) in cell {
                granted = granted.union(plan.actions_of(*rule_idx));
                granting.push(*rule_idx);
            }
            emit(*position, granted, &granting);
            rest = after;
        }
    }

    /// Appends to `key` everything that evaluating the resource-rooted `path` from `resource`
    /// can depend on when the path is used as `path_use`, then a separator: two resources
    /// with equal keys for every such path of a condition give it the same value for any user.
    pub(crate) fn observe(&self, resource: u32, path: &LPath, path_use: PathUse, key: &mut Vec<u64>) {
        let scope = Scope::of(self);
        // Values are symbols (below 2^32); entities are tagged above that.
        let tag = |tag: u64, value: u64| (tag << 32) | value;
        let _ = match path_use {
            PathUse::Values => visit_values(scope, 0, resource, path, &mut |value| {
                key.push(u64::from(value.exact));
                Ok(ControlFlow::Continue(()))
            }),
            PathUse::Exists => {
                let found = visit_values(scope, 0, resource, path, &mut |_| Ok(ControlFlow::Break(())));
                key.push(u64::from(matches!(found, Ok(ControlFlow::Break(())))));
                Ok(ControlFlow::Continue(()))
            }
            PathUse::Owned | PathUse::Anonymous | PathUse::Identity => visit_entities(scope, 0, resource, path, &mut |entity| {
                key.push(match (entity, path_use) {
                    (Ent::Resource(idx), PathUse::Identity) => tag(1, u64::from(idx)),
                    (Ent::Resource(idx), PathUse::Owned) => tag(2, u64::from(scope.resource(idx).is_some_and(|r| r.owner_key.is_some()))),
                    (Ent::Resource(_), _) => tag(3, 0),
                    (Ent::User(idx), PathUse::Anonymous) => tag(4, u64::from(self.users.get(idx as usize).is_some_and(|u| u.anonymous))),
                    (Ent::User(_), _) => tag(5, 0),
                    (Ent::ExtUser(_), _) => tag(6, 0),
                });
                Ok(ControlFlow::Continue(()))
            }),
        };
        key.push(u64::MAX);
    }

    /// The values of `path` from `resource` (for the audit plan's joins).
    pub(crate) fn path_values(&self, resource: u32, path: &LPath) -> Vec<Val> {
        let mut values = Vec::new();
        let _ = visit_values(Scope::of(self), 0, resource, path, &mut |value| {
            values.push(value);
            Ok(ControlFlow::Continue(()))
        });
        values
    }
}

impl<'s, 'm> Evaluator<'s, 'm> {
    fn new(scope: Scope<'s>, user: UserId, context: RequestContext) -> Self {
        Evaluator {
            site: scope.site,
            scope,
            user: user.0,
            guards: scope.site.guard_bits(user.0),
            context,
            stack: [(0, 0); MAX_PRIVILEGE_DEPTH],
            depth: 0,
            cycle: false,
            tainted: false,
            high_water: 0,
            memo: None,
            prefilter: None,
        }
    }

    /// True when some applicable rule grants `action` on `resource` (rules that fail grant nothing).
    ///
    /// A held resource is looked up in the rule index by its key, the context and the action,
    /// plus the rules naming it by id; a supplied one brings its own candidates.
    fn allows(&mut self, resource: u32, action: Action) -> Result<bool, EvalError> {
        let (site, scope) = (self.site, self.scope);
        if scope.is_supplied(resource) {
            for candidate in scope.candidates(resource, self.context) {
                if self.grants(candidate.rule, resource, action) {
                    return Ok(true);
                }
            }
            return Ok(false);
        }
        let Some(held) = site.resources.get(resource as usize) else {
            return Ok(false);
        };
        for rule_idx in site.candidates_for_action(held.index_key, self.context, action) {
            if self.grants(*rule_idx, resource, action) {
                return Ok(true);
            }
        }
        for rule_idx in &held.instance_rules {
            let applies = site
                .rules
                .get(*rule_idx as usize)
                .is_some_and(|rule| rule.context.applies_to(self.context));
            if applies && self.grants(*rule_idx, resource, action) {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// Whether rule `rule_idx`, selected for `resource`, grants `action` there.
    fn grants(&mut self, rule_idx: u32, resource: u32, action: Action) -> bool {
        let Some(rule) = self.site.rules.get(rule_idx as usize) else {
            return false;
        };
        if !rule.actions.contains(action) || !meets_guard(self.guards, rule) {
            return false;
        }
        match self.prefilter.and_then(|p| p.get(rule_idx as usize)) {
            Some(Tri::True) => true,
            Some(Tri::False) => false,
            _ => matches!(self.rule(rule, resource), Ok(true)),
        }
    }

    /// Whether a rule can grant for this user at all: its condition for the user alone, where
    /// a root `and` with a conjunct that is false for the user is false (the rule then either
    /// evaluates to false or fails, and grants nothing either way).
    fn user_only_rule(&mut self, root: u32, resource: u32) -> Tri {
        let site = self.site;
        if let Some(Node::And { start, len }) = site.nodes.get(root as usize) {
            for kid in site.kids.get(*start as usize..(*start + *len) as usize).unwrap_or_default() {
                if self.user_only(*kid, resource) == Tri::False {
                    return Tri::False;
                }
            }
        }
        self.user_only(root, resource)
    }

    /// The condition for the user alone: leaves that read the resource are unknown, and so is
    /// anything after them in an `and`/`or` (evaluation is left to right, and an unknown part
    /// might fail).
    fn user_only(&mut self, idx: u32, resource: u32) -> Tri {
        let site = self.site;
        let Some(node) = site.nodes.get(idx as usize) else { return Tri::Unknown };
        let user_rooted = |path: &u32| site.paths.get(*path as usize).is_some_and(|p| p.root == Root::User);
        let decided = |result: Result<bool, EvalError>| match result {
            Ok(true) => Tri::True,
            Ok(false) => Tri::False,
            Err(_) => Tri::Unknown,
        };
        match node {
            Node::True => Tri::True,
            Node::Or { start, len } | Node::And { start, len } => {
                let is_or = matches!(node, Node::Or { .. });
                for kid in site.kids.get(*start as usize..(*start + *len) as usize).unwrap_or_default() {
                    match (self.user_only(*kid, resource), is_or) {
                        (Tri::True, true) => return Tri::True,
                        (Tri::False, false) => return Tri::False,
                        (Tri::Unknown, _) => return Tri::Unknown,
                        _ => {}
                    }
                }
                if is_or { Tri::False } else { Tri::True }
            }
            Node::Not(inner) => match self.user_only(*inner, resource) {
                Tri::True => Tri::False,
                Tri::False => Tri::True,
                Tri::Unknown => Tri::Unknown,
            },
            Node::Compare(cmp) => {
                let Some(compare) = site.compares.get(*cmp as usize) else {
                    return Tri::Unknown;
                };
                let side_ok = |operand: &LOperand| match operand {
                    LOperand::Const(_) => true,
                    LOperand::Path(path) => user_rooted(path),
                };
                if side_ok(&compare.lhs) && side_ok(&compare.rhs) {
                    decided(self.node::<SHALLOW_TREE_DEPTH>(idx, resource))
                } else {
                    Tri::Unknown
                }
            }
            Node::Empty(path) | Node::IsAnonymous(path) if user_rooted(path) => decided(self.node::<SHALLOW_TREE_DEPTH>(idx, resource)),
            Node::Empty(_) | Node::IsAnonymous(_) | Node::IsOwned(_) | Node::HasPrivilege { .. } => Tri::Unknown,
        }
    }

    fn rule(&mut self, rule: &CompiledRule, resource: u32) -> Result<bool, EvalError> {
        if rule.depth <= SHALLOW_TREE_DEPTH {
            self.node::<SHALLOW_TREE_DEPTH>(rule.root, resource)
        } else {
            self.node::<MAX_TREE_DEPTH>(rule.root, resource)
        }
    }

    /// The value of the condition below `root`. `and`, `or` and `!` are walked with a fixed
    /// stack, left to right with short-circuits, so a nested `HasPrivilege` costs one frame of
    /// this function rather than one per level of the conditions around it, and nothing is
    /// allocated.
    /// `DEPTH` is the stack's size: at least the condition's depth.
    fn node<const DEPTH: usize>(&mut self, root: u32, resource: u32) -> Result<bool, EvalError> {
        let site = self.site;
        // The `and`/`or`/`!` nodes above the current one, each with the child being evaluated.
        let mut stack = [(0u32, 0u32); DEPTH];
        let mut depth = 0;
        let mut idx = root;
        loop {
            // Down to a leaf, entering the first child of each `and`/`or`/`!` on the way.
            let mut value = loop {
                let node = site.nodes.get(idx as usize);
                let first = match node {
                    Some(Node::Or { start, len } | Node::And { start, len }) if *len > 0 => site.kids.get(*start as usize).copied(),
                    Some(Node::Not(inner)) => Some(*inner),
                    Some(Node::Or { .. }) | None => break false,
                    Some(Node::And { .. }) => break true,
                    Some(leaf) => break self.leaf(leaf, resource)?,
                };
                let (Some(first), Some(slot)) = (first, stack.get_mut(depth)) else {
                    // INVARIANT: the parser bounds a condition's depth (see MAX_TREE_DEPTH).
                    return Err(EvalError::ConditionTooDeep(MAX_TREE_DEPTH));
                };
                *slot = (idx, 0);
                depth += 1;
                idx = first;
            };
            // Up, until an `and`/`or` needs its next child.
            loop {
                let Some((parent, child)) = depth.checked_sub(1).and_then(|top| stack.get_mut(top)) else {
                    return Ok(value);
                };
                match site.nodes.get(*parent as usize) {
                    Some(Node::Not(_)) => value = !value,
                    Some(node @ (Node::Or { start, len } | Node::And { start, len })) => {
                        let is_or = matches!(node, Node::Or { .. });
                        let next = *child + 1;
                        // `or` is decided by a true child, `and` by a false one, either by its last.
                        if value != is_or && next < *len {
                            *child = next;
                            idx = site.kids.get((*start + next) as usize).copied().unwrap_or(u32::MAX);
                            break;
                        }
                    }
                    _ => {}
                }
                depth -= 1;
            }
        }
    }

    /// The value of a condition's leaf: a comparison or a function call.
    fn leaf(&mut self, node: &Node, resource: u32) -> Result<bool, EvalError> {
        let scope = self.scope;
        match node {
            Node::True => Ok(true),
            // Walked by `node`.
            Node::Or { .. } | Node::And { .. } | Node::Not(_) => Ok(false),
            Node::Compare(cmp) => self.compare(*cmp, resource),
            Node::Empty(path) => {
                let path = self.path(*path)?;
                let found = visit_values(scope, self.user, resource, path, &mut |_| Ok(ControlFlow::Break(())))?;
                Ok(found.is_continue())
            }
            Node::HasPrivilege { path, action } => {
                let path = self.path(*path)?;
                let action = match action {
                    Ok(action) => *action,
                    Err(name) => return Err(EvalError::UnknownAction(name.to_string())),
                };
                if path.term != Term::Entity && scope.late_relation(path).is_none() {
                    return Err(EvalError::FunctionTarget {
                        function: "HasPrivilege",
                        path: path.text.to_string(),
                        reason: "it is a value, not a resource",
                    });
                }
                let mut found = false;
                let flow = visit_entities(scope, self.user, resource, path, &mut |entity| match entity {
                    Ent::Resource(target) => {
                        if self.nested(target, action)? {
                            found = true;
                            return Ok(ControlFlow::Break(()));
                        }
                        Ok(ControlFlow::Continue(()))
                    }
                    Ent::User(_) | Ent::ExtUser(_) => Err(EvalError::FunctionTarget {
                        function: "HasPrivilege",
                        path: path.text.to_string(),
                        reason: "it is a user, not a resource",
                    }),
                })?;
                let _ = flow;
                Ok(found)
            }
            Node::IsAnonymous(path) => {
                let path = self.path(*path)?;
                let mut anonymous = false;
                let _ = visit_entities(scope, self.user, resource, path, &mut |entity| match entity {
                    Ent::User(user) => {
                        anonymous |= scope.site.users.get(user as usize).is_some_and(|u| u.anonymous);
                        Ok(ControlFlow::Continue(()))
                    }
                    Ent::ExtUser(_) => Ok(ControlFlow::Continue(())),
                    Ent::Resource(_) => Err(EvalError::FunctionTarget {
                        function: "IsAnonymous",
                        path: path.text.to_string(),
                        reason: "it is a resource, not a user",
                    }),
                })?;
                Ok(anonymous)
            }
            Node::IsOwned(path) => {
                let path = self.path(*path)?;
                let mut owned = false;
                let _ = visit_entities(scope, self.user, resource, path, &mut |entity| match entity {
                    Ent::Resource(target) => {
                        owned |= scope.resource(target).is_some_and(|r| r.owner_key.is_some());
                        Ok(ControlFlow::Continue(()))
                    }
                    Ent::User(_) | Ent::ExtUser(_) => Err(EvalError::FunctionTarget {
                        function: "IsOwned",
                        path: path.text.to_string(),
                        reason: "it is a user, not a resource",
                    }),
                })?;
                Ok(owned)
            }
        }
    }

    fn path(&self, idx: u32) -> Result<&'s LPath, EvalError> {
        // INVARIANT: path indices come from the compiler that filled `paths`.
        let site: &'s CompiledSite = self.site;
        site.paths.get(idx as usize).ok_or(EvalError::TooDeep(0))
    }

    /// `HasPrivilege(action)` on `target`: a nested decision; a cycle counts as false.
    fn nested(&mut self, target: u32, action: Action) -> Result<bool, EvalError> {
        let key = (target, action as u8);
        if self.stack[..self.depth].contains(&key) {
            self.cycle = true;
            self.tainted = true;
            return Ok(false);
        }
        if let Some((result, reach)) = self.memo.as_ref().and_then(|memo| memo.get(&key)) {
            // INVARIANT: a memoized result met no cycle and no depth limit, so it holds at any
            // depth from which it would not reach the limit either.
            if self.depth + reach < MAX_PRIVILEGE_DEPTH {
                return Ok(*result);
            }
        }
        if self.depth == MAX_PRIVILEGE_DEPTH {
            self.tainted = true;
            return Err(EvalError::TooDeep(MAX_PRIVILEGE_DEPTH));
        }
        let start = self.depth;
        self.stack[self.depth] = key;
        self.depth += 1;
        let saved_taint = std::mem::replace(&mut self.tainted, false);
        let saved_high_water = std::mem::replace(&mut self.high_water, self.depth);
        let result = self.allows(target, action);
        self.depth -= 1;
        let reach = self.high_water - start;
        if let (false, Ok(granted), Some(memo)) = (self.tainted, &result, self.memo.as_deref_mut()) {
            memo.insert(key, (*granted, reach));
        }
        self.tainted |= saved_taint;
        self.high_water = self.high_water.max(saved_high_water);
        result
    }

    fn compare(&mut self, idx: u32, resource: u32) -> Result<bool, EvalError> {
        let scope = self.scope;
        let Some(cmp) = scope.site.compares.get(idx as usize) else {
            return Ok(false);
        };
        let user = self.user;
        let test = |l: Val, r: Val| test(scope, cmp.op, cmp.regex.as_ref(), l, r);
        let found = match (&cmp.lhs, &cmp.rhs) {
            (LOperand::Const(l), LOperand::Const(r)) => test(*l, *r)?,
            (LOperand::Path(p), LOperand::Const(r)) => {
                let path = self.path(*p)?;
                visit_values(scope, user, resource, path, &mut |l| {
                    Ok(if test(l, *r)? {
                        ControlFlow::Break(())
                    } else {
                        ControlFlow::Continue(())
                    })
                })?
                .is_break()
            }
            (LOperand::Const(l), LOperand::Path(q)) => {
                let path = self.path(*q)?;
                visit_values(scope, user, resource, path, &mut |r| {
                    Ok(if test(*l, r)? {
                        ControlFlow::Break(())
                    } else {
                        ControlFlow::Continue(())
                    })
                })?
                .is_break()
            }
            (LOperand::Path(p), LOperand::Path(q)) => {
                let left = self.path(*p)?;
                let right = self.path(*q)?;
                visit_values(scope, user, resource, left, &mut |l| {
                    let inner = visit_values(scope, user, resource, right, &mut |r| {
                        Ok(if test(l, r)? {
                            ControlFlow::Break(())
                        } else {
                            ControlFlow::Continue(())
                        })
                    })?;
                    Ok(inner)
                })?
                .is_break()
            }
        };
        Ok(found)
    }
}

type Flow = Result<ControlFlow<()>, EvalError>;

/// Calls `visit` on every entity `path` reaches, until it breaks.
fn visit_entities(scope: Scope<'_>, user: u32, resource: u32, path: &LPath, visit: &mut dyn FnMut(Ent) -> Flow) -> Flow {
    let start = match path.root {
        Root::User => Ent::User(user),
        Root::Resource => Ent::Resource(resource),
        Root::Node => return Err(EvalError::NodeInSecurityRule(path.text.to_string())),
    };
    match scope.late_relation(path) {
        None => walk(scope, start, &path.nav, visit),
        Some(relation) => walk(scope, start, &path.nav, &mut |entity| match entity {
            Ent::Resource(_) => walk(scope, entity, &[Nav::Relation(relation)], visit),
            Ent::User(_) | Ent::ExtUser(_) => Ok(ControlFlow::Continue(())),
        }),
    }
}

fn walk(scope: Scope<'_>, entity: Ent, nav: &[Nav], visit: &mut dyn FnMut(Ent) -> Flow) -> Flow {
    let Some((step, rest)) = nav.split_first() else { return visit(entity) };
    let Ent::Resource(idx) = entity else {
        return Ok(ControlFlow::Continue(()));
    };
    let Some(resource) = scope.resource(idx) else {
        return Ok(ControlFlow::Continue(()));
    };
    match step {
        Nav::Stream => match resource.stream {
            Some(stream) => walk(scope, Ent::Resource(stream), rest, visit),
            None => Ok(ControlFlow::Continue(())),
        },
        Nav::App => match resource.app {
            Some(app) => walk(scope, Ent::Resource(app), rest, visit),
            None => Ok(ControlFlow::Continue(())),
        },
        Nav::Owner => match (resource.owner, resource.owner_key) {
            (Some(user), _) => walk(scope, Ent::User(user), rest, visit),
            (None, Some(key)) => walk(scope, Ent::ExtUser(key), rest, visit),
            (None, None) => Ok(ControlFlow::Continue(())),
        },
        Nav::Relation(name) => {
            for (relation, targets) in resource.relations.iter() {
                if relation == name {
                    for target in targets.iter() {
                        if walk(scope, Ent::Resource(*target), rest, visit)?.is_break() {
                            return Ok(ControlFlow::Break(()));
                        }
                    }
                }
            }
            Ok(ControlFlow::Continue(()))
        }
    }
}

fn each(values: &[Val], visit: &mut dyn FnMut(Val) -> Flow) -> Flow {
    for value in values {
        if visit(*value)?.is_break() {
            return Ok(ControlFlow::Break(()));
        }
    }
    Ok(ControlFlow::Continue(()))
}

fn named(attrs: &[(u32, Box<[Val]>)], name: u32, visit: &mut dyn FnMut(Val) -> Flow) -> Flow {
    for (attr, values) in attrs {
        if *attr == name {
            return each(values, visit);
        }
    }
    Ok(ControlFlow::Continue(()))
}

/// Calls `visit` on every value of `path`, until it breaks. No value: no call.
fn visit_values(scope: Scope<'_>, user: u32, resource: u32, path: &LPath, visit: &mut dyn FnMut(Val) -> Flow) -> Flow {
    let term = if scope.late_relation(path).is_some() { Term::Entity } else { path.term };
    let name = path.term_name;
    visit_entities(scope, user, resource, path, &mut |entity| match entity {
        Ent::ExtUser(key) => match term {
            Term::Entity => visit(key),
            _ => Ok(ControlFlow::Continue(())),
        },
        Ent::User(idx) => {
            let Some(u) = scope.site.users.get(idx as usize) else {
                return Ok(ControlFlow::Continue(()));
            };
            let one = |v: Option<Val>, visit: &mut dyn FnMut(Val) -> Flow| match v {
                Some(v) => visit(v),
                None => Ok(ControlFlow::Continue(())),
            };
            match term {
                Term::Entity | Term::Id => visit(u.key),
                Term::Name => one(u.name, visit),
                Term::UserId => visit(u.user_id),
                Term::UserDirectory => visit(u.user_directory),
                Term::Email => one(u.email, visit),
                Term::Groups => each(&u.groups, visit),
                Term::Roles => each(&u.roles, visit),
                Term::CustomProperty(cp) => named(&u.custom_properties, cp, visit),
                Term::Environment(env) => named(&u.environment, env, visit),
                Term::ResourceType | Term::Attribute(_) => named(&u.attributes, name, visit),
                Term::Nothing => Ok(ControlFlow::Continue(())),
            }
        }
        Ent::Resource(idx) => {
            let Some(r) = scope.resource(idx) else {
                return Ok(ControlFlow::Continue(()));
            };
            match term {
                Term::Entity | Term::Id => visit(r.id),
                Term::Name => match r.name {
                    Some(v) => visit(v),
                    None => Ok(ControlFlow::Continue(())),
                },
                Term::ResourceType => visit(r.resource_type),
                Term::CustomProperty(cp) => named(&r.custom_properties, cp, visit),
                Term::Nothing | Term::Environment(_) => Ok(ControlFlow::Continue(())),
                Term::UserId | Term::UserDirectory | Term::Email | Term::Groups | Term::Roles | Term::Attribute(_) => {
                    named(&r.attributes, name, visit)
                }
            }
        }
    })
}

/// One pair of values under an operator.
fn test(scope: Scope<'_>, op: CmpOp, regex: Option<&Result<Regex, String>>, l: Val, r: Val) -> Result<bool, EvalError> {
    Ok(match op {
        CmpOp::Eq => l.folded == r.folded,
        CmpOp::Ne => l.folded != r.folded,
        CmpOp::StrictEq => l.exact == r.exact,
        CmpOp::StrictNe => l.exact != r.exact,
        CmpOp::Like => like(scope.text(l.folded).as_bytes(), scope.text(r.folded).as_bytes()),
        CmpOp::Matches => {
            let value = scope.text(l.exact);
            match regex {
                Some(Ok(regex)) => regex.is_match(value),
                Some(Err(message)) => {
                    return Err(EvalError::BadRegex {
                        pattern: scope.text(r.exact).to_owned(),
                        message: message.clone(),
                    });
                }
                None => {
                    let pattern = scope.text(r.exact);
                    match crate::compile::anchored_regex(pattern) {
                        Ok(regex) => regex.is_match(value),
                        Err(message) => {
                            return Err(EvalError::BadRegex {
                                pattern: pattern.to_owned(),
                                message,
                            });
                        }
                    }
                }
            }
        }
    })
}

/// `*`-wildcard match of the whole `text` against `pattern` (both already case-folded).
pub(crate) fn like(text: &[u8], pattern: &[u8]) -> bool {
    let (mut t, mut p) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        if p < pattern.len() && pattern[p] == b'*' {
            star = Some((p, t));
            p += 1;
        } else if p < pattern.len() && pattern[p] == text[t] {
            p += 1;
            t += 1;
        } else if let Some((star_p, star_t)) = star {
            p = star_p + 1;
            t = star_t + 1;
            star = Some((star_p, star_t + 1));
        } else {
            return false;
        }
    }
    while p < pattern.len() && pattern[p] == b'*' {
        p += 1;
    }
    p == pattern.len()
}
