//! The raised-cosine GLM reduced model (spec 07 §7.8, ISF's
//! `modular_reduced_model_inference`, Bast et al. 2024): a separable spatiotemporal filter per
//! input group, fitted by maximising ROC-AUC with COBYLA, a lookup-table nonlinearity with bin
//! merging, an ISI penalty, and a Bernoulli simulator of the reduced cell.
//!
//! **Weighted net input.** For a group g (e.g. `EXC`, `INH`) with spatiotemporally binned
//! activations `SA_g[z, b]` (soma-distance bin z, time bin b), spatial filter
//! `w_z = Σ_j y_j g_j` and temporal filter `w_t = Σ_i x_i f_i` (raised-cosine bases, see
//! [`super::cosine`]), the net input *for output bin t* is
//! `WNI(t) = Σ_g Σ_z Σ_τ w_z,g(z)·w_t,g(τ)·SA_g[z, t − W + τ]` with τ = 0 … W−1 (W = temporal
//! width): it uses the W bins **before** t, the last filter element weighting bin t−1 (the
//! spec writes the window as ending at t; we end it one bin earlier so that prediction is
//! causal, as the LDA kernel's rolling prediction in §7.6 is). Input before bin 0 counts as
//! zero. Distance bins beyond the spatial width are ignored (the tutorial's 30 × 50 µm).
//!
//! **Fit.** Target: spike in the output window `[tmin, tmax)`; the net input is that of output
//! bin `tmax` (input window `[tmax − W, tmax)`, the same as the LDA kernel's default
//! `[185, 265)`). Trials with a spike in the refractory window `[tmin − R, tmin)` are left out.
//! For each of `n_splits` stratified train/test splits, COBYLA minimises −AUC on the training
//! trials from `n_starts` random initial weights in [−1, 1); a split keeps its start with the
//! best training AUC, and the model keeps the split with the best training AUC (chosen without
//! looking at test trials, so its test AUC is an honest held-back figure). Splits and starts
//! come from the seeded counter-based streams (`network::rng`, `run::stream_seed`), and every
//! (split, start) job is independent, so the fit is identical for any number of threads.
//!
//! **Scale.** AUC fixes the filters only up to a positive factor and the separable product up
//! to moving a factor between `w_z` and `w_t`. We make them unique: each group's spatial
//! filter gets max |w_z| = 1 with a positive largest entry, and all temporal filters are scaled
//! together so that the net input has standard deviation `wni_sd` over the training trials
//! (the LUT's integer resolution and `lut_step` then mean the same for every fit).
//!
//! **Nonlinearities.** `lut_window`: P(spike in the output window | WNI), from the training
//! trials of the chosen split. `lut_bin`: P(spike in bin t | WNI(t)) over every bin t from
//! `rolling_from_ms` on, using bins with no spike in the previous `isi_bins` bins. Both are
//! built as §7.8 says: WNI binned by `lut_step`, adjacent bins merged until each holds at least
//! `lut_min_trials` samples, linear interpolation between merged-bin midpoints over an integer
//! index range extended by 30 % of the span on both sides (held constant beyond the outer
//! midpoints); lookup is `LUT[round(WNI)]` clipped to the index range on both sides.
//! `penalty[d]` (d = 1 … `isi_bins` bins since the last spike) is the integer shift of the net
//! input that maximises the Bernoulli likelihood of the bins d after a spike under `lut_bin`.
//!
//! **Simulator.** Per trial and bin t from `rolling_from_ms` on: WNI(t), minus `penalty[d]`
//! when the simulated cell spiked d ≤ `isi_bins` bins before, p = `lut_bin`, one Bernoulli draw
//! from the trial's own stream.

use super::cosine::RaisedCosine;
use crate::diagnostics::{Code, Diagnostic};
use crate::rng::Rng;
use crate::rng::stream_seed;
use crate::store::{Column, Store};
use ndarray::{Array2, Array3};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

/// Errors of the GLM: coded diagnostics (E0916 input, E0917 windows, E0918 classes, E0919
/// parameters).
pub type GlmError = Diagnostic;

/// Stream numbers (offsets of `stream_seed`) of the splits and the random starts.
const SPLIT_STREAM: u64 = 0x5100_0000;
const START_STREAM: u64 = 0x5200_0000;

/// What the GLM is fitted on: per-trial spike times and per-group binned activations.
#[derive(Clone, Debug)]
pub struct GlmInputs {
    /// Group names (e.g. `EXC`, `INH`), one per activation array.
    pub groups: Vec<String>,
    /// Per group: activation counts, trials × soma-distance bins × time bins (bin b covers
    /// `[b·bin_ms, (b+1)·bin_ms)`).
    pub activations: Vec<Array3<f64>>,
    /// Somatic spike times per trial, ms.
    pub spikes: Vec<Vec<f64>>,
    /// Time bin width, ms.
    pub bin_ms: f64,
    /// Trial labels (`p000000/t000012`), for messages and stored models.
    pub labels: Vec<String>,
}

fn input_err(m: impl Into<String>) -> Diagnostic {
    Diagnostic::new(Code::E0916, m)
}
fn window_err(m: impl Into<String>) -> Diagnostic {
    Diagnostic::new(Code::E0917, m)
}
fn class_err(m: impl Into<String>) -> Diagnostic {
    Diagnostic::new(Code::E0918, m)
}
fn param_err(m: impl Into<String>) -> Diagnostic {
    Diagnostic::new(Code::E0919, m)
}

impl GlmInputs {
    /// Number of trials.
    pub fn n_trials(&self) -> usize {
        self.spikes.len()
    }

    /// Number of time bins.
    pub fn n_bins(&self) -> usize {
        self.activations.first().map_or(0, |a| a.shape()[2])
    }

    /// Recorded (binned) duration, ms.
    pub fn duration_ms(&self) -> f64 {
        self.n_bins() as f64 * self.bin_ms
    }

    /// Consistent shapes: at least one group, one trial, one bin; every array with the same
    /// trials and bins; finite non-negative counts.
    pub fn check(&self) -> Result<(), GlmError> {
        if self.groups.is_empty() || self.groups.len() != self.activations.len() {
            return Err(input_err(format!(
                "{} group names for {} activation arrays (at least one needed)",
                self.groups.len(),
                self.activations.len()
            )));
        }
        if !(self.bin_ms > 0.0 && self.bin_ms.is_finite()) {
            return Err(input_err(format!(
                "bin width {} ms is not positive",
                self.bin_ms
            )));
        }
        let n = self.n_trials();
        if n == 0 || self.n_bins() == 0 {
            return Err(input_err("no trials or no time bins"));
        }
        if self.labels.len() != n {
            return Err(input_err(format!(
                "{} trial labels for {n} trials",
                self.labels.len()
            )));
        }
        for (g, a) in self.groups.iter().zip(&self.activations) {
            let s = a.shape();
            if s[0] != n || s[2] != self.n_bins() || s[1] == 0 {
                return Err(input_err(format!(
                    "group {g}: activations of shape {s:?}, expected [{n}, >0, {}]",
                    self.n_bins()
                )));
            }
            if a.iter().any(|v| !(v.is_finite() && *v >= 0.0)) {
                return Err(input_err(format!(
                    "group {g}: activation counts must be finite and ≥ 0"
                )));
            }
        }
        Ok(())
    }

    /// Spike matrix, trials × time bins (1 where the trial spiked in the bin).
    pub fn spike_matrix(&self) -> Array2<u8> {
        let mut m = Array2::zeros((self.n_trials(), self.n_bins()));
        for (i, sp) in self.spikes.iter().enumerate() {
            for &s in sp {
                let b = (s / self.bin_ms).floor();
                if b >= 0.0 && (b as usize) < self.n_bins() {
                    m[[i, b as usize]] = 1;
                }
            }
        }
        m
    }
}

/// Settings of a fit (defaults: the spec's tutorial settings and the LDA kernel's windows).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GlmConfig {
    /// Temporal basis (width in time bins).
    pub temporal: RaisedCosine,
    /// Spatial basis (width in soma-distance bins).
    pub spatial: RaisedCosine,
    /// Output window `[tmin, tmax)`, ms (multiples of the bin width).
    pub output_window_ms: [f64; 2],
    /// Trials with a spike in `[tmin − R, tmin)` are left out of the fit (ms, 0 = none).
    pub refractory_ms: f64,
    /// Number of stratified train/test splits.
    pub n_splits: usize,
    /// Random starts per split.
    pub n_starts: usize,
    /// Fraction of each class held back for testing.
    pub test_size: f64,
    /// COBYLA's limit on objective evaluations per start.
    pub max_eval: usize,
    /// COBYLA's initial step (rhobeg).
    pub rho_begin: f64,
    /// COBYLA's final step relative to the initial one (rhoend = `xtol_rel`·rhobeg).
    pub xtol_rel: f64,
    /// LUT binning step in net-input units (spec: 3).
    pub lut_step: f64,
    /// Samples a merged LUT bin needs at least (spec: 10).
    pub lut_min_trials: usize,
    /// Standard deviation of the net input over the training trials after scaling.
    pub wni_sd: f64,
    /// Length of the ISI penalty, bins (spec: the 80 bins of the temporal filter).
    pub isi_bins: usize,
    /// First output bin of the rolling LUT, the ISI penalty and the simulator, ms (default:
    /// the temporal width, so that every window lies inside the recording).
    pub rolling_from_ms: Option<f64>,
}

impl Default for GlmConfig {
    fn default() -> GlmConfig {
        GlmConfig {
            temporal: RaisedCosine::temporal_default(),
            spatial: RaisedCosine::spatial_default(),
            output_window_ms: [255.0, 265.0],
            refractory_ms: 0.0,
            n_splits: 3,
            n_starts: 4,
            test_size: 0.4,
            max_eval: 3000,
            rho_begin: 0.5,
            xtol_rel: 1e-3,
            lut_step: 3.0,
            lut_min_trials: 10,
            wni_sd: 30.0,
            isi_bins: 80,
            rolling_from_ms: None,
        }
    }
}

/// `x / bin` as a whole number of bins, if it is one.
fn whole_bins(x: f64, bin: f64) -> Option<usize> {
    let b = x / bin;
    let r = b.round();
    ((b - r).abs() < 1e-9 && r >= 0.0).then_some(r as usize)
}

/// The validated windows of a fit, in bins.
#[derive(Clone, Copy, Debug)]
struct Windows {
    out_min: usize,
    out_max: usize,
    refractory: usize,
    rolling_from: usize,
}

impl GlmConfig {
    /// Check the settings against the inputs (E0919 bad settings, E0917 windows outside the
    /// recording).
    fn windows(&self, inp: &GlmInputs) -> Result<Windows, GlmError> {
        for (what, b) in [("temporal", &self.temporal), ("spatial", &self.spatial)] {
            if let Some(p) = b.problem() {
                return Err(param_err(format!("{what} basis: {p}")));
            }
        }
        let bad = |c: bool, m: &str| {
            if c {
                Err(param_err(m.to_string()))
            } else {
                Ok(())
            }
        };
        bad(self.n_splits == 0, "n_splits must be at least 1")?;
        bad(self.n_starts == 0, "n_starts must be at least 1")?;
        bad(
            !(self.test_size > 0.0 && self.test_size < 1.0),
            "test_size must lie in (0, 1)",
        )?;
        bad(self.max_eval < 2, "max_eval must be at least 2")?;
        bad(
            !(self.rho_begin > 0.0 && self.rho_begin.is_finite()),
            "rho_begin must be positive",
        )?;
        bad(
            !(self.xtol_rel > 0.0 && self.xtol_rel < 1.0),
            "xtol_rel must lie in (0, 1)",
        )?;
        bad(
            !(self.lut_step > 0.0 && self.lut_step.is_finite()),
            "lut_step must be positive",
        )?;
        bad(
            self.lut_min_trials == 0,
            "lut_min_trials must be at least 1",
        )?;
        bad(
            !(self.wni_sd > 0.0 && self.wni_sd.is_finite()),
            "wni_sd must be positive",
        )?;
        let bin = inp.bin_ms;
        let [tmin, tmax] = self.output_window_ms;
        let (Some(out_min), Some(out_max)) = (whole_bins(tmin, bin), whole_bins(tmax, bin)) else {
            return Err(window_err(format!(
                "output window [{tmin}, {tmax}) ms is not made of whole {bin} ms bins from 0"
            )));
        };
        let Some(refractory) = whole_bins(self.refractory_ms, bin) else {
            return Err(window_err(format!(
                "refractory period {} ms is not a whole number of {bin} ms bins",
                self.refractory_ms
            )));
        };
        let dur = inp.duration_ms();
        if out_min >= out_max || out_max > inp.n_bins() {
            return Err(window_err(format!(
                "output window [{tmin}, {tmax}) ms must be non-empty and inside the recorded \
                 0–{dur} ms"
            )));
        }
        let w = self.temporal.width;
        if out_max < w {
            return Err(window_err(format!(
                "the synaptic window [{}, {tmax}) ms ({w} bins before the output window's end) \
                 starts before the recording",
                tmax - w as f64 * bin
            )));
        }
        if refractory > out_min {
            return Err(window_err(format!(
                "the refractory window [{}, {tmin}) ms starts before the recording",
                tmin - self.refractory_ms
            )));
        }
        let rolling_from = match self.rolling_from_ms {
            None => w,
            Some(t) => whole_bins(t, bin).ok_or_else(|| {
                window_err(format!("rolling_from_ms {t} is not a whole number of bins"))
            })?,
        };
        if rolling_from >= inp.n_bins() {
            return Err(window_err(format!(
                "rolling_from_ms {} lies outside the recorded 0–{dur} ms",
                rolling_from as f64 * bin
            )));
        }
        Ok(Windows {
            out_min,
            out_max,
            refractory,
            rolling_from,
        })
    }
}

/// One input group's fitted filters.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GroupFilter {
    /// Group name.
    pub group: String,
    /// Temporal basis coefficients `x_i`.
    pub temporal_coeffs: Vec<f64>,
    /// Spatial basis coefficients `y_j`.
    pub spatial_coeffs: Vec<f64>,
    /// `w_t(τ)`, τ = 0 … W−1 (the last element weights the bin just before the output bin).
    pub temporal: Vec<f64>,
    /// `w_z(z)`, per soma-distance bin.
    pub spatial: Vec<f64>,
}

/// The fit of one train/test split.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SplitFit {
    /// COBYLA's best parameters (unscaled, per group: temporal then spatial coefficients).
    pub params: Vec<f64>,
    /// The random start that gave them.
    pub start: usize,
    /// AUC of the net input on the training trials.
    pub train_auc: f64,
    /// AUC of the net input on the held-back trials.
    pub test_auc: f64,
    /// Training AUC of every start.
    pub start_aucs: Vec<f64>,
    /// Objective evaluations of every start.
    pub start_evals: Vec<usize>,
}

/// A lookup table from integer net input to a probability.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Lut {
    /// Net input of the first entry.
    pub first: i64,
    /// Probabilities at `first`, `first + 1`, ….
    pub values: Vec<f64>,
    /// The merged bins: (lower edge, upper edge, samples, spikes).
    pub bins: Vec<(f64, f64, usize, usize)>,
}

impl Lut {
    /// Build from (net input, outcome) samples: bins of `step`, adjacent bins merged until
    /// each holds `min` samples (a short remainder joins the last bin), interpolation between
    /// merged-bin midpoints over the span extended by 30 % on both sides.
    pub fn build(samples: &[(f64, bool)], step: f64, min: usize) -> Option<Lut> {
        let mut raw: std::collections::BTreeMap<i64, (usize, usize)> = Default::default();
        for &(w, y) in samples {
            let e = raw.entry((w / step).floor() as i64).or_default();
            e.0 += 1;
            e.1 += y as usize;
        }
        let mut bins: Vec<(f64, f64, usize, usize)> = Vec::new();
        let mut cur: Option<(i64, i64, usize, usize)> = None;
        for (&k, &(n, s)) in &raw {
            let c = cur.get_or_insert((k, k, 0, 0));
            c.1 = k;
            c.2 += n;
            c.3 += s;
            if c.2 >= min {
                bins.push((c.0 as f64 * step, (c.1 + 1) as f64 * step, c.2, c.3));
                cur = None;
            }
        }
        if let Some(c) = cur {
            match bins.last_mut() {
                Some(last) => {
                    last.1 = (c.1 + 1) as f64 * step;
                    last.2 += c.2;
                    last.3 += c.3;
                }
                None => bins.push((c.0 as f64 * step, (c.1 + 1) as f64 * step, c.2, c.3)),
            }
        }
        if bins.is_empty() {
            return None;
        }
        let mids: Vec<(f64, f64)> = bins
            .iter()
            .map(|&(lo, hi, n, s)| (0.5 * (lo + hi), s as f64 / n as f64))
            .collect();
        let (m0, m1) = (mids[0].0, mids[mids.len() - 1].0);
        let span = m1 - m0;
        let first = (m0 - 0.3 * span).floor() as i64;
        let last = (m1 + 0.3 * span).ceil() as i64;
        let values = (first..=last)
            .map(|i| {
                let x = i as f64;
                if x <= m0 {
                    return mids[0].1;
                }
                if x >= m1 {
                    return mids[mids.len() - 1].1;
                }
                let j = mids.partition_point(|m| m.0 <= x);
                let ((xa, pa), (xb, pb)) = (mids[j - 1], mids[j]);
                pa + (pb - pa) * (x - xa) / (xb - xa)
            })
            .collect();
        Some(Lut {
            first,
            values,
            bins,
        })
    }

    /// `LUT[round(wni)]`, the index clipped to the table on both sides.
    pub fn lookup(&self, wni: f64) -> f64 {
        let last = self.first + self.values.len() as i64 - 1;
        let i = if wni.is_nan() {
            self.first
        } else {
            (wni.round() as i64).clamp(self.first, last)
        };
        self.values[(i - self.first) as usize]
    }
}

/// ROC-AUC of `scores` for the positive class (Mann–Whitney with mid-ranks for ties); NaN
/// when a class is empty.
pub fn roc_auc(scores: &[f64], labels: &[bool]) -> f64 {
    let n = scores.len();
    let mut idx: Vec<usize> = (0..n).collect();
    idx.sort_by(|&a, &b| scores[a].total_cmp(&scores[b]));
    let (mut rank_sum, mut n1) = (0.0, 0usize);
    let mut i = 0;
    while i < n {
        let mut j = i + 1;
        while j < n && scores[idx[j]] == scores[idx[i]] {
            j += 1;
        }
        // Ranks i+1 … j share their mean.
        let r = 0.5 * ((i + 1) + j) as f64;
        for &k in &idx[i..j] {
            if labels[k] {
                rank_sum += r;
                n1 += 1;
            }
        }
        i = j;
    }
    let n0 = n - n1;
    (rank_sum - (n1 * (n1 + 1)) as f64 / 2.0) / (n1 as f64 * n0 as f64)
}

/// A fitted GLM reduced model.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GlmModel {
    /// The settings it was fitted with.
    pub config: GlmConfig,
    /// Time bin width of the inputs, ms.
    pub bin_ms: f64,
    /// The seed of the fit.
    pub seed: u64,
    /// Filters per group (scaled, see the module text).
    pub filters: Vec<GroupFilter>,
    /// Every split's fit.
    pub splits: Vec<SplitFit>,
    /// The split whose filters the model uses (best training AUC).
    pub chosen_split: usize,
    /// Held-back AUC of the net input of the chosen split.
    pub test_auc: f64,
    /// Held-back AUC of `lut_window`'s probability (LUT built on the training trials).
    pub test_auc_lut: f64,
    /// Labels of the chosen split's held-back trials.
    pub test_trials: Vec<String>,
    /// P(spike in the output window | WNI).
    pub lut_window: Lut,
    /// P(spike in a bin | WNI), bins without a spike in the previous `isi_bins` bins.
    pub lut_bin: Lut,
    /// `penalty[d − 1]` is subtracted from the net input d bins after a spike.
    pub penalty: Vec<f64>,
    /// Trials left out for a spike in the refractory window.
    pub excluded_refractory: usize,
}

/// Per-trial projections of the activations onto the bases for the static net input:
/// `P[g][j][i] = Σ_z Σ_τ g_j(z)·f_i(τ)·SA_g[z, out_max − W + τ]`, flattened.
fn projections(
    inp: &GlmInputs,
    cfg: &GlmConfig,
    trials: &[usize],
    out_bin: usize,
) -> Vec<Vec<f64>> {
    let ft = cfg.temporal.matrix();
    let gz = cfg.spatial.matrix();
    let w = cfg.temporal.width;
    let (nt, nz) = (ft.len(), gz.len());
    trials
        .par_iter()
        .map(|&k| {
            let mut out = Vec::with_capacity(inp.groups.len() * nt * nz);
            for a in &inp.activations {
                let zmax = a.shape()[1].min(cfg.spatial.width);
                // A[z][i] = Σ_τ SA[z, out − W + τ]·f_i(τ) (input before bin 0 is zero).
                let mut az = vec![0.0; zmax * nt];
                for z in 0..zmax {
                    for tau in 0..w {
                        let b = out_bin as isize - w as isize + tau as isize;
                        if b < 0 {
                            continue;
                        }
                        let v = a[[k, z, b as usize]];
                        if v != 0.0 {
                            for (acc, fi) in az[z * nt..(z + 1) * nt].iter_mut().zip(&ft) {
                                *acc += v * fi[tau];
                            }
                        }
                    }
                }
                for gj in &gz {
                    for i in 0..nt {
                        out.push((0..zmax).map(|z| gj[z] * az[z * nt + i]).sum::<f64>());
                    }
                }
            }
            out
        })
        .collect()
}

/// Net input from projections and parameters (per group: temporal then spatial coefficients).
fn wni_of(p: &[f64], params: &[f64], nt: usize, nz: usize) -> f64 {
    let per = nt + nz;
    let mut s = 0.0;
    for g in 0..params.len() / per {
        let x = &params[g * per..g * per + nt];
        let y = &params[g * per + nt..(g + 1) * per];
        let pg = &p[g * nt * nz..(g + 1) * nt * nz];
        for (j, yj) in y.iter().enumerate() {
            let row = &pg[j * nt..(j + 1) * nt];
            s += yj * row.iter().zip(x).map(|(a, b)| a * b).sum::<f64>();
        }
    }
    s
}

/// Stratified split of `trials` (indices into the fit's trial list) by the split's stream:
/// (train, test), each class shuffled and `test_size` of it (rounded, at least one) held back.
fn split(y: &[bool], test_size: f64, seed: u64, s: usize) -> (Vec<usize>, Vec<usize>) {
    let mut rng = Rng::new(stream_seed(seed, SPLIT_STREAM + s as u64));
    let (mut train, mut test) = (Vec::new(), Vec::new());
    for class in [true, false] {
        let mut idx: Vec<usize> = (0..y.len()).filter(|&i| y[i] == class).collect();
        // Fisher–Yates.
        for i in (1..idx.len()).rev() {
            let j = rng.below(i as u64 + 1) as usize;
            idx.swap(i, j);
        }
        let n_test = ((idx.len() as f64 * test_size).round() as usize).clamp(1, idx.len() - 1);
        test.extend_from_slice(&idx[..n_test]);
        train.extend_from_slice(&idx[n_test..]);
    }
    train.sort_unstable();
    test.sort_unstable();
    (train, test)
}

/// Fit the GLM (see the module text). `seed` fixes the splits and the random starts.
pub fn fit(inputs: &GlmInputs, cfg: &GlmConfig, seed: u64) -> Result<GlmModel, GlmError> {
    inputs.check()?;
    let win = cfg.windows(inputs)?;
    let bin = inputs.bin_ms;
    let in_window = |sp: &[f64], a: usize, b: usize| {
        sp.iter()
            .any(|&s| s >= a as f64 * bin && s < b as f64 * bin)
    };
    let mut trials = Vec::new();
    let mut y = Vec::new();
    for (k, sp) in inputs.spikes.iter().enumerate() {
        if win.refractory > 0 && in_window(sp, win.out_min - win.refractory, win.out_min) {
            continue;
        }
        trials.push(k);
        y.push(in_window(sp, win.out_min, win.out_max));
    }
    let excluded_refractory = inputs.n_trials() - trials.len();
    let n1 = y.iter().filter(|&&v| v).count();
    let n0 = y.len() - n1;
    let [tmin, tmax] = cfg.output_window_ms;
    if n1 < 2 || n0 < 2 {
        return Err(class_err(format!(
            "{n1} trials spike in the output window [{tmin}, {tmax}) ms and {n0} do not \
             ({excluded_refractory} left out as refractory): each class needs at least 2 \
             trials (one to train on, one to test)"
        )));
    }
    let proj = projections(inputs, cfg, &trials, win.out_max);
    let (nt, nz, ng) = (cfg.temporal.len(), cfg.spatial.len(), inputs.groups.len());
    let n_par = ng * (nt + nz);
    let splits: Vec<(Vec<usize>, Vec<usize>)> = (0..cfg.n_splits)
        .map(|s| split(&y, cfg.test_size, seed, s))
        .collect();
    let jobs: Vec<(usize, usize)> = (0..cfg.n_splits)
        .flat_map(|s| (0..cfg.n_starts).map(move |r| (s, r)))
        .collect();
    let results: Vec<(Vec<f64>, f64, usize)> = jobs
        .par_iter()
        .map(|&(s, r)| {
            let train = &splits[s].0;
            let mut rng = Rng::new(stream_seed(
                seed,
                START_STREAM + (s * cfg.n_starts + r) as u64,
            ));
            let x0: Vec<f64> = (0..n_par).map(|_| 2.0 * rng.uniform() - 1.0).collect();
            let labels: Vec<bool> = train.iter().map(|&i| y[i]).collect();
            let evals = std::cell::Cell::new(0usize);
            // `minimize` takes an `Fn`, so the scores are collected afresh per evaluation.
            let objective = |x: &[f64], _: &mut ()| -> f64 {
                evals.set(evals.get() + 1);
                let sc: Vec<f64> = train.iter().map(|&i| wni_of(&proj[i], x, nt, nz)).collect();
                -roc_auc(&sc, &labels)
            };
            let cons: Vec<&dyn cobyla::Func<()>> = Vec::new();
            let bounds = vec![(f64::NEG_INFINITY, f64::INFINITY); n_par];
            let tol = cobyla::StopTols {
                xtol_rel: cfg.xtol_rel,
                ..Default::default()
            };
            let out = cobyla::minimize(
                objective,
                &x0,
                &bounds,
                &cons,
                (),
                cfg.max_eval,
                cobyla::RhoBeg::All(cfg.rho_begin),
                Some(tol),
            );
            // A COBYLA failure (e.g. round-off limited) still returns its best point.
            let (x, f) = match out {
                Ok((_, x, f)) | Err((_, x, f)) => (x, f),
            };
            let (x, auc) = if f.is_finite() {
                (x, -f)
            } else {
                (x0, f64::NAN)
            };
            (x, auc, evals.get())
        })
        .collect();
    let mut split_fits = Vec::with_capacity(cfg.n_splits);
    for (s, (_, test)) in splits.iter().enumerate() {
        let mine = &results[s * cfg.n_starts..(s + 1) * cfg.n_starts];
        let best = (0..cfg.n_starts)
            .reduce(|a, b| if mine[b].1 > mine[a].1 { b } else { a })
            .expect("n_starts ≥ 1");
        let params = mine[best].0.clone();
        let sc: Vec<f64> = test
            .iter()
            .map(|&i| wni_of(&proj[i], &params, nt, nz))
            .collect();
        let lab: Vec<bool> = test.iter().map(|&i| y[i]).collect();
        split_fits.push(SplitFit {
            test_auc: roc_auc(&sc, &lab),
            train_auc: mine[best].1,
            params,
            start: best,
            start_aucs: mine.iter().map(|m| m.1).collect(),
            start_evals: mine.iter().map(|m| m.2).collect(),
        });
    }
    let chosen = (0..cfg.n_splits)
        .reduce(|a, b| {
            if split_fits[b].train_auc > split_fits[a].train_auc {
                b
            } else {
                a
            }
        })
        .expect("n_splits ≥ 1");
    let (train, test) = &splits[chosen];

    // Canonical scale: max |w_z| = 1 with a positive largest entry per group, then the net
    // input's SD over the training trials = wni_sd.
    let mut params = split_fits[chosen].params.clone();
    let per = nt + nz;
    for g in 0..ng {
        let wz = cfg.spatial.filter(&params[g * per + nt..(g + 1) * per]);
        let m = wz
            .iter()
            .copied()
            .reduce(|a, b| if b.abs() > a.abs() { b } else { a })
            .unwrap_or(0.0);
        if m != 0.0 && m.is_finite() {
            for v in &mut params[g * per + nt..(g + 1) * per] {
                *v /= m;
            }
            for v in &mut params[g * per..g * per + nt] {
                *v *= m;
            }
        }
    }
    let train_wni: Vec<f64> = train
        .iter()
        .map(|&i| wni_of(&proj[i], &params, nt, nz))
        .collect();
    let (_, sd) = crate::analysis::mean_sd(&train_wni);
    if sd > 0.0 && sd.is_finite() {
        let k = cfg.wni_sd / sd;
        for g in 0..ng {
            for v in &mut params[g * per..g * per + nt] {
                *v *= k;
            }
        }
    }
    let filters: Vec<GroupFilter> = (0..ng)
        .map(|g| {
            let x = params[g * per..g * per + nt].to_vec();
            let yv = params[g * per + nt..(g + 1) * per].to_vec();
            GroupFilter {
                group: inputs.groups[g].clone(),
                temporal: cfg.temporal.filter(&x),
                spatial: cfg.spatial.filter(&yv),
                temporal_coeffs: x,
                spatial_coeffs: yv,
            }
        })
        .collect();

    let samples: Vec<(f64, bool)> = train
        .iter()
        .map(|&i| (wni_of(&proj[i], &params, nt, nz), y[i]))
        .collect();
    let lut_window = Lut::build(&samples, cfg.lut_step, cfg.lut_min_trials)
        .ok_or_else(|| class_err("no training trials for the lookup table"))?;
    let test_p: Vec<f64> = test
        .iter()
        .map(|&i| lut_window.lookup(wni_of(&proj[i], &params, nt, nz)))
        .collect();
    let test_lab: Vec<bool> = test.iter().map(|&i| y[i]).collect();
    let test_auc_lut = roc_auc(&test_p, &test_lab);

    let mut model = GlmModel {
        config: cfg.clone(),
        bin_ms: bin,
        seed,
        filters,
        test_auc: split_fits[chosen].test_auc,
        test_auc_lut,
        test_trials: test
            .iter()
            .map(|&i| inputs.labels[trials[i]].clone())
            .collect(),
        splits: split_fits,
        chosen_split: chosen,
        lut_window,
        lut_bin: Lut {
            first: 0,
            values: vec![0.0],
            bins: Vec::new(),
        },
        penalty: Vec::new(),
        excluded_refractory,
    };

    // Rolling nonlinearity and ISI penalty from the training trials of the chosen split.
    let train_trials: Vec<usize> = train.iter().map(|&i| trials[i]).collect();
    let spikes = inputs.spike_matrix();
    let rolled: Vec<Vec<f64>> = train_trials
        .par_iter()
        .map(|&k| model.rolling_wni(inputs, k))
        .collect();
    let isi = cfg.isi_bins;
    let mut free = Vec::new();
    let mut after: Vec<Vec<(f64, bool)>> = vec![Vec::new(); isi];
    for (r, &k) in rolled.iter().zip(&train_trials) {
        let mut last: Option<usize> = None;
        for t in 0..inputs.n_bins() {
            if t >= win.rolling_from {
                let s = spikes[[k, t]] == 1;
                match last.map(|l| t - l) {
                    Some(d) if d <= isi => after[d - 1].push((r[t], s)),
                    _ => free.push((r[t], s)),
                }
            }
            if spikes[[k, t]] == 1 {
                last = Some(t);
            }
        }
    }
    if !free.iter().any(|s| s.1) {
        return Err(class_err(format!(
            "no training trial spikes from {} ms on outside the {isi}-bin ISI window: the \
             per-bin lookup table cannot be built",
            win.rolling_from as f64 * bin
        )));
    }
    model.lut_bin = Lut::build(&free, cfg.lut_step, cfg.lut_min_trials)
        .ok_or_else(|| class_err("no bins for the per-bin lookup table"))?;
    let lut = &model.lut_bin;
    let reach = lut.values.len() as i64;
    model.penalty = after
        .par_iter()
        .map(|smp| {
            if smp.is_empty() {
                return 0.0;
            }
            let nll = |pen: i64| -> f64 {
                smp.iter()
                    .map(|&(w, s)| {
                        let p = lut.lookup(w - pen as f64).clamp(1e-12, 1.0 - 1e-12);
                        if s { -p.ln() } else { -(1.0 - p).ln() }
                    })
                    .sum()
            };
            // Scan outward from 0 so that ties keep the smallest shift.
            let mut best = (nll(0), 0i64);
            for m in 1..=reach {
                for pen in [m, -m] {
                    let v = nll(pen);
                    if v < best.0 {
                        best = (v, pen);
                    }
                }
            }
            best.1 as f64
        })
        .collect();
    Ok(model)
}

impl GlmModel {
    /// Check that `inputs` fit this model (groups in the same order, same bin width).
    fn check_inputs(&self, inputs: &GlmInputs) -> Result<(), GlmError> {
        inputs.check()?;
        let groups: Vec<&str> = self.filters.iter().map(|f| f.group.as_str()).collect();
        if inputs
            .groups
            .iter()
            .map(String::as_str)
            .ne(groups.iter().copied())
        {
            return Err(input_err(format!(
                "the model was fitted on groups {groups:?}, the inputs have {:?}",
                inputs.groups
            )));
        }
        if (inputs.bin_ms - self.bin_ms).abs() > 1e-12 {
            return Err(input_err(format!(
                "the model was fitted on {} ms bins, the inputs have {} ms",
                self.bin_ms, inputs.bin_ms
            )));
        }
        self.config.windows(inputs).map(|_| ())
    }

    /// The net input of trial `k` for every output bin t = 0 … n_bins (input bins
    /// `t − W … t − 1`; the last entry is the bin just after the recording).
    pub fn rolling_wni(&self, inputs: &GlmInputs, k: usize) -> Vec<f64> {
        let n = inputs.n_bins();
        let mut out = vec![0.0; n + 1];
        for (f, a) in self.filters.iter().zip(&inputs.activations) {
            let zmax = a.shape()[1].min(f.spatial.len());
            // u[b] = Σ_z w_z(z)·SA[z, b].
            let u: Vec<f64> = (0..n)
                .map(|b| (0..zmax).map(|z| f.spatial[z] * a[[k, z, b]]).sum())
                .collect();
            let w = f.temporal.len();
            for (t, o) in out.iter_mut().enumerate() {
                let mut s = 0.0;
                for (tau, wt) in f.temporal.iter().enumerate() {
                    let b = t as isize - w as isize + tau as isize;
                    if b >= 0 {
                        s += wt * u[b as usize];
                    }
                }
                *o += s;
            }
        }
        out
    }

    /// The static net input of every trial (for the output bin at the window's end).
    pub fn wni(&self, inputs: &GlmInputs) -> Result<Vec<f64>, GlmError> {
        self.check_inputs(inputs)?;
        let out = self.config.windows(inputs)?.out_max;
        Ok((0..inputs.n_trials())
            .into_par_iter()
            .map(|k| self.rolling_wni(inputs, k)[out])
            .collect())
    }

    /// Static prediction: P(spike in the output window) per trial, `lut_window[WNI]`.
    pub fn predict(&self, inputs: &GlmInputs) -> Result<Vec<f64>, GlmError> {
        Ok(self
            .wni(inputs)?
            .into_iter()
            .map(|w| self.lut_window.lookup(w))
            .collect())
    }

    /// The Bernoulli reduced-model simulator: trials × bins spike matrix (bins before
    /// `rolling_from_ms` stay 0). Trial k draws from stream k of `seed`, so the result does
    /// not depend on the number of threads.
    pub fn simulate(&self, inputs: &GlmInputs, seed: u64) -> Result<Array2<u8>, GlmError> {
        self.check_inputs(inputs)?;
        let from = self.config.windows(inputs)?.rolling_from;
        let n = inputs.n_bins();
        let rows: Vec<Vec<u8>> = (0..inputs.n_trials())
            .into_par_iter()
            .map(|k| {
                let wni = self.rolling_wni(inputs, k);
                let mut rng = Rng::new(stream_seed(seed, k as u64));
                let mut row = vec![0u8; n];
                let mut last: Option<usize> = None;
                for t in from..n {
                    let mut w = wni[t];
                    if let Some(d) = last.map(|l| t - l)
                        && d <= self.penalty.len()
                    {
                        w -= self.penalty[d - 1];
                    }
                    if rng.uniform() < self.lut_bin.lookup(w) {
                        row[t] = 1;
                        last = Some(t);
                    }
                }
                row
            })
            .collect();
        let mut m = Array2::zeros((inputs.n_trials(), n));
        for (k, r) in rows.into_iter().enumerate() {
            for (t, v) in r.into_iter().enumerate() {
                m[[k, t]] = v;
            }
        }
        Ok(m)
    }
}

/// Read GLM inputs from a store: spatiotemporally binned activation tables written by
/// `isf analyze synapses … --distance-bin D` (e.g.
/// `S4/analysis/synapse_activation_binned/t1_z50/EI/EXC`; the group is the key's last part)
/// and a spike-time table written by `isf analyze spikes` (e.g.
/// `S4/analysis/spike_times/soma.v`). Trials are matched by `sim_trial_index`, in the order
/// of the first activation key.
pub fn inputs_from_store(
    store: &Store,
    activation_keys: &[&str],
    spikes_key: &str,
) -> Result<GlmInputs, GlmError> {
    let at = store.path().display().to_string();
    if activation_keys.is_empty() {
        return Err(input_err("no activation keys given"));
    }
    let missing = |key: &str, what: &str| {
        input_err(format!("store {at}: key '{key}' {what}")).help(
            "bin the activations first, e.g. `isf analyze synapses STORE EXP --group-by EI \
             --bin 1 --distance-bin 50`, and detect spikes with `isf analyze spikes STORE \
             EXP/traces/soma.v`",
        )
    };
    let mut labels: Vec<String> = Vec::new();
    let mut groups = Vec::new();
    let mut arrays = Vec::new();
    let mut bin_ms: Option<f64> = None;
    for &key in activation_keys {
        if !store.contains(key) {
            return Err(missing(key, "does not exist (no binned activations)"));
        }
        let t = store
            .get_table(key)
            .map_err(|_| missing(key, "is not a table of binned activations"))?;
        let (
            Some(Column::Str(lab)),
            Some(Column::F64(from)),
            Some(Column::F64(to)),
            Some(Column::F64Array(cnt)),
        ) = (
            t.column("sim_trial_index"),
            t.column("distance_from_um"),
            t.column("distance_to_um"),
            t.column("counts"),
        )
        else {
            return Err(missing(
                key,
                "is not a spatiotemporal binning (columns sim_trial_index, distance_from_um, \
                 distance_to_um, counts; bin with --distance-bin)",
            ));
        };
        let b = match t.attrs.get("bin_ms").and_then(|v| v.as_f64()) {
            Some(b) if b > 0.0 => b,
            _ => return Err(missing(key, "has no positive `bin_ms` attribute")),
        };
        if let Some(b0) = bin_ms
            && (b0 - b).abs() > 1e-12
        {
            return Err(input_err(format!(
                "store {at}: key '{key}' has {b} ms bins, an earlier key {b0} ms"
            )));
        }
        bin_ms = Some(b);
        if labels.is_empty() {
            for l in lab {
                if !labels.contains(l) {
                    labels.push(l.clone());
                }
            }
        }
        let index: std::collections::HashMap<&str, usize> = labels
            .iter()
            .enumerate()
            .map(|(i, l)| (l.as_str(), i))
            .collect();
        let dz = to.first().zip(from.first()).map_or(0.0, |(a, b)| a - b);
        if dz.is_nan() || dz <= 0.0 {
            return Err(missing(key, "has no positive distance bin"));
        }
        let nz = from
            .iter()
            .map(|f| (f / dz).round() as usize + 1)
            .max()
            .unwrap_or(0);
        let width = cnt.ncols();
        let mut a = Array3::zeros((labels.len(), nz, width));
        let mut seen = vec![false; labels.len()];
        for (r, l) in lab.iter().enumerate() {
            let Some(&k) = index.get(l.as_str()) else {
                return Err(input_err(format!(
                    "store {at}: key '{key}' has trial {l}, which '{}' lacks",
                    activation_keys[0]
                )));
            };
            seen[k] = true;
            let z = (from[r] / dz).round() as usize;
            for b in 0..width {
                a[[k, z, b]] += cnt[[r, b]];
            }
        }
        if let Some(k) = seen.iter().position(|s| !s) {
            return Err(input_err(format!(
                "store {at}: key '{key}' has no rows for trial {}",
                labels[k]
            )));
        }
        groups.push(key.rsplit('/').next().unwrap_or(key).to_string());
        arrays.push(a);
    }
    let n_bins = arrays[0].shape()[2];
    if let Some((g, a)) = groups
        .iter()
        .zip(&arrays)
        .find(|(_, a)| a.shape()[2] != n_bins)
    {
        return Err(input_err(format!(
            "store {at}: group {g} has {} time bins, {} has {n_bins}",
            a.shape()[2],
            groups[0]
        )));
    }
    if !store.contains(spikes_key) {
        return Err(missing(spikes_key, "does not exist (no spike times)"));
    }
    let st = store
        .get_table(spikes_key)
        .map_err(|_| missing(spikes_key, "is not a spike-time table"))?;
    let (Some(Column::Str(sl)), Some(Column::F64List(times))) =
        (st.column("sim_trial_index"), st.column("spike_times"))
    else {
        return Err(missing(
            spikes_key,
            "is not a spike-time table (columns sim_trial_index, spike_times)",
        ));
    };
    let by: std::collections::HashMap<&str, &Vec<f64>> =
        sl.iter().map(String::as_str).zip(times).collect();
    let mut spikes = Vec::with_capacity(labels.len());
    for l in &labels {
        match by.get(l.as_str()) {
            Some(t) => spikes.push((*t).clone()),
            None => {
                return Err(input_err(format!(
                    "store {at}: key '{spikes_key}' has no spike times for trial {l}"
                )));
            }
        }
    }
    let inp = GlmInputs {
        groups,
        activations: arrays,
        spikes,
        bin_ms: bin_ms.unwrap_or(1.0),
        labels,
    };
    inp.check()?;
    Ok(inp)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auc_matches_hand_counts() {
        // 3 of 4 (positive, negative) pairs ordered: 0.75 (scikit-learn gives the same).
        let a = roc_auc(&[0.1, 0.4, 0.35, 0.8], &[false, false, true, true]);
        assert_eq!(a, 0.75);
        // A tie counts one half: (2 > 1) = 1, (1 = 1) = ½ → 0.75.
        assert_eq!(roc_auc(&[1.0, 1.0, 2.0], &[false, true, true]), 0.75);
        assert_eq!(roc_auc(&[3.0, 2.0, 1.0], &[true, true, false]), 1.0);
        assert!(roc_auc(&[1.0, 2.0], &[true, true]).is_nan());
    }

    #[test]
    fn lut_merges_bins_interpolates_and_clips() {
        // Step 3: net inputs 0–2.9 → bin 0 (12 samples, 3 spikes), 3–5.9 → bin 1 (4 samples,
        // 4 spikes), 9 → bin 3 (7 samples, 0 spikes). Min 10: bin 0 alone; bins 1 + 3 merge
        // (11 samples, 4 spikes).
        let mut s = Vec::new();
        for i in 0..12 {
            s.push((i as f64 * 0.2, i < 3));
        }
        for _ in 0..4 {
            s.push((4.0, true));
        }
        for _ in 0..7 {
            s.push((9.0, false));
        }
        let lut = Lut::build(&s, 3.0, 10).unwrap();
        assert_eq!(lut.bins, vec![(0.0, 3.0, 12, 3), (3.0, 12.0, 11, 4)]);
        // Midpoints 1.5 (p 0.25) and 7.5 (p 4/11); span 6 → index range ⌊1.5 − 1.8⌋ = −1 to
        // ⌈7.5 + 1.8⌉ = 10.
        assert_eq!(lut.first, -1);
        assert_eq!(lut.values.len(), 12);
        assert_eq!(lut.lookup(-100.0), 0.25);
        assert_eq!(lut.lookup(1.4), 0.25);
        let p45 = 0.25 + (4.0 / 11.0 - 0.25) * (4.5 - 1.5) / 6.0;
        // round(4.4) = 4 → between the midpoints at x = 4.
        let p4 = 0.25 + (4.0 / 11.0 - 0.25) * (4.0 - 1.5) / 6.0;
        assert!((lut.lookup(4.4) - p4).abs() < 1e-15);
        assert!(p45 > p4);
        assert_eq!(lut.lookup(1e9), 4.0 / 11.0);
        // Fewer samples than the minimum: one bin.
        let one = Lut::build(&s[..3], 3.0, 10).unwrap();
        assert_eq!(one.bins, vec![(0.0, 3.0, 3, 3)]);
        assert_eq!(one.lookup(-5.0), 1.0);
        assert!(Lut::build(&[], 3.0, 10).is_none());
    }

    /// 6 trials, one group, 2 distance bins, 40 time bins; trials 0–2 spike at 35 ms.
    fn tiny() -> (GlmInputs, GlmConfig) {
        let mut a = Array3::zeros((6, 2, 40));
        for k in 0..6 {
            for b in 0..40 {
                a[[k, (b + k) % 2, b]] = ((k * 7 + b) % 3) as f64;
            }
        }
        let inp = GlmInputs {
            groups: vec!["EXC".into()],
            activations: vec![a],
            spikes: (0..6)
                .map(|k| if k < 3 { vec![35.0] } else { vec![] })
                .collect(),
            bin_ms: 1.0,
            labels: (0..6).map(|k| format!("p000000/t{k:06}")).collect(),
        };
        let cfg = GlmConfig {
            temporal: RaisedCosine {
                a: 2.0,
                c: 1.0,
                phis: vec![1.0, 3.0],
                width: 10,
                reversed: true,
            },
            spatial: RaisedCosine {
                a: 3.0,
                c: 5.0,
                phis: vec![5.0],
                width: 2,
                reversed: false,
            },
            output_window_ms: [30.0, 40.0],
            n_splits: 1,
            n_starts: 1,
            test_size: 0.34,
            max_eval: 50,
            isi_bins: 3,
            ..GlmConfig::default()
        };
        (inp, cfg)
    }

    fn code(r: Result<GlmModel, GlmError>) -> &'static str {
        r.expect_err("an error").code.as_str()
    }

    #[test]
    fn bad_windows_classes_settings_and_inputs_are_coded() {
        let (inp, cfg) = tiny();
        assert!(fit(&inp, &cfg, 1).is_ok());
        // Output window past the 40 ms recorded.
        let c = GlmConfig {
            output_window_ms: [35.0, 45.0],
            ..cfg.clone()
        };
        assert_eq!(code(fit(&inp, &c, 1)), "E0917");
        // Synaptic window (10 bins) before 0.
        let c = GlmConfig {
            output_window_ms: [2.0, 8.0],
            ..cfg.clone()
        };
        assert_eq!(code(fit(&inp, &c, 1)), "E0917");
        // Not whole bins.
        let c = GlmConfig {
            output_window_ms: [30.5, 40.0],
            ..cfg.clone()
        };
        assert_eq!(code(fit(&inp, &c, 1)), "E0917");
        // No spikes in the window: a class without trials.
        let c = GlmConfig {
            output_window_ms: [20.0, 30.0],
            ..cfg.clone()
        };
        let e = fit(&inp, &c, 1).unwrap_err();
        assert_eq!(e.code.as_str(), "E0918");
        assert!(e.message.contains("0 trials spike"), "{}", e.message);
        // Every trial spikes in the window: no trial of the other class.
        let mut all = inp.clone();
        all.spikes = vec![vec![35.0]; 6];
        assert_eq!(code(fit(&all, &cfg, 1)), "E0918");
        // Bad settings.
        let c = GlmConfig {
            n_starts: 0,
            ..cfg.clone()
        };
        assert_eq!(code(fit(&inp, &c, 1)), "E0919");
        let mut c = cfg.clone();
        c.spatial.c = -1.0;
        assert_eq!(code(fit(&inp, &c, 1)), "E0919");
        // Inconsistent inputs.
        let mut bad = inp.clone();
        bad.labels.pop();
        assert_eq!(code(fit(&bad, &cfg, 1)), "E0916");
        let mut bad = inp.clone();
        bad.activations[0][[0, 0, 0]] = f64::NAN;
        assert_eq!(code(fit(&bad, &cfg, 1)), "E0916");
    }

    #[test]
    fn static_net_input_agrees_with_the_rolling_one_and_the_definition() {
        let (inp, cfg) = tiny();
        let m = fit(&inp, &cfg, 3).unwrap();
        let w = m.wni(&inp).unwrap();
        for (k, wk) in w.iter().enumerate() {
            // Definition: Σ_z Σ_τ w_z(z)·w_t(τ)·SA[z, 40 − 10 + τ].
            let f = &m.filters[0];
            let mut want = 0.0;
            for z in 0..2 {
                for tau in 0..10 {
                    want += f.spatial[z] * f.temporal[tau] * inp.activations[0][[k, z, 30 + tau]];
                }
            }
            assert!(
                (wk - want).abs() < 1e-9 * (1.0 + want.abs()),
                "{wk} vs {want}"
            );
        }
        let p = m.predict(&inp).unwrap();
        assert!(p.iter().all(|p| (0.0..=1.0).contains(p)));
        // Spatial filter canonical: largest entry +1.
        let big = m.filters[0]
            .spatial
            .iter()
            .copied()
            .fold(0.0f64, |a, b| if b.abs() > a.abs() { b } else { a });
        assert!((big - 1.0).abs() < 1e-12);
        // Another group order is refused.
        let mut other = inp.clone();
        other.groups = vec!["INH".into()];
        assert_eq!(m.predict(&other).unwrap_err().code.as_str(), "E0916");
    }
}
