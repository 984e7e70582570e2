//! Sources: constants, scalars, ranges and attention masks.

use super::*;

/// Embeds a literal tensor.
///
/// ```
/// # use wgraph::{ops, DType, Graph};
/// # let g = Graph::new("g");
/// let t = ops::constant(&g, wgraph::Tensor::new([2, 2], vec![1.0f32, 0.0, 0.0, 1.0]).unwrap());
/// assert_eq!(format!("{:?}", t.shape()), "[2, 2]");
/// ```
#[track_caller]
pub fn constant(g: &Graph, value: Tensor) -> Value {
    g.constant(value)
}

/// A rank-0 constant of `dtype`.
///
/// ```
/// # use wgraph::{ops, DType, Graph};
/// # let g = Graph::new("g");
/// let eps = ops::scalar(&g, 1e-5, DType::F32);
/// assert!(eps.shape().is_empty());
/// ```
#[track_caller]
pub fn scalar(g: &Graph, value: f64, dtype: DType) -> Value {
    g.constant(Tensor::from_f64_unchecked(dtype, Vec::new(), &[value]))
}

/// `[start, start+step, ...]`, `len` elements of `dtype` (position ids).
///
/// ```
/// # use wgraph::{ops, DType, Graph};
/// # let g = Graph::new("g");
/// let positions = ops::range(&g, 0, 1, "seq", DType::I64);
/// assert_eq!(format!("{:?}", positions.shape()), "[seq]");
/// ```
#[track_caller]
pub fn range(g: &Graph, start: i64, step: i64, len: impl Into<Dim>, dtype: DType) -> Value {
    g.build_source(Op::Range { start, step, len: len.into(), dtype })
}

/// A bool `[rows, cols]` band mask, true where attention is allowed: query
/// row `i` (at key position `i + cols - rows`) sees keys at most `before`
/// positions back and `after` positions ahead (`None` = unbounded).
///
/// ```
/// # use wgraph::{ops, DType, Graph};
/// # let g = Graph::new("g");
/// let local = ops::band_mask(&g, 4usize, 4usize, Some(2), Some(2)); // a sliding window
/// assert_eq!((format!("{:?}", local.shape()), local.dtype()), ("[4, 4]".into(), DType::Bool));
/// ```
#[track_caller]
pub fn band_mask(
    g: &Graph,
    rows: impl Into<Dim>,
    cols: impl Into<Dim>,
    before: Option<usize>,
    after: Option<usize>,
) -> Value {
    g.build_source(Op::BandMask { rows: rows.into(), cols: cols.into(), before, after })
}

/// The causal mask: each query sees itself and every earlier key. With a KV
/// cache, `rows` is the new tokens and `cols` all tokens.
///
/// ```
/// # use wgraph::{ops, Dim, Graph};
/// # let g = Graph::new("g");
/// let (seq, past) = (Dim::sym("seq"), Dim::sym("past"));
/// let mask = ops::causal_mask(&g, seq.clone(), &past + &seq); // new tokens x all tokens
/// assert_eq!(format!("{:?}", mask.shape()), "[seq, past + seq]");
/// ```
#[track_caller]
pub fn causal_mask(g: &Graph, rows: impl Into<Dim>, cols: impl Into<Dim>) -> Value {
    band_mask(g, rows, cols, None, Some(0))
}
