//! Stage cell (`morph/`, `lower/`): morphology readers and NEURON-exact discretization, and the
//! lowered per-compartment biophysics, against the NEURON/ISF reference tables.
//!
//! One test binary per stage; each module is one former `tests/*.rs` file. Run this stage
//! with `cargo test --release --test cell`, one file of it with
//! `cargo test --release --test cell MODULE::` (see tests/README.md).

#[path = "../common/mod.rs"]
mod common;

mod lower_conformance;
mod morph_conformance;
mod morph_errors;
mod parse_cache;
