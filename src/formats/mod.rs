//! Readers for ISF's legacy file formats (`.param`, `.syn`, `.con`, landmark files, synapse
//! activations, presynaptic cells, voltage traces, AmiraMesh scalar fields, the input mapper's
//! tables) and plain spike-time CSV files; writers for the formats the input mapper produces.
//!
//! Legacy files are not registered in the [`crate::source::SourceMap`] (they can be large and
//! are never shown with carets), so their errors carry a plain `file:line:column` location in
//! a [`FileError`] instead of a span.

pub mod activation;
pub mod amira;
pub mod con;
pub mod landmark;
pub mod mapper_tables;
pub mod param;
pub mod presynaptic;
pub mod spike_times;
pub mod syn;
pub mod traces;

use crate::diagnostics::{Code, Diagnostic};
use serde::Serialize;
use std::fmt;

/// A located error in a legacy input file (morphology, `.param`, …).
///
/// `line` and `column` are 1-based; `0` means "the whole file" (e.g. an I/O error or a
/// problem that has no single location, such as a missing soma).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FileError {
    /// Stable diagnostic code (E07xx morphology, E08xx parameter files).
    pub code: Code,
    /// One line, lower case, no trailing period.
    pub message: String,
    /// File name as given by the caller (may be a pseudo name such as `<string>`).
    pub file: String,
    /// 1-based line, 0 if not applicable.
    pub line: usize,
    /// 1-based column (in characters), 0 if not applicable.
    pub column: usize,
}

impl FileError {
    /// A new error at `line:column` of `file`.
    pub fn new(
        code: Code,
        message: impl Into<String>,
        file: &str,
        line: usize,
        column: usize,
    ) -> FileError {
        FileError {
            code,
            message: message.into(),
            file: file.to_string(),
            line,
            column,
        }
    }

    /// `file:line:col` (or `file:line`, or `file` when the position is unknown).
    pub fn location(&self) -> String {
        match (self.line, self.column) {
            (0, _) => self.file.clone(),
            (l, 0) => format!("{}:{}", self.file, l),
            (l, c) => format!("{}:{}:{}", self.file, l, c),
        }
    }

    /// Convert into a span-less [`Diagnostic`] whose message starts with the location, for
    /// rendering alongside diagnostics of source files that are in the source map.
    pub fn to_diagnostic_plain(&self) -> Diagnostic {
        Diagnostic::new(self.code, format!("{}: {}", self.location(), self.message))
    }
}

impl fmt::Display for FileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "error[{}]: {}: {}",
            self.code.as_str(),
            self.location(),
            self.message
        )
    }
}

impl std::error::Error for FileError {}

/// A comma-separated list of times in ms as ISF writes them (`12.5,148.25,`: each time followed
/// by a comma; empty items are skipped). Every time must be a finite number, and not below 0
/// unless `negative` is allowed. The error is the message for the field; `what` names one item
/// (`activation time`, `spike time`).
pub fn time_list(field: &str, what: &str, negative: bool) -> Result<Vec<f64>, String> {
    let mut times = Vec::new();
    for s in field.split(',') {
        let s = s.trim();
        if s.is_empty() {
            continue;
        }
        let t: f64 = s
            .parse()
            .map_err(|_| format!("{what} `{s}` is not a number"))?;
        if !t.is_finite() || (!negative && t < 0.0) {
            let rule = if negative {
                "finite"
            } else {
                "finite and ≥ 0"
            };
            return Err(format!("{what} {t} ms: times must be {rule}"));
        }
        times.push(t);
    }
    Ok(times)
}
