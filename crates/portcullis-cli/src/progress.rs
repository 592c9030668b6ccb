//! Progress bars for long CLI work: drawn on standard error when it is a terminal, silent
//! otherwise (pipes, CI logs), so output meant for machines stays clean. The library crates
//! only report `(done, total)` through a callback; drawing is this module's business.

use std::borrow::Cow;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressFinish, ProgressStyle};

/// A bar for work of as yet unknown length, labelled `what` (hidden off a terminal; cleared
/// when dropped, so an error leaves no half-drawn bar above its message).
pub fn bar(what: impl Into<Cow<'static, str>>) -> ProgressBar {
    let bar = ProgressBar::no_length().with_finish(ProgressFinish::AndClear);
    if let Ok(style) = ProgressStyle::with_template("{msg} [{bar:40}] {pos}/{len} {per_sec} eta {eta}") {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.set_message(what);
    bar
}

/// A spinner for a step that has no count (one database read or write, a file), labelled
/// `what` (hidden off a terminal; cleared when dropped).
pub fn spinner(what: impl Into<Cow<'static, str>>) -> ProgressBar {
    let spinner = ProgressBar::new_spinner().with_finish(ProgressFinish::AndClear);
    if let Ok(style) = ProgressStyle::with_template("{spinner} {msg} {elapsed}") {
        spinner.set_style(style);
    }
    spinner.set_message(what);
    spinner.enable_steady_tick(Duration::from_millis(100));
    spinner
}

/// A reporter for the core's `(done, total)` callbacks that moves `bar` (shareable with the
/// task doing the work).
pub fn reporter(bar: &ProgressBar) -> impl Fn(u64, u64) + Send + Sync + '_ {
    move |done, total| {
        if bar.length() != Some(total) {
            bar.set_length(total);
        }
        bar.set_position(done);
    }
}
