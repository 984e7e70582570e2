//! `wgraph bench --profile`: each kernel's time (GPU timestamps where the
//! device has them, else each dispatch alone), grouped by kind with
//! `runtime::by_kind`, with the arithmetic rate of matmuls (and fused attention) and the memory
//! rate of every kernel.

use crate::error::{bad, CliError};
use clap::ValueEnum;
use serde_json::{json, Value as Json};
use std::collections::HashMap;
use wgraph::compile::memory::element_bytes;
use wgraph::graph::{Bindings, NodeId, Op};
use wgraph::runtime::{by_kind, kernel_kind, KernelTime};
use wgraph::{Model, Tensor};

/// How `--profile` times kernels.
#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum ProfileMethod {
    /// Timestamps when the device has them inside passes, else isolated.
    Auto,
    /// GPU timestamps between dispatches of one submission.
    Timestamps,
    /// Each dispatch submitted alone and waited for (wall time).
    Isolated,
}

/// What one kernel reads, writes and computes at the benchmarked shape.
#[derive(Clone, Copy, Default)]
struct Cost {
    /// Multiply-adds x 2 of its matmul, if it has one.
    flops: Option<f64>,
    /// Bytes of its inputs and its output.
    bytes: f64,
}

/// The profile: which method, and every dispatched kernel's time.
pub(crate) struct Profile {
    method: &'static str,
    times: Vec<KernelTime>,
    costs: HashMap<String, Cost>,
    /// Each kernel's variant (a matmul's block), by label.
    variants: HashMap<String, String>,
}

/// Times the model's kernels on `feed` with `method`.
pub(crate) fn profile(model: &Model, feed: &[(String, Tensor)], method: ProfileMethod) -> Result<Profile, CliError> {
    let stamped = match method {
        ProfileMethod::Isolated => None,
        _ => model.profile_timestamps(feed.to_vec()).map_err(CliError::from)?,
    };
    if method == ProfileMethod::Timestamps && stamped.is_none() {
        return Err(bad(format!(
            "--profile-method timestamps: {} has no timestamp queries inside passes; use isolated",
            model.device().describe()
        )));
    }
    let (method, times) = match stamped {
        Some(times) => ("GPU timestamps between dispatches, one submission", times),
        None => (
            "each dispatch submitted alone and waited for (wall time, one submission's overhead per kernel)",
            model.profile(feed.to_vec()).map_err(CliError::from)?,
        ),
    };
    let mut bound = wgraph::graph::bind_inputs(&model.program().ir, feed.to_vec())
        .map_err(|e| CliError::from(wgraph::RuntimeError::from(e)))?
        .bindings;
    for (s, v) in model.weight_bindings() {
        bound.entry(s.clone()).or_insert(*v);
    }
    let variants = model.program().kernels.iter().filter_map(|k| Some((k.name.clone(), k.variant.clone()?))).collect();
    Ok(Profile { method, times, costs: costs(model, &bound), variants })
}

/// Every kernel's cost at `bindings`, by label.
fn costs(model: &Model, bindings: &Bindings) -> HashMap<String, Cost> {
    let ir = &model.program().ir;
    let bytes = |n: NodeId| element_bytes(ir, n, bindings) as f64;
    model
        .program()
        .kernels
        .iter()
        .map(|k| {
            // The matmul inside the kernel: search back from its root, not
            // past the values it reads.
            let mut stack = vec![k.root];
            let mut flops = None;
            while let Some(n) = stack.pop() {
                if k.inputs.contains(&n) {
                    continue;
                }
                let ops = ir.operands(n);
                if matches!(ir.node(n).op, Op::MatMul) {
                    let inner = ir.node(ops[0]).ty.shape.last().and_then(|d| d.eval(bindings)).unwrap_or(0);
                    flops = Some(2.0 * bytes(n) / 4.0 * inner as f64);
                    break;
                }
                if matches!(ir.node(n).op, Op::Attention { .. }) {
                    // Both products: q k^T (rows x keys x d) and p v (rows x keys x dv).
                    let dim = |id: NodeId, back: usize| {
                        let s = &ir.node(id).ty.shape;
                        s[s.len() - back].eval(bindings).unwrap_or(0) as f64
                    };
                    let rows = bytes(n) / 4.0 / dim(n, 1);
                    flops = Some(2.0 * rows * dim(ops[1], 2) * (dim(ops[0], 1) + dim(ops[2], 1)));
                    break;
                }
                stack.extend(ops);
            }
            let moved = k.inputs.iter().map(|&n| bytes(n)).sum::<f64>() + bytes(k.root);
            (k.name.clone(), Cost { flops, bytes: moved })
        })
        .collect()
}

/// `value / ms` in units of 1e9 per second, when defined.
fn rate(value: f64, ms: f64) -> Option<f64> {
    (ms > 0.0 && value > 0.0).then(|| value / ms / 1e6)
}

/// A rate for a table cell (`-` when undefined).
fn cell(r: Option<f64>) -> String {
    r.map_or("-".into(), |r| format!("{r:.2}"))
}

impl Profile {
    fn total_ms(&self) -> f64 {
        self.times.iter().map(|t| t.ms).sum()
    }

    /// Rows by kind: (kind, count, ms, flops when every kernel has some, bytes).
    fn kinds(&self) -> Vec<(String, usize, f64, Option<f64>, f64)> {
        let mut sums: HashMap<&str, (Option<f64>, f64)> = HashMap::new();
        for t in &self.times {
            let c = self.costs.get(&t.kernel).copied().unwrap_or_default();
            let e = sums.entry(kernel_kind(&t.kernel)).or_insert((Some(0.0), 0.0));
            e.0 = e.0.zip(c.flops).map(|(a, b)| a + b);
            e.1 += c.bytes;
        }
        by_kind(self.times.iter().map(|t| (t.kernel.as_str(), t.ms)))
            .into_iter()
            .map(|(kind, n, ms)| {
                let (flops, bytes) = sums.get(kind.as_str()).copied().unwrap_or((None, 0.0));
                (kind, n, ms, flops, bytes)
            })
            .collect()
    }

    /// The table, for people; `run_ms` is the median whole run.
    pub(crate) fn render(&self, run_ms: f64, top: usize) -> String {
        let total = self.total_ms();
        let share = |ms: f64| 100.0 * ms / total.max(1e-9);
        let mut out = format!(
            "profile: {}\n  {} dispatches, sum {total:.2} ms vs median run {run_ms:.2} ms\n\n",
            self.method,
            self.times.len()
        );
        out += "| kernel kind | count | total ms | share | GFLOP/s | GB/s |\n|---|---:|---:|---:|---:|---:|\n";
        for (kind, n, ms, flops, bytes) in self.kinds() {
            out += &format!(
                "| `{kind}` | {n} | {ms:.3} | {:.1}% | {} | {} |\n",
                share(ms),
                cell(flops.and_then(|f| rate(f, ms))),
                cell(rate(bytes, ms))
            );
        }
        let mut slowest: Vec<&KernelTime> = self.times.iter().collect();
        slowest.sort_by(|a, b| b.ms.total_cmp(&a.ms));
        out += &format!("\nslowest {} kernels:\n\n", top.min(slowest.len()));
        out += "| kernel | variant | ms | share | GFLOP/s | GB/s |\n|---|---|---:|---:|---:|---:|\n";
        for t in slowest.into_iter().take(top) {
            let c = self.costs.get(&t.kernel).copied().unwrap_or_default();
            out += &format!(
                "| `{}` | {} | {:.3} | {:.1}% | {} | {} |\n",
                t.kernel,
                self.variants.get(&t.kernel).map_or("-", String::as_str),
                t.ms,
                share(t.ms),
                cell(c.flops.and_then(|f| rate(f, t.ms))),
                cell(rate(c.bytes, t.ms))
            );
        }
        out
    }

    /// The profile as JSON (`--json --profile`).
    pub(crate) fn to_json(&self) -> Json {
        let kinds: Vec<Json> = self
            .kinds()
            .into_iter()
            .map(|(kind, count, ms, flops, bytes)| {
                json!({
                    "kind": kind, "count": count, "total_ms": ms,
                    "gflops": flops.and_then(|f| rate(f, ms)), "gbytes_per_s": rate(bytes, ms),
                })
            })
            .collect();
        let kernels: Vec<Json> = self
            .times
            .iter()
            .map(|t| json!({"kernel": t.kernel, "ms": t.ms, "variant": self.variants.get(&t.kernel)}))
            .collect();
        json!({"method": self.method, "total_ms": self.total_ms(), "kinds": kinds, "kernels": kernels})
    }
}
