//! Errors of the GPU runtime: finding a device, moving data, running.

use crate::graph::BindError;
use crate::weights::WeightError;
use thiserror::Error;

/// Why the GPU runtime failed: no usable device, inputs it cannot take, a
/// limit of the adapter, or an error the driver reported.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum RuntimeError {
    /// `WGRAPH_BACKEND` names no wgpu backend.
    #[error("WGRAPH_BACKEND={value} is not one of vulkan, metal, dx12, gl")]
    UnknownBackend {
        /// The variable's value.
        value: String,
    },
    /// No adapter on the chosen backends (no GPU and no CPU driver installed).
    #[error(
        "no GPU adapter found for backends {backends}: {detail}\n  hint: on Linux without a GPU install Mesa's CPU Vulkan driver (`apt-get install mesa-vulkan-drivers`, or run ./scripts/setup.sh)"
    )]
    NoAdapter {
        /// The backends searched.
        backends: String,
        /// What wgpu said.
        detail: String,
    },
    /// The adapter would not open a device with its own limits and features.
    #[error("adapter `{adapter}` refused a device: {detail}")]
    NoDevice {
        /// The adapter's name.
        adapter: String,
        /// What wgpu said.
        detail: String,
    },
    /// The inputs do not match the graph's declared inputs.
    #[error(transparent)]
    Input(#[from] BindError),
    /// An integer input holds a value outside i32, which GPU buffers store integers as.
    #[error("input `{name}`: value {value} does not fit the GPU's {gpu_type} (GPUs have no 64-bit integers); {hint}")]
    IntegerRange {
        /// The input's name.
        name: String,
        /// The first value that does not fit.
        value: i64,
        /// The GPU type it would be stored as (`i32`).
        gpu_type: &'static str,
        /// The range that fits.
        hint: &'static str,
    },
    /// A token id feeding an embedding lookup (or a scatter-add) is past the
    /// table (checked on the host, since GPUs clamp out-of-range indices
    /// silently).
    #[error("input `{name}` index {value} is out of range for `{table}` with {size} rows (node %{node})")]
    IndexRange {
        /// The input's name.
        name: String,
        /// The offending index.
        value: i64,
        /// The table's weight name (`%N` for a computed table).
        table: String,
        /// The table's rows.
        size: usize,
        /// The gather or scatter-add node.
        node: usize,
    },
    /// Rows written back in place (a KV cache's new tokens) would end past
    /// their weight: the cache is full.
    #[error(
        "writing `{name}` back at bytes {start}..{end} overruns its {size}-byte buffer \
         (a cache written past its capacity)"
    )]
    WriteBackOutOfRange {
        /// The written-back weight.
        name: String,
        /// First byte written.
        start: u64,
        /// One past the last byte written.
        end: u64,
        /// The weight's buffer size.
        size: u64,
    },
    /// A weight, or an activation buffer at these input sizes, is larger than the
    /// adapter's largest storage binding.
    #[error(
        "tensor `{tensor}` needs {bytes} bytes, over this adapter's max_storage_buffer_binding_size of {limit} bytes{}",
        hint.map(|h| format!("\n  hint: {h}")).unwrap_or_default()
    )]
    BufferTooLarge {
        /// The tensor (weight name, input name or node).
        tensor: String,
        /// The bytes it needs.
        bytes: u64,
        /// The adapter's `max_storage_buffer_binding_size`.
        limit: u64,
        /// What to do about it, when something helps.
        hint: Option<&'static str>,
    },
    /// A kernel would loop longer per invocation than the driver lets a
    /// shader loop (llvmpipe stops after 65,535 iterations in all and
    /// carries on with a wrong result).
    #[error(
        "kernel `{kernel}` would loop {iterations} times per invocation at these sizes, but {driver} stops a shader's loops after {limit} and would return wrong numbers\n  hint: {hint}"
    )]
    LoopLimit {
        /// The kernel.
        kernel: String,
        /// Its iterations at the run's sizes.
        iterations: usize,
        /// The most this driver runs.
        limit: usize,
        /// The driver.
        driver: String,
        /// What to do about it.
        hint: &'static str,
    },
    /// An activation a kernel reads as a texture has more rows than the
    /// device's largest texture holds.
    #[error(
        "kernel `{kernel}` reads an activation of {rows} rows as a texture, which holds at most {max_rows} on this device\n  hint: use a smaller batch or sequence length, or turn weight textures off (CompileOptions::texture_weights)"
    )]
    TextureTooLarge {
        /// The kernel.
        kernel: String,
        /// The activation's rows.
        rows: usize,
        /// The most the texture holds.
        max_rows: usize,
    },
    /// The activations and inputs of one run need more memory than the
    /// device has free (on CPU drivers, the machine's available memory).
    #[error(
        "running with {sizes} needs {} of activations and inputs, but only {} is available; \
         use a smaller batch or sequence length",
        gib(*needed),
        gib(*available)
    )]
    OutOfMemory {
        /// Bytes the run's buffers need.
        needed: u64,
        /// Bytes available.
        available: u64,
        /// The symbolic sizes of this run (`batch = 8, seq = 128`).
        sizes: String,
    },
    /// The model's weights and constants need more memory than the device
    /// has free; nothing was uploaded.
    #[error(
        "the weights need {} but only {} is available (on CPU drivers: the machine's available memory, \
         capped by WGRAPH_MEMORY_LIMIT); use a machine with more memory or a smaller checkpoint",
        gib(*needed),
        gib(*available)
    )]
    WeightsTooLarge {
        /// Bytes the weights and constants need.
        needed: u64,
        /// Bytes available.
        available: u64,
    },
    /// A kernel needs more workgroups than even a folded 2-D grid holds.
    #[error("kernel `{kernel}` needs {workgroups} workgroups, more than a {max}x{max} grid allows")]
    GridTooLarge {
        /// The kernel's label.
        kernel: String,
        /// The workgroups it needs.
        workgroups: u64,
        /// The adapter's `max_compute_workgroups_per_dimension`.
        max: u32,
    },
    /// The GPU did not finish a submission within the run timeout.
    #[error("waiting for the GPU timed out after {seconds} s ({what})")]
    Timeout {
        /// What was waited for.
        what: String,
        /// The timeout.
        seconds: u64,
    },
    /// Another run of the same device is still waiting for its results
    /// (in the browser, where a second call cannot wait for the first).
    #[error("the device is busy with another run ({what}): await the first before starting the next")]
    Busy {
        /// What could not start.
        what: String,
    },
    /// `WGRAPH_TIER` names no tier.
    #[error("WGRAPH_TIER={value} is not one of tuned, quick (unset: quick kernels first where the driver compiles at first dispatch)")]
    UnknownTier {
        /// The value given.
        value: String,
    },
    /// `WGRAPH_TUNE` names no tuning mode.
    #[error("WGRAPH_TUNE={value} is not one of off, quick, full (unset: quick)")]
    UnknownTuneMode {
        /// The value given.
        value: String,
    },
    /// A `TieredModel`'s tuned kernels could not be compiled in the background.
    #[error(
        "compiling the tuned kernels in the background failed: {detail} (the quick kernels keep serving; \
         WGRAPH_TIER=tuned compiles the tuned ones before the first run instead)"
    )]
    BackgroundCompile {
        /// What failed, as its error said.
        detail: String,
    },
    /// wgpu or the driver reported an error (captured, never a panic).
    #[error("GPU error during {what}: {detail}")]
    Gpu {
        /// What the runtime was doing.
        what: String,
        /// The reported errors.
        detail: String,
    },
    /// Mapping an output buffer for reading failed.
    #[error("readback of `{tensor}` failed: {detail}")]
    Readback {
        /// The output or tap.
        tensor: String,
        /// What wgpu said.
        detail: String,
    },
    /// The driver refused a kernel that naga accepted.
    #[error("kernel `{kernel}` (node %{node}): the driver refused the pipeline: {error}\n--- WGSL ---\n{source_code}")]
    Pipeline {
        /// The kernel's label.
        kernel: String,
        /// The node it writes.
        node: usize,
        /// The driver's message.
        error: String,
        /// The kernel's WGSL.
        source_code: String,
    },
    /// A weight name the model does not hold.
    #[error("the model has no weight `{name}`{}", if closest.is_empty() { String::new() } else { format!("; closest: {}", closest.join(", ")) })]
    UnknownWeight {
        /// The name asked for.
        name: String,
        /// The closest names the model holds.
        closest: Vec<String>,
    },
    /// A tensor written over a weight has another shape or dtype.
    #[error("weight `{name}` is {expected} on the device, the tensor given is {got}")]
    WeightMismatch {
        /// The weight.
        name: String,
        /// Its dtype and shape on the device.
        expected: String,
        /// The given tensor's dtype and shape.
        got: String,
    },
    /// A weight could not be read while uploading it.
    #[error(transparent)]
    Weights(#[from] WeightError),
}

/// Bytes in the largest binary unit that keeps a whole number in front, for messages.
fn gib(bytes: u64) -> String {
    match bytes {
        b if b >= 1 << 30 => format!("{:.1} GiB", b as f64 / (1u64 << 30) as f64),
        b if b >= 1 << 20 => format!("{:.1} MiB", b as f64 / (1u64 << 20) as f64),
        b => format!("{:.1} KiB", b as f64 / 1024.0),
    }
}
