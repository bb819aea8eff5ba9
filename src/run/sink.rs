//! Writing run results into a store, resumably.
//!
//! Layout under the store (see `docs/store-format.md`, "Runs"):
//!
//! * `EXPERIMENT/trials/p000003_t000012` — one table per finished work item (one row: the
//!   item's point, trial, seed, one `F64Array` column per trace and one `F64List` column per
//!   event list), written atomically. These keys are the source of truth: `--resume` skips
//!   every item whose key exists, so a killed run loses only the trials in flight.
//! * `EXPERIMENT/synapse_activations/p…_t…`, `EXPERIMENT/presynaptic_spikes/p…_t…` — per-trial
//!   tables of network runs, written before the trial key.
//! * `EXPERIMENT/traces/NAME` and `EXPERIMENT/events/NAME` — assembled when every item is
//!   done: one row per work item in run order (`sim_trial_index` = `p000003/t000012`), so a
//!   resumed run ends with exactly the tables of an uninterrupted one.
//!
//! Every key carries metadata: isf version, plan hash, the script, the sweep point and the
//! seed of its trial.

use super::WorkItem;
use super::exec::{ResultSink, TrialOutput};
use crate::diagnostics::{Code, Diagnostic};
use crate::model::Value as MValue;
use crate::store::{Column, Metadata, Store, Table};
use std::collections::{BTreeMap, HashSet};

/// A [`ResultSink`] writing into `STORE/EXPERIMENT/trials`.
pub struct StoreSink {
    trials: Store,
    exp: Store,
    base_meta: Metadata,
    point_of: Box<dyn Fn(u64) -> Vec<(String, MValue)> + Sync + Send>,
}

/// Store key of a work item.
pub fn trial_key(item: &WorkItem) -> String {
    format!("p{:06}_t{:06}", item.point, item.trial)
}

fn parse_trial_key(key: &str, trials_per_point: u64) -> Option<u64> {
    let (p, t) = key.strip_prefix('p')?.split_once("_t")?;
    Some(p.parse::<u64>().ok()? * trials_per_point + t.parse::<u64>().ok()?)
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

impl StoreSink {
    /// Open (or create) the store and the experiment's sub-stores.
    pub fn new(
        store: &Store,
        experiment: &str,
        base_meta: Metadata,
        point_of: Box<dyn Fn(u64) -> Vec<(String, MValue)> + Sync + Send>,
    ) -> Result<StoreSink, Diagnostic> {
        let exp = store.sub(experiment).map_err(store_err)?;
        let trials = exp.sub("trials").map_err(store_err)?;
        Ok(StoreSink {
            trials,
            exp,
            base_meta,
            point_of,
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
        m
    }

    /// Assemble `traces/NAME` and `events/NAME` from all trial keys (in run order).
    pub fn assemble(&self, items: &[WorkItem], dt_ms: f64) -> Result<(), Diagnostic> {
        let mut labels = Vec::with_capacity(items.len());
        let mut traces: BTreeMap<String, (usize, Vec<f64>)> = BTreeMap::new();
        let mut events: BTreeMap<String, Vec<Vec<f64>>> = BTreeMap::new();
        let mut order: Vec<String> = Vec::new();
        for item in items {
            let t = self.trials.get_table(&trial_key(item)).map_err(store_err)?;
            labels.push(format!("p{:06}/t{:06}", item.point, item.trial));
            for (name, col) in &t.columns {
                match col {
                    Column::F64Array { width, data } => {
                        let e = traces.entry(name.clone()).or_insert((*width, Vec::new()));
                        if e.0 != *width {
                            return Err(Diagnostic::new(
                                Code::E0601,
                                format!("trace `{name}` changes length between trials"),
                            ));
                        }
                        e.1.extend_from_slice(data);
                        if !order.contains(name) {
                            order.push(name.clone());
                        }
                    }
                    Column::F64List(rows) => {
                        events
                            .entry(name.clone())
                            .or_default()
                            .extend(rows.iter().cloned());
                    }
                    _ => {}
                }
            }
        }
        let mut meta = self.base_meta.clone();
        meta.seed = None;
        let tr = self.exp.sub("traces").map_err(store_err)?;
        for (name, (width, data)) in traces {
            let times: Vec<f64> = (0..width).map(|k| k as f64 * dt_ms).collect();
            let table = Table::traces(labels.clone(), &times, data)
                .with_attr("recording", rmpv::Value::from(name.as_str()));
            tr.put_table(&column_key(&name), &table, meta.clone())
                .map_err(store_err)?;
        }
        let ev = self.exp.sub("events").map_err(store_err)?;
        for (name, rows) in events {
            let table = Table::new()
                .with("sim_trial_index", Column::Str(labels.clone()))
                .with("times_ms", Column::F64List(rows))
                .with_attr("recording", rmpv::Value::from(name.as_str()));
            ev.put_table(&column_key(&name), &table, meta.clone())
                .map_err(store_err)?;
        }
        Ok(())
    }
}

impl ResultSink for StoreSink {
    fn done(&self) -> Result<HashSet<u64>, Diagnostic> {
        // The number of trials per point is recovered from the base metadata's extra field.
        let per_point: u64 = self
            .base_meta
            .extra
            .get("trials")
            .and_then(|t| t.parse().ok())
            .unwrap_or(1);
        Ok(self
            .trials
            .keys()
            .map_err(store_err)?
            .iter()
            .filter_map(|k| parse_trial_key(k, per_point))
            .collect())
    }

    fn write(&self, item: &WorkItem, out: &TrialOutput) -> Result<(), Diagnostic> {
        let mut t = Table::new()
            .with("point", Column::I64(vec![item.point as i64]))
            .with("trial", Column::I64(vec![item.trial as i64]))
            .with("seed", Column::Str(vec![format!("{:016x}", item.seed)]));
        for (name, v) in &out.traces {
            t = t.with(
                name,
                Column::F64Array {
                    width: v.len(),
                    data: v.clone(),
                },
            );
        }
        for (name, v) in &out.events {
            t = t.with(name, Column::F64List(vec![v.clone()]));
        }
        // Per-trial tables (synapse activations, presynaptic spikes) go first: the trial key
        // is written last, so a trial counts as done only when everything of it is stored.
        for (name, table) in &out.tables {
            let sub = self.exp.sub(&column_key(name)).map_err(store_err)?;
            sub.put_table(&trial_key(item), table, self.meta_for(item))
                .map_err(store_err)?;
        }
        self.trials
            .put_table(&trial_key(item), &t, self.meta_for(item))
            .map_err(store_err)
    }
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
        assert_eq!(parse_trial_key(&trial_key(&it), 5), Some(it.index));
        assert_eq!(parse_trial_key("junk", 5), None);
        assert_eq!(column_key("sites[0].v"), "sites_0_.v");
        assert_eq!(column_key("spikes(soma)"), "spikes_soma_");
    }
}
