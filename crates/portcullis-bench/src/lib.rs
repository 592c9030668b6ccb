//! Benchmarks for Portcullis: a deterministic workload generator (tenants shaped like real
//! ones and request mixes over them), the same tenant encoded for Cedar, the side-by-side
//! comparison, and an HTTP load test against a running server.
//!
//! This crate measures; it decides nothing itself. Cedar lives only here, never in the
//! server binary. Speed claims come from these benches and `compare`, never from timed tests.
#![warn(missing_docs)]

pub mod asof;
#[cfg(feature = "cedar")]
pub mod cedar;
#[cfg(feature = "cedar")]
pub mod compare;
pub mod load;
pub mod nodes;
pub mod requests;
pub mod rng;
pub mod scale;
pub mod scale_admin;
pub mod scale_content;
pub mod scale_writes;
pub mod search;
pub mod soak;
pub mod stats;
pub mod tenant_file;
pub mod what_if;
pub mod workload;
