//! Weights and constants onto the device, once per model: as read-only
//! storage textures for the kernels that read them so, as buffers for the
//! rest, or borrowed from another model's buffers when it has the same
//! weight (`Model::sharing`).

use super::device::Device;
use super::error::RuntimeError;
use super::instance::storage;
use super::readback::wait_for;
use super::texture_fill::{storage_texture, texel_texture};
use super::transfer::to_gpu_bytes;
use crate::compile::codegen::{quant, word_texture_width};
use crate::compile::memory::Placement;
use crate::compile::merge_linears::merged_weight_parts;
use crate::compile::{weight_fold, Program};
use crate::graph::{NodeId, Op, Quant};
use crate::weights::Weights;
use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

/// A model's static values on the device.
pub(super) struct Statics {
    /// Buffers by node: weights and constants.
    pub(super) statics: HashMap<NodeId, Arc<wgpu::Buffer>>,
    /// 2-D weights read as textures (`KernelSpec::textures`).
    pub(super) textures: HashMap<NodeId, wgpu::TextureView>,
    /// Weight buffers by checkpoint name (for reading, writing and sharing).
    pub(super) weight_buffers: WeightBuffers,
}

/// Weights held as textures, by checkpoint name, with the block format of
/// a quantized one (a texture's layout depends only on its tensor, so
/// models sharing weights share textures too).
pub(super) type WeightTextures = HashMap<String, (wgpu::TextureView, Option<Quant>)>;

/// Weight buffers by checkpoint name, as a model holds them, with the
/// block format of a weight kept quantized.
pub(super) type WeightBuffers = HashMap<String, (NodeId, Arc<wgpu::Buffer>, Option<Quant>)>;

/// Uploads `program`'s static values from `weights` (weights) and the
/// program itself (constants); weights in `shared` (another model's) with
/// the same name and at least the size are read from its buffers, not
/// copied.
pub(super) fn upload_statics(
    device: &Device,
    program: &Program,
    weights: &Weights,
    shared: Option<&WeightBuffers>,
    shared_textures: &WeightTextures,
) -> Result<Statics, RuntimeError> {
    let dev = &device.device;
    let limit = device.limits().max_storage_buffer_binding_size;
    // Weights and constants, uploaded once: as textures for the kernels
    // that read them so, as buffers for the rest.
    // Values copied into textures per dispatch (weights written back
    // among them) stay buffers: the copies read them.
    let copied: HashSet<NodeId> =
        program.kernels.iter().flat_map(|k| k.texture_copies.iter().map(|c| c.node)).collect();
    let as_texture: HashSet<NodeId> =
        program.kernels.iter().flat_map(|k| k.textures.iter().copied()).filter(|n| !copied.contains(n)).collect();
    let mut as_buffer: HashSet<NodeId> =
        program.kernels.iter().flat_map(|k| k.inputs.iter().filter(|n| !k.textures.contains(n)).copied()).collect();
    as_buffer.extend(copied);
    as_buffer.extend(program.ir.outputs.iter().map(|(_, n)| *n));

    as_buffer.extend(program.taps.iter().map(|(_, n)| *n));
    let mut statics = HashMap::new();
    let mut textures = HashMap::new();
    let mut weight_buffers = HashMap::new();
    let mut staging = Staging { device, weights, pending: 0 };
    for (&node, &p) in &program.memory.placement {
        if p != Placement::Static {
            continue;
        }
        let n = program.ir.node(node);
        if let (Op::Weight { name, quant: Some(q), .. }, Some(width)) =
            (&n.op, word_texture_width(&program.ir, &program.plan, node))
        {
            let view = match shared_textures.get(name).filter(|(_, sq)| *sq == Some(*q)) {
                Some((view, _)) => view.clone(),
                None => {
                    let words = quantized_words(weights, name, *q)?;
                    staging.wrote(words.len() as u64 * 4)?;
                    quant_texture(device, name, words, width)
                }
            };
            textures.insert(node, view);
            continue;
        }
        if let (Op::Weight { name, quant: None, .. }, true, false) =
            (&n.op, as_texture.contains(&node), as_buffer.contains(&node))
        {
            if let Some((view, None)) = shared_textures.get(name) {
                textures.insert(node, view.clone());
                continue;
            }
        }
        // Another model's buffer of the same weight in the same format, big
        // enough: borrowed before anything is read from the checkpoint.
        if let (Op::Weight { name, quant, .. }, false) = (&n.op, as_texture.contains(&node)) {
            let needed = gpu_bytes(weights, name, *quant);
            let borrowed = shared.and_then(|w| w.get(name)).filter(|(_, b, q)| q == quant && b.size() >= needed);
            if let Some((_, buffer, _)) = borrowed {
                statics.insert(node, buffer.clone());
                weight_buffers.insert(name.clone(), (node, buffer.clone(), *quant));
                continue;
            }
        }
        let (name, is_weight, quant, words, tensor) = match &n.op {
            Op::Weight { name, quant: Some(q), .. } => {
                (name.clone(), true, Some(*q), quantized_words(weights, name, *q)?, None)
            }
            Op::Weight { name, dtype, shape, .. } => {
                (name.clone(), true, None, Vec::new(), Some(Cow::Owned(weight_tensor(weights, name, *dtype, shape)?)))
            }
            Op::Constant { value } => {
                (format!("%{}:constant", node.index()), false, None, Vec::new(), Some(Cow::Borrowed(&**value)))
            }
            _ => {
                return Err(RuntimeError::Gpu {
                    what: format!("uploading %{}", node.index()),
                    detail: format!("a `{}` node was planned as a static buffer (wgraph bug)", n.op.name()),
                })
            }
        };
        // f32 tensors are borrowed as they are, not copied.
        let (bytes, shape) = match &tensor {
            Some(t) => (to_gpu_bytes(&name, t)?, t.shape().to_vec()),
            None => (Cow::Borrowed(bytemuck::cast_slice::<u32, u8>(&words)), Vec::new()),
        };
        if bytes.len() as u64 > limit {
            return Err(RuntimeError::BufferTooLarge {
                tensor: name,
                bytes: bytes.len() as u64,
                limit,
                hint: Some("this adapter cannot bind the tensor in one piece; run on an adapter with a larger max_storage_buffer_binding_size"),
            });
        }
        staging.wrote(bytes.len() as u64)?;
        if as_texture.contains(&node) {
            textures.insert(node, weight_texture(device, &name, &bytes, &shape)?);
            if !as_buffer.contains(&node) {
                continue;
            }
        }
        let buf = Arc::new(storage(dev, &name, bytes.len() as u64, wgpu::BufferUsages::empty()));
        device.queue.write_buffer(&buf, 0, &bytes);
        if is_weight {
            weight_buffers.insert(name, (node, buf.clone(), quant));
        }
        statics.insert(node, buf);
    }
    staging.flush()?;
    Ok(Statics { statics, textures, weight_buffers })
}

/// Bytes a flush lets the queue hold staged at once.
const FLUSH_BYTES: u64 = 16 << 20;

/// wgpu keeps every `write_buffer`/`write_texture` in staging memory of
/// its own until a submission after it completes: uploading a model in one
/// go held a second copy of every weight at the peak. Submitting and
/// waiting every [`FLUSH_BYTES`] bounds that copy instead, and the
/// checkpoint's mapped pages read so far are released with it.
struct Staging<'a> {
    device: &'a Device,
    weights: &'a Weights,
    pending: u64,
}

impl Staging<'_> {
    /// Counts `bytes` about to be written; flushes what was staged before
    /// them once that reaches the bound.
    fn wrote(&mut self, bytes: u64) -> Result<(), RuntimeError> {
        if self.pending > 0 && self.pending + bytes > FLUSH_BYTES {
            self.flush()?;
        }
        self.pending += bytes;
        Ok(())
    }

    fn flush(&mut self) -> Result<(), RuntimeError> {
        if self.pending > 0 {
            let submission = self.device.queue.submit([]);
            wait_for(self.device, submission, "uploading weights")?;
            self.pending = 0;
            self.weights.release_mapped_pages();
        }
        Ok(())
    }
}

/// The bytes a weight takes on the device (4 per value, or its quantized
/// words), from the registry's metadata; `u64::MAX` for a weight the
/// registry lacks (reading it then reports the problem).
fn gpu_bytes(weights: &Weights, name: &str, quant: Option<Quant>) -> u64 {
    if let Some(parts) = merged_weight_parts(name) {
        return parts.iter().map(|p| gpu_bytes(weights, p, quant)).fold(0, u64::saturating_add);
    }
    let Some(info) = weights.info(&weights.resolve(name)) else { return u64::MAX };
    match (quant, info.shape.as_slice()) {
        (Some(q), &[rows, cols]) => quant::device_words(q, rows, cols) as u64 * 4,
        _ => info.shape.iter().product::<usize>() as u64 * 4,
    }
}

/// Weight `name` from the registry in `dtype`, or the weights a merged
/// product's weight joins (`compile::merge_linears`), joined along their
/// rows into `shape`.
fn weight_tensor(
    weights: &Weights,
    name: &str,
    dtype: crate::graph::DType,
    shape: &[crate::graph::Dim],
) -> Result<crate::graph::Tensor, RuntimeError> {
    let Some(parts) = merged_weight_parts(name) else { return Ok(weights.get(name, dtype)?) };
    let mut values: Vec<f32> = Vec::new();
    for part in parts {
        values.extend(weights.get(part, dtype)?.to_f32_vec());
    }
    let shape: Vec<usize> = shape.iter().map(|d| d.as_static().unwrap_or(0)).collect();
    crate::graph::Tensor::new(shape, values).map_err(|e| RuntimeError::Gpu {
        what: format!("joining {name}"),
        detail: format!("{e} (wgraph bug: the compiler merged weights of other shapes)"),
    })
}

/// A quantized weight's words as an rgba32uint texture `width` texels
/// wide, four words to a texel in order (`quant_texture_width`).
fn quant_texture(device: &Device, name: &str, mut data: Vec<u32>, width: u32) -> wgpu::TextureView {
    let texels = data.len().div_ceil(4).max(1);
    let height = texels.div_ceil(width as usize) as u32;
    data.resize(width as usize * height as usize * 4, 0);
    let texture = storage_texture(&device.device, name, width, height, wgpu::TextureFormat::Rgba32Uint);
    device.queue.write_texture(
        texture.as_image_copy(),
        bytemuck::cast_slice(&data),
        wgpu::TexelCopyBufferLayout { offset: 0, bytes_per_row: Some(width * 16), rows_per_image: Some(height) },
        wgpu::Extent3d { width, height, depth_or_array_layers: 1 },
    );
    texture.create_view(&Default::default())
}

/// A quantized weight's blocks as the device words its kernels read
/// (`compile::codegen::quant`): the file's bytes moved, not converted.
fn quantized_words(weights: &Weights, name: &str, q: Quant) -> Result<Vec<u32>, RuntimeError> {
    let (stored, blocks) = weights.blocks(name)?.ok_or_else(|| RuntimeError::Gpu {
        what: format!("uploading {name}"),
        detail: "the weight was compiled as quantized but the registry stores it unquantized (wgraph bug)".into(),
    })?;
    let rows = weights.info(&weights.resolve(name)).and_then(|i| i.shape.first().copied()).unwrap_or(0);
    if stored != q {
        return Err(RuntimeError::Gpu {
            what: format!("uploading {name}"),
            detail: format!("compiled for {q} blocks, stored as {stored} (wgraph bug)"),
        });
    }
    Ok(quant::pack(q, rows, &blocks))
}

/// An f32 weight `[rows, cols]` (or `[cols]`, one row) as an rgba32float
/// texture of `fold * cols / 4` texels by `ceil(rows / fold)`, `fold` rows
/// of the weight to a texture row (`weight_fold`, as the compiler laid
/// the kernels out; the compiler only asks for weights that fit).
fn weight_texture(
    device: &Device,
    name: &str,
    bytes: &[u8],
    shape: &[usize],
) -> Result<wgpu::TextureView, RuntimeError> {
    let (rows, cols) = match *shape {
        [cols] => (1, cols),
        [rows, cols] => (rows, cols),
        _ => (0, 0),
    };
    let max_side = device.limits().max_texture_dimension_2d;
    let fold = weight_fold(rows, cols, max_side).ok_or_else(|| RuntimeError::Gpu {
        what: format!("uploading {name}"),
        detail: format!("a {shape:?} weight cannot be a texture of side {max_side} (wgraph bug)"),
    })?;
    let (fold, texels) = (fold as usize, cols / 4);
    let texture = texel_texture(&device.device, name, (fold * texels) as u32, rows.div_ceil(fold) as u32);
    // Whole texture rows, then the rows of the last partial one.
    let row_bytes = fold * cols * 4;
    let (full, rest) = (rows / fold, rows % fold);
    let write = |offset: usize, width: usize, height: usize, y: usize| {
        device.queue.write_texture(
            wgpu::TexelCopyTextureInfo {
                texture: &texture,
                mip_level: 0,
                origin: wgpu::Origin3d { x: 0, y: y as u32, z: 0 },
                aspect: wgpu::TextureAspect::All,
            },
            &bytes[offset..],
            wgpu::TexelCopyBufferLayout {
                offset: 0,
                bytes_per_row: Some(row_bytes as u32),
                rows_per_image: Some(height as u32),
            },
            wgpu::Extent3d { width: width as u32, height: height as u32, depth_or_array_layers: 1 },
        );
    };
    if full > 0 {
        write(0, fold * texels, full, 0);
    }
    if rest > 0 {
        write(full * row_bytes, rest * texels, 1, full);
    }
    Ok(texture.create_view(&Default::default()))
}
