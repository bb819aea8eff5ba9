//! Per-compartment biophysics of the conformance cell against the NEURON/ISF reference table
//! (`conformance/discretization/86_C2_center_segments.csv`: every channel density, pas, the
//! calcium pool, ek/ena and cm of all 1,142 compartments), reached two ways:
//! (a) `neuron L5PT = isf_param("…/86_C2_center.param")` and (b) the output of
//! `isf convert` on that file, checked and lowered again. Also: the hand-written example
//! `examples/l5pt_hay.isf` lowers without errors on its SWC cell.

mod common;

use isf::lower::cell::{LoweredCell, build_cell};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

fn conformance_dir() -> PathBuf {
    std::env::var_os("ISF_CONFORMANCE")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/conformance"))
}

/// A fresh temporary directory and its path; the directory is removed when the guard drops.
fn temp_dir() -> (tempfile::TempDir, PathBuf) {
    let t = tempfile::tempdir().expect("temp dir");
    let p = t.path().to_path_buf();
    (t, p)
}

/// Check a script file and lower its only neuron; panics with the rendered diagnostics.
fn lower_script(path: &Path) -> LoweredCell {
    let checked = isf::validate::check_path(path);
    if checked.has_errors() {
        let text: String = checked
            .diagnostics
            .iter()
            .map(|d| isf::diagnostics::render::plain(d, &checked.sources))
            .collect();
        panic!("{} has errors:\n{text}", path.display());
    }
    let n = checked.model.neurons.first().expect("one neuron");
    build_cell(n, &checked.model.mechanisms).unwrap_or_else(|e| panic!("lowering failed: {e:?}"))
}

/// Reference column → (mechanism, isf parameter); `None` for cm/ek/ena.
fn column_target(col: &str) -> Option<(String, String)> {
    let (mech, p) = col.split_once('.')?;
    let p = if p == format!("g{mech}bar") {
        "gbar"
    } else {
        p
    };
    Some((mech.to_string(), p.to_string()))
}

/// Compare every biophysics column (and the distance); prints the maximum relative error
/// per column and panics on any mismatch.
fn compare(cell: &LoweredCell, path_name: &str) {
    let table = conformance_dir().join("discretization/86_C2_center_segments.csv");
    let text = std::fs::read_to_string(&table).expect("segments table");
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().expect("header").split(',').collect();
    let rows: Vec<Vec<&str>> = lines
        .filter(|l| !l.is_empty())
        .map(|l| l.split(',').collect())
        .collect();
    assert_eq!(rows.len(), cell.n_compartments(), "compartment count");
    let idx: HashMap<&str, usize> = header.iter().enumerate().map(|(i, h)| (*h, i)).collect();
    let first_bio = idx["dist_to_soma_um"];
    let mut failures = Vec::new();
    for col in &header[first_bio..] {
        let ci = idx[col];
        let mut max_rel = 0.0f64;
        let mut compared = 0usize;
        for r in &rows {
            let sec: usize = r[0].parse().expect("sec");
            let seg: usize = r[1].parse().expect("seg");
            let want: f64 = r[ci].parse().expect("number");
            let c = cell.seg_offset[sec] + seg;
            let got = match *col {
                // The table measures from soma(0.5); `distance` (ISF's label-origin
                // distance) equals it off the soma and is x·L_soma on it.
                "dist_to_soma_um" if cell.geometry.sections[sec].parent.is_none() => {
                    Some(cell.geometry.sections[sec].seg_dist_um[seg])
                }
                "dist_to_soma_um" => Some(cell.positions.distance_um[c]),
                "cm" => Some(cell.cm_uf_cm2[c]),
                "ek" | "ena" => cell
                    .reversal_mv
                    .get(*col)
                    .map(|v| v[c])
                    .filter(|v| !v.is_nan()),
                _ => {
                    let (m, p) = column_target(col).expect("mechanism column");
                    cell.value(&m, &p, sec, seg)
                }
            };
            match (want.is_nan(), got) {
                (true, None) => {}
                (false, Some(g)) => {
                    let rel = if want == 0.0 {
                        g.abs()
                    } else {
                        ((g - want) / want).abs()
                    };
                    max_rel = max_rel.max(rel);
                    compared += 1;
                    if rel.is_nan() || rel > 1e-9 {
                        failures.push(format!(
                            "{path_name} {col} sec {sec} seg {seg}: got {g}, want {want}"
                        ));
                    }
                }
                (true, Some(g)) => failures.push(format!(
                    "{path_name} {col} sec {sec} seg {seg}: set to {g}, reference has none"
                )),
                (false, None) => failures.push(format!(
                    "{path_name} {col} sec {sec} seg {seg}: missing, want {want}"
                )),
            }
        }
        println!("{path_name}: {col:<24} {compared:>5} compartments, max rel error {max_rel:.3e}");
    }
    let n = failures.len();
    failures.truncate(20);
    assert!(n == 0, "{n} mismatches:\n{}", failures.join("\n"));
}

#[test]
fn isf_param_and_converted_script_match_reference() {
    let dir = conformance_dir();
    let param = dir.join("inputs/86_C2_center.param");
    if !common::skip::require_data("conformance data", &[&param]) {
        return;
    }
    let param = std::fs::canonicalize(&param).expect("canonical path");
    let (_guard, tmp) = temp_dir();

    // (a) isf_param(...) in a script.
    let script = tmp.join("via_param.isf");
    let p = param.display().to_string().replace('\\', "\\\\");
    std::fs::write(&script, format!("neuron L5PT = isf_param(\"{p}\")\n")).expect("write");
    let a = lower_script(&script);
    compare(&a, "isf_param");
    assert_eq!(a.modified_sections.len(), 33, "scale_apical_morph_86");
    // Independent anchors of the other two conventions (conformance README, spec 01 §1.6):
    // the recording label `sec_025_seg_001_x_0.500_somaDist_198.1` (def. 1, from soma(0))
    // and the apical maximum distance 1576.5529 um used by the relative Ih gradient.
    let c = a.seg_offset[25] + 1;
    assert!((a.positions.x[c] - 0.5).abs() < 1e-12);
    let d1 = a.positions.soma_distance_um[c];
    assert!((d1 - 198.1).abs() < 0.05, "somaDist {d1}");
    let apical0 = a.seg_offset[a
        .geometry
        .sections
        .iter()
        .position(|s| s.label == "ApicalDendrite")
        .expect("apical")];
    let dmax = a.positions.max_distance_um[apical0];
    assert!((dmax - 1576.5529).abs() < 5e-5, "apical dmax {dmax}");
    println!("somaDist(sec 25, x 0.5) = {d1:.4} um, apical max distance = {dmax:.4} um");

    // (b) `isf convert -o` and the converted file, checked and lowered again.
    let out = tmp.join("sub/converted.isf");
    std::fs::create_dir_all(out.parent().expect("parent")).expect("mkdir");
    let status = std::process::Command::new(env!("CARGO_BIN_EXE_isf"))
        .args(["convert", &param.display().to_string(), "-o"])
        .arg(&out)
        .status()
        .expect("run isf convert");
    assert!(status.success(), "isf convert failed");
    let text = std::fs::read_to_string(&out).expect("converted file");
    assert!(text.contains("import std.channels.hay2011.*"));
    assert!(
        text.contains("hoc(\"../../"),
        "morphology path is relative to the output: {text}"
    );
    assert!(text.contains("uniform_range(") && text.contains("exponential("));
    let b = lower_script(&out);
    compare(&b, "convert");

    // The geometry after scale_apical_morph_86 is the reference's too (areas).
    let table = dir.join("discretization/86_C2_center_segments.csv");
    let text = std::fs::read_to_string(&table).expect("segments table");
    let mut max_rel = 0.0f64;
    for l in text.lines().skip(1).filter(|l| !l.is_empty()) {
        let r: Vec<&str> = l.split(',').collect();
        let (sec, seg): (usize, usize) = (r[0].parse().unwrap(), r[1].parse().unwrap());
        let want: f64 = r[4].parse().unwrap();
        let got = b.geometry.sections[sec].seg_area_um2[seg];
        max_rel = max_rel.max(((got - want) / want).abs());
    }
    println!("convert: area_um2 max rel error {max_rel:.3e}");
    assert!(max_rel < 1e-9, "areas after cell modification: {max_rel}");
}

#[test]
fn example_l5pt_hay_lowers() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples/l5pt_hay.isf");
    let cell = lower_script(&path);
    let n = cell.n_compartments();
    assert!(n > 33, "{n} compartments");
    // The generated axon is there with its preset discretization.
    let ais: usize = cell
        .regions
        .iter()
        .filter(|r| r.region == "ais")
        .map(|r| r.compartments)
        .sum();
    assert_eq!(ais, 12);
    // Ih increases along the apical dendrite (exponential on relative distance, λ > 0).
    let ih = cell.mechanism("Ih").expect("Ih");
    let gbar = &ih.params.iter().find(|p| p.name == "gbar").unwrap().values;
    let apical: Vec<(f64, f64)> = ih
        .compartments
        .iter()
        .zip(gbar)
        .filter(|(c, _)| {
            let s = ih.section[ih.compartments.binary_search(c).unwrap()];
            cell.geometry.sections[s].label == "ApicalDendrite"
        })
        .map(|(&c, &g)| (cell.positions.distance_um[c], g))
        .collect();
    assert!(apical.len() > 2);
    let far = apical
        .iter()
        .cloned()
        .fold((0.0, 0.0), |a, b| if b.0 > a.0 { b } else { a });
    let near = apical
        .iter()
        .cloned()
        .fold((f64::INFINITY, 0.0), |a, b| if b.0 < a.0 { b } else { a });
    assert!(far.1 > near.1, "Ih grows with distance: {near:?} → {far:?}");
    println!(
        "l5pt_hay.isf: {n} compartments, {} mechanisms",
        cell.mechanisms.len()
    );
}
