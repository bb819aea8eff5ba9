//! Results-store benchmark on real data: the 20 soma traces of conformance scenario S4
//! (20 trials × 12,001 samples, `outputs/86_C2_center_S4_soma_traces.csv.gz`) written as a
//! trace table. Reports stored size against raw float64 and against the gzip CSV, and write
//! and read throughput (single thread; MB = 10^6 bytes of raw float64). Run with
//! `cargo bench --bench store`. Data directory from `ISF_CONFORMANCE`, default
//! `../shared/conformance` next to the crate; SKIPPED when missing.
//!
//! Write figures include the fsync and rename of every file (what a crash-safe store pays);
//! "encode" is the CPU part alone (msgpack + blosc + CRC of the chunk).
//!
//! The CSV holds values rounded to 4 decimals, so the float64s have few significant digits
//! and compress far better than full-precision simulator output would.

use flate2::read::GzDecoder;
use isf::store::frame::{self, FileKind};
use isf::store::{Codec, Metadata, Shuffle, Store, Table, WriteOptions, table};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::Instant;

const REPEATS: usize = 5;

fn data_dir() -> PathBuf {
    std::env::var_os("ISF_CONFORMANCE")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/conformance"))
}

/// Times, trial names and the row-major trials × samples matrix.
fn load(path: &Path) -> (Vec<f64>, Vec<String>, Vec<f64>) {
    let mut text = String::new();
    GzDecoder::new(std::fs::File::open(path).unwrap())
        .read_to_string(&mut text)
        .unwrap();
    let mut lines = text.lines();
    let header: Vec<String> = lines.next().unwrap().split(',').map(String::from).collect();
    let trials = header.len() - 1;
    let mut times = Vec::new();
    let mut cols: Vec<Vec<f64>> = vec![Vec::new(); trials];
    for l in lines.filter(|l| !l.is_empty()) {
        let mut f = l.split(',').map(|x| x.parse::<f64>().unwrap());
        times.push(f.next().unwrap());
        for c in cols.iter_mut() {
            c.push(f.next().unwrap());
        }
    }
    (times, header[1..].to_vec(), cols.concat())
}

fn dir_bytes(p: &Path) -> u64 {
    std::fs::read_dir(p)
        .unwrap()
        .flatten()
        .map(|e| e.metadata().unwrap().len())
        .sum()
}

fn best<T>(mut f: impl FnMut() -> T) -> (f64, T) {
    let mut best = f64::INFINITY;
    let mut out = None;
    for _ in 0..REPEATS {
        let t = Instant::now();
        let r = f();
        best = best.min(t.elapsed().as_secs_f64());
        out = Some(r);
    }
    (best, out.unwrap())
}

fn main() {
    let path = data_dir().join("outputs/86_C2_center_S4_soma_traces.csv.gz");
    if !path.is_file() {
        println!(
            "SKIPPED: {} not found (set ISF_CONFORMANCE)",
            path.display()
        );
        return;
    }
    let gz = std::fs::metadata(&path).unwrap().len();
    let (times, ids, vm) = load(&path);
    let (trials, samples) = (ids.len(), times.len());
    let raw = (vm.len() * 8) as u64;
    let mb = raw as f64 / 1e6;
    println!(
        "S4 soma traces: {trials} trials × {samples} samples = {raw} bytes raw float64; gzip CSV {gz} bytes"
    );
    let t = Table::traces(
        ids.clone(),
        &times,
        table::f64_rows(samples, vm.clone()).unwrap(),
    );
    println!(
        "{:<19} {:>10} {:>9} {:>8} {:>10} {:>11} {:>10} {:>10}",
        "codec-level-shuffle",
        "stored B",
        "vs raw",
        "vs gz",
        "encode MB/s",
        "write MB/s",
        "read MB/s",
        "chunk B"
    );
    for (codec, clevel, shuffle, decimal) in [
        (Codec::Zstd, 5, Shuffle::Byte, false),
        (Codec::Zstd, 5, Shuffle::Bit, false),
        (Codec::Zstd, 3, Shuffle::Byte, false),
        (Codec::Zstd, 9, Shuffle::Bit, false),
        (Codec::Lz4, 5, Shuffle::Byte, false),
        (Codec::BloscLz, 5, Shuffle::Byte, false),
        (Codec::Zstd, 5, Shuffle::Byte, true),
        (Codec::Zstd, 5, Shuffle::Bit, true),
        (Codec::Zstd, 3, Shuffle::Byte, true),
        (Codec::Lz4, 5, Shuffle::Byte, true),
        (Codec::Lz4, 5, Shuffle::Bit, true),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let opts = WriteOptions {
            codec,
            clevel,
            shuffle,
            decimal,
            ..WriteOptions::default()
        };
        let s = Store::create(dir.path().join("db"))
            .unwrap()
            .with_options(opts);
        let doc = table::chunk_doc(&t, trials, decimal);
        let (enc, chunk_len) = best(|| {
            let bytes = rmp_serde::to_vec_named(&doc).unwrap();
            frame::encode(
                FileKind::Chunk,
                frame::V1,
                &bytes,
                codec,
                clevel,
                shuffle,
                8,
            )
            .unwrap()
            .len()
        });
        let (w, ()) = best(|| s.put_table("vt", &t, Metadata::now()).unwrap());
        let (r, back) = best(|| s.get_table("vt").unwrap());
        assert_eq!(back, t, "roundtrip differs");
        let stored = dir_bytes(&s.path().join("vt"));
        println!(
            "{:<19} {:>10} {:>8.2}x {:>7.2}x {:>10.0} {:>11.0} {:>10.0} {:>10}",
            format!(
                "{}-{clevel}-{}{}",
                codec.name(),
                if shuffle == Shuffle::Bit {
                    "bit"
                } else {
                    "byte"
                },
                if decimal { "-dec" } else { "" }
            ),
            stored,
            raw as f64 / stored as f64,
            gz as f64 / stored as f64,
            mb / enc,
            mb / w,
            mb / r,
            chunk_len
        );
    }
    // A sweep appending one trial per chunk, as trials finish (default options).
    let dir = tempfile::tempdir().unwrap();
    let s = Store::create(dir.path().join("db")).unwrap();
    let start = Instant::now();
    for i in 0..trials {
        let row = Table::traces(
            vec![ids[i].clone()],
            &times,
            table::one_row(vm[i * samples..(i + 1) * samples].to_vec()),
        );
        s.append_rows("vt", &row).unwrap();
    }
    let w = start.elapsed().as_secs_f64();
    let (r, back) = best(|| s.get_table("vt").unwrap());
    assert_eq!(back, t);
    let stored = dir_bytes(&s.path().join("vt"));
    println!(
        "append one trial per chunk (defaults, {trials} appends): stored {stored} B ({:.2}x raw, {:.2}x vs gz), write {:.1} MB/s, read {:.0} MB/s",
        raw as f64 / stored as f64,
        gz as f64 / stored as f64,
        mb / w,
        mb / r
    );
}
