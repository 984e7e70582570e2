//! The compiler: passes over the IR, fusion, scheduling, memory planning and
//! lowering to WGSL kernels validated by naga. Device-free: a [`Target`]
//! describing the adapter goes in, a [`Program`] of plain data comes out;
//! `runtime` turns a program into pipelines and buffers on a device.

pub mod codegen;
mod conv_as_matmul;
mod cse;
mod dce;
mod error;
mod fold;
pub mod fuse;
mod fuse_attention;
mod fuse_siblings;
mod fuse_single_reader;
mod lower;
mod matmul_choice;
pub mod memory;
pub(crate) mod merge_linears;
mod pass;
mod quantized;
mod split_concat;
mod split_reduce;
mod target;
mod tier;
mod tuning;
pub mod validate;
pub mod view;
mod write_in_place;

pub use codegen::{weight_fold, FewRows, Grid, KernelSpec, LoopBound, MatmulKernel, TextureCopy};
pub use conv_as_matmul::ConvAsMatmul;
pub use cse::CommonSubexpressions;
pub use dce::DeadCode;
pub use error::CompileError;
pub use fold::ConstantFold;
pub use fuse_attention::FuseAttention;
pub use matmul_choice::{
    register_subgroup, register_vector, register_vector_shared, MatmulChoice, MatmulPolicy, REGISTER, REGISTER_HALF,
    REGISTER_NARROW, REGISTER_QUARTER, REGISTER_SMALL, REGISTER_SUBGROUP, TILED,
};
pub use pass::{run_passes, timed, timed_async, Pass};
pub use quantized::{has_quantized, keep_quantized};
pub use split_concat::SplitWideConcat;
pub use split_reduce::SplitLongReductions;
pub use target::{AdapterKind, Target};
pub use tier::{KernelTier, QUICK_ACCUMULATORS, QUICK_ATTENTION_ROWS};
pub use tuning::{candidates, MatmulCase, MatmulSignature, SizeKey, TuneMode, TuningTable, SYMBOLIC_ROWS_TIMED};

use crate::graph::{Ir, NodeId, Op};
use crate::settings::{level, Settings};
use std::collections::HashSet;

/// Knobs for compilation; the defaults are what a user wants.
#[derive(Debug, Clone)]
pub struct CompileOptions {
    /// Fuse elementwise chains and matmul epilogues (off: one kernel per op).
    pub fuse: bool,
    /// Turn private attention patterns (scores read only by their softmax,
    /// probabilities only by the value matmul) into one fused kernel (needs
    /// `fuse`; `WGRAPH_ATTENTION=off` also turns it off).
    pub fuse_attention: bool,
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
    /// Graph outputs named like a weight of the graph write their value
    /// back into that weight after every run, on the device (training: the
    /// new parameters and optimizer state), and are not read back. Weights
    /// written back are never read as textures.
    pub write_back: bool,
    /// Weights read from another model's buffers (see
    /// `Loader::sharing_weights_with`): that model may change them between
    /// runs, so no kernel reads them from textures uploaded once.
    pub shared_buffers: HashSet<String>,
    /// Kernels tuned for speed (the default) or quick to compile (see
    /// [`KernelTier`]; `TieredModel` uses both).
    pub tier: KernelTier,
    /// Matmul kernels measured on the device, consulted before the
    /// per-shape rules (ignored when `matmul` fixes one kernel); the
    /// runtime fills it from its tuning cache.
    pub tuning: Option<std::sync::Arc<TuningTable>>,
    /// Hashes ([`validate::source_hash`]) of kernel sources naga already
    /// validated for this wgraph version: validation skips them (the
    /// runtime keeps them in its cache directory, so a warm start does not
    /// validate again what an earlier process did).
    pub validated: Option<std::sync::Arc<HashSet<u64>>>,
    /// Debug output and overrides (read from the environment by `default()`).
    pub settings: Settings,
}

impl Default for CompileOptions {
    fn default() -> Self {
        CompileOptions {
            fuse: true,
            fuse_attention: true,
            matmul: None,
            taps: Vec::new(),
            tap_every_node: false,
            texture_weights: true,
            write_back: false,
            shared_buffers: HashSet::new(),
            tier: KernelTier::Tuned,
            tuning: None,
            validated: None,
            settings: Settings::from_env(),
        }
    }
}

/// The device-independent result of compiling: the optimised IR and its kernels.
#[derive(Debug, Clone)]
pub struct Program {
    /// The IR after the passes (folded, deduplicated, dead code removed).
    pub ir: Ir,
    /// Which values get buffers and which fuse into their readers.
    pub plan: fuse::FusionPlan,
    /// The kernels in execution order, each with its validated WGSL.
    pub kernels: Vec<KernelSpec>,
    /// Where every buffer-backed value lives, with slots shared across lifetimes.
    pub memory: memory::MemoryPlan,
    /// Tapped nodes by name, in execution order.
    pub taps: Vec<(String, NodeId)>,
    /// Outputs written back into weights after each run (see
    /// [`CompileOptions::write_back`]).
    pub write_back: Vec<WriteBack>,
    /// Whether the matmuls may read 2-D weights from textures (part of a
    /// matmul's [`MatmulSignature`]).
    pub weight_textures: bool,
}

/// One output whose value replaces a weight's after each run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WriteBack {
    /// The output's (and the weight's) name.
    pub name: String,
    /// The node computing the new value.
    pub value: NodeId,
    /// The weight node it replaces.
    pub weight: NodeId,
    /// Where parts of the value land in the weight when they replace
    /// blocks of it (new rows of a KV cache, one block per conversation
    /// slot, see `write_in_place`); empty: the value replaces the whole
    /// weight.
    pub blocks: Vec<BlockCopy>,
    /// Values that are the weight once the blocks are in, or its first rows
    /// through a single block (a decode step's keys: cache then new rows).
    /// They have no kernel: the rows are copied in before the first kernel
    /// reading one, which binds the weight's buffer.
    pub read_in_place_by: Vec<NodeId>,
}

/// A block write-back's copy, in elements.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlockCopy {
    /// Where the block lands in the weight's buffer.
    pub at: crate::graph::Dim,
    /// Where it starts in the value's buffer.
    pub from: crate::graph::Dim,
    /// Its size.
    pub len: crate::graph::Dim,
}

/// Compiles an IR for `target`: verifies it, runs the passes, fuses,
/// lowers every kernel to WGSL validated by naga, and plans memory.
///
/// Needs no device, so tests and tools compile for any [`Target`]:
///
/// ```
/// use wgraph::compile::{compile, CompileOptions, Target};
/// use wgraph::{ops, DType, Dim, Gelu, Graph};
/// let g = Graph::new("mlp");
/// let x = g.input("x", DType::F32, [Dim::sym("seq"), Dim::new(16)]);
/// let w = g.weight("fc.weight", DType::F32, [32usize, 16]);
/// let b = g.weight("fc.bias", DType::F32, [32usize]);
/// g.output_named([("y", ops::gelu(&ops::linear(&x, &w, Some(&b)), Gelu::Erf))])?;
///
/// let program = compile(&*g.ir()?, &CompileOptions::default(), &Target::portable())?;
/// // The transpose is read in place and bias + gelu fuse into the matmul: one kernel.
/// assert_eq!(program.kernels.len(), 1);
/// assert!(program.kernels[0].name.ends_with("matmul+add+gelu"), "{}", program.kernels[0].name);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn compile(ir: &Ir, options: &CompileOptions, target: &Target) -> Result<Program, CompileError> {
    let settings = &options.settings;
    // Weights written back are kept out of the textures uploaded once by
    // `FusionPlan::written_weights`.
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
    // Output and params take two of the kernel's storage buffers.
    let split = SplitWideConcat { max_operands: max_buffers.saturating_sub(2) as usize };
    let mut passes: Vec<&dyn Pass> =
        vec![&ConvAsMatmul, &split, &ConstantFold, &SplitLongReductions, &CommonSubexpressions];
    // Weights the program changes keep their own buffers.
    let written = ir.outputs.iter().map(|(name, _)| name.clone()).chain(options.shared_buffers.iter().cloned());
    let merge = merge_linears::MergeLinears { written: written.collect(), taps: options.taps.clone() };
    // Checking op by op compares the graph as built.
    if !is_off(settings.merge_linears.as_deref()) && !options.tap_every_node {
        passes.push(&merge);
    }
    // Tapping every node implies no fusion; named taps keep their values.
    let attention = attention_policy(settings.attention.as_deref(), &options.taps);
    if let (true, false, Some(fuse)) = (options.fuse && options.fuse_attention, options.tap_every_node, &attention) {
        passes.push(fuse);
    }
    passes.push(&DeadCode);
    run_passes(&mut ir, &passes, settings)?;
    // Write-backs of a few rows of a weight (a KV cache) copy just those rows.
    let in_place = if options.write_back { write_in_place::rewrite(&mut ir) } else { Default::default() };
    if !in_place.is_empty() {
        run_passes(&mut ir, &[&DeadCode], settings)?;
    }
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
    let mut plan = timed(settings, "fuse", || fuse::plan(&ir, &order, fuse_options, &keep));
    if fuse_options.fuse {
        fuse_single_reader::inline_single_reader_values(&ir, &order, &keep, max_buffers, &mut plan);
    }
    if options.write_back {
        plan.written_weights = write_backs(&ir, &in_place, &plan)?.iter().map(|w| w.weight).collect();
        let outputs: HashSet<NodeId> = ir.outputs.iter().map(|(_, n)| *n).collect();
        plan.weight_prefixes = in_place
            .values()
            .flat_map(|b| write_in_place::in_place_reads(&ir, b).into_iter().map(|c| (c, b.weight)))
            .filter(|(c, _)| plan.is_materialised(*c) && !outputs.contains(c) && !keep.contains(c))
            .collect();
    }
    plan.written_weights.extend(
        ir.graph
            .node_indices()
            .filter(|&n| matches!(&ir.node(n).op, Op::Weight { name, .. } if options.shared_buffers.contains(name))),
    );
    if fuse_options.fuse {
        // Rows written into a weight in place keep their own kernels.
        let in_place_outputs = ir.outputs.iter().filter(|(name, _)| in_place.contains_key(name)).map(|(_, n)| *n);
        let excluded: HashSet<NodeId> = keep.iter().copied().chain(in_place_outputs).collect();
        fuse_siblings::merge_output_siblings(&ir, &order, &excluded, max_buffers, &mut plan);
    }
    if target.kind == AdapterKind::Cpu {
        plan.quant_texture_side = target.max_texture_side;
    }
    // One workgroup per row: on CPU drivers a workgroup of one SIMD width
    // (lavapipe: 8) makes barriers free, larger ones run as coroutines.
    let row_wg = if target.kind == AdapterKind::Cpu { target.subgroup_size.unwrap_or(8).clamp(1, 64) } else { 64 };
    // Row kernels whose workgroup is one subgroup may share loads across it.
    let subgroups = target.subgroup_size == Some(row_wg);
    // A kernel the caller fixed wins over measured choices.
    let tuning = if options.matmul.is_some() { None } else { options.tuning.as_deref() };
    // One row per invocation reading textures suits CPU drivers only: a
    // GPU wants a workgroup per row.
    let row_textures = if target.kind == AdapterKind::Cpu { max_texture_side } else { 0 };
    let short_rows = target.kind == AdapterKind::Cpu;
    let activation_textures = if target.kind == AdapterKind::Cpu { target.max_texture_side } else { 0 };
    let choice = lower::MatmulChoices {
        policy: matmul,
        tuning,
        tier: options.tier,
        row_textures,
        short_rows,
        activation_textures,
    };
    let kernels = timed(settings, "lower", || lower::lower(&ir, &plan, &order, &choice, row_wg, subgroups))?;
    // Identical layers lower to identical kernels: validate each source once
    // (MiniLM: 74 kernels, 10 distinct sources).
    timed(settings, "naga-validate", || {
        let known = |wgsl: &str| options.validated.as_ref().is_some_and(|v| v.contains(&validate::source_hash(wgsl)));
        let mut seen = HashSet::new();
        kernels
            .iter()
            .filter(|k| seen.insert(k.wgsl.as_str()) && !known(&k.wgsl))
            .try_for_each(validate::validate_kernel)?;
        // Few-rows variants, validated under their kernel's name.
        kernels
            .iter()
            .filter(|k| k.few_rows.as_ref().is_some_and(|v| seen.insert(v.wgsl.as_str()) && !known(&v.wgsl)))
            .filter_map(KernelSpec::few_rows_kernel)
            .try_for_each(|k| validate::validate_kernel(&k))
    })?;
    for k in &kernels {
        let needed = (k.inputs.len() + k.co_outputs.len()) as u32 + 2;
        if needed > max_buffers {
            return Err(CompileError::TooManyBuffers {
                kernel: k.name.clone(),
                node: k.root.index(),
                needed,
                limit: max_buffers,
            });
        }
    }
    let mut memory = timed(settings, "plan-memory", || memory::plan(&ir, &kernels, &keep));
    let write_back = if options.write_back { write_backs(&ir, &in_place, &plan)? } else { Vec::new() };
    for w in &write_back {
        // The weight needs its buffer even if no kernel reads it.
        memory.placement.insert(w.weight, memory::Placement::Static);
    }
    if settings.shows(level::PASSES) {
        eprintln!(
            "wgraph: {} nodes -> {} kernels, {} memory slots",
            ir.graph.node_count(),
            kernels.len(),
            memory.slots.len()
        );
    }
    Ok(Program { ir, plan, kernels, memory, taps, write_back, weight_textures: max_texture_side > 0 })
}

/// The fused-attention pass unless `WGRAPH_ATTENTION` says `off` (for
/// comparisons); tapped values stay unfused.
fn attention_policy(setting: Option<&str>, taps: &[String]) -> Option<FuseAttention> {
    (!is_off(setting)).then(|| FuseAttention { taps: taps.to_vec() })
}

/// Whether a setting turns its pass off.
fn is_off(setting: Option<&str>) -> bool {
    matches!(setting.map(|s| s.trim().to_ascii_lowercase()).as_deref(), Some("off" | "0" | "false" | "no"))
}

/// The outputs named like a weight, checked to have its type (or, written
/// in place, its dtype).
fn write_backs(
    ir: &Ir,
    in_place: &write_in_place::InPlaceOffsets,
    plan: &fuse::FusionPlan,
) -> Result<Vec<WriteBack>, CompileError> {
    let mut weights = std::collections::HashMap::new();
    for id in ir.graph.node_indices() {
        if let crate::graph::Op::Weight { name, .. } = &ir.node(id).op {
            weights.insert(name.as_str(), id);
        }
    }
    let mut out = Vec::new();
    for (name, value) in &ir.outputs {
        let Some(&weight) = weights.get(name.as_str()) else { continue };
        if let Some(write) = in_place.get(name) {
            let read_in_place_by =
                plan.weight_prefixes.iter().filter(|(_, w)| **w == weight).map(|(c, _)| *c).collect();
            let blocks = write
                .blocks
                .iter()
                .map(|b| BlockCopy { at: b.offset.clone(), from: b.source_offset.clone(), len: b.len.clone() })
                .collect();
            out.push(WriteBack { name: name.clone(), value: *value, weight, blocks, read_in_place_by });
            continue;
        }
        let (got, want) = (&ir.node(*value).ty, &ir.node(weight).ty);
        if got != want {
            return Err(CompileError::WriteBackType {
                name: name.clone(),
                weight: want.to_string(),
                value: got.to_string(),
            });
        }
        out.push(WriteBack {
            name: name.clone(),
            value: *value,
            weight,
            blocks: Vec::new(),
            read_in_place_by: Vec::new(),
        });
    }
    Ok(out)
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
