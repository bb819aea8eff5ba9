//! Writing run results into a store, resumably, and checking that a store's results belong
//! to one plan.
//!
//! Layout under the store (see `docs/store-format.md` §9):
//!
//! * `EXPERIMENT/plan` — the experiment's plan JSON ([`Plan`]), written before any trial; a
//!   later run compares against it to say what changed.
//! * `EXPERIMENT/trials/p000003_t000012` — one table per finished work item (one row: the
//!   item's point, trial, seed, its sweep values as typed columns ([`super::tables`]), one
//!   `F64Array` column per trace and one `F64List` column per event list), written
//!   atomically. Its metadata carries the item's fingerprint (`extra.item_hash`) and time
//!   step (`extra.dt_ms`). These keys are the source of truth:
//!   `--resume` skips every item whose key exists and reads back intact (checksums and
//!   decoding of the entry and its chunks, as `isf db verify` checks them), so a killed run
//!   loses only the trials in flight and a damaged trial is run again and overwritten.
//! * `EXPERIMENT/synapse_activations/p…_t…`, `EXPERIMENT/presynaptic_spikes/p…_t…` — per-trial
//!   tables of network runs, written before the trial key.
//! * `EXPERIMENT/traces/NAME` and `EXPERIMENT/events/NAME` — assembled once the store holds
//!   every item of the plan: one row per work item in run order (`sim_trial_index` =
//!   `p000003/t000012`, then the trial columns `point`, `trial`, `seed` and the sweep values),
//!   so a resumed or merged run ends with exactly the tables of an
//!   uninterrupted one. When `duration` or `dt` varies between sweep points, `traces/NAME` is a
//!   sub-store with one table per point (`p000003`), each with its own sample times.
//!
//! Every key carries metadata: isf version, plan hash, the script, the sweep point and the
//! seed of its trial.

use super::WorkItem;
use super::exec::{ResultSink, TrialOutput};
use super::fingerprint::{Plan, diff, diff_summary};
use super::tables::{TrialId, id_columns, with_ids};
use crate::diagnostics::{Code, Diagnostic};
use crate::model::Value as MValue;
use crate::store::table::{into_row_major, one_row, precision_attr};
use crate::store::{Column, Kind, Metadata, Store, Table};
use std::collections::{BTreeMap, HashSet};

/// Key of the plan JSON inside an experiment's sub-store.
pub const PLAN_KEY: &str = "plan";

/// Sweep-point values of a point, as the run stage sees them.
pub type PointOf = Box<dyn Fn(u64) -> Vec<(String, MValue)> + Sync + Send>;
/// Time step in ms of a sweep point.
pub type DtOf = Box<dyn Fn(u64) -> f64 + Sync + Send>;

/// A [`ResultSink`] writing into `STORE/EXPERIMENT/trials`.
pub struct StoreSink {
    trials: Store,
    exp: Store,
    base_meta: Metadata,
    plan: Plan,
    point_of: PointOf,
    dt_of_point: DtOf,
    /// Declared precision (step in the trace's unit) by recording name, with every `[i]`
    /// left out (a recording at several places or compartments shares its declaration).
    precision: BTreeMap<String, f64>,
}

/// A recording name without its `[i]` parts: `sites(f)[0].v` → `sites(f).v`,
/// `all_compartments.v[00012]` → `all_compartments.v`.
fn base_name(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut rest = name;
    while let Some(open) = rest.find('[') {
        let after = &rest[open + 1..];
        match after.find(']') {
            Some(close) if close > 0 && after[..close].bytes().all(|b| b.is_ascii_digit()) => {
                out.push_str(&rest[..open]);
                rest = &after[close + 1..];
            }
            _ => {
                out.push_str(&rest[..=open]);
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// What [`StoreSink::check_plan`] found in the store.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stored {
    /// Stored items, all of them items of the new plan with identical fingerprints.
    pub kept: u64,
    /// The stored plan differs from the new one only in trial count or sweep.
    pub extending: bool,
    /// Trial keys whose entry cannot be read (corrupt or truncated): not counted as stored,
    /// run again and overwritten.
    pub damaged: u64,
}

/// Store key of a work item.
pub fn trial_key(item: &WorkItem) -> String {
    format!("p{:06}_t{:06}", item.point, item.trial)
}

/// `(point, trial)` of a trial key, `None` for other names.
fn parse_trial_key(key: &str) -> Option<(u64, u64)> {
    let (p, t) = key.strip_prefix('p')?.split_once("_t")?;
    Some((p.parse().ok()?, t.parse().ok()?))
}

/// A store key component for a recording name (`sites[0].v` → `sites_0_.v`).
pub fn column_key(name: &str) -> String {
    let s: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '_'
            }
        })
        .collect();
    s.trim_start_matches('.').to_string()
}

fn store_err(e: crate::store::StoreError) -> Diagnostic {
    e.to_diagnostic()
}

/// The plan stored in an experiment's sub-store, if any.
pub fn stored_plan(exp: &Store) -> Result<Option<Plan>, Diagnostic> {
    match exp.get::<serde_json::Value>(PLAN_KEY) {
        Ok(j) => Ok(Some(Plan::from_json(j))),
        Err(e) if e.code == Code::E0604 => Ok(None),
        Err(e) => Err(store_err(e)),
    }
}

/// A stored item: `(point, trial)` and its fingerprint (`None` when it has none).
pub type StoredItem = ((u64, u64), Option<String>);

/// Every trial key of an experiment with its stored fingerprint, and the number of trial keys
/// whose entry is corrupt (E0601): those are left out, to be run again.
fn stored_items(exp: &Store) -> Result<(Vec<StoredItem>, u64), Diagnostic> {
    let trials = match exp.sub_existing("trials") {
        Ok(t) => t,
        Err(e) if e.code == Code::E0604 => return Ok((Vec::new(), 0)),
        Err(e) => return Err(store_err(e)),
    };
    let mut out = Vec::new();
    let mut damaged = 0;
    for k in trials.keys().map_err(store_err)? {
        let Some(pt) = parse_trial_key(&k) else {
            continue;
        };
        match trials.metadata(&k) {
            Ok(meta) => out.push((pt, meta.extra.get("item_hash").cloned())),
            Err(e) if e.code == Code::E0601 => damaged += 1,
            Err(e) => return Err(store_err(e)),
        }
    }
    Ok((out, damaged))
}

/// Stored items that do not belong to `plan`: `(outside the plan, different fingerprint)`.
fn mismatches(plan: &Plan, stored: &[StoredItem]) -> (u64, u64) {
    let mut outside = 0;
    let mut different = 0;
    for ((p, t), h) in stored {
        if !plan.contains(*p, *t) {
            outside += 1;
        } else if h.as_deref() != Some(plan.item_hash(*p, *t).as_str()) {
            different += 1;
        }
    }
    (outside, different)
}

/// Read-only check of an experiment's sub-store `exp` against `plan` (`old` is the plan
/// stored there, if any): the stored items and the number of damaged trial keys, or E0612
/// (naming what changed) when a stored item is not an item of `plan` or was computed from a
/// different one. `isf run` calls it before writing; `isf submit` before queueing anything.
pub fn check_stored(
    exp: &Store,
    plan: &Plan,
    old: Option<&Plan>,
) -> Result<(Vec<StoredItem>, u64), Diagnostic> {
    let (stored, damaged) = stored_items(exp)?;
    let (outside, different) = mismatches(plan, &stored);
    if outside + different == 0 {
        return Ok((stored, damaged));
    }
    let name = plan.json.get("name").and_then(|n| n.as_str());
    let mut d = Diagnostic::new(
        Code::E0612,
        format!(
            "{} holds results of `{}` from a different plan; nothing was run",
            exp.path().parent().unwrap_or(exp.path()).display(),
            name.unwrap_or("?")
        ),
    );
    match old {
        Some(old) => {
            let lines = diff(&old.json, &plan.json);
            if !lines.is_empty() {
                d = d.note(format!(
                    "changed since the stored run:\n{}",
                    diff_summary(&lines, 10)
                ));
            }
        }
        None => {
            d = d.note("the stored results carry no plan (written by an older isf)");
        }
    }
    d = d.note(format!(
        "{} stored item(s): {different} with a different fingerprint, {outside} outside the new \
         plan",
        stored.len()
    ));
    Err(d.help(
        "use --overwrite to discard the stored results of this experiment, or --out NEW_STORE",
    ))
}

/// The items of `plan` that `exp` holds with this plan's fingerprint and an entry that
/// reads (a cheap progress count: the trial tables' chunks are not read).
pub fn stored_of_plan(exp: &Store, plan: &Plan) -> Result<HashSet<(u64, u64)>, Diagnostic> {
    let (stored, _) = stored_items(exp)?;
    Ok(stored
        .into_iter()
        .filter(|((p, t), h)| {
            plan.contains(*p, *t) && h.as_deref() == Some(plan.item_hash(*p, *t).as_str())
        })
        .map(|(pt, _)| pt)
        .collect())
}

/// Every `(point, trial)` of a plan, in run order.
pub fn plan_items(plan: &Plan) -> Vec<(u64, u64)> {
    let trials = plan.trials();
    (0..plan.points())
        .flat_map(|p| (0..trials).map(move |t| (p, t)))
        .collect()
}

impl StoreSink {
    /// Open (or create) the store's experiment sub-stores for a run of `plan`.
    /// `dt_of_point` gives each sweep point's time step (recorded with each trial, used to
    /// label trace samples).
    pub fn new(
        store: &Store,
        experiment: &str,
        base_meta: Metadata,
        plan: Plan,
        point_of: PointOf,
        dt_of_point: DtOf,
    ) -> Result<StoreSink, Diagnostic> {
        let exp = store.sub(experiment).map_err(store_err)?;
        let trials = exp.sub("trials").map_err(store_err)?;
        Ok(StoreSink {
            trials,
            exp,
            base_meta,
            plan,
            point_of,
            dt_of_point,
            precision: BTreeMap::new(),
        })
    }

    /// Store the traces of the recordings in `precision` (name → step in the trace's unit,
    /// from `precision:` in the script) rounded to that step: each trial table gets the
    /// attribute `NAME.precision`, and the store keeps every value within half a step.
    pub fn with_precision(mut self, precision: impl IntoIterator<Item = (String, f64)>) -> Self {
        self.precision = precision
            .into_iter()
            .map(|(n, p)| (base_name(&n), p))
            .collect();
        self
    }

    /// Check the store's results of this experiment against the new plan before anything
    /// runs, then record the new plan. Refuses (E0612, naming what changed) when a stored
    /// item is not an item of the new plan or its fingerprint differs; a changed trial count
    /// or sweep that keeps every stored item extends the run.
    pub fn check_plan(&self) -> Result<Stored, Diagnostic> {
        let old = stored_plan(&self.exp)?;
        let (stored, damaged) = check_stored(&self.exp, &self.plan, old.as_ref())?;
        let extending = old.as_ref().is_some_and(|o| o.json != self.plan.json);
        if old.as_ref() != Some(&self.plan) {
            let meta = Metadata {
                plan_hash: Some(self.plan.hash()),
                ..Metadata::default()
            };
            self.exp
                .put_with_meta(PLAN_KEY, &self.plan.json, meta)
                .map_err(store_err)?;
        }
        Ok(Stored {
            kept: stored.len() as u64,
            extending,
            damaged,
        })
    }

    fn meta_for(&self, item: &WorkItem) -> Metadata {
        let mut m = self.base_meta.clone();
        m.seed = Some(item.seed);
        let point: BTreeMap<String, serde_json::Value> = (self.point_of)(item.point)
            .into_iter()
            .map(|(k, v)| (k, serde_json::to_value(v).unwrap_or_default()))
            .collect();
        m.sweep_point = (!point.is_empty()).then_some(point);
        m.extra.insert(
            "item_hash".into(),
            self.plan.item_hash(item.point, item.trial),
        );
        m.extra.insert(
            "dt_ms".into(),
            format!("{}", (self.dt_of_point)(item.point)),
        );
        m
    }

    /// True when the store holds every item of the plan (so tables can be assembled).
    pub fn complete(&self) -> Result<bool, Diagnostic> {
        let done = self.done()?;
        Ok(plan_items(&self.plan).iter().all(|i| done.contains(i)))
    }

    /// Assemble `traces/NAME` and `events/NAME` from all items of the plan (see
    /// [`assemble`]).
    pub fn assemble(&self) -> Result<usize, Diagnostic> {
        assemble(
            &self.exp,
            &self.plan,
            &plan_items(&self.plan),
            self.base_meta.clone(),
        )
    }
}

/// One recorded trace of one item.
struct TraceRow {
    point: u64,
    /// Index of the item's [`TrialId`] in the assembly's list.
    id: usize,
    dt: f64,
    data: Vec<f64>,
    /// The trial table's declared precision of this trace, if any.
    precision: Option<f64>,
}

/// Assemble `traces/NAME` and `events/NAME` of the experiment sub-store `exp` from the trial
/// keys of `items` (in that order), each of which must carry the fingerprint `plan` gives it.
/// Traces with one sample count and time step for all items become one table; otherwise
/// `traces/NAME` is a sub-store of one table per sweep point. Returns the number of items.
pub fn assemble(
    exp: &Store,
    plan: &Plan,
    items: &[(u64, u64)],
    mut meta: Metadata,
) -> Result<usize, Diagnostic> {
    let trials = exp.sub_existing("trials").map_err(store_err)?;
    let plan_dt = plan
        .json
        .get("dt_ms")
        .and_then(serde_json::Value::as_f64)
        .unwrap_or(0.0);
    let mut traces: BTreeMap<String, Vec<TraceRow>> = BTreeMap::new();
    let mut events: BTreeMap<String, (Vec<usize>, Vec<Vec<f64>>)> = BTreeMap::new();
    // Every row carries its trial's identity (`point`, `trial`, `seed`, sweep values), taken
    // from the trial key's metadata, so trial keys of an older isf assemble the same way.
    let mut ids: Vec<TrialId> = Vec::with_capacity(items.len());
    // Wide recordings (`all_compartments`): rows per (item, compartment), one table in all.
    let mut wide: BTreeMap<String, Vec<TraceRow>> = BTreeMap::new();
    let mut comps: BTreeMap<String, Vec<i64>> = BTreeMap::new();
    for &(point, trial) in items {
        let key = format!("p{point:06}_t{trial:06}");
        let m = trials.metadata(&key).map_err(store_err)?;
        // Only items of this plan enter the tables.
        if m.extra.get("item_hash").map(String::as_str) != Some(&plan.item_hash(point, trial)) {
            return Err(Diagnostic::new(
                Code::E0612,
                format!(
                    "key '{}/trials/{key}' was computed from a different plan; tables not \
                     assembled",
                    exp_name(exp)
                ),
            )
            .help("run `isf db verify` on the store; rerun with --overwrite or into a new --out"));
        }
        let dt = m
            .extra
            .get("dt_ms")
            .and_then(|d| d.parse().ok())
            .unwrap_or(plan_dt);
        let id = ids.len();
        ids.push(TrialId::from_meta(point, trial, &m));
        let t = trials.get_table(&key).map_err(store_err)?;
        let attrs = t.attrs;
        let precision_of = |name: &str| {
            attrs
                .get(&precision_attr(name))
                .and_then(rmpv::Value::as_f64)
        };
        for (name, col) in t.columns {
            let precision = precision_of(&name);
            match col {
                Column::F64Array(a) if wide_part(&name).is_some() => {
                    let data = into_row_major(a);
                    let (base, comp) = wide_part(&name).unwrap_or_default();
                    let rows = wide.entry(base.to_string()).or_default();
                    // Compartments of one item arrive together, in order: one row each.
                    rows.push(TraceRow {
                        point,
                        id,
                        dt,
                        data,
                        precision,
                    });
                    comps.entry(base.to_string()).or_default().push(comp);
                }
                Column::F64Array(a) => {
                    let data = into_row_major(a);
                    traces.entry(name).or_default().push(TraceRow {
                        point,
                        id,
                        dt,
                        data,
                        precision,
                    });
                }
                Column::F64List(rows) => {
                    let e = events.entry(name).or_default();
                    e.0.extend(std::iter::repeat_n(id, rows.len()));
                    e.1.extend(rows);
                }
                _ => {}
            }
        }
    }
    meta.seed = None;
    meta.sweep_point = None;
    meta.extra.remove("item_hash");
    meta.extra.remove("dt_ms");
    meta.extra.insert("plan_sha256".into(), plan.hash());
    let tr = exp.sub("traces").map_err(store_err)?;
    for (name, rows) in wide {
        let comp = comps.remove(&name).unwrap_or_default();
        put_traces(&tr, &name, &rows, &ids, Some(&comp), &meta)?;
    }
    for (name, rows) in traces {
        put_traces(&tr, &name, &rows, &ids, None, &meta)?;
    }
    let ev = exp.sub("events").map_err(store_err)?;
    for (name, (of, rows)) in events {
        let row_ids: Vec<&TrialId> = of.iter().map(|&i| &ids[i]).collect();
        let labels = row_ids.iter().map(|i| i.label.clone()).collect();
        let table = with_ids(
            Table::new().with("sim_trial_index", Column::Str(labels)),
            &row_ids,
        )
        .with("times_ms", Column::F64List(rows))
        .with_attr("recording", rmpv::Value::from(name.as_str()));
        ev.put_table(&column_key(&name), &table, meta.clone())
            .map_err(store_err)?;
    }
    Ok(items.len())
}

/// `(recording, compartment)` of a per-compartment trace of a wide recording, named
/// `all_compartments.v[00012]` by the runner (five or more digits in brackets at the end).
fn wide_part(name: &str) -> Option<(&str, i64)> {
    let (base, digits) = name.strip_suffix(']')?.rsplit_once('[')?;
    if base.is_empty() || digits.len() < 5 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some((base, digits.parse().ok()?))
}

/// Store the trace table `traces/NAME` (or, when sample count or time step differ between
/// sweep points, a sub-store of one table per point). With `comp`, the rows are those of a
/// wide recording and get a `compartment` column: one table for every compartment of every
/// item, in chunks, instead of a key per compartment.
fn put_traces(
    tr: &Store,
    name: &str,
    rows: &[TraceRow],
    ids: &[TrialId],
    comp: Option<&[i64]>,
    meta: &Metadata,
) -> Result<(), Diagnostic> {
    let key = column_key(name);
    let uniform = rows
        .iter()
        .all(|r| r.data.len() == rows[0].data.len() && r.dt == rows[0].dt);
    let existing = tr.kind(&key).ok();
    // Rows of the wide recording's `compartment` column, parallel to `rows`.
    let table_of = |idx: &[usize]| -> Result<Table, Diagnostic> {
        let picked: Vec<&TraceRow> = idx.iter().map(|&i| &rows[i]).collect();
        let t = trace_table(name, &picked, ids)?;
        Ok(match comp {
            Some(c) => t.with(
                "compartment",
                Column::I64(idx.iter().map(|&i| c[i]).collect()),
            ),
            None => t,
        })
    };
    if uniform {
        if existing == Some(Kind::Store) {
            tr.delete(&key).map_err(store_err)?;
        }
        let all: Vec<usize> = (0..rows.len()).collect();
        tr.put_table(&key, &table_of(&all)?, meta.clone())
            .map_err(store_err)?;
    } else {
        if existing.is_some_and(|k| k != Kind::Store) {
            tr.delete(&key).map_err(store_err)?;
        }
        let sub = tr.sub(&key).map_err(store_err)?;
        let mut by_point: BTreeMap<u64, Vec<usize>> = BTreeMap::new();
        for (i, r) in rows.iter().enumerate() {
            by_point.entry(r.point).or_default().push(i);
        }
        let mut written = HashSet::new();
        for (point, idx) in by_point {
            let pkey = format!("p{point:06}");
            sub.put_table(&pkey, &table_of(&idx)?, meta.clone())
                .map_err(store_err)?;
            written.insert(pkey);
        }
        // Points of an earlier, larger assembly would otherwise linger.
        for k in sub.keys().map_err(store_err)? {
            if !written.contains(&k) {
                sub.delete(&k).map_err(store_err)?;
            }
        }
    }
    Ok(())
}

fn exp_name(exp: &Store) -> String {
    exp.path()
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// One trace table (ISF layout) from rows sharing sample count and time step.
fn trace_table(name: &str, rows: &[&TraceRow], ids: &[TrialId]) -> Result<Table, Diagnostic> {
    let width = rows.first().map_or(0, |r| r.data.len());
    let dt = rows.first().map_or(0.0, |r| r.dt);
    if let Some(r) = rows.iter().find(|r| r.data.len() != width) {
        return Err(Diagnostic::new(
            Code::E0609,
            format!(
                "trace `{name}` of {} has {} samples, other trials of its sweep point {width}",
                ids[r.id].label,
                r.data.len()
            ),
        ));
    }
    let grid = super::TimeGrid::new(dt);
    let times: Vec<f64> = (0..width).map(|k| grid.at(k)).collect();
    let data: Vec<f64> = rows.iter().flat_map(|r| r.data.iter().copied()).collect();
    // Every row holds `width` samples (checked above), so the shape fits.
    let vm = ndarray::Array2::from_shape_vec((rows.len(), width), data)
        .map_err(|e| Diagnostic::new(Code::E0609, format!("trace `{name}`: {e}")))?;
    let row_ids: Vec<&TrialId> = rows.iter().map(|r| &ids[r.id]).collect();
    let labels = row_ids.iter().map(|i| i.label.clone()).collect();
    let t = with_ids(Table::traces(labels, &times, vm), &row_ids)
        .with_attr("recording", rmpv::Value::from(name))
        .with_attr("dt_ms", rmpv::Value::F64(dt));
    // The trials' rows are already on the grid of their precision (one plan, one precision);
    // the table declares it so that its reader checks the bound too.
    Ok(match rows.first().and_then(|r| r.precision) {
        Some(p) if rows.iter().all(|r| r.precision == Some(p)) => {
            t.with_attr(&precision_attr("vm"), rmpv::Value::F64(p))
        }
        _ => t,
    })
}

/// Check that the run results of every experiment in `store` belong to its stored plan: each
/// trial key is an item of the plan with the fingerprint the plan gives it, and each assembled
/// table was assembled from that plan and lists only stored trials. Experiments stored
/// without a plan (older isf) are not checked. Returns one E0612 diagnostic per problem.
pub fn verify_runs(store: &Store) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    let Ok(keys) = store.keys() else {
        return out;
    };
    for name in keys {
        if store.kind(&name).ok() != Some(Kind::Store) {
            continue;
        }
        let Ok(exp) = store.sub_existing(&name) else {
            continue;
        };
        let plan = match stored_plan(&exp) {
            Ok(Some(p)) => p,
            Ok(None) => continue,
            Err(d) => {
                out.push(d);
                continue;
            }
        };
        let problem = |m: String| Diagnostic::new(Code::E0612, m);
        let stored = match stored_items(&exp) {
            Ok((s, _)) => s,
            Err(d) => {
                out.push(d);
                continue;
            }
        };
        let mut labels = HashSet::new();
        for ((p, t), h) in &stored {
            labels.insert(format!("p{p:06}/t{t:06}"));
            let key = format!("{name}/trials/p{p:06}_t{t:06}");
            if !plan.contains(*p, *t) {
                out.push(problem(format!(
                    "key '{key}': not a work item of the stored plan ({} points x {} trials)",
                    plan.points(),
                    plan.trials()
                )));
            } else if h.is_none() {
                out.push(problem(format!("key '{key}': carries no plan fingerprint")));
            } else if h.as_deref() != Some(plan.item_hash(*p, *t).as_str()) {
                out.push(problem(format!(
                    "key '{key}': computed from a different plan than '{name}/plan'"
                )));
            }
        }
        let mut tables = Vec::new();
        for group in ["traces", "events"] {
            if let Ok(sub) = exp.sub_existing(group) {
                for k in sub.keys_recursive().unwrap_or_default() {
                    tables.push((format!("{group}/{k}"), sub.clone(), k));
                }
            }
        }
        let hash = plan.hash();
        for (rel, sub, k) in tables {
            let key = format!("{name}/{rel}");
            let Ok(meta) = sub.metadata(&k) else {
                continue; // damaged keys are reported by the store check
            };
            if meta.extra.get("plan_sha256") != Some(&hash) {
                out.push(problem(format!(
                    "key '{key}': assembled from another plan than '{name}/plan'"
                )));
                continue;
            }
            if let Ok(t) = sub.get_table(&k)
                && let Some(Column::Str(rows)) = t.column("sim_trial_index")
                && let Some(r) = rows.iter().find(|r| !labels.contains(*r))
            {
                out.push(problem(format!(
                    "key '{key}': row {r} has no trial key in '{name}/trials'"
                )));
            }
        }
    }
    out
}

impl ResultSink for StoreSink {
    /// Items whose trial key reads back intact. A damaged key (corrupt entry or chunk) is
    /// not done: the item runs again and its key is overwritten, which is how `--resume`
    /// repairs it. The full check reads each trial table once (one small chunk per item).
    fn done(&self) -> Result<HashSet<(u64, u64)>, Diagnostic> {
        Ok(self
            .trials
            .keys()
            .map_err(store_err)?
            .iter()
            .filter_map(|k| parse_trial_key(k).filter(|_| self.trials.check_key(k).is_ok()))
            .collect())
    }

    fn write(&self, item: &WorkItem, out: &TrialOutput) -> Result<(), Diagnostic> {
        let meta = self.meta_for(item);
        // `point`, `trial`, `seed` (16 hex digits) and the sweep values as typed columns.
        let (columns, attrs) = id_columns(
            &[&TrialId::from_meta(item.point, item.trial, &meta)],
            "point",
        );
        let mut t = Table {
            columns,
            attrs: attrs.into_iter().collect(),
        };
        for (name, v) in &out.traces {
            t = t.with(name, Column::F64Array(one_row(v.clone())));
            if let Some(&p) = self.precision.get(&base_name(name)) {
                t = t.with_attr(&precision_attr(name), rmpv::Value::F64(p));
            }
        }
        for (name, v) in &out.events {
            t = t.with(name, Column::F64List(vec![v.clone()]));
        }
        // Per-trial tables (synapse activations, presynaptic spikes) go first: the trial key
        // is written last, so a trial counts as done only when everything of it is stored.
        for (name, table) in &out.tables {
            let sub = self.exp.sub(&column_key(name)).map_err(store_err)?;
            sub.put_table(&trial_key(item), table, meta.clone())
                .map_err(store_err)?;
        }
        self.trials
            .put_table(&trial_key(item), &t, meta)
            .map_err(store_err)
    }
}

/// The synapse-activation table of one trial, one row per active synapse in ISF's order (type,
/// then synapse id): `synapse_type`, `synapse_id`, `soma_distance_um`, `section`, `point`,
/// `label`, `release_times_ms` — the columns of ISF's `simulation_run*_synapses.csv`. Runs and
/// `isf db import-isf` both write it, so imported and simulated trials have one layout.
pub fn activation_table(rows: Vec<crate::interop::formats::activation::ActivationRow>) -> Table {
    Table::new()
        .with(
            "synapse_type",
            Column::Str(rows.iter().map(|r| r.synapse_type.clone()).collect()),
        )
        .with(
            "synapse_id",
            Column::I64(rows.iter().map(|r| r.synapse_id).collect()),
        )
        .with(
            "soma_distance_um",
            Column::F64(rows.iter().map(|r| r.soma_distance_um).collect()),
        )
        .with(
            "section",
            Column::I64(rows.iter().map(|r| i64::from(r.section)).collect()),
        )
        .with(
            "point",
            Column::I64(rows.iter().map(|r| i64::from(r.point)).collect()),
        )
        .with(
            "label",
            Column::Str(rows.iter().map(|r| r.label.clone()).collect()),
        )
        .with(
            "release_times_ms",
            Column::F64List(rows.into_iter().map(|r| r.times_ms).collect()),
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_round_trip() {
        let it = WorkItem {
            index: 7 * 5 + 3,
            point: 7,
            trial: 3,
            seed: 1,
        };
        assert_eq!(parse_trial_key(&trial_key(&it)), Some((7, 3)));
        assert_eq!(parse_trial_key("junk"), None);
        assert_eq!(column_key("sites[0].v"), "sites_0_.v");
        assert_eq!(column_key("spikes(soma)"), "spikes_soma_");
    }

    #[test]
    fn base_names_drop_indices() {
        assert_eq!(
            base_name("sites(f.landmarkAscii)[0].v"),
            "sites(f.landmarkAscii).v"
        );
        assert_eq!(base_name("all_compartments.v[00012]"), "all_compartments.v");
        assert_eq!(base_name("soma.v"), "soma.v");
        assert_eq!(base_name("odd[x].v[3]"), "odd[x].v");
    }
}
