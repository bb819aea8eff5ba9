//! Synapse mechanisms declared in the language drive a network run exactly like the stdlib
//! receptors they restate: the same population on the conformance cell (ISF's L5tt_C2
//! anatomy, 300 ms, one trial) with (a) the `glutamate` receptor alias, (b) the stdlib
//! `glutamate_syn` by its ISF parameter names, and (c) a user-declared copy of it, gives the
//! same soma trace bit for bit; a user-declared two-exponential synapse equals `exp2syn`.

mod common;

use isf::run::exec::TrialRunner;
use isf::run::{point_values, work_items};
use std::path::{Path, PathBuf};

/// The conformance inputs folder, or `None` after a loud skip.
#[track_caller]
fn inputs() -> Option<PathBuf> {
    let d = common::skip::conformance_dir().join("inputs");
    common::skip::require_data("conformance data", &[&d.join("network.param")]).then_some(d)
}

const MY_GLU: &str = r#"
mechanism my_glu : synapse {
    parameter tau1: ms = 26 ms
    parameter tau2: ms = 2 ms
    parameter tau3: ms = 2 ms
    parameter tau4: ms = 0.1 ms
    parameter e: mV = 0 mV
    parameter w_ampa: nS = 0 nS
    parameter w_nmda: nS = 0 nS
    weights: [w_ampa, w_nmda]
    state A: nS = 0 nS, B: nS = 0 nS, C: nS = 0 nS, D: nS = 0 nS
    derivative A = -A / tau1
    derivative B = -B / tau2
    derivative C = -C / tau3
    derivative D = -D / tau4
    let fn = 1 / (exp(-(tau2 * tau1 / (tau1 - tau2) * log(tau1 / tau2)) / tau1) - exp(-(tau2 * tau1 / (tau1 - tau2) * log(tau1 / tau2)) / tau2))
    let fa = 1 / (exp(-(tau4 * tau3 / (tau3 - tau4) * log(tau3 / tau4)) / tau3) - exp(-(tau4 * tau3 / (tau3 - tau4) * log(tau3 / tau4)) / tau4))
    current i = ((A - B) / (1 + 0.25 * exp(-0.08 * v / 1 mV)) + C - D) * (v - e)
    event {
        A: A + fn * w_nmda, B: B + fn * w_nmda
        C: C + fa * w_ampa, D: D + fa * w_ampa
    }
}

mechanism my_exp2 : synapse {
    parameter rise: ms = 0.5 ms
    parameter decay: ms = 8 ms
    parameter g: nS = 0 nS
    weights: [g]
    state a: nS = 0 nS, b: nS = 0 nS
    derivative a = -a / rise
    derivative b = -b / decay
    let tp = rise * decay / (decay - rise) * log(decay / rise)
    current i = (b - a) * (v - -10 mV)
    event {
        a: a + g / (exp(-tp / decay) - exp(-tp / rise))
        b: b + g / (exp(-tp / decay) - exp(-tp / rise))
    }
}
"#;

fn run(inputs: &Path, receptor: &str) -> Vec<f64> {
    let i = inputs.display();
    let text = format!(
        r#"import std.synapses.{{glutamate_syn}}
{MY_GLU}
neuron L5PT = isf_param("{i}/86_C2_center.param")
network N {{
    population L5tt_C2 {{
        cells: 379
        synapses: anatomy(syn: "{i}/example_embedding_86_C2_center.syn", con: "{i}/example_embedding_86_C2_center.con")
        release_probability: 0.6
        {receptor}
        activity: poisson(interval: 50 ms)
    }}
}}
experiment E {{
    neuron: L5PT
    network: N
    duration: 300 ms
    seed: 7
    record {{ soma.v }}
}}
"#
    );
    let c = isf::validate::check_text("synapse_language.isf", &text, inputs);
    assert!(!c.has_errors(), "{receptor}: {:?}", c.diagnostics);
    let exp = &c.model.experiments[0];
    let runner =
        isf::run::cellsim::CellRunner::new(&c.model, exp).unwrap_or_else(|d| panic!("{d:?}"));
    let items = work_items(exp);
    let out = runner
        .run(&items[0], &point_values(&exp.sweep, 0))
        .expect("trial runs");
    out.traces[0].1.clone()
}

#[test]
fn declared_synapses_equal_the_stdlib_receptors() {
    let Some(inputs) = inputs() else {
        return;
    };
    let alias = run(
        &inputs,
        "receptor glutamate { weight_ampa: 1.59 nS, weight_nmda: 1.59 nS, tau_nmda_decay: 26 ms, depression: 1, facilitation: 0 }",
    );
    let stdlib = run(
        &inputs,
        "receptor glutamate_syn { w_ampa: 1.59 nS, w_nmda: 1.59 nS, tau1: 26 ms, decayampa: 1, decaynmda: 1 }",
    );
    let declared = run(
        &inputs,
        "receptor my_glu { w_ampa: 1.59 nS, w_nmda: 1.59 nS }",
    );
    let max = alias.iter().cloned().fold(f64::MIN, f64::max);
    let mean = alias.iter().sum::<f64>() / alias.len() as f64;
    eprintln!("glutamate: soma max {max:.2} mV, mean {mean:.2} mV");
    assert!(mean > -75.0 && max > mean + 1.0, "the input does something");
    assert_eq!(alias, stdlib, "alias and stdlib names");
    let dev = alias
        .iter()
        .zip(&declared)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f64::max);
    eprintln!("user-declared glutamate vs stdlib: max |dV| {dev:.3e} mV");
    // Same equations written differently (the Mg block constants inlined, no plasticity
    // states): equal up to rounding, which the cell's spikes amplify (measured 1.4e-9 mV over
    // spikes of ~100 mV); 1e-6 mV is far below any physiological difference.
    assert!(dev < 1e-6, "{dev}");

    let alias = run(
        &inputs,
        "receptor exp2syn { weight: 2 nS, tau_rise: 0.5 ms, tau_decay: 8 ms, e: -10 mV }",
    );
    let declared = run(&inputs, "receptor my_exp2 { g: 2 nS }");
    let dev = alias
        .iter()
        .zip(&declared)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f64::max);
    eprintln!("user-declared exp2 vs exp2syn: max |dV| {dev:.3e} mV");
    assert!(dev < 1e-6, "{dev}");
}
