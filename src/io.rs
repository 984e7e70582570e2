//! Files wgraph writes are written atomically: a temporary file in the same
//! directory, fsync, then rename, so a reader never sees half a file.
//!
//! Temporary files are registered while they exist, so a program that is
//! interrupted (SIGINT, SIGTERM) can remove them with
//! [`remove_temporary_files`] before it exits; the `wgraph` CLI installs a
//! handler that does. A process killed outright (SIGKILL) cannot clean up:
//! the next write to the same path removes the temporary files such dead
//! processes left (their names carry the writer's pid).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// 64-bit FNV-1a over `parts` (each followed by a separator byte): stable
/// across Rust releases, unlike `DefaultHasher`, so cache files and the
/// sources they list keep their names after a toolchain update.
pub fn stable_hash(parts: &[&str]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for part in parts {
        for &b in part.as_bytes().iter().chain(&[0xff]) {
            h ^= b as u64;
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    h
}

/// Temporary files being written now, by any thread of this process.
static IN_FLIGHT: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

/// The prefix of the temporary files for `path` (`.<name>.tmp-`), and the directory they live in.
fn temporary_prefix(path: &Path) -> (PathBuf, String) {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let file_name = path.file_name().map(|f| f.to_string_lossy().to_string()).unwrap_or_else(|| "out".into());
    (dir, format!(".{file_name}.tmp-"))
}

/// Writes `data` to `path` through a temporary file next to it, so `path`
/// holds either its old contents or all of `data`, never a mix.
pub fn write_atomic(path: &Path, data: &[u8]) -> std::io::Result<()> {
    write_atomic_all(&[(path, data)])
}

/// Writes several files so that they land together: every temporary file is
/// written and synced first, and only then are they renamed into place, one
/// after another. On any error nothing is renamed and every temporary file
/// is removed, so the targets keep their old contents.
pub fn write_atomic_all(files: &[(&Path, &[u8])]) -> std::io::Result<()> {
    let mut written: Vec<(PathBuf, &Path)> = Vec::with_capacity(files.len());
    let result = (|| {
        for &(path, data) in files {
            let (dir, prefix) = temporary_prefix(path);
            remove_stale(&dir, &prefix);
            let tmp = dir.join(format!("{prefix}{}", std::process::id()));
            register(&tmp);
            written.push((tmp.clone(), path));
            let mut f = std::fs::File::create(&tmp)?;
            f.write_all(data)?;
            f.sync_all()?;
        }
        for (tmp, path) in &written {
            std::fs::rename(tmp, path)?;
            unregister(tmp);
        }
        Ok(())
    })();
    if result.is_err() {
        for (tmp, _) in &written {
            let _ = std::fs::remove_file(tmp);
            unregister(tmp);
        }
    }
    result
}

/// Removes every temporary file this process is writing now. For signal
/// handlers: call it, then exit.
pub fn remove_temporary_files() {
    remove_registered(|_| true);
}

/// Removes the registered temporary files `which` selects (tests select
/// their own: other tests' writes are in flight in the same process).
fn remove_registered(which: impl Fn(&Path) -> bool) {
    // A handler may run while a writer holds the lock; a poisoned or busy
    // lock must not stop the cleanup of what is visible.
    let files = match IN_FLIGHT.try_lock() {
        Ok(files) => files.clone(),
        Err(std::sync::TryLockError::Poisoned(p)) => p.into_inner().clone(),
        Err(std::sync::TryLockError::WouldBlock) => return,
    };
    for f in files.iter().filter(|f| which(f)) {
        let _ = std::fs::remove_file(f);
    }
}

fn register(tmp: &Path) {
    if let Ok(mut files) = IN_FLIGHT.lock() {
        files.push(tmp.to_path_buf());
    }
}

fn unregister(tmp: &Path) {
    if let Ok(mut files) = IN_FLIGHT.lock() {
        files.retain(|f| f != tmp);
    }
}

/// Removes temporary files for the same target left by processes that no
/// longer run (killed mid-write). Only on systems with `/proc`, where
/// whether a pid runs can be told; elsewhere they stay.
fn remove_stale(dir: &Path, prefix: &str) {
    if !Path::new("/proc/self").exists() {
        return;
    }
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().to_string();
        let Some(pid) = name.strip_prefix(prefix).and_then(|p| p.parse::<u32>().ok()) else { continue };
        if pid != std::process::id() && !Path::new(&format!("/proc/{pid}")).exists() {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_written_together_replace_their_targets_and_leave_no_temporary_files() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (dir.path().join("a.bin"), dir.path().join("b.bin"));
        std::fs::write(&a, b"old").unwrap();
        write_atomic_all(&[(&a, b"new a"), (&b, b"new b")]).unwrap();
        assert_eq!(std::fs::read(&a).unwrap(), b"new a");
        assert_eq!(std::fs::read(&b).unwrap(), b"new b");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 2, "only the two targets remain");
    }

    #[test]
    fn a_failed_write_keeps_every_old_file_and_removes_the_temporary_ones() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a.bin");
        std::fs::write(&a, b"old").unwrap();
        let missing = dir.path().join("no-such-dir").join("b.bin");
        assert!(write_atomic_all(&[(&a, b"new"), (&missing, b"x")]).is_err());
        assert_eq!(std::fs::read(&a).unwrap(), b"old", "nothing is renamed unless every file was written");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1, "the temporary file of a.bin is gone");
    }

    #[test]
    fn an_interrupt_handler_removes_the_temporary_files_in_flight() {
        let dir = tempfile::tempdir().unwrap();
        let tmp = dir.path().join(".out.safetensors.tmp-1");
        std::fs::write(&tmp, b"half").unwrap();
        register(&tmp);
        // What `remove_temporary_files` does, limited to this test's file.
        remove_registered(|f| f == tmp);
        assert!(!tmp.exists(), "what a signal handler calls removes every registered file");
        unregister(&tmp);
    }

    #[test]
    fn temporary_files_of_dead_writers_are_removed_by_the_next_write() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("out.safetensors");
        // Pid 4194304 is above Linux's pid_max (2^22): never a running process.
        let stale = dir.path().join(".out.safetensors.tmp-4194304");
        std::fs::write(&stale, vec![0u8; 1024]).unwrap();
        let unrelated = dir.path().join(".other.tmp-4194304");
        std::fs::write(&unrelated, b"keep").unwrap();
        write_atomic(&target, b"data").unwrap();
        assert!(!stale.exists(), "a dead writer's temporary file is removed");
        assert!(unrelated.exists(), "another target's files are left alone");
    }
}
