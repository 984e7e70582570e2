//! Host-side checks of token ids before upload: GPUs clamp an
//! out-of-range gather index silently, so a bad id would give a wrong
//! embedding instead of an error.

use super::error::RuntimeError;
use crate::compile::Program;
use crate::graph::{NodeId, Op, Tensor};
use std::collections::HashMap;

/// One embedding lookup (or its scatter-add gradient) whose indices are a
/// graph input, and the table they index.
#[derive(Debug, Clone)]
pub(super) struct IndexCheck {
    input: NodeId,
    input_name: String,
    table: String,
    rows: usize,
    node: NodeId,
}

/// The checks `program` needs: one per gather (or scatter-add) whose
/// indices are a graph input.
pub(super) fn index_checks(program: &Program) -> Vec<IndexCheck> {
    program
        .ir
        .graph
        .node_indices()
        .filter_map(|g| {
            // The indexed table: a gather's data, or a scatter-add's own output.
            let ops = program.ir.operands(g);
            let op = &program.ir.node(g).op;
            let (table, rows) = if let Op::Gather { axis } = op {
                (ops[0], program.ir.node(ops[0]).ty.shape[*axis].as_static()?)
            } else if let Op::ScatterAdd { size, .. } = op {
                (g, size.as_static()?)
            } else {
                return None;
            };
            let idx = ops[1];
            let Op::Input { name, .. } = &program.ir.node(idx).op else { return None };
            let table_name = if let Op::Weight { name, .. } = &program.ir.node(table).op {
                name.clone()
            } else {
                format!("%{}", table.index())
            };
            Some(IndexCheck { input: idx, input_name: name.clone(), table: table_name, rows, node: g })
        })
        .collect()
}

/// Refuses the first index out of range in the bound input `tensors`.
pub(super) fn check_indices(checks: &[IndexCheck], tensors: &HashMap<NodeId, Tensor>) -> Result<(), RuntimeError> {
    for check in checks {
        if let Some(t) = tensors.get(&check.input) {
            if let Some(&bad) = t.to_i64_vec().iter().find(|&&v| v < 0 || v as u64 >= check.rows as u64) {
                return Err(RuntimeError::IndexRange {
                    name: check.input_name.clone(),
                    value: bad,
                    table: check.table.clone(),
                    size: check.rows,
                    node: check.node.index(),
                });
            }
        }
    }
    Ok(())
}
