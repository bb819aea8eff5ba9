//! Running experiments on a single cell: the [`TrialRunner`] behind `isf run` for experiments
//! with current-clamp and EPSP stimuli and network input (generated per trial from its seed,
//! or replayed from recorded files, `replay:`).
//!
//! Per sweep point the neuron is lowered once (only when the point changes neuron parameters;
//! otherwise the experiment's base cell is shared), then every trial builds an
//! [`ActiveCell`] from the lowered cell, adds the stimuli, runs NEURON's fixed-step scheme and
//! returns the recorded traces and spike times. Only generated network input is random.

use super::WorkItem;
use super::exec::{TrialOutput, TrialRunner};
use crate::diagnostics::{Code, Diagnostic};
use crate::kernel::{ActiveCell, CellConfig, MechPlacement};
use crate::lower::cell::{LoweredCell, build_cell, read_morphology, region_label};
use crate::model::{Density, ExperimentModel, Model, NeuronModel, Value};
use crate::morph::{Morphology, arcs};
use crate::sema::ex::Ex;
use crate::sim::NodeId;
use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::Mutex;

/// A place on the cell: section index and position along it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Site {
    pub section: usize,
    pub x: f64,
}

/// One recording.
#[derive(Clone, Debug, PartialEq)]
enum Probe {
    /// Membrane voltage trace (mV) at a site.
    V { name: String, site: Site },
    /// An ion variable at a site: reversal potential (mV), inside concentration (mM) or the
    /// total membrane current of the ion (mA/cm²).
    Ion {
        name: String,
        site: Site,
        ion: String,
        field: IonField,
    },
    /// A state variable of a mechanism at a site (in the state's canonical unit).
    State {
        name: String,
        site: Site,
        mechanism: String,
        state: String,
    },
    /// The voltage of every compartment (segment order), one trace each.
    AllV { name: String },
    /// Synapse activations of the trial (needs a network): one row per active synapse.
    Activations,
    /// Presynaptic spike times of the trial (needs a network): one row per presynaptic cell.
    PresynapticSpikes,
    /// Spike times (ms): first sample at or above threshold after one below it (spec 07).
    Spikes {
        name: String,
        site: Site,
        threshold_mv: f64,
    },
}

/// Which ion value an [`Probe::Ion`] records.
#[derive(Clone, Copy, Debug, PartialEq)]
enum IonField {
    Reversal,
    Inside,
    Current,
}

/// An ion variable name (`eca`, `cai`, `ica`, …) as (ion, field).
fn ion_variable(name: &str) -> Option<(String, IonField)> {
    for ion in ["na", "k", "ca"] {
        if name == format!("e{ion}") {
            return Some((ion.into(), IonField::Reversal));
        }
        if name == format!("{ion}i") {
            return Some((ion.into(), IonField::Inside));
        }
        if name == format!("i{ion}") {
            return Some((ion.into(), IonField::Current));
        }
    }
    None
}

/// A stimulus resolved to a site and numbers.
#[derive(Clone, Debug, PartialEq)]
enum Stim {
    Step {
        site: Site,
        delay_ms: f64,
        dur_ms: f64,
        amp_na: f64,
    },
    Epsp {
        site: Site,
        onset_ms: f64,
        tau0_ms: f64,
        tau1_ms: f64,
        imax_na: f64,
    },
}

fn unsupported(what: String) -> Diagnostic {
    Diagnostic::new(Code::E0510, what)
}

/// Runs the trials of one cell experiment.
pub struct CellRunner {
    exp: ExperimentModel,
    neuron: NeuronModel,
    mechanisms: Vec<crate::model::MechModel>,
    morph: Morphology,
    base: LoweredCell,
    /// The experiment's presynaptic network with every synapse placed on the cell (without
    /// placed synapses when a replay does not need the anatomy).
    network: Option<crate::network::PreparedNetwork>,
    /// The network's receptors resolved to synapse mechanisms (declared or stdlib).
    receptors: Option<crate::kernel::synapse::NetworkReceptors>,
    /// Replayed input, one per trial (`replay:`); empty when activity is generated.
    replay: Vec<crate::network::TrialInput>,
    /// Lowered cells of sweep points that change the neuron.
    per_point: Mutex<HashMap<u64, std::sync::Arc<LoweredCell>>>,
    probes: Vec<Probe>,
}

impl CellRunner {
    /// The experiment's network with its synapses placed, if any (benchmarks and tests).
    pub fn network(&self) -> Option<&crate::network::PreparedNetwork> {
        self.network.as_ref()
    }

    /// The cable tree of the experiment's cell at its base parameters (benchmarks and tests).
    pub fn cell_tree(&self) -> Result<crate::sim::CableTree, Diagnostic> {
        cable_tree(&self.base)
    }

    /// Prepare an experiment of a checked model: lower its neuron and resolve recordings.
    pub fn new(model: &Model, exp: &ExperimentModel) -> Result<CellRunner, Diagnostic> {
        let neuron = model
            .neurons
            .iter()
            .find(|n| n.name == exp.neuron)
            .cloned()
            .ok_or_else(|| {
                Diagnostic::new(
                    Code::E0409,
                    format!("neuron `{}` is not declared in this script", exp.neuron),
                )
            })?;
        let base = lower(&neuron, &model.mechanisms)?;
        let mut morph = read_morphology(&neuron).map_err(|e| lower_diag(&[*e]))?;
        if neuron.axon.is_some() {
            // Same sections as the lowered cell (the generated axon comes last).
            morph.add_hay2013_axon();
        }
        let (network, replay) = match &exp.network {
            Some(name) if !exp.replay.is_empty() => {
                let (prep, replay) = prepare_replay(model, name, &exp.replay, &morph, &base)?;
                (Some(prep), replay)
            }
            Some(name) => (
                Some(prepare_network(model, name, &morph, &base, exp.seed)?),
                Vec::new(),
            ),
            None if !exp.replay.is_empty() => {
                return Err(unsupported(
                    "replay needs a network giving the receptors of each cell type".into(),
                ));
            }
            None => (None, Vec::new()),
        };
        let receptors = match &network {
            Some(prep) => Some(
                crate::kernel::synapse::NetworkReceptors::new(&prep.network, &model.mechanisms)
                    .map_err(|e| e.to_diagnostic())?,
            ),
            None => None,
        };
        let mut r = CellRunner {
            exp: exp.clone(),
            neuron,
            mechanisms: model.mechanisms.clone(),
            morph,
            base,
            network,
            receptors,
            replay,
            per_point: Mutex::new(HashMap::new()),
            probes: Vec::new(),
        };
        r.probes = r.resolve_probes()?;
        // Resolve stimuli once to report unsupported ones before any trial runs.
        r.stimuli(&[])?;
        Ok(r)
    }

    /// Names of the recorded traces and event lists, in output order.
    pub fn outputs(&self) -> Vec<String> {
        self.probes
            .iter()
            .map(|p| match p {
                Probe::V { name, .. }
                | Probe::Spikes { name, .. }
                | Probe::Ion { name, .. }
                | Probe::State { name, .. }
                | Probe::AllV { name } => name.clone(),
                Probe::Activations => "synapse_activations".into(),
                Probe::PresynapticSpikes => "presynaptic_spikes".into(),
            })
            .collect()
    }

    /// Number of compartments of the base cell.
    pub fn n_compartments(&self) -> usize {
        self.base.n_compartments()
    }

    fn site_of_value(&self, v: &Value) -> Result<Vec<Site>, Diagnostic> {
        let Value::Obj { kind, args } = v else {
            return Err(unsupported(format!("not a site: {v:?}")));
        };
        let num = |k: &str| match args.get(k) {
            Some(Value::Num { value, .. }) => Some(*value),
            _ => None,
        };
        match kind.as_str() {
            "site" => {
                let region = match args.get("region") {
                    Some(Value::Str(s)) => s.clone(),
                    _ => String::new(),
                };
                let label = region_label(&region);
                let section = self
                    .base
                    .geometry
                    .sections
                    .iter()
                    .position(|s| label.is_none_or(|l| s.label == l.as_str()))
                    .ok_or_else(|| {
                        Diagnostic::new(
                            Code::E0413,
                            format!("the morphology has no section in region `{region}`"),
                        )
                    })?;
                Ok(vec![Site {
                    section,
                    x: num("x").unwrap_or(0.5),
                }])
            }
            "section" => {
                let section = num("index").unwrap_or(-1.0);
                let n = self.base.geometry.sections.len();
                if section < 0.0 || section as usize >= n {
                    return Err(Diagnostic::new(
                        Code::E0314,
                        format!("section {section} does not exist (the cell has {n} sections)"),
                    ));
                }
                Ok(vec![Site {
                    section: section as usize,
                    x: num("x").unwrap_or(0.5),
                }])
            }
            "sites" => {
                let path = match args.get("path") {
                    Some(Value::Str(s)) => s.clone(),
                    _ => String::new(),
                };
                let points = crate::formats::landmark::read_landmarks(Path::new(&path))
                    .map_err(|e| e.to_diagnostic_plain())?;
                let nseg: Vec<usize> = self.base.geometry.sections.iter().map(|s| s.nseg).collect();
                Ok(points
                    .iter()
                    .map(|p| nearest_site(&self.morph, &nseg, *p))
                    .collect())
            }
            "apical_distance" => {
                let d = num("distance").unwrap_or(f64::NAN);
                apical_site(&self.morph, d).map(|s| vec![s])
            }
            other => Err(unsupported(format!(
                "sites of kind `{other}` are not supported by the simulator yet"
            ))),
        }
    }

    fn resolve_probes(&self) -> Result<Vec<Probe>, Diagnostic> {
        let mut out = Vec::new();
        for r in &self.exp.record {
            let Value::Obj { kind, args } = r else {
                continue;
            };
            match kind.as_str() {
                "probe" => {
                    let var = match args.get("variable") {
                        Some(Value::Str(s)) => s.clone(),
                        _ => String::new(),
                    };
                    let ion = if var == "v" {
                        None
                    } else {
                        Some(ion_variable(&var).ok_or_else(|| {
                            unsupported(format!("recording `{var}` is not supported yet"))
                        })?)
                    };
                    let site = args.get("site").cloned().unwrap_or(Value::Bool(false));
                    let sites = self.site_of_value(&site)?;
                    let base = site_name(&site);
                    for (i, s) in sites.iter().enumerate() {
                        let name = if sites.len() > 1 {
                            format!("{base}[{i}].{var}")
                        } else {
                            format!("{base}.{var}")
                        };
                        out.push(match &ion {
                            None => Probe::V { name, site: *s },
                            Some((ion, field)) => Probe::Ion {
                                name,
                                site: *s,
                                ion: ion.clone(),
                                field: *field,
                            },
                        });
                    }
                }
                "spikes" => {
                    let at = site_arg(args.get("at"));
                    let threshold_mv = match args.get("threshold") {
                        Some(Value::Num { value, .. }) => *value,
                        _ => 0.0,
                    };
                    let sites = self.site_of_value(&at)?;
                    let base = site_name(&at);
                    for (i, s) in sites.iter().enumerate() {
                        let name = if sites.len() > 1 {
                            format!("spikes({base}[{i}])")
                        } else {
                            format!("spikes({base})")
                        };
                        out.push(Probe::Spikes {
                            name,
                            site: *s,
                            threshold_mv,
                        });
                    }
                }
                "state" | "current" => {
                    let at = site_arg(args.get("at"));
                    let text = |k: &str| match args.get(k) {
                        Some(Value::Str(s)) => s.clone(),
                        _ => String::new(),
                    };
                    let sites = self.site_of_value(&at)?;
                    let base = site_name(&at);
                    for (i, s) in sites.iter().enumerate() {
                        let idx = if sites.len() > 1 {
                            format!("[{i}]")
                        } else {
                            String::new()
                        };
                        if kind == "current" {
                            let var = text("name");
                            let Some((ion, IonField::Current)) = ion_variable(&var) else {
                                return Err(unsupported(format!(
                                    "recording current `{var}`: only the ion currents ina, ik and ica can be recorded yet"
                                )));
                            };
                            out.push(Probe::Ion {
                                name: format!("{base}{idx}.{var}"),
                                site: *s,
                                ion,
                                field: IonField::Current,
                            });
                        } else {
                            let (mechanism, state) = (text("mechanism"), text("name"));
                            out.push(Probe::State {
                                name: format!("{base}{idx}.{mechanism}.{state}"),
                                site: *s,
                                mechanism,
                                state,
                            });
                        }
                    }
                }
                "synapse_activations" | "presynaptic_spikes" if self.network.is_none() => {
                    return Err(unsupported(format!(
                        "recording `{kind}` needs a network: the experiment has none"
                    )));
                }
                "synapse_activations" => out.push(Probe::Activations),
                "presynaptic_spikes" => out.push(Probe::PresynapticSpikes),
                "all_compartments" => out.push(Probe::AllV {
                    name: "all_compartments.v".into(),
                }),
                other => {
                    return Err(unsupported(format!(
                        "recording `{other}` is not supported by the simulator yet"
                    )));
                }
            }
        }
        Ok(out)
    }

    /// Stimuli with the sweep point's overrides applied.
    fn stimuli(&self, point: &[(String, Value)]) -> Result<Vec<Stim>, Diagnostic> {
        let mut stims = self.exp.stimuli.clone();
        for (path, v) in point {
            let parts: Vec<&str> = path.split('.').collect();
            if let ["stimulus", name, field] = parts.as_slice()
                && let Some(s) = stims.get_mut(*name)
            {
                s.insert(field.to_string(), v.clone());
            }
        }
        let mut out = Vec::new();
        for (name, f) in &stims {
            let num = |k: &str, default: f64| match f.get(k) {
                Some(Value::Num { value, .. }) => *value,
                _ => default,
            };
            let at = f.get("at").cloned().unwrap_or(Value::Bool(false));
            let sites = self.site_of_value(&at)?;
            let site = sites[0];
            let kind = match f.get("kind") {
                Some(Value::Str(k)) => k.clone(),
                _ => "step".into(),
            };
            out.push(match kind.as_str() {
                "epsp" => Stim::Epsp {
                    site,
                    onset_ms: num("onset", 0.0),
                    tau0_ms: num("tau_rise", 0.2),
                    tau1_ms: num("tau_decay", 3.0),
                    imax_na: num("imax", 0.0),
                },
                _ => {
                    if !f.contains_key("amp") {
                        return Err(unsupported(format!("stimulus `{name}` has no `amp`")));
                    }
                    Stim::Step {
                        site,
                        delay_ms: num("delay", 0.0),
                        dur_ms: num("duration", self.exp.duration_ms),
                        amp_na: num("amp", 0.0),
                    }
                }
            });
        }
        Ok(out)
    }

    /// The lowered cell for a sweep point (the base cell unless the point changes the neuron).
    fn cell_for(
        &self,
        point_index: u64,
        point: &[(String, Value)],
    ) -> Result<Option<std::sync::Arc<LoweredCell>>, Diagnostic> {
        let neuron_overrides: Vec<&(String, Value)> = point
            .iter()
            .filter(|(p, _)| p.split('.').next() == Some(self.neuron.name.as_str()))
            .collect();
        if neuron_overrides.is_empty() {
            return Ok(None);
        }
        if let Some(c) = self
            .per_point
            .lock()
            .ok()
            .and_then(|m| m.get(&point_index).cloned())
        {
            return Ok(Some(c));
        }
        let mut n = self.neuron.clone();
        for (path, v) in neuron_overrides {
            apply_neuron_override(&mut n, path, v)?;
        }
        let cell = std::sync::Arc::new(lower(&n, &self.mechanisms)?);
        if let Ok(mut m) = self.per_point.lock() {
            m.insert(point_index, cell.clone());
        }
        Ok(Some(cell))
    }
}

/// The `at:` argument of a recording as a site object: a bare region (`spikes(soma)`) means
/// its section's middle.
fn site_arg(at: Option<&Value>) -> Value {
    match at {
        Some(Value::Str(region)) => Value::Obj {
            kind: "site".into(),
            args: BTreeMap::from([
                ("region".into(), Value::Str(region.clone())),
                (
                    "x".into(),
                    Value::Num {
                        value: 0.5,
                        unit: "1".into(),
                    },
                ),
            ]),
        },
        Some(other) => other.clone(),
        None => Value::Bool(false),
    }
}

fn site_name(v: &Value) -> String {
    match v {
        Value::Obj { kind, args } => match kind.as_str() {
            "site" => match (args.get("region"), args.get("x")) {
                (Some(Value::Str(r)), Some(Value::Num { value, .. })) if *value == 0.5 => r.clone(),
                (Some(Value::Str(r)), Some(Value::Num { value, .. })) => format!("{r}({value})"),
                _ => "site".into(),
            },
            "section" => match (args.get("index"), args.get("x")) {
                (Some(Value::Num { value: i, .. }), Some(Value::Num { value: x, .. })) => {
                    format!("section({i}, {x})")
                }
                (Some(Value::Num { value: i, .. }), None) => format!("section({i})"),
                _ => "section".into(),
            },
            "sites" => "sites".into(),
            k => k.to_string(),
        },
        Value::Str(s) => s.clone(),
        _ => "site".into(),
    }
}

/// The experiment's network with every synapse placed on its neuron, exactly as `isf run`
/// places them (for `isf plan`'s synapse summary). `None` when the experiment has no network.
pub fn placed_network(
    model: &Model,
    exp: &ExperimentModel,
) -> Result<Option<crate::network::PreparedNetwork>, Diagnostic> {
    let Some(name) = &exp.network else {
        return Ok(None);
    };
    let neuron = model
        .neurons
        .iter()
        .find(|n| n.name == exp.neuron)
        .ok_or_else(|| {
            Diagnostic::new(
                Code::E0409,
                format!("neuron `{}` is not declared in this script", exp.neuron),
            )
        })?;
    let base = lower(neuron, &model.mechanisms)?;
    let mut morph = read_morphology(neuron).map_err(|e| lower_diag(&[*e]))?;
    if neuron.axon.is_some() {
        morph.add_hay2013_axon();
    }
    prepare_network(model, name, &morph, &base, exp.seed).map(Some)
}

/// The cable tree of a lowered cell (E0504 if its geometry is unusable).
fn cable_tree(lc: &LoweredCell) -> Result<crate::sim::CableTree, Diagnostic> {
    crate::sim::CableTree::from_geometry(&lc.geometry)
        .map_err(|e| Diagnostic::new(Code::E0504, e.to_string()))
}

/// Read (or lower) the experiment's network and place its synapses on the cell once:
/// anatomy synapses from their files, declared ones from the experiment seed
/// ([`crate::network::declared`]), the same for every trial.
fn prepare_network(
    model: &Model,
    name: &str,
    morph: &Morphology,
    cell: &LoweredCell,
    experiment_seed: u64,
) -> Result<crate::network::PreparedNetwork, Diagnostic> {
    let net = typed_network(model, name)?;
    let (placer, labels) = cell_placer(morph, cell)?;
    let seed = crate::network::declared::placement_seed(experiment_seed);
    crate::network::PreparedNetwork::build(&net, &placer, labels, seed)
        .map_err(|e| e.to_diagnostic_plain())
}

/// The experiment's network for a replay and the input of every trial, read and placed once
/// (every file is checked before any trial runs). The anatomy is read only when an ISF
/// activation file is replayed on a network that has one (to keep the recorded synapse IDs
/// and soma distances); spike-time files and anatomy-free networks place each replayed
/// synapse from its own location.
fn prepare_replay(
    model: &Model,
    name: &str,
    files: &[crate::model::ReplaySource],
    morph: &Morphology,
    cell: &LoweredCell,
) -> Result<
    (
        crate::network::PreparedNetwork,
        Vec<crate::network::TrialInput>,
    ),
    Diagnostic,
> {
    use crate::network::replay::{ReplayFile, trial_input};
    use crate::network::{PreparedNetwork, SynapseSource};
    let net = typed_network(model, name)?;
    let (placer, labels) = cell_placer(morph, cell)?;
    let read: Vec<ReplayFile> = files
        .iter()
        .map(|f| ReplayFile::read(Path::new(&f.path)).map_err(|e| e.to_diagnostic_plain()))
        .collect::<Result<_, _>>()?;
    let anatomy = net
        .populations
        .iter()
        .all(|p| matches!(p.synapses, SynapseSource::Anatomy { .. }));
    let prep = if anatomy && read.iter().any(|f| f.format() == "isf_activations") {
        // Only anatomy populations here (checked above): no declared synapse to place.
        PreparedNetwork::build(&net, &placer, labels, 0).map_err(|e| e.to_diagnostic_plain())?
    } else {
        PreparedNetwork::without_anatomy(&net, labels)
    };
    let inputs = read
        .iter()
        .map(|f| trial_input(&prep, &placer, f).map_err(|e| e.to_diagnostic_plain()))
        .collect::<Result<_, _>>()?;
    Ok((prep, inputs))
}

/// The typed network named `name` (read from its ISF file or lowered from its block).
fn typed_network(model: &Model, name: &str) -> Result<crate::network::Network, Diagnostic> {
    let nm = model
        .networks
        .iter()
        .find(|n| n.name == name)
        .ok_or_else(|| {
            Diagnostic::new(
                Code::E0409,
                format!("network `{name}` is not declared in this script"),
            )
        })?;
    match &nm.isf_network_param {
        Some(path) => {
            crate::network::isf_network_param(Path::new(path)).map_err(|e| e.to_diagnostic_plain())
        }
        None => crate::network::lower::from_model(nm)
            .map_err(|e| unsupported(format!("network `{name}`: {e}"))),
    }
}

/// Synapse placement on the cell (ISF's rule) and the section labels for output files.
fn cell_placer(
    morph: &Morphology,
    cell: &LoweredCell,
) -> Result<(crate::network::Placer, Vec<String>), Diagnostic> {
    let nseg: Vec<usize> = cell.geometry.sections.iter().map(|s| s.nseg).collect();
    if nseg.len() != morph.sections.len() {
        return Err(Diagnostic::new(
            Code::E0901,
            "internal error, please report: cell and morphology disagree on sections",
        ));
    }
    let placer = crate::network::Placer::new(morph, &nseg);
    let labels = morph
        .sections
        .iter()
        .map(|s| s.label.as_str().to_string())
        .collect();
    Ok((placer, labels))
}

fn lower(n: &NeuronModel, mechs: &[crate::model::MechModel]) -> Result<LoweredCell, Diagnostic> {
    build_cell(n, mechs).map_err(|e| lower_diag(&e))
}

fn lower_diag(errors: &[crate::lower::cell::LowerError]) -> Diagnostic {
    let first = &errors[0];
    let mut d = Diagnostic::new(first.code, first.message.clone());
    for e in &errors[1..] {
        d = d.note(format!("[{}] {}", e.code.as_str(), e.message));
    }
    d
}

/// Apply `NEURON.REGION.FIELD` or `NEURON.REGION.MECHANISM.PARAM` to a neuron model.
fn apply_neuron_override(n: &mut NeuronModel, path: &str, v: &Value) -> Result<(), Diagnostic> {
    let Value::Num { value, unit } = v else {
        return Err(unsupported(format!(
            "sweep value of `{path}` is not a number"
        )));
    };
    let parts: Vec<&str> = path.split('.').collect();
    let region = parts.get(1).copied().unwrap_or("");
    let Some(r) = n.regions.iter_mut().find(|r| r.region == region) else {
        return Err(Diagnostic::new(
            Code::E0408,
            format!("sweep path `{path}`: the neuron has no `{region}` block"),
        ));
    };
    match parts.as_slice() {
        [_, _, "Ra"] => r.ra_ohm_cm = Some(*value),
        [_, _, "cm"] => r.cm_uf_cm2 = Some(*value),
        [_, _, e] if e.starts_with('e') => {
            r.reversal_mv.insert(e.to_string(), *value);
        }
        [_, _, mech, param] => {
            let Some(m) = r.mechanisms.iter_mut().find(|m| m.mechanism == *mech) else {
                return Err(Diagnostic::new(
                    Code::E0408,
                    format!("sweep path `{path}`: `{mech}` is not inserted in `{region}`"),
                ));
            };
            m.parameters.insert(
                param.to_string(),
                Density {
                    unit: unit.clone(),
                    expr: Ex::Const(*value),
                },
            );
        }
        _ => {
            return Err(Diagnostic::new(
                Code::E0408,
                format!("sweep path `{path}` cannot be applied"),
            ));
        }
    }
    Ok(())
}

/// One row per active synapse, in ISF's order (type, then synapse id): type, synapse id, soma
/// distance (µm), section, 3-D point, label and release times (ms) — the columns of ISF's
/// `simulation_run*_synapses.csv`.
fn activation_table(
    prep: &crate::network::PreparedNetwork,
    inp: &crate::network::TrialInput,
) -> crate::store::Table {
    use crate::store::{Column, Table};
    let rows = crate::network::activation_rows(prep, inp);
    Table::new()
        .with(
            "synapse_type",
            Column::Str(rows.iter().map(|r| r.synapse_type.clone()).collect()),
        )
        .with(
            "synapse_id",
            Column::I64(rows.iter().map(|r| r.synapse_id).collect()),
        )
        .with(
            "soma_distance_um",
            Column::F64(rows.iter().map(|r| r.soma_distance_um).collect()),
        )
        .with(
            "section",
            Column::I64(rows.iter().map(|r| r.section as i64).collect()),
        )
        .with(
            "point",
            Column::I64(rows.iter().map(|r| r.point as i64).collect()),
        )
        .with(
            "label",
            Column::Str(rows.iter().map(|r| r.label.clone()).collect()),
        )
        .with(
            "release_times_ms",
            Column::F64List(rows.into_iter().map(|r| r.times_ms).collect()),
        )
}

/// One row per presynaptic cell with at least one spike: the cell's global index (populations
/// in network order, cells within each) and its spike times (ms).
fn presynaptic_table(inp: &crate::network::TrialInput) -> crate::store::Table {
    use crate::store::{Column, Table};
    let (mut cell, mut times) = (Vec::new(), Vec::new());
    for c in 0..inp.spike_offsets.len().saturating_sub(1) {
        let t = inp.spikes(c);
        if !t.is_empty() {
            cell.push(c as i64);
            times.push(t.to_vec());
        }
    }
    Table::new()
        .with("cell", Column::I64(cell))
        .with("spike_times_ms", Column::F64List(times))
}

/// Where a recording reads each sample.
#[derive(Clone, Copy, Debug)]
enum Reader {
    V(NodeId),
    Ion(usize, IonField, NodeId),
    State(usize, usize, usize),
}

/// ISF's `get_inner_section_at_distance` (spec 01 §1.7): among apical sections that "connect
/// beyond" 1000 µm (their 1-end lies farther, or a child's subtree does), the one whose 1-end
/// distance is the smallest value greater than `dist_um`; `x = (dist − distance(sec, 0)) / L`.
/// Distances are ISF's definition 1 (from soma(0)).
pub fn apical_site(morph: &Morphology, dist_um: f64) -> Result<Site, Diagnostic> {
    const BEYOND_UM: f64 = 1000.0;
    let n = morph.sections.len();
    let root = morph.root().unwrap_or(0);
    let d2 = crate::morph::geometry::distances_to_0_end(morph);
    let len: Vec<f64> = morph.sections.iter().map(|s| s.length_um()).collect();
    // Children of the soma attach at soma(0.5): definition 1 adds half the soma length.
    let d0 = |i: usize| {
        if i == root {
            0.0
        } else {
            d2[i] + 0.5 * len[root]
        }
    };
    let apical = |i: usize| morph.sections[i].label == crate::morph::Label::ApicalDendrite;
    let children = morph.children();
    let mut beyond = vec![false; n];
    for &i in morph.topological_order().iter().rev() {
        beyond[i] =
            (apical(i) && d0(i) + len[i] > BEYOND_UM) || children[i].iter().any(|&c| beyond[c]);
    }
    let best = (0..n)
        .filter(|&i| beyond[i] && apical(i) && d0(i) + len[i] > dist_um)
        .min_by(|&a, &b| (d0(a) + len[a]).total_cmp(&(d0(b) + len[b])));
    match best {
        Some(i) if dist_um.is_finite() && len[i] > 0.0 => Ok(Site {
            section: i,
            x: ((dist_um - d0(i)) / len[i]).clamp(0.0, 1.0),
        }),
        _ => Err(Diagnostic::new(
            Code::E0314,
            format!("no point on the apical trunk at {dist_um} um from the soma"),
        )),
    }
}

/// ISF's mapping of a point to a compartment: the nearest 3-D point of any section, then the
/// position of that point along its section (arc length fraction), snapped to the nearest
/// compartment centre.
pub fn nearest_site(morph: &Morphology, nseg: &[usize], p: [f64; 3]) -> Site {
    let mut best = (f64::INFINITY, 0, 0);
    for (s, sec) in morph.sections.iter().enumerate() {
        for (i, q) in sec.points.iter().enumerate() {
            let d = (q.x - p[0]).powi(2) + (q.y - p[1]).powi(2) + (q.z - p[2]).powi(2);
            if d < best.0 {
                best = (d, s, i);
            }
        }
    }
    let (_, s, i) = best;
    let a = arcs(&morph.sections[s].points);
    let total = a.last().copied().unwrap_or(0.0);
    let x = if total > 0.0 { a[i] / total } else { 0.5 };
    let n = nseg.get(s).copied().unwrap_or(1).max(1);
    let seg = ((x * n as f64).floor() as usize).min(n - 1);
    let centres = [seg.saturating_sub(1), seg, (seg + 1).min(n - 1)];
    let best_seg = centres
        .into_iter()
        .min_by(|&j, &k| {
            let cj = ((j as f64 + 0.5) / n as f64 - x).abs();
            let ck = ((k as f64 + 0.5) / n as f64 - x).abs();
            cj.total_cmp(&ck)
        })
        .unwrap_or(seg);
    Site {
        section: s,
        x: (best_seg as f64 + 0.5) / n as f64,
    }
}

/// Spike times: the first sample at or above `threshold` after a sample below it (spec 07
/// §7.1), reported at that sample's time, no interpolation.
pub fn spike_times(v: &[f64], dt_ms: f64, threshold_mv: f64) -> Vec<f64> {
    v.windows(2)
        .enumerate()
        .filter(|(_, w)| w[0] < threshold_mv && w[1] >= threshold_mv)
        .map(|(k, _)| (k + 1) as f64 * dt_ms)
        .collect()
}

impl TrialRunner for CellRunner {
    fn run(&self, _item: &WorkItem, point: &[(String, Value)]) -> Result<TrialOutput, Diagnostic> {
        let cell_override = self.cell_for(_item.point, point)?;
        let lc: &LoweredCell = cell_override.as_deref().unwrap_or(&self.base);
        let mut duration = self.exp.duration_ms;
        let mut dt = self.exp.dt_ms;
        for (p, v) in point {
            if let Value::Num { value, .. } = v {
                match p.as_str() {
                    "duration" => duration = *value,
                    "dt" => dt = *value,
                    _ => {}
                }
            }
        }
        let n_steps = (duration / dt).round() as usize;
        let tree = cable_tree(lc)?;
        let placements: Vec<MechPlacement> = lc
            .mechanisms
            .iter()
            .filter_map(|t| {
                let m = self.mechanisms.iter().find(|m| m.name == t.name)?;
                Some(MechPlacement {
                    mechanism: m,
                    segments: t.compartments.clone(),
                    params: t
                        .params
                        .iter()
                        .map(|c| (c.name.clone(), c.values.clone()))
                        .collect(),
                })
            })
            .collect();
        let reversal: Vec<(String, Vec<f64>)> = lc
            .reversal_mv
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let cfg = CellConfig {
            dt_ms: dt,
            v_init_mv: self.neuron.v_init_mv,
            celsius_degc: self.neuron.temperature_degc,
            ..CellConfig::default()
        };
        let mut cell =
            ActiveCell::new(tree, &placements, &reversal, cfg).map_err(|e| e.to_diagnostic())?;
        let mut input = None;
        if let (Some(prep), Some(receptors)) = (&self.network, &self.receptors) {
            // All randomness of a trial derives from its seed (spec 04; `run::stream_seed`);
            // a replay takes its trial's recorded input instead.
            let inp = if self.replay.is_empty() {
                crate::network::generate_trial(prep, _item.seed, duration)
            } else {
                self.replay
                    .get(_item.trial as usize)
                    .cloned()
                    .ok_or_else(|| {
                        Diagnostic::new(
                            Code::E0314,
                            format!(
                                "trial {} has no replay file ({} given)",
                                _item.trial,
                                self.replay.len()
                            ),
                        )
                    })?
            };
            let set = receptors.synapses(&inp).map_err(|e| e.to_diagnostic())?;
            cell.add_synapses(set).map_err(|e| e.to_diagnostic())?;
            input = Some(inp);
        }
        for s in self.stimuli(point)? {
            match s {
                Stim::Step {
                    site,
                    delay_ms,
                    dur_ms,
                    amp_na,
                } => cell.add_iclamp(site.section, site.x, delay_ms, dur_ms, amp_na),
                Stim::Epsp {
                    site,
                    onset_ms,
                    tau0_ms,
                    tau1_ms,
                    imax_na,
                } => cell.add_epsp(site.section, site.x, onset_ms, tau0_ms, tau1_ms, imax_na),
            }
            .map_err(|e| e.to_diagnostic())?;
        }
        // Where each recording reads its value: resolved once, then sampled every step into
        // preallocated buffers.
        let mut readers: Vec<Reader> = Vec::new();
        for p in &self.probes {
            match p {
                Probe::V { site, .. } | Probe::Spikes { site, .. } => {
                    readers.push(Reader::V(cell.tree().node_at(site.section, site.x)))
                }
                Probe::Ion {
                    site,
                    ion,
                    field,
                    name,
                } => {
                    let node = cell.tree().node_at(site.section, site.x);
                    let k = cell
                        .ions()
                        .iter()
                        .position(|p| p.name == *ion)
                        .ok_or_else(|| unsupported(format!("{name}: the cell has no {ion} ion")))?;
                    readers.push(Reader::Ion(k, *field, node));
                }
                Probe::State {
                    site,
                    mechanism,
                    state,
                    name,
                } => {
                    let node = cell.tree().node_at(site.section, site.x);
                    let (m, mech) = cell
                        .mechanisms()
                        .iter()
                        .enumerate()
                        .find(|(_, m)| m.name == *mechanism)
                        .ok_or_else(|| {
                            unsupported(format!(
                                "{name}: `{mechanism}` is not inserted in this cell"
                            ))
                        })?;
                    let s = mech
                        .state_names
                        .iter()
                        .position(|n| n == state)
                        .ok_or_else(|| {
                            unsupported(format!("{name}: `{mechanism}` has no state `{state}`"))
                        })?;
                    let i = mech.nodes.iter().position(|&n| n == node).ok_or_else(|| {
                        unsupported(format!(
                            "{name}: `{mechanism}` is not inserted at this site"
                        ))
                    })?;
                    readers.push(Reader::State(m, s, i));
                }
                Probe::AllV { .. } => {
                    for n in cell.tree().segment_nodes() {
                        readers.push(Reader::V(n));
                    }
                }
                Probe::Activations | Probe::PresynapticSpikes => {}
            }
        }
        let samples = n_steps + 1;
        let mut data: Vec<Vec<f64>> = readers
            .iter()
            .map(|_| Vec::with_capacity(samples))
            .collect();
        let sample = |cell: &ActiveCell, data: &mut [Vec<f64>]| {
            for (r, col) in readers.iter().zip(data.iter_mut()) {
                col.push(match *r {
                    Reader::V(n) => cell.v_mv()[n as usize],
                    Reader::Ion(k, f, n) => {
                        let p = &cell.ions()[k];
                        match f {
                            IonField::Reversal => p.e_mv[n as usize],
                            IonField::Inside => p.ci_mm[n as usize],
                            IonField::Current => p.i_ma_cm2[n as usize],
                        }
                    }
                    Reader::State(m, s, i) => cell.mechanisms()[m].state(s)[i],
                });
            }
        };
        cell.init();
        sample(&cell, &mut data);
        for _ in 0..n_steps {
            cell.step().map_err(|e| e.to_diagnostic())?;
            sample(&cell, &mut data);
        }
        let mut out = TrialOutput::default();
        let mut cols = data.into_iter();
        for p in &self.probes {
            match p {
                Probe::V { name, .. } | Probe::Ion { name, .. } | Probe::State { name, .. } => out
                    .traces
                    .push((name.clone(), cols.next().unwrap_or_default())),
                Probe::Spikes {
                    name, threshold_mv, ..
                } => {
                    let v = cols.next().unwrap_or_default();
                    out.events
                        .push((name.clone(), spike_times(&v, dt, *threshold_mv)));
                }
                Probe::AllV { name } => {
                    for (k, col) in cols.by_ref().take(lc.n_compartments()).enumerate() {
                        out.traces.push((format!("{name}[{k:05}]"), col));
                    }
                }
                Probe::Activations => {
                    if let (Some(prep), Some(inp)) = (&self.network, &input) {
                        out.tables
                            .push(("synapse_activations".into(), activation_table(prep, inp)));
                    }
                }
                Probe::PresynapticSpikes => {
                    if let Some(inp) = &input {
                        out.tables
                            .push(("presynaptic_spikes".into(), presynaptic_table(inp)));
                    }
                }
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spike_detection_is_first_sample_at_threshold() {
        let v = [-70.0, -10.0, 0.0, 20.0, -5.0, 10.0];
        assert_eq!(spike_times(&v, 0.5, 0.0), vec![1.0, 2.5]);
        assert!(spike_times(&[1.0, 2.0], 0.1, 0.0).is_empty());
    }
}
