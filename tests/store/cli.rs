//! `isf db`: listing, showing, getting, exporting (CSV, `.npy`), merging shards and
//! verifying, including exit codes and error lines naming damaged keys.

use crate::common::cli::{output as isf, text};
use isf::store::{Metadata, Store, Table};
use std::fs;
use std::path::Path;

fn fixture(dir: &Path, name: &str, seed: u64) -> Store {
    let s = Store::create(dir.join(name)).unwrap();
    let t = Table::traces(
        vec!["t/000000".into(), "t/000001".into()],
        &[0.0, 0.025, 0.05],
        isf::store::table::f64_rows(3, vec![-75.0, -74.5, -74.25, -70.0, 1.5e-3, 20.0]).unwrap(),
    );
    let meta = Metadata {
        seed: Some(seed),
        plan_hash: Some("feedbeef00112233".into()),
        ..Metadata::default()
    };
    s.put_table("voltage_traces", &t, meta).unwrap();
    s.put(
        "params",
        &serde_json::json!({"tStop_ms": 345.0, "name": "C2"}),
    )
    .unwrap();
    s.put("grid", &vec![vec![1.0, 2.0], vec![3.0, 4.5]])
        .unwrap();
    s
}

#[test]
fn ls_show_get() {
    let d = tempfile::tempdir().unwrap();
    let s = fixture(d.path(), "db", 123);
    s.put("sub/inner", &1).unwrap();
    let p = s.path().to_str().unwrap();

    let o = isf(&["db", "ls", p]);
    let (out, err) = text(&o);
    assert!(o.status.success(), "{err}");
    let line = out
        .lines()
        .find(|l| l.starts_with("voltage_traces"))
        .unwrap();
    assert!(
        line.contains("table") && line.contains(" 2 ") && line.contains("123"),
        "{line}"
    );
    assert!(
        line.contains("feedbeef0011") && !line.contains("feedbeef00112233"),
        "{line}"
    );
    assert!(!out.contains("sub/inner"));
    let (out, _) = text(&isf(&["db", "ls", p, "-r"]));
    assert!(out.contains("sub/inner"), "{out}");
    let (out, _) = text(&isf(&["db", "ls", p, "sub"]));
    assert!(out.lines().nth(1).unwrap().starts_with("inner"), "{out}");

    let (out, _) = text(&isf(&["db", "show", p, "voltage_traces"]));
    assert!(
        out.contains("kind: table") && out.contains("rows: 2"),
        "{out}"
    );
    assert!(
        out.contains("vm: f64_array[3]") && out.contains("\"seed\": 123"),
        "{out}"
    );

    let (out, _) = text(&isf(&["db", "get", p, "params"]));
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["tStop_ms"], 345.0);
    let (out, _) = text(&isf(&["db", "get", p, "voltage_traces"]));
    assert_eq!(
        out,
        "sim_trial_index,0,0.025,0.05\nt/000000,-75,-74.5,-74.25\nt/000001,-70,0.0015,20\n"
    );

    let o = isf(&["db", "get", p, "nope"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o).1.contains("error[E0604]: key 'nope'"));
    let o = isf(&["db", "ls", d.path().to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o).1.contains("E0602"));
}

fn read_npy(path: &Path) -> (String, Vec<f64>) {
    let b = fs::read(path).unwrap();
    assert_eq!(&b[..8], b"\x93NUMPY\x01\x00");
    let hlen = u16::from_le_bytes([b[8], b[9]]) as usize;
    let header = String::from_utf8(b[10..10 + hlen].to_vec()).unwrap();
    let data = b[10 + hlen..]
        .chunks_exact(8)
        .map(|c| f64::from_le_bytes(c.try_into().unwrap()))
        .collect();
    (header, data)
}

#[test]
fn export_csv_and_npy() {
    let d = tempfile::tempdir().unwrap();
    let s = fixture(d.path(), "db", 1);
    let p = s.path().to_str().unwrap();
    let npy = d.path().join("vt.npy");
    let o = isf(&[
        "db",
        "export",
        p,
        "voltage_traces",
        "-o",
        npy.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{:?}", text(&o));
    let (header, data) = read_npy(&npy);
    assert!(
        header.contains("'descr': '<f8'") && header.contains("'shape': (2, 3)"),
        "{header}"
    );
    assert_eq!(data, [-75.0, -74.5, -74.25, -70.0, 1.5e-3, 20.0]);

    let grid = d.path().join("grid.npy");
    assert!(
        isf(&["db", "export", p, "grid", "-o", grid.to_str().unwrap()])
            .status
            .success()
    );
    assert_eq!(read_npy(&grid).1, [1.0, 2.0, 3.0, 4.5]);

    let csv = d.path().join("vt.csv");
    assert!(
        isf(&[
            "db",
            "export",
            p,
            "voltage_traces",
            "-o",
            csv.to_str().unwrap()
        ])
        .status
        .success()
    );
    assert!(
        fs::read_to_string(&csv)
            .unwrap()
            .starts_with("sim_trial_index,0,0.025,0.05\n")
    );

    // The string column cannot become an npy array: a clear error, exit 1.
    let o = isf(&[
        "db",
        "export",
        p,
        "voltage_traces",
        "-o",
        "x.npy",
        "--column",
        "sim_trial_index",
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o).1.contains("E0605"), "{:?}", text(&o));
    let o = isf(&["db", "export", p, "voltage_traces", "-o", "x.bin"]);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn verify_names_damaged_keys_and_fix_cleans() {
    let d = tempfile::tempdir().unwrap();
    let s = fixture(d.path(), "db", 1);
    let p = s.path().to_str().unwrap();
    let o = isf(&["db", "verify", p]);
    assert!(o.status.success());
    assert!(
        text(&o).0.contains("checked 3 entries and 1 chunks"),
        "{:?}",
        text(&o)
    );

    // The small table is inline in its entry (chunk files are damaged in `store_api`).
    assert!(
        s.table_info("voltage_traces").unwrap().chunks[0]
            .inline
            .is_some()
    );
    let chunk = s.path().join("voltage_traces/key.isfd");
    let b = fs::read(&chunk).unwrap();
    fs::write(&chunk, &b[..b.len() - 10]).unwrap();
    // A dead writer's temporary file, of this host (pid and host tag in the name).
    let tmp_name = format!(".tmp-99999999@{}-0-key.isfd", isf::store::frame::host_tag());
    fs::write(s.path().join(&tmp_name), "x").unwrap();
    let o = isf(&["db", "verify", p]);
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        err.contains("error[E0601]: key 'voltage_traces'") && err.contains("truncated"),
        "{err}"
    );
    assert!(
        out.contains("1 damaged key(s)") && out.contains("stray"),
        "{out}"
    );
    // Other keys still read.
    assert!(isf(&["db", "get", p, "params"]).status.success());

    let (out, _) = text(&isf(&["db", "verify", p, "--fix"]));
    assert!(
        out.contains("removed") && out.contains(".tmp-99999999"),
        "{out}"
    );
    assert!(!s.path().join(&tmp_name).exists());
}

#[test]
fn merge_shards_and_conflicts() {
    let d = tempfile::tempdir().unwrap();
    let a = Store::create(d.path().join("a")).unwrap();
    a.put("p0/x", &1).unwrap();
    let b = Store::create(d.path().join("b")).unwrap();
    b.put("p1/x", &2).unwrap();
    let m = d.path().join("merged");
    let o = isf(&[
        "db",
        "merge",
        m.to_str().unwrap(),
        a.path().to_str().unwrap(),
        b.path().to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{:?}", text(&o));
    assert_eq!(
        Store::open(&m).unwrap().keys_recursive().unwrap(),
        ["p0/x", "p1/x"]
    );

    let c = Store::create(d.path().join("c")).unwrap();
    c.put("p0/x", &3).unwrap();
    let o = isf(&[
        "db",
        "merge",
        m.to_str().unwrap(),
        c.path().to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        text(&o).1.contains("E0606") && text(&o).1.contains("p0/x"),
        "{:?}",
        text(&o)
    );
}

#[test]
fn writers_lock_readers_do_not() {
    let d = tempfile::tempdir().unwrap();
    let s = fixture(d.path(), "db", 1);
    let p = s.path().to_str().unwrap();
    let other = Store::create(d.path().join("other")).unwrap();
    other.put("new", &1).unwrap();
    let held = isf::store::lock::lock(s.path(), "a test holding the lock").unwrap();
    for args in [
        vec!["db", "verify", p, "--fix"],
        vec!["db", "merge", p, other.path().to_str().unwrap()],
    ] {
        let o = isf(&args);
        assert_eq!(o.status.code(), Some(1), "{args:?}");
        let err = text(&o).1;
        assert!(
            err.contains("error[E0611]")
                && err.contains(&format!("pid {}", std::process::id()))
                && err.contains("a test holding the lock"),
            "{err}"
        );
    }
    assert!(!s.contains("new"));
    assert!(isf(&["db", "verify", p]).status.success());
    assert!(isf(&["db", "ls", p]).status.success());
    drop(held);
    assert!(isf(&["db", "verify", p, "--fix"]).status.success());
}

#[test]
fn verify_reports_run_results_of_another_plan() {
    let d = tempfile::tempdir().unwrap();
    let s = Store::create(d.path().join("db")).unwrap();
    let plan = serde_json::json!({"name": "e", "trials": 2, "seed": 1, "sweep": []});
    let exp = s.sub("e").unwrap();
    exp.put("plan", &plan).unwrap();
    let mut meta = Metadata::default();
    meta.extra.insert("item_hash".into(), "0".repeat(64));
    exp.put_table(
        "trials/p000000_t000001",
        &Table::new().with("point", isf::store::Column::I64(vec![0])),
        meta.clone(),
    )
    .unwrap();
    exp.put_table(
        "trials/p000000_t000007",
        &Table::new().with("point", isf::store::Column::I64(vec![0])),
        meta,
    )
    .unwrap();
    let o = isf(&["db", "verify", s.path().to_str().unwrap()]);
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        err.contains(
            "error[E0612]: key 'e/trials/p000000_t000001': computed from a different plan"
        ) && err.contains("key 'e/trials/p000000_t000007': not a work item"),
        "{err}"
    );
    assert!(out.contains("2 run result(s) inconsistent"), "{out}");
}
