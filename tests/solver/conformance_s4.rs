//! Conformance case S4 (`conformance/README.md`, section S4): the full in-vivo-like network on
//! the 86_C2_center L5PT cell, compared *statistically* with the 20 NEURON reference trials
//! (`outputs/86_C2_center_S4_per_trial.csv`, `_psth_5ms.csv`).
//!
//! ≥ 50 trials with seeds `trial_seed(MASTER, 0, k)`, run in parallel with rayon (every trial
//! depends only on its seed: `ActiveCell::run` re-initialises the cell). Asserted:
//! * Welch's two-sample t-test on the somatic spike count per trial does not reject at 1 %;
//! * Welch's t-test on the mean soma Vm over [0, 245) ms does not reject at 1 %;
//! * the peak of the output PSTH from 245 ms (5 ms bins, summed over trials) is in the same or
//!   a neighbouring bin as the reference's.
//!
//! `ISF_S4_TRIALS=n` changes the number of trials; `ISF_S4_DIAG=1` prints the receptor kinds
//! handed to the kernel, the mean soma Vm in 2 ms bins over 0–60 ms next to the mean of the
//! reference traces, our release-time histogram, first-spike and evoked-latency statistics;
//! `ISF_S4_MASTER=m` uses another master seed (diagnostic; master 7 gives 4.06 ± 1.20 spikes,
//! 3.14 before 245 ms, PSTH peak in bin 2); `ISF_S4_NO_COALESCE=1` simulates every receptor in
//! its own channel (same spike times: the coalescing of same-compartment synapses is exact).
//!
//! Measured (50 trials, master 2024; NEURON 20 trials):
//! spikes/trial 3.92 ± 1.03 vs 4.30 ± 1.13 (Welch t −1.31, df 32.3, p 0.20);
//! mean soma Vm [0, 245) −61.99 ± 1.07 vs −62.02 ± 1.11 mV (t 0.11, df 33.9, p 0.91);
//! PSTH peak bin 3 (260–265 ms, 0.44/trial; bin 2 0.42) vs bin 2 (255–260 ms).
//! Findings while looking for the earlier 20-trial shortfall (3.65 vs 4.30): presynaptic
//! generation, release, weights, delays and receptor parameters follow spec 04 §4.3–4.6 and
//! ISF's code (per-cell Poisson with the first spike one interval after 0, PSTH bins uniform in
//! 245 + [a, b), independent release per spike per synapse, `[AMPA, NMDA]` weights, delay 0,
//! the same `glutamate_syn`/`gaba_syn` parameters as the exact S3 case); the trial-averaged soma
//! Vm over 0–14 ms matches NEURON's within 0.5 mV (the input drive agrees). The remaining gap
//! (fewer onset spikes, evoked latency 14.8 ± 5.5 ms vs 12.1 ± 3.5 ms) is not significant
//! at the 1 % level and shrinks with another master seed (see above): sampling variation of
//! our seeds, not a spec mismatch.

use crate::common;

use common::conformance::{DT_MS, conformance_dir, s4_network, spikes};
use common::table::{SegmentTable, hay2011_mechanisms, isf_cell_tree};
use isf::kernel::{ActiveCell, CellConfig};
use isf::network::generate_trial;
use isf::rng::trial_seed;
use isf::run::receptors::synapses_from_trial_input;
use rayon::prelude::*;
use std::path::Path;

const MASTER: u64 = 2024;

const T_STOP_MS: f64 = 300.0;
const STIM_MS: f64 = 245.0;
const PSTH_BIN_MS: f64 = 5.0;

// ---------------------------------------------------------------- statistics

/// ln Γ(x) for x > 0 (Lanczos, g = 7, n = 9; relative error ~1e-15).
fn ln_gamma(x: f64) -> f64 {
    const G: f64 = 7.0;
    const C: [f64; 9] = [
        0.999_999_999_999_809_9,
        676.520_368_121_885_1,
        -1_259.139_216_722_402_8,
        771.323_428_777_653_1,
        -176.615_029_162_140_6,
        12.507_343_278_686_905,
        -0.138_571_095_265_720_12,
        9.984_369_578_019_572e-6,
        1.505_632_735_149_311_6e-7,
    ];
    if x < 0.5 {
        // Reflection.
        let pi = std::f64::consts::PI;
        return (pi / (pi * x).sin()).ln() - ln_gamma(1.0 - x);
    }
    let x = x - 1.0;
    let mut a = C[0];
    let t = x + G + 0.5;
    for (i, c) in C.iter().enumerate().skip(1) {
        a += c / (x + i as f64);
    }
    0.5 * (2.0 * std::f64::consts::PI).ln() + (x + 0.5) * t.ln() - t + a.ln()
}

/// Continued fraction of the incomplete beta function (modified Lentz).
fn beta_cf(a: f64, b: f64, x: f64) -> f64 {
    const TINY: f64 = 1e-300;
    let (qab, qap, qam) = (a + b, a + 1.0, a - 1.0);
    let mut c = 1.0;
    let mut d = 1.0 - qab * x / qap;
    if d.abs() < TINY {
        d = TINY;
    }
    d = 1.0 / d;
    let mut h = d;
    for m in 1..=500 {
        let m = m as f64;
        let m2 = 2.0 * m;
        let aa = m * (b - m) * x / ((qam + m2) * (a + m2));
        d = 1.0 + aa * d;
        if d.abs() < TINY {
            d = TINY;
        }
        c = 1.0 + aa / c;
        if c.abs() < TINY {
            c = TINY;
        }
        d = 1.0 / d;
        h *= d * c;
        let aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2));
        d = 1.0 + aa * d;
        if d.abs() < TINY {
            d = TINY;
        }
        c = 1.0 + aa / c;
        if c.abs() < TINY {
            c = TINY;
        }
        d = 1.0 / d;
        let del = d * c;
        h *= del;
        if (del - 1.0).abs() < 1e-15 {
            break;
        }
    }
    h
}

/// Regularised incomplete beta I_x(a, b).
fn inc_beta(a: f64, b: f64, x: f64) -> f64 {
    if x <= 0.0 {
        return 0.0;
    }
    if x >= 1.0 {
        return 1.0;
    }
    let ln_front = ln_gamma(a + b) - ln_gamma(a) - ln_gamma(b) + a * x.ln() + b * (1.0 - x).ln();
    if x < (a + 1.0) / (a + b + 2.0) {
        ln_front.exp() * beta_cf(a, b, x) / a
    } else {
        1.0 - ln_front.exp() * beta_cf(b, a, 1.0 - x) / b
    }
}

/// Two-sided p-value of Student's t with `df` degrees of freedom: P(|T| ≥ |t|).
fn student_t_two_sided(t: f64, df: f64) -> f64 {
    inc_beta(df / 2.0, 0.5, df / (df + t * t))
}

/// Mean and sample SD.
fn mean_sd(x: &[f64]) -> (f64, f64) {
    let n = x.len() as f64;
    let m = x.iter().sum::<f64>() / n;
    let var = x.iter().map(|v| (v - m).powi(2)).sum::<f64>() / (n - 1.0);
    (m, var.sqrt())
}

/// Welch's unequal-variance t-test: (t, Welch–Satterthwaite df, two-sided p).
fn welch(a: &[f64], b: &[f64]) -> (f64, f64, f64) {
    let (ma, sa) = mean_sd(a);
    let (mb, sb) = mean_sd(b);
    let (va, vb) = (sa * sa / a.len() as f64, sb * sb / b.len() as f64);
    let t = (ma - mb) / (va + vb).sqrt();
    let df =
        (va + vb).powi(2) / (va * va / (a.len() as f64 - 1.0) + vb * vb / (b.len() as f64 - 1.0));
    (t, df, student_t_two_sided(t, df))
}

#[test]
fn student_t_and_welch_match_reference_values() {
    // ln Γ at integers and 1/2.
    assert!((ln_gamma(1.0)).abs() < 1e-14);
    assert!((ln_gamma(5.0) - 24f64.ln()).abs() < 1e-13);
    assert!((ln_gamma(0.5) - std::f64::consts::PI.sqrt().ln()).abs() < 1e-13);
    assert!((ln_gamma(0.1) - 2.252_712_651_734_206).abs() < 1e-12);
    // t with 1 df is Cauchy: P(|T| ≥ 1) = 1/2, P(|T| ≥ t) = 1 − 2 atan(t)/π.
    assert!((student_t_two_sided(1.0, 1.0) - 0.5).abs() < 1e-12);
    let p = 1.0 - 2.0 * 3f64.atan() / std::f64::consts::PI;
    assert!((student_t_two_sided(3.0, 1.0) - p).abs() < 1e-12);
    // t with 2 df: P(|T| ≥ t) = 1 − t/√(2 + t²).
    for t in [0.3, 1.7, 4.0] {
        let p = 1.0 - t / (2.0f64 + t * t).sqrt();
        assert!((student_t_two_sided(t, 2.0) - p).abs() < 1e-12, "t {t}");
    }
    // Tables: t = 2.228 at 10 df is the 5 % two-sided point; 2.0 at 10 df → 0.07339.
    assert!((student_t_two_sided(2.228_138_851_986_5, 10.0) - 0.05).abs() < 1e-9);
    assert!((student_t_two_sided(2.0, 10.0) - 0.073_388_034_8).abs() < 1e-8);
    assert!((student_t_two_sided(2.575_829_303_5, 1e9) - 0.01).abs() < 1e-6);
    assert!((student_t_two_sided(0.0, 7.0) - 1.0).abs() < 1e-15);
    // Welch on [1..5] vs [2, 4, …, 12]: means 3 and 7, variances 2.5 and 14 → t = −4/√(0.5 + 7/3)
    // = −2.37635, df = 6.97226, p = 0.049284 (p by numerical integration of the t density).
    let (t, df, p) = welch(
        &[1.0, 2.0, 3.0, 4.0, 5.0],
        &[2.0, 4.0, 6.0, 8.0, 10.0, 12.0],
    );
    assert!(
        (t + 4.0 / (0.5f64 + 7.0 / 3.0).sqrt()).abs() < 1e-12,
        "t {t}"
    );
    assert!((df - 6.972_255_73).abs() < 1e-6, "df {df}");
    assert!((p - 0.049_284_338).abs() < 1e-7, "p {p}");
}

// ---------------------------------------------------------------- reference data

struct Reference {
    spikes: Vec<f64>,
    vm_mean: Vec<f64>,
    early: Vec<f64>,
    psth_5ms: Vec<f64>,
}

fn read_reference(out: &Path) -> Reference {
    let text = std::fs::read_to_string(out.join("86_C2_center_S4_per_trial.csv")).unwrap();
    let mut lines = text.lines();
    let head: Vec<&str> = lines.next().unwrap().split(',').collect();
    let col = |n: &str| head.iter().position(|h| *h == n).unwrap();
    let (cs, cv, ce) = (
        col("n_spikes"),
        col("vm_mean_0_245"),
        col("n_spikes_before_245"),
    );
    let (mut spikes, mut vm_mean, mut early) = (Vec::new(), Vec::new(), Vec::new());
    for l in lines.filter(|l| !l.is_empty()) {
        let f: Vec<&str> = l.split(',').collect();
        spikes.push(f[cs].parse().unwrap());
        vm_mean.push(f[cv].parse().unwrap());
        early.push(f[ce].parse().unwrap());
    }
    let text = std::fs::read_to_string(out.join("86_C2_center_S4_psth_5ms.csv")).unwrap();
    let mut lines = text.lines();
    let head: Vec<&str> = lines.next().unwrap().split(',').collect();
    let c0 = head.iter().position(|h| *h == "bin_start_ms").unwrap();
    let cn = head
        .iter()
        .position(|h| *h == "spikes_total_20_trials")
        .unwrap();
    let mut psth_5ms = Vec::new();
    for l in lines.filter(|l| !l.is_empty()) {
        let f: Vec<&str> = l.split(',').collect();
        let b0: f64 = f[c0].parse().unwrap();
        let k = ((b0 - STIM_MS) / PSTH_BIN_MS).round() as usize;
        if psth_5ms.len() <= k {
            psth_5ms.resize(k + 1, 0.0);
        }
        psth_5ms[k] = f[cn].parse().unwrap();
    }
    Reference {
        spikes,
        vm_mean,
        early,
        psth_5ms,
    }
}

/// Index of the first maximum.
fn argmax(x: &[f64]) -> usize {
    let mut best = 0;
    for (i, &v) in x.iter().enumerate() {
        if v > x[best] {
            best = i;
        }
    }
    best
}

/// Mean of the reference soma traces (all trials) in 2 ms bins over 0–60 ms.
fn reference_onset(out: &Path) -> Option<Vec<f64>> {
    use std::io::Read;
    let f = std::fs::File::open(out.join("86_C2_center_S4_soma_traces.csv.gz")).ok()?;
    let mut s = String::new();
    flate2::read::GzDecoder::new(f)
        .read_to_string(&mut s)
        .ok()?;
    let mut sums = vec![0.0; 30];
    let mut n = vec![0usize; 30];
    for l in s.lines().skip(1) {
        let mut it = l.split(',');
        let t: f64 = it.next()?.parse().ok()?;
        let b = (t / 2.0).floor() as usize;
        if b >= 30 {
            break;
        }
        for v in it {
            sums[b] += v.parse::<f64>().ok()?;
            n[b] += 1;
        }
    }
    Some(sums.iter().zip(&n).map(|(s, &n)| s / n as f64).collect())
}

// ---------------------------------------------------------------- the case

struct TrialResult {
    spikes: Vec<f64>,
    vm_mean: f64,
    onset: Vec<f64>,
    sd_100_245: f64,
    releases_2ms: Vec<f64>,
}

#[test]
fn s4_statistics_match_neuron() {
    let dir = conformance_dir();
    let inputs = dir.join("inputs");
    let outputs = dir.join("outputs");
    if !common::skip::require_data(
        "S4 conformance data",
        &[
            &inputs.join("network.param"),
            &outputs.join("86_C2_center_S4_per_trial.csv"),
        ],
    ) {
        return;
    }
    let reference = read_reference(&outputs);
    let hoc_path = inputs.join("86_C2_center.hoc");
    let param_path = inputs.join("86_C2_center.param");
    let prep = s4_network(&inputs);
    let (tree, _) = isf_cell_tree(&hoc_path, &param_path).expect("cell");
    let mechs = hay2011_mechanisms().expect("hay2011 lowers");
    let table = SegmentTable::read(&dir.join("discretization/86_C2_center_segments.csv"))
        .expect("segment table");
    let placements = table.placements(&mechs).expect("placements");
    let reversals = table.reversals();

    let n_trials: u64 = std::env::var("ISF_S4_TRIALS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(50);
    let diag = std::env::var_os("ISF_S4_DIAG").is_some();
    // Diagnostic only: another master seed (the asserted run uses MASTER).
    let master: u64 = std::env::var("ISF_S4_MASTER")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(MASTER);
    let n_steps = (T_STOP_MS / DT_MS).round() as usize;
    let k245 = (STIM_MS / DT_MS).round() as usize;
    let t0 = std::time::Instant::now();
    let results: Vec<TrialResult> = (0..n_trials)
        .into_par_iter()
        .map_init(
            || {
                ActiveCell::new(tree.clone(), &placements, &reversals, CellConfig::default())
                    .expect("active cell")
            },
            |cell, k| {
                let trial = generate_trial(&prep, trial_seed(master, 0, k), T_STOP_MS);
                let mut releases_2ms = vec![0.0; 30];
                for &t in &trial.release_times_ms {
                    let b = (t / 2.0).floor() as usize;
                    if b < 30 {
                        releases_2ms[b] += 1.0;
                    }
                }
                let mut set = synapses_from_trial_input(&prep.network, &trial).expect("synapses");
                if std::env::var_os("ISF_S4_NO_COALESCE").is_some() {
                    set.coalesce = false;
                }
                cell.clear_synapses();
                cell.add_synapses(set).expect("add synapses");
                let soma = cell.tree().node_at(0, 0.5);
                let trace = cell.run(n_steps, &[soma]).expect("run");
                let v = trace.column(0);
                assert!(v.iter().all(|x| x.is_finite()), "trial {k}: non-finite Vm");
                let onset = (0..30)
                    .map(|b| {
                        let s = &v[b * 80..(b + 1) * 80];
                        s.iter().sum::<f64>() / s.len() as f64
                    })
                    .collect();
                let w = &v[(100.0 / DT_MS) as usize..k245];
                let wm = w.iter().sum::<f64>() / w.len() as f64;
                let sd_100_245 =
                    (w.iter().map(|x| (x - wm).powi(2)).sum::<f64>() / (w.len() - 1) as f64).sqrt();
                TrialResult {
                    sd_100_245,
                    spikes: spikes(&v),
                    vm_mean: v[..k245].iter().sum::<f64>() / k245 as f64,
                    onset,
                    releases_2ms,
                }
            },
        )
        .collect();
    let wall = t0.elapsed().as_secs_f64();

    let ours_spikes: Vec<f64> = results.iter().map(|r| r.spikes.len() as f64).collect();
    let ours_vm: Vec<f64> = results.iter().map(|r| r.vm_mean).collect();
    let early = |r: &TrialResult| r.spikes.iter().filter(|&&t| t < STIM_MS).count() as f64;
    let ours_early = results.iter().map(early).sum::<f64>() / results.len() as f64;
    let mut psth = vec![0.0; reference.psth_5ms.len()];
    for r in &results {
        for &t in &r.spikes {
            if t >= STIM_MS {
                let b = ((t - STIM_MS) / PSTH_BIN_MS).floor() as usize;
                if b < psth.len() {
                    psth[b] += 1.0;
                }
            }
        }
    }
    let (peak_ref, peak_ours) = (argmax(&reference.psth_5ms), argmax(&psth));

    let (sm_o, ss_o) = mean_sd(&ours_spikes);
    let (sm_r, ss_r) = mean_sd(&reference.spikes);
    let (vm_o, vs_o) = mean_sd(&ours_vm);
    let (vm_r, vs_r) = mean_sd(&reference.vm_mean);
    let (ts, dfs, ps) = welch(&ours_spikes, &reference.spikes);
    let (tv, dfv, pv) = welch(&ours_vm, &reference.vm_mean);
    eprintln!(
        "S4: {n_trials} trials (seeds trial_seed({master}, 0, k)) in {wall:.1} s on {} thread(s) \
         vs {} NEURON trials",
        rayon::current_num_threads(),
        reference.spikes.len()
    );
    eprintln!(
        "{:<28} {:>16} {:>16} {:>8} {:>7} {:>8}",
        "statistic", "isf", "NEURON", "t", "df", "p"
    );
    eprintln!(
        "{:<28} {:>16} {:>16} {ts:>8.3} {dfs:>7.1} {ps:>8.4}",
        "spikes per trial",
        format!("{sm_o:.2} ± {ss_o:.2}"),
        format!("{sm_r:.2} ± {ss_r:.2}"),
    );
    eprintln!(
        "{:<28} {:>16} {:>16} {tv:>8.3} {dfv:>7.1} {pv:>8.4}",
        "mean soma Vm [0,245) mV",
        format!("{vm_o:.2} ± {vs_o:.2}"),
        format!("{vm_r:.2} ± {vs_r:.2}"),
    );
    eprintln!(
        "{:<28} {:>16.2} {:>16.2}",
        "spikes before 245 ms",
        ours_early,
        mean_sd(&reference.early).0
    );
    eprintln!(
        "{:<28} {:>16} {:>16}",
        "PSTH peak bin (5 ms, 245+)",
        format!(
            "{peak_ours} ({}-{} ms)",
            STIM_MS + PSTH_BIN_MS * peak_ours as f64,
            STIM_MS + PSTH_BIN_MS * (peak_ours + 1) as f64
        ),
        format!(
            "{peak_ref} ({}-{} ms)",
            STIM_MS + PSTH_BIN_MS * peak_ref as f64,
            STIM_MS + PSTH_BIN_MS * (peak_ref + 1) as f64
        ),
    );
    eprintln!(
        "PSTH per trial, isf:    {:?}",
        psth.iter()
            .map(|c| format!("{:.2}", c / results.len() as f64))
            .collect::<Vec<_>>()
    );
    eprintln!(
        "PSTH per trial, NEURON: {:?}",
        reference
            .psth_5ms
            .iter()
            .map(|c| format!("{:.2}", c / reference.spikes.len() as f64))
            .collect::<Vec<_>>()
    );
    if diag {
        let mut kinds = std::collections::BTreeMap::new();
        for pop in &prep.network.populations {
            for r in &pop.receptors {
                let k = isf::run::receptors::receptor_from_network(r, &[]).expect("receptor");
                *kinds
                    .entry(format!(
                        "{} {:?} w {:?} delay {}",
                        k.mech.name(),
                        k.params,
                        r.weights_ns,
                        r.delay_ms
                    ))
                    .or_insert(0) += 1;
            }
        }
        for (k, n) in &kinds {
            eprintln!("{n:>4} x {k}");
        }
        // Active excitatory (glutamate) synapses and release events per trial.
        let (mut exc, mut act, mut rel_e, mut rel) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for k in 0..n_trials {
            let trial = generate_trial(&prep, trial_seed(master, 0, k), T_STOP_MS);
            let is_exc = |p: u32| {
                prep.network.populations[p as usize]
                    .receptors
                    .iter()
                    .any(|r| r.mechanism.starts_with("glutamate"))
            };
            exc.push(trial.iter().filter(|a| is_exc(a.population)).count() as f64);
            rel_e.push(
                trial
                    .iter()
                    .filter(|a| is_exc(a.population))
                    .map(|a| a.release_times_ms.len())
                    .sum::<usize>() as f64,
            );
            act.push(trial.n_active() as f64);
            rel.push(trial.n_releases() as f64);
        }
        let f = |x: &[f64]| {
            let (m, s) = mean_sd(x);
            format!("{m:.0} ± {s:.0}")
        };
        eprintln!(
            "isf per trial: active {} (exc {}), releases {} (exc {})",
            f(&act),
            f(&exc),
            f(&rel),
            f(&rel_e)
        );
        let refon = reference_onset(&outputs).unwrap_or_default();
        eprintln!("bin(ms)  Vm isf  Vm NEURON  releases/trial isf");
        for b in 0..30 {
            let m = results.iter().map(|r| r.onset[b]).sum::<f64>() / results.len() as f64;
            let rel = results.iter().map(|r| r.releases_2ms[b]).sum::<f64>() / results.len() as f64;
            eprintln!(
                "{:>3}-{:<3} {m:>8.2} {:>9.2} {rel:>10.1}",
                2 * b,
                2 * b + 2,
                refon.get(b).copied().unwrap_or(f64::NAN)
            );
        }
        let first: Vec<f64> = results
            .iter()
            .filter_map(|r| r.spikes.first().copied())
            .collect();
        let (fm, fs) = mean_sd(&first);
        eprintln!("first spike isf {fm:.1} ± {fs:.1} ms");
        let lat: Vec<f64> = results
            .iter()
            .filter_map(|r| {
                r.spikes
                    .iter()
                    .find(|&&t| t >= STIM_MS)
                    .map(|t| t - STIM_MS)
            })
            .collect();
        let (lm, ls) = mean_sd(&lat);
        eprintln!(
            "first evoked spike latency isf {lm:.2} ± {ls:.2} ms in {} of {} trials",
            lat.len(),
            results.len()
        );
        let sd: Vec<f64> = results.iter().map(|r| r.sd_100_245).collect();
        eprintln!(
            "within-trial SD of soma Vm [100, 245) ms: isf {:.2} mV (NEURON 3.96)",
            mean_sd(&sd).0
        );
    }
    assert!(
        ps >= 0.01,
        "spike count per trial differs from NEURON (Welch p = {ps:.4})"
    );
    assert!(
        pv >= 0.01,
        "mean soma Vm over [0, 245) ms differs from NEURON (Welch p = {pv:.4})"
    );
    assert!(
        peak_ours.abs_diff(peak_ref) <= 1,
        "output PSTH peak in bin {peak_ours}, NEURON in bin {peak_ref}"
    );
}

/// The presynaptic side alone (fast, no simulation): over 200 trials, the mean numbers of
/// active excitatory and inhibitory synapses and of release events agree with their exact
/// expectations under spec 04 §4.4–4.5 (Poisson count with mean T/interval thinned by the
/// release probability, PSTH bins Bernoulli(p_bin·p_rel)): E[active] = Σ_syn (1 − P(no
/// release)), E[releases] = Σ_syn E[spikes]·p. Bound: 4.5 standard errors.
/// Expectations for S4: 2980.2 exc + 1011.8 inh active, 4765.2 releases; NEURON's 20 trials
/// give 3006 ± 53 exc, 997 inh, 4755 ± 86 releases (exc 2.2 SE above the expectation).
#[test]
fn s4_presynaptic_counts_match_their_expectation() {
    use isf::network::{Activity, Release};
    let dir = conformance_dir();
    let inputs = dir.join("inputs");
    if !common::skip::require_data("S4 conformance data", &[&inputs.join("network.param")]) {
        return;
    }
    let prep = s4_network(&inputs);
    let is_exc: Vec<bool> = prep
        .network
        .populations
        .iter()
        .map(|p| {
            p.receptors
                .iter()
                .any(|r| r.mechanism.starts_with("glutamate"))
        })
        .collect();
    // Exact expectations.
    let (mut e_act, mut e_rel) = ([0.0; 2], 0.0);
    for (pi, pop) in prep.network.populations.iter().enumerate() {
        let Release::Probability(p) = pop.release else {
            panic!("S4 uses numeric release probabilities")
        };
        let (mut log_p_none, mut n_spikes) = (0.0, 0.0);
        for a in &pop.activity {
            match a {
                Activity::Poisson {
                    interval_ms,
                    noise,
                    start_ms,
                    stop_ms: None,
                    nspikes: None,
                } => {
                    assert!(*noise == 1.0 && *start_ms == 0.0, "S4: plain Poisson");
                    let lam = T_STOP_MS / interval_ms;
                    log_p_none -= p * lam;
                    n_spikes += lam;
                }
                Activity::Psth { bins, .. } => {
                    for b in bins {
                        log_p_none += (1.0 - b.probability * p).ln();
                        n_spikes += b.probability;
                    }
                }
                other => panic!("S4 has no {other:?}"),
            }
        }
        let n = prep.synapse_range[pi].len() as f64;
        e_act[usize::from(!is_exc[pi])] += n * (1.0 - log_p_none.exp());
        e_rel += n * n_spikes * p;
    }
    let n_trials = 200u64;
    let trials = isf::network::generate_trials(
        &prep,
        &(0..n_trials)
            .map(|k| trial_seed(MASTER, 0, k))
            .collect::<Vec<_>>(),
        T_STOP_MS,
    );
    let (mut exc, mut inh, mut rel) = (Vec::new(), Vec::new(), Vec::new());
    for t in &trials {
        let ne = t.iter().filter(|a| is_exc[a.population as usize]).count();
        exc.push(ne as f64);
        inh.push((t.n_active() - ne) as f64);
        rel.push(t.n_releases() as f64);
    }
    for (what, x, e) in [
        ("active excitatory synapses", &exc, e_act[0]),
        ("active inhibitory synapses", &inh, e_act[1]),
        ("release events", &rel, e_rel),
    ] {
        let (m, s) = mean_sd(x);
        let se = s / (x.len() as f64).sqrt();
        eprintln!("{what}: isf {m:.1} ± {s:.1} per trial ({n_trials} trials), expectation {e:.1}");
        assert!(
            (m - e).abs() < 4.5 * se,
            "{what}: mean {m:.1} vs expectation {e:.1} (SE {se:.1})"
        );
    }
}
