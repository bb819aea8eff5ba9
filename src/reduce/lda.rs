//! ISF's LDA-kernel reduced model (spec 07 §7.6–7.7, `simrun/reduced_model/get_kernel.py` and
//! `data_base/analyze/LDA.py`).
//!
//! Fit: the target of a trial is "a spike in the output window `[out_min, out_max)`"; trials
//! with a spike in the refractory window `[out_min − R, out_min)` are left out. The design
//! matrix puts every key's synaptic window `[sa_min, sa_max)` side by side. `n` train/test
//! splits (each class subsampled to the smaller one's size, then a `test_size` fraction held
//! out) each fit a two-class linear discriminant (scikit-learn's `solver='eigen'`, no
//! shrinkage: `coef = Sw⁻¹(μ₁ − μ₀)` with `Sw` the prior-weighted biased class covariances,
//! solved by a Cholesky factorisation). Each coefficient vector is scaled to the Euclidean
//! norm [`NORM`] and cut into one kernel per key. The weighted net input (WNI) of a trial is
//! its window times the kernels; the lookup table maps WNI (rounded to integers) to the
//! fraction of trials that spiked, grouped in steps of `lookup_series_stepsize`, extended by
//! 30 % of the span on both sides, 0 at the low end, linearly interpolated, held constant past
//! the last group.
//!
//! Score (ISF's `prediction_rates`): median over the splits of the test accuracy on spiking
//! trials **plus** the median test accuracy on silent trials — a sum in [0, 2] (1 is chance),
//! not an average. Accuracies use the discriminant's own decision (`X·coef + intercept > 0`),
//! AUCs the projection `X·coef`.
//!
//! Differences from ISF, on purpose:
//! * out-of-range WNI is clipped to the lookup table's *index* range on both sides (ISF's
//!   static prediction compares the lower end with the smallest table *value*, and its rolling
//!   prediction puts table values where indices belong);
//! * the table's index range always reaches the largest group (ISF's `int(max + 0.3·span)`
//!   can stop short of it for spans below 4, and it has no entry at all for a single group);
//! * class subsampling and splits draw from the project's counter-derived streams
//!   (xoshiro256++ seeded per split from `--seed`), not NumPy's global generator, so a fit is
//!   reproducible and independent of thread count.

use super::{
    Dataset, bad_class, bad_input, bad_model, bad_option, bad_window, median, roc_auc, to_bins,
};
use crate::diagnostics::{Code, Diagnostic};
use crate::rng::Rng;
use crate::rng::stream_seed;
use nalgebra::{DMatrix, DVector};
use ndarray::Array2;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The Euclidean norm every coefficient vector is scaled to (ISF's historical constant,
/// kept so that kernels and lookup tables are comparable with ISF's).
pub const NORM: f64 = 7.260991424242837;

/// Options of an LDA fit (ISF's defaults).
#[derive(Clone, Debug, PartialEq)]
pub struct LdaConfig {
    /// Output window `[min, max)`, ms.
    pub output_window_ms: (f64, f64),
    /// Synaptic window: any two of min, max and width (ms); with fewer, width 80 ms and max
    /// = the output window's end.
    pub sa_min_ms: Option<f64>,
    pub sa_max_ms: Option<f64>,
    pub sa_width_ms: Option<f64>,
    /// Trials with a spike in `[out_min − R, out_min)` are left out; R in ms.
    pub refractory_ms: f64,
    /// Subsample each class to the smaller class's size per split.
    pub balance: bool,
    /// Fraction of each split's trials held out for testing.
    pub test_size: f64,
    /// Number of train/test splits (= fitted classifiers).
    pub splits: usize,
    /// Grouping step of the lookup table (WNI units, a positive integer).
    pub lut_step: i64,
    /// Redraws of a split whose data the discriminant cannot fit (ISF's `max_tries`),
    /// counted over all splits.
    pub max_tries: usize,
    /// Fraction of trials held back from the whole fit (0: none, as ISF).
    pub holdout: f64,
    /// Seed of the splits.
    pub seed: u64,
}

impl Default for LdaConfig {
    fn default() -> LdaConfig {
        LdaConfig {
            output_window_ms: (255.0, 265.0),
            sa_min_ms: None,
            sa_max_ms: None,
            sa_width_ms: None,
            refractory_ms: 0.0,
            balance: true,
            test_size: 0.4,
            splits: 5,
            lut_step: 5,
            max_tries: 2,
            holdout: 0.0,
            seed: 0,
        }
    }
}

/// Resolved windows of a fit.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Windows {
    pub output_ms: (f64, f64),
    /// Synaptic window in bins `[lo, hi)`.
    pub sa_bins: (usize, usize),
    pub refractory_ms: f64,
}

/// Check the options against the data and resolve the synaptic window (ISF's
/// `_check_time_window`, extended to "any two of min, max, width").
pub fn resolve_windows(cfg: &LdaConfig, ds: &Dataset) -> Result<Windows, Diagnostic> {
    let (o0, o1) = cfg.output_window_ms;
    if !(o0.is_finite() && o1.is_finite() && o1 > o0) {
        return Err(bad_option(
            "--output-min/--output-max",
            format!("[{o0}, {o1}) ms is not a window (the end must follow the start)"),
        ));
    }
    let duration = ds.duration_ms();
    if o0 < 0.0 || o1 > duration {
        return Err(bad_window(
            "--output-min/--output-max",
            format!("[{o0}, {o1}) ms lies outside the recorded [0, {duration}) ms"),
        ));
    }
    if !(cfg.refractory_ms >= 0.0 && cfg.refractory_ms.is_finite()) {
        return Err(bad_option(
            "--refractory",
            format!("{} ms is not a duration ≥ 0", cfg.refractory_ms),
        ));
    }
    if o0 - cfg.refractory_ms < 0.0 {
        return Err(bad_window(
            "--refractory",
            format!(
                "the refractory window [{}, {o0}) ms starts before the recording",
                o0 - cfg.refractory_ms
            ),
        ));
    }
    let (lo, hi) = match (cfg.sa_min_ms, cfg.sa_max_ms, cfg.sa_width_ms) {
        (Some(a), Some(b), Some(w)) => {
            if (b - a - w).abs() > 1e-9 {
                return Err(bad_option(
                    "--sa-width",
                    format!("{w} ms is not --sa-max − --sa-min = {} ms", b - a),
                ));
            }
            (a, b)
        }
        (Some(a), Some(b), None) => (a, b),
        (Some(a), None, w) => (a, a + w.unwrap_or(80.0)),
        (None, Some(b), w) => (b - w.unwrap_or(80.0), b),
        (None, None, w) => (o1 - w.unwrap_or(80.0), o1),
    };
    let bin = ds.bin_ms;
    let (Some(lo_b), Some(hi_b)) = (to_bins(lo, bin), to_bins(hi, bin)) else {
        return Err(bad_option(
            "--sa-min/--sa-max",
            format!("the synaptic window [{lo}, {hi}) ms is not a whole number of {bin} ms bins"),
        ));
    };
    if hi_b <= lo_b {
        return Err(bad_option(
            "--sa-width",
            format!("the synaptic window [{lo}, {hi}) ms is empty"),
        ));
    }
    let n_t = ds.n_t() as i64;
    let binned_end = n_t as f64 * bin;
    if lo_b < 0 || hi_b > n_t || hi > duration {
        return Err(bad_window(
            "--sa-min/--sa-max",
            format!(
                "the synaptic window [{lo}, {hi}) ms lies outside the recorded data [0, {}) ms",
                binned_end.min(duration)
            ),
        ));
    }
    Ok(Windows {
        output_ms: (o0, o1),
        sa_bins: (lo_b as usize, hi_b as usize),
        refractory_ms: cfg.refractory_ms,
    })
}

/// Accuracies and ROC-AUC of one classifier on one set of trials.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct SplitScores {
    /// Fraction of all trials classified right.
    pub accuracy: f64,
    /// Fraction of spiking trials classified as spiking.
    pub accuracy_1: f64,
    /// Fraction of silent trials classified as silent.
    pub accuracy_0: f64,
    /// ROC-AUC of `X·coef`.
    pub auc: f64,
    /// Trials.
    pub trials: usize,
}

/// One group of the lookup table: trials whose WNI rounds to `key`.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct LutGroup {
    pub key: i64,
    pub trials: usize,
    pub spikes: usize,
}

/// The lookup table: spike probability at integer WNI `index_min + i`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Lut {
    pub index_min: i64,
    pub values: Vec<f64>,
    /// Grouping step the table was built with.
    pub step: i64,
    /// The groups the values were interpolated from.
    pub groups: Vec<LutGroup>,
}

impl Lut {
    /// Largest index.
    pub fn index_max(&self) -> i64 {
        self.index_min + self.values.len() as i64 - 1
    }

    /// `P(spike)` at `wni`: rounded half to even (NumPy's `round`) and clipped to the index
    /// range; the flag tells whether clipping was needed.
    pub fn lookup(&self, wni: f64) -> (f64, bool) {
        let (lo, hi) = (self.index_min, self.index_max());
        let r = wni.round_ties_even();
        // NaN compares false everywhere and lands at the low end.
        let (idx, out) = if r.is_nan() || r < lo as f64 {
            (lo, true)
        } else if r > hi as f64 {
            (hi, true)
        } else {
            (r as i64, false)
        };
        (self.values[(idx - lo) as usize], out)
    }
}

/// Build the lookup table from the WNI and spike flags of the trials to use (ISF's
/// `get_lookup_series_from_lda_values_spike_data` + `interpolate_lookup_series`). `None`
/// without trials.
pub fn build_lut(wni: &[f64], spike: &[bool], step: i64) -> Option<Lut> {
    let mut groups: BTreeMap<i64, (usize, usize)> = BTreeMap::new();
    for (&w, &s) in wni.iter().zip(spike) {
        // pandas' `round()` is NumPy's: half to even.
        let key = (w / step as f64).round_ties_even() as i64 * step;
        let g = groups.entry(key).or_default();
        g.0 += 1;
        g.1 += s as usize;
    }
    let (&kmin, _) = groups.first_key_value()?;
    let (&kmax, _) = groups.last_key_value()?;
    let span = (kmax - kmin) as f64;
    // Python's int() truncates toward zero; `as` does the same.
    let lo = (kmin as f64 - 0.3 * span) as i64;
    let hi_excl = ((kmax as f64 + 0.3 * span) as i64).max(kmax + 1);
    let mut v = vec![f64::NAN; (hi_excl - lo) as usize];
    v[0] = 0.0;
    for (&k, &(n, s)) in &groups {
        v[(k - lo) as usize] = s as f64 / n as f64;
    }
    // Linear interpolation over the gaps; past the last known value it is held.
    let known: Vec<usize> = (0..v.len()).filter(|&i| !v[i].is_nan()).collect();
    for w in known.windows(2) {
        let (a, b) = (w[0], w[1]);
        for i in a + 1..b {
            v[i] = v[a] + (v[b] - v[a]) * (i - a) as f64 / (b - a) as f64;
        }
    }
    let last = *known.last()?;
    for i in last + 1..v.len() {
        v[i] = v[last];
    }
    Some(Lut {
        index_min: lo,
        values: v,
        step,
        groups: groups
            .into_iter()
            .map(|(key, (trials, spikes))| LutGroup {
                key,
                trials,
                spikes,
            })
            .collect(),
    })
}

/// A fitted two-class discriminant in scikit-learn's form: class 1 when
/// `x·coef + intercept > 0`.
#[derive(Clone, Debug, PartialEq)]
pub struct Discriminant {
    pub coef: Vec<f64>,
    pub intercept: f64,
}

/// Fit the discriminant on `rows` of `x` (scikit-learn's `LinearDiscriminantAnalysis(solver=
/// 'eigen')`: priors from the class frequencies, `Sw = Σ_k p_k·cov_k` with biased class
/// covariances, `coef = Sw⁻¹(μ₁ − μ₀)`, intercept `−½(μ₁ᵀSw⁻¹μ₁ − μ₀ᵀSw⁻¹μ₀) + ln(p₁/p₀)`).
/// `None` when a class is missing or `Sw` is not positive definite (where scikit-learn's
/// generalized eigensolver fails as well).
pub fn fit_discriminant(x: &Array2<f64>, y: &[bool], rows: &[usize]) -> Option<Discriminant> {
    let p = x.ncols();
    let n = rows.len();
    let n1 = rows.iter().filter(|&&r| y[r]).count();
    let n0 = n - n1;
    if n1 == 0 || n0 == 0 {
        return None;
    }
    let mut mu = [DVector::<f64>::zeros(p), DVector::<f64>::zeros(p)];
    for &r in rows {
        let m = &mut mu[y[r] as usize];
        for j in 0..p {
            m[j] += x[[r, j]];
        }
    }
    mu[0] /= n0 as f64;
    mu[1] /= n1 as f64;
    // p_k·cov_k = (n_k/n)·(1/n_k)·Σ (x−μ_k)(x−μ_k)ᵀ: every centred row weighs 1/n.
    let mut c = DMatrix::<f64>::zeros(n, p);
    for (i, &r) in rows.iter().enumerate() {
        let m = &mu[y[r] as usize];
        for j in 0..p {
            c[(i, j)] = x[[r, j]] - m[j];
        }
    }
    let sw = c.tr_mul(&c) / n as f64;
    let chol = sw.cholesky()?;
    let a1 = chol.solve(&mu[1]);
    let a0 = chol.solve(&mu[0]);
    let coef = &a1 - &a0;
    let intercept = -0.5 * (mu[1].dot(&a1) - mu[0].dot(&a0)) + (n1 as f64 / n as f64).ln()
        - (n0 as f64 / n as f64).ln();
    if !coef.iter().all(|v| v.is_finite()) || !intercept.is_finite() {
        return None;
    }
    Some(Discriminant {
        coef: coef.iter().copied().collect(),
        intercept,
    })
}

fn dot_row(x: &Array2<f64>, r: usize, w: &[f64]) -> f64 {
    x.row(r).iter().zip(w).map(|(a, b)| a * b).sum()
}

/// Accuracies and AUC of `d` on `rows`.
fn scores(x: &Array2<f64>, y: &[bool], rows: &[usize], d: &Discriminant) -> SplitScores {
    let proj: Vec<f64> = rows.iter().map(|&r| dot_row(x, r, &d.coef)).collect();
    let ys: Vec<bool> = rows.iter().map(|&r| y[r]).collect();
    let (mut ok, mut ok1, mut n1, mut ok0, mut n0) = (0usize, 0usize, 0usize, 0usize, 0usize);
    for (p, &t) in proj.iter().zip(&ys) {
        let pred = p + d.intercept > 0.0;
        ok += (pred == t) as usize;
        if t {
            n1 += 1;
            ok1 += pred as usize;
        } else {
            n0 += 1;
            ok0 += (!pred) as usize;
        }
    }
    let frac = |a: usize, b: usize| {
        if b == 0 {
            f64::NAN
        } else {
            a as f64 / b as f64
        }
    };
    SplitScores {
        accuracy: frac(ok, rows.len()),
        accuracy_1: frac(ok1, n1),
        accuracy_0: frac(ok0, n0),
        auc: roc_auc(&ys, &proj).unwrap_or(f64::NAN),
        trials: rows.len(),
    }
}

/// In-place Fisher–Yates shuffle.
fn shuffle(v: &mut [usize], rng: &mut Rng) {
    for i in (1..v.len()).rev() {
        let j = rng.below(i as u64 + 1) as usize;
        v.swap(i, j);
    }
}

/// One fitted classifier of the model.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Classifier {
    /// scikit-learn's `coef_` (before normalisation).
    pub coef: Vec<f64>,
    pub intercept: f64,
    /// Per key (in the model's key order): the normalised coefficients of its window.
    pub kernels: Vec<Vec<f64>>,
    pub lut: Lut,
    /// Scores on the split's test trials and on all fitted trials (ISF's `*_full_data`).
    pub test: SplitScores,
    pub full: SplitScores,
    /// Scores on the held-back trials (with `--holdout`).
    pub holdout: Option<SplitScores>,
    /// Train and test trials of the split: row numbers among the fitted trials
    /// ([`LdaModel::fit_labels`]).
    pub train_rows: Vec<u32>,
    pub test_rows: Vec<u32>,
}

/// A fitted LDA-kernel model as stored (a msgpack map under the `--out` key).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LdaModel {
    /// `"lda"`.
    pub model: String,
    /// Layout version of this record.
    pub format: u32,
    /// Binned-activation keys and their short names (kernel names).
    pub keys: Vec<String>,
    pub names: Vec<String>,
    /// Spike-time table the targets came from.
    pub spikes_key: String,
    pub bin_ms: f64,
    pub output_window_ms: (f64, f64),
    pub sa_window_ms: (f64, f64),
    pub refractory_ms: f64,
    pub balance: bool,
    pub test_size: f64,
    pub lut_step: i64,
    pub seed: u64,
    pub norm: f64,
    /// ISF's score: median test accuracy on spiking + on silent trials (in [0, 2]).
    pub score: f64,
    /// Median test ROC-AUC over the splits.
    pub median_test_auc: f64,
    /// The same score and AUC on the held-back trials.
    pub holdout_score: Option<f64>,
    pub holdout_auc: Option<f64>,
    pub classifiers: Vec<Classifier>,
    /// Trials: all read, held back, left out for a spike in the refractory window, fitted.
    pub trials: usize,
    pub holdout_labels: Vec<String>,
    pub spike_before: usize,
    /// Labels of the fitted trials (rows of the design matrix) and their classes.
    pub fit_labels: Vec<String>,
    pub fit_spiking: usize,
    /// Where the data came from.
    pub sources: Vec<super::Source>,
}

impl LdaModel {
    /// Synaptic window in bins.
    pub fn sa_bins(&self) -> (usize, usize) {
        (
            (self.sa_window_ms.0 / self.bin_ms).round() as usize,
            (self.sa_window_ms.1 / self.bin_ms).round() as usize,
        )
    }

    /// Check the record's internal consistency (a stored model is user input).
    pub fn check(&self) -> Result<(), Diagnostic> {
        let w = self.sa_bins();
        let len = w.1.saturating_sub(w.0);
        let ok = self.model == "lda"
            && self.bin_ms > 0.0
            && len > 0
            && !self.keys.is_empty()
            && self.names.len() == self.keys.len()
            && !self.classifiers.is_empty()
            && self.classifiers.iter().all(|c| {
                c.kernels.len() == self.keys.len()
                    && c.kernels.iter().all(|k| k.len() == len)
                    && !c.lut.values.is_empty()
            });
        if ok {
            Ok(())
        } else {
            Err(bad_model(
                "the stored LDA model is malformed (kernels, windows or lookup table inconsistent)",
            ))
        }
    }
}

/// What [`fit`] also returns besides the model: the design matrix of the fitted trials and
/// their classes, for `--export`.
pub struct FitData {
    pub x: Array2<f64>,
    pub y: Vec<bool>,
}

/// Fit the LDA-kernel model (§7.6–7.7) on `ds`.
pub fn fit(ds: &Dataset, cfg: &LdaConfig) -> Result<(LdaModel, FitData), Diagnostic> {
    if ds.spikes_key.is_none() {
        return Err(bad_input("no spike times to fit to"));
    }
    if !(cfg.test_size > 0.0 && cfg.test_size < 1.0) {
        return Err(bad_option(
            "--test-size",
            format!("{} is not a fraction in (0, 1)", cfg.test_size),
        ));
    }
    if !(cfg.holdout >= 0.0 && cfg.holdout < 1.0) {
        return Err(bad_option(
            "--holdout",
            format!("{} is not a fraction in [0, 1)", cfg.holdout),
        ));
    }
    if cfg.splits == 0 || cfg.splits > 1000 {
        return Err(bad_option(
            "--splits",
            format!("{} is not in 1…1000", cfg.splits),
        ));
    }
    if cfg.lut_step < 1 || cfg.lut_step > 1_000_000 {
        return Err(bad_option(
            "--lut-step",
            format!("{} is not a positive whole number (≤ 10⁶)", cfg.lut_step),
        ));
    }
    let win = resolve_windows(cfg, ds)?;
    let (o0, o1) = win.output_ms;
    let n_all = ds.n_rows();
    // Trials held back from the whole fit, drawn from their own stream.
    let mut held = vec![false; n_all];
    let n_hold = (cfg.holdout * n_all as f64).ceil() as usize;
    if n_hold > 0 {
        let mut idx: Vec<usize> = (0..n_all).collect();
        shuffle(&mut idx, &mut Rng::new(stream_seed(cfg.seed, u64::MAX)));
        for &i in &idx[..n_hold] {
            held[i] = true;
        }
    }
    let (x_all, blocks) = ds.design(win.sa_bins.0, win.sa_bins.1)?;
    let y_all = ds.spike_in(o0, o1);
    let before_all = ds.spike_in(o0 - win.refractory_ms, o0);
    // The fitted trials: not held back, no spike in the refractory window.
    let fit_rows: Vec<usize> = (0..n_all).filter(|&i| !held[i] && !before_all[i]).collect();
    let x = x_all.select(ndarray::Axis(0), &fit_rows);
    let y: Vec<bool> = fit_rows.iter().map(|&i| y_all[i]).collect();
    let n1 = y.iter().filter(|&&b| b).count();
    let n0 = y.len() - n1;
    let window = format!("[{o0}, {o1}) ms");
    if n1 == 0 {
        return Err(bad_class(format!(
            "no fitted trial spikes in the output window {window} ({} trials, {} left out for a \
             spike in the refractory window, {n_hold} held back)",
            n_all,
            before_all.iter().filter(|&&b| b).count()
        ))
        .help("choose an output window where the cell spikes, or give more trials"));
    }
    if n0 == 0 {
        return Err(bad_class(format!(
            "every fitted trial spikes in the output window {window}: no silent trials to contrast"
        ))
        .help("choose an output window where the cell does not always spike"));
    }
    let all_rows: Vec<usize> = (0..y.len()).collect();
    let mut tries = 0usize;
    let mut classifiers = Vec::with_capacity(cfg.splits);
    for split in 0..cfg.splits {
        let mut attempt = 0u64;
        let (d, train, test) = loop {
            let mut rng = Rng::new(stream_seed(stream_seed(cfg.seed, split as u64), attempt));
            let pool: Vec<usize> = if cfg.balance {
                let mut ones: Vec<usize> = all_rows.iter().copied().filter(|&r| y[r]).collect();
                let mut zeros: Vec<usize> = all_rows.iter().copied().filter(|&r| !y[r]).collect();
                shuffle(&mut ones, &mut rng);
                shuffle(&mut zeros, &mut rng);
                let l = ones.len().min(zeros.len());
                ones[..l].iter().chain(&zeros[..l]).copied().collect()
            } else {
                all_rows.clone()
            };
            // scikit-learn's train_test_split: ceil(test_size·n) test trials.
            let n = pool.len();
            let n_test = (cfg.test_size * n as f64).ceil() as usize;
            if n_test == 0 || n_test >= n {
                return Err(bad_class(format!(
                    "{n} trials ({n1} spiking, {n0} silent{}) are too few to split with \
                     --test-size {}",
                    if cfg.balance {
                        ", classes balanced"
                    } else {
                        ""
                    },
                    cfg.test_size
                )));
            }
            let mut perm: Vec<usize> = (0..n).collect();
            shuffle(&mut perm, &mut rng);
            let test: Vec<usize> = perm[..n_test].iter().map(|&i| pool[i]).collect();
            let train: Vec<usize> = perm[n_test..].iter().map(|&i| pool[i]).collect();
            if let Some(d) = fit_discriminant(&x, &y, &train) {
                break (d, train, test);
            }
            if tries >= cfg.max_tries {
                let constant = constant_columns(&x, &train, &blocks, ds, win.sa_bins.0);
                return Err(Diagnostic::new(
                    Code::E0913,
                    format!(
                        "split {split}: the within-class covariance of {} training trials is \
                         singular ({} redraws tried)",
                        train.len(),
                        tries
                    ),
                )
                .note(if constant.is_empty() {
                    "the columns are linearly dependent".to_string()
                } else {
                    format!("constant columns: {}", constant.join(", "))
                })
                .help(
                    "shorten the synaptic window to bins that receive input, or give more \
                       trials",
                ));
            }
            tries += 1;
            attempt += 1;
        };
        let has1 = test.iter().any(|&r| y[r]);
        let has0 = test.iter().any(|&r| !y[r]);
        if !(has1 && has0) {
            return Err(bad_class(format!(
                "split {split}: the {} test trials hold only one class",
                test.len()
            ))
            .help("give more trials or a larger --test-size"));
        }
        let test_s = scores(&x, &y, &test, &d);
        let full_s = scores(&x, &y, &all_rows, &d);
        classifiers.push((d, train, test, test_s, full_s));
    }
    // Normalised kernels, WNI of every fitted-or-refractory trial, lookup tables.
    let lut_rows: Vec<usize> = (0..n_all).filter(|&i| !held[i]).collect();
    let hold_rows: Vec<usize> = (0..n_all).filter(|&i| held[i] && !before_all[i]).collect();
    let mut out = Vec::with_capacity(classifiers.len());
    for (d, train, test, test_s, full_s) in classifiers {
        let norm: f64 = d.coef.iter().map(|c| c * c).sum::<f64>().sqrt();
        let w: Vec<f64> = d.coef.iter().map(|c| c * NORM / norm).collect();
        let kernels: Vec<Vec<f64>> = blocks.iter().map(|&(a, b)| w[a..b].to_vec()).collect();
        // ISF computes the WNI of every trial and groups those without a refractory spike.
        let wni: Vec<f64> = lut_rows
            .iter()
            .filter(|&&r| !before_all[r])
            .map(|&r| dot_row(&x_all, r, &w))
            .collect();
        let spk: Vec<bool> = lut_rows
            .iter()
            .filter(|&&r| !before_all[r])
            .map(|&r| y_all[r])
            .collect();
        let lut = build_lut(&wni, &spk, cfg.lut_step)
            .ok_or_else(|| bad_class("no trials to build the lookup table from"))?;
        let holdout = (!hold_rows.is_empty()).then(|| scores(&x_all, &y_all, &hold_rows, &d));
        out.push(Classifier {
            coef: d.coef.clone(),
            intercept: d.intercept,
            kernels,
            lut,
            test: test_s,
            full: full_s,
            holdout,
            train_rows: train.iter().map(|&r| r as u32).collect(),
            test_rows: test.iter().map(|&r| r as u32).collect(),
        });
    }
    let med = |f: &dyn Fn(&SplitScores) -> f64, h: bool| -> f64 {
        let v: Vec<f64> = out
            .iter()
            .filter_map(|c| if h { c.holdout.as_ref() } else { Some(&c.test) })
            .map(f)
            .collect();
        median(&v)
    };
    let has_hold = !hold_rows.is_empty();
    let model = LdaModel {
        model: "lda".into(),
        format: 1,
        keys: ds.keys.clone(),
        names: ds.names.clone(),
        spikes_key: ds.spikes_key.clone().unwrap_or_default(),
        bin_ms: ds.bin_ms,
        output_window_ms: win.output_ms,
        sa_window_ms: (
            win.sa_bins.0 as f64 * ds.bin_ms,
            win.sa_bins.1 as f64 * ds.bin_ms,
        ),
        refractory_ms: win.refractory_ms,
        balance: cfg.balance,
        test_size: cfg.test_size,
        lut_step: cfg.lut_step,
        seed: cfg.seed,
        norm: NORM,
        score: med(&|s| s.accuracy_1, false) + med(&|s| s.accuracy_0, false),
        median_test_auc: med(&|s| s.auc, false),
        holdout_score: has_hold
            .then(|| med(&|s| s.accuracy_1, true) + med(&|s| s.accuracy_0, true)),
        holdout_auc: has_hold.then(|| med(&|s| s.auc, true)),
        classifiers: out,
        trials: n_all,
        holdout_labels: (0..n_all)
            .filter(|&i| held[i])
            .map(|i| ds.labels[i].clone())
            .collect(),
        spike_before: before_all.iter().filter(|&&b| b).count(),
        fit_labels: fit_rows.iter().map(|&i| ds.labels[i].clone()).collect(),
        fit_spiking: n1,
        sources: ds.sources.clone(),
    };
    Ok((model, FitData { x, y }))
}

/// Names of the design-matrix columns constant over `rows` (`EXC@185ms`).
fn constant_columns(
    x: &Array2<f64>,
    rows: &[usize],
    blocks: &[(usize, usize)],
    ds: &Dataset,
    lo: usize,
) -> Vec<String> {
    let mut out = Vec::new();
    for (k, &(a, b)) in blocks.iter().enumerate() {
        for j in a..b {
            let v0 = rows.first().map(|&r| x[[r, j]]);
            if rows.iter().all(|&r| Some(x[[r, j]]) == v0) {
                out.push(format!(
                    "{}@{}ms",
                    ds.names[k],
                    (lo + j - a) as f64 * ds.bin_ms
                ));
            }
        }
    }
    if out.len() > 12 {
        let n = out.len();
        out.truncate(12);
        out.push(format!("… ({n} in all)"));
    }
    out
}

/// The model's keys in `ds`, checked: same bin, the synaptic window inside the data.
fn check_data(model: &LdaModel, ds: &Dataset) -> Result<(), Diagnostic> {
    model.check()?;
    if ds.bin_ms != model.bin_ms {
        return Err(bad_model(format!(
            "the model was fitted on {} ms bins, the data are binned in {} ms",
            model.bin_ms, ds.bin_ms
        )));
    }
    if model.sa_bins().1 > ds.n_t() {
        return Err(bad_window(
            "--model-key",
            format!(
                "the model's synaptic window ends at {} ms, the data at {} ms",
                model.sa_window_ms.1,
                ds.n_t() as f64 * ds.bin_ms
            ),
        ));
    }
    Ok(())
}

/// Static prediction: one WNI and `P(spike in the output window)` per trial.
#[derive(Clone, Debug, PartialEq)]
pub struct StaticPrediction {
    pub wni: Vec<f64>,
    pub p_spike: Vec<f64>,
    /// Trials whose WNI fell outside the lookup table (clipped).
    pub clipped: usize,
}

/// Predict statically with classifier `number` of `model` (ISF's `apply_static`).
pub fn predict_static(
    model: &LdaModel,
    number: usize,
    ds: &Dataset,
) -> Result<StaticPrediction, Diagnostic> {
    check_data(model, ds)?;
    let c = classifier(model, number)?;
    let (lo, hi) = model.sa_bins();
    let (x, _) = ds.design(lo, hi)?;
    let w: Vec<f64> = c.kernels.iter().flatten().copied().collect();
    let mut out = StaticPrediction {
        wni: Vec::with_capacity(ds.n_rows()),
        p_spike: Vec::with_capacity(ds.n_rows()),
        clipped: 0,
    };
    for r in 0..ds.n_rows() {
        let v = dot_row(&x, r, &w);
        let (p, clip) = c.lut.lookup(v);
        out.wni.push(v);
        out.p_spike.push(p);
        out.clipped += clip as usize;
    }
    Ok(out)
}

fn classifier(model: &LdaModel, number: usize) -> Result<&Classifier, Diagnostic> {
    model.classifiers.get(number).ok_or_else(|| {
        bad_option(
            "--model-number",
            format!(
                "the model holds {} classifiers (0…{})",
                model.classifiers.len(),
                model.classifiers.len() - 1
            ),
        )
    })
}

/// Rolling prediction: a time-resolved PSTH (spec 07 §7.6, ISF's `spiking_output`).
#[derive(Clone, Debug, PartialEq)]
pub struct RollingPrediction {
    /// Per time bin `t` (the WNI at `t` uses input bins `t−L … t−1`).
    pub raw_psth: Vec<f64>,
    pub able: Vec<f64>,
    pub psth: Vec<f64>,
    /// Per trial and time bin `(rows, n_t)`.
    pub p_spike: Array2<f64>,
    /// (trial, bin) values clipped to the table.
    pub clipped: usize,
}

/// `c[t] = Σ_j X[t − L + j]·k[j]`, X zero before bin 0 (ISF's `convolve_matrix_with_kernel`).
pub fn convolve(x: &[f64], k: &[f64], out: &mut [f64]) {
    let l = k.len() as isize;
    for (t, o) in out.iter_mut().enumerate() {
        let mut s = 0.0;
        for (j, kj) in k.iter().enumerate() {
            let i = t as isize - l + j as isize;
            if i >= 0 {
                s += x[i as usize] * kj;
            }
        }
        *o += s;
    }
}

/// ISF's refractory correction: `able[0] = 1`, `spiking_t = able[t]·raw[t]`,
/// `able[t+1] = able[t] − spiking_t + spiking_{t−R}`; all ones for `R = 0`. Returns `able`
/// for `t = 0 … n−1`.
pub fn refractory_correction(raw: &[f64], r_bins: usize) -> Vec<f64> {
    if r_bins == 0 {
        return vec![1.0; raw.len()];
    }
    let mut able = Vec::with_capacity(raw.len() + 1);
    able.push(1.0);
    let mut spiking: Vec<f64> = Vec::with_capacity(raw.len());
    for (t, &e) in raw.iter().enumerate() {
        let s = able[t] * e;
        let back = if t >= r_bins {
            spiking[t - r_bins]
        } else {
            0.0
        };
        spiking.push(s);
        able.push(able[t] - s + back);
    }
    able.truncate(raw.len());
    able
}

/// Predict over time with classifier `number`; the refractory period is the model's.
pub fn predict_rolling(
    model: &LdaModel,
    number: usize,
    ds: &Dataset,
) -> Result<RollingPrediction, Diagnostic> {
    check_data(model, ds)?;
    let c = classifier(model, number)?;
    for (k, a) in ds.activations.iter().enumerate() {
        if a.shape()[1] != 1 {
            return Err(bad_input(format!(
                "key '{}' is binned by soma distance; the LDA model takes temporal binning",
                ds.keys[k]
            )));
        }
    }
    let n_t = ds.n_t();
    let rows = ds.n_rows();
    let mut p = Array2::zeros((rows, n_t));
    let mut wni = vec![0.0; n_t];
    let mut clipped = 0;
    let mut raw = vec![0.0; n_t];
    for r in 0..rows {
        wni.iter_mut().for_each(|v| *v = 0.0);
        for (k, a) in ds.activations.iter().enumerate() {
            let row = a.slice(ndarray::s![r, 0, ..]);
            let xs: Vec<f64> = row.iter().copied().collect();
            convolve(&xs, &c.kernels[k], &mut wni);
        }
        for t in 0..n_t {
            let (v, clip) = c.lut.lookup(wni[t]);
            p[[r, t]] = v;
            raw[t] += v;
            clipped += clip as usize;
        }
    }
    raw.iter_mut().for_each(|v| *v /= rows as f64);
    let r_bins = (model.refractory_ms / model.bin_ms).round() as usize;
    let able = refractory_correction(&raw, r_bins);
    let psth = raw.iter().zip(&able).map(|(a, b)| a * b).collect();
    Ok(RollingPrediction {
        raw_psth: raw,
        able,
        psth,
        p_spike: p,
        clipped,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lut_groups_extends_and_interpolates() {
        // WNI 0,1 → key 0 (p = 1/2); 9.9 → key 10 (p = 1); step 5.
        let lut = build_lut(&[0.0, 1.0, 9.9], &[true, false, true], 5).unwrap();
        // span 10: index from int(0 − 3) = −3 to int(10 + 3) − 1 = 12.
        assert_eq!(lut.index_min, -3);
        assert_eq!(lut.index_max(), 12);
        assert_eq!(lut.values[0], 0.0);
        // −3 → 0 … 0 → 0.5 linearly, 0 → 0.5 … 10 → 1, then held at 1.
        assert!((lut.values[1] - 0.5 / 3.0).abs() < 1e-15);
        assert_eq!(lut.values[3], 0.5);
        assert!((lut.values[8] - 0.75).abs() < 1e-15);
        assert_eq!(lut.values[13], 1.0);
        assert_eq!(lut.values[15], 1.0);
        // Half to even: 2.5 → 2, 3.5 → 4; clipping at both ends to the index range.
        assert_eq!(lut.lookup(2.5).0, lut.values[5]);
        assert_eq!(lut.lookup(3.5).0, lut.values[7]);
        assert_eq!(lut.lookup(-100.0), (0.0, true));
        assert_eq!(lut.lookup(100.0), (1.0, true));
        // Keys round half to even: 2.5/5 = 0.5 → 0, 7.5/5 = 1.5 → 2 (key 10).
        let l2 = build_lut(&[2.5, 7.5], &[false, true], 5).unwrap();
        assert_eq!(
            l2.groups.iter().map(|g| g.key).collect::<Vec<_>>(),
            vec![0, 10]
        );
    }

    #[test]
    fn lut_reaches_the_last_group_and_handles_one_group() {
        // Negative keys: span 1 (step 1): int(−3 − 0.3) = −3, int(−2 + 0.3) = −1 (exclusive
        // end −2 would drop key −2 in ISF).
        let lut = build_lut(&[-3.0, -2.0], &[false, true], 1).unwrap();
        assert_eq!((lut.index_min, lut.index_max()), (-3, -2));
        // The group at the first index overwrites ISF's 0.
        assert_eq!(lut.values, vec![0.0, 1.0]);
        let one = build_lut(&[4.0, 4.2], &[true, false], 1).unwrap();
        assert_eq!((one.index_min, one.values.clone()), (4, vec![0.5]));
    }

    #[test]
    fn convolution_and_refractory_follow_isf() {
        // ISF's own test in spiking_output.py.
        let mut c = vec![0.0; 6];
        convolve(&[0.0, 1.0, 1.0, 0.0, 0.0, 0.0], &[0.0, 0.0, 1.0], &mut c);
        assert_eq!(c, vec![0.0, 0.0, 1.0, 1.0, 0.0, 0.0]);
        let mut c2 = vec![0.0; 6];
        convolve(&[0.0, 1.0, 1.0, 0.0, 0.0, 0.0], &[0.0, 1.0, 1.0], &mut c2);
        assert_eq!(c2, vec![0.0, 0.0, 1.0, 2.0, 1.0, 0.0]);
        // R = 2: raw 0.5 each bin. able: 1, 0.5, 0.25 (+0 since t−R = −… ), then +spiking[t−2].
        let a = refractory_correction(&[0.5, 0.5, 0.5, 0.5], 2);
        // t0: s=0.5, able1 = 0.5; t1: s=0.25, able2 = 0.25; t2: s=0.125, back=s0=0.5 →
        // able3 = 0.25 − 0.125 + 0.5 = 0.625.
        assert_eq!(a, vec![1.0, 0.5, 0.25, 0.625]);
        assert_eq!(refractory_correction(&[0.3, 0.2], 0), vec![1.0, 1.0]);
    }

    #[test]
    fn discriminant_matches_closed_form() {
        // Two classes in 2-D with known means and pooled covariance.
        let x =
            Array2::from_shape_vec((6, 2), vec![0., 0., 1., 0., 0., 1., 2., 2., 3., 2., 2., 3.])
                .unwrap();
        let y = [false, false, false, true, true, true];
        let d = fit_discriminant(&x, &y, &[0, 1, 2, 3, 4, 5]).unwrap();
        // Class covariances (biased) equal: [[2/9, −1/9], [−1/9, 2/9]]; Sw the same.
        // μ₁ − μ₀ = (2, 2); Sw⁻¹ = 9/3·[[2, 1], [1, 2]]·… → Sw⁻¹(2,2) = (18, 18).
        assert!((d.coef[0] - 18.0).abs() < 1e-9 && (d.coef[1] - 18.0).abs() < 1e-9);
        // Equal priors: intercept = −½(μ₁+μ₀)·coef = −½·(8/3 + 4/3... ) check by symmetry:
        // the midpoint (4/3, 4/3) lies on the boundary.
        let mid = 4.0 / 3.0 * 18.0 * 2.0 + d.intercept;
        assert!(mid.abs() < 1e-9, "{mid}");
        // A constant column makes Sw singular.
        let xc = Array2::from_shape_vec((4, 2), vec![0., 1., 1., 1., 2., 1., 3., 1.]).unwrap();
        assert!(fit_discriminant(&xc, &[false, false, true, true], &[0, 1, 2, 3]).is_none());
    }
}
