//! How a command that distinguishes bad input from its own failures ends:
//! bad input exits with status 2, a failure of ours (the compiler, the
//! device, writing results) with 1.

use std::process::ExitCode;
use wgraph_graphs::embed::EmbedError;
use wgraph_graphs::generate::GenerateError;

/// What went wrong, and whose fault it is.
pub(crate) enum Failure {
    /// The user's input (files, flags, paths): exit status 2.
    BadInput(String),
    /// Ours or the machine's: exit status 1.
    Failed(String),
}

impl Failure {
    /// The message, for commands that report through `Box<dyn Error>`
    /// (classified again by [`classify`]: a message is bad input).
    pub(crate) fn message(self) -> String {
        match self {
            Failure::BadInput(m) | Failure::Failed(m) => m,
        }
    }
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

/// A model that could not be loaded: the checkpoint's weights are the
/// user's input, the compiler and the device are ours.
pub(crate) fn load_failure(e: wgraph::LoadError) -> Failure {
    match e {
        wgraph::LoadError::Weights(w) => weights_failure(w),
        wgraph::LoadError::Runtime(r) => runtime_failure(r),
        e => failed(e),
    }
}

/// A run that failed: inputs the graph refuses are bad input.
pub(crate) fn runtime_failure(e: wgraph::RuntimeError) -> Failure {
    use wgraph::RuntimeError as R;
    match e {
        R::Input(_) | R::IndexRange { .. } | R::IntegerRange { .. } | R::UnknownBackend { .. } => bad(e),
        R::Weights(w) => weights_failure(w),
        e => failed(e),
    }
}

/// Reading or writing tensors: a path the user gave that cannot be used
/// (missing directory, no permission, not a file) is bad input; a full disk
/// or another I/O failure while writing is the machine's.
pub(crate) fn weights_failure(e: wgraph::WeightError) -> Failure {
    use std::io::ErrorKind as K;
    match &e {
        wgraph::WeightError::Write { source, .. } => match source.kind() {
            K::NotFound | K::PermissionDenied | K::ReadOnlyFilesystem | K::IsADirectory | K::NotADirectory => bad(e),
            _ => failed(e),
        },
        _ => bad(e),
    }
}

/// An error of a command that reports through `Box<dyn Error>`, sorted by
/// whose fault it is: the user's files, flags and inputs (exit 2), or the
/// compiler, the device or the machine (exit 1). Messages a command builds
/// itself are about the arguments it was given.
/// Typed errors of our own (compiler, interpreter, device) are failures.
pub(crate) fn classify(e: Box<dyn std::error::Error>) -> Failure {
    let e = match e.downcast::<wgraph::LoadError>() {
        Ok(e) => return load_failure(*e),
        Err(e) => e,
    };
    let e = match e.downcast::<wgraph::RuntimeError>() {
        Ok(e) => return runtime_failure(*e),
        Err(e) => e,
    };
    let e = match e.downcast::<wgraph::WeightError>() {
        Ok(e) => return weights_failure(*e),
        Err(e) => e,
    };
    let e = match e.downcast::<EmbedError>() {
        Ok(e) => {
            return match *e {
                EmbedError::Load(l) => load_failure(l),
                EmbedError::Runtime(r) => runtime_failure(r),
                EmbedError::Weights(w) => weights_failure(w),
                e @ EmbedError::MissingOutput(_) => failed(e),
                e => bad(e),
            }
        }
        Err(e) => e,
    };
    let e = match e.downcast::<GenerateError>() {
        Ok(e) => {
            return match *e {
                GenerateError::Load(l) => load_failure(l),
                GenerateError::Runtime(r) => runtime_failure(r),
                e @ GenerateError::MissingOutput(_) => failed(e),
                e => bad(e),
            }
        }
        Err(e) => e,
    };
    // The compiler, the interpreter and the terminal are ours; everything
    // else a command reports (configs, inputs, flags, the messages commands
    // build from their arguments) is about what the user gave.
    let ours = e.is::<wgraph::CompileError>() || e.is::<wgraph::InterpError>() || e.is::<std::io::Error>();
    if ours {
        failed(e)
    } else {
        bad(e)
    }
}
