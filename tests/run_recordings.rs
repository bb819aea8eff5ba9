//! Recordings beyond the soma voltage: ion variables, mechanism states, ion currents and every
//! compartment's voltage, and random-sample sweep axes.

use isf::run::exec::TrialRunner;
use isf::run::{point_values, work_items};
use std::path::Path;

#[test]
fn states_ions_currents_and_all_compartments() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
    let text = r#"import std.channels.hay2011.{pas, Ca_HVA, CaDynamics_E2}
neuron Cell {
    morphology: swc("cells/l5pt_simple.swc")
    discretization: fixed(1)
    all {
        Ra: 100 ohm*cm
        cm: 1 uF/cm2
        pas { g: 5e-5 S/cm2, e: -70 mV }
    }
    soma {
        Ca_HVA { gbar: 0.01 S/cm2 }
        CaDynamics_E2 { decay: 80 ms, gamma: 0.05 }
    }
}
experiment E {
    neuron: Cell
    duration: 50 ms
    stimulus step { at: soma(0.5), amp: 1 nA, delay: 10 ms, duration: 20 ms }
    sweep { stimulus.step.amp in random_uniform(0.5 nA, 1.5 nA, n: 3, seed: 7) }
    record {
        soma.cai
        soma.eca
        current(soma, name: "ica")
        state(soma, mechanism: "Ca_HVA", name: "m")
        all_compartments
    }
}
"#;
    let c = isf::validate::check_text("rec.isf", text, &dir);
    assert!(!c.has_errors(), "{:?}", c.diagnostics);
    let exp = &c.model.experiments[0];
    assert_eq!(exp.sweep_points, 3);
    // Random samples are reproducible and inside their range.
    let again = isf::validate::check_text("rec.isf", text, &dir);
    assert_eq!(
        format!("{:?}", exp.sweep),
        format!("{:?}", again.model.experiments[0].sweep)
    );
    assert_eq!(exp.sweep[0].unit, "nA");
    for v in &exp.sweep[0].values {
        let isf::model::sweep::SweepValue::Num(value) = v else {
            panic!("{v:?}")
        };
        assert!((0.5..1.5).contains(value), "{value}");
    }
    let runner = isf::run::cellsim::CellRunner::new(&c.model, exp).expect("runnable");
    let item = work_items(exp)[0];
    let out = runner
        .run(&item, &point_values(&exp.sweep, 0))
        .expect("runs");
    let get = |n: &str| {
        &out.traces
            .iter()
            .find(|t| t.0 == n)
            .unwrap_or_else(|| panic!("{n}"))
            .1
    };
    let samples = 50.0 / 0.025;
    let cai = get("soma.cai");
    assert_eq!(cai.len(), samples as usize + 1);
    assert!(
        (cai[0] - 5e-5).abs() < 1e-15,
        "NEURON's initial cai, {}",
        cai[0]
    );
    assert!(
        cai.iter().cloned().fold(0.0, f64::max) > 1e-4,
        "the step lets calcium in"
    );
    let eca = get("soma.eca");
    assert!(eca[0] > 100.0 && eca[0] < 160.0, "Nernst eca {}", eca[0]);
    let ica = get("soma.ica");
    assert!(
        ica.iter().any(|&i| i < 0.0),
        "inward calcium current during the step"
    );
    let m = get("soma.Ca_HVA.m");
    assert!(
        m[0] > 0.0 && m[0] < 0.1,
        "m starts at its steady state at rest: {}",
        m[0]
    );
    let all: Vec<_> = out
        .traces
        .iter()
        .filter(|t| t.0.starts_with("all_compartments.v["))
        .collect();
    assert_eq!(all.len(), runner.n_compartments());
    assert!(
        all.iter()
            .all(|t| t.1.len() == cai.len() && t.1.iter().all(|v| v.is_finite()))
    );
}

/// A state recording where its mechanism is not inserted is refused before any trial runs
/// (E0417), not by every trial; a state the mechanism lacks likewise.
#[test]
fn state_recordings_of_absent_mechanisms_are_refused_before_the_run() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
    let text = |record: &str| {
        format!(
            r#"import std.channels.hay2011.{{pas, Ca_HVA}}
neuron Cell {{
    morphology: swc("cells/l5pt_simple.swc")
    discretization: fixed(1)
    all {{ Ra: 100 ohm*cm, cm: 1 uF/cm2, pas {{ g: 5e-5 S/cm2, e: -70 mV }} }}
    soma {{ Ca_HVA {{ gbar: 0.01 S/cm2 }} }}
}}
experiment E {{
    neuron: Cell
    duration: 5 ms
    record {{ {record} }}
}}
"#
        )
    };
    for (record, why) in [
        (
            r#"state(dendrite(0.5), mechanism: "Ca_HVA", name: "m")"#,
            "not inserted at",
        ),
        (
            r#"state(soma(0.5), mechanism: "Ca_HVA", name: "q")"#,
            "has no state `q`",
        ),
        (
            r#"state(soma(0.5), mechanism: "pas", name: "m")"#,
            "has no state `m`",
        ),
    ] {
        let c = isf::validate::check_text("rec.isf", &text(record), &dir);
        assert!(!c.has_errors(), "{:?}", c.diagnostics);
        let Err(d) = isf::run::cellsim::CellRunner::new(&c.model, &c.model.experiments[0]) else {
            panic!("`{record}` was accepted");
        };
        assert_eq!(d.code.as_str(), "E0417", "{record}: {d:?}");
        assert!(d.message.contains(why), "{record}: {}", d.message);
    }
}
