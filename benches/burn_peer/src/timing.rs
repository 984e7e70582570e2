//! How calls are timed: the same clock and statistics for both libraries,
//! so a ratio compares the libraries and not the methods.

use std::time::{Duration, Instant};

/// Wall-clock times of one measured call, in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Timing {
    /// Time to the first result: building the model (wgraph: compiling the
    /// graph; both: uploading weights) and the first call, where pipeline
    /// creation, shader compilation and burn's autotuning land. Reported
    /// apart from the median.
    pub first_ms: f64,
    pub median_ms: f64,
    pub min_ms: f64,
    /// Timed calls behind the median.
    pub runs: usize,
}

impl Timing {
    /// Counts `setup_ms`, the model construction before the first call,
    /// into [`Timing::first_ms`].
    pub fn after_setup(mut self, setup_ms: f64) -> Timing {
        self.first_ms += setup_ms;
        self
    }
}

/// Median of `runs` calls of `f` after `warmup` untimed ones (at least
/// one: its time is [`Timing::first_ms`]). Each call must finish its GPU
/// work before returning (read the result back), or this times queueing.
pub fn median_ms<E>(warmup: usize, runs: usize, mut f: impl FnMut() -> Result<(), E>) -> Result<Timing, E> {
    let mut first_ms = 0.0;
    for i in 0..warmup.max(1) {
        let start = Instant::now();
        f()?;
        if i == 0 {
            first_ms = ms_since(start);
        }
    }
    let mut times = Vec::with_capacity(runs.max(1));
    for _ in 0..runs.max(1) {
        let start = Instant::now();
        f()?;
        times.push(ms_since(start));
    }
    times.sort_by(f64::total_cmp);
    Ok(Timing { first_ms, median_ms: times[times.len() / 2], min_ms: times[0], runs: times.len() })
}

/// Best seconds of `f` over at least 5 runs (more while `budget` lasts, at
/// most 30) after two warm-ups. For single kernels (the matmul table): on
/// a shared machine the minimum is the kernel's own time.
pub fn best_seconds(mut f: impl FnMut(), budget: Duration) -> f64 {
    f();
    f();
    let mut best = f64::INFINITY;
    let start = Instant::now();
    let mut runs = 0;
    while runs < 5 || (start.elapsed() < budget && runs < 30) {
        let t = Instant::now();
        f();
        best = best.min(t.elapsed().as_secs_f64());
        runs += 1;
    }
    best
}

/// Milliseconds since `start`.
pub fn ms_since(start: Instant) -> f64 {
    start.elapsed().as_secs_f64() * 1e3
}
