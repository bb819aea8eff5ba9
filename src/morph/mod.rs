//! Morphologies: readers for `.hoc` and SWC, discretization and NEURON-compatible geometry.

pub mod cell;
