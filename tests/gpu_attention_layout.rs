//! The fused attention's heads-inner result (`ops::attention_rows_first`,
//! what the fuse-attention pass makes of a multi-head output permute)
//! equals the permuted plain result, on the interpreter and on the GPU,
//! and its shape is inferred so; operands sliced out of a batch are read
//! in place.

mod common;

use common::assert_close;
use common::gpu::{device, Rng};
use wgraph::compile::{compile, CompileOptions, Target};
use wgraph::graph::ops;
use wgraph::{DType, Dim, Graph, Interpreter, Loader, Weights};

#[test]
fn rows_first_attention_is_the_permuted_result() {
    let mut rng = Rng(21);
    let (b, h, s, d) = (2, 3, 5, 8);
    let g = Graph::new("attention");
    let q = g.input("q", DType::F32, [Dim::new(b), Dim::new(h), Dim::sym("seq"), Dim::new(d)]);
    let k = g.input("k", DType::F32, [Dim::new(b), Dim::new(h), Dim::sym("seq"), Dim::new(d)]);
    let v = g.input("v", DType::F32, [Dim::new(b), Dim::new(h), Dim::sym("seq"), Dim::new(d)]);
    let fused = ops::attention_rows_first(&q, &k, &v, None, Some(0.35));
    assert_eq!(format!("{:?}", fused.shape()), "[2, seq, 3, 8]");
    let plain = ops::permute(&ops::attention(&q, &k, &v, None, Some(0.35)), &[0, 2, 1, 3]);
    g.output_named([("fused", fused), ("plain", plain)]).unwrap();
    let shape = [b, h, s, d];
    let feed: Vec<_> = ["q", "k", "v"].iter().map(|n| (n.to_string(), rng.floats(&shape, -1.0, 1.0))).collect();
    let want = Interpreter::new().run(&g, &Weights::new(), feed.clone()).unwrap();
    assert_close(want.get("fused").unwrap(), want.get("plain").unwrap(), 1e-12, 1e-12, "interpreter");
    let got = Loader::new(device()).load(&g, &Weights::new()).unwrap().run(feed).unwrap();
    for out in ["fused", "plain"] {
        assert_close(got.get(out).unwrap(), want.get("plain").unwrap(), 1e-5, 1e-5, &format!("GPU {out}"));
    }
}

/// One attention per batch row, each row's queries, keys and values sliced
/// out of batched values (a batched decode step's conversations): the
/// kernels read the slices in place from their offsets (no copy kernel),
/// with vec4 reads (head dim 8) and scalar ones (head dim 6), and match the
/// interpreter.
#[test]
fn attention_reads_one_batch_row_from_its_offset() {
    for d in [8, 6] {
        let mut rng = Rng(22 + d as u64);
        let (b, h, s) = (3, 2, 4);
        let g = Graph::new("rows");
        let batched = |name: &str| g.input(name, DType::F32, [b, h, s, d]);
        // Computed values, as the rotated queries and keys of a step are.
        let (q, k, v) = (&batched("q") * 0.5, &batched("k") * 2.0, batched("v"));
        let row = |t: &wgraph::Value, i: usize| ops::slice(t, 0, i, i + 1);
        let contexts: Vec<_> =
            (0..b).map(|i| ops::attention(&row(&q, i), &row(&k, i), &row(&v, i), None, Some(0.4))).collect();
        g.output_named([("out", ops::concat(&contexts.iter().collect::<Vec<_>>(), 0))]).unwrap();
        let program = compile(&g.ir().unwrap(), &CompileOptions::default(), &Target::cpu_driver()).unwrap();
        let names: Vec<&str> = program.kernels.iter().map(|k| k.name.as_str()).collect();
        assert!(names.iter().all(|n| !n.contains("slice")), "head dim {d}: rows are read in place: {names:?}");
        let feed: Vec<_> =
            ["q", "k", "v"].iter().map(|n| (n.to_string(), rng.floats(&[b, h, s, d], -1.0, 1.0))).collect();
        let want = Interpreter::new().run(&g, &Weights::new(), feed.clone()).unwrap();
        let got = Loader::new(device()).load(&g, &Weights::new()).unwrap().run(feed).unwrap();
        assert_close(got.get("out").unwrap(), want.get("out").unwrap(), 1e-5, 1e-5, &format!("head dim {d}"));
    }
}
