//! Text, DOT and JSON dumps of a small encoder block, snapshot-tested so
//! format changes are deliberate.

use wgraph::graph::{ops, DumpFormat, Scope};
use wgraph::{DType, Dim, Gelu, Graph};

fn tiny_encoder() -> Graph {
    let g = Graph::new("tiny_encoder");
    let s = Scope::new(&g, "encoder");
    let ids = g.input("input_ids", DType::I64, [Dim::sym("batch"), Dim::sym("seq")]);
    let emb = s.pp("embeddings.word_embeddings").weight("weight", [100usize, 8]);
    let x = s.pp("embeddings").name(ops::gather(&emb, &ids, 0));
    let l = s.pp("layer.0.dense");
    let (w, b) = (l.weight("weight", [8usize, 8]), l.weight("bias", [8usize]));
    let h = l.name(ops::linear(&x, &w, Some(&b)));
    let n = s.pp("LayerNorm");
    let (gamma, beta) = (n.weight("weight", [8usize]), n.weight("bias", [8usize]));
    let y = ops::gelu(&ops::layer_norm(&h, &gamma, &beta, 1e-12), Gelu::Erf);
    g.output_named([("last_hidden_state", y)]).unwrap();
    g
}

#[test]
fn text_dump() {
    insta::assert_snapshot!("text", tiny_encoder().dump());
}

#[test]
fn dot_dump() {
    insta::assert_snapshot!("dot", tiny_encoder().dump_as(DumpFormat::Dot));
}

#[test]
fn json_dump_is_valid_and_complete() {
    let g = tiny_encoder();
    let text = g.dump_as(DumpFormat::Json);
    let doc: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(doc["nodes"].as_array().unwrap().len(), g.ir().unwrap().graph.node_count());
    insta::assert_snapshot!("json", text);
}

#[test]
fn a_broken_graph_still_dumps_with_its_errors() {
    let g = Graph::new("broken");
    let a = g.input("a", DType::F32, [2usize, 3]);
    let _ = ops::matmul(&a, &a);
    let text = g.dump();
    assert!(text.contains("errors:\n  matmul at tests/dumps.rs:"), "{text}");
}
