//! Every sweepable path takes effect (issue 11): the schema of a small experiment that uses
//! every kind of stimulus, region field, mechanism, receptor (stdlib and declared), activity
//! generator and placement field is walked path by path; two values of each path must give
//! two different simulation inputs (the per-point cell, stimuli, network or time grid), and
//! for a representative subset, different traces from the same seed.

mod common;

use isf::model::sweep::{SweepTarget, SweepValue};
use isf::model::{ExperimentModel, Model};
use isf::run::cellsim::CellRunner;
use isf::sema::sweep::{Range, SchemaEntry, ValueKind};
use isf::units::Dim;

fn script() -> String {
    let swc = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/examples/cells/l5pt_simple.swc"
    );
    format!(
        r#"import std.channels.hay2011.*

mechanism my_syn : synapse {{
    parameter tau1: ms = 0.5 ms
    parameter tau2: ms = 5 ms
    parameter e: mV = 0 mV
    parameter w: nS = 1 nS
    weights: [w]
    state A: nS = 0 nS, B: nS = 0 nS
    derivative A = -A / tau1
    derivative B = -B / tau2
    current i = (B - A) * (v - e)
    event {{ A: A + w, B: B + w }}
}}

neuron Cell {{
    morphology: swc("{swc}")
    discretization: fixed(1)
    soma {{
        Ra: 100 ohm*cm
        cm: 1 uF/cm2
        ena: 50 mV
        ek: -85 mV
        pas {{ g: 3e-5 S/cm2, e: -75 mV }}
        NaTa_t {{ gbar: 2 S/cm2 }}
        SKv3_1 {{ gbar: 0.5 S/cm2 }}
    }}
    all {{
        Ra: 100 ohm*cm
        cm: 1 uF/cm2
        pas {{ g: 5e-5 S/cm2, e: -75 mV }}
    }}
}}

network Net {{
    population A_C2 {{
        cells: 6
        synapses: 12
        release_probability: 0.8
        location: [dendrite, apical_dendrite]
        distance: (0 um, 400 um)
        receptor glutamate {{ weight_ampa: 2 nS, weight_nmda: 1 nS, tau_nmda_decay: 26 ms }}
        activity: poisson(interval: 10 ms) + psth(bins: [((5 ms, 10 ms), 0.5)], offset: 5 ms)
    }}
    population B_C2 {{
        cells: 5
        synapses: 8
        excitatory: false
        receptor gaba {{ weight: 1 nS, tau_decay: 20 ms, e: -80 mV }}
        activity: normal_spike(active: 0.8, mean: 10 ms, sd: 2 ms) + uniform_spike(active: 0.9, window: 10 ms) + lognormal_spike(active: 0.7, mu: 1.5, sigma: 0.5) + psth_count(bins: [((5 ms, 10 ms), 3)], offset: 2 ms)
    }}
    population C_C2 {{
        cells: 4
        synapses: 6
        receptor exp2syn {{ weight: 1 nS, tau_rise: 0.5 ms, tau_decay: 5 ms }}
        activity: modulated(rate_before: 20 Hz, mean_rate: 40 Hz, modulation: 0.5, frequency: 10 Hz, bin: 1 ms, offset: 10 ms, phase: "normal", phase_mean: 0.1, phase_sd: 0.2)
    }}
    population D_C2 {{
        cells: 4
        synapses: 6
        receptor my_syn {{ w: 1 nS }}
        activity: poisson(interval: 8 ms, noise: 0.5)
    }}
}}

experiment walk {{
    neuron: Cell
    network: Net
    duration: 40 ms
    dt: 0.025 ms
    seed: 5
    stimulus step {{ at: soma(0.5), amp: 0.3 nA, delay: 5 ms, duration: 20 ms }}
    stimulus kick {{ kind: "epsp", at: soma(0.5), onset: 10 ms, tau_rise: 0.5 ms, tau_decay: 5 ms, imax: 0.2 nA }}
    record {{ soma.v }}
}}
"#
    )
}

/// Two distinct valid values for a schema entry, in canonical units.
fn two_values(e: &SchemaEntry) -> (SweepValue, SweepValue) {
    use SweepValue::*;
    match e.kind {
        ValueKind::Count { .. } => (Num(3.0), Num(5.0)),
        ValueKind::Regions => (
            Regions(vec!["dendrite".into()]),
            Regions(vec!["apical_dendrite".into()]),
        ),
        ValueKind::LengthPair => (Pair(0.0, 150.0), Pair(100.0, 600.0)),
        ValueKind::Quantity { dim, range } => {
            let (a, b) = match (&e.target, range) {
                (SweepTarget::Duration, _) => (20.0, 30.0),
                (SweepTarget::Dt, _) => (0.025, 0.05),
                (SweepTarget::Temperature, _) => (30.0, 37.0),
                (_, Range::Unit) => (0.3, 0.7),
                // Time constants well apart from the others (equal rise and decay times
                // have no peak normalisation).
                _ if e.path.contains("tau") => (30.0, 60.0),
                (_, Range::Positive | Range::NonNegative) => (2.0, 7.0),
                _ if dim == Dim::VOLTAGE => (-80.0, -20.0),
                _ => (0.5, 1.5),
            };
            (Num(a), Num(b))
        }
    }
}

fn with_axis(
    exp: &ExperimentModel,
    e: &SchemaEntry,
    a: SweepValue,
    b: SweepValue,
) -> ExperimentModel {
    let mut x = exp.clone();
    x.sweep = vec![isf::model::SweepAxisModel {
        path: e.path.clone(),
        target: e.target.clone(),
        unit: String::new(),
        values: vec![a, b],
        group: 0,
    }];
    x.sweep_points = 2;
    x
}

fn checked() -> (Model, isf::sema::sweep::Schema) {
    let dir = std::env::temp_dir();
    let c = isf::validate::check_text("walk.isf", &script(), &dir);
    assert!(!c.has_errors(), "{:#?}", c.diagnostics);
    (c.model.clone(), c.schemas[0].clone())
}

#[test]
fn every_sweepable_path_changes_the_simulation_inputs() {
    let (model, schema) = checked();
    let exp = &model.experiments[0];
    let mut covered = 0;
    let mut kinds = std::collections::BTreeSet::new();
    for e in &schema.entries {
        let (a, b) = two_values(e);
        let x = with_axis(exp, e, a, b);
        let runner =
            CellRunner::new(&model, &x).unwrap_or_else(|d| panic!("{}: {}", e.path, d.message));
        let p0 = runner
            .point_inputs(0)
            .unwrap_or_else(|d| panic!("{}: {}", e.path, d.message));
        let p1 = runner
            .point_inputs(1)
            .unwrap_or_else(|d| panic!("{}: {}", e.path, d.message));
        assert_ne!(
            format!("{p0:?}"),
            format!("{p1:?}"),
            "sweeping `{}` does not change what is simulated",
            e.path
        );
        covered += 1;
        kinds.insert(format!("{:?}", std::mem::discriminant(&e.target)));
    }
    eprintln!(
        "sweep schema: {} paths, {covered} covered ({} target kinds)",
        schema.entries.len(),
        kinds.len()
    );
    assert_eq!(covered, schema.entries.len());
    // The walk reaches every kind of target and a wildcard path.
    assert!(schema.entries.len() > 150, "{}", schema.entries.len());
    for p in [
        "duration",
        "dt",
        "stimulus.step.amp",
        "stimulus.kick.tau_decay",
        "Cell.temperature",
        "Cell.soma.cm",
        "Cell.soma.ek",
        "Cell.soma.NaTa_t.gbar",
        "Net.A_C2.glutamate.tau_nmda_decay",
        "Net.*.glutamate.weight_nmda",
        "Net.B_C2.gaba.weight",
        "Net.C_C2.exp2syn.tau_decay",
        "Net.D_C2.my_syn.w",
        "Net.A_C2.release_probability",
        "Net.A_C2.cells",
        "Net.A_C2.location",
        "Net.A_C2.distance",
        "Net.B_C2.activity.lognormal_spike.sigma",
        "Net.C_C2.activity.modulated.phase_sd",
        "Net.*.activity.poisson.interval",
    ] {
        assert!(schema.find(p).is_some(), "`{p}` is not sweepable");
    }
}

#[test]
fn representative_paths_change_the_traces_for_one_seed() {
    let (model, schema) = checked();
    let exp = &model.experiments[0];
    for p in [
        "stimulus.step.amp",
        "Cell.soma.NaTa_t.gbar",
        "Cell.all.cm",
        "Net.*.glutamate.tau_nmda_decay",
        "Net.*.glutamate.weight_ampa",
        "Net.B_C2.gaba.weight",
        "Net.A_C2.release_probability",
        "Net.A_C2.synapses",
        "Net.D_C2.activity.poisson.interval",
        "dt",
    ] {
        let e = schema.find(p).unwrap_or_else(|| panic!("{p}"));
        let (a, b) = two_values(e);
        let x = with_axis(exp, e, a, b);
        let runner = CellRunner::new(&model, &x).unwrap();
        let run = |point| common::first_trace(&runner, point, 99);
        assert_ne!(run(0), run(1), "`{p}`: same trace for both values");
    }
}

#[test]
fn unknown_and_out_of_range_sweeps_are_errors_at_check() {
    let base = script();
    let dir = std::env::temp_dir();
    let cases = [
        (
            "Net.*.glutamate.tau_nmda_dacay in [40 ms, 65 ms]",
            "E0408",
            "Net.*.glutamate.tau_nmda_decay",
        ),
        ("Net.A_C2.release_probability in [0.5, 1.3]", "E0314", ""),
        ("duration in [-10 ms, 20 ms]", "E0314", ""),
        ("dt in [0.025 ms, 0.03 ms]", "E0406", ""),
        ("Net.A_C2.cells in [2.5]", "E0407", ""),
        ("Cell.basal.pas.g in [1e-5 S/cm2]", "E0408", ""),
        ("stimulus.step.imax in [1 nA]", "E0408", "stimulus.step.amp"),
    ];
    for (axis, code, hint) in cases {
        let text = base.replace(
            "    record {{ soma.v }}"
                .replace("{{", "{")
                .replace("}}", "}")
                .as_str(),
            &format!("    sweep {{ {axis} }}\n    record {{ soma.v }}"),
        );
        assert!(text.contains(axis));
        let c = isf::validate::check_text("walk.isf", &text, &dir);
        let d = c
            .diagnostics
            .iter()
            .find(|d| d.code.as_str() == code)
            .unwrap_or_else(|| panic!("`{axis}`: no {code} in {:#?}", c.diagnostics));
        if !hint.is_empty() {
            assert!(
                d.hints.iter().any(|h| h.contains(hint)),
                "`{axis}`: no did-you-mean `{hint}` in {d:?}"
            );
        }
        assert!(c.model.experiments.is_empty(), "`{axis}` still runs");
    }
}

/// More sweep points than the runner keeps built: evicted points are rebuilt identically,
/// whatever the order trials come in.
#[test]
fn points_beyond_the_cache_rebuild_identically() {
    let (model, schema) = checked();
    let e = schema.find("Cell.soma.pas.g").unwrap();
    let mut x = with_axis(
        &model.experiments[0],
        e,
        SweepValue::Num(1e-5),
        SweepValue::Num(2e-5),
    );
    x.sweep[0].values = (0..40)
        .map(|i| SweepValue::Num(1e-5 * (1.0 + i as f64)))
        .collect();
    x.sweep_points = 40;
    x.duration_ms = 5.0;
    x.n_steps = 200;
    let runner = CellRunner::new(&model, &x).unwrap();
    let run = |point| common::first_trace(&runner, point, 3);
    let forward: Vec<Vec<f64>> = (0..40).map(run).collect();
    let backward: Vec<Vec<f64>> = (0..40).rev().map(run).collect();
    for (p, (a, b)) in forward.iter().zip(backward.iter().rev()).enumerate() {
        assert_eq!(a, b, "point {p}");
    }
    assert_ne!(forward[0], forward[39]);
}
