//! `mechanism` declarations: parameters, states, ions, the body blocks of density
//! mechanisms, point processes and synapses, checked and lowered to [`MechModel`].

use super::*;

impl Session {
    pub(super) fn mechanism(&mut self, mid: u32, d: &ast::Decl, b: &Block, base: &Path) {
        let sort = d
            .sort
            .as_ref()
            .map(|s| s.name.clone())
            .unwrap_or_else(|| "density".into());
        if let Some(s) = &d.sort
            && !["density", "point", "synapse"].contains(&s.name.as_str())
        {
            self.diags.push(
                Diagnostic::new(Code::E0404, format!("unknown mechanism sort `{}`", s.name))
                    .label(s.span, "expected `density`, `point` or `synapse`"),
            );
        }
        let synapse = sort == "synapse";
        let current_dim = if sort == "point" || synapse {
            Dim::CURRENT
        } else {
            Dim([-2, 0, 0, 1, 0, 0])
        };
        let mut diags = Vec::new();
        let mut mm = MechModel {
            name: d.name.name.clone(),
            sort: sort.clone(),
            origin: self.origin_string(d.name.span),
            ions: vec![],
            parameters: vec![],
            states: vec![],
            currents: vec![],
            weights: vec![],
            events: vec![],
        };
        let mut params = Vec::new();
        let mut weights_span: Option<Span> = None;
        let mut weight_names: Vec<(String, Span)> = Vec::new();
        let mut event_span: Option<Span> = None;
        // States the event block sets (a synapse state without an equation is held between
        // events).
        let mut event_states: Vec<String> = Vec::new();
        // Whether any `current` is declared (one that does not check is reported already).
        let mut current_declared = false;
        let mut locals: Vec<(String, Val)> = vec![
            ("v".into(), q_var("v", Dim::VOLTAGE)),
            ("t".into(), q_var("t", Dim::TIME)),
            (
                "celsius".into(),
                Val::Q {
                    dim: Dim::TEMPERATURE,
                    abs: true,
                    ex: Ex::bin(BinOp::Add, Ex::var("celsius", 1.0), Ex::Const(273.15)),
                },
            ),
            (
                "FARADAY".into(),
                Val::si(96485.33212, Dim([0, 0, 1, 1, 0, -1])),
            ),
            (
                "R_GAS".into(),
                Val::si(8.314462618, Dim([2, 1, -2, 0, -1, -1])),
            ),
            ("PI".into(), Val::num(std::f64::consts::PI)),
        ];
        if sort == "point" {
            locals.push(("area".into(), q_var("area", Dim([2, 0, 0, 0, 0, 0]))));
        }
        // writes: name -> ion
        let mut ion_writes: HashMap<String, String> = HashMap::new();
        let mut declared_states: Vec<(String, Span, Dim)> = Vec::new();
        let mut integrated: Vec<String> = Vec::new();
        let mut seen: HashMap<String, Span> = HashMap::new();
        {
            let mut scope = self.scope(mid);
            scope.locals = locals;
            let mut ev = Evaluator {
                diags: &mut diags,
                base_dir: base.to_path_buf(),
            };
            for entry in &b.entries {
                match entry {
                    Entry::Block(sb)
                        if synapse && (sb.head.name == "ion" || sb.head.name == "gate") =>
                    {
                        ev.diags.push(
                            Diagnostic::new(
                                Code::E0403,
                                format!("a synapse has no `{}` blocks", sb.head.name),
                            )
                            .label(sb.head.span, "not allowed in a synapse")
                            .help(
                                "synapse states change by `derivative` \
                            equations and in the `event` block",
                            ),
                        );
                    }
                    Entry::Field(f) if synapse && f.name.name == "weights" => {
                        if let Some(prev) = weights_span {
                            ev.diags.push(
                                Diagnostic::new(Code::E0104, "`weights` given twice")
                                    .label(f.name.span, "given again here")
                                    .label(prev, "first given here"),
                            );
                            continue;
                        }
                        weights_span = Some(f.name.span);
                        match name_list(&f.value) {
                            Some(names) => weight_names = names,
                            None => ev.diags.push(
                                Diagnostic::new(
                                    Code::E0306,
                                    "expected a list of \
                                parameter names",
                                )
                                .label(f.value.span, "e.g. `weights: [w_ampa, w_nmda]`"),
                            ),
                        }
                    }
                    Entry::Block(sb) if synapse && sb.head.name == "event" => {
                        if let Some(prev) = event_span {
                            ev.diags.push(
                                Diagnostic::new(
                                    Code::E0104,
                                    "a synapse has \
                                one `event` block",
                                )
                                .label(sb.head.span, "given again here")
                                .label(prev, "first given here"),
                            );
                            continue;
                        }
                        event_span = Some(sb.head.span);
                        let mut given: HashMap<String, Span> = HashMap::new();
                        // Event-local lets and draws: visible to the rest of this block only.
                        let depth = scope.locals.len();
                        scope.draws = Some(0);
                        for en in &sb.body.entries {
                            if let Entry::Let(l) = en {
                                let v = ev.eval(&l.value, &mut scope);
                                let v = check_annotation(&mut ev, v, l.ty.as_ref(), l.value.span);
                                scope.locals.push((l.name.name.clone(), v));
                                continue;
                            }
                            let Entry::Field(f) = en else {
                                ev.diags.push(
                                    Diagnostic::new(
                                        Code::E0401,
                                        "an event block has `let`s and \
                                    `state: new value` entries only",
                                    )
                                    .label(en.span(), "unexpected entry")
                                    .help("e.g. `event { A: A + w * factor }`"),
                                );
                                continue;
                            };
                            let Some((_, _, sdim)) =
                                declared_states.iter().find(|x| x.0 == f.name.name).cloned()
                            else {
                                let mut dg = Diagnostic::new(
                                    Code::E0201,
                                    format!(
                                        "`{}` is not a state \
                                    of this synapse",
                                        f.name.name
                                    ),
                                )
                                .label(f.name.span, "declare it first with `state`");
                                dg = dg.suggest(
                                    &f.name.name,
                                    declared_states.iter().map(|s| s.0.as_str()),
                                );
                                ev.diags.push(dg);
                                continue;
                            };
                            if let Some(prev) = given.get(&f.name.name) {
                                ev.diags.push(
                                    Diagnostic::new(
                                        Code::E0104,
                                        format!("`{}` set twice in one event", f.name.name),
                                    )
                                    .label(f.name.span, "set again here")
                                    .label(*prev, "first set here"),
                                );
                                continue;
                            }
                            given.insert(f.name.name.clone(), f.name.span);
                            let v = ev.eval(&f.value, &mut scope);
                            let v = ev.expect_dim(
                                v,
                                sdim,
                                f.value.span,
                                &format!("the new value of `{}`", f.name.name),
                            );
                            if let Val::Q { ex, .. } = v {
                                let (scale, _) = units::canonical_scale(sdim);
                                mm.events.push(crate::model::EventAssign {
                                    state: f.name.name.clone(),
                                    expr: ex.canonical(scale),
                                });
                            }
                        }
                        scope.locals.truncate(depth);
                        scope.draws = None;
                        event_states.extend(given.into_keys());
                    }
                    Entry::Block(sb) if sb.head.name == "ion" => {
                        let Some(ion) = &sb.name else {
                            ev.diags.push(
                                Diagnostic::new(Code::E0101, "an ion block needs the ion's name")
                                    .label(
                                        sb.head.span,
                                        "write e.g. `ion na { \
                                reads: ena, writes: ina }`",
                                    ),
                            );
                            continue;
                        };
                        let Some(&(_, e, i, c)) = IONS.iter().find(|x| x.0 == ion.name) else {
                            let mut dg =
                                Diagnostic::new(Code::E0411, format!("unknown ion `{}`", ion.name))
                                    .label(ion.span, "isf knows the ions na, k and ca")
                                    .help(
                                        "for a non-specific current, declare \
                                    `current i = …` without an ion block",
                                    );
                            dg = dg.suggest(&ion.name, IONS.iter().map(|x| x.0));
                            ev.diags.push(dg);
                            continue;
                        };
                        let mut use_ = IonUse {
                            ion: ion.name.clone(),
                            reads: vec![],
                            writes: vec![],
                        };
                        for en in &sb.body.entries {
                            let Entry::Field(f) = en else {
                                ev.diags.push(
                                    Diagnostic::new(
                                        Code::E0401,
                                        "an ion block has only \
                                    `reads` and `writes`",
                                    )
                                    .label(en.span(), "unexpected entry"),
                                );
                                continue;
                            };
                            let names = name_list(&f.value);
                            let write = match f.name.name.as_str() {
                                "reads" => false,
                                "writes" => true,
                                other => {
                                    let mut dg = Diagnostic::new(
                                        Code::E0401,
                                        format!(
                                            "unknown field `{other}` \
                                        in an ion block"
                                        ),
                                    )
                                    .label(f.name.span, "expected `reads` or `writes`");
                                    dg = dg.suggest(other, decls::ION.field_names());
                                    ev.diags.push(dg);
                                    continue;
                                }
                            };
                            let Some(names) = names else {
                                ev.diags.push(
                                    Diagnostic::new(
                                        Code::E0306,
                                        "expected a name or \
                                    a list of names",
                                    )
                                    .label(
                                        f.value.span,
                                        format!("e.g. `{}: [{e}, {i}]`", f.name.name),
                                    ),
                                );
                                continue;
                            };
                            for (n, sp) in names {
                                let dim = if n == e {
                                    Dim::VOLTAGE
                                } else if n == i {
                                    current_dim
                                } else if n == c || n == format!("{}o", &c[..c.len() - 1]) {
                                    Dim::CONCENTRATION
                                } else {
                                    ev.diags.push(
                                        Diagnostic::new(
                                            Code::E0201,
                                            format!("ion `{}` has no variable `{n}`", ion.name),
                                        )
                                        .label(
                                            sp,
                                            format!(
                                                "the {} ion provides \
                                        {e}, {i} and {c}",
                                                ion.name
                                            ),
                                        ),
                                    );
                                    continue;
                                };
                                if write {
                                    use_.writes.push(n.clone());
                                    ion_writes.insert(n.clone(), ion.name.clone());
                                    if n == c {
                                        // a written concentration is a state of this mechanism
                                        continue;
                                    }
                                } else {
                                    use_.reads.push(n.clone());
                                    scope.locals.push((n.clone(), q_var(&n, dim)));
                                }
                            }
                        }
                        mm.ions.push(use_);
                    }
                    Entry::Stmt(st) => {
                        for bnd in &st.bindings {
                            let declares = st.keyword.name != "derivative";
                            if let Some(prev) =
                                seen.get(&bnd.name.name).copied().filter(|_| declares)
                            {
                                ev.diags.push(
                                    Diagnostic::new(
                                        Code::E0105,
                                        format!(
                                            "`{}` is declared twice \
                                    in this mechanism",
                                            bnd.name.name
                                        ),
                                    )
                                    .label(bnd.name.span, "declared again here")
                                    .label(prev, "first declared here"),
                                );
                                continue;
                            }
                            if declares {
                                seen.insert(bnd.name.name.clone(), bnd.name.span);
                            }
                            let ann = bnd.ty.as_ref().and_then(|t| ann_unit(t, ev.diags));
                            match st.keyword.name.as_str() {
                                "parameter" | "constant" => {
                                    let val = bnd
                                        .value
                                        .as_ref()
                                        .map(|e| (ev.eval(e, &mut scope), e.span));
                                    let dim = match (&ann, &val) {
                                        (Some(u), Some((v, sp))) => {
                                            let v = ev.expect_dim(
                                                v.clone(),
                                                u.dim,
                                                *sp,
                                                &format!("default of `{}`", bnd.name.name),
                                            );
                                            if v.is_err() { None } else { Some(u.dim) }
                                        }
                                        (Some(u), None) => Some(u.dim),
                                        (
                                            None,
                                            Some((
                                                Val::Q {
                                                    dim, abs: false, ..
                                                },
                                                _,
                                            )),
                                        ) => Some(*dim),
                                        (None, Some((Val::Err, _))) => None,
                                        (None, Some((v, sp))) => {
                                            ev.diags.push(
                                                Diagnostic::new(
                                                    Code::E0306,
                                                    "a parameter must \
                                                be a quantity",
                                                )
                                                .label(*sp, format!("this is {}", v.type_name())),
                                            );
                                            None
                                        }
                                        (None, None) => {
                                            ev.diags.push(
                                                Diagnostic::new(
                                                    Code::E0402,
                                                    format!(
                                                        "parameter `{}` needs a unit or a default",
                                                        bnd.name.name
                                                    ),
                                                )
                                                .label(
                                                    bnd.name.span,
                                                    "write e.g. `parameter \
                                                gbar: S/cm2 = 1e-5 S/cm2`",
                                                ),
                                            );
                                            None
                                        }
                                    };
                                    let Some(dim) = dim else {
                                        scope.locals.push((bnd.name.name.clone(), Val::Err));
                                        continue;
                                    };
                                    let (scale, unit) = units::canonical_scale(dim);
                                    let default = val
                                        .as_ref()
                                        .and_then(|(v, _)| v.const_si())
                                        .map(|x| x / scale);
                                    if st.keyword.name == "parameter" {
                                        params.push((
                                            bnd.name.name.clone(),
                                            dim,
                                            scale,
                                            unit.clone(),
                                        ));
                                        mm.parameters.push(ParamModel {
                                            name: bnd.name.name.clone(),
                                            unit,
                                            default,
                                        });
                                        scope.locals.push((
                                            bnd.name.name.clone(),
                                            Val::Q {
                                                dim,
                                                abs: false,
                                                ex: Ex::var(&bnd.name.name, scale),
                                            },
                                        ));
                                    } else {
                                        scope.locals.push((
                                            bnd.name.name.clone(),
                                            val.map(|x| x.0).unwrap_or(Val::Err),
                                        ));
                                    }
                                }
                                "state" => {
                                    let dim = ann.map(|u| u.dim).unwrap_or(Dim::ONE);
                                    let (scale, unit) = units::canonical_scale(dim);
                                    let mut init_expr = None;
                                    let init = match &bnd.value {
                                        Some(e) => {
                                            let v = ev.eval(e, &mut scope);
                                            let v = ev.expect_dim(
                                                v,
                                                dim,
                                                e.span,
                                                &format!("initial value of `{}`", bnd.name.name),
                                            );
                                            let c = v.const_si().map(|x| x / scale);
                                            // An initial value may name parameters, nothing
                                            // that changes in time: a density state's is
                                            // computed once per compartment (`state cai: mM =
                                            // minCai`), a synapse state's once per synapse
                                            // (`state u: 1 = u0`).
                                            if c.is_none()
                                                && let Val::Q { ex, .. } = &v
                                            {
                                                let mut used = Vec::new();
                                                ex.vars(&mut used);
                                                let bad = used
                                                    .iter()
                                                    .find(|n| !params.iter().any(|p| &p.0 == *n));
                                                match bad {
                                                    None => {
                                                        init_expr =
                                                            Some(ex.clone().canonical(scale))
                                                    }
                                                    Some(bad) if synapse => {
                                                        let what =
                                                            crate::model::ex::Draw::parse_var(bad)
                                                                .map_or_else(
                                                                    || format!("`{bad}`"),
                                                                    |(_, d)| {
                                                                        format!(
                                                                            "`{}()`",
                                                                            d.builtin()
                                                                        )
                                                                    },
                                                                );
                                                        let s = &bnd.name.name;
                                                        let msg = format!(
                                                            "the initial value of `{s}` \
                                                             depends on {what}"
                                                        );
                                                        let d = Diagnostic::new(Code::E0316, msg)
                                                            .label(
                                                                e.span,
                                                                "a synapse state starts from \
                                                                 constants and parameters only",
                                                            )
                                                            .help(
                                                                "states change in the `event` \
                                                                 block and by `derivative` \
                                                                 equations",
                                                            );
                                                        ev.diags.push(d);
                                                    }
                                                    Some(bad) => {
                                                        let s = &bnd.name.name;
                                                        let msg = format!(
                                                            "the initial value of `{s}` may \
                                                             name only parameters and constants"
                                                        );
                                                        let d = Diagnostic::new(Code::E0315, msg)
                                                            .label(e.span, format!("uses `{bad}`"))
                                                            .note(
                                                                "a state starts before anything \
                                                                 else is computed; write its \
                                                                 value with constants and \
                                                                 `parameter`s",
                                                            );
                                                        ev.diags.push(d);
                                                    }
                                                }
                                            }
                                            c
                                        }
                                        None => None,
                                    };
                                    declared_states.push((
                                        bnd.name.name.clone(),
                                        bnd.name.span,
                                        dim,
                                    ));
                                    mm.states.push(StateModel {
                                        name: bnd.name.name.clone(),
                                        unit,
                                        init,
                                        init_expr,
                                        inf: None,
                                        tau_ms: None,
                                        derivative: None,
                                    });
                                    scope.locals.push((
                                        bnd.name.name.clone(),
                                        Val::Q {
                                            dim,
                                            abs: false,
                                            ex: Ex::var(&bnd.name.name, scale),
                                        },
                                    ));
                                }
                                "current" => {
                                    current_declared = true;
                                    let Some(e) = &bnd.value else {
                                        ev.diags.push(
                                            Diagnostic::new(
                                                Code::E0402,
                                                format!(
                                                    "current `{}` needs \
                                            an expression",
                                                    bnd.name.name
                                                ),
                                            )
                                            .label(
                                                bnd.name.span,
                                                "write `current i = g * (v - e)`",
                                            ),
                                        );
                                        continue;
                                    };
                                    let v = ev.eval(e, &mut scope);
                                    let what = if sort == "point" {
                                        "a point-process current"
                                    } else {
                                        "a density current"
                                    };
                                    let v = ev.expect_dim(v, current_dim, e.span, what);
                                    if let Val::Q { ex, .. } = v {
                                        let (scale, unit) = units::canonical_scale(current_dim);
                                        let ion = ion_writes.get(&bnd.name.name).cloned();
                                        mm.currents.push(CurrentModel {
                                            name: bnd.name.name.clone(),
                                            unit,
                                            ion,
                                            expr: ex.clone().canonical(scale),
                                        });
                                        scope.locals.push((
                                            bnd.name.name.clone(),
                                            Val::Q {
                                                dim: current_dim,
                                                abs: false,
                                                ex,
                                            },
                                        ));
                                    }
                                }
                                "derivative" => {
                                    let Some(e) = &bnd.value else { continue };
                                    let Some((_, _, sdim)) = declared_states
                                        .iter()
                                        .find(|s| s.0 == bnd.name.name)
                                        .cloned()
                                    else {
                                        ev.diags.push(
                                            Diagnostic::new(
                                                Code::E0201,
                                                format!(
                                                    "`{}` is not a state \
                                            of this mechanism",
                                                    bnd.name.name
                                                ),
                                            )
                                            .label(bnd.name.span, "declare it first with `state`"),
                                        );
                                        continue;
                                    };
                                    let v = ev.eval(e, &mut scope);
                                    let want = sdim.div(Dim::TIME);
                                    let v = ev.expect_dim(
                                        v,
                                        want,
                                        e.span,
                                        &format!("the derivative of `{}`", bnd.name.name),
                                    );
                                    if let Val::Q { ex, .. } = v {
                                        let (scale, _) = units::canonical_scale(sdim);
                                        if let Some(s) =
                                            mm.states.iter_mut().find(|s| s.name == bnd.name.name)
                                        {
                                            // unit/ms: divide SI by (scale / 1e-3)
                                            s.derivative = Some(ex.canonical(scale / 1e-3));
                                        }
                                        integrated.push(bnd.name.name.clone());
                                    }
                                }
                                other => {
                                    ev.diags.push(
                                        Diagnostic::new(
                                            Code::E0401,
                                            format!(
                                                "`{other}` is not \
                                        allowed in a mechanism"
                                            ),
                                        )
                                        .label(st.keyword.span, "here"),
                                    );
                                }
                            }
                        }
                    }
                    Entry::Let(l) => {
                        let v = ev.eval(&l.value, &mut scope);
                        let v = check_annotation(&mut ev, v, l.ty.as_ref(), l.value.span);
                        scope.locals.push((l.name.name.clone(), v));
                    }
                    Entry::Block(sb) if sb.head.name == "gate" => {
                        let Some(g) = &sb.name else {
                            ev.diags.push(
                                Diagnostic::new(
                                    Code::E0101,
                                    "a gate block needs \
                                the state's name",
                                )
                                .label(sb.head.span, "write `gate m { inf: …, tau: … }`"),
                            );
                            continue;
                        };
                        if !declared_states.iter().any(|s| s.0 == g.name) {
                            let mut dg = Diagnostic::new(
                                Code::E0201,
                                format!(
                                    "`{}` is not a state \
                                of this mechanism",
                                    g.name
                                ),
                            )
                            .label(g.span, "declare it first with `state`");
                            dg = dg.suggest(&g.name, declared_states.iter().map(|s| s.0.as_str()));
                            ev.diags.push(dg);
                            continue;
                        }
                        let depth = scope.locals.len();
                        let mut got: HashMap<&str, (Ex, Span)> = HashMap::new();
                        for en in &sb.body.entries {
                            match en {
                                Entry::Let(l) => {
                                    let v = ev.eval(&l.value, &mut scope);
                                    let v =
                                        check_annotation(&mut ev, v, l.ty.as_ref(), l.value.span);
                                    scope.locals.push((l.name.name.clone(), v));
                                }
                                Entry::Field(f) => {
                                    let (key, want): (&str, Dim) = match f.name.name.as_str() {
                                        "alpha" => ("alpha", Dim::FREQUENCY),
                                        "beta" => ("beta", Dim::FREQUENCY),
                                        "inf" => ("inf", Dim::ONE),
                                        "tau" => ("tau", Dim::TIME),
                                        other => {
                                            let mut dg = Diagnostic::new(
                                                Code::E0401,
                                                format!("unknown field `{other}` in a gate"),
                                            )
                                            .label(
                                                f.name.span,
                                                "a gate has alpha, \
                                                beta, inf and tau",
                                            );
                                            dg = dg.suggest(other, decls::GATE.field_names());
                                            ev.diags.push(dg);
                                            continue;
                                        }
                                    };
                                    if let Some((_, prev)) = got.get(key) {
                                        ev.diags.push(
                                            Diagnostic::new(
                                                Code::E0104,
                                                format!("`{key}` given twice"),
                                            )
                                            .label(f.name.span, "given again here")
                                            .label(*prev, "first given here"),
                                        );
                                        continue;
                                    }
                                    let v = ev.eval(&f.value, &mut scope);
                                    let v = ev.expect_dim(
                                        v,
                                        want,
                                        f.value.span,
                                        &format!("`{key}` of gate `{}`", g.name),
                                    );
                                    if let Val::Q { ex, .. } = &v {
                                        got.insert(key, (ex.clone(), f.name.span));
                                    }
                                    // alpha and beta are visible to inf and tau
                                    scope.locals.push((key.to_string(), v));
                                }
                                other => ev.diags.push(
                                    Diagnostic::new(
                                        Code::E0401,
                                        "a gate block has \
                                    fields and lets only",
                                    )
                                    .label(other.span(), "unexpected entry"),
                                ),
                            }
                        }
                        scope.locals.truncate(depth);
                        let ab = got
                            .get("alpha")
                            .zip(got.get("beta"))
                            .map(|(a, b)| (a.0.clone(), b.0.clone()));
                        let inf = got.get("inf").map(|x| x.0.clone()).or_else(|| {
                            ab.clone().map(|(a, b)| {
                                Ex::bin(BinOp::Div, a.clone(), Ex::bin(BinOp::Add, a, b))
                            })
                        });
                        let tau = got.get("tau").map(|x| x.0.clone()).or_else(|| {
                            ab.map(|(a, b)| {
                                Ex::bin(BinOp::Div, Ex::Const(1.0), Ex::bin(BinOp::Add, a, b))
                            })
                        });
                        match (inf, tau) {
                            (Some(inf), Some(tau)) => {
                                if let Some(s) = mm.states.iter_mut().find(|s| s.name == g.name) {
                                    s.inf = Some(inf);
                                    s.tau_ms = Some(tau.canonical(1e-3));
                                }
                                integrated.push(g.name.clone());
                            }
                            _ => ev.diags.push(
                                Diagnostic::new(
                                    Code::E0402,
                                    format!(
                                        "gate `{}` needs `inf` and \
                                `tau`, or `alpha` and `beta`",
                                        g.name
                                    ),
                                )
                                .label(sb.span, "incomplete gate"),
                            ),
                        }
                    }
                    Entry::Block(sb) => {
                        let mut dg = Diagnostic::new(
                            Code::E0403,
                            format!("unknown block `{}` in a mechanism", sb.head.name),
                        )
                        .label(
                            sb.head.span,
                            "mechanisms have `ion` \
                            and `gate` blocks",
                        );
                        dg = dg.suggest(&sb.head.name, decls::MECHANISM.block_names());
                        ev.diags.push(dg);
                    }
                    other => ev.diags.push(
                        Diagnostic::new(Code::E0401, "unexpected entry in a mechanism").label(
                            other.span(),
                            "mechanisms contain ion, parameter, state, \
                        let, gate, derivative and current entries",
                        ),
                    ),
                }
            }
        }
        for (name, span, _) in &declared_states {
            // A synapse state set only by the event block is held between events.
            let held = synapse && event_states.contains(name);
            if !integrated.contains(name) && !held {
                diags.push(
                    Diagnostic::new(
                        Code::E0410,
                        format!("state `{name}` has no gate or derivative"),
                    )
                    .label(*span, "declared here but never integrated")
                    .help(if synapse {
                        format!(
                            "add `derivative {name} = …`, or set it in the \
                                `event` block (it is then held between events)"
                        )
                    } else {
                        format!(
                            "add `gate {name} {{ inf: …, tau: … }}` or \
                             `derivative {name} = …`"
                        )
                    }),
                );
            }
        }
        if synapse {
            for (w, sp) in &weight_names {
                if mm.parameters.iter().any(|p| p.name == *w) {
                    mm.weights.push(w.clone());
                } else {
                    diags.push(
                        Diagnostic::new(
                            Code::E0201,
                            format!("weight `{w}` is not a parameter of this synapse"),
                        )
                        .label(*sp, "declare it with `parameter`"),
                    );
                }
            }
            if event_span.is_none() {
                diags.push(
                    Diagnostic::new(
                        Code::E0402,
                        format!("synapse `{}` has no `event` block", d.name.name),
                    )
                    .label(
                        d.name.span,
                        "a synapse needs to say what a release event does",
                    )
                    .help("e.g. `event { A: A + w, B: B + w }`"),
                );
            }
            if !current_declared {
                diags.push(
                    Diagnostic::new(
                        Code::E0402,
                        format!("synapse `{}` contributes no current", d.name.name),
                    )
                    .label(d.name.span, "declare `current i = g * (v - e)`"),
                );
            }
        }
        if mm.currents.is_empty()
            && !mm.ions.iter().any(|i| !i.writes.is_empty())
            && sort == "density"
        {
            diags.push(
                Diagnostic::new(
                    Code::E0402,
                    format!(
                        "mechanism `{}` contributes no current and writes nothing",
                        d.name.name
                    ),
                )
                .label(d.name.span, "declare `current i = …`"),
            );
        }
        let had_errors = crate::diagnostics::has_errors(&diags);
        self.diags.extend(diags);
        if synapse && !had_errors {
            // Whether the kernel can simulate it (E0504) is the validate pass's question: the
            // kernel sits above the checker. Its answer goes here.
            self.defer(Check::Synapse {
                mechanism: mm.clone(),
                span: d.name.span,
                root: mid == 0,
            });
        }
        let idx = self.mechs.len();
        self.mechs.push(MechInfo {
            name: d.name.name.clone(),
            sort,
            params,
            model: mm.clone(),
            span: d.name.span,
        });
        if let Some(entry) = self.modules[mid as usize].syms.get_mut(&d.name.name) {
            entry.0 = Sym::Mech(idx);
        }
        if mid == 0 && !had_errors {
            self.model.mechanisms.push(mm);
        }
    }

    pub(super) fn origin_string(&self, span: Span) -> String {
        let src = self.sources.get(span.file);
        let (line, _) = src.line_col(span.start as usize);
        format!("{}:{line}", src.name)
    }

    /// The mechanism a name refers to in a module; marks the name used (W0102).
    pub(super) fn mech_by_name(&mut self, mid: u32, name: &str) -> Option<usize> {
        let m = &mut self.modules[mid as usize];
        match m.syms.get(name) {
            Some((Sym::Mech(i), _)) => {
                let i = *i;
                m.used.insert(name.to_string(), true);
                Some(i)
            }
            _ => None,
        }
    }
}
