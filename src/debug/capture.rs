//! Captures: safetensors files of named intermediates whose
//! `execution_order` metadata (a JSON list of names) records the order the
//! values were computed in. `wgraph run --dump` writes them and
//! `tools/torch_dump.py` writes the PyTorch side; `compare` reads both in
//! that order.

use crate::graph::NamedTensors;
use crate::weights::{save_safetensors, FileBytes, WeightError, Weights};
use std::collections::HashMap;
use std::path::Path;

/// The metadata key holding the execution order.
pub const EXECUTION_ORDER: &str = "execution_order";

/// Writes `tensors` with their order as metadata (atomically).
pub fn write_dump(path: impl AsRef<Path>, tensors: &NamedTensors) -> Result<(), WeightError> {
    save_safetensors(path, tensors, Some(dump_metadata(tensors)))
}

/// The bytes of a dump file (`path` names it in errors), for writing it
/// together with other files ([`crate::io::write_atomic_all`]).
pub fn dump_bytes(path: &Path, tensors: &NamedTensors) -> Result<Vec<u8>, WeightError> {
    crate::weights::safetensors_bytes(path, tensors, Some(dump_metadata(tensors)))
}

/// The metadata that keeps a dump's execution order.
fn dump_metadata(tensors: &NamedTensors) -> HashMap<String, String> {
    let order: Vec<&str> = tensors.names().collect();
    let order = serde_json::to_string(&order).unwrap_or_else(|_| "[]".into());
    HashMap::from([(EXECUTION_ORDER.to_string(), order)])
}

/// A dump's tensor names in execution order (names the metadata does not
/// list follow in file order), and the file's metadata.
pub fn dump_names(path: impl AsRef<Path>) -> Result<(Vec<String>, HashMap<String, String>), WeightError> {
    let path = path.as_ref();
    let io = |source| WeightError::Io { path: path.into(), source };
    if !std::fs::metadata(path).map_err(io)?.is_file() {
        return Err(WeightError::NotAFile { path: path.into(), kind: "not a regular file" });
    }
    let map = FileBytes::open(path).map_err(io)?;
    let (_, meta) = safetensors::SafeTensors::read_metadata(&map)
        .map_err(|source| WeightError::Parse { path: path.into(), source })?;
    let metadata = meta.metadata().clone().unwrap_or_default();
    let order: Vec<String> =
        metadata.get(EXECUTION_ORDER).and_then(|o| serde_json::from_str(o).ok()).unwrap_or_default();
    let rank = |name: &str, offset: usize| order.iter().position(|o| o == name).unwrap_or(order.len() + offset);
    let mut names: Vec<(usize, String)> =
        meta.tensors().into_iter().map(|(n, i)| (rank(&n, i.data_offsets.0), n)).collect();
    names.sort();
    Ok((names.into_iter().map(|(_, n)| n).collect(), metadata))
}

/// Reads every tensor of a dump, in execution order.
pub fn read_dump(path: impl AsRef<Path>) -> Result<NamedTensors, WeightError> {
    let path = path.as_ref();
    let (names, _) = dump_names(path)?;
    let weights = Weights::open([path])?;
    let tensors = names.into_iter().map(|n| weights.read(&n).map(|t| (n, t))).collect::<Result<_, _>>()?;
    Ok(NamedTensors(tensors))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::Tensor;

    #[test]
    fn a_dump_reads_back_in_its_execution_order_not_name_order() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("dump.safetensors");
        let tensors = NamedTensors(vec![
            ("z.first".into(), Tensor::new([2], vec![1f32, 2.0]).unwrap()),
            ("a.second".into(), Tensor::new([1], vec![3f32]).unwrap()),
        ]);
        write_dump(&path, &tensors).unwrap();
        assert_eq!(read_dump(&path).unwrap(), tensors);
        let (names, meta) = dump_names(&path).unwrap();
        assert_eq!(names, ["z.first", "a.second"]);
        assert_eq!(meta[EXECUTION_ORDER], r#"["z.first","a.second"]"#);
    }
}
