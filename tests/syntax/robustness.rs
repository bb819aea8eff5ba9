//! Robustness: the lexer and parser never panic, and every diagnostic they report has a code
//! and a primary span inside the text. Inputs: arbitrary bytes (proptest), random token soups
//! (proptest), and byte/token mutations and truncations of the snippet corpus and the shipped
//! `.isf` files. Inputs that do parse must also survive the formatter round trip.
//!
//! The default run does a few thousand cases. For a long run:
//! `ISF_FUZZ_CASES=100000 cargo test --release --test syntax robustness:: -- --nocapture`
//! (the number is the total over the three generators; each prints how many cases it ran).

use crate::common;

use common::{CORPUS, Rng, isf_files, strip};
use isf::diagnostics::Code;
use isf::source::FileId;
use isf::syntax::{lexer, parser, pretty};
use proptest::prelude::*;
use proptest::test_runner::{TestCaseError, TestRunner};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

/// Total number of cases over the three generators.
fn total_cases() -> usize {
    std::env::var("ISF_FUZZ_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(6000)
}

/// Check one input; panics (with the input) on any violation.
fn check(text: &str) {
    let r = std::panic::catch_unwind(|| parser::parse_file(FileId(0), text));
    let parsed = match r {
        Ok(p) => p,
        Err(_) => panic!("parse_file panicked on {text:?}"),
    };
    for d in &parsed.diagnostics {
        assert!(Code::ALL.contains(&d.code), "unknown code in {d:?}");
        let span = d
            .primary_span()
            .unwrap_or_else(|| panic!("diagnostic without span on {text:?}: {d:?}"));
        for l in &d.labels {
            let (s, e) = (l.span.start as usize, l.span.end as usize);
            assert!(
                s <= e && e <= text.len() && text.is_char_boundary(s) && text.is_char_boundary(e),
                "bad span {s}..{e} (len {}) on {text:?}: {d:?}",
                text.len()
            );
        }
        let _ = span;
    }
    let _ = parser::parse_expr(FileId(0), text);
    let _ = parser::parse_repl(FileId(0), text);
    if parsed.diagnostics.is_empty() {
        let once = pretty::format_file(&parsed.file, text);
        let again = parser::parse_file(FileId(0), &once);
        assert!(
            again.diagnostics.is_empty(),
            "formatted text does not parse.\ninput: {text:?}\nformatted: {once:?}\n{:?}",
            again.diagnostics
        );
        assert_eq!(
            strip(&parsed.file),
            strip(&again.file),
            "formatting changed the AST.\ninput: {text:?}\nformatted: {once:?}"
        );
        assert_eq!(
            parsed.file.comments.len(),
            again.file.comments.len(),
            "formatting lost comments.\ninput: {text:?}\nformatted: {once:?}"
        );
        let twice = pretty::format_file(&again.file, &once);
        assert_eq!(once, twice, "not idempotent on {text:?}");
    }
}

/// Valid seeds: the corpus plus every shipped `.isf` file.
fn seeds() -> Vec<String> {
    let mut v: Vec<String> = CORPUS.iter().map(|s| s.to_string()).collect();
    for f in isf_files(&["examples", "stdlib", "tests"]) {
        if let Ok(t) = std::fs::read_to_string(f) {
            v.push(t);
        }
    }
    v
}

/// Words and symbols random token soups are made of.
#[rustfmt::skip]
const VOCAB: &[&str] = &[
    "import", "as", "let", "neuron", "network", "experiment", "mechanism", "if", "then", "else",
    "in", "by", "true", "false", "and", "or", "not", "parameter", "state", "current", "soma",
    "x", "mV", "cm2", "µm", "0", "1", "2.5", "3e-5", "1e", "\"s\"", "\"a\\n\"", "{", "}", "(",
    ")", "[", "]", ",", ":", ".", "..", "=", "==", "!=", "<", "<=", ">", ">=", "+", "-", "*",
    "/", "^", "\n", " ", "\t", "// c\n", "/* c */", "\r\n", "é",
];

/// Starts for token soups, so that they reach block and expression rules.
const PREFIXES: &[&str] = &[
    "",
    "neuron A {\n",
    "let x = ",
    "mechanism M : density { gate m { ",
];

/// Lexically invalid pieces, added to some token soups.
#[rustfmt::skip]
const BAD: &[&str] = &[
    "1.2.3", "1e+", "\"\\q\"", "\"", "/*", ";", "#", "'", "@", "\u{0}", "\"\\u{zz}\"",
];

fn config(share: usize) -> ProptestConfig {
    ProptestConfig {
        cases: (total_cases() * share / 10).max(1) as u32,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// Run a proptest strategy through `check`, report failures with the minimal input, print the
/// number of cases run.
fn run_prop<S: Strategy>(
    name: &str,
    share: usize,
    strategy: S,
    to_text: impl Fn(S::Value) -> String,
) {
    let count = AtomicUsize::new(0);
    let start = Instant::now();
    let mut runner = TestRunner::new(config(share));
    let result = runner.run(&strategy, |v| {
        count.fetch_add(1, Ordering::Relaxed);
        let text = to_text(v);
        match std::panic::catch_unwind(|| check(&text)) {
            Ok(()) => Ok(()),
            Err(_) => Err(TestCaseError::fail(format!("failed on {text:?}"))),
        }
    });
    println!(
        "robustness: {name}: {} cases in {:.1?}",
        count.load(Ordering::Relaxed),
        start.elapsed()
    );
    if let Err(e) = result {
        panic!("{name}: {e}");
    }
}

#[test]
fn arbitrary_bytes() {
    run_prop(
        "arbitrary_bytes",
        2,
        proptest::collection::vec(any::<u8>(), 0..300),
        |bytes| String::from_utf8_lossy(&bytes).into_owned(),
    );
}

#[test]
fn token_soup() {
    run_prop(
        "token_soup",
        3,
        (
            proptest::collection::vec(proptest::sample::select(VOCAB), 0..60),
            proptest::collection::vec(any::<bool>(), 60),
            proptest::option::weighted(0.2, (proptest::sample::select(BAD), 0..60usize)),
            proptest::sample::select(PREFIXES),
        ),
        |(words, spaces, bad, prefix)| {
            let mut s = String::from(prefix);
            for (i, w) in words.iter().enumerate() {
                if bad.is_some_and(|(_, at)| at == i) {
                    s.push_str(bad.map_or("", |(b, _)| b));
                }
                s.push_str(w);
                if spaces[i] {
                    s.push(' ');
                }
            }
            s
        },
    );
}

/// Apply 1–4 random mutations: byte delete/insert/duplicate/swap, token delete/duplicate/swap/
/// insert, truncation.
fn mutate(seed: &str, rng: &mut Rng) -> String {
    let mut b: Vec<u8> = seed.as_bytes().to_vec();
    let n = 1 + rng.below(4);
    for _ in 0..n {
        let len = b.len();
        match rng.below(9) {
            0 if len > 0 => {
                b.remove(rng.below(len));
            }
            1 => {
                let ins = b"{}()[],:.=-+*/^\"\\ \n0aZ_/*";
                b.insert(rng.below(len + 1), ins[rng.below(ins.len())]);
            }
            2 if len > 0 => {
                let i = rng.below(len);
                let j = (i + 1 + rng.below(8)).min(len);
                let chunk = b[i..j].to_vec();
                let at = rng.below(len + 1);
                b.splice(at..at, chunk);
            }
            3 if len > 1 => {
                let (i, j) = (rng.below(len), rng.below(len));
                b.swap(i, j);
            }
            4 => b.truncate(rng.below(len + 1)),
            _ => {
                // Token-level edits on the current (lossy) text.
                let text = String::from_utf8_lossy(&b).into_owned();
                let toks = lexer::lex(&text);
                if toks.is_empty() {
                    continue;
                }
                let t = toks[rng.below(toks.len())];
                let u = toks[rng.below(toks.len())];
                let tok = |l: lexer::Lexeme| text[l.start..l.end].to_string();
                let mut s = text.clone();
                match rng.below(4) {
                    0 => s.replace_range(t.start..t.end, ""),
                    1 => s.insert_str(t.end, &format!(" {}", tok(t))),
                    2 => s.insert_str(t.start, &format!("{} ", VOCAB[rng.below(VOCAB.len())])),
                    _ => {
                        let (a, c) = if t.start <= u.start { (t, u) } else { (u, t) };
                        if a.end <= c.start {
                            s = format!(
                                "{}{}{}{}{}",
                                &text[..a.start],
                                tok(c),
                                &text[a.end..c.start],
                                tok(a),
                                &text[c.end..]
                            );
                        }
                    }
                }
                b = s.into_bytes();
            }
        }
    }
    String::from_utf8_lossy(&b).into_owned()
}

#[test]
fn mutations() {
    let n = total_cases() / 2;
    let seeds = seeds();
    let start = Instant::now();
    // ISF_FUZZ_SEED picks another mutation sequence (proptest's generators are seeded randomly).
    let seed = std::env::var("ISF_FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse::<u64>().ok())
        .unwrap_or(0x9E37_79B9_7F4A_7C15);
    let mut rng = Rng(seed | 1);
    let mut parsed_ok = 0usize;
    for i in 0..n {
        let seed = &seeds[i % seeds.len()];
        let text = mutate(seed, &mut rng);
        check(&text);
        if parser::parse_file(FileId(0), &text).diagnostics.is_empty() {
            parsed_ok += 1;
        }
    }
    // Every seed itself, and each truncated at about 40 places.
    let mut extra = 0;
    for s in &seeds {
        check(s);
        for cut in (0..s.len())
            .step_by((s.len() / 40).max(7))
            .filter(|&c| s.is_char_boundary(c))
        {
            check(&s[..cut]);
            extra += 1;
        }
    }
    println!(
        "robustness: {} mutation cases + {} truncations from {} seeds ({} still parse) in {:.1?}",
        n,
        extra,
        seeds.len(),
        parsed_ok,
        start.elapsed()
    );
}
