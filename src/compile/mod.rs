//! The compiler: passes over the IR, fusion, scheduling, memory planning and
//! lowering to WGSL kernels validated by naga. Device-free: a [`Target`]
//! describing the adapter goes in, a [`Program`] of plain data comes out;
//! `runtime` turns a program into pipelines and buffers on a device.

pub mod codegen;
mod cse;
mod dce;
mod error;
mod fold;
pub mod fuse;
mod lower;
mod matmul_choice;
pub mod memory;
mod pass;
mod split_reduce;
mod target;
pub mod validate;
pub mod view;

pub use codegen::{Grid, KernelSpec, MatmulKernel};
pub use cse::CommonSubexpressions;
pub use dce::DeadCode;
pub use error::CompileError;
pub use fold::ConstantFold;
pub use matmul_choice::{MatmulChoice, MatmulPolicy, REGISTER, REGISTER_SUBGROUP, TILED};
pub use pass::{run_passes, timed, Pass};
pub use split_reduce::SplitLongReductions;
pub use target::{AdapterKind, Target};

use crate::graph::{Ir, NodeId};
use crate::settings::{level, Settings};
use std::collections::HashSet;

/// Knobs for compilation; the defaults are what a user wants.
#[derive(Debug, Clone)]
pub struct CompileOptions {
    /// Fuse elementwise chains and matmul epilogues (off: one kernel per op).
    pub fuse: bool,
    /// Matmul kernel for every matmul; `None` picks per matmul from the
    /// target (`WGRAPH_MATMUL=register|tiled` overrides the family).
    pub matmul: Option<MatmulKernel>,
    /// Values to keep in their own buffers and return from `run_with_taps`,
    /// by node name (HF module path).
    pub taps: Vec<String>,
    /// Keep and return every computed node, named `%id:op` (the
    /// op-by-op check against the interpreter; implies no fusion).
    pub tap_every_node: bool,
    /// Let the register matmul kernels read 2-D weights from textures,
    /// which CPU drivers fetch with vector loads (the weights are then
    /// uploaded as textures, once).
    pub texture_weights: bool,
    /// Debug output and overrides (read from the environment by `default()`).
    pub settings: Settings,
}

impl Default for CompileOptions {
    fn default() -> Self {
        CompileOptions {
            fuse: true,
            matmul: None,
            taps: Vec::new(),
            tap_every_node: false,
            texture_weights: true,
            settings: Settings::from_env(),
        }
    }
}

/// The device-independent result of compiling: the optimised IR and its kernels.
#[derive(Debug, Clone)]
pub struct Program {
    pub ir: Ir,
    pub plan: fuse::FusionPlan,
    pub kernels: Vec<KernelSpec>,
    pub memory: memory::MemoryPlan,
    /// Tapped nodes by name, in execution order.
    pub taps: Vec<(String, NodeId)>,
}

/// Compiles an IR for `target`: verifies it, runs the passes, fuses,
/// lowers every kernel to WGSL validated by naga, and plans memory.
pub fn compile(ir: &Ir, options: &CompileOptions, target: &Target) -> Result<Program, CompileError> {
    let settings = &options.settings;
    let max_texture_side = if options.texture_weights { target.max_texture_side } else { 0 };
    let matmul = match options.matmul {
        Some(MatmulKernel::Register { wx, subgroup_a: true, .. }) if target.subgroup_size != Some(wx) => {
            return Err(CompileError::SubgroupsUnavailable { lanes: wx, subgroup_size: target.subgroup_size });
        }
        Some(kernel) => MatmulPolicy { choice: MatmulChoice::Fixed(kernel), max_texture_side },
        None => MatmulPolicy::for_target(target, settings.matmul.as_deref(), max_texture_side)?,
    };
    let max_buffers = target.max_storage_buffers_per_stage;
    let mut ir = ir.clone();
    ir.verify()?;
    refuse_host_only_dtypes(&ir)?;
    run_passes(&mut ir, &[&ConstantFold, &SplitLongReductions, &CommonSubexpressions, &DeadCode], settings)?;
    let order = timed(settings, "schedule", || ir.topo_order())?;
    let taps: Vec<(String, NodeId)> = if options.tap_every_node {
        order
            .iter()
            .filter(|&&n| !ir.node(n).op.is_source())
            .map(|&n| (format!("%{}:{}", n.index(), ir.node(n).op.name()), n))
            .collect()
    } else {
        order
            .iter()
            .flat_map(|&n| ir.node(n).names().map(move |name| (name.to_string(), n)).collect::<Vec<_>>())
            .filter(|(name, _)| options.taps.iter().any(|t| t == "*" || t == name))
            .collect()
    };
    let keep: HashSet<NodeId> = taps.iter().map(|(_, n)| *n).collect();
    let fuse_options = fuse::FuseOptions { fuse: options.fuse && !options.tap_every_node, max_buffers };
    let plan = timed(settings, "fuse", || fuse::plan(&ir, &order, fuse_options, &keep));
    let kernels = timed(settings, "lower", || lower::lower(&ir, &plan, &order, matmul))?;
    timed(settings, "naga-validate", || kernels.iter().try_for_each(validate::validate_kernel))?;
    for k in &kernels {
        let needed = k.inputs.len() as u32 + 2;
        if needed > max_buffers {
            return Err(CompileError::TooManyBuffers {
                kernel: k.name.clone(),
                node: k.root.index(),
                needed,
                limit: max_buffers,
            });
        }
    }
    let memory = timed(settings, "plan-memory", || memory::plan(&ir, &kernels, &keep));
    if settings.shows(level::PASSES) {
        eprintln!(
            "wgraph: {} nodes -> {} kernels, {} memory slots",
            ir.graph.node_count(),
            kernels.len(),
            memory.slots.len()
        );
    }
    Ok(Program { ir, plan, kernels, memory, taps })
}

/// f64 exists for the interpreter (gradient checks); WGSL has no f64.
fn refuse_host_only_dtypes(ir: &Ir) -> Result<(), CompileError> {
    for id in ir.graph.node_indices() {
        let node = ir.node(id);
        if node.ty.dtype == crate::graph::DType::F64 {
            return Err(CompileError::Unsupported {
                node: id.index(),
                op: node.op.name(),
                detail: format!(
                    "f64 has no GPU representation (WGSL has no 64-bit floats); \
                     cast to f32 before the GPU part, or run this graph on the interpreter (built at {})",
                    node.location
                ),
            });
        }
    }
    Ok(())
}
