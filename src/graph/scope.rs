//! Checkpoint key paths while building: `scope.pp("attention").weight("q_lin.weight", ..)`
//! declares `distilbert.transformer.layer.0.attention.q_lin.weight`, so model
//! code reads like the HF module tree (candle's `VarBuilder::pp`).

use super::builder::{Graph, Value};
use super::dim::Dim;
use super::dtype::DType;

/// A graph plus the module path being built.
#[derive(Clone, Debug)]
pub struct Scope {
    graph: Graph,
    path: String,
    dtype: DType,
}

impl Scope {
    /// The root scope; `prefix` may be empty. Weights default to f32.
    pub fn new(graph: &Graph, prefix: impl Into<String>) -> Scope {
        Scope { graph: graph.clone(), path: prefix.into(), dtype: DType::F32 }
    }

    /// A child scope: `encoder` then `layer.0` gives `encoder.layer.0`.
    pub fn pp(&self, name: impl AsRef<str>) -> Scope {
        let name = name.as_ref();
        let path = if self.path.is_empty() { name.to_string() } else { format!("{}.{name}", self.path) };
        Scope { graph: self.graph.clone(), path, dtype: self.dtype }
    }

    /// The module path (`distilbert.transformer.layer.0.attention`).
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The graph the scope declares weights in.
    pub fn graph(&self) -> &Graph {
        &self.graph
    }

    /// Declares the weight `<path>.<name>`.
    #[track_caller]
    pub fn weight(&self, name: &str, shape: impl IntoIterator<Item = impl Into<Dim>>) -> Value {
        self.graph.weight(self.pp(name).path, self.dtype, shape)
    }

    /// Names `v` by this scope's module path (for taps and comparisons).
    pub fn name(&self, v: Value) -> Value {
        v.named(self.path.clone())
    }
}
