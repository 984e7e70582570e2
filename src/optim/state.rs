//! What every optimizer shares: the checked parameter list, optimizer state
//! declared as graph weights, and per-step scalars declared as graph inputs.

use super::error::OptimError;
use crate::graph::{ops, DType, Graph, Op, TensorType, Value};

/// Which optimizer state a tensor holds, named as in PyTorch's
/// `optimizer.state[param]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StateSlot {
    /// Adam's first moment, `exp_avg`.
    ExpAvg,
    /// Adam's second moment, `exp_avg_sq`.
    ExpAvgSq,
    /// SGD's `momentum_buffer`.
    MomentumBuffer,
}

impl StateSlot {
    /// PyTorch's key: `exp_avg`, `exp_avg_sq`, `momentum_buffer`.
    pub fn name(self) -> &'static str {
        match self {
            StateSlot::ExpAvg => "exp_avg",
            StateSlot::ExpAvgSq => "exp_avg_sq",
            StateSlot::MomentumBuffer => "momentum_buffer",
        }
    }

    /// The weight name of this state of parameter `param`:
    /// `optimizer.<param>.<slot>`.
    pub fn weight_name(self, param: &str) -> String {
        format!("optimizer.{param}.{}", self.name())
    }
}

/// One optimizer-state tensor of one parameter: a graph weight (exactly the
/// parameter's shape and dtype) and the value it takes after the update.
#[derive(Debug, Clone)]
pub struct StateUpdate {
    /// Which state this is.
    pub slot: StateSlot,
    /// Its weight name, `optimizer.<param>.<slot>`.
    pub name: String,
    /// The weight holding the state before the step.
    pub value: Value,
    /// The state after the step; feed it back under [`StateUpdate::name`].
    pub new_value: Value,
}

/// A parameter checked to be a float weight, with its gradient.
pub(crate) struct Param {
    pub name: String,
    pub value: Value,
    pub grad: Value,
    pub ty: TensorType,
}

impl Param {
    /// Declares the state `slot` of this parameter as a weight of its shape and dtype.
    pub fn state(&self, slot: StateSlot) -> Value {
        self.value.graph().weight(slot.weight_name(&self.name), self.ty.dtype, self.ty.shape.clone())
    }
}

/// A value's weight or input name, or `%node`.
pub(crate) fn describe(v: &Value) -> String {
    let Some(id) = v.node_id() else { return "<poisoned>".into() };
    let ir = v.graph().ir_unchecked();
    let node = ir.node(id);
    if let Op::Input { name, .. } | Op::Weight { name, .. } = &node.op {
        return format!("`{name}`");
    }
    match &node.name {
        Some(name) => format!("%{} `{name}`", id.index()),
        None => format!("%{}", id.index()),
    }
}

/// Checks that `params` are distinct float weights of one graph with
/// gradients of their exact type, and pairs them up.
pub(crate) fn check_params(params: &[Value], grads: &[Value]) -> Result<(Graph, Vec<Param>), OptimError> {
    let first = params.first().ok_or(OptimError::NoParameters)?;
    if params.len() != grads.len() {
        return Err(OptimError::LengthMismatch { params: params.len(), grads: grads.len() });
    }
    let graph = first.graph().clone();
    graph.errors_as_result()?;
    let mut out: Vec<Param> = Vec::with_capacity(params.len());
    for (index, (p, g)) in params.iter().zip(grads).enumerate() {
        for v in [p, g] {
            if !graph.same(v.graph()) {
                return Err(OptimError::ForeignValue {
                    value: describe(v),
                    graph: graph.name(),
                    other: v.graph().name(),
                });
            }
        }
        let (p, g) = (p.clone().checked()?, g.clone().checked()?);
        let id = p.node_id().expect("a checked value has a node");
        let (op, name) = {
            let ir = graph.ir_unchecked();
            match &ir.node(id).op {
                Op::Weight { name, .. } => (None, name.clone()),
                other => (Some(other.name()), String::new()),
            }
        };
        if let Some(op) = op {
            return Err(OptimError::NotAWeight { index, value: describe(&p), op });
        }
        let ty = p.ty().expect("a checked value has a type");
        if !ty.dtype.is_float() {
            return Err(OptimError::NotFloat { name, dtype: ty.dtype });
        }
        let grad_ty = g.ty().expect("a checked value has a type");
        if grad_ty != ty {
            return Err(OptimError::GradientType { name, expected: ty.to_string(), got: grad_ty.to_string() });
        }
        if out.iter().any(|q| q.name == name) {
            return Err(OptimError::DuplicateParameter { name });
        }
        out.push(Param { name, value: p, grad: g, ty });
    }
    Ok((graph, out))
}

/// The per-step scalar inputs the update reads, declared on first use as
/// rank-0 inputs of one dtype (the first parameter's) and cast for
/// parameters of another dtype.
pub(crate) struct ScalarInputs {
    graph: Graph,
    dtype: DType,
    declared: Vec<(String, Value)>,
}

impl ScalarInputs {
    pub fn new(graph: &Graph, dtype: DType) -> ScalarInputs {
        ScalarInputs { graph: graph.clone(), dtype, declared: Vec::new() }
    }

    /// The input `name` (declared once), in the dtype of `like`.
    pub fn get(&mut self, name: &str, like: &Value) -> Value {
        let v = match self.declared.iter().find(|(n, _)| n == name) {
            Some((_, v)) => v.clone(),
            None => {
                let v = self.graph.input(name, self.dtype, Vec::<usize>::new());
                self.declared.push((name.to_string(), v.clone()));
                v
            }
        };
        if like.dtype() == self.dtype {
            v
        } else {
            ops::cast(&v, like.dtype())
        }
    }

    /// The declared inputs, in order of first use.
    pub fn into_declared(self) -> Vec<(String, Value)> {
        self.declared
    }
}
