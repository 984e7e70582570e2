//! Writing tensors to a safetensors file, atomically (see `crate::io`).

use super::error::WeightError;
use crate::graph::{DType, NamedTensors};
use safetensors::tensor::TensorView;
use safetensors::Dtype as FileDtype;
use std::collections::HashMap;
use std::path::Path;

fn file_dtype(d: DType) -> FileDtype {
    match d {
        DType::F32 => FileDtype::F32,
        DType::F64 => FileDtype::F64,
        DType::F16 => FileDtype::F16,
        DType::BF16 => FileDtype::BF16,
        DType::I32 => FileDtype::I32,
        DType::I64 => FileDtype::I64,
        DType::U32 => FileDtype::U32,
        DType::Bool => FileDtype::BOOL,
    }
}

/// Serialises `tensors` (names must be unique) with optional string
/// metadata, and writes the result to `path` atomically.
pub fn save_safetensors(
    path: impl AsRef<Path>,
    tensors: &NamedTensors,
    metadata: Option<HashMap<String, String>>,
) -> Result<(), WeightError> {
    let path = path.as_ref();
    let data = safetensors_bytes(path, tensors, metadata)?;
    crate::io::write_atomic(path, &data).map_err(|source| WeightError::Write { path: path.to_path_buf(), source })
}

/// The bytes of a safetensors file holding `tensors` (names must be
/// unique) and `metadata`; `path` only names the file in errors. For
/// writing several files together with [`crate::io::write_atomic_all`].
pub fn safetensors_bytes(
    path: &Path,
    tensors: &NamedTensors,
    metadata: Option<HashMap<String, String>>,
) -> Result<Vec<u8>, WeightError> {
    let bytes: Vec<(String, Vec<u8>, DType, Vec<usize>)> =
        tensors.iter().map(|(n, t)| (n.to_string(), t.to_le_bytes(), t.dtype(), t.shape().to_vec())).collect();
    let mut seen = std::collections::HashSet::new();
    if let Some((dup, ..)) = bytes.iter().find(|(n, ..)| !seen.insert(n.as_str())) {
        return Err(WeightError::Duplicate { name: dup.clone(), first: path.into(), second: path.into() });
    }
    let views: Vec<(String, TensorView<'_>)> = bytes
        .iter()
        .map(|(n, b, d, s)| {
            TensorView::new(file_dtype(*d), s.clone(), b)
                .map(|v| (n.clone(), v))
                .map_err(|source| WeightError::Parse { path: path.into(), source })
        })
        .collect::<Result<_, _>>()?;
    safetensors::serialize(views, metadata).map_err(|source| WeightError::Parse { path: path.into(), source })
}
