//! The input of every vector-Jacobian rule.

use crate::graph::{Op, Value};

/// What a rule sees: the forward op, its operands and output, the
/// cotangent `g` of the output, and which operand gradients are wanted
/// (only operands on a path from a parameter to the loss).
pub(crate) struct Vjp<'a> {
    pub op: &'a Op,
    pub xs: &'a [Value],
    pub y: &'a Value,
    pub g: &'a Value,
    pub wants: &'a [bool],
}

impl Vjp<'_> {
    pub fn want(&self, slot: usize) -> bool {
        self.wants.get(slot).copied().unwrap_or(false)
    }

    /// `f()` when operand `slot` is wanted.
    pub fn only(&self, slot: usize, f: impl FnOnce() -> Value) -> Option<Value> {
        self.want(slot).then(f)
    }
}
