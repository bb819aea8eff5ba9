//! `isf convert FILE.param [-o FILE] [--name NAME]`: print an ISF cell parameter file as a
//! readable isf `neuron` declaration (see [`crate::lower::isf_param`] for what is accepted), or
//! an ISF network parameter file (one with a `network` entry and no `neuron`) as a `network`
//! declaration (see [`crate::network::network_param_to_isf`]).

use crate::lower::isf_param::{convert_file, neuron_name_for};
use clap::Args;
use std::path::PathBuf;

/// Arguments of `isf convert`.
#[derive(Args, Debug)]
#[command(after_help = "\
Cell files become a `neuron`, network files (a `network` entry, no `neuron`) a `network` with \
one population per presynaptic cell type and column. Paths in the output (morphology, .syn and \
.con files) are relative to the directory of the output file with -o, and to the current \
directory when printing to stdout. A cell imports std.channels.hay2011.* and uses the named \
distribution builtins (uniform_range, exponential, …). Unknown or unsupported keys are errors \
(E0803); `info` and the run settings of `sim` (dt, tStop, recordingSites) become comments.

Examples:\n  isf convert 86_C2_center.param -o l5pt.isf && isf check l5pt.isf\n  \
isf convert network.param -o c2_network.isf --name C2")]
pub struct ConvertArgs {
    /// ISF cell or network parameter file (.param).
    pub file: PathBuf,
    /// Write the result here instead of stdout.
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Name of the declaration (default: from the file name).
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
    let root = crate::formats::param::read_param_file(&args.file);
    let is_network =
        matches!(&root, Ok(r) if r.get("network").is_some() && r.get("neuron").is_none());
    let result = if is_network {
        let file = args.file.display().to_string();
        let param_dir = args
            .file
            .parent()
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("."));
        root.and_then(|r| crate::network::param::network_from_param(&r, &file, &param_dir, &name))
            .map_err(|e| vec![e])
            .and_then(|net| {
                crate::network::to_isf::network_to_isf(&net, &out_dir).map_err(|m| {
                    vec![crate::formats::FileError::new(
                        crate::diagnostics::Code::E0802,
                        m,
                        &file,
                        0,
                        0,
                    )]
                })
            })
            .map(|body| format!("// Converted by `isf convert` from {file}.\n\n{body}"))
    } else {
        convert_file(&args.file, &out_dir, &name)
    };
    match result {
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
