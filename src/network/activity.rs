//! Per-trial input generation: presynaptic spike trains and release times (spec 04 §4.4–4.6).
//!
//! Randomness: every population has four independent streams seeded with
//! [`crate::rng::stream_seed`]`(trial_seed, id)` where `id` mixes a hash of the population's
//! *name* with the purpose (activity, release, weights, receptor draws; the last is split
//! further per synapse ID, receptor and event by the synapse kernel). Keying on the name rather than the
//! index means that adding, removing or reordering populations leaves the draws of all other
//! populations unchanged (paired comparisons across network variants), and that changing a
//! release probability leaves the presynaptic spike trains unchanged. A trial depends only on
//! its seed, never on thread count or order.
//!
//! Conventions (statistically equal to ISF, not draw-for-draw):
//! * Poisson ongoing activity follows ISF's ISI rule (noise, start, nspikes); spikes while
//!   t ≤ the trial end.
//! * PSTH bins: each cell spikes with probability p per bin, uniform in `offset + [a, b)`.
//!   Sparse bins are drawn by geometric jumps over the cells (one draw per spike instead of
//!   one per cell; same distribution). Evoked spikes after the trial end are kept, as in ISF.
//! * Release: each presynaptic spike passes each synapse independently with a *uniform* draw
//!   `U < p` (spec 04 §4.5). The exponential-draw pitfall of spec 00 key fact 11 concerns only
//!   the receptors ProbAMPANMDA2/ProbUDFsyn2 with `releaseProb: "dynamic"`; here every spike
//!   is then delivered and the receptor kernel decides.
//! * Synapses without release are not active (not in [`TrialInput`]).
//! * Log-normal weights (`weightDistribution`) are drawn per synapse per trial, for every
//!   synapse in ID order (as ISF assigns them even to inactive synapses).

use super::prepared::PreparedNetwork;
use super::types::{Activity, PhaseRule, Release, SingleShape, SpikeSource};
use crate::rng::Rng;
use crate::rng::{ACTIVITY, RELEASE, WEIGHTS, population_stream, stream_seed};
use rayon::prelude::*;

/// The synaptic input of one trial, structure of arrays.
///
/// Active synapse `k` is prepared synapse `synapse[k]`; its release times are
/// `release_times_ms[release_offsets[k]..release_offsets[k + 1]]` (sorted, before the
/// receptor `delay`) and its weights `weights_ns[weight_offsets[k]..weight_offsets[k + 1]]`
/// (the receptors' weight lists concatenated in receptor order). Presynaptic cell `c`
/// (global index, see [`PreparedNetwork::cell_base`]) spiked at
/// `spike_times_ms[spike_offsets[c]..spike_offsets[c + 1]]` (sorted).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TrialInput {
    /// The trial's seed.
    pub trial_seed: u64,
    /// Prepared-synapse index of each active synapse (`u32::MAX` for a replayed synapse that
    /// is not in the anatomy, see [`crate::interop::replay`]).
    pub synapse: Vec<u32>,
    /// Population index of each active synapse.
    pub population: Vec<u32>,
    /// Synapse ID within the population's type.
    pub synapse_id: Vec<u32>,
    /// Section index.
    pub section: Vec<u32>,
    /// 3-D point index (`ptID`).
    pub point: Vec<u32>,
    /// Receptor position on the section (compartment-clamped).
    pub x: Vec<f64>,
    /// Compartment index within the section.
    pub segment: Vec<u32>,
    /// Soma distance (definition 3) in µm.
    pub soma_distance_um: Vec<f64>,
    /// CSR offsets into `release_times_ms` (len = active + 1).
    pub release_offsets: Vec<u32>,
    /// Release times, ms.
    pub release_times_ms: Vec<f64>,
    /// CSR offsets into `weights_ns` (len = active + 1).
    pub weight_offsets: Vec<u32>,
    /// Event weights, nS.
    pub weights_ns: Vec<f64>,
    /// CSR offsets into `spike_times_ms` per global presynaptic cell (len = cells + 1).
    pub spike_offsets: Vec<u32>,
    /// Presynaptic spike times, ms.
    pub spike_times_ms: Vec<f64>,
    /// Source of each presynaptic spike.
    pub spike_source: Vec<SpikeSource>,
}

/// One active synapse, borrowed from a [`TrialInput`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ActiveSynapse<'a> {
    /// Population index (receptors: `network.populations[population].receptors`).
    pub population: u32,
    /// Synapse ID within the type.
    pub synapse_id: u32,
    /// Section index.
    pub section: u32,
    /// 3-D point index.
    pub point: u32,
    /// Receptor position (compartment-clamped).
    pub x: f64,
    /// Compartment index within the section.
    pub segment: u32,
    /// Soma distance in µm.
    pub soma_distance_um: f64,
    /// Weights of all receptors, concatenated, nS.
    pub weights_ns: &'a [f64],
    /// Release times, ms.
    pub release_times_ms: &'a [f64],
}

impl TrialInput {
    /// Number of active synapses.
    pub fn n_active(&self) -> usize {
        self.synapse.len()
    }

    /// Number of release events.
    pub fn n_releases(&self) -> usize {
        self.release_times_ms.len()
    }

    /// Active synapse `k`.
    pub fn get(&self, k: usize) -> ActiveSynapse<'_> {
        let r = self.release_offsets[k] as usize..self.release_offsets[k + 1] as usize;
        let w = self.weight_offsets[k] as usize..self.weight_offsets[k + 1] as usize;
        ActiveSynapse {
            population: self.population[k],
            synapse_id: self.synapse_id[k],
            section: self.section[k],
            point: self.point[k],
            x: self.x[k],
            segment: self.segment[k],
            soma_distance_um: self.soma_distance_um[k],
            weights_ns: &self.weights_ns[w],
            release_times_ms: &self.release_times_ms[r],
        }
    }

    /// All active synapses in order.
    pub fn iter(&self) -> impl Iterator<Item = ActiveSynapse<'_>> {
        (0..self.n_active()).map(|k| self.get(k))
    }

    /// Spike times of global presynaptic cell `c`.
    pub fn spikes(&self, c: usize) -> &[f64] {
        &self.spike_times_ms[self.spike_offsets[c] as usize..self.spike_offsets[c + 1] as usize]
    }

    /// Push one active synapse (used by generation and replay).
    pub(crate) fn push_synapse(&mut self, net: &PreparedNetwork, s: usize, weights: &[f64]) {
        self.synapse.push(s as u32);
        self.population.push(net.syn_population[s]);
        self.synapse_id.push(net.syn_id[s]);
        self.section.push(net.syn_section[s]);
        self.point.push(net.syn_point[s]);
        self.x.push(net.syn_x[s]);
        self.segment.push(net.syn_segment[s]);
        self.soma_distance_um.push(net.syn_soma_distance_um[s]);
        self.weights_ns.extend_from_slice(weights);
        self.weight_offsets.push(self.weights_ns.len() as u32);
        self.release_offsets
            .push(self.release_times_ms.len() as u32);
    }
}

/// Generate the presynaptic spikes and release times of one trial of `t_stop_ms`.
pub fn generate_trial(net: &PreparedNetwork, trial_seed: u64, t_stop_ms: f64) -> TrialInput {
    let mut out = TrialInput {
        trial_seed,
        release_offsets: vec![0],
        weight_offsets: vec![0],
        spike_offsets: Vec::with_capacity(net.n_cells() + 1),
        ..TrialInput::default()
    };
    out.spike_offsets.push(0);
    let mut buf: Vec<(u32, f64, SpikeSource)> = Vec::new();
    let mut counts: Vec<u32> = Vec::new();
    let mut weights: Vec<f64> = Vec::new();
    for (pi, pop) in net.network.populations.iter().enumerate() {
        // ---- presynaptic spikes of this population
        let mut rng = Rng::new(stream_seed(
            trial_seed,
            population_stream(&pop.name, ACTIVITY),
        ));
        buf.clear();
        for a in &pop.activity {
            draw_activity(a, pop.cells, t_stop_ms, &mut rng, &mut buf);
        }
        // Counting sort by cell into the global CSR, then sort each cell's few spikes.
        counts.clear();
        counts.resize(pop.cells as usize, 0);
        for &(c, _, _) in &buf {
            counts[c as usize] += 1;
        }
        let first = out.spike_times_ms.len();
        let mut pos = Vec::with_capacity(pop.cells as usize);
        let mut acc = first as u32;
        for &n in &counts {
            pos.push(acc);
            acc += n;
            out.spike_offsets.push(acc);
        }
        out.spike_times_ms.resize(acc as usize, 0.0);
        out.spike_source.resize(acc as usize, SpikeSource::Ongoing);
        for &(c, t, s) in &buf {
            let p = &mut pos[c as usize];
            out.spike_times_ms[*p as usize] = t;
            out.spike_source[*p as usize] = s;
            *p += 1;
        }
        let cell0 = net.cell_base[pi] as usize;
        for c in 0..pop.cells as usize {
            let r =
                out.spike_offsets[cell0 + c] as usize..out.spike_offsets[cell0 + c + 1] as usize;
            if r.len() > 1 {
                sort_spikes(&mut out.spike_times_ms[r.clone()], &mut out.spike_source[r]);
            }
        }
        // ---- weights and release
        let lognormal = pop.receptors.iter().any(|r| r.lognormal_weights);
        let mut wrng = lognormal.then(|| {
            Rng::new(stream_seed(
                trial_seed,
                population_stream(&pop.name, WEIGHTS),
            ))
        });
        weights.clear();
        for r in &pop.receptors {
            weights.extend_from_slice(&r.weights_ns);
        }
        let mut rrng = Rng::new(stream_seed(
            trial_seed,
            population_stream(&pop.name, RELEASE),
        ));
        let p = match pop.release {
            Release::Probability(p) => p,
            Release::Dynamic | Release::Always => 1.0,
        };
        for s in net.synapse_range[pi].clone() {
            if let Some(w) = wrng.as_mut() {
                lognormal_weights(pop, w, &mut weights);
            }
            let c = cell0 + net.syn_cell[s] as usize;
            let r = out.spike_offsets[c] as usize..out.spike_offsets[c + 1] as usize;
            let keep = net.syn_keep[s];
            let before = out.release_times_ms.len();
            for k in r {
                // Always draw for numeric probabilities, so that silencing one synapse does
                // not shift the draws of the next.
                let pass = p >= 1.0 || rrng.uniform() < p;
                if pass && keep & (1 << out.spike_source[k] as u8) != 0 {
                    out.release_times_ms.push(out.spike_times_ms[k]);
                }
            }
            if out.release_times_ms.len() > before {
                out.push_synapse(net, s, &weights);
            }
        }
    }
    out
}

/// Generate many trials in parallel (rayon); the result depends only on the seeds.
pub fn generate_trials(
    net: &PreparedNetwork,
    trial_seeds: &[u64],
    t_stop_ms: f64,
) -> Vec<TrialInput> {
    trial_seeds
        .par_iter()
        .map(|&s| generate_trial(net, s, t_stop_ms))
        .collect()
}

/// Insertion sort of one cell's spikes by time (a handful per cell), carrying the source.
fn sort_spikes(t: &mut [f64], s: &mut [SpikeSource]) {
    for i in 1..t.len() {
        let mut j = i;
        while j > 0 && t[j - 1] > t[j] {
            t.swap(j - 1, j);
            s.swap(j - 1, j);
            j -= 1;
        }
    }
}

/// ISF's log-normal weights (spec 04 §4.6): mean m, SD m² (σ_ln² = ln(1 + m²)).
fn lognormal_weights(pop: &super::types::Population, rng: &mut Rng, out: &mut Vec<f64>) {
    out.clear();
    for r in &pop.receptors {
        for &m in &r.weights_ns {
            if r.lognormal_weights && m > 0.0 {
                let s2 = (1.0 + m * m).ln();
                let mu = m.ln() - s2 / 2.0;
                out.push((mu + s2.sqrt() * rng.normal()).exp());
            } else {
                out.push(m);
            }
        }
    }
}

/// An upper estimate of the spikes (or, for `modulated`, rate bins) that one generator draws
/// for `cells` cells in a trial of `t_stop_ms`: checked before a trial runs, because the
/// counts come from files and scripts (`nspikes`, a PSTH's cells per bin, a tiny interval or
/// bin) and are allocated as drawn. Activities bounded by their own list sizes count as 0.
pub fn spike_estimate(a: &Activity, cells: u32, t_stop_ms: f64) -> f64 {
    let cells = f64::from(cells);
    match a {
        Activity::Poisson {
            interval_ms,
            start_ms,
            stop_ms,
            nspikes,
            ..
        } => match nspikes {
            Some(k) => cells * f64::from(*k),
            None => {
                cells * ((stop_ms.unwrap_or(t_stop_ms) - start_ms).max(0.0) / interval_ms + 1.0)
            }
        },
        Activity::PsthAbsolute { bins, .. } => bins.iter().map(|b| f64::from(b.2)).sum(),
        Activity::Modulated {
            bin_ms,
            offset_ms,
            mean_rate_hz,
            max_modulation,
            ..
        } => {
            let duration = (t_stop_ms - offset_ms).max(0.0);
            let bins = duration / bin_ms;
            let spikes = cells * mean_rate_hz * (1.0 + max_modulation) * t_stop_ms / 1000.0;
            bins.max(spikes)
        }
        _ => 0.0,
    }
}

/// Append `(cell, time, source)` for every spike of one generator.
fn draw_activity(
    a: &Activity,
    cells: u32,
    t_stop_ms: f64,
    rng: &mut Rng,
    out: &mut Vec<(u32, f64, SpikeSource)>,
) {
    match a {
        Activity::Poisson {
            interval_ms,
            noise,
            start_ms,
            stop_ms,
            nspikes,
        } => {
            let stop = stop_ms.unwrap_or(t_stop_ms);
            let det = (1.0 - noise) * interval_ms;
            for c in 0..cells {
                let isi = |rng: &mut Rng| {
                    if *noise == 0.0 {
                        *interval_ms
                    } else {
                        det + noise * interval_ms * rng.exp1()
                    }
                };
                let mut t = (start_ms + isi(rng) - det).max(0.0);
                let mut n = 0u32;
                loop {
                    match nspikes {
                        Some(k) if n >= *k => break,
                        None if t > stop => break,
                        _ => {}
                    }
                    out.push((c, t, SpikeSource::Ongoing));
                    n += 1;
                    t += isi(rng);
                }
            }
        }
        Activity::Psth { bins, offset_ms } => {
            for b in bins {
                let w = b.end_ms - b.begin_ms;
                let t0 = offset_ms + b.begin_ms;
                bernoulli_cells(b.probability, cells, rng, |c, rng| {
                    out.push((c, t0 + w * rng.uniform(), SpikeSource::Psth));
                });
            }
        }
        Activity::PsthAbsolute { bins, offset_ms } => {
            let mut idx: Vec<u32> = Vec::new();
            for &(b0, b1, n) in bins {
                let t0 = offset_ms + b0;
                if n > cells {
                    for _ in 0..n {
                        if cells == 0 {
                            break;
                        }
                        let c = rng.below(u64::from(cells)) as u32;
                        out.push((c, t0 + (b1 - b0) * rng.uniform(), SpikeSource::PointCell));
                    }
                } else {
                    // Partial Fisher–Yates: n distinct cells.
                    idx.clear();
                    idx.extend(0..cells);
                    for i in 0..n as usize {
                        let j = i + rng.below((cells as usize - i) as u64) as usize;
                        idx.swap(i, j);
                        out.push((
                            idx[i],
                            t0 + (b1 - b0) * rng.uniform(),
                            SpikeSource::PointCell,
                        ));
                    }
                }
            }
        }
        Activity::Single {
            active_fraction,
            shape,
            offset_ms,
        } => {
            bernoulli_cells(*active_fraction, cells, rng, |c, rng| {
                let t = match *shape {
                    SingleShape::Normal { mean_ms, sd_ms } => mean_ms + sd_ms * rng.normal(),
                    SingleShape::Uniform { window_ms } => window_ms * rng.uniform(),
                    SingleShape::LogNormal { mu, sigma } => (mu + sigma * rng.normal()).exp(),
                };
                out.push((c, (offset_ms + t).max(0.1), SpikeSource::PointCell));
            });
        }
        Activity::PiecewisePoisson { segments } => {
            for c in 0..cells {
                piecewise(segments.iter().copied(), c, rng, out);
            }
        }
        Activity::Modulated {
            rate_before_offset_hz,
            mean_rate_hz,
            max_modulation,
            frequency_hz,
            bin_ms,
            phase,
            offset_ms,
        } => {
            let duration = t_stop_ms - offset_ms;
            let n = ((duration / bin_ms).ceil().max(1.0)) as usize;
            let mut edges: Vec<f64> = (0..=n).map(|i| offset_ms + i as f64 * bin_ms).collect();
            edges[0] = 0.0;
            edges[n] = t_stop_ms;
            let span = std::f64::consts::TAU * duration * frequency_hz / 1000.0;
            for c in 0..cells {
                let ph = match *phase {
                    PhaseRule::Uniform => std::f64::consts::TAU * rng.uniform(),
                    PhaseRule::Normal { mean, sd } => mean + sd * rng.normal(),
                    PhaseRule::Zero => 0.0,
                };
                let segs = (0..n).map(|i| {
                    // numpy linspace(0, span, n)
                    let arg = if n > 1 {
                        span * i as f64 / (n - 1) as f64
                    } else {
                        0.0
                    };
                    let rate = if i == 0 {
                        *rate_before_offset_hz
                    } else {
                        mean_rate_hz * (1.0 + max_modulation * (arg + ph).sin())
                    };
                    (edges[i], edges[i + 1], rate.max(0.0))
                });
                piecewise(segs, c, rng, out);
            }
        }
        Activity::SpikeTimes { times_ms } => {
            for c in 0..cells {
                for &t in times_ms {
                    out.push((c, t, SpikeSource::Explicit));
                }
            }
        }
    }
}

/// Homogeneous Poisson spikes of `rate_hz` within each `[begin, end)` segment.
fn piecewise(
    segs: impl Iterator<Item = (f64, f64, f64)>,
    c: u32,
    rng: &mut Rng,
    out: &mut Vec<(u32, f64, SpikeSource)>,
) {
    for (b0, b1, r) in segs {
        if r <= 0.0 {
            continue;
        }
        let mean_isi = 1000.0 / r;
        let mut t = b0 + mean_isi * rng.exp1();
        while t < b1 {
            out.push((c, t, SpikeSource::PointCell));
            t += mean_isi * rng.exp1();
        }
    }
}

/// Call `f` for each of `cells` cells that succeeds a Bernoulli(p) trial, in cell order.
fn bernoulli_cells(p: f64, cells: u32, rng: &mut Rng, mut f: impl FnMut(u32, &mut Rng)) {
    if p <= 0.0 || cells == 0 {
        return;
    }
    if p >= 1.0 {
        for c in 0..cells {
            f(c, rng);
        }
        return;
    }
    let lq = (-p).ln_1p();
    let mut c = rng.geometric(lq);
    while c < u64::from(cells) {
        f(c as u32, rng);
        c = c.saturating_add(1).saturating_add(rng.geometric(lq));
    }
}
