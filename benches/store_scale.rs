//! Store scale benchmark (issue 12): `isf db ls -r`, `isf db verify` and `isf db merge` on
//! stores of many small keys, the layout of a large run: `exp/trials/pPPPPPP_tTTTTTT`, each
//! a one-row trial table (point, trial, seed, a 201-sample soma trace, spike times) with the
//! metadata `isf run` gives it (script text, plan hash, seed, sweep point, fingerprint).
//!
//! The `isf` binary under test writes one real trial key (`isf run` of a small passive cell,
//! 5 ms at 0.025 ms); its directory is then copied under every other trial name, so building
//! is quick, the keys are exactly what that binary writes (its format version, codecs, inline
//! or separate chunks) and an older binary can be timed on a store of its own format. Two
//! shards of N/2 keys are built, then the commands are timed as a user runs them (output to
//! /dev/null): wall time and the CPU time (user + system) of the child process, which is the
//! fairer figure on a machine shared with other work.
//!
//! Run with `cargo bench --bench store_scale`. `ISF_BENCH_KEYS` sets N (default 100,000),
//! `ISF_BENCH_DIR` the directory to build in (default: the system temporary directory; say in
//! a report whether it is tmpfs or disk, fsync costs differ by orders of magnitude),
//! `ISF_BENCH_BIN` another `isf` binary to time (e.g. an older build, for before/after) and
//! `ISF_BENCH_KEEP=1` keeps the stores afterwards (for profiling).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

fn bin() -> PathBuf {
    std::env::var_os("ISF_BENCH_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_isf")))
}

fn copy_dir(src: &Path, dst: &Path) {
    std::fs::create_dir_all(dst).unwrap();
    for e in std::fs::read_dir(src).unwrap().flatten() {
        if e.file_type().unwrap().is_file() && !e.file_name().to_string_lossy().starts_with('.') {
            std::fs::copy(e.path(), dst.join(e.file_name())).unwrap();
        }
    }
}

/// A one-trial run of a small passive cell into `out`, by the binary under test. The script
/// starts with the comment header of `examples/quickstart.isf`, so the script text every trial
/// key carries in its metadata has the size of a documented script (about 4 KiB).
fn template(dir: &Path) -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let header: String = std::fs::read_to_string(root.join("examples/quickstart.isf"))
        .unwrap()
        .lines()
        .take_while(|l| !l.starts_with("neuron"))
        .filter(|l| l.starts_with("//"))
        .map(|l| format!("{l}\n"))
        .collect();
    let swc = root.join("examples/cells/l5pt_simple.swc");
    let text = format!(
        r#"{header}
import std.channels.hay2011.{{pas}}
neuron Cell {{
    morphology: swc("{}")
    discretization: fixed(1)
    all {{
        Ra: 100 ohm*cm
        cm: 1 uF/cm2
        pas {{ g: 5e-5 S/cm2, e: -70 mV }}
    }}
}}
experiment exp {{
    neuron: Cell
    duration: 5 ms
    dt: 0.025 ms
    trials: 1
    seed: 3
    stimulus step {{ at: soma(0.5), amp: 0.1 nA, delay: 1 ms, duration: 2 ms }}
    record {{
        soma.v
        spikes(soma, threshold: -60 mV)
    }}
}}
"#,
        swc.display()
    );
    let script = dir.join("bench.isf");
    std::fs::write(&script, text).unwrap();
    let out = dir.join("template.isfdb");
    let st = Command::new(bin())
        .args(["run", "--quiet", "-j", "1", "--out"])
        .arg(&out)
        .arg(&script)
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(st.success(), "the template run failed");
    out
}

/// A shard store holding copies of the template's trial key, `p000000_t{first..first+n}`
/// under `exp/trials` (the sub-store entries and marker copied from the template too).
fn shard(tmpl: &Path, path: &Path, first: usize, n: usize) {
    let trials = path.join("exp/trials");
    std::fs::create_dir_all(&trials).unwrap();
    for f in ["isf-store.json", "exp/key.isfd", "exp/trials/key.isfd"] {
        std::fs::copy(tmpl.join(f), path.join(f)).unwrap();
    }
    let key = tmpl.join("exp/trials/p000000_t000000");
    for i in first..first + n {
        copy_dir(&key, &trials.join(format!("p000000_t{i:06}")));
    }
}

/// (apparent bytes of files, bytes allocated on disk, directories, files).
fn du(path: &Path) -> (u64, u64, u64, u64) {
    let mut out = (0, 0, 0, 0);
    for e in std::fs::read_dir(path).unwrap().flatten() {
        let m = e.metadata().unwrap();
        if m.is_dir() {
            let (a, b, c, d) = du(&e.path());
            let own = std::os::unix::fs::MetadataExt::blocks(&m) * 512;
            out = (out.0 + a, out.1 + b + own, out.2 + c + 1, out.3 + d);
        } else {
            out.0 += m.len();
            out.1 += std::os::unix::fs::MetadataExt::blocks(&m) * 512;
            out.3 += 1;
        }
    }
    out
}

/// CPU seconds (user, system) used by finished child processes so far.
fn children_cpu() -> (f64, f64) {
    // SAFETY: getrusage fills the struct it is given.
    let mut u: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &mut u) };
    let s = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 * 1e-6;
    (s(u.ru_utime), s(u.ru_stime))
}

fn time(what: &str, args: &[&str]) {
    let (u0, s0) = children_cpu();
    let t0 = Instant::now();
    let st = Command::new(bin())
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap();
    let wall = t0.elapsed().as_secs_f64();
    let (u1, s1) = children_cpu();
    println!(
        "{what:<28} {wall:7.2} s wall {:7.2} s cpu ({:.2} user + {:.2} sys)  exit {}",
        (u1 - u0) + (s1 - s0),
        u1 - u0,
        s1 - s0,
        st.code().unwrap_or(-1)
    );
}

fn report_size(name: &str, path: &Path, keys: usize) {
    let (bytes, disk, dirs, files) = du(path);
    println!(
        "{name}: {dirs} directories, {files} files, {bytes} bytes in files, {disk} bytes allocated \
         ({:.1}x; {:.0} bytes allocated per key)",
        disk as f64 / bytes.max(1) as f64,
        disk as f64 / keys.max(1) as f64
    );
}

fn main() {
    let n: usize = std::env::var("ISF_BENCH_KEYS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let base: PathBuf = std::env::var_os("ISF_BENCH_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(std::env::temp_dir)
        .join(format!("isf-store-scale-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&base);
    std::fs::create_dir_all(&base).unwrap();
    println!("isf binary: {}", bin().display());
    let tmpl = template(&base);
    let (a, b, dest) = (base.join("a"), base.join("b"), base.join("dest"));
    let t0 = Instant::now();
    shard(&tmpl, &a, 0, n / 2);
    shard(&tmpl, &b, n / 2, n - n / 2);
    println!(
        "built 2 shards of {} keys in {:.1} s under {}",
        n / 2,
        t0.elapsed().as_secs_f64(),
        base.display()
    );
    report_size("shard a", &a, n / 2);
    let (a_s, b_s, d_s) = (
        a.to_str().unwrap(),
        b.to_str().unwrap(),
        dest.to_str().unwrap(),
    );
    time(&format!("ls -r ({} keys)", n / 2), &["db", "ls", "-r", a_s]);
    time(&format!("verify ({} keys)", n / 2), &["db", "verify", a_s]);
    time(
        &format!("merge 2 shards ({n} keys)"),
        &["db", "merge", d_s, a_s, b_s],
    );
    report_size("merged", &dest, n);
    time(&format!("ls -r ({n} keys)"), &["db", "ls", "-r", d_s]);
    time(&format!("verify ({n} keys)"), &["db", "verify", d_s]);
    if std::env::var_os("ISF_BENCH_KEEP").is_none() {
        let _ = std::fs::remove_dir_all(&base);
    }
}
