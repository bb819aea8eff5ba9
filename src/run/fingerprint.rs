//! Plan fingerprints: what determines each stored work item, so runs of different plans never
//! mix in one store.
//!
//! An experiment's *plan* is its lowered JSON (files replaced by the hash of their bytes, the
//! store location left out) together with the neuron, network and mechanisms it uses. A work
//! item's fingerprint is the SHA-256 of that plan without `trials`, `sweep` and
//! `sweep_points`, plus the item's sweep-point values and seed: adding trials or sweep values
//! keeps the fingerprints of the items already run, any edit that changes what an item
//! simulates changes its fingerprint. Everything here works on `serde_json::Value`, so it
//! follows the model's serde output rather than its Rust types.

use serde_json::{Map, Value as J};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

/// Plan fields that say how many items there are, not what one item simulates.
const COUNT_FIELDS: [&str; 3] = ["trials", "sweep", "sweep_points"];

/// An experiment's plan with the derived fingerprints.
#[derive(Clone, Debug, PartialEq)]
pub struct Plan {
    /// The plan JSON as stored in `EXPERIMENT/plan`.
    pub json: J,
    /// SHA-256 of the plan part every item shares (the plan without the count fields).
    base: String,
}

fn sha(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// True when `name` occurs as a string or an object key anywhere in `v`.
fn mentions(v: &J, name: &str) -> bool {
    match v {
        J::String(s) => s == name,
        J::Array(a) => a.iter().any(|x| mentions(x, name)),
        J::Object(m) => m.iter().any(|(k, x)| k == name || mentions(x, name)),
        _ => false,
    }
}

/// The named element of a model list (`neurons`, `networks`, …), or null.
fn named<'a>(list: &'a J, name: &J) -> Option<&'a J> {
    list.as_array()?
        .iter()
        .find(|x| x.get("name") == Some(name))
}

impl Plan {
    /// The plan of experiment `name` from the whole model's JSON (`serde_json::to_value` of
    /// the model). `None` when there is no such experiment.
    pub fn from_model_json(model: &J, name: &str) -> Option<Plan> {
        let mut exp = named(model.get("experiments")?, &J::from(name))?.clone();
        let neuron = exp
            .get("neuron")
            .and_then(|n| named(model.get("neurons")?, n))
            .cloned()
            .unwrap_or(J::Null);
        let network = exp
            .get("network")
            .and_then(|n| named(model.get("networks")?, n))
            .cloned()
            .unwrap_or(J::Null);
        // Over-including a mechanism only makes fingerprints stricter; missing one would let
        // an edited mechanism pass, so every mechanism whose name appears is taken.
        let mut mechanisms = Map::new();
        for m in model
            .get("mechanisms")
            .and_then(J::as_array)
            .into_iter()
            .flatten()
        {
            let Some(mname) = m.get("name").and_then(J::as_str) else {
                continue;
            };
            if [&exp, &neuron, &network].iter().any(|x| mentions(x, mname)) {
                let mut m = m.clone();
                // Where it was declared (`file:line`) moves with unrelated edits.
                if let Some(o) = m.as_object_mut() {
                    o.remove("origin");
                }
                mechanisms.insert(mname.to_string(), m);
            }
        }
        let mut uses = Map::new();
        uses.insert("neuron".into(), neuron);
        uses.insert("network".into(), network);
        uses.insert("mechanisms".into(), J::Object(mechanisms));
        if let Some(o) = exp.as_object_mut() {
            o.insert(
                "model_version".into(),
                model.get("version").cloned().unwrap_or(J::Null),
            );
            o.insert("uses".into(), J::Object(uses));
            // The arithmetic's revision: trials of two revisions differ in the last bits.
            o.insert("numerics".into(), J::from(crate::kernel::NUMERICS));
        }
        // Axis `path`s name model fields, not files: only their values are content-addressed.
        let sweep = exp.as_object_mut().and_then(|o| o.remove("sweep"));
        crate::model::content_address(&mut exp);
        if let (Some(o), Some(mut sweep)) = (exp.as_object_mut(), sweep) {
            for axis in sweep.as_array_mut().into_iter().flatten() {
                if let Some(v) = axis.get_mut("values") {
                    crate::model::content_address(v);
                }
            }
            o.insert("sweep".into(), sweep);
        }
        Some(Plan::from_json(exp))
    }

    /// A plan as read back from a store.
    pub fn from_json(json: J) -> Plan {
        let mut shared = json.clone();
        if let Some(o) = shared.as_object_mut() {
            for f in COUNT_FIELDS {
                o.remove(f);
            }
        }
        let base = sha(&serde_json::to_vec(&shared).unwrap_or_default());
        Plan { json, base }
    }

    /// SHA-256 of the whole plan (counts included), hex.
    pub fn hash(&self) -> String {
        sha(&serde_json::to_vec(&self.json).unwrap_or_default())
    }

    /// Trials per sweep point.
    pub fn trials(&self) -> u64 {
        self.json.get("trials").and_then(J::as_u64).unwrap_or(1)
    }

    /// The experiment's master seed.
    pub fn seed(&self) -> u64 {
        self.json.get("seed").and_then(J::as_u64).unwrap_or(0)
    }

    /// Sweep axes as `(path, values, group)`.
    fn axes(&self) -> Vec<(String, Vec<J>, u64)> {
        self.json
            .get("sweep")
            .and_then(J::as_array)
            .into_iter()
            .flatten()
            .map(|a| {
                (
                    a.get("path")
                        .and_then(J::as_str)
                        .unwrap_or_default()
                        .to_string(),
                    a.get("values")
                        .and_then(J::as_array)
                        .cloned()
                        .unwrap_or_default(),
                    a.get("group").and_then(J::as_u64).unwrap_or(0),
                )
            })
            .collect()
    }

    /// Axis indices per group, groups in order of first appearance (as [`super::sweep_points`]).
    fn groups(axes: &[(String, Vec<J>, u64)]) -> Vec<Vec<usize>> {
        let mut out: Vec<(u64, Vec<usize>)> = Vec::new();
        for (i, a) in axes.iter().enumerate() {
            match out.iter_mut().find(|(g, _)| *g == a.2) {
                Some((_, v)) => v.push(i),
                None => out.push((a.2, vec![i])),
            }
        }
        out.into_iter().map(|(_, v)| v).collect()
    }

    /// Number of sweep points.
    pub fn points(&self) -> u64 {
        let axes = self.axes();
        Plan::groups(&axes)
            .iter()
            .map(|g| axes[g[0]].1.len() as u64)
            .product::<u64>()
            .max(1)
    }

    /// The values of sweep point `point` by path, as [`super::point_values`] orders them
    /// (first group slowest).
    pub fn point(&self, point: u64) -> BTreeMap<String, J> {
        let axes = self.axes();
        let gs = Plan::groups(&axes);
        let mut rest = point;
        let mut idx = vec![0usize; gs.len()];
        for (k, g) in gs.iter().enumerate().rev() {
            let len = axes[g[0]].1.len().max(1) as u64;
            idx[k] = (rest % len) as usize;
            rest /= len;
        }
        let mut out = BTreeMap::new();
        for (k, g) in gs.iter().enumerate() {
            for &a in g {
                if let Some(v) = axes[a].1.get(idx[k]) {
                    out.insert(axes[a].0.clone(), v.clone());
                }
            }
        }
        out
    }

    /// True when `(point, trial)` is a work item of this plan.
    pub fn contains(&self, point: u64, trial: u64) -> bool {
        point < self.points() && trial < self.trials()
    }

    /// Fingerprint of work item `(point, trial)`: the shared plan, its sweep-point values and
    /// its seed.
    pub fn item_hash(&self, point: u64, trial: u64) -> String {
        let seed = crate::rng::trial_seed(self.seed(), point, trial);
        self.item_hash_with(&self.point(point), seed)
    }

    /// Fingerprint of an item from its sweep-point values and seed (as stored in its
    /// metadata).
    pub fn item_hash_with(&self, point: &BTreeMap<String, J>, seed: u64) -> String {
        let p = serde_json::to_string(point).unwrap_or_default();
        sha(format!("{}\n{p}\n{seed}", self.base).as_bytes())
    }
}

/// Unit suffixes of the typed model's field names (`amp_na`, `delay_ms`) and the unit each
/// stands for: diff lines show `amp: 0.8 nA`, as the script writes it.
const UNIT_SUFFIXES: &[(&str, &str)] = &[
    ("_ohm_cm", "ohm*cm"),
    ("_uf_cm2", "uF/cm2"),
    ("_degc", "degC"),
    ("_ms", "ms"),
    ("_na", "nA"),
    ("_mv", "mV"),
    ("_um", "um"),
    ("_ns", "nS"),
    ("_hz", "Hz"),
    ("_mm", "mM"),
];

/// A field name without its unit suffix, and the unit.
fn split_unit(key: &str) -> (&str, Option<&'static str>) {
    for (suffix, unit) in UNIT_SUFFIXES {
        if let Some(base) = key.strip_suffix(suffix)
            && !base.is_empty()
        {
            return (base, Some(unit));
        }
    }
    (key, None)
}

/// Render a leaf for a diff line: quantities `{value, unit}` and numbers of a field with a
/// unit as `0.8 nA`.
fn show(v: Option<&J>, unit: Option<&str>) -> String {
    match v {
        None => "(absent)".into(),
        Some(J::Object(m)) if m.len() == 2 && m.contains_key("value") && m.contains_key("unit") => {
            let unit = m["unit"].as_str().unwrap_or_default();
            format!("{} {unit}", m["value"]).trim_end().to_string()
        }
        Some(J::Number(n)) => match unit {
            Some(u) if u != "1" && !u.is_empty() => format!("{n} {u}"),
            _ => n.to_string(),
        },
        Some(J::String(s)) => s.clone(),
        Some(x) => {
            let t = x.to_string();
            if t.chars().count() > 60 {
                format!("{}…", t.chars().take(57).collect::<String>())
            } else {
                t
            }
        }
    }
}

fn is_quantity(v: &J) -> bool {
    v.as_object()
        .is_some_and(|m| m.len() == 2 && m.contains_key("value") && m.contains_key("unit"))
}

/// The `name` of every element when all elements of both arrays are objects with distinct
/// names (stimuli, recordings, populations): such arrays diff by name, not position.
fn names(x: &[J], y: &[J]) -> Option<Vec<String>> {
    let mut out: Vec<String> = Vec::new();
    for e in x.iter().chain(y) {
        let n = e.get("name")?.as_str()?.to_string();
        if !out.contains(&n) {
            out.push(n);
        }
    }
    let distinct = |a: &[J]| {
        let mut v: Vec<&str> = a.iter().filter_map(|e| e.get("name")?.as_str()).collect();
        v.sort();
        v.dedup();
        v.len() == a.len()
    };
    (distinct(x) && distinct(y)).then_some(out)
}

fn diff_into(path: &str, a: Option<&J>, b: Option<&J>, unit: Option<&str>, out: &mut Vec<String>) {
    if a == b {
        return;
    }
    let join = |k: &str| {
        if path.is_empty() {
            k.to_string()
        } else {
            format!("{path}.{k}")
        }
    };
    match (a, b) {
        (Some(J::Object(x)), Some(J::Object(y))) if !is_quantity(a.unwrap_or(&J::Null)) => {
            let mut keys: Vec<&String> = x.keys().chain(y.keys()).collect();
            keys.sort();
            keys.dedup();
            // Values listed beside their unit (sweep axes) show it.
            let own_unit = x
                .get("unit")
                .and(y.get("unit"))
                .and_then(|u| u.as_str())
                .or(unit);
            for k in keys {
                let (xa, ya) = (x.get(k), y.get(k));
                // A tagged enum field (`kind: {kind: "step", …}`) reads as its fields.
                let tagged = |v: Option<&J>| v.and_then(|v| v.get(k.as_str())).is_some();
                let (base, u) = split_unit(k);
                let sub = if tagged(xa)
                    && tagged(ya)
                    && xa.and_then(|v| v.get(k.as_str())) == ya.and_then(|v| v.get(k.as_str()))
                {
                    path.to_string()
                } else if k == "name" {
                    join(k)
                } else {
                    join(base)
                };
                diff_into(&sub, xa, ya, u.or(own_unit), out);
            }
        }
        (Some(J::Array(x)), Some(J::Array(y))) => match names(x, y) {
            Some(ns) => {
                for n in ns {
                    let find = |a: &'_ [J]| {
                        a.iter()
                            .find(|e| e.get("name").and_then(|v| v.as_str()) == Some(n.as_str()))
                            .cloned()
                    };
                    let (ea, eb) = (find(x), find(y));
                    diff_into(&join(&n), ea.as_ref(), eb.as_ref(), unit, out);
                }
            }
            None => {
                for i in 0..x.len().max(y.len()) {
                    diff_into(&format!("{path}[{i}]"), x.get(i), y.get(i), unit, out);
                }
            }
        },
        _ => out.push(format!(
            "{}: {} → {}",
            if path.is_empty() { "(plan)" } else { path },
            show(a, unit),
            show(b, unit)
        )),
    }
}

/// What changed from plan `old` to plan `new`, as flattened JSON paths with old → new values
/// (`stimuli.step.amp: 0.8 nA → 1 nA`), in path order.
pub fn diff(old: &J, new: &J) -> Vec<String> {
    let mut out = Vec::new();
    diff_into("", Some(old), Some(new), None, &mut out);
    out
}

/// At most `max` lines of a diff, then how many more there are.
pub fn diff_summary(lines: &[String], max: usize) -> String {
    let mut s: Vec<String> = lines
        .iter()
        .take(max)
        .map(|l| format!("      {l}"))
        .collect();
    if lines.len() > max {
        s.push(format!("      … and {} more", lines.len() - max));
    }
    s.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn model(amp: f64, trials: u64, sweep: &[f64]) -> J {
        json!({
            "version": 1,
            "mechanisms": [
                {"name": "pas", "origin": "a.isf:3", "parameters": []},
                {"name": "unused", "origin": "a.isf:9", "parameters": []}
            ],
            "neurons": [{"name": "Cell", "regions": [{"mechanisms": [{"mechanism": "pas"}]}]}],
            "networks": [],
            "experiments": [{
                "name": "e", "neuron": "Cell", "network": null, "trials": trials, "seed": 3,
                "stimuli": {"step": {"amp": {"value": amp, "unit": "nA"}}},
                "sweep": [{"path": "stimulus.step.amp", "group": 0,
                           "values": sweep.iter().map(|v| json!({"value": v, "unit": "nA"}))
                                          .collect::<Vec<_>>()}],
                "sweep_points": sweep.len(), "store": "out.isfdb"
            }]
        })
    }

    #[test]
    fn counts_do_not_change_item_fingerprints() {
        let a = Plan::from_model_json(&model(0.8, 4, &[0.1, 0.2]), "e").unwrap();
        let b = Plan::from_model_json(&model(0.8, 6, &[0.1, 0.2, 0.3]), "e").unwrap();
        assert_ne!(a.hash(), b.hash());
        assert_eq!(a.item_hash(1, 3), b.item_hash(1, 3));
        assert_eq!((b.points(), b.trials()), (3, 6));
        assert!(b.contains(2, 5) && !a.contains(2, 0));
        let c = Plan::from_model_json(&model(1.0, 4, &[0.1, 0.2]), "e").unwrap();
        assert_ne!(a.item_hash(0, 0), c.item_hash(0, 0));
        assert_eq!(
            diff(&a.json, &c.json),
            ["stimuli.step.amp: 0.8 nA → 1.0 nA"]
        );
        let d = diff(&a.json, &b.json);
        assert!(d.contains(&"trials: 4 → 6".to_string()), "{d:?}");
        assert!(d.contains(&"sweep[0].values[2]: (absent) → 0.3 nA".to_string()));
        // The store location and unused mechanisms do not enter the plan.
        assert!(a.json.get("store").is_none());
        assert!(a.json["uses"]["mechanisms"].get("unused").is_none());
        assert!(a.json["uses"]["mechanisms"]["pas"].get("origin").is_none());
    }

    #[test]
    fn the_arithmetic_revision_is_part_of_every_item() {
        let a = Plan::from_model_json(&model(0.8, 4, &[0.1, 0.2]), "e").unwrap();
        assert_eq!(a.json["numerics"], crate::kernel::NUMERICS);
        // A plan stored by the previous revision: same model, other arithmetic.
        let mut old = a.json.clone();
        old["numerics"] = J::from(crate::kernel::NUMERICS - 1);
        let old = Plan::from_json(old);
        assert_ne!(a.item_hash(0, 0), old.item_hash(0, 0));
        assert_eq!(
            diff(&old.json, &a.json),
            [format!(
                "numerics: {} → {}",
                crate::kernel::NUMERICS - 1,
                crate::kernel::NUMERICS
            )]
        );
    }

    #[test]
    fn point_values_match_the_planner() {
        let p = Plan::from_model_json(&model(0.8, 2, &[0.1, 0.2, 0.3]), "e").unwrap();
        assert_eq!(p.point(2)["stimulus.step.amp"]["value"], 0.3);
        assert_eq!(p.points(), 3);
    }
}
