//! Analyses of run results (spec 07, 06 §6.9) that read tables from a results store and
//! write their results back as ordinary keys: spike detection on traces, PSTHs, ISI and
//! burst statistics, and binned synapse activations. `isf analyze` and the REPL's
//! `:analyze` call the functions here; the numerics live in [`spikes`], [`hist`] and
//! [`synapses`], free of any store.
//!
//! Every result key carries metadata naming what it was computed from
//! (`extra.analysis`, `extra.source`, the parameters) and the plan hash of its source, so
//! `isf db show` tells how a number came about.

pub mod hist;
pub mod spikes;
pub mod synapses;

use crate::diagnostics::{Code, Diagnostic};
use crate::store::table::{f64_rows, labels_attr};
use crate::store::{Column, Kind, Metadata, Store, Table};
use std::collections::BTreeMap;

fn store_err(e: crate::store::StoreError) -> Diagnostic {
    e.to_diagnostic()
}

/// A missing or misshapen analysis input (E0902).
fn bad_input(m: impl Into<String>) -> Diagnostic {
    Diagnostic::new(Code::E0902, m)
}

/// An invalid parameter (E0903), naming the option.
pub fn bad_param(option: &str, m: impl Into<String>) -> Diagnostic {
    Diagnostic::new(Code::E0903, format!("{option}: {}", m.into()))
}

/// A trace table as read from the store: one row per trial (or per trial and compartment).
#[derive(Clone, Debug, Default)]
pub struct Traces {
    /// `sim_trial_index` of each row.
    pub labels: Vec<String>,
    /// Compartment of each row (wide recordings only).
    pub compartment: Option<Vec<i64>>,
    /// Sample times, ms, per row (rows of different sweep points may differ).
    pub times: Vec<std::sync::Arc<Vec<f64>>>,
    /// Samples per row.
    pub rows: Vec<Vec<f64>>,
}

/// Spike-time lists read from an event or spike table.
#[derive(Clone, Debug, Default)]
pub struct Events {
    pub labels: Vec<String>,
    pub compartment: Option<Vec<i64>>,
    pub times: Vec<Vec<f64>>,
}

/// The sweep point of a row label `p000003/t000012` (`p000003`), or `all` for other labels.
pub fn point_of(label: &str) -> &str {
    match label.split_once('/') {
        Some((p, _)) if p.starts_with('p') => p,
        _ => "all",
    }
}

fn times_attr(t: &Table, column: &str, key: &str) -> Result<Vec<f64>, Diagnostic> {
    match t.attrs.get(&labels_attr(column)) {
        Some(rmpv::Value::Array(a)) => a
            .iter()
            .map(|v| v.as_f64())
            .collect::<Option<Vec<f64>>>()
            .ok_or_else(|| bad_input(format!("key '{key}': sample times are not numbers"))),
        _ => Err(bad_input(format!(
            "key '{key}': column `{column}` has no sample times (attribute `{column}.labels`)"
        ))),
    }
}

/// Read a trace table (`EXP/traces/NAME`, as `isf run` assembles it) or a sub-store of such
/// tables (one per sweep point, when `duration` or `dt` is swept).
pub fn read_traces(store: &Store, key: &str) -> Result<Traces, Diagnostic> {
    let tables: Vec<(String, Table)> = match store.kind(key).map_err(store_err)? {
        Kind::Table => vec![(key.to_string(), store.get_table(key).map_err(store_err)?)],
        Kind::Store => {
            let sub = store.sub_existing(key).map_err(store_err)?;
            let mut v = Vec::new();
            for k in sub.keys().map_err(store_err)? {
                if sub.kind(&k).map_err(store_err)? == Kind::Table {
                    v.push((format!("{key}/{k}"), sub.get_table(&k).map_err(store_err)?));
                }
            }
            v
        }
        k => {
            return Err(bad_input(format!(
                "key '{key}' is a {}, not a trace table",
                k.name()
            )));
        }
    };
    let mut out = Traces::default();
    for (k, t) in tables {
        let (width, data) = t
            .columns
            .iter()
            .find_map(|(_, c)| match c {
                Column::F64Array(a) => Some((a.ncols(), a)),
                _ => None,
            })
            .ok_or_else(|| bad_input(format!("key '{k}' has no trace column (f64_array)")))?;
        let col = t
            .columns
            .iter()
            .find(|(_, c)| matches!(c, Column::F64Array(_)))
            .map(|(n, _)| n.clone())
            .unwrap_or_default();
        let times = std::sync::Arc::new(times_attr(&t, &col, &k)?);
        if times.len() != width {
            return Err(bad_input(format!(
                "key '{k}': {} sample times for traces of {width} samples",
                times.len()
            )));
        }
        let labels = labels_of(&t, &k)?;
        for (l, row) in labels.into_iter().zip(data.rows()) {
            out.labels.push(l);
            out.times.push(times.clone());
            out.rows.push(row.to_vec());
        }
        if let Some(Column::I64(c)) = t.column("compartment") {
            out.compartment.get_or_insert_with(Vec::new).extend(c);
        }
    }
    Ok(out)
}

fn labels_of(t: &Table, key: &str) -> Result<Vec<String>, Diagnostic> {
    match t.column("sim_trial_index") {
        Some(Column::Str(l)) => Ok(l.clone()),
        _ => Err(bad_input(format!(
            "key '{key}' has no `sim_trial_index` column"
        ))),
    }
}

/// Read spike or event times: a table with `sim_trial_index` and one `f64_list` column
/// (`times_ms` of `EXP/events/NAME`, `spike_times` of `isf analyze spikes`).
pub fn read_events(store: &Store, key: &str) -> Result<Events, Diagnostic> {
    match store.kind(key).map_err(store_err)? {
        Kind::Table => {}
        k => {
            return Err(bad_input(format!(
                "key '{key}' is a {}, not a table of spike times",
                k.name()
            )));
        }
    }
    let t = store.get_table(key).map_err(store_err)?;
    let times = t
        .columns
        .iter()
        .find_map(|(_, c)| match c {
            Column::F64List(v) => Some(v.clone()),
            _ => None,
        })
        .ok_or_else(|| {
            bad_input(format!(
                "key '{key}' has no column of spike times (f64_list)"
            ))
            .help("give an events table (EXP/events/NAME) or the output of `isf analyze spikes`")
        })?;
    let compartment = match t.column("compartment") {
        Some(Column::I64(c)) => Some(c.clone()),
        _ => None,
    };
    Ok(Events {
        labels: labels_of(&t, key)?,
        compartment,
        times,
    })
}

/// The experiment a key belongs to (its first component) and its last component.
fn parts(key: &str) -> (&str, &str) {
    let exp = key.split('/').next().unwrap_or(key);
    let last = key.rsplit('/').next().unwrap_or(key);
    (exp, last)
}

/// Metadata of a result computed from `source`: its plan hash and the parameters.
fn result_meta(store: &Store, source: &str, analysis: &str, params: &[(&str, String)]) -> Metadata {
    let mut m = Metadata::now();
    if let Ok(src) = store.metadata(source) {
        m.plan_hash = src
            .extra
            .get("plan_sha256")
            .cloned()
            .or(src.plan_hash.clone());
        m.script = None;
    }
    m.extra.insert("analysis".into(), analysis.into());
    m.extra.insert("source".into(), source.into());
    for (k, v) in params {
        m.extra.insert((*k).into(), v.clone());
    }
    m
}

fn opt(x: Option<f64>) -> String {
    x.map_or_else(|| "none".into(), |v| format!("{v}"))
}

fn finite(option: &str, x: Option<f64>) -> Result<(), Diagnostic> {
    match x {
        Some(v) if !v.is_finite() => Err(bad_param(option, format!("{v} is not a finite number"))),
        _ => Ok(()),
    }
}

fn window(t_begin: Option<f64>, t_end: Option<f64>) -> Result<(), Diagnostic> {
    finite("--t-begin", t_begin)?;
    finite("--t-end", t_end)?;
    if let (Some(a), Some(b)) = (t_begin, t_end)
        && b <= a
    {
        return Err(bad_param(
            "--t-end",
            format!("{b} ms is not after --t-begin {a} ms"),
        ));
    }
    Ok(())
}

/// What an analysis wrote.
#[derive(Clone, Debug, PartialEq)]
pub struct Written {
    /// Keys written.
    pub keys: Vec<String>,
    /// A short human summary (one line per sweep point or group).
    pub summary: Vec<String>,
}

/// Parameters of spike detection.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SpikeParams {
    pub threshold_mv: f64,
    pub t_begin: Option<f64>,
    pub t_end: Option<f64>,
    pub mode: spikes::Mode,
}

/// `isf analyze spikes`: detect spikes in every row of the trace table `source`, write a
/// table `sim_trial_index`, (`compartment`), `spike_times` (f64_list), `n_spikes` to `out`
/// (default `EXP/analysis/spike_times/NAME`).
pub fn detect_spikes(
    store: &Store,
    source: &str,
    p: &SpikeParams,
    out: Option<&str>,
) -> Result<Written, Diagnostic> {
    finite("--threshold", Some(p.threshold_mv))?;
    window(p.t_begin, p.t_end)?;
    let tr = read_traces(store, source)?;
    let found: Vec<Vec<f64>> = tr
        .rows
        .iter()
        .zip(&tr.times)
        .map(|(v, t)| spikes::detect(t, v, p.threshold_mv, p.t_begin, p.t_end, p.mode))
        .collect();
    let (exp, name) = parts(source);
    let key = out.map_or_else(
        || format!("{exp}/analysis/spike_times/{name}"),
        String::from,
    );
    let mut t = Table::new().with("sim_trial_index", Column::Str(tr.labels.clone()));
    if let Some(c) = &tr.compartment {
        t = t.with("compartment", Column::I64(c.clone()));
    }
    let n: Vec<i64> = found.iter().map(|s| s.len() as i64).collect();
    t = t
        .with("spike_times", Column::F64List(found))
        .with("n_spikes", Column::I64(n.clone()))
        .with_attr("threshold_mv", rmpv::Value::F64(p.threshold_mv));
    let mode = match p.mode {
        spikes::Mode::Regular => "regular",
        spikes::Mode::Slope => "slope",
    };
    let meta = result_meta(
        store,
        source,
        "spike_times",
        &[
            ("threshold_mv", format!("{}", p.threshold_mv)),
            ("t_begin_ms", opt(p.t_begin)),
            ("t_end_ms", opt(p.t_end)),
            ("mode", mode.into()),
        ],
    );
    store.put_table(&key, &t, meta).map_err(store_err)?;
    let summary = per_point_counts(&tr.labels, &n);
    Ok(Written {
        keys: vec![key],
        summary,
    })
}

/// `point: mean ± sd spikes per row (n rows)` lines.
fn per_point_counts(labels: &[String], n: &[i64]) -> Vec<String> {
    let mut by: BTreeMap<&str, Vec<f64>> = BTreeMap::new();
    for (l, &c) in labels.iter().zip(n) {
        by.entry(point_of(l)).or_default().push(c as f64);
    }
    by.into_iter()
        .map(|(p, v)| {
            let (m, s) = mean_sd(&v);
            format!("{p}: {m:.2} ± {s:.2} spikes per row ({} rows)", v.len())
        })
        .collect()
}

/// Mean and population SD (0 for a single value).
pub fn mean_sd(v: &[f64]) -> (f64, f64) {
    if v.is_empty() {
        return (f64::NAN, f64::NAN);
    }
    let m = v.iter().sum::<f64>() / v.len() as f64;
    let var = v.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / v.len() as f64;
    (m, var.sqrt())
}

/// Parameters of a PSTH.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PsthParams {
    pub bin_ms: f64,
    pub t_begin: Option<f64>,
    pub t_end: Option<f64>,
    pub aligned: bool,
}

/// `isf analyze psth`: one PSTH per sweep point over common bins (spec 07 §7.2, last bin kept),
/// written as a table `point`, `bin_start_ms`, `bin_end_ms`, `count` (spikes summed over the
/// point's trials), `trials`, `spikes_per_trial`, `rate_hz` (default key
/// `EXP/analysis/psth/NAME`).
pub fn psth(
    store: &Store,
    source: &str,
    p: &PsthParams,
    out: Option<&str>,
) -> Result<Written, Diagnostic> {
    if !(p.bin_ms > 0.0 && p.bin_ms.is_finite()) {
        return Err(bad_param(
            "--bin",
            format!("{} ms is not a positive bin", p.bin_ms),
        ));
    }
    window(p.t_begin, p.t_end)?;
    let ev = read_events(store, source)?;
    let all: Vec<f64> = ev.times.iter().flatten().copied().collect();
    let Some(edges) = hist::psth_edges(&all, p.bin_ms, p.t_begin, p.t_end, p.aligned) else {
        return Err(bad_input(format!(
            "key '{source}' holds no spikes; give --t-begin and --t-end for an empty PSTH"
        )));
    };
    if edges.len() > 10_000_001 {
        return Err(bad_param(
            "--bin",
            format!("{} bins are too many", edges.len() - 1),
        ));
    }
    let mut by: BTreeMap<&str, Vec<&[f64]>> = BTreeMap::new();
    for (l, t) in ev.labels.iter().zip(&ev.times) {
        by.entry(point_of(l)).or_default().push(t);
    }
    // Columns of the result table, filled bin by bin.
    let (mut c_point, mut c_lo, mut c_hi) = (Vec::new(), Vec::new(), Vec::new());
    let (mut c_count, mut c_trials) = (Vec::<i64>::new(), Vec::<i64>::new());
    let (mut c_per, mut c_rate) = (Vec::new(), Vec::new());
    let mut summary = Vec::new();
    for (pt, trials) in &by {
        let (counts, per) = hist::psth(trials, &edges);
        let peak = per
            .iter()
            .enumerate()
            .max_by(|a, b| a.1.total_cmp(b.1))
            .map(|(k, _)| k)
            .unwrap_or(0);
        summary.push(format!(
            "{pt}: {} trials, {} spikes in {} bins of {} ms, peak {:.3} spikes/trial at {}–{} ms",
            trials.len(),
            counts.iter().sum::<u64>(),
            counts.len(),
            p.bin_ms,
            per.get(peak).copied().unwrap_or(0.0),
            edges[peak],
            edges[peak + 1]
        ));
        for k in 0..counts.len() {
            c_point.push(pt.to_string());
            c_lo.push(edges[k]);
            c_hi.push(edges[k + 1]);
            c_count.push(counts[k] as i64);
            c_trials.push(trials.len() as i64);
            c_per.push(per[k]);
            c_rate.push(per[k] / (edges[k + 1] - edges[k]) * 1000.0);
        }
    }
    let t = Table::new()
        .with("point", Column::Str(c_point))
        .with("bin_start_ms", Column::F64(c_lo))
        .with("bin_end_ms", Column::F64(c_hi))
        .with("count", Column::I64(c_count))
        .with("trials", Column::I64(c_trials))
        .with("spikes_per_trial", Column::F64(c_per))
        .with("rate_hz", Column::F64(c_rate));
    let (exp, name) = parts(source);
    let key = out.map_or_else(|| format!("{exp}/analysis/psth/{name}"), String::from);
    let meta = result_meta(
        store,
        source,
        "psth",
        &[
            ("bin_ms", format!("{}", p.bin_ms)),
            ("t_begin_ms", format!("{}", edges[0])),
            ("t_end_ms", format!("{}", edges[edges.len() - 1])),
            ("aligned", format!("{}", p.aligned)),
        ],
    );
    store.put_table(&key, &t, meta).map_err(store_err)?;
    Ok(Written {
        keys: vec![key],
        summary,
    })
}

/// Parameters of ISI and burst statistics.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct IsiParams {
    pub burst_isi_ms: f64,
    pub min_burst_spikes: usize,
    pub t_begin: Option<f64>,
    pub t_end: Option<f64>,
}

/// `isf analyze isi`: per row of a spike table, the ISIs and burst statistics
/// ([`spikes::train_stats`]); default key `EXP/analysis/isi/NAME`.
pub fn isi(
    store: &Store,
    source: &str,
    p: &IsiParams,
    out: Option<&str>,
) -> Result<Written, Diagnostic> {
    if !(p.burst_isi_ms > 0.0 && p.burst_isi_ms.is_finite()) {
        return Err(bad_param(
            "--burst-isi",
            format!("{} ms is not a positive interval", p.burst_isi_ms),
        ));
    }
    if p.min_burst_spikes < 2 {
        return Err(bad_param(
            "--min-burst-spikes",
            "a burst has at least 2 spikes",
        ));
    }
    window(p.t_begin, p.t_end)?;
    let ev = read_events(store, source)?;
    let stats: Vec<spikes::TrainStats> = ev
        .times
        .iter()
        .map(|s| spikes::train_stats(s, (p.t_begin, p.t_end), p.burst_isi_ms, p.min_burst_spikes))
        .collect();
    let mut t = Table::new().with("sim_trial_index", Column::Str(ev.labels.clone()));
    if let Some(c) = &ev.compartment {
        t = t.with("compartment", Column::I64(c.clone()));
    }
    let col_i = |f: &dyn Fn(&spikes::TrainStats) -> usize| {
        Column::I64(stats.iter().map(|s| f(s) as i64).collect())
    };
    let col_f = |f: &dyn Fn(&spikes::TrainStats) -> f64| Column::F64(stats.iter().map(f).collect());
    t = t
        .with("n_spikes", col_i(&|s| s.n_spikes))
        .with(
            "isi_ms",
            Column::F64List(stats.iter().map(|s| s.isi_ms.clone()).collect()),
        )
        .with("mean_isi_ms", col_f(&|s| s.mean_isi_ms))
        .with("cv_isi", col_f(&|s| s.cv_isi))
        .with("n_bursts", col_i(&|s| s.n_bursts))
        .with("spikes_in_bursts", col_i(&|s| s.spikes_in_bursts))
        .with(
            "burst_starts_ms",
            Column::F64List(stats.iter().map(|s| s.burst_starts_ms.clone()).collect()),
        );
    let (exp, name) = parts(source);
    let key = out.map_or_else(|| format!("{exp}/analysis/isi/{name}"), String::from);
    let meta = result_meta(
        store,
        source,
        "isi",
        &[
            ("burst_isi_ms", format!("{}", p.burst_isi_ms)),
            ("min_burst_spikes", format!("{}", p.min_burst_spikes)),
            ("t_begin_ms", opt(p.t_begin)),
            ("t_end_ms", opt(p.t_end)),
        ],
    );
    store.put_table(&key, &t, meta).map_err(store_err)?;
    let mut by: BTreeMap<&str, Vec<&spikes::TrainStats>> = BTreeMap::new();
    for (l, s) in ev.labels.iter().zip(&stats) {
        by.entry(point_of(l)).or_default().push(s);
    }
    let summary = by
        .into_iter()
        .map(|(pt, v)| {
            let isis: Vec<f64> = v.iter().flat_map(|s| s.isi_ms.iter().copied()).collect();
            let (m, _) = mean_sd(&isis);
            let bursts: usize = v.iter().map(|s| s.n_bursts).sum();
            format!(
                "{pt}: {} rows, {} intervals, mean ISI {m:.2} ms, {bursts} bursts",
                v.len(),
                isis.len()
            )
        })
        .collect();
    Ok(Written {
        keys: vec![key],
        summary,
    })
}

/// Parameters of synapse-activation binning.
#[derive(Clone, Debug, PartialEq)]
pub struct BinParams {
    pub group_by: Vec<synapses::GroupKey>,
    pub spec: synapses::BinSpec,
    /// Synapse types (or cell types) declared excitatory / inhibitory on the command line;
    /// they take precedence over the plan and ISF's cell-type list.
    pub excitatory: Vec<String>,
    pub inhibitory: Vec<String>,
}

/// Per-trial activation tables of an experiment (`EXP/synapse_activations/p…_t…`, as
/// `record { synapse_activations }` stores them), in run order, labelled `p…/t…`.
pub fn read_activation_trials(
    store: &Store,
    experiment: &str,
) -> Result<Vec<(String, Table)>, Diagnostic> {
    let key = format!("{experiment}/synapse_activations");
    let sub = store.sub_existing(&key).map_err(|e| {
        if e.code == Code::E0604 {
            bad_input(format!("no key '{key}' in the store"))
                .help("record `synapse_activations` in the experiment and run it")
        } else {
            store_err(e)
        }
    })?;
    let mut keys = sub.keys().map_err(store_err)?;
    keys.sort();
    let mut out = Vec::with_capacity(keys.len());
    for k in keys {
        if sub.kind(&k).map_err(store_err)? != Kind::Table {
            continue;
        }
        let label = k.replacen("_t", "/t", 1);
        out.push((label, sub.get_table(&k).map_err(store_err)?));
    }
    Ok(out)
}

/// The synapse types' excitatory flags from a stored plan: `uses.network.populations[].fields.
/// excitatory` where declared, else `gaba` receptors mean inhibitory.
fn plan_ei(store: &Store, experiment: &str) -> BTreeMap<String, bool> {
    let mut out = BTreeMap::new();
    let Ok(plan) = store.get::<serde_json::Value>(&format!("{experiment}/plan")) else {
        return out;
    };
    let pops = plan
        .pointer("/uses/network/populations")
        .and_then(|p| p.as_array())
        .cloned()
        .unwrap_or_default();
    for p in pops {
        let Some(name) = p.get("name").and_then(|n| n.as_str()) else {
            continue;
        };
        let declared = p.pointer("/fields/excitatory").and_then(|e| {
            e.as_bool()
                .or_else(|| e.get("Bool").and_then(|b| b.as_bool()))
        });
        let by_receptor = p
            .get("receptors")
            .and_then(|r| r.as_object())
            .filter(|r| !r.is_empty())
            .map(|r| !r.keys().any(|k| k.contains("gaba")));
        if let Some(e) = declared.or(by_receptor) {
            out.insert(name.to_string(), e);
        }
    }
    out
}

/// `isf analyze synapses`: bin the release times of every trial's active synapses by time
/// (and soma distance) per group; writes one table per group value under
/// `EXP/analysis/synapse_activation_binned/t<bin>[_z<dbin>]/<group keys>` (or `out`): with
/// `sim_trial_index`, (`distance_from_um`, `distance_to_um` with a distance bin) and
/// `counts` (one row of time bins, bin starts in `counts.labels`).
pub fn bin_synapses(
    store: &Store,
    experiment: &str,
    p: &BinParams,
    out: Option<&str>,
) -> Result<Written, Diagnostic> {
    let n_t = synapses::time_bins(&p.spec).map_err(|m| bad_param("--bin/--max-time", m))?;
    if let Some(d) = p.spec.distance_bin_um
        && !(d > 0.0 && d.is_finite())
    {
        return Err(bad_param(
            "--distance-bin",
            format!("{d} um is not a positive bin"),
        ));
    }
    if p.group_by.is_empty() {
        return Err(bad_param("--group-by", "name at least one group key"));
    }
    if n_t > 1_000_000 {
        return Err(bad_param("--bin", format!("{n_t} time bins are too many")));
    }
    let tables = read_activation_trials(store, experiment)?;
    let mut acts: Vec<Vec<synapses::Activation>> = Vec::with_capacity(tables.len());
    for (label, t) in &tables {
        let (Some(Column::Str(ty)), Some(Column::F64(d)), Some(Column::F64List(times))) = (
            t.column("synapse_type"),
            t.column("soma_distance_um"),
            t.column("release_times_ms"),
        ) else {
            return Err(bad_input(format!(
                "'{experiment}/synapse_activations' row set {label} lacks synapse_type, \
                 soma_distance_um or release_times_ms"
            )));
        };
        let lab = match t.column("label") {
            Some(Column::Str(l)) => Some(l),
            _ => None,
        };
        acts.push(
            (0..ty.len())
                .map(|i| synapses::Activation {
                    synapse_type: &ty[i],
                    soma_distance_um: d[i],
                    label: lab.map_or("", |l| l[i].as_str()),
                    times_ms: &times[i],
                })
                .collect(),
        );
    }
    let from_plan = plan_ei(store, experiment);
    let matches = |list: &[String], ty: &str| {
        let cell = ty.split('_').next().unwrap_or(ty);
        list.iter().any(|x| x == ty || x == cell)
    };
    let ei = |ty: &str| -> Option<bool> {
        if matches(&p.excitatory, ty) {
            return Some(true);
        }
        if matches(&p.inhibitory, ty) {
            return Some(false);
        }
        from_plan.get(ty).copied().or_else(|| {
            crate::network::types::cell_type_excitatory(ty.split('_').next().unwrap_or(ty))
        })
    };
    let binned = synapses::bin_activations(&acts, &p.group_by, &p.spec, &ei).map_err(|m| {
        Diagnostic::new(Code::E0904, m)
            .help("name it with --excitatory TYPE or --inhibitory TYPE (a synapse or cell type)")
    })?;
    let groups: Vec<&str> = p.group_by.iter().map(|g| g.name()).collect();
    let base = out.map_or_else(
        || {
            let mut t = format!("t{}", p.spec.bin_ms);
            if let Some(d) = p.spec.distance_bin_um {
                t += &format!("_z{d}");
            }
            format!(
                "{experiment}/analysis/synapse_activation_binned/{t}/{}",
                groups.join("__")
            )
        },
        String::from,
    );
    let labels: Vec<String> = tables.iter().map(|(l, _)| l.clone()).collect();
    let n_t = binned.n_t();
    let starts: Vec<rmpv::Value> = binned.time_edges[..n_t]
        .iter()
        .map(|&x| rmpv::Value::F64(x))
        .collect();
    // Earlier group values of the same binning would otherwise linger beside new ones.
    if store.kind(&base).is_ok() {
        store.delete(&base).map_err(store_err)?;
    }
    let mut keys = Vec::new();
    let mut summary = Vec::new();
    for (g, counts) in &binned.groups {
        let mut t = Table::new();
        if let Some(w) = p.spec.distance_bin_um {
            let n_z = binned.n_z;
            let rows = labels.len() * n_z;
            t = t
                .with(
                    "sim_trial_index",
                    Column::Str(
                        labels
                            .iter()
                            .flat_map(|l| std::iter::repeat_n(l.clone(), n_z))
                            .collect(),
                    ),
                )
                .with(
                    "distance_from_um",
                    Column::F64((0..rows).map(|r| (r % n_z) as f64 * w).collect()),
                )
                .with(
                    "distance_to_um",
                    Column::F64((0..rows).map(|r| (r % n_z + 1) as f64 * w).collect()),
                );
        } else {
            t = t.with("sim_trial_index", Column::Str(labels.clone()));
        }
        t = t
            .with(
                "counts",
                Column::F64Array(f64_rows(n_t, counts.clone()).ok_or_else(|| {
                    bad_input(format!("group {g}: counts are not rows of {n_t} bins"))
                })?),
            )
            .with_attr(&labels_attr("counts"), rmpv::Value::Array(starts.clone()))
            .with_attr("bin_ms", rmpv::Value::F64(p.spec.bin_ms))
            .with_attr("group", rmpv::Value::from(g.as_str()));
        let key = format!("{base}/{}", key_safe(g));
        let meta = result_meta(
            store,
            &format!("{experiment}/synapse_activations"),
            "synapse_activation_binned",
            &[
                ("group_by", groups.join(",")),
                ("group", g.clone()),
                ("bin_ms", format!("{}", p.spec.bin_ms)),
                ("max_time_ms", format!("{}", p.spec.max_time_ms)),
                ("distance_bin_um", opt(p.spec.distance_bin_um)),
            ],
        );
        store.put_table(&key, &t, meta).map_err(store_err)?;
        let total: f64 = counts.iter().sum();
        summary.push(format!(
            "{g}: {total} activations over {} trials",
            labels.len()
        ));
        keys.push(key);
    }
    if binned.dropped > 0 {
        summary.push(format!(
            "{} activation(s) outside [0, {}] ms (or without a soma distance) left out",
            binned.dropped, p.spec.max_time_ms
        ));
    }
    Ok(Written { keys, summary })
}

/// A group value as a store key component: the run's [`column_key`] (characters a key may
/// not hold become `_`), and `_` for a value that leaves nothing.
///
/// [`column_key`]: crate::run::sink::column_key
fn key_safe(g: &str) -> String {
    let s = crate::run::sink::column_key(g);
    if s.is_empty() { "_".into() } else { s }
}
