//! Engine behaviour of the one engine ([`ActiveCell`]) on passive cells: recording
//! conventions, continuing a recording, error detection (E0501/E0502), NEURON's half-step
//! evaluation of electrode currents, settings checks, and the node orders.

mod common;

use common::synth::{branched_cell, cylinder_cell, cylinder_ri_mohm};
use isf::diagnostics::Code;
use isf::kernel::{ActiveCell, CellConfig, KernelError, MechPlacement, Trace, stdlib_pas};
use isf::model::MechModel;
use isf::sim::{CableTree, NodeId, NodeOrder, SimError};
use std::f64::consts::PI;

/// `pas` with `g` (S/cm²) and `e = -65 mV` on every compartment of `tree`.
fn pas_cell(tree: CableTree, g: Vec<f64>, extra: &[MechPlacement<'_>]) -> ActiveCell {
    let n = tree.n_segments();
    let mut pl = vec![MechPlacement {
        mechanism: stdlib_pas().unwrap(),
        segments: (0..n).collect(),
        params: [("g".to_string(), g), ("e".to_string(), vec![-65.0; n])]
            .into_iter()
            .collect(),
    }];
    pl.extend_from_slice(extra);
    let cfg = CellConfig {
        v_init_mv: -65.0,
        ..Default::default()
    };
    ActiveCell::new(tree, &pl, &[], cfg).unwrap()
}

fn cylinder() -> CableTree {
    CableTree::from_geometry(&cylinder_cell(100.0, 1.0, 5, 100.0, 1.0)).unwrap()
}

fn sim_with_pas(g_s_cm2: f64) -> ActiveCell {
    pas_cell(cylinder(), vec![g_s_cm2; 5], &[])
}

#[test]
fn rest_stays_at_rest_and_samples_are_counted() {
    let mut sim = sim_with_pas(1e-4);
    let probe = sim.tree().node_at(0, 0.5);
    let rec = sim.run(100, &[probe]).unwrap();
    assert_eq!(rec.n_samples(), 101);
    assert_eq!(rec.samples().dim(), (101, 1));
    assert!((rec.t_ms(100) - 2.5).abs() < 1e-12);
    assert!(rec.column(0).iter().all(|&v| v == -65.0));
}

#[test]
fn run_into_continues_a_recording() {
    let mut sim = sim_with_pas(1e-4);
    sim.add_iclamp(0, 0.5, 0.0, 1.0, 0.1).unwrap();
    let probe = sim.tree().node_at(0, 0.5);
    let whole = sim.run(80, &[probe]).unwrap();
    sim.init();
    let mut rec = Trace::new(vec![probe], 80, 0.025);
    sim.run_into(40, &mut rec).unwrap();
    sim.run_into(40, &mut rec).unwrap();
    assert_eq!(rec.column(0), whole.column(0));
    assert!(rec.v_mv(80, 0) > -65.0);
    assert_eq!(sim.steps_done(), 80);
}

#[test]
fn runaway_is_reported_with_location_and_time() {
    // A strongly negative leak conductance makes rest unstable: v grows without bound.
    let mut sim = sim_with_pas(-0.01);
    sim.init();
    let probe = sim.tree().node_at(0, 0.5);
    sim.set_v_mv(probe, -64.0);
    let mut rec = Trace::new(vec![probe], 10_000, 0.025);
    let err = sim.run_into(10_000, &mut rec).unwrap_err();
    assert_eq!(err.code(), Code::E0502);
    match &err {
        KernelError::Voltage(SimError::Runaway { location, t_ms, .. }) => {
            assert!(location.starts_with("cable("), "{location}");
            assert!(*t_ms > 0.0 && *t_ms < 250.0);
        }
        other => panic!("unexpected {other:?}"),
    }
    assert!(rec.n_samples() < 10_001);
    let diag = err.to_diagnostic();
    assert_eq!(diag.code, Code::E0502);
    assert!(diag.message.contains("cable("));
}

/// A mechanism written in the language, lowered through a one-point neuron that inserts it.
fn lower_one(src: &str, name: &str) -> MechModel {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("tiny.swc"), "1 1 0 0 0 10 -1\n").unwrap();
    let text = format!(
        "{src}\nneuron N {{\n    morphology: swc(\"tiny.swc\")\n    soma {{ {name} {{}} }}\n}}\n"
    );
    let checked = isf::validate::check_text("t.isf", &text, dir.path());
    assert!(!checked.has_errors(), "{:?}", checked.diagnostics);
    checked
        .model
        .mechanisms
        .into_iter()
        .find(|m| m.name == name)
        .expect("lowered")
}

#[test]
fn nan_is_reported_as_e0501() {
    // A stateless current that turns NaN after 1 ms (the square root of a negative voltage).
    let poison = lower_one(
        "mechanism Poison : density {\n    current i = if t > 1 ms then 0.001 S/cm2 * \
         sqrt(v / 1 mV) * 1 mV else 0 mA/cm2\n}\n",
        "Poison",
    );
    let tree = cylinder();
    let seg = tree.segment_nodes().position(|n| n == tree.node_at(0, 0.1));
    let extra = [MechPlacement {
        mechanism: &poison,
        segments: vec![seg.unwrap()],
        params: Default::default(),
    }];
    let mut sim = pas_cell(tree, vec![1e-4; 5], &extra);
    let node = sim.tree().node_at(0, 0.1);
    let err = sim.run(100, &[node]).unwrap_err();
    assert_eq!(err.code(), Code::E0501);
    let KernelError::Voltage(SimError::NonFinite { t_ms, .. }) = err else {
        panic!("wrong error")
    };
    // Current evaluated at t_n + dt/2 > 1 first for t_n = 1.0 → fails on the step to 1.025.
    assert!((t_ms - 1.025).abs() < 1e-9, "{t_ms}");
}

/// Electrode currents are evaluated at `t_n + dt/2` (NEURON's order): a clamp starting at
/// 0.0125 ms acts in the first step, one starting just after it only in the second.
#[test]
fn currents_are_evaluated_at_the_half_step() {
    let run = |delay_ms: f64| {
        let mut sim = sim_with_pas(1e-4);
        sim.add_iclamp(0, 0.5, delay_ms, 1.0, 0.5).unwrap();
        let probe = sim.tree().node_at(0, 0.5);
        sim.run(2, &[probe]).unwrap().column(0)
    };
    let on = run(0.0125);
    let later = run(0.0126);
    assert!(on[1] > -65.0 && on[2] > on[1], "{on:?}");
    assert_eq!(later[1], -65.0);
    assert!(later[2] > -65.0);
}

#[test]
fn bad_settings_are_rejected() {
    let tree = CableTree::from_geometry(&cylinder_cell(10.0, 1.0, 1, 100.0, 1.0)).unwrap();
    let bad = CellConfig {
        dt_ms: 0.0,
        ..Default::default()
    };
    assert!(ActiveCell::new(tree.clone(), &[], &[], bad).is_err());
    let pl = [MechPlacement {
        mechanism: stdlib_pas().unwrap(),
        segments: vec![99],
        params: Default::default(),
    }];
    let err = ActiveCell::new(tree.clone(), &pl, &[], CellConfig::default()).err();
    assert_eq!(err.map(|e| e.code()), Some(Code::E0504));
    let mut sim = ActiveCell::new(tree, &[], &[], CellConfig::default()).unwrap();
    assert!(sim.add_iclamp(3, 0.5, 0.0, 1.0, 1.0).is_err());
    assert!(sim.add_iclamp(0, 1.5, 0.0, 1.0, 1.0).is_err());
    assert!(sim.add_iclamp(0, 0.5, f64::NAN, 1.0, 1.0).is_err());
    assert!(sim.run(1, &[99]).is_err());
}

#[test]
fn node_orders_agree_to_rounding() {
    let geom = branched_cell(400, 11);
    let run = |order: NodeOrder| -> Vec<f64> {
        let tree = CableTree::from_geometry_ordered(&geom, order).unwrap();
        let g: Vec<f64> = (0..tree.n_segments())
            .map(|k| 1e-4 * (1.0 + (k % 7) as f64))
            .collect();
        let mut sim = pas_cell(tree, g, &[]);
        sim.add_iclamp(5, 0.7, 1.0, 3.0, 0.3).unwrap();
        let probes: Vec<NodeId> = (0..geom.sections.len())
            .map(|s| sim.tree().node_at(s, 0.5))
            .collect();
        let rec = sim.run(400, &probes).unwrap();
        (0..probes.len()).flat_map(|j| rec.column(j)).collect()
    };
    let neuron = run(NodeOrder::Neuron);
    let level = run(NodeOrder::Level);
    let max_diff = neuron
        .iter()
        .zip(&level)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f64::max);
    assert!(max_diff < 1e-10, "orders differ by {max_diff} mV");
    assert!(neuron.iter().any(|&v| v > -64.0), "the clamp acts");
}

// The synthetic geometries themselves (the fixture in tests/common/synth.rs).

#[test]
fn branched_cell_has_requested_size() {
    let g = branched_cell(1142, 7);
    assert_eq!(g.n_segments(), 1142);
    assert!(g.sections.len() > 30);
}

#[test]
fn cylinder_ri_matches_spec_formula() {
    // Spec 01 §1.5: Ra·ds·1e-4 / (π(d·1e-4)²/4) / 1e6.
    let (ra, ds, d) = (100.0, 7.0, 1.3);
    let spec = ra * ds * 1e-4 / (PI * (d * 1e-4f64).powi(2) / 4.0) / 1e6;
    assert!((cylinder_ri_mohm(ra, ds, d) - spec).abs() < 1e-12 * spec);
}
