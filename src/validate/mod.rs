//! The validate pass: the checks of a script that need the lowered cell or a compiled
//! synapse, run after checking (`sema::check`) on what the checker left pending
//! ([`crate::sema::check::Pending`]). `isf check`, `run`, `plan`, `submit`, `plot`, the cell
//! inspection commands and the REPL check scripts through [`check_path`] and
//! [`check_text`], so whatever `isf check` accepts also lowers and simulates.
//!
//! The checker records each deferred check at the place in its diagnostics where the answer
//! belongs, so the diagnostics come out in the order of a single pass: a neuron's lowering
//! errors right after the neuron's other errors, a synapse's E0504 after its declaration's.
//! Output the checker marked as needing a neuron (a root experiment's typed plan) is dropped
//! when that neuron does not lower, as if it had never been checked.

mod cell;

use crate::diagnostics::Diagnostic;
use crate::sema::check::{self, Check, Checked};
use std::path::Path;

/// Check a script file on disk and validate it: the whole front end.
pub fn check_path(path: &Path) -> Checked {
    let mut checked = check::check_path(path);
    run(&mut checked);
    checked
}

/// Check a script given as text and validate it; relative paths resolve against `base_dir`.
pub fn check_text(name: &str, text: &str, base_dir: &Path) -> Checked {
    let mut checked = check::check_text(name, text, base_dir);
    run(&mut checked);
    checked
}

/// Run the checks the checker left pending, insert their diagnostics where they belong, and
/// take out of the model what does not lower (neurons, synapse mechanisms and the
/// experiments that use them). Leaves `checked.pending` empty.
pub fn run(checked: &mut Checked) {
    let pending = std::mem::take(&mut checked.pending);
    let mut cells = cell::Cells::default();
    // Per check: did it fail?
    let mut failed = vec![false; pending.checks.len()];
    // (index in the checker's diagnostics, diagnostics to insert there), in check order.
    let mut inserts: Vec<(usize, Vec<Diagnostic>)> = Vec::new();
    for (k, d) in pending.checks.iter().enumerate() {
        // A check inside a part is not run when the part's neuron (checked before the part
        // began) does not lower.
        if d.part.is_some_and(|p| failed[pending.parts[p].needs]) {
            continue;
        }
        let diags = match &d.check {
            Check::Synapse {
                mechanism, span, ..
            } => cell::synapse(mechanism, *span).into_iter().collect(),
            Check::Neuron(n) => cells.neuron(n),
            Check::Placement(p) => cells.placement(p),
        };
        failed[k] = crate::diagnostics::has_errors(&diags);
        if !diags.is_empty() {
            inserts.push((d.at, diags));
        }
    }
    let dropped: Vec<bool> = pending.parts.iter().map(|p| failed[p.needs]).collect();
    // The checker's diagnostics, less the dropped parts, with the inserted ones in place.
    let old = std::mem::take(&mut checked.diagnostics);
    let drop_at = |i: usize| {
        pending
            .parts
            .iter()
            .zip(&dropped)
            .any(|(part, &d)| d && part.diagnostics.contains(&i))
    };
    let mut inserts = inserts.into_iter().peekable();
    for (i, diag) in old.into_iter().enumerate() {
        while let Some((_, diags)) = inserts.next_if(|(at, _)| *at <= i) {
            checked.diagnostics.extend(diags);
        }
        if !drop_at(i) {
            checked.diagnostics.push(diag);
        }
    }
    for (_, diags) in inserts {
        checked.diagnostics.extend(diags);
    }
    // The model without what failed: a failing neuron or synapse was never accepted.
    let mut experiments: Vec<usize> = pending
        .parts
        .iter()
        .zip(&dropped)
        .filter_map(|(part, &d)| if d { part.experiment } else { None })
        .collect();
    experiments.sort_unstable();
    for e in experiments.into_iter().rev() {
        checked.model.experiments.remove(e);
        checked.schemas.remove(e);
    }
    let model = &mut checked.model;
    for (name, &c) in &pending.neurons {
        if failed[c] {
            model.neurons.retain(|n| n.name != *name);
        }
    }
    for (d, _) in pending.checks.iter().zip(&failed).filter(|x| *x.1) {
        if let Check::Synapse {
            mechanism,
            root: true,
            ..
        } = &d.check
        {
            model.mechanisms.retain(|m| m.name != mechanism.name);
        }
    }
}
