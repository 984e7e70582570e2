//! Fusion: decides which values live in GPU buffers ("materialised") and
//! which are recomputed inside their readers' kernels. Elementwise ops,
//! views (permute, reshape, expand, slice), gathers, concats and generated
//! values (range, masks) fuse into one kernel; chains of single-use
//! elementwise ops after a matmul become its epilogue.

use crate::graph::{Ir, NodeId, Op, OpFamily, RowOp};
use std::collections::{HashMap, HashSet};

/// The result of fusion.
#[derive(Debug, Clone, Default)]
pub struct FusionPlan {
    /// Values that get a buffer: sources, kernel outputs, graph outputs.
    pub materialised: HashSet<NodeId>,
    /// Matmuls computed inside the kernel of an epilogue root: matmul -> root.
    pub epilogue: HashMap<NodeId, NodeId>,
    /// Graph outputs written by another root's kernel: co-output -> root.
    /// An elementwise output read only on the way to one elementwise root
    /// of its shape (AdamW's new `exp_avg` and `exp_avg_sq` feed the new
    /// parameter) is computed and stored by that root's kernel: one
    /// dispatch writes all three.
    pub co_outputs: HashMap<NodeId, NodeId>,
    /// Weights written back after every run (a KV cache, trained
    /// parameters): their values change, so kernels never read them from
    /// textures uploaded once.
    pub written_weights: HashSet<NodeId>,
    /// Values that are a written weight's first rows once its new rows are
    /// copied in (see `write_in_place::prefix_reads`): value -> weight.
    /// Readers bind the weight's buffer; no kernel computes them.
    pub weight_prefixes: HashMap<NodeId, NodeId>,
    /// Quantized weights are uploaded as `rgba32uint` textures at most this
    /// wide (their words in order, four to a texel), which CPU drivers
    /// fetch as vectors where a buffer load goes lane by lane; 0: buffers.
    pub quant_texture_side: u32,
}

impl FusionPlan {
    /// Whether `id` is a weight or constant that keeps its value for the
    /// program's life (and may be uploaded once as a texture).
    pub fn is_fixed(&self, ir: &Ir, id: NodeId) -> bool {
        matches!(ir.node(id).op, crate::graph::Op::Weight { .. } | crate::graph::Op::Constant { .. })
            && !self.written_weights.contains(&id)
    }

    /// Whether `id` gets a buffer (rather than being recomputed inside its readers).
    pub fn is_materialised(&self, id: NodeId) -> bool {
        self.materialised.contains(&id)
    }

    /// Kernel roots in execution order: materialised non-source nodes.
    pub fn roots(&self, ir: &Ir, order: &[NodeId]) -> Vec<NodeId> {
        order
            .iter()
            .copied()
            .filter(|&id| {
                self.is_materialised(id)
                    && ir.node(id).op.family() != OpFamily::Source
                    && !self.co_outputs.contains_key(&id)
                    && !self.weight_prefixes.contains_key(&id)
            })
            .collect()
    }
}

/// Options that change fusion (tests run everything unfused too).
#[derive(Debug, Clone, Copy)]
pub struct FuseOptions {
    /// Fuse elementwise chains and matmul epilogues. When off, every op is
    /// its own kernel (views still fold into index math).
    pub fuse: bool,
    /// Storage buffers one kernel may bind (output and params included).
    pub max_buffers: u32,
}

/// Builds the plan. `keep` lists nodes that must be materialised whatever
/// fusion would do (debug taps).
pub fn plan(ir: &Ir, order: &[NodeId], options: FuseOptions, keep: &HashSet<NodeId>) -> FusionPlan {
    let mut m: HashSet<NodeId> = HashSet::new();
    for (_, id) in &ir.outputs {
        m.insert(*id);
    }
    m.extend(keep.iter().copied());
    for &id in order {
        let op = &ir.node(id).op;
        match op.family() {
            OpFamily::Source => {
                // Scalars are inlined as literals; anything else is a buffer.
                let scalar = matches!(op, Op::Constant { value } if value.numel() == 1);
                if !scalar {
                    m.insert(id);
                }
            }
            OpFamily::MatMul | OpFamily::Row | OpFamily::Convolution | OpFamily::Scatter | OpFamily::Attention => {
                m.insert(id);
            }
            OpFamily::Generator | OpFamily::Elementwise | OpFamily::Movement => {
                let users = ir.users(id);
                let multi = users.len() > 1 || ir.outputs.iter().any(|(_, o)| *o == id);
                // A reduction computes its only operand inside its loop (a
                // prologue): `sum(g * g)` reads `g`, not a buffer of squares.
                let prologue = options.fuse && is_reduction_prologue(ir, id);
                let consumed_by_kernel = !prologue && users.iter().any(|&u| !ir.node(u).op.family().is_fusible());
                // Index-only ops are always recomputed by their readers.
                // Anything else gets a buffer when fusion is off, when it
                // feeds a non-elementwise kernel, or when several read it.
                if !op.is_index_only() && (!options.fuse || consumed_by_kernel || multi) {
                    m.insert(id);
                }
            }
        }
    }
    // Operands of row, conv and scatter kernels must be plain buffers, but
    // for a reduction's fusible prologue and a view a reduction reads
    // through index math (a gradient flattened to `[batch * seq, n]` for
    // both its weight-gradient matmul and its bias sum).
    for &id in order {
        if matches!(ir.node(id).op.family(), OpFamily::Row | OpFamily::Convolution | OpFamily::Scatter) {
            let reduce = matches!(ir.node(id).op, Op::Row(RowOp::Reduce { .. }));
            for o in ir.operands(id) {
                let computed = is_reduction_prologue(ir, o) || (reduce && ir.node(o).op.is_index_only());
                if !(options.fuse && computed && !m.contains(&o)) {
                    m.insert(o);
                }
            }
        }
    }
    // Matmul and attention operands may be strided views of a buffer (see
    // view.rs); anything else is materialised.
    for &id in order {
        if matches!(ir.node(id).op.family(), OpFamily::MatMul | OpFamily::Attention) {
            for (i, o) in ir.operands(id).into_iter().enumerate() {
                if i == 0 && ir.node(id).op.family() == OpFamily::MatMul && transposed_lhs(ir, id, o, &m) {
                    m.insert(o);
                    continue;
                }
                // Attention reads its operands from an offset (one batch
                // row's queries); matmul only from a buffer's start.
                let slices = ir.node(id).op.family() == OpFamily::Attention;
                match super::view::strided_base(ir, o, &m, slices) {
                    Some(base) => {
                        m.insert(base);
                    }
                    None => {
                        m.insert(o);
                    }
                }
            }
        }
    }
    let mut plan = FusionPlan {
        materialised: m,
        epilogue: HashMap::new(),
        co_outputs: HashMap::new(),
        written_weights: HashSet::new(),
        weight_prefixes: HashMap::new(),
        quant_texture_side: 0,
    };
    if options.fuse {
        find_epilogues(ir, order, keep, &mut plan);
    }
    split_wide_kernels(ir, order, options.max_buffers, &mut plan);
    if options.fuse {
        find_co_outputs(ir, order, keep, options.max_buffers, &mut plan);
    }
    plan
}

/// Whether matmul `mm`'s left operand `a` is a transposed view of a buffer
/// (contiguous along its rows, strided along k: `x^T` of a weight
/// gradient) that pays for a copy: over a long enough k, or batched by one
/// shared right operand. Read in place, every k-step gathers one scalar per
/// row; copied once to row-major, the kernel reads it as vec4 along k,
/// which on lavapipe more than pays for the copy (measured on a BERT-base
/// weight gradient with `examples/train_bench.rs --profile`). A batch of
/// small transposed blocks by one weight (heads merged back in a backward
/// pass: `[b, h, d, s]` read as `[b, s, h * d]`) would run as one small
/// product per sample; copied, it folds into one tall product.
fn transposed_lhs(ir: &Ir, mm: NodeId, a: NodeId, m: &HashSet<NodeId>) -> bool {
    if !ir.node(a).op.is_index_only() || m.contains(&a) {
        return false;
    }
    let Some(view) = super::view::strided_view(ir, a, m) else { return false };
    let r = view.shape.len();
    let one = crate::graph::Dim::new(1);
    let transposed = r >= 2 && view.strides[r - 2] == one && view.strides[r - 1] != one;
    // Symbolic sizes count as a typical sequence length.
    // In u64 and saturating: symbolic sizes multiply past a 32-bit usize (wasm32).
    let size = |d: &crate::graph::Dim| d.as_static().map_or(256, |s| s as u64);
    let cols = ir.node(mm).ty.shape.last().map_or(1, size);
    let work = view.shape.iter().map(size).fold(cols, u64::saturating_mul);
    transposed && (work >= COPY_TRANSPOSED_LHS_FROM || folds_once_copied(ir, mm, r))
}

/// Whether `mm` (left operand of rank `r`) has a batch of its own and a
/// right operand shared by every sample: with a row-major left operand,
/// the batch folds into the rows of one product.
fn folds_once_copied(ir: &Ir, mm: NodeId, r: usize) -> bool {
    let one = crate::graph::Dim::new(1);
    let b_shape = &ir.node(ir.operands(mm)[1]).ty.shape;
    let b_batch = &b_shape[..b_shape.len().saturating_sub(2)];
    let a_batch = &ir.node(ir.operands(mm)[0]).ty.shape[..r.saturating_sub(2)];
    a_batch.iter().any(|d| *d != one) && b_batch.iter().all(|d| *d == one)
}

/// The product size (`batch * m * k * n`) from which copying a transposed
/// left operand pays: below it (a d_model 64 weight gradient) the copy's
/// own dispatch costs more than the strided reads it saves.
const COPY_TRANSPOSED_LHS_FROM: u64 = 1 << 26;

/// Whether `id` can be computed inside the loop of the reduction that is
/// its only reader (sum, mean, max, min over one axis): an elementwise,
/// view or generated value read once. The reduction kernel evaluates it
/// per element instead of reading a buffer of it.
pub fn is_reduction_prologue(ir: &Ir, id: NodeId) -> bool {
    let fusible = matches!(ir.node(id).op.family(), OpFamily::Elementwise | OpFamily::Movement | OpFamily::Generator);
    let users = ir.users(id);
    fusible
        && users.len() == 1
        && matches!(ir.node(users[0]).op, Op::Row(RowOp::Reduce { .. }))
        && ir.operands(users[0]).iter().filter(|&&o| o == id).count() == 1
        && !ir.outputs.iter().any(|(_, o)| *o == id)
}

/// A matmul whose only reader is a same-shaped elementwise chain moves into
/// the chain's kernel: the matmul is no longer materialised, its result is
/// consumed in registers.
fn find_epilogues(ir: &Ir, order: &[NodeId], keep: &HashSet<NodeId>, plan: &mut FusionPlan) {
    for &id in order {
        // Outputs and taps need the matmul's own value in a buffer.
        if ir.node(id).op.family() != OpFamily::MatMul || ir.outputs.iter().any(|(_, o)| *o == id) || keep.contains(&id)
        {
            continue;
        }
        let shape = &ir.node(id).ty.shape;
        let mut cur = id;
        let mut root = None;
        // Walk up single-user, same-shape elementwise arithmetic.
        loop {
            let users = ir.users(cur);
            if users.len() != 1 || (cur != id && plan.is_materialised(cur)) {
                break;
            }
            let u = users[0];
            let uop = &ir.node(u).op;
            let arithmetic = uop.family() == OpFamily::Elementwise && !matches!(uop, Op::Cast(_));
            if !arithmetic || &ir.node(u).ty.shape != shape {
                break;
            }
            // The matmul value may appear only once in the user.
            if ir.operands(u).iter().filter(|&&o| o == cur).count() != 1 {
                break;
            }
            root = Some(u);
            if plan.is_materialised(u) {
                break;
            }
            cur = u;
        }
        if let Some(r) = root {
            // One matmul per kernel: a second matmul feeding the same root
            // (the `up` of a gated MLP) keeps its own buffer.
            let claimed = plan.epilogue.values().any(|&other| other == r);
            if plan.is_materialised(r) && !claimed {
                plan.materialised.remove(&id);
                plan.epilogue.insert(id, r);
            }
        }
    }
}

/// Assigns co-outputs (see [`FusionPlan::co_outputs`]): a materialised
/// elementwise graph output whose every reader is a same-shaped elementwise
/// node inside one elementwise root's kernel, or that root itself, moves
/// into that kernel, if the kernel's buffers stay within `max_buffers`.
fn find_co_outputs(ir: &Ir, order: &[NodeId], keep: &HashSet<NodeId>, max_buffers: u32, plan: &mut FusionPlan) {
    let outputs: HashSet<NodeId> = ir.outputs.iter().map(|(_, n)| *n).collect();
    let elementwise = |n: NodeId| ir.node(n).op.family() == OpFamily::Elementwise;
    // Latest roots first: a root claimed as another's co-output has no
    // kernel of its own to hold co-outputs.
    for root in plan.roots(ir, order).into_iter().rev() {
        // Plain elementwise kernels only (a matmul epilogue's kernel is the
        // matmul's).
        let epilogue_root = plan.epilogue.values().any(|&r| r == root);
        if !elementwise(root) || epilogue_root || plan.co_outputs.contains_key(&root) {
            continue;
        }
        let shape = ir.node(root).ty.shape.clone();
        let mut region = members(ir, root, plan).into_iter().collect::<HashSet<_>>();
        let mut claimed = 0usize;
        let mut tried: HashSet<NodeId> = HashSet::new();
        // Candidates: the buffers the kernel reads, growing as it claims.
        let mut frontier = leaves(ir, root, plan);
        while let Some(n) = frontier.pop() {
            if !tried.insert(n) {
                continue;
            }
            let eligible = outputs.contains(&n)
                && !keep.contains(&n)
                && elementwise(n)
                && ir.node(n).ty.shape == shape
                && !plan.co_outputs.contains_key(&n)
                && !plan.epilogue.values().any(|&r| r == n)
                && ir.users(n).iter().all(|u| region.contains(u) && elementwise(*u) && ir.node(*u).ty.shape == shape);
            if !eligible {
                continue;
            }
            // The buffers the kernel would bind with `n` computed inside it.
            plan.co_outputs.insert(n, root);
            if leaves(ir, root, plan).len() + claimed + 1 + 2 > max_buffers as usize {
                plan.co_outputs.remove(&n);
                continue;
            }
            claimed += 1;
            region = members(ir, root, plan).into_iter().collect::<HashSet<_>>();
            frontier = leaves(ir, root, plan);
        }
    }
}

/// The co-outputs `root`'s kernel computes, in node order.
pub fn own_co_outputs(root: NodeId, plan: &FusionPlan) -> Vec<NodeId> {
    let mut own: Vec<NodeId> = plan.co_outputs.iter().filter(|(_, &r)| r == root).map(|(&c, _)| c).collect();
    own.sort();
    own
}

/// Leaves (buffers) a kernel rooted at `root` reads.
pub fn leaves(ir: &Ir, root: NodeId, plan: &FusionPlan) -> Vec<NodeId> {
    let mut out = Vec::new();
    // A fused epilogue matmul is not materialised, so the walk reaches its
    // operands' buffers like any other fused operand's; co-outputs off the
    // root's own expression (merged siblings) bring theirs.
    let mut stack = ir.operands(root);
    stack.extend(own_co_outputs(root, plan));
    let mut seen = HashSet::new();
    while let Some(n) = stack.pop() {
        if !seen.insert(n) {
            continue;
        }
        // The root's co-outputs are computed in its kernel, not read.
        if plan.is_materialised(n) && plan.co_outputs.get(&n) != Some(&root) {
            out.push(n);
        } else {
            stack.extend(ir.operands(n));
        }
    }
    out.sort();
    out
}

/// Keeps every kernel within the adapter's storage-buffer budget by
/// materialising the inlined operand that brings in the most buffers.
fn split_wide_kernels(ir: &Ir, order: &[NodeId], max_buffers: u32, plan: &mut FusionPlan) {
    let budget = max_buffers.saturating_sub(2).max(1) as usize; // output and params
    loop {
        let mut changed = false;
        for root in plan.roots(ir, order) {
            if leaves(ir, root, plan).len() <= budget {
                continue;
            }
            let candidate = ir
                .operands(root)
                .into_iter()
                .filter(|o| !plan.is_materialised(*o) && !plan.epilogue.contains_key(o))
                .max_by_key(|o| leaves(ir, *o, plan).len());
            if let Some(c) = candidate {
                plan.materialised.insert(c);
                changed = true;
            }
        }
        if !changed {
            break;
        }
    }
}

/// Every node a kernel rooted at `root` computes: the root, its fused
/// (non-materialised) operands and co-outputs, and an epilogue's matmul
/// with its views.
pub fn members(ir: &Ir, root: NodeId, plan: &FusionPlan) -> Vec<NodeId> {
    let mut out = vec![root];
    let mut stack = ir.operands(root);
    stack.extend(own_co_outputs(root, plan));
    let mut seen = HashSet::from([root]);
    while let Some(n) = stack.pop() {
        let own_co_output = plan.co_outputs.get(&n) == Some(&root);
        if !seen.insert(n) || (plan.is_materialised(n) && !own_co_output) {
            continue;
        }
        let op = &ir.node(n).op;
        // Scalar constants are inlined literals, not computed.
        if matches!(op, Op::Constant { .. }) {
            continue;
        }
        out.push(n);
        stack.extend(ir.operands(n));
    }
    out.sort();
    out
}
