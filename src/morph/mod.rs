//! Morphologies: readers for `.hoc` and SWC, discretization and NEURON-compatible geometry.
//!
//! Pipeline: [`hoc::read_hoc_file`] / [`swc::read_swc_file`] → [`Morphology`] (sections with
//! 3-D points as read, in double precision) → optionally [`Morphology::add_hay2013_axon`] →
//! [`discretize::discretize`] (nseg per section) → optional diameter modifications
//! ([`modify`]) → [`geometry::geometry`] → [`cell::CellGeometry`] for the cable solver.
//!
//! Coordinates and diameters are kept as read (`f64`); the geometry code rounds them to `f32`
//! exactly where NEURON does, so that areas and axial resistances agree with NEURON to ~1e-12.

pub mod cell;
pub mod discretize;
pub mod geometry;
pub mod hoc;
pub mod modify;
pub mod swc;

use serde::{Deserialize, Serialize};
use std::fmt;

pub use discretize::{Discretization, discretize};
pub use geometry::geometry;

/// Errors of the morphology readers: a located [`crate::files::FileError`] with an E07xx
/// code.
pub type MorphError = crate::files::FileError;

/// Region names of the language (`soma { … }`, `sites: on(dendrite)`), with the ISF label each
/// one maps to (`*` for `all`, every section). The morphology owns this table because the
/// regions are its labels; the checker, the lowering, the converters, the network placement
/// and the REPL completion all read it from here.
pub const REGIONS: &[(&str, &str)] = &[
    ("soma", "Soma"),
    ("dendrite", "Dendrite"),
    ("apical_dendrite", "ApicalDendrite"),
    ("ais", "AIS"),
    ("myelin", "Myelin"),
    ("node", "Node"),
    ("axon", "Axon"),
    ("all", "*"),
];

/// Structure label of a section.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Label {
    /// The cell body.
    Soma,
    /// Basal dendrite (ISF's `Dendrite`; `.hoc` names `dend…`/`BasalDendrite…`).
    Dendrite,
    /// Apical dendrite.
    ApicalDendrite,
    /// Reconstructed axon.
    Axon,
    /// Generated axon hillock and initial segment.
    AIS,
    /// Generated myelinated axon.
    Myelin,
    /// Node of Ranvier (ISF's deprecated Mainen axon; never generated here).
    Node,
}

impl Label {
    /// The label as ISF spells it (also the key in cell parameter files).
    pub fn as_str(self) -> &'static str {
        match self {
            Label::Soma => "Soma",
            Label::Dendrite => "Dendrite",
            Label::ApicalDendrite => "ApicalDendrite",
            Label::Axon => "Axon",
            Label::AIS => "AIS",
            Label::Myelin => "Myelin",
            Label::Node => "Node",
        }
    }

    /// Parse ISF's spelling (`"Soma"`, `"Dendrite"`, `"BasalDendrite"`, …).
    pub fn parse(s: &str) -> Option<Label> {
        Some(match s {
            "Soma" => Label::Soma,
            "Dendrite" | "BasalDendrite" => Label::Dendrite,
            "ApicalDendrite" => Label::ApicalDendrite,
            "Axon" => Label::Axon,
            "AIS" => Label::AIS,
            "Myelin" => Label::Myelin,
            "Node" => Label::Node,
            _ => return None,
        })
    }
}

impl fmt::Display for Label {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One 3-D point: position and diameter in µm, as read from the file (double precision).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Point3 {
    /// x coordinate, µm.
    pub x: f64,
    /// y coordinate, µm.
    pub y: f64,
    /// z coordinate, µm.
    pub z: f64,
    /// Diameter, µm.
    pub d: f64,
}

/// One unbranched section as read from a morphology file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Section {
    /// Name as in the file (`soma`, `dend_1_0`, …) or generated (`axon_0`).
    pub name: String,
    /// Structure label.
    pub label: Label,
    /// Parent section index (`None` for the root).
    pub parent: Option<usize>,
    /// Position on the parent where the 0-end attaches (ISF: 0.5 for all soma children).
    pub parent_x: f64,
    /// 3-D points in file order.
    pub points: Vec<Point3>,
    /// nseg fixed by the generator (generated axon); `None` for sections read from files.
    pub preset_nseg: Option<usize>,
    /// 1-based line of the section's definition in the source file (0 if generated).
    pub line: usize,
}

impl Section {
    /// Section length as NEURON computes it: the points are stored as `f32`, differences are
    /// taken in `f32` and the distances summed in `f64` (NEURON's `arc3d`).
    pub fn length_um(&self) -> f64 {
        arcs(&self.points).last().copied().unwrap_or(0.0)
    }

    /// The diameter ISF's nseg rule uses: the middle 3-D point's (index ⌊n/2⌋), as read.
    pub fn middle_diam_um(&self) -> f64 {
        self.points
            .get(self.points.len() / 2)
            .map(|p| p.d)
            .unwrap_or(0.0)
    }
}

/// Cumulative arc length at each point, emulating NEURON (`f32` storage and subtraction,
/// `f64` accumulation).
pub fn arcs(points: &[Point3]) -> Vec<f64> {
    let mut out = Vec::with_capacity(points.len());
    let mut acc = 0.0f64;
    for (i, p) in points.iter().enumerate() {
        if i > 0 {
            let q = &points[i - 1];
            // NEURON: `double t1 = pt[i].x - pt[i-1].x` with float operands, so the
            // subtraction is rounded to f32 before being widened.
            let dx = f64::from(p.x as f32 - q.x as f32);
            let dy = f64::from(p.y as f32 - q.y as f32);
            let dz = f64::from(p.z as f32 - q.z as f32);
            acc += (dx * dx + dy * dy + dz * dz).sqrt();
        }
        out.push(acc);
    }
    out
}

/// Passive cable properties of one section.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Passive {
    /// Axial resistivity, Ω·cm.
    pub ra_ohm_cm: f64,
    /// Specific membrane capacitance, µF/cm².
    pub cm_uf_cm2: f64,
}

impl Default for Passive {
    /// NEURON's defaults (Ra = 35.4 Ω·cm, cm = 1 µF/cm²), which ISF keeps for labels absent
    /// from the cell parameters.
    fn default() -> Passive {
        Passive {
            ra_ohm_cm: 35.4,
            cm_uf_cm2: 1.0,
        }
    }
}

/// Supplies per-section passive properties; implemented for closures
/// `Fn(usize, &Section) -> Passive` and for [`LabelPassive`].
pub trait PassiveSource {
    /// Ra and cm of section `index`.
    fn passive(&self, index: usize, section: &Section) -> Passive;
}

impl<F: Fn(usize, &Section) -> Passive> PassiveSource for F {
    fn passive(&self, index: usize, section: &Section) -> Passive {
        self(index, section)
    }
}

/// Ra and cm per label (ISF: uniform within a label), with a fallback for absent labels.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct LabelPassive {
    /// Values per label; labels not listed use `default`.
    pub by_label: Vec<(Label, Passive)>,
    /// Used for labels not in `by_label` (NEURON defaults unless changed).
    pub default: Passive,
}

impl PassiveSource for LabelPassive {
    fn passive(&self, _index: usize, section: &Section) -> Passive {
        self.by_label
            .iter()
            .find(|(l, _)| *l == section.label)
            .map(|(_, p)| *p)
            .unwrap_or(self.default)
    }
}

/// A cell morphology: sections in index order (file order, then generated sections).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Morphology {
    /// File the morphology was read from (for messages).
    pub file: String,
    /// Sections in index order.
    pub sections: Vec<Section>,
}

impl Morphology {
    /// Index of the root section (the one without parent; validated readers guarantee exactly
    /// one, labelled `Soma`).
    pub fn root(&self) -> Option<usize> {
        self.sections.iter().position(|s| s.parent.is_none())
    }

    /// Index of the first section labelled `Soma`.
    pub fn soma(&self) -> Option<usize> {
        self.sections.iter().position(|s| s.label == Label::Soma)
    }

    /// Children of every section, in index order.
    pub fn children(&self) -> Vec<Vec<usize>> {
        let mut ch = vec![Vec::new(); self.sections.len()];
        for (i, s) in self.sections.iter().enumerate() {
            if let Some(p) = s.parent
                && p < ch.len()
            {
                ch[p].push(i);
            }
        }
        ch
    }

    /// Sections in an order where every parent precedes its children (pre-order from the
    /// root). Sections unreachable from the root are omitted (validated readers have none).
    pub fn topological_order(&self) -> Vec<usize> {
        let ch = self.children();
        let mut out = Vec::with_capacity(self.sections.len());
        let mut stack: Vec<usize> = self.root().into_iter().collect();
        while let Some(i) = stack.pop() {
            out.push(i);
            stack.extend(ch[i].iter().rev());
        }
        out
    }

    /// For every section, the index of the soma child whose subtree contains it (the root
    /// itself maps to itself). ISF's discretization applies the label of this subtree root.
    pub fn subtree_roots(&self) -> Vec<usize> {
        let mut out: Vec<usize> = (0..self.sections.len()).collect();
        for i in self.topological_order() {
            if let Some(p) = self.sections[i].parent
                && self.sections[p].parent.is_some()
            {
                out[i] = out[p];
            }
        }
        out
    }

    /// Multiply every 3-D diameter of section `index` by `factor` (in double precision, as
    /// ISF does before handing the values to NEURON).
    pub fn scale_diameters(&mut self, index: usize, factor: f64) {
        if let Some(s) = self.sections.get_mut(index) {
            for p in &mut s.points {
                p.d *= factor;
            }
        }
    }

    /// Append ISF's generated Hay et al. (2013) axon (spec 01 §1.4): hillock `axon_0`
    /// (AIS, 20 µm, 5 points, 3.0 → 1.75 µm, nseg 5) at soma(0.5), initial segment
    /// `axon_0_0` (AIS, 30 µm, 7 points, 1.75 → 1.0 µm, nseg 7) and myelin `axon_0_0_0`
    /// (Myelin, 1000 µm, 21 points, 1 µm, nseg 21), running along −z from the bottom of the
    /// soma's middle 3-D point. Does nothing if there is no soma.
    pub fn add_hay2013_axon(&mut self) {
        let Some(soma) = self.soma() else { return };
        let pts = &self.sections[soma].points;
        let Some(c) = pts.get(pts.len() / 2).copied() else {
            return;
        };
        // Same arithmetic as ISF (numpy, double precision), so that the f32 rounding inside
        // NEURON sees identical values.
        let r = 0.5 * c.d;
        let begin_z = c.z - r;
        let mk = |z0: f64, n: usize, step: f64, d0: f64, taper: f64| -> (Vec<Point3>, f64) {
            let pts: Vec<Point3> = (0..n)
                .map(|i| Point3 {
                    x: c.x,
                    y: c.y,
                    z: z0 - i as f64 * step,
                    d: d0 + taper * i as f64,
                })
                .collect();
            let last = pts.last().map(|p| p.z).unwrap_or(z0);
            (pts, last)
        };
        let (hill, hz) = mk(begin_z, 5, 20.0 / 4.0, 3.0, (1.75 - 3.0) / 4.0);
        let (ais, az) = mk(hz, 7, 30.0 / 6.0, 1.75, (1.0 - 1.75) / 6.0);
        let (myelin, _) = mk(az, 21, 1000.0 / 20.0, 1.0, 0.0);
        let base = self.sections.len();
        let specs = [
            ("axon_0", Label::AIS, soma, 0.5, hill, 5),
            ("axon_0_0", Label::AIS, base, 1.0, ais, 7),
            ("axon_0_0_0", Label::Myelin, base + 1, 1.0, myelin, 21),
        ];
        for (name, label, parent, px, points, nseg) in specs {
            self.sections.push(Section {
                name: name.to_string(),
                label,
                parent: Some(parent),
                parent_x: px,
                points,
                preset_nseg: Some(nseg),
                line: 0,
            });
        }
    }

    /// Read a `.hoc` or `.swc` file, chosen by extension (case-insensitive).
    pub fn read(path: &std::path::Path) -> Result<Morphology, MorphError> {
        let ext = path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase);
        let name = path.display().to_string();
        match ext.as_deref() {
            Some("hoc") => crate::files::parse_cached(path, |t| hoc::read_hoc_str(t, &name))
                .unwrap_or_else(|| hoc::read_hoc_file(path)),
            Some("swc") => crate::files::parse_cached(path, |t| swc::read_swc_str(t, &name))
                .unwrap_or_else(|| swc::read_swc_file(path)),
            _ => Err(MorphError::new(
                crate::diagnostics::Code::E0701,
                "unknown morphology file type (expected a .hoc or .swc extension)",
                &path.display().to_string(),
                0,
                0,
            )),
        }
    }
}

/// Check the tree invariants shared by all readers: at least one section, a soma, exactly
/// one root (the soma), no cycles, every section reachable, ≥ 2 points and positive length.
pub(crate) fn validate(m: &Morphology) -> Result<(), MorphError> {
    use crate::diagnostics::Code;
    let f = m.file.as_str();
    if m.sections.is_empty() {
        return Err(MorphError::new(
            Code::E0711,
            "morphology has no sections",
            f,
            0,
            0,
        ));
    }
    let Some(soma) = m.soma() else {
        return Err(MorphError::new(
            Code::E0712,
            "morphology has no soma section",
            f,
            0,
            0,
        ));
    };
    for (i, s) in m.sections.iter().enumerate() {
        if s.parent.is_none() && i != soma {
            return Err(MorphError::new(
                Code::E0706,
                format!(
                    "section `{}` is not connected to the soma (it has no parent)",
                    s.name
                ),
                f,
                s.line,
                0,
            ));
        }
    }
    // Walk up from every section; a walk longer than the section count is a cycle.
    let n = m.sections.len();
    for (i, s) in m.sections.iter().enumerate() {
        let mut cur = i;
        let mut steps = 0;
        while let Some(p) = m.sections[cur].parent {
            cur = p;
            steps += 1;
            if steps > n {
                return Err(MorphError::new(
                    Code::E0705,
                    format!("section `{}` is part of a connection cycle", s.name),
                    f,
                    s.line,
                    0,
                ));
            }
        }
    }
    for s in &m.sections {
        if s.points.len() < 2 {
            return Err(MorphError::new(
                Code::E0714,
                format!(
                    "section `{}` has {} 3-D point(s); at least 2 are needed",
                    s.name,
                    s.points.len()
                ),
                f,
                s.line,
                0,
            ));
        }
        let l = s.length_um();
        if !(l > 0.0 && l.is_finite()) {
            return Err(MorphError::new(
                Code::E0715,
                format!("section `{}` has zero length", s.name),
                f,
                s.line,
                0,
            ));
        }
    }
    Ok(())
}
