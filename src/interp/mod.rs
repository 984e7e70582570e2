//! The CPU reference interpreter: runs any graph with plain loops, f64
//! accumulation and exact integer arithmetic. It is the oracle every GPU
//! kernel is tested against, so it favours obvious correctness over speed.

mod attention;
mod elementwise;
mod error;
pub(crate) mod exec;
mod layout;
mod linalg;
mod movement;
mod rows;
mod scatter;

pub use error::{InterpError, NodeFault};
pub use exec::{eval as eval_node, NodeCall};

use crate::graph::{bind_inputs, Graph, Ir, NamedTensors, NodeId, Op, Tensor};
use crate::weights::{check_ir, Weights};
use std::collections::HashMap;

/// Every node's value from one run, in execution order.
#[derive(Debug, Clone)]
pub struct Trace {
    /// The graph's outputs, in declaration order.
    pub outputs: NamedTensors,
    /// `(node, value)` for every node, in execution order.
    pub values: Vec<(NodeId, Tensor)>,
}

/// Runs graphs on the CPU.
#[derive(Debug, Clone, Default)]
pub struct Interpreter {}

impl Interpreter {
    /// An interpreter; it holds no state, so one serves any number of graphs.
    pub fn new() -> Interpreter {
        Interpreter {}
    }

    /// Runs `graph` with weights from `weights` on `inputs` (named as the
    /// graph's inputs), returning the outputs in declaration order. Weights
    /// are checked before anything executes.
    ///
    /// ```
    /// use wgraph::{ops, DType, Graph, Interpreter, Tensor, Weights};
    /// let g = Graph::new("mean_pool");
    /// let x = g.input("x", DType::F32, ["batch", "seq"]);
    /// let w = g.weight("scale", DType::F32, [1usize]);
    /// g.output_named([("pooled", ops::mean(&(&x * &w), -1, false))])?;
    ///
    /// let weights = Weights::from_tensors([("scale", Tensor::new([1], vec![10.0f32])?)]);
    /// let x = Tensor::new([2, 3], vec![1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0])?; // batch = 2, seq = 3
    /// let out = Interpreter::new().run(&g, &weights, [("x", x)])?;
    /// assert_eq!(out.get("pooled").unwrap().shape(), [2]);
    /// assert_eq!(out.get("pooled").unwrap().to_f32_vec(), [20.0, 50.0]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn run<S: Into<String>>(
        &self,
        graph: &Graph,
        weights: &Weights,
        inputs: impl IntoIterator<Item = (S, Tensor)>,
    ) -> Result<NamedTensors, InterpError> {
        let ir = graph.ir()?;
        Ok(self.execute(&ir, weights, collect(inputs), false)?.outputs)
    }

    /// Like [`Interpreter::run`], also keeping every intermediate value.
    pub fn run_traced<S: Into<String>>(
        &self,
        graph: &Graph,
        weights: &Weights,
        inputs: impl IntoIterator<Item = (S, Tensor)>,
    ) -> Result<Trace, InterpError> {
        let ir = graph.ir()?;
        self.execute(&ir, weights, collect(inputs), true)
    }

    /// Runs a plain IR (what passes produce), optionally keeping every value.
    pub fn execute(
        &self,
        ir: &Ir,
        weights: &Weights,
        inputs: Vec<(String, Tensor)>,
        keep_all: bool,
    ) -> Result<Trace, InterpError> {
        ir.verify()?;
        let checked = check_ir(ir, weights)?;
        let mut bound = bind_inputs(ir, inputs)?;
        // Symbols only the weights bind (a symbolic `vocab`).
        for (s, v) in checked.bindings {
            bound.bindings.entry(s).or_insert(v);
        }
        let order = ir.topo_order()?;

        // Values are dropped after their last reader unless kept.
        let mut remaining: HashMap<NodeId, usize> = order.iter().map(|&n| (n, ir.users(n).len())).collect();
        for (_, id) in &ir.outputs {
            *remaining.entry(*id).or_default() += 1;
        }
        let mut values: HashMap<NodeId, Tensor> = HashMap::new();
        let mut trace = Vec::new();
        for &id in &order {
            let node = ir.node(id);
            let fail = |fault: NodeFault| InterpError::Node {
                node: id.index(),
                op: node.op.name(),
                location: node.location,
                fault,
            };
            let out_shape: Vec<usize> = node
                .ty
                .shape
                .iter()
                .map(|d| d.eval(&bound.bindings).ok_or_else(|| fail(NodeFault::UnboundDim { dim: d.to_string() })))
                .collect::<Result<_, _>>()?;
            let value = if let Op::Input { .. } = &node.op {
                bound.tensors.get(&id).cloned().ok_or_else(|| fail(NodeFault::InputNotBound))?
            } else if let Op::Weight { name, dtype, .. } = &node.op {
                weights.get(name, *dtype)?
            } else {
                let operand_ids = ir.operands(id);
                let operands: Vec<&Tensor> = operand_ids.iter().filter_map(|o| values.get(o)).collect();
                if operands.len() != operand_ids.len() {
                    return Err(fail(NodeFault::OperandMissing));
                }
                let call =
                    exec::NodeCall { op: &node.op, operands, out_shape: out_shape.clone(), bindings: &bound.bindings };
                let v = exec::eval(call).map_err(fail)?;
                // `users` counts each reader once, so each distinct operand is released once.
                let mut distinct = operand_ids;
                distinct.sort_unstable();
                distinct.dedup();
                for o in distinct {
                    let r = remaining.entry(o).or_default();
                    *r = r.saturating_sub(1);
                    if *r == 0 && !keep_all {
                        values.remove(&o);
                    }
                }
                v
            };
            if value.shape() != out_shape.as_slice() || value.dtype() != node.ty.dtype {
                return Err(fail(NodeFault::WrongResult {
                    got: format!("{}{:?}", value.dtype(), value.shape()),
                    expected: format!("{} (shape {out_shape:?})", node.ty),
                }));
            }
            if keep_all {
                trace.push((id, value.clone()));
            }
            values.insert(id, value);
        }
        // Outputs hold an extra use, so they are never dropped above.
        let mut outputs = Vec::with_capacity(ir.outputs.len());
        for (name, id) in &ir.outputs {
            let v = values.get(id).cloned().ok_or_else(|| InterpError::Node {
                node: id.index(),
                op: "output",
                location: ir.node(*id).location,
                fault: NodeFault::OutputMissing { output: name.clone() },
            })?;
            outputs.push((name.clone(), v));
        }
        Ok(Trace { outputs: NamedTensors(outputs), values: trace })
    }
}

fn collect<S: Into<String>>(inputs: impl IntoIterator<Item = (S, Tensor)>) -> Vec<(String, Tensor)> {
    inputs.into_iter().map(|(n, t)| (n.into(), t)).collect()
}
