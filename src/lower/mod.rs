//! Lowering beyond the checked [`crate::model`]: from a neuron description to compartments.
//!
//! * [`cell`]: [`cell::build_cell`] reads the morphology, appends the generated axon, sets
//!   Ra/cm per region, discretizes, evaluates every mechanism parameter at every compartment
//!   centre (the three ISF distance conventions of spec 01 §1.6), applies cell modifications
//!   and returns a [`cell::LoweredCell`] — the hand-over to the simulation kernel.

pub mod cell;
