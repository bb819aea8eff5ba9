//! Network input against the ISF conformance data: placement (S3 table), the S4 network
//! (active synapses and release events per trial), determinism, and replay of a real ISF
//! synapse activation file.

use crate::common;

use isf::interop::formats::activation::{parse_activation, read_activation_file, write_activation};
use isf::interop::formats::param::{cell_params, read_param_file};
use isf::interop::network_param::isf_network_param;
use isf::interop::replay::{activation_rows, replay};
use isf::morph::{discretize, hoc};
use isf::network::{Placer, PreparedNetwork, Release, generate_trial, generate_trials};
use isf::rng::trial_seed;
use std::path::PathBuf;
use std::time::Instant;

fn conformance_dir() -> PathBuf {
    std::env::var_os("ISF_CONFORMANCE")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/work/shared/conformance"))
}

fn legacy_dir() -> PathBuf {
    conformance_dir().join("../isf-legacy-run")
}

/// The conformance cell (hoc + generated axon, ISF nseg) and the S4 network, prepared.
fn setup() -> Option<(Placer, PreparedNetwork)> {
    let dir = conformance_dir();
    let inputs = dir.join("inputs");
    if !common::skip::require_data("conformance data", &[&inputs.join("network.param")]) {
        return None;
    }
    let cp = cell_params(
        &read_param_file(&inputs.join("86_C2_center.param")).unwrap(),
        "86_C2_center.param",
    )
    .unwrap();
    let mut morph = hoc::read_hoc_file(&inputs.join("86_C2_center.hoc")).unwrap();
    morph.add_hay2013_axon();
    let nseg = discretize(&morph, &cp.discretization, &cp.passive);
    let placer = Placer::new(&morph, &nseg);
    let labels = morph
        .sections
        .iter()
        .map(|s| s.label.as_str().to_string())
        .collect();
    let t0 = Instant::now();
    let net = isf_network_param(&inputs.join("network.param")).unwrap();
    let t1 = Instant::now();
    let prep = PreparedNetwork::build(&net, &placer, labels, 0).unwrap();
    let t2 = Instant::now();
    eprintln!(
        "network.param parse {:.1} ms; .syn/.con read + check + placement {:.1} ms (debug/release as built)",
        (t1 - t0).as_secs_f64() * 1e3,
        (t2 - t1).as_secs_f64() * 1e3
    );
    Some((placer, prep))
}

#[test]
fn network_param_is_typed() {
    let Some((_, prep)) = setup() else { return };
    let net = &prep.network;
    assert_eq!(net.populations.len(), 278);
    assert_eq!(prep.n_synapses(), 24_780);
    let l5 = net.population("L5tt_C2").unwrap();
    assert_eq!(l5.release, Release::Probability(0.6));
    assert_eq!(l5.receptors[0].mechanism, "glutamate_syn");
    assert_eq!(l5.receptors[0].weights_ns, vec![1.59, 1.59]);
    assert_eq!(l5.excitatory, Some(true));
    let l1 = net.population("L1_C2").unwrap();
    assert_eq!(l1.release, Release::Probability(0.25));
    assert_eq!(l1.receptors[0].mechanism, "gaba_syn");
    assert_eq!(l1.receptors[0].weights_ns, vec![1.0]);
    assert_eq!(
        l1.excitatory,
        Some(false),
        "L1 is GABAergic (ISF's cell_types.py pitfall)"
    );
}

/// Placement against ISF/NEURON's S3 table: point index, effective x and compartment.
#[test]
fn placement_matches_s3_table() {
    let Some((_, prep)) = setup() else { return };
    let text = std::fs::read_to_string(conformance_dir().join("inputs/S3_synapses.csv")).unwrap();
    let mut lines = text.lines();
    let head: Vec<&str> = lines.next().unwrap().split(',').collect();
    let col = |n: &str| head.iter().position(|h| *h == n).unwrap();
    let (ct, idx, sec, pt, xe, seg) = (
        col("cell_type"),
        col("index_within_type"),
        col("section_id"),
        col("pt_index"),
        col("x_effective"),
        col("seg_index"),
    );
    let mut n = 0;
    for l in lines.filter(|l| !l.is_empty()) {
        let f: Vec<&str> = l.split(',').collect();
        let pi = prep
            .network
            .populations
            .iter()
            .position(|p| p.name == f[ct])
            .unwrap();
        let s = prep.synapse_range[pi].start + f[idx].parse::<usize>().unwrap();
        assert_eq!(prep.syn_section[s], f[sec].parse::<u32>().unwrap(), "{l}");
        assert_eq!(prep.syn_point[s], f[pt].parse::<u32>().unwrap(), "{l}");
        let x: f64 = f[xe].parse().unwrap();
        assert!(
            (prep.syn_x[s] - x).abs() < 1e-9,
            "{l}: x {} vs {x}",
            prep.syn_x[s]
        );
        assert_eq!(prep.syn_segment[s], f[seg].parse::<u32>().unwrap(), "{l}");
        n += 1;
    }
    assert_eq!(n, 200);
}

/// A real ISF run (2015) with the same embedding: every recorded synapse sits at the
/// recorded section and 3-D point, with the recorded soma distance; replay keeps the times,
/// and writing the rows back reproduces the numbers.
#[test]
fn legacy_activation_files_replay() {
    let Some((placer, prep)) = setup() else {
        return;
    };
    let path = legacy_dir().join("simulation_run0000_synapses.csv");
    if !common::skip::require_data("the ISF legacy run", &[&path]) {
        return;
    }
    let mut ties = 0;
    let mut max_diff = 0.0f64;
    for k in 0..6 {
        let path = legacy_dir().join(format!("simulation_run000{k}_synapses.csv"));
        let rows = read_activation_file(&path).unwrap();
        assert!(rows.len() > 3000, "{} rows", rows.len());
        let t = replay(&prep, &placer, &rows, &path.display().to_string()).unwrap();
        assert_eq!(t.n_active(), rows.len());
        for (i, r) in rows.iter().enumerate() {
            let s = t.get(i);
            assert_eq!(s.release_times_ms, r.times_ms.as_slice(), "row {i}");
            assert_eq!((s.section, s.point), (r.section, r.point));
            // Our placement of the .syn position gives the recorded point, or a point at the
            // same position (coincident end points: a tie ISF 2015 broke the other way).
            let p = prep.syn_point[t.synapse[i] as usize];
            if p != r.point {
                let rel = placer.rel_pts(r.section);
                assert_eq!(
                    rel[p as usize], rel[r.point as usize],
                    "row {i}: point {p} vs {}",
                    r.point
                );
                ties += 1;
            }
            let diff = (s.soma_distance_um - r.soma_distance_um).abs();
            // Not bit-equal: the 2015 run differs by up to ~2e-4 µm (cause not found: its
            // lengths or .syn digits; double and float32 lengths both leave it). 1 nm bound.
            max_diff = max_diff.max(diff);
            assert!(
                diff < 1e-3,
                "row {i}: soma distance {} vs {}",
                s.soma_distance_um,
                r.soma_distance_um
            );
            let sec_label = &prep.section_labels[s.section as usize];
            assert_eq!(sec_label, &r.label);
        }
        // Our output order (sorted types, then IDs) is ISF's: the rows come back unchanged.
        let back = activation_rows(&prep, &t);
        assert_eq!(back.len(), rows.len());
        for (a, b) in back.iter().zip(&rows) {
            assert_eq!(
                (&a.synapse_type, a.synapse_id),
                (&b.synapse_type, b.synapse_id)
            );
        }
        let again = parse_activation(&write_activation(&back), "rt").unwrap();
        assert_eq!(again, back);
    }
    eprintln!(
        "rows placed at a coincident point instead of the recorded one: {ties}; max soma-distance difference {max_diff:.2e} um"
    );
}

fn mean_sd(v: &[f64]) -> (f64, f64) {
    let n = v.len() as f64;
    let m = v.iter().sum::<f64>() / n;
    let var = v.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / (n - 1.0);
    (m, var.sqrt())
}

/// S4 statistics: mean active synapses and release events per trial over 200 trials vs the
/// 20 NEURON/ISF trials. Tolerance: 4 standard errors of the difference of the two means,
/// SE = sqrt(sd_ref²/20 + sd_ours²/200) with the sample SDs (reference SD ≈ 57 active, 82
/// releases → tolerance ≈ 54 and 77).
#[test]
fn s4_counts_match_reference() {
    let Some((_, prep)) = setup() else { return };
    let text =
        std::fs::read_to_string(conformance_dir().join("outputs/86_C2_center_S4_per_trial.csv"))
            .unwrap();
    let mut ref_active = Vec::new();
    let mut ref_rel = Vec::new();
    for l in text.lines().skip(1).filter(|l| !l.is_empty()) {
        let f: Vec<&str> = l.split(',').collect();
        ref_active.push(f[9].parse::<f64>().unwrap());
        ref_rel.push(f[10].parse::<f64>().unwrap());
    }
    assert_eq!(ref_active.len(), 20);
    let seeds: Vec<u64> = (0..200).map(|t| trial_seed(2024, 0, t)).collect();
    let trials = generate_trials(&prep, &seeds, 300.0);
    let ours_active: Vec<f64> = trials.iter().map(|t| t.n_active() as f64).collect();
    let ours_rel: Vec<f64> = trials.iter().map(|t| t.n_releases() as f64).collect();
    for (what, r, o) in [
        ("active synapses", &ref_active, &ours_active),
        ("release events", &ref_rel, &ours_rel),
    ] {
        let (rm, rs) = mean_sd(r);
        let (om, os) = mean_sd(o);
        let se = (rs * rs / r.len() as f64 + os * os / o.len() as f64).sqrt();
        eprintln!(
            "{what}: reference {rm:.1} ± {rs:.1} (n = {}), ours {om:.1} ± {os:.1} (n = {}), |Δ| = {:.1}, tolerance 4·SE = {:.1}",
            r.len(),
            o.len(),
            (rm - om).abs(),
            4.0 * se
        );
        assert!(
            (rm - om).abs() < 4.0 * se,
            "{what}: mean {om} vs reference {rm}"
        );
        // The spread is a property of the process too: SD within a factor 1.6 (the 95 %
        // range of the SD ratio for 20 vs 200 samples is about 0.70–1.43).
        assert!(
            os / rs < 1.6 && rs / os < 1.6,
            "{what}: SD {os} vs reference {rs}"
        );
    }
    // Release times are sorted, weights are the receptor's, every active synapse released.
    for t in trials.iter().take(5) {
        for s in t.iter() {
            assert!(!s.release_times_ms.is_empty());
            assert!(s.release_times_ms.windows(2).all(|w| w[0] <= w[1]));
            let pop = &prep.network.populations[s.population as usize];
            assert_eq!(s.weights_ns, pop.receptors[0].weights_ns.as_slice());
        }
    }
}

#[test]
fn determinism_across_threads() {
    let Some((_, prep)) = setup() else { return };
    let seeds: Vec<u64> = (0..16).map(|t| trial_seed(7, 3, t)).collect();
    let one = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .unwrap()
        .install(|| generate_trials(&prep, &seeds, 300.0));
    let two = rayon::ThreadPoolBuilder::new()
        .num_threads(2)
        .build()
        .unwrap()
        .install(|| generate_trials(&prep, &seeds, 300.0));
    assert_eq!(one, two);
    assert_eq!(one[3], generate_trial(&prep, seeds[3], 300.0));
    assert_ne!(one[0].release_times_ms, one[1].release_times_ms);
}
