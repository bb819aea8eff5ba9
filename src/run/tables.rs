//! The trial columns of run tables: which trial a row belongs to, as typed columns.
//!
//! Every row of a trial table (`EXP/trials/p…_t…`) and of the trace and event tables a run
//! assembles carries, beside its `sim_trial_index` label, the trial's sweep point (`point`,
//! `i64`), trial number (`trial`, `i64`), seed (`seed`, 16 hex digits) and its sweep values as
//! typed columns named by the sweep axis and its canonical unit (`stimulus.step.amp_nA`,
//! `f64`), so rows can be selected by sweep value instead of by label. The table's attributes
//! say which columns these are (`trial_columns`, `sweep_columns`) and their units
//! (`<column>.unit`). See `docs/store-format.md` §9.
//!
//! Tables stored before these columns existed (older isf, ISF imports, per-trial tables such
//! as synapse activations, analysis results keyed by `sim_trial_index`) get the same columns
//! at export time from the store: [`complete`] reads them from the key's metadata or from the
//! experiment's trial keys, so every export path sees one layout.

use crate::store::table::labels_attr;
use crate::store::{Column, Kind, Metadata, Store, Table};
use rmpv::Value;
use std::collections::BTreeMap;

/// Attribute listing the trial columns of a table (`point`, `trial`, `seed`, sweep columns).
pub const TRIAL_COLUMNS: &str = "trial_columns";
/// Attribute listing the sweep-value columns of a table.
pub const SWEEP_COLUMNS: &str = "sweep_columns";

/// Attribute holding the unit of a column: `<column>.unit`.
pub fn unit_attr(column: &str) -> String {
    format!("{column}.unit")
}

/// One sweep value as a table cell.
#[derive(Clone, Debug, PartialEq)]
pub enum Cell {
    F64(f64),
    Str(String),
}

/// A sweep value's column: name (axis path and unit), unit and value.
#[derive(Clone, Debug, PartialEq)]
pub struct SweepCell {
    pub name: String,
    pub unit: String,
    pub value: Cell,
}

/// `path_unit`, or `path` for dimensionless values.
fn with_unit(path: &str, unit: &str) -> String {
    if unit.is_empty() || unit == "1" {
        path.to_string()
    } else {
        format!("{path}_{unit}")
    }
}

/// A number with its unit as stored in `meta.sweep_point` (`{"value": 0.4, "unit": "nA"}`)
/// or a bare number.
fn number(v: &serde_json::Value) -> Option<(f64, String)> {
    if let Some(x) = v.as_f64() {
        return Some((x, String::new()));
    }
    let x = v.get("value")?.as_f64()?;
    let unit = v.get("unit").and_then(|u| u.as_str()).unwrap_or("");
    Some((x, unit.to_string()))
}

/// The typed columns of a sweep point as `meta.sweep_point` stores it (axis path → value with
/// unit), in path order: a number becomes an `f64` column `path_unit`; a distance range two
/// columns `path.from_um`, `path.to_um`; a list of regions a string column `path`
/// (comma-separated); anything else its JSON text.
pub fn sweep_cells(point: &BTreeMap<String, serde_json::Value>) -> Vec<SweepCell> {
    let mut out = Vec::new();
    for (path, v) in point {
        if let Some((x, unit)) = number(v) {
            out.push(SweepCell {
                name: with_unit(path, &unit),
                unit,
                value: Cell::F64(x),
            });
            continue;
        }
        if let Some(items) = v.as_array() {
            if let [a, b] = items.as_slice()
                && let (Some((x, ux)), Some((y, uy))) = (number(a), number(b))
            {
                for (end, x, u) in [("from", x, ux), ("to", y, uy)] {
                    out.push(SweepCell {
                        name: with_unit(&format!("{path}.{end}"), &u),
                        unit: u,
                        value: Cell::F64(x),
                    });
                }
                continue;
            }
            if let Some(names) = items.iter().map(|s| s.as_str()).collect::<Option<Vec<_>>>() {
                out.push(SweepCell {
                    name: path.clone(),
                    unit: String::new(),
                    value: Cell::Str(names.join(",")),
                });
                continue;
            }
        }
        let text = match v {
            serde_json::Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        out.push(SweepCell {
            name: path.clone(),
            unit: String::new(),
            value: Cell::Str(text),
        });
    }
    out
}

/// Table attributes as `(name, value)` pairs.
pub type Attrs = Vec<(String, Value)>;

/// Who a row belongs to.
#[derive(Clone, Debug, PartialEq)]
pub struct TrialId {
    /// `pPPPPPP/tTTTTTT`.
    pub label: String,
    pub point: i64,
    pub trial: i64,
    /// The trial's seed as 16 hex digits (empty when unknown).
    pub seed: String,
    pub sweep: Vec<SweepCell>,
}

impl TrialId {
    /// The identity of item `(point, trial)` from its trial key's metadata (`seed`,
    /// `sweep_point`).
    pub fn from_meta(point: u64, trial: u64, meta: &Metadata) -> TrialId {
        TrialId {
            label: format!("p{point:06}/t{trial:06}"),
            point: point as i64,
            trial: trial as i64,
            seed: meta.seed.map_or(String::new(), |s| format!("{s:016x}")),
            sweep: meta
                .sweep_point
                .as_ref()
                .map(sweep_cells)
                .unwrap_or_default(),
        }
    }
}

/// `(point, trial)` of a label `pPPPPPP/tTTTTTT` or a key `pPPPPPP_tTTTTTT`.
pub fn parse_label(label: &str) -> Option<(u64, u64)> {
    let rest = label.strip_prefix('p')?;
    let (p, t) = rest.split_once("/t").or_else(|| rest.split_once("_t"))?;
    if p.is_empty() || t.is_empty() || !(p.bytes().chain(t.bytes())).all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some((p.parse().ok()?, t.parse().ok()?))
}

/// The trial columns of `rows` (`point`, `trial`, `seed`, then the sweep columns of the
/// first row, in order) and the attributes naming them and their units. A sweep column a
/// row lacks is NaN or empty there; `point_name` is `point`, or `sweep_point` where the
/// table has a `point` column of its own (synapse activations: the section point).
pub fn id_columns(rows: &[&TrialId], point_name: &str) -> (Vec<(String, Column)>, Attrs) {
    let mut cols = vec![
        (
            point_name.to_string(),
            Column::I64(rows.iter().map(|r| r.point).collect()),
        ),
        (
            "trial".to_string(),
            Column::I64(rows.iter().map(|r| r.trial).collect()),
        ),
        (
            "seed".to_string(),
            Column::Str(rows.iter().map(|r| r.seed.clone()).collect()),
        ),
    ];
    let mut attrs = Vec::new();
    let mut sweep_names = Vec::new();
    for c in rows.first().map(|r| r.sweep.as_slice()).unwrap_or_default() {
        fn get<'a>(r: &'a TrialId, name: &str) -> Option<&'a Cell> {
            r.sweep.iter().find(|s| s.name == name).map(|s| &s.value)
        }
        let col = match c.value {
            Cell::F64(_) => Column::F64(
                rows.iter()
                    .map(|r| match get(r, &c.name) {
                        Some(Cell::F64(x)) => *x,
                        _ => f64::NAN,
                    })
                    .collect(),
            ),
            Cell::Str(_) => Column::Str(
                rows.iter()
                    .map(|r| match get(r, &c.name) {
                        Some(Cell::Str(s)) => s.clone(),
                        Some(Cell::F64(x)) => x.to_string(),
                        None => String::new(),
                    })
                    .collect(),
            ),
        };
        if !c.unit.is_empty() {
            attrs.push((unit_attr(&c.name), Value::from(c.unit.as_str())));
        }
        sweep_names.push(c.name.clone());
        cols.push((c.name.clone(), col));
    }
    let names = |v: Vec<String>| Value::Array(v.into_iter().map(Value::from).collect());
    let trial_cols: Vec<String> = cols.iter().map(|(n, _)| n.clone()).collect();
    attrs.push((TRIAL_COLUMNS.to_string(), names(trial_cols)));
    attrs.push((SWEEP_COLUMNS.to_string(), names(sweep_names)));
    (cols, attrs)
}

/// `t` with the trial columns of `rows` inserted after its first column (`sim_trial_index`)
/// and their attributes.
pub fn with_ids(mut t: Table, rows: &[&TrialId]) -> Table {
    let point_name = if t.column("point").is_some() {
        "sweep_point"
    } else {
        "point"
    };
    let (cols, attrs) = id_columns(rows, point_name);
    let at = usize::from(!t.columns.is_empty());
    t.columns.splice(at..at, cols);
    t.attrs.extend(attrs);
    t
}

/// The names listed in a string-array attribute.
pub fn names_attr(t: &Table, attr: &str) -> Vec<String> {
    match t.attrs.get(attr) {
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(|v| v.as_str().map(str::to_string))
            .collect(),
        _ => Vec::new(),
    }
}

/// The nearest sub-store at or above `key`'s parent that holds a `trials` sub-store: the
/// experiment a table of run results belongs to (`EXP` for `EXP/traces/soma.v`).
fn experiment_of(store: &Store, key: &str) -> Option<Store> {
    let parts: Vec<&str> = key.split('/').collect();
    for n in (0..parts.len()).rev() {
        let sub = if n == 0 {
            store.clone()
        } else {
            store.sub_existing(&parts[..n].join("/")).ok()?
        };
        if sub.kind("trials").ok() == Some(Kind::Store) {
            return sub.sub_existing("trials").ok();
        }
    }
    None
}

/// Complete a stored table with its trial columns for export (see the module note): a table
/// that has them is returned as is (a trial table gains `sim_trial_index` from its key); a
/// table with `sim_trial_index` gets them from the experiment's trial keys; a per-trial
/// table (key `p…_t…`, e.g. `EXP/synapse_activations/p000001_t000003`) gets them from its
/// metadata, the same on every row. Array columns without sample times get the times of the
/// trial's grid (`meta.extra.dt_ms`). Other tables are returned unchanged.
pub fn complete(store: &Store, key: &str, mut t: Table, meta: &Metadata) -> Table {
    let rows = t.rows().unwrap_or(0);
    let last = key.rsplit('/').next().unwrap_or(key);
    let own = parse_label(last);
    // Sample times from the trial's time step, where the table does not carry them.
    if let Some(dt) = meta.extra.get("dt_ms").and_then(|d| d.parse::<f64>().ok()) {
        let grid = super::TimeGrid::new(dt);
        for (name, col) in &t.columns {
            if let Column::F64Array(a) = col
                && !t.attrs.contains_key(&labels_attr(name))
            {
                let times = (0..a.ncols()).map(|k| Value::F64(grid.at(k))).collect();
                t.attrs.insert(labels_attr(name), Value::Array(times));
            }
        }
    }
    let has_ids = t.column("trial").is_some() && t.column("seed").is_some();
    if has_ids && t.attrs.contains_key(TRIAL_COLUMNS) {
        if t.column("sim_trial_index").is_none()
            && let Some((p, tr)) = own
        {
            t.columns.insert(
                0,
                (
                    "sim_trial_index".into(),
                    Column::Str(vec![format!("p{p:06}/t{tr:06}"); rows]),
                ),
            );
        }
        return t;
    }
    if let Some(Column::Str(labels)) = t.column("sim_trial_index") {
        let Some(trials) = experiment_of(store, key) else {
            return t;
        };
        let mut cache: BTreeMap<String, TrialId> = BTreeMap::new();
        for l in labels {
            if cache.contains_key(l) {
                continue;
            }
            let id = match parse_label(l) {
                Some((p, tr)) => {
                    let m = trials
                        .metadata(&format!("p{p:06}_t{tr:06}"))
                        .unwrap_or_default();
                    TrialId::from_meta(p, tr, &m)
                }
                None => TrialId {
                    label: l.clone(),
                    point: -1,
                    trial: -1,
                    seed: String::new(),
                    sweep: Vec::new(),
                },
            };
            cache.insert(l.clone(), id);
        }
        let ids: Vec<&TrialId> = labels.iter().map(|l| &cache[l]).collect();
        // Earlier trial tables (`point`, `trial`, `seed` without sweep columns) keep theirs.
        let drop: Vec<&str> = if has_ids {
            vec!["point", "trial", "seed"]
        } else {
            vec![]
        };
        let ids: Vec<TrialId> = ids.into_iter().cloned().collect();
        let refs: Vec<&TrialId> = ids.iter().collect();
        t.columns.retain(|(n, _)| !drop.contains(&n.as_str()));
        return with_ids(t, &refs);
    }
    let Some((p, tr)) = own else {
        return t;
    };
    if meta.seed.is_none() && meta.sweep_point.is_none() && !has_ids {
        return t;
    }
    let id = TrialId::from_meta(p, tr, meta);
    if has_ids {
        // An earlier trial table: its own `point`, `trial`, `seed` make way for the full set.
        t.columns
            .retain(|(n, _)| !matches!(n.as_str(), "point" | "trial" | "seed"));
    }
    t.columns.insert(
        0,
        (
            "sim_trial_index".into(),
            Column::Str(vec![id.label.clone(); rows]),
        ),
    );
    let ids = vec![&id; rows];
    with_ids(t, &ids)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sweep_values_become_typed_columns() {
        let point: BTreeMap<String, serde_json::Value> = serde_json::from_str(
            r#"{"stimulus.step.amp": {"value": 0.4, "unit": "nA"},
                "syn.distance": [{"value": 10, "unit": "um"}, {"value": 20.5, "unit": "um"}],
                "syn.regions": ["basal", "apical"],
                "n": {"value": 3, "unit": "1"}}"#,
        )
        .unwrap();
        let c = sweep_cells(&point);
        let names: Vec<&str> = c.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "n",
                "stimulus.step.amp_nA",
                "syn.distance.from_um",
                "syn.distance.to_um",
                "syn.regions"
            ]
        );
        assert_eq!(c[1].value, Cell::F64(0.4));
        assert_eq!(c[1].unit, "nA");
        assert_eq!(c[3].value, Cell::F64(20.5));
        assert_eq!(c[4].value, Cell::Str("basal,apical".into()));
    }

    #[test]
    fn labels_and_columns() {
        assert_eq!(parse_label("p000003/t000012"), Some((3, 12)));
        assert_eq!(parse_label("p000003_t000012"), Some((3, 12)));
        assert_eq!(parse_label("p3/x"), None);
        assert_eq!(parse_label("p/t1"), None);
        let meta = Metadata {
            seed: Some(0xab),
            sweep_point: Some(
                serde_json::from_str(r#"{"a": {"value": 1.5, "unit": "ms"}}"#).unwrap(),
            ),
            ..Metadata::default()
        };
        let id = TrialId::from_meta(2, 5, &meta);
        assert_eq!(id.seed, "00000000000000ab");
        let t = Table::new()
            .with("sim_trial_index", Column::Str(vec![id.label.clone()]))
            .with("point", Column::I64(vec![7]));
        let t = with_ids(t, &[&id]);
        let names: Vec<&str> = t.columns.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names,
            [
                "sim_trial_index",
                "sweep_point",
                "trial",
                "seed",
                "a_ms",
                "point"
            ]
        );
        assert_eq!(names_attr(&t, SWEEP_COLUMNS), ["a_ms"]);
        assert_eq!(t.attrs.get("a_ms.unit"), Some(&Value::from("ms")));
    }
}
