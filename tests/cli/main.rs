//! Stage cli (`cli/`, `repl/`, `app.rs`): the `isf` binary's exit codes and output, the cell
//! inspection commands, and the REPL through a pseudo-terminal.
//!
//! One test binary per stage; each module is one former `tests/*.rs` file. Run this stage
//! with `cargo test --release --test cli`, one file of it with
//! `cargo test --release --test cli MODULE::` (see tests/README.md).

#[path = "../common/mod.rs"]
mod common;

mod binary;
mod inspect;
mod repl_pty;
