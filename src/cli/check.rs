//! `isf check FILE...`: parse and check scripts, print diagnostics.

use crate::diagnostics::{Diagnostic, render};
use crate::source::SourceMap;
use clap::{Args, ValueEnum};
use std::io::IsTerminal;
use std::path::PathBuf;

/// Output format of diagnostics.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Human,
    Json,
}

/// Arguments of `isf check`.
#[derive(Args, Debug)]
pub struct CheckArgs {
    /// Scripts to check.
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    /// How to print diagnostics.
    #[arg(long, value_enum, default_value_t = Format::Human)]
    pub format: Format,
    /// Treat warnings as errors.
    #[arg(long)]
    pub deny_warnings: bool,
}

/// Print diagnostics to stderr (human) or stdout (json).
pub fn emit(diags: &[Diagnostic], sources: &SourceMap, format: Format) {
    match format {
        Format::Json => println!("{}", render::json(diags, sources)),
        Format::Human => {
            let color = std::io::stderr().is_terminal();
            eprint!("{}", render::human_all(diags, sources, color));
        }
    }
}

/// Run `isf check`; exit 0 when clean, 1 on errors.
pub fn run(args: CheckArgs) -> i32 {
    let mut failed = false;
    let mut all_json = Vec::new();
    for f in &args.files {
        let checked = crate::validate::check_path(f);
        let errors = checked.diagnostics.iter().filter(|d| d.is_error()).count();
        let warnings = checked.diagnostics.len() - errors;
        if args.format == Format::Json {
            let v: serde_json::Value =
                serde_json::from_str(&render::json(&checked.diagnostics, &checked.sources))
                    .unwrap_or_default();
            all_json.push(serde_json::json!({"file": f.display().to_string(), "diagnostics": v}));
        } else {
            emit(&checked.diagnostics, &checked.sources, Format::Human);
            if errors == 0 {
                eprintln!("{}: ok ({warnings} warnings)", f.display());
            } else {
                eprintln!("{}: {errors} errors, {warnings} warnings", f.display());
            }
        }
        if errors > 0 || (args.deny_warnings && warnings > 0) {
            failed = true;
        }
    }
    if args.format == Format::Json {
        println!(
            "{}",
            serde_json::to_string_pretty(&all_json).unwrap_or_default()
        );
    }
    i32::from(failed)
}
