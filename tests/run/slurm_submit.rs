//! `isf submit --slurm` and `isf status` (issue 17).
//!
//! `submit_on_a_real_slurm_equals_one_machine` runs on a real scheduler: the one-node cluster
//! `.ci/slurm-up` starts (slurmctld, slurmd, munged on localhost). A 2 × 3 sweep with 4 trials
//! goes out as 4 array tasks plus the merge job; the merged store must equal a single-machine
//! `isf run` of the same script key for key and value for value. Then again with one array
//! task killed (`scancel`) mid-run: the merge job is dropped, a re-submission while jobs are
//! still queued is refused (E0516), and once the queue drains, submitting again runs only the
//! unfinished shards and ends with the same store. Without a cluster the test prints SKIPPED;
//! under CI it fails.
//!
//! The other tests need no scheduler: `--dry-run` scripts, option errors, and the submission
//! bookkeeping against stand-in `sbatch`/`squeue` commands.

use crate::common;
use common::store_contents as contents;

use common::cli::isf;
use common::skip::skip;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

/// A passive cell, a 2 × 3 sweep (step amplitude × delay), `trials` trials per point.
fn script(dir: &Path, duration_ms: u32, trials: u32) -> PathBuf {
    let text = format!(
        r#"{cell}experiment sweep {{
    neuron: Cell
    duration: {duration_ms} ms
    dt: 0.025 ms
    trials: {trials}
    seed: 11
    stimulus step {{ at: soma(0.5), amp: 0.1 nA, delay: 5 ms, duration: 10 ms }}
    sweep {{
        stimulus.step.amp in [0.1 nA, 0.3 nA]
        stimulus.step.delay in [2 ms, 4 ms, 6 ms]
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

fn text(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned() + &String::from_utf8_lossy(&o.stderr)
}

/// Assert two stores hold the same keys with the same values; the number of keys compared.
fn assert_same(a: &Path, b: &Path) -> usize {
    let (x, y) = (contents(a), contents(b));
    let keys = |v: &[(String, String)]| v.iter().map(|(k, _)| k.clone()).collect::<Vec<_>>();
    assert_eq!(keys(&x), keys(&y), "different keys");
    for ((k, va), (_, vb)) in x.iter().zip(&y) {
        assert!(va == vb, "key {k} differs");
    }
    // The merged store is complete: trials and assembled tables.
    assert!(
        x.iter().any(|(k, _)| k == "sweep/traces/soma.v"),
        "{:?}",
        keys(&x)
    );
    assert_eq!(
        x.iter()
            .filter(|(k, _)| k.starts_with("sweep/trials/"))
            .count(),
        24
    );
    x.len()
}

// ---- no scheduler needed ------------------------------------------------------------------

#[test]
fn dry_run_prints_both_scripts_and_writes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let s = script(tmp.path(), 20, 4);
    let out = tmp.path().join("r.isfdb");
    let o = isf()
        .arg("submit")
        .arg(&s)
        .args(["--slurm", "--array-size", "4", "--cpus-per-task", "2"])
        .args([
            "--time",
            "0:10:00",
            "--partition",
            "debug",
            "--dry-run",
            "--out",
        ])
        .arg(&out)
        .output()
        .unwrap();
    let t = text(&o);
    assert_eq!(o.status.code(), Some(0), "{t}");
    for want in [
        "#SBATCH --array=1-4",
        "#SBATCH --cpus-per-task=2",
        "#SBATCH --time=0:10:00",
        "#SBATCH --partition=debug",
        "--shard \"$k/$n\"",
        "--resume",
        "db merge",
        "shard-0004-of-0004.isfdb",
        "db verify",
        "--dependency=afterok",
        "4 to run",
    ] {
        assert!(t.contains(want), "missing {want:?} in:\n{t}");
    }
    assert!(!tmp.path().join("r.isfdb.slurm").exists());
    assert!(!out.exists());
}

#[test]
fn bad_options_are_refused_with_e0513() {
    let tmp = tempfile::tempdir().unwrap();
    let s = script(tmp.path(), 20, 4);
    let out = tmp.path().join("r.isfdb");
    for (args, want) in [
        (vec!["--array-size", "0"], "at least 1"),
        (vec!["--array-size", "25"], "more than the 24 work items"),
        (vec!["--time", "1h"], "not a SLURM time limit"),
        (vec!["--partition", "a b"], "not a partition name"),
        (vec!["--cpus-per-task", "0"], "at least 1"),
    ] {
        let o = isf()
            .arg("submit")
            .arg(&s)
            .arg("--slurm")
            .args(&args)
            .arg("--dry-run")
            .arg("--out")
            .arg(&out)
            .output()
            .unwrap();
        let t = text(&o);
        assert_eq!(o.status.code(), Some(1), "{args:?}: {t}");
        assert!(t.contains("[E0513]") && t.contains(want), "{args:?}: {t}");
    }
    // No scheduler chosen.
    let o = isf()
        .arg("submit")
        .arg(&s)
        .arg("--dry-run")
        .output()
        .unwrap();
    assert!(text(&o).contains("[E0513]"), "{}", text(&o));
    // A result path SLURM's `#SBATCH --output` cannot hold.
    let o = isf()
        .arg("submit")
        .arg(&s)
        .args(["--slurm", "--dry-run", "--out"])
        .arg(tmp.path().join("a b.isfdb"))
        .output()
        .unwrap();
    assert!(text(&o).contains("[E0513]"), "{}", text(&o));
}

/// Stand-in `sbatch` (prints the next job id, records its arguments) and `squeue` (prints
/// `$FAKE_SQUEUE`) in a directory put first on PATH.
fn fake_slurm(dir: &Path) -> PathBuf {
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let sbatch = format!(
        "#!/bin/sh\nn=$(cat {d}/next 2>/dev/null || echo 100)\necho $((n+1)) > {d}/next\necho \"$@\" >> {d}/sbatch.log\necho \"$n;cluster\"\n",
        d = dir.display()
    );
    let squeue = "#!/bin/sh\n[ -n \"$FAKE_SQUEUE\" ] && echo \"$FAKE_SQUEUE\"\nexit 0\n";
    for (name, body) in [("sbatch", sbatch.as_str()), ("squeue", squeue)] {
        let p = bin.join(name);
        std::fs::write(&p, body).unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    bin
}

#[test]
fn resubmission_queues_unfinished_shards_and_refuses_other_submissions() {
    let tmp = tempfile::tempdir().unwrap();
    let s = script(tmp.path(), 20, 4);
    let out = tmp.path().join("r.isfdb");
    let bin = fake_slurm(tmp.path());
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let submit = |extra: &[&str], squeue: &str| {
        let o = isf()
            .arg("submit")
            .arg(&s)
            .args(["--slurm", "--out"])
            .arg(&out)
            .args(extra)
            .env("PATH", &path)
            .env("FAKE_SQUEUE", squeue)
            .output()
            .unwrap();
        (o.status.code(), text(&o))
    };
    // No scheduler on PATH: E0514, and no submission is recorded.
    let o = isf()
        .arg("submit")
        .arg(&s)
        .args(["--slurm", "--array-size", "4", "--out"])
        .arg(&out)
        .env("PATH", tmp.path().join("empty"))
        .output()
        .unwrap();
    let t = text(&o);
    assert_eq!(o.status.code(), Some(1), "{t}");
    assert!(t.contains("[E0514]") && t.contains("sbatch"), "{t}");
    assert!(!tmp.path().join("r.isfdb.slurm/submission.json").exists());

    let (code, t) = submit(&["--array-size", "4"], "");
    assert_eq!(code, Some(0), "{t}");
    assert!(
        t.contains("submitted array job 100 (shards 1-4 of 4) and merge job 101"),
        "{t}"
    );
    let log = std::fs::read_to_string(tmp.path().join("sbatch.log")).unwrap();
    assert!(log.contains("--dependency=afterok:100"), "{log}");
    let work = tmp.path().join("r.isfdb.slurm");
    assert!(work.join("array.sbatch").is_file() && work.join("submission.json").is_file());

    // Still queued: refused.
    let (code, t) = submit(&["--array-size", "4"], "100_2 RUNNING None");
    assert_eq!(code, Some(1), "{t}");
    assert!(t.contains("[E0516]") && t.contains("100_2 RUNNING"), "{t}");
    // Another shard count into the same directory: refused.
    let (code, t) = submit(&["--array-size", "3"], "");
    assert_eq!(code, Some(1), "{t}");
    assert!(t.contains("[E0515]") && t.contains("--array-size 4"), "{t}");

    // Shards 1 and 3 ran (as the array tasks would); submitting again queues 2 and 4 only.
    for k in [1, 3] {
        let shard = work.join(format!("shards/shard-{k:04}-of-0004.isfdb"));
        let st = isf()
            .arg("run")
            .arg(&s)
            .args([
                "--quiet",
                "--jobs",
                "1",
                "--resume",
                "--shard",
                &format!("{k}/4"),
            ])
            .arg("--out")
            .arg(&shard)
            .status()
            .unwrap();
        assert!(st.success());
    }
    let (code, t) = submit(&["--array-size", "4"], "");
    assert_eq!(code, Some(0), "{t}");
    assert!(t.contains("(shards 2,4 of 4)"), "{t}");
    assert!(
        t.contains("shard 1/4: 6 of 6 items stored (complete)"),
        "{t}"
    );
    let st = isf().arg("status").arg(&out).output().unwrap();
    let t = text(&st);
    assert!(
        t.contains("1/4") && t.contains("complete") && t.contains("not started"),
        "{t}"
    );
    assert!(t.contains("all shards         12       24"), "{t}");

    // A shard holding another plan's results is refused before anything is queued (E0612).
    let other = std::fs::read_to_string(&s)
        .unwrap()
        .replace("0.3 nA", "0.4 nA");
    std::fs::write(&s, other).unwrap();
    let (code, t) = submit(&["--array-size", "4"], "");
    assert_eq!(code, Some(1), "{t}");
    assert!(t.contains("[E0612]") && t.contains("0.4"), "{t}");
}

// ---- a real scheduler ---------------------------------------------------------------------

/// The configuration for the real-scheduler test's commands when `SLURM_CONF` is not set:
/// the one `.ci/slurm-up` writes (`$ISF_SLURM_DIR/slurm.conf`, default
/// `/tmp/isf-slurm/slurm.conf`), if it exists.
fn slurm_conf() -> Option<PathBuf> {
    if std::env::var_os("SLURM_CONF").is_some() {
        return None;
    }
    let dir = std::env::var("ISF_SLURM_DIR").unwrap_or_else(|_| "/tmp/isf-slurm".into());
    Some(Path::new(&dir).join("slurm.conf")).filter(|c| c.is_file())
}

/// A command that talks to the cluster: `SLURM_CONF` from [`slurm_conf`] is passed to it (and
/// so to the `sbatch`/`squeue` that `isf submit` runs), never set in this process, whose other
/// tests run in parallel and read the environment.
fn on_cluster(program: &str) -> Command {
    let mut c = Command::new(program);
    if let Some(conf) = slurm_conf() {
        c.env("SLURM_CONF", conf);
    }
    c
}

/// `isf` for the real-scheduler test.
fn isf_on_cluster() -> Command {
    on_cluster(env!("CARGO_BIN_EXE_isf"))
}

/// True when a SLURM cluster answers (`sinfo` lists a node).
fn slurm_up() -> bool {
    on_cluster("sinfo")
        .args(["-h", "-o", "%T"])
        .output()
        .is_ok_and(|o| o.status.success() && !o.stdout.is_empty())
}

fn slurm(cmd: &str, args: &[&str]) -> String {
    let o = on_cluster(cmd).args(args).output().unwrap();
    text(&o)
}

/// Wait until SLURM lists none of `ids`; panics with the jobs' logs after `limit`.
fn wait_for(ids: &[String], logs: &Path, limit: Duration) {
    let t0 = Instant::now();
    loop {
        let o = on_cluster("squeue")
            .args(["-h", "-o", "%i %T", "-j", &ids.join(",")])
            .output()
            .unwrap();
        if String::from_utf8_lossy(&o.stdout).trim().is_empty() {
            return;
        }
        if t0.elapsed() > limit {
            let mut all = String::new();
            for f in std::fs::read_dir(logs).into_iter().flatten().flatten() {
                all += &format!("--- {}\n", f.path().display());
                all += &std::fs::read_to_string(f.path()).unwrap_or_default();
            }
            panic!(
                "jobs {ids:?} still queued after {limit:?}:\n{}\n{all}",
                String::from_utf8_lossy(&o.stdout)
            );
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Submit; the array and merge job ids from the output (the array id is absent when every
/// shard was complete).
fn submit(s: &Path, out: &Path) -> (Option<String>, String, String) {
    let o = isf_on_cluster()
        .arg("submit")
        .arg(s)
        .args(["--slurm", "--array-size", "4", "--time", "10", "--out"])
        .arg(out)
        .output()
        .unwrap();
    let t = text(&o);
    assert_eq!(o.status.code(), Some(0), "{t}");
    let num_after = |pat: &str| -> Option<String> {
        let i = t.find(pat)? + pat.len();
        Some(t[i..].chars().take_while(char::is_ascii_digit).collect())
    };
    let merge = num_after("merge job ").expect("a merge job id");
    (num_after("array job "), merge, t)
}

fn trials_in(store: &Path) -> usize {
    std::fs::read_dir(store.join("sweep/trials"))
        .map(|d| {
            d.flatten()
                .filter(|e| e.path().join("key.isfd").is_file())
                .count()
        })
        .unwrap_or(0)
}

#[test]
fn submit_on_a_real_slurm_equals_one_machine() {
    if !slurm_up() {
        skip(
            "no SLURM cluster answers `sinfo`",
            "start one with .ci/slurm-up (needs the slurm-wlm and munge packages; .ci/run installs them) or set SLURM_CONF",
        );
        return;
    }
    let t_all = Instant::now();
    // Under the system temp dir: slurmd (same machine) runs the tasks as this user.
    let tmp = tempfile::tempdir().unwrap();
    // 500 ms trials: long enough to kill a task between two stored trials.
    let s = script(tmp.path(), 500, 4);
    let single = tmp.path().join("single.isfdb");
    let t0 = Instant::now();
    let st = isf_on_cluster()
        .arg("run")
        .arg(&s)
        .args(["--quiet", "--jobs", "2", "--out"])
        .arg(&single)
        .status()
        .unwrap();
    assert!(st.success());
    let t_single = t0.elapsed();

    // 1. Uninterrupted.
    let out = tmp.path().join("cluster.isfdb");
    let t0 = Instant::now();
    let (array, merge, t) = submit(&s, &out);
    let array = array.unwrap_or_else(|| panic!("no array job: {t}"));
    let logs = tmp.path().join("cluster.isfdb.slurm/logs");
    wait_for(
        &[array.clone(), merge.clone()],
        &logs,
        Duration::from_secs(180),
    );
    let t_cluster = t0.elapsed();
    assert!(
        out.join("sweep/traces").exists(),
        "merge job did not complete: {}",
        std::fs::read_to_string(logs.join("merge.log")).unwrap_or_default()
    );
    let keys = assert_same(&out, &single);
    let st = text(&isf_on_cluster().arg("status").arg(&out).output().unwrap());
    assert!(
        st.contains("all shards         24       24")
            && st.contains("24 of 24 items, tables assembled"),
        "{st}"
    );

    // 2. One task killed mid-run.
    let out2 = tmp.path().join("killed.isfdb");
    let t0 = Instant::now();
    let (array, merge, t) = submit(&s, &out2);
    let array = array.unwrap_or_else(|| panic!("no array job: {t}"));
    let shard1 = tmp
        .path()
        .join("killed.isfdb.slurm/shards/shard-0001-of-0004.isfdb");
    let deadline = Instant::now() + Duration::from_secs(120);
    while trials_in(&shard1) < 1 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    let task = format!("{array}_1");
    slurm("scancel", &[&task]);
    let at_kill = trials_in(&shard1);
    assert!(
        (1..6).contains(&at_kill),
        "task 1 was not caught mid-run: {at_kill} of 6 trials stored"
    );
    // The other tasks still run or wait: a second submission now is refused.
    let o = isf_on_cluster()
        .arg("submit")
        .arg(&s)
        .args(["--slurm", "--array-size", "4", "--out"])
        .arg(&out2)
        .output()
        .unwrap();
    let refused = text(&o);
    assert!(
        o.status.code() == Some(1) && refused.contains("[E0516]"),
        "{refused}"
    );
    let logs2 = tmp.path().join("killed.isfdb.slurm/logs");
    wait_for(
        &[array.clone(), merge.clone()],
        &logs2,
        Duration::from_secs(180),
    );
    // The merge never ran (its dependency failed).
    assert!(!out2.join("sweep/traces").exists());
    let st = text(&isf_on_cluster().arg("status").arg(&out2).output().unwrap());
    assert!(st.contains("partial"), "{st}");
    let (array2, merge2, t) = submit(&s, &out2);
    assert!(
        t.contains("(shard 1 of 4)"),
        "only the killed shard again: {t}"
    );
    let mut ids = vec![merge2];
    ids.extend(array2);
    wait_for(&ids, &logs2, Duration::from_secs(180));
    let t_killed = t0.elapsed();
    let keys2 = assert_same(&out2, &single);
    assert_eq!(keys, keys2);
    eprintln!(
        "slurm: single machine {:.1} s; 4 tasks + merge {:.1} s; killed after {at_kill}/6 trials, resubmitted, done {:.1} s; {keys} keys equal in both; test {:.1} s",
        t_single.as_secs_f64(),
        t_cluster.as_secs_f64(),
        t_killed.as_secs_f64(),
        t_all.elapsed().as_secs_f64()
    );
}
