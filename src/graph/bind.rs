//! Binding concrete inputs to a graph's declared inputs: names, dtypes,
//! ranks and sizes checked, symbolic dims solved. Shared by the interpreter
//! and the GPU runtime so both reject bad inputs with the same errors.

use super::dim::{Bindings, Dim};
use super::error::BindError;
use super::ir::{Ir, NodeId};
use super::op::Op;
use super::tensor::Tensor;
use std::collections::HashMap;

/// Inputs matched to their nodes, converted to the declared dtypes, plus
/// the size of every symbol.
#[derive(Debug, Clone)]
pub struct BoundInputs {
    /// The size of every symbol the inputs' shapes determine.
    pub bindings: Bindings,
    /// Each input node's tensor, already in the declared dtype.
    pub tensors: HashMap<NodeId, Tensor>,
}

/// Matches `inputs` to the graph's input nodes. Integer inputs of any width
/// convert to the declared integer dtype, float inputs to the declared float
/// dtype; other dtype differences are errors.
pub fn bind_inputs(ir: &Ir, inputs: Vec<(String, Tensor)>) -> Result<BoundInputs, BindError> {
    let declared: Vec<(NodeId, &String, super::DType, &Vec<Dim>)> = ir
        .inputs()
        .into_iter()
        .filter_map(|id| match &ir.node(id).op {
            Op::Input { name, dtype, shape } => Some((id, name, *dtype, shape)),
            _ => None,
        })
        .collect();
    let takes = || -> Vec<String> {
        declared.iter().map(|(_, n, d, s)| format!("{n}: {d}{}", super::dim::ShapeDisplay(s))).collect()
    };
    let mut given: HashMap<String, Tensor> = HashMap::new();
    for (name, t) in inputs {
        if !declared.iter().any(|(_, n, _, _)| **n == name) {
            return Err(BindError::Unknown { name, takes: takes() });
        }
        given.insert(name, t);
    }

    let mut bindings = Bindings::new();
    let mut bound_by: HashMap<String, (String, usize)> = HashMap::new();
    let mut tensors = HashMap::new();
    let mut compound = Vec::new();
    for (id, name, dtype, shape) in &declared {
        let Some(t) = given.remove(*name) else {
            return Err(BindError::Missing {
                name: (*name).clone(),
                expected: format!("{dtype}{}", super::dim::ShapeDisplay(shape)),
                takes: takes(),
            });
        };
        let same_class =
            t.dtype() == *dtype || (t.dtype().is_int() && dtype.is_int()) || (t.dtype().is_float() && dtype.is_float());
        if !same_class {
            return Err(BindError::DType { name: (*name).clone(), expected: *dtype, got: t.dtype() });
        }
        if t.shape().len() != shape.len() {
            return Err(BindError::Rank {
                name: (*name).clone(),
                expected: shape.len(),
                got: t.shape().len(),
                got_shape: t.shape().to_vec(),
                declared: (*shape).clone(),
            });
        }
        for (axis, (d, &size)) in shape.iter().zip(t.shape()).enumerate() {
            if let Some(s) = d.as_static() {
                if s != size {
                    return Err(BindError::Size {
                        name: (*name).clone(),
                        axis,
                        expected: s,
                        got: size,
                        got_shape: t.shape().to_vec(),
                    });
                }
            } else if let Some(sym) = d.as_symbol() {
                if let Some(&prev) = bindings.get(sym) {
                    if prev != size {
                        return Err(BindError::Conflict {
                            symbol: sym.to_string(),
                            first: prev,
                            first_input: bound_by[sym.as_ref()].0.clone(),
                            second: size,
                            second_input: (*name).clone(),
                            axis,
                        });
                    }
                } else {
                    bindings.insert(sym.clone(), size);
                    bound_by.insert(sym.to_string(), ((*name).clone(), axis));
                }
            } else {
                compound.push(((*name).clone(), axis, d.clone(), size, t.shape().to_vec()));
            }
        }
        tensors.insert(*id, t.cast(*dtype));
    }
    for limit in &ir.limits {
        let value = bindings.iter().find(|(s, _)| AsRef::<str>::as_ref(*s) == limit.symbol).map(|(_, &v)| v);
        let Some((value, (input, axis))) = value.zip(bound_by.get(&limit.symbol)) else {
            continue;
        };
        if value < limit.min || value > limit.max {
            return Err(BindError::OutOfRange {
                symbol: limit.symbol.clone(),
                value,
                input: input.clone(),
                axis: *axis,
                min: limit.min,
                max: limit.max,
                why: limit.why.clone(),
            });
        }
    }
    // Compound dims (`past + seq`) are checked once every plain symbol is known.
    for (name, axis, d, size, got_shape) in compound {
        match d.eval(&bindings) {
            None => return Err(BindError::Unsolvable { name, axis, dim: d }),
            Some(v) if v != size => {
                return Err(BindError::Size { name, axis, expected: v, got: size, got_shape });
            }
            Some(_) => {}
        }
    }
    Ok(BoundInputs { bindings, tensors })
}
