//! The server's integration tests.
