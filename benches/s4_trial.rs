//! One S4 trial as `isf run tests/conformance/network.isf` does it, single thread: the ISF cell
//! in its full network (278 populations, 24,780 synapses, 300 ms at dt 0.025 ms). Prints the
//! split the issue asks for:
//!
//! * setup — checking the script (parse, ISF cell and network `.param`, lowering) and preparing
//!   the runner (reading `.syn`/`.con`, placing every synapse, resolving receptors to synapse
//!   mechanisms), paid once per experiment;
//! * trial — drawing the trial's presynaptic activity and releases, building the active cell
//!   and the synapse kernel, and integrating 12,000 steps; the input draw and the synapse
//!   kernel's construction are also timed alone.
//!
//! Times are thread CPU time (`/proc/thread-self/schedstat`) where available (wall time for the
//! two millisecond-scale parts), best and median of `ISF_BENCH_REPEATS` (default 3) repeats, so
//! another job on the second core inflates them little. Run with `cargo bench --bench s4_trial`; needs `../shared/conformance` (or
//! `ISF_CONFORMANCE` pointing at a copy whose parent also holds the script's relative paths).
//! Prints `SKIPPED:` without the data.
//!
//! Measured on the shared 2-vCPU dev VM, 2026-11-27, load average ≈ 1.6 (nothing else
//! compute-bound), 5 repeats: setup 12.0 + 24.0 ms best (check; runner), trial 848 ms best /
//! 892 ms median (input 1.2 ms, synapse kernel construction 4.9 ms), total 0.884 s best,
//! ≈ 0.93 s median.

use isf::run::exec::TrialRunner;
use isf::run::{point_values, work_items};
use std::path::Path;
use std::time::Instant;

/// Thread CPU time in seconds (wall time where schedstat is unavailable).
fn now() -> f64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse::<u64>().ok())
        .map(|ns| ns as f64 * 1e-9)
        .unwrap_or_else(|| {
            static T0: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
            T0.get_or_init(Instant::now).elapsed().as_secs_f64()
        })
}

fn stats(mut v: Vec<f64>) -> (f64, f64) {
    v.sort_by(f64::total_cmp);
    (v[0], v[v.len() / 2])
}

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    if !root
        .join("../shared/conformance/inputs/network.param")
        .is_file()
    {
        println!("SKIPPED: conformance data not found at ../shared/conformance");
        return;
    }
    let repeats: usize = std::env::var("ISF_BENCH_REPEATS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(3);
    let script = root.join("tests/conformance/network.isf");
    let (mut check_t, mut prep_t, mut trial_t, mut input_t, mut syn_t) =
        (vec![], vec![], vec![], vec![], vec![]);
    for rep in 0..repeats {
        let t0 = now();
        let c = isf::validate::check_path(&script);
        assert!(!c.has_errors(), "{:?}", c.diagnostics);
        let t1 = now();
        let exp = &c.model.experiments[0];
        let runner = isf::run::cellsim::CellRunner::new(&c.model, exp).expect("runner");
        let t2 = now();
        let items = work_items(exp);
        let out = runner
            .run(&items[rep % items.len()], &point_values(&exp.sweep, 0))
            .expect("trial");
        let t3 = now();
        check_t.push(t1 - t0);
        prep_t.push(t2 - t1);
        trial_t.push(t3 - t2);
        // The trial's input and synapse kernel alone, through the library.
        // Short phases: wall time (schedstat advances in scheduler ticks).
        let prep = runner.network().expect("network");
        let w4 = Instant::now();
        let inp = isf::network::generate_trial(prep, items[0].seed, exp.duration_ms);
        let input_s = w4.elapsed().as_secs_f64();
        let receptors =
            isf::run::receptors::NetworkReceptors::new(&prep.network, &c.model.mechanisms)
                .expect("receptors");
        let set = receptors.synapses(&inp).expect("synapses");
        let n = set.synapses.len();
        let tree = runner.cell_tree().expect("tree");
        let w6 = Instant::now();
        let k = isf::kernel::synapse::SynapseKernel::new(&tree, set.synapses, true, 0.025, 34.0)
            .expect("kernel");
        input_t.push(input_s);
        syn_t.push(w6.elapsed().as_secs_f64());
        if rep == 0 {
            let spikes = out.events.first().map_or(0, |e| e.1.len());
            println!(
                "trial {}: {} receptors, {} events, channels {:?}; {spikes} somatic spikes",
                rep,
                n,
                k.n_events(),
                k.channels()
            );
        }
    }
    let show = |name: &str, v: &[f64]| {
        let (best, med) = stats(v.to_vec());
        println!(
            "{name:<52} best {:>8.1} ms, median {:>8.1} ms",
            best * 1e3,
            med * 1e3
        );
        best
    };
    println!("S4 trial through the language, single thread, {repeats} repeats (thread CPU time):");
    let a = show(
        "setup: check script (parse, .param files, lowering)",
        &check_t,
    );
    let b = show("setup: runner (.syn/.con, placement, receptors)", &prep_t);
    let c = show("trial: input + cell + synapses + 12,000 steps", &trial_t);
    show(
        "  of which: presynaptic activity and releases (wall)",
        &input_t,
    );
    show("  of which: synapse kernel construction (wall)", &syn_t);
    println!(
        "total (setup + one trial): {:.3} s best; NEURON+ISF on this machine class: 11.8 s setup \
         + 7.7 s run",
        a + b + c
    );
}
