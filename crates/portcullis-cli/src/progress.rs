//! Progress bars for long CLI work: drawn on standard error when it is a terminal, silent
//! otherwise (pipes, CI logs), so output meant for machines stays clean.

use indicatif::{ProgressBar, ProgressStyle};

/// A bar for work of as yet unknown length, labelled `what` (hidden off a terminal).
pub fn bar(what: &'static str) -> ProgressBar {
    let bar = ProgressBar::new(0);
    if let Ok(style) = ProgressStyle::with_template("{msg} [{bar:40}] {pos}/{len} {per_sec} eta {eta}") {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.set_message(what);
    bar
}

/// A reporter for the core's `(done, total)` callbacks that moves `bar`.
pub fn reporter(bar: &ProgressBar) -> impl FnMut(u64, u64) + '_ {
    move |done, total| {
        if bar.length() != Some(total) {
            bar.set_length(total);
        }
        bar.set_position(done);
    }
}
