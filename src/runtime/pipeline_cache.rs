//! Pipelines by WGSL source, shared by every model compiled for one
//! device: identical layers share kernels, and compiling a model again
//! costs nothing (CPU drivers take seconds for the large matmul kernels).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// A pipeline and the layout its bind groups are made with.
pub(crate) type Compiled = (wgpu::ComputePipeline, wgpu::BindGroupLayout);

/// Pipelines by WGSL source (the source fixes the bindings too).
#[derive(Clone, Default)]
pub(crate) struct PipelineCache(Arc<Mutex<HashMap<String, Compiled>>>);

impl PipelineCache {
    pub(crate) fn get(&self, wgsl: &str) -> Option<Compiled> {
        self.0.lock().ok().and_then(|cache| cache.get(wgsl).cloned())
    }

    pub(crate) fn insert(&self, wgsl: &str, compiled: &Compiled) {
        if let Ok(mut cache) = self.0.lock() {
            cache.insert(wgsl.to_string(), compiled.clone());
        }
    }
}
