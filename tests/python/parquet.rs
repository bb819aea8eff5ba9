//! The Python package reads isf's Parquet exports and glues sub-stores as isf does (issue 14
//! leftovers), on real runs:
//!
//! * a small quickstart experiment (two current steps × two trials, 60 ms): `isf db export
//!   --format parquet` of the trace table in the wide, long and tidy layouts and of the spike
//!   table wide and tidy; `isf_store.read_parquet` must give exactly the frames of
//!   `Store.run(...)` (`traces`, `traces(layout="tidy")`, `events`, `events(layout="tidy")`):
//!   the same typed index (sweep values without unit suffix, trial), units, seeds, values;
//! * the per-trial tables of `small/trials` and of a short run of the C2 network
//!   (`E/synapse_activations/p…_t…`, stored without trial columns): Python's
//!   `Store.export_table` must equal the table isf's export builds (`run::tables::complete` +
//!   `store::export::concat_tables`, dumped to JSON here) column by column, and the Parquet
//!   export of the sub-store read with pyarrow alone.
//!
//! Python: `tests/common/python.rs` (the `.ci/run` virtualenv or `ISF_PYTHON`, the package
//! from this tree); a loud skip without it, a failure under CI.

use crate::common;

use isf::store::{Column, Store, Table};
use serde_json::{Value as J, json};
use std::path::{Path, PathBuf};
use std::process::Command;

fn isf(args: &[&str], cwd: &Path) {
    let o = Command::new(env!("CARGO_BIN_EXE_isf"))
        .args(args)
        .current_dir(cwd)
        .output()
        .expect("isf runs");
    assert!(
        o.status.success(),
        "isf {args:?} failed:\n{}\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The quickstart cell with a 2 × 2 sweep of 60 ms (as `tests/export_tables.rs`).
fn quickstart_script(dir: &Path) -> PathBuf {
    let q = std::fs::read_to_string(root().join("examples/quickstart.isf")).unwrap();
    let swc = root().join("examples/cells/l5pt_simple.swc");
    let end = q.find("experiment quickstart").unwrap();
    let text = format!(
        "{}{}",
        q[..end].replace("cells/l5pt_simple.swc", &swc.display().to_string()),
        r#"experiment small {
    neuron: L5PT
    duration: 60 ms
    dt: 0.025 ms
    trials: 2
    seed: 7
    stimulus step { at: soma(0.5), amp: 0.8 nA, delay: 10 ms, duration: 40 ms }
    sweep { stimulus.step.amp in [0.5 nA, 1.5 nA] }
    record {
        soma.v
        spikes(soma, threshold: 0 mV)
    }
}
"#
    );
    let script = dir.join("small.isf");
    std::fs::write(&script, text).unwrap();
    script
}

/// A short run of the example C2 network (two NMDA decays × two trials, 20 ms) recording
/// synapse activations: per-trial tables without trial columns.
fn network_script(dir: &Path) -> PathBuf {
    for f in ["l5pt_hay.isf", "c2_evoked.isf"] {
        std::fs::copy(root().join("examples").join(f), dir.join(f)).unwrap();
    }
    std::fs::create_dir_all(dir.join("cells")).unwrap();
    for e in std::fs::read_dir(root().join("examples/cells"))
        .unwrap()
        .flatten()
    {
        if e.path().is_file() {
            std::fs::copy(e.path(), dir.join("cells").join(e.file_name())).unwrap();
        }
    }
    let script = dir.join("net.isf");
    std::fs::write(
        &script,
        r#"import "l5pt_hay.isf"
import "c2_evoked.isf"
experiment E {
    neuron: L5PT_86
    network: C2_evoked
    duration: 20 ms
    trials: 2
    seed: 42
    sweep { C2_evoked.*.glutamate.tau_nmda_decay in [26 ms, 40 ms] }
    record {
        soma.v
        synapse_activations
    }
}
"#,
    )
    .unwrap();
    script
}

/// A table as JSON: columns in order with dtype and values (arrays row-major with their
/// width, NaN as null), and the attributes.
fn table_json(t: &Table) -> J {
    let cols: Vec<J> = t
        .columns
        .iter()
        .map(|(n, c)| match c {
            Column::F64(v) => json!({"name": n, "dtype": "f64", "data": v}),
            Column::I64(v) => json!({"name": n, "dtype": "i64", "data": v}),
            Column::Str(v) => json!({"name": n, "dtype": "str", "data": v}),
            Column::F64List(v) => json!({"name": n, "dtype": "f64_list", "data": v}),
            Column::F64Array(a) => {
                let (width, data) = (a.ncols(), isf::store::table::row_major(a));
                json!({"name": n, "dtype": "f64_array", "width": width, "data": data})
            }
        })
        .collect();
    let attrs: serde_json::Map<String, J> = t
        .attrs
        .iter()
        .map(|(k, v)| (k.clone(), isf::cli::db::to_json(v)))
        .collect();
    json!({"columns": cols, "attrs": attrs})
}

/// What isf's export glues for sub-store `key` (`isf db export` of a sub-store, wide).
fn rust_glue(st: &Store, key: &str) -> Table {
    let sub = st.sub_existing(key).unwrap();
    let mut tables = Vec::new();
    for k in sub.keys().unwrap() {
        let full = format!("{key}/{k}");
        tables.push(isf::run::tables::complete(
            st,
            &full,
            sub.get_table(&k).unwrap(),
            &sub.metadata(&k).unwrap(),
        ));
    }
    isf::store::export::concat_tables(tables).unwrap()
}

#[test]
fn python_reads_parquet_exports_and_glues_substores_like_isf() {
    let Some(py) = common::python::ready(&["isf_store", "pandas", "numpy", "pyarrow"]) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let db = d.join("small.isfdb");
    isf(
        &[
            "run",
            quickstart_script(d).to_str().unwrap(),
            "--quiet",
            "--out",
            db.to_str().unwrap(),
        ],
        d,
    );
    let net = d.join("net.isfdb");
    isf(
        &[
            "run",
            network_script(d).to_str().unwrap(),
            "--quiet",
            "--out",
            net.to_str().unwrap(),
        ],
        d,
    );
    let exports: &[(&Path, &str, &str, &str)] = &[
        (&db, "small/traces/soma.v", "wide", "traces_wide.parquet"),
        (&db, "small/traces/soma.v", "long", "traces_long.parquet"),
        (&db, "small/traces/soma.v", "tidy", "traces_tidy.parquet"),
        (
            &db,
            "small/events/spikes_soma_",
            "wide",
            "events_wide.parquet",
        ),
        (
            &db,
            "small/events/spikes_soma_",
            "tidy",
            "events_tidy.parquet",
        ),
        (&db, "small/trials", "wide", "trials_wide.parquet"),
        (&net, "E/synapse_activations", "wide", "act_wide.parquet"),
        (&net, "E/synapse_activations", "tidy", "act_tidy.parquet"),
        (&net, "E/traces/soma.v", "tidy", "net_tidy.parquet"),
    ];
    for (store, key, layout, file) in exports {
        isf(
            &[
                "db",
                "export",
                store.to_str().unwrap(),
                key,
                "--format",
                "parquet",
                "--layout",
                layout,
                "-o",
                d.join(file).to_str().unwrap(),
            ],
            d,
        );
    }
    // The glued tables of isf's export, for Python to match.
    let st = Store::open(&db).unwrap();
    let ns = Store::open(&net).unwrap();
    let act = rust_glue(&ns, "E/synapse_activations");
    // The activation tables were stored without trial columns: the glue added them.
    assert_eq!(
        act.columns
            .iter()
            .take(5)
            .map(|(n, _)| n.as_str())
            .collect::<Vec<_>>(),
        [
            "sim_trial_index",
            "sweep_point",
            "trial",
            "seed",
            "C2_evoked.*.glutamate.tau_nmda_decay_ms"
        ]
    );
    let glue = json!({
        "small/trials": table_json(&rust_glue(&st, "small/trials")),
        "E/synapse_activations": table_json(&act),
    });
    std::fs::write(d.join("rust_glue.json"), glue.to_string()).unwrap();

    let script = root().join("tests/python/test_parquet_read.py");
    let o = common::python::command(&py)
        .arg(&script)
        .arg(d)
        .arg(&db)
        .arg(&net)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    eprintln!("{text}");
    assert!(o.status.success(), "python checks failed:\n{text}");
    assert!(text.contains("parquet checks passed: 10"), "{text}");
}
