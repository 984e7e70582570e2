//! The kernel sources naga has validated, kept in wgraph's cache directory
//! (one file per wgraph and naga version) so a warm start skips validating
//! them again: on CPU drivers validation of large unrolled kernels is a
//! large part of a warm start (BENCHMARKS.md, "Cold start and warm start").
//! wgpu still parses every source when it creates the pipeline. The file
//! is a cache: unreadable lines are ignored, deleting it costs one
//! validation, and it is written atomically.

use crate::compile::validate::{source_hash, sources};
use crate::compile::Program;
use std::collections::HashSet;
use std::path::{Path, PathBuf};

/// The file for this wgraph and naga in `dir`.
pub(crate) fn path(dir: &Path) -> PathBuf {
    dir.join(format!("validated-kernels-{}-naga{}.txt", env!("CARGO_PKG_VERSION"), super::disk_cache::WGPU_VERSION))
}

/// The hashes listed at `path` (none when there is no readable file).
pub(crate) fn load(path: &Path) -> HashSet<u64> {
    let Ok(text) = std::fs::read_to_string(path) else { return HashSet::new() };
    text.lines().filter_map(|l| u64::from_str_radix(l.trim(), 16).ok()).collect()
}

/// Adds `program`'s sources to the list at `path` if it lacks any (a
/// failure to write only costs a later validation).
pub(crate) fn record(path: &Path, known: &HashSet<u64>, program: &Program) {
    let new: HashSet<u64> = sources(program).map(source_hash).filter(|h| !known.contains(h)).collect();
    if new.is_empty() {
        return;
    }
    let mut all: Vec<u64> = load(path).into_iter().chain(known.iter().copied()).chain(new).collect();
    all.sort_unstable();
    all.dedup();
    let text: String = all.iter().map(|h| format!("{h:016x}\n")).collect();
    let written = path
        .parent()
        .map_or(Ok(()), std::fs::create_dir_all)
        .and_then(|_| crate::io::write_atomic(path, text.as_bytes()));
    if let Err(e) = written {
        tracing::warn!(path = %path.display(), error = %e, "cannot write the validated-kernels list");
    }
}
