//! Load test for `wgraph serve` and its peers (BENCHMARKS.md, "Serving"):
//! for each client count, that many threads send requests back to back to
//! one route until `--requests` are done or `--seconds` pass; prints one
//! Markdown table row per count with requests/s, p50 and p99 latency and,
//! for chat and completions, generated tokens/s. Loopback addresses only.
//! `--rss-pid PID` also prints the server's resident memory after the
//! warm-up and after each client count (a leak shows as growth).
//!
//! cargo run --release --manifest-path tools/loadtest/Cargo.toml -- \
//!     --url http://127.0.0.1:8080 --kind embed --clients 1,8,64 --requests 640 --seconds 60
//!
//! Kinds: `embed` (TEI `/embed`), `openai-embed` (`/v1/embeddings`),
//! `chat` (`/v1/chat/completions`), `completion` (`/v1/completions`, the
//! sentence as a raw prompt: no chat template, so short prompts); their
//! messages are numbered, each request's its own.

use serde_json::{json, Value};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Sentences of a few lengths, one per request in turn.
const SENTENCES: &[&str] = &[
    "The cat sits outside.",
    "A man is playing guitar.",
    "The new movie is awesome and everyone should go and see it this weekend.",
    "I love pasta.",
    "Do you like pizza? It is my favourite food in the whole world.",
    "The weather is lovely today.",
    "Paris is the capital of France.",
    "How do I make a server batch requests together to keep the device busy?",
];

struct Options {
    url: String,
    kind: String,
    path: Option<String>,
    model: String,
    clients: Vec<usize>,
    requests: usize,
    seconds: u64,
    max_tokens: usize,
    label: String,
    rss_pid: Option<u32>,
}

fn parse() -> Result<Options, String> {
    let mut o = Options {
        url: "http://127.0.0.1:8080".into(),
        kind: "embed".into(),
        path: None,
        model: "model".into(),
        clients: vec![1, 8, 64],
        requests: 640,
        seconds: 60,
        max_tokens: 16,
        label: "wgraph".into(),
        rss_pid: None,
    };
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut i = 0;
    while i < args.len() {
        let value = args.get(i + 1).ok_or(format!("{} needs a value", args[i]))?.clone();
        match args[i].as_str() {
            "--url" => o.url = value,
            "--kind" => o.kind = value,
            "--path" => o.path = Some(value),
            "--model" => o.model = value,
            "--label" => o.label = value,
            "--rss-pid" => o.rss_pid = Some(value.parse().map_err(|e| format!("--rss-pid: {e}"))?),
            "--clients" => {
                o.clients = value
                    .split(',')
                    .map(|c| c.parse().map_err(|e| format!("--clients {c}: {e}")))
                    .collect::<Result<_, _>>()?
            }
            "--requests" => o.requests = value.parse().map_err(|e| format!("--requests: {e}"))?,
            "--seconds" => o.seconds = value.parse().map_err(|e| format!("--seconds: {e}"))?,
            "--max-tokens" => o.max_tokens = value.parse().map_err(|e| format!("--max-tokens: {e}"))?,
            other => return Err(format!("unknown flag {other}")),
        }
        i += 2;
    }
    let host = o.url.trim_start_matches("http://").split(['/', ':']).next().unwrap_or_default().to_string();
    if !["127.0.0.1", "localhost", "[::1]"].contains(&host.as_str()) {
        return Err(format!("{}: the load test only targets loopback addresses", o.url));
    }
    if !["embed", "openai-embed", "chat", "completion"].contains(&o.kind.as_str()) {
        return Err(format!("--kind {}: embed, openai-embed, chat or completion", o.kind));
    }
    Ok(o)
}

/// The route and body of request number `n`. Generations get a message
/// of their own (numbered first), so a server that reuses cached prompt
/// starts reuses only what real chats share (the chat template's system
/// prompt), never a whole repeated prompt.
fn request(o: &Options, n: usize) -> (String, Value) {
    let sentence = SENTENCES[n % SENTENCES.len()];
    let numbered = format!("Request {n}: {sentence}");
    let text = if o.kind == "chat" || o.kind == "completion" { numbered.as_str() } else { sentence };
    match o.kind.as_str() {
        "embed" => (o.path.clone().unwrap_or("/embed".into()), json!({"inputs": text})),
        "openai-embed" => {
            (o.path.clone().unwrap_or("/v1/embeddings".into()), json!({"input": [text], "model": o.model}))
        }
        "completion" => (
            o.path.clone().unwrap_or("/v1/completions".into()),
            json!({"model": o.model, "prompt": text, "max_tokens": o.max_tokens, "temperature": 0}),
        ),
        _ => (
            o.path.clone().unwrap_or("/v1/chat/completions".into()),
            json!({"model": o.model, "messages": [{"role": "user", "content": text}],
                   "max_tokens": o.max_tokens, "temperature": 0}),
        ),
    }
}

/// One level: (latencies of the successful requests, failures, generated tokens, wall time).
fn level(o: &Options, clients: usize) -> (Vec<Duration>, usize, u64, Duration) {
    let next = Arc::new(AtomicUsize::new(0));
    let results = Arc::new(Mutex::new((Vec::new(), 0usize, 0u64)));
    let deadline = Instant::now() + Duration::from_secs(o.seconds);
    let start = Instant::now();
    std::thread::scope(|s| {
        for _ in 0..clients {
            let (next, results) = (next.clone(), results.clone());
            s.spawn(move || {
                let agent: ureq::Agent = ureq::Agent::config_builder()
                    .http_status_as_error(false)
                    .timeout_global(Some(Duration::from_secs(300)))
                    .build()
                    .into();
                loop {
                    let n = next.fetch_add(1, Ordering::SeqCst);
                    if n >= o.requests || Instant::now() > deadline {
                        return;
                    }
                    let (path, body) = request(o, n);
                    let t = Instant::now();
                    let reply = agent.post(format!("{}{path}", o.url)).send_json(&body);
                    let took = t.elapsed();
                    let ok = reply.ok().filter(|r| r.status().as_u16() == 200);
                    let tokens = match ok {
                        Some(mut r) if generates(o) => r
                            .body_mut()
                            .read_json::<Value>()
                            .ok()
                            .and_then(|v| v["usage"]["completion_tokens"].as_u64()),
                        Some(mut r) => r.body_mut().read_to_string().ok().map(|_| 0),
                        None => None,
                    };
                    let mut res = results.lock().unwrap();
                    match tokens {
                        Some(t) => {
                            res.0.push(took);
                            res.2 += t;
                        }
                        None => res.1 += 1,
                    }
                }
            });
        }
    });
    let wall = start.elapsed();
    let (lat, failed, tokens) = std::mem::take(&mut *results.lock().unwrap());
    (lat, failed, tokens, wall)
}

/// Whether the route generates tokens (the reply's `usage` counts them).
fn generates(o: &Options) -> bool {
    o.kind == "chat" || o.kind == "completion"
}

/// The resident memory of process `pid` in MB (`VmRSS`), if readable.
fn rss_mb(pid: u32) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1e3
}

fn main() {
    let o = match parse() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(2);
        }
    };
    // Warm-up: the first requests compile kernels on some drivers.
    for n in 0..4 {
        let (path, body) = request(&o, n);
        let _ = ureq::post(format!("{}{path}", o.url)).send_json(&body);
    }
    let mut rss: Vec<String> = o.rss_pid.and_then(rss_mb).map(|mb| format!("{mb:.1}")).into_iter().collect();
    println!("| server | kind | clients | requests | failed | req/s | p50 ms | p99 ms | tokens/s |");
    println!("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
    for &clients in &o.clients {
        let (mut lat, failed, tokens, wall) = level(&o, clients);
        lat.sort();
        let secs = wall.as_secs_f64();
        let tok = if generates(&o) { format!("{:.1}", tokens as f64 / secs) } else { "-".into() };
        println!(
            "| {} | {} | {clients} | {} | {failed} | {:.1} | {:.1} | {:.1} | {tok} |",
            o.label,
            o.kind,
            lat.len(),
            lat.len() as f64 / secs,
            percentile(&lat, 0.5),
            percentile(&lat, 0.99),
        );
        rss.extend(o.rss_pid.and_then(rss_mb).map(|mb| format!("{mb:.1}")));
    }
    if o.rss_pid.is_some() {
        println!("\nserver RSS MB after the warm-up, then after each client count: {}", rss.join(" -> "));
    }
}
