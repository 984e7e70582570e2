//! Where a run's time goes, from GPU timestamps: the whole program in one
//! submission, a timestamp written between consecutive dispatches, so each
//! kernel's time is the gap before the next one. Unlike
//! [`Model::profile`], no per-dispatch submit-and-wait is counted, and
//! the kernels run back to back as in [`Model::run`].
//!
//! On lavapipe the timestamps hold up: they span the submission's wall
//! time, their sum is the run's time, and per kernel they agree with
//! isolated dispatches within the noise of the shared 2-core machine
//! (BENCHMARKS.md, "Profiling (`wgraph bench --profile`)").
//! `WGRAPH_DEBUG=1` prints the span against the wall time on every use, so
//! an adapter where they do not hold up shows it.

use super::error::RuntimeError;
use super::model::Model;
use super::profile::KernelTime;
use super::texture_fill::record_dispatches;
use crate::graph::Tensor;
use crate::settings::level;

/// Timestamps one query set holds (wgpu's limit).
const MAX_QUERIES: usize = wgpu::QUERY_SET_MAX_QUERIES as usize;

impl Model {
    /// Runs once on `inputs` (as [`Model::profile`]), then again with a GPU
    /// timestamp before every dispatch and after the last, and returns each
    /// dispatched kernel's time in execution order; `None` when the device
    /// has no timestamps inside passes ([`Device::has_timestamps`](super::Device::has_timestamps)).
    pub fn profile_timestamps(&self, inputs: Vec<(String, Tensor)>) -> Result<Option<Vec<KernelTime>>, RuntimeError> {
        let device = self.device();
        if !device.has_timestamps() {
            return Ok(None);
        }
        let instance = self.warmed_instance(inputs)?;
        let program = self.program();
        let dispatched: Vec<usize> = (0..program.kernels.len()).filter(|&i| instance.grids[i].is_some()).collect();
        let dev = &device.device;
        let nanos_per_tick = device.queue.get_timestamp_period() as f64;
        let _exclusive = device.exclusive("profiling")?;
        instance.write_params(&device.queue);
        let mut times = Vec::with_capacity(dispatched.len());
        // One pass per query set's worth of kernels (4095 each).
        for chunk in dispatched.chunks(MAX_QUERIES - 1) {
            let count = chunk.len() + 1;
            let set = dev.create_query_set(&wgpu::QuerySetDescriptor {
                label: Some("wgraph:timestamps"),
                ty: wgpu::QueryType::Timestamp,
                count: count as u32,
            });
            let bytes = (count * 8) as u64;
            let resolved = dev.create_buffer(&wgpu::BufferDescriptor {
                label: Some("wgraph:timestamps"),
                size: bytes,
                usage: wgpu::BufferUsages::QUERY_RESOLVE | wgpu::BufferUsages::COPY_SRC,
                mapped_at_creation: false,
            });
            let staging = dev.create_buffer(&wgpu::BufferDescriptor {
                label: Some("wgraph:timestamps:readback"),
                size: bytes,
                usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
                mapped_at_creation: false,
            });
            let mut encoder =
                dev.create_command_encoder(&wgpu::CommandEncoderDescriptor { label: Some("wgraph:timestamps") });
            {
                // A kernel's texture copies run between passes, before its
                // timestamp: their time counts toward the kernel before.
                let mut j = 0u32;
                let pass = record_dispatches(
                    &mut encoder,
                    "wgraph:timestamps",
                    &instance,
                    chunk.iter().copied(),
                    |pass, i| {
                        let Some([x, y, z]) = instance.grids[i] else { return };
                        pass.write_timestamp(&set, j);
                        j += 1;
                        pass.set_pipeline(self.pipeline(i, &instance));
                        pass.set_bind_group(0, instance.bind_group(i), &[]);
                        pass.dispatch_workgroups(x, y, z);
                    },
                );
                if let Some(mut pass) = pass {
                    pass.write_timestamp(&set, chunk.len() as u32);
                }
            }
            encoder.resolve_query_set(&set, 0..count as u32, &resolved, 0);
            encoder.copy_buffer_to_buffer(&resolved, 0, &staging, 0, bytes);
            let start = web_time::Instant::now();
            let submission = device.queue.submit([encoder.finish()]);
            staging.slice(..).map_async(wgpu::MapMode::Read, |_| {});
            self.wait(submission, "profiling with timestamps")?;
            let wall_ms = start.elapsed().as_secs_f64() * 1e3;
            let ticks = read_ticks(&staging)?;
            if device.settings().shows(level::PASSES) {
                // What checks the method: the span the timestamps cover
                // against the submission's wall time.
                let span = ticks[chunk.len()].saturating_sub(ticks[0]) as f64 * nanos_per_tick / 1e6;
                eprintln!("wgraph: timestamps span {span:.3} ms of a {wall_ms:.3} ms submission");
            }
            for (j, &i) in chunk.iter().enumerate() {
                let gap = ticks[j + 1].saturating_sub(ticks[j]) as f64;
                times.push(KernelTime { kernel: program.kernels[i].name.clone(), ms: gap * nanos_per_tick / 1e6 });
            }
        }
        Ok(Some(times))
    }
}

/// The u64 ticks in a mapped staging buffer (then unmapped). Not through
/// `read_mapped`: tensors on the GPU are 4-byte elements, timestamps 8.
fn read_ticks(staging: &wgpu::Buffer) -> Result<Vec<u64>, RuntimeError> {
    let view = staging
        .slice(..)
        .get_mapped_range()
        .map_err(|e| RuntimeError::Readback { tensor: "timestamps".into(), detail: e.to_string() })?;
    let ticks =
        view.chunks_exact(8).map(|c| u64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]])).collect();
    drop(view);
    staging.unmap();
    Ok(ticks)
}
