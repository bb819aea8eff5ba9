//! Stage run (`run/`): work items, sweeps and their schema, recordings and declared precision,
//! resume after a kill, and SLURM submission.
//!
//! One test binary per stage; each module is one former `tests/*.rs` file. Run this stage
//! with `cargo test --release --test run`, one file of it with
//! `cargo test --release --test run MODULE::` (see tests/README.md).

#[path = "../common/mod.rs"]
mod common;

mod lanes;
mod precision;
mod recordings;
mod resume;
mod slurm_submit;
mod sweep_schema;
mod sweeps;
