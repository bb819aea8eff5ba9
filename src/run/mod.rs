//! Planning a run: sweep points × trials as independent work items, their seeds, and shards.
//!
//! Everything here is a pure function of the lowered experiment, so any process — a second
//! thread, a resumed run, a cluster array task — derives the same work items, the same seeds
//! and the same shard membership without talking to the others.

use crate::model::sweep::{SweepTarget, SweepValue, groups, sweep_points};
use crate::model::{ExperimentModel, SweepAxisModel, Value};
use crate::rng::trial_seed;
use serde::Serialize;

pub mod cellsim;
pub mod exec;
pub mod fingerprint;
pub mod receptors;
pub mod sink;
pub mod slurm;
pub mod tables;

/// One simulation to run: a sweep point and a trial, with its seed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct WorkItem {
    /// Position in the run, `point * trials + trial`.
    pub index: u64,
    pub point: u64,
    pub trial: u64,
    /// Seed of this trial's random streams (see [`crate::rng::stream_seed`]).
    pub seed: u64,
}

/// The value index of every axis at sweep point `point`. The first group varies slowest
/// (row-major order).
fn point_indices(axes: &[SweepAxisModel], point: u64) -> Vec<usize> {
    let gs = groups(axes);
    let mut rest = point;
    let mut idx = vec![0usize; axes.len()];
    for g in gs.iter().rev() {
        let len = axes[g[0]].values.len().max(1) as u64;
        for &a in g {
            idx[a] = (rest % len) as usize;
        }
        rest /= len;
    }
    idx
}

/// The typed settings of one sweep point: `(target, value)` for every axis, in axis order.
pub fn point_settings(axes: &[SweepAxisModel], point: u64) -> Vec<(&SweepTarget, &SweepValue)> {
    point_indices(axes, point)
        .into_iter()
        .zip(axes)
        .filter_map(|(i, a)| a.values.get(i).map(|v| (&a.target, v)))
        .collect()
}

/// The parameter values of one sweep point for people and stored metadata: `(path, value
/// with its unit)` for every axis.
pub fn point_values(axes: &[SweepAxisModel], point: u64) -> Vec<(String, Value)> {
    let num = |value: f64, unit: &str| Value::Num {
        value,
        unit: unit.to_string(),
    };
    point_indices(axes, point)
        .into_iter()
        .zip(axes)
        .filter_map(|(i, a)| {
            let v = match a.values.get(i)? {
                SweepValue::Num(x) => num(*x, &a.unit),
                SweepValue::Pair(x, y) => Value::List(vec![num(*x, "um"), num(*y, "um")]),
                SweepValue::Regions(r) => Value::List(r.iter().cloned().map(Value::Str).collect()),
            };
            Some((a.path.clone(), v))
        })
        .collect()
}

/// All work items of an experiment, in run order.
pub fn work_items(exp: &ExperimentModel) -> Vec<WorkItem> {
    let points = sweep_points(&exp.sweep);
    // The checker refuses more than `rules::limits().work_items`; the capacity is only a hint
    // and must not overflow or abort for a model that bypassed it.
    let n = points.saturating_mul(exp.trials);
    let mut v = Vec::with_capacity(n.min(1 << 20) as usize);
    for point in 0..points {
        for trial in 0..exp.trials {
            v.push(WorkItem {
                index: point.saturating_mul(exp.trials).saturating_add(trial),
                point,
                trial,
                seed: trial_seed(exp.seed, point, trial),
            });
        }
    }
    v
}

/// A deterministic subset of the work: shard `k` of `n` (1-based, as in `--shard 2/8`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shard {
    pub k: u64,
    pub n: u64,
}

impl Shard {
    /// Parse `K/N` with `1 <= K <= N`.
    pub fn parse(s: &str) -> Result<Shard, String> {
        let (k, n) = s
            .split_once('/')
            .ok_or_else(|| format!("expected K/N, e.g. 2/8, found `{s}`"))?;
        let k: u64 = k
            .trim()
            .parse()
            .map_err(|_| format!("bad shard number `{k}`"))?;
        let n: u64 = n
            .trim()
            .parse()
            .map_err(|_| format!("bad shard count `{n}`"))?;
        if n == 0 || k == 0 || k > n {
            return Err(format!("shard {k}/{n}: need 1 <= K <= N"));
        }
        Ok(Shard { k, n })
    }

    /// True when the item belongs to this shard (round robin over item indices, so every
    /// shard gets a similar mix of sweep points).
    pub fn contains(&self, item: &WorkItem) -> bool {
        item.index % self.n == self.k - 1
    }
}

/// Sample times of a trial's grid, `k·dt`, as the decimal numbers a user reads: with
/// `dt = 0.025 ms` sample 3 is `0.075`, not `3 × 0.025 = 0.07500000000000001`.
///
/// When `dt` is a short decimal (`m / 10^d` for an integer `m` and `d ≤ 9`), `t_k` is the
/// double nearest to the decimal `k·m / 10^d`: the integer product is exact below 2^53 and the
/// division by the exact power of ten is correctly rounded. Otherwise (`dt = 1/3 ms`) it is
/// `k·dt`. Traces and spike times are stored with these times, so they compare, print and
/// join exactly (a spike at sample k sits on the trace's k-th time).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TimeGrid {
    /// `m` of `dt = m / 10^d`, or `dt` itself.
    step: f64,
    /// `10^d`, or 1.
    scale: f64,
}

impl TimeGrid {
    /// The grid of time step `dt_ms`.
    pub fn new(dt_ms: f64) -> TimeGrid {
        for d in 0..=9 {
            let scale = 10f64.powi(d);
            let m = (dt_ms * scale).round();
            if m > 0.0 && m < 9.0e15 && m / scale == dt_ms {
                return TimeGrid { step: m, scale };
            }
        }
        TimeGrid {
            step: dt_ms,
            scale: 1.0,
        }
    }

    /// The time of sample `k` in ms.
    pub fn at(&self, k: usize) -> f64 {
        k as f64 * self.step / self.scale
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn grid_times_are_the_decimal_times() {
        let g = TimeGrid::new(0.025);
        assert_eq!(g.at(3), 0.075);
        assert_eq!(g.at(5623), 140.575);
        assert_ne!(3.0 * 0.025, 0.075, "the float noise this avoids");
        assert_eq!(TimeGrid::new(0.1).at(7), 0.7);
        assert_eq!(TimeGrid::new(2.0).at(7), 14.0);
        // Not a short decimal: plain k·dt.
        let third = 1.0 / 3.0;
        assert_eq!(TimeGrid::new(third).at(7), 7.0 * third);
        // Every time is the double nearest to its decimal.
        let g = TimeGrid::new(0.025);
        for k in 0..20_000 {
            let text = format!("{}.{:03}", k * 25 / 1000, k * 25 % 1000);
            assert_eq!(g.at(k), text.parse::<f64>().unwrap(), "sample {k}");
        }
    }

    use super::*;

    fn axis(path: &str, n: usize, group: u32) -> SweepAxisModel {
        SweepAxisModel {
            path: path.into(),
            target: SweepTarget::Duration,
            unit: "nA".into(),
            values: (0..n).map(|i| SweepValue::Num(i as f64)).collect(),
            group,
        }
    }

    #[test]
    fn grid_and_zip_points() {
        let grid = [axis("a", 3, 0), axis("b", 2, 1)];
        assert_eq!(sweep_points(&grid), 6);
        let p = point_values(&grid, 5);
        assert_eq!(
            p[0].1,
            Value::Num {
                value: 2.0,
                unit: "nA".into()
            }
        );
        assert_eq!(
            p[1].1,
            Value::Num {
                value: 1.0,
                unit: "nA".into()
            }
        );
        let zip = [axis("a", 3, 0), axis("b", 3, 0)];
        assert_eq!(sweep_points(&zip), 3);
        let p = point_values(&zip, 2);
        assert_eq!(p.len(), 2);
        assert_eq!(p[0].1, p[1].1);
        assert_eq!(sweep_points(&[]), 1);
        // 8 axes of 256 values is 2^64 points: saturates, never wraps to 1.
        let huge: Vec<_> = (0..8).map(|g| axis("a", 256, g)).collect();
        assert_eq!(sweep_points(&huge), u64::MAX);
    }

    #[test]
    fn seeds_are_distinct_and_order_free() {
        let mut seen = std::collections::HashSet::new();
        for p in 0..50 {
            for t in 0..200 {
                assert!(seen.insert(trial_seed(42, p, t)), "collision at {p}/{t}");
            }
        }
        assert_ne!(trial_seed(1, 0, 0), trial_seed(2, 0, 0));
        assert_ne!(crate::rng::stream_seed(7, 0), crate::rng::stream_seed(7, 1));
    }

    #[test]
    fn shards_partition_the_work() {
        let items: Vec<WorkItem> = (0..103)
            .map(|i| WorkItem {
                index: i,
                point: i / 10,
                trial: i % 10,
                seed: 0,
            })
            .collect();
        let shards: Vec<Shard> = (1..=4).map(|k| Shard { k, n: 4 }).collect();
        for it in &items {
            assert_eq!(shards.iter().filter(|s| s.contains(it)).count(), 1);
        }
        assert!(Shard::parse("0/3").is_err());
        assert!(Shard::parse("4/3").is_err());
        assert!(Shard::parse("x").is_err());
        assert_eq!(Shard::parse("2/8"), Ok(Shard { k: 2, n: 8 }));
    }
}
