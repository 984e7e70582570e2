//! Timing matmul kernels on the device: each candidate compiled into a
//! one-product program of the case's sizes and layout (weights uploaded
//! once, like a model's), run once so the driver compiles it, then timed
//! in interleaved rounds, best of each: the machines this runs on are
//! shared and noisy, and a round-robin keeps a slow moment from landing on
//! one candidate only.

use super::super::device::Device;
use super::super::loader::{LoadError, Loader};
use super::super::model::Model;
use crate::compile::{CompileOptions, MatmulCase, MatmulKernel};
use crate::graph::{ops, DType, Graph, Tensor};
use crate::weights::Weights;
use web_time::Instant;

/// One candidate's time for one case.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Timing {
    /// The kernel.
    pub kernel: MatmulKernel,
    /// Its best run, in seconds (compile excluded).
    pub seconds: f64,
    /// Creating it and its first run, in seconds: where drivers such as
    /// lavapipe compile (unless their shader cache held it already).
    pub compile_seconds: f64,
}

impl Timing {
    /// GFLOP/s of `case` at this time.
    pub fn gflops(&self, case: &MatmulCase) -> f64 {
        2.0 * (case.batch * case.m * case.k * case.n) as f64 / self.seconds / 1e9
    }
}

/// The product of `case`, as a graph with its operands as weights.
fn case_graph(case: &MatmulCase) -> (Graph, Weights) {
    let sig = &case.signature;
    let (batch, m, k, n) = (case.batch, case.m, case.k, case.n);
    let shape = |rows: usize, cols: usize| if batch > 1 { vec![batch, rows, cols] } else { vec![rows, cols] };
    let g = Graph::new("tune");
    let a_shape = if sig.a_transposed { shape(k, m) } else { shape(m, k) };
    let b_shape = if sig.b_transposed { shape(n, k) } else { shape(k, n) };
    let a = g.weight("a", DType::F32, a_shape.clone());
    let b = g.weight("b", DType::F32, b_shape.clone());
    let a = if sig.a_transposed { ops::transpose(&a, -2, -1) } else { a };
    let b = if sig.b_transposed { ops::transpose(&b, -2, -1) } else { b };
    // The output summed along its rows: reading back a large product would
    // add the same time to every candidate and blur the differences.
    let y = ops::sum(&ops::matmul(&a, &b), -1, false);
    let _ = g.output_named([("y", y)]);
    // Small distinct values: the numbers do not matter, their speed does.
    let fill = |len: usize| (0..len).map(|i| ((i * 7919) % 1000) as f32 / 4000.0 - 0.125).collect::<Vec<f32>>();
    let tensor = |shape: Vec<usize>| {
        let len = shape.iter().product();
        Tensor::new(shape, fill(len)).expect("the shape and the values agree")
    };
    let weights = Weights::from_tensors([("a", tensor(a_shape)), ("b", tensor(b_shape))]);
    (g, weights)
}

/// Times every kernel of `kernels` on `case`; a kernel the device refuses
/// (a workgroup too large, subgroups it lacks) is left out. `rounds` timed
/// runs each, after the first. `None` when `stop` said so between two
/// candidates.
pub fn time_candidates(
    device: &Device,
    case: &MatmulCase,
    kernels: &[MatmulKernel],
    rounds: usize,
    stop: &dyn Fn() -> bool,
) -> Result<Option<Vec<Timing>>, LoadError> {
    let (graph, weights) = case_graph(case);
    let mut models: Vec<(MatmulKernel, Model, f64)> = Vec::new();
    for &kernel in kernels {
        if stop() {
            return Ok(None);
        }
        let start = Instant::now();
        let options = CompileOptions {
            matmul: Some(kernel),
            texture_weights: case.signature.b_texture,
            settings: device.settings().clone(),
            ..Default::default()
        };
        match Loader::new(device).with_options(options).load(&graph, &weights) {
            Ok(model) => {
                // The driver may compile at the first dispatch.
                model.run(Vec::<(String, Tensor)>::new())?;
                models.push((kernel, model, start.elapsed().as_secs_f64()));
            }
            Err(LoadError::Compile(e)) => tracing::debug!(%kernel, error = %e, "candidate refused"),
            Err(e) => return Err(e),
        }
    }
    let mut best = vec![f64::INFINITY; models.len()];
    for _ in 0..rounds.max(1) {
        for (i, (_, model, _)) in models.iter().enumerate() {
            let start = Instant::now();
            model.run(Vec::<(String, Tensor)>::new())?;
            best[i] = best[i].min(start.elapsed().as_secs_f64());
        }
    }
    Ok(Some(
        models
            .iter()
            .zip(best)
            .map(|(&(kernel, _, compile_seconds), seconds)| Timing { kernel, seconds, compile_seconds })
            .collect(),
    ))
}

/// Runs within this fraction of the fastest count as equally fast.
pub const TIE: f64 = 0.1;

/// The kernel to keep: among those within [`TIE`] of the fastest run, the
/// quickest to compile (a driver that compiles at first dispatch pays for
/// a large unrolled block on every cold start, for a gain within noise).
pub fn choose(timings: &[Timing]) -> Option<MatmulKernel> {
    let fastest = timings.iter().map(|t| t.seconds).fold(f64::INFINITY, f64::min);
    timings
        .iter()
        .filter(|t| t.seconds <= fastest * (1.0 + TIE))
        .min_by(|a, b| a.compile_seconds.total_cmp(&b.compile_seconds))
        .map(|t| t.kernel)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compile::{REGISTER, REGISTER_HALF, REGISTER_SUBGROUP};

    #[test]
    fn near_ties_go_to_the_kernel_quicker_to_compile() {
        let t = |kernel, seconds, compile_seconds| Timing { kernel, seconds, compile_seconds };
        let clear_win = [t(REGISTER, 1.0, 0.2), t(REGISTER_SUBGROUP, 0.5, 3.0)];
        assert_eq!(choose(&clear_win), Some(REGISTER_SUBGROUP));
        let near_tie = [t(REGISTER, 0.53, 0.2), t(REGISTER_SUBGROUP, 0.5, 3.0), t(REGISTER_HALF, 0.9, 0.1)];
        assert_eq!(choose(&near_tie), Some(REGISTER));
        assert_eq!(choose(&[]), None);
    }
}
