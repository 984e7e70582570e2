//! GPU test helpers: one shared device, and running a graph on the GPU
//! (fused and unfused) next to the interpreter.

use super::assert_close;
use std::sync::OnceLock;
use wgraph::{CompileOptions, Compiler, Device, Graph, Interpreter, Tensor, Weights};

/// The test device. There is no silent skip: without an adapter every GPU
/// test fails with the reason (scripts/test.sh installs lavapipe first).
pub fn device() -> &'static Device {
    static DEVICE: OnceLock<Device> = OnceLock::new();
    DEVICE.get_or_init(|| Device::new().unwrap_or_else(|e| panic!("GPU tests need an adapter: {e}")))
}

/// Deterministic pseudo-random numbers (SplitMix64).
pub struct Rng(pub u64);

impl Rng {
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E3779B97F4A7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58476D1CE4E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D049BB133111EB);
        z ^ (z >> 31)
    }

    /// Uniform in [lo, hi).
    pub fn uniform(&mut self, lo: f32, hi: f32) -> f32 {
        lo + (hi - lo) * ((self.next_u64() >> 40) as f32 / (1u64 << 24) as f32)
    }

    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }

    /// One of the awkward sizes: 1, odd, not a multiple of any tile.
    pub fn size(&mut self) -> usize {
        [1, 2, 3, 5, 7, 13, 17, 33, 65][self.below(9)]
    }

    pub fn floats(&mut self, shape: &[usize], lo: f32, hi: f32) -> Tensor {
        let n = shape.iter().product();
        Tensor::new(shape.to_vec(), (0..n).map(|_| self.uniform(lo, hi)).collect::<Vec<f32>>()).unwrap()
    }

    pub fn ints(&mut self, shape: &[usize], below: usize) -> Tensor {
        let n = shape.iter().product();
        Tensor::new(shape.to_vec(), (0..n).map(|_| self.below(below) as i64).collect::<Vec<i64>>()).unwrap()
    }

    pub fn bools(&mut self, shape: &[usize]) -> Tensor {
        let n = shape.iter().product();
        Tensor::new(shape.to_vec(), (0..n).map(|_| self.below(2) == 1).collect::<Vec<bool>>()).unwrap()
    }
}

/// Runs `g` on the interpreter, then on the GPU fused and unfused, and
/// compares every output.
pub fn check_gpu(g: &Graph, weights: &Weights, inputs: &[(String, Tensor)], rtol: f64, atol: f64, what: &str) {
    let reference =
        Interpreter::new().run(g, weights, inputs.to_vec()).unwrap_or_else(|e| panic!("{what}: interpreter: {e}"));
    for fuse in [true, false] {
        let options = CompileOptions { fuse, ..Default::default() };
        let model = Compiler::new(device())
            .with_options(options)
            .compile(g, weights)
            .unwrap_or_else(|e| panic!("{what} (fuse={fuse}): compile: {e}"));
        let got = model.run(inputs.to_vec()).unwrap_or_else(|e| panic!("{what} (fuse={fuse}): run: {e}"));
        for (name, want) in reference.iter() {
            let g = got.get(name).unwrap_or_else(|| panic!("{what}: no output {name}"));
            assert_close(g, want, rtol, atol, &format!("{what} (fuse={fuse}) output {name}"));
        }
    }
}
