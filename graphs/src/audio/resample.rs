//! Any supported sample rate to Whisper's 16 kHz with rubato, anti-aliased:
//! content above 8 kHz is removed, not folded back into the band Whisper
//! listens to.
//!
//! Rates with a large common divisor with 16 kHz (every standard rate: 8,
//! 11.025, 22.05, 44.1, 48, 96, 192 kHz, ...) go through rubato's
//! synchronous FFT resampler, whose output is within 2e-3 of librosa's
//! default (soxr "HQ") on the test clip. Other rates (say 44 056 Hz, or a
//! prime) would need FFTs of about the rate's own length, so they go through
//! rubato's asynchronous sinc resampler, whose work grows with the output
//! length only.

use super::{AudioError, SAMPLE_RATE};
use rubato::audioadapter_buffers::direct::InterleavedSlice;
use rubato::{
    Async, Fft, FixedAsync, FixedSync, Resampler, SincInterpolationParameters, SincInterpolationType, WindowFunction,
};

/// The shorter side of the FFT resampler's blocks, in samples. Its
/// anti-aliasing filter spans one block: 320 output samples (20 ms) put its
/// roll-off where soxr's is (measured against librosa: longer blocks pass
/// more of 7.5-8 kHz and land 5x further from it).
const BLOCK: u64 = 320;

/// The FFT resampler is used while `rate / gcd(rate, 16000)` stays below
/// this (441 for the 44.1 kHz family, 3 for 48 kHz, 2997 for 47 952 Hz).
const MAX_FFT_STEP: u64 = 4_800;

/// `samples` at `from` Hz, resampled to 16 kHz: `ceil(len * 16000 / from)`
/// samples, aligned with the input (the resampler's delay is trimmed), as
/// `librosa.resample` gives. 16 kHz input is returned as it is.
pub fn resample(samples: &[f64], from: u32) -> Result<Vec<f64>, AudioError> {
    if from == SAMPLE_RATE || samples.is_empty() {
        return Ok(samples.to_vec());
    }
    let err = |detail: String| AudioError::Resample { from, to: SAMPLE_RATE, detail };
    let gcd = gcd(from as u64, SAMPLE_RATE as u64);
    let (step_in, step_out) = (from as u64 / gcd, SAMPLE_RATE as u64 / gcd);
    if from == 0 {
        return Err(err("a rate of 0 Hz".into()));
    }
    if step_in > MAX_FFT_STEP {
        return resample_sinc(samples, from, step_in).map_err(err);
    }
    // rubato's FFT sizes are k * step_in input and k * step_out output
    // samples. Its filter is centred at sample fft_size_in/2 (rounded down)
    // while the delay it trims is fft_size_out/2: for an odd fft_size_in the
    // two disagree by half an input sample, a phase error at high
    // frequencies (measured: 10x the difference from librosa). An even k
    // keeps both sizes even.
    let k = BLOCK.div_ceil(step_in.min(step_out)).next_multiple_of(2);
    let mut resampler = Fft::<f64>::new_custom(
        from as usize,
        SAMPLE_RATE as usize,
        (k * step_in) as usize,
        1,
        1,
        WindowFunction::BlackmanHarris2,
        FixedSync::Input,
    )
    .map_err(|e| err(e.to_string()))?;
    let input = InterleavedSlice::new(samples, 1, samples.len()).map_err(|e| err(e.to_string()))?;
    let output = resampler.process_all(&input, samples.len(), None).map_err(|e| err(e.to_string()))?;
    let mut output = output.take_data();
    output.truncate(output_len(samples.len(), from));
    Ok(output)
}

/// rubato's asynchronous sinc resampler at a fixed ratio 16000/from =
/// step_out/step_in. Its delay, SINC_LEN/2 input samples less one output
/// sample, is a fraction of an output sample off what it trims (it rounds
/// down): alone, that shifts the output by up to a sample (a 4e-2 error on
/// a 440 Hz tone). Leading zeros that make the delay a whole number of
/// output samples (SINC_LEN/2 + lead a multiple of step_in) put every
/// output sample on the input's grid; the extra whole samples are dropped.
fn resample_sinc(samples: &[f64], from: u32, step_in: u64) -> Result<Vec<f64>, String> {
    const SINC_LEN: u64 = 256;
    let ratio = SAMPLE_RATE as f64 / from as f64;
    let lead = (step_in - (SINC_LEN / 2) % step_in) % step_in;
    let wanted = output_len(samples.len(), from);
    let mut padded = vec![0.0; lead as usize];
    padded.extend_from_slice(samples);
    // Zeros after the end too, so that the output reaches `wanted` samples
    // past the ones dropped at the start.
    padded.extend(std::iter::repeat_n(0.0, SINC_LEN as usize));
    let params = SincInterpolationParameters::new(SINC_LEN as usize, WindowFunction::BlackmanHarris2)
        .interpolation(SincInterpolationType::Cubic);
    let mut resampler =
        Async::<f64>::new_sinc(ratio, 1.0, &params, 4096, 1, FixedAsync::Input).map_err(|e| e.to_string())?;
    let input = InterleavedSlice::new(&padded, 1, padded.len()).map_err(|e| e.to_string())?;
    let output = resampler.process_all(&input, padded.len(), None).map_err(|e| e.to_string())?.take_data();
    // Whole output samples of delay left after rubato's trim: the total,
    // (SINC_LEN/2 + lead) * step_out / step_in less one output sample
    // (measured: rubato's first output sits one sample later on its grid),
    // less what rubato trimmed (its own rounding, repeated here).
    let step_out = SAMPLE_RATE as u64 * step_in / from as u64;
    let total = (SINC_LEN / 2 + lead) * step_out / step_in - 1;
    let trimmed = (SINC_LEN as f64 * ratio / 2.0) as u64;
    let skip = (total - trimmed) as usize;
    Ok(output.into_iter().skip(skip).take(wanted).collect())
}

/// HF's (librosa's) length of `len` samples at `from` Hz after resampling.
fn output_len(len: usize, from: u32) -> usize {
    (len as u64 * SAMPLE_RATE as u64).div_ceil(from as u64) as usize
}

fn gcd(mut a: u64, mut b: u64) -> u64 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}
