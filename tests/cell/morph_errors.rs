//! Located errors of the morphology and `.param` readers: one case per code, plus a
//! property test that random mutations of a real `.hoc` file never panic.

use crate::common;

use isf::diagnostics::Code;
use isf::interop::formats::param::{cell_params, parse_param};
use isf::morph::{Discretization, LabelPassive, MorphError, discretize, geometry, hoc, swc};
use proptest::prelude::*;
use std::path::PathBuf;

const SOMA: &str = "{create soma}\n{pt3dadd(0, 0, 0, 10)}\n{pt3dadd(0, 0, 10, 10)}\n";

fn hoc_err(text: &str) -> MorphError {
    hoc::read_hoc_str(text, "t.hoc").expect_err("must be rejected")
}

fn swc_err(text: &str) -> MorphError {
    swc::read_swc_str(text, "t.swc").expect_err("must be rejected")
}

/// Assert code, line and column.
fn at(e: &MorphError, code: Code, line: usize, column: usize) {
    assert_eq!(
        (e.code, e.line, e.column),
        (code, line, column),
        "unexpected error: {e}"
    );
}

#[test]
fn e0701_unreadable_file() {
    let e = hoc::read_hoc_file(std::path::Path::new("/nonexistent/cell.hoc")).expect_err("no file");
    at(&e, Code::E0701, 0, 0);
    let e = isf::morph::Morphology::read(std::path::Path::new("cell.txt")).expect_err("ext");
    assert_eq!(e.code, Code::E0701);
}

#[test]
fn e0702_malformed_statement() {
    let e = hoc_err(&format!(
        "{SOMA}{{create dend}}\n{{connect dend(0) soma(0.5)}}\n"
    ));
    at(&e, Code::E0702, 5, 18);
    let e = hoc_err("{pt3dadd(0, 0, 0, 1)}\n{create soma}\n");
    at(&e, Code::E0702, 1, 2);
    let e = hoc_err(&format!("{SOMA}{{create soma}}\n"));
    at(&e, Code::E0702, 4, 9);
}

#[test]
fn e0703_bad_number() {
    let e = hoc_err("{create soma}\n{pt3dadd(0, 1.2.3, 0, 10)}\n");
    at(&e, Code::E0703, 2, 13);
    let e = swc_err("1 1 0 0 zero 5 -1\n");
    at(&e, Code::E0703, 1, 9);
}

#[test]
fn e0704_unknown_section() {
    let e = hoc_err(&format!(
        "{SOMA}{{create dend}}\n{{connect dend(0), somma(0.5)}}\n"
    ));
    at(&e, Code::E0704, 5, 19);
    assert!(e.message.contains("did you mean `soma`"), "{}", e.message);
    let e = hoc_err(&format!("{SOMA}{{access dend}}\n"));
    at(&e, Code::E0704, 4, 9);
}

#[test]
fn e0705_cycle() {
    let t = format!(
        "{SOMA}{{create dend_a}}\n{{create dend_b}}\n{{connect dend_a(0), dend_b(1)}}\n\
         {{connect dend_b(0), dend_a(1)}}\n{{access dend_a}}\n{{pt3dadd(0,0,0,1)}}\n\
         {{pt3dadd(0,0,5,1)}}\n{{access dend_b}}\n{{pt3dadd(0,0,0,1)}}\n{{pt3dadd(0,0,5,1)}}\n"
    );
    let e = hoc_err(&t);
    at(&e, Code::E0705, 4, 0);
    let e = swc_err("1 1 0 0 0 5 -1\n2 3 0 1 0 1 3\n3 3 0 2 0 1 2\n");
    at(&e, Code::E0705, 2, 13);
}

#[test]
fn e0706_disconnected() {
    let e = hoc_err(&format!(
        "{SOMA}{{create dend}}\n{{pt3dadd(0,0,0,1)}}\n{{pt3dadd(0,0,5,1)}}\n"
    ));
    at(&e, Code::E0706, 4, 0);
    let e = swc_err("1 1 0 0 0 5 -1\n2 3 0 1 0 1 -1\n");
    at(&e, Code::E0706, 2, 13);
}

#[test]
fn e0707_nonpositive_diameter() {
    let e = hoc_err("{create soma}\n{pt3dadd(0, 0, 0, 0)}\n");
    at(&e, Code::E0707, 2, 19);
    let e = swc_err("1 1 0 0 0 -5 -1\n");
    at(&e, Code::E0707, 1, 11);
}

#[test]
fn e0708_truncated() {
    let e = hoc_err("{create soma}\n{pt3dadd(0, 0, 0, 10)}\n{pt3dadd(0, 0, 1");
    at(&e, Code::E0708, 3, 17);
    let e = hoc_err(&format!("{SOMA}{{create dend}}\n"));
    at(&e, Code::E0708, 4, 0);
    let e = hoc_err(&format!("{SOMA}/* unfinished"));
    at(&e, Code::E0708, 4, 1);
}

#[test]
fn e0709_malformed_swc_line() {
    let e = swc_err("# c\n1 1 0 0 0\n");
    at(&e, Code::E0709, 2, 1);
}

#[test]
fn e0710_swc_parent_missing() {
    let e = swc_err("1 1 0 0 0 5 -1\n2 3 0 1 0 1 7\n");
    at(&e, Code::E0710, 2, 13);
}

#[test]
fn e0711_no_sections() {
    at(&hoc_err("\n// nothing here\n"), Code::E0711, 0, 0);
    at(&swc_err("# only comments\n"), Code::E0711, 0, 0);
}

#[test]
fn e0712_no_soma() {
    let e = hoc_err("{create dend}\n{pt3dadd(0,0,0,1)}\n{pt3dadd(0,0,5,1)}\n");
    at(&e, Code::E0712, 0, 0);
    let e = swc_err("1 3 0 0 0 1 -1\n");
    at(&e, Code::E0712, 1, 1);
}

#[test]
fn e0713_unknown_label() {
    let e = hoc_err(&format!("{SOMA}{{create trunk_1}}\n"));
    at(&e, Code::E0713, 4, 9);
    let e = hoc_err(&format!("{SOMA}{{create my_apical_dend}}\n"));
    at(&e, Code::E0713, 4, 9);
    let e = swc_err("1 1 0 0 0 5 -1\n2 9 0 1 0 1 1\n");
    at(&e, Code::E0713, 2, 1);
}

#[test]
fn e0714_too_few_points() {
    let e = hoc_err(
        "{create soma}\n{pt3dadd(0,0,0,10)}\n{create dend}\n{connect dend(0), soma(1)}\n\
                     {pt3dadd(0,0,0,1)}\n{pt3dadd(0,0,5,1)}\n",
    );
    at(&e, Code::E0714, 1, 0);
}

#[test]
fn e0715_zero_length() {
    let e = hoc_err("{create soma}\n{pt3dadd(1,2,3,10)}\n{pt3dadd(1,2,3,10)}\n");
    at(&e, Code::E0715, 1, 0);
}

#[test]
fn e0716_unsupported_statement() {
    let e = hoc_err(&format!("{SOMA}{{define_shape()}}\n"));
    at(&e, Code::E0716, 4, 2);
    let e = hoc_err(&format!(
        "{SOMA}{{create dend}}\n{{connect dend(1), soma(0.5)}}\n"
    ));
    at(&e, Code::E0716, 5, 15);
}

#[test]
fn e08xx_param_errors() {
    let e =
        isf::interop::formats::param::read_param_file(std::path::Path::new("/nonexistent.param"))
            .expect_err("missing file");
    assert_eq!(e.code, Code::E0801);
    let e = parse_param("{\n 'a': [1, 2\n}", "p.param").expect_err("bad list");
    assert_eq!((e.code, e.line, e.column), (Code::E0802, 3, 1));
    let root = parse_param("{'info': {}}", "p.param").expect("parses");
    let e = cell_params(&root, "p.param").expect_err("no neuron");
    assert_eq!(e.code, Code::E0804);
    let root =
        parse_param("{'neuron': {'discretization': {'f': 100}}}", "p.param").expect("parses");
    let e = cell_params(&root, "p.param").expect_err("incomplete discretization");
    assert_eq!((e.code, e.line, e.column), (Code::E0804, 1, 31));
    let root = parse_param(
        "{'neuron': {'Soma': {'properties': {'Ra': 'x'}}}}",
        "p.param",
    )
    .expect("parses");
    let e = cell_params(&root, "p.param").expect_err("Ra must be a number");
    assert_eq!((e.code, e.line, e.column), (Code::E0802, 1, 43));
}

#[test]
fn cli_error_has_code_location_and_exit_1() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let dir = tmp.path();
    let f = dir.join("bad.hoc");
    std::fs::write(&f, "{create soma}\n{pt3dadd(0, 0, 0, -1)}\n").expect("write");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_isf"))
        .arg("morph")
        .arg(&f)
        .output()
        .expect("run isf");
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("E0707"), "{err}");
    assert!(err.contains("bad.hoc:2:19"), "{err}");
}

/// The real `.hoc` text if available, else a small stand-in.
fn sample_hoc() -> String {
    let dir = std::env::var_os("ISF_CONFORMANCE")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/conformance"));
    let real = dir.join("inputs/86_C2_center.hoc");
    match std::fs::read_to_string(&real) {
        // Keep the first ~2000 lines (soma and several dendrites) so 500+ cases stay fast.
        Ok(t) => t.lines().take(2000).collect::<Vec<_>>().join("\n"),
        Err(_) => {
            eprintln!(
                "note: {} not found; fuzzing a small stand-in",
                real.display()
            );
            format!(
                "{SOMA}{{create dend_1}}\n{{connect dend_1(0), soma(0.3)}}\n{{access dend_1}}\n\
                 {{nseg = 1}}\n{{pt3dclear()}}\n{{pt3dadd(0, 1, 10, 1.5)}}\n{{pt3dadd(0, 9, 30, 1.0)}}\n\
                 {{create apical_1}}\n{{connect apical_1(0), soma(1)}}\n\
                 {{pt3dadd(0, 0, 10, 3)}}\n{{pt3dadd(0, 0, 200, 2)}}\n"
            )
        }
    }
}

/// A mutation of the text: truncation, deletion, insertion or replacement.
#[derive(Clone, Debug)]
enum Mutation {
    Truncate(usize),
    Delete(usize, usize),
    Insert(usize, String),
    Replace(usize, char),
}

fn apply(text: &str, muts: &[Mutation]) -> String {
    let mut chars: Vec<char> = text.chars().collect();
    for m in muts {
        let n = chars.len().max(1);
        match m {
            Mutation::Truncate(p) => chars.truncate(p % n),
            Mutation::Delete(p, len) => {
                let s = p % n;
                let e = (s + len).min(chars.len());
                if s < e {
                    chars.drain(s..e);
                }
            }
            Mutation::Insert(p, s) => {
                let at = (p % n).min(chars.len());
                chars.splice(at..at, s.chars());
            }
            Mutation::Replace(p, c) => {
                if !chars.is_empty() {
                    let i = p % chars.len();
                    chars[i] = *c;
                }
            }
        }
    }
    chars.into_iter().collect()
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        any::<usize>().prop_map(Mutation::Truncate),
        (any::<usize>(), 1usize..200).prop_map(|(p, l)| Mutation::Delete(p, l)),
        (
            any::<usize>(),
            prop::sample::select(vec![
                "{",
                "}",
                "(",
                ")",
                ",",
                "0",
                "-",
                "e9",
                "1e400",
                "/*",
                "//",
                "nan",
                "create soma",
                "connect dend_1_0(0), soma(1)",
                "pt3dadd(",
                "pt3dclear()",
                "access",
                "é",
                "\n",
                "0.0)}",
                "{create apical_9}",
                "inf",
                ";",
                "soma {",
            ])
            .prop_map(str::to_string)
        )
            .prop_map(|(p, s)| Mutation::Insert(p, s)),
        (any::<usize>(), any::<char>()).prop_map(|(p, c)| Mutation::Replace(p, c)),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 600, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn mutated_hoc_never_panics(muts in prop::collection::vec(mutation(), 1..4)) {
        let text = apply(&SAMPLE.with(|s| s.clone()), &muts);
        match hoc::read_hoc_str(&text, "fuzz.hoc") {
            Ok(mut m) => {
                m.add_hay2013_axon();
                let passive = LabelPassive::default();
                let nseg = discretize(&m, &Discretization::default(), &passive);
                let geo = geometry(&m, &nseg, &passive);
                prop_assert_eq!(geo.sections.len(), m.sections.len());
            }
            Err(e) => {
                prop_assert!(e.code.as_str().starts_with("E07"), "{}", e);
                prop_assert!(!e.message.is_empty());
            }
        }
    }
}

thread_local! {
    static SAMPLE: String = sample_hoc();
}

#[test]
fn truncations_of_the_full_real_file_give_located_errors() {
    let dir = std::env::var_os("ISF_CONFORMANCE")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/conformance"));
    let hoc = dir.join("inputs/86_C2_center.hoc");
    if !common::skip::require_data("conformance data", &[&hoc]) {
        return;
    }
    let text = std::fs::read_to_string(&hoc).expect("conformance .hoc readable");
    let mut codes = std::collections::BTreeMap::new();
    for k in 1..150 {
        // a prime stride spreads the cut points over all kinds of positions
        let mut cut = (k * text.len()) / 150 + k * 7;
        while !text.is_char_boundary(cut.min(text.len())) {
            cut += 1;
        }
        match hoc::read_hoc_str(&text[..cut.min(text.len())], "cut.hoc") {
            Ok(m) => assert!(!m.sections.is_empty()),
            Err(e) => {
                assert!(e.code.as_str().starts_with("E07"), "{e}");
                assert!(e.line > 0, "truncation error without a line: {e}");
                *codes.entry(e.code.as_str()).or_insert(0) += 1;
            }
        }
    }
    eprintln!("error codes for 149 truncations: {codes:?}");
}
