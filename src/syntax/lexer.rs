//! The logos lexer: the token vocabulary of `.isf` shared by highlighting, the REPL and the
//! lexical pre-pass that reports E00xx errors before the pest parser runs.
//!
//! Its identifiers, keywords, numbers and strings agree with `grammar/isf.pest`; a test
//! (`tests/syntax/lexer_agreement.rs`) checks this on every shipped file.

use crate::diagnostics::{Code, Diagnostic};
use crate::source::{FileId, Span};
use logos::Logos;

/// One lexical token.
#[derive(Logos, Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[logos(skip r"[ \t\r\n]+")]
pub enum Token {
    #[regex(r"//[^\n]*", allow_greedy = true)]
    LineComment,
    #[regex(r"/\*([^*]|\*+[^*/])*\*+/")]
    BlockComment,
    #[regex(r"/\*([^*]|\*+[^*/])*\**", priority = 0, allow_greedy = true)]
    UnterminatedComment,

    #[token("import")]
    KwImport,
    #[token("as")]
    KwAs,
    #[token("let")]
    KwLet,
    #[token("neuron")]
    KwNeuron,
    #[token("network")]
    KwNetwork,
    #[token("experiment")]
    KwExperiment,
    #[token("mechanism")]
    KwMechanism,
    #[token("if")]
    KwIf,
    #[token("then")]
    KwThen,
    #[token("else")]
    KwElse,
    #[token("in")]
    KwIn,
    #[token("by")]
    KwBy,
    #[token("true")]
    KwTrue,
    #[token("false")]
    KwFalse,
    #[token("and")]
    KwAnd,
    #[token("or")]
    KwOr,
    #[token("not")]
    KwNot,

    #[regex(r"[A-Za-z_µμΩ][A-Za-z0-9_µμΩ]*")]
    Ident,
    #[regex(r"[0-9]+(\.[0-9]+)?([eE][+-]?[0-9]+)?")]
    Number,
    /// `1.2.3` or `1e+` / `2.5E`: a number that cannot be read.
    #[regex(r"[0-9]+\.[0-9]+\.[0-9.]*")]
    #[regex(r"[0-9]+(\.[0-9]+)?[eE][+-]")]
    MalformedNumber,
    #[regex(r#""([^"\\\n]|\\[^\n])*""#)]
    String,
    #[regex(r#""([^"\\\n]|\\[^\n])*"#, priority = 0)]
    UnterminatedString,

    #[token("{")]
    LBrace,
    #[token("}")]
    RBrace,
    #[token("(")]
    LParen,
    #[token(")")]
    RParen,
    #[token("[")]
    LBracket,
    #[token("]")]
    RBracket,
    #[token(",")]
    Comma,
    #[token(":")]
    Colon,
    #[token(".")]
    Dot,
    #[token("..")]
    DotDot,
    #[token("=")]
    Assign,
    #[token("==")]
    EqEq,
    #[token("!=")]
    NotEq,
    #[token("<")]
    Lt,
    #[token("<=")]
    Le,
    #[token(">")]
    Gt,
    #[token(">=")]
    Ge,
    #[token("+")]
    Plus,
    #[token("-")]
    Minus,
    #[token("*")]
    Star,
    #[token("/")]
    Slash,
    #[token("^")]
    Caret,
}

/// Broad token classes, used for highlighting and the pest agreement test.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TokenClass {
    Comment,
    Keyword,
    Ident,
    Number,
    String,
    Punct,
    Operator,
    Error,
}

impl Token {
    /// The class of this token.
    pub fn class(self) -> TokenClass {
        use Token::*;
        match self {
            LineComment | BlockComment => TokenClass::Comment,
            KwImport | KwAs | KwLet | KwNeuron | KwNetwork | KwExperiment | KwMechanism | KwIf
            | KwThen | KwElse | KwIn | KwBy | KwTrue | KwFalse | KwAnd | KwOr | KwNot => {
                TokenClass::Keyword
            }
            Ident => TokenClass::Ident,
            Number => TokenClass::Number,
            String => TokenClass::String,
            LBrace | RBrace | LParen | RParen | LBracket | RBracket | Comma | Colon | Dot => {
                TokenClass::Punct
            }
            DotDot | Assign | EqEq | NotEq | Lt | Le | Gt | Ge | Plus | Minus | Star | Slash
            | Caret => TokenClass::Operator,
            UnterminatedComment | MalformedNumber | UnterminatedString => TokenClass::Error,
        }
    }
}

/// The keywords, in the order of `grammar/keywords.txt`.
pub const KEYWORDS: &[&str] = &[
    "import",
    "as",
    "let",
    "neuron",
    "network",
    "experiment",
    "mechanism",
    "if",
    "then",
    "else",
    "in",
    "by",
    "true",
    "false",
    "and",
    "or",
    "not",
];

/// Contextual words: identifiers with a special meaning at the start of a block entry.
pub const CONTEXTUAL: &[&str] = &[
    "parameter",
    "state",
    "current",
    "assigned",
    "constant",
    "derivative",
];

/// A token with its byte range.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Lexeme {
    /// `None` for a character no token starts with.
    pub token: Option<Token>,
    pub start: usize,
    pub end: usize,
}

/// Split text into lexemes (comments included, whitespace skipped). Never fails: bytes that
/// start no token become lexemes with `token: None`.
pub fn lex(text: &str) -> Vec<Lexeme> {
    let mut out = Vec::new();
    let mut lx = Token::lexer(text);
    while let Some(r) = lx.next() {
        let span = lx.span();
        out.push(Lexeme {
            token: r.ok(),
            start: span.start,
            end: span.end,
        });
    }
    out
}

/// Lexical errors of a text as diagnostics (E0001–E0005). Empty when the text lexes cleanly.
pub fn lexical_errors(file: FileId, text: &str) -> Vec<Diagnostic> {
    let mut diags = Vec::new();
    for lx in lex(text) {
        let span = Span::new(file, lx.start, lx.end);
        let slice = &text[lx.start..lx.end];
        match lx.token {
            None => {
                // A run of characters no token starts with (a binary file, a pasted block of
                // NUL bytes) is one error, not one per byte.
                if let Some(prev) = diags.last_mut().filter(|d: &&mut Diagnostic| {
                    d.code == Code::E0001 && d.labels[0].span.end as usize == lx.start
                }) {
                    prev.labels[0].span.end = lx.end as u32;
                    prev.labels[0].message = "no token starts with these characters".into();
                    continue;
                }
                let ch = slice.chars().next().unwrap_or('?');
                let mut d = Diagnostic::new(Code::E0001, format!("unexpected character `{ch}`"))
                    .label(span, "no token starts with this character");
                d = match ch {
                    '\'' => d.help("strings use double quotes: \"…\""),
                    ';' => {
                        d.help("isf needs no semicolons: end the entry with a new line or a comma")
                    }
                    '#' => d.help("comments start with // (or /* … */)"),
                    '%' => d.help("write percentages as fractions, e.g. 0.25"),
                    _ => d,
                };
                diags.push(d);
            }
            Some(Token::UnterminatedString) => diags.push(
                Diagnostic::new(Code::E0002, "unterminated string literal")
                    .label(span, "this string has no closing quote on its line")
                    .help("add a closing \" (strings cannot span lines; use \\n for a newline)"),
            ),
            Some(Token::UnterminatedComment) => diags.push(
                Diagnostic::new(Code::E0005, "unterminated block comment")
                    .label(
                        Span::new(file, lx.start, lx.start + 2),
                        "this comment is never closed",
                    )
                    .help("close it with */"),
            ),
            Some(Token::MalformedNumber) => diags.push(
                Diagnostic::new(Code::E0004, format!("malformed number `{slice}`"))
                    .label(span, "this is not a valid number")
                    .note("numbers look like 3, 0.5, 2.43e-5 or 1E3")
                    .help(if slice.ends_with(['+', '-', 'e', 'E']) {
                        "an exponent needs digits, e.g. 1e-3"
                    } else {
                        "a number has at most one decimal point"
                    }),
            ),
            Some(Token::String) => {
                if let Err((off, len, msg)) = unescape(&slice[1..slice.len() - 1]) {
                    let s = lx.start + 1 + off;
                    diags.push(
                        Diagnostic::new(Code::E0003, "invalid escape sequence in string")
                            .label(Span::new(file, s, s + len), msg)
                            .note("valid escapes: \\\" \\\\ \\n \\t \\r \\0 \\u{XXXX}"),
                    );
                }
            }
            _ => {}
        }
    }
    diags
}

/// Decode the escapes of a string body. On error: (byte offset, length, message).
pub fn unescape(body: &str) -> Result<String, (usize, usize, String)> {
    let mut out = String::with_capacity(body.len());
    let mut it = body.char_indices().peekable();
    while let Some((i, c)) = it.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        let Some((_, e)) = it.next() else {
            return Err((
                i,
                1,
                "a backslash must be followed by an escape character".into(),
            ));
        };
        match e {
            '"' => out.push('"'),
            '\\' => out.push('\\'),
            'n' => out.push('\n'),
            't' => out.push('\t'),
            'r' => out.push('\r'),
            '0' => out.push('\0'),
            'u' => {
                let rest = &body[i + 2..];
                let close = rest.find('}');
                let parsed = match (rest.starts_with('{'), close) {
                    (true, Some(end)) => u32::from_str_radix(&rest[1..end], 16)
                        .ok()
                        .and_then(char::from_u32)
                        .map(|ch| (ch, end)),
                    _ => None,
                };
                match parsed {
                    Some((ch, end)) => {
                        out.push(ch);
                        // skip "{XXXX}"
                        for _ in 0..=end {
                            it.next();
                        }
                    }
                    None => {
                        return Err((
                            i,
                            2 + close.map_or(0, |e| e + 1),
                            "expected a unicode escape like \\u{00B5}".into(),
                        ));
                    }
                }
            }
            other => {
                return Err((
                    i,
                    1 + other.len_utf8(),
                    format!("`\\{other}` is not a known escape"),
                ));
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(s: &str) -> Vec<Option<Token>> {
        lex(s).into_iter().map(|l| l.token).collect()
    }

    #[test]
    fn quantities_and_units() {
        use Token::*;
        assert_eq!(
            kinds("3.26e-5 S/cm2"),
            vec![Some(Number), Some(Ident), Some(Slash), Some(Ident)]
        );
        assert_eq!(
            kinds("1..5"),
            vec![Some(Number), Some(DotDot), Some(Number)]
        );
        assert_eq!(kinds("1.2.3"), vec![Some(MalformedNumber)]);
        assert_eq!(kinds("1e+"), vec![Some(MalformedNumber)]);
        assert_eq!(kinds("2em"), vec![Some(Number), Some(Ident)]);
    }

    #[test]
    fn strings_comments_and_errors() {
        use Token::*;
        assert_eq!(kinds(r#""a\"b""#), vec![Some(String)]);
        assert_eq!(
            kinds("\"abc\nx"),
            vec![Some(UnterminatedString), Some(Ident)]
        );
        assert_eq!(
            kinds("/* a * b */ x"),
            vec![Some(BlockComment), Some(Ident)]
        );
        assert_eq!(kinds("/* a "), vec![Some(UnterminatedComment)]);
        assert_eq!(kinds("a // c"), vec![Some(Ident), Some(LineComment)]);
        assert_eq!(kinds("@"), vec![None]);
        assert_eq!(kinds("neurons neuron"), vec![Some(Ident), Some(KwNeuron)]);
    }

    #[test]
    fn escapes() {
        assert_eq!(unescape(r"a\n\u{B5}m").unwrap(), "a\nµm");
        assert!(unescape(r"\q").is_err());
        assert!(unescape(r"\u{zz}").is_err());
    }
}
