//! The morphology in 2-D projection, coloured by a per-compartment variable (spec 09 §9.1):
//! the geometry ([`project`]), a static picture ([`draw_morph`]) and an animation over time
//! as one self-contained HTML page with a time slider ([`animation_html`]).
//!
//! As in ISF's visualizer the generated axon (AIS, myelin) is not shown, the soma is one disc
//! at the mean of its 3-D points, and each section's points are joined to the point of its
//! parent where it attaches. A line piece takes the colour of the compartment containing its
//! midpoint (by arc length; ISF uses `⌊nseg·i/nPts⌋` of the point index). Synapses are
//! drawn at their 3-D point when they release transmitter in `[t, t + window)` (ISF uses
//! presynaptic spike times, spec 09's pitfall; here it is the release that is shown).

use super::{FONT, fonts, jet, palette};
use crate::morph::{Label, Morphology, Point3};
use plotters::coord::Shift;
use plotters::prelude::*;

/// Projection plane: the two coordinates shown (horizontal, vertical).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum View {
    Xy,
    Xz,
    Yz,
}

impl View {
    fn pick(self, p: &Point3) -> (f64, f64) {
        match self {
            View::Xy => (p.x, p.y),
            View::Xz => (p.x, p.z),
            View::Yz => (p.y, p.z),
        }
    }
}

/// One straight piece of a section in projection.
#[derive(Clone, Debug, PartialEq)]
pub struct Piece {
    pub a: (f64, f64),
    pub b: (f64, f64),
    /// Diameter, µm.
    pub diam_um: f64,
    /// Compartment (segment order of the cell: sections in index order, 0-end first).
    pub comp: usize,
}

/// A projected morphology.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Geometry {
    pub pieces: Vec<Piece>,
    /// Soma disc: centre, diameter (µm) and compartment.
    pub soma: Option<((f64, f64), f64, usize)>,
    /// Compartments of the whole cell (hidden sections included).
    pub n_compartments: usize,
    /// Projected 3-D points per section (for synapse positions).
    pub points: Vec<Vec<(f64, f64)>>,
}

fn arcs(pts: &[Point3]) -> Vec<f64> {
    let mut a = vec![0.0];
    for w in pts.windows(2) {
        let d = ((w[1].x - w[0].x).powi(2) + (w[1].y - w[0].y).powi(2) + (w[1].z - w[0].z).powi(2))
            .sqrt();
        a.push(a[a.len() - 1] + d);
    }
    a
}

/// The point at fraction `x` of a section's arc length.
fn point_at(pts: &[Point3], x: f64) -> Option<Point3> {
    let a = arcs(pts);
    let total = *a.last()?;
    let s = x.clamp(0.0, 1.0) * total;
    for j in 1..pts.len() {
        if a[j] >= s {
            let seg = a[j] - a[j - 1];
            let f = if seg > 0.0 { (s - a[j - 1]) / seg } else { 0.0 };
            let (p, q) = (&pts[j - 1], &pts[j]);
            return Some(Point3 {
                x: p.x + f * (q.x - p.x),
                y: p.y + f * (q.y - p.y),
                z: p.z + f * (q.z - p.z),
                d: p.d + f * (q.d - p.d),
            });
        }
    }
    pts.last().copied()
}

/// Project `morph` (sections in index order, with the generated axon if the cell has one)
/// whose sections have `nseg` compartments each.
pub fn project(morph: &Morphology, nseg: &[usize], view: View) -> Geometry {
    let mut offset = Vec::with_capacity(nseg.len());
    let mut total = 0;
    for &n in nseg {
        offset.push(total);
        total += n;
    }
    let mut g = Geometry {
        n_compartments: total,
        ..Geometry::default()
    };
    let soma_pts: Vec<&Point3> = morph
        .sections
        .iter()
        .filter(|s| s.label == Label::Soma)
        .flat_map(|s| s.points.iter())
        .collect();
    let soma_centre = (!soma_pts.is_empty()).then(|| {
        let n = soma_pts.len() as f64;
        Point3 {
            x: soma_pts.iter().map(|p| p.x).sum::<f64>() / n,
            y: soma_pts.iter().map(|p| p.y).sum::<f64>() / n,
            z: soma_pts.iter().map(|p| p.z).sum::<f64>() / n,
            d: soma_pts.iter().map(|p| p.d).sum::<f64>() / n,
        }
    });
    if let (Some(c), Some(si)) = (
        &soma_centre,
        morph.sections.iter().position(|s| s.label == Label::Soma),
    ) {
        let n = nseg.get(si).copied().unwrap_or(1).max(1);
        g.soma = Some((
            view.pick(c),
            c.d,
            offset.get(si).copied().unwrap_or(0) + n / 2,
        ));
    }
    for (si, sec) in morph.sections.iter().enumerate() {
        g.points
            .push(sec.points.iter().map(|p| view.pick(p)).collect());
        if matches!(sec.label, Label::Soma | Label::AIS | Label::Myelin) || sec.points.is_empty() {
            continue;
        }
        let n = nseg.get(si).copied().unwrap_or(1).max(1);
        let off = offset.get(si).copied().unwrap_or(0);
        // Where the section attaches: the soma centre for soma children (ISF attaches them
        // at soma(0.5)), else the parent's point at parent_x.
        let start = sec.parent.and_then(|p| {
            let parent = morph.sections.get(p)?;
            if parent.label == Label::Soma {
                soma_centre
            } else {
                point_at(&parent.points, sec.parent_x)
            }
        });
        let a = arcs(&sec.points);
        let len = a.last().copied().unwrap_or(0.0);
        let seg_of = |s: f64| -> usize {
            if len > 0.0 {
                ((s / len * n as f64).floor() as usize).min(n - 1)
            } else {
                0
            }
        };
        if let Some(st) = start {
            g.pieces.push(Piece {
                a: view.pick(&st),
                b: view.pick(&sec.points[0]),
                diam_um: sec.points[0].d,
                comp: off,
            });
        }
        for j in 1..sec.points.len() {
            let (p, q) = (&sec.points[j - 1], &sec.points[j]);
            g.pieces.push(Piece {
                a: view.pick(p),
                b: view.pick(q),
                diam_um: 0.5 * (p.d + q.d),
                comp: off + seg_of(0.5 * (a[j - 1] + a[j])),
            });
        }
    }
    g
}

/// A synapse to mark: its group (population) and projected position.
#[derive(Clone, Debug, PartialEq)]
pub struct Marker {
    pub group: usize,
    pub at: (f64, f64),
}

/// Everything a morphology picture shows.
#[derive(Clone, Debug, PartialEq)]
pub struct MorphFigure {
    pub title: String,
    pub geometry: Geometry,
    /// Value per compartment (`None`: plain grey morphology).
    pub values: Option<Vec<f64>>,
    /// Colour range of the values.
    pub range: (f64, f64),
    /// Label of the colour bar (`v (mV)`).
    pub value_label: String,
    /// Group names of the markers.
    pub groups: Vec<String>,
    pub markers: Vec<Marker>,
}

/// Pixel layout shared by the picture and the HTML page: data bounds → pixels, same scale on
/// both axes.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Layout {
    pub size: (u32, u32),
    scale: f64,
    x0: f64,
    y1: f64,
    left: f64,
    top: f64,
}

impl Layout {
    /// Fit the geometry into `size` minus room for the title (top), the legend (left) and
    /// the colour bar (right).
    pub fn fit(g: &Geometry, size: (u32, u32)) -> Layout {
        let (mut x0, mut x1, mut y0, mut y1) = (
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::INFINITY,
            f64::NEG_INFINITY,
        );
        let mut add = |(x, y): (f64, f64)| {
            if x.is_finite() && y.is_finite() {
                x0 = x0.min(x);
                x1 = x1.max(x);
                y0 = y0.min(y);
                y1 = y1.max(y);
            }
        };
        for p in &g.pieces {
            add(p.a);
            add(p.b);
        }
        if let Some((c, d, _)) = g.soma {
            add((c.0 - d / 2.0, c.1 - d / 2.0));
            add((c.0 + d / 2.0, c.1 + d / 2.0));
        }
        if !x0.is_finite() {
            (x0, x1, y0, y1) = (0.0, 1.0, 0.0, 1.0);
        }
        let (left, right, top, bottom) = (150.0, 110.0, 40.0, 20.0);
        let w = (size.0 as f64 - left - right).max(10.0);
        let h = (size.1 as f64 - top - bottom).max(10.0);
        let scale = (w / (x1 - x0).max(1e-9)).min(h / (y1 - y0).max(1e-9));
        // Centre the cell in the free area.
        let left = left + (w - scale * (x1 - x0)) / 2.0;
        let top = top + (h - scale * (y1 - y0)) / 2.0;
        Layout {
            size,
            scale,
            x0,
            y1,
            left,
            top,
        }
    }

    /// Pixel position of a projected point (vertical axis upwards).
    pub fn px(&self, (x, y): (f64, f64)) -> (f64, f64) {
        (
            self.left + (x - self.x0) * self.scale,
            self.top + (self.y1 - y) * self.scale,
        )
    }

    /// Stroke width in pixels for a diameter (at least 1, at most 8).
    pub fn width(&self, diam_um: f64) -> f64 {
        (diam_um * self.scale).clamp(1.0, 8.0)
    }
}

/// Colour of a value in `range` (jet), grey without values.
pub fn value_colour(v: Option<f64>, range: (f64, f64)) -> (u8, u8, u8) {
    match v {
        Some(v) if v.is_finite() => {
            let span = range.1 - range.0;
            jet(if span > 0.0 {
                (v - range.0) / span
            } else {
                0.5
            })
        }
        _ => (110, 110, 110),
    }
}

fn err<E: std::fmt::Display>(e: E) -> String {
    e.to_string()
}

fn ipt((x, y): (f64, f64)) -> (i32, i32) {
    (x.round() as i32, y.round() as i32)
}

/// Draw a morphology picture on any backend.
pub fn draw_morph<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    fig: &MorphFigure,
) -> Result<(), String> {
    fonts();
    root.fill(&WHITE).map_err(err)?;
    let (w, h) = root.dim_in_pixel();
    let lay = Layout::fit(&fig.geometry, (w, h));
    let colour = |c: usize| {
        let (r, g, b) = value_colour(
            fig.values.as_ref().and_then(|v| v.get(c).copied()),
            fig.range,
        );
        RGBColor(r, g, b)
    };
    root.draw(&Text::new(
        fig.title.clone(),
        (12, 10),
        (FONT, 18).into_font().color(&BLACK),
    ))
    .map_err(err)?;
    for p in &fig.geometry.pieces {
        let style = colour(p.comp).stroke_width(lay.width(p.diam_um).round() as u32);
        root.draw(&PathElement::new(
            vec![ipt(lay.px(p.a)), ipt(lay.px(p.b))],
            style,
        ))
        .map_err(err)?;
    }
    if let Some((c, d, comp)) = fig.geometry.soma {
        let r = (d / 2.0 * lay.scale).max(3.0).round() as i32;
        root.draw(&Circle::new(ipt(lay.px(c)), r, colour(comp).filled()))
            .map_err(err)?;
    }
    for m in &fig.markers {
        let c = palette(m.group);
        root.draw(&Circle::new(ipt(lay.px(m.at)), 4, c.filled()))
            .map_err(err)?;
        root.draw(&Circle::new(ipt(lay.px(m.at)), 4, BLACK.stroke_width(1)))
            .map_err(err)?;
    }
    // Legend of marker groups (left column).
    for (i, name) in fig.groups.iter().enumerate().take(20) {
        let y = 50 + 20 * i as i32;
        root.draw(&Circle::new((18, y), 5, palette(i).filled()))
            .map_err(err)?;
        root.draw(&Text::new(
            name.clone(),
            (30, y - 7),
            (FONT, 13).into_font().color(&BLACK),
        ))
        .map_err(err)?;
    }
    // Colour bar (right).
    if fig.values.is_some() {
        let (bx, by, bh) = (w as i32 - 90, 50, (h as i32 - 110).max(20));
        for k in 0..bh {
            let f = 1.0 - k as f64 / (bh - 1).max(1) as f64;
            let (r, g, b) = jet(f);
            root.draw(&Rectangle::new(
                [(bx, by + k), (bx + 18, by + k + 1)],
                RGBColor(r, g, b).filled(),
            ))
            .map_err(err)?;
        }
        let font = (FONT, 13).into_font().color(&BLACK);
        root.draw(&Text::new(
            fmt_num(fig.range.1),
            (bx + 22, by - 6),
            font.clone(),
        ))
        .map_err(err)?;
        root.draw(&Text::new(
            fmt_num(fig.range.0),
            (bx + 22, by + bh - 8),
            font.clone(),
        ))
        .map_err(err)?;
        root.draw(&Text::new(
            fig.value_label.clone(),
            (bx - 10, by + bh + 12),
            font,
        ))
        .map_err(err)?;
    }
    root.present().map_err(err)?;
    Ok(())
}

fn fmt_num(x: f64) -> String {
    if x.abs() >= 100.0 || x == x.round() {
        format!("{x:.0}")
    } else {
        format!("{x:.1}")
    }
}

/// One frame of an animation: time and value per compartment, and the markers shown.
#[derive(Clone, Debug, PartialEq)]
pub struct Frame {
    pub t_ms: f64,
    pub values: Vec<f64>,
    pub markers: Vec<Marker>,
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A self-contained HTML page (no external files or scripts) showing the morphology as
/// inline SVG, coloured per frame, with a time slider. The page reads `#frame=K`, `#t=MS`
/// or `#slide=K` (moves the slider and fires its `input` event) from its URL on load (used by tests
/// and for links to a moment), and marks
/// `<body data-status="ready">` once drawn, or `data-status="error: …"` when its script fails.
pub fn animation_html(
    title: &str,
    g: &Geometry,
    frames: &[Frame],
    range: (f64, f64),
    value_label: &str,
    groups: &[String],
) -> String {
    let lay = Layout::fit(g, (900, 700));
    let mut svg = String::new();
    for p in &g.pieces {
        let (a, b) = (lay.px(p.a), lay.px(p.b));
        svg += &format!(
            "<line x1=\"{:.1}\" y1=\"{:.1}\" x2=\"{:.1}\" y2=\"{:.1}\" stroke-width=\"{:.1}\" \
             data-c=\"{}\"/>",
            a.0,
            a.1,
            b.0,
            b.1,
            lay.width(p.diam_um),
            p.comp
        );
    }
    if let Some((c, d, comp)) = g.soma {
        let c = lay.px(c);
        svg += &format!(
            "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"{:.1}\" data-c=\"{comp}\" data-fill=\"1\"/>",
            c.0,
            c.1,
            (d / 2.0 * lay.scale).max(3.0)
        );
    }
    let legend: String = groups
        .iter()
        .enumerate()
        .map(|(i, n)| {
            let c = palette(i);
            format!(
                "<circle cx=\"18\" cy=\"{y}\" r=\"5\" fill=\"rgb({},{},{})\"/><text x=\"30\" \
                 y=\"{ty}\" font-size=\"13\">{}</text>",
                c.0,
                c.1,
                c.2,
                esc(n),
                y = 50 + 20 * i,
                ty = 55 + 20 * i
            )
        })
        .collect();
    // Values rounded to 3 significant decimals keep the page small; the colour changes less
    // than one step of the 256-level map.
    let vals: Vec<String> = frames
        .iter()
        .map(|f| {
            let v: Vec<String> = f
                .values
                .iter()
                .map(|x| {
                    if x.is_finite() {
                        format!("{:.3}", x)
                    } else {
                        "null".into()
                    }
                })
                .collect();
            format!("[{}]", v.join(","))
        })
        .collect();
    let times: Vec<String> = frames.iter().map(|f| format!("{}", f.t_ms)).collect();
    let marks: Vec<String> = frames
        .iter()
        .map(|f| {
            let m: Vec<String> = f
                .markers
                .iter()
                .map(|m| {
                    let p = lay.px(m.at);
                    format!("[{:.1},{:.1},{}]", p.0, p.1, m.group)
                })
                .collect();
            format!("[{}]", m.join(","))
        })
        .collect();
    let pal: Vec<String> = (0..groups.len().max(1))
        .map(|i| {
            let c = palette(i);
            format!("\"rgb({},{},{})\"", c.0, c.1, c.2)
        })
        .collect();
    format!(
        r##"<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<style>
body {{ font-family: sans-serif; margin: 12px; background: #fff; }}
#controls {{ display: flex; align-items: center; gap: 12px; }}
#slider {{ width: 600px; }}
#cell line {{ stroke-linecap: round; }}
#errors {{ color: #b00; }}
</style></head>
<body data-status="loading">
<h3 style="margin:4px 0">{title}</h3>
<div id="controls"><input id="slider" type="range" min="0" max="{last}" value="0" step="1"><span id="tlabel"></span></div>
<svg id="cell" xmlns="http://www.w3.org/2000/svg" width="900" height="700" viewBox="0 0 900 700">
<g id="legend">{legend}</g>
<g id="bar"></g>
<g id="shape">{svg}</g>
<g id="marks"></g>
</svg>
<div id="errors"></div>
<script>
"use strict";
window.onerror = function (msg) {{
  document.body.dataset.status = "error: " + msg;
  document.getElementById("errors").textContent = String(msg);
}};
const T = [{times}];
const V = [{vals}];
const M = [{marks}];
const LO = {lo}, HI = {hi};
const PAL = [{pal}];
function jet(x) {{
  if (!isFinite(x)) x = 0;
  x = Math.min(1, Math.max(0, x));
  const c = v => Math.round(255 * Math.min(1, Math.max(0, v)));
  return "rgb(" + c(1.5 - Math.abs(4 * x - 3)) + "," + c(1.5 - Math.abs(4 * x - 2)) + "," + c(1.5 - Math.abs(4 * x - 1)) + ")";
}}
function colour(v) {{
  if (v === null) return "rgb(110,110,110)";
  return jet(HI > LO ? (v - LO) / (HI - LO) : 0.5);
}}
const parts = Array.from(document.querySelectorAll("#shape [data-c]"));
const NS = "http://www.w3.org/2000/svg";
function bar() {{
  const g = document.getElementById("bar");
  const n = 100, x = 810, y = 50, h = 560;
  for (let k = 0; k < n; k++) {{
    const r = document.createElementNS(NS, "rect");
    r.setAttribute("x", x); r.setAttribute("y", y + h * k / n);
    r.setAttribute("width", 18); r.setAttribute("height", h / n + 0.5);
    r.setAttribute("fill", jet(1 - k / (n - 1)));
    g.appendChild(r);
  }}
  const label = (ty, s) => {{
    const t = document.createElementNS(NS, "text");
    t.setAttribute("x", x + 22); t.setAttribute("y", ty); t.setAttribute("font-size", 13);
    t.textContent = s; g.appendChild(t);
  }};
  label(y + 5, HI.toFixed(1)); label(y + h, LO.toFixed(1)); label(y + h + 20, "{value_label}");
}}
function show(k) {{
  k = Math.max(0, Math.min(T.length - 1, k | 0));
  const v = V[k];
  for (const el of parts) {{
    const c = colour(v[+el.dataset.c]);
    if (el.dataset.fill) el.setAttribute("fill", c); else el.setAttribute("stroke", c);
  }}
  const g = document.getElementById("marks");
  g.replaceChildren();
  for (const [x, y, grp] of M[k]) {{
    const c = document.createElementNS(NS, "circle");
    c.setAttribute("cx", x); c.setAttribute("cy", y); c.setAttribute("r", 4);
    c.setAttribute("fill", PAL[grp % PAL.length]); c.setAttribute("stroke", "black");
    g.appendChild(c);
  }}
  document.getElementById("slider").value = k;
  document.getElementById("tlabel").textContent = "t = " + T[k] + " ms (frame " + (k + 1) + " of " + T.length + ")";
  document.body.dataset.frame = k;
}}
function fromHash() {{
  const h = new URLSearchParams(location.hash.slice(1));
  if (h.has("slide")) {{
    // Move the slider as a user would: set its value and fire its input event.
    const s = document.getElementById("slider");
    s.value = +h.get("slide");
    s.dispatchEvent(new Event("input"));
    return null; // drawn by the slider's own handler, or not at all
  }}
  if (h.has("frame")) return +h.get("frame");
  if (h.has("t")) {{
    const t = +h.get("t");
    let best = 0;
    T.forEach((x, i) => {{ if (Math.abs(x - t) < Math.abs(T[best] - t)) best = i; }});
    return best;
  }}
  return 0;
}}
document.getElementById("slider").addEventListener("input", e => show(+e.target.value));
function applyHash() {{
  const k = fromHash();
  if (k !== null) show(k);
}}
window.addEventListener("hashchange", applyHash);
bar();
show(0);
applyHash();
document.body.dataset.status = "ready";
</script>
</body></html>
"##,
        title = esc(title),
        last = frames.len().saturating_sub(1),
        times = times.join(","),
        vals = vals.join(",\n"),
        marks = marks.join(","),
        lo = range.0,
        hi = range.1,
        pal = pal.join(","),
        value_label = esc(value_label),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::morph::Section;

    fn sec(label: Label, parent: Option<usize>, pts: &[(f64, f64, f64)]) -> Section {
        Section {
            name: "s".into(),
            label,
            parent,
            parent_x: 1.0,
            points: pts
                .iter()
                .map(|&(x, y, z)| Point3 { x, y, z, d: 2.0 })
                .collect(),
            preset_nseg: None,
            line: 0,
        }
    }

    fn two_section_cell() -> Morphology {
        Morphology {
            file: "t.swc".into(),
            sections: vec![
                sec(Label::Soma, None, &[(0.0, 0.0, -5.0), (0.0, 0.0, 5.0)]),
                sec(
                    Label::ApicalDendrite,
                    Some(0),
                    &[(0.0, 0.0, 5.0), (0.0, 0.0, 55.0), (0.0, 0.0, 105.0)],
                ),
                sec(Label::AIS, Some(0), &[(0.0, 0.0, -5.0), (0.0, 0.0, -30.0)]),
            ],
        }
    }

    #[test]
    fn projection_maps_pieces_to_compartments() {
        let g = project(&two_section_cell(), &[1, 4, 3], View::Xz);
        assert_eq!(g.n_compartments, 8);
        // Soma disc at the mean of its points, compartment 0; the AIS is hidden.
        assert_eq!(g.soma, Some(((0.0, 0.0), 2.0, 0)));
        // Apical: the joining piece from the soma centre (compartment 1) and two pieces of
        // 50 µm whose midpoints (25, 75 of 100) lie in segments 1 and 3 → compartments 2, 4.
        let comps: Vec<usize> = g.pieces.iter().map(|p| p.comp).collect();
        assert_eq!(comps, [1, 2, 4]);
        assert_eq!(g.pieces[2].b, (0.0, 105.0));
    }

    #[test]
    fn html_is_self_contained_and_carries_every_frame() {
        let g = project(&two_section_cell(), &[1, 4, 3], View::Xz);
        let frames: Vec<Frame> = (0..3)
            .map(|k| Frame {
                t_ms: k as f64,
                values: vec![-70.0 + 10.0 * k as f64; 8],
                markers: vec![],
            })
            .collect();
        let h = animation_html(
            "a<b",
            &g,
            &frames,
            (-80.0, 40.0),
            "v (mV)",
            &["L5tt".into()],
        );
        assert!(h.contains("a&lt;b"));
        assert!(h.contains("max=\"2\""));
        assert!(!h.contains("src=\"http"), "no external resources");
        assert_eq!(h.matches("data-c=").count(), 4);
        assert!(h.contains("[-50.000,-50.000"));
    }
}
