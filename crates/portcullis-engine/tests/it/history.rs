//! Property test of access history at the engine's level: a random tenant takes a random
//! sequence of writes (every kind of `Change`, refused ones skipped); the undo each applied
//! change returned, written to JSON and read back as the change log keeps it, must take the
//! final tenant back to exactly the tenant after the first `r` writes, for every `r`, and a
//! view built from the rewound tenant must decide and explain exactly as one built from the
//! tenant as it was (every user × action × sampled resources, every channel, lists).

use portcullis_engine::{Sessions, Snapshot};
use portcullis_model::change::Undo;
use portcullis_model::{Refs, Tenant};
use proptest::prelude::*;

use crate::live::{basic_heavy, random_change, same_answers};
use crate::prop::random_tenant;
use crate::synthetic::Rng;

/// Random writes from a random tenant, then a rewind to every revision; the comparisons made.
fn run(seed: u64, steps: usize) -> Result<usize, String> {
    let mut rng = Rng::new(seed ^ 0x415f);
    let mut tenant = basic_heavy(&mut rng, random_tenant(seed));
    let _ = tenant.refs();
    // The tenant at each revision, and the undos logged by the write that reached it.
    let mut states: Vec<Tenant> = vec![tenant.clone()];
    let mut log: Vec<String> = Vec::new();
    for _ in 0..steps {
        let change = random_change(&mut rng, &tenant);
        let Ok(applied) = tenant.apply(&change) else { continue };
        if applied.touched.is_empty() {
            continue;
        }
        log.push(serde_json::to_string(&applied.undo).map_err(|e| format!("an undo does not serialize: {e}"))?);
        states.push(tenant.clone());
    }
    let mut compared = 0;
    // Rewinds one write at a time from the newest, as history does from the live tenant.
    let mut rewound = tenant.clone();
    for revision in (0..states.len()).rev() {
        if revision + 1 < states.len() {
            let undo: Undo = serde_json::from_str(&log[revision]).map_err(|e| format!("an undo does not read back: {e}"))?;
            rewound.undo(undo);
        }
        let expected = &states[revision];
        if rewound != *expected {
            return Err(format!("revision {revision} of {}: the rewound tenant differs", states.len() - 1));
        }
        if *rewound.refs() != Refs::build(&rewound) {
            return Err(format!("revision {revision}: the rewound tenant's counts drifted"));
        }
        let (then, now) = (Snapshot::build(expected, revision as u64), Snapshot::build(&rewound, revision as u64));
        let none = Sessions::default();
        compared += same_answers(&mut rng, expected, (&now, &none), (&then, &none)).map_err(|m| format!("revision {revision}: {m}"))?;
    }
    Ok(compared)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 32, ..ProptestConfig::default() })]

    #[test]
    fn rewinding_gives_the_tenant_and_the_answers_of_every_revision(seed in any::<u64>()) {
        match run(seed, 30) {
            Ok(compared) => prop_assert!(compared > 0, "seed {seed}: nothing compared"),
            Err(message) => prop_assert!(false, "seed {seed}: {message}"),
        }
    }
}
