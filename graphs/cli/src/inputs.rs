//! Reading inputs files for `run` and `check`.

use crate::Result;
use std::path::Path;
use wgraph::graph::Op;
use wgraph::{DType, Tensor, Weights};

/// Reads every tensor of a safetensors file, in its stored dtype.
pub(crate) fn read_file(path: &Path) -> Result<Vec<(String, Tensor)>> {
    let w = Weights::open([path])?;
    let names: Vec<String> = w.names().map(String::from).collect();
    names.into_iter().map(|n| Ok((n.clone(), w.read(&n)?))).collect()
}

/// Reads an inputs file and fills what HF would default: `token_type_ids`
/// (zeros) and `attention_mask` (ones) when the graph takes them.
pub(crate) fn prepare_inputs(graph: &wgraph::Graph, inputs: &Path) -> Result<Vec<(String, Tensor)>> {
    fill_hf_defaults(graph, read_file(inputs)?)
}

/// Adds what HF would default when the graph takes it and `feed` lacks it:
/// `token_type_ids` (zeros) and `attention_mask` (ones).
pub(crate) fn fill_hf_defaults(
    graph: &wgraph::Graph,
    mut feed: Vec<(String, Tensor)>,
) -> Result<Vec<(String, Tensor)>> {
    // HF defaults token_type_ids to zeros; do the same when the file has none.
    let takes: Vec<(String, Vec<wgraph::Dim>)> = graph
        .ir()?
        .inputs()
        .iter()
        .filter_map(|&id| match &graph.ir().ok()?.node(id).op {
            Op::Input { name, shape, .. } => Some((name.clone(), shape.clone())),
            _ => None,
        })
        .collect();
    let has = |n: &str, feed: &[(String, Tensor)]| feed.iter().any(|(f, _)| f == n);
    if takes.iter().any(|(n, _)| n == "token_type_ids") && !has("token_type_ids", &feed) {
        if let Some((_, ids)) = feed.iter().find(|(n, _)| n == "input_ids") {
            let zeros = Tensor::zeros(DType::I64, ids.shape().to_vec())?;
            feed.push(("token_type_ids".into(), zeros));
        }
    }
    if takes.iter().any(|(n, _)| n == "attention_mask") && !has("attention_mask", &feed) {
        if let Some((_, ids)) = feed.iter().find(|(n, _)| n == "input_ids") {
            let ones = Tensor::from_f64(DType::I64, ids.shape().to_vec(), &vec![1.0; ids.numel()])?;
            feed.push(("attention_mask".into(), ones));
        }
    }
    Ok(feed)
}
