//! The rustyline helper: highlighting from the logos lexer, continuation from the parser's
//! incomplete-input signal, completion of commands, keywords, names, units, mechanism
//! parameters and the fields and blocks of the declaration being typed, and a hint with a
//! field's documentation once its name is typed (both from [`crate::sema::decls`]).

use super::{COMMANDS, Session};
use crate::morph::REGIONS;
use crate::sema::builtins::{POSITION_VARS, SIGNATURES};
use crate::sema::decls;
use crate::syntax::highlight::{HighlightTag, highlight};
use crate::syntax::lexer::{self, CONTEXTUAL, KEYWORDS, Token};
use rustyline::completion::{Completer, Pair};
use rustyline::highlight::{CmdKind, Highlighter};
use rustyline::hint::{Hint, Hinter};
use rustyline::validate::{ValidationContext, ValidationResult, Validator};
use rustyline::{Context, Helper};
use std::borrow::Cow;
use std::collections::BTreeMap;

/// What completion can offer; refreshed from the session after every input.
#[derive(Clone, Debug, Default)]
pub struct Words {
    /// Declared and imported names.
    pub names: Vec<String>,
    /// Mechanism name → parameter names.
    pub params: BTreeMap<String, Vec<String>>,
}

impl Words {
    /// Collect the words of a session.
    pub fn of(session: &Session) -> Words {
        Words {
            names: session.names(),
            params: session
                .model()
                .mechanisms
                .iter()
                .map(|m| {
                    (
                        m.name.clone(),
                        m.parameters.iter().map(|p| p.name.clone()).collect(),
                    )
                })
                .collect(),
        }
    }
}

/// The REPL's rustyline helper.
pub struct ReplHelper {
    /// Colour the input (off when stdout is not a terminal or NO_COLOR is set).
    pub color: bool,
    pub words: Words,
}

impl ReplHelper {
    /// A helper with no session words yet.
    pub fn new(color: bool) -> ReplHelper {
        ReplHelper {
            color,
            words: Words::default(),
        }
    }

    /// Candidates for the word ending at `pos`: `(start, candidates)`.
    pub fn candidates(&self, line: &str, pos: usize) -> (usize, Vec<String>) {
        let before = &line[..pos];
        let start = before
            .char_indices()
            .rev()
            .take_while(|(_, c)| c.is_alphanumeric() || matches!(c, '_' | 'µ' | 'μ' | 'Ω'))
            .last()
            .map_or(pos, |(i, _)| i);
        let prefix = &line[start..pos];
        // Commands: at the start of the input.
        if before.trim_start().starts_with(':') && !before.trim_start().contains(' ') {
            let s = before.len() - before.trim_start().len();
            let typed = &before[s..];
            return (
                s,
                COMMANDS
                    .iter()
                    .filter(|c| c.starts_with(typed))
                    .map(|c| c.to_string())
                    .collect(),
            );
        }
        let mut out: Vec<String> = Vec::new();
        let lx = lexer::lex(&before[..start]);
        let prev = lx.last();
        let after_number = prev.is_some_and(|p| {
            p.token == Some(Token::Number)
                && before[p.end..start].chars().all(|c| c == ' ' || c == '\t')
        });
        let block = enclosing_block(&before[..start]);
        if after_number {
            out.extend(crate::units::common_unit_names());
        } else if let Some(mech) = &block
            && let Some(ps) = self.words.params.get(mech)
        {
            // Inside `pas { … }`: the mechanism's parameters first.
            out.extend(ps.iter().cloned());
        } else if let Some(s) = block.as_deref().and_then(block_schema) {
            // Inside a declaration or block: its fields and blocks, as the checker takes them.
            out.extend(s.field_names().chain(s.block_names()).map(String::from));
            if s.kind == "neuron" {
                out.extend(REGIONS.iter().map(|r| r.0.to_string()));
            }
            if s.kind == "region" {
                out.extend(self.words.params.keys().cloned());
            }
        } else {
            out.extend(KEYWORDS.iter().map(|s| s.to_string()));
            out.extend(CONTEXTUAL.iter().map(|s| s.to_string()));
            out.extend(self.words.names.iter().cloned());
            out.extend(SIGNATURES.iter().map(|s| s.name.to_string()));
            out.extend(POSITION_VARS.iter().map(|p| p.0.to_string()));
            out.extend(REGIONS.iter().map(|r| r.0.to_string()));
        }
        out.retain(|w| w.starts_with(prefix) && w != prefix);
        out.sort();
        out.dedup();
        (start, out)
    }
}

/// The schema of a block head as [`enclosing_block`] names it: a declaration kind, a block
/// with a fixed head, or a region of a neuron.
fn block_schema(head: &str) -> Option<&'static decls::DeclSchema> {
    if REGIONS.iter().any(|r| r.0 == head) {
        return Some(&decls::REGION);
    }
    decls::schema(head).filter(|s| s.kind != "region")
}

/// The documentation of the field whose name (and optional `:`) ends the text, in the
/// innermost declaration or block; shown as a hint after the cursor.
pub fn field_doc(text: &str) -> Option<String> {
    let t = text.trim_end_matches([' ', ':']);
    let start = t
        .char_indices()
        .rev()
        .take_while(|(_, c)| c.is_alphanumeric() || *c == '_')
        .last()
        .map(|(i, _)| i)?;
    let word = &t[start..];
    let schema = block_schema(&enclosing_block(&t[..start])?)?;
    decls::hover(schema.kind, word)
}

/// The head of the innermost open `{` block: `pas` in `soma { pas { g: 1 S/cm2, `; for
/// `KIND NAME {` (`neuron A {`, `population P {`) the kind when it has a schema.
fn enclosing_block(text: &str) -> Option<String> {
    let lx = lexer::lex(text);
    let mut stack: Vec<Option<String>> = Vec::new();
    for (i, l) in lx.iter().enumerate() {
        match l.token {
            Some(Token::LBrace) => {
                let word = |back: usize| {
                    i.checked_sub(back)
                        .map(|j| lx[j])
                        .filter(|p| p.token.is_some())
                        .map(|p| text[p.start..p.end].to_string())
                };
                let name = word(1).filter(|_| lx[i - 1].token == Some(Token::Ident));
                let kind = word(2).filter(|k| name.is_some() && decls::schema(k).is_some());
                stack.push(kind.or(name));
            }
            Some(Token::RBrace) => {
                stack.pop();
            }
            _ => {}
        }
    }
    stack.pop().flatten()
}

/// ANSI colour of a tag.
fn ansi(tag: HighlightTag) -> &'static str {
    match tag {
        HighlightTag::LineComment | HighlightTag::BlockComment => "\x1b[90m",
        HighlightTag::Keyword | HighlightTag::Contextual | HighlightTag::LogicalOperator => {
            "\x1b[35m"
        }
        HighlightTag::Constant | HighlightTag::Number => "\x1b[36m",
        HighlightTag::Unit => "\x1b[32m",
        HighlightTag::String => "\x1b[33m",
        HighlightTag::DeclName => "\x1b[1;34m",
        HighlightTag::Function => "\x1b[34m",
        HighlightTag::Operator => "\x1b[0m",
        HighlightTag::Invalid => "\x1b[31;4m",
    }
}

/// The line with ANSI colours from [`highlight`] (same display width as the input).
pub fn colorize(line: &str) -> String {
    let mut out = String::with_capacity(line.len() * 2);
    let mut at = 0;
    for h in highlight(line) {
        out.push_str(&line[at..h.start]);
        out.push_str(ansi(h.tag));
        out.push_str(&line[h.start..h.end]);
        out.push_str("\x1b[0m");
        at = h.end;
    }
    out.push_str(&line[at..]);
    out
}

/// Inputs longer than this (bytes) are not coloured: re-lexing the whole input on every
/// keystroke would make typing (or a paste without bracketed-paste support) quadratic.
const HIGHLIGHT_MAX: usize = 4096;

impl Highlighter for ReplHelper {
    fn highlight<'l>(&self, line: &'l str, _pos: usize) -> Cow<'l, str> {
        if !self.color || line.len() > HIGHLIGHT_MAX || line.trim_start().starts_with(':') {
            return Cow::Borrowed(line);
        }
        Cow::Owned(colorize(line))
    }

    fn highlight_char(&self, line: &str, _pos: usize, _kind: CmdKind) -> bool {
        self.color && line.len() <= HIGHLIGHT_MAX
    }
}

impl Validator for ReplHelper {
    fn validate(&self, ctx: &mut ValidationContext) -> rustyline::Result<ValidationResult> {
        let input = ctx.input();
        // An empty last line submits an unfinished input, so its error shows and the user is
        // never stuck in continuation.
        let last_line_blank = input
            .rsplit_once('\n')
            .is_some_and(|(_, last)| last.trim().is_empty());
        if last_line_blank {
            return Ok(ValidationResult::Valid(None));
        }
        Ok(if Session::is_incomplete(input) {
            ValidationResult::Incomplete
        } else {
            ValidationResult::Valid(None)
        })
    }
}

impl Completer for ReplHelper {
    type Candidate = Pair;

    fn complete(
        &self,
        line: &str,
        pos: usize,
        _ctx: &Context<'_>,
    ) -> rustyline::Result<(usize, Vec<Pair>)> {
        let (start, words) = self.candidates(line, pos);
        Ok((
            start,
            words
                .into_iter()
                .map(|w| Pair {
                    display: w.clone(),
                    replacement: w,
                })
                .collect(),
        ))
    }
}

/// A hint that is only shown: accepting it (→) inserts nothing.
pub struct DocHint(String);

impl Hint for DocHint {
    fn display(&self) -> &str {
        &self.0
    }

    fn completion(&self) -> Option<&str> {
        None
    }
}

impl Hinter for ReplHelper {
    type Hint = DocHint;

    fn hint(&self, line: &str, pos: usize, _ctx: &Context<'_>) -> Option<DocHint> {
        if pos != line.len() || !line.ends_with(':') && !line.ends_with(": ") {
            return None;
        }
        field_doc(line).map(|d| DocHint(format!("  # {d}")))
    }
}

impl Helper for ReplHelper {}

#[cfg(test)]
mod tests {
    use super::*;

    fn helper() -> ReplHelper {
        let mut h = ReplHelper::new(false);
        h.words.names = vec!["L5PT".into(), "tau".into()];
        h.words
            .params
            .insert("pas".into(), vec!["g".into(), "e".into()]);
        h
    }

    #[test]
    fn completes_units_keywords_names_params_and_commands() {
        let h = helper();
        let (s, c) = h.candidates("1 m", 3);
        assert_eq!(s, 2);
        assert!(c.contains(&"mV".to_string()) && c.contains(&"ms".to_string()));
        let (_, c) = h.candidates("neu", 3);
        assert_eq!(c, vec!["neuron"]);
        let (_, c) = h.candidates("ta", 2);
        assert_eq!(c, vec!["tanh", "tau"]);
        let (_, c) = h.candidates("neuron A { soma { pas { ", 23);
        assert_eq!(c, vec!["e", "g"]);
        let (s, c) = h.candidates(":lo", 3);
        assert_eq!((s, c), (0, vec![":load".to_string()]));
        // The random draws of synapse event blocks are builtins too.
        let (_, c) = h.candidates("expr", 4);
        assert_eq!(c, vec!["exprand"]);
        let (_, c) = h.candidates("unir", 4);
        assert_eq!(c, vec!["unirand"]);
    }

    #[test]
    fn completes_and_documents_declaration_fields() {
        let h = helper();
        let (_, c) = h.candidates("experiment E {\n  dur", 19);
        assert_eq!(c, vec!["duration"]);
        let (_, c) = h.candidates("experiment E {\n  st", 18);
        assert!(c.contains(&"stimulus".to_string()) && c.contains(&"store".to_string()));
        let (_, c) = h.candidates("network N { population P { rel", 30);
        assert_eq!(c, vec!["release_probability"]);
        let (_, c) = h.candidates("neuron A { soma { R", 19);
        assert_eq!(c, vec!["Ra"]);
        let (_, c) = h.candidates("neuron A { ap", 13);
        assert_eq!(c, vec!["apical_dendrite"]);
        let doc = field_doc("experiment E {\n  duration:").unwrap();
        assert!(doc.contains("> 0 (E0314)"), "{doc}");
        assert!(
            field_doc("neuron A { soma { cm: ")
                .unwrap()
                .contains("capacitance")
        );
        assert!(field_doc("duration:").is_none());
    }

    #[test]
    fn colorize_keeps_the_text() {
        let line = "neuron A { v_init: -75 mV } // x";
        let c = colorize(line);
        assert!(c.contains("\x1b[35mneuron"));
        let stripped: String = {
            let mut s = String::new();
            let mut esc = false;
            for ch in c.chars() {
                match (esc, ch) {
                    (false, '\x1b') => esc = true,
                    (true, 'm') => esc = false,
                    (true, _) => {}
                    (false, c) => s.push(c),
                }
            }
            s
        };
        assert_eq!(stripped, line);
    }
}
