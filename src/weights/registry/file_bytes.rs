//! The bytes of one checkpoint file: memory-mapped where there is a
//! filesystem, owned where they arrived some other way (a browser's
//! `fetch`, bytes a caller already holds).

use std::io;
use std::ops::Deref;
use std::path::Path;

/// A checkpoint file's bytes, read-only.
#[derive(Debug)]
pub(crate) enum FileBytes {
    #[cfg(not(target_arch = "wasm32"))]
    Mapped(memmap2::Mmap),
    Owned(Vec<u8>),
}

impl FileBytes {
    /// The file at `path`: mapped on native targets (a multi-gigabyte
    /// checkpoint is never copied into memory), read where mapping does
    /// not exist.
    pub(crate) fn open(path: &Path) -> io::Result<FileBytes> {
        #[cfg(not(target_arch = "wasm32"))]
        {
            let file = std::fs::File::open(path)?;
            // SAFETY: the mapping is read-only; a checkpoint changed on disk
            // while mapped is outside what any loader can defend against.
            let map = unsafe { memmap2::Mmap::map(&file) }?;
            Ok(FileBytes::Mapped(map))
        }
        #[cfg(target_arch = "wasm32")]
        {
            std::fs::read(path).map(FileBytes::Owned)
        }
    }
}

impl Deref for FileBytes {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        match self {
            #[cfg(not(target_arch = "wasm32"))]
            FileBytes::Mapped(m) => m,
            FileBytes::Owned(v) => v,
        }
    }
}
