//! Shape and dtype inference for every op, good and bad, through the public
//! builder API. Bad cases are snapshot-tested so the messages stay helpful.

use wgraph::graph::ops::{self, Conv1dOptions, Gelu};
use wgraph::{DType, Dim, Graph, GraphError, Value};

fn ty(v: &Value) -> String {
    match v.ty() {
        Some(t) => t.to_string(),
        None => format!("error: {}", v.clone().checked().unwrap_err()),
    }
}

fn graph() -> (Graph, Value, Value, Value) {
    let g = Graph::new("shapes");
    let x = g.input("x", DType::F32, [Dim::sym("batch"), Dim::sym("seq"), 64.into()]);
    let ids = g.input("ids", DType::I64, [Dim::sym("batch"), Dim::sym("seq")]);
    let w = g.weight("w", DType::F32, [32usize, 64]);
    (g, x, ids, w)
}

#[test]
fn good_cases_infer_the_expected_types() {
    let (g, x, ids, w) = graph();
    let table = g.weight("emb", DType::F32, [100usize, 64]);
    let gamma = g.weight("gamma", DType::F32, [64usize]);
    let heads = ops::reshape(&x, [Dim::sym("batch"), Dim::sym("seq"), 4.into(), 16.into()]);
    let conv_in = g.input("mel", DType::F32, [Dim::sym("batch"), 8.into(), 30.into()]);
    let conv_w = g.weight("conv", DType::F32, [16usize, 8, 3]);
    let conv_b = g.weight("conv_b", DType::F32, [16usize]);
    let past = g.input("past", DType::F32, [Dim::sym("batch"), Dim::sym("past"), 64.into()]);
    let cases: Vec<(&str, Value, &str)> = vec![
        ("linear", ops::linear(&x, &w, None), "f32[batch, seq, 32]"),
        ("matmul broadcast", ops::matmul(&x, &ops::transpose(&w, 0, 1)), "f32[batch, seq, 32]"),
        ("attention scores", ops::matmul(&heads, &ops::transpose(&heads, -1, -2)), "f32[batch, seq, 4, 4]"),
        ("permute", ops::permute(&heads, &[0, 2, 1, 3]), "f32[batch, 4, seq, 16]"),
        ("merge heads", ops::reshape(&heads, [Dim::sym("batch") * Dim::sym("seq"), 64.into()]), "f32[batch*seq, 64]"),
        ("gather", ops::gather(&table, &ids, 0), "f32[batch, seq, 64]"),
        ("layer_norm", ops::layer_norm(&x, &gamma, &gamma, 1e-12), "f32[batch, seq, 64]"),
        ("rms_norm", ops::rms_norm(&x, &gamma, 1e-6), "f32[batch, seq, 64]"),
        ("gelu", ops::gelu(&x, Gelu::Tanh), "f32[batch, seq, 64]"),
        ("scalar mul", &x * 0.125, "f32[batch, seq, 64]"),
        ("bias add", &x + &gamma, "f32[batch, seq, 64]"),
        ("compare", ops::gt(&ids, &ops::scalar(&g, 0.0, DType::I64)), "bool[batch, seq]"),
        (
            "masked scores",
            ops::select(
                &ops::causal_mask(&g, "seq", "seq"),
                &ops::matmul(&x, &ops::transpose(&x, -1, -2)),
                &ops::scalar(&g, -1e9, DType::F32),
            ),
            "f32[batch, seq, seq]",
        ),
        ("cast", ops::cast(&ids, DType::F32), "f32[batch, seq]"),
        ("softmax", ops::softmax(&x, -1), "f32[batch, seq, 64]"),
        ("sum keep", ops::sum(&x, 1, true), "f32[batch, 1, 64]"),
        ("mean", ops::mean(&x, -1, false), "f32[batch, seq]"),
        ("argmax", ops::argmax(&x, -1, false), "i64[batch, seq]"),
        ("slice sym", ops::slice(&x, 1, 1, "seq"), "f32[batch, seq - 1, 64]"),
        ("slice step", ops::slice_step(&x, 2, 0, 64, 3), "f32[batch, seq, 22]"),
        ("split", ops::split(&x, -1, &[16, 48]).pop().unwrap(), "f32[batch, seq, 48]"),
        ("kv concat", ops::concat(&[&past, &x], 1), "f32[batch, past + seq, 64]"),
        ("range", ops::range(&g, 0, 1, "seq", DType::I64), "i64[seq]"),
        ("causal mask", ops::causal_mask(&g, "seq", Dim::sym("past") + Dim::sym("seq")), "bool[seq, past + seq]"),
        ("expand", ops::expand(&gamma, [Dim::sym("batch"), 2.into(), 64.into()]), "f32[batch, 2, 64]"),
        ("unsqueeze", ops::unsqueeze(&ids, 1), "i64[batch, 1, seq]"),
        ("squeeze", ops::squeeze(&ops::sum(&x, 1, true), 1), "f32[batch, 64]"),
        (
            "conv1d",
            ops::conv1d(
                &conv_in,
                &conv_w,
                Some(&conv_b),
                Conv1dOptions { stride: 2, padding: 1, ..Default::default() },
            ),
            "f32[batch, 16, 15]",
        ),
        (
            "conv1d symbolic length",
            ops::conv1d(
                &ops::transpose(&x, 1, 2),
                &g.weight("c2", DType::F32, [8usize, 64, 3]),
                None,
                Conv1dOptions { padding: 1, ..Default::default() },
            ),
            "f32[batch, 8, seq]",
        ),
        ("erf", ops::erf(&x), "f32[batch, seq, 64]"),
        ("not", ops::not(&ops::causal_mask(&g, 3, 3)), "bool[3, 3]"),
    ];
    for (name, v, want) in cases {
        assert_eq!(ty(&v), want, "{name}");
    }
    assert!(g.errors().is_empty(), "{:?}", g.errors());
}

/// The message names the op, both shapes and the caller's file:line.
#[test]
fn errors_name_the_line_that_built_the_op() {
    let g = Graph::new("lines");
    let a = g.input("a", DType::F32, [2usize, 3]);
    let b = g.input("b", DType::F32, [4usize, 5]);
    let line = line!() + 1;
    let bad = ops::matmul(&a, &b);
    let err = bad.clone().checked().unwrap_err();
    let msg = err.to_string();
    assert!(msg.starts_with(&format!("matmul at {}:{line}:", file!())), "{msg}");
    assert!(msg.contains("[2, 3]") && msg.contains("[4, 5]"), "{msg}");
    // Operators record the line too.
    let line = line!() + 1;
    let sum = &a + &b;
    assert!(sum.checked().unwrap_err().to_string().contains(&format!("{}:{line}:", file!())));
    // Downstream ops stay poisoned without piling up errors, and the graph
    // refuses to finish with every error listed.
    let more = ops::relu(&bad);
    let out = g.output([more]);
    match out {
        Err(GraphError::Build { errors, .. }) => assert_eq!(errors.len(), 2),
        other => panic!("expected a build error listing both, got {other:?}"),
    }
}

#[test]
fn bad_cases_report_clear_messages() {
    let (g, x, ids, w) = graph();
    let gamma = g.weight("gamma", DType::F32, [32usize]);
    let h = g.weight("h", DType::F16, [64usize]);
    let other = Graph::new("other").input("y", DType::F32, [64usize]);
    let bad: Vec<(&str, Value)> = vec![
        ("linear without transpose", ops::matmul(&x, &w)),
        ("rank 1 matmul", ops::matmul(&gamma, &w)),
        ("broadcast", &x + &gamma),
        ("symbolic broadcast", &x + &ops::transpose(&x, 0, 1)),
        ("dtype mix", &x + &h),
        ("float op on ids", ops::exp(&ids)),
        ("axis", ops::softmax(&x, 3)),
        ("permutation", ops::permute(&x, &[0, 0, 1])),
        ("reshape count", ops::reshape(&x, [Dim::sym("batch"), 64.into()])),
        ("expand", ops::expand(&w, [4usize, 32, 8])),
        ("gather float indices", ops::gather(&w, &x, 0)),
        ("slice past end", ops::slice(&x, -1, 10, 70)),
        ("slice backwards", ops::slice(&x, -1, 10, 5)),
        ("concat", ops::concat(&[&x, &w], 0)),
        ("layer_norm gamma", ops::layer_norm(&x, &gamma, &gamma, 1e-5)),
        ("squeeze", ops::squeeze(&x, 2)),
        ("select cond", ops::select(&x, &x, &x)),
        ("conv1d rank", ops::conv1d(&w, &w, None, Conv1dOptions::default())),
        ("foreign value", &x + &other),
        ("mean of ints", ops::mean(&ids, 0, false)),
        ("rms_norm gamma", ops::rms_norm(&x, &gamma, 1e-6)),
        ("not on floats", ops::not(&x)),
        ("and on floats", ops::and(&x, &x)),
        ("pow on ints", ops::pow(&ids, &ids)),
        ("compare dtypes", ops::lt(&x, &ids)),
        ("bool range", ops::range(&g, 0, 1, 4usize, DType::Bool)),
        ("sum of bools", ops::sum(&ops::causal_mask(&g, 2, 2), 0, false)),
        (
            "strided conv on symbolic length",
            ops::conv1d(
                &ops::transpose(&x, 1, 2),
                &g.weight("c", DType::F32, [8usize, 64, 3]),
                None,
                Conv1dOptions { stride: 2, ..Default::default() },
            ),
        ),
        (
            "conv kernel longer than input",
            ops::conv1d(
                &g.input("short", DType::F32, [1usize, 64, 2]),
                &g.weight("c3", DType::F32, [8usize, 64, 5]),
                None,
                Conv1dOptions::default(),
            ),
        ),
        (
            "conv groups",
            ops::conv1d(
                &g.input("grp", DType::F32, [1usize, 6, 9]),
                &g.weight("c4", DType::F32, [4usize, 3, 1]),
                None,
                Conv1dOptions { groups: 4, ..Default::default() },
            ),
        ),
        ("empty concat", ops::concat(&[], 0)),
        ("scatter_add float indices", ops::scatter_add(&x, &x, 0, 10usize)),
        ("scatter_add bool updates", ops::scatter_add(&ops::causal_mask(&g, 2, 2), &ids, 0, 10usize)),
        ("scatter_add indices outrank updates", ops::scatter_add(&gamma, &ids, 0, 10usize)),
        ("scatter_add axis", ops::scatter_add(&x, &ids, 2, 10usize)),
        ("scatter_add negative axis", ops::scatter_add(&x, &ids, -3, 10usize)),
        ("scatter_add updates not shaped like a gather", ops::scatter_add(&w, &ids, 0, 10usize)),
    ];
    let report: Vec<String> = bad
        .into_iter()
        .map(|(name, v)| format!("{name}:\n  {}", v.checked().expect_err(name).to_string().replace('\n', "\n  ")))
        .collect();
    insta::assert_snapshot!("bad_cases", report.join("\n"));
}

#[test]
fn duplicate_declarations_are_errors_but_tied_weights_are_shared() {
    let g = Graph::new("dups");
    let a = g.weight("emb", DType::F32, [10usize, 4]);
    let b = g.weight("emb", DType::F32, [10usize, 4]);
    assert_eq!(a.node_id(), b.node_id(), "same name and type: one tied weight");
    let c = g.weight("emb", DType::F32, [4usize, 10]);
    assert!(c.checked().unwrap_err().to_string().contains("declared twice with different types"));
    g.input("ids", DType::I64, [3usize]);
    let d = g.input("ids", DType::I64, [3usize]);
    assert!(d.checked().unwrap_err().to_string().starts_with("input `ids` is declared twice"));
    let e = Graph::new("empty");
    assert!(matches!(e.ir().map(|_| ()), Err(GraphError::NoOutputs { .. })));
}

/// Scatter-add's shape is the gather data's: the index axes of the updates
/// collapse into `size` rows. (Kept out of the table above so the bad-case
/// snapshot's line numbers stay put.)
#[test]
fn scatter_add_infers_the_gather_data_shape() {
    let (g, x, ids, _) = graph();
    let cases: Vec<(&str, Value, &str)> = vec![
        ("embedding gradient", ops::scatter_add(&x, &ids, 0, 100usize), "f32[100, 64]"),
        ("symbolic rows", ops::scatter_add(&x, &ids, 0, "vocab"), "f32[vocab, 64]"),
        ("middle axis", ops::scatter_add(&ops::unsqueeze(&x, 0), &ids, -2, 7usize), "f32[1, 7, 64]"),
        ("scalar index", ops::scatter_add(&x, &ops::scalar(&g, 3.0, DType::I64), 3, 5usize), "f32[batch, seq, 64, 5]"),
        ("integer updates", ops::scatter_add(&ids, &ids, 0, 9usize), "i64[9]"),
    ];
    for (name, v, want) in cases {
        assert_eq!(ty(&v), want, "{name}");
    }
    assert!(g.errors().is_empty(), "{:?}", g.errors());
}

/// Fused attention: `[.., q, d]`, `[.., k, d]`, `[.., k, dv]` and a bool
/// mask broadcastable to `[.., q, k]` give `[.., q, dv]`; each mismatch is
/// a typed error naming the operand.
#[test]
fn attention_infers_rows_by_value_width_and_names_bad_operands() {
    let g = Graph::new("attention");
    let (b, h) = (Dim::sym("batch"), Dim::new(2));
    let q = g.input("q", DType::F32, [b.clone(), h.clone(), Dim::sym("seq"), 8.into()]);
    let k = g.input("k", DType::F32, [b.clone(), h.clone(), Dim::sym("total"), 8.into()]);
    let v = g.input("v", DType::F32, [b.clone(), h.clone(), Dim::sym("total"), 5.into()]);
    let keep = g.input("keep", DType::Bool, [b.clone(), 1.into(), 1.into(), Dim::sym("total")]);
    let band = ops::causal_mask(&g, "seq", "total");
    assert_eq!(ty(&ops::attention(&q, &k, &v, Some(&keep), Some(0.25))), "f32[batch, 2, seq, 5]");
    assert_eq!(ty(&ops::attention(&q, &k, &v, Some(&band), None)), "f32[batch, 2, seq, 5]");
    assert_eq!(ty(&ops::attention(&q, &k, &k, None, None)), "f32[batch, 2, seq, 8]");
    let bad: Vec<(Value, &str)> = vec![
        (ops::attention(&q, &v, &v, None, None), "the keys must have shape [batch, 2, total, 8]"),
        (
            ops::attention(&q, &k, &q, None, None),
            "the values must have shape [batch, 2, total, 8], got [batch, 2, seq, 8]",
        ),
        (ops::attention(&q, &k, &v, Some(&q), None), "the mask must be bool"),
        (ops::attention(&q, &k, &v, Some(&ops::causal_mask(&g, "total", "seq")), None), "cannot expand"),
        (ops::attention(&keep, &k, &v, None, None), "the queries must be a float tensor"),
    ];
    for (v, want) in bad {
        let error = v.checked().expect_err(want).to_string();
        assert!(error.contains(want), "{error}");
    }
}
