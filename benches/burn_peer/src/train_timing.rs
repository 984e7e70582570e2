//! Timing a training loop step by step, keeping every loss so the two
//! libraries' trajectories can be compared (same weights, batches and
//! recipe must give the same losses, up to float rounding).

use crate::timing::{median_ms, Timing};

/// A training run's step times and its losses, in step order.
pub struct TrainRun {
    pub timing: Timing,
    pub losses: Vec<f32>,
}

impl TrainRun {
    /// See [`Timing::after_setup`].
    pub fn after_setup(mut self, setup_ms: f64) -> TrainRun {
        self.timing = self.timing.after_setup(setup_ms);
        self
    }
}

/// `warmup` untimed steps, then `steps` timed ones; `step(i)` runs step
/// `i` (0-based) and returns its loss, read back from the device.
pub fn time_steps(
    warmup: usize,
    steps: usize,
    mut step: impl FnMut(usize) -> Result<f32, String>,
) -> Result<TrainRun, String> {
    let mut losses = Vec::with_capacity(warmup + steps);
    let timing = median_ms(warmup, steps, || {
        let loss = step(losses.len())?;
        losses.push(loss);
        Ok::<(), String>(())
    })?;
    Ok(TrainRun { timing, losses })
}

/// The first and last losses of both runs, side by side.
pub fn compare_losses(ours: &Result<TrainRun, String>, theirs: &Result<TrainRun, String>) -> String {
    match (ours, theirs) {
        (Ok(a), Ok(b)) => {
            let last = a.losses.len().min(b.losses.len()).max(1) - 1;
            let at = |r: &TrainRun, i: usize| r.losses.get(i).copied().unwrap_or(f32::NAN);
            format!(
                "loss (wgraph / burn) step 1: {:.5} / {:.5}; step {}: {:.5} / {:.5}",
                at(a, 0),
                at(b, 0),
                last + 1,
                at(a, last),
                at(b, last)
            )
        }
        _ => "-".to_string(),
    }
}
