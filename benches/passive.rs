//! Passive-cell benchmark: ~1,142 compartments, 300 ms at dt = 0.025 ms (12,000 steps), pas
//! everywhere, a somatic current clamp, three voltage probes. Reports ns per compartment-step
//! (single thread). Run with `cargo bench --bench passive`.
//!
//! Cells:
//! * `synthetic`: [`branched_cell`] with exactly 1,142 segments;
//! * `86_C2_center (table)`: the real cell's topology, areas, axial resistances, cm and pas
//!   densities read from the conformance discretization tables, if found (directory from
//!   `ISF_CONFORMANCE`, default `../shared/conformance` next to the crate). The tables do not
//!   list the last half-segment resistance `ri(1)`; it is approximated by half the last
//!   segment's `ri` (exact for cylinders), which is irrelevant for timing.
//!
//! Measured on the 2-vCPU EPYC dev VM (other jobs on the second core): best of 5 runs
//! 5.8–6.9 ns per compartment-step for both cells (NEURON ~19 ns, Arbor ~9 ns passive).
//!
//! TODO(morph): once `crate::morph` exposes a `.hoc` reader and discretization, build the real
//! cell from `inputs/86_C2_center.hoc` + `.param` instead of the tables.

use isf::morph::cell::{CellGeometry, SectionGeometry};
use isf::sim::synth::branched_cell;
use isf::sim::{CableTree, NodeId, Pas, SimConfig, Simulation, steps_for};
use std::path::PathBuf;
use std::time::Instant;

const DT_MS: f64 = 0.025;
const T_STOP_MS: f64 = 300.0;
const REPEATS: usize = 5;

struct Bench {
    name: String,
    geom: CellGeometry,
    /// pas (g S/cm², e mV) per section and segment.
    pas: Vec<Vec<(f64, f64)>>,
    probes: Vec<(usize, f64)>,
}

fn synthetic() -> Bench {
    let geom = branched_cell(1142, 0x5eed);
    let pas = geom
        .sections
        .iter()
        .map(|s| vec![(6.31e-5, -90.0); s.nseg])
        .collect();
    let last = geom.sections.len() - 1;
    Bench {
        name: "synthetic".into(),
        pas,
        probes: vec![(0, 0.5), (last, 0.9), (last / 2, 0.1)],
        geom,
    }
}

fn conformance_dir() -> PathBuf {
    std::env::var_os("ISF_CONFORMANCE").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/conformance"),
        PathBuf::from,
    )
}

fn real_cell_from_tables() -> Option<Bench> {
    let dir = conformance_dir().join("discretization");
    let secs = std::fs::read_to_string(dir.join("86_C2_center_sections.csv")).ok()?;
    let segs = std::fs::read_to_string(dir.join("86_C2_center_segments.csv")).ok()?;
    let col = |header: &str, name: &str| header.split(',').position(|c| c == name);
    let mut lines = secs.lines();
    let h = lines.next()?;
    let (ci, cn, cp, cx, cl, cs, cra, ccm) = (
        col(h, "sec_index")?,
        col(h, "hoc_name")?,
        col(h, "parent_index")?,
        col(h, "parent_x")?,
        col(h, "L_um")?,
        col(h, "nseg")?,
        col(h, "Ra")?,
        col(h, "cm")?,
    );
    let mut sections = Vec::new();
    for line in lines {
        let f: Vec<&str> = line.split(',').collect();
        let idx: usize = f[ci].parse().ok()?;
        assert_eq!(idx, sections.len());
        let parent: i64 = f[cp].parse().ok()?;
        sections.push(SectionGeometry {
            name: f[cn].to_string(),
            parent: usize::try_from(parent).ok(),
            parent_x: f[cx].parse().unwrap_or(0.0),
            length_um: f[cl].parse().ok()?,
            nseg: f[cs].parse().ok()?,
            ra_ohm_cm: f[cra].parse().ok()?,
            cm_uf_cm2: f[ccm].parse().ok()?,
            ..Default::default()
        });
    }
    let mut pas: Vec<Vec<(f64, f64)>> = vec![Vec::new(); sections.len()];
    let mut lines = segs.lines();
    let h = lines.next()?;
    let (si, sx, sa, sr, sg, se) = (
        col(h, "sec_index")?,
        col(h, "x")?,
        col(h, "area_um2")?,
        col(h, "ri_Mohm")?,
        col(h, "pas.g")?,
        col(h, "pas.e")?,
    );
    for line in lines {
        let f: Vec<&str> = line.split(',').collect();
        let s: usize = f[si].parse().ok()?;
        let sec = &mut sections[s];
        sec.seg_x.push(f[sx].parse().ok()?);
        sec.seg_area_um2.push(f[sa].parse().ok()?);
        sec.seg_ri_mohm.push(f[sr].parse().ok()?);
        pas[s].push((f[sg].parse().ok()?, f[se].parse().ok()?));
    }
    for sec in &mut sections {
        let last = *sec.seg_ri_mohm.last()?;
        sec.end_ri_mohm = if sec.nseg == 1 { last } else { last / 2.0 };
    }
    Some(Bench {
        name: "86_C2_center (table)".into(),
        geom: CellGeometry { sections },
        pas,
        // Soma and the two conformance recording sites (sections 38 and 20).
        probes: vec![(0, 0.5), (38, 0.928571), (20, 0.038462)],
    })
}

fn run(b: &Bench) {
    let tree = CableTree::from_geometry(&b.geom).expect("valid geometry");
    let n_comp = tree.n_segments();
    let n_nodes = tree.n_nodes();
    let mut sim = Simulation::new(
        tree,
        SimConfig {
            dt_ms: DT_MS,
            v_init_mv: -75.0,
            ..Default::default()
        },
    )
    .unwrap();
    let (mut nodes, mut g, mut e) = (Vec::new(), Vec::new(), Vec::new());
    for (s, per_seg) in b.pas.iter().enumerate() {
        for (k, &(gk, ek)) in per_seg.iter().enumerate() {
            nodes.push(sim.tree().segment_node(s, k));
            g.push(gk);
            e.push(ek);
        }
    }
    sim.add_mechanism(Box::new(Pas::new(nodes, g, e).unwrap()))
        .unwrap();
    sim.add_iclamp(0, 0.5, 100.0, 150.0, -0.1).unwrap();
    let probes: Vec<NodeId> = b
        .probes
        .iter()
        .map(|&(s, x)| sim.tree().node_at(s, x))
        .collect();
    let n_steps = steps_for(T_STOP_MS, DT_MS);
    let mut times = Vec::new();
    let mut v_end = 0.0;
    for _ in 0..REPEATS {
        let t0 = Instant::now();
        let rec = sim.run(n_steps, &probes).unwrap();
        times.push(t0.elapsed().as_secs_f64());
        v_end = rec.v_mv(n_steps, 0);
    }
    times.sort_by(f64::total_cmp);
    let per = |s: f64| s * 1e9 / (n_comp as f64 * n_steps as f64);
    println!(
        "{}: {n_comp} compartments ({n_nodes} nodes), {n_steps} steps: best {:.3} s = {:.2} ns per \
         compartment-step, median {:.3} s = {:.2} ns (soma v at {T_STOP_MS} ms: {v_end:.4} mV)",
        b.name,
        times[0],
        per(times[0]),
        times[REPEATS / 2],
        per(times[REPEATS / 2]),
    );
}

fn main() {
    // `cargo test --benches` passes `--bench`-less flags; keep that cheap by only building.
    if std::env::args().any(|a| a == "--list" || a == "--test") {
        return;
    }
    run(&synthetic());
    match real_cell_from_tables() {
        Some(b) => run(&b),
        None => println!(
            "86_C2_center tables not found in {} (set ISF_CONFORMANCE)",
            conformance_dir().display()
        ),
    }
}
