//! The non-finite finder: runs the compiled graph with every node kept and
//! reports the first op whose output holds NaN or Inf, with statistics of
//! its inputs, so "the loss is NaN" becomes "this exp overflowed on inputs
//! up to 120".

use super::check::CheckError;
use crate::compile::CompileOptions;
use crate::graph::{Graph, NodeId, Op, Tensor};
use crate::runtime::Device;
use crate::runtime::Loader;
use crate::weights::Weights;
use std::collections::HashMap;
use std::fmt;

/// Summary statistics of a tensor, NaN and Inf counted apart.
#[derive(Debug, Clone, PartialEq)]
pub struct Stats {
    /// The smallest finite value (+inf when there is none).
    pub min: f64,
    /// The largest finite value (-inf when there is none).
    pub max: f64,
    /// The mean of the finite values.
    pub mean: f64,
    /// How many elements are NaN.
    pub nan: usize,
    /// How many elements are +inf or -inf.
    pub inf: usize,
    /// How many elements there are.
    pub count: usize,
}

impl Stats {
    /// The statistics of `t`, read as f64.
    pub fn of(t: &Tensor) -> Stats {
        let v = t.to_f64_vec();
        let finite: Vec<f64> = v.iter().copied().filter(|x| x.is_finite()).collect();
        let n = finite.len().max(1) as f64;
        Stats {
            min: finite.iter().copied().fold(f64::INFINITY, f64::min),
            max: finite.iter().copied().fold(f64::NEG_INFINITY, f64::max),
            mean: finite.iter().sum::<f64>() / n,
            nan: v.iter().filter(|x| x.is_nan()).count(),
            inf: v.iter().filter(|x| x.is_infinite()).count(),
            count: v.len(),
        }
    }
}

impl fmt::Display for Stats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "min {:.4e} max {:.4e} mean {:.4e}", self.min, self.max, self.mean)?;
        if self.nan > 0 || self.inf > 0 {
            write!(f, ", {} NaN and {} Inf of {}", self.nan, self.inf, self.count)?;
        }
        Ok(())
    }
}

/// The first node that produced a non-finite value.
#[derive(Debug, Clone)]
pub struct NonFinite {
    /// The node's index in the optimised IR.
    pub node: usize,
    /// Its op's name.
    pub op: &'static str,
    /// The model line that built it.
    pub location: String,
    /// Its HF module path, if it has one.
    pub name: Option<String>,
    /// Statistics of its output.
    pub output: Stats,
    /// Each operand: a description and its statistics.
    pub inputs: Vec<(String, Stats)>,
}

impl fmt::Display for NonFinite {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "first non-finite value: %{} {}{} built at {}",
            self.node,
            self.op,
            self.name.as_ref().map(|n| format!(" ({n})")).unwrap_or_default(),
            self.location
        )?;
        writeln!(f, "  output: {}", self.output)?;
        for (what, s) in &self.inputs {
            writeln!(f, "  input {what}: {s}")?;
        }
        Ok(())
    }
}

/// Runs `graph` with every node kept; `None` when every value is finite.
#[cfg(not(target_arch = "wasm32"))]
pub fn find_non_finite(
    device: &Device,
    graph: &Graph,
    weights: &Weights,
    inputs: Vec<(String, Tensor)>,
) -> Result<Option<NonFinite>, CheckError> {
    pollster::block_on(find_non_finite_async(device, graph, weights, inputs))
}

/// Like [`find_non_finite`], awaiting the device.
pub async fn find_non_finite_async(
    device: &Device,
    graph: &Graph,
    weights: &Weights,
    inputs: Vec<(String, Tensor)>,
) -> Result<Option<NonFinite>, CheckError> {
    let options = CompileOptions { tap_every_node: true, settings: device.settings().clone(), ..Default::default() };
    let model = Loader::new(device).with_options(options).load_async(graph, weights).await?;
    let (_, taps) = model.run_with_taps_async(inputs.clone()).await?;
    let ir = &model.program().ir;
    let values: HashMap<NodeId, &Tensor> =
        model.program().taps.iter().zip(taps.iter()).map(|((_, id), (_, t))| (*id, t)).collect();
    let sources: HashMap<String, Tensor> = inputs.into_iter().collect();
    for (_, id) in &model.program().taps {
        let Some(t) = values.get(id) else { continue };
        if !t.dtype().is_float() {
            continue;
        }
        let output = Stats::of(t);
        if output.nan == 0 && output.inf == 0 {
            continue;
        }
        let node = ir.node(*id);
        let inputs = ir
            .operands(*id)
            .into_iter()
            .filter_map(|o| {
                let on = ir.node(o);
                let value = match on.op.source_kind() {
                    Some(_) => stored_value(&on.op, &sources, weights),
                    None => values.get(&o).map(|t| (*t).clone()),
                }?;
                let what = on.name.clone().unwrap_or_else(|| format!("%{} {}", o.index(), on.op.name()));
                Some((what, Stats::of(&value)))
            })
            .collect();
        return Ok(Some(NonFinite {
            node: id.index(),
            op: node.op.name(),
            location: node.location.to_string(),
            name: node.name.clone(),
            output,
            inputs,
        }));
    }
    Ok(None)
}

/// The value of a source node: the input given, the weight, or the constant.
fn stored_value(op: &Op, inputs: &HashMap<String, Tensor>, weights: &Weights) -> Option<Tensor> {
    if let Op::Input { name, .. } = op {
        return inputs.get(name).cloned();
    }
    if let Op::Weight { name, dtype, .. } = op {
        return weights.get(name, *dtype).ok();
    }
    if let Op::Constant { value } = op {
        return Some((**value).clone());
    }
    None
}
