//! One keyword list feeds every grammar: `grammar/keywords.txt` must equal the keywords of the
//! pest grammar, the logos lexer (`KEYWORDS`), the TextMate grammar, the Vim syntax file, the
//! tree-sitter grammar and its external scanner. The contextual words must agree too, and every
//! TextMate scope of `HighlightTag` (which the REPL highlighter uses) must occur in the
//! TextMate grammar.

use isf::syntax::highlight::HighlightTag;
use isf::syntax::lexer::{CONTEXTUAL, KEYWORDS};
use std::collections::BTreeSet;

fn read(path: &str) -> String {
    std::fs::read_to_string(format!("{}/{path}", env!("CARGO_MANIFEST_DIR")))
        .unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn set<'a>(words: impl IntoIterator<Item = &'a str>) -> BTreeSet<String> {
    words.into_iter().map(str::to_string).collect()
}

fn keywords_txt() -> BTreeSet<String> {
    let text = read("grammar/keywords.txt");
    let s = set(text.lines().map(str::trim).filter(|l| !l.is_empty()));
    assert!(s.len() >= 17, "keywords.txt is suspiciously short: {s:?}");
    s
}

/// The quoted alphabetic words between `start` and the next `end`.
fn quoted_between(text: &str, start: &str, end: &str) -> BTreeSet<String> {
    let from = text
        .find(start)
        .unwrap_or_else(|| panic!("`{start}` not found"));
    let rest = &text[from + start.len()..];
    let to = rest
        .find(end)
        .unwrap_or_else(|| panic!("`{end}` not found"));
    rest[..to]
        .split('"')
        .skip(1)
        .step_by(2)
        .map(str::to_string)
        .chain(
            rest[..to]
                .split('\'')
                .skip(1)
                .step_by(2)
                .map(str::to_string),
        )
        .filter(|w| w.chars().all(|c| c.is_ascii_alphabetic()))
        .collect()
}

/// Words of every `\b(a|b|c)\b` alternation in a regex.
fn alternations(re: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for part in re.split("\\b(").skip(1).filter(|p| !p.starts_with('?')) {
        if let Some(end) = part.find(')') {
            out.extend(part[..end].split('|').map(str::to_string));
        }
    }
    out
}

#[test]
fn pest_and_logos_agree_with_keywords_txt() {
    let kw = keywords_txt();
    assert_eq!(set(KEYWORDS.iter().copied()), kw, "logos KEYWORDS");
    let pest = read("grammar/isf.pest");
    assert_eq!(
        quoted_between(&pest, "keyword = @{", "~ !ident_char"),
        kw,
        "pest keyword rule"
    );
    let ctx = quoted_between(&pest, "stmt_kw   = @{", "~ !ident_char");
    assert_eq!(
        ctx,
        set(CONTEXTUAL.iter().copied()),
        "pest stmt_kw vs CONTEXTUAL"
    );
}

#[test]
fn textmate_grammar_agrees() {
    let kw = keywords_txt();
    let json: serde_json::Value =
        serde_json::from_str(&read("editors/vscode/syntaxes/isf.tmLanguage.json")).unwrap();
    let repo = &json["repository"];
    let mut found = BTreeSet::new();
    for p in repo["keywords"]["patterns"].as_array().unwrap() {
        found.extend(alternations(p["match"].as_str().unwrap()));
    }
    assert_eq!(found, kw, "TextMate keyword patterns");
    // The unit after a number must not swallow a keyword: the lookahead lists them all.
    let quantity = repo["numbers"]["patterns"][1]["match"].as_str().unwrap();
    let look = quantity
        .split("(?!(?:")
        .nth(1)
        .unwrap()
        .split(")\\b")
        .next()
        .unwrap();
    assert_eq!(set(look.split('|')), kw, "TextMate unit lookahead");
    let ctx = alternations(repo["contextual"]["patterns"][0]["match"].as_str().unwrap());
    assert_eq!(
        ctx,
        set(CONTEXTUAL.iter().copied()),
        "TextMate contextual words"
    );
    let text = read("editors/vscode/syntaxes/isf.tmLanguage.json");
    for tag in HighlightTag::ALL {
        assert!(
            text.contains(&format!("\"{}\"", tag.tm_scope())),
            "scope {} of {tag:?} is missing from the TextMate grammar",
            tag.tm_scope()
        );
    }
}

#[test]
fn vim_syntax_agrees() {
    let kw = keywords_txt();
    let vim = read("editors/vim/syntax/isf.vim");
    let mut found = BTreeSet::new();
    for line in vim.lines() {
        if let Some(rest) = line.strip_prefix("syn keyword isf") {
            let mut words = rest.split_whitespace();
            let group = words.next().unwrap();
            if group != "Todo" {
                found.extend(words.map(str::to_string));
            }
        }
    }
    assert_eq!(found, kw, "Vim `syn keyword` lists");
    let unit = vim
        .lines()
        .find(|l| l.starts_with("syn match isfUnit"))
        .unwrap();
    let look = unit
        .split("(<(")
        .nth(1)
        .unwrap()
        .split(")>)@!")
        .next()
        .unwrap();
    assert_eq!(set(look.split('|')), kw, "Vim unit lookahead");
    let ctx = vim
        .lines()
        .find(|l| l.starts_with("syn match isfContextual"))
        .unwrap();
    let ctx = ctx.split("<(").nth(1).unwrap().split(")>").next().unwrap();
    assert_eq!(set(ctx.split('|')), set(CONTEXTUAL.iter().copied()));
}

#[test]
fn tree_sitter_grammar_and_scanner_agree() {
    let kw = keywords_txt();
    let js = read("editors/tree-sitter-isf/grammar.js");
    assert_eq!(
        quoted_between(&js, "const KEYWORDS = [", "];"),
        kw,
        "grammar.js KEYWORDS"
    );
    assert_eq!(
        quoted_between(&js, "const CONTEXTUAL = [", "];"),
        set(CONTEXTUAL.iter().copied()),
        "grammar.js CONTEXTUAL"
    );
    let scanner = read("editors/tree-sitter-isf/src/scanner.c");
    assert_eq!(
        quoted_between(&scanner, "KEYWORDS[] = {", "};"),
        kw,
        "scanner.c KEYWORDS"
    );
    // Every keyword the grammar uses as a token is highlighted as one.
    let hl = read("editors/tree-sitter-isf/queries/highlights.scm");
    let mut in_query: BTreeSet<String> = BTreeSet::new();
    for w in hl.split('"').skip(1).step_by(2) {
        if w.chars().all(|c| c.is_ascii_alphabetic()) {
            in_query.insert(w.to_string());
        }
    }
    let not_boolean: BTreeSet<String> = kw
        .iter()
        .filter(|k| *k != "true" && *k != "false")
        .cloned()
        .collect();
    assert_eq!(in_query, not_boolean, "highlights.scm keyword captures");
}
