//! Rendering diagnostics: ariadne for humans, JSON for tools.
//!
//! This is the only module that knows ariadne. Colour is used only when asked for (the CLI asks
//! when stderr is a terminal), so captured output and snapshots are plain text.

use super::{Diagnostic, Severity};
use crate::source::SourceMap;
use ariadne::{Config, IndexType, Label, Report, ReportKind};
use serde::Serialize;

/// Render one diagnostic as human-readable text.
pub fn human(diag: &Diagnostic, sources: &SourceMap, color: bool) -> String {
    let kind = match diag.severity {
        Severity::Error => ReportKind::Error,
        Severity::Warning => ReportKind::Warning,
    };
    let mut out = Vec::new();
    let cfg = Config::default()
        .with_color(color)
        .with_index_type(IndexType::Byte);
    match diag.primary_span() {
        Some(primary) => {
            let name = |f: crate::source::FileId| sources.get(f).name.clone();
            let mut b = Report::build(kind, (name(primary.file), primary.range()))
                .with_config(cfg)
                .with_code(diag.code.as_str())
                .with_message(&diag.message);
            for (i, l) in diag.labels.iter().enumerate() {
                let mut label = Label::new((name(l.span.file), l.span.range()))
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
            if let Some(h) = &diag.help {
                b = b.with_help(h);
            }
            let files: Vec<(String, String)> = {
                let mut ids: Vec<_> = diag.labels.iter().map(|l| l.span.file).collect();
                ids.sort();
                ids.dedup();
                ids.iter()
                    .map(|&f| (name(f), sources.get(f).text.clone()))
                    .collect()
            };
            let cache = ariadne::sources(files);
            if b.finish().write(cache, &mut out).is_err() {
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
    if let Some(h) = &diag.help {
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
            help: d.help.as_deref(),
        })
        .collect();
    serde_json::to_string_pretty(&list).unwrap_or_else(|_| "[]".into())
}
