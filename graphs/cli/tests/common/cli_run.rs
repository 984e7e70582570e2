//! Running the `wgraph` binary as a user does, with a time limit: a hang
//! fails the test instead of stalling it. Included with `#[path]`.

#![allow(dead_code)]

use std::ffi::OsStr;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// What a run of the CLI gave back.
pub struct Outcome {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

/// Runs `wgraph args` with `env` set and waits: (exit status, stdout,
/// stderr), for the tests that check output rather than hangs.
pub fn wgraph_env(args: &[&str], env: &[(&str, &str)]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_wgraph")).args(args).envs(env.iter().copied()).output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into(),
        String::from_utf8_lossy(&out.stderr).into(),
    )
}

/// Like [`wgraph_env`] with the environment as it is.
pub fn wgraph(args: &[&str]) -> (i32, String, String) {
    wgraph_env(args, &[])
}

/// Runs `wgraph args`, killing it after `limit`.
pub fn wgraph_within<S: AsRef<OsStr>>(limit: Duration, args: &[S]) -> Outcome {
    let mut child = Command::new(env!("CARGO_BIN_EXE_wgraph"))
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > limit {
            let _ = child.kill();
            let shown: Vec<String> = args.iter().map(|a| a.as_ref().to_string_lossy().into_owned()).collect();
            panic!("`wgraph {}` did not finish within {limit:?}", shown.join(" "));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().unwrap();
    Outcome {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into(),
        stderr: String::from_utf8_lossy(&out.stderr).into(),
    }
}
