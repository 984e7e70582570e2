//! Sentence embeddings with the real all-MiniLM-L6-v2 on the GPU, and their
//! cosine similarity matrix.
//!
//!     ./scripts/fetch_minilm.sh
//!     cargo run --release --example embed -- [MODEL_DIR] [TEXT...]

use wgraph::Device;
use wgraph_models::embed::{cosine, SentenceEmbedder};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let dir = args.next().unwrap_or_else(|| ".cache/all-MiniLM-L6-v2".into());
    let mut texts: Vec<String> = args.collect();
    if texts.is_empty() {
        texts = [
            "waste of money",
            "terrible product, I want a refund",
            "best purchase all year",
            "the parcel arrived on time",
        ]
        .map(String::from)
        .to_vec();
    }
    let device = Device::new()?;
    let started = std::time::Instant::now();
    let embedder = SentenceEmbedder::open(&dir, &device)?;
    println!("loaded {dir} on {} in {:.1} s", device.describe(), started.elapsed().as_secs_f64());
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let started = std::time::Instant::now();
    let vectors = embedder.embed(&refs)?;
    println!("embedded {} texts in {:.0} ms\n", texts.len(), started.elapsed().as_secs_f64() * 1e3);
    let width = texts.iter().map(|t| t.chars().count()).max().unwrap_or(0).min(40);
    print!("{:width$}", "");
    for i in 0..texts.len() {
        print!("  [{i}]  ");
    }
    println!();
    for (i, t) in texts.iter().enumerate() {
        let label: String = t.chars().take(width).collect();
        print!("{label:width$}");
        for j in 0..texts.len() {
            print!(" {:+.3}", cosine(&vectors[i], &vectors[j]));
        }
        println!("  [{i}]");
    }
    Ok(())
}
