//! Where a run's time goes: every kernel dispatched alone and timed from
//! submission to completion. Works on every adapter, but each kernel's
//! time includes one submit-and-wait; where the device has timestamps
//! inside passes, [`Model::profile_timestamps`] times the kernels back to
//! back in one submission instead (on lavapipe too: BENCHMARKS.md,
//! "Profiling (`wgraph bench --profile`)").

use super::error::RuntimeError;
use super::model::Model;
use super::texture_fill::record_dispatches;
use crate::graph::{bind_inputs, Tensor};
use web_time::Instant;

/// One kernel's share of a profiled run.
#[derive(Debug, Clone, PartialEq)]
pub struct KernelTime {
    /// The kernel's label (`%12:matmul+add+gelu`).
    pub kernel: String,
    /// Wall time of its dispatch alone, in milliseconds.
    pub ms: f64,
}

impl Model {
    /// Runs once on `inputs` (so buffers, pipelines and inputs are in
    /// place; write-backs apply as in [`Model::run`]), then dispatches
    /// every kernel alone, waiting for each, and returns their times in
    /// execution order.
    pub fn profile(&self, inputs: Vec<(String, Tensor)>) -> Result<Vec<KernelTime>, RuntimeError> {
        let instance = self.warmed_instance(inputs)?;
        let program = self.program();
        let device = self.device();
        let _exclusive = device.exclusive("profiling")?;
        instance.write_params(&device.queue);
        let mut times = Vec::with_capacity(program.kernels.len());
        for (i, k) in program.kernels.iter().enumerate() {
            let Some([x, y, z]) = instance.grids[i] else { continue };
            let start = Instant::now();
            let mut encoder =
                device.device.create_command_encoder(&wgpu::CommandEncoderDescriptor { label: Some(&k.name) });
            record_dispatches(&mut encoder, &k.name, &instance, [i], |pass, i| {
                pass.set_pipeline(self.pipeline(i, &instance));
                pass.set_bind_group(0, instance.bind_group(i), &[]);
                pass.dispatch_workgroups(x, y, z);
            });
            let submission = device.queue.submit([encoder.finish()]);
            self.wait(submission, &format!("profiling `{}`", k.name))?;
            times.push(KernelTime { kernel: k.name.clone(), ms: start.elapsed().as_secs_f64() * 1e3 });
        }
        Ok(times)
    }
}

impl Model {
    /// Runs once on `inputs` (so buffers, pipelines and inputs are in place;
    /// write-backs apply as in [`Model::run`]) and returns the instance of
    /// their sizes, for dispatching kernels one by one.
    pub(super) fn warmed_instance(
        &self,
        inputs: Vec<(String, Tensor)>,
    ) -> Result<super::instance::Instance, RuntimeError> {
        self.run(inputs.clone())?;
        let mut bound = bind_inputs(&self.program().ir, inputs)?;
        for (s, v) in self.weight_bindings() {
            bound.bindings.entry(s.clone()).or_insert(*v);
        }
        self.instances().get(&self.loaded(), &bound.bindings)
    }
}

/// Kernel times summed by kind: the ops after a kernel's node label
/// (`%12:matmul+add` is a `matmul+add`), as `(kind, kernels, total ms)`,
/// largest total first.
pub fn by_kind<'a>(times: impl IntoIterator<Item = (&'a str, f64)>) -> Vec<(String, usize, f64)> {
    let mut kinds: std::collections::BTreeMap<String, (usize, f64)> = Default::default();
    for (label, ms) in times {
        let kind = kernel_kind(label).to_string();
        let entry = kinds.entry(kind).or_default();
        entry.0 += 1;
        entry.1 += ms;
    }
    let mut rows: Vec<(String, usize, f64)> = kinds.into_iter().map(|(k, (n, ms))| (k, n, ms)).collect();
    rows.sort_by(|a, b| b.2.total_cmp(&a.2));
    rows
}

/// A kernel's kind: the ops after its node label (`%12:matmul+add` is a
/// `matmul+add`), the key [`by_kind`] groups by.
pub fn kernel_kind(label: &str) -> &str {
    label.split_once(':').map_or(label, |(_, ops)| ops)
}
