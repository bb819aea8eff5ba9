//! The pretty-printer round-trips: parse → print → parse gives the same AST (ignoring spans),
//! comments survive, and printing is idempotent. Runs on the snippet corpus and on every `.isf`
//! file under `examples/` and `stdlib/`.

use crate::common;

use common::{CORPUS, isf_files, parse_ok, strip};
use isf::source::FileId;
use isf::syntax::parser::parse_file;
use isf::syntax::pretty::format_file;

fn comment_texts(f: &isf::syntax::ast::File) -> Vec<String> {
    let mut v: Vec<String> = f
        .comments
        .iter()
        .map(|(_, t)| t.trim_end().to_string())
        .collect();
    v.sort();
    v
}

fn check(name: &str, src: &str) {
    let a = parse_ok(src);
    let once = format_file(&a, src);
    let r = parse_file(FileId(0), &once);
    assert!(
        r.diagnostics.is_empty(),
        "{name}: formatted text does not parse:\n{once}\n{:#?}",
        r.diagnostics
    );
    let b = r.file;
    assert_eq!(
        strip(&a),
        strip(&b),
        "{name}: AST changed; formatted:\n{once}"
    );
    assert_eq!(
        comment_texts(&a),
        comment_texts(&b),
        "{name}: comments changed:\n{once}"
    );
    let twice = format_file(&b, &once);
    assert_eq!(once, twice, "{name}: not idempotent");
}

#[test]
fn corpus_round_trips() {
    for (i, src) in CORPUS.iter().enumerate() {
        check(&format!("snippet {i}"), src);
    }
}

#[test]
fn shipped_files_round_trip() {
    let files = isf_files(&["examples", "stdlib"]);
    for f in &files {
        let src = std::fs::read_to_string(f).expect("read");
        let r = parse_file(FileId(0), &src);
        if !r.diagnostics.is_empty() {
            // Files that do not parse are the parser tests' business, not the formatter's.
            continue;
        }
        check(&f.display().to_string(), &src);
    }
}

#[test]
fn layout() {
    let src =
        "neuron   A{soma{pas{g:3.26e-5 S/cm2,e:-90 mV}}\n  x: 1 // one\n\n\n  y: f( a , b:2 )}\n";
    let out = format_file(&parse_ok(src), src);
    assert_eq!(
        out,
        "neuron A {\n    soma {\n        pas { g: 3.26e-5 S/cm2, e: -90 mV }\n    }\n    x: 1 // one\n\n    y: f(a, b: 2)\n}\n"
    );
    // Separators only where needed.
    let src = "neuron A { x: a, (b)\n y: 2, z: 3, state m\n q: 1 }";
    let out = format_file(&parse_ok(src), src);
    assert_eq!(
        out,
        "neuron A {\n    x: a,\n    (b)\n    y: 2\n    z: 3\n    state m\n    q: 1\n}\n"
    );
}

#[test]
fn print_corpus() {
    // Handy with --nocapture when changing the printer.
    if std::env::var_os("ISF_PRINT_CORPUS").is_some() {
        for src in CORPUS {
            println!("{}\n-----", format_file(&parse_ok(src), src));
        }
    }
}

#[test]
fn cli() {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let exe = env!("CARGO_BIN_EXE_isf");
    let tmp = tempfile::tempdir().expect("temp dir");
    let dir = tmp.path();
    let ugly = dir.join("ugly.isf");
    let bad = dir.join("bad.isf");
    std::fs::write(&ugly, "neuron A{x:1}\n").expect("write");
    std::fs::write(&bad, "neuron A { x: }\n").expect("write");
    let run = |args: &[&str]| Command::new(exe).args(args).output().expect("run isf");

    let out = run(&["fmt", "--check", ugly.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).contains("ugly.isf"));
    assert_eq!(
        std::fs::read_to_string(&ugly).unwrap(),
        "neuron A{x:1}\n",
        "--check writes nothing"
    );

    let out = run(&["fmt", ugly.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        std::fs::read_to_string(&ugly).unwrap(),
        "neuron A { x: 1 }\n"
    );
    assert_eq!(
        run(&["fmt", "--check", ugly.to_str().unwrap()])
            .status
            .code(),
        Some(0)
    );

    let out = run(&["fmt", bad.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("E0101"));
    assert_eq!(std::fs::read_to_string(&bad).unwrap(), "neuron A { x: }\n");

    let mut child = Command::new(exe)
        .args(["fmt", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"let x=1 // c\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "let x = 1 // c\n");
    // No temporary files are left behind.
    let left: Vec<_> = std::fs::read_dir(dir).unwrap().flatten().collect();
    assert_eq!(left.len(), 2);
}
