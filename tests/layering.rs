//! The phases depend one way (issue 18): every module of `src/` belongs to a layer, and a
//! module may import only from its own layer or a layer below it. No two modules (files) may
//! import each other, directly or around a circle.
//!
//! The rule — layers from the bottom up (`ARCHITECTURE.md`, "Layers", states the same):
//!
//!  1. `source`
//!  2. `diagnostics`
//!  3. base: `units`, `files`, `rules`, `rng`, `stdlib`
//!  4. `store`
//!  5. `morph`
//!  6. `sim`
//!  7. `interop::formats` (readers of ISF's files)
//!  8. `syntax`
//!  9. `interop::cell_param` (ISF cell `.param` → isf text; the checker runs it)
//! 10. `model` (the checked, lowered model: expressions, sweep targets)
//! 11. `network` (typed networks, receptors, placement, per-trial input)
//! 12. `interop::network_param`, `interop::to_isf`, `interop::replay`
//! 13. `sema` (the checker)
//! 14. `lower`
//! 15. `kernel`
//! 16. `validate` (the checks that need a lowered cell or a compiled synapse)
//! 17. `run`
//! 18. `interop::simrun_import`, `interop` (ISF result import)
//! 19. `analysis`, `plot`, `mapper`, `reduce`
//! 20. `cli` (the commands)
//! 21. `repl`
//! 22. `app` (argument parsing and dispatch: the commands and the REPL)
//!
//! Besides the order, the kernel compiles lowered expressions and knows neither the syntax
//! tree nor networks: `kernel` must not import `syntax` or `network`.
//!
//! Imports are read from the source text: every `crate::…` path (in `use` lines, grouped
//! `use crate::{a, b::c}` included, and in paths inside code) and every `super::…` path,
//! resolved against the inline `mod` blocks it sits in. Comments and string literals are
//! skipped. A path names the longest module that is a file of `src/`. Edges between a module
//! and its own ancestor folder (`mod.rs` re-exports) count for the layer rule but not for
//! circles.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Layers from the bottom up: (name, module path prefixes). A module belongs to the layer of
/// its longest matching prefix.
const LAYERS: &[(&str, &[&str])] = &[
    ("source", &["source"]),
    ("diagnostics", &["diagnostics"]),
    ("base", &["units", "files", "rules", "rng", "stdlib"]),
    ("store", &["store"]),
    ("morph", &["morph"]),
    ("sim", &["sim"]),
    ("ISF file formats", &["interop::formats"]),
    ("syntax", &["syntax"]),
    ("ISF cell converter", &["interop::cell_param"]),
    ("model", &["model"]),
    ("network", &["network"]),
    (
        "ISF network interop",
        &[
            "interop::network_param",
            "interop::to_isf",
            "interop::replay",
        ],
    ),
    ("sema", &["sema"]),
    ("lower", &["lower"]),
    ("kernel", &["kernel"]),
    ("validate", &["validate"]),
    ("run", &["run"]),
    ("ISF import", &["interop::simrun_import", "interop"]),
    ("results", &["analysis", "plot", "mapper", "reduce"]),
    ("cli", &["cli"]),
    ("repl", &["repl"]),
    ("app", &["app", ""]),
];

/// Imports forbidden although the order allows them: (from prefix, to prefix, why).
const FORBIDDEN: &[(&str, &str, &str)] = &[
    (
        "kernel",
        "syntax",
        "the kernel compiles lowered expressions (model::ex), not the syntax tree",
    ),
    (
        "kernel",
        "network",
        "networks meet the kernel in run::receptors",
    ),
];

fn src_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .expect("src/ is readable")
        .map(|e| e.expect("dir entry").path())
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|e| e == "rs") {
            out.push(p);
        }
    }
}

/// `src/sema/check/mod.rs` → `sema::check`; `src/lib.rs` → ``.
fn module_of(file: &Path) -> String {
    let rel = file.strip_prefix(src_dir()).expect("under src");
    let mut parts: Vec<String> = rel
        .iter()
        .map(|s| s.to_string_lossy().into_owned())
        .collect();
    let last = parts.pop().expect("a file name");
    let stem = last.trim_end_matches(".rs");
    if !matches!(stem, "mod" | "lib" | "main") {
        parts.push(stem.to_string());
    }
    parts.join("::")
}

/// The source with comments, string and char literals blanked out (lengths kept).
fn code_only(src: &str) -> String {
    let b: Vec<char> = src.chars().collect();
    let mut out = String::with_capacity(src.len());
    let mut i = 0;
    let ident = |c: char| c.is_alphanumeric() || c == '_';
    while i < b.len() {
        let c = b[i];
        let next = b.get(i + 1).copied();
        if c == '/' && next == Some('/') {
            while i < b.len() && b[i] != '\n' {
                i += 1;
            }
        } else if c == '/' && next == Some('*') {
            let mut depth = 0;
            while i < b.len() {
                if b[i] == '/' && b.get(i + 1) == Some(&'*') {
                    depth += 1;
                    i += 2;
                } else if b[i] == '*' && b.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    i += 1;
                }
            }
            out.push(' ');
        } else if c == 'r' && (i == 0 || !ident(b[i - 1])) && matches!(next, Some('"') | Some('#'))
        {
            // A raw string r"…" or r#"…"#, if the hashes end in a quote.
            let mut j = i + 1;
            while b.get(j) == Some(&'#') {
                j += 1;
            }
            if b.get(j) != Some(&'"') {
                out.push(c);
                i += 1;
                continue;
            }
            let hashes = j - i - 1;
            j += 1;
            loop {
                if j >= b.len() {
                    break;
                }
                if b[j] == '"' && (0..hashes).all(|k| b.get(j + 1 + k) == Some(&'#')) {
                    j += 1 + hashes;
                    break;
                }
                j += 1;
            }
            out.push_str("\"\"");
            i = j;
        } else if c == '"' {
            i += 1;
            while i < b.len() && b[i] != '"' {
                if b[i] == '\\' {
                    i += 1;
                }
                i += 1;
            }
            i += 1;
            out.push_str("\"\"");
        } else if c == '\'' {
            // A char literal ('x', '\n', '\u{..}') or a lifetime ('a).
            if next == Some('\\') {
                let mut j = i + 2;
                while j < b.len() && b[j] != '\'' {
                    j += 1;
                }
                i = j + 1;
                out.push_str("' '");
            } else if b.get(i + 2) == Some(&'\'') {
                i += 3;
                out.push_str("' '");
            } else {
                out.push(c);
                i += 1;
            }
        } else {
            out.push(c);
            i += 1;
        }
    }
    out
}

/// Expand a use tree (`a::{b, c::{d, e}}`) into paths.
fn expand(tree: &str) -> Vec<String> {
    let tree = tree.trim();
    let Some(open) = tree.find('{') else {
        return vec![tree.split(" as ").next().unwrap_or("").trim().to_string()];
    };
    let head = &tree[..open];
    let close = tree.rfind('}').unwrap_or(tree.len());
    let body = &tree[open + 1..close];
    let mut parts = Vec::new();
    let (mut depth, mut start) = (0, 0);
    for (k, ch) in body.char_indices() {
        match ch {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(&body[start..k]);
                start = k + 1;
            }
            _ => {}
        }
    }
    parts.push(&body[start..]);
    parts
        .into_iter()
        .filter(|p| !p.trim().is_empty())
        .flat_map(|p| expand(&format!("{head}{}", p.trim())))
        .collect()
}

/// Every module path a file refers to (`crate::…` and `super::…`), absolute, without the
/// final item.
fn referenced_paths(file_module: &str, code: &str) -> Vec<String> {
    let b = code.as_bytes();
    let ident = |c: u8| c.is_ascii_alphanumeric() || c == b'_';
    let mut out = Vec::new();
    // Inline `mod name {` blocks: (name, brace depth inside).
    let mut inline: Vec<(String, usize)> = Vec::new();
    let mut depth = 0usize;
    let mut i = 0;
    while i < b.len() {
        let at_word = i == 0 || !(ident(b[i - 1]) || b[i - 1] == b':');
        if b[i] == b'{' {
            depth += 1;
        } else if b[i] == b'}' {
            depth = depth.saturating_sub(1);
            while inline.last().is_some_and(|m| m.1 > depth) {
                inline.pop();
            }
        } else if at_word && code[i..].starts_with("mod ") {
            let rest = &code[i + 4..];
            let name: String = rest
                .trim_start()
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            let after = rest.trim_start()[name.len()..].trim_start();
            if !name.is_empty() && after.starts_with('{') {
                inline.push((name, depth + 1));
            }
        } else if at_word && (code[i..].starts_with("crate::") || code[i..].starts_with("super::"))
        {
            // The path, with a trailing use group if there is one.
            let mut j = i;
            while j < b.len() && (ident(b[j]) || b[j] == b':') {
                j += 1;
            }
            let mut text = code[i..j].to_string();
            if code[j..].starts_with('{') {
                let mut d = 0;
                let mut k = j;
                while k < b.len() {
                    if b[k] == b'{' {
                        d += 1;
                    } else if b[k] == b'}' {
                        d -= 1;
                        if d == 0 {
                            k += 1;
                            break;
                        }
                    }
                    k += 1;
                }
                text = code[i..k].to_string();
                j = k;
            }
            let mut here: Vec<String> = if file_module.is_empty() {
                vec![]
            } else {
                file_module.split("::").map(String::from).collect()
            };
            here.extend(inline.iter().map(|m| m.0.clone()));
            for p in expand(&text) {
                let mut segs: Vec<&str> = p.split("::").filter(|s| !s.is_empty()).collect();
                let mut abs: Vec<String>;
                if segs.first() == Some(&"crate") {
                    segs.remove(0);
                    abs = vec![];
                } else {
                    abs = here.clone();
                    while segs.first() == Some(&"super") {
                        segs.remove(0);
                        abs.pop();
                    }
                }
                abs.extend(
                    segs.iter()
                        .filter(|s| **s != "self")
                        .map(|s| s.trim().to_string()),
                );
                out.push(abs.join("::"));
            }
            i = j;
            continue;
        }
        i += 1;
    }
    out
}

/// The longest module of `modules` that `path` starts with (segment-wise).
fn target<'a>(path: &str, modules: &'a BTreeSet<String>) -> Option<&'a String> {
    let segs: Vec<&str> = path.split("::").collect();
    (1..=segs.len())
        .rev()
        .map(|k| segs[..k].join("::"))
        .find_map(|p| modules.get(&p))
}

fn has_prefix(module: &str, prefix: &str) -> bool {
    prefix.is_empty() || module == prefix || module.starts_with(&format!("{prefix}::"))
}

/// (index, name) of a module's layer: its longest matching prefix.
fn layer_of(module: &str) -> (usize, &'static str) {
    let mut best: Option<(usize, usize, &str)> = None;
    for (i, (name, prefixes)) in LAYERS.iter().enumerate() {
        for p in *prefixes {
            if has_prefix(module, p) && best.is_none_or(|b| p.len() > b.1) {
                best = Some((i, p.len(), name));
            }
        }
    }
    let b = best.expect("every module has a layer");
    (b.0, b.2)
}

/// The import graph of `src/`: module → modules it imports (itself excluded).
fn graph() -> BTreeMap<String, BTreeSet<String>> {
    let mut files = Vec::new();
    rust_files(&src_dir(), &mut files);
    let modules: BTreeSet<String> = files.iter().map(|f| module_of(f)).collect();
    let mut g = BTreeMap::new();
    for f in &files {
        let m = module_of(f);
        if f.file_name().is_some_and(|n| n == "main.rs") {
            continue; // the binary crate: `isf::…`, no `crate::` paths into the library
        }
        let text = std::fs::read_to_string(f).expect("readable source");
        let code = code_only(&text);
        let targets: BTreeSet<String> = referenced_paths(&m, &code)
            .iter()
            .filter_map(|p| target(p, &modules).cloned())
            .filter(|t| *t != m)
            .collect();
        g.insert(m, targets);
    }
    g
}

/// Circles of the graph (strongly connected components of two or more modules), edges from a
/// module to its own ancestors or descendants left out.
fn circles(g: &BTreeMap<String, BTreeSet<String>>) -> Vec<Vec<String>> {
    let related = |a: &str, b: &str| has_prefix(a, b) || has_prefix(b, a);
    let nodes: Vec<&String> = g.keys().collect();
    let index: BTreeMap<&str, usize> = nodes
        .iter()
        .enumerate()
        .map(|(i, n)| (n.as_str(), i))
        .collect();
    let adj: Vec<Vec<usize>> = nodes
        .iter()
        .map(|n| {
            g[*n]
                .iter()
                .filter(|t| !related(n, t))
                .filter_map(|t| index.get(t.as_str()).copied())
                .collect()
        })
        .collect();
    // Reachability by depth-first search from every node (a few hundred modules).
    let reach: Vec<Vec<bool>> = (0..nodes.len())
        .map(|s| {
            let mut seen = vec![false; nodes.len()];
            let mut stack = vec![s];
            while let Some(v) = stack.pop() {
                for &w in &adj[v] {
                    if !seen[w] {
                        seen[w] = true;
                        stack.push(w);
                    }
                }
            }
            seen
        })
        .collect();
    let mut done = vec![false; nodes.len()];
    let mut out = Vec::new();
    for a in 0..nodes.len() {
        if done[a] || !reach[a][a] {
            continue;
        }
        let comp: Vec<usize> = (0..nodes.len())
            .filter(|&b| reach[a][b] && reach[b][a])
            .collect();
        for &c in &comp {
            done[c] = true;
        }
        out.push(comp.iter().map(|&c| nodes[c].clone()).collect());
    }
    out
}

#[test]
fn imports_follow_the_layers() {
    let g = graph();
    assert!(g.len() > 50, "found only {} modules in src/", g.len());
    let mut bad = Vec::new();
    for (from, tos) in &g {
        let (lf, nf) = layer_of(from);
        for to in tos {
            let (lt, nt) = layer_of(to);
            if lt > lf {
                bad.push(format!(
                    "{from} (layer {}: {nf}) imports {to} (layer {}: {nt})",
                    lf + 1,
                    lt + 1
                ));
            }
            for (a, b, why) in FORBIDDEN {
                if has_prefix(from, a) && has_prefix(to, b) {
                    bad.push(format!("{from} imports {to}: {why}"));
                }
            }
        }
    }
    assert!(
        bad.is_empty(),
        "imports against the pipeline order (see the rule at the top of tests/layering.rs):\n  {}",
        bad.join("\n  ")
    );
}

#[test]
fn no_module_imports_around_a_circle() {
    let c = circles(&graph());
    assert!(
        c.is_empty(),
        "modules that import each other (directly or around a circle):\n  {}",
        c.iter()
            .map(|m| m.join(" ↔ "))
            .collect::<Vec<_>>()
            .join("\n  ")
    );
}

#[test]
fn the_reader_sees_every_kind_of_import() {
    // The graph is only as good as the path reader: check it on the forms src/ uses.
    let code = code_only(
        r##"use crate::a::b::{c, d::{e, f}};
use super::g::H;
// use crate::commented::Out;
let s = "crate::in_string::X"; let r = r#"crate::raw::Y"#; let q = '"';
fn f() { crate::inline::call(); }
mod tests { use super::*; use super::super::up::Z; }
"##,
    );
    let paths = referenced_paths("m::n", &code);
    for want in [
        "a::b::c",
        "a::b::d::e",
        "a::b::d::f",
        "m::g::H",
        "inline::call",
        "m::n",
        "m::up::Z",
    ] {
        assert!(paths.iter().any(|p| p == want), "{want} in {paths:?}");
    }
    for not in ["commented", "in_string", "raw"] {
        assert!(!paths.iter().any(|p| p.contains(not)), "{not} in {paths:?}");
    }
}
