//! Criterion benches of the hot paths (filled in below).
fn main() {}
