//! The pass interface: each rewrite is a small type; a pipeline runs them in
//! order, verifies the IR after each one, and reports names and timings at
//! `WGRAPH_DEBUG=1` (and the IR at `3`).

use super::error::CompileError;
use crate::graph::{dump_text, Ir};
use std::time::Instant;

/// One IR-to-IR rewrite.
pub trait Pass {
    fn name(&self) -> &'static str;
    /// Rewrites `ir` in place; returns whether anything changed.
    fn run(&self, ir: &mut Ir) -> Result<bool, CompileError>;
}

/// Runs `f`, printing its name and time at debug level 1.
pub fn timed<T>(name: &str, f: impl FnOnce() -> T) -> T {
    let start = Instant::now();
    let out = f();
    if crate::debug_level() >= 1 {
        eprintln!("wgraph: {name:<24} {:>9.3} ms", start.elapsed().as_secs_f64() * 1e3);
    }
    out
}

/// Runs the passes in order, verifying after each.
pub fn run_passes(ir: &mut Ir, passes: &[&dyn Pass]) -> Result<(), CompileError> {
    for pass in passes {
        let changed = timed(pass.name(), || pass.run(ir))?;
        ir.verify().map_err(|source| CompileError::PassBrokeIr { pass: pass.name(), source })?;
        if crate::debug_level() >= 3 {
            eprintln!("wgraph: IR after {} (changed: {changed}):\n{}", pass.name(), dump_text(ir));
        }
    }
    Ok(())
}
