//! NEURON's fixed-step backward-Euler integrator (`fadvance` with `secondorder = 0`).
//!
//! One step from `t_n` to `t_{n+1} = t_n + dt`, in NEURON's order (`nrn_fixed_step`):
//!
//! 1. (events would be delivered here — next issue);
//! 2. `rhs ← 0`, `d ← cm·1e-3/dt` (µF/cm² / ms = 1e-3 S/cm²); every mechanism adds its
//!    current `−i(v_n)` to `rhs` and `di/dv` to `d`, evaluated at `t_n + dt/2`;
//! 3. axial terms: `rhs[i] −= b[i]·(v[p] − v[i])`, `rhs[p] += a[i]·(v[p] − v[i])`,
//!    `d[i] −= b[i]`, `d[p] −= a[i]`;
//! 4. Hines solve for `Δv`; `v ← v + Δv` (all nodes, zero-area ones included);
//! 5. every mechanism advances its states with `v_{n+1}` at `t = t_{n+1}`;
//! 6. `t ← t_{n+1}`; record.
//!
//! The capacitive and axial parts of `d` do not change between steps and are precomputed once
//! ([`Simulation::new`]); this only changes the summation order relative to NEURON.
//!
//! Time is counted in integer steps, `t_n = n·dt`, not accumulated: sample `k` of a recording is
//! the state at `t = k·dt`, `k = 0..=N` (N + 1 samples, as the conformance traces). NEURON's
//! accumulated `t` differs by rounding only, which matters only for a stimulus edge placed
//! exactly on a half step.

use crate::sim::error::SimError;
use crate::sim::hines;
use crate::sim::mech::{CurrentCtx, IClamp, Mechanism, StateCtx};
use crate::sim::tree::{CableTree, NodeId};

/// Settings of a fixed-step run.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SimConfig {
    /// Time step, ms.
    pub dt_ms: f64,
    /// Initial membrane voltage of every node, mV.
    pub v_init_mv: f64,
    /// A voltage beyond `±v_limit_mv` stops the run with E0502 (runaway).
    pub v_limit_mv: f64,
}

impl Default for SimConfig {
    fn default() -> SimConfig {
        SimConfig {
            dt_ms: 0.025,
            v_init_mv: -65.0,
            v_limit_mv: 1.0e3,
        }
    }
}

/// Number of fixed steps to reach `t_stop_ms`: `round(t_stop/dt)`. A run of that many steps
/// records `steps + 1` samples (`t = 0 … t_stop`); ISF's own files have one more (see spec 2.8).
pub fn steps_for(t_stop_ms: f64, dt_ms: f64) -> usize {
    (t_stop_ms / dt_ms).round() as usize
}

/// Voltage traces at fixed nodes, sample-major (`data[k·n_probes + j]`), preallocated.
#[derive(Clone, Debug)]
pub struct Recording {
    dt_ms: f64,
    probes: Vec<NodeId>,
    capacity: usize,
    len: usize,
    data: Vec<f64>,
}

impl Recording {
    /// Room for `n_steps + 1` samples of every probe node.
    pub fn new(probes: Vec<NodeId>, n_steps: usize, dt_ms: f64) -> Recording {
        let capacity = n_steps + 1;
        Recording {
            dt_ms,
            data: vec![0.0; capacity * probes.len()],
            probes,
            capacity,
            len: 0,
        }
    }

    /// Probe nodes, in column order.
    pub fn probes(&self) -> &[NodeId] {
        &self.probes
    }

    /// Number of samples recorded so far.
    pub fn n_samples(&self) -> usize {
        self.len
    }

    /// Time of sample `k`, ms.
    pub fn t_ms(&self, k: usize) -> f64 {
        k as f64 * self.dt_ms
    }

    /// Voltage of probe `j` at sample `k`, mV.
    pub fn v_mv(&self, k: usize, j: usize) -> f64 {
        assert!(k < self.len && j < self.probes.len());
        self.data[k * self.probes.len() + j]
    }

    /// The whole trace of probe `j`, mV (copies; not for the step loop).
    pub fn trace(&self, j: usize) -> Vec<f64> {
        (0..self.len).map(|k| self.v_mv(k, j)).collect()
    }

    /// Store the probes' voltages as the next sample; a full recording ignores further samples.
    #[inline]
    fn push(&mut self, v_mv: &[f64]) {
        if self.len == self.capacity {
            return;
        }
        let np = self.probes.len();
        let row = &mut self.data[self.len * np..(self.len + 1) * np];
        for (slot, &node) in row.iter_mut().zip(&self.probes) {
            *slot = v_mv[node as usize];
        }
        self.len += 1;
    }
}

/// A cell ready to integrate: tree, mechanisms and the solver's work arrays.
pub struct Simulation {
    tree: CableTree,
    cfg: SimConfig,
    mechs: Vec<Box<dyn Mechanism>>,
    v_mv: Vec<f64>,
    rhs: Vec<f64>,
    d: Vec<f64>,
    /// Capacitive plus axial part of the diagonal, S/cm² (constant over a run).
    d_fixed: Vec<f64>,
    step: u64,
}

impl Simulation {
    /// Prepare a run; all work arrays are allocated here.
    pub fn new(tree: CableTree, cfg: SimConfig) -> Result<Simulation, SimError> {
        if !(cfg.dt_ms.is_finite() && cfg.dt_ms > 0.0) {
            return Err(SimError::InvalidSetting {
                message: format!("dt must be positive, got {} ms", cfg.dt_ms),
            });
        }
        if !cfg.v_init_mv.is_finite() || cfg.v_limit_mv.is_nan() || cfg.v_limit_mv <= 0.0 {
            return Err(SimError::InvalidSetting {
                message: "v_init must be finite and v_limit positive".into(),
            });
        }
        let n = tree.n_nodes();
        let mut sim = Simulation {
            cfg,
            mechs: Vec::new(),
            v_mv: vec![cfg.v_init_mv; n],
            rhs: vec![0.0; n],
            d: vec![0.0; n],
            d_fixed: vec![0.0; n],
            step: 0,
            tree,
        };
        sim.rebuild_fixed_diagonal();
        Ok(sim)
    }

    fn rebuild_fixed_diagonal(&mut self) {
        // NEURON's nrn_cap_jacob: cfac = 0.001/dt, d += cfac·cm.
        let cfac = 1.0e-3 / self.cfg.dt_ms;
        let t = &self.tree;
        for (df, &cm) in self.d_fixed.iter_mut().zip(t.cm_uf_cm2()) {
            *df = cfac * cm;
        }
        let (parent, a, b) = (t.parent(), t.a(), t.b());
        for i in t.n_roots()..t.n_nodes() {
            self.d_fixed[i] -= b[i];
            self.d_fixed[parent[i] as usize] -= a[i];
        }
    }

    /// The tree being integrated.
    pub fn tree(&self) -> &CableTree {
        &self.tree
    }

    /// The settings.
    pub fn config(&self) -> &SimConfig {
        &self.cfg
    }

    /// Add a mechanism (density or point process); checked against the tree's node count.
    pub fn add_mechanism(&mut self, mech: Box<dyn Mechanism>) -> Result<(), SimError> {
        if let Some(m) = mech.max_node()
            && m as usize >= self.tree.n_nodes()
        {
            return Err(SimError::InvalidSetting {
                message: format!(
                    "mechanism {} uses node {m}, the tree has {}",
                    mech.name(),
                    self.tree.n_nodes()
                ),
            });
        }
        self.mechs.push(mech);
        Ok(())
    }

    /// Add a current clamp at `(section, x)` (NEURON places it in the segment containing `x`).
    pub fn add_iclamp(
        &mut self,
        section: usize,
        x: f64,
        delay_ms: f64,
        dur_ms: f64,
        amp_na: f64,
    ) -> Result<(), SimError> {
        let node = self.tree.location(section, x)?;
        if ![delay_ms, dur_ms, amp_na].iter().all(|v| v.is_finite()) {
            return Err(SimError::InvalidSetting {
                message: "IClamp delay, dur and amp must be finite".into(),
            });
        }
        self.add_mechanism(Box::new(IClamp {
            node,
            delay_ms,
            dur_ms,
            amp_na,
        }))
    }

    /// NEURON's `finitialize(v_init)`: `t = 0`, every voltage `v_init`, mechanisms initialised.
    pub fn init(&mut self) {
        self.step = 0;
        self.v_mv.fill(self.cfg.v_init_mv);
        let cx = StateCtx {
            t_ms: 0.0,
            dt_ms: self.cfg.dt_ms,
            v_mv: &self.v_mv,
        };
        for m in &mut self.mechs {
            m.init(&cx);
        }
    }

    /// Set one node's voltage (after [`Simulation::init`], for tests and special protocols).
    pub fn set_v_mv(&mut self, node: NodeId, v_mv: f64) {
        self.v_mv[node as usize] = v_mv;
    }

    /// Current time, ms.
    pub fn t_ms(&self) -> f64 {
        self.step as f64 * self.cfg.dt_ms
    }

    /// Number of steps taken since [`Simulation::init`].
    pub fn steps_done(&self) -> u64 {
        self.step
    }

    /// Voltages of all nodes, mV.
    pub fn v_mv(&self) -> &[f64] {
        &self.v_mv
    }

    /// Advance one fixed step. On E0501/E0502 the state is left as computed (for inspection).
    pub fn step(&mut self) -> Result<(), SimError> {
        let dt_ms = self.cfg.dt_ms;
        let n_roots = self.tree.n_roots();
        let Simulation {
            tree,
            mechs,
            v_mv,
            rhs,
            d,
            d_fixed,
            step,
            ..
        } = self;
        let n = v_mv.len();

        // 2. Membrane currents at the half step.
        rhs.fill(0.0);
        d.copy_from_slice(d_fixed);
        {
            let mut cx = CurrentCtx {
                t_ms: (*step as f64 + 0.5) * dt_ms,
                dt_ms,
                v_mv,
                area_um2: tree.area_um2(),
                rhs,
                d,
            };
            for m in mechs.iter_mut() {
                m.current(&mut cx);
            }
        }

        // 3. Axial currents (the axial diagonal is in d_fixed).
        let parent = &tree.parent()[n_roots..n];
        let a = &tree.a()[n_roots..n];
        let b = &tree.b()[n_roots..n];
        for (k, ((&p, &ak), &bk)) in parent.iter().zip(a).zip(b).enumerate() {
            let i = n_roots + k;
            let p = p as usize;
            let dv = v_mv[p] - v_mv[i];
            rhs[i] -= bk * dv;
            rhs[p] += ak * dv;
        }

        // 4. Solve for Δv and update, watching for NaN and runaway in the same pass.
        hines::solve(n_roots, tree.parent(), tree.a(), tree.b(), d, rhs);
        let limit = self.cfg.v_limit_mv;
        let mut ok = true;
        for (v, &dv) in v_mv.iter_mut().zip(rhs.iter()) {
            *v += dv;
            // NaN fails the comparison, so one test covers both cases.
            ok &= v.abs() <= limit;
        }
        *step += 1;
        let t_ms = *step as f64 * dt_ms;
        if !ok {
            return Err(self.voltage_error(t_ms));
        }

        // 5. States with the new voltage.
        let cx = StateCtx { t_ms, dt_ms, v_mv };
        for m in mechs.iter_mut() {
            m.advance(&cx);
        }
        Ok(())
    }

    #[cold]
    fn voltage_error(&self, t_ms: f64) -> SimError {
        let limit = self.cfg.v_limit_mv;
        let node = self
            .v_mv
            .iter()
            .position(|v| !v.is_finite())
            .or_else(|| self.v_mv.iter().position(|v| v.abs() > limit))
            .unwrap_or(0);
        let v_mv = self.v_mv[node];
        let node = node as NodeId;
        let location = self.tree.node_label(node);
        if v_mv.is_finite() {
            SimError::Runaway {
                node,
                location,
                t_ms,
                v_mv,
                v_limit_mv: limit,
            }
        } else {
            SimError::NonFinite {
                node,
                location,
                t_ms,
                v_mv,
            }
        }
    }

    /// Initialise, record sample 0, then take `n_steps` steps recording after each: the
    /// recording holds the states at `t = k·dt`, `k = 0..=n_steps`.
    pub fn run(&mut self, n_steps: usize, probes: &[NodeId]) -> Result<Recording, SimError> {
        let mut rec = Recording::new(probes.to_vec(), n_steps, self.cfg.dt_ms);
        self.init();
        self.run_into(n_steps, &mut rec)?;
        Ok(rec)
    }

    /// Continue from the present state: record the present state if `rec` is empty, then take
    /// `n_steps` steps recording after each. Allocation-free. On error, `rec` keeps the samples
    /// up to the last good step.
    pub fn run_into(&mut self, n_steps: usize, rec: &mut Recording) -> Result<(), SimError> {
        if let Some(&p) = rec
            .probes
            .iter()
            .find(|&&p| p as usize >= self.tree.n_nodes())
        {
            return Err(SimError::InvalidSetting {
                message: format!("probe node {p} does not exist"),
            });
        }
        if rec.n_samples() == 0 {
            rec.push(&self.v_mv);
        }
        for _ in 0..n_steps {
            self.step()?;
            rec.push(&self.v_mv);
        }
        Ok(())
    }
}
