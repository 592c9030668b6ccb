//! Security-rule sites over HTTP: a tenant may hold named QSEoW rule sites (users, resources,
//! rules, as in a site file), load them, and ask decisions with explanations.
//!
//! `PUT /v1/rules/sites/{name}` takes a site file (YAML or JSON; a whole scenario file is
//! accepted and its `site:` taken), validates and compiles it, and answers 400 with every
//! problem (rule name, line and column) when it cannot; `POST /v1/rules/sites/{name}/check`
//! decides `{user, action, resource, context}`. Sites are held in memory by this node, in the
//! tenant's own state ([`crate::state::TenantState::rule_sites`]), so they go with the tenant:
//! a tenant deleted and created again under the same name starts without sites. They are not
//! yet persisted in the store, so a restart forgets them. Loading or
//! deleting a site is an audit event (`com.qlik.v1.security-rule.updated`), stored before the
//! answer; a decision on `export` or `exportdata` is always logged, and stored before it is answered.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use axum::Json;
use axum::extract::FromRequest as _;
use axum::extract::{FromRequestParts, Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use portcullis_model::Action as CloudAction;
use portcullis_model::source::LineIndex;
use portcullis_qlik_api::route_table::RouteTable;
use portcullis_rules::site_file::{LoadedSite, from_yaml};
use portcullis_rules::{Action, RequestContext};
use serde::Deserialize;
use serde_json::json;

use portcullis_store::{EventDraft, EventType, ResourceRef};

use crate::auth::Caller;
use crate::err::ApiError;
use crate::extract::ApiPath;
use crate::state::AppState;

/// Records a change of a site in the audit trail before the change is acknowledged.
async fn audit_site_change(state: &RulesState, caller: &Caller, name: &str, data: serde_json::Value) -> Result<(), ApiError> {
    let resource = ResourceRef {
        kind: "rule-site".to_owned(),
        id: name.to_owned(),
        space: None,
        owner: None,
    };
    let draft = EventDraft::change(EventType::RulesUpdated, &caller.author(), "rules:update", Some(resource), data);
    state
        .app
        .store()
        .append_events(caller.tenant.id, &[draft])
        .await
        .map_err(ApiError::from)?;
    Ok(())
}

/// One tenant's loaded sites on this node, by site name.
#[derive(Debug, Default)]
pub struct RuleSites(RwLock<HashMap<String, Arc<LoadedSite>>>);

impl RuleSites {
    fn get(&self, name: &str) -> Option<Arc<LoadedSite>> {
        self.0.read().ok()?.get(name).cloned()
    }

    fn insert(&self, name: String, site: Arc<LoadedSite>) {
        if let Ok(mut sites) = self.0.write() {
            sites.insert(name, site);
        }
    }

    fn remove(&self, name: &str) -> Option<Arc<LoadedSite>> {
        self.0.write().ok()?.remove(name)
    }

    /// The sites' names, sorted.
    pub fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.0.read().map(|sites| sites.keys().cloned().collect()).unwrap_or_default();
        names.sort();
        names
    }

    /// Forgets every site (the tenant is gone).
    pub fn clear(&self) {
        if let Ok(mut sites) = self.0.write() {
            sites.clear();
        }
    }
}

/// What the rule-site routes share: the server's state.
#[derive(Clone)]
pub(crate) struct RulesState {
    app: AppState,
}

/// The routes; they carry their state, so they merge into any router.
pub fn routes<S: Clone + Send + Sync + 'static>(app: AppState) -> RouteTable<S> {
    RouteTable::new()
        .add(__path_list_sites, list_sites)
        .add(__path_put_site, put_site)
        .add(__path_delete_site, delete_site)
        .add(__path_check, check)
        .with_state(RulesState { app })
}

async fn caller(state: &RulesState, request: Request) -> Result<(Caller, Request), ApiError> {
    let (mut parts, body) = request.into_parts();
    let caller = Caller::from_request_parts(&mut parts, &state.app).await?;
    Ok((caller, Request::from_parts(parts, body)))
}

/// Managing sites is managing access rules: the same right as creating roles.
fn may_manage(caller: &Caller) -> Result<(), ApiError> {
    if caller.may(&caller.tenant.view().snapshot, CloudAction::RoleCreate) {
        Ok(())
    } else {
        Err(ApiError::forbidden("managing rule sites needs the right to manage roles (TenantAdmin)"))
    }
}

/// The tenant's rule sites.
#[utoipa::path(get, path = "/v1/rules/sites", tag = "rules", responses((status = 200, description = "The site names", body = SiteList), (status = 401, description = "No credentials"), (status = 403, description = "Needs TenantAdmin")), security(("bearer" = [])))]
pub(crate) async fn list_sites(State(state): State<RulesState>, request: Request) -> Result<Response, ApiError> {
    let (caller, _) = caller(&state, request).await?;
    may_manage(&caller)?;
    Ok(Json(json!({ "sites": caller.tenant.rule_sites.names() })).into_response())
}

/// Loads (or replaces) a rule site from a site file; refused whole with every problem located.
#[utoipa::path(put, path = "/v1/rules/sites/{name}", tag = "rules", params(("name" = String, Path, description = "Site name")), request_body(content = String, content_type = "application/yaml", description = "A site file: users, resources, rules"), responses((status = 200, description = "Loaded: counts of users, resources, rules", body = SiteLoaded), (status = 400, description = "Every problem, with line:column"), (status = 403, description = "Needs TenantAdmin")), security(("bearer" = [])))]
pub(crate) async fn put_site(State(state): State<RulesState>, ApiPath(name): ApiPath<String>, request: Request) -> Result<Response, ApiError> {
    let (caller, request) = caller(&state, request).await?;
    may_manage(&caller)?;
    let bytes = axum::body::to_bytes(request.into_body(), crate::MAX_BODY_BYTES)
        .await
        .map_err(|e| ApiError::unreadable_body(StatusCode::BAD_REQUEST, &e.to_string()))?;
    let text = String::from_utf8(bytes.to_vec()).map_err(|_| ApiError::bad_request("not_utf8", "the site file is not UTF-8 text"))?;
    let (file, base) = from_yaml(&text).map_err(|e| {
        let at = e.location().map(|at| format!("line {at}: ")).unwrap_or_default();
        let hint = e.hint().unwrap_or_else(|| "send a site file: `users`, `resources`, `rules`".to_owned());
        ApiError::bad_request("invalid_site", format!("{at}{}", e.message())).hint(hint)
    })?;
    let loaded = file.load(&base).map_err(|errors| {
        let lines = LineIndex::build(&text);
        let problems: Vec<String> = errors
            .iter()
            .map(|error| match lines.locate(&error.path) {
                Some(at) => format!("line {at}: {}", error.with_hint()),
                None => error.with_hint(),
            })
            .collect();
        ApiError::bad_request("invalid_site", problems.join("; ")).hint("fix every problem listed; nothing was stored")
    })?;
    let (n_users, n_resources, n_rules) = (loaded.site.users.len(), loaded.site.resources.len(), loaded.site.rules.len());
    let rule_names: Vec<&str> = loaded.site.rules.iter().map(|r| r.name.as_str()).collect();
    audit_site_change(
        &state,
        &caller,
        &name,
        json!({ "loaded": { "users": n_users, "resources": n_resources, "rules": rule_names } }),
    )
    .await?;
    caller.tenant.rule_sites.insert(name.clone(), Arc::new(loaded));
    Ok((
        StatusCode::OK,
        Json(json!({ "site": name, "users": n_users, "resources": n_resources, "rules": n_rules })),
    )
        .into_response())
}

/// Forgets a rule site.
#[utoipa::path(delete, path = "/v1/rules/sites/{name}", tag = "rules", params(("name" = String, Path, description = "Site name")), responses((status = 204, description = "Deleted"), (status = 403, description = "Needs TenantAdmin"), (status = 404, description = "No such site")), security(("bearer" = [])))]
pub(crate) async fn delete_site(State(state): State<RulesState>, ApiPath(name): ApiPath<String>, request: Request) -> Result<Response, ApiError> {
    let (caller, _) = caller(&state, request).await?;
    may_manage(&caller)?;
    let removed = caller.tenant.rule_sites.remove(&name);
    match removed {
        Some(_) => {
            audit_site_change(&state, &caller, &name, json!({ "deleted": true })).await?;
            Ok(StatusCode::NO_CONTENT.into_response())
        }
        None => Err(ApiError::not_found("unknown_site", format!("no rule site `{name}` in this tenant"))),
    }
}

/// A rule decision to make.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct CheckBody {
    /// `DIRECTORY\userId`.
    user: String,
    /// `read`, `update`, `export`, ...
    action: String,
    /// A resource id of the site.
    resource: String,
    /// `hub` or `qmc`.
    context: String,
}

/// `GET /v1/rules/sites`.
#[derive(utoipa::ToSchema)]
#[expect(dead_code, reason = "describes a response for the OpenAPI document; the handler writes it with json!")]
pub(crate) struct SiteList {
    /// The site names, sorted.
    sites: Vec<String>,
}

/// `PUT /v1/rules/sites/{name}`.
#[derive(utoipa::ToSchema)]
#[expect(dead_code, reason = "describes a response for the OpenAPI document; the handler writes it with json!")]
pub(crate) struct SiteLoaded {
    /// The site's name.
    site: String,
    /// How many users it holds.
    users: u64,
    /// How many resources.
    resources: u64,
    /// How many rules.
    rules: u64,
}

/// A rule decision's explanation.
#[derive(utoipa::ToSchema)]
#[expect(dead_code, reason = "describes a response for the OpenAPI document; the handler writes it with json!")]
pub(crate) struct RuleExplanation {
    /// `rule:<name>` for each granting rule, or `no-grant`.
    tokens: Vec<String>,
    /// The same in words.
    text: String,
}

/// `POST /v1/rules/sites/{name}/check`.
#[derive(utoipa::ToSchema)]
#[expect(dead_code, reason = "describes a response for the OpenAPI document; the handler writes it with json!")]
pub(crate) struct RuleDecision {
    /// `allow` or `deny`.
    decision: String,
    /// The same as a boolean.
    allowed: bool,
    /// Why.
    explanation: RuleExplanation,
}

/// A rule decision with its explanation: `{user: "DIR\\id", action, resource, context: hub|qmc}`.
#[utoipa::path(post, path = "/v1/rules/sites/{name}/check", tag = "rules", params(("name" = String, Path, description = "Site name")), request_body = CheckBody, responses((status = 200, description = "The decision and why", body = RuleDecision), (status = 400, description = "Unknown action or context"), (status = 403, description = "Needs decision:ask-others"), (status = 404, description = "Unknown site, user or resource")), security(("bearer" = [])))]
pub(crate) async fn check(State(state): State<RulesState>, ApiPath(name): ApiPath<String>, request: Request) -> Result<Response, ApiError> {
    let (caller, request) = caller(&state, request).await?;
    if !caller.may(&caller.tenant.view().snapshot, CloudAction::DecisionAskOthers) {
        return Err(ApiError::forbidden(
            "asking rule decisions needs `decision:ask-others` (TenantAdmin or the `evaluate-decisions-for-others` permission)",
        ));
    }
    let Json(body): Json<CheckBody> = Json::from_request(request, &()).await?;
    let site = caller
        .tenant
        .rule_sites
        .get(&name)
        .ok_or_else(|| ApiError::not_found("unknown_site", format!("no rule site `{name}` in this tenant")))?;
    let compiled = &site.compiled;
    let user = compiled.user(&body.user).ok_or_else(|| {
        ApiError::not_found("unknown_user", format!("unknown user `{}`", body.user))
            .hint("write users as DIRECTORY\\userId")
            .field("user")
    })?;
    let resource = compiled
        .resource(&body.resource)
        .ok_or_else(|| ApiError::not_found("unknown_resource", format!("unknown resource `{}`", body.resource)).field("resource"))?;
    let action = Action::parse(&body.action).map_err(|e| ApiError::bad_request("unknown_action", e.to_string()).hint(e.hint()).field("action"))?;
    let context = RequestContext::parse(&body.context).ok_or_else(|| {
        ApiError::bad_request("unknown_context", format!("unknown context `{}`", body.context))
            .hint("use `hub` or `qmc`")
            .field("context")
    })?;
    let decision = compiled.decide(user, resource, action, context);
    if matches!(body.action.to_ascii_lowercase().as_str(), "export" | "exportdata") {
        // Data leaves: always logged, allowed or denied, with the reasons of this moment.
        let resource_ref = ResourceRef {
            kind: format!("rule-site:{name}"),
            id: body.resource.clone(),
            space: None,
            owner: None,
        };
        let mut draft = EventDraft::change(
            EventType::RuleExportDecided,
            &caller.author(),
            body.action.to_ascii_lowercase(),
            Some(resource_ref),
            json!({ "user": body.user, "context": body.context }),
        );
        draft.decision = Some(decision.verdict().to_owned());
        draft.explanation = Some(json!({ "tokens": decision.tokens(), "text": decision.to_string() }));
        state.app.decision_log().store(caller.tenant.id, vec![draft]).await?;
    }
    Ok(Json(json!({
        "decision": decision.verdict(),
        "allowed": decision.allowed,
        "explanation": { "tokens": decision.tokens(), "text": decision.to_string() },
    }))
    .into_response())
}
