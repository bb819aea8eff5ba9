//! The commands of the command-line interface, one module each (arguments and `run`). The
//! argument parser and the dispatch are in [`crate::app`], above both the commands and the
//! REPL (whose `:db`, `:analyze`, `:plot` and `:plan` reuse these commands).

pub mod analyze;
pub mod check;
pub mod convert;
pub mod db;
pub mod fmt;
pub mod inspect;
pub mod map;
pub mod morph;
pub mod plan;
pub mod plot;
pub mod reduce;
pub mod run;
pub mod submit;
