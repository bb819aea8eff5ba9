//! The pest parser: the only module that knows pest. Turns text into an
//! [`crate::syntax::ast::File`] and pest's errors into diagnostics (E0101 syntax, E0102
//! unexpected end, E0103 NMODL/hoc idiom).
//!
//! Recovery: when a file does not parse, it is split at top-level item starts (a line beginning
//! with `import`, `let`, `neuron`, `network`, `experiment` or `mechanism`) and each chunk is
//! parsed on its own, so one mistake gives one error and the other items still reach the checker.

use super::ast::*;
use super::depth;
use super::lexer::{self, Token};
use crate::diagnostics::{Code, Diagnostic};
use crate::source::{FileId, Span};
use pest::Parser;
use pest::iterators::Pair;

#[derive(pest_derive::Parser)]
#[grammar = "../grammar/isf.pest"]
struct IsfParser;

pub use self::Rule as PestRule;

/// Result of parsing: the AST (possibly partial) and diagnostics.
pub struct Parsed {
    pub file: File,
    pub diagnostics: Vec<Diagnostic>,
    /// True when the only error is that the input ended too early (REPL continuation).
    pub incomplete: bool,
}

/// Parse a whole file. Lexical errors are reported first; if there are any, the parser is not
/// run (its errors would only repeat them).
pub fn parse_file(file: FileId, text: &str) -> Parsed {
    let comments = collect_comments(file, text);
    let whole = Span::new(file, 0, text.len());
    let lex_errors = lexer::lexical_errors(file, text);
    if !lex_errors.is_empty() {
        let incomplete = lex_errors.iter().all(|d| d.code == Code::E0005);
        return Parsed {
            file: File {
                items: vec![],
                comments,
                span: whole,
            },
            diagnostics: lex_errors,
            incomplete,
        };
    }
    let cx = Cx { file, offset: 0 };
    match IsfParser::parse(Rule::file, text) {
        Ok(mut pairs) => {
            let mut diagnostics = vec![];
            let items = guard_items(
                cx.items(pairs.next().expect("file rule")),
                text,
                &mut diagnostics,
            );
            Parsed {
                file: File {
                    items,
                    comments,
                    span: whole,
                },
                diagnostics,
                incomplete: false,
            }
        }
        Err(e) => {
            let first = error_to_diag(file, text, 0, &e);
            let incomplete = first.code == Code::E0102;
            let mut items = Vec::new();
            let mut diagnostics = Vec::new();
            let starts = item_starts(text);
            if starts.len() <= 1 {
                diagnostics.push(first);
            } else {
                for (i, &s) in starts.iter().enumerate() {
                    let end = starts.get(i + 1).copied().unwrap_or(text.len());
                    let chunk = &text[s..end];
                    let cx = Cx { file, offset: s };
                    match IsfParser::parse(Rule::file, chunk) {
                        Ok(mut pairs) => items.extend(cx.items(pairs.next().expect("file rule"))),
                        Err(e) => diagnostics.push(error_to_diag(file, chunk, s, &e)),
                    }
                }
                // Text before the first item start belongs to no chunk: parse it too.
                if starts[0] > 0 {
                    let head = &text[..starts[0]];
                    if let Err(e) = IsfParser::parse(Rule::file, head) {
                        diagnostics.insert(0, error_to_diag(file, head, 0, &e));
                    }
                }
                if diagnostics.is_empty() {
                    diagnostics.push(first);
                }
            }
            let items = guard_items(items, text, &mut diagnostics);
            Parsed {
                file: File {
                    items,
                    comments,
                    span: whole,
                },
                diagnostics,
                incomplete: incomplete && text.trim_end().len() == text.trim_end().len(),
            }
        }
    }
}

/// Parse a single expression (REPL, tests).
pub fn parse_expr(file: FileId, text: &str) -> Result<Expr, Vec<Diagnostic>> {
    let lex_errors = lexer::lexical_errors(file, text);
    if !lex_errors.is_empty() {
        return Err(lex_errors);
    }
    let cx = Cx { file, offset: 0 };
    match IsfParser::parse(Rule::expr_only, text) {
        Ok(mut pairs) => {
            let p = pairs.next().expect("expr_only");
            let e = cx.expr(p.into_inner().find(not_kw).expect("expr"));
            match depth::check_expr(&e) {
                None => Ok(e),
                Some(d) => {
                    depth::drop_deep(e, text.len());
                    Err(vec![d])
                }
            }
        }
        Err(e) => Err(vec![error_to_diag(file, text, 0, &e)]),
    }
}

/// What one REPL input is.
pub enum ReplInput {
    Item(Item),
    Expr(Expr),
}

/// Parse one REPL input: an item or an expression. `Err((diags, incomplete))`.
pub fn parse_repl(file: FileId, text: &str) -> Result<ReplInput, (Vec<Diagnostic>, bool)> {
    let lex_errors = lexer::lexical_errors(file, text);
    if !lex_errors.is_empty() {
        let inc = lex_errors.iter().all(|d| d.code == Code::E0005);
        return Err((lex_errors, inc));
    }
    let cx = Cx { file, offset: 0 };
    match IsfParser::parse(Rule::repl_input, text) {
        Ok(mut pairs) => {
            let p = pairs.next().expect("repl_input");
            let inner = p
                .into_inner()
                .filter(not_kw)
                .find(|p| p.as_rule() != Rule::EOI)
                .expect("content");
            let input = match inner.as_rule() {
                Rule::expr => ReplInput::Expr(cx.expr(inner)),
                _ => ReplInput::Item(cx.item(inner)),
            };
            let too_deep = match &input {
                ReplInput::Expr(e) => depth::check_expr(e),
                ReplInput::Item(i) => depth::check_items(std::slice::from_ref(i)),
            };
            match too_deep {
                None => Ok(input),
                Some(d) => {
                    depth::drop_deep(input, text.len());
                    Err((vec![d], false))
                }
            }
        }
        Err(e) => {
            let d = error_to_diag(file, text, 0, &e);
            let inc = d.code == Code::E0102;
            Err((vec![d], inc))
        }
    }
}

/// Keep the items whose nesting the later recursive walks can take; report the others (E0107)
/// and drop them without recursing past the stack.
fn guard_items(items: Vec<Item>, text: &str, diagnostics: &mut Vec<Diagnostic>) -> Vec<Item> {
    let mut kept = Vec::with_capacity(items.len());
    for item in items {
        match depth::check_items(std::slice::from_ref(&item)) {
            None => kept.push(item),
            Some(d) => {
                diagnostics.push(d);
                depth::drop_deep(item, text.len());
            }
        }
    }
    kept
}

/// Byte offsets where top-level items start: a line whose first token is an item keyword.
fn item_starts(text: &str) -> Vec<usize> {
    let mut starts = Vec::new();
    for lx in lexer::lex(text) {
        let is_item_kw = matches!(
            lx.token,
            Some(
                Token::KwImport
                    | Token::KwLet
                    | Token::KwNeuron
                    | Token::KwNetwork
                    | Token::KwExperiment
                    | Token::KwMechanism
            )
        );
        if !is_item_kw {
            continue;
        }
        let line_start = text[..lx.start].rfind('\n').map_or(0, |i| i + 1);
        let before = &text[line_start..lx.start];
        // `let` inside blocks is indented; top-level items start at column 0.
        if before.is_empty() {
            starts.push(lx.start);
        }
    }
    starts
}

fn collect_comments(file: FileId, text: &str) -> Vec<(Span, String)> {
    lexer::lex(text)
        .into_iter()
        .filter(|l| matches!(l.token, Some(Token::LineComment | Token::BlockComment)))
        .map(|l| {
            (
                Span::new(file, l.start, l.end),
                text[l.start..l.end].to_string(),
            )
        })
        .collect()
}

/// Words from NMODL and hoc that users coming from NEURON will type, with the isf form.
const COMPAT: &[(&str, &str)] = &[
    (
        "NEURON",
        "declare a channel with `mechanism Name : density { … }`",
    ),
    (
        "SUFFIX",
        "the mechanism's name is given by `mechanism Name : density { … }`",
    ),
    (
        "BREAKPOINT",
        "write the current as `current ina = gbar * m^3 * h * (v - ena)`",
    ),
    (
        "DERIVATIVE",
        "write gating with `gate m { inf: …, tau: … }`; integration is exact (cnexp)",
    ),
    (
        "SOLVE",
        "states are integrated automatically; declare them with `state m, h` and a `gate` block",
    ),
    (
        "PARAMETER",
        "declare parameters one by one: `parameter gbar: S/cm2 = 1e-5 S/cm2`",
    ),
    ("STATE", "declare states with `state m, h`"),
    (
        "ASSIGNED",
        "use `let` for derived values inside a mechanism",
    ),
    ("UNITS", "units are built in: write `3 mV`, `1e-5 S/cm2`"),
    (
        "INITIAL",
        "states start at their `inf` value; see the mechanism reference",
    ),
    (
        "insert",
        "put the mechanism block in the section: `soma { pas { g: 3e-5 S/cm2 } }`",
    ),
    (
        "create",
        "sections come from the morphology: `morphology: hoc(\"cell.hoc\")`",
    ),
    (
        "forall",
        "set properties per region block, e.g. `dendrite { cm: 2 uF/cm2 }`",
    ),
    (
        "forsec",
        "set properties per region block, e.g. `apical_dendrite { … }`",
    ),
    (
        "def",
        "isf has no functions in scripts yet; use `let` bindings",
    ),
    (
        "fn",
        "isf has no functions in scripts yet; use `let` bindings",
    ),
];

fn error_to_diag(
    file: FileId,
    text: &str,
    offset: usize,
    e: &pest::error::Error<Rule>,
) -> Diagnostic {
    let pos = match e.location {
        pest::error::InputLocation::Pos(p) => p,
        pest::error::InputLocation::Span((s, _)) => s,
    };
    let rest = &text[pos.min(text.len())..];
    let next = lexer::lex(rest)
        .into_iter()
        .find(|l| !matches!(l.token, Some(Token::LineComment | Token::BlockComment)));
    let expected = match &e.variant {
        pest::error::ErrorVariant::ParsingError { positives, .. } => describe_expected(positives),
        pest::error::ErrorVariant::CustomError { message } => message.clone(),
    };
    let Some(tok) = next else {
        let at = offset + text.len();
        return Diagnostic::new(Code::E0102, "unexpected end of input")
            .label(Span::new(file, at, at), format!("expected {expected} here"))
            .help("a block, list or call is probably not closed");
    };
    let s = offset + pos + tok.start;
    let found = &rest[tok.start..tok.end];
    let span = Span::new(file, s, offset + pos + tok.end);
    // pest's own stack guard stopped at nesting far past what the later walks accept: the
    // same error as the depth guard gives.
    if expected.contains("stack limit reached") {
        return depth::too_deep(span);
    }
    if let Some((_, hint)) = COMPAT.iter().find(|(w, _)| *w == found) {
        return Diagnostic::new(Code::E0103, format!("`{found}` is NMODL or hoc, not isf"))
            .label(span, "not isf syntax")
            .help(*hint);
    }
    let mut d = Diagnostic::new(Code::E0101, format!("expected {expected}, found `{found}`"))
        .label(span, format!("expected {expected}"));
    if found == "=" {
        d = d.help("fields are written `name: value`");
    } else if found == ";" {
        d = d.help("isf needs no semicolons");
    } else if lexer::KEYWORDS.contains(&found) {
        d = d.note(format!(
            "`{found}` is a reserved word and cannot be used as a name"
        ));
    }
    d
}

fn describe_expected(rules: &[Rule]) -> String {
    let mut names: Vec<&str> = rules.iter().filter_map(|r| describe(*r)).collect();
    names.sort();
    names.dedup();
    match names.len() {
        0 => "something else".into(),
        1 => names[0].into(),
        _ => {
            let last = names.pop().unwrap_or_default();
            format!("{} or {}", names.join(", "), last)
        }
    }
}

fn describe(r: Rule) -> Option<&'static str> {
    Some(match r {
        Rule::ident | Rule::unit_name => "a name",
        Rule::number | Rule::quantity => "a number",
        Rule::string | Rule::str_inner => "a string",
        Rule::expr
        | Rule::range_expr
        | Rule::binexpr
        | Rule::unary
        | Rule::postfix_expr
        | Rule::expr_entry
        | Rule::arg => "an expression",
        Rule::import | Rule::let_stmt | Rule::decl | Rule::decl_kind => {
            "an item (import, let, neuron, network, experiment, mechanism)"
        }
        Rule::block => "`{`",
        Rule::field | Rule::sub_block | Rule::stmt | Rule::sweep_axis => "a block entry",
        Rule::unit | Rule::unit_atom | Rule::unit_ann => "a unit",
        Rule::EOI => "end of input",
        Rule::infix
        | Rule::or_op
        | Rule::and_op
        | Rule::eq
        | Rule::ne
        | Rule::le
        | Rule::ge
        | Rule::lt
        | Rule::gt
        | Rule::add
        | Rule::sub
        | Rule::mul
        | Rule::div
        | Rule::pow => "an operator",
        Rule::call => "`(`",
        Rule::index | Rule::list => "`[`",
        Rule::record => "`{`",
        Rule::member => "`.`",
        Rule::range_op => "`..`",
        Rule::path | Rule::path_seg => "a path",
        Rule::binding => "a name",
        Rule::module_import => "a module path",
        Rule::kw_in => "`in`",
        Rule::kw_by => "`by`",
        Rule::kw_then => "`then`",
        Rule::kw_else => "`else`",
        Rule::kw_as => "`as`",
        _ => return None,
    })
}

/// Keyword tokens carry no information for the AST; conversion skips them.
fn not_kw(p: &Pair<Rule>) -> bool {
    !matches!(
        p.as_rule(),
        Rule::kw_import
            | Rule::kw_as
            | Rule::kw_let
            | Rule::kw_if
            | Rule::kw_then
            | Rule::kw_else
            | Rule::kw_in
            | Rule::kw_by
    )
}

/// Conversion context: file and byte offset of the parsed chunk.
struct Cx {
    file: FileId,
    offset: usize,
}

impl Cx {
    fn span(&self, p: &Pair<Rule>) -> Span {
        let s = p.as_span();
        Span::new(self.file, self.offset + s.start(), self.offset + s.end())
    }

    fn ident(&self, p: Pair<Rule>) -> Ident {
        Ident {
            name: p.as_str().to_string(),
            span: self.span(&p),
        }
    }

    fn items(&self, file: Pair<Rule>) -> Vec<Item> {
        file.into_inner()
            .filter(not_kw)
            .filter(|p| p.as_rule() != Rule::EOI)
            .map(|p| self.item(p))
            .collect()
    }

    fn item(&self, p: Pair<Rule>) -> Item {
        match p.as_rule() {
            Rule::import => Item::Import(self.import(p)),
            Rule::let_stmt => Item::Let(self.let_stmt(p)),
            Rule::decl => Item::Decl(self.decl(p)),
            r => unreachable!("item rule {r:?}"),
        }
    }

    fn import(&self, p: Pair<Rule>) -> Import {
        let span = self.span(&p);
        let mut inner = p.into_inner().filter(not_kw);
        let t = inner.next().expect("import target");
        let target = match t.as_rule() {
            Rule::string => ImportTarget::File {
                path: self.string_value(&t),
                span: self.span(&t),
            },
            _ => {
                let mut path = Vec::new();
                let mut names = ImportNames::Module;
                for q in t.into_inner().filter(not_kw) {
                    match q.as_rule() {
                        Rule::ident => path.push(self.ident(q)),
                        Rule::import_glob => names = ImportNames::Glob(self.span(&q)),
                        Rule::import_list => {
                            names = ImportNames::List(
                                q.into_inner()
                                    .filter(not_kw)
                                    .map(|i| self.ident(i))
                                    .collect(),
                            )
                        }
                        _ => {}
                    }
                }
                ImportTarget::Module { path, names }
            }
        };
        let alias = inner.next().map(|a| self.ident(a));
        Import {
            target,
            alias,
            span,
        }
    }

    fn string_value(&self, p: &Pair<Rule>) -> String {
        let s = p.as_str();
        // The lexer pre-pass has already rejected bad escapes.
        lexer::unescape(&s[1..s.len() - 1]).unwrap_or_default()
    }

    fn let_stmt(&self, p: Pair<Rule>) -> Let {
        let span = self.span(&p);
        let mut inner = p.into_inner().filter(not_kw);
        let name = self.ident(inner.next().expect("let name"));
        let mut ty = None;
        let mut value = None;
        for q in inner {
            match q.as_rule() {
                Rule::unit_ann => ty = Some(self.unit_ann(q)),
                _ => value = Some(self.expr(q)),
            }
        }
        Let {
            name,
            ty,
            value: value.expect("let value"),
            span,
        }
    }

    fn decl(&self, p: Pair<Rule>) -> Decl {
        let span = self.span(&p);
        let mut inner = p.into_inner().filter(not_kw);
        let k = inner.next().expect("decl kind");
        let kind = match k.as_str() {
            "neuron" => DeclKind::Neuron,
            "network" => DeclKind::Network,
            "experiment" => DeclKind::Experiment,
            _ => DeclKind::Mechanism,
        };
        let kind_span = self.span(&k);
        let name = self.ident(inner.next().expect("decl name"));
        let mut sort = None;
        let mut body = None;
        for q in inner {
            match q.as_rule() {
                Rule::ident => sort = Some(self.ident(q)),
                Rule::block => body = Some(DeclBody::Block(self.block(q))),
                _ => body = Some(DeclBody::Expr(self.expr(q))),
            }
        }
        Decl {
            kind,
            kind_span,
            name,
            sort,
            body: body.expect("decl body"),
            span,
        }
    }

    fn block(&self, p: Pair<Rule>) -> Block {
        stacker::maybe_grow(64 * 1024, 1024 * 1024, || self.block_inner(p))
    }

    fn block_inner(&self, p: Pair<Rule>) -> Block {
        let span = self.span(&p);
        let entries = p
            .into_inner()
            .filter(not_kw)
            .map(|q| self.entry(q))
            .collect();
        Block { entries, span }
    }

    fn entry(&self, p: Pair<Rule>) -> Entry {
        let span = self.span(&p);
        match p.as_rule() {
            Rule::let_stmt => Entry::Let(self.let_stmt(p)),
            Rule::field => {
                let mut inner = p.into_inner().filter(not_kw);
                let name = self.ident(inner.next().expect("field name"));
                // (field_key)
                let value = self.expr(inner.next().expect("field value"));
                Entry::Field(Field { name, value, span })
            }
            Rule::sub_block => {
                let mut head = None;
                let mut name = None;
                let mut body = None;
                for q in p.into_inner().filter(not_kw) {
                    match q.as_rule() {
                        Rule::ident if head.is_none() => head = Some(self.ident(q)),
                        Rule::ident => name = Some(self.ident(q)),
                        _ => body = Some(self.block(q)),
                    }
                }
                Entry::Block(SubBlock {
                    head: head.expect("head"),
                    name,
                    body: body.expect("body"),
                    span,
                })
            }
            Rule::stmt => {
                let mut inner = p.into_inner().filter(not_kw);
                let keyword = self.ident(inner.next().expect("stmt kw"));
                let bindings = inner.map(|b| self.binding(b)).collect();
                Entry::Stmt(Stmt {
                    keyword,
                    bindings,
                    span,
                })
            }
            Rule::sweep_axis => {
                let mut inner = p.into_inner().filter(not_kw);
                let path = inner
                    .next()
                    .expect("path")
                    .into_inner()
                    .filter(not_kw)
                    .map(|seg| {
                        let s = seg.into_inner().find(not_kw).expect("seg");
                        match s.as_rule() {
                            Rule::wildcard => PathSeg::Wildcard(self.span(&s)),
                            _ => PathSeg::Name(self.ident(s)),
                        }
                    })
                    .collect();
                let values = self.expr(inner.next().expect("values"));
                Entry::Sweep(SweepAxis { path, values, span })
            }
            Rule::expr_entry => Entry::Expr(self.expr(p.into_inner().find(not_kw).expect("expr"))),
            r => unreachable!("entry rule {r:?}"),
        }
    }

    fn binding(&self, p: Pair<Rule>) -> Binding {
        let span = self.span(&p);
        let mut inner = p.into_inner().filter(not_kw);
        let name = self.ident(inner.next().expect("binding name"));
        let mut ty = None;
        let mut value = None;
        for q in inner {
            match q.as_rule() {
                Rule::unit_ann => ty = Some(self.unit_ann(q)),
                _ => value = Some(self.expr(q)),
            }
        }
        Binding {
            name,
            ty,
            value,
            span,
        }
    }

    fn unit_ann(&self, p: Pair<Rule>) -> UnitAnn {
        let q = p.into_inner().find(not_kw).expect("unit ann");
        match q.as_rule() {
            Rule::dimensionless => UnitAnn::Dimensionless(self.span(&q)),
            _ => UnitAnn::Unit(self.unit(q)),
        }
    }

    fn unit(&self, p: Pair<Rule>) -> UnitExpr {
        let span = self.span(&p);
        let mut factors = Vec::new();
        let mut divide = false;
        for q in p.into_inner().filter(not_kw) {
            match q.as_rule() {
                Rule::unit_op => divide = q.as_str() == "/",
                Rule::unit_atom => {
                    let fspan = self.span(&q);
                    let mut name = String::new();
                    let mut power = 1;
                    for r in q.into_inner().filter(not_kw) {
                        match r.as_rule() {
                            Rule::unit_name => name = r.as_str().to_string(),
                            Rule::unit_pow => {
                                let mut neg = false;
                                for s in r.into_inner().filter(not_kw) {
                                    match s.as_rule() {
                                        Rule::unit_neg => neg = true,
                                        _ => power = s.as_str().parse::<i32>().unwrap_or(i32::MAX),
                                    }
                                }
                                if neg {
                                    power = -power;
                                }
                            }
                            _ => {}
                        }
                    }
                    factors.push(UnitFactor {
                        name,
                        power,
                        divide,
                        span: fspan,
                    });
                }
                _ => {}
            }
        }
        UnitExpr { factors, span }
    }

    fn expr(&self, p: Pair<Rule>) -> Expr {
        // pest itself guards its recursion; the conversion recurses once per nesting level
        // too, so it grows its stack in segments instead of overflowing. The depth guard
        // (`depth.rs`) then refuses trees too deep for the later, plain recursive walks.
        stacker::maybe_grow(64 * 1024, 1024 * 1024, || self.expr_inner(p))
    }

    fn expr_inner(&self, p: Pair<Rule>) -> Expr {
        match p.as_rule() {
            Rule::expr => self.expr(p.into_inner().find(not_kw).expect("range_expr")),
            Rule::range_expr => {
                let span = self.span(&p);
                let mut inner = p.into_inner().filter(not_kw);
                let start = self.expr(inner.next().expect("start"));
                match inner.next() {
                    None => start,
                    Some(_op) => {
                        let end = self.expr(inner.next().expect("end"));
                        let step = inner.next().map(|s| Box::new(self.expr(s)));
                        Expr {
                            kind: ExprKind::Range {
                                start: Box::new(start),
                                end: Box::new(end),
                                step,
                            },
                            span,
                        }
                    }
                }
            }
            Rule::binexpr => self.binexpr(p),
            Rule::unary => self.unary(p),
            r => unreachable!("expr rule {r:?}"),
        }
    }

    /// Precedence climbing over the flat `unary (op unary)*` list.
    fn binexpr(&self, p: Pair<Rule>) -> Expr {
        let mut operands = Vec::new();
        let mut ops = Vec::new();
        for q in p.into_inner().filter(not_kw) {
            match q.as_rule() {
                Rule::unary => operands.push(self.unary(q)),
                r => ops.push(match r {
                    Rule::or_op => BinOp::Or,
                    Rule::and_op => BinOp::And,
                    Rule::eq => BinOp::Eq,
                    Rule::ne => BinOp::Ne,
                    Rule::lt => BinOp::Lt,
                    Rule::le => BinOp::Le,
                    Rule::gt => BinOp::Gt,
                    Rule::ge => BinOp::Ge,
                    Rule::add => BinOp::Add,
                    Rule::sub => BinOp::Sub,
                    Rule::mul => BinOp::Mul,
                    _ => BinOp::Div,
                }),
            }
        }
        let mut operands = operands.into_iter();
        let mut ops = ops.into_iter().peekable();
        let first = operands.next().expect("operand");
        climb(first, 0, &mut operands, &mut ops)
    }

    fn unary(&self, p: Pair<Rule>) -> Expr {
        // `2^2^2^…` recurses through `unary` and `power` without passing `expr`.
        stacker::maybe_grow(64 * 1024, 1024 * 1024, || self.unary_inner(p))
    }

    fn unary_inner(&self, p: Pair<Rule>) -> Expr {
        let mut prefixes = Vec::new();
        let mut operand = None;
        for q in p.into_inner().filter(not_kw) {
            match q.as_rule() {
                Rule::prefix => {
                    let op = q.into_inner().find(not_kw).expect("prefix op");
                    prefixes.push((
                        if op.as_rule() == Rule::neg {
                            UnOp::Neg
                        } else {
                            UnOp::Not
                        },
                        self.span(&op),
                    ));
                }
                _ => operand = Some(self.power(q)),
            }
        }
        let mut e = operand.expect("operand");
        // Apply prefixes innermost first: `- not x` is `-(not x)`.
        for (op, s) in prefixes.into_iter().rev() {
            // End at the operand: the pair's own span can run on over trailing whitespace
            // and newlines (`cells: -1` would underline the next line too).
            let sp = Span::new(self.file, s.start as usize, e.span.end as usize);
            e = Expr {
                kind: ExprKind::Unary(op, Box::new(e)),
                span: sp,
            };
        }
        e
    }

    fn power(&self, p: Pair<Rule>) -> Expr {
        let mut inner = p.into_inner().filter(not_kw);
        let base = self.postfix(inner.next().expect("base"));
        match (inner.next(), inner.next()) {
            (Some(_), Some(exp)) => {
                let exp = self.unary(exp);
                let span = base.span.to(exp.span);
                Expr {
                    kind: ExprKind::Binary(BinOp::Pow, Box::new(base), Box::new(exp)),
                    span,
                }
            }
            _ => base,
        }
    }

    fn postfix(&self, p: Pair<Rule>) -> Expr {
        let mut inner = p.into_inner().filter(not_kw);
        let mut e = self.primary(inner.next().expect("primary"));
        for q in inner {
            let span = Span::new(self.file, e.span.start as usize, self.span(&q).end as usize);
            let kind = match q.as_rule() {
                Rule::call => {
                    let args = q
                        .into_inner()
                        .filter(not_kw)
                        .map(|a| {
                            let mut ai = a.into_inner().filter(not_kw);
                            let first = ai.next().expect("arg");
                            match ai.next() {
                                Some(v) => Arg {
                                    name: Some(self.ident(first)),
                                    value: self.expr(v),
                                },
                                None => Arg {
                                    name: None,
                                    value: self.expr(first),
                                },
                            }
                        })
                        .collect();
                    ExprKind::Call(Box::new(e), args)
                }
                Rule::member => ExprKind::Member(
                    Box::new(e),
                    self.ident(q.into_inner().find(not_kw).expect("m")),
                ),
                _ => ExprKind::Index(
                    Box::new(e),
                    Box::new(self.expr(q.into_inner().find(not_kw).expect("i"))),
                ),
            };
            e = Expr { kind, span };
        }
        e
    }

    fn primary(&self, p: Pair<Rule>) -> Expr {
        let span = self.span(&p);
        let kind = match p.as_rule() {
            Rule::quantity => {
                let mut inner = p.into_inner().filter(not_kw);
                let num = inner.next().expect("number");
                let text = num.as_str().to_string();
                let value = text.parse::<f64>().unwrap_or(f64::NAN);
                match inner.next() {
                    Some(u) => ExprKind::Quantity {
                        value,
                        text,
                        unit: self.unit(u),
                    },
                    None => ExprKind::Number { value, text },
                }
            }
            Rule::string => ExprKind::Str(self.string_value(&p)),
            Rule::boolean => ExprKind::Bool(p.as_str() == "true"),
            Rule::ident => ExprKind::Name(p.as_str().to_string()),
            Rule::if_expr => {
                let mut inner = p.into_inner().filter(not_kw);
                let c = self.expr(inner.next().expect("cond"));
                let a = self.expr(inner.next().expect("then"));
                let b = self.expr(inner.next().expect("else"));
                ExprKind::If(Box::new(c), Box::new(a), Box::new(b))
            }
            Rule::list => ExprKind::List(
                p.into_inner()
                    .filter(not_kw)
                    .map(|q| self.expr(q))
                    .collect(),
            ),
            Rule::paren_or_tuple => {
                let mut trailing = false;
                let mut elems = Vec::new();
                for q in p.into_inner().filter(not_kw) {
                    if q.as_rule() == Rule::trailing_comma {
                        trailing = true;
                    } else {
                        elems.push(self.expr(q));
                    }
                }
                if elems.len() == 1 && !trailing {
                    ExprKind::Paren(Box::new(elems.pop().expect("one")))
                } else {
                    ExprKind::Tuple(elems)
                }
            }
            Rule::record => ExprKind::Record(
                p.into_inner()
                    .filter(not_kw)
                    .map(|f| {
                        let mut fi = f.into_inner().filter(not_kw);
                        let k = self.ident(fi.next().expect("key"));
                        let v = self.expr(fi.next().expect("value"));
                        (k, v)
                    })
                    .collect(),
            ),
            r => unreachable!("primary rule {r:?}"),
        };
        Expr { kind, span }
    }
}

fn climb(
    mut lhs: Expr,
    min_prec: u8,
    operands: &mut impl Iterator<Item = Expr>,
    ops: &mut std::iter::Peekable<impl Iterator<Item = BinOp>>,
) -> Expr {
    while let Some(&op) = ops.peek() {
        if op.precedence() < min_prec {
            break;
        }
        ops.next();
        let mut rhs = operands.next().expect("rhs");
        while let Some(&next) = ops.peek() {
            let tighter = next.precedence() > op.precedence()
                || (next.right_assoc() && next.precedence() == op.precedence());
            if !tighter {
                break;
            }
            let p = if next.precedence() > op.precedence() {
                op.precedence() + 1
            } else {
                op.precedence()
            };
            rhs = climb(rhs, p, operands, ops);
        }
        let span = lhs.span.to(rhs.span);
        lhs = Expr {
            kind: ExprKind::Binary(op, Box::new(lhs), Box::new(rhs)),
            span,
        };
    }
    lhs
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> File {
        let r = parse_file(FileId(0), s);
        assert!(r.diagnostics.is_empty(), "{s}: {:?}", r.diagnostics);
        r.file
    }

    fn e(s: &str) -> Expr {
        parse_expr(FileId(0), s).unwrap_or_else(|d| panic!("{s}: {d:?}"))
    }

    #[test]
    fn precedence() {
        let x = e("1 + 2 * 3 ^ 2 ^ 2");
        let ExprKind::Binary(BinOp::Add, _, r) = x.kind else {
            panic!()
        };
        let ExprKind::Binary(BinOp::Mul, _, r) = r.kind else {
            panic!()
        };
        let ExprKind::Binary(BinOp::Pow, _, r) = r.kind else {
            panic!()
        };
        assert!(matches!(r.kind, ExprKind::Binary(BinOp::Pow, _, _)));
        let x = e("a < b and c or d");
        assert!(matches!(x.kind, ExprKind::Binary(BinOp::Or, _, _)));
        let x = e("1 - 2 - 3");
        let ExprKind::Binary(BinOp::Sub, l, _) = x.kind else {
            panic!()
        };
        assert!(matches!(l.kind, ExprKind::Binary(BinOp::Sub, _, _)));
        let x = e("-x^2");
        assert!(matches!(x.kind, ExprKind::Unary(UnOp::Neg, _)));
        let x = e("2^-1");
        assert!(matches!(x.kind, ExprKind::Binary(BinOp::Pow, _, _)));
    }

    #[test]
    fn quantities() {
        let x = e("1 nA * 100 Mohm");
        assert!(matches!(x.kind, ExprKind::Binary(BinOp::Mul, _, _)));
        let x = e("3.26e-5 S/cm2");
        let ExprKind::Quantity { unit, .. } = x.kind else {
            panic!()
        };
        assert_eq!(unit.factors.len(), 2);
        assert!(unit.factors[1].divide);
        let x = e("2 m^-2");
        let ExprKind::Quantity { unit, .. } = x.kind else {
            panic!()
        };
        assert_eq!(unit.factors[0].power, -2);
    }

    #[test]
    fn blocks_and_entries() {
        let f = p(r#"
import std.channels.hay2011.*
import "other.isf" as other
let x = 3 mV
neuron A {
  morphology: swc("c.swc")
  soma { Ra: 100 ohm*cm, pas { g: 3e-5 S/cm2, e: -90 mV } }
  parameter g: S/cm2 = 1 S/cm2
  state m, h
  a.*.b in [1, 2]
  spikes(soma, threshold: 0 mV)
}
mechanism M : density { gate m { inf: 1 / (1 + exp(-v / 5 mV)), tau: 1 ms } }
neuron B = isf_param("x.param")
"#);
        assert_eq!(f.items.len(), 6);
    }

    #[test]
    fn recovery_reports_each_bad_item() {
        let r = parse_file(
            FileId(0),
            "neuron A { x: }\nneuron B { y: 1 }\nnetwork C { z: ( }\n",
        );
        assert_eq!(r.diagnostics.len(), 2, "{:?}", r.diagnostics);
        assert_eq!(r.file.items.len(), 1);
    }

    #[test]
    fn keywords_end_at_word_boundaries() {
        // `order` must not read as `or der`, `inside` not as `in side`.
        p("neuron A {\n  x: a\n  order: 1\n}\n");
        p("neuron A {\n  m\n  inside: 1\n}\n");
        let x = e("notx");
        assert!(matches!(x.kind, ExprKind::Name(_)));
        // `a orb` is two names in a row, not `a or b`.
        assert!(parse_expr(FileId(0), "a orb").is_err());
        let x = e("a or b");
        assert!(matches!(x.kind, ExprKind::Binary(BinOp::Or, _, _)));
    }

    #[test]
    fn incomplete_and_compat() {
        let r = parse_file(FileId(0), "neuron A {\n  soma {");
        assert_eq!(r.diagnostics[0].code, Code::E0102);
        assert!(r.incomplete);
        let r = parse_file(FileId(0), "NEURON { SUFFIX hh }");
        assert_eq!(r.diagnostics[0].code, Code::E0103);
    }
}
