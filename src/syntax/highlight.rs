//! Syntax highlighting from the logos lexer: one [`HighlightTag`] per highlighted range.
//!
//! The REPL colours its input with these tags, and the editor grammars (`editors/`) use the
//! TextMate scope names of [`HighlightTag::tm_scope`]; `tests/syntax/editor_keywords.rs` checks that
//! every scope named here appears in `editors/vscode/syntaxes/isf.tmLanguage.json`. Keeping the
//! names in one enum (as typst's `Tag::tm_scope` does) is what keeps the REPL and the editors
//! from drifting apart.
//!
//! Classification is lexical plus a little context the grammar fixes anyway: a name directly
//! after a number on the same line is a unit (`100 ohm*cm`), a name followed by `(` is a
//! function, the name after `neuron`/`network`/`experiment`/`mechanism` is a declared name, and
//! a contextual word (`parameter`, `state`, …) is a keyword only where a block entry starts.

use super::lexer::{self, CONTEXTUAL, Lexeme, Token};

/// What a highlighted range is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum HighlightTag {
    /// `// …`
    LineComment,
    /// `/* … */`
    BlockComment,
    /// Reserved words other than the ones below (`import`, `let`, `neuron`, `if`, …).
    Keyword,
    /// `and`, `or`, `not`.
    LogicalOperator,
    /// `true`, `false`.
    Constant,
    /// Contextual words at the start of a block entry (`parameter`, `state`, `current`, …).
    Contextual,
    /// A number.
    Number,
    /// A unit directly following a number (`mV`, `ohm*cm`, `m^-2`).
    Unit,
    /// A double-quoted string.
    String,
    /// The name a declaration introduces (`L5PT` in `neuron L5PT { … }`).
    DeclName,
    /// A name followed by `(`: a builtin or function call.
    Function,
    /// Arithmetic and comparison operators, `=`, `..`.
    Operator,
    /// Something that is not a token: an unterminated string or comment, a bad number, a
    /// stray character.
    Invalid,
}

impl HighlightTag {
    /// Every tag (for the editor consistency test).
    pub const ALL: &'static [HighlightTag] = &[
        HighlightTag::LineComment,
        HighlightTag::BlockComment,
        HighlightTag::Keyword,
        HighlightTag::LogicalOperator,
        HighlightTag::Constant,
        HighlightTag::Contextual,
        HighlightTag::Number,
        HighlightTag::Unit,
        HighlightTag::String,
        HighlightTag::DeclName,
        HighlightTag::Function,
        HighlightTag::Operator,
        HighlightTag::Invalid,
    ];

    /// The TextMate scope name of this tag, as used in `editors/vscode`.
    pub fn tm_scope(self) -> &'static str {
        match self {
            HighlightTag::LineComment => "comment.line.double-slash.isf",
            HighlightTag::BlockComment => "comment.block.isf",
            HighlightTag::Keyword => "keyword.control.isf",
            HighlightTag::LogicalOperator => "keyword.operator.logical.isf",
            HighlightTag::Constant => "constant.language.isf",
            HighlightTag::Contextual => "keyword.other.isf",
            HighlightTag::Number => "constant.numeric.isf",
            HighlightTag::Unit => "keyword.other.unit.isf",
            HighlightTag::String => "string.quoted.double.isf",
            HighlightTag::DeclName => "entity.name.type.isf",
            HighlightTag::Function => "entity.name.function.isf",
            HighlightTag::Operator => "keyword.operator.isf",
            HighlightTag::Invalid => "invalid.illegal.isf",
        }
    }

    /// The tree-sitter highlight capture of this tag (`editors/tree-sitter-isf/queries`).
    pub fn ts_capture(self) -> &'static str {
        match self {
            HighlightTag::LineComment | HighlightTag::BlockComment => "comment",
            HighlightTag::Keyword => "keyword",
            HighlightTag::LogicalOperator => "keyword.operator",
            HighlightTag::Constant => "constant.builtin",
            HighlightTag::Contextual => "keyword",
            HighlightTag::Number => "number",
            HighlightTag::Unit => "type.builtin",
            HighlightTag::String => "string",
            HighlightTag::DeclName => "type",
            HighlightTag::Function => "function",
            HighlightTag::Operator => "operator",
            HighlightTag::Invalid => "error",
        }
    }
}

/// One highlighted byte range.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Highlight {
    pub start: usize,
    pub end: usize,
    pub tag: HighlightTag,
}

/// Highlight a text. Ranges are sorted, do not overlap, and unhighlighted text (plain names,
/// punctuation, whitespace) has no range. Never fails.
pub fn highlight(text: &str) -> Vec<Highlight> {
    let lx = lexer::lex(text);
    let mut out = Vec::with_capacity(lx.len());
    let mut in_unit = false;
    for (i, l) in lx.iter().enumerate() {
        let prev = i.checked_sub(1).map(|p| lx[p]);
        let next = lx.get(i + 1).copied();
        let adjacent_prev = prev.is_some_and(|p| p.end == l.start);
        // A unit is a name right after a number with only blanks between, on the same line;
        // it continues through `*`, `/`, `^`, `-` and digits written without spaces.
        // `*` and `/` continue a unit only when a name follows without a space.
        let operator_then_name = !matches!(l.token, Some(Token::Star | Token::Slash))
            || next.is_some_and(|n| n.start == l.end && n.token == Some(Token::Ident));
        let unit_continues = in_unit
            && adjacent_prev
            && matches!(
                l.token,
                Some(Token::Ident | Token::Star | Token::Slash | Token::Caret | Token::Number)
            )
            && operator_then_name;
        let unit_minus = in_unit
            && adjacent_prev
            && l.token == Some(Token::Minus)
            && prev.is_some_and(|p| p.token == Some(Token::Caret));
        let unit_starts = l.token == Some(Token::Ident)
            && prev.is_some_and(|p| {
                p.token == Some(Token::Number)
                    && text[p.end..l.start].chars().all(|c| c == ' ' || c == '\t')
            });
        in_unit = unit_starts || unit_continues || unit_minus;
        let tag = if in_unit {
            Some(HighlightTag::Unit)
        } else {
            classify(text, &lx, i)
        };
        if let Some(tag) = tag {
            out.push(Highlight {
                start: l.start,
                end: l.end,
                tag,
            });
        }
    }
    out
}

fn classify(text: &str, lx: &[Lexeme], i: usize) -> Option<HighlightTag> {
    use Token::*;
    let l = lx[i];
    let Some(tok) = l.token else {
        return Some(HighlightTag::Invalid);
    };
    Some(match tok {
        LineComment => HighlightTag::LineComment,
        BlockComment => HighlightTag::BlockComment,
        UnterminatedComment | UnterminatedString | MalformedNumber => HighlightTag::Invalid,
        KwTrue | KwFalse => HighlightTag::Constant,
        KwAnd | KwOr | KwNot => HighlightTag::LogicalOperator,
        KwImport | KwAs | KwLet | KwNeuron | KwNetwork | KwExperiment | KwMechanism | KwIf
        | KwThen | KwElse | KwIn | KwBy => HighlightTag::Keyword,
        Number => HighlightTag::Number,
        String => HighlightTag::String,
        Ident => {
            let prev = previous_code(lx, i);
            let next = next_code(lx, i);
            let name = &text[l.start..l.end];
            if prev.is_some_and(|p| {
                matches!(
                    p.token,
                    Some(KwNeuron | KwNetwork | KwExperiment | KwMechanism)
                )
            }) {
                HighlightTag::DeclName
            } else if next.is_some_and(|n| n.token == Some(LParen)) {
                HighlightTag::Function
            } else if CONTEXTUAL.contains(&name)
                && next.is_some_and(|n| n.token == Some(Ident))
                && prev.is_none_or(|p| {
                    matches!(p.token, Some(LBrace | Comma)) || text[p.end..l.start].contains('\n')
                })
            {
                HighlightTag::Contextual
            } else {
                return None;
            }
        }
        DotDot | Assign | EqEq | NotEq | Lt | Le | Gt | Ge | Plus | Minus | Star | Slash
        | Caret => HighlightTag::Operator,
        LBrace | RBrace | LParen | RParen | LBracket | RBracket | Comma | Colon | Dot => {
            return None;
        }
    })
}

fn is_comment(l: &Lexeme) -> bool {
    matches!(l.token, Some(Token::LineComment | Token::BlockComment))
}

fn previous_code(lx: &[Lexeme], i: usize) -> Option<Lexeme> {
    lx[..i].iter().rev().find(|l| !is_comment(l)).copied()
}

fn next_code(lx: &[Lexeme], i: usize) -> Option<Lexeme> {
    lx[i + 1..].iter().find(|l| !is_comment(l)).copied()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tags(s: &str) -> Vec<(&str, HighlightTag)> {
        highlight(s)
            .into_iter()
            .map(|h| (&s[h.start..h.end], h.tag))
            .collect()
    }

    #[test]
    fn units_follow_numbers_on_the_same_line() {
        use HighlightTag::*;
        assert_eq!(
            tags("Ra: 100 ohm*cm"),
            vec![("100", Number), ("ohm", Unit), ("*", Unit), ("cm", Unit)]
        );
        assert_eq!(
            tags("2 m^-2"),
            vec![
                ("2", Number),
                ("m", Unit),
                ("^", Unit),
                ("-", Unit),
                ("2", Unit)
            ]
        );
        // `2 mV * x`: the spaced operator multiplies by a variable
        assert_eq!(
            tags("2 mV * x"),
            vec![("2", Number), ("mV", Unit), ("*", Operator)]
        );
        assert_eq!(tags("2\nx"), vec![("2", Number)]);
    }

    #[test]
    fn declarations_calls_and_contextual_words() {
        use HighlightTag::*;
        assert_eq!(
            tags("neuron A { morphology: swc(\"a.swc\") }"),
            vec![
                ("neuron", Keyword),
                ("A", DeclName),
                ("swc", Function),
                ("\"a.swc\"", String)
            ]
        );
        assert_eq!(
            tags("{ parameter g: S/cm2 = 1 S/cm2 }")[0],
            ("parameter", Contextual)
        );
        // `state` as a plain name is not a keyword
        assert_eq!(tags("x: state"), vec![]);
        assert_eq!(
            tags("true and not false // c"),
            vec![
                ("true", Constant),
                ("and", LogicalOperator),
                ("not", LogicalOperator),
                ("false", Constant),
                ("// c", LineComment)
            ]
        );
        assert_eq!(tags("@ \"abc"), vec![("@", Invalid), ("\"abc", Invalid)]);
    }
}
