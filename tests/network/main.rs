//! Stage network (`network/`, `mapper/`, `run/receptors.rs`): typed networks from `.isf` and
//! `.param`, placement, receptors, declared synapses, the input mapper, and network runs.
//!
//! One test binary per stage; each module is one former `tests/*.rs` file. Run this stage
//! with `cargo test --release --test network`, one file of it with
//! `cargo test --release --test network MODULE::` (see tests/README.md).

#[path = "../common/mod.rs"]
mod common;

mod conformance;
mod declared_synapses;
mod mapper;
mod param_vs_isf;
mod receptor_kinds;
mod run_network;
mod sweep_kinds;
