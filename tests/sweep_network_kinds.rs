//! Regression for issue 11 item 1: network sweeps were accepted and did nothing. With one
//! seed, two values of a receptor parameter or weight must give two different traces on every
//! kind of network: declared in `.isf` (also `tests/sweep_schema.rs`), read from an ISF
//! network `.param` file, and under replay of recorded input.

mod common;

use isf::run::cellsim::CellRunner;
use std::path::Path;

/// Run trial 0 of points 0 and 1 with the same seed; the largest difference of their soma
/// traces (mV).
fn two_points(text: &str, dir: &Path) -> f64 {
    let c = isf::validate::check_text("sweep.isf", text, dir);
    assert!(!c.has_errors(), "{:#?}", c.diagnostics);
    let exp = &c.model.experiments[0];
    assert_eq!(exp.sweep_points, 2);
    let runner = CellRunner::new(&c.model, exp).expect("runnable");
    let run = |point| common::first_trace(&runner, point, 7);
    let (a, b) = (run(0), run(1));
    a.iter()
        .zip(&b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f64::max)
}

#[test]
fn replayed_input_feels_a_swept_weight() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
    let text = std::fs::read_to_string(dir.join("replay.isf"))
        .unwrap()
        .replace(
            "    duration: 300 ms\n",
            "    duration: 100 ms\n    sweep { C2.*.glutamate.weight_ampa in [0.5 nS, 3 nS] }\n",
        );
    assert!(text.contains("weight_ampa in"));
    let diff = two_points(&text, &dir);
    assert!(diff > 0.1, "replay: largest difference {diff} mV");
}

#[test]
fn isf_network_param_feels_a_swept_nmda_decay() {
    let dir = common::conformance::conformance_dir();
    let (cell, net) = (
        dir.join("inputs/86_C2_center.param"),
        dir.join("inputs/network.param"),
    );
    if !common::skip::require_data("conformance data", &[&cell, &net]) {
        return;
    }
    let text = format!(
        r#"neuron L5PT = isf_param("{d}/inputs/86_C2_center.param")
network C2 = isf_network_param("{d}/inputs/network.param")
experiment S4 {{
    neuron: L5PT
    network: C2
    duration: 60 ms
    seed: 1000
    sweep {{ C2.*.glutamate.tau_nmda_decay in [10 ms, 120 ms] }}
    record {{ soma.v }}
}}
"#,
        d = dir.display()
    );
    let diff = two_points(&text, &dir);
    assert!(diff > 0.1, "network.param: largest difference {diff} mV");
}
