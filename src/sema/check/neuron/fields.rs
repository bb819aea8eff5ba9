//! The fields of a neuron block: `morphology`, `temperature`, `v_init`, `discretization`,
//! `axon` and `modify`, each evaluated and checked for its shape.

use super::*;

/// How to write a discretization rule (the help of E0412).
const DISCRETIZATION_HELP: &str =
    "use isf_d_lambda(…), d_lambda(0.1), max_length(30 um) or fixed(3)";

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
        match f.name.name.as_str() {
            "morphology" => {
                draft.morph_span = Some(at);
                if let Some(s) = morphology_value(ev.diags, v, at) {
                    draft.source = Some(s);
                }
            }
            "temperature" => {
                if let Some(t) = temperature_value(&mut ev, v, at) {
                    draft.temperature = t;
                }
            }
            "v_init" => {
                let v = ev.expect_dim(v, Dim::VOLTAGE, at, "v_init");
                if let Some(x) = v.const_si() {
                    draft.v_init = x * 1e3;
                }
            }
            "discretization" => {
                if let Some(d) = discretization_value(ev.diags, v, at) {
                    draft.disc = d;
                }
            }
            "axon" => match v {
                Val::Obj(ref o) if o.kind == "isf_axon" => draft.axon = lower_val(&v),
                Val::Err => {}
                other => ev.diags.push(
                    Diagnostic::new(Code::E0306, "axon must be `isf_axon()`")
                        .label(at, format!("this is {}", other.type_name())),
                ),
            },
            "modify" => {
                draft.modify_span = Some(at);
                modify_value(ev.diags, v, at, &mut draft.modify);
            }
            other => ev
                .diags
                .push(decls::NEURON.unknown_field(other, f.name.span)),
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

/// The `discretization:` value as a rule, or E0412.
fn discretization_value(diags: &mut Vec<Diagnostic>, v: Val, at: Span) -> Option<Discretization> {
    let label = match v {
        Val::Obj(o) => match discretization(&o) {
            Some(d) => return Some(d),
            None => format!("`{}(…)` is not a discretization rule", o.kind),
        },
        Val::Err => return None,
        other => format!("this is {}", other.type_name()),
    };
    diags.push(
        Diagnostic::new(Code::E0412, "invalid discretization rule")
            .label(at, label)
            .help(DISCRETIZATION_HELP),
    );
    None
}

/// The `modify:` value: a list of cell modifications, appended to `modify` in order.
fn modify_value(diags: &mut Vec<Diagnostic>, v: Val, at: Span, modify: &mut Vec<Value>) {
    let items = match v {
        Val::List(items) => items,
        Val::Err => return,
        other => {
            diags.push(
                Diagnostic::new(Code::E0306, "modify must be a list of cell modifications")
                    .label(at, format!("this is {}", other.type_name()))
                    .help("write `modify: [scale_apical_morph_86()]`"),
            );
            return;
        }
    };
    for it in items {
        match it {
            Val::Obj(ref o) if o.kind == "scale_apical_morph_86" || o.kind == "scale_apical" => {
                modify.extend(lower_val(&it))
            }
            Val::Err => {}
            other => diags.push(
                Diagnostic::new(Code::E0306, "not a cell modification")
                    .label(at, format!("found {}", other.type_name()))
                    .help("use scale_apical_morph_86() or scale_apical(scale: 2)"),
            ),
        }
    }
}
