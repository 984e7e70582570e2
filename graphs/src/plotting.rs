//! Shared plotting setup: plotters draws text with a TrueType font the
//! process registers once.

use plotters::style::FontStyle;
use std::sync::OnceLock;

/// Where Debian (`fonts-dejavu-core`) and other systems keep a sans font.
pub const FONTS: [&str; 4] = [
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/TTF/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu/DejaVuSans.ttf",
    "/Library/Fonts/Arial.ttf",
];

/// Registers a system font as plotters' "sans-serif" (labels need one);
/// `what` names the feature in the error (`--plot`).
pub fn register_font(what: &str) -> Result<(), String> {
    static FONT: OnceLock<Result<(), String>> = OnceLock::new();
    FONT.get_or_init(|| {
        let bytes = FONTS.iter().find_map(|p| std::fs::read(p).ok()).ok_or_else(|| {
            format!(
                "{what} needs a TrueType font for its labels and found none of {}; \
                 install one (Debian: apt-get install fonts-dejavu-core)",
                FONTS.join(", ")
            )
        })?;
        // plotters keeps fonts for the whole process.
        plotters::style::register_font("sans-serif", FontStyle::Normal, Box::leak(bytes.into_boxed_slice()))
            .map_err(|_| "the system font could not be parsed".to_string())
    })
    .clone()
}
