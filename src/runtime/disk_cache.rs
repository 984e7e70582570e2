//! Compiled pipelines kept on disk between runs (wgpu's `PipelineCache`,
//! a Vulkan `VkPipelineCache` underneath): loaded when a device opens,
//! written back atomically after a model created pipelines the file did
//! not hold yet.
//!
//! One file per adapter class: wgpu's [`wgpu::util::pipeline_cache_key`]
//! (backend, vendor, device) plus a hash of the adapter name, driver,
//! driver info and the wgpu version, so a driver upgrade starts a new file
//! instead of feeding old data to a new driver. The file is only ever a
//! cache: deleting it costs one slower start, and data that fails wgpu's
//! own validation (truncated, corrupt, another device) is dropped by
//! `fallback: true` and replaced on the next write.

use crate::io::stable_hash;
use crate::settings::{level, Settings};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use web_time::Instant;

/// The wgpu major version in Cargo.toml: pipeline data from another wgpu
/// is refused by wgpu anyway, a new file name avoids the round trip (a
/// unit test keeps this in step with Cargo.toml).
pub(crate) const WGPU_VERSION: &str = "30";

/// An open pipeline cache and the file it came from.
pub(crate) struct DiskCache {
    cache: wgpu::PipelineCache,
    path: PathBuf,
    /// What the file held when loaded or last written (to skip writes that
    /// would change nothing).
    saved: Mutex<Vec<u8>>,
    /// Bytes read from the file when the device opened (0: no file).
    loaded_bytes: usize,
    settings: Settings,
}

/// What the disk cache did in this process, for `WGRAPH_DEBUG` and tests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PipelineCacheStatus {
    /// The cache file.
    pub path: PathBuf,
    /// Bytes read from it when the device opened (0 when there was none).
    pub loaded_bytes: usize,
}

/// The cache file's name for `info`, `None` when wgpu has no pipeline
/// cache for its backend.
pub(crate) fn file_name(info: &wgpu::AdapterInfo) -> Option<String> {
    let key = wgpu::util::pipeline_cache_key(info)?;
    let driver = stable_hash(&[&info.name, &info.driver, &info.driver_info, WGPU_VERSION]);
    Some(format!("{key}_{driver:016x}.bin"))
}

impl DiskCache {
    /// Opens the cache for this device in `dir`; `None` when the device
    /// has no `PIPELINE_CACHE` feature or the backend has no cache key.
    /// A missing or unreadable file starts an empty cache.
    pub(crate) fn open(
        device: &wgpu::Device,
        info: &wgpu::AdapterInfo,
        dir: &Path,
        settings: &Settings,
    ) -> Option<DiskCache> {
        if !device.features().contains(wgpu::Features::PIPELINE_CACHE) {
            return None;
        }
        let path = dir.join(file_name(info)?);
        let start = Instant::now();
        let data = std::fs::read(&path).unwrap_or_default();
        // SAFETY: wgpu requires the data to come from `get_data` on a
        // compatible adapter. The file only ever holds what `get_data`
        // returned, and what does not (edited, truncated, another driver)
        // fails wgpu's header and hash check and, with `fallback`, is
        // dropped for an empty cache; the Vulkan driver checks its own
        // header (vendor, device, pipelineCacheUUID) again.
        let cache = unsafe {
            device.create_pipeline_cache(&wgpu::PipelineCacheDescriptor {
                label: Some("wgraph"),
                data: (!data.is_empty()).then_some(&data[..]),
                fallback: true,
            })
        };
        if settings.shows(level::PASSES) {
            eprintln!(
                "wgraph: pipeline cache: loaded {} bytes from {} in {:.3} ms",
                data.len(),
                path.display(),
                start.elapsed().as_secs_f64() * 1e3
            );
        }
        let loaded_bytes = data.len();
        Some(DiskCache { cache, path, saved: Mutex::new(data), loaded_bytes, settings: settings.clone() })
    }

    /// The cache to pass to pipeline creation.
    pub(crate) fn cache(&self) -> &wgpu::PipelineCache {
        &self.cache
    }

    /// What was loaded, and from where.
    pub(crate) fn status(&self) -> PipelineCacheStatus {
        PipelineCacheStatus { path: self.path.clone(), loaded_bytes: self.loaded_bytes }
    }

    /// Writes the cache's data back when it differs from the file's. A
    /// failure is logged, never an error: the run does not depend on it.
    pub(crate) fn save(&self) {
        let start = Instant::now();
        let Some(data) = self.cache.get_data() else { return };
        let Ok(mut saved) = self.saved.lock() else { return };
        if *saved == data {
            return;
        }
        let written = self
            .path
            .parent()
            .map_or(Ok(()), std::fs::create_dir_all)
            .and_then(|()| crate::io::write_atomic(&self.path, &data));
        match written {
            Ok(()) => {
                if self.settings.shows(level::PASSES) {
                    eprintln!(
                        "wgraph: pipeline cache: wrote {} bytes to {} in {:.3} ms",
                        data.len(),
                        self.path.display(),
                        start.elapsed().as_secs_f64() * 1e3
                    );
                }
                *saved = data;
            }
            Err(e) => {
                tracing::warn!(path = %self.path.display(), error = %e, "cannot write the pipeline cache");
                if self.settings.shows(level::PASSES) {
                    eprintln!("wgraph: pipeline cache: cannot write {}: {e}", self.path.display());
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wgpu_version_matches_cargo_toml() {
        let toml = include_str!("../../Cargo.toml");
        assert!(toml.contains(&format!("wgpu = {{ version = \"{WGPU_VERSION}\"")), "update WGPU_VERSION");
    }

    #[test]
    fn the_file_name_changes_with_the_driver() {
        let info = |driver_info: &str| wgpu::AdapterInfo {
            name: "llvmpipe".into(),
            vendor: 0x10005,
            device: 0,
            device_type: wgpu::DeviceType::Cpu,
            device_pci_bus_id: String::new(),
            driver: "llvmpipe".into(),
            driver_info: driver_info.into(),
            backend: wgpu::Backend::Vulkan,
            subgroup_min_size: 8,
            subgroup_max_size: 8,
            transient_saves_memory: None,
            limit_bucket: None,
        };
        let a = file_name(&info("Mesa 22.3.6")).unwrap();
        assert!(a.starts_with("wgpu_pipeline_cache_vulkan_"), "{a}");
        assert_ne!(a, file_name(&info("Mesa 23.0.0")).unwrap());
        assert_eq!(a, file_name(&info("Mesa 22.3.6")).unwrap());
        let gl = wgpu::AdapterInfo { backend: wgpu::Backend::Gl, ..info("x") };
        assert_eq!(file_name(&gl), None);
    }
}
