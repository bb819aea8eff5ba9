//! Histograms with NumPy's semantics, PSTHs (spec 07 §7.2) and temporal binning (§7.3).
//!
//! A histogram over edges `e₀ < e₁ < … < eₙ` puts `x` in bin `k` when `e_k ≤ x < e_{k+1}`;
//! the last bin is closed (`x = eₙ` counts), values outside are dropped — `numpy.histogram`
//! exactly, which also compares against the edges array, so the edges here are computed the
//! way `numpy.arange` computes them (`start + k·step`).

/// Edges `start + k·step` for `k = 0 … n` (like `numpy.arange(start, start+(n+½)·step, step)`).
pub fn edges(start: f64, step: f64, n: usize) -> Vec<f64> {
    (0..=n).map(|k| start + k as f64 * step).collect()
}

/// The bin of `x` among `edges` (NumPy rules: half-open, the last bin closed), `None` outside.
pub fn bin_of(edges: &[f64], x: f64) -> Option<usize> {
    let n = edges.len().checked_sub(1).filter(|&n| n > 0)?;
    if !(x >= edges[0] && x <= edges[n]) {
        return None; // also NaN
    }
    if x == edges[n] {
        return Some(n - 1);
    }
    // Last edge ≤ x.
    Some(edges.partition_point(|&e| e <= x) - 1)
}

/// Counts of `values` in the bins of `edges`.
pub fn histogram<'a>(edges: &[f64], values: impl IntoIterator<Item = &'a f64>) -> Vec<u64> {
    let mut c = vec![0u64; edges.len().saturating_sub(1)];
    for &x in values {
        if let Some(k) = bin_of(edges, x) {
            c[k] += 1;
        }
    }
    c
}

/// The bin range of a PSTH (spec 07 §7.2): `t_begin`/`t_end` default to the earliest and
/// latest spike; `aligned` moves them outward to multiples of `bin` (ISF:
/// `⌊t_begin/bin⌋·bin`, for negative `int(t_begin/bin − 1)·bin`). Returns the edges,
/// `t_begin + k·bin` up to the first edge at or beyond `t_end`; the last bin is closed, so a
/// spike at `t_end` counts.
///
/// ISF aligns the end to `(int(t_end/bin) + 1)·bin` and takes `arange(t_begin, t_end, bin)`,
/// which leaves that edge out: its last edge is `int(t_end/bin)·bin`. When `t_end` is a
/// multiple of `bin` this is `t_end` itself (`--t-begin 100 --t-end 250 --bin 5`: 30 bins,
/// 245–250 the last, a spike at 250 in it), and these edges are ISF's. Otherwise ISF's last
/// edge falls short of `t_end` and drops the spikes beyond it (the spec's pitfall); here the
/// end is the next multiple of `bin` (`⌈t_end/bin⌉·bin`), so they are kept. `None` without any
/// spike or bound.
pub fn psth_edges(
    all_spikes: &[f64],
    bin: f64,
    t_begin: Option<f64>,
    t_end: Option<f64>,
    aligned: bool,
) -> Option<Vec<f64>> {
    let finite = all_spikes.iter().copied().filter(|x| x.is_finite());
    let lo = t_begin.or_else(|| finite.clone().min_by(f64::total_cmp))?;
    let hi = t_end.or_else(|| finite.max_by(f64::total_cmp))?;
    let (mut lo, mut hi) = (lo, hi);
    if aligned {
        lo = if lo >= 0.0 {
            (lo / bin).floor() * bin
        } else {
            ((lo / bin - 1.0) as i64) as f64 * bin
        };
        hi = ceil_multiple(hi, bin);
    }
    // Bins needed to reach `hi` (a relative tolerance keeps an exact multiple from gaining
    // an extra bin through rounding).
    let n = (((hi - lo) / bin) * (1.0 - 1e-12)).ceil().max(1.0) as usize;
    Some(edges(lo, bin, n))
}

/// `⌈x/bin⌉·bin`, where an `x/bin` within rounding of a whole number counts as that number
/// (250/5 is 50, and 0.3/0.1 = 2.9999999999999996 is 3: no extra or missing bin).
fn ceil_multiple(x: f64, bin: f64) -> f64 {
    let q = x / bin;
    let r = q.round();
    let k = if (q - r).abs() <= 1e-9 * r.abs().max(1.0) {
        r
    } else {
        q.ceil()
    };
    k * bin
}

/// Spikes per trial per bin: the histogram of all spikes of `trials` over `edges`, divided
/// by the number of trials. Returns `(counts, per_trial)`.
pub fn psth(trials: &[&[f64]], edges: &[f64]) -> (Vec<u64>, Vec<f64>) {
    let counts = histogram(edges, trials.iter().flat_map(|t| t.iter()));
    let n = trials.len().max(1) as f64;
    let per = counts.iter().map(|&c| c as f64 / n).collect();
    (counts, per)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numpy_histogram_rules() {
        let e = edges(0.0, 1.0, 3); // 0 1 2 3
        assert_eq!(e, [0.0, 1.0, 2.0, 3.0]);
        // 1.0 opens bin 1; 3.0 (last edge) falls into the last bin; −0.1, 3.1, NaN dropped.
        let v = [0.0, 0.999, 1.0, 2.5, 3.0, -0.1, 3.1, f64::NAN];
        assert_eq!(histogram(&e, &v), [2, 1, 2]);
        assert_eq!(bin_of(&e, 3.0), Some(2));
        assert_eq!(bin_of(&[0.0], 0.0), None);
    }

    #[test]
    fn psth_by_hand() {
        // Two trials; 1 ms bins, aligned: t_begin = ⌊2.3⌋ = 2, t_end = int(7.5)+1 = 8.
        let a = [2.3, 2.9, 7.5];
        let b = [4.0];
        let all: Vec<f64> = a.iter().chain(&b).copied().collect();
        let e = psth_edges(&all, 1.0, None, None, true).unwrap();
        assert_eq!(e, [2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0]);
        let (c, per) = psth(&[&a, &b], &e);
        assert_eq!(c, [2, 0, 1, 0, 0, 1]);
        assert_eq!(per, [1.0, 0.0, 0.5, 0.0, 0.0, 0.5]);
        // The last spike (7.5) is counted: ISF's arange(2, 8, 1) would stop at edge 7.
        // Negative start: int(−2.5/1 − 1)·1 = −3.
        let e = psth_edges(&[-2.5, 1.0], 1.0, None, None, true).unwrap();
        assert_eq!(e[0], -3.0);
        // Not aligned: bins from the first spike; an exact multiple gains no extra bin.
        let e = psth_edges(&[0.0], 5.0, Some(245.0), Some(300.0), false).unwrap();
        assert_eq!(e.len(), 12);
        assert_eq!(*e.last().unwrap(), 300.0);
        assert_eq!(psth_edges(&[], 1.0, None, None, true), None);
    }

    #[test]
    fn aligned_end_on_a_bin_edge_adds_no_bin() {
        // `--t-begin 100 --t-end 250 --bin 5`: ISF's arange(100, (50+1)·5 = 255, 5) gives
        // edges 100, 105, …, 250: 30 bins, the last [245, 250] closed. Spikes by hand:
        // 100 → bin 0, 104.975 → bin 0, 105 → bin 1, 249.9 and 250 → bin 29, 250.1 and 255
        // outside.
        let e = psth_edges(&[], 5.0, Some(100.0), Some(250.0), true).unwrap();
        assert_eq!(e.len(), 31, "30 bins");
        assert_eq!((e[0], e[30]), (100.0, 250.0));
        let spikes = [100.0, 104.975, 105.0, 249.9, 250.0, 250.1, 255.0];
        let (c, per) = psth(&[&spikes], &e);
        assert_eq!(c.len(), 30);
        assert_eq!((c[0], c[1], c[29]), (2, 1, 2));
        assert_eq!(c.iter().sum::<u64>(), 5);
        assert_eq!(per[29], 2.0);
        // Not a multiple: the end moves out to the next edge (ISF would stop at 250 and
        // lose 251).
        let e = psth_edges(&[], 5.0, Some(100.0), Some(251.0), true).unwrap();
        assert_eq!((e.len(), e[e.len() - 1]), (32, 255.0));
        assert_eq!(psth(&[&[251.0]], &e).0[30], 1);
        // Decimal bins: 0.3 / 0.1 is 2.9999999999999996, still three bins.
        let e = psth_edges(&[], 0.1, Some(0.0), Some(0.3), true).unwrap();
        assert_eq!(e.len(), 4);
        // Default end = the latest spike, on an edge: ISF's edges exactly.
        let e = psth_edges(&[2.0, 7.0], 1.0, None, None, true).unwrap();
        assert_eq!(e, [2.0, 3.0, 4.0, 5.0, 6.0, 7.0]);
    }

    #[test]
    fn s4_reference_psth_formula() {
        // The conformance summary's PSTH from 245 ms in 5 ms bins is spikes summed over
        // trials: the same as `counts` here.
        let trials: [&[f64]; 2] = [&[246.0, 257.5, 259.9], &[255.0, 299.0]];
        let e = psth_edges(&[], 5.0, Some(245.0), Some(300.0), false).unwrap();
        let (c, _) = psth(&trials, &e);
        assert_eq!(c, [1, 0, 3, 0, 0, 0, 0, 0, 0, 0, 1]);
    }
}
