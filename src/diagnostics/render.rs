//! Rendering diagnostics: ariadne for humans, JSON for tools.
//!
//! This is the only module that knows ariadne. Colour is used only when asked for (the CLI asks
//! when stderr is a terminal), so captured output and snapshots are plain text.

use super::{Code, Diagnostic, Severity};
use crate::source::{FileId, SourceMap};
use ariadne::{Config, IndexType, Label, Report, ReportKind};
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};

/// At most this many diagnostics of one code are printed for humans.
pub const MAX_PER_CODE: usize = 20;
/// At most this many diagnostics are printed for humans in all.
pub const MAX_TOTAL: usize = 100;

/// ariadne's view of the files the diagnostics point into, built once per batch: building it
/// scans the whole text, so one per diagnostic would make rendering quadratic.
struct Files {
    cache: HashMap<String, ariadne::Source<String>>,
}

impl Files {
    fn new(diags: &[&Diagnostic], sources: &SourceMap) -> Files {
        let mut cache = HashMap::new();
        for l in diags.iter().flat_map(|d| &d.labels) {
            let src = sources.get(l.span.file);
            cache
                .entry(src.name.clone())
                .or_insert_with(|| ariadne::Source::from(src.text.clone()));
        }
        Files { cache }
    }
}

impl ariadne::Cache<String> for &Files {
    type Storage = String;

    fn fetch(&mut self, id: &String) -> Result<&ariadne::Source<String>, impl std::fmt::Debug> {
        self.cache.get(id).ok_or("source not registered")
    }

    fn display<'b>(&self, id: &'b String) -> Option<impl std::fmt::Display + 'b> {
        Some(id.clone())
    }
}

/// Render one diagnostic as human-readable text.
pub fn human(diag: &Diagnostic, sources: &SourceMap, color: bool) -> String {
    human_with(diag, sources, color, &Files::new(&[diag], sources))
}

/// Render a batch of diagnostics for humans, in linear time and bounded output: after
/// [`MAX_PER_CODE`] diagnostics of one code or [`MAX_TOTAL`] in all, the rest are counted in
/// one closing line per code ("… and 49,990 more E0001 errors").
pub fn human_all(diags: &[Diagnostic], sources: &SourceMap, color: bool) -> String {
    let mut shown: Vec<&Diagnostic> = Vec::new();
    let mut per_code: HashMap<Code, usize> = HashMap::new();
    let mut hidden: BTreeMap<Code, usize> = BTreeMap::new();
    for d in diags {
        let n = per_code.entry(d.code).or_default();
        if *n < MAX_PER_CODE && shown.len() < MAX_TOTAL {
            *n += 1;
            shown.push(d);
        } else {
            *hidden.entry(d.code).or_default() += 1;
        }
    }
    let files = Files::new(&shown, sources);
    let mut out = String::new();
    for d in shown {
        out += &human_with(d, sources, color, &files);
    }
    for (code, n) in hidden {
        let what = if code.as_str().starts_with('W') {
            "warning"
        } else {
            "error"
        };
        out += &format!(
            "… and {} more {} {what}{}\n",
            thousands(n),
            code.as_str(),
            if n == 1 { "" } else { "s" }
        );
    }
    out
}

/// `49990` as `49,990`.
fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn human_with(diag: &Diagnostic, sources: &SourceMap, color: bool, files: &Files) -> String {
    let kind = match diag.severity {
        Severity::Error => ReportKind::Error,
        Severity::Warning => ReportKind::Warning,
    };
    let mut out = Vec::new();
    // Spans are byte offsets; ariadne's byte mode mishandles spans that end inside a multi-byte
    // character and headers of labels in another file, so it is given char offsets.
    let cfg = Config::default()
        .with_color(color)
        .with_index_type(IndexType::Char);
    let chars = |f: FileId, r: std::ops::Range<usize>| {
        let src = sources.get(f);
        // ariadne has no line after a final newline: show the end of the text on the last line.
        let end = src.text.len() - usize::from(src.text.ends_with('\n'));
        let r = r.start.min(end)..r.end.min(end.max(r.start.min(end)));
        let start = src.char_offset(r.start);
        (src.name.clone(), start..src.char_offset(r.end).max(start))
    };
    match diag.primary_span() {
        Some(primary) => {
            let mut b = Report::build(kind, chars(primary.file, primary.range()))
                .with_config(cfg)
                .with_code(diag.code.as_str())
                .with_message(&diag.message);
            for (i, l) in diag.labels.iter().enumerate() {
                let mut label = Label::new(chars(l.span.file, l.span.range()))
                    .with_message(&l.message)
                    .with_order(i as i32);
                if i == 0 {
                    label = label.with_priority(1);
                }
                b = b.with_label(label);
            }
            for n in &diag.notes {
                b = b.with_note(n);
            }
            for h in &diag.hints {
                b = b.with_help(h);
            }
            if b.finish().write(files, &mut out).is_err() {
                return plain(diag, sources);
            }
        }
        None => return plain(diag, sources),
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A compact one-block rendering without source excerpts (used when a span is missing).
pub fn plain(diag: &Diagnostic, sources: &SourceMap) -> String {
    let sev = match diag.severity {
        Severity::Error => "error",
        Severity::Warning => "warning",
    };
    let mut s = format!("[{}] {}: {}\n", diag.code.as_str(), sev, diag.message);
    for l in &diag.labels {
        let src = sources.get(l.span.file);
        let (line, col) = src.line_col(l.span.start as usize);
        s += &format!("  --> {}:{}:{}: {}\n", src.name, line, col, l.message);
    }
    for n in &diag.notes {
        s += &format!("  = note: {n}\n");
    }
    for h in &diag.hints {
        s += &format!("  = help: {h}\n");
    }
    s
}

#[derive(Serialize)]
struct JsonLabel<'a> {
    file: &'a str,
    start: u32,
    end: u32,
    line: usize,
    column: usize,
    message: &'a str,
}

#[derive(Serialize)]
struct JsonDiag<'a> {
    code: &'static str,
    severity: Severity,
    message: &'a str,
    labels: Vec<JsonLabel<'a>>,
    notes: &'a [String],
    /// Every hint, in order.
    hints: &'a [String],
    /// The first hint (the field older tools read).
    help: Option<&'a str>,
}

/// Render diagnostics as a JSON array (one object per diagnostic, line/column 1-based).
pub fn json(diags: &[Diagnostic], sources: &SourceMap) -> String {
    let list: Vec<JsonDiag> = diags
        .iter()
        .map(|d| JsonDiag {
            code: d.code.as_str(),
            severity: d.severity,
            message: &d.message,
            labels: d
                .labels
                .iter()
                .map(|l| {
                    let src = sources.get(l.span.file);
                    let (line, column) = src.line_col(l.span.start as usize);
                    JsonLabel {
                        file: &src.name,
                        start: l.span.start,
                        end: l.span.end,
                        line,
                        column,
                        message: &l.message,
                    }
                })
                .collect(),
            notes: &d.notes,
            hints: &d.hints,
            help: d.hints.first().map(String::as_str),
        })
        .collect();
    serde_json::to_string_pretty(&list).unwrap_or_else(|_| "[]".into())
}
