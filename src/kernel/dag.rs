//! Expression DAG for kernel compilation: hash-consed nodes (so equal subexpressions are
//! computed once — common-subexpression elimination), constant folding and canonical forms at
//! construction (constant factors float outwards and merge, see `Dag::scale_rules`;
//! `exp(−y)` reuses `exp(y)`), and symbolic differentiation (conductance `∂i/∂v`, linear ODE
//! coefficient `∂f/∂x`).
//!
//! Nodes are appended in construction order, so every node's operands have smaller ids: the
//! id order is a valid evaluation order.

use crate::model::ex::{BinOp, UnOp};
use crate::model::ex::{Ex, math};
use std::collections::HashMap;

/// Index of a node in a [`Dag`].
pub type Id = u32;

/// Element-wise operations on columns.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Op {
    Neg,
    Not,
    Add,
    Sub,
    Mul,
    Div,
    Pow,
    Lt,
    Le,
    Gt,
    Ge,
    Eq,
    Ne,
    And,
    Or,
    /// `c != 0 ? a : b` (both branches are computed; only the chosen one is used).
    Select,
    /// The exact exponential gate update `x + (1 − exp(−dt/τ))·(x∞ − x)` of operands
    /// `(x, x∞, τ)`; carries the bits of `−dt`. One instruction instead of six passes.
    Cnexp(u64),
    /// The same update with the rate `r = 1/τ` as third operand: `x + (1 − exp(−dt·r))·(x∞ − x)`
    /// (carries the bits of `−dt`); saves the two divisions of `τ = 1/(α + β)` and `−dt/τ`.
    CnexpRate(u64),
    Exp,
    Log,
    Log10,
    Sqrt,
    Abs,
    Sin,
    Cos,
    Tanh,
    Floor,
    Ceil,
    Min,
    Max,
}

impl Op {
    fn from_bin(op: BinOp) -> Op {
        match op {
            BinOp::Or => Op::Or,
            BinOp::And => Op::And,
            BinOp::Eq => Op::Eq,
            BinOp::Ne => Op::Ne,
            BinOp::Lt => Op::Lt,
            BinOp::Le => Op::Le,
            BinOp::Gt => Op::Gt,
            BinOp::Ge => Op::Ge,
            BinOp::Add => Op::Add,
            BinOp::Sub => Op::Sub,
            BinOp::Mul => Op::Mul,
            BinOp::Div => Op::Div,
            BinOp::Pow => Op::Pow,
        }
    }

    fn from_call(name: &str, arity: usize) -> Option<Op> {
        Some(match (name, arity) {
            ("exp", 1) => Op::Exp,
            ("log", 1) => Op::Log,
            ("log10", 1) => Op::Log10,
            ("sqrt", 1) => Op::Sqrt,
            ("abs", 1) => Op::Abs,
            ("sin", 1) => Op::Sin,
            ("cos", 1) => Op::Cos,
            ("tanh", 1) => Op::Tanh,
            ("floor", 1) => Op::Floor,
            ("ceil", 1) => Op::Ceil,
            ("min", 2) => Op::Min,
            ("max", 2) => Op::Max,
            ("pow", 2) => Op::Pow,
            _ => return None,
        })
    }

    /// Scalar semantics, identical to [`Ex::eval`] (used for folding and as the reference
    /// for the column loops).
    pub fn eval(self, a: f64, b: f64, c: f64) -> f64 {
        let t = |x: bool| x as u8 as f64;
        match self {
            Op::Neg => -a,
            Op::Not => t(a == 0.0),
            Op::Add => a + b,
            Op::Sub => a - b,
            Op::Mul => a * b,
            Op::Div => a / b,
            Op::Pow => a.powf(b),
            Op::Lt => t(a < b),
            Op::Le => t(a <= b),
            Op::Gt => t(a > b),
            Op::Ge => t(a >= b),
            Op::Eq => t(a == b),
            Op::Ne => t(a != b),
            Op::And => t(a != 0.0 && b != 0.0),
            Op::Or => t(a != 0.0 || b != 0.0),
            Op::Select => {
                if a != 0.0 {
                    b
                } else {
                    c
                }
            }
            Op::Cnexp(mdt) => a + (1.0 - (f64::from_bits(mdt) / c).exp()) * (b - a),
            Op::CnexpRate(mdt) => a + (1.0 - (f64::from_bits(mdt) * c).exp()) * (b - a),
            Op::Exp => a.exp(),
            Op::Log => a.ln(),
            Op::Log10 => a.log10(),
            Op::Sqrt => a.sqrt(),
            Op::Abs => a.abs(),
            Op::Sin => a.sin(),
            Op::Cos => a.cos(),
            Op::Tanh => a.tanh(),
            Op::Floor => a.floor(),
            Op::Ceil => a.ceil(),
            Op::Min => math("min", &[a, b]).unwrap_or(f64::NAN),
            Op::Max => math("max", &[a, b]).unwrap_or(f64::NAN),
        }
    }

    /// Number of operands.
    pub fn arity(self) -> usize {
        match self {
            Op::Neg
            | Op::Not
            | Op::Exp
            | Op::Log
            | Op::Log10
            | Op::Sqrt
            | Op::Abs
            | Op::Sin
            | Op::Cos
            | Op::Tanh
            | Op::Floor
            | Op::Ceil => 1,
            Op::Select | Op::Cnexp(_) | Op::CnexpRate(_) => 3,
            _ => 2,
        }
    }
}

/// One DAG node. Constants are stored by bit pattern so nodes can be hashed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Node {
    Const(u64),
    /// Runtime input number `k` (a parameter, state, `v`, ion variable, …).
    Input(u32),
    Apply(Op, [Id; 3]),
}

/// A hash-consed expression DAG.
#[derive(Clone, Debug, Default)]
pub struct Dag {
    nodes: Vec<Node>,
    index: HashMap<Node, Id>,
}

impl Dag {
    /// All nodes; operands always have smaller ids.
    pub fn nodes(&self) -> &[Node] {
        &self.nodes
    }

    fn intern(&mut self, n: Node) -> Id {
        if let Some(&id) = self.index.get(&n) {
            return id;
        }
        let id = self.nodes.len() as Id;
        self.nodes.push(n);
        self.index.insert(n, id);
        id
    }

    /// A constant node.
    pub fn constant(&mut self, c: f64) -> Id {
        self.intern(Node::Const(c.to_bits()))
    }

    /// An input node.
    pub fn input(&mut self, k: u32) -> Id {
        self.intern(Node::Input(k))
    }

    /// The constant value of a node, if it is one.
    pub fn as_const(&self, id: Id) -> Option<f64> {
        match self.nodes[id as usize] {
            Node::Const(b) => Some(f64::from_bits(b)),
            _ => None,
        }
    }

    /// Apply an operation with constant folding and IEEE-exact simplifications
    /// (`x+0`, `x−0`, `x·1`, `x/1`, `x^1`), and integer powers up to 16 as products. `0·x → 0` is
    /// also applied (it drops the NaN of `0·∞`; it only arises from differentiation).
    pub fn apply(&mut self, op: Op, args: &[Id]) -> Id {
        debug_assert_eq!(args.len(), op.arity());
        let mut a = [0 as Id; 3];
        a[..args.len()].copy_from_slice(args);
        let k: Vec<Option<f64>> = args.iter().map(|&x| self.as_const(x)).collect();
        if k.iter().all(Option::is_some) {
            let v = |i: usize| k.get(i).copied().flatten().unwrap_or(0.0);
            return self.constant(op.eval(v(0), v(1), v(2)));
        }
        let c = |i: usize| k[i];
        match op {
            Op::Add if c(1) == Some(0.0) => return a[0],
            Op::Add if c(0) == Some(0.0) => return a[1],
            Op::Sub if c(1) == Some(0.0) => return a[0],
            Op::Sub if c(0) == Some(0.0) => return self.apply(Op::Neg, &[a[1]]),
            Op::Mul if c(1) == Some(1.0) => return a[0],
            Op::Mul if c(0) == Some(1.0) => return a[1],
            Op::Mul if c(0) == Some(0.0) || c(1) == Some(0.0) => return self.constant(0.0),
            Op::Div if c(1) == Some(1.0) => return a[0],
            Op::Div if c(0) == Some(0.0) => return self.constant(0.0),
            Op::Neg => {
                if let Node::Apply(Op::Neg, [x, _, _]) = self.nodes[a[0] as usize] {
                    return x;
                }
            }
            _ => {}
        }
        if let Some(id) = self.scale_rules(op, a, &k) {
            return id;
        }
        if op == Op::Exp
            && let Some(e) = self.existing_exp_of_negation(a[0])
        {
            // exp(−y) where exp(y) is already computed: 1/exp(y), a division instead of a
            // second exponential (the rate pairs α(v), β(v) = f(v + c), f(−v − c)); within
            // two roundings of exp(−y).
            let one = self.constant(1.0);
            return self.apply(Op::Div, &[one, e]);
        }
        match op {
            Op::Pow => {
                // Integer exponents up to 16 as products (square and multiply), negative ones
                // as the reciprocal: a few ulp from `powf`, and no scalar libm call.
                if let Some(b) = c(1)
                    && b == b.trunc()
                    && b.abs() <= 16.0
                    && b != 0.0
                {
                    let mut n = b.abs() as u32;
                    let mut base = a[0];
                    let mut acc: Option<Id> = None;
                    while n > 0 {
                        if n & 1 == 1 {
                            acc = Some(match acc {
                                None => base,
                                Some(p) => self.apply(Op::Mul, &[p, base]),
                            });
                        }
                        n >>= 1;
                        if n > 0 {
                            base = self.apply(Op::Mul, &[base, base]);
                        }
                    }
                    let p = acc.unwrap_or(a[0]);
                    if b < 0.0 {
                        let one = self.constant(1.0);
                        return self.apply(Op::Div, &[one, p]);
                    }
                    return p;
                }
            }
            Op::Select => {
                if a[1] == a[2] {
                    return a[1];
                }
                if let Some(cv) = c(0) {
                    return if cv != 0.0 { a[1] } else { a[2] };
                }
            }
            _ => {}
        }
        self.intern(Node::Apply(op, a))
    }

    /// The existing node `exp(−y)` for a node `y`, if any (`−y` in canonical form: `x·(−c)`
    /// for `y = x·c`, else `y·(−1)`).
    fn existing_exp_of_negation(&self, y: Id) -> Option<Id> {
        let find = |n: Node| self.index.get(&n).copied();
        let neg = match self.scaled(y) {
            Some((x, -1.0)) => x,
            Some((x, c)) => find(Node::Apply(
                Op::Mul,
                [x, find(Node::Const((-c).to_bits()))?, 0],
            ))?,
            None => find(Node::Apply(
                Op::Mul,
                [y, find(Node::Const((-1.0f64).to_bits()))?, 0],
            ))?,
        };
        find(Node::Apply(Op::Exp, [neg, 0, 0]))
    }

    /// `(x, c)` for a node `Mul(x, c)` with a constant `c`.
    pub fn scaled(&self, id: Id) -> Option<(Id, f64)> {
        match self.nodes[id as usize] {
            Node::Apply(Op::Mul, [x, c, _]) => self.as_const(c).map(|c| (x, c)),
            _ => None,
        }
    }

    /// Constant factors float outwards and merge: the lowered expressions are in SI units, so
    /// every `mV` or `ms` in a rate function is a multiplication or division by a constant
    /// (`(v·0.001 + 0.038)·1000` for `v + 38 mV` over `1 mV`). Rewritten to `x·c` with `x` free
    /// of unit factors, the factors merge, cancel, or end in one multiplication. The rules:
    /// constants on the right of products, `−x = x·(−1)`, `(x·a)·b = x·(ab)`,
    /// `(x·a)·y = (x·y)·a`, `(x·a)/y = (x/y)·a`, `x/(y·a) = (x/y)·(1/a)`, `x/a = x·(1/a)`,
    /// `a/y = (1/y)·a`, `x·a ± y·a = (x ± y)·a`, `x·a + b = (x + b/a)·a`,
    /// `c ? x·a : y·a = (c ? x : y)·a`. Reassociating products changes results by a few
    /// rounding errors of the product; `x·a + b = (x + b/a)·a` keeps the absolute error of the
    /// sum (the rate functions' removable singularities, `(v + 38 mV)/(1 − exp(…))`, see the
    /// same rounded `v + 38` in numerator and denominator, as before). Comparisons are left
    /// alone, so the singularity guards (`v == −38 mV`) test exactly what they did.
    fn scale_rules(&mut self, op: Op, a: [Id; 3], k: &[Option<f64>]) -> Option<Id> {
        // A merged factor is used only if it is a normal number (no overflow, underflow or 0).
        let ok = |c: f64| c.is_normal();
        let c = |i: usize| k.get(i).copied().flatten();
        let (x, y) = (a[0], a[1]);
        Some(match op {
            Op::Neg => {
                let m1 = self.constant(-1.0);
                self.apply(Op::Mul, &[x, m1])
            }
            Op::Mul => match (c(0), c(1)) {
                (Some(_), None) => self.apply(Op::Mul, &[y, x]),
                (None, Some(b)) => {
                    let (x, a) = self.scaled(x)?;
                    if !ok(a * b) {
                        return None;
                    }
                    let ab = self.constant(a * b);
                    self.apply(Op::Mul, &[x, ab])
                }
                (None, None) => {
                    let (p, f) = if let Some((xx, f)) = self.scaled(x) {
                        (self.apply(Op::Mul, &[xx, y]), f)
                    } else if let Some((yy, f)) = self.scaled(y) {
                        (self.apply(Op::Mul, &[x, yy]), f)
                    } else {
                        return None;
                    };
                    let f = self.constant(f);
                    self.apply(Op::Mul, &[p, f])
                }
                _ => return None,
            },
            Op::Div => match (c(0), c(1)) {
                (None, Some(b)) => {
                    if !ok(1.0 / b) {
                        return None;
                    }
                    let r = self.constant(1.0 / b);
                    self.apply(Op::Mul, &[x, r])
                }
                (Some(a0), None) if a0 != 1.0 => {
                    let one = self.constant(1.0);
                    let r = self.apply(Op::Div, &[one, y]);
                    self.apply(Op::Mul, &[r, x])
                }
                (Some(_), None) => {
                    let (yy, f) = self.scaled(y)?;
                    if !ok(1.0 / f) {
                        return None;
                    }
                    let r = self.apply(Op::Div, &[x, yy]);
                    let f = self.constant(1.0 / f);
                    self.apply(Op::Mul, &[r, f])
                }
                (None, None) => {
                    if let Some((xx, f)) = self.scaled(x) {
                        let q = self.apply(Op::Div, &[xx, y]);
                        let f = self.constant(f);
                        self.apply(Op::Mul, &[q, f])
                    } else if let Some((yy, f)) = self.scaled(y)
                        && ok(1.0 / f)
                    {
                        let q = self.apply(Op::Div, &[x, yy]);
                        let f = self.constant(1.0 / f);
                        self.apply(Op::Mul, &[q, f])
                    } else {
                        return None;
                    }
                }
                _ => return None,
            },
            Op::Add | Op::Sub => {
                // x − b = x + (−b) and b − x = x·(−1) + b (both exact).
                if op == Op::Sub && c(1).is_some() {
                    let nb = self.constant(-c(1)?);
                    return Some(self.apply(Op::Add, &[x, nb]));
                }
                if op == Op::Sub && c(0).is_some() {
                    let m1 = self.constant(-1.0);
                    let nx = self.apply(Op::Mul, &[y, m1]);
                    return Some(self.apply(Op::Add, &[nx, x]));
                }
                if op == Op::Add && c(0).is_some() {
                    return Some(self.apply(Op::Add, &[y, x]));
                }
                if let Some(b) = c(1) {
                    // x·a + b = (x + b/a)·a
                    let (xx, f) = self.scaled(x)?;
                    if !ok(b / f) {
                        return None;
                    }
                    let bf = self.constant(b / f);
                    let s = self.apply(Op::Add, &[xx, bf]);
                    let f = self.constant(f);
                    return Some(self.apply(Op::Mul, &[s, f]));
                }
                match (self.scaled(x), self.scaled(y)) {
                    (Some((xx, f)), Some((yy, g))) if f == g || f == -g => {
                        let op2 = if (f == g) == (op == Op::Add) {
                            Op::Add
                        } else {
                            Op::Sub
                        };
                        let s = self.apply(op2, &[xx, yy]);
                        let f = self.constant(f);
                        self.apply(Op::Mul, &[s, f])
                    }
                    // x + y·(−1) = x − y, x − y·(−1) = x + y (exact).
                    (_, Some((yy, -1.0))) => {
                        let op2 = if op == Op::Add { Op::Sub } else { Op::Add };
                        self.apply(op2, &[x, yy])
                    }
                    (Some((xx, -1.0)), _) if op == Op::Add => self.apply(Op::Sub, &[y, xx]),
                    _ => return None,
                }
            }
            Op::Select => {
                let (xx, f) = self.scaled(a[1])?;
                let (yy, g) = self.scaled(a[2])?;
                if f != g {
                    return None;
                }
                let s = self.apply(Op::Select, &[a[0], xx, yy]);
                let f = self.constant(f);
                self.apply(Op::Mul, &[s, f])
            }
            _ => return None,
        })
    }

    fn bin(&mut self, op: Op, a: Id, b: Id) -> Id {
        self.apply(op, &[a, b])
    }

    /// Lower an [`Ex`]: `input(name)` maps a variable name to an input number (or `None` for an
    /// unknown name). A variable with scale `s` becomes `input·s` (SI value).
    pub fn from_ex(
        &mut self,
        ex: &Ex,
        input: &mut dyn FnMut(&str) -> Option<Id>,
    ) -> Result<Id, String> {
        Ok(match ex {
            Ex::Const(c) => self.constant(*c),
            Ex::Var { name, scale } => {
                let x = input(name).ok_or_else(|| format!("unknown variable `{name}`"))?;
                let s = self.constant(*scale);
                self.bin(Op::Mul, x, s)
            }
            Ex::Unary(op, a) => {
                let a = self.from_ex(a, input)?;
                let op = match op {
                    UnOp::Neg => Op::Neg,
                    UnOp::Not => Op::Not,
                };
                self.apply(op, &[a])
            }
            Ex::Bin(op, a, b) => {
                let a = self.from_ex(a, input)?;
                let b = self.from_ex(b, input)?;
                self.bin(Op::from_bin(*op), a, b)
            }
            Ex::If(c, a, b) => {
                let c = self.from_ex(c, input)?;
                let a = self.from_ex(a, input)?;
                let b = self.from_ex(b, input)?;
                self.apply(Op::Select, &[c, a, b])
            }
            Ex::Call(name, args) => {
                let op = Op::from_call(name, args.len())
                    .ok_or_else(|| format!("function `{name}` with {} arguments", args.len()))?;
                let mut ids = Vec::with_capacity(args.len());
                for a in args {
                    ids.push(self.from_ex(a, input)?);
                }
                self.apply(op, &ids)
            }
        })
    }

    /// Replace input `k` by node `by` everywhere in `root` (e.g. a uniform parameter by its
    /// constant, or a state by 0 to get a linear ODE's constant term).
    pub fn substitute(&mut self, root: Id, k: u32, by: Id) -> Id {
        let mut memo: HashMap<Id, Id> = HashMap::new();
        self.subst_rec(root, k, by, &mut memo)
    }

    fn subst_rec(&mut self, id: Id, k: u32, by: Id, memo: &mut HashMap<Id, Id>) -> Id {
        if let Some(&r) = memo.get(&id) {
            return r;
        }
        let r = match self.nodes[id as usize] {
            Node::Const(_) => id,
            Node::Input(j) => {
                if j == k {
                    by
                } else {
                    id
                }
            }
            Node::Apply(op, a) => {
                let n = op.arity();
                let mut args = [0 as Id; 3];
                for i in 0..n {
                    args[i] = self.subst_rec(a[i], k, by, memo);
                }
                self.apply(op, &args[..n])
            }
        };
        memo.insert(id, r);
        r
    }

    /// Whether `root` depends on input `k`.
    pub fn depends_on(&self, root: Id, k: u32) -> bool {
        let mut seen = vec![false; self.nodes.len()];
        let mut stack = vec![root];
        while let Some(id) = stack.pop() {
            if std::mem::replace(&mut seen[id as usize], true) {
                continue;
            }
            match self.nodes[id as usize] {
                Node::Const(_) => {}
                Node::Input(j) => {
                    if j == k {
                        return true;
                    }
                }
                Node::Apply(op, a) => stack.extend_from_slice(&a[..op.arity()]),
            }
        }
        false
    }

    /// Symbolic derivative of `root` with respect to input `k`. Comparisons, `floor` and
    /// `ceil` are piecewise constant (derivative 0); a `Select` differentiates both branches.
    pub fn derivative(&mut self, root: Id, k: u32) -> Result<Id, String> {
        let mut memo: HashMap<Id, Id> = HashMap::new();
        self.diff_rec(root, k, &mut memo)
    }

    fn diff_rec(&mut self, id: Id, k: u32, memo: &mut HashMap<Id, Id>) -> Result<Id, String> {
        if let Some(&r) = memo.get(&id) {
            return Ok(r);
        }
        if !self.depends_on(id, k) {
            let z = self.constant(0.0);
            memo.insert(id, z);
            return Ok(z);
        }
        let r = match self.nodes[id as usize] {
            Node::Const(_) => self.constant(0.0),
            Node::Input(j) => self.constant(if j == k { 1.0 } else { 0.0 }),
            Node::Apply(op, [a, b, c]) => {
                let mut d = |s: &mut Dag, x: Id| s.diff_rec(x, k, memo);
                match op {
                    Op::Neg => {
                        let da = d(self, a)?;
                        self.apply(Op::Neg, &[da])
                    }
                    Op::Add | Op::Sub => {
                        let (da, db) = (d(self, a)?, d(self, b)?);
                        self.bin(op, da, db)
                    }
                    Op::Mul => {
                        let (da, db) = (d(self, a)?, d(self, b)?);
                        let x = self.bin(Op::Mul, da, b);
                        let y = self.bin(Op::Mul, a, db);
                        self.bin(Op::Add, x, y)
                    }
                    Op::Div => {
                        // (a/b)' = (a' − (a/b)·b') / b
                        let (da, db) = (d(self, a)?, d(self, b)?);
                        let q = self.bin(Op::Mul, id, db);
                        let num = self.bin(Op::Sub, da, q);
                        self.bin(Op::Div, num, b)
                    }
                    Op::Pow => {
                        let (da, db) = (d(self, a)?, d(self, b)?);
                        // a^b · (b'·ln a + b·a'/a)
                        let l = self.apply(Op::Log, &[a]);
                        let t1 = self.bin(Op::Mul, db, l);
                        let r = self.bin(Op::Div, da, a);
                        let t2 = self.bin(Op::Mul, b, r);
                        let s = self.bin(Op::Add, t1, t2);
                        self.bin(Op::Mul, id, s)
                    }
                    Op::Exp => {
                        let da = d(self, a)?;
                        self.bin(Op::Mul, id, da)
                    }
                    Op::Log => {
                        let da = d(self, a)?;
                        self.bin(Op::Div, da, a)
                    }
                    Op::Log10 => {
                        let da = d(self, a)?;
                        let ln10 = self.constant(std::f64::consts::LN_10);
                        let den = self.bin(Op::Mul, a, ln10);
                        self.bin(Op::Div, da, den)
                    }
                    Op::Sqrt => {
                        let da = d(self, a)?;
                        let two = self.constant(2.0);
                        let den = self.bin(Op::Mul, two, id);
                        self.bin(Op::Div, da, den)
                    }
                    Op::Tanh => {
                        let da = d(self, a)?;
                        let one = self.constant(1.0);
                        let sq = self.bin(Op::Mul, id, id);
                        let f = self.bin(Op::Sub, one, sq);
                        self.bin(Op::Mul, f, da)
                    }
                    Op::Sin => {
                        let da = d(self, a)?;
                        let cs = self.apply(Op::Cos, &[a]);
                        self.bin(Op::Mul, cs, da)
                    }
                    Op::Cos => {
                        let da = d(self, a)?;
                        let sn = self.apply(Op::Sin, &[a]);
                        let m = self.bin(Op::Mul, sn, da);
                        self.apply(Op::Neg, &[m])
                    }
                    Op::Abs => {
                        let da = d(self, a)?;
                        let z = self.constant(0.0);
                        let neg = self.bin(Op::Lt, a, z);
                        let nda = self.apply(Op::Neg, &[da]);
                        self.apply(Op::Select, &[neg, nda, da])
                    }
                    Op::Min | Op::Max => {
                        let (da, db) = (d(self, a)?, d(self, b)?);
                        let cmp = if op == Op::Min { Op::Le } else { Op::Ge };
                        let pick = self.bin(cmp, a, b);
                        self.apply(Op::Select, &[pick, da, db])
                    }
                    Op::Cnexp(_) | Op::CnexpRate(_) => {
                        return Err("the gate update has no derivative".into());
                    }
                    Op::Select => {
                        let (db, dc) = (d(self, b)?, d(self, c)?);
                        self.apply(Op::Select, &[a, db, dc])
                    }
                    Op::Not
                    | Op::Lt
                    | Op::Le
                    | Op::Gt
                    | Op::Ge
                    | Op::Eq
                    | Op::Ne
                    | Op::And
                    | Op::Or
                    | Op::Floor
                    | Op::Ceil => self.constant(0.0),
                }
            }
        };
        memo.insert(id, r);
        Ok(r)
    }

    /// Evaluate a node for scalar inputs (tests and initialisation helpers).
    pub fn eval(&self, root: Id, inputs: &[f64]) -> f64 {
        let mut val = vec![0.0; root as usize + 1];
        for i in 0..=root as usize {
            val[i] = match self.nodes[i] {
                Node::Const(b) => f64::from_bits(b),
                Node::Input(k) => inputs[k as usize],
                Node::Apply(op, [a, b, c]) => {
                    let g = |x: Id| val.get(x as usize).copied().unwrap_or(0.0);
                    op.eval(g(a), g(b), g(c))
                }
            };
        }
        val[root as usize]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cse_folding_and_derivative() {
        let mut d = Dag::default();
        let v = d.input(0);
        let g = d.input(1);
        let c = d.constant(-90.0);
        let dv = d.bin(Op::Sub, v, c);
        let dv2 = d.bin(Op::Sub, v, c);
        assert_eq!(dv, dv2, "hash-consing");
        let i = d.bin(Op::Mul, g, dv);
        let di = d.derivative(i, 0).unwrap();
        assert_eq!(di, g, "d(g·(v−e))/dv folds to g");
        let e = d.apply(Op::Exp, &[v]);
        let de = d.derivative(e, 0).unwrap();
        assert!((d.eval(de, &[0.5, 0.0]) - 0.5f64.exp()).abs() < 1e-15);
        let three = d.constant(3.0);
        let p = d.bin(Op::Pow, v, three);
        assert!((d.eval(p, &[1.1, 0.0]) - 1.1f64.powi(3)).abs() < 1e-15);
        let dp = d.derivative(p, 0).unwrap();
        assert!((d.eval(dp, &[1.1, 0.0]) - 3.0 * 1.21).abs() < 1e-14);
        let x = d.input(2);
        let s = d.substitute(i, 1, x);
        assert_eq!(d.eval(s, &[-80.0, 0.0, 2.0]), 20.0);
    }
}
