//! Conformance of the synapse kernels (`glutamate_syn`, `gaba_syn`) and of release-event
//! delivery with NEURON 9.0.2: case S3 of `conformance/README.md` (200 synapses on the ISF cell
//! 86_C2_center, deterministic release times, 300 ms).
//!
//! The cell is built as in `tests/solver/conformance_current.rs`; the synapses come from
//! `inputs/S3_synapses.csv` (section, `x_effective`, receptor, weights) and their release times
//! from `inputs/S3_spike_times.csv` (probability 1, delay 0). Receptor parameters are those of
//! the README (ISF example network file): glutamate tau1 26, tau2 2, tau3 2, tau4 0.1 ms, no
//! depression or facilitation, e 0 mV; GABA risetime 1, decaytime 20 ms, e −80 mV, no
//! depression.
//!
//! Bounds: same somatic spike count, spike times within 0.2 ms, soma RMS |ΔV| below 1 mV. The
//! run is repeated without coalescing (one conductance channel per synapse); both must agree to
//! 1e-6 mV. Run with `cargo test --release --test solver conformance_s3:: -- --nocapture` for the table
//! and the timings.

use crate::common;
use common::table::{SegmentTable, hay2011_mechanisms, isf_cell_tree};
use isf::kernel::synapse::{Receptor, Synapse, SynapseSet};
use isf::kernel::{ActiveCell, CellConfig};

use common::conformance::{DT_MS, conformance_dir, landmarks, read_trace, site_of, spikes};
use isf::morph::Morphology;
use std::collections::HashMap;
use std::path::Path;
use std::time::Instant;

const T_STOP_MS: f64 = 300.0;

/// A CSV file: header names and rows of string fields.
fn read_csv(path: &Path) -> (Vec<String>, Vec<Vec<String>>) {
    let text = std::fs::read_to_string(path).expect("csv readable");
    let mut lines = text.lines();
    let head = lines
        .next()
        .expect("header")
        .split(',')
        .map(str::to_string)
        .collect();
    let rows = lines
        .filter(|l| !l.is_empty())
        .map(|l| l.split(',').map(str::to_string).collect())
        .collect();
    (head, rows)
}

/// The S3 synapses with their release times, and the expected compartment of each.
fn s3_synapses(dir: &Path) -> (Vec<Synapse>, Vec<(usize, usize)>) {
    let (head, rows) = read_csv(&dir.join("inputs/S3_synapses.csv"));
    let col = |name: &str| head.iter().position(|h| h == name).expect("column");
    let (c_id, c_sec, c_x, c_seg) = (
        col("synapse_id"),
        col("section_id"),
        col("x_effective"),
        col("seg_index"),
    );
    let (c_rec, c_w0, c_w1) = (col("receptor"), col("weight_0"), col("weight_1"));
    let (shead, srows) = read_csv(&dir.join("inputs/S3_spike_times.csv"));
    let sc = |name: &str| shead.iter().position(|h| h == name).expect("column");
    let (s_id, s_t) = (sc("synapse_id"), sc("spike_time_ms"));
    let mut times: HashMap<usize, Vec<f64>> = HashMap::new();
    for r in &srows {
        times
            .entry(r[s_id].parse().expect("id"))
            .or_default()
            .push(r[s_t].parse().expect("time"));
    }
    let mut syns = Vec::new();
    let mut segs = Vec::new();
    for (k, r) in rows.iter().enumerate() {
        let id: usize = r[c_id].parse().expect("id");
        let w1 = r[c_w1].parse::<f64>().unwrap_or(0.0);
        let w1 = if w1.is_nan() { 0.0 } else { w1 };
        assert_eq!(id, k, "synapse ids in order");
        // ISF's example values (network.param): tau1 26 ms, no depression; GABA e −80 mV.
        let receptor = match r[c_rec].as_str() {
            "glutamate_syn" => Receptor::stdlib(
                "glutamate_syn",
                &[("tau1", 26.0), ("decayampa", 1.0), ("decaynmda", 1.0)],
            ),
            "gaba_syn" => Receptor::stdlib("gaba_syn", &[("e", -80.0), ("decaygaba", 1.0)]),
            other => panic!("unknown receptor {other}"),
        }
        .expect("stdlib synapse");
        let w0: f64 = r[c_w0].parse().expect("w0");
        let weights_ns = if r[c_rec] == "glutamate_syn" {
            vec![w0, w1]
        } else {
            vec![w0]
        };
        let section: usize = r[c_sec].parse().expect("section");
        syns.push(Synapse {
            section,
            x: r[c_x].parse().expect("x"),
            receptor,
            weights_ns,
            release_times_ms: times.remove(&id).unwrap_or_default(),
            delay_ms: 0.0,
            seed: 0,
        });
        segs.push((section, r[c_seg].parse().expect("seg")));
    }
    assert!(times.is_empty(), "spike times of unknown synapses");
    (syns, segs)
}

#[test]
fn s3_synapses_match_neuron() {
    let dir = conformance_dir();
    let hoc = dir.join("inputs/86_C2_center.hoc");
    if !common::skip::require_data(
        "conformance data",
        &[&hoc, &dir.join("inputs/S3_synapses.csv")],
    ) {
        return;
    }
    let (tree, geo) = isf_cell_tree(&hoc, &dir.join("inputs/86_C2_center.param")).expect("cell");
    let mechs = hay2011_mechanisms().expect("hay2011 lowers");
    let table = SegmentTable::read(&dir.join("discretization/86_C2_center_segments.csv"))
        .expect("segment table");
    assert_eq!(table.n_rows, tree.n_segments());
    let placements = table.placements(&mechs).expect("placements");
    let reversals = table.reversals();
    let mut morph = Morphology::read(&hoc).expect("hoc");
    morph.add_hay2013_axon();
    let nseg: Vec<usize> = geo.sections.iter().map(|s| s.nseg).collect();
    let marks = landmarks(&dir.join("inputs/apical_proximal_distal_rec_sites.landmarkAscii"));
    let site1 = site_of(&morph, &nseg, marks[0]);
    let site2 = site_of(&morph, &nseg, marks[1]);
    assert_eq!((site1, site2), ((38, 32), (20, 0)), "recording sites");

    let (syns, segs) = s3_synapses(&dir);
    let n_syn = syns.len();
    let n_active = syns
        .iter()
        .filter(|s| !s.release_times_ms.is_empty())
        .count();
    let n_events: usize = syns.iter().map(|s| s.release_times_ms.len()).sum();
    assert_eq!((n_syn, n_events), (200, 686), "S3 input size");
    for (s, &(sec, seg)) in syns.iter().zip(&segs) {
        assert_eq!(
            tree.node_at(s.section, s.x),
            tree.segment_node(sec, seg),
            "synapse compartment (section {sec})"
        );
    }

    let n_steps = (T_STOP_MS / DT_MS).round() as usize;
    let build = |set: Option<SynapseSet>| {
        let mut cell =
            ActiveCell::new(tree.clone(), &placements, &reversals, CellConfig::default())
                .expect("active cell");
        if let Some(set) = set {
            cell.add_synapses(set).expect("synapses");
        }
        let t = cell.tree();
        let probes = vec![
            t.node_at(0, 0.5),
            t.segment_node(site1.0, site1.1),
            t.segment_node(site2.0, site2.1),
        ];
        (cell, probes)
    };
    let timed_run = |cell: &mut ActiveCell, probes: &[u32]| {
        let t0 = Instant::now();
        let tr = cell.run(n_steps, probes).expect("run");
        (tr, t0.elapsed().as_secs_f64())
    };

    // Without synapses (timing baseline), coalesced, one channel per synapse.
    let (mut bare, probes) = build(None);
    let (_, bare_s) = timed_run(&mut bare, &probes);
    let merged_set = SynapseSet {
        synapses: syns.clone(),
        coalesce: true,
    };
    let (mut cell, _) = build(Some(merged_set));
    let (trace, run_s) = timed_run(&mut cell, &probes);
    let (mut sep, _) = build(Some(SynapseSet {
        synapses: syns,
        coalesce: false,
    }));
    let (trace_sep, sep_s) = timed_run(&mut sep, &probes);
    // Best of three for the timings.
    let (mut bare_s, mut run_s) = (bare_s, run_s);
    for _ in 0..2 {
        bare_s = bare_s.min(timed_run(&mut bare, &probes).1);
        run_s = run_s.min(timed_run(&mut cell, &probes).1);
    }
    let kernel = cell.synapses().expect("synapses").clone();
    let (ng, ni) = (
        kernel.n_channels_of("glutamate_syn"),
        kernel.n_channels_of("gaba_syn"),
    );

    // Synapse kernel alone (delivery, currents, states) over the same steps.
    let mut k = kernel.clone();
    let v = cell.v_mv().to_vec();
    let (mut rhs, mut d) = (vec![0.0; v.len()], vec![0.0; v.len()]);
    let t0 = Instant::now();
    let reps = 10;
    for _ in 0..reps {
        k.run_frozen(&v, n_steps as u64, &mut rhs, &mut d);
    }
    let kernel_s = t0.elapsed().as_secs_f64() / reps as f64;
    std::hint::black_box((&rhs, &d));

    let (head, refc) = read_trace(&dir.join("outputs/86_C2_center_S3_trace.csv"));
    assert_eq!(refc[0].len(), n_steps + 1, "reference samples");
    let col = |name: &str| head.iter().position(|h| h == name).expect("column");
    let mut stats = Vec::new();
    let mut max_sep = 0.0f64;
    for (j, name) in ["v_soma", "v_site1", "v_site2"].iter().enumerate() {
        let r = &refc[col(name)];
        let ours = trace.column(j);
        let (mut ss, mut mx) = (0.0f64, 0.0f64);
        for (a, b) in ours.iter().zip(r) {
            let dv = a - b;
            ss += dv * dv;
            mx = mx.max(dv.abs());
        }
        stats.push(((ss / r.len() as f64).sqrt(), mx));
        for (a, b) in ours.iter().zip(trace_sep.column(j)) {
            max_sep = max_sep.max((a - b).abs());
        }
    }
    let ours = spikes(&trace.column(0));
    let refs = spikes(&refc[col("v_soma")]);
    let max_dt = ours
        .iter()
        .zip(&refs)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f64::max);
    common::conformance::eprint_timed_header();
    eprintln!(
        "{:<9} {:>4}/{:<4} {:>8.3} {:>10.3e} {:>9.3e} {:>10.3e} {:>9.3e} {:>10.3e} {:>9.3e} {:>7.3}",
        "S3",
        ours.len(),
        refs.len(),
        max_dt,
        stats[0].0,
        stats[0].1,
        stats[1].0,
        stats[1].1,
        stats[2].0,
        stats[2].1,
        run_s
    );
    let steps = n_steps as f64;
    eprintln!(
        "spikes ours {ours:?} NEURON {refs:?}\n\
         synapses {n_syn} ({n_active} active, {n_events} events) -> channels: {ng} glutamate, \
         {ni} GABA (coalesced); max |dV| coalesced vs per-synapse {max_sep:.2e} mV\n\
         run: no synapses {bare_s:.3} s, with synapses {run_s:.3} s, per-synapse channels \
         {sep_s:.3} s; difference {:.1} ns/active-synapse-step\n\
         synapse kernel alone {:.4} s = {:.1} ns/step = {:.2} ns/synapse-step ({:.2} per active)",
        (run_s - bare_s) / (n_active as f64 * steps) * 1e9,
        kernel_s,
        kernel_s / steps * 1e9,
        kernel_s / (n_syn as f64 * steps) * 1e9,
        kernel_s / (n_active as f64 * steps) * 1e9,
    );

    let mut failures = Vec::new();
    if ours.len() != refs.len() {
        failures.push(format!(
            "{} spikes, NEURON {} ({ours:?} vs {refs:?})",
            ours.len(),
            refs.len()
        ));
    } else if max_dt > 0.2 + 1e-9 {
        failures.push(format!("spike times differ by {max_dt} ms"));
    }
    if stats[0].0.is_nan() || stats[0].0 >= 1.0 {
        failures.push(format!("soma RMS |dV| {} mV", stats[0].0));
    }
    if max_sep.is_nan() || max_sep > 1e-6 {
        failures.push(format!(
            "coalesced vs per-synapse channels differ by {max_sep} mV"
        ));
    }
    assert!(failures.is_empty(), "S3 out of bounds: {failures:#?}");
}
