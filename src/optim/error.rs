//! Errors of the optimizer layer. Each names the parameter (its weight name)
//! or the hyperparameter at fault, what was expected and what was given, and
//! a hint.

use crate::graph::{DType, GraphError};
use thiserror::Error;

/// Why an optimizer update, a clipping step or a schedule could not be built.
#[derive(Debug, Error, Clone, PartialEq)]
#[non_exhaustive]
pub enum OptimError {
    /// A parameter or gradient is poisoned, or the graph has build errors.
    #[error("the graph has build errors, fix them before adding the optimizer: {0}")]
    Graph(#[from] GraphError),

    /// No parameters were given (PyTorch: "optimizer got an empty parameter list").
    #[error(
        "the optimizer got an empty parameter list\n  \
         hint: pass the weights to train (for instance autodiff::parameter_gradients(&loss)?.params())"
    )]
    NoParameters,

    /// Parameters and gradients differ in number.
    #[error(
        "{params} parameters but {grads} gradients\n  \
         hint: pass one gradient per parameter, in the same order (autodiff::backward returns them so)"
    )]
    LengthMismatch {
        /// How many parameters were given.
        params: usize,
        /// How many gradients were given.
        grads: usize,
    },

    /// A parameter is not an `Op::Weight` node.
    #[error(
        "parameter {index} is {value} (op `{op}`), not a weight\n  \
         hint: optimizers update weights declared with Graph::weight, whose new values are fed back \
         under the same name; train an input by declaring it as a weight instead"
    )]
    NotAWeight {
        /// The parameter's position in the list.
        index: usize,
        /// The value, as the graph prints it.
        value: String,
        /// Its op.
        op: &'static str,
    },

    /// The same weight was passed twice.
    #[error(
        "parameter `{name}` appears more than once\n  \
         hint: pass each weight once (tied weights are one weight with one gradient)"
    )]
    DuplicateParameter {
        /// The name in question.
        name: String,
    },

    /// A parameter is not a float tensor.
    #[error(
        "parameter `{name}` has dtype {dtype}; only float weights can be trained\n  \
         hint: leave integer weights (index buffers) out of the parameter list"
    )]
    NotFloat {
        /// The name in question.
        name: String,
        /// Its dtype.
        dtype: DType,
    },

    /// A gradient to clip is not a float tensor.
    #[error(
        "the gradient {value} has dtype {dtype}, not a float\n  \
         hint: pass the float gradients autodiff returns"
    )]
    GradientNotFloat {
        /// The value, as the graph prints it.
        value: String,
        /// Its dtype.
        dtype: DType,
    },

    /// A gradient's type differs from its parameter's.
    #[error(
        "the gradient of `{name}` has type {got}, but the parameter has type {expected}\n  \
         hint: pass the gradients in the parameters' order, as autodiff::backward returns them"
    )]
    GradientType {
        /// The name in question.
        name: String,
        /// What was expected.
        expected: String,
        /// What was found.
        got: String,
    },

    /// A parameter or gradient belongs to another graph.
    #[error(
        "{value} belongs to graph `{other}`, not to graph `{graph}`\n  \
         hint: the update is appended to the graph that computes the gradients; build everything in one graph"
    )]
    ForeignValue {
        /// The value, as the graph prints it.
        value: String,
        /// The graph being built.
        graph: String,
        /// The graph the value belongs to.
        other: String,
    },

    /// An optimizer state needs a concrete shape for its initial tensor.
    #[error(
        "parameter `{name}` has the symbolic shape {shape}, so its optimizer state has no initial tensor\n  \
         hint: declare trainable weights with static dims"
    )]
    SymbolicShape {
        /// The name in question.
        name: String,
        /// The shape.
        shape: String,
    },

    /// A hyperparameter is out of its valid range (the checks torch.optim makes).
    #[error(
        "invalid {name}: {value} (expected {expected})\n  \
         hint: these are the ranges torch.optim accepts"
    )]
    InvalidHyperparameter {
        /// The name in question.
        name: &'static str,
        /// The value, as the graph prints it.
        value: f64,
        /// What was expected.
        expected: &'static str,
    },

    /// Nesterov momentum needs a momentum and zero dampening.
    #[error(
        "nesterov momentum requires a momentum > 0 and zero dampening (got momentum {momentum}, dampening {dampening})\n  \
         hint: set --momentum, or turn nesterov off"
    )]
    Nesterov {
        /// The momentum given.
        momentum: f64,
        /// The dampening given.
        dampening: f64,
    },

    /// An optimizer name that is not known.
    #[error(
        "unknown optimizer `{name}` (expected one of: adamw, adam, sgd){}",
        suggest(.name)
    )]
    UnknownOptimizer {
        /// The name in question.
        name: String,
    },

    /// A schedule name that is not known.
    #[error("unknown learning-rate schedule `{name}` (expected one of: constant, linear, cosine)")]
    UnknownSchedule {
        /// The name in question.
        name: String,
    },

    /// A flag that the chosen optimizer does not have.
    #[error(
        "{option} does not apply to {optimizer}\n  \
         hint: {option} is an SGD setting; Adam's momentum is its first beta (default 0.9)"
    )]
    NotApplicable {
        /// The flag.
        option: &'static str,
        /// The optimizer chosen.
        optimizer: &'static str,
    },

    /// Steps are counted from 1 (the first update is step 1).
    #[error(
        "step 0 asked for; steps are 1-based\n  \
         hint: the first update is step 1, as PyTorch's state['step'] after its first increment"
    )]
    StepZero,
}

/// `\n  hint: did you mean `x`?` for a near miss of a known optimizer name.
pub(crate) fn suggest(name: &str) -> String {
    let lower = name.to_ascii_lowercase();
    ["adamw", "adam", "sgd"]
        .into_iter()
        .map(|known| (strsim::levenshtein(&lower, known), known))
        .filter(|(d, _)| *d <= 2)
        .min()
        .map(|(_, known)| format!("\n  hint: did you mean `{known}`?"))
        .unwrap_or_default()
}
