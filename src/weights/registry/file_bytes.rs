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

    /// Drops the file's pages from this process's resident memory; they
    /// stay in the page cache and the next read faults them back in. A
    /// model's upload calls it as it goes: the device holds its own copy,
    /// and mapped pages touched on the way would otherwise count against
    /// the process's peak memory a second time.
    pub(crate) fn release_pages(&self) {
        #[cfg(unix)]
        if let FileBytes::Mapped(map) = self {
            // SAFETY: the mapping is private and read-only, so MADV_DONTNEED
            // discards nothing that cannot be read again from the file.
            let _ = unsafe { map.unchecked_advise(memmap2::UncheckedAdvice::DontNeed) };
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
