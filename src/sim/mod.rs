//! The cable: NEURON's node layout and the Hines solve, used by the one engine
//! ([`crate::kernel::ActiveCell`]).
//!
//! * [`tree`]: [`CableTree`], NEURON's node layout built from the morphology hand-over
//!   [`CellGeometry`](crate::morph::cell::CellGeometry), stored by section and eliminated level
//!   by level (its [`tree::Elimination`]), structure of arrays;
//! * [`hines`]: the O(n) tree solve;
//! * [`error`]: [`SimError`], geometry and voltage failures (E0501/E0502).

pub mod error;
pub mod hines;
pub mod tree;

pub use error::SimError;
pub use tree::{CableTree, NodeId, NodeKind, NodeOrder};
