//! The Python interpreter of the tests that run the store reader: the virtualenv `.ci/run`
//! creates (`/tmp/isf-venv`, with `pip install ./python` and the analysis packages), or
//! `ISF_PYTHON`. Without one the calling test skips loudly (fails under CI, see [`skip`]).
//!
//! The reader is imported from the working tree (`python/src` first on `PYTHONPATH`), so a
//! stale install never hides a change; the quick-start test instead uses the installed
//! package and checks that it is this tree's.
//!
//! [`skip`]: super::skip

use std::path::{Path, PathBuf};
use std::process::Command;

/// Where `.ci/run` creates the virtualenv.
pub const VENV_PYTHON: &str = "/tmp/isf-venv/bin/python";

/// How to make the interpreter, for every message about it.
pub const PYTHON_HINT: &str = "run `python3 -m venv /tmp/isf-venv && /tmp/isf-venv/bin/pip install ./python \
     pandas xarray numpy pyarrow scikit-learn` (what .ci/run does), or set ISF_PYTHON to a python \
     with those packages";

/// The interpreter: `ISF_PYTHON` when set, else the `.ci/run` virtualenv when it exists.
pub fn interpreter() -> Option<PathBuf> {
    match std::env::var_os("ISF_PYTHON") {
        Some(p) => Some(PathBuf::from(p)),
        None => Some(PathBuf::from(VENV_PYTHON)).filter(|p| p.exists()),
    }
}

/// The working tree's package source (`python/src`).
pub fn package_src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("python/src")
}

/// The interpreter when it imports every module of `modules`; otherwise a loud skip naming
/// what is missing (a failure under CI) and `None`.
#[track_caller]
pub fn ready(modules: &[&str]) -> Option<PathBuf> {
    let Some(py) = interpreter() else {
        super::skip::skip(
            &format!("no Python for the store reader ({VENV_PYTHON} missing, ISF_PYTHON unset)"),
            PYTHON_HINT,
        );
        return None;
    };
    let imports = modules.join(", ");
    let out = Command::new(&py)
        .args(["-c", &format!("import {imports}")])
        .env("PYTHONPATH", package_src())
        .output();
    match out {
        Ok(o) if o.status.success() => Some(py),
        Ok(o) => {
            super::skip::skip(
                &format!(
                    "{} cannot import {imports}: {}",
                    py.display(),
                    String::from_utf8_lossy(&o.stderr).trim()
                ),
                PYTHON_HINT,
            );
            None
        }
        Err(e) => {
            super::skip::skip(
                &format!("{} is not runnable ({e})", py.display()),
                PYTHON_HINT,
            );
            None
        }
    }
}

/// A command running `py` with the working tree's package first on `PYTHONPATH`.
pub fn command(py: &Path) -> Command {
    let mut c = Command::new(py);
    c.env("PYTHONPATH", package_src());
    c
}
