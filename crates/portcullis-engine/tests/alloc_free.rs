//! Proves the hot path: a decision without explanation allocates nothing, on a synthetic
//! tenant of 2,000 users, for every action on a sample of resources and every channel.

#[path = "common/synthetic.rs"]
mod synthetic;

use portcullis_engine::{Channel, Request, Resource, Snapshot, decide};
use portcullis_model::{Action, ResourceKind};

#[test]
fn decisions_without_explanation_do_not_allocate() {
    let tenant = synthetic::tenant(2_000, 7);
    let snapshot = Snapshot::build(&tenant, 1);
    let mut requests = Vec::new();
    let clients: Vec<_> = ["portal", "reader", "console"].iter().map(|c| snapshot.client_idx(c).unwrap()).collect();
    for u in (0..snapshot.users.len()).step_by(37) {
        let user = snapshot.user_idx(&synthetic::user_id(u)).unwrap();
        for action in Action::ALL {
            let resources: Vec<Resource> = match action.resource_kind() {
                ResourceKind::Tenant => vec![Resource::Tenant],
                ResourceKind::Space => (0..snapshot.spaces.len() as u32)
                    .step_by(5)
                    .map(|s| Resource::Space(portcullis_engine::SpaceIdx(s)))
                    .collect(),
                _ => (0..snapshot.content.len() as u32)
                    .step_by(41)
                    .map(|c| Resource::Content(portcullis_engine::ContentIdx(c)))
                    .collect(),
            };
            for resource in resources {
                for channel in [
                    Channel::ApiKey,
                    Channel::OAuth(clients[0]),
                    Channel::OAuth(clients[1]),
                    Channel::OAuth(clients[2]),
                ] {
                    requests.push(Request {
                        user,
                        channel,
                        session: None,
                        action: *action,
                        resource,
                        explain: false,
                    });
                }
            }
        }
    }
    assert!(requests.len() > 10_000, "{} requests", requests.len());
    let mut n_allowed = 0usize;
    let info = allocation_counter::measure(|| {
        for request in &requests {
            n_allowed += usize::from(decide(&snapshot, request).allowed);
        }
    });
    assert_eq!(info.count_total, 0, "{} allocations over {} decisions", info.count_total, requests.len());
    // The sample must exercise both outcomes, or the test proves nothing.
    assert!(
        n_allowed > 100 && n_allowed < requests.len() - 100,
        "{n_allowed} of {} allowed",
        requests.len()
    );

    // The same requests with an explanation do allocate: the counter is live.
    let explained = allocation_counter::measure(|| {
        for request in requests.iter().take(100) {
            let _ = decide(&snapshot, &Request { explain: true, ..*request });
        }
    });
    assert!(explained.count_total > 0);
}
