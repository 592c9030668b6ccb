//! The vocabulary of the Qlik Cloud access model (spec `cloud-model.md`), and the tenant
//! file format. Pure data: no IO, no async, no decisions (those are the engine's).
#![warn(missing_docs)]

pub mod source;
