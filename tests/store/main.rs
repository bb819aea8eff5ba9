//! Stage store (`store/`): the store API, `isf db`, the committed golden stores, repair,
//! damaged files, and table export.
//!
//! One test binary per stage; each module is one former `tests/*.rs` file. Run this stage
//! with `cargo test --release --test store`, one file of it with
//! `cargo test --release --test store MODULE::` (see tests/README.md).

#[path = "../common/mod.rs"]
mod common;

mod api;
mod cli;
mod export_tables;
mod golden;
mod repair;
mod robust;
