//! `mechanism` declarations: parameters, states, ions, the body blocks of density
//! mechanisms, point processes and synapses, checked and lowered to [`MechModel`].
//!
//! [`Session::mechanism`] walks the body once in order (a name is visible after its
//! declaration), a [`Body`] collecting what each entry declares: statements
//! ([`Body::statement`]: `parameter`, `constant`, `state`, `current`, `derivative`), `ion`
//! and `gate` blocks, and a synapse's `weights` and `event` block. Then
//! [`Body::check_complete`] checks what the whole body must have (every state integrated, a
//! current, a synapse's event block), and the mechanism is registered.

use super::*;

/// A mechanism body being checked: what its entries so far declared, and the lowered model.
struct Body {
    mm: MechModel,
    synapse: bool,
    /// The dimension of a current: a current density, or a current for point processes and
    /// synapses.
    current_dim: Dim,
    /// (name, dimension, canonical scale, unit) of each parameter.
    params: Vec<(String, Dim, f64, String)>,
    weights_span: Option<Span>,
    weight_names: Vec<(String, Span)>,
    event_span: Option<Span>,
    /// States the event block sets (a synapse state without an equation is held between
    /// events).
    event_states: Vec<String>,
    /// Whether any `current` is declared (one that does not check is reported already).
    current_declared: bool,
    /// Ion variables written: name → ion.
    ion_writes: HashMap<String, String>,
    declared_states: Vec<(String, Span, Dim)>,
    /// States with a gate or a derivative.
    integrated: Vec<String>,
    /// Names declared so far, for E0105.
    seen: HashMap<String, Span>,
}

impl Session {
    /// Check a mechanism declaration and register it in its module (and in the model, for
    /// the root file); a synapse's simulability is left to the validate pass.
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
        let mut diags = Vec::new();
        let mut body = Body::new(d, &sort, self.origin_string(d.name.span));
        {
            let mut scope = self.scope(mid);
            scope.locals = mechanism_locals(&sort);
            let mut ev = Evaluator {
                diags: &mut diags,
                base_dir: base.to_path_buf(),
            };
            for entry in &b.entries {
                body.entry(&mut ev, &mut scope, entry);
            }
        }
        body.check_complete(&d.name, &mut diags);
        let had_errors = crate::diagnostics::has_errors(&diags);
        self.diags.extend(diags);
        let Body { mm, params, .. } = body;
        if sort == "synapse" && !had_errors {
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

/// The names every mechanism body sees: `v`, `t`, `celsius`, physical constants, and a point
/// process's `area`.
fn mechanism_locals(sort: &str) -> Vec<(String, Val)> {
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
    locals
}

/// A local `let` of a body, gate or event block: evaluated, checked against its
/// annotation, and visible from here on.
fn body_let(ev: &mut Evaluator, scope: &mut Scope, l: &ast::Let) {
    let v = ev.eval(&l.value, scope);
    let v = check_annotation(ev, v, l.ty.as_ref(), l.value.span);
    scope.locals.push((l.name.name.clone(), v));
}

/// A quantity named `name` of dimension `dim` in canonical units.
fn var_of(name: &str, dim: Dim, scale: f64) -> Val {
    Val::Q {
        dim,
        abs: false,
        ex: Ex::var(name, scale),
    }
}

impl Body {
    fn new(d: &ast::Decl, sort: &str, origin: String) -> Self {
        let synapse = sort == "synapse";
        Body {
            mm: MechModel {
                name: d.name.name.clone(),
                sort: sort.to_string(),
                origin,
                ions: vec![],
                parameters: vec![],
                states: vec![],
                currents: vec![],
                weights: vec![],
                events: vec![],
            },
            synapse,
            current_dim: if sort == "point" || synapse {
                Dim::CURRENT
            } else {
                Dim([-2, 0, 0, 1, 0, 0])
            },
            params: Vec::new(),
            weights_span: None,
            weight_names: Vec::new(),
            event_span: None,
            event_states: Vec::new(),
            current_declared: false,
            ion_writes: HashMap::new(),
            declared_states: Vec::new(),
            integrated: Vec::new(),
            seen: HashMap::new(),
        }
    }

    /// One entry of the body, in order.
    fn entry(&mut self, ev: &mut Evaluator, scope: &mut Scope, entry: &Entry) {
        match entry {
            Entry::Block(sb)
                if self.synapse && (sb.head.name == "ion" || sb.head.name == "gate") =>
            {
                ev.diags.push(
                    Diagnostic::new(
                        Code::E0403,
                        format!("a synapse has no `{}` blocks", sb.head.name),
                    )
                    .label(sb.head.span, "not allowed in a synapse")
                    .help(
                        "synapse states change by `derivative` equations and in the `event` \
                         block",
                    ),
                );
            }
            Entry::Field(f) if self.synapse && f.name.name == "weights" => self.weights(ev, f),
            Entry::Block(sb) if self.synapse && sb.head.name == "event" => {
                self.event_block(ev, scope, sb)
            }
            Entry::Block(sb) if sb.head.name == "ion" => self.ion_block(ev, scope, sb),
            Entry::Stmt(st) => self.statement(ev, scope, st),
            Entry::Let(l) => body_let(ev, scope, l),
            Entry::Block(sb) if sb.head.name == "gate" => self.gate_block(ev, scope, sb),
            Entry::Block(sb) => ev.diags.push(
                Diagnostic::new(
                    Code::E0403,
                    format!("unknown block `{}` in a mechanism", sb.head.name),
                )
                .label(sb.head.span, "mechanisms have `ion` and `gate` blocks")
                .suggest(&sb.head.name, decls::MECHANISM.block_names()),
            ),
            other => ev.diags.push(
                Diagnostic::new(Code::E0401, "unexpected entry in a mechanism").label(
                    other.span(),
                    "mechanisms contain ion, parameter, state, let, gate, derivative and \
                     current entries",
                ),
            ),
        }
    }

    /// A synapse's `weights: [w, …]`: names of parameters, resolved in
    /// [`Body::check_complete`].
    fn weights(&mut self, ev: &mut Evaluator, f: &ast::Field) {
        if let Some(prev) = self.weights_span {
            ev.diags.push(
                Diagnostic::new(Code::E0104, "`weights` given twice")
                    .label(f.name.span, "given again here")
                    .label(prev, "first given here"),
            );
            return;
        }
        self.weights_span = Some(f.name.span);
        match name_list(&f.value) {
            Some(names) => self.weight_names = names,
            None => ev.diags.push(
                Diagnostic::new(Code::E0306, "expected a list of parameter names")
                    .label(f.value.span, "e.g. `weights: [w_ampa, w_nmda]`"),
            ),
        }
    }

    /// A synapse's `event { … }` block: `state: new value` assignments (each state once),
    /// with event-local lets and random draws.
    fn event_block(&mut self, ev: &mut Evaluator, scope: &mut Scope, sb: &ast::SubBlock) {
        if let Some(prev) = self.event_span {
            ev.diags.push(
                Diagnostic::new(Code::E0104, "a synapse has one `event` block")
                    .label(sb.head.span, "given again here")
                    .label(prev, "first given here"),
            );
            return;
        }
        self.event_span = Some(sb.head.span);
        let mut given: HashMap<String, Span> = HashMap::new();
        // Event-local lets and draws: visible to the rest of this block only.
        let depth = scope.locals.len();
        scope.draws = Some(0);
        for en in &sb.body.entries {
            if let Entry::Let(l) = en {
                body_let(ev, scope, l);
                continue;
            }
            let Entry::Field(f) = en else {
                ev.diags.push(
                    Diagnostic::new(
                        Code::E0401,
                        "an event block has `let`s and `state: new value` entries only",
                    )
                    .label(en.span(), "unexpected entry")
                    .help("e.g. `event { A: A + w * factor }`"),
                );
                continue;
            };
            let Some(sdim) = self.state_dim(&f.name.name) else {
                ev.diags.push(
                    Diagnostic::new(
                        Code::E0201,
                        format!("`{}` is not a state of this synapse", f.name.name),
                    )
                    .label(f.name.span, "declare it first with `state`")
                    .suggest(&f.name.name, self.state_names()),
                );
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
            let v = ev.eval(&f.value, scope);
            let what = format!("the new value of `{}`", f.name.name);
            if let Val::Q { ex, .. } = ev.expect_dim(v, sdim, f.value.span, &what) {
                let (scale, _) = units::canonical_scale(sdim);
                self.mm.events.push(crate::model::EventAssign {
                    state: f.name.name.clone(),
                    expr: ex.canonical(scale),
                });
            }
        }
        scope.locals.truncate(depth);
        scope.draws = None;
        self.event_states.extend(given.into_keys());
    }

    /// The dimension of a declared state.
    fn state_dim(&self, name: &str) -> Option<Dim> {
        self.declared_states
            .iter()
            .find(|s| s.0 == name)
            .map(|s| s.2)
    }

    /// The names of the declared states (for "did you mean").
    fn state_names(&self) -> impl Iterator<Item = &str> {
        self.declared_states.iter().map(|s| s.0.as_str())
    }

    /// An `ion NAME { reads: …, writes: … }` block: read variables become visible; a written
    /// concentration is a state of the mechanism, a written current is assigned later.
    fn ion_block(&mut self, ev: &mut Evaluator, scope: &mut Scope, sb: &ast::SubBlock) {
        let Some(ion) = &sb.name else {
            ev.diags.push(
                Diagnostic::new(Code::E0101, "an ion block needs the ion's name").label(
                    sb.head.span,
                    "write e.g. `ion na { reads: ena, writes: ina }`",
                ),
            );
            return;
        };
        let Some(&vars) = IONS.iter().find(|x| x.0 == ion.name) else {
            ev.diags.push(
                Diagnostic::new(Code::E0411, format!("unknown ion `{}`", ion.name))
                    .label(ion.span, "isf knows the ions na, k and ca")
                    .help(
                        "for a non-specific current, declare `current i = …` without an ion \
                         block",
                    )
                    .suggest(&ion.name, IONS.iter().map(|x| x.0)),
            );
            return;
        };
        let mut use_ = IonUse {
            ion: ion.name.clone(),
            reads: vec![],
            writes: vec![],
        };
        for en in &sb.body.entries {
            let Entry::Field(f) = en else {
                ev.diags.push(
                    Diagnostic::new(Code::E0401, "an ion block has only `reads` and `writes`")
                        .label(en.span(), "unexpected entry"),
                );
                continue;
            };
            self.ion_field(ev, scope, vars, f, &mut use_);
        }
        self.mm.ions.push(use_);
    }

    /// `reads:` or `writes:` of an ion block: names of the ion's variables (`vars`: ion,
    /// reversal, current, inside concentration).
    fn ion_field(
        &mut self,
        ev: &mut Evaluator,
        scope: &mut Scope,
        (ion, e, i, c): (&str, &str, &str, &str),
        f: &ast::Field,
        use_: &mut IonUse,
    ) {
        let write = match f.name.name.as_str() {
            "reads" => false,
            "writes" => true,
            other => {
                ev.diags.push(
                    Diagnostic::new(
                        Code::E0401,
                        format!("unknown field `{other}` in an ion block"),
                    )
                    .label(f.name.span, "expected `reads` or `writes`")
                    .suggest(other, decls::ION.field_names()),
                );
                return;
            }
        };
        let Some(names) = name_list(&f.value) else {
            ev.diags.push(
                Diagnostic::new(Code::E0306, "expected a name or a list of names")
                    .label(f.value.span, format!("e.g. `{}: [{e}, {i}]`", f.name.name)),
            );
            return;
        };
        for (n, sp) in names {
            let dim = if n == e {
                Dim::VOLTAGE
            } else if n == i {
                self.current_dim
            } else if n == c || n == format!("{}o", &c[..c.len() - 1]) {
                Dim::CONCENTRATION
            } else {
                ev.diags.push(
                    Diagnostic::new(Code::E0201, format!("ion `{ion}` has no variable `{n}`"))
                        .label(sp, format!("the {ion} ion provides {e}, {i} and {c}")),
                );
                continue;
            };
            if write {
                use_.writes.push(n.clone());
                self.ion_writes.insert(n.clone(), ion.to_string());
                // A written concentration is a state of this mechanism.
            } else {
                use_.reads.push(n.clone());
                scope.locals.push((n.clone(), q_var(&n, dim)));
            }
        }
    }

    /// A statement (`parameter`, `constant`, `state`, `current`, `derivative`) and each of
    /// its bindings; names are declared once (E0105), a derivative names a state.
    fn statement(&mut self, ev: &mut Evaluator, scope: &mut Scope, st: &ast::Stmt) {
        let keyword = st.keyword.name.as_str();
        for bnd in &st.bindings {
            let declares = keyword != "derivative";
            if let Some(prev) = self.seen.get(&bnd.name.name).copied().filter(|_| declares) {
                ev.diags.push(
                    Diagnostic::new(
                        Code::E0105,
                        format!("`{}` is declared twice in this mechanism", bnd.name.name),
                    )
                    .label(bnd.name.span, "declared again here")
                    .label(prev, "first declared here"),
                );
                continue;
            }
            if declares {
                self.seen.insert(bnd.name.name.clone(), bnd.name.span);
            }
            let ann = bnd.ty.as_ref().and_then(|t| ann_unit(t, ev.diags));
            match keyword {
                "parameter" | "constant" => self.parameter(ev, scope, keyword, bnd, ann),
                "state" => self.state(ev, scope, bnd, ann),
                "current" => self.current(ev, scope, bnd),
                "derivative" => self.derivative(ev, scope, bnd),
                other => ev.diags.push(
                    Diagnostic::new(
                        Code::E0401,
                        format!("`{other}` is not allowed in a mechanism"),
                    )
                    .label(st.keyword.span, "here"),
                ),
            }
        }
    }

    /// `parameter NAME: UNIT = default` (a variable of the model, set per region) or
    /// `constant NAME = value`: the dimension comes from the unit or the value.
    fn parameter(
        &mut self,
        ev: &mut Evaluator,
        scope: &mut Scope,
        keyword: &str,
        bnd: &ast::Binding,
        ann: Option<units::Unit>,
    ) {
        let name = &bnd.name.name;
        let val = bnd.value.as_ref().map(|e| (ev.eval(e, scope), e.span));
        let dim = match (&ann, &val) {
            (Some(u), Some((v, sp))) => {
                let what = format!("default of `{name}`");
                let v = ev.expect_dim(v.clone(), u.dim, *sp, &what);
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
                    Diagnostic::new(Code::E0306, "a parameter must be a quantity")
                        .label(*sp, format!("this is {}", v.type_name())),
                );
                None
            }
            (None, None) => {
                ev.diags.push(
                    Diagnostic::new(
                        Code::E0402,
                        format!("parameter `{name}` needs a unit or a default"),
                    )
                    .label(
                        bnd.name.span,
                        "write e.g. `parameter gbar: S/cm2 = 1e-5 S/cm2`",
                    ),
                );
                None
            }
        };
        let Some(dim) = dim else {
            scope.locals.push((name.clone(), Val::Err));
            return;
        };
        if keyword != "parameter" {
            scope
                .locals
                .push((name.clone(), val.map(|x| x.0).unwrap_or(Val::Err)));
            return;
        }
        let (scale, unit) = units::canonical_scale(dim);
        let default = val
            .as_ref()
            .and_then(|(v, _)| v.const_si())
            .map(|x| x / scale);
        self.params.push((name.clone(), dim, scale, unit.clone()));
        self.mm.parameters.push(ParamModel {
            name: name.clone(),
            unit,
            default,
        });
        scope.locals.push((name.clone(), var_of(name, dim, scale)));
    }

    /// `state NAME: UNIT = initial value`: the initial value may name only parameters and
    /// constants ([`Body::state_init`]).
    fn state(
        &mut self,
        ev: &mut Evaluator,
        scope: &mut Scope,
        bnd: &ast::Binding,
        ann: Option<units::Unit>,
    ) {
        let name = &bnd.name.name;
        let dim = ann.map(|u| u.dim).unwrap_or(Dim::ONE);
        let (scale, unit) = units::canonical_scale(dim);
        let (init, init_expr) = match &bnd.value {
            Some(e) => self.state_init(ev, scope, name, e, dim, scale),
            None => (None, None),
        };
        self.declared_states
            .push((name.clone(), bnd.name.span, dim));
        self.mm.states.push(StateModel {
            name: name.clone(),
            unit,
            init,
            init_expr,
            inf: None,
            tau_ms: None,
            derivative: None,
        });
        scope.locals.push((name.clone(), var_of(name, dim, scale)));
    }

    /// A state's initial value: a constant, or an expression of parameters (E0316 for a
    /// synapse state that names anything else, E0315 for other states). Returns the
    /// constant and the expression, in canonical units.
    fn state_init(
        &mut self,
        ev: &mut Evaluator,
        scope: &mut Scope,
        s: &str,
        e: &ast::Expr,
        dim: Dim,
        scale: f64,
    ) -> (Option<f64>, Option<Ex>) {
        let v = ev.eval(e, scope);
        let v = ev.expect_dim(v, dim, e.span, &format!("initial value of `{s}`"));
        let c = v.const_si().map(|x| x / scale);
        // An initial value may name parameters, nothing that changes in time: a density
        // state's is computed once per compartment (`state cai: mM = minCai`), a synapse
        // state's once per synapse (`state u: 1 = u0`).
        let (None, Val::Q { ex, .. }) = (c, &v) else {
            return (c, None);
        };
        let mut used = Vec::new();
        ex.vars(&mut used);
        let bad = used
            .iter()
            .find(|n| !self.params.iter().any(|p| &p.0 == *n));
        let d = match bad {
            None => return (c, Some(ex.clone().canonical(scale))),
            Some(bad) if self.synapse => {
                let what = crate::model::ex::Draw::parse_var(bad).map_or_else(
                    || format!("`{bad}`"),
                    |(_, d)| format!("`{}()`", d.builtin()),
                );
                Diagnostic::new(
                    Code::E0316,
                    format!("the initial value of `{s}` depends on {what}"),
                )
                .label(
                    e.span,
                    "a synapse state starts from constants and parameters only",
                )
                .help("states change in the `event` block and by `derivative` equations")
            }
            Some(bad) => Diagnostic::new(
                Code::E0315,
                format!("the initial value of `{s}` may name only parameters and constants"),
            )
            .label(e.span, format!("uses `{bad}`"))
            .note(
                "a state starts before anything else is computed; write its value with \
                 constants and `parameter`s",
            ),
        };
        ev.diags.push(d);
        (c, None)
    }

    /// `current NAME = expression`: a current density, or a current for point processes and
    /// synapses; of the ion that writes it, if one does.
    fn current(&mut self, ev: &mut Evaluator, scope: &mut Scope, bnd: &ast::Binding) {
        self.current_declared = true;
        let Some(e) = &bnd.value else {
            ev.diags.push(
                Diagnostic::new(
                    Code::E0402,
                    format!("current `{}` needs an expression", bnd.name.name),
                )
                .label(bnd.name.span, "write `current i = g * (v - e)`"),
            );
            return;
        };
        let v = ev.eval(e, scope);
        let what = if self.mm.sort == "point" {
            "a point-process current"
        } else {
            "a density current"
        };
        let current_dim = self.current_dim;
        if let Val::Q { ex, .. } = ev.expect_dim(v, current_dim, e.span, what) {
            let (scale, unit) = units::canonical_scale(current_dim);
            let ion = self.ion_writes.get(&bnd.name.name).cloned();
            self.mm.currents.push(CurrentModel {
                name: bnd.name.name.clone(),
                unit,
                ion,
                expr: ex.clone().canonical(scale),
            });
            let v = Val::Q {
                dim: current_dim,
                abs: false,
                ex,
            };
            scope.locals.push((bnd.name.name.clone(), v));
        }
    }

    /// `derivative NAME = expression`: the rate of change of a declared state, in its unit
    /// per ms.
    fn derivative(&mut self, ev: &mut Evaluator, scope: &mut Scope, bnd: &ast::Binding) {
        let name = &bnd.name.name;
        let Some(e) = &bnd.value else { return };
        let Some(sdim) = self.state_dim(name) else {
            ev.diags.push(
                Diagnostic::new(
                    Code::E0201,
                    format!("`{name}` is not a state of this mechanism"),
                )
                .label(bnd.name.span, "declare it first with `state`"),
            );
            return;
        };
        let v = ev.eval(e, scope);
        let what = format!("the derivative of `{name}`");
        if let Val::Q { ex, .. } = ev.expect_dim(v, sdim.div(Dim::TIME), e.span, &what) {
            let (scale, _) = units::canonical_scale(sdim);
            if let Some(s) = self.mm.states.iter_mut().find(|s| s.name == *name) {
                // unit/ms: divide SI by (scale / 1e-3)
                s.derivative = Some(ex.canonical(scale / 1e-3));
            }
            self.integrated.push(name.clone());
        }
    }

    /// A `gate NAME { … }` block of a declared state: `inf` and `tau`, or `alpha` and
    /// `beta` (from which inf and tau follow), with local lets.
    fn gate_block(&mut self, ev: &mut Evaluator, scope: &mut Scope, sb: &ast::SubBlock) {
        let Some(g) = &sb.name else {
            ev.diags.push(
                Diagnostic::new(Code::E0101, "a gate block needs the state's name")
                    .label(sb.head.span, "write `gate m { inf: …, tau: … }`"),
            );
            return;
        };
        if self.state_dim(&g.name).is_none() {
            ev.diags.push(
                Diagnostic::new(
                    Code::E0201,
                    format!("`{}` is not a state of this mechanism", g.name),
                )
                .label(g.span, "declare it first with `state`")
                .suggest(&g.name, self.state_names()),
            );
            return;
        }
        let depth = scope.locals.len();
        let mut got: HashMap<&str, (Ex, Span)> = HashMap::new();
        for en in &sb.body.entries {
            match en {
                Entry::Let(l) => body_let(ev, scope, l),
                Entry::Field(f) => gate_field(ev, scope, &g.name, f, &mut got),
                other => ev.diags.push(
                    Diagnostic::new(Code::E0401, "a gate block has fields and lets only")
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
            ab.clone()
                .map(|(a, b)| Ex::bin(BinOp::Div, a.clone(), Ex::bin(BinOp::Add, a, b)))
        });
        let tau = got.get("tau").map(|x| x.0.clone()).or_else(|| {
            ab.map(|(a, b)| Ex::bin(BinOp::Div, Ex::Const(1.0), Ex::bin(BinOp::Add, a, b)))
        });
        match (inf, tau) {
            (Some(inf), Some(tau)) => {
                if let Some(s) = self.mm.states.iter_mut().find(|s| s.name == g.name) {
                    s.inf = Some(inf);
                    s.tau_ms = Some(tau.canonical(1e-3));
                }
                self.integrated.push(g.name.clone());
            }
            _ => ev.diags.push(
                Diagnostic::new(
                    Code::E0402,
                    format!(
                        "gate `{}` needs `inf` and `tau`, or `alpha` and `beta`",
                        g.name
                    ),
                )
                .label(sb.span, "incomplete gate"),
            ),
        }
    }

    /// What the whole body must have: every state integrated (E0410); a synapse's weights
    /// are parameters (E0201), it has an event block and a current (E0402); a density
    /// mechanism contributes a current or writes an ion (E0402).
    fn check_complete(&mut self, name: &ast::Ident, diags: &mut Vec<Diagnostic>) {
        let synapse = self.synapse;
        for (state, span, _) in &self.declared_states {
            // A synapse state set only by the event block is held between events.
            let held = synapse && self.event_states.contains(state);
            if !self.integrated.contains(state) && !held {
                diags.push(
                    Diagnostic::new(
                        Code::E0410,
                        format!("state `{state}` has no gate or derivative"),
                    )
                    .label(*span, "declared here but never integrated")
                    .help(if synapse {
                        format!(
                            "add `derivative {state} = …`, or set it in the `event` block (it \
                             is then held between events)"
                        )
                    } else {
                        format!(
                            "add `gate {state} {{ inf: …, tau: … }}` or `derivative {state} = \
                                …`"
                        )
                    }),
                );
            }
        }
        if synapse {
            self.check_synapse(name, diags);
        }
        let mm = &self.mm;
        if mm.currents.is_empty()
            && !mm.ions.iter().any(|i| !i.writes.is_empty())
            && mm.sort == "density"
        {
            diags.push(
                Diagnostic::new(
                    Code::E0402,
                    format!(
                        "mechanism `{}` contributes no current and writes nothing",
                        name.name
                    ),
                )
                .label(name.span, "declare `current i = …`"),
            );
        }
    }

    /// A synapse's weights are parameters (E0201); it has an event block and a current
    /// (E0402).
    fn check_synapse(&mut self, name: &ast::Ident, diags: &mut Vec<Diagnostic>) {
        for (w, sp) in &self.weight_names {
            if self.mm.parameters.iter().any(|p| p.name == *w) {
                self.mm.weights.push(w.clone());
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
        if self.event_span.is_none() {
            diags.push(
                Diagnostic::new(
                    Code::E0402,
                    format!("synapse `{}` has no `event` block", name.name),
                )
                .label(
                    name.span,
                    "a synapse needs to say what a release event does",
                )
                .help("e.g. `event { A: A + w, B: B + w }`"),
            );
        }
        if !self.current_declared {
            diags.push(
                Diagnostic::new(
                    Code::E0402,
                    format!("synapse `{}` contributes no current", name.name),
                )
                .label(name.span, "declare `current i = g * (v - e)`"),
            );
        }
    }
}

/// One field of a gate (`alpha`, `beta`: rates; `inf`: dimensionless; `tau`: a time), each
/// once; alpha and beta are visible to inf and tau.
fn gate_field<'k>(
    ev: &mut Evaluator,
    scope: &mut Scope,
    gate: &str,
    f: &ast::Field,
    got: &mut HashMap<&'k str, (Ex, Span)>,
) {
    let (key, want): (&'k str, Dim) = match f.name.name.as_str() {
        "alpha" => ("alpha", Dim::FREQUENCY),
        "beta" => ("beta", Dim::FREQUENCY),
        "inf" => ("inf", Dim::ONE),
        "tau" => ("tau", Dim::TIME),
        other => {
            ev.diags.push(
                Diagnostic::new(Code::E0401, format!("unknown field `{other}` in a gate"))
                    .label(f.name.span, "a gate has alpha, beta, inf and tau")
                    .suggest(other, decls::GATE.field_names()),
            );
            return;
        }
    };
    if let Some((_, prev)) = got.get(key) {
        ev.diags.push(
            Diagnostic::new(Code::E0104, format!("`{key}` given twice"))
                .label(f.name.span, "given again here")
                .label(*prev, "first given here"),
        );
        return;
    }
    let v = ev.eval(&f.value, scope);
    let what = format!("`{key}` of gate `{gate}`");
    let v = ev.expect_dim(v, want, f.value.span, &what);
    if let Val::Q { ex, .. } = &v {
        got.insert(key, (ex.clone(), f.name.span));
    }
    scope.locals.push((key.to_string(), v));
}
