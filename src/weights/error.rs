//! Errors of the weight registry.

use super::report::WeightReport;
use crate::graph::{DType, TensorError};
use std::path::PathBuf;
use thiserror::Error;

#[derive(Debug, Error)]
#[non_exhaustive]
pub enum WeightError {
    #[error("cannot read {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{path} is not a valid safetensors file: {source}")]
    Parse { path: PathBuf, source: safetensors::SafeTensorError },
    #[error("{path}: {detail}")]
    Index { path: PathBuf, detail: String },
    #[error("no checkpoint in {dir}: expected model.safetensors or model.safetensors.index.json")]
    NoCheckpoint { dir: PathBuf },
    #[error("tensor `{name}` appears in both {first} and {second}")]
    Duplicate { name: String, first: PathBuf, second: PathBuf },
    #[error("no tensor `{name}` in the registry{}", closest_hint(closest))]
    NotFound { name: String, closest: Vec<String> },
    #[error("tensor `{name}` is {file_dtype} in the file and cannot be converted to {want}")]
    Unconvertible { name: String, file_dtype: String, want: DType },
    #[error("tensor `{name}`: {source}")]
    Data { name: String, source: TensorError },
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
