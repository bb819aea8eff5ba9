//! The lowered model: what a checked script means, with every quantity a plain `f64` in
//! isf's canonical units (listed in [`crate::units::CANONICAL`]) and a content hash.
//!
//! Field names carry their unit (`_mv`, `_ms`, `_um`, …); position-dependent values are
//! [`Ex`] expressions whose result is in the unit named beside them. `isf plan` prints this;
//! later stages extend it with compartments, kernels, synapses and trials.

pub mod ex;
pub mod sweep;

use ex::Ex;
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

/// Version of the model layout (bumped when fields change meaning).
pub const MODEL_VERSION: u32 = 2;

/// A whole checked script.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Model {
    pub version: u32,
    pub mechanisms: Vec<MechModel>,
    pub neurons: Vec<NeuronModel>,
    pub networks: Vec<NetworkModel>,
    pub experiments: Vec<ExperimentModel>,
}

impl Model {
    /// SHA-256 of the model's canonical JSON, hex encoded.
    ///
    /// Input files enter by content, not by location: every referenced file path (morphologies,
    /// parameter files, landmark files) is replaced by the SHA-256 of the file's bytes, and the
    /// output store location is left out. So the same script and data give the same hash in
    /// any checkout, and editing a morphology changes it.
    pub fn content_hash(&self) -> String {
        let mut v = serde_json::to_value(self).unwrap_or_default();
        content_address(&mut v);
        let json = serde_json::to_vec(&v).unwrap_or_default();
        hex::encode(Sha256::digest(&json))
    }
}

/// Replace file paths in a model's JSON by the hash of their contents; drop store locations.
/// Shared with the run fingerprints ([`crate::run::fingerprint`]), which hash parts of it.
pub(crate) fn content_address(v: &mut serde_json::Value) {
    use serde_json::Value as J;
    // Bounded like every read of a named file: a device or FIFO must not hang the hash.
    // Hashed once per process per content (`parse_cached`): a run hashes its plan twice.
    #[derive(Clone)]
    struct FileSha(String);
    let file_hash = |p: &str| match crate::files::parse_cached(std::path::Path::new(p), |t| {
        Ok::<_, ()>(FileSha(hex::encode(Sha256::digest(t.as_bytes()))))
    })
    .unwrap_or(Err(()))
    {
        Ok(FileSha(hash)) => format!("sha256:{hash}"),
        Err(_) => format!(
            "missing:{}",
            std::path::Path::new(p)
                .file_name()
                .map(|f| f.to_string_lossy().into_owned())
                .unwrap_or_default()
        ),
    };
    match v {
        J::Object(m) => {
            m.remove("store");
            for (k, x) in m.iter_mut() {
                match (k.as_str(), &*x) {
                    ("path" | "isf_network_param", J::String(p)) => *x = J::String(file_hash(p)),
                    _ => content_address(x),
                }
            }
        }
        J::Array(a) => a.iter_mut().for_each(content_address),
        _ => {}
    }
}

/// A mechanism declared in the language.
#[derive(Clone, Debug, Serialize)]
pub struct MechModel {
    pub name: String,
    /// `density`, `point` or `synapse` (a point process that receives release events).
    pub sort: String,
    /// Where it was declared (`file:line`).
    pub origin: String,
    pub ions: Vec<IonUse>,
    pub parameters: Vec<ParamModel>,
    pub states: Vec<StateModel>,
    pub currents: Vec<CurrentModel>,
    /// Synapses: the parameters a connection's weight vector sets, in slot order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub weights: Vec<String>,
    /// Synapses: what one release event does (simultaneous assignments to states).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub events: Vec<EventAssign>,
}

/// `state: new value` in a synapse's `event` block; the value is in the state's canonical
/// unit and sees the pre-event values of every state.
#[derive(Clone, Debug, Serialize)]
pub struct EventAssign {
    pub state: String,
    pub expr: Ex,
}

/// Ion reads and writes of a mechanism.
#[derive(Clone, Debug, Serialize)]
pub struct IonUse {
    pub ion: String,
    pub reads: Vec<String>,
    pub writes: Vec<String>,
}

/// A mechanism parameter with its canonical unit and default.
#[derive(Clone, Debug, Serialize)]
pub struct ParamModel {
    pub name: String,
    pub unit: String,
    pub default: Option<f64>,
}

/// A state variable: a gate (exact exponential update towards `inf` with `tau`) or an ODE.
#[derive(Clone, Debug, Serialize)]
pub struct StateModel {
    pub name: String,
    pub unit: String,
    pub init: Option<f64>,
    /// Initial value in `unit` when it depends on parameters: per compartment for a density
    /// state (`state cai: mM = minCai`), per synapse for a synapse state (`state u: 1 = u0`);
    /// `init` is then `None`. Omitted from the JSON when absent, so the hash of models without
    /// it is unchanged.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub init_expr: Option<Ex>,
    /// Steady state (dimensionless) and time constant (ms) for gates.
    pub inf: Option<Ex>,
    pub tau_ms: Option<Ex>,
    /// Time derivative in `unit`/ms for ODE states.
    pub derivative: Option<Ex>,
}

/// A current a mechanism contributes (mA/cm² for density mechanisms, nA for point processes).
#[derive(Clone, Debug, Serialize)]
pub struct CurrentModel {
    pub name: String,
    pub unit: String,
    /// The ion the current is written to; `None` for a non-specific current.
    pub ion: Option<String>,
    pub expr: Ex,
}

/// A neuron: morphology, discretization and per-region biophysics.
#[derive(Clone, Debug, Serialize)]
pub struct NeuronModel {
    pub name: String,
    /// `hoc`, `swc` or `isf_param` with the resolved path.
    pub source: Source,
    pub temperature_degc: f64,
    pub v_init_mv: f64,
    pub discretization: Discretization,
    /// A generated axon (`isf_axon()`), if any.
    pub axon: Option<Value>,
    pub regions: Vec<RegionModel>,
    /// Cell modifications (`scale_apical_morph_86()`, `scale_apical(…)`) applied in order
    /// after discretization and biophysics. Omitted from the JSON (and so from the hash)
    /// when empty, so models without them hash as before.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub modify: Vec<Value>,
}

/// Where a neuron's geometry (or whole definition) comes from.
#[derive(Clone, Debug, Serialize)]
pub struct Source {
    pub format: String,
    pub path: String,
}

/// The discretization rule.
#[derive(Clone, Debug, Serialize)]
#[serde(tag = "rule", rename_all = "snake_case")]
pub enum Discretization {
    /// ISF's rule: d_lambda 0.1 on the middle 3-D point's diameter, optional maximum length.
    IsfDLambda {
        frequency_hz: f64,
        max_length_um: Option<f64>,
    },
    /// NEURON's length-weighted d_lambda rule.
    DLambda { d_lambda: f64, frequency_hz: f64 },
    /// Segments no longer than this.
    MaxLength { max_length_um: f64 },
    /// The same nseg everywhere.
    Fixed { nseg: u32 },
}

/// Biophysics of one region (label).
#[derive(Clone, Debug, Serialize)]
pub struct RegionModel {
    pub region: String,
    pub ra_ohm_cm: Option<f64>,
    pub cm_uf_cm2: Option<f64>,
    /// Fixed reversal potentials (`ena`, `ek`, …) in mV.
    pub reversal_mv: BTreeMap<String, f64>,
    pub mechanisms: Vec<MechInstance>,
}

/// A mechanism inserted in a region with parameter values (functions of position).
#[derive(Clone, Debug, Serialize)]
pub struct MechInstance {
    pub mechanism: String,
    pub parameters: BTreeMap<String, Density>,
}

/// A parameter value over the cell: an expression of position in `unit`.
#[derive(Clone, Debug, Serialize)]
pub struct Density {
    pub unit: String,
    pub expr: Ex,
}

/// A lowered value of a network or experiment field.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Value {
    Num {
        value: f64,
        unit: String,
    },
    Expr {
        expr: Ex,
        unit: String,
    },
    Bool(bool),
    Str(String),
    List(Vec<Value>),
    Record(BTreeMap<String, Value>),
    Obj {
        kind: String,
        args: BTreeMap<String, Value>,
    },
    Ref {
        decl: String,
        name: String,
    },
}

/// A network: presynaptic populations.
#[derive(Clone, Debug, Serialize)]
pub struct NetworkModel {
    pub name: String,
    /// The ISF network parameter file of `network N = isf_network_param("…")` (resolved path);
    /// its populations are read from there when the network is run.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub isf_network_param: Option<String>,
    pub populations: Vec<PopulationModel>,
}

/// One presynaptic population.
#[derive(Clone, Debug, Serialize)]
pub struct PopulationModel {
    pub name: String,
    pub fields: BTreeMap<String, Value>,
    pub receptors: BTreeMap<String, BTreeMap<String, Value>>,
}

/// An experiment: what to run, vary, record and where to store it. Everything the run stage
/// needs is typed here (stimuli, recordings, sweep targets); the run stage matches no strings.
#[derive(Clone, Debug, Serialize)]
pub struct ExperimentModel {
    pub name: String,
    pub neuron: String,
    pub network: Option<String>,
    pub duration_ms: f64,
    pub dt_ms: f64,
    pub n_steps: u64,
    pub trials: u64,
    pub seed: u64,
    /// Stimuli by name (sorted by name: the order they are added to the cell).
    pub stimuli: Vec<StimulusModel>,
    pub sweep: Vec<SweepAxisModel>,
    /// Number of sweep points (product of the axis lengths).
    pub sweep_points: u64,
    /// Recordings in `record` order, each with its unique output name.
    pub record: Vec<RecordingModel>,
    pub store: Option<String>,
    /// Recorded synaptic input replayed instead of generated network activity, one file per
    /// trial (`replay: "file.csv"` or a list). Omitted from the JSON when empty, so models
    /// without it hash as before; the files enter the hash by content (field `path`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub replay: Vec<ReplaySource>,
}

/// A place on the cell named in a script; resolved to (section, x) on the lowered cell by
/// the run stage.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "site", rename_all = "snake_case")]
pub enum SiteSpec {
    /// `soma(0.5)`, `apical_dendrite(0.3)`: the first section of the region, position `x`.
    Region { region: String, x: f64 },
    /// `section(38, 0.5)`: section by index.
    Section { index: u64, x: f64 },
    /// `sites("file.landmarkAscii")`: every landmark snapped to its nearest compartment.
    Landmarks { path: String },
    /// `apical_distance(620 um)`: ISF's point on the apical trunk at this soma distance.
    ApicalDistance { distance_um: f64 },
}

impl SiteSpec {
    /// The site as written in a recording name: its function and arguments (`soma`,
    /// `soma(0.3)`, `section(38, 0.5)`, `apical_distance(620 um)`, `sites(file)`), so two
    /// different sites never share a name.
    pub fn name(&self) -> String {
        match self {
            SiteSpec::Region { region, x } if *x == 0.5 => region.clone(),
            SiteSpec::Region { region, x } => format!("{region}({x})"),
            SiteSpec::Section { index, x } => format!("section({index}, {x})"),
            SiteSpec::Landmarks { path } => format!(
                "sites({})",
                std::path::Path::new(path)
                    .file_name()
                    .map(|f| f.to_string_lossy().into_owned())
                    .unwrap_or_default()
            ),
            SiteSpec::ApicalDistance { distance_um } => {
                format!("apical_distance({distance_um} um)")
            }
        }
    }
}

/// A stimulus of an experiment.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct StimulusModel {
    pub name: String,
    pub at: SiteSpec,
    pub kind: StimulusKind,
}

/// What a stimulus injects (times in ms, currents in nA).
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum StimulusKind {
    /// NEURON's IClamp: `amp` from `delay` for `duration` (to the end of the run when the
    /// script gives none).
    Step {
        delay_ms: f64,
        duration_ms: Option<f64>,
        amp_na: f64,
    },
    /// ISF's double-exponential current (`epsp`).
    Epsp {
        onset_ms: f64,
        tau_rise_ms: f64,
        tau_decay_ms: f64,
        imax_na: f64,
    },
}

/// One recording with its output name (unique within the experiment; sites recorded at
/// several places get `[i]` appended per place by the run stage).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RecordingModel {
    pub name: String,
    pub what: Recording,
    /// Declared precision (`soma.v precision: 1 uV`): the step, in the canonical unit of the
    /// recorded variable, to whose multiples the stored trace is rounded (within half a
    /// step). `None`: stored lossless. Left out of the JSON when absent, so plans (and their
    /// hashes) without one are unchanged.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub precision: Option<f64>,
}

/// What a recording samples.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "record", rename_all = "snake_case")]
pub enum Recording {
    /// Membrane voltage (mV).
    Voltage { at: SiteSpec },
    /// An ion variable: reversal potential (`eca`, mV), inside concentration (`cai`, mM) or
    /// the ion's membrane current (`ica`, mA/cm²).
    Ion {
        at: SiteSpec,
        ion: String,
        field: IonField,
    },
    /// A mechanism state (in the state's canonical unit).
    State {
        at: SiteSpec,
        mechanism: String,
        state: String,
    },
    /// Spike times (ms): first sample at or above the threshold after one below it.
    Spikes { at: SiteSpec, threshold_mv: f64 },
    /// The voltage of every compartment.
    AllCompartments,
    /// Synapse activations of each trial (needs a network).
    SynapseActivations,
    /// Presynaptic spike times of each trial (needs a network).
    PresynapticSpikes,
}

/// Which ion value an ion recording samples.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum IonField {
    Reversal,
    Inside,
    Current,
}

impl IonField {
    /// An ion variable name (`eca`, `cai`, `ica`, …) as (ion, field).
    pub fn parse(name: &str) -> Option<(String, IonField)> {
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
}

/// One replay file: an ISF synapse activation file or a spike-time CSV.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ReplaySource {
    /// Resolved path.
    pub path: String,
    /// `isf_activations` or `spike_times` (see [`crate::interop::replay`]).
    pub format: String,
    /// Synapses with at least one release.
    pub synapses: u64,
    /// Release events.
    pub releases: u64,
}

/// One sweep axis: a path into the declarations, the typed target it resolved to at check
/// time, and its values in the target's canonical unit.
#[derive(Clone, Debug, Serialize)]
pub struct SweepAxisModel {
    /// The path as written (`stimulus.step.amp`), for messages and stored metadata.
    pub path: String,
    pub target: sweep::SweepTarget,
    /// Canonical unit of the values (`nA`, `ms`, `1`, …) for display.
    pub unit: String,
    pub values: Vec<sweep::SweepValue>,
    /// Axes with the same group vary together (`sweep zip`); groups form a grid, the first
    /// group varying slowest.
    pub group: u32,
}
