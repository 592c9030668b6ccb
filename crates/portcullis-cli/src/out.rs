//! Standard output for the commands. `println!` panics when the reader has gone (`portcullis
//! rules audit … | head`); these macros return an error instead, which `main` turns into a
//! quiet, successful end: a reader that stops early ends the listing, not with a panic.

use std::fmt;
use std::io::{self, Write};

/// The reader of standard output has gone (a closed pipe).
#[derive(Debug)]
pub struct StdoutClosed;

impl fmt::Display for StdoutClosed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("standard output was closed")
    }
}

impl std::error::Error for StdoutClosed {}

/// Writes `args` to standard output; a closed pipe is [`StdoutClosed`], any other failure is
/// reported as it is.
pub fn write(args: fmt::Arguments<'_>) -> anyhow::Result<()> {
    match io::stdout().lock().write_fmt(args) {
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Err(StdoutClosed.into()),
        other => Ok(other?),
    }
}

/// Whether `error` is only that the reader of standard output went away.
pub fn closed(error: &anyhow::Error) -> bool {
    error.is::<StdoutClosed>()
}

/// `println!` that returns (with `?`) instead of panicking on a closed pipe.
macro_rules! out {
    () => { $crate::out::write(format_args!("\n"))? };
    ($($arg:tt)*) => { $crate::out::write(format_args!("{}\n", format_args!($($arg)*)))? };
}

/// `print!` that returns (with `?`) instead of panicking on a closed pipe.
macro_rules! put {
    ($($arg:tt)*) => { $crate::out::write(format_args!($($arg)*))? };
}

pub(crate) use {out, put};
