//! Passive-cell benchmark: ~1,142 compartments, 300 ms at dt = 0.025 ms (12,000 steps), pas
//! everywhere, a somatic current clamp, three voltage probes, on the one engine users run
//! (`ActiveCell` with the standard library's compiled `pas`). Reports ns per compartment-step
//! (single thread). Run with `cargo bench --bench passive`; `ISF_BENCH_STEPS` and
//! `ISF_BENCH_REPEATS` shorten it (for instruction counts under callgrind).
//!
//! Cells:
//! * `synthetic`: [`branched_cell`] with exactly 1,142 segments;
//! * `86_C2_center (isf_param)`: the real cell from ISF's `.hoc` and `.param` files (directory
//!   from `ISF_CONFORMANCE`, default `../shared/conformance` next to the crate), lowered exactly
//!   as `isf run` does, with its `pas` densities.
//!
//! Measured on the 2-vCPU EPYC dev VM (other jobs on the second core): best of 5 runs
//! 5.8–6.9 ns per compartment-step for both cells (NEURON ~19 ns, Arbor ~9 ns passive) with
//! the former passive-only engine (hand-written `pas`); see the git log for the figures on
//! the one engine.
//!

#[allow(dead_code)]
#[path = "../tests/common/synth.rs"]
mod synth;

use isf::kernel::{ActiveCell, CellConfig, MechPlacement, stdlib_pas, steps_for};
use isf::morph::cell::CellGeometry;
use isf::sim::{CableTree, NodeId};
use std::path::PathBuf;
use std::time::Instant;
use synth::branched_cell;

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

/// The real cell the way a user gets it: ISF's parameter file through `isf_param`, lowered
/// by `lower::cell::build_cell` (morphology, generated axon, discretization, apical scaling);
/// only `pas` is simulated.
fn real_cell() -> Option<Bench> {
    let dir = conformance_dir();
    let param = dir.join("inputs/86_C2_center.param");
    if !param.is_file() {
        return None;
    }
    let text = format!(
        "neuron L5PT = isf_param({:?})\n",
        param.display().to_string()
    );
    let checked = isf::validate::check_text("bench.isf", &text, &dir);
    if checked.has_errors() {
        return None;
    }
    let neuron = checked.model.neurons.first()?;
    let cell = isf::lower::cell::build_cell(neuron, &checked.model.mechanisms).ok()?;
    let pas = cell.mechanism("pas")?;
    let col = |n: &str| pas.params.iter().find(|c| c.name == n).map(|c| &c.values);
    let (g, e) = (col("g")?, col("e")?);
    let mut per_sec: Vec<Vec<(f64, f64)>> = cell
        .geometry
        .sections
        .iter()
        .map(|s| vec![(0.0, -70.0); s.nseg])
        .collect();
    for (k, (&s, &seg)) in pas.section.iter().zip(&pas.seg).enumerate() {
        per_sec[s][seg] = (g[k], e[k]);
    }
    Some(Bench {
        name: "86_C2_center (isf_param)".into(),
        geom: cell.geometry,
        pas: per_sec,
        // Soma and the two conformance recording sites (sections 38 and 20).
        probes: vec![(0, 0.5), (38, 0.928571), (20, 0.038462)],
    })
}

/// Nanoseconds this thread has been on a CPU (Linux `/proc/thread-self/schedstat`), so that
/// the figure is not inflated by other jobs on a shared machine; `None` elsewhere.
fn cpu_ns() -> Option<u64> {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

fn run(b: &Bench) {
    let tree = CableTree::from_geometry(&b.geom).expect("valid geometry");
    let n_comp = tree.n_segments();
    let n_nodes = tree.n_nodes();
    // Segment order: section by section, segments from the 0-end (as `pas` is listed).
    let (g, e): (Vec<f64>, Vec<f64>) = b.pas.iter().flatten().copied().unzip();
    let pl = [MechPlacement {
        mechanism: stdlib_pas().expect("std pas"),
        segments: (0..n_comp).collect(),
        params: [("g".to_string(), g), ("e".to_string(), e)]
            .into_iter()
            .collect(),
    }];
    let cfg = CellConfig {
        dt_ms: DT_MS,
        v_init_mv: -75.0,
        ..Default::default()
    };
    let mut sim = ActiveCell::new(tree, &pl, &[], cfg).unwrap();
    sim.add_iclamp(0, 0.5, 100.0, 150.0, -0.1).unwrap();
    let probes: Vec<NodeId> = b
        .probes
        .iter()
        .map(|&(s, x)| sim.tree().node_at(s, x))
        .collect();
    let env_usize = |k: &str| std::env::var(k).ok().and_then(|s| s.parse::<usize>().ok());
    let n_steps = env_usize("ISF_BENCH_STEPS").unwrap_or(steps_for(T_STOP_MS, DT_MS));
    let repeats = env_usize("ISF_BENCH_REPEATS").unwrap_or(REPEATS).max(1);
    let mut times = Vec::new();
    let mut cpus = Vec::new();
    let mut v_end = 0.0;
    for _ in 0..repeats {
        let c0 = cpu_ns();
        let t0 = Instant::now();
        let rec = sim.run(n_steps, &probes).unwrap();
        times.push(t0.elapsed().as_secs_f64());
        cpus.extend(cpu_ns().zip(c0).map(|(a, b)| (a - b) as f64 * 1e-9));
        v_end = rec.v_mv(n_steps, 0);
    }
    times.sort_by(f64::total_cmp);
    cpus.sort_by(f64::total_cmp);
    let per = |s: f64| s * 1e9 / (n_comp as f64 * n_steps as f64);
    println!(
        "{}: {n_comp} compartments ({n_nodes} nodes), {n_steps} steps: best {:.3} s = {:.2} ns per \
         compartment-step, median {:.3} s = {:.2} ns (soma v at {:.1} ms: {v_end:.4} mV)",
        b.name,
        times[0],
        per(times[0]),
        times[repeats / 2],
        per(times[repeats / 2]),
        n_steps as f64 * DT_MS,
    );
    if let (Some(&best), Some(&median)) = (cpus.first(), cpus.get(cpus.len() / 2)) {
        println!(
            "  on-CPU: best {:.2} ns, median {:.2} ns per compartment-step (load average: {})",
            per(best),
            per(median),
            std::fs::read_to_string("/proc/loadavg")
                .unwrap_or_default()
                .trim()
        );
    }
}

fn main() {
    // `cargo test --benches` passes `--bench`-less flags; keep that cheap by only building.
    if std::env::args().any(|a| a == "--list" || a == "--test") {
        return;
    }
    run(&synthetic());
    match real_cell() {
        Some(b) => run(&b),
        None => println!(
            "86_C2_center tables not found in {} (set ISF_CONFORMANCE)",
            conformance_dir().display()
        ),
    }
}
