//! `wgraph tokenize MODEL TEXT...`: the ids a model's tokenizer gives each
//! text, one comma-separated line per text: `tokenizer.json` of an HF
//! directory, or the tokenizer a GGUF file's metadata describes. A
//! tokenizer that disagrees with the reference is a porting bug of its own.

use crate::Result;
use std::path::PathBuf;

#[derive(clap::Args)]
pub(crate) struct Args {
    /// An HF checkpoint directory (with tokenizer.json) or a GGUF file.
    model: PathBuf,
    /// The texts, each tokenized with the special tokens the model adds.
    #[arg(required = true)]
    texts: Vec<String>,
}

pub(crate) fn exec(args: &Args) -> Result<()> {
    // Each text's own ids: no padding to a batch or a fixed length.
    let tokenizer = wgraph_models::text::unpadded_tokenizer_at(&args.model)?;
    for text in &args.texts {
        let encoding = tokenizer.encode(text.as_str(), true).map_err(|e| format!("tokenizing {text:?}: {e}"))?;
        let ids: Vec<String> = encoding.get_ids().iter().map(u32::to_string).collect();
        say!("{}", ids.join(","));
    }
    Ok(())
}
