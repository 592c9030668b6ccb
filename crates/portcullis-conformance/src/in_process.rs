//! The in-process target: a cloud scenario's tenant goes through `portcullis-model` and
//! `portcullis-engine` (every step through the model's one write path, `Tenant::apply`, then a
//! new snapshot; sessions frozen at login), a rules scenario's site through `portcullis-rules`.

use portcullis_engine::{RawRequest, Sessions, Snapshot, decide, resolve};
use portcullis_model::source::SourcePath;
use portcullis_model::step::{self, SetValue, StepError};
use portcullis_model::tenant::RoleTarget;
use portcullis_model::tenant_file::{RawTenant, TenantFileError, tenant_from_raw};
use portcullis_model::{Change, Tenant};
use portcullis_rules::site_file::{LoadedSite, SiteFile};
use portcullis_rules::{Action, RequestContext};
use serde::Deserialize;

use crate::interpreter::{Answer, LoadError, Target};
use crate::runner::SourceFile;
use crate::scenario::{Assign, Check, Model, Set, Step};

/// Runs scenarios on the engine and the rules crate, in this process.
#[derive(Default)]
pub struct InProcess {
    loaded: Option<Loaded>,
}

enum Loaded {
    Cloud(Box<CloudState>),
    Rules(Box<LoadedSite>),
}

/// The live state of a cloud scenario.
struct CloudState {
    tenant: Tenant,
    snapshot: Snapshot,
    sessions: Sessions,
    revision: u64,
}

impl CloudState {
    fn apply(&mut self, change: &Change) -> Result<(), String> {
        self.tenant.apply(change).map_err(|e| e.to_string())?;
        self.revision += 1;
        self.snapshot = Snapshot::build(&self.tenant, self.revision);
        self.sessions.rebind(&self.snapshot);
        Ok(())
    }

    fn login(&mut self, user: &str) -> Result<(), String> {
        self.apply(&Change::RecordLogin { user: user.to_owned() })?;
        let idx = self.snapshot.user_idx(user).ok_or_else(|| format!("unknown user `{user}`"))?;
        // Scenarios have no clock: their sessions have no timeouts, and time stands at 0.
        self.sessions.login(&self.snapshot, idx, 0);
        Ok(())
    }

    fn ask(&self, check: &Check) -> Result<Answer, String> {
        let via = check.channel();
        let raw = RawRequest {
            user: &check.user,
            via: &via,
            action: &check.action,
            resource: check.resource.as_deref(),
        };
        let resolved = resolve(&self.snapshot, &raw).map_err(|e| format!("the request is invalid: {e}"))?;
        let decision = decide(&self.snapshot, &resolved.request(self.sessions.rights(&check.user, 0), true));
        Ok(Answer {
            allowed: decision.allowed,
            tokens: decision.explanation.tokens(),
            text: format!("{} {}", decision.verdict(), decision.explanation),
        })
    }
}

fn ask_site(site: &LoadedSite, check: &Check) -> Result<Answer, String> {
    let (Some(resource), Some(context)) = (&check.resource, &check.context) else {
        return Err("a rule check names its `resource` and its `context`".into());
    };
    let site = &site.compiled;
    let user = site
        .user(&check.user)
        .ok_or_else(|| format!("unknown user `{}` (write it as DIRECTORY\\userId)", check.user))?;
    let resource = site.resource(resource).ok_or_else(|| format!("unknown resource `{resource}`"))?;
    let action = Action::parse(&check.action).map_err(|error| format!("{error} (hint: {})", error.hint()))?;
    let context = RequestContext::parse(context).ok_or_else(|| format!("unknown context `{context}`; a check's context is `hub` or `qmc`"))?;
    let decision = site.decide(user, resource, action, context);
    Ok(Answer {
        allowed: decision.allowed,
        tokens: decision.tokens(),
        text: decision.to_string(),
    })
}

/// The scenario's `tenant:` (the rest of the file is the interpreter's).
#[derive(Deserialize)]
struct TenantPart {
    tenant: RawTenant,
}

/// The scenario's `site:`.
#[derive(Deserialize)]
struct SitePart {
    site: SiteFile,
}

fn load_tenant(source: &SourceFile) -> Result<Tenant, String> {
    let part: TenantPart = serde_norway::from_str(&source.text).map_err(|error| source.decode_error(&error))?;
    tenant_from_raw(&part.tenant, &SourcePath::root().key("tenant"))
        .map_err(|problems| TenantFileError::from_problems(&source.label, &source.lines, &problems).to_string())
}

fn load_site(source: &SourceFile) -> Result<LoadedSite, String> {
    let part: SitePart = serde_norway::from_str(&source.text).map_err(|error| source.decode_error(&error))?;
    part.site.load(&SourcePath::root().key("site")).map_err(|errors| {
        let lines: Vec<String> = errors
            .iter()
            .map(|error| format!("{}: {}", source.locate(&error.path), error.with_hint()))
            .collect();
        lines.join("\n              ")
    })
}

impl Target for InProcess {
    fn load(&mut self, source: &SourceFile, model: Model) -> Result<(), LoadError> {
        self.loaded = None;
        let loaded = match model {
            Model::Cloud => load_tenant(source).map(|tenant| {
                let snapshot = Snapshot::build(&tenant, 0);
                Loaded::Cloud(Box::new(CloudState {
                    tenant,
                    snapshot,
                    sessions: Sessions::default(),
                    revision: 0,
                }))
            }),
            Model::Rules => load_site(source).map(|site| Loaded::Rules(Box::new(site))),
        };
        self.loaded = Some(loaded.map_err(LoadError::Refused)?);
        Ok(())
    }

    fn step(&mut self, step: &Step) -> Result<(), String> {
        let Some(Loaded::Cloud(state)) = &mut self.loaded else {
            return Err("steps change a cloud tenant; none is loaded".into());
        };
        let change = match step {
            Step::Login(user) => return state.login(user),
            Step::Assign(assign) => Change::AssignRole {
                role: assign.role.clone(),
                target: role_target(assign)?,
            },
            Step::Unassign(assign) => Change::UnassignRole {
                role: assign.role.clone(),
                target: role_target(assign)?,
            },
            Step::Join(membership) => Change::JoinGroup {
                user: membership.user.clone(),
                group: membership.group.clone(),
            },
            Step::Leave(membership) => Change::LeaveGroup {
                user: membership.user.clone(),
                group: membership.group.clone(),
            },
            Step::Set(set) => set_change(set)?,
            Step::Mark(mark) => Change::SetExportOnlyThrough {
                space: mark.space.clone(),
                roles: mark.export_only_through.clone(),
            },
            Step::Check(_) => return Err("a check is asked, not applied".into()),
        };
        state.apply(&change)
    }

    fn ask(&mut self, check: &Check) -> Result<Answer, String> {
        match &self.loaded {
            Some(Loaded::Cloud(state)) => state.ask(check),
            Some(Loaded::Rules(site)) => ask_site(site, check),
            None => Err("nothing is loaded".into()),
        }
    }

    fn unload(&mut self) {
        self.loaded = None;
    }
}

fn role_target(assign: &Assign) -> Result<RoleTarget, String> {
    step::role_target(assign.user.as_deref(), assign.group.as_deref(), assign.everyone).map_err(step_message)
}

fn set_change(set: &Set) -> Result<Change, String> {
    let shown = serde_norway::to_string(&set.value).unwrap_or_default();
    let value = match &set.value {
        serde_norway::Value::Bool(b) => SetValue::Bool(*b),
        serde_norway::Value::String(text) => SetValue::Text(text),
        _ => SetValue::Other(shown.trim()),
    };
    step::set_change(set.setting.as_deref(), set.user_default.as_deref(), value).map_err(step_message)
}

/// The model's refusal of a step, with its hint, as one line.
fn step_message(error: StepError) -> String {
    match error.hint {
        Some(hint) => format!("{}; {hint}", error.message),
        None => error.message,
    }
}
