//! Expression checking by abstract evaluation: names, types and physical dimensions.
//!
//! [`Evaluator::eval`] turns an AST expression into a [`Val`], reporting every problem as a
//! diagnostic and returning [`Val::Err`] so that callers continue without cascades.

use super::builtins;
use super::value::{Obj, Val};
use crate::diagnostics::{Code, Diagnostic, did_you_mean, did_you_mean_hint};
use crate::model::ex::Ex;
use crate::source::Span;
use crate::syntax::ast::{BinOp, Expr, ExprKind, UnOp, UnitExpr};
use crate::units::{self, Dim};
use std::path::PathBuf;

pub use super::value::Names;

/// Evaluation context shared by all expressions of one check run.
pub struct Evaluator<'a> {
    pub diags: &'a mut Vec<Diagnostic>,
    /// Directory that relative file paths are resolved against.
    pub base_dir: PathBuf,
}

/// Resolve a unit expression to (SI scale, dimension, affine offset).
pub fn resolve_unit(u: &UnitExpr, diags: &mut Vec<Diagnostic>) -> Option<units::Unit> {
    let mut scale = 1.0;
    let mut dim = Dim::ONE;
    let mut affine = None;
    let n = u.factors.len();
    for f in &u.factors {
        let Some(r) = units::resolve_name(&f.name) else {
            let names = units::common_unit_names();
            let mut d = Diagnostic::new(Code::E0302, format!("unknown unit `{}`", f.name))
                .label(f.span, "not a unit isf knows");
            if let Some(s) = units::spelled_out(&f.name) {
                d = d.help(did_you_mean_hint(&s));
            } else if let Some(h) = did_you_mean(&f.name, names.iter().map(String::as_str)) {
                d = d.help(h);
            } else {
                d = d.note(
                    "units combine SI prefixes (m, u, n, M, …) with V, A, S, F, ohm, m, \
                    s, g, mol, M, Hz, K and degC; `:units` in the REPL lists them",
                );
            }
            if n > 1 {
                d = d.note("to multiply by a variable, put spaces around the operator: `2 mV * x`");
            }
            diags.push(d);
            return None;
        };
        if let Some(off) = r.affine_offset {
            if n > 1 || f.power != 1 {
                diags.push(
                    Diagnostic::new(
                        Code::E0312,
                        "degC is an absolute temperature and cannot be part of a compound unit",
                    )
                    .label(f.span, "offset unit in a compound unit")
                    .help("use K for temperature differences and rates, e.g. `J/mol/K`"),
                );
                return None;
            }
            affine = Some(off);
        }
        let p = if f.divide { -f.power } else { f.power };
        if f.power.abs() > 9 {
            diags.push(
                Diagnostic::new(Code::E0304, "unit exponent out of range")
                    .label(f.span, "exponents of units are small integers"),
            );
            return None;
        }
        scale *= r.scale.powi(p);
        dim = dim.mul(r.dim.powi(p));
    }
    Some(units::Unit {
        scale,
        dim,
        affine_offset: affine,
    })
}

fn mismatch(span: Span, what: &str, a: &Val, b: &Val) -> Diagnostic {
    let (da, db) = match (a, b) {
        (Val::Q { dim: x, .. }, Val::Q { dim: y, .. }) => (x.describe(), y.describe()),
        _ => (a.type_name(), b.type_name()),
    };
    Diagnostic::new(
        Code::E0303,
        format!("cannot {what} values of different dimensions"),
    )
    .label(span, format!("left is {da}, right is {db}"))
    .help("convert one side, e.g. multiply by a quantity with the missing unit")
}

impl Evaluator<'_> {
    fn err(&mut self, d: Diagnostic) -> Val {
        self.diags.push(d);
        Val::Err
    }

    /// Evaluate an expression.
    pub fn eval(&mut self, e: &Expr, names: &mut dyn Names) -> Val {
        match &e.kind {
            ExprKind::Number { value, .. } => {
                if !value.is_finite() {
                    return self.err(
                        Diagnostic::new(Code::E0314, "number out of range")
                            .label(e.span, "this number does not fit in a 64-bit float"),
                    );
                }
                Val::num(*value)
            }
            ExprKind::Quantity { value, unit, .. } => match resolve_unit(unit, self.diags) {
                Some(u) => {
                    let si = value * u.scale + u.affine_offset.unwrap_or(0.0);
                    if !si.is_finite() {
                        return self.err(
                            Diagnostic::new(Code::E0314, "quantity out of range")
                                .label(e.span, "this value does not fit in a 64-bit float"),
                        );
                    }
                    Val::Q {
                        dim: u.dim,
                        abs: u.affine_offset.is_some(),
                        ex: Ex::Const(si),
                    }
                }
                None => Val::Err,
            },
            ExprKind::Str(s) => Val::Str(s.clone()),
            ExprKind::Bool(b) => Val::Bool(Ex::Const(*b as u8 as f64)),
            ExprKind::Name(n) => match names.lookup(n) {
                Some(v) => v,
                None => {
                    let cands = names.candidates();
                    let mut d = Diagnostic::new(Code::E0201, format!("unknown name `{n}`"))
                        .label(e.span, "not defined here");
                    if let Some(h) = did_you_mean(n, cands.iter().map(String::as_str)) {
                        d = d.help(h);
                    } else if units::resolve_name(n).is_some() {
                        d = d.help(format!(
                            "`{n}` is a unit: write it after a number, e.g. `1 {n}`"
                        ));
                    }
                    self.err(d)
                }
            },
            ExprKind::Paren(x) => self.eval(x, names),
            ExprKind::Unary(op, x) => {
                let v = self.eval(x, names);
                match (op, v) {
                    (_, Val::Err) => Val::Err,
                    (UnOp::Neg, Val::Q { abs: true, .. }) => self.err(
                        Diagnostic::new(Code::E0312, "cannot negate an absolute temperature")
                            .label(e.span, "degC values are absolute"),
                    ),
                    (UnOp::Neg, Val::Q { dim, ex, .. }) => Val::Q {
                        dim,
                        abs: false,
                        ex: Ex::unary(UnOp::Neg, ex),
                    },
                    (UnOp::Not, Val::Bool(ex)) => Val::Bool(Ex::unary(UnOp::Not, ex)),
                    (UnOp::Neg, v) => self.err(
                        Diagnostic::new(Code::E0306, "cannot negate this value")
                            .label(x.span, format!("this is {}", v.type_name())),
                    ),
                    (UnOp::Not, v) => self.err(
                        Diagnostic::new(Code::E0307, "`not` needs a boolean")
                            .label(x.span, format!("this is {}", v.type_name())),
                    ),
                }
            }
            ExprKind::Binary(op, a, b) => {
                let va = self.eval(a, names);
                let vb = self.eval(b, names);
                self.binary(*op, va, vb, e.span, a.span, b.span)
            }
            ExprKind::If(c, a, b) => {
                let vc = self.eval(c, names);
                let va = self.eval(a, names);
                let vb = self.eval(b, names);
                let cond = match vc {
                    Val::Bool(ex) => ex,
                    Val::Err => return Val::Err,
                    other => {
                        return self.err(
                            Diagnostic::new(Code::E0307, "condition is not a boolean")
                                .label(c.span, format!("this is {}", other.type_name()))
                                .help("compare values, e.g. `distance > 100 um`"),
                        );
                    }
                };
                match (va, vb) {
                    (Val::Err, _) | (_, Val::Err) => Val::Err,
                    (
                        Val::Q {
                            dim: d1,
                            abs: a1,
                            ex: x1,
                        },
                        Val::Q {
                            dim: d2,
                            abs: a2,
                            ex: x2,
                        },
                    ) if d1 == d2 && a1 == a2 => Val::Q {
                        dim: d1,
                        abs: a1,
                        ex: Ex::cond(cond, x1, x2),
                    },
                    (Val::Bool(x1), Val::Bool(x2)) => Val::Bool(Ex::cond(cond, x1, x2)),
                    (x, y) if x == y => x,
                    (x, y) => {
                        let (tx, ty) = match (&x, &y) {
                            (Val::Q { dim: d1, .. }, Val::Q { dim: d2, .. }) => {
                                (d1.describe(), d2.describe())
                            }
                            _ => (x.type_name(), y.type_name()),
                        };
                        self.err(
                            Diagnostic::new(
                                Code::E0308,
                                "branches of the conditional differ in type or dimension",
                            )
                            .label(a.span, format!("this is {tx}"))
                            .label(b.span, format!("this is {ty}")),
                        )
                    }
                }
            }
            ExprKind::List(items) => {
                let vals: Vec<Val> = items.iter().map(|i| self.eval(i, names)).collect();
                if let Some(first) = vals.iter().position(|v| !v.is_err()) {
                    for (i, v) in vals.iter().enumerate().skip(first + 1) {
                        if !same_kind(&vals[first], v) {
                            return self.err(
                                Diagnostic::new(
                                    Code::E0311,
                                    "list elements differ in type or dimension",
                                )
                                .label(items[i].span, format!("this is {}", describe(v)))
                                .label(
                                    items[first].span,
                                    format!("the first element is {}", describe(&vals[first])),
                                ),
                            );
                        }
                    }
                }
                Val::List(vals)
            }
            ExprKind::Tuple(items) => {
                Val::Tuple(items.iter().map(|i| self.eval(i, names)).collect())
            }
            ExprKind::Record(fields) => {
                let mut out: Vec<(String, Val)> = Vec::new();
                for (k, v) in fields {
                    if out.iter().any(|(n, _)| *n == k.name) {
                        self.diags.push(
                            Diagnostic::new(
                                Code::E0106,
                                format!("duplicate key `{}` in record", k.name),
                            )
                            .label(k.span, "given again here"),
                        );
                        continue;
                    }
                    let val = self.eval(v, names);
                    out.push((k.name.clone(), val));
                }
                Val::Record(out)
            }
            ExprKind::Range { start, end, step } => {
                let s = self.eval(start, names);
                let en = self.eval(end, names);
                let st = step.as_ref().map(|x| (self.eval(x, names), x.span));
                self.range(s, en, st, e.span)
            }
            ExprKind::Member(base, field) => {
                let b = self.eval(base, names);
                match b {
                    Val::Err => Val::Err,
                    Val::Module(m) => match names.module_member(m, &field.name) {
                        Some(v) => v,
                        None => self.err(
                            Diagnostic::new(
                                Code::E0205,
                                format!("module has no declaration `{}`", field.name),
                            )
                            .label(field.span, "not found in the module"),
                        ),
                    },
                    Val::Record(fs) => match fs.iter().find(|(n, _)| *n == field.name) {
                        Some((_, v)) => v.clone(),
                        None => {
                            let mut d = Diagnostic::new(
                                Code::E0209,
                                format!("record has no field `{}`", field.name),
                            )
                            .label(field.span, "unknown field");
                            d = d.suggest(&field.name, fs.iter().map(|(n, _)| n.as_str()));
                            self.err(d)
                        }
                    },
                    Val::Region(r) => builtins::region_member(self, &r, field),
                    Val::Obj(o)
                        if matches!(
                            o.kind.as_str(),
                            "sites" | "site" | "section" | "apical_distance"
                        ) =>
                    {
                        builtins::probe(self, Val::Obj(o), field)
                    }
                    other => self.err(
                        Diagnostic::new(
                            Code::E0306,
                            format!("cannot take `.{}` of this value", field.name),
                        )
                        .label(base.span, format!("this is {}", other.type_name())),
                    ),
                }
            }
            ExprKind::Index(base, idx) => {
                let b = self.eval(base, names);
                let i = self.eval(idx, names);
                match (b, i) {
                    (Val::Err, _) | (_, Val::Err) => Val::Err,
                    (
                        Val::List(items),
                        Val::Q {
                            dim,
                            ex: Ex::Const(k),
                            ..
                        },
                    ) if dim.is_one() => {
                        if k >= 0.0 && k.fract() == 0.0 && (k as usize) < items.len() {
                            items[k as usize].clone()
                        } else {
                            self.err(
                                Diagnostic::new(Code::E0314, "index out of range").label(
                                    idx.span,
                                    format!("the list has {} elements", items.len()),
                                ),
                            )
                        }
                    }
                    (b, _) => self.err(
                        Diagnostic::new(Code::E0306, "cannot index this value").label(
                            e.span,
                            format!(
                                "indexing {} with a constant integer is not possible",
                                b.type_name()
                            ),
                        ),
                    ),
                }
            }
            ExprKind::Call(callee, args) => builtins::call(self, callee, args, e.span, names),
        }
    }

    fn range(&mut self, s: Val, e: Val, step: Option<(Val, Span)>, span: Span) -> Val {
        let (
            Val::Q {
                dim: d1, ex: x1, ..
            },
            Val::Q {
                dim: d2, ex: x2, ..
            },
        ) = (&s, &e)
        else {
            if s.is_err() || e.is_err() {
                return Val::Err;
            }
            return self.err(
                Diagnostic::new(Code::E0306, "a range needs numbers or quantities")
                    .label(span, format!("from {} to {}", s.type_name(), e.type_name())),
            );
        };
        if d1 != d2 {
            return self.err(mismatch(span, "make a range of", &s, &e));
        }
        let step_si = match &step {
            Some((Val::Q { dim, ex, .. }, sp)) => {
                if dim != d1 {
                    return self.err(
                        Diagnostic::new(Code::E0301, "range step has the wrong dimension").label(
                            *sp,
                            format!("expected {}, found {}", d1.describe(), dim.describe()),
                        ),
                    );
                }
                ex.as_const()
            }
            Some((Val::Err, _)) => return Val::Err,
            Some((v, sp)) => {
                return self.err(
                    Diagnostic::new(Code::E0306, "range step must be a quantity")
                        .label(*sp, format!("this is {}", v.type_name())),
                );
            }
            None if d1.is_one() => Some(1.0),
            None => {
                return self.err(
                    Diagnostic::new(Code::E0309, "a range of quantities needs a step")
                        .label(span, "no step given")
                        .help("add one with `by`, e.g. `0 nA .. 1 nA by 0.1 nA`"),
                );
            }
        };
        let (Some(a), Some(b), Some(st)) = (x1.as_const(), x2.as_const(), step_si) else {
            return self.err(
                Diagnostic::new(Code::E0315, "range bounds must be constants")
                    .label(span, "depends on values only known at run time"),
            );
        };
        if st <= 0.0 || !st.is_finite() {
            return self.err(
                Diagnostic::new(Code::E0314, "range step must be positive")
                    .label(span, "the step is zero or negative"),
            );
        }
        let n = ((b - a) / st + 1e-9).floor();
        if n > 1e6 {
            return self.err(
                Diagnostic::new(Code::E0314, "range has too many elements")
                    .label(span, format!("{} elements; at most 1,000,000", n + 1.0)),
            );
        }
        let n = if n < 0.0 { 0 } else { n as usize + 1 };
        Val::List((0..n).map(|i| Val::si(a + i as f64 * st, *d1)).collect())
    }

    /// Check a binary operation.
    pub fn binary(&mut self, op: BinOp, a: Val, b: Val, span: Span, sa: Span, sb: Span) -> Val {
        use BinOp::*;
        if a.is_err() || b.is_err() {
            return Val::Err;
        }
        match op {
            And | Or => match (a, b) {
                (Val::Bool(x), Val::Bool(y)) => Val::Bool(Ex::bin(op, x, y)),
                (Val::Bool(_), other) => self.err(
                    Diagnostic::new(Code::E0307, format!("`{}` needs booleans", op.as_str()))
                        .label(sb, format!("this is {}", other.type_name())),
                ),
                (other, _) => self.err(
                    Diagnostic::new(Code::E0307, format!("`{}` needs booleans", op.as_str()))
                        .label(sa, format!("this is {}", other.type_name())),
                ),
            },
            Eq | Ne | Lt | Le | Gt | Ge => match (&a, &b) {
                (
                    Val::Q {
                        dim: d1,
                        abs: a1,
                        ex: x1,
                    },
                    Val::Q {
                        dim: d2,
                        abs: a2,
                        ex: x2,
                    },
                ) => {
                    if d1 != d2 || a1 != a2 {
                        return self.err(mismatch(span, "compare", &a, &b));
                    }
                    Val::Bool(Ex::bin(op, x1.clone(), x2.clone()))
                }
                (Val::Str(x), Val::Str(y)) if matches!(op, Eq | Ne) => {
                    Val::Bool(Ex::Const(((x == y) == (op == Eq)) as u8 as f64))
                }
                _ => self.err(mismatch(span, "compare", &a, &b)),
            },
            Add | Sub => match (a, b) {
                (Val::Obj(x), Val::Obj(y))
                    if op == Add && builtins::is_activity(&x) && builtins::is_activity(&y) =>
                {
                    let mut parts = Vec::new();
                    for o in [x, y] {
                        if o.kind == "sum" {
                            parts.extend(o.args);
                        } else {
                            parts.push((format!("{}", parts.len()), Val::Obj(o)));
                        }
                    }
                    let args = parts
                        .into_iter()
                        .enumerate()
                        .map(|(i, (_, v))| (i.to_string(), v))
                        .collect();
                    Val::Obj(Obj {
                        kind: "sum".into(),
                        args,
                    })
                }
                (
                    Val::Q {
                        dim: d1,
                        abs: a1,
                        ex: x1,
                    },
                    Val::Q {
                        dim: d2,
                        abs: a2,
                        ex: x2,
                    },
                ) => {
                    if d1 != d2 {
                        let va = Val::Q {
                            dim: d1,
                            abs: a1,
                            ex: Ex::Const(0.0),
                        };
                        let vb = Val::Q {
                            dim: d2,
                            abs: a2,
                            ex: Ex::Const(0.0),
                        };
                        let verb = if op == Add { "add" } else { "subtract" };
                        return self.err(mismatch(span, verb, &va, &vb));
                    }
                    let abs = match (op, a1, a2) {
                        (_, false, false) => false,
                        (Add, true, false) | (Add, false, true) | (Sub, true, false) => true,
                        (Sub, true, true) => false,
                        _ => {
                            return self.err(
                                Diagnostic::new(Code::E0312, "cannot add absolute temperatures")
                                    .label(span, "both sides are absolute (degC)")
                                    .help(
                                        "the difference of two degC values is a temperature \
                                        difference in K; add K to a degC value",
                                    ),
                            );
                        }
                    };
                    Val::Q {
                        dim: d1,
                        abs,
                        ex: Ex::bin(op, x1, x2),
                    }
                }
                (Val::Str(x), Val::Str(y)) if op == Add => Val::Str(x + &y),
                (x, y) => self.err(
                    Diagnostic::new(
                        Code::E0306,
                        format!("cannot apply `{}` to these values", op.as_str()),
                    )
                    .label(span, format!("{} and {}", x.type_name(), y.type_name())),
                ),
            },
            Mul | Div | Pow => {
                let (
                    Val::Q {
                        dim: d1,
                        abs: a1,
                        ex: x1,
                    },
                    Val::Q {
                        dim: d2,
                        abs: a2,
                        ex: x2,
                    },
                ) = (&a, &b)
                else {
                    return self.err(
                        Diagnostic::new(
                            Code::E0306,
                            format!("cannot apply `{}` to these values", op.as_str()),
                        )
                        .label(span, format!("{} and {}", a.type_name(), b.type_name())),
                    );
                };
                if *a1 || *a2 {
                    let s = if *a1 { sa } else { sb };
                    return self.err(
                        Diagnostic::new(
                            Code::E0312,
                            "absolute temperature (degC) used in a product",
                        )
                        .label(s, "this is an absolute temperature")
                        .note("10 degC is 283.15 K: scaling it is rarely what is meant")
                        .help(
                            "use a temperature difference in K, e.g. `(celsius - 21 degC) / 10 K`",
                        ),
                    );
                }
                match op {
                    Mul => Val::Q {
                        dim: d1.mul(*d2),
                        abs: false,
                        ex: Ex::bin(Mul, x1.clone(), x2.clone()),
                    },
                    Div => {
                        if x2.as_const() == Some(0.0) && x1.as_const().is_some() {
                            return self.err(
                                Diagnostic::new(Code::E0313, "division by zero")
                                    .label(sb, "this is zero"),
                            );
                        }
                        Val::Q {
                            dim: d1.div(*d2),
                            abs: false,
                            ex: Ex::bin(Div, x1.clone(), x2.clone()),
                        }
                    }
                    _ => {
                        if !d2.is_one() {
                            return self.err(
                                Diagnostic::new(Code::E0304, "exponent must be dimensionless")
                                    .label(sb, format!("this is {}", d2.describe())),
                            );
                        }
                        if d1.is_one() {
                            return Val::Q {
                                dim: Dim::ONE,
                                abs: false,
                                ex: Ex::bin(Pow, x1.clone(), x2.clone()),
                            };
                        }
                        match x2.as_const() {
                            Some(n) if n.fract() == 0.0 && n.abs() <= 9.0 => Val::Q {
                                dim: d1.powi(n as i32),
                                abs: false,
                                ex: Ex::bin(Pow, x1.clone(), x2.clone()),
                            },
                            _ => self.err(
                                Diagnostic::new(
                                    Code::E0304,
                                    "a quantity with a unit can only be \
                                    raised to a constant integer power",
                                )
                                .label(sb, "not a constant integer")
                                .help(
                                    "make the base dimensionless first, e.g. `(v / 1 \
                                        mV)^1.5`",
                                ),
                            ),
                        }
                    }
                }
            }
        }
    }

    /// Check that a value has the wanted dimension; report E0301 otherwise.
    /// Report a broken [`crate::rules`] check at `span` (the same code a `.param` file gets
    /// for the same value); `None` when the rule held.
    pub fn rule<T>(&mut self, span: Span, r: Result<T, crate::rules::Broken>) -> Option<T> {
        match r {
            Ok(x) => Some(x),
            Err(b) => {
                self.diags
                    .push(Diagnostic::new(b.code, b.message).label(span, b.label));
                None
            }
        }
    }

    pub fn expect_dim(&mut self, v: Val, want: Dim, span: Span, what: &str) -> Val {
        match &v {
            Val::Err => Val::Err,
            Val::Q {
                dim, abs: false, ..
            } if *dim == want => v,
            Val::Q { dim, abs: true, .. } if *dim == want => self.err(
                Diagnostic::new(
                    Code::E0312,
                    format!("{what} cannot be an absolute temperature"),
                )
                .label(span, "this is in degC")
                .help("use K for temperature differences"),
            ),
            Val::Q { dim, .. } => {
                let mut d = Diagnostic::new(Code::E0301, format!("{what} has the wrong dimension"))
                    .label(
                        span,
                        format!("expected {}, found {}", want.describe(), dim.describe()),
                    );
                d = d.help(fix_hint(want, *dim));
                self.err(d)
            }
            other => self.err(
                Diagnostic::new(Code::E0306, format!("{what} must be a quantity")).label(
                    span,
                    format!("expected {}, found {}", want.describe(), other.type_name()),
                ),
            ),
        }
    }
}

fn fix_hint(want: Dim, found: Dim) -> String {
    let (_, unit) = units::canonical_scale(want);
    if found.is_one() {
        format!("add a unit, e.g. `… {unit}`")
    } else {
        let ratio = want.div(found);
        match ratio.quantity_name() {
            Some(q) => format!("write the value in {unit}; the two differ by a factor of {q}"),
            None => format!("write the value in {unit}"),
        }
    }
}

fn same_kind(a: &Val, b: &Val) -> bool {
    match (a, b) {
        (Val::Err, _) | (_, Val::Err) => true,
        (
            Val::Q {
                dim: d1, abs: a1, ..
            },
            Val::Q {
                dim: d2, abs: a2, ..
            },
        ) => d1 == d2 && a1 == a2,
        _ => std::mem::discriminant(a) == std::mem::discriminant(b),
    }
}

fn describe(v: &Val) -> String {
    match v {
        Val::Q { dim, .. } => dim.describe(),
        other => other.type_name(),
    }
}

/// The evaluator as the builtins see it (their arguments are expressions they evaluate back
/// through it).
impl builtins::Eval for Evaluator<'_> {
    fn eval(&mut self, e: &Expr, names: &mut dyn Names) -> Val {
        Evaluator::eval(self, e, names)
    }
    fn binary(&mut self, op: BinOp, a: Val, b: Val, span: Span, sa: Span, sb: Span) -> Val {
        Evaluator::binary(self, op, a, b, span, sa, sb)
    }
    fn expect_dim(&mut self, v: Val, want: Dim, span: Span, what: &str) -> Val {
        Evaluator::expect_dim(self, v, want, span, what)
    }
    fn rule_ok(&mut self, span: Span, r: Result<(), crate::rules::Broken>) -> bool {
        self.rule(span, r).is_some()
    }
    fn diags(&mut self) -> &mut Vec<Diagnostic> {
        self.diags
    }
    fn base_dir(&self) -> &std::path::Path {
        &self.base_dir
    }
}
