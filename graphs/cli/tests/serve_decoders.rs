//! `wgraph serve` on a chat decoder (graphs/tests/fixtures/serve/
//! chat_llama): chat and text completions give `Generator::greedy`'s
//! tokens (and HF's, from the fixture), whole or streamed; concurrent
//! conversations in separate slots keep their own caches; a client that
//! goes away frees its slot; a full queue is 429; SIGTERM finishes what is
//! in flight and exits 0.

#[path = "../../tests/common/fixtures.rs"]
mod fixtures;
#[path = "common/server.rs"]
mod server;

use fixtures::fixture;
use serde_json::{json, Value};
use server::{EventStream, Server};
use std::path::PathBuf;
use wgraph::{Device, Weights};
use wgraph_models::chat::{ChatPrompter, Message};
use wgraph_models::generate::Generator;

fn dir() -> PathBuf {
    fixture("serve/chat_llama")
}

fn chat_reference() -> Value {
    serde_json::from_str(&std::fs::read_to_string(dir().join("chat_reference.json")).unwrap()).unwrap()
}

/// The library's greedy answer to `messages`: (prompt ids, new ids, text).
struct Reference {
    prompter: ChatPrompter,
    generator: Generator,
}

impl Reference {
    fn new(device: &Device) -> Reference {
        let config = wgraph_models::HfConfig::from_dir(dir()).unwrap();
        let cfg = wgraph_models::llama::LlamaConfig::from_hf(&config).unwrap();
        let prompter = ChatPrompter::open(&dir(), &cfg.eos_token_ids).unwrap();
        let generator = Generator::new(cfg, Weights::from_dir(dir()).unwrap(), device).unwrap();
        Reference { prompter, generator }
    }

    fn answer(&self, messages: &[Message], max: usize) -> (Vec<i64>, Vec<i64>, String) {
        let prompt = self.prompter.prompt_ids(messages).unwrap();
        let all = self.generator.greedy(&prompt, max, self.prompter.stop_ids()).unwrap();
        let new = all[prompt.len()..].to_vec();
        (prompt, new.clone(), self.decode(&new))
    }

    fn decode(&self, ids: &[i64]) -> String {
        let ids: Vec<u32> = ids.iter().map(|&i| i as u32).collect();
        self.prompter.tokenizer().decode(&ids, true).unwrap()
    }
}

fn messages(v: &Value) -> Vec<Message> {
    serde_json::from_value(v.clone()).unwrap()
}

/// The text of a stream and its last `finish_reason`; the stream must end with `[DONE]`.
fn read_stream(mut events: EventStream) -> (String, String) {
    let (mut text, mut finish) = (String::new(), String::new());
    loop {
        let data = events.next_data().expect("the stream ended without [DONE]");
        if data == "[DONE]" {
            assert!(events.next_data().is_none(), "events after [DONE]");
            return (text, finish);
        }
        let chunk: Value = serde_json::from_str(&data).unwrap();
        let choice = &chunk["choices"][0];
        text.push_str(choice["delta"]["content"].as_str().or(choice["text"].as_str()).unwrap_or_default());
        if let Some(f) = choice["finish_reason"].as_str() {
            finish = f.to_string();
        }
    }
}

#[test]
fn completions_equal_greedy_generation_whole_streamed_and_concurrent() {
    let device = Device::new().unwrap();
    let reference = Reference::new(&device);
    let hf = chat_reference();
    let conversation = messages(&hf["messages"]);
    let (prompt, new, text) = reference.answer(&conversation, 24);
    // The library agrees with HF transformers' own greedy tokens first.
    let hf_new: Vec<i64> = serde_json::from_value(hf["greedy_new_ids"].clone()).unwrap();
    assert_eq!(new, hf_new);
    assert_eq!(text, hf["greedy_text"].as_str().unwrap());

    let server = Server::start(&dir(), &["--parallel", "3"]);
    // The warm-up before ready runs a packed round; it is not the server's.
    assert_eq!(server.metric("wgraph_packed_rounds_total"), 0.0);
    // Its programs' activation buffers are reported from the start.
    assert!(server.metric("wgraph_activation_bytes") > 0.0);
    let body = json!({"model": "tiny", "messages": hf["messages"], "max_tokens": 24, "temperature": 0});
    let r = server.post("/v1/chat/completions", &body);
    assert_eq!(r.status, 200, "{}", r.body);
    let v = r.json();
    assert_eq!(v["choices"][0]["message"]["content"].as_str(), Some(text.as_str()));
    assert_eq!(v["choices"][0]["finish_reason"], "length");
    assert_eq!(v["usage"]["prompt_tokens"], prompt.len());
    assert_eq!(v["usage"]["completion_tokens"], new.len());
    assert_eq!(v["model"], "tiny");

    // Every slot starts with the chat template's start computed.
    let reused = server.metric("wgraph_reused_prompt_tokens_total");
    assert!(reused > 0.0, "the first chat reused none of the template's start");
    assert_eq!(v["usage"]["prompt_tokens_details"]["cached_tokens"].as_f64(), Some(reused), "{v}");
    let mut stream_body = body.clone();
    stream_body["stream"] = json!(true);
    let (streamed, finish) = read_stream(EventStream::open(&server.url("/v1/chat/completions"), &stream_body));
    assert_eq!((streamed.as_str(), finish.as_str()), (text.as_str(), "length"));
    // The same prompt again: its slot kept every row but its last token's.
    assert_eq!(server.metric("wgraph_reused_prompt_tokens_total") - reused, (prompt.len() - 1) as f64);

    // Text completion of the same prompt as token ids, and as text.
    let r = server.post("/v1/completions", &json!({"prompt": prompt, "max_tokens": 24}));
    assert_eq!(r.json()["choices"][0]["text"].as_str(), Some(text.as_str()), "{}", r.body);
    let plain = "the capital of france is";
    let ids = reference.prompter.encode(plain).unwrap();
    let all = reference.generator.greedy(&ids, 10, reference.prompter.stop_ids()).unwrap();
    let want = reference.decode(&all[ids.len()..]);
    let completion = json!({"prompt": plain, "max_tokens": 10, "stream": true});
    let (streamed, _) = read_stream(EventStream::open(&server.url("/v1/completions"), &completion));
    assert_eq!(streamed, want);

    // Conversations of different lengths at once, in different slots.
    let asks: Vec<(Vec<Message>, usize)> =
        (0..6).map(|i| (vec![Message::new("user", "hello ".repeat(i + 1))], 5 + 3 * i)).collect();
    let wants: Vec<String> = asks.iter().map(|(m, n)| reference.answer(m, *n).2).collect();
    let gots: Vec<String> = std::thread::scope(|s| {
        let handles: Vec<_> = asks
            .iter()
            .map(|(m, n)| {
                let server = &server;
                s.spawn(move || {
                    let r = server.post("/v1/chat/completions", &json!({"messages": m, "max_tokens": n}));
                    assert_eq!(r.status, 200, "{}", r.body);
                    r.json()["choices"][0]["message"]["content"].as_str().unwrap().to_string()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(gots, wants);
}

/// A decode step the device fails answers its conversations with a 500
/// naming the failure and frees their slots; the next request is answered
/// as usual.
#[test]
fn a_failed_step_answers_500_and_the_server_goes_on() {
    let device = Device::new().unwrap();
    let reference = Reference::new(&device);
    let conversation = vec![Message::new("user", "hello hello")];
    let (_, _, text) = reference.answer(&conversation, 6);
    let server = Server::start(&dir(), &["--parallel", "2", "--debug-fail-batch", "1"]);
    let body = json!({"messages": conversation, "max_tokens": 6});
    let failed = server.post("/v1/chat/completions", &body);
    assert_eq!((failed.status, failed.error().0.as_str()), (500, "model_error"), "{}", failed.body);
    assert!(failed.body.contains("the device failed"), "{}", failed.body);
    assert_eq!(server.metric("wgraph_model_errors_total"), 1.0);
    let next = server.post("/v1/chat/completions", &body);
    assert_eq!(next.status, 200, "{}", next.body);
    assert_eq!(next.json()["choices"][0]["message"]["content"].as_str(), Some(text.as_str()));
}

#[test]
fn decoder_limits_answer_with_json_errors() {
    let server = Server::start(&dir(), &["--ctx-size", "128", "--max-queued", "4"]);
    let ask = |body: Value| server.post("/v1/chat/completions", &body);
    let user = json!([{"role": "user", "content": "hi"}]);
    let long = json!([{"role": "user", "content": "hello ".repeat(200)}]);
    let cases: Vec<(Value, u16, &str, Option<&str>)> = vec![
        (json!({"messages": long}), 413, "prompt_too_long", Some("context_length")),
        (json!({"messages": user, "temperature": 0.7}), 422, "invalid_request", None),
        (json!({"messages": user, "n": 2}), 422, "invalid_request", None),
        (json!({"messages": []}), 422, "invalid_request", None),
        (json!({"messages": [{"role": "user"}]}), 422, "invalid_request", None),
        (json!({"messages": user, "max_tokens": 0}), 422, "invalid_request", None),
    ];
    for (body, status, code, limit) in cases {
        let r = ask(body.clone());
        assert_eq!(r.status, status, "{body}: {}", r.body);
        assert_eq!(r.error(), (code.to_string(), limit.map(str::to_string)), "{body}");
    }
    let r = server.post("/v1/completions", &json!({"prompt": [1, 2, 999]}));
    assert_eq!((r.status, r.error().0.as_str()), (422, "invalid_request"), "{}", r.body);
    let r = server.post("/embed", &json!({"inputs": "x"}));
    assert_eq!((r.status, r.error().0.as_str()), (404, "wrong_model_kind"));
    // A stop string ends the answer before it; max_tokens caps it at the context.
    let r = ask(json!({"messages": user, "max_tokens": 1000}));
    assert_eq!(r.status, 200, "{}", r.body);
    let v = r.json();
    let prompt = v["usage"]["prompt_tokens"].as_u64().unwrap();
    assert_eq!(v["usage"]["total_tokens"].as_u64(), Some(128), "{v}");
    let text = v["choices"][0]["message"]["content"].as_str().unwrap().to_string();
    let stop: String = text.chars().skip(3).take(2).collect();
    let cut = ask(json!({"messages": user, "max_tokens": 1000, "stop": [stop.clone()]})).json();
    let before = &text[..text.find(&stop).unwrap()];
    assert_eq!(cut["choices"][0]["message"]["content"].as_str(), Some(before), "stop {stop:?}");
    assert_eq!(cut["choices"][0]["finish_reason"], "stop");
    assert!(prompt < 128);
    let info = server.get("/info").json();
    assert_eq!((info["model_type"].as_str(), info["max_input_length"].as_u64()), (Some("decoder"), Some(128)));
}

#[test]
fn disconnects_free_slots_full_queues_429_and_sigterm_drains() {
    // One slot, one waiting request; each step paced so generations last.
    let args = ["--parallel", "1", "--max-queued", "1", "--debug-step-delay-ms", "25"];
    let mut server = Server::start(&dir(), &args);
    let long = json!({"messages": [{"role": "user", "content": "hi"}], "max_tokens": 150, "stream": true});
    let mut first = EventStream::open(&server.url("/v1/chat/completions"), &long);
    first.next_data().unwrap(); // the role chunk: the request holds the slot
    server.wait_for_metric("wgraph_busy_slots", |v| v == 1.0);
    // The second waits in the queue; a third finds it full.
    let queued_body = json!({"messages": [{"role": "user", "content": "yo"}], "max_tokens": 20, "stream": true});
    let url = server.url("/v1/chat/completions");
    let second = std::thread::spawn(move || read_stream(EventStream::open(&url, &queued_body)));
    server.wait_for_metric("wgraph_queue_depth", |v| v == 1.0);
    let r = server.post("/v1/chat/completions", &json!({"messages": [{"role": "user", "content": "x"}]}));
    assert_eq!((r.status, r.error().1.as_deref()), (429, Some("max_queued")), "{}", r.body);
    assert_eq!(r.retry_after.as_deref(), Some("1"));
    // The first client goes away: its slot goes to the queued request.
    drop(first);
    server.wait_for_metric("wgraph_cancelled_total", |v| v == 1.0);
    server.wait_for_metric("wgraph_queue_depth", |v| v == 0.0);
    assert!(server.metric("wgraph_generated_tokens_total") < 150.0, "the abandoned generation ran to its end");
    // SIGTERM while the second is in flight: it still gets its whole answer.
    server.terminate();
    let (_, finish) = second.join().unwrap();
    assert_eq!(finish, "length");
    assert_eq!(server.wait_exit(), 0);
    assert!(ureq::get(server.url("/health")).call().is_err(), "still accepting after SIGTERM");
}
