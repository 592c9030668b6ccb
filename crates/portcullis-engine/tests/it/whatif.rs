//! Property test of what-if: on random tenants and random sets of changes (every kind of
//! `Change`), the diff `what_if` computes from the current snapshot, without keeping the
//! changes, must equal (every decision after applying them, on a snapshot built from scratch)
//! minus (every decision before), both ways, for every user × action × resource; and the
//! tenant must be left exactly as it was, whether the proposal is accepted or refused.

use std::collections::BTreeSet;

use portcullis_engine::{Channel, RawRequest, Snapshot, decide, resolve, what_if};
use portcullis_model::change::Change;
use portcullis_model::tenant::Tenant;
use portcullis_model::{Action, Refs, ResourceKind};
use proptest::prelude::*;

use crate::live::{basic_heavy, random_change};
use crate::prop::random_tenant;
use crate::synthetic::Rng;

/// (user, action, resource, gained, path)
type Flip = (String, Action, Option<String>, bool, String);

/// Whether `user` may do `action` on `resource` through an API key on `snapshot` (false when
/// the user or resource is not there), with the explanation's tokens.
fn allowed(snapshot: &Snapshot, user: &str, action: Action, resource: Option<&str>) -> (bool, String) {
    let via = Channel::ApiKey;
    let raw = RawRequest {
        user,
        via: &via,
        action: action.as_str(),
        resource,
    };
    match resolve(snapshot, &raw) {
        Ok(resolved) => {
            let decision = decide(snapshot, &resolved.request(None, true));
            let tokens = decision.explanation.tokens();
            (decision.allowed, if tokens.is_empty() { "-".to_owned() } else { tokens.join(" ") })
        }
        Err(_) => (false, String::new()),
    }
}

/// Every flip between two tenants, decided on snapshots built from scratch.
fn expected(before: &Tenant, after: &Tenant) -> BTreeSet<Flip> {
    let (sb, sa) = (Snapshot::build(before, 0), Snapshot::build(after, 0));
    let users: BTreeSet<&str> = before.users.iter().chain(after.users.iter()).map(|u| u.id.as_str()).collect();
    let spaces: BTreeSet<&str> = before.spaces.iter().chain(after.spaces.iter()).map(|s| s.id.as_str()).collect();
    // An id deleted and created again may change kind: both kinds are asked.
    let mut items: Vec<(&str, ResourceKind)> = Vec::new();
    for item in before.content.iter().chain(after.content.iter()) {
        let entry = (item.id.as_str(), item.kind.resource_kind());
        if !items.contains(&entry) {
            items.push(entry);
        }
    }
    let mut out = BTreeSet::new();
    for user in &users {
        for &action in Action::ALL {
            let resources: Vec<Option<&str>> = match action.resource_kind() {
                ResourceKind::Tenant => vec![None],
                ResourceKind::Space => spaces.iter().map(|s| Some(*s)).collect(),
                kind => items.iter().filter(|(_, k)| *k == kind).map(|(id, _)| Some(*id)).collect(),
            };
            for resource in resources {
                let (was, was_path) = allowed(&sb, user, action, resource);
                let (is, is_path) = allowed(&sa, user, action, resource);
                if was != is {
                    let path = if is { is_path } else { was_path };
                    out.insert((user.to_string(), action, resource.map(str::to_owned), is, path));
                }
            }
        }
    }
    out
}

fn run(seed: u64) -> Result<usize, String> {
    let mut rng = Rng::new(seed ^ 0x0a11_0ff5);
    let mut tenant = basic_heavy(&mut rng, random_tenant(seed));
    // A few writes first, so that the current snapshot is itself a derived one at times.
    let mut current = Snapshot::build(&tenant, 1);
    for _ in 0..rng.below(4) {
        let change = random_change(&mut rng, &tenant);
        if let Ok(done) = tenant.apply(&change) {
            current = current.apply(&tenant, &done.touched, 1);
        }
    }
    let _ = tenant.refs();
    // The proposal: a few changes, each accepted on the state the ones before it leave.
    let mut after = tenant.clone();
    let mut changes: Vec<Change> = Vec::new();
    for _ in 0..1 + rng.below(4) {
        let change = random_change(&mut rng, &after);
        if after.apply(&change).is_ok() {
            changes.push(change);
        }
    }
    let mut probe = tenant.clone();
    let diff = what_if(&mut probe, &current, &changes).map_err(|e| format!("{changes:?} refused: {e}"))?;
    if probe != tenant || *probe.refs() != Refs::build(&probe) {
        return Err(format!("what-if of {changes:?} left the tenant changed"));
    }
    let got: BTreeSet<Flip> = diff
        .changes
        .iter()
        .map(|c| {
            (
                c.user.to_string(),
                c.action,
                c.resource.as_deref().map(str::to_owned),
                c.gained,
                c.path.to_string(),
            )
        })
        .collect();
    if got.len() != diff.changes.len() {
        return Err(format!("{changes:?}: the diff repeats a change"));
    }
    let want = expected(&tenant, &after);
    if got != want {
        let missing: Vec<_> = want.difference(&got).take(5).collect();
        let extra: Vec<_> = got.difference(&want).take(5).collect();
        return Err(format!("{changes:?}: missing {missing:?}, extra {extra:?}"));
    }
    let gained = want.iter().filter(|f| f.3).count();
    if (diff.gained, diff.lost) != (gained, want.len() - gained) {
        return Err(format!("{changes:?}: counted {} gained, {} lost", diff.gained, diff.lost));
    }
    for groups in [&diff.by_action, &diff.by_path] {
        let total: usize = groups.iter().map(|g| g.gained + g.lost).sum();
        if total != want.len() || groups.iter().any(|g| g.samples.iter().any(|&i| i >= diff.changes.len())) {
            return Err(format!("{changes:?}: groups count {total} of {}", want.len()));
        }
    }
    // A refused change anywhere in the proposal: an error naming it, and nothing applied.
    if !changes.is_empty() {
        let at = rng.below(changes.len() + 1);
        let mut bad = changes.clone();
        bad.insert(
            at,
            Change::DeleteGroup {
                name: "no-such-group".into(),
            },
        );
        let mut probe = tenant.clone();
        match what_if(&mut probe, &current, &bad) {
            Err(e) if e.index == at && e.kind == "delete-group" => {}
            other => return Err(format!("a proposal with a bad change at {at} gave {other:?}")),
        }
        if probe != tenant {
            return Err("a refused proposal left the tenant changed".to_owned());
        }
    }
    Ok(want.len())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1024, ..ProptestConfig::default() })]

    #[test]
    fn what_if_equals_after_minus_before(seed in any::<u64>()) {
        if let Err(message) = run(seed) {
            prop_assert!(false, "seed {seed}: {message}");
        }
    }
}

#[test]
fn random_proposals_change_access() {
    // Guard against proposals that never move a decision: agreement would then mean nothing.
    let moved = (0..60).filter(|&seed| run(seed).is_ok_and(|n| n > 0)).count();
    assert!(moved > 20, "only {moved} of 60 proposals changed any access");
}
