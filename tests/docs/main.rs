//! Stage docs: what the documentation states holds: `docs/` examples check, the reference
//! tables are current, the analysis tutorial is a real transcript, and ARCHITECTURE.md's
//! layers are kept.
//!
//! One test binary per stage; each module is one former `tests/*.rs` file. Run this stage
//! with `cargo test --release --test docs`, one file of it with
//! `cargo test --release --test docs MODULE::` (see tests/README.md).

#[path = "../common/mod.rs"]
mod common;

mod examples;
mod layering;
mod reference;
mod tutorial_analysis;
