//! The OpenID AuthZEN Authorization API 1.0: access evaluation (`POST /access/v1/evaluation`),
//! access evaluations (`/access/v1/evaluations`, every `options.evaluations_semantic`),
//! subject, resource and action search (`/access/v1/search/{subject,resource,action}`, with
//! the specification's pagination) and the PDP metadata at `/.well-known/authzen-configuration`,
//! so an AuthZEN-speaking application or gateway can use Portcullis as its decision point.
//!
//! **Which model answers.** A tenant's requests are answered from its Qlik Cloud model
//! ([`qlik`]), unless the server was told to answer them from one of the tenant's
//! security-rule sites ([`crate::ServerConfig::authzen_sites`], `--authzen-site
//! TENANT/SITE`; [`site`]), which is how any application's policy is served: written as a
//! site, its users and resources being the information point.
//!
//! **Errors.** A body that is not an AuthZEN request, or lacks a required part (`subject.type`,
//! `subject.id`, `action.name`, `resource.type`, `resource.id`; a search's entity id excepted),
//! is 400; a caller who may not ask about the subject is 403; a bound site missing or not
//! compiling on this node is 500. An evaluation of a subject, action or resource the model
//! does not know is `decision: false` with the error (and its HTTP status) in its context,
//! per evaluation in a batch; a search for one answers no results.
//!
//! **Explanations.** A single evaluation's context always says why (`reason_admin`, `tokens`,
//! and the revision decided at). Evaluations and searches say it per decision and per result
//! when asked (`options.explain: true`); otherwise they answer the specification's bare shapes
//! (`{decision}`, `{type, id}`, `{name}`), which the working group's interop runners compare
//! whole.

pub mod page;
mod qlik;
mod site;

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::HeaderMap;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use utoipa::ToSchema;

use crate::auth::Caller;
use crate::decision_log::DecisionEvents;
use crate::err::{ApiError, ErrorBody};
use crate::extract::{ApiJson, MinRevision};
use crate::rules_api::{self, HeldSite};
use crate::state::{AppState, View};
use page::{PageRequest, PageResponse, Paging};

/// An AuthZEN subject or resource.
#[derive(Debug, Clone, Default, Deserialize, Serialize, ToSchema)]
pub struct Entity {
    /// Its type. Qlik model: a subject is a `user`; a resource is an `app`, `data-connection`,
    /// `space` or `tenant`. Rule site: a subject's type is its user directory; a resource's
    /// type is its type in the site.
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// Its id (a search leaves out the id of what it searches for).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Attributes. Read for a rule site's resources of a type the site holds none of (the
    /// request describes them); otherwise ignored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub properties: Option<Map<String, Value>>,
}

/// An AuthZEN action.
#[derive(Debug, Clone, Default, Deserialize, Serialize, ToSchema)]
pub struct AzAction {
    /// Qlik model: a Portcullis action, e.g. `app:read`. Rule site: a name of the site's
    /// `authzen.actions`, or a rule-language action (`read`, `update`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Ignored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub properties: Option<Value>,
}

/// One access evaluation request.
#[derive(Debug, Clone, Default, Deserialize, Serialize, ToSchema)]
pub struct EvaluationRequest {
    /// Who.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<Entity>,
    /// What.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<AzAction>,
    /// On what.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource: Option<Entity>,
    /// The environment. Qlik model: `via` (`api-key`, the default; `oauth:<client>`;
    /// `session`) and `minRevision` (decide at that tenant revision or later, as the
    /// `Portcullis-Min-Revision` header). Rule site: `ruleContext` (`hub`, the default, or
    /// `qmc`) and `minSiteRevision` (as the `Portcullis-Min-Site-Revision` header).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub context: Option<Map<String, Value>>,
}

/// One access evaluation response.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct EvaluationResponse {
    /// Allowed or not.
    pub decision: bool,
    /// Why: `reason_admin` (`{"en": text}`), `tokens` and the revision decided at
    /// (`revision`, or `site` and `site_revision`); or `error` (`code`, `message`, `hint`,
    /// `field`, `status`) when the request could not be evaluated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub context: Option<Map<String, Value>>,
}

impl EvaluationResponse {
    /// A decision, with its reasons when there are some.
    pub(crate) fn new(decision: bool, because: Option<Map<String, Value>>) -> EvaluationResponse {
        EvaluationResponse { decision, context: because }
    }

    /// A request that could not be evaluated: closed, with the error in the context.
    pub(crate) fn error(error: ApiError) -> EvaluationResponse {
        let mut body = serde_json::to_value(&error.body).unwrap_or_default();
        if let Value::Object(map) = &mut body {
            map.insert("status".into(), error.status.as_u16().into());
        }
        let mut context = Map::new();
        context.insert("error".into(), body);
        EvaluationResponse {
            decision: false,
            context: Some(context),
        }
    }
}

/// `options` of an evaluations or search request.
#[derive(Debug, Clone, Default, Deserialize, Serialize, ToSchema)]
pub struct Options {
    /// Evaluations only: `execute_all` (the default), `deny_on_first_deny` or `permit_on_first_permit`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evaluations_semantic: Option<String>,
    /// Give each decision's or result's reasons in its `context` (default false).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub explain: Option<bool>,
}

/// Many evaluations with shared defaults.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
pub struct EvaluationsRequest {
    /// Default subject.
    #[serde(default)]
    pub subject: Option<Entity>,
    /// Default action.
    #[serde(default)]
    pub action: Option<AzAction>,
    /// Default resource.
    #[serde(default)]
    pub resource: Option<Entity>,
    /// Default context.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub context: Option<Map<String, Value>>,
    /// The evaluations; each key it gives replaces the default. None or empty: one
    /// evaluation of the defaults.
    #[serde(default)]
    pub evaluations: Option<Vec<EvaluationRequest>>,
    /// How to run them, and whether to explain.
    #[serde(default)]
    pub options: Option<Options>,
}

/// The evaluations' responses, in order.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct EvaluationsResponse {
    /// One per evaluation (fewer when a short-circuit semantic stopped early).
    pub evaluations: Vec<EvaluationResponse>,
}

/// A subject, resource or action search.
#[derive(Debug, Clone, Default, Deserialize, Serialize, ToSchema)]
pub struct SearchRequest {
    /// The subject: its type (a subject search ignores its id).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<Entity>,
    /// The action (none for an action search).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<AzAction>,
    /// The resource: its type (and id, but for a resource search).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource: Option<Entity>,
    /// The environment, as for an evaluation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub context: Option<Map<String, Value>>,
    /// Which page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub page: Option<PageRequest>,
    /// `explain`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub options: Option<Options>,
}

/// A subject or resource found by a search.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct FoundEntity {
    /// The type searched for.
    #[serde(rename = "type")]
    pub kind: String,
    /// Its id.
    pub id: String,
    /// With `options.explain`: why it was found (`reason_admin`, `tokens`).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub context: Option<Map<String, Value>>,
}

/// An action found by a search.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct FoundAction {
    /// Its name.
    pub name: String,
    /// With `options.explain`: why it was found (`reason_admin`, `tokens`).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub context: Option<Map<String, Value>>,
}

/// The answer to a subject or resource search.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct EntitySearchResponse {
    /// Present when the request had a `page`, or more results follow.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub page: Option<PageResponse>,
    /// The subjects or resources found, in the model's order.
    pub results: Vec<FoundEntity>,
}

/// The answer to an action search.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ActionSearchResponse {
    /// Present when the request had a `page`, or more results follow.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub page: Option<PageResponse>,
    /// The actions found.
    pub results: Vec<FoundAction>,
}

/// The PDP metadata.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Configuration {
    /// The PDP's identifier: the public origin.
    pub policy_decision_point: String,
    /// `POST` one evaluation.
    pub access_evaluation_endpoint: String,
    /// `POST` evaluations.
    pub access_evaluations_endpoint: String,
    /// `POST` a subject search.
    pub search_subject_endpoint: String,
    /// `POST` a resource search.
    pub search_resource_endpoint: String,
    /// `POST` an action search.
    pub search_action_endpoint: String,
}

/// A subject or resource of one question, checked: type and id present.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Named<'a> {
    pub kind: &'a str,
    pub id: &'a str,
    pub properties: Option<&'a Map<String, Value>>,
}

/// One evaluation's question, checked.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Question<'a> {
    pub subject: Named<'a>,
    pub action: &'a str,
    pub resource: Named<'a>,
    pub context: Option<&'a Map<String, Value>>,
}

fn missing(field: &str) -> ApiError {
    ApiError::bad_request("missing_part", format!("the request has no `{field}`"))
        .hint("an AuthZEN request names a subject (type, id), an action (name) and a resource (type, id)")
        .field(field)
}

fn required<'a>(value: Option<&'a String>, field: &str) -> Result<&'a str, ApiError> {
    value.map(String::as_str).ok_or_else(|| missing(field))
}

impl<'a> Named<'a> {
    fn read(entity: Option<&'a Entity>, part: &str) -> Result<Named<'a>, ApiError> {
        let entity = entity.ok_or_else(|| missing(part))?;
        Ok(Named {
            kind: required(entity.kind.as_ref(), &format!("{part}.type"))?,
            id: required(entity.id.as_ref(), &format!("{part}.id"))?,
            properties: entity.properties.as_ref(),
        })
    }
}

impl<'a> Question<'a> {
    fn read(
        subject: Option<&'a Entity>,
        action: Option<&'a AzAction>,
        resource: Option<&'a Entity>,
        context: Option<&'a Map<String, Value>>,
    ) -> Result<Question<'a>, ApiError> {
        Ok(Question {
            subject: Named::read(subject, "subject")?,
            action: required(action.ok_or_else(|| missing("action"))?.name.as_ref(), "action.name")?,
            resource: Named::read(resource, "resource")?,
            context,
        })
    }
}

/// A number in the request's context (`minRevision`), if given.
fn context_number(context: Option<&Map<String, Value>>, key: &str) -> Result<Option<u64>, ApiError> {
    match context.and_then(|c| c.get(key)) {
        None | Some(Value::Null) => Ok(None),
        Some(value) => value.as_u64().map(Some).ok_or_else(|| {
            ApiError::bad_request("bad_min_revision", format!("`context.{key}` is not a revision number"))
                .hint("send a revision a write answered with")
                .field(format!("context.{key}"))
        }),
    }
}

/// A string in the request's context (`via`, `ruleContext`), if given.
fn context_text<'a>(context: Option<&'a Map<String, Value>>, key: &str) -> Result<Option<&'a str>, ApiError> {
    match context.and_then(|c| c.get(key)) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) => Ok(Some(text)),
        Some(_) => Err(ApiError::bad_request("bad_context", format!("`context.{key}` is not a string")).field(format!("context.{key}"))),
    }
}

/// `reason_admin` and `tokens`, the explanation's shape in every answer.
fn because(text: String, tokens: Vec<String>) -> Map<String, Value> {
    let mut context = Map::new();
    context.insert("reason_admin".into(), json!({ "en": text }));
    context.insert("tokens".into(), json!(tokens));
    context
}

/// A rule site that answers a tenant's AuthZEN requests, as this node holds it.
pub(crate) struct BoundSite {
    name: String,
    held: Arc<HeldSite>,
}

/// The model that answers a request.
enum Model {
    Qlik(Arc<View>),
    Site(BoundSite),
}

impl Model {
    /// The caller's tenant's model, at the revision the request asks for at least.
    async fn read(state: &AppState, caller: &Caller, headers: &HeaderMap, context: Option<&Map<String, Value>>) -> Result<Model, ApiError> {
        let Some(name) = state.config().authzen_sites.get(&caller.tenant.name) else {
            let min = MinRevision::from_headers(headers)?.or(context_number(context, "minRevision")?);
            return Ok(Model::Qlik(state.view_at_least(&caller.tenant, min).await?));
        };
        let min = rules_api::min_site_revision(headers)?.max(context_number(context, "minSiteRevision")?);
        rules_api::sites_at_least(state, caller, min).await?;
        let held = caller.tenant.rule_sites.get(name).ok_or_else(|| {
            ApiError::new(
                axum::http::StatusCode::INTERNAL_SERVER_ERROR,
                "authzen_site_missing",
                format!("this tenant answers AuthZEN from the rule site `{name}`, which it does not hold"),
            )
            .hint(format!("store the site: `PUT /v1/rules/sites/{name}`, or `portcullis serve --rule-site`"))
        })?;
        Ok(Model::Site(BoundSite { name: name.clone(), held }))
    }

    fn evaluate(&self, asking: &mut Asking<'_>, question: &Question<'_>, explain: bool) -> Result<EvaluationResponse, ApiError> {
        match self {
            Model::Qlik(view) => qlik::evaluate(asking, view, question, explain),
            Model::Site(site) => site::evaluate(asking, site, question, explain),
        }
    }
}

/// What the evaluations of one request share: who asks, whether they may ask about others
/// (asked once), the decisions' events, and counts for the metrics.
pub(crate) struct Asking<'c> {
    caller: &'c Caller,
    may_ask_others: Option<bool>,
    events: DecisionEvents,
    allowed: u64,
    denied: u64,
}

impl<'c> Asking<'c> {
    fn new(caller: &'c Caller) -> Asking<'c> {
        Asking {
            caller,
            may_ask_others: None,
            events: DecisionEvents::default(),
            allowed: 0,
            denied: 0,
        }
    }

    /// 403 unless the caller may ask about users other than itself (asked once a request).
    fn require_ask_others(&mut self) -> Result<(), ApiError> {
        let caller = self.caller;
        let may = *self
            .may_ask_others
            .get_or_insert_with(|| caller.may(&caller.tenant.view().snapshot, portcullis_model::Action::DecisionAskOthers));
        if may {
            Ok(())
        } else {
            Err(ApiError::forbidden("asking about other users needs the right to ask about them")
                .hint("the role TenantAdmin, or a custom role with `evaluate-decisions-for-others: allowed`"))
        }
    }

    fn counted(&mut self, allowed: bool) {
        if allowed {
            self.allowed += 1;
        } else {
            self.denied += 1;
        }
    }

    /// Stores the decisions' events (the data-leaving ones before the answer) and counts them.
    async fn finish(self, state: &AppState) -> Result<(), ApiError> {
        let tenant = self.caller.tenant.id;
        self.events.store(state.decision_log(), tenant).await?;
        state.metrics().record_decisions(self.allowed, self.denied);
        Ok(())
    }
}

/// One access evaluation.
#[utoipa::path(
    post, path = "/access/v1/evaluation", tag = "authzen",
    request_body = EvaluationRequest,
    params(
        ("Portcullis-Min-Revision" = Option<u64>, Header, description = "Qlik model: answer at this tenant revision or later"),
        ("Portcullis-Min-Site-Revision" = Option<u64>, Header, description = "Rule site: answer with the rule sites at this revision or later"),
    ),
    responses(
        (status = 200, description = "The decision and why", body = EvaluationResponse),
        (status = 400, description = "The body is not valid, or lacks a part", body = ErrorBody),
        (status = 403, description = "The caller may not ask about this subject", body = ErrorBody),
        (status = 409, description = "The revision asked for is not reached", body = ErrorBody),
        (status = 500, description = "The rule site this tenant answers from is missing or does not compile", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn evaluation(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    ApiJson(body): ApiJson<EvaluationRequest>,
) -> Result<Json<EvaluationResponse>, ApiError> {
    let question = Question::read(body.subject.as_ref(), body.action.as_ref(), body.resource.as_ref(), body.context.as_ref())?;
    let model = Model::read(&state, &caller, &headers, body.context.as_ref()).await?;
    let mut asking = Asking::new(&caller);
    let response = model.evaluate(&mut asking, &question, true)?;
    asking.counted(response.decision);
    asking.finish(&state).await?;
    Ok(Json(response))
}

/// Many access evaluations on one revision of the model.
#[utoipa::path(
    post, path = "/access/v1/evaluations", tag = "authzen",
    request_body = EvaluationsRequest,
    params(
        ("Portcullis-Min-Revision" = Option<u64>, Header, description = "Qlik model: answer at this tenant revision or later"),
        ("Portcullis-Min-Site-Revision" = Option<u64>, Header, description = "Rule site: answer with the rule sites at this revision or later"),
    ),
    responses(
        (status = 200, description = "The decisions, in order", body = EvaluationsResponse),
        (status = 400, description = "The body is not valid", body = ErrorBody),
        (status = 409, description = "The revision asked for is not reached", body = ErrorBody),
        (status = 500, description = "The rule site this tenant answers from is missing or does not compile", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn evaluations(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    ApiJson(body): ApiJson<EvaluationsRequest>,
) -> Result<Json<EvaluationsResponse>, ApiError> {
    let options = body.options.clone().unwrap_or_default();
    let stop_on = match options.evaluations_semantic.as_deref().unwrap_or("execute_all") {
        "execute_all" => None,
        "deny_on_first_deny" => Some(false),
        "permit_on_first_permit" => Some(true),
        other => {
            return Err(
                ApiError::bad_request("unknown_semantic", format!("unknown evaluations_semantic `{other}`"))
                    .hint("use execute_all, deny_on_first_deny or permit_on_first_permit")
                    .field("options.evaluations_semantic"),
            );
        }
    };
    let explain = options.explain.unwrap_or(false);
    let model = Model::read(&state, &caller, &headers, body.context.as_ref()).await?;
    let defaults = EvaluationRequest {
        subject: body.subject.clone(),
        action: body.action.clone(),
        resource: body.resource.clone(),
        context: body.context.clone(),
    };
    let items = match &body.evaluations {
        Some(items) if !items.is_empty() => items.as_slice(),
        _ => std::slice::from_ref(&defaults),
    };
    let mut asking = Asking::new(&caller);
    let mut responses = Vec::with_capacity(items.len());
    for (idx, item) in items.iter().enumerate() {
        let within = |error: ApiError| EvaluationResponse::error(error.within(&format!("evaluations[{idx}]")));
        let question = Question::read(
            item.subject.as_ref().or(defaults.subject.as_ref()),
            item.action.as_ref().or(defaults.action.as_ref()),
            item.resource.as_ref().or(defaults.resource.as_ref()),
            item.context.as_ref().or(defaults.context.as_ref()),
        );
        let response = match question {
            Ok(question) => model.evaluate(&mut asking, &question, explain).unwrap_or_else(within),
            Err(error) => within(error),
        };
        let decision = response.decision;
        asking.counted(decision);
        responses.push(response);
        if stop_on == Some(decision) {
            break;
        }
    }
    asking.finish(&state).await?;
    Ok(Json(EvaluationsResponse { evaluations: responses }))
}

/// What a search found: each result's position in the model's order, the id it is shown by,
/// the key a page token resumes after, and why when asked.
pub(crate) struct Hit {
    position: usize,
    id: String,
    key: String,
    because: Option<Map<String, Value>>,
}

/// A search's page of results, and whether more follow.
#[derive(Default)]
pub(crate) struct Found {
    hits: Vec<Hit>,
    more: bool,
}

impl Found {
    /// No result: the search names something the model does not know.
    fn none() -> Found {
        Found::default()
    }

    fn page(&self, paging: &Paging) -> Option<PageResponse> {
        let last = self.hits.last().map(|hit| (hit.key.as_str(), hit.position));
        paging.response(self.hits.len(), self.more, last)
    }
}

/// The three searches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SearchKind {
    Subject,
    Resource,
    Action,
}

impl SearchKind {
    fn name(self) -> &'static str {
        match self {
            SearchKind::Subject => "subject",
            SearchKind::Resource => "resource",
            SearchKind::Action => "action",
        }
    }
}

/// What a search asks, checked.
pub(crate) struct Search<'a> {
    subject: &'a Entity,
    action: Option<&'a str>,
    resource: &'a Entity,
    context: Option<&'a Map<String, Value>>,
    paging: Paging,
    explain: bool,
}

impl<'a> Search<'a> {
    /// Reads a search request: `subject.type` and `resource.type` are required, and so are the
    /// parts of the entities not searched for: `action.name` (but in an action search),
    /// `subject.id` (but in a subject search), `resource.id` (but in a resource search).
    fn read(kind: SearchKind, body: &'a SearchRequest) -> Result<Search<'a>, ApiError> {
        let subject = body.subject.as_ref().ok_or_else(|| missing("subject"))?;
        let resource = body.resource.as_ref().ok_or_else(|| missing("resource"))?;
        required(subject.kind.as_ref(), "subject.type")?;
        required(resource.kind.as_ref(), "resource.type")?;
        if kind != SearchKind::Subject {
            required(subject.id.as_ref(), "subject.id")?;
        }
        if kind != SearchKind::Resource {
            required(resource.id.as_ref(), "resource.id")?;
        }
        let action = match kind {
            SearchKind::Action => None,
            SearchKind::Subject | SearchKind::Resource => Some(required(
                body.action.as_ref().ok_or_else(|| missing("action"))?.name.as_ref(),
                "action.name",
            )?),
        };
        let mut query = serde_json::to_value(body).unwrap_or_default();
        if let Some(page) = query.get_mut("page").and_then(Value::as_object_mut) {
            page.remove("token");
        }
        query["search"] = kind.name().into();
        Ok(Search {
            subject,
            action,
            resource,
            context: body.context.as_ref(),
            paging: Paging::read(body.page.as_ref(), &query)?,
            explain: body.options.as_ref().and_then(|o| o.explain).unwrap_or(false),
        })
    }

    fn named(entity: &'a Entity) -> Named<'a> {
        Named {
            kind: entity.kind.as_deref().unwrap_or_default(),
            id: entity.id.as_deref().unwrap_or_default(),
            properties: entity.properties.as_ref(),
        }
    }
}

/// Who may take an action on a resource: every subject of the type, a page at a time.
#[utoipa::path(
    post, path = "/access/v1/search/subject", tag = "authzen",
    request_body = SearchRequest,
    params(
        ("Portcullis-Min-Revision" = Option<u64>, Header, description = "Qlik model: answer at this tenant revision or later"),
        ("Portcullis-Min-Site-Revision" = Option<u64>, Header, description = "Rule site: answer with the rule sites at this revision or later"),
    ),
    responses(
        (status = 200, description = "One page of subjects", body = EntitySearchResponse),
        (status = 400, description = "The body is not valid, lacks a part, or its page token is not this search's", body = ErrorBody),
        (status = 403, description = "The caller may not ask about other users", body = ErrorBody),
        (status = 409, description = "The revision asked for is not reached", body = ErrorBody),
        (status = 500, description = "The rule site this tenant answers from is missing or does not compile", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn search_subject(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    ApiJson(body): ApiJson<SearchRequest>,
) -> Result<Json<EntitySearchResponse>, ApiError> {
    let search = Search::read(SearchKind::Subject, &body)?;
    let model = Model::read(&state, &caller, &headers, search.context).await?;
    let mut asking = Asking::new(&caller);
    asking.require_ask_others()?;
    let found = match &model {
        Model::Qlik(view) => qlik::subjects(view, &search)?,
        Model::Site(site) => site::subjects(site, &search)?,
    };
    Ok(Json(entities(found, &search, search.subject)))
}

/// What a subject may take an action on: every resource of the type, a page at a time.
#[utoipa::path(
    post, path = "/access/v1/search/resource", tag = "authzen",
    request_body = SearchRequest,
    params(
        ("Portcullis-Min-Revision" = Option<u64>, Header, description = "Qlik model: answer at this tenant revision or later"),
        ("Portcullis-Min-Site-Revision" = Option<u64>, Header, description = "Rule site: answer with the rule sites at this revision or later"),
    ),
    responses(
        (status = 200, description = "One page of resources", body = EntitySearchResponse),
        (status = 400, description = "The body is not valid, lacks a part, or its page token is not this search's", body = ErrorBody),
        (status = 403, description = "The caller may not ask about this subject", body = ErrorBody),
        (status = 409, description = "The revision asked for is not reached", body = ErrorBody),
        (status = 500, description = "The rule site this tenant answers from is missing or does not compile", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn search_resource(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    ApiJson(body): ApiJson<SearchRequest>,
) -> Result<Json<EntitySearchResponse>, ApiError> {
    let search = Search::read(SearchKind::Resource, &body)?;
    let model = Model::read(&state, &caller, &headers, search.context).await?;
    let found = match &model {
        Model::Qlik(view) => qlik::resources(&caller, view, &search)?,
        Model::Site(site) => {
            Asking::new(&caller).require_ask_others()?;
            site::resources(site, &search)?
        }
    };
    Ok(Json(entities(found, &search, search.resource)))
}

/// What a subject may do on a resource.
#[utoipa::path(
    post, path = "/access/v1/search/action", tag = "authzen",
    request_body = SearchRequest,
    params(
        ("Portcullis-Min-Revision" = Option<u64>, Header, description = "Qlik model: answer at this tenant revision or later"),
        ("Portcullis-Min-Site-Revision" = Option<u64>, Header, description = "Rule site: answer with the rule sites at this revision or later"),
    ),
    responses(
        (status = 200, description = "One page of actions", body = ActionSearchResponse),
        (status = 400, description = "The body is not valid, lacks a part, or its page token is not this search's", body = ErrorBody),
        (status = 403, description = "The caller may not ask about this subject", body = ErrorBody),
        (status = 409, description = "The revision asked for is not reached", body = ErrorBody),
        (status = 500, description = "The rule site this tenant answers from is missing or does not compile", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn search_action(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    ApiJson(body): ApiJson<SearchRequest>,
) -> Result<Json<ActionSearchResponse>, ApiError> {
    let search = Search::read(SearchKind::Action, &body)?;
    let model = Model::read(&state, &caller, &headers, search.context).await?;
    let found = match &model {
        Model::Qlik(view) => qlik::actions(&caller, view, &search)?,
        Model::Site(site) => {
            Asking::new(&caller).require_ask_others()?;
            site::actions(site, &search)?
        }
    };
    let page = found.page(&search.paging);
    let results = found
        .hits
        .into_iter()
        .map(|hit| FoundAction {
            name: hit.id,
            context: hit.because,
        })
        .collect();
    Ok(Json(ActionSearchResponse { page, results }))
}

/// A subject or resource search's answer: the hits as entities of the type searched for.
fn entities(found: Found, search: &Search<'_>, of: &Entity) -> EntitySearchResponse {
    let page = found.page(&search.paging);
    let kind = of.kind.clone().unwrap_or_default();
    let results = found
        .hits
        .into_iter()
        .map(|hit| FoundEntity {
            kind: kind.clone(),
            id: hit.id,
            context: hit.because,
        })
        .collect();
    EntitySearchResponse { page, results }
}

/// The PDP's AuthZEN metadata: every endpoint, under the configured public URL.
#[utoipa::path(get, path = "/.well-known/authzen-configuration", tag = "authzen", responses((status = 200, description = "Metadata", body = Configuration)))]
pub async fn configuration(State(state): State<AppState>, headers: HeaderMap) -> Json<Configuration> {
    let base = state.config().public_origin(&headers);
    Json(Configuration {
        access_evaluation_endpoint: format!("{base}/access/v1/evaluation"),
        access_evaluations_endpoint: format!("{base}/access/v1/evaluations"),
        search_subject_endpoint: format!("{base}/access/v1/search/subject"),
        search_resource_endpoint: format!("{base}/access/v1/search/resource"),
        search_action_endpoint: format!("{base}/access/v1/search/action"),
        policy_decision_point: base,
    })
}
