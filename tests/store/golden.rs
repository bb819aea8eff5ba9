//! Golden stores: `tests/data/golden-store-v1/` and `tests/data/golden-store-v2/` were written
//! by isf and are committed, so the store's byte format cannot change unnoticed.
//!
//! Both hold the same keys (`fill` below): values (an integer, a record, a value whose entry
//! is large enough for zstd), full provenance metadata, tables held inline (v2) or in chunk
//! files (v1), a table split over several chunk files with every column type and the raw
//! float encoding (NaN, −0, ∞), a decimal-encoded trace large enough for a zstd chunk, a
//! table grown by appends, an empty table, nested sub-stores and a managed folder.
//!
//! Two checks per store:
//!
//! * `golden_*_reads`: the committed store reads back, key by key, as what was written.
//! * `golden_*_rewrites_identically`: today's code writing the same keys makes the same
//!   files, byte for byte. Writing is deterministic except for what the format says varies —
//!   the marker's `created`, and the `created`/`modified`/`host`/`isf_version` stamps of keys
//!   whose metadata the writer makes itself (sub-stores, the folder, the appended table); those
//!   entries are compared as decoded documents without those fields, and nothing else is.
//!
//! Never regenerate a golden store: a deliberate format change gets a new `golden-store-vN`
//! beside the old ones (an old store must keep reading). `ISF_BLESS_GOLDEN=1 cargo test
//! --release --test store golden::` writes those that are missing, never over existing ones.

use isf::store::frame::{self, FileKind};
use isf::store::{Column, Kind, Metadata, Store, Table, WriteOptions};
use rmpv::Value;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

const CREATED: &str = "2026-12-03T20:00:00Z";
/// Keys whose entry the writer stamps itself (time, host, version).
const STAMPED: &[&str] = &["sub", "sub/inner", "tables", "folder", "tables/appended"];

#[derive(Serialize, Deserialize, Debug, PartialEq)]
struct Inner {
    n: u32,
    flag: bool,
    none: Option<u8>,
}

#[derive(Serialize, Deserialize, Debug, PartialEq)]
struct Params {
    cell: String,
    dt_ms: f64,
    t_stop_ms: f64,
    labels: Vec<String>,
    big: u64,
    neg: i64,
    tiny: f64,
    nested: Inner,
}

fn params() -> Params {
    Params {
        cell: "86_C2_center µ".into(),
        dt_ms: 0.025,
        t_stop_ms: 345.0,
        labels: vec!["soma".into(), "apical".into()],
        big: u64::MAX,
        neg: -7,
        tiny: 1e-300,
        nested: Inner {
            n: 3,
            flag: true,
            none: None,
        },
    }
}

fn meta() -> Metadata {
    Metadata {
        created: Some(CREATED.into()),
        isf_version: Some("0.1.0".into()),
        host: Some("golden-host".into()),
        ..Metadata::default()
    }
}

/// A script long enough that its entry's msgpack exceeds 64 KiB (zstd, not lz4).
fn long_script() -> String {
    (0..2000)
        .map(|i| {
            format!(
                "stimulus s{i} = step(amp: {}.{:02} nA, at: {i} ms)\n",
                i % 7,
                i % 100
            )
        })
        .collect()
}

fn provenance() -> Metadata {
    let mut sweep = BTreeMap::new();
    sweep.insert("amp_nA".to_string(), serde_json::json!(0.5));
    sweep.insert("cell".to_string(), serde_json::json!("C2"));
    let mut extra = BTreeMap::new();
    extra.insert("source".to_string(), "golden".to_string());
    extra.insert("user".to_string(), "test".to_string());
    Metadata {
        created: Some(CREATED.into()),
        modified: Some("2026-12-03T20:05:00Z".into()),
        isf_version: Some("0.1.0".into()),
        plan_hash: Some("ab".repeat(32)),
        script: Some(long_script()),
        seed: Some(123_456_789),
        sweep_point: Some(sweep),
        host: Some("golden-host".into()),
        extra,
    }
}

/// A trace table of `n` trials × `w` samples with 4-decimal values (decimal encoding).
fn trace(first: usize, n: usize, w: usize) -> Table {
    let ids = (first..first + n)
        .map(|i| format!("trial/{i:06}"))
        .collect();
    let times: Vec<f64> = (0..w)
        .map(|i| format!("{:.3}", i as f64 * 0.025).parse().unwrap())
        .collect();
    let data = (0..n * w)
        .map(|i| {
            let x = -75.0 + 20.0 * ((first * w + i) as f64 * 0.013).sin();
            format!("{x:.4}").parse().unwrap()
        })
        .collect();
    Table::traces(ids, &times, isf::store::table::f64_rows(w, data).unwrap())
}

/// Every column type; the float column forces the raw encoding (NaN, −0, ∞).
fn mixed() -> Table {
    Table::new()
        .with(
            "id",
            Column::Str(vec![
                "a".into(),
                "µs".into(),
                "".into(),
                "d".into(),
                "e".into(),
                "f".into(),
            ]),
        )
        .with(
            "n",
            Column::I64(vec![i64::MIN, -1, 0, 1, 1 << 40, i64::MAX]),
        )
        .with(
            "x",
            Column::F64(vec![f64::NAN, -0.0, f64::INFINITY, 1e-300, 0.1 + 0.2, -2.5]),
        )
        .with(
            "t",
            Column::F64List(vec![
                vec![],
                vec![1.0],
                vec![],
                vec![2.0, 3.5, 4.25],
                vec![],
                vec![9.0],
            ]),
        )
        .with(
            "vm",
            Column::F64Array(
                isf::store::table::f64_rows(3, (0..18).map(|i| f64::from(i) * 0.7 - 3.0).collect())
                    .unwrap(),
            ),
        )
        .with_attr("note", Value::from("mixed columns"))
        .with_attr(
            "vm.labels",
            Value::Array(vec![Value::F64(0.0), Value::F64(0.5), Value::F64(1.0)]),
        )
}

fn appended(part: usize) -> Table {
    let rows = [2usize, 2, 1][part];
    let first = [0usize, 2, 4][part];
    Table::new()
        .with(
            "sim_trial_index",
            Column::Str((first..first + rows).map(|i| format!("t{i}")).collect()),
        )
        .with(
            "spike_times",
            Column::F64List(
                (first..first + rows)
                    .map(|i| vec![10.0 * i as f64; i % 3])
                    .collect(),
            ),
        )
}

fn empty() -> Table {
    Table::new()
        .with("id", Column::Str(vec![]))
        .with("vm", Column::F64Array(ndarray::Array2::zeros((0, 4))))
}

/// Write every golden key into `s`.
fn fill(s: &Store) {
    s.put_with_meta("answer", &42i64, meta()).unwrap();
    s.put_with_meta("params", &params(), meta()).unwrap();
    s.put_with_meta("provenance", "the metadata is the point", provenance())
        .unwrap();
    s.put_table("tables/trace_inline", &trace(0, 3, 40), meta())
        .unwrap();
    s.put_table("tables/trace_zstd", &trace(3, 8, 1200), meta())
        .unwrap();
    let small = s.clone().with_options(WriteOptions {
        inline_bytes: 0,
        chunk_bytes: 100,
        ..WriteOptions::default()
    });
    small.put_table("tables/mixed", &mixed(), meta()).unwrap();
    s.put_table("tables/empty", &empty(), meta()).unwrap();
    s.put_table("tables/appended", &appended(0), meta())
        .unwrap();
    s.append_rows("tables/appended", &appended(1)).unwrap();
    s.append_rows("tables/appended", &appended(2)).unwrap();
    s.put_with_meta("sub/inner/leaf", &vec![1.5f64, -2.0, 3.25], meta())
        .unwrap();
    s.put_with_meta("sub/note", "a sub-store's value", meta())
        .unwrap();
    let files = s.managed_folder("folder").unwrap();
    fs::write(
        files.join("cell.hoc"),
        "create soma\nsoma { L = 20 diam = 20 }\n",
    )
    .unwrap();
    fs::create_dir_all(files.join("nested")).unwrap();
    fs::write(files.join("nested/notes.txt"), b"binary \x00\xff ok\n").unwrap();
}

fn golden_dir(version: u16) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("tests/data/golden-store-v{version}"))
}

/// A new store of format `version` at `root`, filled. A version-1 store is what an isf of
/// format version 1 created: its marker says 1, so nothing of version 2 is written into it.
fn build(root: &Path, version: u16) {
    Store::create(root).unwrap();
    let marker = serde_json::json!({"format": "isf-store", "version": version, "created": CREATED});
    fs::write(
        root.join("isf-store.json"),
        serde_json::to_string_pretty(&marker).unwrap() + "\n",
    )
    .unwrap();
    fill(&Store::open(root).unwrap());
}

/// The committed golden store of `version`; with `ISF_BLESS_GOLDEN=1`, written anew first.
fn golden(version: u16) -> Store {
    static BLESSED: [std::sync::OnceLock<()>; 2] =
        [std::sync::OnceLock::new(), std::sync::OnceLock::new()];
    let dir = golden_dir(version);
    if std::env::var("ISF_BLESS_GOLDEN").as_deref() == Ok("1") && !dir.exists() {
        // Once per version, whichever of its tests comes first; an existing golden store is
        // never overwritten.
        BLESSED[usize::from(version) - 1].get_or_init(|| build(&dir, version));
    }
    assert!(
        dir.join("isf-store.json").is_file(),
        "{} is missing: the golden store must be committed",
        dir.display()
    );
    Store::open(&dir).unwrap()
}

/// Tables compared bit for bit (NaN and −0 included) through their debug form, which prints
/// every double in its shortest round-trip form.
fn assert_table(s: &Store, key: &str, want: &Table) {
    let got = s.get_table(key).unwrap_or_else(|e| panic!("{key}: {e}"));
    assert_eq!(format!("{got:?}"), format!("{want:?}"), "{key}");
}

fn check_reads(version: u16) {
    let s = golden(version);
    let report = s.verify();
    assert!(report.ok(), "{:?}", report.problems);
    assert!(
        report.strays.is_empty() && report.links.is_empty(),
        "{report:?}"
    );

    let mut keys = s.keys_recursive().unwrap();
    keys.sort();
    assert_eq!(
        keys,
        [
            "answer",
            "folder",
            "params",
            "provenance",
            "sub/inner/leaf",
            "sub/note",
            "tables/appended",
            "tables/empty",
            "tables/mixed",
            "tables/trace_inline",
            "tables/trace_zstd",
        ]
    );
    for (key, kind) in [
        ("answer", Kind::Value),
        ("sub", Kind::Store),
        ("sub/inner", Kind::Store),
        ("folder", Kind::Folder),
        ("tables/mixed", Kind::Table),
    ] {
        assert_eq!(s.kind(key).unwrap(), kind, "{key}");
    }

    assert_eq!(s.get::<i64>("answer").unwrap(), 42);
    assert_eq!(s.get::<Params>("params").unwrap(), params());
    assert_eq!(
        s.get::<String>("provenance").unwrap(),
        "the metadata is the point"
    );
    assert_eq!(
        s.get::<Vec<f64>>("sub/inner/leaf").unwrap(),
        [1.5, -2.0, 3.25]
    );
    assert_eq!(s.get::<String>("sub/note").unwrap(), "a sub-store's value");
    for key in [
        "answer",
        "params",
        "sub/note",
        "tables/mixed",
        "tables/trace_zstd",
    ] {
        assert_eq!(s.metadata(key).unwrap(), meta(), "{key}");
    }
    assert_eq!(s.metadata("provenance").unwrap(), provenance());
    let stamped = s.metadata("tables/appended").unwrap();
    assert_eq!(stamped.created.as_deref(), Some(CREATED));
    assert!(stamped.modified.is_some());

    assert_table(&s, "tables/trace_inline", &trace(0, 3, 40));
    assert_table(&s, "tables/trace_zstd", &trace(3, 8, 1200));
    assert_table(&s, "tables/mixed", &mixed());
    assert_table(&s, "tables/empty", &empty());
    let mut grown = appended(0);
    for part in [1, 2] {
        let Table { columns, .. } = appended(part);
        for ((_, a), (_, b)) in grown.columns.iter_mut().zip(columns) {
            match (a, b) {
                (Column::Str(a), Column::Str(b)) => a.extend(b),
                (Column::F64List(a), Column::F64List(b)) => a.extend(b),
                _ => unreachable!(),
            }
        }
    }
    assert_table(&s, "tables/appended", &grown);

    // Where the rows are: inline chunks only in version 2.
    let inline = |key: &str| {
        let info = s.table_info(key).unwrap();
        let files = info.chunks.iter().filter(|c| c.inline.is_none()).count();
        (info.chunks.len() - files, files)
    };
    assert_eq!(
        inline("tables/trace_inline"),
        if version == 2 { (1, 0) } else { (0, 1) }
    );
    assert_eq!(
        inline("tables/appended"),
        if version == 2 { (1, 2) } else { (0, 3) }
    );
    assert_eq!(inline("tables/trace_zstd"), (0, 1));
    assert_eq!(inline("tables/empty"), (0, 0));
    let (i, f) = inline("tables/mixed");
    assert!(i == 0 && f >= 3, "mixed: {i} inline, {f} files");

    let files = s.folder_path("folder").unwrap();
    assert_eq!(
        fs::read_to_string(files.join("cell.hoc")).unwrap(),
        "create soma\nsoma { L = 20 diam = 20 }\n"
    );
    assert_eq!(
        fs::read(files.join("nested/notes.txt")).unwrap(),
        b"binary \x00\xff ok\n"
    );

    // The store exercises both compressors c-blosc is asked for (header byte 2, bits 5–7:
    // 1 lz4, 4 zstd), and both file versions where the store allows them.
    let mut codecs = BTreeMap::new();
    let mut versions = BTreeMap::new();
    for p in files_below(s.path()) {
        if p.extension().is_some_and(|e| e == "isfd") {
            let b = fs::read(&p).unwrap();
            *codecs.entry(b[frame::HEADER + 2] >> 5).or_insert(0) += 1;
            *versions
                .entry(u16::from_le_bytes([b[8], b[9]]))
                .or_insert(0) += 1;
        }
    }
    assert!(
        codecs.contains_key(&1) && codecs.contains_key(&4),
        "codecs {codecs:?}"
    );
    assert_eq!(
        versions.keys().copied().max(),
        Some(version),
        "{versions:?}"
    );
}

/// Every regular file below `dir`, sorted.
fn files_below(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if e.file_type().unwrap().is_dir() {
            out.extend(files_below(&p));
        } else {
            out.push(p);
        }
    }
    out.sort();
    out
}

/// An entry document without the stamps the writer makes itself.
fn unstamped(bytes: &[u8]) -> Value {
    let raw = frame::decode(bytes, FileKind::Entry).unwrap();
    let Value::Map(m) = rmpv::decode::read_value(&mut raw.as_slice()).unwrap() else {
        panic!("entry is not a map");
    };
    let volatile = ["created", "modified", "host", "isf_version"];
    Value::Map(
        m.into_iter()
            .map(|(k, v)| match (k.as_str(), v) {
                (Some("meta"), Value::Map(meta)) => {
                    let kept = meta
                        .into_iter()
                        .filter(|(f, _)| !f.as_str().is_some_and(|f| volatile.contains(&f)))
                        .collect();
                    (k, Value::Map(kept))
                }
                (_, v) => (k, v),
            })
            .collect(),
    )
}

fn check_rewrite(version: u16) {
    let gold = golden(version);
    let d = tempfile::tempdir().unwrap();
    let root = d.path().join("db");
    build(&root, version);
    let rel = |r: &Path| -> Vec<PathBuf> {
        files_below(r)
            .into_iter()
            .map(|p| p.strip_prefix(r).unwrap().to_path_buf())
            .collect()
    };
    let names = rel(gold.path());
    assert_eq!(names, rel(&root), "the files of the store differ");
    let mut compared_bytes = 0;
    for name in &names {
        let (a, b) = (
            fs::read(gold.path().join(name)).unwrap(),
            fs::read(root.join(name)).unwrap(),
        );
        let key = name
            .parent()
            .map(|p| p.to_string_lossy().into_owned())
            .unwrap_or_default();
        if name == Path::new("isf-store.json") {
            let strip = |b: &[u8]| {
                let mut j: serde_json::Value = serde_json::from_slice(b).unwrap();
                j.as_object_mut().unwrap().remove("created");
                j
            };
            assert_eq!(strip(&a), strip(&b), "marker");
        } else if name.file_name().is_some_and(|n| n == "key.isfd")
            && STAMPED.contains(&key.as_str())
        {
            assert_eq!(unstamped(&a), unstamped(&b), "{}", name.display());
        } else {
            if a != b && name.extension().is_some_and(|e| e == "isfd") {
                // Say whether the msgpack document or only its compression changed.
                let kind = if name.file_name().is_some_and(|n| n == "key.isfd") {
                    FileKind::Entry
                } else {
                    FileKind::Chunk
                };
                let same_doc = frame::decode(&a, kind).unwrap() == frame::decode(&b, kind).unwrap();
                panic!(
                    "{} differs (msgpack document identical: {same_doc})",
                    name.display()
                );
            }
            assert!(a == b, "{} differs", name.display());
            compared_bytes += 1;
        }
    }
    // Everything but the marker and the stamped entries is compared byte for byte.
    assert_eq!(compared_bytes, names.len() - 1 - STAMPED.len());
}

#[test]
fn golden_v2_reads() {
    check_reads(2);
}

#[test]
fn golden_v1_reads() {
    check_reads(1);
}

#[test]
fn golden_v2_rewrites_identically() {
    check_rewrite(2);
}

#[test]
fn golden_v1_rewrites_identically() {
    check_rewrite(1);
}
