//! `wgraph serve` started as a user starts it, on an ephemeral loopback
//! port, and a blocking HTTP client for it. The server is killed when the
//! handle drops, so a failing test leaves no process behind. Included
//! with `#[path]`.

#![allow(dead_code)]

use serde_json::Value;
use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// How long a server may take to compile its model, and a request to answer.
pub const LIMIT: Duration = Duration::from_secs(120);

pub struct Server {
    child: Child,
    pub base: String,
    stderr: Option<std::thread::JoinHandle<String>>,
}

/// A status, its headers we look at, and the body.
pub struct Reply {
    pub status: u16,
    pub retry_after: Option<String>,
    pub body: String,
}

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.body))
    }

    /// The error body's `code` and `limit`.
    pub fn error(&self) -> (String, Option<String>) {
        let v = self.json();
        let e = &v["error"];
        (e["code"].as_str().unwrap_or_default().into(), e["limit"].as_str().map(str::to_string))
    }
}

impl Server {
    /// `wgraph serve MODEL --port 0 EXTRA...`, once `/health` says ready.
    pub fn start(model: &std::path::Path, extra: &[&str]) -> Server {
        Server::start_env(model, extra, &[])
    }

    pub fn start_env(model: &std::path::Path, extra: &[&str], env: &[(&str, &str)]) -> Server {
        let mut child = Command::new(env!("CARGO_BIN_EXE_wgraph"))
            .arg("serve")
            .arg(model)
            .args(["--port", "0"])
            .args(extra)
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        let mut stderr_pipe = child.stderr.take().unwrap();
        let stderr = std::thread::spawn(move || {
            let mut s = String::new();
            let _ = stderr_pipe.read_to_string(&mut s);
            s
        });
        let line = rx.recv_timeout(LIMIT).unwrap_or_default();
        let base = line.trim().rsplit(' ').next().unwrap_or_default().to_string();
        let mut server = Server { child, base, stderr: Some(stderr) };
        assert!(server.base.starts_with("http://127.0.0.1:"), "no address printed: {line:?}");
        let start = Instant::now();
        while server.get("/health").status != 200 {
            if let Ok(Some(status)) = server.child.try_wait() {
                panic!("the server exited ({status}): {}", server.stderr_text());
            }
            assert!(start.elapsed() < LIMIT, "not ready within {LIMIT:?}");
            std::thread::sleep(Duration::from_millis(50));
        }
        server
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub fn get(&self, path: &str) -> Reply {
        send(agent().get(self.url(path)).call())
    }

    pub fn post(&self, path: &str, body: &Value) -> Reply {
        self.post_with(path, body, None)
    }

    pub fn post_with(&self, path: &str, body: &Value, key: Option<&str>) -> Reply {
        let mut request = agent().post(self.url(path));
        if let Some(k) = key {
            request = request.header("Authorization", &format!("Bearer {k}"));
        }
        send(request.send_json(body))
    }

    /// Posts raw bytes as JSON (malformed bodies, oversized ones).
    pub fn post_raw(&self, path: &str, bytes: &[u8]) -> Reply {
        send(agent().post(self.url(path)).content_type("application/json").send(bytes))
    }

    /// A Prometheus sample's value (`name{labels}` exactly as printed).
    pub fn metric(&self, sample: &str) -> f64 {
        let text = self.get("/metrics").body;
        text.lines()
            .find_map(|l| l.strip_prefix(sample).and_then(|rest| rest.strip_prefix(' ')))
            .map_or(0.0, |v| v.trim().parse().unwrap())
    }

    /// Polls `sample` until `ok` holds (the server's own progress, not a guess of time).
    pub fn wait_for_metric(&self, sample: &str, ok: impl Fn(f64) -> bool) {
        let start = Instant::now();
        while !ok(self.metric(sample)) {
            assert!(start.elapsed() < LIMIT, "{sample} stayed {} for {LIMIT:?}", self.metric(sample));
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends SIGTERM.
    pub fn terminate(&self) {
        let status = Command::new("kill").args(["-TERM", &self.pid().to_string()]).status().unwrap();
        assert!(status.success());
    }

    /// The exit status, waiting at most [`LIMIT`].
    pub fn wait_exit(&mut self) -> i32 {
        let start = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status.code().unwrap_or(-1);
            }
            assert!(start.elapsed() < LIMIT, "the server did not exit within {LIMIT:?}");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// What the server wrote to stderr (after it exited or was killed).
    pub fn stderr_text(&mut self) -> String {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.stderr.take().map(|h| h.join().unwrap_or_default()).unwrap_or_default()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder().http_status_as_error(false).timeout_global(Some(LIMIT)).build().into()
}

fn send(result: Result<ureq::http::Response<ureq::Body>, ureq::Error>) -> Reply {
    let mut response = result.unwrap_or_else(|e| panic!("request failed: {e}"));
    let status = response.status().as_u16();
    let retry_after = response.headers().get("retry-after").and_then(|v| v.to_str().ok()).map(str::to_string);
    let body = response.body_mut().read_to_string().unwrap_or_default();
    Reply { status, retry_after, body }
}

/// An open server-sent-events response, read event by event.
pub struct EventStream {
    lines: Box<dyn BufRead + Send>,
}

impl EventStream {
    /// POSTs `body` and returns the stream (the status must be 200).
    pub fn open(url: &str, body: &Value) -> EventStream {
        let response = agent().post(url).send_json(body).unwrap();
        assert_eq!(response.status().as_u16(), 200);
        let reader = response.into_body().into_reader();
        EventStream { lines: Box::new(BufReader::new(reader)) }
    }

    /// The next `data:` payload, or None at the end of the stream.
    pub fn next_data(&mut self) -> Option<String> {
        loop {
            let mut line = String::new();
            if self.lines.read_line(&mut line).ok()? == 0 {
                return None;
            }
            if let Some(data) = line.trim_end().strip_prefix("data: ") {
                return Some(data.to_string());
            }
        }
    }
}
