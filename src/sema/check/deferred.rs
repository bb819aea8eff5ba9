//! Checks the checker leaves to the validate pass (`crate::validate`): those that need the
//! lowered cell (a neuron's morphology, labels and parameter columns; where declared synapses
//! can go) or a compiled synapse (whether the kernel can simulate it). Lowering and the kernel
//! sit above the checker, so the checker records each such check with everything it needs
//! and the place in its diagnostics where the answer belongs; the validate pass runs them
//! after checking and puts their diagnostics there, in the order the checker would have.
//!
//! An experiment's typed plan (stimuli, recordings, sweeps, placement) is checked only for a
//! neuron that lowers. The checker cannot know that yet, so it marks that part of its output
//! as a [`Part`] that needs the neuron's check to pass; the validate pass drops the part (its
//! diagnostics, deferred checks and experiment) when it does not.

use super::*;
use std::ops::Range;

/// What the checker left to the validate pass. Empty once the pass has run.
#[derive(Debug, Default)]
pub struct Pending {
    /// The deferred checks, in the order the checker met them.
    pub checks: Vec<Deferred>,
    /// Parts of the output that need a neuron to lower.
    pub parts: Vec<Part>,
    /// The check (index in `checks`) of each neuron of the model, by name.
    pub neurons: BTreeMap<String, usize>,
}

impl Pending {
    /// True when nothing is left to validate.
    pub fn is_empty(&self) -> bool {
        self.checks.is_empty() && self.parts.is_empty()
    }
}

/// One deferred check and where its diagnostics go.
#[derive(Debug)]
pub struct Deferred {
    /// Its diagnostics go before the checker's diagnostic at this index.
    pub at: usize,
    /// The part (index in [`Pending::parts`]) it belongs to: it is dropped with it.
    pub part: Option<usize>,
    pub check: Check,
}

/// A check that needs a layer above the checker. (The variants are of like size, a model
/// each, and few: none is boxed.)
#[derive(Debug)]
pub enum Check {
    /// A synapse mechanism the checker accepted: can the kernel simulate it (E0504)?
    Synapse {
        mechanism: MechModel,
        /// Its name where it is declared.
        span: Span,
        /// Declared in the root file (so it is in the model unless it fails).
        root: bool,
    },
    /// A neuron the checker accepted: does it lower (morphology read, labels, densities,
    /// tested sections, modifications)?
    Neuron(NeuronCheck),
    /// Declared synapses of a network on an experiment's neuron: is there a place for them?
    Placement(PlacementCheck),
}

/// A neuron to lower, with where its parts are written (to locate lowering errors).
#[derive(Debug)]
pub struct NeuronCheck {
    pub neuron: NeuronModel,
    /// The mechanisms it may use.
    pub mechanisms: Vec<MechModel>,
    /// Its name in its declaration.
    pub name: Span,
    /// The `morphology:` value.
    pub morphology: Option<Span>,
    /// The `modify:` value.
    pub modify: Option<Span>,
    /// Each region block's head and where its mechanism parameters are written.
    pub regions: HashMap<String, (Span, ParamSpans)>,
}

/// A network's declared synapses on an experiment's neuron.
#[derive(Debug)]
pub struct PlacementCheck {
    pub neuron: NeuronModel,
    /// The experiment's `neuron:` value.
    pub neuron_at: Span,
    pub network: NetworkModel,
    /// Where each population restricts its placement.
    pub spans: Vec<PlacementSpans>,
}

/// Output of the checker that exists only if a neuron lowers: a root experiment's typed plan.
#[derive(Debug)]
pub struct Part {
    /// The neuron check (index in [`Pending::checks`]) it needs to pass.
    pub needs: usize,
    /// Its diagnostics (indices in the checker's diagnostics).
    pub diagnostics: Range<usize>,
    /// The experiment it added to the model (index in `model.experiments` and the schemas).
    pub experiment: Option<usize>,
}

/// A part being recorded: (index in `parts`, experiments in the model when it began).
pub(super) type OpenPart = (usize, usize);

impl Session {
    /// Leave a check to the validate pass; its diagnostics go after those reported so far.
    pub(super) fn defer(&mut self, check: Check) {
        let part = self.open_part.map(|p| p.0);
        self.pending.checks.push(Deferred {
            at: self.diags.len(),
            part,
            check,
        });
    }

    /// Record that the neuron `name`, now in the model, needs the check `check` to pass.
    pub(super) fn neuron_in_model(&mut self, name: &str, check: Option<usize>) {
        if let Some(c) = check {
            self.pending.neurons.insert(name.to_string(), c);
        }
    }

    /// From here on, the output needs the neuron `neuron` of the model to lower (until the
    /// next declaration or the end of checking).
    pub(super) fn needs_neuron(&mut self, neuron: &str) {
        self.close_part();
        if let Some(&needs) = self.pending.neurons.get(neuron) {
            self.pending.parts.push(Part {
                needs,
                diagnostics: self.diags.len()..self.diags.len(),
                experiment: None,
            });
            self.open_part = Some((self.pending.parts.len() - 1, self.model.experiments.len()));
        }
    }

    /// End the part being recorded, if any.
    pub(super) fn close_part(&mut self) {
        if let Some((k, experiments)) = self.open_part.take() {
            let part = &mut self.pending.parts[k];
            part.diagnostics.end = self.diags.len();
            if self.model.experiments.len() > experiments {
                part.experiment = Some(experiments);
            }
        }
    }

    /// Leave the placement of `network`'s declared synapses on `neuron` (both in the model)
    /// to the validate pass; `owner` is the module that declares the network.
    pub(super) fn defer_placement(
        &mut self,
        neuron: &str,
        neuron_at: Span,
        network: &str,
        owner: u32,
    ) {
        let Some(nm) = self.model.neurons.iter().find(|n| n.name == neuron) else {
            return;
        };
        let Some(net) = self.model.networks.iter().find(|n| n.name == network) else {
            return;
        };
        let check = PlacementCheck {
            neuron: nm.clone(),
            neuron_at,
            network: net.clone(),
            spans: self
                .placement_spans
                .get(&(owner, network.to_string()))
                .cloned()
                .unwrap_or_default(),
        };
        self.defer(Check::Placement(check));
    }
}
