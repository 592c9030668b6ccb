//! The limits on what the rule language reads: condition and filter length, condition
//! nesting, path length, diagnostics per condition, and YAML depth. Each test runs on a
//! thread with a test thread's default stack (2 MiB), so a walk that input could drive too
//! deep would overflow here rather than pass by luck.

use crate::compile::{CompiledSite, MAX_RULE_ERRORS};
use crate::filter::{MAX_RESOURCE_FILTER_BYTES, parse_filter};
use crate::site_file::from_yaml;
use crate::syntax::{MAX_CONDITION_BYTES, MAX_CONDITION_DEPTH, MAX_DIAGNOSTICS, MAX_PATH_STEPS, parse_condition, print_expr};
use crate::{Action, RequestContext};

fn on_test_stack(f: impl FnOnce() + Send + 'static) {
    on_stack(2 << 20, f);
}

fn on_stack(bytes: usize, f: impl FnOnce() + Send + 'static) {
    std::thread::Builder::new()
        .stack_size(bytes)
        .spawn(f)
        .expect("a thread starts")
        .join()
        .expect("no panic");
}

fn first_error(text: &str) -> String {
    let parsed = parse_condition(text);
    assert!(parsed.expr.is_none());
    parsed.first_error().map(ToString::to_string).expect("an error")
}

fn nested(levels: usize) -> String {
    format!("{}user.name = \"a\"{}", "(".repeat(levels), ")".repeat(levels))
}

#[test]
fn attack_conditions_are_refused_naming_the_limit() {
    on_test_stack(|| {
        let parens = nested(10_000);
        assert!(
            first_error(&parens).contains("condition nests deeper than 64 levels"),
            "{}",
            first_error(&parens)
        );
        let bangs = format!("{}user.name = \"a\"", "!".repeat(100_000));
        assert!(
            first_error(&bangs).contains("condition is longer than 65536 bytes"),
            "{}",
            first_error(&bangs)
        );
        let fewer_bangs = format!("{}user.name = \"a\"", "!".repeat(10_000));
        assert!(first_error(&fewer_bangs).contains("condition nests deeper than 64 levels"));
        // Unclosed, too.
        assert!(first_error(&"(".repeat(20_000)).contains("nests deeper"));
    });
}

#[test]
fn nesting_is_counted_in_parentheses_and_negations() {
    assert!(parse_condition(&nested(MAX_CONDITION_DEPTH)).is_ok());
    let error = first_error(&nested(MAX_CONDITION_DEPTH + 1));
    assert!(
        error.starts_with(&format!("1:{}:", MAX_CONDITION_DEPTH + 1)),
        "points at the first `(` too many: {error}"
    );
    let mixed = format!(
        "{}user.name = \"a\"{}",
        "!(".repeat(MAX_CONDITION_DEPTH / 2),
        ")".repeat(MAX_CONDITION_DEPTH / 2)
    );
    assert!(parse_condition(&mixed).is_ok());
    let mixed = format!(
        "{}user.name = \"a\"{}",
        "!(".repeat(MAX_CONDITION_DEPTH / 2 + 1),
        ")".repeat(MAX_CONDITION_DEPTH / 2 + 1)
    );
    assert!(first_error(&mixed).contains("nests deeper"));
    // Siblings do not add up.
    let siblings = vec![nested(MAX_CONDITION_DEPTH); 50].join(" and ");
    assert!(parse_condition(&siblings).is_ok());
}

#[test]
fn a_condition_at_the_length_limit_parses_and_one_byte_more_does_not() {
    on_test_stack(|| {
        let term = "user.name = \"a\"";
        let mut text = vec![term; MAX_CONDITION_BYTES / (term.len() + 4)].join(" or ");
        text.push_str(&" ".repeat(MAX_CONDITION_BYTES - text.len()));
        assert_eq!(text.len(), MAX_CONDITION_BYTES);
        let parsed = parse_condition(&text);
        assert!(parsed.is_ok());
        assert!(print_expr(parsed.expr.as_ref().unwrap()).len() < MAX_CONDITION_BYTES);
        text.push(' ');
        assert!(first_error(&text).contains("longer than"));
    });
}

#[test]
fn paths_longer_than_the_limit_are_refused() {
    let ok = format!("resource{} = \"x\"", ".stream".repeat(MAX_PATH_STEPS));
    assert!(parse_condition(&ok).is_ok());
    let long = format!("resource{} = \"x\"", ".stream".repeat(MAX_PATH_STEPS + 1));
    assert!(
        first_error(&long).contains(&format!("path has more than {MAX_PATH_STEPS} steps")),
        "{}",
        first_error(&long)
    );
}

#[test]
fn a_condition_reports_a_bounded_number_of_problems() {
    on_test_stack(|| {
        let text = "user.name = \"a\" & ".repeat(3_000);
        let started = std::time::Instant::now();
        let parsed = parse_condition(&text);
        assert_eq!(parsed.diagnostics.len(), MAX_DIAGNOSTICS + 1);
        assert!(
            parsed
                .diagnostics
                .last()
                .unwrap()
                .to_string()
                .contains(&format!("more than {MAX_DIAGNOSTICS} problems"))
        );
        assert!(started.elapsed().as_secs() < 5);
    });
}

#[test]
fn resource_filters_have_a_length_limit_and_parse_in_linear_time() {
    let entry = "App_0123456789abcdef,";
    let text = entry.repeat(MAX_RESOURCE_FILTER_BYTES / entry.len());
    let started = std::time::Instant::now();
    assert!(parse_filter(text.trim_end_matches(',')).is_ok());
    let commas = ",".repeat(MAX_RESOURCE_FILTER_BYTES);
    assert!(parse_filter(&commas).is_err());
    assert!(started.elapsed().as_secs() < 5);
    let long = format!("App_{}", "a".repeat(MAX_RESOURCE_FILTER_BYTES));
    let errors = parse_filter(&long).unwrap_err();
    assert!(
        errors[0].to_string().contains("resource filter is longer than 65536 bytes"),
        "{}",
        errors[0]
    );
}

/// 32 rules, each granting read on resource `rN` when the user may read `r(N+1)`, through a
/// condition as deep as the limits allow: the deepest evaluation they permit.
fn deepest_site() -> String {
    let mut yaml = String::from("users:\n  - { userDirectory: D, userId: u }\nresources:\n");
    let n = crate::eval::MAX_PRIVILEGE_DEPTH;
    for i in 0..=n {
        let link = if i < n {
            format!(", relations: {{ next: [r{}] }}", i + 1)
        } else {
            String::new()
        };
        yaml.push_str(&format!("  - {{ id: r{i}, type: Thing{i}{link} }}\n"));
    }
    yaml.push_str("rules:\n");
    for i in 0..n {
        // Each `(` opens an `or` and an `and`: the deepest tree the parser allows.
        let level = "user.name = \"zz\" or user.name = \"u\" and (";
        let inner = "resource.next.HasPrivilege(\"read\")";
        let condition = format!("{}{inner}{}", level.repeat(MAX_CONDITION_DEPTH), ")".repeat(MAX_CONDITION_DEPTH));
        yaml.push_str(&format!(
            "  - {{ name: rule{i}, resourceFilter: Thing{i}_*, actions: [read], condition: '{condition}' }}\n"
        ));
    }
    yaml.push_str(&format!(
        "  - {{ name: last, resourceFilter: Thing{n}_*, actions: [read], condition: '' }}\n"
    ));
    yaml
}

#[test]
fn the_deepest_evaluation_the_limits_allow_fits_a_test_stack() {
    let yaml = deepest_site();
    let text = yaml.clone();
    let (file, base) = from_yaml(&yaml).expect("decodes");
    let site = file.load(&base).unwrap_or_else(|errors| panic!("{errors:?}")).site;
    // The naive reference evaluator recurses once per node and per nested `HasPrivilege`, on
    // purpose; it is a test oracle (and the fuzzer's), never on a request's path.
    let (tx, rx) = std::sync::mpsc::channel();
    on_stack(16 << 20, move || {
        let expected = [0, 1].map(|r| crate::reference::is_allowed(&site, "D\\u", &format!("r{r}"), Action::Read, RequestContext::Hub));
        tx.send(expected).unwrap();
    });
    let expected = rx.recv().unwrap();
    on_test_stack(move || {
        let yaml = text;
        let (file, base) = from_yaml(&yaml).expect("decodes");
        let loaded = file.load(&base).unwrap_or_else(|errors| panic!("{errors:?}"));
        let site = &loaded.compiled;
        let user = site.user("D\\u").unwrap();
        for (r, expected) in expected.into_iter().enumerate() {
            let resource = site.resource(&format!("r{r}")).unwrap();
            let decision = site.decide(user, resource, Action::Read, RequestContext::Hub);
            assert_eq!(decision.allowed, expected, "r{r}: {decision}");
            assert_eq!(site.is_allowed(user, resource, Action::Read, RequestContext::Hub), expected);
        }
        assert!(expected[1], "31 nested `HasPrivilege`s are within the limit");
        let _ = crate::audit::audit(site, RequestContext::Hub, &crate::audit::AuditScope::default());
        let _ = crate::lint::lint(&crate::lint::read_rule_file("deep.yaml", &yaml).unwrap());
        for rule in site.rules() {
            if let Some(expr) = &rule.expr {
                let printed = print_expr(expr);
                assert_eq!(parse_condition(&printed).expr.map(|e| e.without_spans()), Some(expr.without_spans()));
            }
        }
    });
}

#[test]
fn a_deeply_nested_site_file_is_refused_naming_the_limit() {
    on_test_stack(|| {
        let text = format!(
            "site:\n  rules:\n    - {{ name: r, resourceFilter: '*', condition: 'user.name =', actions: [read] }}\njunk:\n  {}x\n",
            "- ".repeat(100_000)
        );
        let error = from_yaml(&text).map(|_| ()).unwrap_err();
        assert!(error.to_string().contains("nests deeper than 64 levels"), "{error}");
    });
}

#[test]
fn a_site_full_of_errors_reports_a_bounded_number() {
    let rule = |i: usize| crate::Rule {
        id: None,
        name: format!("r{i}"),
        resource_filter: "App_*, ,".into(),
        condition: "user.name = & ".repeat(50),
        actions: crate::ActionSet(1),
        ..crate::Rule::default()
    };
    let site = crate::Site {
        rules: (0..2_000).map(rule).collect(),
        ..crate::Site::default()
    };
    let errors = CompiledSite::compile(&site).unwrap_err();
    assert_eq!(errors.len(), MAX_RULE_ERRORS + 1);
    assert!(errors.last().unwrap().to_string().contains("the rules after this one were not checked"));
}
