//! The one table of op cases: every op test iterates it, and the device
//! check (`debug::device_check`, the browser's "check this device") runs it
//! on the user's GPU against the interpreter.
//!
//! **Adding an op takes exactly one line in [`op_table!`]** (plus, for a
//! long builder, a helper function in `inputs.rs`). That line gives it:
//! - GPU against the interpreter on three seeds of awkward shapes, fused and
//!   unfused: one `#[test]` per case in `tests/gpu_ops.rs`;
//! - naga validation and translation to SPIR-V, MSL and HLSL of every kernel
//!   it compiles to, fused and unfused, under every matmul policy:
//!   `tests/kernels_wgsl.rs`;
//! - when the case is `differentiable`: its gradients in f64 against central
//!   finite differences on the interpreter (`tests/grad_ops.rs`), and its
//!   backward graph in f32 on the GPU against the interpreter, fused and
//!   unfused, bitwise deterministic (`tests/gpu_grads.rs`), one `#[test]`
//!   per case each;
//! - the interpreter against PyTorch when tests/fixtures/generate_ops.py
//!   stores a reference under the same name (`<name>.in0`, ..., `<name>.out`):
//!   `tests/interp_ops.rs` (the builder then also runs on the fixture's shapes,
//!   so it must read sizes from its inputs, not assume the generator's).
//!
//! A row is `name: Tolerance, differentiable, inputs, build;`:
//! - `Tolerance`: [`Tol::Elementwise`] or [`Tol::Accumulating`] (sums, dot
//!   products, normalisations);
//! - `differentiable`: [`GRAD`] when the output is float and almost everywhere
//!   differentiable in its float inputs (gradient checks differentiate with
//!   respect to every float input and leave integer and bool inputs alone),
//!   [`NO_GRAD`] otherwise (integer or bool outputs, piecewise constant ones);
//! - `inputs`: `fn(&mut Rng) -> Vec<Tensor>`, drawing shapes from the awkward
//!   sizes (1, odd, not a multiple of any tile) with broadcasting and size-1
//!   dims, and values inside the op's domain; for a `GRAD` case also away
//!   from kinks and ties by more than a finite-difference step ([`distinct`],
//!   `unary_away`, `binary_apart`), and float inputs the builder treats by
//!   their dtype (gradient checks run the builder on f64 inputs);
//! - `build`: `fn(&Graph, &[Value]) -> Value` over the inputs, declared as
//!   static-shaped graph inputs `x0, x1, ...`; the result is output `out`.

mod inputs;
mod rng;

pub use inputs::{broadcastable, distinct, ints, shape};
pub use rng::Rng;

use crate::graph::ops::{self, Gelu};
use crate::graph::{DType, Dim, Graph, GraphError, Tensor, Value};
#[allow(clippy::wildcard_imports)]
use inputs::*;

/// Tolerance classes, as `(rtol, atol)` for fp32 results.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tol {
    /// One rounding per element (exact for integer and bool results).
    Elementwise,
    /// Sums over an axis: matmul, convolution, softmax, norms, reductions.
    Accumulating,
}

impl Tol {
    /// `(rtol, atol)` of this class.
    pub fn rtol_atol(self) -> (f64, f64) {
        match self {
            Tol::Elementwise => (1e-6, 1e-6),
            Tol::Accumulating => (1e-4, 1e-5),
        }
    }
}

/// A row whose gradients are checked.
pub const GRAD: bool = true;
/// A row without gradient checks.
pub const NO_GRAD: bool = false;

/// One row of the table.
pub struct OpCase {
    /// The case's name (`softmax_last`).
    pub name: &'static str,
    /// How close the GPU must come to the interpreter.
    pub tol: Tol,
    /// Gradient checks apply (see the module doc).
    pub differentiable: bool,
    /// Draws the inputs.
    pub inputs: fn(&mut Rng) -> Vec<Tensor>,
    /// Builds the op over the inputs.
    pub build: fn(&Graph, &[Value]) -> Value,
}

/// The seeds every consumer draws inputs with.
pub const SEEDS: [u64; 3] = [0, 1, 2];

/// A floor on the table's size (its size when written). Consumers assert
/// they ran at least this many cases, so a table or filter that silently
/// empties fails. Adding a case needs no change here; never lower it.
pub const MIN_CASES: usize = 77;

/// The same floor for the differentiable (`GRAD`) cases, which the gradient
/// tests count.
pub const MIN_GRAD_CASES: usize = 72;

/// A case built on concrete inputs: the graph, its feed, and a label naming
/// the case and where the inputs came from (`"softmax_last seed 2"`).
pub struct Instance {
    /// The case and where its inputs came from.
    pub what: String,
    /// The graph: inputs `x0, x1, ...`, output `out`.
    pub graph: Graph,
    /// The inputs by name.
    pub feed: Vec<(String, Tensor)>,
}

impl OpCase {
    /// The inputs for `seed`.
    pub fn inputs(&self, seed: u64) -> Vec<Tensor> {
        (self.inputs)(&mut Rng(seed * 7919 + 17))
    }

    /// The case on the inputs drawn with `seed`.
    pub fn instance(&self, seed: u64) -> Result<Instance, GraphError> {
        self.instance_on(self.inputs(seed), format!("{} seed {seed}", self.name))
    }

    /// The case on given inputs (a fixture's), labelled `what`; a build
    /// error when the inputs do not fit the case's builder.
    pub fn instance_on(&self, inputs: Vec<Tensor>, what: String) -> Result<Instance, GraphError> {
        let graph = Graph::new(self.name);
        let values: Vec<Value> = inputs
            .iter()
            .enumerate()
            .map(|(i, t)| graph.input(format!("x{i}"), t.dtype(), t.shape().iter().map(|&d| Dim::new(d))))
            .collect();
        let out = (self.build)(&graph, &values);
        graph.output_named([("out", out)])?;
        let feed = inputs.into_iter().enumerate().map(|(i, t)| (format!("x{i}"), t)).collect();
        Ok(Instance { what, graph, feed })
    }
}

/// The case called `name`, if the table has one.
pub fn case(name: &str) -> Option<&'static OpCase> {
    CASES.iter().find(|c| c.name == name)
}

/// Emits the table's rows into the macro named first, after the tokens that
/// follow a `;` (`op_table!(case_names; my_tests)` calls
/// `my_tests!(neg abs ...)`). The rows are the only list of op cases.
#[doc(hidden)]
#[macro_export]
macro_rules! op_table {
    ($callback:ident $(; $($arg:tt)*)?) => {
        $callback! { $($($arg)*;)?
            // ---- elementwise unary
            neg: Elementwise, GRAD, |r| unary(r, -3.0, 3.0), |_, x| -&x[0];
            abs: Elementwise, GRAD, |r| unary_away(r, 0.1, 3.0), |_, x| ops::abs(&x[0]);
            exp: Elementwise, GRAD, |r| unary(r, -5.0, 5.0), |_, x| ops::exp(&x[0]);
            log: Elementwise, GRAD, |r| unary(r, 0.01, 5.0), |_, x| ops::log(&x[0]);
            sqrt: Elementwise, GRAD, |r| unary(r, 0.01, 5.0), |_, x| ops::sqrt(&x[0]);
            rsqrt: Elementwise, GRAD, |r| unary(r, 0.01, 5.0), |_, x| ops::rsqrt(&x[0]);
            recip: Elementwise, GRAD, |r| unary(r, 0.1, 5.0), |_, x| ops::recip(&x[0]);
            tanh: Elementwise, GRAD, |r| unary(r, -6.0, 6.0), |_, x| ops::tanh(&x[0]);
            sigmoid: Elementwise, GRAD, |r| unary(r, -9.0, 9.0), |_, x| ops::sigmoid(&x[0]);
            relu: Elementwise, GRAD, |r| unary_away(r, 0.1, 3.0), |_, x| ops::relu(&x[0]);
            silu: Elementwise, GRAD, |r| unary(r, -6.0, 6.0), |_, x| ops::silu(&x[0]);
            gelu: Elementwise, GRAD, |r| unary(r, -6.0, 6.0), |_, x| ops::gelu(&x[0], Gelu::Erf);
            gelu_tanh: Elementwise, GRAD, |r| unary(r, -6.0, 6.0), |_, x| ops::gelu(&x[0], Gelu::Tanh);
            erf: Elementwise, GRAD, |r| unary(r, -3.0, 3.0), |_, x| ops::erf(&x[0]);
            sin: Elementwise, GRAD, |r| unary(r, -4.0, 4.0), |_, x| ops::sin(&x[0]);
            cos: Elementwise, GRAD, |r| unary(r, -4.0, 4.0), |_, x| ops::cos(&x[0]);
            scalar_ops: Elementwise, GRAD, |r| unary(r, -3.0, 3.0), |_, x| 1.5 - &(&x[0] * 0.125);
            // ---- elementwise binary, both operands broadcasting
            add: Elementwise, GRAD, |r| binary(r, -3.0, 3.0), |_, x| &x[0] + &x[1];
            sub: Elementwise, GRAD, |r| binary(r, -3.0, 3.0), |_, x| &x[0] - &x[1];
            mul: Elementwise, GRAD, |r| binary(r, -3.0, 3.0), |_, x| &x[0] * &x[1];
            div: Elementwise, GRAD, |r| binary(r, 0.5, 3.0), |_, x| &x[0] / &x[1];
            pow: Elementwise, GRAD, pow_inputs, |_, x| ops::pow(&x[0], &x[1]);
            maximum: Elementwise, GRAD, binary_apart, |_, x| ops::maximum(&x[0], &x[1]);
            minimum: Elementwise, GRAD, binary_apart, |_, x| ops::minimum(&x[0], &x[1]);
            floor_div_i64: Elementwise, NO_GRAD, floor_div_inputs, |_, x| ops::div(&x[0], &x[1]);
            // ---- comparisons, logic, where, casts
            lt: Elementwise, NO_GRAD, |r| binary(r, -3.0, 3.0), |_, x| ops::lt(&x[0], &x[1]);
            ge: Elementwise, NO_GRAD, |r| binary(r, -3.0, 3.0), |_, x| ops::ge(&x[0], &x[1]);
            eq_i64: Elementwise, NO_GRAD, |r| int_pair(r, 3), |_, x| ops::eq(&x[0], &x[1]);
            logic: Elementwise, NO_GRAD, |r| { let s = shape(r, 2); vec![r.bools(&s), r.bools(&s)] }, |_, x| ops::or(&ops::and(&x[0], &ops::not(&x[1])), &x[1]);
            select_where: Elementwise, GRAD, select_inputs, |_, x| ops::select(&x[0], &x[1], &x[2]);
            cast_f32_i64: Elementwise, NO_GRAD, |r| { let s = shape(r, 2); vec![r.floats(&s, -5.0, 5.0)] }, |_, x| ops::cast(&x[0], DType::I64);
            cast_i64_f32: Elementwise, NO_GRAD, |r| { let s = shape(r, 2); vec![ints(r, &s, -(1 << 20), 1 << 20)] }, |_, x| ops::cast(&x[0], DType::F32);
            casts: Elementwise, NO_GRAD, |r| { let s = shape(r, 2); vec![r.floats(&s, -40.0, 40.0)] }, cast_chain;
            // ---- data movement
            permute: Elementwise, GRAD, |r| unary(r, -1.0, 1.0), |_, x| ops::permute(&x[0], &[2, 0, 1]);
            permute_4d: Elementwise, GRAD, |r| { let s = shape(r, 4); vec![r.floats(&s, -1.0, 1.0)] }, |_, x| ops::permute(&x[0], &[2, 0, 3, 1]);
            transpose: Elementwise, GRAD, |r| unary(r, -1.0, 1.0), |_, x| ops::transpose(&x[0], -2, -1);
            reshape_heads: Elementwise, GRAD, |r| { let (b, s, h) = (r.size(), r.size(), r.size()); vec![r.floats(&[b, s, h * 4], -1.0, 1.0)] }, reshape_heads;
            expand: Elementwise, GRAD, |r| { let a = r.size(); vec![r.floats(&[a, 1], -1.0, 1.0)] }, |_, x| ops::expand(&x[0], [2.into(), x[0].shape()[0].clone(), 4.into()]);
            slice_step: Elementwise, GRAD, |r| { let s = [r.size(), 9 + r.below(4)]; vec![r.floats(&s, -1.0, 1.0)] }, |_, x| ops::slice_step(&x[0], 1, 1, 9, 3);
            slice_step_wide: Elementwise, GRAD, |r| { let s = [r.size(), 20]; vec![r.floats(&s, -1.0, 1.0)] }, |_, x| ops::slice_step(&x[0], 1, 3, 19, 4);
            concat: Elementwise, GRAD, concat_inputs, |_, x| ops::concat(&[&x[0], &x[1]], 1);
            split_middle: Elementwise, GRAD, |r| { let s = [r.size(), 9]; vec![r.floats(&s, -1.0, 1.0)] }, |_, x| ops::split(&x[0], 1, &[2, 3, 4]).swap_remove(1);
            concat_split: Elementwise, GRAD, concat_inputs, concat_split;
            gather_embedding: Elementwise, GRAD, embedding_inputs, |_, x| ops::gather(&x[0], &x[1], 0);
            gather_axis1: Elementwise, GRAD, gather_axis1_inputs, |_, x| ops::gather(&x[0], &x[1], 1);
            gather_scalar_index: Elementwise, GRAD, gather_scalar_inputs, |_, x| ops::gather(&x[0], &x[1], -1);
            squeeze_unsqueeze: Elementwise, GRAD, |r| { let (a, b) = (r.size(), r.size()); vec![r.floats(&[a, 1, b], -1.0, 1.0)] }, |_, x| ops::unsqueeze(&ops::squeeze(&x[0], 1), 0);
            slice_step_whole_axis: Elementwise, GRAD, |r| { let s = [r.size(), 7]; vec![r.floats(&s, -1.0, 1.0)] }, |_, x| ops::slice_step(&x[0], 1, 0, 7, 2);
            // ---- sources and masks
            range: Elementwise, NO_GRAD, |_| vec![], |g, _| ops::range(g, 3, 2, 6, DType::I64);
            causal_mask: Elementwise, NO_GRAD, |_| vec![], |g, _| ops::causal_mask(g, 4, 6);
            sliding_mask: Elementwise, NO_GRAD, |_| vec![], |g, _| ops::band_mask(g, 5, 5, Some(2), Some(0));
            range_and_masks: Elementwise, GRAD, |r| { let (a, b) = (r.size(), r.size()); vec![r.floats(&[a, a + b], -1.0, 1.0)] }, range_and_masks;
            // ---- linear algebra
            matmul_2d: Accumulating, GRAD, |r| { let (m, k, n) = (r.size(), r.size(), r.size()); vec![r.floats(&[m, k], -1.0, 1.0), r.floats(&[k, n], -1.0, 1.0)] }, |_, x| ops::matmul(&x[0], &x[1]);
            matmul_odd: Accumulating, GRAD, |r| { let (b, m, k, n) = (r.size(), r.size(), r.size(), r.size()); vec![r.floats(&[b, m, k], -1.0, 1.0), r.floats(&[k, n], -1.0, 1.0)] }, |_, x| ops::matmul(&x[0], &x[1]);
            matmul_left_broadcast: Accumulating, GRAD, |r| { let (b, m, k, n) = (r.size(), r.size(), r.size(), r.size()); vec![r.floats(&[m, k], -1.0, 1.0), r.floats(&[b, 1, k, n], -1.0, 1.0)] }, |_, x| ops::matmul(&x[0], &x[1]);
            matmul_batched_broadcast: Accumulating, GRAD, |r| { let (b, m, k, n) = (r.size(), r.size(), r.size(), r.size()); vec![r.floats(&[b, 1, m, k], -1.0, 1.0), r.floats(&[3, k, n], -1.0, 1.0)] }, |_, x| ops::matmul(&x[0], &x[1]);
            matmul_transposed_operands: Accumulating, GRAD, transposed_operands_inputs, |_, x| ops::gelu(&ops::linear(&ops::transpose(&x[0], 0, 1), &x[1], Some(&x[2])), Gelu::Erf);
            linear: Accumulating, GRAD, |r| { let (b, s, k, n) = (r.size(), r.size(), r.size(), r.size()); vec![r.floats(&[b, s, k], -1.0, 1.0), r.floats(&[n, k], -1.0, 1.0), r.floats(&[n], -1.0, 1.0)] }, |_, x| ops::linear(&x[0], &x[1], Some(&x[2]));
            // Multiples of four take the vec4 layouts (along n for a row-major B,
            // along k for a transposed one); odd m keeps edge blocks in play.
            matmul_vec_n: Accumulating, GRAD, |r| { let (b, m, k, n) = (r.size(), r.size(), r.size() * 4, r.size() * 4); vec![r.floats(&[b, m, k], -1.0, 1.0), r.floats(&[k, n], -1.0, 1.0), r.floats(&[n], -1.0, 1.0)] }, |_, x| &ops::matmul(&x[0], &x[1]) + &x[2];
            matmul_vec_k: Accumulating, GRAD, |r| { let (b, m, k, n) = (r.size(), r.size(), r.size() * 4, r.size() * 4 + 1); vec![r.floats(&[b, m, k], -1.0, 1.0), r.floats(&[n, k], -1.0, 1.0)] }, |_, x| ops::silu(&ops::linear(&x[0], &x[1], None));
            matmul_vec_k_self: Accumulating, GRAD, |r| { let (b, s, d) = (r.size(), r.size(), r.size() * 4); vec![r.floats(&[b, s, d], -1.0, 1.0)] }, |_, x| &ops::matmul(&x[0], &ops::transpose(&x[0], -1, -2)) + &ops::sum(&x[0], -1, true);
            // Two matmuls meeting in one elementwise root (a gated MLP): only one
            // can be that kernel's epilogue; the other keeps its buffer.
            gated_mlp_two_matmuls_one_root: Accumulating, GRAD, gated_mlp_inputs, |_, x| &ops::silu(&ops::linear(&x[0], &x[1], None)) * &ops::linear(&x[0], &x[2], None);
            attention_scores: Accumulating, GRAD, attention_inputs, attention_scores;
            conv1d_whisper: Accumulating, GRAD, conv1d_whisper_inputs, |_, x| ops::conv1d(&x[0], &x[1], Some(&x[2]), WHISPER_CONV);
            conv1d_whisper_gelu: Accumulating, GRAD, conv1d_whisper_inputs, |_, x| ops::gelu(&ops::conv1d(&x[0], &x[1], Some(&x[2]), WHISPER_CONV), Gelu::Erf);
            conv1d_groups_dilation: Accumulating, GRAD, |r| { let l = 9 + r.size(); vec![r.floats(&[1, 4, l], -1.0, 1.0), r.floats(&[6, 2, 2], -1.0, 1.0)] }, |_, x| ops::conv1d(&x[0], &x[1], None, GROUPED_CONV);
            conv1d_plain: Accumulating, GRAD, |r| conv_inputs(r, PLAIN_CONV, 3, true), |_, x| ops::conv1d(&x[0], &x[1], x.get(2), PLAIN_CONV);
            conv1d_every_option: Accumulating, GRAD, |r| conv_inputs(r, EVERY_CONV, 3, true), |_, x| ops::conv1d(&x[0], &x[1], x.get(2), EVERY_CONV);
            conv1d_pointwise: Accumulating, GRAD, |r| conv_inputs(r, POINTWISE_CONV, 1, false), |_, x| ops::conv1d(&x[0], &x[1], x.get(2), POINTWISE_CONV);
            // ---- fused attention: the op itself (q [b, h, m, d], k [b, h, n, d], v [b, h, n, dv]) ...
            attention_op_masked_d8: Accumulating, GRAD, |r| qkv(r, 8, 8, None, KEY_MASK), |_, x| ops::attention(&x[0], &x[1], &x[2], x.get(3), Some(0.35));
            attention_op_d32_no_mask: Accumulating, GRAD, |r| qkv(r, 32, 32, None, NO_MASK), |_, x| ops::attention(&x[0], &x[1], &x[2], None, Some(0.2));
            attention_op_d64_row_mask: Accumulating, GRAD, |r| qkv(r, 64, 64, None, ROW_MASK), |_, x| ops::attention(&x[0], &x[1], &x[2], x.get(3), None);
            // The heads-inner result the pass makes of a multi-head output permute.
            attention_op_rows_first: Accumulating, GRAD, |r| qkv(r, 8, 8, None, KEY_MASK), |_, x| ops::attention_rows_first(&x[0], &x[1], &x[2], x.get(3), Some(0.35));
            // Head dims no vec4 fits: the scalar kernel.
            attention_op_odd_heads: Accumulating, GRAD, |r| qkv(r, 6, 5, None, KEY_MASK), |_, x| ops::attention(&x[0], &x[1], &x[2], x.get(3), Some(0.5));
            // Whisper's 1500 positions: long key rows.
            attention_op_long_keys: Accumulating, NO_GRAD, |r| qkv(r, 64, 64, Some(1500), KEY_MASK), |_, x| ops::attention(&x[0], &x[1], &x[2], x.get(3), Some(0.125));
            // ... and the primitive pattern the fuse-attention pass turns into it
            attention_pattern_heads: Accumulating, GRAD, attention_heads_inputs, attention_heads;
            attention_pattern_causal: Accumulating, GRAD, |r| qkv(r, 32, 32, None, NO_MASK), attention_causal;
            attention_pattern_long_keys: Accumulating, NO_GRAD, |r| { let n = 1500 + r.size(); qkv(r, 64, 64, Some(n), NO_MASK) }, |_, x| attention_pattern(&x[0], &x[1], &x[2], None, None);
            // ---- softmax and normalisation
            softmax_last: Accumulating, GRAD, |r| unary(r, -10.0, 10.0), |_, x| ops::softmax(&x[0], -1);
            softmax_axis1: Accumulating, GRAD, |r| unary(r, -8.0, 8.0), |_, x| ops::softmax(&x[0], 1);
            softmax_long_rows: Accumulating, GRAD, |r| { let n = 1000 + r.size(); vec![r.floats(&[3, n], -8.0, 8.0)] }, |_, x| ops::softmax(&x[0], -1);
            softmax_masked: Accumulating, GRAD, |r| { let s = [r.size(), r.size()]; vec![r.floats(&s, -2.0, 2.0), r.bools(&s)] }, softmax_masked;
            layer_norm: Accumulating, GRAD, layer_norm_inputs::<1>, |_, x| ops::layer_norm(&x[0], &x[1], &x[2], 1e-12);
            layer_norm_eps: Accumulating, GRAD, layer_norm_inputs::<100>, |_, x| ops::layer_norm(&x[0], &x[1], &x[2], 1e-5);
            layer_norm_grad: Accumulating, GRAD, norm_grad_inputs::<1, 0>, |_, x| ops::layer_norm_grad(&x[0], &x[1], &x[2], 1e-12);
            layer_norm_grad_eps: Accumulating, GRAD, norm_grad_inputs::<100, 0>, |_, x| ops::layer_norm_grad(&x[0], &x[1], &x[2], 1e-5);
            layer_norm_grad_long_rows: Accumulating, GRAD, norm_grad_inputs::<1, 1030>, |_, x| ops::layer_norm_grad(&x[0], &x[1], &x[2], 1e-5);
            rms_norm_grad: Accumulating, GRAD, norm_grad_inputs::<1, 0>, |_, x| ops::rms_norm_grad(&x[0], &x[1], &x[2], 1e-6);
            rms_norm: Accumulating, GRAD, |r| { let (a, n) = (r.size(), r.size() * 5); vec![r.floats(&[a, n], -3.0, 3.0), r.floats(&[n], 0.5, 1.5)] }, |_, x| ops::rms_norm(&x[0], &x[1], 1e-6);
            // ---- reductions
            sum_axis1: Accumulating, GRAD, |r| unary(r, -3.0, 3.0), |_, x| ops::sum(&x[0], 1, false);
            mean_keep: Accumulating, GRAD, |r| unary(r, -3.0, 3.0), |_, x| ops::mean(&x[0], -1, true);
            max_axis0: Accumulating, GRAD, |r| { let s = shape(r, 2); vec![distinct(r, &s, -3.0, 3.0)] }, |_, x| ops::max(&x[0], 0, false);
            min_axis1: Accumulating, GRAD, |r| { let s = shape(r, 2); vec![distinct(r, &s, -3.0, 3.0)] }, |_, x| ops::min(&x[0], 1, false);
            sum_to_scalar: Accumulating, GRAD, |r| unary(r, -3.0, 3.0), |_, x| ops::sum(&flatten(&x[0]), 0, false);
            max_to_scalar: Accumulating, GRAD, |r| { let s = shape(r, 2); vec![distinct(r, &s, -3.0, 3.0)] }, |_, x| ops::max(&flatten(&x[0]), 0, false);
            reductions: Accumulating, GRAD, |r| { let s = shape(r, 3); vec![distinct(r, &s, -3.0, 3.0)] }, reductions;
            // Reductions over a non-last axis long enough that every row of
            // the column kernel's workgroup walks it (bias gradients).
            sum_columns_long: Accumulating, GRAD, |r| { let s = [200 + r.size() * 13, 3 + r.size() * 3]; vec![r.floats(&s, -1.0, 1.0)] }, |_, x| ops::sum(&x[0], 0, false);
            max_middle_long: Accumulating, GRAD, |r| { let s = [r.size(), 60 + r.size() * 9, r.size() + 8]; vec![distinct(r, &s, -3.0, 3.0)] }, |_, x| ops::max(&x[0], 1, true);
            sum_i64: Elementwise, NO_GRAD, |r| { let s = shape(r, 2); vec![r.ints(&s, 100)] }, |_, x| ops::sum(&x[0], 0, false);
            argmax: Elementwise, NO_GRAD, |r| unary(r, -3.0, 3.0), |_, x| ops::argmax(&x[0], -1, false);
            // Few distinct values: ties everywhere, the first index wins.
            argmax_ties: Elementwise, NO_GRAD, |r| { let s = shape(r, 2); vec![r.ints(&s, 3)] }, |_, x| ops::argmax(&x[0], 1, true);
            // More operands than a kernel can bind: split into a tree of concats.
            concat_many: Elementwise, GRAD, |r| (0..40).map(|_| { let n = r.size().min(5); r.floats(&[n, 3], -1.0, 1.0) }).collect(), |_, x| ops::concat(&x.iter().collect::<Vec<_>>(), 0);
            // ---- scans
            cumsum_axis1: Accumulating, GRAD, |r| unary(r, -3.0, 3.0), |_, x| ops::cumsum(&x[0], 1);
            // Rows longer than one workgroup: the carry between chunks.
            cumsum_long_rows: Accumulating, GRAD, |r| { let s = [r.size(), 300]; vec![r.floats(&s, -1.0, 1.0)] }, |_, x| ops::cumsum(&x[0], -1);
            cumsum_i64: Elementwise, NO_GRAD, |r| { let s = shape(r, 3); vec![r.ints(&s, 100)] }, |_, x| ops::cumsum(&x[0], 0);
            // ---- scatter-add (gather's adjoint): indices repeat and never pick the last row
            scatter_add_embedding: Accumulating, GRAD, scatter_embedding_inputs, |_, x| ops::scatter_add(&x[0], &x[1], 0, SCATTER_ROWS);
            // Rank-2 indices on a middle axis: [a, k1, k2, c] into [a, rows, c].
            scatter_add_axis1: Accumulating, GRAD, scatter_axis1_inputs, |_, x| ops::scatter_add(&x[0], &x[1], 1, SCATTER_ROWS);
            // More indices than a workgroup and rows wider than one: both kernel loops.
            scatter_add_long: Accumulating, GRAD, |r| { let m = 150 + r.size(); vec![r.floats(&[m, 70], -1.0, 1.0), scatter_ids(r, &[m])] }, |_, x| ops::scatter_add(&x[0], &x[1], 0, SCATTER_ROWS);
            scatter_add_scalar_index: Accumulating, GRAD, |r| { let a = r.size(); vec![r.floats(&[a], -1.0, 1.0), Tensor::scalar(r.below(SCATTER_ROWS) as i64)] }, |_, x| ops::scatter_add(&x[0], &x[1], -1, SCATTER_ROWS);
            // Rows in several workgroup blocks (64 rows each, a short last one), two outer slices.
            scatter_add_many_rows: Accumulating, GRAD, |r| { let m = r.size() + 1; vec![r.floats(&[2, m, 3], -1.0, 1.0), ints(r, &[m], 0, 299)] }, |_, x| ops::scatter_add(&x[0], &x[1], 1, 300usize);
            scatter_add_i64: Elementwise, NO_GRAD, |r| { let (m, c) = (r.size(), r.size()); vec![ints(r, &[m, c], -50, 50), scatter_ids(r, &[m])] }, |_, x| ops::scatter_add(&x[0], &x[1], 0, SCATTER_ROWS);
        }
    };
}
pub use crate::op_table;

/// Calls `$callback!(name name ...)` with every case's name: turns the
/// table into one `#[test]` per case (`op_table!(case_names; my_tests)`).
#[doc(hidden)]
#[macro_export]
macro_rules! op_case_names {
    ($callback:ident; $($name:ident: $tol:ident, $grad:expr, $inputs:expr, $build:expr;)*) => {
        $callback!($($name)*);
    };
}
pub use crate::op_case_names as case_names;

/// Calls `$callback!(name)` once per differentiable case (a `GRAD` row;
/// `NO_GRAD` rows are skipped): one gradient `#[test]` per case
/// (`op_table!(grad_case_names; my_grad_test)`). A row whose flag is
/// neither token fails to compile here.
#[doc(hidden)]
#[macro_export]
macro_rules! op_grad_case_names {
    ($callback:ident; $($name:ident: $tol:ident, $grad:ident, $inputs:expr, $build:expr;)*) => {
        $( $crate::op_if_grad!($grad $callback $name); )*
    };
}
pub use crate::op_grad_case_names as grad_case_names;

#[doc(hidden)]
#[macro_export]
macro_rules! op_if_grad {
    (GRAD $callback:ident $name:ident) => {
        $callback!($name);
    };
    (NO_GRAD $callback:ident $name:ident) => {};
}

macro_rules! define_cases {
    ($($name:ident: $tol:ident, $grad:expr, $inputs:expr, $build:expr;)*) => {
        /// Every op case, in table order.
        pub const CASES: &[OpCase] = &[$(
            OpCase { name: stringify!($name), tol: Tol::$tol, differentiable: $grad, inputs: $inputs, build: $build },
        )*];
    };
}

op_table!(define_cases);
