//! A repository-wide rule no compiler checks: every Rust file opens with a `//!` line saying
//! what it is for.

use std::path::{Path, PathBuf};

/// The repository's root (this crate sits at `crates/portcullis-cli`).
fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Every `.rs` file under `dir`, skipping build output.
fn rust_files(dir: &Path, found: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name();
        if path.is_dir() {
            if name != "target" && !name.to_string_lossy().starts_with('.') {
                rust_files(&path, found);
            }
        } else if path.extension().is_some_and(|e| e == "rs") {
            found.push(path);
        }
    }
}

#[test]
fn every_rust_file_says_what_it_is_for() {
    let mut files = Vec::new();
    for dir in ["crates", "fuzz"] {
        rust_files(&root().join(dir), &mut files);
    }
    assert!(files.len() > 100, "the walk found only {} files", files.len());
    let missing: Vec<String> = files
        .iter()
        .filter(|file| {
            let text = std::fs::read_to_string(file).unwrap_or_default();
            !text.lines().next().is_some_and(|first| first.starts_with("//! ") && first.len() > 8)
        })
        .map(|file| file.strip_prefix(root()).unwrap_or(file).display().to_string())
        .collect();
    assert!(missing.is_empty(), "files without a `//!` purpose line first: {missing:#?}");
}
