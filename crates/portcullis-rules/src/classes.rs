//! The audit matrix's plan: for each rule, the audited resources it applies to, grouped into
//! classes of resources the rule cannot tell apart, so a row of the matrix evaluates a rule
//! once per class rather than once per cell.
//!
//! A rule's condition reads a resource only through its resource-rooted paths. Two resources
//! on which every such path observes the same thing (the same values, for a comparison;
//! whether there is one, for `Empty()`; the same entities, for `HasPrivilege`; whether they are
//! owned, for `IsOwned()`) give the condition the same value for every user. And when the
//! condition can only hold if a resource's value equals one of the user's own (a top-level
//! `resource.owner = user`, `resource.@GroupAccess = user.group`), the plan indexes the classes
//! by that value, so a row looks only at the classes whose value the user has.
//!
//! It does not decide anything itself: [`CompiledSite::audit_row`] evaluates the plan.

use std::collections::HashMap;

use crate::action::ActionSet;
use crate::compile::{CompiledSite, LOperand, Node, ResourceId, Sym, UserField};
use crate::context::RequestContext;
use crate::syntax::{CmpOp, Root};

/// What a condition does with a path, so what of the entities it reaches can change its value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PathUse {
    /// Compared: the values.
    Values,
    /// `Empty()`: whether there is a value.
    Exists,
    /// `IsOwned()`: whether each entity has an owner.
    Owned,
    /// `IsAnonymous()`: whether each entity is an anonymous user.
    Anonymous,
    /// `HasPrivilege()`: the entities themselves.
    Identity,
}

/// How one audit (a list of resources, a context, the wanted actions) evaluates.
pub(crate) struct AuditPlan {
    /// The rules that apply to some audited resource and grant some wanted action, in site order.
    pub rules: Vec<RulePlan>,
    /// Per rule of the site, what it grants of the wanted actions.
    actions: Vec<ActionSet>,
    /// Any audited resource (the user-alone evaluation needs one; it reads none).
    pub any_resource: u32,
}

impl AuditPlan {
    /// What rule `rule_idx` grants of the wanted actions.
    pub fn actions_of(&self, rule_idx: u32) -> ActionSet {
        self.actions.get(rule_idx as usize).copied().unwrap_or(ActionSet::NONE)
    }
}

/// One rule's share of the plan.
pub(crate) struct RulePlan {
    /// The rule's index.
    pub rule: u32,
    /// Its resources, by class.
    pub classes: Vec<Class>,
    /// When set, only classes holding one of the user's values of a field can grant.
    pub join: Option<Join>,
}

/// Resources a rule cannot tell apart.
pub(crate) struct Class {
    /// The resource the rule is evaluated on for the whole class.
    pub representative: u32,
    /// The audited positions (indices into the audited resources) of the class, ascending.
    pub positions: Vec<u32>,
}

/// A top-level comparison of a resource's value with one of the user's own fields.
pub(crate) struct Join {
    /// The user's field.
    pub field: UserField,
    /// `==` (values as written) rather than `=` (folded).
    pub strict: bool,
    /// The classes (indices into [`RulePlan::classes`]) holding each value.
    pub classes_by_value: HashMap<Sym, Vec<u32>>,
}

impl CompiledSite {
    /// The plan of an audit of `resources` in `context` for the `wanted` actions.
    pub(crate) fn audit_plan(&self, resources: &[ResourceId], context: RequestContext, wanted: ActionSet) -> AuditPlan {
        let actions: Vec<ActionSet> = self.rules.iter().map(|rule| ActionSet(rule.actions.0 & wanted.0)).collect();
        let mut positions: Vec<Vec<u32>> = vec![Vec::new(); self.rules.len()];
        for (position, resource) in resources.iter().enumerate() {
            for candidate in self.candidates_of(*resource, context) {
                let wanted_here = actions.get(candidate.rule as usize).is_some_and(|a| !a.is_empty());
                if wanted_here
                    && self.candidate_applies(candidate, *resource)
                    && let Some(list) = positions.get_mut(candidate.rule as usize)
                {
                    list.push(position as u32);
                }
            }
        }
        let mut rules = Vec::new();
        let mut key = Vec::new();
        for (rule_idx, rule_positions) in positions.into_iter().enumerate() {
            if rule_positions.is_empty() {
                continue;
            }
            let uses = self.resource_paths(rule_idx);
            let mut class_of: HashMap<Box<[u64]>, u32> = HashMap::new();
            let mut classes: Vec<Class> = Vec::new();
            for position in rule_positions {
                let Some(resource) = resources.get(position as usize) else { continue };
                key.clear();
                for (path, path_use) in &uses {
                    if let Some(path) = self.paths.get(*path as usize) {
                        self.observe(resource.0, path, *path_use, &mut key);
                    }
                }
                match class_of.get(key.as_slice()) {
                    Some(class_idx) => {
                        if let Some(class) = classes.get_mut(*class_idx as usize) {
                            class.positions.push(position);
                        }
                    }
                    None => {
                        class_of.insert(key.as_slice().into(), classes.len() as u32);
                        classes.push(Class {
                            representative: resource.0,
                            positions: vec![position],
                        });
                    }
                }
            }
            let join = self.join(rule_idx, &classes);
            rules.push(RulePlan {
                rule: rule_idx as u32,
                classes,
                join,
            });
        }
        AuditPlan {
            rules,
            actions,
            any_resource: resources.first().map_or(0, |r| r.0),
        }
    }

    /// The resource-rooted paths of a rule's condition and how it uses each.
    fn resource_paths(&self, rule_idx: usize) -> Vec<(u32, PathUse)> {
        let mut uses = Vec::new();
        let Some(rule) = self.rules.get(rule_idx) else { return uses };
        let mut to_visit = vec![rule.root];
        while let Some(idx) = to_visit.pop() {
            let mut path = |path: u32, path_use: PathUse| {
                if self.paths.get(path as usize).is_some_and(|p| p.root == Root::Resource) {
                    uses.push((path, path_use));
                }
            };
            match self.nodes.get(idx as usize) {
                Some(Node::Or { start, len } | Node::And { start, len }) => {
                    to_visit.extend(self.kids.get(*start as usize..(*start + *len) as usize).unwrap_or_default());
                }
                Some(Node::Not(inner)) => to_visit.push(*inner),
                Some(Node::Compare(cmp)) => {
                    if let Some(compare) = self.compares.get(*cmp as usize) {
                        for operand in [&compare.lhs, &compare.rhs] {
                            if let LOperand::Path(p) = operand {
                                path(*p, PathUse::Values);
                            }
                        }
                    }
                }
                Some(Node::Empty(p)) => path(*p, PathUse::Exists),
                Some(Node::IsOwned(p)) => path(*p, PathUse::Owned),
                Some(Node::IsAnonymous(p)) => path(*p, PathUse::Anonymous),
                Some(Node::HasPrivilege { path: p, .. }) => path(*p, PathUse::Identity),
                Some(Node::True) | None => {}
            }
        }
        uses.sort_unstable_by_key(|(path, _)| *path);
        uses
    }

    /// The rule's join, if a top-level conjunct (or the whole condition) is `=`/`==` between a
    /// resource-rooted path and one of the user's own fields: the condition is then false (or
    /// fails) for a user none of whose values equals one of the resource's.
    fn join(&self, rule_idx: usize, classes: &[Class]) -> Option<Join> {
        let rule = self.rules.get(rule_idx)?;
        let conjuncts = match self.nodes.get(rule.root as usize)? {
            Node::And { start, len } => self.kids.get(*start as usize..(*start + *len) as usize)?,
            _ => std::slice::from_ref(&rule.root),
        };
        for conjunct in conjuncts {
            let Some(Node::Compare(cmp)) = self.nodes.get(*conjunct as usize) else {
                continue;
            };
            let Some(compare) = self.compares.get(*cmp as usize) else { continue };
            let strict = match compare.op {
                CmpOp::Eq => false,
                CmpOp::StrictEq => true,
                _ => continue,
            };
            let (LOperand::Path(lhs), LOperand::Path(rhs)) = (&compare.lhs, &compare.rhs) else {
                continue;
            };
            let (Some(lhs), Some(rhs)) = (self.paths.get(*lhs as usize), self.paths.get(*rhs as usize)) else {
                continue;
            };
            let (resource_path, user_path) = match (lhs.root, rhs.root) {
                (Root::Resource, Root::User) => (lhs, rhs),
                (Root::User, Root::Resource) => (rhs, lhs),
                _ => continue,
            };
            if !user_path.nav.is_empty() {
                continue;
            }
            let Some(field) = UserField::of(user_path.term, user_path.term_name) else {
                continue;
            };
            let mut classes_by_value: HashMap<Sym, Vec<u32>> = HashMap::new();
            for (class_idx, class) in classes.iter().enumerate() {
                for value in self.path_values(class.representative, resource_path) {
                    let list = classes_by_value.entry(if strict { value.exact } else { value.folded }).or_default();
                    if list.last() != Some(&(class_idx as u32)) {
                        list.push(class_idx as u32);
                    }
                }
            }
            return Some(Join {
                field,
                strict,
                classes_by_value,
            });
        }
        None
    }
}
