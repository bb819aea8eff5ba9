//! One rule, one code (issue 11): the same bad value in a `.isf` network population and in an
//! ISF network `.param` file gets the same diagnostic code, by the shared `isf::rules`.

use isf::diagnostics::Code;
use isf::interop::formats::param::{cell_params, parse_param};
use isf::interop::network_param::network_from_param;
use std::path::Path;

/// The codes `isf check` reports for a script.
fn isf_codes(text: &str) -> Vec<Code> {
    let c = isf::validate::check_text("case.isf", text, Path::new("."));
    c.diagnostics.iter().map(|d| d.code).collect()
}

/// The codes of one `.isf` population: `cells` and `activity` unless the body sets them.
fn population_codes(body: &str) -> Vec<Code> {
    let mut b = body.to_string();
    if !body.contains("cells:") {
        b.push_str("\ncells: 10");
    }
    if !body.contains("activity:") {
        b.push_str("\nactivity: poisson(interval: 100 ms)");
    }
    isf_codes(&format!("network N {{\n population P {{\n{b}\n }}\n}}\n"))
}

/// The code a network `.param` population gives: `activity` is the `celltype` value, the
/// other keys replace the defaults.
fn param_code(cells: &str, celltype: &str, release: &str, receptor: &str) -> Code {
    let text = format!(
        r#"{{"network": {{"P_C2": {{
            "cellNr": {cells},
            "celltype": {celltype},
            "synapses": {{
                "distributionFile": "a.syn", "connectionFile": "a.con",
                "releaseProb": {release},
                "receptors": {{"glutamate_syn": {receptor}}}
            }}
        }}}}}}"#
    );
    let root = parse_param(&text, "case.param").expect("the case parses");
    network_from_param(&root, "case.param", Path::new("."), "case")
        .expect_err("the case breaks a rule")
        .code
}

const SPIKETRAIN: &str = r#"{"spiketrain": {"interval": 100}}"#;
const RECEPTOR: &str = r#"{"delay": 0, "weight": [1.0, 1.0]}"#;

fn spiketrain(v: &str) -> String {
    format!(r#"{{"spiketrain": {v}}}"#)
}

fn pointcell(v: &str) -> String {
    format!(r#"{{"pointcell": {v}}}"#)
}

/// `.param` population parts: `cellNr`, `celltype`, `releaseProb`, the receptor.
type ParamParts = (String, String, String, String);

/// What is wrong, the `.isf` population body, the `.param` parts, the code both must give.
type Case = (&'static str, &'static str, ParamParts, Code);

#[test]
fn a_bad_value_gets_the_same_code_in_isf_and_param() {
    // (what, .isf population body, .param (cells, celltype, releaseProb, receptor), code)
    let cases: Vec<Case> = vec![
        (
            "release probability 1.3",
            "release_probability: 1.3",
            (
                "10".into(),
                SPIKETRAIN.into(),
                "1.3".into(),
                RECEPTOR.into(),
            ),
            Code::E0314,
        ),
        (
            "PSTH probability 1.3",
            "activity: psth(bins: [((1 ms, 2 ms), 1.3)])",
            (
                "10".into(),
                pointcell(
                    r#"{"distribution": "PSTH", "intervals": [[1, 2]], "probabilities": [1.3]}"#,
                ),
                "0.5".into(),
                RECEPTOR.into(),
            ),
            Code::E0314,
        ),
        (
            "PSTH bin that ends before it begins",
            "activity: psth(bins: [((5 ms, 2 ms), 0.5)])",
            (
                "10".into(),
                pointcell(
                    r#"{"distribution": "PSTH", "intervals": [[5, 2]], "probabilities": [0.5]}"#,
                ),
                "0.5".into(),
                RECEPTOR.into(),
            ),
            Code::E0314,
        ),
        (
            "noise 1.5",
            "activity: poisson(interval: 100 ms, noise: 1.5)",
            (
                "10".into(),
                spiketrain(r#"{"interval": 100, "noise": 1.5}"#),
                "0.5".into(),
                RECEPTOR.into(),
            ),
            Code::E0314,
        ),
        (
            "mean interval 0",
            "activity: poisson(interval: 0 ms)",
            (
                "10".into(),
                spiketrain(r#"{"interval": 0}"#),
                "0.5".into(),
                RECEPTOR.into(),
            ),
            Code::E0314,
        ),
        (
            "spike count 2.5",
            "activity: poisson(interval: 10 ms, count: 2.5)",
            (
                "10".into(),
                spiketrain(r#"{"interval": 10, "nspikes": 2.5}"#),
                "0.5".into(),
                RECEPTOR.into(),
            ),
            Code::E0407,
        ),
        (
            "cell count 2.5",
            "cells: 2.5",
            (
                "2.5".into(),
                SPIKETRAIN.into(),
                "0.5".into(),
                RECEPTOR.into(),
            ),
            Code::E0407,
        ),
        (
            "active fraction 1.2",
            "activity: normal_spike(active: 1.2, mean: 5 ms, sd: 1 ms)",
            (
                "10".into(),
                pointcell(
                    r#"{"distribution": "normal", "activeFrac": 1.2, "spikeT": 5, "spikeWidth": 1}"#,
                ),
                "0.5".into(),
                RECEPTOR.into(),
            ),
            Code::E0314,
        ),
        (
            "negative spike width",
            "activity: normal_spike(active: 0.5, mean: 5 ms, sd: -1 ms)",
            (
                "10".into(),
                pointcell(
                    r#"{"distribution": "normal", "activeFrac": 0.5, "spikeT": 5, "spikeWidth": -1}"#,
                ),
                "0.5".into(),
                RECEPTOR.into(),
            ),
            Code::E0314,
        ),
        (
            "cells per PSTH bin 1.5",
            "activity: psth_count(bins: [((1 ms, 2 ms), 1.5)])",
            (
                "10".into(),
                pointcell(
                    r#"{"distribution": "PSTH_absolute_number", "intervals": [[1, 2]], "number_active_synapses": [1.5]}"#,
                ),
                "0.5".into(),
                RECEPTOR.into(),
            ),
            Code::E0407,
        ),
        (
            "negative rate",
            "activity: poisson_rates(segments: [((1 ms, 2 ms), -3 Hz)])",
            (
                "10".into(),
                pointcell(
                    r#"{"distribution": "PSTH_poissontrain", "intervals": [[1, 2]], "rates": [-3]}"#,
                ),
                "0.5".into(),
                RECEPTOR.into(),
            ),
            Code::E0314,
        ),
        (
            "modulation 1.2",
            "activity: modulated(rate_before: 1 Hz, mean_rate: 2 Hz, modulation: 1.2, frequency: 5 Hz, bin: 1 ms)",
            (
                "10".into(),
                pointcell(
                    r#"{"distribution": "poissontrain_modulated", "rate_before_t_offset": 1, "mean_rate": 2, "max_modulation": 1.2, "modulation_frequency": 5, "bin_size": 1, "offset": 0}"#,
                ),
                "0.5".into(),
                RECEPTOR.into(),
            ),
            Code::E0314,
        ),
        (
            "modulation bin 0",
            "activity: modulated(rate_before: 1 Hz, mean_rate: 2 Hz, modulation: 0.5, frequency: 5 Hz, bin: 0 ms)",
            (
                "10".into(),
                pointcell(
                    r#"{"distribution": "poissontrain_modulated", "rate_before_t_offset": 1, "mean_rate": 2, "max_modulation": 0.5, "modulation_frequency": 5, "bin_size": 0, "offset": 0}"#,
                ),
                "0.5".into(),
                RECEPTOR.into(),
            ),
            Code::E0314,
        ),
        (
            "negative delay",
            "delay: -1 ms",
            (
                "10".into(),
                SPIKETRAIN.into(),
                "0.5".into(),
                r#"{"delay": -1, "weight": [1.0, 1.0]}"#.into(),
            ),
            Code::E0314,
        ),
        (
            "negative weight",
            "receptor glutamate { weight_ampa: -1 nS }",
            (
                "10".into(),
                SPIKETRAIN.into(),
                "0.5".into(),
                r#"{"delay": 0, "weight": [-1.0, 1.0]}"#.into(),
            ),
            Code::E0314,
        ),
    ];
    let mut failures = Vec::new();
    for (what, body, (cells, celltype, release, receptor), code) in cases {
        let in_isf = population_codes(body);
        let in_param = param_code(&cells, &celltype, &release, &receptor);
        if in_isf != vec![code] || in_param != code {
            failures.push(format!(
                "{what}: .isf gives {in_isf:?}, .param gives {in_param:?}, want {code:?}"
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn a_non_positive_discretization_frequency_is_e0412_in_both() {
    let in_isf = isf_codes(
        "neuron A {\n morphology: swc(\"x.swc\")\n discretization: isf_d_lambda(frequency: 0 Hz)\n}\n",
    );
    assert!(in_isf.contains(&Code::E0412), "{in_isf:?}");
    let root = parse_param(
        r#"{"neuron": {"filename": "x.hoc", "discretization": {"f": 0, "max_seg_length": 50}}}"#,
        "cell.param",
    )
    .unwrap();
    let e = cell_params(&root, "cell.param").expect_err("f = 0 is refused");
    assert_eq!(e.code, Code::E0412, "{}", e.message);
}
