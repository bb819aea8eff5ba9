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
//!   (NEURON's `cnexp`), executed as one fused column instruction (with the rate `1/τ` where
//!   `τ = 1/(α + β)`, and with a precomputed factor where `τ` is constant).
//! * ODE states `dx/dt = f(x, …)` must be linear in `x` (checked symbolically: `b = ∂f/∂x` may
//!   not depend on `x`); then `x ← x − (1 − exp(b·dt))·f(x)/b` (`x + dt·f` where `b = 0`),
//!   which is the exact exponential update `cnexp` generates for `dx/dt = a + b·x`.
//! * Parameters that have the same value on every instance are compiled in as constants
//!   (then folded); others are columns, and subexpressions of those columns alone are computed
//!   once at construction into extra columns (parameters do not change afterwards).

use super::dag::{Dag, Id, Node, Op};
use super::direct::{Io, IoShape, MAX_IN, MAX_TOT};
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

/// Columns are padded to a multiple of this many instances (the padding repeats the last
/// instance), so the column loops, unrolled to 16 elements, never run a scalar remainder.
pub const PAD: usize = 16;

/// `n` rounded up to a multiple of [`PAD`].
fn padded(n: usize) -> usize {
    n.div_ceil(PAD) * PAD
}

/// The exact exponential gate update `x + (1 − exp(−dt/τ))·(x∞ − x)`, in its cheapest form:
/// a constant factor of `τ` folds into `−dt`; `τ = 1/r` uses the rate `r` (no divisions); a
/// constant `τ` gives a constant `1 − exp(−dt/τ)` (computed with the same `exp` the program
/// would use).
fn gate_update(dag: &mut Dag, dt_ms: f64, x: Id, inf: Id, tau: Id) -> Id {
    if let Some(t) = dag.as_const(tau) {
        let k = dag.constant(1.0 - super::vexp::exp(-dt_ms / t));
        let d = dag.apply(Op::Sub, &[inf, x]);
        let kd = dag.apply(Op::Mul, &[d, k]);
        return dag.apply(Op::Add, &[x, kd]);
    }
    let (t, c) = match dag.scaled(tau) {
        Some((t, c)) if (dt_ms / c).is_normal() => (t, c),
        _ => (tau, 1.0),
    };
    let mdt = -dt_ms / c;
    if let Node::Apply(Op::Div, [one, r, _]) = dag.nodes()[t as usize]
        && dag.as_const(one) == Some(1.0)
    {
        return dag.apply(Op::CnexpRate(mdt.to_bits()), &[x, inf, r]);
    }
    dag.apply(Op::Cnexp(mdt.to_bits()), &[x, inf, t])
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
    /// Voltages per node.
    pub v_mv: &'a [f64],
    /// Ions, per node.
    pub ions: &'a mut [IonPool],
}

/// The average run length from which a chunk runs in place (measured on S1: runs of a few
/// nodes cost more as kernel calls than as copies).
const MIN_RUN: usize = 8;

/// Runs of consecutive nodes among a mechanism's instances (sorted by node), chunk by chunk,
/// computed once: loads of `v` and ion values and the accumulation of currents work on whole
/// runs (vectorised) where instances sit on consecutive nodes, one element where they do not.
#[derive(Clone, Debug, Default)]
struct Runs {
    /// Runs of chunk `c` are `runs[first[c]..first[c + 1]]`.
    first: Vec<usize>,
    /// `(offset in the chunk, first index, length)`.
    runs: Vec<(u32, u32, u32)>,
    /// Whether every chunk is made of long runs ([`Runs::long`]): the in-place kernels then
    /// take the whole mechanism with one binding of the cell's arrays.
    all_long: bool,
}

impl Runs {
    fn new(index: &[u32]) -> Runs {
        let mut r = Runs::default();
        for chunk in index.chunks(CHUNK) {
            let first = r.runs.len();
            r.first.push(first);
            for (off, &i) in chunk.iter().enumerate() {
                let in_chunk = r.runs.len() > first;
                match r.runs.last_mut() {
                    Some((_, s, l)) if in_chunk && *s + *l == i => *l += 1,
                    _ => r.runs.push((off as u32, i, 1)),
                }
            }
        }
        r.first.push(r.runs.len());
        let n = index.len();
        r.all_long = (0..n)
            .step_by(CHUNK)
            .all(|start| r.long(start, CHUNK.min(n - start)));
        r
    }

    /// Whether the chunk starting at instance `start` is made of long runs (on average at
    /// least [`MIN_RUN`] instances on consecutive nodes): the kernel then works in place, one
    /// call per run (see `kernel/direct.rs`); short runs gather, where one call per run would
    /// cost more than the copies.
    fn long(&self, start: usize, len: usize) -> bool {
        let c = start / CHUNK;
        (self.first[c + 1] - self.first[c]) * MIN_RUN <= len
    }

    /// Runs of the chunk starting at instance `start`.
    fn chunk(&self, start: usize) -> impl Iterator<Item = (usize, usize, usize)> + '_ {
        let c = start / CHUNK;
        self.runs[self.first[c]..self.first[c + 1]]
            .iter()
            .map(|&(o, s, l)| (o as usize, s as usize, l as usize))
    }
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
    /// Node of each instance: where its `v` and ion values are read and its currents added.
    pub nodes: Vec<NodeId>,
    runs: Runs,
    /// Point process: currents are in nA and scaled by `1e2/area`.
    point: bool,
    /// `1e2/area` per instance for point processes (empty for density mechanisms).
    fac: Vec<f64>,
    /// State names in column order (state `s` is column `s`).
    pub state_names: Vec<String>,
    /// Persistent columns: states first, then non-uniform parameters, then subexpressions of
    /// those parameters alone (computed once); each `n_pad` long.
    cols: Vec<f64>,
    /// Column length: the number of instances rounded up to a multiple of [`PAD`].
    n_pad: usize,
    tmp: Vec<f64>,
    current: Compiled,
    cur_out: Vec<CurOut>,
    state: Compiled,
    init: Compiled,
    /// State columns that are an ion's inside concentration (copied to the ion after updates).
    conc_writes: Vec<(usize, usize)>,
    /// Ions whose totals the currents add to, by slot of [`Io::tot`].
    tot_ions: Vec<usize>,
    /// Whether native kernels work in place on single-run chunks (see `kernel/direct.rs`).
    direct: bool,
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
    ///
    /// The steps: name the inputs (`v`, `t`, `celsius`, states, parameters, ion values), lower
    /// the mechanism's expressions into one DAG (`roots`), fold uniform parameters in as
    /// constants (`uniform_parameters`), place the inputs (`input_slots`), build the current,
    /// state and initial-value outputs, hoist the parameter-only subexpressions (`hoist`), and
    /// compile the programs; then fill the columns.
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
        let n_states = mech.states.len();
        let (names, ion_inputs) = input_names(mech, ions).map_err(err)?;
        let mut dag = Dag::default();
        let input_nodes: Vec<Id> = (0..names.len() as u32).map(|k| dag.input(k)).collect();
        let mut roots = Roots::lower(&mut dag, mech, ions, &names, &input_nodes).map_err(err)?;
        let (consts, param_col, mut n_cols) = uniform_parameters(mech, params, env.celsius_degc);
        roots.substitute(&mut dag, &consts);
        let (gather_list, input_slot) = input_slots(&names, &ion_inputs, n_states, &param_col);
        let n_gather = gather_list.len() as u32;
        let (outs, cur_out, next) =
            current_outputs(&mut dag, &roots.currents, point, input_nodes[0], n_gather)
                .map_err(err)?;
        let (s_outs, i_outs) =
            state_outputs(&mut dag, mech, &roots, &input_nodes, env.dt_ms).map_err(err)?;
        let all_roots = outs.iter().chain(&s_outs).chain(&i_outs).map(|o| o.0);
        let hoisted = hoist(&dag, &param_col, n_states, all_roots, &mut n_cols);

        let hoist_prog = Program::compile(&dag, &input_slot, &hoisted, n_gather);
        let gathers_for = |roots: &[Id]| -> Vec<(Gather, u32)> {
            gather_list
                .iter()
                .enumerate()
                .filter(|(_, (k, _))| roots.iter().any(|&r| dag.depends_on(r, *k)))
                .map(|(t, &(_, g))| (g, t as u32))
                .collect()
        };
        let compile = |outs: &[(Id, Slot)], reserved: u32| Compiled {
            prog: Program::compile_with(&dag, &input_slot, &hoisted, outs, reserved),
            gathers: gathers_for(&outs.iter().map(|o| o.0).collect::<Vec<_>>()),
        };
        let mut current = compile(&outs, next);
        let mut state = compile(&s_outs, n_gather);
        let tot_ions = declare_io(&mut current, &mut state, &cur_out, point, n_gather);
        // The per-step programs run as fused native kernels where one was generated for their
        // exact shape (the standard library's mechanisms); initialisation runs once and keeps
        // the bytecode.
        super::native::attach(&mut current.prog);
        super::native::attach(&mut state.prog);
        let init = compile(&i_outs, n_gather);

        let n_pad = padded(n);
        let n_tmp = current
            .prog
            .n_tmp()
            .max(state.prog.n_tmp())
            .max(init.prog.n_tmp())
            .max(hoist_prog.n_tmp());
        let mut tmp = vec![0.0; n_tmp * CHUNK];
        let cols = columns(params, &param_col, n_cols, n_pad, &hoist_prog, &mut tmp);
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
            n_pad,
            tmp,
            current,
            cur_out,
            state,
            init,
            conc_writes: conc_writes(mech, ions),
            tot_ions,
            direct: true,
            runs: Runs::new(&nodes),
            nodes,
        })
    }

    /// Move every instance into lane `lane` of a lane-minor layout of `lanes` trials (node
    /// `n` becomes index `n·lanes + lane` of the cell's arrays, see [`super::cell`]). The
    /// values computed per instance do not change; only where they are read and added does.
    pub(crate) fn place_in_lane(&mut self, lanes: usize, lane: usize) {
        debug_assert!(lane < lanes);
        for n in &mut self.nodes {
            *n = *n * lanes as NodeId + lane as NodeId;
        }
        self.runs = Runs::new(&self.nodes);
    }

    /// The compiled programs (currents, states, initialisation) as text, one instruction a
    /// line (for inspection).
    pub fn listing(&self) -> String {
        format!(
            "currents (gathers {:?}):\n{}states (gathers {:?}):\n{}init:\n{}",
            self.current.gathers,
            self.current.prog.listing(),
            self.state.gathers,
            self.state.prog.listing(),
            self.init.prog.listing()
        )
    }

    /// The per-step programs, `("currents", …)` and `("states", …)` (the native-kernel
    /// generator's input).
    pub fn hot_programs(&self) -> [(&'static str, &Program); 2] {
        [
            ("currents", &self.current.prog),
            ("states", &self.state.prog),
        ]
    }

    /// Names of the native kernels running the currents and the state update (`None` where
    /// the bytecode runs).
    pub fn native_kernels(&self) -> [Option<&'static str>; 2] {
        [
            self.current.prog.native_name(),
            self.state.prog.native_name(),
        ]
    }

    /// Use the native kernels where available (`true`, the default) or the bytecode only
    /// (results are bit-identical; for tests and comparisons).
    pub fn set_native(&mut self, on: bool) {
        for p in [&mut self.current.prog, &mut self.state.prog] {
            if on {
                super::native::attach(p);
            } else {
                p.detach_native();
            }
        }
    }

    /// Let the native kernels work in place where a chunk's instances sit on consecutive nodes
    /// (`true`, the default; see `kernel/direct.rs`) or always gather and scatter (`false`).
    /// Results are bit-identical; for tests and comparisons.
    pub fn set_direct(&mut self, on: bool) {
        self.direct = on;
    }

    /// Whether the per-step programs (currents, states) have in-place native kernels in use.
    pub fn direct_kernels(&self) -> [bool; 2] {
        [
            self.direct && self.current.prog.has_direct(),
            self.direct && self.state.prog.has_direct(),
        ]
    }

    /// Chunks whose instances the in-place kernels take (long runs of consecutive nodes), and
    /// all chunks.
    pub fn in_place_chunks(&self) -> (usize, usize) {
        let n = self.nodes.len();
        let starts = (0..n).step_by(CHUNK);
        let long = starts
            .clone()
            .filter(|&s| self.runs.long(s, CHUNK.min(n - s)));
        (long.count(), starts.count())
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
        &self.cols[s * self.n_pad..][..self.nodes.len()]
    }

    /// State `s` of every instance, writable (synapse events add to conductance states).
    pub(crate) fn state_mut(&mut self, s: usize) -> &mut [f64] {
        let n = self.nodes.len();
        &mut self.cols[s * self.n_pad..][..n]
    }

    /// Gather the chunk's inputs into their temporaries: `nodes` are the chunk's instances,
    /// `len_pad ≥ nodes.len()` the padded length (padding repeats the last instance).
    #[allow(clippy::too_many_arguments)]
    fn gather(
        tmp: &mut [f64],
        gathers: &[(Gather, u32)],
        nodes: &[NodeId],
        runs: &Runs,
        start: usize,
        len_pad: usize,
        env: &Env<'_>,
    ) {
        for &(g, t) in gathers {
            let col = &mut tmp[t as usize * CHUNK..][..len_pad];
            let (dst, pad) = col.split_at_mut(nodes.len());
            match g {
                Gather::V => {
                    for (o, s, l) in runs.chunk(start) {
                        dst[o..o + l].copy_from_slice(&env.v_mv[s..s + l]);
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
                    for (o, s, l) in runs.chunk(start) {
                        dst[o..o + l].copy_from_slice(&src[s..s + l]);
                    }
                }
            }
            if let Some(&last) = dst.last() {
                pad.fill(last);
            }
        }
    }

    fn scatter_conc(&self, ions: &mut [IonPool]) {
        for &(s, ion) in &self.conc_writes {
            let col = self.state(s);
            let ci = &mut ions[ion].ci_mm;
            for start in (0..self.nodes.len()).step_by(CHUNK) {
                for (o, i, l) in self.runs.chunk(start) {
                    ci[i..i + l].copy_from_slice(&col[start + o..start + o + l]);
                }
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
        let (n, n_pad) = (self.nodes.len(), self.n_pad);
        let c = if init { &self.init } else { &self.state };
        let direct = self.direct && c.prog.has_direct();
        if direct && self.runs.all_long {
            // In place, run by run, all chunks with one binding of the cell's arrays.
            let mut io = bind(
                &c.gathers,
                &[],
                (env.t_ms, env.v_mv, &mut *env.ions),
                (&mut [], &mut [], &[]),
            );
            let starts = (0..n).step_by(CHUNK);
            in_place(
                &c.prog,
                &mut self.cols,
                n_pad,
                &mut self.tmp,
                &self.runs,
                starts,
                &mut io,
            );
            self.scatter_conc(env.ions);
            return;
        }
        let mut start = 0;
        while start < n {
            let len = CHUNK.min(n - start);
            if direct && self.runs.long(start, len) {
                // In place, run by run: the kernel reads v and the ions where they live.
                let mut io = bind(
                    &c.gathers,
                    &[],
                    (env.t_ms, env.v_mv, &mut *env.ions),
                    (&mut [], &mut [], &[]),
                );
                let starts = std::iter::once(start);
                in_place(
                    &c.prog,
                    &mut self.cols,
                    n_pad,
                    &mut self.tmp,
                    &self.runs,
                    starts,
                    &mut io,
                );
                start += len;
                continue;
            }
            let len_pad = CHUNK.min(n_pad - start);
            Self::gather(
                &mut self.tmp,
                &c.gathers,
                &self.nodes[start..start + len],
                &self.runs,
                start,
                len_pad,
                env,
            );
            c.prog
                .run_chunk(&mut self.cols, n_pad, &mut self.tmp, start, len_pad);
            start += len;
        }
        self.scatter_conc(env.ions);
    }

    /// Add currents to `rhs` (mA/cm², inward positive), conductances to `d` (S/cm²) — both
    /// per node — and ion currents to the ions' totals in place.
    pub(crate) fn add_currents(&mut self, env: &mut Env<'_>, rhs: &mut [f64], d: &mut [f64]) {
        let (n, n_pad) = (self.nodes.len(), self.n_pad);
        let direct = self.direct && self.current.prog.has_direct();
        if direct && self.runs.all_long {
            // In place, run by run, all chunks with one binding of the cell's arrays.
            let mut io = bind(
                &self.current.gathers,
                &self.tot_ions,
                (env.t_ms, env.v_mv, &mut *env.ions),
                (rhs, d, &self.fac),
            );
            let (prog, starts) = (&self.current.prog, (0..n).step_by(CHUNK));
            in_place(
                prog,
                &mut self.cols,
                n_pad,
                &mut self.tmp,
                &self.runs,
                starts,
                &mut io,
            );
            return;
        }
        let mut start = 0;
        while start < n {
            let len = CHUNK.min(n - start);
            if direct && self.runs.long(start, len) {
                // In place, run by run: inputs read and currents added where they live, in the
                // kernel's loop (the same operations in the same order as the scatter below).
                let mut io = bind(
                    &self.current.gathers,
                    &self.tot_ions,
                    (env.t_ms, env.v_mv, &mut *env.ions),
                    (&mut *rhs, &mut *d, &self.fac),
                );
                let (prog, starts) = (&self.current.prog, std::iter::once(start));
                in_place(
                    prog,
                    &mut self.cols,
                    n_pad,
                    &mut self.tmp,
                    &self.runs,
                    starts,
                    &mut io,
                );
                start += len;
                continue;
            }
            let len_pad = CHUNK.min(n_pad - start);
            let nodes = &self.nodes[start..start + len];
            Self::gather(
                &mut self.tmp,
                &self.current.gathers,
                nodes,
                &self.runs,
                start,
                len_pad,
                env,
            );
            self.current
                .prog
                .run_chunk(&mut self.cols, n_pad, &mut self.tmp, start, len_pad);
            for co in &self.cur_out {
                let i_col = &self.tmp[co.i_tmp as usize * CHUNK..][..len];
                let g_col = &self.tmp[co.g_tmp as usize * CHUNK..][..len];
                for (o, s, l) in self.runs.chunk(start) {
                    let (rhs, d) = (&mut rhs[s..s + l], &mut d[s..s + l]);
                    let (i_col, g_col) = (&i_col[o..o + l], &g_col[o..o + l]);
                    if self.point {
                        let fac = &self.fac[start + o..start + o + l];
                        for k in 0..l {
                            rhs[k] -= i_col[k] * fac[k];
                            d[k] += g_col[k] * fac[k];
                        }
                    } else {
                        for k in 0..l {
                            rhs[k] -= i_col[k];
                            d[k] += g_col[k];
                        }
                    }
                }
                if let Some(ion) = co.ion {
                    let tot = &mut env.ions[ion].i_ma_cm2;
                    for (o, s, l) in self.runs.chunk(start) {
                        let (tot, i_col) = (&mut tot[s..s + l], &i_col[o..o + l]);
                        if self.point {
                            let fac = &self.fac[start + o..start + o + l];
                            for k in 0..l {
                                tot[k] += i_col[k] * fac[k];
                            }
                        } else {
                            for k in 0..l {
                                tot[k] += i_col[k];
                            }
                        }
                    }
                }
            }
            start += len;
        }
    }

    /// The first instance with a non-finite state: (instance, state name, value).
    ///
    /// (Padding instances are not looked at: the in-place kernels do not update them.)
    pub fn first_non_finite_state(&self) -> Option<(usize, &str, f64)> {
        for (s, name) in self.state_names.iter().enumerate() {
            let col = self.state(s);
            if let Some(k) = col.iter().position(|x| !x.is_finite()) {
                return Some((k, name, col[k]));
            }
        }
        None
    }
}

/// An ion value a mechanism reads or writes: (input name, ion, variable).
type IonInput = (String, usize, IonVar);

/// A program's outputs: (root, where its value goes).
type Outputs = Vec<(Id, Slot)>;

/// A state's update before it is compiled: a gate (`inf`, `tau`) or a linear ODE (`f`).
enum Upd {
    Gate { inf: Id, tau: Id },
    Ode { f: Id },
}

/// The roots of a mechanism's DAG: currents (with their ion), state updates and the initial
/// values that depend on parameters (`state cai: mM = minCai`).
struct Roots {
    currents: Vec<(Id, Option<usize>)>,
    updates: Vec<Upd>,
    init_nodes: Vec<Option<Id>>,
}

impl Roots {
    /// Lower the mechanism's expressions; errors in the order the mechanism lists them
    /// (currents, initial values, state equations).
    fn lower(
        dag: &mut Dag,
        mech: &MechModel,
        ions: &[String],
        names: &[String],
        input_nodes: &[Id],
    ) -> Result<Roots, String> {
        let lower = |dag: &mut Dag, ex: &crate::model::ex::Ex, what: &str| -> Result<Id, String> {
            dag.from_ex(ex, &mut |name| {
                names.iter().position(|x| x == name).map(|k| input_nodes[k])
            })
            .map_err(|m| format!("{what}: {m}"))
        };
        let mut currents = Vec::new();
        for c in &mech.currents {
            let i = lower(dag, &c.expr, &format!("current {}", c.name))?;
            let ion = match &c.ion {
                None => None,
                Some(name) => Some(
                    ions.iter()
                        .position(|x| x == name)
                        .ok_or_else(|| format!("ion `{name}` is not set up on the cell"))?,
                ),
            };
            currents.push((i, ion));
        }
        let mut init_nodes: Vec<Option<Id>> = Vec::new();
        for s in &mech.states {
            init_nodes.push(match &s.init_expr {
                Some(e) => Some(lower(dag, e, &format!("state {} initial value", s.name))?),
                None => None,
            });
        }
        let mut updates = Vec::new();
        for s in &mech.states {
            let u = match (&s.inf, &s.tau_ms, &s.derivative) {
                (Some(inf), Some(tau), _) => Upd::Gate {
                    inf: lower(dag, inf, &format!("state {} inf", s.name))?,
                    tau: lower(dag, tau, &format!("state {} tau", s.name))?,
                },
                (_, _, Some(d)) => Upd::Ode {
                    f: lower(dag, d, &format!("state {} derivative", s.name))?,
                },
                _ => {
                    return Err(format!(
                        "state {} has neither inf/tau nor a derivative",
                        s.name
                    ));
                }
            };
            updates.push(u);
        }
        Ok(Roots {
            currents,
            updates,
            init_nodes,
        })
    }

    /// Put the constants (`(input, value)`) in for their inputs, in every root.
    fn substitute(&mut self, dag: &mut Dag, consts: &[(u32, f64)]) {
        let subst_all = |dag: &mut Dag, mut r: Id| -> Id {
            for &(k, c) in consts {
                let cn = dag.constant(c);
                r = dag.substitute(r, k, cn);
            }
            r
        };
        for c in &mut self.currents {
            c.0 = subst_all(dag, c.0);
        }
        for u in &mut self.updates {
            match u {
                Upd::Gate { inf, tau } => {
                    *inf = subst_all(dag, *inf);
                    *tau = subst_all(dag, *tau);
                }
                Upd::Ode { f } => *f = subst_all(dag, *f),
            }
        }
        for n in self.init_nodes.iter_mut().flatten() {
            *n = subst_all(dag, *n);
        }
    }
}

/// The DAG's inputs by name — 0 = v, 1 = t, 2 = celsius, then states, then parameters, then
/// the ion values the mechanism reads or writes — and those ion values' (name, ion, variable).
fn input_names(mech: &MechModel, ions: &[String]) -> Result<(Vec<String>, Vec<IonInput>), String> {
    let mut names: Vec<String> = vec!["v".into(), "t".into(), "celsius".into()];
    names.extend(mech.states.iter().map(|s| s.name.clone()));
    names.extend(mech.parameters.iter().map(|p| p.name.clone()));
    let mut ion_inputs: Vec<IonInput> = Vec::new();
    for u in &mech.ions {
        let ion = ions
            .iter()
            .position(|i| *i == u.ion)
            .ok_or_else(|| format!("ion `{}` is not set up on the cell", u.ion))?;
        for name in u.reads.iter().chain(&u.writes) {
            let var = ion_var(name, &u.ion)
                .ok_or_else(|| format!("`{name}` is not a variable of ion `{}`", u.ion))?;
            if !names.contains(name) {
                names.push(name.clone());
                ion_inputs.push((name.clone(), ion, var));
            }
        }
    }
    Ok((names, ion_inputs))
}

/// Constants (`(input, value)`: celsius, and every parameter with one value on all
/// instances), the column of each other parameter (after the states), and the number of
/// columns so far.
fn uniform_parameters(
    mech: &MechModel,
    params: &[Vec<f64>],
    celsius_degc: f64,
) -> (Vec<(u32, f64)>, Vec<Option<u32>>, u32) {
    let n_states = mech.states.len();
    let mut consts: Vec<(u32, f64)> = vec![(2, celsius_degc)];
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
    (consts, param_col, n_cols)
}

/// Where inputs live: gathered inputs (`v`, `t`, ion values) in reserved temporaries
/// `0..n_gather` (the list says which input each is), states and parameter columns in their
/// columns, the rest constants already substituted.
fn input_slots(
    names: &[String],
    ion_inputs: &[IonInput],
    n_states: usize,
    param_col: &[Option<u32>],
) -> (Vec<(u32, Gather)>, Vec<Slot>) {
    let mut gather_list: Vec<(u32, Gather)> = vec![(0, Gather::V), (1, Gather::T)];
    for (name, ion, var) in ion_inputs {
        let k = names.iter().position(|x| x == name).unwrap_or(0) as u32;
        gather_list.push((k, Gather::Ion(*ion, *var)));
    }
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
    (gather_list, input_slot)
}

/// The current program's outputs: `i` and its conductance per current, in temporaries from
/// `first_tmp` on; returns the outputs, where each lands, and the next free temporary.
fn current_outputs(
    dag: &mut Dag,
    currents: &[(Id, Option<usize>)],
    point: bool,
    v: Id,
    first_tmp: u32,
) -> Result<(Outputs, Vec<CurOut>, u32), String> {
    let mut outs = Vec::new();
    let mut cur_out = Vec::new();
    let mut next = first_tmp;
    for &(i, ion) in currents {
        let g = if point {
            // Point processes: nocmodl's difference quotient (i(v + 0.001) − i(v))/0.001,
            // as NEURON computes it (it differs from ∂i/∂v for nonlinear currents such as
            // the NMDA Mg block; matching it keeps synaptic runs at NEURON's numbers).
            let h = dag.constant(0.001);
            let vh = dag.apply(Op::Add, &[v, h]);
            let i1 = dag.substitute(i, 0, vh);
            let di = dag.apply(Op::Sub, &[i1, i]);
            dag.apply(Op::Div, &[di, h])
        } else {
            dag.derivative(i, 0)
                .map_err(|m| format!("conductance: {m}"))?
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
    Ok((outs, cur_out, next))
}

/// The state program's outputs (each state's update into its column) and the
/// initialisation's (each state's initial value).
fn state_outputs(
    dag: &mut Dag,
    mech: &MechModel,
    roots: &Roots,
    input_nodes: &[Id],
    dt_ms: f64,
) -> Result<(Outputs, Outputs), String> {
    let mut s_outs = Vec::new();
    let mut i_outs = Vec::new();
    for (s, u) in roots.updates.iter().enumerate() {
        let x = input_nodes[3 + s];
        let xk = (3 + s) as u32;
        match *u {
            Upd::Gate { inf, tau } => {
                let new = gate_update(dag, dt_ms, x, inf, tau);
                s_outs.push((new, Slot::Col(s as u32)));
                i_outs.push((inf, Slot::Col(s as u32)));
            }
            Upd::Ode { f } => {
                let name = &mech.states[s].name;
                let b = dag
                    .derivative(f, xk)
                    .map_err(|m| format!("state {name}: {m}"))?;
                if dag.depends_on(b, xk) {
                    return Err(format!(
                        "state {name}: the equation is not linear in the state; only linear \
                         equations (exact exponential update, NEURON's cnexp) are supported"
                    ));
                }
                // x − (1 − exp(b·dt))·f/b, or x + dt·f where b = 0.
                let dt = dag.constant(dt_ms);
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
                let init = match roots.init_nodes[s] {
                    Some(n) => n,
                    None => dag.constant(mech.states[s].init.unwrap_or(0.0)),
                };
                i_outs.push((init, Slot::Col(s as u32)));
            }
        }
    }
    Ok((s_outs, i_outs))
}

/// Subexpressions of parameter columns alone (no v, t, state or ion value) are the same
/// every step: they are computed once, into extra columns from `n_cols` on (e.g. the calcium
/// pool's 1 − exp(−dt/decay) where decay varies along the cell). Only the outermost such
/// subexpressions the `roots` use are hoisted.
fn hoist(
    dag: &Dag,
    param_col: &[Option<u32>],
    n_states: usize,
    roots: impl Iterator<Item = Id>,
    n_cols: &mut u32,
) -> Vec<(Id, Slot)> {
    let param_input = |k: u32| {
        let j = (k as usize).wrapping_sub(3 + n_states);
        param_col.get(j).is_some_and(Option::is_some)
    };
    let nodes = dag.nodes();
    let mut inv = vec![false; nodes.len()];
    for (id, nd) in nodes.iter().enumerate() {
        inv[id] = match *nd {
            Node::Const(_) => true,
            Node::Input(k) => param_input(k),
            Node::Apply(op, a) => a[..op.arity()].iter().all(|&x| inv[x as usize]),
        };
    }
    let mut live = vec![false; nodes.len()];
    let mut frontier = vec![false; nodes.len()];
    let mut stack: Vec<Id> = Vec::new();
    for r in roots {
        frontier[r as usize] = inv[r as usize];
        stack.push(r);
    }
    while let Some(id) = stack.pop() {
        if std::mem::replace(&mut live[id as usize], true) || inv[id as usize] {
            continue;
        }
        if let Node::Apply(op, a) = nodes[id as usize] {
            for &x in &a[..op.arity()] {
                frontier[x as usize] |= inv[x as usize];
                stack.push(x);
            }
        }
    }
    let mut h = Vec::new();
    for (id, nd) in nodes.iter().enumerate() {
        if frontier[id] && matches!(nd, Node::Apply(..)) {
            h.push((id as Id, Slot::Col(*n_cols)));
            *n_cols += 1;
        }
    }
    h
}

/// States that are ion concentrations written by the mechanism: (state, ion).
fn conc_writes(mech: &MechModel, ions: &[String]) -> Vec<(usize, usize)> {
    let mut w = Vec::new();
    for u in &mech.ions {
        for name in &u.writes {
            if let Some(s) = mech.states.iter().position(|s| s.name == *name)
                && ion_var(name, &u.ion) == Some(IonVar::Inside)
                && let Some(ion) = ions.iter().position(|x| *x == u.ion)
            {
                w.push((s, ion));
            }
        }
    }
    w
}

/// The persistent columns: parameter columns filled (padding repeats the last value), the
/// hoisted subexpressions computed once by `hoist_prog`.
fn columns(
    params: &[Vec<f64>],
    param_col: &[Option<u32>],
    n_cols: u32,
    n_pad: usize,
    hoist_prog: &Program,
    tmp: &mut [f64],
) -> Vec<f64> {
    let mut cols = vec![0.0; n_cols as usize * n_pad];
    for (j, c) in param_col.iter().enumerate() {
        if let Some(c) = *c {
            let n = params[j].len();
            let col = &mut cols[c as usize * n_pad..(c as usize + 1) * n_pad];
            col[..n].copy_from_slice(&params[j]);
            col[n..].fill(params[j][n - 1]);
        }
    }
    let mut start = 0;
    while start < n_pad {
        let len = CHUNK.min(n_pad - start);
        hoist_prog.run_chunk(&mut cols, n_pad, tmp, start, len);
        start += len;
    }
    cols
}

/// Declare what the reserved temporaries of the current and state programs mean, for the
/// in-place kernels (see `kernel/direct.rs`): the same inputs in both programs, and the
/// currents with their ions' slots; returns the ions whose totals the currents add to, by
/// slot. A current program that reads an ion's total (which it may also add to) keeps the
/// gather.
fn declare_io(
    current: &mut Compiled,
    state: &mut Compiled,
    cur_out: &[CurOut],
    point: bool,
    n_gather: u32,
) -> Vec<usize> {
    let mut tot_ions: Vec<usize> = Vec::new();
    for ion in cur_out.iter().filter_map(|c| c.ion) {
        if !tot_ions.contains(&ion) {
            tot_ions.push(ion);
        }
    }
    let reads_total = current
        .gathers
        .iter()
        .any(|g| matches!(g.0, Gather::Ion(_, IonVar::Current)));
    let fits = n_gather as usize <= MAX_IN && tot_ions.len() <= MAX_TOT;
    current.prog.set_io((fits && !reads_total).then(|| {
        IoShape {
            n_inputs: n_gather,
            point,
            currents: cur_out
                .iter()
                .map(|c| {
                    let slot = c.ion.and_then(|i| tot_ions.iter().position(|&x| x == i));
                    (c.i_tmp, c.g_tmp, slot.map(|j| j as u8))
                })
                .collect(),
        }
    }));
    state.prog.set_io(fits.then(|| IoShape {
        n_inputs: n_gather,
        point: false,
        currents: Vec::new(),
    }));
    tot_ions
}

/// Run `prog`'s in-place kernel on the chunks starting at `starts`, one call per run of
/// consecutive nodes (see `kernel/direct.rs`); `tmp` is the mechanism's chunk temporaries, whose
/// scratch ones carry values between the loops of a split kernel.
fn in_place(
    prog: &Program,
    cols: &mut [f64],
    n_pad: usize,
    tmp: &mut [f64],
    runs: &Runs,
    starts: impl Iterator<Item = usize>,
    io: &mut Io<'_>,
) {
    for start in starts {
        for (o, node, l) in runs.chunk(start) {
            io.node = node;
            prog.run_direct(cols, n_pad, tmp, start + o, l, io);
        }
    }
}

/// The cell's arrays for an in-place kernel (see `kernel/direct.rs`; the caller sets the run's
/// first node):
/// `v` and the ion values the program gathers (by their temporaries), the totals of the ions in
/// `tot_ions` (by slot), and `rhs`, `d`, `fac` (empty for the state pass).
fn bind<'a>(
    gathers: &[(Gather, u32)],
    tot_ions: &[usize],
    (t_ms, v, ions): (f64, &'a [f64], &'a mut [IonPool]),
    (rhs, d, fac): (&'a mut [f64], &'a mut [f64], &'a [f64]),
) -> Io<'a> {
    let mut ins: [&'a [f64]; MAX_IN] = [&[]; MAX_IN];
    ins[0] = v;
    let mut tot: [&'a mut [f64]; MAX_TOT] = Default::default();
    for (k, p) in ions.iter_mut().enumerate() {
        let IonPool {
            e_mv,
            ci_mm,
            co_mm,
            i_ma_cm2,
            ..
        } = p;
        // An ion's total is either added to (a slot) or read, never both (`CompiledMech::new`
        // keeps the gather for a current program that reads one).
        let i_read: &'a [f64] = match tot_ions.iter().position(|&i| i == k) {
            Some(slot) => {
                tot[slot] = i_ma_cm2.as_mut_slice();
                &[]
            }
            None => i_ma_cm2.as_slice(),
        };
        for &(g, t) in gathers {
            if let Gather::Ion(ion, var) = g
                && ion == k
            {
                ins[t as usize] = match var {
                    IonVar::Reversal => e_mv.as_slice(),
                    IonVar::Inside => ci_mm.as_slice(),
                    IonVar::Outside => co_mm.as_slice(),
                    IonVar::Current => i_read,
                };
            }
        }
    }
    Io {
        node: 0,
        t_ms,
        ins,
        rhs,
        d,
        fac,
        tot,
    }
}
