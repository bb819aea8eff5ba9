//! The documented Python quick start works with the installed package: `isf run
//! examples/quickstart.isf`, then the ```python block of `docs/language.md` §5 (the f–I curve,
//! at most five lines) run as written by the `.ci/run` virtualenv's python (or `ISF_PYTHON`),
//! which must hold `pip install ./python` of this tree. Its curve equals the one computed
//! here from the store; the `Run` API's index, traces, xarray view and laziness are checked
//! on the same store.
//!
//! Without the virtualenv the test prints a loud SKIPPED and passes (fails under CI); an
//! installed package that differs from `python/src` fails (reinstall with `pip install ./python`).

use crate::common;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

/// The first ```python block after `heading` in a markdown file.
fn python_block(md: &str, heading: &str) -> String {
    let at = md.find(heading).expect("heading in the doc");
    let rest = &md[at..];
    let start = rest.find("```python\n").expect("a python block") + "```python\n".len();
    let end = rest[start..].find("```").expect("closed block");
    rest[start..start + end].to_string()
}

/// `Err` with the differing file when the installed `isf_store` is not `python/src`'s.
fn installed_is_this_tree(py: &Path) -> Result<(), String> {
    let out = Command::new(py)
        .args([
            "-c",
            "import isf_store, os; print(os.path.dirname(isf_store.__file__))",
        ])
        .env_remove("PYTHONPATH")
        .current_dir(std::env::temp_dir())
        .output()
        .map_err(|e| e.to_string())?;
    if !out.status.success() {
        return Err("isf_store is not installed".into());
    }
    let dir = String::from_utf8_lossy(&out.stdout).trim().to_string();
    let src = common::python::package_src().join("isf_store");
    for e in std::fs::read_dir(&src).unwrap().flatten() {
        let p = e.path();
        if p.extension().is_some_and(|x| x == "py") {
            let name = p.file_name().unwrap();
            let theirs = std::fs::read(Path::new(&dir).join(name)).unwrap_or_default();
            if theirs != std::fs::read(&p).unwrap() {
                return Err(format!(
                    "installed {dir}/{} differs from python/src/isf_store",
                    name.to_string_lossy()
                ));
            }
        }
    }
    Ok(())
}

#[test]
fn documented_quick_start_runs_in_the_venv() {
    let Some(py) = common::python::ready(&["isf_store", "pandas", "numpy", "xarray"]) else {
        return;
    };
    match installed_is_this_tree(&py) {
        Ok(()) => {}
        Err(why) if why.contains("not installed") => {
            common::skip::skip(&why, common::python::PYTHON_HINT);
            return;
        }
        Err(why) => panic!(
            "{why}: reinstall with `{} -m pip install ./python`",
            py.display()
        ),
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let md = std::fs::read_to_string(root.join("docs/language.md")).unwrap();
    let snippet = python_block(&md, "### 5. Analyse");
    let lines = snippet.lines().filter(|l| !l.trim().is_empty()).count();
    assert!(
        lines <= 5,
        "the f-I quick start has {lines} lines:\n{snippet}"
    );

    // The store where the snippet looks for it, relative to the working directory.
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("examples/results/quickstart.isfdb");
    let o = Command::new(env!("CARGO_BIN_EXE_isf"))
        .args(["run", "examples/quickstart.isf", "--quiet", "--out"])
        .arg(&db)
        .current_dir(root)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));

    // The curve from the store, in Rust: mean spikes per trial of each point / 150 ms.
    let s = isf::store::Store::open(&db).unwrap();
    let ev = s.get_table("quickstart/events/spikes_soma_").unwrap();
    let (Some(isf::store::Column::Str(labels)), Some(isf::store::Column::F64List(times))) =
        (ev.column("sim_trial_index"), ev.column("times_ms"))
    else {
        panic!("event table layout")
    };
    let mut per_point: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (l, t) in labels.iter().zip(times) {
        per_point.entry(&l[..7]).or_default().push(t.len());
    }
    let want: Vec<f64> = per_point
        .values()
        .map(|c| c.iter().sum::<usize>() as f64 / c.len() as f64 / 0.150)
        .collect();
    assert_eq!(want.len(), 3);
    assert!(
        want.windows(2).all(|w| w[0] <= w[1]) && want[2] > 0.0,
        "{want:?}"
    );

    // The snippet as written, by the installed package (no PYTHONPATH), from that directory.
    let check = format!(
        "{snippet}\nimport json\nprint('JSON', json.dumps({{'x': [float(x) for x in fi.index], 'y': [float(y) for y in fi.values], 'name': fi.index.name}}))\n"
    );
    let o = Command::new(&py)
        .args(["-c", &check])
        .env_remove("PYTHONPATH")
        .current_dir(dir.path())
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(
        o.status.success(),
        "{out}{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let json = out
        .lines()
        .find_map(|l| l.strip_prefix("JSON "))
        .expect("curve printed");
    let j: serde_json::Value = serde_json::from_str(json).unwrap();
    assert_eq!(j["name"], "stimulus.step.amp");
    assert_eq!(j["x"], serde_json::json!([0.4, 0.8, 1.2]));
    let got: Vec<f64> = common::f64s(&j["y"]);
    for (g, w) in got.iter().zip(&want) {
        assert!((g - w).abs() < 1e-9, "{got:?} vs {want:?}");
    }
    // The snippet's own output shows the curve.
    assert!(out.contains("stimulus.step.amp"), "{out}");

    // The Run API on the same store: lazy, indexed by sweep value and trial.
    let api = r#"
import json, sys
import isf_store, isf_store.store as st
reads = []
orig = st.read_payload
st.read_payload = lambda *a, **k: (reads.append(a[0]), orig(*a, **k))[1]
db = isf_store.Store(sys.argv[1])
run = db.run("quickstart")
lazy = len(reads)
tr = run.traces("soma.v")
da = run.to_xarray("soma.v")
trials = run.trials()
print("JSON", json.dumps({
    "lazy": lazy, "runs": db.runs(), "units": run.units,
    "index": list(tr.index.names), "shape": list(tr.shape), "t3": float(tr.columns[3]),
    "first": [float(x) for x in tr.index[0][:1]] + [int(tr.index[0][1])],
    "v": float(tr.iloc[5, 4000]), "dims": list(da.dims), "da_shape": list(da.shape),
    "xv": float(da.sel(trial=1).isel(time_ms=4000).values[1]),
    "seeds": [int(s) for s in trials["seed"]],
    "counts": [int(c) for c in run.spike_counts()],
}))
"#;
    let o = common::python::command(&py)
        .args(["-c", api])
        .arg(&db)
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(
        o.status.success(),
        "{out}{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let j: serde_json::Value =
        serde_json::from_str(out.lines().find_map(|l| l.strip_prefix("JSON ")).unwrap()).unwrap();
    assert_eq!(j["lazy"], 0, "opening a store or a run read files");
    assert_eq!(j["runs"], serde_json::json!(["quickstart"]));
    assert_eq!(j["units"], serde_json::json!({"stimulus.step.amp": "nA"}));
    assert_eq!(
        j["index"],
        serde_json::json!(["stimulus.step.amp", "trial"])
    );
    assert_eq!(j["shape"], serde_json::json!([12, 12001]));
    assert_eq!(j["t3"], 0.075);
    assert_eq!(j["first"], serde_json::json!([0.4, 0]));
    assert_eq!(
        j["dims"],
        serde_json::json!(["stimulus.step.amp", "trial", "time_ms"])
    );
    assert_eq!(j["da_shape"], serde_json::json!([3, 4, 12001]));
    // Row 5 is point 1 (0.8 nA), trial 1: the same sample in the frame and the array.
    let tr = s.get_table("quickstart/traces/soma.v").unwrap();
    let Some(isf::store::Column::F64Array(a)) = tr.column("vm") else {
        panic!()
    };
    let (data, width) = (isf::store::table::row_major(a), a.ncols());
    assert_eq!(j["v"].as_f64(), Some(data[5 * width + 4000]));
    assert_eq!(j["xv"].as_f64(), Some(data[5 * width + 4000]));
    let seeds: Vec<u64> = (0..3)
        .flat_map(|p| (0..4).map(move |t| (p, t)))
        .map(|(p, t)| {
            s.metadata(&format!("quickstart/trials/p{p:06}_t{t:06}"))
                .unwrap()
                .seed
                .unwrap()
        })
        .collect();
    assert_eq!(j["seeds"], serde_json::json!(seeds));
    let counts: Vec<usize> = times.iter().map(Vec::len).collect();
    assert_eq!(j["counts"], serde_json::json!(counts));
}
