//! Reading and replacing a compiled model's weights on the device: saving a
//! trained model, resuming from a checkpoint, inspecting parameters.

use super::error::RuntimeError;
use super::model::Model;
use super::transfer::read_mapped;
use super::transfer::to_gpu_bytes;
use crate::graph::{NamedTensors, Tensor};

impl Model {
    /// The names of the weights the model holds on the device, sorted.
    pub fn weight_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.weight_buffers.keys().cloned().collect();
        names.sort();
        names
    }

    /// The current values of the named weights, read back from the device
    /// (after training, the trained values), in the order asked.
    pub fn read_weights<S: AsRef<str>>(&self, names: &[S]) -> Result<NamedTensors, RuntimeError> {
        let ir = &self.program().ir;
        let dev = &self.device().device;
        let mut encoder = dev.create_command_encoder(&wgpu::CommandEncoderDescriptor { label: Some("read-weights") });
        let mut pending = Vec::with_capacity(names.len());
        for name in names {
            let name = name.as_ref();
            let (node, buffer) = self.weight_buffers.get(name).ok_or_else(|| self.unknown_weight(name))?;
            let ty = &ir.node(*node).ty;
            let shape: Vec<usize> = ty.shape.iter().map(|d| d.eval(self.weight_bindings()).unwrap_or(0)).collect();
            let bytes = shape.iter().product::<usize>() as u64 * 4;
            let staging = dev.create_buffer(&wgpu::BufferDescriptor {
                label: Some(&format!("{name}:read")),
                size: bytes.max(4),
                usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
                mapped_at_creation: false,
            });
            if bytes > 0 {
                encoder.copy_buffer_to_buffer(buffer, 0, &staging, 0, bytes);
            }
            pending.push((name.to_string(), ty.dtype, shape, staging, bytes));
        }
        let _exclusive = self.device().exclusive();
        let submission = self.device().queue.submit([encoder.finish()]);
        for (_, _, _, staging, bytes) in &pending {
            if *bytes > 0 {
                staging.slice(..*bytes).map_async(wgpu::MapMode::Read, |_| {});
            }
        }
        self.wait(submission, "reading weights")?;
        let mut out = Vec::with_capacity(pending.len());
        for (name, dtype, shape, staging, bytes) in pending {
            let t = read_mapped(&staging, bytes, dtype, shape, &name)?;
            out.push((name, t));
        }
        Ok(NamedTensors(out))
    }

    /// Replaces weights on the device (resuming from a saved state). Each
    /// tensor must have its weight's shape and dtype.
    pub fn write_weights(&self, tensors: &[(String, Tensor)]) -> Result<(), RuntimeError> {
        let ir = &self.program().ir;
        for (name, tensor) in tensors {
            let (node, buffer) = self.weight_buffers.get(name).ok_or_else(|| self.unknown_weight(name))?;
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
