//! Compute pipelines: each created inside error scopes, so a driver
//! refusal is a typed error naming the kernel, and cached on the device by
//! WGSL source. Layers of the same shape share their kernels, and compiling
//! a model again costs nothing: CPU drivers take seconds for the large
//! matmul kernels. A shared pipeline keeps the label of the kernel that
//! created it; errors at creation always name the kernel being compiled.
//!
//! The pipelines a model lacks can be created on several threads at once
//! (`WGRAPH_PIPELINE_THREADS`; error scopes are per thread). The default
//! is one thread: on the 2-core project machine two threads do not make
//! MiniLM's pipeline creation measurably shorter (BENCHMARKS.md, "Cold
//! start and warm start"), and lavapipe compiles kernels at their first
//! dispatch, not here.

use super::device::Device;
use super::error::RuntimeError;
use super::pipeline_cache::Compiled;
use crate::compile::KernelSpec;
use crate::settings::{level, Settings};
use std::borrow::Cow;
use std::collections::HashSet;

/// The pipelines of `kernels`, in order, from the device's cache or created
/// now (those missing on `WGRAPH_PIPELINE_THREADS` threads), and how many
/// were created.
pub(super) async fn pipelines_for(
    device: &Device,
    kernels: &[KernelSpec],
) -> Result<(Vec<Compiled>, usize), RuntimeError> {
    if device.settings().shows(level::KERNELS) {
        for k in kernels {
            dump_kernel(device.settings(), &k.name, &k.wgsl);
        }
    }
    // Each distinct missing source once: identical layers share a kernel.
    let mut seen = HashSet::new();
    let missing: Vec<&KernelSpec> =
        kernels.iter().filter(|k| device.pipelines.get(&k.wgsl).is_none() && seen.insert(&k.wgsl)).collect();
    let threads = device.settings().pipeline_threads.unwrap_or(1).clamp(1, missing.len().max(1));
    if threads == 1 || cfg!(target_arch = "wasm32") {
        for k in &missing {
            let compiled = create(device, k).await?;
            device.pipelines.insert(&k.wgsl, &compiled);
        }
    } else {
        #[cfg(not(target_arch = "wasm32"))]
        create_on_threads(device, &missing, threads)?;
    }
    let mut compiled = Vec::with_capacity(kernels.len());
    for k in kernels {
        compiled.push(match device.pipelines.get(&k.wgsl) {
            Some(hit) => hit,
            // Only if the in-memory cache lost an entry: create it here.
            None => create(device, k).await?,
        });
    }
    Ok((compiled, missing.len()))
}

/// Creates `missing` on `threads` threads (error scopes are per thread).
#[cfg(not(target_arch = "wasm32"))]
fn create_on_threads(device: &Device, missing: &[&KernelSpec], threads: usize) -> Result<(), RuntimeError> {
    // Round-robin, so each thread gets a mix of large and small kernels.
    std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|t| {
                let mine: Vec<&KernelSpec> = missing.iter().skip(t).step_by(threads).copied().collect();
                scope.spawn(move || -> Result<(), RuntimeError> {
                    mine.iter().try_for_each(|k| {
                        pollster::block_on(create(device, k)).map(|c| device.pipelines.insert(&k.wgsl, &c))
                    })
                })
            })
            .collect();
        workers.into_iter().try_for_each(|w| {
            w.join().unwrap_or_else(|_| {
                Err(RuntimeError::Gpu { what: "creating pipelines".into(), detail: "a thread panicked".into() })
            })
        })
    })
}

/// Creates kernel `k`'s pipeline (through the disk cache when there is
/// one). Native drivers answer the error scopes at once; the browser
/// answers them asynchronously.
async fn create(device: &Device, k: &KernelSpec) -> Result<Compiled, RuntimeError> {
    let dev = &device.device;
    let validation = dev.push_error_scope(wgpu::ErrorFilter::Validation);
    let internal = dev.push_error_scope(wgpu::ErrorFilter::Internal);
    let module = dev.create_shader_module(wgpu::ShaderModuleDescriptor {
        label: Some(&k.name),
        source: wgpu::ShaderSource::Wgsl(Cow::Borrowed(&k.wgsl)),
    });
    // An explicit layout: automatic layouts drop bindings the shader never
    // reads (an unused params buffer).
    let entry = |binding: u32, read_only: bool| wgpu::BindGroupLayoutEntry {
        binding,
        visibility: wgpu::ShaderStages::COMPUTE,
        ty: wgpu::BindingType::Buffer {
            ty: wgpu::BufferBindingType::Storage { read_only },
            has_dynamic_offset: false,
            min_binding_size: None,
        },
        count: None,
    };
    // Output, inputs, params, then the co-outputs (written).
    let params = k.inputs.len() as u32 + 1;
    let mut entries: Vec<wgpu::BindGroupLayoutEntry> =
        (0..params + 1 + k.co_outputs.len() as u32).map(|b| entry(b, b != 0 && b <= params)).collect();
    for (j, n) in k.inputs.iter().enumerate() {
        let format = if k.word_textures.contains(n) {
            wgpu::TextureFormat::Rgba32Uint
        } else if k.textures.contains(n) {
            wgpu::TextureFormat::Rgba32Float
        } else {
            continue;
        };
        entries[j + 1].ty = wgpu::BindingType::StorageTexture {
            access: wgpu::StorageTextureAccess::ReadOnly,
            format,
            view_dimension: wgpu::TextureViewDimension::D2,
        };
    }
    let group =
        dev.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor { label: Some(&k.name), entries: &entries });
    let layout = dev.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
        label: Some(&k.name),
        bind_group_layouts: &[Some(&group)],
        immediate_size: 0,
    });
    let pipeline = dev.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
        label: Some(&k.name),
        layout: Some(&layout),
        module: &module,
        entry_point: Some("main"),
        compilation_options: Default::default(),
        cache: device.disk_cache.as_ref().map(|c| c.cache()),
    });
    let (internal, validation) = (internal.pop(), validation.pop());
    let errors = [internal.await, validation.await];
    if let Some(e) = errors.into_iter().flatten().next() {
        return Err(RuntimeError::Pipeline {
            kernel: k.name.clone(),
            node: k.root.index(),
            error: e.to_string(),
            source_code: k.wgsl.clone(),
        });
    }
    Ok((pipeline, group))
}

/// `WGRAPH_DEBUG=4`: every kernel's WGSL, printed and written to the dump
/// directory (`WGRAPH_DUMP_DIR`, default `wgraph-dump/`).
fn dump_kernel(settings: &Settings, name: &str, wgsl: &str) {
    eprintln!("wgraph: kernel {name}:\n{wgsl}");
    let dir = &settings.dump_dir;
    let file: String = name.chars().map(|c| if c.is_ascii_alphanumeric() || c == '+' { c } else { '_' }).collect();
    if std::fs::create_dir_all(dir).is_ok() {
        let _ = std::fs::write(dir.join(format!("{file}.wgsl")), wgsl);
    }
}
