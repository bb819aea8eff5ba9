//! Values of checked expressions.
//!
//! Checking is abstract evaluation: each expression becomes a [`Val`] that knows its type and
//! dimension and, where it can be computed before a run, its value. Quantities carry a lowered
//! [`Ex`] in SI, so constants are folded and position- or state-dependent parts remain
//! symbolic. [`Val::Err`] is the poison value: it fits everywhere, so one mistake is reported
//! once and does not cascade.

use crate::model::ex::Ex;
use crate::syntax::ast::DeclKind;
use crate::units::Dim;

/// A checked value.
#[derive(Clone, Debug, PartialEq)]
pub enum Val {
    /// A quantity; `abs` marks an absolute temperature (degC), whose SI value is in kelvin.
    Q {
        dim: Dim,
        abs: bool,
        ex: Ex,
    },
    Bool(Ex),
    Str(String),
    List(Vec<Val>),
    Tuple(Vec<Val>),
    Record(Vec<(String, Val)>),
    /// The result of a builtin constructor (`hoc(…)`, `poisson(…)`, `soma(0.5)`, …).
    Obj(Obj),
    /// A reference to a declaration.
    Decl(DeclKind, String),
    /// A region of a cell (`soma`, `apical_dendrite`, …) in experiment contexts.
    Region(String),
    /// An imported module used as a namespace.
    Module(u32),
    /// Poison: an error was already reported.
    Err,
}

/// A builtin object with named arguments.
#[derive(Clone, Debug, PartialEq)]
pub struct Obj {
    pub kind: String,
    pub args: Vec<(String, Val)>,
}

impl Obj {
    /// Argument by name.
    pub fn get(&self, name: &str) -> Option<&Val> {
        self.args.iter().find(|(n, _)| n == name).map(|(_, v)| v)
    }
}

impl Val {
    /// A constant dimensionless number.
    pub fn num(x: f64) -> Val {
        Val::Q {
            dim: Dim::ONE,
            abs: false,
            ex: Ex::Const(x),
        }
    }

    /// A constant quantity in SI.
    pub fn si(x: f64, dim: Dim) -> Val {
        Val::Q {
            dim,
            abs: false,
            ex: Ex::Const(x),
        }
    }

    /// Short description of the type for messages.
    pub fn type_name(&self) -> String {
        match self {
            Val::Q { dim, abs: true, .. } if *dim == Dim::TEMPERATURE => {
                "an absolute temperature".into()
            }
            Val::Q { dim, .. } if dim.is_one() => "a number".into(),
            Val::Q { dim, .. } => format!(
                "a quantity of {}",
                dim.quantity_name()
                    .map(String::from)
                    .unwrap_or_else(|| format!("dimension [{}]", dim.si_string()))
            ),
            Val::Bool(_) => "a boolean".into(),
            Val::Str(_) => "a string".into(),
            Val::List(_) => "a list".into(),
            Val::Tuple(_) => "a tuple".into(),
            Val::Record(_) => "a record".into(),
            Val::Obj(o) => format!("`{}(…)`", o.kind),
            Val::Decl(k, n) => format!("the {} `{n}`", k.as_str()),
            Val::Region(r) => format!("the region `{r}`"),
            Val::Module(_) => "a module".into(),
            Val::Err => "an erroneous value".into(),
        }
    }

    /// The constant SI value of a quantity.
    pub fn const_si(&self) -> Option<f64> {
        match self {
            Val::Q { ex, .. } => ex.as_const(),
            _ => None,
        }
    }

    /// True for the poison value.
    pub fn is_err(&self) -> bool {
        matches!(self, Val::Err)
    }
}

/// What a name resolves to in the current context.
pub trait Names {
    /// Look a name up; `None` when unknown.
    fn lookup(&mut self, name: &str) -> Option<Val>;
    /// All visible names (for "did you mean").
    fn candidates(&self) -> Vec<String>;
    /// Member access on a module namespace.
    fn module_member(&mut self, _module: u32, _name: &str) -> Option<Val> {
        None
    }
    /// A new random draw of kind `kind` (inside a synapse's `event` block only): the
    /// expression standing for it, or `None` where draws are not allowed.
    fn draw(&mut self, _kind: crate::model::ex::Draw) -> Option<Ex> {
        None
    }
}
