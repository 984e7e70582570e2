//! `wgraph inspect FILE`: a safetensors or GGUF file's tensors and
//! metadata (for GGUF: each tensor's ggml type, HF name, bytes per type).

use crate::Result;
use std::collections::BTreeMap;
use std::path::PathBuf;
use wgraph::weights::gguf::{hf_name, GgufFile};
use wgraph::Weights;

#[derive(clap::Args)]
pub(crate) struct Args {
    /// A safetensors or GGUF file.
    file: PathBuf,
}

pub(crate) fn exec(args: &Args) -> Result<()> {
    let file = &args.file;
    let weights = Weights::open([file])?;
    if let Some(gguf) = weights.gguf() {
        return gguf_listing(file, gguf);
    }
    let (names, metadata) = wgraph::debug::dump_names(file)?;
    // Tensors in the file's order (a dump's is the execution order).
    let tensors: Vec<_> = names.iter().filter_map(|n| weights.info(n).map(|i| (n, i))).collect();
    let total: usize = tensors.iter().map(|(_, i)| i.shape.iter().product::<usize>()).sum();
    say!("{}: {} tensors, {total} elements", file.display(), tensors.len());
    for (name, info) in &tensors {
        say!("  {name:<60} {:<5} {:?}", info.file_dtype, info.shape);
    }
    if !metadata.is_empty() {
        let mut m: Vec<_> = metadata.iter().collect();
        m.sort();
        say!("metadata:");
        for (k, v) in m {
            say!("  {k} = {v}");
        }
    }
    Ok(())
}

/// A GGUF file: version, metadata in file order (long arrays shortened),
/// tensors with their types, shapes and HF names, and bytes per type.
fn gguf_listing(file: &std::path::Path, gguf: &GgufFile) -> Result<()> {
    let bytes: u64 = gguf.tensors.iter().map(|t| t.bytes).sum();
    say!("{}: GGUF v{}, {} tensors, {bytes} bytes of data", file.display(), gguf.version, gguf.tensors.len());
    say!("metadata:");
    for (k, v) in &gguf.metadata {
        say!("  {k} = {v} ({})", v.type_name());
    }
    let arch = gguf.architecture().unwrap_or_default();
    let mut per_type: BTreeMap<&str, (usize, u64)> = BTreeMap::new();
    say!("tensors:");
    for t in &gguf.tensors {
        let hf = hf_name(arch, &t.name).map(|n| format!("  ({n})")).unwrap_or_default();
        say!("  {:<32} {:<5} {:?}{hf}", t.name, t.ggml_type.name(), t.shape());
        let entry = per_type.entry(t.ggml_type.name()).or_default();
        (entry.0, entry.1) = (entry.0 + 1, entry.1 + t.bytes);
    }
    say!("bytes per type:");
    for (name, (count, b)) in per_type {
        say!("  {name:<5} {count} tensors, {b} bytes");
    }
    Ok(())
}
