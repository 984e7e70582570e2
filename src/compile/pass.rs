//! The pass interface: each rewrite is a small type; a pipeline runs them in
//! order, verifies the IR after each one, and reports names and timings at
//! `WGRAPH_DEBUG=1` (and the IR at `3`).

use super::error::CompileError;
use crate::graph::{dump_text, Ir};
use crate::settings::{level, Settings};
use std::time::Instant;

/// One IR-to-IR rewrite.
pub trait Pass {
    /// A short kebab-case name for debug output and errors (`dead-code`).
    fn name(&self) -> &'static str;
    /// Rewrites `ir` in place; returns whether anything changed.
    fn run(&self, ir: &mut Ir) -> Result<bool, CompileError>;
}

/// Runs `f`, printing its name and time at debug level 1.
pub fn timed<T>(settings: &Settings, name: &str, f: impl FnOnce() -> T) -> T {
    let start = Instant::now();
    let out = f();
    if settings.shows(level::PASSES) {
        eprintln!("wgraph: {name:<24} {:>9.3} ms", start.elapsed().as_secs_f64() * 1e3);
    }
    out
}

/// Runs the passes in order, verifying after each.
pub fn run_passes(ir: &mut Ir, passes: &[&dyn Pass], settings: &Settings) -> Result<(), CompileError> {
    for pass in passes {
        let changed = timed(settings, pass.name(), || pass.run(ir))?;
        ir.verify().map_err(|source| CompileError::PassBrokeIr { pass: pass.name(), source })?;
        if settings.shows(level::IR) {
            eprintln!("wgraph: IR after {} (changed: {changed}):\n{}", pass.name(), dump_text(ir));
        }
    }
    Ok(())
}
