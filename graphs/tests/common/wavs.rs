//! WAV files for the audio tests, good and broken, written with hound or
//! by hand (for headers hound refuses to write).

#![allow(dead_code)]

use std::path::{Path, PathBuf};

pub fn fixtures() -> PathBuf {
    crate::fixtures::fixture("audio")
}

/// The 16 kHz mono fixture's samples as integers.
pub fn clip_i16() -> Vec<i16> {
    let mut r = hound::WavReader::open(fixtures().join("clip.wav")).unwrap();
    r.samples::<i16>().map(Result::unwrap).collect()
}

/// A PCM WAV of `bits` bits with `channels` channels, every channel holding
/// `samples` (in [-1, 1]).
pub fn write_pcm(path: &Path, rate: u32, channels: u16, bits: u16, samples: &[f64]) {
    let spec =
        hound::WavSpec { channels, sample_rate: rate, bits_per_sample: bits, sample_format: hound::SampleFormat::Int };
    let mut w = hound::WavWriter::create(path, spec).unwrap();
    // Scaled as readers (and ours) scale back: by 2^(bits-1).
    let full = (1i64 << (bits - 1)) as f64;
    for s in samples {
        for _ in 0..channels {
            w.write_sample((s * full).round().clamp(-full, full - 1.0) as i32).unwrap();
        }
    }
    w.finalize().unwrap();
}

/// A 32-bit float WAV, mono.
pub fn write_float(path: &Path, rate: u32, samples: &[f32]) {
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: rate,
        bits_per_sample: 32,
        sample_format: hound::SampleFormat::Float,
    };
    let mut w = hound::WavWriter::create(path, spec).unwrap();
    for s in samples {
        w.write_sample(*s).unwrap();
    }
    w.finalize().unwrap();
}

/// A 16-bit PCM header with any field values (hound will not write 0
/// channels or 0 Hz), followed by `data` bytes.
pub fn write_raw(path: &Path, channels: u16, rate: u32, data: &[u8]) {
    let block = channels.wrapping_mul(2);
    let mut b = b"RIFF".to_vec();
    b.extend((36 + data.len() as u32).to_le_bytes());
    b.extend(b"WAVEfmt ");
    b.extend(16u32.to_le_bytes());
    b.extend(1u16.to_le_bytes());
    b.extend(channels.to_le_bytes());
    b.extend(rate.to_le_bytes());
    b.extend((rate.wrapping_mul(block as u32)).to_le_bytes());
    b.extend(block.to_le_bytes());
    b.extend(16u16.to_le_bytes());
    b.extend(b"data");
    b.extend((data.len() as u32).to_le_bytes());
    b.extend(data);
    std::fs::write(path, b).unwrap();
}

/// The fixture clip with its last `cut` bytes removed (the header still
/// promises them).
pub fn write_truncated(path: &Path, cut: usize) {
    let bytes = std::fs::read(fixtures().join("clip.wav")).unwrap();
    std::fs::write(path, &bytes[..bytes.len() - cut]).unwrap();
}

/// A tone of `seconds` at `rate`.
pub fn tone(rate: u32, seconds: f64) -> Vec<f64> {
    (0..(seconds * rate as f64) as usize)
        .map(|i| 0.3 * (2.0 * std::f64::consts::PI * 440.0 * i as f64 / rate as f64).sin())
        .collect()
}

/// Makes a FIFO (named pipe) at `path`.
pub fn mkfifo(path: &Path) {
    let status = std::process::Command::new("mkfifo").arg(path).status().unwrap();
    assert!(status.success());
}
