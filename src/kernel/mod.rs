//! Mechanism kernels: [`MechModel`](crate::model::MechModel)s compiled to fast columnar code,
//! and [`ActiveCell`], a cable tree with such kernels, ions and electrodes advanced with
//! NEURON's fixed-step scheme.
//!
//! * [`dag`]: expression DAG from the lowered [`Ex`](crate::model::ex::Ex) trees — constant
//!   folding, unit factors floated out and merged, common-subexpression elimination
//!   (hash-consing), symbolic derivatives;
//! * [`vexp`]: vectorisable `exp` and `ln`;
//! * [`program`]: columnar bytecode over chunks of instances (structure of arrays);
//! * [`native`]: fused native kernels generated from the standard library's programs, picked
//!   by fingerprint in place of the bytecode (bit-identical);
//! * `direct`: the native kernels' in-place variant — inputs read and currents added where they
//!   live, for chunks of instances on consecutive nodes (bit-identical);
//! * [`mechanism`]: one mechanism on all its compartments (currents with `∂i/∂v`, `cnexp`
//!   state updates, initialisation);
//! * [`cell`]: [`ActiveCell`], the one engine — ions (fixed `ena`/`ek`, Nernst `eca` where a
//!   calcium pool writes `cai`), IClamp electrodes and EPSP currents (`std.stimuli`'s `epsp`,
//!   see [`Epsp`]), the step loop on node-ordered arrays, NaN/runaway diagnostics, [`Trace`];
//!   trials side by side in SIMD lanes ([`ActiveCell::with_lanes`], each lane bit-identical to
//!   its trial run alone);
//! * [`spikes`]: the one spike-detection rule (NEURON's fixed-step `NetCon` convention);
//! * [`synapse`]: synapse mechanisms declared in the language (`: synapse`), merged per
//!   compartment where exact, with release-event delivery
//!   ([`ActiveCell::add_synapses`]);
//!
//! ```no_run
//! use isf::kernel::{ActiveCell, CellConfig, MechPlacement};
//! # fn demo(tree: isf::sim::CableTree, pas: &isf::model::MechModel) -> Result<(), isf::kernel::KernelError> {
//! let n = tree.n_segments();
//! let placements = [MechPlacement {
//!     mechanism: pas,
//!     segments: (0..n).collect(),
//!     params: [("g".to_string(), vec![3e-5; n])].into_iter().collect(),
//! }];
//! let mut cell = ActiveCell::new(tree, &placements, &[], CellConfig::default())?;
//! cell.add_iclamp(0, 0.5, 100.0, 150.0, 0.5)?;
//! let soma = cell.tree().node_at(0, 0.5);
//! let trace = cell.run(12_000, &[soma])?;
//! # let _ = trace; Ok(()) }
//! ```

pub mod cell;
pub mod dag;
pub(crate) mod direct;
pub mod error;
pub mod mechanism;
pub mod native;
pub mod program;
pub mod spikes;
pub mod synapse;
pub mod vexp;

/// Revision of the engine's arithmetic: bumped whenever results change in their last bits
/// (the model and every conformance figure unchanged). Plans carry it (`numerics`), so a
/// `--resume` never mixes trials computed by two revisions; the difference is small but not
/// zero, and chaotic network activity can amplify it over long runs.
///
/// * 1 — up to issue 16's node order and in-place kernels;
/// * 2 — `vexp::exp` and `vexp::ln` with fused multiply-adds (issue 16): traces moved by at
///   most 8.9e-9 mV on the conformance cases, spike times unchanged.
pub const NUMERICS: u32 = 2;

pub use cell::{
    ActiveCell, CellConfig, Epsp, IClamp, MechPlacement, Profile, Trace, stdlib_pas, steps_for,
};
pub use error::KernelError;
pub use mechanism::CompiledMech;

/// Synthetic geometries (the test fixture of `tests/common`), for the kernel's and the
/// synapse's unit tests.
#[cfg(test)]
#[path = "../../tests/common/synth.rs"]
#[allow(dead_code)]
pub(crate) mod test_synth;
#[cfg(test)]
mod tests;
