//! Log-mel features of 16 kHz samples, as HF's `WhisperFeatureExtractor`
//! computes them (its numpy path), in f64.

use super::{AudioError, CHUNK_SAMPLES, FRAMES, HOP, N_FFT, N_FREQS, SAMPLE_RATE};
use realfft::RealFftPlanner;
use std::f64::consts::PI;
use wgraph::Tensor;

/// `n_mels` is usable: at least one bin, and no more bins than the STFT has
/// frequencies (more would be empty filters, and the work grows with them).
pub fn check_mel_bins(n_mels: usize) -> Result<(), AudioError> {
    if (1..=N_FREQS).contains(&n_mels) {
        Ok(())
    } else {
        Err(AudioError::MelBins { got: n_mels, max: N_FREQS })
    }
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
    let nyquist = SAMPLE_RATE as f64 / 2.0;
    let fft_freqs: Vec<f64> = (0..N_FREQS).map(|i| nyquist * i as f64 / (N_FREQS - 1) as f64).collect();
    let (lo, hi) = (hz_to_mel(0.0), hz_to_mel(nyquist));
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

/// `input_features` for one clip of 16 kHz mono samples: `f32[n_mels, 3000]`
/// (30 s; shorter audio, even none at all, is zero-padded, longer audio
/// truncated, as HF does). `n_mels` must pass [`check_mel_bins`].
pub fn log_mel(samples: &[f32], n_mels: usize) -> Result<Tensor, AudioError> {
    check_mel_bins(n_mels)?;
    let mut x = vec![0.0f64; CHUNK_SAMPLES];
    for (d, s) in x.iter_mut().zip(samples) {
        *d = *s as f64;
    }
    let padded = reflect_pad(&x, N_FFT / 2);
    let window: Vec<f64> = (0..N_FFT).map(|i| 0.5 - 0.5 * (2.0 * PI * i as f64 / N_FFT as f64).cos()).collect();
    let fft = RealFftPlanner::<f64>::new().plan_fft_forward(N_FFT);
    let (mut spectrum, mut scratch) = (fft.make_output_vec(), fft.make_scratch_vec());
    // Filters by mel bin, so each bin's sum runs over contiguous memory.
    let by_freq = mel_filters(n_mels);
    let filters: Vec<Vec<f64>> = (0..n_mels).map(|m| by_freq.iter().map(|f| f[m]).collect()).collect();
    let mut log_spec = vec![0.0f64; n_mels * FRAMES];
    let mut frame = vec![0.0f64; N_FFT];
    let mut power = vec![0.0f64; N_FREQS];
    for t in 0..FRAMES {
        let start = t * HOP;
        let mut silent = true;
        for (i, f) in frame.iter_mut().enumerate() {
            *f = padded[start + i] * window[i];
            silent &= *f == 0.0;
        }
        if silent {
            // The padding of a short clip: most of the 30 s, no FFT needed.
            power.iter_mut().for_each(|p| *p = 0.0);
        } else {
            // Lengths come from the plan itself, so this cannot fail.
            fft.process_with_scratch(&mut frame, &mut spectrum, &mut scratch)
                .map_err(|e| AudioError::Stft(e.to_string()))?;
            for (p, c) in power.iter_mut().zip(&spectrum) {
                *p = c.norm_sqr();
            }
        }
        for (m, filter) in filters.iter().enumerate() {
            let mel: f64 = power.iter().zip(filter).map(|(p, f)| p * f).sum();
            log_spec[m * FRAMES + t] = mel.max(1e-10).log10();
        }
    }
    let max = log_spec.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let scaled: Vec<f64> = log_spec.iter().map(|v| (v.max(max - 8.0) + 4.0) / 4.0).collect();
    Ok(Tensor::from_f64(wgraph::DType::F32, [n_mels, FRAMES], &scaled)?)
}

/// numpy's "reflect" padding (the edge sample is not repeated), which HF's
/// STFT applies with `center=True`.
fn reflect_pad(x: &[f64], pad: usize) -> Vec<f64> {
    let n = x.len() as isize;
    (0..x.len() + 2 * pad)
        .map(|i| {
            let j = i as isize - pad as isize;
            let j = if j < 0 {
                -j
            } else if j >= n {
                2 * (n - 1) - j
            } else {
                j
            };
            x[j as usize]
        })
        .collect()
}
