//! Lowered expressions: the small expression language left after checking.
//!
//! Constant parts are folded to `f64`; what remains depends on position on the cell (`distance`,
//! `relative_distance`, `diameter`, …) or on mechanism state (`v`, gating states). Values are in
//! SI inside an [`Ex`]; [`Ex::Var`] carries the factor that converts the runtime's canonical
//! value into SI, and [`Ex::canonical`] divides a result into its canonical unit.

/// The operators of lowered expressions are the syntax tree's operator enums (the lowering
/// keeps them as written); re-exported so that the stages after checking (lowering, kernel)
/// name them through the model and never import the syntax tree.
pub use crate::syntax::ast::{BinOp, UnOp};
use serde::Serialize;

/// A lowered expression (SI inside).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub enum Ex {
    Const(f64),
    /// A runtime variable in canonical units; SI value = `scale * value`.
    Var {
        name: String,
        scale: f64,
    },
    Unary(UnOp, Box<Ex>),
    Bin(BinOp, Box<Ex>, Box<Ex>),
    If(Box<Ex>, Box<Ex>, Box<Ex>),
    /// A math builtin (`exp`, `log`, `sqrt`, `abs`, `min`, `max`, `pow`, …).
    Call(String, Vec<Ex>),
}

impl Ex {
    /// The constant value, if folded.
    pub fn as_const(&self) -> Option<f64> {
        match self {
            Ex::Const(c) => Some(*c),
            _ => None,
        }
    }

    /// A variable node.
    pub fn var(name: &str, scale: f64) -> Ex {
        Ex::Var {
            name: name.to_string(),
            scale,
        }
    }

    /// Unary operation with folding.
    pub fn unary(op: UnOp, a: Ex) -> Ex {
        match a.as_const() {
            Some(c) => Ex::Const(unop(op, c)),
            None => Ex::Unary(op, Box::new(a)),
        }
    }

    /// Binary operation with folding.
    pub fn bin(op: BinOp, a: Ex, b: Ex) -> Ex {
        match (a.as_const(), b.as_const()) {
            (Some(x), Some(y)) => Ex::Const(binop(op, x, y)),
            _ => Ex::Bin(op, Box::new(a), Box::new(b)),
        }
    }

    /// Conditional with folding.
    pub fn cond(c: Ex, a: Ex, b: Ex) -> Ex {
        match c.as_const() {
            Some(x) if x != 0.0 => a,
            Some(_) => b,
            None => Ex::If(Box::new(c), Box::new(a), Box::new(b)),
        }
    }

    /// Builtin call with folding.
    pub fn call(name: &str, args: Vec<Ex>) -> Ex {
        let consts: Option<Vec<f64>> = args.iter().map(Ex::as_const).collect();
        match consts.and_then(|c| math(name, &c)) {
            Some(v) => Ex::Const(v),
            None => Ex::Call(name.to_string(), args),
        }
    }

    /// Convert an SI-valued expression into the unit whose SI size is `scale`.
    pub fn canonical(self, scale: f64) -> Ex {
        if scale == 1.0 {
            self
        } else {
            Ex::bin(BinOp::Div, self, Ex::Const(scale))
        }
    }

    /// Evaluate with runtime variables given in canonical units.
    pub fn eval(&self, var: &dyn Fn(&str) -> f64) -> f64 {
        match self {
            Ex::Const(c) => *c,
            Ex::Var { name, scale } => scale * var(name),
            Ex::Unary(op, a) => unop(*op, a.eval(var)),
            Ex::Bin(op, a, b) => binop(*op, a.eval(var), b.eval(var)),
            Ex::If(c, a, b) => {
                if c.eval(var) != 0.0 {
                    a.eval(var)
                } else {
                    b.eval(var)
                }
            }
            Ex::Call(n, args) => {
                let v: Vec<f64> = args.iter().map(|a| a.eval(var)).collect();
                math(n, &v).unwrap_or(f64::NAN)
            }
        }
    }

    /// Names of the runtime variables used.
    pub fn vars(&self, out: &mut Vec<String>) {
        match self {
            Ex::Const(_) => {}
            Ex::Var { name, .. } => {
                if !out.contains(name) {
                    out.push(name.clone())
                }
            }
            Ex::Unary(_, a) => a.vars(out),
            Ex::Bin(_, a, b) => {
                a.vars(out);
                b.vars(out)
            }
            Ex::If(c, a, b) => {
                c.vars(out);
                a.vars(out);
                b.vars(out)
            }
            Ex::Call(_, args) => args.iter().for_each(|a| a.vars(out)),
        }
    }
}

/// A random draw inside a synapse's `event` block (`exprand()`, `unirand()`).
///
/// A draw is a runtime variable of the event: the checker lowers the `k`-th draw call of an
/// event block to [`Ex::Var`] named [`Draw::var`]`(k)` (`draw#k:exp`, a name no script can
/// write), and the synapse kernel fills it per event from the synapse's counter-based stream
/// (see `kernel::synapse`). A `let` that holds a draw is one draw, however often it is used.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Draw {
    /// `exprand()`: exponential with mean 1 (NEURON's `exprand(1)`, what ISF's stochastic
    /// synapses compare with the release probability).
    Exp,
    /// `unirand()`: uniform in [0, 1).
    Uniform,
}

impl Draw {
    /// The builtin of that name, if it is a draw.
    pub fn from_builtin(name: &str) -> Option<Draw> {
        match name {
            "exprand" => Some(Draw::Exp),
            "unirand" => Some(Draw::Uniform),
            _ => None,
        }
    }

    /// The builtin's name.
    pub fn builtin(self) -> &'static str {
        match self {
            Draw::Exp => "exprand",
            Draw::Uniform => "unirand",
        }
    }

    /// The variable name of the `k`-th draw of an event.
    pub fn var(self, k: usize) -> String {
        let kind = match self {
            Draw::Exp => "exp",
            Draw::Uniform => "uniform",
        };
        format!("draw#{k}:{kind}")
    }

    /// The draw a variable name stands for: `(k, kind)`.
    pub fn parse_var(name: &str) -> Option<(usize, Draw)> {
        let rest = name.strip_prefix("draw#")?;
        let (k, kind) = rest.split_once(':')?;
        let kind = match kind {
            "exp" => Draw::Exp,
            "uniform" => Draw::Uniform,
            _ => return None,
        };
        Some((k.parse().ok()?, kind))
    }
}

fn unop(op: UnOp, x: f64) -> f64 {
    match op {
        UnOp::Neg => -x,
        UnOp::Not => (x == 0.0) as u8 as f64,
    }
}

fn binop(op: BinOp, x: f64, y: f64) -> f64 {
    use BinOp::*;
    let b = |c: bool| c as u8 as f64;
    match op {
        Or => b(x != 0.0 || y != 0.0),
        And => b(x != 0.0 && y != 0.0),
        Eq => b(x == y),
        Ne => b(x != y),
        Lt => b(x < y),
        Le => b(x <= y),
        Gt => b(x > y),
        Ge => b(x >= y),
        Add => x + y,
        Sub => x - y,
        Mul => x * y,
        Div => x / y,
        Pow => x.powf(y),
    }
}

/// The math builtins shared by checking (folding) and evaluation.
pub fn math(name: &str, a: &[f64]) -> Option<f64> {
    Some(match (name, a) {
        ("exp", [x]) => x.exp(),
        ("log", [x]) => x.ln(),
        ("log10", [x]) => x.log10(),
        ("sqrt", [x]) => x.sqrt(),
        ("abs", [x]) => x.abs(),
        ("sin", [x]) => x.sin(),
        ("cos", [x]) => x.cos(),
        ("tanh", [x]) => x.tanh(),
        ("floor", [x]) => x.floor(),
        ("ceil", [x]) => x.ceil(),
        ("min", [x, y]) => x.min(*y),
        ("max", [x, y]) => x.max(*y),
        ("pow", [x, y]) => x.powf(*y),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folding_and_eval() {
        let e = Ex::bin(BinOp::Add, Ex::Const(1.0), Ex::Const(2.0));
        assert_eq!(e, Ex::Const(3.0));
        let d = Ex::bin(BinOp::Mul, Ex::var("distance", 1e-6), Ex::Const(2.0));
        assert!((d.eval(&|_| 100.0) - 2e-4).abs() < 1e-18);
        let c = Ex::cond(Ex::Const(0.0), Ex::Const(1.0), Ex::Const(2.0));
        assert_eq!(c, Ex::Const(2.0));
        assert_eq!(
            Ex::call("max", vec![Ex::Const(1.0), Ex::Const(3.0)]),
            Ex::Const(3.0)
        );
    }

    #[test]
    fn draw_names_round_trip() {
        for d in [Draw::Exp, Draw::Uniform] {
            assert_eq!(Draw::from_builtin(d.builtin()), Some(d));
            assert_eq!(Draw::parse_var(&d.var(3)), Some((3, d)));
        }
        assert_eq!(Draw::parse_var("draw#x:exp"), None);
        assert_eq!(Draw::parse_var("u"), None);
    }
}
