//! The server's Prometheus metrics (`GET /metrics`, text format 0.0.4):
//! requests by route and status, request and batch latency, batch sizes,
//! queue depth, busy decoder slots, tokens in and out.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Duration;

/// Latency bucket bounds, seconds.
const SECONDS: &[f64] = &[0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0];
/// Batch size bucket bounds, sequences.
const SEQUENCES: &[f64] = &[1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0];

/// A cumulative histogram with fixed bounds.
#[derive(Debug, Clone)]
struct Histogram {
    bounds: &'static [f64],
    counts: Vec<u64>,
    sum: f64,
    count: u64,
}

impl Histogram {
    fn new(bounds: &'static [f64]) -> Histogram {
        Histogram { bounds, counts: vec![0; bounds.len()], sum: 0.0, count: 0 }
    }

    fn observe(&mut self, v: f64) {
        for (c, b) in self.counts.iter_mut().zip(self.bounds) {
            if v <= *b {
                *c += 1;
            }
        }
        self.sum += v;
        self.count += 1;
    }

    fn render(&self, out: &mut String, name: &str, labels: &str) {
        let sep = if labels.is_empty() { "" } else { "," };
        for (c, b) in self.counts.iter().zip(self.bounds) {
            let _ = writeln!(out, "{name}_bucket{{{labels}{sep}le=\"{b}\"}} {c}");
        }
        let _ = writeln!(out, "{name}_bucket{{{labels}{sep}le=\"+Inf\"}} {}", self.count);
        let braces = if labels.is_empty() { String::new() } else { format!("{{{labels}}}") };
        let _ = writeln!(out, "{name}_sum{braces} {}", self.sum);
        let _ = writeln!(out, "{name}_count{braces} {}", self.count);
    }
}

/// Everything `/metrics` reports; shared by the handlers and the model thread.
pub(crate) struct Metrics {
    requests: Mutex<BTreeMap<(String, u16), u64>>,
    latency: Mutex<BTreeMap<String, Histogram>>,
    batch_sizes: Mutex<Histogram>,
    batch_latency: Mutex<Histogram>,
    /// Requests accepted and waiting for the model thread.
    pub(crate) queue_depth: AtomicUsize,
    /// Decoder slots holding a conversation.
    pub(crate) busy_slots: AtomicUsize,
    pub(crate) input_tokens: AtomicU64,
    pub(crate) generated_tokens: AtomicU64,
    /// Generations stopped because their client went away.
    pub(crate) cancelled: AtomicU64,
    /// Batches or steps the device failed (answered 500).
    pub(crate) model_errors: AtomicU64,
    /// Decoder rounds whose prompts ran in one packed program.
    pub(crate) packed_rounds: AtomicU64,
    /// Prompt tokens whose cache rows a slot already held.
    pub(crate) reused_prompt_tokens: AtomicU64,
    /// Activation memory the model's programs keep between runs, bytes.
    pub(crate) activation_bytes: AtomicU64,
    started: std::time::Instant,
}

impl Metrics {
    pub(crate) fn new() -> Metrics {
        Metrics {
            requests: Mutex::new(BTreeMap::new()),
            latency: Mutex::new(BTreeMap::new()),
            batch_sizes: Mutex::new(Histogram::new(SEQUENCES)),
            batch_latency: Mutex::new(Histogram::new(SECONDS)),
            queue_depth: AtomicUsize::new(0),
            busy_slots: AtomicUsize::new(0),
            input_tokens: AtomicU64::new(0),
            generated_tokens: AtomicU64::new(0),
            cancelled: AtomicU64::new(0),
            model_errors: AtomicU64::new(0),
            packed_rounds: AtomicU64::new(0),
            reused_prompt_tokens: AtomicU64::new(0),
            activation_bytes: AtomicU64::new(0),
            started: std::time::Instant::now(),
        }
    }

    pub(crate) fn request(&self, route: &str, status: u16, took: Duration) {
        *lock(&self.requests).entry((route.to_string(), status)).or_insert(0) += 1;
        lock(&self.latency)
            .entry(route.to_string())
            .or_insert_with(|| Histogram::new(SECONDS))
            .observe(took.as_secs_f64());
    }

    /// One batch (or decode step) of `sequences` that took `took` on the device.
    pub(crate) fn batch(&self, sequences: usize, took: Duration) {
        lock(&self.batch_sizes).observe(sequences as f64);
        lock(&self.batch_latency).observe(took.as_secs_f64());
    }

    pub(crate) fn render(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "# HELP wgraph_requests_total HTTP requests answered, by route and status.");
        let _ = writeln!(out, "# TYPE wgraph_requests_total counter");
        for ((route, status), n) in lock(&self.requests).iter() {
            let _ = writeln!(out, "wgraph_requests_total{{route=\"{route}\",status=\"{status}\"}} {n}");
        }
        let _ = writeln!(out, "# HELP wgraph_request_duration_seconds Time to answer a request, by route.");
        let _ = writeln!(out, "# TYPE wgraph_request_duration_seconds histogram");
        for (route, h) in lock(&self.latency).iter() {
            h.render(&mut out, "wgraph_request_duration_seconds", &format!("route=\"{route}\""));
        }
        let _ = writeln!(out, "# HELP wgraph_batch_size Sequences per device batch (decoders: per step).");
        let _ = writeln!(out, "# TYPE wgraph_batch_size histogram");
        lock(&self.batch_sizes).render(&mut out, "wgraph_batch_size", "");
        let _ = writeln!(out, "# HELP wgraph_batch_duration_seconds Device time of one batch or step.");
        let _ = writeln!(out, "# TYPE wgraph_batch_duration_seconds histogram");
        lock(&self.batch_latency).render(&mut out, "wgraph_batch_duration_seconds", "");
        let gauges: [(&str, &str, u64); 3] = [
            ("wgraph_queue_depth", "Requests waiting for the model.", self.queue_depth.load(Ordering::Relaxed) as u64),
            (
                "wgraph_busy_slots",
                "Decoder slots holding a conversation.",
                self.busy_slots.load(Ordering::Relaxed) as u64,
            ),
            (
                "wgraph_activation_bytes",
                "Activation memory the model keeps between runs (buffers, texture and readback copies), grown to the largest sizes run so far.",
                self.activation_bytes.load(Ordering::Relaxed),
            ),
        ];
        for (name, help, v) in gauges {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {v}");
        }
        let counters = [
            ("wgraph_input_tokens_total", "Tokens read (inputs and prompts).", &self.input_tokens),
            ("wgraph_generated_tokens_total", "Tokens generated.", &self.generated_tokens),
            ("wgraph_cancelled_total", "Generations stopped because the client went away.", &self.cancelled),
            ("wgraph_model_errors_total", "Batches or steps the device failed.", &self.model_errors),
            (
                "wgraph_packed_rounds_total",
                "Decoder rounds whose new prompts ran in one program with the busy slots.",
                &self.packed_rounds,
            ),
            (
                "wgraph_reused_prompt_tokens_total",
                "Prompt tokens not computed: their slot held them from its previous conversation.",
                &self.reused_prompt_tokens,
            ),
        ];
        for (name, help, v) in counters {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter\n{name} {}", v.load(Ordering::Relaxed));
        }
        let up = self.started.elapsed().as_secs_f64().max(1e-9);
        let rate = self.generated_tokens.load(Ordering::Relaxed) as f64 / up;
        let _ = writeln!(
            out,
            "# HELP wgraph_generated_tokens_per_second Tokens generated per second since start.\n\
             # TYPE wgraph_generated_tokens_per_second gauge\nwgraph_generated_tokens_per_second {rate}"
        );
        out
    }
}

/// A poisoned lock still holds valid counts (a panic cannot leave one half-updated).
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}
