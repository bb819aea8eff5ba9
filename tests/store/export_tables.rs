//! Tables a scientist can use (issue 14, part 2), end to end on a small run of the quickstart
//! cell (two current steps × two trials, 60 ms): trial, trace and event tables carry typed
//! sweep columns with units, the trial and the seed; `isf db export` writes the wide, long
//! and tidy layouts as CSV, `.npy` and Parquet; times sit on the dt grid exactly; layouts that
//! do not fit a table are refused with E0622. The `.npy` and Parquet files are read back in
//! Python (numpy, pyarrow, pandas) by `tests/python/test_export.py`.
//!
//! Python: `ISF_PYTHON`, else the CI venv `/tmp/isf-venv/bin/python` (made by `.ci/run`),
//! else `python3`. Without numpy, pandas or pyarrow the Python part is a loud skip, and fails
//! under CI.

use crate::common;

use isf::store::{Column, Store};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

fn isf(args: &[&str]) -> (i32, String, String) {
    // One store shared by the tests of this file: commands take turns.
    static TURN: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _turn = TURN.lock().unwrap_or_else(|e| e.into_inner());
    common::cli::run(args)
}

fn ok(args: &[&str]) -> String {
    let (c, out, err) = isf(args);
    assert_eq!(c, 0, "isf {args:?} failed:\n{out}\n{err}");
    err
}

struct Fixture {
    dir: PathBuf,
    store: PathBuf,
}

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let (dir, _script, store) = common::quickstart_run(
            "isf-export",
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
"#,
        );
        Fixture { dir, store }
    })
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn names(t: &isf::store::Table) -> Vec<&str> {
    t.columns.iter().map(|(n, _)| n.as_str()).collect()
}

/// The decimal text of sample `k` at dt = 0.025 ms, written from integers.
fn grid_text(k: usize) -> String {
    let (int, frac) = (k * 25 / 1000, k * 25 % 1000);
    let f = format!("{frac:03}");
    let f = f.trim_end_matches('0');
    if f.is_empty() {
        int.to_string()
    } else {
        format!("{int}.{f}")
    }
}

#[test]
fn stored_rows_carry_sweep_values_trial_and_seed() {
    let f = fixture();
    let st = Store::open(&f.store).unwrap();
    let t = st.get_table("small/trials/p000001_t000001").unwrap();
    assert_eq!(
        &names(&t)[..5],
        ["point", "trial", "seed", "stimulus.step.amp_nA", "soma.v"]
    );
    assert_eq!(
        t.column("stimulus.step.amp_nA"),
        Some(&Column::F64(vec![1.5]))
    );
    assert_eq!(t.column("trial"), Some(&Column::I64(vec![1])));
    assert_eq!(
        t.attrs.get("stimulus.step.amp_nA.unit"),
        Some(&rmpv::Value::from("nA"))
    );
    let meta = st.metadata("small/trials/p000001_t000001").unwrap();
    assert_eq!(
        t.column("seed"),
        Some(&Column::Str(vec![format!("{:016x}", meta.seed.unwrap())]))
    );
    for key in ["small/traces/soma.v", "small/events/spikes_soma_"] {
        let t = st.get_table(key).unwrap();
        assert_eq!(
            &names(&t)[..5],
            [
                "sim_trial_index",
                "point",
                "trial",
                "seed",
                "stimulus.step.amp_nA"
            ],
            "{key}"
        );
        assert_eq!(
            t.column("stimulus.step.amp_nA"),
            Some(&Column::F64(vec![0.5, 0.5, 1.5, 1.5])),
            "{key}"
        );
        assert_eq!(t.column("trial"), Some(&Column::I64(vec![0, 1, 0, 1])));
    }
}

#[test]
fn csv_layouts_and_exact_grid_times() {
    let f = fixture();
    let st = Store::open(&f.store).unwrap();
    let vm = st.get_table("small/traces/soma.v").unwrap();
    let Some(Column::F64Array(a)) = vm.column("vm") else {
        panic!("vm")
    };
    let (width, data) = (a.ncols(), isf::store::table::row_major(a));
    let ev = st.get_table("small/events/spikes_soma_").unwrap();
    let Some(Column::F64List(spikes)) = ev.column("times_ms") else {
        panic!("times")
    };
    assert!(spikes[3].len() > spikes[0].len(), "1.5 nA fires more");

    // Tidy traces: one row per trial × sample, the time as the grid's decimal text.
    let tidy = f.dir.join("tidy.csv");
    ok(&[
        "db",
        "export",
        s(&f.store),
        "small/traces/soma.v",
        "--layout",
        "tidy",
        "-o",
        s(&tidy),
    ]);
    let text = std::fs::read_to_string(&tidy).unwrap();
    let mut lines = text.lines();
    assert_eq!(
        lines.next().unwrap(),
        "sim_trial_index,point,trial,seed,stimulus.step.amp_nA,time_ms,vm"
    );
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    assert_eq!(rows.len(), 4 * width);
    for (i, r) in rows.iter().enumerate() {
        let (row, k) = (i / width, i % width);
        assert_eq!(r[5], grid_text(k), "row {i}");
        assert_eq!(r[6].parse::<f64>().unwrap(), data[row * width + k]);
        assert_eq!(r[4], if row < 2 { "0.5" } else { "1.5" });
        assert_eq!(r[2], (row % 2).to_string());
    }

    // Long traces: a time column, one column per trial labelled by sweep value and trial.
    let long = f.dir.join("long.csv");
    ok(&[
        "db",
        "export",
        s(&f.store),
        "small/traces/soma.v",
        "--layout",
        "long",
        "-o",
        s(&long),
    ]);
    let text = std::fs::read_to_string(&long).unwrap();
    assert_eq!(
        text.lines().next().unwrap(),
        "time_ms,stimulus.step.amp_nA=0.5 trial=0,stimulus.step.amp_nA=0.5 trial=1,\
         stimulus.step.amp_nA=1.5 trial=0,stimulus.step.amp_nA=1.5 trial=1"
    );
    assert_eq!(text.lines().count(), 1 + width);
    assert!(text.lines().nth(4).unwrap().starts_with("0.075,"));

    // Tidy events: one row per spike, on the grid.
    let sp = f.dir.join("spikes.csv");
    ok(&[
        "db",
        "export",
        s(&f.store),
        "small/events/spikes_soma_",
        "--layout",
        "tidy",
        "-o",
        s(&sp),
    ]);
    let text = std::fs::read_to_string(&sp).unwrap();
    let mut lines = text.lines();
    assert_eq!(
        lines.next().unwrap(),
        "sim_trial_index,point,trial,seed,stimulus.step.amp_nA,time_ms"
    );
    let times: Vec<&str> = lines.map(|l| l.rsplit(',').next().unwrap()).collect();
    let want: Vec<String> = spikes.concat().iter().map(f64::to_string).collect();
    assert_eq!(times, want);
    assert!(!times.is_empty());
    for t in &times {
        let k = (t.parse::<f64>().unwrap() / 0.025).round() as usize;
        assert_eq!(*t, grid_text(k), "spike time on the grid");
    }

    // The trial tables of a sub-store as one table: spike lists per trial, tidy.
    let tr = f.dir.join("trials_spikes.csv");
    ok(&[
        "db",
        "export",
        s(&f.store),
        "small/trials",
        "--layout",
        "tidy",
        "--column",
        "spikes(soma)",
        "-o",
        s(&tr),
    ]);
    let text = std::fs::read_to_string(&tr).unwrap();
    assert_eq!(
        text.lines().next().unwrap(),
        "sim_trial_index,point,trial,seed,stimulus.step.amp_nA,spikes(soma)"
    );
    assert_eq!(text.lines().count(), 1 + times.len());
}

#[test]
fn layouts_that_do_not_fit_are_refused() {
    let f = fixture();
    let out = f.dir.join("x.csv");
    for (key, layout, extra) in [
        ("small/events/spikes_soma_", "long", None),
        ("small/trials", "tidy", None),
        ("small/traces/soma.v", "tidy", Some("nope")),
    ] {
        let mut args = vec![
            "db",
            "export",
            s(&f.store),
            key,
            "--layout",
            layout,
            "-o",
            s(&out),
        ];
        if let Some(c) = extra {
            args.extend(["--column", c]);
        }
        let (c, _, err) = isf(&args);
        assert_eq!(c, 1, "{args:?}: {err}");
        assert!(err.contains("E0622"), "{args:?}: {err}");
        assert!(!out.exists(), "nothing written on error");
    }
    // A list column cannot be a .npy field: tidy says how.
    let (c, _, err) = isf(&[
        "db",
        "export",
        s(&f.store),
        "small/events/spikes_soma_",
        "-o",
        s(&f.dir.join("x.npy")),
    ]);
    assert_eq!(c, 1);
    assert!(err.contains("--layout tidy"), "{err}");
}

/// Python with numpy, pandas and pyarrow: `ISF_PYTHON`, the CI venv, or `python3`.
fn python() -> Result<String, String> {
    let candidates = match std::env::var("ISF_PYTHON") {
        Ok(p) => vec![p],
        Err(_) => vec![
            "/tmp/isf-venv/bin/python".to_string(),
            "python3".to_string(),
        ],
    };
    let mut why = Vec::new();
    for py in candidates {
        match Command::new(&py)
            .args(["-c", "import numpy, pandas, pyarrow.parquet"])
            .output()
        {
            Ok(o) if o.status.success() => return Ok(py),
            Ok(o) => why.push(format!(
                "{py}: {}",
                String::from_utf8_lossy(&o.stderr)
                    .lines()
                    .last()
                    .unwrap_or("")
            )),
            Err(e) => why.push(format!("{py}: {e}")),
        }
    }
    Err(why.join("; "))
}

#[test]
fn npy_and_parquet_read_back_in_python() {
    let py = match python() {
        Ok(p) => p,
        Err(why) => {
            common::skip::skip(
                &format!("numpy, pandas and pyarrow are needed ({why})"),
                "run .ci/run once (it makes the venv /tmp/isf-venv), or \
                 `pip install numpy pandas pyarrow`, or set ISF_PYTHON",
            );
            return;
        }
    };
    let f = fixture();
    let st = Store::open(&f.store).unwrap();
    let d = f.dir.join("py");
    std::fs::create_dir_all(&d).unwrap();
    let exports: &[(&str, &str, &str, &[&str])] = &[
        ("tidy.parquet", "small/traces/soma.v", "tidy", &[]),
        ("tidy.npy", "small/traces/soma.v", "tidy", &[]),
        ("long.parquet", "small/traces/soma.v", "long", &[]),
        ("long.npy", "small/traces/soma.v", "long", &[]),
        ("wide.npy", "small/traces/soma.v", "wide", &[]),
        ("wide.parquet", "small/traces/soma.v", "wide", &[]),
        ("events.parquet", "small/events/spikes_soma_", "tidy", &[]),
        ("events.npy", "small/events/spikes_soma_", "tidy", &[]),
        (
            "events_wide.parquet",
            "small/events/spikes_soma_",
            "wide",
            &[],
        ),
        (
            "trials.npy",
            "small/trials",
            "wide",
            &["--column", "soma.v"],
        ),
    ];
    for (file, key, layout, extra) in exports {
        let out = d.join(file);
        let mut args = vec![
            "db",
            "export",
            s(&f.store),
            key,
            "--layout",
            layout,
            "-o",
            s(&out),
        ];
        args.extend(extra.iter());
        ok(&args);
    }
    // What the files must hold, straight from the store.
    let vm = st.get_table("small/traces/soma.v").unwrap();
    let ev = st.get_table("small/events/spikes_soma_").unwrap();
    let (Some(Column::F64Array(a)), Some(Column::F64List(spikes))) =
        (vm.column("vm"), ev.column("times_ms"))
    else {
        panic!("tables")
    };
    let (width, data) = (&a.ncols(), isf::store::table::row_major(a));
    let Some(Column::Str(seeds)) = vm.column("seed") else {
        panic!("seed")
    };
    let expected = serde_json::json!({
        "width": width,
        "vm": data,
        "times": (0..*width).map(grid_text).collect::<Vec<_>>(),
        "spikes": spikes,
        "amp": [0.5, 0.5, 1.5, 1.5],
        "trial": [0, 1, 0, 1],
        "seed": seeds,
    });
    std::fs::write(d.join("expected.json"), expected.to_string()).unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/python/test_export.py");
    let o = Command::new(&py)
        .arg(&script)
        .arg(&d)
        .arg(&f.store)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    eprintln!("{text}");
    assert!(o.status.success(), "python export check failed:\n{text}");
    assert!(text.contains("export checks passed: 11"), "{text}");
}

/// Per-trial tables (synapse activations) and tables keyed by `sim_trial_index` alone (analysis
/// results, older stores) get their trial columns at export from the trial keys' metadata; a
/// table's own `point` (the section point) stays, the sweep point becomes `sweep_point`.
#[test]
fn per_trial_and_older_tables_get_trial_columns_at_export() {
    use isf::interop::formats::activation::ActivationRow;
    use isf::run::tables::complete;
    use isf::store::export::{Layout, frame, frame_to_csv};
    use isf::store::{Metadata, Table};
    let d = tempfile::tempdir().unwrap();
    let st = Store::create(d.path().join("db")).unwrap();
    let meta = |seed: u64, amp: f64| Metadata {
        seed: Some(seed),
        sweep_point: Some(
            serde_json::from_value(serde_json::json!({
                "E.*.glutamate.tau_nmda_decay": {"value": amp, "unit": "ms"}
            }))
            .unwrap(),
        ),
        extra: [("dt_ms".to_string(), "0.025".to_string())].into(),
        ..Metadata::default()
    };
    let e = st.sub("E").unwrap();
    // An older trial table: `point`, `trial`, `seed` and a trace, no sweep columns.
    let older = Table::new()
        .with("point", Column::I64(vec![1]))
        .with("trial", Column::I64(vec![3]))
        .with("seed", Column::Str(vec!["00000000000000ff".into()]))
        .with(
            "soma.v",
            Column::F64Array(isf::store::table::one_row(vec![-70.0, -69.5, -69.0, -68.5])),
        );
    e.sub("trials")
        .unwrap()
        .put_table("p000001_t000003", &older, meta(255, 40.0))
        .unwrap();
    let rows = vec![
        ActivationRow {
            synapse_type: "L4ss_C2".into(),
            synapse_id: 0,
            soma_distance_um: 120.5,
            section: 12,
            point: 4,
            label: "ApicalDendrite".into(),
            times_ms: vec![10.125, 30.5],
        },
        ActivationRow {
            synapse_type: "VPM_C2".into(),
            synapse_id: 2,
            soma_distance_um: 80.0,
            section: 3,
            point: 1,
            label: "Dendrite".into(),
            times_ms: vec![],
        },
    ];
    let act = isf::run::sink::activation_table(rows);
    e.sub("synapse_activations")
        .unwrap()
        .put_table("p000001_t000003", &act, meta(255, 40.0))
        .unwrap();
    let key = "E/synapse_activations/p000001_t000003";
    let t = complete(
        &st,
        key,
        st.get_table(key).unwrap(),
        &st.metadata(key).unwrap(),
    );
    let csv = String::from_utf8(frame_to_csv(&frame(&t, Layout::Tidy).unwrap()).unwrap()).unwrap();
    assert_eq!(
        csv,
        "sim_trial_index,sweep_point,trial,seed,E.*.glutamate.tau_nmda_decay_ms,synapse_type,\
         synapse_id,soma_distance_um,section,point,label,release_time_ms\n\
         p000001/t000003,1,3,00000000000000ff,40,L4ss_C2,0,120.5,12,4,ApicalDendrite,10.125\n\
         p000001/t000003,1,3,00000000000000ff,40,L4ss_C2,0,120.5,12,4,ApicalDendrite,30.5\n"
    );
    // The older trial table: full trial columns, sample times from its time step.
    let key = "E/trials/p000001_t000003";
    let t = complete(
        &st,
        key,
        st.get_table(key).unwrap(),
        &st.metadata(key).unwrap(),
    );
    let csv = String::from_utf8(frame_to_csv(&frame(&t, Layout::Long).unwrap()).unwrap()).unwrap();
    assert_eq!(
        csv,
        "time_ms,E.*.glutamate.tau_nmda_decay_ms=40 trial=3\n0,-70\n0.025,-69.5\n0.05,-69\n\
         0.075,-68.5\n"
    );
    // A result keyed by `sim_trial_index` only: looked up in `E/trials`.
    let res = Table::new()
        .with(
            "sim_trial_index",
            Column::Str(vec!["p000001/t000003".into()]),
        )
        .with("n_spikes", Column::I64(vec![2]));
    e.sub("analysis")
        .unwrap()
        .put_table("n", &res, Metadata::default())
        .unwrap();
    let t = complete(
        &st,
        "E/analysis/n",
        st.get_table("E/analysis/n").unwrap(),
        &Metadata::default(),
    );
    let csv = String::from_utf8(frame_to_csv(&frame(&t, Layout::Tidy).unwrap()).unwrap()).unwrap();
    assert_eq!(
        csv,
        "sim_trial_index,point,trial,seed,E.*.glutamate.tau_nmda_decay_ms,n_spikes\n\
         p000001/t000003,1,3,00000000000000ff,40,2\n"
    );
}
