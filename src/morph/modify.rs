//! Morphology modifications that ISF applies after discretization (cell-modify functions
//! that change diameters). They change areas and resistances, never L or nseg.

use super::{Label, Morphology};

/// ISF's `scale_apical_morph_86`: walk the `ApicalDendrite` sections in index order, skip
/// those whose 1-end lies more than 1000 µm from soma(0) (distance definition 1: half the
/// soma length plus the path length), multiply all 3-D diameters of the others by 2.5, and
/// stop after 33 scaled sections. Returns the indices of the scaled sections.
pub fn scale_apical_morph_86(morph: &mut Morphology) -> Vec<usize> {
    scale_apical(morph, 2.5, 1000.0, 33)
}

/// The general form of [`scale_apical_morph_86`]: scale by `factor` at most `max_sections`
/// apical sections whose far end is at most `max_dist_um` from soma(0).
pub fn scale_apical(
    morph: &mut Morphology,
    factor: f64,
    max_dist_um: f64,
    max_sections: usize,
) -> Vec<usize> {
    let dist0 = super::geometry::distances_to_0_end(morph);
    let soma_half = morph
        .root()
        .map(|r| 0.5 * morph.sections[r].length_um())
        .unwrap_or(0.0);
    let mut scaled = Vec::new();
    for (i, d0) in dist0.iter().enumerate() {
        if scaled.len() >= max_sections {
            break;
        }
        let s = &morph.sections[i];
        if s.label != Label::ApicalDendrite || s.parent.is_none() {
            continue;
        }
        // dist0 is measured from soma(0.5); ISF measures from soma(0).
        let far_end = soma_half + d0 + s.length_um();
        if far_end > max_dist_um {
            continue;
        }
        morph.scale_diameters(i, factor);
        scaled.push(i);
    }
    scaled
}
