//! isf: a language and engine for simulating reconstructed neurons under in-vivo-like input.
//!
//! Pipeline: source text → tokens ([`syntax::lexer`], logos) → AST ([`syntax::parser`], pest)
//! → checked values ([`sema`], names and physical dimensions) → lowered [`model`] (plain `f64`
//! in canonical units, content-hashed) → [`validate`] (what needs the lowered cell or a
//! compiled synapse) → simulation ([`sim`]) → store. See `ARCHITECTURE.md`
//! for the module map and invariants.

// Unit tests include the test fixtures of `tests/common` (written against `isf::…`).
#[cfg(test)]
extern crate self as isf;

pub mod analysis;
pub mod app;
pub mod cli;
pub mod diagnostics;
pub mod files;
pub mod interop;
pub mod kernel;
pub mod lower;
pub mod mapper;
pub mod model;
pub mod morph;
pub mod network;
pub mod plot;
pub mod reduce;
pub mod repl;
pub mod rng;
pub mod rules;
pub mod run;
pub mod sema;
pub mod sim;
pub mod source;
pub mod stdlib;
pub mod store;
pub mod syntax;
pub mod units;
pub mod validate;
