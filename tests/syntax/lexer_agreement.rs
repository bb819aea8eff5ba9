//! The pest grammar and the logos lexer agree on identifiers, numbers and strings: for every
//! `.isf` file under `examples/`, `stdlib/` and `tests/` and every corpus snippet that parses,
//! the sequence of those tokens (with byte spans) is the same from both. Also checks that
//! `grammar/keywords.txt`, `lexer::KEYWORDS` and the grammar's `keyword` rule list the same words.

use crate::common;

use common::{CORPUS, isf_files};
use isf::syntax::lexer::{self, TokenClass};
use pest::Parser;

#[derive(pest_derive::Parser)]
#[grammar = "../grammar/isf.pest"]
struct Grammar;

/// Token classes compared between the two.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Class {
    Ident,
    Number,
    String,
}

type Tok = (Class, usize, usize);

/// Identifier/number/string leaves of the pest parse, or `None` when the text does not parse.
fn pest_tokens(text: &str) -> Option<Vec<Tok>> {
    let pairs = Grammar::parse(Rule::file, text).ok()?;
    let mut out = Vec::new();
    for p in pairs.flatten() {
        let class = match p.as_rule() {
            // Contextual words (`parameter`, `state`, …) and unit names are identifiers to logos.
            Rule::ident | Rule::unit_name | Rule::stmt_kw => Class::Ident,
            // Unit powers and the dimensionless `1` are plain numbers to logos.
            Rule::number | Rule::unit_exp | Rule::dimensionless => Class::Number,
            Rule::string => Class::String,
            // Field names may be reserved words (`neuron: Cell`); logos calls those keywords.
            Rule::field_key if isf::syntax::lexer::KEYWORDS.contains(&p.as_str()) => continue,
            Rule::field_key => Class::Ident,
            // Keywords (decl kinds, booleans, operators) and punctuation are not compared.
            _ => continue,
        };
        let s = p.as_span();
        out.push((class, s.start(), s.end()));
    }
    out.sort_by_key(|t| (t.1, t.2));
    Some(out)
}

fn logos_tokens(text: &str) -> Vec<Tok> {
    lexer::lex(text)
        .into_iter()
        .filter_map(|l| {
            let class = match l.token?.class() {
                TokenClass::Ident => Class::Ident,
                TokenClass::Number => Class::Number,
                TokenClass::String => Class::String,
                _ => return None,
            };
            Some((class, l.start, l.end))
        })
        .collect()
}

fn show(text: &str, toks: &[Tok]) -> Vec<String> {
    toks.iter()
        .map(|&(c, s, e)| format!("{c:?} {s}..{e} {:?}", &text[s..e]))
        .collect()
}

/// Compare on one text (panics on disagreement); `None` when pest does not parse it.
fn agree(name: &str, text: &str) -> Option<()> {
    let p = pest_tokens(text)?;
    let l = logos_tokens(text);
    if p != l {
        let (ps, ls) = (show(text, &p), show(text, &l));
        let first = ps
            .iter()
            .zip(&ls)
            .position(|(a, b)| a != b)
            .unwrap_or(ps.len().min(ls.len()));
        panic!(
            "{name}: pest and logos disagree at token {first}:\n  pest:  {:?}\n  logos: {:?}",
            ps.get(first),
            ls.get(first)
        );
    }
    Some(())
}

#[test]
fn pest_and_logos_agree() {
    let mut checked = 0;
    for (i, s) in CORPUS.iter().enumerate() {
        checked += agree(&format!("snippet {i}"), s).map_or(0, |_| 1);
    }
    assert_eq!(checked, CORPUS.len(), "every corpus snippet parses");
    for f in isf_files(&["examples", "stdlib", "tests"]) {
        let text = std::fs::read_to_string(&f).expect("read");
        agree(&f.display().to_string(), &text);
    }
}

#[test]
fn agreement_on_tricky_tokens() {
    for s in [
        "let a = 2em\nlet b = 3 mV\nlet c = 2 m^-2\nlet d = 1..5\nlet e = 1 .. 5 by 2",
        "let f = 1e5\nlet g = 2.5E-3 S/cm2\nlet h: 1 = 1\nlet µ = 1 µm\nlet s = \"a\\\"b\"",
        "neuron A { parameter gbar: S/cm2 = 1e-5 S/cm2\n state m, h\n a.*.b in [1, 2] }",
    ] {
        agree(s, s).expect("parses");
    }
}

fn words_of_pest_keyword_rule() -> Vec<String> {
    let g = include_str!("../../grammar/isf.pest");
    let start = g.find("keyword = @{").expect("keyword rule");
    let end = start + g[start..].find("!ident_char").expect("end of keyword rule");
    g[start..end]
        .split('"')
        .skip(1)
        .step_by(2)
        .map(str::to_string)
        .collect()
}

#[test]
fn keyword_lists_agree() {
    let txt: Vec<String> = include_str!("../../grammar/keywords.txt")
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_string)
        .collect();
    let lex: Vec<String> = lexer::KEYWORDS.iter().map(|s| s.to_string()).collect();
    assert_eq!(
        txt, lex,
        "grammar/keywords.txt and lexer::KEYWORDS (same order)"
    );
    let mut pest = words_of_pest_keyword_rule();
    let mut sorted = txt.clone();
    pest.sort();
    sorted.sort();
    assert_eq!(
        sorted, pest,
        "grammar/keywords.txt and the `keyword` rule of isf.pest"
    );
    // Each keyword lexes as one keyword token, and is not an identifier to the grammar.
    for k in &txt {
        let toks = lexer::lex(k);
        assert_eq!(toks.len(), 1, "{k}");
        assert_eq!(
            toks[0].token.map(|t| t.class()),
            Some(TokenClass::Keyword),
            "{k}"
        );
        assert!(
            Grammar::parse(Rule::ident, k).is_err(),
            "{k} parses as an identifier"
        );
    }
}

/// Words that start with a keyword (`notx`, `byx`, `inx`, `orb`) are single identifiers to both
/// pest and logos: keywords inside grammar rules end at a word boundary.
#[test]
fn keyword_prefixes_are_identifiers() {
    for s in [
        "let a = notx",
        "let b = 1 .. 2 byx",
        "neuron A { m inx }",
        "let c = a orb",
    ] {
        agree(s, s);
    }
}
