//! Reduced models of a cell's spiking (spec 07 §7.6–7.8): a linear filter on binned synaptic
//! input followed by a lookup-table nonlinearity, fitted from `isf run` results and used to
//! predict spike probabilities far faster than the full compartmental model.
//!
//! This module holds what every reduced model shares: the [`Dataset`] (binned activations of
//! one or more stores and keys, one row per trial, with each trial's spike times), windows in
//! time bins, content fingerprints of the inputs, and the error constructors (E0910–E0915).
//! [`lda`] is ISF's LDA-kernel model (§7.6–7.7). The raised-cosine GLM (§7.8, [`glm`],
//! bases in [`cosine`]) reads its own spatiotemporal inputs (`glm::inputs_from_store`).
//!
//! Rows of a dataset are trials. With one store a row is labelled like the store's
//! `sim_trial_index` (`p000000/t000012`); with several stores the label is prefixed by the
//! store's position (`s1:p000000/t000012`), so labels stay unique.

pub mod cosine;
pub mod glm;
pub mod lda;

use crate::analysis::read_events;
use crate::diagnostics::{Code, Diagnostic};
use crate::store::table::row_major;
use crate::store::{Column, Kind, Store};
use ndarray::{Array2, Array3, s};
use sha2::{Digest, Sha256};
use std::collections::HashMap;

/// Missing or misshapen input data (E0910).
pub fn bad_input(m: impl Into<String>) -> Diagnostic {
    Diagnostic::new(Code::E0910, m)
}

/// A window outside the recorded data (E0911), naming the option.
pub fn bad_window(option: &str, m: impl Into<String>) -> Diagnostic {
    Diagnostic::new(Code::E0911, format!("{option}: {}", m.into()))
}

/// An empty or too small class of trials (E0912).
pub fn bad_class(m: impl Into<String>) -> Diagnostic {
    Diagnostic::new(Code::E0912, m)
}

/// An invalid option (E0914), naming it.
pub fn bad_option(option: &str, m: impl Into<String>) -> Diagnostic {
    Diagnostic::new(Code::E0914, format!("{option}: {}", m.into()))
}

/// A stored model that is missing, malformed or does not fit the data (E0915).
pub fn bad_model(m: impl Into<String>) -> Diagnostic {
    Diagnostic::new(Code::E0915, m)
}

fn store_err(e: crate::store::StoreError) -> Diagnostic {
    e.to_diagnostic()
}

/// What to read from each store: binned-activation keys and the spike-time table.
#[derive(Clone, Debug, PartialEq)]
pub struct DataSpec {
    /// Binned-activation tables (`isf analyze synapses` output, e.g.
    /// `S4/analysis/synapse_activation_binned/t1/EI/EXC`), the same keys in every store; the
    /// design matrix puts their windows side by side in this order.
    pub keys: Vec<String>,
    /// Spike-time table (`EXP/events/NAME` or `isf analyze spikes` output); `None`: the
    /// experiment's first events table, else its first `EXP/analysis/spike_times/NAME` (the
    /// experiment is the first component of the first key).
    pub spikes: Option<String>,
    /// Whether the spike times must be present (fitting) or are optional (prediction).
    pub spikes_required: bool,
}

/// One source store of a dataset, for the fitted model's provenance.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Source {
    /// The store's path as given.
    pub path: String,
    /// SHA-256 of the data read from it (keys, trial labels, counts, spike times), hex.
    pub fingerprint: String,
    /// Plan hash of the experiment that produced the keys, when the store records one.
    pub plan_hash: Option<String>,
    /// Trials read.
    pub trials: usize,
    /// Recorded duration, ms: the experiment's `duration` where the plan is stored, else the
    /// binned range.
    pub duration_ms: f64,
}

/// A design matrix (rows = trials) and each key's column block `[a, b)`.
pub type Design = (Array2<f64>, Vec<(usize, usize)>);

/// Binned activations and spike times of trials from one or more stores.
#[derive(Clone, Debug)]
pub struct Dataset {
    /// The activation keys as given (same in every store).
    pub keys: Vec<String>,
    /// Short names of the keys (their last component, e.g. `EXC`, `INH`): kernel names.
    pub names: Vec<String>,
    /// Row labels (see the module documentation).
    pub labels: Vec<String>,
    /// Time bin, ms (the same for every key and store).
    pub bin_ms: f64,
    /// Per key: counts laid out `(trial, distance bin, time bin)`; the distance axis has
    /// length 1 for temporal binning.
    pub activations: Vec<Array3<f64>>,
    /// Spike times per row, ms (empty rows when the spike table was optional and missing).
    pub spike_times: Vec<Vec<f64>>,
    /// The spike-time table read (`None` when optional and absent).
    pub spikes_key: Option<String>,
    /// Where the rows came from, in row order.
    pub sources: Vec<Source>,
}

impl Dataset {
    /// Number of rows (trials).
    pub fn n_rows(&self) -> usize {
        self.labels.len()
    }

    /// Number of time bins of every key.
    pub fn n_t(&self) -> usize {
        self.activations.first().map_or(0, |a| a.shape()[2])
    }

    /// The shortest recorded duration of the sources, ms.
    pub fn duration_ms(&self) -> f64 {
        self.sources
            .iter()
            .map(|s| s.duration_ms)
            .fold(f64::INFINITY, f64::min)
    }

    /// Per row: a spike at `t` with `t0 ≤ t < t1` (ISF's `spike_in_interval`).
    pub fn spike_in(&self, t0_ms: f64, t1_ms: f64) -> Vec<bool> {
        self.spike_times
            .iter()
            .map(|st| st.iter().any(|&t| t >= t0_ms && t < t1_ms))
            .collect()
    }

    /// Spike counts per row and time bin `(rows, n_t)` (bins `[k·bin, (k+1)·bin)`).
    pub fn spike_matrix(&self) -> Array2<f64> {
        let n_t = self.n_t();
        let mut m = Array2::zeros((self.n_rows(), n_t));
        for (r, st) in self.spike_times.iter().enumerate() {
            for &t in st {
                let k = (t / self.bin_ms).floor();
                if k >= 0.0 && (k as usize) < n_t {
                    m[[r, k as usize]] += 1.0;
                }
            }
        }
        m
    }

    /// The design matrix of a window of time bins `[lo, hi)`: the keys' slices side by side
    /// (rows = trials, `keys × (hi − lo)` columns), and each key's column block. Only for
    /// temporally binned keys (one distance bin).
    pub fn design(&self, lo: usize, hi: usize) -> Result<Design, Diagnostic> {
        let w = hi - lo;
        let mut x = Array2::zeros((self.n_rows(), w * self.keys.len()));
        let mut blocks = Vec::new();
        for (k, a) in self.activations.iter().enumerate() {
            if a.shape()[1] != 1 {
                return Err(bad_input(format!(
                    "key '{}' is binned by soma distance ({} distance bins); this model takes \
                     temporal binning",
                    self.keys[k],
                    a.shape()[1]
                ))
                .help(
                    "bin with `isf analyze synapses --group-by EI --bin 1` (no --distance-bin)",
                ));
            }
            x.slice_mut(s![.., k * w..(k + 1) * w])
                .assign(&a.slice(s![.., 0, lo..hi]));
            blocks.push((k * w, (k + 1) * w));
        }
        Ok((x, blocks))
    }

    /// Keep only the rows for which `keep` is true (in order).
    pub fn select(&self, keep: &[bool]) -> Dataset {
        let idx: Vec<usize> = (0..self.n_rows()).filter(|&i| keep[i]).collect();
        Dataset {
            keys: self.keys.clone(),
            names: self.names.clone(),
            labels: idx.iter().map(|&i| self.labels[i].clone()).collect(),
            bin_ms: self.bin_ms,
            activations: self
                .activations
                .iter()
                .map(|a| a.select(ndarray::Axis(0), &idx))
                .collect(),
            spike_times: idx.iter().map(|&i| self.spike_times[i].clone()).collect(),
            spikes_key: self.spikes_key.clone(),
            sources: self.sources.clone(),
        }
    }

    /// Read `spec` from `stores` (given with their paths for the provenance), rows stacked
    /// in store order.
    pub fn load(stores: &[(&Store, String)], spec: &DataSpec) -> Result<Dataset, Diagnostic> {
        if spec.keys.is_empty() {
            return Err(bad_option(
                "--keys",
                "name at least one binned-activation key",
            ));
        }
        let names: Vec<String> = spec
            .keys
            .iter()
            .map(|k| k.rsplit('/').next().unwrap_or(k).to_string())
            .collect();
        for (i, n) in names.iter().enumerate() {
            if names[..i].contains(n) {
                return Err(bad_option(
                    "--keys",
                    format!("two keys end in `{n}`; kernels are named by the last key component"),
                ));
            }
        }
        let mut ds = Dataset {
            keys: spec.keys.clone(),
            names,
            labels: Vec::new(),
            bin_ms: f64::NAN,
            activations: Vec::new(),
            spike_times: Vec::new(),
            spikes_key: None,
            sources: Vec::new(),
        };
        let mut per_key: Vec<Vec<Array3<f64>>> = vec![Vec::new(); spec.keys.len()];
        let multi = stores.len() > 1;
        for (si, (store, path)) in stores.iter().enumerate() {
            let mut hash = Sha256::new();
            let mut labels0: Option<Vec<String>> = None;
            let mut n_t0 = None;
            for (k, key) in spec.keys.iter().enumerate() {
                let b = read_binned(store, path, key)?;
                if ds.bin_ms.is_nan() {
                    ds.bin_ms = b.bin_ms;
                } else if b.bin_ms != ds.bin_ms {
                    return Err(bad_input(format!(
                        "{path}: key '{key}' is binned in {} ms bins, an earlier key in {} ms",
                        b.bin_ms, ds.bin_ms
                    )));
                }
                if let Some(n) = n_t0
                    && n != b.counts.shape()[2]
                {
                    return Err(bad_input(format!(
                        "{path}: key '{key}' has {} time bins, an earlier key {n}",
                        b.counts.shape()[2]
                    )));
                }
                n_t0 = Some(b.counts.shape()[2]);
                if let Some(n) = per_key[k].first().map(|a| a.shape()[2])
                    && n != b.counts.shape()[2]
                {
                    return Err(bad_input(format!(
                        "{path}: key '{key}' has {} time bins, the same key of an earlier store \
                         {n}",
                        b.counts.shape()[2]
                    )));
                }
                // Rows of every key in the order of the first key's labels.
                let counts = match &labels0 {
                    None => {
                        labels0 = Some(b.labels.clone());
                        b.counts
                    }
                    Some(l0) => {
                        let pos: HashMap<&str, usize> = b
                            .labels
                            .iter()
                            .enumerate()
                            .map(|(i, l)| (l.as_str(), i))
                            .collect();
                        let mut idx = Vec::with_capacity(l0.len());
                        for l in l0 {
                            idx.push(*pos.get(l.as_str()).ok_or_else(|| {
                                bad_input(format!(
                                    "{path}: trial {l} of '{}' is missing from '{key}'",
                                    spec.keys[0]
                                ))
                            })?);
                        }
                        if b.labels.len() != l0.len() {
                            return Err(bad_input(format!(
                                "{path}: '{key}' has {} trials, '{}' {}",
                                b.labels.len(),
                                spec.keys[0],
                                l0.len()
                            )));
                        }
                        b.counts.select(ndarray::Axis(0), &idx)
                    }
                };
                hash.update(key.as_bytes());
                hash.update(b.bin_ms.to_le_bytes());
                for x in counts.iter() {
                    hash.update(x.to_le_bytes());
                }
                per_key[k].push(counts);
            }
            let labels = labels0.unwrap_or_default();
            for l in &labels {
                hash.update(l.as_bytes());
                hash.update([0u8]);
            }
            let experiment = spec.keys[0].split('/').next().unwrap_or("");
            let spikes_key = match &spec.spikes {
                Some(k) => Some(k.clone()),
                None => first_events(store, experiment),
            };
            let mut times = vec![Vec::new(); labels.len()];
            match &spikes_key {
                Some(sk) if store.contains(sk) || spec.spikes_required => {
                    let ev = read_events(store, sk)
                        .map_err(|d| bad_input(format!("{path}: {}", d.message)))?;
                    if ev.compartment.is_some() {
                        return Err(bad_input(format!(
                            "{path}: '{sk}' holds spikes of several compartments; give the soma's \
                             spike table"
                        )));
                    }
                    let pos: HashMap<&str, usize> = ev
                        .labels
                        .iter()
                        .enumerate()
                        .map(|(i, l)| (l.as_str(), i))
                        .collect();
                    for (r, l) in labels.iter().enumerate() {
                        let i = *pos.get(l.as_str()).ok_or_else(|| {
                            bad_input(format!(
                                "{path}: trial {l} has binned activations but no row in '{sk}'"
                            ))
                        })?;
                        times[r] = ev.times[i].clone();
                    }
                    hash.update(sk.as_bytes());
                    for st in &times {
                        hash.update((st.len() as u64).to_le_bytes());
                        for t in st {
                            hash.update(t.to_le_bytes());
                        }
                    }
                    ds.spikes_key = Some(sk.clone());
                }
                Some(_) => {}
                None if spec.spikes_required => {
                    return Err(bad_input(format!(
                        "{path}: no spike times: experiment '{experiment}' has no events table"
                    ))
                    .help(
                        "record `spikes(soma, threshold: 0 mV)`, run `isf analyze spikes`, or \
                           give --spikes KEY",
                    ));
                }
                None => {}
            }
            let n_t = per_key[0].last().map_or(0, |a| a.shape()[2]);
            let plan: Option<serde_json::Value> = store.get(&format!("{experiment}/plan")).ok();
            let duration_ms = plan
                .as_ref()
                .and_then(|p| p.get("duration_ms").and_then(|d| d.as_f64()))
                .unwrap_or(n_t as f64 * ds.bin_ms);
            let plan_hash = store.metadata(&spec.keys[0]).ok().and_then(|m| m.plan_hash);
            ds.sources.push(Source {
                path: path.clone(),
                fingerprint: hex::encode(hash.finalize()),
                plan_hash,
                trials: labels.len(),
                duration_ms,
            });
            for (l, t) in labels.into_iter().zip(times) {
                ds.labels.push(if multi { format!("s{si}:{l}") } else { l });
                ds.spike_times.push(t);
            }
        }
        for parts in per_key {
            let views: Vec<_> = parts.iter().map(|a| a.view()).collect();
            ds.activations.push(
                ndarray::concatenate(ndarray::Axis(0), &views)
                    .map_err(|e| bad_input(format!("cannot stack the stores' rows: {e}")))?,
            );
        }
        if ds.n_rows() == 0 {
            return Err(bad_input("the binned-activation keys hold no trials"));
        }
        Ok(ds)
    }
}

/// One binned-activation table.
struct BinnedKey {
    labels: Vec<String>,
    bin_ms: f64,
    counts: Array3<f64>,
}

/// The experiment's first events table, else its first `isf analyze spikes` table.
fn first_events(store: &Store, experiment: &str) -> Option<String> {
    ["events", "analysis/spike_times"].iter().find_map(|sub| {
        let ev = store.sub_existing(&format!("{experiment}/{sub}")).ok()?;
        let mut keys = ev.keys().ok()?;
        keys.sort();
        keys.into_iter()
            .find(|k| ev.kind(k).is_ok_and(|k| k == Kind::Table))
            .map(|k| format!("{experiment}/{sub}/{k}"))
    })
}

/// Read one `isf analyze synapses` table: `sim_trial_index`, `counts` (f64 array), attribute
/// `bin_ms`; rows of one trial repeated per distance bin when binned by distance.
fn read_binned(store: &Store, path: &str, key: &str) -> Result<BinnedKey, Diagnostic> {
    let hint = "bin the activations first: `isf analyze synapses STORE EXP --group-by EI --bin 1`";
    let kind = store.kind(key).map_err(|e| {
        if e.code == Code::E0604 {
            bad_input(format!(
                "{path}: no key '{key}' (binned synapse activations)"
            ))
            .help(hint)
        } else {
            store_err(e)
        }
    })?;
    if kind != Kind::Table {
        return Err(bad_input(format!(
            "{path}: key '{key}' is a {}, not a table of binned activations",
            kind.name()
        ))
        .help(hint));
    }
    let t = store.get_table(key).map_err(store_err)?;
    let (Some(Column::Str(labels)), Some(Column::F64Array(cnt))) =
        (t.column("sim_trial_index"), t.column("counts"))
    else {
        return Err(bad_input(format!(
            "{path}: key '{key}' is not a table of binned activations (no `sim_trial_index` and \
             `counts` columns)"
        ))
        .help(hint));
    };
    let bin_ms = t
        .attrs
        .get("bin_ms")
        .and_then(|v| v.as_f64())
        .filter(|b| *b > 0.0 && b.is_finite())
        .ok_or_else(|| {
            bad_input(format!("{path}: key '{key}' has no `bin_ms` attribute")).help(hint)
        })?;
    // Distance-binned tables repeat each trial's label once per distance bin, consecutively.
    let mut uniq: Vec<String> = Vec::new();
    for l in labels {
        if uniq.last() != Some(l) {
            uniq.push(l.clone());
        }
    }
    let n = uniq.len();
    if n == 0 || labels.len() % n != 0 {
        return Err(bad_input(format!(
            "{path}: key '{key}' holds no trials or uneven rows"
        )));
    }
    let n_z = labels.len() / n;
    let counts = Array3::from_shape_vec((n, n_z, cnt.ncols()), row_major(cnt).into_owned())
        .map_err(|e| bad_input(format!("{path}: key '{key}': {e}")))?;
    Ok(BinnedKey {
        labels: uniq,
        bin_ms,
        counts,
    })
}

/// A time in ms as a whole number of bins, or `None`.
pub fn to_bins(t_ms: f64, bin_ms: f64) -> Option<i64> {
    let k = t_ms / bin_ms;
    let r = k.round();
    ((k - r).abs() < 1e-9 && r.abs() < 1e12).then_some(r as i64)
}

/// NumPy's median (mean of the two middle values for an even count; NaN when empty).
pub fn median(v: &[f64]) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    let n = s.len();
    if n % 2 == 1 {
        s[n / 2]
    } else {
        (s[n / 2 - 1] + s[n / 2]) / 2.0
    }
}

/// Pearson correlation (NaN when either series is constant).
pub fn correlation(a: &[f64], b: &[f64]) -> f64 {
    let n = a.len().min(b.len()) as f64;
    let ma = a.iter().sum::<f64>() / n;
    let mb = b.iter().sum::<f64>() / n;
    let (mut sab, mut saa, mut sbb) = (0.0, 0.0, 0.0);
    for (x, y) in a.iter().zip(b) {
        sab += (x - ma) * (y - mb);
        saa += (x - ma) * (x - ma);
        sbb += (y - mb) * (y - mb);
    }
    sab / (saa * sbb).sqrt()
}

/// ROC-AUC of `score` for the binary labels `y` (the Mann–Whitney statistic with ties counted
/// one half, which is what scikit-learn's `roc_auc_score` computes); `None` when a class is
/// empty.
pub fn roc_auc(y: &[bool], score: &[f64]) -> Option<f64> {
    let n1 = y.iter().filter(|&&b| b).count();
    let n0 = y.len() - n1;
    if n1 == 0 || n0 == 0 {
        return None;
    }
    let mut idx: Vec<usize> = (0..y.len()).collect();
    idx.sort_by(|&a, &b| score[a].total_cmp(&score[b]));
    // Sum of the positives' ranks (1-based, ties given their average rank).
    let mut rank_sum = 0.0;
    let mut i = 0;
    while i < idx.len() {
        let mut j = i;
        while j + 1 < idx.len() && score[idx[j + 1]] == score[idx[i]] {
            j += 1;
        }
        let avg = (i + j) as f64 / 2.0 + 1.0;
        for &k in &idx[i..=j] {
            if y[k] {
                rank_sum += avg;
            }
        }
        i = j + 1;
    }
    let n1f = n1 as f64;
    Some((rank_sum - n1f * (n1f + 1.0) / 2.0) / (n1f * n0 as f64))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auc_counts_ties_half() {
        // Perfect separation, chance, and a tie between a positive and a negative.
        assert_eq!(roc_auc(&[false, true], &[0.0, 1.0]), Some(1.0));
        assert_eq!(roc_auc(&[true, false], &[0.0, 1.0]), Some(0.0));
        assert_eq!(roc_auc(&[true, false], &[1.0, 1.0]), Some(0.5));
        // 2 positives {0.3, 0.8}, 2 negatives {0.1, 0.8}: pairs (0.3>0.1)=1, (0.3<0.8)=0,
        // (0.8>0.1)=1, (0.8=0.8)=½ → 2.5/4.
        assert_eq!(
            roc_auc(&[true, true, false, false], &[0.3, 0.8, 0.1, 0.8]),
            Some(0.625)
        );
        assert_eq!(roc_auc(&[true, true], &[0.3, 0.8]), None);
    }

    #[test]
    fn median_is_numpys() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), 2.5);
        assert!(median(&[]).is_nan());
    }

    #[test]
    fn bins_of_times() {
        assert_eq!(to_bins(255.0, 1.0), Some(255));
        assert_eq!(to_bins(2.5, 0.5), Some(5));
        assert_eq!(to_bins(2.4, 1.0), None);
    }
}
