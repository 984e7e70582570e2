//! Where outputs may go: never over one of the command's own inputs.

use crate::error::{bad, CliError};
use std::path::{Path, PathBuf};

/// The tool never writes over one of its own inputs (the inputs file, the
/// checkpoint's config and weights) nor writes both outputs to one file.
pub(crate) fn refuse_overwriting_inputs(
    model_dir: &Path,
    inputs: &Path,
    output: &Path,
    dump: Option<&Path>,
) -> Result<(), CliError> {
    let canon = |p: &Path| -> PathBuf {
        match (p.parent(), p.file_name()) {
            (Some(dir), Some(name)) => {
                let dir = if dir.as_os_str().is_empty() { Path::new(".") } else { dir };
                dir.canonicalize().map(|d| d.join(name)).unwrap_or_else(|_| p.to_path_buf())
            }
            _ => p.to_path_buf(),
        }
    };
    let dir = model_dir.canonicalize().unwrap_or_else(|_| model_dir.to_path_buf());
    let mut targets = vec![("--output", output)];
    targets.extend(dump.map(|d| ("--dump", d)));
    for (flag, path) in &targets {
        let c = canon(path);
        if c == canon(inputs) {
            return Err(bad(format!("{flag} {} is the inputs file; refusing to overwrite it", path.display())));
        }
        let name = c.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_default();
        let read_by_us = name == "config.json" || (name.starts_with("model") && name.contains(".safetensors"));
        if c.parent() == Some(dir.as_path()) && read_by_us {
            return Err(bad(format!(
                "{flag} {} is part of the checkpoint {}; refusing to overwrite it",
                path.display(),
                model_dir.display()
            )));
        }
    }
    if let Some(d) = dump {
        if canon(d) == canon(output) {
            return Err(bad(format!("--dump and --output are the same file {}", output.display())));
        }
    }
    Ok(())
}

/// Writes the files of one run (outputs, dump) so that they land together
/// or not at all ([`wgraph::io::write_atomic_all`]).
pub(crate) fn write_together(files: &[(&Path, Vec<u8>)]) -> Result<(), wgraph::WeightError> {
    let refs: Vec<(&Path, &[u8])> = files.iter().map(|(p, b)| (*p, b.as_slice())).collect();
    wgraph::io::write_atomic_all(&refs).map_err(|source| {
        let path = files.iter().map(|(p, _)| p.display().to_string()).collect::<Vec<_>>().join(" and ");
        wgraph::WeightError::Write { path: path.into(), source }
    })
}
