//! The checker: imports and name resolution across files and the stdlib, declaration schemas,
//! mechanism bodies, and construction of the lowered [`Model`].
//!
//! Everything is reported, nothing aborts: each problem becomes a diagnostic and the erroneous
//! part is skipped, so one run lists all mistakes of a script.

mod deferred;
mod experiment;
mod imports;
mod lets;
mod mechanism;
mod network;
mod neuron;
mod sweeps;
mod values;

pub use deferred::{Check, Deferred, NeuronCheck, Part, Pending, PlacementCheck};
use lets::*;
use values::*;
pub use values::{RECORDABLE, lower_val};

use super::builtins::{self, POSITION_VARS};
use super::decls;
use super::eval::{Evaluator, Names, resolve_unit};
use super::sweep::{Schema, SchemaInput, ValueKind};
use super::typed;
use super::value::{Obj, Val};
use crate::diagnostics::{Code, Diagnostic, did_you_mean, did_you_mean_hint};
use crate::model::ex::Ex;
use crate::model::sweep::{SweepTarget, SweepValue};
use crate::model::{self, *};
use crate::rules;
use crate::source::{FileId, Origin, SourceMap, Span};
use crate::syntax::ast::{
    self, BinOp, Block, DeclBody, DeclKind, Entry, ImportNames, ImportTarget,
};
use crate::syntax::parser;
use crate::units::{self, Dim};
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

/// Result of checking a script.
pub struct Checked {
    pub sources: SourceMap,
    pub diagnostics: Vec<Diagnostic>,
    pub model: Model,
    /// The root file's id.
    pub root: Option<FileId>,
    /// The sweepable paths of each experiment of the model (same order as
    /// `model.experiments`).
    pub schemas: Vec<Schema>,
    /// The checks that need the lowered cell or a compiled synapse, left to the validate
    /// pass (`crate::validate::run`, which `crate::validate::check_path` runs): until it has
    /// run, the diagnostics are incomplete and an accepted script may still be rejected.
    pub pending: Pending,
}

impl Checked {
    /// True when there are errors (warnings do not count).
    pub fn has_errors(&self) -> bool {
        crate::diagnostics::has_errors(&self.diagnostics)
    }
}

/// Check a script file on disk.
pub fn check_path(path: &Path) -> Checked {
    let mut s = Session::default();
    let root = match crate::files::read_text(path, crate::files::SCRIPT_LIMIT) {
        Ok(text) => {
            let origin = Origin::Path(normalize(path));
            Some(s.load(origin, path.display().to_string(), text, None))
        }
        Err(e) => {
            s.diags.push(
                Diagnostic::new(Code::E0203, format!("cannot read {}: {e}", path.display()))
                    .note("check the path and permissions"),
            );
            None
        }
    };
    s.finish(root)
}

/// Check a script given as text (tests, REPL); relative paths resolve against `base_dir`.
pub fn check_text(name: &str, text: &str, base_dir: &Path) -> Checked {
    let mut s = Session::default();
    let origin = Origin::Path(normalize(&base_dir.join(name)));
    let root = s.load(origin, name.to_string(), text.to_string(), None);
    s.finish(Some(root))
}

fn normalize(p: &Path) -> PathBuf {
    std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf())
}

/// A name bound at module level.
#[derive(Clone, Debug)]
enum Sym {
    Let(Val),
    Decl(usize),
    Mech(usize),
    Module(u32),
}

#[derive(Default)]
struct Module {
    syms: HashMap<String, (Sym, Span)>,
    /// Names declared in this module itself (what `*` imports).
    own: Vec<String>,
    /// The same names as a set: membership tests per declaration must not scan `own`, or a
    /// file of many lets checks in quadratic time.
    own_set: std::collections::HashSet<String>,
    used: HashMap<String, bool>,
    imports: Vec<(String, Span)>,
}

/// What the checker knows about a mechanism.
#[derive(Clone, Debug)]
pub struct MechInfo {
    pub name: String,
    pub sort: String,
    /// (name, dimension, canonical scale, unit) of each parameter.
    pub params: Vec<(String, Dim, f64, String)>,
    pub model: MechModel,
    pub span: Span,
}

#[derive(Default)]
struct Session {
    sources: SourceMap,
    diags: Vec<Diagnostic>,
    modules: Vec<Module>,
    loading: Vec<Origin>,
    loaded: HashMap<String, u32>,
    mechs: Vec<MechInfo>,
    decls: Vec<(DeclKind, String, u32)>,
    model: Model,
    /// Virtual modules generated from `isf_param(…)` and the module whose declaration
    /// made each one: the neuron belongs to that module.
    param_modules: Vec<(u32, u32)>,
    /// Neurons and networks checked in imported files; they join the model when an
    /// experiment of the root file uses them ([`Session::pull_imported`]).
    imported: Vec<ImportedDecl>,
    /// `(module, name)` of the imported declarations already in the model.
    pulled: Vec<(u32, String)>,
    /// The sweep schema of each experiment in the model.
    schemas: Vec<Schema>,
    /// Where a network's populations place declared synapses: network name (root file and
    /// imported) → population → (`location` span, `distance` span), for located errors
    /// when an experiment pairs the network with a neuron.
    placement_spans: HashMap<(u32, String), Vec<PlacementSpans>>,
    /// Checks left to the validate pass, and the parts of the output that depend on them.
    pending: Pending,
    /// The part being recorded (see [`Session::needs_neuron`]).
    open_part: Option<deferred::OpenPart>,
    /// Names the next loaded module starts with: the mechanisms a script hands to its
    /// `isf_param(…)` module, looked up before the stdlib (taken by [`Session::load`]).
    preset: Vec<(String, (Sym, Span))>,
}

/// A neuron or network declared in an imported file, with the mechanisms it uses.
struct ImportedDecl {
    module: u32,
    name: String,
    neuron: Option<NeuronModel>,
    network: Option<NetworkModel>,
    mechanisms: Vec<MechModel>,
    /// The deferred check of the neuron (index in `Pending::checks`).
    check: Option<usize>,
}

/// Where a population of declared synapses restricts their placement.
#[derive(Clone, Debug)]
pub struct PlacementSpans {
    pub population: String,
    /// The population's name.
    pub name: Span,
    /// Its `location:` value.
    pub location: Option<Span>,
    /// Its `distance:` value.
    pub distance: Option<Span>,
}

/// Name lookup for one module plus local scopes.
struct Scope<'a> {
    modules: &'a mut Vec<Module>,
    mechs: &'a [MechInfo],
    decls: &'a [(DeclKind, String, u32)],
    module: u32,
    locals: Vec<(String, Val)>,
    /// Inside a synapse's `event` block: the number of draws so far (`None` elsewhere:
    /// draws are refused).
    draws: Option<usize>,
}

impl Names for Scope<'_> {
    fn draw(&mut self, kind: crate::model::ex::Draw) -> Option<Ex> {
        let k = self.draws.as_mut()?;
        *k += 1;
        Some(Ex::var(&kind.var(*k - 1), 1.0))
    }

    fn lookup(&mut self, name: &str) -> Option<Val> {
        if let Some((_, v)) = self.locals.iter().rev().find(|(n, _)| n == name) {
            return Some(v.clone());
        }
        let m = &mut self.modules[self.module as usize];
        let (sym, _) = m.syms.get(name)?.clone();
        m.used.insert(name.to_string(), true);
        Some(sym_val(&sym, self.mechs, self.decls))
    }

    fn candidates(&self) -> Vec<String> {
        let mut v: Vec<String> = self.locals.iter().map(|(n, _)| n.clone()).collect();
        v.extend(self.modules[self.module as usize].syms.keys().cloned());
        v
    }

    fn module_member(&mut self, module: u32, name: &str) -> Option<Val> {
        let m = &self.modules[module as usize];
        if !m.own_set.contains(name) {
            return None;
        }
        let (sym, _) = m.syms.get(name)?.clone();
        Some(sym_val(&sym, self.mechs, self.decls))
    }
}

fn sym_val(sym: &Sym, mechs: &[MechInfo], decls: &[(DeclKind, String, u32)]) -> Val {
    match sym {
        Sym::Let(v) => v.clone(),
        Sym::Decl(i) => Val::Decl(decls[*i].0, decls[*i].1.clone()),
        Sym::Mech(i) => Val::Decl(DeclKind::Mechanism, mechs[*i].name.clone()),
        Sym::Module(m) => Val::Module(*m),
    }
}

/// Where each mechanism parameter of a region is written: (mechanism, parameter) → span.
pub type ParamSpans = HashMap<(String, String), Span>;

/// Region names a neuron accepts, with the ISF label each one maps to: the morphology's one
/// table (its labels), not a copy.
pub use crate::morph::REGIONS;

/// Ions mechanisms may use, with the variables they provide: (ion, reversal, current,
/// inside concentration).
pub const IONS: &[(&str, &str, &str, &str)] = &[
    ("na", "ena", "ina", "nai"),
    ("k", "ek", "ik", "ki"),
    ("ca", "eca", "ica", "cai"),
];

impl Session {
    fn finish(mut self, root: Option<FileId>) -> Checked {
        self.close_part();
        // Unused top-level lets and imports of the root module are warnings.
        if let Some(m) = self.modules.first() {
            let mut warn = Vec::new();
            for (name, (sym, span)) in &m.syms {
                if matches!(sym, Sym::Let(_))
                    && !m.used.get(name).copied().unwrap_or(false)
                    && m.own_set.contains(name)
                {
                    warn.push(
                        Diagnostic::new(Code::W0101, format!("`{name}` is never used"))
                            .label(*span, "defined here")
                            .help(format!(
                                "remove it, or prefix it with an underscore: `_{name}`"
                            )),
                    );
                }
            }
            for (name, span) in &m.imports {
                let used = m.used.iter().any(|(n, u)| *u && (n == name || name == "*"));
                if !used && name != "*" {
                    warn.push(
                        Diagnostic::new(
                            Code::W0102,
                            format!("`{name}` is imported but never used"),
                        )
                        .label(*span, "imported here"),
                    );
                }
            }
            warn.retain(|d| !d.message.starts_with("`_"));
            warn.sort_by_key(|d| d.primary_span().map(|s| (s.file, s.start)));
            self.diags.extend(warn);
        }
        self.model.version = model::MODEL_VERSION;
        Checked {
            sources: self.sources,
            diagnostics: self.diags,
            model: self.model,
            root,
            schemas: self.schemas,
            pending: self.pending,
        }
    }

    /// Load, parse and check one module; returns its file id.
    fn load(&mut self, origin: Origin, name: String, text: String, _from: Option<Span>) -> FileId {
        let file = self.sources.add(origin.clone(), name, text);
        let mid = self.modules.len() as u32;
        let mut module = Module::default();
        module.syms.extend(std::mem::take(&mut self.preset));
        self.modules.push(module);
        self.loading.push(origin);
        let text = self.sources.get(file).text.clone();
        let parsed = parser::parse_file(file, &text);
        self.diags.extend(parsed.diagnostics);
        let ast = parsed.file;
        let base = self.sources.get(file).base_dir();
        // 1. imports
        for item in &ast.items {
            if let ast::Item::Import(imp) = item {
                self.import(mid, imp, &base);
            }
        }
        // 2. declare names (duplicates reported here)
        for item in &ast.items {
            let (name, kind) = match item {
                ast::Item::Decl(d) => (&d.name, Some(d.kind)),
                ast::Item::Let(l) => (&l.name, None),
                ast::Item::Import(_) => continue,
            };
            let m = &mut self.modules[mid as usize];
            if m.own_set.contains(&name.name) {
                let prev = m.syms.get(&name.name).map(|s| s.1);
                let mut d =
                    Diagnostic::new(Code::E0105, format!("`{}` is declared twice", name.name))
                        .label(name.span, "declared again here");
                if let Some(p) = prev {
                    d = d.label(p, "first declared here");
                }
                self.diags.push(d);
                continue;
            }
            if let Some((_, prev)) = m.syms.get(&name.name)
                && !m.own_set.contains(&name.name)
            {
                self.diags.push(
                    Diagnostic::new(
                        Code::W0104,
                        format!("`{}` shadows an imported name", name.name),
                    )
                    .label(name.span, "this declaration hides the import")
                    .label(*prev, "imported from here"),
                );
            }
            m.own.push(name.name.clone());
            m.own_set.insert(name.name.clone());
            let sym = match kind {
                Some(k) => {
                    self.decls.push((k, name.name.clone(), mid));
                    Sym::Decl(self.decls.len() - 1)
                }
                None => Sym::Let(Val::Err),
            };
            self.modules[mid as usize]
                .syms
                .insert(name.name.clone(), (sym, name.span));
        }
        // 3. top-level lets, each after the lets it names (so a forward reference sees the
        //    value, not the `Val::Err` placeholder, which would silently poison everything
        //    that uses it); a let that depends on itself is E0212.
        let lets: Vec<&ast::Let> = ast
            .items
            .iter()
            .filter_map(|item| match item {
                ast::Item::Let(l)
                    if self.modules[mid as usize]
                        .syms
                        .get(&l.name.name)
                        .is_some_and(|(sym, at)| {
                            matches!(sym, Sym::Let(_)) && *at == l.name.span
                        }) =>
                {
                    Some(l)
                }
                _ => None,
            })
            .collect();
        let (order, cycles) = let_order(&lets);
        for cycle in &cycles {
            self.diags.push(cycle_diagnostic(&lets, cycle));
            // The error says all there is to say: no "never used" warning on top.
            for &(i, _) in cycle {
                self.modules[mid as usize]
                    .used
                    .insert(lets[i].name.name.clone(), true);
            }
        }
        for &i in &order {
            if cycles.iter().any(|c| c.iter().any(|&(j, _)| j == i)) {
                continue;
            }
            let l = lets[i];
            {
                let mut ev_diags = Vec::new();
                let v = {
                    let mut scope = self.scope(mid);
                    let mut ev = Evaluator {
                        diags: &mut ev_diags,
                        base_dir: base.clone(),
                    };
                    let v = ev.eval(&l.value, &mut scope);
                    check_annotation(&mut ev, v, l.ty.as_ref(), l.value.span)
                };
                self.diags.extend(ev_diags);
                let m = &mut self.modules[mid as usize];
                if let Some(entry) = m.syms.get_mut(&l.name.name) {
                    entry.0 = Sym::Let(v);
                }
            }
        }
        // 4. declarations: mechanisms first (neurons need their parameters)
        for pass in [
            DeclKind::Mechanism,
            DeclKind::Neuron,
            DeclKind::Network,
            DeclKind::Experiment,
        ] {
            for item in &ast.items {
                if let ast::Item::Decl(d) = item
                    && d.kind == pass
                {
                    self.decl(mid, d, &base);
                }
            }
        }
        self.loading.pop();
        file
    }

    fn scope(&mut self, module: u32) -> Scope<'_> {
        Scope {
            modules: &mut self.modules,
            mechs: &self.mechs,
            decls: &self.decls,
            module,
            locals: Vec::new(),
            draws: None,
        }
    }

    fn decl(&mut self, mid: u32, d: &ast::Decl, base: &Path) {
        // A part that needs a neuron ends with the declaration that began it.
        self.close_part();
        // Only the first declaration of a name is checked further.
        let m = &self.modules[mid as usize];
        if m.syms.get(&d.name.name).map(|s| s.1) != Some(d.name.span) {
            return;
        }
        match (&d.body, d.kind) {
            (DeclBody::Block(b), DeclKind::Mechanism) => self.mechanism(mid, d, b, base),
            (DeclBody::Block(b), DeclKind::Neuron) => self.neuron(mid, &d.name, b, base),
            (DeclBody::Block(b), DeclKind::Network) => self.network(mid, &d.name, b, base),
            (DeclBody::Block(b), DeclKind::Experiment) => self.experiment(mid, &d.name, b, base),
            (DeclBody::Expr(e), kind) => {
                let mut diags = Vec::new();
                let v = {
                    let mut scope = self.scope(mid);
                    let mut ev = Evaluator {
                        diags: &mut diags,
                        base_dir: base.to_path_buf(),
                    };
                    ev.eval(e, &mut scope)
                };
                self.diags.extend(diags);
                let want = match kind {
                    DeclKind::Neuron => "isf_param",
                    DeclKind::Network => "isf_network_param",
                    _ => "",
                };
                match v {
                    Val::Obj(o) if o.kind == want => {
                        let path = match o.get("path") {
                            Some(Val::Str(s)) => s.clone(),
                            _ => String::new(),
                        };
                        if kind == DeclKind::Neuron {
                            self.isf_param_neuron(mid, &d.name, &path, e.span);
                        } else {
                            self.add_network(
                                mid,
                                NetworkModel {
                                    name: d.name.name.clone(),
                                    isf_network_param: Some(path),
                                    populations: vec![],
                                },
                                Vec::new(),
                            );
                        }
                    }
                    Val::Err => {}
                    other => {
                        let mut diag = Diagnostic::new(
                            Code::E0306,
                            format!("a {} cannot be defined by this value", kind.as_str()),
                        )
                        .label(e.span, format!("this is {}", other.type_name()));
                        if !want.is_empty() {
                            diag = diag.help(format!(
                                "write `{} {} = {want}(\"file.param\")` or give a block",
                                kind.as_str(),
                                d.name.name
                            ));
                        }
                        self.diags.push(diag);
                    }
                }
            }
        }
    }
}
