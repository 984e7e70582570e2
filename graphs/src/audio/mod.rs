//! Whisper's audio front end: a WAV file to the log-mel `input_features`
//! HF's `WhisperFeatureExtractor` computes.
//!
//! - [`wav`]: decoding with `hound` (8/16/24/32-bit PCM and 32-bit float,
//!   channels averaged to mono), refusing what HF would choke on or silently
//!   get wrong (NaN/Inf samples, absurd sample rates, cut-short files);
//! - [`resample`](mod@resample): any supported rate to 16 kHz with `rubato`'s FFT
//!   resampler (HF refuses anything but 16 kHz and leaves resampling to the
//!   user, usually librosa);
//! - [`mel`]: the features themselves (reflect-padded STFT with `realfft`,
//!   periodic Hann window of 400 samples and hop 160, Slaney mel filters,
//!   log10, clamp to 8 decades below the maximum, scaled to about [-1, 1]),
//!   in f64 so 16 kHz input stays within 1e-4 of HF.
//!
//! [`load`] chains the first two and applies Whisper's 30-second window.

pub mod mel;
pub mod resample;
pub mod wav;

use std::path::Path;
use thiserror::Error;

pub use mel::{check_mel_bins, log_mel, mel_filters};
pub use resample::resample;
pub use wav::{read_wav, Wav};

/// The only rate Whisper's features are defined at.
pub const SAMPLE_RATE: u32 = 16_000;
pub const N_FFT: usize = 400;
pub const HOP: usize = 160;
/// STFT frequency bins, the most mel bins that can be told apart.
pub const N_FREQS: usize = N_FFT / 2 + 1;
/// Whisper works on 30-second windows.
pub const CHUNK_SECONDS: usize = 30;
pub const CHUNK_SAMPLES: usize = CHUNK_SECONDS * SAMPLE_RATE as usize;
/// Feature frames of one window (the STFT's last frame is dropped, as HF does).
pub const FRAMES: usize = CHUNK_SAMPLES / HOP;
/// Sample rates accepted: 1 kHz (below that a file is not speech audio but a
/// mistake) to 384 kHz (the highest rate audio interfaces record at). The
/// bound also bounds the resampler's FFT sizes and the samples held in memory.
pub const MIN_RATE: u32 = 1_000;
pub const MAX_RATE: u32 = 384_000;

#[derive(Debug, Error)]
#[non_exhaustive]
pub enum AudioError {
    #[error("cannot read {path}: {source}")]
    Io { path: String, source: std::io::Error },
    #[error("{path} is {kind}, not a WAV file")]
    NotAFile { path: String, kind: &'static str },
    #[error("{path} is not a WAV file wgraph can read: {detail}")]
    Format { path: String, detail: String },
    #[error("{path} is a WAV file with 0 channels; expected at least 1")]
    NoChannels { path: String },
    #[error(
        "{path} has a sample rate of {got} Hz; expected {min} to {max} Hz (it is resampled to 16000 Hz for Whisper)"
    )]
    SampleRate { path: String, got: u32, min: u32, max: u32 },
    #[error("{path} is cut short: its header promises {expected} frames (samples per channel), the file holds {got}")]
    Truncated { path: String, expected: u64, got: u64, channels: u16 },
    #[error(
        "{path}: sample {index} (frame {frame}, channel {channel}, at {seconds:.3} s) is {value}; \
         audio samples must be finite numbers"
    )]
    NonFinite { path: String, index: u64, frame: u64, channel: u16, seconds: f64, value: f32 },
    #[error(
        "--n-mels {got} is out of range: mel bins must be at least 1 and at most {max}, the STFT's \
         frequency bins (N_FFT/2+1); Whisper checkpoints use 80 (128 for large-v3)"
    )]
    MelBins { got: usize, max: usize },
    #[error("cannot resample {from} Hz to {to} Hz: {detail}")]
    Resample { from: u32, to: u32, detail: String },
    #[error("the STFT failed: {0}")]
    Stft(String),
    #[error(transparent)]
    Tensor(#[from] wgraph::graph::TensorError),
}

/// One clip as Whisper sees it: mono, 16 kHz, at most 30 s.
#[derive(Debug, Clone)]
pub struct Clip {
    /// Mono samples at 16 kHz, at most [`CHUNK_SAMPLES`] of them (f32, as HF
    /// casts its input).
    pub samples: Vec<f32>,
    /// The file's own sample rate and channel count.
    pub source_rate: u32,
    pub channels: u16,
    /// The file's length in seconds, all of it (also past 30 s).
    pub seconds: f64,
    /// The file is longer than 30 s and only its first 30 s are in `samples`
    /// (HF's feature extractor truncates the same way).
    pub truncated: bool,
}

/// Reads a WAV file and brings it to what Whisper's features are computed
/// on: mono, resampled to 16 kHz, cut to the first 30 s. HF resamples the
/// whole clip and then truncates; reading a little past 30 s (see
/// [`wav::read_wav`]) gives the resampler the same neighbourhood at the cut.
pub fn load(path: impl AsRef<Path>) -> Result<Clip, AudioError> {
    let wav = read_wav(path)?;
    let mut samples = resample(&wav.samples, wav.sample_rate)?;
    // HF's length after resampling, computed from the whole file's length.
    let full_len = (wav.frames as u128 * SAMPLE_RATE as u128).div_ceil(wav.sample_rate as u128);
    let truncated = full_len > CHUNK_SAMPLES as u128;
    samples.truncate(CHUNK_SAMPLES);
    Ok(Clip {
        samples: samples.into_iter().map(|s| s as f32).collect(),
        source_rate: wav.sample_rate,
        channels: wav.channels,
        seconds: wav.seconds(),
        truncated,
    })
}
