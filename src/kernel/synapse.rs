//! Synaptic point processes declared in the language (`mechanism NAME : synapse`, spec 03
//! §3.6; ISF's receptors are in `stdlib/synapses.isf`) compiled for a cell, and
//! release-event delivery with NEURON's fixed-step timing (spec 03 §3.8).
//!
//! **Analysis** ([`SynapseMech::analyse`]). Every state of a synapse has a `derivative`. States
//! the current depends on (and states their equations depend on) are *conductance states*;
//! the rest are *per-synapse states* (depression, facilitation). Per-synapse states must obey
//! `dx/dt = a + b·x` with `a`, `b` depending on parameters only, so they can be advanced
//! lazily, exactly, at each of the synapse's events: `x ← x∞ + (x − x∞)·exp(b·dt)^n` over the
//! `n` steps since the last event (`x∞ = −a/b`; `x + n·a·dt` where `b = 0`), which equals the
//! per-step `cnexp` update up to rounding. An event must *add* to conductance states
//! (`A: A + kick`, the kick free of conductance states) and may set per-synapse states to any
//! function of parameters, per-synapse states and `t`; all right-hand sides see the pre-event
//! values.
//!
//! **Merging.** When the conductance equations and the current are linear and homogeneous in
//! the conductance states (checked structurally on the expression DAG; e.g. `dA/dt = −A/τ`,
//! `i = (A − B)·mg(v)·(v − e)`), the sum of several synapses' states obeys the same equations,
//! so synapses of one mechanism with the same conductance-relevant parameters on the same
//! compartment share one *channel* (exact up to the order of floating-point additions). Other
//! synapses get a channel each.
//!
//! **Channels** are compiled like any point-process mechanism ([`CompiledMech`]: columnar
//! bytecode, symbolic `∂i/∂v`, exact exponential update), with one instance per channel:
//! currents enter as `rhs −= i·100/area`, `d += g·100/area` with NEURON's difference quotient
//! `g = (i(v + 0.001) − i(v))/0.001` (with the NMDA Mg block the symbolic `∂i/∂v` would differ
//! from NEURON by up to 1e-3 mV over an S3 run).
//!
//! **Event timing.** An event at `t_e` (release time + delay) is applied before the current
//! phase of the step starting at `t_n = n·dt` with `n = ⌊t_e/dt + 1/2⌋`, i.e. when
//! `t_n − dt/2 ≤ t_e < t_n + dt/2` (spec 03 §3.8). NEURON delivers events in
//! `(t_n − dt/2, t_n]` at the end of the previous step (after the state update, see
//! `neuron-anchor/README.md`) and events in `(t_n, t_n + dt/2]` at the start of step `n`; both
//! take effect between the state update of step `n − 1` and the current phase of step `n`,
//! which is where this module applies them. Exact half-way times depend on NEURON's floating
//! point accumulation of `t` and are rounded up here. Events of one step are applied in time
//! order. Delivery walks a pre-sorted event array and evaluates the event expressions into
//! preallocated buffers: the step loop does not allocate.

use super::dag::{Dag, Id, Node, Op};
use super::error::KernelError;
use super::mechanism::{CompileEnv, CompiledMech, Env};
use crate::model::ex::Draw;
use crate::model::{MechModel, StateModel};
use crate::rng::Rng;
use crate::sim::tree::{CableTree, NodeId};
use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

/// NEURON's double-exponential peak normalisation for rise `taur` < decay `taud`:
/// `1/(exp(−t_peak/taud) − exp(−t_peak/taur))`, `t_peak = taur·taud/(taud − taur)·ln(taud/taur)`.
pub fn peaknorm(taur: f64, taud: f64) -> f64 {
    let tpeak = taur * taud / (taud - taur) * (taud / taur).ln();
    1.0 / ((-tpeak / taud).exp() - (-tpeak / taur).exp())
}

/// Input layout of every DAG here (the same as [`CompiledMech`]'s): `v`, `t`, `celsius`, the
/// states, the parameters.
const IN_V: u32 = 0;
const IN_T: u32 = 1;
const IN_STATES: u32 = 3;

/// A decaying conductance state whose magnitude falls below this is set to 0.
///
/// Without it, a channel that receives no more events decays through the subnormal numbers
/// and, once `f·x` rounds to nothing, stays there forever; every step then pays the
/// processor's slow path for subnormal operands in the decay and in the current program
/// (about 9 % of an S4 trial). Conductance states are in µS and kicks ~1e-4 µS: a state below
/// 1e-250 µS adds under 1e-240 to `rhs` (mA/cm²) and `d` (S/cm²). `d` holds the capacitive
/// term (≥ 1e-3·cm/dt), so it never changes; `rhs[n]` changes only where the node's other
/// currents cancel to below ~1e-224 mA/cm², and then `v` moves by less than 1e-220 mV; a later
/// kick added to such a state instead of 0 rounds to the same value. The bound
/// is far enough above the subnormal range (2.2e-308) that the current program's products of
/// such a state (factors ≥ 1e-30) stay normal too. Conformance traces stay bit-identical
/// (checked on S0–S4).
pub const FLUSH_BELOW: f64 = 1e-250;

/// At most this many draws per event (a bound that keeps a malformed model from allocating
/// per-event buffers of any size).
const MAX_DRAWS: usize = 64;

/// How an expression depends on a set of variables.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Lin {
    /// Not at all.
    Free,
    /// Linearly and homogeneously (`f(λx) = λ·f(x)`).
    Hom,
    /// Otherwise.
    Other,
}

/// Structural linearity of `root` in the inputs `vars` (conservative: `Other` when unsure).
fn linearity(dag: &Dag, root: Id, vars: &[u32]) -> Lin {
    use Lin::*;
    let nodes = dag.nodes();
    let mut c = vec![Free; root as usize + 1];
    for i in 0..=root as usize {
        c[i] = match nodes[i] {
            Node::Const(_) => Free,
            Node::Input(k) => {
                if vars.contains(&k) {
                    Hom
                } else {
                    Free
                }
            }
            Node::Apply(op, a) => {
                let x = |j: usize| c[a[j] as usize];
                match op {
                    Op::Add | Op::Sub => match (x(0), x(1)) {
                        (Free, Free) => Free,
                        (Hom, Hom) => Hom,
                        _ => Other,
                    },
                    Op::Neg => x(0),
                    Op::Mul => match (x(0), x(1)) {
                        (Free, Free) => Free,
                        (Hom, Free) | (Free, Hom) => Hom,
                        _ => Other,
                    },
                    Op::Div => match (x(0), x(1)) {
                        (Free, Free) => Free,
                        (Hom, Free) => Hom,
                        _ => Other,
                    },
                    Op::Select => match (x(0), x(1), x(2)) {
                        (Free, Free, Free) => Free,
                        (Free, Hom, Hom) => Hom,
                        _ => Other,
                    },
                    _ => {
                        if (0..op.arity()).all(|j| x(j) == Free) {
                            Free
                        } else {
                            Other
                        }
                    }
                }
            }
        };
    }
    c[root as usize]
}

/// A synapse mechanism analysed for the event-driven kernel (see the module docs).
#[derive(Clone, Debug)]
pub struct SynapseMech {
    /// The mechanism as declared.
    pub model: MechModel,
    /// The point-process model compiled per channel: the conductance states and the current.
    channel_model: MechModel,
    /// Conductance states (indices into `model.states`), in channel column order.
    channel: Vec<usize>,
    /// Per-synapse states (indices into `model.states`).
    plastic: Vec<usize>,
    /// Parameters the channel part depends on (synapses merge only when these are equal).
    channel_params: Vec<usize>,
    /// Whether synapses may share channels.
    mergeable: bool,
    /// Parameter index of each weight slot.
    weight_params: Vec<usize>,
    /// Event and per-synapse dynamics DAG (inputs as [`IN_V`] …).
    dag: Dag,
    /// Additive kick per conductance state touched by events: (channel column, root).
    kicks: Vec<(usize, Id)>,
    /// New value per per-synapse state set by events: (plastic index, root).
    sets: Vec<(usize, Id)>,
    /// `dx/dt = a + b·x` per per-synapse state: (a, b) roots.
    plastic_ab: Vec<(Id, Id)>,
    /// The kinds of the event block's draws, in input order (after the parameters).
    draws: Vec<Draw>,
    /// Per per-synapse state: the root of its parameter-dependent initial value, if any.
    plastic_init: Vec<Option<Id>>,
    /// When every conductance state decays on its own (`dx/dt = b·x`, `b` from parameters):
    /// the `b` root per channel column. The kernel then advances channels with one multiply-add
    /// per state instead of the compiled state program.
    decay_b: Option<Vec<Id>>,
}

impl SynapseMech {
    /// Analyse a checked synapse mechanism (see the module docs); the error says what does not
    /// fit the kernel's model of a synapse.
    pub fn analyse(model: &MechModel) -> Result<SynapseMech, String> {
        if model.sort != "synapse" {
            return Err(format!("`{}` is a {} mechanism", model.name, model.sort));
        }
        if !model.ions.is_empty() {
            return Err("synapses cannot read or write ions".into());
        }
        let ns = model.states.len();
        // Draws of the event block (`draw#k:kind` variables), inputs after the parameters.
        let mut draws: Vec<Draw> = Vec::new();
        {
            let mut used = Vec::new();
            for ea in &model.events {
                ea.expr.vars(&mut used);
            }
            for (k, d) in used.iter().filter_map(|n| Draw::parse_var(n)) {
                if k >= MAX_DRAWS {
                    return Err(format!("an event makes more than {MAX_DRAWS} draws"));
                }
                if draws.len() <= k {
                    draws.resize(k + 1, Draw::Uniform);
                }
                draws[k] = d;
            }
        }
        let draw_names: Vec<String> = draws.iter().enumerate().map(|(k, d)| d.var(k)).collect();
        let mut names: Vec<&str> = vec!["v", "t", "celsius"];
        names.extend(model.states.iter().map(|s| s.name.as_str()));
        names.extend(model.parameters.iter().map(|p| p.name.as_str()));
        names.extend(draw_names.iter().map(String::as_str));
        let draw_in0 = (IN_STATES as usize + ns + model.parameters.len()) as u32;
        let param_in = |j: usize| (IN_STATES as usize + ns + j) as u32;
        let state_in = |s: usize| IN_STATES + s as u32;
        let mut dag = Dag::default();
        let inputs: Vec<Id> = (0..names.len() as u32).map(|k| dag.input(k)).collect();
        let lower = |dag: &mut Dag, ex: &crate::model::ex::Ex, what: &str| {
            dag.from_ex(ex, &mut |name| {
                names.iter().position(|x| *x == name).map(|k| inputs[k])
            })
            .map_err(|m| format!("{what}: {m}"))
        };
        let mut current = Vec::new();
        for c in &model.currents {
            current.push(lower(&mut dag, &c.expr, &format!("current {}", c.name))?);
        }
        // A state without an equation is held between events (dx/dt = 0).
        let mut deriv = Vec::new();
        let mut held = Vec::new();
        for s in &model.states {
            match &s.derivative {
                Some(d) => deriv.push(lower(&mut dag, d, &format!("derivative of {}", s.name))?),
                None => deriv.push(dag.constant(0.0)),
            }
            held.push(s.derivative.is_none());
        }
        // Conductance states: those the current depends on, closed under the equations.
        let mut is_channel: Vec<bool> = (0..ns)
            .map(|s| current.iter().any(|&i| dag.depends_on(i, state_in(s))))
            .collect();
        loop {
            let mut grew = false;
            for c in 0..ns {
                if !is_channel[c] {
                    continue;
                }
                let f = deriv[c];
                for (s, ch) in is_channel.iter_mut().enumerate() {
                    if !*ch && dag.depends_on(f, state_in(s)) {
                        *ch = true;
                        grew = true;
                    }
                }
            }
            if !grew {
                break;
            }
        }
        let channel: Vec<usize> = (0..ns).filter(|&s| is_channel[s]).collect();
        let plastic: Vec<usize> = (0..ns).filter(|&s| !is_channel[s]).collect();
        for &c in &channel {
            let st = &model.states[c];
            if held[c] {
                return Err(format!(
                    "conductance state `{}` needs a `derivative` equation",
                    st.name
                ));
            }
            if st.init_expr.is_some() {
                return Err(format!(
                    "conductance state `{}` must start from a constant",
                    st.name
                ));
            }
        }
        // Initial values that depend on parameters, per per-synapse state.
        let mut plastic_init = Vec::with_capacity(plastic.len());
        for &p in &plastic {
            let st = &model.states[p];
            let root = match &st.init_expr {
                None => None,
                Some(ex) => {
                    let r = lower(&mut dag, ex, &format!("initial value of {}", st.name))?;
                    let free = (0..IN_STATES as usize + ns)
                        .chain(draw_in0 as usize..names.len())
                        .all(|k| !dag.depends_on(r, k as u32));
                    if !free {
                        return Err(format!(
                            "the initial value of `{}` depends on more than parameters",
                            st.name
                        ));
                    }
                    Some(r)
                }
            };
            plastic_init.push(root);
        }
        let ch_in: Vec<u32> = channel.iter().map(|&s| state_in(s)).collect();
        // Per-synapse states: linear with parameter-only coefficients.
        let mut plastic_ab = Vec::new();
        for &p in &plastic {
            let f = deriv[p];
            let name = &model.states[p].name;
            for (k, what) in [(IN_V, "v"), (IN_T, "t")] {
                if dag.depends_on(f, k) {
                    return Err(format!(
                        "the equation of per-synapse state `{name}` depends on {what}"
                    ));
                }
            }
            if let Some(o) = (0..ns).find(|&s| s != p && dag.depends_on(f, state_in(s))) {
                return Err(format!(
                    "the equation of per-synapse state `{name}` depends on state `{}`",
                    model.states[o].name
                ));
            }
            let b = dag.derivative(f, state_in(p))?;
            if dag.depends_on(b, state_in(p)) {
                return Err(format!(
                    "the equation of `{name}` is not linear in `{name}`"
                ));
            }
            let zero = dag.constant(0.0);
            let a = dag.substitute(f, state_in(p), zero);
            plastic_ab.push((a, b));
        }
        for &c in &channel {
            if let Some(&p) = plastic
                .iter()
                .find(|&&p| dag.depends_on(deriv[c], state_in(p)))
            {
                return Err(format!(
                    "conductance state `{}` depends on per-synapse state `{}`",
                    model.states[c].name, model.states[p].name
                ));
            }
        }
        let mergeable = current
            .iter()
            .chain(channel.iter().map(|&c| &deriv[c]))
            .all(|&r| linearity(&dag, r, &ch_in) == Lin::Hom);
        // Self-contained exponential decay of every conductance state.
        let mut decay_b = Some(Vec::new());
        for &c in &channel {
            let f = deriv[c];
            let own = state_in(c);
            let alone = !dag.depends_on(f, IN_V)
                && !dag.depends_on(f, IN_T)
                && (0..ns).all(|s| s == c || !dag.depends_on(f, state_in(s)))
                && linearity(&dag, f, &[own]) == Lin::Hom;
            match (&mut decay_b, alone) {
                (Some(v), true) => {
                    let b = dag.derivative(f, own)?;
                    v.push(b);
                }
                _ => decay_b = None,
            }
        }
        let channel_params: Vec<usize> = (0..model.parameters.len())
            .filter(|&j| {
                current
                    .iter()
                    .chain(channel.iter().map(|&c| &deriv[c]))
                    .any(|&r| dag.depends_on(r, param_in(j)))
            })
            .collect();
        // Events.
        let mut kicks = Vec::new();
        let mut sets = Vec::new();
        for ea in &model.events {
            let s = model
                .states
                .iter()
                .position(|x| x.name == ea.state)
                .ok_or_else(|| format!("event sets unknown state `{}`", ea.state))?;
            let e = lower(&mut dag, &ea.expr, &format!("event value of {}", ea.state))?;
            if dag.depends_on(e, IN_V) {
                return Err(format!("the event value of `{}` depends on v", ea.state));
            }
            if let Some(ci) = channel.iter().position(|&c| c == s) {
                let d = dag.derivative(e, state_in(s))?;
                let others = channel
                    .iter()
                    .filter(|&&c| c != s)
                    .any(|&c| dag.depends_on(e, state_in(c)));
                // The slope is 1 up to the rounding of merged unit factors (the DAG turns
                // `(x·1e-9 + k·1e-9)/1e-9` into `(x + k)·c` with `c` within an ulp of 1); the
                // kick is then added, a rounding-level difference from `c·(x + k)`.
                let unit =
                    matches!(dag.as_const(d), Some(c) if (c - 1.0).abs() <= 8.0 * f64::EPSILON);
                if !unit || others {
                    return Err(format!(
                        "an event must add to conductance state `{0}` (`{0}: {0} + …`, the \
                         added amount free of conductance states)",
                        ea.state
                    ));
                }
                let zero = dag.constant(0.0);
                kicks.push((ci, dag.substitute(e, state_in(s), zero)));
            } else {
                if let Some(&c) = channel.iter().find(|&&c| dag.depends_on(e, state_in(c))) {
                    return Err(format!(
                        "the event value of per-synapse state `{}` depends on conductance \
                         state `{}`",
                        ea.state, model.states[c].name
                    ));
                }
                let pi = plastic.iter().position(|&p| p == s).unwrap_or(0);
                sets.push((pi, e));
            }
        }
        let weight_params = model
            .weights
            .iter()
            .map(|w| {
                model
                    .parameters
                    .iter()
                    .position(|p| p.name == *w)
                    .ok_or_else(|| format!("weight `{w}` is not a parameter"))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let channel_model = MechModel {
            name: model.name.clone(),
            sort: "point".into(),
            origin: model.origin.clone(),
            ions: vec![],
            parameters: model.parameters.clone(),
            // With native decay the compiled state program is not run; the equations stay for
            // the record.
            states: channel
                .iter()
                .map(|&c| model.states[c].clone())
                .collect::<Vec<StateModel>>(),
            currents: model.currents.clone(),
            weights: vec![],
            events: vec![],
        };
        Ok(SynapseMech {
            draws,
            plastic_init,
            model: model.clone(),
            channel_model,
            channel,
            plastic,
            channel_params,
            mergeable,
            weight_params,
            dag,
            kicks,
            sets,
            plastic_ab,
            decay_b,
        })
    }

    /// Mechanism name.
    pub fn name(&self) -> &str {
        &self.model.name
    }

    /// Whether synapses of this mechanism can share conductance channels.
    pub fn mergeable(&self) -> bool {
        self.mergeable
    }

    /// Names of the conductance states and of the per-synapse states.
    pub fn state_split(&self) -> (Vec<&str>, Vec<&str>) {
        let n = |v: &[usize]| {
            v.iter()
                .map(|&s| self.model.states[s].name.as_str())
                .collect()
        };
        (n(&self.channel), n(&self.plastic))
    }

    /// Number of weight slots.
    pub fn n_weights(&self) -> usize {
        self.weight_params.len()
    }

    /// Number of random draws per event (0 for a deterministic synapse).
    pub fn n_draws(&self) -> usize {
        self.draws.len()
    }

    /// Evaluate every DAG node up to `upto` for `inputs` into `buf` (no allocation once `buf`
    /// is long enough).
    fn eval_into(&self, upto: usize, inputs: &[f64], buf: &mut Vec<f64>) {
        if buf.len() < upto {
            buf.resize(upto, 0.0);
        }
        for (i, node) in self.dag.nodes()[..upto].iter().enumerate() {
            buf[i] = match *node {
                Node::Const(b) => f64::from_bits(b),
                Node::Input(k) => inputs[k as usize],
                Node::Apply(op, [a, b, c]) => {
                    let g = |x: Id| buf[x as usize];
                    op.eval(g(a), g(b), g(c))
                }
            };
        }
    }

    /// One past the largest event root (nodes evaluated per event).
    fn event_upto(&self) -> usize {
        self.kicks
            .iter()
            .chain(&self.sets)
            .map(|&(_, r)| r as usize + 1)
            .max()
            .unwrap_or(0)
    }

    /// Length of the DAG input vector: `v`, `t`, `celsius`, states, parameters, draws.
    fn n_inputs(&self) -> usize {
        IN_STATES as usize
            + self.model.states.len()
            + self.model.parameters.len()
            + self.draws.len()
    }

    /// Range of the parameters in the input vector.
    fn param_range(&self) -> std::ops::Range<usize> {
        let p0 = IN_STATES as usize + self.model.states.len();
        p0..p0 + self.model.parameters.len()
    }
}

/// The synapses of `std.synapses` (ISF's `glutamate_syn`, `gaba_syn`, and `exp2syn`),
/// checked and analysed once per process.
pub fn stdlib_synapses() -> Result<&'static [Arc<SynapseMech>], String> {
    static LIB: OnceLock<Result<Vec<Arc<SynapseMech>>, String>> = OnceLock::new();
    LIB.get_or_init(|| {
        let (name, text) = crate::stdlib::module(&["synapses"])
            .ok_or_else(|| "stdlib module std.synapses is missing".to_string())?;
        let checked = crate::sema::check::check_text(&name, text, std::path::Path::new("."));
        if checked.has_errors() {
            let msgs: Vec<String> = checked
                .diagnostics
                .iter()
                .map(|d| format!("{}: {}", d.code.as_str(), d.message))
                .collect();
            return Err(msgs.join("; "));
        }
        checked
            .model
            .mechanisms
            .iter()
            .filter(|m| m.sort == "synapse")
            .map(|m| SynapseMech::analyse(m).map(Arc::new))
            .collect()
    })
    .as_ref()
    .map(|v| v.as_slice())
    .map_err(Clone::clone)
}

/// A synapse mechanism by name: from `declared` (a model's mechanisms) first, then the
/// standard library. ISF's `*_old` variants (same equations) resolve to the plain names.
pub fn find_synapse(name: &str, declared: &[MechModel]) -> Result<Arc<SynapseMech>, KernelError> {
    let setup = |message: String| KernelError::Setup { message };
    if let Some(m) = declared
        .iter()
        .find(|m| m.name == name && m.sort == "synapse")
    {
        return SynapseMech::analyse(m)
            .map(Arc::new)
            .map_err(|e| setup(format!("synapse `{name}`: {e}")));
    }
    let lib = stdlib_synapses().map_err(setup)?;
    let base = name.strip_suffix("_old").unwrap_or(name);
    lib.iter()
        .find(|m| m.name() == base)
        .cloned()
        .ok_or_else(|| {
            setup(format!(
                "no synapse mechanism `{name}` (declared synapses and std.synapses: {})",
                lib.iter().map(|m| m.name()).collect::<Vec<_>>().join(", ")
            ))
        })
}

/// A receptor: a synapse mechanism with its parameter values (canonical units, in the order
/// of the mechanism's parameters; weight parameters are set per synapse).
#[derive(Clone, Debug)]
pub struct Receptor {
    /// The analysed mechanism.
    pub mech: Arc<SynapseMech>,
    /// Parameter values.
    pub params: Vec<f64>,
}

impl PartialEq for Receptor {
    fn eq(&self, o: &Receptor) -> bool {
        self.mech.name() == o.mech.name()
            && self.params.len() == o.params.len()
            && self
                .params
                .iter()
                .zip(&o.params)
                .all(|(a, b)| a.to_bits() == b.to_bits())
    }
}

impl Receptor {
    /// The mechanism's defaults overridden by `(name, value)` pairs (canonical units).
    pub fn new(mech: Arc<SynapseMech>, overrides: &[(&str, f64)]) -> Result<Receptor, String> {
        let mut params: Vec<f64> = mech
            .model
            .parameters
            .iter()
            .map(|p| p.default.unwrap_or(0.0))
            .collect();
        for &(name, v) in overrides {
            let j = mech
                .model
                .parameters
                .iter()
                .position(|p| p.name == name)
                .ok_or_else(|| format!("receptor `{}` has no parameter `{name}`", mech.name()))?;
            params[j] = v;
        }
        Ok(Receptor { mech, params })
    }

    /// A standard-library synapse (`glutamate_syn`, `gaba_syn`, `exp2syn`) with overrides.
    pub fn stdlib(name: &str, overrides: &[(&str, f64)]) -> Result<Receptor, KernelError> {
        let mech = find_synapse(name, &[])?;
        Receptor::new(mech, overrides).map_err(|message| KernelError::Setup { message })
    }

    /// The parameter values of a synapse with event weights `weights` (slot order). Slots not
    /// given keep the receptor's value, which is 0 for the stdlib synapses (as ISF's
    /// zero-initialised NetCon weight vector: a scalar `glutamate_syn` weight leaves NMDA 0).
    fn with_weights(&self, weights: &[f64]) -> Result<Vec<f64>, String> {
        let slots = &self.mech.weight_params;
        if weights.len() > slots.len() {
            return Err(format!(
                "{} weights given, receptor `{}` takes {}",
                weights.len(),
                self.mech.name(),
                slots.len()
            ));
        }
        let mut p = self.params.clone();
        for (&j, &w) in slots.iter().zip(weights) {
            p[j] = w;
        }
        Ok(p)
    }
}

/// One synapse: location, receptor, event weights and release times.
#[derive(Clone, Debug, PartialEq)]
pub struct Synapse {
    /// Section index.
    pub section: usize,
    /// Position on the section (NEURON puts the synapse in the compartment containing it).
    pub x: f64,
    /// Receptor mechanism and its parameters.
    pub receptor: Receptor,
    /// Event weights in the receptor's slot order (nS for ISF's receptors).
    pub weights_ns: Vec<f64>,
    /// Release times, ms (any order; sorted on compilation; must be finite and ≥ 0).
    pub release_times_ms: Vec<f64>,
    /// Delay from release to the event at the receptor, ms (NetCon delay; ≥ 0).
    pub delay_ms: f64,
    /// Seed of the receptor's random draws (`exprand()`, `unirand()` in its event block):
    /// the draws of the synapse's `n`-th event come from the stream
    /// [`stream_seed`](crate::rng::stream_seed)`(seed, n)`, so they depend on the seed and
    /// the event's index only. Unused by deterministic receptors.
    pub seed: u64,
}

/// A set of synapses to add to an [`ActiveCell`](super::ActiveCell).
#[derive(Clone, Debug, PartialEq)]
pub struct SynapseSet {
    /// The synapses.
    pub synapses: Vec<Synapse>,
    /// Merge the conductance states of synapses per compartment where that is exact (see the
    /// module docs). Default `true`.
    pub coalesce: bool,
}

impl Default for SynapseSet {
    fn default() -> SynapseSet {
        SynapseSet {
            synapses: Vec::new(),
            coalesce: true,
        }
    }
}

impl SynapseSet {
    /// An empty, coalescing set.
    pub fn new() -> SynapseSet {
        SynapseSet::default()
    }
}

/// The synapses of one mechanism on a cell.
#[derive(Clone)]
struct Kind {
    mech: Arc<SynapseMech>,
    /// One instance per channel.
    chan: CompiledMech,
    /// Per synapse: its channel.
    syn_channel: Vec<u32>,
    /// Per synapse × parameter (row per synapse).
    par: Vec<f64>,
    /// Per synapse × per-synapse state.
    pl: Vec<f64>,
    /// Per synapse × per-synapse state: `exp(b·dt)` and `x∞` (or `a·dt` where `b = 0`).
    pl_rec: Vec<f64>,
    pl_inf: Vec<f64>,
    pl_drift: Vec<bool>,
    /// Initial values of the per-synapse states (synapse × state; they may depend on the
    /// synapse's parameters).
    pl_init: Vec<f64>,
    /// Per synapse: the seed of its draws and the number of its events delivered so far.
    seed: Vec<u64>,
    n_ev: Vec<u64>,
    /// Native decay: per channel column, per channel, nocmodl's `1 − exp(b·dt)`.
    decay_k: Option<Vec<Vec<f64>>>,
    /// Step of each synapse's last event.
    last: Vec<u64>,
    /// Scratch: DAG inputs and node values.
    inputs: Vec<f64>,
    buf: Vec<f64>,
    upto: usize,
}

/// Compiled synapses of a cell: channels, per-synapse states, events.
#[derive(Clone, Default)]
pub struct SynapseKernel {
    specs: Vec<Synapse>,
    dt_ms: f64,
    kinds: Vec<Kind>,
    // Events sorted by (step, time, order given): step, time, kind, synapse within the kind.
    ev_step: Vec<u64>,
    ev_t: Vec<f64>,
    ev_kind: Vec<u32>,
    ev_syn: Vec<u32>,
    next: usize,
}

impl std::fmt::Debug for SynapseKernel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SynapseKernel")
            .field("synapses", &self.specs.len())
            .field("channels", &self.channels())
            .field("events", &self.ev_step.len())
            .finish()
    }
}

impl SynapseKernel {
    /// Compile `specs` for `tree` with time step `dt_ms` at temperature `celsius_degc`.
    pub fn new(
        tree: &CableTree,
        specs: Vec<Synapse>,
        coalesce: bool,
        dt_ms: f64,
        celsius_degc: f64,
    ) -> Result<SynapseKernel, KernelError> {
        let setup = |message: String| KernelError::Setup { message };
        let area = tree.area_um2();
        // Group by mechanism (first appearance order).
        let mut kind_of: HashMap<String, usize> = HashMap::new();
        struct Build {
            mech: Arc<SynapseMech>,
            nodes: Vec<NodeId>,
            ch_par: Vec<Vec<f64>>,
            key: HashMap<(NodeId, Vec<u64>), u32>,
            syn_channel: Vec<u32>,
            par: Vec<f64>,
            global: Vec<usize>,
            seed: Vec<u64>,
        }
        let mut builds: Vec<Build> = Vec::new();
        let mut events: Vec<(u64, f64, u32, u32)> = Vec::new();
        for (s, syn) in specs.iter().enumerate() {
            let mech = &syn.receptor.mech;
            let node = tree.location(syn.section, syn.x)?;
            if area[node as usize] <= 0.0 {
                return Err(setup(format!(
                    "synapse {s}: section {} x {} is a zero-area node",
                    syn.section, syn.x
                )));
            }
            if !(syn.weights_ns.iter().all(|w| w.is_finite())
                && syn.delay_ms.is_finite()
                && syn.delay_ms >= 0.0)
            {
                return Err(setup(format!(
                    "synapse {s}: weights must be finite and the delay finite and ≥ 0"
                )));
            }
            let params = syn
                .receptor
                .with_weights(&syn.weights_ns)
                .map_err(|m| setup(format!("synapse {s}: {m}")))?;
            if let Some(j) = params.iter().position(|x| !x.is_finite()) {
                return Err(setup(format!(
                    "synapse {s}: parameter `{}` of `{}` is not finite",
                    mech.model.parameters[j].name,
                    mech.name()
                )));
            }
            let k = *kind_of.entry(mech.name().to_string()).or_insert_with(|| {
                builds.push(Build {
                    mech: mech.clone(),
                    nodes: vec![],
                    ch_par: vec![vec![]; mech.model.parameters.len()],
                    key: HashMap::new(),
                    syn_channel: vec![],
                    par: vec![],
                    global: vec![],
                    seed: vec![],
                });
                builds.len() - 1
            });
            let b = &mut builds[k];
            if !Arc::ptr_eq(&b.mech, mech) && b.mech.model.origin != mech.model.origin {
                return Err(setup(format!(
                    "two different synapse mechanisms are called `{}`",
                    mech.name()
                )));
            }
            let new_ch = b.nodes.len() as u32;
            let ch = if coalesce && b.mech.mergeable {
                let key: Vec<u64> = b
                    .mech
                    .channel_params
                    .iter()
                    .map(|&j| params[j].to_bits())
                    .collect();
                *b.key.entry((node, key)).or_insert(new_ch)
            } else {
                new_ch
            };
            if ch == new_ch {
                b.nodes.push(node);
                for (j, col) in b.ch_par.iter_mut().enumerate() {
                    col.push(params[j]);
                }
            }
            let within = b.syn_channel.len() as u32;
            b.syn_channel.push(ch);
            b.par.extend_from_slice(&params);
            b.global.push(s);
            b.seed.push(syn.seed);
            for &t in &syn.release_times_ms {
                if !(t.is_finite() && t >= 0.0) {
                    return Err(setup(format!(
                        "synapse {s}: release time {t} ms (times must be finite and ≥ 0)"
                    )));
                }
                let te = t + syn.delay_ms;
                let step = (te / dt_ms + 0.5).floor();
                if step < u64::MAX as f64 {
                    events.push((step as u64, te, k as u32, within));
                }
            }
        }
        // Events in (step, time, synapse order) — the synapse order given, as before grouping.
        events.sort_by(|x, y| {
            x.0.cmp(&y.0).then(x.1.total_cmp(&y.1)).then_with(|| {
                let gx = builds[x.2 as usize].global[x.3 as usize];
                let gy = builds[y.2 as usize].global[y.3 as usize];
                gx.cmp(&gy)
            })
        });
        let env = CompileEnv {
            dt_ms,
            celsius_degc,
        };
        let mut kinds = Vec::with_capacity(builds.len());
        for mut b in builds {
            // Channels in node order: channels on neighbouring compartments then form runs, so
            // gathering v and adding currents are block copies rather than scattered accesses.
            let mut order: Vec<usize> = (0..b.nodes.len()).collect();
            order.sort_by_key(|&c| b.nodes[c]);
            let mut new_index = vec![0u32; order.len()];
            for (new, &old) in order.iter().enumerate() {
                new_index[old] = new as u32;
            }
            b.nodes = order.iter().map(|&c| b.nodes[c]).collect();
            for col in &mut b.ch_par {
                *col = order.iter().map(|&c| col[c]).collect();
            }
            for ch in &mut b.syn_channel {
                *ch = new_index[*ch as usize];
            }
            let m = &b.mech;
            let decay_k = match &m.decay_b {
                None => None,
                Some(roots) => {
                    let ns = m.model.states.len();
                    let upto = roots.iter().map(|&r| r as usize + 1).max().unwrap_or(0);
                    let mut inputs = vec![0.0; m.n_inputs()];
                    let mut buf = Vec::new();
                    let mut k = vec![Vec::with_capacity(b.nodes.len()); roots.len()];
                    for ch in 0..b.nodes.len() {
                        for (j, col) in b.ch_par.iter().enumerate() {
                            inputs[IN_STATES as usize + ns + j] = col[ch];
                        }
                        m.eval_into(upto, &inputs, &mut buf);
                        for (kc, &r) in k.iter_mut().zip(roots) {
                            let bb = buf[r as usize];
                            if !bb.is_finite() {
                                return Err(setup(format!(
                                    "`{}`: a conductance state decays with rate {bb} /ms",
                                    m.name()
                                )));
                            }
                            kc.push(1.0 - (bb * dt_ms).exp());
                        }
                    }
                    Some(k)
                }
            };
            let chan = CompiledMech::new(&m.channel_model, b.nodes, &b.ch_par, &[], area, env)?;
            let np = m.model.parameters.len();
            let npl = m.plastic.len();
            let n_syn = b.syn_channel.len();
            let mut inputs = vec![0.0; m.n_inputs()];
            inputs[2] = celsius_degc;
            let upto_ab = m
                .plastic_ab
                .iter()
                .map(|&(a, bb)| a.max(bb) as usize + 1)
                .chain(m.plastic_init.iter().flatten().map(|&r| r as usize + 1))
                .max()
                .unwrap_or(0)
                .max(m.event_upto());
            let const_init: Vec<f64> = m
                .plastic
                .iter()
                .map(|&p| m.model.states[p].init.unwrap_or(0.0))
                .collect();
            let mut pl_init = Vec::with_capacity(n_syn * npl);
            let mut buf = Vec::new();
            let (mut pl_rec, mut pl_inf, mut pl_drift) = (
                Vec::with_capacity(n_syn * npl),
                Vec::with_capacity(n_syn * npl),
                Vec::with_capacity(n_syn * npl),
            );
            for s in 0..n_syn {
                inputs[m.param_range()].copy_from_slice(&b.par[s * np..(s + 1) * np]);
                for (j, &p) in m.plastic.iter().enumerate() {
                    inputs[IN_STATES as usize + p] = const_init[j];
                }
                m.eval_into(upto_ab, &inputs, &mut buf);
                // Initial values (parameter-dependent ones evaluated for this synapse); the
                // first-event check below then sees them.
                for (j, &p) in m.plastic.iter().enumerate() {
                    let x = match m.plastic_init[j] {
                        Some(r) => buf[r as usize],
                        None => const_init[j],
                    };
                    if !x.is_finite() {
                        return Err(setup(format!(
                            "synapse {}: `{}` of `{}` starts at {x}",
                            b.global[s],
                            m.model.states[p].name,
                            m.name()
                        )));
                    }
                    inputs[IN_STATES as usize + p] = x;
                    pl_init.push(x);
                }
                m.eval_into(upto_ab, &inputs, &mut buf);
                // A first event must give finite values (e.g. rise = decay makes the peak
                // normalisation 0/0).
                for (st, &r) in m
                    .kicks
                    .iter()
                    .map(|(c, r)| (m.channel[*c], r))
                    .chain(m.sets.iter().map(|(j, r)| (m.plastic[*j], r)))
                {
                    if !buf[r as usize].is_finite() {
                        return Err(setup(format!(
                            "synapse {}: an event gives `{}` of `{}` the value {} (check the \
                             parameters)",
                            b.global[s],
                            m.model.states[st].name,
                            m.name(),
                            buf[r as usize]
                        )));
                    }
                }
                for (j, &(a, bb)) in m.plastic_ab.iter().enumerate() {
                    let (a, bb) = (buf[a as usize], buf[bb as usize]);
                    if !(a.is_finite() && bb.is_finite()) {
                        return Err(setup(format!(
                            "synapse {}: the equation of `{}` has non-finite coefficients",
                            b.global[s], m.model.states[m.plastic[j]].name
                        )));
                    }
                    if bb == 0.0 {
                        pl_rec.push(1.0);
                        pl_inf.push(a * dt_ms);
                        pl_drift.push(true);
                    } else {
                        pl_rec.push((bb * dt_ms).exp());
                        pl_inf.push(-a / bb);
                        pl_drift.push(false);
                    }
                }
            }
            let upto = m.event_upto();
            buf.resize(upto.max(buf.len()), 0.0);
            kinds.push(Kind {
                mech: b.mech.clone(),
                chan,
                syn_channel: b.syn_channel,
                par: b.par,
                pl: pl_init.clone(),
                pl_rec,
                pl_inf,
                pl_drift,
                pl_init,
                seed: b.seed,
                n_ev: vec![0; n_syn],
                decay_k,
                last: vec![0; n_syn],
                inputs,
                buf,
                upto,
            });
        }
        Ok(SynapseKernel {
            specs,
            dt_ms,
            kinds,
            ev_step: events.iter().map(|e| e.0).collect(),
            ev_t: events.iter().map(|e| e.1).collect(),
            ev_kind: events.iter().map(|e| e.2).collect(),
            ev_syn: events.iter().map(|e| e.3).collect(),
            next: 0,
        })
    }

    /// The synapse specifications, in the order given.
    pub fn specs(&self) -> &[Synapse] {
        &self.specs
    }

    /// Conductance channels per mechanism after merging: (mechanism, synapses, channels).
    pub fn channels(&self) -> Vec<(String, usize, usize)> {
        self.kinds
            .iter()
            .map(|k| (k.mech.name().to_string(), k.syn_channel.len(), k.chan.len()))
            .collect()
    }

    /// Channels of mechanism `name` (0 when absent).
    pub fn n_channels_of(&self, name: &str) -> usize {
        self.kinds
            .iter()
            .find(|k| k.mech.name() == name)
            .map_or(0, |k| k.chan.len())
    }

    /// Number of events that will be delivered over a run of any length.
    pub fn n_events(&self) -> usize {
        self.ev_step.len()
    }

    /// Conductance state `state` of every channel of mechanism `name` with the channels'
    /// nodes, if both exist.
    pub fn channel_state(&self, name: &str, state: &str) -> Option<(&[NodeId], &[f64])> {
        let k = self.kinds.iter().find(|k| k.mech.name() == name)?;
        let s = k.chan.state_names.iter().position(|x| x == state)?;
        Some((&k.chan.nodes, k.chan.state(s)))
    }

    /// NEURON's `INITIAL` blocks: states at their initial values; events rewound.
    pub(crate) fn init(&mut self, env: &mut Env<'_>) {
        for k in &mut self.kinds {
            k.chan.initialise(env);
            k.pl.copy_from_slice(&k.pl_init);
            k.last.fill(0);
            k.n_ev.fill(0);
        }
        self.next = 0;
    }

    /// Apply the events of step `step` (those with `⌊t_e/dt + 1/2⌋ = step`; earlier undelivered
    /// ones too).
    pub(crate) fn deliver(&mut self, step: u64) {
        while self.next < self.ev_step.len() && self.ev_step[self.next] <= step {
            let i = self.next;
            self.next += 1;
            let k = &mut self.kinds[self.ev_kind[i] as usize];
            let s = self.ev_syn[i] as usize;
            let m = &*k.mech;
            let npl = m.plastic.len();
            let np = m.model.parameters.len();
            // Per-synapse states: recover lazily over the steps since the last event.
            let n = step - k.last[s];
            k.last[s] = step;
            let pl = &mut k.pl[s * npl..(s + 1) * npl];
            if n > 0 {
                for (j, x) in pl.iter_mut().enumerate() {
                    let q = s * npl + j;
                    if k.pl_drift[q] {
                        *x += k.pl_inf[q] * n as f64;
                    } else if *x != k.pl_inf[q] {
                        let f = if n <= i32::MAX as u64 {
                            k.pl_rec[q].powi(n as i32)
                        } else {
                            0.0
                        };
                        *x = k.pl_inf[q] + (*x - k.pl_inf[q]) * f;
                    }
                }
            }
            // Inputs: t = event time, conductance states 0 (kicks are free of them),
            // per-synapse states, parameters.
            k.inputs[IN_T as usize] = self.ev_t[i];
            for (j, &p) in m.plastic.iter().enumerate() {
                k.inputs[IN_STATES as usize + p] = pl[j];
            }
            let pr = m.param_range();
            k.inputs[pr.clone()].copy_from_slice(&k.par[s * np..(s + 1) * np]);
            // Draws: counter-based, from (the synapse's seed, its event index) only.
            if !m.draws.is_empty() {
                let mut rng = Rng::new(crate::rng::stream_seed(k.seed[s], k.n_ev[s]));
                for (j, d) in m.draws.iter().enumerate() {
                    k.inputs[pr.end + j] = match d {
                        Draw::Exp => rng.exp1(),
                        Draw::Uniform => rng.uniform(),
                    };
                }
            }
            k.n_ev[s] += 1;
            m.eval_into(k.upto, &k.inputs, &mut k.buf);
            let ch = k.syn_channel[s] as usize;
            for &(c, r) in &m.kicks {
                k.chan.state_mut(c)[ch] += k.buf[r as usize];
            }
            for &(j, r) in &m.sets {
                pl[j] = k.buf[r as usize];
            }
        }
    }

    /// Add the synaptic currents at the present voltages to `rhs` and `∂i/∂v` to `d`.
    pub(crate) fn add_currents(&mut self, env: &mut Env<'_>, rhs: &mut [f64], d: &mut [f64]) {
        for k in &mut self.kinds {
            k.chan.add_currents(env, rhs, d);
        }
    }

    /// Exact exponential update of the conductance states over one step.
    pub(crate) fn advance(&mut self, env: &mut Env<'_>) {
        for k in &mut self.kinds {
            match &k.decay_k {
                // nocmodl's cnexp form for dx/dt = b·x: x += (1 − exp(b·dt))·(0 − x).
                Some(cols) => {
                    for (c, kc) in cols.iter().enumerate() {
                        for (x, &f) in k.chan.state_mut(c).iter_mut().zip(kc) {
                            let y = *x + f * -*x;
                            *x = if y.abs() < FLUSH_BELOW { 0.0 } else { y };
                        }
                    }
                }
                None => k.chan.advance(env),
            }
        }
    }

    /// The first channel with a non-finite state: (mechanism, state, node, value).
    pub(crate) fn first_non_finite_state(&self) -> Option<(&str, &str, NodeId, f64)> {
        self.kinds.iter().find_map(|k| {
            k.chan
                .first_non_finite_state()
                .map(|(c, st, v)| (k.mech.name(), st, k.chan.nodes[c], v))
        })
    }

    /// Run the synapses alone for `n_steps` at frozen voltages `v_mv` (benchmarks and tests):
    /// initialise, then per step deliver the events, add the currents to `rhs` and `∂i/∂v` to
    /// `d`, and advance the states.
    pub fn run_frozen(&mut self, v_mv: &[f64], n_steps: u64, rhs: &mut [f64], d: &mut [f64]) {
        let mut ions: Vec<super::mechanism::IonPool> = Vec::new();
        let mut env = Env {
            t_ms: 0.0,
            v_mv,
            ions: &mut ions,
        };
        self.init(&mut env);
        for step in 0..n_steps {
            self.deliver(step);
            self.add_currents(&mut env, rhs, d);
            self.advance(&mut env);
        }
    }

    /// As [`run_frozen`](Self::run_frozen), calling `each(step, self)` after every step (its
    /// events delivered, currents added, states advanced), e.g. to read
    /// [`channel_state`](Self::channel_state) — tests and statistics of stochastic synapses.
    pub fn run_frozen_with(
        &mut self,
        v_mv: &[f64],
        n_steps: u64,
        mut each: impl FnMut(u64, &SynapseKernel),
    ) {
        let mut ions: Vec<super::mechanism::IonPool> = Vec::new();
        let mut env = Env {
            t_ms: 0.0,
            v_mv,
            ions: &mut ions,
        };
        let n = v_mv.len();
        let (mut rhs, mut d) = (vec![0.0; n], vec![0.0; n]);
        self.init(&mut env);
        for step in 0..n_steps {
            self.deliver(step);
            self.add_currents(&mut env, &mut rhs, &mut d);
            self.advance(&mut env);
            each(step, self);
        }
    }

    /// Time step the kernel was compiled for, ms.
    pub fn dt_ms(&self) -> f64 {
        self.dt_ms
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernel::mechanism::IonPool;
    use crate::kernel::test_synth::cylinder_cell;

    const DT: f64 = 0.025;

    fn tree() -> CableTree {
        CableTree::from_geometry(&cylinder_cell(100.0, 2.0, 5, 100.0, 1.0)).unwrap()
    }

    fn gaba(over: &[(&str, f64)]) -> Receptor {
        let mut o = vec![("e", -80.0), ("decaygaba", 1.0)];
        o.extend_from_slice(over);
        Receptor::stdlib("gaba_syn", &o).unwrap()
    }

    fn glutamate() -> Receptor {
        Receptor::stdlib(
            "glutamate_syn",
            &[("tau1", 26.0), ("decayampa", 1.0), ("decaynmda", 1.0)],
        )
        .unwrap()
    }

    fn syn(receptor: &Receptor, w: &[f64], times: &[f64]) -> Synapse {
        Synapse {
            section: 0,
            x: 0.5,
            receptor: receptor.clone(),
            weights_ns: w.to_vec(),
            release_times_ms: times.to_vec(),
            delay_ms: 0.0,
            seed: 0,
        }
    }

    fn kernel(syns: Vec<Synapse>, coalesce: bool) -> SynapseKernel {
        SynapseKernel::new(&tree(), syns, coalesce, DT, 34.0).unwrap()
    }

    /// Drive the kernel alone at a fixed voltage.
    struct Drive {
        v: Vec<f64>,
        ions: Vec<IonPool>,
    }

    impl Drive {
        fn new(vm: f64) -> Drive {
            Drive {
                v: vec![vm; tree().n_nodes()],
                ions: vec![],
            }
        }
        fn env(&mut self) -> Env<'_> {
            Env {
                t_ms: 0.0,
                v_mv: &self.v,
                ions: &mut self.ions,
            }
        }
    }

    fn state(k: &SynapseKernel, mech: &str, st: &str) -> f64 {
        k.channel_state(mech, st).unwrap().1[0]
    }

    /// GABA conductance `D − R` after each of `n` steps.
    fn gaba_trace(k: &mut SynapseKernel, n: u64) -> Vec<f64> {
        let mut dr = Drive::new(-70.0);
        k.init(&mut dr.env());
        (0..n)
            .map(|s| {
                k.deliver(s);
                k.advance(&mut dr.env());
                state(k, "gaba_syn", "D") - state(k, "gaba_syn", "R")
            })
            .collect()
    }

    #[test]
    fn peaknorm_gives_unit_peak() {
        for (r, d) in [(0.1, 2.0), (2.0, 26.0), (1.0, 20.0)] {
            let f = peaknorm(r, d);
            let tp = r * d / (d - r) * (d / r).ln();
            let g = |t: f64| f * ((-t / d).exp() - (-t / r).exp());
            assert!((g(tp) - 1.0).abs() < 1e-12);
            assert!(g(tp * 0.99) < 1.0 && g(tp * 1.01) < 1.0);
        }
    }

    #[test]
    fn gaba_conductance_is_the_normalised_double_exponential() {
        let mut k = kernel(vec![syn(&gaba(&[]), &[1.5], &[10.0])], true);
        let g = gaba_trace(&mut k, 2000);
        let f = peaknorm(1.0, 20.0);
        // Delivered before step 400 (t = 10 ms); after step m the states decayed m − 399 steps.
        for (m, &gm) in g.iter().enumerate() {
            let t = if m >= 400 { (m - 399) as f64 * DT } else { 0.0 };
            let want = if m >= 400 {
                1.5 * f * ((-t / 20.0).exp() - (-t / 1.0).exp())
            } else {
                0.0
            };
            assert!((gm - want).abs() < 1e-12, "step {m}: {gm} vs {want}");
        }
        let peak = g.iter().copied().fold(0.0, f64::max);
        assert!((peak - 1.5).abs() < 1e-3, "peak {peak}");
    }

    /// A decaying conductance state ends at exactly 0, never in the subnormal numbers (where
    /// `x − f·x` would stay put forever), and is unchanged while above the bound.
    #[test]
    fn decayed_states_flush_to_zero_not_subnormal() {
        let mut k = kernel(vec![syn(&gaba(&[]), &[1.5], &[0.0])], true);
        let mut dr = Drive::new(-70.0);
        k.init(&mut dr.env());
        let (mut r_prev, mut flushed_at): (f64, Option<u64>) = (0.0, None);
        // R decays with τ = 1 ms: 1e-250 is reached after ≈ 575 ms (23,000 steps).
        for step in 0..40_000 {
            k.deliver(step);
            k.advance(&mut dr.env());
            let r = state(&k, "gaba_syn", "R");
            assert!(r == 0.0 || r.is_normal(), "step {step}: R = {r:e}");
            if r == 0.0 && flushed_at.is_none() && step > 0 {
                flushed_at = Some(step);
                assert!(r_prev.abs() < 1e-249, "flushed from {r_prev:e}");
            }
            r_prev = r;
        }
        assert!(flushed_at.is_some(), "R never reached 0");
    }

    #[test]
    fn events_round_to_the_nearest_grid_time() {
        // spec 03 §3.8 (NEURON 9.0.2): 10.0, 10.01, 10.0124 act from the step at 10.0;
        // 10.0126, 10.02 from the step at 10.025.
        for (t, step) in [
            (10.0, 400),
            (10.01, 400),
            (10.0124, 400),
            (10.0126, 401),
            (10.02, 401),
            (0.0, 0),
            (0.0124, 0),
        ] {
            let mut k = kernel(vec![syn(&gaba(&[]), &[1.0], &[t])], true);
            let g = gaba_trace(&mut k, 500);
            let first = g.iter().position(|&x| x != 0.0).unwrap();
            assert_eq!(first, step, "event at {t} ms");
        }
    }

    #[test]
    fn depression_and_facilitation_use_the_pre_event_state() {
        let r = gaba(&[
            ("decaygaba", 0.5),
            ("facilgaba", 0.2),
            ("taudgaba", 100.0),
            ("taufgaba", 50.0),
            ("e", -60.0),
        ]);
        // Two events 10 ms apart (steps 0 and 400): second kick = factor·w·d·f with
        // d = 1 − 0.5·exp(−10/100), f = 1 + 0.2·exp(−10/50).
        let mut k = kernel(vec![syn(&r, &[1.0], &[0.0, 10.0])], true);
        let mut dr = Drive::new(-70.0);
        k.init(&mut dr.env());
        let f = peaknorm(1.0, 20.0);
        k.deliver(0);
        assert!((state(&k, "gaba_syn", "R") - f).abs() < 1e-15);
        for s in 0..400 {
            k.deliver(s);
            k.advance(&mut dr.env());
        }
        let before = state(&k, "gaba_syn", "R");
        k.deliver(400);
        let kick = state(&k, "gaba_syn", "R") - before;
        let d = 1.0 - 0.5 * (-10.0f64 / 100.0).exp();
        let fa = 1.0 + 0.2 * (-10.0f64 / 50.0).exp();
        assert!(
            (kick - f * d * fa).abs() < 1e-12 * f,
            "{kick} vs {}",
            f * d * fa
        );
    }

    #[test]
    fn glutamate_kicks_ampa_and_nmda_with_their_factors() {
        let mut k = kernel(vec![syn(&glutamate(), &[1.2, 0.7], &[5.0])], true);
        let mut dr = Drive::new(-70.0);
        k.init(&mut dr.env());
        k.deliver(200);
        let st = |n: &str| state(&k, "glutamate_syn", n);
        let (f1, f2) = (peaknorm(2.0, 26.0), peaknorm(0.1, 2.0));
        for (got, want) in [
            (st("A"), 0.7 * f1),
            (st("B"), 0.7 * f1),
            (st("C"), 1.2 * f2),
            (st("D"), 1.2 * f2),
        ] {
            assert!((got - want).abs() <= 1e-15 * want, "{got} vs {want}");
        }
    }

    #[test]
    fn mg_block_current_and_slope() {
        // Constant voltage, states set by one event then decayed one step: rhs and d
        // contributions equal i(v) and di/dv of the mod file's current, scaled by 100/area.
        let t = tree();
        let mut k = kernel(vec![syn(&glutamate(), &[1.0, 2.0], &[0.0])], true);
        let mut dr = Drive::new(-70.0);
        k.init(&mut dr.env());
        k.deliver(0);
        k.advance(&mut dr.env());
        let st = |n: &str| state(&k, "glutamate_syn", n);
        let (a, b, c, d) = (st("A"), st("B"), st("C"), st("D"));
        let node = k.channel_state("glutamate_syn", "A").unwrap().0[0] as usize;
        let n = t.n_nodes();
        for vm in [-80.0, -40.0, 0.0, 20.0] {
            let mut dr = Drive::new(vm);
            let (mut rhs, mut dd) = (vec![0.0; n], vec![0.0; n]);
            k.add_currents(&mut dr.env(), &mut rhs, &mut dd);
            let i = |v: f64| {
                0.001 * (a - b) / (1.0 + 0.25 * (-0.08 * v).exp()) * (v - 0.0)
                    + 0.001 * (c - d) * (v - 0.0)
            };
            let s = 1e2 / t.area_um2()[node];
            // nocmodl's difference quotient at +0.001 mV.
            let (i0, g) = (i(vm), (i(vm + 0.001) - i(vm)) / 0.001);
            assert!((rhs[node] + i0 * s).abs() <= 1e-12 * (i0 * s).abs().max(1e-12));
            assert!((dd[node] - g * s).abs() <= 1e-9 * (g * s).abs(), "{vm}");
        }
    }

    #[test]
    fn merging_shares_same_compartment_channels() {
        let (g, i) = (glutamate(), gaba(&[]));
        let syns = vec![
            syn(&g, &[1.0, 1.0], &[1.0]),
            syn(&g, &[2.0, 1.0], &[2.0]),
            syn(&i, &[1.0], &[3.0]),
            syn(&i, &[1.0], &[4.0]),
            Synapse {
                x: 0.05,
                ..syn(&g, &[1.0, 1.0], &[])
            },
        ];
        let merged = kernel(syns.clone(), true);
        assert_eq!(
            merged.channels(),
            [("glutamate_syn".into(), 3, 2), ("gaba_syn".into(), 2, 1)]
        );
        let sep = kernel(syns, false);
        assert_eq!(
            sep.channels(),
            [("glutamate_syn".into(), 3, 3), ("gaba_syn".into(), 2, 2)]
        );
        assert_eq!(merged.n_events(), 4);
    }

    #[test]
    fn active_cell_runs_synapses_and_reinitialises() {
        use crate::kernel::{ActiveCell, CellConfig};
        let mut cell = ActiveCell::new(tree(), &[], &[], CellConfig::default()).unwrap();
        let mut set = SynapseSet::new();
        set.synapses.push(syn(&glutamate(), &[5.0, 5.0], &[2.0]));
        cell.add_synapses(set).unwrap();
        let probe = cell.tree().node_at(0, 0.5);
        let a = cell.run(400, &[probe]).unwrap().column(0);
        let b = cell.run(400, &[probe]).unwrap().column(0);
        assert_eq!(a, b, "init rewinds events and states");
        // No membrane mechanisms: v stays at v_init until the first conductance step.
        assert!(a[..=81].iter().all(|&v| v == -75.0));
        assert!(a[100] > -75.0);
    }

    #[test]
    fn bad_input_is_rejected() {
        let p = gaba(&[]);
        for s in [
            syn(&p, &[1.0], &[-1.0]),
            syn(&p, &[1.0], &[f64::NAN]),
            syn(&p, &[f64::INFINITY], &[1.0]),
            syn(&p, &[1.0, 2.0], &[1.0]),
            Synapse {
                section: 3,
                ..syn(&p, &[1.0], &[])
            },
            // equal rise and decay: the peak normalisation is 0/0
            syn(&gaba(&[("risetime", 20.0)]), &[1.0], &[]),
        ] {
            assert!(SynapseKernel::new(&tree(), vec![s], true, DT, 34.0).is_err());
        }
    }

    #[test]
    fn stdlib_synapses_analyse_and_merge() {
        let lib = stdlib_synapses().expect("stdlib synapses");
        let names: Vec<&str> = lib.iter().map(|m| m.name()).collect();
        assert_eq!(
            names,
            [
                "glutamate_syn",
                "gaba_syn",
                "exp2syn",
                "ProbAMPANMDA2",
                "ProbUDFsyn2"
            ]
        );
        // The stochastic synapses: held per-connection event state, one draw per event.
        let prob = &lib[3];
        let (ch, pl) = prob.state_split();
        assert_eq!(ch, ["A_AMPA", "B_AMPA", "A_NMDA", "B_NMDA"]);
        assert_eq!(pl, ["Pv", "u", "tsyn"]);
        assert_eq!(prob.n_draws(), 1);
        assert_eq!(lib[4].n_draws(), 1);
        assert!(lib[..3].iter().all(|m| m.n_draws() == 0));
        for m in lib {
            assert!(m.mergeable(), "{} should merge", m.name());
            assert!(m.decay_b.is_some(), "{} decays natively", m.name());
        }
        let glu = &lib[0];
        let (ch, pl) = glu.state_split();
        assert_eq!(ch, ["A", "B", "C", "D"]);
        assert_eq!(pl, ["dampa", "dnmda", "fampa", "fnmda"]);
        // Merge key: the time constants, e, n and gama — not the weights or plasticity.
        let key: Vec<&str> = glu
            .channel_params
            .iter()
            .map(|&j| glu.model.parameters[j].name.as_str())
            .collect();
        assert_eq!(key, ["tau1", "tau2", "tau3", "tau4", "e", "n", "gama"]);
    }

    #[test]
    fn linearity_classes() {
        let mut d = Dag::default();
        let (a, b, v) = (d.input(3), d.input(4), d.input(0));
        let ab = d.apply(Op::Sub, &[a, b]);
        let e = d.apply(Op::Exp, &[v]);
        let g = d.apply(Op::Div, &[ab, e]);
        assert_eq!(linearity(&d, g, &[3, 4]), Lin::Hom);
        let sq = d.apply(Op::Mul, &[a, a]);
        assert_eq!(linearity(&d, sq, &[3, 4]), Lin::Other);
        let one = d.constant(1.0);
        let aff = d.apply(Op::Add, &[a, one]);
        assert_eq!(linearity(&d, aff, &[3, 4]), Lin::Other);
        assert_eq!(linearity(&d, e, &[3, 4]), Lin::Free);
    }
}
