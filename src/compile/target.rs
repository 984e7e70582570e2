//! What the compiler needs to know about the adapter it compiles for, as
//! plain data: the runtime fills it from a device, tests and tools write
//! one by hand, so compiling never needs a GPU.

/// What kind of adapter we compile for; kernel choices depend on it (a CPU
/// driver such as lavapipe prefers register blocking over shared memory).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AdapterKind {
    /// A CPU driver (lavapipe, SwiftShader, WARP).
    Cpu,
    /// A GPU sharing memory with the CPU.
    Integrated,
    /// A GPU with its own memory.
    Discrete,
    /// Anything else (virtual GPUs, unknown).
    Other,
}

/// The adapter's facts and limits that shape the generated program.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// What kind of adapter (kernel choices depend on it).
    pub kind: AdapterKind,
    /// The subgroup size when subgroup operations are available and the
    /// adapter has exactly one size (lavapipe on AVX2: 8).
    pub subgroup_size: Option<u32>,
    /// Storage buffers one shader stage may bind (outputs and params included).
    pub max_storage_buffers_per_stage: u32,
    /// The largest storage-buffer binding, in bytes.
    pub max_storage_buffer_binding_size: u64,
    /// The largest 2-D texture side; 0 when weights must not be read as
    /// textures (then every weight stays a storage buffer).
    pub max_texture_side: u32,
    /// Workgroups per grid dimension.
    pub max_workgroups_per_dimension: u32,
}

impl Target {
    /// A CPU driver like lavapipe on AVX2: subgroups of 8, textures allowed,
    /// the limits lavapipe reports.
    pub fn cpu_driver() -> Target {
        Target {
            kind: AdapterKind::Cpu,
            subgroup_size: Some(8),
            max_storage_buffers_per_stage: 8,
            max_storage_buffer_binding_size: 1 << 27,
            max_texture_side: 16384,
            max_workgroups_per_dimension: 65535,
        }
    }

    /// WebGPU's default limits on a discrete GPU without subgroups: what any
    /// adapter offers, so a program for it runs anywhere.
    pub fn portable() -> Target {
        Target {
            kind: AdapterKind::Discrete,
            subgroup_size: None,
            max_storage_buffers_per_stage: 8,
            max_storage_buffer_binding_size: 1 << 27,
            max_texture_side: 8192,
            max_workgroups_per_dimension: 65535,
        }
    }

    /// The same target with weights kept in storage buffers.
    pub fn without_texture_weights(mut self) -> Target {
        self.max_texture_side = 0;
        self
    }
}
