//! Reading and replacing a compiled model's weights on the device: saving a
//! trained model, resuming from a checkpoint, inspecting parameters.

use super::error::RuntimeError;
use super::model::Model;
use super::readback::map_for_read;
use super::transfer::to_gpu_bytes;
use super::transfer::{from_gpu_bytes, read_mapped};
use crate::graph::{NamedTensors, Tensor};

impl Model {
    /// The names of the weights the model holds on the device, sorted.
    pub fn weight_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.weight_buffers.keys().cloned().collect();
        names.extend(self.texture_weights().map(|(name, _)| name.to_string()));
        names.sort();
        names.dedup();
        names
    }

    /// Weights held as textures, by name (for models sharing them).
    pub(super) fn weight_textures(&self) -> super::upload::WeightTextures {
        let ir = &self.program().ir;
        self.textures
            .iter()
            .filter_map(|(&node, view)| match &ir.node(node).op {
                crate::graph::Op::Weight { name, quant, .. } => Some((name.clone(), (view.clone(), *quant))),
                _ => None,
            })
            .collect()
    }

    /// Weights held only as textures (read so by every kernel), by name.
    fn texture_weights(&self) -> impl Iterator<Item = (&str, crate::graph::NodeId)> {
        let ir = &self.program().ir;
        self.textures.keys().filter_map(move |&node| match &ir.node(node).op {
            crate::graph::Op::Weight { name, .. } if !self.weight_buffers.contains_key(name) => {
                Some((name.as_str(), node))
            }
            _ => None,
        })
    }

    /// The current values of the named weights, read back from the device
    /// (after training, the trained values), in the order asked.
    #[cfg(not(target_arch = "wasm32"))]
    pub fn read_weights<S: AsRef<str>>(&self, names: &[S]) -> Result<NamedTensors, RuntimeError> {
        pollster::block_on(self.read_weights_async(names))
    }

    /// Like [`Model::read_weights`], awaiting the device.
    // The device lock is held across the readback's await on purpose: on
    // native the device was polled to completion first, so the await does
    // not yield; in the browser the lock is only tried, never waited for.
    #[allow(clippy::await_holding_lock)]
    pub async fn read_weights_async<S: AsRef<str>>(&self, names: &[S]) -> Result<NamedTensors, RuntimeError> {
        let ir = &self.program().ir;
        let dev = &self.device().device;
        let mut encoder = dev.create_command_encoder(&wgpu::CommandEncoderDescriptor { label: Some("read-weights") });
        let mut pending = Vec::with_capacity(names.len());
        for name in names {
            let name = name.as_ref();
            let held = self.weight_buffers.get(name).map(|(node, buffer, q)| (*node, Some(buffer), *q));
            let (node, buffer, quant) = held
                .or_else(|| {
                    self.texture_weights()
                        .find(|(n, _)| *n == name)
                        .map(|(_, node)| (node, None, quant_of(&ir.node(node).op)))
                })
                .ok_or_else(|| self.unknown_weight(name))?;
            let ty = &ir.node(node).ty;
            let shape: Vec<usize> = ty.shape.iter().map(|d| d.eval(self.weight_bindings()).unwrap_or(0)).collect();
            // A quantized weight's words, dequantized on the host below.
            let bytes = match (quant, buffer, shape.as_slice()) {
                (Some(_), Some(buffer), _) => buffer.size(),
                (Some(q), None, &[rows, cols]) => {
                    crate::compile::codegen::quant::device_words(q, rows, cols) as u64 * 4
                }
                _ => shape.iter().product::<usize>() as u64 * 4,
            };
            let texture = buffer.is_none().then(|| self.textures.get(&node).map(|v| v.texture())).flatten();
            let read = match texture {
                Some(t) => TextureRead::of(t),
                None => TextureRead { row_bytes: bytes, padded_row_bytes: bytes, rows: 1 },
            };
            let staging = dev.create_buffer(&wgpu::BufferDescriptor {
                label: Some(&format!("{name}:read")),
                size: read.staging_bytes().max(4),
                usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
                mapped_at_creation: false,
            });
            match (buffer, texture) {
                (Some(buffer), _) if bytes > 0 => encoder.copy_buffer_to_buffer(buffer, 0, &staging, 0, bytes),
                (None, Some(texture)) => read.record(&mut encoder, texture, &staging),
                _ => {}
            }
            pending.push((name.to_string(), ty.dtype, shape, staging, bytes, read, quant));
        }
        let _exclusive = self.device().exclusive("reading weights")?;
        let submission = self.device().queue.submit([encoder.finish()]);
        let slices = pending
            .iter()
            .filter(|(.., bytes, _, _)| *bytes > 0)
            .map(|(_, _, _, staging, _, read, _)| staging.slice(..read.staging_bytes()));
        map_for_read(self.device(), submission, slices.collect(), "reading weights").await?;
        let mut out = Vec::with_capacity(pending.len());
        for (name, dtype, shape, staging, bytes, read, quant) in pending {
            let t = if read.rows == 1 {
                match quant {
                    Some(q) => {
                        let words = vec![bytes as usize / 4];
                        let raw = read_mapped(&staging, bytes, crate::graph::DType::U32, words, &name)?;
                        dequantized(&name, q, shape, &raw)?
                    }
                    None => read_mapped(&staging, bytes, dtype, shape, &name)?,
                }
            } else {
                let failed = |detail: String| RuntimeError::Readback { tensor: name.clone(), detail };
                let view =
                    staging.slice(..read.staging_bytes()).get_mapped_range().map_err(|e| failed(e.to_string()))?;
                let packed = read.unpad(&view, bytes as usize);
                drop(view);
                staging.unmap();
                match quant {
                    Some(q) => {
                        let words = vec![packed.len() / 4];
                        let raw = from_gpu_bytes(crate::graph::DType::U32, words, &packed)
                            .map_err(|e| failed(e.to_string()))?;
                        dequantized(&name, q, shape, &raw)?
                    }
                    None => from_gpu_bytes(dtype, shape, &packed).map_err(|e| failed(e.to_string()))?,
                }
            };
            out.push((name, t));
        }
        Ok(NamedTensors(out))
    }

    /// Replaces weights on the device (resuming from a saved state). Each
    /// tensor must have its weight's shape and dtype.
    pub fn write_weights(&self, tensors: &[(String, Tensor)]) -> Result<(), RuntimeError> {
        let ir = &self.program().ir;
        for (name, tensor) in tensors {
            // Quantized weights, in a buffer or a texture, are read-only.
            let buffered = self.weight_buffers.get(name).and_then(|(_, _, q)| *q);
            if let Some(q) = buffered.or_else(|| self.weight_textures().get(name).and_then(|(_, q)| *q)) {
                return Err(RuntimeError::WeightMismatch {
                    name: name.clone(),
                    expected: format!("no new values: the weight is held as {q} blocks, read-only"),
                    got: format!("{}{:?}", tensor.dtype(), tensor.shape()),
                });
            }
            let (node, buffer, _) = self.weight_buffers.get(name).ok_or_else(|| self.unknown_weight(name))?;
            let ty = &ir.node(*node).ty;
            let shape: Vec<usize> = ty.shape.iter().map(|d| d.eval(self.weight_bindings()).unwrap_or(0)).collect();
            if tensor.shape() != shape.as_slice() || tensor.dtype() != ty.dtype {
                return Err(RuntimeError::WeightMismatch {
                    name: name.clone(),
                    expected: format!("{}{shape:?}", ty.dtype),
                    got: format!("{}{:?}", tensor.dtype(), tensor.shape()),
                });
            }
            let bytes = to_gpu_bytes(name, tensor)?;
            if !bytes.is_empty() {
                self.device().queue.write_buffer(buffer, 0, &bytes);
            }
        }
        Ok(())
    }

    fn unknown_weight(&self, name: &str) -> RuntimeError {
        let names = self.weight_names();
        RuntimeError::UnknownWeight {
            name: name.to_string(),
            closest: crate::weights::closest_names(name, names.iter().map(String::as_str), 3),
        }
    }
}

/// The block format of a weight op kept quantized.
fn quant_of(op: &crate::graph::Op) -> Option<crate::graph::Quant> {
    match op {
        crate::graph::Op::Weight { quant, .. } => *quant,
        _ => None,
    }
}

/// A quantized weight's values from its device words (`raw`, u32).
fn dequantized(name: &str, q: crate::graph::Quant, shape: Vec<usize>, raw: &Tensor) -> Result<Tensor, RuntimeError> {
    let failed = |detail: String| RuntimeError::Readback { tensor: name.to_string(), detail };
    let words: Vec<u32> = raw.to_i64_vec().into_iter().map(|w| w as u32).collect();
    let blocks = crate::compile::codegen::quant::unpack(q, shape.first().copied().unwrap_or(0), &words);
    let elements = shape.iter().product();
    let values = crate::weights::gguf::dequantize(q.into(), &blocks, elements).map_err(|e| failed(e.to_string()))?;
    Tensor::new(shape, values).map_err(|e| failed(e.to_string()))
}

/// How a weight held as a texture is copied into a mappable buffer: whole
/// texture rows, each padded to the 256 bytes a texture-to-buffer copy
/// needs; the weight's values are the rows' leading bytes, in order.
struct TextureRead {
    row_bytes: u64,
    padded_row_bytes: u64,
    rows: u32,
}

impl TextureRead {
    fn of(texture: &wgpu::Texture) -> TextureRead {
        let row_bytes = u64::from(texture.width()) * 16;
        let padded_row_bytes = row_bytes.next_multiple_of(u64::from(wgpu::COPY_BYTES_PER_ROW_ALIGNMENT));
        TextureRead { row_bytes, padded_row_bytes, rows: texture.height() }
    }

    fn staging_bytes(&self) -> u64 {
        self.padded_row_bytes * u64::from(self.rows)
    }

    fn record(&self, encoder: &mut wgpu::CommandEncoder, texture: &wgpu::Texture, staging: &wgpu::Buffer) {
        encoder.copy_texture_to_buffer(
            texture.as_image_copy(),
            wgpu::TexelCopyBufferInfo {
                buffer: staging,
                layout: wgpu::TexelCopyBufferLayout {
                    offset: 0,
                    bytes_per_row: Some(self.padded_row_bytes as u32),
                    rows_per_image: Some(self.rows),
                },
            },
            texture.size(),
        );
    }

    /// The first `bytes` of the rows without their padding (a weight's
    /// last texture row may be partly filled).
    fn unpad(&self, mapped: &[u8], bytes: usize) -> Vec<u8> {
        let mut out = Vec::with_capacity(bytes);
        for row in mapped.chunks(self.padded_row_bytes as usize) {
            let take = (self.row_bytes as usize).min(bytes - out.len());
            out.extend_from_slice(&row[..take]);
            if out.len() == bytes {
                break;
            }
        }
        out
    }
}
