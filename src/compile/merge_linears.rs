//! Linear layers reading one input merge into one product: attention's
//! query, key and value projections (`x @ [Wq; Wk; Wv]^T`), or any other
//! layers reading one input, unless their outputs are combined elementwise
//! (an MLP's `act(gate) * up` already runs as one kernel: one product's
//! epilogue reads the other's output). One wider product reads `x` once and
//! is one kernel instead of several narrow ones; each layer's output
//! becomes a slice of it, which its readers take as a view.
//!
//! The merged weight is the layers' weights joined along their output rows,
//! a weight of its own named [`merged_weight_name`]: the runtime joins the
//! parts once, on the host, when it uploads the program
//! ([`merged_weight_parts`] reads the name back). Biases merge the same
//! way. Weights the program writes (trained parameters, caches) never
//! merge: their parts would change under the joined copy.

use super::error::CompileError;
use super::pass::Pass;
use crate::graph::{BinaryOp, DType, Dim, Ir, Node, NodeId, Op, OpFamily, TensorType};
use std::collections::{BTreeMap, HashSet};

/// The merge pass; `written` names weights that must stay as they are.
pub struct MergeLinears {
    /// Weights the program writes back or shares as writable buffers.
    pub written: HashSet<String>,
    /// Tapped names (`*`: every named value): a tapped layer keeps its own
    /// product, so that a capture sees the graph as built, in its order.
    pub taps: Vec<String>,
}

/// The name of the weight joining `parts` along their first axis.
pub fn merged_weight_name(parts: &[&str]) -> String {
    format!("{MERGED}{}]", parts.join(SEPARATOR))
}

/// The parts a [`merged_weight_name`] joins, in order; `None` for any
/// other name.
pub fn merged_weight_parts(name: &str) -> Option<Vec<&str>> {
    let inner = name.strip_prefix(MERGED)?.strip_suffix(']')?;
    Some(inner.split(SEPARATOR).collect())
}

const MERGED: &str = "merged[";
const SEPARATOR: &str = " + ";

/// One `x @ W^T (+ b)` reading the shared input.
struct Linear {
    /// The layer's output: the bias add, or the product.
    out: NodeId,
    weight: NodeId,
    bias: Option<NodeId>,
    /// Output features (`W`'s rows).
    rows: usize,
}

impl Pass for MergeLinears {
    fn name(&self) -> &'static str {
        "merge-linears"
    }

    fn run(&self, ir: &mut Ir) -> Result<bool, CompileError> {
        let mut changed = false;
        for x in ir.topo_order()? {
            // Layers with the same input features and the same bias form merge.
            let mut groups: BTreeMap<(usize, bool), Vec<Linear>> = BTreeMap::new();
            for mm in ir.users(x) {
                if let Some(l) = self.linear(ir, mm, x) {
                    let cols = ir.node(l.weight).ty.shape[1].as_static().unwrap_or(0);
                    groups.entry((cols, l.bias.is_some())).or_default().push(l);
                }
            }
            let merged: Vec<Vec<Linear>> = groups.into_values().filter(|g| g.len() > 1 && !meet(ir, g)).collect();
            for group in merged {
                merge(ir, x, &group);
                changed = true;
            }
        }
        Ok(changed)
    }
}

impl MergeLinears {
    /// `mm` as a linear layer on `x`: `matmul(x, transpose(W))` with `W` an
    /// f32 weight `[rows, cols]` of static size, then (when that is all
    /// that reads the product) `+ b` with `b` an f32 weight `[rows]`.
    fn linear(&self, ir: &Ir, mm: NodeId, x: NodeId) -> Option<Linear> {
        let x_rank = ir.node(x).ty.shape.len();
        if !matches!(ir.node(mm).op, Op::MatMul) || ir.operands(mm).first() != Some(&x) || x_rank < 2 {
            return None;
        }
        let t = ir.operands(mm)[1];
        let Op::Permute { perm } = &ir.node(t).op else { return None };
        let weight = ir.operands(t)[0];
        let rows = self.fixed_f32(ir, weight, 2)?;
        if perm.as_slice() != [1, 0] || ir.users(t).len() != 1 {
            return None;
        }
        let tapped = |n: NodeId| ir.node(n).names().any(|name| self.taps.iter().any(|t| t == "*" || t == name));
        let bias = match ir.users(mm).as_slice() {
            [add] if matches!(ir.node(*add).op, Op::Binary(BinaryOp::Add)) && !is_output(ir, mm) => {
                let other = ir.operands(*add).into_iter().find(|&o| o != mm)?;
                (self.fixed_f32(ir, other, 1) == Some(rows)).then_some((*add, other))
            }
            _ => None,
        };
        let out = bias.map_or(mm, |(add, _)| add);
        if tapped(mm) || tapped(out) {
            return None;
        }
        Some(Linear { out, weight, bias: bias.map(|(_, b)| b), rows })
    }

    /// The first axis of `node` when it is an unquantized, unwritten f32
    /// weight of static shape and rank `rank`.
    fn fixed_f32(&self, ir: &Ir, node: NodeId, rank: usize) -> Option<usize> {
        let Op::Weight { name, dtype: DType::F32, shape, quant: None } = &ir.node(node).op else { return None };
        let static_shape = shape.iter().all(Dim::is_static) && shape.len() == rank;
        (static_shape && !self.written.contains(name) && merged_weight_parts(name).is_none())
            .then(|| shape[0].as_static())
            .flatten()
    }
}

/// Whether two of the layers' outputs are combined elementwise (an MLP's
/// `act(gate) * up`): their products already run as one kernel, the
/// second's epilogue reading the first, where a merged product would write
/// both and a separate kernel combine them.
fn meet(ir: &Ir, group: &[Linear]) -> bool {
    let reach = |from: NodeId| {
        let mut seen = vec![from];
        let mut i = 0;
        while i < seen.len() && seen.len() < 16 {
            for u in ir.users(seen[i]) {
                if ir.node(u).op.family() == OpFamily::Elementwise && !seen.contains(&u) {
                    seen.push(u);
                }
            }
            i += 1;
        }
        seen
    };
    let reached: Vec<Vec<NodeId>> = group.iter().map(|l| reach(l.out)).collect();
    reached.iter().enumerate().any(|(i, a)| reached[i + 1..].iter().any(|b| a.iter().any(|n| b.contains(n))))
}

fn is_output(ir: &Ir, node: NodeId) -> bool {
    ir.outputs.iter().any(|(_, o)| *o == node)
}

/// Replaces `group` (linear layers on `x`) by one product and a slice of
/// it per layer.
fn merge(ir: &mut Ir, x: NodeId, group: &[Linear]) {
    let at = ir.node(group[0].out).location;
    let push = |ir: &mut Ir, op: Op, shape: Vec<Dim>, operands: &[NodeId]| {
        let ty = TensorType { dtype: DType::F32, shape };
        ir.add_node(Node { op, ty, name: None, aliases: Vec::new(), location: at }, operands)
    };
    // A weight joining the weights `parts` along their rows.
    let joined = |ir: &mut Ir, parts: Vec<NodeId>, shape: Vec<Dim>| {
        let names: Vec<String> = parts
            .iter()
            .map(|&n| match &ir.node(n).op {
                Op::Weight { name, .. } => name.clone(),
                _ => String::new(),
            })
            .collect();
        let name = merged_weight_name(&names.iter().map(String::as_str).collect::<Vec<_>>());
        push(ir, Op::Weight { name, dtype: DType::F32, shape: shape.clone(), quant: None }, shape, &[])
    };
    let total: usize = group.iter().map(|l| l.rows).sum();
    let cols = ir.node(group[0].weight).ty.shape[1].clone();
    let w = joined(ir, group.iter().map(|l| l.weight).collect(), vec![Dim::new(total), cols.clone()]);
    let t = push(ir, Op::Permute { perm: vec![1, 0] }, vec![cols, Dim::new(total)], &[w]);
    let mut shape = ir.node(x).ty.shape.clone();
    let last = shape.len() - 1;
    shape[last] = Dim::new(total);
    let mut y = push(ir, Op::MatMul, shape.clone(), &[x, t]);
    if group[0].bias.is_some() {
        let b = joined(ir, group.iter().filter_map(|l| l.bias).collect(), vec![Dim::new(total)]);
        y = push(ir, Op::Binary(BinaryOp::Add), shape.clone(), &[y, b]);
    }
    let mut start = 0;
    for l in group {
        shape[last] = Dim::new(l.rows);
        let slice = Op::Slice { axis: last, start: Dim::new(start), end: Dim::new(start + l.rows), step: 1 };
        let part = push(ir, slice, shape.clone(), &[y]);
        ir.replace_uses(l.out, part);
        start += l.rows;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::{ops, Graph};

    /// `x [seq, 8]` through three linear layers `q`, `k`, `v` (outputs 8, 4
    /// and 4, with biases when `bias`), each summed.
    fn qkv(bias: bool) -> Graph {
        let g = Graph::new("qkv");
        let x = ops::relu(&g.input("x", DType::F32, [Dim::sym("seq"), Dim::new(8)]));
        let mut outputs = Vec::new();
        for (name, rows) in [("q", 8usize), ("k", 4), ("v", 4)] {
            let w = g.weight(format!("{name}.weight"), DType::F32, [rows, 8]);
            let b = bias.then(|| g.weight(format!("{name}.bias"), DType::F32, [rows]));
            outputs.push((name, ops::linear(&x, &w, b.as_ref()).named(name)));
        }
        g.output_named(outputs).unwrap();
        g
    }

    fn merged(g: &Graph, written: &[&str]) -> Ir {
        let mut ir = g.ir().unwrap().clone();
        let pass = MergeLinears { written: written.iter().map(|s| s.to_string()).collect(), taps: Vec::new() };
        pass.run(&mut ir).unwrap();
        crate::compile::dce::DeadCode.run(&mut ir).unwrap();
        ir
    }

    fn weight_names(ir: &Ir) -> Vec<String> {
        let mut names: Vec<String> = ir
            .graph
            .node_indices()
            .filter_map(|n| match &ir.node(n).op {
                Op::Weight { name, .. } => Some(name.clone()),
                _ => None,
            })
            .collect();
        names.sort();
        names
    }

    #[test]
    fn three_projections_of_one_input_become_one_product_and_slices() {
        for bias in [false, true] {
            let ir = merged(&qkv(bias), &[]);
            let products = ir.graph.node_indices().filter(|&n| matches!(ir.node(n).op, Op::MatMul)).count();
            assert_eq!(products, 1, "bias {bias}");
            let mut want = vec![merged_weight_name(&["q.weight", "k.weight", "v.weight"])];
            if bias {
                want.push(merged_weight_name(&["q.bias", "k.bias", "v.bias"]));
            }
            want.sort();
            assert_eq!(weight_names(&ir), want);
            // Each output is its slice of the product, under the layer's name.
            for (name, start, end) in [("q", 0, 8), ("k", 8, 12), ("v", 12, 16)] {
                let out = ir.outputs.iter().find(|(n, _)| n == name).unwrap().1;
                let Op::Slice { axis: 1, start: s, end: e, step: 1 } = &ir.node(out).op else {
                    panic!("{name} is {:?}", ir.node(out).op)
                };
                assert_eq!((s.clone(), e.clone()), (Dim::new(start), Dim::new(end)));
                assert_eq!(ir.node(out).name.as_deref(), Some(name));
            }
        }
    }

    #[test]
    fn projections_combined_elementwise_stay_apart() {
        // LLaMA's MLP: silu(gate(x)) * up(x) runs as one product whose
        // epilogue reads the other's output.
        let g = Graph::new("mlp");
        let x = g.input("x", DType::F32, [2usize, 8]);
        let gate = g.weight("gate.weight", DType::F32, [6usize, 8]);
        let up = g.weight("up.weight", DType::F32, [6usize, 8]);
        let h = &ops::silu(&ops::linear(&x, &gate, None)) * &ops::linear(&x, &up, None);
        g.output_named([("h", h)]).unwrap();
        assert_eq!(weight_names(&merged(&g, &[])), ["gate.weight", "up.weight"]);
    }

    #[test]
    fn tapped_layers_keep_their_products() {
        let g = qkv(false);
        let mut ir = g.ir().unwrap().clone();
        MergeLinears { written: HashSet::new(), taps: vec!["k".into()] }.run(&mut ir).unwrap();
        crate::compile::dce::DeadCode.run(&mut ir).unwrap();
        assert_eq!(weight_names(&ir), ["k.weight".to_string(), merged_weight_name(&["q.weight", "v.weight"])]);
        let mut ir = g.ir().unwrap().clone();
        assert!(!MergeLinears { written: HashSet::new(), taps: vec!["*".into()] }.run(&mut ir).unwrap());
    }

    #[test]
    fn merged_names_read_back_as_their_parts() {
        let name = merged_weight_name(&["a.weight", "b.weight"]);
        assert_eq!(merged_weight_parts(&name), Some(vec!["a.weight", "b.weight"]));
        assert_eq!(merged_weight_parts("a.weight"), None);
    }

    #[test]
    fn written_weights_and_mixed_bias_forms_stay_apart() {
        // A weight the program writes (a trained parameter) keeps its product.
        let ir = merged(&qkv(false), &["k.weight"]);
        let names = weight_names(&ir);
        assert!(names.contains(&"k.weight".to_string()), "{names:?}");
        assert!(names.contains(&merged_weight_name(&["q.weight", "v.weight"])), "{names:?}");
        // Layers with and without a bias do not merge with each other.
        let g = Graph::new("mixed");
        let x = g.input("x", DType::F32, [2usize, 8]);
        let w1 = g.weight("a.weight", DType::F32, [4usize, 8]);
        let w2 = g.weight("b.weight", DType::F32, [4usize, 8]);
        let b1 = g.weight("a.bias", DType::F32, [4usize]);
        g.output_named([("a", ops::linear(&x, &w1, Some(&b1))), ("b", ops::linear(&x, &w2, None))]).unwrap();
        assert_eq!(weight_names(&merged(&g, &[])), ["a.bias", "a.weight", "b.weight"]);
    }
}
