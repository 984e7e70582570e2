//! Errors of the weight registry.

use super::report::WeightReport;
use crate::graph::{DType, TensorError};
use std::path::PathBuf;
use thiserror::Error;

/// Errors of the weight layer: opening, reading and writing checkpoints, and
/// the build-time check of a graph's weights.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum WeightError {
    /// A file could not be opened, mapped or read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What the OS said.
        source: std::io::Error,
    },
    /// A file could not be written (missing directory, no permission, full disk).
    #[error("cannot write {path}: {source}")]
    Write {
        /// The file.
        path: PathBuf,
        /// What the OS said.
        source: std::io::Error,
    },
    /// A path to read tensors from is not a regular file (a directory, a
    /// FIFO that would block, a device): nothing is opened.
    #[error("{path} is not a regular file ({kind}); a checkpoint or inputs file must be one")]
    NotAFile {
        /// The path.
        path: PathBuf,
        /// What it is instead.
        kind: &'static str,
    },
    /// A file's safetensors header could not be parsed (not safetensors, or
    /// truncated), or the writer could not serialise the tensors it was given.
    #[error("{path} is not a valid safetensors file: {source}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// The safetensors crate's complaint.
        source: safetensors::SafeTensorError,
    },
    /// A GGUF file that cannot be read as one.
    #[error("{path}: {source}")]
    Gguf {
        /// The file.
        path: PathBuf,
        /// What is wrong, naming the key, tensor or field.
        source: super::gguf::GgufError,
    },
    /// A GGUF tensor whose blocks cannot be dequantized.
    #[error("`{name}`: {source}")]
    Dequantize {
        /// The tensor's name.
        name: String,
        /// Why.
        source: super::gguf::DequantError,
    },
    /// A `model.safetensors.index.json` is malformed or disagrees with its shards.
    #[error("{path}: {detail}")]
    Index {
        /// The index file.
        path: PathBuf,
        /// What is wrong with it.
        detail: String,
    },
    /// A model directory holds neither `model.safetensors` nor an index of shards.
    #[error("no checkpoint in {dir}: expected model.safetensors or model.safetensors.index.json")]
    NoCheckpoint {
        /// The directory.
        dir: PathBuf,
    },
    /// Two files opened together both hold a tensor of this name (or the
    /// writer was given one name twice: then both paths are the output file).
    #[error("tensor `{name}` appears in both {first} and {second}")]
    Duplicate {
        /// The tensor's name.
        name: String,
        /// The file read first.
        first: PathBuf,
        /// The file that holds it again.
        second: PathBuf,
    },
    /// A tensor was read by a name the registry does not hold.
    #[error("no tensor `{name}` in the registry{}", closest_hint(closest))]
    NotFound {
        /// The stored name asked for (with the registry's prefix).
        name: String,
        /// The closest stored names, closest first.
        closest: Vec<String>,
    },
    /// A stored tensor's format cannot become the dtype asked for (a float read
    /// as an integer, or a format wgraph cannot decode, such as fp8).
    #[error("tensor `{name}` is {file_dtype} in the file and cannot be converted to {want}")]
    Unconvertible {
        /// The stored name.
        name: String,
        /// The dtype as the file spells it (`F8_E4M3`).
        file_dtype: String,
        /// The dtype asked for.
        want: DType,
    },
    /// A stored tensor's bytes do not match its header's shape and dtype.
    #[error("tensor `{name}`: {source}")]
    Data {
        /// The tensor's name.
        name: String,
        /// What is wrong with its data.
        source: TensorError,
    },
    /// The graph's weights do not match the registry: every problem, in one report.
    #[error("{0}")]
    Check(Box<WeightReport>),
}

fn closest_hint(closest: &[String]) -> String {
    if closest.is_empty() {
        String::new()
    } else {
        format!("; closest: {}", closest.iter().map(|c| format!("`{c}`")).collect::<Vec<_>>().join(", "))
    }
}
