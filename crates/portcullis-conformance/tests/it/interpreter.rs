//! The interpreter against a fake in-memory target: failures carry their file:line:col, a
//! refusal is compared with `rejects:`, sessions are opened before session checks, and the
//! in-process and HTTP targets are driven through the very same calls as the fake.

use std::collections::VecDeque;

use portcullis_conformance::interpreter::run;
use portcullis_conformance::scenario::{Check, Model, Step};
use portcullis_conformance::{Answer, HttpTarget, InProcess, LoadError, ScenarioReport, SourceFile, Target};

/// A target that answers from a queue and refuses or fails as told.
#[derive(Default)]
struct Table {
    /// What `load` returns.
    load: Option<LoadError>,
    /// The answers, in the order the checks are asked.
    answers: VecDeque<Answer>,
    /// A step whose JSON contains this text fails with it.
    failing_step: Option<&'static str>,
}

impl Target for Table {
    fn load(&mut self, _: &SourceFile, _: Model) -> Result<(), LoadError> {
        self.load.clone().map_or(Ok(()), Err)
    }

    fn step(&mut self, step: &Step) -> Result<(), String> {
        let json = serde_json::to_string(step).unwrap();
        match self.failing_step {
            Some(text) if json.contains(text) => Err(format!("unknown user `{text}`")),
            _ => Ok(()),
        }
    }

    fn ask(&mut self, check: &Check) -> Result<Answer, String> {
        self.answers.pop_front().ok_or_else(|| format!("no answer for {}", check.describe()))
    }
}

/// Any target, with a log of every call the interpreter makes to it.
struct Recorder<T> {
    inner: T,
    calls: Vec<String>,
}

impl<T> Recorder<T> {
    fn new(inner: T) -> Self {
        Recorder { inner, calls: Vec::new() }
    }
}

impl<T: Target> Target for Recorder<T> {
    fn load(&mut self, source: &SourceFile, model: Model) -> Result<(), LoadError> {
        self.calls.push(format!("load {model:?}"));
        self.inner.load(source, model)
    }

    fn step(&mut self, step: &Step) -> Result<(), String> {
        self.calls.push(format!("step {}", serde_json::to_string(step).unwrap()));
        self.inner.step(step)
    }

    fn ask(&mut self, check: &Check) -> Result<Answer, String> {
        self.calls.push(format!("ask {}", check.describe()));
        self.inner.ask(check)
    }

    fn unload(&mut self) {
        self.calls.push("unload".into());
        self.inner.unload();
    }
}

fn answer(allowed: bool, tokens: &[&str]) -> Answer {
    let verdict = if allowed { "allow" } else { "deny" };
    Answer {
        allowed,
        tokens: tokens.iter().map(|t| (*t).to_owned()).collect(),
        text: format!("{verdict} [{}] as the table says", tokens.join(", ")),
    }
}

fn table(answers: Vec<Answer>) -> Table {
    Table {
        answers: answers.into(),
        ..Table::default()
    }
}

fn run_text(target: &mut dyn Target, text: &str) -> ScenarioReport {
    run(target, &SourceFile::new("inline.yaml", text))
}

const TENANT: &str = "tenant:\n  users: [ { id: ann, roles: [TenantAdmin] }, { id: bob } ]\n";

#[test]
fn a_failing_check_is_reported_with_its_location_expectation_and_answer() {
    let text = format!(
        "name: t\n{TENANT}checks:\n  - {{ user: bob, via: api-key, action: role:create, expect: allow, because: [role:TenantAdmin] }}\n\
         steps:\n  - check: {{ user: ann, via: api-key, action: role:create, expect: allow, because: [role:TenantAdmin] }}\n"
    );
    let mut target = table(vec![answer(false, &["no-grant"]), answer(true, &["role:Steward"])]);
    let report = run_text(&mut target, &text);
    assert_eq!((report.n_passed, report.failures.len()), (0, 2), "{}", report.render());
    let first = &report.failures[0];
    assert_eq!(first.check, "bob role:create via api-key (inline.yaml:5:5)");
    assert_eq!(first.expected, "allow because [role:TenantAdmin]");
    assert_eq!(first.actual, "deny [no-grant] as the table says (missing tokens [role:TenantAdmin])");
    // A check among the steps is located at the check itself.
    let second = &report.failures[1];
    assert_eq!(second.check, "ann role:create via api-key (inline.yaml:7:5)");
    assert_eq!(
        second.actual,
        "allow [role:Steward] as the table says (missing tokens [role:TenantAdmin])"
    );
}

#[test]
fn a_question_the_target_cannot_ask_fails_the_check_and_the_rest_still_run() {
    let text = format!(
        "name: t\n{TENANT}checks:\n  - {{ user: ann, via: api-key, action: fly, expect: allow }}\n  - {{ user: ann, via: api-key, action: role:create, expect: allow }}\n"
    );
    let mut target = table(Vec::new());
    let report = run_text(&mut target, &text);
    assert_eq!((report.n_passed, report.failures.len()), (0, 2));
    assert_eq!(report.failures[0].actual, "no answer for ann fly via api-key");
}

#[test]
fn expectations_and_tokens_ignore_case() {
    let text =
        format!("name: t\n{TENANT}checks:\n  - {{ user: ann, via: api-key, action: role:create, expect: Allow, because: [ROLE:tenantadmin] }}\n");
    let mut target = table(vec![answer(true, &["role:TenantAdmin"])]);
    let report = run_text(&mut target, &text);
    assert!(report.passed(), "{}", report.render());
}

#[test]
fn a_refusal_without_the_phrases_is_reported_with_its_message() {
    let text = format!("name: t\nrejects: [unknown role, carrots]\n{TENANT}");
    let mut target = Table {
        load: Some(LoadError::Refused("inline.yaml:3:31: unknown role `Nope`".into())),
        ..Table::default()
    };
    let report = run_text(&mut target, &text);
    assert_eq!(report.failures.len(), 1);
    let failure = &report.failures[0];
    assert_eq!(failure.check, "load inline.yaml");
    assert_eq!(failure.expected, "refused, with a message containing `unknown role`, `carrots`");
    assert_eq!(failure.actual, "refused with: inline.yaml:3:31: unknown role `Nope`");
}

#[test]
fn a_refusal_with_every_phrase_in_any_case_passes_and_counts_as_one_check() {
    let text = format!("name: t\nrejects: [UNKNOWN ROLE, \"inline.yaml:3\"]\n{TENANT}");
    let mut target = Table {
        load: Some(LoadError::Refused("inline.yaml:3:31: unknown role `Nope`".into())),
        ..Table::default()
    };
    let report = run_text(&mut target, &text);
    assert_eq!((report.n_passed, report.failures.len()), (1, 0), "{}", report.render());
}

#[test]
fn a_refusal_that_does_not_happen_fails() {
    let text = format!("name: t\nrejects: nothing\n{TENANT}");
    let report = run_text(&mut Table::default(), &text);
    assert_eq!(report.failures.len(), 1);
    assert_eq!(report.failures[0].actual, "loaded without error");
}

#[test]
fn a_target_that_cannot_be_asked_is_a_load_failure_not_a_refusal() {
    // Even when its message holds the phrase: nothing refused the tenant.
    let text = format!("name: t\nrejects: connection\n{TENANT}");
    let mut target = Recorder::new(Table {
        load: Some(LoadError::Failed("connection refused".into())),
        ..Table::default()
    });
    let report = run_text(&mut target, &text);
    assert_eq!(report.failures.len(), 1);
    assert_eq!(report.failures[0].check, "load the scenario");
    assert_eq!(target.calls, ["load Cloud", "unload"]);
}

#[test]
fn a_step_that_fails_is_reported_with_its_location() {
    let text = format!("name: t\n{TENANT}steps:\n  - join: {{ user: nobody, group: crew }}\n  - login: ann\n");
    let mut target = Table {
        failing_step: Some("nobody"),
        ..Table::default()
    };
    let report = run_text(&mut target, &text);
    assert_eq!(report.failures.len(), 1, "{}", report.render());
    assert_eq!(report.failures[0].check, "step `join` at inline.yaml:5:5");
    assert_eq!(report.failures[0].actual, "unknown user `nobody`");
}

#[test]
fn a_session_check_logs_its_user_in_once_and_other_channels_never() {
    let text = format!(
        "name: t\n{TENANT}checks:\n  - {{ user: bob, action: role:create, expect: deny }}\n  - {{ user: bob, action: role:create, expect: deny }}\n\
         \x20 - {{ user: ann, via: api-key, action: role:create, expect: allow }}\n\
         steps:\n  - login: ann\n  - check: {{ user: ann, action: role:create, expect: allow }}\n"
    );
    let mut target = Recorder::new(table(vec![answer(false, &[]), answer(false, &[]), answer(true, &[]), answer(true, &[])]));
    let report = run_text(&mut target, &text);
    assert!(report.passed(), "{}", report.render());
    assert_eq!(
        target.calls,
        [
            "load Cloud",
            r#"step {"login":"bob"}"#,
            "ask bob role:create via session",
            "ask bob role:create via session",
            "ask ann role:create via api-key",
            r#"step {"login":"ann"}"#,
            "ask ann role:create via session",
            "unload",
        ]
    );
}

#[test]
fn rule_checks_open_no_session() {
    let text = "name: t\nmodel: rules\nsite: { users: [ { userDirectory: ACME, userId: bob } ] }\n\
                checks:\n  - { user: ACME\\bob, action: read, resource: s1, context: hub, expect: deny }\n";
    let mut target = Recorder::new(table(vec![answer(false, &["no-grant"])]));
    let report = run_text(&mut target, text);
    assert!(report.passed(), "{}", report.render());
    assert_eq!(target.calls, ["load Rules", r"ask ACME\bob read `s1` in hub", "unload"]);
}

#[test]
fn what_a_model_does_not_take_is_refused_with_its_location() {
    let cases = [
        (
            format!("name: t\n{TENANT}checks:\n  - {{ user: bob, action: role:create, context: hub, expect: deny }}\n"),
            "inline.yaml:5:39: `context` is for rule checks",
        ),
        (
            "name: t\nmodel: rules\nsite: {}\nchecks:\n  - { user: ACME\\bob, action: read, resource: s1, expect: deny }\n".to_owned(),
            "inline.yaml:5:5: a rule check names its `resource` and its `context`",
        ),
        (
            "name: t\nmodel: rules\nsite: {}\nsteps:\n  - login: bob\n".to_owned(),
            "inline.yaml:4:1: a rules scenario has no steps",
        ),
        ("name: t\nmodel: rules\n".to_owned(), "inline.yaml: the scenario has no `site:`"),
        (
            format!("name: t\nrejects: x\n{TENANT}checks:\n  - {{ user: bob, action: role:create, expect: deny }}\n"),
            "inline.yaml:5:1: a `rejects:` scenario has no checks or steps",
        ),
        (
            format!("name: t\n{TENANT}checks:\n  - {{ user: bob, action: role:create, expect: maybe }}\n"),
            "inline.yaml:5:47: checks[0].expect: unknown expectation `maybe`; write `allow` or `deny`",
        ),
        ("name: t\nmodel: galaxy\n".to_owned(), "inline.yaml:2:8: model: unknown model `galaxy`"),
    ];
    for (text, message) in cases {
        let mut target = Recorder::new(Table::default());
        let report = run_text(&mut target, &text);
        assert_eq!(report.name, "t");
        assert_eq!(report.failures.len(), 1, "{text}");
        assert!(report.failures[0].actual.starts_with(message), "{text}\n{}", report.failures[0].actual);
        assert!(
            target.calls.is_empty(),
            "a scenario that does not read is never loaded: {:?}",
            target.calls
        );
    }
}

/// The same scenario through the in-process target and through the fake: the interpreter
/// makes the same calls in the same order, so both are driven by the same code.
#[test]
fn the_in_process_target_is_driven_exactly_as_the_fake() {
    let text = format!(
        "name: t\n{TENANT}checks:\n  - {{ user: ann, via: api-key, action: role:create, expect: allow, because: [role:TenantAdmin] }}\n\
         \x20 - {{ user: bob, action: role:create, expect: deny, because: [no-grant] }}\n\
         steps:\n  - assign: {{ role: TenantAdmin, user: bob }}\n\
         \x20 - check: {{ user: bob, action: role:create, expect: deny }}\n\
         \x20 - check: {{ user: bob, via: api-key, action: role:create, expect: allow }}\n\
         \x20 - login: bob\n\
         \x20 - check: {{ user: bob, action: role:create, expect: allow, because: [role:TenantAdmin] }}\n"
    );
    let mut in_process = Recorder::new(InProcess::default());
    let real = run_text(&mut in_process, &text);
    assert!(real.passed(), "{}", real.render());
    assert_eq!(real.n_passed, 5);

    let answers = vec![
        answer(true, &["role:TenantAdmin"]),
        answer(false, &["no-grant"]),
        answer(false, &["no-grant"]),
        answer(true, &["role:TenantAdmin"]),
        answer(true, &["role:TenantAdmin"]),
    ];
    let mut fake = Recorder::new(table(answers));
    let faked = run_text(&mut fake, &text);
    assert!(faked.passed(), "{}", faked.render());
    assert_eq!(in_process.calls, fake.calls);
    assert_eq!(in_process.calls[2], r#"step {"login":"bob"}"#);
    assert_eq!(
        in_process.calls[4],
        r#"step {"assign":{"role":"TenantAdmin","user":"bob","everyone":false}}"#
    );
}

/// The HTTP target goes through the same interpreter: a server that does not answer is one
/// load failure naming it, made by the same calls as a fake target that cannot be asked.
#[test]
fn the_http_target_is_driven_exactly_as_the_fake() {
    let text = format!("name: t\n{TENANT}checks:\n  - {{ user: ann, via: api-key, action: role:create, expect: allow }}\n");
    let mut http = Recorder::new(HttpTarget::new("http://127.0.0.1:9", "token"));
    let over_http = run_text(&mut http, &text);
    assert_eq!(over_http.failures.len(), 1);
    assert!(
        over_http.failures[0]
            .actual
            .starts_with("PUT http://127.0.0.1:9/v1/operator/tenants/conformance-inline?replace=true: ")
    );

    let mut fake = Recorder::new(Table {
        load: Some(LoadError::Failed("down".into())),
        ..Table::default()
    });
    let faked = run_text(&mut fake, &text);
    assert_eq!(faked.failures[0].check, over_http.failures[0].check);
    assert_eq!(http.calls, fake.calls);
}
