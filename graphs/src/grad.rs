//! HF's `loss.backward()` as one graph: a checkpoint's graph with its loss
//! (see [`crate::zoo::load_with_loss`]) plus the gradient of the loss with
//! respect to every parameter, named as the checkpoint names the parameter,
//! so the outputs read like `{name: param.grad}` after `backward()`.

use crate::hf::ModelError;
use crate::zoo::LoadedGraph;
use std::collections::BTreeSet;
use wgraph::debug::GRAD_PREFIX;
use wgraph::graph::{NamedTensors, Op};
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
    /// Every forward module output the graph names (HF module paths, what
    /// a forward hook sees). Tapped with the gradients they let a dump
    /// show where a forward bug starts (see [`GradientGraph::dump`]).
    pub module_outputs: Vec<String>,
}

impl GradientGraph {
    /// The names to keep from the outputs: `loss`, then the parameters.
    pub fn gradient_outputs(&self) -> impl Iterator<Item = &str> {
        std::iter::once("loss").chain(self.parameters.iter().map(String::as_str))
    }

    /// The values to tap for [`GradientGraph::dump`]: every module output
    /// and the gradient with respect to each.
    pub fn dump_taps(&self) -> Vec<String> {
        self.module_outputs.iter().chain(&self.module_gradients).cloned().collect()
    }

    /// What `wgraph grad --dump` writes, from a run compiled with
    /// [`GradientGraph::dump_taps`]: the forward module outputs in execution
    /// order, `logits` and `loss`, then the `grad/` entries in the order the
    /// backward computed them (from the loss towards the inputs), the same
    /// layout as `tools/torch_dump.py --grads`. The forward entries are what
    /// locates a forward bug: from the module it starts at on, every
    /// activation, the loss and every gradient differ.
    pub fn dump(&self, outputs: &NamedTensors, tapped: &NamedTensors) -> NamedTensors {
        let forward = tapped.iter().filter(|(n, _)| !n.starts_with(GRAD_PREFIX));
        // Outputs the taps already hold (a head named `logits`) once.
        let heads = ["logits", "loss"]
            .into_iter()
            .filter(|n| tapped.get(n).is_none())
            .filter_map(|n| outputs.get(n).map(|t| (n, t)));
        let backward = tapped.iter().filter(|(n, _)| n.starts_with(GRAD_PREFIX));
        NamedTensors(forward.chain(heads).chain(backward).map(|(n, t)| (n.to_string(), t.clone())).collect())
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
        module_names.iter().map(|n| format!("{GRAD_PREFIX}{n}")).filter(|n| present.contains(n.as_str())).collect()
    };
    let module_outputs = module_names.into_iter().collect();
    Ok(GradientGraph { graph, parameters, tied, unreachable, module_gradients, module_outputs })
}

fn weight_name(v: &Value) -> Option<String> {
    let id = v.node_id()?;
    let ir = v.graph().ir_unchecked();
    match &ir.node(id).op {
        Op::Weight { name, .. } => Some(name.clone()),
        _ => None,
    }
}
