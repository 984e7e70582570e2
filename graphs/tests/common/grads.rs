#![allow(dead_code)]

//! PyTorch's loss and `param.grad` references (graphs/tests/fixtures/grads/hf,
//! made by graphs/tests/fixtures/grads/generate_hf.py) and the comparison the
//! library and CLI gradient tests share. Included with `#[path]` by the
//! tests that use it.

use std::path::{Path, PathBuf};
use wgraph::{NamedTensors, Tensor, Weights};

pub fn fixture(name: &str) -> PathBuf {
    crate::fixtures::fixture("grads/hf").join(name)
}

pub fn read_all(path: &Path) -> Vec<(String, Tensor)> {
    let w = Weights::open([path]).unwrap();
    let names: Vec<String> = w.names().map(String::from).collect();
    names.into_iter().map(|n| (n.clone(), w.read(&n).unwrap())).collect()
}

/// Compares `ours` with the fixture's grads.safetensors: the loss within
/// 1e-5, every gradient within `tol` of its largest magnitude. Returns the
/// worst relative error. Gradients that are zero in exact arithmetic
/// (attention's key bias: softmax ignores a constant added to every score
/// of a row) are rounding noise on both sides, so a tensor's scale is at
/// least 1e-3 of the model's largest gradient.
pub fn assert_matches_reference(name: &str, ours: &NamedTensors, tol: f64) -> f64 {
    let want = read_all(&fixture(name).join("grads.safetensors"));
    let max_abs = |t: &Tensor| t.to_f64_vec().iter().map(|v| v.abs()).fold(0.0, f64::max);
    let floor = 1e-3 * want.iter().filter(|(k, _)| k != "loss").map(|(_, t)| max_abs(t)).fold(0.0, f64::max);
    assert!(floor > 0.0, "{name}: PyTorch's gradients are all zeros");
    let mut worst = 0.0f64;
    for (key, w) in &want {
        let got = ours.get(key).unwrap_or_else(|| panic!("{name}: no gradient for `{key}`"));
        assert_eq!(got.shape(), w.shape(), "{name}: `{key}` shape");
        let (g, w) = (got.to_f64_vec(), w.to_f64_vec());
        let diff = g.iter().zip(&w).map(|(a, b)| (a - b).abs()).fold(0.0, f64::max);
        if key == "loss" {
            assert!(diff <= 1e-5, "{name}: loss {g:?}, PyTorch {w:?}");
            continue;
        }
        let scale = w.iter().map(|v| v.abs()).fold(floor, f64::max);
        let rel = diff / scale;
        assert!(rel <= tol, "{name}: `{key}` differs from PyTorch by {diff:e} ({rel:e} of its max {scale:e})");
        worst = worst.max(rel);
    }
    worst
}
