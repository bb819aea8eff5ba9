//! Stage solver (`sim/`, `kernel/`): closed-form cable results, the Hines solve, the engine's
//! conventions, the mechanisms and synapses, and the NEURON conformance cases S0–S4.
//!
//! One test binary per stage; each module is one former `tests/*.rs` file. Run this stage
//! with `cargo test --release --test solver`, one file of it with
//! `cargo test --release --test solver MODULE::` (see tests/README.md).

#[path = "../common/mod.rs"]
mod common;

mod analytic;
mod conformance_current;
mod conformance_isf;
mod conformance_s3;
mod conformance_s3_isf;
mod conformance_s4;
mod engine;
mod hines;
mod isf_extra_mechanisms;
mod lanes;
mod native_kernels;
mod step_golden;
mod stochastic_synapses;
mod synapse_language;
mod synapse_s4;
