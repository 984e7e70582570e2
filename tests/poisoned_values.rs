//! A value whose op failed keeps the type it would have had where that is
//! known, so model code can read shapes after an error and every error is
//! still reported once.

use wgraph::graph::ops;
use wgraph::{DType, Dim, Graph};

#[test]
fn a_duplicate_weight_keeps_its_declared_shape_and_ops_on_it_keep_theirs() {
    let g = Graph::new("poison");
    let x = g.input("x", DType::F32, [Dim::sym("batch"), 4.into()]);
    let _first = g.weight("w", DType::F32, [4usize, 3]);
    // Declared again with another shape: an error, but the shape is known.
    let w = g.weight("w", DType::F32, [4usize, 5]);
    assert!(w.is_poisoned());
    assert_eq!(w.shape(), vec![Dim::new(4), Dim::new(5)]);
    // An op over it stays poisoned, adds no error, and has the shape it would have had.
    let y = ops::matmul(&x, &w);
    assert!(y.is_poisoned());
    assert_eq!(y.shape(), vec![Dim::sym("batch"), Dim::new(5)]);
    assert_eq!(y.dim(-1), Some(Dim::new(5)));
    assert_eq!(format!("{y:?}"), "<poisoned> : f32[batch, 5]");
    assert_eq!(g.errors().len(), 1, "{:?}", g.errors());
}

#[test]
fn a_failed_op_has_no_shape_and_indexing_it_is_safe() {
    let g = Graph::new("poison");
    let a = g.input("a", DType::F32, [2usize, 3]);
    let b = g.input("b", DType::F32, [4usize, 5]);
    let bad = ops::matmul(&a, &b);
    assert!(bad.is_poisoned());
    assert!(bad.shape().is_empty());
    assert_eq!(bad.dim(0), None);
    // Reading on builds more poisoned values without new errors.
    let more = ops::softmax(&ops::reshape(&bad, [Dim::new(1), Dim::new(1)]), -1);
    assert!(more.is_poisoned());
    assert_eq!(g.errors().len(), 1);
    let err = more.checked().unwrap_err().to_string();
    assert!(err.contains("matmul"), "{err}");
}
