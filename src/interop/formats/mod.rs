//! Readers for ISF's file formats (`.param`, `.syn`, `.con`, landmark files, synapse
//! activations, presynaptic cells, voltage traces) and plain spike-time CSV files; writers for
//! the `.syn`/`.con` files the input mapper produces and for activation files.
//!
//! This is the lowest part of [`crate::interop`]: it depends only on [`crate::files`],
//! [`crate::diagnostics`] and [`crate::morph`] (cell `.param` values are morphology types), so
//! the network, the checker and the runner can read ISF's files without depending on the
//! converters above them. Legacy files are not registered in the [`crate::source::SourceMap`]
//! (they can be large and are never shown with carets), so their errors carry a plain
//! `file:line:column` location in a [`crate::files::FileError`] instead of a span.

pub mod activation;
pub mod con;
pub mod landmark;
pub mod param;
pub mod presynaptic;
pub mod spike_times;
pub mod syn;
pub mod traces;

/// A comma-separated list of times in ms as ISF writes them (`12.5,148.25,`: each time followed
/// by a comma; empty items are skipped). Every time must be a finite number, and not below 0
/// unless `negative` is allowed. The error is the message for the field; `what` names one item
/// (`activation time`, `spike time`).
pub fn time_list(field: &str, what: &str, negative: bool) -> Result<Vec<f64>, String> {
    let mut times = Vec::new();
    for s in field.split(',') {
        let s = s.trim();
        if s.is_empty() {
            continue;
        }
        let t: f64 = s
            .parse()
            .map_err(|_| format!("{what} `{s}` is not a number"))?;
        if !t.is_finite() || (!negative && t < 0.0) {
            let rule = if negative {
                "finite"
            } else {
                "finite and ≥ 0"
            };
            return Err(format!("{what} {t} ms: times must be {rule}"));
        }
        times.push(t);
    }
    Ok(times)
}
