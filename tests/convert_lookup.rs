//! Issue 13 parts of `isf convert` / `isf_param(…)`: mechanism names resolve in the script and
//! its imports first, then the stdlib (an unknown name lists every place looked in); the
//! section-index rules (`section`, `uniform_range(…, outside_sections: […])`, ISF's
//! `outsidescale_sections`); network names from file stems that are never keywords; and every
//! conformance input converts and checks clean.

mod common;

use isf::diagnostics::Code;
use isf::lower::cell::{LoweredCell, build_cell};
use std::path::{Path, PathBuf};
use std::process::Command;

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

/// A cell parameter file with an `ApicalDendrite` entry holding `range` (and a plain soma).
fn param(dir: &Path, name: &str, range: &str) -> PathBuf {
    let text = format!(
        r#"{{ "neuron": {{ "filename": "{}",
            "Soma": {{ "properties": {{"Ra": 100.0, "cm": 1.0}},
                      "mechanisms": {{"range": {{"pas": {{"spatial": "uniform", "g": 3e-5, "e": -90}}}}}} }},
            "ApicalDendrite": {{ "properties": {{"Ra": 100.0, "cm": 2.0, "ions": {{"ek": -85.0, "ena": 50.0}}}},
                      "mechanisms": {{"range": {{ {range} }}}} }} }} }}"#,
        swc()
    );
    let p = dir.join(name);
    std::fs::write(&p, text).expect("write param");
    p
}

fn rendered(checked: &isf::sema::Checked) -> String {
    checked
        .diagnostics
        .iter()
        .map(|d| isf::diagnostics::render::plain(d, &checked.sources))
        .collect()
}

fn check(dir: &Path, name: &str, script: &str) -> isf::sema::Checked {
    let p = dir.join(name);
    std::fs::write(&p, script).expect("write script");
    isf::validate::check_path(&p)
}

fn lowered(checked: &isf::sema::Checked) -> LoweredCell {
    assert!(!checked.has_errors(), "{}", rendered(checked));
    build_cell(&checked.model.neurons[0], &checked.model.mechanisms).expect("lowers")
}

/// Values of `mech.param` per compartment of sections labelled `label`, with the section.
fn values(cell: &LoweredCell, mech: &str, param: &str, label: &str) -> Vec<(usize, usize, f64)> {
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
        .map(|((c, s), v)| (*c, *s, *v))
        .collect()
}

const MY_CHANNEL: &str = "
mechanism MyKd : density {
    ion k { reads: ek, writes: ik }
    parameter gbar: S/cm2 = 0.001 S/cm2
    parameter vhalf: mV = -20 mV
    state n
    gate n {
        inf: 1 / (1 + exp(-(v - vhalf) / 8 mV))
        tau: 4 ms
    }
    current ik = gbar * n * (v - ek)
}
";

#[test]
fn script_mechanisms_are_found_before_the_stdlib() {
    let (_guard, dir) = temp_dir();
    param(
        &dir,
        "c.param",
        r#""MyKd": {"spatial": "uniform", "gMyKdbar": 0.002, "vhalf": -25.0},
           "pas": {"spatial": "uniform", "g": 5e-5, "e": -80.0},
           "CaDynamics_E2_v2": {"spatial": "uniform", "decay": 120.0, "gamma": 0.0006}"#,
    );
    // The script declares MyKd and its own `pas` (default e = -65 mV); the stdlib has a `pas`
    // too: the script's wins, and CaDynamics_E2_v2 comes from std.channels.isf_extra.
    let script = format!(
        "{MY_CHANNEL}
mechanism pas : density {{
    parameter g: S/cm2 = 0.0001 S/cm2
    parameter e: mV = -65 mV
    parameter scale: 1 = 1
    current i = scale * g * (v - e)
}}
neuron C = isf_param(\"c.param\")
"
    );
    let checked = check(&dir, "cell.isf", &script);
    assert!(
        !checked
            .diagnostics
            .iter()
            .any(|d| d.code.as_str().starts_with('W')),
        "no unused-declaration warning for mechanisms the parameter file uses:\n{}",
        rendered(&checked)
    );
    let cell = lowered(&checked);
    for (_, _, v) in values(&cell, "MyKd", "vhalf", "ApicalDendrite") {
        assert_eq!(v, -25.0);
    }
    for (_, _, v) in values(&cell, "MyKd", "gbar", "ApicalDendrite") {
        assert_eq!(v, 0.002);
    }
    // Only the script's pas has `scale`.
    let pas = cell.mechanism("pas").expect("pas");
    assert!(
        pas.params.iter().any(|p| p.name == "scale"),
        "the script's pas is used"
    );
    let origin = |name: &str| {
        checked
            .model
            .mechanisms
            .iter()
            .find(|m| m.name == name)
            .map(|m| m.origin.clone())
            .unwrap_or_default()
    };
    assert!(origin("pas").contains("cell.isf"), "{}", origin("pas"));
    assert!(
        origin("CaDynamics_E2_v2").contains("isf_extra"),
        "{}",
        origin("CaDynamics_E2_v2")
    );
}

#[test]
fn an_imported_mechanism_is_found_too() {
    let (_guard, dir) = temp_dir();
    std::fs::write(dir.join("channels.isf"), MY_CHANNEL).unwrap();
    param(
        &dir,
        "c.param",
        r#""MyKd": {"spatial": "uniform", "gMyKdbar": 0.003}"#,
    );
    let checked = check(
        &dir,
        "cell.isf",
        "import \"channels.isf\"\nneuron C = isf_param(\"c.param\")\n",
    );
    let cell = lowered(&checked);
    let v = values(&cell, "MyKd", "gbar", "ApicalDendrite");
    assert!(!v.is_empty() && v.iter().all(|x| x.2 == 0.003));
}

#[test]
fn an_unknown_mechanism_names_every_place_looked_in() {
    let (_guard, dir) = temp_dir();
    param(
        &dir,
        "c.param",
        r#""NoSuchChannel": {"spatial": "uniform", "gbar": 1.0}"#,
    );
    let checked = check(
        &dir,
        "cell.isf",
        &format!("{MY_CHANNEL}\nneuron C = isf_param(\"c.param\")\n"),
    );
    let d = checked
        .diagnostics
        .iter()
        .find(|d| d.code == Code::E0811)
        .unwrap_or_else(|| panic!("E0811 expected:\n{}", rendered(&checked)));
    for place in [
        "cell.isf and its imports (MyKd)",
        "std.channels.hay2011 (",
        "std.channels.isf_extra (CaDynamics_E2_v2, NaTg)",
    ] {
        assert!(
            d.message.contains(place),
            "{place} missing in: {}",
            d.message
        );
    }
    // The same through the CLI: the stdlib modules are named.
    let out = Command::new(env!("CARGO_BIN_EXE_isf"))
        .args(["convert", dir.join("c.param").to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("E0811")
            && err.contains("std.channels.hay2011")
            && err.contains("std.channels.isf_extra"),
        "{err}"
    );
}

#[test]
fn convert_import_puts_a_files_mechanisms_first() {
    let (_guard, dir) = temp_dir();
    std::fs::create_dir_all(dir.join("mechs")).unwrap();
    std::fs::write(dir.join("mechs/channels.isf"), MY_CHANNEL).unwrap();
    let p = param(
        &dir,
        "c.param",
        r#""MyKd": {"spatial": "uniform", "gMyKdbar": 0.002},
           "NaTg": {"spatial": "uniform", "gNaTgbar": 0.01, "vshiftm": 3.0, "slopem": 7.0}"#,
    );
    let out_file = dir.join("out/cell.isf");
    std::fs::create_dir_all(dir.join("out")).unwrap();
    let run = |extra: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_isf"))
            .arg("convert")
            .arg(&p)
            .args(extra)
            .output()
            .unwrap()
    };
    let o = run(&[
        "--import",
        dir.join("mechs/channels.isf").to_str().unwrap(),
        "-o",
        out_file.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let text = std::fs::read_to_string(&out_file).unwrap();
    assert!(text.contains("import \"../mechs/channels.isf\""), "{text}");
    assert!(text.contains("import std.channels.isf_extra.*"), "{text}");
    assert!(
        text.contains("NaTg { gbar: 0.01 S/cm2, vshiftm: 3 mV, slopem: 7 mV }"),
        "{text}"
    );
    let checked = isf::validate::check_path(&out_file);
    assert!(checked.diagnostics.is_empty(), "{}", rendered(&checked));
    // Without --import the name is unknown; a file that is not .isf is E0813.
    let o = run(&[]);
    assert!(String::from_utf8_lossy(&o.stderr).contains("E0811"));
    let o = run(&["--import", p.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("E0813"));
}

/// ISF's uniform_range with `outsidescale_sections` (spec 02 §2.5): outside value on the
/// listed sections whatever their distance; else the full value within [begin, end]; else
/// the outside value. Converted literally and lowered to exactly that.
#[test]
fn outsidescale_sections_convert_and_lower_to_isfs_rule() {
    let (_guard, dir) = temp_dir();
    // Find apical sections with compartments inside 100-300 um to list.
    let probe = param(
        &dir,
        "probe.param",
        r#""Ca_HVA": {"spatial": "uniform_range", "gCa_HVAbar": 0.004, "begin": 100.0, "end": 300.0, "outsidescale": 0.1}"#,
    );
    let cell = lowered(&check(
        &dir,
        "probe.isf",
        &format!("neuron C = isf_param(\"{}\")\n", probe.display()),
    ));
    let mut inside_secs: Vec<usize> = values(&cell, "Ca_HVA", "gbar", "ApicalDendrite")
        .iter()
        .filter(|x| x.2 == 0.004)
        .map(|x| x.1)
        .collect();
    inside_secs.dedup();
    assert!(inside_secs.len() >= 2, "{inside_secs:?}");
    let listed = [inside_secs[0], inside_secs[inside_secs.len() - 1]];
    let p = param(
        &dir,
        "hot.param",
        &format!(
            r#""Ca_HVA": {{"spatial": "uniform_range", "gCa_HVAbar": 0.004, "begin": 100.0, "end": 300.0,
                           "outsidescale": 0.1, "outsidescale_sections": [{}, {}]}}"#,
            listed[0], listed[1]
        ),
    );
    let text = isf::interop::cell_param::convert_file(&p, &dir, "Hot").expect("converts");
    let want = format!(
        "Ca_HVA {{ gbar: uniform_range(0.004 S/cm2, from: 100 um, to: 300 um, outside: 0.1, outside_sections: [{}, {}]) }}",
        listed[0], listed[1]
    );
    assert!(text.contains(&want), "{text}");
    let cell = lowered(&check(
        &dir,
        "hot.isf",
        &format!("neuron C = isf_param(\"{}\")\n", p.display()),
    ));
    let (mut on_listed, mut inside) = (0, 0);
    for (c, s, v) in values(&cell, "Ca_HVA", "gbar", "ApicalDendrite") {
        let d = cell.positions.distance_um[c];
        let want = if listed.contains(&s) {
            on_listed += 1;
            0.004 * 0.1
        } else if (100.0..=300.0).contains(&d) {
            inside += 1;
            0.004
        } else {
            0.004 * 0.1
        };
        assert_eq!(v, want, "section {s}, distance {d}");
    }
    assert!(on_listed > 0 && inside > 0, "{on_listed} {inside}");
    // A listed section the morphology does not have is E0419 (located in the script).
    let n_sec = cell.geometry.sections.len();
    let bad = param(
        &dir,
        "bad.param",
        &format!(
            r#""Ca_HVA": {{"spatial": "uniform_range", "gCa_HVAbar": 0.004, "begin": 100.0, "end": 300.0,
                           "outsidescale": 0.1, "outsidescale_sections": [{n_sec}]}}"#
        ),
    );
    let checked = check(
        &dir,
        "bad.isf",
        &format!("neuron C = isf_param(\"{}\")\n", bad.display()),
    );
    assert!(
        checked.diagnostics.iter().any(|d| d.code == Code::E0419),
        "{}",
        rendered(&checked)
    );
    // Not a list of whole numbers: E0802 from the converter.
    let bad = param(
        &dir,
        "bad2.param",
        r#""Ca_HVA": {"spatial": "uniform_range", "gCa_HVAbar": 0.004, "begin": 100.0, "end": 300.0,
                      "outsidescale": 0.1, "outsidescale_sections": [2.5]}"#,
    );
    let errs = isf::interop::cell_param::convert_file(&bad, &dir, "B").expect_err("rejected");
    assert!(errs.iter().any(|e| e.code == Code::E0802), "{errs:?}");
}

/// The `section` position variable: a rule written by section index applies to exactly
/// those sections.
#[test]
fn section_index_position_variable() {
    let (_guard, dir) = temp_dir();
    let script = |pick: &str| {
        format!(
            "import std.channels.hay2011.*
neuron C {{
    morphology: swc(\"{}\")
    apical_dendrite {{
        pas {{ g: if {pick} then 1e-4 S/cm2 else 3e-5 S/cm2, e: -90 mV }}
        Ih {{ gbar: 1e-5 S/cm2 * (1 + section) }}
    }}
}}
",
            swc()
        )
    };
    // Which sections are apical: from a first lowering.
    let probe = lowered(&check(&dir, "probe.isf", &script("false")));
    let mut apical: Vec<usize> = values(&probe, "pas", "g", "ApicalDendrite")
        .iter()
        .map(|x| x.1)
        .collect();
    apical.dedup();
    assert!(apical.len() >= 4, "{apical:?}");
    let (a, b) = (apical[1], apical[apical.len() - 2]);
    let cell = lowered(&check(
        &dir,
        "s.isf",
        &script(&format!("section == {a} or {b} == section")),
    ));
    let g = values(&cell, "pas", "g", "ApicalDendrite");
    let mut hit = 0;
    for (c, s, v) in g {
        assert_eq!(cell.positions.section[c], s as f64);
        hit += usize::from(s == a || s == b);
        let want = if s == a || s == b { 1e-4 } else { 3e-5 };
        assert!(((v - want) / want).abs() < 1e-12, "section {s}: {v}");
    }
    assert!(hit >= 2);
    for (_, s, v) in values(&cell, "Ih", "gbar", "ApicalDendrite") {
        assert!((v - 1e-5 * (1.0 + s as f64)).abs() < 1e-18);
    }
}

#[test]
fn network_names_are_identifiers_and_never_keywords() {
    use isf::interop::cell_param::{identifier_for, identifier_problem};
    assert_eq!(
        identifier_for(Path::new("x/network.param"), "net"),
        "Network"
    );
    assert_eq!(identifier_for(Path::new("neuron.param"), "cell"), "Neuron");
    assert_eq!(
        identifier_for(Path::new("86_C2 center.param"), "cell"),
        "cell_86_C2_center"
    );
    assert_eq!(
        identifier_for(Path::new("C2-net.v2.param"), "net"),
        "C2_net_v2"
    );
    assert_eq!(identifier_for(Path::new(".param"), "net"), "_param");
    assert_eq!(identifier_for(Path::new("in.param"), "net"), "In");
    assert!(identifier_problem("network").is_some());
    assert!(identifier_problem("2net").is_some());
    assert!(identifier_problem("a-b").is_some());
    assert!(identifier_problem("C2").is_none());
    let (_guard, dir) = temp_dir();
    std::fs::write(dir.join("network.param"), "{\"network\": {}}").unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_isf"))
        .args(["convert", dir.join("network.param").to_str().unwrap()])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success() && text.contains("network Network {"),
        "{text}{}",
        String::from_utf8_lossy(&o.stderr)
    );
    for bad in ["network", "9lives", "a b"] {
        let o = Command::new(env!("CARGO_BIN_EXE_isf"))
            .args([
                "convert",
                dir.join("network.param").to_str().unwrap(),
                "--name",
                bad,
            ])
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(1), "{bad}");
        assert!(
            String::from_utf8_lossy(&o.stderr).contains("E0812"),
            "{bad}"
        );
    }
}

/// Every conformance input `.param` (cell and network) converts with default names, and the
/// output checks without any diagnostic from the directory it was written to.
#[test]
fn every_conformance_input_converts_and_checks_clean() {
    let inputs = common::skip::conformance_dir().join("inputs");
    if !common::skip::require_data("conformance inputs", &[&inputs.join("86_C2_center.param")]) {
        return;
    }
    let mut params: Vec<PathBuf> = std::fs::read_dir(&inputs)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "param"))
        .collect();
    params.sort();
    assert!(params.len() >= 2, "{params:?}");
    let (_guard, dir) = temp_dir();
    for p in &params {
        let out = dir.join(p.with_extension("isf").file_name().unwrap());
        let o = Command::new(env!("CARGO_BIN_EXE_isf"))
            .args(["convert", p.to_str().unwrap(), "-o", out.to_str().unwrap()])
            .output()
            .unwrap();
        assert!(
            o.status.success(),
            "{}: {}",
            p.display(),
            String::from_utf8_lossy(&o.stderr)
        );
        let o = Command::new(env!("CARGO_BIN_EXE_isf"))
            .args(["check", out.to_str().unwrap()])
            .output()
            .unwrap();
        let all = format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
        assert!(o.status.success(), "{}: {all}", out.display());
        let checked = isf::validate::check_path(&out);
        assert!(
            checked.diagnostics.is_empty(),
            "{}: {}",
            out.display(),
            rendered(&checked)
        );
        eprintln!("converted and checked clean: {}", p.display());
    }
}
