//! `isf db import-isf`: ISF simrun result folders into a store.
//!
//! * Folders generated here from the documented formats (spec 05 §5.5–5.9, 10 §10.6): a 3-trial
//!   folder with today's naming and one with the older naming of §5.9 (uid `<pid>`, trial
//!   numbers that are not 0…n−1) import with the expected keys, rows and values.
//! * Corrupt files are reported with file, line and code while the rest imports; importing
//!   again writes nothing, a fixed file is added, changed content is refused (E0616).
//! * `../shared/isf-legacy-run` (or `$ISF_LEGACY_RUN`) imports, and its tables match what
//!   `formats::activation` reads.
//! * The Python reader reads an imported store.

use crate::common;
use common::cli::{output as isf, text};

use isf::store::{Column, Kind, Store, Table};
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};

/// What the generator wrote into one folder, to check the import against.
struct Generated {
    dir: PathBuf,
    /// ISF trial numbers, ascending (trace column k belongs to `trials[k]`).
    trials: Vec<u64>,
    times: Vec<f64>,
    soma: Vec<Vec<f64>>,
    dend: Vec<Vec<f64>>,
    dend_label: String,
    /// Per trial: synapse rows and the sum of their release times.
    syn_rows: Vec<usize>,
    syn_sum: Vec<f64>,
    cell_rows: Vec<usize>,
    /// Index of the sample where trial 1's soma crosses 0 mV.
    spike_at: usize,
}

const SAMPLES: usize = 401;

/// Write a simrun folder as ISF does. `old` uses the naming of spec 05 §5.9 (uid = pid,
/// 12 significant digits, traces from 100 ms) and trial numbers 5, 7, 12 as a replay run has.
fn generate(parent: &Path, old: bool) -> Generated {
    let (name, uid, trials): (&str, &str, Vec<u64>) = if old {
        ("20150815-1530_20240", "20240", vec![5, 7, 12])
    } else {
        (
            "20250101-1553_seed123_pid456",
            "seed123_pid456",
            vec![0, 1, 2],
        )
    };
    let dir = parent.join(name);
    fs::create_dir_all(&dir).unwrap();
    let t0 = if old { 100.0 } else { 0.0 };
    let times: Vec<f64> = (0..SAMPLES)
        .map(|k| {
            let t: f64 = t0 + k as f64 * 0.025;
            format!("{t:.3}").parse().unwrap()
        })
        .collect();
    let spike_at = 200;
    let num = |x: f64| -> f64 {
        if old {
            format!("{x:.12}").parse().unwrap()
        } else {
            x
        }
    };
    let soma: Vec<Vec<f64>> = (0..3)
        .map(|n| {
            (0..SAMPLES)
                .map(|k| {
                    if n == 1 && (spike_at..spike_at + 8).contains(&k) {
                        25.0 - (k - spike_at) as f64
                    } else {
                        num(-75.0 + (k as f64 * 0.37 + n as f64).sin() * 3.0)
                    }
                })
                .collect()
        })
        .collect();
    let dend: Vec<Vec<f64>> = (0..3)
        .map(|n| {
            (0..SAMPLES)
                .map(|k| num(-70.0 + (k as f64 * 0.11 - n as f64).cos() * 2.5))
                .collect()
        })
        .collect();
    let trace_file = |cols: &[Vec<f64>]| {
        let mut s = String::from("t");
        for k in 0..cols.len() {
            write!(s, "\tVm run {k:02}").unwrap();
        }
        s.push('\n');
        for (i, t) in times.iter().enumerate() {
            write!(s, "{t}").unwrap();
            for c in cols {
                write!(s, "\t{}", c[i]).unwrap();
            }
            s.push('\n');
        }
        s
    };
    fs::write(
        dir.join(format!("{uid}_vm_all_traces.csv")),
        trace_file(&soma),
    )
    .unwrap();
    let dend_label =
        "apical_proximal_distal_rec_sites_ID_001_sec_025_seg_001_x_0.500_somaDist_198.1";
    fs::write(
        dir.join(format!("{uid}_{dend_label}_vm_dend_traces.csv")),
        trace_file(&dend),
    )
    .unwrap();
    let (mut syn_rows, mut syn_sum, mut cell_rows) = (Vec::new(), Vec::new(), Vec::new());
    let pad = |n: u64| {
        if old {
            format!("{n:07}")
        } else {
            format!("{n:04}")
        }
    };
    for (i, &n) in trials.iter().enumerate() {
        let mut s = String::from(isf::interop::formats::activation::HEADER);
        s.push('\n');
        let (mut rows, mut sum) = (0, 0.0);
        for (ty, count) in [("L4ss_C2", 2 + i), ("VPM_C2", 3)] {
            for id in 0..count {
                let ts = [10.5 + id as f64 * 3.25, 47.125 + i as f64];
                write!(
                    s,
                    "{ty}\t{id}\t{}\t{}\t{}\tBasalDendrite\t",
                    100.5 + id as f64 * 7.0,
                    3 + id,
                    id * 2
                )
                .unwrap();
                for t in &ts[..1 + id % 2] {
                    write!(s, "{t},").unwrap();
                    sum += t;
                }
                s.push('\n');
                rows += 1;
            }
        }
        fs::write(
            dir.join(format!("simulation_run{}_synapses.csv", pad(n))),
            s,
        )
        .unwrap();
        syn_rows.push(rows);
        syn_sum.push(sum);
        let mut c = String::from(isf::interop::formats::presynaptic::HEADER);
        c.push('\n');
        for id in 0..4 + i {
            writeln!(c, "L4ss_C2\t{}\t{},{},", id * 3, 1.5 + id as f64, 90.25).unwrap();
        }
        fs::write(
            dir.join(format!("simulation_run{}_presynaptic_cells.csv", pad(n))),
            c,
        )
        .unwrap();
        cell_rows.push(4 + i);
    }
    let prefix = if old {
        format!("{uid}_")
    } else {
        String::new()
    };
    let neuron = "{\n    \"info\": {\n        \"name\": \"toy\"\n    },\n    \"sim\": {\n        \"tStop\": 10.0,\n        \"dt\": 0.025,\n        \"recordingSites\": [\n            \"sites.landmarkAscii\"\n        ]\n    }\n}\n";
    let network =
        "{\n    \"info\": {\n        \"name\": \"toy_network\"\n    },\n    \"network\": {}\n}\n";
    fs::write(dir.join(format!("{prefix}neuron_model.param")), neuron).unwrap();
    fs::write(dir.join(format!("{prefix}network_model.param")), network).unwrap();
    fs::write(dir.join("hostname_node17"), "").unwrap();
    Generated {
        dir,
        trials,
        times,
        soma,
        dend,
        dend_label: dend_label.to_string(),
        syn_rows,
        syn_sum,
        cell_rows,
        spike_at,
    }
}

/// Keys per imported 3-trial folder: 3 × (synapse activations, presynaptic spikes, trial),
/// soma and dendritic traces, their spike events, two parameter files, the import record.
const KEYS_PER_FOLDER: usize = 3 * 3 + 2 + 2 + 2 + 1;

fn expected_rows(g: &Generated) -> u64 {
    let syn: usize = g.syn_rows.iter().sum();
    let cells: usize = g.cell_rows.iter().sum();
    // trial keys (1 row each), 2 trace tables and 2 event tables of 3 rows each.
    (syn + cells + 3 + 4 * 3) as u64
}

/// The summary line of folder `key` in the output: `(keys written, rows)`.
fn folder_counts(out: &str, key: &str) -> (usize, u64) {
    let line = out
        .lines()
        .find(|l| l.contains(&format!("-> {key}:")))
        .unwrap_or_else(|| panic!("no line for {key} in\n{out}"));
    let num = |what: &str| -> u64 {
        let i = line
            .find(what)
            .unwrap_or_else(|| panic!("{what} in {line}"));
        line[..i]
            .trim_end()
            .rsplit(' ')
            .next()
            .unwrap()
            .parse()
            .unwrap()
    };
    (num(" key(s) written") as usize, num(" row(s)"))
}

fn sub(store: &Store, key: &str) -> Store {
    store.sub_existing(key).unwrap()
}

fn f64_array(t: &Table, name: &str) -> (usize, Vec<f64>) {
    match t.column(name) {
        Some(Column::F64Array(a)) => (a.ncols(), isf::store::table::into_row_major(a.clone())),
        other => panic!("{name}: {other:?}"),
    }
}

fn strs(t: &Table, name: &str) -> Vec<String> {
    match t.column(name) {
        Some(Column::Str(v)) => v.clone(),
        other => panic!("{name}: {other:?}"),
    }
}

fn lists(t: &Table, name: &str) -> Vec<Vec<f64>> {
    match t.column(name) {
        Some(Column::F64List(v)) => v.clone(),
        other => panic!("{name}: {other:?}"),
    }
}

fn labels(t: &Table) -> Vec<f64> {
    t.attrs["vm.labels"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect()
}

/// Check one imported folder against what was generated.
fn check_folder(exp: &Store, g: &Generated, rel: &str) {
    let tl: Vec<String> = g
        .trials
        .iter()
        .map(|n| format!("p000000/t{n:06}"))
        .collect();
    // Soma traces: ISF's column k is the k-th smallest trial number; times from the file.
    let soma = sub(exp, "traces").get_table("soma.v").unwrap();
    assert_eq!(strs(&soma, "sim_trial_index"), tl);
    assert_eq!(labels(&soma), g.times);
    let (w, data) = f64_array(&soma, "vm");
    assert_eq!(w, SAMPLES);
    assert_eq!(data, g.soma.concat());
    let dkey = format!("{}.v", g.dend_label);
    let dend = sub(exp, "traces").get_table(&dkey).unwrap();
    assert_eq!(f64_array(&dend, "vm").1, g.dend.concat());
    assert_eq!(
        dend.attrs["recording"].as_str(),
        Some(dkey.as_str()),
        "recording name"
    );
    // Spikes at 0 mV: only trial index 1, at the first sample ≥ 0 mV.
    let ev = sub(exp, "events").get_table("spikes_soma_").unwrap();
    assert_eq!(strs(&ev, "sim_trial_index"), tl);
    assert_eq!(
        lists(&ev, "times_ms"),
        vec![vec![], vec![g.times[g.spike_at]], vec![]]
    );
    for (i, &n) in g.trials.iter().enumerate() {
        let key = format!("p000000_t{n:06}");
        let sa = sub(exp, "synapse_activations").get_table(&key).unwrap();
        assert_eq!(sa.rows().unwrap(), g.syn_rows[i]);
        let sum: f64 = lists(&sa, "release_times_ms").iter().flatten().sum();
        assert!(
            (sum - g.syn_sum[i]).abs() < 1e-9,
            "{sum} vs {}",
            g.syn_sum[i]
        );
        let ps = sub(exp, "presynaptic_spikes").get_table(&key).unwrap();
        assert_eq!(ps.rows().unwrap(), g.cell_rows[i]);
        // The trial key: one row with the traces and spikes, like a trial of `isf run`.
        let trials = sub(exp, "trials");
        let t = trials.get_table(&key).unwrap();
        assert_eq!(t.rows().unwrap(), 1);
        assert_eq!(f64_array(&t, "soma.v").1, g.soma[i]);
        assert_eq!(
            strs(&t, "isf_sim_trial_index"),
            vec![format!("{rel}/{n:06}")]
        );
        let m = trials.metadata(&key).unwrap();
        let src = g.dir.canonicalize().unwrap();
        assert!(
            m.extra["source_synapses"].starts_with(src.to_str().unwrap())
                && m.extra["source_synapses"].ends_with("_synapses.csv"),
            "{:?}",
            m.extra
        );
        assert!(m.extra["source_traces"].ends_with("_vm_all_traces.csv"));
    }
    let p: serde_json::Value = sub(exp, "params").get("neuron_model").unwrap();
    assert_eq!(p["param"]["sim"]["tStop"], 10.0);
    assert_eq!(exp.kind("import").unwrap(), Kind::Value);
}

#[test]
fn generated_folders_import_with_their_keys_rows_and_values() {
    let d = tempfile::tempdir().unwrap();
    let results = d.path().join("results");
    let new = generate(&results, false);
    let old = generate(&results, true);
    let db = d.path().join("db");
    let o = isf(&[
        "db",
        "import-isf",
        results.to_str().unwrap(),
        "--into",
        db.to_str().unwrap(),
    ]);
    let (out, err) = text(&o);
    eprintln!("{out}{err}");
    assert!(o.status.success(), "{err}");
    assert!(!out.contains("INCOMPLETE"), "{out}");
    let store = Store::open(&db).unwrap();
    for (g, name) in [
        (&new, "20250101-1553_seed123_pid456"),
        (&old, "20150815-1530_20240"),
    ] {
        let key = format!("results/{name}");
        let (keys, rows) = folder_counts(&out, &key);
        let exp = store.sub_existing(&key).unwrap();
        assert_eq!(keys, KEYS_PER_FOLDER, "{key}");
        assert_eq!(exp.keys_recursive().unwrap().len(), KEYS_PER_FOLDER);
        assert_eq!(rows, expected_rows(g), "{key}");
        check_folder(&exp, g, &format!("results/{name}"));
        println!("{key}: {keys} keys, {rows} rows");
    }
    let exp = store
        .sub_existing("results/20250101-1553_seed123_pid456")
        .unwrap();
    let m = exp.sub_existing("trials").unwrap();
    assert_eq!(m.metadata("p000000_t000000").unwrap().seed, Some(123));
    assert!(out.contains("1 other file(s) not read"), "{out}");
    // The store checks clean, and `isf db` tools read it.
    let v = isf(&["db", "verify", db.to_str().unwrap()]);
    assert!(v.status.success(), "{}", text(&v).1);
    let csv = d.path().join("soma.csv");
    let e = isf(&[
        "db",
        "export",
        db.to_str().unwrap(),
        "results/20150815-1530_20240/traces/soma.v",
        "-o",
        csv.to_str().unwrap(),
    ]);
    assert!(e.status.success(), "{}", text(&e).1);
    assert_eq!(fs::read_to_string(&csv).unwrap().lines().count(), 4);

    // Importing again writes nothing.
    let o = isf(&[
        "db",
        "import-isf",
        results.to_str().unwrap(),
        "--into",
        db.to_str().unwrap(),
    ]);
    let (out, err) = text(&o);
    assert!(o.status.success(), "{err}");
    assert!(
        out.contains("0 key(s) written, 32 unchanged, 0 row(s)"),
        "{out}"
    );
}

#[test]
fn corrupt_files_are_reported_and_the_rest_imports() {
    let d = tempfile::tempdir().unwrap();
    let g = generate(d.path(), false);
    let syn = g.dir.join("simulation_run0001_synapses.csv");
    let good_syn = fs::read_to_string(&syn).unwrap();
    let mut lines: Vec<String> = good_syn.lines().map(String::from).collect();
    lines[2] = lines[2].replace("\tBasalDendrite\t", "\tBasalDendrite\t12.5,oops,");
    fs::write(&syn, lines.join("\n") + "\n").unwrap();
    let dend = fs::read_dir(&g.dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| p.to_string_lossy().ends_with("_vm_dend_traces.csv"))
        .unwrap();
    let good_dend = fs::read_to_string(&dend).unwrap();
    let mut lines: Vec<String> = good_dend.lines().map(String::from).collect();
    lines[10] = lines[10].split('\t').take(3).collect::<Vec<_>>().join("\t");
    fs::write(&dend, lines.join("\n") + "\n").unwrap();

    let db = d.path().join("db");
    let run = || {
        let o = isf(&[
            "db",
            "import-isf",
            g.dir.to_str().unwrap(),
            "--into",
            db.to_str().unwrap(),
        ]);
        let (out, err) = text(&o);
        (o.status.code(), out, err)
    };
    let (code, out, err) = run();
    eprintln!("{out}{err}");
    assert_eq!(code, Some(1), "a skipped file makes the exit status 1");
    let syn_at = format!("error[E0805]: {}:3:", syn.canonicalize().unwrap().display());
    assert!(err.contains(&syn_at), "{err}");
    let dend_at = format!(
        "error[E0614]: {}:11:",
        dend.canonicalize().unwrap().display()
    );
    assert!(err.contains(&dend_at), "{err}");
    assert!(
        out.contains("INCOMPLETE: 2 file(s) skipped") && out.contains("the rest is stored"),
        "{out}"
    );
    let store = Store::open(&db).unwrap();
    let exp = store.sub_existing("20250101-1553_seed123_pid456").unwrap();
    let sa = exp.sub_existing("synapse_activations").unwrap();
    assert_eq!(sa.keys().unwrap(), ["p000000_t000000", "p000000_t000002"]);
    assert_eq!(exp.sub_existing("trials").unwrap().keys().unwrap().len(), 3);
    assert_eq!(
        exp.sub_existing("traces").unwrap().keys().unwrap(),
        ["soma.v"]
    );
    let (keys, _) = folder_counts(&out, "20250101-1553_seed123_pid456");
    assert_eq!(
        keys,
        KEYS_PER_FOLDER - 3,
        "no dendritic traces/events, one synapse table fewer"
    );

    // Again: nothing new, the same errors, still exit 1.
    let (code, out, err) = run();
    assert_eq!(code, Some(1));
    assert!(
        err.contains(&syn_at) && out.contains(" 0 key(s) written"),
        "{out}"
    );

    // Fixed files are added; the trial keys gain the dendritic trace columns.
    fs::write(&syn, &good_syn).unwrap();
    fs::write(&dend, &good_dend).unwrap();
    let (code, out, err) = run();
    assert_eq!(code, Some(0), "{out}{err}");
    assert_eq!(
        folder_counts(&out, "20250101-1553_seed123_pid456").0,
        1 + 2 + 3 + 1,
        "synapse table, dendritic trace and event tables, 3 extended trial keys, the record:\n{out}"
    );
    check_folder(&exp, &g, "20250101-1553_seed123_pid456");

    // Changed content is refused and nothing of the folder is written.
    let before = sa.get_table("p000000_t000000").unwrap();
    let s0 = g.dir.join("simulation_run0000_synapses.csv");
    let changed = fs::read_to_string(&s0)
        .unwrap()
        .replacen("10.5,", "10.75,", 1);
    fs::write(&s0, changed).unwrap();
    let (code, out, err) = run();
    assert_eq!(code, Some(1));
    assert!(
        err.contains("error[E0616]") && err.contains("synapse_activations/p000000_t000000"),
        "{err}"
    );
    assert!(out.contains("refused"), "{out}");
    assert_eq!(sa.get_table("p000000_t000000").unwrap(), before);
}

#[test]
fn paths_and_targets_that_cannot_be_imported() {
    let d = tempfile::tempdir().unwrap();
    let db = d.path().join("db");
    let o = isf(&[
        "db",
        "import-isf",
        d.path().join("nowhere").to_str().unwrap(),
        "--into",
        db.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o).1.contains("error[E0617]"), "{}", text(&o).1);
    let empty = d.path().join("empty");
    fs::create_dir_all(empty.join("a_running")).unwrap();
    let o = isf(&[
        "db",
        "import-isf",
        empty.to_str().unwrap(),
        "--into",
        db.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o).1.contains("error[E0617]"));
    // A key holding results of `isf run` (it has a plan) is not imported into.
    let g = generate(d.path(), false);
    let store = Store::create(&db).unwrap();
    store
        .put(
            "20250101-1553_seed123_pid456/plan",
            &serde_json::json!({"name": "x"}),
        )
        .unwrap();
    let o = isf(&[
        "db",
        "import-isf",
        g.dir.to_str().unwrap(),
        "--into",
        db.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o).1.contains("error[E0618]"), "{}", text(&o).1);
    assert_eq!(
        store
            .sub_existing("20250101-1553_seed123_pid456")
            .unwrap()
            .keys()
            .unwrap(),
        ["plan"]
    );
    // Another writer holds the store: nothing is imported (E0611).
    store.delete("20250101-1553_seed123_pid456").unwrap();
    let held = isf::store::lock::lock(&db, "test writer").unwrap();
    let o = isf(&[
        "db",
        "import-isf",
        g.dir.to_str().unwrap(),
        "--into",
        db.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o).1.contains("error[E0611]"), "{}", text(&o).1);
    assert!(!store.contains("20250101-1553_seed123_pid456"));
    drop(held);
    // Two folders of one name (two trees) with different files: the second is refused.
    let other = generate(&d.path().join("elsewhere"), false);
    let s1 = other.dir.join("simulation_run0002_synapses.csv");
    let more = fs::read_to_string(&s1).unwrap() + "VPM_C2\t9\t10.0\t1\t1\tSoma\t5.0,\n";
    fs::write(&s1, more).unwrap();
    let o = isf(&[
        "db",
        "import-isf",
        g.dir.to_str().unwrap(),
        other.dir.to_str().unwrap(),
        "--into",
        db.to_str().unwrap(),
    ]);
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(1), "{out}{err}");
    assert!(
        err.contains("error[E0616]") && err.contains("holds the import of another folder"),
        "{err}"
    );
    assert!(out.contains("1 folder(s) refused"), "{out}");
}

fn legacy_dir() -> PathBuf {
    std::env::var_os("ISF_LEGACY_RUN")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/isf-legacy-run"))
}

#[test]
fn legacy_run_imports_as_the_activation_reader_reads_it() {
    let legacy = legacy_dir();
    let first = legacy.join("simulation_run0000_synapses.csv");
    if !common::skip::require_data("the legacy ISF run (set ISF_LEGACY_RUN)", &[&first]) {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let db = d.path().join("db");
    let start = std::time::Instant::now();
    let o = isf(&[
        "db",
        "import-isf",
        legacy.to_str().unwrap(),
        "--into",
        db.to_str().unwrap(),
    ]);
    let secs = start.elapsed().as_secs_f64();
    let (out, err) = text(&o);
    assert!(o.status.success(), "{out}{err}");
    let name = legacy
        .canonicalize()
        .unwrap()
        .file_name()
        .unwrap()
        .to_string_lossy()
        .into_owned();
    let (keys, rows) = folder_counts(&out, &name);
    println!("legacy run: {keys} keys, {rows} rows in {secs:.2} s");
    let store = Store::open(&db).unwrap();
    let sa = store
        .sub_existing(&format!("{name}/synapse_activations"))
        .unwrap();
    let mut files: Vec<PathBuf> = fs::read_dir(&legacy)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.to_string_lossy().ends_with("_synapses.csv"))
        .collect();
    files.sort();
    assert_eq!(files.len(), 6);
    assert_eq!(sa.keys().unwrap().len(), files.len());
    let mut total = 0;
    for (n, f) in files.iter().enumerate() {
        let want = isf::interop::formats::activation::read_activation_file(f).unwrap();
        let t = sa.get_table(&format!("p000000_t{n:06}")).unwrap();
        assert_eq!(t.rows().unwrap(), want.len(), "{}", f.display());
        let got: f64 = lists(&t, "release_times_ms").iter().flatten().sum();
        let exp: f64 = want.iter().flat_map(|r| r.times_ms.iter()).sum();
        assert_eq!(
            got.to_bits(),
            exp.to_bits(),
            "release-time total of {}",
            f.display()
        );
        assert_eq!(
            strs(&t, "synapse_type"),
            want.iter()
                .map(|r| r.synapse_type.clone())
                .collect::<Vec<_>>()
        );
        total += want.len();
    }
    // Per-trial tables, trial keys and the record; no traces in this folder.
    assert_eq!(keys, 6 + 6 + 1);
    assert_eq!(rows, (total + 6) as u64);
}

/// The Python modules the reader needs (as in tests/python/store_reader.rs).
const PY_MODULES: &[&str] = &["msgpack", "blosc", "numpy", "pandas", "isf_store"];

#[test]
fn python_reader_reads_an_imported_store() {
    let Some(py) = common::python::ready(PY_MODULES) else {
        return;
    };
    let d = tempfile::tempdir().unwrap();
    let g = generate(d.path(), true);
    let db = d.path().join("db");
    let o = isf(&[
        "db",
        "import-isf",
        g.dir.to_str().unwrap(),
        "--into",
        db.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", text(&o).1);
    let script = r#"
import json, sys
from isf_store import Store
db = Store(sys.argv[2])["20150815-1530_20240"]
vt = db["traces"]["soma.v"]
ev = db["traces"].metadata("soma.v")
sa = db["synapse_activations"]["p000000_t000007"]
print(json.dumps({
    "index": list(vt.index), "shape": list(vt.shape), "t0": float(vt.columns[0]),
    "v": float(vt.iloc[1, 3]), "source": ev["extra"]["source"],
    "spikes": [list(map(float, s)) for s in db.load_table("events/spikes_soma_").columns["times_ms"]],
    "sa_rows": len(sa), "sa_sum": float(sum(sum(x) for x in sa["release_times_ms"])),
    "tStop": db["params"]["neuron_model"]["param"]["sim"]["tStop"],
    "isf_index": list(db.load_table("trials/p000000_t000012").columns["isf_sim_trial_index"]),
}))
"#;
    let out = common::python::command(&py)
        .args(["-c", script, "", db.to_str().unwrap()])
        .output()
        .unwrap();
    let (so, se) = text(&out);
    assert!(out.status.success(), "{so}{se}");
    let j: serde_json::Value = serde_json::from_str(so.trim()).unwrap();
    assert_eq!(
        j["index"],
        serde_json::json!(["p000000/t000005", "p000000/t000007", "p000000/t000012"])
    );
    assert_eq!(j["shape"], serde_json::json!([3, SAMPLES]));
    assert_eq!(j["t0"], 100.0);
    assert_eq!(j["v"].as_f64(), Some(g.soma[1][3]));
    assert!(
        j["source"]
            .as_str()
            .unwrap()
            .ends_with("20240_vm_all_traces.csv")
    );
    assert_eq!(
        j["spikes"],
        serde_json::json!([[], [g.times[g.spike_at]], []])
    );
    assert_eq!(j["sa_rows"], g.syn_rows[1]);
    assert!((j["sa_sum"].as_f64().unwrap() - g.syn_sum[1]).abs() < 1e-9);
    assert_eq!(j["tStop"], 10.0);
    assert_eq!(
        j["isf_index"],
        serde_json::json!(["20150815-1530_20240/000012"])
    );
}
