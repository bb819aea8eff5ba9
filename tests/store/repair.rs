//! Issue 12, safe store tools and store repair: every reproducer of the report as a test.
//!
//! * `verify --fix` never deletes outside the store through a symbolic link (it removes the
//!   link itself), and `merge` never copies what a shard's link points to (E0613).
//! * A damaged trial is run again by `--resume`; `verify --fix` quarantines what it cannot
//!   read; `isf db rm` removes keys under the writer lock; `db export` is atomic; merge I/O
//!   errors name the destination.
//! * `all_compartments` is stored as one table, not a key per compartment.

use crate::common;
use common::cli::{output as isf, text};
use isf::store::{Column, Metadata, Store, Table};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// `isf` with a file size limit of 1 KiB (SIGXFSZ ignored, so writes fail with EFBIG):
/// a write failure that happens even to root.
fn isf_small_files(args: &[&str]) -> Output {
    let mut script = String::from("trap '' XFSZ; ulimit -f 1; exec \"$0\"");
    for i in 1..=args.len() {
        script += &format!(" \"${i}\"");
    }
    Command::new("sh")
        .arg("-c")
        .arg(script)
        .arg(env!("CARGO_BIN_EXE_isf"))
        .args(args)
        .output()
        .unwrap()
}

/// A store with a table large enough (> 1 KiB per chunk) and a value.
fn store(dir: &Path, name: &str) -> Store {
    let s = Store::create(dir.join(name)).unwrap();
    // Incompressible-ish data so files stay above the 1 KiB limit of `isf_small_files`.
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let data: Vec<f64> = (0..2000)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 11) as f64 / 1e3
        })
        .collect();
    let t = Table::new().with(
        "vm",
        Column::F64Array(isf::store::table::f64_rows(1000, data).unwrap()),
    );
    // In a chunk file of its own (not inline in the entry): tests damage that file.
    s.clone()
        .with_options(isf::store::WriteOptions {
            inline_bytes: 0,
            ..Default::default()
        })
        .put_table("traces", &t, Metadata::default())
        .unwrap();
    s.put("params", &serde_json::json!({"a": 1})).unwrap();
    s
}

fn p(path: &Path) -> &str {
    path.to_str().unwrap()
}

#[test]
fn verify_fix_never_deletes_outside_the_store() {
    let d = tempfile::tempdir().unwrap();
    let s = store(d.path(), "st");
    let outside = d.path().join("outside");
    fs::create_dir_all(outside.join(".deleting-x")).unwrap();
    // Names `fix` removes when it finds them inside a store.
    fs::write(outside.join(".tmp-999999-0-precious"), "keep").unwrap();
    fs::write(outside.join(".deleting-x/data"), "keep").unwrap();
    fs::write(outside.join("precious.txt"), "keep").unwrap();
    std::os::unix::fs::symlink(&outside, s.path().join("evil")).unwrap();
    std::os::unix::fs::symlink(&outside, s.path().join(".deleting-7-evil")).unwrap();
    std::os::unix::fs::symlink(
        outside.join("precious.txt"),
        s.path().join("traces/chunk-000009.isfd"),
    )
    .unwrap();

    let o = isf(&["db", "verify", p(s.path())]);
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(1), "{out}{err}");
    assert!(
        err.contains("error[E0613]") && err.contains("evil"),
        "{err}"
    );
    assert!(err.contains("chunk-000009.isfd"), "{err}");

    let o = isf(&["db", "verify", "--fix", p(s.path())]);
    let (out, err) = text(&o);
    assert!(
        out.contains("removed") && out.contains("evil"),
        "{out}{err}"
    );
    assert!(outside.join(".tmp-999999-0-precious").exists());
    assert!(outside.join(".deleting-x/data").exists());
    assert_eq!(
        fs::read_to_string(outside.join("precious.txt")).unwrap(),
        "keep"
    );
    assert!(
        fs::symlink_metadata(s.path().join("evil")).is_err(),
        "link removed"
    );
    assert!(fs::symlink_metadata(s.path().join(".deleting-7-evil")).is_err());
    assert!(fs::symlink_metadata(s.path().join("traces/chunk-000009.isfd")).is_err());
    assert!(o.status.success(), "{out}{err}");
    assert!(isf(&["db", "verify", p(s.path())]).status.success());
    assert_eq!(s.get_table("traces").unwrap().rows(), Ok(2));
}

#[test]
fn merge_never_copies_what_a_link_points_to() {
    let d = tempfile::tempdir().unwrap();
    let shard = store(d.path(), "shard");
    let secret = d.path().join("secret.txt");
    fs::write(&secret, "SECRET").unwrap();
    std::os::unix::fs::symlink(&secret, shard.path().join("traces/notes.txt")).unwrap();
    let dest = d.path().join("dest");
    let o = isf(&["db", "merge", p(&dest), p(shard.path())]);
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(1), "{out}{err}");
    assert!(
        err.contains("error[E0613]") && err.contains("notes.txt"),
        "{err}"
    );
    assert!(!dest.join("traces").exists(), "nothing merged");

    // A key directory that is a link to a key elsewhere is not a key of the shard.
    fs::remove_file(shard.path().join("traces/notes.txt")).unwrap();
    let other = store(d.path(), "other");
    std::os::unix::fs::symlink(other.path().join("traces"), shard.path().join("linked")).unwrap();
    let o = isf(&["db", "merge", p(&dest), p(shard.path())]);
    let (_, err) = text(&o);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        err.contains("error[E0613]") && err.contains("linked"),
        "{err}"
    );
    assert!(!dest.join("linked").exists());
}

#[test]
fn merge_io_errors_name_the_destination() {
    let d = tempfile::tempdir().unwrap();
    let shard = store(d.path(), "shard");
    let dest = d.path().join("dest");
    let o = isf_small_files(&["db", "merge", p(&dest), p(shard.path())]);
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(1), "{out}{err}");
    assert!(err.contains("error[E0607]"), "{err}");
    let line = err.lines().find(|l| l.contains("E0607")).unwrap();
    assert!(line.contains(p(&dest)), "names the destination: {line}");
    assert!(!line.contains(p(shard.path())), "not the source: {line}");
    // Nothing half-copied became a key.
    assert!(Store::open(&dest).unwrap().keys().unwrap().is_empty());
}

#[test]
fn export_is_atomic() {
    let d = tempfile::tempdir().unwrap();
    let s = store(d.path(), "st");
    let out = d.path().join("out");
    fs::create_dir(&out).unwrap();
    let csv = out.join("traces.csv");
    fs::write(&csv, "earlier export\n").unwrap();
    let o = isf_small_files(&["db", "export", p(s.path()), "traces", "-o", p(&csv)]);
    let (_, err) = text(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains("error[E0607]"), "{err}");
    assert_eq!(fs::read_to_string(&csv).unwrap(), "earlier export\n");
    let names: Vec<_> = fs::read_dir(&out).unwrap().flatten().collect();
    assert_eq!(names.len(), 1, "no temporary file left: {names:?}");
    // Without the limit it works and replaces the file.
    let o = isf(&["db", "export", p(s.path()), "traces", "-o", p(&csv)]);
    assert!(o.status.success());
    assert!(fs::read_to_string(&csv).unwrap().len() > 1000);
}

#[test]
fn db_rm_removes_keys_under_the_lock() {
    let d = tempfile::tempdir().unwrap();
    let s = store(d.path(), "st");
    s.put("exp/trials/p000000_t000000", &1).unwrap();
    s.put("exp/plan", &2).unwrap();
    let st = p(s.path());

    let o = isf(&["db", "rm", st, "params"]);
    let (out, err) = text(&o);
    assert!(o.status.success(), "{err}");
    assert!(out.contains("removed params (value)"), "{out}");
    assert!(!s.contains("params"));

    let o = isf(&["db", "rm", st, "exp"]);
    let (_, err) = text(&o);
    assert_eq!(o.status.code(), Some(1));
    assert!(err.contains("error[E0605]") && err.contains("-r"), "{err}");
    assert!(s.contains("exp/plan"));

    for root in ["", "/", "."] {
        let o = isf(&["db", "rm", st, root]);
        assert_eq!(o.status.code(), Some(1), "rm {root:?}");
        assert!(text(&o).1.contains("error[E0603]"), "{}", text(&o).1);
    }
    let o = isf(&["db", "rm", st, "nope"]);
    assert!(text(&o).1.contains("error[E0604]"));

    {
        let (_held, _lock) = Store::open_locked(s.path(), "test").unwrap();
        let o = isf(&["db", "rm", st, "-r", "exp"]);
        assert!(text(&o).1.contains("error[E0611]"), "{}", text(&o).1);
        assert!(s.contains("exp/plan"));
    }
    let o = isf(&["db", "rm", st, "-r", "exp"]);
    let (out, err) = text(&o);
    assert!(o.status.success(), "{err}");
    assert!(out.contains("removed exp (store)"), "{out}");
    assert!(!s.contains("exp/plan"));

    // A damaged key can be removed.
    damage(&s.path().join("traces/key.isfd"));
    let o = isf(&["db", "rm", st, "traces"]);
    let (out, err) = text(&o);
    assert!(o.status.success(), "{err}");
    assert!(out.contains("removed traces (damaged)"), "{out}");
    assert!(isf(&["db", "verify", st]).status.success());
}

fn damage(file: &Path) {
    let mut b = fs::read(file).unwrap();
    let n = b.len();
    b[n / 2] ^= 0xff;
    fs::write(file, b).unwrap();
}

#[test]
fn verify_fix_quarantines_what_it_cannot_read() {
    let d = tempfile::tempdir().unwrap();
    let s = store(d.path(), "st");
    s.put("sub/v", &7).unwrap();
    damage(&s.path().join("traces/chunk-000000.isfd"));
    damage(&s.path().join("sub/v/key.isfd"));
    let st = p(s.path());
    assert_eq!(isf(&["db", "verify", st]).status.code(), Some(1));
    let o = isf(&["db", "verify", "--fix", st]);
    let (out, err) = text(&o);
    assert!(o.status.success(), "{out}{err}");
    assert!(out.contains("quarantined traces"), "{out}");
    assert!(out.contains("quarantined sub/v"), "{out}");
    assert!(!s.contains("traces") && !s.contains("sub/v"));
    assert!(s.contains("params") && s.contains("sub"));
    let q: Vec<PathBuf> = fs::read_dir(s.path().join(".quarantine"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    assert_eq!(q.len(), 1, "{q:?}");
    assert!(q[0].join("traces/chunk-000000.isfd").is_file());
    assert!(q[0].join("sub/v/key.isfd").is_file());
    assert!(isf(&["db", "verify", st]).status.success());
    assert!(isf(&["db", "ls", "-r", st]).status.success());
}

fn cell_script(dir: &Path, record: &str, trials: u32) -> PathBuf {
    let text = format!(
        r#"{cell}experiment ex {{
    neuron: Cell
    duration: 2 ms
    dt: 0.025 ms
    trials: {trials}
    seed: 3
    record {{ {record} }}
}}
"#,
        cell = common::passive_cell(2)
    );
    let p = dir.join("s.isf");
    fs::write(&p, text).unwrap();
    p
}

fn run(script: &Path, out: &Path, extra: &[&str]) -> Output {
    let mut args = vec!["run", p(script), "--out", p(out), "--quiet"];
    args.extend_from_slice(extra);
    isf(&args)
}

#[test]
fn resume_runs_damaged_trials_again() {
    let d = tempfile::tempdir().unwrap();
    let script = cell_script(d.path(), "soma.v", 3);
    let out = d.path().join("st");
    assert!(run(&script, &out, &[]).status.success());
    let s = Store::open(&out).unwrap();
    let good = s.get_table("ex/traces/soma.v").unwrap();
    // Trial tables this small are inline in their entry (format version 2): damaging the
    // entry damages the trace.
    assert!(
        !out.join("ex/trials/p000000_t000001/chunk-000000.isfd")
            .exists()
    );
    damage(&out.join("ex/trials/p000000_t000001/key.isfd"));
    damage(&out.join("ex/trials/p000000_t000002/key.isfd"));
    assert_eq!(isf(&["db", "verify", p(&out)]).status.code(), Some(1));

    let o = run(&script, &out, &["--resume"]);
    let (_, err) = text(&o);
    assert!(o.status.success(), "{err}");
    assert!(err.contains("ran 2 trials"), "{err}");
    assert!(err.contains("2 stored trial(s) cannot be read"), "{err}");
    assert!(isf(&["db", "verify", p(&out)]).status.success());
    assert_eq!(s.get_table("ex/traces/soma.v").unwrap(), good);
    // Now nothing is left to run.
    let o = run(&script, &out, &["--resume"]);
    assert!(text(&o).1.contains("ran 0 trials"), "{}", text(&o).1);
}

#[test]
fn all_compartments_is_one_table() {
    let d = tempfile::tempdir().unwrap();
    let script = cell_script(d.path(), "soma.v\n all_compartments", 2);
    let out = d.path().join("st");
    let o = run(&script, &out, &[]);
    assert!(o.status.success(), "{}", text(&o).1);
    let s = Store::open(&out).unwrap();
    let keys = s.sub_existing("ex/traces").unwrap().keys().unwrap();
    assert_eq!(keys, vec!["all_compartments.v", "soma.v"]);
    let t = s.get_table("ex/traces/all_compartments.v").unwrap();
    let Some(Column::I64(comp)) = t.column("compartment") else {
        panic!("no compartment column");
    };
    let n = comp.iter().filter(|&&c| c == 0).count();
    assert_eq!(n, 2, "one row per trial and compartment");
    let per_trial = comp.len() / 2;
    assert!(per_trial > 1);
    assert_eq!(comp[..per_trial], (0..per_trial as i64).collect::<Vec<_>>());
    let Some(Column::Str(labels)) = t.column("sim_trial_index") else {
        panic!()
    };
    assert_eq!(labels[0], "p000000/t000000");
    assert_eq!(labels[per_trial], "p000000/t000001");
    let Some(Column::F64Array(a)) = t.column("vm") else {
        panic!()
    };
    assert_eq!(a.ncols(), 81);
    assert!(isf(&["db", "verify", p(&out)]).status.success());
}

#[test]
fn merge_move_renames_keys_out_of_the_shard() {
    let d = tempfile::tempdir().unwrap();
    let shard = store(d.path(), "shard");
    shard.put("exp/trials/p000000_t000000", &1).unwrap();
    let dest = store(d.path(), "dest");
    dest.put("exp/trials/p000000_t000001", &2).unwrap();
    let o = isf(&["db", "merge", "--move", p(dest.path()), p(shard.path())]);
    let (out, err) = text(&o);
    assert!(o.status.success(), "{out}{err}");
    assert!(out.contains("1 key(s) moved, 2 identical"), "{out}");
    assert!(dest.contains("exp/trials/p000000_t000000"));
    assert!(!shard.contains("exp/trials/p000000_t000000"));
    assert!(isf(&["db", "verify", p(dest.path())]).status.success());
    assert!(isf(&["db", "verify", p(shard.path())]).status.success());
}
