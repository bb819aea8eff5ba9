//! The Python package (`python/`, module `isf_store`) reads a store written by isf: values,
//! nested sub-stores, a managed folder, metadata, a trace table (numpy array and DataFrame),
//! mixed and ragged columns, columns stored with a declared precision (decoded, and checked:
//! a value off its grid is E0625), and reports corruption naming the key.
//!
//! Runs the `.ci/run` virtualenv's python (or `ISF_PYTHON`) on the working tree's package;
//! without it the test prints a loud SKIPPED and passes (fails under CI).

use crate::common;

use isf::store::table::f64_rows;
use isf::store::{Column, Metadata, Store, Table};
use std::path::Path;

const TRIALS: usize = 7;
const SAMPLES: usize = 1201;

/// The Python modules the reader needs.
const PY_MODULES: &[&str] = &["msgpack", "blosc", "numpy", "pandas", "isf_store"];

fn write_fixture(dir: &Path) -> std::path::PathBuf {
    let root = dir.join("db");
    // Small chunks so the reader has to concatenate several.
    let s = Store::create(&root)
        .unwrap()
        .with_options(isf::store::WriteOptions {
            chunk_bytes: 2 * SAMPLES * 8,
            ..Default::default()
        });
    let params = serde_json::json!({"tStop_ms": 345.0, "dt_ms": 0.025, "cell": "86_C2_center",
        "labels": ["soma", "apical"], "nested": {"n": 3, "flag": true, "none": null}});
    s.put("params", &params).unwrap();
    s.put("answer", &42i64).unwrap();
    s.put("sweep/w0.5/seed", &7u64).unwrap();
    let folder = s.managed_folder("morphology").unwrap();
    std::fs::write(folder.join("cell.hoc"), "create soma\n").unwrap();

    let times: Vec<f64> = (0..SAMPLES).map(|i| i as f64 * 0.025).collect();
    let ids: Vec<String> = (0..TRIALS)
        .map(|i| format!("results/20260101-1553_seed123_pid456/{i:06}"))
        .collect();
    // Irregular values (not a formula Python could recompute) exercise exact bit equality.
    let vm: Vec<f64> = (0..TRIALS * SAMPLES)
        .map(|i| -75.0 + ((i as f64) * 0.37).sin() * 20.0 + (i % 13) as f64 / 7.0)
        .collect();
    let script = "import std.cells\ncell c = ...\n";
    let meta = Metadata {
        seed: Some(123),
        plan_hash: Some("0123abcd".into()),
        script: Some(script.into()),
        sweep_point: Some([("weight".to_string(), serde_json::json!(0.5))].into()),
        ..Metadata::default()
    };
    // First three trials at once, the rest appended one by one as a sweep would.
    s.put_table(
        "voltage_traces",
        &Table::traces(
            ids[..3].to_vec(),
            &times,
            f64_rows(SAMPLES, vm[..3 * SAMPLES].to_vec()).unwrap(),
        ),
        meta,
    )
    .unwrap();
    for i in 3..TRIALS {
        s.append_rows(
            "voltage_traces",
            &Table::traces(
                vec![ids[i].clone()],
                &times,
                f64_rows(SAMPLES, vm[i * SAMPLES..(i + 1) * SAMPLES].to_vec()).unwrap(),
            ),
        )
        .unwrap();
    }
    // Values with 4 decimals, as parsed from ISF CSV output: stored in the decimal encoding.
    let vm_dec: Vec<f64> = vm
        .iter()
        .map(|x| format!("{x:.4}").parse().unwrap())
        .collect();
    s.put_table(
        "traces_4_decimals",
        &Table::traces(
            ids.clone(),
            &times,
            f64_rows(SAMPLES, vm_dec.clone()).unwrap(),
        ),
        Metadata::now(),
    )
    .unwrap();
    let act = Table::new()
        .with(
            "synapse_type",
            Column::Str(vec!["L5tt_C2".into(), "VPM_C2".into(), "L1_C1".into()]),
        )
        .with("synapse_ID", Column::I64(vec![19, 2, 1 << 40]))
        .with(
            "soma_distance",
            Column::F64(vec![1539.71545505, 1360.9, 20.0]),
        )
        .with(
            "times",
            Column::F64List(vec![vec![14.3144635349], vec![], vec![258.2, 260.0, 301.5]]),
        );
    s.put_table("synapse_activation", &act, Metadata::now())
        .unwrap();
    // Small: inline in its entry (format version 2), which the reader must read too; the
    // trace tables are in chunk files.
    assert!(
        s.table_info("synapse_activation").unwrap().chunks[0]
            .inline
            .is_some()
    );
    assert!(
        s.table_info("voltage_traces")
            .unwrap()
            .chunks
            .iter()
            .all(|c| c.inline.is_none())
    );

    let expected = serde_json::json!({
        "keys": ["answer", "morphology", "params", "sweep", "synapse_activation",
                 "tampered", "traces_1uV", "traces_2_5uV", "traces_4_decimals", "voltage_traces"],
        "keys_recursive": ["answer", "morphology", "params", "sweep/w0.5/seed",
                           "synapse_activation", "tampered", "traces_1uV", "traces_2_5uV",
                           "traces_4_decimals", "voltage_traces"],
        "params": params,
        "seed": 123, "plan_hash": "0123abcd", "script": script,
        "trials": TRIALS, "samples": SAMPLES, "trial_index": ids,
        "times": times[..3],
        "synapse_type": ["L5tt_C2", "VPM_C2", "L1_C1"],
        "synapse_ID": [19, 2, 1u64 << 40],
        "times_ragged": [[14.3144635349], [], [258.2, 260.0, 301.5]],
        "soma_distance": [1539.71545505, 1360.9, 20.0],
    });
    // Declared precisions: a power-of-ten step (the decimal encoding) and 2.5 µV (integers
    // times the step's mantissa); a copy of the first whose chunk holds unrounded values.
    for (key, step) in [
        ("traces_1uV", 0.001),
        ("traces_2_5uV", 0.0025),
        ("tampered", 0.001),
    ] {
        s.put_table(
            key,
            &Table::traces(ids.clone(), &times, f64_rows(SAMPLES, vm.clone()).unwrap())
                .with_attr("vm.precision", rmpv::Value::F64(step)),
            Metadata::now(),
        )
        .unwrap();
    }
    s.put_table(
        "unrounded",
        &Table::traces(ids.clone(), &times, f64_rows(SAMPLES, vm.clone()).unwrap()),
        Metadata::now(),
    )
    .unwrap();
    let chunk0 = |k: &str| root.join(k).join("chunk-000000.isfd");
    std::fs::copy(chunk0("unrounded"), chunk0("tampered")).unwrap();
    s.delete("unrounded").unwrap();
    assert_eq!(
        s.get_table("tampered").unwrap_err().code,
        isf::diagnostics::Code::E0625
    );
    for (key, name) in [("traces_1uV", "q1"), ("traces_2_5uV", "q25")] {
        let t = s.get_table(key).unwrap();
        let Some(Column::F64Array(data)) = t.column("vm") else {
            panic!()
        };
        let raw: Vec<u8> = data.iter().flat_map(|x| x.to_le_bytes()).collect();
        std::fs::write(dir.join(format!("expected_{name}.bin")), raw).unwrap();
    }
    std::fs::write(dir.join("expected.json"), expected.to_string()).unwrap();
    let raw: Vec<u8> = vm.iter().flat_map(|x| x.to_le_bytes()).collect();
    std::fs::write(dir.join("expected_vm.bin"), raw).unwrap();
    let raw: Vec<u8> = vm_dec.iter().flat_map(|x| x.to_le_bytes()).collect();
    std::fs::write(dir.join("expected_vm_dec.bin"), raw).unwrap();
    assert_eq!(s.verify().problems.len(), 1);
    root
}

#[test]
fn python_reader_reads_what_isf_writes() {
    let Some(py) = common::python::ready(PY_MODULES) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let root = write_fixture(dir.path());
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/python/test_reader.py");
    let out = common::python::command(&py)
        .arg(&script)
        .arg(&root)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    eprintln!("{text}");
    assert!(out.status.success(), "python reader failed:\n{text}");
    assert!(text.contains("7 passed, 0 failed"), "{text}");
}

/// The Python reader reads the committed golden stores of format versions 1 and 2
/// (`tests/store/golden.rs`): every key, and the trace and raw float columns bit for bit as
/// isf reads them.
#[test]
fn python_reader_reads_the_golden_stores() {
    let Some(py) = common::python::ready(PY_MODULES) else {
        return;
    };
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    let tmp = tempfile::tempdir().unwrap();
    for v in [1, 2] {
        let root = here.join(format!("tests/data/golden-store-v{v}"));
        let s = Store::open(&root).unwrap();
        let raw = |c: &Column| -> Vec<u8> {
            match c {
                Column::F64(x) => x.iter().flat_map(|x| x.to_le_bytes()).collect(),
                Column::F64Array(data) => data.iter().flat_map(|x| x.to_le_bytes()).collect(),
                other => panic!("{other:?}"),
            }
        };
        let vm = s.get_table("tables/trace_zstd").unwrap();
        let mixed = s.get_table("tables/mixed").unwrap();
        let vm_file = tmp.path().join(format!("vm{v}.bin"));
        let x_file = tmp.path().join(format!("x{v}.bin"));
        std::fs::write(&vm_file, raw(vm.column("vm").unwrap())).unwrap();
        std::fs::write(&x_file, raw(mixed.column("x").unwrap())).unwrap();
        let script = format!(
            r#"
from isf_store import Store
s = Store({root:?})
assert s.verify() == [], s.verify()
assert sorted(s.keys_recursive()) == ["answer", "folder", "params", "provenance", "sub/inner/leaf", "sub/note", "tables/appended", "tables/empty", "tables/mixed", "tables/trace_inline", "tables/trace_zstd"], s.keys_recursive()
assert s.load("answer") == 42
assert s.load("sub/inner/leaf") == [1.5, -2.0, 3.25]
assert s.metadata("provenance")["seed"] == 123456789
vm = s.load_table("tables/trace_zstd").array("vm")
assert vm.shape == (8, 1200), vm.shape
assert vm.tobytes() == open({vm:?}, "rb").read()
x = s.load_table("tables/mixed").columns["x"]
assert x.tobytes() == open({x:?}, "rb").read()
assert len(s.load_table("tables/appended")) == 5
assert len(s.load_table("tables/empty")) == 0
print("golden v{v} ok")
"#,
            root = root.display().to_string(),
            vm = vm_file.display().to_string(),
            x = x_file.display().to_string(),
        );
        let out = common::python::command(&py)
            .args(["-c", &script])
            .output()
            .unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(out.status.success(), "python reader, golden v{v}:\n{text}");
        assert!(text.contains(&format!("golden v{v} ok")), "{text}");
    }
}
