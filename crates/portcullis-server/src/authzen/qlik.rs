//! AuthZEN on the Qlik Cloud model: `subject {type: "user", id}` is a user of the tenant;
//! `action.name` a Portcullis action (`app:exportdata`); `resource.type` is `app`,
//! `data-connection`, `space` or `tenant` (tenant-level actions; its id is not read);
//! `context.via` the channel (`api-key` by default, `oauth:<client>`, `session`).
//!
//! Searches read the engine's indexes rather than deciding for every candidate: who may act
//! on a resource is decided among its candidate users only ([`candidate_users`]: owners,
//! members, sharees, administrators); what a user may act on comes from the listing path
//! ([`permitted_content`]); every result is still a decision of `decide` (or equal to one,
//! which the engine's property tests check). A session's rights were frozen at its login,
//! so a subject search through `via: session` decides for every user.

use portcullis_engine::{
    Channel, ClientIdx, Decision, RawRequest, Request, Resource, SpaceIdx, UserIdx, allows, candidate_users, decide, permitted_content,
    resolve_resource,
};
use portcullis_model::{Action, ResourceKind};
use serde_json::{Map, Value};

use super::page::collect;
use super::{Asking, EvaluationResponse, Found, Hit, Question, Search, because, context_text};
use crate::decision::{channel_named, decide_raw, log_decision, session};
use crate::err::ApiError;
use crate::state::View;

/// Renames the decision API's field names to the AuthZEN request's.
fn authzen_field(mut error: ApiError) -> ApiError {
    error.body.field = error.body.field.map(|field| {
        match field.as_str() {
            "user" => "subject.id",
            "resource" => "resource.id",
            "action" => "action.name",
            "via" => "context.via",
            other => other,
        }
        .to_owned()
    });
    error
}

/// A decision's reasons and the revision it was made at.
fn reasons(decision: &Decision, revision: u64) -> Map<String, Value> {
    let mut context = because(decision.explanation.sentence(), decision.explanation.tokens());
    context.insert("revision".into(), revision.into());
    context
}

/// The channel `context.via` names (an API key when it names none).
fn channel(context: Option<&Map<String, Value>>) -> Result<Channel, ApiError> {
    let via = context_text(context, "via")?;
    Ok(channel_named(via, &Channel::ApiKey).map_err(|e| e.field("context.via"))?.into_owned())
}

/// The resource kind of an AuthZEN resource type.
fn kind_named(type_name: &str) -> Option<ResourceKind> {
    [ResourceKind::Tenant, ResourceKind::Space, ResourceKind::App, ResourceKind::DataConnection]
        .into_iter()
        .find(|kind| kind.type_name() == type_name)
}

/// One evaluation; `Err` only when the caller may not ask about the subject.
pub(super) fn evaluate(asking: &mut Asking<'_>, view: &View, question: &Question<'_>, explain: bool) -> Result<EvaluationResponse, ApiError> {
    let Question {
        subject,
        action,
        resource,
        context,
    } = *question;
    if subject.kind != "user" {
        return Ok(EvaluationResponse::error(
            ApiError::bad_request("unknown_subject_type", format!("subject type `{}` is not known", subject.kind))
                .hint("use `user`")
                .field("subject.type"),
        ));
    }
    asking
        .caller
        .check_may_ask_about(&view.snapshot, subject.id)
        .map_err(|e| e.field("subject.id"))?;
    let Some(parsed) = Action::parse(action) else {
        return Ok(EvaluationResponse::error(authzen_field(
            portcullis_engine::RequestError::UnknownAction(action.to_owned()).into(),
        )));
    };
    let wanted = parsed.resource_kind().type_name();
    if resource.kind != wanted {
        return Ok(EvaluationResponse::error(
            ApiError::bad_request(
                "wrong_resource_type",
                format!("action `{parsed}` applies to a resource of type `{wanted}`, not `{}`", resource.kind),
            )
            .field("resource.type"),
        ));
    }
    let via = match channel(context) {
        Ok(via) => via,
        Err(error) => return Ok(EvaluationResponse::error(error)),
    };
    let raw = RawRequest {
        user: subject.id,
        via: &via,
        action,
        resource: (wanted != "tenant").then_some(resource.id),
    };
    Ok(match decide_raw(view, &raw, explain) {
        Ok(decision) => {
            log_decision(&mut asking.events, asking.caller, view, &raw, &decision);
            EvaluationResponse::new(decision.allowed, explain.then(|| reasons(&decision, view.snapshot.revision)))
        }
        Err(error) => EvaluationResponse::error(authzen_field(error.into())),
    })
}

/// The explained decision behind a search result.
fn explained(view: &View, user: UserIdx, channel: Channel<ClientIdx>, action: Action, resource: Resource) -> Map<String, Value> {
    let request = Request {
        user,
        channel,
        session: session(view, user, channel),
        action,
        resource,
        explain: true,
    };
    reasons(&decide(&view.snapshot, &request), view.snapshot.revision)
}

/// The channel of a search, its client looked up; `None` for a client the tenant does not have.
fn search_channel(view: &View, search: &Search<'_>) -> Result<Option<Channel<ClientIdx>>, ApiError> {
    Ok(channel(search.context)?
        .try_map_client(|client| view.snapshot.client_idx(client).ok_or(()))
        .ok())
}

/// Who may take the action on the resource: the users among its candidates, in snapshot order.
pub(super) fn subjects(view: &View, search: &Search<'_>) -> Result<Found, ApiError> {
    let snapshot = &view.snapshot;
    let resource = Search::named(search.resource);
    let Some(channel) = search_channel(view, search)? else {
        return Ok(Found::none());
    };
    let Some(action) = search.action.and_then(Action::parse) else {
        return Ok(Found::none());
    };
    if search.subject.kind.as_deref() != Some("user") || kind_named(resource.kind) != Some(action.resource_kind()) {
        return Ok(Found::none());
    }
    let id = (action.resource_kind() != ResourceKind::Tenant).then_some(resource.id);
    let Ok(resource) = resolve_resource(snapshot, action, id) else {
        return Ok(Found::none());
    };
    let candidates: Box<dyn Iterator<Item = UserIdx>> = match (channel, candidate_users(snapshot, resource)) {
        (Channel::ApiKey | Channel::OAuth(_), Some(candidates)) => Box::new(candidates.into_iter()),
        _ => Box::new(snapshot.users.iter().map(|(idx, _)| UserIdx(idx as u32))),
    };
    let start = search.paging.start(|id| snapshot.user_idx(id).map(|u| u.0 as usize));
    let (found, more) = collect(candidates.map(|user| (user.0 as usize, user)), start, search.paging.limit, |user| {
        allows(snapshot, *user, channel, session(view, *user, channel), action, resource)
    });
    let hits = found
        .into_iter()
        .map(|(position, user)| {
            let id = snapshot.user(user).id.to_string();
            Hit {
                position,
                key: id.clone(),
                id,
                because: search.explain.then(|| explained(view, user, channel, action, resource)),
            }
        })
        .collect();
    Ok(Found { hits, more })
}

/// What the user may take the action on: spaces or items in snapshot order, or the tenant.
pub(super) fn resources(caller: &crate::auth::Caller, view: &View, search: &Search<'_>) -> Result<Found, ApiError> {
    let snapshot = &view.snapshot;
    let subject = Search::named(search.subject);
    caller.check_may_ask_about(snapshot, subject.id).map_err(|e| e.field("subject.id"))?;
    let Some(channel) = search_channel(view, search)? else {
        return Ok(Found::none());
    };
    let Some(action) = search.action.and_then(Action::parse) else {
        return Ok(Found::none());
    };
    let (Some(user), true) = (snapshot.user_idx(subject.id), subject.kind == "user") else {
        return Ok(Found::none());
    };
    if kind_named(search.resource.kind.as_deref().unwrap_or_default()) != Some(action.resource_kind()) {
        return Ok(Found::none());
    }
    let session = session(view, user, channel);
    let allowed = |resource| allows(snapshot, user, channel, session, action, resource);
    let paging = &search.paging;
    let (found, more) = match action.resource_kind() {
        ResourceKind::Tenant => {
            let tenant = (0, (Resource::Tenant, snapshot.tenant_name.to_string()));
            collect(std::iter::once(tenant), paging.start(|_| Some(0)), paging.limit, |(r, _)| allowed(*r))
        }
        ResourceKind::Space => {
            let spaces = snapshot
                .spaces
                .iter()
                .map(|(idx, space)| (idx, (Resource::Space(SpaceIdx(idx as u32)), space.id.to_string())));
            let start = paging.start(|id| snapshot.space_idx(id).map(|s| s.0 as usize));
            collect(spaces, start, paging.limit, |(r, _)| allowed(*r))
        }
        ResourceKind::App | ResourceKind::DataConnection => {
            // The listing path: grant paths worked out once per space, one look per item.
            let items = permitted_content(snapshot, user, channel, session, action)
                .map(|item| (item.0 as usize, (Resource::Content(item), snapshot.content_item(item).id.to_string())));
            let start = paging.start(|id| snapshot.content_idx(id).map(|c| c.0 as usize));
            collect(items, start, paging.limit, |_| true)
        }
    };
    let hits = found
        .into_iter()
        .map(|(position, (resource, id))| Hit {
            position,
            key: id.clone(),
            id,
            because: search.explain.then(|| explained(view, user, channel, action, resource)),
        })
        .collect();
    Ok(Found { hits, more })
}

/// What the user may do on the resource: the actions of its type, in the catalogue's order.
pub(super) fn actions(caller: &crate::auth::Caller, view: &View, search: &Search<'_>) -> Result<Found, ApiError> {
    let snapshot = &view.snapshot;
    let (subject, resource) = (Search::named(search.subject), Search::named(search.resource));
    caller.check_may_ask_about(snapshot, subject.id).map_err(|e| e.field("subject.id"))?;
    let Some(channel) = search_channel(view, search)? else {
        return Ok(Found::none());
    };
    let (Some(user), Some(kind), true) = (snapshot.user_idx(subject.id), kind_named(resource.kind), subject.kind == "user") else {
        return Ok(Found::none());
    };
    let of_kind: Vec<(usize, Action)> = Action::ALL
        .iter()
        .copied()
        .enumerate()
        .filter(|(_, action)| action.resource_kind() == kind)
        .collect();
    let Some(&(_, first)) = of_kind.first() else { return Ok(Found::none()) };
    let id = (kind != ResourceKind::Tenant).then_some(resource.id);
    let Ok(target) = resolve_resource(snapshot, first, id) else {
        return Ok(Found::none());
    };
    let session = session(view, user, channel);
    let start = search
        .paging
        .start(|name| Action::parse(name).and_then(|a| Action::ALL.iter().position(|b| *b == a)));
    let (found, more) = collect(of_kind.into_iter(), start, search.paging.limit, |action| {
        allows(snapshot, user, channel, session, *action, target)
    });
    let hits = found
        .into_iter()
        .map(|(position, action)| Hit {
            position,
            key: action.as_str().to_owned(),
            id: action.as_str().to_owned(),
            because: search.explain.then(|| explained(view, user, channel, action, target)),
        })
        .collect();
    Ok(Found { hits, more })
}
