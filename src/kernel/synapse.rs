//! Synaptic point processes of ISF's network model (spec 03 §3.6) as native Rust kernels, and
//! release-event delivery with NEURON's fixed-step timing (spec 03 §3.8).
//!
//! Mechanisms, with exactly the equations of `neuron-anchor/mod/glutamate_syn.mod` and
//! `gaba_syn.mod`:
//!
//! * [`GlutamateParams`] — AMPA (`C − D`, rise `tau4`, decay `tau3`) plus NMDA (`A − B`, rise
//!   `tau2`, decay `tau1`) with the Mg block `1/(1 + n·exp(−gama·v))`; event weights
//!   `[w_ampa, w_nmda]` in nS (peak conductances); multiplicative depression and additive
//!   facilitation per synapse, the kick using the pre-event `d·f`;
//! * [`GabaParams`] — GABA_A (`D − R`, rise `risetime`, decay `decaytime`), weight `w` in nS,
//!   same depression/facilitation.
//!
//! Currents `i = 1e-3·g(nS)·(v − e)` nA enter the compartment like any NEURON point process:
//! `rhs −= i(v)·100/area`, `d += (i(v + 0.001) − i(v))/0.001 · 100/area` (nocmodl's numerical
//! `di/dv`, which includes the derivative of the Mg block). States use `cnexp` (exact
//! exponential decay per step) after the voltage update.
//!
//! **Layout.** Conductance states live in *channels*, structure of arrays. Synapses of one
//! receptor kind with identical conductance parameters (time constants, reversal, Mg-block
//! constants) on the same compartment share one channel when [`SynapseSet::coalesce`] is set:
//! the conductance states are linear and decay with the same factors, and the NMDA Mg block
//! multiplies the *summed* `A − B` at the compartment voltage, so the merged channel is
//! mathematically identical to the sum of the separate synapses (it differs only by floating
//! point rounding in the order of additions). Depression/facilitation states stay per synapse;
//! they are advanced lazily at each of the synapse's events with the `cnexp` factor raised to
//! the number of steps since the last event (equal to the per-step update up to rounding).
//!
//! **Event timing.** An event at `t_e` (release time + delay) is applied before the current
//! phase of the step starting at `t_n = n·dt` with `n = ⌊t_e/dt + 1/2⌋`, i.e. when
//! `t_n − dt/2 ≤ t_e < t_n + dt/2` (spec 03 §3.8). NEURON delivers events in
//! `(t_n − dt/2, t_n]` at the end of the previous step (after the state update, see
//! `neuron-anchor/README.md`) and events in `(t_n, t_n + dt/2]` at the start of step `n`; both
//! take effect between the state update of step `n − 1` and the current phase of step `n`,
//! which is where this module applies them. Exact half-way times depend on NEURON's floating
//! point accumulation of `t` and are rounded up here. Events of one step are applied in time
//! order. The delivery loop walks a pre-sorted event array and does not allocate.

use super::error::KernelError;
use crate::sim::tree::{CableTree, NodeId};
use std::collections::HashMap;

/// NEURON's double-exponential peak normalisation for rise `taur` < decay `taud`:
/// `1/(exp(−t_peak/taud) − exp(−t_peak/taur))`, `t_peak = taur·taud/(taud − taur)·ln(taud/taur)`.
pub fn peaknorm(taur: f64, taud: f64) -> f64 {
    let tpeak = taur * taud / (taud - taur) * (taud / taur).ln();
    1.0 / ((-tpeak / taud).exp() - (-tpeak / taur).exp())
}

/// Parameters of `glutamate_syn` (defaults of the mod file).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct GlutamateParams {
    /// NMDA decay, ms.
    pub tau1: f64,
    /// NMDA rise, ms.
    pub tau2: f64,
    /// AMPA decay, ms.
    pub tau3: f64,
    /// AMPA rise, ms.
    pub tau4: f64,
    /// Reversal potential, mV.
    pub e: f64,
    /// Mg-block constant, /mM.
    pub n: f64,
    /// Mg-block voltage slope, /mV.
    pub gama: f64,
    /// Multiplicative AMPA depression per event.
    pub decayampa: f64,
    /// Multiplicative NMDA depression per event.
    pub decaynmda: f64,
    /// Recovery of AMPA depression, ms.
    pub taudampa: f64,
    /// Recovery of NMDA depression, ms.
    pub taudnmda: f64,
    /// Additive AMPA facilitation per event.
    pub facilampa: f64,
    /// Additive NMDA facilitation per event.
    pub facilnmda: f64,
    /// Recovery of AMPA facilitation, ms.
    pub taufampa: f64,
    /// Recovery of NMDA facilitation, ms.
    pub taufnmda: f64,
}

impl Default for GlutamateParams {
    fn default() -> GlutamateParams {
        GlutamateParams {
            tau1: 50.0,
            tau2: 2.0,
            tau3: 2.0,
            tau4: 0.1,
            e: 0.0,
            n: 0.25,
            gama: 0.08,
            decayampa: 0.5,
            decaynmda: 0.5,
            taudampa: 200.0,
            taudnmda: 200.0,
            facilampa: 0.0,
            facilnmda: 0.0,
            taufampa: 200.0,
            taufnmda: 200.0,
        }
    }
}

impl GlutamateParams {
    /// The values of ISF's example network files (tau1 26 ms, no depression, no facilitation).
    pub fn isf_example() -> GlutamateParams {
        GlutamateParams {
            tau1: 26.0,
            decayampa: 1.0,
            decaynmda: 1.0,
            ..GlutamateParams::default()
        }
    }
}

/// Parameters of `gaba_syn` (defaults of the mod file).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct GabaParams {
    /// Reversal potential, mV.
    pub e: f64,
    /// Rise time constant, ms.
    pub risetime: f64,
    /// Decay time constant, ms.
    pub decaytime: f64,
    /// Multiplicative depression per event.
    pub decaygaba: f64,
    /// Recovery of depression, ms.
    pub taudgaba: f64,
    /// Additive facilitation per event.
    pub facilgaba: f64,
    /// Recovery of facilitation, ms.
    pub taufgaba: f64,
}

impl Default for GabaParams {
    fn default() -> GabaParams {
        GabaParams {
            e: -60.0,
            risetime: 1.0,
            decaytime: 20.0,
            decaygaba: 0.8,
            taudgaba: 200.0,
            facilgaba: 0.0,
            taufgaba: 200.0,
        }
    }
}

impl GabaParams {
    /// The values of ISF's example network files (e −80 mV, no depression).
    pub fn isf_example() -> GabaParams {
        GabaParams {
            e: -80.0,
            decaygaba: 1.0,
            ..GabaParams::default()
        }
    }
}

/// Receptor mechanism of one synapse.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Receptor {
    /// `glutamate_syn`; weights `[w_ampa, w_nmda]` nS.
    Glutamate(GlutamateParams),
    /// `gaba_syn`; weight `[w, _]` nS (the second entry is ignored).
    Gaba(GabaParams),
}

/// One synapse: location, receptor, event weights and release times.
#[derive(Clone, Debug, PartialEq)]
pub struct Synapse {
    /// Section index.
    pub section: usize,
    /// Position on the section (NEURON puts the synapse in the compartment containing it).
    pub x: f64,
    /// Receptor and its parameters.
    pub receptor: Receptor,
    /// Event weights, nS (glutamate: AMPA, NMDA; GABA: first entry).
    pub weights_ns: [f64; 2],
    /// Release times, ms (any order; sorted on compilation; must be finite and ≥ 0).
    pub release_times_ms: Vec<f64>,
    /// Delay from release to the event at the receptor, ms (NetCon delay; ≥ 0).
    pub delay_ms: f64,
}

/// A set of synapses to add to an [`ActiveCell`](super::ActiveCell).
#[derive(Clone, Debug, PartialEq)]
pub struct SynapseSet {
    /// The synapses.
    pub synapses: Vec<Synapse>,
    /// Merge the conductance states of same-kind, same-parameter synapses per compartment
    /// (exact up to rounding, see the module docs). Default `true`.
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

/// Per-step decay factor of `x' = −x/tau` (`cnexp`).
fn decay(dt: f64, tau: f64) -> f64 {
    (-dt / tau).exp()
}

/// `1 − decay(dt, tau)`: nocmodl's `cnexp` form `x += (1 − exp(−dt/tau))·(0 − x)`.
fn one_minus_decay(dt: f64, tau: f64) -> f64 {
    1.0 - (-dt / tau).exp()
}

/// Compiled synapses of a cell: conductance channels, per-synapse plasticity, events.
#[derive(Clone, Debug, Default)]
pub struct SynapseKernel {
    specs: Vec<Synapse>,
    dt_ms: f64,
    // Glutamate channels (SoA).
    g_node: Vec<u32>,
    g_scale: Vec<f64>,
    g_e: Vec<f64>,
    g_n: Vec<f64>,
    g_gama: Vec<f64>,
    /// `exp(−0.001·gama)`: the Mg-block exponential's factor for the `di/dv` probe.
    g_mg_dv: Vec<f64>,
    g_a: Vec<f64>,
    g_b: Vec<f64>,
    g_c: Vec<f64>,
    g_d: Vec<f64>,
    /// `1 − exp(−dt/τ)` per state.
    g_fa: Vec<f64>,
    g_fb: Vec<f64>,
    g_fc: Vec<f64>,
    g_fd: Vec<f64>,
    // GABA channels (SoA).
    i_node: Vec<u32>,
    i_scale: Vec<f64>,
    i_e: Vec<f64>,
    i_r: Vec<f64>,
    i_d: Vec<f64>,
    i_fr: Vec<f64>,
    i_fd: Vec<f64>,
    // Per synapse: channel, kicks `factor·w` for (AMPA or GABA, NMDA), plasticity.
    s_glu: Vec<bool>,
    s_channel: Vec<u32>,
    s_kick: Vec<[f64; 2]>,
    /// Depression `d` and facilitation `f` of components 0 (AMPA/GABA) and 1 (NMDA).
    s_df: Vec<[f64; 4]>,
    /// Per-step recovery factors of `d0, d1, f0, f1`.
    s_rec: Vec<[f64; 4]>,
    /// `decay0, decay1, facil0, facil1`.
    s_plast: Vec<[f64; 4]>,
    /// Step index of the last event (plasticity state is current as of then).
    s_last: Vec<u64>,
    // Events sorted by (step, time): step, synapse.
    ev_step: Vec<u64>,
    ev_syn: Vec<u32>,
    next: usize,
}

impl SynapseKernel {
    /// Compile `specs` for `tree` with time step `dt_ms`.
    pub fn new(
        tree: &CableTree,
        specs: Vec<Synapse>,
        coalesce: bool,
        dt_ms: f64,
    ) -> Result<SynapseKernel, KernelError> {
        let setup = |message: String| KernelError::Setup { message };
        let mut k = SynapseKernel {
            dt_ms,
            ..SynapseKernel::default()
        };
        let area = tree.area_um2();
        let mut glu_key: HashMap<(NodeId, [u64; 7]), u32> = HashMap::new();
        let mut gaba_key: HashMap<(NodeId, [u64; 3]), u32> = HashMap::new();
        let mut events: Vec<(u64, f64, u32)> = Vec::new();
        for (s, syn) in specs.iter().enumerate() {
            let node = tree.location(syn.section, syn.x)?;
            let a = area[node as usize];
            if a <= 0.0 {
                return Err(setup(format!(
                    "synapse {s}: section {} x {} is a zero-area node",
                    syn.section, syn.x
                )));
            }
            let scale = 1.0e2 / a;
            if !(syn.weights_ns.iter().all(|w| w.is_finite())
                && syn.delay_ms.is_finite()
                && syn.delay_ms >= 0.0)
            {
                return Err(setup(format!(
                    "synapse {s}: weights must be finite and the delay finite and ≥ 0"
                )));
            }
            let positive = |v: &[f64]| v.iter().all(|x| x.is_finite() && *x > 0.0);
            match syn.receptor {
                Receptor::Glutamate(p) => {
                    if !positive(&[
                        p.tau1, p.tau2, p.tau3, p.tau4, p.taudampa, p.taudnmda, p.taufampa,
                        p.taufnmda,
                    ]) || p.tau2 >= p.tau1
                        || p.tau4 >= p.tau3
                        || ![p.e, p.n, p.gama, p.decayampa, p.decaynmda]
                            .iter()
                            .chain(&[p.facilampa, p.facilnmda])
                            .all(|x| x.is_finite())
                    {
                        return Err(setup(format!(
                            "synapse {s}: glutamate_syn needs positive time constants with \
                             tau2 < tau1, tau4 < tau3 and finite parameters"
                        )));
                    }
                    let key = [p.tau1, p.tau2, p.tau3, p.tau4, p.e, p.n, p.gama].map(f64::to_bits);
                    let new_ch = k.g_node.len() as u32;
                    let ch = if coalesce {
                        *glu_key.entry((node, key)).or_insert(new_ch)
                    } else {
                        new_ch
                    };
                    if ch == new_ch {
                        k.g_node.push(node);
                        k.g_scale.push(scale);
                        k.g_e.push(p.e);
                        k.g_n.push(p.n);
                        k.g_gama.push(p.gama);
                        k.g_mg_dv.push((-0.001 * p.gama).exp());
                        k.g_fa.push(one_minus_decay(dt_ms, p.tau1));
                        k.g_fb.push(one_minus_decay(dt_ms, p.tau2));
                        k.g_fc.push(one_minus_decay(dt_ms, p.tau3));
                        k.g_fd.push(one_minus_decay(dt_ms, p.tau4));
                    }
                    k.s_glu.push(true);
                    k.s_channel.push(ch);
                    k.s_kick.push([
                        peaknorm(p.tau4, p.tau3) * syn.weights_ns[0],
                        peaknorm(p.tau2, p.tau1) * syn.weights_ns[1],
                    ]);
                    k.s_rec.push([
                        decay(dt_ms, p.taudampa),
                        decay(dt_ms, p.taudnmda),
                        decay(dt_ms, p.taufampa),
                        decay(dt_ms, p.taufnmda),
                    ]);
                    k.s_plast
                        .push([p.decayampa, p.decaynmda, p.facilampa, p.facilnmda]);
                }
                Receptor::Gaba(p) => {
                    if !positive(&[p.risetime, p.decaytime, p.taudgaba, p.taufgaba])
                        || p.risetime >= p.decaytime
                        || ![p.e, p.decaygaba, p.facilgaba]
                            .iter()
                            .all(|x| x.is_finite())
                    {
                        return Err(setup(format!(
                            "synapse {s}: gaba_syn needs positive time constants with \
                             risetime < decaytime and finite parameters"
                        )));
                    }
                    let key = [p.risetime, p.decaytime, p.e].map(f64::to_bits);
                    let new_ch = k.i_node.len() as u32;
                    let ch = if coalesce {
                        *gaba_key.entry((node, key)).or_insert(new_ch)
                    } else {
                        new_ch
                    };
                    if ch == new_ch {
                        k.i_node.push(node);
                        k.i_scale.push(scale);
                        k.i_e.push(p.e);
                        k.i_fr.push(one_minus_decay(dt_ms, p.risetime));
                        k.i_fd.push(one_minus_decay(dt_ms, p.decaytime));
                    }
                    k.s_glu.push(false);
                    k.s_channel.push(ch);
                    k.s_kick
                        .push([peaknorm(p.risetime, p.decaytime) * syn.weights_ns[0], 0.0]);
                    let (rd, rf) = (decay(dt_ms, p.taudgaba), decay(dt_ms, p.taufgaba));
                    k.s_rec.push([rd, rd, rf, rf]);
                    k.s_plast.push([p.decaygaba, 1.0, p.facilgaba, 0.0]);
                }
            }
            for &t in &syn.release_times_ms {
                if !(t.is_finite() && t >= 0.0) {
                    return Err(setup(format!(
                        "synapse {s}: release time {t} ms (times must be finite and ≥ 0)"
                    )));
                }
                let te = t + syn.delay_ms;
                let step = (te / dt_ms + 0.5).floor();
                if step < u64::MAX as f64 {
                    events.push((step as u64, te, s as u32));
                }
            }
        }
        events.sort_by(|x, y| x.0.cmp(&y.0).then(x.1.total_cmp(&y.1)).then(x.2.cmp(&y.2)));
        k.ev_step = events.iter().map(|e| e.0).collect();
        k.ev_syn = events.iter().map(|e| e.2).collect();
        let (ng, ni, ns) = (k.g_node.len(), k.i_node.len(), specs.len());
        k.g_a = vec![0.0; ng];
        k.g_b = vec![0.0; ng];
        k.g_c = vec![0.0; ng];
        k.g_d = vec![0.0; ng];
        k.i_r = vec![0.0; ni];
        k.i_d = vec![0.0; ni];
        k.s_df = vec![[1.0; 4]; ns];
        k.s_last = vec![0; ns];
        k.specs = specs;
        Ok(k)
    }

    /// The synapse specifications, in the order given.
    pub fn specs(&self) -> &[Synapse] {
        &self.specs
    }

    /// Number of conductance channels (glutamate, GABA) after coalescing.
    pub fn n_channels(&self) -> (usize, usize) {
        (self.g_node.len(), self.i_node.len())
    }

    /// Number of events that will be delivered over a run of any length.
    pub fn n_events(&self) -> usize {
        self.ev_step.len()
    }

    /// NEURON's `INITIAL` blocks: conductance states 0, `d = f = 1`; events rewound.
    pub fn init(&mut self) {
        for v in [
            &mut self.g_a,
            &mut self.g_b,
            &mut self.g_c,
            &mut self.g_d,
            &mut self.i_r,
            &mut self.i_d,
        ] {
            v.fill(0.0);
        }
        self.s_df.fill([1.0; 4]);
        self.s_last.fill(0);
        self.next = 0;
    }

    /// Apply the events of step `step` (those with `⌊t_e/dt + 1/2⌋ = step`; earlier undelivered
    /// ones too) to the conductance states.
    pub fn deliver(&mut self, step: u64) {
        while self.next < self.ev_step.len() && self.ev_step[self.next] <= step {
            let s = self.ev_syn[self.next] as usize;
            self.next += 1;
            // Plasticity: recover lazily over the steps since the last event.
            let df = &mut self.s_df[s];
            let rec = &self.s_rec[s];
            let pl = &self.s_plast[s];
            let n = step - self.s_last[s];
            if n > 0 {
                for j in 0..4 {
                    if df[j] != 1.0 {
                        let f = if n <= i32::MAX as u64 {
                            rec[j].powi(n as i32)
                        } else {
                            0.0
                        };
                        df[j] = 1.0 + (df[j] - 1.0) * f;
                    }
                }
            }
            self.s_last[s] = step;
            let kick = self.s_kick[s];
            let c = self.s_channel[s] as usize;
            let k0 = kick[0] * df[0] * df[2];
            if self.s_glu[s] {
                let k1 = kick[1] * df[1] * df[3];
                self.g_a[c] += k1;
                self.g_b[c] += k1;
                self.g_c[c] += k0;
                self.g_d[c] += k0;
            } else {
                self.i_r[c] += k0;
                self.i_d[c] += k0;
            }
            df[0] *= pl[0];
            df[1] *= pl[1];
            df[2] += pl[2];
            df[3] += pl[3];
        }
    }

    /// Add the synaptic currents at voltages `v` to `rhs` (−i·100/area) and their numerical
    /// `di/dv` to `d`, as nocmodl's point-process current code does.
    pub fn add_currents(&self, v: &[f64], rhs: &mut [f64], d: &mut [f64]) {
        for c in 0..self.g_node.len() {
            let (gn, ga) = (self.g_a[c] - self.g_b[c], self.g_c[c] - self.g_d[c]);
            if gn == 0.0 && ga == 0.0 {
                continue;
            }
            let nd = self.g_node[c] as usize;
            let (e, n, gama) = (self.g_e[c], self.g_n[c], self.g_gama[c]);
            // exp(−gama·(v + 0.001)) = exp(−gama·v)·exp(−0.001·gama): one exp per channel.
            let cur = |v: f64, x: f64| {
                let gnmda = gn / (1.0 + n * x);
                0.001 * gnmda * (v - e) + 0.001 * ga * (v - e)
            };
            let vn = v[nd];
            let x0 = (-gama * vn).exp();
            let i1 = cur(vn + 0.001, x0 * self.g_mg_dv[c]);
            let i0 = cur(vn, x0);
            let s = self.g_scale[c];
            rhs[nd] -= i0 * s;
            d[nd] += (i1 - i0) / 0.001 * s;
        }
        for c in 0..self.i_node.len() {
            let g = self.i_d[c] - self.i_r[c];
            if g == 0.0 {
                continue;
            }
            let nd = self.i_node[c] as usize;
            let e = self.i_e[c];
            let vn = v[nd];
            let i1 = 0.001 * g * (vn + 0.001 - e);
            let i0 = 0.001 * g * (vn - e);
            let s = self.i_scale[c];
            rhs[nd] -= i0 * s;
            d[nd] += (i1 - i0) / 0.001 * s;
        }
    }

    /// `cnexp` update of the conductance states over one step (nocmodl's form
    /// `x += (1 − exp(−dt/τ))·(0 − x)`).
    pub fn advance(&mut self) {
        for c in 0..self.g_node.len() {
            self.g_a[c] += self.g_fa[c] * -self.g_a[c];
            self.g_b[c] += self.g_fb[c] * -self.g_b[c];
            self.g_c[c] += self.g_fc[c] * -self.g_c[c];
            self.g_d[c] += self.g_fd[c] * -self.g_d[c];
        }
        for c in 0..self.i_node.len() {
            self.i_r[c] += self.i_fr[c] * -self.i_r[c];
            self.i_d[c] += self.i_fd[c] * -self.i_d[c];
        }
    }

    /// Node and conductance states `[A, B, C, D]` (nS) of glutamate channel `c`.
    pub fn glutamate_state(&self, c: usize) -> (NodeId, [f64; 4]) {
        (
            self.g_node[c],
            [self.g_a[c], self.g_b[c], self.g_c[c], self.g_d[c]],
        )
    }

    /// Node and conductance states `[R, D]` (nS) of GABA channel `c`.
    pub fn gaba_state(&self, c: usize) -> (NodeId, [f64; 2]) {
        (self.i_node[c], [self.i_r[c], self.i_d[c]])
    }

    /// Time step the kernel was compiled for, ms.
    pub fn dt_ms(&self) -> f64 {
        self.dt_ms
    }
}

/// Receptor of a network file's receptor entry: `glutamate_syn`/`gaba_syn` (and the `_old`
/// variants, same equations) with the mod defaults overridden by the entry's parameters.
pub fn receptor_from_network(r: &crate::network::Receptor) -> Result<Receptor, KernelError> {
    let setup = |message: String| KernelError::Setup { message };
    let unknown = |name: &str| {
        setup(format!(
            "receptor `{}` has no parameter `{name}`",
            r.mechanism
        ))
    };
    match r.mechanism.as_str() {
        "glutamate_syn" | "glutamate_syn_old" => {
            let mut p = GlutamateParams::default();
            for (name, v) in &r.parameters {
                let slot = match name.as_str() {
                    "tau1" => &mut p.tau1,
                    "tau2" => &mut p.tau2,
                    "tau3" => &mut p.tau3,
                    "tau4" => &mut p.tau4,
                    "e" => &mut p.e,
                    "n" => &mut p.n,
                    "gama" => &mut p.gama,
                    "decayampa" => &mut p.decayampa,
                    "decaynmda" => &mut p.decaynmda,
                    "taudampa" => &mut p.taudampa,
                    "taudnmda" => &mut p.taudnmda,
                    "facilampa" => &mut p.facilampa,
                    "facilnmda" => &mut p.facilnmda,
                    "taufampa" => &mut p.taufampa,
                    "taufnmda" => &mut p.taufnmda,
                    "tau_ampa" => continue,
                    _ => return Err(unknown(name)),
                };
                *slot = *v;
            }
            Ok(Receptor::Glutamate(p))
        }
        "gaba_syn" | "gaba_syn_old" => {
            let mut p = GabaParams::default();
            for (name, v) in &r.parameters {
                let slot = match name.as_str() {
                    "e" => &mut p.e,
                    "risetime" => &mut p.risetime,
                    "decaytime" => &mut p.decaytime,
                    "decaygaba" => &mut p.decaygaba,
                    "taudgaba" => &mut p.taudgaba,
                    "facilgaba" => &mut p.facilgaba,
                    "taufgaba" => &mut p.taufgaba,
                    _ => return Err(unknown(name)),
                };
                *slot = *v;
            }
            Ok(Receptor::Gaba(p))
        }
        other => Err(setup(format!(
            "receptor mechanism `{other}` has no synapse kernel (glutamate_syn and gaba_syn do)"
        ))),
    }
}

/// The synapses of one trial: one [`Synapse`] per receptor of every active synapse of `trial`,
/// at the synapse's section and compartment-clamped `x`, with the trial's weights (the
/// receptors' slots in order; a scalar `glutamate_syn` weight leaves NMDA at 0, as in ISF),
/// release times and the receptor's delay. Coalescing is on.
pub fn synapses_from_trial_input(
    network: &crate::network::Network,
    trial: &crate::network::TrialInput,
) -> Result<SynapseSet, KernelError> {
    let mut receptors = Vec::with_capacity(network.populations.len());
    for pop in &network.populations {
        let rs = pop
            .receptors
            .iter()
            .map(|r| Ok((receptor_from_network(r)?, r.weights_ns.len(), r.delay_ms)))
            .collect::<Result<Vec<_>, KernelError>>()?;
        receptors.push(rs);
    }
    let mut set = SynapseSet {
        synapses: Vec::with_capacity(trial.n_active()),
        coalesce: true,
    };
    for a in trial.iter() {
        let rs = receptors
            .get(a.population as usize)
            .ok_or_else(|| KernelError::Setup {
                message: format!("trial input names population {}", a.population),
            })?;
        let mut w = a.weights_ns;
        for &(receptor, n_w, delay_ms) in rs {
            if w.len() < n_w || n_w > 2 {
                return Err(KernelError::Setup {
                    message: format!(
                        "population {}: receptor weights do not match the trial's weights",
                        a.population
                    ),
                });
            }
            let mut weights_ns = [0.0; 2];
            weights_ns[..n_w].copy_from_slice(&w[..n_w]);
            w = &w[n_w..];
            set.synapses.push(Synapse {
                section: a.section as usize,
                x: a.x,
                receptor,
                weights_ns,
                release_times_ms: a.release_times_ms.to_vec(),
                delay_ms,
            });
        }
    }
    Ok(set)
}
