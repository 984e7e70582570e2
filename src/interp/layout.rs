//! Index helpers for row-major tensors: strides and broadcast offsets.

/// Row-major strides of `shape`.
pub fn strides(shape: &[usize]) -> Vec<usize> {
    let mut s = vec![1; shape.len()];
    for i in (0..shape.len().saturating_sub(1)).rev() {
        s[i] = s[i + 1] * shape[i + 1];
    }
    s
}

/// For every element of `out_shape` (row-major), the linear offset of the
/// element of an operand of `in_shape` that broadcasts onto it (numpy rules:
/// right-aligned, size-1 axes repeat).
pub fn broadcast_offsets(in_shape: &[usize], out_shape: &[usize]) -> Vec<usize> {
    let pad = out_shape.len() - in_shape.len();
    let in_strides = strides(in_shape);
    // Stride per output axis: 0 where the operand is missing or has size 1.
    let eff: Vec<usize> =
        (0..out_shape.len()).map(|i| if i < pad || in_shape[i - pad] == 1 { 0 } else { in_strides[i - pad] }).collect();
    let n: usize = out_shape.iter().product();
    let mut offsets = Vec::with_capacity(n);
    let mut index = vec![0usize; out_shape.len()];
    let mut offset = 0usize;
    for _ in 0..n {
        offsets.push(offset);
        // Odometer increment, keeping the offset in step.
        for axis in (0..out_shape.len()).rev() {
            index[axis] += 1;
            offset += eff[axis];
            if index[axis] < out_shape[axis] {
                break;
            }
            offset -= eff[axis] * index[axis];
            index[axis] = 0;
        }
    }
    offsets
}

/// Splits `shape` around `axis` into (outer, axis size, inner) element counts.
pub fn around_axis(shape: &[usize], axis: usize) -> (usize, usize, usize) {
    let outer = shape[..axis].iter().product();
    let inner = shape[axis + 1..].iter().product();
    (outer, shape[axis], inner)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn broadcast_offsets_repeat_size_one_axes() {
        assert_eq!(strides(&[2, 3, 4]), [12, 4, 1]);
        assert_eq!(broadcast_offsets(&[3], &[2, 3]), [0, 1, 2, 0, 1, 2]);
        assert_eq!(broadcast_offsets(&[2, 1], &[2, 3]), [0, 0, 0, 1, 1, 1]);
        assert_eq!(broadcast_offsets(&[], &[2]), [0, 0]);
        assert_eq!(broadcast_offsets(&[2, 2], &[2, 2]), [0, 1, 2, 3]);
    }
}
