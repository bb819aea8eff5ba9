//! `std.channels.isf_extra`: CaDynamics_E2_v2 starts at minCai (per compartment, spec 03 §3.4)
//! and otherwise follows CaDynamics_E2; NaTg with no shift and slope 6 mV is NaTa_t, and its
//! shifts move the rate functions as spec 03 §3.2 writes them.

use isf::run::cellsim::CellRunner;
use isf::run::exec::TrialRunner;
use isf::run::{point_values, work_items};
use std::path::Path;

/// Run experiment 0 of `text` (sweep point `point`) and return its traces by name.
fn run(text: &str, point: u64) -> Vec<(String, Vec<f64>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
    let c = isf::validate::check_text("x.isf", text, &dir);
    assert!(!c.has_errors(), "{:?}", c.diagnostics);
    let exp = &c.model.experiments[0];
    let runner = CellRunner::new(&c.model, exp).expect("runnable");
    let item = *work_items(exp)
        .iter()
        .find(|i| i.point == point)
        .expect("item");
    let out = runner
        .run(&item, &point_values(&exp.sweep, point))
        .expect("runs");
    out.traces
}

fn trace<'a>(t: &'a [(String, Vec<f64>)], name: &str) -> &'a [f64] {
    let names: Vec<&String> = t.iter().map(|x| &x.0).collect();
    &t.iter()
        .find(|x| x.0 == name)
        .unwrap_or_else(|| panic!("{name} not in {names:?}"))
        .1
}

#[test]
fn cadynamics_e2_v2_starts_at_min_cai_in_every_compartment() {
    let text = r#"import std.channels.hay2011.{pas, Ca_HVA, CaDynamics_E2}
import std.channels.isf_extra.{CaDynamics_E2_v2}
neuron Cell {
    morphology: swc("cells/l5pt_simple.swc")
    discretization: fixed(1)
    all { Ra: 100 ohm*cm, cm: 1 uF/cm2, pas { g: 5e-5 S/cm2, e: -70 mV } }
    soma {
        Ca_HVA { gbar: 0.01 S/cm2 }
        CaDynamics_E2_v2 { decay: 80 ms, gamma: 0.05, minCai: 2e-4 mM }
    }
    apical_dendrite {
        Ca_HVA { gbar: 0.001 S/cm2 }
        CaDynamics_E2_v2 { decay: 120 ms, gamma: 0.01, minCai: 3e-4 mM + distance * 1e-7 mM/um }
    }
    dendrite {
        Ca_HVA { gbar: 0.001 S/cm2 }
        CaDynamics_E2 { decay: 80 ms, gamma: 0.05 }
    }
}
experiment E {
    neuron: Cell
    duration: 20 ms
    stimulus step { at: soma(0.5), amp: 1 nA, delay: 5 ms, duration: 10 ms }
    record { soma.cai, apical_dendrite(0.5).cai, dendrite(0.5).cai, soma.v }
}
"#;
    let t = run(text, 0);
    let soma = trace(&t, "soma.cai");
    assert_eq!(soma[0], 2e-4, "the pool starts at minCai, not 5e-5 mM");
    let ap = trace(&t, "apical_dendrite.cai");
    assert!(
        ap[0] > 3e-4 && ap[0] < 3e-4 + 2000.0 * 1e-7,
        "per-compartment minCai: {}",
        ap[0]
    );
    // Before the step the pool sits at minCai: ica is small at rest.
    assert!((soma[100] - 2e-4).abs() < 2e-5, "{}", soma[100]);
    // Calcium enters during the step.
    assert!(soma[500] > soma[100]);
    // CaDynamics_E2 (not v2) keeps NEURON's default start.
    assert_eq!(trace(&t, "dendrite.cai")[0], 5e-5);
}

fn na_cell(mech: &str, params: &str) -> String {
    format!(
        r#"import std.channels.hay2011.{{pas, NaTa_t, K_Pst}}
import std.channels.isf_extra.{{NaTg}}
neuron Cell {{
    morphology: swc("cells/l5pt_simple.swc")
    discretization: fixed(1)
    all {{ Ra: 100 ohm*cm, cm: 1 uF/cm2, ena: 50 mV, ek: -85 mV, pas {{ g: 5e-5 S/cm2, e: -70 mV }} }}
    soma {{ {mech} {{ gbar: 2 S/cm2{params} }}, K_Pst {{ gbar: 0.5 S/cm2 }} }}
}}
experiment E {{
    neuron: Cell
    duration: 40 ms
    stimulus step {{ at: soma(0.5), amp: 2 nA, delay: 5 ms, duration: 30 ms }}
    record {{ soma.v }}
}}
"#
    )
}

#[test]
fn natg_without_shifts_is_nata_t_and_shifts_move_threshold() {
    let a = run(&na_cell("NaTa_t", ""), 0);
    let b = run(&na_cell("NaTg", ""), 0);
    let (va, vb) = (trace(&a, "soma.v"), trace(&b, "soma.v"));
    let peak = va.iter().cloned().fold(f64::MIN, f64::max);
    assert!(peak > 0.0, "the reference cell spikes ({peak} mV)");
    let worst = va
        .iter()
        .zip(vb)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f64::max);
    assert!(
        worst < 1e-9,
        "NaTg(0 mV, 6 mV) vs NaTa_t: max |dv| {worst} mV"
    );
    // Explicit defaults are the same cell.
    let c = run(
        &na_cell(
            "NaTg",
            ", vshiftm: 0 mV, vshifth: 0 mV, slopem: 6 mV, slopeh: 6 mV",
        ),
        0,
    );
    assert_eq!(trace(&c, "soma.v"), vb);
    // Activation shifted 15 mV up: the first spike comes later, or not at all.
    let d = run(&na_cell("NaTg", ", vshiftm: 15 mV"), 0);
    let first = |v: &[f64]| v.windows(2).position(|w| w[0] < 0.0 && w[1] >= 0.0);
    let (fa, fd) = (first(va).expect("spike"), first(trace(&d, "soma.v")));
    assert!(fd.is_none_or(|k| k > fa), "{fa} vs {fd:?}");
}

/// NaTg with shifts and slopes against NEURON 9.0.2 running a mod file written from the spec
/// (tests/data/neuron/NaTg.mod, tests/data/natg_neuron.json): same spikes, every sample of the
/// soma voltage at the reference's print precision.
#[test]
fn shifted_natg_matches_neuron() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data");
    let text = r#"import std.channels.hay2011.{pas, K_Tst, SKv3_1}
import std.channels.isf_extra.{NaTg}
neuron Soma {
    morphology: hoc("natg_soma.hoc")
    soma {
        Ra: 100 ohm*cm
        cm: 1 uF/cm2
        ena: 50 mV
        ek: -85 mV
        pas { g: 3e-5 S/cm2, e: -90 mV }
        NaTg { gbar: 1.5 S/cm2, vshiftm: 3 mV, vshifth: -4 mV, slopem: 7 mV, slopeh: 5 mV }
        K_Tst { gbar: 0.05 S/cm2 }
        SKv3_1 { gbar: 0.5 S/cm2 }
    }
}
experiment E {
    neuron: Soma
    duration: 50 ms
    dt: 0.025 ms
    stimulus step { at: soma(0.5), amp: 0.3 nA, delay: 5 ms, duration: 30 ms }
    record { soma.v, spikes(soma, threshold: 0 mV) }
}
"#;
    let c = isf::validate::check_text("natg.isf", text, &dir);
    assert!(!c.has_errors(), "{:?}", c.diagnostics);
    let exp = &c.model.experiments[0];
    let runner = CellRunner::new(&c.model, exp).expect("runnable");
    let out = runner
        .run(&work_items(exp)[0], &point_values(&exp.sweep, 0))
        .expect("runs");
    let v = trace(&out.traces, "soma.v");
    let spikes = &out
        .events
        .iter()
        .find(|e| e.0 == "spikes(soma)")
        .expect("spikes")
        .1;
    let r: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("natg_neuron.json")).unwrap())
            .unwrap();
    let want: Vec<f64> = r["full_soma_mv"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect();
    let ref_spikes: Vec<f64> = r["spikes_ms"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect();
    assert_eq!(v.len(), want.len());
    let worst = v
        .iter()
        .zip(&want)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f64::max);
    assert_eq!(
        spikes.len(),
        ref_spikes.len(),
        "{spikes:?} vs {ref_spikes:?}"
    );
    for (a, b) in spikes.iter().zip(&ref_spikes) {
        assert!((a - b).abs() < 1e-9, "{spikes:?} vs {ref_spikes:?}");
    }
    let rms = (v
        .iter()
        .zip(&want)
        .map(|(a, b)| (a - b) * (a - b))
        .sum::<f64>()
        / v.len() as f64)
        .sqrt();
    println!(
        "NaTg vs NEURON: {} spikes, soma max |dv| {worst:.2e} mV, RMS {rms:.2e} mV",
        spikes.len()
    );
    // 6 printed decimals: at most 5e-7 mV of rounding per sample.
    assert!(worst <= 5.01e-7, "max |dv| {worst} mV");
}
