//! How long a kernel's loops run per invocation, for drivers that cut
//! long loops short.

use crate::graph::Dim;

/// Iterations of a kernel's loops per invocation: `size / step`, rounded
/// up, times `per_step` (the inner loops each step runs). llvmpipe ends an invocation's loops after 65,535
/// iterations in all (`LP_MAX_TGSI_LOOP_ITERATIONS`) and carries on with
/// whatever the registers hold, so the runtime refuses sizes past that
/// on it instead of returning a silently wrong result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoopBound {
    /// The size the loop runs over.
    pub size: Dim,
    /// Elements of `size` per step of the outer loop.
    pub step: u32,
    /// Loop iterations per step, the outer loop's own included.
    pub per_step: u32,
}

impl LoopBound {
    /// The iterations at `bindings` (0 when a size is unbound).
    pub fn iterations(&self, bindings: &crate::graph::Bindings) -> usize {
        self.size.eval(bindings).unwrap_or(0).div_ceil(self.step.max(1) as usize) * self.per_step as usize
    }
}
