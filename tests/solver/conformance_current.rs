//! Conformance of the active cell (compiled Hay kernels, ions, electrodes) with NEURON 9.0.2 on
//! the ISF cell 86_C2_center: cases S0 (rest), S1 (four somatic current steps) and S2 (bAP,
//! EPSP, BAC) of `conformance/README.md`.
//!
//! The cell: tree from `inputs/86_C2_center.hoc` + `.param` (ISF's axon, discretization and
//! diameter scaling), channel densities per compartment from
//! `discretization/86_C2_center_segments.csv`, the 13 Hay mechanisms lowered from
//! `std.channels.hay2011`. Recording sites from the landmark file (nearest 3-D point, then the
//! nearest compartment centre of that section). Samples `k = 0..N`, `t = k·dt`.
//!
//! Bounds per case: same somatic spike count, every spike time within 0.1 ms, soma RMS |ΔV|
//! below 0.5 mV. Run with `cargo test --release --test solver conformance_current:: -- --nocapture` to
//! see the table.

use crate::common;
use common::table::{SegmentTable, hay2011_mechanisms, isf_cell_tree};
use isf::kernel::{ActiveCell, CellConfig};

use common::conformance::{DT_MS, conformance_dir, landmarks, read_trace, site_of, spikes};
use isf::morph::Morphology;
use std::time::Instant;

struct Case {
    name: &'static str,
    reference: &'static str,
    t_stop_ms: f64,
    /// IClamp at soma(0.5): (delay, dur, amp).
    iclamp: Option<(f64, f64, f64)>,
    epsp: bool,
}

#[test]
fn s0_s1_s2_match_neuron() {
    let dir = conformance_dir();
    let hoc = dir.join("inputs/86_C2_center.hoc");
    if !common::skip::require_data("conformance data", &[&hoc]) {
        return;
    }
    let t_build = Instant::now();
    let (tree, geo) = isf_cell_tree(&hoc, &dir.join("inputs/86_C2_center.param")).expect("cell");
    let mechs = hay2011_mechanisms().expect("hay2011 lowers");
    let table = SegmentTable::read(&dir.join("discretization/86_C2_center_segments.csv"))
        .expect("segment table");
    assert_eq!(table.n_rows, tree.n_segments());
    let mut k = 0;
    for (s, sec) in geo.sections.iter().enumerate() {
        for j in 0..sec.nseg {
            assert_eq!(table.index[k], (s, j), "table row {k} out of tree order");
            k += 1;
        }
    }
    let placements = table.placements(&mechs).expect("placements");
    let reversals = table.reversals();

    // Recording sites (README table: site1 = section 38 compartment 32, site2 = 20 / 0).
    let mut morph = Morphology::read(&hoc).expect("hoc");
    morph.add_hay2013_axon();
    let nseg: Vec<usize> = geo.sections.iter().map(|s| s.nseg).collect();
    let marks = landmarks(&dir.join("inputs/apical_proximal_distal_rec_sites.landmarkAscii"));
    assert_eq!(marks.len(), 2);
    let site1 = site_of(&morph, &nseg, marks[0]);
    let site2 = site_of(&morph, &nseg, marks[1]);
    assert_eq!(site1, (38, 32), "site1");
    assert_eq!(site2, (20, 0), "site2");
    let build_s = t_build.elapsed().as_secs_f64();

    let cases = [
        Case {
            name: "S0",
            reference: "S0_rest",
            t_stop_ms: 300.0,
            iclamp: None,
            epsp: false,
        },
        Case {
            name: "S1_-0.1",
            reference: "S1_step_-0.1nA",
            t_stop_ms: 300.0,
            iclamp: Some((100.0, 150.0, -0.1)),
            epsp: false,
        },
        Case {
            name: "S1_0.619",
            reference: "S1_step_0.619nA",
            t_stop_ms: 300.0,
            iclamp: Some((100.0, 150.0, 0.619)),
            epsp: false,
        },
        Case {
            name: "S1_0.793",
            reference: "S1_step_0.793nA",
            t_stop_ms: 300.0,
            iclamp: Some((100.0, 150.0, 0.793)),
            epsp: false,
        },
        Case {
            name: "S1_1.507",
            reference: "S1_step_1.507nA",
            t_stop_ms: 300.0,
            iclamp: Some((100.0, 150.0, 1.507)),
            epsp: false,
        },
        Case {
            name: "S2_bAP",
            reference: "S2_bAP",
            t_stop_ms: 400.0,
            iclamp: Some((295.0, 5.0, 1.9)),
            epsp: false,
        },
        Case {
            name: "S2_EPSP",
            reference: "S2_EPSP",
            t_stop_ms: 400.0,
            iclamp: None,
            epsp: true,
        },
        Case {
            name: "S2_BAC",
            reference: "S2_BAC",
            t_stop_ms: 400.0,
            iclamp: Some((295.0, 5.0, 1.9)),
            epsp: true,
        },
    ];
    eprintln!("build (tree, lowering, table) {build_s:.3} s");
    common::conformance::eprint_timed_header();
    let mut failures = Vec::new();
    for c in &cases {
        let mut cell =
            ActiveCell::new(tree.clone(), &placements, &reversals, CellConfig::default())
                .expect("active cell");
        if let Some((delay, dur, amp)) = c.iclamp {
            cell.add_iclamp(0, 0.5, delay, dur, amp).expect("iclamp");
        }
        // S2's apical EPSP: section 38 at x = 0.99975085, onset 300 ms, imax 0.5 nA, tau0 1 ms,
        // tau1 5 ms (recorded as v_epsp_site).
        let epsp_site = (38, 0.999_750_85);
        if c.epsp {
            cell.add_epsp(epsp_site.0, epsp_site.1, 300.0, 1.0, 5.0, 0.5)
                .expect("epsp");
        }
        let t = cell.tree();
        let mut probes = vec![
            t.node_at(0, 0.5),
            t.segment_node(site1.0, site1.1),
            t.segment_node(site2.0, site2.1),
        ];
        if c.name.starts_with("S2") {
            probes.push(t.node_at(epsp_site.0, epsp_site.1));
        }
        let n_steps = (c.t_stop_ms / DT_MS).round() as usize;
        let t0 = Instant::now();
        let trace = cell.run(n_steps, &probes).expect("run");
        let run_s = t0.elapsed().as_secs_f64();
        let (head, refc) =
            read_trace(&dir.join(format!("outputs/86_C2_center_{}_trace.csv", c.reference)));
        assert_eq!(refc[0].len(), n_steps + 1, "reference samples");
        let col = |name: &str| head.iter().position(|h| h == name).expect("column");
        let mut stats = Vec::new();
        for (j, name) in ["v_soma", "v_site1", "v_site2", "v_epsp_site"]
            .iter()
            .enumerate()
        {
            if j >= probes.len() {
                break;
            }
            let r = &refc[col(name)];
            let ours = trace.column(j);
            let (mut ss, mut mx) = (0.0f64, 0.0f64);
            for (a, b) in ours.iter().zip(r) {
                let d = a - b;
                ss += d * d;
                mx = mx.max(d.abs());
            }
            stats.push(((ss / r.len() as f64).sqrt(), mx));
        }
        let ours = spikes(&trace.column(0));
        let refs = spikes(&refc[col("v_soma")]);
        let max_dt = ours
            .iter()
            .zip(&refs)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f64::max);
        eprintln!(
            "{:<9} {:>4}/{:<4} {:>8.3} {:>10.3e} {:>9.3e} {:>10.3e} {:>9.3e} {:>10.3e} {:>9.3e} {:>7.3}",
            c.name,
            ours.len(),
            refs.len(),
            max_dt,
            stats[0].0,
            stats[0].1,
            stats[1].0,
            stats[1].1,
            stats[2].0,
            stats[2].1,
            run_s
        );
        if let Some(e) = stats.get(3) {
            eprintln!("          v_epsp_site RMS {:.3e} max {:.3e}", e.0, e.1);
        }
        if ours.len() != refs.len() {
            failures.push(format!(
                "{}: {} spikes, NEURON {} ({ours:?} vs {refs:?})",
                c.name,
                ours.len(),
                refs.len()
            ));
        } else if max_dt > 0.1 + 1e-9 {
            failures.push(format!("{}: spike times differ by {max_dt} ms", c.name));
        }
        // NaN must fail too, hence not `> 0.5`.
        if stats[0].0.is_nan() || stats[0].0 >= 0.5 {
            failures.push(format!("{}: soma RMS |dV| {} mV", c.name, stats[0].0));
        }
    }
    assert!(failures.is_empty(), "out of bounds: {failures:#?}");
}
