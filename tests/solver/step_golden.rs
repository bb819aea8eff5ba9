//! The step loop's results pinned to the bit: SHA-256 digests of every voltage of every step,
//! and of every mechanism state and ion value at the end, computed with the step loop as it
//! was before its overheads were cut (issue 16: ion current totals zeroed only where a
//! mechanism writes them, `rhs`/`d` reset inside the voltage update, Nernst over runs of
//! nodes). A change to the step loop that moves any bit fails here; a deliberate change of
//! the numerics (new mechanism code, another operation order) must say so and renew the
//! digests (run with `ISF_PRINT_DIGESTS=1` to print them).
//!
//! Renewed once, deliberately: `vexp::exp` and `vexp::ln` moved to fused multiply-adds (issue
//! 16). Measured against the previous bits with `isf run` on the conformance scripts: soma and
//! dendrite traces within 4.3e-14 mV (S0), 8.9e-9 mV (S1, during spikes), 7.8e-11 mV (S2),
//! 1.2e-9 mV (S4, 4 trials); every spike time identical; every conformance error against
//! NEURON unchanged at its printed precision.
//!
//! Cells:
//! * synthetic (no data needed): a branched cell where some compartments carry no mechanism at
//!   all, `pas` on the others, sodium and potassium channels on part of the tree, calcium
//!   channels with a calcium pool (Nernst `eca`) on another part only, `Ih` elsewhere, a
//!   somatic current step, an EPSP; solo and in 4 lanes with different steps per lane;
//! * the conformance cell 86_C2_center with the 13 Hay mechanisms (S1's step at 0.793 nA,
//!   moved to 5 ms so that 60 ms of run hold spikes), solo and in 2 lanes.

use crate::common;

use common::conformance::conformance_dir;
use common::synth::branched_cell;
use common::table::{SegmentTable, hay2011_mechanisms, isf_cell_tree};
use isf::kernel::{ActiveCell, CellConfig, MechPlacement, stdlib_pas};
use isf::model::MechModel;
use isf::sim::CableTree;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

/// Digest of a run: every node's voltage after every step (all lanes), then the end state;
/// and the number of somatic spikes of lane 0 (so that the run is known to exercise the
/// channels, not only rest). Values are taken node by node in the tree's elimination order
/// (`CableTree::rank`), lanes within a node, whatever order the arrays are stored in: the
/// digests pin the numbers, not the numbering (they were made with the level numbering, where
/// the two orders coincide).
fn run_digest(cell: &mut ActiveCell, n_steps: usize) -> (String, usize) {
    let soma = cell.index(cell.tree().node_at(0, 0.5), 0);
    let lanes = cell.lanes();
    let tree = cell.tree();
    let key = |idx: usize| (tree.rank((idx / lanes) as u32), idx % lanes);
    let mut order: Vec<usize> = (0..tree.n_nodes() * lanes).collect();
    order.sort_by_key(|&i| key(i));
    let inst: Vec<Vec<usize>> = cell
        .mechanisms()
        .iter()
        .map(|m| {
            let mut k: Vec<usize> = (0..m.nodes.len()).collect();
            k.sort_by_key(|&j| key(m.nodes[j] as usize));
            k
        })
        .collect();
    let mut spikes = 0;
    let mut h = Sha256::new();
    let mut put = |xs: &[f64], order: &[usize]| {
        for &i in order {
            h.update(xs[i].to_bits().to_le_bytes());
        }
    };
    cell.init();
    put(cell.v_mv(), &order);
    for _ in 0..n_steps {
        let before = cell.v_mv()[soma];
        cell.step().expect("step");
        spikes += usize::from(before < 0.0 && cell.v_mv()[soma] >= 0.0);
        put(cell.v_mv(), &order);
    }
    for (m, inst) in cell.mechanisms().iter().zip(&inst) {
        for s in 0..m.state_names.len() {
            put(m.state(s), inst);
        }
    }
    for p in cell.ions() {
        put(&p.e_mv, &order);
        put(&p.ci_mm, &order);
        put(&p.co_mm, &order);
        put(&p.i_ma_cm2, &order);
    }
    let digest = h.finalize();
    (digest.iter().map(|b| format!("{b:02x}")).collect(), spikes)
}

fn check(what: &str, (got, spikes): (String, usize), want: &str) {
    if std::env::var_os("ISF_PRINT_DIGESTS").is_some() {
        eprintln!("{what}: {got} ({spikes} spikes)");
    }
    assert!(spikes >= 2, "{what}: {spikes} spikes, the run should spike");
    assert_eq!(got, want, "{what}: the step loop's bits changed");
}

fn mech<'a>(all: &'a [MechModel], name: &str) -> &'a MechModel {
    all.iter()
        .find(|m| m.name == name)
        .expect("hay2011 mechanism")
}

/// Segments `0..n` whose index satisfies `keep`, with `params` as constant columns.
fn place<'a>(
    m: &'a MechModel,
    n: usize,
    keep: impl Fn(usize) -> bool,
    params: &[(&str, f64)],
) -> MechPlacement<'a> {
    let segments: Vec<usize> = (0..n).filter(|&s| keep(s)).collect();
    let params: BTreeMap<String, Vec<f64>> = params
        .iter()
        .map(|&(p, x)| (p.to_string(), vec![x; segments.len()]))
        .collect();
    MechPlacement {
        mechanism: m,
        segments,
        params,
    }
}

/// The synthetic cell (see the module docs), `lanes` lanes, lane `l` with a somatic step of
/// `0.6 + 0.15·l` nA from 2 ms.
fn synthetic(mechs: &[MechModel], lanes: usize) -> ActiveCell {
    let tree = CableTree::from_geometry(&branched_cell(240, 0x5eed)).expect("tree");
    let n = tree.n_segments();
    // Segment 0 is the soma; every 7th compartment carries nothing at all.
    let bare = |s: usize| s % 7 == 3;
    let active = |s: usize| s < n / 3 && !bare(s);
    let calcium = |s: usize| (s < n / 5 || (n / 2..n / 2 + 20).contains(&s)) && !bare(s);
    let placements = vec![
        place(
            stdlib_pas().expect("pas"),
            n,
            |s| !bare(s),
            &[("g", 5e-5), ("e", -75.0)],
        ),
        place(mech(mechs, "NaTa_t"), n, active, &[("gbar", 2.0)]),
        place(mech(mechs, "SKv3_1"), n, active, &[("gbar", 0.5)]),
        place(mech(mechs, "Im"), n, |s| active(s) && s % 2 == 0, &[]),
        place(mech(mechs, "Ca_HVA"), n, calcium, &[("gbar", 1e-3)]),
        place(mech(mechs, "Ca_LVAst"), n, calcium, &[("gbar", 5e-3)]),
        place(mech(mechs, "SK_E2"), n, calcium, &[("gbar", 5e-3)]),
        place(
            mech(mechs, "CaDynamics_E2"),
            n,
            calcium,
            &[("gamma", 5e-4), ("decay", 80.0)],
        ),
        place(mech(mechs, "Ih"), n, |s| s > n / 4 && !bare(s), &[]),
    ];
    let reversals = vec![
        ("ena".to_string(), vec![50.0; n]),
        ("ek".to_string(), vec![-85.0; n]),
    ];
    let mut cell =
        ActiveCell::with_lanes(tree, &placements, &reversals, CellConfig::default(), lanes)
            .expect("cell");
    for lane in 0..lanes {
        cell.add_iclamp_in(lane, 0, 0.5, 2.0, 30.0, 0.6 + 0.15 * lane as f64)
            .expect("iclamp");
    }
    let last = cell.tree().sections().len() - 1;
    cell.add_epsp(last, 0.5, 10.0, 0.5, 5.0, 0.2).expect("epsp");
    cell
}

#[test]
fn synthetic_cell_keeps_its_bits() {
    let mechs = hay2011_mechanisms().expect("hay2011 lowers");
    let mut solo = synthetic(&mechs, 1);
    check(
        "synthetic solo",
        run_digest(&mut solo, 1600),
        "00ccf908422b6ecef250a5d9fae407f2402a07ea99d86652fdfda936818a0f56",
    );
    let mut lanes = synthetic(&mechs, 4);
    check(
        "synthetic 4 lanes",
        run_digest(&mut lanes, 1600),
        "16bd925559ade8c32f44dfbd206317271c7895650007f0ea0f15ba9db6aa358d",
    );
}

#[test]
fn conformance_cell_keeps_its_bits() {
    let dir = conformance_dir();
    let inputs = dir.join("inputs");
    let hoc = inputs.join("86_C2_center.hoc");
    let seg = dir.join("discretization/86_C2_center_segments.csv");
    if !common::skip::require_data("conformance data", &[&hoc, &seg]) {
        return;
    }
    let (tree, _) = isf_cell_tree(&hoc, &inputs.join("86_C2_center.param")).expect("cell");
    let table = SegmentTable::read(&seg).expect("segment table");
    let mechs = hay2011_mechanisms().expect("hay2011 lowers");
    let placements = table.placements(&mechs).expect("placements");
    for (lanes, want) in [
        (
            1,
            "4406fd8827c1fd37ea42b52a501b8394223a7d8e865502e0ac0173bbc9707793",
        ),
        (
            2,
            "fea2cfb70a583490e3b4166b27589144e70ad1b283629aad265e5680cef4bc08",
        ),
    ] {
        let mut cell = ActiveCell::with_lanes(
            tree.clone(),
            &placements,
            &table.reversals(),
            CellConfig::default(),
            lanes,
        )
        .expect("cell");
        cell.add_iclamp(0, 0.5, 5.0, 150.0, 0.793).expect("iclamp");
        check(
            &format!("86_C2_center S1, {lanes} lane(s)"),
            run_digest(&mut cell, 2400),
            want,
        );
    }
}
