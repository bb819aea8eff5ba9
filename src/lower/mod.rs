//! Lowering beyond the checked [`crate::model`]: from a neuron description to compartments.
//!
//! * [`cell`]: [`cell::build_cell`] reads the morphology, appends the generated axon, sets
//!   Ra/cm per region, discretizes, evaluates every mechanism parameter at every compartment
//!   centre (the three ISF distance conventions of spec 01 §1.6), applies cell modifications
//!   and returns a [`cell::LoweredCell`] — the hand-over to the simulation kernel.
//! * [`isf_param`]: translation of an ISF cell parameter file (`.param`) into readable isf
//!   source (`isf convert`, and `neuron X = isf_param("…")`, which checks that very text).

pub mod cell;
pub mod isf_param;
