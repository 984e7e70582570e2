//! The training doctor: why a model does not learn. Build-time checks from
//! the graph (parameters that never reach the loss, gradients blocked by
//! ops without one, frozen weights, unused inputs) and a doctor run
//! ([`Trainer::diagnose`](crate::train::Trainer::diagnose)) that watches
//! gradients, updates, activations and the loss for a few steps.

mod diagnose;
mod finding;
mod probe;
pub(crate) mod static_checks;
mod stats;

pub use diagnose::{Diagnosis, DoctorOptions};
pub use finding::{Finding, Scale};
pub use probe::DependencyProbe;
pub use stats::ParamStats;
