//! [`ActiveCell`]: a cable tree with compiled mechanism kernels, ions and electrodes, advanced
//! with NEURON's fixed-step backward-Euler scheme (`secondorder = 0`).
//!
//! This is the one engine: every run, the analytic solver tests and the benchmarks (a passive
//! cell is an `ActiveCell` with `std.channels.hay2011`'s `pas`) step through [`ActiveCell::step`].
//!
//! # Data layout
//!
//! Everything lives in the tree's node order (CoreNEURON's single structure of arrays): `v`,
//! `rhs`, `d`, and every ion's reversal potential, concentrations and current total. A
//! compiled mechanism's instances are sorted by node, and it reads and writes these arrays
//! through precomputed runs of consecutive nodes; the tree stores a section's segments
//! contiguously (see [`crate::sim::tree`]), so a mechanism inserted in a region covers a few
//! long runs, on which its native kernel reads `v` and adds its currents in place (see
//! `kernel/direct.rs`); short runs are gathered into temporaries and scattered back. Ion
//! currents accumulate in place. The axial pass and the Hines solve walk the nodes in the
//! tree's elimination order (level by level), which is what fixes the bits, not the storage
//! order. Nothing is copied between orders during
//! a step; the only per-step copy is `d ← d_fixed` (the capacitive and axial part of the
//! diagonal, which the Hines solve overwrites; as a `memcpy` beside `rhs ← 0` as a `memset`
//! it measured faster than folded into the voltage update's pass). Ion current totals are
//! zeroed only over the ranges of nodes where a mechanism adds to them (a passive cell touches
//! no ion array), and Nernst runs over ranges of consecutive nodes in one vectorised pass.
//!
//! # Step
//!
//! One step from `t_n` to `t_{n+1}` (NEURON's `nrn_fixed_step`):
//!
//! 1. reversal potentials of ions whose inside concentration a mechanism writes: Nernst from
//!    the present concentrations (NEURON's ion mechanisms run first in the current phase);
//! 2. ion current totals ← 0 (where written); every mechanism adds `−i(v_n)` to `rhs`, `∂i/∂v` to `d` and its
//!    ion currents to the ion totals; electrodes add their current at `t_n + dt/2`;
//! 3. axial terms, Hines solve, `v ← v + Δv` with the limit check;
//! 4. states with `v_{n+1}`: mechanisms that write a concentration first (NEURON runs
//!    `CaDynamics_E2` before `SK_E2`, which then sees the new `cai`), then the others in the
//!    given order; written concentrations are published to the ion after each mechanism;
//! 5. `t ← t_{n+1}`; record.
//!
//! # Trials in lanes
//!
//! [`ActiveCell::with_lanes`] runs `L` trials of one cell in lockstep, one per lane: every
//! per-node array holds `L` values per node, lane-minor (`v[node·L + lane]`). A mechanism's
//! instances become (node, lane) pairs with the parameters repeated per lane, so its runs of
//! consecutive indices are `L` times longer; the axial terms, the Hines solve
//! ([`hines::solve_lanes`]) and the voltage update do per node the same operations across the
//! lanes. Electrodes, EPSP currents and synapses (with their events and draws) belong to one
//! lane each. Every operation a lane does is the operation, in the order, of the same trial
//! run alone (the mechanism programs are elementwise, and their only fused multiply-adds are
//! those written out in `vexp`, which round exactly once at any width, so neither an
//! instance's position in a chunk nor the SIMD width changes its bits): each lane's results
//! are bit-identical to a solo run (tested in `kernel::tests`). A lane whose voltage runs
//! away or turns NaN is diagnosed for itself ([`ActiveCell::lane_error`]) and the others go on.
//!
//! Initialisation (`finitialize(v_init)`): every voltage `v_init`; concentrations at NEURON's
//! defaults (`nai0` 10, `nao0` 140, `ki0` 54.4, `ko0` 2.5, `cai0` 5e-5, `cao0` 2 mM); Nernst
//! reversal potentials where a concentration is written; then every mechanism's states (gates at
//! `x∞(v_init)`, ODE states at their declared initial value), writers first.
//!
//! Nernst: `e = 1000·R·(T + 273.15)/F / z · ln(co/ci)` mV with NEURON ≥ 8's constants
//! `R = 8.314462618…`, `F = 96485.33212…` (exact SI products) and `T` the cell temperature.

use super::error::KernelError;
use super::mechanism::{CompileEnv, CompiledMech, Env, IonPool};
use super::synapse::{SynapseKernel, SynapseSet};
use super::vexp;
use crate::model::MechModel;
use crate::sim::SimError;
use crate::sim::hines;
use crate::sim::tree::{CableTree, Elimination, NodeId};
use ndarray::{Array2, ArrayView2, s};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// Gas constant, J/(mol·K) (NEURON ≥ 8: k_B·N_A).
pub const GAS_CONSTANT: f64 = 8.314_462_618_153_24;
/// Faraday constant, C/mol (NEURON ≥ 8: e·N_A).
pub const FARADAY: f64 = 96_485.332_123_310_01;
/// NEURON's `eca` where no mechanism writes `cai` (independent of temperature).
pub const ECA_DEFAULT_MV: f64 = 132.457_934_163_700_9;

/// Ions the cell knows: name, valence, default inside/outside concentration (mM), default
/// reversal potential (mV) where none is given and no concentration is written.
const IONS: [(&str, f64, f64, f64, f64); 3] = [
    ("na", 1.0, 10.0, 140.0, 50.0),
    ("k", 1.0, 54.4, 2.5, -77.0),
    ("ca", 2.0, 5.0e-5, 2.0, ECA_DEFAULT_MV),
];

/// Settings of an active-cell run.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CellConfig {
    /// Time step, ms.
    pub dt_ms: f64,
    /// Initial voltage of every node, mV.
    pub v_init_mv: f64,
    /// Temperature (`celsius`), °C: the Nernst potentials and any mechanism reading `celsius`.
    pub celsius_degc: f64,
    /// A voltage beyond `±v_limit_mv` stops the run (E0502).
    pub v_limit_mv: f64,
}

impl Default for CellConfig {
    fn default() -> CellConfig {
        CellConfig {
            dt_ms: 0.025,
            v_init_mv: -75.0,
            celsius_degc: 34.0,
            v_limit_mv: 1.0e3,
        }
    }
}

/// One mechanism inserted on a set of compartments.
///
/// Compartments are **segment indices** in the tree's segment order
/// ([`CableTree::segment_nodes`]: section by section in section-index order, segments from the
/// 0-end), i.e. the row order of the conformance segment table. `params` maps a parameter name
/// of the mechanism to one value per listed compartment, in the parameter's canonical unit
/// (S/cm², mV, ms, mM, µm, …, as in [`MechModel::parameters`]); parameters not given take
/// their declared default.
#[derive(Clone, Debug)]
pub struct MechPlacement<'a> {
    /// The lowered mechanism.
    pub mechanism: &'a MechModel,
    /// Segment indices carrying it.
    pub segments: Vec<usize>,
    /// Parameter columns (one value per entry of `segments`).
    pub params: BTreeMap<String, Vec<f64>>,
}

/// EPSP-shaped current (spec 03 §3.7, Schaefer et al. 2003), a point process:
/// `i = −adjust·imax·[(1 − e(−s/τ0)) − (1 − e(−s/τ1))]` nA for `s = t − onset ≥ 0`, with
/// `e(x) = 0` for `x < −100` and `adjust` normalising the bracket's peak to 1 (inward current
/// of peak `imax`). [`ActiveCell::add_epsp`] runs the language form of this formula
/// (`std.stimuli`'s `epsp`, compiled like any point process); this struct holds its
/// parameters and the formula written out in Rust, the reference the compiled one is tested
/// against.
#[derive(Clone, Copy, Debug)]
pub struct Epsp {
    /// Node it sits in.
    pub node: NodeId,
    /// Onset, ms.
    pub onset_ms: f64,
    /// Rise time constant, ms.
    pub tau0_ms: f64,
    /// Decay time constant, ms.
    pub tau1_ms: f64,
    /// Peak current, nA.
    pub imax_na: f64,
}

impl Epsp {
    fn ex(x: f64) -> f64 {
        if x < -100.0 { 0.0 } else { x.exp() }
    }

    /// The peak normalisation (the mod file's INITIAL block).
    pub fn adjust(&self) -> f64 {
        let (t0, t1) = (self.tau0_ms, self.tau1_ms);
        let tpeak = t0 * t1 * (t0 / t1).ln() / (t0 - t1);
        1.0 / ((1.0 - Self::ex(-tpeak / t0)) - (1.0 - Self::ex(-tpeak / t1)))
    }

    /// Membrane current (outward positive) at time `t_ms`, nA.
    pub fn current_na(&self, t_ms: f64, adjust: f64) -> f64 {
        if t_ms < self.onset_ms {
            0.0
        } else {
            let s = t_ms - self.onset_ms;
            -adjust
                * self.imax_na
                * ((1.0 - Self::ex(-s / self.tau0_ms)) - (1.0 - Self::ex(-s / self.tau1_ms)))
        }
    }
}

/// NEURON's current clamp: `amp` nA into the node while `delay ≤ t < delay + dur`, `t` being
/// the half-step evaluation time. Positive `amp` depolarises (electrode current); a point
/// current of `I` nA at a node of area `A` µm² enters `rhs` as `I·1e2/A` mA/cm².
#[derive(Clone, Copy, Debug)]
pub struct IClamp {
    /// Node the electrode is in.
    pub node: NodeId,
    /// Onset, ms.
    pub delay_ms: f64,
    /// Duration, ms.
    pub dur_ms: f64,
    /// Amplitude, nA.
    pub amp_na: f64,
}

impl IClamp {
    /// The electrode current at time `t_ms`, nA (NEURON's BREAKPOINT of IClamp).
    pub fn current_na(&self, t_ms: f64) -> f64 {
        if t_ms < self.delay_ms + self.dur_ms && t_ms >= self.delay_ms {
            self.amp_na
        } else {
            0.0
        }
    }
}

/// Number of fixed steps to reach `t_stop_ms`: `round(t_stop/dt)`. A run of that many steps
/// records `steps + 1` samples (`t = 0 … t_stop`); ISF's own files have one more (spec 2.8).
pub fn steps_for(t_stop_ms: f64, dt_ms: f64) -> usize {
    (t_stop_ms / dt_ms).round() as usize
}

/// `std.channels.hay2011`'s `pas` (NEURON's passive leak `i = g·(v − e)`), checked once per
/// process: a passive cell is an [`ActiveCell`] with this mechanism.
pub fn stdlib_pas() -> Result<&'static MechModel, String> {
    static LIB: std::sync::OnceLock<Result<MechModel, String>> = std::sync::OnceLock::new();
    LIB.get_or_init(|| stdlib_mechanism(&["channels", "hay2011"], "pas", "density"))
        .as_ref()
        .map_err(Clone::clone)
}

/// Check a standard-library module on its own and take one mechanism out of it.
fn stdlib_mechanism(module: &[&str], name: &str, sort: &str) -> Result<MechModel, String> {
    let (file, text) = crate::stdlib::module(module)
        .ok_or_else(|| format!("stdlib module std.{} is missing", module.join(".")))?;
    let checked = crate::sema::check::check_text(&file, text, std::path::Path::new("."));
    if checked.has_errors() {
        return Err(checked
            .diagnostics
            .iter()
            .map(|d| format!("{}: {}", d.code.as_str(), d.message))
            .collect::<Vec<_>>()
            .join("; "));
    }
    checked
        .model
        .mechanisms
        .into_iter()
        .find(|m| m.name == name && m.sort == sort)
        .ok_or_else(|| {
            format!(
                "std.{} declares no {sort} mechanism `{name}`",
                module.join(".")
            )
        })
}

/// `std.stimuli`'s `epsp` point process, checked once per process.
pub fn stdlib_epsp() -> Result<&'static MechModel, String> {
    static LIB: std::sync::OnceLock<Result<MechModel, String>> = std::sync::OnceLock::new();
    LIB.get_or_init(|| stdlib_mechanism(&["stimuli"], "epsp", "point"))
        .as_ref()
        .map_err(Clone::clone)
}

/// Wall time spent in the parts of the step loop.
#[derive(Clone, Copy, Debug, Default)]
pub struct Profile {
    /// Reversal potentials, mechanism currents and electrodes.
    pub currents: Duration,
    /// Axial terms, Hines solve, voltage update and check.
    pub matrix: Duration,
    /// Mechanism state updates.
    pub states: Duration,
    /// Steps taken.
    pub steps: u64,
}

/// Voltage traces at fixed nodes: a 2-D array, one row per sample (`t = k·dt`) and one
/// column per probe node, preallocated for the whole run so the step loop does not allocate.
#[derive(Clone, Debug)]
pub struct Trace {
    /// Time step, ms (sample `k` is at `t = k·dt`).
    pub dt_ms: f64,
    /// Probe nodes, in column order.
    pub probes: Vec<NodeId>,
    /// `capacity × probes` values; rows `0..len` are recorded.
    data: Array2<f64>,
    len: usize,
}

impl Trace {
    /// Room for `n_steps + 1` samples of every probe node.
    pub fn new(probes: Vec<NodeId>, n_steps: usize, dt_ms: f64) -> Trace {
        Trace {
            dt_ms,
            data: Array2::zeros((n_steps + 1, probes.len())),
            probes,
            len: 0,
        }
    }

    /// Number of samples recorded.
    pub fn n_samples(&self) -> usize {
        self.len
    }

    /// Time of sample `k`, ms.
    pub fn t_ms(&self, k: usize) -> f64 {
        k as f64 * self.dt_ms
    }

    /// Voltage of probe `j` at sample `k`, mV. Panics beyond the recorded samples.
    pub fn v_mv(&self, k: usize, j: usize) -> f64 {
        assert!(k < self.len, "sample {k} of {} recorded", self.len);
        self.data[[k, j]]
    }

    /// The recorded samples: one row per sample, one column per probe, mV.
    pub fn samples(&self) -> ArrayView2<'_, f64> {
        self.data.slice(s![..self.len, ..])
    }

    /// The whole trace of probe `j`, mV (a copy; not for the step loop).
    pub fn column(&self, j: usize) -> Vec<f64> {
        self.samples().column(j).to_vec()
    }

    /// Store the probes' voltages as the next sample; a full trace ignores further samples.
    fn push(&mut self, v: &[f64]) {
        self.push_lane(v, 1, 0);
    }

    /// As [`push`](Self::push), from lane `lane` of a lane-minor array of `lanes` lanes.
    fn push_lane(&mut self, v: &[f64], lanes: usize, lane: usize) {
        if self.len == self.data.nrows() {
            return;
        }
        let mut row = self.data.row_mut(self.len);
        for (slot, &p) in row.iter_mut().zip(&self.probes) {
            *slot = v[p as usize * lanes + lane];
        }
        self.len += 1;
    }
}

/// A cell with compiled mechanisms, ready to integrate (see the module docs).
pub struct ActiveCell {
    tree: CableTree,
    cfg: CellConfig,
    mechs: Vec<CompiledMech>,
    ions: Vec<IonPool>,
    /// Trials run side by side (see the module docs on lanes); 1 for a solo run.
    lanes: usize,
    /// Fixed reversal potentials per node before initialisation (restored by `init`).
    e_fixed: Vec<Vec<f64>>,
    /// Current clamps with their lane.
    iclamps: Vec<(IClamp, usize)>,
    /// EPSP-shaped currents: `std.stimuli`'s `epsp` compiled on one node of one lane each (in
    /// the order added, which is the order their currents enter `rhs`).
    epsps: Vec<CompiledMech>,
    /// Synaptic point processes and their release events (spec 03 §3.6, §3.8), per lane.
    synapses: Vec<Option<SynapseKernel>>,
    /// Per lane: the error that stopped it (lanes > 1; a solo run returns it from `step`).
    lane_errors: Vec<Option<KernelError>>,
    /// Per lane: whether every voltage stayed within the limit in the present step.
    lane_ok: Vec<bool>,
    /// `v`, `rhs` and `d` per node (see the module docs on the layout).
    v_mv: Vec<f64>,
    rhs: Vec<f64>,
    d: Vec<f64>,
    /// Capacitive plus axial part of the diagonal, S/cm² (constant over a run).
    d_fixed: Vec<f64>,
    /// Per ion: ranges of array indices covering those where a mechanism adds to its current
    /// total. Only these are zeroed each step; elsewhere the total stays at the 0 of `init`
    /// (no ion array is touched at all on a passive cell). Runs closer than [`GAP`] are
    /// merged: zeroing a total no mechanism writes changes nothing, and fewer, longer ranges
    /// cost less than many short ones.
    current_runs: Vec<Vec<(usize, usize)>>,
    /// Per ion: ranges covering the array indices where the reversal potential follows Nernst
    /// (its `nernst_nodes`; runs closer than [`GAP`] merged, empty where no mechanism writes
    /// the inside concentration), and per index whether it does (the others in a range keep
    /// their fixed value).
    nernst_runs: Vec<Vec<(usize, usize)>>,
    nernst_mask: Vec<Vec<bool>>,
    step: u64,
    /// Whether [`step`](Self::step) times its phases into [`profile`](Self::profile) (off by
    /// default: three clock reads a step are about 1 % of a passive step).
    profiling: bool,
    /// Accumulated phase timings (only with [`set_profiling`](Self::set_profiling)).
    pub profile: Profile,
}

/// Runs of `true` in a per-index mask shorter apart than this are merged into one range (see
/// [`spans`]).
const GAP: usize = 32;

/// Ranges `(start, end)` covering the `true` entries of `mask`, runs fewer than [`GAP`]
/// entries apart merged (a range may hold `false` entries; the users say why that is safe).
fn spans(mask: &[bool]) -> Vec<(usize, usize)> {
    let mut out: Vec<(usize, usize)> = Vec::new();
    for (i, _) in mask.iter().enumerate().filter(|(_, m)| **m) {
        match out.last_mut() {
            Some((_, e)) if i < *e + GAP => *e = i + 1,
            _ => out.push((i, i + 1)),
        }
    }
    out
}

/// The ions (by index into `ions`) whose current total `model` adds to.
fn current_ions<'a>(model: &'a MechModel, ions: &'a [IonPool]) -> impl Iterator<Item = usize> + 'a {
    model
        .currents
        .iter()
        .filter_map(|c| c.ion.as_ref())
        .filter_map(|name| ions.iter().position(|p| p.name == *name))
}

impl ActiveCell {
    /// Build the cell: compile every placed mechanism and set up the ions.
    ///
    /// `reversal_mv` gives fixed reversal potentials per compartment (segment order, see
    /// [`MechPlacement`]) by variable name (`ena`, `ek`, `eca`); NaN entries take NEURON's
    /// default (`ena` 50, `ek` −77, `eca` 132.458 mV). Where a mechanism writes an ion's inside
    /// concentration (a calcium pool), that ion's reversal potential follows Nernst instead.
    pub fn new(
        tree: CableTree,
        placements: &[MechPlacement<'_>],
        reversal_mv: &[(String, Vec<f64>)],
        cfg: CellConfig,
    ) -> Result<ActiveCell, KernelError> {
        Self::with_lanes(tree, placements, reversal_mv, cfg, 1)
    }

    /// As [`ActiveCell::new`], for `lanes` trials run side by side (see the module docs on
    /// lanes). Mechanisms, parameters and reversal potentials are the same in every lane;
    /// electrodes and synapses are added per lane (or to all of them).
    pub fn with_lanes(
        tree: CableTree,
        placements: &[MechPlacement<'_>],
        reversal_mv: &[(String, Vec<f64>)],
        cfg: CellConfig,
        lanes: usize,
    ) -> Result<ActiveCell, KernelError> {
        let setup = |message: String| KernelError::Setup { message };
        if !(cfg.dt_ms.is_finite() && cfg.dt_ms > 0.0 && cfg.v_init_mv.is_finite()) {
            return Err(setup("dt must be positive and v_init finite".into()));
        }
        if !(1..=64).contains(&lanes) {
            return Err(setup(format!("{lanes} lanes (1 to 64 are possible)")));
        }
        let n_nodes = tree.n_nodes();
        if (n_nodes * lanes) as u64 >= u64::from(NodeId::MAX) {
            return Err(setup(format!(
                "{n_nodes} nodes in {lanes} lanes exceed the node index range"
            )));
        }
        let seg_nodes: Vec<NodeId> = tree.segment_nodes().collect();
        let n_seg = seg_nodes.len();
        // Ions.
        let mut ions: Vec<IonPool> = IONS
            .iter()
            .map(|&(name, z, ci, co, e)| IonPool {
                name: name.into(),
                valence: z,
                e_mv: vec![e; n_nodes * lanes],
                ci_mm: vec![ci; n_nodes * lanes],
                co_mm: vec![co; n_nodes * lanes],
                i_ma_cm2: vec![0.0; n_nodes * lanes],
                nernst_nodes: Vec::new(),
            })
            .collect();
        for (name, col) in reversal_mv {
            let ion = ions
                .iter()
                .position(|p| name.strip_prefix('e') == Some(p.name.as_str()))
                .ok_or_else(|| setup(format!("`{name}` is not a known reversal potential")))?;
            if col.len() != n_seg {
                return Err(setup(format!(
                    "`{name}` has {} values, the cell has {n_seg} compartments",
                    col.len()
                )));
            }
            for (&nd, &e) in seg_nodes.iter().zip(col) {
                if !e.is_nan() {
                    let at = nd as usize * lanes;
                    ions[ion].e_mv[at..at + lanes].fill(e);
                }
            }
        }
        let ion_names: Vec<String> = ions.iter().map(|p| p.name.clone()).collect();
        let env = CompileEnv {
            dt_ms: cfg.dt_ms,
            celsius_degc: cfg.celsius_degc,
        };
        // Node areas per array index (point processes scale their currents by them).
        let area_lanes: Vec<f64> = tree
            .area_um2()
            .iter()
            .flat_map(|&a| [a].repeat(lanes))
            .collect();
        let mut mechs = Vec::new();
        // Per ion: whether a mechanism adds to its current total at an array index.
        let mut writes_current = vec![vec![false; n_nodes * lanes]; ions.len()];
        for pl in placements {
            let m = pl.mechanism;
            let cerr = |message: String| KernelError::Compile {
                mechanism: m.name.clone(),
                message,
            };
            let mut nodes = Vec::with_capacity(pl.segments.len());
            for &s in &pl.segments {
                nodes.push(*seg_nodes.get(s).ok_or_else(|| {
                    cerr(format!(
                        "compartment {s} does not exist ({n_seg} compartments)"
                    ))
                })?);
            }
            // Instances in node order: the mechanism's runs of consecutive nodes are then as
            // long as the node numbering allows. Each instance computes on its own and adds to
            // its own node, so their order changes no result.
            let mut order: Vec<usize> = (0..nodes.len()).collect();
            order.sort_by_key(|&k| nodes[k]);
            let nodes: Vec<NodeId> = order.iter().map(|&k| nodes[k]).collect();
            for k in pl.params.keys() {
                if !m.parameters.iter().any(|p| p.name == *k) {
                    return Err(cerr(format!("unknown parameter `{k}`")));
                }
            }
            let mut cols = Vec::new();
            for p in &m.parameters {
                let col = match pl.params.get(&p.name) {
                    Some(c) => {
                        if c.len() != nodes.len() {
                            return Err(cerr(format!(
                                "parameter `{}` has {} values for {} compartments",
                                p.name,
                                c.len(),
                                nodes.len()
                            )));
                        }
                        if let Some(x) = c.iter().find(|x| !x.is_finite()) {
                            return Err(cerr(format!("parameter `{}` is {x}", p.name)));
                        }
                        order.iter().map(|&k| c[k]).collect()
                    }
                    None => {
                        let d = p.default.ok_or_else(|| {
                            cerr(format!(
                                "parameter `{}` has no value and no default",
                                p.name
                            ))
                        })?;
                        vec![d; nodes.len()]
                    }
                };
                cols.push(col);
            }
            // Lanes: instance (node, lane) at index node·L + lane, parameters repeated.
            let (nodes, cols) = if lanes == 1 {
                (nodes, cols)
            } else {
                let l = lanes as NodeId;
                let nodes = nodes
                    .iter()
                    .flat_map(|&nd| (0..l).map(move |k| nd * l + k))
                    .collect();
                let cols = cols
                    .iter()
                    .map(|c| c.iter().flat_map(|&x| [x].repeat(lanes)).collect())
                    .collect();
                (nodes, cols)
            };
            for ion in current_ions(m, &ions) {
                for &nd in &nodes {
                    writes_current[ion][nd as usize] = true;
                }
            }
            mechs.push(CompiledMech::new(
                m,
                nodes,
                &cols,
                &ion_names,
                &area_lanes,
                env,
            )?);
        }
        // Concentration writers run first (stable order otherwise).
        mechs.sort_by_key(|m| !m.writes_concentration());
        // Nernst nodes: where a mechanism writes the inside concentration.
        for m in &mechs {
            for (ion, pool) in ions.iter_mut().enumerate() {
                if m.writes_inside(ion) {
                    pool.nernst_nodes.extend_from_slice(&m.nodes);
                }
            }
        }
        for p in &mut ions {
            p.nernst_nodes.sort_unstable();
            p.nernst_nodes.dedup();
        }
        let nernst_mask: Vec<Vec<bool>> = ions
            .iter()
            .map(|p| {
                let mut m = vec![false; n_nodes * lanes];
                p.nernst_nodes.iter().for_each(|&n| m[n as usize] = true);
                m
            })
            .collect();
        let nernst_runs = nernst_mask.iter().map(|m| spans(m)).collect();
        let current_runs = writes_current.iter().map(|w| spans(w)).collect();
        let e_fixed = ions.iter().map(|p| p.e_mv.clone()).collect();
        let mut cell = ActiveCell {
            cfg,
            mechs,
            ions,
            e_fixed,
            lanes,
            iclamps: Vec::new(),
            epsps: Vec::new(),
            synapses: vec![None; lanes],
            lane_errors: vec![None; lanes],
            lane_ok: vec![true; lanes],
            v_mv: vec![cfg.v_init_mv; n_nodes * lanes],
            rhs: vec![0.0; n_nodes * lanes],
            d: vec![0.0; n_nodes * lanes],
            d_fixed: vec![0.0; n_nodes * lanes],
            current_runs,
            nernst_runs,
            nernst_mask,
            step: 0,
            profiling: false,
            profile: Profile::default(),
            tree,
        };
        let cfac = 1.0e-3 / cfg.dt_ms;
        let t = &cell.tree;
        let mut d_fixed = vec![0.0; n_nodes];
        for (df, &cm) in d_fixed.iter_mut().zip(t.cm_uf_cm2()) {
            *df = cfac * cm;
        }
        // In the elimination order, as the axial pass adds its terms: the same sums, bits.
        let e = t.elimination();
        for k in 0..e.len() {
            d_fixed[e.node[k] as usize] -= e.b[k];
            d_fixed[e.parent[k] as usize] -= e.a[k];
        }
        for (dl, &df) in cell.d_fixed.chunks_exact_mut(lanes).zip(&d_fixed) {
            dl.fill(df);
        }
        Ok(cell)
    }

    /// The tree.
    pub fn tree(&self) -> &CableTree {
        &self.tree
    }

    /// The compiled mechanisms, in execution order.
    pub fn mechanisms(&self) -> &[CompiledMech] {
        &self.mechs
    }

    /// The compiled mechanisms, writable (e.g. to switch their native kernels off).
    pub fn mechanisms_mut(&mut self) -> &mut [CompiledMech] {
        &mut self.mechs
    }

    /// The ions (reversal potentials, concentrations, current totals per node).
    pub fn ions(&self) -> &[IonPool] {
        &self.ions
    }

    /// Voltages of all nodes, mV: node `n` of lane `l` at [`index`](Self::index)`(n, l)`
    /// (with one lane, at `n`).
    pub fn v_mv(&self) -> &[f64] {
        &self.v_mv
    }

    /// Number of lanes (trials run side by side; 1 for a solo run).
    pub fn lanes(&self) -> usize {
        self.lanes
    }

    /// Index of node `node` of lane `lane` in the per-node arrays ([`v_mv`](Self::v_mv), the
    /// ions' columns, a mechanism's [`nodes`](CompiledMech::nodes)).
    pub fn index(&self, node: NodeId, lane: usize) -> usize {
        node as usize * self.lanes + lane
    }

    /// The error that stopped lane `lane`, if one did (lanes > 1: the other lanes go on; a
    /// solo run returns its error from [`step`](Self::step)). Cleared by [`init`](Self::init).
    pub fn lane_error(&self, lane: usize) -> Option<&KernelError> {
        self.lane_errors.get(lane)?.as_ref()
    }

    /// Current time, ms.
    pub fn t_ms(&self) -> f64 {
        self.step as f64 * self.cfg.dt_ms
    }

    /// Add a current clamp at `(section, x)` (NEURON places it in the segment containing x),
    /// in every lane.
    pub fn add_iclamp(
        &mut self,
        section: usize,
        x: f64,
        delay_ms: f64,
        dur_ms: f64,
        amp_na: f64,
    ) -> Result<(), KernelError> {
        for lane in 0..self.lanes {
            self.add_iclamp_in(lane, section, x, delay_ms, dur_ms, amp_na)?;
        }
        Ok(())
    }

    /// Check that `lane` exists.
    fn check_lane(&self, lane: usize) -> Result<(), KernelError> {
        if lane < self.lanes {
            Ok(())
        } else {
            Err(KernelError::Setup {
                message: format!("lane {lane} of {}", self.lanes),
            })
        }
    }

    /// Add a current clamp in lane `lane` only (see [`add_iclamp`](Self::add_iclamp)).
    pub fn add_iclamp_in(
        &mut self,
        lane: usize,
        section: usize,
        x: f64,
        delay_ms: f64,
        dur_ms: f64,
        amp_na: f64,
    ) -> Result<(), KernelError> {
        self.check_lane(lane)?;
        let node = self.tree.location(section, x)?;
        if ![delay_ms, dur_ms, amp_na].iter().all(|v| v.is_finite()) {
            return Err(KernelError::Setup {
                message: "IClamp delay, dur and amp must be finite".into(),
            });
        }
        self.iclamps.push((
            IClamp {
                node,
                delay_ms,
                dur_ms,
                amp_na,
            },
            lane,
        ));
        Ok(())
    }

    /// Add an EPSP-shaped current ([`Epsp`]) at `(section, x)`, in every lane.
    pub fn add_epsp(
        &mut self,
        section: usize,
        x: f64,
        onset_ms: f64,
        tau0_ms: f64,
        tau1_ms: f64,
        imax_na: f64,
    ) -> Result<(), KernelError> {
        for lane in 0..self.lanes {
            self.add_epsp_in(lane, section, x, onset_ms, tau0_ms, tau1_ms, imax_na)?;
        }
        Ok(())
    }

    /// Add an EPSP-shaped current in lane `lane` only (see [`add_epsp`](Self::add_epsp)).
    #[allow(clippy::too_many_arguments)]
    pub fn add_epsp_in(
        &mut self,
        lane: usize,
        section: usize,
        x: f64,
        onset_ms: f64,
        tau0_ms: f64,
        tau1_ms: f64,
        imax_na: f64,
    ) -> Result<(), KernelError> {
        self.check_lane(lane)?;
        let node = self.tree.location(section, x)?;
        let e = Epsp {
            node,
            onset_ms,
            tau0_ms,
            tau1_ms,
            imax_na,
        };
        let adjust = e.adjust();
        let usable = tau0_ms > 0.0
            && tau1_ms > 0.0
            && tau0_ms != tau1_ms
            && adjust.is_finite()
            && onset_ms.is_finite()
            && imax_na.is_finite();
        if !usable {
            return Err(KernelError::Setup {
                message: "epsp needs finite onset and imax and positive, different tau0, tau1"
                    .into(),
            });
        }
        let model = stdlib_epsp().map_err(|message| KernelError::Setup { message })?;
        let params: Vec<Vec<f64>> = model
            .parameters
            .iter()
            .map(|p| {
                vec![match p.name.as_str() {
                    "onset" => onset_ms,
                    "tau0" => tau0_ms,
                    "tau1" => tau1_ms,
                    "imax" => imax_na,
                    _ => p.default.unwrap_or(0.0),
                }]
            })
            .collect();
        let env = CompileEnv {
            dt_ms: self.cfg.dt_ms,
            celsius_degc: self.cfg.celsius_degc,
        };
        let mut m = CompiledMech::new(model, vec![node], &params, &[], self.tree.area_um2(), env)?;
        m.place_in_lane(self.lanes, lane);
        // Compiled with no ions, it adds to no ion current total (see `current_runs`).
        self.epsps.push(m);
        Ok(())
    }

    /// Add synapses ([`SynapseSet`]; see [`super::synapse`]) to every lane. Calling again
    /// appends; the events are delivered from the next [`ActiveCell::init`] on.
    pub fn add_synapses(&mut self, set: SynapseSet) -> Result<(), KernelError> {
        for lane in 1..self.lanes {
            self.add_synapses_in(lane, set.clone())?;
        }
        self.add_synapses_in(0, set)
    }

    /// Add synapses to lane `lane` only: its own events and draws (see
    /// [`add_synapses`](Self::add_synapses)).
    pub fn add_synapses_in(&mut self, lane: usize, set: SynapseSet) -> Result<(), KernelError> {
        self.check_lane(lane)?;
        let mut specs = self.synapses[lane]
            .take()
            .map(|k| k.specs().to_vec())
            .unwrap_or_default();
        specs.extend(set.synapses);
        let mut k = SynapseKernel::new(
            &self.tree,
            specs,
            set.coalesce,
            self.cfg.dt_ms,
            self.cfg.celsius_degc,
        )?;
        k.place_in_lane(self.lanes, lane);
        self.synapses[lane] = Some(k);
        Ok(())
    }

    /// Remove all synapses (of every lane).
    pub fn clear_synapses(&mut self) {
        self.synapses.iter_mut().for_each(|k| *k = None);
    }

    /// The compiled synapses of lane 0, if any.
    pub fn synapses(&self) -> Option<&SynapseKernel> {
        self.synapses[0].as_ref()
    }

    /// The compiled synapses of lane `lane`, if any.
    pub fn synapses_in(&self, lane: usize) -> Option<&SynapseKernel> {
        self.synapses.get(lane)?.as_ref()
    }

    /// Nernst potentials at the ions' `nernst_nodes`, by the ranges `runs` covering them
    /// (`mask` tells which indices of a range are Nernst nodes): one pass per range computing
    /// `co/ci`, its logarithm ([`vexp::ln`], within 2 ulp of libm's) and the guarded product,
    /// vectorised with the widest SIMD the CPU has (elementwise; `vexp`'s fused multiply-adds
    /// round once at any width, so the bits do not depend on it), stored where the mask is set.
    fn nernst(
        ions: &mut [IonPool],
        runs: &[Vec<(usize, usize)>],
        mask: &[Vec<bool>],
        celsius: f64,
    ) {
        let ktf = 1000.0 * GAS_CONSTANT * (celsius + 273.15) / FARADAY;
        for ((p, runs), mask) in ions.iter_mut().zip(runs).zip(mask) {
            let k = ktf / p.valence;
            for &(s, e) in runs {
                let (ci, co, m) = (&p.ci_mm[s..e], &p.co_mm[s..e], &mask[s..e]);
                nernst_range(&mut p.e_mv[s..e], ci, co, m, k);
            }
        }
    }

    /// NEURON's `finitialize(v_init)` (see the module docs).
    pub fn init(&mut self) {
        self.step = 0;
        self.v_mv.fill(self.cfg.v_init_mv);
        for ((p, e), &(_, _, ci, co, _)) in self.ions.iter_mut().zip(&self.e_fixed).zip(&IONS) {
            p.e_mv.copy_from_slice(e);
            p.ci_mm.fill(ci);
            p.co_mm.fill(co);
            p.i_ma_cm2.fill(0.0);
        }
        Self::nernst(
            &mut self.ions,
            &self.nernst_runs,
            &self.nernst_mask,
            self.cfg.celsius_degc,
        );
        let mut env = Env {
            t_ms: 0.0,
            v_mv: &self.v_mv,
            ions: &mut self.ions,
        };
        for m in &mut self.mechs {
            m.initialise(&mut env);
        }
        // Concentrations set by the initial states change the Nernst potentials.
        Self::nernst(
            env.ions,
            &self.nernst_runs,
            &self.nernst_mask,
            self.cfg.celsius_degc,
        );
        for m in &mut self.epsps {
            m.initialise(&mut env);
        }
        for k in self.synapses.iter_mut().flatten() {
            k.init(&mut env);
        }
        self.lane_errors.iter_mut().for_each(|e| *e = None);
    }

    /// Set one node's voltage in every lane (after [`ActiveCell::init`]: special protocols and
    /// tests).
    pub fn set_v_mv(&mut self, node: NodeId, v_mv: f64) {
        let at = node as usize * self.lanes;
        self.v_mv[at..at + self.lanes].fill(v_mv);
    }

    /// Steps taken since [`ActiveCell::init`].
    pub fn steps_done(&self) -> u64 {
        self.step
    }

    /// The settings.
    pub fn config(&self) -> &CellConfig {
        &self.cfg
    }

    /// Time the phases of [`step`](Self::step) into [`profile`](Self::profile) (`true`) or
    /// not (`false`, the default).
    pub fn set_profiling(&mut self, on: bool) {
        self.profiling = on;
    }

    /// The present time if profiling, for [`step`](Self::step)'s phase timings.
    #[inline]
    fn clock(&self) -> Option<Instant> {
        self.profiling.then(Instant::now)
    }

    /// Advance one fixed step (see the module docs). On error the state is left as computed.
    pub fn step(&mut self) -> Result<(), KernelError> {
        let dt = self.cfg.dt_ms;
        let t0 = self.clock();
        // 1–2. Reversal potentials, currents at the half step.
        Self::nernst(
            &mut self.ions,
            &self.nernst_runs,
            &self.nernst_mask,
            self.cfg.celsius_degc,
        );
        for (p, runs) in self.ions.iter_mut().zip(&self.current_runs) {
            for &(s, e) in runs {
                p.i_ma_cm2[s..e].fill(0.0);
            }
        }
        self.rhs.fill(0.0);
        self.d.copy_from_slice(&self.d_fixed);
        let t_half = (self.step as f64 + 0.5) * dt;
        let mut env = Env {
            t_ms: t_half,
            v_mv: &self.v_mv,
            ions: &mut self.ions,
        };
        for m in &mut self.mechs {
            m.add_currents(&mut env, &mut self.rhs, &mut self.d);
        }
        let area = self.tree.area_um2();
        for (c, lane) in &self.iclamps {
            let n = c.node as usize;
            self.rhs[n * self.lanes + lane] += c.current_na(t_half) * (1.0e2 / area[n]);
        }
        // Point processes: rhs −= i·100/area (outward positive); the epsp's ∂i/∂v is 0.
        for m in &mut self.epsps {
            m.add_currents(&mut env, &mut self.rhs, &mut self.d);
        }
        for k in self.synapses.iter_mut().flatten() {
            // Events of this step first (spec 03 §3.8), then the currents at v_n.
            k.deliver(self.step);
            k.add_currents(&mut env, &mut self.rhs, &mut self.d);
        }
        let t1 = self.clock();

        // 3. Axial terms, solve, update.
        let elim = self.tree.elimination();
        let lanes = self.lanes;
        match lanes {
            1 => axial::<1>(elim, &self.v_mv, &mut self.rhs),
            2 => axial::<2>(elim, &self.v_mv, &mut self.rhs),
            4 => axial::<4>(elim, &self.v_mv, &mut self.rhs),
            8 => axial::<8>(elim, &self.v_mv, &mut self.rhs),
            l => axial_dyn(elim, &self.v_mv, &mut self.rhs, l),
        }
        hines::solve_lanes(elim, &mut self.d, &mut self.rhs, lanes);
        let limit = self.cfg.v_limit_mv;
        let ok = &mut self.lane_ok;
        ok.fill(true);
        update(&mut self.v_mv, &self.rhs, limit, ok);
        self.step += 1;
        let t_ms = self.step as f64 * dt;
        let t2 = self.clock();
        if self.lane_ok.contains(&false) {
            if lanes == 1 {
                return Err(self.diagnose(t_ms, 0));
            }
            // Each failing lane is diagnosed once, at its first failing step (what a solo run
            // of its trial reports); the other lanes go on.
            for lane in 0..lanes {
                if !self.lane_ok[lane] && self.lane_errors[lane].is_none() {
                    self.lane_errors[lane] = Some(self.diagnose(t_ms, lane));
                }
            }
        }

        // 4. States with the new voltage.
        let mut env = Env {
            t_ms,
            v_mv: &self.v_mv,
            ions: &mut self.ions,
        };
        for m in &mut self.mechs {
            m.advance(&mut env);
        }
        for k in self.synapses.iter_mut().flatten() {
            k.advance(&mut env);
        }
        if let (Some(t0), Some(t1), Some(t2)) = (t0, t1, t2) {
            let t3 = Instant::now();
            self.profile.currents += t1 - t0;
            self.profile.matrix += t2 - t1;
            self.profile.states += t3 - t2;
            self.profile.steps += 1;
        }
        Ok(())
    }

    /// Name lane `lane`'s first mechanism state that is not finite, else its voltage problem.
    #[cold]
    fn diagnose(&self, t_ms: f64, lane: usize) -> KernelError {
        let lanes = self.lanes;
        let real = |nd: NodeId| nd / lanes as NodeId;
        for m in &self.mechs {
            // States in order, instances in elimination order (the tree's `rank`, the same
            // for every node numbering): with one lane the first non-finite state; with
            // several, the same restricted to the lane's instances.
            for (s, state) in m.state_names.iter().enumerate() {
                let col = m.state(s);
                let hit = m
                    .nodes
                    .iter()
                    .zip(col)
                    .filter(|&(&nd, x)| nd as usize % lanes == lane && !x.is_finite())
                    .min_by_key(|&(&nd, _)| self.tree.rank(real(nd)));
                if let Some((&nd, &value)) = hit {
                    return KernelError::NonFiniteState {
                        mechanism: m.name.clone(),
                        state: state.to_string(),
                        location: self.tree.node_label(real(nd)),
                        t_ms,
                        value,
                    };
                }
            }
        }
        if let Some((mechanism, state, node, value)) = self.synapses[lane]
            .as_ref()
            .and_then(|k| k.first_non_finite_state())
        {
            return KernelError::NonFiniteState {
                mechanism: mechanism.to_string(),
                state: state.to_string(),
                location: self.tree.node_label(real(node)),
                t_ms,
                value,
            };
        }
        let limit = self.cfg.v_limit_mv;
        let v: Vec<f64> = self
            .v_mv
            .iter()
            .skip(lane)
            .step_by(lanes)
            .copied()
            .collect();
        // The first failing node in elimination order (as for the states above).
        let first = |bad: &dyn Fn(f64) -> bool| {
            (0..v.len())
                .filter(|&i| bad(v[i]))
                .min_by_key(|&i| self.tree.rank(i as NodeId))
        };
        let node = first(&|x: f64| !x.is_finite())
            .or_else(|| first(&|x: f64| x.abs() > limit))
            .unwrap_or(0);
        let v_mv = v[node];
        let location = self.tree.node_label(node as NodeId);
        KernelError::Voltage(if v_mv.is_finite() {
            SimError::Runaway {
                node: node as NodeId,
                location,
                t_ms,
                v_mv,
                v_limit_mv: limit,
            }
        } else {
            SimError::NonFinite {
                node: node as NodeId,
                location,
                t_ms,
                v_mv,
            }
        })
    }

    /// Lanes: initialise, record sample 0, take `n_steps` steps recording after each; per
    /// lane its trace at `probes` and the error that stopped it, if any (its trace then ends
    /// at the last good step, as a solo [`run`](Self::run)'s does). With one lane this is
    /// [`run`](Self::run).
    pub fn run_lanes(
        &mut self,
        n_steps: usize,
        probes: &[NodeId],
    ) -> Result<Vec<(Trace, Option<KernelError>)>, KernelError> {
        if let Some(&p) = probes.iter().find(|&&p| p as usize >= self.tree.n_nodes()) {
            return Err(KernelError::Setup {
                message: format!("probe node {p} does not exist"),
            });
        }
        let lanes = self.lanes;
        let mut traces: Vec<Trace> = (0..lanes)
            .map(|_| Trace::new(probes.to_vec(), n_steps, self.cfg.dt_ms))
            .collect();
        self.init();
        for (lane, tr) in traces.iter_mut().enumerate() {
            tr.push_lane(&self.v_mv, lanes, lane);
        }
        for _ in 0..n_steps {
            if lanes == 1 {
                if let Err(e) = self.step() {
                    return Ok(vec![(traces.swap_remove(0), Some(e))]);
                }
            } else {
                self.step()?;
            }
            for (lane, tr) in traces.iter_mut().enumerate() {
                if self.lane_errors[lane].is_none() {
                    tr.push_lane(&self.v_mv, lanes, lane);
                }
            }
            if self.lane_errors.iter().all(Option::is_some) {
                break;
            }
        }
        Ok(traces
            .into_iter()
            .zip(self.lane_errors.iter().cloned())
            .collect())
    }

    /// Initialise, record sample 0, take `n_steps` steps recording after each: the trace holds
    /// `t = k·dt`, `k = 0..=n_steps`. The step loop does not allocate. One lane only (see
    /// [`run_lanes`](Self::run_lanes)).
    pub fn run(&mut self, n_steps: usize, probes: &[NodeId]) -> Result<Trace, KernelError> {
        let mut tr = Trace::new(probes.to_vec(), n_steps, self.cfg.dt_ms);
        self.init();
        self.run_into(n_steps, &mut tr)?;
        Ok(tr)
    }

    /// Continue from the present state: record it if `trace` is empty, then take `n_steps`
    /// steps recording after each. Allocation-free. On error `trace` keeps the samples up to
    /// the last good step.
    pub fn run_into(&mut self, n_steps: usize, trace: &mut Trace) -> Result<(), KernelError> {
        if self.lanes != 1 {
            return Err(KernelError::Setup {
                message: format!("`run` takes one lane, the cell has {}", self.lanes),
            });
        }
        if let Some(&p) = trace
            .probes
            .iter()
            .find(|&&p| p as usize >= self.v_mv.len())
        {
            return Err(KernelError::Setup {
                message: format!("probe node {p} does not exist"),
            });
        }
        if trace.n_samples() == 0 {
            trace.push(&self.v_mv);
        }
        for _ in 0..n_steps {
            self.step()?;
            trace.push(&self.v_mv);
        }
        Ok(())
    }
}

/// Axial currents into `rhs` from the present voltages, lane-minor with `L` lanes: per node,
/// in the elimination order (each node's own term, then its children's, as NEURON adds them),
/// the solo operations, done for each lane; the lane loop becomes vector instructions (and,
/// for one lane, the solo loop). A node's values are copied out before its parent's are
/// updated, so the two never alias.
fn axial<const L: usize>(e: &Elimination, v: &[f64], rhs: &mut [f64]) {
    for k in 0..e.len() {
        let (i, p) = (e.node[k] as usize, e.parent[k] as usize);
        let (ai, bi) = (e.a[k], e.b[k]);
        let vi: [f64; L] = v[i * L..i * L + L].try_into().expect("a lane block");
        let vp: [f64; L] = v[p * L..p * L + L].try_into().expect("a lane block");
        let dv: [f64; L] = std::array::from_fn(|l| vp[l] - vi[l]);
        let ri = &mut rhs[i * L..i * L + L];
        for l in 0..L {
            ri[l] -= bi * dv[l];
        }
        let rp = &mut rhs[p * L..p * L + L];
        for l in 0..L {
            rp[l] += ai * dv[l];
        }
    }
}

/// [`axial`] for any lane count.
fn axial_dyn(e: &Elimination, v: &[f64], rhs: &mut [f64], lanes: usize) {
    for k in 0..e.len() {
        let (i, p) = (e.node[k] as usize, e.parent[k] as usize);
        for l in 0..lanes {
            let (ki, kp) = (i * lanes + l, p * lanes + l);
            let dv = v[kp] - v[ki];
            rhs[ki] -= e.b[k] * dv;
            rhs[kp] += e.a[k] * dv;
        }
    }
}

/// `v ← v + Δv` and, per lane, whether every voltage stays within `±limit` (NaN fails the
/// comparison, so one test covers both). Lane counts dividing 8 run [`update_w`], a loop over
/// the lanes otherwise.
fn update(v: &mut [f64], dv: &[f64], limit: f64, ok: &mut [bool]) {
    match ok.len() {
        1 | 2 | 4 | 8 => update_w::<8>(v, dv, limit, ok),
        lanes => {
            for k in 0..v.len() {
                v[k] += dv[k];
                ok[k % lanes] &= v[k].abs() <= limit;
            }
        }
    }
}

/// [`update`] in blocks of `W` values, `W` a multiple of the lane count: value `j` of a block
/// belongs to lane `j % lanes`, so `W` flags fold into the lanes' flags at the end. The block
/// loop runs with the widest SIMD the CPU has (as [`nernst_range`]): compiled for the baseline
/// instruction set alone it stayed scalar (perf annotate).
fn update_w<const W: usize>(v: &mut [f64], dv: &[f64], limit: f64, ok: &mut [bool]) {
    let lanes = ok.len();
    debug_assert!(W.is_multiple_of(lanes) && v.len().is_multiple_of(lanes));
    #[inline(always)]
    fn go<const W: usize>(v: &mut [f64], dv: &[f64], limit: f64) -> [bool; W] {
        // A flag per position of a block: 0 while every value there stayed within the limit
        // (NaN fails `≤`, so it sets the flag too).
        let mut bad = [0.0f64; W];
        let n = v.len().min(dv.len());
        let (v, dv) = (&mut v[..n], &dv[..n]);
        let mut vc = v.chunks_exact_mut(W);
        let mut dc = dv.chunks_exact(W);
        for (vb, db) in (&mut vc).zip(&mut dc) {
            let vb: &mut [f64; W] = vb.try_into().expect("a block");
            let db: &[f64; W] = db.try_into().expect("a block");
            for j in 0..W {
                let x = vb[j] + db[j];
                vb[j] = x;
                bad[j] = if x.abs() <= limit { bad[j] } else { 1.0 };
            }
        }
        for (j, (x, d)) in vc
            .into_remainder()
            .iter_mut()
            .zip(dc.remainder())
            .enumerate()
        {
            *x += d;
            bad[j] = if x.abs() <= limit { bad[j] } else { 1.0 };
        }
        bad.map(|b| b == 0.0)
    }
    #[cfg(target_arch = "x86_64")]
    {
        #[target_feature(enable = "avx512f,fma")]
        fn avx512<const W: usize>(v: &mut [f64], dv: &[f64], limit: f64) -> [bool; W] {
            go::<W>(v, dv, limit)
        }
        #[target_feature(enable = "avx2,fma")]
        fn avx2<const W: usize>(v: &mut [f64], dv: &[f64], limit: f64) -> [bool; W] {
            go::<W>(v, dv, limit)
        }
        let good = if std::is_x86_feature_detected!("avx512f")
            && std::is_x86_feature_detected!("fma")
        {
            // SAFETY: the CPU has AVX-512F and FMA (checked on the line above).
            unsafe { avx512::<W>(v, dv, limit) }
        } else if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
            // SAFETY: the CPU has AVX2 and FMA (checked on the line above).
            unsafe { avx2::<W>(v, dv, limit) }
        } else {
            go::<W>(v, dv, limit)
        };
        for (j, g) in good.into_iter().enumerate() {
            ok[j % lanes] &= g;
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    for (j, g) in go::<W>(v, dv, limit).into_iter().enumerate() {
        ok[j % lanes] &= g;
    }
}

/// `e ← k·ln(co/ci)` with NEURON's guards (`ci ≤ 0` → 1e6, `co ≤ 0` → −1e6 mV) where `mask`
/// is set, over one range of nodes, with the widest SIMD the CPU has.
fn nernst_range(e: &mut [f64], ci: &[f64], co: &[f64], mask: &[bool], k: f64) {
    #[inline(always)]
    fn go(e: &mut [f64], ci: &[f64], co: &[f64], mask: &[bool], k: f64) {
        for (((e, &ci), &co), &m) in e.iter_mut().zip(ci).zip(co).zip(mask) {
            let l = vexp::ln(co / ci);
            let x = if ci <= 0.0 {
                1e6
            } else if co <= 0.0 {
                -1e6
            } else {
                k * l
            };
            *e = if m { x } else { *e };
        }
    }
    #[cfg(target_arch = "x86_64")]
    {
        #[target_feature(enable = "avx512f,fma")]
        fn avx512(e: &mut [f64], ci: &[f64], co: &[f64], mask: &[bool], k: f64) {
            go(e, ci, co, mask, k)
        }
        #[target_feature(enable = "avx2,fma")]
        fn avx2(e: &mut [f64], ci: &[f64], co: &[f64], mask: &[bool], k: f64) {
            go(e, ci, co, mask, k)
        }
        if std::is_x86_feature_detected!("avx512f") && std::is_x86_feature_detected!("fma") {
            // SAFETY: the CPU supports AVX-512F and FMA (checked above).
            return unsafe { avx512(e, ci, co, mask, k) };
        }
        if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
            // SAFETY: the CPU supports AVX2 and FMA (checked above).
            return unsafe { avx2(e, ci, co, mask, k) };
        }
    }
    go(e, ci, co, mask, k)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The update's limit check flags exactly the lanes with a voltage beyond the limit or
    /// NaN, wherever in the blocks of 8 the value sits.
    #[test]
    fn update_flags_each_lane() {
        for lanes in [1, 2, 3, 4, 8] {
            let n = 37 * lanes;
            for bad in [0, 5, n / 2, n - 1] {
                for x in [2e3, f64::NAN] {
                    let mut v = vec![-70.0; n];
                    let mut dv = vec![0.5; n];
                    dv[bad] = x;
                    let mut ok = vec![true; lanes];
                    update(&mut v, &dv, 1e3, &mut ok);
                    for (l, &o) in ok.iter().enumerate() {
                        assert_eq!(o, l != bad % lanes, "lanes {lanes}, value {x} at {bad}");
                    }
                    assert_eq!(v[1 - bad.min(1)], -69.5);
                }
            }
        }
    }
}
