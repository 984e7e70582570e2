//! The op-by-op check: the compiled GPU graph and the CPU interpreter run
//! the same optimised IR side by side, every node kept, and the first node
//! whose GPU value differs is named. It tells "my model is wrong" (compare
//! against PyTorch) from "the compiler is wrong" (this check).

use super::diagnosis::Tolerance;
use crate::compile::CompileOptions;
use crate::graph::{Graph, Tensor};
use crate::interp::{InterpError, Interpreter};
use crate::runtime::{Device, LoadError, Loader, RuntimeError};
use crate::weights::Weights;
use std::fmt;

/// Why a check (or the non-finite finder) could not run: the step that failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CheckError {
    /// Compiling the graph for the device failed.
    #[error(transparent)]
    Load(#[from] LoadError),
    /// Running it on the GPU failed.
    #[error(transparent)]
    Runtime(#[from] RuntimeError),
    /// Running it on the interpreter failed.
    #[error(transparent)]
    Interpreter(#[from] InterpError),
}

/// One node whose GPU value is outside the tolerance.
#[derive(Debug, Clone)]
pub struct NodeMismatch {
    /// The node's index in the optimised IR.
    pub node: usize,
    /// Its op's name.
    pub op: &'static str,
    /// The model line that built it.
    pub location: String,
    /// Its HF module path, if it has one.
    pub name: Option<String>,
    /// The largest `|gpu - interpreter|` among elements outside the tolerance.
    pub max_abs: f64,
    /// The row-major index of that element.
    pub worst_index: usize,
    /// The GPU's value there.
    pub gpu: f64,
    /// The interpreter's value there.
    pub interpreter: f64,
}

/// The result of a check.
#[derive(Debug, Clone)]
pub struct CheckReport {
    /// Nodes compared, up to and including the first mismatch.
    pub nodes_compared: usize,
    /// Kernels in the unfused program that was run.
    pub kernels: usize,
    /// The first node in execution order whose GPU value differs, if any.
    pub first_mismatch: Option<NodeMismatch>,
}

impl fmt::Display for CheckReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.first_mismatch {
            None => write!(f, "GPU and interpreter agree on all {} nodes ({} kernels)", self.nodes_compared, self.kernels),
            Some(m) => write!(
                f,
                "first op whose GPU result differs: %{} {}{} built at {}\n  max |gpu - interpreter| = {:.3e} at element {} (gpu {}, interpreter {})\n  this is a wgraph kernel bug; please report it with this output",
                m.node,
                m.op,
                m.name.as_ref().map(|n| format!(" ({n})")).unwrap_or_default(),
                m.location,
                m.max_abs,
                m.worst_index,
                m.gpu,
                m.interpreter
            ),
        }
    }
}

/// The worst element of `gpu` outside `tol` of `cpu`: (difference, index,
/// gpu value, cpu value); `None` when all are within.
pub(crate) fn worst(gpu: &Tensor, cpu: &Tensor, tol: Tolerance) -> Option<(f64, usize, f64, f64)> {
    let (a, b) = (gpu.to_f64_vec(), cpu.to_f64_vec());
    if a.len() != b.len() {
        return Some((f64::INFINITY, 0, f64::NAN, f64::NAN));
    }
    let mut bad = None;
    let mut max = 0.0;
    for (i, (x, y)) in a.iter().zip(&b).enumerate() {
        let d = (x - y).abs();
        let within = d <= tol.atol + tol.rtol * y.abs();
        if !within && (bad.is_none() || d > max || d.is_nan()) {
            max = d;
            bad = Some((d, i, *x, *y));
        }
    }
    bad
}

/// Runs `graph` on the GPU with every node kept and on the interpreter,
/// over the same optimised IR, and reports the first node that differs.
#[cfg(not(target_arch = "wasm32"))]
pub fn check_against_interpreter(
    device: &Device,
    graph: &Graph,
    weights: &Weights,
    inputs: Vec<(String, Tensor)>,
    tol: Tolerance,
) -> Result<CheckReport, CheckError> {
    pollster::block_on(check_against_interpreter_async(device, graph, weights, inputs, tol))
}

/// Like [`check_against_interpreter`], awaiting the device: the check a
/// browser page runs on its user's GPU.
pub async fn check_against_interpreter_async(
    device: &Device,
    graph: &Graph,
    weights: &Weights,
    inputs: Vec<(String, Tensor)>,
    tol: Tolerance,
) -> Result<CheckReport, CheckError> {
    let options = CompileOptions { tap_every_node: true, settings: device.settings().clone(), ..Default::default() };
    let model = Loader::new(device).with_options(options).load_async(graph, weights).await?;
    let (_, taps) = model.run_with_taps_async(inputs.clone()).await?;
    let ir = &model.program().ir;
    let trace = Interpreter::new().execute(ir, weights, inputs, true)?;
    let cpu_values: std::collections::HashMap<_, _> = trace.values.iter().map(|(n, t)| (*n, t)).collect();
    let mut compared = 0;
    for ((_, gpu), (_, id)) in taps.iter().zip(&model.program().taps) {
        let id = *id;
        let Some(cpu) = cpu_values.get(&id) else { continue };
        compared += 1;
        if let Some((max_abs, worst_index, g, c)) = worst(gpu, cpu, tol) {
            let node = ir.node(id);
            let mismatch = NodeMismatch {
                node: id.index(),
                op: node.op.name(),
                location: node.location.to_string(),
                name: node.name.clone(),
                max_abs,
                worst_index,
                gpu: g,
                interpreter: c,
            };
            return Ok(CheckReport {
                nodes_compared: compared,
                kernels: model.program().kernels.len(),
                first_mismatch: Some(mismatch),
            });
        }
    }
    Ok(CheckReport { nodes_compared: compared, kernels: model.program().kernels.len(), first_mismatch: None })
}
