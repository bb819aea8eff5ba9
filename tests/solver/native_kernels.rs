//! The fused native kernels (`isf::kernel::native`): the committed `generated.rs` is what the
//! generator makes of the standard library's programs and the conformance cell's (rewrite it
//! with `ISF_REGEN_NATIVE=1`), every mechanism of the conformance cell runs native, and the
//! whole cell gives bit-identical voltages and states with and without them.

use crate::common;

use common::conformance::conformance_dir;
use common::table::{SegmentTable, hay2011_mechanisms, isf_cell_tree};
use isf::kernel::native::generator::{generate, stdlib_programs};
use isf::kernel::{ActiveCell, CellConfig};
use std::path::Path;

/// The S1 cell of the conformance data (channel densities from the segment table), or `None`
/// (skipped, or failed under CI) without the data.
fn s1_cell() -> Option<ActiveCell> {
    let dir = conformance_dir();
    let hoc = dir.join("inputs/86_C2_center.hoc");
    if !common::skip::require_data("conformance data", &[&hoc]) {
        return None;
    }
    let (tree, _) = isf_cell_tree(&hoc, &dir.join("inputs/86_C2_center.param")).expect("cell");
    let mechs = hay2011_mechanisms().expect("hay2011");
    let table = SegmentTable::read(&dir.join("discretization/86_C2_center_segments.csv"))
        .expect("segment table");
    let placements = table.placements(&mechs).expect("placements");
    let cell = ActiveCell::new(tree, &placements, &table.reversals(), CellConfig::default())
        .expect("active cell");
    Some(cell)
}

#[test]
fn generated_kernels_are_current() {
    let Some(cell) = s1_cell() else { return };
    let mut progs = stdlib_programs().expect("stdlib programs");
    for m in cell.mechanisms() {
        for (what, p) in m.hot_programs() {
            if !p.is_empty() {
                progs.push((format!("{} {what}, conformance cell", m.name), p.clone()));
            }
        }
    }
    let text = generate(&progs);
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/kernel/native/generated.rs");
    let old = std::fs::read_to_string(&path).unwrap_or_default();
    if old != text {
        if std::env::var("ISF_REGEN_NATIVE").is_ok_and(|v| v == "1") {
            std::fs::write(&path, text).expect("write generated.rs");
        } else {
            panic!(
                "src/kernel/native/generated.rs is out of date with the mechanism compiler or \
                 the standard library; run `ISF_REGEN_NATIVE=1 cargo test --release --test solver \
                 native_kernels` and rebuild"
            );
        }
    }
}

#[test]
fn conformance_cell_runs_native_and_bit_identical() {
    let Some(mut native) = s1_cell() else { return };
    for m in native.mechanisms() {
        for ((what, p), k) in m.hot_programs().into_iter().zip(m.native_kernels()) {
            assert!(
                p.is_empty() || k.is_some(),
                "{} {what} has no native kernel",
                m.name
            );
        }
    }
    let Some(mut bytecode) = s1_cell() else {
        return;
    };
    for m in bytecode.mechanisms_mut() {
        m.set_native(false);
        assert_eq!(m.native_kernels(), [None, None]);
    }
    // 60 ms with a suprathreshold step from 5 ms: spikes, calcium, every gate in motion.
    let steps = 2400;
    let mut traces = Vec::new();
    for cell in [&mut native, &mut bytecode] {
        cell.add_iclamp(0, 0.5, 5.0, 50.0, 1.9).expect("iclamp");
        let t = cell.tree();
        let probes = [
            t.node_at(0, 0.5),
            t.segment_node(38, 32),
            t.segment_node(20, 0),
        ];
        traces.push(cell.run(steps, &probes).expect("run"));
    }
    let spikes = (1..traces[0].n_samples())
        .filter(|&k| traces[0].v_mv(k - 1, 0) < 0.0 && traces[0].v_mv(k, 0) >= 0.0)
        .count();
    assert!(
        spikes >= 2,
        "{spikes} spikes: the test should exercise spiking"
    );
    for k in 0..traces[0].n_samples() {
        for p in 0..3 {
            let (a, b) = (traces[0].v_mv(k, p), traces[1].v_mv(k, p));
            assert_eq!(a.to_bits(), b.to_bits(), "sample {k} probe {p}: {a} vs {b}");
        }
    }
    for (a, b) in native.mechanisms().iter().zip(bytecode.mechanisms()) {
        for s in 0..a.state_names.len() {
            let same = a
                .state(s)
                .iter()
                .zip(b.state(s))
                .all(|(x, y)| x.to_bits() == y.to_bits());
            assert!(same, "{} state {} differs", a.name, a.state_names[s]);
        }
    }
}
