//! The one spike-detection rule of isf: every recorded `spikes(…)`, `isf analyze spikes`, the
//! REPL's `:run` and the import of ISF trace files use it.
//!
//! A spike is counted at sample `i` when `v[i−1] < θ ≤ v[i]`, and its time is that sample's
//! time `t[i]`, on the time grid, without interpolation. This is the convention of NEURON's
//! `NetCon` threshold detection in a fixed-step run, which the conformance references (NEURON
//! driving ISF's cell) record: the event is reported at the end of the step in which `v`
//! reaches the threshold, a multiple of `dt`. The comparison is ISF's and the references'
//! (`simple_spike_detection`: at or above threshold after a sample below it); NEURON's
//! `NetCon` fires on `v > θ`, which differs only when a sample equals the threshold exactly.
//! The detector re-arms only after a sample below threshold, so one crossing is one spike.
//!
//! Interpolated crossing times (the references list them beside the grid times) are not used:
//! they would move every spike time by up to `dt`, and spike times must match the references
//! exactly.

/// Sample indices `i ≥ 1` with `v[i−1] < threshold ≤ v[i]`, in order.
pub fn crossings(v: &[f64], threshold: f64) -> impl Iterator<Item = usize> + '_ {
    v.windows(2)
        .enumerate()
        .filter(move |(_, w)| w[0] < threshold && threshold <= w[1])
        .map(|(k, _)| k + 1)
}

/// Spike times of a trace sampled at `times_ms` (one time per sample of `v`).
pub fn spike_times_at(times_ms: &[f64], v: &[f64], threshold: f64) -> Vec<f64> {
    let n = times_ms.len().min(v.len());
    crossings(&v[..n], threshold).map(|i| times_ms[i]).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_sample_at_or_above_after_one_below() {
        let v = [-70.0, 0.0, 10.0, -5.0, 1.0, 2.0, 0.0, -0.1, 0.0];
        assert_eq!(crossings(&v, 0.0).collect::<Vec<_>>(), vec![1, 4, 8]);
        assert_eq!(crossings(&v, 20.0).count(), 0);
        assert_eq!(crossings(&[], 0.0).count(), 0);
        assert_eq!(crossings(&[5.0], 0.0).count(), 0);
        let t = [0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8];
        assert_eq!(spike_times_at(&t, &v, 0.0), vec![0.1, 0.4, 0.8]);
        // NaN is never below or above: it neither fires nor re-arms.
        assert_eq!(crossings(&[-1.0, f64::NAN, 1.0], 0.0).count(), 0);
    }
}
