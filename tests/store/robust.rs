//! Damaged store files never panic: random bytes, random byte flips (caught by the CRC), and
//! well-framed files whose msgpack content is scrambled (valid CRC, nonsense structure).

use isf::diagnostics::Code;
use isf::store::frame::{self, FileKind};
use isf::store::{Codec, Column, Metadata, Shuffle, Store, Table};
use proptest::prelude::*;
use std::fs;
use std::path::Path;

fn fixture(dir: &Path) -> Store {
    let s = Store::create(dir.join("db")).unwrap();
    s.put("v", &serde_json::json!({"a": [1, 2.5, "x"], "b": null}))
        .unwrap();
    let t = Table::traces(
        vec!["a".into(), "b".into()],
        &[0.0, 0.5, 1.0],
        ndarray::Array2::from_elem((2, 3), 1.25),
    )
    .with("ragged", Column::F64List(vec![vec![1.0], vec![]]))
    .with("n", Column::I64(vec![1, 2]));
    // `t` in a chunk file of its own, `ti` inline in its entry (format version 2).
    let files = s.clone().with_options(isf::store::WriteOptions {
        inline_bytes: 0,
        ..Default::default()
    });
    files.put_table("t", &t, Metadata::now()).unwrap();
    s.put_table("ti", &t, Metadata::now()).unwrap();
    assert!(s.table_info("ti").unwrap().chunks[0].inline.is_some());
    s
}

/// Every way of reading the store; none may panic, and `ok` must read correctly.
fn read_all(s: &Store) {
    let _ = s.get_value("v");
    let _ = s.get_table("t");
    let _ = s.table_info("t");
    let _ = s.metadata("t");
    let _ = s.get_table("ti");
    let _ = s.check_key("ti");
    let _ = s.list();
    let _ = s.verify();
    let _ = s.keys_recursive();
}

fn chunk(s: &Store) -> std::path::PathBuf {
    let dir = s.path().join("t");
    fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| p.to_string_lossy().contains("chunk-"))
        .unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes_are_errors(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        let d = tempfile::tempdir().unwrap();
        let s = fixture(d.path());
        fs::write(s.path().join("v/key.isfd"), &bytes).unwrap();
        fs::write(chunk(&s), &bytes).unwrap();
        read_all(&s);
        prop_assert_eq!(s.get_value("v").unwrap_err().code, Code::E0601);
        prop_assert_eq!(s.get_table("t").unwrap_err().code, Code::E0601);
    }

    #[test]
    fn every_flip_is_detected(pos in any::<prop::sample::Index>(), bit in 0u8..8, which in 0..3usize) {
        let d = tempfile::tempdir().unwrap();
        let s = fixture(d.path());
        let (path, key) = match which {
            0 => (s.path().join("t/key.isfd"), "t"),
            1 => (chunk(&s), "t"),
            _ => (s.path().join("ti/key.isfd"), "ti"),
        };
        let mut b = fs::read(&path).unwrap();
        let i = pos.index(b.len());
        b[i] ^= 1 << bit;
        fs::write(&path, &b).unwrap();
        read_all(&s);
        let r = s.verify();
        prop_assert_eq!(r.problems.len(), 1);
        prop_assert_eq!(r.problems[0].key.as_deref(), Some(key));
        prop_assert_eq!(s.get_value("v").is_ok(), true);
    }

    #[test]
    fn scrambled_content_with_valid_checksum_never_panics(
        flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..6),
        which in 0..4usize,
    ) {
        let d = tempfile::tempdir().unwrap();
        let s = fixture(d.path());
        let (path, kind) = match which {
            0 => (s.path().join("t/key.isfd"), FileKind::Entry),
            1 => (chunk(&s), FileKind::Chunk),
            2 => (s.path().join("ti/key.isfd"), FileKind::Entry),
            _ => (s.path().join("v/key.isfd"), FileKind::Entry),
        };
        let original = fs::read(&path).unwrap();
        let version = u16::from_le_bytes([original[8], original[9]]);
        let mut doc = frame::decode(&original, kind).unwrap();
        for (i, x) in flips {
            let i = i.index(doc.len());
            doc[i] = x;
        }
        let bytes = frame::encode(kind, version, &doc, Codec::Lz4, 1, Shuffle::Byte, 8).unwrap();
        fs::write(&path, bytes).unwrap();
        read_all(&s);
    }
}
