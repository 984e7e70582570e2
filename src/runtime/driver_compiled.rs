//! Which programs' tuned kernels the driver has already compiled into its
//! own shader cache (Mesa's, for lavapipe): one empty marker file per
//! adapter and set of kernel sources, in wgraph's cache directory, written
//! after a background compile finished. A `TieredModel` that finds its
//! marker skips the quick tier: the tuned kernels load from the driver's
//! cache at their first dispatch.
//!
//! A marker only predicts: if Mesa's cache was cleared since, the tuned
//! kernels compile at their first dispatch, as without tiers (slow once,
//! never wrong). Deleting the marker directory restores the quick start.

use super::disk_cache::WGPU_VERSION;
use crate::compile::Program;
use crate::io::stable_hash;
use std::path::{Path, PathBuf};

/// The marker of `program`'s kernels (and few-rows variants) on the
/// adapter `info`, under `dir`.
pub(crate) fn marker_path(dir: &Path, info: &wgpu::AdapterInfo, program: &Program) -> PathBuf {
    let mut sources: Vec<&str> = program
        .kernels
        .iter()
        .flat_map(|k| std::iter::once(k.wgsl.as_str()).chain(k.few_rows.as_ref().map(|v| v.wgsl.as_str())))
        .collect();
    sources.sort_unstable();
    sources.dedup();
    let mut parts = vec![info.name.as_str(), info.driver.as_str(), info.driver_info.as_str(), WGPU_VERSION];
    parts.extend(sources);
    dir.join("driver-compiled").join(format!("{:016x}", stable_hash(&parts)))
}

/// Whether the marker at `path` exists.
pub(crate) fn is_marked(path: &Path) -> bool {
    path.is_file()
}

/// Writes the marker at `path` (atomically; a failure only costs the next
/// process its quick start, so it is logged, not returned).
pub(crate) fn mark(path: &Path) {
    let written = path
        .parent()
        .map_or(Ok(()), std::fs::create_dir_all)
        .and_then(|()| crate::io::write_atomic(path, b"the driver's shader cache holds these kernels\n"));
    if let Err(e) = written {
        tracing::warn!(path = %path.display(), error = %e, "cannot write the compiled-kernels marker");
    }
}
