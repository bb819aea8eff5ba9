//! Acceptance of issue 13 ("a template-v2 cell from the spec"): ISF's L5tt template v2
//! (`CaDynamics_E2_v2`, a `uniform_range` Ca hot zone with `outsidescale_sections`, linear
//! SKv3_1 on relative distance, `scale_apical`) written as an ISF cell parameter file for
//! `../shared/cells/89_C2.hoc` (tests/data/89_C2_template_v2.param), converted by
//! `isf convert`, checked and run unedited, against NEURON 9.0.2.
//!
//! The reference (tests/data/89_C2_template_v2_neuron.json, see tests/data/README.md) holds per
//! case the somatic spike times and the soma voltage every 1 ms (every 40th sample, 6
//! decimals). With `ISF_TEMPLATE_V2_REF` set to the folder of the anchor's full traces
//! (`<case>_trace.csv`), every sample is compared as well.

use crate::common;

use std::path::{Path, PathBuf};
use std::process::Command;

fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

/// `(t_ms, v_soma)` columns of an anchor trace file.
fn read_full(path: &Path) -> Vec<f64> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    text.lines()
        .skip(1)
        .map(|l| {
            l.split(',')
                .nth(1)
                .and_then(|x| x.parse().ok())
                .expect("v_soma")
        })
        .collect()
}

fn rms(a: &[f64], b: &[f64]) -> (f64, f64) {
    assert_eq!(a.len(), b.len());
    let mut s = 0.0;
    let mut m: f64 = 0.0;
    for (x, y) in a.iter().zip(b) {
        s += (x - y) * (x - y);
        m = m.max((x - y).abs());
    }
    ((s / a.len() as f64).sqrt(), m)
}

#[test]
fn template_v2_cell_converts_checks_and_runs_like_neuron() {
    let hoc = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/cells/89_C2.hoc");
    if !common::skip::require_data("the 89_C2 morphology", &[&hoc]) {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    // convert → check → run, the converted file unedited.
    let cell = dir.join("cell.isf");
    let o = Command::new(env!("CARGO_BIN_EXE_isf"))
        .arg("convert")
        .arg(data("89_C2_template_v2.param"))
        .args(["--name", "L5tt_v2", "-o"])
        .arg(&cell)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let text = std::fs::read_to_string(&cell).unwrap();
    for part in [
        "import std.channels.isf_extra.*",
        "CaDynamics_E2_v2 { decay: 118 ms, gamma: 0.00061 }",
        "Ca_HVA { gbar: uniform_range(0.00487 S/cm2, from: 384.8 um, to: 584.8 um, outside: 0.1, outside_sections: [37, 52, 54, 56, 58, 60]) }",
        "SKv3_1 { gbar: linear(0.016 S/cm2, slope: -0.8, offset: 0.3, relative: true) }",
        "modify: [scale_apical(scale: 1.25)]",
    ] {
        assert!(text.contains(part), "missing `{part}` in\n{text}");
    }
    let cases = dir.join("cases.isf");
    std::fs::copy(data("89_C2_template_v2_cases.isf"), &cases).unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_isf"))
        .arg("check")
        .arg(&cases)
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    let checked = isf::validate::check_path(&cases);
    assert!(checked.diagnostics.is_empty(), "{:?}", checked.diagnostics);
    let reference: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(data("89_C2_template_v2_neuron.json")).unwrap(),
    )
    .unwrap();
    let full = std::env::var_os("ISF_TEMPLATE_V2_REF").map(PathBuf::from);
    let runs: &[(&str, u64, &str)] = &[
        ("S0", 0, "S0_rest"),
        ("S1", 0, "S1_step_-0.1nA"),
        ("S1", 1, "S1_step_0.619nA"),
        ("S1", 2, "S1_step_0.793nA"),
        ("S1", 3, "S1_step_1.507nA"),
        ("S2", 0, "S2_bAP"),
        ("S2", 1, "S2_BAC"),
    ];
    let model = &checked.model;
    let mut failures = Vec::new();
    // The lowering the simulator runs against NEURON's compartments (the anchor's
    // `--table` output): nseg, area and ri per compartment, after scale_apical.
    if let Some(table) = full.as_ref().map(|d| d.join("compartments.csv")) {
        let cell =
            isf::lower::cell::build_cell(&model.neurons[0], &model.mechanisms).expect("lowers");
        let text =
            std::fs::read_to_string(&table).unwrap_or_else(|e| panic!("{}: {e}", table.display()));
        let (mut n, mut worst_area, mut worst_ri) = (0, 0.0f64, 0.0f64);
        for line in text.lines().skip(1) {
            let f: Vec<&str> = line.split(',').collect();
            let (s, k): (usize, usize) = (f[0].parse().unwrap(), f[1].parse().unwrap());
            let g = &cell.geometry.sections[s];
            assert_eq!(
                g.nseg,
                f[3].parse::<usize>().unwrap(),
                "nseg of section {s}"
            );
            let rel = |a: f64, b: f64| ((a - b) / b).abs();
            worst_area = worst_area.max(rel(g.seg_area_um2[k], f[6].parse().unwrap()));
            worst_ri = worst_ri.max(rel(g.seg_ri_mohm[k], f[7].parse().unwrap()));
            n += 1;
        }
        assert_eq!(n, cell.geometry.n_segments());
        println!("compartments {n}: max rel. diff area {worst_area:.2e}, ri {worst_ri:.2e}");
        if worst_area > 1e-9 || worst_ri > 1e-9 {
            failures.push("compartments".to_string());
        }
        // Every density of every compartment (the conformance segments-table layout).
        let segs = full
            .as_ref()
            .unwrap()
            .join("89_C2_template_v2_segments.csv");
        if let Ok(text) = std::fs::read_to_string(&segs) {
            let mut lines = text.lines();
            let head: Vec<&str> = lines.next().unwrap().split(',').collect();
            let (mut worst, mut values) = (0.0f64, 0);
            for line in lines {
                let f: Vec<f64> = line
                    .split(',')
                    .map(|x| x.parse().unwrap_or(f64::NAN))
                    .collect();
                let c = cell.seg_offset[f[0] as usize] + f[1] as usize;
                for (j, col) in head.iter().enumerate().skip(8) {
                    let Some((mech, key)) = col.split_once('.') else {
                        continue;
                    };
                    let key = if key == format!("g{mech}bar") {
                        "gbar"
                    } else {
                        key
                    };
                    let Some(t) = cell.mechanism(mech) else {
                        continue;
                    };
                    let got = t.compartments.iter().position(|&k| k == c).map(|i| {
                        t.params
                            .iter()
                            .find(|p| p.name == key)
                            .expect("param")
                            .values[i]
                    });
                    match got {
                        Some(g) if !f[j].is_nan() => {
                            worst = worst.max(((g - f[j]) / f[j]).abs());
                            values += 1;
                        }
                        None if f[j].is_nan() => {}
                        other => panic!("{col} at compartment {c}: isf {other:?}, NEURON {}", f[j]),
                    }
                }
            }
            println!("densities: {values} values, max rel. diff {worst:.2e}");
            if worst > 1e-12 {
                failures.push("densities".to_string());
            }
        }
    }
    println!(
        "{:<16} {:>7} {:>10} {:>12} {:>12} {:>12}",
        "case", "spikes", "max |dt|", "RMS 1ms", "max 1ms", "RMS full"
    );
    common::conformance::run_cases(model, runs, |_, case, out| {
        let soma = common::named(&out.traces, "soma.v");
        let spikes = common::named(&out.events, "spikes(soma)");
        let r = &reference["cases"][case];
        let ref_spikes: Vec<f64> = common::f64s(&r["spikes_ms"]);
        let ref_soma: Vec<f64> = common::f64s(&r["soma_mv"]);
        let ours: Vec<f64> = soma
            .iter()
            .step_by(40)
            .copied()
            .take(ref_soma.len())
            .collect();
        let (s_rms, s_max) = rms(&ours, &ref_soma);
        let max_dt = spikes
            .iter()
            .zip(&ref_spikes)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f64::max);
        let full_rms = full.as_ref().map(|d| {
            let v = read_full(&d.join(format!("{case}_trace.csv")));
            rms(&soma[..v.len()], &v)
        });
        println!(
            "{case:<16} {:>3}/{:<3} {max_dt:>10.3} {s_rms:>12.2e} {s_max:>12.2e} {:>12}",
            spikes.len(),
            ref_spikes.len(),
            full_rms.map_or("-".into(), |(r, m)| format!("{r:.2e} (max {m:.1e})"))
        );
        // Same spikes within 0.1 ms; soma voltage at the reference's print precision
        // (6 decimals: a rounding error of at most 5e-7 mV per sample).
        let bad_full = full_rms.is_some_and(|(r, _)| r > 1e-6);
        if spikes.len() != ref_spikes.len() || max_dt > 0.1 || s_rms > 1e-6 || bad_full {
            failures.push(case.to_string());
        }
    });
    assert!(failures.is_empty(), "differs from NEURON: {failures:?}");
}
