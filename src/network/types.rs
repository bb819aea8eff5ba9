//! The typed network model: what an ISF network `.param` file or an `.isf` `network` block
//! means, with plain `f64` in the units named by the fields (ms, nS, Hz, µm).

use serde::Serialize;
use std::path::PathBuf;

/// A network: presynaptic populations in declaration (file) order.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Network {
    /// Name (the `.isf` declaration, or the parameter file's name).
    pub name: String,
    /// Populations in file order.
    pub populations: Vec<Population>,
    /// `network_modify_functions` of the parameter file (applied after connecting).
    pub modify: Vec<NetworkModify>,
}

impl Network {
    /// The population called `name`.
    pub fn population(&self, name: &str) -> Option<&Population> {
        self.populations.iter().find(|p| p.name == name)
    }
}

/// One presynaptic population = synapse type `<CellType>_<Column>`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Population {
    /// Synapse type, e.g. `L5tt_C2`.
    pub name: String,
    /// Cell type (text before the first `_`), e.g. `L5tt`.
    pub cell_type: String,
    /// Column (text after the first `_`; empty when there is none), e.g. `C2`.
    pub column: String,
    /// Number of presynaptic cells.
    pub cells: u32,
    /// Where the synapses come from.
    pub synapses: SynapseSource,
    /// Release rule per presynaptic spike and synapse.
    pub release: Release,
    /// Receptors created at every active synapse, in file order.
    pub receptors: Vec<Receptor>,
    /// Activity generators; all add spikes to the same presynaptic cells, in this order.
    pub activity: Vec<Activity>,
    /// Excitatory (true) or inhibitory; from the declaration, else from the cell type, else
    /// from the receptor (`gaba*` → inhibitory).
    pub excitatory: Option<bool>,
}

/// Where a population's synapses and their presynaptic cells come from.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub enum SynapseSource {
    /// An anatomical realization: `.syn` (locations) and `.con` (presynaptic cell per synapse).
    Anatomy {
        /// `.syn` file, resolved relative to the referencing file.
        syn: PathBuf,
        /// `.con` file, resolved relative to the referencing file.
        con: PathBuf,
    },
    /// Synapses declared in `.isf` without an anatomy (`synapses: N`, optionally `location`
    /// and `distance`): placed at random by path length ([`super::declared`]), synapse i on
    /// presynaptic cell i mod cells.
    Declared(DeclaredSynapses),
}

/// `synapses: N` of an `.isf` population: how many synapses and where they may go.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct DeclaredSynapses {
    /// Number of synapses.
    pub count: u32,
    /// Regions as in neuron blocks (`dendrite`, `apical_dendrite`, `soma`, …); empty means
    /// the default, [`super::declared::DEFAULT_REGIONS`].
    pub regions: Vec<String>,
    /// Path-length range from the soma `[from, to]`, µm (the `distance` of neuron region
    /// expressions and the `soma_distance_um` of synapse activation rows).
    pub distance_um: Option<(f64, f64)>,
}

impl DeclaredSynapses {
    /// `count` synapses on the default regions, anywhere.
    pub fn count(count: u32) -> DeclaredSynapses {
        DeclaredSynapses {
            count,
            regions: Vec::new(),
            distance_um: None,
        }
    }
}

/// How presynaptic spikes become release times (spec 04 §4.5).
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub enum Release {
    /// Each spike releases at each synapse independently with this probability (a uniform
    /// draw `U < p`).
    Probability(f64),
    /// Every spike is delivered; the receptor (ProbAMPANMDA2/ProbUDFsyn2) decides. Note spec 03
    /// §3.6: ISF's receptors compare an *exponential* draw with Pr (effective 1 − e^−Pr); that
    /// choice belongs to the receptor kernel, not to this module.
    Dynamic,
    /// No `releaseProb` key: every spike is a release.
    Always,
}

/// A receptor (point process) created at each active synapse.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Receptor {
    /// ISF mechanism name: `glutamate_syn`, `gaba_syn`, `ProbAMPANMDA2`, `ProbUDFsyn2`, or
    /// an `.isf` receptor name (`exp2syn`).
    pub mechanism: String,
    /// Added to every release time when the event is delivered, ms.
    pub delay_ms: f64,
    /// NetCon threshold (unused by ISF's event sources), mV.
    pub threshold_mv: f64,
    /// Event weights in slot order, nS (`glutamate_syn`: [AMPA, NMDA]).
    pub weights_ns: Vec<f64>,
    /// `weightDistribution: "lognormal"`: every synapse draws each weight per trial from
    /// ISF's log-normal with mean `m` and SD `m²` (spec 04 §4.6).
    pub lognormal_weights: bool,
    /// Mechanism parameters in ISF's names (`tau1`, `decaytime`, …), file order, in the
    /// mechanism's units (ms, mV, dimensionless).
    pub parameters: Vec<(String, f64)>,
}

/// One presynaptic activity generator (spec 04 §4.4). Times in ms, rates in Hz.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub enum Activity {
    /// Ongoing activity (`spiketrain`): ISI = (1 − noise)·interval + noise·interval·Exp(1),
    /// first spike at start + ISI − interval·(1 − noise) (≥ 0); spikes while t ≤ stop
    /// (the trial's end when `None`), or exactly `nspikes` spikes.
    Poisson {
        interval_ms: f64,
        noise: f64,
        start_ms: f64,
        stop_ms: Option<f64>,
        nspikes: Option<u32>,
    },
    /// Evoked `PSTH`: per bin and cell, one spike with probability `p`, uniform in
    /// `offset + [begin, end)`.
    Psth { bins: Vec<PsthBin>, offset_ms: f64 },
    /// `PSTH_absolute_number`: per bin exactly `n` distinct cells (with replacement when
    /// `n > cells`) spike once, uniform in `offset + [begin, end)`.
    PsthAbsolute {
        bins: Vec<(f64, f64, u32)>,
        offset_ms: f64,
    },
    /// Each cell active with `active_fraction`; one spike at `offset + t` where `t` follows
    /// `shape`, clamped to ≥ 0.1 ms.
    Single {
        active_fraction: f64,
        shape: SingleShape,
        offset_ms: f64,
    },
    /// Inhomogeneous Poisson with piecewise-constant rate: per segment `[begin, end)` a
    /// homogeneous Poisson process of `rate_hz` (`PSTH_poissontrain`, `PSTH_poissontrain_v2`;
    /// their `offset` key is ignored as in ISF).
    PiecewisePoisson { segments: Vec<(f64, f64, f64)> },
    /// `poissontrain_modulated` (spec 04 §4.4): sinusoidally modulated rate after `offset`.
    Modulated {
        rate_before_offset_hz: f64,
        mean_rate_hz: f64,
        max_modulation: f64,
        frequency_hz: f64,
        bin_ms: f64,
        phase: PhaseRule,
        offset_ms: f64,
    },
    /// Explicit spike times, given to every cell of the population.
    SpikeTimes { times_ms: Vec<f64> },
}

/// One PSTH bin: `[begin_ms, end_ms)` and the spike probability per cell.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct PsthBin {
    pub begin_ms: f64,
    pub end_ms: f64,
    pub probability: f64,
}

/// Spike-time distribution of [`Activity::Single`].
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub enum SingleShape {
    /// `spikeT + spikeWidth·N(0, 1)`.
    Normal { mean_ms: f64, sd_ms: f64 },
    /// `window·U`.
    Uniform { window_ms: f64 },
    /// `LogNormal(mu, sigma)`.
    LogNormal { mu: f64, sigma: f64 },
}

/// Phase of the modulation per cell.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub enum PhaseRule {
    /// Uniform on [0, 2π).
    Uniform,
    /// Normal with mean and SD (radians).
    Normal { mean: f64, sd: f64 },
    /// Phase 0.
    Zero,
}

/// A `network_modify_functions` entry.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub enum NetworkModify {
    /// Disconnect synapses of a type whose soma distance lies in `[min, max)` µm.
    SilenceBySomaDistance {
        ranges: Vec<(String, f64, f64)>,
        /// Keep only releases caused by these spike-source labels (`None`: remove all).
        spike_sources: Option<Vec<String>>,
    },
}

/// Barrel-cortex presynaptic cell types (spec 04 §4.1) and whether they are excitatory.
/// L1 is inhibitory here (GABAergic in the network files), fixing ISF's `cell_types.py`.
pub const CELL_TYPES: &[(&str, bool)] = &[
    ("L2", true),
    ("L34", true),
    ("L4py", true),
    ("L4sp", true),
    ("L4ss", true),
    ("L5st", true),
    ("L5tt", true),
    ("L6cc", true),
    ("L6ccinv", true),
    ("L6ct", true),
    ("VPM", true),
    ("L1", false),
    ("L23Trans", false),
    ("L45Peak", false),
    ("L45Sym", false),
    ("L56Trans", false),
    ("SymLocal1", false),
    ("SymLocal2", false),
    ("SymLocal3", false),
    ("SymLocal4", false),
    ("SymLocal5", false),
    ("SymLocal6", false),
];

/// Split a synapse type into (cell type, column) at the first `_`.
pub fn split_type(name: &str) -> (String, String) {
    match name.split_once('_') {
        Some((a, b)) => (a.to_string(), b.to_string()),
        None => (name.to_string(), String::new()),
    }
}

/// Excitatory flag of a known barrel-cortex cell type.
pub fn cell_type_excitatory(cell_type: &str) -> Option<bool> {
    CELL_TYPES
        .iter()
        .find(|(n, _)| *n == cell_type)
        .map(|(_, e)| *e)
}

/// The generator a presynaptic spike came from (ISF's spike-source labels).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum SpikeSource {
    /// Ongoing Poisson activity (`poissontrain`).
    Ongoing = 0,
    /// Evoked PSTH (`pointcell_PSTH`).
    Psth = 1,
    /// Other point-cell distributions.
    PointCell = 2,
    /// Explicit spike times.
    Explicit = 3,
}

impl SpikeSource {
    /// All sources, by discriminant.
    pub const ALL: [SpikeSource; 4] = [
        SpikeSource::Ongoing,
        SpikeSource::Psth,
        SpikeSource::PointCell,
        SpikeSource::Explicit,
    ];

    /// ISF's label.
    pub fn as_str(self) -> &'static str {
        match self {
            SpikeSource::Ongoing => "poissontrain",
            SpikeSource::Psth => "pointcell_PSTH",
            SpikeSource::PointCell => "pointcell",
            SpikeSource::Explicit => "spike_times",
        }
    }
}
