//! The generator and the Cedar encoding, checked on small tenants: generation is
//! deterministic, a written tenant file loads back into the same tenant, and Cedar decides
//! every action on a sample of users and resources exactly as the engine does.

use portcullis_bench::cedar;
use portcullis_bench::requests::{Target, Via, WorkRequest, to_engine};
use portcullis_bench::workload::{self, Shape};
use portcullis_engine::{Snapshot, decide};
use portcullis_model::tenant::{Tenant, TenantSetting};
use portcullis_model::{Action, ResourceKind};

fn small(seed: u64) -> Tenant {
    workload::generate(&Shape::scaled(400, seed))
}

#[test]
fn generation_is_deterministic() {
    assert_eq!(small(3), small(3));
    assert_ne!(small(3), small(4));
}

#[test]
fn tenant_file_loads_back_unchanged() {
    let tenant = small(5);
    let mut text = Vec::new();
    portcullis_bench::tenant_file::write_tenant(&tenant, &mut text).unwrap();
    let text = String::from_utf8(text).unwrap();
    let loaded = portcullis_model::tenant_file::load_tenant_text("generated.yaml", &text).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(loaded, tenant);
}

/// Every action, for every channel, on a sample of users and resources.
fn every_question(tenant: &Tenant) -> Vec<WorkRequest> {
    let mut out = Vec::new();
    let vias = [
        Via::Session,
        Via::ApiKey,
        Via::OAuth(0),
        Via::OAuth(1),
        Via::OAuth(2),
        Via::OAuth(3),
        Via::OAuth(4),
        Via::OAuth(5),
        Via::OAuth(6),
    ];
    for user in (0..tenant.users.len()).step_by(7) {
        for &action in Action::ALL {
            let targets: Vec<Target> = match action.resource_kind() {
                ResourceKind::Tenant => vec![Target::Tenant],
                ResourceKind::Space => (0..tenant.spaces.len()).map(Target::Space).collect(),
                kind => (user % 13..tenant.content.len())
                    .step_by(13)
                    .filter(|&c| (tenant.content[c].kind == portcullis_model::ContentKind::App) == (kind == ResourceKind::App))
                    .map(Target::Content)
                    .collect(),
            };
            for (t, target) in targets.into_iter().enumerate() {
                out.push(WorkRequest {
                    user,
                    via: vias[(user + t) % vias.len()],
                    action,
                    target,
                });
            }
        }
    }
    out
}

fn agree(tenant: &Tenant) {
    let snapshot = Snapshot::build(tenant, 1);
    let encoded = cedar::encode(tenant, &snapshot).unwrap();
    let authorizer = cedar_policy::Authorizer::new();
    let questions = every_question(tenant);
    let (mut n_allowed, mut disagreements) = (0, Vec::new());
    for request in &questions {
        let ours = decide(&snapshot, &to_engine(&snapshot, tenant, request, true));
        let question = cedar::question(tenant, &snapshot, request).unwrap();
        let theirs = cedar::decide(&authorizer, &encoded, &question);
        n_allowed += usize::from(ours.allowed);
        if ours.allowed != theirs && disagreements.len() < 20 {
            disagreements.push(format!(
                "{request}: ours {} {:?}, cedar {theirs} {:?}",
                ours.allowed,
                ours.explanation.tokens(),
                cedar::errors(&authorizer, &encoded, &question)
            ));
        }
    }
    assert!(disagreements.is_empty(), "{}", disagreements.join("\n"));
    assert!(
        n_allowed > questions.len() / 50 && n_allowed < questions.len() / 2,
        "{n_allowed} of {} allowed",
        questions.len()
    );
}

#[test]
fn cedar_agrees_on_every_action() {
    agree(&small(9));
}

#[test]
fn cedar_agrees_when_admins_open_apps() {
    let mut tenant = small(10);
    tenant.set_setting(TenantSetting::AdminsCanOpenAppsWithoutSpaceRole, true);
    agree(&tenant);
}
