//! Backward graphs on the GPU: every differentiable (`GRAD`) case of the op
//! table (tests/common/op_cases.rs) gets one `#[test]`, generated from the
//! table. Each builds forward + backward in f32 (`loss = sum(op(x) * c)`, a
//! random cotangent `c`, gradients w.r.t. every float input), compiles it
//! fused and unfused, compares the loss and every gradient with the
//! interpreter running the same graph, and checks that the GPU is bitwise
//! reproducible: the same model run twice, and a second compile, give the
//! same bits.
//!
//! Tolerances. The interpreter accumulates every sum in f64 and rounds once
//! per op; the kernels accumulate in f32. A backward graph chains several
//! accumulations (the loss's cotangent through matmuls, softmax and norm
//! rules, then the sums that undo broadcasting), and a gradient element is
//! a sum of terms of both signs, so its error is bounded by the terms'
//! magnitudes, not by its own: an element that cancels to nearly zero can
//! carry the rounding of its large terms. So each tensor is compared as
//! `|gpu - interp| <= RTOL * |interp| + ATOL_SCALE * max|interp| + ATOL_FLOOR`:
//! - `RTOL = 1e-4` (~1700 f32 ulps) for the accumulations' relative error;
//! - `ATOL_SCALE = 1e-5` of the tensor's largest element for elements that
//!   cancel (the worst seen on the table's shapes: 3e-7, 30x below);
//! - `ATOL_FLOOR = 1e-6`, ~16 ulps of 1.0, the scale of the inputs and of
//!   the cotangent: a tensor can be all tiny and still carry the rounding of
//!   O(1) intermediates (a saturated softmax's gradient is `y * (g - g.y)`,
//!   `g - g.y` cancelling to one ulp of `g`).
//!
//! The loss itself is one long dot product of the output with `c`; it is
//! compared the same way with `sum |out * c|` (the scale of its terms) in
//! place of the largest element.

mod common;

use common::gpu::{device, Rng};
use common::grad::sum_all;
use common::op_cases::{case, grad_case_names, op_table, OpCase, CASES, MIN_GRAD_CASES, SEEDS};
use wgraph::{autodiff, ops, CompileOptions, DType, Dim, Graph, Interpreter, Loader, Tensor, Value, Weights};

const RTOL: f64 = 1e-4;
const ATOL_SCALE: f64 = 1e-5;
const ATOL_FLOOR: f64 = 1e-6;

/// A case's forward and backward graph on one seed's inputs, and its feed:
/// outputs `loss`, `grad/x0`, ... (one per float input) and `terms`
/// (`sum |out * c|`, the loss's scale, computed by the interpreter only).
struct Backward {
    what: String,
    graph: Graph,
    feed: Vec<(String, Tensor)>,
    grads: Vec<String>,
}

fn backward(case: &OpCase, seed: u64) -> Backward {
    let what = format!("{} seed {seed}", case.name);
    let inputs = case.inputs(seed);
    let graph = Graph::new(format!("{}_backward", case.name));
    let xs: Vec<Value> = inputs
        .iter()
        .enumerate()
        .map(|(i, t)| graph.input(format!("x{i}"), t.dtype(), t.shape().iter().map(|&d| Dim::new(d))))
        .collect();
    let y = (case.build)(&graph, &xs);
    let out_shape: Vec<usize> = y.shape().iter().map(|d| d.as_static().expect("static shapes")).collect();
    let c = graph.input("c", DType::F32, out_shape.iter().map(|&d| Dim::new(d)));
    let loss = sum_all(&(&y * &c));
    let wrt: Vec<Value> = (0..inputs.len()).filter(|&i| inputs[i].dtype().is_float()).map(|i| xs[i].clone()).collect();
    assert!(!wrt.is_empty(), "{what}: no float input");
    let grads = autodiff::backward(&loss, &wrt).unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(grads.unreachable().is_empty(), "{what}: unreachable {:?}", grads.unreachable_names());
    let outputs = grads.named_outputs();
    let names = outputs.iter().map(|(n, _)| n.clone()).filter(|n| n != "loss").collect();
    graph.output_named(outputs).unwrap_or_else(|e| panic!("{what}: {e}"));
    let mut rng = Rng(seed ^ 0xC07A_4637);
    let mut feed: Vec<(String, Tensor)> = inputs.into_iter().enumerate().map(|(i, t)| (format!("x{i}"), t)).collect();
    feed.push(("c".into(), rng.floats(&out_shape, -1.0, 1.0)));
    Backward { what, graph, feed, grads: names }
}

/// `sum |out * c|` on the interpreter: the scale of the loss's terms.
fn loss_scale(case: &OpCase, b: &Backward) -> f64 {
    let g = Graph::new("terms");
    let xs: Vec<Value> = b.feed[..b.feed.len() - 1]
        .iter()
        .map(|(n, t)| g.input(n.clone(), t.dtype(), t.shape().iter().map(|&d| Dim::new(d))))
        .collect();
    let y = (case.build)(&g, &xs);
    let c = g.input("c", DType::F32, y.shape());
    g.output_named([("terms", sum_all(&ops::abs(&(&y * &c))))]).unwrap();
    let out = Interpreter::new().run(&g, &Weights::new(), b.feed.clone()).unwrap();
    out.get("terms").unwrap().to_f64_vec()[0]
}

/// `|got - want| <= RTOL * |want| + ATOL_SCALE * scale + ATOL_FLOOR` elementwise.
fn assert_close_scaled(got: &Tensor, want: &Tensor, scale: f64, what: &str) {
    assert_eq!(got.shape(), want.shape(), "{what}: shape");
    assert_eq!(got.dtype(), want.dtype(), "{what}: dtype");
    let atol = ATOL_SCALE * scale + ATOL_FLOOR;
    let (g, w) = (got.to_f64_vec(), want.to_f64_vec());
    assert!(w.iter().all(|v| v.is_finite()), "{what}: the interpreter's result is not finite");
    let worst = g
        .iter()
        .zip(&w)
        .enumerate()
        .map(|(i, (a, b))| (i, if a.is_finite() { (a - b).abs() - (RTOL * b.abs() + atol) } else { f64::INFINITY }))
        .max_by(|a, b| a.1.total_cmp(&b.1));
    if let Some((i, excess)) = worst {
        assert!(
            excess <= 0.0,
            "{what}: element {i} is {} but the interpreter gives {} (rtol {RTOL}, atol {atol:e} = {ATOL_SCALE} x {scale:e} + {ATOL_FLOOR})",
            g[i],
            w[i]
        );
    }
}

fn bits(t: &Tensor) -> Vec<u8> {
    t.to_le_bytes()
}

fn check_case(name: &str) {
    let case = case(name);
    assert!(case.differentiable, "{name} is not differentiable");
    for seed in SEEDS {
        let b = backward(case, seed);
        let what = &b.what;
        let reference = Interpreter::new()
            .run(&b.graph, &Weights::new(), b.feed.clone())
            .unwrap_or_else(|e| panic!("{what}: interpreter: {e}"));
        let terms = loss_scale(case, &b);
        for fuse in [true, false] {
            let compile = || {
                Loader::new(device())
                    .with_options(CompileOptions { fuse, ..Default::default() })
                    .load(&b.graph, &Weights::new())
                    .unwrap_or_else(|e| panic!("{what} (fuse={fuse}): compile: {e}"))
            };
            let model = compile();
            let run =
                |m: &wgraph::Model| m.run(b.feed.clone()).unwrap_or_else(|e| panic!("{what} (fuse={fuse}): run: {e}"));
            let got = run(&model);
            let loss = got.get("loss").unwrap_or_else(|| panic!("{what}: no loss"));
            assert_close_scaled(loss, reference.get("loss").unwrap(), terms, &format!("{what} (fuse={fuse}) loss"));
            for name in &b.grads {
                let want = reference.get(name).unwrap();
                let scale = want.to_f64_vec().iter().fold(0.0f64, |m, v| m.max(v.abs()));
                let g = got.get(name).unwrap_or_else(|| panic!("{what}: no output {name}"));
                assert_close_scaled(g, want, scale, &format!("{what} (fuse={fuse}) {name}"));
            }
            // Bitwise reproducible: the same model again, and a fresh compile.
            for (again, how) in [(run(&model), "a second run"), (run(&compile()), "a second compile")] {
                for (name, t) in got.iter() {
                    let other = again.get(name).unwrap();
                    assert!(bits(t) == bits(other), "{what} (fuse={fuse}): {name} differs bitwise on {how}");
                }
            }
        }
    }
}

macro_rules! gpu_grad_test {
    ($name:ident) => {
        #[test]
        fn $name() {
            check_case(stringify!($name));
        }
    };
}

op_table!(grad_case_names; gpu_grad_test);

#[test]
fn the_table_has_differentiable_cases() {
    let n = CASES.iter().filter(|c| c.differentiable).count();
    assert!(n >= MIN_GRAD_CASES, "{n} differentiable op cases, expected at least {MIN_GRAD_CASES}");
}
