//! `compare --plot FILE`: the max |ours - reference| of every compared
//! tensor along our execution order, log scale, agreeing tensors in blue,
//! the others in red, the first divergence marked. `.png` or `.svg` by the
//! file's extension.

use super::{encode_png, register_font, write, Format, PlotError};
use plotters::coord::Shift;
use plotters::prelude::*;
use std::path::Path;
use wgraph::debug::Comparison;

const SIZE: (u32, u32) = (1200, 560);

/// The format of a `--plot` path; checked before any work is done.
pub fn divergence_format(path: &Path) -> Result<Format, PlotError> {
    Format::of(path).ok_or_else(|| PlotError::Format {
        flag: "--plot ",
        path: path.to_path_buf(),
        expected: "the file must end in .png or .svg",
    })
}

/// Draws `result` into `path`.
pub fn divergence(path: &Path, result: &Comparison) -> Result<(), PlotError> {
    let format = divergence_format(path)?;
    register_font("--plot")?;
    let drawing = |e: String| PlotError::Draw { path: path.to_path_buf(), detail: e };
    let bytes = match format {
        Format::Png => {
            let mut rgb = vec![0u8; (SIZE.0 * SIZE.1 * 3) as usize];
            {
                let root = BitMapBackend::with_buffer(&mut rgb, SIZE).into_drawing_area();
                draw(&root, result).map_err(|e| drawing(e.to_string()))?;
                root.present().map_err(|e| drawing(e.to_string()))?;
            }
            encode_png(path, rgb, SIZE)?
        }
        Format::Svg => {
            let mut svg = String::new();
            {
                let root = SVGBackend::with_string(&mut svg, SIZE).into_drawing_area();
                draw(&root, result).map_err(|e| drawing(e.to_string()))?;
                root.present().map_err(|e| drawing(e.to_string()))?;
            }
            svg.into_bytes()
        }
    };
    write(path, &bytes)
}

type DrawResult<DB> = std::result::Result<(), DrawingAreaErrorKind<<DB as DrawingBackend>::ErrorType>>;

fn draw<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, result: &Comparison) -> DrawResult<DB> {
    root.fill(&WHITE)?;
    // Exact agreement has no logarithm: such tensors sit on the floor.
    let floor = 1e-10;
    // NaN and Inf differences have no place on a log axis either (an
    // infinite range never finishes drawing): they sit on the ceiling,
    // drawn as crosses, a decade above the largest finite difference.
    let finite_top = result
        .rows
        .iter()
        .map(|r| r.max_abs)
        .filter(|d| d.is_finite())
        .fold(result.tolerance.atol.max(floor), f64::max);
    let ceiling = finite_top * 10.0;
    let top = ceiling * 10.0;
    let points: Vec<(f64, f64, bool)> = result
        .rows
        .iter()
        .enumerate()
        .map(|(i, r)| (i as f64, if r.max_abs.is_finite() { r.max_abs.max(floor) } else { ceiling }, r.agrees))
        .collect();
    let non_finite: Vec<f64> =
        result.rows.iter().enumerate().filter(|(_, r)| !r.max_abs.is_finite()).map(|(i, _)| i as f64).collect();
    let n = points.len().max(1) as f64;
    let caption = match &result.first_divergence {
        Some((name, _)) => format!("max |ours - reference| per tensor; first divergence: {name}"),
        None => format!("max |ours - reference| per tensor; all {} agree", result.rows.len()),
    };
    let mut chart = ChartBuilder::on(root)
        .caption(caption, ("sans-serif", 20))
        .margin(16)
        .x_label_area_size(40)
        .y_label_area_size(70)
        .build_cartesian_2d(-0.5..n - 0.5, (floor..top).log_scale())?;
    chart
        .configure_mesh()
        .x_desc("tensor, in our execution order")
        .y_desc("max |ours - reference|")
        .y_label_formatter(&|v| format!("{v:.0e}"))
        .x_label_formatter(&|v| format!("{v:.0}"))
        .disable_x_mesh()
        .light_line_style(WHITE)
        .draw()?;
    chart.draw_series(LineSeries::new(points.iter().map(|p| (p.0, p.1)), BLACK.mix(0.3)))?;
    chart.draw_series(
        points.iter().map(|&(x, y, agrees)| Circle::new((x, y), 4, if agrees { BLUE.filled() } else { RED.filled() })),
    )?;
    if !non_finite.is_empty() {
        chart
            .draw_series(non_finite.iter().map(|&x| Cross::new((x, ceiling), 7, RED.stroke_width(2))))?
            .label("NaN or Inf difference")
            .legend(|(x, y)| Cross::new((x + 10, y), 5, RED.stroke_width(2)));
    }
    // The tolerance every tensor is held to (its absolute part).
    let atol = result.tolerance.atol.max(floor);
    chart
        .draw_series(std::iter::once(PathElement::new(vec![(-0.5, atol), (n - 0.5, atol)], GREEN.stroke_width(2))))?
        .label(format!("atol {}", result.tolerance.atol))
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], GREEN.stroke_width(2)));
    if let Some((name, _)) = &result.first_divergence {
        if let Some(i) = result.rows.iter().position(|r| &r.name == name) {
            let x = i as f64;
            chart
                .draw_series(std::iter::once(PathElement::new(vec![(x, floor), (x, top)], RED.stroke_width(2))))?
                .label(format!("first divergence: {name}"))
                .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], RED.stroke_width(2)));
        }
    }
    chart.configure_series_labels().background_style(WHITE.mix(0.9)).border_style(BLACK).draw()?;
    Ok(())
}
