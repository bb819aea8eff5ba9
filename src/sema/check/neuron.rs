//! `neuron` declarations: morphology, discretization, regions with their mechanisms and
//! parameters, cell modifications, and neurons generated from ISF `.param` files.

use super::*;

impl Session {
    /// `neuron X = isf_param("cell.param")`: translate the file to isf source (exactly what
    /// `isf convert` prints) and check that text as a virtual module next to the `.param`
    /// file, whose neuron (named `X`) joins the model.
    pub(super) fn isf_param_neuron(&mut self, mid: u32, name: &ast::Ident, path: &str, span: Span) {
        let param = Path::new(path);
        let dir = param.parent().map(Path::to_path_buf).unwrap_or_default();
        // Mechanism names resolve in the script and its imports first, then in the stdlib.
        let mut own = std::collections::BTreeMap::new();
        let mut preset = Vec::new();
        for (n, (sym, at)) in &self.modules[mid as usize].syms {
            if let Sym::Mech(i) = sym
                && self.mechs[*i].sort == "density"
            {
                let params = self.mechs[*i]
                    .params
                    .iter()
                    .map(|p| (p.0.clone(), p.3.clone()))
                    .collect();
                own.insert(n.clone(), params);
                preset.push((n.clone(), (sym.clone(), *at)));
            }
        }
        let script = self.sources.get(span.file).name.clone();
        let mut cat = crate::interop::cell_param::Catalogue::stdlib();
        cat.places.insert(
            0,
            crate::interop::cell_param::Place {
                name: format!("the script {script} and its imports"),
                import: None,
                mechs: own,
            },
        );
        let text =
            match crate::interop::cell_param::convert_file_with(param, &dir, &name.name, &cat) {
                Ok(t) => t,
                Err(errs) => {
                    for e in errs {
                        self.diags.push(
                            Diagnostic::new(e.code, format!("{}: {}", e.location(), e.message))
                                .label(span, "in this ISF cell parameter file"),
                        );
                    }
                    return;
                }
            };
        // A distinct origin per declaration, so that two neurons from one file both load.
        let origin = Origin::Path(PathBuf::from(format!("{path}#{}.isf", name.name)));
        let shown = format!(
            "{} (as isf)",
            param
                .file_name()
                .map(|f| f.to_string_lossy())
                .unwrap_or_default()
        );
        let owner = self.owner(mid);
        let vmid = self.modules.len() as u32;
        self.param_modules.push((vmid, owner));
        self.preset = preset;
        let loaded = self.load_dep(origin, shown, span, || Ok(text));
        self.preset.clear();
        // A script mechanism that the parameter file uses is used by the script.
        if loaded == Some(vmid) {
            let used: Vec<String> = self.modules[vmid as usize]
                .used
                .iter()
                .filter(|(_, u)| **u)
                .map(|(n, _)| n.clone())
                .collect();
            for n in used {
                if self.modules[mid as usize].syms.contains_key(&n) {
                    self.modules[mid as usize].used.insert(n, true);
                }
            }
        }
    }

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

    pub(super) fn neuron(&mut self, mid: u32, name: &ast::Ident, b: &Block, base: &Path) {
        let mut diags = Vec::new();
        let mut source = None;
        let mut temperature = 34.0;
        let mut v_init = -75.0;
        let mut disc = Discretization::IsfDLambda {
            frequency_hz: 100.0,
            max_length_um: None,
        };
        let mut regions = Vec::new();
        let mut axon = None;
        let mut modify = Vec::new();
        let mut used_mechs = Vec::new();
        // Where things are written, to locate errors found by lowering the cell.
        let mut morph_span = None;
        let mut modify_span = None;
        let mut region_spans: HashMap<String, (Span, ParamSpans)> = HashMap::new();
        let mut seen: HashMap<String, Span> = HashMap::new();
        let mech_names: Vec<String> = self.modules[mid as usize]
            .syms
            .iter()
            .filter(|(_, s)| matches!(s.0, Sym::Mech(_)))
            .map(|(n, _)| n.clone())
            .collect();
        for entry in &b.entries {
            if let Some(dup) = dup_check(entry, &mut seen) {
                diags.push(dup);
                continue;
            }
            match entry {
                Entry::Field(f) => {
                    let mut scope = self.scope(mid);
                    let mut ev = Evaluator {
                        diags: &mut diags,
                        base_dir: base.to_path_buf(),
                    };
                    let v = ev.eval(&f.value, &mut scope);
                    if f.name.name == "morphology" {
                        morph_span = Some(f.value.span);
                    }
                    match f.name.name.as_str() {
                        "morphology" => match v {
                            Val::Obj(o) if o.kind == "hoc" || o.kind == "swc" => {
                                if let Some(Val::Str(p)) = o.get("path") {
                                    source = Some(model::Source {
                                        format: o.kind.clone(),
                                        path: p.clone(),
                                    });
                                }
                            }
                            Val::Err => {
                                source = Some(model::Source {
                                    format: "error".into(),
                                    path: String::new(),
                                })
                            }
                            other => {
                                ev.diags.push(
                                    Diagnostic::new(
                                        Code::E0306,
                                        "morphology must be `hoc(…)` or `swc(…)`",
                                    )
                                    .label(f.value.span, format!("this is {}", other.type_name()))
                                    .help(
                                        "write `morphology: \
                                    swc(\"cells/cell.swc\")`",
                                    ),
                                );
                                source = Some(model::Source {
                                    format: "error".into(),
                                    path: String::new(),
                                });
                            }
                        },
                        "temperature" => {
                            if let Some(t) = temperature_value(&mut ev, v, f.value.span) {
                                temperature = t;
                            }
                        }
                        "v_init" => {
                            let v = ev.expect_dim(v, Dim::VOLTAGE, f.value.span, "v_init");
                            if let Some(x) = v.const_si() {
                                v_init = x * 1e3;
                            }
                        }
                        "discretization" => match v {
                            Val::Obj(o) => match discretization(&o) {
                                Some(d) => disc = d,
                                None => ev.diags.push(
                                    Diagnostic::new(Code::E0412, "invalid discretization rule")
                                        .label(
                                            f.value.span,
                                            format!("`{}(…)` is not a discretization rule", o.kind),
                                        )
                                        .help(
                                            "use isf_d_lambda(…), d_lambda(0.1), \
                                    max_length(30 um) or fixed(3)",
                                        ),
                                ),
                            },
                            Val::Err => {}
                            other => ev.diags.push(
                                Diagnostic::new(Code::E0412, "invalid discretization rule")
                                    .label(f.value.span, format!("this is {}", other.type_name()))
                                    .help(
                                        "use isf_d_lambda(…), d_lambda(0.1), \
                                max_length(30 um) or fixed(3)",
                                    ),
                            ),
                        },
                        "axon" => match v {
                            Val::Obj(ref o) if o.kind == "isf_axon" => axon = lower_val(&v),
                            Val::Err => {}
                            other => ev.diags.push(
                                Diagnostic::new(Code::E0306, "axon must be `isf_axon()`")
                                    .label(f.value.span, format!("this is {}", other.type_name())),
                            ),
                        },
                        "modify" => {
                            modify_span = Some(f.value.span);
                            match v {
                                Val::List(items) => {
                                    for it in items {
                                        match it {
                                            Val::Obj(ref o)
                                                if o.kind == "scale_apical_morph_86"
                                                    || o.kind == "scale_apical" =>
                                            {
                                                modify.extend(lower_val(&it))
                                            }
                                            Val::Err => {}
                                            other => ev.diags.push(
                                                Diagnostic::new(
                                                    Code::E0306,
                                                    "not a cell modification",
                                                )
                                                .label(
                                                    f.value.span,
                                                    format!("found {}", other.type_name()),
                                                )
                                                .help(
                                                    "use scale_apical_morph_86() \
                                                or scale_apical(scale: 2)",
                                                ),
                                            ),
                                        }
                                    }
                                }
                                Val::Err => {}
                                other => ev.diags.push(
                                    Diagnostic::new(
                                        Code::E0306,
                                        "modify must be a list \
                                    of cell modifications",
                                    )
                                    .label(f.value.span, format!("this is {}", other.type_name()))
                                    .help("write `modify: [scale_apical_morph_86()]`"),
                                ),
                            }
                        }
                        other => ev
                            .diags
                            .push(decls::NEURON.unknown_field(other, f.name.span)),
                    }
                }
                Entry::Block(sb) => {
                    if !REGIONS.iter().any(|r| r.0 == sb.head.name) {
                        let mut d = Diagnostic::new(
                            Code::E0403,
                            format!("unknown region `{}`", sb.head.name),
                        )
                        .label(sb.head.span, "not a region of a neuron");
                        if let Some(h) = did_you_mean(&sb.head.name, REGIONS.iter().map(|r| r.0)) {
                            d = d.help(h);
                        } else if mech_names.contains(&sb.head.name) {
                            d = d.help(format!(
                                "mechanisms go inside a region: \
                                `soma {{ {} {{ … }} }}`",
                                sb.head.name
                            ));
                        } else {
                            d = d.note(format!(
                                "regions: {}",
                                REGIONS.iter().map(|r| r.0).collect::<Vec<_>>().join(", ")
                            ));
                        }
                        diags.push(d);
                        continue;
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
                        &mut diags,
                        &mut used_mechs,
                    );
                    region_spans.insert(sb.head.name.clone(), (sb.head.span, pspans));
                    regions.push(r);
                }
                other => diags.push(
                    Diagnostic::new(Code::E0401, "unexpected entry in a neuron").label(
                        other.span(),
                        "a neuron has fields (morphology, temperature, \
                    v_init, discretization) and region blocks",
                    ),
                ),
            }
        }
        if source.is_none() {
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
        if !ok {
            return;
        }
        let owner = self.owner(mid);
        let neuron = NeuronModel {
            name: name.name.clone(),
            source: source.unwrap_or(model::Source {
                format: "none".into(),
                path: String::new(),
            }),
            temperature_degc: temperature,
            v_init_mv: v_init,
            discretization: disc,
            axon,
            regions,
            modify,
        };
        // Whether the cell lowers (labels the morphology lacks, E0413; densities negative or
        // not finite somewhere, E0414; unreadable morphologies) is the validate pass's
        // question: lowering sits above the checker. A neuron of an imported file is checked
        // the same way; it joins the model (with its mechanisms) only when an experiment of
        // the root file uses it.
        let mut mechs: Vec<MechModel> = Vec::new();
        for &i in &used_mechs {
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
        let known = if owner == 0 {
            self.model.mechanisms.clone()
        } else {
            mechs.clone()
        };
        self.defer(Check::Neuron(Box::new(NeuronCheck {
            neuron: neuron.clone(),
            mechanisms: known,
            name: name.span,
            morphology: morph_span,
            modify: modify_span,
            regions: region_spans,
        })));
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
        let pos_locals: Vec<(String, Val)> = POSITION_VARS
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
            .collect();
        for entry in &b.entries {
            if let Some(dup) = dup_check(entry, &mut seen) {
                diags.push(dup);
                continue;
            }
            match entry {
                Entry::Field(f) => {
                    let mut scope = self.scope(mid);
                    scope.locals = pos_locals.clone();
                    let mut ev = Evaluator {
                        diags,
                        base_dir: base.to_path_buf(),
                    };
                    let v = ev.eval(&f.value, &mut scope);
                    let n = f.name.name.as_str();
                    let (want, what) = match n {
                        "Ra" => (Dim([3, 1, -3, -2, 0, 0]), "axial resistivity Ra"),
                        "cm" => (Dim([-4, -1, 4, 2, 0, 0]), "specific capacitance cm"),
                        "ena" | "ek" | "eca" => (Dim::VOLTAGE, "a reversal potential"),
                        _ => {
                            let mech_like = self.mech_by_name(mid, n).is_some();
                            let mut d = decls::REGION.unknown_field(n, f.name.span);
                            if mech_like {
                                d = d.help(format!(
                                    "a mechanism takes a block: `{n} {{ gbar: … }}`"
                                ));
                            }
                            ev.diags.push(d);
                            continue;
                        }
                    };
                    let v = ev.expect_dim(v, want, f.value.span, what);
                    let Some(x) = v.const_si() else {
                        if !v.is_err() {
                            ev.diags.push(
                                Diagnostic::new(Code::E0315, format!("{what} must be a constant"))
                                    .label(f.value.span, "varies over the cell"),
                            );
                        }
                        continue;
                    };
                    let (scale, _) = units::canonical_scale(want);
                    if x <= 0.0 && (n == "Ra" || n == "cm") {
                        ev.diags.push(
                            Diagnostic::new(Code::E0314, format!("{what} must be positive"))
                                .label(f.value.span, "zero or negative"),
                        );
                        continue;
                    }
                    match n {
                        "Ra" => r.ra_ohm_cm = Some(x / scale),
                        "cm" => r.cm_uf_cm2 = Some(x / scale),
                        _ => {
                            r.reversal_mv.insert(n.to_string(), x / scale);
                        }
                    }
                }
                Entry::Block(sb) => {
                    let Some(mi) = self.mech_by_name(mid, &sb.head.name) else {
                        let cands: Vec<String> = self.modules[mid as usize]
                            .syms
                            .iter()
                            .filter(|(_, s)| matches!(s.0, Sym::Mech(_)))
                            .map(|(n, _)| n.clone())
                            .collect();
                        let mut d = Diagnostic::new(
                            Code::E0206,
                            format!("unknown mechanism `{}`", sb.head.name),
                        )
                        .label(sb.head.span, "no mechanism of this name is in scope");
                        if let Some(h) =
                            did_you_mean(&sb.head.name, cands.iter().map(String::as_str))
                        {
                            d = d.help(h);
                        } else {
                            d = d.help("import mechanisms, e.g. `import std.channels.hay2011.*`");
                        }
                        diags.push(d);
                        continue;
                    };
                    // Only the parameter table is needed here; the model (expression trees)
                    // stays put.
                    let info = {
                        let m = &self.mechs[mi];
                        MechSig {
                            name: m.name.clone(),
                            sort: m.sort.clone(),
                            params: m.params.clone(),
                            span: m.span,
                        }
                    };
                    if info.sort != "density" {
                        diags.push(
                            Diagnostic::new(
                                Code::E0404,
                                format!(
                                    "`{}` is a point process, not a density mechanism",
                                    info.name
                                ),
                            )
                            .label(sb.head.span, "cannot be inserted in a region")
                            .label(info.span, "declared here"),
                        );
                        continue;
                    }
                    if !used.contains(&mi) {
                        used.push(mi);
                    }
                    let mut inst = MechInstance {
                        mechanism: info.name.clone(),
                        parameters: BTreeMap::new(),
                    };
                    let mut scope = self.scope(mid);
                    scope.locals = pos_locals.clone();
                    let mut ev = Evaluator {
                        diags,
                        base_dir: base.to_path_buf(),
                    };
                    for f in value_fields(
                        &sb.body,
                        "a mechanism block has parameter values only",
                        ev.diags,
                    ) {
                        let Some((pn, dim, scale, unit)) =
                            info.params.iter().find(|p| p.0 == f.name.name).cloned()
                        else {
                            let mut d = Diagnostic::new(
                                Code::E0210,
                                format!("`{}` has no parameter `{}`", info.name, f.name.name),
                            )
                            .label(f.name.span, "unknown parameter")
                            .label(info.span, "mechanism declared here");
                            if let Some(h) =
                                did_you_mean(&f.name.name, info.params.iter().map(|p| p.0.as_str()))
                            {
                                d = d.help(h);
                            } else {
                                d = d.note(format!(
                                    "parameters of {}: {}",
                                    info.name,
                                    info.params
                                        .iter()
                                        .map(|p| p.0.as_str())
                                        .collect::<Vec<_>>()
                                        .join(", ")
                                ));
                            }
                            ev.diags.push(d);
                            continue;
                        };
                        let v = ev.eval(&f.value, &mut scope);
                        let v =
                            ev.expect_dim(v, dim, f.value.span, &format!("`{}.{}`", info.name, pn));
                        if let Val::Q { ex, .. } = v {
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
                    }
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
}
