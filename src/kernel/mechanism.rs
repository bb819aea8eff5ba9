//! One mechanism compiled for all its instances on a cell: parameter and state columns
//! (structure of arrays), and three programs — currents with their conductances, the state
//! update, and initialisation.
//!
//! * Currents: every `current` expression `i` of the [`MechModel`] plus `g = ∂i/∂v`, derived
//!   **symbolically** from the expression tree for density mechanisms (exact for the Hay
//!   channels, which are linear in `v`; NEURON's finite difference at `v + 0.001 mV` differs
//!   from it only by rounding), and as NEURON's difference quotient
//!   `(i(v + 0.001) − i(v))/0.001` for point processes (synapses with a Mg block are nonlinear
//!   in `v`, where the two differ).
//! * Gates: `x ← x + (1 − exp(−dt/τ))·(x∞ − x)` with `x∞`, `τ` at the voltage after the solve
//!   (NEURON's `cnexp`), executed as one fused column instruction.
//! * ODE states `dx/dt = f(x, …)` must be linear in `x` (checked symbolically: `b = ∂f/∂x` may
//!   not depend on `x`); then `x ← x − (1 − exp(b·dt))·f(x)/b` (`x + dt·f` where `b = 0`),
//!   which is the exact exponential update `cnexp` generates for `dx/dt = a + b·x`.
//! * Parameters that have the same value on every instance are compiled in as constants
//!   (then folded); others are columns.

use super::dag::{Dag, Id, Op};
use super::error::KernelError;
use super::program::{CHUNK, Program, Slot};
use crate::model::MechModel;
use crate::sim::tree::NodeId;

/// Which value of an ion a mechanism reads or writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IonVar {
    /// Reversal potential `e<ion>`, mV.
    Reversal,
    /// Inside concentration `<ion>i`, mM.
    Inside,
    /// Outside concentration `<ion>o`, mM.
    Outside,
    /// Total membrane current of the ion `i<ion>`, mA/cm².
    Current,
}

/// Split an ion variable name (`ena`, `cai`, `cao`, `ica`) for a known ion name.
pub fn ion_var(name: &str, ion: &str) -> Option<IonVar> {
    if name.strip_prefix('e') == Some(ion) {
        Some(IonVar::Reversal)
    } else if name.strip_prefix('i') == Some(ion) {
        Some(IonVar::Current)
    } else if name.strip_suffix('i') == Some(ion) {
        Some(IonVar::Inside)
    } else if name.strip_suffix('o') == Some(ion) {
        Some(IonVar::Outside)
    } else {
        None
    }
}

/// A per-instance value gathered into a temporary before a program runs.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Gather {
    V,
    T,
    Ion(usize, IonVar),
}

/// Per-node ion values shared by all mechanisms of a cell.
#[derive(Clone, Debug)]
pub struct IonPool {
    /// Ion name (`na`, `k`, `ca`, …).
    pub name: String,
    /// Valence.
    pub valence: f64,
    /// Reversal potential per node, mV.
    pub e_mv: Vec<f64>,
    /// Inside concentration per node, mM.
    pub ci_mm: Vec<f64>,
    /// Outside concentration per node, mM.
    pub co_mm: Vec<f64>,
    /// Total current per node in the present step, mA/cm².
    pub i_ma_cm2: Vec<f64>,
    /// Nodes where a mechanism writes the inside concentration: there the reversal potential
    /// follows the Nernst equation every step.
    pub nernst_nodes: Vec<NodeId>,
}

/// What a program run sees.
pub(crate) struct Env<'a> {
    pub t_ms: f64,
    pub v_mv: &'a [f64],
    pub ions: &'a mut [IonPool],
}

#[derive(Clone)]
struct Compiled {
    prog: Program,
    gathers: Vec<(Gather, u32)>,
}

/// A current output: temporaries holding `i` and `∂i/∂v`, and its ion.
#[derive(Clone, Copy, Debug)]
struct CurOut {
    i_tmp: u32,
    g_tmp: u32,
    ion: Option<usize>,
}

/// A mechanism compiled for its instances (see the module docs).
#[derive(Clone)]
pub struct CompiledMech {
    /// Mechanism name.
    pub name: String,
    /// Node of each instance.
    pub nodes: Vec<NodeId>,
    /// Point process: currents are in nA and scaled by `1e2/area`.
    point: bool,
    /// `1e2/area` per instance for point processes (empty for density mechanisms).
    fac: Vec<f64>,
    /// State names in column order (state `s` is column `s`).
    pub state_names: Vec<String>,
    /// Persistent columns: states first, then non-uniform parameters.
    cols: Vec<f64>,
    tmp: Vec<f64>,
    current: Compiled,
    cur_out: Vec<CurOut>,
    state: Compiled,
    init: Compiled,
    /// State columns that are an ion's inside concentration (copied to the ion after updates).
    conc_writes: Vec<(usize, usize)>,
    /// Number of instructions per program (current, state, init), for reports.
    pub n_instructions: [usize; 3],
}

/// Cell-wide constants a mechanism is compiled with.
#[derive(Clone, Copy, Debug)]
pub struct CompileEnv {
    /// Time step, ms.
    pub dt_ms: f64,
    /// Temperature, °C (`celsius`).
    pub celsius_degc: f64,
}

impl CompiledMech {
    /// Compile `mech` for instances on `nodes`, with parameter columns `params` (one value per
    /// instance, canonical units, in the order of `mech.parameters`). `ions` lists the cell's
    /// ion names by index; `area_um2` is the tree's node areas (used for point processes).
    pub fn new(
        mech: &MechModel,
        nodes: Vec<NodeId>,
        params: &[Vec<f64>],
        ions: &[String],
        area_um2: &[f64],
        env: CompileEnv,
    ) -> Result<CompiledMech, KernelError> {
        let err = |message: String| KernelError::Compile {
            mechanism: mech.name.clone(),
            message,
        };
        let n = nodes.len();
        if params.len() != mech.parameters.len() || params.iter().any(|c| c.len() != n) {
            return Err(err(format!(
                "expected {} parameter columns of {n} values",
                mech.parameters.len()
            )));
        }
        let point = match mech.sort.as_str() {
            "density" => false,
            "point" => true,
            s => return Err(err(format!("unknown mechanism sort `{s}`"))),
        };
        // Inputs: 0 = v, 1 = t, 2 = celsius, then states, then parameters, then ion values.
        let n_states = mech.states.len();
        let mut names: Vec<String> = vec!["v".into(), "t".into(), "celsius".into()];
        names.extend(mech.states.iter().map(|s| s.name.clone()));
        names.extend(mech.parameters.iter().map(|p| p.name.clone()));
        let mut ion_inputs: Vec<(String, usize, IonVar)> = Vec::new();
        for u in &mech.ions {
            let ion = ions
                .iter()
                .position(|i| *i == u.ion)
                .ok_or_else(|| err(format!("ion `{}` is not set up on the cell", u.ion)))?;
            for name in u.reads.iter().chain(&u.writes) {
                let var = ion_var(name, &u.ion)
                    .ok_or_else(|| err(format!("`{name}` is not a variable of ion `{}`", u.ion)))?;
                if !names.contains(name) {
                    names.push(name.clone());
                    ion_inputs.push((name.clone(), ion, var));
                }
            }
        }
        let mut dag = Dag::default();
        let input_nodes: Vec<Id> = (0..names.len() as u32).map(|k| dag.input(k)).collect();
        let lower =
            |dag: &mut Dag, ex: &crate::sema::ex::Ex, what: &str| -> Result<Id, KernelError> {
                dag.from_ex(ex, &mut |name| {
                    names.iter().position(|x| x == name).map(|k| input_nodes[k])
                })
                .map_err(|m| err(format!("{what}: {m}")))
            };

        // Roots.
        let mut currents = Vec::new();
        for c in &mech.currents {
            let i = lower(&mut dag, &c.expr, &format!("current {}", c.name))?;
            let ion = match &c.ion {
                None => None,
                Some(name) => Some(
                    ions.iter()
                        .position(|x| x == name)
                        .ok_or_else(|| err(format!("ion `{name}` is not set up on the cell")))?,
                ),
            };
            currents.push((i, ion));
        }
        enum Upd {
            Gate { inf: Id, tau: Id },
            Ode { f: Id },
        }
        let mut updates = Vec::new();
        for s in &mech.states {
            let u = match (&s.inf, &s.tau_ms, &s.derivative) {
                (Some(inf), Some(tau), _) => Upd::Gate {
                    inf: lower(&mut dag, inf, &format!("state {} inf", s.name))?,
                    tau: lower(&mut dag, tau, &format!("state {} tau", s.name))?,
                },
                (_, _, Some(d)) => Upd::Ode {
                    f: lower(&mut dag, d, &format!("state {} derivative", s.name))?,
                },
                _ => {
                    return Err(err(format!(
                        "state {} has neither inf/tau nor a derivative",
                        s.name
                    )));
                }
            };
            updates.push(u);
        }

        // Constants: celsius, uniform parameters.
        let mut consts: Vec<(u32, f64)> = vec![(2, env.celsius_degc)];
        let mut param_col: Vec<Option<u32>> = Vec::new();
        let mut n_cols = n_states as u32;
        for (j, col) in params.iter().enumerate() {
            let k = (3 + n_states + j) as u32;
            if let Some(&first) = col.first()
                && col.iter().all(|&x| x.to_bits() == first.to_bits())
            {
                consts.push((k, first));
                param_col.push(None);
            } else if col.is_empty() {
                consts.push((k, mech.parameters[j].default.unwrap_or(0.0)));
                param_col.push(None);
            } else {
                param_col.push(Some(n_cols));
                n_cols += 1;
            }
        }
        let subst_all = |dag: &mut Dag, mut r: Id| -> Id {
            for &(k, c) in &consts {
                let cn = dag.constant(c);
                r = dag.substitute(r, k, cn);
            }
            r
        };
        for c in &mut currents {
            c.0 = subst_all(&mut dag, c.0);
        }
        for u in &mut updates {
            match u {
                Upd::Gate { inf, tau } => {
                    *inf = subst_all(&mut dag, *inf);
                    *tau = subst_all(&mut dag, *tau);
                }
                Upd::Ode { f } => *f = subst_all(&mut dag, *f),
            }
        }

        // Where inputs live. Gathered inputs get reserved temporaries 0..n_gather.
        let mut gather_list: Vec<(u32, Gather)> = vec![(0, Gather::V), (1, Gather::T)];
        for (name, ion, var) in &ion_inputs {
            let k = names.iter().position(|x| x == name).unwrap_or(0) as u32;
            gather_list.push((k, Gather::Ion(*ion, *var)));
        }
        let n_gather = gather_list.len() as u32;
        let mut input_slot = vec![Slot::Const(0.0); names.len()];
        for (t, &(k, _)) in gather_list.iter().enumerate() {
            input_slot[k as usize] = Slot::Tmp(t as u32);
        }
        for s in 0..n_states {
            input_slot[3 + s] = Slot::Col(s as u32);
        }
        for (j, c) in param_col.iter().enumerate() {
            if let Some(c) = c {
                input_slot[3 + n_states + j] = Slot::Col(*c);
            }
        }
        let gathers_for = |dag: &Dag, roots: &[Id]| -> Vec<(Gather, u32)> {
            gather_list
                .iter()
                .enumerate()
                .filter(|(_, (k, _))| roots.iter().any(|&r| dag.depends_on(r, *k)))
                .map(|(t, &(_, g))| (g, t as u32))
                .collect()
        };

        // Current program: i and ∂i/∂v per current.
        let mut outs = Vec::new();
        let mut cur_out = Vec::new();
        let mut next = n_gather;
        for &(i, ion) in &currents {
            let g = if point {
                // Point processes: nocmodl's difference quotient (i(v + 0.001) − i(v))/0.001,
                // as NEURON computes it (it differs from ∂i/∂v for nonlinear currents such as
                // the NMDA Mg block; matching it keeps synaptic runs at NEURON's numbers).
                let h = dag.constant(0.001);
                let v = input_nodes[0];
                let vh = dag.apply(Op::Add, &[v, h]);
                let i1 = dag.substitute(i, 0, vh);
                let di = dag.apply(Op::Sub, &[i1, i]);
                dag.apply(Op::Div, &[di, h])
            } else {
                dag.derivative(i, 0)
                    .map_err(|m| err(format!("conductance: {m}")))?
            };
            outs.push((i, Slot::Tmp(next)));
            outs.push((g, Slot::Tmp(next + 1)));
            cur_out.push(CurOut {
                i_tmp: next,
                g_tmp: next + 1,
                ion,
            });
            next += 2;
        }
        let roots: Vec<Id> = outs.iter().map(|o| o.0).collect();
        let current = Compiled {
            prog: Program::compile(&dag, &input_slot, &outs, next),
            gathers: gathers_for(&dag, &roots),
        };

        // State program and initialisation.
        let mut s_outs = Vec::new();
        let mut i_outs = Vec::new();
        for (s, u) in updates.iter().enumerate() {
            let x = input_nodes[3 + s];
            let xk = (3 + s) as u32;
            match *u {
                Upd::Gate { inf, tau } => {
                    let new = dag.apply(Op::Cnexp((-env.dt_ms).to_bits()), &[x, inf, tau]);
                    s_outs.push((new, Slot::Col(s as u32)));
                    i_outs.push((inf, Slot::Col(s as u32)));
                }
                Upd::Ode { f } => {
                    let b = dag
                        .derivative(f, xk)
                        .map_err(|m| err(format!("state {}: {m}", mech.states[s].name)))?;
                    if dag.depends_on(b, xk) {
                        return Err(err(format!(
                            "state {}: the equation is not linear in the state; only linear \
                             equations (exact exponential update, NEURON's cnexp) are supported",
                            mech.states[s].name
                        )));
                    }
                    // x − (1 − exp(b·dt))·f/b, or x + dt·f where b = 0.
                    let dt = dag.constant(env.dt_ms);
                    let bdt = dag.apply(Op::Mul, &[b, dt]);
                    let e = dag.apply(Op::Exp, &[bdt]);
                    let one = dag.constant(1.0);
                    let k1 = dag.apply(Op::Sub, &[one, e]);
                    let fb = dag.apply(Op::Div, &[f, b]);
                    let st = dag.apply(Op::Mul, &[k1, fb]);
                    let exact = dag.apply(Op::Sub, &[x, st]);
                    let fdt = dag.apply(Op::Mul, &[f, dt]);
                    let euler = dag.apply(Op::Add, &[x, fdt]);
                    let zero = dag.constant(0.0);
                    let is0 = dag.apply(Op::Eq, &[b, zero]);
                    let new = dag.apply(Op::Select, &[is0, euler, exact]);
                    s_outs.push((new, Slot::Col(s as u32)));
                    let init = dag.constant(mech.states[s].init.unwrap_or(0.0));
                    i_outs.push((init, Slot::Col(s as u32)));
                }
            }
        }
        let roots: Vec<Id> = s_outs.iter().map(|o| o.0).collect();
        let state = Compiled {
            prog: Program::compile(&dag, &input_slot, &s_outs, n_gather),
            gathers: gathers_for(&dag, &roots),
        };
        let roots: Vec<Id> = i_outs.iter().map(|o| o.0).collect();
        let init = Compiled {
            prog: Program::compile(&dag, &input_slot, &i_outs, n_gather),
            gathers: gathers_for(&dag, &roots),
        };

        // States that are ion concentrations written by this mechanism.
        let mut conc_writes = Vec::new();
        for u in &mech.ions {
            for w in &u.writes {
                if let Some(s) = mech.states.iter().position(|s| s.name == *w)
                    && ion_var(w, &u.ion) == Some(IonVar::Inside)
                    && let Some(ion) = ions.iter().position(|x| *x == u.ion)
                {
                    conc_writes.push((s, ion));
                }
            }
        }

        let mut cols = vec![0.0; n_cols as usize * n];
        for (j, c) in param_col.iter().enumerate() {
            if let Some(c) = *c {
                cols[c as usize * n..(c as usize + 1) * n].copy_from_slice(&params[j]);
            }
        }
        let n_tmp = current
            .prog
            .n_tmp()
            .max(state.prog.n_tmp())
            .max(init.prog.n_tmp());
        let fac = if point {
            nodes
                .iter()
                .map(|&nd| 1.0e2 / area_um2[nd as usize])
                .collect()
        } else {
            Vec::new()
        };
        Ok(CompiledMech {
            name: mech.name.clone(),
            point,
            fac,
            state_names: mech.states.iter().map(|s| s.name.clone()).collect(),
            n_instructions: [current.prog.len(), state.prog.len(), init.prog.len()],
            cols,
            tmp: vec![0.0; n_tmp * CHUNK],
            current,
            cur_out,
            state,
            init,
            conc_writes,
            nodes,
        })
    }

    /// Number of instances.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// Whether the mechanism has no instances.
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// Whether this mechanism writes an ion's inside concentration (it runs first).
    pub fn writes_concentration(&self) -> bool {
        !self.conc_writes.is_empty()
    }

    /// Whether this mechanism writes the inside concentration of ion number `ion`.
    pub fn writes_inside(&self, ion: usize) -> bool {
        self.conc_writes.iter().any(|&(_, i)| i == ion)
    }

    /// State `s` of every instance.
    pub fn state(&self, s: usize) -> &[f64] {
        let n = self.nodes.len();
        &self.cols[s * n..(s + 1) * n]
    }

    /// State `s` of every instance, writable (synapse events add to conductance states).
    pub(crate) fn state_mut(&mut self, s: usize) -> &mut [f64] {
        let n = self.nodes.len();
        &mut self.cols[s * n..(s + 1) * n]
    }

    fn gather(tmp: &mut [f64], gathers: &[(Gather, u32)], nodes: &[NodeId], env: &Env<'_>) {
        for &(g, t) in gathers {
            let dst = &mut tmp[t as usize * CHUNK..t as usize * CHUNK + nodes.len()];
            match g {
                Gather::V => {
                    for (d, &nd) in dst.iter_mut().zip(nodes) {
                        *d = env.v_mv[nd as usize];
                    }
                }
                Gather::T => dst.fill(env.t_ms),
                Gather::Ion(ion, var) => {
                    let p = &env.ions[ion];
                    let src = match var {
                        IonVar::Reversal => &p.e_mv,
                        IonVar::Inside => &p.ci_mm,
                        IonVar::Outside => &p.co_mm,
                        IonVar::Current => &p.i_ma_cm2,
                    };
                    for (d, &nd) in dst.iter_mut().zip(nodes) {
                        *d = src[nd as usize];
                    }
                }
            }
        }
    }

    fn scatter_conc(&self, ions: &mut [IonPool]) {
        let n = self.nodes.len();
        for &(s, ion) in &self.conc_writes {
            let col = &self.cols[s * n..(s + 1) * n];
            let ci = &mut ions[ion].ci_mm;
            for (&nd, &x) in self.nodes.iter().zip(col) {
                ci[nd as usize] = x;
            }
        }
    }

    /// Initialise the states (gates at their steady state, ODE states at their initial value)
    /// and publish written concentrations.
    pub(crate) fn initialise(&mut self, env: &mut Env<'_>) {
        self.run_states(true, env);
    }

    /// Advance the states over one step (voltages after the solve).
    pub(crate) fn advance(&mut self, env: &mut Env<'_>) {
        self.run_states(false, env);
    }

    fn run_states(&mut self, init: bool, env: &mut Env<'_>) {
        let n = self.nodes.len();
        let c = if init { &self.init } else { &self.state };
        let mut start = 0;
        while start < n {
            let len = CHUNK.min(n - start);
            Self::gather(
                &mut self.tmp,
                &c.gathers,
                &self.nodes[start..start + len],
                env,
            );
            c.prog
                .run_chunk(&mut self.cols, n, &mut self.tmp, start, len);
            start += len;
        }
        self.scatter_conc(env.ions);
    }

    /// Add currents to `rhs` (mA/cm², inward positive), conductances to `d` (S/cm²) and ion
    /// currents to the ions' totals.
    pub(crate) fn add_currents(&mut self, env: &mut Env<'_>, rhs: &mut [f64], d: &mut [f64]) {
        let n = self.nodes.len();
        let mut start = 0;
        while start < n {
            let len = CHUNK.min(n - start);
            let nodes = &self.nodes[start..start + len];
            Self::gather(&mut self.tmp, &self.current.gathers, nodes, env);
            self.current
                .prog
                .run_chunk(&mut self.cols, n, &mut self.tmp, start, len);
            for co in &self.cur_out {
                let i_col = &self.tmp[co.i_tmp as usize * CHUNK..][..len];
                let g_col = &self.tmp[co.g_tmp as usize * CHUNK..][..len];
                if self.point {
                    let fac = &self.fac[start..start + len];
                    for (((&nd, &i), &g), &f) in nodes.iter().zip(i_col).zip(g_col).zip(fac) {
                        rhs[nd as usize] -= i * f;
                        d[nd as usize] += g * f;
                    }
                } else {
                    for ((&nd, &i), &g) in nodes.iter().zip(i_col).zip(g_col) {
                        rhs[nd as usize] -= i;
                        d[nd as usize] += g;
                    }
                }
                if let Some(ion) = co.ion {
                    let tot = &mut env.ions[ion].i_ma_cm2;
                    for (k, (&nd, &i)) in nodes.iter().zip(i_col).enumerate() {
                        let f = if self.point { self.fac[start + k] } else { 1.0 };
                        tot[nd as usize] += i * f;
                    }
                }
            }
            start += len;
        }
    }

    /// The first instance with a non-finite state: (instance, state name, value).
    pub fn first_non_finite_state(&self) -> Option<(usize, &str, f64)> {
        let n = self.nodes.len();
        for (s, name) in self.state_names.iter().enumerate() {
            if let Some(k) = self.cols[s * n..(s + 1) * n]
                .iter()
                .position(|x| !x.is_finite())
            {
                return Some((k, name, self.cols[s * n + k]));
            }
        }
        None
    }
}
