//! Reverse-mode automatic differentiation as an IR -> IR step: given a
//! scalar loss and parameters, append to the same graph the ops that compute
//! the gradient of the loss with respect to each parameter. One graph then
//! computes the loss and every gradient, and compiles to one program.
//!
//! ```
//! use wgraph::{autodiff, ops, DType, Graph};
//! let g = Graph::new("fit");
//! let x = g.input("x", DType::F32, [4, 3]);
//! let w = g.weight("w", DType::F32, [3, 2]);
//! let loss = ops::mean(&ops::sum(&ops::matmul(&x, &w), -1, false), 0, false);
//! let grads = autodiff::backward(&loss, &[w.clone()]).unwrap();
//! assert_eq!(grads.get(0).name().as_deref(), Some("grad/w"));
//! ```
//!
//! - Each op's vector-Jacobian product is one arm of one exhaustive `match`
//!   (`rules.rs`); broadcasting is undone by one helper (`unbroadcast.rs`).
//!   Kinks and ties follow PyTorch (see `rules.rs`).
//! - Backward nodes are named `grad/<name>` after the forward value they are
//!   the gradient of (module paths, input and weight names), and carry the
//!   forward node's source location.
//! - A parameter the loss does not depend on (or depends on only through
//!   non-differentiable ops such as `argmax`) gets zeros and is reported by
//!   [`Gradients::unreachable`].
//! - Losses that are compositions of existing ops live in [`loss`].

mod attention;
mod conv;
mod elementwise;
mod error;
pub mod loss;
mod movement;
mod row;
mod rules;
mod sweep;
mod unbroadcast;
mod vjp;

pub use error::AutodiffError;
pub use loss::{cross_entropy, mse_loss};
pub use unbroadcast::unbroadcast;

use crate::graph::{Dim, Graph, Ir, NodeId, Op, Value};
use sweep::describe;

/// The gradients of one loss: one per parameter, in the order asked, each
/// with its parameter's shape and dtype.
#[derive(Debug, Clone)]
pub struct Gradients {
    loss: Value,
    params: Vec<Value>,
    grads: Vec<Value>,
    reached: Vec<bool>,
}

impl Gradients {
    /// The loss the gradients are of.
    pub fn loss(&self) -> &Value {
        &self.loss
    }

    /// The graph holding the forward and backward ops.
    pub fn graph(&self) -> &Graph {
        self.loss.graph()
    }

    /// The number of parameters (and gradients).
    pub fn len(&self) -> usize {
        self.grads.len()
    }

    /// Whether no parameters were asked for.
    pub fn is_empty(&self) -> bool {
        self.grads.is_empty()
    }

    /// The gradient of the `i`-th parameter.
    pub fn get(&self, i: usize) -> &Value {
        &self.grads[i]
    }

    /// The gradient of `param`, when it was one of the parameters.
    pub fn of(&self, param: &Value) -> Option<&Value> {
        let id = param.node_id()?;
        self.params.iter().position(|p| p.node_id() == Some(id)).map(|i| &self.grads[i])
    }

    /// `(parameter, gradient)` pairs in order.
    pub fn iter(&self) -> impl Iterator<Item = (&Value, &Value)> {
        self.params.iter().zip(&self.grads)
    }

    /// The parameters, in order.
    pub fn params(&self) -> &[Value] {
        &self.params
    }

    /// The gradients, in the parameters' order.
    pub fn values(&self) -> &[Value] {
        &self.grads
    }

    /// The gradients, in the parameters' order, dropping the rest.
    pub fn into_values(self) -> Vec<Value> {
        self.grads
    }

    /// Whether the loss depends differentiably on the `i`-th parameter.
    pub fn reaches(&self, i: usize) -> bool {
        self.reached[i]
    }

    /// Parameters the loss does not depend on (through differentiable ops):
    /// their gradients are zeros. The training doctor reports each one
    /// ("parameter `X` does not reach the loss").
    pub fn unreachable(&self) -> Vec<&Value> {
        self.params.iter().zip(&self.reached).filter(|(_, r)| !**r).map(|(p, _)| p).collect()
    }

    /// How each unreachable parameter is called: its weight or input name,
    /// module path, or `%node`.
    pub fn unreachable_names(&self) -> Vec<String> {
        self.unreachable().into_iter().map(param_name).collect()
    }

    /// `("loss", loss)` then `("grad/<param>", gradient)` for each parameter,
    /// ready for [`Graph::output_named`].
    pub fn named_outputs(&self) -> Vec<(String, Value)> {
        let mut out = vec![("loss".to_string(), self.loss.clone())];
        for (p, g) in self.iter() {
            out.push((format!("grad/{}", param_name(p)), g.clone()));
        }
        out
    }
}

/// A parameter's weight or input name, its module path, or `%node`.
fn param_name(v: &Value) -> String {
    let Some(id) = v.node_id() else { return "<poisoned>".into() };
    let ir = v.graph().ir_unchecked();
    let node = ir.node(id);
    if let Op::Input { name, .. } | Op::Weight { name, .. } = &node.op {
        return name.clone();
    }
    node.name.clone().unwrap_or_else(|| format!("%{}", id.index()))
}

/// Appends the backward ops computing the gradient of `loss` with respect
/// to each of `wrt` to the loss's graph. The loss must be a float scalar
/// (shape `[]` or every dim 1) and every parameter a float value of the same
/// graph; parameters the loss does not reach get zeros (see
/// [`Gradients::unreachable`]).
///
/// ```
/// use wgraph::{autodiff, ops, DType, Graph, Interpreter, Tensor, Weights};
/// let g = Graph::new("dot");
/// let x = g.input("x", DType::F32, [3usize]);
/// let w = g.weight("w", DType::F32, [3usize]);
/// let loss = ops::sum(&(&x * &w), 0, false); // d loss / d w = x
/// let grads = autodiff::backward(&loss, &[w.clone()])?;
/// g.output_named(grads.named_outputs())?; // "loss", "grad/w"
///
/// let weights = Weights::from_tensors([("w", Tensor::new([3], vec![1.0f32, 1.0, 1.0])?)]);
/// let x = Tensor::new([3], vec![2.0f32, -1.0, 0.5])?;
/// let out = Interpreter::new().run(&g, &weights, [("x", x)])?;
/// assert_eq!(out.get("loss").unwrap().to_f32_vec(), [1.5]);
/// assert_eq!(out.get("grad/w").unwrap().to_f32_vec(), [2.0, -1.0, 0.5]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn backward(loss: &Value, wrt: &[Value]) -> Result<Gradients, AutodiffError> {
    let graph = loss.graph().clone();
    graph.errors_as_result()?;
    let loss_id = loss.clone().checked()?.node_id().expect("a checked value has a node");
    let mut ids = Vec::with_capacity(wrt.len());
    {
        let ir = graph.ir_unchecked();
        let node = ir.node(loss_id);
        let (value, op, location) = (describe(node, loss_id), node.op.name(), node.location);
        if !node.ty.dtype.is_float() {
            return Err(AutodiffError::LossNotFloat { value, op, location, dtype: node.ty.dtype });
        }
        if node.ty.shape.iter().any(|d| *d != Dim::new(1)) {
            return Err(AutodiffError::LossNotScalar { value, op, location, ty: node.ty.to_string() });
        }
        for p in wrt {
            if !graph.same(p.graph()) {
                return Err(AutodiffError::ForeignValue {
                    value: format!("parameter {p:?}"),
                    graph: graph.name(),
                    other: p.graph().name(),
                });
            }
            let id = p.clone().checked()?.node_id().expect("a checked value has a node");
            let node = ir.node(id);
            if !node.ty.dtype.is_float() {
                return Err(AutodiffError::NotFloat {
                    value: describe(node, id),
                    op: node.op.name(),
                    location: node.location,
                    dtype: node.ty.dtype,
                });
            }
            ids.push(id);
        }
    }
    let results = sweep::sweep(&graph, loss_id, &ids)?;
    let (grads, reached) = results.into_iter().unzip();
    Ok(Gradients { loss: loss.clone(), params: wrt.to_vec(), grads, reached })
}

/// [`backward`], returning just the gradients (one per `wrt`, same shape
/// and dtype). Use [`backward`] to learn which parameters the loss does not
/// reach.
pub fn gradients(loss: &Value, wrt: &[Value]) -> Result<Vec<Value>, AutodiffError> {
    backward(loss, wrt).map(Gradients::into_values)
}

/// The gradients with respect to every float weight of the loss's graph (the
/// default parameters), in declaration order. Integer weights (index
/// buffers) are not parameters.
pub fn parameter_gradients(loss: &Value) -> Result<Gradients, AutodiffError> {
    let graph = loss.graph();
    let weights: Vec<NodeId> = {
        let ir = graph.ir_unchecked();
        ir.weights().into_iter().filter(|&w| ir.node(w).ty.dtype.is_float()).collect()
    };
    let params: Vec<Value> = weights.into_iter().filter_map(|w| graph.value(w)).collect();
    backward(loss, &params)
}

/// The IR-level entry: differentiates an already-built IR (from a pass,
/// or read back) with respect to `wrt` (`ir.weights()` for the default
/// parameters). The returned [`Gradients::graph`] wraps the IR with the
/// backward ops appended; declare outputs on it (for instance
/// [`Gradients::named_outputs`]) and take its `ir()`.
pub fn backward_ir(ir: Ir, loss: NodeId, wrt: &[NodeId]) -> Result<Gradients, AutodiffError> {
    let graph = Graph::from_ir(ir);
    let missing = |id: NodeId| {
        AutodiffError::Graph(crate::graph::GraphError::Edit {
            detail: format!("node %{} is not in graph `{}`", id.index(), graph.name()),
        })
    };
    let loss = graph.value(loss).ok_or_else(|| missing(loss))?;
    let params: Vec<Value> =
        wrt.iter().map(|&id| graph.value(id).ok_or_else(|| missing(id))).collect::<Result<_, _>>()?;
    backward(&loss, &params)
}
