//! Autodiff's contract beyond single-op finite differences (tests/grad_ops.rs)
//! and PyTorch references (tests/grad_pytorch.rs): hand-computed loss values, the typed errors, unreachable parameters,
//! `grad/<name>` naming and source locations, the IR-level entry and
//! symbolic shapes.

mod common;

use common::assert_close;
use wgraph::autodiff::{self, cross_entropy, mse_loss, AutodiffError};
use wgraph::graph::{ops, Scope, SourceLoc};
use wgraph::{DType, Dim, Graph, Interpreter, NamedTensors, Tensor, Value, Weights};

fn f64s(shape: &[usize], v: &[f64]) -> Tensor {
    Tensor::new(shape.to_vec(), v.to_vec()).unwrap()
}

fn sum_all(x: &Value) -> Value {
    ops::sum(&ops::reshape(x, [Dim::product(&x.shape())]), 0, false)
}

fn location(v: &Value) -> SourceLoc {
    v.graph().ir_unchecked().node(v.node_id().unwrap()).location
}

/// Runs `g` (outputs declared) on `inputs`.
fn run(g: &Graph, weights: &Weights, inputs: Vec<(&str, Tensor)>) -> NamedTensors {
    Interpreter::new().run(g, weights, inputs).unwrap_or_else(|e| panic!("{e}"))
}

// ---- hand-computed losses ----------------------------------------------------------

fn ce_graph(logits: Tensor, labels: Vec<i64>, ignore: Option<i64>) -> (f64, Vec<f64>) {
    let g = Graph::new("ce");
    let x = g.input("logits", DType::F64, logits.shape().iter().map(|&d| Dim::new(d)));
    let y = g.input("labels", DType::I64, [labels.len()]);
    let loss = cross_entropy(&x, &y, ignore);
    let grad = autodiff::gradients(&loss, std::slice::from_ref(&x)).unwrap().remove(0);
    g.output_named([("loss", &loss), ("grad", &grad)]).unwrap();
    let n = labels.len();
    let out = run(&g, &Weights::new(), vec![("logits", logits), ("labels", Tensor::new([n], labels).unwrap())]);
    (out.get("loss").unwrap().to_f64_vec()[0], out.get("grad").unwrap().to_f64_vec())
}

#[test]
fn cross_entropy_matches_hand_values() {
    let logits = f64s(&[2, 3], &[1.0, 2.0, 3.0, 1.0, 1.0, 1.0]);
    // Row 0: log(e + e^2 + e^3) - 3; row 1: log 3.
    let (l0, l1) = ((1f64.exp() + 2f64.exp() + 3f64.exp()).ln() - 3.0, 3f64.ln());
    let (loss, grad) = ce_graph(logits.clone(), vec![2, 0], None);
    assert!((loss - (l0 + l1) / 2.0).abs() < 1e-15, "{loss}");
    // d/dx = (softmax - onehot) / 2.
    let z = 1f64.exp() + 2f64.exp() + 3f64.exp();
    let want =
        [1f64.exp() / z / 2.0, 2f64.exp() / z / 2.0, (3f64.exp() / z - 1.0) / 2.0, -1.0 / 3.0, 1.0 / 6.0, 1.0 / 6.0];
    assert_close(&f64s(&[2, 3], &grad), &f64s(&[2, 3], &want), 1e-14, 1e-15, "cross_entropy gradient");

    // The ignored row counts in neither the sum nor the mean.
    let (loss, grad) = ce_graph(logits.clone(), vec![2, -100], Some(-100));
    assert!((loss - l0).abs() < 1e-15, "{loss}");
    assert_eq!(&grad[3..], &[0.0, 0.0, 0.0]);

    // Every position ignored: 0 / 0 = NaN, as PyTorch; the gradient is zero.
    let (loss, grad) = ce_graph(logits, vec![-100, -100], Some(-100));
    assert!(loss.is_nan(), "{loss}");
    assert!(grad.iter().all(|&v| v == 0.0), "{grad:?}");

    // Stable for large logits: no overflow in exp.
    let (loss, _) = ce_graph(f64s(&[1, 2], &[1000.0, 0.0]), vec![1], None);
    assert_eq!(loss, 1000.0);
}

#[test]
fn mse_matches_hand_values() {
    let g = Graph::new("mse");
    let a = g.input("a", DType::F64, [3]);
    let b = g.input("b", DType::F64, [3]);
    let loss = mse_loss(&a, &b);
    let grads = autodiff::gradients(&loss, &[a.clone(), b.clone()]).unwrap();
    g.output_named([("loss", &loss), ("ga", &grads[0]), ("gb", &grads[1])]).unwrap();
    let out = run(&g, &Weights::new(), vec![("a", f64s(&[3], &[1.0, 2.0, 3.0])), ("b", f64s(&[3], &[1.0, 0.0, 0.0]))]);
    assert_eq!(out.get("loss").unwrap().to_f64_vec(), [13.0 / 3.0]);
    // 2 (a - b) / n.
    assert_eq!(out.get("ga").unwrap().to_f64_vec(), [0.0, 4.0 / 3.0, 2.0]);
    assert_eq!(out.get("gb").unwrap().to_f64_vec(), [0.0, -4.0 / 3.0, -2.0]);
}

// ---- errors --------------------------------------------------------------------

#[test]
fn integer_parameter_is_a_typed_error_naming_it() {
    let g = Graph::new("ids");
    let ids = g.input("input_ids", DType::I64, [2, 3]);
    let table = g.input("table", DType::F32, [10, 4]);
    let loss = sum_all(&ops::gather(&table, &ids, 0));
    let err = autodiff::backward(&loss, &[table.clone(), ids.clone()]).unwrap_err();
    assert!(matches!(err, AutodiffError::NotFloat { dtype: DType::I64, .. }), "{err:?}");
    assert_eq!(
        err.to_string(),
        format!(
            "cannot differentiate with respect to input `input_ids` (input at {}): its dtype i64 is not a float\n  \
             hint: integer and bool values (token ids, labels, masks, indices) have no gradient; differentiate with \
             respect to the float parameters that read them",
            location(&ids)
        )
    );
}

#[test]
fn non_scalar_loss_is_a_typed_error() {
    let g = Graph::new("loss");
    let x = g.input("x", DType::F32, [2, 3]);
    let logits = ops::tanh(&x).named("classifier");
    let err = autodiff::backward(&logits, std::slice::from_ref(&x)).unwrap_err();
    assert!(matches!(err, AutodiffError::LossNotScalar { .. }), "{err:?}");
    let msg = err.to_string();
    assert!(
        msg.starts_with(&format!(
            "the loss `classifier` (tanh at {}) has type f32[2, 3], not a scalar",
            location(&logits)
        )),
        "{msg}"
    );
    assert!(msg.contains("hint: reduce it to one number first"), "{msg}");

    // All-1 dims are a scalar.
    let one = ops::sum(&ops::sum(&x, 1, true), 0, true);
    assert_eq!(one.shape(), [Dim::new(1), Dim::new(1)]);
    autodiff::backward(&one, &[x]).unwrap();
}

#[test]
fn integer_loss_and_foreign_parameter_are_typed_errors() {
    let g = Graph::new("count");
    let x = g.input("x", DType::I32, [3]);
    let total = ops::sum(&x, 0, false);
    let err = autodiff::backward(&total, &[]).unwrap_err();
    assert!(matches!(err, AutodiffError::LossNotFloat { dtype: DType::I32, .. }), "{err}");

    let other = Graph::new("other");
    let w = other.input("w", DType::F32, [3]);
    let loss = sum_all(&g.input("y", DType::F32, [3]));
    let err = autodiff::backward(&loss, &[w]).unwrap_err();
    assert!(err.to_string().contains("belongs to graph `other`, not to the loss's graph `count`"), "{err}");
}

#[test]
fn graph_build_errors_are_reported_first() {
    let g = Graph::new("broken");
    let x = g.input("x", DType::F32, [2, 3]);
    let bad = ops::matmul(&x, &x); // inner dims differ
    let err = autodiff::backward(&sum_all(&bad), &[x]).unwrap_err();
    assert!(matches!(err, AutodiffError::Graph(_)), "{err:?}");
    assert!(err.to_string().contains("cannot multiply"), "{err}");
}

// ---- unreachable parameters, naming, locations -----------------------------------------------------

#[test]
fn unreachable_parameters_get_zeros_and_are_reported() {
    let g = Graph::new("doctor");
    let x = g.input("x", DType::F64, [2, 3]);
    let used = g.weight("used", DType::F64, [3, 2]);
    let unused = g.weight("pos_embedding", DType::F64, [4, 3]);
    // Only through argmax (an index): no gradient flows.
    let via_index = g.weight("router", DType::F64, [3]);
    let choice = ops::cast(&ops::argmax(&(&x * &via_index), -1, false), DType::F64);
    let loss = &sum_all(&ops::matmul(&x, &used)) + &sum_all(&choice);
    let grads = autodiff::parameter_gradients(&loss).unwrap();
    assert_eq!(grads.len(), 3);
    assert_eq!(grads.unreachable_names(), ["pos_embedding", "router"]);
    assert!(grads.reaches(0) && !grads.reaches(1) && !grads.reaches(2));
    assert_eq!(grads.of(&unused).unwrap().shape(), unused.shape());
    g.output_named(grads.named_outputs()).unwrap();
    let weights = Weights::from_tensors([
        ("used", f64s(&[3, 2], &[1.0; 6])),
        ("pos_embedding", f64s(&[4, 3], &[1.0; 12])),
        ("router", f64s(&[3], &[1.0, 2.0, 3.0])),
    ]);
    let out = run(&g, &weights, vec![("x", f64s(&[2, 3], &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]))]);
    assert_eq!(out.get("grad/pos_embedding").unwrap().to_f64_vec(), [0.0; 12]);
    assert_eq!(out.get("grad/router").unwrap().to_f64_vec(), [0.0; 3]);
    // d/dW sum(x @ W) = x^T @ ones: column sums of x.
    assert_eq!(out.get("grad/used").unwrap().to_f64_vec(), [5.0, 5.0, 7.0, 7.0, 9.0, 9.0]);
}

#[test]
fn parameter_gradients_skip_integer_weights() {
    let g = Graph::new("params");
    let ids = g.weight("position_ids", DType::I64, [3]);
    let table = g.weight("wpe", DType::F32, [5, 2]);
    let loss = sum_all(&ops::gather(&table, &ids, 0));
    let grads = autodiff::parameter_gradients(&loss).unwrap();
    assert_eq!(grads.params().len(), 1);
    assert_eq!(grads.get(0).name().as_deref(), Some("grad/wpe"));
}

#[test]
fn backward_nodes_are_named_and_located_after_forward_nodes() {
    let g = Graph::new("names");
    let x = g.input("x", DType::F32, [2, 3]);
    let layer = Scope::new(&g, "distilbert.transformer.layer.0.attention");
    let w = layer.weight("q_lin.weight", [4, 3]);
    let q = layer.pp("q_lin").name(ops::linear(&x, &w, None));
    let act = (&ops::gelu(&q, ops::Gelu::Tanh) * &q).named("act");
    let loss = ops::mean(&ops::reshape(&act, [8]), 0, false).named("loss");
    let forward_nodes = g.ir_unchecked().graph.node_count();
    let grads = autodiff::backward(&loss, &[w.clone(), x.clone()]).unwrap();

    assert_eq!(grads.get(0).name().as_deref(), Some("grad/distilbert.transformer.layer.0.attention.q_lin.weight"));
    assert_eq!(grads.get(1).name().as_deref(), Some("grad/x"));
    let ir = g.ir_unchecked();
    let named = |name: &str| ir.node(ir.find_named(name).unwrap_or_else(|| panic!("no node named {name}")));
    // A rule's nodes carry the location of the op whose rule it is; the sum
    // of several contributions (q feeds gelu and mul) the location of the
    // value whose gradient it is.
    assert_eq!(named("grad/distilbert.transformer.layer.0.attention.q_lin").location, location(&q));
    assert_eq!(named("grad/distilbert.transformer.layer.0.attention.q_lin.weight").location, location(&q));
    assert_eq!(named("grad/loss").location, location(&loss));
    assert_eq!(named("grad/act").location.line(), location(&loss).line(), "made by the reshape's rule");
    // Every backward node points at a forward node's line, none at autodiff's own code.
    let forward: Vec<SourceLoc> =
        ir.graph.node_indices().filter(|id| id.index() < forward_nodes).map(|id| ir.node(id).location).collect();
    for id in ir.graph.node_indices().filter(|id| id.index() >= forward_nodes) {
        let at = ir.node(id).location;
        assert!(forward.contains(&at), "node %{} ({}) at {at}", id.index(), ir.node(id).op);
    }
}

// ---- entry points and shapes ------------------------------------------------------------------

#[test]
fn ir_level_entry_matches_the_builder_level() {
    let build = || {
        let g = Graph::new("mlp");
        let x = g.input("x", DType::F64, [3, 4]);
        let w = g.weight("w", DType::F64, [4, 2]);
        let loss = sum_all(&ops::tanh(&ops::matmul(&x, &w)));
        (g, loss)
    };
    let weights = Weights::from_tensors([("w", f64s(&[4, 2], &[0.1, -0.2, 0.3, 0.4, -0.5, 0.6, 0.7, -0.8]))]);
    let x: Vec<f64> = (0..12).map(|i| i as f64 / 10.0 - 0.5).collect();
    let feed = || vec![("x", f64s(&[3, 4], &x))];

    let (g, loss) = build();
    let grads = autodiff::parameter_gradients(&loss).unwrap();
    g.output_named(grads.named_outputs()).unwrap();
    let direct = run(&g, &weights, feed());

    let (g, loss) = build();
    g.output_named([("loss", &loss)]).unwrap();
    let ir = g.ir().unwrap().clone();
    let (loss_id, params) = (ir.outputs[0].1, ir.weights());
    let grads = autodiff::backward_ir(ir, loss_id, &params).unwrap();
    let g2 = grads.graph().clone();
    g2.output_named(grads.named_outputs().into_iter().filter(|(n, _)| n != "loss")).unwrap();
    let via_ir = run(&g2, &weights, feed());
    assert_eq!(via_ir.get("grad/w").unwrap(), direct.get("grad/w").unwrap());
}

#[test]
fn symbolic_shapes_differentiate_and_run_at_any_size() {
    let g = Graph::new("symbolic");
    let x = g.input("x", DType::F64, [Dim::sym("batch"), Dim::sym("seq"), Dim::new(3)]);
    let ids = g.input("ids", DType::I64, [Dim::sym("batch"), Dim::sym("seq")]);
    let table = g.weight("table", DType::F64, [5, 3]);
    let gamma = g.weight("gamma", DType::F64, [3]);
    let h = ops::rms_norm(&(&x + &ops::gather(&table, &ids, 0)), &gamma, 1e-6);
    let probs = ops::softmax(&h, -1);
    let loss = ops::mean(&ops::mean(&ops::sum(&(&probs * &h), -1, false), -1, false), 0, false);
    let grads = autodiff::parameter_gradients(&loss).unwrap();
    g.output_named(grads.named_outputs()).unwrap();
    let weights = Weights::from_tensors([
        ("table", f64s(&[5, 3], &(0..15).map(|i| (i as f64 * 0.37).sin()).collect::<Vec<_>>())),
        ("gamma", f64s(&[3], &[1.0, 0.5, 2.0])),
    ]);
    for (batch, seq) in [(1, 1), (2, 3)] {
        let n = batch * seq;
        let x: Vec<f64> = (0..n * 3).map(|i| (i as f64 * 0.71).cos()).collect();
        let ids: Vec<i64> = (0..n as i64).map(|i| i % 5).collect();
        let out = run(
            &g,
            &weights,
            vec![("x", f64s(&[batch, seq, 3], &x)), ("ids", Tensor::new([batch, seq], ids).unwrap())],
        );
        let grad = out.get("grad/table").unwrap();
        assert_eq!(grad.shape(), [5, 3]);
        assert!(grad.to_f64_vec().iter().all(|v| v.is_finite()));
        // Rows of the table no position picked get nothing.
        if n == 1 {
            assert!(grad.to_f64_vec()[3..].iter().all(|&v| v == 0.0));
        }
    }
}

#[test]
fn cast_gradients_come_back_in_the_operand_dtype() {
    let g = Graph::new("cast");
    let x = g.input("x", DType::F32, [3]);
    let c = g.input("c", DType::F64, [3]);
    let loss = sum_all(&(&ops::cast(&x, DType::F64) * &c));
    let grad = autodiff::gradients(&loss, std::slice::from_ref(&x)).unwrap().remove(0);
    assert_eq!(grad.dtype(), DType::F32);
    g.output_named([("grad", &grad)]).unwrap();
    let out = run(
        &g,
        &Weights::new(),
        vec![("x", Tensor::new([3], vec![1f32, 2.0, 3.0]).unwrap()), ("c", f64s(&[3], &[0.5, -1.0, 4.0]))],
    );
    assert_eq!(out.get("grad").unwrap(), &Tensor::new([3], vec![0.5f32, -1.0, 4.0]).unwrap());
}

#[test]
fn gradient_of_the_loss_itself_is_one() {
    let g = Graph::new("self");
    let x = g.input("x", DType::F64, [2]);
    let loss = sum_all(&x);
    let grads = autodiff::gradients(&loss, &[loss.clone(), x.clone()]).unwrap();
    g.output_named([("dl", &grads[0]), ("dx", &grads[1])]).unwrap();
    let out = run(&g, &Weights::new(), vec![("x", f64s(&[2], &[3.0, 4.0]))]);
    assert_eq!(out.get("dl").unwrap().to_f64_vec(), [1.0]);
    assert_eq!(out.get("dx").unwrap().to_f64_vec(), [1.0, 1.0]);
}

#[test]
fn conv1d_gradients_with_a_symbolic_length_match_the_static_graph() {
    let build = |len: Dim| {
        let g = Graph::new("conv");
        let x = g.input("x", DType::F64, [Dim::new(2), Dim::new(4), len]);
        let w = g.weight("w", DType::F64, [6, 2, 3]);
        let b = g.weight("b", DType::F64, [6]);
        let opts = ops::Conv1dOptions { stride: 1, padding: 2, dilation: 2, groups: 2 };
        let y = ops::gelu(&ops::conv1d(&x, &w, Some(&b), opts), ops::Gelu::Erf);
        let loss = sum_all(&(&y * &y));
        let mut grads = autodiff::parameter_gradients(&loss).unwrap().named_outputs();
        grads.extend([("grad/x".to_string(), autodiff::gradients(&loss, &[x]).unwrap().remove(0))]);
        g.output_named(grads).unwrap();
        g
    };
    let weights = Weights::from_tensors([
        ("w", f64s(&[6, 2, 3], &(0..36).map(|i| (i as f64 * 0.3).sin()).collect::<Vec<_>>())),
        ("b", f64s(&[6], &[0.1, -0.2, 0.3, -0.4, 0.5, -0.6])),
    ]);
    let x: Vec<f64> = (0..2 * 4 * 7).map(|i| (i as f64 * 0.7).cos()).collect();
    let symbolic = run(&build(Dim::sym("len")), &weights, vec![("x", f64s(&[2, 4, 7], &x))]);
    let fixed = run(&build(Dim::new(7)), &weights, vec![("x", f64s(&[2, 4, 7], &x))]);
    for name in ["loss", "grad/w", "grad/b", "grad/x"] {
        assert_close(symbolic.get(name).unwrap(), fixed.get(name).unwrap(), 1e-14, 1e-14, name);
    }
}

/// An embedding's gradient is one scatter-add of the output gradient's rows,
/// sized like the table: nothing in the backward graph is `[tokens, vocab]`
/// (the one-hot matmul it replaced).
#[test]
fn embedding_gradient_is_a_scatter_add_without_a_one_hot() {
    let g = Graph::new("embedding");
    let ids = g.input("ids", DType::I64, [Dim::sym("batch"), Dim::sym("seq")]);
    let table = g.weight("emb", DType::F32, [32000usize, 8]);
    let x = ops::gather(&table, &ids, 0);
    let loss = sum_all(&ops::tanh(&x));
    let forward_nodes = g.ir_unchecked().graph.node_count();
    let grad = autodiff::backward(&loss, std::slice::from_ref(&table)).unwrap().get(0).clone();
    assert_eq!(grad.shape(), table.shape());
    let ir = g.ir_unchecked();
    let backward: Vec<_> = ir.graph.node_indices().filter(|id| id.index() >= forward_nodes).collect();
    let ops_used: Vec<&str> = backward.iter().map(|&id| ir.node(id).op.name()).collect();
    assert!(ops_used.contains(&"scatter_add"), "{ops_used:?}");
    assert!(!ops_used.contains(&"matmul"), "{ops_used:?}");
    for id in backward {
        let numel = Dim::product(&ir.node(id).ty.shape).to_string();
        assert!(!(numel.contains("batch") && numel.contains("32000")), "%{} is {numel}", id.index());
    }
}
