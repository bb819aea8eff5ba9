//! `isf morph` and `isf plan --compartments/--sites` show the cell `isf run` simulates:
//! (1) the compartment table of the conformance cell equals NEURON's reference table
//! (`conformance/discretization/86_C2_center_segments.csv`) row by row and column by column;
//! (2) a `.param` with `scale_apical` gives the same areas in `isf morph` as in the run's
//! lowered cell; (3) stimulus and recording sites land where the conformance README says
//! NEURON put them, and where the run puts them; (4) the input errors E0421, E0422, E0814.

mod common;

use isf::run::cellsim::{CellRunner, Stim};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;

fn isf(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_isf"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("run isf");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A fresh temporary directory and its path; the directory is removed when the guard drops.
fn temp_dir() -> (tempfile::TempDir, PathBuf) {
    let t = tempfile::tempdir().expect("temp dir");
    let p = t.path().to_path_buf();
    (t, p)
}

fn s(p: &Path) -> String {
    p.display().to_string()
}

/// A CSV text as (header, rows of cells).
fn csv(text: &str) -> (Vec<String>, Vec<Vec<String>>) {
    let mut lines = text.lines().filter(|l| !l.is_empty());
    let header = lines
        .next()
        .expect("header")
        .split(',')
        .map(str::to_string)
        .collect();
    let rows = lines
        .map(|l| l.split(',').map(str::to_string).collect())
        .collect();
    (header, rows)
}

fn num(s: &str) -> f64 {
    s.parse()
        .unwrap_or_else(|_| panic!("`{s}` is not a number"))
}

/// Relative difference; 0 when both are NaN, infinite when only one is.
fn rel(got: f64, want: f64) -> f64 {
    match (got.is_nan(), want.is_nan()) {
        (true, true) => 0.0,
        (false, false) if got == want => 0.0,
        (false, false) => ((got - want) / want).abs(),
        _ => f64::INFINITY,
    }
}

#[test]
fn plan_compartments_csv_equals_the_neuron_table() {
    let dir = common::skip::conformance_dir();
    let hoc = dir.join("inputs/86_C2_center.hoc");
    let param = dir.join("inputs/86_C2_center.param");
    let table = dir.join("discretization/86_C2_center_segments.csv");
    if !common::skip::require_data("conformance data", &[&hoc, &param, &table]) {
        return;
    }
    compare_with_neuron_table(&[&s(&hoc), "--param", &s(&param)], &table, 1142);
}

/// The template-v2 cell on the second morphology (89_C2, `scale_apical` 1.25, a hot zone with
/// `outsidescale_sections`, CaDynamics_E2_v2): its table is NEURON 9.0.2's, made from the
/// .param by `tests/data/neuron/` (see tests/data/README.md), so the cell, the modification
/// and the section-listed rule are all checked against NEURON without running anything.
#[test]
fn plan_compartments_of_the_template_v2_cell_equal_neuron() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let hoc = root.join("../shared/cells/89_C2.hoc");
    if !common::skip::require_data("the 89_C2 morphology", &[&hoc]) {
        return;
    }
    let data = root.join("tests/data");
    compare_with_neuron_table(
        &[&s(&data.join("89_C2_template_v2.param"))],
        &data.join("89_C2_template_v2_segments.csv"),
        839,
    );
}

/// `isf plan INPUT… --compartments --format csv` against a NEURON segments table, row by row
/// and column by column (columns matched by name).
fn compare_with_neuron_table(input: &[&str], table: &Path, rows: usize) {
    let mut args = vec!["plan"];
    args.extend_from_slice(input);
    args.extend_from_slice(&["--compartments", "--format", "csv"]);
    let (code, out, err) = isf(&args);
    assert_eq!(code, 0, "{err}");
    let (ours_h, ours) = csv(&out);
    let (ref_h, reference) = csv(&std::fs::read_to_string(table).expect("reference table"));
    // The geometry columns come first, in the reference's order.
    assert_eq!(ours_h[..8], ref_h[..8], "leading columns");
    assert_eq!(ours.len(), reference.len(), "compartments");
    assert_eq!(ours.len(), rows);
    let at: HashMap<&str, usize> = ours_h
        .iter()
        .enumerate()
        .map(|(i, h)| (h.as_str(), i))
        .collect();
    let mut failures = Vec::new();
    for (ci, col) in ref_h.iter().enumerate() {
        let Some(&oi) = at.get(col.as_str()) else {
            failures.push(format!("column `{col}` missing"));
            continue;
        };
        // Areas and axial resistances: 1e-9 relative (the bound; measured 0 and
        // 1.6e-16). Every other column is printed with 16–17 significant digits; values
        // copied from the .param agree exactly, computed ones (path distances summed in
        // another order, the exponential Ih gradient, linear SKv3_1) to rounding: 14 digits
        // required, measured at most 2.9e-15 (Ih.gIhbar).
        let tol = match col.as_str() {
            "area_um2" | "ri_Mohm" => 1e-9,
            _ => 1e-14,
        };
        let mut worst = 0.0f64;
        for (r, (o, w)) in ours.iter().zip(&reference).enumerate() {
            if ci < 2 {
                assert_eq!(o[oi], w[ci], "row {r} {col}");
                continue;
            }
            let (g, want) = (num(&o[oi]), num(&w[ci]));
            let e = rel(g, want);
            worst = worst.max(e);
            if e > tol {
                failures.push(format!("row {r} {col}: {g} vs NEURON {want}"));
            }
        }
        if ci >= 2 {
            println!("{col:<28} max rel difference {worst:.3e} (tolerance {tol:.0e})");
        }
    }
    let n = failures.len();
    failures.truncate(20);
    assert!(n == 0, "{n} differences:\n{}", failures.join("\n"));
}

/// A small cell parameter file for the example SWC cell that uses `scale_apical`.
fn scaled_param(dir: &Path, scale: Option<f64>) -> PathBuf {
    let swc = std::fs::canonicalize(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples/cells/l5pt_simple.swc"),
    )
    .expect("example cell");
    let modify = match scale {
        Some(f) => format!("\"cell_modify_functions\": {{\"scale_apical\": {{\"scale\": {f}}}}},"),
        None => String::new(),
    };
    let label = |name: &str, cm: f64| {
        format!(
            "\"{name}\": {{\"properties\": {{\"Ra\": 100.0, \"cm\": {cm}}}, \"mechanisms\": \
             {{\"global\": {{}}, \"range\": {{\"pas\": {{\"spatial\": \"uniform\", \"g\": 3e-05, \
             \"e\": -90}}}}}}}}"
        )
    };
    let text = format!(
        "{{\"info\": {{\"name\": \"scale_apical test\"}},\n \"neuron\": {{\"filename\": \"{}\", {modify}\n {},\n {},\n {}}}}}\n",
        swc.display(),
        label("Soma", 1.0),
        label("Dendrite", 2.0),
        label("ApicalDendrite", 2.0),
    );
    let p = dir.join(if scale.is_some() {
        "scaled.param"
    } else {
        "plain.param"
    });
    std::fs::write(&p, text).expect("write param");
    p
}

/// The areas column of `isf morph --segments --format csv`.
fn morph_areas(args: &[&str]) -> Vec<f64> {
    let mut a = vec!["morph", "--segments", "--format", "csv"];
    a.extend_from_slice(args);
    let (code, out, err) = isf(&a);
    assert_eq!(code, 0, "{err}");
    assert!(!err.contains("not applied"), "{err}");
    let (h, rows) = csv(&out);
    let i = h.iter().position(|c| c == "area_um2").expect("area column");
    rows.iter().map(|r| num(&r[i])).collect()
}

#[test]
fn morph_applies_scale_apical_as_the_run_does() {
    let (_guard, dir) = temp_dir();
    let param = scaled_param(&dir, Some(1.7));
    let plain = scaled_param(&dir, None);
    let swc = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples/cells/l5pt_simple.swc");
    let shown = morph_areas(&[&s(&swc), "--param", &s(&param)]);
    let shown_alone = morph_areas(&[&s(&param)]);
    assert_eq!(shown, shown_alone, "FILE.swc --param P and P alone");

    // The run's cell: the base point of an experiment on `isf_param(…)` of the same file.
    let script = format!(
        "neuron C = isf_param({:?})\nexperiment E {{\n    neuron: C\n    duration: 1 ms\n    \
         record {{ soma.v }}\n}}\n",
        s(&param)
    );
    let checked = isf::validate::check_text("scaled.isf", &script, &dir);
    assert!(!checked.has_errors(), "{:?}", checked.diagnostics);
    let runner = CellRunner::new(&checked.model, &checked.model.experiments[0]).expect("runnable");
    let cell = runner.point_inputs(0).expect("base point").cell.clone();
    let run_areas: Vec<f64> = cell
        .geometry
        .sections
        .iter()
        .flat_map(|s| s.seg_area_um2.iter().copied())
        .collect();
    assert_eq!(shown.len(), run_areas.len(), "compartments");
    let worst = shown
        .iter()
        .zip(&run_areas)
        .map(|(a, b)| rel(*a, *b))
        .fold(0.0, f64::max);
    println!(
        "isf morph vs run, scale_apical 1.7: {} compartments, max rel area difference {worst:.1e}",
        shown.len()
    );
    assert_eq!(worst, 0.0, "isf morph shows the run's areas to the bit");

    // The scaling took effect: apical area grows by about the factor, the rest is unchanged.
    let unscaled = morph_areas(&[&s(&plain)]);
    assert_eq!(unscaled.len(), shown.len(), "scaling never changes nseg");
    let (mut apical, mut apical0, mut other_diff) = (0.0, 0.0, 0.0f64);
    let mut k = 0;
    for sec in &cell.geometry.sections {
        for _ in 0..sec.nseg {
            if sec.label == "ApicalDendrite" {
                apical += shown[k];
                apical0 += unscaled[k];
            } else {
                other_diff = other_diff.max(rel(shown[k], unscaled[k]));
            }
            k += 1;
        }
    }
    println!(
        "apical area {apical0:.1} -> {apical:.1} um2 (ratio {:.4})",
        apical / apical0
    );
    assert!(
        (apical / apical0 - 1.7).abs() < 0.02,
        "{apical} / {apical0}"
    );
    assert_eq!(other_diff, 0.0, "only apical sections change");
}

#[test]
fn plan_sites_land_where_neuron_and_the_run_put_them() {
    let dir = common::skip::conformance_dir();
    let param = dir.join("inputs/86_C2_center.param");
    let landmarks = dir.join("inputs/apical_proximal_distal_rec_sites.landmarkAscii");
    if !common::skip::require_data("conformance data", &[&param, &landmarks]) {
        return;
    }
    let (_guard, tmp) = temp_dir();
    let script = tmp.join("bac.isf");
    std::fs::write(
        &script,
        format!(
            "neuron L5 = isf_param({:?})\n\
             experiment bac {{\n    neuron: L5\n    duration: 400 ms\n    dt: 0.025 ms\n    \
             stimulus pulse {{ at: soma(0.5), amp: 1.9 nA, delay: 295 ms, duration: 5 ms }}\n    \
             stimulus epsp {{ kind: \"epsp\", at: apical_distance(970 um), onset: 300 ms, \
             tau_rise: 1 ms, tau_decay: 5 ms, imax: 0.5 nA }}\n    \
             record {{\n        soma.v\n        sites({:?}).v\n        \
             apical_distance(294.82 um).v\n    }}\n}}\n",
            s(&param),
            s(&landmarks)
        ),
    )
    .expect("write script");
    let (code, out, err) = isf(&["plan", &s(&script), "--sites", "--format", "csv"]);
    assert_eq!(code, 0, "{err}");
    print!("{out}");
    let (h, rows) = csv(&out);
    let col = |name: &str| h.iter().position(|c| c == name).expect(name);
    let row = |name: &str| {
        rows.iter()
            .find(|r| r[col("name")] == name)
            .unwrap_or_else(|| panic!("no site `{name}` in\n{out}"))
    };
    let check = |name: &str, sec: &str, seg: &str, x: f64, seg_x: f64, dist: f64| {
        let r = row(name);
        assert_eq!(r[col("sec_index")], sec, "{name}");
        assert_eq!(r[col("seg_index")], seg, "{name}");
        assert!(
            (num(&r[col("x")]) - x).abs() < 5e-9,
            "{name} x {}",
            r[col("x")]
        );
        assert!((num(&r[col("seg_x")]) - seg_x).abs() < 5e-7, "{name}");
        let d = num(&r[col("seg_dist_to_soma_um")]);
        assert!((d - dist).abs() < 0.005, "{name}: {d} um");
    };
    // The conformance README: the EPSP electrode (S2), the two landmark sites.
    check("epsp", "38", "34", 0.99975085, 0.985714, 949.19);
    let lm = "sites(apical_proximal_distal_rec_sites.landmarkAscii)";
    check(
        &format!("{lm}[0].v"),
        "38",
        "32",
        0.928571428571,
        0.928571,
        909.59,
    );
    check(
        &format!("{lm}[1].v"),
        "20",
        "0",
        0.038461538462,
        0.038462,
        162.54,
    );
    check("soma.v", "0", "0", 0.5, 0.5, 0.0);
    assert_eq!(
        row("apical_distance(294.82 um).v")[col("site")],
        "apical_distance(294.82 um)"
    );

    // The run places the stimuli at the same sites.
    let checked = isf::validate::check_path(&script);
    assert!(!checked.has_errors());
    let runner = CellRunner::new(&checked.model, &checked.model.experiments[0]).expect("runnable");
    let p = runner.point_inputs(0).expect("base point");
    for st in &p.stimuli {
        let (name, site) = match st {
            Stim::Step { site, .. } => ("pulse", site),
            Stim::Epsp { site, .. } => ("epsp", site),
        };
        let r = row(name);
        assert_eq!(r[col("sec_index")], site.section.to_string(), "{name}");
        assert_eq!(num(&r[col("x")]), site.x, "{name}");
    }
    // Table form: the compartments of the neuron, then the sites.
    let (code, out, err) = isf(&["plan", &s(&script), "--compartments"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("compartments of neuron `L5` (1142"), "{out}");
    assert!(out.contains("apical_distance(294.82 um)"), "{out}");
}

#[test]
fn scripts_choose_their_neuron() {
    let (_guard, dir) = temp_dir();
    let swc = std::fs::canonicalize(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples/cells/l5pt_simple.swc"),
    )
    .expect("example cell");
    let two = dir.join("two.isf");
    std::fs::write(
        &two,
        format!(
            "neuron A {{\n    morphology: swc({0:?})\n}}\nneuron B {{\n    morphology: swc({0:?})\n    discretization: fixed(3)\n}}\n",
            s(&swc)
        ),
    )
    .expect("write");
    let (code, _, err) = isf(&["morph", &s(&two)]);
    assert_eq!(code, 1);
    assert!(err.contains("E0421") && err.contains("--neuron"), "{err}");
    let (code, _, err) = isf(&["morph", &s(&two), "--neuron", "C"]);
    assert_eq!(code, 1);
    assert!(err.contains("E0421") && err.contains("A, B"), "{err}");
    let (code, out, err) = isf(&["morph", &s(&two), "--neuron", "B", "--format", "csv"]);
    assert_eq!(code, 0, "{err}");
    let (h, rows) = csv(&out);
    let nseg = h.iter().position(|c| c == "nseg").expect("nseg");
    assert!(rows.iter().all(|r| r[nseg] == "3"), "neuron B: fixed(3)");
    // The example script: its experiments all use one neuron.
    let (code, out, err) = isf(&["plan", "examples/quickstart.isf", "--compartments"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("compartments of neuron `L5PT`"), "{out}");
}

#[test]
fn input_errors_have_codes() {
    let (_guard, dir) = temp_dir();
    let swc = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples/cells/l5pt_simple.swc");
    let param = scaled_param(&dir, Some(1.5));
    // The .param names the example cell; another morphology given as FILE is refused.
    let other = dir.join("other.swc");
    std::fs::copy(&swc, &other).expect("copy");
    let (code, _, err) = isf(&["morph", &s(&other), "--param", &s(&param)]);
    assert_eq!(code, 1);
    assert!(
        err.contains("E0814") && err.contains("neuron.filename"),
        "{err}"
    );
    let (code, _, err) = isf(&["plan", &s(&other), "--param", &s(&param)]);
    assert_eq!(code, 1, "the model of another morphology is refused too");
    assert!(err.contains("E0814"), "{err}");
    let (code, _, err) = isf(&["plan", "examples/quickstart.isf", "--param", &s(&param)]);
    assert_eq!(code, 1);
    assert!(err.contains("E0422"), "{err}");
    let (code, _, err) = isf(&["morph", &s(&swc), "--neuron", "X"]);
    assert_eq!(code, 1);
    assert!(err.contains("E0422"), "{err}");
    let (code, _, err) = isf(&["morph", "README.md"]);
    assert_eq!(code, 1);
    assert!(err.contains("E0422"), "{err}");
    let (code, _, err) = isf(&[
        "plan",
        "examples/quickstart.isf",
        "--compartments",
        "--sites",
        "--format",
        "csv",
    ]);
    assert_eq!(code, 1);
    assert!(err.contains("E0422"), "{err}");
    // Usage errors stay clap's (exit 2).
    let (code, _, _) = isf(&["plan", "examples/quickstart.isf", "--format", "csv"]);
    assert_eq!(code, 2, "--format needs a table to format");
}
