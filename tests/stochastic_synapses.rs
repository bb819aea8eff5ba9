//! The stochastic synapses of `std.synapses` (ProbAMPANMDA2, ProbUDFsyn2; spec 03 §3.6)
//! against their equations, and their draws' independence of threads and trial order.
//!
//! Statistics. Along a fixed presynaptic train the STP state is deterministic (Pv and u are
//! updated whether or not a vesicle is released), so event `k` releases with the fixed
//! probability `p_k = 1 − exp(−u_k·Pv_k)` (exponential draw, spec 00 pitfalls), independently
//! of the other events. Over N trials the release count of event `k` is Binomial(N, p_k): the
//! tests accept `|f_k − p_k| ≤ 4·σ_k`, `σ_k = sqrt(p_k(1 − p_k)/N)`, per event (a false alarm
//! for a correct kernel has probability < 1e-3 over ten events; the seeds are fixed, so the
//! outcome is too). The mean conductance after step m is `Σ_k p_k·c_k(m)` with `c_k` the
//! normalised double exponential of one release, variance `Σ_k p_k(1 − p_k)·c_k(m)²`; the
//! observed mean must stay within 5 standard errors at every step.

mod common;

use common::synth::cylinder_cell;
use isf::kernel::synapse::{Receptor, Synapse, SynapseKernel, peaknorm};
use isf::rng::trial_seed;
use isf::rng::{RECEPTOR_DRAWS, population_stream, receptor_seed};
use isf::sim::CableTree;
use std::path::Path;
use std::process::Command;

const DT: f64 = 0.025;

/// A presynaptic train with short and long intervals, off the time grid.
const TRAIN: [f64; 10] = [5.01, 15.0, 20.3, 22.5, 40.0, 41.2, 60.0, 90.7, 95.0, 150.0];

fn tree() -> CableTree {
    CableTree::from_geometry(&cylinder_cell(100.0, 2.0, 5, 100.0, 1.0)).unwrap()
}

/// The spec's event recursion: per event, the release probability with the exponential draw
/// (`1 − exp(−Pr)`) and with a uniform one (`Pr`).
fn release_probabilities(use_: f64, dep: f64, fac: f64, u0: f64) -> Vec<(f64, f64)> {
    let (mut pv, mut u, mut tsyn) = (1.0f64, u0, 0.0f64);
    TRAIN
        .iter()
        .map(|&t| {
            let since = t - tsyn;
            if fac > 0.0 {
                u *= (-since / fac).exp();
                u += use_ * (1.0 - u);
            } else {
                u = use_;
            }
            pv = 1.0 - (1.0 - pv) * (-since / dep).exp();
            let pr = u * pv;
            pv -= u * pv;
            tsyn = t;
            (1.0 - (-pr).exp(), pr)
        })
        .collect()
}

/// One trial's seed for synapse 0, receptor 0 of population "P" (as the runner derives it).
fn seed(trial: u64) -> u64 {
    receptor_seed(
        trial_seed(2026, 0, trial),
        population_stream("P", RECEPTOR_DRAWS),
        0,
        0,
    )
}

/// Per trial: the conductance states (rise, decay) after every step, for the state pairs
/// `pairs` of the receptor.
fn run_trials(
    receptor: &Receptor,
    pairs: &[(&str, &str)],
    n_trials: u64,
    n_steps: u64,
) -> Vec<Vec<Vec<(f64, f64)>>> {
    let tree = tree();
    let v = vec![-70.0; tree.n_nodes()];
    (0..n_trials)
        .map(|trial| {
            let syn = Synapse {
                section: 0,
                x: 0.5,
                receptor: receptor.clone(),
                weights_ns: vec![1.0],
                release_times_ms: TRAIN.to_vec(),
                delay_ms: 0.0,
                seed: seed(trial),
            };
            let mut k = SynapseKernel::new(&tree, vec![syn], true, DT, 34.0).unwrap();
            let mut out = vec![Vec::with_capacity(n_steps as usize); pairs.len()];
            k.run_frozen_with(&v, n_steps, |_, k| {
                for (o, (a, b)) in out.iter_mut().zip(pairs) {
                    let (_, sa) = k.channel_state(k_name(receptor), a).unwrap();
                    let (_, sb) = k.channel_state(k_name(receptor), b).unwrap();
                    o.push((sa[0], sb[0]));
                }
            });
            out
        })
        .collect()
}

fn k_name(r: &Receptor) -> &str {
    r.mech.name()
}

/// Step at which an event at `t` acts (spec 03 §3.8).
fn event_step(t: f64) -> usize {
    (t / DT + 0.5).floor() as usize
}

/// Whether each event of a trial released: the decay state jumped by about one kick.
fn releases(decay: &[(f64, f64)], tau_d: f64, kick: f64) -> Vec<bool> {
    let ed = (-DT / tau_d).exp();
    TRAIN
        .iter()
        .map(|&t| {
            let n = event_step(t);
            let before = if n == 0 { 0.0 } else { decay[n - 1].1 };
            decay[n].1 - before * ed > 0.5 * kick * ed
        })
        .collect()
}

struct Stats {
    observed: Vec<f64>,
    max_sigma: f64,
    chi2_exp: f64,
    chi2_uniform: f64,
}

fn release_stats(rel: &[Vec<bool>], p: &[(f64, f64)]) -> Stats {
    let n = rel.len() as f64;
    let mut s = Stats {
        observed: vec![],
        max_sigma: 0.0,
        chi2_exp: 0.0,
        chi2_uniform: 0.0,
    };
    for (k, &(pe, pu)) in p.iter().enumerate() {
        let f = rel.iter().filter(|r| r[k]).count() as f64 / n;
        let se = (pe * (1.0 - pe) / n).sqrt();
        let su = (pu * (1.0 - pu) / n).sqrt();
        s.observed.push(f);
        s.max_sigma = s.max_sigma.max((f - pe).abs() / se);
        s.chi2_exp += ((f - pe) / se).powi(2);
        s.chi2_uniform += ((f - pu) / su).powi(2);
    }
    s
}

/// ProbUDFsyn2 with facilitation (and a non-zero u0, a parameter-dependent initial state):
/// release fractions per event and the mean conductance follow the spec's equations.
#[test]
fn prob_udf_release_statistics_and_mean_conductance() {
    let (use_, dep, fac, u0, tau_r, tau_d) = (0.5, 100.0, 30.0, 0.1, 0.5, 3.0);
    let r = Receptor::stdlib(
        "ProbUDFsyn2",
        &[
            ("Use", use_),
            ("Dep", dep),
            ("Fac", fac),
            ("u0", u0),
            ("tau_r", tau_r),
            ("tau_d", tau_d),
        ],
    )
    .unwrap();
    let p = release_probabilities(use_, dep, fac, u0);
    let kick = peaknorm(tau_r, tau_d); // w = 1
    let n_steps = event_step(160.0) as u64;
    // 50 trials (the acceptance test), then 2000 for a sharper look.
    for n_trials in [50u64, 2000] {
        let runs = run_trials(&r, &[("A", "B")], n_trials, n_steps);
        let rel: Vec<Vec<bool>> = runs.iter().map(|t| releases(&t[0], tau_d, kick)).collect();
        let st = release_stats(&rel, &p);
        eprintln!(
            "ProbUDFsyn2, {n_trials} trials, Use {use_}, Dep {dep} ms, Fac {fac} ms, u0 {u0}:"
        );
        for (k, (&(pe, pu), f)) in p.iter().zip(&st.observed).enumerate() {
            eprintln!(
                "  event {k} at {:6.2} ms: observed {f:.4}  expected 1-exp(-Pr) {pe:.4}  (Pr {pu:.4})",
                TRAIN[k]
            );
        }
        eprintln!(
            "  max |obs - exp| = {:.2} sigma; chi2 (10 events) vs 1-exp(-Pr): {:.1}, vs Pr: {:.1}",
            st.max_sigma, st.chi2_exp, st.chi2_uniform
        );
        assert!(st.max_sigma <= 4.0, "max deviation {} sigma", st.max_sigma);
        if n_trials == 2000 {
            // The test tells the exponential draw from a uniform one.
            assert!(st.chi2_exp < 35.0, "chi2 {}", st.chi2_exp);
            assert!(st.chi2_uniform > 100.0, "chi2 vs Pr {}", st.chi2_uniform);
        }
        // Mean conductance g = gmax·(B − A) (gmax = 1 nS, w = 1) against Σ p_k·c_k.
        let (er, ed) = ((-DT / tau_r).exp(), (-DT / tau_d).exp());
        let mut worst: f64 = 0.0;
        for m in 0..n_steps as usize {
            let (mut mean, mut var) = (0.0, 0.0);
            for (k, &(pe, _)) in p.iter().enumerate() {
                let n = event_step(TRAIN[k]);
                if m >= n {
                    let j = (m - n + 1) as i32;
                    let c = kick * (ed.powi(j) - er.powi(j));
                    mean += pe * c;
                    var += pe * (1.0 - pe) * c * c;
                }
            }
            let obs = runs.iter().map(|t| t[0][m].1 - t[0][m].0).sum::<f64>() / n_trials as f64;
            let se = (var / n_trials as f64).sqrt();
            if var > 0.0 {
                worst = worst.max((obs - mean).abs() / se);
            } else {
                // Before the first event: nothing at all.
                assert_eq!(obs, 0.0, "step {m}");
            }
        }
        eprintln!("  mean conductance: max |obs - exp| = {worst:.2} standard errors");
        assert!(
            worst <= 5.0,
            "mean conductance off by {worst} standard errors"
        );
    }
}

/// ProbAMPANMDA2 without facilitation (ISF's "dynamic" example values): u = Use at every
/// event, one draw releases both components together.
#[test]
fn prob_ampanmda_releases_both_components_with_the_spec_probability() {
    let (use_, dep) = (0.6, 800.0);
    let r = Receptor::stdlib(
        "ProbAMPANMDA2",
        &[
            ("Use", use_),
            ("Dep", dep),
            ("Fac", 0.0),
            ("tau_r_AMPA", 0.1),
            ("tau_d_AMPA", 2.0),
            ("tau_r_NMDA", 2.0),
            ("tau_d_NMDA", 26.0),
        ],
    )
    .unwrap();
    let p = release_probabilities(use_, dep, 0.0, 0.0);
    let n_steps = event_step(160.0) as u64;
    let runs = run_trials(
        &r,
        &[("A_AMPA", "B_AMPA"), ("A_NMDA", "B_NMDA")],
        50,
        n_steps,
    );
    let ampa: Vec<Vec<bool>> = runs
        .iter()
        .map(|t| releases(&t[0], 2.0, peaknorm(0.1, 2.0)))
        .collect();
    let nmda: Vec<Vec<bool>> = runs
        .iter()
        .map(|t| releases(&t[1], 26.0, peaknorm(2.0, 26.0)))
        .collect();
    assert_eq!(ampa, nmda, "AMPA and NMDA release together");
    let st = release_stats(&ampa, &p);
    eprintln!("ProbAMPANMDA2, 50 trials, Use {use_}, Dep {dep} ms, Fac 0:");
    for (k, (&(pe, pu), f)) in p.iter().zip(&st.observed).enumerate() {
        eprintln!("  event {k}: observed {f:.2}  expected {pe:.4}  (Pr {pu:.4})");
    }
    eprintln!("  max |obs - exp| = {:.2} sigma", st.max_sigma);
    assert!(st.max_sigma <= 4.0, "max deviation {} sigma", st.max_sigma);
    // Some but not all events release.
    let total: usize = ampa.iter().flatten().filter(|&&x| x).count();
    assert!(total > 0 && total < 500, "{total} releases");
}

/// A trial's draws depend on its seed only: the same seed gives the same releases, another
/// seed other ones.
#[test]
fn draws_depend_on_the_seed_only() {
    let r = Receptor::stdlib("ProbUDFsyn2", &[("Use", 0.5), ("Fac", 0.0)]).unwrap();
    let a = run_trials(&r, &[("A", "B")], 6, 4000);
    let b = run_trials(&r, &[("A", "B")], 6, 4000);
    assert_eq!(a, b);
    assert!(a.windows(2).any(|w| w[0] != w[1]));
}

fn isf(args: &[&str], dir: &Path) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_isf"))
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap()
}

/// A small network of stochastic synapses with `release_probability: "dynamic"`.
const SCRIPT: &str = r#"import std.channels.hay2011.{pas}
import std.synapses.{ProbAMPANMDA2, ProbUDFsyn2}

neuron Cell {
    morphology: swc("l5pt_simple.swc")
    v_init: -75 mV
    discretization: isf_d_lambda(frequency: 100 Hz)
    all { Ra: 100 ohm*cm, cm: 1 uF/cm2, pas { g: 5e-5 S/cm2, e: -75 mV } }
}

network Net {
    population Exc {
        cells: 20
        synapses: 40
        release_probability: "dynamic"
        receptor ProbAMPANMDA2 { w: 1.5, Use: 0.6, Dep: 800 ms, Fac: 0 ms, tau_r_AMPA: 0.1 ms, tau_d_AMPA: 2 ms, tau_r_NMDA: 2 ms, tau_d_NMDA: 26 ms }
        activity: poisson(interval: 40 ms)
    }
    population Inh {
        cells: 10
        release_probability: 0.8
        receptor ProbUDFsyn2 { w: 1.0, e: -80 mV, Use: 0.25, Dep: 700 ms, Fac: 20 ms, tau_r: 1 ms, tau_d: 20 ms }
        activity: poisson(interval: 60 ms)
    }
}

experiment dyn {
    neuron: Cell
    network: Net
    duration: 150 ms
    trials: 4
    seed: 7
    record { soma.v }
}
"#;

/// Each trial's stored soma trace, by trial.
fn traces(store: &Path, trials: &[u64]) -> Vec<String> {
    traces_of(store, "dyn", trials)
}

fn traces_of(store: &Path, exp: &str, trials: &[u64]) -> Vec<String> {
    let s = isf::store::Store::open(store).unwrap();
    trials
        .iter()
        .map(|t| {
            let t = s
                .get_table(&format!("{exp}/trials/p000000_t{t:06}"))
                .unwrap();
            format!("{:?}", t.columns)
        })
        .collect()
}

/// `isf run` gives bit-identical trials with 1 and 2 threads, and a trial's result does not
/// depend on which other trials run or in which order (a shard holding trials 1 and 3 only).
#[test]
fn network_runs_identically_for_any_thread_count_and_trial_order() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/cells/l5pt_simple.swc"),
        d.join("l5pt_simple.swc"),
    )
    .unwrap();
    std::fs::write(d.join("dyn.isf"), SCRIPT).unwrap();
    let c = isf(&["check", "dyn.isf"], d);
    assert!(c.status.success(), "{}", String::from_utf8_lossy(&c.stderr));
    for (store, extra) in [
        ("j1.isfdb", vec!["--jobs", "1"]),
        ("j2.isfdb", vec!["--jobs", "2"]),
        ("shard.isfdb", vec!["--jobs", "2", "--shard", "2/2"]),
    ] {
        let mut args = vec!["run", "dyn.isf", "--quiet", "--out", store];
        args.extend(extra);
        let o = isf(&args, d);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }
    let one = traces(&d.join("j1.isfdb"), &[0, 1, 2, 3]);
    let two = traces(&d.join("j2.isfdb"), &[0, 1, 2, 3]);
    assert_eq!(one, two, "1 and 2 threads");
    let s = isf::store::Store::open(d.join("shard.isfdb")).unwrap();
    let keys = s.keys_recursive().unwrap();
    let mine: Vec<u64> = (0..4)
        .filter(|t| keys.contains(&format!("dyn/trials/p000000_t{t:06}")))
        .collect();
    assert!(!mine.is_empty() && mine.len() < 4, "{mine:?}");
    let shard = traces(&d.join("j1.isfdb"), &mine);
    assert_eq!(traces(&d.join("shard.isfdb"), &mine), shard, "shard");
    // The draws make trials differ.
    assert_ne!(one[0], one[1]);
}

/// Without a stochastic receptor, `"dynamic"` is refused (ISF fails too).
#[test]
fn dynamic_release_needs_a_drawing_receptor() {
    let text = SCRIPT.replace(
        "receptor ProbAMPANMDA2 { w: 1.5, Use: 0.6, Dep: 800 ms, Fac: 0 ms, tau_r_AMPA: 0.1 ms, tau_d_AMPA: 2 ms, tau_r_NMDA: 2 ms, tau_d_NMDA: 26 ms }",
        "receptor glutamate { weight_ampa: 1 nS }",
    );
    let c = isf::validate::check_text("dyn.isf", &text, Path::new("."));
    let codes: Vec<&str> = c.diagnostics.iter().map(|d| d.code.as_str()).collect();
    assert!(codes.contains(&"E0214"), "{codes:?}");
}

/// An ISF network `.param` naming ProbAMPANMDA2 with `releaseProb: "dynamic"` (and
/// ProbUDFsyn2 with a numeric probability) on the conformance anatomy: it checks and runs,
/// `gmax` in µS becomes 1 nS, and its `isf convert` output checks and runs to the same bits.
#[test]
fn network_param_with_stochastic_receptors_checks_converts_and_runs() {
    let inputs = common::conformance::conformance_dir().join("inputs");
    let (syn, con, cell) = (
        inputs.join("example_embedding_86_C2_center.syn"),
        inputs.join("example_embedding_86_C2_center.con"),
        inputs.join("86_C2_center.param"),
    );
    if !common::skip::require_data("conformance data", &[&syn, &con, &cell]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (syn, con, cell) = (syn.display(), con.display(), cell.display());
    let param = format!(
        r#"{{
  "info": {{"name": "dynamic release"}},
  "network": {{
    "L5tt_C2": {{
      "synapses": {{
        "releaseProb": "dynamic",
        "distributionFile": "{syn}",
        "connectionFile": "{con}",
        "receptors": {{
          "ProbAMPANMDA2": {{
            "threshold": 0.0,
            "delay": 0.0,
            "parameter": {{"tau_r_AMPA": 0.1, "tau_d_AMPA": 2.0, "tau_r_NMDA": 2.0, "tau_d_NMDA": 26.0, "Dep": 800.0, "Fac": 0.0, "Use": 0.6, "u0": 0.0, "gmax": 0.001}},
            "weight": 1.5,
          }},
        }},
      }},
      "cellNr": 379,
      "celltype": "spiketrain",
      "interval": 25.0,
    }},
    "L45Peak_C2": {{
      "synapses": {{
        "releaseProb": 0.25,
        "distributionFile": "{syn}",
        "connectionFile": "{con}",
        "receptors": {{
          "ProbUDFsyn2": {{
            "threshold": 0.0,
            "delay": 0.5,
            "parameter": {{"tau_r": 1.0, "tau_d": 20.0, "e": -80.0, "Dep": 700.0, "Fac": 20.0, "Use": 0.25, "gmax": 0.001}},
            "weight": 1.0,
          }},
        }},
      }},
      "cellNr": 203,
      "celltype": "spiketrain",
      "interval": 50.0,
    }},
  }},
}}
"#
    );
    std::fs::write(d.join("net.param"), param).unwrap();
    let net = isf::interop::network_param::isf_network_param(&d.join("net.param")).unwrap();
    assert_eq!(net.populations[0].release, isf::network::Release::Dynamic);
    let gmax = |p: usize| {
        net.populations[p].receptors[0]
            .parameters
            .iter()
            .find(|x| x.0 == "gmax")
            .unwrap()
            .1
    };
    assert_eq!((gmax(0), gmax(1)), (1.0, 1.0), "gmax 0.001 uS = 1 nS");
    let experiment = |network: &str| {
        format!(
            "neuron L5PT = isf_param(\"{cell}\")\n{network}\nexperiment e {{\n    neuron: L5PT\n    network: Dyn\n    duration: 60 ms\n    trials: 2\n    seed: 3\n    record {{ soma.v, synapse_activations }}\n}}\n"
        )
    };
    std::fs::write(
        d.join("param.isf"),
        experiment("network Dyn = isf_network_param(\"net.param\")"),
    )
    .unwrap();
    let o = isf(
        &["convert", "net.param", "--name", "Dyn", "-o", "conv.isf"],
        d,
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let conv = std::fs::read_to_string(d.join("conv.isf")).unwrap();
    for want in [
        "import std.synapses.{ProbAMPANMDA2, ProbUDFsyn2}",
        "release_probability: \"dynamic\"",
        "receptor ProbAMPANMDA2 {",
        "gmax: 1 nS",
    ] {
        assert!(conv.contains(want), "`{want}` missing from\n{conv}");
    }
    std::fs::write(d.join("conv_run.isf"), experiment("import \"conv.isf\"")).unwrap();
    for (script, store) in [("param.isf", "p.isfdb"), ("conv_run.isf", "c.isfdb")] {
        let c = isf(&["check", script], d);
        assert!(c.status.success(), "{}", String::from_utf8_lossy(&c.stderr));
        let o = isf(&["run", script, "--quiet", "--out", store], d);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }
    let a = traces_of(&d.join("p.isfdb"), "e", &[0, 1]);
    assert_eq!(a, traces_of(&d.join("c.isfdb"), "e", &[0, 1]));
    assert_ne!(a[0], a[1]);
}
