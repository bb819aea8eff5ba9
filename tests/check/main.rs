//! Stage check (`sema/`, `diagnostics/`, `rules.rs`): every diagnostic case produces its codes
//! (snapshot-tested), the declaration schemas agree with the checker, shipped scripts check
//! clean, hostile and fuzzed input gives coded errors, and resource limits hold.
//!
//! One test binary per stage; each module is one former `tests/*.rs` file. Run this stage
//! with `cargo test --release --test check`, one file of it with
//! `cargo test --release --test check MODULE::` (see tests/README.md).

#[path = "../common/mod.rs"]
mod common;

mod decl_schema;
mod diagnostics;
mod examples;
mod fuzz;
mod hostile_input;
mod limits;
mod rules_agree;
mod validate_pass;
