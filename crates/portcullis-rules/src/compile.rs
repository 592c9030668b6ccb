//! Compiles a [`Site`] once into the form decisions use: strings interned (each value both as
//! written and case-folded, so `=` and `==` are integer comparisons), relations resolved to
//! indices, conditions lowered to a compact node arena, and rules indexed by resource type (or
//! transient name) and request context, so a decision only looks at rules that can apply.
//!
//! Only syntax errors refuse a rule here (a filter or condition that does not parse, an unknown
//! function). Everything else that can go wrong is found when a rule is evaluated.

use std::collections::{HashMap, HashSet};

use regex::Regex;

use crate::action::{Action, ActionSet};
use crate::context::{RequestContext, RuleContext};
use crate::err::{RuleError, RuleField};
use crate::filter::{FilterTarget, ResourceFilter, parse_filter};
use crate::site::{Resource, Rule, RuleCategory, Site, User};
use crate::syntax::{CmpOp, Expr, ExprKind, Function, Operand, OperandKind, Path, Root, StepKind, parse_condition};

/// Compiling stops once this many rule errors are found: a site's problems are listed up to
/// here, so a large site full of errors costs no more than this to report.
pub const MAX_RULE_ERRORS: usize = 1_000;

/// An interned string.
pub(crate) type Sym = u32;

/// A value: the string as written and case-folded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct Val {
    pub exact: Sym,
    pub folded: Sym,
}

/// Case folding used for every case-insensitive comparison.
pub(crate) fn fold(text: &str) -> String {
    text.to_lowercase()
}

#[derive(Debug, Default, Clone)]
pub(crate) struct Interner {
    map: HashMap<Box<str>, Sym>,
    strings: Vec<Box<str>>,
}

impl Interner {
    pub fn intern(&mut self, text: &str) -> Sym {
        if let Some(sym) = self.map.get(text) {
            return *sym;
        }
        let sym = Sym::try_from(self.strings.len()).unwrap_or(Sym::MAX);
        self.strings.push(text.into());
        self.map.insert(text.into(), sym);
        sym
    }

    pub fn val(&mut self, text: &str) -> Val {
        Val {
            exact: self.intern(text),
            folded: self.intern(&fold(text)),
        }
    }

    pub fn name(&mut self, text: &str) -> Sym {
        self.intern(&fold(text))
    }

    pub fn get(&self, sym: Sym) -> &str {
        self.strings.get(sym as usize).map_or("", |s| s)
    }

    /// The symbol of `text` if it was interned.
    pub fn lookup(&self, text: &str) -> Option<Sym> {
        self.map.get(text).copied()
    }

    /// How many strings are interned (the first symbol a later overlay may use).
    pub fn len(&self) -> usize {
        self.strings.len()
    }
}

/// A user of a compiled site.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct UserId(pub u32);

/// A resource of a compiled site.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ResourceId(pub u32);

/// A rule of a compiled site (its index in the site's rule list).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RuleId(pub u32);

type Attrs = Box<[(Sym, Box<[Val]>)]>;

#[derive(Debug, Clone)]
pub(crate) struct CUser {
    pub key: Val,
    pub name: Option<Val>,
    pub user_id: Val,
    pub user_directory: Val,
    pub email: Option<Val>,
    pub groups: Box<[Val]>,
    pub roles: Box<[Val]>,
    pub custom_properties: Attrs,
    pub environment: Attrs,
    pub attributes: Attrs,
    pub anonymous: bool,
}

#[derive(Debug, Clone)]
pub(crate) struct CResource {
    pub id: Val,
    pub resource_type: Val,
    pub name: Option<Val>,
    pub owner_key: Option<Val>,
    pub owner: Option<u32>,
    pub stream: Option<u32>,
    pub app: Option<u32>,
    pub relations: Box<[(Sym, Box<[u32]>)]>,
    pub custom_properties: Attrs,
    pub attributes: Attrs,
    /// Index into the rule index's candidate lists.
    pub index_key: u32,
    /// The rules that select this resource only through a `Type_<id>` entry naming it,
    /// sorted: resolved once here, so a decision never matches an id by text.
    pub instance_rules: Box<[u32]>,
}

/// A step from entities to related entities.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Nav {
    Stream,
    App,
    Owner,
    Relation(Sym),
}

/// What a path yields from the entities it reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Term {
    /// The entities themselves (their identity: user key or resource id).
    Entity,
    Id,
    Name,
    ResourceType,
    UserId,
    UserDirectory,
    Email,
    Groups,
    Roles,
    CustomProperty(Sym),
    Environment(Sym),
    /// Any other attribute, by folded name.
    Attribute(Sym),
    /// A path that can never have a value (a step after a custom property, ...).
    Nothing,
}

#[derive(Debug, Clone)]
pub(crate) struct LPath {
    pub root: Root,
    pub nav: Box<[Nav]>,
    pub term: Term,
    /// Folded name of the last step, for attribute fallbacks.
    pub term_name: Sym,
    /// The path as written, for messages.
    pub text: Box<str>,
}

#[derive(Debug, Clone)]
pub(crate) enum LOperand {
    Const(Val),
    Path(u32),
}

#[derive(Debug, Clone)]
pub(crate) struct LCompare {
    pub lhs: LOperand,
    pub op: CmpOp,
    pub rhs: LOperand,
    /// For `matches` with a constant pattern: the anchored regex, or why it is invalid.
    pub regex: Option<Result<Regex, String>>,
}

/// A node of a lowered condition.
#[derive(Debug, Clone)]
pub(crate) enum Node {
    True,
    /// Children are `kids[start..start + len]`.
    Or {
        start: u32,
        len: u32,
    },
    And {
        start: u32,
        len: u32,
    },
    Not(u32),
    Compare(u32),
    Empty(u32),
    HasPrivilege {
        path: u32,
        action: Result<Action, Box<str>>,
    },
    IsAnonymous(u32),
    IsOwned(u32),
}

/// A rule ready for evaluation.
#[derive(Debug, Clone)]
pub struct CompiledRule {
    /// Its name.
    pub name: String,
    /// What it grants.
    pub actions: ActionSet,
    /// Where it applies.
    pub context: RuleContext,
    /// Disabled rules are left out of the index.
    pub disabled: bool,
    /// Its kind; only security rules take part in decisions.
    pub category: RuleCategory,
    /// The parsed filter.
    pub filter: ResourceFilter,
    /// The parsed condition (`None` = empty, always true).
    pub expr: Option<Expr>,
    /// Root of the lowered condition.
    pub(crate) root: u32,
    /// How many `and`/`or`/`!` levels the lowered condition has (the evaluator's stack).
    pub(crate) depth: usize,
    /// A part of the condition that reads only the user and must hold for the rule to grant.
    pub(crate) guard: Option<Guard>,
}

/// A rule's user guard: a conjunct of its condition (or the whole condition) that reads only
/// the requesting user, such as `user.roles = "ContentAdmin"` or `!user.IsAnonymous()`. Whether
/// each user meets each guard is worked out at compile time, so a decision skips a rule whose
/// guard the user does not meet without evaluating it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Guard {
    /// The bit of the guard in each user's guard bits.
    pub slot: u32,
    /// Only conjuncts that cannot fail come before it: when the guard is false, the rule's
    /// condition is false (not failed), so an explained decision may skip it too.
    pub leading: bool,
}

/// How many actions there are (the rule index keeps one list per action).
const N_ACTIONS: usize = Action::ALL.len();

/// A rule that may apply to resources of one index key.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Candidate {
    pub rule: u32,
    /// The rule selects this key only through `Type_<id>` entries: check the id.
    pub check_instance: bool,
}

/// A site compiled for decisions. Immutable; cheap to share between threads.
#[derive(Debug, Clone)]
pub struct CompiledSite {
    pub(crate) strings: Interner,
    pub(crate) users: Vec<CUser>,
    pub(crate) resources: Vec<CResource>,
    pub(crate) rules: Vec<CompiledRule>,
    pub(crate) nodes: Vec<Node>,
    pub(crate) kids: Vec<u32>,
    pub(crate) paths: Vec<LPath>,
    pub(crate) compares: Vec<LCompare>,
    /// Candidate rules per index key and request context (`[hub, qmc]`).
    pub(crate) candidates: Vec<[Box<[Candidate]>; 2]>,
    /// The same candidates per index key, context and action, without those selected through
    /// `Type_<id>` entries (a resource keeps those in `instance_rules`): the rules a yes/no
    /// decision looks at. Indexed by `(key * 2 + context) * N_ACTIONS + action`.
    by_action: Vec<Box<[u32]>>,
    /// Each user's guard bits (`guard_words` words per user, bit = `Guard::slot`).
    user_guards: Vec<u64>,
    guard_words: usize,
    /// The relation names some resource of the site uses (folded): a path's last step under
    /// one of them navigates, under another name it reads an attribute.
    pub(crate) relation_names: Vec<Sym>,
    user_by_key: HashMap<String, u32>,
    resource_by_id: HashMap<String, u32>,
    /// The types the site holds resources of, case-folded.
    held_types: HashSet<String>,
    /// The source of each resource (for filters and messages).
    pub(crate) source_resources: Vec<Resource>,
    pub(crate) source_users: Vec<User>,
}

impl CompiledSite {
    /// Compiles a site. Fails only when rules do not parse; every such rule is reported.
    pub fn compile(site: &Site) -> Result<CompiledSite, Vec<RuleError>> {
        Self::compile_with(site, false)
    }

    /// Compiles a site, indexing disabled rules too (for audit and preview, which may run them).
    pub fn compile_with(site: &Site, include_disabled: bool) -> Result<CompiledSite, Vec<RuleError>> {
        let mut compiler = Compiler::default();
        let mut errors = Vec::new();
        // Relation names that the site uses, so paths through them navigate instead of ending.
        for resource in &site.resources {
            for name in resource.relations.keys() {
                let sym = compiler.strings.name(name);
                if !compiler.relation_names.contains(&sym) {
                    compiler.relation_names.push(sym);
                }
            }
        }
        let mut rules = Vec::with_capacity(site.rules.len());
        for (rule_idx, rule) in site.rules.iter().enumerate() {
            match compiler.rule(rule_idx, rule) {
                Ok(compiled) => rules.push(compiled),
                Err(mut errs) => errors.append(&mut errs),
            }
            if errors.len() >= MAX_RULE_ERRORS && rule_idx + 1 < site.rules.len() {
                errors.truncate(MAX_RULE_ERRORS);
                errors.push(RuleError {
                    rule_idx,
                    rule_name: rule.name.clone(),
                    field: RuleField::Condition,
                    message: format!("more than {MAX_RULE_ERRORS} problems; the rules after this one were not checked"),
                    hint: Some("fix these first".into()),
                });
                break;
            }
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        let Compiler {
            mut strings,
            nodes,
            kids,
            paths,
            compares,
            relation_names,
        } = compiler;
        let lowered = Lowered {
            nodes: &nodes,
            kids: &kids,
            paths: &paths,
            compares: &compares,
        };
        let mut guards = Vec::new();
        for rule in &mut rules {
            rule.depth = lowered.depth(rule.root);
            if let Some((alternatives, leading)) = lowered.guard(rule.root) {
                rule.guard = Some(Guard {
                    slot: guards.len() as u32,
                    leading,
                });
                guards.push(alternatives);
            }
        }

        let mut user_by_key = HashMap::new();
        let mut users = Vec::with_capacity(site.users.len());
        for (idx, user) in site.users.iter().enumerate() {
            user_by_key.insert(fold(&user.key()), idx as u32);
            users.push(CUser {
                key: strings.val(&user.key()),
                name: Some(strings.val(user.name.as_deref().unwrap_or(&user.user_id))),
                user_id: strings.val(&user.user_id),
                user_directory: strings.val(&user.user_directory),
                email: user.email.as_deref().map(|e| strings.val(e)),
                groups: user.groups.iter().map(|g| strings.val(g)).collect(),
                roles: user.roles.iter().map(|r| strings.val(r)).collect(),
                custom_properties: attrs(&mut strings, &user.custom_properties),
                environment: attrs(&mut strings, &user.environment),
                attributes: attrs(&mut strings, &user.attributes),
                anonymous: user.anonymous,
            });
        }
        let mut resource_by_id = HashMap::new();
        for (idx, resource) in site.resources.iter().enumerate() {
            resource_by_id.insert(resource.id.clone(), idx as u32);
        }
        let find = |id: &Option<String>| id.as_ref().and_then(|id| resource_by_id.get(id).copied());
        let mut key_of: HashMap<String, u32> = HashMap::new();
        let mut keys: Vec<(bool, String)> = Vec::new();
        let mut resources = Vec::with_capacity(site.resources.len());
        for resource in &site.resources {
            let transient = resource.is_transient();
            let key_text = if transient {
                format!("t:{}", fold(resource.name.as_deref().unwrap_or_default()))
            } else {
                format!("s:{}", fold(&resource.resource_type))
            };
            let next = keys.len() as u32;
            let index_key = *key_of.entry(key_text).or_insert_with(|| {
                let shown = if transient {
                    resource.name.clone().unwrap_or_default()
                } else {
                    resource.resource_type.clone()
                };
                keys.push((transient, shown));
                next
            });
            let owner_key = resource.owner.as_deref().map(|o| strings.val(o));
            let owner = resource.owner.as_deref().and_then(|o| user_by_key.get(&fold(o)).copied());
            let relations = resource
                .relations
                .iter()
                .map(|(name, ids)| {
                    let targets: Box<[u32]> = ids.iter().filter_map(|id| resource_by_id.get(id).copied()).collect();
                    (strings.name(name), targets)
                })
                .collect();
            resources.push(CResource {
                id: strings.val(&resource.id),
                resource_type: strings.val(&resource.resource_type),
                name: resource.name.as_deref().map(|n| strings.val(n)),
                owner_key,
                owner,
                stream: find(&resource.stream),
                app: find(&resource.app),
                relations,
                custom_properties: attrs(&mut strings, &resource.custom_properties),
                attributes: attrs(&mut strings, &resource.attributes),
                index_key,
                instance_rules: Box::default(),
            });
        }

        // The index: for every key present in the site, the rules that can select it.
        let mut candidates = Vec::with_capacity(keys.len());
        for (transient, shown) in &keys {
            let mut lists: [Vec<Candidate>; 2] = [Vec::new(), Vec::new()];
            for (rule_idx, rule) in rules.iter().enumerate() {
                if rule.category != RuleCategory::Security || (rule.disabled && !include_disabled) {
                    continue;
                }
                let selection = if *transient {
                    rule.filter.matches(FilterTarget::Transient { name: shown }).then_some(false)
                } else {
                    select_type(&rule.filter, shown)
                };
                let Some(check_instance) = selection else { continue };
                for context in RequestContext::ALL {
                    if rule.context.applies_to(context) {
                        lists[context.index()].push(Candidate {
                            rule: rule_idx as u32,
                            check_instance,
                        });
                    }
                }
            }
            let [hub, qmc] = lists;
            candidates.push([hub.into_boxed_slice(), qmc.into_boxed_slice()]);
        }
        resolve_instances(&rules, &candidates, &strings, &mut resources);
        let by_action = candidates
            .iter()
            .flat_map(|lists| lists.iter())
            .flat_map(|list| {
                Action::ALL.map(|action| {
                    list.iter()
                        .filter(|c| !c.check_instance && rules.get(c.rule as usize).is_some_and(|r| r.actions.contains(action)))
                        .map(|c| c.rule)
                        .collect::<Box<[u32]>>()
                })
            })
            .collect();
        let guard_words = guards.len().div_ceil(64);
        let user_guards = user_guard_bits(&users, &guards, guard_words);

        Ok(CompiledSite {
            strings,
            users,
            resources,
            rules,
            nodes,
            kids,
            paths,
            compares,
            candidates,
            by_action,
            user_guards,
            guard_words,
            relation_names,
            user_by_key,
            resource_by_id,
            held_types: site.resources.iter().map(|r| fold(&r.resource_type)).collect(),
            source_resources: site.resources.clone(),
            source_users: site.users.clone(),
        })
    }

    /// The user named `DIRECTORY\userId` (ignoring case).
    pub fn user(&self, key: &str) -> Option<UserId> {
        self.user_by_key.get(&fold(key)).map(|idx| UserId(*idx))
    }

    /// The resource with this id.
    pub fn resource(&self, id: &str) -> Option<ResourceId> {
        self.resource_by_id.get(id).map(|idx| ResourceId(*idx))
    }

    /// Every user, in site order.
    pub fn user_ids(&self) -> impl Iterator<Item = UserId> + '_ {
        (0..self.users.len() as u32).map(UserId)
    }

    /// Every resource, in site order.
    pub fn resource_ids(&self) -> impl Iterator<Item = ResourceId> + '_ {
        (0..self.resources.len() as u32).map(ResourceId)
    }

    /// The users of one directory (ignoring case), in site order.
    pub fn users_in_directory(&self, directory: &str) -> impl Iterator<Item = UserId> + '_ {
        let folded = self.strings.lookup(&fold(directory));
        self.users
            .iter()
            .enumerate()
            .filter(move |(_, user)| Some(user.user_directory.folded) == folded)
            .map(|(idx, _)| UserId(idx as u32))
    }

    /// Whether the site holds resources of a type (ignoring case).
    pub fn holds_type(&self, resource_type: &str) -> bool {
        self.held_types.contains(&fold(resource_type))
    }

    /// The resources of one type (ignoring case), in site order.
    pub fn resources_of_type(&self, resource_type: &str) -> impl Iterator<Item = ResourceId> + '_ {
        let folded = self.strings.lookup(&fold(resource_type));
        self.resources
            .iter()
            .enumerate()
            .filter(move |(_, resource)| Some(resource.resource_type.folded) == folded)
            .map(|(idx, _)| ResourceId(idx as u32))
    }

    /// The user's `DIRECTORY\userId`.
    pub fn user_key(&self, user: UserId) -> &str {
        self.users.get(user.0 as usize).map_or("", |u| self.strings.get(u.key.exact))
    }

    /// The resource's id.
    pub fn resource_id(&self, resource: ResourceId) -> &str {
        self.resources.get(resource.0 as usize).map_or("", |r| self.strings.get(r.id.exact))
    }

    /// The source data of a resource.
    pub fn resource_source(&self, resource: ResourceId) -> Option<&Resource> {
        self.source_resources.get(resource.0 as usize)
    }

    /// The source data of a user.
    pub fn user_source(&self, user: UserId) -> Option<&User> {
        self.source_users.get(user.0 as usize)
    }

    /// The compiled rules, in site order.
    pub fn rules(&self) -> &[CompiledRule] {
        &self.rules
    }

    /// The rules that may apply to `resource` in `context` (filter and context match).
    pub fn applicable_rules(&self, resource: ResourceId, context: RequestContext) -> impl Iterator<Item = RuleId> + '_ {
        self.candidates_of(resource, context)
            .iter()
            .filter(move |c| self.candidate_applies(c, resource))
            .map(|c| RuleId(c.rule))
    }

    pub(crate) fn candidates_of(&self, resource: ResourceId, context: RequestContext) -> &[Candidate] {
        self.resources
            .get(resource.0 as usize)
            .and_then(|r| self.candidates.get(r.index_key as usize))
            .map_or(&[], |lists| &lists[context.index()])
    }

    pub(crate) fn candidate_applies(&self, candidate: &Candidate, resource: ResourceId) -> bool {
        if !candidate.check_instance {
            return true;
        }
        self.resources
            .get(resource.0 as usize)
            .is_some_and(|res| res.instance_rules.binary_search(&candidate.rule).is_ok())
    }

    /// The rules that may grant `action` on a held resource of `index_key` in `context`, but
    /// for those selecting it by id (its `instance_rules`).
    pub(crate) fn candidates_for_action(&self, index_key: u32, context: RequestContext, action: Action) -> &[u32] {
        let idx = (index_key as usize * 2 + context.index()) * N_ACTIONS + action as usize;
        self.by_action.get(idx).map_or(&[], |list| list)
    }

    /// The user's guard bits (empty for an unknown user: every guard then counts as met).
    pub(crate) fn guard_bits(&self, user: u32) -> &[u64] {
        let start = user as usize * self.guard_words;
        self.user_guards.get(start..start + self.guard_words).unwrap_or_default()
    }
}

/// Whether `bits` (a user's guard bits) meet `rule`'s guard; a rule without one always does.
pub(crate) fn meets_guard(bits: &[u64], rule: &CompiledRule) -> bool {
    rule.guard
        .is_none_or(|guard| bits.get(guard.slot as usize / 64).is_none_or(|word| word & (1 << (guard.slot % 64)) != 0))
}

/// Fills each stored resource's `instance_rules`: the candidates of its key that select it by
/// id, found through an index of the filters' ids (ignoring ASCII case, as filters do) rather
/// than by matching every such rule against every resource.
fn resolve_instances(rules: &[CompiledRule], candidates: &[[Box<[Candidate]>; 2]], strings: &Interner, resources: &mut [CResource]) {
    use crate::filter::FilterItem;
    let mut by_id: Vec<Option<HashMap<String, Vec<u32>>>> = vec![None; candidates.len()];
    for (key, lists) in candidates.iter().enumerate() {
        let mut index: HashMap<String, Vec<u32>> = HashMap::new();
        for candidate in lists.iter().flat_map(|list| list.iter()).filter(|c| c.check_instance) {
            let Some(rule) = rules.get(candidate.rule as usize) else { continue };
            for item in &rule.filter.items {
                if let FilterItem::Instance { instance, .. } = item {
                    let rules_of_id = index.entry(instance.to_ascii_lowercase()).or_default();
                    if !rules_of_id.contains(&candidate.rule) {
                        rules_of_id.push(candidate.rule);
                    }
                }
            }
        }
        if !index.is_empty() {
            by_id[key] = Some(index);
        }
    }
    for resource in resources {
        let Some(Some(index)) = by_id.get(resource.index_key as usize) else {
            continue;
        };
        let id = strings.get(resource.id.exact);
        let Some(named) = index.get(&id.to_ascii_lowercase()) else { continue };
        let target = FilterTarget::Stored {
            resource_type: strings.get(resource.resource_type.exact),
            id,
        };
        let mut selecting: Vec<u32> = named
            .iter()
            .copied()
            .filter(|rule| rules.get(*rule as usize).is_some_and(|r| r.filter.matches(target)))
            .collect();
        selecting.sort_unstable();
        resource.instance_rules = selecting.into_boxed_slice();
    }
}

/// One way to meet a guard.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum GuardAlternative {
    /// One of the user's values of `field` is `value` (folded, or as written when `strict`).
    Value { field: UserField, strict: bool, value: Sym },
    /// The user is (or is not) anonymous.
    Anonymous(bool),
}

/// A user's value that a guard compares, as the evaluator reads it from a user.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum UserField {
    Key,
    Name,
    UserId,
    UserDirectory,
    Email,
    Groups,
    Roles,
    CustomProperty(Sym),
    Environment(Sym),
    Attribute(Sym),
}

impl UserField {
    /// The field a path ending in `term` reads from a user (as `visit_values` does).
    pub(crate) fn of(term: Term, term_name: Sym) -> Option<UserField> {
        Some(match term {
            Term::Entity | Term::Id => UserField::Key,
            Term::Name => UserField::Name,
            Term::UserId => UserField::UserId,
            Term::UserDirectory => UserField::UserDirectory,
            Term::Email => UserField::Email,
            Term::Groups => UserField::Groups,
            Term::Roles => UserField::Roles,
            Term::CustomProperty(name) => UserField::CustomProperty(name),
            Term::Environment(name) => UserField::Environment(name),
            Term::ResourceType | Term::Attribute(_) => UserField::Attribute(term_name),
            Term::Nothing => return None,
        })
    }

    pub(crate) fn values(self, user: &CUser) -> Vec<Val> {
        let named = |attrs: &Attrs, name: Sym| -> Vec<Val> {
            // The first attribute of that name, as the evaluator reads it.
            attrs
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, values)| values.to_vec())
                .unwrap_or_default()
        };
        match self {
            UserField::Key => vec![user.key],
            UserField::Name => user.name.into_iter().collect(),
            UserField::UserId => vec![user.user_id],
            UserField::UserDirectory => vec![user.user_directory],
            UserField::Email => user.email.into_iter().collect(),
            UserField::Groups => user.groups.to_vec(),
            UserField::Roles => user.roles.to_vec(),
            UserField::CustomProperty(name) => named(&user.custom_properties, name),
            UserField::Environment(name) => named(&user.environment, name),
            UserField::Attribute(name) => named(&user.attributes, name),
        }
    }
}

/// Every user's guard bits: for each user and guard, whether one of the guard's alternatives
/// holds. Looks each of the user's values up in an index of the guards' constants, so the cost
/// is the users' values, not users × guards.
fn user_guard_bits(users: &[CUser], guards: &[Vec<GuardAlternative>], words: usize) -> Vec<u64> {
    let mut by_value: HashMap<(UserField, bool, Sym), Vec<u32>> = HashMap::new();
    let mut anonymous: Vec<(u32, bool)> = Vec::new();
    for (slot, alternatives) in guards.iter().enumerate() {
        for alternative in alternatives {
            match *alternative {
                GuardAlternative::Value { field, strict, value } => by_value.entry((field, strict, value)).or_default().push(slot as u32),
                GuardAlternative::Anonymous(wanted) => anonymous.push((slot as u32, wanted)),
            }
        }
    }
    let mut fields: Vec<UserField> = Vec::new();
    for (field, _, _) in by_value.keys() {
        if !fields.contains(field) {
            fields.push(*field);
        }
    }
    let mut bits = vec![0u64; users.len() * words];
    for (user_idx, user) in users.iter().enumerate() {
        let Some(own) = bits.get_mut(user_idx * words..(user_idx + 1) * words) else {
            continue;
        };
        let mut set = |slot: u32| {
            if let Some(word) = own.get_mut(slot as usize / 64) {
                *word |= 1 << (slot % 64);
            }
        };
        for (slot, wanted) in &anonymous {
            if user.anonymous == *wanted {
                set(*slot);
            }
        }
        for field in &fields {
            for value in field.values(user) {
                for (strict, sym) in [(false, value.folded), (true, value.exact)] {
                    for slot in by_value.get(&(*field, strict, sym)).into_iter().flatten() {
                        set(*slot);
                    }
                }
            }
        }
    }
    bits
}

/// The lowered conditions, for the analyses done once all rules are lowered.
struct Lowered<'a> {
    nodes: &'a [Node],
    kids: &'a [u32],
    paths: &'a [LPath],
    compares: &'a [LCompare],
}

impl Lowered<'_> {
    fn children(&self, start: u32, len: u32) -> &[u32] {
        self.kids.get(start as usize..(start + len) as usize).unwrap_or_default()
    }

    /// How many `and`/`or`/`!` nodes lie on the deepest way from `idx` to a leaf. Recurses
    /// no deeper than the parser's nesting limit.
    fn depth(&self, idx: u32) -> usize {
        match self.nodes.get(idx as usize) {
            Some(Node::Or { start, len } | Node::And { start, len }) => {
                1 + self.children(*start, *len).iter().map(|kid| self.depth(*kid)).max().unwrap_or(0)
            }
            Some(Node::Not(inner)) => 1 + self.depth(*inner),
            _ => 0,
        }
    }

    /// True when evaluating `idx` can never fail (and so never meets a `HasPrivilege` cycle).
    fn infallible(&self, idx: u32) -> bool {
        let path_ok = |operand: &LOperand| match operand {
            LOperand::Const(_) => true,
            LOperand::Path(path) => self.paths.get(*path as usize).is_some_and(|p| p.root != Root::Node),
        };
        match self.nodes.get(idx as usize) {
            Some(Node::True) => true,
            Some(Node::Or { start, len } | Node::And { start, len }) => self.children(*start, *len).iter().all(|kid| self.infallible(*kid)),
            Some(Node::Not(inner)) => self.infallible(*inner),
            Some(Node::Compare(cmp)) => self.compares.get(*cmp as usize).is_some_and(|compare| {
                (compare.op != CmpOp::Matches || matches!(compare.regex, Some(Ok(_)))) && path_ok(&compare.lhs) && path_ok(&compare.rhs)
            }),
            Some(Node::Empty(path)) => self.paths.get(*path as usize).is_some_and(|p| p.root != Root::Node),
            Some(Node::IsAnonymous(path)) => self.paths.get(*path as usize).is_some_and(|p| p.root == Root::User),
            Some(Node::HasPrivilege { .. } | Node::IsOwned(_)) | None => false,
        }
    }

    /// The alternatives of a guard form: a comparison `=`/`==` of a user's own value with a
    /// constant, `user.IsAnonymous()` or its negation, or an `or` of those. Each can never fail,
    /// and is false exactly when no alternative holds for the user.
    fn guard_alternatives(&self, idx: u32) -> Option<Vec<GuardAlternative>> {
        let own_path = |path: u32| self.paths.get(path as usize).filter(|p| p.root == Root::User && p.nav.is_empty());
        match self.nodes.get(idx as usize)? {
            Node::Compare(cmp) => {
                let compare = self.compares.get(*cmp as usize)?;
                let strict = match compare.op {
                    CmpOp::Eq => false,
                    CmpOp::StrictEq => true,
                    _ => return None,
                };
                let (path, value) = match (&compare.lhs, &compare.rhs) {
                    (LOperand::Path(path), LOperand::Const(value)) | (LOperand::Const(value), LOperand::Path(path)) => (*path, *value),
                    _ => return None,
                };
                let path = own_path(path)?;
                Some(vec![GuardAlternative::Value {
                    field: UserField::of(path.term, path.term_name)?,
                    strict,
                    value: if strict { value.exact } else { value.folded },
                }])
            }
            Node::IsAnonymous(path) => own_path(*path)
                .filter(|p| p.term == Term::Entity)
                .map(|_| vec![GuardAlternative::Anonymous(true)]),
            Node::Not(inner) => match self.nodes.get(*inner as usize)? {
                Node::IsAnonymous(path) => own_path(*path)
                    .filter(|p| p.term == Term::Entity)
                    .map(|_| vec![GuardAlternative::Anonymous(false)]),
                _ => None,
            },
            Node::Or { start, len } => {
                let mut alternatives = Vec::new();
                for kid in self.children(*start, *len) {
                    alternatives.extend(self.guard_alternatives(*kid)?);
                }
                Some(alternatives)
            }
            _ => None,
        }
    }

    /// The condition's guard, if it has one: the condition itself, or the first conjunct of a
    /// top-level `and` that is a guard form; and whether only infallible conjuncts precede it.
    fn guard(&self, root: u32) -> Option<(Vec<GuardAlternative>, bool)> {
        if let Some(Node::And { start, len }) = self.nodes.get(root as usize) {
            let conjuncts = self.children(*start, *len);
            for (position, kid) in conjuncts.iter().enumerate() {
                if let Some(alternatives) = self.guard_alternatives(*kid) {
                    let leading = conjuncts
                        .get(..position)
                        .unwrap_or_default()
                        .iter()
                        .all(|before| self.infallible(*before));
                    return Some((alternatives, leading));
                }
            }
            return None;
        }
        self.guard_alternatives(root).map(|alternatives| (alternatives, true))
    }
}

/// Whether a filter can select stored resources of `resource_type`: `None` = never,
/// `Some(true)` = only some ids (check each), `Some(false)` = all of them.
fn select_type(filter: &ResourceFilter, resource_type: &str) -> Option<bool> {
    use crate::filter::FilterItem;
    let mut by_instance = false;
    for item in &filter.items {
        if item.can_match_type(resource_type) {
            if matches!(item, FilterItem::Instance { .. }) {
                by_instance = true;
            } else {
                return Some(false);
            }
        }
    }
    by_instance.then_some(true)
}

/// The regex that `matches` uses for `pattern` (whole value, case-sensitive), or the problem
/// with the pattern in one line.
pub(crate) fn anchored_regex(pattern: &str) -> Result<Regex, String> {
    match Regex::new(pattern) {
        Err(error) => {
            let text = error.to_string();
            let last = text.lines().last().unwrap_or_default();
            Err(last.strip_prefix("error: ").unwrap_or(last).to_owned())
        }
        Ok(_) => Regex::new(&format!("^(?:{pattern})$")).map_err(|e| e.to_string()),
    }
}

fn attrs(strings: &mut Interner, map: &std::collections::BTreeMap<String, Vec<String>>) -> Attrs {
    map.iter()
        .map(|(name, values)| (strings.name(name), values.iter().map(|v| strings.val(v)).collect()))
        .collect()
}

#[derive(Default)]
struct Compiler {
    strings: Interner,
    nodes: Vec<Node>,
    kids: Vec<u32>,
    paths: Vec<LPath>,
    compares: Vec<LCompare>,
    relation_names: Vec<Sym>,
}

impl Compiler {
    fn rule(&mut self, rule_idx: usize, rule: &Rule) -> Result<CompiledRule, Vec<RuleError>> {
        let mut errors = Vec::new();
        let filter = match parse_filter(&rule.resource_filter) {
            Ok(filter) => Some(filter),
            Err(filter_errors) => {
                for error in filter_errors.into_iter().take(crate::syntax::MAX_DIAGNOSTICS) {
                    errors.push(RuleError {
                        rule_idx,
                        rule_name: rule.name.clone(),
                        field: RuleField::Filter,
                        message: format!("resource filter: {error}"),
                        hint: Some(error.hint()),
                    });
                }
                None
            }
        };
        let parsed = parse_condition(&rule.condition);
        for diagnostic in parsed.diagnostics.iter().filter(|d| d.severity == crate::syntax::Severity::Error) {
            errors.push(RuleError {
                rule_idx,
                rule_name: rule.name.clone(),
                field: RuleField::Condition,
                message: format!("condition {}: {}", diagnostic.at, diagnostic.error),
                hint: diagnostic.hint.clone(),
            });
        }
        let Some(filter) = filter else { return Err(errors) };
        if !errors.is_empty() {
            return Err(errors);
        }
        let root = match &parsed.expr {
            Some(expr) => self.lower(expr),
            None => self.push(Node::True),
        };
        Ok(CompiledRule {
            name: rule.name.clone(),
            actions: rule.actions,
            context: rule.context,
            disabled: rule.disabled,
            category: rule.category,
            filter,
            expr: parsed.expr,
            root,
            depth: 0,
            guard: None,
        })
    }

    fn push(&mut self, node: Node) -> u32 {
        self.nodes.push(node);
        (self.nodes.len() - 1) as u32
    }

    fn lower(&mut self, expr: &Expr) -> u32 {
        match &expr.kind {
            ExprKind::Or(items) | ExprKind::And(items) => {
                let children: Vec<u32> = items.iter().map(|item| self.lower(item)).collect();
                let start = self.kids.len() as u32;
                self.kids.extend_from_slice(&children);
                let len = children.len() as u32;
                let node = if matches!(expr.kind, ExprKind::Or(_)) {
                    Node::Or { start, len }
                } else {
                    Node::And { start, len }
                };
                self.push(node)
            }
            ExprKind::Not(inner) => {
                let inner = self.lower(inner);
                self.push(Node::Not(inner))
            }
            ExprKind::Compare { lhs, op, rhs } => {
                let regex = match (&rhs.kind, op) {
                    (OperandKind::Str(pattern) | OperandKind::Bare(pattern), CmpOp::Matches) => Some(anchored_regex(pattern)),
                    _ => None,
                };
                let lhs = self.operand(lhs);
                let rhs = self.operand(rhs);
                self.compares.push(LCompare { lhs, op: *op, rhs, regex });
                let idx = (self.compares.len() - 1) as u32;
                self.push(Node::Compare(idx))
            }
            ExprKind::Call { target, function, argument } => {
                let path = self.path(target);
                let node = match function {
                    Function::Empty => Node::Empty(path),
                    Function::HasPrivilege => {
                        let name = argument.clone().unwrap_or_default();
                        Node::HasPrivilege {
                            path,
                            action: Action::parse(&name).map_err(|_| name.into_boxed_str()),
                        }
                    }
                    Function::IsAnonymous => Node::IsAnonymous(path),
                    Function::IsOwned => Node::IsOwned(path),
                };
                self.push(node)
            }
        }
    }

    fn operand(&mut self, operand: &Operand) -> LOperand {
        match &operand.kind {
            OperandKind::Path(path) => LOperand::Path(self.path(path)),
            OperandKind::Str(value) | OperandKind::Bare(value) => LOperand::Const(self.strings.val(value)),
        }
    }

    fn path(&mut self, path: &Path) -> u32 {
        let mut nav = Vec::new();
        let mut term = Term::Entity;
        let mut term_name = self.strings.name("");
        let n_steps = path.steps.len();
        let mut idx = 0;
        while idx < n_steps {
            let last = idx + 1 == n_steps;
            match &path.steps[idx].kind {
                StepKind::CustomProperty(name) => {
                    term_name = self.strings.name(name);
                    term = if last { Term::CustomProperty(term_name) } else { Term::Nothing };
                    break;
                }
                StepKind::Name(name) => {
                    let folded = fold(name);
                    let sym = self.strings.intern(&folded);
                    term_name = sym;
                    match folded.as_str() {
                        "stream" => nav.push(Nav::Stream),
                        "app" => nav.push(Nav::App),
                        "owner" => nav.push(Nav::Owner),
                        "environment" if idx + 2 == n_steps => {
                            if let Some(StepKind::Name(attribute)) = path.steps.get(idx + 1).map(|s| &s.kind) {
                                term_name = self.strings.name(attribute);
                                term = Term::Environment(term_name);
                            } else {
                                term = Term::Nothing;
                            }
                            break;
                        }
                        // A name before the last step can only be a relation: one that no
                        // resource of the site has reaches nothing, yet still navigates from a
                        // supplied resource that has it.
                        _ if !last || self.relation_names.contains(&sym) => nav.push(Nav::Relation(sym)),
                        "id" => term = Term::Id,
                        "name" => term = Term::Name,
                        "resourcetype" => term = Term::ResourceType,
                        "userid" => term = Term::UserId,
                        "userdirectory" => term = Term::UserDirectory,
                        "email" => term = Term::Email,
                        "group" | "groups" => term = Term::Groups,
                        "roles" => term = Term::Roles,
                        _ => term = Term::Attribute(sym),
                    }
                }
            }
            idx += 1;
        }
        self.paths.push(LPath {
            root: path.root,
            nav: nav.into_boxed_slice(),
            term,
            term_name,
            text: path.to_string().into(),
        });
        (self.paths.len() - 1) as u32
    }
}
