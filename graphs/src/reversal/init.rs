//! Initial weights, as PyTorch's modules initialise them: `nn.Linear`
//! weights and biases uniform in ±1/sqrt(fan_in), embeddings N(0, 1),
//! layer norms ones and zeros. Deterministic in the seed.

use super::data::SplitMix;
use super::{Bug, ReversalConfig};
use wgraph::graph::Op;
use wgraph::Tensor;

/// Every weight of `graph` for `cfg`, drawn from `seed`.
pub fn initial_weights(graph: &wgraph::Graph, cfg: &ReversalConfig, seed: u64) -> Vec<(String, Tensor)> {
    let mut rng = SplitMix::new(seed ^ 0x1917_2023);
    let ir = graph.ir_unchecked();
    let mut out = Vec::new();
    let mut weights: Vec<(String, Vec<usize>)> = ir
        .weights()
        .into_iter()
        .filter_map(|w| {
            let Op::Weight { name, shape, .. } = &ir.node(w).op else { return None };
            Some((name.clone(), shape.iter().filter_map(|d| d.as_static()).collect()))
        })
        .collect();
    // Declaration order is stable, but sort so the draw does not depend on it.
    weights.sort();
    for (name, shape) in weights {
        let n: usize = shape.iter().product();
        let values: Vec<f32> = if name.ends_with("emb.weight") {
            (0..n).map(|_| rng.normal() as f32).collect()
        } else if name.contains("ln") {
            vec![if name.ends_with("weight") { 1.0 } else { 0.0 }; n]
        } else if cfg.bug == Some(Bug::DeadRelu) && name.ends_with("ff1.bias") {
            vec![-10.0; n]
        } else {
            // Linear: fan_in is the weight's last dim; a bias shares its weight's.
            let fan_in = if name.ends_with("weight") { shape[shape.len() - 1] } else { linear_fan_in(&name, cfg) };
            let bound = 1.0 / (fan_in as f64).sqrt();
            (0..n).map(|_| ((rng.uniform() * 2.0 - 1.0) * bound) as f32).collect()
        };
        if let Ok(t) = Tensor::new(shape, values) {
            out.push((name, t));
        }
    }
    out
}

/// The input width of the linear layer a bias belongs to.
fn linear_fan_in(bias: &str, cfg: &ReversalConfig) -> usize {
    if bias.contains("ff2") {
        cfg.ff
    } else {
        cfg.d_model
    }
}
