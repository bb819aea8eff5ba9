//! The commands of the command-line interface, one module each (arguments and `run`). The
//! argument parser and the dispatch are in [`crate::app`], above both the commands and the
//! REPL (whose `:db`, `:analyze`, `:plot` and `:plan` reuse these commands).

pub mod analyze;
pub mod check;
pub mod convert;
pub mod db;
pub mod fmt;
pub mod inspect;
pub mod map;
pub mod morph;
pub mod plan;
pub mod plot;
pub mod reduce;
pub mod run;
pub mod submit;

use crate::diagnostics::{Diagnostic, render};
use crate::model::{ExperimentModel, Model};
use std::path::Path;

/// Print a diagnostic that has no source text (options, stores, schedulers) to standard
/// error; the exit code 1.
pub(crate) fn fail(d: &Diagnostic) -> i32 {
    eprint!("{}", render::plain(d, &crate::source::SourceMap::new()));
    1
}

/// The experiments `--experiment NAME` selects: that one, or every experiment of the model.
pub(crate) fn selected_experiments<'m>(
    model: &'m Model,
    name: Option<&String>,
) -> Vec<&'m ExperimentModel> {
    model
        .experiments
        .iter()
        .filter(|e| name.is_none_or(|n| *n == e.name))
        .collect()
}

/// The message when [`selected_experiments`] is empty: "no experiment [named `X`] to VERB in
/// FILE".
pub(crate) fn no_experiment(verb: &str, name: Option<&String>, file: &Path) -> String {
    format!(
        "no experiment{} to {verb} in {}",
        name.map(|n| format!(" named `{n}`")).unwrap_or_default(),
        file.display()
    )
}
