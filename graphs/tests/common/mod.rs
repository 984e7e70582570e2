//! Helpers the model-zoo tests share.

use std::sync::OnceLock;
use wgraph::Device;

/// The test device. There is no silent skip: without an adapter every GPU
/// test fails with the reason (scripts/test.sh installs lavapipe first).
pub fn device() -> &'static Device {
    static DEVICE: OnceLock<Device> = OnceLock::new();
    DEVICE.get_or_init(|| Device::new().unwrap_or_else(|e| panic!("GPU tests need an adapter: {e}")))
}
