//! Binning synapse activations by time, soma distance and group (spec 06 §6.9, ISF's
//! `synapse_activation_binning`, and spec 07 §7.4, `spatiotemporal_binning.universal`).
//!
//! Every active synapse of a trial (a row of a `synapse_activations` table) belongs to one
//! group, the values of the chosen [`GroupKey`]s (e.g. `EI` → `EXC`/`INH`, or
//! `celltype`+`proximal` → `L5tt__prox`). For every trial and group the release times are
//! histogrammed over `[0, max_time]` in bins of `bin_ms` (NumPy rules: half-open, the last
//! bin closed, times outside dropped); with a distance bin additionally by
//! `z = ⌊soma_distance/distance_bin⌋`. Unlike ISF, a trial without any activation keeps its
//! (zero) row, so rows always line up with the trials.

use super::hist::{bin_of, edges};
use std::collections::BTreeMap;

/// What a group is made of (ISF's `groupby` columns).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum GroupKey {
    /// The synapse type (population), e.g. `L5tt_C2`.
    Population,
    /// The cell type: the synapse type before its first `_`.
    CellType,
    /// The presynaptic column: the second `_`-separated field of the synapse type.
    Column,
    /// `EXC` or `INH`.
    Ei,
    /// `prox` when the soma distance is below 500 µm, else `dist`.
    Proximal,
    /// The soma-distance bin as text, `0to50`, `50to100`, … (width = the distance bin).
    Distance,
    /// The dendrite label of the synapse's section (`ApicalDendrite`, …).
    Label,
}

impl GroupKey {
    /// Every key with its name on the command line (ISF's column names where there is one).
    pub const NAMES: &'static [(&'static str, GroupKey)] = &[
        ("population", GroupKey::Population),
        ("synapse_type", GroupKey::Population),
        ("celltype", GroupKey::CellType),
        ("presynaptic_column", GroupKey::Column),
        ("EI", GroupKey::Ei),
        ("proximal", GroupKey::Proximal),
        ("binned_somadist", GroupKey::Distance),
        ("dendrite_label", GroupKey::Label),
    ];

    /// The key called `name` (case-insensitive).
    pub fn parse(name: &str) -> Option<GroupKey> {
        GroupKey::NAMES
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, k)| *k)
    }

    /// The name used in store keys.
    pub fn name(self) -> &'static str {
        GroupKey::NAMES
            .iter()
            .find(|(_, k)| *k == self)
            .map_or("?", |(n, _)| n)
    }
}

/// One active synapse of one trial.
#[derive(Clone, Copy, Debug)]
pub struct Activation<'a> {
    pub synapse_type: &'a str,
    pub soma_distance_um: f64,
    pub label: &'a str,
    pub times_ms: &'a [f64],
}

/// How to bin.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BinSpec {
    /// Time bin, ms.
    pub bin_ms: f64,
    /// End of the binned time range, ms (a multiple of `bin_ms`); the range starts at 0.
    pub max_time_ms: f64,
    /// Soma-distance bin, µm: with it, every trial gets one row per distance bin.
    pub distance_bin_um: Option<f64>,
    /// Width of the `binned_somadist` group key, µm (ISF: 50).
    pub somadist_group_um: f64,
}

/// Binned activations.
#[derive(Clone, Debug, PartialEq)]
pub struct Binned {
    /// Time bin edges, ms (`n_t + 1` values).
    pub time_edges: Vec<f64>,
    /// Distance bins per trial (1 without a distance bin): `0 … n_z−1`, `n_z` = largest
    /// distance bin seen in any trial + 1.
    pub n_z: usize,
    /// Per group value: counts laid out `[trial][z][t]`.
    pub groups: BTreeMap<String, Vec<f64>>,
    /// Activation times outside `[0, max_time]` (dropped), and synapses with a negative or
    /// non-finite soma distance under a distance bin (dropped).
    pub dropped: u64,
}

impl Binned {
    /// Number of time bins.
    pub fn n_t(&self) -> usize {
        self.time_edges.len() - 1
    }
}

/// `EXC`/`INH` of a synapse type, decided by the caller.
pub type EiOf<'a> = &'a dyn Fn(&str) -> Option<bool>;

fn num(x: f64) -> String {
    if x.fract() == 0.0 && x.abs() < 1e15 {
        format!("{}", x as i64)
    } else {
        format!("{x}")
    }
}

/// The group value of one synapse: the values of `keys` joined by `__`. `Err` names a
/// synapse type whose excitatory flag is unknown.
pub fn group_value(
    keys: &[GroupKey],
    a: &Activation,
    spec: &BinSpec,
    ei: EiOf,
) -> Result<String, String> {
    let mut parts = Vec::with_capacity(keys.len());
    for k in keys {
        let mut fields = a.synapse_type.split('_');
        parts.push(match k {
            GroupKey::Population => a.synapse_type.to_string(),
            GroupKey::CellType => fields.next().unwrap_or("").to_string(),
            GroupKey::Column => fields.nth(1).unwrap_or("").to_string(),
            GroupKey::Ei => match ei(a.synapse_type) {
                Some(true) => "EXC".into(),
                Some(false) => "INH".into(),
                None => return Err(a.synapse_type.to_string()),
            },
            GroupKey::Proximal => if a.soma_distance_um < 500.0 {
                "prox"
            } else {
                "dist"
            }
            .into(),
            GroupKey::Distance => {
                let w = spec.somadist_group_um;
                let lo = (a.soma_distance_um / w).floor() * w;
                format!("{}to{}", num(lo), num(lo + w))
            }
            GroupKey::Label => a.label.to_string(),
        });
    }
    Ok(parts.join("__"))
}

/// Number of time bins of `spec`, `Err` when `max_time` is not a whole number of bins.
pub fn time_bins(spec: &BinSpec) -> Result<usize, String> {
    if !(spec.bin_ms > 0.0 && spec.bin_ms.is_finite()) {
        return Err(format!("the time bin must be > 0 ms, not {}", spec.bin_ms));
    }
    if !(spec.max_time_ms > 0.0 && spec.max_time_ms.is_finite()) {
        return Err(format!(
            "the time range must end after 0 ms, not at {}",
            spec.max_time_ms
        ));
    }
    let n = spec.max_time_ms / spec.bin_ms;
    if (n - n.round()).abs() > 1e-9 * n.max(1.0) {
        return Err(format!(
            "{} ms is not a whole number of {} ms bins",
            num(spec.max_time_ms),
            num(spec.bin_ms)
        ));
    }
    Ok(n.round() as usize)
}

/// Bin the activations of `trials` (one slice of active synapses per trial, in trial order).
pub fn bin_activations(
    trials: &[Vec<Activation>],
    keys: &[GroupKey],
    spec: &BinSpec,
    ei: EiOf,
) -> Result<Binned, String> {
    let n_t = time_bins(spec)?;
    let te = edges(0.0, spec.bin_ms, n_t);
    let zbin = |d: f64| -> Option<usize> {
        match spec.distance_bin_um {
            None => Some(0),
            Some(w) if d.is_finite() && d >= 0.0 => Some((d / w).floor() as usize),
            Some(_) => None,
        }
    };
    // Group values and the number of distance bins, over all trials.
    let mut n_z = 1;
    let mut tagged: Vec<Vec<(usize, Option<usize>)>> = Vec::with_capacity(trials.len());
    let mut index: BTreeMap<String, usize> = BTreeMap::new();
    let mut order: Vec<String> = Vec::new();
    for tr in trials {
        let mut row = Vec::with_capacity(tr.len());
        for a in tr {
            let g = group_value(keys, a, spec, ei)
                .map_err(|t| format!("cannot tell whether synapse type `{t}` is excitatory"))?;
            let gi = *index.entry(g).or_insert_with_key(|g| {
                order.push(g.clone());
                order.len() - 1
            });
            let z = zbin(a.soma_distance_um);
            if let Some(z) = z {
                n_z = n_z.max(z + 1);
            }
            row.push((gi, z));
        }
        tagged.push(row);
    }
    let stride = n_z * n_t;
    let mut counts: Vec<Vec<f64>> = vec![vec![0.0; trials.len() * stride]; order.len()];
    let mut dropped = 0u64;
    for (ti, (tr, tags)) in trials.iter().zip(&tagged).enumerate() {
        for (a, &(gi, z)) in tr.iter().zip(tags) {
            let Some(z) = z else {
                dropped += a.times_ms.len() as u64;
                continue;
            };
            let base = ti * stride + z * n_t;
            for &t in a.times_ms {
                match bin_of(&te, t) {
                    Some(k) => counts[gi][base + k] += 1.0,
                    None => dropped += 1,
                }
            }
        }
    }
    let groups = order.into_iter().zip(counts).collect();
    Ok(Binned {
        time_edges: te,
        n_z,
        groups,
        dropped,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn act<'a>(ty: &'a str, d: f64, times: &'a [f64]) -> Activation<'a> {
        Activation {
            synapse_type: ty,
            soma_distance_um: d,
            label: "ApicalDendrite",
            times_ms: times,
        }
    }

    fn isf_ei(t: &str) -> Option<bool> {
        crate::network::types::cell_type_excitatory(t.split('_').next().unwrap_or(""))
    }

    const SPEC: BinSpec = BinSpec {
        bin_ms: 1.0,
        max_time_ms: 4.0,
        distance_bin_um: None,
        somadist_group_um: 50.0,
    };

    #[test]
    fn group_values() {
        let a = act("L5tt_C2", 620.0, &[]);
        let v = |k: &[GroupKey]| group_value(k, &a, &SPEC, &isf_ei).unwrap();
        assert_eq!(v(&[GroupKey::Ei]), "EXC");
        assert_eq!(v(&[GroupKey::CellType, GroupKey::Proximal]), "L5tt__dist");
        assert_eq!(v(&[GroupKey::Column]), "C2");
        assert_eq!(v(&[GroupKey::Distance]), "600to650");
        assert_eq!(
            v(&[GroupKey::Population, GroupKey::Label]),
            "L5tt_C2__ApicalDendrite"
        );
        let b = act("L45Peak_C2", 499.9, &[]);
        assert_eq!(
            group_value(&[GroupKey::Ei, GroupKey::Proximal], &b, &SPEC, &isf_ei).unwrap(),
            "INH__prox"
        );
        assert!(group_value(&[GroupKey::Ei], &act("Foo", 1.0, &[]), &SPEC, &isf_ei).is_err());
        assert_eq!(GroupKey::parse("ei"), Some(GroupKey::Ei));
    }

    #[test]
    fn temporal_binning_by_hand() {
        // Trial 0: two excitatory synapses, one inhibitory; trial 1: nothing at all.
        let t0 = vec![
            act("L5tt_C2", 100.0, &[0.0, 0.5, 3.99, 4.0, 4.5]),
            act("VPM_C2", 900.0, &[1.0, 1.0]),
            act("L45Peak_C2", 10.0, &[2.2, -0.1]),
        ];
        let trials = vec![t0, vec![]];
        let b = bin_activations(&trials, &[GroupKey::Ei], &SPEC, &isf_ei).unwrap();
        assert_eq!(b.time_edges, [0.0, 1.0, 2.0, 3.0, 4.0]);
        assert_eq!(b.n_z, 1);
        // 4.0 lands in the last bin (closed); 4.5 and −0.1 are dropped.
        assert_eq!(b.groups["EXC"], [2.0, 2.0, 0.0, 2.0, 0.0, 0.0, 0.0, 0.0]);
        assert_eq!(b.groups["INH"], [0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0]);
        assert_eq!(b.dropped, 2);
    }

    #[test]
    fn spatiotemporal_binning_by_hand() {
        let spec = BinSpec {
            distance_bin_um: Some(50.0),
            ..SPEC
        };
        // z = ⌊d/50⌋: 0 → 0, 49.9 → 0, 120 → 2; bin 1 stays a zero row.
        let t0 = vec![
            act("L5tt_C2", 0.0, &[0.5]),
            act("L5tt_C2", 49.9, &[0.7, 3.0]),
            act("L5tt_C2", 120.0, &[2.0]),
        ];
        let b = bin_activations(&[t0], &[GroupKey::CellType], &spec, &isf_ei).unwrap();
        assert_eq!(b.n_z, 3);
        assert_eq!(
            b.groups["L5tt"],
            [2.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0]
        );
    }

    #[test]
    fn bad_specs() {
        let s = BinSpec {
            max_time_ms: 4.5,
            ..SPEC
        };
        assert!(time_bins(&s).unwrap_err().contains("whole number"));
        let s = BinSpec {
            bin_ms: 0.0,
            ..SPEC
        };
        assert!(time_bins(&s).is_err());
        let s = BinSpec {
            bin_ms: 0.1,
            max_time_ms: 300.0,
            ..SPEC
        };
        assert_eq!(time_bins(&s), Ok(3000));
    }
}
