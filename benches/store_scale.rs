//! Store scale benchmark (issue 12): `isf db ls -r`, `isf db verify` and `isf db merge` on
//! stores of many small keys, the layout of a large run: `exp/trials/pPPPPPP_tTTTTTT`, each
//! a one-row trial table (point, trial, seed, a 201-sample trace). Two shards of N/2 keys each
//! are built (one key written through the store API, then its directory copied under every
//! other name, so building is quick and the keys are real), then the commands are timed as a
//! user runs them (the release `isf` binary, output to /dev/null).
//!
//! Run with `cargo bench --bench store_scale`. `ISF_BENCH_KEYS` sets N (default 100,000),
//! `ISF_BENCH_DIR` the directory to build in (default: the system temporary directory; say in
//! a report whether it is tmpfs or disk, fsync costs differ by orders of magnitude), and
//! `ISF_BENCH_BIN` another `isf` binary to time (e.g. an older build, for before/after).

use isf::store::{Column, Metadata, Store, Table};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

fn copy_dir(src: &Path, dst: &Path) {
    std::fs::create_dir_all(dst).unwrap();
    for e in std::fs::read_dir(src).unwrap().flatten() {
        std::fs::copy(e.path(), dst.join(e.file_name())).unwrap();
    }
}

/// A shard store holding trial keys `p000000_t{first..first+n}` under `exp/trials`.
fn shard(path: &Path, first: usize, n: usize) {
    let s = Store::create(path).unwrap();
    let trials = s.sub("exp").unwrap().sub("trials").unwrap();
    let trace: Vec<f64> = (0..201).map(|k| -70.0 + (k as f64 * 0.1).sin()).collect();
    let t = Table::new()
        .with("point", Column::I64(vec![0]))
        .with("trial", Column::I64(vec![first as i64]))
        .with("seed", Column::Str(vec!["0123456789abcdef".into()]))
        .with(
            "soma.v",
            Column::F64Array {
                width: trace.len(),
                data: trace,
            },
        );
    let name = |i: usize| format!("p000000_t{i:06}");
    trials.put_table(&name(first), &t, Metadata::now()).unwrap();
    let template = trials.path().join(name(first));
    for i in first + 1..first + n {
        copy_dir(&template, &trials.path().join(name(i)));
    }
}

fn du(path: &Path) -> (u64, u64) {
    // (apparent bytes of files, bytes allocated on disk)
    let mut out = (0, 0);
    for e in std::fs::read_dir(path).unwrap().flatten() {
        let m = e.metadata().unwrap();
        if m.is_dir() {
            let (a, b) = du(&e.path());
            out.0 += a;
            out.1 += b + 4096;
        } else {
            out.0 += m.len();
            out.1 += std::os::unix::fs::MetadataExt::blocks(&m) * 512;
        }
    }
    out
}

fn time(what: &str, args: &[&str]) -> f64 {
    let t0 = Instant::now();
    let bin = std::env::var_os("ISF_BENCH_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_isf")));
    let st = Command::new(bin)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap();
    let s = t0.elapsed().as_secs_f64();
    println!("{what:<28} {s:8.2} s  (exit {})", st.code().unwrap_or(-1));
    s
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
    let (a, b, dest) = (base.join("a"), base.join("b"), base.join("dest"));
    let t0 = Instant::now();
    shard(&a, 0, n / 2);
    shard(&b, n / 2, n - n / 2);
    println!(
        "built 2 shards of {} keys in {:.1} s under {}",
        n / 2,
        t0.elapsed().as_secs_f64(),
        base.display()
    );
    let (bytes, disk) = du(&a);
    println!(
        "shard a: {} bytes in files, {} bytes allocated ({:.1}x)",
        bytes,
        disk,
        disk as f64 / bytes.max(1) as f64
    );
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
    time(&format!("ls -r ({n} keys)"), &["db", "ls", "-r", d_s]);
    time(&format!("verify ({n} keys)"), &["db", "verify", d_s]);
    let _ = std::fs::remove_dir_all(&base);
}
