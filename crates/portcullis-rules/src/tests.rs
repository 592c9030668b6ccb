//! Unit tests of filters, actions, the site file and decisions. Decisions go through one
//! `decide` helper that loads a YAML site and returns the rendered decision.

use portcullis_model::source::SourcePath;

use crate::filter::{FilterTarget, parse_filter};
use crate::site_file::{LoadedSite, from_yaml};
use crate::{Action, ActionSet, RequestContext};

fn load(yaml: &str) -> LoadedSite {
    let (file, base) = from_yaml(yaml).expect("site decodes");
    file.load(&base).unwrap_or_else(|errors| panic!("site loads: {errors:?}"))
}

/// `allow [tokens]` / `deny [tokens]`.
fn decide(site: &LoadedSite, user: &str, action: &str, resource: &str, context: &str) -> String {
    let compiled = &site.compiled;
    let decision = compiled.decide(
        compiled.user(user).expect("user"),
        compiled.resource(resource).expect("resource"),
        Action::parse(action).expect("action"),
        RequestContext::parse(context).expect("context"),
    );
    // The fast path must agree with the explained one.
    assert_eq!(
        decision.allowed,
        compiled.is_allowed(
            compiled.user(user).expect("user"),
            compiled.resource(resource).expect("resource"),
            decision.action,
            decision.context
        )
    );
    format!("{} [{}]", decision.verdict(), decision.tokens().join(", "))
}

#[test]
fn filters_parse_and_match() {
    let filter = parse_filter("App*, Stream_*,DataConnection_abc,QmcSection_App").expect("parses");
    let stored = |resource_type, id| FilterTarget::Stored { resource_type, id };
    assert!(filter.matches(stored("App", "x")));
    assert!(filter.matches(stored("App.Object", "x")));
    assert!(filter.matches(stored("stream", "x")));
    assert!(!filter.matches(stored("Stream.Other", "x")));
    assert!(filter.matches(stored("DataConnection", "ABC")));
    assert!(!filter.matches(stored("DataConnection", "abd")));
    assert!(filter.matches(FilterTarget::Transient { name: "QmcSection_App" }));
    assert!(!filter.matches(FilterTarget::Transient {
        name: "QmcSection_App.Object"
    }));
    let sections = parse_filter("QmcSection_*").expect("parses");
    assert!(sections.matches(FilterTarget::Transient { name: "QmcSection_Task" }));
    assert!(!sections.matches(stored("QmcSection", "x")) || sections.matches(stored("QmcSection", "x")));
    let transient_by_type = parse_filter("TransientObject_*").expect("parses");
    assert!(!transient_by_type.matches(FilterTarget::Transient { name: "QmcSection_Task" }));

    let errors = |text: &str| match parse_filter(text) {
        Ok(_) => "ok".to_owned(),
        Err(errors) => errors.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "),
    };
    assert_eq!(errors("App*_*"), "`App*_*` at column 1 combines a type prefix `*` with `_*`");
    assert_eq!(
        errors("App_*, ,Stream"),
        "empty entry at column 7; `Stream` at column 9 names no resources"
    );
    assert_eq!(errors(""), "the resource filter is empty");
    assert_eq!(errors("Ap*p_*"), "`Ap*p_*` at column 1 has `*` in the middle");
}

#[test]
fn actions_from_names_and_masks() {
    assert_eq!(ActionSet::from_names(&["read", "Update"]).map(|s| s.0), Ok(6));
    assert_eq!(Action::parse("Change owner"), Ok(Action::ChangeOwner));
    assert_eq!(Action::parse("OfflineAccess"), Ok(Action::AccessOffline));
    assert_eq!(ActionSet::from_mask(34).map(|s| s.to_string()), Ok("read, publish".to_owned()));
    assert!(ActionSet::from_mask(1 << 40).is_err());
    let error = Action::parse("reed").expect_err("unknown");
    assert!(error.hint().starts_with("did you mean `read`?"), "{}", error.hint());
}

const SITE: &str = r#"
users:
  - { userDirectory: ACME, userId: ann, groups: [Sales, HR], roles: [ContentAdmin], customProperties: { Dept: [Sales] } }
  - { userDirectory: ACME, userId: bob, groups: [Sales], environment: { browser: "Mozilla Firefox 99" } }
  - { userDirectory: ACME, userId: guest, anonymous: true }
resources:
  - { id: s1, type: Stream, name: Sales, customProperties: { Readers: [sales] } }
  - { id: a1, type: App, name: Pipeline, stream: s1, owner: ACME\ann }
  - { id: a2, type: App, name: Private, owner: ACME\nobody, description: secret plan }
  - { id: o1, type: App.Object, objectType: sheet, app: a1, published: true }
  - { id: lib, type: ContentLibrary, name: Images }
  - { id: pic, type: StaticContentReference, name: logo.png, relations: { ContentLibrarys: [lib] } }
rules:
  - { name: StreamReaders, resourceFilter: Stream_*, condition: resource.@Readers = user.group, actions: [read] }
  - { name: Apps, resourceFilter: App_*, condition: 'resource.stream.HasPrivilege("read")', actions: [read] }
  - { name: SelfLoop, resourceFilter: App_*, condition: 'resource.HasPrivilege("update") or user.userId = "bob"', actions: [update] }
  - { name: Regex, resourceFilter: App_*, condition: 'resource.name matches "Pipe.*"', actions: [export] }
  - { name: BadRegex, resourceFilter: App_*, condition: 'resource.name matches "("', actions: [duplicate] }
  - { name: Browser, resourceFilter: App_*, condition: 'user.environment.browser like "*firefox*"', actions: [exportdata] }
  - { name: Described, resourceFilter: App_a2, condition: 'resource.description = "SECRET PLAN"', actions: [approve] }
  - { name: Library, resourceFilter: ContentLibrary_*, condition: 'user.userId = "ann"', actions: [read] }
  - { name: Files, resourceFilter: StaticContentReference_*, condition: 'resource.ContentLibrarys.HasPrivilege("read")', actions: [read] }
  - { name: NoOwnerName, resourceFilter: App_*, condition: 'resource.owner.name = "nobody"', actions: [publish] }
  - { name: Anonymous, resourceFilter: App_*, condition: 'user.IsAnonymous()', actions: [distribute] }
"#;

#[test]
fn decisions_follow_the_spec() {
    let site = load(SITE);
    assert_eq!(decide(&site, r"ACME\bob", "read", "a1", "hub"), "allow [rule:Apps]");
    assert_eq!(decide(&site, r"ACME\guest", "read", "a1", "hub"), "deny [no-grant]");
    // A HasPrivilege cycle grants nothing, but the other branch still can.
    assert_eq!(decide(&site, r"ACME\ann", "update", "a1", "hub"), "deny [no-grant]");
    assert_eq!(decide(&site, r"acme\BOB", "update", "a1", "qmc"), "allow [rule:SelfLoop]");
    assert_eq!(decide(&site, r"ACME\ann", "export", "a1", "hub"), "allow [rule:Regex]");
    assert_eq!(decide(&site, r"ACME\ann", "export", "a2", "hub"), "deny [no-grant]");
    assert_eq!(decide(&site, r"ACME\ann", "duplicate", "a1", "hub"), "deny [no-grant]");
    assert_eq!(decide(&site, r"ACME\bob", "exportdata", "a1", "hub"), "allow [rule:Browser]");
    assert_eq!(decide(&site, r"ACME\ann", "exportdata", "a1", "hub"), "deny [no-grant]");
    assert_eq!(decide(&site, r"ACME\ann", "approve", "a2", "hub"), "allow [rule:Described]");
    assert_eq!(decide(&site, r"ACME\ann", "approve", "a1", "hub"), "deny [no-grant]");
    assert_eq!(decide(&site, r"ACME\ann", "read", "pic", "hub"), "allow [rule:Files]");
    assert_eq!(decide(&site, r"ACME\bob", "read", "pic", "hub"), "deny [no-grant]");
    // The owner is not in the site: only their key is known.
    assert_eq!(decide(&site, r"ACME\ann", "publish", "a2", "hub"), "deny [no-grant]");
    assert_eq!(decide(&site, r"ACME\guest", "distribute", "a2", "hub"), "allow [rule:Anonymous]");
}

#[test]
fn explanations_name_failures_and_cycles() {
    let site = load(SITE);
    let compiled = &site.compiled;
    let ann = compiled.user(r"ACME\ann").expect("ann");
    let a1 = compiled.resource("a1").expect("a1");
    let decision = compiled.decide(ann, a1, Action::Duplicate, RequestContext::Hub);
    assert_eq!(
        decision.to_string(),
        "deny duplicate on `a1` for `ACME\\ann` in hub because [no-grant]; rule `BadRegex` failed: `(` is not a valid regular expression: unclosed group"
    );
    let decision = compiled.decide(ann, a1, Action::Update, RequestContext::Hub);
    assert!(
        decision
            .to_string()
            .contains("rule `SelfLoop` condition false (a HasPrivilege cycle grants nothing)"),
        "{decision}"
    );
    assert_eq!(compiled.granted_actions(ann, a1, RequestContext::Hub).to_string(), "read, export");
}

#[test]
fn load_errors_name_their_place() {
    let yaml = "users: []\nresources:\n  - { id: a1, type: App, stream: nope }\nrules:\n  - { name: R, resourceFilter: 'App*_*', condition: 'user.x = ', actions: [reed] }\n";
    let (file, base) = from_yaml(yaml).expect("decodes");
    let errors = file.load(&base).expect_err("refused");
    let rendered: Vec<String> = errors.iter().map(|e| format!("{}: {}", e.path, e.with_hint())).collect();
    assert_eq!(
        rendered,
        [
            "resources[0].stream: resource `a1` refers to the unknown resource `nope` (hint: list the resource under `resources:` or fix the id)",
            "rules[0].actions: rule `R`: unknown action `reed` (hint: did you mean `read`? actions: create, read, update, delete, export, publish, changeowner, changerole, exportdata, accessoffline, distribute, duplicate, approve)",
        ]
    );
    let fixed = yaml.replace("stream: nope", "name: x").replace("[reed]", "[read]");
    let (file, _) = from_yaml(&fixed).expect("decodes");
    let errors = file.load(&SourcePath::root().key("site")).expect_err("refused");
    let rendered: Vec<String> = errors.iter().map(|e| format!("{}: {}", e.path, e.message)).collect();
    assert_eq!(
        rendered,
        [
            "site.rules[0].resourceFilter: rule `R`: resource filter: `App*_*` at column 1 combines a type prefix `*` with `_*`",
            "site.rules[0].condition: rule `R`: condition 1:10: expected a value or an attribute after `=`, found the end of the condition",
        ]
    );
}

#[test]
fn default_rules_compile() {
    let rules = crate::default_rules::rules();
    assert!(rules.len() > 20, "{} default rules", rules.len());
    let site = crate::Site {
        rules,
        ..crate::Site::default()
    };
    let compiled = crate::CompiledSite::compile(&site);
    assert!(compiled.is_ok(), "{:?}", compiled.err());
}

/// A site's `authzen:` names map AuthZEN actions per resource type, and are checked at load.
#[test]
fn authzen_action_names_map_onto_actions_per_type() {
    use crate::authzen::ActionNameError;
    let site = load(
        r#"
authzen:
  actions:
    - { name: can_read, action: read }
    - { name: view, action: read, resourceTypes: [record] }
    - { name: edit, action: update, resourceTypes: [record, Note] }
"#,
    );
    let binding = &site.authzen;
    assert_eq!(binding.action("can_read", "anything"), Ok(Action::Read));
    assert_eq!(binding.action("edit", "note"), Ok(Action::Update));
    assert!(matches!(binding.action("view", "todo"), Err(ActionNameError::WrongType { .. })));
    let unknown = binding.action("read", "record").unwrap_err();
    assert_eq!(unknown.to_string(), "the site knows no action `read`");
    assert_eq!(unknown.hint(), "use one of: can_read, view, edit");
    let granted = ActionSet::NONE.with(Action::Read).with(Action::Update);
    assert_eq!(
        binding.names(granted, "record"),
        [("can_read", Action::Read), ("view", Action::Read), ("edit", Action::Update)]
    );
    assert_eq!(binding.names(granted, "todo"), [("can_read", Action::Read)]);

    // Without names, AuthZEN's are the rule language's.
    let plain = load("users: []");
    assert_eq!(plain.authzen.action("ExportData", "App"), Ok(Action::ExportData));
    assert_eq!(plain.authzen.names(granted, "App"), [("read", Action::Read), ("update", Action::Update)]);

    let (file, base) = from_yaml("authzen:\n  actions:\n    - { name: x, action: fly }\n    - { name: x, action: read }\n").expect("decodes");
    let errors = file.load(&base).expect_err("refused");
    let messages: Vec<String> = errors.iter().map(|e| format!("{}: {}", e.path, e.message)).collect();
    assert_eq!(
        messages,
        [
            "authzen.actions[0].action: AuthZEN action `x`: unknown action `fly`",
            "authzen.actions[1].name: AuthZEN action `x` is listed twice"
        ]
    );
}

/// A resource the request describes: `owner` and `name` are the rule language's, other
/// properties attributes (lists from arrays; objects and nulls not read).
#[test]
fn a_supplied_resource_reads_its_authzen_properties() {
    use crate::authzen::supplied_resource;
    let properties = serde_json::json!({
        "ownerID": "rick@the-citadel.com",
        "owner": "ACME\\ann",
        "name": "Todo",
        "tags": ["a", 1, true, null],
        "record": {"isbn": "978"},
        "gone": null
    });
    let resource = supplied_resource("todo", "t1", properties.as_object());
    assert_eq!(resource.owner.as_deref(), Some("ACME\\ann"));
    assert_eq!(resource.name.as_deref(), Some("Todo"));
    let attributes: Vec<(&str, Vec<&str>)> = resource
        .attributes
        .iter()
        .map(|(k, v)| (k.as_str(), v.iter().map(String::as_str).collect()))
        .collect();
    assert_eq!(attributes, [("ownerID", vec!["rick@the-citadel.com"]), ("tags", vec!["a", "1", "true"])]);

    let site = load(
        r#"
users:
  - { userDirectory: ACME, userId: ann, email: ann@acme.test }
rules:
  - { name: Own, resourceFilter: todo_*, actions: [update], condition: resource.ownerID = user.email }
  - { name: Owner, resourceFilter: todo_*, actions: [delete], condition: resource.owner = user }
"#,
    );
    let compiled = &site.compiled;
    let ann = compiled.user("acme\\ann").expect("user");
    let decide = |properties: serde_json::Value, action| {
        let supplied = compiled.supply(&supplied_resource("todo", "t9", properties.as_object()));
        let decision = compiled.decide_on(ann, crate::Target::Supplied(&supplied), action, RequestContext::Hub);
        format!("{} {}", decision.verdict(), decision.resource)
    };
    assert_eq!(decide(serde_json::json!({"ownerID": "ANN@acme.test"}), Action::Update), "allow t9");
    assert_eq!(decide(serde_json::json!({"ownerID": "bob@acme.test"}), Action::Update), "deny t9");
    assert_eq!(decide(serde_json::json!({"owner": "ACME\\ann"}), Action::Delete), "allow t9");
    assert_eq!(decide(serde_json::json!({}), Action::Delete), "deny t9");
}

/// A relation name that only the supplied resource uses navigates, before the last step and
/// at it, as it would if the site held the resource; held resources that lack it reach nothing.
#[test]
fn a_supplied_resource_navigates_a_relation_the_site_never_uses() {
    let site = load(
        r#"
users:
  - { userDirectory: ACME, userId: ann }
resources:
  - { id: lib1, type: DataConnection, owner: ACME\ann }
  - { id: doc0, type: Doc }
rules:
  - { name: ViaOwner, resourceFilter: Doc_*, actions: [read], condition: resource.Libs.owner = user }
  - { name: ById, resourceFilter: Doc_*, actions: [update], condition: resource.Libs = "lib1" }
  - { name: Nested, resourceFilter: Doc_*, actions: [delete], condition: resource.Libs.HasPrivilege("read") }
  - { name: Lib, resourceFilter: DataConnection_*, actions: [read], condition: resource.owner = user }
"#,
    );
    let compiled = &site.compiled;
    let ann = compiled.user("acme\\ann").expect("user");
    let supplied = |relations: &[&str]| {
        let mut resource = crate::Resource {
            id: "doc9".into(),
            resource_type: "Doc".into(),
            ..Default::default()
        };
        if !relations.is_empty() {
            resource
                .relations
                .insert("Libs".into(), relations.iter().map(|r| (*r).to_owned()).collect());
        }
        compiled.supply(&resource)
    };
    let linked = supplied(&["lib1"]);
    let unlinked = supplied(&[]);
    for action in [Action::Read, Action::Update, Action::Delete] {
        assert!(
            compiled.allows_on(ann, crate::Target::Supplied(&linked), action, RequestContext::Hub),
            "{action}"
        );
        assert!(
            !compiled.allows_on(ann, crate::Target::Supplied(&unlinked), action, RequestContext::Hub),
            "{action}"
        );
        let held = compiled.resource("doc0").expect("held");
        assert!(!compiled.is_allowed(ann, held, action, RequestContext::Hub), "{action}");
    }
}
