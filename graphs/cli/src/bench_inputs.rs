//! Synthetic inputs for `wgraph bench`: every input the graph declares, at
//! the asked batch and sequence length, with values a real run could
//! have (token ids inside the vocabulary, a full attention mask, positions
//! counting up, features in [-1, 1]).

use crate::error::{bad, CliError};
use wgraph::graph::Op;
use wgraph::{DType, Dim, Tensor};
use wgraph_models::HfConfig;

/// A deterministic spread of values in `0..n` (no RNG dependency, and the
/// same inputs on every run).
fn spread(i: usize, n: usize) -> usize {
    (i.wrapping_mul(7919).wrapping_add(13)) % n.max(1)
}

/// The inputs of `graph` for `batch` sequences of `seq` positions (Whisper:
/// `seq` mel frames, which must be what the model takes).
pub(crate) fn synthetic(
    graph: &wgraph::Graph,
    config: &HfConfig,
    batch: usize,
    seq: usize,
) -> Result<Vec<(String, Tensor)>, CliError> {
    let ir = graph.ir().map_err(bad)?;
    let vocab = config.usize_or("vocab_size", 2).map_err(bad)?;
    let mut feed = Vec::new();
    for id in ir.inputs() {
        let Op::Input { name, dtype, shape } = &ir.node(id).op else { continue };
        let dims: Vec<usize> =
            shape.iter().enumerate().map(|(axis, d)| size(name, axis, d, batch, seq)).collect::<Result<_, _>>()?;
        let numel: usize = dims.iter().product();
        let row = dims.last().copied().unwrap_or(1).max(1);
        let t = match name.as_str() {
            "attention_mask" => Tensor::from_f64(DType::I64, dims, &vec![1.0; numel]),
            "token_type_ids" => Tensor::zeros(DType::I64, dims),
            "position_ids" => Tensor::new(dims, (0..numel).map(|i| (i % row) as i64).collect::<Vec<_>>()),
            _ if dtype.is_int() => Tensor::new(dims, (0..numel).map(|i| spread(i, vocab) as i64).collect::<Vec<_>>()),
            _ => Tensor::new(dims, (0..numel).map(|i| spread(i, 2001) as f32 / 1000.0 - 1.0).collect::<Vec<_>>()),
        };
        feed.push((name.clone(), t.map_err(bad)?));
    }
    Ok(feed)
}

/// One axis of input `name`: `batch` and `seq` from the flags, fixed sizes
/// as declared; a fixed last axis is the sequence (Whisper's mel frames),
/// so `--seq` must equal it.
fn size(name: &str, axis: usize, d: &Dim, batch: usize, seq: usize) -> Result<usize, CliError> {
    if let Some(n) = d.as_static() {
        let is_time = name == "input_features" && axis == 2;
        if is_time && n != seq {
            return Err(bad(format!(
                "--seq {seq}: this model's `{name}` has exactly {n} mel frames (2 x max_source_positions); \
                 pass --seq {n}"
            )));
        }
        return Ok(n);
    }
    if *d == Dim::sym("batch") {
        Ok(batch)
    } else if *d == Dim::sym("seq") {
        Ok(seq)
    } else {
        Err(bad(format!(
            "`wgraph bench` cannot size axis {axis} of input `{name}` ({d}): only `batch` and `seq` are set by flags"
        )))
    }
}
