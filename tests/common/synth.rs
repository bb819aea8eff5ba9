//! Synthetic geometries for tests and benchmarks: uniform cylinders and branched trees built
//! directly as [`CellGeometry`], with NEURON's segment formulas for a constant diameter. A test
//! fixture: integration tests and benches include it, and the library's unit tests through
//! `#[path]` (the crate names itself `isf` in test builds).

use isf::morph::cell::{CellGeometry, SectionGeometry};
use std::f64::consts::PI;

/// NEURON's axial resistance of a cylinder piece, MΩ: `1e-2·Ra·len/(π·d²/4)` with `Ra` in
/// Ω·cm and `len`, `d` in µm (`rleft` in NEURON's `nrn_area_ri`).
pub fn cylinder_ri_mohm(ra_ohm_cm: f64, len_um: f64, diam_um: f64) -> f64 {
    1.0e-2 * ra_ohm_cm * len_um / (PI * diam_um * diam_um / 4.0)
}

/// A section of constant diameter split into `nseg` equal segments.
#[allow(clippy::too_many_arguments)] // mirrors the section fields one to one
pub fn cylinder_section(
    name: &str,
    parent: Option<usize>,
    parent_x: f64,
    length_um: f64,
    diam_um: f64,
    nseg: usize,
    ra_ohm_cm: f64,
    cm_uf_cm2: f64,
) -> SectionGeometry {
    let dx = length_um / nseg as f64;
    let half = cylinder_ri_mohm(ra_ohm_cm, dx / 2.0, diam_um);
    SectionGeometry {
        name: name.into(),
        label: "Dendrite".into(),
        parent,
        parent_x,
        length_um,
        ra_ohm_cm,
        cm_uf_cm2,
        n_pt3d: 2,
        nseg,
        seg_x: (0..nseg).map(|i| (i as f64 + 0.5) / nseg as f64).collect(),
        seg_diam_um: vec![diam_um; nseg],
        seg_area_um2: vec![PI * diam_um * dx; nseg],
        // First segment: 0-end to centre (half); others: centre to centre (two halves).
        seg_ri_mohm: (0..nseg)
            .map(|i| if i == 0 { half } else { half + half })
            .collect(),
        end_ri_mohm: half,
        seg_dist_um: (0..nseg).map(|i| (i as f64 + 0.5) * dx).collect(),
    }
}

/// A one-section cell: a sealed cylinder.
pub fn cylinder_cell(
    length_um: f64,
    diam_um: f64,
    nseg: usize,
    ra_ohm_cm: f64,
    cm_uf_cm2: f64,
) -> CellGeometry {
    CellGeometry {
        sections: vec![cylinder_section(
            "cable", None, 0.0, length_um, diam_um, nseg, ra_ohm_cm, cm_uf_cm2,
        )],
    }
}

/// A deterministic branched cell of roughly `target_segments` segments: a soma (nseg 1) with
/// several dendritic trees whose sections branch at their 1-ends (and sometimes mid-section),
/// section lengths and diameters varying pseudo-randomly (xorshift, fixed seed), odd nseg per
/// section as the d-lambda rule gives. Shaped like a reconstructed cell for benchmarking.
pub fn branched_cell(target_segments: usize, seed: u64) -> CellGeometry {
    let mut state = seed.max(1);
    let mut rnd = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state >> 11) as f64 / (1u64 << 53) as f64
    };
    let mut sections = vec![cylinder_section(
        "soma", None, 0.0, 22.0, 12.0, 1, 100.0, 1.0,
    )];
    let mut total = 1;
    let mut frontier: Vec<usize> = Vec::new();
    let n_stems = 8;
    while total < target_segments {
        let parent = if frontier.is_empty() || sections.len() <= n_stems {
            0
        } else {
            frontier[(rnd() * frontier.len() as f64) as usize]
        };
        let parent_x = if parent == 0 {
            0.5
        } else if rnd() < 0.15 {
            0.3 + 0.4 * rnd()
        } else {
            1.0
        };
        let length_um = 20.0 + 200.0 * rnd();
        let diam_um = 0.5 + 2.5 * rnd();
        let nseg = (1 + 2 * (length_um / 25.0) as usize).min(target_segments - total);
        let nseg = nseg.max(1);
        let idx = sections.len();
        sections.push(cylinder_section(
            &format!("dend_{idx}"),
            Some(parent),
            parent_x,
            length_um,
            diam_um,
            nseg,
            100.0,
            2.0,
        ));
        total += nseg;
        frontier.push(idx);
        // Keep the tree branching rather than growing one long chain.
        if frontier.len() > 24 {
            frontier.remove((rnd() * frontier.len() as f64) as usize);
        }
    }
    CellGeometry { sections }
}
