//! The losses HF task heads compute from a `labels` argument
//! (`forward(labels=...)`), as graph fragments built from existing ops so
//! autodiff differentiates them like any other op.

use crate::hf::{HfConfig, ModelError};
use wgraph::autodiff::{cross_entropy, mse_loss};
use wgraph::graph::ops;
use wgraph::{DType, Dim, Graph, Value};

/// PyTorch's `ignore_index` default, which HF's losses use.
pub const IGNORE_INDEX: i64 = -100;

/// `config.problem_type` of a sequence-classification head.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProblemType {
    /// `MSELoss` on the logits (squeezed when there is one label); float labels.
    Regression,
    /// `CrossEntropyLoss` (ignore_index -100); integer class ids `[batch]`.
    SingleLabelClassification,
    /// `BCEWithLogitsLoss` (mean); float targets `[batch, num_labels]`.
    MultiLabelClassification,
}

impl ProblemType {
    /// HF's choice in `*ForSequenceClassification.forward`: the config's
    /// `problem_type` when set; otherwise regression for one label, single-label
    /// classification for integer labels, multi-label classification else.
    /// `labels` is the dtype of the labels that will be fed.
    pub fn resolve(cfg: &HfConfig, num_labels: usize, labels: DType) -> Result<ProblemType, ModelError> {
        let problem = match cfg.problem_type()? {
            Some("regression") => ProblemType::Regression,
            Some("single_label_classification") => ProblemType::SingleLabelClassification,
            Some("multi_label_classification") => ProblemType::MultiLabelClassification,
            Some(other) => {
                return Err(cfg.invalid(format!(
                    "problem_type `{other}` is not one of regression, single_label_classification, \
                     multi_label_classification"
                )))
            }
            None if num_labels == 1 => ProblemType::Regression,
            None if labels.is_int() => ProblemType::SingleLabelClassification,
            None => ProblemType::MultiLabelClassification,
        };
        if problem == ProblemType::SingleLabelClassification && num_labels < 2 {
            return Err(cfg.invalid("problem_type single_label_classification needs num_labels > 1"));
        }
        Ok(problem)
    }

    /// HF's name for it (`config.problem_type`).
    pub fn name(self) -> &'static str {
        match self {
            ProblemType::Regression => "regression",
            ProblemType::SingleLabelClassification => "single_label_classification",
            ProblemType::MultiLabelClassification => "multi_label_classification",
        }
    }

    /// Declares the `labels` input this problem reads: class ids
    /// `i64[batch]`, or float targets `f32[batch]` (regression with one
    /// label) and `f32[batch, num_labels]`.
    pub fn labels_input(self, g: &Graph, batch: Dim, num_labels: usize) -> Value {
        match self {
            ProblemType::SingleLabelClassification => g.input("labels", DType::I64, [batch]),
            ProblemType::Regression if num_labels == 1 => g.input("labels", DType::F32, [batch]),
            ProblemType::Regression | ProblemType::MultiLabelClassification => {
                g.input("labels", DType::F32, [batch, num_labels.into()])
            }
        }
    }
}

/// The loss of a sequence-classification head: `logits` `[batch,
/// num_labels]`, `labels` as [`ProblemType::labels_input`] declares them.
#[track_caller]
pub fn sequence_classification_loss(logits: &Value, labels: &Value, problem: ProblemType) -> Value {
    match problem {
        // HF squeezes both sides when there is one label.
        ProblemType::Regression if logits.dim(-1) == Some(Dim::new(1)) && labels.rank() + 1 == logits.rank() => {
            mse_loss(&ops::squeeze(logits, -1), labels)
        }
        ProblemType::Regression => mse_loss(logits, labels),
        ProblemType::SingleLabelClassification => cross_entropy(logits, labels, Some(IGNORE_INDEX)),
        ProblemType::MultiLabelClassification => bce_with_logits(logits, labels),
    }
}

/// HF's `ForCausalLMLoss`: the labels are shifted inside (position `t`
/// predicts label `t + 1`; the last position predicts nothing), then
/// cross-entropy with ignore_index -100, mean over the positions not
/// ignored. `logits` `[batch, seq, vocab]`, `labels` integer `[batch, seq]`.
///
/// Built as HF does it: labels padded with -100 on the right and shifted
/// by one, so the logits are used whole (no slice of the largest tensor).
#[track_caller]
pub fn causal_lm_loss(logits: &Value, labels: &Value) -> Value {
    let g = labels.graph();
    let seq = labels.dim(1).unwrap_or_else(|| Dim::new(1));
    let batch = labels.dim(0).unwrap_or_else(|| Dim::new(1));
    let next = ops::slice(labels, 1, 1, seq);
    let pad = ops::expand(&ops::scalar(g, IGNORE_INDEX as f64, labels.dtype()), [batch, Dim::new(1)]);
    let shifted = ops::concat(&[&next, &pad], 1);
    cross_entropy(logits, &shifted, Some(IGNORE_INDEX))
}

/// `torch.nn.functional.binary_cross_entropy_with_logits(x, y)` (mean over
/// every element), stably: `(1 - y) x - log_sigmoid(x)` with
/// `log_sigmoid(x) = -(m + log(exp(-m) + exp(-x - m)))`, `m = max(-x, 0)`,
/// PyTorch's own formulation. Its gradient is `(sigmoid(x) - y) / n`
/// everywhere, `x = 0` included: the terms in `m` cancel whatever
/// subgradient `max` takes there.
#[track_caller]
pub fn bce_with_logits(logits: &Value, targets: &Value) -> Value {
    let g = logits.graph();
    let one = ops::scalar(g, 1.0, logits.dtype());
    let m = ops::relu(&ops::neg(logits));
    let log_sum = ops::log(&(&ops::exp(&ops::neg(&m)) + &ops::exp(&(&ops::neg(logits) - &m))));
    let loss = &(&(&one - targets) * logits) + &(&m + &log_sum);
    let flat = ops::reshape(&loss, [Dim::product(&loss.shape())]);
    ops::mean(&flat, 0, false)
}
