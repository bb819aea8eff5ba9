//! Spike detection on sampled traces (spec 07 §7.1, ISF's `simple_spike_detection`) and
//! inter-spike-interval and burst statistics of spike trains.
//!
//! Detection is isf's one rule ([`crate::kernel::spikes`], ISF's to the sample): a spike is an
//! upward crossing `v[i−1] < θ ≤ v[i]`, reported at `t[i]` (no interpolation). The window
//! indices use ISF's crossing rule (`t[i−1] < t_begin ≤ t[i]`), so results agree with ISF's
//! on the same samples. ISI and burst statistics have no ISF formula in the spec; the
//! definitions here are documented in `docs/reference.md` (`isf analyze isi`).

use crate::kernel::spikes::crossings;

/// What is compared with the threshold.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// The sampled value itself (ISF's `mode='regular'`).
    Regular,
    /// The forward difference `(v[i+1]−v[i])/(t[i+1]−t[i])` (ISF's `mode='slope'`).
    Slope,
}

/// First `i ≥ 1` with `t[i−1] < x ≤ t[i]` (ISF's window rule), `None` when there is none.
pub fn crossing_index(t: &[f64], x: f64) -> Option<usize> {
    (1..t.len()).find(|&i| t[i - 1] < x && x <= t[i])
}

/// Spike times of one trace: every `i` in the window `[begin, end)` with
/// `s[i−1] < threshold ≤ s[i]`, reported as `t[i]`, where `s` is `v` or its forward
/// difference quotient (`Mode::Slope`). `begin` is 1, or with `t_begin` the sample crossing
/// it; `end` is `len(t)`, or with `t_end` the sample crossing it (exclusive). A bound that no
/// sample pair crosses leaves the default, as in ISF.
pub fn detect(
    t: &[f64],
    v: &[f64],
    threshold: f64,
    t_begin: Option<f64>,
    t_end: Option<f64>,
    mode: Mode,
) -> Vec<f64> {
    let n = t.len().min(v.len());
    let t = &t[..n];
    let begin = t_begin.and_then(|x| crossing_index(t, x)).unwrap_or(1);
    let end = t_end.and_then(|x| crossing_index(t, x)).unwrap_or(n);
    let in_window = |i: &usize| (begin..end).contains(i);
    match mode {
        Mode::Regular => crossings(&v[..n], threshold)
            .filter(in_window)
            .map(|i| t[i])
            .collect(),
        Mode::Slope => {
            // dv/dt has n−1 entries: i + 1 must be a sample.
            let slope: Vec<f64> = (0..n.saturating_sub(1))
                .map(|i| (v[i + 1] - v[i]) / (t[i + 1] - t[i]))
                .collect();
            crossings(&slope, threshold)
                .filter(in_window)
                .map(|i| t[i])
                .collect()
        }
    }
}

/// ISF's `spike_in_interval`: any spike with `t_min ≤ t < t_max`.
pub fn spike_in_interval(spikes: &[f64], t_min: f64, t_max: f64) -> bool {
    spikes.iter().any(|&s| t_min <= s && s < t_max)
}

/// Interval and burst statistics of one spike train.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TrainStats {
    /// Spikes counted (those inside the window).
    pub n_spikes: usize,
    /// Inter-spike intervals of consecutive counted spikes, ms.
    pub isi_ms: Vec<f64>,
    /// Mean ISI, ms (NaN with fewer than two spikes).
    pub mean_isi_ms: f64,
    /// Coefficient of variation of the ISIs: population SD / mean (NaN with fewer than two
    /// intervals).
    pub cv_isi: f64,
    /// Bursts: maximal runs of at least `min_spikes` spikes whose consecutive ISIs are all
    /// `≤ burst_isi_ms`.
    pub n_bursts: usize,
    /// Spikes belonging to a burst.
    pub spikes_in_bursts: usize,
    /// Start time of each burst (its first spike), ms.
    pub burst_starts_ms: Vec<f64>,
    /// Number of spikes of each burst.
    pub burst_sizes: Vec<usize>,
}

/// ISI and burst statistics of the spikes in `[t_min, t_max)` (all spikes without bounds).
/// Spike times are sorted first (they normally are).
pub fn train_stats(
    spikes: &[f64],
    window: (Option<f64>, Option<f64>),
    burst_isi_ms: f64,
    min_spikes: usize,
) -> TrainStats {
    let mut s: Vec<f64> = spikes
        .iter()
        .copied()
        .filter(|&x| window.0.is_none_or(|a| x >= a) && window.1.is_none_or(|b| x < b))
        .collect();
    s.sort_by(f64::total_cmp);
    let isi: Vec<f64> = s.windows(2).map(|w| w[1] - w[0]).collect();
    let mean = if isi.is_empty() {
        f64::NAN
    } else {
        isi.iter().sum::<f64>() / isi.len() as f64
    };
    let cv = if isi.len() < 2 {
        f64::NAN
    } else {
        let var = isi.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / isi.len() as f64;
        var.sqrt() / mean
    };
    let mut st = TrainStats {
        n_spikes: s.len(),
        mean_isi_ms: mean,
        cv_isi: cv,
        ..TrainStats::default()
    };
    // Runs of spikes joined by short intervals.
    let mut i = 0;
    while i < s.len() {
        let mut j = i;
        while j < isi.len() && isi[j] <= burst_isi_ms {
            j += 1;
        }
        let size = j - i + 1;
        if size >= min_spikes.max(2) {
            st.n_bursts += 1;
            st.spikes_in_bursts += size;
            st.burst_starts_ms.push(s[i]);
            st.burst_sizes.push(size);
        }
        i = j + 1;
    }
    st.isi_ms = isi;
    st
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upward_crossings_at_first_sample_at_or_above() {
        let t = [0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0];
        let v = [-70.0, -10.0, 0.0, 20.0, -5.0, 0.0, -1.0];
        // 0 mV: at t=2 (−10 < 0 ≤ 0) and t=5 (−5 < 0 ≤ 0); the sample at 3 stays above.
        assert_eq!(detect(&t, &v, 0.0, None, None, Mode::Regular), [2.0, 5.0]);
        // −30 mV (dendritic): only the first rise crosses it.
        assert_eq!(detect(&t, &v, -30.0, None, None, Mode::Regular), [1.0]);
        // A sample exactly at threshold after one below counts; equal-to-equal does not.
        assert_eq!(
            detect(
                &[0.0, 1.0, 2.0],
                &[0.0, 0.0, 0.0],
                0.0,
                None,
                None,
                Mode::Regular
            ),
            Vec::<f64>::new()
        );
    }

    #[test]
    fn window_uses_isf_crossing_rule() {
        let t = [0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0];
        let v = [-70.0, 10.0, -70.0, 10.0, -70.0, 10.0, -70.0];
        let all = detect(&t, &v, 0.0, None, None, Mode::Regular);
        assert_eq!(all, [1.0, 3.0, 5.0]);
        // t_begin 2.5 → begin index 3 (t[2] < 2.5 ≤ t[3]); t_end 5 → end index 5 (exclusive).
        assert_eq!(
            detect(&t, &v, 0.0, Some(2.5), Some(5.0), Mode::Regular),
            [3.0]
        );
        // t_begin exactly on a sample: that sample is the first one tested.
        assert_eq!(
            detect(&t, &v, 0.0, Some(3.0), None, Mode::Regular),
            [3.0, 5.0]
        );
        // Bounds outside the samples keep the defaults (ISF leaves them unchanged).
        assert_eq!(
            detect(&t, &v, 0.0, Some(-5.0), Some(99.0), Mode::Regular),
            all
        );
    }

    #[test]
    fn slope_mode_uses_forward_differences() {
        let t = [0.0, 0.5, 1.0, 1.5, 2.0];
        let v = [0.0, 0.0, 1.0, 3.0, 3.5];
        // dv/dt = [0, 2, 4, 1]; crossing of 3 /ms between i−1 = 1 (2) and i = 2 (4) → t[2].
        assert_eq!(detect(&t, &v, 3.0, None, None, Mode::Slope), [1.0]);
    }

    #[test]
    fn isi_and_bursts_by_hand() {
        // Spikes: a triplet 10, 13, 15 ms; lone 40; pair 60, 68.
        let s = [10.0, 13.0, 15.0, 40.0, 60.0, 68.0];
        let st = train_stats(&s, (None, None), 10.0, 2);
        assert_eq!(st.n_spikes, 6);
        assert_eq!(st.isi_ms, [3.0, 2.0, 25.0, 20.0, 8.0]);
        assert!((st.mean_isi_ms - 11.6).abs() < 1e-12);
        let sd =
            ((8.6f64.powi(2) + 9.6f64.powi(2) + 13.4f64.powi(2) + 8.4f64.powi(2) + 3.6f64.powi(2))
                / 5.0)
                .sqrt();
        assert!((st.cv_isi - sd / 11.6).abs() < 1e-12);
        assert_eq!(st.n_bursts, 2);
        assert_eq!(st.burst_starts_ms, [10.0, 60.0]);
        assert_eq!(st.burst_sizes, [3, 2]);
        assert_eq!(st.spikes_in_bursts, 5);
        // At least three spikes: only the triplet.
        let st3 = train_stats(&s, (None, None), 10.0, 3);
        assert_eq!((st3.n_bursts, st3.spikes_in_bursts), (1, 3));
        // A window drops spikes outside [t_min, t_max).
        let w = train_stats(&s, (Some(13.0), Some(60.0)), 10.0, 2);
        assert_eq!(w.n_spikes, 3);
        assert_eq!(w.isi_ms, [2.0, 25.0]);
        assert!(
            train_stats(&[1.0], (None, None), 10.0, 2)
                .mean_isi_ms
                .is_nan()
        );
    }

    #[test]
    fn interval_test() {
        assert!(spike_in_interval(&[5.0, 250.0], 245.0, 265.0));
        assert!(!spike_in_interval(&[265.0], 245.0, 265.0));
    }
}
