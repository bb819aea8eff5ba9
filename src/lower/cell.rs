//! From a checked [`NeuronModel`] to compartments with per-compartment parameter values: the
//! hand-over to the simulation kernel.
//!
//! Build order (ISF's `create_cell`, spec 02 §2.2):
//! 1. read the morphology (`.hoc`/`.swc`), append the generated axon if `axon: isf_axon()`;
//! 2. set Ra and cm per section from the regions (labels without a region keep NEURON's
//!    defaults Ra = 35.4 Ω·cm, cm = 1 µF/cm² and get no mechanisms);
//! 3. discretize with the model's rule, using each section's own Ra and cm;
//! 4. evaluate every mechanism parameter at every compartment centre (position variables
//!    below), fill unset parameters with the mechanism's defaults, set reversal potentials;
//! 5. apply the cell modifications (`modify: [...]`) in order — they change diameters, hence
//!    areas and axial resistances, but never nseg nor the values of step 4;
//! 6. compute the NEURON-compatible geometry ([`CellGeometry`]).
//!
//! Position variables at a compartment centre `x` of section `s` (spec 01 §1.6, 02 §2.5):
//! * `distance` — ISF's label-origin distance (def. 2): path length from the soma attachment
//!   point, excluding any soma length (every soma child attaches at soma(0.5)); on `Soma`
//!   sections it is measured from soma(0), i.e. `x·L`.
//! * `soma_distance` — def. 1: NEURON path distance from soma(0) (`parent_x·L_soma` + path).
//! * `max_distance` — of the section's label: `L_soma` for `Soma`; otherwise the largest
//!   def.-2 distance of the far end of any terminal section in the subtrees rooted at soma
//!   children with that label; undefined (NaN, reported as E0414 when used) for labels that
//!   are never a soma child (e.g. `Myelin`).
//! * `relative_distance` = `distance / max_distance`.
//! * `z_distance` — z of the section's 3-D points interpolated linearly in arc length at `x`,
//!   minus z of the soma's middle 3-D point; `isf_z_distance` (used by
//!   `exponential_by_z_dist`) is `z_distance` on `ApicalDendrite` sections and `distance`
//!   elsewhere.
//! * `diameter` — NEURON's `diam(x)` before cell modifications; `x` — the compartment centre.
//! * `section` — the section index (morphology file order, generated axon last); a rule that
//!   tests `section == k` for a section the cell does not have is E0419.

use crate::diagnostics::Code;
use crate::model::{Density, MechModel, NeuronModel, Value};
use crate::morph::cell::CellGeometry;
use crate::morph::{self, Label, Morphology, Passive};
use crate::sema::builtins::ISF_Z_DISTANCE;
use serde::Serialize;
use std::collections::BTreeMap;

/// A discretized cell with the value of every mechanism parameter in every compartment.
///
/// Compartments are numbered section by section in section-index order:
/// compartment `seg_offset[s] + k` is segment `k` of section `s` (so the soma, section 0 of a
/// `.hoc` file, comes first). All per-compartment vectors have [`LoweredCell::n_compartments`]
/// entries in that order. Units are isf's canonical units (µm, µm², µF/cm², mV, S/cm², ms,
/// mM, …; each [`ParamColumn`] names its own).
#[derive(Clone, Debug, Serialize)]
pub struct LoweredCell {
    /// Geometry after cell modifications: sections, nseg, areas, `ri`, distances.
    pub geometry: CellGeometry,
    /// Index of the first compartment of each section.
    pub seg_offset: Vec<usize>,
    /// Specific membrane capacitance per compartment, µF/cm² (uniform within a section).
    pub cm_uf_cm2: Vec<f64>,
    /// Fixed reversal potentials per compartment, mV, by name (`ena`, `ek`, `eca`); NaN where
    /// no region sets it (the mechanism or ion default applies there). Only names set by some
    /// region are present.
    pub reversal_mv: BTreeMap<String, Vec<f64>>,
    /// Position variables per compartment (what the parameter expressions saw).
    pub positions: Positions,
    /// One table per inserted mechanism, in order of first insertion (region order).
    pub mechanisms: Vec<MechTable>,
    /// Per region of the model (and per label the model leaves at NEURON defaults).
    pub regions: Vec<RegionSummary>,
    /// Sections whose diameters a cell modification changed, in application order.
    pub modified_sections: Vec<usize>,
}

/// Position variables of every compartment (see the module docs), µm unless noted.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Positions {
    /// Label-origin distance (def. 2).
    pub distance_um: Vec<f64>,
    /// Distance from soma(0) (def. 1).
    pub soma_distance_um: Vec<f64>,
    /// Maximum def.-2 distance of the compartment's label (NaN if undefined).
    pub max_distance_um: Vec<f64>,
    /// Height above the soma centre.
    pub z_distance_um: Vec<f64>,
    /// Diameter before cell modifications.
    pub diameter_um: Vec<f64>,
    /// Compartment centre as a section fraction (dimensionless).
    pub x: Vec<f64>,
    /// Index of the compartment's section (a whole number; `f64` like every position).
    pub section: Vec<f64>,
}

/// Where one mechanism is inserted and its parameter values there (structure of arrays).
#[derive(Clone, Debug, Serialize)]
pub struct MechTable {
    /// Mechanism name.
    pub name: String,
    /// Global compartment index of each instance, ascending.
    pub compartments: Vec<usize>,
    /// Section index of each instance.
    pub section: Vec<usize>,
    /// Segment index within the section of each instance.
    pub seg: Vec<usize>,
    /// One column per parameter of the mechanism, in declaration order; each has one value per
    /// instance (aligned with `compartments`).
    pub params: Vec<ParamColumn>,
}

/// Values of one mechanism parameter over the instances of its mechanism.
#[derive(Clone, Debug, Serialize)]
pub struct ParamColumn {
    /// Parameter name (isf spelling, e.g. `gbar`).
    pub name: String,
    /// Canonical unit of the values.
    pub unit: String,
    /// One value per instance.
    pub values: Vec<f64>,
}

/// Counts for `isf plan`: one row per region of the model, plus one per morphology label
/// that no region covers (`defaults: true`).
#[derive(Clone, Debug, Serialize)]
pub struct RegionSummary {
    /// isf region name (`soma`, `apical_dendrite`, …) or the ISF label for uncovered labels.
    pub region: String,
    /// ISF label(s) covered (`*` for `all`).
    pub label: String,
    /// Number of sections.
    pub sections: usize,
    /// Number of compartments (sum of nseg).
    pub compartments: usize,
    /// Total membrane area after cell modifications, µm².
    pub area_um2: f64,
    /// Ra and cm in force (Ω·cm, µF/cm²) when uniform over the region's sections.
    pub ra_ohm_cm: Option<f64>,
    /// See `ra_ohm_cm`.
    pub cm_uf_cm2: Option<f64>,
    /// True for labels absent from the model: NEURON defaults, no mechanisms.
    pub defaults: bool,
}

impl LoweredCell {
    /// Total number of compartments.
    pub fn n_compartments(&self) -> usize {
        self.cm_uf_cm2.len()
    }

    /// The table of mechanism `name`, if inserted anywhere.
    pub fn mechanism(&self, name: &str) -> Option<&MechTable> {
        self.mechanisms.iter().find(|m| m.name == name)
    }

    /// Value of `mechanism.param` in segment `seg` of section `section` (None if the
    /// mechanism is not inserted there).
    pub fn value(&self, mechanism: &str, param: &str, section: usize, seg: usize) -> Option<f64> {
        let m = self.mechanism(mechanism)?;
        let col = m.params.iter().find(|p| p.name == param)?;
        let c = self.seg_offset.get(section)? + seg;
        let i = m.compartments.binary_search(&c).ok()?;
        col.values.get(i).copied()
    }
}

/// An error found while lowering, with what it concerns so that the validate pass can point
/// at the right place of the script.
#[derive(Clone, Debug, PartialEq)]
pub struct LowerError {
    /// Diagnostic code (E0413, E0414, E07xx for morphology files, E0901 internal).
    pub code: Code,
    /// One line, lower case.
    pub message: String,
    /// The region (isf name) concerned, if any.
    pub region: Option<String>,
    /// The mechanism concerned, if any.
    pub mechanism: Option<String>,
    /// The parameter concerned, if any (with `mechanism`).
    pub parameter: Option<String>,
    /// The neuron field concerned (`morphology`, `modify`), if any.
    pub field: Option<String>,
    /// Extra explanation.
    pub note: Option<String>,
}

impl LowerError {
    fn new(code: Code, message: impl Into<String>) -> LowerError {
        LowerError {
            code,
            message: message.into(),
            region: None,
            mechanism: None,
            parameter: None,
            field: None,
            note: None,
        }
    }
}

/// The ISF label a region name stands for (`None` for `all`, which covers every section).
pub fn region_label(region: &str) -> Option<Label> {
    crate::morph::REGIONS
        .iter()
        .find(|r| r.0 == region)
        .and_then(|r| Label::parse(r.1))
}

fn morph_rule(d: &crate::model::Discretization) -> morph::Discretization {
    use crate::model::Discretization as D;
    match d {
        D::IsfDLambda {
            frequency_hz,
            max_length_um,
        } => morph::Discretization::Isf {
            f_hz: *frequency_hz,
            max_seg_length_um: *max_length_um,
        },
        D::DLambda {
            d_lambda,
            frequency_hz,
        } => morph::Discretization::NeuronDLambda {
            d_lambda: *d_lambda,
            f_hz: *frequency_hz,
        },
        D::MaxLength { max_length_um } => morph::Discretization::MaxSegLength {
            max_um: *max_length_um,
        },
        D::Fixed { nseg } => morph::Discretization::Fixed {
            nseg: *nseg as usize,
        },
    }
}

/// Read the neuron's morphology file (without the generated axon).
pub fn read_morphology(neuron: &NeuronModel) -> Result<Morphology, Box<LowerError>> {
    match neuron.source.format.as_str() {
        "hoc" | "swc" => Morphology::read(std::path::Path::new(&neuron.source.path)),
        other => {
            return Err(Box::new(LowerError::new(
                Code::E0901,
                format!("neuron source `{other}` has no morphology to lower"),
            )));
        }
    }
    .map_err(|e| {
        Box::new(LowerError {
            field: Some("morphology".into()),
            ..LowerError::new(e.code, format!("{}: {}", e.location(), e.message))
        })
    })
}

/// Regions in application order: `all` first, then the others in script order, so that a
/// specific region overrides what `all` sets.
fn ordered_regions(neuron: &NeuronModel) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..neuron.regions.len()).collect();
    idx.sort_by_key(|&i| region_label(&neuron.regions[i].region).is_some());
    idx
}

/// Lower a checked neuron to compartments. `mechs` must contain every mechanism the
/// neuron's regions insert (the checked model's `mechanisms`). Returns all errors found.
pub fn build_cell(
    neuron: &NeuronModel,
    mechs: &[MechModel],
) -> Result<LoweredCell, Vec<LowerError>> {
    let morph = read_morphology(neuron).map_err(|e| vec![*e])?;
    build_cell_from(neuron, mechs, morph)
}

/// [`build_cell`] with the morphology already read by [`read_morphology`] (callers that
/// lower many neurons of one file read it once).
pub fn build_cell_from(
    neuron: &NeuronModel,
    mechs: &[MechModel],
    mut morph: Morphology,
) -> Result<LoweredCell, Vec<LowerError>> {
    if neuron.axon.is_some() {
        morph.add_hay2013_axon();
    }
    let n_sec = morph.sections.len();
    let mut errors = Vec::new();
    let order = ordered_regions(neuron);
    // Sections of each region; a label the morphology lacks is an error (ISF raises too).
    let mut region_secs: Vec<Vec<usize>> = vec![Vec::new(); neuron.regions.len()];
    for (ri, r) in neuron.regions.iter().enumerate() {
        let label = region_label(&r.region);
        region_secs[ri] = (0..n_sec)
            .filter(|&s| label.is_none_or(|l| morph.sections[s].label == l))
            .collect();
        if region_secs[ri].is_empty() {
            let l = label.map(|l| l.as_str()).unwrap_or("*");
            let mut present: Vec<&str> = morph.sections.iter().map(|s| s.label.as_str()).collect();
            present.sort();
            present.dedup();
            let mut e = LowerError::new(
                Code::E0413,
                format!(
                    "region `{}` (label {l}) has no sections in {}",
                    r.region,
                    file_name(&morph.file)
                ),
            );
            e.region = Some(r.region.clone());
            e.note = Some(if matches!(label, Some(Label::AIS) | Some(Label::Myelin)) {
                format!(
                    "labels in the morphology: {}; `ais` and `myelin` exist only with `axon: isf_axon()`",
                    present.join(", ")
                )
            } else {
                format!("labels in the morphology: {}", present.join(", "))
            });
            errors.push(e);
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    // Passive properties per section.
    let mut passive = vec![Passive::default(); n_sec];
    for &ri in &order {
        let r = &neuron.regions[ri];
        for &s in &region_secs[ri] {
            if let Some(ra) = r.ra_ohm_cm {
                passive[s].ra_ohm_cm = ra;
            }
            if let Some(cm) = r.cm_uf_cm2 {
                passive[s].cm_uf_cm2 = cm;
            }
        }
    }
    let psrc = |i: usize, _: &morph::Section| passive[i];
    let rule = morph_rule(&neuron.discretization);
    if let Err(m) = rule.validate() {
        return Err(vec![LowerError::new(Code::E0412, m)]);
    }
    let nseg = morph::discretize(&morph, &rule, &psrc);
    // Checked before any per-compartment allocation: one mistyped coordinate (1e9 µm) or
    // `fixed(1e9)` would otherwise abort the process on allocation.
    if let Err(b) = morph::discretize::total_compartments(&nseg) {
        let mut e = LowerError::new(b.code, b.message);
        e.field = Some("discretization".into());
        if let Some((i, sec)) = morph
            .sections
            .iter()
            .enumerate()
            .max_by(|a, b| a.1.length_um().total_cmp(&b.1.length_um()))
        {
            e.note = Some(format!(
                "the longest section, {i}, is {} µm long with {} compartments; check the \
                 morphology's coordinates and the discretization rule",
                crate::rules::show_num(sec.length_um()),
                crate::rules::show_count(nseg[i] as f64)
            ));
        }
        return Err(vec![e]);
    }
    let geo0 = morph::geometry(&morph, &nseg, &psrc);
    let mut seg_offset = Vec::with_capacity(n_sec);
    let mut total = 0;
    for n in &nseg {
        seg_offset.push(total);
        total += n;
    }
    let positions = positions(&morph, &geo0);

    // Per section: mechanism → parameter → (region, density), later regions override.
    type Assign<'a> = BTreeMap<String, (usize, &'a Density)>;
    let mut inserted: Vec<Vec<(String, Assign)>> = vec![Vec::new(); n_sec];
    let mut mech_order: Vec<String> = Vec::new();
    let mut reversal: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    for &ri in &order {
        let r = &neuron.regions[ri];
        for mi in &r.mechanisms {
            if !mech_order.contains(&mi.mechanism) {
                mech_order.push(mi.mechanism.clone());
            }
            for &s in &region_secs[ri] {
                let list = &mut inserted[s];
                let pos = match list.iter().position(|(n, _)| *n == mi.mechanism) {
                    Some(p) => p,
                    None => {
                        list.push((mi.mechanism.clone(), BTreeMap::new()));
                        list.len() - 1
                    }
                };
                for (p, d) in &mi.parameters {
                    list[pos].1.insert(p.clone(), (ri, d));
                }
            }
        }
        for (name, v) in &r.reversal_mv {
            let col = reversal
                .entry(name.clone())
                .or_insert_with(|| vec![f64::NAN; total]);
            for &s in &region_secs[ri] {
                for k in 0..nseg[s] {
                    col[seg_offset[s] + k] = *v;
                }
            }
        }
    }

    // Sections named by index must exist (E0419).
    for r in &neuron.regions {
        for mi in &r.mechanisms {
            for (p, d) in &mi.parameters {
                let mut ks = Vec::new();
                section_tests(&d.expr, &mut ks);
                if let Some(k) = ks.iter().find(|k| !(**k >= 0.0 && (**k as usize) < n_sec)) {
                    let mut e = LowerError::new(
                        Code::E0419,
                        format!(
                            "`{}.{p}` names section {}, but the morphology has sections 0 to {}",
                            mi.mechanism,
                            crate::rules::show_num(*k),
                            n_sec.saturating_sub(1)
                        ),
                    );
                    e.region = Some(r.region.clone());
                    e.mechanism = Some(mi.mechanism.clone());
                    e.parameter = Some(p.clone());
                    e.note = Some(
                        "section indices follow the morphology file (soma 0), generated axon \
                         sections last; a list written for another morphology does not fit"
                            .into(),
                    );
                    errors.push(e);
                }
            }
        }
    }

    let mut tables = Vec::new();
    for name in &mech_order {
        let Some(mm) = mechs.iter().find(|m| &m.name == name) else {
            errors.push(LowerError::new(
                Code::E0901,
                format!("mechanism `{name}` is inserted but not in the model"),
            ));
            continue;
        };
        let mut t = MechTable {
            name: name.clone(),
            compartments: Vec::new(),
            section: Vec::new(),
            seg: Vec::new(),
            params: mm
                .parameters
                .iter()
                .map(|p| ParamColumn {
                    name: p.name.clone(),
                    unit: p.unit.clone(),
                    values: Vec::new(),
                })
                .collect(),
        };
        // One report per (mechanism, parameter) is enough.
        let mut reported = vec![false; mm.parameters.len()];
        for s in 0..n_sec {
            let Some((_, assign)) = inserted[s].iter().find(|(n, _)| n == name) else {
                continue;
            };
            for k in 0..nseg[s] {
                let c = seg_offset[s] + k;
                t.compartments.push(c);
                t.section.push(s);
                t.seg.push(k);
                let var = |v: &str| positions.get(v, c, morph.sections[s].label);
                for (pi, p) in mm.parameters.iter().enumerate() {
                    let (value, region) = match assign.get(&p.name) {
                        Some((ri, d)) => (d.expr.eval(&var), Some(*ri)),
                        None => (p.default.unwrap_or(f64::NAN), None),
                    };
                    t.params[pi].values.push(value);
                    let bad_sign = value < 0.0 && is_density_unit(&p.unit);
                    if (value.is_finite() && !bad_sign) || reported[pi] {
                        continue;
                    }
                    reported[pi] = true;
                    let sec = &morph.sections[s];
                    let what = if !value.is_finite() {
                        "is not finite"
                    } else {
                        "is negative"
                    };
                    let mut e = LowerError::new(
                        Code::E0414,
                        format!(
                            "`{name}.{}` {what} in section {s} (`{}`, {}) at x = {:.4}: {value} {}",
                            p.name, sec.name, sec.label, positions.x[c], p.unit
                        ),
                    );
                    e.mechanism = Some(name.clone());
                    e.parameter = Some(p.name.clone());
                    e.region = region
                        .map(|ri| neuron.regions[ri].region.clone())
                        .or_else(|| Some(region_of_section(neuron, &region_secs, s)));
                    let mut used = Vec::new();
                    if let Some((_, d)) = assign.get(&p.name) {
                        d.expr.vars(&mut used);
                    }
                    e.note = Some(if region.is_none() {
                        format!("`{}` is not set and has no default", p.name)
                    } else if positions.max_distance_um[c].is_nan()
                        && used
                            .iter()
                            .any(|v| v == "relative_distance" || v == "max_distance")
                    {
                        format!(
                            "relative distances are undefined for label {}: no section with this label is a child of the soma",
                            sec.label
                        )
                    } else {
                        format!(
                            "position: distance {:.3} um, soma_distance {:.3} um, relative_distance {:.6}",
                            positions.distance_um[c],
                            positions.soma_distance_um[c],
                            positions.distance_um[c] / positions.max_distance_um[c]
                        )
                    });
                    errors.push(e);
                }
            }
        }
        tables.push(t);
    }
    if !errors.is_empty() {
        return Err(errors);
    }

    // Cell modifications, after biophysics (spec 02 §2.7).
    let mut modified = Vec::new();
    for m in &neuron.modify {
        match m {
            Value::Obj { kind, .. } if kind == "scale_apical_morph_86" => {
                modified.extend(morph::modify::scale_apical_morph_86(&mut morph));
            }
            Value::Obj { kind, args } if kind == "scale_apical" => {
                let f = match args.get("scale") {
                    Some(Value::Num { value, .. }) => *value,
                    _ => f64::NAN,
                };
                for s in 0..n_sec {
                    if morph.sections[s].label == Label::ApicalDendrite {
                        morph.scale_diameters(s, f);
                        modified.push(s);
                    }
                }
            }
            other => {
                let mut e = LowerError::new(
                    Code::E0901,
                    format!("unsupported cell modification {other:?}"),
                );
                e.field = Some("modify".into());
                return Err(vec![e]);
            }
        }
    }
    let geometry = if neuron.modify.is_empty() {
        geo0
    } else {
        morph::geometry(&morph, &nseg, &psrc)
    };
    let mut cm = vec![0.0; total];
    for s in 0..n_sec {
        for k in 0..nseg[s] {
            cm[seg_offset[s] + k] = passive[s].cm_uf_cm2;
        }
    }
    let regions = summarize(neuron, &morph, &region_secs, &geometry, &passive);
    Ok(LoweredCell {
        geometry,
        seg_offset,
        cm_uf_cm2: cm,
        reversal_mv: reversal,
        positions,
        mechanisms: tables,
        regions,
        modified_sections: modified,
    })
}

/// Conductance densities must not be negative; other parameters (reversal potentials, …)
/// may be.
fn is_density_unit(unit: &str) -> bool {
    unit == "S/cm2"
}

fn file_name(path: &str) -> String {
    std::path::Path::new(path)
        .file_name()
        .map(|f| f.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.to_string())
}

/// The most specific region containing section `s` (for locating default-value errors).
fn region_of_section(neuron: &NeuronModel, region_secs: &[Vec<usize>], s: usize) -> String {
    let mut best = String::new();
    for (ri, secs) in region_secs.iter().enumerate() {
        if secs.contains(&s)
            && (best.is_empty() || region_label(&neuron.regions[ri].region).is_some())
        {
            best = neuron.regions[ri].region.clone();
        }
    }
    best
}

impl Positions {
    /// The value of position variable `name` at compartment `c` (of a section labelled
    /// `label`), in the canonical unit the expressions expect; NaN for unknown names.
    fn get(&self, name: &str, c: usize, label: Label) -> f64 {
        match name {
            "distance" => self.distance_um[c],
            "soma_distance" => self.soma_distance_um[c],
            "relative_distance" => self.distance_um[c] / self.max_distance_um[c],
            "max_distance" => self.max_distance_um[c],
            "diameter" => self.diameter_um[c],
            "z_distance" => self.z_distance_um[c],
            "x" => self.x[c],
            "section" => self.section[c],
            n if n == ISF_Z_DISTANCE => {
                if label == Label::ApicalDendrite {
                    self.z_distance_um[c]
                } else {
                    self.distance_um[c]
                }
            }
            _ => f64::NAN,
        }
    }
}

/// Position variables of every compartment (see the module docs).
fn positions(morph: &Morphology, geo: &CellGeometry) -> Positions {
    let n_sec = morph.sections.len();
    let lengths: Vec<f64> = morph.sections.iter().map(|s| s.length_um()).collect();
    let root = morph.root().unwrap_or(0);
    let l_soma = lengths.get(root).copied().unwrap_or(0.0);
    // Def. 1: distance from soma(0) to every section's 0-end.
    let mut d1 = vec![0.0; n_sec];
    for i in morph.topological_order() {
        if let Some(p) = morph.sections[i].parent {
            d1[i] = if morph.sections[p].parent.is_none() {
                morph.sections[i].parent_x * lengths[p]
            } else {
                d1[p] + morph.sections[i].parent_x * lengths[p]
            };
        }
    }
    // Maximum def.-2 distance per label: over terminals of subtrees rooted at soma children
    // with that label, the distance of their 1-end.
    let dist0 = morph::geometry::distances_to_0_end(morph);
    let roots = morph.subtree_roots();
    let children = morph.children();
    let mut max_by_label: BTreeMap<Label, f64> = BTreeMap::new();
    max_by_label.insert(Label::Soma, l_soma);
    for i in 0..n_sec {
        if morph.sections[i].parent.is_none() || !children[i].is_empty() {
            continue;
        }
        let r = roots[i];
        let label = morph.sections[r].label;
        if label == Label::Soma {
            continue;
        }
        let d = dist0[i] + lengths[i];
        let e = max_by_label.entry(label).or_insert(d);
        *e = e.max(d);
    }
    let z_soma = morph
        .sections
        .get(root)
        .and_then(|s| s.points.get(s.points.len() / 2))
        .map(|p| p.z)
        .unwrap_or(0.0);
    let mut out = Positions::default();
    for (i, sec) in morph.sections.iter().enumerate() {
        let g = &geo.sections[i];
        let arc = morph::arcs(&sec.points);
        let l = lengths[i];
        let dmax = max_by_label.get(&sec.label).copied().unwrap_or(f64::NAN);
        for k in 0..g.nseg {
            let x = g.seg_x[k];
            let def1 = if sec.parent.is_none() {
                x * l
            } else {
                d1[i] + x * l
            };
            let def2 = if sec.label == Label::Soma {
                def1
            } else {
                g.seg_dist_um[k]
            };
            out.distance_um.push(def2);
            out.soma_distance_um.push(def1);
            out.max_distance_um.push(dmax);
            out.z_distance_um
                .push(interp_z(&sec.points, &arc, x * l) - z_soma);
            out.diameter_um.push(g.seg_diam_um[k]);
            out.x.push(x);
            out.section.push(i as f64);
        }
    }
    out
}

/// Every constant `k` that an expression tests `section == k` (or `k == section`) against:
/// a listed section must exist, or a rule meant for another morphology would silently
/// never apply.
fn section_tests(ex: &crate::model::ex::Ex, out: &mut Vec<f64>) {
    use crate::model::ex::BinOp;
    use crate::model::ex::Ex;
    match ex {
        Ex::Bin(BinOp::Eq, a, b) => match (&**a, &**b) {
            (Ex::Var { name, .. }, Ex::Const(k)) | (Ex::Const(k), Ex::Var { name, .. })
                if name == "section" =>
            {
                out.push(*k)
            }
            _ => {
                section_tests(a, out);
                section_tests(b, out);
            }
        },
        Ex::Bin(_, a, b) => {
            section_tests(a, out);
            section_tests(b, out);
        }
        Ex::Unary(_, a) => section_tests(a, out),
        Ex::If(c, a, b) => {
            section_tests(c, out);
            section_tests(a, out);
            section_tests(b, out);
        }
        Ex::Call(_, args) => args.iter().for_each(|a| section_tests(a, out)),
        Ex::Const(_) | Ex::Var { .. } => {}
    }
}

/// z at arc length `s` along the points (linear interpolation; clamped to the ends).
fn interp_z(points: &[morph::Point3], arc: &[f64], s: f64) -> f64 {
    if points.is_empty() {
        return f64::NAN;
    }
    for j in 1..points.len() {
        if arc[j] >= s {
            let span = arc[j] - arc[j - 1];
            let f = if span > 0.0 {
                (s - arc[j - 1]) / span
            } else {
                1.0
            };
            return points[j - 1].z + f * (points[j].z - points[j - 1].z);
        }
    }
    points[points.len() - 1].z
}

fn summarize(
    neuron: &NeuronModel,
    morph: &Morphology,
    region_secs: &[Vec<usize>],
    geo: &CellGeometry,
    passive: &[Passive],
) -> Vec<RegionSummary> {
    let row = |region: String, label: String, secs: &[usize], defaults: bool| {
        let uniform = |f: &dyn Fn(&Passive) -> f64| {
            let v: Vec<f64> = secs.iter().map(|&s| f(&passive[s])).collect();
            v.first().copied().filter(|a| v.iter().all(|b| b == a))
        };
        RegionSummary {
            region,
            label,
            sections: secs.len(),
            compartments: secs.iter().map(|&s| geo.sections[s].nseg).sum(),
            area_um2: secs
                .iter()
                .map(|&s| geo.sections[s].seg_area_um2.iter().sum::<f64>())
                .sum(),
            ra_ohm_cm: uniform(&|p| p.ra_ohm_cm),
            cm_uf_cm2: uniform(&|p| p.cm_uf_cm2),
            defaults,
        }
    };
    let mut out = Vec::new();
    let mut covered = vec![false; morph.sections.len()];
    for (ri, r) in neuron.regions.iter().enumerate() {
        let label = region_label(&r.region)
            .map(|l| l.as_str().to_string())
            .unwrap_or_else(|| "*".into());
        for &s in &region_secs[ri] {
            covered[s] = true;
        }
        out.push(row(r.region.clone(), label, &region_secs[ri], false));
    }
    let mut labels: Vec<Label> = morph
        .sections
        .iter()
        .enumerate()
        .filter(|(i, _)| !covered[*i])
        .map(|(_, s)| s.label)
        .collect();
    labels.sort();
    labels.dedup();
    for l in labels {
        let secs: Vec<usize> = (0..morph.sections.len())
            .filter(|&s| !covered[s] && morph.sections[s].label == l)
            .collect();
        out.push(row(
            l.as_str().to_string(),
            l.as_str().to_string(),
            &secs,
            true,
        ));
    }
    out
}
