//! Helpers shared by the declaration checkers: a field's value checked against its schema
//! (`schema_value`: type, dimension, shape, constancy, then the rule in its template's or
//! the field's words), value shapes of custom fields (locations, distances, annotations),
//! field lists and duplicate fields, and the lowering of checked values to model values.

use super::*;

/// Region names (`soma`, `apical_dendrite`, …; not `all`) as values, for the scopes where
/// they name places on the cell (experiments, a population's `location`).
pub(super) fn region_locals() -> Vec<(String, Val)> {
    REGIONS
        .iter()
        .filter(|r| r.0 != "all")
        .map(|r| (r.0.to_string(), Val::Region(r.0.to_string())))
        .collect()
}

/// A population's `location`: a region or a list of regions, lowered to a list of region
/// names (duplicates removed, order kept).
pub(super) fn location_value(ev: &mut Evaluator, v: Val, span: Span) -> Val {
    let items = match v {
        Val::Err => return Val::Err,
        Val::Region(_) => vec![v],
        Val::List(items) => items,
        other => {
            ev.diags.push(
                Diagnostic::new(
                    Code::E0306,
                    "`location` must be a region or a list of regions",
                )
                .label(span, format!("this is {}", other.type_name()))
                .help(
                    "write e.g. `location: apical_dendrite` or \
                    `location: [dendrite, apical_dendrite]`",
                ),
            );
            return Val::Err;
        }
    };
    if items.is_empty() {
        ev.diags.push(
            Diagnostic::new(Code::E0314, "`location` lists no region")
                .label(span, "empty list")
                .help("leave `location` out to place synapses on all dendrites"),
        );
        return Val::Err;
    }
    let mut out: Vec<Val> = Vec::new();
    for it in items {
        match it {
            Val::Region(r) => {
                if !out.iter().any(|x| matches!(x, Val::Region(y) if *y == r)) {
                    out.push(Val::Region(r));
                }
            }
            Val::Err => return Val::Err,
            other => {
                ev.diags.push(
                    Diagnostic::new(Code::E0306, "`location` must list regions")
                        .label(span, format!("this list holds {}", other.type_name()))
                        .note(format!(
                            "regions: {}",
                            REGIONS
                                .iter()
                                .filter(|r| r.0 != "all")
                                .map(|r| r.0)
                                .collect::<Vec<_>>()
                                .join(", ")
                        )),
                );
                return Val::Err;
            }
        }
    }
    Val::List(out)
}

/// A population's `distance`: `(from, to)`, path lengths from the soma with
/// `0 ≤ from < to`.
pub(super) fn distance_value(ev: &mut Evaluator, v: Val, span: Span) -> Val {
    let items = match v {
        Val::Err => return Val::Err,
        Val::Tuple(items) | Val::List(items) if items.len() == 2 => items,
        other => {
            ev.diags.push(
                Diagnostic::new(Code::E0306, "`distance` must be a pair `(from, to)`")
                    .label(span, format!("this is {}", other.type_name()))
                    .help("write e.g. `distance: (200 um, 800 um)`: path length from the soma"),
            );
            return Val::Err;
        }
    };
    let mut bounds = Vec::new();
    let mut out = Vec::new();
    for it in items {
        let it = ev.expect_dim(it, Dim::LENGTH, span, "`distance`");
        if it.is_err() {
            return Val::Err;
        }
        match it.const_si() {
            Some(x) => bounds.push(x * 1e6),
            None => {
                ev.diags.push(
                    Diagnostic::new(Code::E0315, "`distance` bounds must be constants")
                        .label(span, "not a compile-time constant"),
                );
                return Val::Err;
            }
        }
        out.push(it);
    }
    let (from, to) = (bounds[0], bounds[1]);
    if !(from >= 0.0 && from < to && to.is_finite()) {
        ev.diags.push(
            Diagnostic::new(Code::E0314, "`distance` must satisfy 0 ≤ from < to").label(
                span,
                format!("from {} um to {} um", round_um(from), round_um(to)),
            ),
        );
        return Val::Err;
    }
    Val::List(out)
}

/// A length for messages: µm rounded to 1e-9 (`200`, not `199.99999999999997`).
pub(super) fn round_um(x: f64) -> f64 {
    (x * 1e9).round() / 1e9
}

/// Whether a synapse mechanism's event block makes random draws.
pub(super) fn mech_draws(m: &MechModel) -> bool {
    let mut used = Vec::new();
    for e in &m.events {
        e.expr.vars(&mut used);
    }
    used.iter()
        .any(|n| crate::model::ex::Draw::parse_var(n).is_some())
}

pub(super) fn receptor_params(name: &str) -> Option<&'static [(&'static str, Dim)]> {
    crate::network::receptors::by_name(name).map(|r| r.params)
}

/// Names that can be recorded without arguments.
pub const RECORDABLE: &[&str] = &[
    "synapse_activations",
    "presynaptic_spikes",
    "all_compartments",
];

pub(super) fn q_var(name: &str, dim: Dim) -> Val {
    let (scale, _) = units::canonical_scale(dim);
    Val::Q {
        dim,
        abs: false,
        ex: Ex::var(name, scale),
    }
}

pub(super) fn ann_unit(t: &ast::UnitAnn, diags: &mut Vec<Diagnostic>) -> Option<units::Unit> {
    match t {
        ast::UnitAnn::Dimensionless(_) => Some(units::Unit {
            scale: 1.0,
            dim: Dim::ONE,
            affine_offset: None,
        }),
        ast::UnitAnn::Unit(u) => resolve_unit(u, diags),
    }
}

pub(super) fn check_annotation(
    ev: &mut Evaluator,
    v: Val,
    ty: Option<&ast::UnitAnn>,
    span: Span,
) -> Val {
    match ty.and_then(|t| ann_unit(t, ev.diags)) {
        Some(u) if u.affine_offset.is_some() => match v {
            Val::Q { dim, abs: true, .. } if dim == Dim::TEMPERATURE => v,
            other => ev.expect_dim(other, Dim::TEMPERATURE, span, "the value"),
        },
        Some(u) => ev.expect_dim(v, u.dim, span, "the value"),
        None => v,
    }
}

pub(super) fn name_list(e: &ast::Expr) -> Option<Vec<(String, Span)>> {
    match &e.kind {
        ast::ExprKind::Name(n) => Some(vec![(n.clone(), e.span)]),
        ast::ExprKind::List(items) => items
            .iter()
            .map(|i| match &i.kind {
                ast::ExprKind::Name(n) => Some((n.clone(), i.span)),
                _ => None,
            })
            .collect(),
        _ => None,
    }
}

/// The fields of a block that holds only `name: value` entries; a repeated field (E0104) or
/// any other kind of entry (E0401, `message`) is reported and skipped.
pub(super) fn value_fields<'b>(
    block: &'b Block,
    message: &str,
    diags: &mut Vec<Diagnostic>,
) -> Vec<&'b ast::Field> {
    let mut seen: HashMap<String, Span> = HashMap::new();
    let mut out = Vec::new();
    for en in &block.entries {
        if let Some(dup) = dup_check(en, &mut seen) {
            diags.push(dup);
            continue;
        }
        match en {
            Entry::Field(f) => out.push(f),
            other => diags.push(
                Diagnostic::new(Code::E0401, message.to_string())
                    .label(other.span(), "write `name: value`"),
            ),
        }
    }
    out
}

pub(super) fn dup_check(entry: &Entry, seen: &mut HashMap<String, Span>) -> Option<Diagnostic> {
    let (name, span) = match entry {
        Entry::Field(f) => (f.name.name.clone(), f.name.span),
        Entry::Block(b) => {
            let n = match &b.name {
                Some(n) => format!("{} {}", b.head.name, n.name),
                None => b.head.name.clone(),
            };
            if matches!(b.head.name.as_str(), "sweep" | "record") {
                return None;
            }
            (n, b.head.span)
        }
        _ => return None,
    };
    seen.insert(name.clone(), span).map(|prev| {
        Diagnostic::new(Code::E0104, format!("`{name}` is given twice"))
            .label(span, "given again here")
            .label(prev, "first given here")
            .help("remove one of them")
    })
}

/// Resolve and read one replay file (relative to the script's directory): the model entry,
/// or a diagnostic at `span` (missing file E0211; the reader's located E08xx errors).
pub(super) fn replay_source(
    base: &Path,
    s: &str,
    span: Span,
    diags: &mut Vec<Diagnostic>,
) -> Option<ReplaySource> {
    let path = base.join(s);
    // Shown relative to the working directory when below it.
    let shown = std::env::current_dir()
        .ok()
        .and_then(|cwd| path.strip_prefix(cwd).ok().map(|p| p.display().to_string()))
        .unwrap_or_else(|| path.display().to_string());
    if !path.is_file() {
        diags.push(
            Diagnostic::new(Code::E0211, crate::files::not_found(&path, s))
                .label(span, format!("looked for {shown}"))
                .note("paths are relative to the script that names them"),
        );
        return None;
    }
    match crate::interop::replay::ReplayFile::read(&path) {
        Ok(f) => {
            let (synapses, releases) = f.counts();
            Some(ReplaySource {
                path: path.to_string_lossy().into_owned(),
                format: f.format().to_string(),
                synapses: synapses as u64,
                releases: releases as u64,
            })
        }
        Err(mut e) => {
            e.file = shown;
            diags.push(
                Diagnostic::new(e.code, format!("{}: {}", e.location(), e.message))
                    .label(span, "in this replay file")
                    .note(
                        "replay files are ISF synapse activation files or CSVs with \
                        columns synapse_id, cell_type, section_id, x, spike_time_ms",
                    ),
            );
            None
        }
    }
}

/// Check a field's value against its schema ([`decls::Field::kind`], [`decls::Field::rule`]):
/// first the type (E0306) or dimension (E0301), the shape of a temperature, discretization
/// rule (E0412) or builtin call, and constancy where the field requires it (E0315); then the
/// rule, with its one code from [`rules`] (E0314 positivity and ranges, E0407 whole numbers),
/// worded by the rule's template or the field's own ([`decls::Field::wording`]). A rule
/// applies to a constant value, shown in its dimension's canonical unit. A
/// [`decls::Kind::Custom`] field is returned unchanged: the checker's own code for that field
/// checks it. The result is [`Val::Err`] when the value breaks the schema (a list of calls
/// keeps its good elements, as the model does).
pub(super) fn schema_value(ev: &mut Evaluator, field: &decls::Field, v: Val, span: Span) -> Val {
    use decls::Kind;
    let what = field.what();
    let v = match (field.kind, v) {
        (Kind::Custom, v) | (_, v @ Val::Err) => return v,
        (Kind::Quantity(dim), v) => ev.expect_dim(v, dim, span, &what),
        (Kind::Temperature, v) => {
            let kept = v.clone();
            return match temperature_value(ev, v, span, &what) {
                Some(_) => kept,
                None => Val::Err,
            };
        }
        (Kind::Discretization, v) => return discretization_value(ev.diags, v, span),
        (Kind::Call(calls), v) => return call_value(ev.diags, &calls, v, span, &what),
        (Kind::CallList(calls), v) => return call_list(ev.diags, &calls, v, span, &what),
        (
            Kind::Number,
            v @ Val::Q {
                dim,
                ex: Ex::Const(_),
                ..
            },
        ) if dim.is_one() => v,
        (Kind::Str, v @ Val::Str(_)) | (Kind::Bool, v @ Val::Bool(Ex::Const(_))) => v,
        (Kind::OneOf(options), Val::Str(s)) if options.contains(&s.as_str()) => Val::Str(s),
        (kind, other) => {
            let label = match (kind, &other) {
                (Kind::OneOf(_), Val::Str(s)) => format!("\"{s}\" is not one of them"),
                _ => format!("this is {}", describe_val(&other)),
            };
            ev.diags.push(
                Diagnostic::new(Code::E0306, format!("{what} must be {}", kind_noun(kind)))
                    .label(span, label),
            );
            return Val::Err;
        }
    };
    let Some(si) = v.const_si() else {
        if field.constant && !v.is_err() {
            ev.diags.push(
                Diagnostic::new(Code::E0315, format!("{what} must be a constant"))
                    .label(span, "varies over the cell"),
            );
            return Val::Err;
        }
        return v;
    };
    let (x, unit) = match field.kind {
        Kind::Quantity(dim) if !dim.is_one() => {
            let (scale, unit) = units::canonical_scale(dim);
            (si * (1.0 / scale), unit)
        }
        _ => (si, String::new()),
    };
    let r = schema_rule(field, &what, x, &unit);
    ev.rule(span, r).map_or(Val::Err, |()| v)
}

/// A constant `x` (in `unit`) against the field's rule: the rule's [`rules`] check, in the
/// field's own words when it has them ([`rules::Broken::reworded`]).
fn schema_rule(field: &decls::Field, what: &str, x: f64, unit: &str) -> Result<(), rules::Broken> {
    use decls::Rule;
    let (r, template, min) = match field.rule {
        Rule::None => return Ok(()),
        Rule::Positive if field.kind == decls::Kind::Quantity(Dim::TIME) => (
            rules::positive_duration(what, x).map(drop),
            rules::POSITIVE_DURATION,
            0,
        ),
        Rule::Positive => (rules::positive(what, x, unit).map(drop), rules::POSITIVE, 0),
        Rule::NonNegative => (
            rules::non_negative(what, x, unit).map(drop),
            rules::NON_NEGATIVE,
            0,
        ),
        Rule::Probability => (rules::probability(what, x).map(drop), rules::PROBABILITY, 0),
        Rule::Whole(min) => (rules::count(what, x, min).map(drop), rules::COUNT, min),
        Rule::Integer => (rules::whole(what, x).map(drop), rules::WHOLE, 0),
        Rule::AtLeast(min) => (
            rules::whole_at_least(what, x, min).map(drop),
            rules::WHOLE,
            min,
        ),
    };
    match field.wording {
        Some(own) => r.map_err(|b| {
            let fill = rules::Fill {
                name: field.name,
                what,
                value: "",
                min,
            };
            b.reworded(template, own, fill)
        }),
        None => r,
    }
}

/// How to write a discretization rule (the help of E0412).
const DISCRETIZATION_HELP: &str =
    "use isf_d_lambda(…), d_lambda(0.1), max_length(30 um) or fixed(3)";

/// A [`decls::Kind::Discretization`] value: a discretization rule, or E0412.
fn discretization_value(diags: &mut Vec<Diagnostic>, v: Val, at: Span) -> Val {
    let label = match &v {
        Val::Obj(o) => match discretization(o) {
            Some(_) => return v,
            None => format!("`{}(…)` is not a discretization rule", o.kind),
        },
        Val::Err => return Val::Err,
        other => format!("this is {}", other.type_name()),
    };
    diags.push(
        Diagnostic::new(Code::E0412, "invalid discretization rule")
            .label(at, label)
            .help(DISCRETIZATION_HELP),
    );
    Val::Err
}

/// A [`decls::Kind::Call`] value: a call of one of `calls.names`, or E0306.
fn call_value(
    diags: &mut Vec<Diagnostic>,
    calls: &decls::Calls,
    v: Val,
    at: Span,
    what: &str,
) -> Val {
    match v {
        Val::Obj(ref o) if calls.names.contains(&o.kind.as_str()) => v,
        Val::Err => Val::Err,
        other => {
            diags.push(not_calls(calls, &other, at, what));
            Val::Err
        }
    }
}

/// E0306: `what` must be `calls.noun`, with the help how to write it.
fn not_calls(calls: &decls::Calls, other: &Val, at: Span, what: &str) -> Diagnostic {
    let d = Diagnostic::new(Code::E0306, format!("{what} must be {}", calls.noun))
        .label(at, format!("this is {}", other.type_name()));
    match calls.help {
        Some(h) => d.help(h),
        None => d,
    }
}

/// A [`decls::Kind::CallList`] value: a list of calls of `calls.names` (E0306 for another
/// value, and for each element that is not such a call). The good elements are kept.
fn call_list(
    diags: &mut Vec<Diagnostic>,
    calls: &decls::Calls,
    v: Val,
    at: Span,
    what: &str,
) -> Val {
    let items = match v {
        Val::List(items) => items,
        Val::Err => return Val::Err,
        // A single call is not a list either: the message says a list is wanted.
        other => {
            diags.push(not_calls(calls, &other, at, what));
            return Val::Err;
        }
    };
    let (item, item_help) = calls.item;
    let mut out = Vec::new();
    for it in items {
        match it {
            Val::Obj(ref o) if calls.names.contains(&o.kind.as_str()) => out.push(it),
            Val::Err => {}
            other => diags.push(
                Diagnostic::new(Code::E0306, format!("not {item}"))
                    .label(at, format!("found {}", other.type_name()))
                    .help(item_help),
            ),
        }
    }
    Val::List(out)
}

/// A field of a `schema` block: its value checked by [`schema_value`], or E0401 (with "did
/// you mean") and [`Val::Err`] when the schema has no such field.
pub(super) fn schema_field(
    ev: &mut Evaluator,
    schema: &decls::DeclSchema,
    f: &ast::Field,
    v: Val,
) -> Val {
    match schema.field(&f.name.name) {
        Some(field) => schema_value(ev, field, v, f.value.span),
        None => {
            ev.diags
                .push(schema.unknown_field(&f.name.name, f.name.span));
            Val::Err
        }
    }
}

/// What a value of `kind` is, for E0306 messages: "a whole number", `"step" or "epsp"`.
fn kind_noun(kind: decls::Kind) -> String {
    use decls::Kind;
    match kind {
        Kind::Number => "a whole number".into(),
        Kind::Str => "a string".into(),
        Kind::Bool => "true or false".into(),
        Kind::OneOf(options) => options
            .iter()
            .map(|o| format!("\"{o}\""))
            .collect::<Vec<_>>()
            .join(" or "),
        Kind::Quantity(dim) => format!("a quantity [{}]", dim.si_string()),
        Kind::Temperature => "an absolute temperature".into(),
        Kind::Discretization => "a discretization rule".into(),
        Kind::Call(c) | Kind::CallList(c) => c.noun.into(),
        Kind::Custom => "a valid value".into(),
    }
}

pub(super) fn describe_val(v: &Val) -> String {
    match v {
        Val::Q {
            ex: Ex::Const(x),
            dim,
            ..
        } if dim.is_one() => format!("{x}"),
        other => other.type_name(),
    }
}

/// An absolute temperature in °C (`34 degC`, or kelvin), or the dimension error naming the
/// value `what`.
pub(super) fn temperature_value(ev: &mut Evaluator, v: Val, span: Span, what: &str) -> Option<f64> {
    match v {
        Val::Q {
            dim,
            abs: true,
            ex: Ex::Const(k),
        } if dim == Dim::TEMPERATURE => Some(k - 273.15),
        Val::Q {
            dim,
            abs: false,
            ex: Ex::Const(k),
        } if dim == Dim::TEMPERATURE => {
            // Kelvin given for an absolute temperature: accepted as thermodynamic temperature.
            Some(k - 273.15)
        }
        Val::Err => None,
        other => {
            ev.expect_dim(other, Dim::TEMPERATURE, span, what);
            None
        }
    }
}

pub(super) fn discretization(o: &Obj) -> Option<Discretization> {
    let q = |n: &str, scale: f64| o.get(n).and_then(|v| v.const_si()).map(|x| x / scale);
    Some(match o.kind.as_str() {
        "isf_d_lambda" => Discretization::IsfDLambda {
            frequency_hz: q("frequency", 1.0).unwrap_or(100.0),
            max_length_um: q("max_length", 1e-6),
        },
        "d_lambda" => Discretization::DLambda {
            d_lambda: q("d_lambda", 1.0)?,
            frequency_hz: q("frequency", 1.0).unwrap_or(100.0),
        },
        "max_length" => Discretization::MaxLength {
            max_length_um: q("length", 1e-6)?,
        },
        "fixed" => Discretization::Fixed {
            nseg: q("nseg", 1.0)? as u32,
        },
        _ => return None,
    })
}

/// Lower a checked value into the model's canonical form; `None` for errors.
pub fn lower_val(v: &Val) -> Option<model::Value> {
    Some(match v {
        Val::Err => return None,
        Val::Q { dim, abs, ex } => {
            let (scale, unit) = if *abs {
                (1.0, "degC".to_string())
            } else {
                units::canonical_scale(*dim)
            };
            let ex = if *abs {
                Ex::bin(BinOp::Sub, ex.clone(), Ex::Const(273.15))
            } else {
                ex.clone().canonical(scale)
            };
            match ex.as_const() {
                Some(c) => model::Value::Num { value: c, unit },
                None => model::Value::Expr { expr: ex, unit },
            }
        }
        Val::Bool(ex) => match ex.as_const() {
            Some(c) => model::Value::Bool(c != 0.0),
            None => model::Value::Expr {
                expr: ex.clone(),
                unit: "bool".into(),
            },
        },
        Val::Str(s) => model::Value::Str(s.clone()),
        Val::List(items) | Val::Tuple(items) => {
            model::Value::List(items.iter().filter_map(lower_val).collect())
        }
        Val::Record(fs) => model::Value::Record(
            fs.iter()
                .filter_map(|(k, v)| lower_val(v).map(|l| (k.clone(), l)))
                .collect(),
        ),
        Val::Obj(o) => model::Value::Obj {
            kind: o.kind.clone(),
            args: o
                .args
                .iter()
                .filter_map(|(k, v)| lower_val(v).map(|l| (k.clone(), l)))
                .collect(),
        },
        Val::Decl(k, n) => model::Value::Ref {
            decl: k.as_str().into(),
            name: n.clone(),
        },
        Val::Region(r) => model::Value::Str(r.clone()),
        Val::Module(_) => return None,
    })
}
