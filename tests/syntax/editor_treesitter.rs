//! The committed, generated tree-sitter parser (`editors/tree-sitter-isf/src/parser.c`, built
//! by that crate's build script as a dev-dependency) parses every shipped `.isf` file without
//! error nodes, its highlight query compiles, and it agrees with the pest parser on which small
//! inputs are valid.

use std::path::Path;
use tree_sitter::{Parser, Query};

fn parser() -> Parser {
    let mut p = Parser::new();
    p.set_language(&tree_sitter_isf::LANGUAGE.into())
        .expect("ABI of the generated parser matches the tree-sitter crate");
    p
}

fn shipped_files() -> Vec<std::path::PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    for dir in ["examples", "stdlib/channels"] {
        for e in std::fs::read_dir(root.join(dir)).unwrap() {
            let p = e.unwrap().path();
            if p.extension().is_some_and(|x| x == "isf") {
                files.push(p);
            }
        }
    }
    files.sort();
    assert!(files.len() >= 4, "{files:?}");
    files
}

fn first_error(node: tree_sitter::Node) -> Option<tree_sitter::Node> {
    if node.is_error() || node.is_missing() {
        return Some(node);
    }
    let mut c = node.walk();
    node.children(&mut c).find_map(first_error)
}

#[test]
fn parses_every_shipped_file() {
    let mut p = parser();
    for f in shipped_files() {
        let text = std::fs::read_to_string(&f).unwrap();
        let tree = p.parse(&text, None).unwrap();
        if let Some(e) = first_error(tree.root_node()) {
            let at = e.start_position();
            panic!(
                "{}:{}:{}: tree-sitter error at `{}`",
                f.display(),
                at.row + 1,
                at.column + 1,
                &text[e.byte_range()]
            );
        }
    }
}

#[test]
fn highlight_query_compiles() {
    let q = Query::new(
        &tree_sitter_isf::LANGUAGE.into(),
        tree_sitter_isf::HIGHLIGHTS_QUERY,
    )
    .expect("highlights.scm compiles against the grammar");
    assert!(q.capture_names().contains(&"keyword"));
    assert!(q.capture_names().contains(&"type.builtin"));
}

#[test]
fn units_are_same_line_and_never_keywords() {
    let mut p = parser();
    let sexp = |p: &mut Parser, s: &str| p.parse(s, None).unwrap().root_node().to_sexp();
    assert!(sexp(&mut p, "let a = 100 ohm*cm\n").contains(
        "(quantity value: (number) unit: (unit (unit_name) (unit_operator) (unit_name)))"
    ));
    assert!(!sexp(&mut p, "let a = if x then 2 else 3\n").contains("unit"));
    assert!(!sexp(&mut p, "neuron A {\n a: 2\n b: 3\n}\n").contains("unit"));
    assert!(sexp(&mut p, "let y = 2 mV * x\n").contains("(binary left: (quantity"));
}

#[test]
fn agrees_with_pest_on_validity() {
    let cases = [
        "let a = 1 mV",
        "neuron A { soma { pas { g: 1 S/cm2 } } }",
        "let a = ",
        "neuron { }",
        "let a = (1, 2,)",
        "let = 3",
        "import std.channels.hay2011.{pas, Ih}",
        "let a = [1, 2",
        // A bare name followed by a field (a recording's precision) and two-name sub-blocks.
        "experiment E { record { all_compartments precision: 10 uV } }",
        "experiment E { record { soma.v precision: 1 uV\n all_compartments precision: 10 uV } }",
        "neuron A { receptor glutamate { tau: 2 ms } }",
        "experiment E { record { all_compartments precision } }",
    ];
    let mut p = parser();
    for c in cases {
        let pest_ok = isf::syntax::parser::parse_file(isf::source::FileId(0), c)
            .diagnostics
            .is_empty();
        let ts_ok = !p.parse(c, None).unwrap().root_node().has_error();
        assert_eq!(
            pest_ok, ts_ok,
            "`{c}`: pest ok = {pest_ok}, tree-sitter ok = {ts_ok}"
        );
    }
}
