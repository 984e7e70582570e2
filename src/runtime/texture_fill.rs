//! Activations a kernel reads as textures (`KernelSpec::texture_copies`):
//! one texture per activation, sized for an allocation's bindings and
//! pooled across activations whose readers do not overlap,
//! filled (for the rows a run has) from the activation's buffer by a copy
//! recorded just before the kernel's dispatch. Copies happen outside compute passes, so the
//! dispatch loops split their pass at each kernel that has some
//! (`record_dispatches`).

use super::error::RuntimeError;
use super::instance::Instance;
use crate::compile::{Program, TextureCopy};
use crate::graph::{Bindings, NodeId};
use std::collections::HashMap;
use std::sync::Arc;

/// One activation copied into its texture before a kernel runs.
pub(super) struct TextureFill {
    buffer: Arc<wgpu::Buffer>,
    texture: wgpu::Texture,
    /// Whether this kernel copies: the first reader of an activation fills
    /// the texture; later readers (q, k and v of one normed state) bind the
    /// same texture, whose contents hold while the activation does.
    copies: bool,
    /// Texels per activation row.
    texels: u32,
    /// Activation rows per texture row.
    fold: u32,
}

/// Per kernel, its fills, and the views its bind group uses, by node.
pub(super) struct Fills {
    pub(super) per_kernel: Vec<Vec<TextureFill>>,
    pub(super) views: Vec<HashMap<NodeId, wgpu::TextureView>>,
    /// Every texture, once.
    textures: Vec<wgpu::Texture>,
}

impl Fills {
    /// Bytes of the textures, each counted once (kernels reading one
    /// activation share its texture, activations one after another share
    /// one from the pool).
    pub(super) fn texture_bytes(&self) -> u64 {
        let texel = |t: &wgpu::Texture| t.format().block_copy_size(None).unwrap_or(16) as u64;
        self.textures.iter().map(|t| t.width() as u64 * t.height() as u64 * texel(t)).sum()
    }
}

/// The textures `program`'s kernels read activations from, at `bindings`,
/// each filled from its node's buffer in `buffers`. An activation's
/// texture is live from its first reader (which fills it) to its last;
/// textures of one size are pooled across activations whose lives do not
/// overlap, as activation buffers share memory slots.
pub(super) fn texture_fills(
    device: &wgpu::Device,
    max_side: u32,
    program: &Program,
    bindings: &Bindings,
    buffers: &HashMap<NodeId, Arc<wgpu::Buffer>>,
) -> Result<Fills, RuntimeError> {
    // The last kernel reading each activation's texture.
    let mut last_reader: HashMap<(NodeId, u32, usize), usize> = HashMap::new();
    for (i, k) in program.kernels.iter().enumerate() {
        for copy in &k.texture_copies {
            last_reader.insert((copy.node, copy.fold, copy.cols), i);
        }
    }
    let mut per_kernel = Vec::with_capacity(program.kernels.len());
    let mut views = Vec::with_capacity(program.kernels.len());
    let mut filled: HashMap<(NodeId, u32, usize), (Arc<wgpu::Buffer>, wgpu::Texture)> = HashMap::new();
    // Textures by (width, height), each free after the kernel its last holder's last reader is.
    let mut pool: HashMap<(u32, u32), Vec<(wgpu::Texture, usize)>> = HashMap::new();
    for (i, k) in program.kernels.iter().enumerate() {
        let (mut fills, mut kernel_views) = (Vec::new(), HashMap::new());
        for copy in &k.texture_copies {
            let key = (copy.node, copy.fold, copy.cols);
            let fill = match filled.get(&key) {
                Some((buffer, texture)) => TextureFill {
                    buffer: buffer.clone(),
                    texture: texture.clone(),
                    texels: (copy.cols / 4) as u32,
                    fold: copy.fold,
                    copies: false,
                },
                None => {
                    let until = last_reader.get(&key).copied().unwrap_or(i);
                    texture_fill(device, max_side, &k.name, copy, bindings, buffers, &mut pool, (i, until))?
                }
            };
            filled.insert(key, (fill.buffer.clone(), fill.texture.clone()));
            kernel_views.insert(copy.node, fill.texture.create_view(&Default::default()));
            fills.push(fill);
        }
        per_kernel.push(fills);
        views.push(kernel_views);
    }
    let textures = pool.into_values().flatten().map(|(texture, _)| texture).collect();
    Ok(Fills { per_kernel, views, textures })
}

/// A copy's activation rows at `bindings` and the texture side that holds
/// them: a texture row holds `fold` activation rows, but never wider than
/// the rows there are (a one-row activation, a decode step, gets one row's
/// texels, not `fold` rows' worth).
pub(super) fn copy_size(copy: &TextureCopy, bindings: &Bindings) -> (usize, u32, usize) {
    let rows = copy.rows.eval(bindings).unwrap_or(0);
    let texels = (copy.cols / 4) as u32;
    let width = copy.fold.min(rows.max(1) as u32) * texels;
    (rows, width, rows.div_ceil(copy.fold as usize).max(1))
}

/// The fill for `copy`'s activation, live from kernel `life.0` through
/// `life.1`: a texture from `pool` free by then, or a new one.
#[allow(clippy::too_many_arguments)]
fn texture_fill(
    device: &wgpu::Device,
    max_side: u32,
    kernel: &str,
    copy: &TextureCopy,
    bindings: &Bindings,
    buffers: &HashMap<NodeId, Arc<wgpu::Buffer>>,
    pool: &mut HashMap<(u32, u32), Vec<(wgpu::Texture, usize)>>,
    life: (usize, usize),
) -> Result<TextureFill, RuntimeError> {
    let (rows, width, height) = copy_size(copy, bindings);
    if height > max_side as usize {
        return Err(RuntimeError::TextureTooLarge {
            kernel: kernel.to_string(),
            rows,
            max_rows: max_side as usize * copy.fold as usize,
        });
    }
    let buffer = buffers.get(&copy.node).cloned().ok_or_else(|| RuntimeError::Gpu {
        what: format!("binding {kernel}"),
        detail: format!("input %{} has no buffer to copy into its texture (wgraph bug)", copy.node.index()),
    })?;
    let same_size = pool.entry((width, height as u32)).or_default();
    let texture = match same_size.iter_mut().find(|(_, free_after)| *free_after < life.0) {
        Some((texture, free_after)) => {
            *free_after = life.1;
            texture.clone()
        }
        None => {
            let label = format!("{kernel}:%{}:texture", copy.node.index());
            let texture = texel_texture(device, &label, width, height as u32);
            same_size.push((texture.clone(), life.1));
            texture
        }
    };
    Ok(TextureFill { buffer, texture, texels: (copy.cols / 4) as u32, fold: copy.fold, copies: true })
}

/// A `width` x `height` rgba32float texture kernels read as storage and
/// copies fill (and, for a weight held only so, `read_weights` copies
/// out): the layout of every texture a kernel reads.
pub(super) fn texel_texture(device: &wgpu::Device, label: &str, width: u32, height: u32) -> wgpu::Texture {
    storage_texture(device, label, width, height, wgpu::TextureFormat::Rgba32Float)
}

/// A `width` x `height` texture of `format` kernels read as storage,
/// filled by copies and read back by them.
pub(super) fn storage_texture(
    device: &wgpu::Device,
    label: &str,
    width: u32,
    height: u32,
    format: wgpu::TextureFormat,
) -> wgpu::Texture {
    device.create_texture(&wgpu::TextureDescriptor {
        label: Some(label),
        size: wgpu::Extent3d { width, height, depth_or_array_layers: 1 },
        mip_level_count: 1,
        sample_count: 1,
        dimension: wgpu::TextureDimension::D2,
        format,
        usage: wgpu::TextureUsages::STORAGE_BINDING | wgpu::TextureUsages::COPY_DST | wgpu::TextureUsages::COPY_SRC,
        view_formats: &[],
    })
}

impl TextureFill {
    /// Whether recording this fill copies anything (else an earlier
    /// kernel's copy filled the texture).
    pub(super) fn copies(&self) -> bool {
        self.copies
    }

    /// Records the copy of `rows` activation rows: the whole texture rows,
    /// then the rows of the last partial one.
    pub(super) fn record(&self, encoder: &mut wgpu::CommandEncoder, rows: u32) {
        if !self.copies {
            return;
        }
        let (full, rest) = (rows / self.fold, rows % self.fold);
        let row_bytes = u64::from(self.fold) * u64::from(self.texels) * 16;
        let copy = |encoder: &mut wgpu::CommandEncoder, offset: u64, width: u32, height: u32, y: u32| {
            encoder.copy_buffer_to_texture(
                wgpu::TexelCopyBufferInfo {
                    buffer: &self.buffer,
                    layout: wgpu::TexelCopyBufferLayout {
                        offset,
                        bytes_per_row: Some(row_bytes as u32),
                        rows_per_image: Some(height),
                    },
                },
                wgpu::TexelCopyTextureInfo {
                    texture: &self.texture,
                    mip_level: 0,
                    origin: wgpu::Origin3d { x: 0, y, z: 0 },
                    aspect: wgpu::TextureAspect::All,
                },
                wgpu::Extent3d { width, height, depth_or_array_layers: 1 },
            );
        };
        if full > 0 {
            copy(encoder, 0, self.fold * self.texels, full, 0);
        }
        if rest > 0 {
            copy(encoder, u64::from(full) * row_bytes, rest * self.texels, 1, full);
        }
    }
}

/// Records the dispatches of `kernels` (indices into the program's
/// kernels, in order) into `encoder`: `dispatch` records each into the
/// current compute pass, and a kernel that reads copies (rows written back
/// into a weight it reads in place, texture fills at `instance`'s rows) gets
/// them first, between passes. Returns the last pass, still open.
pub(super) fn record_dispatches(
    encoder: &mut wgpu::CommandEncoder,
    label: &str,
    instance: &Instance,
    kernels: impl IntoIterator<Item = usize>,
    mut dispatch: impl FnMut(&mut wgpu::ComputePass<'static>, usize),
) -> Option<wgpu::ComputePass<'static>> {
    let mut pass: Option<wgpu::ComputePass<'static>> = None;
    for i in kernels {
        if instance.has_copies(i) {
            drop(pass.take());
            instance.record_copies(i, encoder);
        }
        let pass = pass.get_or_insert_with(|| {
            encoder
                .begin_compute_pass(&wgpu::ComputePassDescriptor { label: Some(label), timestamp_writes: None })
                .forget_lifetime()
        });
        dispatch(pass, i);
    }
    pass
}
