//! `isf convert FILE.param [-o FILE] [--name NAME]`: print an ISF cell parameter file as a
//! readable isf `neuron` declaration (see [`crate::interop::cell_param`] for what is accepted), or
//! an ISF network parameter file (one with a `network` entry and no `neuron`) as a `network`
//! declaration (see [`crate::interop::to_isf::network_param_to_isf`]).

use crate::diagnostics::Code;
use crate::files::FileError;
use crate::interop::cell_param::{
    Catalogue, Place, convert_file_with, identifier_for, identifier_problem, mechanisms_in_text,
    relative_to,
};
use clap::Args;
use std::path::PathBuf;

/// Arguments of `isf convert`.
#[derive(Args, Debug)]
#[command(after_help = "\
Cell files become a `neuron`, network files (a `network` entry, no `neuron`) a `network` with \
one population per presynaptic cell type and column. Paths in the output (morphology, .syn and \
.con files) are relative to the directory of the output file with -o, and to the current \
directory when printing to stdout. A cell's mechanisms are looked up in the files given with \
--import (their own declarations, in order), then in the stdlib (std.channels.hay2011, \
std.channels.isf_extra); the output imports what it uses and writes the named distribution \
builtins (uniform_range, exponential, …). An unknown mechanism is E0811 and names every place \
looked in. Unknown or unsupported keys are errors (E0803); `info` and the run settings of `sim` \
(dt, tStop, recordingSites) become comments. The declaration name comes from --name or from \
the file name (other characters become `_`, a reserved word gets a capital: network.param \
→ `Network`); a --name that is not a valid name is E0812.

Examples:\n  isf convert 86_C2_center.param -o l5pt.isf && isf check l5pt.isf\n  \
isf convert fitted.param --import my_channels.isf -o fitted.isf\n  \
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
    /// An .isf file whose mechanisms are looked up before the stdlib (repeatable; the
    /// output imports it).
    #[arg(long = "import", value_name = "FILE.isf")]
    pub imports: Vec<PathBuf>,
}

/// The lookup places of `--import` files, then the stdlib; E0813 for a file that cannot
/// be used.
fn catalogue(imports: &[PathBuf], out_dir: &std::path::Path) -> Result<Catalogue, Vec<FileError>> {
    let mut cat = Catalogue::default();
    let mut errors = Vec::new();
    for f in imports {
        let shown = f.display().to_string();
        let fail = |m: String| FileError::new(Code::E0813, m, &shown, 0, 0);
        if f.extension().is_none_or(|e| e != "isf") {
            errors.push(fail("not an .isf script: --import names .isf files".into()));
            continue;
        }
        let text = match crate::files::read_text(f, crate::files::SCRIPT_LIMIT) {
            Ok(t) => t,
            Err(e) => {
                errors.push(fail(format!("cannot read the mechanism file: {e}")));
                continue;
            }
        };
        let mechs = mechanisms_in_text(&text);
        if mechs.is_empty() {
            errors.push(fail(
                "declares no density mechanism (`mechanism NAME : density { … }`)".into(),
            ));
            continue;
        }
        let rel = relative_to(f, out_dir).replace('\\', "/");
        cat.places.push(Place {
            name: shown.clone(),
            import: Some(format!("{rel:?}")),
            mechs,
        });
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    cat.places
        .extend(crate::interop::cell_param::stdlib_places());
    Ok(cat)
}

/// Run `isf convert`; exit 1 when the file has errors or the output cannot be written.
pub fn run(args: ConvertArgs) -> i32 {
    let file = args.file.display().to_string();
    if let Some(n) = &args.name
        && let Some(problem) = identifier_problem(n)
    {
        eprintln!(
            "{}",
            FileError::new(Code::E0812, format!("--name: {problem}"), &file, 0, 0)
        );
        return 1;
    }
    let out_dir = match &args.output {
        Some(o) => o
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(".")),
        None => PathBuf::from("."),
    };
    let root = crate::interop::formats::param::read_param_file(&args.file);
    let is_network =
        matches!(&root, Ok(r) if r.get("network").is_some() && r.get("neuron").is_none());
    let result = if is_network {
        let name = args
            .name
            .clone()
            .unwrap_or_else(|| identifier_for(&args.file, "net"));
        let param_dir = args
            .file
            .parent()
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("."));
        root.and_then(|r| {
            crate::interop::network_param::network_from_param(&r, &file, &param_dir, &name)
        })
        .map_err(|e| vec![e])
        .and_then(|net| {
            crate::interop::to_isf::network_to_isf(&net, &out_dir).map_err(|m| {
                vec![crate::files::FileError::new(
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
        let name = args
            .name
            .clone()
            .unwrap_or_else(|| identifier_for(&args.file, "cell"));
        catalogue(&args.imports, &out_dir)
            .and_then(|cat| convert_file_with(&args.file, &out_dir, &name, &cat))
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
