//! The fused attention's form for a few query rows (a workgroup per query
//! row, its lanes splitting the keys: decoding) equals the interpreter:
//! one static query row, and a symbolic query length run at 1 and 3 rows
//! (that form, chosen per run) and at 9 (the main form); vec4 and scalar
//! head dims; fewer keys than lanes and more; a padding mask with one
//! fully masked batch entry (which averages every value row, as the
//! unfused softmax does); keys broadcast over query heads (grouped-query
//! attention) and the heads-inner result layout.

mod common;

use common::assert_close;
use common::gpu::{device, Rng};
use wgraph::compile::{compile, CompileOptions, Target};
use wgraph::graph::ops;
use wgraph::{DType, Dim, Graph, Interpreter, Loader, Tensor, Weights};

/// `[2 batch, 2 kv heads, 2 query heads each]` attention of `q_len` rows
/// over `keys` keys of head dim `d`, masked, both result layouts.
fn grouped_graph(q_len: Dim, keys: usize, d: usize) -> Graph {
    let g = Graph::new("decode_attention");
    let q = g.input("q", DType::F32, [Dim::new(2), Dim::new(2), Dim::new(2), q_len, Dim::new(d)]);
    let kv = |name: &str| {
        let t = g.input(name, DType::F32, [2usize, 2, 1, keys, d]);
        ops::expand(&t, [2usize, 2, 2, keys, d])
    };
    let (k, v) = (kv("k"), kv("v"));
    let mask = g.input("mask", DType::Bool, [2usize, 1, 1, 1, keys]);
    let plain = ops::attention(&q, &k, &v, Some(&mask), Some(0.3));
    let rows_first = ops::attention_rows_first(&q, &k, &v, Some(&mask), Some(0.3));
    g.output_named([("plain", plain), ("rows_first", rows_first)]).unwrap();
    g
}

fn feed(rng: &mut Rng, rows: usize, keys: usize, d: usize) -> Vec<(String, Tensor)> {
    // Batch entry 0 attends to every other key; entry 1 to none.
    let mask: Vec<bool> = (0..2 * keys).map(|i| i < keys && i % 2 == 0).collect();
    vec![
        ("q".to_string(), rng.floats(&[2, 2, 2, rows, d], -1.0, 1.0)),
        ("k".to_string(), rng.floats(&[2, 2, 1, keys, d], -1.0, 1.0)),
        ("v".to_string(), rng.floats(&[2, 2, 1, keys, d], -1.0, 1.0)),
        ("mask".to_string(), Tensor::new([2usize, 1, 1, 1, keys], mask).unwrap()),
    ]
}

fn check(g: &Graph, inputs: Vec<(String, Tensor)>, what: &str) {
    let want = Interpreter::new().run(g, &Weights::new(), inputs.clone()).unwrap();
    let got = Loader::new(device()).load(g, &Weights::new()).unwrap().run(inputs).unwrap();
    for out in ["plain", "rows_first"] {
        assert_close(got.get(out).unwrap(), want.get(out).unwrap(), 1e-5, 1e-5, &format!("{what}: {out}"));
    }
}

#[test]
fn one_query_row_splits_the_keys_across_lanes() {
    for (d, keys) in [(8, 37), (6, 37), (8, 3)] {
        let g = grouped_graph(Dim::new(1), keys, d);
        let program = compile(&g.ir().unwrap(), &CompileOptions::default(), &Target::cpu_driver()).unwrap();
        let forms: Vec<_> = program.kernels.iter().filter(|k| k.name.contains("attention")).collect();
        assert_eq!(forms.len(), 2, "{:?}", program.kernels.iter().map(|k| &k.name).collect::<Vec<_>>());
        for k in &forms {
            assert_eq!(k.variant.as_deref(), Some("keys split across lanes"), "{}", k.name);
        }
        let mut rng = Rng(40 + d as u64 + keys as u64);
        check(&g, feed(&mut rng, 1, keys, d), &format!("head dim {d}, {keys} keys"));
    }
}

#[test]
fn a_symbolic_query_length_takes_the_split_form_for_few_rows() {
    let (d, keys) = (8, 21);
    let g = grouped_graph(Dim::sym("seq"), keys, d);
    let program = compile(&g.ir().unwrap(), &CompileOptions::default(), &Target::cpu_driver()).unwrap();
    let attention: Vec<_> = program.kernels.iter().filter(|k| k.name.contains("attention")).collect();
    assert!(attention.iter().all(|k| k.few_rows.as_ref().is_some_and(|f| f.max_rows == 4)), "a few-rows form each");
    let mut rng = Rng(77);
    for rows in [1, 3, 9] {
        check(&g, feed(&mut rng, rows, keys, d), &format!("{rows} query rows"));
    }
}
