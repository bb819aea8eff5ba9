//! `files::parse_cached`: a data file is parsed once per process per content, an edited file
//! anew, errors are not kept, and an unreadable file is left to the caller.

use isf::files::parse_cached;
use std::cell::Cell;

#[test]
fn parse_cached_parses_each_content_once() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("a.txt");
    std::fs::write(&f, "one").unwrap();
    let calls = Cell::new(0);
    let parse = |t: &str| -> Result<String, ()> {
        calls.set(calls.get() + 1);
        Ok(t.to_uppercase())
    };
    assert_eq!(parse_cached(&f, parse), Some(Ok("ONE".to_string())));
    assert_eq!(parse_cached(&f, parse), Some(Ok("ONE".to_string())));
    assert_eq!(calls.get(), 1, "the second read is a hit");
    std::fs::write(&f, "two").unwrap();
    assert_eq!(parse_cached(&f, parse), Some(Ok("TWO".to_string())));
    assert_eq!(calls.get(), 2, "an edited file is parsed anew");
    // Another parsed type of the same file is its own entry.
    assert_eq!(parse_cached(&f, |t| Ok::<usize, ()>(t.len())), Some(Ok(3)));
    // Errors are not kept.
    std::fs::write(&f, "three").unwrap();
    assert_eq!(parse_cached(&f, |_| Err::<String, ()>(())), Some(Err(())));
    assert_eq!(parse_cached(&f, parse), Some(Ok("THREE".to_string())));
    assert_eq!(calls.get(), 3);
    assert_eq!(parse_cached(&dir.path().join("missing"), parse), None);
}

/// A morphology read twice in one process is the same as read once, and an edited file is
/// read anew (the cache compares the text).
#[test]
fn morphology_reads_follow_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("c.swc");
    let swc = "1 1 0 0 0 5 -1\n2 3 0 10 0 1 1\n3 3 0 20 0 1 2\n";
    std::fs::write(&f, swc).unwrap();
    let a = isf::morph::Morphology::read(&f).unwrap();
    let b = isf::morph::Morphology::read(&f).unwrap();
    assert_eq!(a, b);
    std::fs::write(&f, swc.replace("0 20 0", "0 30 0")).unwrap();
    let c = isf::morph::Morphology::read(&f).unwrap();
    assert_ne!(a, c);
    std::fs::write(&f, "garbage").unwrap();
    assert!(isf::morph::Morphology::read(&f).is_err());
}
