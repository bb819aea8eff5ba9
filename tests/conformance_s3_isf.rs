//! Case S3 run from the isf script `tests/conformance/s3.isf`: ISF's cell file through
//! `isf_param`, ISF's network file for the receptors, and the recorded spike times of
//! `inputs/S3_spike_times.csv` replayed with `replay:` — the path of `isf run` (checked model →
//! `CellRunner` → trial) — against the NEURON reference `outputs/86_C2_center_S3_*`.
//!
//! Bounds (issue "Synapses and network input"): the same spike count, spike times within
//! 0.2 ms, soma RMS |ΔV| < 1 mV. The references print 6 decimals, so a perfect match shows
//! |ΔV| ≤ 5e-7 mV. The data come from `../shared/conformance` or `$ISF_CONFORMANCE` (the
//! script's relative paths are redirected there). Run with
//! `cargo test --release --test conformance_s3_isf -- --nocapture` for the numbers.

mod common;

use common::conformance::{
    conformance_dir, print_table_header, print_table_row, read_trace, rms_max,
};
use isf::run::cellsim::CellRunner;
use isf::run::exec::TrialRunner;
use isf::run::{point_values, work_items};
use isf::store::Column;
use std::collections::HashMap;
use std::path::Path;

#[test]
fn s3_script_replays_recorded_spikes_like_neuron() {
    let dir = conformance_dir();
    if !common::skip::require_data(
        "conformance data",
        &[&dir.join("inputs/S3_spike_times.csv"), &dir.join("outputs")],
    ) {
        return;
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let script_dir = root.join("tests/conformance");
    let text = std::fs::read_to_string(script_dir.join("s3.isf")).expect("s3.isf");
    let text = text.replace("../../../shared/conformance", &dir.display().to_string());
    let checked = isf::validate::check_text("s3.isf", &text, &script_dir);
    assert!(!checked.has_errors(), "{:?}", checked.diagnostics);
    let model = &checked.model;
    let exp = &model.experiments[0];
    assert_eq!(exp.trials, 1, "one replay file, one trial");
    assert_eq!(exp.replay.len(), 1);
    assert_eq!(exp.replay[0].format, "spike_times");
    assert_eq!(
        (exp.replay[0].synapses, exp.replay[0].releases),
        (199, 686),
        "S3 input size"
    );

    let t0 = std::time::Instant::now();
    let runner = CellRunner::new(model, exp).unwrap_or_else(|d| panic!("{d:?}"));
    let setup_s = t0.elapsed().as_secs_f64();
    let item = work_items(exp)[0];
    let t0 = std::time::Instant::now();
    let out = runner
        .run(&item, &point_values(&exp.sweep, 0))
        .unwrap_or_else(|d| panic!("{d:?}"));
    let run_s = t0.elapsed().as_secs_f64();

    // Every replayed synapse sits at ISF's point (S3_synapses.csv: section, pt_index) and
    // releases exactly at its recorded spike times.
    let act = &out
        .tables
        .iter()
        .find(|t| t.0 == "synapse_activations")
        .expect("synapse_activations")
        .1;
    assert_eq!(act.rows(), Ok(199));
    let (Some(Column::I64(ids)), Some(Column::I64(secs)), Some(Column::I64(pts))) = (
        act.column("synapse_id"),
        act.column("section"),
        act.column("point"),
    ) else {
        panic!("activation columns");
    };
    let Some(Column::F64List(times)) = act.column("release_times_ms") else {
        panic!("release times");
    };
    let syn_text = std::fs::read_to_string(dir.join("inputs/S3_synapses.csv")).expect("csv");
    let mut lines = syn_text.lines();
    let head: Vec<&str> = lines.next().expect("header").split(',').collect();
    let col = |n: &str| head.iter().position(|h| *h == n).expect("column");
    let (c_id, c_sec, c_pt) = (col("synapse_id"), col("section_id"), col("pt_index"));
    let mut expected: HashMap<i64, (i64, i64)> = HashMap::new();
    for l in lines.filter(|l| !l.is_empty()) {
        let f: Vec<&str> = l.split(',').collect();
        expected.insert(
            f[c_id].parse().expect("id"),
            (f[c_sec].parse().expect("sec"), f[c_pt].parse().expect("pt")),
        );
    }
    let spikes_text =
        std::fs::read_to_string(dir.join("inputs/S3_spike_times.csv")).expect("spike times");
    let mut recorded: HashMap<i64, Vec<f64>> = HashMap::new();
    for l in spikes_text.lines().skip(1).filter(|l| !l.is_empty()) {
        let f: Vec<&str> = l.split(',').collect();
        recorded
            .entry(f[0].parse().expect("id"))
            .or_default()
            .push(f[4].parse().expect("time"));
    }
    for k in 0..ids.len() {
        assert_eq!(
            expected.get(&ids[k]),
            Some(&(secs[k], pts[k])),
            "synapse {}",
            ids[k]
        );
        let mut want = recorded.remove(&ids[k]).expect("recorded synapse");
        want.sort_by(f64::total_cmp);
        assert_eq!(times[k], want, "release times of synapse {}", ids[k]);
    }
    assert!(recorded.is_empty(), "synapses not replayed: {recorded:?}");

    // Traces and spikes against NEURON.
    let (_, cols) = read_trace(&dir.join("outputs/86_C2_center_S3_trace.csv"));
    let (_, ref_spikes) = read_trace(&dir.join("outputs/86_C2_center_S3_spikes.csv"));
    let ref_spikes = &ref_spikes[1];
    let trace = |name: &str| {
        &out.traces
            .iter()
            .find(|t| t.0 == name)
            .unwrap_or_else(|| panic!("{name}"))
            .1
    };
    let (s_rms, s_max) = rms_max(trace("soma.v"), &cols[1]);
    let (a_rms, a_max) = rms_max(
        trace("sites(apical_proximal_distal_rec_sites.landmarkAscii)[0].v"),
        &cols[2],
    );
    let (b_rms, b_max) = rms_max(
        trace("sites(apical_proximal_distal_rec_sites.landmarkAscii)[1].v"),
        &cols[3],
    );
    let spikes = &out
        .events
        .iter()
        .find(|e| e.0 == "spikes(soma)")
        .expect("spikes")
        .1;
    let max_dt = spikes
        .iter()
        .zip(ref_spikes)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f64::max);
    print_table_header();
    print_table_row(
        "S3",
        (spikes.len(), ref_spikes.len()),
        max_dt,
        [(s_rms, s_max), (a_rms, a_max), (b_rms, b_max)],
    );
    println!("setup {setup_s:.2} s, trial {run_s:.2} s");
    assert_eq!(spikes.len(), ref_spikes.len(), "spike count");
    assert!(max_dt <= 0.2 + 1e-9, "spike times differ by {max_dt} ms");
    assert!(s_rms < 1.0, "soma RMS |dV| {s_rms} mV");
}
