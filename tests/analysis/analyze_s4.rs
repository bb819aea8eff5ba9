//! Binned synapse activations of the S4 network (the conformance case: ISF's L5PT cell in
//! its barrel-cortex network, 24,780 synapses of 278 presynaptic types): `isf analyze
//! synapses` on two trials run with `isf run` agrees with a direct computation here, down to
//! the count in every bin, for temporal (EI × cell type) and spatiotemporal (EI × 50 µm) binning.

use crate::common;

use isf::store::{Column, Store};
use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

/// Inhibitory cell types of the S4 network file, written out here independently of the
/// implementation's list.
const INHIBITORY: [&str; 11] = [
    "L1",
    "L23Trans",
    "L45Peak",
    "L45Sym",
    "L56Trans",
    "SymLocal1",
    "SymLocal2",
    "SymLocal3",
    "SymLocal4",
    "SymLocal5",
    "SymLocal6",
];

fn isf(args: &[&str]) {
    let o = Command::new(env!("CARGO_BIN_EXE_isf"))
        .args(args)
        .output()
        .expect("isf runs");
    assert!(
        o.status.success(),
        "isf {args:?}: {}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
}

fn counts(st: &Store, key: &str) -> (Vec<String>, Vec<f64>, usize, Option<Vec<f64>>) {
    let t = st.get_table(key).unwrap();
    let Some(Column::Str(l)) = t.column("sim_trial_index") else {
        panic!("{key}: labels")
    };
    let Some(Column::F64Array(a)) = t.column("counts") else {
        panic!("{key}: counts")
    };
    let (width, data) = (&a.ncols(), &isf::store::table::into_row_major(a.clone()));
    let d = match t.column("distance_from_um") {
        Some(Column::F64(d)) => Some(d.clone()),
        _ => None,
    };
    (l.clone(), data.clone(), *width, d)
}

#[test]
fn s4_binning_agrees_with_a_direct_count() {
    let shared = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/conformance/inputs");
    if !common::skip::require_data(
        "conformance data next to the repository",
        &[
            &shared.join("network.param"),
            &shared.join("86_C2_center.param"),
        ],
    ) {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let inputs = std::fs::canonicalize(&shared).unwrap();
    // Case S4 with two trials; dt 0.1 ms keeps the run short (release times do not depend
    // on dt).
    let script = dir.join("s4.isf");
    std::fs::write(
        &script,
        format!(
            r#"neuron L5PT = isf_param("{i}/86_C2_center.param")
network C2 = isf_network_param("{i}/network.param")
experiment S4 {{
    neuron: L5PT
    network: C2
    duration: 300 ms
    dt: 0.1 ms
    trials: 2
    seed: 1000
    record {{
        soma.v
        synapse_activations
    }}
}}
"#,
            i = inputs.display()
        ),
    )
    .unwrap();
    let store = dir.join("s4.isfdb");
    let (sc, st_) = (script.to_str().unwrap(), store.to_str().unwrap());
    isf(&["run", sc, "--out", st_]);
    let t0 = std::time::Instant::now();
    isf(&[
        "analyze",
        "synapses",
        st_,
        "S4",
        "--group-by",
        "EI,celltype",
        "--bin",
        "1",
    ]);
    isf(&[
        "analyze",
        "synapses",
        st_,
        "S4",
        "--group-by",
        "EI",
        "--bin",
        "1",
        "--max-time",
        "300",
        "--distance-bin",
        "50",
    ]);
    let took = t0.elapsed();

    // Direct computation from the stored per-trial activation tables.
    let st = Store::open(&store).unwrap();
    let acts = st.sub_existing("S4/synapse_activations").unwrap();
    let mut keys = acts.keys().unwrap();
    keys.sort();
    assert_eq!(keys, ["p000000_t000000", "p000000_t000001"]);
    // (group, trial, z, t) → count.
    let mut temporal: BTreeMap<(String, usize, usize), u64> = BTreeMap::new();
    let mut spatial: BTreeMap<(String, usize, usize, usize), u64> = BTreeMap::new();
    let mut groups_t = std::collections::BTreeSet::new();
    let mut max_z = 0;
    let mut total = 0u64;
    for (trial, k) in keys.iter().enumerate() {
        let t = acts.get_table(k).unwrap();
        let (Some(Column::Str(ty)), Some(Column::F64(d)), Some(Column::F64List(times))) = (
            t.column("synapse_type"),
            t.column("soma_distance_um"),
            t.column("release_times_ms"),
        ) else {
            panic!("activation columns")
        };
        assert!(ty.len() > 3000, "{} active synapses", ty.len());
        for i in 0..ty.len() {
            let cell = ty[i].split('_').next().unwrap();
            let ei = if INHIBITORY.contains(&cell) {
                "INH"
            } else {
                "EXC"
            };
            groups_t.insert(format!("{ei}__{cell}"));
            let z = (d[i] / 50.0).floor() as usize;
            max_z = max_z.max(z);
            for &x in &times[i] {
                // 1 ms bins over [0, 300]: bin ⌊x⌋, 300 itself in the last bin.
                if !(0.0..=300.0).contains(&x) {
                    continue;
                }
                let b = (x.floor() as usize).min(299);
                *temporal
                    .entry((format!("{ei}__{cell}"), trial, b))
                    .or_default() += 1;
                *spatial.entry((ei.to_string(), trial, z, b)).or_default() += 1;
                total += 1;
            }
        }
    }
    assert!(total > 8000, "{total} releases in two trials");

    let base = "S4/analysis/synapse_activation_binned/t1/EI__celltype";
    let sub = st.sub_existing(base).unwrap();
    let stored: Vec<String> = sub.keys().unwrap();
    assert_eq!(
        stored
            .iter()
            .cloned()
            .collect::<std::collections::BTreeSet<_>>(),
        groups_t,
        "one table per group"
    );
    let mut seen = 0u64;
    for g in &groups_t {
        let (labels, data, width, _) = counts(&st, &format!("{base}/{g}"));
        assert_eq!(labels, ["p000000/t000000", "p000000/t000001"]);
        assert_eq!(width, 300, "the plan's 300 ms in 1 ms bins");
        for trial in 0..2 {
            for b in 0..300 {
                let want = temporal.get(&(g.clone(), trial, b)).copied().unwrap_or(0);
                assert_eq!(
                    data[trial * 300 + b],
                    want as f64,
                    "{g} trial {trial} bin {b}"
                );
                seen += want;
            }
        }
    }
    assert_eq!(seen, total, "every release in exactly one bin");

    let base = "S4/analysis/synapse_activation_binned/t1_z50/EI";
    let n_z = max_z + 1;
    for g in ["EXC", "INH"] {
        let (labels, data, width, d) = counts(&st, &format!("{base}/{g}"));
        assert_eq!(width, 300);
        assert_eq!(labels.len(), 2 * n_z, "one row per trial and 50 um bin");
        let d = d.expect("distance column");
        for trial in 0..2 {
            for z in 0..n_z {
                let row = trial * n_z + z;
                assert_eq!(d[row], z as f64 * 50.0);
                for b in 0..300 {
                    let want = spatial
                        .get(&(g.to_string(), trial, z, b))
                        .copied()
                        .unwrap_or(0);
                    assert_eq!(
                        data[row * 300 + b],
                        want as f64,
                        "{g} trial {trial} z {z} bin {b}"
                    );
                }
            }
        }
    }
    eprintln!(
        "S4 binning: {total} releases of 2 trials, {} groups + spatiotemporal ({n_z} distance bins), two `isf analyze synapses` in {:.2} s",
        groups_t.len(),
        took.as_secs_f64()
    );
}
