//! GPU test helpers: one shared device, and running a graph on the GPU
//! (fused and unfused) next to the interpreter.

use super::assert_close;
use std::sync::OnceLock;
use wgraph::{CompileOptions, Device, Graph, Interpreter, Loader, Tensor, Weights};

/// The test device. There is no silent skip: without an adapter every GPU
/// test fails with the reason (scripts/test.sh installs lavapipe first).
pub fn device() -> &'static Device {
    static DEVICE: OnceLock<Device> = OnceLock::new();
    DEVICE.get_or_init(|| Device::new().unwrap_or_else(|e| panic!("GPU tests need an adapter: {e}")))
}

/// The seeded generator lives in `common` (device-free); re-exported here
/// for the GPU tests that import it from this module.
#[allow(unused_imports)]
pub use super::Rng;

/// Runs `g` on the interpreter, then on the GPU fused and unfused, and
/// compares every output.
pub fn check_gpu(g: &Graph, weights: &Weights, inputs: &[(String, Tensor)], rtol: f64, atol: f64, what: &str) {
    let reference =
        Interpreter::new().run(g, weights, inputs.to_vec()).unwrap_or_else(|e| panic!("{what}: interpreter: {e}"));
    for fuse in [true, false] {
        let options = CompileOptions { fuse, ..Default::default() };
        let model = Loader::new(device())
            .with_options(options)
            .load(g, weights)
            .unwrap_or_else(|e| panic!("{what} (fuse={fuse}): compile: {e}"));
        let got = model.run(inputs.to_vec()).unwrap_or_else(|e| panic!("{what} (fuse={fuse}): run: {e}"));
        for (name, want) in reference.iter() {
            let g = got.get(name).unwrap_or_else(|| panic!("{what}: no output {name}"));
            assert_close(g, want, rtol, atol, &format!("{what} (fuse={fuse}) output {name}"));
        }
    }
}
