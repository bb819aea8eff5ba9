//! The standard library: `.isf` files under `stdlib/`, embedded at build time.
//!
//! Module `std.channels.hay2011` is the file `stdlib/channels/hay2011.isf`; diagnostics point
//! into it as `std/channels/hay2011.isf`.

include!(concat!(env!("OUT_DIR"), "/stdlib_table.rs"));

/// Source of a stdlib module by its dotted path after `std` (e.g. `["channels", "hay2011"]`).
pub fn module(path: &[&str]) -> Option<(String, &'static str)> {
    let rel = format!("{}.isf", path.join("/"));
    FILES
        .iter()
        .find(|(p, _)| *p == rel)
        .map(|(p, text)| (format!("std/{p}"), *text))
}

/// Dotted names of all stdlib modules (for "did you mean").
pub fn module_names() -> Vec<String> {
    FILES
        .iter()
        .map(|(p, _)| format!("std.{}", p.trim_end_matches(".isf").replace('/', ".")))
        .collect()
}
