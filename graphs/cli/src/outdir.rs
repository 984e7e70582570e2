//! Writing a whole output directory atomically: everything goes into a
//! temporary sibling directory, each file and the directory are fsynced,
//! and one rename puts it in place, so OUT_DIR is never half written.

use crate::error::{bad, failed, CliError};
use std::path::{Component, Path, PathBuf};

/// A directory being written; removed unless [`OutputDir::commit`] runs.
pub(crate) struct OutputDir {
    /// Where the result goes (absolute, symlinks of existing parts resolved).
    target: PathBuf,
    /// The temporary sibling being filled.
    tmp: PathBuf,
    /// What the user typed, for messages.
    shown: PathBuf,
    committed: bool,
}

/// `path` made absolute with the existing part of it canonicalized, so two
/// spellings of one directory compare equal even when it does not exist yet.
fn resolve(path: &Path) -> std::io::Result<PathBuf> {
    let absolute = std::path::absolute(path)?;
    let mut existing = absolute.clone();
    let mut rest = Vec::new();
    while !existing.exists() {
        match (existing.file_name(), existing.parent()) {
            (Some(name), Some(parent)) => {
                rest.push(name.to_os_string());
                existing = parent.to_path_buf();
            }
            _ => break,
        }
    }
    let mut resolved = existing.canonicalize()?;
    for part in rest.into_iter().rev() {
        resolved.push(part);
    }
    // `a/..` in the part that does not exist yet.
    let mut clean = PathBuf::new();
    for c in resolved.components() {
        match c {
            Component::ParentDir => {
                clean.pop();
            }
            Component::CurDir => {}
            c => clean.push(c),
        }
    }
    Ok(clean)
}

impl OutputDir {
    /// Checks `out` and creates the temporary sibling to write into. Refuses
    /// (bad input) the model directory itself, a directory holding one of
    /// the inputs, something that is not a directory, and an existing
    /// non-empty directory unless `force`. Missing parents are created, as
    /// HF's `save_pretrained` does.
    pub(crate) fn prepare(out: &Path, model_dir: &Path, inputs: &Path, force: bool) -> Result<OutputDir, CliError> {
        let shown = out.to_path_buf();
        let target = resolve(out).map_err(|e| bad(format!("--output {}: {e}", out.display())))?;
        let model = resolve(model_dir).map_err(|e| bad(format!("{}: {e}", model_dir.display())))?;
        let batches = resolve(inputs).map_err(|e| bad(format!("--inputs {}: {e}", inputs.display())))?;
        if target == model {
            return Err(bad(format!(
                "--output {} is the model directory {}: refusing to overwrite the checkpoint being trained; \
                 choose another directory",
                out.display(),
                model_dir.display()
            )));
        }
        for (what, path, shown_as) in
            [("the model directory", &model, model_dir), ("the inputs file", &batches, inputs)]
        {
            if path.starts_with(&target) {
                return Err(bad(format!(
                    "--output {} contains {what} {}: refusing to replace it",
                    out.display(),
                    shown_as.display()
                )));
            }
        }
        let (Some(parent), Some(name)) = (target.parent(), target.file_name()) else {
            return Err(bad(format!("--output {} is not a directory one can create or replace", out.display())));
        };
        if target.exists() {
            if !target.is_dir() {
                return Err(bad(format!("--output {} exists and is not a directory", out.display())));
            }
            let mut entries = std::fs::read_dir(&target)
                .map_err(|e| bad(format!("--output {}: cannot read it: {e}", out.display())))?;
            if entries.next().is_some() && !force {
                return Err(bad(format!(
                    "--output {} exists and is not empty; pass --force to replace it",
                    out.display()
                )));
            }
        }
        std::fs::create_dir_all(parent).map_err(|e| {
            bad(format!("--output {}: cannot create its parent directory {}: {e}", out.display(), parent.display()))
        })?;
        let tmp = parent.join(format!(".{}.wgraph-tmp-{}", name.to_string_lossy(), std::process::id()));
        if tmp.exists() {
            std::fs::remove_dir_all(&tmp).map_err(|e| bad(format!("cannot remove stale {}: {e}", tmp.display())))?;
        }
        std::fs::create_dir(&tmp)
            .map_err(|e| bad(format!("--output {}: cannot write in {}: {e}", out.display(), parent.display())))?;
        Ok(OutputDir { target, tmp, shown, committed: false })
    }

    /// Where to write `file_name` before the commit.
    pub(crate) fn file(&self, file_name: &str) -> PathBuf {
        self.tmp.join(file_name)
    }

    /// Copies `from` into the directory under its own name, fsynced.
    pub(crate) fn copy_in(&self, from: &Path) -> Result<(), CliError> {
        let name = from.file_name().ok_or_else(|| failed(format!("{} has no file name", from.display())))?;
        let to = self.tmp.join(name);
        std::fs::copy(from, &to).map_err(|e| failed(format!("copying {}: {e}", from.display())))?;
        sync(&to).map_err(|e| failed(format!("{}: {e}", to.display())))
    }

    /// Puts the directory in place: fsync it, then rename it over OUT_DIR.
    /// An existing OUT_DIR (empty, or replaced with --force) is first
    /// renamed aside and removed after, so at every moment OUT_DIR is the
    /// old directory, absent, or the complete new one.
    pub(crate) fn commit(mut self) -> Result<(), CliError> {
        let io = |what: &str, e: std::io::Error| failed(format!("--output {}: {what}: {e}", self.shown.display()));
        sync(&self.tmp).map_err(|e| io("fsync", e))?;
        let parent = self.target.parent().unwrap_or(Path::new(".")).to_path_buf();
        if self.target.exists() {
            let name = self.target.file_name().unwrap_or_default().to_string_lossy().to_string();
            let old = parent.join(format!(".{name}.wgraph-old-{}", std::process::id()));
            std::fs::rename(&self.target, &old).map_err(|e| io("moving the old directory aside", e))?;
            if let Err(e) = std::fs::rename(&self.tmp, &self.target) {
                let _ = std::fs::rename(&old, &self.target);
                return Err(io("renaming the new directory into place", e));
            }
            std::fs::remove_dir_all(&old).map_err(|e| io("removing the old directory", e))?;
        } else {
            std::fs::rename(&self.tmp, &self.target).map_err(|e| io("renaming the new directory into place", e))?;
        }
        self.committed = true;
        // Make the rename itself durable.
        let _ = sync(&parent);
        Ok(())
    }
}

impl Drop for OutputDir {
    fn drop(&mut self) {
        if !self.committed {
            let _ = std::fs::remove_dir_all(&self.tmp);
        }
    }
}

/// fsync a file or (on Unix) a directory.
fn sync(path: &Path) -> std::io::Result<()> {
    if path.is_dir() && !cfg!(unix) {
        return Ok(());
    }
    std::fs::File::open(path)?.sync_all()
}
