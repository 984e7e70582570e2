//! Expression codegen for fused kernels: evaluates a node at a coordinate
//! vector, recursing through fused operands and folding views into index
//! arithmetic. Materialised operands become buffer reads.

use super::params::ParamTable;
use super::texture::{weight_fold, TextureCopy};
use super::wgsl::Scalar;
use crate::compile::fuse::FusionPlan;
use crate::compile::view::contiguous_strides;
use crate::graph::{BinaryOp, CompareOp, DType, Dim, Gelu, Ir, NodeId, Op, UnaryOp};
use std::fmt::Write;

/// Builds the body of one kernel.
pub struct ExprBuilder<'a> {
    /// The graph the kernel computes part of.
    pub ir: &'a Ir,
    /// Which values are buffers (read) and which are fused (recomputed).
    pub plan: &'a FusionPlan,
    /// The symbolic sizes the kernel reads from its params buffer.
    pub params: ParamTable,
    /// Buffers read, in binding order (binding = 1 + position).
    pub inputs: Vec<NodeId>,
    /// The node whose value is already in a register (a matmul accumulator).
    pub register: Option<(NodeId, String)>,
    /// Every buffer element read emitted so far (to know what an epilogue reads).
    pub reads: Vec<NodeId>,
    /// The WGSL statements emitted so far.
    pub code: String,
    /// The kernel's root, when its co-outputs are computed here too.
    pub kernel_root: Option<NodeId>,
    /// Co-outputs computed so far, with the variable holding each value
    /// at the kernel's own coordinates.
    pub co_stores: Vec<(NodeId, String)>,
    /// Read f32 values through textures instead of buffers where they fit:
    /// the device's largest texture side (0: never). On CPU drivers a
    /// buffer load goes lane by lane, a texel fetch is vectorised.
    pub texture_side: u32,
    /// Values this kernel binds as buffers for its own loads, never read
    /// through textures.
    pub buffer_only: Vec<NodeId>,
    /// Values read through textures: `(node, cols, fold, copy)`, the copy
    /// that fills an activation's texture (`None`: a weight uploaded as one).
    pub texture_reads: Vec<(NodeId, usize, u32, Option<TextureCopy>)>,
    next: usize,
}

impl<'a> ExprBuilder<'a> {
    /// An empty kernel body over `ir` fused as `plan` says.
    pub fn new(ir: &'a Ir, plan: &'a FusionPlan) -> ExprBuilder<'a> {
        ExprBuilder {
            ir,
            plan,
            params: ParamTable::default(),
            inputs: Vec::new(),
            register: None,
            reads: Vec::new(),
            code: String::new(),
            kernel_root: None,
            co_stores: Vec::new(),
            texture_side: 0,
            buffer_only: Vec::new(),
            texture_reads: Vec::new(),
            next: 0,
        }
    }

    /// A new variable name starting with `prefix` (`v3`), unique in the kernel.
    pub fn fresh(&mut self, prefix: &str) -> String {
        self.next += 1;
        format!("{prefix}{}", self.next)
    }

    /// Emits one indented statement.
    pub fn line(&mut self, s: impl AsRef<str>) {
        let _ = writeln!(self.code, "    {}", s.as_ref());
    }

    /// The WGSL u32 expression for a size: a literal or a params read.
    pub fn dim(&mut self, d: &Dim) -> String {
        self.params.expr(d)
    }

    /// `d` read from the params buffer even when static (see
    /// [`super::params::ParamTable::read`]).
    pub fn runtime_dim(&mut self, d: &Dim) -> String {
        self.params.read(d)
    }

    /// The binding variable for buffer `node` (`in0`, `in1`, ...), registering it.
    pub fn buffer(&mut self, node: NodeId) -> String {
        let i = match self.inputs.iter().position(|&n| n == node) {
            Some(i) => i,
            None => {
                self.inputs.push(node);
                self.inputs.len() - 1
            }
        };
        format!("in{i}")
    }

    /// Splits a linear index into coordinates of `shape` (row-major).
    pub fn delinearize(&mut self, linear: &str, shape: &[Dim]) -> Vec<String> {
        let mut coords = vec![String::new(); shape.len()];
        let mut rest = linear.to_string();
        for axis in (0..shape.len()).rev() {
            let c = self.fresh("c");
            if axis == 0 {
                self.line(format!("let {c} = {rest};"));
            } else {
                let d = self.dim(&shape[axis]);
                let r = self.fresh("r");
                self.line(format!("let {c} = {rest} % {d};"));
                self.line(format!("let {r} = {rest} / {d};"));
                rest = r;
            }
            coords[axis] = c;
        }
        coords
    }

    /// `sum(coords_i * strides_i)` as a WGSL u32 expression.
    pub fn linearize(&mut self, coords: &[String], strides: &[Dim]) -> String {
        let mut terms = Vec::new();
        for (c, s) in coords.iter().zip(strides) {
            match s.as_static() {
                Some(0) => {}
                Some(1) => terms.push(c.clone()),
                _ => {
                    let s = self.dim(s);
                    terms.push(format!("{c} * {s}"));
                }
            }
        }
        if terms.is_empty() {
            "0u".into()
        } else {
            terms.join(" + ")
        }
    }

    /// Reads element `coords` of the materialised buffer `node`.
    fn read(&mut self, node: NodeId, coords: &[String]) -> String {
        let shape = self.ir.node(node).ty.shape.clone();
        let offset = self.linearize(coords, &contiguous_strides(&shape));
        let buf = self.buffer(node);
        self.reads.push(node);
        let v = self.fresh("v");
        if super::bindings::quantized_weight(self.ir, node).is_some() {
            // Dequantized where it is read (`dq1_*`, declared with the binding).
            self.line(format!("let {v} = dq1_{buf}({offset});"));
            return v;
        }
        match self.texture_read(node) {
            Some((cols, fold)) => {
                // Row `r` of `cols` values, `fold` rows to a texture row.
                let (o, r) = (self.fresh("o"), self.fresh("r"));
                self.line(format!("let {o} = {offset};"));
                self.line(format!("let {r} = {o} / {cols}u;"));
                self.line(format!(
                    "let {v} = textureLoad({buf}, vec2<u32>(({r} % {fold}u) * {}u + ({o} % {cols}u) / 4u, {r} / {fold}u))[{o} % 4u];",
                    cols / 4
                ));
            }
            None => self.line(format!("let {v} = {buf}[{offset}];")),
        }
        v
    }

    /// `(cols, fold)` when `node` is read through a texture: an f32 value
    /// with rows of a static whole number of texels; a weight uploaded as
    /// a texture of one row per texture row (1-D or 2-D, fitting), any
    /// other value copied into one before the dispatch.
    fn texture_read(&mut self, node: NodeId) -> Option<(usize, u32)> {
        if let Some(&(_, cols, fold, _)) = self.texture_reads.iter().find(|t| t.0 == node) {
            return Some((cols, fold));
        }
        let n = self.ir.node(node);
        if self.texture_side == 0 || self.buffer_only.contains(&node) || n.ty.dtype != DType::F32 {
            return None;
        }
        let (last, rest) = n.ty.shape.split_last()?;
        let cols = last.as_static()?;
        let (fold, copy) = if self.plan.is_fixed(self.ir, node) {
            let rows = match rest {
                [] => 1,
                [rows] => rows.as_static()?,
                _ => return None,
            };
            (weight_fold(rows, cols, self.texture_side)?, None)
        } else {
            let copy = TextureCopy::new(node, Dim::product(rest), cols, self.texture_side)?;
            (copy.fold, Some(copy))
        };
        self.texture_reads.push((node, cols, fold, copy));
        Some((cols, fold))
    }

    /// The value of `node` at `coords` (one coordinate per axis of its shape).
    pub fn value(&mut self, node: NodeId, coords: &[String]) -> String {
        if let Some((n, reg)) = &self.register {
            if *n == node {
                return reg.clone();
            }
        }
        let n = self.ir.node(node);
        if let Op::Constant { value } = &n.op {
            if value.numel() == 1 {
                return literal(value.to_f64_vec()[0], n.ty.dtype);
            }
        }
        if let Some((_, v)) = self.co_stores.iter().find(|(n, _)| *n == node) {
            return v.clone();
        }
        let co_output = self.kernel_root.is_some() && self.plan.co_outputs.get(&node) == self.kernel_root.as_ref();
        if co_output {
            // Computed here and stored next to the root (same coordinates:
            // every path from it to the root is same-shaped elementwise).
            let v = self.compute(node, coords);
            self.co_stores.push((node, v.clone()));
            return v;
        }
        if self.plan.is_materialised(node) {
            return self.read(node, coords);
        }
        self.compute(node, coords)
    }

    /// Computes `node`'s op at `coords` from its operands (a kernel root is
    /// computed even though it is materialised: it is what the kernel writes).
    pub fn compute(&mut self, node: NodeId, coords: &[String]) -> String {
        let n = self.ir.node(node);
        let op = n.op.clone();
        let ty = n.ty.clone();
        let operands = self.ir.operands(node);
        let t = Scalar::of(ty.dtype);
        match &op {
            Op::Input { .. } | Op::Weight { .. } | Op::Constant { .. } => self.read(node, coords),
            Op::Range { start, step, .. } => {
                let v = self.fresh("v");
                let (s, k) = (literal(*start as f64, ty.dtype), literal(*step as f64, ty.dtype));
                self.line(format!("let {v} = {s} + {k} * {t}({});", coords[0]));
                v
            }
            Op::BandMask { rows, cols, before, after } => {
                let (r, c) = (self.dim(rows), self.dim(cols));
                let d = self.fresh("d");
                self.line(format!("let {d} = i32({}) - (i32({}) + i32({c}) - i32({r}));", coords[1], coords[0]));
                let mut conds = vec!["true".to_string()];
                if let Some(b) = before {
                    conds.push(format!("{d} >= -{b}"));
                }
                if let Some(a) = after {
                    conds.push(format!("{d} <= {a}"));
                }
                let v = self.fresh("v");
                self.line(format!("let {v} = select(0u, 1u, {});", conds.join(" && ")));
                v
            }
            Op::Unary(u) => {
                let x = self.value(operands[0], coords);
                let e = unary(*u, &x, t);
                self.bind(e)
            }
            Op::Binary(b) => {
                let (a, c) = self.broadcast_operands(&operands, &ty.shape, coords);
                let e = binary(*b, &a[0], &c, t);
                self.bind(e)
            }
            Op::Compare(cmp) => {
                let (a, c) = self.broadcast_operands(&operands, &ty.shape, coords);
                let sym = match cmp {
                    CompareOp::Eq => "==",
                    CompareOp::Ne => "!=",
                    CompareOp::Lt => "<",
                    CompareOp::Le => "<=",
                    CompareOp::Gt => ">",
                    CompareOp::Ge => ">=",
                };
                self.bind(format!("select(0u, 1u, {} {sym} {c})", a[0]))
            }
            Op::Where => {
                let vals: Vec<String> = operands
                    .iter()
                    .map(|&o| {
                        let oc = self.broadcast_coords(o, &ty.shape, coords);
                        self.value(o, &oc)
                    })
                    .collect();
                self.bind(format!("select({}, {}, {} != 0u)", vals[2], vals[1], vals[0]))
            }
            Op::Cast(to) => {
                let from = self.ir.node(operands[0]).ty.dtype;
                let x = self.value(operands[0], coords);
                self.bind(cast(&x, from, *to))
            }
            Op::Permute { perm } => {
                let mut src = vec![String::new(); perm.len()];
                for (i, &p) in perm.iter().enumerate() {
                    src[p] = coords[i].clone();
                }
                self.value(operands[0], &src)
            }
            Op::Reshape { .. } => {
                let from = self.ir.node(operands[0]).ty.shape.clone();
                let src = if from == ty.shape {
                    coords.to_vec()
                } else {
                    let linear = self.linearize(coords, &contiguous_strides(&ty.shape));
                    let l = self.fresh("l");
                    self.line(format!("let {l} = {linear};"));
                    self.delinearize(&l, &from)
                };
                self.value(operands[0], &src)
            }
            Op::Expand { .. } => {
                let src = self.broadcast_coords(operands[0], &ty.shape, coords);
                self.value(operands[0], &src)
            }
            Op::Slice { axis, start, step, .. } => {
                let mut src = coords.to_vec();
                let s = self.dim(start);
                src[*axis] = if *step == 1 {
                    format!("({s} + {})", coords[*axis])
                } else {
                    format!("({s} + {} * {step}u)", coords[*axis])
                };
                self.value(operands[0], &src)
            }
            Op::Gather { axis } => {
                let data_shape = self.ir.node(operands[0]).ty.shape.clone();
                let idx_rank = self.ir.node(operands[1]).ty.rank();
                let idx = self.value(operands[1], &coords[*axis..*axis + idx_rank]);
                let n = self.dim(&data_shape[*axis]);
                // Out-of-range ids are caught on the host for graph inputs;
                // clamping keeps any other read inside the buffer.
                let k = self.fresh("k");
                self.line(format!("let {k} = min(u32(max(i32({idx}), 0)), {n} - 1u);"));
                let mut src: Vec<String> = coords[..*axis].to_vec();
                src.push(k);
                src.extend(coords[*axis + idx_rank..].iter().cloned());
                self.value(operands[0], &src)
            }
            Op::Concat { axis } => {
                let v = self.fresh("v");
                self.line(format!("var {v}: {t};"));
                let mut offset = Dim::new(0);
                for (i, &o) in operands.iter().enumerate() {
                    let len = self.ir.node(o).ty.shape[*axis].clone();
                    let end = &offset + &len;
                    let (lo, hi) = (self.dim(&offset), self.dim(&end));
                    let c = &coords[*axis];
                    let cond = if i + 1 == operands.len() { "true".to_string() } else { format!("{c} < {hi}") };
                    let keyword = if i == 0 { "if" } else { "} else if" };
                    self.line(format!("{keyword} ({cond}) {{"));
                    let mut src = coords.to_vec();
                    src[*axis] = format!("({c} - {lo})");
                    let x = self.value(o, &src);
                    self.line(format!("{v} = {x};"));
                    offset = end;
                }
                self.line("}");
                v
            }
            Op::MatMul | Op::Row(_) | Op::ScatterAdd { .. } | Op::Conv1d { .. } | Op::Attention { .. } => {
                // Fusion materialises these; reading the buffer is always right.
                self.read(node, coords)
            }
        }
    }

    fn bind(&mut self, expr: String) -> String {
        let v = self.fresh("v");
        self.line(format!("let {v} = {expr};"));
        v
    }

    /// Operand coordinates under numpy broadcasting onto `out_shape`.
    fn broadcast_coords(&mut self, operand: NodeId, out_shape: &[Dim], coords: &[String]) -> Vec<String> {
        let shape = &self.ir.node(operand).ty.shape;
        let pad = out_shape.len() - shape.len();
        (0..shape.len())
            .map(|i| {
                if shape[i] == Dim::new(1) && out_shape[pad + i] != Dim::new(1) {
                    "0u".to_string()
                } else {
                    coords[pad + i].clone()
                }
            })
            .collect()
    }

    fn broadcast_operands(
        &mut self,
        operands: &[NodeId],
        out_shape: &[Dim],
        coords: &[String],
    ) -> (Vec<String>, String) {
        let a_coords = self.broadcast_coords(operands[0], out_shape, coords);
        let a = self.value(operands[0], &a_coords);
        let b_coords = self.broadcast_coords(operands[1], out_shape, coords);
        let b = self.value(operands[1], &b_coords);
        (vec![a], b)
    }
}

/// A WGSL literal of the dtype's GPU type.
pub fn literal(v: f64, dtype: DType) -> String {
    match Scalar::of(dtype) {
        Scalar::F32 => {
            let f = v as f32;
            if f.is_finite() && f.abs() == f32::MAX {
                // The shortest decimal of f32::MAX (3.4028235e38) lies above
                // it, which Tint (Chrome's WGSL compiler) refuses; this one
                // lies below and rounds to it.
                format!("f32({}3.402823466e38)", if f < 0.0 { "-" } else { "" })
            } else if f.is_finite() {
                format!("f32({f:e})")
            } else if f.is_nan() {
                // WGSL has no NaN literal; build one from bits.
                "bitcast<f32>(0x7fc00000u)".into()
            } else if f > 0.0 {
                "bitcast<f32>(0x7f800000u)".into()
            } else {
                "bitcast<f32>(0xff800000u)".into()
            }
        }
        Scalar::I32 => {
            let i = (v as i64).clamp(i32::MIN as i64 + 1, i32::MAX as i64);
            format!("i32({i})")
        }
        Scalar::U32 => format!("{}u", (v as i64).clamp(0, u32::MAX as i64)),
    }
}

fn unary(op: UnaryOp, x: &str, t: Scalar) -> String {
    match op {
        UnaryOp::Neg if t == Scalar::U32 => format!("(0u - {x})"),
        UnaryOp::Neg => format!("-{x}"),
        UnaryOp::Abs if t == Scalar::U32 => x.to_string(),
        UnaryOp::Abs => format!("abs({x})"),
        UnaryOp::Exp => format!("exp({x})"),
        UnaryOp::Log => format!("log({x})"),
        UnaryOp::Sqrt => format!("sqrt({x})"),
        UnaryOp::Rsqrt => format!("inverseSqrt({x})"),
        UnaryOp::Recip => format!("(1.0 / {x})"),
        UnaryOp::Tanh => format!("tanh_safe({x})"),
        UnaryOp::Sigmoid => format!("sigmoid({x})"),
        UnaryOp::Relu => format!("max({x}, {t}(0))"),
        UnaryOp::Silu => format!("({x} * sigmoid({x}))"),
        UnaryOp::Gelu(Gelu::Erf) => format!("gelu_erf({x})"),
        UnaryOp::Gelu(Gelu::Tanh) => format!("gelu_tanh({x})"),
        UnaryOp::Erf => format!("erf({x})"),
        UnaryOp::Sin => format!("sin_precise({x})"),
        UnaryOp::Cos => format!("cos_precise({x})"),
        UnaryOp::Not => format!("(1u - {x})"),
    }
}

fn binary(op: BinaryOp, a: &str, b: &str, t: Scalar) -> String {
    match (op, t) {
        (BinaryOp::Add, _) => format!("({a} + {b})"),
        (BinaryOp::Sub, _) => format!("({a} - {b})"),
        (BinaryOp::Mul, _) => format!("({a} * {b})"),
        (BinaryOp::Div, Scalar::F32) => format!("({a} / {b})"),
        (BinaryOp::Div, Scalar::I32) => format!("floor_div({a}, {b})"),
        (BinaryOp::Div, Scalar::U32) => format!("select(0u, {a} / {b}, {b} != 0u)"),
        (BinaryOp::Pow, _) => format!("pow_signed({a}, {b})"),
        (BinaryOp::Max, _) => format!("max({a}, {b})"),
        (BinaryOp::Min, _) => format!("min({a}, {b})"),
        (BinaryOp::And, _) => format!("({a} & {b})"),
        (BinaryOp::Or, _) => format!("({a} | {b})"),
    }
}

fn cast(x: &str, from: DType, to: DType) -> String {
    let (f, t) = (Scalar::of(from), Scalar::of(to));
    if to == DType::Bool {
        return format!("select(0u, 1u, {x} != {})", f.zero());
    }
    if f == t {
        x.to_string()
    } else {
        format!("{t}({x})")
    }
}
