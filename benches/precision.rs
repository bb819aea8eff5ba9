//! Declared precision on real simulator output: the soma traces of conformance case S4 as
//! isf simulates them (`tests/conformance/network.isf`: 20 trials × 300 ms at dt 0.025 ms,
//! 12,001 samples each, full double precision), stored as one trace table lossless (the
//! default) and with `precision` steps of 0.1, 1 and 10 µV. Prints stored size against raw
//! float64, encode, write and read throughput (MB = 10^6 bytes of raw float64, best of
//! `REPEATS`), and the largest difference between stored and simulated values.
//!
//! Write figures include the fsync and rename of every file; "encode" is the CPU part alone
//! (quantising, msgpack, blosc, CRC). Run with `cargo bench --bench precision`; needs
//! `../shared/conformance` (or `ISF_CONFORMANCE` pointing at a copy whose parent also holds
//! the script's relative paths). Prints `SKIPPED:` without the data. The 20 trials are
//! simulated first on every core (about 20 s of CPU).
//!
//! Measured 2026-12-03 on the shared 2-vCPU dev VM under heavy load (load average ≈ 15: seven
//! other builds), two runs, sizes exact and repeatable, speeds best of 5 and noisy:
//! lossless 1,388,635 B (1.38× smaller than raw), 1 µV 158,033 B (12.15×, max error
//! 0.5 µV), 0.1 µV 252,655 B (7.60×), 10 µV 92,664 B (20.72×); write 21–52 MB/s at 1 µV
//! against 28–36 MB/s lossless, encode 33–34 against 31–59 MB/s: rounding costs nothing
//! measurable next to zstd, but the ≥ 300 MB/s goal cannot be judged on this machine — rerun
//! on a quiet one. Reading a quantised table checks every value against its grid (81–193 MB/s
//! here, against 511–892 lossless).

use isf::run::exec::TrialRunner;
use isf::run::{point_values, work_items};
use isf::store::frame::{self, FileKind};
use isf::store::{Metadata, Store, Table, WriteOptions, table};
use rayon::prelude::*;
use std::path::Path;
use std::time::Instant;

const REPEATS: usize = 5;

fn best<T>(mut f: impl FnMut() -> T) -> (f64, T) {
    let mut best = f64::INFINITY;
    let mut out = None;
    for _ in 0..REPEATS {
        let t = Instant::now();
        let r = f();
        best = best.min(t.elapsed().as_secs_f64());
        out = Some(r);
    }
    (best, out.expect("REPEATS > 0"))
}

fn dir_bytes(p: &Path) -> u64 {
    std::fs::read_dir(p)
        .unwrap()
        .flatten()
        .map(|e| e.metadata().unwrap().len())
        .sum()
}

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    if !root
        .join("../shared/conformance/inputs/network.param")
        .is_file()
    {
        println!("SKIPPED: conformance data not found at ../shared/conformance");
        return;
    }
    let c = isf::validate::check_path(&root.join("tests/conformance/network.isf"));
    assert!(!c.has_errors(), "{:?}", c.diagnostics);
    let exp = &c.model.experiments[0];
    let runner = isf::run::cellsim::CellRunner::new(&c.model, exp).expect("runner");
    let items = work_items(exp);
    let t0 = Instant::now();
    let traces: Vec<Vec<f64>> = items
        .par_iter()
        .map(|it| {
            let out = runner
                .run(it, &point_values(&exp.sweep, it.point))
                .expect("trial");
            let (_, v) = out
                .traces
                .into_iter()
                .find(|(n, _)| n == "soma.v")
                .expect("soma.v recorded");
            v
        })
        .collect();
    println!(
        "simulated {} S4 trials in {:.1} s (wall, all cores)",
        traces.len(),
        t0.elapsed().as_secs_f64()
    );
    let samples = traces[0].len();
    let grid = isf::run::TimeGrid::new(exp.dt_ms);
    let times: Vec<f64> = (0..samples).map(|k| grid.at(k)).collect();
    let ids: Vec<String> = (0..traces.len())
        .map(|i| format!("p000000/t{i:06}"))
        .collect();
    let vm: Vec<f64> = traces.concat();
    let raw = (vm.len() * 8) as u64;
    let mb = raw as f64 / 1e6;
    println!(
        "S4 soma traces: {} trials × {samples} samples = {raw} bytes raw float64",
        traces.len()
    );
    println!(
        "{:<14} {:>10} {:>8} {:>12} {:>11} {:>10} {:>14}",
        "precision",
        "stored B",
        "vs raw",
        "encode MB/s",
        "write MB/s",
        "read MB/s",
        "max |error| mV"
    );
    for step in [None, Some(0.0001), Some(0.001), Some(0.01)] {
        let mut t = Table::traces(ids.clone(), &times, vm.clone());
        if let Some(p) = step {
            t = t.with_attr(&table::precision_attr("vm"), rmpv::Value::F64(p));
        }
        let dir = tempfile::tempdir().unwrap();
        let s = Store::create(dir.path().join("db")).unwrap();
        let opts = WriteOptions::default();
        let quanta = table::quanta(&t.schema(), &mut t.attrs.iter()).unwrap();
        let (enc, _) = best(|| {
            let doc = table::chunk_doc_quantised(&t, traces.len(), opts.decimal, &quanta);
            let bytes = rmp_serde::to_vec_named(&doc).unwrap();
            frame::encode(
                FileKind::Chunk,
                frame::V1,
                &bytes,
                opts.codec,
                opts.clevel,
                opts.shuffle,
                8,
            )
            .unwrap()
            .len()
        });
        let (w, ()) = best(|| s.put_table("vt", &t, Metadata::now()).unwrap());
        let (r, back) = best(|| s.get_table("vt").unwrap());
        let Some(isf::store::Column::F64Array { data, .. }) = back.column("vm") else {
            panic!("no vm column")
        };
        let err = vm
            .iter()
            .zip(data)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f64::max);
        if let Some(p) = step {
            assert!(
                err <= p / 2.0 * (1.0 + 1e-9),
                "bound broken: {err} > {}",
                p / 2.0
            );
        } else {
            assert_eq!(err, 0.0, "lossless store changed a value");
        }
        let stored = dir_bytes(&s.path().join("vt"));
        println!(
            "{:<14} {:>10} {:>7.2}x {:>12.0} {:>11.0} {:>10.0} {:>14.3e}",
            step.map_or("lossless".to_string(), |p| format!("{} uV", p * 1e3)),
            stored,
            raw as f64 / stored as f64,
            mb / enc,
            mb / w,
            mb / r,
            err
        );
    }
}
