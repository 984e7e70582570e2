//! Whisper's log-mel front end against HF WhisperFeatureExtractor
//! (tests/fixtures/audio/generate.py).

use std::path::PathBuf;
use wgraph::Weights;
use wgraph_graphs::audio::{log_mel, read_wav, AudioError};

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/audio")
}

#[test]
fn log_mel_matches_hf_for_80_and_128_bins() {
    let samples = read_wav(fixtures().join("clip.wav")).unwrap();
    assert_eq!(samples.len(), 40_000);
    let reference = Weights::open([fixtures().join("features.safetensors")]).unwrap();
    for n_mels in [80usize, 128] {
        let ours = log_mel(&samples, n_mels).unwrap();
        assert_eq!(ours.shape(), &[n_mels, 3000]);
        let ours = ours.to_f32_vec();
        let head = reference.read(&format!("mel{n_mels}.head")).unwrap().to_f32_vec();
        let silence = reference.read(&format!("mel{n_mels}.silence")).unwrap().to_f32_vec();
        let mut worst = 0.0f32;
        for m in 0..n_mels {
            for t in 0..3000 {
                let want = if t < 300 { head[m * 300 + t] } else { silence[m] };
                worst = worst.max((ours[m * 3000 + t] - want).abs());
            }
        }
        assert!(worst <= 1e-4, "{n_mels} mel bins: max abs diff {worst}");
    }
}

#[test]
fn bad_audio_files_get_typed_errors() {
    let dir = tempfile::tempdir().unwrap();
    let junk = dir.path().join("junk.wav");
    std::fs::write(&junk, b"definitely not audio").unwrap();
    assert!(matches!(read_wav(&junk), Err(AudioError::Format { .. })));
    // A valid header at 44.1 kHz.
    let mut wav = b"RIFF\x24\x00\x00\x00WAVEfmt \x10\x00\x00\x00\x01\x00\x01\x00".to_vec();
    wav.extend(44_100u32.to_le_bytes());
    wav.extend((44_100u32 * 2).to_le_bytes());
    wav.extend([2, 0, 16, 0]);
    wav.extend(b"data\x00\x00\x00\x00");
    let cd = dir.path().join("cd.wav");
    std::fs::write(&cd, wav).unwrap();
    let err = read_wav(&cd).unwrap_err();
    assert!(matches!(err, AudioError::SampleRate { rate: 44_100, .. }), "{err}");
    assert!(err.to_string().contains("resample"), "{err}");
}
