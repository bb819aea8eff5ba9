//! The fields of a neuron block: `morphology` (its own shape and its path), and
//! `temperature`, `v_init`, `discretization`, `axon` and `modify`, whose values are checked
//! by the neuron's schema ([`decls::NEURON`], `values::schema_value`) and then stored in the
//! draft.

use super::*;

impl Session {
    /// One field of a neuron block, evaluated in the module's scope, into the draft.
    pub(super) fn neuron_field(
        &mut self,
        mid: u32,
        f: &ast::Field,
        base: &Path,
        draft: &mut NeuronDraft,
        diags: &mut Vec<Diagnostic>,
    ) {
        let mut scope = self.scope(mid);
        let mut ev = Evaluator {
            diags,
            base_dir: base.to_path_buf(),
        };
        let v = ev.eval(&f.value, &mut scope);
        let at = f.value.span;
        let name = f.name.name.as_str();
        if name == "morphology" {
            draft.morph_span = Some(at);
            if let Some(s) = morphology_value(ev.diags, v, at) {
                draft.source = Some(s);
            }
            return;
        }
        let Some(field) = decls::NEURON.field(name) else {
            ev.diags
                .push(decls::NEURON.unknown_field(name, f.name.span));
            return;
        };
        if name == "modify" {
            draft.modify_span = Some(at);
        }
        let v = schema_value(&mut ev, field, v, at);
        match (name, v) {
            (_, Val::Err) => {}
            // Degrees Celsius from kelvin, absolute or not (kelvin given for an absolute
            // temperature is the thermodynamic temperature).
            ("temperature", v) => {
                if let Some(k) = v.const_si() {
                    draft.temperature = k - 273.15;
                }
            }
            ("v_init", v) => {
                if let Some(x) = v.const_si() {
                    draft.v_init = x * 1e3;
                }
            }
            ("discretization", Val::Obj(o)) => {
                if let Some(d) = discretization(&o) {
                    draft.disc = d;
                }
            }
            ("axon", v) => draft.axon = lower_val(&v),
            ("modify", Val::List(items)) => {
                draft.modify.extend(items.iter().filter_map(lower_val));
            }
            _ => {}
        }
    }
}

/// The `morphology:` value: `hoc(…)` or `swc(…)` with its path; a value in error stands as
/// an "error" source, so that the neuron is not also reported as having no morphology.
fn morphology_value(diags: &mut Vec<Diagnostic>, v: Val, at: Span) -> Option<model::Source> {
    let error = || model::Source {
        format: "error".into(),
        path: String::new(),
    };
    match v {
        Val::Obj(o) if o.kind == "hoc" || o.kind == "swc" => match o.get("path") {
            Some(Val::Str(p)) => Some(model::Source {
                format: o.kind.clone(),
                path: p.clone(),
            }),
            _ => None,
        },
        Val::Err => Some(error()),
        other => {
            diags.push(
                Diagnostic::new(Code::E0306, "morphology must be `hoc(…)` or `swc(…)`")
                    .label(at, format!("this is {}", other.type_name()))
                    .help("write `morphology: swc(\"cells/cell.swc\")`"),
            );
            Some(error())
        }
    }
}
