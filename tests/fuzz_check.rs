//! Fuzzing past the parser (issue 12): checking, lowering and REPL input never panic or
//! overflow the stack, every diagnostic is registered and located, rendering never fails, and
//! every case finishes in bounded time.
//!
//! Inputs: byte and token mutations of the snippet corpus, the examples and the stdlib, and
//! generated deep or long expressions (sums, products, brackets, signs, powers, conditionals,
//! lists, calls, blocks) around the nesting limit and far past it, placed in lets, neuron
//! fields and mechanism equations. Each case runs `check_text`; for a checked model it lowers
//! every neuron (`build_cell`) and prepares every experiment (`CellRunner::new`, duration cut
//! to one step); then the first lines of the case go through an in-process REPL session.
//!
//! The default run does 2,000 cases. For a long run:
//! `ISF_FUZZ_CASES=100000 cargo test --release --test fuzz_check -- --nocapture`
//! (prints the count, the slowest case and its time; `ISF_FUZZ_SEED` changes the inputs;
//! `ISF_FUZZ_LAST=path` writes each case there before running it, to replay an abort).

mod common;

use common::{CORPUS, Rng, isf_files};
use isf::diagnostics::{Code, render};
use isf::repl::Session;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Longest any one case may take (checking, lowering and the REPL together).
const CASE_LIMIT: Duration = Duration::from_secs(30);

fn total_cases() -> usize {
    std::env::var("ISF_FUZZ_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(2000)
}

/// A seed text with the directory its relative paths resolve against.
struct Seed {
    text: String,
    base: PathBuf,
}

fn seeds() -> Vec<Seed> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut v: Vec<Seed> = CORPUS
        .iter()
        .map(|s| Seed {
            text: s.to_string(),
            base: root.to_path_buf(),
        })
        .collect();
    for f in isf_files(&["examples", "stdlib"]) {
        if let Ok(text) = std::fs::read_to_string(&f) {
            let base = f.parent().unwrap_or(root).to_path_buf();
            v.push(Seed { text, base });
        }
    }
    v
}

/// Pieces spliced into mutated seeds.
#[rustfmt::skip]
const PIECES: &[&str] = &[
    "(", ")", "[", "]", "{", "}", ",", ":", ".", "..", "=", "+", "-", "*", "/", "^", "==", "<",
    "if ", " then ", " else ", "not ", " and ", " or ", "true", "1", "0", "-1", "1e308", "1e-308",
    "0.5", "3 mV", "1 ms", "2 um", "1 S/cm2", "degC", "x", "v", "m", "distance", "soma", "all",
    "\n", " ", "—", "é", "\u{0}", "\"", "//", "/*", "*/", "let ", "neuron ", "mechanism ",
    "experiment ", "state ", "parameter ", "current ", "derivative ", "gate ", "exp(", "log(",
    "min(", "max(", "sqrt(", "abs(",
];

/// Values the last mutation kind writes over digits, huge ones included: the resource limits
/// (E0418) must refuse what they would allocate.
const ODD_NUMBERS: &[&str] = &[
    "0",
    "-5",
    "0.0001",
    "7",
    "1e3",
    "1e9",
    "18446744073709551615",
    "1e300",
];

/// Mutate a seed; the flag tells whether a huge number was written in.
fn mutate(rng: &mut Rng, text: &str) -> (String, bool) {
    let mut b = text.as_bytes().to_vec();
    for _ in 0..1 + rng.below(4) {
        let at = rng.below(b.len() + 1);
        match rng.below(6) {
            0 if !b.is_empty() => {
                let end = (at + 1 + rng.below(20)).min(b.len());
                b.drain(at.min(end)..end);
            }
            1 => {
                let p = rng.pick(PIECES).as_bytes();
                b.splice(at..at, p.iter().copied());
            }
            2 if !b.is_empty() => {
                let i = rng.below(b.len());
                b[i] = rng.next() as u8;
            }
            3 if !b.is_empty() => {
                // Duplicate a stretch (repeats fields, blocks, operators).
                let end = (at + rng.below(200)).min(b.len());
                let s = b[at.min(end)..end].to_vec();
                b.splice(at..at, s);
            }
            4 => b.truncate(at),
            _ => {
                // Replace a number-like digit run with a large or odd value.
                if let Some(i) = b.iter().skip(at).position(u8::is_ascii_digit) {
                    let i = at + i;
                    let v = rng.pick(ODD_NUMBERS);
                    b.splice(i..i + 1, v.bytes());
                }
            }
        }
    }
    let out = String::from_utf8_lossy(&b).into_owned();
    let huge = has_new_huge_number(text, &out);
    (out, huge)
}

/// True when the mutated text has a number above 1e5 that the seed does not have (digits
/// pasted next to digits, an exponent byte changed). Such values ask for huge counts
/// (`cm: 18446744073709551615 uF/cm2` asks the d-lambda rule for billions of compartments);
/// they run like every case (the resource limits refuse them) and are counted for the report.
fn has_new_huge_number(seed: &str, text: &str) -> bool {
    let is_num = |c: char| c.is_ascii_digit() || matches!(c, '.' | 'e' | 'E' | '+' | '-');
    text.split(|c: char| !is_num(c))
        .filter(|w| w.starts_with(|c: char| c.is_ascii_digit()))
        .any(|w| {
            let w = w.trim_end_matches(['+', '-', 'e', 'E', '.']);
            let big = w.parse::<f64>().map_or(w.len() > 5, |v| v.abs() > 1e5);
            big && !seed.contains(w)
        })
}

/// A deep or long expression of `n` levels.
fn deep_expr(rng: &mut Rng, n: usize) -> String {
    match rng.below(9) {
        0 => vec!["1 mV"; n.max(1)].join(" + "),
        1 => vec!["x"; n.max(1)].join(*rng.pick(&[" * ", " - ", " / ", " and ", " < "])),
        2 => format!("{}1{}", "(".repeat(n), ")".repeat(n)),
        3 => format!("{}1", rng.pick(&["-", "not ", "- "]).repeat(n)),
        4 => format!("{}2", "2^".repeat(n)),
        5 => format!("{}1{}", "if true then ".repeat(n), " else 2".repeat(n)),
        6 => format!("{}1{}", "[".repeat(n), "]".repeat(n)),
        7 => format!("{}1{}", "exp(".repeat(n), ")".repeat(n)),
        _ => {
            // Mixed: brackets around sums around signs.
            let mut s = String::from("v");
            for i in 0..n {
                s = match i % 4 {
                    0 => format!("({s})"),
                    1 => format!("{s} + 1"),
                    2 => format!("-{s}"),
                    _ => format!("{s} * v"),
                };
            }
            s
        }
    }
}

fn deep_case(rng: &mut Rng) -> String {
    let n = match rng.below(4) {
        0 => 240 + rng.below(30),
        1 => rng.below(100),
        2 => rng.below(3000),
        _ => rng.below(20_000),
    };
    let e = deep_expr(rng, n);
    match rng.below(4) {
        0 => format!("let x = {e}\nlet y = x\n"),
        1 => format!(
            "mechanism M : density {{\n  state m\n  parameter g: S/cm2 = 1 S/cm2\n  \
             derivative m = ({e}) / 1 ms\n  current i = g * m * (v - 0 mV)\n}}\n"
        ),
        2 => format!(
            "neuron A {{\n  morphology: swc(\"cells/l5pt_simple.swc\")\n  soma {{ Ra: {e} }}\n}}\n"
        ),
        _ => format!("{}\n{}", "b {".repeat(n.min(400)), "}".repeat(n.min(400))),
    }
}

/// Run one case; panics on a violation. Returns how long it took.
fn run_case(text: &str, base: &Path) -> Duration {
    let start = Instant::now();
    let checked = isf::validate::check_text("fuzz.isf", text, base);
    for d in &checked.diagnostics {
        assert!(Code::ALL.contains(&d.code), "unknown code {d:?}");
        let span = d.primary_span().unwrap_or_else(|| panic!("no span: {d:?}"));
        let src = checked.sources.get(span.file);
        assert!(
            span.start <= span.end && span.end as usize <= src.text.len(),
            "span outside its file: {d:?}"
        );
    }
    let _ = render::human_all(&checked.diagnostics, &checked.sources, false);
    if !checked.has_errors() {
        let model = &checked.model;
        for n in &model.neurons {
            let _ = isf::lower::cell::build_cell(n, &model.mechanisms);
        }
        for e in &model.experiments {
            let mut e = e.clone();
            e.duration_ms = e.dt_ms;
            let _ = isf::run::cellsim::CellRunner::new(model, &e);
        }
    }
    let mut session = Session::new(base, false);
    for line in text.lines().take(8) {
        // Commands (`:run`, `:db`, `:load`) act outside the input; only isf lines here.
        if !line.trim_start().starts_with(':') {
            let _ = session.handle(line);
        }
    }
    let took = start.elapsed();
    assert!(took < CASE_LIMIT, "case took {took:?}");
    took
}

#[test]
fn check_lower_and_repl_survive_mutations_and_deep_expressions() {
    let seeds = seeds();
    let total = total_cases();
    let seed = std::env::var("ISF_FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x1512_2026_u64);
    let start = Instant::now();
    let mut slowest = (Duration::ZERO, 0usize, String::new());
    let mut skipped = 0usize;
    for case in 0..total {
        let mut rng = Rng(seed ^ (case as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15));
        let (text, base, huge) = if rng.below(5) == 0 {
            let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
            (deep_case(&mut rng), root.join("examples"), false)
        } else {
            let s = rng.pick(&seeds);
            let (text, huge) = mutate(&mut rng, &s.text);
            (text, s.base.clone(), huge)
        };
        if let Ok(path) = std::env::var("ISF_FUZZ_LAST") {
            // An abort (stack overflow) cannot be caught: leave the input behind to replay.
            let _ = std::fs::write(&path, format!("{case}\n{}\n{text}", base.display()));
        }
        // Mutations that write in huge numbers run too: the resource limits (E0418) refuse
        // them before anything is allocated. They are counted for the report.
        if huge {
            skipped += 1;
        }
        let r = std::panic::catch_unwind(|| run_case(&text, &base));
        match r {
            Ok(took) => {
                if took > slowest.0 {
                    slowest = (took, case, text.chars().take(300).collect());
                }
            }
            Err(_) => panic!("case {case} failed on {:?}", text),
        }
        if total >= 10_000 && case % 10_000 == 9_999 {
            println!("fuzz_check: {} cases in {:.0?}", case + 1, start.elapsed());
        }
    }
    println!(
        "fuzz_check: {total} cases run ({skipped} with new huge numbers), 0 crashes, \
         in {:.1?}; slowest case #{} took {:.2?}: {:?}",
        start.elapsed(),
        slowest.1,
        slowest.0,
        slowest.2
    );
}
