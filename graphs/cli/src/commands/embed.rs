//! `wgraph embed MODEL_DIR TEXT...`: sentence embeddings and their cosine
//! similarities.

use crate::progress::step;
use crate::Result;
use std::path::PathBuf;
use wgraph::Device;
use wgraph_models::embed::{cosine, SentenceEmbedder};

#[derive(clap::Args)]
pub(crate) struct Args {
    /// A sentence-transformers BERT checkpoint such as all-MiniLM-L6-v2.
    model_dir: PathBuf,
    #[arg(required = true)]
    texts: Vec<String>,
}

pub(crate) fn exec(args: &Args) -> Result<()> {
    let device = Device::new()?;
    let bar = step("checking weights and compiling");
    let embedder = SentenceEmbedder::open(&args.model_dir, &device)?;
    bar.finish_and_clear();
    let refs: Vec<&str> = args.texts.iter().map(String::as_str).collect();
    let vectors = embedder.embed(&refs)?;
    for (t, v) in args.texts.iter().zip(&vectors) {
        let head: Vec<String> = v.iter().take(4).map(|x| format!("{x:+.4}")).collect();
        say!("{t:?}: [{}, ...] ({} dims)", head.join(", "), v.len());
    }
    say!("cosine similarities:");
    for (i, a) in vectors.iter().enumerate() {
        let row: Vec<String> = vectors.iter().map(|b| format!("{:+.3}", cosine(a, b))).collect();
        say!("  [{i}] {}", row.join(" "));
    }
    Ok(())
}
