//! `isf repl`: the interactive frontend over [`crate::repl::Session`].
//!
//! On a terminal it uses rustyline (line editing, history, highlighting, completion, multi-line
//! input). With stdin not a terminal (`isf repl < script`) it reads lines, joining them while
//! the parser says the input is unfinished, so the same inputs work in pipes.

use crate::repl::Session;
use crate::repl::helper::{ReplHelper, Words};
use clap::Args;
use rustyline::error::ReadlineError;
use rustyline::history::FileHistory;
use rustyline::{Config, Editor};
use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;

/// Arguments of `isf repl`.
#[derive(Args, Debug)]
pub struct ReplArgs {
    /// Files to `:load` at the start.
    pub files: Vec<PathBuf>,
    /// Do not read or write the history file.
    #[arg(long)]
    pub no_history: bool,
}

/// `$XDG_STATE_HOME/isf/history`, else `~/.local/state/isf/history`.
pub fn history_path() -> Option<PathBuf> {
    let state = std::env::var_os("XDG_STATE_HOME")
        .filter(|s| !s.is_empty())
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME")
                .filter(|s| !s.is_empty())
                .map(|h| PathBuf::from(h).join(".local/state"))
        })?;
    Some(state.join("isf").join("history"))
}

/// Run the REPL; exit 0 when the user leaves.
pub fn run(args: ReplArgs) -> i32 {
    let interactive = std::io::stdin().is_terminal() && std::io::stdout().is_terminal();
    let color = interactive && std::env::var_os("NO_COLOR").is_none();
    let mut session = Session::new(crate::repl::default_base_dir(), color);
    for f in &args.files {
        let r = session.handle(&format!(":load {}", f.display()));
        print!("{}", r.out);
    }
    if interactive {
        interactive_loop(&mut session, color, args.no_history)
    } else {
        piped_loop(&mut session)
    }
}

fn interactive_loop(session: &mut Session, color: bool, no_history: bool) -> i32 {
    let config = Config::builder()
        .auto_add_history(true)
        .max_history_size(5000)
        .map(|b| b.build())
        .unwrap_or_default();
    let mut rl: Editor<ReplHelper, FileHistory> = match Editor::with_config(config) {
        Ok(rl) => rl,
        Err(e) => {
            eprintln!("isf repl: cannot set up the terminal ({e}); reading plain lines");
            return piped_loop(session);
        }
    };
    rl.set_helper(Some(ReplHelper::new(color)));
    // History never stops the REPL: a missing or unwritable file only loses history.
    let history = if no_history { None } else { history_path() };
    if let Some(h) = &history {
        let _ = rl.load_history(h);
    }
    println!(
        "isf {} — type :help for commands, :quit to leave",
        env!("CARGO_PKG_VERSION")
    );
    loop {
        match rl.readline("isf> ") {
            Ok(line) => {
                let r = session.handle(&line);
                print!("{}", r.out);
                let _ = std::io::stdout().flush();
                if let Some(h) = rl.helper_mut() {
                    h.words = Words::of(session);
                }
                if r.quit {
                    break;
                }
            }
            Err(ReadlineError::Interrupted) => continue,
            // A byte that is not UTF-8 (a stray paste, a binary file dumped into the
            // terminal) discards that line only; the session goes on.
            Err(ReadlineError::Io(e)) if e.kind() == std::io::ErrorKind::InvalidData => {
                println!("{}", not_utf8(None));
                continue;
            }
            Err(ReadlineError::Eof) => break,
            Err(e) => {
                eprintln!("isf repl: {e}");
                break;
            }
        }
    }
    if let Some(h) = &history {
        if let Some(dir) = h.parent() {
            let _ = std::fs::create_dir_all(dir);
        }
        let _ = rl.save_history(h);
    }
    0
}

/// The E0006 message for input that is not UTF-8 (`line`: its number in piped input).
fn not_utf8(line: Option<usize>) -> String {
    let at = line.map(|n| format!(" (line {n})")).unwrap_or_default();
    format!("[E0006] error: input is not valid UTF-8{at}; that line was discarded")
}

/// Piped input: lines joined while unfinished. A line that is not UTF-8 is reported (E0006)
/// and skipped; the exit status is then 1.
fn piped_loop(session: &mut Session) -> i32 {
    let stdin = std::io::stdin();
    let mut input = stdin.lock();
    let mut buf = String::new();
    let mut status = 0;
    let mut raw = Vec::new();
    let mut n = 0usize;
    loop {
        raw.clear();
        match input.read_until(b'\n', &mut raw) {
            Ok(0) => break,
            Ok(_) => {}
            Err(e) => {
                eprintln!("isf repl: cannot read input: {e}");
                return 1;
            }
        }
        n += 1;
        let line = match std::str::from_utf8(&raw) {
            Ok(l) => l.trim_end_matches(['\n', '\r']),
            Err(_) => {
                eprintln!("{}", not_utf8(Some(n)));
                status = 1;
                continue;
            }
        };
        if !buf.is_empty() && line.trim().is_empty() {
            // a blank line ends an unfinished input, as on the terminal
        } else {
            buf.push_str(line);
            if Session::is_incomplete(&buf) {
                buf.push('\n');
                continue;
            }
        }
        let r = session.handle(&buf);
        buf.clear();
        print!("{}", r.out);
        let _ = std::io::stdout().flush();
        if r.quit {
            return status;
        }
    }
    if !buf.trim().is_empty() {
        print!("{}", session.handle(&buf).out);
    }
    status
}
