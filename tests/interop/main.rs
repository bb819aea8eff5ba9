//! Stage interop (`interop/`): `isf convert` of ISF cell files, the template-v2 cell, replayed
//! input, and `isf db import-isf` of ISF simrun folders.
//!
//! One test binary per stage; each module is one former `tests/*.rs` file. Run this stage
//! with `cargo test --release --test interop`, one file of it with
//! `cargo test --release --test interop MODULE::` (see tests/README.md).

#[path = "../common/mod.rs"]
mod common;

mod convert;
mod convert_lookup;
mod import_isf;
mod replay_run;
mod template_v2;
