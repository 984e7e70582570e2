//! The dependency probe: which input positions each output position
//! depends on, from the gradient of that output position with respect to
//! the (embedded) inputs. A bidirectional model's outputs see every input;
//! a causal mask leaves output 0 blind to everything after it.

use super::finding::Finding;
use crate::autodiff;
use crate::compile::CompileOptions;
use crate::graph::{ops, Graph, Tensor};
use crate::runtime::Loader;
use crate::train::{TrainError, Trainer};
use crate::weights::Weights;

/// Names the values to probe: both `[batch, positions, ...]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DependencyProbe {
    /// The embedded inputs (the value after token and position embeddings).
    pub input: String,
    /// The per-position outputs (logits).
    pub output: String,
}

/// The probe on one batch: a finding per output position (the first few)
/// that does not depend on some input positions.
pub(crate) fn dependency_findings(
    trainer: &Trainer,
    probe: &DependencyProbe,
    inputs: &[(String, Tensor)],
) -> Result<Vec<Finding>, TrainError> {
    let missing = |what: &str| TrainError::Doctor {
        detail: format!("the dependency probe's {what} is not a named value of the graph"),
    };
    let mut ir = trainer.forward_graph().ir_unchecked().clone();
    let input_id = ir.find_named(&probe.input).ok_or_else(|| missing(&format!("input `{}`", probe.input)))?;
    let output_id = ir.find_named(&probe.output).ok_or_else(|| missing(&format!("output `{}`", probe.output)))?;
    ir.outputs.clear();
    let g = Graph::from_ir(ir);
    let (x, y) =
        (g.value(input_id).ok_or_else(|| missing("input"))?, g.value(output_id).ok_or_else(|| missing("output"))?);
    let positions = match (x.dim(1).and_then(|d| d.as_static()), y.dim(1).and_then(|d| d.as_static())) {
        (Some(a), Some(b)) if a == b && x.rank() == 3 && y.rank() == 3 => a,
        _ => {
            return Err(TrainError::Doctor {
                detail: "the dependency probe needs static [batch, positions, features] values of equal length".into(),
            })
        }
    };
    for i in 0..positions {
        let picked = ops::slice(&y, 1, i, i + 1);
        let scalar = ops::sum(&ops::sum(&ops::sum(&picked, 2, false), 1, false), 0, false);
        let grad = autodiff::gradients(&scalar, std::slice::from_ref(&x))?.remove(0);
        // Per input position: the sum of squares over batch and features.
        let per_position = ops::sum(&ops::sum(&(&grad * &grad), 2, false), 0, false);
        g.output_named([(format!("probe/{i}"), per_position)])?;
    }
    let options = CompileOptions { settings: trainer.model().device().settings().clone(), ..CompileOptions::default() };
    let current = Weights::from_tensors(trainer.model().read_weights(&trainer.model().weight_names())?.0);
    let model = Loader::new(trainer.model().device())
        .with_options(options)
        .sharing_weights_with(trainer.model())
        .load(&g, &current)?;
    let out = model.run(inputs.to_vec())?;
    let mut findings = Vec::new();
    for i in 0..positions {
        let Some(t) = out.get(&format!("probe/{i}")) else { continue };
        let v = t.to_f64_vec();
        let top = v.iter().cloned().fold(0.0, f64::max);
        let blind: Vec<usize> = (0..positions).filter(|&j| v[j] <= top * 1e-12).collect();
        if let (Some(&from), Some(&to)) = (blind.first(), blind.last()) {
            findings.push(Finding::Blind { output: i, from, to, positions });
        }
        // One line tells the story; the first blind output position is it.
        if !findings.is_empty() {
            break;
        }
    }
    Ok(findings)
}
