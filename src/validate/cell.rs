//! The deferred checks themselves: a neuron lowered to its cell (errors located on the
//! neuron's fields, regions and parameters), declared synapses placed on an experiment's
//! neuron, and a synapse mechanism analysed the way the kernel simulates it.

use crate::diagnostics::{Code, Diagnostic};
use crate::lower::cell::{LowerError, build_cell_from, read_morphology};
use crate::model::MechModel;
use crate::morph::Morphology;
use crate::network::declared::{NoPlaceKind, eligible};
use crate::network::{Placer, SynapseSource};
use crate::sema::check::{NeuronCheck, PlacementCheck, PlacementSpans};
use crate::source::Span;
use std::collections::HashMap;

/// A morphology read for lowering, or why it could not be read.
type MorphRead = Result<Morphology, Box<LowerError>>;

/// The morphologies of one validation, by path: each file is read once.
#[derive(Default)]
pub(super) struct Cells {
    morphologies: HashMap<String, MorphRead>,
}

impl Cells {
    /// Lower the neuron: labels the morphology lacks (E0413), densities that are negative or
    /// not finite somewhere (E0414), tested sections the cell lacks (E0419) and unreadable
    /// morphologies (E07xx) are script errors, located where the neuron says what caused them.
    pub(super) fn neuron(&mut self, n: &NeuronCheck) -> Vec<Diagnostic> {
        let morph = self
            .morphologies
            .entry(n.neuron.source.path.clone())
            .or_insert_with(|| read_morphology(&n.neuron))
            .clone()
            .map_err(|e| vec![*e]);
        let Err(errs) = morph.and_then(|m| build_cell_from(&n.neuron, &n.mechanisms, m)) else {
            return Vec::new();
        };
        errs.into_iter().map(|e| located(n, e)).collect()
    }

    /// Declared synapses need a place on the experiment's neuron: every region a
    /// population's `location` lists must exist on the cell (E0413), and the regions within
    /// its `distance` range must have some length (E0415). Checked on the cell as lowered
    /// (with the generated axon).
    pub(super) fn placement(&mut self, p: &PlacementCheck) -> Vec<Diagnostic> {
        let Some(Ok(mut morph)) = self.morphologies.get(&p.neuron.source.path).cloned() else {
            return Vec::new();
        };
        if p.neuron.axon.is_some() {
            morph.add_hay2013_axon();
        }
        let Ok(typed) = crate::network::lower::from_model(&p.network) else {
            return Vec::new();
        };
        let placer = Placer::new(&morph, &[]);
        let labels: Vec<String> = morph
            .sections
            .iter()
            .map(|s| s.label.as_str().to_string())
            .collect();
        let mut out = Vec::new();
        for pop in &typed.populations {
            let SynapseSource::Declared(d) = &pop.synapses else {
                continue;
            };
            if d.count == 0 {
                continue;
            }
            let Err(e) = eligible(&placer, &labels, d) else {
                continue;
            };
            let sp = p.spans.iter().find(|s| s.population == pop.name);
            let at = |f: fn(&PlacementSpans) -> Option<Span>| sp.and_then(f).or(sp.map(|s| s.name));
            let (code, span, what) = match e.kind {
                NoPlaceKind::MissingRegion(_) => {
                    (Code::E0413, at(|s| s.location), "not on this cell")
                }
                NoPlaceKind::Empty => (
                    Code::E0415,
                    at(|s| s.distance.or(s.location)),
                    "no place for synapses here",
                ),
            };
            let mut diag =
                Diagnostic::new(code, format!("population `{}`: {}", pop.name, e.message));
            if let Some(s) = span {
                diag = diag.label(s, what);
            }
            out.push(
                diag.label(p.neuron_at, format!("on the neuron `{}`", p.neuron.name))
                    .note(e.note),
            );
        }
        out
    }
}

/// A lowering error as a diagnostic at the parameter, region or field it concerns.
fn located(n: &NeuronCheck, e: LowerError) -> Diagnostic {
    let region = e.region.as_ref().and_then(|r| n.regions.get(r));
    let param_span = match (region, &e.mechanism, &e.parameter) {
        (Some((_, ps)), Some(m), Some(p)) => ps.get(&(m.clone(), p.clone())).copied(),
        _ => None,
    };
    let (at, label) = match (param_span, region, e.field.as_deref()) {
        (Some(s), _, _) => (s, "this value"),
        (None, Some((s, _)), _) => (*s, "in this region"),
        (None, None, Some("morphology")) => (n.morphology.unwrap_or(n.name), "this morphology"),
        (None, None, Some("modify")) => (n.modify.unwrap_or(n.name), "here"),
        _ => (n.name, "in this neuron"),
    };
    let mut d = Diagnostic::new(e.code, e.message).label(at, label);
    if let Some(note) = e.note {
        d = d.note(note);
    }
    d
}

/// A synapse mechanism the kernel cannot simulate (E0504): its states must follow linear
/// equations with constant coefficients, and its events add to conductance states.
pub(super) fn synapse(mechanism: &MechModel, span: Span) -> Option<Diagnostic> {
    let m = crate::kernel::synapse::SynapseMech::analyse(mechanism).err()?;
    Some(
        Diagnostic::new(
            Code::E0504,
            format!("synapse `{}` cannot be simulated: {m}", mechanism.name),
        )
        .label(span, "declared here")
        .note(
            "synapse states must follow linear equations with constant \
                coefficients; events must add to conductance states",
        ),
    )
}
