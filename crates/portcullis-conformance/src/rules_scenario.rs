//! Runs `model: rules` scenarios (security-rule sites) through `portcullis-rules`: loads the
//! `site:` (with every load problem named by file, line and rule), then asks each check's
//! decision and compares it, and its `because` tokens, with what the scenario expects.

use portcullis_model::source::SourcePath;
use portcullis_rules::site_file::{LoadedSite, SiteFile};
use portcullis_rules::{Action, RequestContext};
use serde::Deserialize;

use crate::report::{CheckFailure, ScenarioReport};
use crate::runner::{SourceFile, load_failure};

#[derive(Deserialize)]
#[serde(untagged)]
enum Phrases {
    One(String),
    Many(Vec<String>),
}

impl Phrases {
    fn list(&self) -> Vec<String> {
        match self {
            Phrases::One(one) => vec![one.clone()],
            Phrases::Many(many) => many.clone(),
        }
    }
}

#[derive(Deserialize)]
struct RejectsProbe {
    #[serde(default)]
    rejects: Option<Phrases>,
}

#[derive(Deserialize)]
struct Scenario {
    #[serde(default)]
    site: SiteFile,
    #[serde(default)]
    checks: Vec<Check>,
}

#[derive(Deserialize)]
struct Check {
    user: String,
    action: String,
    resource: String,
    context: String,
    expect: String,
    #[serde(default)]
    because: Vec<String>,
}

/// Runs one rules scenario.
pub fn run(source: &SourceFile, name: String) -> ScenarioReport {
    let rejects = match serde_norway::from_str::<RejectsProbe>(&source.text) {
        Ok(probe) => probe.rejects.map(|p| p.list()),
        Err(error) => return load_failure(&source.label, &name, source.decode_error(&error)),
    };
    let loaded = serde_norway::from_str::<Scenario>(&source.text)
        .map_err(|error| source.decode_error(&error))
        .and_then(|scenario| {
            let site = scenario.site.load(&SourcePath::root().key("site")).map_err(|errors| {
                let lines: Vec<String> = errors
                    .iter()
                    .map(|error| format!("{}: {}", source.locate(&error.path), error.with_hint()))
                    .collect();
                lines.join("\n              ")
            })?;
            Ok((scenario.checks, site))
        });
    let mut report = ScenarioReport {
        file: source.label.clone(),
        name,
        ..ScenarioReport::default()
    };
    if let Some(phrases) = rejects {
        let expected = format!(
            "refused with an error containing {}",
            phrases.iter().map(|p| format!("`{p}`")).collect::<Vec<_>>().join(", ")
        );
        let outcome = match loaded {
            Ok(_) => Err("the site loaded without error".to_owned()),
            Err(message) => {
                let lower = message.to_lowercase();
                if phrases.iter().all(|p| lower.contains(&p.to_lowercase())) {
                    Ok(())
                } else {
                    Err(message)
                }
            }
        };
        report.record(outcome.map_err(|actual| CheckFailure {
            check: "load the site".into(),
            expected,
            actual,
        }));
        return report;
    }
    let (checks, site) = match loaded {
        Ok(loaded) => loaded,
        Err(message) => return load_failure(&source.label, &report.name, message),
    };
    for (idx, check) in checks.iter().enumerate() {
        let path = SourcePath::root().key("checks").index(idx);
        report.record(run_check(source, &site, check, &path));
    }
    report
}

fn run_check(source: &SourceFile, loaded: &LoadedSite, check: &Check, path: &SourcePath) -> Result<(), CheckFailure> {
    let described = format!(
        "{} {} `{}` in {} ({})",
        check.user,
        check.action,
        check.resource,
        check.context,
        source.locate(path)
    );
    let expected = if check.because.is_empty() {
        check.expect.clone()
    } else {
        format!("{} because [{}]", check.expect, check.because.join(", "))
    };
    let fail = |actual: String| CheckFailure {
        check: described.clone(),
        expected: expected.clone(),
        actual,
    };
    let site = &loaded.compiled;
    let user = site
        .user(&check.user)
        .ok_or_else(|| fail(format!("unknown user `{}` (write it as DIRECTORY\\userId)", check.user)))?;
    let resource = site
        .resource(&check.resource)
        .ok_or_else(|| fail(format!("unknown resource `{}`", check.resource)))?;
    let action = Action::parse(&check.action).map_err(|error| fail(format!("{error} (hint: {})", error.hint())))?;
    let context = RequestContext::parse(&check.context)
        .ok_or_else(|| fail(format!("unknown context `{}`; a check's context is `hub` or `qmc`", check.context)))?;
    let expect_allow = match check.expect.to_ascii_lowercase().as_str() {
        "allow" => true,
        "deny" => false,
        other => return Err(fail(format!("unknown expectation `{other}`; write `allow` or `deny`"))),
    };
    let decision = site.decide(user, resource, action, context);
    let tokens: Vec<String> = decision.tokens().iter().map(|t| t.to_lowercase()).collect();
    let missing: Vec<&String> = check.because.iter().filter(|b| !tokens.contains(&b.to_lowercase())).collect();
    if decision.allowed == expect_allow && missing.is_empty() {
        Ok(())
    } else {
        Err(fail(decision.to_string()))
    }
}
