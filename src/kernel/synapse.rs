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
//! from NEURON by up to 1e-3 mV over an S3 run). A mechanism with one current runs its
//! channels on their own contiguous voltages and current buffers, gathered from and added into
//! the cell's arrays in one indexed pass each (`Compact`: the same bits, fewer scattered
//! accesses).
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
//! preallocated buffers: the step loop does not allocate. An event evaluates only the nodes
//! that depend on its time, the states or its draws; the parameter-only values they need are
//! computed once per distinct parameter vector when the kernel is built (`EventProgram`).

use super::dag::{Dag, Id, Node, Op};
use super::error::KernelError;
use super::mechanism::{CompileEnv, CompiledMech, Env, IonPool};
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
    /// Parameters the channel programs that run depend on (see
    /// [`channel_parameters`](Self::channel_parameters)); the channels are compiled with the
    /// others uniform.
    program_params: Vec<usize>,
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
    /// What an event evaluates (see [`EventProgram`]).
    event: EventProgram,
}

/// The part of the DAG an event evaluates. The event values (kicks and sets) mostly combine
/// parameters (weights, peak normalisations of the time constants: `exp`, `ln`, divisions)
/// with a few per-event inputs (`t`, the per-synapse states, the draws). The parameter-only
/// nodes they need are evaluated once per distinct parameter vector when the kernel is built
/// ([`EventProgram::fixed`]); an event evaluates only the nodes that depend on its inputs and
/// lead to an event value ([`EventProgram::live`]), in DAG order. Every node is computed by
/// the same operation from the same operand values as a whole-DAG evaluation would, so the
/// values are the same bits.
#[derive(Clone, Debug, Default)]
struct EventProgram {
    /// Nodes evaluated per event, in DAG order.
    live: Vec<Id>,
    /// Parameter-only nodes read by `live` nodes or themselves event values, whose values are
    /// kept per parameter vector.
    fixed: Vec<Id>,
}

impl EventProgram {
    /// The event program of the roots `roots` over the DAG's first `upto` nodes: a node is
    /// per-event when it depends on an input for which `per_event(input)` holds.
    fn new(dag: &Dag, upto: usize, roots: &[Id], per_event: impl Fn(u32) -> bool) -> Self {
        let nodes = &dag.nodes()[..upto];
        let args = |n: &Node| -> Vec<Id> {
            match *n {
                Node::Apply(op, a) => a[..op.arity()].to_vec(),
                _ => Vec::new(),
            }
        };
        let mut dynamic = vec![false; upto];
        for (i, n) in nodes.iter().enumerate() {
            dynamic[i] = match *n {
                Node::Const(_) => false,
                Node::Input(k) => per_event(k),
                Node::Apply(..) => args(n).iter().any(|&a| dynamic[a as usize]),
            };
        }
        let mut needed = vec![false; upto];
        let mut fixed = vec![false; upto];
        for &r in roots {
            needed[r as usize] = true;
            fixed[r as usize] = !dynamic[r as usize];
        }
        for i in (0..upto).rev() {
            if needed[i] && dynamic[i] {
                for a in args(&nodes[i]) {
                    needed[a as usize] = true;
                    fixed[a as usize] |= !dynamic[a as usize];
                }
            }
        }
        let ids = |keep: Vec<bool>| (0..upto).filter(|&i| keep[i]).map(|i| i as Id).collect();
        let live = needed.iter().zip(&dynamic).map(|(&n, &d)| n && d).collect();
        EventProgram {
            live: ids(live),
            fixed: ids(fixed),
        }
    }
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
        // The parameters of the channel programs that run: the current's alone where the
        // kernel advances the states itself.
        let program_params: Vec<usize> = if decay_b.is_some() {
            channel_params
                .iter()
                .copied()
                .filter(|&j| current.iter().any(|&r| dag.depends_on(r, param_in(j))))
                .collect()
        } else {
            channel_params.clone()
        };
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
        // Per event: `t`, the states and the draws (`v` never reaches an event value).
        let roots: Vec<Id> = kicks.iter().chain(&sets).map(|&(_, r)| r).collect();
        let upto = roots.iter().map(|&r| r as usize + 1).max().unwrap_or(0);
        let event = EventProgram::new(&dag, upto, &roots, |k| {
            k == IN_V
                || k == IN_T
                || (IN_STATES..IN_STATES + ns as u32).contains(&k)
                || k >= draw_in0
        });
        Ok(SynapseMech {
            event,
            draws,
            plastic_init,
            model: model.clone(),
            channel_model,
            channel,
            plastic,
            channel_params,
            program_params,
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

    /// The point-process model each channel is compiled from: the conductance states and the
    /// current, with every parameter of the mechanism (the native-kernel generator compiles it
    /// as the kernel does).
    pub fn channel_model(&self) -> &MechModel {
        &self.channel_model
    }

    /// Names of the parameters the channel programs that run depend on: those of the current
    /// and the conductance equations, or of the current alone for a mechanism that
    /// [decays natively](Self::decays_natively) (its compiled state program never runs).
    /// Channels are compiled with every other parameter uniform.
    pub fn channel_parameters(&self) -> Vec<&str> {
        self.program_params
            .iter()
            .map(|&j| self.model.parameters[j].name.as_str())
            .collect()
    }

    /// Whether every conductance state decays on its own, so that the kernel advances the
    /// channels itself and runs only their current program.
    pub fn decays_natively(&self) -> bool {
        self.decay_b.is_some()
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

    /// The event values for per-event `inputs` into `buf` (at least [`event_upto`] long):
    /// the fixed values of the synapse's parameter vector, then the live nodes (see
    /// [`EventProgram`]).
    ///
    /// [`event_upto`]: Self::event_upto
    fn eval_event(&self, fixed: &[f64], inputs: &[f64], buf: &mut [f64]) {
        for (&n, &x) in self.event.fixed.iter().zip(fixed) {
            buf[n as usize] = x;
        }
        let nodes = self.dag.nodes();
        for &n in &self.event.live {
            buf[n as usize] = match nodes[n as usize] {
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

/// The channels of one mechanism that are computed from step `start` on (see [`Kind`]).
#[derive(Clone)]
struct Phase {
    /// First step of the phase.
    start: u64,
    /// One instance per member channel, in node order. Where the phase is [`Compact`], the
    /// instances sit on consecutive virtual nodes `0..n` and read and write the buffers of
    /// [`Phase::compact`]; otherwise on the cell's nodes (lane-placed).
    chan: CompiledMech,
    /// The instances' cell indices and own contiguous `v`, `rhs` and `d` (see [`Compact`]),
    /// if used.
    compact: Option<Compact>,
    /// Channel index (over all the kind's channels) of each instance.
    members: Vec<u32>,
    /// Per channel of the kind: its instance here, or [`NOT_LIVE`].
    local: Vec<u32>,
    /// Native decay: per channel column, per instance, nocmodl's `1 − exp(b·dt)`.
    decay_k: Option<Vec<Vec<f64>>>,
}

/// [`Phase::local`] of a channel the phase leaves out.
const NOT_LIVE: u32 = u32::MAX;

/// A phase's channels on consecutive virtual nodes `0..n`, with their own contiguous `v`,
/// `rhs` and `d`: the kernel copies `v` at the channels' cell indices into `v`, the compiled
/// channel reads and writes these buffers (one run per chunk, so its loads and stores are
/// block copies and vector loops), and the kernel adds `rhs` and `d` into the cell's arrays.
/// Channels sit on scattered nodes (the cell's node order interleaves sections, zero-area
/// nodes and, with lanes, trials), so gathering into and scattering from the cell's arrays
/// directly costs a copy call or a loop per run of a node or two; one indexed pass each way
/// is cheaper (issue 16).
///
/// The same bits as the channel adding into the cell's arrays itself: per instance the
/// channel does `rhs[n] −= y` and `d[n] += z`. With the buffers at −0 beforehand it leaves
/// `−0 − y`, which is `−y` exactly for every `y` (signed zeros included), and `−0 + z = z`;
/// the kernel then adds `−y` to `rhs[n]`, which IEEE 754 defines as `rhs[n] − y`, and `z` to
/// `d[n]`, in instance order as before. That needs one current per channel: with several,
/// the channel would sum them in the buffer before they reach `rhs` (another rounding order),
/// so such mechanisms keep the cell's nodes.
#[derive(Clone)]
struct Compact {
    /// Index in the cell's node-ordered arrays (`node·lanes + lane`) of each instance.
    at: Vec<NodeId>,
    /// One past the largest index in `at` (0 when empty): the arrays the loops below index
    /// must be at least this long, which they check once per call.
    end: usize,
    v: Vec<f64>,
    rhs: Vec<f64>,
    d: Vec<f64>,
}

impl Compact {
    /// Instances at the cell indices `at`.
    fn new(at: Vec<NodeId>) -> Compact {
        let n = at.len();
        let end = at.iter().map(|&i| i as usize + 1).max().unwrap_or(0);
        Compact {
            at,
            end,
            v: vec![0.0; n],
            rhs: vec![-0.0; n],
            d: vec![-0.0; n],
        }
    }

    /// Move the instances into lane `lane` of `lanes` (see [`SynapseKernel::place_in_lane`]).
    fn place_in_lane(&mut self, lanes: usize, lane: usize) {
        let at = self
            .at
            .iter()
            .map(|&i| i * lanes as NodeId + lane as NodeId);
        *self = Compact::new(at.collect());
    }

    /// `v` at the instances' cell indices, into the buffer.
    #[inline]
    fn gather_v(&mut self, v_mv: &[f64]) {
        assert!(self.end <= v_mv.len(), "synapse channels outside the cell");
        for (x, &i) in self.v.iter_mut().zip(&self.at) {
            // SAFETY: `i < self.end` (an invariant of `at` and `end`, set together in `new`)
            // and `self.end <= v_mv.len()` (asserted above).
            *x = unsafe { *v_mv.get_unchecked(i as usize) };
        }
    }

    /// Add the buffers' `rhs` and `d` into the cell's arrays, instance by instance.
    #[inline]
    fn scatter(&self, rhs: &mut [f64], d: &mut [f64]) {
        assert!(
            self.end <= rhs.len() && self.end <= d.len(),
            "synapse channels outside the cell"
        );
        for ((&i, &r), &g) in self.at.iter().zip(&self.rhs).zip(&self.d) {
            // SAFETY: `i < self.end` (see `gather_v`) and `self.end` is at most both lengths
            // (asserted above).
            unsafe {
                *rhs.get_unchecked_mut(i as usize) += r;
                *d.get_unchecked_mut(i as usize) += g;
            }
        }
    }
}

impl Phase {
    /// Add the channels' currents to `rhs` and `∂i/∂v` to `d` (see [`Compact`]).
    fn add_currents(&mut self, env: &mut Env<'_>, rhs: &mut [f64], d: &mut [f64]) {
        let Phase { chan, compact, .. } = self;
        let Some(c) = compact else {
            return chan.add_currents(env, rhs, d);
        };
        c.gather_v(env.v_mv);
        c.rhs.fill(-0.0);
        c.d.fill(-0.0);
        let mut no_ions: [IonPool; 0] = [];
        let mut local = Env {
            t_ms: env.t_ms,
            v_mv: &c.v,
            ions: &mut no_ions,
        };
        chan.add_currents(&mut local, &mut c.rhs, &mut c.d);
        c.scatter(rhs, d);
    }

    /// Initialise (`init`) or advance the channels' states by their compiled programs, with
    /// the channels' own voltages where the phase is compact.
    fn run_states(&mut self, env: &mut Env<'_>, init: bool) {
        let Phase { chan, compact, .. } = self;
        let run = |chan: &mut CompiledMech, env: &mut Env<'_>| {
            if init {
                chan.initialise(env);
            } else {
                chan.advance(env);
            }
        };
        match compact {
            None => run(chan, env),
            Some(c) => {
                c.gather_v(env.v_mv);
                let mut no_ions: [IonPool; 0] = [];
                let mut local = Env {
                    t_ms: env.t_ms,
                    v_mv: &c.v,
                    ions: &mut no_ions,
                };
                run(chan, &mut local);
            }
        }
    }

    /// Cell index (lane-placed) of instance `i`.
    fn cell_index(&self, i: usize) -> NodeId {
        match &self.compact {
            Some(c) => c.at[i],
            None => self.chan.nodes[i],
        }
    }
}

/// A kind with at least this many channels is computed in phases.
const PHASED_MIN_CHANNELS: usize = 64;

/// At most this many phases per kind (each is compiled once per kernel).
const MAX_PHASES: usize = 8;

/// The synapses of one mechanism on a cell.
///
/// **Phases.** All release events are known when the kernel is built, so each channel's first
/// event step is too. Where a channel's states start at 0, decay on their own (0 stays exactly
/// 0) and its current is linear and homogeneous in them, a channel before its first event adds
/// exactly ±0 to `rhs` and `d`: it can be left out until then. The run is cut into a few
/// phases at quantiles of the first-event steps; a phase computes the channels whose first
/// event falls before its end (a node-ordered subset, so the order of additions per node is
/// unchanged) and takes over the states of the previous phase's channels when it starts. In
/// S4 about a third of the channel-steps are such silent channels.
#[derive(Clone)]
struct Kind {
    mech: Arc<SynapseMech>,
    /// Consecutive phases (one, from step 0, with every channel, when not phased).
    phases: Vec<Phase>,
    /// The phase in use.
    phase: usize,
    /// Node of every channel (node order).
    nodes: Vec<NodeId>,
    /// Per synapse: its channel.
    syn_channel: Vec<u32>,
    /// Per distinct parameter vector: the values of [`EventProgram::fixed`] (row-major).
    ev_fixed: Vec<f64>,
    /// Per synapse: its row of `ev_fixed`.
    ev_row: Vec<u32>,
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
    /// Step of each synapse's last event.
    last: Vec<u64>,
    /// Scratch: DAG inputs and node values (at least [`SynapseMech::event_upto`] long).
    inputs: Vec<f64>,
    buf: Vec<f64>,
}

impl Kind {
    /// The phase in use.
    fn cur(&self) -> &Phase {
        &self.phases[self.phase]
    }

    /// Move on to the phase of step `step`: the next phase's channels that were computed
    /// already take their states from the present phase; the others hold their initial values
    /// (0), set by `init`, which is what the channel would hold had it been computed.
    fn enter_phase_of(&mut self, step: u64) {
        while self.phase + 1 < self.phases.len() && self.phases[self.phase + 1].start <= step {
            let (done, next) = self.phases.split_at_mut(self.phase + 1);
            let (old, new) = (&done[self.phase], &mut next[0]);
            for s in 0..new.chan.state_names.len() {
                let (from, to) = (old.chan.state(s), new.chan.state_mut(s));
                for (x, &g) in to.iter_mut().zip(&new.members) {
                    let o = old.local[g as usize];
                    if o != NOT_LIVE {
                        *x = from[o as usize];
                    }
                }
            }
            self.phase += 1;
        }
    }
}

/// Phase start steps for channels first kicked at steps `first` (`u64::MAX`: never): step 0,
/// then quantiles of the first-event steps, strictly increasing. One phase (`[0]`) when the
/// kind is small.
fn phase_starts(first: &[u64]) -> Vec<u64> {
    let mut f: Vec<u64> = first.iter().copied().filter(|&x| x != u64::MAX).collect();
    let n_phases = (first.len() / (PHASED_MIN_CHANNELS / 2)).min(MAX_PHASES);
    if first.len() < PHASED_MIN_CHANNELS || n_phases < 2 || f.is_empty() {
        return vec![0];
    }
    f.sort_unstable();
    let mut starts = vec![0];
    for p in 1..n_phases {
        let s = f[p * f.len() / n_phases];
        if s > *starts.last().unwrap_or(&0) {
            starts.push(s);
        }
    }
    starts
}

/// `x ← x + k·(−x)` (nocmodl's cnexp form of `dx/dt = b·x`, `k = 1 − exp(b·dt)`), flushed to 0
/// below [`FLUSH_BELOW`], over one column of channel states. The same operations in the same
/// order at every SIMD width (no fused multiply-add), so every path gives the same bits.
#[inline(always)]
fn decay_column(x: &mut [f64], k: &[f64]) {
    for (x, &f) in x.iter_mut().zip(k) {
        let y = *x + f * -*x;
        *x = if y.abs() < FLUSH_BELOW { 0.0 } else { y };
    }
}

/// [`decay_column`] with the widest vector unit the processor has.
fn decay(x: &mut [f64], k: &[f64]) {
    #[cfg(target_arch = "x86_64")]
    {
        #[target_feature(enable = "avx512f,fma")]
        fn wide(x: &mut [f64], k: &[f64]) {
            decay_column(x, k)
        }
        #[target_feature(enable = "avx2,fma")]
        fn medium(x: &mut [f64], k: &[f64]) {
            decay_column(x, k)
        }
        if std::is_x86_feature_detected!("avx512f") && std::is_x86_feature_detected!("fma") {
            // SAFETY: the processor has the feature (checked above).
            return unsafe { wide(x, k) };
        }
        if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
            // SAFETY: as above.
            return unsafe { medium(x, k) };
        }
    }
    decay_column(x, k)
}

/// An error of the kernel's setup.
fn setup_error(message: String) -> KernelError {
    KernelError::Setup { message }
}

/// One release event while the kernel is built.
#[derive(Clone, Copy, Debug)]
struct BuildEvent {
    /// Step it is applied at (see the module docs).
    step: u64,
    /// Exact time at the receptor (release + delay), ms.
    t: f64,
    /// Kind (mechanism) index and synapse within the kind.
    kind: u32,
    syn: u32,
}

/// The synapses of one mechanism while the kernel is built: their channels (first-appearance
/// order until [`KindBuild::sort_by_node`]) and per-synapse values.
struct KindBuild {
    mech: Arc<SynapseMech>,
    /// Node of each channel.
    nodes: Vec<NodeId>,
    /// Per parameter, its value per channel (the channel's first synapse's).
    ch_par: Vec<Vec<f64>>,
    /// Merged channels by (node, bits of the channel parameters).
    key: HashMap<(NodeId, Vec<u64>), u32>,
    /// Per synapse: its channel.
    syn_channel: Vec<u32>,
    /// Per synapse × parameter (row per synapse).
    par: Vec<f64>,
    /// Per synapse: its index in the specifications.
    global: Vec<usize>,
    /// Per synapse: the seed of its draws.
    seed: Vec<u64>,
}

/// Check synapse `s` and resolve it: its node and its parameter values (weights set).
fn check_synapse(
    tree: &CableTree,
    area: &[f64],
    s: usize,
    syn: &Synapse,
) -> Result<(NodeId, Vec<f64>), KernelError> {
    let node = tree.location(syn.section, syn.x)?;
    if area[node as usize] <= 0.0 {
        return Err(setup_error(format!(
            "synapse {s}: section {} x {} is a zero-area node",
            syn.section, syn.x
        )));
    }
    if !(syn.weights_ns.iter().all(|w| w.is_finite())
        && syn.delay_ms.is_finite()
        && syn.delay_ms >= 0.0)
    {
        return Err(setup_error(format!(
            "synapse {s}: weights must be finite and the delay finite and ≥ 0"
        )));
    }
    let params = syn
        .receptor
        .with_weights(&syn.weights_ns)
        .map_err(|m| setup_error(format!("synapse {s}: {m}")))?;
    if let Some(j) = params.iter().position(|x| !x.is_finite()) {
        let mech = &syn.receptor.mech;
        return Err(setup_error(format!(
            "synapse {s}: parameter `{}` of `{}` is not finite",
            mech.model.parameters[j].name,
            mech.name()
        )));
    }
    Ok((node, params))
}

/// Check every synapse, group the synapses by mechanism (kinds in first-appearance order),
/// merge them into channels where exact and `coalesce` is set, and list their events
/// (unsorted).
fn group_synapses(
    tree: &CableTree,
    specs: &[Synapse],
    coalesce: bool,
    dt_ms: f64,
) -> Result<(Vec<KindBuild>, Vec<BuildEvent>), KernelError> {
    let area = tree.area_um2();
    let mut kind_of: HashMap<&str, usize> = HashMap::new();
    let mut builds: Vec<KindBuild> = Vec::new();
    let mut events = Vec::new();
    for (s, syn) in specs.iter().enumerate() {
        let (node, params) = check_synapse(tree, area, s, syn)?;
        let mech = &syn.receptor.mech;
        let k = *kind_of.entry(mech.name()).or_insert_with(|| {
            builds.push(KindBuild::new(mech.clone()));
            builds.len() - 1
        });
        let b = &mut builds[k];
        if !Arc::ptr_eq(&b.mech, mech) && b.mech.model.origin != mech.model.origin {
            return Err(setup_error(format!(
                "two different synapse mechanisms are called `{}`",
                mech.name()
            )));
        }
        let within = b.add(s, syn.seed, node, params, coalesce);
        for &t in &syn.release_times_ms {
            if !(t.is_finite() && t >= 0.0) {
                return Err(setup_error(format!(
                    "synapse {s}: release time {t} ms (times must be finite and ≥ 0)"
                )));
            }
            let te = t + syn.delay_ms;
            let step = (te / dt_ms + 0.5).floor();
            if step < u64::MAX as f64 {
                events.push(BuildEvent {
                    step: step as u64,
                    t: te,
                    kind: k as u32,
                    syn: within,
                });
            }
        }
    }
    Ok((builds, events))
}

/// Events in (step, time, synapse order) — the synapse order given, as before grouping.
fn sort_events(events: &mut [BuildEvent], builds: &[KindBuild]) {
    events.sort_by(|x, y| {
        x.step.cmp(&y.step).then(x.t.total_cmp(&y.t)).then_with(|| {
            let gx = builds[x.kind as usize].global[x.syn as usize];
            let gy = builds[y.kind as usize].global[y.syn as usize];
            gx.cmp(&gy)
        })
    });
}

impl KindBuild {
    fn new(mech: Arc<SynapseMech>) -> KindBuild {
        let np = mech.model.parameters.len();
        KindBuild {
            mech,
            nodes: vec![],
            ch_par: vec![vec![]; np],
            key: HashMap::new(),
            syn_channel: vec![],
            par: vec![],
            global: vec![],
            seed: vec![],
        }
    }

    /// Add synapse `s` (on `node`, with parameter values `params`): into the channel of an
    /// earlier synapse with the same node and channel parameters where the mechanism merges
    /// and `coalesce` is set, else into a new channel. Returns its index within the kind.
    fn add(&mut self, s: usize, seed: u64, node: NodeId, params: Vec<f64>, coalesce: bool) -> u32 {
        let new_ch = self.nodes.len() as u32;
        let ch = if coalesce && self.mech.mergeable {
            let key: Vec<u64> = self
                .mech
                .channel_params
                .iter()
                .map(|&j| params[j].to_bits())
                .collect();
            *self.key.entry((node, key)).or_insert(new_ch)
        } else {
            new_ch
        };
        if ch == new_ch {
            self.nodes.push(node);
            for (j, col) in self.ch_par.iter_mut().enumerate() {
                col.push(params[j]);
            }
        }
        let within = self.syn_channel.len() as u32;
        self.syn_channel.push(ch);
        self.par.extend_from_slice(&params);
        self.global.push(s);
        self.seed.push(seed);
        within
    }

    /// Renumber the channels in node order: channels on neighbouring compartments then form
    /// runs, so gathering v and adding currents are block copies rather than scattered
    /// accesses.
    fn sort_by_node(&mut self) {
        let mut order: Vec<usize> = (0..self.nodes.len()).collect();
        order.sort_by_key(|&c| self.nodes[c]);
        let mut new_index = vec![0u32; order.len()];
        for (new, &old) in order.iter().enumerate() {
            new_index[old] = new as u32;
        }
        self.nodes = order.iter().map(|&c| self.nodes[c]).collect();
        for col in &mut self.ch_par {
            *col = order.iter().map(|&c| col[c]).collect();
        }
        for ch in &mut self.syn_channel {
            *ch = new_index[*ch as usize];
        }
    }

    /// Where every conductance state decays on its own: per channel column, per channel,
    /// nocmodl's `1 − exp(b·dt)`. Values that depend on parameters alone are evaluated once
    /// per distinct parameter vector (synapses of one presynaptic type share theirs), not once
    /// per channel; the results are the same numbers.
    fn decay_factors(&self, dt_ms: f64) -> Result<Option<Vec<Vec<f64>>>, KernelError> {
        let m = &self.mech;
        let Some(roots) = &m.decay_b else {
            return Ok(None);
        };
        let n_ch = self.nodes.len();
        let ns = m.model.states.len();
        let upto = roots.iter().map(|&r| r as usize + 1).max().unwrap_or(0);
        let mut inputs = vec![0.0; m.n_inputs()];
        let mut buf = Vec::new();
        let mut memo: HashMap<Vec<u64>, Vec<f64>> = HashMap::new();
        let mut k = vec![Vec::with_capacity(n_ch); roots.len()];
        for ch in 0..n_ch {
            let key: Vec<u64> = self.ch_par.iter().map(|c| c[ch].to_bits()).collect();
            let row = match memo.get(&key) {
                Some(row) => row,
                None => {
                    for (j, col) in self.ch_par.iter().enumerate() {
                        inputs[IN_STATES as usize + ns + j] = col[ch];
                    }
                    m.eval_into(upto, &inputs, &mut buf);
                    let mut row = Vec::with_capacity(roots.len());
                    for &r in roots {
                        let bb = buf[r as usize];
                        if !bb.is_finite() {
                            return Err(setup_error(format!(
                                "`{}`: a conductance state decays with rate {bb} /ms",
                                m.name()
                            )));
                        }
                        row.push(1.0 - (bb * dt_ms).exp());
                    }
                    memo.entry(key).or_insert(row)
                }
            };
            for (kc, &x) in k.iter_mut().zip(row) {
                kc.push(x);
            }
        }
        Ok(Some(k))
    }

    /// The phases (see [`Kind`]) as (first step, member channels), for kind `ki` with events
    /// `events`: one phase of every channel unless a silent channel's contribution is exactly
    /// ±0.
    fn phase_members(&self, ki: usize, events: &[BuildEvent]) -> Vec<(u64, Vec<u32>)> {
        let m = &self.mech;
        let n_ch = self.nodes.len();
        let silent_until_kicked = m.decay_b.is_some()
            && m.mergeable
            && m.channel_model
                .states
                .iter()
                .all(|s| s.init_expr.is_none() && s.init.unwrap_or(0.0) == 0.0);
        if !silent_until_kicked {
            return vec![(0, (0..n_ch as u32).collect())];
        }
        let mut first = vec![u64::MAX; n_ch];
        for e in events.iter().filter(|e| e.kind as usize == ki) {
            let f = &mut first[self.syn_channel[e.syn as usize] as usize];
            *f = (*f).min(e.step);
        }
        let starts = phase_starts(&first);
        // Phase p computes the channels first kicked before phase p + 1 starts.
        let ends: Vec<u64> = starts[1..].iter().copied().chain([u64::MAX]).collect();
        ends.into_iter()
            .zip(&starts)
            .map(|(end, &start)| {
                let members: Vec<u32> = (0..n_ch as u32)
                    .filter(|&c| end == u64::MAX || first[c as usize] < end)
                    .collect();
                (start, members)
            })
            .collect()
    }

    /// Compile each phase's member channels (one point-process instance per channel), on
    /// virtual nodes where `compact` is set and the mechanism has one current (see
    /// [`Compact`]).
    fn phases(
        &self,
        members: Vec<(u64, Vec<u32>)>,
        decay_k: Option<&Vec<Vec<f64>>>,
        area: &[f64],
        env: CompileEnv,
        compact: bool,
    ) -> Result<Vec<Phase>, KernelError> {
        let n_ch = self.nodes.len();
        let mut phases = Vec::with_capacity(members.len());
        for (start, members) in members {
            let pick =
                |col: &[f64]| -> Vec<f64> { members.iter().map(|&c| col[c as usize]).collect() };
            let nodes: Vec<NodeId> = members.iter().map(|&c| self.nodes[c as usize]).collect();
            // The parameters the running programs do not depend on (weights, plasticity; the
            // decay rates where the kernel advances the states itself, see `decay_factors`)
            // are passed uniform: they vary per synapse, and as columns they would only take
            // memory and change the programs' column numbers (and so their native-kernel
            // fingerprints).
            let ch_par: Vec<Vec<f64>> = self
                .ch_par
                .iter()
                .enumerate()
                .map(|(j, c)| {
                    if self.mech.program_params.contains(&j) {
                        pick(c)
                    } else {
                        vec![c[0]; members.len()]
                    }
                })
                .collect();
            let model = &self.mech.channel_model;
            let (chan, compact) = if compact && model.currents.len() == 1 {
                let virt: Vec<NodeId> = (0..nodes.len() as NodeId).collect();
                let area_at: Vec<f64> = nodes.iter().map(|&nd| area[nd as usize]).collect();
                let chan = CompiledMech::new(model, virt, &ch_par, &[], &area_at, env)?;
                (chan, Some(Compact::new(nodes)))
            } else {
                let chan = CompiledMech::new(model, nodes, &ch_par, &[], area, env)?;
                (chan, None)
            };
            let mut local = vec![NOT_LIVE; n_ch];
            for (i, &c) in members.iter().enumerate() {
                local[c as usize] = i as u32;
            }
            phases.push(Phase {
                start,
                chan,
                compact,
                decay_k: decay_k.map(|cols| cols.iter().map(|c| pick(c)).collect()),
                members,
                local,
            });
        }
        Ok(phases)
    }

    /// The per-synapse states' initial values and lazy-update coefficients, per synapse,
    /// evaluated once per distinct parameter vector (errors name the first synapse with those
    /// values). `inputs` is the DAG input vector (`celsius` set); `buf` the node values.
    fn plastic_setup(
        &self,
        dt_ms: f64,
        inputs: &mut [f64],
        buf: &mut Vec<f64>,
    ) -> Result<PlasticSetup, KernelError> {
        let m = &self.mech;
        let np = m.model.parameters.len();
        let npl = m.plastic.len();
        let n_syn = self.syn_channel.len();
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
        let mut out = PlasticSetup::with_capacity(n_syn * npl);
        out.fixed_row.reserve(n_syn);
        let mut memo: HashMap<Vec<u64>, (PlasticSetup, u32)> = HashMap::new();
        for s in 0..n_syn {
            let params = &self.par[s * np..(s + 1) * np];
            let key: Vec<u64> = params.iter().map(|x| x.to_bits()).collect();
            if let Some((row, r)) = memo.get(&key) {
                out.extend(row);
                out.fixed_row.push(*r);
                continue;
            }
            let row = self.plastic_row(s, params, &const_init, upto_ab, dt_ms, inputs, buf)?;
            let r = memo.len() as u32;
            out.extend(&row);
            out.fixed.extend_from_slice(&row.fixed);
            out.fixed_row.push(r);
            memo.insert(key, (row, r));
        }
        Ok(out)
    }

    /// [`plastic_setup`](Self::plastic_setup) for synapse `s` with parameter values `params`.
    #[allow(clippy::too_many_arguments)]
    fn plastic_row(
        &self,
        s: usize,
        params: &[f64],
        const_init: &[f64],
        upto_ab: usize,
        dt_ms: f64,
        inputs: &mut [f64],
        buf: &mut Vec<f64>,
    ) -> Result<PlasticSetup, KernelError> {
        let m = &self.mech;
        let npl = m.plastic.len();
        let mut row = PlasticSetup::with_capacity(npl);
        inputs[m.param_range()].copy_from_slice(params);
        for (j, &p) in m.plastic.iter().enumerate() {
            inputs[IN_STATES as usize + p] = const_init[j];
        }
        m.eval_into(upto_ab, inputs, buf);
        // Initial values (parameter-dependent ones evaluated for this synapse); the
        // first-event check below then sees them.
        for (j, &p) in m.plastic.iter().enumerate() {
            let x = match m.plastic_init[j] {
                Some(r) => buf[r as usize],
                None => const_init[j],
            };
            if !x.is_finite() {
                return Err(setup_error(format!(
                    "synapse {}: `{}` of `{}` starts at {x}",
                    self.global[s],
                    m.model.states[p].name,
                    m.name()
                )));
            }
            inputs[IN_STATES as usize + p] = x;
            row.init.push(x);
        }
        m.eval_into(upto_ab, inputs, buf);
        // The event program's parameter-only values (they read no state: either evaluation
        // gives them).
        row.fixed = m.event.fixed.iter().map(|&n| buf[n as usize]).collect();
        // A first event must give finite values (e.g. rise = decay makes the peak
        // normalisation 0/0).
        for (st, &r) in m
            .kicks
            .iter()
            .map(|(c, r)| (m.channel[*c], r))
            .chain(m.sets.iter().map(|(j, r)| (m.plastic[*j], r)))
        {
            if !buf[r as usize].is_finite() {
                return Err(setup_error(format!(
                    "synapse {}: an event gives `{}` of `{}` the value {} (check the \
                     parameters)",
                    self.global[s],
                    m.model.states[st].name,
                    m.name(),
                    buf[r as usize]
                )));
            }
        }
        for (j, &(a, bb)) in m.plastic_ab.iter().enumerate() {
            let (a, bb) = (buf[a as usize], buf[bb as usize]);
            if !(a.is_finite() && bb.is_finite()) {
                return Err(setup_error(format!(
                    "synapse {}: the equation of `{}` has non-finite coefficients",
                    self.global[s], m.model.states[m.plastic[j]].name
                )));
            }
            if bb == 0.0 {
                row.rec.push(1.0);
                row.inf.push(a * dt_ms);
                row.drift.push(true);
            } else {
                row.rec.push((bb * dt_ms).exp());
                row.inf.push(-a / bb);
                row.drift.push(false);
            }
        }
        Ok(row)
    }
}

/// Per synapse × per-synapse state: initial value, `exp(b·dt)` (or 1), `x∞` (or `a·dt`), and
/// whether the state drifts (`b = 0`); see [`Kind`]'s fields of the same meaning. Per
/// distinct parameter vector the event program's fixed values, and per synapse its row of
/// them (for one synapse: its values, no row).
struct PlasticSetup {
    init: Vec<f64>,
    rec: Vec<f64>,
    inf: Vec<f64>,
    drift: Vec<bool>,
    fixed: Vec<f64>,
    fixed_row: Vec<u32>,
}

impl PlasticSetup {
    fn with_capacity(n: usize) -> PlasticSetup {
        PlasticSetup {
            init: Vec::with_capacity(n),
            rec: Vec::with_capacity(n),
            inf: Vec::with_capacity(n),
            drift: Vec::with_capacity(n),
            fixed: Vec::new(),
            fixed_row: Vec::new(),
        }
    }

    /// Append one synapse's per-synapse-state values (not its fixed values).
    fn extend(&mut self, row: &PlasticSetup) {
        self.init.extend_from_slice(&row.init);
        self.rec.extend_from_slice(&row.rec);
        self.inf.extend_from_slice(&row.inf);
        self.drift.extend_from_slice(&row.drift);
    }
}

impl Kind {
    /// Kind `ki` of a kernel from its synapses `b` and the kernel's sorted `events`: channels
    /// in node order, decay factors, phases compiled (`compact`: see [`KindBuild::phases`]),
    /// per-synapse states set up.
    fn build(
        mut b: KindBuild,
        ki: usize,
        events: &[BuildEvent],
        area: &[f64],
        env: CompileEnv,
        compact: bool,
    ) -> Result<Kind, KernelError> {
        b.sort_by_node();
        let decay_k = b.decay_factors(env.dt_ms)?;
        let members = b.phase_members(ki, events);
        let phases = b.phases(members, decay_k.as_ref(), area, env, compact)?;
        let m = b.mech.clone();
        let mut inputs = vec![0.0; m.n_inputs()];
        inputs[2] = env.celsius_degc;
        let mut buf = Vec::new();
        let pl = b.plastic_setup(env.dt_ms, &mut inputs, &mut buf)?;
        buf.resize(m.event_upto().max(buf.len()), 0.0);
        let n_syn = b.syn_channel.len();
        Ok(Kind {
            mech: m,
            phases,
            phase: 0,
            nodes: b.nodes,
            syn_channel: b.syn_channel,
            ev_fixed: pl.fixed,
            ev_row: pl.fixed_row,
            pl: pl.init.clone(),
            pl_rec: pl.rec,
            pl_inf: pl.inf,
            pl_drift: pl.drift,
            pl_init: pl.init,
            seed: b.seed,
            n_ev: vec![0; n_syn],
            last: vec![0; n_syn],
            inputs,
            buf,
        })
    }
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
    ///
    /// The steps: check every synapse, group the synapses by mechanism and merge them into
    /// channels (`group_synapses`); order the events (`sort_events`); then per mechanism
    /// (`Kind::build`) put the channels in node order, evaluate the parameter-only values, cut
    /// the run into phases and compile each phase's channels.
    pub fn new(
        tree: &CableTree,
        specs: Vec<Synapse>,
        coalesce: bool,
        dt_ms: f64,
        celsius_degc: f64,
    ) -> Result<SynapseKernel, KernelError> {
        Self::compile(tree, specs, coalesce, dt_ms, celsius_degc, true)
    }

    /// [`new`](Self::new), with the channels compact where they can be (`compact`; see
    /// `Compact`) or all on the cell's nodes (the tests compare the two).
    fn compile(
        tree: &CableTree,
        specs: Vec<Synapse>,
        coalesce: bool,
        dt_ms: f64,
        celsius_degc: f64,
        compact: bool,
    ) -> Result<SynapseKernel, KernelError> {
        let (builds, mut events) = group_synapses(tree, &specs, coalesce, dt_ms)?;
        sort_events(&mut events, &builds);
        let env = CompileEnv {
            dt_ms,
            celsius_degc,
        };
        let area = tree.area_um2();
        let kinds = builds
            .into_iter()
            .enumerate()
            .map(|(ki, b)| Kind::build(b, ki, &events, area, env, compact))
            .collect::<Result<Vec<Kind>, KernelError>>()?;
        Ok(SynapseKernel {
            specs,
            dt_ms,
            kinds,
            ev_step: events.iter().map(|e| e.step).collect(),
            ev_t: events.iter().map(|e| e.t).collect(),
            ev_kind: events.iter().map(|e| e.kind).collect(),
            ev_syn: events.iter().map(|e| e.syn).collect(),
            next: 0,
        })
    }

    /// Move the kernel into lane `lane` of a cell running `lanes` trials in a lane-minor
    /// layout (node `n` at index `n·lanes + lane`; see [`super::cell`]). Events, draws and
    /// states stay this kernel's own.
    pub(crate) fn place_in_lane(&mut self, lanes: usize, lane: usize) {
        for k in &mut self.kinds {
            for p in &mut k.phases {
                // A compact channel's own nodes are virtual (`0..n`) and stay.
                match &mut p.compact {
                    Some(c) => c.place_in_lane(lanes, lane),
                    None => p.chan.place_in_lane(lanes, lane),
                }
            }
        }
    }

    /// The synapse specifications, in the order given.
    pub fn specs(&self) -> &[Synapse] {
        &self.specs
    }

    /// Conductance channels per mechanism after merging: (mechanism, synapses, channels).
    pub fn channels(&self) -> Vec<(String, usize, usize)> {
        self.kinds
            .iter()
            .map(|k| {
                (
                    k.mech.name().to_string(),
                    k.syn_channel.len(),
                    k.nodes.len(),
                )
            })
            .collect()
    }

    /// Channels of mechanism `name` (0 when absent).
    pub fn n_channels_of(&self, name: &str) -> usize {
        self.kinds
            .iter()
            .find(|k| k.mech.name() == name)
            .map_or(0, |k| k.nodes.len())
    }

    /// Number of events that will be delivered over a run of any length.
    pub fn n_events(&self) -> usize {
        self.ev_step.len()
    }

    /// Conductance state `state` of every channel of mechanism `name` (node order) with the
    /// channels' nodes, if both exist. Channels not computed yet (phase not begun) show their
    /// initial value, 0, as they would hold had they been computed.
    pub fn channel_state(&self, name: &str, state: &str) -> Option<(Vec<NodeId>, Vec<f64>)> {
        let k = self.kinds.iter().find(|k| k.mech.name() == name)?;
        let p = k.cur();
        let s = p.chan.state_names.iter().position(|x| x == state)?;
        let col = p.chan.state(s);
        let values = p
            .local
            .iter()
            .map(|&i| if i == NOT_LIVE { 0.0 } else { col[i as usize] })
            .collect();
        Some((k.nodes.clone(), values))
    }

    /// Per mechanism and phase: the native kernels of its channels' programs (currents,
    /// states; `None` where the bytecode runs or, for the states of a mechanism that
    /// [decays natively](SynapseMech::decays_natively), where the program never runs).
    pub fn native_kernels(&self) -> Vec<(String, [Option<&'static str>; 2])> {
        self.kinds
            .iter()
            .flat_map(|k| {
                k.phases
                    .iter()
                    .map(|p| (k.mech.name().to_string(), p.chan.native_kernels()))
            })
            .collect()
    }

    /// Run the channels' programs as native kernels where available (`true`, the default) or
    /// as bytecode only (comparisons).
    pub fn set_native(&mut self, on: bool) {
        for k in &mut self.kinds {
            for p in &mut k.phases {
                p.chan.set_native(on);
            }
        }
    }

    /// Number of phases per mechanism (see the private `Kind`; tests and benchmarks).
    pub fn n_phases(&self) -> Vec<(String, usize)> {
        self.kinds
            .iter()
            .map(|k| (k.mech.name().to_string(), k.phases.len()))
            .collect()
    }

    /// Channel-steps computed over `n_steps` steps and channel-steps in all (channels × steps),
    /// per mechanism: what the phases save (tests and benchmarks).
    pub fn channel_steps(&self, n_steps: u64) -> Vec<(String, u64, u64)> {
        self.kinds
            .iter()
            .map(|k| {
                let mut done = 0;
                for (p, ph) in k.phases.iter().enumerate() {
                    let end = k
                        .phases
                        .get(p + 1)
                        .map_or(n_steps, |q| q.start.min(n_steps));
                    done += end.saturating_sub(ph.start.min(n_steps)) * ph.members.len() as u64;
                }
                (
                    k.mech.name().to_string(),
                    done,
                    n_steps * k.nodes.len() as u64,
                )
            })
            .collect()
    }

    /// NEURON's `INITIAL` blocks: states at their initial values; events rewound.
    pub(crate) fn init(&mut self, env: &mut Env<'_>) {
        for k in &mut self.kinds {
            for p in &mut k.phases {
                p.run_states(env, true);
            }
            k.phase = 0;
            k.pl.copy_from_slice(&k.pl_init);
            k.last.fill(0);
            k.n_ev.fill(0);
        }
        self.next = 0;
    }

    /// Apply the events of step `step` (those with `⌊t_e/dt + 1/2⌋ = step`; earlier undelivered
    /// ones too).
    // Not inlined: a profile then shows the synapses' share of a step (3 calls per step).
    #[inline(never)]
    pub(crate) fn deliver(&mut self, step: u64) {
        for k in &mut self.kinds {
            k.enter_phase_of(step);
        }
        while self.next < self.ev_step.len() && self.ev_step[self.next] <= step {
            let i = self.next;
            self.next += 1;
            let k = &mut self.kinds[self.ev_kind[i] as usize];
            let s = self.ev_syn[i] as usize;
            let m = &*k.mech;
            let npl = m.plastic.len();
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
            // Per-event inputs: t = event time, conductance states 0 (kicks are free of
            // them), per-synapse states; the parameters enter through the fixed values.
            k.inputs[IN_T as usize] = self.ev_t[i];
            for (j, &p) in m.plastic.iter().enumerate() {
                k.inputs[IN_STATES as usize + p] = pl[j];
            }
            // Draws: counter-based, from (the synapse's seed, its event index) only.
            if !m.draws.is_empty() {
                let d0 = m.param_range().end;
                let mut rng = Rng::new(crate::rng::stream_seed(k.seed[s], k.n_ev[s]));
                for (j, d) in m.draws.iter().enumerate() {
                    k.inputs[d0 + j] = match d {
                        Draw::Exp => rng.exp1(),
                        Draw::Uniform => rng.uniform(),
                    };
                }
            }
            k.n_ev[s] += 1;
            let nf = m.event.fixed.len();
            let fixed = &k.ev_fixed[k.ev_row[s] as usize * nf..][..nf];
            m.eval_event(fixed, &k.inputs, &mut k.buf);
            let p = &mut k.phases[k.phase];
            // Live in this phase: the phase holds every channel kicked before it ends.
            let ch = p.local[k.syn_channel[s] as usize] as usize;
            for &(c, r) in &m.kicks {
                p.chan.state_mut(c)[ch] += k.buf[r as usize];
            }
            for &(j, r) in &m.sets {
                pl[j] = k.buf[r as usize];
            }
        }
    }

    /// Add the synaptic currents at the present voltages to `rhs` and `∂i/∂v` to `d`.
    // Not inlined: a profile then shows the synapses' share of a step (3 calls per step).
    #[inline(never)]
    pub(crate) fn add_currents(&mut self, env: &mut Env<'_>, rhs: &mut [f64], d: &mut [f64]) {
        for k in &mut self.kinds {
            k.phases[k.phase].add_currents(env, rhs, d);
        }
    }

    /// Exact exponential update of the conductance states over one step.
    // Not inlined: a profile then shows the synapses' share of a step (3 calls per step).
    #[inline(never)]
    pub(crate) fn advance(&mut self, env: &mut Env<'_>) {
        for k in &mut self.kinds {
            let p = &mut k.phases[k.phase];
            match &p.decay_k {
                // nocmodl's cnexp form for dx/dt = b·x: x += (1 − exp(b·dt))·(0 − x).
                Some(cols) => {
                    for (c, kc) in cols.iter().enumerate() {
                        decay(p.chan.state_mut(c), kc);
                    }
                }
                None => p.run_states(env, false),
            }
        }
    }

    /// The first channel with a non-finite state: (mechanism, state, node, value).
    pub(crate) fn first_non_finite_state(&self) -> Option<(&str, &str, NodeId, f64)> {
        self.kinds.iter().find_map(|k| {
            let p = k.cur();
            p.chan
                .first_non_finite_state()
                .map(|(c, st, v)| (k.mech.name(), st, p.cell_index(c), v))
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

    /// Phases leave out channels before their first event; the result must be the same bits as
    /// computing every channel from step 0 (forced here by a weight-0 synapse per compartment
    /// with an event at 0, which kicks its channel by exactly 0).
    #[test]
    fn phases_give_the_same_bits_as_computing_every_channel() {
        let n = 201;
        let tree = CableTree::from_geometry(&cylinder_cell(2000.0, 2.0, n, 100.0, 1.0)).unwrap();
        let x = |i: usize| (i as f64 + 0.5) / n as f64;
        let (glu, gab) = (glutamate(), gaba(&[("decaygaba", 0.8)]));
        let mut syns = Vec::new();
        for i in 0..n {
            let t0 = 0.3 * i as f64 + 0.01;
            let mut g = syn(&glu, &[0.5 + 0.001 * i as f64, 0.7], &[t0, t0 + 7.3, 61.2]);
            g.x = x(i);
            let mut h = syn(&gab, &[1.0], &[0.2 * (n - i) as f64 + 1.013, 55.5]);
            h.x = x(i);
            syns.extend([g, h]);
        }
        let mut all = syns.clone();
        for i in 0..n {
            let mut g = syn(&glu, &[0.0, 0.0], &[0.0]);
            g.x = x(i);
            let mut h = syn(&gab, &[0.0], &[0.0]);
            h.x = x(i);
            all.extend([g, h]);
        }
        let phased = SynapseKernel::new(&tree, syns, true, DT, 34.0).unwrap();
        let whole = SynapseKernel::new(&tree, all, true, DT, 34.0).unwrap();
        assert!(
            phased.n_phases().iter().all(|(_, p)| *p > 2),
            "{:?}",
            phased.n_phases()
        );
        assert!(whole.n_phases().iter().all(|(_, p)| *p == 1));
        let saved = phased.channel_steps(4000);
        assert!(saved.iter().all(|(_, done, all)| done < all), "{saved:?}");
        let v: Vec<f64> = (0..tree.n_nodes())
            .map(|i| -75.0 + 0.2 * i as f64)
            .collect();
        let states = |mut k: SynapseKernel| {
            let mut out = Vec::new();
            k.run_frozen_with(&v, 4000, |step, k| {
                if step % 50 == 0 {
                    for (m, st) in [("glutamate_syn", "A"), ("glutamate_syn", "D")] {
                        out.push(k.channel_state(m, st).unwrap().1);
                    }
                    out.push(k.channel_state("gaba_syn", "R").unwrap().1);
                }
            });
            let (mut rhs, mut d) = (vec![0.0; v.len()], vec![1.0; v.len()]);
            k.run_frozen(&v, 4000, &mut rhs, &mut d);
            (out, rhs, d)
        };
        let (a, b) = (states(phased), states(whole));
        assert_eq!(a.0, b.0);
        assert_eq!(a.1, b.1);
        assert_eq!(a.2, b.2);
        assert!(a.1.iter().filter(|r| **r != 0.0).count() >= n);
    }

    /// A synapse with two currents (channels stay on the cell's nodes, see `Compact`) and a
    /// per-synapse state the event reads, checked and analysed like `std.synapses`.
    fn two_currents() -> Receptor {
        const TEXT: &str = r#"
mechanism two_cur : synapse {
    parameter tau1: ms = 3 ms
    parameter tau2: ms = 9 ms
    parameter w: nS = 0 nS
    parameter dep: 1 = 0.7
    weights: [w]
    state A: nS = 0 nS, B: nS = 0 nS, x: 1 = 1
    derivative A = -A / tau1
    derivative B = -B / tau2
    derivative x = (1 - x) / 40 ms
    current ia = A * (v - 0 mV)
    current ib = B * (v - -70 mV)
    event { A: A + w * x, B: B + 0.5 * w * exp(-tau1 / tau2) * x, x: x * dep }
}
"#;
        let c = crate::sema::check::check_text("two", TEXT, std::path::Path::new("."));
        assert!(!c.has_errors(), "{:?}", c.diagnostics);
        let m = SynapseMech::analyse(&c.model.mechanisms[0]).unwrap();
        assert_eq!(m.channel_model().currents.len(), 2);
        Receptor::new(Arc::new(m), &[]).unwrap()
    }

    /// Compact channels (their own contiguous `v`, `rhs`, `d`, see `Compact`) add the same
    /// bits to the cell's arrays as channels on the cell's nodes, in a lane of a lane-minor
    /// layout, with several channels on one node, signed zeros in `rhs`, phases and a
    /// two-current mechanism (which stays on the cell's nodes either way).
    #[test]
    fn compact_channels_give_the_same_bits_as_channels_on_cell_nodes() {
        let n = 161;
        let tree = CableTree::from_geometry(&cylinder_cell(1600.0, 2.0, n, 100.0, 1.0)).unwrap();
        let x = |i: usize| (i as f64 + 0.5) / n as f64;
        let glu = glutamate();
        let (gab, gab2) = (gaba(&[("decaygaba", 0.8)]), gaba(&[("e", -70.0)]));
        let two = two_currents();
        let mut syns = Vec::new();
        // Every third compartment has no synapse; some have two GABA channels (two reversal
        // potentials) and the two-current synapse.
        for i in (0..n).filter(|i| i % 3 != 1) {
            let t0 = 0.37 * i as f64 + 0.01;
            let mut specs = vec![
                syn(&glu, &[0.5 + 0.001 * i as f64, 0.7], &[t0, t0 + 7.3, 61.2]),
                syn(&gab, &[1.0], &[0.2 * (n - i) as f64 + 1.013, 55.5]),
            ];
            if i % 4 == 0 {
                specs.push(syn(&gab2, &[0.8], &[0.11 * i as f64 + 2.0]));
                specs.push(syn(&two, &[1.5], &[0.13 * i as f64 + 0.5, 30.0]));
            }
            for mut sp in specs {
                sp.x = x(i);
                syns.push(sp);
            }
        }
        let (lanes, lane) = (3, 1);
        let nn = tree.n_nodes() * lanes;
        let v: Vec<f64> = (0..nn).map(|i| -85.0 + 0.37 * (i % 271) as f64).collect();
        let kernel = |compact: bool| {
            let mut k =
                SynapseKernel::compile(&tree, syns.clone(), true, DT, 34.0, compact).unwrap();
            assert!(
                k.n_phases().iter().any(|(_, p)| *p > 2),
                "{:?}",
                k.n_phases()
            );
            k.place_in_lane(lanes, lane);
            k
        };
        let (mut a, mut b) = (kernel(true), kernel(false));
        let n_compact = |k: &SynapseKernel| -> usize {
            let ph = k.kinds.iter().flat_map(|kd| &kd.phases);
            ph.filter(|p| p.compact.is_some()).count()
        };
        assert!(n_compact(&a) > 0 && n_compact(&b) == 0);
        // Every step from fresh arrays with signed zeros and ordinary values, so that a
        // wrongly signed zero shows (it would vanish in a sum over steps).
        let fresh = |i: usize| {
            if i.is_multiple_of(2) {
                -0.0
            } else {
                0.01 * i as f64
            }
        };
        let bits = |x: &[f64]| x.iter().map(|y| y.to_bits()).collect::<Vec<_>>();
        let mut ions = Vec::new();
        let mut env = Env {
            t_ms: 0.0,
            v_mv: &v,
            ions: &mut ions,
        };
        a.init(&mut env);
        b.init(&mut env);
        let (mut moved, mut signed_zeros) = (0, 0);
        for step in 0..3000 {
            let mut out = Vec::new();
            for k in [&mut a, &mut b] {
                k.deliver(step);
                let mut rhs: Vec<f64> = (0..nn).map(fresh).collect();
                let mut d = vec![1.0; nn];
                k.add_currents(&mut env, &mut rhs, &mut d);
                k.advance(&mut env);
                out.push((rhs, d));
            }
            for (what, x, y) in [("rhs", &out[0].0, &out[1].0), ("d", &out[0].1, &out[1].1)] {
                if let Some(i) = (0..nn).find(|&i| x[i].to_bits() != y[i].to_bits()) {
                    panic!("step {step}: {what}[{i}] {:e} vs {:e}", x[i], y[i]);
                }
            }
            // Only this lane's entries change.
            for (i, r) in out[0].0.iter().enumerate() {
                if r.to_bits() != fresh(i).to_bits() {
                    assert_eq!(i % lanes, lane, "index {i} changed");
                    moved += 1;
                    signed_zeros += (*r == 0.0) as usize;
                }
            }
        }
        assert!(
            moved > 0 && signed_zeros > 0,
            "{moved} changes, {signed_zeros} zeros"
        );
        for kd in &a.kinds {
            for st in kd.mech.state_split().0 {
                let name = kd.mech.name();
                let (x, y) = (a.channel_state(name, st), b.channel_state(name, st));
                assert_eq!(bits(&x.unwrap().1), bits(&y.unwrap().1), "{name} {st}");
            }
        }
    }

    /// An event evaluates only the nodes that depend on its inputs, from the parameter-only
    /// values kept per parameter vector, and gets the same bits as evaluating the whole DAG.
    #[test]
    fn event_program_gives_the_whole_dags_event_values() {
        let mut mechs: Vec<Arc<SynapseMech>> = stdlib_synapses().unwrap().to_vec();
        mechs.push(two_currents().mech);
        for m in mechs {
            let upto = m.event_upto();
            let roots: Vec<Id> = m.kicks.iter().chain(&m.sets).map(|&(_, r)| r).collect();
            assert!(
                m.event.live.len() < upto / 2,
                "{}: {} of {upto} nodes per event",
                m.name(),
                m.event.live.len()
            );
            let mut rng = Rng::new(7);
            for _ in 0..50 {
                // Parameters at their defaults with positive weights; random per-event inputs.
                let mut inputs = vec![0.0; m.n_inputs()];
                inputs[2] = 34.0;
                for (j, p) in m.model.parameters.iter().enumerate() {
                    inputs[m.param_range().start + j] = p.default.unwrap_or(0.0);
                }
                for &j in &m.weight_params {
                    inputs[m.param_range().start + j] = 0.5 + rng.uniform();
                }
                inputs[IN_T as usize] = 300.0 * rng.uniform();
                for &p in &m.plastic {
                    inputs[IN_STATES as usize + p] = rng.uniform();
                }
                for j in 0..m.n_draws() {
                    inputs[m.param_range().end + j] = rng.uniform();
                }
                let mut whole = Vec::new();
                m.eval_into(upto, &inputs, &mut whole);
                let fixed: Vec<f64> = m.event.fixed.iter().map(|&n| whole[n as usize]).collect();
                // Per-event inputs only: the parameters must come from the fixed values.
                let mut ev_inputs = inputs.clone();
                ev_inputs[m.param_range()].fill(f64::NAN);
                let mut buf = vec![f64::NAN; upto];
                m.eval_event(&fixed, &ev_inputs, &mut buf);
                for &r in &roots {
                    let (a, b) = (whole[r as usize], buf[r as usize]);
                    assert!(a.is_finite(), "{}: root {r} = {a}", m.name());
                    assert_eq!(a.to_bits(), b.to_bits(), "{}: root {r}", m.name());
                }
            }
        }
    }

    #[test]
    fn phase_starts_are_quantiles_of_first_events() {
        assert_eq!(phase_starts(&[5, 7]), vec![0], "small kinds are not phased");
        let first: Vec<u64> = (0..256).map(|c| 10 * c as u64).collect();
        let s = phase_starts(&first);
        assert_eq!(s.len(), MAX_PHASES);
        assert_eq!(s[0], 0);
        assert!(s.windows(2).all(|w| w[0] < w[1]));
        // Never-kicked channels are left out of the quantiles; all at 0: one phase.
        assert_eq!(phase_starts(&vec![0; 300]), vec![0]);
        assert_eq!(phase_starts(&vec![u64::MAX; 300]), vec![0]);
    }
}
