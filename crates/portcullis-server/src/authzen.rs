//! The OpenID AuthZEN Authorization API 1.0: `POST /access/v1/evaluation` and
//! `/access/v1/evaluations`, plus the PDP metadata at `/.well-known/authzen-configuration`,
//! so an AuthZEN-speaking gateway can use Portcullis as its decision point unchanged.
//!
//! Mapping: `subject {type: "user", id}` is the user; `action.name` a Portcullis action;
//! `resource.type` is `app`, `data-connection`, `space` or `tenant` (tenant-level actions;
//! its id is ignored); `context.via` the channel (default `api-key`). A request that cannot
//! be evaluated (unknown subject or resource) is a `false` decision whose context carries the
//! error, as AuthZEN asks of a PDP; a caller not allowed to ask gets 403.

use axum::Json;
use axum::extract::State;
use portcullis_engine::RawRequest;
use portcullis_model::{Action, Channel};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::ToSchema;

use crate::auth::Caller;
use crate::decision::decide_raw;
use crate::decision_log::DecisionEvents;
use crate::err::{ApiError, ErrorBody};
use crate::extract::{ApiJson, MinRevision};
use crate::state::{AppState, View};

/// An AuthZEN subject.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct Subject {
    /// Must be `user`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The user's id.
    pub id: String,
    /// Ignored.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub properties: Option<Value>,
}

/// An AuthZEN action.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct AzAction {
    /// A Portcullis action name, e.g. `app:read`.
    pub name: String,
    /// Ignored.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub properties: Option<Value>,
}

/// An AuthZEN resource.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct AzResource {
    /// `app`, `data-connection`, `space` or `tenant`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The resource id (ignored for `tenant`).
    #[serde(default)]
    pub id: Option<String>,
    /// Ignored.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub properties: Option<Value>,
}

/// One access evaluation request.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct EvaluationRequest {
    /// Who.
    pub subject: Subject,
    /// What.
    pub action: AzAction,
    /// On what.
    pub resource: AzResource,
    /// `{"via": "api-key" | "oauth:<client>" | "session", "minRevision": N}` (`minRevision`:
    /// decide at that tenant revision or later, as the `Portcullis-Min-Revision` header).
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub context: Option<Value>,
}

/// The consistency token of an AuthZEN request: `context.minRevision` (the revision a write
/// answered with), or the `Portcullis-Min-Revision` header.
fn context_min_revision(context: Option<&Value>) -> Result<Option<u64>, ApiError> {
    match context.and_then(|c| c.get("minRevision")) {
        None | Some(Value::Null) => Ok(None),
        Some(value) => value.as_u64().map(Some).ok_or_else(|| {
            ApiError::bad_request("bad_min_revision", "`context.minRevision` is not a revision number")
                .hint("send a revision a write answered with")
                .field("context.minRevision")
        }),
    }
}

/// One access evaluation response.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct EvaluationResponse {
    /// Allowed or not.
    pub decision: bool,
    /// `reason_admin`, `tokens` and `revision`; or `error`.
    #[schema(value_type = Object)]
    pub context: Value,
}

/// One evaluation of a batch: each part defaults to the request's top-level one.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
pub struct PartialEvaluation {
    /// Who.
    #[serde(default)]
    pub subject: Option<Subject>,
    /// What.
    #[serde(default)]
    pub action: Option<AzAction>,
    /// On what.
    #[serde(default)]
    pub resource: Option<AzResource>,
    /// Context.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub context: Option<Value>,
}

/// Many evaluations with shared defaults.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
pub struct EvaluationsRequest {
    /// Default subject.
    #[serde(default)]
    pub subject: Option<Subject>,
    /// Default action.
    #[serde(default)]
    pub action: Option<AzAction>,
    /// Default resource.
    #[serde(default)]
    pub resource: Option<AzResource>,
    /// Default context.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub context: Option<Value>,
    /// The evaluations (none = one evaluation of the defaults).
    #[serde(default)]
    pub evaluations: Option<Vec<PartialEvaluation>>,
    /// `{"evaluations_semantic": "execute_all" | "deny_on_first_deny" | "permit_on_first_permit"}`.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub options: Option<Value>,
}

/// The evaluations' responses, in order.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct EvaluationsResponse {
    /// One per evaluation (fewer when a short-circuit semantic stopped early).
    pub evaluations: Vec<EvaluationResponse>,
}

fn error_response(error: ApiError) -> EvaluationResponse {
    EvaluationResponse {
        decision: false,
        context: json!({ "error": error.body }),
    }
}

/// Evaluates one request on a view and adds its event to `events` as the tenant's policy says
/// (data-leaving actions always); `Err` only when the caller may not ask.
fn evaluate(
    events: &mut DecisionEvents,
    view: &View,
    caller: &Caller,
    subject: &Subject,
    action: &AzAction,
    resource: &AzResource,
    context: Option<&Value>,
) -> Result<EvaluationResponse, ApiError> {
    if subject.kind != "user" {
        return Ok(error_response(
            ApiError::bad_request("unknown_subject_type", format!("subject type `{}` is not known", subject.kind))
                .hint("use `user`")
                .field("subject.type"),
        ));
    }
    caller
        .check_may_ask_about(&view.snapshot, &subject.id)
        .map_err(|e| e.field("subject.id"))?;
    let Some(parsed) = Action::parse(&action.name) else {
        return Ok(error_response(
            ApiError::from(portcullis_engine::RequestError::UnknownAction(action.name.clone())).field("action.name"),
        ));
    };
    let wanted = parsed.resource_kind().type_name();
    if resource.kind != wanted {
        return Ok(error_response(
            ApiError::bad_request(
                "wrong_resource_type",
                format!("action `{parsed}` applies to a resource of type `{wanted}`, not `{}`", resource.kind),
            )
            .field("resource.type"),
        ));
    }
    let resource_id = if wanted == "tenant" { None } else { resource.id.as_deref() };
    let via = match crate::decision::channel_named(context.and_then(|c| c.get("via")).and_then(Value::as_str), &Channel::ApiKey) {
        Ok(via) => via,
        Err(error) => return Ok(error_response(error.field("context.via"))),
    };
    let raw = RawRequest {
        user: &subject.id,
        via: &via,
        action: &action.name,
        resource: resource_id,
    };
    Ok(match decide_raw(view, &raw, true) {
        Ok(decision) => {
            crate::decision::log_decision(events, caller, view, &raw, &decision);
            EvaluationResponse {
                decision: decision.allowed,
                context: json!({
                    "reason_admin": { "en": decision.explanation.sentence() },
                    "tokens": decision.explanation.tokens(),
                    "revision": view.snapshot.revision,
                }),
            }
        }
        Err(error) => error_response(ApiError::from(error)),
    })
}

/// One access evaluation.
#[utoipa::path(
    post, path = "/access/v1/evaluation", tag = "authzen",
    request_body = EvaluationRequest,
    params(("Portcullis-Min-Revision" = Option<u64>, Header, description = "Consistency token: answer at this tenant revision or later")),
    responses(
        (status = 200, description = "The decision", body = EvaluationResponse),
        (status = 400, description = "The body is not valid", body = ErrorBody),
        (status = 409, description = "minRevision not reached", body = ErrorBody),
        (status = 403, description = "The caller may not ask about this subject", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn evaluation(
    State(state): State<AppState>,
    caller: Caller,
    min: MinRevision,
    ApiJson(body): ApiJson<EvaluationRequest>,
) -> Result<Json<EvaluationResponse>, ApiError> {
    let min = min.or(context_min_revision(body.context.as_ref())?);
    let view = state.view_at_least(&caller.tenant, min).await?;
    let mut events = DecisionEvents::default();
    let response = evaluate(
        &mut events,
        &view,
        &caller,
        &body.subject,
        &body.action,
        &body.resource,
        body.context.as_ref(),
    )?;
    events.store(state.decision_log(), caller.tenant.id).await?;
    state
        .metrics()
        .record_decisions(u64::from(response.decision), u64::from(!response.decision));
    Ok(Json(response))
}

/// Many access evaluations on one snapshot.
#[utoipa::path(
    post, path = "/access/v1/evaluations", tag = "authzen",
    request_body = EvaluationsRequest,
    params(("Portcullis-Min-Revision" = Option<u64>, Header, description = "Consistency token: answer at this tenant revision or later")),
    responses(
        (status = 200, description = "The decisions, in order", body = EvaluationsResponse),
        (status = 400, description = "The body is not valid", body = ErrorBody),
        (status = 409, description = "minRevision not reached", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn evaluations(
    State(state): State<AppState>,
    caller: Caller,
    min: MinRevision,
    ApiJson(body): ApiJson<EvaluationsRequest>,
) -> Result<Json<EvaluationsResponse>, ApiError> {
    let min = min.or(context_min_revision(body.context.as_ref())?);
    let view = state.view_at_least(&caller.tenant, min).await?;
    let semantic = body
        .options
        .as_ref()
        .and_then(|o| o.get("evaluations_semantic"))
        .and_then(Value::as_str)
        .unwrap_or("execute_all");
    let stop_on = match semantic {
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
    let items = body.evaluations.clone().unwrap_or_else(|| vec![PartialEvaluation::default()]);
    let mut responses = Vec::with_capacity(items.len());
    let mut events = DecisionEvents::default();
    for (idx, item) in items.iter().enumerate() {
        let missing = |part: &str| {
            error_response(
                ApiError::bad_request("missing_part", format!("evaluation {idx} has no {part}, and the request no default one"))
                    .field(format!("evaluations[{idx}].{part}")),
            )
        };
        let response = match (
            item.subject.as_ref().or(body.subject.as_ref()),
            item.action.as_ref().or(body.action.as_ref()),
            item.resource.as_ref().or(body.resource.as_ref()),
        ) {
            (None, _, _) => missing("subject"),
            (_, None, _) => missing("action"),
            (_, _, None) => missing("resource"),
            (Some(subject), Some(action), Some(resource)) => {
                let context = item.context.as_ref().or(body.context.as_ref());
                evaluate(&mut events, &view, &caller, subject, action, resource, context)
                    .unwrap_or_else(|e| error_response(e.within(&format!("evaluations[{idx}]"))))
            }
        };
        let decision = response.decision;
        state.metrics().record_decisions(u64::from(decision), u64::from(!decision));
        responses.push(response);
        if stop_on == Some(decision) {
            break;
        }
    }
    events.store(state.decision_log(), caller.tenant.id).await?;
    Ok(Json(EvaluationsResponse { evaluations: responses }))
}

/// The PDP's AuthZEN metadata.
#[utoipa::path(get, path = "/.well-known/authzen-configuration", tag = "authzen", responses((status = 200, description = "Metadata", body = Object)))]
pub async fn configuration(State(state): State<AppState>, headers: axum::http::HeaderMap) -> Json<Value> {
    let base = state.config().public_origin(&headers);
    Json(json!({
        "policy_decision_point": base,
        "access_evaluation_endpoint": format!("{base}/access/v1/evaluation"),
        "access_evaluations_endpoint": format!("{base}/access/v1/evaluations"),
    }))
}
