//! `isf run` end to end (issue 6 acceptance): a 1,000-trial sweep killed with SIGKILL midway
//! and resumed ends with the same store, value for value, as an uninterrupted run; the store
//! verifies; and `--jobs 1` and `--jobs 2` give identical traces.

use isf::store::Store;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn isf() -> Command {
    Command::new(env!("CARGO_BIN_EXE_isf"))
}

/// A small passive cell, 10 sweep points x 100 trials, 40 ms each.
fn script(dir: &Path) -> PathBuf {
    let swc = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/cells/l5pt_simple.swc");
    let text = format!(
        r#"import std.channels.hay2011.{{pas}}
neuron Cell {{
    morphology: swc("{}")
    discretization: fixed(1)
    all {{
        Ra: 100 ohm*cm
        cm: 1 uF/cm2
        pas {{ g: 5e-5 S/cm2, e: -70 mV }}
    }}
}}
experiment sweep {{
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
        swc.display()
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

/// Every key's value (tables and plain values), ignoring write times.
fn contents(out: &Path) -> Vec<(String, String)> {
    let s = Store::open(out).unwrap();
    let mut v = Vec::new();
    for k in s.keys_recursive().unwrap() {
        let val = match s.get_table(&k) {
            Ok(t) => format!("{:?}", t.columns),
            Err(_) => match s.get_value(&k) {
                Ok(x) => format!("{x:?}"),
                Err(_) => continue, // sub-stores
            },
        };
        v.push((k, val));
    }
    v.sort();
    v
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
