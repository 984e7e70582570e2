//! The fused attention's heads-inner result (`ops::attention_rows_first`,
//! what the fuse-attention pass makes of a multi-head output permute)
//! equals the permuted plain result, on the interpreter and on the GPU,
//! and its shape is inferred so.

mod common;

use common::assert_close;
use common::gpu::{device, Rng};
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
