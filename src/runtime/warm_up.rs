//! Making the driver compile every kernel before the first real run:
//! lavapipe compiles a pipeline with LLVM at its first dispatch, not when
//! it is created, so a model's first run pays for all of them.

use super::error::RuntimeError;
use super::model::Model;
use crate::graph::Bindings;

impl Model {
    /// Dispatches every kernel, and every few-rows variant, once with one
    /// workgroup on buffers sized with each free symbol bound to 1, so a
    /// driver that compiles at first dispatch has compiled them all (and,
    /// with Mesa's shader cache, stored them for the next process). The
    /// values computed are scratch: no output is read and no weight is
    /// written (write-backs are not applied). Returns the kernels dispatched.
    pub fn warm_up(&self) -> Result<usize, RuntimeError> {
        self.warm_up_until(|| false)
    }

    /// Like [`Model::warm_up`], one kernel per submission, asking `stop`
    /// before each: a background warm-up can end between two kernels
    /// instead of after all of them. Returns the kernels dispatched.
    pub fn warm_up_until(&self, stop: impl Fn() -> bool) -> Result<usize, RuntimeError> {
        let mut bindings: Bindings = self.weight_bindings().clone();
        for symbol in self.symbols() {
            bindings.entry(symbol.clone()).or_insert(1);
        }
        let instance = self.instances().get(&self.loaded(), &bindings)?;
        let device = self.device();
        let mut dispatched = 0;
        for (i, _) in self.program().kernels.iter().enumerate() {
            // A kernel with nothing to write at these sizes is left out:
            // its grid would be empty.
            if instance.grids[i].is_none() {
                continue;
            }
            for pipeline in self.pipelines_of(i) {
                if stop() {
                    return Ok(dispatched);
                }
                let _exclusive = device.exclusive("warming up kernels")?;
                instance.write_params(&device.queue);
                let mut encoder =
                    device.device.create_command_encoder(&wgpu::CommandEncoderDescriptor { label: Some("warm-up") });
                {
                    let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor {
                        label: Some("warm-up"),
                        timestamp_writes: None,
                    });
                    pass.set_bind_group(0, instance.bind_group(i), &[]);
                    pass.set_pipeline(pipeline);
                    pass.dispatch_workgroups(1, 1, 1);
                }
                let submission = device.queue.submit([encoder.finish()]);
                let errors = device.take_uncaptured();
                if !errors.is_empty() {
                    return Err(RuntimeError::Gpu { what: "warming up the kernels".into(), detail: errors.join("; ") });
                }
                self.wait(submission, "warming up the kernels")?;
                dispatched += 1;
            }
        }
        Ok(dispatched)
    }
}
