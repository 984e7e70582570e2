//! Binding inputs to symbolic shapes, and the typed errors for bad inputs
//! and bad values.

use wgraph::graph::ops;
use wgraph::{BindError, DType, Dim, Graph, InterpError, Interpreter, Tensor, Weights};

/// `ids -> embedding -> sum over seq`, with a symbolic batch and seq.
fn graph() -> (Graph, Weights) {
    let g = Graph::new("bind");
    let ids = g.input("input_ids", DType::I64, [Dim::sym("batch"), Dim::sym("seq")]);
    let mask = g.input("attention_mask", DType::I64, [Dim::sym("batch"), Dim::sym("seq")]);
    let table = g.weight("emb", DType::F32, [5usize, 2]);
    let x = ops::gather(&table, &ids, 0);
    let m = ops::unsqueeze(&ops::cast(&mask, DType::F32), -1);
    g.output_named([("pooled", ops::sum(&(&x * &m), 1, false))]).unwrap();
    let w = Weights::from_tensors([(
        "emb",
        Tensor::new([5, 2], vec![0f32, 1., 10., 11., 20., 21., 30., 31., 40., 41.]).unwrap(),
    )]);
    (g, w)
}

fn ids(shape: [usize; 2], v: Vec<i64>) -> Tensor {
    Tensor::new(shape, v).unwrap()
}

#[test]
fn one_graph_runs_with_different_sequence_lengths() {
    let (g, w) = graph();
    let run = |input: Tensor, mask: Tensor| {
        Interpreter::new().run(&g, &w, [("input_ids", input), ("attention_mask", mask)]).unwrap()
    };
    let a = run(ids([1, 2], vec![1, 2]), ids([1, 2], vec![1, 1]));
    assert_eq!(a.get("pooled").unwrap().to_f32_vec(), [30.0, 32.0]);
    // seq = 3 with the last position masked out; any integer dtype is accepted.
    let b = run(
        Tensor::new([2, 3], vec![4i32, 0, 1, 3, 3, 3]).unwrap(),
        Tensor::new([2, 3], vec![1u32, 1, 0, 1, 1, 1]).unwrap(),
    );
    assert_eq!(b.get("pooled").unwrap().to_f32_vec(), [40.0, 42.0, 90.0, 93.0]);
}

fn bind_error(inputs: Vec<(&str, Tensor)>) -> BindError {
    let (g, w) = graph();
    match Interpreter::new().run(&g, &w, inputs) {
        Err(InterpError::Input(e)) => e,
        other => panic!("expected an input error, got {other:?}"),
    }
}

#[test]
fn bad_inputs_get_typed_errors() {
    let ok_ids = || ids([1, 2], vec![1, 2]);
    let e = bind_error(vec![("input_ids", ok_ids())]);
    assert!(matches!(&e, BindError::Missing { name, .. } if name == "attention_mask"), "{e}");
    assert!(
        e.to_string().contains("the graph takes: input_ids: i64[batch, seq], attention_mask: i64[batch, seq]"),
        "{e}"
    );

    let e = bind_error(vec![("input_ids", ok_ids()), ("attention_mask", ok_ids()), ("token_type_ids", ok_ids())]);
    assert!(matches!(&e, BindError::Unknown { name, .. } if name == "token_type_ids"), "{e}");

    let e = bind_error(vec![("input_ids", Tensor::new([1, 2], vec![1f32, 2.]).unwrap()), ("attention_mask", ok_ids())]);
    assert!(matches!(e, BindError::DType { expected: DType::I64, got: DType::F32, .. }), "{e}");

    let e = bind_error(vec![("input_ids", Tensor::new([2], vec![1i64, 2]).unwrap()), ("attention_mask", ok_ids())]);
    assert!(matches!(e, BindError::Rank { expected: 2, got: 1, .. }), "{e}");

    let e = bind_error(vec![("input_ids", ok_ids()), ("attention_mask", ids([1, 3], vec![1, 1, 1]))]);
    assert_eq!(e.to_string(), "symbolic dim `seq` is 2 from `input_ids` but 3 from `attention_mask` (axis 1)");
}

#[test]
fn static_dims_are_checked() {
    let g = Graph::new("static");
    let x = g.input("x", DType::F32, [Dim::sym("n"), 4.into()]);
    g.output([ops::relu(&x)]).unwrap();
    let err =
        Interpreter::new().run(&g, &Weights::new(), [("x", Tensor::new([2, 3], vec![0f32; 6]).unwrap())]).unwrap_err();
    assert_eq!(err.to_string(), "input `x` axis 1 has size 3, expected 4 (shape [2, 3])");
}

#[test]
fn out_of_range_token_ids_name_the_node() {
    let (g, w) = graph();
    let err = Interpreter::new()
        .run(&g, &w, [("input_ids", ids([1, 2], vec![1, 7])), ("attention_mask", ids([1, 2], vec![1, 1]))])
        .unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("(gather, built at tests/interp_inputs.rs:13:"), "{msg}");
    assert!(msg.ends_with("index 7 is out of range for axis 0 of size 5"), "{msg}");
}

#[test]
fn missing_weights_stop_the_run_before_anything_executes() {
    let (g, _) = graph();
    let err = Interpreter::new()
        .run(&g, &Weights::new(), [("input_ids", ids([1, 1], vec![1])), ("attention_mask", ids([1, 1], vec![1]))])
        .unwrap_err();
    assert!(matches!(err, InterpError::Weights(_)), "{err}");
    assert!(err.to_string().contains("missing `emb` (f32[5, 2])"), "{err}");
}

#[test]
fn kv_cache_shapes_bind_compound_dims() {
    // A decoder step: `past` cached keys plus `seq` new ones, causal mask aligned to the end.
    let g = Graph::new("kv");
    let past = g.input("past", DType::F32, [Dim::sym("past"), 1.into()]);
    let new = g.input("new", DType::F32, [Dim::sym("seq"), 1.into()]);
    let keys = ops::concat(&[&past, &new], 0);
    let mask = ops::causal_mask(&g, "seq", keys.dim(0).unwrap());
    let scores = ops::matmul(&new, &ops::transpose(&keys, 0, 1));
    let low = ops::scalar(&g, -1e9, DType::F32);
    g.output_named([("p", ops::softmax(&ops::select(&mask, &scores, &low), -1))]).unwrap();
    let out = Interpreter::new()
        .run(
            &g,
            &Weights::new(),
            [
                ("past", Tensor::new([2, 1], vec![0f32, 0.]).unwrap()),
                ("new", Tensor::new([2, 1], vec![0f32, 0.]).unwrap()),
            ],
        )
        .unwrap();
    // Row 0 (position 2) sees 3 keys, row 1 (position 3) sees all 4.
    let p = out.get("p").unwrap().to_f32_vec();
    let third = 1.0 / 3.0;
    assert_eq!(p, [third, third, third, 0.0, 0.25, 0.25, 0.25, 0.25]);
}

#[test]
fn symbols_bound_by_weights_are_known_to_the_interpreter() {
    let g = Graph::new("vocab");
    let ids = g.input("ids", DType::I64, [Dim::sym("n")]);
    let table = g.weight("emb", DType::F32, [Dim::sym("vocab"), 1.into()]);
    g.output_named([("picked", ops::gather(&table, &ids, 0)), ("rows", ops::range(&g, 0, 1, "vocab", DType::I64))])
        .unwrap();
    let w = Weights::from_tensors([("emb", Tensor::new([3, 1], vec![1f32, 2., 3.]).unwrap())]);
    let out = Interpreter::new().run(&g, &w, [("ids", Tensor::new([1], vec![2i64]).unwrap())]).unwrap();
    assert_eq!(out.get("picked").unwrap().to_f32_vec(), [3.0]);
    assert_eq!(out.get("rows").unwrap().to_i64_vec(), [0, 1, 2]);
}
