//! The compiler: passes over the IR, fusion, scheduling, memory planning and
//! lowering to WGSL kernels validated by naga, then pipelines on a device.

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
pub mod validate;
pub mod view;

pub use codegen::{Grid, KernelSpec, MatmulKernel};
pub use cse::CommonSubexpressions;
pub use dce::DeadCode;
pub use error::CompileError;
pub use fold::ConstantFold;
pub use matmul_choice::{MatmulChoice, MatmulPolicy, REGISTER, REGISTER_SUBGROUP, TILED};
pub use pass::{run_passes, timed, Pass};

use crate::graph::{Graph, Ir, NodeId};
use crate::runtime::{Device, Model};
use crate::weights::{check_ir, Weights};
use std::collections::HashSet;

/// Knobs for compilation; the defaults are what a user wants.
#[derive(Debug, Clone)]
pub struct CompileOptions {
    /// Fuse elementwise chains and matmul epilogues (off: one kernel per op).
    pub fuse: bool,
    /// Matmul strategy; `None` picks by adapter (`WGRAPH_MATMUL=register|tiled` overrides).
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
}

impl Default for CompileOptions {
    fn default() -> Self {
        CompileOptions { fuse: true, matmul: None, taps: Vec::new(), tap_every_node: false, texture_weights: true }
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

/// Builds a [`Program`] from an IR without a device (`max_buffers` is the
/// adapter's storage-buffer limit per stage).
pub fn build_program(
    ir: &Ir,
    options: &CompileOptions,
    matmul: impl Into<MatmulPolicy>,
    max_buffers: u32,
) -> Result<Program, CompileError> {
    let mut ir = ir.clone();
    ir.verify()?;
    refuse_host_only_dtypes(&ir)?;
    run_passes(&mut ir, &[&ConstantFold, &CommonSubexpressions, &DeadCode])?;
    let order = timed("schedule", || ir.topo_order())?;
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
    let plan = timed("fuse", || fuse::plan(&ir, &order, fuse_options, &keep));
    let kernels = timed("lower", || lower::lower(&ir, &plan, &order, matmul.into()));
    timed("naga-validate", || kernels.iter().try_for_each(validate::validate_kernel))?;
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
    let memory = timed("plan-memory", || memory::plan(&ir, &kernels, &keep));
    if crate::debug_level() >= 1 {
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

/// Compiles graphs for one device.
pub struct Compiler<'d> {
    device: &'d Device,
    options: CompileOptions,
}

impl<'d> Compiler<'d> {
    pub fn new(device: &'d Device) -> Compiler<'d> {
        Compiler { device, options: CompileOptions::default() }
    }

    pub fn with_options(mut self, options: CompileOptions) -> Compiler<'d> {
        self.options = options;
        self
    }

    /// Checks the weights, optimises, lowers and validates every kernel,
    /// builds the pipelines and uploads the weights.
    pub fn compile(&self, graph: &Graph, weights: &Weights) -> Result<Model, CompileError> {
        let ir = graph.ir()?.clone();
        self.compile_ir(&ir, weights)
    }

    pub fn compile_ir(&self, ir: &Ir, weights: &Weights) -> Result<Model, CompileError> {
        let checked = timed("check-weights", || check_ir(ir, weights))?;
        let subgroup_size = self.device.subgroup_size();
        let max_texture_side =
            if self.options.texture_weights { self.device.limits().max_texture_dimension_2d } else { 0 };
        let matmul = match self.options.matmul {
            Some(MatmulKernel::Register { wx, subgroup_a: true, .. }) if subgroup_size != Some(wx) => {
                return Err(CompileError::SubgroupsUnavailable { lanes: wx, subgroup_size });
            }
            Some(kernel) => MatmulPolicy { choice: MatmulChoice::Fixed(kernel), max_texture_side },
            None => MatmulPolicy::for_adapter(self.device.kind(), subgroup_size, max_texture_side),
        };
        let max_buffers = self.device.limits().max_storage_buffers_per_shader_stage;
        let program = build_program(ir, &self.options, matmul, max_buffers)?;
        // WGRAPH_GRAPH=path.dot writes the optimised graph for Graphviz.
        if let Ok(path) = std::env::var("WGRAPH_GRAPH") {
            let dot = crate::graph::dump_dot(&program.ir);
            if let Err(e) = crate::io::write_atomic(std::path::Path::new(&path), dot.as_bytes()) {
                tracing::warn!(%path, error = %e, "cannot write WGRAPH_GRAPH");
                eprintln!("wgraph: cannot write WGRAPH_GRAPH={path}: {e}");
            }
        }
        // Symbols only weights bind (a `vocab` dim) are fixed from here on.
        Model::new(self.device, program, weights, checked.bindings)
    }
}
