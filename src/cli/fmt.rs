//! `isf fmt`: rewrite `.isf` files in canonical form (see [`crate::syntax::pretty`]).
//!
//! Files are replaced atomically (a temporary file in the same directory, then a rename).
//! `--check` only reports which files would change. `-` formats standard input to standard
//! output. Exit code: 0 when all is well, 1 on a parse error, an I/O error, or (with
//! `--check`) when some file is not formatted.

use crate::diagnostics::render;
use crate::source::{Origin, SourceMap};
use crate::syntax::{parser, pretty};
use clap::Args;
use std::io::{IsTerminal, Read};
use std::path::PathBuf;

/// Arguments of `isf fmt`.
#[derive(Args, Debug)]
pub struct FmtArgs {
    /// Files to format; `-` reads standard input and writes standard output.
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// Do not write anything: print the names of files that would change and exit 1 if any.
    #[arg(long)]
    pub check: bool,
}

/// Format `text`; on a parse error print the diagnostics and return `None`.
fn format_text(name: &str, origin: Origin, text: String) -> Option<String> {
    let mut sources = SourceMap::new();
    let id = sources.add(origin, name, text);
    let src = &sources.get(id).text;
    let parsed = parser::parse_file(id, src);
    if !parsed.diagnostics.is_empty() {
        let color = std::io::stderr().is_terminal();
        eprint!(
            "{}",
            render::human_all(&parsed.diagnostics, &sources, color)
        );
        return None;
    }
    Some(pretty::format_file(&parsed.file, src))
}

/// Run `isf fmt`; returns the exit code.
pub fn run(args: FmtArgs) -> i32 {
    let mut code = 0;
    for path in &args.files {
        if path.as_os_str() == "-" {
            let mut text = String::new();
            if let Err(e) = std::io::stdin().read_to_string(&mut text) {
                eprintln!("error: cannot read standard input: {e}");
                code = 1;
                continue;
            }
            let Some(out) = format_text("<stdin>", Origin::Virtual("<stdin>".into()), text.clone())
            else {
                code = 1;
                continue;
            };
            if args.check {
                if out != text {
                    println!("<stdin>");
                    code = 1;
                }
            } else {
                print!("{out}");
            }
            continue;
        }
        let name = path.display().to_string();
        let text = match crate::files::read_text(path, crate::files::SCRIPT_LIMIT) {
            Ok(t) => t,
            Err(e) => {
                eprintln!("error: cannot read {name}: {e}");
                code = 1;
                continue;
            }
        };
        let Some(out) = format_text(&name, Origin::Path(path.clone()), text.clone()) else {
            code = 1;
            continue;
        };
        if out == text {
            continue;
        }
        if args.check {
            println!("{name}");
            code = 1;
        } else if let Err(e) = crate::files::write_atomic(path, out.as_bytes()) {
            eprintln!("error: cannot write {name}: {e}");
            code = 1;
        }
    }
    code
}
