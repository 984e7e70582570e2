//! How a command that distinguishes bad input from its own failures ends:
//! bad input exits with status 2, a failure of ours (the compiler, the
//! device, writing results) with 1.

use std::process::ExitCode;

/// What went wrong, and whose fault it is.
pub(crate) enum Failure {
    /// The user's input (files, flags, paths): exit status 2.
    BadInput(String),
    /// Ours or the machine's: exit status 1.
    Failed(String),
}

/// Bad input: exit status 2.
pub(crate) fn bad(e: impl std::fmt::Display) -> Failure {
    Failure::BadInput(e.to_string())
}

/// A failure of ours: exit status 1.
pub(crate) fn failed(e: impl std::fmt::Display) -> Failure {
    Failure::Failed(e.to_string())
}

/// Prints the error and picks the exit status.
pub(crate) fn exit(result: Result<(), Failure>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::BadInput(e)) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
        Err(Failure::Failed(e)) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
