//! Whisper's audio front end: a 16 kHz WAV file to the log-mel
//! `input_features` HF's `WhisperFeatureExtractor` computes (reflect-padded
//! STFT with a periodic Hann window of 400 samples and hop 160, Slaney mel
//! filters, log10, clamp to 8 decades below the maximum, scaled to about
//! [-1, 1]). Computed in f64.

use std::f64::consts::PI;
use std::path::Path;
use thiserror::Error;
use wgraph::Tensor;

pub const SAMPLE_RATE: u32 = 16_000;
pub const N_FFT: usize = 400;
pub const HOP: usize = 160;
/// Whisper works on 30-second windows.
pub const CHUNK_SAMPLES: usize = 30 * SAMPLE_RATE as usize;

#[derive(Debug, Error)]
#[non_exhaustive]
pub enum AudioError {
    #[error("cannot read {path}: {source}")]
    Io { path: String, source: std::io::Error },
    #[error("{path} is not a WAV file wgraph can read: {detail}")]
    Format { path: String, detail: String },
    #[error("{path} is sampled at {rate} Hz; Whisper needs 16000 Hz (resample it first, e.g. `sox in.wav -r 16000 out.wav`)")]
    SampleRate { path: String, rate: u32 },
}

/// Mono samples in [-1, 1] from a PCM (8, 16, 24, 32-bit) or 32-bit float
/// WAV file at 16 kHz; several channels are averaged.
pub fn read_wav(path: impl AsRef<Path>) -> Result<Vec<f32>, AudioError> {
    let p = path.as_ref().display().to_string();
    let bytes = std::fs::read(path.as_ref()).map_err(|source| AudioError::Io { path: p.clone(), source })?;
    let bad = |detail: &str| AudioError::Format { path: p.clone(), detail: detail.to_string() };
    if bytes.len() < 12 || &bytes[0..4] != b"RIFF" || &bytes[8..12] != b"WAVE" {
        return Err(bad("no RIFF/WAVE header"));
    }
    let (mut fmt, mut data) = (None, None);
    let mut at = 12;
    while at + 8 <= bytes.len() {
        let id = &bytes[at..at + 4];
        let len = u32::from_le_bytes([bytes[at + 4], bytes[at + 5], bytes[at + 6], bytes[at + 7]]) as usize;
        let body = bytes.get(at + 8..(at + 8 + len).min(bytes.len())).ok_or_else(|| bad("truncated chunk"))?;
        match id {
            b"fmt " => fmt = Some(body),
            b"data" => data = Some(body),
            _ => {}
        }
        at += 8 + len + (len & 1);
    }
    let fmt = fmt.filter(|f| f.len() >= 16).ok_or_else(|| bad("no fmt chunk"))?;
    let data = data.ok_or_else(|| bad("no data chunk"))?;
    let format = u16::from_le_bytes([fmt[0], fmt[1]]);
    let channels = u16::from_le_bytes([fmt[2], fmt[3]]).max(1) as usize;
    let rate = u32::from_le_bytes([fmt[4], fmt[5], fmt[6], fmt[7]]);
    let bits = u16::from_le_bytes([fmt[14], fmt[15]]);
    if rate != SAMPLE_RATE {
        return Err(AudioError::SampleRate { path: p, rate });
    }
    // 0xFFFE (extensible) carries the real format later; PCM and float are the common ones.
    let float = format == 3 || (format == 0xFFFE && bits == 32 && fmt.len() >= 26 && fmt[24] == 3);
    let step = (bits / 8) as usize;
    if step == 0 {
        return Err(bad("zero bits per sample"));
    }
    let samples: Vec<f32> = data
        .chunks_exact(step)
        .map(|c| match (float, bits) {
            (true, 32) => f32::from_le_bytes([c[0], c[1], c[2], c[3]]),
            (false, 8) => (c[0] as f32 - 128.0) / 128.0,
            (false, 16) => i16::from_le_bytes([c[0], c[1]]) as f32 / 32768.0,
            (false, 24) => (i32::from_le_bytes([0, c[0], c[1], c[2]]) >> 8) as f32 / 8_388_608.0,
            (false, 32) => i32::from_le_bytes([c[0], c[1], c[2], c[3]]) as f32 / 2_147_483_648.0,
            _ => f32::NAN,
        })
        .collect();
    if samples.iter().any(|s| s.is_nan()) {
        return Err(bad(&format!("unsupported sample format {format} with {bits} bits")));
    }
    Ok(samples.chunks(channels).map(|frame| frame.iter().sum::<f32>() / frame.len() as f32).collect())
}

fn hz_to_mel(f: f64) -> f64 {
    // Slaney: linear below 1 kHz, logarithmic above.
    let (min_log_hz, min_log_mel, logstep) = (1000.0, 15.0, (6.4f64).ln() / 27.0);
    if f >= min_log_hz {
        min_log_mel + (f / min_log_hz).ln() / logstep
    } else {
        3.0 * f / 200.0
    }
}

fn mel_to_hz(m: f64) -> f64 {
    let (min_log_hz, min_log_mel, logstep) = (1000.0, 15.0, (6.4f64).ln() / 27.0);
    if m >= min_log_mel {
        min_log_hz * (logstep * (m - min_log_mel)).exp()
    } else {
        200.0 * m / 3.0
    }
}

/// Slaney-normalised triangular mel filters, `[n_freqs][n_mels]`, as HF's
/// `mel_filter_bank(..., norm="slaney", mel_scale="slaney")`.
pub fn mel_filters(n_mels: usize) -> Vec<Vec<f64>> {
    let n_freqs = N_FFT / 2 + 1;
    let nyquist = SAMPLE_RATE as f64 / 2.0;
    let fft_freqs: Vec<f64> = (0..n_freqs).map(|i| nyquist * i as f64 / (n_freqs - 1) as f64).collect();
    let (lo, hi) = (hz_to_mel(0.0), hz_to_mel(8000.0));
    let filter_freqs: Vec<f64> =
        (0..n_mels + 2).map(|i| mel_to_hz(lo + (hi - lo) * i as f64 / (n_mels + 1) as f64)).collect();
    let diff: Vec<f64> = filter_freqs.windows(2).map(|w| w[1] - w[0]).collect();
    fft_freqs
        .iter()
        .map(|&f| {
            (0..n_mels)
                .map(|m| {
                    let down = (f - filter_freqs[m]) / diff[m];
                    let up = (filter_freqs[m + 2] - f) / diff[m + 1];
                    let enorm = 2.0 / (filter_freqs[m + 2] - filter_freqs[m]);
                    down.min(up).max(0.0) * enorm
                })
                .collect()
        })
        .collect()
}

/// `input_features` for one clip: `f32[n_mels, 3000]` (30 s; shorter audio
/// is zero-padded, longer audio truncated, as HF does).
pub fn log_mel(samples: &[f32], n_mels: usize) -> Result<Tensor, wgraph::graph::TensorError> {
    let mut x = vec![0.0f64; CHUNK_SAMPLES];
    for (d, s) in x.iter_mut().zip(samples) {
        *d = *s as f64;
    }
    // Reflect padding by N_FFT / 2 on both sides (numpy "reflect").
    let pad = N_FFT / 2;
    let n = x.len();
    let padded: Vec<f64> = (0..n + 2 * pad)
        .map(|i| {
            let j = i as isize - pad as isize;
            let j = if j < 0 {
                -j
            } else if j as usize >= n {
                2 * (n as isize - 1) - j
            } else {
                j
            };
            x[j as usize]
        })
        .collect();
    let frames = CHUNK_SAMPLES / HOP; // 3000: the last STFT frame is dropped
    let n_freqs = N_FFT / 2 + 1;
    let window: Vec<f64> = (0..N_FFT).map(|i| 0.5 - 0.5 * (2.0 * PI * i as f64 / N_FFT as f64).cos()).collect();
    let (cos, sin): (Vec<f64>, Vec<f64>) = (0..n_freqs * N_FFT)
        .map(|i| (2.0 * PI * ((i / N_FFT) * (i % N_FFT)) as f64 / N_FFT as f64).sin_cos())
        .map(|(s, c)| (c, s))
        .unzip();
    let filters = mel_filters(n_mels);
    let mut log_spec = vec![0.0f64; n_mels * frames];
    let mut frame = vec![0.0f64; N_FFT];
    let mut power = vec![0.0f64; n_freqs];
    for t in 0..frames {
        let start = t * HOP;
        let mut silent = true;
        for (i, f) in frame.iter_mut().enumerate() {
            *f = padded[start + i] * window[i];
            silent &= *f == 0.0;
        }
        if silent {
            power.iter_mut().for_each(|p| *p = 0.0);
        } else {
            for (k, p) in power.iter_mut().enumerate() {
                let (c, s) = (&cos[k * N_FFT..(k + 1) * N_FFT], &sin[k * N_FFT..(k + 1) * N_FFT]);
                let (re, im) = frame
                    .iter()
                    .zip(c.iter().zip(s))
                    .fold((0.0, 0.0), |(re, im), (x, (c, s))| (re + x * c, im - x * s));
                *p = re * re + im * im;
            }
        }
        for m in 0..n_mels {
            let mel: f64 = power.iter().zip(&filters).map(|(p, f)| p * f[m]).sum();
            log_spec[m * frames + t] = mel.max(1e-10).log10();
        }
    }
    let max = log_spec.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let scaled: Vec<f64> = log_spec.iter().map(|v| (v.max(max - 8.0) + 4.0) / 4.0).collect();
    Tensor::from_f64(wgraph::DType::F32, [n_mels, frames], &scaled)
}
