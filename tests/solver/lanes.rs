//! Trials in lanes (`ActiveCell::with_lanes`, issue 16 part 4): every lane of a batch gives
//! bit-for-bit the result of the same trial run alone, on the conformance cell 86_C2_center
//! (the 13 Hay mechanisms, calcium pools with Nernst `eca`):
//!
//! * S1-like: somatic current steps that differ per lane — lanes that spike, a lane that stays
//!   below threshold, a lane with an EPSP, and a lane whose voltage runs away (its error is its
//!   own; the other lanes go on), at 3 (general loop), 4 and 8 (vector loops) lanes;
//! * S4-like: the S4 network's synapses with a different trial seed per lane (own events and
//!   stochastic draws), one lane with a current step besides.
//!
//! Compared bit for bit: the soma and a distal trace every step, every node's voltage, every
//! mechanism state, and every ion value at the end, and the errors.

use crate::common;

use common::conformance::{conformance_dir, s4_network};
use common::table::{SegmentTable, hay2011_mechanisms, isf_cell_tree};
use isf::kernel::synapse::SynapseSet;
use isf::kernel::{ActiveCell, CellConfig, KernelError};
use isf::model::MechModel;
use isf::network::generate_trial;
use isf::rng::trial_seed;
use isf::run::receptors::synapses_from_trial_input;
use isf::sim::CableTree;

/// What one lane gets besides the shared cell.
#[derive(Clone)]
struct LaneSetup {
    /// Somatic current steps: (delay, dur, amp).
    iclamps: Vec<(f64, f64, f64)>,
    /// An EPSP at the soma: (onset, tau0, tau1, imax).
    epsp: Option<(f64, f64, f64, f64)>,
    /// Synapses of the lane's trial.
    synapses: Option<SynapseSet>,
}

struct Cell {
    tree: CableTree,
    mechs: Vec<MechModel>,
    table: SegmentTable,
}

fn cell() -> Option<Cell> {
    let dir = conformance_dir();
    let inputs = dir.join("inputs");
    let hoc = inputs.join("86_C2_center.hoc");
    if !common::skip::require_data("conformance data", &[&hoc, &inputs.join("network.param")]) {
        return None;
    }
    let (tree, _) = isf_cell_tree(&hoc, &inputs.join("86_C2_center.param")).expect("cell");
    let table = SegmentTable::read(&dir.join("discretization/86_C2_center_segments.csv"))
        .expect("segment table");
    Some(Cell {
        tree,
        mechs: hay2011_mechanisms().expect("hay2011 lowers"),
        table,
    })
}

fn build(c: &Cell, lanes: usize, setups: &[LaneSetup]) -> ActiveCell {
    let placements = c.table.placements(&c.mechs).expect("placements");
    let mut cell = ActiveCell::with_lanes(
        c.tree.clone(),
        &placements,
        &c.table.reversals(),
        CellConfig::default(),
        lanes,
    )
    .expect("cell");
    for (lane, s) in setups.iter().enumerate() {
        if let Some(set) = &s.synapses {
            cell.add_synapses_in(lane, set.clone()).expect("synapses");
        }
        for &(delay, dur, amp) in &s.iclamps {
            cell.add_iclamp_in(lane, 0, 0.5, delay, dur, amp)
                .expect("iclamp");
        }
        if let Some((on, t0, t1, imax)) = s.epsp {
            cell.add_epsp_in(lane, 0, 0.5, on, t0, t1, imax)
                .expect("epsp");
        }
    }
    cell
}

/// The end state of lane `lane`: every node's voltage, every mechanism state and ion value.
fn end_state(cell: &ActiveCell, lane: usize) -> Vec<u64> {
    let lanes = cell.lanes();
    let mut out: Vec<u64> = Vec::new();
    let of_lane = |xs: &[f64], out: &mut Vec<u64>| {
        out.extend(xs.iter().skip(lane).step_by(lanes).map(|x| x.to_bits()));
    };
    of_lane(cell.v_mv(), &mut out);
    for p in cell.ions() {
        for col in [&p.e_mv, &p.ci_mm, &p.co_mm, &p.i_ma_cm2] {
            of_lane(col, &mut out);
        }
    }
    for m in cell.mechanisms() {
        for s in 0..m.state_names.len() {
            // Instances are (node, lane) pairs in node order: lane `lane` is every lanes-th.
            of_lane(m.state(s), &mut out);
        }
    }
    out
}

/// Run the lanes together and each alone; assert identical bits and errors.
fn assert_lanes_match_solo(c: &Cell, setups: &[LaneSetup], n_steps: usize) -> Vec<usize> {
    let lanes = setups.len();
    let soma = c.tree.node_at(0, 0.5);
    let distal = (c.tree.n_nodes() - 1) as u32;
    let probes = [soma, distal];
    let mut batch = build(c, lanes, setups);
    let got = batch.run_lanes(n_steps, &probes).expect("lanes run");
    assert_eq!(got.len(), lanes);
    let mut spikes = Vec::new();
    for (lane, s) in setups.iter().enumerate() {
        let mut solo = build(c, 1, std::slice::from_ref(s));
        let want = solo.run(n_steps, &probes);
        let (tr, err) = &got[lane];
        match (&want, err) {
            (Ok(w), None) => {
                assert_eq!(w.n_samples(), tr.n_samples());
                let bits = |t: &isf::kernel::Trace| -> Vec<u64> {
                    t.samples().iter().map(|x| x.to_bits()).collect()
                };
                assert!(bits(w) == bits(tr), "lane {lane} of {lanes}: traces differ");
                // The batch may have run on after a failed lane: compare end states only
                // where every lane finished.
                if got.iter().all(|(_, e)| e.is_none()) {
                    assert!(
                        end_state(&batch, lane) == end_state(&solo, 0),
                        "lane {lane} of {lanes}: end states differ"
                    );
                }
                let v = w.column(0);
                spikes.push(
                    (1..v.len())
                        .filter(|&i| v[i - 1] < 0.0 && v[i] >= 0.0)
                        .count(),
                );
            }
            (Err(e), Some(got_e)) => {
                assert_eq!(e, got_e, "lane {lane} of {lanes}: errors differ");
                spikes.push(usize::MAX);
            }
            (w, g) => panic!(
                "lane {lane} of {lanes}: solo {:?}, lane {:?}",
                w.as_ref().err(),
                g
            ),
        }
    }
    spikes
}

fn step(amp: f64) -> LaneSetup {
    LaneSetup {
        iclamps: vec![(10.0, 40.0, amp)],
        epsp: None,
        synapses: None,
    }
}

#[test]
fn s1_like_lanes_are_bit_identical_to_solo_runs() {
    let Some(c) = cell() else { return };
    let n_steps = 2400; // 60 ms
    let runaway = LaneSetup {
        iclamps: vec![(5.0, 40.0, 1.0e6)],
        ..step(0.0)
    };
    let with_epsp = LaneSetup {
        epsp: Some((12.0, 1.0, 5.0, 2.0)),
        ..step(0.3)
    };
    // Four lanes: spiking, subthreshold, runaway, EPSP.
    let four = [step(1.9), step(0.2), runaway.clone(), with_epsp.clone()];
    let s = assert_lanes_match_solo(&c, &four, n_steps);
    assert!(s[0] > 0, "lane 0 spikes: {s:?}");
    assert_eq!(s[1], 0, "lane 1 stays below threshold: {s:?}");
    assert_eq!(s[2], usize::MAX, "lane 2 runs away: {s:?}");
    // Three lanes (the general lane loop), all finishing: end states compared too.
    let s = assert_lanes_match_solo(&c, &[step(0.8), step(1.5), step(0.0)], n_steps);
    assert!(s[1] > 0 && s[2] == 0, "{s:?}");
    // Eight lanes of distinct amplitudes.
    let eight: Vec<LaneSetup> = (0..8).map(|k| step(0.25 * k as f64)).collect();
    let s = assert_lanes_match_solo(&c, &eight, 1200);
    assert!(s[0] == 0 && s[7] > 0, "{s:?}");
}

#[test]
fn s4_like_lanes_with_own_synapses_are_bit_identical_to_solo_runs() {
    let Some(c) = cell() else { return };
    let inputs = conformance_dir().join("inputs");
    let prep = s4_network(&inputs);
    let t_stop = 80.0;
    let lane = |t: u64, iclamp: bool| {
        let trial = generate_trial(&prep, trial_seed(2024, 0, t), t_stop);
        let set = synapses_from_trial_input(&prep.network, &trial).expect("synapses");
        LaneSetup {
            iclamps: if iclamp {
                vec![(20.0, 30.0, 2.0)]
            } else {
                vec![]
            },
            epsp: None,
            synapses: Some(set),
        }
    };
    let setups = [
        lane(0, false),
        lane(1, true),
        lane(2, false),
        lane(3, false),
    ];
    let s = assert_lanes_match_solo(&c, &setups, (t_stop / 0.025) as usize);
    assert!(s[1] > 0, "the lane with a current step spikes: {s:?}");
}

#[test]
fn lane_arguments_are_checked() {
    let Some(c) = cell() else { return };
    let placements = c.table.placements(&c.mechs).expect("placements");
    let r = ActiveCell::with_lanes(c.tree.clone(), &placements, &[], CellConfig::default(), 0);
    assert!(matches!(r, Err(KernelError::Setup { .. })));
    let mut cell = build(&c, 2, &[]);
    assert!(cell.add_iclamp_in(2, 0, 0.5, 0.0, 1.0, 1.0).is_err());
    // A solo run refuses a cell with lanes rather than running lane 0 only.
    assert!(cell.run(10, &[0]).is_err());
}
