//! The HTTP target: scenarios run through a running Portcullis server's API instead of the
//! engine in process (`portcullis test --server URL`), so the server answers exactly what the
//! engine does. Each scenario becomes its own tenant, imported with the operator token
//! (`PUT /v1/operator/tenants/{name}`); checks go to `POST /v1/check`, logins to
//! `POST /v1/sessions`, other steps to `POST /v1/changes`; the tenant is deleted afterwards.
//! A rules scenario's site is loaded with `PUT /v1/rules/sites/site` into an empty tenant of
//! its own, each check is `POST /v1/rules/sites/site/check`.

use std::path::Path;
use std::time::Duration;

use serde_json::{Value, json};

use crate::interpreter::{Answer, LoadError, Target};
use crate::runner::SourceFile;
use crate::scenario::{Check, Model, Step};

/// A server to run scenarios against.
pub struct HttpTarget {
    base: String,
    operator_token: String,
    agent: ureq::Agent,
    /// The tenant of the scenario being run, and its model.
    current: Option<(String, Model)>,
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
            current: None,
        }
    }

    /// Sends a request as the operator acting in `tenant`; the answer's status and JSON body
    /// (a body that is not JSON comes back as a string). An error is a server not reached.
    fn send(&self, method: &str, path: &str, tenant: &str, body: Body<'_>) -> Result<(u16, Value), String> {
        let url = format!("{}{path}", self.base);
        let auth = format!("Bearer {}", self.operator_token);
        let result = match (method, body) {
            ("PUT", Body::Yaml(text)) => self
                .agent
                .put(&url)
                .header("Authorization", &auth)
                .header("Portcullis-Tenant", tenant)
                .header("Content-Type", "application/yaml")
                .send(text),
            ("POST", Body::Json(value)) => self
                .agent
                .post(&url)
                .header("Authorization", &auth)
                .header("Portcullis-Tenant", tenant)
                .send_json(value),
            ("DELETE", Body::None) => self.agent.delete(&url).header("Authorization", &auth).call(),
            _ => return Err(format!("cannot send {method} {path}")),
        };
        let mut response = result.map_err(|e| format!("{method} {url}: {e}"))?;
        let status = response.status().as_u16();
        let text = response
            .body_mut()
            .read_to_string()
            .map_err(|e| format!("{method} {url}: cannot read the answer: {e}"))?;
        Ok((status, serde_json::from_str(&text).unwrap_or(Value::String(text))))
    }

    fn current(&self) -> Result<&(String, Model), String> {
        self.current.as_ref().ok_or_else(|| "nothing is loaded".to_owned())
    }

    /// Imports the scenario as a tenant; the server reads its `tenant:`.
    fn load_tenant(&self, source: &SourceFile, tenant: &str) -> Result<(), LoadError> {
        let path = format!("/v1/operator/tenants/{tenant}?replace=true");
        match self.send("PUT", &path, tenant, Body::Yaml(&source.text)).map_err(LoadError::Failed)? {
            (200, _) => Ok(()),
            // The server names the document it was sent after the tenant; the file is what was sent.
            (_, body) => Err(LoadError::Refused(
                message(&body).replace(&format!("{tenant}:"), &format!("{}:", source.label)),
            )),
        }
    }

    /// Creates an empty tenant and loads the scenario's `site:` into it.
    fn load_site(&self, source: &SourceFile, tenant: &str) -> Result<(), LoadError> {
        let path = format!("/v1/operator/tenants/{tenant}?replace=true");
        let empty = format!("name: {tenant}\n");
        self.send("PUT", &path, tenant, Body::Yaml(&empty))
            .and_then(ok_or_refusal)
            .map_err(LoadError::Failed)?;
        match self
            .send("PUT", "/v1/rules/sites/site", tenant, Body::Yaml(&source.text))
            .map_err(LoadError::Failed)?
        {
            (200, _) => Ok(()),
            (_, body) => Err(LoadError::Refused(format!("{}: {}", source.label, message(&body)))),
        }
    }
}

/// What a request carries.
#[derive(Clone, Copy)]
enum Body<'a> {
    Yaml(&'a str),
    Json(&'a Value),
    None,
}

impl Target for HttpTarget {
    fn load(&mut self, source: &SourceFile, model: Model) -> Result<(), LoadError> {
        let tenant = tenant_name(&source.label);
        // Set first: a tenant half made by a failed load is deleted by `unload` too.
        self.current = Some((tenant.clone(), model));
        match model {
            Model::Cloud => self.load_tenant(source, &tenant),
            Model::Rules => self.load_site(source, &tenant),
        }
    }

    fn step(&mut self, step: &Step) -> Result<(), String> {
        let (tenant, _) = self.current()?;
        let answer = match step {
            Step::Login(user) => self.send("POST", "/v1/sessions", tenant, Body::Json(&json!({ "user": user })))?,
            Step::Check(_) => return Err("a check is asked, not applied".into()),
            change => {
                let body = serde_json::to_value(change).map_err(|e| format!("cannot write the step as JSON: {e}"))?;
                self.send("POST", "/v1/changes", tenant, Body::Json(&body))?
            }
        };
        ok_or_refusal(answer)
    }

    fn ask(&mut self, check: &Check) -> Result<Answer, String> {
        let (tenant, model) = self.current()?;
        let (path, body) = match model {
            Model::Cloud => (
                "/v1/check",
                json!({"user": check.user, "via": check.channel().to_string(), "action": check.action, "resource": check.resource}),
            ),
            Model::Rules => (
                "/v1/rules/sites/site/check",
                json!({"user": check.user, "action": check.action, "resource": check.resource, "context": check.context}),
            ),
        };
        let (status, answer) = self.send("POST", path, tenant, Body::Json(&body))?;
        if status != 200 {
            return Err(format!("the request is invalid: {}", refusal(status, &answer)));
        }
        let decision = answer["decision"].as_str().unwrap_or("?");
        let tokens: Vec<String> = answer["explanation"]["tokens"]
            .as_array()
            .map(|tokens| tokens.iter().filter_map(Value::as_str).map(str::to_owned).collect())
            .unwrap_or_default();
        // In the words of the engine's and the rules crate's own renderings.
        let text = match model {
            Model::Cloud => {
                let reasons: Vec<&str> = answer["explanation"]["reasons"]
                    .as_array()
                    .map(|reasons| reasons.iter().filter_map(|reason| reason["text"].as_str()).collect())
                    .unwrap_or_default();
                format!("{decision} [{}] {}", tokens.join(", "), reasons.join("; "))
            }
            Model::Rules => answer["explanation"]["text"].as_str().unwrap_or(decision).to_owned(),
        };
        Ok(Answer {
            allowed: answer["allowed"].as_bool().unwrap_or(decision == "allow"),
            tokens,
            text,
        })
    }

    fn unload(&mut self) {
        if let Some((tenant, _)) = self.current.take() {
            // Best effort: a tenant left behind is replaced by the next run's import.
            let _ = self.send("DELETE", &format!("/v1/operator/tenants/{tenant}"), &tenant, Body::None);
        }
    }
}

/// One tenant per scenario file, named after it.
fn tenant_name(label: &str) -> String {
    let stem = Path::new(label).file_stem().and_then(|s| s.to_str()).unwrap_or("scenario");
    let clean: String = stem
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || c == '-' { c } else { '-' })
        .collect();
    format!("conformance-{clean}")
}

/// The server's message in an error body (its whole body when it has none).
fn message(body: &Value) -> String {
    body.get("message")
        .and_then(Value::as_str)
        .map(str::to_owned)
        .unwrap_or_else(|| body.to_string())
}

/// A refusal in words: status, message and hint.
fn refusal(status: u16, body: &Value) -> String {
    match body.get("hint").and_then(Value::as_str) {
        Some(hint) => format!("{status}: {}; hint: {hint}", message(body)),
        None => format!("{status}: {}", message(body)),
    }
}

fn ok_or_refusal((status, body): (u16, Value)) -> Result<(), String> {
    if status == 200 { Ok(()) } else { Err(refusal(status, &body)) }
}
