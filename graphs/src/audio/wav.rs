//! WAV files decoded with `hound`: 8, 16, 24 and 32-bit PCM and 32-bit
//! float, any number of channels averaged to mono (as `librosa.load` does
//! before a clip reaches HF's feature extractor).

use super::{AudioError, CHUNK_SECONDS, MAX_RATE, MIN_RATE};
use std::cell::Cell;
use std::io::{BufReader, Read};
use std::path::Path;
use std::rc::Rc;

/// Seconds read past Whisper's 30-second window: the resampler's filter
/// reaches less than a second to each side, so the samples just before the
/// cut come out as they do when the whole file is resampled (what HF users
/// do before HF truncates).
const MARGIN_SECONDS: u64 = 2;

/// A WAV file's audio at its own sample rate, downmixed to mono.
#[derive(Debug, Clone)]
pub struct Wav {
    /// Mono samples in [-1, 1] (the mean of the channels), at most the first
    /// 32 s of the file.
    pub samples: Vec<f64>,
    pub sample_rate: u32,
    pub channels: u16,
    pub bits_per_sample: u16,
    pub float: bool,
    /// Frames (one sample of every channel) in the whole file, as its header
    /// says: more than `samples.len()` for files longer than 32 s.
    pub frames: u64,
}

impl Wav {
    /// The whole file's length in seconds.
    pub fn seconds(&self) -> f64 {
        self.frames as f64 / self.sample_rate as f64
    }
}

/// Reads a WAV file: its first 32 s at most (Whisper sees 30), averaged to
/// mono. Every way a file can be unusable is a typed [`AudioError`] naming
/// the path: not a regular file, not WAV, an encoding hound does not decode,
/// 0 channels, a sample rate outside [`MIN_RATE`]..=[`MAX_RATE`], a file
/// shorter than its header says, a NaN or infinite float sample.
pub fn read_wav(path: impl AsRef<Path>) -> Result<Wav, AudioError> {
    let path = path.as_ref();
    let p = path.display().to_string();
    let io = |source| AudioError::Io { path: p.clone(), source };
    // Checked before opening: opening a FIFO blocks until a writer appears,
    // and a directory or a device is no WAV file either.
    let meta = std::fs::metadata(path).map_err(io)?;
    if !meta.is_file() {
        return Err(AudioError::NotAFile { path: p, kind: kind_of(&meta) });
    }
    let file = std::fs::File::open(path).map_err(io)?;
    let consumed = Rc::new(Cell::new(0u64));
    let counted = Counted { inner: BufReader::new(file), consumed: consumed.clone() };
    let mut reader = hound::WavReader::new(counted).map_err(|e| header_error(&p, e))?;
    let spec = reader.spec();
    if !(MIN_RATE..=MAX_RATE).contains(&spec.sample_rate) {
        return Err(AudioError::SampleRate { path: p, got: spec.sample_rate, min: MIN_RATE, max: MAX_RATE });
    }
    let channels = spec.channels;
    let frames = reader.duration() as u64;
    // The header's data length against the file's: a file cut short is
    // refused before anything is allocated for the samples it promises.
    // (Samples may sit in wider containers, e.g. 24 bits in 4 bytes, so this
    // is a lower bound; reading catches the rest.)
    let bytes_per_frame = channels as u64 * (spec.bits_per_sample as u64).div_ceil(8);
    let held = meta.len().saturating_sub(consumed.get()) / bytes_per_frame;
    if held < frames {
        return Err(AudioError::Truncated { path: p, expected: frames, got: held, channels });
    }
    let to_read = frames.min((CHUNK_SECONDS as u64 + MARGIN_SECONDS) * spec.sample_rate as u64);
    let float = spec.sample_format == hound::SampleFormat::Float;
    let mut mono = Downmix::new(&p, channels, spec.sample_rate, frames, to_read);
    if float {
        for s in reader.samples::<f32>().take((to_read * channels as u64) as usize) {
            mono.push(s.map(f64::from))?;
        }
    } else {
        // PCM of b bits holds integers in [-2^(b-1), 2^(b-1)): scaled to [-1, 1)
        // as soundfile (librosa's reader) and the `wave` + numpy idiom do.
        let scale = 1.0 / (1u64 << (spec.bits_per_sample.clamp(1, 32) - 1)) as f64;
        for s in reader.samples::<i32>().take((to_read * channels as u64) as usize) {
            mono.push(s.map(|v| v as f64 * scale))?;
        }
    }
    Ok(Wav {
        samples: mono.samples,
        sample_rate: spec.sample_rate,
        channels,
        bits_per_sample: spec.bits_per_sample,
        float,
        frames,
    })
}

/// Averages interleaved samples frame by frame, refusing non-finite ones.
struct Downmix<'a> {
    path: &'a str,
    channels: u16,
    rate: u32,
    expected: u64,
    samples: Vec<f64>,
    sum: f64,
    index: u64,
}

impl<'a> Downmix<'a> {
    fn new(path: &'a str, channels: u16, rate: u32, expected: u64, to_read: u64) -> Self {
        // Bounded: at most 32 s at MAX_RATE, and no more than the file holds.
        let samples = Vec::with_capacity(to_read as usize);
        Downmix { path, channels, rate, expected, samples, sum: 0.0, index: 0 }
    }

    fn push(&mut self, sample: Result<f64, hound::Error>) -> Result<(), AudioError> {
        let value = sample.map_err(|e| self.read_error(e))?;
        let (frame, channel) = (self.index / self.channels as u64, (self.index % self.channels as u64) as u16);
        if !value.is_finite() {
            return Err(AudioError::NonFinite {
                path: self.path.to_string(),
                index: self.index,
                frame,
                channel,
                seconds: frame as f64 / self.rate as f64,
                value: value as f32,
            });
        }
        self.sum += value;
        self.index += 1;
        if channel + 1 == self.channels {
            self.samples.push(self.sum / self.channels as f64);
            self.sum = 0.0;
        }
        Ok(())
    }

    /// A sample that cannot be read: the file ends early (hound reports a
    /// short read as an I/O error of kind `Other`), or the disk failed.
    fn read_error(&self, e: hound::Error) -> AudioError {
        match e {
            hound::Error::IoError(e)
                if matches!(e.kind(), std::io::ErrorKind::Other | std::io::ErrorKind::UnexpectedEof) =>
            {
                AudioError::Truncated {
                    path: self.path.to_string(),
                    expected: self.expected,
                    got: self.index / self.channels as u64,
                    channels: self.channels,
                }
            }
            hound::Error::IoError(source) => AudioError::Io { path: self.path.to_string(), source },
            e => AudioError::Format { path: self.path.to_string(), detail: e.to_string() },
        }
    }
}

/// hound's verdict on a header, as our error.
fn header_error(path: &str, e: hound::Error) -> AudioError {
    let path = path.to_string();
    match e {
        // hound's own wording for `nChannels == 0`; matched so that the
        // error can say what was expected.
        hound::Error::FormatError("file contains zero channels") => AudioError::NoChannels { path },
        hound::Error::FormatError(detail) => AudioError::Format { path, detail: detail.to_string() },
        hound::Error::Unsupported => AudioError::Format {
            path,
            detail: "its encoding is neither PCM (8, 16, 24, 32 bits) nor 32-bit float (compressed, \
                     64-bit float?); convert it, e.g. `sox in.wav -b 16 out.wav`"
                .into(),
        },
        hound::Error::IoError(e)
            if matches!(e.kind(), std::io::ErrorKind::Other | std::io::ErrorKind::UnexpectedEof) =>
        {
            AudioError::Format { path, detail: "the file ends inside its header".into() }
        }
        hound::Error::IoError(source) => AudioError::Io { path, source },
        e => AudioError::Format { path, detail: e.to_string() },
    }
}

/// What a path that is not a regular file is, for the error.
fn kind_of(meta: &std::fs::Metadata) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        let t = meta.file_type();
        if t.is_fifo() {
            return "a FIFO (named pipe)";
        }
        if t.is_socket() {
            return "a socket";
        }
        if t.is_block_device() || t.is_char_device() {
            return "a device";
        }
    }
    if meta.is_dir() {
        "a directory"
    } else {
        "a special file"
    }
}

/// A reader that counts the bytes taken from it, so that the data chunk's
/// offset is known once hound has read the header.
struct Counted<R> {
    inner: R,
    consumed: Rc<Cell<u64>>,
}

impl<R: Read> Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.consumed.set(self.consumed.get() + n as u64);
        Ok(n)
    }
}
