//! `neuron` declarations: a neuron block's fields (`fields.rs`: morphology, temperature,
//! `v_init`, discretization, axon, cell modifications), its regions with their mechanisms
//! and parameters (`region.rs`), and neurons generated from ISF `.param` files
//! (`isf_param.rs`). A checked neuron joins the model (or waits as an imported declaration);
//! whether its cell lowers is left to the validate pass.

mod fields;
mod isf_param;
mod region;

use super::*;

/// What a neuron block says, as far as it has been read, and where it says it (to locate the
/// errors the validate pass finds when it lowers the cell).
struct NeuronDraft {
    source: Option<model::Source>,
    temperature: f64,
    v_init: f64,
    disc: Discretization,
    regions: Vec<RegionModel>,
    axon: Option<Value>,
    modify: Vec<Value>,
    /// The mechanisms the regions insert (indices in `Session::mechs`).
    used_mechs: Vec<usize>,
    /// The `morphology:` value.
    morph_span: Option<Span>,
    /// The `modify:` value.
    modify_span: Option<Span>,
    /// Each region block's head and where its mechanism parameters are written.
    region_spans: HashMap<String, (Span, ParamSpans)>,
}

impl Default for NeuronDraft {
    /// A neuron's defaults: 34 °C, −75 mV, ISF's d-lambda rule at 100 Hz.
    fn default() -> Self {
        NeuronDraft {
            source: None,
            temperature: 34.0,
            v_init: -75.0,
            disc: Discretization::IsfDLambda {
                frequency_hz: 100.0,
                max_length_um: None,
            },
            regions: Vec::new(),
            axon: None,
            modify: Vec::new(),
            used_mechs: Vec::new(),
            morph_span: None,
            modify_span: None,
            region_spans: HashMap::new(),
        }
    }
}

impl Session {
    /// The module a declaration of module `mid` belongs to: the declaring module of an
    /// `isf_param(…)` virtual module, else `mid` itself. Declarations of module 0 (the root
    /// file) always join the model.
    pub(super) fn owner(&self, mid: u32) -> u32 {
        self.param_modules
            .iter()
            .find(|(v, _)| *v == mid)
            .map(|(_, o)| *o)
            .unwrap_or(mid)
    }

    /// Check a neuron block; without errors, the neuron joins the model (root file) or waits
    /// until a root experiment uses it (imported file).
    pub(super) fn neuron(&mut self, mid: u32, name: &ast::Ident, b: &Block, base: &Path) {
        let mut diags = Vec::new();
        let mut draft = NeuronDraft::default();
        let mut seen: HashMap<String, Span> = HashMap::new();
        for entry in &b.entries {
            if let Some(dup) = dup_check(entry, &mut seen) {
                diags.push(dup);
                continue;
            }
            match entry {
                Entry::Field(f) => self.neuron_field(mid, f, base, &mut draft, &mut diags),
                Entry::Block(sb) => self.region_block(mid, sb, base, &mut draft, &mut diags),
                other => diags.push(
                    Diagnostic::new(Code::E0401, "unexpected entry in a neuron").label(
                        other.span(),
                        "a neuron has fields (morphology, temperature, \
                    v_init, discretization) and region blocks",
                    ),
                ),
            }
        }
        if draft.source.is_none() {
            diags.push(
                Diagnostic::new(
                    Code::E0402,
                    format!("neuron `{}` has no morphology", name.name),
                )
                .label(name.span, "add `morphology: swc(\"…\")` or `hoc(\"…\")`"),
            );
        }
        let ok = !crate::diagnostics::has_errors(&diags);
        self.diags.extend(diags);
        if ok {
            self.add_neuron(mid, name, draft);
        }
    }

    /// A region block of a neuron: a known region without a name, checked by
    /// [`Session::region`].
    fn region_block(
        &mut self,
        mid: u32,
        sb: &ast::SubBlock,
        base: &Path,
        draft: &mut NeuronDraft,
        diags: &mut Vec<Diagnostic>,
    ) {
        if !REGIONS.iter().any(|r| r.0 == sb.head.name) {
            diags.push(self.unknown_region(mid, &sb.head));
            return;
        }
        if let Some(n) = &sb.name {
            diags.push(
                Diagnostic::new(Code::E0101, "a region block takes no name")
                    .label(n.span, "remove this"),
            );
        }
        let (r, pspans) = self.region(
            mid,
            &sb.head.name,
            &sb.body,
            base,
            diags,
            &mut draft.used_mechs,
        );
        draft
            .region_spans
            .insert(sb.head.name.clone(), (sb.head.span, pspans));
        draft.regions.push(r);
    }

    /// E0403 for a block that names no region, with a hint: a close region name, or (for a
    /// mechanism's name) that mechanisms go inside a region, or the list of regions.
    fn unknown_region(&self, mid: u32, head: &ast::Ident) -> Diagnostic {
        let d = Diagnostic::new(Code::E0403, format!("unknown region `{}`", head.name))
            .label(head.span, "not a region of a neuron");
        let is_mech = matches!(
            self.modules[mid as usize].syms.get(&head.name),
            Some((Sym::Mech(_), _))
        );
        if let Some(h) = did_you_mean(&head.name, REGIONS.iter().map(|r| r.0)) {
            d.help(h)
        } else if is_mech {
            d.help(format!(
                "mechanisms go inside a region: `soma {{ {} {{ … }} }}`",
                head.name
            ))
        } else {
            d.note(format!(
                "regions: {}",
                REGIONS.iter().map(|r| r.0).collect::<Vec<_>>().join(", ")
            ))
        }
    }

    /// A checked neuron: its model, the mechanisms it uses, and its lowering left to the
    /// validate pass. A neuron of an imported file is checked the same way; it joins the
    /// model (with its mechanisms) only when an experiment of the root file uses it.
    fn add_neuron(&mut self, mid: u32, name: &ast::Ident, draft: NeuronDraft) {
        let owner = self.owner(mid);
        let neuron = NeuronModel {
            name: name.name.clone(),
            source: draft.source.unwrap_or(model::Source {
                format: "none".into(),
                path: String::new(),
            }),
            temperature_degc: draft.temperature,
            v_init_mv: draft.v_init,
            discretization: draft.disc,
            axon: draft.axon,
            regions: draft.regions,
            modify: draft.modify,
        };
        let mut mechs: Vec<MechModel> = Vec::new();
        for &i in &draft.used_mechs {
            let m = &self.mechs[i].model;
            if !mechs.iter().any(|x| x.name == m.name) {
                mechs.push(m.clone());
            }
        }
        if owner == 0 {
            for m in &mechs {
                if !self.model.mechanisms.iter().any(|x| x.name == m.name) {
                    self.model.mechanisms.push(m.clone());
                }
            }
        }
        // Whether the cell lowers (labels the morphology lacks, E0413; densities negative or
        // not finite somewhere, E0414; unreadable morphologies) is the validate pass's
        // question: lowering sits above the checker.
        let known = if owner == 0 {
            self.model.mechanisms.clone()
        } else {
            mechs.clone()
        };
        self.defer(Check::Neuron(NeuronCheck {
            neuron: neuron.clone(),
            mechanisms: known,
            name: name.span,
            morphology: draft.morph_span,
            modify: draft.modify_span,
            regions: draft.region_spans,
        }));
        let check = Some(self.pending.checks.len() - 1);
        if owner == 0 {
            self.neuron_in_model(&neuron.name, check);
            self.model.neurons.push(neuron);
        } else {
            self.imported.push(ImportedDecl {
                module: owner,
                name: name.name.clone(),
                neuron: Some(neuron),
                network: None,
                mechanisms: mechs,
                check,
            });
        }
    }
}
