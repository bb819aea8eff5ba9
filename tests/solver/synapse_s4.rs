//! One trial of the network case S4 (`conformance/README.md`) end to end: the S4 network
//! (`inputs/network.param`, 24,780 placed synapses), one trial's release times from
//! [`isf::network::generate_trial`], turned into synapses with
//! [`isf::run::receptors::synapses_from_trial_input`], on the 86_C2_center active cell for
//! 300 ms. Reports the somatic spike count and the mean soma Vm over [0, 245) ms next to the
//! reference statistics (4.30 ± 1.13 spikes, −62.02 ± 1.11 mV across 20 NEURON trials with other
//! random numbers). Only sanity bounds are asserted (one trial is a single random draw).
//! Run with `cargo test --release --test solver synapse_s4:: -- --nocapture`; `ISF_S4_TRIALS=20` runs
//! 20 trials (seeds `trial_seed(2024, 0, t)`) and prints their mean and SD.

use crate::common;

use common::conformance::s4_network;
use common::table::{SegmentTable, hay2011_mechanisms, isf_cell_tree};
use isf::kernel::{ActiveCell, CellConfig};
use isf::run::receptors::synapses_from_trial_input;

use isf::network::generate_trial;
use isf::rng::trial_seed;
use std::path::PathBuf;
use std::time::Instant;

const DT_MS: f64 = 0.025;

fn conformance_dir() -> PathBuf {
    std::env::var_os("ISF_CONFORMANCE")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/conformance"))
}

#[test]
fn one_s4_trial_runs_end_to_end() {
    let dir = conformance_dir();
    let inputs = dir.join("inputs");
    if !common::skip::require_data("conformance data", &[&inputs.join("network.param")]) {
        return;
    }
    let hoc_path = inputs.join("86_C2_center.hoc");
    let prep = s4_network(&inputs);

    let (tree, _) = isf_cell_tree(&hoc_path, &inputs.join("86_C2_center.param")).expect("cell");
    let mechs = hay2011_mechanisms().expect("hay2011 lowers");
    let table = SegmentTable::read(&dir.join("discretization/86_C2_center_segments.csv"))
        .expect("segment table");
    let placements = table.placements(&mechs).expect("placements");
    let reversals = table.reversals();

    let t_stop = 300.0;
    let n_steps = (t_stop / DT_MS).round() as usize;
    let k245 = (245.0 / DT_MS).round() as usize;
    let n_trials: u64 = std::env::var("ISF_S4_TRIALS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1);
    let mut cell =
        ActiveCell::new(tree, &placements, &reversals, CellConfig::default()).expect("active cell");
    let soma = cell.tree().node_at(0, 0.5);
    let (mut counts, mut means) = (Vec::new(), Vec::new());
    for t in 0..n_trials {
        let trial = generate_trial(&prep, trial_seed(2024, 0, t), t_stop);
        let set = synapses_from_trial_input(&prep.network, &trial).expect("synapses");
        for a in trial.iter() {
            assert_eq!(
                cell.tree().node_at(a.section as usize, a.x),
                cell.tree()
                    .segment_node(a.section as usize, a.segment as usize),
                "placement compartment"
            );
        }
        let n_syn = set.synapses.len();
        cell.clear_synapses();
        cell.add_synapses(set).expect("add synapses");
        let kern = cell.synapses().unwrap();
        let (ng, ni) = (
            kern.n_channels_of("glutamate_syn"),
            kern.n_channels_of("gaba_syn"),
        );
        let t0 = Instant::now();
        let trace = cell.run(n_steps, &[soma]).expect("run");
        let run_s = t0.elapsed().as_secs_f64();
        let v = trace.column(0);
        let spikes: Vec<f64> = (1..v.len())
            .filter(|&i| v[i - 1] < 0.0 && v[i] >= 0.0)
            .map(|i| i as f64 * DT_MS)
            .collect();
        let mean = v[..k245].iter().sum::<f64>() / k245 as f64;
        // The synapse kernel alone over the same steps (voltages frozen at the final state).
        let mut k = cell.synapses().unwrap().clone();
        let vf = cell.v_mv().to_vec();
        let (mut rhs, mut d) = (vec![0.0; vf.len()], vec![0.0; vf.len()]);
        let t1 = Instant::now();
        k.run_frozen(&vf, n_steps as u64, &mut rhs, &mut d);
        let kernel_s = t1.elapsed().as_secs_f64();
        std::hint::black_box((&rhs, &d));
        eprintln!(
            "S4 trial {t}: {} active synapses, {n_syn} receptors, {} releases -> {ng} glutamate \
             + {ni} GABA channels; run {run_s:.3} s, of which synapse kernel alone {kernel_s:.3} s \
             ({:.2} ns/receptor-step)\n  soma spikes {} at {spikes:?}; mean soma Vm [0, 245) ms \
             {mean:.2} mV",
            trial.n_active(),
            trial.n_releases(),
            kernel_s / (n_syn as f64 * n_steps as f64) * 1e9,
            spikes.len()
        );
        assert!(v.iter().all(|x| x.is_finite()));
        assert!(
            spikes.len() <= 20,
            "implausible spike count {}",
            spikes.len()
        );
        assert!((-75.0..-50.0).contains(&mean), "implausible mean Vm {mean}");
        counts.push(spikes.len() as f64);
        means.push(mean);
    }
    let ms = |x: &[f64]| {
        let m = x.iter().sum::<f64>() / x.len() as f64;
        let var = x.iter().map(|v| (v - m).powi(2)).sum::<f64>() / (x.len().max(2) - 1) as f64;
        (m, var.sqrt())
    };
    let ((cm, cs), (vm, vs)) = (ms(&counts), ms(&means));
    eprintln!(
        "{n_trials} trial(s): spikes {cm:.2} ± {cs:.2}, mean soma Vm [0, 245) {vm:.2} ± {vs:.2} mV \
         (NEURON, 20 trials: 4.30 ± 1.13 spikes, -62.02 ± 1.11 mV); ISF_S4_TRIALS=n for more"
    );
}
