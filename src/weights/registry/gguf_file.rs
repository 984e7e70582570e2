//! GGUF files in the registry: LLaMA-family tensors under their HF names,
//! Q and K rows in HF's order, ggml blocks dequantized when read.

use super::super::suggest::closest_names;
use super::{FileBytes, Storage, StoredDtype, TensorInfo, Weights};
use crate::graph::{DType, Quant};
use crate::weights::error::WeightError;
use crate::weights::gguf::{self, GgmlType, GgufFile};
use std::borrow::Cow;
use std::path::Path;
use std::sync::Arc;

impl Weights {
    /// Adds a GGUF file's tensors: LLaMA-family names as HF's (the file's
    /// name kept in [`TensorInfo::file_name`]), Q and K rows in HF's order.
    pub(super) fn add_gguf(&mut self, path: &Path, map: FileBytes) -> Result<(), WeightError> {
        let file = GgufFile::parse(&map).map_err(|source| WeightError::Gguf { path: path.into(), source })?;
        let arch = file.architecture().unwrap_or_default().to_string();
        let count = |key: &str| file.get(&format!("{arch}.{key}")).and_then(gguf::MetaValue::as_u64);
        let heads = count("attention.head_count").unwrap_or(0) as usize;
        let kv_heads = count("attention.head_count_kv").map_or(heads, |v| v as usize);
        let file_index = self.files.len();
        for t in &file.tensors {
            let hf = gguf::hf_name(&arch, &t.name);
            let name = hf.clone().unwrap_or_else(|| t.name.clone());
            if let Some(prev) = self.entries.get(&name) {
                return Err(WeightError::Duplicate { name, first: prev.path.clone(), second: path.into() });
            }
            let shape = t.shape();
            let rows = match (hf.is_some(), gguf::rotary_heads(&t.name, heads, kv_heads)) {
                (true, Some(h)) => {
                    let order = gguf::rotary_rows(shape[0], h).ok_or_else(|| WeightError::Gguf {
                        path: path.into(),
                        source: gguf::GgufError::Dims {
                            tensor: t.name.clone(),
                            detail: format!("{} rows do not split into {h} heads of rotary pairs", shape[0]),
                        },
                    })?;
                    Some(Arc::from(order))
                }
                _ => None,
            };
            let storage_dtype = match t.ggml_type {
                GgmlType::F32 => StoredDtype::Known(DType::F32),
                GgmlType::F16 => StoredDtype::Known(DType::F16),
                GgmlType::BF16 => StoredDtype::Known(DType::BF16),
                q if q.is_supported() => StoredDtype::Ggml(q),
                _ => StoredDtype::Unsupported,
            };
            let (start, end) = (t.start as usize, (t.start + t.bytes) as usize);
            self.entries.insert(
                name,
                TensorInfo {
                    file_dtype: t.ggml_type.name().to_string(),
                    shape,
                    path: path.into(),
                    file_name: hf.is_some().then(|| t.name.clone()),
                    storage_dtype,
                    storage: Storage::Mapped { file: file_index, range: start..end, rows },
                },
            );
        }
        self.files.push(Arc::new(map));
        self.gguf = Some(Arc::new(file));
        Ok(())
    }
}

/// A quantized weight's format and its ggml blocks.
pub type QuantizedBlocks<'w> = (Quant, Cow<'w, [u8]>);

impl Weights {
    /// The block format a GGUF file stores the weight the graph calls
    /// `graph_name` in, when it is one kernels can read quantized.
    pub fn quant(&self, graph_name: &str) -> Option<Quant> {
        match self.entries.get(&self.resolve(graph_name))?.storage_dtype {
            StoredDtype::Ggml(t) => t.quant(),
            _ => None,
        }
    }

    /// The ggml blocks of a quantized weight, rows in the graph's order
    /// (borrowed from the mapping unless rows move); `Ok(None)` for a
    /// weight not stored quantized.
    pub fn blocks(&self, graph_name: &str) -> Result<Option<QuantizedBlocks<'_>>, WeightError> {
        let name = self.resolve(graph_name);
        let info = self.entries.get(&name).ok_or_else(|| WeightError::NotFound {
            closest: closest_names(&name, self.names(), 3),
            name: name.clone(),
        })?;
        let (StoredDtype::Ggml(ggml_type), Storage::Mapped { file, range, rows }) = (info.storage_dtype, &info.storage)
        else {
            return Ok(None);
        };
        let Some(quant) = ggml_type.quant() else { return Ok(None) };
        let bytes = self.files.get(*file).and_then(|m| m.get(range.clone())).unwrap_or_default();
        let elements: usize = info.shape.iter().product();
        let expected = elements / quant.block_elements() * quant.block_bytes();
        if !elements.is_multiple_of(quant.block_elements()) {
            let source = gguf::DequantError::PartialBlock {
                ggml_type,
                expected_multiple_of: quant.block_elements(),
                got: elements,
            };
            return Err(WeightError::Dequantize { name, source });
        }
        if bytes.len() != expected {
            let source = gguf::DequantError::Length { ggml_type, elements, expected, got: bytes.len() };
            return Err(WeightError::Dequantize { name, source });
        }
        Ok(Some((
            quant,
            match rows {
                Some(order) => Cow::Owned(reorder_rows(bytes, order)),
                None => Cow::Borrowed(bytes),
            },
        )))
    }
}

/// `bytes` as `order.len()` equal rows, row `i` taken from stored row
/// `order[i]` (whole rows of ggml blocks: a quantized row moves as bytes).
pub(super) fn reorder_rows(bytes: &[u8], order: &[usize]) -> Vec<u8> {
    let row = bytes.len() / order.len().max(1);
    order.iter().flat_map(|&r| &bytes[r * row..(r + 1) * row]).copied().collect()
}
