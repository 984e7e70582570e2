//! Checks on `labels` that `grad` and `train` share.

use crate::error::{bad, CliError};
use wgraph::Tensor;
use wgraph_models::loss::{ProblemType, IGNORE_INDEX};
use wgraph_models::zoo::LossKind;

/// The number of classes the loss reads labels as (the logits' last axis).
pub(crate) fn logits_width(graph: &wgraph::Graph) -> Option<usize> {
    let ir = graph.ir().ok()?;
    let (_, id) = ir.outputs.iter().find(|(n, _)| n == "logits")?;
    ir.node(*id).ty.shape.last()?.as_static()
}

/// Integer labels must be class ids or -100 (PyTorch raises on anything
/// else; a silent wrong loss would be worse).
pub(crate) fn check_class_ids(labels: &Tensor, classes: usize, kind: LossKind) -> Result<(), CliError> {
    if !matches!(kind, LossKind::CausalLm | LossKind::SequenceClassification(ProblemType::SingleLabelClassification)) {
        return Ok(());
    }
    let ignore = IGNORE_INDEX;
    let values = labels.to_i64_vec();
    if let Some((i, v)) = values.iter().enumerate().find(|(_, &v)| v != ignore && (v < 0 || v as usize >= classes)) {
        let what = if kind == LossKind::CausalLm { "a token id" } else { "a class id" };
        return Err(bad(format!(
            "`labels` element {i} is {v}: not {what} in 0..{classes} nor {ignore} (ignored); labels have shape {:?}",
            labels.shape()
        )));
    }
    Ok(())
}
