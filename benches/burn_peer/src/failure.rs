//! Turning a burn panic into a table cell. burn reports most runtime
//! failures on lavapipe (out of memory, a missing feature, an autotune
//! candidate that does not compile) by panicking; the benchmark prints the
//! reason in the table and goes on with the next workload.

use std::panic::{self, AssertUnwindSafe};

/// Runs `f`, turning a panic into `Err` with its message.
///
/// The closure usually holds burn tensors and modules, which are not
/// `UnwindSafe`; nothing of them is used after a panic (the workload's
/// result is the error), hence the `AssertUnwindSafe`.
pub fn catch<T>(what: &str, f: impl FnOnce() -> Result<T, String>) -> Result<T, String> {
    match panic::catch_unwind(AssertUnwindSafe(f)) {
        Ok(result) => result,
        Err(payload) => {
            let message = payload
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "non-text panic payload".to_string());
            Err(format!("{what} panicked: {}", one_line(&message)))
        }
    }
}

/// The first line of `message`, shortened to fit a table cell.
pub fn one_line(message: &str) -> String {
    let line = message.lines().next().unwrap_or_default().replace('|', "/");
    if line.chars().count() > 160 {
        format!("{}...", line.chars().take(160).collect::<String>())
    } else {
        line
    }
}
