//! Semantic analysis: names, imports, physical dimensions and declaration schemas.
//!
//! [`check::check_path`] runs the whole front end on a script and returns diagnostics plus the
//! lowered [`crate::model::Model`].

pub mod builtins;
pub mod check;
pub mod decls;
pub mod eval;
pub mod sweep;
pub mod typed;
pub mod value;

pub use check::{Checked, check_path, check_text};
