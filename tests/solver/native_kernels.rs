//! The fused native kernels (`isf::kernel::native`): the committed `generated.rs` is what the
//! generator makes of the standard library's programs and the conformance cell's (rewrite it
//! with `ISF_REGEN_NATIVE=1`), every mechanism of the conformance cell runs native, and the
//! whole cell gives bit-identical voltages and states with and without them; the synapse
//! channels of `std.synapses` (S4's receptors among them) run native and bit-identical too.

use crate::common;

use common::conformance::conformance_dir;
use common::synth::branched_cell;
use common::table::{SegmentTable, hay2011_mechanisms, isf_cell_tree};
use isf::kernel::native::generator::{generate, stdlib_programs};
use isf::kernel::synapse::{Receptor, Synapse, SynapseKernel, find_synapse};
use isf::kernel::{ActiveCell, CellConfig};
use isf::sim::CableTree;
use std::path::Path;

/// The S1 cell of the conformance data (channel densities from the segment table), or `None`
/// (skipped, or failed under CI) without the data.
fn s1_cell() -> Option<ActiveCell> {
    let dir = conformance_dir();
    let hoc = dir.join("inputs/86_C2_center.hoc");
    if !common::skip::require_data("conformance data", &[&hoc]) {
        return None;
    }
    let (tree, _) = isf_cell_tree(&hoc, &dir.join("inputs/86_C2_center.param")).expect("cell");
    let mechs = hay2011_mechanisms().expect("hay2011");
    let table = SegmentTable::read(&dir.join("discretization/86_C2_center_segments.csv"))
        .expect("segment table");
    let placements = table.placements(&mechs).expect("placements");
    let cell = ActiveCell::new(tree, &placements, &table.reversals(), CellConfig::default())
        .expect("active cell");
    Some(cell)
}

#[test]
fn generated_kernels_are_current() {
    let Some(cell) = s1_cell() else { return };
    let mut progs = stdlib_programs().expect("stdlib programs");
    for m in cell.mechanisms() {
        for (what, p) in m.hot_programs() {
            if !p.is_empty() {
                progs.push((format!("{} {what}, conformance cell", m.name), p.clone()));
            }
        }
    }
    let text = generate(&progs);
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/kernel/native/generated.rs");
    let old = std::fs::read_to_string(&path).unwrap_or_default();
    if old != text {
        if std::env::var("ISF_REGEN_NATIVE").is_ok_and(|v| v == "1") {
            std::fs::write(&path, text).expect("write generated.rs");
        } else {
            panic!(
                "src/kernel/native/generated.rs is out of date with the mechanism compiler or \
                 the standard library; run `ISF_REGEN_NATIVE=1 cargo test --release --test solver \
                 native_kernels` and rebuild"
            );
        }
    }
}

#[test]
fn conformance_cell_runs_native_and_bit_identical() {
    let Some(mut native) = s1_cell() else { return };
    for m in native.mechanisms() {
        for ((what, p), k) in m.hot_programs().into_iter().zip(m.native_kernels()) {
            assert!(
                p.is_empty() || k.is_some(),
                "{} {what} has no native kernel",
                m.name
            );
        }
    }
    let Some(mut bytecode) = s1_cell() else {
        return;
    };
    for m in bytecode.mechanisms_mut() {
        m.set_native(false);
        assert_eq!(m.native_kernels(), [None, None]);
    }
    // 60 ms with a suprathreshold step from 5 ms: spikes, calcium, every gate in motion.
    let steps = 2400;
    let mut traces = Vec::new();
    for cell in [&mut native, &mut bytecode] {
        cell.add_iclamp(0, 0.5, 5.0, 50.0, 1.9).expect("iclamp");
        let t = cell.tree();
        let probes = [
            t.node_at(0, 0.5),
            t.segment_node(38, 32),
            t.segment_node(20, 0),
        ];
        traces.push(cell.run(steps, &probes).expect("run"));
    }
    let spikes = (1..traces[0].n_samples())
        .filter(|&k| traces[0].v_mv(k - 1, 0) < 0.0 && traces[0].v_mv(k, 0) >= 0.0)
        .count();
    assert!(
        spikes >= 2,
        "{spikes} spikes: the test should exercise spiking"
    );
    for k in 0..traces[0].n_samples() {
        for p in 0..3 {
            let (a, b) = (traces[0].v_mv(k, p), traces[1].v_mv(k, p));
            assert_eq!(a.to_bits(), b.to_bits(), "sample {k} probe {p}: {a} vs {b}");
        }
    }
    for (a, b) in native.mechanisms().iter().zip(bytecode.mechanisms()) {
        for s in 0..a.state_names.len() {
            let same = a
                .state(s)
                .iter()
                .zip(b.state(s))
                .all(|(x, y)| x.to_bits() == y.to_bits());
            assert!(same, "{} state {} differs", a.name, a.state_names[s]);
        }
    }
}

/// Synapses of every `std.synapses` mechanism — with S4's receptor parameters (`gaba_syn`
/// reversing at −80 mV, `glutamate_syn` with an NMDA decay of 26 ms), the defaults, and
/// other uniform values — spread over a branched cell, many sharing compartments, with
/// weights and plasticity varying per synapse and release trains over the whole run.
fn synapse_specs(tree: &CableTree) -> Vec<Synapse> {
    let receptors = [
        Receptor::stdlib(
            "gaba_syn",
            &[
                ("e", -80.0),
                ("decaytime", 20.0),
                ("risetime", 1.0),
                ("decaygaba", 1.0),
                ("facilgaba", 0.0),
            ],
        ),
        Receptor::stdlib(
            "glutamate_syn",
            &[("tau1", 26.0), ("decayampa", 1.0), ("decaynmda", 1.0)],
        ),
        Receptor::stdlib("glutamate_syn", &[("e", -5.0), ("gama", 0.07)]),
        Receptor::stdlib("gaba_syn", &[]),
        Receptor::stdlib("exp2syn", &[]),
        Receptor::stdlib("ProbAMPANMDA2", &[("Use", 0.6), ("Fac", 0.0)]),
        Receptor::stdlib("ProbUDFsyn2", &[("e", -80.0), ("Use", 0.25)]),
    ]
    .map(|r| r.expect("stdlib receptor"));
    let n_sec = tree.sections().len();
    let mut specs = Vec::new();
    for i in 0..600usize {
        let r = &receptors[i % receptors.len()];
        let w = 0.2 + (i % 7) as f64 * 0.15;
        specs.push(Synapse {
            section: (i * 7) % n_sec,
            x: ((i * 37) % 100) as f64 / 100.0,
            receptor: r.clone(),
            weights_ns: vec![w; r.mech.n_weights()],
            release_times_ms: (0..6)
                .map(|k| ((i * 13 + k * 29) % 90) as f64 + 0.3)
                .collect(),
            delay_ms: (i % 3) as f64 * 0.5,
            seed: i as u64 * 7919 + 1,
        });
    }
    specs
}

#[test]
fn synapse_channels_run_native_and_bit_identical() {
    let tree = CableTree::from_geometry(&branched_cell(400, 5)).expect("tree");
    let specs = synapse_specs(&tree);
    let mut native = SynapseKernel::new(&tree, specs.clone(), true, 0.025, 34.0).expect("kernel");
    let mut bytecode = SynapseKernel::new(&tree, specs, true, 0.025, 34.0).expect("kernel");
    let kernels = native.native_kernels();
    assert!(kernels.len() >= 5, "{kernels:?}");
    for (name, [currents, _]) in &kernels {
        assert!(
            currents.is_some(),
            "{name}: channel currents run as bytecode"
        );
    }
    bytecode.set_native(false);
    assert!(
        bytecode
            .native_kernels()
            .iter()
            .all(|(_, k)| k == &[None, None]),
        "bytecode kernel still has native kernels"
    );
    // Voltages spread over the NMDA Mg block's range, so every branch of the currents runs.
    let n = tree.n_nodes();
    let v: Vec<f64> = (0..n)
        .map(|i| -90.0 + 100.0 * (i % 23) as f64 / 22.0)
        .collect();
    let steps = 4000; // 100 ms: every event delivered, phases entered
    let mut out = Vec::new();
    for k in [&mut native, &mut bytecode] {
        let (mut rhs, mut d) = (vec![0.0; n], vec![0.0; n]);
        k.run_frozen(&v, steps, &mut rhs, &mut d);
        assert!(rhs.iter().any(|&x| x != 0.0), "no synaptic current");
        out.push((rhs, d));
    }
    for node in 0..n {
        for (what, a, b) in [
            ("rhs", out[0].0[node], out[1].0[node]),
            ("d", out[0].1[node], out[1].1[node]),
        ] {
            assert_eq!(a.to_bits(), b.to_bits(), "node {node} {what}: {a} vs {b}");
        }
    }
    for (name, _, _) in native.channels() {
        let mech = find_synapse(&name, &[]).expect("stdlib synapse");
        for st in mech.state_split().0 {
            let a = native.channel_state(&name, st).expect("state").1;
            let b = bytecode.channel_state(&name, st).expect("state").1;
            let same = a.iter().zip(&b).all(|(x, y)| x.to_bits() == y.to_bits());
            assert!(same, "{name} {st} differs");
        }
    }
}
