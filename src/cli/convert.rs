//! `isf convert CELL.param [-o FILE] [--name NAME]`: print an ISF cell parameter file as a
//! readable isf `neuron` declaration (see [`crate::lower::isf_param`] for what is accepted).

use crate::lower::isf_param::{convert_file, neuron_name_for};
use clap::Args;
use std::path::PathBuf;

/// Arguments of `isf convert`.
#[derive(Args, Debug)]
#[command(after_help = "\
Paths in the output (the morphology) are relative to the directory of FILE with -o, and to \
the current directory when printing to stdout. The result imports std.channels.hay2011.* and \
uses the named distribution builtins (uniform_range, exponential, …). Unknown or unsupported \
keys are errors (E0803); `info` and the run settings of `sim` (dt, tStop, recordingSites) \
become comments.

Example:\n  isf convert 86_C2_center.param -o l5pt.isf && isf check l5pt.isf")]
pub struct ConvertArgs {
    /// ISF cell parameter file (.param).
    pub file: PathBuf,
    /// Write the result here instead of stdout.
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Name of the neuron declaration (default: from the file name).
    #[arg(long)]
    pub name: Option<String>,
}

/// Run `isf convert`; exit 1 when the file has errors or the output cannot be written.
pub fn run(args: ConvertArgs) -> i32 {
    let name = args
        .name
        .clone()
        .unwrap_or_else(|| neuron_name_for(&args.file));
    let out_dir = match &args.output {
        Some(o) => o
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(".")),
        None => PathBuf::from("."),
    };
    match convert_file(&args.file, &out_dir, &name) {
        Ok(text) => match &args.output {
            Some(o) => match std::fs::write(o, text) {
                Ok(()) => 0,
                Err(e) => {
                    eprintln!("error: cannot write {}: {e}", o.display());
                    1
                }
            },
            None => {
                print!("{text}");
                0
            }
        },
        Err(errs) => {
            for e in &errs {
                eprintln!("{e}");
            }
            1
        }
    }
}
