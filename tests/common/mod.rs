//! Helpers shared by the integration tests.
#![allow(dead_code)]

pub mod gguf_write;
pub mod gpu;
pub mod grad;
pub mod op_cases;
pub mod optim;
mod rng;

pub use rng::Rng;

use std::path::PathBuf;
use wgraph::compile::{compile, CompileError, CompileOptions, MatmulKernel, Program, Target};
use wgraph::graph::Ir;
use wgraph::{Graph, Settings, Tensor, Weights};

/// The storage-buffer limit per stage device-free compiles assume.
pub const MAX_BUFFERS: u32 = 8;

/// One matmul kernel for every matmul, with or without 2-D weights read
/// as textures.
#[derive(Debug, Clone, Copy)]
pub struct KernelChoice {
    pub kernel: MatmulKernel,
    pub texture_weights: bool,
}

impl From<MatmulKernel> for KernelChoice {
    fn from(kernel: MatmulKernel) -> KernelChoice {
        KernelChoice { kernel, texture_weights: false }
    }
}

/// The one place tests compile without a device: every device-free
/// [`Program`] in the tests comes from here, for a lavapipe-like
/// [`Target`] with `max_buffers` storage buffers per stage, so a change of
/// the compiler's entry point (options, target) is one edit.
pub fn compile_program(
    ir: &Ir,
    options: &CompileOptions,
    matmul: impl Into<KernelChoice>,
    max_buffers: u32,
) -> Result<Program, CompileError> {
    let choice = matmul.into();
    let options = CompileOptions { matmul: Some(choice.kernel), settings: Settings::default(), ..options.clone() };
    let target = Target {
        max_storage_buffers_per_stage: max_buffers,
        max_texture_side: if choice.texture_weights { 8192 } else { 0 },
        ..Target::cpu_driver()
    };
    compile(ir, &options, &target)
}

/// Compiles `g` without a device, fused or not, with one matmul kernel and
/// [`MAX_BUFFERS`]; panics naming the graph on failure.
pub fn program(g: &Graph, fuse: bool, matmul: impl Into<KernelChoice>) -> Program {
    let ir = g.ir().unwrap_or_else(|e| panic!("{}: {e}", g.name()));
    let options = CompileOptions { fuse, ..Default::default() };
    compile_program(&ir, &options, matmul, MAX_BUFFERS)
        .unwrap_or_else(|e| panic!("{} (fuse={fuse}): compile: {e}", g.name()))
}

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
