//! Store API: values, tables with appends, sub-stores, managed folders, metadata, merge,
//! delete, and robustness (corruption, truncation, stray temporary files, concurrent reads).

use crate::common;

use isf::diagnostics::Code;
use isf::store::table::{f64_rows, one_row};
use isf::store::{Column, Kind, Metadata, Store, Table};
use ndarray::Axis;
use serde::{Deserialize, Serialize};
use std::fs;
use std::path::{Path, PathBuf};

#[derive(Serialize, Deserialize, Debug, PartialEq)]
struct Record {
    name: String,
    dt_ms: f64,
    n: u32,
    tags: Vec<String>,
}

fn traces(first: usize, n: usize, width: usize) -> Table {
    let ids = (first..first + n)
        .map(|i| format!("trial/{i:06}"))
        .collect();
    let times: Vec<f64> = (0..width).map(|i| i as f64 * 0.025).collect();
    let data = (0..n * width)
        .map(|i| -75.0 + ((first * width + i) as f64 * 0.01).sin())
        .collect();
    Table::traces(ids, &times, f64_rows(width, data).unwrap())
}

fn activations() -> Table {
    Table::new()
        .with(
            "synapse_type",
            Column::Str(vec!["L5tt_C2".into(), "VPM_C2".into(), "L4ss_C2".into()]),
        )
        .with("synapse_ID", Column::I64(vec![19, 2, 40]))
        .with("soma_distance", Column::F64(vec![1539.7, 1360.9, 20.0]))
        .with(
            "times",
            Column::F64List(vec![vec![14.31], vec![], vec![258.2, 260.0, 301.5]]),
        )
}

fn store() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let s = Store::create(dir.path().join("db")).unwrap();
    (dir, s)
}

#[test]
fn values_roundtrip_with_metadata() {
    let (_d, s) = store();
    let r = Record {
        name: "C2".into(),
        dt_ms: 0.025,
        n: 3,
        tags: vec!["a".into()],
    };
    s.put("params", &r).unwrap();
    s.put("answer", &42i64).unwrap();
    s.put("label", "soma").unwrap();
    let meta = Metadata {
        plan_hash: Some("ab12".into()),
        script: Some("cell c = ...".into()),
        seed: Some(123),
        sweep_point: Some([("weight".to_string(), serde_json::json!(0.5))].into()),
        ..Metadata::default()
    };
    s.put_with_meta("result", &vec![1.0f64, 2.5], meta).unwrap();

    assert_eq!(s.get::<Record>("params").unwrap(), r);
    assert_eq!(s.get::<i64>("answer").unwrap(), 42);
    assert_eq!(s.get::<String>("label").unwrap(), "soma");
    assert_eq!(s.get::<Vec<f64>>("result").unwrap(), vec![1.0, 2.5]);
    assert_eq!(s.keys().unwrap(), ["answer", "label", "params", "result"]);
    let m = s.metadata("result").unwrap();
    assert_eq!(m.seed, Some(123));
    assert_eq!(m.plan_hash.as_deref(), Some("ab12"));
    assert_eq!(m.isf_version.as_deref(), Some(env!("CARGO_PKG_VERSION")));
    assert!(m.created.unwrap().ends_with('Z'));

    // Overwrite replaces; the wrong type is a clear error naming the key.
    s.put("answer", &43i64).unwrap();
    assert_eq!(s.get::<i64>("answer").unwrap(), 43);
    let e = s.get::<Record>("answer").unwrap_err();
    assert_eq!(e.code, Code::E0605);
    assert_eq!(e.key.as_deref(), Some("answer"));

    // Reopening sees the same.
    let again = Store::open(s.path()).unwrap();
    assert_eq!(again.get::<Record>("params").unwrap(), r);
}

/// A stored nil is a value (not a missing one), and keys of the entry map this isf does not
/// know are ignored (format §3), as a newer writer may add some.
#[test]
fn nil_values_and_unknown_entry_keys() {
    use isf::store::frame::{self, FileKind};
    let (_d, s) = store();
    s.put("nothing", &()).unwrap();
    assert_eq!(s.get_value("nothing").unwrap(), rmpv::Value::Nil);
    s.put("n", &7u8).unwrap();
    // Rewrite the entry with an extra key at the front and one inside `meta`.
    let path = s.path().join("n/key.isfd");
    let raw = frame::decode(&fs::read(&path).unwrap(), FileKind::Entry).unwrap();
    let rmpv::Value::Map(mut m) = rmpv::decode::read_value(&mut raw.as_slice()).unwrap() else {
        panic!("entry is not a map")
    };
    m.insert(
        0,
        ("from_the_future".into(), rmpv::Value::from(vec![1u8, 2])),
    );
    for (k, v) in &mut m {
        if k.as_str() == Some("meta")
            && let rmpv::Value::Map(meta) = v
        {
            meta.push(("novelty".into(), true.into()));
        }
    }
    let mut doc = Vec::new();
    rmpv::encode::write_value(&mut doc, &rmpv::Value::Map(m)).unwrap();
    let bytes = frame::encode(
        FileKind::Entry,
        frame::V1,
        &doc,
        isf::store::Codec::Lz4,
        5,
        isf::store::Shuffle::Byte,
        1,
    )
    .unwrap();
    fs::write(&path, bytes).unwrap();
    assert_eq!(s.get::<u8>("n").unwrap(), 7);
    assert!(s.verify().ok());
}

#[test]
fn key_names_are_validated() {
    let (_d, s) = store();
    for bad in [
        "",
        "a b",
        "../x",
        ".hidden",
        "a//b",
        "key.isfd",
        "é",
        &"x".repeat(121),
    ] {
        let e = s.put(bad, &1).unwrap_err();
        assert_eq!(e.code, Code::E0603, "{bad:?} accepted");
    }
    s.put(&"x".repeat(120), &1).unwrap();
    s.put("A-z_0.9", &1).unwrap();
    let e = s.get::<i32>("missing").unwrap_err();
    assert_eq!((e.code, e.key.as_deref()), (Code::E0604, Some("missing")));
    assert!(e.to_string().starts_with("error[E0604]: key 'missing'"));
}

#[test]
fn nested_keys_sub_stores_and_folders() {
    let (_d, s) = store();
    s.put("sweep/w0.5/seed", &7u64).unwrap();
    assert_eq!(s.kind("sweep").unwrap(), Kind::Store);
    let sub = s.sub("sweep").unwrap();
    assert_eq!(sub.get::<u64>("w0.5/seed").unwrap(), 7);
    sub.put("w1.0/seed", &8u64).unwrap();
    assert_eq!(
        s.keys_recursive().unwrap(),
        ["sweep/w0.5/seed", "sweep/w1.0/seed"]
    );
    // A sub-store is never silently replaced by data, nor can data be a parent.
    assert_eq!(s.put("sweep", &1).unwrap_err().code, Code::E0605);
    s.put("scalar", &1).unwrap();
    assert_eq!(s.put("scalar/x", &1).unwrap_err().code, Code::E0605);
    // Errors inside a sub-store name the full key.
    assert_eq!(
        sub.get::<u64>("nope").unwrap_err().key.as_deref(),
        Some("sweep/nope")
    );
    // A sub-store directory opens as a store of its own.
    let direct = Store::open(s.path().join("sweep")).unwrap();
    assert_eq!(direct.keys().unwrap(), ["w0.5", "w1.0"]);

    let folder = s.managed_folder("morphology").unwrap();
    fs::write(folder.join("cell.hoc"), "create soma\n").unwrap();
    assert_eq!(s.managed_folder("morphology").unwrap(), folder);
    assert_eq!(s.kind("morphology").unwrap(), Kind::Folder);
    assert!(folder.join("cell.hoc").is_file());
    // A folder's files are not keys.
    assert_eq!(
        s.get::<i32>("morphology/files").unwrap_err().code,
        Code::E0605
    );

    s.delete("sweep").unwrap();
    assert!(!s.contains("sweep/w0.5/seed"));
    assert_eq!(s.keys().unwrap(), ["morphology", "scalar"]);
    assert!(s.verify().ok());
}

#[test]
fn tables_chunk_append_and_check_schema() {
    let (_d, s) = store();
    let s = s.with_options(isf::store::WriteOptions {
        chunk_bytes: 3 * 100 * 8,
        ..Default::default()
    });
    s.put_table("voltage_traces", &traces(0, 10, 100), Metadata::now())
        .unwrap();
    let info = s.table_info("voltage_traces").unwrap();
    assert_eq!(info.rows, 10);
    assert!(info.chunks.len() >= 3, "not chunked: {:?}", info.chunks);
    assert_eq!(s.get_table("voltage_traces").unwrap(), traces(0, 10, 100));

    // A sweep appends trials as they finish.
    let mut expected = traces(0, 10, 100);
    for k in 0..3 {
        let more = traces(10 + 2 * k, 2, 100);
        let total = s.append_rows("voltage_traces", &more).unwrap();
        assert_eq!(total, 12 + 2 * k as u64);
        let mut cols = more.columns.into_iter();
        for (_, c) in expected.columns.iter_mut() {
            match (c, cols.next().unwrap().1) {
                (Column::Str(a), Column::Str(b)) => a.extend(b),
                (Column::F64Array(a), Column::F64Array(b)) => a.append(Axis(0), b.view()).unwrap(),
                _ => unreachable!(),
            }
        }
    }
    let got = s.get_table("voltage_traces").unwrap();
    assert_eq!(got, expected);
    assert!(s.metadata("voltage_traces").unwrap().modified.is_some());

    // Wrong schema: refused, table unchanged.
    let e = s
        .append_rows("voltage_traces", &traces(0, 1, 99))
        .unwrap_err();
    assert_eq!(e.code, Code::E0609);
    assert!(e.message.contains("f64_array[99]"), "{}", e.message);
    let ragged = Table::new()
        .with("a", Column::F64(vec![1.0]))
        .with("b", Column::F64(vec![]));
    assert_eq!(
        s.put_table("x", &ragged, Metadata::now()).unwrap_err().code,
        Code::E0609
    );

    // A run declares the table (schema, provenance) before its first trial finishes.
    let empty = Table::traces(vec![], &[0.0, 0.025], ndarray::Array2::zeros((0, 2)));
    let meta = Metadata {
        seed: Some(5),
        ..Metadata::default()
    };
    s.put_table("run/vt", &empty, meta).unwrap();
    assert_eq!(s.get_table("run/vt").unwrap(), empty);
    let one = Table::traces(
        vec!["t0".into()],
        &[0.0, 0.025],
        one_row(vec![-75.0, -74.0]),
    );
    assert_eq!(s.append_rows("run/vt", &one).unwrap(), 1);
    assert_eq!(s.get_table("run/vt").unwrap(), one);
    assert_eq!(s.metadata("run/vt").unwrap().seed, Some(5));

    // Mixed columns and ragged lists; append creates a missing table.
    s.append_rows("synapse_activation", &activations()).unwrap();
    s.append_rows("synapse_activation", &activations()).unwrap();
    let t = s.get_table("synapse_activation").unwrap();
    assert_eq!(t.rows(), Ok(6));
    assert_eq!(
        t.column("times"),
        Some(&Column::F64List(
            [activations(), activations()]
                .into_iter()
                .flat_map(|a| match a.column("times").unwrap().clone() {
                    Column::F64List(v) => v,
                    _ => unreachable!(),
                })
                .collect()
        ))
    );

    // Replacing a table by a value removes its chunks.
    s.put("voltage_traces", &0).unwrap();
    let leftovers: Vec<_> = fs::read_dir(s.path().join("voltage_traces"))
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with("chunk-"))
        .collect();
    assert!(leftovers.is_empty());
    assert!(s.verify().ok());
}

/// The store writing every table chunk to a file of its own (small tables are otherwise
/// inline in their entry), for tests about chunk files.
fn files(s: &Store) -> Store {
    s.clone().with_options(isf::store::WriteOptions {
        inline_bytes: 0,
        ..Default::default()
    })
}

fn chunk_path(s: &Store, key: &str, i: usize) -> PathBuf {
    s.path()
        .join(key)
        .join(&s.table_info(key).unwrap().chunks[i].file)
}

#[test]
fn corruption_and_truncation_are_named_and_contained() {
    let (_d, s) = store();
    s.put("a", &vec![1.0f64; 100]).unwrap();
    s.put("b", "intact").unwrap();
    files(&s)
        .put_table("t", &traces(0, 4, 50), Metadata::now())
        .unwrap();
    s.put("nested/c", &3).unwrap();
    assert!(s.verify().ok());

    // Truncate a's entry, flip one byte in t's chunk, truncate nested/c to nothing.
    let a = s.path().join("a/key.isfd");
    let len = fs::metadata(&a).unwrap().len();
    fs::OpenOptions::new()
        .write(true)
        .open(&a)
        .unwrap()
        .set_len(len - 7)
        .unwrap();
    let c = chunk_path(&s, "t", 0);
    let mut bytes = fs::read(&c).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 1;
    fs::write(&c, bytes).unwrap();
    fs::write(s.path().join("nested/c/key.isfd"), b"").unwrap();

    let r = s.verify();
    let mut named: Vec<_> = r
        .problems
        .iter()
        .map(|p| (p.code, p.key.clone().unwrap()))
        .collect();
    named.sort();
    assert_eq!(
        named,
        [
            (Code::E0601, "a".to_string()),
            (Code::E0601, "nested/c".to_string()),
            (Code::E0601, "t".to_string())
        ]
    );
    let msg = r
        .problems
        .iter()
        .map(|p| p.to_string())
        .collect::<Vec<_>>()
        .join("\n");
    assert!(msg.contains("truncated"), "{msg}");
    assert!(msg.contains("checksum mismatch"), "{msg}");

    assert_eq!(s.get::<Vec<f64>>("a").unwrap_err().code, Code::E0601);
    assert_eq!(s.get_table("t").unwrap_err().code, Code::E0601);
    // Everything else still reads, and listing still works.
    assert_eq!(s.get::<String>("b").unwrap(), "intact");
    assert_eq!(s.keys().unwrap(), ["a", "b", "nested", "t"]);
    let listed = s.list().unwrap();
    assert_eq!(listed.iter().filter(|l| l.is_err()).count(), 1);
    // Rewriting a damaged key repairs it.
    s.put("a", &vec![2.0f64]).unwrap();
    assert_eq!(s.get::<Vec<f64>>("a").unwrap(), vec![2.0]);
}

/// A pid that is certainly not running (beyond Linux's pid_max of 2^22).
const DEAD_PID: u32 = 99_999_999;

fn age(path: &Path, secs: u64) {
    let t = std::time::SystemTime::now() - std::time::Duration::from_secs(secs);
    fs::File::options()
        .write(true)
        .open(path)
        .unwrap()
        .set_modified(t)
        .unwrap();
}

#[test]
fn stray_temporary_files_are_ignored_and_cleaned() {
    let (_d, s) = store();
    s.put("a", &1).unwrap();
    files(&s)
        .put_table("t", &traces(0, 2, 10), Metadata::now())
        .unwrap();
    // What a writer killed mid-write leaves: a temp entry in a key dir, a temp beside keys,
    // a key directory with no entry yet, and a chunk written but never listed. Temporary
    // names carry the writer's pid and host tag.
    let tag = isf::store::frame::host_tag();
    let stray_entry = s.path().join(format!("a/.tmp-{DEAD_PID}@{tag}-0-key.isfd"));
    fs::write(&stray_entry, b"half").unwrap();
    let stray_root = s.path().join(format!(".tmp-{DEAD_PID}@{tag}-1-merge"));
    fs::create_dir(&stray_root).unwrap();
    let incomplete = s.path().join("b");
    fs::create_dir(&incomplete).unwrap();
    fs::write(
        incomplete.join(format!(".tmp-{DEAD_PID}@{tag}-2-key.isfd")),
        b"x",
    )
    .unwrap();
    let orphan = s.path().join("t/chunk-000099.isfd");
    fs::copy(chunk_path(&s, "t", 0), &orphan).unwrap();
    // A temp file of a live writer (this process) must survive.
    let live = s
        .path()
        .join(format!(".tmp-{}@{tag}-9-key.isfd", std::process::id()));
    fs::write(&live, b"in progress").unwrap();
    // So must one of another machine on a shared filesystem (its pid means nothing here),
    // until it is older than an hour.
    let other = if tag == "00000000" {
        "00000001"
    } else {
        "00000000"
    };
    let remote = s.path().join(format!(".tmp-{DEAD_PID}@{other}-3-key.isfd"));
    fs::write(&remote, b"on another node").unwrap();

    assert_eq!(s.keys().unwrap(), ["a", "t"]);
    assert_eq!(s.get::<i32>("a").unwrap(), 1);
    assert_eq!(s.get_table("t").unwrap().rows(), Ok(2));
    let r = s.verify();
    assert!(r.ok());
    assert_eq!(r.strays.len(), 6, "{:?}", r.strays);

    // The young orphan chunk may belong to an append in progress: kept until it is old.
    let removed = s.fix();
    assert_eq!(removed.len(), 3, "{removed:?}");
    assert!(orphan.exists() && live.exists() && remote.exists());
    age(&orphan, 3600);
    age(&remote, 3700);
    let mut removed = s.fix();
    removed.sort();
    let mut want = vec![orphan.clone(), remote.clone()];
    want.sort();
    assert_eq!(removed, want);
    assert!(!stray_entry.exists() && !stray_root.exists() && !incomplete.exists());
    assert_eq!(s.verify().strays, vec![live.clone()]);
    fs::remove_file(&live).unwrap();

    // The next write into a directory also clears dead writers' temp files.
    fs::write(&stray_entry, b"half").unwrap();
    s.put("a", &2).unwrap();
    assert!(!stray_entry.exists());
    assert!(s.verify().strays.is_empty());
}

#[test]
fn readers_see_complete_tables_while_a_writer_appends() {
    let (_d, s) = store();
    s.put_table("vt", &traces(0, 1, 2000), Metadata::now())
        .unwrap();
    let path = s.path().to_path_buf();
    let writer = std::thread::spawn(move || {
        let w = Store::open(&path).unwrap();
        for k in 1..40 {
            w.append_rows("vt", &traces(k, 1, 2000)).unwrap();
            w.put("counter", &k).unwrap();
        }
    });
    let r = Store::open(s.path()).unwrap();
    let mut reads = 0;
    let mut last = 0;
    while !writer.is_finished() || reads == 0 {
        let t = r.get_table("vt").unwrap();
        let n = t.rows().unwrap();
        assert!(n >= last, "rows went backwards");
        // Every row visible is complete and correct.
        assert_eq!(t, traces(0, n, 2000));
        if let Ok(c) = r.get::<usize>("counter") {
            assert!(c <= 39);
        }
        last = n;
        reads += 1;
    }
    writer.join().unwrap();
    assert_eq!(r.get_table("vt").unwrap().rows(), Ok(40));
    assert!(r.verify().ok() && r.verify().strays.is_empty());
    eprintln!("{reads} consistent reads during 39 appends");
}

#[test]
fn merge_shards() {
    let d = tempfile::tempdir().unwrap();
    let a = Store::create(d.path().join("a")).unwrap();
    let b = Store::create(d.path().join("b")).unwrap();
    let seed = |n| Metadata {
        seed: Some(n),
        ..Metadata::default()
    };
    a.put_table("runs/p0/vt", &traces(0, 2, 10), seed(1))
        .unwrap();
    b.put_table("runs/p1/vt", &traces(2, 2, 10), seed(2))
        .unwrap();
    a.put("config", &"same").unwrap();
    b.put("config", &"same").unwrap();
    b.managed_folder("files_b").unwrap();
    fs::write(b.managed_folder("files_b").unwrap().join("x.txt"), "x").unwrap();

    let merged = Store::create(d.path().join("m")).unwrap();
    let r1 = merged.merge(&a).unwrap();
    let r2 = merged.merge(&b).unwrap();
    assert_eq!(r1.copied, ["config", "runs"]);
    assert_eq!(r2.copied, ["files_b", "runs/p1"]);
    assert_eq!(r2.identical, ["config"]);
    assert_eq!(
        merged.keys_recursive().unwrap(),
        ["config", "files_b", "runs/p0/vt", "runs/p1/vt"]
    );
    assert_eq!(merged.get_table("runs/p1/vt").unwrap(), traces(2, 2, 10));
    assert_eq!(merged.metadata("runs/p1/vt").unwrap().seed, Some(2));
    assert!(
        merged
            .managed_folder("files_b")
            .unwrap()
            .join("x.txt")
            .is_file()
    );
    // Merging again is a no-op.
    assert!(merged.merge(&b).unwrap().copied.is_empty());

    // Conflicts are named and nothing is copied.
    let c = Store::create(d.path().join("c")).unwrap();
    c.put("config", &"different").unwrap();
    c.put("new_key", &1).unwrap();
    c.put_table("runs/p0/vt", &traces(0, 2, 10), seed(99))
        .unwrap();
    let e = merged.merge(&c).unwrap_err();
    assert_eq!(e.code, Code::E0606);
    assert!(
        e.message.contains("config") && e.message.contains("runs/p0/vt"),
        "{}",
        e.message
    );
    assert!(!merged.contains("new_key"));

    // A damaged shard is refused.
    fs::write(c.path().join("new_key/key.isfd"), b"ISFSTORE").unwrap();
    let e = Store::create(d.path().join("n"))
        .unwrap()
        .merge(&c)
        .unwrap_err();
    assert_eq!((e.code, e.key.as_deref()), (Code::E0601, Some("new_key")));
}

#[test]
fn open_refuses_what_is_not_a_store() {
    let d = tempfile::tempdir().unwrap();
    assert_eq!(Store::open(d.path()).unwrap_err().code, Code::E0602);
    fs::write(d.path().join("other.txt"), "x").unwrap();
    assert_eq!(Store::create(d.path()).unwrap_err().code, Code::E0602);
    let s = Store::create(d.path().join("s")).unwrap();
    s.put("k", &1).unwrap();
    // Creating again opens.
    assert_eq!(Store::create(s.path()).unwrap().get::<i32>("k").unwrap(), 1);
    fs::write(
        s.path().join("isf-store.json"),
        r#"{"format": "isf-store", "version": 9}"#,
    )
    .unwrap();
    assert_eq!(Store::open(s.path()).unwrap_err().code, Code::E0608);
}

/// The S4 soma traces (real simulator output, 4 decimals) survive the store bit for bit with
/// the default (decimal) encoding, and compress better than the gzip CSV they come from.
#[test]
fn conformance_traces_roundtrip_bit_exact() {
    use std::io::Read;
    let base = std::env::var_os("ISF_CONFORMANCE")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/conformance"));
    let path = base.join("outputs/86_C2_center_S4_soma_traces.csv.gz");
    if !common::skip::require_data("conformance data", &[&path]) {
        return;
    }
    let mut text = String::new();
    flate2::read::GzDecoder::new(fs::File::open(&path).unwrap())
        .read_to_string(&mut text)
        .unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let mut times = Vec::new();
    let mut cols: Vec<Vec<f64>> = vec![Vec::new(); header.len() - 1];
    for l in lines {
        let mut f = l.split(',').map(|x| x.parse::<f64>().unwrap());
        times.push(f.next().unwrap());
        for c in cols.iter_mut() {
            c.push(f.next().unwrap());
        }
    }
    assert_eq!((cols.len(), times.len()), (20, 12_001));
    let ids = header[1..].iter().map(|s| s.to_string()).collect();
    let t = Table::traces(ids, &times, f64_rows(12_001, cols.concat()).unwrap());
    let (_d, s) = store();
    s.put_table("vt", &t, Metadata::now()).unwrap();
    let back = s.get_table("vt").unwrap();
    let bits = |t: &Table| match t.column("vm").unwrap() {
        Column::F64Array(data) => data.iter().map(|x| x.to_bits()).collect::<Vec<_>>(),
        _ => unreachable!(),
    };
    assert_eq!(bits(&back), bits(&t));
    assert_eq!(back, t);
    let stored: u64 = fs::read_dir(s.path().join("vt"))
        .unwrap()
        .map(|e| e.unwrap().metadata().unwrap().len())
        .sum();
    let gz = fs::metadata(&path).unwrap().len();
    eprintln!(
        "S4 soma traces: {stored} bytes stored, gzip CSV {gz}, raw {}",
        20 * 12_001 * 8
    );
    assert!(stored < gz, "stored {stored} ≥ gzip CSV {gz}");
}

/// Format version of a payload file (bytes 8–9 of its header).
fn file_version(path: &Path) -> u16 {
    let b = fs::read(path).unwrap();
    u16::from_le_bytes([b[8], b[9]])
}

fn set_marker_version(root: &Path, v: u64) {
    let m = root.join("isf-store.json");
    let mut j: serde_json::Value = serde_json::from_str(&fs::read_to_string(&m).unwrap()).unwrap();
    j["version"] = v.into();
    fs::write(&m, j.to_string()).unwrap();
}

fn marker_version(root: &Path) -> u64 {
    let m = root.join("isf-store.json");
    let j: serde_json::Value = serde_json::from_str(&fs::read_to_string(&m).unwrap()).unwrap();
    j["version"].as_u64().unwrap()
}

#[test]
fn small_tables_are_inline_in_version_2_stores_only() {
    let (d, s) = store();
    assert_eq!(marker_version(s.path()), 2);
    // A one-row trial table: one file, its entry, of version 2; nothing else in the key.
    s.put_table("trials/t0", &traces(0, 1, 201), Metadata::now())
        .unwrap();
    let dir = s.path().join("trials/t0");
    let names: Vec<String> = fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().into_string().unwrap())
        .collect();
    assert_eq!(names, ["key.isfd"]);
    assert_eq!(file_version(&dir.join("key.isfd")), 2);
    assert_eq!(s.get_table("trials/t0").unwrap(), traces(0, 1, 201));
    // Entries without inline chunks stay version 1 (older readers read them).
    s.put("v", &1.5).unwrap();
    assert_eq!(file_version(&s.path().join("v/key.isfd")), 1);
    assert_eq!(file_version(&s.path().join("trials/key.isfd")), 1);

    // Appending to an inline table adds a chunk file; the manifest mixes both kinds.
    s.append_rows("trials/t0", &traces(1, 2, 201)).unwrap();
    let info = s.table_info("trials/t0").unwrap();
    assert_eq!(info.rows, 3);
    assert!(info.chunks[0].inline.is_some() && info.chunks[1].inline.is_none());
    assert_eq!(s.get_table("trials/t0").unwrap(), traces(0, 3, 201));
    let r = s.verify();
    assert!(r.ok(), "{:?}", r.problems);
    assert_eq!(r.chunks, 2);
    // The listed size is the entry plus the chunk file.
    let want = fs::metadata(dir.join("key.isfd")).unwrap().len()
        + fs::metadata(dir.join(&info.chunks[1].file)).unwrap().len();
    let listed = s.list_tree(true).unwrap();
    let (_, t0) = listed.iter().find(|(k, _)| k == "trials/t0").unwrap();
    assert_eq!(t0.as_ref().unwrap().bytes, want);
    // Large tables still go to chunk files.
    s.put_table("big", &traces(0, 40, 201), Metadata::now())
        .unwrap();
    assert!(
        s.table_info("big")
            .unwrap()
            .chunks
            .iter()
            .all(|c| c.inline.is_none())
    );

    // A store created by a version-1 isf gets no inline chunks, also through a sub-store
    // opened on its own, so that isf still reads every key.
    let old = Store::create(d.path().join("old")).unwrap();
    old.put("sub/x", &1).unwrap();
    set_marker_version(old.path(), 1);
    let old = Store::open(old.path()).unwrap();
    old.put_table("t", &traces(0, 1, 10), Metadata::now())
        .unwrap();
    assert_eq!(file_version(&old.path().join("t/key.isfd")), 1);
    assert!(old.path().join("t/chunk-000000.isfd").is_file());
    let sub = Store::open(old.path().join("sub")).unwrap();
    sub.put_table("t", &traces(0, 1, 10), Metadata::now())
        .unwrap();
    assert!(old.path().join("sub/t/chunk-000000.isfd").is_file());
    assert_eq!(old.get_table("sub/t").unwrap(), traces(0, 1, 10));

    // Merging version-2 keys into it first raises its marker to version 2.
    let shard = Store::create(d.path().join("shard")).unwrap();
    shard
        .put_table("trials/t9", &traces(9, 1, 10), Metadata::now())
        .unwrap();
    old.merge(&shard).unwrap();
    assert_eq!(marker_version(old.path()), 2);
    assert_eq!(old.get_table("trials/t9").unwrap(), traces(9, 1, 10));
    assert!(old.verify().ok());

    // A newer version than this isf knows is refused, naming it.
    set_marker_version(old.path(), 3);
    let e = Store::open(old.path()).unwrap_err();
    assert_eq!(e.code, Code::E0608);
    assert!(e.message.contains("version 3"), "{}", e.message);
}

#[test]
fn many_small_keys_list_verify_and_merge() {
    // The shape of `benches/store_scale.rs` at a size a test affords: 2 shards of 300 trial
    // keys, listed, verified and merged; every key is one directory with one file.
    let d = tempfile::tempdir().unwrap();
    let shard = |name: &str, first: usize| {
        let s = Store::create(d.path().join(name)).unwrap();
        let trials = s.sub("exp").unwrap().sub("trials").unwrap();
        for i in first..first + 300 {
            trials
                .put_table(
                    &format!("p000000_t{i:06}"),
                    &traces(i, 1, 201),
                    Metadata::now(),
                )
                .unwrap();
        }
        s
    };
    let (a, b) = (shard("a", 0), shard("b", 300));
    let listed = a.list_tree(true).unwrap();
    assert_eq!(listed.len(), 302);
    assert!(listed.iter().all(|(_, r)| r.is_ok()));
    let files = fs::read_dir(a.path().join("exp/trials/p000000_t000007"))
        .unwrap()
        .count();
    assert_eq!(files, 1);
    let r = a.verify();
    assert!(r.ok() && r.strays.is_empty());
    assert_eq!((r.entries, r.chunks), (302, 300));
    let m = Store::create(d.path().join("m")).unwrap();
    assert_eq!(m.merge(&a).unwrap().copied.len(), 1);
    assert_eq!(m.merge(&b).unwrap().copied.len(), 300);
    assert_eq!(m.keys_recursive().unwrap().len(), 600);
    assert_eq!(
        m.get_table("exp/trials/p000000_t000450").unwrap(),
        traces(450, 1, 201)
    );
    assert!(m.verify().ok());
}
