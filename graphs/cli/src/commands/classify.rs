//! `wgraph classify MODEL_DIR TEXT...`: each label's probability.

use crate::progress::step;
use crate::Result;
use std::path::PathBuf;
use wgraph::graph::NamedTensors;
use wgraph::{Device, Loader, Weights};
use wgraph_models::text::TextEncoder;
use wgraph_models::zoo;

#[derive(clap::Args)]
pub(crate) struct Args {
    /// A sequence-classification checkpoint (labels from id2label).
    model_dir: PathBuf,
    #[arg(required = true)]
    texts: Vec<String>,
}

pub(crate) fn exec(args: &Args) -> Result<()> {
    let Args { model_dir, texts } = args;
    let loaded = zoo::load(model_dir)?;
    if !loaded.graph.ir()?.outputs.iter().any(|(n, _)| n == "logits") {
        return Err(
            format!("{} is not a classification checkpoint (its graph has no `logits`)", model_dir.display()).into()
        );
    }
    let weights = Weights::from_dir(model_dir)?;
    let device = Device::new()?;
    let bar = step("checking weights and compiling");
    // One run: quick kernels where the driver compiles at first dispatch.
    let model = Loader::new(&device).load_tiered(&loaded.graph, &weights)?;
    bar.finish_and_clear();
    // Truncate where the model's positions end (HF pipelines truncate at
    // the tokenizer's limit, which matches it for these checkpoints).
    let max_positions = loaded.config.usize_or("max_position_embeddings", 512)?;
    let text = TextEncoder::from_dir(model_dir, max_positions)?;
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let batch = text.encode(&refs)?;
    let feed = batch.named_for(&*loaded.graph.ir()?);
    let out: NamedTensors = model.run(feed)?;
    let logits = out.get("logits").ok_or("no logits")?;
    let n = logits.shape().get(1).copied().unwrap_or(0);
    for (t, row) in texts.iter().zip(logits.to_f32_vec().chunks(n.max(1))) {
        let m = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let exp: Vec<f32> = row.iter().map(|v| (v - m).exp()).collect();
        let total: f32 = exp.iter().sum();
        let (best, _) = exp.iter().enumerate().fold((0, f32::MIN), |b, (i, &v)| if v > b.1 { (i, v) } else { b });
        let label = |i: usize| loaded.labels.get(i).cloned().unwrap_or_else(|| format!("LABEL_{i}"));
        let probs: Vec<String> =
            exp.iter().enumerate().map(|(i, v)| format!("{}={:.3}", label(i), v / total)).collect();
        say!("{t:?}: {} ({})", label(best), probs.join(", "));
    }
    Ok(())
}
