//! Running experiments on a single cell: the [`TrialRunner`] behind `isf run` for experiments
//! with current-clamp and EPSP stimuli and network input (generated per trial from its seed,
//! or replayed from recorded files, `replay:`).
//!
//! The experiment arrives typed (stimuli, recordings and sweep targets resolved at check
//! time, [`crate::model`]); nothing here matches on names. Per sweep point the runner builds
//! the point's [`PointInputs`] once — duration and time step, the lowered cell (lowered anew
//! only when the point changes the neuron), the stimuli, the recordings' sites and the
//! network with its synapses placed (placed anew only when the point moves synapses or
//! changes the cell) — then every trial builds an [`ActiveCell`] from them, runs NEURON's
//! fixed-step scheme and returns the recorded traces and spike times. Only generated network
//! input is random.

use super::WorkItem;
use super::exec::{TrialOutput, TrialRunner};
use crate::diagnostics::{Code, Diagnostic};
use crate::interop::replay::ReplayFile;
use crate::kernel::synapse::SynapseSet;
use crate::kernel::{ActiveCell, CellConfig, MechPlacement};
use crate::lower::cell::{LoweredCell, build_cell, read_morphology, region_label};
use crate::model::sweep::{SweepTarget, SweepValue};
use crate::model::{
    ExperimentModel, IonField, Model, NeuronModel, Recording, SiteSpec, StimulusKind, Value,
};
use crate::morph::{Morphology, arcs};
use crate::network::{Network, PreparedNetwork, TrialInput};
use crate::run::receptors::NetworkReceptors;
use crate::sema::sweep;
use crate::sim::NodeId;
use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

/// A place on the cell: section index and position along it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Site {
    pub section: usize,
    pub x: f64,
}

/// One recording resolved to places on the cell.
#[derive(Clone, Debug, PartialEq)]
enum Probe {
    /// Membrane voltage trace (mV) at a site.
    V { name: String, site: Site },
    /// An ion variable at a site.
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

impl Probe {
    fn name(&self) -> String {
        match self {
            Probe::V { name, .. }
            | Probe::Spikes { name, .. }
            | Probe::Ion { name, .. }
            | Probe::State { name, .. }
            | Probe::AllV { name } => name.clone(),
            Probe::Activations => "synapse_activations".into(),
            Probe::PresynapticSpikes => "presynaptic_spikes".into(),
        }
    }
}

/// A stimulus resolved to a site and numbers (ms, nA).
#[derive(Clone, Debug, PartialEq)]
pub enum Stim {
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

/// Everything a sweep point determines: what its trials simulate, apart from the seed.
#[derive(Debug)]
pub struct PointInputs {
    pub duration_ms: f64,
    pub dt_ms: f64,
    pub n_steps: u64,
    pub temperature_degc: f64,
    pub v_init_mv: f64,
    /// The lowered cell (the experiment's base cell unless the point changes the neuron).
    pub cell: Arc<LoweredCell>,
    /// Stimuli with their sites on this cell, in name order.
    pub stimuli: Vec<Stim>,
    probes: Vec<Probe>,
    /// The network with every synapse placed (typed populations included).
    pub network: Option<Arc<PreparedNetwork>>,
    receptors: Option<Arc<NetworkReceptors>>,
    /// Replayed input, one per trial (`replay:`); empty when activity is generated.
    pub replay: Arc<Vec<TrialInput>>,
}

/// What an experiment's points are built from (fixed for the run).
struct Setup {
    exp: ExperimentModel,
    neuron: NeuronModel,
    mechanisms: Vec<crate::model::MechModel>,
    morph: Morphology,
    /// The typed network before placement (sweep points change copies of it).
    base_network: Option<Network>,
    /// Replay files, read once (a point that changes the network derives its input anew).
    replay_files: Vec<ReplayFile>,
}

/// Runs the trials of one cell experiment.
pub struct CellRunner {
    setup: Setup,
    /// The experiment's own point (no sweep values applied).
    base: Arc<PointInputs>,
    /// Inputs of sweep points that change anything, built on first use.
    /// (inputs, last use) by point; at most [`POINT_CACHE`], the least recently used goes.
    per_point: Mutex<PointCache>,
}

impl CellRunner {
    /// The experiment's network with its synapses placed, if any (benchmarks and tests).
    pub fn network(&self) -> Option<&PreparedNetwork> {
        self.base.network.as_deref()
    }

    /// The cable tree of the experiment's cell at its base parameters (benchmarks and tests).
    pub fn cell_tree(&self) -> Result<crate::sim::CableTree, Diagnostic> {
        cable_tree(&self.base.cell)
    }

    /// Prepare an experiment of a checked model: lower its neuron, place its network, read
    /// replayed input and resolve stimuli and recordings.
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
        let morph = site_morphology(&neuron)?;
        let base_network = match &exp.network {
            Some(name) => Some(check_spikes(typed_network(model, name)?, exp)?),
            None if !exp.replay.is_empty() => {
                return Err(unsupported(
                    "replay needs a network giving the receptors of each cell type".into(),
                ));
            }
            None => None,
        };
        let replay_files: Vec<ReplayFile> = exp
            .replay
            .iter()
            .map(|f| ReplayFile::read(Path::new(&f.path)).map_err(|e| e.to_diagnostic_plain()))
            .collect::<Result<_, _>>()?;
        let setup = Setup {
            exp: exp.clone(),
            neuron,
            mechanisms: model.mechanisms.clone(),
            morph,
            base_network,
            replay_files,
        };
        let base = Arc::new(setup.build_point(&[], None)?);
        check_recorded_bytes(exp, &base)?;
        Ok(CellRunner {
            setup,
            base,
            per_point: Mutex::new((HashMap::new(), 0)),
        })
    }

    /// Names of the recorded traces and event lists, in output order.
    pub fn outputs(&self) -> Vec<String> {
        self.base.probes.iter().map(Probe::name).collect()
    }

    /// Number of compartments of the base cell.
    pub fn n_compartments(&self) -> usize {
        self.base.cell.n_compartments()
    }

    /// The inputs of sweep point `point` (built once, then shared by its trials).
    pub fn point_inputs(&self, point: u64) -> Result<Arc<PointInputs>, Diagnostic> {
        let settings = super::point_settings(&self.setup.exp.sweep, point);
        if settings.is_empty() {
            return Ok(self.base.clone());
        }
        if let Ok(mut guard) = self.per_point.lock() {
            let (m, clock) = &mut *guard;
            *clock += 1;
            if let Some((p, used)) = m.get_mut(&point) {
                *used = *clock;
                return Ok(p.clone());
            }
        }
        let p = Arc::new(self.setup.build_point(&settings, Some(&self.base))?);
        if let Ok(mut guard) = self.per_point.lock() {
            // Work items run point by point, so only a few points are in flight at once; a
            // bound keeps a long sweep of a large cell from holding every point's cell in
            // memory (an evicted point is rebuilt, identically, if it comes back).
            let (m, clock) = &mut *guard;
            if m.len() >= POINT_CACHE {
                let lru = m.iter().min_by_key(|(_, (_, used))| *used).map(|(k, _)| *k);
                if let Some(k) = lru {
                    m.remove(&k);
                }
            }
            *clock += 1;
            m.insert(point, (p.clone(), *clock));
        }
        Ok(p)
    }
}

/// Built inputs by sweep point with the clock tick of their last use, and the clock.
type PointCache = (HashMap<u64, (Arc<PointInputs>, u64)>, u64);

/// Sweep points whose inputs are kept built at once.
const POINT_CACHE: usize = 16;

impl Setup {
    /// Build a point's inputs from the experiment with `settings` applied; parts the settings
    /// leave alone are shared with `base`.
    fn build_point(
        &self,
        settings: &[(&SweepTarget, &SweepValue)],
        base: Option<&PointInputs>,
    ) -> Result<PointInputs, Diagnostic> {
        let bad = |m: String| Diagnostic::new(Code::E0408, m);
        let (mut duration_ms, mut dt_ms) = (self.exp.duration_ms, self.exp.dt_ms);
        let mut neuron: Option<NeuronModel> = None;
        let mut stimuli = self.exp.stimuli.clone();
        let mut network: Option<Network> = None;
        let mut moves_synapses = false;
        for &(t, v) in settings {
            match t {
                SweepTarget::Duration | SweepTarget::Dt => {
                    let SweepValue::Num(x) = v else {
                        return Err(bad(format!("{t:?}: not a number")));
                    };
                    if *t == SweepTarget::Duration {
                        duration_ms = *x;
                    } else {
                        dt_ms = *x;
                    }
                }
                SweepTarget::Stimulus { .. } => {
                    sweep::apply_stimulus(&mut stimuli, t, v).map_err(bad)?
                }
                SweepTarget::Temperature
                | SweepTarget::VInit
                | SweepTarget::Region { .. }
                | SweepTarget::Mechanism { .. } => {
                    let n = neuron.get_or_insert_with(|| self.neuron.clone());
                    sweep::apply_neuron(n, t, v).map_err(bad)?;
                }
                SweepTarget::Population { field, .. } => {
                    let Some(b) = &self.base_network else {
                        return Err(bad("the experiment has no network".into()));
                    };
                    let net = network.get_or_insert_with(|| b.clone());
                    sweep::apply_network(net, t, v).map_err(bad)?;
                    moves_synapses |= field.moves_synapses();
                }
            }
        }
        if !(duration_ms > 0.0 && dt_ms > 0.0) {
            return Err(Diagnostic::new(
                Code::E0314,
                format!("duration {duration_ms} ms and time step {dt_ms} ms must be positive"),
            ));
        }
        // Checked again here for models that did not come through `isf check` (plans read
        // back, the REPL): a huge count must be refused, not saturate or abort.
        let n_steps = crate::rules::steps(duration_ms, dt_ms)
            .map_err(|b| Diagnostic::new(b.code, b.message))?
            .round();
        // Whether only passive cable parameters change matters not: any neuron change may
        // change the compartments (d_lambda), so the cell is lowered anew.
        let new_cell = neuron.is_some();
        let neuron_ref = neuron.as_ref().unwrap_or(&self.neuron);
        let cell = match (base, new_cell) {
            (Some(b), false) => b.cell.clone(),
            _ => Arc::new(lower(neuron_ref, &self.mechanisms)?),
        };
        // Synapses are placed on compartments: a new cell or moved synapses place anew; a
        // point that changes only receptors, release or activity keeps the base placement.
        let (prep, replay) = match (&self.base_network, base) {
            (None, _) => (None, Arc::new(Vec::new())),
            (Some(_), Some(bp)) if !new_cell && network.is_none() => {
                (bp.network.clone(), bp.replay.clone())
            }
            (Some(b), bp) => {
                let net = network.as_ref().unwrap_or(b);
                let keep = bp.filter(|_| !new_cell && !moves_synapses);
                let (prep, replay) = if self.exp.replay.is_empty() {
                    let prep = match keep.and_then(|k| k.network.as_deref()) {
                        Some(k) => PreparedNetwork {
                            network: net.clone(),
                            ..k.clone()
                        },
                        None => prepare_network(net, &self.morph, &cell, self.exp.seed)?,
                    };
                    (prep, Vec::new())
                } else {
                    prepare_replay(net, &self.replay_files, &self.morph, &cell)?
                };
                (Some(Arc::new(prep)), Arc::new(replay))
            }
        };
        let receptors = match (&prep, base) {
            (None, _) => None,
            (Some(_), Some(bp)) if network.is_none() => bp.receptors.clone(),
            (Some(p), _) => Some(Arc::new(
                NetworkReceptors::new(&p.network, &self.mechanisms)
                    .map_err(|e| e.to_diagnostic())?,
            )),
        };
        let stims = self.stimuli(&stimuli, &cell, duration_ms)?;
        let probes = match base {
            Some(b) if !new_cell => b.probes.clone(),
            _ => {
                let p = self.probes(&cell, prep.is_some())?;
                self.check_state_probes(&p, &cell)?;
                p
            }
        };
        Ok(PointInputs {
            duration_ms,
            dt_ms,
            n_steps: n_steps as u64,
            temperature_degc: neuron_ref.temperature_degc,
            v_init_mv: neuron_ref.v_init_mv,
            cell,
            stimuli: stims,
            probes,
            network: prep,
            receptors,
            replay,
        })
    }

    /// The stimuli resolved to sites on `cell`; a step without a duration lasts to the end
    /// of the run (`duration_ms`).
    fn stimuli(
        &self,
        stimuli: &[crate::model::StimulusModel],
        cell: &LoweredCell,
        duration_ms: f64,
    ) -> Result<Vec<Stim>, Diagnostic> {
        let mut stims = Vec::new();
        for s in stimuli {
            let site = self.sites(&s.at, cell)?[0];
            stims.push(match s.kind {
                StimulusKind::Step {
                    delay_ms,
                    duration_ms: d,
                    amp_na,
                } => Stim::Step {
                    site,
                    delay_ms,
                    dur_ms: d.unwrap_or(duration_ms),
                    amp_na,
                },
                StimulusKind::Epsp {
                    onset_ms,
                    tau_rise_ms,
                    tau_decay_ms,
                    imax_na,
                } => Stim::Epsp {
                    site,
                    onset_ms,
                    tau0_ms: tau_rise_ms,
                    tau1_ms: tau_decay_ms,
                    imax_na,
                },
            });
        }
        Ok(stims)
    }

    /// Every mechanism state a recording reads exists at its site: refused before any
    /// trial runs (E0417) instead of failing every trial.
    fn check_state_probes(&self, probes: &[Probe], cell: &LoweredCell) -> Result<(), Diagnostic> {
        let mut tree = None;
        for p in probes {
            let Probe::State {
                name,
                site,
                mechanism,
                state,
            } = p
            else {
                continue;
            };
            let no =
                |why: String| Diagnostic::new(Code::E0417, format!("recording `{name}`: {why}"));
            let has_state = self
                .mechanisms
                .iter()
                .find(|m| m.name == *mechanism)
                .is_some_and(|m| m.states.iter().any(|s| s.name == *state));
            if !has_state {
                return Err(no(format!("`{mechanism}` has no state `{state}`")));
            }
            let Some(table) = cell.mechanisms.iter().find(|t| t.name == *mechanism) else {
                return Err(no(format!("`{mechanism}` is not inserted in this cell")));
            };
            if tree.is_none() {
                tree = Some(cable_tree(cell)?);
            }
            let Some(t) = &tree else { continue };
            let node = t.node_at(site.section, site.x);
            let seg: Vec<NodeId> = t.segment_nodes().collect();
            if !table
                .compartments
                .iter()
                .any(|&c| seg.get(c) == Some(&node))
            {
                return Err(no(format!(
                    "`{mechanism}` is not inserted at section {} x {}",
                    site.section, site.x
                )));
            }
        }
        Ok(())
    }

    /// The places on `cell` a site names (several for landmark files).
    fn sites(&self, at: &SiteSpec, cell: &LoweredCell) -> Result<Vec<Site>, Diagnostic> {
        match at {
            SiteSpec::Region { region, x } => {
                let label = region_label(region);
                let section = cell
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
                Ok(vec![Site { section, x: *x }])
            }
            SiteSpec::Section { index, x } => {
                let n = cell.geometry.sections.len();
                if *index as usize >= n {
                    return Err(Diagnostic::new(
                        Code::E0314,
                        format!("section {index} does not exist (the cell has {n} sections)"),
                    ));
                }
                Ok(vec![Site {
                    section: *index as usize,
                    x: *x,
                }])
            }
            SiteSpec::Landmarks { path } => {
                let points = crate::interop::formats::landmark::read_landmarks(Path::new(path))
                    .map_err(|e| e.to_diagnostic_plain())?;
                let nseg: Vec<usize> = cell.geometry.sections.iter().map(|s| s.nseg).collect();
                Ok(points
                    .iter()
                    .map(|p| nearest_site(&self.morph, &nseg, *p))
                    .collect())
            }
            SiteSpec::ApicalDistance { distance_um } => {
                apical_site(&self.morph, *distance_um).map(|s| vec![s])
            }
        }
    }

    /// The recordings resolved to places on `cell`.
    fn probes(&self, cell: &LoweredCell, has_network: bool) -> Result<Vec<Probe>, Diagnostic> {
        let mut out = Vec::new();
        for r in &self.exp.record {
            out.extend(self.record_probes(r, cell, has_network)?);
        }
        Ok(out)
    }

    /// The probes of one recording (one per site; none for a recording that fails).
    fn record_probes(
        &self,
        r: &crate::model::RecordingModel,
        cell: &LoweredCell,
        has_network: bool,
    ) -> Result<Vec<Probe>, Diagnostic> {
        let mut out = Vec::new();
        let many = |sites: &[Site], i: usize, name: &str| -> String {
            if sites.len() > 1 {
                // `sites(f).v` → `sites(f)[3].v`, `spikes(sites(f))` → `spikes(sites(f)[3])`.
                match name.strip_prefix("spikes(") {
                    Some(rest) => {
                        format!("spikes({}[{i}])", rest.trim_end_matches(')'))
                    }
                    None => match name.split_once(").") {
                        Some((a, b)) => format!("{a})[{i}].{b}"),
                        None => format!("{name}[{i}]"),
                    },
                }
            } else {
                name.to_string()
            }
        };
        match &r.what {
            Recording::Voltage { at } => {
                let sites = self.sites(at, cell)?;
                for (i, s) in sites.iter().enumerate() {
                    out.push(Probe::V {
                        name: many(&sites, i, &r.name),
                        site: *s,
                    });
                }
            }
            Recording::Ion { at, ion, field } => {
                let sites = self.sites(at, cell)?;
                for (i, s) in sites.iter().enumerate() {
                    out.push(Probe::Ion {
                        name: many(&sites, i, &r.name),
                        site: *s,
                        ion: ion.clone(),
                        field: *field,
                    });
                }
            }
            Recording::State {
                at,
                mechanism,
                state,
            } => {
                let sites = self.sites(at, cell)?;
                for (i, s) in sites.iter().enumerate() {
                    out.push(Probe::State {
                        name: many(&sites, i, &r.name),
                        site: *s,
                        mechanism: mechanism.clone(),
                        state: state.clone(),
                    });
                }
            }
            Recording::Spikes { at, threshold_mv } => {
                let sites = self.sites(at, cell)?;
                for (i, s) in sites.iter().enumerate() {
                    out.push(Probe::Spikes {
                        name: many(&sites, i, &r.name),
                        site: *s,
                        threshold_mv: *threshold_mv,
                    });
                }
            }
            Recording::AllCompartments => out.push(Probe::AllV {
                name: r.name.clone(),
            }),
            Recording::SynapseActivations | Recording::PresynapticSpikes if !has_network => {
                return Err(unsupported(format!(
                    "recording `{}` needs a network: the experiment has none",
                    r.name
                )));
            }
            Recording::SynapseActivations => out.push(Probe::Activations),
            Recording::PresynapticSpikes => out.push(Probe::PresynapticSpikes),
        }
        Ok(out)
    }
}

/// Refuse a network whose generated activity would be too large for one trial (E0418), at
/// the experiment's longest duration; returns it unchanged otherwise.
fn check_spikes(
    net: crate::network::Network,
    exp: &ExperimentModel,
) -> Result<crate::network::Network, Diagnostic> {
    let t_stop = exp
        .sweep
        .iter()
        .filter(|a| a.target == SweepTarget::Duration)
        .flat_map(|a| a.values.iter())
        .filter_map(|v| match v {
            SweepValue::Num(x) => Some(*x),
            _ => None,
        })
        .fold(exp.duration_ms, f64::max);
    for p in &net.populations {
        let n: f64 = p
            .activity
            .iter()
            .map(|a| crate::network::activity::spike_estimate(a, p.cells, t_stop))
            .sum();
        crate::rules::spikes(&format!("population `{}`", p.name), n).map_err(|b| {
            Diagnostic::new(b.code, format!("network `{}`: {}", net.name, b.message))
        })?;
    }
    Ok(net)
}

/// Refuse a run that would record more than the limits allow (E0418), before any trial runs.
///
/// Bytes of a trial are samples (steps + 1) × traces × 8: one trace per site of a voltage, ion
/// or state recording and one per compartment for `all_compartments`. Spike times, synapse
/// activations and presynaptic spikes are events whose number depends on the activity; they
/// are left out. Under a `duration` or `dt` sweep the longest point's steps are used, and a
/// sweep of cable parameters is counted with the base cell's compartments.
fn check_recorded_bytes(exp: &ExperimentModel, base: &PointInputs) -> Result<(), Diagnostic> {
    let traces = base.probes.iter().fold(0u64, |n, p| {
        n.saturating_add(match p {
            Probe::V { .. } | Probe::Ion { .. } | Probe::State { .. } => 1,
            Probe::AllV { .. } => base.cell.n_compartments() as u64,
            Probe::Spikes { .. } | Probe::Activations | Probe::PresynapticSpikes => 0,
        })
    });
    let axis_values = |t: SweepTarget| -> Vec<f64> {
        exp.sweep
            .iter()
            .filter(|a| a.target == t)
            .flat_map(|a| a.values.iter())
            .filter_map(|v| match v {
                SweepValue::Num(x) => Some(*x),
                _ => None,
            })
            .collect()
    };
    let longest = axis_values(SweepTarget::Duration)
        .into_iter()
        .fold(base.duration_ms, f64::max);
    let finest = axis_values(SweepTarget::Dt)
        .into_iter()
        .fold(base.dt_ms, f64::min);
    let steps = crate::rules::steps(longest, finest)
        .map_err(|b| Diagnostic::new(b.code, format!("a sweep point: {}", b.message)))?
        .round() as u64;
    let per_trial = steps
        .saturating_add(1)
        .saturating_mul(traces)
        .saturating_mul(8);
    let items = exp.sweep_points.saturating_mul(exp.trials);
    crate::rules::recorded_bytes(per_trial, per_trial.saturating_mul(items)).map_err(|b| {
        Diagnostic::new(b.code, b.message).note(format!(
            "{} samples × {traces} traces × 8 bytes per trial, {} trials",
            steps.saturating_add(1),
            items
        ))
    })
}

/// The experiment's network with every synapse placed on its neuron, exactly as `isf run`
/// places them (for `isf plan`'s synapse summary). `None` when the experiment has no network.
pub fn placed_network(
    model: &Model,
    exp: &ExperimentModel,
) -> Result<Option<PreparedNetwork>, Diagnostic> {
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
    let morph = site_morphology(neuron)?;
    let net = typed_network(model, name)?;
    prepare_network(&net, &morph, &base, exp.seed).map(Some)
}

/// The cable tree of a lowered cell (E0504 if its geometry is unusable).
fn cable_tree(lc: &LoweredCell) -> Result<crate::sim::CableTree, Diagnostic> {
    crate::sim::CableTree::from_geometry(&lc.geometry)
        .map_err(|e| Diagnostic::new(Code::E0504, e.to_string()))
}

/// Place a network's synapses on the cell: anatomy synapses from their files, declared ones
/// from the experiment seed ([`crate::network::declared`]), the same for every trial.
fn prepare_network(
    net: &Network,
    morph: &Morphology,
    cell: &LoweredCell,
    experiment_seed: u64,
) -> Result<PreparedNetwork, Diagnostic> {
    let (placer, labels) = cell_placer(morph, cell)?;
    let seed = crate::network::declared::placement_seed(experiment_seed);
    PreparedNetwork::build(net, &placer, labels, seed).map_err(|e| e.to_diagnostic_plain())
}

/// The network for a replay and the input of every trial, derived from the replay files
/// (read once, before any trial runs). The anatomy is read only when an ISF activation file
/// is replayed on a network that has one (to keep the recorded synapse IDs and soma
/// distances); spike-time files and anatomy-free networks place each replayed synapse from
/// its own location. The trial inputs carry the network's weights, so a point that changes
/// the network derives them anew.
fn prepare_replay(
    net: &Network,
    read: &[ReplayFile],
    morph: &Morphology,
    cell: &LoweredCell,
) -> Result<(PreparedNetwork, Vec<TrialInput>), Diagnostic> {
    use crate::interop::replay::trial_input;
    use crate::network::SynapseSource;
    let (placer, labels) = cell_placer(morph, cell)?;
    let anatomy = net
        .populations
        .iter()
        .all(|p| matches!(p.synapses, SynapseSource::Anatomy { .. }));
    let prep = if anatomy && read.iter().any(|f| f.format() == "isf_activations") {
        // Only anatomy populations here (checked above): no declared synapse to place.
        PreparedNetwork::build(net, &placer, labels, 0).map_err(|e| e.to_diagnostic_plain())?
    } else {
        PreparedNetwork::without_anatomy(net, labels)
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
    let net = match &nm.isf_network_param {
        Some(path) => crate::interop::network_param::isf_network_param(Path::new(path))
            .map_err(|e| e.to_diagnostic_plain())?,
        None => crate::network::lower::from_model(nm)
            .map_err(|e| unsupported(format!("network `{name}`: {e}")))?,
    };
    // Cells and synapses are allocated per item: a `cellNr` of 4e9 in a parameter file must
    // be refused here, not abort on allocation.
    let (cells, synapses) = net.populations.iter().fold((0u64, 0u64), |(c, s), p| {
        let declared = match &p.synapses {
            crate::network::SynapseSource::Declared(d) => u64::from(d.count),
            crate::network::SynapseSource::Anatomy { .. } => 0,
        };
        (c + u64::from(p.cells), s + declared)
    });
    let size = |what: &str, n: u64| {
        crate::rules::network_size(what, n)
            .map_err(|b| Diagnostic::new(b.code, format!("network `{name}`: {}", b.message)))
    };
    size("presynaptic cells", cells)?;
    size("declared synapses", synapses)?;
    Ok(net)
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

/// The lowering of a neuron that every run uses: each sweep point's cell comes from here, and
/// so do the cells `isf morph` and `isf plan --compartments` print (one code path, so what
/// they show is what runs: every cell modification applied).
pub fn lower(
    n: &NeuronModel,
    mechs: &[crate::model::MechModel],
) -> Result<LoweredCell, Diagnostic> {
    build_cell(n, mechs).map_err(|e| lower_diag(&e))
}

/// The morphology the run resolves sites on: the neuron's file with the generated axon
/// appended when the neuron has one (the same sections as its lowered cell, diameters before
/// cell modifications — sites depend on lengths only).
fn site_morphology(neuron: &NeuronModel) -> Result<Morphology, Diagnostic> {
    let mut morph = read_morphology(neuron).map_err(|e| lower_diag(&[*e]))?;
    if neuron.axon.is_some() {
        // Same sections as the lowered cell (the generated axon comes last).
        morph.add_hay2013_axon();
    }
    Ok(morph)
}

/// Whether a resolved site belongs to a stimulus or a recording.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SiteRole {
    Stimulus,
    Recording,
}

/// One stimulus or recording of an experiment with the place on the cell the run uses.
#[derive(Clone, Debug, PartialEq)]
pub struct PlacedSite {
    pub role: SiteRole,
    /// The stimulus name, or the recording's name as stored (`apical_distance(620 um).v`;
    /// one per landmark for `sites(…)`).
    pub name: String,
    /// The site as written (`soma`, `apical_distance(294.82 um)`, `sites(file)`).
    pub written: String,
    pub site: Site,
}

/// The sites of an experiment's stimuli and recordings on `cell` (the lowered cell of the
/// experiment's neuron, see [`lower`]), resolved by the code the run uses at its base point
/// (a sweep that changes the neuron may move them). Recordings without a site (all
/// compartments, synapse activations, presynaptic spikes) are left out.
pub fn experiment_sites(
    model: &Model,
    exp: &ExperimentModel,
    cell: &LoweredCell,
) -> Result<Vec<PlacedSite>, Diagnostic> {
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
    let setup = Setup {
        exp: exp.clone(),
        morph: site_morphology(&neuron)?,
        neuron,
        mechanisms: Vec::new(),
        base_network: None,
        replay_files: Vec::new(),
    };
    let mut out = Vec::new();
    let stims = setup.stimuli(&exp.stimuli, cell, exp.duration_ms)?;
    for (s, st) in exp.stimuli.iter().zip(&stims) {
        let site = match st {
            Stim::Step { site, .. } | Stim::Epsp { site, .. } => *site,
        };
        out.push(PlacedSite {
            role: SiteRole::Stimulus,
            name: s.name.clone(),
            written: s.at.name(),
            site,
        });
    }
    for r in &exp.record {
        let at = match &r.what {
            Recording::Voltage { at }
            | Recording::Ion { at, .. }
            | Recording::State { at, .. }
            | Recording::Spikes { at, .. } => at,
            _ => continue,
        };
        // `true`: a network recording is only left out here, never refused.
        for p in setup.record_probes(r, cell, true)? {
            let (name, site) = match p {
                Probe::V { name, site }
                | Probe::Ion { name, site, .. }
                | Probe::State { name, site, .. }
                | Probe::Spikes { name, site, .. } => (name, site),
                Probe::AllV { .. } | Probe::Activations | Probe::PresynapticSpikes => continue,
            };
            out.push(PlacedSite {
                role: SiteRole::Recording,
                name,
                written: at.name(),
                site,
            });
        }
    }
    Ok(out)
}

fn lower_diag(errors: &[crate::lower::cell::LowerError]) -> Diagnostic {
    let first = &errors[0];
    let mut d = Diagnostic::new(first.code, first.message.clone());
    for e in &errors[1..] {
        d = d.note(format!("[{}] {}", e.code.as_str(), e.message));
    }
    d
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
    /// Index into the cell's per-node arrays (node and lane, [`ActiveCell::index`]).
    V(usize),
    Ion(usize, IonField, usize),
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

/// Spike times by the one detection rule ([`crate::kernel::spikes`]), at the samples' times
/// on the trace's grid ([`super::TimeGrid`]).
pub fn spike_times(v: &[f64], dt_ms: f64, threshold_mv: f64) -> Vec<f64> {
    let grid = super::TimeGrid::new(dt_ms);
    crate::kernel::spikes::crossings(v, threshold_mv)
        .map(|i| grid.at(i))
        .collect()
}

/// Bytes of recorded samples a batch of trials may hold at once: a point whose recordings are
/// large (e.g. every compartment's voltage) runs in fewer lanes, so batching keeps the peak
/// memory near a solo run's.
const BATCH_RECORD_BYTES: usize = 64 << 20;

impl TrialRunner for CellRunner {
    /// Run one trial. The sweep point's values come from the typed axes of the experiment
    /// (`item.point`); `_point` is their display form (paths and values with units), which
    /// the store records as metadata.
    fn run(&self, item: &WorkItem, point: &[(String, Value)]) -> Result<TrialOutput, Diagnostic> {
        self.run_batch(std::slice::from_ref(item), point)
            .pop()
            .unwrap_or_else(|| Err(unsupported("no result for the trial".into())))
    }

    /// Up to 8 lanes, fewer where the point's recordings of that many trials would exceed
    /// `BATCH_RECORD_BYTES` (64 MiB of samples).
    fn batch_limit(&self, point: u64) -> usize {
        let Ok(pi) = self.point_inputs(point) else {
            return 1;
        };
        let per_sample: usize = pi
            .probes
            .iter()
            .map(|p| match p {
                Probe::AllV { .. } => pi.cell.n_compartments(),
                Probe::Activations | Probe::PresynapticSpikes => 0,
                _ => 1,
            })
            .sum();
        let bytes = per_sample.max(1) * (pi.n_steps as usize + 1) * 8;
        (BATCH_RECORD_BYTES / bytes).clamp(1, 8)
    }

    /// Run trials of one sweep point side by side, one per lane of an
    /// [`ActiveCell::with_lanes`]: each lane's result is its trial's solo result bit for bit
    /// (the kernel's lanes are tested against solo runs), and a lane that fails fails alone.
    fn run_batch(
        &self,
        items: &[WorkItem],
        point: &[(String, Value)],
    ) -> Vec<Result<TrialOutput, Diagnostic>> {
        if items.iter().any(|i| i.point != items[0].point) {
            return items.iter().map(|i| self.run(i, point)).collect();
        }
        let mut out: Vec<Option<Result<TrialOutput, Diagnostic>>> = vec![None; items.len()];
        if let Err(d) = self.run_lanes(items, &mut out) {
            for o in out.iter_mut().filter(|o| o.is_none()) {
                *o = Some(Err(d.clone()));
            }
        }
        out.into_iter()
            .map(|o| o.unwrap_or_else(|| Err(unsupported("no result for the trial".into()))))
            .collect()
    }
}

impl CellRunner {
    /// The batch behind [`TrialRunner::run_batch`]: per-trial failures (input, a lane's run)
    /// go into `out` by item; an error of the shared cell is returned for every item left.
    fn run_lanes(
        &self,
        items: &[WorkItem],
        out: &mut [Option<Result<TrialOutput, Diagnostic>>],
    ) -> Result<(), Diagnostic> {
        let pi = self.point_inputs(items[0].point)?;
        let lc: &LoweredCell = &pi.cell;
        let (duration, dt) = (pi.duration_ms, pi.dt_ms);
        let n_steps = pi.n_steps as usize;
        // Each trial's input first: a trial whose input fails is left out of the lanes.
        let mut lanes: Vec<(usize, Option<TrialInput>, Option<SynapseSet>)> = Vec::new();
        for (k, item) in items.iter().enumerate() {
            match self.trial_input(&pi, item, duration) {
                Ok((inp, set)) => lanes.push((k, inp, set)),
                Err(d) => out[k] = Some(Err(d)),
            }
        }
        if lanes.is_empty() {
            return Ok(());
        }
        let n_lanes = lanes.len();
        let tree = cable_tree(lc)?;
        let placements: Vec<MechPlacement> = lc
            .mechanisms
            .iter()
            .filter_map(|t| {
                let m = self.setup.mechanisms.iter().find(|m| m.name == t.name)?;
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
            v_init_mv: pi.v_init_mv,
            celsius_degc: pi.temperature_degc,
            ..CellConfig::default()
        };
        let mut cell = ActiveCell::with_lanes(tree, &placements, &reversal, cfg, n_lanes)
            .map_err(|e| e.to_diagnostic())?;
        for (lane, (_, _, set)) in lanes.iter_mut().enumerate() {
            if let Some(set) = set.take() {
                cell.add_synapses_in(lane, set)
                    .map_err(|e| e.to_diagnostic())?;
            }
        }
        for s in &pi.stimuli {
            match *s {
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
        // Where each recording reads its value in each lane: resolved once, then sampled
        // every step into preallocated buffers.
        let readers: Vec<Vec<Reader>> = (0..n_lanes)
            .map(|lane| readers(&cell, &pi.probes, lane))
            .collect::<Result<_, _>>()?;
        let samples = n_steps + 1;
        let mut data: Vec<Vec<Vec<f64>>> = readers
            .iter()
            .map(|r| r.iter().map(|_| Vec::with_capacity(samples)).collect())
            .collect();
        let sample = |cell: &ActiveCell, readers: &[Reader], data: &mut [Vec<f64>]| {
            for (r, col) in readers.iter().zip(data.iter_mut()) {
                col.push(match *r {
                    Reader::V(i) => cell.v_mv()[i],
                    Reader::Ion(k, f, i) => {
                        let p = &cell.ions()[k];
                        match f {
                            IonField::Reversal => p.e_mv[i],
                            IonField::Inside => p.ci_mm[i],
                            IonField::Current => p.i_ma_cm2[i],
                        }
                    }
                    Reader::State(m, s, i) => cell.mechanisms()[m].state(s)[i],
                });
            }
        };
        cell.init();
        for (r, d) in readers.iter().zip(data.iter_mut()) {
            sample(&cell, r, d);
        }
        // Per lane: the error that stopped it (a solo cell returns it from `step`; a cell
        // with lanes keeps it per lane and runs the others on).
        let mut failed: Vec<Option<Diagnostic>> = vec![None; n_lanes];
        for _ in 0..n_steps {
            if let Err(e) = cell.step() {
                failed[0] = Some(e.to_diagnostic());
            }
            for lane in 0..n_lanes {
                if failed[lane].is_some() {
                    continue;
                }
                match cell.lane_error(lane) {
                    Some(e) => failed[lane] = Some(e.to_diagnostic()),
                    None => sample(&cell, &readers[lane], &mut data[lane]),
                }
            }
            if failed.iter().all(Option::is_some) {
                break;
            }
        }
        for (((k, input, _), data), failed) in lanes.into_iter().zip(data).zip(failed) {
            out[k] = Some(match failed {
                Some(d) => Err(d),
                None => Ok(self.output(&pi, lc, data, input.as_ref())),
            });
        }
        Ok(())
    }

    /// One trial's network input and its synapses (none without a network). All randomness
    /// of a trial derives from its seed (spec 04; `run::stream_seed`); a replay takes its
    /// trial's recorded input instead, and stochastic receptors (ProbAMPANMDA2, …) still draw
    /// from the trial's seed.
    fn trial_input(
        &self,
        pi: &PointInputs,
        item: &WorkItem,
        duration: f64,
    ) -> Result<(Option<TrialInput>, Option<SynapseSet>), Diagnostic> {
        let (Some(prep), Some(receptors)) = (&pi.network, &pi.receptors) else {
            return Ok((None, None));
        };
        let inp = if self.setup.exp.replay.is_empty() {
            crate::network::generate_trial(prep, item.seed, duration)
        } else {
            let mut recorded = pi.replay.get(item.trial as usize).cloned().ok_or_else(|| {
                Diagnostic::new(
                    Code::E0314,
                    format!(
                        "trial {} has no replay file ({} given)",
                        item.trial,
                        pi.replay.len()
                    ),
                )
            })?;
            recorded.trial_seed = item.seed;
            recorded
        };
        let set = receptors.synapses(&inp).map_err(|e| e.to_diagnostic())?;
        Ok((Some(inp), Some(set)))
    }

    /// A finished trial's recordings as its output.
    fn output(
        &self,
        pi: &PointInputs,
        lc: &LoweredCell,
        data: Vec<Vec<f64>>,
        input: Option<&TrialInput>,
    ) -> TrialOutput {
        let dt = pi.dt_ms;
        let mut out = TrialOutput::default();
        let mut cols = data.into_iter();
        for p in &pi.probes {
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
                    if let (Some(prep), Some(inp)) = (&pi.network, input) {
                        out.tables.push((
                            "synapse_activations".into(),
                            super::sink::activation_table(crate::interop::replay::activation_rows(
                                prep, inp,
                            )),
                        ));
                    }
                }
                Probe::PresynapticSpikes => {
                    if let Some(inp) = input {
                        out.tables
                            .push(("presynaptic_spikes".into(), presynaptic_table(inp)));
                    }
                }
            }
        }
        out
    }
}

/// Where each recording of `probes` reads its value in lane `lane` of `cell`.
fn readers(cell: &ActiveCell, probes: &[Probe], lane: usize) -> Result<Vec<Reader>, Diagnostic> {
    let mut readers: Vec<Reader> = Vec::new();
    for p in probes {
        match p {
            Probe::V { site, .. } | Probe::Spikes { site, .. } => readers.push(Reader::V(
                cell.index(cell.tree().node_at(site.section, site.x), lane),
            )),
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
                readers.push(Reader::Ion(k, *field, cell.index(node, lane)));
            }
            Probe::State {
                site,
                mechanism,
                state,
                name,
            } => {
                let at = cell.index(cell.tree().node_at(site.section, site.x), lane);
                let (m, mech) = cell
                    .mechanisms()
                    .iter()
                    .enumerate()
                    .find(|(_, m)| m.name == *mechanism)
                    .ok_or_else(|| {
                        Diagnostic::new(
                            Code::E0417,
                            format!("{name}: `{mechanism}` is not inserted in this cell"),
                        )
                    })?;
                let s = mech
                    .state_names
                    .iter()
                    .position(|n| n == state)
                    .ok_or_else(|| {
                        unsupported(format!("{name}: `{mechanism}` has no state `{state}`"))
                    })?;
                let i = mech
                    .nodes
                    .iter()
                    .position(|&n| n as usize == at)
                    .ok_or_else(|| {
                        unsupported(format!(
                            "{name}: `{mechanism}` is not inserted at this site"
                        ))
                    })?;
                readers.push(Reader::State(m, s, i));
            }
            Probe::AllV { .. } => {
                for n in cell.tree().segment_nodes() {
                    readers.push(Reader::V(cell.index(n, lane)));
                }
            }
            Probe::Activations | Probe::PresynapticSpikes => {}
        }
    }
    Ok(readers)
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
