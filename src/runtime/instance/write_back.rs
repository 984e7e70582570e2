//! Write-backs at one set of sizes, as buffer copies: a new value replacing
//! its weight after the run, or new rows landing inside it (a KV cache).
//! Rows that a later kernel reads in place (the step's keys: the cache's
//! first rows through the new ones) are copied in just before that kernel
//! instead of after the run.

use crate::compile::memory::element_bytes;
use crate::compile::Program;
use crate::graph::Bindings;
use crate::runtime::error::RuntimeError;
use std::collections::HashMap;
use std::sync::Arc;

/// One copy of a write-back's value into its weight's buffer.
pub(in crate::runtime) struct WriteBackCopy {
    src: Arc<wgpu::Buffer>,
    dst: Arc<wgpu::Buffer>,
    /// Where the bytes start in `src` and land in `dst`.
    from: u64,
    at: u64,
    bytes: u64,
}

impl WriteBackCopy {
    pub(in crate::runtime) fn record(&self, encoder: &mut wgpu::CommandEncoder) {
        encoder.copy_buffer_to_buffer(&self.src, self.from, &self.dst, self.at, self.bytes);
    }
}

/// Every write-back's copy at these sizes: by the kernel it must precede,
/// or after the run.
#[derive(Default)]
pub(in crate::runtime) struct WriteBackCopies {
    pub before: HashMap<usize, Vec<WriteBackCopy>>,
    pub after: Vec<WriteBackCopy>,
}

/// The copies for `program` at `bindings`, between `buffers`; `runs[i]`
/// says whether kernel `i` is dispatched at these sizes. A copy that would
/// land outside its weight (rows past a KV cache's capacity) is an error.
pub(super) fn write_back_copies(
    program: &Program,
    buffers: &HashMap<crate::graph::NodeId, Arc<wgpu::Buffer>>,
    bindings: &Bindings,
    runs: impl Fn(usize) -> bool,
) -> Result<WriteBackCopies, RuntimeError> {
    let ir = &program.ir;
    let mut copies = WriteBackCopies::default();
    for w in &program.write_back {
        let (Some(src), Some(dst)) = (buffers.get(&w.value), buffers.get(&w.weight)) else { continue };
        // Rows written in place come from their block of the value's
        // buffer and land at their offset, inside the weight.
        let in_bytes = |elements: &crate::graph::Dim| elements.eval(bindings).unwrap_or(0) as u64 * 4;
        let spans: Vec<(u64, u64, u64)> = match w.blocks.as_slice() {
            [] => vec![(0, 0, element_bytes(ir, w.value, bindings))],
            blocks => blocks.iter().map(|b| (in_bytes(&b.from), in_bytes(&b.at), in_bytes(&b.len))).collect(),
        };
        let reader = program
            .kernels
            .iter()
            .enumerate()
            .position(|(i, k)| runs(i) && k.inputs.iter().any(|n| w.read_in_place_by.contains(n)));
        for (from, at, bytes) in spans {
            if at + bytes > dst.size() {
                return Err(RuntimeError::WriteBackOutOfRange {
                    name: w.name.clone(),
                    start: at,
                    end: at + bytes,
                    size: dst.size(),
                });
            }
            if w.value == w.weight || bytes == 0 {
                continue;
            }
            let copy = WriteBackCopy { src: src.clone(), dst: dst.clone(), from, at, bytes };
            match reader {
                Some(i) => copies.before.entry(i).or_default().push(copy),
                None => copies.after.push(copy),
            }
        }
    }
    Ok(copies)
}
