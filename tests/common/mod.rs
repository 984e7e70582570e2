//! Helpers shared by the integration tests.
#![allow(dead_code)]

pub mod gpu;
pub mod grad;

use std::path::PathBuf;
use wgraph::{Tensor, Weights};

pub fn fixture(path: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(path)
}

/// Opens a committed fixture file.
pub fn open_fixture(path: &str) -> Weights {
    Weights::open([fixture(path)]).unwrap_or_else(|e| panic!("fixture {path}: {e}"))
}

/// Asserts equal shape and dtype and elementwise `|got - want| <= atol + rtol * |want|`
/// (exact equality for integer and bool tensors), naming the worst element.
pub fn assert_close(got: &Tensor, want: &Tensor, rtol: f64, atol: f64, what: &str) {
    assert_eq!(got.shape(), want.shape(), "{what}: shape");
    assert_eq!(got.dtype(), want.dtype(), "{what}: dtype");
    let (g, w) = (got.to_f64_vec(), want.to_f64_vec());
    if !want.dtype().is_float() {
        assert_eq!(g, w, "{what}: values");
        return;
    }
    let mut worst: Option<(usize, f64)> = None;
    for (i, (a, b)) in g.iter().zip(&w).enumerate() {
        let excess = (a - b).abs() - (atol + rtol * b.abs());
        let bad = excess > 0.0 || a.is_nan() != b.is_nan();
        if bad && worst.is_none_or(|(_, e)| excess > e) {
            worst = Some((i, excess));
        }
    }
    if let Some((i, _)) = worst {
        panic!("{what}: element {i} is {} but the reference is {} (rtol {rtol}, atol {atol})", g[i], w[i]);
    }
}
