//! Synapse placement (spec 04 §4.3 step 1 and §4.5; key fact 7).
//!
//! A `.syn` position `(section, x)` is snapped to the section's 3-D point whose normalised
//! arc length (`relPts`) is closest to `x` (first minimum on ties); the receptor sits at that
//! point's `relPts` value clamped to `[centre of first compartment, centre of last]`, in the
//! compartment containing it. The soma distance written to outputs is spec 01 §1.6
//! definition 3 at the *stored* (`.syn`) `x`: `x·L(sec)` plus the lengths of all ancestors
//! below the soma; 0 on the soma.

use crate::morph::Morphology;

/// Where one synapse sits.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Placement {
    /// Section index.
    pub section: u32,
    /// Index of the nearest 3-D point (`ptID`).
    pub point: u32,
    /// Receptor position: `relPts[point]` clamped to the first/last compartment centre.
    pub x: f64,
    /// Compartment (segment) index within the section that contains `x`.
    pub segment: u32,
    /// Soma distance (definition 3) at the stored `x`, µm.
    pub soma_distance_um: f64,
}

/// Precomputed per-section data for fast placement of many synapses.
#[derive(Clone, Debug)]
pub struct Placer {
    rel_pts: Vec<Vec<f64>>,
    nseg: Vec<usize>,
    length_um: Vec<f64>,
    /// Summed lengths of the ancestors strictly between the section and the soma.
    ancestors_um: Vec<f64>,
    on_soma: Vec<bool>,
}

impl Placer {
    /// Prepare placement on `morph` with `nseg[i]` compartments in section `i` (e.g. from
    /// [`crate::morph::cell::CellGeometry`]). Sections beyond `nseg` get one compartment.
    pub fn new(morph: &Morphology, nseg: &[usize]) -> Placer {
        let n = morph.sections.len();
        let mut rel_pts = Vec::with_capacity(n);
        let mut length_um = Vec::with_capacity(n);
        for s in &morph.sections {
            rel_pts.push(isf_rel_pts(&s.points));
            length_um.push(isf_length_um(&s.points));
        }
        let mut ancestors_um = vec![0.0; n];
        let mut on_soma = vec![false; n];
        for i in morph.topological_order() {
            let s = &morph.sections[i];
            match s.parent {
                None => on_soma[i] = true,
                Some(p) => {
                    // Definition 3: ancestors contribute their full length (parent x = 1 for
                    // every non-soma attachment); the soma contributes nothing.
                    ancestors_um[i] = if morph.sections[p].parent.is_none() {
                        0.0
                    } else {
                        ancestors_um[p] + length_um[p]
                    };
                }
            }
        }
        Placer {
            rel_pts,
            nseg: (0..n)
                .map(|i| nseg.get(i).copied().unwrap_or(1).max(1))
                .collect(),
            length_um,
            ancestors_um,
            on_soma,
        }
    }

    /// Number of sections.
    pub fn n_sections(&self) -> usize {
        self.rel_pts.len()
    }

    /// Section label-free check: whether `section` exists and has points.
    pub fn has_section(&self, section: u32) -> bool {
        self.rel_pts
            .get(section as usize)
            .is_some_and(|r| !r.is_empty())
    }

    /// A section's length (ISF's double-precision sum of its point distances), µm.
    pub fn section_length_um(&self, section: u32) -> f64 {
        self.length_um.get(section as usize).copied().unwrap_or(0.0)
    }

    /// Soma distance (definition 3) at a section's 0-end: the summed lengths of its
    /// ancestors below the soma, µm; the soma (and its sections) is at distance 0 everywhere.
    pub fn start_distance_um(&self, section: u32) -> f64 {
        self.ancestors_um
            .get(section as usize)
            .copied()
            .unwrap_or(0.0)
    }

    /// Whether a section is a root (soma) section, where every position has distance 0.
    pub fn is_root(&self, section: u32) -> bool {
        self.on_soma.get(section as usize).copied().unwrap_or(false)
    }

    /// `relPts` (normalised arc length of each 3-D point) of a section.
    pub fn rel_pts(&self, section: u32) -> &[f64] {
        &self.rel_pts[section as usize]
    }

    /// Place a synapse read as `(section, x)`; `None` if the section does not exist.
    pub fn place(&self, section: u32, x: f64) -> Option<Placement> {
        let rel = self.rel_pts.get(section as usize)?;
        if rel.is_empty() {
            return None;
        }
        let point = nearest_point(rel, x);
        Some(self.at_point(section, point as u32, x))
    }

    /// Place at a known 3-D point (replay of activation files: stored `x = relPts[point]`,
    /// soma distance at that `x`). `None` if the section or point does not exist.
    pub fn place_at_point(&self, section: u32, point: u32) -> Option<Placement> {
        let x = *self.rel_pts.get(section as usize)?.get(point as usize)?;
        Some(self.at_point(section, point, x))
    }

    fn at_point(&self, section: u32, point: u32, stored_x: f64) -> Placement {
        let s = section as usize;
        let nseg = self.nseg[s];
        let first = 0.5 / nseg as f64;
        let last = (nseg as f64 - 0.5) / nseg as f64;
        let x = self.rel_pts[s][point as usize].clamp(first, last);
        Placement {
            section,
            point,
            x,
            segment: segment_of(x, nseg) as u32,
            soma_distance_um: if self.on_soma[s] {
                0.0
            } else {
                stored_x * self.length_um[s] + self.ancestors_um[s]
            },
        }
    }
}

/// ISF's `relPts` (`PySection._compute_relative_pts`): cumulative point distances in double
/// precision divided by the section length (the same sum), then every value but the last
/// multiplied by `1/relPts[last]` and the last set to 1. Reproduces ISF/NEURON's effective
/// positions of the S3 conformance table to 1e-9. With two coincident end points the
/// renormalised value can fall one ulp short of 1, which decides the nearest-point tie;
/// a 2015 ISF run resolved one such tie differently (see the replay test), so replay takes
/// the recorded point.
pub fn isf_rel_pts(points: &[crate::morph::Point3]) -> Vec<f64> {
    let mut rel = Vec::with_capacity(points.len());
    if points.is_empty() {
        return rel;
    }
    rel.push(0.0);
    let mut cum = Vec::with_capacity(points.len());
    let mut acc = 0.0f64;
    for w in points.windows(2) {
        let (dx, dy, dz) = (w[0].x - w[1].x, w[0].y - w[1].y, w[0].z - w[1].z);
        acc += (dx * dx + dy * dy + dz * dz).sqrt();
        cum.push(acc);
    }
    // ISF's `_compute_length` sums the same distances in the same order.
    let l = acc;
    for a in cum {
        // ISF (older versions) uses x = 1 for a zero-length section.
        rel.push(if l == 0.0 { 1.0 } else { a / l });
    }
    if rel.len() > 1 {
        let last = rel.len() - 1;
        let norm = 1.0 / rel[last];
        for v in &mut rel[..last] {
            *v *= norm;
        }
        rel[last] = 1.0;
    }
    rel
}

/// ISF's Python section length (`PySection._compute_length`): point distances summed in
/// double precision. Definition-3 soma distances use it (NEURON's float32 lengths differ by
/// up to ~1e-4 µm on this cell).
pub fn isf_length_um(points: &[crate::morph::Point3]) -> f64 {
    points
        .windows(2)
        .map(|w| {
            let (dx, dy, dz) = (w[0].x - w[1].x, w[0].y - w[1].y, w[0].z - w[1].z);
            (dx * dx + dy * dy + dz * dz).sqrt()
        })
        .sum()
}

/// Index of the first point whose value is closest to `x` (`rel` ascending).
pub fn nearest_point(rel: &[f64], x: f64) -> usize {
    let k = rel.partition_point(|&r| r < x);
    if k == 0 {
        return 0;
    }
    if k == rel.len() {
        // All below x: the last value is closest; walk back over equal values (first minimum).
        let mut j = rel.len() - 1;
        while j > 0 && rel[j - 1] == rel[j] {
            j -= 1;
        }
        return j;
    }
    let below = x - rel[k - 1];
    let above = rel[k] - x;
    if below <= above {
        let mut j = k - 1;
        while j > 0 && rel[j - 1] == rel[j] {
            j -= 1;
        }
        j
    } else {
        k
    }
}

/// The compartment of a section with `nseg` compartments that contains `x` (NEURON: the
/// segment `⌊x·nseg⌋`, the last one for x = 1).
pub fn segment_of(x: f64, nseg: usize) -> usize {
    ((x * nseg as f64) as usize).min(nseg - 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_first_minimum() {
        let r = [0.0, 0.25, 0.5, 0.5, 1.0];
        assert_eq!(nearest_point(&r, 0.0), 0);
        assert_eq!(nearest_point(&r, 0.1), 0);
        assert_eq!(nearest_point(&r, 0.125), 0); // tie → first
        assert_eq!(nearest_point(&r, 0.2), 1);
        assert_eq!(nearest_point(&r, 0.5), 2);
        assert_eq!(nearest_point(&r, 0.6), 2);
        assert_eq!(nearest_point(&r, 0.8), 4);
        assert_eq!(nearest_point(&r, 1.0), 4);
        assert_eq!(nearest_point(&[0.0, 1.0, 1.0], 1.0), 1);
        assert_eq!(segment_of(0.5, 3), 1);
        assert_eq!(segment_of(1.0, 3), 2);
        assert_eq!(segment_of(0.0, 3), 0);
    }
}
