//! Discretized cell geometry: the hand-over from morphology to the cable solver.
//!
//! One [`SectionGeometry`] per section, in section-index order (the order of `create`
//! statements in a `.hoc` file, then the generated axon). Segment quantities follow NEURON's
//! definitions so that the solver can rebuild NEURON's exact node layout.

use serde::Serialize;

/// All sections of one discretized cell.
#[derive(Clone, Debug, Default, Serialize)]
pub struct CellGeometry {
    /// Sections in section-index order.
    pub sections: Vec<SectionGeometry>,
}

/// One discretized section.
#[derive(Clone, Debug, Default, Serialize)]
pub struct SectionGeometry {
    /// Name as in the source file (e.g. `dend_1_0`, `axon_0`).
    pub name: String,
    /// Structure label (`Soma`, `Dendrite`, `ApicalDendrite`, `AIS`, `Myelin`, …).
    pub label: String,
    /// Parent section index; `None` for the root (soma).
    pub parent: Option<usize>,
    /// Position on the parent where this section's 0-end attaches (0..=1).
    pub parent_x: f64,
    /// Section length in µm (from 3-D points, as NEURON computes it).
    pub length_um: f64,
    /// Axial resistivity in Ω·cm.
    pub ra_ohm_cm: f64,
    /// Specific membrane capacitance in µF/cm².
    pub cm_uf_cm2: f64,
    /// Number of 3-D points (after any generated axon; cell modifications keep the count).
    pub n_pt3d: usize,
    /// Number of segments.
    pub nseg: usize,
    /// Segment centres as section fractions, `(i + 0.5) / nseg`.
    pub seg_x: Vec<f64>,
    /// Segment diameters in µm (NEURON's `diam(x)`).
    pub seg_diam_um: Vec<f64>,
    /// Segment membrane areas in µm² (NEURON's `area(x)`).
    pub seg_area_um2: Vec<f64>,
    /// NEURON's `ri(x)` in MΩ: resistance from this segment's centre to the previous node
    /// on the parent side (the previous segment's centre, or the section's 0-end for the first
    /// segment).
    pub seg_ri_mohm: Vec<f64>,
    /// Resistance in MΩ from the last segment's centre to the section's 1-end node
    /// (NEURON's `ri(1)`).
    pub end_ri_mohm: f64,
    /// Path distance of each segment centre to the soma in µm (conformance-table convention).
    pub seg_dist_um: Vec<f64>,
}

impl CellGeometry {
    /// Total number of segments (compartments) over all sections.
    pub fn n_segments(&self) -> usize {
        self.sections.iter().map(|s| s.nseg).sum()
    }
}
