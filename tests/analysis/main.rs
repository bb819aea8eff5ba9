//! Stage analysis (`analysis/`, `plot/`, `reduce/`): `isf analyze`, `isf plot` and the reduced
//! models (LDA, GLM).
//!
//! One test binary per stage; each module is one former `tests/*.rs` file. Run this stage
//! with `cargo test --release --test analysis`, one file of it with
//! `cargo test --release --test analysis MODULE::` (see tests/README.md).

#[path = "../common/mod.rs"]
mod common;

mod analyze_plot;
mod analyze_s4;
mod reduce_glm;
mod reduce_glm_plot;
mod reduce_glm_s4;
mod reduce_lda;
