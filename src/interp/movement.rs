//! Data movement: permute, expand, gather, slice, concat, and the
//! generated sources (range, band mask). These copy elements exactly, in
//! whatever dtype they have.

use super::layout::{broadcast_offsets, strides};
use crate::graph::{DType, Tensor, TensorData};

/// A new tensor whose element `k` is element `offsets[k]` of `t`.
pub fn pick(t: &Tensor, offsets: &[usize], shape: Vec<usize>) -> Tensor {
    fn take<T: Copy>(v: &[T], offsets: &[usize]) -> Vec<T> {
        offsets.iter().map(|&o| v[o]).collect()
    }
    let data = match t.data() {
        TensorData::F32(v) => TensorData::F32(take(v, offsets)),
        TensorData::F64(v) => TensorData::F64(take(v, offsets)),
        TensorData::F16(v) => TensorData::F16(take(v, offsets)),
        TensorData::BF16(v) => TensorData::BF16(take(v, offsets)),
        TensorData::I32(v) => TensorData::I32(take(v, offsets)),
        TensorData::I64(v) => TensorData::I64(take(v, offsets)),
        TensorData::U32(v) => TensorData::U32(take(v, offsets)),
        TensorData::Bool(v) => TensorData::Bool(take(v, offsets)),
    };
    // Every caller builds exactly one offset per element of `shape`.
    debug_assert_eq!(offsets.len(), shape.iter().product::<usize>());
    Tensor::from_data_unchecked(shape, data)
}

pub fn permute(x: &Tensor, perm: &[usize], out_shape: &[usize]) -> Tensor {
    let in_strides = strides(x.shape());
    // Offsets of the output's axes in the input: stride of the source axis.
    let permuted: Vec<usize> = perm.iter().map(|&p| in_strides[p]).collect();
    let n: usize = out_shape.iter().product();
    let mut offsets = Vec::with_capacity(n);
    let mut index = vec![0usize; out_shape.len()];
    for _ in 0..n {
        offsets.push(index.iter().zip(&permuted).map(|(i, s)| i * s).sum());
        for axis in (0..out_shape.len()).rev() {
            index[axis] += 1;
            if index[axis] < out_shape[axis] {
                break;
            }
            index[axis] = 0;
        }
    }
    pick(x, &offsets, out_shape.to_vec())
}

pub fn expand(x: &Tensor, out_shape: &[usize]) -> Tensor {
    pick(x, &broadcast_offsets(x.shape(), out_shape), out_shape.to_vec())
}

/// `numpy.take`; the caller has checked every index is in range.
pub fn gather(data: &Tensor, indices: &[usize], axis: usize, out_shape: &[usize]) -> Tensor {
    let outer: usize = data.shape()[..axis].iter().product();
    let n = data.shape()[axis];
    let inner: usize = data.shape()[axis + 1..].iter().product();
    let mut offsets = Vec::with_capacity(outer * indices.len() * inner);
    for o in 0..outer {
        for &ix in indices {
            for i in 0..inner {
                offsets.push(o * n * inner + ix * inner + i);
            }
        }
    }
    pick(data, &offsets, out_shape.to_vec())
}

pub fn slice(x: &Tensor, axis: usize, start: usize, step: usize, out_shape: &[usize]) -> Tensor {
    let outer: usize = x.shape()[..axis].iter().product();
    let n = x.shape()[axis];
    let inner: usize = x.shape()[axis + 1..].iter().product();
    let count = out_shape[axis];
    let mut offsets = Vec::with_capacity(outer * count * inner);
    for o in 0..outer {
        for j in 0..count {
            for i in 0..inner {
                offsets.push(o * n * inner + (start + j * step) * inner + i);
            }
        }
    }
    pick(x, &offsets, out_shape.to_vec())
}

/// Concatenation: for each outer index, each part contributes its block of
/// `len * inner` elements in turn.
pub fn concat(parts: &[&Tensor], axis: usize, out_shape: &[usize]) -> Tensor {
    fn join<T: Copy>(parts: &[(&[T], usize)], outer: usize) -> Vec<T> {
        let mut out = Vec::new();
        for o in 0..outer {
            for (v, block) in parts {
                out.extend_from_slice(&v[o * block..(o + 1) * block]);
            }
        }
        out
    }
    let outer: usize = out_shape[..axis].iter().product();
    let inner: usize = out_shape[axis + 1..].iter().product();
    let blocks: Vec<usize> = parts.iter().map(|p| p.shape()[axis] * inner).collect();
    macro_rules! joined {
        ($variant:ident) => {{
            let typed: Vec<(&[_], usize)> = parts
                .iter()
                .zip(&blocks)
                .filter_map(|(p, &b)| match p.data() {
                    TensorData::$variant(v) => Some((v.as_slice(), b)),
                    _ => None,
                })
                .collect();
            TensorData::$variant(join(&typed, outer))
        }};
    }
    // Inference guarantees every part has the first part's dtype.
    let data = match parts[0].data() {
        TensorData::F32(_) => joined!(F32),
        TensorData::F64(_) => joined!(F64),
        TensorData::F16(_) => joined!(F16),
        TensorData::BF16(_) => joined!(BF16),
        TensorData::I32(_) => joined!(I32),
        TensorData::I64(_) => joined!(I64),
        TensorData::U32(_) => joined!(U32),
        TensorData::Bool(_) => joined!(Bool),
    };
    Tensor::from_data_unchecked(out_shape.to_vec(), data)
}

pub fn range(start: i64, step: i64, len: usize, dtype: DType) -> Tensor {
    let v: Vec<i64> = (0..len as i64).map(|i| start + i * step).collect();
    Tensor::from_i64_unchecked(dtype, vec![len], &v)
}

pub fn band_mask(rows: usize, cols: usize, before: Option<usize>, after: Option<usize>) -> Tensor {
    let mut v = Vec::with_capacity(rows * cols);
    for i in 0..rows {
        // Query row i sits at key position i + cols - rows.
        let q = i as i64 + cols as i64 - rows as i64;
        for j in 0..cols {
            let d = j as i64 - q;
            let ok_before = before.is_none_or(|b| d >= -(b as i64));
            let ok_after = after.is_none_or(|a| d <= a as i64);
            v.push((ok_before && ok_after) as i64);
        }
    }
    Tensor::from_i64_unchecked(DType::Bool, vec![rows, cols], &v)
}
