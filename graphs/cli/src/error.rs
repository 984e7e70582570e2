//! The tool's one error type. Whose fault an error is, and so the exit
//! status, is decided where the error is made: by the `From` impl of the
//! layer error it comes from, or by the command that builds the message
//! ([`bad`] for its arguments, [`failed`] for its own work). README's table:
//! 0 success, 1 a failure of wgraph, the device or the machine, 2 bad input.

use std::fmt::Display;
use std::io::ErrorKind;
use std::process::ExitCode;
use wgraph::{CompileError, InterpError, LoadError, RuntimeError, WeightError};
use wgraph_cli::plot::PlotError;
use wgraph_models::embed::EmbedError;
use wgraph_models::generate::GenerateError;

/// Whose fault it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fault {
    /// The user's input (files, flags, paths, configs): exit status 2.
    Input,
    /// The compiler, the device or the machine: exit status 1.
    Ours,
    /// Output piped into a command that stopped reading (`| head`): not an
    /// error, exit status 0.
    ClosedOutput,
}

/// An error any command reports, with its fault.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub(crate) struct CliError {
    pub(crate) fault: Fault,
    message: String,
}

/// Bad input: exit status 2.
pub(crate) fn bad(e: impl Display) -> CliError {
    CliError { fault: Fault::Input, message: e.to_string() }
}

/// A failure of ours: exit status 1.
pub(crate) fn failed(e: impl Display) -> CliError {
    CliError { fault: Fault::Ours, message: e.to_string() }
}

impl CliError {
    /// Prints the error (unless stdout was closed) and picks the exit status.
    pub(crate) fn report(&self) -> ExitCode {
        match self.fault {
            Fault::ClosedOutput => ExitCode::SUCCESS,
            Fault::Input => {
                eprintln!("error: {self}");
                ExitCode::from(2)
            }
            Fault::Ours => {
                eprintln!("error: {self}");
                ExitCode::FAILURE
            }
        }
    }
}

/// Messages a command builds from its arguments are about what the user gave.
impl From<String> for CliError {
    fn from(message: String) -> CliError {
        bad(message)
    }
}

impl From<&str> for CliError {
    fn from(message: &str) -> CliError {
        bad(message)
    }
}

/// The terminal and the disk are the machine's; a closed stdout ends quietly.
impl From<std::io::Error> for CliError {
    fn from(e: std::io::Error) -> CliError {
        match e.kind() {
            ErrorKind::BrokenPipe => CliError { fault: Fault::ClosedOutput, message: e.to_string() },
            _ => failed(e),
        }
    }
}

/// Reading tensors is reading the user's files; writing them fails on a
/// path the user gave that cannot be used (missing directory, no
/// permission, not a file), or on the machine (a full disk).
impl From<WeightError> for CliError {
    fn from(e: WeightError) -> CliError {
        match &e {
            WeightError::Write { source, .. } if !user_path_error(source.kind()) => failed(e),
            _ => bad(e),
        }
    }
}

/// A path the user gave that cannot be written: a missing directory, no
/// permission, not a file (as opposed to a full disk).
fn user_path_error(kind: ErrorKind) -> bool {
    matches!(
        kind,
        ErrorKind::NotFound
            | ErrorKind::PermissionDenied
            | ErrorKind::ReadOnlyFilesystem
            | ErrorKind::IsADirectory
            | ErrorKind::NotADirectory
    )
}

/// A run that failed: inputs the graph refuses and an unknown backend name
/// are bad input; the device and the kernels are ours.
impl From<RuntimeError> for CliError {
    fn from(e: RuntimeError) -> CliError {
        match e {
            RuntimeError::Input(_)
            | RuntimeError::IndexRange { .. }
            | RuntimeError::IntegerRange { .. }
            | RuntimeError::UnknownBackend { .. }
            | RuntimeError::UnknownTuneMode { .. } => bad(e),
            RuntimeError::Weights(w) => w.into(),
            e => failed(e),
        }
    }
}

/// A model that could not be loaded: the checkpoint's weights are the
/// user's input, the compiler and the device are ours.
impl From<LoadError> for CliError {
    fn from(e: LoadError) -> CliError {
        match e {
            LoadError::Weights(w) => w.into(),
            LoadError::Runtime(r) => r.into(),
            e => failed(e),
        }
    }
}

impl From<CompileError> for CliError {
    fn from(e: CompileError) -> CliError {
        failed(e)
    }
}

impl From<InterpError> for CliError {
    fn from(e: InterpError) -> CliError {
        failed(e)
    }
}

impl From<EmbedError> for CliError {
    fn from(e: EmbedError) -> CliError {
        match e {
            EmbedError::Load(l) => l.into(),
            EmbedError::Runtime(r) => r.into(),
            EmbedError::Weights(w) => w.into(),
            e @ EmbedError::MissingOutput(_) => failed(e),
            e => bad(e),
        }
    }
}

impl From<GenerateError> for CliError {
    fn from(e: GenerateError) -> CliError {
        match e {
            GenerateError::Load(l) => l.into(),
            GenerateError::Runtime(r) => r.into(),
            e @ GenerateError::MissingOutput(_) => failed(e),
            e => bad(e),
        }
    }
}

/// The trainer's errors: the checkpoint, the flags or a batch are bad input;
/// compiling and the device are ours.
impl From<wgraph::train::TrainError> for CliError {
    fn from(e: wgraph::train::TrainError) -> CliError {
        use wgraph::train::TrainError as T;
        match e {
            T::Weights(_) | T::Optim(_) => bad(e),
            T::Load(e) => e.into(),
            T::Runtime(e) => e.into(),
            e => failed(e),
        }
    }
}

/// The op-by-op check and the non-finite finder: compiling, running and
/// the interpreter, each by its own rule.
impl From<wgraph::debug::CheckError> for CliError {
    fn from(e: wgraph::debug::CheckError) -> CliError {
        use wgraph::debug::CheckError as C;
        match e {
            C::Load(e) => e.into(),
            C::Runtime(e) => e.into(),
            C::Interpreter(e) => e.into(),
            e => failed(e),
        }
    }
}

/// A plot: its path, or the font it needs, is the user's to fix; drawing
/// is ours; writing follows the disk.
impl From<PlotError> for CliError {
    fn from(e: PlotError) -> CliError {
        match &e {
            PlotError::Draw { .. } => failed(e),
            PlotError::Write { source, .. } if !user_path_error(source.kind()) => failed(e),
            _ => bad(e),
        }
    }
}

/// Errors about what the user gave: a config, a graph built from it, a
/// tensor or file of theirs, a dump or audio file.
macro_rules! input_errors {
    ($($t:ty),* $(,)?) => {$(
        impl From<$t> for CliError {
            fn from(e: $t) -> CliError {
                bad(e)
            }
        }
    )*};
}

input_errors!(
    wgraph_models::ModelError,
    wgraph_models::audio::AudioError,
    wgraph::GraphError,
    wgraph::graph::TensorError
);
