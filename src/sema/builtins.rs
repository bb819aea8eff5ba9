//! Builtin functions: math, morphology sources, discretization rules, spatial distributions,
//! activity generators, stimulus sites and recordings.
//!
//! Every builtin has a signature in [`SIGNATURES`] (documented in `docs/reference.md`); calls
//! are checked for arity, named arguments and dimensions before any builder runs.

use super::value::Names;
use super::value::{Obj, Val};
use crate::diagnostics::{Code, Diagnostic, did_you_mean};
use crate::model::ex::Ex;
use crate::source::Span;
use crate::syntax::ast::{Arg, BinOp, Expr, ExprKind, Ident};
use crate::units::Dim;

/// What the builtins need from the expression evaluator ([`super::eval::Evaluator`]
/// implements it): builtin arguments are expressions evaluated back through it. The trait lets
/// the evaluator call the builtins without the two modules importing each other.
pub trait Eval {
    /// Check and evaluate an expression.
    fn eval(&mut self, e: &Expr, names: &mut dyn Names) -> Val;
    /// A binary operation on checked values.
    fn binary(&mut self, op: BinOp, a: Val, b: Val, span: Span, sa: Span, sb: Span) -> Val;
    /// `v` if it has dimension `want`, else an error diagnostic and the poison value.
    fn expect_dim(&mut self, v: Val, want: Dim, span: Span, what: &str) -> Val;
    /// `true` if the value rule holds, else a diagnostic at `span`.
    fn rule_ok(&mut self, span: Span, r: Result<(), crate::rules::Broken>) -> bool;
    /// The diagnostics of the check run.
    fn diags(&mut self) -> &mut Vec<Diagnostic>;
    /// The directory relative file paths resolve against.
    fn base_dir(&self) -> &std::path::Path;
}

/// What a builtin parameter accepts.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Want {
    /// A quantity of this dimension.
    Q(Dim),
    /// Any quantity (dimension fixed by the builtin's rule).
    AnyQ,
    /// A non-negative integer.
    Int,
    Str,
    /// A path to an existing file, relative to the script.
    Path,
    Bool,
    /// A list of quantities of this dimension.
    ListQ(Dim),
    /// Anything (checked by the builder).
    Any,
}

/// A builtin parameter: name, accepted type, required or not.
#[derive(Clone, Copy, Debug)]
pub struct Param {
    pub name: &'static str,
    pub want: Want,
    pub required: bool,
}

/// A builtin's signature with a one-line description.
#[derive(Clone, Copy, Debug)]
pub struct Signature {
    pub name: &'static str,
    pub params: &'static [Param],
    pub doc: &'static str,
}

const fn req(name: &'static str, want: Want) -> Param {
    Param {
        name,
        want,
        required: true,
    }
}
const fn opt(name: &'static str, want: Want) -> Param {
    Param {
        name,
        want,
        required: false,
    }
}

const L: Dim = Dim::LENGTH;
const T: Dim = Dim::TIME;
const ONE: Dim = Dim::ONE;
const FREQ: Dim = Dim::FREQUENCY;
const I: Dim = Dim::CURRENT;

/// Signatures of every builtin function.
pub const SIGNATURES: &[Signature] = &[
    // math (dimension rules are special-cased in `math_call`)
    Signature {
        name: "exp",
        params: &[req("x", Want::Q(ONE))],
        doc: "e^x of a dimensionless x",
    },
    // Random draws: checked by `draw` (event blocks only, no arguments); listed here so that
    // completion, hover texts and "did you mean" know them.
    Signature {
        name: "exprand",
        params: &[],
        doc: "a random draw, exponential with mean 1 (NEURON's exprand(1)); only in a synapse's \
            event block",
    },
    Signature {
        name: "unirand",
        params: &[],
        doc: "a random draw, uniform in [0, 1); only in a synapse's event block",
    },
    Signature {
        name: "log",
        params: &[req("x", Want::Q(ONE))],
        doc: "natural logarithm of a dimensionless x",
    },
    Signature {
        name: "log10",
        params: &[req("x", Want::Q(ONE))],
        doc: "base-10 logarithm of a dimensionless x",
    },
    Signature {
        name: "sin",
        params: &[req("x", Want::Q(ONE))],
        doc: "sine (radians)",
    },
    Signature {
        name: "cos",
        params: &[req("x", Want::Q(ONE))],
        doc: "cosine (radians)",
    },
    Signature {
        name: "tanh",
        params: &[req("x", Want::Q(ONE))],
        doc: "hyperbolic tangent",
    },
    Signature {
        name: "sqrt",
        params: &[req("x", Want::AnyQ)],
        doc: "square root; halves the unit's exponents",
    },
    Signature {
        name: "abs",
        params: &[req("x", Want::AnyQ)],
        doc: "absolute value, same unit",
    },
    Signature {
        name: "floor",
        params: &[req("x", Want::Q(ONE))],
        doc: "round down",
    },
    Signature {
        name: "ceil",
        params: &[req("x", Want::Q(ONE))],
        doc: "round up",
    },
    Signature {
        name: "min",
        params: &[req("a", Want::AnyQ), req("b", Want::AnyQ)],
        doc: "smaller of two values of one unit",
    },
    Signature {
        name: "max",
        params: &[req("a", Want::AnyQ), req("b", Want::AnyQ)],
        doc: "larger of two values of one unit",
    },
    Signature {
        name: "pow",
        params: &[req("x", Want::AnyQ), req("y", Want::Q(ONE))],
        doc: "x^y",
    },
    // morphology sources
    Signature {
        name: "hoc",
        params: &[req("path", Want::Path)],
        doc: "a NEURON/ISF .hoc 3-D point morphology",
    },
    Signature {
        name: "swc",
        params: &[req("path", Want::Path)],
        doc: "an SWC morphology",
    },
    Signature {
        name: "isf_param",
        params: &[req("path", Want::Path)],
        doc: "an ISF cell parameter file (.param)",
    },
    Signature {
        name: "isf_network_param",
        params: &[req("path", Want::Path)],
        doc: "an ISF network parameter file (.param)",
    },
    Signature {
        name: "isf_axon",
        params: &[],
        doc: "ISF's generated axon: AIS 20 um + 30 um and 1000 um myelin attached at soma(0.5) \
            (as ISF creates it when the cell parameters have an AIS)",
    },
    // cell modifications (applied after discretization and biophysics, in list order)
    Signature {
        name: "scale_apical_morph_86",
        params: &[],
        doc: "ISF's cell-modify function for morphology 86: diameters x2.5 on the first 33 apical \
            sections whose far end is within 1000 um of soma(0)",
    },
    Signature {
        name: "scale_apical",
        params: &[req("scale", Want::Q(ONE))],
        doc: "ISF's cell-modify function: multiply the diameters of all apical sections by `scale`",
    },
    // discretization rules
    Signature {
        name: "isf_d_lambda",
        params: &[
            opt("frequency", Want::Q(FREQ)),
            opt("max_length", Want::Q(L)),
        ],
        doc: "ISF's rule: d_lambda 0.1 on the middle 3-D point's diameter (default 100 Hz)",
    },
    Signature {
        name: "d_lambda",
        params: &[
            req("d_lambda", Want::Q(ONE)),
            opt("frequency", Want::Q(FREQ)),
        ],
        doc: "NEURON's length-weighted d_lambda rule",
    },
    Signature {
        name: "max_length",
        params: &[req("length", Want::Q(L))],
        doc: "segments no longer than this",
    },
    Signature {
        name: "fixed",
        params: &[req("nseg", Want::Int)],
        doc: "the same number of segments in every section",
    },
    // spatial distributions (value as first argument; dimension of the parameter)
    Signature {
        name: "uniform",
        params: &[req("value", Want::AnyQ)],
        doc: "the same value everywhere",
    },
    Signature {
        name: "uniform_range",
        params: &[
            req("value", Want::AnyQ),
            req("from", Want::Q(L)),
            req("to", Want::Q(L)),
            opt("outside", Want::AnyQ),
            opt("outside_sections", Want::ListQ(ONE)),
        ],
        doc: "value where from <= distance <= to, else `outside` (a value, or a factor of value; \
            default 0); always `outside` on the sections listed in `outside_sections` (section \
            indices)",
    },
    Signature {
        name: "linear",
        params: &[
            req("value", Want::AnyQ),
            req("slope", Want::AnyQ),
            opt("offset", Want::Q(ONE)),
            opt("relative", Want::Bool),
        ],
        doc: "max(value*(slope*D + 1), value*offset), D from soma(0)",
    },
    Signature {
        name: "linear_capped",
        params: &[
            req("proximal", Want::AnyQ),
            req("distal", Want::AnyQ),
            req("distal_distance", Want::AnyQ),
            opt("relative", Want::Bool),
        ],
        doc: "linear from proximal at D=0 to distal at distal_distance, then constant",
    },
    Signature {
        name: "exponential",
        params: &[
            req("value", Want::AnyQ),
            req("lambda", Want::AnyQ),
            opt("offset", Want::Q(ONE)),
            opt("scale", Want::Q(ONE)),
            opt("x_offset", Want::AnyQ),
            opt("relative", Want::Bool),
        ],
        doc: "value*(offset + scale*exp(lambda*(D - x_offset)))",
    },
    Signature {
        name: "capped_exponential",
        params: &[
            req("value", Want::AnyQ),
            req("lambda", Want::AnyQ),
            opt("offset", Want::Q(ONE)),
            opt("scale", Want::Q(ONE)),
            opt("x_offset", Want::AnyQ),
            req("max", Want::AnyQ),
            opt("relative", Want::Bool),
        ],
        doc: "exponential capped at `max`",
    },
    Signature {
        name: "exponential_by_z_dist",
        params: &[
            req("value", Want::AnyQ),
            req("lambda", Want::AnyQ),
            opt("offset", Want::Q(ONE)),
            opt("scale", Want::Q(ONE)),
            opt("x_offset", Want::AnyQ),
            opt("relative", Want::Bool),
        ],
        doc: "exponential of the height above the soma centre (apical)",
    },
    Signature {
        name: "sigmoid",
        params: &[
            req("value", Want::AnyQ),
            req("x_offset", Want::AnyQ),
            req("width", Want::AnyQ),
            opt("offset", Want::Q(ONE)),
            opt("scale", Want::Q(ONE)),
            opt("relative", Want::Bool),
        ],
        doc: "value*(offset + scale/(1 + exp((D - x_offset)/width)))",
    },
    // random samples for sweeps (deterministic: same seed, same values)
    Signature {
        name: "random_uniform",
        params: &[
            req("low", Want::AnyQ),
            req("high", Want::AnyQ),
            req("n", Want::Int),
            opt("seed", Want::Int),
        ],
        doc: "n values drawn uniformly from [low, high) with the given seed (a sweep axis)",
    },
    Signature {
        name: "random_normal",
        params: &[
            req("mean", Want::AnyQ),
            req("sd", Want::AnyQ),
            req("n", Want::Int),
            opt("seed", Want::Int),
        ],
        doc: "n values drawn from a normal distribution with the given seed (a sweep axis)",
    },
    // activity generators
    Signature {
        name: "poisson",
        params: &[
            req("interval", Want::Q(T)),
            opt("start", Want::Q(T)),
            opt("stop", Want::Q(T)),
            opt("noise", Want::Q(ONE)),
            // A count, checked by `activity_rules` (E0407 as everywhere).
            opt("count", Want::Q(ONE)),
        ],
        doc: "ongoing activity with the given mean interval (noise 1 = Poisson, 0 = regular; \
            count = exactly this many spikes)",
    },
    Signature {
        name: "psth_count",
        params: &[req("bins", Want::Any), opt("offset", Want::Q(T))],
        doc: "evoked activity: list of ((start, end), n) bins; exactly n distinct cells spike \
            once in each bin",
    },
    Signature {
        name: "normal_spike",
        params: &[
            req("active", Want::Q(ONE)),
            req("mean", Want::Q(T)),
            req("sd", Want::Q(T)),
            opt("offset", Want::Q(T)),
        ],
        doc: "a fraction of cells spikes once at offset + mean + sd·N(0, 1) (ISF `normal`; \
            offset default 10 ms)",
    },
    Signature {
        name: "uniform_spike",
        params: &[
            req("active", Want::Q(ONE)),
            req("window", Want::Q(T)),
            opt("offset", Want::Q(T)),
        ],
        doc: "a fraction of cells spikes once, uniformly in offset + [0, window) (ISF `uniform`)",
    },
    Signature {
        name: "lognormal_spike",
        params: &[
            req("active", Want::Q(ONE)),
            req("mu", Want::Q(ONE)),
            req("sigma", Want::Q(ONE)),
            opt("offset", Want::Q(T)),
        ],
        doc: "a fraction of cells spikes once at offset + LogNormal(mu, sigma) ms (ISF \
            `lognormal`)",
    },
    Signature {
        name: "poisson_rates",
        params: &[req("segments", Want::Any)],
        doc: "Poisson activity with a piecewise-constant rate: list of ((start, end), rate) \
            segments (ISF `PSTH_poissontrain`)",
    },
    Signature {
        name: "modulated",
        params: &[
            req("rate_before", Want::Q(Dim::FREQUENCY)),
            req("mean_rate", Want::Q(Dim::FREQUENCY)),
            req("modulation", Want::Q(ONE)),
            req("frequency", Want::Q(Dim::FREQUENCY)),
            req("bin", Want::Q(T)),
            opt("offset", Want::Q(T)),
            opt("phase", Want::Str),
            opt("phase_mean", Want::Q(ONE)),
            opt("phase_sd", Want::Q(ONE)),
        ],
        doc: "sinusoidally modulated Poisson rate after offset (ISF `poissontrain_modulated`; \
            phase \"zero\", \"uniform\" or \"normal\" with phase_mean/phase_sd in radians)",
    },
    Signature {
        name: "psth",
        params: &[req("bins", Want::Any), opt("offset", Want::Q(T))],
        doc: "evoked activity: list of ((start, end), probability per cell) bins, shifted by \
            offset",
    },
    Signature {
        name: "spike_times",
        params: &[req("times", Want::ListQ(T))],
        doc: "explicit presynaptic spike times",
    },
    Signature {
        name: "anatomy",
        params: &[req("syn", Want::Path), req("con", Want::Path)],
        doc: "synapse locations (.syn) and presynaptic assignment (.con)",
    },
    // sites and recordings
    Signature {
        name: "section",
        params: &[req("index", Want::Int), opt("x", Want::Q(ONE))],
        doc: "a point on a section by index",
    },
    Signature {
        name: "apical_distance",
        params: &[req("distance", Want::Q(L))],
        doc: "the point on the apical trunk at this distance from the soma",
    },
    Signature {
        name: "sites",
        params: &[req("path", Want::Path)],
        doc: "recording sites from a landmark file",
    },
    Signature {
        name: "spikes",
        params: &[
            req("at", Want::Any),
            opt("threshold", Want::Q(Dim::VOLTAGE)),
        ],
        doc: "spike times at a site (threshold crossing)",
    },
    Signature {
        name: "current",
        params: &[req("at", Want::Any), req("name", Want::Str)],
        doc: "a membrane current at a site",
    },
    Signature {
        name: "state",
        params: &[
            req("at", Want::Any),
            req("mechanism", Want::Str),
            req("name", Want::Str),
        ],
        doc: "a mechanism state variable at a site",
    },
    Signature {
        name: "step",
        params: &[
            req("amp", Want::Q(I)),
            req("delay", Want::Q(T)),
            req("duration", Want::Q(T)),
        ],
        doc: "a current step",
    },
];

/// Functions whose argument must be a pure number.
const TRANSCENDENTAL: &[&str] = &["exp", "log", "log10", "sin", "cos", "tanh"];

/// True when an object is an activity generator (they can be added).
pub fn is_activity(o: &Obj) -> bool {
    o.kind == "sum" || ACTIVITY_KINDS.contains(&o.kind.as_str())
}

/// The signature of a builtin by name.
pub fn signature(name: &str) -> Option<&'static Signature> {
    SIGNATURES.iter().find(|s| s.name == name)
}

/// Check and evaluate a call expression.
/// `exprand()` / `unirand()`: a random draw, allowed only in a synapse's `event` block (the
/// scope hands out the draw's variable; see [`crate::model::ex::Draw`]).
fn draw(
    ev: &mut dyn Eval,
    kind: crate::model::ex::Draw,
    args: &[Arg],
    span: Span,
    names: &mut dyn Names,
) -> Val {
    let name = kind.builtin();
    if !args.is_empty() {
        for a in args {
            ev.eval(&a.value, names);
        }
        ev.diags().push(
            Diagnostic::new(Code::E0309, format!("`{name}()` takes no arguments"))
                .label(span, "remove the arguments")
                .note(
                    "the draw has mean 1 (`exprand`) or is uniform in [0, 1) (`unirand`); scale \
                    it in the expression",
                ),
        );
        return Val::Err;
    }
    match names.draw(kind) {
        Some(ex) => Val::Q {
            dim: Dim::ONE,
            abs: false,
            ex,
        },
        None => {
            ev.diags().push(
                Diagnostic::new(
                    Code::E0213,
                    format!("`{name}()` is only available in a synapse's `event` block"),
                )
                .label(span, "a random draw here")
                .help(
                    "draws are made per release event, from the trial's random streams; compute \
                    with them inside `event { … }`",
                ),
            );
            Val::Err
        }
    }
}

pub fn call(
    ev: &mut dyn Eval,
    callee: &Expr,
    args: &[Arg],
    span: Span,
    names: &mut dyn Names,
) -> Val {
    // A region called with a position is a site: `soma(0.5)`.
    let ExprKind::Name(fname) = &callee.kind else {
        let c = ev.eval(callee, names);
        if c.is_err() {
            return Val::Err;
        }
        ev.diags().push(
            Diagnostic::new(Code::E0306, "this value cannot be called")
                .label(callee.span, format!("this is {}", c.type_name())),
        );
        return Val::Err;
    };
    if let Some(Val::Region(r)) = names.lookup(fname) {
        let x = match args {
            [] => Val::num(0.5),
            [a] if a.name.is_none() => {
                let v = ev.eval(&a.value, names);
                ev.expect_dim(v, Dim::ONE, a.value.span, "a position on a section")
            }
            _ => {
                ev.diags().push(
                    Diagnostic::new(Code::E0309, "a site takes one position")
                        .label(span, "write e.g. `soma(0.5)`"),
                );
                return Val::Err;
            }
        };
        if let Some(xv) = x.const_si()
            && !(0.0..=1.0).contains(&xv)
        {
            ev.diags().push(
                Diagnostic::new(Code::E0314, "position on a section must be within 0 and 1")
                    .label(args[0].value.span, format!("{xv} is outside [0, 1]")),
            );
            return Val::Err;
        }
        return Val::Obj(Obj {
            kind: "site".into(),
            args: vec![("region".into(), Val::Str(r)), ("x".into(), x)],
        });
    }
    if let Some(kind) = crate::model::ex::Draw::from_builtin(fname) {
        return draw(ev, kind, args, span, names);
    }
    let Some(sig) = signature(fname) else {
        let mut d = Diagnostic::new(Code::E0207, format!("unknown function `{fname}`"))
            .label(callee.span, "no builtin of this name");
        d = d.suggest(fname, SIGNATURES.iter().map(|s| s.name));
        ev.diags().push(d);
        for a in args {
            ev.eval(&a.value, names);
        }
        return Val::Err;
    };
    // Bind arguments: positional first, then named.
    let mut bound: Vec<Option<(Val, Span)>> = vec![None; sig.params.len()];
    let mut ok = true;
    let mut seen_named = false;
    for (i, a) in args.iter().enumerate() {
        let v = ev.eval(&a.value, names);
        let slot = match &a.name {
            None => {
                if seen_named {
                    ev.diags().push(
                        Diagnostic::new(Code::E0310, "positional argument after a named one")
                            .label(a.value.span, "move it before the named arguments"),
                    );
                    ok = false;
                    continue;
                }
                if i >= sig.params.len() {
                    ev.diags().push(
                        Diagnostic::new(
                            Code::E0309,
                            format!("too many arguments to `{}`", sig.name),
                        )
                        .label(
                            a.value.span,
                            format!(
                                "`{}` takes at most {} arguments",
                                sig.name,
                                sig.params.len()
                            ),
                        )
                        .note(format!("{}: {}", sig.name, sig.doc)),
                    );
                    ok = false;
                    continue;
                }
                i
            }
            Some(n) => {
                seen_named = true;
                match sig.params.iter().position(|p| p.name == n.name) {
                    Some(k) => k,
                    None => {
                        let mut d = Diagnostic::new(
                            Code::E0310,
                            format!("`{}` has no parameter `{}`", sig.name, n.name),
                        )
                        .label(n.span, "unknown named argument");
                        if let Some(h) = did_you_mean(&n.name, sig.params.iter().map(|p| p.name)) {
                            d = d.help(h);
                        } else {
                            let list: Vec<&str> = sig.params.iter().map(|p| p.name).collect();
                            d = d.note(format!("parameters: {}", list.join(", ")));
                        }
                        ev.diags().push(d);
                        ok = false;
                        continue;
                    }
                }
            }
        };
        if bound[slot].is_some() {
            let at = a.name.as_ref().map_or(a.value.span, |n| n.span);
            ev.diags().push(
                Diagnostic::new(
                    Code::E0310,
                    format!("argument `{}` given twice", sig.params[slot].name),
                )
                .label(at, "given again here"),
            );
            ok = false;
            continue;
        }
        let v = match v {
            Val::Q { dim, .. } if TRANSCENDENTAL.contains(&sig.name) && !dim.is_one() => {
                ev.diags().push(
                    Diagnostic::new(
                        Code::E0305,
                        format!("argument of `{}` must be dimensionless", sig.name),
                    )
                    .label(a.value.span, format!("this is {}", dim.describe()))
                    .help("divide by a reference value, e.g. `exp(v / 10 mV)`"),
                );
                Val::Err
            }
            v => check_want(ev, v, sig.params[slot], a.value.span),
        };
        if v.is_err() {
            ok = false;
        }
        bound[slot] = Some((v, a.value.span));
    }
    for (p, b) in sig.params.iter().zip(&bound) {
        if p.required && b.is_none() && ok {
            ev.diags().push(
                Diagnostic::new(
                    Code::E0309,
                    format!("missing argument `{}` of `{}`", p.name, sig.name),
                )
                .label(span, format!("`{}` is required", p.name))
                .note(format!("{}: {}", sig.name, sig.doc)),
            );
            ok = false;
        }
    }
    if !ok {
        return Val::Err;
    }
    let named: Vec<(&'static str, Option<(Val, Span)>)> =
        sig.params.iter().map(|p| p.name).zip(bound).collect();
    build(ev, sig.name, named, span)
}

fn check_want(ev: &mut dyn Eval, v: Val, p: Param, span: Span) -> Val {
    let what = format!("argument `{}`", p.name);
    match p.want {
        Want::Q(d) => ev.expect_dim(v, d, span, &what),
        Want::AnyQ => match v {
            Val::Q { abs: true, .. } => {
                ev.diags().push(
                    Diagnostic::new(Code::E0312, "absolute temperature (degC) not allowed here")
                        .label(span, "use K for temperature differences"),
                );
                Val::Err
            }
            Val::Q { .. } | Val::Err => v,
            other => type_err(ev, span, &what, "a quantity", &other),
        },
        Want::Int => match &v {
            Val::Q {
                dim,
                ex: Ex::Const(x),
                ..
            } if dim.is_one() => {
                // A number that is not whole is the integer rule (E0407), not a wrong type.
                let r = crate::rules::whole(&what, *x).map(|_| ());
                if ev.rule_ok(span, r) { v } else { Val::Err }
            }
            Val::Err => v,
            other => type_err(ev, span, &what, "a non-negative integer", other),
        },
        Want::Str => match v {
            Val::Str(_) | Val::Err => v,
            other => type_err(ev, span, &what, "a string", &other),
        },
        Want::Bool => match &v {
            Val::Bool(Ex::Const(_)) | Val::Err => v,
            other => type_err(ev, span, &what, "true or false", other),
        },
        Want::Path => match v {
            Val::Str(s) => {
                let path = ev.base_dir().join(&s);
                if path.is_file() {
                    Val::Str(path.to_string_lossy().into_owned())
                } else {
                    let shown = std::env::current_dir()
                        .ok()
                        .and_then(|cwd| {
                            path.strip_prefix(cwd).ok().map(|p| p.display().to_string())
                        })
                        .unwrap_or_else(|| path.display().to_string());
                    ev.diags().push(
                        Diagnostic::new(Code::E0211, crate::files::not_found(&path, &s))
                            .label(span, format!("looked for {shown}"))
                            .note("paths are relative to the script that names them"),
                    );
                    Val::Err
                }
            }
            Val::Err => Val::Err,
            other => type_err(ev, span, &what, "a file path string", &other),
        },
        Want::ListQ(d) => match v {
            Val::List(items) => {
                let mut out = Vec::new();
                for it in items {
                    out.push(ev.expect_dim(it, d, span, "list element"));
                }
                Val::List(out)
            }
            Val::Err => Val::Err,
            other => type_err(ev, span, &what, "a list", &other),
        },
        Want::Any => v,
    }
}

fn type_err(ev: &mut dyn Eval, span: Span, what: &str, want: &str, found: &Val) -> Val {
    ev.diags().push(
        Diagnostic::new(Code::E0306, format!("{what} has the wrong type")).label(
            span,
            format!("expected {want}, found {}", found.type_name()),
        ),
    );
    Val::Err
}

/// Position variables available in region contexts (units: µm, dimensionless). Each is
/// evaluated at a compartment centre by [`crate::lower::cell`]; the three distance conventions
/// are those of spec 01 §1.6.
pub const POSITION_VARS: &[(&str, Dim, f64, &str)] = &[
    (
        "distance",
        Dim::LENGTH,
        1e-6,
        "path distance from the soma attachment point (ISF's label-origin distance, def. 2; from \
            soma(0) on the soma), um",
    ),
    (
        "soma_distance",
        Dim::LENGTH,
        1e-6,
        "path distance from soma(0) (ISF's definition for linear rules, def. 1), um",
    ),
    (
        "relative_distance",
        Dim::ONE,
        1.0,
        "distance divided by max_distance",
    ),
    (
        "max_distance",
        Dim::LENGTH,
        1e-6,
        "the region's largest distance (def. 2, to the far end of its farthest terminal; soma: \
            its length), um",
    ),
    ("diameter", Dim::LENGTH, 1e-6, "segment diameter, um"),
    (
        "z_distance",
        Dim::LENGTH,
        1e-6,
        "height above the soma centre (z of the 3-D points, interpolated), um",
    ),
    ("x", Dim::ONE, 1.0, "position along the section, 0..1"),
    (
        "section",
        Dim::ONE,
        1.0,
        "index of the section: order of the morphology file's sections (soma 0 in a .hoc file), \
            generated axon sections last",
    ),
];

/// Internal position variable of `exponential_by_z_dist` (ISF's rule): `z_distance` on
/// apical dendrites, `distance` elsewhere (spec 02 §2.5), um. Not visible to scripts.
pub const ISF_Z_DISTANCE: &str = "isf_z_distance";

fn pos(name: &str) -> Ex {
    if name == ISF_Z_DISTANCE {
        return Ex::var(name, 1e-6);
    }
    let (_, _, scale, _) = POSITION_VARS
        .iter()
        .find(|p| p.0 == name)
        .copied()
        .unwrap_or(("", Dim::ONE, 1.0, ""));
    Ex::var(name, scale)
}

fn get(named: &[(&'static str, Option<(Val, Span)>)], n: &str) -> Option<(Val, Span)> {
    named
        .iter()
        .find(|(k, _)| *k == n)
        .and_then(|(_, v)| v.clone())
}

fn qex(v: &Val) -> (Dim, Ex) {
    match v {
        Val::Q { dim, ex, .. } => (*dim, ex.clone()),
        _ => (Dim::ONE, Ex::Const(f64::NAN)),
    }
}

fn build(
    ev: &mut dyn Eval,
    name: &str,
    named: Vec<(&'static str, Option<(Val, Span)>)>,
    span: Span,
) -> Val {
    use BinOp::*;
    let arg = |n: &str| get(&named, n);
    match name {
        "exp" | "log" | "log10" | "sin" | "cos" | "tanh" | "floor" | "ceil" => {
            let (_, x) = qex(&arg("x").map(|a| a.0).unwrap_or(Val::Err));
            Val::Q {
                dim: Dim::ONE,
                abs: false,
                ex: Ex::call(name, vec![x]),
            }
        }
        "abs" => {
            let (d, x) = qex(&arg("x").map(|a| a.0).unwrap_or(Val::Err));
            Val::Q {
                dim: d,
                abs: false,
                ex: Ex::call("abs", vec![x]),
            }
        }
        "sqrt" => {
            let (d, x) = qex(&arg("x").map(|a| a.0).unwrap_or(Val::Err));
            if d.0.iter().any(|e| e % 2 != 0) {
                ev.diags().push(
                    Diagnostic::new(
                        Code::E0304,
                        "square root of a quantity whose unit has odd exponents",
                    )
                    .label(span, format!("the argument is {}", d.describe())),
                );
                return Val::Err;
            }
            let mut h = [0i8; 6];
            for (i, e) in d.0.iter().enumerate() {
                h[i] = e / 2;
            }
            Val::Q {
                dim: Dim(h),
                abs: false,
                ex: Ex::call("sqrt", vec![x]),
            }
        }
        "min" | "max" => {
            let (a, sa) = arg("a").unwrap_or((Val::Err, span));
            let (b, _) = arg("b").unwrap_or((Val::Err, span));
            let (da, xa) = qex(&a);
            let (db, xb) = qex(&b);
            if da != db {
                ev.diags().push(
                    Diagnostic::new(
                        Code::E0303,
                        format!("arguments of `{name}` differ in dimension"),
                    )
                    .label(span, format!("{} and {}", da.describe(), db.describe())),
                );
                return Val::Err;
            }
            let _ = sa;
            Val::Q {
                dim: da,
                abs: false,
                ex: Ex::call(name, vec![xa, xb]),
            }
        }
        "pow" => {
            let (x, sx) = arg("x").unwrap_or((Val::Err, span));
            let (y, sy) = arg("y").unwrap_or((Val::Err, span));
            ev.binary(Pow, x, y, span, sx, sy)
        }
        "uniform" => arg("value").map(|a| a.0).unwrap_or(Val::Err),
        "uniform_range" => {
            let (v, _) = arg("value").unwrap_or((Val::Err, span));
            let (d, x) = qex(&v);
            let (_, from) = qex(&arg("from").map(|a| a.0).unwrap_or(Val::Err));
            let (_, to) = qex(&arg("to").map(|a| a.0).unwrap_or(Val::Err));
            let outside = match arg("outside") {
                None => Ex::Const(0.0),
                Some((Val::Q { dim, ex, .. }, _)) if dim == d => ex,
                Some((Val::Q { dim, ex, .. }, _)) if dim.is_one() => Ex::bin(Mul, x.clone(), ex),
                Some((o, s)) => {
                    ev.diags().push(
                        Diagnostic::new(
                            Code::E0301,
                            "`outside` must be a value of the same unit or a factor",
                        )
                        .label(
                            s,
                            format!("value is {}, outside is {}", d.describe(), o.type_name()),
                        ),
                    );
                    return Val::Err;
                }
            };
            let dist = pos("distance");
            let inside = Ex::bin(And, Ex::bin(Ge, dist.clone(), from), Ex::bin(Le, dist, to));
            let mut ex = Ex::cond(inside, x, outside.clone());
            // ISF's `outsidescale_sections`: the listed sections get the outside value
            // whatever their distance (spec 02 §2.5).
            if let Some((list, ls)) = arg("outside_sections") {
                let Some(secs) = section_list(ev, &list, ls) else {
                    return Val::Err;
                };
                if let Some(listed) = any_section(&secs) {
                    ex = Ex::cond(listed, outside, ex);
                }
            }
            Val::Q {
                dim: d,
                abs: false,
                ex,
            }
        }
        "linear" => {
            let (v, _) = arg("value").unwrap_or((Val::Err, span));
            let (d, x) = qex(&v);
            let (dd, dist) = distance_var(&arg("relative"), "soma_distance");
            let Some(slope) = per_distance(ev, arg("slope"), dd, "slope") else {
                return Val::Err;
            };
            let offset = arg("offset").map(|a| qex(&a.0).1).unwrap_or(Ex::Const(0.0));
            let lin = Ex::bin(
                Mul,
                x.clone(),
                Ex::bin(Add, Ex::bin(Mul, slope, dist), Ex::Const(1.0)),
            );
            Val::Q {
                dim: d,
                abs: false,
                ex: Ex::call("max", vec![lin, Ex::bin(Mul, x, offset)]),
            }
        }
        "linear_capped" => {
            let (p, _) = arg("proximal").unwrap_or((Val::Err, span));
            let (q, sq) = arg("distal").unwrap_or((Val::Err, span));
            let (d, xp) = qex(&p);
            let (d2, xd) = qex(&q);
            if d != d2 {
                ev.diags().push(
                    Diagnostic::new(
                        Code::E0303,
                        "proximal and distal values differ in dimension",
                    )
                    .label(sq, format!("{} vs {}", d.describe(), d2.describe())),
                );
                return Val::Err;
            }
            let (dd, dist) = distance_var(&arg("relative"), "soma_distance");
            let (dv, sdv) = arg("distal_distance").unwrap_or((Val::Err, span));
            let dv = ev.expect_dim(dv, dd, sdv, "distal_distance");
            let (_, dvx) = qex(&dv);
            if dv.is_err() {
                return Val::Err;
            }
            let frac = Ex::bin(Div, dist.clone(), dvx.clone());
            let ramp = Ex::bin(
                Add,
                xp.clone(),
                Ex::bin(Mul, Ex::bin(Sub, xd.clone(), xp), frac),
            );
            Val::Q {
                dim: d,
                abs: false,
                ex: Ex::cond(Ex::bin(Ge, dist, dvx), xd, ramp),
            }
        }
        "exponential" | "capped_exponential" | "exponential_by_z_dist" | "sigmoid" => {
            let (v, _) = arg("value").unwrap_or((Val::Err, span));
            let (d, x) = qex(&v);
            let base = if name == "exponential_by_z_dist" {
                ISF_Z_DISTANCE
            } else {
                "distance"
            };
            let (dd, dist) = distance_var(&arg("relative"), base);
            let offset = arg("offset").map(|a| qex(&a.0).1).unwrap_or(Ex::Const(0.0));
            let scale = arg("scale").map(|a| qex(&a.0).1).unwrap_or(Ex::Const(1.0));
            let x_off = match arg("x_offset") {
                None => Ex::Const(0.0),
                Some((xo, s)) => {
                    let xo = ev.expect_dim(xo, dd, s, "x_offset");
                    if xo.is_err() {
                        return Val::Err;
                    }
                    qex(&xo).1
                }
            };
            let shifted = Ex::bin(Sub, dist, x_off);
            let shape = if name == "sigmoid" {
                let (w, sw) = arg("width").unwrap_or((Val::Err, span));
                let w = ev.expect_dim(w, dd, sw, "width");
                if w.is_err() {
                    return Val::Err;
                }
                let e = Ex::call("exp", vec![Ex::bin(Div, shifted, qex(&w).1)]);
                Ex::bin(Div, scale, Ex::bin(Add, Ex::Const(1.0), e))
            } else {
                let Some(lambda) = per_distance(ev, arg("lambda"), dd, "lambda") else {
                    return Val::Err;
                };
                Ex::bin(
                    Mul,
                    scale,
                    Ex::call("exp", vec![Ex::bin(Mul, lambda, shifted)]),
                )
            };
            let mut ex = Ex::bin(Mul, x, Ex::bin(Add, offset, shape));
            if name == "capped_exponential" {
                let (m, sm) = arg("max").unwrap_or((Val::Err, span));
                let m = ev.expect_dim(m, d, sm, "max");
                if m.is_err() {
                    return Val::Err;
                }
                ex = Ex::call("min", vec![ex, qex(&m).1]);
            }
            Val::Q {
                dim: d,
                abs: false,
                ex,
            }
        }
        "isf_d_lambda" | "d_lambda" | "max_length" | "fixed" => {
            for (n, v) in &named {
                if let Some((
                    Val::Q {
                        ex: Ex::Const(c), ..
                    },
                    s,
                )) = v
                    && *c <= 0.0
                {
                    ev.diags().push(
                        Diagnostic::new(Code::E0412, format!("`{n}` of `{name}` must be positive"))
                            .label(*s, "zero or negative"),
                    );
                    return Val::Err;
                }
            }
            obj(name, named)
        }
        "random_uniform" | "random_normal" => {
            let (a_name, b_name) = if name == "random_uniform" {
                ("low", "high")
            } else {
                ("mean", "sd")
            };
            let (a, sa) = arg(a_name).unwrap_or((Val::Err, span));
            let (b, _) = arg(b_name).unwrap_or((Val::Err, span));
            let (da, xa) = qex(&a);
            let (db, xb) = qex(&b);
            if da != db {
                ev.diags().push(
                    Diagnostic::new(
                        Code::E0303,
                        format!("`{a_name}` and `{b_name}` differ in dimension"),
                    )
                    .label(sa, format!("{} and {}", da.describe(), db.describe())),
                );
                return Val::Err;
            }
            let (Some(x), Some(y)) = (xa.as_const(), xb.as_const()) else {
                ev.diags().push(
                    Diagnostic::new(Code::E0315, "random sample bounds must be constants")
                        .label(span, "depends on values known only at run time"),
                );
                return Val::Err;
            };
            let n = arg("n").and_then(|v| v.0.const_si()).unwrap_or(0.0) as u64;
            if n == 0 || n > 1_000_000 {
                ev.diags().push(
                    Diagnostic::new(
                        Code::E0314,
                        "number of samples must be within 1 and 1,000,000",
                    )
                    .label(span, format!("n = {n}")),
                );
                return Val::Err;
            }
            let seed = arg("seed").and_then(|v| v.0.const_si()).unwrap_or(0.0) as u64;
            let values = random_samples(name == "random_normal", x, y, n, seed);
            Val::List(values.into_iter().map(|v| Val::si(v, da)).collect())
        }
        _ if ACTIVITY_KINDS.contains(&name) => {
            if activity_rules(ev, name, &named) {
                obj(name, named)
            } else {
                Val::Err
            }
        }
        _ => obj(name, named),
    }
}

/// The activity generators (a `sum` of them is one too, see [`is_activity`]).
const ACTIVITY_KINDS: &[&str] = &[
    "poisson",
    "psth",
    "psth_count",
    "normal_spike",
    "uniform_spike",
    "lognormal_spike",
    "poisson_rates",
    "modulated",
    "spike_times",
];

/// Range checks of an activity generator's arguments, by [`crate::rules`] (the same codes as
/// ISF network `.param` files: probabilities and fractions E0314, negative rates, widths and
/// delays, mean intervals and bins E0314, counts E0407); false after reporting.
fn activity_rules(
    ev: &mut dyn Eval,
    name: &str,
    named: &[(&'static str, Option<(Val, Span)>)],
) -> bool {
    use crate::rules;
    let mut ok = true;
    // Constant arguments only: a value known at run time only has no range to check here.
    let c = |n: &str| get(named, n).and_then(|(v, s)| v.const_si().map(|x| (x, s)));
    let what = |n: &str| format!("`{n}` of `{name}`");
    let mut check = |ev: &mut dyn Eval, r: Result<(), rules::Broken>, s: Span| {
        if !ev.rule_ok(s, r) {
            ok = false;
        }
    };
    let ms = |x: f64| x * 1e3;
    for n in ["interval", "bin"] {
        if let Some((x, s)) = c(n) {
            check(ev, rules::positive_duration(&what(n), ms(x)).map(drop), s);
        }
    }
    for n in ["start", "stop", "sd", "window"] {
        if let Some((x, s)) = c(n) {
            check(ev, rules::non_negative(&what(n), ms(x), "ms").map(drop), s);
        }
    }
    if name == "modulated"
        && let Some((x, s)) = c("offset")
    {
        check(
            ev,
            rules::non_negative(&what("offset"), ms(x), "ms").map(drop),
            s,
        );
    }
    for n in ["rate_before", "mean_rate", "frequency"] {
        if let Some((x, s)) = c(n) {
            check(ev, rules::non_negative(&what(n), x, "Hz").map(drop), s);
        }
    }
    for n in ["sigma", "phase_sd"] {
        if let Some((x, s)) = c(n) {
            check(ev, rules::non_negative(&what(n), x, "").map(drop), s);
        }
    }
    for n in ["noise", "active", "modulation"] {
        if let Some((x, s)) = c(n) {
            check(ev, rules::fraction(&what(n), x).map(drop), s);
        }
    }
    if let Some((x, s)) = c("count") {
        check(ev, rules::count(&what("count"), x, 0).map(drop), s);
    }
    if let (Some((a, _)), Some((b, s))) = (c("start"), c("stop")) {
        check(
            ev,
            rules::interval(&what("start`..`stop"), ms(a), ms(b)).map(drop),
            s,
        );
    }
    // Bins and segments: `[((begin, end), value), …]`.
    let (list, value_dim, value_kind) = match name {
        "psth" => ("bins", Dim::ONE, "probability"),
        "psth_count" => ("bins", Dim::ONE, "number of cells"),
        "poisson_rates" => ("segments", Dim::FREQUENCY, "rate"),
        _ => return ok,
    };
    let Some((v, s)) = get(named, list) else {
        return ok;
    };
    let shape = format!("a `{name}` {list} entry is ((begin, end), {value_kind})");
    let items = match v {
        Val::List(items) => items,
        Val::Err => return false,
        other => {
            type_err(ev, s, &format!("argument `{list}`"), "a list", &other);
            return false;
        }
    };
    for (i, item) in items.into_iter().enumerate() {
        let entry = format!("{list} entry {i} of `{name}`");
        let (Val::Tuple(pair) | Val::List(pair)) = item else {
            ev.diags().push(
                Diagnostic::new(Code::E0306, format!("{entry} has the wrong shape"))
                    .label(s, format!("found {}", item.type_name()))
                    .help(shape.clone()),
            );
            return false;
        };
        let [iv, x] = <[Val; 2]>::try_from(pair).unwrap_or([Val::Err, Val::Err]);
        let (Val::Tuple(ends) | Val::List(ends)) = iv else {
            ev.diags().push(
                Diagnostic::new(Code::E0306, format!("{entry} has the wrong shape"))
                    .label(s, "expected ((begin, end), value)")
                    .help(shape.clone()),
            );
            return false;
        };
        let [b, e] = <[Val; 2]>::try_from(ends).unwrap_or([Val::Err, Val::Err]);
        let b = ev.expect_dim(b, T, s, &format!("the begin of {entry}"));
        let e = ev.expect_dim(e, T, s, &format!("the end of {entry}"));
        let x = ev.expect_dim(x, value_dim, s, &format!("the {value_kind} of {entry}"));
        if b.is_err() || e.is_err() || x.is_err() {
            return false;
        }
        if let (Some(b), Some(e)) = (b.const_si(), e.const_si()) {
            check(ev, rules::interval(&entry, ms(b), ms(e)).map(drop), s);
        }
        if let Some(x) = x.const_si() {
            let r = match name {
                "psth" => rules::probability(&format!("the probability of {entry}"), x).map(drop),
                "psth_count" => rules::count(&format!("the count of {entry}"), x, 0).map(drop),
                _ => rules::non_negative(&format!("the rate of {entry}"), x, "Hz").map(drop),
            };
            check(ev, r, s);
        }
    }
    ok
}

/// Deterministic random samples (SplitMix64 stream): uniform in `[a, b)`, or normal with mean
/// `a` and standard deviation `b` (Box-Muller). Same arguments, same values, on any machine.
pub fn random_samples(normal: bool, a: f64, b: f64, n: u64, seed: u64) -> Vec<f64> {
    let mut state = seed ^ 0x5DEE_CE66_D1CE_4E5B;
    let mut next = move || {
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        ((z ^ (z >> 31)) >> 11) as f64 / (1u64 << 53) as f64
    };
    (0..n)
        .map(|_| {
            if normal {
                let (u1, u2) = (1.0 - next(), next());
                a + b * (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
            } else {
                a + (b - a) * next()
            }
        })
        .collect()
}

/// The section indices of a list argument: non-negative integer constants (E0318 otherwise),
/// sorted, without repeats.
fn section_list(ev: &mut dyn Eval, list: &Val, span: Span) -> Option<Vec<u64>> {
    let Val::List(items) = list else {
        return None;
    };
    let mut out = Vec::new();
    for it in items {
        match it.const_si() {
            Some(k) if k >= 0.0 && k == k.trunc() && k < 1e9 => out.push(k as u64),
            Some(k) => {
                ev.diags().push(
                    Diagnostic::new(
                        Code::E0318,
                        format!("`{}` is not a section index", crate::rules::show_num(k)),
                    )
                    .label(span, "section indices are whole numbers from 0")
                    .note("sections are numbered in the order of the morphology file, soma 0"),
                );
                return None;
            }
            None if it.is_err() => return None,
            None => {
                ev.diags().push(
                    Diagnostic::new(Code::E0315, "a section index must be a constant")
                        .label(span, "this list depends on the position"),
                );
                return None;
            }
        }
    }
    out.sort_unstable();
    out.dedup();
    Some(out)
}

/// `section == a or section == b or …`, as a balanced tree (a list of hundreds of sections
/// must not make a deep expression); `None` for an empty list.
fn any_section(secs: &[u64]) -> Option<Ex> {
    match secs {
        [] => None,
        [k] => Some(Ex::bin(BinOp::Eq, pos("section"), Ex::Const(*k as f64))),
        _ => {
            let (a, b) = secs.split_at(secs.len() / 2);
            Some(Ex::bin(BinOp::Or, any_section(a)?, any_section(b)?))
        }
    }
}

/// The distance variable for a distribution: relative (dimensionless) or absolute (length).
/// Relative distances always divide by the region's maximum label-origin (def. 2) distance,
/// also when the distance itself is measured from soma(0) (`linear`, `linear_capped`) or is
/// a height (`exponential_by_z_dist`), exactly as ISF does (spec 02 §2.5).
fn distance_var(relative: &Option<(Val, Span)>, base: &str) -> (Dim, Ex) {
    let rel = matches!(relative, Some((Val::Bool(Ex::Const(x)), _)) if *x != 0.0);
    match (rel, base) {
        (true, "distance") => (Dim::ONE, pos("relative_distance")),
        (true, _) => (
            Dim::ONE,
            Ex::bin(BinOp::Div, pos(base), pos("max_distance")),
        ),
        (false, _) => (Dim::LENGTH, pos(base)),
    }
}

/// A rate per distance (1/um for absolute, dimensionless for relative distances).
fn per_distance(ev: &mut dyn Eval, a: Option<(Val, Span)>, dd: Dim, what: &str) -> Option<Ex> {
    let (v, s) = a?;
    let v = ev.expect_dim(v, Dim::ONE.div(dd), s, what);
    if v.is_err() {
        return None;
    }
    Some(qex(&v).1)
}

fn obj(name: &str, named: Vec<(&'static str, Option<(Val, Span)>)>) -> Val {
    Val::Obj(Obj {
        kind: name.to_string(),
        args: named
            .into_iter()
            .filter_map(|(k, v)| v.map(|(v, _)| (k.to_string(), v)))
            .collect(),
    })
}

/// `soma.v` and friends: what can be recorded at a region.
pub fn region_member(ev: &mut dyn Eval, region: &str, field: &Ident) -> Val {
    probe(
        ev,
        Val::Obj(Obj {
            kind: "site".into(),
            args: vec![
                ("region".into(), Val::Str(region.into())),
                ("x".into(), Val::num(0.5)),
            ],
        }),
        field,
    )
}

/// Recordable variables of a site.
pub const PROBE_VARS: &[&str] = &["v", "cai", "ica", "ina", "ik", "eca"];

/// `site.v`: a recording probe.
pub fn probe(ev: &mut dyn Eval, site: Val, field: &Ident) -> Val {
    if !PROBE_VARS.contains(&field.name.as_str()) {
        let mut d = Diagnostic::new(
            Code::E0209,
            format!("`{}` cannot be recorded here", field.name),
        )
        .label(field.span, "not a recordable variable")
        .note(format!("recordable: {}", PROBE_VARS.join(", ")));
        d = d.suggest(&field.name, PROBE_VARS.iter().copied());
        ev.diags().push(d);
        return Val::Err;
    }
    Val::Obj(Obj {
        kind: "probe".into(),
        args: vec![
            ("site".into(), site),
            ("variable".into(), Val::Str(field.name.clone())),
        ],
    })
}
