//! The HTTP decision service (being built: see the store crate for storage).
