//! Renderer-independent diagnostics.
//!
//! Every phase (lexer, parser, checker, lowering, solver, store) reports problems as
//! [`Diagnostic`] values with a stable [`Code`], labelled spans, notes and help. Only
//! [`render`] knows how to print them (ariadne for humans, JSON for tools).

pub mod codes;
pub mod render;

pub use codes::Code;

use crate::source::Span;
use serde::Serialize;

/// How bad a diagnostic is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
}

/// A span with a message; the first label of a diagnostic is the primary one.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Label {
    pub span: Span,
    pub message: String,
}

/// One problem found in user input.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Diagnostic {
    pub code: Code,
    pub severity: Severity,
    /// One line, lower case, no trailing period.
    pub message: String,
    pub labels: Vec<Label>,
    /// Background facts ("mV is a voltage").
    pub notes: Vec<String>,
    /// Actionable fixes, in the order they were added ("did you mean `soma`?", "write
    /// `duration: 100 ms`"); each is rendered as its own help line.
    pub hints: Vec<String>,
}

impl Diagnostic {
    /// A diagnostic whose severity follows its code (`E…` error, `W…` warning).
    pub fn new(code: Code, message: impl Into<String>) -> Diagnostic {
        let severity = if code.as_str().starts_with('W') {
            Severity::Warning
        } else {
            Severity::Error
        };
        Diagnostic {
            code,
            severity,
            message: message.into(),
            labels: Vec::new(),
            notes: Vec::new(),
            hints: Vec::new(),
        }
    }

    /// Add a label (the first added is primary).
    pub fn label(mut self, span: Span, message: impl Into<String>) -> Diagnostic {
        self.labels.push(Label {
            span,
            message: message.into(),
        });
        self
    }

    /// Add a note.
    pub fn note(mut self, note: impl Into<String>) -> Diagnostic {
        self.notes.push(note.into());
        self
    }

    /// Add a hint (an actionable fix); a diagnostic may carry several.
    pub fn help(mut self, help: impl Into<String>) -> Diagnostic {
        self.hints.push(help.into());
        self
    }

    /// Add the "did you mean" hint for `name` among `candidates`, when one is close
    /// ([`did_you_mean`]); otherwise leave the diagnostic as it is.
    pub fn suggest<'a>(
        self,
        name: &str,
        candidates: impl IntoIterator<Item = &'a str>,
    ) -> Diagnostic {
        match did_you_mean(name, candidates) {
            Some(h) => self.help(h),
            None => self,
        }
    }

    /// Like [`Diagnostic::suggest`], but when no candidate is close, a note lists them all:
    /// `list` makes it from the names joined by commas (`"parameters: a, b"`).
    pub fn suggest_or_list<'a>(
        self,
        name: &str,
        candidates: impl IntoIterator<Item = &'a str>,
        list: impl FnOnce(&str) -> String,
    ) -> Diagnostic {
        let all: Vec<&str> = candidates.into_iter().collect();
        match did_you_mean(name, all.iter().copied()) {
            Some(h) => self.help(h),
            None => self.note(list(&all.join(", "))),
        }
    }

    /// True for errors (not warnings).
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }

    /// The primary span, if any.
    pub fn primary_span(&self) -> Option<Span> {
        self.labels.first().map(|l| l.span)
    }
}

/// True when any diagnostic is an error.
pub fn has_errors(diags: &[Diagnostic]) -> bool {
    diags.iter().any(Diagnostic::is_error)
}

/// The one "did you mean" sentence of the crate, for `name` among `candidates` (see
/// [`suggest`]): every checker, reader and the REPL word it the same way.
pub fn did_you_mean<'a>(
    name: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<String> {
    suggest(name, candidates).map(did_you_mean_hint)
}

/// "did you mean `x`?" for a suggestion found otherwise (a spelled-out unit, the nearest
/// sweep path): the crate's only wording of the hint.
pub fn did_you_mean_hint(s: &str) -> String {
    format!("did you mean `{s}`?")
}

/// The closest candidate to `name` within a small edit distance (used by [`did_you_mean`]).
pub fn suggest<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let lower = name.to_lowercase();
    let mut best: Option<(f64, &'a str)> = None;
    for c in candidates {
        if c == name {
            continue;
        }
        let score = if c.to_lowercase() == lower {
            1.0
        } else {
            strsim::jaro_winkler(&lower, &c.to_lowercase())
        };
        let close = score >= 0.85 || strsim::damerau_levenshtein(name, c) <= name.len().max(2) / 3;
        if close && best.is_none_or(|(s, _)| score > s) {
            best = Some((score, c));
        }
    }
    best.map(|(_, c)| c)
}
