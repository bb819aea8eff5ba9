//! The lowered model: what a checked script means, with every quantity a plain `f64` in
//! isf's canonical units (listed in [`crate::sema::units::CANONICAL`]) and a content hash.
//!
//! Field names carry their unit (`_mv`, `_ms`, `_um`, …); position-dependent values are
//! [`Ex`] expressions whose result is in the unit named beside them. `isf plan` prints this;
//! later stages extend it with compartments, kernels, synapses and trials.

use crate::sema::ex::Ex;
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

/// Version of the model layout (bumped when fields change meaning).
pub const MODEL_VERSION: u32 = 1;

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
    let file_hash = |p: &str| match std::fs::read(p) {
        Ok(bytes) => format!("sha256:{}", hex::encode(Sha256::digest(&bytes))),
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

/// An experiment: what to run, vary, record and where to store it.
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
    pub stimuli: BTreeMap<String, BTreeMap<String, Value>>,
    pub sweep: Vec<SweepAxisModel>,
    /// Number of sweep points (product of the axis lengths).
    pub sweep_points: u64,
    pub record: Vec<Value>,
    pub store: Option<String>,
    /// Recorded synaptic input replayed instead of generated network activity, one file per
    /// trial (`replay: "file.csv"` or a list). Omitted from the JSON when empty, so models
    /// without it hash as before; the files enter the hash by content (field `path`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub replay: Vec<ReplaySource>,
}

/// One replay file: an ISF synapse activation file or a spike-time CSV.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ReplaySource {
    /// Resolved path.
    pub path: String,
    /// `isf_activations` or `spike_times` (see [`crate::network::replay`]).
    pub format: String,
    /// Synapses with at least one release.
    pub synapses: u64,
    /// Release events.
    pub releases: u64,
}

/// One sweep axis: a path into the declarations and its values.
#[derive(Clone, Debug, Serialize)]
pub struct SweepAxisModel {
    pub path: String,
    pub values: Vec<Value>,
    /// Axes with the same group vary together (`sweep zip`); groups form a grid, the first
    /// group varying slowest.
    pub group: u32,
}
