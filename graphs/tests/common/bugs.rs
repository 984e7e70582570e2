//! Bugs seeded into a checkpoint, its config, its inputs or the built
//! graph, shared by the forward bug zoo (bug_zoo.rs) and its gradient
//! counterpart (grad_compare.rs). Included with `#[path]`.

#![allow(dead_code)]

use wgraph::graph::{Ir, Node, NodeId, Op, RowOp};
use wgraph::Tensor;

/// A seeded bug: what it does to the checkpoint, the config and the inputs.
pub struct Bug {
    pub what: &'static str,
    pub weights: fn(&mut Vec<(String, Tensor)>),
    pub config: fn(&mut serde_json::Value),
    pub inputs: fn(&mut Vec<(String, Tensor)>),
    /// What it does to the graph the zoo builds (the port's own code).
    pub graph: fn(&mut Ir),
    /// Modules `compare` may name (the first module output the bug changes).
    pub expect: &'static [&'static str],
}

impl Bug {
    /// A bug in the checkpoint's tensors.
    pub fn weights(what: &'static str, f: fn(&mut Vec<(String, Tensor)>), expect: &'static [&'static str]) -> Bug {
        Bug { what, weights: f, config: no_config, inputs: no_inputs, graph: no_edit, expect }
    }
    /// A bug in `config.json`.
    pub fn config(what: &'static str, f: fn(&mut serde_json::Value), expect: &'static [&'static str]) -> Bug {
        Bug { what, weights: no_weights, config: f, inputs: no_inputs, graph: no_edit, expect }
    }
    /// A bug in how the inputs are prepared.
    pub fn inputs(what: &'static str, f: fn(&mut Vec<(String, Tensor)>), expect: &'static [&'static str]) -> Bug {
        Bug { what, weights: no_weights, config: no_config, inputs: f, graph: no_edit, expect }
    }
    /// A bug in the port's own graph code.
    pub fn graph(what: &'static str, f: fn(&mut Ir), expect: &'static [&'static str]) -> Bug {
        Bug { what, weights: no_weights, config: no_config, inputs: no_inputs, graph: f, expect }
    }
}

/// The classic attention bugs of a DistilBERT port (any DistilBERT
/// checkpoint of at least two layers), each with the module where it first
/// shows: q and k swapped, a transposed Linear, the mask ignored or
/// inverted, softmax over the wrong axis.
pub fn distilbert_attention_bugs() -> Vec<Bug> {
    vec![
        Bug::weights(
            "q and k weights swapped in layer 1",
            |t| {
                for p in ["weight", "bias"] {
                    let layer = "distilbert.transformer.layer.1.attention";
                    swap(t, &format!("{layer}.q_lin.{p}"), &format!("{layer}.k_lin.{p}"));
                }
            },
            &["distilbert.transformer.layer.1.attention.q_lin"],
        ),
        Bug::weights(
            "a Linear weight read transposed",
            |t| transpose_square(t, "distilbert.transformer.layer.0.attention.out_lin.weight"),
            &["distilbert.transformer.layer.0.attention.out_lin"],
        ),
        Bug::inputs(
            "attention mask ignored",
            |i| map_mask(i, |_| 1),
            &["distilbert.transformer.layer.0.attention.out_lin", "distilbert.transformer.layer.0.attention"],
        ),
        Bug::inputs(
            "attention mask inverted",
            |i| map_mask(i, |m| 1 - m),
            &["distilbert.transformer.layer.0.attention.out_lin", "distilbert.transformer.layer.0.attention"],
        ),
        Bug::graph(
            "softmax over the query axis",
            softmax_over_queries,
            &["distilbert.transformer.layer.0.attention.out_lin", "distilbert.transformer.layer.0.attention"],
        ),
    ]
}

pub fn no_weights(_: &mut Vec<(String, Tensor)>) {}
pub fn no_config(_: &mut serde_json::Value) {}
pub fn no_inputs(_: &mut Vec<(String, Tensor)>) {}
pub fn no_edit(_: &mut Ir) {}

/// The port softmaxes attention scores `[batch, heads, query, key]` over
/// the query axis in its first attention block.
pub fn softmax_over_queries(ir: &mut Ir) {
    let order = ir.topo_order().unwrap();
    let first = order.into_iter().find(|&id| matches!(ir.node(id).op, Op::Row(RowOp::Softmax { .. }))).unwrap();
    let rank = ir.node(first).ty.shape.len();
    ir.graph[first].op = Op::Row(RowOp::Softmax { axis: rank - 2 });
    ir.verify().unwrap();
}

/// The port uses LayerNorm epsilon `eps` in the module `name`.
pub fn layer_norm_eps(ir: &mut Ir, name: &str, eps: f64) {
    let id = ir.find_named(name).unwrap();
    assert!(matches!(ir.node(id).op, Op::Row(RowOp::LayerNorm { .. })));
    ir.graph[id].op = Op::Row(RowOp::LayerNorm { eps });
}

pub fn swap(tensors: &mut [(String, Tensor)], a: &str, b: &str) {
    let ia = tensors.iter().position(|(n, _)| n == a).unwrap();
    let ib = tensors.iter().position(|(n, _)| n == b).unwrap();
    let ta = tensors[ia].1.clone();
    tensors[ia].1 = tensors[ib].1.clone();
    tensors[ib].1 = ta;
}

pub fn transpose_square(tensors: &mut [(String, Tensor)], name: &str) {
    let t = &mut tensors.iter_mut().find(|(n, _)| n == name).unwrap().1;
    let n = t.shape()[0];
    let v = t.to_f32_vec();
    *t = Tensor::new([n, n], (0..n * n).map(|i| v[(i % n) * n + i / n]).collect::<Vec<f32>>()).unwrap();
}

pub fn map_mask(inputs: &mut [(String, Tensor)], f: fn(i64) -> i64) {
    let t = &mut inputs.iter_mut().find(|(n, _)| n == "attention_mask").unwrap().1;
    let v: Vec<i64> = t.to_i64_vec().into_iter().map(f).collect();
    *t = Tensor::new(t.shape().to_vec(), v).unwrap();
}

/// The input a value detached by [`detach`] is fed through.
pub const DETACHED: &str = "detached";

/// The port detaches `value` where `readers` read it (PyTorch's
/// `x.detach()`): they read an input named [`DETACHED`] instead, fed with
/// the same numbers, so the forward is unchanged and no gradient flows
/// back along those edges.
pub fn detach(ir: &mut Ir, value: NodeId, readers: &[NodeId]) {
    let node = ir.node(value).clone();
    let op = Op::Input { name: DETACHED.into(), dtype: node.ty.dtype, shape: node.ty.shape.clone() };
    let input = ir.add_node(Node { op, ty: node.ty, name: None, aliases: Vec::new(), location: node.location }, &[]);
    for &reader in readers {
        assert!(ir.graph.find_edge(value, reader).is_some(), "the reader does not read the value");
        while let Some(id) = ir.graph.find_edge(value, reader) {
            let edge = ir.graph.remove_edge(id).unwrap();
            ir.graph.add_edge(input, reader, edge);
        }
    }
    ir.verify().unwrap();
}
