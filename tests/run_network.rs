//! A network experiment through the language and the run engine: `tests/conformance/network.isf`
//! (ISF's cell and network files) — per-trial input from the trial seed, synapses in the active
//! cell, reproducible trials.

mod common;

use isf::run::exec::TrialRunner;
use isf::run::{point_values, work_items};
use std::path::Path;

#[test]
fn s4_network_trials_run_and_reproduce() {
    let shared =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/conformance/inputs/network.param");
    // The script names ../shared/conformance itself, so ISF_CONFORMANCE cannot stand in.
    if !common::skip::require_data("conformance data next to the repository", &[&shared]) {
        return;
    }
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/conformance/network.isf");
    let c = isf::validate::check_path(&script);
    assert!(!c.has_errors(), "{:?}", c.diagnostics);
    let exp = &c.model.experiments[0];
    let runner =
        isf::run::cellsim::CellRunner::new(&c.model, exp).unwrap_or_else(|d| panic!("{d:?}"));
    let items = work_items(exp);
    let run = |k: usize| {
        runner
            .run(&items[k], &point_values(&exp.sweep, 0))
            .expect("trial runs")
    };
    let t0 = std::time::Instant::now();
    let a = run(0);
    let secs = t0.elapsed().as_secs_f64();
    let b = run(1);
    let a2 = run(0);
    assert_eq!(a, a2, "same seed, same trial");
    assert_ne!(a.traces[0].1, b.traces[0].1, "trials differ");
    // Synapse activations: one row per active synapse, ISF's columns; presynaptic spikes.
    let act = &a
        .tables
        .iter()
        .find(|t| t.0 == "synapse_activations")
        .expect("activations")
        .1;
    let rows = act.rows().expect("consistent table");
    assert!(
        (3500..4500).contains(&rows),
        "{rows} active synapses (reference ~4000)"
    );
    let pre = &a
        .tables
        .iter()
        .find(|t| t.0 == "presynaptic_spikes")
        .expect("presynaptic")
        .1;
    assert!(pre.rows().expect("consistent") > 0);
    for out in [&a, &b] {
        let v = &out.traces[0].1;
        let k245 = (245.0 / exp.dt_ms) as usize;
        let mean = v[..k245].iter().sum::<f64>() / k245 as f64;
        let spikes = out.events[0].1.len();
        eprintln!(
            "S4 trial: {spikes} spikes, mean soma Vm 0-245 ms {mean:.2} mV ({secs:.2} s per trial)"
        );
        assert!((-75.0..-50.0).contains(&mean), "{mean}");
        assert!(spikes <= 20);
        assert!(v.iter().all(|x| x.is_finite()));
    }
}
