//! Fuzzes evaluation: a small site built from arbitrary data and arbitrary rule texts. The
//! compiled evaluator must never panic and must agree with the naive reference evaluator.
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use portcullis_rules::{Action, ActionSet, CompiledSite, RequestContext, Resource, Rule, RuleContext, Site, User, reference};

#[derive(Debug, Arbitrary)]
struct Input {
    users: Vec<(String, Vec<String>, Vec<String>, bool)>,
    resources: Vec<(u8, Option<String>, Option<u8>, Option<u8>, Option<u8>, Vec<String>)>,
    rules: Vec<(String, String, u16, u8, bool)>,
}

const TYPES: [&str; 5] = ["App", "Stream", "App.Object", "TransientObject", "DataConnection"];

fuzz_target!(|input: Input| {
    let users: Vec<User> = input
        .users
        .into_iter()
        .take(4)
        .enumerate()
        .map(|(idx, (name, groups, dept, anonymous))| User {
            user_directory: "D".into(),
            user_id: format!("u{idx}"),
            name: Some(name),
            groups,
            custom_properties: [("Dept".to_owned(), dept)].into_iter().collect(),
            anonymous,
            ..User::default()
        })
        .collect();
    let n_users = users.len();
    let resources: Vec<Resource> = input
        .resources
        .into_iter()
        .take(6)
        .enumerate()
        .map(|(idx, (kind, name, stream, app, owner, dept))| Resource {
            id: format!("r{idx}"),
            resource_type: TYPES[usize::from(kind) % TYPES.len()].into(),
            name,
            stream: stream.map(|s| format!("r{}", s % 7)),
            app: app.map(|a| format!("r{}", a % 7)),
            owner: owner.map(|o| format!("D\\u{}", usize::from(o) % (n_users + 1))),
            custom_properties: [("Dept".to_owned(), dept)].into_iter().collect(),
            ..Resource::default()
        })
        .collect();
    let rules: Vec<Rule> = input
        .rules
        .into_iter()
        .take(5)
        .enumerate()
        .map(|(idx, (filter, condition, actions, context, disabled))| Rule {
            id: None,
            name: format!("R{idx}"),
            resource_filter: filter,
            condition,
            actions: ActionSet(u32::from(actions)),
            context: RuleContext::from_qrs(i64::from(context % 3)).unwrap_or_default(),
            disabled,
            ..Rule::default()
        })
        .collect();
    let site = Site { users, resources, rules };
    let Ok(compiled) = CompiledSite::compile(&site) else { return };
    for user in compiled.user_ids() {
        for resource in compiled.resource_ids() {
            for context in RequestContext::ALL {
                for action in [Action::Create, Action::Read, Action::Update] {
                    let fast = compiled.is_allowed(user, resource, action, context);
                    let naive = reference::is_allowed(&site, compiled.user_key(user), compiled.resource_id(resource), action, context);
                    assert_eq!(fast, naive);
                    assert_eq!(compiled.decide(user, resource, action, context).allowed, fast);
                }
                let _ = compiled.granted_actions(user, resource, context);
            }
        }
    }
});
