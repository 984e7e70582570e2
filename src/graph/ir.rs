//! The plain-data IR every pass, dump and backend works on: a petgraph
//! `StableGraph` whose edges carry the operand slot, so node indices survive
//! rewrites.

use super::error::{GraphError, SourceLoc};
use super::infer::{infer, TensorType};
use super::op::Op;
use petgraph::stable_graph::{NodeIndex, StableDiGraph};
use petgraph::visit::{EdgeRef, NodeIndexable};
use petgraph::Direction;
use std::cmp::Reverse;
use std::collections::BinaryHeap;

/// Index of a node in [`Ir::graph`].
pub type NodeId = NodeIndex<u32>;

/// One operation with its inferred type.
#[derive(Debug, Clone)]
pub struct Node {
    /// What the node computes.
    pub op: Op,
    /// Its output's dtype and shape, as [`infer`] gives them for `op` and the operands.
    pub ty: TensorType,
    /// The HF module path whose output this value equals (set with
    /// `Value::named`); taps and dumps use it.
    pub name: Option<String>,
    /// Further module paths with the same output (a layer and its last
    /// LayerNorm), so taps match every module a PyTorch hook sees.
    pub aliases: Vec<String>,
    /// The Rust line that built this node.
    pub location: SourceLoc,
}

/// An operand edge: the source node is operand number `slot` of the target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Edge {
    /// Which operand of the target the source is (0 for the first).
    pub slot: usize,
}

/// The sizes a symbolic dim may take, and why (a model with learned
/// positions reads at most `max_position_embeddings` of them; a classifier
/// reads token 0, so a sequence needs at least one). Checked when inputs
/// are bound, before anything runs: past the limit the graph would read out
/// of its tables and compute numbers that mean nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DimLimit {
    /// The symbol (`seq`).
    pub symbol: String,
    /// The smallest size allowed.
    pub min: usize,
    /// The largest size allowed.
    pub max: usize,
    /// Where the maximum comes from (`max_position_embeddings = 512 in config.json`).
    pub why: String,
}

/// A whole graph: nodes, operand edges and named outputs.
#[derive(Debug, Clone)]
pub struct Ir {
    /// The graph's name, from [`Graph::new`](super::Graph::new).
    pub name: String,
    /// Nodes and operand edges; a stable graph, so passes that remove nodes
    /// keep every other [`NodeId`] valid.
    pub graph: StableDiGraph<Node, Edge>,
    /// Output name (`logits`, `last_hidden_state`) to the node producing it.
    pub outputs: Vec<(String, NodeId)>,
    /// Sizes symbolic dims may take (see [`DimLimit`]).
    pub limits: Vec<DimLimit>,
}

impl Node {
    /// The primary name followed by the aliases.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.name.iter().chain(&self.aliases).map(String::as_str)
    }
}

impl Ir {
    /// An empty IR (the builder fills one; passes rewrite a clone).
    pub fn new(name: impl Into<String>) -> Ir {
        Ir { name: name.into(), graph: StableDiGraph::default(), outputs: Vec::new(), limits: Vec::new() }
    }

    /// Adds a node reading `operands` in order.
    pub fn add_node(&mut self, node: Node, operands: &[NodeId]) -> NodeId {
        let id = self.graph.add_node(node);
        for (slot, &src) in operands.iter().enumerate() {
            self.graph.add_edge(src, id, Edge { slot });
        }
        id
    }

    /// The node `id`; panics when it does not exist (ids come from this IR).
    pub fn node(&self, id: NodeId) -> &Node {
        &self.graph[id]
    }

    /// The operands of `id`, in slot order.
    pub fn operands(&self, id: NodeId) -> Vec<NodeId> {
        let mut edges: Vec<(usize, NodeId)> =
            self.graph.edges_directed(id, Direction::Incoming).map(|e| (e.weight().slot, e.source())).collect();
        edges.sort_unstable();
        edges.into_iter().map(|(_, n)| n).collect()
    }

    /// Nodes reading `id`, each once, in index order.
    pub fn users(&self, id: NodeId) -> Vec<NodeId> {
        let mut users: Vec<NodeId> = self.graph.neighbors_directed(id, Direction::Outgoing).collect();
        users.sort_unstable();
        users.dedup();
        users
    }

    /// The one topological order everything uses: Kahn's algorithm taking the
    /// lowest index first, so a freshly built graph runs in building order and
    /// dumps stay stable.
    pub fn topo_order(&self) -> Result<Vec<NodeId>, GraphError> {
        let mut pending: Vec<usize> = vec![0; self.graph.node_bound()];
        let mut ready = BinaryHeap::new();
        for id in self.graph.node_indices() {
            let n = self.graph.edges_directed(id, Direction::Incoming).count();
            pending[id.index()] = n;
            if n == 0 {
                ready.push(Reverse(id));
            }
        }
        let mut order = Vec::with_capacity(self.graph.node_count());
        while let Some(Reverse(id)) = ready.pop() {
            order.push(id);
            for e in self.graph.edges_directed(id, Direction::Outgoing) {
                let t = e.target();
                pending[t.index()] -= 1;
                if pending[t.index()] == 0 {
                    ready.push(Reverse(t));
                }
            }
        }
        if order.len() != self.graph.node_count() {
            let stuck = self.graph.node_indices().find(|id| pending[id.index()] > 0).unwrap_or_default();
            let node = &self.graph[stuck];
            return Err(GraphError::Verify {
                node: stuck.index(),
                op: node.op.name(),
                location: node.location,
                detail: "the graph has a cycle through this node".into(),
            });
        }
        Ok(order)
    }

    /// Input nodes, in declaration order.
    pub fn inputs(&self) -> Vec<NodeId> {
        self.graph.node_indices().filter(|&n| matches!(self.graph[n].op, Op::Input { .. })).collect()
    }

    /// Weight nodes, in declaration order.
    pub fn weights(&self) -> Vec<NodeId> {
        self.graph.node_indices().filter(|&n| matches!(self.graph[n].op, Op::Weight { .. })).collect()
    }

    /// Checks the IR's invariants: acyclic, operand slots dense, every node's
    /// type equal to what inference gives for its operands, outputs present.
    /// Runs after every pass.
    pub fn verify(&self) -> Result<(), GraphError> {
        self.topo_order()?;
        for id in self.graph.node_indices() {
            let node = &self.graph[id];
            let fail = |detail: String| GraphError::Verify {
                node: id.index(),
                op: node.op.name(),
                location: node.location,
                detail,
            };
            let mut slots: Vec<usize> =
                self.graph.edges_directed(id, Direction::Incoming).map(|e| e.weight().slot).collect();
            slots.sort_unstable();
            if slots.iter().enumerate().any(|(i, &s)| i != s) {
                return Err(fail(format!("operand slots {slots:?} are not 0..{}", slots.len())));
            }
            let operands = self.operands(id);
            let types: Vec<&TensorType> = operands.iter().map(|&o| &self.graph[o].ty).collect();
            match infer(&node.op, &types) {
                Ok(ty) if ty == node.ty => {}
                Ok(ty) => return Err(fail(format!("recorded type {} but operands give {ty}", node.ty))),
                Err(e) => return Err(fail(e.to_string())),
            }
        }
        if self.outputs.is_empty() {
            return Err(GraphError::NoOutputs { graph: self.name.clone() });
        }
        for (name, id) in &self.outputs {
            if !self.graph.contains_node(*id) {
                return Err(GraphError::Verify {
                    node: id.index(),
                    op: "output",
                    location: SourceLoc::caller(),
                    detail: format!("output `{name}` points at a removed node"),
                });
            }
        }
        Ok(())
    }
}
