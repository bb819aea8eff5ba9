//! The `isf` binary as the tests run it: the command Cargo built for this test run, and its
//! output as text. (`CARGO_BIN_EXE_isf` is set for every integration test binary.)

use std::path::Path;
use std::process::{Command, Output};

/// A command for the built `isf` binary.
pub fn isf() -> Command {
    Command::new(env!("CARGO_BIN_EXE_isf"))
}

/// Run `isf ARGS` in the current directory and wait for it.
pub fn output(args: &[&str]) -> Output {
    isf().args(args).output().expect("isf runs")
}

/// Stdout and stderr as text.
pub fn text(o: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

/// The exit code (-1 when a signal ended the process), stdout and stderr.
pub fn status(o: &Output) -> (i32, String, String) {
    let (out, err) = text(o);
    (o.status.code().unwrap_or(-1), out, err)
}

/// Run `isf ARGS`; the exit code, stdout and stderr.
pub fn run(args: &[&str]) -> (i32, String, String) {
    status(&output(args))
}

/// Run `isf ARGS` from the package root (paths such as `tests/diagnostics/…` resolve).
pub fn run_at_root(args: &[&str]) -> (i32, String, String) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    status(
        &isf()
            .args(args)
            .current_dir(root)
            .output()
            .expect("isf runs"),
    )
}
