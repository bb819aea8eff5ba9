//! Helpers shared by the NEURON conformance tests: where the reference data lives, reading
//! reference traces and landmark files, ISF's spike rule and point-to-compartment mapping.

use isf::morph::{Morphology, arcs};
use std::path::{Path, PathBuf};

/// The time step of every conformance case, ms.
pub const DT_MS: f64 = 0.025;

/// Header of the conformance table printed by the script-based cases (current injection, S3).
pub fn print_table_header() {
    println!(
        "{:<16} {:>7} {:>8} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9}",
        "case",
        "spikes",
        "max dt",
        "soma RMS",
        "soma max",
        "site1 RMS",
        "site1 max",
        "site2 RMS",
        "site2 max"
    );
}

/// Header of the timed table of the kernel-level cases (current injection, S3) on stderr: the
/// columns of [`print_table_header`] and the run time.
pub fn eprint_timed_header() {
    eprintln!(
        "{:<9} {:>9} {:>8} {:>10} {:>9} {:>10} {:>9} {:>10} {:>9} {:>7}",
        "case",
        "spikes",
        "max dt",
        "soma RMS",
        "soma max",
        "site1 RMS",
        "site1 max",
        "site2 RMS",
        "site2 max",
        "run s"
    );
}

/// One row of that table: spike counts, largest spike-time difference (ms) and the
/// (RMS, max) |ΔV| (mV) at the soma and the two sites.
pub fn print_table_row(case: &str, spikes: (usize, usize), max_dt: f64, err: [(f64, f64); 3]) {
    let [(s_rms, s_max), (a_rms, a_max), (b_rms, b_max)] = err;
    println!(
        "{case:<16} {:>3}/{:<3} {max_dt:>8.3} {s_rms:>9.2e} {s_max:>9.2e} {a_rms:>9.2e} {a_max:>9.2e} {b_rms:>9.2e} {b_max:>9.2e}",
        spikes.0, spikes.1
    );
}

/// RMS and maximum of `|a − b|` over two equally long traces.
pub fn rms_max(a: &[f64], b: &[f64]) -> (f64, f64) {
    assert_eq!(a.len(), b.len(), "trace lengths differ");
    let mut s = 0.0;
    let mut m: f64 = 0.0;
    for (x, y) in a.iter().zip(b) {
        let d = (x - y).abs();
        s += d * d;
        m = m.max(d);
    }
    ((s / a.len() as f64).sqrt(), m)
}

/// `$ISF_CONFORMANCE`, or `../shared/conformance` next to the crate.
pub fn conformance_dir() -> PathBuf {
    super::skip::conformance_dir()
}

/// A reference trace: header names and columns.
pub fn read_trace(path: &Path) -> (Vec<String>, Vec<Vec<f64>>) {
    let text = std::fs::read_to_string(path).expect("reference trace readable");
    let mut lines = text.lines();
    let head: Vec<String> = lines
        .next()
        .expect("header")
        .split(',')
        .map(str::to_string)
        .collect();
    let mut cols = vec![Vec::new(); head.len()];
    for l in lines.filter(|l| !l.is_empty()) {
        for (c, f) in l.split(',').enumerate() {
            cols[c].push(f.parse::<f64>().expect("number"));
        }
    }
    (head, cols)
}

/// ISF's spike rule: sample i with v[i−1] < 0 ≤ v[i]; the spike time is t[i].
pub fn spikes(v: &[f64]) -> Vec<f64> {
    (1..v.len())
        .filter(|&i| v[i - 1] < 0.0 && v[i] >= 0.0)
        .map(|i| i as f64 * DT_MS)
        .collect()
}

/// The landmark points of an AmiraMesh ASCII landmark file.
pub fn landmarks(path: &Path) -> Vec<[f64; 3]> {
    let text = std::fs::read_to_string(path).expect("landmark file readable");
    let data = text.split("@1").nth(2).expect("data section");
    data.lines()
        .filter_map(|l| {
            let v: Vec<f64> = l
                .split_whitespace()
                .filter_map(|x| x.parse().ok())
                .collect();
            (v.len() == 3).then(|| [v[0], v[1], v[2]])
        })
        .collect()
}

/// ISF's mapping of a point to a compartment: the nearest 3-D point of any section, then the
/// compartment of that section whose centre is nearest to the point's arc-length position.
pub fn site_of(morph: &Morphology, nseg: &[usize], p: [f64; 3]) -> (usize, usize) {
    let mut best = (f64::INFINITY, 0, 0);
    for (s, sec) in morph.sections.iter().enumerate() {
        for (i, q) in sec.points.iter().enumerate() {
            let d = (q.x - p[0]).powi(2) + (q.y - p[1]).powi(2) + (q.z - p[2]).powi(2);
            if d < best.0 {
                best = (d, s, i);
            }
        }
    }
    let (_, s, i) = best;
    let a = arcs(&morph.sections[s].points);
    let x = a[i] / a[a.len() - 1];
    let n = nseg[s];
    let seg = (0..n)
        .min_by(|&j, &k| {
            let cj = ((j as f64 + 0.5) / n as f64 - x).abs();
            let ck = ((k as f64 + 0.5) / n as f64 - x).abs();
            cj.total_cmp(&ck)
        })
        .expect("nseg > 0");
    (s, seg)
}

/// The conformance cell's morphology as ISF builds it (with the generated axon) and the nseg
/// of every section under ISF's rule with the cell file's Ra and cm.
pub fn cell_morphology(inputs: &Path) -> (Morphology, Vec<usize>) {
    use isf::interop::formats::param::{cell_params, read_param_file};
    let cp = cell_params(
        &read_param_file(&inputs.join("86_C2_center.param")).expect("cell .param"),
        "86_C2_center.param",
    )
    .expect("cell parameters");
    let mut morph = isf::morph::hoc::read_hoc_file(&inputs.join("86_C2_center.hoc")).expect("hoc");
    morph.add_hay2013_axon();
    let nseg = isf::morph::discretize(&morph, &cp.discretization, &cp.passive);
    (morph, nseg)
}

/// The S4 network (`network.param` with its anatomy) with every synapse placed on the cell.
pub fn s4_network(inputs: &Path) -> isf::network::PreparedNetwork {
    let (morph, nseg) = cell_morphology(inputs);
    let placer = isf::network::Placer::new(&morph, &nseg);
    let labels = morph
        .sections
        .iter()
        .map(|s| s.label.as_str().to_string())
        .collect();
    let net = isf::interop::network_param::isf_network_param(&inputs.join("network.param"))
        .expect("network");
    isf::network::PreparedNetwork::build(&net, &placer, labels, 0).expect("placed network")
}

/// Trial 0 of each `(experiment, sweep point, case)` of `cases`, run by the run stage's own
/// runner (`isf run`'s path) on the checked script `model`, in the order of `cases`'
/// experiments; `each` gets the experiment name, the case name and the trial's output.
pub fn run_cases(
    model: &isf::model::Model,
    cases: &[(&str, u64, &str)],
    mut each: impl FnMut(&str, &str, isf::run::exec::TrialOutput),
) {
    use isf::run::exec::TrialRunner;
    let mut names: Vec<&str> = cases.iter().map(|c| c.0).collect();
    names.dedup();
    for exp_name in names {
        let exp = model
            .experiments
            .iter()
            .find(|e| e.name == exp_name)
            .unwrap_or_else(|| panic!("no experiment {exp_name}"));
        let runner = isf::run::cellsim::CellRunner::new(model, exp)
            .unwrap_or_else(|d| panic!("{exp_name}: {d:?}"));
        let items = isf::run::work_items(exp);
        for &(_, point, case) in cases.iter().filter(|c| c.0 == exp_name) {
            let item = items
                .iter()
                .find(|i| i.point == point && i.trial == 0)
                .expect("item");
            let out = runner
                .run(item, &isf::run::point_values(&exp.sweep, point))
                .unwrap_or_else(|d| panic!("{case}: {d:?}"));
            each(exp_name, case, out);
        }
    }
}
