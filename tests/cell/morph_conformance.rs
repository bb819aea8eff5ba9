//! Conformance of the morphology pipeline with NEURON/ISF reference tables
//! (`conformance/discretization/86_C2_center_{sections,segments}.csv`), plus invariants on a
//! second reconstructed cell and on the embedded example SWC cell.

use crate::common;

use isf::interop::formats::param::{cell_params, read_param_file};
use isf::morph::{
    Discretization, Label, LabelPassive, Morphology, discretize, geometry, hoc, modify, swc,
};
use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Instant;

/// `$ISF_CONFORMANCE`, or `../shared/conformance` next to the crate.
fn conformance_dir() -> PathBuf {
    std::env::var_os("ISF_CONFORMANCE")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/conformance"))
}

/// A CSV file as header → column index and rows of strings (the tables contain no quotes).
fn read_csv(path: &std::path::Path) -> (HashMap<String, usize>, Vec<Vec<String>>) {
    let text = std::fs::read_to_string(path).expect("reference table readable");
    let mut lines = text.lines();
    let header = lines
        .next()
        .expect("header")
        .split(',')
        .enumerate()
        .map(|(i, h)| (h.to_string(), i))
        .collect();
    let rows = lines
        .filter(|l| !l.is_empty())
        .map(|l| l.split(',').map(str::to_string).collect())
        .collect();
    (header, rows)
}

fn f(s: &str) -> f64 {
    s.parse().expect("number in reference table")
}

#[test]
fn cell_86_c2_matches_neuron() {
    let dir = conformance_dir();
    let hoc_path = dir.join("inputs/86_C2_center.hoc");
    if !common::skip::require_data("conformance data", &[&hoc_path]) {
        return;
    }
    let param_path = dir.join("inputs/86_C2_center.param");
    let root = read_param_file(&param_path).expect("param parses");
    let cp = cell_params(&root, "86_C2_center.param").expect("cell params");
    assert!(cp.has_ais);
    // Timing: best of 5 (the machine is shared), read + axon + discretize + geometry.
    let mut best = [f64::INFINITY; 3];
    let mut last = None;
    for _ in 0..5 {
        let t0 = Instant::now();
        let mut morph = hoc::read_hoc_file(&hoc_path).expect("reference cell reads");
        morph.add_hay2013_axon();
        let t1 = Instant::now();
        let nseg = discretize(&morph, &cp.discretization, &cp.passive);
        let scaled = modify::scale_apical_morph_86(&mut morph);
        let t2 = Instant::now();
        let geo = geometry(&morph, &nseg, &cp.passive);
        let t3 = Instant::now();
        for (b, d) in best.iter_mut().zip([t1 - t0, t2 - t1, t3 - t2]) {
            *b = b.min(d.as_secs_f64() * 1e3);
        }
        last = Some((scaled, geo));
    }
    let Some((scaled, geo)) = last else { return };
    eprintln!(
        "timing (best of 5): read {:.2} ms, discretize+scale {:.3} ms, geometry {:.3} ms",
        best[0], best[1], best[2]
    );

    // Sections.
    let (h, rows) = read_csv(&dir.join("discretization/86_C2_center_sections.csv"));
    assert_eq!(rows.len(), 170);
    assert_eq!(geo.sections.len(), rows.len());
    let mut nseg_ok = 0;
    let mut max_l_rel: f64 = 0.0;
    for (i, r) in rows.iter().enumerate() {
        let s = &geo.sections[i];
        assert_eq!(r[h["sec_index"]], i.to_string());
        assert_eq!(r[h["hoc_name"]], s.name, "name of section {i}");
        assert_eq!(r[h["label"]], s.label, "label of section {i}");
        let parent: i64 = r[h["parent_index"]].parse().expect("int");
        assert_eq!(
            parent,
            s.parent.map(|p| p as i64).unwrap_or(-1),
            "parent of {i}"
        );
        if parent >= 0 {
            assert_eq!(f(&r[h["parent_x"]]), s.parent_x, "parent_x of {i}");
        }
        let nref: usize = r[h["nseg"]].parse().expect("int");
        assert_eq!(nref, s.nseg, "nseg of section {i}");
        nseg_ok += 1;
        let lref = f(&r[h["L_um"]]);
        max_l_rel = max_l_rel.max((s.length_um - lref).abs() / lref);
        assert_eq!(f(&r[h["Ra"]]), s.ra_ohm_cm);
        assert_eq!(f(&r[h["cm"]]), s.cm_uf_cm2);
        let was_scaled = f(&r[h["diam_scale_applied"]]) != 1.0;
        assert_eq!(was_scaled, scaled.contains(&i), "diameter scaling of {i}");
    }
    assert_eq!(scaled.len(), 33);

    // Segments.
    let (h, rows) = read_csv(&dir.join("discretization/86_C2_center_segments.csv"));
    assert_eq!(rows.len(), geo.n_segments());
    assert_eq!(rows.len(), 1142);
    let (mut e_area, mut e_ri, mut e_diam, mut e_dist): (f64, f64, f64, f64) = (0.0, 0.0, 0.0, 0.0);
    let mut k = 0;
    for (i, s) in geo.sections.iter().enumerate() {
        for j in 0..s.nseg {
            let r = &rows[k];
            k += 1;
            assert_eq!(r[h["sec_index"]], i.to_string());
            assert_eq!(r[h["seg_index"]], j.to_string());
            assert!((f(&r[h["x"]]) - s.seg_x[j]).abs() < 1e-15);
            let rel = |a: f64, b: f64| (a - b).abs() / b.abs();
            e_area = e_area.max(rel(s.seg_area_um2[j], f(&r[h["area_um2"]])));
            e_ri = e_ri.max(rel(s.seg_ri_mohm[j], f(&r[h["ri_Mohm"]])));
            e_diam = e_diam.max(rel(s.seg_diam_um[j], f(&r[h["diam_um"]])));
            e_dist = e_dist.max((s.seg_dist_um[j] - f(&r[h["dist_to_soma_um"]])).abs());
        }
    }
    eprintln!(
        "86_C2: nseg equal for {nseg_ok}/170 sections; max rel error L {max_l_rel:.2e}, \
         area {e_area:.2e}, ri {e_ri:.2e}, diam {e_diam:.2e}; max dist error {e_dist:.2e} um"
    );
    assert!(max_l_rel < 1e-12);
    assert!(e_area < 1e-6, "area error {e_area}");
    assert!(e_ri < 1e-6, "ri error {e_ri}");
    assert!(e_diam < 1e-6, "diam error {e_diam}");
    assert!(e_dist < 1e-6, "distance error {e_dist}");
}

/// Invariants every discretized cell must satisfy.
fn check_invariants(morph: &Morphology, geo: &isf::morph::cell::CellGeometry) {
    assert_eq!(geo.sections.len(), morph.sections.len());
    assert!(geo.sections[0].parent.is_none());
    for (i, s) in geo.sections.iter().enumerate() {
        assert!(s.nseg >= 1);
        assert!(s.length_um > 0.0 && s.length_um.is_finite());
        assert_eq!(s.seg_area_um2.len(), s.nseg);
        for j in 0..s.nseg {
            assert!(
                s.seg_area_um2[j] > 0.0 && s.seg_area_um2[j].is_finite(),
                "area {i}/{j}"
            );
            assert!(
                s.seg_ri_mohm[j] > 0.0 && s.seg_ri_mohm[j].is_finite(),
                "ri {i}/{j}"
            );
            assert!(s.seg_diam_um[j] > 0.0, "diam {i}/{j}");
            // the frustum area is never below the cylinder of the mean diameter
            let cyl = std::f64::consts::PI * s.seg_diam_um[j] * s.length_um / s.nseg as f64;
            assert!(
                s.seg_area_um2[j] >= cyl * (1.0 - 1e-9),
                "area {i}/{j} below cylinder"
            );
        }
        assert!(s.end_ri_mohm > 0.0);
        if let Some(p) = s.parent {
            let ps = &geo.sections[p];
            // distances grow along the tree
            let parent_far = if ps.parent.is_none() {
                0.0
            } else {
                ps.seg_dist_um[0]
            };
            assert!(s.seg_dist_um[0] >= parent_far, "distance order at {i}");
            assert!(s.seg_dist_um.windows(2).all(|w| w[1] > w[0]));
        }
    }
}

#[test]
fn cell_89_c2_reads_and_discretizes() {
    let path = conformance_dir().join("../cells/89_C2.hoc");
    if !common::skip::require_data("the second conformance cell", &[&path]) {
        return;
    }
    let mut morph = hoc::read_hoc_file(&path).expect("89_C2 reads");
    assert_eq!(morph.sections.len(), 126);
    assert_eq!(morph.sections[0].label, Label::Soma);
    let n_apical = morph
        .sections
        .iter()
        .filter(|s| s.label == Label::ApicalDendrite)
        .count();
    let n_basal = morph
        .sections
        .iter()
        .filter(|s| s.label == Label::Dendrite)
        .count();
    assert_eq!(n_apical + n_basal + 1, 126);
    assert!(n_apical > 0 && n_basal > 0);
    for s in &morph.sections {
        if s.parent == Some(0) {
            assert_eq!(s.parent_x, 0.5, "soma children attach at 0.5");
        }
    }
    morph.add_hay2013_axon();
    let passive = LabelPassive {
        by_label: vec![
            (
                Label::Dendrite,
                isf::morph::Passive {
                    ra_ohm_cm: 100.0,
                    cm_uf_cm2: 2.0,
                },
            ),
            (
                Label::ApicalDendrite,
                isf::morph::Passive {
                    ra_ohm_cm: 100.0,
                    cm_uf_cm2: 2.0,
                },
            ),
        ],
        default: isf::morph::Passive {
            ra_ohm_cm: 100.0,
            cm_uf_cm2: 1.0,
        },
    };
    let nseg = discretize(&morph, &Discretization::default(), &passive);
    assert!(nseg.iter().all(|n| n % 2 == 1), "ISF's rule gives odd nseg");
    assert_eq!(&nseg[126..], &[5, 7, 21]);
    let geo = geometry(&morph, &nseg, &passive);
    check_invariants(&morph, &geo);
    // the other rules run and give sensible counts
    let fixed = discretize(&morph, &Discretization::Fixed { nseg: 3 }, &passive);
    assert!(fixed.iter().all(|&n| n == 3));
    let msl = discretize(
        &morph,
        &Discretization::MaxSegLength { max_um: 20.0 },
        &passive,
    );
    for (s, n) in morph.sections.iter().zip(&msl) {
        assert!(s.length_um() / *n as f64 <= 20.0 + 1e-9);
    }
    let nd = discretize(
        &morph,
        &Discretization::NeuronDLambda {
            d_lambda: 0.1,
            f_hz: 100.0,
        },
        &passive,
    );
    assert!(nd.iter().all(|n| n % 2 == 1));
    let total_isf: usize = nseg.iter().sum();
    let total_nrn: usize = nd.iter().sum();
    eprintln!(
        "89_C2: {} sections, {total_isf} compartments (ISF rule), {total_nrn} (NEURON d-lambda)",
        nseg.len()
    );
}

#[test]
fn example_swc_cell_reads_and_discretizes() {
    let path = common::example_swc();
    let morph = swc::read_swc_file(&path).expect("example cell reads");
    let n = morph.sections.len();
    assert!((50..=100).contains(&n), "{n} sections");
    let count = |l| morph.sections.iter().filter(|s| s.label == l).count();
    assert_eq!(count(Label::Soma), 1);
    assert_eq!(count(Label::Axon), 1);
    assert!(count(Label::Dendrite) >= 12);
    assert!(count(Label::ApicalDendrite) >= 15);
    // soma ~20 µm
    let soma_l = morph.sections[0].length_um();
    assert!((15.0..=25.0).contains(&soma_l));
    // the apical tree reaches about 1 mm above the soma
    let top = morph
        .sections
        .iter()
        .flat_map(|s| s.points.iter().map(|p| p.y))
        .fold(f64::MIN, f64::max);
    assert!(top > 900.0, "apical extent {top}");
    let passive = LabelPassive::default();
    let nseg = discretize(&morph, &Discretization::default(), &passive);
    let geo = geometry(&morph, &nseg, &passive);
    check_invariants(&morph, &geo);
}

#[test]
fn cli_sections_csv_matches_reference_columns() {
    let dir = conformance_dir();
    let hoc_path = dir.join("inputs/86_C2_center.hoc");
    if !common::skip::require_data("conformance data", &[&hoc_path]) {
        return;
    }
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_isf"))
        .args(["morph", "--format", "csv", "--param"])
        .arg(dir.join("inputs/86_C2_center.param"))
        .arg(&hoc_path)
        .output()
        .expect("run isf morph");
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8(out.stdout).expect("utf-8");
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().expect("header").split(',').collect();
    assert_eq!(
        &header[..6],
        &[
            "sec_index",
            "label",
            "parent_index",
            "parent_x",
            "L_um",
            "nseg"
        ]
    );
    let (h, rows) = read_csv(&dir.join("discretization/86_C2_center_sections.csv"));
    let ours: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    assert_eq!(ours.len(), rows.len());
    for (o, r) in ours.iter().zip(&rows) {
        for (k, col) in header[..6].iter().enumerate() {
            // same text: both sides print the shortest round-trip representation
            assert_eq!(o[k], r[h[*col]], "column {col} of section {}", o[0]);
        }
    }
}

#[test]
fn network_param_parses() {
    let path = conformance_dir().join("inputs/network.param");
    if !common::skip::require_data("conformance data", &[&path]) {
        return;
    }
    let root = read_param_file(&path).expect("network.param parses");
    let net = root
        .get("network")
        .and_then(|n| n.entries())
        .expect("network dict");
    assert_eq!(net.len(), 278);
    // tuples become lists of two numbers
    let json = root.to_json();
    let iv = &json["network"]["L45Peak_D1"]["celltype"]["pointcell"]["intervals"][0];
    assert_eq!(iv, &serde_json::json!([0.0, 1.0]));
}
