//! A neuron's region blocks: `Ra`, `cm` and reversal potentials, and the density
//! mechanisms inserted there with their parameters (expressions of the position on the cell).

use super::*;

/// The part of a mechanism a region needs: its name and parameter table.
struct MechSig {
    name: String,
    params: Vec<(String, Dim, f64, String)>,
    span: Span,
}

impl Session {
    /// Check a region block: its model and where each mechanism parameter is written. The
    /// density mechanisms it inserts are added to `used` (indices in `self.mechs`).
    pub(super) fn region(
        &mut self,
        mid: u32,
        region: &str,
        b: &Block,
        base: &Path,
        diags: &mut Vec<Diagnostic>,
        used: &mut Vec<usize>,
    ) -> (RegionModel, ParamSpans) {
        let mut spans = ParamSpans::new();
        let mut r = RegionModel {
            region: region.into(),
            ra_ohm_cm: None,
            cm_uf_cm2: None,
            reversal_mv: BTreeMap::new(),
            mechanisms: vec![],
        };
        let mut seen: HashMap<String, Span> = HashMap::new();
        for entry in &b.entries {
            if let Some(dup) = dup_check(entry, &mut seen) {
                diags.push(dup);
                continue;
            }
            match entry {
                Entry::Field(f) => self.region_field(mid, f, base, &mut r, diags),
                Entry::Block(sb) => {
                    let Some(mi) = self.density_mechanism(mid, &sb.head, diags) else {
                        continue;
                    };
                    if !used.contains(&mi) {
                        used.push(mi);
                    }
                    let inst = self.mechanism_instance(mid, mi, &sb.body, base, &mut spans, diags);
                    r.mechanisms.push(inst);
                }
                other => diags.push(
                    Diagnostic::new(Code::E0401, "unexpected entry in a region").label(
                        other.span(),
                        "a region has Ra, cm, reversal potentials and mechanism blocks",
                    ),
                ),
            }
        }
        (r, spans)
    }

    /// A field of a region: `Ra` and `cm` (positive constants) or a reversal potential
    /// (a constant voltage), checked by the region's schema ([`decls::REGION`]).
    fn region_field(
        &mut self,
        mid: u32,
        f: &ast::Field,
        base: &Path,
        r: &mut RegionModel,
        diags: &mut Vec<Diagnostic>,
    ) {
        let mut scope = self.scope(mid);
        scope.locals = position_locals();
        let mut ev = Evaluator {
            diags,
            base_dir: base.to_path_buf(),
        };
        let v = ev.eval(&f.value, &mut scope);
        let n = f.name.name.as_str();
        let Some(field) = decls::REGION.field(n) else {
            let mech_like = self.mech_by_name(mid, n).is_some();
            let mut d = decls::REGION.unknown_field(n, f.name.span);
            if mech_like {
                d = d.help(format!("a mechanism takes a block: `{n} {{ gbar: … }}`"));
            }
            ev.diags.push(d);
            return;
        };
        let v = schema_value(&mut ev, field, v, f.value.span);
        let (Some(x), decls::Kind::Quantity(dim)) = (v.const_si(), field.kind) else {
            return;
        };
        let x = x / units::canonical_scale(dim).0;
        match n {
            "Ra" => r.ra_ohm_cm = Some(x),
            "cm" => r.cm_uf_cm2 = Some(x),
            _ => {
                r.reversal_mv.insert(n.to_string(), x);
            }
        }
    }

    /// The density mechanism a block inside a region names (index in `self.mechs`), or why
    /// it cannot be inserted (unknown, E0206; a point process, E0404).
    fn density_mechanism(
        &mut self,
        mid: u32,
        head: &ast::Ident,
        diags: &mut Vec<Diagnostic>,
    ) -> Option<usize> {
        let Some(mi) = self.mech_by_name(mid, &head.name) else {
            let cands: Vec<String> = self.modules[mid as usize]
                .syms
                .iter()
                .filter(|(_, s)| matches!(s.0, Sym::Mech(_)))
                .map(|(n, _)| n.clone())
                .collect();
            let d = Diagnostic::new(Code::E0206, format!("unknown mechanism `{}`", head.name))
                .label(head.span, "no mechanism of this name is in scope");
            diags.push(
                match did_you_mean(&head.name, cands.iter().map(String::as_str)) {
                    Some(h) => d.help(h),
                    None => d.help("import mechanisms, e.g. `import std.channels.hay2011.*`"),
                },
            );
            return None;
        };
        let m = &self.mechs[mi];
        if m.sort != "density" {
            diags.push(
                Diagnostic::new(
                    Code::E0404,
                    format!("`{}` is a point process, not a density mechanism", m.name),
                )
                .label(head.span, "cannot be inserted in a region")
                .label(m.span, "declared here"),
            );
            return None;
        }
        Some(mi)
    }

    /// A mechanism block inside a region: its parameter values (expressions of the position
    /// on the cell), each of the parameter's dimension and finite where constant. Where each
    /// value is written goes into `spans`.
    fn mechanism_instance(
        &mut self,
        mid: u32,
        mi: usize,
        body: &Block,
        base: &Path,
        spans: &mut ParamSpans,
        diags: &mut Vec<Diagnostic>,
    ) -> MechInstance {
        // Only the parameter table is needed here; the model (expression trees) stays put.
        let info = {
            let m = &self.mechs[mi];
            MechSig {
                name: m.name.clone(),
                params: m.params.clone(),
                span: m.span,
            }
        };
        let mut inst = MechInstance {
            mechanism: info.name.clone(),
            parameters: BTreeMap::new(),
        };
        let mut scope = self.scope(mid);
        scope.locals = position_locals();
        let mut ev = Evaluator {
            diags,
            base_dir: base.to_path_buf(),
        };
        for f in value_fields(
            body,
            "a mechanism block has parameter values only",
            ev.diags,
        ) {
            let Some((pn, dim, scale, unit)) =
                info.params.iter().find(|p| p.0 == f.name.name).cloned()
            else {
                ev.diags.push(unknown_parameter(&info, f));
                continue;
            };
            let v = ev.eval(&f.value, &mut scope);
            let v = ev.expect_dim(v, dim, f.value.span, &format!("`{}.{}`", info.name, pn));
            let Val::Q { ex, .. } = v else {
                continue;
            };
            if let Some(c) = ex.as_const()
                && !c.is_finite()
            {
                ev.diags.push(
                    Diagnostic::new(Code::E0414, "value is not finite")
                        .label(f.value.span, "NaN or infinite"),
                );
                continue;
            }
            spans.insert((info.name.clone(), pn.clone()), f.value.span);
            inst.parameters.insert(
                pn,
                Density {
                    unit,
                    expr: ex.canonical(scale),
                },
            );
        }
        inst
    }
}

/// E0210 for a field a mechanism has no parameter of, with a close name or the list.
fn unknown_parameter(info: &MechSig, f: &ast::Field) -> Diagnostic {
    let d = Diagnostic::new(
        Code::E0210,
        format!("`{}` has no parameter `{}`", info.name, f.name.name),
    )
    .label(f.name.span, "unknown parameter")
    .label(info.span, "mechanism declared here");
    match did_you_mean(&f.name.name, info.params.iter().map(|p| p.0.as_str())) {
        Some(h) => d.help(h),
        None => d.note(format!(
            "parameters of {}: {}",
            info.name,
            info.params
                .iter()
                .map(|p| p.0.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )),
    }
}

/// The position variables (distance to the soma, …) as values: parameters of a region may
/// vary over the cell.
fn position_locals() -> Vec<(String, Val)> {
    POSITION_VARS
        .iter()
        .map(|(n, d, s, _)| {
            (
                n.to_string(),
                Val::Q {
                    dim: *d,
                    abs: false,
                    ex: Ex::var(n, *s),
                },
            )
        })
        .collect()
}
