//! `wgraph chat MODEL "message" [--system TEXT]`: one turn of a
//! conversation with a chat model (HF directory or GGUF file), its chat
//! template applied, the answer streamed as it is generated (greedy),
//! ending at the template's end-of-turn token.

use crate::progress::step;
use crate::Result;
use std::io::Write as _;
use std::path::PathBuf;
use wgraph::{Device, Weights};
use wgraph_models::chat::{ChatPrompter, Message, TextStream};

#[derive(clap::Args)]
pub(crate) struct Args {
    /// A LLaMA-style chat checkpoint directory (with a chat template in
    /// tokenizer_config.json) or GGUF file (`tokenizer.chat_template`).
    model: PathBuf,
    /// The user's message.
    message: String,
    /// A system message before it.
    #[arg(long)]
    system: Option<String>,
    #[arg(long, default_value_t = 256)]
    max_new_tokens: usize,
}

pub(crate) fn exec(args: &Args) -> Result<()> {
    let config = wgraph_models::HfConfig::from_dir(&args.model)?;
    if config.model_type()? != "llama" {
        return Err(format!("chat supports model_type `llama`, not `{}`", config.model_type()?).into());
    }
    let cfg = wgraph_models::llama::LlamaConfig::from_hf(&config)?;
    let prompter = ChatPrompter::open(&args.model, &cfg.eos_token_ids).map_err(|e| e.to_string())?;
    let mut messages: Vec<Message> = args.system.iter().map(|s| Message::new("system", s.as_str())).collect();
    messages.push(Message::new("user", args.message.as_str()));
    let ids = prompter.prompt_ids(&messages).map_err(|e| e.to_string())?;
    let weights = Weights::from_dir(&args.model)?;
    let device = Device::new()?;
    let bar = step("checking weights and compiling");
    let generator =
        wgraph_models::generate::Generator::for_one_generation(cfg, weights, &device, ids.len(), args.max_new_tokens)?;
    bar.finish_and_clear();
    if ids.len() >= generator.context() {
        return Err(format!(
            "the templated prompt has {} tokens; the model's context is {} positions: shorten the message",
            ids.len(),
            generator.context()
        )
        .into());
    }
    let mut text = TextStream::new(prompter.tokenizer());
    let mut out = std::io::stdout().lock();
    // The first error (a closed stdout, a token the tokenizer cannot
    // decode) stops printing; generation's own error comes first.
    let mut failure: Option<crate::CliError> = None;
    generator.greedy_streaming(&ids, args.max_new_tokens, prompter.stop_ids(), |t| {
        if failure.is_none() {
            let piece = text.push(t).map_err(crate::error::failed);
            failure = match piece {
                Ok(p) => out.write_all(p.as_bytes()).and_then(|_| out.flush()).err().map(Into::into),
                Err(e) => Some(e),
            };
        }
    })?;
    drop(out);
    if let Some(e) = failure {
        return Err(e);
    }
    say!("");
    Ok(())
}
