//! Runs `model: cloud` scenarios: loads the tenant (or checks that it is refused), runs the
//! checks, then the steps in order. Sessions are frozen at `login` steps (a `session` check
//! for a user who never logged in logs them in first); every mutation rebuilds the snapshot.

use portcullis_engine::{Decision, RawRequest, Sessions, Snapshot, decide, resolve};
use portcullis_model::source::SourcePath;
use portcullis_model::tenant::RoleTarget;
use portcullis_model::tenant_file::{RawTenant, TenantFileError, tenant_from_raw};
use portcullis_model::{Change, Channel, Permission, PermissionValue, Tenant, TenantSetting};
use serde::Deserialize;

use crate::report::{CheckFailure, ScenarioReport};
use crate::runner::{SourceFile, load_failure};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CloudScenario {
    #[serde(rename = "name")]
    _name: Option<String>,
    #[serde(rename = "source")]
    _source: Option<String>,
    #[serde(rename = "description")]
    _description: Option<String>,
    #[serde(rename = "model")]
    _model: Option<String>,
    tenant: Option<RawTenant>,
    rejects: Option<Phrases>,
    #[serde(default)]
    checks: Vec<RawCheck>,
    // A step is written `- login: bob`: a one-key map, not a YAML tag.
    #[serde(default, with = "serde_norway::with::singleton_map_recursive")]
    steps: Vec<RawStep>,
}

#[derive(Deserialize)]
struct RejectsProbe {
    rejects: Option<Phrases>,
}

/// One phrase or a list of them.
#[derive(Deserialize)]
#[serde(untagged)]
pub(crate) enum Phrases {
    One(String),
    Many(Vec<String>),
}

impl Phrases {
    pub(crate) fn list(&self) -> Vec<String> {
        match self {
            Phrases::One(p) => vec![p.clone()],
            Phrases::Many(ps) => ps.clone(),
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCheck {
    user: String,
    via: Option<String>,
    action: String,
    resource: Option<String>,
    expect: Expect,
    #[serde(default)]
    because: Vec<String>,
}

#[derive(Deserialize, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
enum Expect {
    Allow,
    Deny,
}

#[derive(Deserialize)]
#[serde(rename_all = "lowercase", deny_unknown_fields)]
enum RawStep {
    Login(String),
    Assign(RawAssign),
    Unassign(RawAssign),
    Join(RawMembership),
    Leave(RawMembership),
    Set(RawSet),
    Check(RawCheck),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAssign {
    role: String,
    user: Option<String>,
    group: Option<String>,
    #[serde(default)]
    everyone: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMembership {
    user: String,
    group: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RawSet {
    setting: Option<String>,
    user_default: Option<String>,
    value: serde_norway::Value,
}

/// The live state of a running scenario.
struct State {
    tenant: Tenant,
    snapshot: Snapshot,
    sessions: Sessions,
    revision: u64,
}

impl State {
    fn rebuild(&mut self) {
        self.revision += 1;
        self.snapshot = Snapshot::build(&self.tenant, self.revision);
        self.sessions.rebind(&self.snapshot);
    }

    fn login(&mut self, user: &str) -> Result<(), String> {
        self.tenant
            .apply(&Change::RecordLogin { user: user.to_owned() })
            .map_err(|e| e.to_string())?;
        self.rebuild();
        let idx = self.snapshot.user_idx(user).ok_or_else(|| format!("unknown user `{user}`"))?;
        self.sessions.login(&self.snapshot, idx);
        Ok(())
    }
}

/// Runs one cloud scenario.
pub fn run(source: &SourceFile, name: String) -> ScenarioReport {
    let scenario: CloudScenario = match serde_norway::from_str(&source.text) {
        Ok(s) => s,
        Err(error) => {
            // In a `rejects:` scenario a tenant that does not even decode is a refusal too.
            let message = source.decode_error(&error);
            let mut report = ScenarioReport {
                file: source.label.clone(),
                name: name.clone(),
                ..Default::default()
            };
            match serde_norway::from_str::<RejectsProbe>(&source.text).ok().and_then(|p| p.rejects) {
                Some(phrases) => report.record(expect_refusal(source, &phrases.list(), Err(message))),
                None => return load_failure(&source.label, &name, message),
            }
            return report;
        }
    };
    let mut report = ScenarioReport {
        file: source.label.clone(),
        name: name.clone(),
        ..Default::default()
    };
    let root = SourcePath::root();
    let Some(raw) = scenario.tenant else {
        return load_failure(&source.label, &name, format!("{}: the scenario has no `tenant:`", source.label));
    };
    let loaded = tenant_from_raw(&raw, &root.key("tenant"))
        .map_err(|problems| TenantFileError::from_problems(&source.label, &source.lines, &problems).to_string());

    if let Some(phrases) = scenario.rejects {
        report.record(expect_refusal(source, &phrases.list(), loaded.map(|_| ())));
        return report;
    }
    let tenant = match loaded {
        Ok(tenant) => tenant,
        Err(message) => return load_failure(&source.label, &name, message),
    };
    let snapshot = Snapshot::build(&tenant, 0);
    let mut state = State {
        tenant,
        snapshot,
        sessions: Sessions::default(),
        revision: 0,
    };

    for (i, check) in scenario.checks.iter().enumerate() {
        report.record(run_check(source, &mut state, check, &root.key("checks").index(i)));
    }
    for (i, step) in scenario.steps.iter().enumerate() {
        let path = root.key("steps").index(i);
        let outcome = match step {
            RawStep::Check(check) => {
                report.record(run_check(source, &mut state, check, &path.key("check")));
                continue;
            }
            other => apply_step(&mut state, other),
        };
        if let Err(message) = outcome {
            report.record(Err(CheckFailure {
                check: format!("step at {}", source.locate(&path)),
                expected: "the step applies".into(),
                actual: message,
            }));
        }
    }
    report
}

/// A `rejects:` scenario: loading must fail with every phrase in the message.
pub(crate) fn expect_refusal(source: &SourceFile, phrases: &[String], loaded: Result<(), String>) -> Result<(), CheckFailure> {
    let expected = format!("refused, with a message containing {phrases:?}");
    match loaded {
        Ok(()) => Err(CheckFailure {
            check: format!("load {}", source.label),
            expected,
            actual: "loaded without error".into(),
        }),
        Err(message) => {
            let lower = message.to_lowercase();
            if phrases.iter().all(|p| lower.contains(&p.to_lowercase())) {
                Ok(())
            } else {
                Err(CheckFailure {
                    check: format!("load {}", source.label),
                    expected,
                    actual: format!("refused with: {message}"),
                })
            }
        }
    }
}

/// Runs a step through the model's one write path (`Tenant::apply`), as the server does.
fn apply_step(state: &mut State, step: &RawStep) -> Result<(), String> {
    let change = match step {
        RawStep::Login(user) => return state.login(user),
        RawStep::Assign(a) => Change::AssignRole {
            role: a.role.clone(),
            target: role_target(a)?,
        },
        RawStep::Unassign(a) => Change::UnassignRole {
            role: a.role.clone(),
            target: role_target(a)?,
        },
        RawStep::Join(m) => Change::JoinGroup {
            user: m.user.clone(),
            group: m.group.clone(),
        },
        RawStep::Leave(m) => Change::LeaveGroup {
            user: m.user.clone(),
            group: m.group.clone(),
        },
        RawStep::Set(set) => set_change(set)?,
        RawStep::Check(_) => return Ok(()),
    };
    state.tenant.apply(&change).map_err(|e| e.to_string())?;
    state.rebuild();
    Ok(())
}

fn role_target(assign: &RawAssign) -> Result<RoleTarget, String> {
    match (&assign.user, &assign.group, assign.everyone) {
        (Some(user), None, false) => Ok(RoleTarget::User(user.clone())),
        (None, Some(group), false) => Ok(RoleTarget::Group(group.clone())),
        (None, None, true) => Ok(RoleTarget::Everyone),
        _ => Err("an assignment names exactly one of `user`, `group` or `everyone: true`".into()),
    }
}

fn set_change(set: &RawSet) -> Result<Change, String> {
    match (&set.setting, &set.user_default) {
        (Some(name), None) => {
            let setting =
                TenantSetting::parse(name).ok_or_else(|| format!("unknown tenant setting `{name}`; known settings: {}", TenantSetting::known()))?;
            let value = set.value.as_bool().ok_or_else(|| format!("setting `{name}` takes true or false"))?;
            Ok(Change::SetSetting { setting, value })
        }
        (None, Some(key)) => {
            let permission =
                Permission::parse(key).ok_or_else(|| format!("unknown permission `{key}`; known permissions: {}", Permission::known_keys()))?;
            let text = set
                .value
                .as_str()
                .ok_or_else(|| format!("permission `{key}` takes a value such as `allowed`"))?;
            let value = PermissionValue::parse(text)
                .ok_or_else(|| format!("permission `{key}` does not take `{text}`; values: {}", permission.def().value_names()))?;
            Ok(Change::SetUserDefault { permission, value })
        }
        _ => Err("a `set` step names exactly one of `setting` or `userDefault`".into()),
    }
}

fn describe(check: &RawCheck) -> String {
    let via = check.via.as_deref().unwrap_or("session");
    match &check.resource {
        Some(resource) => format!("{} {} {resource} via {via}", check.user, check.action),
        None => format!("{} {} via {via}", check.user, check.action),
    }
}

fn render(decision: &Decision) -> String {
    let verdict = decision.verdict();
    format!("{verdict} {}", decision.explanation)
}

fn run_check(source: &SourceFile, state: &mut State, check: &RawCheck, path: &SourcePath) -> Result<(), CheckFailure> {
    let described = format!("{} ({})", describe(check), source.locate(path));
    let expect_word = match check.expect {
        Expect::Allow => "allow",
        Expect::Deny => "deny",
    };
    let expected = if check.because.is_empty() {
        expect_word.to_owned()
    } else {
        format!("{expect_word} because {:?}", check.because)
    };
    let fail = |actual: String| CheckFailure {
        check: described.clone(),
        expected: expected.clone(),
        actual,
    };
    // A scenario's check is a person in the hub unless it names another channel.
    let via = match check.via.as_deref() {
        Some(text) => text.parse().map_err(|e| fail(format!("the request is invalid: {e}")))?,
        None => Channel::Session,
    };
    let raw = RawRequest {
        user: &check.user,
        via: &via,
        action: &check.action,
        resource: check.resource.as_deref(),
    };
    let resolved = resolve(&state.snapshot, &raw).map_err(|e| fail(format!("the request is invalid: {e}")))?;
    if via == Channel::Session && state.sessions.rights(&check.user).is_none() {
        state.login(&check.user).map_err(&fail)?;
    }
    let decision = decide(&state.snapshot, &resolved.request(state.sessions.rights(&check.user), true));
    let tokens: Vec<String> = decision.explanation.tokens().iter().map(|t| t.to_lowercase()).collect();
    let missing: Vec<&String> = check.because.iter().filter(|b| !tokens.contains(&b.to_lowercase())).collect();
    if decision.allowed == (check.expect == Expect::Allow) && missing.is_empty() {
        Ok(())
    } else if missing.is_empty() {
        Err(fail(render(&decision)))
    } else {
        Err(fail(format!("{} (missing tokens {missing:?})", render(&decision))))
    }
}
