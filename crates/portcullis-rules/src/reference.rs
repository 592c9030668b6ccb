//! A naive reference evaluator written straight from the spec: it parses conditions and
//! filters on every call, scans every rule, and compares strings as it goes. It is slow on
//! purpose and shares no code with [`crate::compile`] or [`crate::eval`] beyond the parser, so
//! property tests and the fuzzer can check that the compiled evaluator agrees with it.
//!
//! It also recurses once per node of a condition and once more per nested `HasPrivilege`, so
//! at the extreme the limits allow (64 levels of nesting, 32 nested calls) it needs several
//! MiB of stack. That is fine for an oracle; it is never on a request's path.

use regex::Regex;

use crate::action::Action;
use crate::context::RequestContext;
use crate::filter::parse_filter;
use crate::site::{Resource, RuleCategory, Site, User};
use crate::syntax::{CmpOp, Expr, ExprKind, Function, OperandKind, Path, Root, StepKind, parse_condition};

/// The same depth limit as the compiled evaluator.
const MAX_DEPTH: usize = crate::eval::MAX_PRIVILEGE_DEPTH;

/// True when some enabled security rule of `site` grants `action` on the resource `resource_id`
/// to the user `user_key` in `context`. Unknown users or resources get nothing.
pub fn is_allowed(site: &Site, user_key: &str, resource_id: &str, action: Action, context: RequestContext) -> bool {
    let Some(user) = site.users.iter().find(|u| u.key().to_lowercase() == user_key.to_lowercase()) else {
        return false;
    };
    let Some(resource) = site.resources.iter().find(|r| r.id == resource_id) else {
        return false;
    };
    let mut stack = Vec::new();
    allows(site, user, resource, action, context, &mut stack)
}

fn allows<'s>(
    site: &'s Site,
    user: &'s User,
    resource: &'s Resource,
    action: Action,
    context: RequestContext,
    stack: &mut Vec<(String, Action)>,
) -> bool {
    for rule in &site.rules {
        if rule.disabled || rule.category != RuleCategory::Security || !rule.context.applies_to(context) || !rule.actions.contains(action) {
            continue;
        }
        let Ok(filter) = parse_filter(&rule.resource_filter) else { continue };
        let target = resource.filter_target();
        if !filter.matches(target) {
            continue;
        }
        let parsed = parse_condition(&rule.condition);
        if !parsed.is_ok() {
            continue;
        }
        let holds = match &parsed.expr {
            None => Ok(true),
            Some(expr) => Reference { site, user, context }.eval(expr, resource, stack),
        };
        if holds == Ok(true) {
            return true;
        }
    }
    false
}

#[derive(Clone)]
enum Entity<'s> {
    User(&'s User),
    ExternalUser(String),
    Resource(&'s Resource),
}

struct Reference<'s> {
    site: &'s Site,
    user: &'s User,
    context: RequestContext,
}

type Outcome<T> = Result<T, ()>;

impl<'s> Reference<'s> {
    fn eval(&self, expr: &Expr, resource: &'s Resource, stack: &mut Vec<(String, Action)>) -> Outcome<bool> {
        match &expr.kind {
            ExprKind::Or(items) => {
                for item in items {
                    if self.eval(item, resource, stack)? {
                        return Ok(true);
                    }
                }
                Ok(false)
            }
            ExprKind::And(items) => {
                for item in items {
                    if !self.eval(item, resource, stack)? {
                        return Ok(false);
                    }
                }
                Ok(true)
            }
            ExprKind::Not(inner) => Ok(!self.eval(inner, resource, stack)?),
            ExprKind::Compare { lhs, op, rhs } => {
                let left = self.operand(&lhs.kind, resource)?;
                let right = self.operand(&rhs.kind, resource)?;
                for l in &left {
                    for r in &right {
                        if compare(*op, l, r)? {
                            return Ok(true);
                        }
                    }
                }
                Ok(false)
            }
            ExprKind::Call { target, function, argument } => {
                let (entities, is_value) = self.entities(target, resource)?;
                match function {
                    Function::Empty => Ok(self.values_of(target, &entities, is_value).is_empty()),
                    Function::HasPrivilege => {
                        let action = Action::parse(argument.as_deref().unwrap_or_default()).map_err(|_| ())?;
                        if is_value {
                            return Err(());
                        }
                        for entity in entities {
                            match entity {
                                Entity::Resource(target) => {
                                    let key = (target.id.clone(), action);
                                    if stack.contains(&key) {
                                        continue;
                                    }
                                    if stack.len() == MAX_DEPTH {
                                        return Err(());
                                    }
                                    stack.push(key);
                                    let granted = allows(self.site, self.user, target, action, self.context, stack);
                                    stack.pop();
                                    if granted {
                                        return Ok(true);
                                    }
                                }
                                Entity::User(_) | Entity::ExternalUser(_) => return Err(()),
                            }
                        }
                        Ok(false)
                    }
                    Function::IsAnonymous => {
                        let mut anonymous = false;
                        for entity in entities {
                            match entity {
                                Entity::User(user) => anonymous |= user.anonymous,
                                Entity::ExternalUser(_) => {}
                                Entity::Resource(_) => return Err(()),
                            }
                        }
                        Ok(anonymous)
                    }
                    Function::IsOwned => {
                        let mut owned = false;
                        for entity in entities {
                            match entity {
                                Entity::Resource(target) => owned |= target.owner.is_some(),
                                Entity::User(_) | Entity::ExternalUser(_) => return Err(()),
                            }
                        }
                        Ok(owned)
                    }
                }
            }
        }
    }

    fn operand(&self, operand: &OperandKind, resource: &'s Resource) -> Outcome<Vec<String>> {
        match operand {
            OperandKind::Str(value) | OperandKind::Bare(value) => Ok(vec![value.clone()]),
            OperandKind::Path(path) => {
                let (entities, is_value) = self.entities(path, resource)?;
                Ok(self.values_of(path, &entities, is_value))
            }
        }
    }

    fn is_relation(&self, name: &str) -> bool {
        ["stream", "app", "owner"].contains(&name.to_lowercase().as_str())
            || self
                .site
                .resources
                .iter()
                .any(|r| r.relations.keys().any(|k| k.to_lowercase() == name.to_lowercase()))
    }

    /// The entities reached by the navigation steps of `path`, and whether the path then ends
    /// on an attribute (a value) rather than on those entities.
    fn entities(&self, path: &Path, resource: &'s Resource) -> Outcome<(Vec<Entity<'s>>, bool)> {
        let mut current = match path.root {
            Root::User => vec![Entity::User(self.user)],
            Root::Resource => vec![Entity::Resource(resource)],
            Root::Node => return Err(()),
        };
        for step in &path.steps {
            let StepKind::Name(name) = &step.kind else { return Ok((current, true)) };
            if !self.is_relation(name) {
                return Ok((current, true));
            }
            let mut next = Vec::new();
            for entity in &current {
                let Entity::Resource(r) = entity else { continue };
                let find = |id: &str| self.site.resources.iter().find(|x| x.id == id);
                match name.to_lowercase().as_str() {
                    "stream" => next.extend(r.stream.as_deref().and_then(find).map(Entity::Resource)),
                    "app" => next.extend(r.app.as_deref().and_then(find).map(Entity::Resource)),
                    "owner" => {
                        if let Some(owner) = &r.owner {
                            match self.site.users.iter().find(|u| u.key().to_lowercase() == owner.to_lowercase()) {
                                Some(user) => next.push(Entity::User(user)),
                                None => next.push(Entity::ExternalUser(owner.clone())),
                            }
                        }
                    }
                    _ => {
                        for (relation, ids) in &r.relations {
                            if relation.to_lowercase() == name.to_lowercase() {
                                next.extend(ids.iter().filter_map(|id| find(id)).map(Entity::Resource));
                            }
                        }
                    }
                }
            }
            current = next;
        }
        Ok((current, false))
    }

    fn values_of(&self, path: &Path, entities: &[Entity<'s>], is_value: bool) -> Vec<String> {
        if !is_value {
            return entities
                .iter()
                .map(|e| match e {
                    Entity::User(user) => user.key(),
                    Entity::ExternalUser(key) => key.clone(),
                    Entity::Resource(resource) => resource.id.clone(),
                })
                .collect();
        }
        // The steps after the last navigation: one attribute, `environment.X`, or nothing valid.
        let n_nav = path
            .steps
            .iter()
            .take_while(|s| matches!(&s.kind, StepKind::Name(n) if self.is_relation(n)))
            .count();
        let rest = &path.steps[n_nav..];
        let lookup = |map: &std::collections::BTreeMap<String, Vec<String>>, key: &str| -> Vec<String> {
            map.iter()
                .find(|(k, _)| k.to_lowercase() == key.to_lowercase())
                .map(|(_, v)| v.clone())
                .unwrap_or_default()
        };
        let mut values = Vec::new();
        for entity in entities {
            match (rest, entity) {
                ([step], Entity::User(user)) => match &step.kind {
                    StepKind::CustomProperty(cp) => values.extend(lookup(&user.custom_properties, cp)),
                    StepKind::Name(name) => match name.to_lowercase().as_str() {
                        "id" => values.push(user.key()),
                        "name" => values.push(user.name.clone().unwrap_or_else(|| user.user_id.clone())),
                        "userid" => values.push(user.user_id.clone()),
                        "userdirectory" => values.push(user.user_directory.clone()),
                        "email" => values.extend(user.email.clone()),
                        "group" | "groups" => values.extend(user.groups.clone()),
                        "roles" => values.extend(user.roles.clone()),
                        other => values.extend(lookup(&user.attributes, other)),
                    },
                },
                ([step], Entity::Resource(resource)) => match &step.kind {
                    StepKind::CustomProperty(cp) => values.extend(lookup(&resource.custom_properties, cp)),
                    StepKind::Name(name) => match name.to_lowercase().as_str() {
                        "id" => values.push(resource.id.clone()),
                        "name" => values.extend(resource.name.clone()),
                        "resourcetype" => values.push(resource.resource_type.clone()),
                        other => values.extend(lookup(&resource.attributes, other)),
                    },
                },
                ([environment, step], Entity::User(user)) => {
                    if let (StepKind::Name(env), StepKind::Name(name)) = (&environment.kind, &step.kind)
                        && env.eq_ignore_ascii_case("environment")
                    {
                        values.extend(lookup(&user.environment, name));
                    }
                }
                _ => {}
            }
        }
        values
    }
}

fn compare(op: CmpOp, l: &str, r: &str) -> Outcome<bool> {
    Ok(match op {
        CmpOp::Eq => l.to_lowercase() == r.to_lowercase(),
        CmpOp::Ne => l.to_lowercase() != r.to_lowercase(),
        CmpOp::StrictEq => l == r,
        CmpOp::StrictNe => l != r,
        CmpOp::Like => wildcard(
            &l.to_lowercase().chars().collect::<Vec<_>>(),
            &r.to_lowercase().chars().collect::<Vec<_>>(),
        ),
        CmpOp::Matches => {
            if Regex::new(r).is_err() {
                return Err(());
            }
            Regex::new(&format!("^(?:{r})$")).map_err(|_| ())?.is_match(l)
        }
    })
}

/// Whole-text match where `*` in the pattern matches any run of characters.
fn wildcard(text: &[char], pattern: &[char]) -> bool {
    match pattern.split_first() {
        None => text.is_empty(),
        Some(('*', rest)) => (0..=text.len()).any(|skip| wildcard(&text[skip..], rest)),
        Some((ch, rest)) => text.first() == Some(ch) && wildcard(&text[1..], rest),
    }
}
