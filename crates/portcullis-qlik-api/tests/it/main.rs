//! Integration tests of the management API: the pure handlers over a fixture tenant, and the
//! router driven with `tower::ServiceExt::oneshot` over an in-memory host.

mod fixture;
mod handlers;
mod memory_host;
mod router;
