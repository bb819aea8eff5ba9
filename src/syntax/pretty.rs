//! The canonical pretty-printer: turns an [`ast::File`](super::ast::File) back into source text.
//!
//! Layout rules: 4-space indentation; one entry per line in blocks, except that a block whose
//! entries are all short fields is printed on one line when it fits in 100 columns; blank lines
//! between items and entries are kept, at most one; numbers keep their original text and units
//! are printed as written; parentheses are the user's (`Paren` nodes) plus only those needed to
//! preserve the tree; strings are re-escaped. Comments are kept: a comment on the same line as
//! the end of an item or entry stays at the end of that line, a comment on its own line goes
//! before the next item or entry, and a comment inside an expression is moved to its own line
//! before the item or entry that contains it.
//!
//! Expressions are printed on one line, except that an `if … then … else …` that makes its
//! line wider than 100 columns gets `then` and `else` on lines of their own.
//! Entries are separated by new lines; a comma is added only where the next entry would
//! otherwise be read as a continuation of the previous one (`x` then `(1)` would be a call).
//! The output is stable: formatting it again gives the same text.

use super::ast::*;
use super::lexer::{self, KEYWORDS, Token};

const INDENT: &str = "    ";
/// Maximum width of a one-line block.
const WIDTH: usize = 100;
/// Maximum width of a field that may share a line with others (a lone field may be longer).
const SHORT_FIELD: usize = 40;

/// Format a parsed file. `source` is the text the file was parsed from; it is used to place
/// comments and blank lines (an AST built by hand can be printed with `source = ""`).
pub fn format_file(file: &File, source: &str) -> String {
    let mut comments: Vec<Comment> = file
        .comments
        .iter()
        .map(|(span, text)| Comment {
            start: span.start as usize,
            end: span.end as usize,
            text: if text.starts_with("//") {
                text.trim_end().to_string()
            } else {
                text.clone()
            },
        })
        .collect();
    comments.sort_by_key(|c| (c.start, c.end));
    let used = vec![false; comments.len()];
    let mut p = Printer {
        src: source,
        comments,
        used,
    };
    let nodes: Vec<Node> = file.items.iter().map(Node::Item).collect();
    let (_, mut out) = p.seq(
        &nodes,
        0,
        source.len().max(file.span.end as usize),
        0,
        false,
    );
    // Anything not placed (only possible when spans and source disagree) goes at the end.
    let rest: Vec<String> = (0..p.comments.len())
        .filter(|&i| !p.used[i])
        .map(|i| p.comments[i].text.clone())
        .collect();
    for c in rest {
        out.push_str(&c);
        out.push('\n');
    }
    align_trailing_comments(&out)
}

/// Byte offset of a trailing `//` comment in a formatted line (outside strings), if any.
fn trailing_comment(line: &str) -> Option<usize> {
    let b = line.as_bytes();
    let mut in_str = false;
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'\\' if in_str => i += 1,
            b'"' => in_str = !in_str,
            b'/' if !in_str && b.get(i + 1) == Some(&b'/') => {
                // A whole-line comment is not a trailing one.
                return (!line[..i].trim().is_empty()).then_some(i);
            }
            _ => {}
        }
        i += 1;
    }
    None
}

/// Align the trailing comments of consecutive lines in one column (two spaces after the
/// longest code), as gofmt does; a group that would pass 100 columns keeps single spaces.
/// Depends only on the code widths, so formatting stays idempotent.
fn align_trailing_comments(text: &str) -> String {
    let lines: Vec<&str> = text.split('\n').collect();
    let mut out: Vec<String> = Vec::with_capacity(lines.len());
    let mut i = 0;
    while i < lines.len() {
        let mut j = i;
        while j < lines.len() && trailing_comment(lines[j]).is_some() {
            j += 1;
        }
        if j == i {
            out.push(lines[i].to_string());
            i += 1;
            continue;
        }
        let parts: Vec<(&str, &str)> = lines[i..j]
            .iter()
            .map(|l| {
                let k = trailing_comment(l).unwrap_or(l.len());
                (l[..k].trim_end(), &l[k..])
            })
            .collect();
        let col = parts
            .iter()
            .map(|(c, _)| c.chars().count())
            .max()
            .unwrap_or(0)
            + 2;
        let fits = parts.iter().all(|(_, c)| col + c.chars().count() <= 100);
        for (code, comment) in parts {
            if fits && j - i > 1 {
                let pad = col - code.chars().count();
                out.push(format!("{code}{}{comment}", " ".repeat(pad)));
            } else {
                out.push(format!("{code} {comment}"));
            }
        }
        i = j;
    }
    out.join("\n")
}

/// Format one expression on one line (REPL echo, error messages).
pub fn format_expr(e: &Expr) -> String {
    expr(e, Ctx::Top)
}

struct Comment {
    start: usize,
    end: usize,
    text: String,
}

#[derive(Clone, Copy)]
enum Node<'a> {
    Item(&'a Item),
    Entry(&'a Entry),
}

impl Node<'_> {
    fn span(self) -> crate::source::Span {
        match self {
            Node::Item(i) => i.span(),
            Node::Entry(e) => e.span(),
        }
    }
}

struct Printer<'s> {
    src: &'s str,
    comments: Vec<Comment>,
    used: Vec<bool>,
}

/// A rendered node: comments moved before it, its text (first line unindented), and whether it
/// ends with an expression / is a bare name / a one-name statement (for separator decisions).
struct Rendered {
    hoisted: Vec<usize>,
    text: String,
    ends_with_expr: bool,
    /// The last expression ends with a range without `by` (a following `by…` word would glue).
    open_range: bool,
    /// An expression entry that is a name or a dotted path (a following `in…` word would glue).
    path_like: bool,
    bare_name: bool,
    bare_stmt: bool,
    /// A statement (a comma after it would start another binding).
    is_stmt: bool,
    /// A bare name that is a contextual keyword (`parameter`, `state`, …).
    contextual: bool,
    /// A sub-block without a name (`head { … }`).
    headonly_block: bool,
}

impl Printer<'_> {
    fn text(&self, a: usize, b: usize) -> &str {
        self.src.get(a..b).unwrap_or("")
    }

    fn newlines(&self, a: usize, b: usize) -> usize {
        if a >= b {
            return 0;
        }
        self.text(a, b).matches('\n').count()
    }

    /// End of the last token of a node (pest spans may include trailing blanks and comments).
    fn tight_end(&self, start: usize, end: usize) -> usize {
        let Some(t) = self.src.get(start..end) else {
            return end;
        };
        lexer::lex(t)
            .iter()
            .rev()
            .find(|l| !matches!(l.token, Some(Token::LineComment | Token::BlockComment)))
            .map_or(start, |l| start + l.end)
    }

    /// Unused comments lying inside `a..b`, marked used.
    fn take(&mut self, a: usize, b: usize) -> Vec<usize> {
        let mut v = Vec::new();
        for i in 0..self.comments.len() {
            let c = &self.comments[i];
            if !self.used[i] && c.start >= a && c.end <= b {
                self.used[i] = true;
                v.push(i);
            }
        }
        v
    }

    fn any_comment(&self, a: usize, b: usize) -> bool {
        (0..self.comments.len())
            .any(|i| !self.used[i] && self.comments[i].start >= a && self.comments[i].end <= b)
    }

    /// Print a sequence of items (top level) or entries (inside a block) with their comments.
    /// Returns (comments on the opening line of a block, the lines).
    fn seq(
        &mut self,
        nodes: &[Node],
        region_start: usize,
        region_end: usize,
        indent: usize,
        in_block: bool,
    ) -> (Vec<usize>, String) {
        let bounds: Vec<(usize, usize)> = nodes
            .iter()
            .map(|n| {
                let s = n.span();
                let (a, b) = (s.start as usize, s.end as usize);
                (a, self.tight_end(a, b))
            })
            .collect();
        // Render first: this claims the comments inside each node.
        let rendered: Vec<Rendered> = nodes
            .iter()
            .zip(&bounds)
            .map(|(n, &(a, b))| self.node(*n, a, b, indent))
            .collect();
        let free = self.take(region_start, region_end);
        let mut opening = Vec::new();
        let mut leading: Vec<Vec<usize>> = vec![Vec::new(); nodes.len()];
        let mut trailing: Vec<Vec<usize>> = vec![Vec::new(); nodes.len()];
        let mut dangling = Vec::new();
        for ci in free {
            let c = &self.comments[ci];
            let prev = bounds.iter().rposition(|&(_, e)| e <= c.start);
            let next = bounds.iter().position(|&(s, _)| s >= c.end);
            match prev {
                Some(i) if self.newlines(bounds[i].1, c.start) == 0 => trailing[i].push(ci),
                None if in_block && self.newlines(region_start, c.start) == 0 => opening.push(ci),
                _ => match next {
                    Some(j) => leading[j].push(ci),
                    None => dangling.push(ci),
                },
            }
        }
        let pad = INDENT.repeat(indent);
        let mut out = String::new();
        let mut prev_end: Option<usize> = None;
        let blank = |p: &Printer, prev_end: Option<usize>, start: usize| {
            prev_end.is_some_and(|e| p.newlines(e, start) >= 2)
        };
        for (i, r) in rendered.iter().enumerate() {
            // `soma.v precision: 1 uV`: a recording's precision stays on its line (it belongs
            // to the entry before it, see `sema::typed::record_entries`).
            let glued = i > 0
                && matches!(nodes[i], Node::Entry(Entry::Field(f)) if f.name.name == "precision")
                && matches!(nodes[i - 1], Node::Entry(Entry::Expr(_)))
                && leading[i].is_empty()
                && trailing[i - 1].is_empty()
                && r.hoisted.is_empty()
                && out.ends_with('\n');
            if glued {
                out.pop();
                out.push(' ');
            } else {
                for &ci in &leading[i] {
                    self.comment_line(&mut out, &pad, &mut prev_end, ci);
                }
                if blank(self, prev_end, bounds[i].0) {
                    out.push('\n');
                }
                for &ci in &r.hoisted {
                    out.push_str(&pad);
                    out.push_str(&self.comments[ci].text);
                    out.push('\n');
                }
                out.push_str(&pad);
            }
            out.push_str(&r.text);
            if rendered.get(i + 1).is_some_and(|next| needs_comma(r, next)) {
                out.push(',');
            }
            prev_end = Some(bounds[i].1);
            for &ci in &trailing[i] {
                out.push(' ');
                out.push_str(&self.comments[ci].text);
                prev_end = Some(self.comments[ci].end);
            }
            out.push('\n');
        }
        for ci in dangling {
            self.comment_line(&mut out, &pad, &mut prev_end, ci);
        }
        (opening, out)
    }

    /// Comment `ci` on a line of its own at `pad`, after a blank line where the source has
    /// one since `prev_end` (which moves to the comment's end).
    fn comment_line(&self, out: &mut String, pad: &str, prev_end: &mut Option<usize>, ci: usize) {
        let c = &self.comments[ci];
        if prev_end.is_some_and(|e| self.newlines(e, c.start) >= 2) {
            out.push('\n');
        }
        out.push_str(pad);
        out.push_str(&c.text);
        out.push('\n');
        *prev_end = Some(c.end);
    }

    fn node(&mut self, n: Node, start: usize, end: usize, indent: usize) -> Rendered {
        let mut r = Rendered {
            hoisted: Vec::new(),
            text: String::new(),
            ends_with_expr: true,
            open_range: false,
            path_like: false,
            bare_name: false,
            bare_stmt: false,
            is_stmt: false,
            headonly_block: false,
            contextual: false,
        };
        match n {
            Node::Item(Item::Import(i)) => r.text = import(i),
            Node::Item(Item::Let(l)) | Node::Entry(Entry::Let(l)) => {
                r.text = let_stmt(l);
                r.text = break_if(&r.text, &l.value, indent);
                r.open_range = open_range(&l.value);
            }
            Node::Item(Item::Decl(d)) => {
                let mut head = format!("{} {}", d.kind.as_str(), d.name.name);
                if let Some(s) = &d.sort {
                    head += &format!(" : {}", s.name);
                }
                match &d.body {
                    DeclBody::Block(b) => {
                        r.hoisted = self.take(start, b.span.start as usize);
                        let col = indent * 4 + head.len() + 1;
                        r.text = format!("{head} {}", self.block(b, indent, col));
                        r.ends_with_expr = false;
                    }
                    DeclBody::Expr(e) => {
                        r.text = format!("{head} = {}", expr(e, Ctx::Top));
                        r.open_range = open_range(e);
                    }
                }
            }
            Node::Entry(Entry::Block(sb)) => {
                let mut head = sb.head.name.clone();
                if let Some(n) = &sb.name {
                    head += " ";
                    head += &n.name;
                }
                r.hoisted = self.take(start, sb.body.span.start as usize);
                r.headonly_block = sb.name.is_none();
                let col = indent * 4 + head.len() + 1;
                r.text = format!("{head} {}", self.block(&sb.body, indent, col));
                r.ends_with_expr = false;
            }
            Node::Entry(Entry::Field(f)) => {
                r.text = break_if(&field(f), &f.value, indent);
                r.open_range = open_range(&f.value);
            }
            Node::Entry(Entry::Stmt(s)) => {
                r.text = stmt(s);
                r.is_stmt = true;
                r.open_range = s
                    .bindings
                    .last()
                    .and_then(|b| b.value.as_ref())
                    .is_some_and(open_range);
                r.ends_with_expr = s.bindings.last().is_some_and(|b| b.value.is_some());
                r.bare_stmt =
                    s.bindings.len() == 1 && s.bindings[0].ty.is_none() && !r.ends_with_expr;
            }
            Node::Entry(Entry::Sweep(s)) => {
                let path: Vec<&str> = s
                    .path
                    .iter()
                    .map(|p| match p {
                        PathSeg::Name(n) => n.name.as_str(),
                        PathSeg::Wildcard(_) => "*",
                    })
                    .collect();
                r.text = format!("{} in {}", path.join("."), expr(&s.values, Ctx::Top));
                r.open_range = open_range(&s.values);
            }
            Node::Entry(Entry::Expr(e)) => {
                r.text = break_if(&expr(e, Ctx::Top), e, indent);
                r.open_range = open_range(e);
                r.path_like = path_like(e);
                if let ExprKind::Name(n) = &e.kind {
                    r.bare_name = true;
                    r.contextual = lexer::CONTEXTUAL.contains(&n.as_str());
                }
            }
        }
        // Comments inside the node but outside its block go before it.
        let mut rest = self.take(start, end);
        r.hoisted.append(&mut rest);
        r.hoisted.sort_by_key(|&c| self.comments[c].start);
        r
    }

    /// Print a block; `col` is the column where its `{` is printed.
    fn block(&mut self, b: &Block, indent: usize, col: usize) -> String {
        let (s, e) = (b.span.start as usize, b.span.end as usize);
        let has_comments = self.any_comment(s, e);
        if b.entries.is_empty() && !has_comments {
            return "{}".into();
        }
        if !has_comments {
            let fields: Option<Vec<String>> = b
                .entries
                .iter()
                .map(|en| match en {
                    Entry::Field(f) => Some(field(f))
                        .filter(|t| b.entries.len() == 1 || t.chars().count() <= SHORT_FIELD),
                    _ => None,
                })
                .collect();
            if let Some(fields) = fields {
                let line = format!("{{ {} }}", fields.join(", "));
                if col + line.chars().count() <= WIDTH {
                    return line;
                }
            }
        }
        let nodes: Vec<Node> = b.entries.iter().map(Node::Entry).collect();
        let inner_end = if e > s { e - 1 } else { e };
        let (opening, body) = self.seq(&nodes, s + 1, inner_end, indent + 1, true);
        let mut out = String::from("{");
        for c in opening {
            out.push(' ');
            out.push_str(&self.comments[c].text);
        }
        out.push('\n');
        out.push_str(&body);
        out.push_str(&INDENT.repeat(indent));
        out.push('}');
        out
    }
}

/// Would `next` (rendered) glue onto the previous entry if only a new line separated them?
fn needs_comma(prev: &Rendered, next_r: &Rendered) -> bool {
    let next = next_r.text.as_str();
    let c = next.chars().next().unwrap_or(' ');
    if prev.ends_with_expr && matches!(c, '(' | '[' | '-') {
        return true;
    }
    let word: String = next
        .chars()
        .take_while(|&ch| ch.is_ascii_alphanumeric() || matches!(ch, '_' | 'µ' | 'μ' | 'Ω'))
        .collect();
    let starts_ident = !word.is_empty()
        && !word.starts_with(|d: char| d.is_ascii_digit())
        && !KEYWORDS.contains(&word.as_str());
    // The grammar matches the operator words `and`, `or`, `by` and `in` without a word
    // boundary, so `x` then `order: 1` would read as `x or der`, `1 .. 2` then `bypass: 1` as
    // a step, and `m` then `inf: 1` as a sweep. (After a statement a comma would start another
    // binding; a parsed file never has such a statement before such a word.)
    let glue_word = (prev.ends_with_expr && (word.starts_with("and") || word.starts_with("or")))
        || (prev.open_range && word.starts_with("by"))
        || (prev.path_like && word.starts_with("in"));
    if glue_word && !prev.is_stmt {
        return true;
    }
    // `foo` then `bar { … }` reads as the sub-block `foo bar { … }`; `parameter` then `x`
    // as a statement; `foo` or `state m` then `{ … }` as a sub-block.
    let glue_name = starts_ident && (next_r.headonly_block || prev.contextual);
    (prev.bare_name && (c == '{' || glue_name)) || (prev.bare_stmt && c == '{')
}

fn import(i: &Import) -> String {
    let mut s = String::from("import ");
    match &i.target {
        ImportTarget::File { path, .. } => s += &string_lit(path),
        ImportTarget::Module { path, names } => {
            let p: Vec<&str> = path.iter().map(|i| i.name.as_str()).collect();
            s += &p.join(".");
            match names {
                ImportNames::Module => {}
                ImportNames::Glob(_) => s += ".*",
                ImportNames::List(l) => {
                    let l: Vec<&str> = l.iter().map(|i| i.name.as_str()).collect();
                    s += &format!(".{{{}}}", l.join(", "));
                }
            }
        }
    }
    if let Some(a) = &i.alias {
        s += " as ";
        s += &a.name;
    }
    s
}

/// True when `e` ends with a range that has no `by` step (at the top or in an `else` tail).
fn open_range(e: &Expr) -> bool {
    match &e.kind {
        ExprKind::Range { step: None, .. } => true,
        ExprKind::Range { step: Some(s), .. } => absorbs_by(s),
        _ => absorbs_by(e),
    }
}

/// A name or a dotted chain of names (`a`, `a.b.c`), which reads as a sweep path before `in`.
fn path_like(e: &Expr) -> bool {
    match &e.kind {
        ExprKind::Name(_) => true,
        ExprKind::Member(b, _) => path_like(b),
        _ => false,
    }
}

/// When the line `flat` (ending with the expression `value`) is too wide and `value` is an
/// `if`, put `then` and `else` on lines of their own, indented one step.
fn break_if(flat: &str, value: &Expr, indent: usize) -> String {
    let ExprKind::If(c, a, b) = &value.kind else {
        return flat.to_string();
    };
    if indent * 4 + flat.chars().count() <= WIDTH {
        return flat.to_string();
    }
    let one = expr_inner(value);
    let Some(prefix) = flat.strip_suffix(one.as_str()) else {
        return flat.to_string();
    };
    let pad = INDENT.repeat(indent + 1);
    format!(
        "{prefix}if {}\n{pad}then {}\n{pad}else {}",
        expr(c, Ctx::Top),
        expr(a, Ctx::Top),
        expr(b, Ctx::Top)
    )
}

fn let_stmt(l: &Let) -> String {
    let ty =
        l.ty.as_ref()
            .map(|t| format!(": {}", unit_ann(t)))
            .unwrap_or_default();
    format!("let {}{ty} = {}", l.name.name, expr(&l.value, Ctx::Top))
}

fn field(f: &Field) -> String {
    format!("{}: {}", f.name.name, expr(&f.value, Ctx::Top))
}

fn stmt(s: &Stmt) -> String {
    let b: Vec<String> = s
        .bindings
        .iter()
        .map(|b| {
            let mut t = b.name.name.clone();
            if let Some(ty) = &b.ty {
                t += ": ";
                t += &unit_ann(ty);
            }
            if let Some(v) = &b.value {
                t += " = ";
                t += &expr(v, Ctx::Top);
            }
            t
        })
        .collect();
    format!("{} {}", s.keyword.name, b.join(", "))
}

fn unit_ann(u: &UnitAnn) -> String {
    match u {
        UnitAnn::Unit(u) => unit(u),
        UnitAnn::Dimensionless(_) => "1".into(),
    }
}

/// A unit as written: factors joined by `*` or `/`, powers as `^n`.
fn unit(u: &UnitExpr) -> String {
    let mut s = String::new();
    for (i, f) in u.factors.iter().enumerate() {
        if i > 0 {
            s.push(if f.divide { '/' } else { '*' });
        }
        s += &f.name;
        if f.power != 1 {
            s += &format!("^{}", f.power);
        }
    }
    s
}

/// A string literal with escapes.
fn string_lit(v: &str) -> String {
    let mut s = String::with_capacity(v.len() + 2);
    s.push('"');
    for c in v.chars() {
        match c {
            '"' => s += "\\\"",
            '\\' => s += "\\\\",
            '\n' => s += "\\n",
            '\t' => s += "\\t",
            '\r' => s += "\\r",
            '\0' => s += "\\0",
            c if c.is_control() => s += &format!("\\u{{{:X}}}", c as u32),
            c => s.push(c),
        }
    }
    s.push('"');
    s
}

/// Where an expression is printed, for deciding parentheses.
#[derive(Clone, Copy, PartialEq)]
enum Ctx {
    /// Delimited on both sides (top of an entry, inside brackets, between keywords).
    Top,
    RangeStart,
    RangeEnd {
        has_step: bool,
    },
    RangeStep,
    BinLhs(BinOp),
    BinRhs(BinOp),
    PowLhs,
    PowRhs,
    Unary,
    PostfixBase,
}

/// True when the printed form ends with an unparenthesised `if … else e` that would swallow a
/// following operator or postfix.
fn ends_open(e: &Expr) -> bool {
    match &e.kind {
        ExprKind::If(..) => true,
        ExprKind::Binary(_, _, r) => ends_open(r),
        ExprKind::Unary(_, x) => ends_open(x),
        _ => false,
    }
}

/// True when a following `by` would be taken by a range nested at the end of `e`.
fn absorbs_by(e: &Expr) -> bool {
    match &e.kind {
        ExprKind::If(_, _, el) => match &el.kind {
            ExprKind::Range { step: None, .. } => true,
            ExprKind::Range { step: Some(s), .. } => absorbs_by(s),
            _ => absorbs_by(el),
        },
        ExprKind::Binary(_, _, r) => absorbs_by(r),
        ExprKind::Unary(_, x) => absorbs_by(x),
        _ => false,
    }
}

fn needs_parens(e: &Expr, ctx: Ctx) -> bool {
    use ExprKind as K;
    let followed = matches!(
        ctx,
        Ctx::RangeStart | Ctx::BinLhs(_) | Ctx::PowLhs | Ctx::PostfixBase
    );
    if followed && ends_open(e) {
        return true;
    }
    if ctx == (Ctx::RangeEnd { has_step: true }) && absorbs_by(e) {
        return true;
    }
    match (&e.kind, ctx) {
        (_, Ctx::Top) => false,
        (K::Range { .. }, _) => true,
        (K::Binary(op, ..), Ctx::BinLhs(parent)) => {
            *op != BinOp::Pow && op.precedence() < parent.precedence()
        }
        (K::Binary(op, ..), Ctx::BinRhs(parent)) => {
            *op != BinOp::Pow && op.precedence() <= parent.precedence()
        }
        (K::Binary(op, ..), Ctx::PowRhs | Ctx::Unary) => *op != BinOp::Pow,
        (K::Binary(..) | K::Unary(..) | K::If(..), Ctx::PowLhs | Ctx::PostfixBase) => true,
        _ => false,
    }
}

fn expr(e: &Expr, ctx: Ctx) -> String {
    if needs_parens(e, ctx) {
        format!("({})", expr_inner(e))
    } else {
        expr_inner(e)
    }
}

fn list(items: &[Expr]) -> String {
    items
        .iter()
        .map(|x| expr(x, Ctx::Top))
        .collect::<Vec<_>>()
        .join(", ")
}

fn expr_inner(e: &Expr) -> String {
    use ExprKind as K;
    match &e.kind {
        K::Number { text, .. } => text.clone(),
        K::Quantity { text, unit: u, .. } => format!("{text} {}", unit(u)),
        K::Str(s) => string_lit(s),
        K::Bool(b) => b.to_string(),
        K::Name(n) => n.clone(),
        K::Unary(UnOp::Neg, x) => {
            let inner = expr(x, Ctx::Unary);
            if inner.starts_with('-') {
                format!("- {inner}")
            } else {
                format!("-{inner}")
            }
        }
        K::Unary(UnOp::Not, x) => format!("not {}", expr(x, Ctx::Unary)),
        K::Binary(BinOp::Pow, l, r) => {
            let lhs = expr(l, Ctx::PowLhs);
            let rhs = expr(r, Ctx::PowRhs);
            // `3 mV^2` would read the power as part of the unit.
            if matches!(l.kind, K::Quantity { .. }) {
                format!("{lhs} ^ {rhs}")
            } else {
                format!("{lhs}^{rhs}")
            }
        }
        K::Binary(op, l, r) => format!(
            "{} {} {}",
            expr(l, Ctx::BinLhs(*op)),
            op.as_str(),
            expr(r, Ctx::BinRhs(*op))
        ),
        K::If(c, a, b) => format!(
            "if {} then {} else {}",
            expr(c, Ctx::Top),
            expr(a, Ctx::Top),
            expr(b, Ctx::Top)
        ),
        K::Call(f, args) => {
            let args: Vec<String> = args
                .iter()
                .map(|a| match &a.name {
                    Some(n) => format!("{}: {}", n.name, expr(&a.value, Ctx::Top)),
                    None => expr(&a.value, Ctx::Top),
                })
                .collect();
            format!("{}({})", expr(f, Ctx::PostfixBase), args.join(", "))
        }
        K::Member(b, m) => {
            let base = expr(b, Ctx::PostfixBase);
            // `1.5.x` would lex as a malformed number.
            if matches!(&b.kind, K::Number { text, .. } if text.contains('.')) {
                format!("{base} .{}", m.name)
            } else {
                format!("{base}.{}", m.name)
            }
        }
        K::Index(b, i) => format!("{}[{}]", expr(b, Ctx::PostfixBase), expr(i, Ctx::Top)),
        K::List(items) => format!("[{}]", list(items)),
        K::Tuple(items) if items.len() == 1 => format!("({},)", expr(&items[0], Ctx::Top)),
        K::Tuple(items) => format!("({})", list(items)),
        K::Paren(x) => format!("({})", expr(x, Ctx::Top)),
        K::Record(fields) if fields.is_empty() => "{}".into(),
        K::Record(fields) => {
            let f: Vec<String> = fields
                .iter()
                .map(|(k, v)| format!("{}: {}", k.name, expr(v, Ctx::Top)))
                .collect();
            format!("{{ {} }}", f.join(", "))
        }
        K::Range { start, end, step } => {
            let mut s = format!(
                "{} .. {}",
                expr(start, Ctx::RangeStart),
                expr(
                    end,
                    Ctx::RangeEnd {
                        has_step: step.is_some()
                    }
                )
            );
            if let Some(st) = step {
                s += " by ";
                s += &expr(st, Ctx::RangeStep);
            }
            s
        }
    }
}
