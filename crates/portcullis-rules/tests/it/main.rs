//! The integration tests of `portcullis-rules`, in one binary: scenario files, the rule
//! corpus and its expected outputs, property tests, and whole QRS sites.

mod corpus;
mod props;
mod qrs_site;
mod scenarios;
