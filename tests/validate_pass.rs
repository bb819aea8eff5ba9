//! The validate pass (`isf::validate`) after the checker: the checks that need the lowered
//! cell or a compiled synapse report where a single pass would have, output that needs a
//! neuron that does not lower is dropped, and the checker alone leaves them pending.

use isf::sema::check::Checked;
use std::path::{Path, PathBuf};

/// `tests/diagnostics`, where `fixtures/tiny.swc` (a soma and a basal dendrite) lives.
fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/diagnostics")
}

fn codes(c: &Checked) -> Vec<&'static str> {
    c.diagnostics.iter().map(|d| d.code.as_str()).collect()
}

/// Neuron `A` does not lower (no apical dendrite on the cell), neuron `B` does; each has an
/// experiment with two recordings of one name (E0416, found in the typed plan) and a network
/// whose synapses want the apical dendrite (E0413 at placement).
const SCRIPT: &str = r#"import std.channels.hay2011.*
neuron A {
    morphology: swc("fixtures/tiny.swc")
    soma { pas { g: 3e-5 S/cm2 } }
    apical_dendrite { pas { g: 3e-5 S/cm2 } }
}
neuron B {
    morphology: swc("fixtures/tiny.swc")
    soma { pas { g: 3e-5 S/cm2 } }
}
mechanism Clamp : synapse {
    parameter w: nS = 1 nS
    parameter tau: ms = 5 ms
    weights: [w]
    state g: nS = 0 nS
    derivative g = -g / tau
    current i = g * (v - 0 mV)
    event { g: w }
}
network N {
    population Tuft {
        cells: 10
        synapses: 50
        location: apical_dendrite
        activity: poisson(interval: 100 ms)
    }
}
experiment ea {
    neuron: A
    network: N
    duration: 10 ms
    record {
        soma.v
        soma(0.5).v
    }
}
experiment eb {
    neuron: B
    network: N
    duration: 10 ms
    record {
        soma.v
        soma(0.5).v
    }
}
experiment ok {
    neuron: B
    duration: 10 ms
}
let unused = 1
"#;

#[test]
fn deferred_checks_report_in_place_and_drop_what_needs_a_failed_neuron() {
    let c = isf::validate::check_text("v.isf", SCRIPT, &dir());
    // Mechanisms are checked before neurons: the synapse's E0504 after its declaration's
    // diagnostics, neuron A's lowering error after A's, then only experiment eb's plan: its
    // placement (E0413) before its recordings (E0416). Experiment ea's plan needed A:
    // nothing of it is reported.
    assert_eq!(codes(&c), ["E0504", "E0413", "E0413", "E0416", "W0101"]);
    assert!(c.diagnostics[1].message.contains("apical_dendrite"));
    assert!(c.diagnostics[2].message.contains("population `Tuft`"));
    assert!(c.pending.is_empty());
    // Neither A, the synapse that cannot be simulated, nor ea's plan is in the model.
    let names = |v: Vec<&str>| v.join(",");
    assert_eq!(
        names(c.model.neurons.iter().map(|n| n.name.as_str()).collect()),
        "B"
    );
    assert!(!c.model.mechanisms.iter().any(|m| m.name == "Clamp"));
    assert_eq!(
        names(
            c.model
                .experiments
                .iter()
                .map(|e| e.name.as_str())
                .collect()
        ),
        "ok"
    );
    assert_eq!(c.schemas.len(), c.model.experiments.len());
}

#[test]
fn the_checker_alone_leaves_the_checks_pending() {
    let c = isf::sema::check::check_text("v.isf", SCRIPT, &dir());
    // Without the pass: no lowering, placement or E0504 diagnostics, and both experiments'
    // plans reported (E0416 twice), with three neuron/synapse checks and two placements left.
    assert_eq!(codes(&c), ["E0416", "E0416", "W0101"]);
    assert_eq!(c.pending.checks.len(), 5);
    assert_eq!(c.pending.parts.len(), 3);
    let mut c = c;
    isf::validate::run(&mut c);
    assert_eq!(codes(&c), ["E0504", "E0413", "E0413", "E0416", "W0101"]);
}

#[test]
fn a_clean_script_is_untouched() {
    let text = SCRIPT
        .replace("    apical_dendrite { pas { g: 3e-5 S/cm2 } }\n", "")
        .replace("event { g: w }", "event { g: g + w }")
        .replace("location: apical_dendrite", "location: dendrite")
        .replace("        soma(0.5).v\n", "")
        .replace("let unused = 1\n", "");
    let c = isf::validate::check_text("v.isf", &text, &dir());
    assert!(c.diagnostics.is_empty(), "{:?}", codes(&c));
    assert_eq!(c.model.neurons.len(), 2);
    assert_eq!(c.model.experiments.len(), 3);
    assert!(c.model.mechanisms.iter().any(|m| m.name == "Clamp"));
}
