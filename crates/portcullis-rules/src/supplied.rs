//! Resources that a request describes instead of the site holding them. An application that
//! keeps its own data (the todos of a todo list) can pass a resource's type, id and
//! attributes with each question, as an AuthZEN policy enforcement point does.
//!
//! [`CompiledSite::supply`] compiles such a resource against a site, once per request: its
//! strings are looked up in the site's interner (so `=` stays a comparison of symbols) and
//! kept in a small overlay when the site has never seen them; its owner, stream, app and
//! relations are resolved to the site's users and resources; the rules whose filter and
//! context select it are picked out. A relation name only it uses makes a path that ends on
//! that name navigate, as it would in a site that held the resource. A decision on it ([`Target::Supplied`]) then runs the
//! same evaluator as one on a held resource.
//!
//! The site does not change: nothing in it refers to a supplied resource, which lives as long
//! as the request.

use std::collections::{BTreeMap, HashMap};

use crate::compile::{CResource, Candidate, CompiledSite, Interner, ResourceId, Sym, Val, fold};
use crate::context::RequestContext;
use crate::site::{Resource, RuleCategory};

/// What a decision is about: a resource the site holds, or one the request supplied.
#[derive(Debug, Clone, Copy)]
pub enum Target<'a> {
    /// A resource of the site.
    Held(ResourceId),
    /// A resource described by the request ([`CompiledSite::supply`]).
    Supplied(&'a SuppliedResource),
}

/// A resource compiled against a site for the decisions of one request.
#[derive(Debug, Clone)]
pub struct SuppliedResource {
    pub(crate) resource: CResource,
    /// Its id as given.
    id: String,
    /// Strings the site has never seen; symbol `base + i` is `strings[i]`.
    strings: Vec<Box<str>>,
    base: usize,
    /// The rules that may apply to it, per request context (`[hub, qmc]`).
    pub(crate) candidates: [Box<[Candidate]>; 2],
    /// Its relation names that no resource of the site uses: a path ending on one of them
    /// navigates, as it would if the site held this resource.
    pub(crate) new_relations: Box<[Sym]>,
}

impl SuppliedResource {
    /// Its id, as the request gave it.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The text of a symbol of the overlay (`""` for one of neither).
    pub(crate) fn text(&self, sym: Sym) -> &str {
        (sym as usize)
            .checked_sub(self.base)
            .and_then(|idx| self.strings.get(idx))
            .map_or("", |s| s)
    }
}

/// Interns into an overlay of the site's interner: a string the site knows keeps its symbol.
struct Overlay<'s> {
    site: &'s Interner,
    strings: Vec<Box<str>>,
    map: HashMap<Box<str>, Sym>,
}

impl Overlay<'_> {
    fn intern(&mut self, text: &str) -> Sym {
        if let Some(sym) = self.site.lookup(text).or_else(|| self.map.get(text).copied()) {
            return sym;
        }
        let sym = Sym::try_from(self.site.len() + self.strings.len()).unwrap_or(Sym::MAX);
        self.strings.push(text.into());
        self.map.insert(text.into(), sym);
        sym
    }

    fn val(&mut self, text: &str) -> Val {
        Val {
            exact: self.intern(text),
            folded: self.intern(&fold(text)),
        }
    }

    fn attrs(&mut self, map: &BTreeMap<String, Vec<String>>) -> Box<[(Sym, Box<[Val]>)]> {
        map.iter()
            .map(|(name, values)| (self.intern(&fold(name)), values.iter().map(|v| self.val(v)).collect()))
            .collect()
    }
}

impl CompiledSite {
    /// Compiles a resource the site does not hold, for decisions on it
    /// ([`Target::Supplied`]). References to resources and users the site does not have are
    /// absent values, as they are for held resources.
    pub fn supply(&self, resource: &Resource) -> SuppliedResource {
        let mut overlay = Overlay {
            site: &self.strings,
            strings: Vec::new(),
            map: HashMap::new(),
        };
        let find = |id: &Option<String>| id.as_ref().and_then(|id| self.resource(id)).map(|r| r.0);
        let relations: Box<[(Sym, Box<[u32]>)]> = resource
            .relations
            .iter()
            .map(|(name, ids)| {
                let targets: Box<[u32]> = ids.iter().filter_map(|id| self.resource(id)).map(|r| r.0).collect();
                (overlay.intern(&fold(name)), targets)
            })
            .collect();
        let new_relations = relations
            .iter()
            .map(|(name, _)| *name)
            .filter(|name| !self.relation_names.contains(name))
            .collect();
        let compiled = CResource {
            id: overlay.val(&resource.id),
            resource_type: overlay.val(&resource.resource_type),
            name: resource.name.as_deref().map(|n| overlay.val(n)),
            owner_key: resource.owner.as_deref().map(|o| overlay.val(o)),
            owner: resource.owner.as_deref().and_then(|o| self.user(o)).map(|u| u.0),
            stream: find(&resource.stream),
            app: find(&resource.app),
            relations,
            custom_properties: overlay.attrs(&resource.custom_properties),
            attributes: overlay.attrs(&resource.attributes),
            index_key: u32::MAX,
            instance_rules: Box::default(),
        };
        let target = resource.filter_target();
        let mut lists: [Vec<Candidate>; 2] = [Vec::new(), Vec::new()];
        for (rule_idx, rule) in self.rules.iter().enumerate() {
            if rule.category != RuleCategory::Security || rule.disabled || !rule.filter.matches(target) {
                continue;
            }
            for context in RequestContext::ALL {
                if rule.context.applies_to(context) {
                    lists[context.index()].push(Candidate {
                        rule: rule_idx as u32,
                        check_instance: false,
                    });
                }
            }
        }
        let [hub, qmc] = lists;
        SuppliedResource {
            resource: compiled,
            id: resource.id.clone(),
            base: self.strings.len(),
            strings: overlay.strings,
            candidates: [hub.into_boxed_slice(), qmc.into_boxed_slice()],
            new_relations,
        }
    }
}
