//! Plots as PNG or SVG files: plotters draws them in memory with a system
//! TrueType font registered once per process, `image` encodes PNGs, and
//! the file is written atomically.

mod curves;
mod divergence;

pub use curves::training_curves;
pub use divergence::{divergence, divergence_format};

use plotters::style::FontStyle;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// Where Debian (`fonts-dejavu-core`) and other systems keep a sans font.
pub const FONTS: [&str; 4] = [
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/TTF/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu/DejaVuSans.ttf",
    "/Library/Fonts/Arial.ttf",
];

/// Why a plot was not written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PlotError {
    /// The path's extension names no format this plot writes.
    #[error("{flag}{}: {expected}", .path.display())]
    Format { flag: &'static str, path: PathBuf, expected: &'static str },
    /// No font for the labels.
    #[error(
        "{what} needs a TrueType font for its labels and found none of {fonts}; \
         install one (Debian: apt-get install fonts-dejavu-core)",
        fonts = FONTS.join(", ")
    )]
    NoFont { what: &'static str },
    /// The system font is not a font plotters can parse.
    #[error("the system font could not be parsed")]
    BadFont,
    /// plotters or the PNG encoder failed.
    #[error("drawing {}: {detail}", .path.display())]
    Draw { path: PathBuf, detail: String },
    /// Writing the file failed.
    #[error("cannot write {}: {source}", .path.display())]
    Write { path: PathBuf, source: std::io::Error },
}

/// Image formats a plot is written in, by the file's extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Png,
    Svg,
}

impl Format {
    /// The format `path`'s extension names, if any.
    pub fn of(path: &Path) -> Option<Format> {
        match path.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase).as_deref() {
            Some("png") => Some(Format::Png),
            Some("svg") => Some(Format::Svg),
            _ => None,
        }
    }
}

/// Registers a system font as plotters' "sans-serif" (labels need one);
/// `what` names the plot in the error.
fn register_font(what: &'static str) -> Result<(), PlotError> {
    static FONT: OnceLock<Result<(), ()>> = OnceLock::new();
    let registered = FONT.get_or_init(|| {
        let Some(bytes) = FONTS.iter().find_map(|p| std::fs::read(p).ok()) else { return Err(()) };
        // plotters keeps fonts for the whole process.
        plotters::style::register_font("sans-serif", FontStyle::Normal, Box::leak(bytes.into_boxed_slice()))
            .map_err(|_| ())
    });
    match registered {
        Ok(()) => Ok(()),
        Err(()) if FONTS.iter().any(|p| Path::new(p).is_file()) => Err(PlotError::BadFont),
        Err(()) => Err(PlotError::NoFont { what }),
    }
}

/// An RGB buffer of `size` encoded as PNG.
fn encode_png(path: &Path, rgb: Vec<u8>, size: (u32, u32)) -> Result<Vec<u8>, PlotError> {
    let draw = |detail: String| PlotError::Draw { path: path.to_path_buf(), detail };
    let image =
        image::RgbImage::from_raw(size.0, size.1, rgb).ok_or_else(|| draw("the buffer has the wrong size".into()))?;
    let mut png = std::io::Cursor::new(Vec::new());
    image.write_to(&mut png, image::ImageFormat::Png).map_err(|e| draw(format!("encoding the PNG: {e}")))?;
    Ok(png.into_inner())
}

/// Writes a finished plot atomically.
fn write(path: &Path, bytes: &[u8]) -> Result<(), PlotError> {
    wgraph::io::write_atomic(path, bytes).map_err(|source| PlotError::Write { path: path.to_path_buf(), source })
}
