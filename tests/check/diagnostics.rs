//! Diagnostic cases: every file in `tests/diagnostics/` starts with `// expect: CODE…` and must
//! produce exactly those codes (as a set). The rendered messages are snapshot-tested, and every
//! front-end code in the registry must be exercised by some case.

use isf::diagnostics::{Code, render};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

fn cases() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/diagnostics");
    let mut v: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("tests/diagnostics exists")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "isf"))
        .collect();
    v.sort();
    v
}

fn expected(text: &str) -> BTreeSet<String> {
    let first = text.lines().next().unwrap_or("");
    first
        .strip_prefix("// expect:")
        .expect("case files start with `// expect: CODE…`")
        .split_whitespace()
        .map(String::from)
        .collect()
}

/// Relative path from the package root (stable across machines).
fn rel(p: &Path) -> PathBuf {
    p.strip_prefix(env!("CARGO_MANIFEST_DIR"))
        .unwrap_or(p)
        .to_path_buf()
}

#[test]
fn every_case_produces_exactly_its_codes() {
    // Cases are checked by their path relative to the package root, so the snapshots name
    // them the same on every machine. Cargo runs test binaries there; this binary's other
    // tests run in parallel, so the directory is checked, not changed.
    let cwd = std::env::current_dir().unwrap();
    assert_eq!(
        cwd.canonicalize().unwrap(),
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .canonicalize()
            .unwrap(),
        "run from the package root (as `cargo test` does)"
    );
    let mut failures = Vec::new();
    for case in cases() {
        let text = std::fs::read_to_string(&case).unwrap();
        let want = expected(&text);
        let checked = isf::validate::check_path(&rel(&case));
        let got: BTreeSet<String> = checked
            .diagnostics
            .iter()
            .map(|d| d.code.as_str().to_string())
            .collect();
        // Every diagnostic carries a span inside its file.
        for d in &checked.diagnostics {
            let span = d
                .primary_span()
                .unwrap_or_else(|| panic!("{}: {} has no span", case.display(), d.code.as_str()));
            let len = checked.sources.get(span.file).text.len() as u32;
            assert!(
                span.start <= span.end && span.end <= len,
                "{}: bad span",
                case.display()
            );
        }
        if want != got {
            let rendered: String = checked
                .diagnostics
                .iter()
                .map(|d| render::plain(d, &checked.sources))
                .collect();
            failures.push(format!(
                "{}: expected {:?}, got {:?}\n{rendered}",
                case.display(),
                want,
                got
            ));
        }
        let snapshot: String = checked
            .diagnostics
            .iter()
            .map(|d| render::human(d, &checked.sources, false))
            .collect();
        let name = case.file_stem().unwrap().to_string_lossy().into_owned();
        // The snapshots stay beside their cases in tests/diagnostics/ (this file is tests/check/).
        insta::with_settings!({snapshot_path => "../diagnostics/snapshots", prepend_module_to_snapshot => false}, {
            insta::assert_snapshot!(name, snapshot);
        });
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Codes that are exercised by other tests (file readers, solver) or not reachable yet.
const ELSEWHERE: &[(&str, &str)] = &[
    (
        "E0417",
        "needs the lowered cell: checked before any trial runs (tests/run/recordings.rs)",
    ),
    (
        "E0006",
        "REPL input that is not UTF-8 (tests/cli/repl_pty.rs, src/repl/terminal.rs)",
    ),
    (
        "E0421",
        "command-line choice of a neuron (isf morph/plan --neuron): tests/cli/inspect.rs",
    ),
    (
        "E0422",
        "command-line inputs of isf morph/plan: tests/cli/inspect.rs",
    ),
    ("E0901", "internal errors only"),
];

#[test]
fn every_front_end_code_has_a_case() {
    let mut covered = BTreeSet::new();
    for case in cases() {
        covered.extend(expected(&std::fs::read_to_string(&case).unwrap()));
    }
    let mut missing = Vec::new();
    for code in Code::ALL {
        let s = code.as_str();
        let front = s.starts_with("E00")
            || s.starts_with("E01")
            || s.starts_with("E02")
            || s.starts_with("E03")
            || s.starts_with("E04")
            || s.starts_with('W');
        // A retired code is never produced again, so it has no case.
        let retired = code.summary().contains("(retired");
        if front && !retired && !covered.contains(s) && !ELSEWHERE.iter().any(|(c, _)| *c == s) {
            missing.push(s);
        }
    }
    assert!(
        missing.is_empty(),
        "codes without a case in tests/diagnostics: {missing:?}"
    );
    // An exemption for a code that has a case by now is stale: drop it from ELSEWHERE.
    let stale: Vec<&str> = ELSEWHERE
        .iter()
        .map(|(c, _)| *c)
        .filter(|c| covered.contains(*c))
        .collect();
    assert!(
        stale.is_empty(),
        "ELSEWHERE lists codes that have a case: {stale:?}"
    );
    let errors = covered.iter().filter(|c| c.starts_with('E')).count();
    eprintln!("distinct error codes exercised by case files: {errors}");
    assert!(errors >= 40, "only {errors} error codes exercised");
}
