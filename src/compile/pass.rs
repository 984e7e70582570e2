//! The pass interface: each rewrite is a small type; a pipeline runs them in
//! order, verifies the IR after each one, and reports names and timings at
//! `WGRAPH_DEBUG=1` (and the IR at `3`).

use super::error::CompileError;
use crate::graph::{dump_text, Graph, Ir, NodeId, Value};
use crate::settings::{level, Settings};
use web_time::Instant;

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

/// Like [`timed`], for work that is awaited.
pub async fn timed_async<T>(settings: &Settings, name: &str, f: impl std::future::Future<Output = T>) -> T {
    let start = Instant::now();
    let out = f.await;
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

/// The shape of a rewrite that builds replacements with the graph builder:
/// rebuilds `ir` as a [`Graph`], calls `build` for each of `nodes` (at the
/// node's source location, so errors and dumps point at the user's line)
/// and points every use of a node at what `build` returned for it (`None`:
/// keep the node). A build error is the pass's error. Returns whether
/// anything was replaced.
pub fn replace_nodes(
    ir: &mut Ir,
    nodes: &[NodeId],
    build: impl Fn(&Graph, NodeId) -> Option<Value>,
) -> Result<bool, CompileError> {
    if nodes.is_empty() {
        return Ok(false);
    }
    let name = ir.name.clone();
    let graph = Graph::from_ir(std::mem::replace(ir, Ir::new(name)));
    let mut replaced = Vec::new();
    for &id in nodes {
        let location = graph.ir_unchecked().node(id).location;
        if let Some(new) = graph.with_location(location, || build(&graph, id)) {
            replaced.push((id, new.node_id()));
        }
    }
    if let Some(error) = graph.errors().into_iter().next() {
        return Err(error.into());
    }
    *ir = graph.ir_unchecked().clone();
    let mut changed = false;
    for (old, new) in replaced {
        if let Some(new) = new {
            ir.replace_uses(old, new);
            changed = true;
        }
    }
    Ok(changed)
}
