//! `wgraph features` on the inputs a careless user gives it: every bad one
//! exits with status 2 and a message naming what is wrong, promptly (a FIFO
//! or an absurd --n-mels once hung).

#[path = "../../tests/common/fixtures.rs"]
mod fixtures;
#[path = "../../tests/common/wavs.rs"]
mod wavs;

#[path = "common/cli_run.rs"]
mod cli_run;

use cli_run::wgraph_within;
use std::ffi::OsStr;
use std::path::Path;
use std::time::{Duration, Instant};
use wavs::*;
use wgraph::Weights;

/// Runs `wgraph features WAV --output OUT [extra...]`, killed after 60 s.
fn features(wav: &Path, out: &Path, extra: &[&str]) -> (i32, String) {
    let mut args = vec![OsStr::new("features"), wav.as_os_str(), OsStr::new("--output"), out.as_os_str()];
    args.extend(extra.iter().map(OsStr::new));
    let o = wgraph_within(Duration::from_secs(60), &args);
    (o.code, o.stderr)
}

fn assert_bad(wav: &Path, out: &Path, extra: &[&str], needles: &[&str]) {
    let (code, err) = features(wav, out, extra);
    assert_eq!(code, 2, "{}: {err}", wav.display());
    for needle in needles {
        assert!(err.contains(needle), "{}: expected {needle:?} in: {err}", wav.display());
    }
    assert!(!err.contains("panicked"), "{err}");
    assert!(!out.exists(), "{} written on bad input", out.display());
}

#[test]
fn mel_bins_outside_1_to_201_exit_2_naming_the_flag() {
    let dir = tempfile::tempdir().unwrap();
    let (clip, out) = (fixtures().join("clip.wav"), dir.path().join("out.safetensors"));
    for n in ["0", "202", "100000"] {
        let started = Instant::now();
        assert_bad(&clip, &out, &["--n-mels", n], &[&format!("--n-mels {n}"), "at most 201", "80"]);
        assert!(started.elapsed() < Duration::from_secs(10), "--n-mels {n} took {:?}", started.elapsed());
    }
    let (code, err) = features(&clip, &out, &["--n-mels", "201"]);
    assert_eq!(code, 0, "{err}");
}

#[test]
fn bad_files_exit_2_with_what_is_wrong() {
    let dir = tempfile::tempdir().unwrap();
    let p = |name: &str| dir.path().join(name);
    let out = p("out.safetensors");

    assert_bad(&p("missing.wav"), &out, &[], &["cannot read", "missing.wav"]);
    assert_bad(dir.path(), &out, &[], &["is a directory"]);
    mkfifo(&p("fifo.wav"));
    assert_bad(&p("fifo.wav"), &out, &[], &["fifo.wav", "FIFO"]);

    std::fs::write(p("notes.txt"), "not audio at all").unwrap();
    assert_bad(&p("notes.txt"), &out, &[], &["notes.txt", "not a WAV file", "RIFF"]);
    std::fs::write(p("empty-file.wav"), b"").unwrap();
    assert_bad(&p("empty-file.wav"), &out, &[], &["empty-file.wav", "ends inside its header"]);
    write_truncated(&p("cut.wav"), 1001);
    assert_bad(&p("cut.wav"), &out, &[], &["cut.wav", "cut short", "40000 frames"]);

    write_raw(&p("mono0.wav"), 0, 16_000, &[]);
    assert_bad(&p("mono0.wav"), &out, &[], &["mono0.wav", "0 channels", "at least 1"]);
    write_raw(&p("0hz.wav"), 1, 0, &[0, 0]);
    assert_bad(&p("0hz.wav"), &out, &[], &["0hz.wav", "0 Hz", "1000 to 384000 Hz"]);

    let mut samples = vec![0.25f32; 16_000];
    samples[12_345] = f32::NAN;
    write_float(&p("nan.wav"), 16_000, &samples);
    assert_bad(&p("nan.wav"), &out, &[], &["nan.wav", "sample 12345", "NaN"]);
    samples[12_345] = f32::INFINITY;
    write_float(&p("inf.wav"), 16_000, &samples);
    assert_bad(&p("inf.wav"), &out, &[], &["sample 12345", "inf"]);

    // The output over the input would destroy the user's recording.
    let wav = p("keep.wav");
    write_pcm(&wav, 16_000, 1, 16, &tone(16_000, 0.5));
    let before = std::fs::read(&wav).unwrap();
    let (code, err) = features(&wav, &wav, &[]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--output") && err.contains("refusing to overwrite"), "{err}");
    assert_eq!(std::fs::read(&wav).unwrap(), before);
}

/// HF pads an empty clip to 30 s of silence (every value -1.5) and
/// truncates a long one to 30 s; so does `wgraph features`, and says so.
#[test]
fn empty_and_long_clips_are_handled_as_hf_does() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.safetensors");
    let empty = dir.path().join("empty.wav");
    write_pcm(&empty, 16_000, 1, 16, &[]);
    let (code, err) = features(&empty, &out, &[]);
    assert_eq!(code, 0, "{err}");
    let f = Weights::open([&out]).unwrap().read("input_features").unwrap();
    assert_eq!(f.shape(), &[1, 80, 3000]);
    assert!(f.to_f32_vec().iter().all(|&v| v == -1.5));

    let long = dir.path().join("long.wav");
    write_pcm(&long, 22_050, 2, 16, &tone(22_050, 31.0));
    let (code, err) = features(&long, &out, &[]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("31.00 s long") && err.contains("first 30 s"), "{err}");
    assert!(err.contains("resampled 22050 Hz to 16000 Hz"), "{err}");
    assert!(err.contains("for 30.00 s of audio"), "{err}");
}

#[test]
fn a_44k_stereo_24bit_clip_is_resampled() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.safetensors");
    let (code, err) = features(&fixtures().join("clip44k_stereo24.wav"), &out, &["--n-mels", "128"]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("resampled 44100 Hz"), "{err}");
    let f = Weights::open([&out]).unwrap().read("input_features").unwrap();
    assert_eq!(f.shape(), &[1, 128, 3000]);
}
