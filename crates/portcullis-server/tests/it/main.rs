//! The server's HTTP tests, through the router without sockets (`tower::ServiceExt::oneshot`),
//! on a temporary SQLite store holding the demo tenant and a second tenant.

mod support;

mod api_fuzzing;
mod audit_integrity;
mod audit_log;
mod audits_api;
mod authzen;
mod connections;
mod console;
mod credentials;
mod decisions;
mod export_mark;
mod feed;
mod group_commit;
mod history;
mod hygiene;
mod isolation;
mod lifecycle;
mod limits;
mod live_view;
mod operations;
mod qlik_api;
mod qrs_sites;
mod rules_sites;
mod what_if;
mod writes;
