//! Synapse kernels (`glutamate_syn`, `gaba_syn`) against closed forms: double-exponential
//! conductance with unit peak, event-delivery step (spec 03 §3.8), depression and facilitation
//! with the pre-event kick, the Mg block, coalescing, input validation.

use isf::kernel::synapse::{
    GabaParams, GlutamateParams, Receptor, Synapse, SynapseKernel, SynapseSet, peaknorm,
};
use isf::kernel::{ActiveCell, CellConfig};
use isf::sim::CableTree;
use isf::sim::synth::cylinder_cell;

const DT: f64 = 0.025;

fn tree() -> CableTree {
    CableTree::from_geometry(&cylinder_cell(100.0, 2.0, 5, 100.0, 1.0)).unwrap()
}

fn syn(receptor: Receptor, w: [f64; 2], times: &[f64]) -> Synapse {
    Synapse {
        section: 0,
        x: 0.5,
        receptor,
        weights_ns: w,
        release_times_ms: times.to_vec(),
        delay_ms: 0.0,
    }
}

/// Run the kernel alone for `n` steps; GABA conductance `D − R` after each step.
fn gaba_trace(k: &mut SynapseKernel, n: u64) -> Vec<f64> {
    k.init();
    (0..n)
        .map(|s| {
            k.deliver(s);
            k.advance();
            let [r, d] = k.gaba_state(0).1;
            d - r
        })
        .collect()
}

#[test]
fn peaknorm_gives_unit_peak() {
    for (r, d) in [(0.1, 2.0), (2.0, 26.0), (1.0, 20.0)] {
        let f = peaknorm(r, d);
        let tp = r * d / (d - r) * (d / r).ln();
        let g = |t: f64| f * ((-t / d).exp() - (-t / r).exp());
        assert!((g(tp) - 1.0).abs() < 1e-12);
        assert!(g(tp * 0.99) < 1.0 && g(tp * 1.01) < 1.0);
    }
}

#[test]
fn gaba_conductance_is_the_normalised_double_exponential() {
    let p = GabaParams::isf_example();
    let mut k = SynapseKernel::new(
        &tree(),
        vec![syn(Receptor::Gaba(p), [1.5, 0.0], &[10.0])],
        true,
        DT,
    )
    .unwrap();
    let g = gaba_trace(&mut k, 2000);
    let f = peaknorm(p.risetime, p.decaytime);
    // Delivered before step 400 (t = 10 ms); after step m the states have decayed m − 399 steps.
    for (m, &gm) in g.iter().enumerate() {
        let t = if m >= 400 { (m - 399) as f64 * DT } else { 0.0 };
        let want = if m >= 400 {
            1.5 * f * ((-t / p.decaytime).exp() - (-t / p.risetime).exp())
        } else {
            0.0
        };
        assert!((gm - want).abs() < 1e-12, "step {m}: {gm} vs {want}");
    }
    let peak = g.iter().copied().fold(0.0, f64::max);
    assert!((peak - 1.5).abs() < 1e-3, "peak {peak}");
}

#[test]
fn events_round_to_the_nearest_grid_time() {
    // spec 03 §3.8 (NEURON 9.0.2): 10.0, 10.01, 10.0124 act from the step at 10.0;
    // 10.0126, 10.02 from the step at 10.025.
    for (t, step) in [
        (10.0, 400),
        (10.01, 400),
        (10.0124, 400),
        (10.0126, 401),
        (10.02, 401),
        (0.0, 0),
        (0.0124, 0),
    ] {
        let p = GabaParams::isf_example();
        let mut k = SynapseKernel::new(
            &tree(),
            vec![syn(Receptor::Gaba(p), [1.0, 0.0], &[t])],
            true,
            DT,
        )
        .unwrap();
        let g = gaba_trace(&mut k, 500);
        let first = g.iter().position(|&x| x != 0.0).unwrap();
        assert_eq!(first, step, "event at {t} ms");
    }
}

#[test]
fn depression_and_facilitation_use_the_pre_event_state() {
    let p = GabaParams {
        decaygaba: 0.5,
        facilgaba: 0.2,
        taudgaba: 100.0,
        taufgaba: 50.0,
        ..GabaParams::default()
    };
    // Two events 10 ms apart (steps 0 and 400): second kick = factor·w·d·f with
    // d = 1 − 0.5·exp(−10/100), f = 1 + 0.2·exp(−10/50).
    let mut k = SynapseKernel::new(
        &tree(),
        vec![syn(Receptor::Gaba(p), [1.0, 0.0], &[0.0, 10.0])],
        true,
        DT,
    )
    .unwrap();
    k.init();
    let f = peaknorm(p.risetime, p.decaytime);
    k.deliver(0);
    assert!((k.gaba_state(0).1[0] - f).abs() < 1e-15);
    for s in 0..400 {
        k.deliver(s);
        k.advance();
    }
    let before = k.gaba_state(0).1[0];
    k.deliver(400);
    let kick = k.gaba_state(0).1[0] - before;
    let d = 1.0 - 0.5 * (-10.0f64 / 100.0).exp();
    let fa = 1.0 + 0.2 * (-10.0f64 / 50.0).exp();
    assert!(
        (kick - f * d * fa).abs() < 1e-12 * f,
        "{kick} vs {}",
        f * d * fa
    );
}

#[test]
fn glutamate_kicks_ampa_and_nmda_with_their_factors() {
    let p = GlutamateParams::isf_example();
    let mut k = SynapseKernel::new(
        &tree(),
        vec![syn(Receptor::Glutamate(p), [1.2, 0.7], &[5.0])],
        true,
        DT,
    )
    .unwrap();
    k.init();
    k.deliver(200);
    let [a, b, c, d] = k.glutamate_state(0).1;
    let (f1, f2) = (peaknorm(p.tau2, p.tau1), peaknorm(p.tau4, p.tau3));
    assert_eq!((a, b), (0.7 * f1, 0.7 * f1));
    assert_eq!((c, d), (1.2 * f2, 1.2 * f2));
}

#[test]
fn mg_block_current_and_numerical_slope() {
    // Constant voltage, states set by one event then decayed one step: the kernel's rhs and d
    // contributions equal nocmodl's i(v) and (i(v + 0.001) − i(v))/0.001, scaled by 100/area.
    let t = tree();
    let p = GlutamateParams::isf_example();
    let mut k = SynapseKernel::new(
        &t,
        vec![syn(Receptor::Glutamate(p), [1.0, 2.0], &[0.0])],
        true,
        DT,
    )
    .unwrap();
    k.init();
    k.deliver(0);
    k.advance();
    let (node, [a, b, c, d]) = k.glutamate_state(0);
    let n = t.n_nodes();
    for vm in [-80.0, -40.0, 0.0, 20.0] {
        let v = vec![vm; n];
        let (mut rhs, mut dd) = (vec![0.0; n], vec![0.0; n]);
        k.add_currents(&v, &mut rhs, &mut dd);
        let i = |v: f64| {
            0.001 * (a - b) / (1.0 + 0.25 * (-0.08 * v).exp()) * (v - 0.0)
                + 0.001 * (c - d) * (v - 0.0)
        };
        let s = 1e2 / t.area_um2()[node as usize];
        let (i0, g) = (i(vm), (i(vm + 0.001) - i(vm)) / 0.001);
        assert!((rhs[node as usize] + i0 * s).abs() <= 1e-12 * (i0 * s).abs().max(1e-12));
        assert!((dd[node as usize] - g * s).abs() <= 1e-9 * (g * s).abs());
    }
}

#[test]
fn coalescing_merges_same_compartment_channels() {
    let g = Receptor::Glutamate(GlutamateParams::isf_example());
    let i = Receptor::Gaba(GabaParams::isf_example());
    let syns = vec![
        syn(g, [1.0, 1.0], &[1.0]),
        syn(g, [2.0, 1.0], &[2.0]),
        syn(i, [1.0, 0.0], &[3.0]),
        syn(i, [1.0, 0.0], &[4.0]),
        Synapse {
            x: 0.05,
            ..syn(g, [1.0, 1.0], &[])
        },
    ];
    let merged = SynapseKernel::new(&tree(), syns.clone(), true, DT).unwrap();
    assert_eq!(merged.n_channels(), (2, 1));
    let sep = SynapseKernel::new(&tree(), syns, false, DT).unwrap();
    assert_eq!(sep.n_channels(), (3, 2));
    assert_eq!(merged.n_events(), 4);
}

#[test]
fn bad_input_is_rejected() {
    let p = Receptor::Gaba(GabaParams::isf_example());
    for s in [
        syn(p, [1.0, 0.0], &[-1.0]),
        syn(p, [1.0, 0.0], &[f64::NAN]),
        syn(p, [f64::INFINITY, 0.0], &[1.0]),
        Synapse {
            section: 3,
            ..syn(p, [1.0, 0.0], &[])
        },
        syn(
            Receptor::Gaba(GabaParams {
                risetime: 30.0,
                ..GabaParams::default()
            }),
            [1.0, 0.0],
            &[],
        ),
    ] {
        assert!(SynapseKernel::new(&tree(), vec![s], true, DT).is_err());
    }
}

#[test]
fn active_cell_runs_synapses_and_reinitialises() {
    let mut cell = ActiveCell::new(tree(), &[], &[], CellConfig::default()).unwrap();
    let mut set = SynapseSet::new();
    set.synapses.push(syn(
        Receptor::Glutamate(GlutamateParams::isf_example()),
        [5.0, 5.0],
        &[2.0],
    ));
    cell.add_synapses(set).unwrap();
    let probe = cell.tree().node_at(0, 0.5);
    let a = cell.run(400, &[probe]).unwrap().column(0);
    let b = cell.run(400, &[probe]).unwrap().column(0);
    assert_eq!(a, b, "init rewinds events and states");
    // No membrane mechanisms: v stays at v_init until the first conductance step, then rises.
    assert!(a[..=81].iter().all(|&v| v == -75.0));
    assert!(a[100] > -75.0);
}
