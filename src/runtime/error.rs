//! Errors of the GPU runtime: finding a device, moving data, running.

use crate::graph::{BindError, DType};
use crate::weights::WeightError;
use thiserror::Error;

#[derive(Debug, Error)]
#[non_exhaustive]
pub enum RuntimeError {
    #[error("WGRAPH_BACKEND={value} is not one of vulkan, metal, dx12, gl")]
    UnknownBackend { value: String },
    #[error(
        "no GPU adapter found for backends {backends}: {detail}\n  hint: on Linux without a GPU install Mesa's CPU Vulkan driver (`apt-get install mesa-vulkan-drivers`, or run ./scripts/setup.sh)"
    )]
    NoAdapter { backends: String, detail: String },
    #[error("adapter `{adapter}` refused a device: {detail}")]
    NoDevice { adapter: String, detail: String },
    #[error(transparent)]
    Input(#[from] BindError),
    #[error("input `{name}`: value {value} does not fit the GPU's {gpu_type} (GPUs have no 64-bit integers); {hint}")]
    IntegerRange { name: String, value: i64, gpu_type: &'static str, hint: &'static str },
    #[error("input `{name}` index {value} is out of range for `{table}` with {size} rows (node %{node})")]
    IndexRange { name: String, value: i64, table: String, size: usize, node: usize },
    #[error(
        "tensor `{tensor}` needs {bytes} bytes, over this adapter's max_storage_buffer_binding_size of {limit} bytes{}",
        hint.map(|h| format!("\n  hint: {h}")).unwrap_or_default()
    )]
    BufferTooLarge { tensor: String, bytes: u64, limit: u64, hint: Option<&'static str> },
    #[error("kernel `{kernel}` needs {workgroups} workgroups, more than a {max}x{max} grid allows")]
    GridTooLarge { kernel: String, workgroups: u64, max: u32 },
    #[error("waiting for the GPU timed out after {seconds} s ({what})")]
    Timeout { what: String, seconds: u64 },
    #[error("GPU error during {what}: {detail}")]
    Gpu { what: String, detail: String },
    #[error("readback of `{tensor}` failed: {detail}")]
    Readback { tensor: String, detail: String },
    #[error("dtype {dtype} of `{tensor}` has no GPU representation")]
    UnsupportedDType { tensor: String, dtype: DType },
    #[error("kernel `{kernel}` (node %{node}): the driver refused the pipeline: {error}\n--- WGSL ---\n{source_code}")]
    Pipeline { kernel: String, node: usize, error: String, source_code: String },
    #[error("the model has no weight `{name}`{}", if closest.is_empty() { String::new() } else { format!("; closest: {}", closest.join(", ")) })]
    UnknownWeight { name: String, closest: Vec<String> },
    #[error("weight `{name}` is {expected} on the device, the tensor given is {got}")]
    WeightMismatch { name: String, expected: String, got: String },
    /// A weight could not be read while uploading it.
    #[error(transparent)]
    Weights(#[from] WeightError),
}
