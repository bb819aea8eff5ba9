//! `isf convert` / `isf_param(…)`: every ISF spatial rule lowers to the value of ISF's own
//! formula (spec 02 §2.5) with the right distance convention, and unknown or unsupported keys
//! are errors with E08xx codes.

mod common;

use isf::diagnostics::Code;
use isf::interop::cell_param::convert_file;
use isf::lower::cell::{LoweredCell, build_cell};
use std::path::{Path, PathBuf};

/// A fresh temporary directory and its path; the directory is removed when the guard drops.
fn temp_dir() -> (tempfile::TempDir, PathBuf) {
    let t = tempfile::tempdir().expect("temp dir");
    let p = t.path().to_path_buf();
    (t, p)
}

fn swc() -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("examples/cells/l5pt_simple.swc")
        .display()
        .to_string()
}

/// A cell parameter file around `labels` (the `neuron` entries after `filename`).
fn param(dir: &Path, name: &str, labels: &str, top: &str) -> PathBuf {
    let text = format!(
        "{{ {top} \"neuron\": {{ \"filename\": \"{}\", {labels} }} }}",
        swc()
    );
    let p = dir.join(name);
    std::fs::write(&p, text).expect("write param");
    p
}

fn lower(p: &Path) -> LoweredCell {
    let script = p.with_extension("isf");
    std::fs::write(
        &script,
        format!("neuron C = isf_param(\"{}\")\n", p.display()),
    )
    .expect("write script");
    let checked = isf::validate::check_path(&script);
    let text: String = checked
        .diagnostics
        .iter()
        .map(|d| isf::diagnostics::render::plain(d, &checked.sources))
        .collect();
    assert!(!checked.has_errors(), "{text}");
    build_cell(&checked.model.neurons[0], &checked.model.mechanisms).expect("lowers")
}

/// (compartment, value) of `mech.param` over the compartments of sections labelled `label`.
fn values(cell: &LoweredCell, mech: &str, param: &str, label: &str) -> Vec<(usize, f64)> {
    let m = cell.mechanism(mech).expect("mechanism inserted");
    let col = &m
        .params
        .iter()
        .find(|p| p.name == param)
        .expect("param")
        .values;
    m.compartments
        .iter()
        .zip(&m.section)
        .zip(col)
        .filter(|((_, s), _)| cell.geometry.sections[**s].label == label)
        .map(|((c, _), v)| (*c, *v))
        .collect()
}

fn close(got: f64, want: f64, what: &str) {
    let rel = if want == 0.0 {
        got.abs()
    } else {
        ((got - want) / want).abs()
    };
    assert!(rel < 1e-12, "{what}: got {got}, want {want}");
}

#[test]
fn every_spatial_rule_matches_isf_formula() {
    let (_guard, dir) = temp_dir();
    let labels = r#"
        "Soma": { "properties": {"Ra": 100.0, "cm": 1.0},
          "mechanisms": {"global": {}, "range": {
            "Nap_Et2": {"spatial": "exponential", "distance": "absolute", "gNap_Et2bar": 0.002,
                        "offset": 0.5, "linScale": 1.0, "_lambda": 0.05, "xOffset": 3.0}
          }}},
        "Dendrite": { "properties": {"Ra": 100.0, "cm": 2.0},
          "mechanisms": {"range": {
            "K_Pst": {"spatial": "exponential_by_z_dist", "distance": "absolute", "gK_Pstbar": 0.01,
                      "offset": 0.2, "linScale": 1.0, "_lambda": -2.0, "xOffset": 0.1}
          }}},
        "ApicalDendrite": { "properties": {"Ra": 100.0, "cm": 2.0, "ions": {"ek": -85.0}},
          "mechanisms": {"range": {
            "Ih": {"spatial": "linear", "distance": "relative", "gIhbar": 0.0001,
                   "slope": 2.0, "offset": 0.5},
            "Im": {"spatial": "linear_capped", "distance": "absolute", "param_name": "gImbar",
                   "prox_value": 0.0001, "dist_value": 0.0005, "dist_value_distance": 300.0},
            "NaTa_t": {"spatial": "exponential_by_z_dist", "distance": "absolute", "gNaTa_tbar": 0.03,
                       "offset": 0.1, "linScale": 1.0, "_lambda": -2.0, "xOffset": 0.5},
            "SKv3_1": {"spatial": "capped_exponential", "distance": "absolute", "gSKv3_1bar": 0.01,
                       "offset": 0.0, "linScale": 1.0, "_lambda": 0.004, "xOffset": 100.0, "max_g": 0.02},
            "SK_E2": {"spatial": "sigmoid", "distance": "relative", "gSK_E2bar": 0.003,
                      "offset": 0.1, "linScale": 2.0, "xOffset": 0.5, "width": 0.1},
            "Ca_HVA": {"spatial": "uniform_range", "gCa_HVAbar": 0.004, "begin": 200.0,
                       "end": 400.0, "outsidescale": 0.1, "outsidescale_sections": []}
          }}}
    "#;
    let p = param(&dir, "rules.param", labels, "");
    let cell = lower(&p);
    let pos = &cell.positions;
    // Soma: def. 2 on the soma is measured from soma(0).
    for (c, v) in values(&cell, "Nap_Et2", "gbar", "Soma") {
        let d = pos.distance_um[c];
        close(d, pos.soma_distance_um[c], "soma distance is from soma(0)");
        close(v, 0.002 * (0.5 + (0.05 * (d - 3.0)).exp()), "exponential");
    }
    // Basal dendrites: exponential_by_z_dist falls back to def. 2, in mm.
    let dend = values(&cell, "K_Pst", "gbar", "Dendrite");
    assert!(!dend.is_empty());
    for (c, v) in dend {
        let d = pos.distance_um[c] / 1000.0;
        close(
            v,
            0.01 * (0.2 + (-2.0 * (d - 0.1)).exp()),
            "by_z_dist (basal)",
        );
    }
    let apical = values(&cell, "Ih", "gbar", "ApicalDendrite");
    assert!(apical.len() > 10);
    for (c, v) in apical {
        // linear: def. 1 distance divided by the def.-2 maximum.
        let d = pos.soma_distance_um[c] / pos.max_distance_um[c];
        close(v, (0.0001 * (2.0 * d + 1.0)).max(0.0001 * 0.5), "linear");
        assert!(pos.soma_distance_um[c] > pos.distance_um[c]);
    }
    for (c, v) in values(&cell, "Im", "gbar", "ApicalDendrite") {
        let d = pos.soma_distance_um[c];
        let want = if d >= 300.0 {
            0.0005
        } else {
            0.0001 + (0.0005 - 0.0001) * d / 300.0
        };
        close(v, want, "linear_capped");
    }
    for (c, v) in values(&cell, "NaTa_t", "gbar", "ApicalDendrite") {
        let z = pos.z_distance_um[c] / 1000.0;
        close(
            v,
            0.03 * (0.1 + (-2.0 * (z - 0.5)).exp()),
            "by_z_dist (apical)",
        );
    }
    let mut capped = 0;
    for (c, v) in values(&cell, "SKv3_1", "gbar", "ApicalDendrite") {
        let d = pos.distance_um[c];
        let want = (0.01 * (0.004 * (d - 100.0)).exp()).min(0.02);
        capped += usize::from(want == 0.02);
        close(v, want, "capped_exponential");
    }
    for (c, v) in values(&cell, "SK_E2", "gbar", "ApicalDendrite") {
        let d = pos.distance_um[c] / pos.max_distance_um[c];
        close(
            v,
            0.003 * (0.1 + 2.0 / (1.0 + ((d - 0.5) / 0.1).exp())),
            "sigmoid",
        );
    }
    let mut inside = 0;
    for (c, v) in values(&cell, "Ca_HVA", "gbar", "ApicalDendrite") {
        let d = pos.distance_um[c];
        let ins = (200.0..=400.0).contains(&d);
        inside += usize::from(ins);
        close(v, if ins { 0.004 } else { 0.0004 }, "uniform_range");
    }
    assert!(inside > 0 && capped > 0, "inside {inside}, capped {capped}");
}

fn codes(p: &Path) -> Vec<(Code, String)> {
    match convert_file(p, p.parent().expect("dir"), "C") {
        Ok(t) => panic!("expected errors, got:\n{t}"),
        Err(es) => es.into_iter().map(|e| (e.code, e.message)).collect(),
    }
}

#[test]
fn unknown_and_unsupported_keys_are_errors() {
    let (_guard, dir) = temp_dir();
    let ok_soma = r#""Soma": {"properties": {"Ra": 100.0, "cm": 1.0}, "mechanisms": {"range": {"pas": {"spatial": "uniform", "g": 1e-5, "e": -70.0}}}}"#;
    let cases: &[(&str, &str, Code, &str)] = &[
        (
            ok_soma,
            r#""bogus": 1,"#,
            Code::E0803,
            "unknown key `bogus`",
        ),
        (
            ok_soma,
            r#""mech_globals": {"Ih": {"x": 1.0}},"#,
            Code::E0803,
            "mech_globals",
        ),
        (
            ok_soma,
            r#""sim": {"Vinit": -75.0, "speed": 2.0},"#,
            Code::E0803,
            "`speed`",
        ),
        (
            r#""Soma": {"properties": {"Ra": 100.0, "spines": {"density": 1.0, "area": 1.0}}}"#,
            "",
            Code::E0803,
            "spines",
        ),
        (
            r#""Soma": {"mechanisms": {"range": {"pas": {"spatial": "wavy", "g": 1e-5}}}}"#,
            "",
            Code::E0803,
            "unknown spatial rule",
        ),
        (
            r#""Soma": {"mechanisms": {"range": {"Ih": {"spatial": "exponential", "gIhbar": 1e-5, "offset": 0.0, "linScale": 1.0, "_lambda": 1.0, "xOffset": 0.0}}}}"#,
            "",
            Code::E0804,
            "needs `distance`",
        ),
        (
            r#""Soma": {"mechanisms": {"range": {"ca_ion": {"spatial": "uniform", "cao0": 2.0}}}}"#,
            "",
            Code::E0803,
            "ion mechanism",
        ),
        (
            r#""Soma": {"mechanisms": {"range": {"Ih": {"spatial": "uniform", "gbar": 1e-5}}}}"#,
            "",
            Code::E0803,
            "has no parameter `gbar`",
        ),
        (
            r#""Soma": {"mechanisms": {"range": {"Kv9": {"spatial": "uniform", "gKv9bar": 1e-5}}}}"#,
            "",
            Code::E0811,
            "unknown mechanism `Kv9`",
        ),
        (
            r#""Dendrite": {"mechanisms": {"range": {"Ca_HVA": {"spatial": "uniform_range", "gCa_HVAbar": 1e-5, "begin": 1.0, "end": 2.0, "outsidescale": 0.1, "outsidescale_sections": "3"}}}}"#,
            "",
            Code::E0802,
            "`outsidescale_sections` must be a list",
        ),
        (
            r#""Soma": {}, "cell_modify_functions": {"soma_current_injection": {"amplitude": 1.0}}"#,
            "",
            Code::E0803,
            "stimuli",
        ),
        (
            r#""Cerebellum": {}"#,
            "",
            Code::E0803,
            "unknown key `Cerebellum`",
        ),
    ];
    for (i, (labels, top, code, msg)) in cases.iter().enumerate() {
        let p = param(&dir, &format!("e{i}.param"), labels, top);
        let got = codes(&p);
        assert!(
            got.iter().any(|(c, m)| c == code && m.contains(msg)),
            "case {i}: want {code:?} `{msg}`, got {got:?}"
        );
    }
    // Through a script: the error is reported at the isf_param call with the file location.
    let p = param(&dir, "bad.param", r#""Soma": {"stuff": 1}"#, "");
    let script = dir.join("bad.isf");
    std::fs::write(&script, "neuron C = isf_param(\"bad.param\")\n").expect("write");
    let checked = isf::validate::check_path(&script);
    let d = checked
        .diagnostics
        .iter()
        .find(|d| d.code == Code::E0803)
        .expect("E0803");
    assert!(d.primary_span().is_some() && d.message.contains("bad.param:1:"));
    drop(p);
}

#[test]
fn missing_label_and_negative_density_through_isf_param() {
    let (_guard, dir) = temp_dir();
    // The SWC cell has no `Node` section: a label the morphology lacks is an error.
    let p = param(
        &dir,
        "node.param",
        r#""Node": {"properties": {"Ra": 100.0}}"#,
        "",
    );
    let script = dir.join("node.isf");
    std::fs::write(
        &script,
        format!("neuron C = isf_param(\"{}\")\n", p.display()),
    )
    .expect("w");
    let checked = isf::validate::check_path(&script);
    assert!(
        checked.diagnostics.iter().any(|d| d.code == Code::E0413),
        "{:?}",
        checked.diagnostics
    );
    // A linear rule with a negative slope goes below zero far from the soma.
    let p = param(
        &dir,
        "neg.param",
        r#""ApicalDendrite": {"mechanisms": {"range": {"Ih": {"spatial": "linear", "distance": "absolute", "gIhbar": 1e-4, "slope": -0.01, "offset": -1.0}}}}"#,
        "",
    );
    let script = dir.join("neg.isf");
    std::fs::write(
        &script,
        format!("neuron C = isf_param(\"{}\")\n", p.display()),
    )
    .expect("w");
    let checked = isf::validate::check_path(&script);
    let d = checked
        .diagnostics
        .iter()
        .find(|d| d.code == Code::E0414)
        .expect("E0414");
    assert!(
        d.message.contains("is negative in section"),
        "{}",
        d.message
    );
}

/// `isf convert network.param -o DIR/net.isf`: the written network checks clean from its own
/// directory (anatomy paths relative to the output) and lowers to the same typed network as
/// `isf_network_param`.
#[test]
fn network_param_converts_through_the_cli() {
    let inputs = std::env::var_os("ISF_CONFORMANCE")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/conformance"))
        .join("inputs");
    let param = inputs.join("network.param");
    if !common::skip::require_data("conformance data", &[&param]) {
        return;
    }
    let (_guard, dir) = temp_dir();
    let dir = dir.join("sub");
    std::fs::create_dir_all(&dir).unwrap();
    let out = dir.join("net.isf");
    let st = std::process::Command::new(env!("CARGO_BIN_EXE_isf"))
        .args([
            "convert",
            param.to_str().unwrap(),
            "-o",
            out.to_str().unwrap(),
        ])
        .args(["--name", "C2"])
        .status()
        .unwrap();
    assert!(st.success());
    let text = std::fs::read_to_string(&out).unwrap();
    assert!(
        text.contains("network C2 {"),
        "{}",
        &text[..200.min(text.len())]
    );
    let checked = isf::validate::check_text("net.isf", &text, &dir);
    assert!(
        checked.diagnostics.is_empty(),
        "{:?}",
        checked.diagnostics.iter().take(3).collect::<Vec<_>>()
    );
    let mut a = isf::network::lower::from_model(&checked.model.networks[0]).unwrap();
    let mut b = isf::interop::network_param::isf_network_param(&param).unwrap();
    for n in [&mut a, &mut b] {
        n.name.clear();
        for p in &mut n.populations {
            for r in &mut p.receptors {
                r.parameters.sort_by(|x, y| x.0.cmp(&y.0));
            }
            if let isf::network::SynapseSource::Anatomy { syn, con } = &mut p.synapses {
                *syn = std::fs::canonicalize(&*syn).unwrap();
                *con = std::fs::canonicalize(&*con).unwrap();
            }
        }
    }
    assert_eq!(a.populations.len(), b.populations.len());
    assert_eq!(a, b);
}
