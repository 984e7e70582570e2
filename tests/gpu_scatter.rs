//! Scatter-add on the GPU beyond the op table's rows: bitwise identical
//! reruns on sums whose value depends on their order, the interpreter's
//! index order, and out-of-range indices (a typed error on the interpreter
//! and, for graph inputs, on the host before the GPU would clamp them).

mod common;

use common::assert_close;
use common::gpu::{device, Rng};
use wgraph::graph::ops;
use wgraph::{DType, Dim, Graph, Interpreter, Loader, RuntimeError, Tensor, Weights};

/// `[tokens, width]` update rows summed into `vocab` rows by `[tokens]` ids.
fn scatter_graph(vocab: usize, width: usize) -> Graph {
    let g = Graph::new("scatter");
    let updates = g.input("updates", DType::F32, [Dim::sym("tokens"), width.into()]);
    let ids = g.input("ids", DType::I64, [Dim::sym("tokens")]);
    g.output_named([("out", ops::scatter_add(&updates, &ids, 0, vocab))]).unwrap();
    g
}

/// Few rows, many tokens, values spanning six orders of magnitude with both
/// signs: every row is a long sum whose f32 result depends on the order of
/// its terms, so any run-to-run reordering would change bits.
fn order_sensitive_feed(tokens: usize, width: usize, vocab: usize) -> Vec<(String, Tensor)> {
    let mut r = Rng(11);
    let n = tokens * width;
    let v: Vec<f32> = (0..n)
        .map(|_| {
            let scale = 10f32.powi(r.below(7) as i32 - 3);
            r.uniform(-1.0, 1.0) * scale
        })
        .collect();
    let ids: Vec<i64> = (0..tokens).map(|_| r.below(vocab) as i64).collect();
    vec![
        ("updates".to_string(), Tensor::new([tokens, width], v).unwrap()),
        ("ids".to_string(), Tensor::new([tokens], ids).unwrap()),
    ]
}

fn bits(t: &Tensor) -> Vec<u32> {
    t.to_f64_vec().iter().map(|&v| (v as f32).to_bits()).collect()
}

#[test]
fn reruns_and_recompiles_are_bitwise_identical() {
    let (tokens, width, vocab) = (700, 67, 5);
    let g = scatter_graph(vocab, width);
    let feed = order_sensitive_feed(tokens, width, vocab);
    let model = Loader::new(device()).load(&g, &Weights::new()).unwrap();
    let first = model.run(feed.clone()).unwrap();
    let first = bits(first.get("out").unwrap());
    for _ in 0..3 {
        let again = model.run(feed.clone()).unwrap();
        assert_eq!(bits(again.get("out").unwrap()), first, "a rerun changed bits");
    }
    let recompiled = Loader::new(device()).load(&g, &Weights::new()).unwrap();
    assert_eq!(bits(recompiled.run(feed.clone()).unwrap().get("out").unwrap()), first, "a recompile changed bits");
    // And the value is the interpreter's up to f32 rounding: a row sums
    // ~140 terms of magnitude up to 1e3, each partial sum rounded to about
    // 6e-5, so cancelling rows keep an absolute error of a few 1e-3.
    let want = Interpreter::new().run(&g, &Weights::new(), feed).unwrap();
    let got = model.run(order_sensitive_feed(tokens, width, vocab)).unwrap();
    assert_close(got.get("out").unwrap(), want.get("out").unwrap(), 1e-4, 1e-2, "scatter_add vs interpreter");
}

#[test]
fn out_of_range_indices_are_typed_errors() {
    let g = scatter_graph(4, 2);
    let feed = |ids: Vec<i64>| {
        vec![
            ("updates".to_string(), Tensor::new([3, 2], vec![1f32; 6]).unwrap()),
            ("ids".to_string(), Tensor::new([3], ids).unwrap()),
        ]
    };
    let e = Interpreter::new().run(&g, &Weights::new(), feed(vec![0, 4, 1])).unwrap_err().to_string();
    assert!(e.contains("(scatter_add, built at tests/gpu_scatter.rs:"), "{e}");
    assert!(e.ends_with("index 4 is out of range for axis 0 of size 4"), "{e}");
    let model = Loader::new(device()).load(&g, &Weights::new()).unwrap();
    let e = model.run(feed(vec![0, -1, 1])).unwrap_err();
    assert!(matches!(e, RuntimeError::IndexRange { value: -1, size: 4, .. }), "{e}");
    // In range, the same feed runs.
    model.run(feed(vec![0, 3, 3])).unwrap();
}

/// A symbolic row count (bound here by another input's shape) takes the
/// kernel's one-row-per-workgroup path; any count runs on one model.
#[test]
fn symbolic_row_counts_run_at_any_size() {
    let g = Graph::new("symbolic");
    let table = g.input("table", DType::F32, [Dim::sym("vocab"), 3.into()]);
    let updates = g.input("updates", DType::F32, [Dim::sym("tokens"), 3.into()]);
    let ids = g.input("ids", DType::I32, [Dim::sym("tokens")]);
    g.output_named([("out", &ops::scatter_add(&updates, &ids, 0, "vocab") + &table)]).unwrap();
    let model = Loader::new(device()).load(&g, &Weights::new()).unwrap();
    let mut r = Rng(3);
    for (vocab, tokens) in [(1usize, 1usize), (5, 40), (130, 9)] {
        let ids: Vec<i32> = (0..tokens).map(|_| r.below(vocab) as i32).collect();
        let feed = vec![
            ("table".to_string(), r.floats(&[vocab, 3], -1.0, 1.0)),
            ("updates".to_string(), r.floats(&[tokens, 3], -1.0, 1.0)),
            ("ids".to_string(), Tensor::new([tokens], ids).unwrap()),
        ];
        let want = Interpreter::new().run(&g, &Weights::new(), feed.clone()).unwrap();
        let got = model.run(feed).unwrap();
        let what = format!("vocab {vocab} tokens {tokens}");
        assert_close(got.get("out").unwrap(), want.get("out").unwrap(), 1e-5, 1e-6, &what);
    }
}
