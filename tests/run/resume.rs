//! `isf run` end to end (issue 6 acceptance): a 1,000-trial sweep killed with SIGKILL midway
//! and resumed ends with the same store, value for value, as an uninterrupted run; the store
//! verifies; and `--jobs 1` and `--jobs 2` give identical traces.
//!
//! Runs never mix (issue 11): a resume after an edit is refused, more trials extend a run,
//! a second writer is refused at once, concurrent creation of one store is safe, swept
//! `duration`/`dt` store traces per sweep point, and merged shards get assembled tables.

use crate::common;
use common::cli::isf;
use common::store_contents as contents;
use isf::store::Store;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

/// A small passive cell, 10 sweep points x 100 trials, 40 ms each.
fn script(dir: &Path) -> PathBuf {
    let text = format!(
        r#"{cell}experiment sweep {{
    neuron: Cell
    duration: 40 ms
    dt: 0.025 ms
    trials: 100
    seed: 3
    stimulus step {{ at: soma(0.5), amp: 0.1 nA, delay: 5 ms, duration: 20 ms }}
    sweep {{
        stimulus.step.amp in 0.05 nA .. 0.5 nA by 0.05 nA
    }}
    record {{
        soma.v
        spikes(soma, threshold: -60 mV)
    }}
}}
"#,
        cell = common::passive_cell(1)
    );
    let p = dir.join("sweep.isf");
    std::fs::write(&p, text).unwrap();
    p
}

fn run_to_end(script: &Path, out: &Path, extra: &[&str]) {
    let st = isf()
        .arg("run")
        .arg(script)
        .arg("--out")
        .arg(out)
        .args(["--quiet"])
        .args(extra)
        .status()
        .unwrap();
    assert!(st.success(), "isf run {extra:?} failed");
}

fn trial_count(out: &Path) -> usize {
    std::fs::read_dir(out.join("sweep/trials"))
        .map(|d| {
            d.flatten()
                .filter(|e| e.path().join("key.isfd").is_file())
                .count()
        })
        .unwrap_or(0)
}

#[test]
fn killed_and_resumed_equals_uninterrupted() {
    let tmp = tempfile::tempdir().unwrap();
    let script = script(tmp.path());
    let full = tmp.path().join("full.isfdb");
    let t0 = Instant::now();
    run_to_end(&script, &full, &["--jobs", "2"]);
    let full_s = t0.elapsed().as_secs_f64();
    assert_eq!(trial_count(&full), 1000);

    // Start again into a fresh store and kill it (SIGKILL) once a part is stored.
    let killed = tmp.path().join("killed.isfdb");
    let mut child = isf()
        .arg("run")
        .arg(&script)
        .arg("--out")
        .arg(&killed)
        .args(["--quiet", "--jobs", "2"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(120);
    while trial_count(&killed) < 150 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    child.kill().unwrap(); // SIGKILL on Unix
    child.wait().unwrap();
    let at_kill = trial_count(&killed);
    assert!(
        (150..1000).contains(&at_kill),
        "killed after {at_kill} trials: not midway"
    );

    // Without --resume the run refuses to mix results; with it, it finishes the rest.
    let st = isf()
        .arg("run")
        .arg(&script)
        .arg("--out")
        .arg(&killed)
        .arg("--quiet")
        .status()
        .unwrap();
    assert_eq!(st.code(), Some(1));
    run_to_end(&script, &killed, &["--jobs", "2", "--resume"]);
    assert_eq!(trial_count(&killed), 1000);
    let verify = isf().args(["db", "verify"]).arg(&killed).status().unwrap();
    assert!(
        verify.success(),
        "isf db verify failed on the resumed store"
    );
    let a = contents(&full);
    let b = contents(&killed);
    assert_eq!(a.len(), b.len());
    for (x, y) in a.iter().zip(&b) {
        assert_eq!(x.0, y.0);
        assert!(x.1 == y.1, "key {} differs after resume", x.0);
    }
    eprintln!(
        "1,000 trials uninterrupted in {full_s:.1} s; killed after {at_kill}, resumed; {} keys equal",
        a.len()
    );
}

#[test]
fn thread_count_does_not_change_results() {
    let tmp = tempfile::tempdir().unwrap();
    let script = script(tmp.path());
    let one = tmp.path().join("one.isfdb");
    let two = tmp.path().join("two.isfdb");
    run_to_end(&script, &one, &["--jobs", "1", "--shard", "1/10"]);
    run_to_end(&script, &two, &["--jobs", "2", "--shard", "1/10"]);
    let a = contents(&one);
    assert!(!a.is_empty());
    assert_eq!(a, contents(&two));
}

// ---- runs never mix, one writer per store (issue 11) ------------------------------------

/// A small passive cell: `trials` trials per point of `sweep` (a sweep line), 20 ms each.
fn small(dir: &Path, name: &str, trials: u64, amp: &str, sweep: &str) -> PathBuf {
    let text = format!(
        r#"{cell}experiment e {{
    neuron: Cell
    duration: 20 ms
    dt: 0.025 ms
    trials: {trials}
    seed: 3
    stimulus step {{ at: soma(0.5), amp: {amp}, delay: 5 ms, duration: 10 ms }}
    sweep {{ {sweep} }}
    record {{
        soma.v
        spikes(soma, threshold: -60 mV)
    }}
}}
"#,
        cell = common::passive_cell(1)
    );
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

const AMPS: &str = "stimulus.step.amp in [0.1 nA, 0.2 nA, 0.3 nA]";

/// `isf run SCRIPT --out OUT --quiet EXTRA…`: exit code and stderr.
fn run(script: &Path, out: &Path, extra: &[&str]) -> (Option<i32>, String) {
    let o = isf()
        .arg("run")
        .arg(script)
        .arg("--out")
        .arg(out)
        .args(["--quiet", "--jobs", "1"])
        .args(extra)
        .output()
        .unwrap();
    (
        o.status.code(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

/// Bytes of every file of every trial key, by path.
fn trial_files(out: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut v = Vec::new();
    for k in std::fs::read_dir(out.join("e/trials")).unwrap().flatten() {
        if !k.path().join("key.isfd").is_file() {
            continue;
        }
        for f in std::fs::read_dir(k.path()).unwrap().flatten() {
            v.push((f.path(), std::fs::read(f.path()).unwrap()));
        }
    }
    v.sort();
    v
}

fn verifies(out: &Path) -> bool {
    isf()
        .args(["db", "verify"])
        .arg(out)
        .stdout(Stdio::null())
        .status()
        .unwrap()
        .success()
}

fn rows(out: &Path, key: &str) -> usize {
    Store::open(out).unwrap().table_info(key).unwrap().rows as usize
}

#[test]
fn resume_after_an_edit_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("s.isfdb");
    let a = small(tmp.path(), "a.isf", 4, "0.8 nA", AMPS);
    assert_eq!(run(&a, &out, &[]).0, Some(0));
    let before = trial_files(&out);
    let b = small(tmp.path(), "b.isf", 4, "1.0 nA", AMPS);
    let (code, err) = run(&b, &out, &["--resume"]);
    assert_eq!(code, Some(1), "{err}");
    assert!(
        err.contains("[E0612]")
            && err.contains("stimuli.step.amp: 0.8 nA → 1.0 nA")
            && err.contains("nothing was run")
            && err.contains("--overwrite")
            && !err.contains("ran "),
        "{err}"
    );
    assert_eq!(
        before,
        trial_files(&out),
        "a refused resume changed trial keys"
    );
    // --overwrite starts again with the new plan.
    let (code, err) = run(&b, &out, &["--overwrite"]);
    assert_eq!(code, Some(0), "{err}");
    assert!(verifies(&out));
}

#[test]
fn more_trials_extend_fewer_or_other_sweep_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("s.isfdb");
    let four = small(tmp.path(), "four.isf", 4, "0.8 nA", AMPS);
    assert_eq!(run(&four, &out, &[]).0, Some(0));
    let before = trial_files(&out);
    let six = small(tmp.path(), "six.isf", 6, "0.8 nA", AMPS);
    let (code, err) = run(&six, &out, &["--resume"]);
    assert_eq!(code, Some(0), "{err}");
    assert!(
        err.contains("extending: 12 stored items kept, 6 to run"),
        "{err}"
    );
    let after = trial_files(&out);
    for f in &before {
        assert!(after.contains(f), "{} changed", f.0.display());
    }
    assert_eq!(rows(&out, "e/traces/soma.v"), 18);
    assert!(verifies(&out));
    // The extended store equals a run of six trials from scratch.
    let fresh = tmp.path().join("fresh.isfdb");
    assert_eq!(run(&six, &fresh, &[]).0, Some(0));
    assert_eq!(contents(&out), contents(&fresh));

    let (code, err) = run(&four, &out, &["--resume"]);
    assert_eq!(code, Some(1), "{err}");
    assert!(
        err.contains("[E0612]") && err.contains("trials: 6 → 4"),
        "{err}"
    );
    let other = small(
        tmp.path(),
        "other.isf",
        6,
        "0.8 nA",
        "stimulus.step.amp in [0.1 nA, 0.25 nA, 0.3 nA]",
    );
    let (code, err) = run(&other, &out, &["--resume"]);
    assert_eq!(code, Some(1), "{err}");
    assert!(
        err.contains("[E0612]") && err.contains("sweep[0].values[1]: 0.2 nA → 0.25 nA"),
        "{err}"
    );
    assert_eq!(trial_files(&out).len(), after.len());
}

#[test]
fn a_second_writer_is_refused_at_once() {
    let tmp = tempfile::tempdir().unwrap();
    let script = script(tmp.path());
    let out = tmp.path().join("s.isfdb");
    // 200 trials on one thread: long enough (a few seconds) to be caught running.
    let mut first = isf()
        .arg("run")
        .arg(&script)
        .arg("--out")
        .arg(&out)
        .args(["--quiet", "--jobs", "1", "--shard", "1/5"])
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Wait until the first holds the lock (it names itself in the lock file).
    let deadline = Instant::now() + Duration::from_secs(30);
    while !std::fs::read_to_string(out.join(".isf-lock"))
        .is_ok_and(|t| t.contains(&format!("\"pid\":{}", first.id())))
    {
        assert!(Instant::now() < deadline, "first writer never locked");
        std::thread::sleep(Duration::from_millis(5));
    }
    let t0 = Instant::now();
    let (code, err) = run(&script, &out, &["--resume", "--shard", "1/5"]);
    let waited = t0.elapsed();
    assert_eq!(code, Some(1), "{err}");
    assert!(
        err.contains("[E0611]") && err.contains(&format!("pid {}", first.id())),
        "{err}"
    );
    assert!(
        first.try_wait().unwrap().is_none(),
        "first writer ended before the second was refused: test too slow to tell"
    );
    assert!(waited < Duration::from_secs(5), "refusal took {waited:?}");
    assert!(first.wait().unwrap().success());
    assert_eq!(trial_count(&out), 200);
    assert!(verifies(&out));
    // Readers need no lock; the lock ends with its process.
    assert!(
        isf()
            .args(["db", "ls"])
            .arg(&out)
            .stdout(Stdio::null())
            .status()
            .unwrap()
            .success()
    );
    assert_eq!(
        run(&script, &out, &["--resume", "--shard", "1/5"]).0,
        Some(0)
    );
}

#[test]
fn concurrent_creation_never_says_not_a_store() {
    let tmp = tempfile::tempdir().unwrap();
    let script = small(tmp.path(), "a.isf", 2, "0.8 nA", AMPS);
    for i in 0..12 {
        let out = tmp.path().join(format!("s{i}.isfdb"));
        let spawn = |resume: bool| {
            let mut c = isf();
            c.arg("run")
                .arg(&script)
                .arg("--out")
                .arg(&out)
                .args(["--quiet", "--jobs", "1"])
                .stdout(Stdio::null())
                .stderr(Stdio::piped());
            if resume {
                c.arg("--resume");
            }
            c.spawn().unwrap()
        };
        let (a, b) = (spawn(false), spawn(true));
        let mut ok = 0;
        for c in [a, b] {
            let o = c.wait_with_output().unwrap();
            let err = String::from_utf8_lossy(&o.stderr);
            assert!(!err.contains("not an isf store"), "{err}");
            if o.status.success() {
                ok += 1;
            } else {
                // Refused by the lock, or (when it came second) told to --resume.
                assert!(
                    err.contains("[E0611]") || err.contains("already holds results"),
                    "{err}"
                );
            }
        }
        assert!(ok >= 1);
        assert!(verifies(&out));
    }
}

#[test]
fn swept_duration_and_dt_store_traces_per_point() {
    let tmp = tempfile::tempdir().unwrap();
    for (sweep, widths, last) in [
        ("duration in [10 ms, 20 ms]", [401, 801], [10.0, 20.0]),
        ("dt in [0.025 ms, 0.05 ms]", [801, 401], [20.0, 20.0]),
    ] {
        let script = small(tmp.path(), "v.isf", 2, "0.5 nA", sweep);
        let out = tmp.path().join(format!("{}.isfdb", &sweep[..2]));
        let (code, err) = run(&script, &out, &[]);
        assert_eq!(code, Some(0), "{sweep}: {err}");
        let s = Store::open(&out).unwrap();
        assert_eq!(
            s.kind("e/traces/soma.v").unwrap(),
            isf::store::Kind::Store,
            "{sweep}"
        );
        for p in 0..2 {
            let t = s.get_table(&format!("e/traces/soma.v/p{p:06}")).unwrap();
            let Some(isf::store::Column::F64Array(a)) = t.column("vm") else {
                panic!("no vm column");
            };
            assert_eq!((a.ncols(), a.len()), (widths[p], 2 * widths[p]), "{sweep}");
            let times = t.attrs.get("vm.labels").and_then(|v| v.as_array()).unwrap();
            assert_eq!(times.len(), widths[p]);
            let end = times.last().and_then(|v| v.as_f64()).unwrap();
            assert!(
                (end - last[p]).abs() < 1e-9,
                "{sweep}: point {p} ends at {end}"
            );
            assert_eq!(
                t.column("sim_trial_index"),
                Some(&isf::store::Column::Str(vec![
                    format!("p{p:06}/t000000"),
                    format!("p{p:06}/t000001")
                ]))
            );
        }
        assert_eq!(rows(&out, "e/events/spikes_soma_"), 4);
        assert!(verifies(&out), "{sweep}");
    }
}

#[test]
fn merge_of_shards_assembles_refuses_other_plans_and_is_idempotent() {
    let tmp = tempfile::tempdir().unwrap();
    let a = small(tmp.path(), "a.isf", 4, "0.8 nA", AMPS);
    let b = small(tmp.path(), "b.isf", 4, "1.0 nA", AMPS);
    let d = |n: &str| tmp.path().join(n);
    assert_eq!(run(&a, &d("s1"), &["--shard", "1/2"]).0, Some(0));
    assert_eq!(run(&a, &d("s2"), &["--shard", "2/2"]).0, Some(0));
    assert_eq!(run(&b, &d("x2"), &["--shard", "2/2"]).0, Some(0));
    assert_eq!(run(&a, &d("whole"), &[]).0, Some(0));
    // A shard's store has no partial tables.
    assert!(!Store::open(d("s1")).unwrap().contains("e/traces"));
    let merge = |dest: &str, shards: &[&str]| {
        let o = isf()
            .args(["db", "merge"])
            .arg(d(dest))
            .args(shards.iter().map(|s| d(s)))
            .output()
            .unwrap();
        (
            o.status.code(),
            String::from_utf8_lossy(&o.stdout).into_owned() + &String::from_utf8_lossy(&o.stderr),
        )
    };
    let (code, out) = merge("m", &["s1", "s2"]);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("assembled from 12 items"), "{out}");
    assert_eq!(contents(&d("m")), contents(&d("whole")));
    assert!(verifies(&d("m")));
    let once = contents(&d("m"));
    let files_once = trial_files(&d("m"));
    let (code, out) = merge("m", &["s1", "s2"]);
    assert_eq!(code, Some(0), "{out}");
    assert!(!out.contains("copied, 0 identical") && out.contains("0 key(s) copied"));
    assert_eq!(contents(&d("m")), once);
    assert_eq!(trial_files(&d("m")), files_once);

    let (code, out) = merge("m2", &["s1", "x2"]);
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains("[E0606]") && out.contains("stimuli.step.amp: 0.8 nA → 1.0 nA"),
        "{out}"
    );
    assert!(
        !Store::open(d("m2"))
            .unwrap()
            .contains("e/trials/p000000_t000001")
    );
}
