//! `wgraph features CLIP.wav --output F.safetensors`: Whisper's
//! `input_features` from a WAV file.

use crate::Result;
use std::path::{Path, PathBuf};
use wgraph::graph::NamedTensors;
use wgraph::weights::save_safetensors;
use wgraph_models::audio;

#[derive(clap::Args)]
pub(crate) struct Args {
    /// The WAV file (a regular file: FIFOs and directories are refused).
    wav: PathBuf,
    #[arg(long)]
    output: PathBuf,
    /// Mel bins, 1 to 201 (N_FFT/2+1): 80 for most Whisper checkpoints,
    /// 128 for large-v3 (`num_mel_bins` in config.json).
    #[arg(long, default_value_t = 80)]
    n_mels: usize,
}

pub(crate) fn exec(args: &Args) -> Result<()> {
    let Args { wav, output, n_mels } = args;
    let n_mels = *n_mels;
    // Flags first: a bad --n-mels is refused before any audio is read.
    audio::check_mel_bins(n_mels)?;
    let same = |a: &Path, b: &Path| a.canonicalize().is_ok_and(|a| b.canonicalize().is_ok_and(|b| a == b));
    if same(wav, output) {
        return Err(format!("--output {} is the WAV file itself; refusing to overwrite it", output.display()).into());
    }
    let clip = audio::load(wav)?;
    if clip.truncated {
        eprintln!(
            "note: {} is {:.2} s long; only its first {} s are used (Whisper's window; HF's WhisperFeatureExtractor truncates the same way)",
            wav.display(),
            clip.seconds,
            audio::CHUNK_SECONDS
        );
    }
    if clip.source_rate != audio::SAMPLE_RATE {
        eprintln!("resampled {} Hz to {} Hz", clip.source_rate, audio::SAMPLE_RATE);
    }
    let features = audio::log_mel(&clip.samples, n_mels)?.reshape([1, n_mels, audio::FRAMES])?;
    save_safetensors(output, &NamedTensors(vec![("input_features".into(), features)]), None)?;
    eprintln!(
        "wrote input_features [1, {n_mels}, {}] for {:.2} s of audio to {}",
        audio::FRAMES,
        clip.samples.len() as f64 / audio::SAMPLE_RATE as f64,
        output.display()
    );
    Ok(())
}
