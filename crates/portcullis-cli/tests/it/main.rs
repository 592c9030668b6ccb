//! End-to-end tests of the `portcullis` binary, each in its own temporary directory.

mod audit;
mod pipes;
mod progress;
mod qrs_site;
mod serve;
mod sites;
mod tidy;
mod what_if;
