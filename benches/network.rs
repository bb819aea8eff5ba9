//! Network input timing on the conformance cell (S4): file parsing and preparation, then
//! activity + release for one 300 ms trial, single thread. Prints the figures.

use isf::interop::formats::param::{cell_params, read_param_file};
use isf::interop::network_param::isf_network_param;
use isf::morph::{discretize, hoc};
use isf::network::{Placer, PreparedNetwork, generate_trial};
use isf::rng::trial_seed;
use std::path::PathBuf;
use std::time::Instant;

fn main() {
    let dir = std::env::var_os("ISF_CONFORMANCE")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/work/shared/conformance"));
    let inputs = dir.join("inputs");
    if !inputs.join("network.param").exists() {
        eprintln!("SKIPPED: conformance data not found at {}", dir.display());
        return;
    }
    let cp = cell_params(
        &read_param_file(&inputs.join("86_C2_center.param")).unwrap(),
        "86_C2_center.param",
    )
    .unwrap();
    let mut morph = hoc::read_hoc_file(&inputs.join("86_C2_center.hoc")).unwrap();
    morph.add_hay2013_axon();
    let nseg = discretize(&morph, &cp.discretization, &cp.passive);
    let labels: Vec<String> = morph
        .sections
        .iter()
        .map(|s| s.label.as_str().to_string())
        .collect();
    let (mut parse, mut prep_t) = (f64::INFINITY, f64::INFINITY);
    let mut prep = None;
    for _ in 0..5 {
        let t0 = Instant::now();
        let net = isf_network_param(&inputs.join("network.param")).unwrap();
        let t1 = Instant::now();
        let placer = Placer::new(&morph, &nseg);
        let p = PreparedNetwork::build(&net, &placer, labels.clone(), 0).unwrap();
        let t2 = Instant::now();
        parse = parse.min((t1 - t0).as_secs_f64() * 1e3);
        prep_t = prep_t.min((t2 - t1).as_secs_f64() * 1e3);
        prep = Some(p);
    }
    let prep = prep.unwrap();
    println!("network.param parse + typing: {parse:.2} ms (best of 5)");
    println!(
        ".syn + .con read, cross-check, placement of {} synapses: {prep_t:.2} ms (best of 5)",
        prep.n_synapses()
    );
    let n = 200;
    let mut times = Vec::with_capacity(n);
    let (mut act, mut rel) = (0usize, 0usize);
    for t in 0..n as u64 {
        let seed = trial_seed(1, 0, t);
        let t0 = Instant::now();
        let tr = generate_trial(&prep, seed, 300.0);
        times.push(t0.elapsed().as_secs_f64() * 1e3);
        act += tr.n_active();
        rel += tr.n_releases();
    }
    times.sort_by(f64::total_cmp);
    println!(
        "one S4 trial (278 populations, {} presynaptic cells, 24,780 synapses, 300 ms), single thread: median {:.3} ms, min {:.3} ms, p90 {:.3} ms over {n} trials (ISF setup: 11.8 s)",
        prep.n_cells(),
        times[n / 2],
        times[0],
        times[n * 9 / 10]
    );
    println!(
        "mean active synapses {:.1}, release events {:.1}",
        act as f64 / n as f64,
        rel as f64 / n as f64
    );
}
