//! Runs cloud scenarios through a running Portcullis server's HTTP API instead of the
//! engine in process (`portcullis test --server URL`), so the server answers exactly what the
//! engine does. Each scenario becomes its own tenant, imported with the operator token
//! (`PUT /v1/operator/tenants/{name}`); checks go to `POST /v1/check`, logins to
//! `POST /v1/sessions`, other steps to `POST /v1/changes`; the tenant is deleted afterwards.
//! Rule-site scenarios (`model: rules`) go to the server's rule-site API: the site is loaded
//! with `PUT /v1/rules/sites/{name}` into a tenant of its own, each check is
//! `POST /v1/rules/sites/{name}/check`.

use std::path::Path;
use std::time::Duration;

use portcullis_model::Channel;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::report::{CheckFailure, ScenarioReport};
use crate::runner::{EXPECTED_FAILURES, SourceFile, load_failure, run_source};

/// A server to run scenarios against.
pub struct HttpTarget {
    base: String,
    operator_token: String,
    agent: ureq::Agent,
}

impl HttpTarget {
    /// A server at `base` (e.g. `http://127.0.0.1:8080`), reached with the operator token it was started with.
    pub fn new(base: &str, operator_token: &str) -> HttpTarget {
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(60)))
            .build()
            .into();
        HttpTarget {
            base: base.trim_end_matches('/').to_owned(),
            operator_token: operator_token.to_owned(),
            agent,
        }
    }

    fn send(&self, method: &str, path: &str, tenant: &str, body: Option<&Value>, text: Option<&str>) -> Result<(u16, Value), String> {
        let url = format!("{}{path}", self.base);
        let auth = format!("Bearer {}", self.operator_token);
        let result = match (method, body, text) {
            ("PUT", _, Some(text)) => self
                .agent
                .put(&url)
                .header("Authorization", &auth)
                .header("Portcullis-Tenant", tenant)
                .header("Content-Type", "application/yaml")
                .send(text),
            ("DELETE", _, _) => self.agent.delete(&url).header("Authorization", &auth).call(),
            (_, Some(body), _) => self
                .agent
                .post(&url)
                .header("Authorization", &auth)
                .header("Portcullis-Tenant", tenant)
                .send_json(body),
            _ => return Err(format!("cannot send {method} {path}")),
        };
        let mut response = result.map_err(|e| format!("{method} {url}: {e}"))?;
        let status = response.status().as_u16();
        let value = response
            .body_mut()
            .read_to_string()
            .map_err(|e| format!("{method} {url}: cannot read the answer: {e}"))?;
        Ok((status, serde_json::from_str(&value).unwrap_or(Value::String(value))))
    }
}

#[derive(Deserialize)]
struct Scenario {
    #[serde(default)]
    model: Option<String>,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    rejects: Option<Value>,
    #[serde(default)]
    checks: Vec<Check>,
    #[serde(default)]
    steps: Vec<Value>,
}

#[derive(Deserialize)]
struct RulesScenario {
    #[serde(default)]
    checks: Vec<RuleCheck>,
}

#[derive(Deserialize)]
struct RuleCheck {
    user: String,
    action: String,
    resource: String,
    context: String,
    expect: String,
    #[serde(default)]
    because: Vec<String>,
}

/// A rule-site scenario over HTTP: an empty tenant holds the site; checks ask the site.
fn run_rules(target: &HttpTarget, source: &SourceFile, path: &Path, scenario: &Scenario) -> ScenarioReport {
    let name = scenario.name.clone().unwrap_or_else(|| source.label.clone());
    let tenant = tenant_name(path);
    let mut report = ScenarioReport {
        file: source.label.clone(),
        name: name.clone(),
        ..Default::default()
    };
    let created = target.send(
        "PUT",
        &format!("/v1/operator/tenants/{tenant}?replace=true"),
        &tenant,
        None,
        Some(&format!("name: {tenant}\n")),
    );
    if let Err(message) = created.and_then(ok_or_message) {
        return load_failure(&source.label, &name, message);
    }
    let loaded = match target.send("PUT", "/v1/rules/sites/site", &tenant, None, Some(&source.text)) {
        Ok((200, _)) => Ok(()),
        Ok((_, body)) => Err(body
            .get("message")
            .and_then(Value::as_str)
            .map(str::to_owned)
            .unwrap_or_else(|| body.to_string())),
        Err(message) => {
            delete(target, &tenant);
            return load_failure(&source.label, &name, message);
        }
    };
    if let Some(rejects) = &scenario.rejects {
        let phrases = phrases(rejects);
        report.record(expect_refusal(source, &phrases, loaded));
        delete(target, &tenant);
        return report;
    }
    if let Err(message) = loaded {
        delete(target, &tenant);
        return load_failure(&source.label, &name, message);
    }
    let checks = match serde_norway::from_str::<RulesScenario>(&source.text) {
        Ok(s) => s.checks,
        Err(error) => {
            delete(target, &tenant);
            return load_failure(&source.label, &name, source.decode_error(&error));
        }
    };
    for check in &checks {
        let described = format!("{} {} `{}` in {}", check.user, check.action, check.resource, check.context);
        let expected = if check.because.is_empty() {
            check.expect.clone()
        } else {
            format!("{} because {:?}", check.expect, check.because)
        };
        let body = json!({"user": check.user, "action": check.action, "resource": check.resource, "context": check.context});
        let outcome = match target.send("POST", "/v1/rules/sites/site/check", &tenant, Some(&body), None) {
            Ok((200, answer)) => {
                let tokens: Vec<String> = answer["explanation"]["tokens"]
                    .as_array()
                    .map(|ts| ts.iter().filter_map(Value::as_str).map(str::to_lowercase).collect())
                    .unwrap_or_default();
                let missing: Vec<&String> = check.because.iter().filter(|b| !tokens.contains(&b.to_lowercase())).collect();
                let decision = answer["decision"].as_str().unwrap_or("?");
                if decision == check.expect.to_lowercase() && missing.is_empty() {
                    Ok(())
                } else {
                    Err(failure(described, &expected, format!("{decision} {tokens:?}")))
                }
            }
            Ok((status, answer)) => Err(failure(described, &expected, format!("the request is invalid: {status} {answer}"))),
            Err(message) => Err(failure(described, &expected, message)),
        };
        report.record(outcome);
    }
    delete(target, &tenant);
    report
}

#[derive(Deserialize, Clone)]
struct Check {
    user: String,
    via: Option<String>,
    action: String,
    resource: Option<String>,
    expect: String,
    #[serde(default)]
    because: Vec<String>,
}

/// Reads and runs one scenario file against the server.
pub fn run_file(target: &HttpTarget, path: &Path) -> ScenarioReport {
    let label = path.display().to_string();
    let mut report = match std::fs::read_to_string(path) {
        Ok(text) => run_text(target, &SourceFile::new(label.clone(), text), path),
        Err(error) => load_failure(&label, &label, format!("{label}: cannot read the file: {error}")),
    };
    let file_name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default();
    report.expected_failure = EXPECTED_FAILURES.iter().find(|(name, _)| *name == file_name).map(|(_, reason)| *reason);
    report
}

fn tenant_name(path: &Path) -> String {
    let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or("scenario");
    let clean: String = stem
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || c == '-' { c } else { '-' })
        .collect();
    format!("conformance-{clean}")
}

fn run_text(target: &HttpTarget, source: &SourceFile, path: &Path) -> ScenarioReport {
    let scenario: Scenario = match serde_norway::from_str(&source.text) {
        Ok(s) => s,
        Err(error) => return load_failure(&source.label, &source.label, source.decode_error(&error)),
    };
    match scenario.model.as_deref() {
        None | Some("cloud") => {}
        Some("rules") => return run_rules(target, source, path, &scenario),
        Some(_) => return run_source(source),
    }
    let name = scenario.name.clone().unwrap_or_else(|| source.label.clone());
    let tenant = tenant_name(path);
    let mut report = ScenarioReport {
        file: source.label.clone(),
        name: name.clone(),
        ..Default::default()
    };
    let imported = target.send(
        "PUT",
        &format!("/v1/operator/tenants/{tenant}?replace=true"),
        &tenant,
        None,
        Some(&source.text),
    );
    let imported = match imported {
        Ok((200, _)) => Ok(()),
        // The server names the document it was sent after the tenant; the file is what was sent.
        Ok((_, body)) => Err(body
            .get("message")
            .and_then(Value::as_str)
            .map(|m| m.replace(&format!("{tenant}:"), &format!("{}:", source.label)))
            .unwrap_or_else(|| body.to_string())),
        Err(message) => return load_failure(&source.label, &name, message),
    };
    if let Some(rejects) = &scenario.rejects {
        let phrases = phrases(rejects);
        report.record(expect_refusal(source, &phrases, imported));
        delete(target, &tenant);
        return report;
    }
    if let Err(message) = imported {
        return load_failure(&source.label, &name, message);
    }
    let mut logged_in = Vec::new();
    for check in &scenario.checks {
        report.record(run_check(target, &tenant, &mut logged_in, check));
    }
    for (idx, step) in scenario.steps.iter().enumerate() {
        if let Some(check) = step.get("check") {
            let outcome = match serde_json::from_value::<Check>(check.clone()) {
                Ok(check) => run_check(target, &tenant, &mut logged_in, &check),
                Err(error) => Err(failure(format!("step {idx}"), "a valid check", error.to_string())),
            };
            report.record(outcome);
            continue;
        }
        let outcome = match step.get("login").and_then(Value::as_str) {
            Some(user) => login(target, &tenant, &mut logged_in, user),
            None => target.send("POST", "/v1/changes", &tenant, Some(step), None).and_then(ok_or_message),
        };
        if let Err(message) = outcome {
            report.record(Err(failure(format!("step {idx} {step}"), "the step applies", message)));
        }
    }
    delete(target, &tenant);
    report
}

/// The phrases of a `rejects:` (one or a list).
fn phrases(rejects: &Value) -> Vec<String> {
    match rejects {
        Value::String(p) => vec![p.clone()],
        Value::Array(ps) => ps.iter().filter_map(|p| p.as_str().map(str::to_owned)).collect(),
        _ => Vec::new(),
    }
}

fn delete(target: &HttpTarget, tenant: &str) {
    let _ = target.send("DELETE", &format!("/v1/operator/tenants/{tenant}"), tenant, None, None);
}

fn failure(check: String, expected: &str, actual: String) -> CheckFailure {
    CheckFailure {
        check,
        expected: expected.to_owned(),
        actual,
    }
}

fn ok_or_message((status, body): (u16, Value)) -> Result<(), String> {
    if status == 200 {
        Ok(())
    } else {
        Err(format!(
            "{status}: {}",
            body.get("message").and_then(Value::as_str).unwrap_or(&body.to_string())
        ))
    }
}

fn login(target: &HttpTarget, tenant: &str, logged_in: &mut Vec<String>, user: &str) -> Result<(), String> {
    target
        .send("POST", "/v1/sessions", tenant, Some(&json!({"user": user})), None)
        .and_then(ok_or_message)?;
    logged_in.push(user.to_owned());
    Ok(())
}

fn expect_refusal(source: &SourceFile, phrases: &[String], imported: Result<(), String>) -> Result<(), CheckFailure> {
    let expected = format!("refused, with a message containing {phrases:?}");
    match imported {
        Ok(()) => Err(failure(format!("load {}", source.label), &expected, "loaded without error".into())),
        Err(message) => {
            let lower = message.to_lowercase();
            if phrases.iter().all(|p| lower.contains(&p.to_lowercase())) {
                Ok(())
            } else {
                Err(failure(format!("load {}", source.label), &expected, format!("refused with: {message}")))
            }
        }
    }
}

fn run_check(target: &HttpTarget, tenant: &str, logged_in: &mut Vec<String>, check: &Check) -> Result<(), CheckFailure> {
    let via = check.via.as_deref().unwrap_or("session");
    let described = match &check.resource {
        Some(resource) => format!("{} {} {resource} via {via}", check.user, check.action),
        None => format!("{} {} via {via}", check.user, check.action),
    };
    let expected = if check.because.is_empty() {
        check.expect.clone()
    } else {
        format!("{} because {:?}", check.expect, check.because)
    };
    let fail = |actual: String| failure(described.clone(), &expected, actual);
    let via: Channel = via.parse().map_err(|e| fail(format!("the request is invalid: {e}")))?;
    // As in process: a `session` check for a user who never logged in logs them in first.
    if via == Channel::Session && !logged_in.contains(&check.user) {
        login(target, tenant, logged_in, &check.user).map_err(&fail)?;
    }
    let body = json!({"user": check.user, "via": via.to_string(), "action": check.action, "resource": check.resource});
    let (status, answer) = target.send("POST", "/v1/check", tenant, Some(&body), None).map_err(&fail)?;
    if status != 200 {
        return Err(fail(format!("the request is invalid: {status} {answer}")));
    }
    let tokens: Vec<String> = answer["explanation"]["tokens"]
        .as_array()
        .map(|ts| ts.iter().filter_map(Value::as_str).map(str::to_lowercase).collect())
        .unwrap_or_default();
    let missing: Vec<&String> = check.because.iter().filter(|b| !tokens.contains(&b.to_lowercase())).collect();
    let decision = answer["decision"].as_str().unwrap_or("?");
    if decision == check.expect && missing.is_empty() {
        Ok(())
    } else if missing.is_empty() {
        Err(fail(format!("{decision} {tokens:?}")))
    } else {
        Err(fail(format!("{decision} {tokens:?} (missing tokens {missing:?})")))
    }
}
