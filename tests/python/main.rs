//! Stage python (`python/`): the `isf_store` package reads what isf writes, and the documented
//! Python quick start works. Needs the `.ci/run` virtualenv or `ISF_PYTHON`.
//!
//! One test binary per stage; each module is one former `tests/*.rs` file. Run this stage
//! with `cargo test --release --test python`, one file of it with
//! `cargo test --release --test python MODULE::` (see tests/README.md).

#[path = "../common/mod.rs"]
mod common;

mod parquet;
mod quickstart;
mod store_reader;
