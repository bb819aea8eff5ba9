//! The nesting guard: one iterative pass over a freshly parsed AST that refuses nesting deeper
//! than [`MAX_DEPTH`] with E0107.
//!
//! Everything after the parser (checker, evaluator, folding, the kernel DAG builder, the
//! pretty-printer) walks expressions and blocks recursively, so the depth of the tree bounds
//! their stack use. Checking the depth once here, without recursion, lets those walks stay
//! simple while no input can overflow the stack: a hostile or generated file gets a located
//! error instead of an abort. Every level counts, including each operator of a long `a + b + …`
//! chain (the tree of a left-associated sum is as deep as it is long).

use super::ast::*;
use crate::diagnostics::{Code, Diagnostic};
use crate::source::Span;

/// Deepest nesting accepted: far more than hand-written scripts use, and far less than what
/// the recursive walks can take on a 2 MB thread in a debug build.
pub const MAX_DEPTH: usize = 256;

enum Node<'a> {
    Expr(&'a Expr),
    Block(&'a Block),
}

/// The first place where nesting passes [`MAX_DEPTH`] in these items, as an E0107.
pub fn check_items(items: &[Item]) -> Option<Diagnostic> {
    let mut stack: Vec<(Node, usize)> = Vec::new();
    for item in items {
        match item {
            Item::Import(_) => {}
            Item::Let(l) => stack.push((Node::Expr(&l.value), 1)),
            Item::Decl(d) => match &d.body {
                DeclBody::Block(b) => stack.push((Node::Block(b), 1)),
                DeclBody::Expr(e) => stack.push((Node::Expr(e), 1)),
            },
        }
    }
    walk(stack)
}

/// The first place where nesting passes [`MAX_DEPTH`] in one expression, as an E0107.
pub fn check_expr(e: &Expr) -> Option<Diagnostic> {
    walk(vec![(Node::Expr(e), 1)])
}

fn walk(mut stack: Vec<(Node, usize)>) -> Option<Diagnostic> {
    while let Some((node, depth)) = stack.pop() {
        let span = match node {
            Node::Expr(e) => e.span,
            Node::Block(b) => b.span,
        };
        if depth > MAX_DEPTH {
            return Some(too_deep(span));
        }
        let d = depth + 1;
        match node {
            Node::Block(b) => {
                for entry in &b.entries {
                    match entry {
                        Entry::Let(l) => stack.push((Node::Expr(&l.value), d)),
                        Entry::Field(f) => stack.push((Node::Expr(&f.value), d)),
                        Entry::Block(sb) => stack.push((Node::Block(&sb.body), d)),
                        Entry::Stmt(s) => {
                            for v in s.bindings.iter().filter_map(|b| b.value.as_ref()) {
                                stack.push((Node::Expr(v), d));
                            }
                        }
                        Entry::Sweep(s) => stack.push((Node::Expr(&s.values), d)),
                        Entry::Expr(e) => stack.push((Node::Expr(e), d)),
                    }
                }
            }
            Node::Expr(e) => match &e.kind {
                ExprKind::Number { .. }
                | ExprKind::Quantity { .. }
                | ExprKind::Str(_)
                | ExprKind::Bool(_)
                | ExprKind::Name(_) => {}
                ExprKind::Unary(_, x) | ExprKind::Paren(x) | ExprKind::Member(x, _) => {
                    stack.push((Node::Expr(x), d))
                }
                ExprKind::Binary(_, a, b) | ExprKind::Index(a, b) => {
                    stack.push((Node::Expr(a), d));
                    stack.push((Node::Expr(b), d));
                }
                ExprKind::If(c, a, b) => {
                    stack.push((Node::Expr(c), d));
                    stack.push((Node::Expr(a), d));
                    stack.push((Node::Expr(b), d));
                }
                ExprKind::Call(f, args) => {
                    stack.push((Node::Expr(f), d));
                    for a in args {
                        stack.push((Node::Expr(&a.value), d));
                    }
                }
                ExprKind::List(xs) | ExprKind::Tuple(xs) => {
                    stack.extend(xs.iter().map(|x| (Node::Expr(x), d)))
                }
                ExprKind::Record(fs) => stack.extend(fs.iter().map(|(_, x)| (Node::Expr(x), d))),
                ExprKind::Range { start, end, step } => {
                    stack.push((Node::Expr(start), d));
                    stack.push((Node::Expr(end), d));
                    if let Some(s) = step {
                        stack.push((Node::Expr(s), d));
                    }
                }
            },
        }
    }
    None
}

/// The E0107 diagnostic, pointing at the start of the node that passes the limit.
pub fn too_deep(span: Span) -> Diagnostic {
    // Point at the start of the too-deep node only: its span can cover most of the file.
    let at = Span {
        end: span.start.saturating_add(1).min(span.end.max(span.start)),
        ..span
    };
    Diagnostic::new(Code::E0107, "expression nested too deeply")
        .label(at, format!("nesting passes {MAX_DEPTH} levels here"))
        .note(format!(
            "isf accepts {MAX_DEPTH} levels of nesting; each operator of a long `a + b + …` \
                chain, \
             each bracket, sign and block counts as one"
        ))
        .help("split the expression into several `let` bindings, e.g. partial sums")
}

/// Drop a parsed tree that may be arbitrarily deep. The derived drop glue recurses once per
/// level, so a rejected tree is dropped on a stack sized from the text it was parsed from
/// (at least one byte of text per level).
pub fn drop_deep<T: Send>(tree: T, text_len: usize) {
    let size = text_len.saturating_mul(256).max(1 << 20);
    stacker::grow(size, move || drop(tree));
}
