//! Property tests: the printer round trip (`parse(print(tree)) == tree`), and the compiled
//! evaluator against the naive reference evaluator on random sites and rules.

use portcullis_rules::syntax::{CmpOp, Expr, ExprKind, Function, Operand, OperandKind, Path, Root, Span, Step, StepKind};
use portcullis_rules::{Action, ActionSet, CompiledSite, RequestContext, Resource, Rule, RuleContext, Site, User, reference};
use proptest::prelude::*;

const KEYWORDS: [&str; 7] = ["and", "or", "like", "matches", "user", "resource", "node"];

#[expect(clippy::ptr_arg, reason = "proptest filters take the value type by reference")]
fn not_keyword(word: &String) -> bool {
    let word: &str = word;
    !KEYWORDS.iter().any(|k| k.eq_ignore_ascii_case(word))
}

fn name() -> impl Strategy<Value = String> {
    "[a-zA-Z_][a-zA-Z0-9_]{0,6}".prop_filter("not a keyword", not_keyword)
}

fn string() -> impl Strategy<Value = String> {
    "[^\"]{0,8}"
}

fn bare() -> impl Strategy<Value = String> {
    prop_oneof!["[0-9][0-9a-z-]{0,8}", "[A-Za-z][a-z0-9]{0,4}-[a-z0-9]{1,4}", name()].prop_filter("not a keyword", not_keyword)
}

fn root() -> impl Strategy<Value = Root> {
    prop_oneof![Just(Root::User), Just(Root::Resource), Just(Root::Node)]
}

fn path() -> impl Strategy<Value = Path> {
    let step = prop_oneof![name().prop_map(StepKind::Name), name().prop_map(StepKind::CustomProperty)];
    (root(), prop::collection::vec(step, 0..4)).prop_map(|(root, steps)| Path {
        root,
        steps: steps.into_iter().map(|kind| Step { kind, span: Span::default() }).collect(),
        span: Span::default(),
    })
}

fn operand() -> impl Strategy<Value = Operand> {
    prop_oneof![
        path().prop_map(OperandKind::Path),
        string().prop_map(OperandKind::Str),
        bare().prop_map(OperandKind::Bare),
    ]
    .prop_map(|kind| Operand { kind, span: Span::default() })
}

fn cmp_op() -> impl Strategy<Value = CmpOp> {
    prop_oneof![
        Just(CmpOp::Eq),
        Just(CmpOp::Ne),
        Just(CmpOp::StrictEq),
        Just(CmpOp::StrictNe),
        Just(CmpOp::Like),
        Just(CmpOp::Matches)
    ]
}

fn leaf(path: BoxedStrategy<Path>, operand: BoxedStrategy<Operand>, argument: BoxedStrategy<String>) -> impl Strategy<Value = Expr> {
    let compare = (operand.clone(), cmp_op(), operand).prop_map(|(lhs, op, rhs)| ExprKind::Compare { lhs, op, rhs });
    let call = (
        path,
        prop_oneof![
            Just(Function::Empty),
            Just(Function::HasPrivilege),
            Just(Function::IsAnonymous),
            Just(Function::IsOwned)
        ],
        argument,
    )
        .prop_map(|(target, function, argument)| ExprKind::Call {
            target,
            function,
            argument: (function == Function::HasPrivilege).then_some(argument),
        });
    prop_oneof![3 => compare, 1 => call].prop_map(|kind| Expr { kind, span: Span::default() })
}

fn tree(leaf: BoxedStrategy<Expr>) -> impl Strategy<Value = Expr> {
    leaf.prop_recursive(4, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 2..4).prop_map(ExprKind::Or),
            prop::collection::vec(inner.clone(), 2..4).prop_map(ExprKind::And),
            inner.prop_map(|e| ExprKind::Not(Box::new(e))),
        ]
        .prop_map(|kind| Expr { kind, span: Span::default() })
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn printed_trees_parse_back(expr in tree(leaf(path().boxed(), operand().boxed(), string().boxed()).boxed())) {
        let printed = portcullis_rules::print_expr(&expr);
        let parsed = portcullis_rules::parse_condition(&printed);
        prop_assert!(parsed.diagnostics.is_empty(), "{printed}: {:?}", parsed.diagnostics);
        prop_assert_eq!(parsed.expr.map(|e| e.without_spans()), Some(expr), "{}", printed);
    }

    #[test]
    fn parsing_never_panics(text in "[ -~\n\u{e9}\u{201c}]{0,60}") {
        let parsed = portcullis_rules::parse_condition(&text);
        // Errors and a tree never come together.
        prop_assert!(parsed.is_ok() || parsed.expr.is_none());
    }
}

// --- Compiled evaluator against the reference -------------------------------------------------

const VALUES: [&str; 6] = ["a", "A", "sales", "Sales", "*a*", "s.*"];

fn value() -> impl Strategy<Value = String> {
    prop::sample::select(VALUES.to_vec()).prop_map(str::to_owned)
}

/// Paths over the attributes sites actually have, so conditions often hold.
fn site_path() -> impl Strategy<Value = Path> {
    let user_steps = prop::sample::select(vec![
        vec!["group"],
        vec!["roles"],
        vec!["name"],
        vec!["userId"],
        vec!["@Dept"],
        vec!["environment", "browser"],
        vec!["title"],
    ]);
    let resource_steps = prop::sample::select(vec![
        vec!["name"],
        vec!["resourcetype"],
        vec!["@Dept"],
        vec!["published"],
        vec!["stream"],
        vec!["stream", "@Dept"],
        vec!["app"],
        vec!["app", "stream", "name"],
        vec!["owner"],
        vec!["owner", "group"],
        vec!["owner", "name"],
        vec!["Libs"],
        vec!["Libs", "name"],
        vec![],
    ]);
    let to_path = |root: Root, steps: Vec<&str>| Path {
        root,
        steps: steps
            .into_iter()
            .map(|s| Step {
                kind: match s.strip_prefix('@') {
                    Some(cp) => StepKind::CustomProperty(cp.to_owned()),
                    None => StepKind::Name(s.to_owned()),
                },
                span: Span::default(),
            })
            .collect(),
        span: Span::default(),
    };
    prop_oneof![
        1 => Just(to_path(Root::User, vec![])),
        3 => user_steps.prop_map(move |s| to_path(Root::User, s)),
        4 => resource_steps.prop_map(move |s| to_path(Root::Resource, s)),
    ]
}

fn site_operand() -> impl Strategy<Value = Operand> {
    prop_oneof![site_path().prop_map(OperandKind::Path), value().prop_map(OperandKind::Str)].prop_map(|kind| Operand { kind, span: Span::default() })
}

fn site_condition() -> impl Strategy<Value = Expr> {
    tree(
        leaf(
            site_path().boxed(),
            site_operand().boxed(),
            prop::sample::select(vec!["read".to_owned(), "update".to_owned(), "bogus".to_owned()]).boxed(),
        )
        .boxed(),
    )
}

fn values() -> impl Strategy<Value = Vec<String>> {
    prop::collection::vec(value(), 0..3)
}

fn site() -> impl Strategy<Value = Site> {
    let user = (values(), values(), prop::option::of(value()), values(), any::<bool>(), values(), values());
    let users = prop::collection::vec(user, 1..4);
    let types = prop::sample::select(vec!["App", "Stream", "App.Object", "TransientObject", "DataConnection"]);
    let resource = (
        types,
        prop::option::of(prop::sample::select(vec!["a", "QmcSection_App", "sales", "QmcSection_Task"])),
        0usize..6,
        0usize..6,
        0usize..5,
        values(),
        values(),
        prop::collection::vec(0usize..6, 0..3),
    );
    let resources = prop::collection::vec(resource, 1..6);
    let filters = prop::sample::select(vec![
        "*",
        "App*",
        "App_*",
        "Stream_*",
        "App_r0",
        "QmcSection_*",
        "App.Object_*, Stream*",
        "QmcSection_App",
        "DataConnection_r4",
    ]);
    let rule = (filters, prop::option::of(site_condition()), 1u32..8, 0i64..3, prop::bool::weighted(0.15));
    let rules = prop::collection::vec(rule, 1..6);
    (users, resources, rules).prop_map(|(users, resources, rules)| {
        let n_resources = resources.len();
        let n_users = users.len();
        Site {
            users: users
                .into_iter()
                .enumerate()
                .map(|(idx, (groups, roles, name, dept, anonymous, browser, title))| User {
                    user_directory: "D".into(),
                    user_id: format!("u{idx}"),
                    name,
                    groups,
                    roles,
                    custom_properties: [("Dept".to_owned(), dept)].into_iter().collect(),
                    anonymous,
                    environment: [("browser".to_owned(), browser)].into_iter().collect(),
                    attributes: [("title".to_owned(), title)].into_iter().collect(),
                    ..User::default()
                })
                .collect(),
            resources: resources
                .into_iter()
                .enumerate()
                .map(|(idx, (resource_type, name, stream, app, owner, dept, published, libs))| Resource {
                    id: format!("r{idx}"),
                    resource_type: resource_type.into(),
                    name: name.map(str::to_owned),
                    // Some indices point past the end: dangling references are absent values.
                    stream: (stream < n_resources + 1).then(|| format!("r{stream}")),
                    app: (app < n_resources + 1).then(|| format!("r{app}")),
                    owner: match owner {
                        o if o < n_users => Some(format!("D\\u{o}")),
                        3 => Some("D\\stranger".to_owned()),
                        _ => None,
                    },
                    custom_properties: [("Dept".to_owned(), dept)].into_iter().collect(),
                    relations: [("Libs".to_owned(), libs.iter().map(|l| format!("r{l}")).collect())]
                        .into_iter()
                        .collect(),
                    attributes: [("published".to_owned(), published)].into_iter().collect(),
                })
                .collect(),
            rules: rules
                .into_iter()
                .enumerate()
                .map(|(idx, (filter, condition, actions, context, disabled))| Rule {
                    id: None,
                    name: format!("R{idx}"),
                    resource_filter: filter.into(),
                    condition: condition.map(|c| portcullis_rules::print_expr(&c)).unwrap_or_default(),
                    actions: ActionSet(actions),
                    context: RuleContext::from_qrs(context).unwrap_or_default(),
                    disabled,
                    ..Rule::default()
                })
                .collect(),
        }
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn compiled_evaluator_agrees_with_the_reference(site in site()) {
        let compiled = CompiledSite::compile(&site).expect("generated rules parse");
        for user in compiled.user_ids() {
            for resource in compiled.resource_ids() {
                for context in RequestContext::ALL {
                    let mut granted = ActionSet::NONE;
                    for action in [Action::Create, Action::Read, Action::Update] {
                        let fast = compiled.is_allowed(user, resource, action, context);
                        let naive = reference::is_allowed(&site, compiled.user_key(user), compiled.resource_id(resource), action, context);
                        prop_assert_eq!(fast, naive, "{} {} {} {}", compiled.user_key(user), action, compiled.resource_id(resource), context);
                        let explained = compiled.decide(user, resource, action, context);
                        prop_assert_eq!(explained.allowed, fast);
                        if fast {
                            granted = granted.with(action);
                        }
                    }
                    let all = compiled.granted_actions(user, resource, context);
                    prop_assert_eq!(ActionSet(all.0 & 7), granted);
                }
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    /// The audit matrix (rules evaluated per class of resources, rows on several threads)
    /// agrees with one explained decision per cell and action: the same granted actions and
    /// the same granting rules, in site order, for all actions or a random few.
    #[test]
    fn audit_matrix_agrees_with_decisions(site in site(), copies in 1usize..24, some_actions in 0u32..16) {
        use portcullis_rules::audit::{AuditScope, audit};
        // Copies of the users make rows enough for the matrix to be split between threads.
        let mut site = site;
        let originals = site.users.clone();
        for copy in 1..copies {
            site.users.extend(originals.iter().map(|user| User {
                user_id: format!("{}-{copy}", user.user_id),
                ..user.clone()
            }));
        }
        let compiled = CompiledSite::compile(&site).expect("generated rules parse");
        let wanted = if some_actions == 0 { ActionSet::ALL } else { ActionSet(some_actions) };
        let scope = AuditScope {
            actions: if some_actions == 0 { ActionSet::NONE } else { wanted },
            ..AuditScope::default()
        };
        for context in RequestContext::ALL {
            let matrix = audit(&compiled, context, &scope);
            let mut expected = Vec::new();
            for user in compiled.user_ids() {
                for resource in compiled.resource_ids() {
                    let granted = ActionSet(compiled.granted_actions(user, resource, context).0 & wanted.0);
                    let mut granting: Vec<String> = Vec::new();
                    for action in Action::ALL.into_iter().filter(|a| wanted.contains(*a)) {
                        let decision = compiled.decide(user, resource, action, context);
                        granting.extend(decision.granting_rules().map(str::to_owned));
                    }
                    let rules: Vec<(String, ActionSet)> = compiled
                        .rules()
                        .iter()
                        .filter(|rule| granting.contains(&rule.name))
                        .map(|rule| (rule.name.clone(), ActionSet(rule.actions.0 & wanted.0)))
                        .collect();
                    if !granted.is_empty() {
                        expected.push((compiled.user_key(user).to_owned(), compiled.resource_id(resource).to_owned(), granted, rules));
                    }
                }
            }
            let actual: Vec<_> = matrix
                .cells
                .iter()
                .map(|c| (c.user.clone(), c.resource.clone(), c.granted, c.rules.iter().map(|g| (g.rule.clone(), g.actions)).collect::<Vec<_>>()))
                .collect();
            prop_assert_eq!(actual, expected);
        }
    }

    /// Progress runs from 0 to every user's row, never backwards, and does not change the matrix.
    #[test]
    fn audit_progress_counts_every_row(site in site()) {
        use portcullis_rules::audit::{AuditScope, audit, audit_with_progress};
        let compiled = CompiledSite::compile(&site).expect("generated rules parse");
        let context = RequestContext::ALL[0];
        let mut seen = Vec::new();
        let matrix = audit_with_progress(&compiled, context, &AuditScope::default(), &mut |done, total| seen.push((done, total)));
        prop_assert_eq!(&matrix, &audit(&compiled, context, &AuditScope::default()));
        let rows = matrix.users.len() as u64;
        prop_assert!(seen.iter().all(|&(_, total)| total == rows));
        prop_assert!(seen.windows(2).all(|w| w[0].0 <= w[1].0));
        prop_assert_eq!(seen.last().copied(), Some((rows, rows)));
    }
}

/// A site without its last resource, and that resource with no reference between it and the
/// others (nothing in a site can refer to a resource the request supplies).
fn split_last(site: &Site) -> (Site, Resource) {
    let mut rest = site.clone();
    let mut last = rest.resources.pop().expect("generated sites hold a resource");
    let id = last.id.clone();
    let unlink = |resource: &mut Resource| {
        for target in [&mut resource.stream, &mut resource.app] {
            if target.as_deref() == Some(&id) {
                *target = None;
            }
        }
        for targets in resource.relations.values_mut() {
            targets.retain(|t| *t != id);
        }
    };
    rest.resources.iter_mut().for_each(unlink);
    unlink(&mut last);
    (rest, last)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    /// A resource the request supplies is decided exactly as if the site held it: the same
    /// answer as the reference evaluator on the site with the resource, the same granted
    /// actions, the same granting rules.
    #[test]
    fn a_supplied_resource_decides_as_a_held_one(site in site()) {
        use portcullis_rules::Target;
        let (rest, last) = split_last(&site);
        let mut whole = rest.clone();
        whole.resources.push(last.clone());
        let held = CompiledSite::compile(&whole).expect("generated rules parse");
        let compiled = CompiledSite::compile(&rest).expect("generated rules parse");
        let supplied = compiled.supply(&last);
        prop_assert_eq!(supplied.id(), last.id.as_str());
        let held_id = held.resource(&last.id).expect("the whole site holds it");
        for user in compiled.user_ids() {
            let key = compiled.user_key(user);
            let held_user = held.user(key).expect("same users");
            for context in RequestContext::ALL {
                for action in [Action::Create, Action::Read, Action::Update] {
                    let fast = compiled.allows_on(user, Target::Supplied(&supplied), action, context);
                    let naive = reference::is_allowed(&whole, key, &last.id, action, context);
                    prop_assert_eq!(fast, naive, "{} {} {} {}", key, action, last.id, context);
                    let explained = compiled.decide_on(user, Target::Supplied(&supplied), action, context);
                    let as_held = held.decide(held_user, held_id, action, context);
                    prop_assert_eq!(&explained.tokens(), &as_held.tokens());
                    prop_assert_eq!(explained.allowed, fast);
                }
                prop_assert_eq!(
                    compiled.granted_actions_on(user, Target::Supplied(&supplied), context),
                    held.granted_actions(held_user, held_id, context)
                );
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    /// The indexed decision (rules by resource type, context and action; rules naming a
    /// resource by id resolved at compile time; rules skipped on the user's guards) explains
    /// exactly as a naive walk over every rule of the site: each enabled security rule whose
    /// filter selects the resource, whose context applies and whose actions include the one
    /// asked, in site order, with its condition evaluated on its own.
    #[test]
    fn indexed_decisions_explain_as_every_rule_evaluated(site in site()) {
        use portcullis_rules::{FilterTarget, RuleCategory, RuleId, RuleResult};
        let compiled = CompiledSite::compile(&site).expect("generated rules parse");
        for user in compiled.user_ids() {
            for resource in compiled.resource_ids() {
                let source = compiled.resource_source(resource).expect("held");
                let target = if source.is_transient() {
                    FilterTarget::Transient { name: source.name.as_deref().unwrap_or_default() }
                } else {
                    FilterTarget::Stored { resource_type: &source.resource_type, id: &source.id }
                };
                for context in RequestContext::ALL {
                    for action in Action::ALL {
                        let decision = compiled.decide(user, resource, action, context);
                        let mut expected = Vec::new();
                        for (rule_idx, rule) in compiled.rules().iter().enumerate() {
                            let selected = rule.category == RuleCategory::Security
                                && !rule.disabled
                                && rule.context.applies_to(context)
                                && rule.actions.contains(action)
                                && rule.filter.matches(target);
                            if selected {
                                let result = compiled.evaluate_rule(RuleId(rule_idx as u32), user, resource, context);
                                expected.push((rule.name.clone(), result));
                            }
                        }
                        let actual: Vec<_> = decision
                            .outcomes
                            .iter()
                            .map(|o| {
                                let result = match &o.result {
                                    RuleResult::Granted => Ok(true),
                                    RuleResult::NotGranted { .. } => Ok(false),
                                    RuleResult::Failed(error) => Err(error.clone()),
                                };
                                (o.rule.clone(), result)
                            })
                            .collect();
                        prop_assert_eq!(&actual, &expected, "{} {} {} {}", compiled.user_key(user), action, compiled.resource_id(resource), context);
                        prop_assert_eq!(decision.allowed, compiled.is_allowed(user, resource, action, context));
                        let applicable: Vec<String> = compiled
                            .applicable_rules(resource, context)
                            .filter_map(|id| compiled.rules().get(id.0 as usize))
                            .filter(|rule| rule.actions.contains(action))
                            .map(|rule| rule.name.clone())
                            .collect();
                        prop_assert_eq!(applicable, expected.iter().map(|(name, _)| name.clone()).collect::<Vec<_>>());
                    }
                }
            }
        }
    }
}
