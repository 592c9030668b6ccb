//! The integration tests of `portcullis-rules`, in one binary: scenario files, the rule
//! corpus and its expected outputs, and property tests.

mod corpus;
mod props;
mod scenarios;
