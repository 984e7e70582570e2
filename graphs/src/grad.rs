//! HF's `loss.backward()` as one graph: a checkpoint's graph with its loss
//! (see [`crate::zoo::load_with_loss`]) plus the gradient of the loss with
//! respect to every parameter, named as the checkpoint names the parameter,
//! so the outputs read like `{name: param.grad}` after `backward()`.

use crate::hf::ModelError;
use crate::zoo::LoadedGraph;
use std::collections::BTreeSet;
use wgraph::graph::Op;
use wgraph::{autodiff, Graph, Value};

/// A graph computing a loss and every parameter's gradient.
pub struct GradientGraph {
    /// Outputs: the loss graph's own (`logits`, `loss`), then one gradient
    /// per parameter under the parameter's checkpoint name.
    pub graph: Graph,
    /// Checkpoint names of the parameters, in output order.
    pub parameters: Vec<String>,
    /// Tied parameters `(name, read as)` (see `LoadedGraph::tied`): the
    /// gradient of `name` is the output `read as`, for checkpoints that
    /// store both.
    pub tied: Vec<(String, String)>,
    /// Parameters the loss does not reach (their gradients are zeros; HF
    /// leaves `param.grad` as `None`).
    pub unreachable: Vec<String>,
    /// `grad/<module path>` for every module output on the way from a
    /// parameter to the loss: the gradient of the loss with respect to
    /// that output (what a full backward hook sees). Tap these names.
    pub module_gradients: Vec<String>,
}

impl GradientGraph {
    /// The names to keep from the outputs: `loss`, then the parameters.
    pub fn gradient_outputs(&self) -> impl Iterator<Item = &str> {
        std::iter::once("loss").chain(self.parameters.iter().map(String::as_str))
    }
}

/// Appends the backward pass to a graph built with its loss (an output
/// named `loss`): gradients with respect to every float weight, declared as
/// outputs under the weights' names.
pub fn gradient_graph(loaded: LoadedGraph) -> Result<GradientGraph, ModelError> {
    let graph = loaded.graph;
    let tied = loaded.tied;
    let (loss_id, module_names) = {
        let ir = graph.ir()?;
        let loss = ir.outputs.iter().find(|(n, _)| n == "loss").map(|(_, id)| *id);
        let loss = loss.ok_or_else(|| {
            loaded.config.invalid(format!("graph `{}` has no `loss` output; build it with its loss", ir.name))
        })?;
        // Forward values named by module paths (sources are named by
        // their checkpoint or argument names instead).
        let names: BTreeSet<String> = ir
            .graph
            .node_indices()
            .map(|id| ir.node(id))
            .filter(|n| !matches!(n.op, Op::Input { .. } | Op::Weight { .. }))
            .flat_map(|n| n.names().map(String::from).collect::<Vec<_>>())
            .collect();
        (loss, names)
    };
    let loss = graph.value(loss_id).expect("an output is a node of its graph");
    let grads = autodiff::parameter_gradients(&loss)?;
    let unreachable = grads.unreachable_names();
    let mut parameters = Vec::with_capacity(grads.len());
    let mut outputs: Vec<(String, Value)> = Vec::with_capacity(grads.len());
    for (p, g) in grads.iter() {
        let name = weight_name(p).ok_or_else(|| loaded.config.invalid(format!("parameter {p:?} is not a weight")))?;
        parameters.push(name.clone());
        outputs.push((name, g.clone()));
    }
    graph.output_named(outputs)?;
    let module_gradients = {
        let ir = graph.ir()?;
        let present: BTreeSet<&str> = ir.graph.node_indices().flat_map(|id| ir.node(id).names()).collect();
        module_names.iter().map(|n| format!("grad/{n}")).filter(|n| present.contains(n.as_str())).collect()
    };
    Ok(GradientGraph { graph, parameters, tied, unreachable, module_gradients })
}

fn weight_name(v: &Value) -> Option<String> {
    let id = v.node_id()?;
    let ir = v.graph().ir_unchecked();
    match &ir.node(id).op {
        Op::Weight { name, .. } => Some(name.clone()),
        _ => None,
    }
}
