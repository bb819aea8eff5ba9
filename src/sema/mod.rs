//! Semantic analysis: names, imports, physical dimensions and declaration schemas.
//!
//! [`check::check_path`] runs the checker on a script and returns diagnostics plus the lowered
//! [`crate::model::Model`], with the checks that need the lowered cell or a compiled synapse
//! left pending: `crate::validate::check_path` runs both, and is the front end the commands use.

pub mod builtins;
pub mod check;
pub mod decls;
pub mod eval;
pub mod sweep;
pub mod typed;
pub mod value;

pub use check::Checked;
