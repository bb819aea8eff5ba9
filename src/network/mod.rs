//! Networks: typed presynaptic populations, synapse placement and per-trial input
//! (spec 04). Event delivery into the cell and the receptor kernels live in [`crate::sim`].
//!
//! Pipeline: an ISF network `.param` ([`crate::interop::network_param::isf_network_param`]) or an `.isf` `network`
//! block ([`lower::from_model`]) → [`types::Network`]; with the anatomy files and the cell's
//! morphology → [`prepared::PreparedNetwork`] (every synapse placed once, spec 04 §4.5);
//! synapses declared by count (`synapses: N`, no anatomy) are placed at random by path length
//! once per experiment ([`declared`]);
//! per trial seed → [`activity::TrialInput`] (presynaptic spikes, active synapses, release
//! times, weights). Recorded activations (ISF `simulation_run*_synapses.csv`) replay through
//! [`crate::interop::replay`]; [`crate::interop::replay::trial_input`] also takes spike-time CSVs and anatomy-free networks
//! (`experiment { replay: … }`).

pub mod activity;
pub mod declared;
pub mod lower;
pub mod placement;
pub mod prepared;
pub mod receptors;
pub mod types;

pub use activity::{ActiveSynapse, TrialInput, generate_trial, generate_trials};
pub use placement::{Placement, Placer};
pub use prepared::{Anatomy, PreparedNetwork};
pub use types::*;
