//! The abstract syntax tree: owned, spanned, and free of semantics.
//!
//! Every node carries the byte [`Span`] it was parsed from so that diagnostics can point at it.
//! The pretty-printer (`pretty.rs`) turns an AST back into canonical source text.

use crate::source::Span;
use serde::Serialize;

/// A name with its span.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Ident {
    pub name: String,
    pub span: Span,
}

/// A parsed file.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct File {
    pub items: Vec<Item>,
    /// Comments with their spans, kept for the formatter.
    pub comments: Vec<(Span, String)>,
    pub span: Span,
}

/// A top-level item.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub enum Item {
    Import(Import),
    Let(Let),
    Decl(Decl),
}

impl Item {
    /// Span of the whole item.
    pub fn span(&self) -> Span {
        match self {
            Item::Import(i) => i.span,
            Item::Let(l) => l.span,
            Item::Decl(d) => d.span,
        }
    }
}

/// `import std.channels.hay2011.*`, `import std.synapses.{glutamate, gaba}`, `import "x.isf"`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Import {
    pub target: ImportTarget,
    pub alias: Option<Ident>,
    pub span: Span,
}

/// What an import names.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub enum ImportTarget {
    /// A dotted module path, e.g. `std.channels.hay2011`, with what to take from it.
    Module {
        path: Vec<Ident>,
        names: ImportNames,
    },
    /// A file path relative to the importing file.
    File { path: String, span: Span },
}

/// Which names an import brings into scope.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub enum ImportNames {
    /// `import a.b` — the module itself, used as `b.Name` (or through its alias).
    Module,
    /// `import a.b.*`
    Glob(Span),
    /// `import a.b.{X, Y}`
    List(Vec<Ident>),
}

/// `let name (: unit)? = value`
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Let {
    pub name: Ident,
    pub ty: Option<UnitAnn>,
    pub value: Expr,
    pub span: Span,
}

/// The kind of a declaration.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
pub enum DeclKind {
    Neuron,
    Network,
    Experiment,
    Mechanism,
}

impl DeclKind {
    /// The keyword.
    pub fn as_str(self) -> &'static str {
        match self {
            DeclKind::Neuron => "neuron",
            DeclKind::Network => "network",
            DeclKind::Experiment => "experiment",
            DeclKind::Mechanism => "mechanism",
        }
    }
}

/// `neuron L5PT { … }`, `mechanism NaTa_t : density { … }`, `neuron X = isf_param("…")`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Decl {
    pub kind: DeclKind,
    pub kind_span: Span,
    pub name: Ident,
    /// The sort after a colon (`density`, `point`, `pool`) for mechanisms.
    pub sort: Option<Ident>,
    pub body: DeclBody,
    pub span: Span,
}

/// A declaration's body.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub enum DeclBody {
    Block(Block),
    Expr(Expr),
}

/// `{ entries }`
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Block {
    pub entries: Vec<Entry>,
    pub span: Span,
}

/// One entry of a block.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub enum Entry {
    Let(Let),
    Field(Field),
    Block(SubBlock),
    Stmt(Stmt),
    Sweep(SweepAxis),
    Expr(Expr),
}

impl Entry {
    /// Span of the entry.
    pub fn span(&self) -> Span {
        match self {
            Entry::Let(l) => l.span,
            Entry::Field(f) => f.span,
            Entry::Block(b) => b.span,
            Entry::Stmt(s) => s.span,
            Entry::Sweep(s) => s.span,
            Entry::Expr(e) => e.span,
        }
    }
}

/// `name: value`
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Field {
    pub name: Ident,
    pub value: Expr,
    pub span: Span,
}

/// `head name? { … }`
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SubBlock {
    pub head: Ident,
    pub name: Option<Ident>,
    pub body: Block,
    pub span: Span,
}

/// `parameter gbar: S/cm2 = 1e-5 S/cm2`, `state m, h`, `current ina = …`
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Stmt {
    pub keyword: Ident,
    pub bindings: Vec<Binding>,
    pub span: Span,
}

/// One name in a statement, with optional unit annotation and value.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Binding {
    pub name: Ident,
    pub ty: Option<UnitAnn>,
    pub value: Option<Expr>,
    pub span: Span,
}

/// `a.*.b in values`
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SweepAxis {
    pub path: Vec<PathSeg>,
    pub values: Expr,
    pub span: Span,
}

/// One segment of a sweep path.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub enum PathSeg {
    Name(Ident),
    Wildcard(Span),
}

/// A unit annotation: a unit or `1` for dimensionless.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub enum UnitAnn {
    Unit(UnitExpr),
    Dimensionless(Span),
}

/// A unit as written: `S/cm2`, `ohm*cm`, `m^-2`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct UnitExpr {
    pub factors: Vec<UnitFactor>,
    pub span: Span,
}

/// One factor of a unit: name, power (negative after `/`).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct UnitFactor {
    pub name: String,
    /// Power as written after `^` (1 when absent), before applying a `/`.
    pub power: i32,
    /// True when the factor follows a `/`.
    pub divide: bool,
    pub span: Span,
}

/// An expression.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Expr {
    pub kind: ExprKind,
    pub span: Span,
}

/// Unary operators.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum UnOp {
    Neg,
    Not,
}

/// Binary operators.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum BinOp {
    Or,
    And,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    Add,
    Sub,
    Mul,
    Div,
    Pow,
}

impl BinOp {
    /// Source spelling.
    pub fn as_str(self) -> &'static str {
        use BinOp::*;
        match self {
            Or => "or",
            And => "and",
            Eq => "==",
            Ne => "!=",
            Lt => "<",
            Le => "<=",
            Gt => ">",
            Ge => ">=",
            Add => "+",
            Sub => "-",
            Mul => "*",
            Div => "/",
            Pow => "^",
        }
    }

    /// Binding power (higher binds tighter).
    pub fn precedence(self) -> u8 {
        use BinOp::*;
        match self {
            Or => 1,
            And => 2,
            Eq | Ne | Lt | Le | Gt | Ge => 3,
            Add | Sub => 4,
            Mul | Div => 5,
            Pow => 7,
        }
    }

    /// True for right-associative operators.
    pub fn right_assoc(self) -> bool {
        self == BinOp::Pow
    }
}

/// A call argument, optionally named.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Arg {
    pub name: Option<Ident>,
    pub value: Expr,
}

/// Expression forms.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub enum ExprKind {
    /// A number, with its source text (kept for exact printing).
    Number {
        value: f64,
        text: String,
    },
    /// A number with a unit.
    Quantity {
        value: f64,
        text: String,
        unit: UnitExpr,
    },
    Str(String),
    Bool(bool),
    Name(String),
    Unary(UnOp, Box<Expr>),
    Binary(BinOp, Box<Expr>, Box<Expr>),
    If(Box<Expr>, Box<Expr>, Box<Expr>),
    Call(Box<Expr>, Vec<Arg>),
    Member(Box<Expr>, Ident),
    Index(Box<Expr>, Box<Expr>),
    List(Vec<Expr>),
    Tuple(Vec<Expr>),
    Paren(Box<Expr>),
    Record(Vec<(Ident, Expr)>),
    Range {
        start: Box<Expr>,
        end: Box<Expr>,
        step: Option<Box<Expr>>,
    },
}
