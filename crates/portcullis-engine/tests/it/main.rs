//! The engine's integration tests: property tests against the naive reference evaluator.

#[path = "../common/synthetic.rs"]
#[expect(dead_code, reason = "shared with the benches; not every helper is used here")]
mod synthetic;

mod export;
mod history;
mod live;
mod prop;
mod reference;
mod whatif;
