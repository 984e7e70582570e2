//! Training curves as a PNG: the loss (log scale) and an accuracy against
//! the step.

use super::{encode_png, register_font, write, Format, PlotError};
use plotters::prelude::*;
use std::path::Path;

const SIZE: (u32, u32) = (1200, 480);

/// Draws `losses` (one per step, from step 1) and `accuracies` (`(step,
/// fraction)`) side by side into `path` (`.png`).
pub fn training_curves(
    path: &Path,
    losses: &[f32],
    accuracies: &[(usize, f64)],
    accuracy_caption: &str,
    title: &str,
) -> Result<(), PlotError> {
    if Format::of(path) != Some(Format::Png) {
        return Err(PlotError::Format {
            flag: "",
            path: path.to_path_buf(),
            expected: "the curves are written as PNG; use a .png path",
        });
    }
    register_font("the training-curve plot")?;
    let mut rgb = vec![0u8; (SIZE.0 * SIZE.1 * 3) as usize];
    draw(&mut rgb, losses, accuracies, accuracy_caption, title)
        .map_err(|detail| PlotError::Draw { path: path.to_path_buf(), detail })?;
    write(path, &encode_png(path, rgb, SIZE)?)
}

fn draw(
    rgb: &mut [u8],
    losses: &[f32],
    accuracies: &[(usize, f64)],
    accuracy_caption: &str,
    title: &str,
) -> Result<(), String> {
    {
        let root = BitMapBackend::with_buffer(rgb, SIZE).into_drawing_area();
        root.fill(&WHITE).map_err(|e| e.to_string())?;
        let root = root.titled(title, ("sans-serif", 22)).map_err(|e| e.to_string())?;
        let (left, right) = root.split_horizontally(SIZE.0 / 2);
        let steps = losses.len().max(1) as f64;
        let positive: Vec<f64> = losses.iter().map(|&l| (l as f64).max(1e-6)).filter(|l| l.is_finite()).collect();
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
        let points = losses
            .iter()
            .enumerate()
            .filter(|(_, l)| l.is_finite())
            .map(|(i, &l)| ((i + 1) as f64, (l as f64).max(1e-6)));
        loss.draw_series(LineSeries::new(points, &BLUE)).map_err(|e| e.to_string())?;
        let mut acc = ChartBuilder::on(&right)
            .margin(15)
            .caption(accuracy_caption, ("sans-serif", 18))
            .x_label_area_size(35)
            .y_label_area_size(50)
            .build_cartesian_2d(0f64..steps, 0f64..1.0)
            .map_err(|e| e.to_string())?;
        acc.configure_mesh().x_desc("step").draw().map_err(|e| e.to_string())?;
        let points = accuracies.iter().map(|&(s, a)| (s as f64, a));
        acc.draw_series(LineSeries::new(points, &RED)).map_err(|e| e.to_string())?;
        root.present().map_err(|e| e.to_string())?;
    }
    Ok(())
}
