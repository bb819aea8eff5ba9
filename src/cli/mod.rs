//! Command-line interface: argument definitions (clap) and dispatch.
//!
//! Exit codes: 0 success, 1 errors in the user's input, 2 usage errors (clap's own).

use clap::{Parser, Subcommand};

pub mod fmt;
pub mod morph;

/// isf — simulate reconstructed neurons under in-vivo-like synaptic input.
#[derive(Parser, Debug)]
#[command(name = "isf", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Inspect a morphology: sections or segments as a table, CSV or JSON.
    Morph(morph::MorphArgs),
    /// Format .isf files in place (canonical layout, comments kept).
    #[command(
        after_help = "Examples:\n  isf fmt model.isf stdlib/*.isf\n  isf fmt --check examples/*.isf\n  cat model.isf | isf fmt -"
    )]
    Fmt(fmt::FmtArgs),
}

/// Parse arguments, run the command and return the process exit code.
pub fn main() -> i32 {
    let cli = Cli::parse();
    match cli.command {
        Command::Morph(args) => morph::run(args),
        Command::Fmt(args) => fmt::run(args),
    }
}
