//! `wgraph generate MODEL_DIR --prompt TEXT | --input-ids 1,2,3`: greedy
//! generation with a KV cache, streamed.

use crate::progress::step;
use crate::Result;
use std::path::PathBuf;
use wgraph::{Device, Weights};

#[derive(clap::Args)]
pub(crate) struct Args {
    /// A LLaMA-style checkpoint directory or GGUF file.
    model_dir: PathBuf,
    /// Text prompt (needs tokenizer.json in the checkpoint, or a GGUF file's tokenizer).
    #[arg(long, conflicts_with = "input_ids", required_unless_present = "input_ids")]
    prompt: Option<String>,
    /// Prompt token ids, comma separated (`1,2,3`).
    #[arg(long, value_delimiter = ',')]
    input_ids: Option<Vec<i64>>,
    #[arg(long, default_value_t = 32)]
    max_new_tokens: usize,
}

pub(crate) fn exec(args: &Args) -> Result<()> {
    let (model_dir, prompt, max_new_tokens) = (&args.model_dir, args.prompt.as_deref(), args.max_new_tokens);
    let input_ids = args.input_ids.clone();
    let config = wgraph_models::HfConfig::from_dir(model_dir)?;
    if config.model_type()? != "llama" {
        return Err(format!("generate supports model_type `llama`, not `{}`", config.model_type()?).into());
    }
    let cfg = wgraph_models::llama::LlamaConfig::from_hf(&config)?;
    let tokenizer = match prompt {
        Some(_) => Some(
            wgraph_models::text::tokenizer_at(model_dir).map_err(|e| format!("--prompt needs the tokenizer: {e}"))?,
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
    let generator =
        wgraph_models::generate::Generator::for_one_generation(cfg, weights, &device, ids.len(), max_new_tokens)?;
    bar.finish_and_clear();
    let stop = generator.eos_token_ids().to_vec();
    let fit = generator.new_tokens_that_fit(ids.len(), max_new_tokens);
    if fit < max_new_tokens {
        eprintln!(
            "note: the model's context is {} positions (max_position_embeddings, at most {} for the KV cache); \
             after the {}-token prompt at most {fit} new tokens fit, so generation stops there instead of at \
             --max-new-tokens {max_new_tokens}",
            generator.context(),
            wgraph_models::generate::DEFAULT_CACHE_CAPACITY,
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
