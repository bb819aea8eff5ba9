//! Cases S0, S1 (four steps) and S2 (bAP, EPSP, BAC) run from the isf script
//! `tests/conformance/current_injection.isf` — ISF's own cell file through `isf_param`, the
//! stdlib Hay channels, the language's stimuli, sweeps and recordings — against the NEURON
//! references in `../shared/conformance/outputs`.
//!
//! Bounds (issue 4): the same spike count, every spike time within 0.1 ms, soma RMS |ΔV|
//! < 0.5 mV. The references print 6 decimals, so a perfect match shows |ΔV| ≤ 5e-7 mV.

use crate::common;

use common::conformance::{print_table_header, print_table_row, rms_max};
use std::path::Path;

fn read_csv(path: &Path) -> Vec<Vec<f64>> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    text.lines()
        .skip(1)
        .map(|l| {
            l.split(',')
                .map(|x| x.parse().unwrap_or(f64::NAN))
                .collect()
        })
        .collect()
}

#[test]
fn isf_script_reproduces_s0_s1_s2() {
    let dir = common::skip::conformance_dir();
    // The script names ../shared/conformance itself, so ISF_CONFORMANCE cannot stand in.
    let shared = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/conformance/outputs");
    if !common::skip::require_data("conformance data", &[&dir.join("outputs"), &shared]) {
        return;
    }
    let script =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/conformance/current_injection.isf");
    let checked = isf::validate::check_path(&script);
    assert!(!checked.has_errors(), "{:?}", checked.diagnostics);
    let model = &checked.model;
    // (experiment, sweep point) -> reference case
    let cases: &[(&str, u64, &str)] = &[
        ("S0", 0, "S0_rest"),
        ("S1", 0, "S1_step_-0.1nA"),
        ("S1", 1, "S1_step_0.619nA"),
        ("S1", 2, "S1_step_0.793nA"),
        ("S1", 3, "S1_step_1.507nA"),
        ("S2", 0, "S2_bAP"),
        ("S2", 1, "S2_EPSP"),
        ("S2", 2, "S2_BAC"),
    ];
    print_table_header();
    let mut failures = Vec::new();
    common::conformance::run_cases(model, cases, |exp_name, case, out| {
        let reference = read_csv(&dir.join(format!("outputs/86_C2_center_{case}_trace.csv")));
        let ref_spikes: Vec<f64> =
            read_csv(&dir.join(format!("outputs/86_C2_center_{case}_spikes.csv")))
                .iter()
                .map(|r| r[1])
                .collect();
        let col = |j: usize| reference.iter().map(|r| r[j]).collect::<Vec<f64>>();
        let trace = |name: &str| common::named(&out.traces, name);
        let (s_rms, s_max) = rms_max(trace("soma.v"), &col(1));
        let (a_rms, a_max) = rms_max(
            trace("sites(apical_proximal_distal_rec_sites.landmarkAscii)[0].v"),
            &col(2),
        );
        let (b_rms, b_max) = rms_max(
            trace("sites(apical_proximal_distal_rec_sites.landmarkAscii)[1].v"),
            &col(3),
        );
        let spikes = common::named(&out.events, "spikes(soma)");
        let max_dt = spikes
            .iter()
            .zip(&ref_spikes)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f64::max);
        print_table_row(
            case,
            (spikes.len(), ref_spikes.len()),
            max_dt,
            [(s_rms, s_max), (a_rms, a_max), (b_rms, b_max)],
        );
        if exp_name == "S2" {
            let (e_rms, e_max) = rms_max(trace("section(38, 0.99975085).v"), &col(4));
            println!("{:<16} v_epsp_site RMS {e_rms:.2e} max {e_max:.2e}", "");
        }
        if spikes.len() != ref_spikes.len() || max_dt > 0.1 || s_rms >= 0.5 {
            failures.push(case.to_string());
        }
    });
    assert!(failures.is_empty(), "out of bounds: {failures:?}");
}
