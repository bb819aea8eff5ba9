//! Shared test helpers: the snippet corpus covering every grammar construct, file discovery,
//! a span-insensitive AST comparison, loud skips ([`skip`]) for tests whose inputs are
//! missing, the built binary ([`cli`]), and the small example cells the end-to-end tests run.
//! Every stage's test binary includes this module (`tests/STAGE/main.rs`).
#![allow(dead_code)]

pub mod cli;
pub mod conformance;
pub mod python;
pub mod skip;
pub mod synth;
pub mod table;

use isf::source::FileId;
use isf::syntax::ast::File;
use isf::syntax::parser::parse_file;
use serde_json::Value;
use std::path::{Path, PathBuf};

/// Snippets covering every grammar construct (all parse without diagnostics).
pub const CORPUS: &[&str] = &[
    // imports of all forms
    "import std.channels.hay2011.*\nimport std.synapses.{glutamate, gaba}\nimport std.cells\nimport std.cells as c\nimport \"other.isf\" as other\nimport \"x.isf\"\nimport a.{b,}\n",
    // let with and without unit annotations
    "let x = 3 mV\nlet y: mV = -70 mV\nlet z: 1 = 0.5\nlet g: S/cm2 = 3.26e-5 S/cm2\nlet r: ohm*cm = 100 ohm*cm\nlet k: m^-2 = 2 m^-2\nlet w: kg*m^2/s^3/A = 1 kg*m^2/s^3/A\n",
    // all declaration kinds
    "neuron A {}\nnetwork N { cells: [A, A] }\nexperiment E { duration: 100 ms }\nmechanism M : density { gate m { inf: 1, tau: 1 ms } }\nmechanism P : point {}\nneuron X = isf_param(\"x.param\")\nneuron Y = load(\"a\", scale: 2)\nnetwork Z : big = f()\n",
    // sub-blocks with names, statements, sweeps, expression entries
    r#"
neuron L5PT {
  morphology: swc("cells/l5pt.swc")
  soma { Ra: 100 ohm*cm, pas { g: 3.26e-5 S/cm2, e: -90 mV } }
  receptor glutamate { tau: 2 ms }
  let local = 3
  parameter gbar: S/cm2 = 1e-5 S/cm2
  parameter a, b: mV, c = 1, d: 1 = 2
  state m, h
  current ina = gbar * m^3 * h * (v - ena)
  assigned x
  constant k = 2
  L2.*.glutamate.tau in [40 ms, 50 ms]
  * in [1, 2]
  tau in 1 ms .. 5 ms by 1 ms
  spikes(soma, threshold: 0 mV)
  record(v)
}
"#,
    // operators and precedence
    "let a = -x^2\nlet b = 2^-1\nlet c = not a and b or c\nlet d = a < b\nlet e = a <= b == (c >= d) != (e > f)\nlet f = 1 + 2 * 3 - 4 / 5\nlet g = (1 + 2) * 3\nlet h = 2^3^2\nlet i = (2^3)^2\nlet j = - -x\nlet k = not not x\nlet l = -(x + 1)\nlet m = (-x)^2\nlet n = 1 - (2 - 3)\nlet o = a / (b * c)\nlet p = 2^-x * y\nlet q = 3 mV ^ 2\nlet r = (3 mV)^2\nlet s = a - -b\n",
    // if, ranges, calls, member, index, lists, tuples, records
    "let a = if x > 0 then 1 else 2\nlet b = if a then if b then 1 else 2 else 3\nlet c = 1 .. 10\nlet d = 0 ms .. 100 ms by 0.5 ms\nlet e = f(1, 2, name: \"x\")\nlet f = a.b.c\nlet g = a[0][1]\nlet h = [1, 2, 3]\nlet i = []\nlet j = (a,)\nlet k = (a, b)\nlet l = ()\nlet m = { a: 1, b: \"two\" }\nlet n = {}\nlet o = f(x)(y).z[0]\nlet p = (if a then b else c) + 1\nlet q = x + if a then b else c\nlet r = [1, 2,]\nlet s = f(a, b,)\nlet t = (1 .. 2)\nlet u = 1.5 .x\nlet v = 3 mV.x\nlet w = (a + b).c\nlet x = true or false\nlet y = a .. b by if c then d else e\n",
    // strings with escapes
    r#"let s = "a\"b\\c\nd\te\rf\0g\u{B5}h µ"
let t = ""
import "dir/with \"quote\".isf"
"#,
    // comments everywhere
    r#"// header comment

/* block
   comment */
import std.x.* // trailing import
// before let
let a = [1, // one
  2 /* two */, 3]
neuron A { // opening
  // leading
  soma { // soma opening
    g: 1 // g
    /* lead e */ e: 2
  } // after soma

  // after blank
  state m // the state
  x: f(1, /* inside call */ 2)
  // dangling at end
} // after A
neuron /* in header */ B { x: 1 }
neuron C {
  // only a comment
}
let b = 2 /* one */ /* two */ // three
// final comment
"#,
    // entries that need separators
    "neuron A {\n  x: a, (b)\n  y: c, [1]\n  z: d, -1\n  foo, bar {}\n  baz, { a: 1 }\n  parameter, q\n  state m, { a: 1 }\n  state n, (1)\n  current i = 1, (2)\n}\n",
    // unicode names and units
    "let µ = 1 µm\nlet Ω = 2 Mohm\nlet r = 3 MΩ\n",
    // nested blocks and long blocks
    "experiment Sweep {\n  cell: L5PT\n  stimulus { kind: \"ramp\", amplitude: 0.1 nA .. 1 nA by 0.1 nA, duration: 100 ms, delay: 10 ms, name: \"a long name to make the line long\" }\n  net { a { b { c { d: 1 } } } }\n}\n",
    // comments inside expressions, statements, imports, headers and empty files
    "import std.{a, // first\n b /* second */}\nneuron A {\n  parameter a /* a */, b = 1 // b\n  x.*/*w*/.y in [1 /* one */]\n  r: { a: 1, // a\n b: 2 }\n  sub /* name */ n /* brace */ { /* open */ /* again */ x: 1 /* x */ }\n}\n",
    "",
    "// only a comment",
    "/* a */ /* b */ let x = 1 /* c */\n\n\n/* d */\n",
    "neuron A { /* open */ }\nneuron B {\n\n  // first\n\n  x: 1\n\n  // last\n\n}\n",
    // derivative statements and field names that are reserved words
    "mechanism Pool : pool {\n  state cai\n  derivative cai = -ica / decay\n}\nexperiment E {\n  neuron: L5PT\n  network: C2\n  x: a\n  and: 1\n  y: 1 .. 2\n  by: 3\n  m\n  in: 4\n}\n",
    // a long if/then/else is broken over three lines; a lone long field stays on one line
    "mechanism Ih : density {\n  gate m {\n    tau: if u < -50 mV then (1.25 ms + 175.03 ms * exp(0.026 mV^-1 * u)) / qt else (1.25 ms + 13 ms * exp(-0.026 mV^-1 * u)) / qt // c\n  }\n  Ih { gbar: 0.0002 S/cm2 * (-0.8696 + 2.087 * exp(3.6161 * relative_distance)) }\n}\nlet x = if aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa then bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb else ccccccccccccccccccccccccccccccc\n",
    // separators around operator-like words (the grammar has no word boundary there)
    "neuron A {\n  x: a, order: 1\n  m, inf: 2\n  r: 1 .. 2, bypass: 3\n  s: b, android: 4\n  t: 1, inner: 5\n  u: 1 .. 2 by 1\n  byte: 6\n}\n",
    // blank lines and comments between items and entries
    "let a = 1\n\n\n\nlet b = 2\nlet c = 3\n\n// c\n\nlet d = 4\nneuron A {\n\n  a: 1\n\n\n  b: 2\n}\n",
];

/// Parse, asserting there are no diagnostics.
pub fn parse_ok(src: &str) -> File {
    let r = parse_file(FileId(0), src);
    assert!(
        r.diagnostics.is_empty(),
        "does not parse:\n{src}\n{:#?}",
        r.diagnostics
    );
    r.file
}

/// The AST as JSON with every span removed (keys `span`, `*_span`, span-shaped values) and
/// without the comment list.
pub fn strip(file: &File) -> Value {
    let mut v = serde_json::to_value(&file.items).expect("serialize");
    strip_value(&mut v);
    v
}

fn is_span(v: &Value) -> bool {
    match v {
        Value::Object(m) => {
            m.len() == 3
                && m.contains_key("file")
                && m.contains_key("start")
                && m.contains_key("end")
        }
        _ => false,
    }
}

fn strip_value(v: &mut Value) {
    match v {
        Value::Object(m) => {
            m.retain(|k, _| k != "span" && !k.ends_with("_span"));
            for (_, x) in m.iter_mut() {
                if is_span(x) {
                    *x = Value::Null;
                } else {
                    strip_value(x);
                }
            }
        }
        Value::Array(a) => {
            for x in a.iter_mut() {
                if is_span(x) {
                    *x = Value::Null;
                } else {
                    strip_value(x);
                }
            }
        }
        _ => {}
    }
}

/// Every `.isf` file under the given directories of the crate (recursively; missing ones skipped).
pub fn isf_files(dirs: &[&str]) -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut out = Vec::new();
    for d in dirs {
        walk(&root.join(d), &mut out);
    }
    out.sort();
    out
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    for e in rd.flatten() {
        let p = e.path();
        if p.is_dir() {
            walk(&p, out);
        } else if p.extension().is_some_and(|x| x == "isf") {
            out.push(p);
        }
    }
}

/// A small deterministic PRNG (xorshift64*) for the mutation and fuzz tests, so they need no
/// extra crates and a seed replays a case.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    /// Uniform in `0..n` (0 when `n` is 0).
    pub fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }
    pub fn pick<'a, T>(&mut self, xs: &'a [T]) -> &'a T {
        &xs[self.below(xs.len())]
    }
}

/// Trial 0 of sweep point `point` with `seed`: the first recorded trace.
pub fn first_trace(runner: &isf::run::cellsim::CellRunner, point: u64, seed: u64) -> Vec<f64> {
    use isf::run::exec::TrialRunner;
    let item = isf::run::WorkItem {
        index: point,
        point,
        trial: 0,
        seed,
    };
    let out = runner.run(&item, &[]).expect("trial runs");
    out.traces.into_iter().next().expect("a trace").1
}

/// A path under the package root.
pub fn repo_path(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

/// The example cell's morphology, `examples/cells/l5pt_simple.swc`, as an absolute path.
pub fn example_swc() -> PathBuf {
    repo_path("examples/cells/l5pt_simple.swc")
}

/// `import std.channels.hay2011.{pas}` and a passive `neuron Cell` (Ra 100 ohm*cm, cm 1
/// uF/cm2, pas g 5e-5 S/cm2, e -70 mV) on the example morphology, `fixed(nseg)` per section;
/// the morphology path is absolute, so the script may be written anywhere.
pub fn passive_cell(nseg: u32) -> String {
    format!(
        r#"import std.channels.hay2011.{{pas}}
neuron Cell {{
    morphology: swc("{}")
    discretization: fixed({nseg})
    all {{
        Ra: 100 ohm*cm
        cm: 1 uF/cm2
        pas {{ g: 5e-5 S/cm2, e: -70 mV }}
    }}
}}
"#,
        example_swc().display()
    )
}

/// The neuron part of `examples/quickstart.isf` (all before its experiment), its morphology
/// path made absolute, so a script written anywhere can add its own experiment.
pub fn quickstart_neuron() -> String {
    let q = std::fs::read_to_string(repo_path("examples/quickstart.isf")).unwrap();
    let neuron_end = q.find("experiment quickstart").unwrap();
    q[..neuron_end].replace(
        "cells/l5pt_simple.swc",
        &example_swc().display().to_string(),
    )
}

/// A fresh temporary directory and its path; the directory is removed when the guard drops.
pub fn temp_dir() -> (tempfile::TempDir, PathBuf) {
    let t = tempfile::tempdir().expect("temp dir");
    let p = t.path().to_path_buf();
    (t, p)
}

/// Every diagnostic of a check, rendered as plain text (for assertion messages).
pub fn rendered(checked: &isf::sema::Checked) -> String {
    checked
        .diagnostics
        .iter()
        .map(|d| isf::diagnostics::render::plain(d, &checked.sources))
        .collect()
}

/// The entry named `name` of a trial's named outputs (`TrialOutput::traces`, `events` or
/// `tables`); panics naming it when it is absent.
pub fn named<'a, T>(list: &'a [(String, T)], name: &str) -> &'a T {
    &list
        .iter()
        .find(|(n, _)| n == name)
        .unwrap_or_else(|| {
            panic!(
                "no {name} among {:?}",
                list.iter().map(|e| &e.0).collect::<Vec<_>>()
            )
        })
        .1
}

/// A JSON array of numbers (a reference file's column); panics when it is not one.
pub fn f64s(v: &Value) -> Vec<f64> {
    v.as_array()
        .expect("a JSON array")
        .iter()
        .map(|x| x.as_f64().expect("a number"))
        .collect()
}

/// Every key of a store with its value (a table's columns, a plain value's msgpack), sorted:
/// two stores with equal contents compare equal whatever their write times and hosts.
pub fn store_contents(store: &Path) -> Vec<(String, String)> {
    let s = isf::store::Store::open(store).unwrap();
    let mut v = Vec::new();
    for k in s.keys_recursive().unwrap() {
        let val = match s.get_table(&k) {
            Ok(t) => format!("{:?}", t.columns),
            Err(_) => match s.get_value(&k) {
                Ok(x) => format!("{x:?}"),
                Err(_) => continue, // sub-stores
            },
        };
        v.push((k, val));
    }
    v.sort();
    v
}

/// A run of [`quickstart_neuron`] with `experiment` (an `experiment small {…}` block) made
/// in a fresh directory `$TMPDIR/PREFIX-PID`: (directory, script `small.isf`, store
/// `small.isfdb`). For the fixture a file's tests share; `prefix` names the file.
pub fn quickstart_run(prefix: &str, experiment: &str) -> (PathBuf, PathBuf, PathBuf) {
    let dir = std::env::temp_dir().join(format!("{prefix}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let script = dir.join("small.isf");
    std::fs::write(&script, format!("{}{experiment}", quickstart_neuron())).unwrap();
    let store = dir.join("small.isfdb");
    let (c, out, err) = cli::run(&[
        "run",
        script.to_str().unwrap(),
        "--out",
        store.to_str().unwrap(),
    ]);
    assert_eq!(c, 0, "isf run failed:\n{out}\n{err}");
    (dir, script, store)
}
