//! The store takes the model's one write path: a [`Change`] is checked and applied by
//! `Tenant::apply`, which says what it touched; the store persists exactly those rows.

pub use portcullis_model::change::{Applied, Change, Touched, Undo};
