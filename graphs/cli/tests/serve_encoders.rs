//! `wgraph serve` on encoders, against the library run in this process on
//! the same texts: `/embed` and `/v1/embeddings` give `SentenceEmbedder::
//! embed`'s vectors, alone and inside concurrent batches (each request its
//! own rows); `/predict` gives HF's label probabilities; every limit
//! answers with its status and a JSON body naming it.

#[path = "../../tests/common/fixtures.rs"]
mod fixtures;
#[path = "common/server.rs"]
mod server;

use fixtures::{fixture, model};
use serde_json::{json, Value};
use server::Server;
use std::sync::{Arc, Barrier};
use wgraph::{Device, Weights};
use wgraph_models::embed::SentenceEmbedder;

const TEXTS: [&str; 8] = [
    "hello world",
    "the quick brown fox",
    "what is the capital of france?",
    "a server batches requests",
    "vectors",
    "similar texts get similar vectors.",
    "how are you today?",
    "paris",
];

/// 23 tokens: over the fixture's `max_seq_length` of 16.
const LONG: &str = "the quick brown fox jumps over the lazy dog";

/// Each text embedded alone by the library.
fn reference(texts: &[&str]) -> Vec<Vec<f32>> {
    let device = Device::new().unwrap();
    let embedder = SentenceEmbedder::open(fixture("serve/embedder"), &device).unwrap();
    texts.iter().map(|t| embedder.embed(&[t]).unwrap().remove(0)).collect()
}

fn vector(v: &Value) -> Vec<f32> {
    v.as_array().unwrap().iter().map(|x| x.as_f64().unwrap() as f32).collect()
}

/// Little-endian f32 values from standard padded base64.
fn from_base64_f32(text: &str) -> Vec<f32> {
    let alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let sextets: Vec<u32> = text.trim_end_matches('=').chars().map(|c| alphabet.find(c).unwrap() as u32).collect();
    let mut bytes = Vec::new();
    for group in sextets.chunks(4) {
        let n = group.iter().enumerate().fold(0u32, |n, (i, &s)| n | (s << (18 - 6 * i)));
        bytes.extend(n.to_be_bytes()[1..group.len()].iter().copied());
    }
    bytes.chunks(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect()
}

/// Largest element difference: batching pads, which may change f32 rounding only.
fn max_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0, f32::max)
}

#[test]
fn embeddings_equal_the_library_alone_and_in_concurrent_batches() {
    let want = reference(&TEXTS);
    let server = Server::start(&fixture("serve/embedder"), &["--max-wait-ms", "50"]);
    let one = server.post("/embed", &json!({"inputs": TEXTS[1]}));
    assert_eq!(one.status, 200, "{}", one.body);
    assert!(max_diff(&vector(&one.json()[0]), &want[1]) < 1e-6);

    let all = server.post("/v1/embeddings", &json!({"input": TEXTS, "model": "mini"}));
    assert_eq!(all.status, 200, "{}", all.body);
    let body = all.json();
    assert_eq!(body["model"], "mini");
    for (i, w) in want.iter().enumerate() {
        assert_eq!(body["data"][i]["index"], i);
        assert!(max_diff(&vector(&body["data"][i]["embedding"]), w) < 1e-5, "text {i}");
    }
    // OpenAI's Python client asks for base64 (little-endian f32) by default.
    let coded = server.post("/v1/embeddings", &json!({"input": TEXTS[2], "encoding_format": "base64"}));
    let coded = coded.json()["data"][0]["embedding"].as_str().unwrap().to_string();
    assert!(max_diff(&from_base64_f32(&coded), &want[2]) < 1e-6);
    // Each text's own tokens: the fixture's tokenizer.json pads every
    // text to 16, as MiniLM's pads to 128, and padding is not usage.
    let tokenizer = wgraph_models::text::unpadded_tokenizer_at(&fixture("serve/embedder")).unwrap();
    let tokens: usize = TEXTS.iter().map(|t| tokenizer.encode(*t, true).unwrap().get_ids().len()).sum();
    assert!(tokens < 16 * TEXTS.len(), "{tokens}");
    assert_eq!(body["usage"]["prompt_tokens"], tokens);

    // The model's activation buffers are reported once it has run.
    assert!(server.metric("wgraph_activation_bytes") > 0.0);

    // 64 clients at once, each text 8 times: every answer is its own text's vector.
    let batches_before = server.metric("wgraph_batch_size_count");
    let barrier = Arc::new(Barrier::new(64));
    let server = Arc::new(server);
    let answers: Vec<(usize, Vec<f32>)> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..64)
            .map(|c| {
                let (barrier, server) = (barrier.clone(), server.clone());
                s.spawn(move || {
                    let i = c % TEXTS.len();
                    barrier.wait();
                    let reply = server.post("/embed", &json!({"inputs": [TEXTS[i]]}));
                    assert_eq!(reply.status, 200, "{}", reply.body);
                    (i, vector(&reply.json()[0]))
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for (i, got) in &answers {
        let d = max_diff(got, &want[*i]);
        assert!(d < 1e-5, "text {i} differs by {d} from its vector alone");
        // And it is nobody else's: every other text's vector is far from it.
        for (j, other) in want.iter().enumerate().filter(|(j, _)| j != i) {
            assert!(max_diff(got, other) > 1e-2, "text {i}'s answer looks like text {j}'s");
        }
    }
    let batches = server.metric("wgraph_batch_size_count") - batches_before;
    assert!(batches < 64.0, "64 concurrent requests ran in {batches} batches: nothing was batched");
}

#[test]
fn sigterm_under_load_answers_every_accepted_request() {
    let want = reference(&TEXTS);
    // Each batch waits 3 s before it runs, so requests pile up in the queue.
    let mut server = Server::start(&fixture("serve/embedder"), &["--debug-step-delay-ms", "3000"]);
    let server_ref = &server;
    let answers: Vec<(usize, u16, Vec<f32>)> = std::thread::scope(|s| {
        let post = |i: usize| {
            s.spawn(move || {
                let reply = server_ref.post("/embed", &json!({"inputs": [TEXTS[i % TEXTS.len()]]}));
                let v = if reply.status == 200 { vector(&reply.json()[0]) } else { Vec::new() };
                (i % TEXTS.len(), reply.status, v)
            })
        };
        // The first request is taken into a batch (its 2 ms window long
        // closed when the others arrive); the next 23 wait behind it.
        let mut handles = vec![post(0)];
        std::thread::sleep(std::time::Duration::from_millis(500));
        handles.extend((1..24).map(post));
        server_ref.wait_for_metric("wgraph_queue_depth", |v| v == 23.0);
        // SIGTERM with all 24 accepted: each still gets its own vector.
        server_ref.terminate();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for (i, status, got) in &answers {
        assert_eq!(*status, 200, "request for text {i} lost in the shutdown");
        assert!(max_diff(got, &want[*i]) < 1e-5, "text {i}");
    }
    assert_eq!(server.wait_exit(), 0);
}

#[test]
fn limits_answer_with_json_errors_naming_them() {
    let dir = fixture("serve/embedder");
    let server = Server::start_env(
        &dir,
        &["--max-body-bytes", "4096", "--max-client-batch-size", "4"],
        &[("WGRAPH_API_KEY", "sesame")],
    );
    let key = Some("sesame");
    // The key, from the environment: required everywhere but /health.
    let r = server.post("/embed", &json!({"inputs": "hello"}));
    assert_eq!((r.status, r.error().0.as_str()), (401, "invalid_api_key"), "{}", r.body);
    let r = server.post_with("/embed", &json!({"inputs": "hello"}), Some("wrong"));
    assert_eq!(r.status, 401);
    assert_eq!(server.get("/health").status, 200);
    assert_eq!(server.post_with("/embed", &json!({"inputs": "hello"}), key).status, 200);

    let cases: Vec<(Value, u16, &str, Option<&str>)> = vec![
        (json!({"inputs": ["a", "b", "c", "d", "e"]}), 413, "too_many_inputs", Some("max_client_batch_size")),
        (json!({"inputs": LONG}), 413, "input_too_long", Some("max_input_tokens")),
        (json!({"inputs": 5}), 422, "invalid_request", None),
        (json!({"input": "hello"}), 422, "invalid_request", None),
        (json!({"inputs": []}), 422, "invalid_request", None),
        (json!({"inputs": "x", "normalize": false}), 422, "invalid_request", None),
    ];
    for (body, status, code, limit) in cases {
        let r = server.post_with("/embed", &body, key);
        assert_eq!(r.status, status, "{body}: {}", r.body);
        assert_eq!(r.error(), (code.to_string(), limit.map(str::to_string)), "{body}");
    }
    let r = server.post_with("/embed", &json!({"inputs": ["a", "b", "c", "d", "e"]}), key);
    assert_eq!((r.json()["error"]["max"].as_u64(), r.json()["error"]["got"].as_u64()), (Some(4), Some(5)));
    // Truncation as asked: the model's first 16 tokens, as the library truncates.
    let r = server.post_with("/embed", &json!({"inputs": LONG, "truncate": true}), key);
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(max_diff(&vector(&r.json()[0]), &reference(&[LONG])[0]) < 1e-6);

    let big = format!("{{\"inputs\": \"{}\"}}", "a ".repeat(3000));
    let r = send_raw_with_key(&server, big.as_bytes());
    assert_eq!((r.status, r.error()), (413, ("body_too_large".into(), Some("max_body_bytes".into()))));
    let r = send_raw_with_key(&server, b"{\"inputs\": ");
    assert_eq!((r.status, r.error().0.as_str()), (400, "invalid_json"));
    // Routes of other model kinds say which model this is.
    let r = server.post_with("/v1/chat/completions", &json!({"messages": []}), key);
    assert_eq!((r.status, r.error().0.as_str()), (404, "wrong_model_kind"));
    let info = server.post_with("/predict", &json!({"inputs": "x"}), key);
    assert_eq!(info.status, 404);
    let metrics = agent_get_with_key(&server, "/metrics");
    assert!(metrics.contains("wgraph_requests_total{route=\"/embed\",status=\"413\"} 4"), "{metrics}");
}

fn send_raw_with_key(server: &Server, bytes: &[u8]) -> server::Reply {
    let mut r = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .new_agent()
        .post(server.url("/embed"))
        .header("Authorization", "Bearer sesame")
        .content_type("application/json")
        .send(bytes)
        .unwrap();
    let status = r.status().as_u16();
    server::Reply { status, retry_after: None, body: r.body_mut().read_to_string().unwrap() }
}

fn agent_get_with_key(server: &Server, path: &str) -> String {
    let mut r = ureq::get(server.url(path)).header("Authorization", "Bearer sesame").call().unwrap();
    r.body_mut().read_to_string().unwrap()
}

/// A batch the device fails answers its requests with a 500 naming the
/// failure; the next batch is served as usual.
#[test]
fn a_failed_batch_answers_500_and_the_server_goes_on() {
    let want = reference(&TEXTS);
    let server = Server::start(&fixture("serve/embedder"), &["--debug-fail-batch", "1"]);
    let failed = server.post("/embed", &json!({"inputs": TEXTS[0]}));
    assert_eq!((failed.status, failed.error().0.as_str()), (500, "model_error"), "{}", failed.body);
    assert!(failed.body.contains("the device failed this batch"), "{}", failed.body);
    assert_eq!(server.metric("wgraph_model_errors_total"), 1.0);
    let next = server.post("/embed", &json!({"inputs": TEXTS[0]}));
    assert_eq!(next.status, 200, "{}", next.body);
    assert!(max_diff(&vector(&next.json()[0]), &want[0]) < 1e-6);
}

#[test]
fn a_full_queue_answers_429_with_retry_after() {
    let server = Server::start(&fixture("serve/embedder"), &["--max-queued", "0"]);
    let r = server.post("/embed", &json!({"inputs": "hello"}));
    assert_eq!((r.status, r.error()), (429, ("queue_full".into(), Some("max_queued".into()))), "{}", r.body);
    assert_eq!(r.retry_after.as_deref(), Some("1"));
    let info = server.get("/info").json();
    assert_eq!((info["model_type"].as_str(), info["dims"].as_u64()), (Some("embedding"), Some(32)));
    assert_eq!(info["max_input_length"], 16);
}

#[test]
fn predict_gives_hf_label_probabilities() {
    let dir = model("distilbert_classifier");
    let bytes = std::fs::read(dir.join("classify.safetensors")).unwrap();
    let (_, meta) = safetensors::SafeTensors::read_metadata(&bytes).unwrap();
    let texts: Vec<String> = serde_json::from_str(&meta.metadata().as_ref().unwrap()["texts"]).unwrap();
    let probs = Weights::open([dir.join("classify.safetensors")]).unwrap().read("probs").unwrap().to_f32_vec();
    let server = Server::start(&dir, &[]);
    let r = server.post("/predict", &json!({"inputs": texts}));
    assert_eq!(r.status, 200, "{}", r.body);
    let labels = ["negative", "neutral", "positive"];
    for (i, ranked) in r.json().as_array().unwrap().iter().enumerate() {
        let ranked = ranked.as_array().unwrap();
        assert_eq!(ranked.len(), 3);
        for entry in ranked {
            let j = labels.iter().position(|l| entry["label"] == *l).unwrap();
            let score = entry["score"].as_f64().unwrap() as f32;
            assert!((score - probs[i * 3 + j]).abs() < 6e-4, "text {i} {}: HF {}", entry["label"], probs[i * 3 + j]);
        }
        let scores: Vec<f64> = ranked.iter().map(|e| e["score"].as_f64().unwrap()).collect();
        assert!(scores.windows(2).all(|w| w[0] >= w[1]), "highest first: {scores:?}");
    }
    // One text: one list, not a list of lists.
    let one = server.post("/predict", &json!({"inputs": texts[0]})).json();
    assert!(one[0]["label"].is_string(), "{one}");
    // Text pairs (a cross-encoder's query and passage) through the
    // tokenizer's pair template; a two-text array is one pair, as in TEI.
    let pairs: Vec<[String; 2]> = serde_json::from_str(&meta.metadata().as_ref().unwrap()["pairs"]).unwrap();
    let pair_probs =
        Weights::open([dir.join("classify.safetensors")]).unwrap().read("pair_probs").unwrap().to_f32_vec();
    let score_of = |ranked: &Value, label: &str| {
        let entry = ranked.as_array().unwrap().iter().find(|e| e["label"] == label).unwrap();
        entry["score"].as_f64().unwrap() as f32
    };
    let many = server.post("/predict", &json!({"inputs": pairs}));
    assert_eq!(many.status, 200, "{}", many.body);
    let one_pair = server.post("/predict", &json!({"inputs": pairs[1]})).json();
    for (i, ranked) in many.json().as_array().unwrap().iter().chain([&one_pair]).enumerate() {
        let row = if i < pairs.len() { i } else { 1 };
        for (j, label) in labels.iter().enumerate() {
            let (got, want) = (score_of(ranked, label), pair_probs[row * 3 + j]);
            assert!((got - want).abs() < 6e-4, "pair {row} {label}: {got} vs HF {want}");
        }
    }
    assert_eq!(server.post("/embed", &json!({"inputs": "x"})).status, 404);
}
