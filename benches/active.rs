//! Active-cell benchmark: the conformance cell 86_C2_center (1,142 compartments, Hay channels
//! compiled by `isf::kernel`), case S1 at 0.793 nA (somatic step 100–250 ms), 300 ms at
//! dt = 0.025 ms (12,000 steps), three voltage probes, single thread. Prints the wall time of
//! the run loop (initialisation + steps), ns per compartment-step, and the split between
//! mechanism currents, matrix (axial terms + Hines solve) and state updates.
//!
//! Measured on the shared 2-vCPU EPYC (Zen 4, AVX-512) dev VM, 2026-12-04, load average ≈ 3
//! from other builds, `ISF_BENCH_STEPS=6000`, best of 5 on-CPU, three interleaved rounds: the
//! build before (stop 14) 47.8–48.2 ns per compartment-step; nodes stored by section (long
//! runs per mechanism) 37.5–37.8; plus in-place current kernels 35.9–36.0; plus kernels split
//! into loops by `exp` depth 32.9–33.6. In lanes (`ISF_LANES`, per trial, 4,000 steps): 4 lanes
//! 36.7 → 29.1, 8 lanes 35.1 → 29.2. Where the time goes now (perf): the four gate-state
//! kernels Ca_HVA, Ca_LVAst, Ih, NaTa_t ≈ 42 % (exp and division throughput), Hines 11 %, the
//! step's own loops 6 %. Figures move by ±5 % with the load; compare interleaved best-of-N
//! on-CPU times from one session (and the git log for older figures). In-place variants of the
//! split gate-state kernels (2026-12-04, load average 1.3–3.5, five interleaved rounds, best
//! on-CPU): solo 28.8–29.3 → 29.1–29.7 ns (no gain: the gather and its copies, ≈ 2 % of the
//! samples, go, but the in-place kernels themselves take about as much longer), 4 lanes
//! 25.1–25.8 → 24.8–25.7, 8 lanes 24.9–25.5 → 24.4–25.0 (4,000 steps, three rounds).
//! `exp` and `ln` with fused multiply-adds (revision 2 of the arithmetic; last bits change):
//! 32.8 → 29.4 ns solo. Session end, quiet (load < 1), best of 5 on-CPU, three interleaved
//! rounds against the stop-15 build: solo 32.7–33.3 → 30.0–30.6 ns, 4 lanes 28.9 → 25.0–25.4,
//! 8 lanes 28.3–28.6 → 24.4–25.1; NEURON 9.0.2 in the same session (`time.py`), median 240.2
//! ns, so 8.0× solo and 9.6× in 4 lanes.
//!
//! `ISF_LANES=L` runs `L` copies of the trial side by side in lanes (`ActiveCell::with_lanes`)
//! and reports per trial; `ISF_BENCH_STEPS` shortens the run (for instruction counts under
//! callgrind).
//!
//! Run with `cargo bench --bench active`. Needs the conformance data (`ISF_CONFORMANCE`, default
//! `../shared/conformance` next to the crate); prints `SKIPPED:` without it.

#[allow(dead_code)]
#[path = "../tests/common/table.rs"]
mod table;
use isf::kernel::{ActiveCell, CellConfig};
use std::path::PathBuf;
use std::time::Instant;
use table::{SegmentTable, hay2011_mechanisms, isf_cell_tree};

/// Runs per bench (`ISF_BENCH_REPEATS` overrides).
const REPEATS: usize = 5;

/// Nanoseconds this thread has been on a CPU (Linux `/proc/thread-self/schedstat`), so the
/// figure is not inflated by other jobs on a shared machine; `None` elsewhere.
fn cpu_ns() -> Option<u64> {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

fn main() {
    let dir = std::env::var_os("ISF_CONFORMANCE")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/conformance"));
    let hoc = dir.join("inputs/86_C2_center.hoc");
    if !hoc.exists() {
        println!("SKIPPED: conformance data not found at {}", dir.display());
        return;
    }
    let t0 = Instant::now();
    let (tree, _) = isf_cell_tree(&hoc, &dir.join("inputs/86_C2_center.param")).expect("cell");
    let mechs = hay2011_mechanisms().expect("hay2011");
    let table = SegmentTable::read(&dir.join("discretization/86_C2_center_segments.csv"))
        .expect("segment table");
    let placements = table.placements(&mechs).expect("placements");
    let reversals = table.reversals();
    let n_comp = tree.n_segments();
    let env_usize = |k: &str| std::env::var(k).ok().and_then(|s| s.parse::<usize>().ok());
    let lanes = env_usize("ISF_LANES").unwrap_or(1).max(1);
    let mut cell =
        ActiveCell::with_lanes(tree, &placements, &reversals, CellConfig::default(), lanes)
            .expect("active cell");
    println!(
        "build (tree, lowering, table, compile): {:.1} ms",
        t0.elapsed().as_secs_f64() * 1e3
    );
    println!(
        "{:<14} {:>9} {:>22} {:>16} {:>28}",
        "mechanism",
        "instances",
        "instr (cur/state/init)",
        "in-place chunks",
        "in-place kernels (cur/state)"
    );
    let mut elem_ops = 0usize;
    for m in cell.mechanisms() {
        let [a, b, c] = m.n_instructions;
        let (long, chunks) = m.in_place_chunks();
        // A program without an in-place kernel gathers on every chunk, long runs or not.
        let yes = |d: bool| if d { "yes" } else { "no" };
        let [dc, ds] = m.direct_kernels();
        println!(
            "{:<14} {:>9} {:>8}/{}/{} {:>13}/{} {:>28}",
            m.name,
            m.len(),
            a,
            b,
            c,
            long,
            chunks,
            format!("{}/{}", yes(dc), yes(ds))
        );
        elem_ops += (a + b) * m.len();
    }
    println!("column instructions x instances per step (currents + states): {elem_ops}");
    cell.add_iclamp(0, 0.5, 100.0, 150.0, 0.793)
        .expect("iclamp");
    // The phase split below needs the step's clock reads (off by default).
    cell.set_profiling(true);
    let t = cell.tree();
    let probes = [
        t.node_at(0, 0.5),
        t.segment_node(38, 32),
        t.segment_node(20, 0),
    ];
    let n_steps = env_usize("ISF_BENCH_STEPS").unwrap_or(12_000);
    let repeats = std::env::var("ISF_BENCH_REPEATS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(REPEATS)
        .max(1);
    let mut best = f64::INFINITY;
    let mut best_profile = cell.profile;
    let mut cpus = Vec::new();
    for rep in 0..repeats {
        cell.profile = Default::default();
        let c0 = cpu_ns();
        let t0 = Instant::now();
        let mut trs = cell.run_lanes(n_steps, &probes).expect("run");
        assert!(trs.iter().all(|(_, e)| e.is_none()), "a lane failed");
        let tr = trs.swap_remove(0).0;
        let s = t0.elapsed().as_secs_f64();
        let cpu = cpu_ns().zip(c0).map(|(a, b)| (a - b) as f64 * 1e-9);
        let spikes = (1..tr.n_samples())
            .filter(|&k| tr.v_mv(k - 1, 0) < 0.0 && tr.v_mv(k, 0) >= 0.0)
            .count();
        println!(
            "run {rep}: wall {s:.3} s, on-CPU {} s, {spikes} spikes",
            cpu.map_or("?".into(), |c| format!("{c:.3}"))
        );
        cpus.extend(cpu);
        if s < best {
            best = s;
            best_profile = cell.profile;
        }
    }
    let p = best_profile;
    // Per trial: with lanes, a compartment-step of every lane counts.
    let n_comp = n_comp * lanes;
    println!("lanes: {lanes} (figures below per trial)");
    let per = |d: std::time::Duration| d.as_secs_f64() * 1e9 / (n_steps as f64 * n_comp as f64);
    println!(
        "S1 0.793 nA, {n_comp} compartments, {n_steps} steps: best of {repeats} {best:.3} s = \
         {:.1} ns per compartment-step (currents {:.1}, matrix {:.1}, states {:.1})",
        best * 1e9 / (n_steps as f64 * n_comp as f64),
        per(p.currents),
        per(p.matrix),
        per(p.states)
    );
    println!(
        "kernel time per element-instruction (currents + states, best wall): {:.2} ns",
        (p.currents + p.states).as_secs_f64() * 1e9 / (n_steps as f64 * elem_ops as f64)
    );
    if !cpus.is_empty() {
        cpus.sort_by(f64::total_cmp);
        let (best_cpu, median_cpu) = (cpus[0], cpus[cpus.len() / 2]);
        let ns = |s: f64| s * 1e9 / (n_steps as f64 * n_comp as f64);
        println!(
            "on-CPU time: best {best_cpu:.3} s = {:.1} ns, median {median_cpu:.3} s = {:.1} ns \
             per compartment-step (load average of the machine: {})",
            ns(best_cpu),
            ns(median_cpu),
            std::fs::read_to_string("/proc/loadavg")
                .unwrap_or_default()
                .trim()
        );
    }
}
