//! The training curves as a PNG: loss (log scale) and exact-sequence
//! accuracy against the step, written atomically.

use super::run::RunReport;
use crate::plotting::register_font;
use plotters::prelude::*;
use std::path::Path;

const SIZE: (u32, u32) = (1200, 480);

/// Draws `report`'s curves into `path` (`.png`).
pub fn plot_curves(path: &Path, report: &RunReport, title: &str) -> Result<(), String> {
    if path.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase).as_deref() != Some("png") {
        return Err(format!("{}: the curves are written as PNG; use a .png path", path.display()));
    }
    register_font("the training-curve plot")?;
    let mut rgb = vec![0u8; (SIZE.0 * SIZE.1 * 3) as usize];
    {
        let root = BitMapBackend::with_buffer(&mut rgb, SIZE).into_drawing_area();
        root.fill(&WHITE).map_err(|e| e.to_string())?;
        let root = root.titled(title, ("sans-serif", 22)).map_err(|e| e.to_string())?;
        let (left, right) = root.split_horizontally(SIZE.0 / 2);
        let steps = report.losses.len().max(1) as f64;
        let positive: Vec<f64> =
            report.losses.iter().map(|&l| (l as f64).max(1e-6)).filter(|l| l.is_finite()).collect();
        let (lo, hi) = positive.iter().fold((f64::MAX, f64::MIN), |(a, b), &l| (a.min(l), b.max(l)));
        let (lo, hi) = if lo <= hi { (lo / 1.5, hi * 1.5) } else { (1e-3, 10.0) };
        let mut loss = ChartBuilder::on(&left)
            .margin(15)
            .caption("training loss", ("sans-serif", 18))
            .x_label_area_size(35)
            .y_label_area_size(60)
            .build_cartesian_2d(0f64..steps, (lo..hi).log_scale())
            .map_err(|e| e.to_string())?;
        loss.configure_mesh().x_desc("step").draw().map_err(|e| e.to_string())?;
        let points = report
            .losses
            .iter()
            .enumerate()
            .filter(|(_, l)| l.is_finite())
            .map(|(i, &l)| ((i + 1) as f64, (l as f64).max(1e-6)));
        loss.draw_series(LineSeries::new(points, &BLUE)).map_err(|e| e.to_string())?;
        let mut acc = ChartBuilder::on(&right)
            .margin(15)
            .caption("exact-sequence accuracy (training batches)", ("sans-serif", 18))
            .x_label_area_size(35)
            .y_label_area_size(50)
            .build_cartesian_2d(0f64..steps, 0f64..1.0)
            .map_err(|e| e.to_string())?;
        acc.configure_mesh().x_desc("step").draw().map_err(|e| e.to_string())?;
        let points = report.accuracies.iter().map(|&(s, a)| (s as f64, a));
        acc.draw_series(LineSeries::new(points, &RED)).map_err(|e| e.to_string())?;
        root.present().map_err(|e| e.to_string())?;
    }
    let image = image::RgbImage::from_raw(SIZE.0, SIZE.1, rgb).ok_or("the plot buffer has the wrong size")?;
    let mut png = Vec::new();
    image
        .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
        .map_err(|e| format!("encoding the PNG: {e}"))?;
    wgraph::io::write_atomic(path, &png).map_err(|e| format!("cannot write {}: {e}", path.display()))
}
