//! Shape ops: permute, reshape, expand, slice, concat, gather and scatter.

use super::*;

/// Reorders the axes: axis `i` of the result is axis `perm[i]` of `x`
/// (`torch.permute`). A view: kernels read through it instead of copying.
///
/// ```
/// # use wgraph::{ops, DType, Graph};
/// # let g = Graph::new("g");
/// let x = g.input("x", DType::F32, ["batch", "seq", "heads"]);
/// assert_eq!(format!("{:?}", ops::permute(&x, &[2, 0, 1]).shape()), "[heads, batch, seq]");
/// ```
#[track_caller]
pub fn permute(x: &Value, perm: &[usize]) -> Value {
    let perm = perm.to_vec();
    Graph::build("permute", &[x], |_| Ok(Op::Permute { perm }))
}

/// Swaps two axes (a [`permute`]).
///
/// ```
/// # use wgraph::{ops, DType, Graph};
/// # let g = Graph::new("g");
/// let x = g.input("x", DType::F32, ["batch", "seq", "heads"]);
/// assert_eq!(format!("{:?}", ops::transpose(&x, 0, -1).shape()), "[heads, seq, batch]");
/// ```
#[track_caller]
pub fn transpose(x: &Value, a: isize, b: isize) -> Value {
    Graph::build("transpose", &[x], |t| {
        let rank = t[0].rank();
        let (a, b) = (resolve_axis(a, rank)?, resolve_axis(b, rank)?);
        let mut perm: Vec<usize> = (0..rank).collect();
        perm.swap(a, b);
        Ok(Op::Permute { perm })
    })
}

/// Same elements in row-major order, another shape of the same element
/// count; symbolic dims must appear on both sides (splitting heads, flattening
/// `[batch, seq]` to `[batch*seq]`).
///
/// ```
/// # use wgraph::{ops, DType, Dim, Graph};
/// # let g = Graph::new("g");
/// let x = g.input("x", DType::F32, [Dim::sym("batch"), Dim::sym("seq"), Dim::new(768)]);
/// let heads = ops::reshape(&x, [Dim::sym("batch"), Dim::sym("seq"), Dim::new(12), Dim::new(64)]);
/// assert_eq!(format!("{:?}", heads.shape()), "[batch, seq, 12, 64]");
/// ```
#[track_caller]
pub fn reshape(x: &Value, shape: impl IntoIterator<Item = impl Into<Dim>>) -> Value {
    let shape = dims(shape);
    Graph::build("reshape", &[x], |_| Ok(Op::Reshape { shape }))
}

/// Inserts a size-1 axis at `axis` (which may equal the rank).
///
/// ```
/// # use wgraph::{ops, DType, Graph};
/// # let g = Graph::new("g");
/// let mask = g.input("attention_mask", DType::I64, ["batch", "seq"]);
/// assert_eq!(format!("{:?}", ops::unsqueeze(&mask, 1).shape()), "[batch, 1, seq]");
/// ```
#[track_caller]
pub fn unsqueeze(x: &Value, axis: isize) -> Value {
    Graph::build("unsqueeze", &[x], |t| {
        let mut shape = t[0].shape.clone();
        let a = resolve_axis(axis, shape.len() + 1)?;
        shape.insert(a, Dim::new(1));
        Ok(Op::Reshape { shape })
    })
}

/// Removes a size-1 axis; any other size is an error.
///
/// ```
/// # use wgraph::{ops, DType, Dim, Graph};
/// # let g = Graph::new("g");
/// let logits = g.input("logits", DType::F32, [Dim::sym("batch"), Dim::new(1)]);
/// assert_eq!(format!("{:?}", ops::squeeze(&logits, -1).shape()), "[batch]");
/// ```
#[track_caller]
pub fn squeeze(x: &Value, axis: isize) -> Value {
    Graph::build("squeeze", &[x], |t| {
        let mut shape = t[0].shape.clone();
        let a = resolve_axis(axis, shape.len())?;
        if shape[a] != Dim::new(1) {
            return Err(ShapeError::Invalid {
                what: "squeeze",
                detail: format!("axis {a} has size {}, not 1", shape[a]),
            });
        }
        shape.remove(a);
        Ok(Op::Reshape { shape })
    })
}

/// Broadcasts to a larger shape (numpy `broadcast_to`): size-1 axes stretch
/// and new axes go in front. A view: nothing is copied.
///
/// ```
/// # use wgraph::{ops, DType, Graph};
/// # let g = Graph::new("g");
/// let bias = g.input("bias", DType::F32, [1usize, 8]);
/// assert_eq!(format!("{:?}", ops::expand(&bias, [2usize, 4, 8]).shape()), "[2, 4, 8]");
/// ```
#[track_caller]
pub fn expand(x: &Value, shape: impl IntoIterator<Item = impl Into<Dim>>) -> Value {
    let shape = dims(shape);
    Graph::build("expand", &[x], |_| Ok(Op::Expand { shape }))
}

/// `numpy.take(data, indices, axis)`; an embedding lookup is `gather(&table, &ids, 0)`.
/// Indices are any integer dtype; out-of-range indices are a run-time error.
///
/// ```
/// # use wgraph::{ops, DType, Graph};
/// # let g = Graph::new("g");
/// let table = g.weight("embeddings.word_embeddings.weight", DType::F32, [30522usize, 768]);
/// let ids = g.input("input_ids", DType::I64, ["batch", "seq"]);
/// assert_eq!(format!("{:?}", ops::gather(&table, &ids, 0).shape()), "[batch, seq, 768]");
/// ```
#[track_caller]
pub fn gather(data: &Value, indices: &Value, axis: isize) -> Value {
    Graph::build("gather", &[data, indices], |t| Ok(Op::Gather { axis: resolve_axis(axis, t[0].rank())? }))
}

/// The adjoint of [`gather`] (PyTorch's `index_add` into zeros, or
/// `scatter_add` with the index broadcast): `updates` is shaped like
/// `gather(data, indices, axis)` and the result like `data`, with `size`
/// along `axis`. Element `j` along `axis` is the sum of the update rows at
/// every index position holding `j`, added in index order (so every run
/// gives the same bits); rows no index picks are zero. Indices are any
/// integer dtype; as with [`gather`], an out-of-range index is a run-time
/// error on the interpreter and for graph inputs, while the GPU kernel
/// clamps it into `0..size` (exactly the rows the GPU gather reads).
///
/// ```
/// # use wgraph::{ops, DType, Graph};
/// # let g = Graph::new("g");
/// let grad_rows = g.input("grad", DType::F32, [2usize, 9, 768]);
/// let ids = g.input("input_ids", DType::I64, [2usize, 9]);
/// let table_grad = ops::scatter_add(&grad_rows, &ids, 0, 30522usize);
/// assert_eq!(format!("{:?}", table_grad.shape()), "[30522, 768]");
/// ```
#[track_caller]
pub fn scatter_add(updates: &Value, indices: &Value, axis: isize, size: impl Into<Dim>) -> Value {
    let size = size.into();
    Graph::build("scatter_add", &[updates, indices], |t| {
        let axis = resolve_axis(axis, scatter_rank(t[0], t[1])?)?;
        Ok(Op::ScatterAdd { axis, size })
    })
}

/// Elements `start..end` along `axis`; bounds may be symbolic.
///
/// ```
/// # use wgraph::{ops, DType, Graph};
/// # let g = Graph::new("g");
/// let x = g.input("x", DType::F32, ["batch", "seq"]);
/// assert_eq!(format!("{:?}", ops::slice(&x, 1, 1usize, "seq").shape()), "[batch, seq - 1]");
/// ```
#[track_caller]
pub fn slice(x: &Value, axis: isize, start: impl Into<Dim>, end: impl Into<Dim>) -> Value {
    slice_step(x, axis, start, end, 1)
}

/// Elements `start, start+step, ... < end` along `axis`; with a step above 1
/// the span must be static.
///
/// ```
/// # use wgraph::{ops, DType, Graph};
/// # let g = Graph::new("g");
/// let x = g.input("x", DType::F32, [4usize, 10]);
/// assert_eq!(format!("{:?}", ops::slice_step(&x, 1, 1usize, 10usize, 2).shape()), "[4, 5]");
/// ```
#[track_caller]
pub fn slice_step(x: &Value, axis: isize, start: impl Into<Dim>, end: impl Into<Dim>, step: usize) -> Value {
    let (start, end) = (start.into(), end.into());
    Graph::build("slice", &[x], |t| Ok(Op::Slice { axis: resolve_axis(axis, t[0].rank())?, start, end, step }))
}

/// `len` elements from `start` along `axis` (PyTorch `narrow`).
///
/// ```
/// # use wgraph::{ops, DType, Dim, Graph};
/// # let g = Graph::new("g");
/// let cache = g.input("past_key", DType::F32, [Dim::sym("past"), Dim::new(64)]);
/// assert_eq!(format!("{:?}", ops::narrow(&cache, 0, 0usize, 16usize).shape()), "[16, 64]");
/// ```
#[track_caller]
pub fn narrow(x: &Value, axis: isize, start: impl Into<Dim>, len: impl Into<Dim>) -> Value {
    let start = start.into();
    let end = &start + &len.into();
    slice_step(x, axis, start, end, 1)
}

/// Splits `axis` into consecutive pieces of the given sizes (a fused QKV
/// projection into q, k and v); the sizes need not cover the whole axis.
///
/// ```
/// # use wgraph::{ops, DType, Dim, Graph};
/// # let g = Graph::new("g");
/// let qkv = g.input("qkv", DType::F32, [Dim::sym("seq"), Dim::new(96)]);
/// let pieces = ops::split(&qkv, -1, &[32, 32, 32]);
/// assert_eq!(format!("{:?}", pieces[1].shape()), "[seq, 32]");
/// ```
#[track_caller]
pub fn split(x: &Value, axis: isize, sizes: &[usize]) -> Vec<Value> {
    let mut start = 0;
    sizes
        .iter()
        .map(|&n| {
            let piece = slice_step(x, axis, start, start + n, 1);
            start += n;
            piece
        })
        .collect()
}

/// Joins values along `axis`; every other dim must agree, and so must the
/// dtypes.
///
/// ```
/// # use wgraph::{ops, DType, Graph};
/// # let g = Graph::new("g");
/// let (past, new) = (g.input("past", DType::F32, ["past", "d"]), g.input("new", DType::F32, ["seq", "d"]));
/// assert_eq!(format!("{:?}", ops::concat(&[&past, &new], 0).shape()), "[past + seq, d]");
/// ```
#[track_caller]
pub fn concat(values: &[&Value], axis: isize) -> Value {
    Graph::build("concat", values, |t| Ok(Op::Concat { axis: resolve_axis(axis, t[0].rank())? }))
}
