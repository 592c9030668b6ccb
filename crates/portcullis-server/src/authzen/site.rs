//! AuthZEN on a security-rule site (`portcullis_rules::authzen` says how the entities meet
//! the rule language): the subject is the site user `subject.type\subject.id`, the action a
//! name of the site's `authzen.actions`, the resource a site resource, or the resource the
//! request describes when the site holds none of its type. `context.ruleContext` is the
//! request context (`hub` by default, or `qmc`).
//!
//! Asking needs the right to ask about other users (the subjects are the site's users, not
//! the caller). Searches decide for every user of the subject's directory, or every resource
//! of the type, in site order; each result can be explained by the rules that granted it.
//! An `export` or `exportdata` decision is logged, and stored before it is answered, as
//! `POST /v1/rules/sites/{name}/check` does.

use portcullis_rules::authzen::supplied_resource;
use portcullis_rules::site_file::LoadedSite;
use portcullis_rules::{Action, CompiledSite, Decision, RequestContext, SuppliedResource, Target, UserId};
use serde_json::{Map, Value};

use super::page::collect;
use super::{Asking, BoundSite, EvaluationResponse, Found, Hit, Named, Question, Search, because, context_text};
use crate::err::ApiError;
use crate::rules_api;

impl BoundSite {
    fn loaded(&self) -> Result<&LoadedSite, ApiError> {
        rules_api::loaded(&self.name, &self.held)
    }

    /// A decision's reasons, and the site and revision that decided.
    fn reasons(&self, decision: &Decision) -> Map<String, Value> {
        let mut context = because(decision.to_string(), decision.tokens());
        context.insert("site".into(), self.name.clone().into());
        context.insert("site_revision".into(), self.held.revision.into());
        context
    }
}

/// The request context `context.ruleContext` names (`hub` when it names none).
fn rule_context(context: Option<&Map<String, Value>>) -> Result<RequestContext, ApiError> {
    match context_text(context, "ruleContext")? {
        None => Ok(RequestContext::Hub),
        Some(name) => RequestContext::parse(name).ok_or_else(|| {
            ApiError::bad_request("unknown_context", format!("unknown rule context `{name}`"))
                .hint("use `hub` or `qmc`")
                .field("context.ruleContext")
        }),
    }
}

/// The site user an AuthZEN subject names: `type\id`.
fn user(site: &CompiledSite, subject: Named<'_>) -> Option<UserId> {
    site.user(&format!("{}\\{}", subject.kind, subject.id))
}

/// What a resource of a question is to the site.
enum Resolved {
    Held(portcullis_rules::ResourceId),
    Supplied(Box<SuppliedResource>),
}

impl Resolved {
    fn target(&self) -> Target<'_> {
        match self {
            Resolved::Held(resource) => Target::Held(*resource),
            Resolved::Supplied(supplied) => Target::Supplied(supplied),
        }
    }
}

/// A resource of the site (a type it holds resources of is its alone), or the one the
/// request describes.
fn resolve(site: &CompiledSite, resource: Named<'_>) -> Result<Resolved, ApiError> {
    if !site.holds_type(resource.kind) {
        let described = supplied_resource(resource.kind, resource.id, resource.properties);
        return Ok(Resolved::Supplied(Box::new(site.supply(&described))));
    }
    site.resource(resource.id)
        .filter(|r| {
            site.resource_source(*r)
                .is_some_and(|s| s.resource_type.eq_ignore_ascii_case(resource.kind))
        })
        .map(Resolved::Held)
        .ok_or_else(|| {
            ApiError::not_found("unknown_resource", format!("the site has no {} `{}`", resource.kind, resource.id))
                .hint("the site holds the resources of this type: name one of them")
                .field("resource.id")
        })
}

/// The rule language's action an AuthZEN action name means here.
fn action(loaded: &LoadedSite, name: &str, resource_type: &str) -> Result<Action, ApiError> {
    loaded.authzen.action(name, resource_type).map_err(|error| {
        ApiError::bad_request("unknown_action", error.to_string())
            .hint(error.hint())
            .field("action.name")
    })
}

/// What an evaluation is about, or why it cannot be evaluated.
fn parts(loaded: &LoadedSite, question: &Question<'_>) -> Result<(UserId, Action, RequestContext, Resolved), ApiError> {
    let compiled = &loaded.compiled;
    let user = user(compiled, question.subject).ok_or_else(|| {
        ApiError::not_found(
            "unknown_subject",
            format!(
                "the site has no user `{}` in the directory `{}`",
                question.subject.id, question.subject.kind
            ),
        )
        .hint("a subject's type is its user directory in the site, its id the user id")
        .field("subject.id")
    })?;
    let action = action(loaded, question.action, question.resource.kind)?;
    let context = rule_context(question.context)?;
    let resource = resolve(compiled, question.resource)?;
    Ok((user, action, context, resource))
}

/// One evaluation; `Err` when the caller may not ask, or the site cannot be read.
pub(super) fn evaluate(asking: &mut Asking<'_>, site: &BoundSite, question: &Question<'_>, explain: bool) -> Result<EvaluationResponse, ApiError> {
    asking.require_ask_others()?;
    let loaded = site.loaded()?;
    let compiled = &loaded.compiled;
    let (user, action, context, resource) = match parts(loaded, question) {
        Ok(parts) => parts,
        Err(error) => return Ok(EvaluationResponse::error(error)),
    };
    let data_leaving = matches!(action, Action::Export | Action::ExportData);
    if !explain && !data_leaving {
        let allowed = compiled.allows_on(user, resource.target(), action, context);
        return Ok(EvaluationResponse::new(allowed, None));
    }
    let decision = compiled.decide_on(user, resource.target(), action, context);
    if data_leaving {
        let event = rules_api::export_event(
            asking.caller,
            (&site.name, site.held.revision),
            compiled.user_key(user),
            action,
            question.resource.id,
            &decision,
        );
        asking.events.push(event, true);
    }
    Ok(EvaluationResponse::new(decision.allowed, explain.then(|| site.reasons(&decision))))
}

/// Who of the subject's directory may take the action on the resource, in site order.
pub(super) fn subjects(site: &BoundSite, search: &Search<'_>) -> Result<Found, ApiError> {
    let loaded = site.loaded()?;
    let compiled = &loaded.compiled;
    let resource = Search::named(search.resource);
    let context = rule_context(search.context)?;
    let (Some(action), Some(target)) = (
        search.action.and_then(|name| action(loaded, name, resource.kind).ok()),
        resolve(compiled, resource).ok(),
    ) else {
        return Ok(Found::none());
    };
    let directory = search.subject.kind.as_deref().unwrap_or_default();
    let start = search.paging.start(|key| compiled.user(key).map(|u| u.0 as usize));
    let users = compiled.users_in_directory(directory).map(|user| (user.0 as usize, user));
    let (found, more) = collect(users, start, search.paging.limit, |user| {
        compiled.allows_on(*user, target.target(), action, context)
    });
    let hits = found
        .into_iter()
        .map(|(position, user)| Hit {
            position,
            id: compiled.user_source(user).map(|u| u.user_id.clone()).unwrap_or_default(),
            key: compiled.user_key(user).to_owned(),
            because: search
                .explain
                .then(|| site.reasons(&compiled.decide_on(user, target.target(), action, context))),
        })
        .collect();
    Ok(Found { hits, more })
}

/// The resources of the type the subject may take the action on, in site order.
pub(super) fn resources(site: &BoundSite, search: &Search<'_>) -> Result<Found, ApiError> {
    let loaded = site.loaded()?;
    let compiled = &loaded.compiled;
    let resource_type = search.resource.kind.as_deref().unwrap_or_default();
    let context = rule_context(search.context)?;
    let (Some(user), Some(action)) = (
        user(compiled, Search::named(search.subject)),
        search.action.and_then(|name| action(loaded, name, resource_type).ok()),
    ) else {
        return Ok(Found::none());
    };
    let start = search.paging.start(|id| compiled.resource(id).map(|r| r.0 as usize));
    let resources = compiled.resources_of_type(resource_type).map(|r| (r.0 as usize, r));
    let (found, more) = collect(resources, start, search.paging.limit, |resource| {
        compiled.is_allowed(user, *resource, action, context)
    });
    let hits = found
        .into_iter()
        .map(|(position, resource)| Hit {
            position,
            id: compiled.resource_id(resource).to_owned(),
            key: compiled.resource_id(resource).to_owned(),
            because: search.explain.then(|| site.reasons(&compiled.decide(user, resource, action, context))),
        })
        .collect();
    Ok(Found { hits, more })
}

/// The AuthZEN actions the subject may take on the resource, in the site's order.
pub(super) fn actions(site: &BoundSite, search: &Search<'_>) -> Result<Found, ApiError> {
    let loaded = site.loaded()?;
    let compiled = &loaded.compiled;
    let resource = Search::named(search.resource);
    let context = rule_context(search.context)?;
    let (Some(user), Some(target)) = (user(compiled, Search::named(search.subject)), resolve(compiled, resource).ok()) else {
        return Ok(Found::none());
    };
    let granted = compiled.granted_actions_on(user, target.target(), context);
    let names = loaded.authzen.names(granted, resource.kind);
    let start = search.paging.start(|name| names.iter().position(|(n, _)| *n == name));
    let (found, more) = collect(names.iter().copied().enumerate(), start, search.paging.limit, |_| true);
    let hits = found
        .into_iter()
        .map(|(position, (name, action))| Hit {
            position,
            id: name.to_owned(),
            key: name.to_owned(),
            because: search
                .explain
                .then(|| site.reasons(&compiled.decide_on(user, target.target(), action, context))),
        })
        .collect();
    Ok(Found { hits, more })
}
