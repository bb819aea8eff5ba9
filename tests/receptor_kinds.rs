//! One receptor table (issue 18): whether a population's receptor excites or inhibits is
//! decided the same way on the `.isf` path (`network` blocks, lowered by
//! `network::lower::from_model`) and the `.param` path (ISF network files,
//! `interop::network_param`). A mechanism named `GABA_syn` used to be excitatory on the `.isf`
//! path (a case-sensitive `contains("gaba")`) and inhibitory on the `.param` path.

use isf::diagnostics::Code;
use isf::interop::formats::param::parse_param;
use isf::interop::network_param::network_from_param;
use isf::network::receptors::{ReceptorKind, kind};
use std::path::Path;

/// A synapse mechanism declared in the language under the name `name` (a plain exp2syn).
fn synapse(name: &str) -> String {
    format!(
        r#"mechanism {name} : synapse {{
    parameter rise: ms = 0.5 ms
    parameter decay: ms = 8 ms
    parameter g: nS = 0 nS
    weights: [g]
    state a: nS = 0 nS, b: nS = 0 nS
    derivative a = -a / rise
    derivative b = -b / decay
    current i = (b - a) * (v - -80 mV)
    event {{
        a: a + g
        b: b + g
    }}
}}
"#
    )
}

/// `excitatory` of the one population `P` (a cell type the table does not know) of an `.isf`
/// network whose receptor block is `receptor`.
fn isf_excitatory(decls: &str, receptor: &str) -> Option<bool> {
    let text = format!(
        "{decls}\nnetwork N {{\n population P {{\n cells: 1\n activity: poisson(interval: 100 ms)\n {receptor}\n }}\n}}\n"
    );
    let checked = isf::validate::check_text("kinds.isf", &text, Path::new("."));
    let errors: Vec<_> = checked
        .diagnostics
        .iter()
        .map(|d| (d.code, d.message.clone()))
        .collect();
    assert!(errors.is_empty(), "{text}\n{errors:?}");
    let net = isf::network::lower::from_model(&checked.model.networks[0]).expect("lowers");
    net.populations[0].excitatory
}

/// `excitatory` of the population `P_C2` of an ISF network `.param` with one receptor
/// `mechanism`, or the error code.
fn param_excitatory(mechanism: &str, body: &str) -> Result<Option<bool>, Code> {
    let text = format!(
        r#"{{"network": {{"P_C2": {{
            "cellNr": 1,
            "celltype": {{"spiketrain": {{"interval": 100}}}},
            "synapses": {{
                "distributionFile": "a.syn", "connectionFile": "a.con",
                "releaseProb": 0.5,
                "receptors": {{"{mechanism}": {body}}}
            }}
        }}}}}}"#
    );
    let root = parse_param(&text, "kinds.param").expect("parses");
    network_from_param(&root, "kinds.param", Path::new("."), "kinds")
        .map(|n| n.populations[0].excitatory)
        .map_err(|e| e.code)
}

#[test]
fn gaba_syn_is_inhibitory_on_both_paths() {
    // The table's rule, independent of case.
    assert_eq!(kind("GABA_syn"), ReceptorKind::Inhibitory);
    assert_eq!(kind("GABA_syn"), kind("gaba_syn"));

    // `.isf`: a synapse mechanism declared as `GABA_syn` (not in the table, so the name rule).
    let isf_declared = isf_excitatory(&synapse("GABA_syn"), "receptor GABA_syn { g: 1 nS }");
    // `.isf`: the stdlib receptor `gaba` (ISF's gaba_syn).
    let isf_alias = isf_excitatory("", "receptor gaba { weight: 1 nS }");
    // `.param`: ISF's gaba_syn.
    let param = param_excitatory(
        "gaba_syn",
        r#"{"delay": 0, "weight": 1.0, "parameter": {"decaytime": 20.0}}"#,
    )
    .expect("the .param population reads");
    assert_eq!(isf_declared, Some(false), "GABA_syn on the .isf path");
    assert_eq!(isf_alias, Some(false), "gaba on the .isf path");
    assert_eq!(param, Some(false), "gaba_syn on the .param path");
    assert_eq!(isf_declared, param);

    // A `.param` file names NEURON mechanisms, whose names are case-sensitive: `GABA_syn` is
    // not ISF's mechanism there (E0803), rather than a second spelling of it.
    assert_eq!(
        param_excitatory("GABA_syn", r#"{"delay": 0, "weight": 1.0}"#),
        Err(Code::E0803)
    );
}

#[test]
fn excitatory_receptors_agree_on_both_paths() {
    let isf_declared = isf_excitatory(&synapse("AMPA_syn"), "receptor AMPA_syn { g: 1 nS }");
    let isf_alias = isf_excitatory(
        "",
        "receptor glutamate { weight_ampa: 1 nS, weight_nmda: 1 nS }",
    );
    let param = param_excitatory("glutamate_syn", r#"{"delay": 0, "weight": [1.0, 1.0]}"#)
        .expect("the .param population reads");
    assert_eq!(isf_declared, Some(true));
    assert_eq!(isf_alias, Some(true));
    assert_eq!(param, Some(true));
}
