//! Stage syntax (`syntax/`, `grammar/`, `editors/`): the lexer and the pest grammar agree, the
//! printer round-trips, the front end never panics on arbitrary text, and every editor grammar
//! shares the one keyword list.
//!
//! One test binary per stage; each module is one former `tests/*.rs` file. Run this stage
//! with `cargo test --release --test syntax`, one file of it with
//! `cargo test --release --test syntax MODULE::` (see tests/README.md).

#[path = "../common/mod.rs"]
mod common;

mod editor_keywords;
mod editor_treesitter;
mod fmt_roundtrip;
mod lexer_agreement;
mod robustness;
