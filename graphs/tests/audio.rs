//! Whisper's log-mel front end against HF WhisperFeatureExtractor
//! (graphs/tests/fixtures/audio/generate.py), on the WAV files users have and on
//! the broken ones they give by mistake.

#[path = "common/fixtures.rs"]
mod fixtures;
#[path = "common/wavs.rs"]
mod wavs;

use wavs::*;
use wgraph::Weights;
use wgraph_models::audio::{self, load, log_mel, read_wav, AudioError, CHUNK_SAMPLES, FRAMES};

/// Max and mean absolute difference of our features from a reference given
/// as its first `head` frames and the value of its padding frames.
fn diff_from(reference: &Weights, n_mels: usize, head_frames: usize, ours: &[f32]) -> (f32, f64) {
    let head = reference.read(&format!("mel{n_mels}.head")).unwrap().to_f32_vec();
    let silence = reference.read(&format!("mel{n_mels}.silence")).unwrap().to_f32_vec();
    let (mut worst, mut sum) = (0.0f32, 0.0f64);
    for m in 0..n_mels {
        for t in 0..FRAMES {
            let want = if t < head_frames { head[m * head_frames + t] } else { silence[m] };
            let d = (ours[m * FRAMES + t] - want).abs();
            worst = worst.max(d);
            sum += d as f64;
        }
    }
    (worst, sum / (n_mels * FRAMES) as f64)
}

#[test]
fn log_mel_matches_hf_for_80_and_128_bins() {
    let clip = load(fixtures().join("clip.wav")).unwrap();
    assert_eq!((clip.samples.len(), clip.source_rate, clip.channels, clip.truncated), (40_000, 16_000, 1, false));
    let reference = Weights::open([fixtures().join("features.safetensors")]).unwrap();
    for n_mels in [80usize, 128] {
        let ours = log_mel(&clip.samples, n_mels).unwrap();
        assert_eq!(ours.shape(), &[n_mels, 3000]);
        let (worst, _) = diff_from(&reference, n_mels, 300, &ours.to_f32_vec());
        assert!(worst <= 1e-4, "{n_mels} mel bins: max abs diff {worst}");
    }
}

/// A 44.1 kHz stereo 24-bit clip, downmixed and resampled by rubato, against
/// HF's features after librosa's default resampler (soxr HQ). Measured: max
/// abs difference 0.018 (in the top mel bin, at the edge of a gap of
/// silence), mean 1.6e-4 over all 80 x 3000 values. For scale, librosa's
/// other resampler ("polyphase", scipy) lands 0.085 from soxr on this clip.
#[test]
fn resampled_44k_stereo_24bit_is_close_to_hf_after_librosa() {
    let clip = load(fixtures().join("clip44k_stereo24.wav")).unwrap();
    assert_eq!((clip.source_rate, clip.channels, clip.truncated), (44_100, 2, false));
    let reference = Weights::open([fixtures().join("features44k.safetensors")]).unwrap();
    let len = reference.read("samples.len").unwrap().to_f64_vec()[0] as usize;
    assert_eq!(clip.samples.len(), len, "librosa's resampled length");
    let ours = log_mel(&clip.samples, 80).unwrap().to_f32_vec();
    let (worst, mean) = diff_from(&reference, 80, 210, &ours);
    assert!(worst <= 0.025 && mean <= 3e-4, "max abs diff {worst}, mean {mean:e}");
}

#[test]
fn every_pcm_width_float_and_channel_count_decodes_to_the_same_audio() {
    let dir = tempfile::tempdir().unwrap();
    let want: Vec<f64> = clip_i16().iter().map(|&s| s as f64 / 32768.0).collect();
    for (bits, channels, tolerance) in
        [(8u16, 1u16, 1.0 / 256.0), (16, 1, 0.0), (16, 2, 0.0), (24, 3, 0.0), (32, 6, 0.0)]
    {
        let path = dir.path().join(format!("{bits}-{channels}.wav"));
        write_pcm(&path, 16_000, channels, bits, &want);
        let wav = read_wav(&path).unwrap();
        assert_eq!((wav.channels, wav.bits_per_sample, wav.float), (channels, bits, false));
        let worst = wav.samples.iter().zip(&want).map(|(a, b)| (a - b).abs()).fold(0.0, f64::max);
        assert!(worst <= tolerance, "{bits} bits, {channels} channels: {worst}");
    }
    let path = dir.path().join("float.wav");
    write_float(&path, 16_000, &want.iter().map(|&s| s as f32).collect::<Vec<_>>());
    let wav = read_wav(&path).unwrap();
    assert!(wav.float);
    assert!(wav.samples.iter().zip(&want).all(|(a, b)| (a - b).abs() < 1e-7));
}

#[test]
fn channels_are_averaged() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("lr.wav");
    let spec = hound::WavSpec {
        channels: 2,
        sample_rate: 16_000,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(&path, spec).unwrap();
    for (l, r) in [(16384i16, 0i16), (-8192, 8192), (32767, 32767)] {
        w.write_sample(l).unwrap();
        w.write_sample(r).unwrap();
    }
    w.finalize().unwrap();
    assert_eq!(read_wav(&path).unwrap().samples, vec![0.25, 0.0, 32767.0 / 32768.0]);
}

/// HF pads an empty clip to 30 s of silence: every value is -1.5
/// (log10 of the 1e-10 floor, scaled).
#[test]
fn an_empty_wav_gives_hf_features_of_silence() {
    let dir = tempfile::tempdir().unwrap();
    for rate in [16_000, 44_100] {
        let path = dir.path().join(format!("empty{rate}.wav"));
        write_pcm(&path, rate, 1, 16, &[]);
        let clip = load(&path).unwrap();
        assert!(clip.samples.is_empty());
        let features = log_mel(&clip.samples, 80).unwrap().to_f32_vec();
        assert!(features.iter().all(|&v| v == -1.5));
    }
}

/// HF truncates to 30 s; the clip says it did.
#[test]
fn a_wav_longer_than_30_s_is_truncated_as_hf_does() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("long.wav");
    let samples = tone(16_000, 31.5);
    write_pcm(&path, 16_000, 1, 16, &samples);
    let clip = load(&path).unwrap();
    assert!(clip.truncated);
    assert!((clip.seconds - 31.5).abs() < 1e-9);
    assert_eq!(clip.samples.len(), CHUNK_SAMPLES);
    // Resampled clips are cut after resampling, at 30 s of output.
    let path = dir.path().join("long48k.wav");
    write_pcm(&path, 48_000, 2, 16, &tone(48_000, 30.2));
    let clip = load(&path).unwrap();
    assert!(clip.truncated);
    assert_eq!(clip.samples.len(), CHUNK_SAMPLES);
    // Exactly 30 s is not truncated.
    let path = dir.path().join("30s.wav");
    write_pcm(&path, 16_000, 1, 16, &samples[..CHUNK_SAMPLES]);
    assert!(!load(&path).unwrap().truncated);
}

/// Rates whose ratio to 16 kHz is awkward (no small common divisor) take
/// rubato's sinc resampler; the tone comes out where it should be.
#[test]
fn awkward_sample_rates_resample_in_phase() {
    for rate in [8_000u32, 44_056, 96_001] {
        let out = audio::resample(&tone(rate, 1.0), rate).unwrap();
        assert_eq!(out.len(), 16_000, "{rate} Hz");
        let want = tone(16_000, 1.0);
        let worst = out[500..15_500].iter().zip(&want[500..15_500]).map(|(a, b)| (a - b).abs()).fold(0.0, f64::max);
        assert!(worst < 1e-3, "{rate} Hz: {worst}");
    }
}

#[test]
fn mel_bins_out_of_range_are_refused_at_once() {
    let started = std::time::Instant::now();
    for n in [0usize, 202, 100_000, usize::MAX] {
        let err = log_mel(&[0.0; 100], n).unwrap_err();
        assert!(matches!(err, AudioError::MelBins { got, max: 201 } if got == n), "{err}");
        assert!(err.to_string().contains("--n-mels") && err.to_string().contains("at most 201"), "{err}");
    }
    assert!(started.elapsed().as_secs() < 1);
    assert!(log_mel(&[0.0; 100], 201).is_ok());
    assert!(log_mel(&[0.0; 100], 1).is_ok());
}

#[test]
fn bad_audio_files_get_typed_errors() {
    let dir = tempfile::tempdir().unwrap();
    let p = |name: &str| dir.path().join(name);

    std::fs::write(p("junk.wav"), b"definitely not audio").unwrap();
    assert!(matches!(read_wav(p("junk.wav")), Err(AudioError::Format { .. })));
    std::fs::write(p("zero.wav"), b"").unwrap();
    assert!(matches!(read_wav(p("zero.wav")), Err(AudioError::Format { .. })));
    assert!(matches!(read_wav(p("missing.wav")), Err(AudioError::Io { .. })));

    write_truncated(&p("cut.wav"), 1000);
    let err = read_wav(p("cut.wav")).unwrap_err();
    assert!(matches!(err, AudioError::Truncated { expected: 40_000, got: 39_500, .. }), "{err}");
    // Cut inside the header.
    write_truncated(&p("header.wav"), 80_044 - 30);
    assert!(matches!(read_wav(p("header.wav")), Err(AudioError::Format { .. })));

    write_raw(&p("nochannels.wav"), 0, 16_000, &[]);
    assert!(matches!(read_wav(p("nochannels.wav")), Err(AudioError::NoChannels { .. })));
    for rate in [0u32, 999, 384_001, 2_000_000_000] {
        write_raw(&p("rate.wav"), 1, rate, &[0, 0]);
        let err = read_wav(p("rate.wav")).unwrap_err();
        assert!(matches!(err, AudioError::SampleRate { got, .. } if got == rate), "{err}");
    }

    let mut samples = vec![0.1f32; 100];
    samples[42] = f32::NAN;
    write_float(&p("nan.wav"), 16_000, &samples);
    let err = read_wav(p("nan.wav")).unwrap_err();
    assert!(matches!(err, AudioError::NonFinite { index: 42, .. }), "{err}");
    assert!(err.to_string().contains("sample 42"), "{err}");
    samples[42] = 0.0;
    samples[7] = f32::NEG_INFINITY;
    write_float(&p("inf.wav"), 16_000, &samples);
    assert!(matches!(read_wav(p("inf.wav")), Err(AudioError::NonFinite { index: 7, .. })));

    let err = read_wav(dir.path()).unwrap_err();
    assert!(matches!(err, AudioError::NotAFile { kind: "a directory", .. }), "{err}");
    mkfifo(&p("fifo.wav"));
    let err = read_wav(p("fifo.wav")).unwrap_err();
    assert!(matches!(err, AudioError::NotAFile { kind: "a FIFO (named pipe)", .. }), "{err}");
}
