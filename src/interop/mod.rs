//! Interoperation with ISF (the Python In Silico Framework): everything that reads, writes or
//! translates ISF's files lives here, so a contributor finds the legacy formats in one place.
//!
//! * [`formats`]: readers (and a few writers) of ISF's files — cell and network `.param`,
//!   `.syn`, `.con`, synapse activations, presynaptic cells, voltage traces, spike-time CSVs,
//!   landmarks — with located errors ([`crate::files::FileError`]).
//! * [`cell_param`]: an ISF cell `.param` → readable isf source (`isf convert`, and
//!   `neuron X = isf_param("…")`, which checks that very text).
//! * [`network_param`]: an ISF network `.param` → typed [`crate::network::Network`]
//!   (`isf_network_param("…")`); [`to_isf`]: the same file → an `.isf` `network` block
//!   (`isf convert`).
//! * [`replay`]: recorded input (ISF activation files, spike-time CSVs) → per-trial input.
//! * [`simrun_import`]: ISF simrun result folders → a results store (`isf db import-isf`).
//!
//! The receptor names of ISF's mechanisms (`glutamate_syn`, `gaba_syn`, …) and whether they
//! excite or inhibit are one table, [`crate::network::receptors`], used by both the `.isf`
//! and the `.param` path.
//!
//! The folder is not one layer of the pipeline (see `ARCHITECTURE.md`, "Layers"): the readers
//! sit low (the network and the runner read `.syn`/`.con` and replay files through them), the
//! cell converter sits below the checker (which runs it for `isf_param(…)`), the network
//! converters and replay sit just above the network, and the import sits above the runner
//! and the store. `tests/docs/layering.rs` checks each file against its own layer.

pub mod cell_param;
pub mod formats;
pub mod network_param;
pub mod replay;
pub mod simrun_import;
pub mod to_isf;
