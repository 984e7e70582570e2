//! Host tensors to GPU bytes and back. Every GPU element is 4 bytes: floats
//! as f32, signed integers as i32 (range-checked: GPUs have no i64), bool
//! and u32 as u32.

use super::error::RuntimeError;
use crate::graph::{DType, Tensor};
use std::borrow::Cow;

/// Little-endian GPU bytes of `t` (named `name` in errors).
pub fn to_gpu_bytes<'t>(name: &str, t: &'t Tensor) -> Result<Cow<'t, [u8]>, RuntimeError> {
    // f32 is the GPU's layout already: borrowed, no copy of a large weight.
    if let Some(v) = t.as_slice::<f32>() {
        return Ok(Cow::Borrowed(bytemuck::cast_slice(v)));
    }
    let dtype = t.dtype();
    if dtype.is_float() {
        let v = t.to_f32_vec();
        return Ok(Cow::Owned(bytemuck::cast_slice(&v).to_vec()));
    }
    if matches!(dtype, DType::I32 | DType::I64) {
        let mut out = Vec::with_capacity(t.numel() * 4);
        for v in t.to_i64_vec() {
            let x = i32::try_from(v).map_err(|_| RuntimeError::IntegerRange {
                name: name.to_string(),
                value: v,
                gpu_type: "i32",
                hint: "integer values must lie in -2^31..2^31",
            })?;
            out.extend_from_slice(&x.to_le_bytes());
        }
        return Ok(Cow::Owned(out));
    }
    let v: Vec<u32> = t.to_i64_vec().into_iter().map(|x| x as u32).collect();
    Ok(Cow::Owned(bytemuck::cast_slice(&v).to_vec()))
}

/// A tensor of `dtype` and `shape` from GPU bytes.
pub fn from_gpu_bytes(dtype: DType, shape: Vec<usize>, bytes: &[u8]) -> Result<Tensor, crate::graph::TensorError> {
    let words: Vec<[u8; 4]> = bytes.chunks_exact(4).map(|c| [c[0], c[1], c[2], c[3]]).collect();
    if dtype.is_float() {
        let v: Vec<f32> = words.iter().map(|w| f32::from_le_bytes(*w)).collect();
        return Ok(Tensor::new(shape, v)?.cast(dtype));
    }
    if matches!(dtype, DType::I32 | DType::I64) {
        let v: Vec<i64> = words.iter().map(|w| i32::from_le_bytes(*w) as i64).collect();
        return Ok(Tensor::new(shape, v)?.cast(dtype));
    }
    let v: Vec<i64> = words.iter().map(|w| u32::from_le_bytes(*w) as i64).collect();
    Ok(Tensor::new(shape, v)?.cast(dtype))
}

/// The tensor in a mapped staging buffer (then unmapped).
pub(super) fn read_mapped(
    staging: &wgpu::Buffer,
    bytes: u64,
    dtype: DType,
    shape: Vec<usize>,
    name: &str,
) -> Result<Tensor, RuntimeError> {
    let data = if bytes > 0 {
        let view = staging
            .slice(..bytes)
            .get_mapped_range()
            .map_err(|e| RuntimeError::Readback { tensor: name.to_string(), detail: e.to_string() })?;
        let v = view.to_vec();
        drop(view);
        staging.unmap();
        v
    } else {
        Vec::new()
    };
    from_gpu_bytes(dtype, shape, &data)
        .map_err(|e| RuntimeError::Readback { tensor: name.to_string(), detail: e.to_string() })
}
