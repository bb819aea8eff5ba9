//! Loud skips. A test whose inputs are missing (the conformance data, Python modules) must not
//! pass silently: under CI (`CI=true` or `CI=1`) it fails and names what is missing; elsewhere
//! it prints a `SKIPPED` line that shows in the default `cargo test` output.
//!
//! The harness captures only the `print!`/`eprint!` family (through the standard library's
//! output-capture hook); writing to the process's stderr handle bypasses it, so the line is
//! visible next to `test … ok`.

use std::io::Write;
use std::path::{Path, PathBuf};

/// How to provide the conformance data, for every message about it.
pub const CONFORMANCE_HINT: &str = "set ISF_CONFORMANCE to the conformance folder \
     (the one holding inputs/ and outputs/), or put the shared data next to the repository \
     as ../shared/conformance";

/// True under CI (`CI` is `true` or `1`): a missing input fails the test.
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v.eq_ignore_ascii_case("true") || v == "1")
}

/// Skip the calling test because `what` is missing; `fix` says how to provide it. Under CI
/// this panics (the test fails); otherwise it writes one uncaptured `SKIPPED` line.
#[track_caller]
pub fn skip(what: &str, fix: &str) {
    let test = std::thread::current()
        .name()
        .unwrap_or("a test")
        .to_string();
    if in_ci() {
        panic!("{test}: {what}; {fix} (CI is set, so a missing input fails instead of skipping)");
    }
    let at = std::panic::Location::caller();
    // Straight to the stderr handle: `eprintln!` would be captured and hidden.
    let _ = writeln!(
        std::io::stderr(),
        "SKIPPED {test} ({}:{}): {what}; {fix}",
        at.file(),
        at.line()
    );
}

/// True when every path exists; otherwise a loud [`skip`] naming the first missing one
/// (`what` says what it is, e.g. "conformance data") and the `ISF_CONFORMANCE` hint.
#[track_caller]
pub fn require_data(what: &str, paths: &[&Path]) -> bool {
    match paths.iter().find(|p| !p.exists()) {
        None => true,
        Some(missing) => {
            let env = std::env::var_os("ISF_CONFORMANCE").map_or_else(
                || "ISF_CONFORMANCE is not set".to_string(),
                |v| format!("ISF_CONFORMANCE={}", Path::new(&v).display()),
            );
            skip(
                &format!("{what} not found: {} ({env})", missing.display()),
                CONFORMANCE_HINT,
            );
            false
        }
    }
}

/// `$ISF_CONFORMANCE`, or `../shared/conformance` next to the crate.
pub fn conformance_dir() -> PathBuf {
    std::env::var_os("ISF_CONFORMANCE")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/conformance"))
}
