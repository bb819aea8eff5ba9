//! Pictures of run results (spec 09): line plots (voltage traces, PSTHs, sweep summaries
//! such as f–I curves), raster plots and the morphology coloured by a recorded variable, as
//! SVG and PNG, plus an animation of the morphology as one self-contained HTML page
//! ([`morph::animation_html`]).
//!
//! Drawing uses plotters with its SVG and bitmap backends. Text goes through ab_glyph with
//! DejaVu Sans embedded in the binary (the `dejavu` crate), so no system fonts or libraries
//! are needed: the same picture comes out on a fresh machine. Each figure is described by a
//! plain data type ([`XyFigure`], [`morph::MorphFigure`]) and drawn by one function generic
//! over the backend, so SVG and PNG show the same thing.

pub mod morph;

use crate::diagnostics::{Code, Diagnostic};
use plotters::coord::Shift;
use plotters::prelude::*;
use std::path::{Path, PathBuf};

/// Font family name registered for all text.
pub const FONT: &str = "sans-serif";

/// Register the embedded font once (plotters keeps a global font table).
pub fn fonts() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // The embedded font always parses; a failure would only lose text, not the picture.
        let _ = plotters::style::register_font(FONT, FontStyle::Normal, dejavu::sans::regular());
    });
}

/// A categorical palette (Tableau 10), for series, populations and sweep points.
pub const PALETTE: [(u8, u8, u8); 10] = [
    (31, 119, 180),
    (255, 127, 14),
    (44, 160, 44),
    (214, 39, 40),
    (148, 103, 189),
    (140, 86, 75),
    (227, 119, 194),
    (127, 127, 127),
    (188, 189, 34),
    (23, 190, 207),
];

/// Colour `i` of [`PALETTE`] (cycling).
pub fn palette(i: usize) -> RGBColor {
    let (r, g, b) = PALETTE[i % PALETTE.len()];
    RGBColor(r, g, b)
}

/// The `jet` colour map (spec 09 §9.1's default) at `x` in [0, 1] (clamped).
pub fn jet(x: f64) -> (u8, u8, u8) {
    let x = if x.is_finite() {
        x.clamp(0.0, 1.0)
    } else {
        0.0
    };
    let c = |v: f64| (255.0 * v.clamp(0.0, 1.0)).round() as u8;
    (
        c(1.5 - (4.0 * x - 3.0).abs()),
        c(1.5 - (4.0 * x - 2.0).abs()),
        c(1.5 - (4.0 * x - 1.0).abs()),
    )
}

/// How a series is drawn.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Style {
    /// A polyline through the points.
    Line,
    /// A histogram outline: point `k` is `(bin start, value)`, the last point closes the last bin.
    Steps,
    /// Markers with vertical error bars (`err` half-lengths) joined by a thin line.
    Markers,
    /// A vertical tick at each x, spanning `y ± 0.4` (raster plots).
    Ticks,
}

/// One series of an [`XyFigure`].
#[derive(Clone, Debug, PartialEq)]
pub struct Series {
    pub name: String,
    pub points: Vec<(f64, f64)>,
    /// Error half-lengths for [`Style::Markers`] (same length as `points`, or empty).
    pub err: Vec<f64>,
    pub style: Style,
}

/// A 2-D chart with axes, labels and a legend.
#[derive(Clone, Debug, PartialEq)]
pub struct XyFigure {
    pub title: String,
    pub x_label: String,
    pub y_label: String,
    pub series: Vec<Series>,
    /// Fixed axis ranges (computed from the data when `None`).
    pub x_range: Option<(f64, f64)>,
    pub y_range: Option<(f64, f64)>,
    /// Show a legend (when there is more than one named series).
    pub legend: bool,
}

impl XyFigure {
    /// The ranges to draw: given, or the data's extent with 5 % margins (errors included).
    pub fn ranges(&self) -> ((f64, f64), (f64, f64)) {
        let (mut x0, mut x1, mut y0, mut y1) = (
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::INFINITY,
            f64::NEG_INFINITY,
        );
        for s in &self.series {
            for (i, &(x, y)) in s.points.iter().enumerate() {
                if !(x.is_finite() && y.is_finite()) {
                    continue;
                }
                let e = s
                    .err
                    .get(i)
                    .copied()
                    .filter(|e| e.is_finite())
                    .unwrap_or(0.0);
                let pad = if s.style == Style::Ticks { 0.5 } else { 0.0 };
                x0 = x0.min(x);
                x1 = x1.max(x);
                y0 = y0.min(y - e - pad);
                y1 = y1.max(y + e + pad);
            }
        }
        let fix = |a: f64, b: f64| -> (f64, f64) {
            if !a.is_finite() {
                return (0.0, 1.0);
            }
            if b - a <= 0.0 {
                let w = if a == 0.0 { 1.0 } else { a.abs() * 0.1 };
                return (a - w, b + w);
            }
            let m = (b - a) * 0.05;
            (a - m, b + m)
        };
        (
            self.x_range.unwrap_or_else(|| fix(x0, x1)),
            self.y_range.unwrap_or_else(|| {
                let (a, b) = fix(y0, y1);
                // Counts and rates start at zero.
                if y0 >= 0.0
                    && self
                        .series
                        .iter()
                        .all(|s| matches!(s.style, Style::Steps | Style::Markers))
                {
                    (0.0, b)
                } else {
                    (a, b)
                }
            }),
        )
    }
}

fn err<E: std::fmt::Display>(e: E) -> String {
    e.to_string()
}

/// Draw `fig` on `root` (any backend).
pub fn draw_xy<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    fig: &XyFigure,
) -> Result<(), String> {
    fonts();
    root.fill(&WHITE).map_err(err)?;
    let ((x0, x1), (y0, y1)) = fig.ranges();
    let mut chart = ChartBuilder::on(root)
        .caption(&fig.title, (FONT, 20))
        .margin(12)
        .x_label_area_size(44)
        .y_label_area_size(64)
        .build_cartesian_2d(x0..x1, y0..y1)
        .map_err(err)?;
    chart
        .configure_mesh()
        .light_line_style(WHITE)
        .bold_line_style(RGBColor(225, 225, 225))
        .x_desc(&fig.x_label)
        .y_desc(&fig.y_label)
        .label_style((FONT, 13))
        .axis_desc_style((FONT, 15))
        .draw()
        .map_err(err)?;
    let n_named = fig.series.iter().filter(|s| !s.name.is_empty()).count();
    for (i, s) in fig.series.iter().enumerate() {
        let color = palette(i);
        let pts: Vec<(f64, f64)> = s
            .points
            .iter()
            .copied()
            .filter(|(x, y)| x.is_finite() && y.is_finite())
            .collect();
        let anno = match s.style {
            Style::Line => chart
                .draw_series(LineSeries::new(pts, color.stroke_width(2)))
                .map_err(err)?,
            Style::Steps => {
                let mut p = Vec::with_capacity(pts.len() * 2);
                for w in pts.windows(2) {
                    p.push((w[0].0, w[0].1));
                    p.push((w[1].0, w[0].1));
                }
                if let (Some(&first), Some(&last)) = (pts.first(), pts.last()) {
                    p.insert(0, (first.0, 0.0f64.max(y0)));
                    p.push((last.0, 0.0f64.max(y0)));
                }
                chart
                    .draw_series(LineSeries::new(p, color.stroke_width(2)))
                    .map_err(err)?
            }
            Style::Markers => {
                chart
                    .draw_series(LineSeries::new(pts.clone(), color.stroke_width(1)))
                    .map_err(err)?;
                let bars: Vec<_> = s
                    .points
                    .iter()
                    .zip(s.err.iter().chain(std::iter::repeat(&0.0)))
                    .filter(|((x, y), e)| x.is_finite() && y.is_finite() && e.is_finite())
                    .map(|(&(x, y), &e)| {
                        PathElement::new(vec![(x, y - e), (x, y + e)], color.stroke_width(2))
                    })
                    .collect();
                chart.draw_series(bars).map_err(err)?;
                chart
                    .draw_series(pts.iter().map(|&p| Circle::new(p, 5, color.filled())))
                    .map_err(err)?
            }
            Style::Ticks => chart
                .draw_series(pts.iter().map(|&(x, y)| {
                    PathElement::new(vec![(x, y - 0.4), (x, y + 0.4)], color.stroke_width(2))
                }))
                .map_err(err)?,
        };
        if fig.legend && n_named > 1 && !s.name.is_empty() {
            anno.label(s.name.clone()).legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 18, y)], color.stroke_width(3))
            });
        }
    }
    if fig.legend && n_named > 1 {
        chart
            .configure_series_labels()
            .label_font((FONT, 13))
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .position(SeriesLabelPosition::UpperRight)
            .draw()
            .map_err(err)?;
    }
    root.present().map_err(err)?;
    Ok(())
}

/// Which files a picture goes to: `stem.svg` and/or `stem.png`.
#[derive(Clone, Debug, PartialEq)]
pub struct Outputs {
    pub svg: Option<PathBuf>,
    pub png: Option<PathBuf>,
}

impl Outputs {
    /// From `-o PATH`: `x.svg` or `x.png` alone, anything else (`x`, `x.pic`) both
    /// `x.svg` and `x.png`.
    pub fn from_path(p: &Path) -> Outputs {
        match p.extension().and_then(|e| e.to_str()) {
            Some("svg") => Outputs {
                svg: Some(p.to_path_buf()),
                png: None,
            },
            Some("png") => Outputs {
                svg: None,
                png: Some(p.to_path_buf()),
            },
            _ => Outputs {
                svg: Some(p.with_extension("svg")),
                png: Some(p.with_extension("png")),
            },
        }
    }
}

/// Picture size in pixels.
pub const SIZE: (u32, u32) = (900, 560);

fn write_err(path: &Path, m: impl std::fmt::Display) -> Diagnostic {
    Diagnostic::new(Code::E0905, format!("cannot write {}: {m}", path.display()))
}

/// Write an SVG picture drawn by `f` to `path`.
pub fn write_svg(
    path: &Path,
    size: (u32, u32),
    f: impl FnOnce(&DrawingArea<SVGBackend, Shift>) -> Result<(), String>,
) -> Result<(), Diagnostic> {
    let mut text = String::new();
    {
        let root = SVGBackend::with_string(&mut text, size).into_drawing_area();
        f(&root).map_err(|m| write_err(path, m))?;
    }
    crate::files::write_atomic(path, text.as_bytes()).map_err(|e| write_err(path, e))
}

/// Write a PNG picture drawn by `f` to `path`.
pub fn write_png(
    path: &Path,
    size: (u32, u32),
    f: impl FnOnce(&DrawingArea<BitMapBackend, Shift>) -> Result<(), String>,
) -> Result<(), Diagnostic> {
    let mut rgb = vec![0u8; size.0 as usize * size.1 as usize * 3];
    {
        let root = BitMapBackend::with_buffer(&mut rgb, size).into_drawing_area();
        f(&root).map_err(|m| write_err(path, m))?;
    }
    let bytes = encode_png(&rgb, size).map_err(|m| write_err(path, m))?;
    crate::files::write_atomic(path, &bytes).map_err(|e| write_err(path, e))
}

/// PNG bytes of an RGB buffer.
pub fn encode_png(rgb: &[u8], size: (u32, u32)) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    {
        let mut enc = png::Encoder::new(&mut out, size.0, size.1);
        enc.set_color(png::ColorType::Rgb);
        enc.set_depth(png::BitDepth::Eight);
        let mut w = enc.write_header().map_err(err)?;
        w.write_image_data(rgb).map_err(err)?;
    }
    Ok(out)
}

/// Write `fig` to the files of `out`; returns them.
pub fn save_xy(fig: &XyFigure, out: &Outputs) -> Result<Vec<PathBuf>, Diagnostic> {
    let mut files = Vec::new();
    if let Some(p) = &out.svg {
        write_svg(p, SIZE, |root| draw_xy(root, fig))?;
        files.push(p.clone());
    }
    if let Some(p) = &out.png {
        write_png(p, SIZE, |root| draw_xy(root, fig))?;
        files.push(p.clone());
    }
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jet_ends_and_middle() {
        assert_eq!(jet(0.0), (0, 0, 128));
        assert_eq!(jet(0.5), (128, 255, 128));
        assert_eq!(jet(1.0), (128, 0, 0));
        assert_eq!(jet(f64::NAN), jet(0.0));
    }

    #[test]
    fn outputs_from_extension() {
        let o = Outputs::from_path(Path::new("a/fi"));
        assert_eq!(o.svg.as_deref(), Some(Path::new("a/fi.svg")));
        assert_eq!(o.png.as_deref(), Some(Path::new("a/fi.png")));
        assert!(Outputs::from_path(Path::new("x.png")).svg.is_none());
    }

    #[test]
    fn png_has_the_series_colour_where_the_line_is() {
        // A horizontal line at y = 0.5 across [0, 1] × [0, 1] must colour the pixels of the
        // plot's middle row in the first palette colour.
        let fig = XyFigure {
            title: "t".into(),
            x_label: "x".into(),
            y_label: "y".into(),
            series: vec![Series {
                name: "a".into(),
                points: vec![(0.0, 0.5), (1.0, 0.5)],
                err: vec![],
                style: Style::Line,
            }],
            x_range: Some((0.0, 1.0)),
            y_range: Some((0.0, 1.0)),
            legend: false,
        };
        let (w, h) = (400u32, 300u32);
        let mut rgb = vec![0u8; (w * h * 3) as usize];
        {
            let root = BitMapBackend::with_buffer(&mut rgb, (w, h)).into_drawing_area();
            draw_xy(&root, &fig).unwrap();
        }
        let (r, g, b) = PALETTE[0];
        let hits = rgb
            .chunks(3)
            .filter(|p| p[0] == r && p[1] == g && p[2] == b)
            .count();
        // The line spans most of the plot width (≥ 250 px of 400), 2 px thick.
        assert!(hits > 400, "{hits} pixels of the series colour");
        let white = rgb.chunks(3).filter(|p| p == &[255, 255, 255]).count();
        assert!(white > (w * h / 2) as usize, "mostly white background");
    }
}
