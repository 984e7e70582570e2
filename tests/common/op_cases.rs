//! The one table of op cases that every op test iterates.
//!
//! **Adding an op takes exactly one line in [`op_table!`]** (plus, for a
//! long builder, a helper function below the table). That line gives it:
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

use super::Rng;
use wgraph::graph::ops::{self, Conv1dOptions, Gelu};
use wgraph::{DType, Dim, Graph, Tensor, Value};

/// Tolerance classes, as `(rtol, atol)` for fp32 results.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tol {
    /// One rounding per element (exact for integer and bool results).
    Elementwise,
    /// Sums over an axis: matmul, convolution, softmax, norms, reductions.
    Accumulating,
}

impl Tol {
    pub fn rtol_atol(self) -> (f64, f64) {
        match self {
            Tol::Elementwise => (1e-6, 1e-6),
            Tol::Accumulating => (1e-4, 1e-5),
        }
    }
}

pub const GRAD: bool = true;
pub const NO_GRAD: bool = false;

/// One row of the table.
pub struct OpCase {
    pub name: &'static str,
    pub tol: Tol,
    /// Gradient checks apply (see the module doc).
    pub differentiable: bool,
    pub inputs: fn(&mut Rng) -> Vec<Tensor>,
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
    pub what: String,
    pub graph: Graph,
    pub feed: Vec<(String, Tensor)>,
}

impl OpCase {
    /// The inputs for `seed`.
    pub fn inputs(&self, seed: u64) -> Vec<Tensor> {
        (self.inputs)(&mut Rng(seed * 7919 + 17))
    }

    /// The case on the inputs drawn with `seed`.
    pub fn instance(&self, seed: u64) -> Instance {
        self.instance_on(self.inputs(seed), format!("{} seed {seed}", self.name))
    }

    /// The case on given inputs (a fixture's), labelled `what`.
    pub fn instance_on(&self, inputs: Vec<Tensor>, what: String) -> Instance {
        let graph = Graph::new(self.name);
        let values: Vec<Value> = inputs
            .iter()
            .enumerate()
            .map(|(i, t)| graph.input(format!("x{i}"), t.dtype(), t.shape().iter().map(|&d| Dim::new(d))))
            .collect();
        let out = (self.build)(&graph, &values);
        graph.output_named([("out", out)]).unwrap_or_else(|e| panic!("{what}: {e}"));
        let feed = inputs.into_iter().enumerate().map(|(i, t)| (format!("x{i}"), t)).collect();
        Instance { what, graph, feed }
    }
}

/// The case called `name`.
pub fn case(name: &str) -> &'static OpCase {
    CASES.iter().find(|c| c.name == name).unwrap_or_else(|| panic!("no op case {name}"))
}

/// Emits the table's rows into the macro named first, after the tokens that
/// follow a `;` (`op_table!(case_names; my_tests)` calls
/// `my_tests!(neg abs ...)`). The rows are the only list of op cases.
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
#[allow(unused_imports)]
pub(crate) use op_table;

/// Calls `$callback!(name name ...)` with every case's name: turns the
/// table into one `#[test]` per case (`op_table!(case_names; my_tests)`).
#[allow(unused_macros)]
macro_rules! case_names {
    ($callback:ident; $($name:ident: $tol:ident, $grad:expr, $inputs:expr, $build:expr;)*) => {
        $callback!($($name)*);
    };
}
#[allow(unused_imports)]
pub(crate) use case_names;

/// Calls `$callback!(name)` once per differentiable case (a `GRAD` row;
/// `NO_GRAD` rows are skipped): one gradient `#[test]` per case
/// (`op_table!(grad_case_names; my_grad_test)`). A row whose flag is
/// neither token fails to compile here.
#[allow(unused_macros)]
macro_rules! grad_case_names {
    ($callback:ident; $($name:ident: $tol:ident, $grad:ident, $inputs:expr, $build:expr;)*) => {
        $( $crate::common::op_cases::if_grad!($grad $callback $name); )*
    };
}
#[allow(unused_imports)]
pub(crate) use grad_case_names;

#[allow(unused_macros)]
macro_rules! if_grad {
    (GRAD $callback:ident $name:ident) => {
        $callback!($name);
    };
    (NO_GRAD $callback:ident $name:ident) => {};
}
#[allow(unused_imports)]
pub(crate) use if_grad;

macro_rules! define_cases {
    ($($name:ident: $tol:ident, $grad:expr, $inputs:expr, $build:expr;)*) => {
        /// Every op case, in table order.
        pub const CASES: &[OpCase] = &[$(
            OpCase { name: stringify!($name), tol: Tol::$tol, differentiable: $grad, inputs: $inputs, build: $build },
        )*];
    };
}

op_table!(define_cases);

// ---- input generators --------------------------------------------------------

/// `rank` awkward sizes.
pub fn shape(r: &mut Rng, rank: usize) -> Vec<usize> {
    (0..rank).map(|_| r.size()).collect()
}

/// A shape broadcastable against `shape`: some axes become 1, leading axes may go.
pub fn broadcastable(r: &mut Rng, shape: &[usize]) -> Vec<usize> {
    let drop = r.below(shape.len() + 1).min(shape.len() - 1);
    shape[drop..].iter().map(|&d| if r.below(3) == 0 { 1 } else { d }).collect()
}

/// Integers uniform in `[lo, hi)`.
pub fn ints(r: &mut Rng, shape: &[usize], lo: i64, hi: i64) -> Tensor {
    let n = shape.iter().product();
    Tensor::new(shape.to_vec(), (0..n).map(|_| lo + r.below((hi - lo) as usize) as i64).collect::<Vec<i64>>()).unwrap()
}

/// One rank-3 float tensor in `[lo, hi)`.
fn unary(r: &mut Rng, lo: f32, hi: f32) -> Vec<Tensor> {
    let s = shape(r, 3);
    vec![r.floats(&s, lo, hi)]
}

/// One rank-3 tensor of magnitudes in `[lo, hi)` with random signs: away
/// from a kink at 0 (relu, abs), so finite differences never straddle it.
fn unary_away(r: &mut Rng, lo: f32, hi: f32) -> Vec<Tensor> {
    let s = shape(r, 3);
    let n = s.iter().product();
    let v: Vec<f32> = (0..n).map(|_| if r.below(2) == 0 { 1.0 } else { -1.0 } * r.uniform(lo, hi)).collect();
    vec![Tensor::new(s, v).unwrap()]
}

/// Values spread evenly over `[lo, hi)` in random order: no two equal, so
/// `max`/`min` reductions have no ties and finite differences (steps far
/// below the spacing, `(hi - lo) / numel`) never reorder them.
pub fn distinct(r: &mut Rng, shape: &[usize], lo: f32, hi: f32) -> Tensor {
    let n: usize = shape.iter().product();
    let mut order: Vec<usize> = (0..n).collect();
    for i in (1..n).rev() {
        order.swap(i, r.below(i + 1));
    }
    let v: Vec<f32> = order.iter().map(|&k| lo + (hi - lo) * (k as f32 + 0.5) / n as f32).collect();
    Tensor::new(shape.to_vec(), v).unwrap()
}

/// Broadcasting operands on interleaved grids (`k/4` and `k/4 + 1/8`) in
/// `[-3, 3)`: never equal, at least 1/8 apart, so `maximum`/`minimum` have
/// no ties.
fn binary_apart(r: &mut Rng) -> Vec<Tensor> {
    let (a, b) = broadcast_pair(r);
    let grid = |r: &mut Rng, s: &[usize], offset: f32| {
        let n = s.iter().product();
        let v: Vec<f32> = (0..n).map(|_| (r.uniform(-3.0, 2.75) * 4.0).floor() / 4.0 + offset).collect();
        Tensor::new(s.to_vec(), v).unwrap()
    };
    vec![grid(r, &a, 0.0), grid(r, &b, 0.125)]
}

/// Two shapes that broadcast against each other: the first may have size-1
/// axes of its own, the second drops leading axes and sets others to 1.
fn broadcast_pair(r: &mut Rng) -> (Vec<usize>, Vec<usize>) {
    let s = shape(r, 3);
    let b = broadcastable(r, &s);
    let a = s.iter().map(|&d| if r.below(4) == 0 { 1 } else { d }).collect();
    (a, b)
}

/// A float in `[-3, 3)` and one in `[lo, hi)`, broadcasting.
fn binary(r: &mut Rng, lo: f32, hi: f32) -> Vec<Tensor> {
    let (a, b) = broadcast_pair(r);
    vec![r.floats(&a, -3.0, 3.0), r.floats(&b, lo, hi)]
}

/// Integers in `[0, below)`, broadcasting.
fn int_pair(r: &mut Rng, below: usize) -> Vec<Tensor> {
    let (a, b) = broadcast_pair(r);
    vec![r.ints(&a, below), r.ints(&b, below)]
}

/// A positive base, any exponent.
fn pow_inputs(r: &mut Rng) -> Vec<Tensor> {
    let (a, b) = broadcast_pair(r);
    vec![r.floats(&a, 0.1, 3.0), r.floats(&b, -2.0, 2.0)]
}

/// Signed numerators in `[-20, 20)`, divisors in `[-4, 4]`: zero included,
/// since the interpreter and the kernels both define `x // 0 = 0`.
fn floor_div_inputs(r: &mut Rng) -> Vec<Tensor> {
    let s = shape(r, 2);
    vec![ints(r, &s, -20, 20), ints(r, &s, -4, 5)]
}

fn select_inputs(r: &mut Rng) -> Vec<Tensor> {
    let s = shape(r, 3);
    let c = broadcastable(r, &s);
    vec![r.bools(&c), r.floats(&s, -3.0, 3.0), r.floats(&s[2..], -3.0, 3.0)]
}

/// `[a, b, c]` and `[a, d, c]`: concatenable along axis 1.
fn concat_inputs(r: &mut Rng) -> Vec<Tensor> {
    let (a, b, c, d) = (r.size(), r.size(), r.size(), r.size());
    vec![r.floats(&[a, b, c], -1.0, 1.0), r.floats(&[a, d, c], -1.0, 1.0)]
}

/// A `[vocab, d]` table and `[batch, seq]` ids.
fn embedding_inputs(r: &mut Rng) -> Vec<Tensor> {
    let (v, d) = (r.size() + 1, r.size());
    let (b, s) = (r.size(), r.size());
    vec![r.floats(&[v, d], -1.0, 1.0), r.ints(&[b, s], v)]
}

/// A `[a, n]` table and one scalar (0-d) index into its last axis.
fn gather_scalar_inputs(r: &mut Rng) -> Vec<Tensor> {
    let (a, n) = (r.size(), r.size());
    vec![r.floats(&[a, n], -1.0, 1.0), Tensor::scalar(r.below(n) as i64)]
}

fn gather_axis1_inputs(r: &mut Rng) -> Vec<Tensor> {
    let (a, n, c, k) = (r.size(), r.size(), r.size(), r.size());
    vec![r.floats(&[a, n, c], -1.0, 1.0), r.ints(&[k], n)]
}

/// The rows every scatter-add case writes (the generator's indices stay
/// below `SCATTER_ROWS - 1`, so the last row is always zero).
const SCATTER_ROWS: usize = 7;

/// Indices of `shape` in `0..SCATTER_ROWS - 1`, the second equal to the
/// first (so one row always sums several updates).
fn scatter_ids(r: &mut Rng, shape: &[usize]) -> Tensor {
    let n = shape.iter().product();
    let mut v: Vec<i64> = (0..n).map(|_| r.below(SCATTER_ROWS - 1) as i64).collect();
    if n > 1 {
        v[1] = v[0];
    }
    Tensor::new(shape.to_vec(), v).unwrap()
}

/// `[b, s, d]` update rows and `[b, s]` token ids.
fn scatter_embedding_inputs(r: &mut Rng) -> Vec<Tensor> {
    let (b, s, d) = (r.size(), r.size() + 1, r.size());
    vec![r.floats(&[b, s, d], -1.0, 1.0), scatter_ids(r, &[b, s])]
}

/// `[a, k1, k2, c]` updates and `[k1, k2]` indices into axis 1 (sizes
/// capped: four awkward dims would reach 18M elements).
fn scatter_axis1_inputs(r: &mut Rng) -> Vec<Tensor> {
    let mut size = || r.size().min(17);
    let (a, k1, k2, c) = (size(), size() + 1, size(), size());
    vec![r.floats(&[a, k1, k2, c], -1.0, 1.0), scatter_ids(r, &[k1, k2])]
}

/// `A^T` is `[k, m]`, the weight `[n, k]`; sizes multiples of 3, 5 and 7.
fn transposed_operands_inputs(r: &mut Rng) -> Vec<Tensor> {
    let (m, k, n) = (r.size() * 3, r.size() * 5, r.size() * 7);
    vec![r.floats(&[k, m], -1.0, 1.0), r.floats(&[n, k], -1.0, 1.0), r.floats(&[n], -1.0, 1.0)]
}

fn gated_mlp_inputs(r: &mut Rng) -> Vec<Tensor> {
    let (b, s, d, f) = (r.size(), r.size(), r.size() * 4, r.size() * 4);
    vec![r.floats(&[b, s, d], -1.0, 1.0), r.floats(&[f, d], -1.0, 1.0), r.floats(&[f, d], -1.0, 1.0)]
}

/// Hidden states of two heads, and a `[batch, seq]` keep-mask.
fn attention_inputs(r: &mut Rng) -> Vec<Tensor> {
    let (b, s, d) = (r.size(), r.size(), r.size());
    vec![r.floats(&[b, s, 2 * d], -1.0, 1.0), r.bools(&[b, s])]
}

/// Whisper's first convolution, scaled down: 4 channels in, 6 out, k = 3.
fn conv1d_whisper_inputs(r: &mut Rng) -> Vec<Tensor> {
    let (b, l) = (r.size(), 10 + r.size());
    vec![r.floats(&[b, 4, l], -1.0, 1.0), r.floats(&[6, 4, 3], -1.0, 1.0), r.floats(&[6], -1.0, 1.0)]
}

/// `x [batch, c_in, len]`, `w [c_out, c_in / groups, k]` and, with `bias`,
/// `b [c_out]`, the length at least the kernel's reach.
fn conv_inputs(r: &mut Rng, o: Conv1dOptions, k: usize, bias: bool) -> Vec<Tensor> {
    let (c_in, c_out) = (o.groups * (1 + r.below(3)), o.groups * (1 + r.below(3)));
    let reach = o.dilation * (k - 1) + 1;
    let len = reach.saturating_sub(2 * o.padding).max(1) + r.size();
    let batch = r.size();
    let mut inputs = vec![r.floats(&[batch, c_in, len], -1.0, 1.0), r.floats(&[c_out, c_in / o.groups, k], -1.0, 1.0)];
    if bias {
        inputs.push(r.floats(&[c_out], -1.0, 1.0));
    }
    inputs
}

const PLAIN_CONV: Conv1dOptions = Conv1dOptions { stride: 1, padding: 0, dilation: 1, groups: 1 };
const EVERY_CONV: Conv1dOptions = Conv1dOptions { stride: 3, padding: 2, dilation: 2, groups: 2 };
const POINTWISE_CONV: Conv1dOptions = Conv1dOptions { stride: 2, padding: 0, dilation: 1, groups: 3 };
const WHISPER_CONV: Conv1dOptions = Conv1dOptions { stride: 2, padding: 1, dilation: 1, groups: 1 };
const GROUPED_CONV: Conv1dOptions = Conv1dOptions { stride: 1, padding: 2, dilation: 2, groups: 2 };

/// `[a, 2, n]` rows with gamma and beta; rows scaled by `1 / SHRINK` so a
/// larger eps matters.
fn layer_norm_inputs<const SHRINK: u32>(r: &mut Rng) -> Vec<Tensor> {
    let (a, n) = (r.size(), r.size() * 7);
    let x = 3.0 / SHRINK as f32;
    vec![r.floats(&[a, 2, n], -x, x), r.floats(&[n], 0.5, 1.5), r.floats(&[n], -1.0, 1.0)]
}

// ---- builders too long for one line ------------------------------------------

/// f32 → i64 → bool, both back to f32.
fn cast_chain(_: &Graph, x: &[Value]) -> Value {
    let i = ops::cast(&x[0], DType::I64);
    let b = ops::cast(&i, DType::Bool);
    &ops::cast(&i, DType::F32) + &ops::cast(&b, DType::F32)
}

/// `[b, s, 4h]` split into heads of size 4: `[b, h, s, 4]`.
fn reshape_heads(_: &Graph, x: &[Value]) -> Value {
    let sh = x[0].shape();
    let heads = sh[2].as_static().expect("static hidden size") / 4;
    ops::permute(&ops::reshape(&x[0], [sh[0].clone(), sh[1].clone(), heads.into(), 4.into()]), &[0, 2, 1, 3])
}

/// Concatenates three parts, splits off the first column and swaps the pieces.
fn concat_split(_: &Graph, x: &[Value]) -> Value {
    let joined = ops::concat(&[&x[0], &x[1], &x[0]], 1);
    let n = joined.shape()[1].as_static().expect("static axis");
    let parts = ops::split(&joined, 1, &[1, n - 1]);
    &ops::concat(&[&parts[1], &parts[0]], 1) * 2.0
}

/// A causal and a band mask, and position ids, over `[rows, cols]` scores.
fn range_and_masks(g: &Graph, x: &[Value]) -> Value {
    let sh = x[0].shape();
    let causal = ops::causal_mask(g, sh[0].clone(), sh[1].clone());
    let band = ops::band_mask(g, sh[0].clone(), sh[1].clone(), Some(2), Some(1));
    let pos = ops::cast(&ops::range(g, 3, 2, sh[1].clone(), DType::I64), x[0].dtype());
    let both = ops::and(&causal, &band);
    ops::select(&both, &(&x[0] + &pos), &ops::scalar(g, -7.0, x[0].dtype()))
}

/// Two heads' scaled `q k^T` with the keep-mask, softmaxed.
fn attention_scores(g: &Graph, x: &[Value]) -> Value {
    let sh = x[0].shape();
    let d = sh[2].as_static().expect("static hidden size") / 2;
    let heads = ops::permute(&ops::reshape(&x[0], [sh[0].clone(), sh[1].clone(), 2.into(), d.into()]), &[0, 2, 1, 3]);
    let scores = ops::matmul(&heads, &ops::transpose(&heads, -1, -2)) * 0.5;
    let keep = ops::unsqueeze(&ops::unsqueeze(&x[1], 1), 1);
    ops::softmax(&ops::select(&keep, &scores, &ops::scalar(g, f32::MIN as f64, x[0].dtype())), -1)
}

/// Which mask [`qkv`] draws: none, `[b, 1, 1, n]` (padding) or `[b, 1, m, n]`.
const NO_MASK: u8 = 0;
/// See [`NO_MASK`].
const KEY_MASK: u8 = 1;
/// See [`NO_MASK`].
const ROW_MASK: u8 = 2;

/// `q [b, h, m, d]`, `k [b, h, n, d]`, `v [b, h, n, dv]` with `m` and `n`
/// drawn apart (`n` given for long rows), and the mask `kind` asks for.
fn qkv(r: &mut Rng, d: usize, dv: usize, n: Option<usize>, kind: u8) -> Vec<Tensor> {
    let (b, h, m) = (1 + r.below(2), 1 + r.below(3), r.size().min(17));
    let n = n.unwrap_or_else(|| r.size().min(33));
    let mut out = vec![
        r.floats(&[b, h, m, d], -1.0, 1.0),
        r.floats(&[b, h, n, d], -1.0, 1.0),
        r.floats(&[b, h, n, dv], -1.0, 1.0),
    ];
    match kind {
        KEY_MASK => out.push(r.bools(&[b, 1, 1, n])),
        ROW_MASK => out.push(r.bools(&[b, 1, m, n])),
        _ => {}
    }
    out
}

/// `softmax(mask(q k^T * scale)) v` as the model graphs build it.
fn attention_pattern(q: &Value, k: &Value, v: &Value, mask: Option<&Value>, scale: Option<f64>) -> Value {
    let mut scores = ops::matmul(q, &ops::transpose(k, -1, -2));
    if let Some(s) = scale {
        scores = scores * s;
    }
    if let Some(mask) = mask {
        scores = ops::select(mask, &scores, &ops::scalar(q.graph(), f32::MIN as f64, q.dtype()));
    }
    ops::matmul(&ops::softmax(&scores, -1), v)
}

/// Projected `q`, `k`, `v` `[batch, seq, 2 * d]` (two heads) and a `[batch, seq]` keep-mask.
fn attention_heads_inputs(r: &mut Rng) -> Vec<Tensor> {
    let (b, s, d) = (1 + r.below(2), r.size().min(33), [4, 8, 32][r.below(3)]);
    let x = |r: &mut Rng| r.floats(&[b, s, 2 * d], -1.0, 1.0);
    vec![x(r), x(r), x(r), r.bools(&[b, s])]
}

/// BERT's attention: heads split by permuted views, padding mask, scale.
fn attention_heads(_: &Graph, x: &[Value]) -> Value {
    let split = |v: &Value| {
        let sh = v.shape();
        let d = sh[2].as_static().expect("static hidden size") / 2;
        ops::permute(&ops::reshape(v, [sh[0].clone(), sh[1].clone(), 2.into(), d.into()]), &[0, 2, 1, 3])
    };
    let keep = ops::unsqueeze(&ops::unsqueeze(&x[3], 1), 1);
    attention_pattern(&split(&x[0]), &split(&x[1]), &split(&x[2]), Some(&keep), Some(0.3))
}

/// LLaMA's causal mask over `n` keys, the `m` queries the last positions.
fn attention_causal(g: &Graph, x: &[Value]) -> Value {
    let (m, n) = (x[0].shape()[2].clone(), x[1].shape()[2].clone());
    let mask = ops::unsqueeze(&ops::unsqueeze(&ops::causal_mask(g, m, n), 0), 0);
    attention_pattern(&x[0], &x[1], &x[2], Some(&mask), Some(0.25))
}

/// The masked softmax HF models compute: the lowest float where the mask is
/// false (a fully masked row comes out uniform).
fn softmax_masked(g: &Graph, x: &[Value]) -> Value {
    ops::softmax(&ops::select(&x[1], &x[0], &ops::scalar(g, f32::MIN as f64, x[0].dtype())), -1)
}

/// All elements as one axis.
fn flatten(x: &Value) -> Value {
    ops::reshape(x, [Dim::product(&x.shape())])
}

/// Sum + mean + max - min along one axis.
fn reductions(_: &Graph, x: &[Value]) -> Value {
    let s = ops::sum(&x[0], 1, true);
    let m = ops::mean(&x[0], 1, true);
    let hi = ops::max(&x[0], 1, true);
    let lo = ops::min(&x[0], 1, true);
    &(&(&s + &m) + &hi) - &lo
}
