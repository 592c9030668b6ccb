//! A reader that stops early (`portcullis rules audit … | head`) ends the command quietly:
//! no panic, no error, exit status 0.

use std::io::{BufRead as _, BufReader};
use std::process::{Command, Stdio};

const BINARY: &str = env!("CARGO_BIN_EXE_portcullis");

#[test]
fn a_reader_that_stops_early_ends_the_listing_without_a_panic() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    // A matrix far larger than a pipe's buffer: the command is still writing when the reader goes.
    let site = crate::progress::site(dir.path(), 400);
    let mut child = Command::new(BINARY)
        .args(["rules", "audit", &site, "--format", "csv"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary runs");
    let mut first = String::new();
    BufReader::new(child.stdout.take().expect("stdout is piped"))
        .read_line(&mut first)
        .expect("the first line");
    assert!(first.contains(','), "a CSV header first: {first:?}");
    // The reader is dropped here: the rest of the matrix meets a closed pipe.
    let output = child.wait_with_output().expect("the command ends");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!stderr.contains("panicked"), "no panic: {stderr}");
    assert!(stderr.is_empty(), "nothing said on standard error: {stderr}");
    assert!(output.status.success(), "exit status 0, got {:?}", output.status);
}
