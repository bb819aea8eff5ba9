//! NEURON-compatible compartment geometry from 3-D points (spec 01 §1.5).
//!
//! For a section with `nseg` equal compartments NEURON integrates the piecewise-linear
//! diameter along the arc, half compartment by half compartment (`diam_from_list` in its
//! `treeset.cpp`): the membrane area is the lateral area of the frusta, the axial resistance
//! the integral of `4·Ra/(π·d²)`, and the diameter the length-weighted mean. Interval ends
//! that fall between 3-D points are interpolated linearly. This module re-does that
//! integration with the same order of operations and with the points rounded to `f32` as
//! NEURON stores them, so that results agree with NEURON to a few ulps.

use super::cell::{CellGeometry, SectionGeometry};
use super::{Morphology, PassiveSource, Section, arcs};
use std::f64::consts::PI;

/// Per-compartment geometry of one section (areas µm², diameters µm, resistances MΩ).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SectionSegments {
    /// Mean diameter of each compartment.
    pub diam_um: Vec<f64>,
    /// Membrane area of each compartment.
    pub area_um2: Vec<f64>,
    /// NEURON `ri`: previous node (0-end or previous centre) → this centre.
    pub ri_mohm: Vec<f64>,
    /// Last centre → 1-end.
    pub end_ri_mohm: f64,
}

/// Integrate one section with `nseg` compartments and axial resistivity `ra` (Ω·cm).
pub fn section_segments(sec: &Section, nseg: usize, ra: f64) -> SectionSegments {
    let nseg = nseg.max(1);
    let npt = sec.points.len();
    let mut out = SectionSegments {
        diam_um: Vec::with_capacity(nseg),
        area_um2: Vec::with_capacity(nseg),
        ri_mohm: Vec::with_capacity(nseg),
        end_ri_mohm: 0.0,
    };
    if npt < 2 {
        // Validated morphologies never get here; keep the output well-formed anyway.
        out.diam_um = vec![f64::NAN; nseg];
        out.area_um2 = vec![f64::NAN; nseg];
        out.ri_mohm = vec![f64::NAN; nseg];
        out.end_ri_mohm = f64::NAN;
        return out;
    }
    let arc = arcs(&sec.points);
    // NEURON stores diameters as f32 and reads them back with fabs().
    let d: Vec<f64> = sec
        .points
        .iter()
        .map(|p| f64::from(p.d as f32).abs())
        .collect();
    let ds = arc[npt - 1] / nseg as f64;
    let to_mohm = |sum: f64| sum * ra / PI * (4.0 * 0.01);
    let mut j = 0usize;
    let mut x1 = arc[0];
    let mut y1 = d[0];
    let mut r_parent = 0.0;
    for inode in 0..nseg {
        let mut si = inode as f64 * ds;
        let mut diam = 0.0;
        let mut area = 0.0;
        let mut r_left = 0.0;
        let mut r_right = 0.0;
        for half in 0..2 {
            let mut ri = 0.0;
            let sip = si + ds / 2.0;
            loop {
                let jp = j + 1;
                let (xj, xjp) = (arc[j], arc[jp]);
                // The interval ends inside [xj, xjp] (or beyond the last point, where the
                // last frustum is extrapolated): interpolate the diameter there.
                let (x2, y2, jnext) = if xjp > sip || jp == npt - 1 {
                    let frac = if (xjp - xj).abs() < 1e-10 {
                        1.0
                    } else {
                        (sip - xj) / (xjp - xj)
                    };
                    (sip, (1.0 - frac) * d[j] + frac * d[jp], j)
                } else {
                    (xjp, d[jp], jp)
                };
                let mut delta = x2 - x1;
                diam += (y2 + y1) * delta;
                if delta < 1e-15 {
                    delta = 1e-15;
                }
                let mut g = y2 * y1 / delta;
                if g == 0.0 {
                    g = 1e-15;
                }
                ri += 1.0 / g;
                let taper = 0.5 * (y2 - y1);
                area += (y2 + y1) * (delta * delta + taper * taper).sqrt();
                x1 = x2;
                y1 = y2;
                if j == jnext {
                    break;
                }
                j = jnext;
            }
            if half == 0 {
                r_left = to_mohm(ri);
            } else {
                r_right = to_mohm(ri);
            }
            si = sip;
        }
        out.ri_mohm.push(r_parent + r_left);
        r_parent = r_right;
        out.diam_um.push(diam * 0.5 / ds);
        out.area_um2.push(area * 0.5 * PI);
    }
    out.end_ri_mohm = r_parent;
    out
}

/// Path distance (µm) from soma(0.5) — the centre of the root section — to the 0-end of
/// every section (the conformance-table convention, `dist_to_soma_um`). For the root itself
/// the value is the distance to its 0-end, `0.5·L`.
pub fn distances_to_0_end(morph: &Morphology) -> Vec<f64> {
    let lengths: Vec<f64> = morph.sections.iter().map(Section::length_um).collect();
    let mut dist = vec![0.0; morph.sections.len()];
    for i in morph.topological_order() {
        dist[i] = match morph.sections[i].parent {
            None => 0.5 * lengths[i],
            Some(p) => {
                let px = morph.sections[i].parent_x;
                if morph.sections[p].parent.is_none() {
                    (px - 0.5).abs() * lengths[p]
                } else {
                    dist[p] + px * lengths[p]
                }
            }
        };
    }
    dist
}

/// Build the solver hand-over: geometry of every section with `nseg[i]` compartments and
/// Ra/cm from `passive`. Distances follow [`distances_to_0_end`] (`|x − 0.5|·L` on the
/// root).
pub fn geometry(morph: &Morphology, nseg: &[usize], passive: &impl PassiveSource) -> CellGeometry {
    let dist0 = distances_to_0_end(morph);
    let sections = morph
        .sections
        .iter()
        .enumerate()
        .map(|(i, sec)| {
            let n = nseg.get(i).copied().unwrap_or(1).max(1);
            let p = passive.passive(i, sec);
            let segs = section_segments(sec, n, p.ra_ohm_cm);
            let l = sec.length_um();
            let seg_x: Vec<f64> = (0..n).map(|k| (k as f64 + 0.5) / n as f64).collect();
            let seg_dist_um = seg_x
                .iter()
                .map(|&x| {
                    if sec.parent.is_none() {
                        (x - 0.5).abs() * l
                    } else {
                        dist0[i] + x * l
                    }
                })
                .collect();
            SectionGeometry {
                name: sec.name.clone(),
                label: sec.label.as_str().to_string(),
                parent: sec.parent,
                parent_x: sec.parent_x,
                length_um: l,
                ra_ohm_cm: p.ra_ohm_cm,
                cm_uf_cm2: p.cm_uf_cm2,
                n_pt3d: sec.points.len(),
                nseg: n,
                seg_x,
                seg_diam_um: segs.diam_um,
                seg_area_um2: segs.area_um2,
                seg_ri_mohm: segs.ri_mohm,
                end_ri_mohm: segs.end_ri_mohm,
                seg_dist_um,
            }
        })
        .collect();
    CellGeometry { sections }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::morph::{Label, Point3};

    /// spec 01 §1.5: d 2→4 µm over 10 µm, then 4 µm over 10 µm, nseg 2 (the quoted `ri`
    /// values are for Ra = 100 Ω·cm).
    #[test]
    fn spec_three_point_section() {
        let p = |z: f64, d: f64| Point3 {
            x: 0.0,
            y: 0.0,
            z,
            d,
        };
        let sec = Section {
            name: "dend".into(),
            label: Label::Dendrite,
            parent: None,
            parent_x: 0.0,
            points: vec![p(0.0, 2.0), p(10.0, 4.0), p(20.0, 4.0)],
            preset_nseg: None,
            line: 0,
        };
        let s = section_segments(&sec, 2, 100.0);
        assert!((s.area_um2[0] - 94.7178).abs() < 1e-4, "{:?}", s.area_um2);
        assert!((s.area_um2[1] - 125.6637).abs() < 1e-4);
        assert!((s.ri_mohm[0] - 1.061033).abs() < 1e-6, "{:?}", s.ri_mohm);
        assert!((s.ri_mohm[1] - 0.928404).abs() < 1e-6);
    }
}
