//! The REPL backend: a session that accepts `.isf` items and expressions one input at a time.
//!
//! * **Incremental declarations.** The session keeps a source text of every accepted item. A
//!   new `let`, `import` or declaration is appended (or replaces the item of the same name),
//!   the whole text is re-checked with [`check_text`] exactly as `isf check` would, and on
//!   errors the session rolls back to the previous text, so a mistake never breaks it.
//! * **Expressions** are evaluated with the checker's [`Evaluator`] against the session's
//!   `let` values and declared names, and printed in the canonical unit of their dimension
//!   ([`mod@format`]).
//! * **Commands** start with `:` (see [`HELP`]).
//! * Diagnostics use the same ariadne renderer as `isf check`.
//!
//! The frontend (line editing, history, highlighting, completion) is [`helper`] plus
//! `src/repl/terminal.rs`; this module does no terminal I/O, so tests drive it directly.

pub mod format;
pub mod helper;
pub mod run;
pub mod terminal;

use crate::diagnostics::{Code, Diagnostic, did_you_mean, render};
use crate::model::Model;
use crate::sema::check::Checked;
use crate::sema::eval::{Evaluator, Names};
use crate::sema::value::Val;
use crate::source::{FileId, Origin, SourceMap};
use crate::syntax::ast::{self, DeclKind};
use crate::syntax::parser::{self, ReplInput};
use crate::units::{self, CANONICAL};
use crate::validate::check_text;
use std::path::{Path, PathBuf};

/// Name of the session's source text in diagnostics.
pub const SESSION_NAME: &str = "<repl>";

/// The text of `:help`.
pub const HELP: &str = "\
Type isf code or a command. Code is an expression (`1 nA * 100 Mohm`, `exp(-2)`) or an item:
`let`, `import`, `neuron`, `network`, `experiment` or `mechanism`. An input that is not finished
(an open `{`, a trailing operator) continues on the next line; an empty line ends it anyway.
Declaring a name again replaces the earlier declaration.

Commands:
  :help             this text
  :load FILE        load a .isf file into the session (re-read on every later check)
  :type EXPR        the type and physical dimension of an expression
  :units            unit names, prefixes and the canonical unit of each quantity
  :plan [NAME]      the lowered model (all quantities in canonical units), or one item of it
  :run NAME [AMP]   simulate neuron NAME (a step of AMP, default 1 nA, into soma(0.5) from 20
                    to 120 ms, 150 ms) or experiment NAME (its first current step, duration, dt)
  :db ...           query a results store
  :analyze ...      analyse results in a store (`isf analyze`: spikes, psth, isi, synapses)
  :plot ...         draw results as SVG/PNG or an HTML animation (`isf plot`)
  :reduce ...       fit or apply a reduced model (`isf reduce`: fit, predict)
  :source           the session's source text
  :reset            forget everything declared
  :quit             leave (also Ctrl-D); Ctrl-C clears the current input

What :run simulates: the whole neuron as `isf run` does (cable, every mechanism of every
region compiled to kernels, calcium pools and Nernst eca) under one current step, with NEURON's
fixed-step scheme. Synaptic input and sweeps are not part of :run (use `isf run`).
Spikes are upward crossings of 0 mV.";

/// The commands, for completion and \"did you mean\".
pub const COMMANDS: &[&str] = &[
    ":help", ":load", ":type", ":units", ":plan", ":run", ":db", ":analyze", ":plot", ":reduce",
    ":source", ":reset", ":quit",
];

/// One accepted input of the session.
#[derive(Clone, Debug)]
struct Entry {
    /// Source text (ends with a newline).
    text: String,
    /// The name it binds, for replacement (`None` for imports).
    name: Option<String>,
    /// The let's value expression, re-evaluated for the expression scope.
    let_value: Option<ast::Expr>,
    kind: Option<DeclKind>,
    /// The file of a `:load`.
    loaded: Option<PathBuf>,
}

/// What a handled input produced.
#[derive(Debug, Default)]
pub struct Reply {
    /// Text for the user (results and diagnostics), ending with a newline if not empty.
    pub out: String,
    /// True when the input had errors (the session is unchanged).
    pub error: bool,
    /// True when the user asked to leave.
    pub quit: bool,
}

impl Reply {
    fn ok(out: impl Into<String>) -> Reply {
        let mut out = out.into();
        if !out.is_empty() && !out.ends_with('\n') {
            out.push('\n');
        }
        Reply {
            out,
            ..Reply::default()
        }
    }

    fn err(out: impl Into<String>) -> Reply {
        Reply {
            error: true,
            ..Reply::ok(out)
        }
    }
}

/// A REPL session.
pub struct Session {
    entries: Vec<Entry>,
    base_dir: PathBuf,
    color: bool,
    /// The check of the current session text (always error-free).
    checked: Checked,
    /// The session's model plus the models of loaded files (see [`Session::model`]).
    model: Model,
    lets: Vec<(String, Val)>,
    /// Inputs handled so far (names expression inputs `<repl:N>`).
    inputs: usize,
}

impl Session {
    /// A new, empty session; relative paths resolve against `base_dir`. `color` turns on ANSI
    /// colour in diagnostics.
    pub fn new(base_dir: impl Into<PathBuf>, color: bool) -> Session {
        let base_dir = base_dir.into();
        let checked = check_text(SESSION_NAME, "", &base_dir);
        Session {
            entries: Vec::new(),
            base_dir,
            color,
            checked,
            model: Model::default(),
            lets: Vec::new(),
            inputs: 0,
        }
    }

    /// The lowered model of everything accepted so far: the session's own items plus the
    /// items of every loaded file. (The checker lowers only the root file's declarations, and a
    /// loaded file is imported by path, so each loaded file is lowered on its own and merged;
    /// a name declared in the session wins.)
    pub fn model(&self) -> &Model {
        &self.model
    }

    fn merge_loaded(&mut self) {
        let mut m = self.checked.model.clone();
        for path in self.entries.iter().filter_map(|e| e.loaded.as_ref()) {
            let part = crate::validate::check_path(path).model;
            add_new(&mut m.mechanisms, part.mechanisms, |x| &x.name);
            add_new(&mut m.neurons, part.neurons, |x| &x.name);
            add_new(&mut m.networks, part.networks, |x| &x.name);
            add_new(&mut m.experiments, part.experiments, |x| &x.name);
        }
        self.model = m;
    }

    /// The session's source text.
    pub fn source(&self) -> String {
        self.entries.iter().map(|e| e.text.as_str()).collect()
    }

    /// Names visible to expressions: lets, declarations and everything the model declares.
    pub fn names(&self) -> Vec<String> {
        let mut v: Vec<String> = self.lets.iter().map(|(n, _)| n.clone()).collect();
        v.extend(self.entries.iter().filter_map(|e| e.name.clone()));
        let m = self.model();
        v.extend(m.mechanisms.iter().map(|x| x.name.clone()));
        v.extend(m.neurons.iter().map(|x| x.name.clone()));
        v.extend(m.networks.iter().map(|x| x.name.clone()));
        v.extend(m.experiments.iter().map(|x| x.name.clone()));
        v.sort();
        v.dedup();
        v
    }

    /// Is this input unfinished (for the line editor's continuation)? Commands never are.
    pub fn is_incomplete(input: &str) -> bool {
        let t = input.trim();
        if t.is_empty() || t.starts_with(':') {
            return false;
        }
        matches!(parser::parse_repl(FileId(0), input), Err((_, true)))
    }

    /// Split a multi-line input (a paste) into complete inputs, as if typed line by line: a
    /// line joins the next while the parser says the input is unfinished, and a blank line
    /// ends an unfinished input. Linear in the input when every line completes an input.
    pub fn split_inputs(input: &str) -> Vec<String> {
        let mut out = Vec::new();
        let mut buf = String::new();
        for line in input.lines() {
            if line.trim().is_empty() {
                if !buf.trim().is_empty() {
                    out.push(std::mem::take(&mut buf));
                }
                continue;
            }
            buf.push_str(line);
            if Session::is_incomplete(&buf) {
                buf.push('\n');
            } else {
                out.push(std::mem::take(&mut buf));
            }
        }
        if !buf.trim().is_empty() {
            out.push(buf);
        }
        out
    }

    /// Handle an input: one item, expression or command, or several on separate lines (a
    /// pasted block), each handled in turn until one quits.
    pub fn handle(&mut self, input: &str) -> Reply {
        if input.trim().contains('\n') && !input.trim_start().starts_with(':') {
            let parts = Session::split_inputs(input);
            if parts.len() > 1 {
                let mut all = Reply::default();
                for p in parts {
                    let r = self.handle_one(&p);
                    all.out.push_str(&r.out);
                    all.error |= r.error;
                    if r.quit {
                        all.quit = true;
                        break;
                    }
                }
                return all;
            }
        }
        self.handle_one(input)
    }

    /// Handle one input (code or a command).
    fn handle_one(&mut self, input: &str) -> Reply {
        let t = input.trim();
        if t.is_empty() {
            return Reply::default();
        }
        self.inputs += 1;
        if let Some(cmd) = t.strip_prefix(':') {
            return self.command(cmd);
        }
        let name = format!("<repl:{}>", self.inputs);
        match parser::parse_repl(FileId(0), input) {
            Err((diags, _)) => {
                let sources = one_source(&name, input);
                Reply::err(self.render(&diags, &sources))
            }
            Ok(ReplInput::Expr(e)) => self.expression(&name, input, &e, false),
            Ok(ReplInput::Item(item)) => self.item(input, item),
        }
    }

    /// Diagnostics rendered with the same caps as `isf check` (a paste full of errors prints a
    /// bounded amount).
    fn render(&self, diags: &[Diagnostic], sources: &SourceMap) -> String {
        render::human_all(diags, sources, self.color)
    }

    fn expression(&mut self, name: &str, text: &str, e: &ast::Expr, type_only: bool) -> Reply {
        let sources = one_source(name, text);
        let mut diags = Vec::new();
        let v = {
            let mut scope = Scope { session: self };
            let mut ev = Evaluator {
                diags: &mut diags,
                base_dir: self.base_dir.clone(),
            };
            ev.eval(e, &mut scope)
        };
        let rendered = self.render(&diags, &sources);
        if crate::diagnostics::has_errors(&diags) || v.is_err() {
            return Reply::err(rendered);
        }
        let shown = if type_only {
            format::type_of(&v)
        } else {
            format!("= {}", format::value(&v))
        };
        Reply::ok(format!("{rendered}{shown}"))
    }

    /// Accept an item: append (or replace by name), re-check, roll back on errors.
    fn item(&mut self, text: &str, item: ast::Item) -> Reply {
        let mut text = text.trim().to_string();
        text.push('\n');
        let (name, kind, let_value) = match &item {
            ast::Item::Let(l) => (Some(l.name.name.clone()), None, Some(l.value.clone())),
            ast::Item::Decl(d) => (Some(d.name.name.clone()), Some(d.kind), None),
            ast::Item::Import(_) => (None, None, None),
        };
        let entry = Entry {
            text,
            name: name.clone(),
            let_value,
            kind,
            loaded: None,
        };
        let what = match (&item, kind) {
            (ast::Item::Let(_), _) => "let".to_string(),
            (_, Some(k)) => k.as_str().to_string(),
            _ => "import".to_string(),
        };
        match self.try_accept(entry) {
            Err(out) => Reply::err(out),
            Ok((warnings, replaced)) => {
                let verb = if replaced { "redefined" } else { "defined" };
                let msg = match (&item, &name) {
                    (ast::Item::Let(_), Some(n)) => {
                        let v = self
                            .lets
                            .iter()
                            .rev()
                            .find(|(k, _)| k == n)
                            .map(|(_, v)| format::value(v))
                            .unwrap_or_default();
                        format!("{n} = {v}")
                    }
                    (_, Some(n)) => format!("{verb} {what} {n}"),
                    _ => "imported".to_string(),
                };
                Reply::ok(format!("{warnings}{msg}"))
            }
        }
    }

    /// Check the session with `entry` added; on success keep it and return the rendered
    /// warnings that concern it and whether it replaced an entry of the same name.
    fn try_accept(&mut self, entry: Entry) -> Result<(String, bool), String> {
        let mut entries = self.entries.clone();
        let pos = entry
            .name
            .as_ref()
            .and_then(|n| entries.iter().position(|e| e.name.as_ref() == Some(n)));
        let replaced = pos.is_some();
        let idx = match pos {
            Some(i) => {
                entries[i] = entry;
                i
            }
            None => {
                entries.push(entry);
                entries.len() - 1
            }
        };
        let start: usize = entries[..idx].iter().map(|e| e.text.len()).sum();
        let end = start + entries[idx].text.len();
        let text: String = entries.iter().map(|e| e.text.as_str()).collect();
        let checked = check_text(SESSION_NAME, &text, &self.base_dir);
        let root = checked.root;
        // Warnings about this input only: the new text or files it brought in. Unused-name
        // warnings make no sense in a REPL, where a name is used by later inputs.
        let relevant = |d: &&Diagnostic| {
            if matches!(d.code, Code::W0101 | Code::W0102) {
                return false;
            }
            match d.primary_span() {
                Some(s) if Some(s.file) == root => {
                    (s.start as usize) >= start && (s.start as usize) < end
                }
                _ => true,
            }
        };
        if checked.has_errors() {
            let diags: Vec<&Diagnostic> = checked
                .diagnostics
                .iter()
                .filter(|d| d.is_error() || relevant(d))
                .collect();
            let out: String = diags
                .iter()
                .map(|d| render::human(d, &checked.sources, self.color))
                .collect();
            return Err(out);
        }
        let warnings: String = checked
            .diagnostics
            .iter()
            .filter(relevant)
            .map(|d| render::human(d, &checked.sources, self.color))
            .collect();
        self.entries = entries;
        self.checked = checked;
        self.merge_loaded();
        self.reevaluate_lets();
        Ok((warnings, replaced))
    }

    /// Recompute the values of the session's lets, in order (the checker validated them).
    fn reevaluate_lets(&mut self) {
        self.lets.clear();
        let lets: Vec<(String, ast::Expr)> = self
            .entries
            .iter()
            .filter_map(|e| Some((e.name.clone()?, e.let_value.clone()?)))
            .collect();
        for (name, expr) in lets {
            let mut diags = Vec::new();
            let v = {
                let mut scope = Scope { session: self };
                let mut ev = Evaluator {
                    diags: &mut diags,
                    base_dir: self.base_dir.clone(),
                };
                ev.eval(&expr, &mut scope)
            };
            self.lets.push((name, v));
        }
    }

    fn command(&mut self, cmd: &str) -> Reply {
        let (word, arg) = match cmd.split_once(char::is_whitespace) {
            Some((w, a)) => (w, a.trim()),
            None => (cmd, ""),
        };
        match word {
            "help" | "h" | "?" => Reply::ok(HELP),
            "quit" | "q" | "exit" => Reply {
                quit: true,
                ..Reply::default()
            },
            "reset" => {
                *self = Session::new(self.base_dir.clone(), self.color);
                Reply::ok("session cleared")
            }
            "source" => Reply::ok(self.source()),
            "units" => Reply::ok(units_table()),
            "type" | "t" if arg.is_empty() => Reply::err("usage: :type EXPR"),
            "type" | "t" => {
                let name = format!("<repl:{}>", self.inputs);
                match parser::parse_expr(FileId(0), arg) {
                    Ok(e) => self.expression(&name, arg, &e, true),
                    Err(diags) => Reply::err(self.render(&diags, &one_source(&name, arg))),
                }
            }
            "load" | "l" if arg.is_empty() => Reply::err("usage: :load FILE"),
            "load" | "l" => self.load(arg),
            "plan" => self.plan(arg),
            "run" => self.run(arg),
            "db" => db_command(arg),
            "analyze" => analyze_command(arg),
            "plot" => plot_command(arg),
            "reduce" => reduce_command(arg),
            _ => {
                let typed = format!(":{word}");
                let hint = did_you_mean(&typed, COMMANDS.iter().copied())
                    .map(|h| format!("; {h}"))
                    .unwrap_or_default();
                Reply::err(format!(
                    "unknown command `{typed}`{hint} (:help lists the commands)"
                ))
            }
        }
    }

    fn load(&mut self, file: &str) -> Reply {
        let file = file.trim_matches('"');
        let path = self.base_dir.join(file);
        if !path.is_file() {
            return Reply::err(format!("cannot load `{file}`: no such file"));
        }
        let path = std::fs::canonicalize(&path).unwrap_or(path);
        let before = self.names();
        // An import by path keeps the file's own directory for its relative paths and makes
        // every later check re-read it, so edits to the file show up on the next input.
        let lit = path
            .display()
            .to_string()
            .replace('\\', "\\\\")
            .replace('"', "\\\"");
        let text = format!("import \"{lit}\"\n");
        if self.entries.iter().any(|e| e.text == text) {
            return Reply::ok(format!(
                "{file} is already loaded (it is re-read on every check)"
            ));
        }
        let entry = Entry {
            text,
            name: None,
            let_value: None,
            kind: None,
            loaded: Some(path.clone()),
        };
        match self.try_accept(entry) {
            Err(out) => Reply::err(out),
            Ok((warnings, _)) => {
                let m = self.model();
                let mut added = Vec::new();
                for (k, names) in [
                    (
                        "neuron",
                        m.neurons.iter().map(|x| &x.name).collect::<Vec<_>>(),
                    ),
                    ("network", m.networks.iter().map(|x| &x.name).collect()),
                    (
                        "experiment",
                        m.experiments.iter().map(|x| &x.name).collect(),
                    ),
                ] {
                    for n in names {
                        if !before.contains(n) {
                            added.push(format!("{k} {n}"));
                        }
                    }
                }
                let mechs = m
                    .mechanisms
                    .iter()
                    .filter(|x| !before.contains(&x.name))
                    .count();
                if mechs > 0 {
                    added.push(format!("{mechs} mechanisms"));
                }
                Reply::ok(format!(
                    "{warnings}loaded {file}: {}",
                    if added.is_empty() {
                        "nothing new".into()
                    } else {
                        added.join(", ")
                    }
                ))
            }
        }
    }

    fn plan(&self, name: &str) -> Reply {
        let mut m = self.model().clone();
        if !name.is_empty() {
            m.mechanisms.retain(|x| x.name == name);
            m.neurons.retain(|x| x.name == name);
            m.networks.retain(|x| x.name == name);
            m.experiments.retain(|x| x.name == name);
            if m.mechanisms.len() + m.neurons.len() + m.networks.len() + m.experiments.len() == 0 {
                let names = self.names();
                let hint = did_you_mean(name, names.iter().map(String::as_str))
                    .map(|h| format!("; {h}"))
                    .unwrap_or_default();
                return Reply::err(format!("nothing named `{name}` in the model{hint}"));
            }
        }
        Reply::ok(crate::cli::plan::render_plan(&m))
    }

    fn run(&mut self, arg: &str) -> Reply {
        let mut parts = arg.splitn(2, char::is_whitespace);
        let name = parts.next().unwrap_or("").trim();
        if name.is_empty() {
            return Reply::err("usage: :run NAME [AMP]   e.g. :run L5PT 1.5 nA");
        }
        let amp = match parts.next().map(str::trim).filter(|s| !s.is_empty()) {
            None => None,
            Some(a) => match self.current_na(a) {
                Ok(x) => Some(x),
                Err(r) => return r,
            },
        };
        let req = match run::request_for(self.model(), name, amp) {
            Ok(r) => r,
            Err(m) => return Reply::err(m),
        };
        let started = std::time::Instant::now();
        match run::simulate(self.model(), &req) {
            Err(run::RunError::Unsupported(m)) => Reply::err(format!("cannot run: {m}")),
            Err(run::RunError::Diag(d)) => Reply::err(self.render(&[d], &self.checked.sources)),
            Ok(r) => Reply::ok(show_run(&req, &r, started.elapsed())),
        }
    }

    /// Evaluate `:run`'s amplitude argument; it must be a current.
    fn current_na(&mut self, text: &str) -> Result<f64, Reply> {
        let name = format!("<repl:{}>", self.inputs);
        let sources = one_source(&name, text);
        let e = parser::parse_expr(FileId(0), text)
            .map_err(|d| Reply::err(self.render(&d, &sources)))?;
        let mut diags = Vec::new();
        let v = {
            let mut scope = Scope { session: self };
            let mut ev = Evaluator {
                diags: &mut diags,
                base_dir: self.base_dir.clone(),
            };
            let v = ev.eval(&e, &mut scope);
            ev.expect_dim(v, units::Dim::CURRENT, e.span, "the step amplitude")
        };
        if crate::diagnostics::has_errors(&diags) {
            return Err(Reply::err(self.render(&diags, &sources)));
        }
        match v.const_si() {
            Some(si) => Ok(si / 1e-9),
            None => Err(Reply::err("the step amplitude must be a constant current")),
        }
    }
}

/// Parse `arg` as the arguments of the command `name` (split at white space, as the shell
/// would) and run it; a usage error is the reply.
fn subcommand<A: clap::Args + clap::FromArgMatches>(
    name: &'static str,
    arg: &str,
    run: impl FnOnce(A) -> Reply,
) -> Reply {
    let mut cmd = A::augment_args(clap::Command::new(name).no_binary_name(true));
    match cmd
        .try_get_matches_from_mut(arg.split_whitespace())
        .and_then(|mut m| A::from_arg_matches_mut(&mut m))
    {
        Ok(args) => run(args),
        Err(e) => Reply::err(e.format(&mut cmd).render().to_string()),
    }
}

/// The reply of a command that writes: `wrote …` for each of `written`, then `lines`; or
/// its error.
fn wrote(r: Result<(Vec<String>, Vec<String>), Diagnostic>) -> Reply {
    match r {
        Ok((written, lines)) => {
            let mut out: Vec<String> = written.iter().map(|k| format!("wrote {k}")).collect();
            out.extend(lines);
            Reply::ok(out.join("\n"))
        }
        Err(d) => Reply::err(render::plain(&d, &SourceMap::new())),
    }
}

/// `:db ARGS`: the `isf db` command inside the session (`:db ls results/run.isfdb`). Its
/// output goes straight to the terminal, as from the shell.
fn db_command(arg: &str) -> Reply {
    subcommand(":db", arg, |args: crate::cli::db::DbArgs| {
        if crate::cli::db::run(args) == 0 {
            Reply::ok("")
        } else {
            Reply::err("")
        }
    })
}

/// `:analyze ARGS`: the `isf analyze` command inside the session; its summary is the reply.
fn analyze_command(arg: &str) -> Reply {
    subcommand(":analyze", arg, |args| {
        wrote(crate::cli::analyze::run_inner(args).map(|w| (w.keys, w.summary)))
    })
}

/// `:reduce ARGS`: the `isf reduce` command inside the session; the keys written and the
/// fit or prediction summary are the reply.
fn reduce_command(arg: &str) -> Reply {
    subcommand(":reduce", arg, |args| {
        wrote(crate::cli::reduce::run_inner(args).map(|r| (r.keys, r.lines)))
    })
}

/// `:plot ARGS`: the `isf plot` command inside the session; replies with the files written.
fn plot_command(arg: &str) -> Reply {
    subcommand(":plot", arg, |args| {
        wrote(crate::cli::plot::run_inner(args).map(|files| {
            let files = files.iter().map(|f| f.display().to_string()).collect();
            (files, Vec::new())
        }))
    })
}

/// Declarations of `from` whose names `into` does not have yet, appended (the session's own
/// declarations win over those of loaded files).
fn add_new<T>(into: &mut Vec<T>, from: Vec<T>, name: impl Fn(&T) -> &String) {
    for x in from {
        if !into.iter().any(|y| name(y) == name(&x)) {
            into.push(x);
        }
    }
}

fn one_source(name: &str, text: &str) -> SourceMap {
    let mut s = SourceMap::new();
    s.add(Origin::Virtual(name.to_string()), name, text);
    s
}

fn show_run(req: &run::RunRequest, r: &run::RunResult, took: std::time::Duration) -> String {
    let f = format::num;
    let mut out = format!(
        "{}: {} compartments, {} ms at dt {} ms ({} steps) in {:.2} s\n",
        req.neuron,
        r.n_compartments,
        f(req.t_stop_ms),
        f(req.dt_ms),
        r.v_mv.len().saturating_sub(1),
        took.as_secs_f64()
    );
    out += &format!(
        "step {} nA into {}({}) from {} to {} ms\n",
        f(req.step.amp_na),
        req.step.region,
        f(req.step.x),
        f(req.step.delay_ms),
        f(req.step.delay_ms + req.step.duration_ms)
    );
    out += "simulated: cable + every mechanism + current step";
    if r.not_simulated.is_empty() {
        out.push('\n');
    } else {
        out += &format!("; NOT simulated: {}\n", r.not_simulated.join(", "));
    }
    for n in &req.notes {
        out += &format!("note: {n}\n");
    }
    out += &format!("v at {} [mV]\n", r.probe);
    out += &run::plot(&r.v_mv, r.dt_ms, 60, 6);
    let spikes: Vec<String> = r.spikes_ms.iter().map(|t| format!("{t:.2}")).collect();
    out += &format!(
        "spikes (upward crossings of {} mV): {}{}",
        f(req.threshold_mv),
        r.spikes_ms.len(),
        if spikes.is_empty() {
            String::new()
        } else {
            format!(" at {} ms", spikes.join(", "))
        }
    );
    let (lo, hi) = r
        .v_mv
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &v| {
            (a.min(v), b.max(v))
        });
    out += &format!("\nv range {:.2} .. {:.2} mV", lo, hi);
    out
}

fn units_table() -> String {
    let mut out = String::from("Unit names (combine with * and /, powers as cm2 or m^-2):\n  ");
    out += &units::common_unit_names().join(" ");
    out += "\nPrefixes: Y Z E P T G M k h da d c m u µ n p f a\n";
    out += "Canonical unit of each quantity (what results are shown in):\n";
    for c in CANONICAL {
        out += &format!(
            "  {:<22} {:<8} [{}]\n",
            c.quantity,
            c.unit,
            c.dim.si_string()
        );
    }
    out += "degC is an absolute temperature: differences of two are in K.";
    out
}

/// Name lookup for REPL expressions: lets, then declarations and model names.
struct Scope<'a> {
    session: &'a Session,
}

impl Names for Scope<'_> {
    fn lookup(&mut self, name: &str) -> Option<Val> {
        let s = self.session;
        if let Some((_, v)) = s.lets.iter().rev().find(|(n, _)| n == name) {
            return Some(v.clone());
        }
        if let Some(e) = s.entries.iter().find(|e| e.name.as_deref() == Some(name))
            && let Some(k) = e.kind
        {
            return Some(Val::Decl(k, name.to_string()));
        }
        let m = s.model();
        let kind = if m.mechanisms.iter().any(|x| x.name == name) {
            DeclKind::Mechanism
        } else if m.neurons.iter().any(|x| x.name == name) {
            DeclKind::Neuron
        } else if m.networks.iter().any(|x| x.name == name) {
            DeclKind::Network
        } else if m.experiments.iter().any(|x| x.name == name) {
            DeclKind::Experiment
        } else {
            return None;
        };
        Some(Val::Decl(kind, name.to_string()))
    }

    fn candidates(&self) -> Vec<String> {
        self.session.names()
    }
}

/// The directory a REPL started in resolves relative paths.
pub fn default_base_dir() -> PathBuf {
    std::env::current_dir().unwrap_or_else(|_| Path::new(".").to_path_buf())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session() -> Session {
        Session::new(env!("CARGO_MANIFEST_DIR"), false)
    }

    #[test]
    fn unit_arithmetic_prints_canonical_units() {
        let mut s = session();
        assert_eq!(s.handle("1 nA * 100 Mohm").out, "= 100 mV\n");
        assert_eq!(s.handle("2 ms + 1 s").out, "= 1002 ms\n");
        assert_eq!(s.handle("1 mV * 1 ms").out, "= 1e-6 [m^2·kg·s^-2·A^-1]\n");
        let r = s.handle("1 mV + 1 ms");
        assert!(r.error && r.out.contains("E0303"), "{}", r.out);
    }

    #[test]
    fn lets_accumulate_and_bad_items_roll_back() {
        let mut s = session();
        assert_eq!(s.handle("let tau = 20 ms").out, "tau = 20 ms\n");
        assert_eq!(s.handle("tau * 2").out, "= 40 ms\n");
        let r = s.handle("let bad = tau + 1 mV");
        assert!(r.error && r.out.contains("E0303"), "{}", r.out);
        assert!(!s.source().contains("bad"));
        assert_eq!(s.handle("let tau = 5 ms").out, "tau = 5 ms\n");
        assert_eq!(s.handle("tau").out, "= 5 ms\n");
        assert_eq!(s.source(), "let tau = 5 ms\n");
    }

    #[test]
    fn a_pasted_block_is_handled_input_by_input() {
        let mut s = session();
        let r = s.handle("let a = 1 mV\nlet b = [a,\n  2 mV]\n\nb[1] + a\n");
        assert!(!r.error, "{}", r.out);
        assert!(r.out.contains("= 3 mV"), "{}", r.out);
        assert_eq!(
            Session::split_inputs("let a = 1\nlet b = [a,\n 2]\nb"),
            vec!["let a = 1", "let b = [a,\n 2]", "b"]
        );
        // An error in one input does not stop the others.
        let r = s.handle("let c = 1 mV + 1 ms\nlet d = 4 mV\nd");
        assert!(r.error && r.out.contains("= 4 mV"), "{}", r.out);
    }

    #[test]
    fn incomplete_inputs_continue() {
        assert!(Session::is_incomplete("neuron A {\n soma {"));
        assert!(Session::is_incomplete("1 +"));
        assert!(!Session::is_incomplete("1 + 2"));
        assert!(!Session::is_incomplete(":load x"));
        assert!(!Session::is_incomplete("1 + )"));
    }

    #[test]
    fn commands() {
        let mut s = session();
        assert!(s.handle(":type 3 mV").out.contains("voltage"));
        assert!(s.handle(":units").out.contains("mV"));
        let r = s.handle(":lod x");
        assert!(r.error && r.out.contains(":load"), "{}", r.out);
        assert!(s.handle(":quit").quit);
        let r = s.handle(":db list");
        assert!(r.error && r.out.contains("ls"), "{}", r.out);
    }

    #[test]
    fn analyze_and_plot_commands() {
        let mut s = session();
        let r = s.handle(":analyze bogus");
        assert!(r.error && r.out.contains("bogus"), "{}", r.out);
        let r = s.handle(":analyze spikes /nonexistent/store E/traces/soma.v");
        assert!(r.error && r.out.contains("E0902"), "{}", r.out);
        // A store with one trace table: two upward crossings of 0 mV.
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("db");
        let st = crate::store::Store::create(&dir).unwrap();
        let t = crate::store::Table::traces(
            vec!["p000000/t000000".into()],
            &[0.0, 1.0, 2.0, 3.0, 4.0],
            crate::store::table::one_row(vec![-70.0, 10.0, -70.0, 5.0, -70.0]),
        );
        st.put_table("E/traces/soma.v", &t, Default::default())
            .unwrap();
        let r = s.handle(&format!(
            ":analyze spikes {} E/traces/soma.v",
            dir.display()
        ));
        assert!(!r.error, "{}", r.out);
        assert!(
            r.out.contains("wrote E/analysis/spike_times/soma.v"),
            "{}",
            r.out
        );
        assert!(r.out.contains("p000000: 2.00"), "{}", r.out);
        let png = dir.with_extension("png");
        let r = s.handle(&format!(
            ":plot traces {} E/traces/soma.v -o {}",
            dir.display(),
            png.display()
        ));
        assert!(!r.error && png.is_file(), "{}", r.out);
        // `:reduce`: clap's usage for a bad subcommand, the store check of `isf reduce`.
        let r = s.handle(":reduce bogus");
        assert!(r.error && r.out.contains("bogus"), "{}", r.out);
        let r = s.handle(":reduce fit /nonexistent/store --keys A");
        assert!(r.error && r.out.contains("E0910"), "{}", r.out);
    }

    #[test]
    fn load_and_run_a_neuron() {
        let mut s = session();
        let r = s.handle(":load examples/quickstart.isf");
        assert!(!r.error, "{}", r.out);
        assert!(r.out.contains("neuron L5PT"), "{}", r.out);
        let r = s.handle(":run quickstart 3 nA");
        assert!(!r.error, "{}", r.out);
        // The full engine: a 3 nA step makes the Hay cell fire repetitively.
        assert!(!r.out.contains("NOT simulated"), "{}", r.out);
        let n: usize = r
            .out
            .split("spikes (upward crossings of 0 mV): ")
            .nth(1)
            .and_then(|t| t.split_whitespace().next())
            .and_then(|n| n.parse().ok())
            .unwrap_or(0);
        assert!(n >= 5, "{}", r.out);
        let r = s.handle(":run L5PT 1 mV");
        assert!(r.error && r.out.contains("E0301"), "{}", r.out);
        let r = s.handle(":run L5T");
        assert!(r.error && r.out.contains("L5PT"), "{}", r.out);
    }
}
