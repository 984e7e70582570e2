//! `classify` and `generate`: commands that start from text.

use crate::step;
use crate::Result;
use std::path::Path;
use wgraph::graph::{NamedTensors, Op};
use wgraph::{Compiler, Device, Tensor, Weights};
use wgraph_graphs::text::TextEncoder;
use wgraph_graphs::zoo;

pub(crate) fn classify(model_dir: &Path, texts: &[String]) -> Result<()> {
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
    let model = Compiler::new(&device).compile_tiered(&loaded.graph, &weights)?;
    bar.finish_and_clear();
    // Truncate where the model's positions end (HF pipelines truncate at
    // the tokenizer's limit, which matches it for these checkpoints).
    let max_positions = loaded.config.usize_or("max_position_embeddings", 512)?;
    let text = TextEncoder::from_dir(model_dir, max_positions)?;
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let batch = text.encode(&refs)?;
    let takes_types = loaded.graph.ir()?.inputs().iter().any(|&id| matches!(&loaded.graph.ir().map(|ir| ir.node(id).op.clone()), Ok(Op::Input { name, .. }) if name == "token_type_ids"));
    let feed: Vec<(&str, Tensor)> =
        batch.named().into_iter().filter(|(n, _)| *n != "token_type_ids" || takes_types).collect();
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

pub(crate) fn generate(
    model_dir: &Path,
    prompt: Option<&str>,
    input_ids: Option<Vec<i64>>,
    max_new_tokens: usize,
) -> Result<()> {
    let config = wgraph_graphs::HfConfig::from_dir(model_dir)?;
    if config.model_type()? != "llama" {
        return Err(format!("generate supports model_type `llama`, not `{}`", config.model_type()?).into());
    }
    let cfg = wgraph_graphs::llama::LlamaConfig::from_hf(&config)?;
    let tokenizer = match prompt {
        Some(_) => Some(
            tokenizers::Tokenizer::from_file(model_dir.join("tokenizer.json"))
                .map_err(|e| format!("--prompt needs {}: {e}", model_dir.join("tokenizer.json").display()))?,
        ),
        None => None,
    };
    let ids: Vec<i64> = match (prompt, input_ids, &tokenizer) {
        (Some(text), _, Some(t)) => {
            t.encode(text, true).map_err(|e| format!("tokenizing: {e}"))?.get_ids().iter().map(|&i| i as i64).collect()
        }
        (_, Some(ids), _) => ids,
        _ => return Err("give --prompt or --input-ids".into()),
    };
    let weights = Weights::from_dir(model_dir)?;
    let device = Device::new()?;
    let bar = step("checking weights and compiling");
    let generator = wgraph_graphs::generate::Generator::new(cfg, weights, &device)?;
    bar.finish_and_clear();
    let stop = generator.eos_token_ids().to_vec();
    let fit = generator.new_tokens_that_fit(ids.len(), max_new_tokens);
    if fit < max_new_tokens {
        eprintln!(
            "note: the model's context is {} positions (max_position_embeddings, at most {} for the KV cache); \
             after the {}-token prompt at most {fit} new tokens fit, so generation stops there instead of at \
             --max-new-tokens {max_new_tokens}",
            generator.context(),
            wgraph_graphs::generate::DEFAULT_CACHE_CAPACITY,
            ids.len()
        );
    }
    // Token ids stream to stdout as they are chosen: the prompt's, then each new one.
    let list: Vec<String> = ids.iter().map(|t| t.to_string()).collect();
    say_raw!("{}", list.join(","));
    let mut out = std::io::stdout().lock();
    let mut write_error = None;
    let tokens = generator.greedy_streaming(&ids, max_new_tokens, &stop, |t| {
        use std::io::Write as _;
        if write_error.is_none() {
            write_error = write!(out, ",{t}").and_then(|_| out.flush()).err();
        }
    })?;
    drop(out);
    if let Some(e) = write_error {
        return Err(e.into());
    }
    say!("");
    if let Some(t) = tokenizer {
        let text = t
            .decode(&tokens.iter().map(|&i| i as u32).collect::<Vec<_>>(), true)
            .map_err(|e| format!("decoding: {e}"))?;
        say!("{text}");
    }
    Ok(())
}
