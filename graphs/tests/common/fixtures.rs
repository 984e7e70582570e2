//! The committed fixtures of the zoo and the tool (graphs/tests/fixtures,
//! each made by the generator script beside it), found from either crate's
//! tests. Included with `#[path]`.

#![allow(dead_code)]

use std::path::{Path, PathBuf};

/// `graphs/tests/fixtures/<path>`.
pub fn fixture(path: &str) -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = manifest
        .ancestors()
        .map(|d| d.join("tests/fixtures"))
        .find(|d| d.join("models").is_dir())
        .unwrap_or_else(|| panic!("no tests/fixtures/models above {}", manifest.display()));
    dir.join(path)
}

/// A small random HF checkpoint: `graphs/tests/fixtures/models/<name>`.
pub fn model(name: &str) -> PathBuf {
    fixture("models").join(name)
}
