//! The tuning cache: one JSON file per device in wgraph's cache directory
//! (`WGRAPH_PIPELINE_CACHE`), named by a hash of the adapter, driver, CPU
//! model and wgraph version, so a choice measured on one machine is never
//! assumed on another and a new driver starts afresh. Written atomically;
//! a file that cannot be read or parsed, or of another format, is ignored
//! (and replaced by the next write); deleting it only costs re-tuning.

use super::super::device::Device;
use super::super::machine;
use crate::compile::{AdapterKind, MatmulKernel, TuningTable};
use serde_json::Value;
use std::path::{Path, PathBuf};

/// Bumped when a signature's meaning or the kernels' code changes enough
/// that old measurements no longer describe them.
pub(crate) const FORMAT: u64 = 3;

/// What identifies the device a table was measured on.
pub(crate) fn fingerprint(device: &Device) -> Vec<String> {
    let info = device.info();
    let cpu = if device.kind() == AdapterKind::Cpu { machine::cpu_model().unwrap_or_default() } else { String::new() };
    vec![
        info.name.clone(),
        info.driver.clone(),
        info.driver_info.clone(),
        format!("{:?}", info.backend),
        cpu,
        env!("CARGO_PKG_VERSION").to_string(),
    ]
}

/// The cache file for `device` in `dir`.
pub(crate) fn path(dir: &Path, device: &Device) -> PathBuf {
    let parts = fingerprint(device);
    let refs: Vec<&str> = parts.iter().map(String::as_str).collect();
    dir.join(format!("tuning-v{FORMAT}-{:016x}.json", crate::io::stable_hash(&refs)))
}

/// The table stored at `path`: empty when there is none; a file that is
/// not a table of this format is ignored with a warning.
pub(crate) fn load(path: &Path) -> TuningTable {
    let Ok(text) = std::fs::read_to_string(path) else { return TuningTable::default() };
    match parse(&text) {
        Some(table) => table,
        None => {
            tracing::warn!(path = %path.display(), "ignoring an unreadable tuning cache (it is rewritten after tuning)");
            TuningTable::default()
        }
    }
}

/// A table from the file's text, `None` unless it is wholly valid.
pub(crate) fn parse(text: &str) -> Option<TuningTable> {
    let value: Value = serde_json::from_str(text).ok()?;
    if value.get("format")?.as_u64()? != FORMAT {
        return None;
    }
    let mut table = TuningTable::default();
    for (signature, kernel) in value.get("matmul")?.as_object()? {
        let kernel: MatmulKernel = kernel.as_str()?.parse().ok()?;
        table.matmul.insert(signature.clone(), kernel);
    }
    Some(table)
}

#[cfg(not(target_arch = "wasm32"))]
/// Writes `table` for `device` to `path`, atomically.
pub(crate) fn save(path: &Path, device: &Device, table: &TuningTable) -> std::io::Result<()> {
    let matmul: serde_json::Map<String, Value> =
        table.matmul.iter().map(|(s, k)| (s.clone(), Value::String(k.to_string()))).collect();
    let text = serde_json::json!({
        "format": FORMAT,
        "device": fingerprint(device),
        "matmul": matmul,
    });
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let pretty = serde_json::to_string_pretty(&text).map_err(std::io::Error::other)?;
    crate::io::write_atomic(path, pretty.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compile::{REGISTER, REGISTER_SUBGROUP};

    #[test]
    fn only_whole_tables_of_this_format_are_read() {
        let good = r#"{"format": 3, "device": [], "matmul": {"rows=sym batch=<=1 k=384 n=1536 a=N b=T tex": "register 16x8 8x4 sub", "rows=<=16 batch=<=1 k=64 n=64 a=N b=N": "register 8x16 8x8"}}"#;
        let table = parse(good).expect("a valid table");
        assert_eq!(table.matmul.get("rows=sym batch=<=1 k=384 n=1536 a=N b=T tex"), Some(&REGISTER_SUBGROUP));
        assert_eq!(table.matmul.get("rows=<=16 batch=<=1 k=64 n=64 a=N b=N"), Some(&REGISTER));
        for bad in [
            "",
            "{",
            "[]",
            r#"{"format": 1, "matmul": {}}"#,
            r#"{"format": 2, "matmul": {}}"#,
            r#"{"matmul": {}}"#,
            r#"{"format": 3}"#,
            r#"{"format": 3, "matmul": {"x": "register 0x8 8x4"}}"#,
            r#"{"format": 3, "matmul": {"x": 3}}"#,
        ] {
            assert_eq!(parse(bad), None, "{bad:?} read as a table");
        }
    }
}
