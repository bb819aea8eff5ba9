//! Solver acceptance checks against closed-form results: cable theory for a sealed finite
//! cylinder, the RC charging curve of a single compartment, and first-order convergence of
//! backward Euler in dt. The cells run on the one engine, [`ActiveCell`], with the standard
//! library's `pas`.

use crate::common;

use common::synth::{branched_cell, cylinder_cell, cylinder_ri_mohm};
use isf::kernel::{ActiveCell, CellConfig, MechPlacement, stdlib_pas};
use isf::morph::cell::CellGeometry;
use isf::sim::CableTree;

const E_PAS_MV: f64 = -70.0;
const G_PAS_S_CM2: f64 = 1e-4; // Rm = 1e4 Ω·cm²
const CM_UF_CM2: f64 = 1.0; // τ = Rm·Cm = 10 ms
const TAU_MS: f64 = 10.0;

fn passive_sim(geom: &CellGeometry, dt_ms: f64, v_init_mv: f64) -> ActiveCell {
    let tree = CableTree::from_geometry(geom).unwrap();
    let n = tree.n_segments();
    let pl = [MechPlacement {
        mechanism: stdlib_pas().unwrap(),
        segments: (0..n).collect(),
        params: [
            ("g".to_string(), vec![G_PAS_S_CM2; n]),
            ("e".to_string(), vec![E_PAS_MV; n]),
        ]
        .into_iter()
        .collect(),
    }];
    let cfg = CellConfig {
        dt_ms,
        v_init_mv,
        ..Default::default()
    };
    ActiveCell::new(tree, &pl, &[], cfg).unwrap()
}

fn rel_err(x: f64, reference: f64) -> f64 {
    ((x - reference) / reference).abs()
}

/// Sealed cylinder, L = 500 µm, d = 2 µm, Ra = 100 Ω·cm: λ = sqrt(Rm·d/(4Ra)) = 707.1 µm.
struct Cable {
    length_um: f64,
    diam_um: f64,
    ra_ohm_cm: f64,
}

impl Cable {
    fn lambda_um(&self) -> f64 {
        let rm_ohm_cm2 = 1.0 / G_PAS_S_CM2;
        (rm_ohm_cm2 * self.diam_um * 1e-4 / (4.0 * self.ra_ohm_cm)).sqrt() * 1e4
    }
    /// R_in at a sealed end = r_a·λ·coth(L/λ), MΩ.
    fn input_resistance_mohm(&self) -> f64 {
        let r_a_mohm_per_um = cylinder_ri_mohm(self.ra_ohm_cm, 1.0, self.diam_um);
        let l = self.length_um / self.lambda_um();
        r_a_mohm_per_um * self.lambda_um() / l.tanh()
    }
}

const CABLE: Cable = Cable {
    length_um: 500.0,
    diam_um: 2.0,
    ra_ohm_cm: 100.0,
};

#[test]
fn sealed_cylinder_input_resistance_and_attenuation() {
    let geom = cylinder_cell(
        CABLE.length_um,
        CABLE.diam_um,
        101,
        CABLE.ra_ohm_cm,
        CM_UF_CM2,
    );
    let mut sim = passive_sim(&geom, 0.025, E_PAS_MV);
    let i_na = 0.01;
    // Inject at the 0-end node (x = 0, the cable's very end) for the whole run.
    sim.add_iclamp(0, 0.0, 0.0, 1e9, i_na).unwrap();
    let near = sim.tree().node_at(0, 0.0);
    let far = sim.tree().node_at(0, 1.0);
    let n = isf::kernel::steps_for(300.0, 0.025); // 30 τ: steady to 1e-13
    let rec = sim.run(n, &[near, far]).unwrap();
    assert_eq!(rec.n_samples(), n + 1);
    let dv_near = rec.v_mv(n, 0) - E_PAS_MV;
    let dv_far = rec.v_mv(n, 1) - E_PAS_MV;
    let r_in = dv_near / i_na;
    let r_theory = CABLE.input_resistance_mohm();
    let err = rel_err(r_in, r_theory);
    println!(
        "R_in = {r_in:.4} MΩ, theory {r_theory:.4} MΩ, error {:.4} %",
        100.0 * err
    );
    assert!(err < 0.005, "input resistance off by {:.3} %", 100.0 * err);
    // V(L)/V(0) = 1/cosh(L/λ).
    let ratio = dv_far / dv_near;
    let ratio_theory = 1.0 / (CABLE.length_um / CABLE.lambda_um()).cosh();
    let err = rel_err(ratio, ratio_theory);
    println!(
        "attenuation {ratio:.6}, theory {ratio_theory:.6}, error {:.4} %",
        100.0 * err
    );
    assert!(err < 0.005);
}

#[test]
fn sealed_cylinder_time_constant() {
    let geom = cylinder_cell(
        CABLE.length_um,
        CABLE.diam_um,
        101,
        CABLE.ra_ohm_cm,
        CM_UF_CM2,
    );

    // (1) A uniform offset relaxes as exp(−t/τ) everywhere (mode 0 of the sealed cable).
    let mut sim = passive_sim(&geom, 0.025, E_PAS_MV + 5.0);
    let mid = sim.tree().node_at(0, 0.5);
    let rec = sim
        .run(isf::kernel::steps_for(20.0, 0.025), &[mid])
        .unwrap();
    let v10 = rec.v_mv(400, 0) - E_PAS_MV;
    let v20 = rec.v_mv(800, 0) - E_PAS_MV;
    let tau = 10.0 / (v10 / v20).ln();
    let err = rel_err(tau, TAU_MS);
    println!(
        "tau (uniform decay) = {tau:.5} ms, error {:.4} %",
        100.0 * err
    );
    assert!(err < 0.005);

    // (2) Charging at the end: the slowest mode of the step response has τ0 = Rm·Cm.
    let mut sim = passive_sim(&geom, 0.025, E_PAS_MV);
    sim.add_iclamp(0, 0.0, 0.0, 1e9, 0.01).unwrap();
    let near = sim.tree().node_at(0, 0.0);
    let rec = sim
        .run(isf::kernel::steps_for(300.0, 0.025), &[near])
        .unwrap();
    let v_inf = rec.v_mv(12000, 0);
    let gap = |t_ms: f64| v_inf - rec.v_mv((t_ms / 0.025).round() as usize, 0);
    let tau = 30.0 / (gap(30.0) / gap(60.0)).ln();
    let err = rel_err(tau, TAU_MS);
    println!(
        "tau (charging tail) = {tau:.5} ms, error {:.4} %",
        100.0 * err
    );
    assert!(err < 0.005);
}

/// One compartment (nseg 1, area 1000 µm²): R = 1/(g·A) = 1000 MΩ, τ = 10 ms.
fn single_compartment() -> CellGeometry {
    // L = d = 1000/π µm² area over one segment: π·d·L = 1000 µm² with d·L = 1000/π.
    let diam_um = (1000.0 / std::f64::consts::PI).sqrt();
    cylinder_cell(diam_um, diam_um, 1, 100.0, CM_UF_CM2)
}

const R_SINGLE_MOHM: f64 = 1000.0;

#[test]
fn current_clamp_on_single_compartment_matches_rc_curve() {
    let dt = 0.025;
    let (delay, dur, amp) = (2.0, 10.0, 0.005);
    let mut sim = passive_sim(&single_compartment(), dt, E_PAS_MV);
    sim.add_iclamp(0, 0.5, delay, dur, amp).unwrap();
    let node = sim.tree().node_at(0, 0.5);
    let n = isf::kernel::steps_for(30.0, dt);
    let rec = sim.run(n, &[node]).unwrap();
    let v_step = amp * R_SINGLE_MOHM; // 5 mV
    // Timing: the clamp acts in the steps starting at t = 2.000 … 11.975 (evaluated at the
    // half step), so v first moves at the sample t = 2.025 and starts to fall at t = 12.025.
    let k_on = (delay / dt).round() as usize;
    let k_off = ((delay + dur) / dt).round() as usize;
    for k in 0..=k_on {
        assert_eq!(
            rec.v_mv(k, 0),
            E_PAS_MV,
            "moved before the clamp at sample {k}"
        );
    }
    assert!(rec.v_mv(k_on + 1, 0) > E_PAS_MV);
    assert!(rec.v_mv(k_off + 1, 0) < rec.v_mv(k_off, 0));
    assert!(rec.v_mv(k_off, 0) > rec.v_mv(k_off - 1, 0));
    let mut max_err: f64 = 0.0;
    for k in 0..=n {
        let t = rec.t_ms(k);
        let analytic = if t <= delay {
            0.0
        } else if t <= delay + dur {
            v_step * (1.0 - (-(t - delay) / TAU_MS).exp())
        } else {
            let peak = v_step * (1.0 - (-dur / TAU_MS).exp());
            peak * (-(t - delay - dur) / TAU_MS).exp()
        };
        max_err = max_err.max((rec.v_mv(k, 0) - E_PAS_MV - analytic).abs());
    }
    println!(
        "RC charging: max |error| = {max_err:.3e} mV = {:.4} % of the {v_step} mV step",
        100.0 * max_err / v_step
    );
    // Backward Euler's error bound here: v_step·max(x·e^{−x})·dt/(2τ) ≈ 0.046 % of the step.
    assert!(max_err < 0.001 * v_step);
}

/// Max error of the single-compartment charging curve over 0–20 ms for a given dt.
fn rc_error(dt: f64) -> f64 {
    let amp = 0.01;
    let mut sim = passive_sim(&single_compartment(), dt, E_PAS_MV);
    sim.add_iclamp(0, 0.5, 0.0, 1e9, amp).unwrap();
    let node = sim.tree().node_at(0, 0.5);
    let n = isf::kernel::steps_for(20.0, dt);
    let rec = sim.run(n, &[node]).unwrap();
    (0..=n)
        .map(|k| {
            let analytic = amp * R_SINGLE_MOHM * (1.0 - (-rec.t_ms(k) / TAU_MS).exp());
            (rec.v_mv(k, 0) - E_PAS_MV - analytic).abs()
        })
        .fold(0.0, f64::max)
}

#[test]
fn backward_euler_is_first_order_against_analytic() {
    let dts = [0.2, 0.1, 0.05, 0.025, 0.0125];
    let errs: Vec<f64> = dts.iter().map(|&dt| rc_error(dt)).collect();
    for w in errs.windows(2) {
        let ratio = w[0] / w[1];
        println!("error ratio (dt halved): {ratio:.4}");
        assert!((ratio - 2.0).abs() < 0.05, "ratio {ratio}");
    }
}

#[test]
fn backward_euler_is_first_order_on_a_branched_tree() {
    // Reference: dt/64 of the finest run; error at the soma and a distal tip over 0–10 ms with
    // a clamp switched on at the soma.
    let geom = branched_cell(150, 3);
    let run = |dt: f64| -> Vec<f64> {
        let mut sim = passive_sim(&geom, dt, -65.0);
        sim.add_iclamp(0, 0.5, 0.0, 1e9, 0.2).unwrap();
        let soma = sim.tree().node_at(0, 0.5);
        let last = geom.sections.len() - 1;
        let tip = sim.tree().node_at(last, 0.99);
        let n = isf::kernel::steps_for(10.0, dt);
        let stride = (1.0 / dt).round() as usize; // compare at whole milliseconds
        let rec = sim.run(n, &[soma, tip]).unwrap();
        (0..=10)
            .flat_map(|ms| [rec.v_mv(ms * stride, 0), rec.v_mv(ms * stride, 1)])
            .collect()
    };
    let reference = run(0.1 / 512.0);
    let err = |dt: f64| -> f64 {
        run(dt)
            .iter()
            .zip(&reference)
            .map(|(x, r)| (x - r).abs())
            .fold(0.0, f64::max)
    };
    let errs: Vec<f64> = [0.1, 0.05, 0.025].iter().map(|&dt| err(dt)).collect();
    for w in errs.windows(2) {
        let ratio = w[0] / w[1];
        println!("branched tree error ratio (dt halved): {ratio:.4}");
        assert!((1.8..2.2).contains(&ratio), "ratio {ratio}");
    }
}
