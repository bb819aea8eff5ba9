//! Engine behaviour: recording conventions, error detection (E0501/E0502), mechanism hooks.

use isf::diagnostics::Code;
use isf::sim::synth::{branched_cell, cylinder_cell};
use isf::sim::{
    CableTree, CurrentCtx, Mechanism, NodeId, NodeOrder, Pas, Recording, SimConfig, SimError,
    Simulation, StateCtx,
};
use std::sync::{Arc, Mutex};

fn sim_with_pas(g_s_cm2: f64) -> Simulation {
    let tree = CableTree::from_geometry(&cylinder_cell(100.0, 1.0, 5, 100.0, 1.0)).unwrap();
    let mut sim = Simulation::new(tree, SimConfig::default()).unwrap();
    let nodes: Vec<NodeId> = sim.tree().segment_nodes().collect();
    sim.add_mechanism(Box::new(Pas::uniform(nodes, g_s_cm2, -65.0).unwrap()))
        .unwrap();
    sim
}

#[test]
fn rest_stays_at_rest_and_samples_are_counted() {
    let mut sim = sim_with_pas(1e-4);
    let probe = sim.tree().node_at(0, 0.5);
    let rec = sim.run(100, &[probe]).unwrap();
    assert_eq!(rec.n_samples(), 101);
    assert!((rec.t_ms(100) - 2.5).abs() < 1e-12);
    assert!(rec.trace(0).iter().all(|&v| v == -65.0));
}

#[test]
fn run_into_continues_a_recording() {
    let mut sim = sim_with_pas(1e-4);
    sim.add_iclamp(0, 0.5, 0.0, 1.0, 0.1).unwrap();
    let probe = sim.tree().node_at(0, 0.5);
    let whole = sim.run(80, &[probe]).unwrap();
    sim.init();
    let mut rec = Recording::new(vec![probe], 80, 0.025);
    sim.run_into(40, &mut rec).unwrap();
    sim.run_into(40, &mut rec).unwrap();
    assert_eq!(rec.trace(0), whole.trace(0));
    assert_eq!(sim.steps_done(), 80);
}

#[test]
fn runaway_is_reported_with_location_and_time() {
    // A strongly negative leak conductance makes rest unstable: v grows without bound.
    let mut sim = sim_with_pas(-0.01);
    sim.init();
    let probe = sim.tree().node_at(0, 0.5);
    sim.set_v_mv(probe, -64.0);
    let mut rec = Recording::new(vec![probe], 10_000, 0.025);
    let err = sim.run_into(10_000, &mut rec).unwrap_err();
    assert_eq!(err.code(), Code::E0502);
    match &err {
        SimError::Runaway { location, t_ms, .. } => {
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

/// A broken mechanism that poisons one node with NaN.
struct Poison(NodeId);

impl Mechanism for Poison {
    fn name(&self) -> &str {
        "poison"
    }
    fn max_node(&self) -> Option<NodeId> {
        Some(self.0)
    }
    fn current(&mut self, cx: &mut CurrentCtx<'_>) {
        if cx.t_ms > 1.0 {
            cx.rhs[self.0 as usize] = f64::NAN;
        }
    }
}

#[test]
fn nan_is_reported_as_e0501() {
    let mut sim = sim_with_pas(1e-4);
    let node = sim.tree().node_at(0, 0.1);
    sim.add_mechanism(Box::new(Poison(node))).unwrap();
    let err = sim.run(100, &[node]).unwrap_err();
    assert_eq!(err.code(), Code::E0501);
    let SimError::NonFinite { t_ms, .. } = err else {
        panic!("wrong error")
    };
    // Current evaluated at t_n + dt/2 > 1 first for t_n = 1.0 → fails on the step to 1.025.
    assert!((t_ms - 1.025).abs() < 1e-9, "{t_ms}");
}

/// Logs every hook call with its time and the voltage it sees at node 1.
struct Spy(Arc<Mutex<Vec<HookCall>>>);

/// (hook, t in ms, v at node 1 in mV).
type HookCall = (&'static str, f64, f64);

impl Mechanism for Spy {
    fn name(&self) -> &str {
        "spy"
    }
    fn max_node(&self) -> Option<NodeId> {
        Some(1)
    }
    fn init(&mut self, cx: &StateCtx<'_>) {
        self.0.lock().unwrap().push(("init", cx.t_ms, cx.v_mv[1]));
    }
    fn current(&mut self, cx: &mut CurrentCtx<'_>) {
        self.0
            .lock()
            .unwrap()
            .push(("current", cx.t_ms, cx.v_mv[1]));
    }
    fn advance(&mut self, cx: &StateCtx<'_>) {
        self.0
            .lock()
            .unwrap()
            .push(("advance", cx.t_ms, cx.v_mv[1]));
    }
}

#[test]
fn mechanism_hooks_are_called_in_neuron_order() {
    let tree = CableTree::from_geometry(&branched_cell(50, 1)).unwrap();
    let mut sim = Simulation::new(tree, SimConfig::default()).unwrap();
    let log = Arc::new(Mutex::new(Vec::new()));
    sim.add_mechanism(Box::new(Spy(log.clone()))).unwrap();
    sim.add_iclamp(0, 0.5, 0.0, 1.0, 1.0).unwrap();
    let rec = sim.run(2, &[1]).unwrap();
    let log = log.lock().unwrap();
    let names: Vec<_> = log.iter().map(|e| e.0).collect();
    assert_eq!(names, ["init", "current", "advance", "current", "advance"]);
    // current at t_n + dt/2 with v_n; advance at t_{n+1} with v_{n+1}.
    assert!((log[1].1 - 0.0125).abs() < 1e-15 && log[1].2 == rec.v_mv(0, 0));
    assert!((log[2].1 - 0.025).abs() < 1e-15 && log[2].2 == rec.v_mv(1, 0));
    assert!((log[3].1 - 0.0375).abs() < 1e-15 && log[3].2 == rec.v_mv(1, 0));
    assert!((log[4].1 - 0.05).abs() < 1e-15 && log[4].2 == rec.v_mv(2, 0));
    assert!(rec.v_mv(2, 0) > rec.v_mv(1, 0));
}

#[test]
fn bad_settings_are_rejected() {
    let tree = CableTree::from_geometry(&cylinder_cell(10.0, 1.0, 1, 100.0, 1.0)).unwrap();
    let bad = SimConfig {
        dt_ms: 0.0,
        ..Default::default()
    };
    assert!(Simulation::new(tree.clone(), bad).is_err());
    let mut sim = Simulation::new(tree, SimConfig::default()).unwrap();
    assert!(sim.add_iclamp(3, 0.5, 0.0, 1.0, 1.0).is_err());
    assert!(sim.add_iclamp(0, 1.5, 0.0, 1.0, 1.0).is_err());
    assert!(
        sim.add_mechanism(Box::new(Pas::uniform(vec![99], 1e-4, -70.0).unwrap()))
            .is_err()
    );
    assert!(sim.run(1, &[99]).is_err());
}

#[test]
fn node_orders_agree_to_rounding() {
    let geom = branched_cell(400, 11);
    let run = |order: NodeOrder| -> Vec<f64> {
        let tree = CableTree::from_geometry_ordered(&geom, order).unwrap();
        let mut sim = Simulation::new(tree, SimConfig::default()).unwrap();
        let nodes: Vec<NodeId> = sim.tree().segment_nodes().collect();
        let g: Vec<f64> = (0..nodes.len())
            .map(|k| 1e-4 * (1.0 + (k % 7) as f64))
            .collect();
        let e = vec![-70.0; nodes.len()];
        sim.add_mechanism(Box::new(Pas::new(nodes, g, e).unwrap()))
            .unwrap();
        sim.add_iclamp(5, 0.7, 1.0, 3.0, 0.3).unwrap();
        let probes: Vec<NodeId> = (0..geom.sections.len())
            .map(|s| sim.tree().node_at(s, 0.5))
            .collect();
        let rec = sim.run(400, &probes).unwrap();
        (0..probes.len()).flat_map(|j| rec.trace(j)).collect()
    };
    let neuron = run(NodeOrder::Neuron);
    let level = run(NodeOrder::Level);
    let max_diff = neuron
        .iter()
        .zip(&level)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f64::max);
    assert!(max_diff < 1e-10, "orders differ by {max_diff} mV");
}
