//! A spinner on stderr for slow steps, shown only on a terminal.

use indicatif::{ProgressBar, ProgressStyle};
use std::time::Duration;

/// Starts a spinner saying `message`; `finish_and_clear` it when the step ends.
pub(crate) fn step(message: &str) -> ProgressBar {
    let bar = if std::io::IsTerminal::is_terminal(&std::io::stderr()) {
        ProgressBar::new_spinner()
    } else {
        ProgressBar::hidden()
    };
    bar.set_style(
        ProgressStyle::with_template("{spinner} {msg} {elapsed}").unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    bar.set_message(message.to_string());
    bar.enable_steady_tick(Duration::from_millis(100));
    bar
}
