//! The checker: imports and name resolution across files and the stdlib, declaration schemas,
//! mechanism bodies, and construction of the lowered [`Model`].
//!
//! Everything is reported, nothing aborts: each problem becomes a diagnostic and the erroneous
//! part is skipped, so one run lists all mistakes of a script.

use super::builtins::{self, POSITION_VARS};
use super::eval::{Evaluator, Names, resolve_unit};
use super::ex::Ex;
use super::sweep::{Schema, SchemaInput, SweepTarget, SweepValue, ValueKind};
use super::typed;
use super::value::{Obj, Val};
use crate::diagnostics::{Code, Diagnostic, suggest};
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

/// The part of a mechanism a region needs: its name, sort and parameter table.
struct MechSig {
    name: String,
    sort: String,
    params: Vec<(String, Dim, f64, String)>,
    span: Span,
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
    /// Morphologies read while lowering neurons, by path (each file is read once).
    morphologies: HashMap<String, MorphRead>,
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
}

/// A synapse mechanism visible in a module: (name, index in `mechs`, parameters).
type VisibleSynapse = (String, usize, Vec<(String, Dim)>);

/// Where a population of declared synapses restricts their placement.
#[derive(Clone, Debug)]
struct PlacementSpans {
    population: String,
    name: Span,
    location: Option<Span>,
    distance: Option<Span>,
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
    fn draw(&mut self, kind: crate::sema::ex::Draw) -> Option<Ex> {
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

/// A morphology read for lowering, or why it could not be read.
type MorphRead = Result<crate::morph::Morphology, Box<crate::lower::cell::LowerError>>;

/// Where each mechanism parameter of a region is written: (mechanism, parameter) → span.
type ParamSpans = HashMap<(String, String), Span>;

/// Region names a neuron accepts, with the ISF label each one maps to.
pub const REGIONS: &[(&str, &str)] = &[
    ("soma", "Soma"),
    ("dendrite", "Dendrite"),
    ("apical_dendrite", "ApicalDendrite"),
    ("ais", "AIS"),
    ("myelin", "Myelin"),
    ("node", "Node"),
    ("axon", "Axon"),
    ("all", "*"),
];

/// Ions mechanisms may use, with the variables they provide: (ion, reversal, current,
/// inside concentration).
pub const IONS: &[(&str, &str, &str, &str)] = &[
    ("na", "ena", "ina", "nai"),
    ("k", "ek", "ik", "ki"),
    ("ca", "eca", "ica", "cai"),
];

impl Session {
    fn finish(mut self, root: Option<FileId>) -> Checked {
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

    fn import(&mut self, mid: u32, imp: &ast::Import, base: &Path) {
        let (target_mod, names, label_span) = match &imp.target {
            ImportTarget::File { path, span } => {
                let full = normalize(&base.join(path));
                let origin = Origin::Path(full.clone());
                // Only `.isf` scripts are imported: a parse error quotes the imported text, and
                // that must be the user's source, never an arbitrary file's content.
                let is_isf = Path::new(path).extension().is_some_and(|e| e == "isf");
                let Some(m) = self.load_dep(origin, path.clone(), *span, || {
                    if !is_isf {
                        return Err("not an `.isf` script: imports name `.isf` files".into());
                    }
                    crate::files::read_text(&full, crate::files::SCRIPT_LIMIT).map_err(
                        |e| match e {
                            crate::files::ReadError::NotText => {
                                "not an isf script: not UTF-8 text, or holds NUL bytes".into()
                            }
                            e => e.to_string(),
                        },
                    )
                }) else {
                    return;
                };
                (m, ImportNames::Glob(*span), *span)
            }
            ImportTarget::Module { path, names } => {
                let parts: Vec<&str> = path.iter().map(|p| p.name.as_str()).collect();
                let span = path
                    .first()
                    .map(|p| p.span)
                    .unwrap_or(imp.span)
                    .to(path.last().map(|p| p.span).unwrap_or(imp.span));
                if parts.first() != Some(&"std") {
                    self.diags.push(
                        Diagnostic::new(
                            Code::E0202,
                            format!("unknown module `{}`", parts.join(".")),
                        )
                        .label(span, "module paths start with `std`")
                        .help("import your own files by path: `import \"cells/my_cell.isf\"`"),
                    );
                    return;
                }
                let Some((name, text)) = crate::stdlib::module(&parts[1..]) else {
                    let all = crate::stdlib::module_names();
                    let wanted = parts.join(".");
                    let mut d =
                        Diagnostic::new(Code::E0202, format!("unknown stdlib module `{wanted}`"))
                            .label(span, "no such module");
                    if let Some(s) = suggest(&wanted, all.iter().map(String::as_str)) {
                        d = d.help(format!("did you mean `{s}`?"));
                    } else {
                        d = d.note(format!("stdlib modules: {}", all.join(", ")));
                    }
                    self.diags.push(d);
                    return;
                };
                let origin = Origin::Stdlib(name.clone());
                let Some(m) = self.load_dep(origin, name, span, || Ok(text.to_string())) else {
                    return;
                };
                (m, names.clone(), span)
            }
        };
        let own: Vec<String> = self.modules[target_mod as usize].own.clone();
        let bind = |s: &mut Self, name: &str, span: Span| {
            let sym = s.modules[target_mod as usize]
                .syms
                .get(name)
                .map(|x| x.0.clone());
            if let Some(sym) = sym {
                let m = &mut s.modules[mid as usize];
                m.syms.insert(name.to_string(), (sym, span));
            }
        };
        match names {
            ImportNames::Glob(_) => {
                for n in &own {
                    bind(self, n, label_span);
                }
                self.modules[mid as usize]
                    .imports
                    .push(("*".into(), label_span));
            }
            ImportNames::List(list) => {
                for id in list {
                    if own.contains(&id.name) {
                        bind(self, &id.name, id.span);
                        self.modules[mid as usize]
                            .imports
                            .push((id.name.clone(), id.span));
                    } else {
                        let mut d = Diagnostic::new(
                            Code::E0205,
                            format!("module has no declaration `{}`", id.name),
                        )
                        .label(id.span, "not found in the module");
                        if let Some(s) = suggest(&id.name, own.iter().map(String::as_str)) {
                            d = d.help(format!("did you mean `{s}`?"));
                        }
                        self.diags.push(d);
                    }
                }
            }
            ImportNames::Module => {
                let alias =
                    imp.alias
                        .as_ref()
                        .map(|a| a.name.clone())
                        .or_else(|| match &imp.target {
                            ImportTarget::Module { path, .. } => {
                                path.last().map(|p| p.name.clone())
                            }
                            _ => None,
                        });
                if let Some(a) = alias {
                    let m = &mut self.modules[mid as usize];
                    m.syms
                        .insert(a.clone(), (Sym::Module(target_mod), label_span));
                    m.imports.push((a, label_span));
                }
            }
        }
    }

    fn load_dep(
        &mut self,
        origin: Origin,
        name: String,
        span: Span,
        read: impl FnOnce() -> Result<String, String>,
    ) -> Option<u32> {
        if self.loading.contains(&origin) {
            let mut d = Diagnostic::new(
                Code::E0204,
                format!("import cycle: `{name}` imports itself"),
            )
            .label(span, "this import closes a cycle");
            let chain: Vec<String> = self
                .loading
                .iter()
                .map(|o| match o {
                    Origin::Path(p) => p
                        .file_name()
                        .map(|f| f.to_string_lossy().into_owned())
                        .unwrap_or_default(),
                    Origin::Stdlib(s) | Origin::Virtual(s) => s.clone(),
                })
                .collect();
            d = d.note(format!("import chain: {} → {name}", chain.join(" → ")));
            self.diags.push(d);
            return None;
        }
        let key = format!("{origin:?}");
        if let Some(&m) = self.loaded.get(&key) {
            return Some(m);
        }
        let text = match read() {
            Ok(t) => t,
            Err(e) => {
                self.diags.push(
                    Diagnostic::new(Code::E0203, format!("cannot import `{name}`"))
                        .label(span, e)
                        .note("import paths are relative to the importing file"),
                );
                return None;
            }
        };
        let mid = self.modules.len() as u32;
        self.load(origin, name, text, Some(span));
        self.loaded.insert(key, mid);
        Some(mid)
    }

    fn decl(&mut self, mid: u32, d: &ast::Decl, base: &Path) {
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

    // ------------------------------------------------------------------ mechanisms

    fn mechanism(&mut self, mid: u32, d: &ast::Decl, b: &Block, base: &Path) {
        let sort = d
            .sort
            .as_ref()
            .map(|s| s.name.clone())
            .unwrap_or_else(|| "density".into());
        if let Some(s) = &d.sort
            && !["density", "point", "synapse"].contains(&s.name.as_str())
        {
            self.diags.push(
                Diagnostic::new(Code::E0404, format!("unknown mechanism sort `{}`", s.name))
                    .label(s.span, "expected `density`, `point` or `synapse`"),
            );
        }
        let synapse = sort == "synapse";
        let current_dim = if sort == "point" || synapse {
            Dim::CURRENT
        } else {
            Dim([-2, 0, 0, 1, 0, 0])
        };
        let mut diags = Vec::new();
        let mut mm = MechModel {
            name: d.name.name.clone(),
            sort: sort.clone(),
            origin: self.origin_string(d.name.span),
            ions: vec![],
            parameters: vec![],
            states: vec![],
            currents: vec![],
            weights: vec![],
            events: vec![],
        };
        let mut params = Vec::new();
        let mut weights_span: Option<Span> = None;
        let mut weight_names: Vec<(String, Span)> = Vec::new();
        let mut event_span: Option<Span> = None;
        // States the event block sets (a synapse state without an equation is held between
        // events).
        let mut event_states: Vec<String> = Vec::new();
        // Whether any `current` is declared (one that does not check is reported already).
        let mut current_declared = false;
        let mut locals: Vec<(String, Val)> = vec![
            ("v".into(), q_var("v", Dim::VOLTAGE)),
            ("t".into(), q_var("t", Dim::TIME)),
            (
                "celsius".into(),
                Val::Q {
                    dim: Dim::TEMPERATURE,
                    abs: true,
                    ex: Ex::bin(BinOp::Add, Ex::var("celsius", 1.0), Ex::Const(273.15)),
                },
            ),
            (
                "FARADAY".into(),
                Val::si(96485.33212, Dim([0, 0, 1, 1, 0, -1])),
            ),
            (
                "R_GAS".into(),
                Val::si(8.314462618, Dim([2, 1, -2, 0, -1, -1])),
            ),
            ("PI".into(), Val::num(std::f64::consts::PI)),
        ];
        if sort == "point" {
            locals.push(("area".into(), q_var("area", Dim([2, 0, 0, 0, 0, 0]))));
        }
        // writes: name -> ion
        let mut ion_writes: HashMap<String, String> = HashMap::new();
        let mut declared_states: Vec<(String, Span, Dim)> = Vec::new();
        let mut integrated: Vec<String> = Vec::new();
        let mut seen: HashMap<String, Span> = HashMap::new();
        {
            let mut scope = self.scope(mid);
            scope.locals = locals;
            let mut ev = Evaluator {
                diags: &mut diags,
                base_dir: base.to_path_buf(),
            };
            for entry in &b.entries {
                match entry {
                    Entry::Block(sb) if synapse && (sb.head.name == "ion" || sb.head.name == "gate") => {
                        ev.diags.push(Diagnostic::new(Code::E0403, format!("a synapse has no `{}` blocks", sb.head.name)).label(sb.head.span, "not allowed in a synapse").help("synapse states change by `derivative` equations and in the `event` block"));
                    }
                    Entry::Field(f) if synapse && f.name.name == "weights" => {
                        if let Some(prev) = weights_span {
                            ev.diags.push(Diagnostic::new(Code::E0104, "`weights` given twice").label(f.name.span, "given again here").label(prev, "first given here"));
                            continue;
                        }
                        weights_span = Some(f.name.span);
                        match name_list(&f.value) {
                            Some(names) => weight_names = names,
                            None => ev.diags.push(Diagnostic::new(Code::E0306, "expected a list of parameter names").label(f.value.span, "e.g. `weights: [w_ampa, w_nmda]`")),
                        }
                    }
                    Entry::Block(sb) if synapse && sb.head.name == "event" => {
                        if let Some(prev) = event_span {
                            ev.diags.push(Diagnostic::new(Code::E0104, "a synapse has one `event` block").label(sb.head.span, "given again here").label(prev, "first given here"));
                            continue;
                        }
                        event_span = Some(sb.head.span);
                        let mut given: HashMap<String, Span> = HashMap::new();
                        // Event-local lets and draws: visible to the rest of this block only.
                        let depth = scope.locals.len();
                        scope.draws = Some(0);
                        for en in &sb.body.entries {
                            if let Entry::Let(l) = en {
                                let v = ev.eval(&l.value, &mut scope);
                                let v = check_annotation(&mut ev, v, l.ty.as_ref(), l.value.span);
                                scope.locals.push((l.name.name.clone(), v));
                                continue;
                            }
                            let Entry::Field(f) = en else {
                                ev.diags.push(Diagnostic::new(Code::E0401, "an event block has `let`s and `state: new value` entries only").label(en.span(), "unexpected entry").help("e.g. `event { A: A + w * factor }`"));
                                continue;
                            };
                            let Some((_, _, sdim)) = declared_states.iter().find(|x| x.0 == f.name.name).cloned() else {
                                let mut dg = Diagnostic::new(Code::E0201, format!("`{}` is not a state of this synapse", f.name.name)).label(f.name.span, "declare it first with `state`");
                                if let Some(s) = suggest(&f.name.name, declared_states.iter().map(|s| s.0.as_str())) {
                                    dg = dg.help(format!("did you mean `{s}`?"));
                                }
                                ev.diags.push(dg);
                                continue;
                            };
                            if let Some(prev) = given.get(&f.name.name) {
                                ev.diags.push(Diagnostic::new(Code::E0104, format!("`{}` set twice in one event", f.name.name)).label(f.name.span, "set again here").label(*prev, "first set here"));
                                continue;
                            }
                            given.insert(f.name.name.clone(), f.name.span);
                            let v = ev.eval(&f.value, &mut scope);
                            let v = ev.expect_dim(v, sdim, f.value.span, &format!("the new value of `{}`", f.name.name));
                            if let Val::Q { ex, .. } = v {
                                let (scale, _) = units::canonical_scale(sdim);
                                mm.events.push(crate::model::EventAssign { state: f.name.name.clone(), expr: ex.canonical(scale) });
                            }
                        }
                        scope.locals.truncate(depth);
                        scope.draws = None;
                        event_states.extend(given.into_keys());
                    }
                    Entry::Block(sb) if sb.head.name == "ion" => {
                        let Some(ion) = &sb.name else {
                            ev.diags.push(Diagnostic::new(Code::E0101, "an ion block needs the ion's name").label(sb.head.span, "write e.g. `ion na { reads: ena, writes: ina }`"));
                            continue;
                        };
                        let Some(&(_, e, i, c)) = IONS.iter().find(|x| x.0 == ion.name) else {
                            let mut dg = Diagnostic::new(Code::E0411, format!("unknown ion `{}`", ion.name))
                                .label(ion.span, "isf knows the ions na, k and ca")
                                .help("for a non-specific current, declare `current i = …` without an ion block");
                            if let Some(s) = suggest(&ion.name, IONS.iter().map(|x| x.0)) {
                                dg = dg.help(format!("did you mean `{s}`?"));
                            }
                            ev.diags.push(dg);
                            continue;
                        };
                        let mut use_ = IonUse { ion: ion.name.clone(), reads: vec![], writes: vec![] };
                        for en in &sb.body.entries {
                            let Entry::Field(f) = en else {
                                ev.diags.push(Diagnostic::new(Code::E0401, "an ion block has only `reads` and `writes`").label(en.span(), "unexpected entry"));
                                continue;
                            };
                            let names = name_list(&f.value);
                            let write = match f.name.name.as_str() {
                                "reads" => false,
                                "writes" => true,
                                other => {
                                    let mut dg = Diagnostic::new(Code::E0401, format!("unknown field `{other}` in an ion block")).label(f.name.span, "expected `reads` or `writes`");
                                    if let Some(s) = suggest(other, ["reads", "writes"]) {
                                        dg = dg.help(format!("did you mean `{s}`?"));
                                    }
                                    ev.diags.push(dg);
                                    continue;
                                }
                            };
                            let Some(names) = names else {
                                ev.diags.push(Diagnostic::new(Code::E0306, "expected a name or a list of names").label(f.value.span, format!("e.g. `{}: [{e}, {i}]`", f.name.name)));
                                continue;
                            };
                            for (n, sp) in names {
                                let dim = if n == e { Dim::VOLTAGE } else if n == i { current_dim } else if n == c || n == format!("{}o", &c[..c.len() - 1]) { Dim::CONCENTRATION } else {
                                    ev.diags.push(Diagnostic::new(Code::E0201, format!("ion `{}` has no variable `{n}`", ion.name)).label(sp, format!("the {} ion provides {e}, {i} and {c}", ion.name)));
                                    continue;
                                };
                                if write {
                                    use_.writes.push(n.clone());
                                    ion_writes.insert(n.clone(), ion.name.clone());
                                    if n == c {
                                        // a written concentration is a state of this mechanism
                                        continue;
                                    }
                                } else {
                                    use_.reads.push(n.clone());
                                    scope.locals.push((n.clone(), q_var(&n, dim)));
                                }
                            }
                        }
                        mm.ions.push(use_);
                    }
                    Entry::Stmt(st) => {
                        for bnd in &st.bindings {
                            let declares = st.keyword.name != "derivative";
                            if let Some(prev) = seen.get(&bnd.name.name).copied().filter(|_| declares) {
                                ev.diags.push(Diagnostic::new(Code::E0105, format!("`{}` is declared twice in this mechanism", bnd.name.name)).label(bnd.name.span, "declared again here").label(prev, "first declared here"));
                                continue;
                            }
                            if declares {
                                seen.insert(bnd.name.name.clone(), bnd.name.span);
                            }
                            let ann = bnd.ty.as_ref().and_then(|t| ann_unit(t, ev.diags));
                            match st.keyword.name.as_str() {
                                "parameter" | "constant" => {
                                    let val = bnd.value.as_ref().map(|e| (ev.eval(e, &mut scope), e.span));
                                    let dim = match (&ann, &val) {
                                        (Some(u), Some((v, sp))) => {
                                            let v = ev.expect_dim(v.clone(), u.dim, *sp, &format!("default of `{}`", bnd.name.name));
                                            if v.is_err() { None } else { Some(u.dim) }
                                        }
                                        (Some(u), None) => Some(u.dim),
                                        (None, Some((Val::Q { dim, abs: false, .. }, _))) => Some(*dim),
                                        (None, Some((Val::Err, _))) => None,
                                        (None, Some((v, sp))) => {
                                            ev.diags.push(Diagnostic::new(Code::E0306, "a parameter must be a quantity").label(*sp, format!("this is {}", v.type_name())));
                                            None
                                        }
                                        (None, None) => {
                                            ev.diags.push(Diagnostic::new(Code::E0402, format!("parameter `{}` needs a unit or a default", bnd.name.name)).label(bnd.name.span, "write e.g. `parameter gbar: S/cm2 = 1e-5 S/cm2`"));
                                            None
                                        }
                                    };
                                    let Some(dim) = dim else {
                                        scope.locals.push((bnd.name.name.clone(), Val::Err));
                                        continue;
                                    };
                                    let (scale, unit) = units::canonical_scale(dim);
                                    let default = val.as_ref().and_then(|(v, _)| v.const_si()).map(|x| x / scale);
                                    if st.keyword.name == "parameter" {
                                        params.push((bnd.name.name.clone(), dim, scale, unit.clone()));
                                        mm.parameters.push(ParamModel { name: bnd.name.name.clone(), unit, default });
                                        scope.locals.push((bnd.name.name.clone(), Val::Q { dim, abs: false, ex: Ex::var(&bnd.name.name, scale) }));
                                    } else {
                                        scope.locals.push((bnd.name.name.clone(), val.map(|x| x.0).unwrap_or(Val::Err)));
                                    }
                                }
                                "state" => {
                                    let dim = ann.map(|u| u.dim).unwrap_or(Dim::ONE);
                                    let (scale, unit) = units::canonical_scale(dim);
                                    let mut init_expr = None;
                                    let init = match &bnd.value {
                                        Some(e) => {
                                            let v = ev.eval(e, &mut scope);
                                            let v = ev.expect_dim(v, dim, e.span, &format!("initial value of `{}`", bnd.name.name));
                                            let c = v.const_si().map(|x| x / scale);
                                            // An initial value may name parameters, nothing that
                                            // changes in time: a density state's is computed once per
                                            // compartment (`state cai: mM = minCai`), a synapse
                                            // state's once per synapse (`state u: 1 = u0`).
                                            if c.is_none() && let Val::Q { ex, .. } = &v {
                                                let mut used = Vec::new();
                                                ex.vars(&mut used);
                                                let bad = used.iter().find(|n| !params.iter().any(|p| &p.0 == *n));
                                                match bad {
                                                    None => init_expr = Some(ex.clone().canonical(scale)),
                                                    Some(bad) if synapse => {
                                                        let what = crate::sema::ex::Draw::parse_var(bad).map_or_else(|| format!("`{bad}`"), |(_, d)| format!("`{}()`", d.builtin()));
                                                        ev.diags.push(Diagnostic::new(Code::E0316, format!("the initial value of `{}` depends on {what}", bnd.name.name)).label(e.span, "a synapse state starts from constants and parameters only").help("states change in the `event` block and by `derivative` equations"));
                                                    }
                                                    Some(bad) => {
                                                        ev.diags.push(Diagnostic::new(Code::E0315, format!("the initial value of `{}` may name only parameters and constants", bnd.name.name)).label(e.span, format!("uses `{bad}`")).note("a state starts before anything else is computed; write its value with constants and `parameter`s"));
                                                    }
                                                }
                                            }
                                            c
                                        }
                                        None => None,
                                    };
                                    declared_states.push((bnd.name.name.clone(), bnd.name.span, dim));
                                    mm.states.push(StateModel { name: bnd.name.name.clone(), unit, init, init_expr, inf: None, tau_ms: None, derivative: None });
                                    scope.locals.push((bnd.name.name.clone(), Val::Q { dim, abs: false, ex: Ex::var(&bnd.name.name, scale) }));
                                }
                                "current" => {
                                    current_declared = true;
                                    let Some(e) = &bnd.value else {
                                        ev.diags.push(Diagnostic::new(Code::E0402, format!("current `{}` needs an expression", bnd.name.name)).label(bnd.name.span, "write `current i = g * (v - e)`"));
                                        continue;
                                    };
                                    let v = ev.eval(e, &mut scope);
                                    let what = if sort == "point" { "a point-process current" } else { "a density current" };
                                    let v = ev.expect_dim(v, current_dim, e.span, what);
                                    if let Val::Q { ex, .. } = v {
                                        let (scale, unit) = units::canonical_scale(current_dim);
                                        let ion = ion_writes.get(&bnd.name.name).cloned();
                                        mm.currents.push(CurrentModel { name: bnd.name.name.clone(), unit, ion, expr: ex.clone().canonical(scale) });
                                        scope.locals.push((bnd.name.name.clone(), Val::Q { dim: current_dim, abs: false, ex }));
                                    }
                                }
                                "derivative" => {
                                    let Some(e) = &bnd.value else { continue };
                                    let Some((_, _, sdim)) = declared_states.iter().find(|s| s.0 == bnd.name.name).cloned() else {
                                        ev.diags.push(Diagnostic::new(Code::E0201, format!("`{}` is not a state of this mechanism", bnd.name.name)).label(bnd.name.span, "declare it first with `state`"));
                                        continue;
                                    };
                                    let v = ev.eval(e, &mut scope);
                                    let want = sdim.div(Dim::TIME);
                                    let v = ev.expect_dim(v, want, e.span, &format!("the derivative of `{}`", bnd.name.name));
                                    if let Val::Q { ex, .. } = v {
                                        let (scale, _) = units::canonical_scale(sdim);
                                        if let Some(s) = mm.states.iter_mut().find(|s| s.name == bnd.name.name) {
                                            // unit/ms: divide SI by (scale / 1e-3)
                                            s.derivative = Some(ex.canonical(scale / 1e-3));
                                        }
                                        integrated.push(bnd.name.name.clone());
                                    }
                                }
                                other => {
                                    ev.diags.push(Diagnostic::new(Code::E0401, format!("`{other}` is not allowed in a mechanism")).label(st.keyword.span, "here"));
                                }
                            }
                        }
                    }
                    Entry::Let(l) => {
                        let v = ev.eval(&l.value, &mut scope);
                        let v = check_annotation(&mut ev, v, l.ty.as_ref(), l.value.span);
                        scope.locals.push((l.name.name.clone(), v));
                    }
                    Entry::Block(sb) if sb.head.name == "gate" => {
                        let Some(g) = &sb.name else {
                            ev.diags.push(Diagnostic::new(Code::E0101, "a gate block needs the state's name").label(sb.head.span, "write `gate m { inf: …, tau: … }`"));
                            continue;
                        };
                        if !declared_states.iter().any(|s| s.0 == g.name) {
                            let mut dg = Diagnostic::new(Code::E0201, format!("`{}` is not a state of this mechanism", g.name)).label(g.span, "declare it first with `state`");
                            if let Some(s) = suggest(&g.name, declared_states.iter().map(|s| s.0.as_str())) {
                                dg = dg.help(format!("did you mean `{s}`?"));
                            }
                            ev.diags.push(dg);
                            continue;
                        }
                        let depth = scope.locals.len();
                        let mut got: HashMap<&str, (Ex, Span)> = HashMap::new();
                        for en in &sb.body.entries {
                            match en {
                                Entry::Let(l) => {
                                    let v = ev.eval(&l.value, &mut scope);
                                    let v = check_annotation(&mut ev, v, l.ty.as_ref(), l.value.span);
                                    scope.locals.push((l.name.name.clone(), v));
                                }
                                Entry::Field(f) => {
                                    let (key, want): (&str, Dim) = match f.name.name.as_str() {
                                        "alpha" => ("alpha", Dim::FREQUENCY),
                                        "beta" => ("beta", Dim::FREQUENCY),
                                        "inf" => ("inf", Dim::ONE),
                                        "tau" => ("tau", Dim::TIME),
                                        other => {
                                            let mut dg = Diagnostic::new(Code::E0401, format!("unknown field `{other}` in a gate")).label(f.name.span, "a gate has alpha, beta, inf and tau");
                                            if let Some(s) = suggest(other, ["alpha", "beta", "inf", "tau"]) {
                                                dg = dg.help(format!("did you mean `{s}`?"));
                                            }
                                            ev.diags.push(dg);
                                            continue;
                                        }
                                    };
                                    if let Some((_, prev)) = got.get(key) {
                                        ev.diags.push(Diagnostic::new(Code::E0104, format!("`{key}` given twice")).label(f.name.span, "given again here").label(*prev, "first given here"));
                                        continue;
                                    }
                                    let v = ev.eval(&f.value, &mut scope);
                                    let v = ev.expect_dim(v, want, f.value.span, &format!("`{key}` of gate `{}`", g.name));
                                    if let Val::Q { ex, .. } = &v {
                                        got.insert(key, (ex.clone(), f.name.span));
                                    }
                                    // alpha and beta are visible to inf and tau
                                    scope.locals.push((key.to_string(), v));
                                }
                                other => ev.diags.push(Diagnostic::new(Code::E0401, "a gate block has fields and lets only").label(other.span(), "unexpected entry")),
                            }
                        }
                        scope.locals.truncate(depth);
                        let ab = got.get("alpha").zip(got.get("beta")).map(|(a, b)| (a.0.clone(), b.0.clone()));
                        let inf = got.get("inf").map(|x| x.0.clone()).or_else(|| ab.clone().map(|(a, b)| Ex::bin(BinOp::Div, a.clone(), Ex::bin(BinOp::Add, a, b))));
                        let tau = got.get("tau").map(|x| x.0.clone()).or_else(|| ab.map(|(a, b)| Ex::bin(BinOp::Div, Ex::Const(1.0), Ex::bin(BinOp::Add, a, b))));
                        match (inf, tau) {
                            (Some(inf), Some(tau)) => {
                                if let Some(s) = mm.states.iter_mut().find(|s| s.name == g.name) {
                                    s.inf = Some(inf);
                                    s.tau_ms = Some(tau.canonical(1e-3));
                                }
                                integrated.push(g.name.clone());
                            }
                            _ => ev.diags.push(Diagnostic::new(Code::E0402, format!("gate `{}` needs `inf` and `tau`, or `alpha` and `beta`", g.name)).label(sb.span, "incomplete gate")),
                        }
                    }
                    Entry::Block(sb) => {
                        let mut dg = Diagnostic::new(Code::E0403, format!("unknown block `{}` in a mechanism", sb.head.name)).label(sb.head.span, "mechanisms have `ion` and `gate` blocks");
                        if let Some(s) = suggest(&sb.head.name, ["ion", "gate"]) {
                            dg = dg.help(format!("did you mean `{s}`?"));
                        }
                        ev.diags.push(dg);
                    }
                    other => ev.diags.push(Diagnostic::new(Code::E0401, "unexpected entry in a mechanism").label(other.span(), "mechanisms contain ion, parameter, state, let, gate, derivative and current entries")),
                }
            }
        }
        for (name, span, _) in &declared_states {
            // A synapse state set only by the event block is held between events.
            let held = synapse && event_states.contains(name);
            if !integrated.contains(name) && !held {
                diags.push(
                    Diagnostic::new(
                        Code::E0410,
                        format!("state `{name}` has no gate or derivative"),
                    )
                    .label(*span, "declared here but never integrated")
                    .help(if synapse {
                        format!(
                            "add `derivative {name} = …`, or set it in the `event` block (it is then held between events)"
                        )
                    } else {
                        format!(
                            "add `gate {name} {{ inf: …, tau: … }}` or `derivative {name} = …`"
                        )
                    }),
                );
            }
        }
        if synapse {
            for (w, sp) in &weight_names {
                if mm.parameters.iter().any(|p| p.name == *w) {
                    mm.weights.push(w.clone());
                } else {
                    diags.push(
                        Diagnostic::new(
                            Code::E0201,
                            format!("weight `{w}` is not a parameter of this synapse"),
                        )
                        .label(*sp, "declare it with `parameter`"),
                    );
                }
            }
            if event_span.is_none() {
                diags.push(
                    Diagnostic::new(
                        Code::E0402,
                        format!("synapse `{}` has no `event` block", d.name.name),
                    )
                    .label(
                        d.name.span,
                        "a synapse needs to say what a release event does",
                    )
                    .help("e.g. `event { A: A + w, B: B + w }`"),
                );
            }
            if !current_declared {
                diags.push(
                    Diagnostic::new(
                        Code::E0402,
                        format!("synapse `{}` contributes no current", d.name.name),
                    )
                    .label(d.name.span, "declare `current i = g * (v - e)`"),
                );
            }
            if !crate::diagnostics::has_errors(&diags)
                && let Err(m) = crate::kernel::synapse::SynapseMech::analyse(&mm)
            {
                diags.push(
                    Diagnostic::new(Code::E0504, format!("synapse `{}` cannot be simulated: {m}", d.name.name))
                        .label(d.name.span, "declared here")
                        .note("synapse states must follow linear equations with constant coefficients; events must add to conductance states"),
                );
            }
        }
        if mm.currents.is_empty()
            && !mm.ions.iter().any(|i| !i.writes.is_empty())
            && sort == "density"
        {
            diags.push(
                Diagnostic::new(
                    Code::E0402,
                    format!(
                        "mechanism `{}` contributes no current and writes nothing",
                        d.name.name
                    ),
                )
                .label(d.name.span, "declare `current i = …`"),
            );
        }
        let had_errors = crate::diagnostics::has_errors(&diags);
        self.diags.extend(diags);
        let idx = self.mechs.len();
        self.mechs.push(MechInfo {
            name: d.name.name.clone(),
            sort,
            params,
            model: mm.clone(),
            span: d.name.span,
        });
        if let Some(entry) = self.modules[mid as usize].syms.get_mut(&d.name.name) {
            entry.0 = Sym::Mech(idx);
        }
        if mid == 0 && !had_errors {
            self.model.mechanisms.push(mm);
        }
    }

    fn origin_string(&self, span: Span) -> String {
        let src = self.sources.get(span.file);
        let (line, _) = src.line_col(span.start as usize);
        format!("{}:{line}", src.name)
    }

    /// The mechanism a name refers to in a module; marks the name used (W0102).
    fn mech_by_name(&mut self, mid: u32, name: &str) -> Option<usize> {
        let m = &mut self.modules[mid as usize];
        match m.syms.get(name) {
            Some((Sym::Mech(i), _)) => {
                let i = *i;
                m.used.insert(name.to_string(), true);
                Some(i)
            }
            _ => None,
        }
    }

    // ------------------------------------------------------------------ neurons

    /// `neuron X = isf_param("cell.param")`: translate the file to isf source (exactly what
    /// `isf convert` prints) and check that text as a virtual module next to the `.param`
    /// file, whose neuron (named `X`) joins the model.
    fn isf_param_neuron(&mut self, mid: u32, name: &ast::Ident, path: &str, span: Span) {
        let param = Path::new(path);
        let dir = param.parent().map(Path::to_path_buf).unwrap_or_default();
        // Mechanism names resolve in the script and its imports first, then in the stdlib.
        let mut own = std::collections::BTreeMap::new();
        let mut preset = Vec::new();
        for (n, (sym, at)) in &self.modules[mid as usize].syms {
            if let Sym::Mech(i) = sym
                && self.mechs[*i].sort == "density"
            {
                let params = self.mechs[*i]
                    .params
                    .iter()
                    .map(|p| (p.0.clone(), p.3.clone()))
                    .collect();
                own.insert(n.clone(), params);
                preset.push((n.clone(), (sym.clone(), *at)));
            }
        }
        let script = self.sources.get(span.file).name.clone();
        let mut cat = crate::interop::cell_param::Catalogue::stdlib();
        cat.places.insert(
            0,
            crate::interop::cell_param::Place {
                name: format!("the script {script} and its imports"),
                import: None,
                mechs: own,
            },
        );
        let text =
            match crate::interop::cell_param::convert_file_with(param, &dir, &name.name, &cat) {
                Ok(t) => t,
                Err(errs) => {
                    for e in errs {
                        self.diags.push(
                            Diagnostic::new(e.code, format!("{}: {}", e.location(), e.message))
                                .label(span, "in this ISF cell parameter file"),
                        );
                    }
                    return;
                }
            };
        // A distinct origin per declaration, so that two neurons from one file both load.
        let origin = Origin::Path(PathBuf::from(format!("{path}#{}.isf", name.name)));
        let shown = format!(
            "{} (as isf)",
            param
                .file_name()
                .map(|f| f.to_string_lossy())
                .unwrap_or_default()
        );
        let owner = self.owner(mid);
        let vmid = self.modules.len() as u32;
        self.param_modules.push((vmid, owner));
        self.preset = preset;
        let loaded = self.load_dep(origin, shown, span, || Ok(text));
        self.preset.clear();
        // A script mechanism that the parameter file uses is used by the script.
        if loaded == Some(vmid) {
            let used: Vec<String> = self.modules[vmid as usize]
                .used
                .iter()
                .filter(|(_, u)| **u)
                .map(|(n, _)| n.clone())
                .collect();
            for n in used {
                if self.modules[mid as usize].syms.contains_key(&n) {
                    self.modules[mid as usize].used.insert(n, true);
                }
            }
        }
    }

    /// The module a declaration of module `mid` belongs to: the declaring module of an
    /// `isf_param(…)` virtual module, else `mid` itself. Declarations of module 0 (the root
    /// file) always join the model.
    fn owner(&self, mid: u32) -> u32 {
        self.param_modules
            .iter()
            .find(|(v, _)| *v == mid)
            .map(|(_, o)| *o)
            .unwrap_or(mid)
    }

    fn neuron(&mut self, mid: u32, name: &ast::Ident, b: &Block, base: &Path) {
        let mut diags = Vec::new();
        let mut source = None;
        let mut temperature = 34.0;
        let mut v_init = -75.0;
        let mut disc = Discretization::IsfDLambda {
            frequency_hz: 100.0,
            max_length_um: None,
        };
        let mut regions = Vec::new();
        let mut axon = None;
        let mut modify = Vec::new();
        let mut used_mechs = Vec::new();
        // Where things are written, to locate errors found by lowering the cell.
        let mut morph_span = None;
        let mut modify_span = None;
        let mut region_spans: HashMap<String, (Span, ParamSpans)> = HashMap::new();
        let mut seen: HashMap<String, Span> = HashMap::new();
        let mech_names: Vec<String> = self.modules[mid as usize]
            .syms
            .iter()
            .filter(|(_, s)| matches!(s.0, Sym::Mech(_)))
            .map(|(n, _)| n.clone())
            .collect();
        for entry in &b.entries {
            if let Some(dup) = dup_check(entry, &mut seen) {
                diags.push(dup);
                continue;
            }
            match entry {
                Entry::Field(f) => {
                    let mut scope = self.scope(mid);
                    let mut ev = Evaluator { diags: &mut diags, base_dir: base.to_path_buf() };
                    let v = ev.eval(&f.value, &mut scope);
                    if f.name.name == "morphology" {
                        morph_span = Some(f.value.span);
                    }
                    match f.name.name.as_str() {
                        "morphology" => match v {
                            Val::Obj(o) if o.kind == "hoc" || o.kind == "swc" => {
                                if let Some(Val::Str(p)) = o.get("path") {
                                    source = Some(model::Source { format: o.kind.clone(), path: p.clone() });
                                }
                            }
                            Val::Err => source = Some(model::Source { format: "error".into(), path: String::new() }),
                            other => {
                                ev.diags.push(Diagnostic::new(Code::E0306, "morphology must be `hoc(…)` or `swc(…)`").label(f.value.span, format!("this is {}", other.type_name())).help("write `morphology: swc(\"cells/cell.swc\")`"));
                                source = Some(model::Source { format: "error".into(), path: String::new() });
                            }
                        },
                        "temperature" => {
                            if let Some(t) = temperature_value(&mut ev, v, f.value.span) {
                                temperature = t;
                            }
                        }
                        "v_init" => {
                            let v = ev.expect_dim(v, Dim::VOLTAGE, f.value.span, "v_init");
                            if let Some(x) = v.const_si() {
                                v_init = x * 1e3;
                            }
                        }
                        "discretization" => match v {
                            Val::Obj(o) => match discretization(&o) {
                                Some(d) => disc = d,
                                None => ev.diags.push(Diagnostic::new(Code::E0412, "invalid discretization rule").label(f.value.span, format!("`{}(…)` is not a discretization rule", o.kind)).help("use isf_d_lambda(…), d_lambda(0.1), max_length(30 um) or fixed(3)")),
                            },
                            Val::Err => {}
                            other => ev.diags.push(Diagnostic::new(Code::E0412, "invalid discretization rule").label(f.value.span, format!("this is {}", other.type_name())).help("use isf_d_lambda(…), d_lambda(0.1), max_length(30 um) or fixed(3)")),
                        },
                        "axon" => match v {
                            Val::Obj(ref o) if o.kind == "isf_axon" => axon = lower_val(&v),
                            Val::Err => {}
                            other => ev.diags.push(
                                Diagnostic::new(Code::E0306, "axon must be `isf_axon()`")
                                    .label(f.value.span, format!("this is {}", other.type_name())),
                            ),
                        },
                        "modify" => {
                            modify_span = Some(f.value.span);
                            match v {
                                Val::List(items) => {
                                    for it in items {
                                        match it {
                                            Val::Obj(ref o) if o.kind == "scale_apical_morph_86" || o.kind == "scale_apical" => modify.extend(lower_val(&it)),
                                            Val::Err => {}
                                            other => ev.diags.push(Diagnostic::new(Code::E0306, "not a cell modification").label(f.value.span, format!("found {}", other.type_name())).help("use scale_apical_morph_86() or scale_apical(scale: 2)")),
                                        }
                                    }
                                }
                                Val::Err => {}
                                other => ev.diags.push(Diagnostic::new(Code::E0306, "modify must be a list of cell modifications").label(f.value.span, format!("this is {}", other.type_name())).help("write `modify: [scale_apical_morph_86()]`")),
                            }
                        }
                        other => ev.diags.push(unknown_field(other, f.name.span, "a neuron", &["morphology", "temperature", "v_init", "discretization", "axon", "modify"])),
                    }
                }
                Entry::Block(sb) => {
                    if !REGIONS.iter().any(|r| r.0 == sb.head.name) {
                        let mut d = Diagnostic::new(Code::E0403, format!("unknown region `{}`", sb.head.name)).label(sb.head.span, "not a region of a neuron");
                        if let Some(s) = suggest(&sb.head.name, REGIONS.iter().map(|r| r.0)) {
                            d = d.help(format!("did you mean `{s}`?"));
                        } else if mech_names.contains(&sb.head.name) {
                            d = d.help(format!("mechanisms go inside a region: `soma {{ {} {{ … }} }}`", sb.head.name));
                        } else {
                            d = d.note(format!("regions: {}", REGIONS.iter().map(|r| r.0).collect::<Vec<_>>().join(", ")));
                        }
                        diags.push(d);
                        continue;
                    }
                    if let Some(n) = &sb.name {
                        diags.push(Diagnostic::new(Code::E0101, "a region block takes no name").label(n.span, "remove this"));
                    }
                    let (r, pspans) = self.region(mid, &sb.head.name, &sb.body, base, &mut diags, &mut used_mechs);
                    region_spans.insert(sb.head.name.clone(), (sb.head.span, pspans));
                    regions.push(r);
                }
                other => diags.push(Diagnostic::new(Code::E0401, "unexpected entry in a neuron").label(other.span(), "a neuron has fields (morphology, temperature, v_init, discretization) and region blocks")),
            }
        }
        if source.is_none() {
            diags.push(
                Diagnostic::new(
                    Code::E0402,
                    format!("neuron `{}` has no morphology", name.name),
                )
                .label(name.span, "add `morphology: swc(\"…\")` or `hoc(\"…\")`"),
            );
        }
        let ok = !crate::diagnostics::has_errors(&diags);
        self.diags.extend(diags);
        if !ok {
            return;
        }
        let owner = self.owner(mid);
        let neuron = NeuronModel {
            name: name.name.clone(),
            source: source.unwrap_or(model::Source {
                format: "none".into(),
                path: String::new(),
            }),
            temperature_degc: temperature,
            v_init_mv: v_init,
            discretization: disc,
            axon,
            regions,
            modify,
        };
        // Lower the cell now: labels the morphology lacks (E0413), densities that are negative
        // or not finite somewhere (E0414) and unreadable morphologies are script errors.
        // A neuron of an imported file is checked the same way; it joins the model (with its
        // mechanisms) only when an experiment of the root file uses it.
        let mut mechs: Vec<MechModel> = Vec::new();
        for &i in &used_mechs {
            let m = &self.mechs[i].model;
            if !mechs.iter().any(|x| x.name == m.name) {
                mechs.push(m.clone());
            }
        }
        if owner == 0 {
            for m in &mechs {
                if !self.model.mechanisms.iter().any(|x| x.name == m.name) {
                    self.model.mechanisms.push(m.clone());
                }
            }
        }
        let morph = self
            .morphologies
            .entry(neuron.source.path.clone())
            .or_insert_with(|| crate::lower::cell::read_morphology(&neuron))
            .clone()
            .map_err(|e| vec![*e]);
        let known = if owner == 0 {
            &self.model.mechanisms
        } else {
            &mechs
        };
        let lowered = morph.and_then(|m| crate::lower::cell::build_cell_from(&neuron, known, m));
        if let Err(errs) = lowered {
            for e in errs {
                let region = e.region.as_ref().and_then(|r| region_spans.get(r));
                let param_span = match (region, &e.mechanism, &e.parameter) {
                    (Some((_, ps)), Some(m), Some(p)) => ps.get(&(m.clone(), p.clone())).copied(),
                    _ => None,
                };
                let (at, label) = match (param_span, region, e.field.as_deref()) {
                    (Some(s), _, _) => (s, "this value"),
                    (None, Some((s, _)), _) => (*s, "in this region"),
                    (None, None, Some("morphology")) => {
                        (morph_span.unwrap_or(name.span), "this morphology")
                    }
                    (None, None, Some("modify")) => (modify_span.unwrap_or(name.span), "here"),
                    _ => (name.span, "in this neuron"),
                };
                let mut d = Diagnostic::new(e.code, e.message).label(at, label);
                if let Some(n) = e.note {
                    d = d.note(n);
                }
                self.diags.push(d);
            }
            return;
        }
        if owner == 0 {
            self.model.neurons.push(neuron);
        } else {
            self.imported.push(ImportedDecl {
                module: owner,
                name: name.name.clone(),
                neuron: Some(neuron),
                network: None,
                mechanisms: mechs,
            });
        }
    }

    fn region(
        &mut self,
        mid: u32,
        region: &str,
        b: &Block,
        base: &Path,
        diags: &mut Vec<Diagnostic>,
        used: &mut Vec<usize>,
    ) -> (RegionModel, ParamSpans) {
        let mut spans = ParamSpans::new();
        let mut r = RegionModel {
            region: region.into(),
            ra_ohm_cm: None,
            cm_uf_cm2: None,
            reversal_mv: BTreeMap::new(),
            mechanisms: vec![],
        };
        let mut seen: HashMap<String, Span> = HashMap::new();
        let pos_locals: Vec<(String, Val)> = POSITION_VARS
            .iter()
            .map(|(n, d, s, _)| {
                (
                    n.to_string(),
                    Val::Q {
                        dim: *d,
                        abs: false,
                        ex: Ex::var(n, *s),
                    },
                )
            })
            .collect();
        for entry in &b.entries {
            if let Some(dup) = dup_check(entry, &mut seen) {
                diags.push(dup);
                continue;
            }
            match entry {
                Entry::Field(f) => {
                    let mut scope = self.scope(mid);
                    scope.locals = pos_locals.clone();
                    let mut ev = Evaluator {
                        diags,
                        base_dir: base.to_path_buf(),
                    };
                    let v = ev.eval(&f.value, &mut scope);
                    let n = f.name.name.as_str();
                    let (want, what) = match n {
                        "Ra" => (Dim([3, 1, -3, -2, 0, 0]), "axial resistivity Ra"),
                        "cm" => (Dim([-4, -1, 4, 2, 0, 0]), "specific capacitance cm"),
                        "ena" | "ek" | "eca" => (Dim::VOLTAGE, "a reversal potential"),
                        _ => {
                            let mech_like = self.mech_by_name(mid, n).is_some();
                            let mut d = unknown_field(
                                n,
                                f.name.span,
                                "a region",
                                &["Ra", "cm", "ena", "ek", "eca"],
                            );
                            if mech_like {
                                d = d.help(format!(
                                    "a mechanism takes a block: `{n} {{ gbar: … }}`"
                                ));
                            }
                            ev.diags.push(d);
                            continue;
                        }
                    };
                    let v = ev.expect_dim(v, want, f.value.span, what);
                    let Some(x) = v.const_si() else {
                        if !v.is_err() {
                            ev.diags.push(
                                Diagnostic::new(Code::E0315, format!("{what} must be a constant"))
                                    .label(f.value.span, "varies over the cell"),
                            );
                        }
                        continue;
                    };
                    let (scale, _) = units::canonical_scale(want);
                    if x <= 0.0 && (n == "Ra" || n == "cm") {
                        ev.diags.push(
                            Diagnostic::new(Code::E0314, format!("{what} must be positive"))
                                .label(f.value.span, "zero or negative"),
                        );
                        continue;
                    }
                    match n {
                        "Ra" => r.ra_ohm_cm = Some(x / scale),
                        "cm" => r.cm_uf_cm2 = Some(x / scale),
                        _ => {
                            r.reversal_mv.insert(n.to_string(), x / scale);
                        }
                    }
                }
                Entry::Block(sb) => {
                    let Some(mi) = self.mech_by_name(mid, &sb.head.name) else {
                        let cands: Vec<String> = self.modules[mid as usize]
                            .syms
                            .iter()
                            .filter(|(_, s)| matches!(s.0, Sym::Mech(_)))
                            .map(|(n, _)| n.clone())
                            .collect();
                        let mut d = Diagnostic::new(
                            Code::E0206,
                            format!("unknown mechanism `{}`", sb.head.name),
                        )
                        .label(sb.head.span, "no mechanism of this name is in scope");
                        if let Some(s) = suggest(&sb.head.name, cands.iter().map(String::as_str)) {
                            d = d.help(format!("did you mean `{s}`?"));
                        } else {
                            d = d.help("import mechanisms, e.g. `import std.channels.hay2011.*`");
                        }
                        diags.push(d);
                        continue;
                    };
                    // Only the parameter table is needed here; the model (expression trees) stays put.
                    let info = {
                        let m = &self.mechs[mi];
                        MechSig {
                            name: m.name.clone(),
                            sort: m.sort.clone(),
                            params: m.params.clone(),
                            span: m.span,
                        }
                    };
                    if info.sort != "density" {
                        diags.push(
                            Diagnostic::new(
                                Code::E0404,
                                format!(
                                    "`{}` is a point process, not a density mechanism",
                                    info.name
                                ),
                            )
                            .label(sb.head.span, "cannot be inserted in a region")
                            .label(info.span, "declared here"),
                        );
                        continue;
                    }
                    if !used.contains(&mi) {
                        used.push(mi);
                    }
                    let mut inst = MechInstance {
                        mechanism: info.name.clone(),
                        parameters: BTreeMap::new(),
                    };
                    let mut scope = self.scope(mid);
                    scope.locals = pos_locals.clone();
                    let mut ev = Evaluator {
                        diags,
                        base_dir: base.to_path_buf(),
                    };
                    for f in value_fields(
                        &sb.body,
                        "a mechanism block has parameter values only",
                        ev.diags,
                    ) {
                        let Some((pn, dim, scale, unit)) =
                            info.params.iter().find(|p| p.0 == f.name.name).cloned()
                        else {
                            let mut d = Diagnostic::new(
                                Code::E0210,
                                format!("`{}` has no parameter `{}`", info.name, f.name.name),
                            )
                            .label(f.name.span, "unknown parameter")
                            .label(info.span, "mechanism declared here");
                            if let Some(s) =
                                suggest(&f.name.name, info.params.iter().map(|p| p.0.as_str()))
                            {
                                d = d.help(format!("did you mean `{s}`?"));
                            } else {
                                d = d.note(format!(
                                    "parameters of {}: {}",
                                    info.name,
                                    info.params
                                        .iter()
                                        .map(|p| p.0.as_str())
                                        .collect::<Vec<_>>()
                                        .join(", ")
                                ));
                            }
                            ev.diags.push(d);
                            continue;
                        };
                        let v = ev.eval(&f.value, &mut scope);
                        let v =
                            ev.expect_dim(v, dim, f.value.span, &format!("`{}.{}`", info.name, pn));
                        if let Val::Q { ex, .. } = v {
                            if let Some(c) = ex.as_const()
                                && !c.is_finite()
                            {
                                ev.diags.push(
                                    Diagnostic::new(Code::E0414, "value is not finite")
                                        .label(f.value.span, "NaN or infinite"),
                                );
                                continue;
                            }
                            spans.insert((info.name.clone(), pn.clone()), f.value.span);
                            inst.parameters.insert(
                                pn,
                                Density {
                                    unit,
                                    expr: ex.canonical(scale),
                                },
                            );
                        }
                    }
                    r.mechanisms.push(inst);
                }
                other => diags.push(
                    Diagnostic::new(Code::E0401, "unexpected entry in a region").label(
                        other.span(),
                        "a region has Ra, cm, reversal potentials and mechanism blocks",
                    ),
                ),
            }
        }
        (r, spans)
    }

    // ------------------------------------------------------------------ networks

    fn network(&mut self, mid: u32, name: &ast::Ident, b: &Block, base: &Path) {
        let mut diags = Vec::new();
        let mut pops = Vec::new();
        let mut used_mechs: Vec<MechModel> = Vec::new();
        let mut spans: Vec<PlacementSpans> = Vec::new();
        let mut seen: HashMap<String, Span> = HashMap::new();
        for entry in &b.entries {
            match entry {
                Entry::Let(l) => {
                    let _ = l;
                    diags.push(
                        Diagnostic::new(Code::E0401, "`let` inside a network is not supported yet")
                            .label(entry.span(), "move it to the top level"),
                    );
                }
                Entry::Block(sb) if sb.head.name == "population" => {
                    let Some(pname) = &sb.name else {
                        diags.push(
                            Diagnostic::new(Code::E0101, "a population needs a name")
                                .label(sb.head.span, "write `population L5tt_C2 { … }`"),
                        );
                        continue;
                    };
                    if let Some(prev) = seen.insert(pname.name.clone(), pname.span) {
                        diags.push(
                            Diagnostic::new(
                                Code::E0105,
                                format!("population `{}` is declared twice", pname.name),
                            )
                            .label(pname.span, "declared again here")
                            .label(prev, "first declared here"),
                        );
                        continue;
                    }
                    let (p, mechs, sp) = self.population(mid, pname, &sb.body, base, &mut diags);
                    pops.push(p);
                    used_mechs.extend(mechs);
                    spans.push(sp);
                }
                Entry::Block(sb) => {
                    let mut d = Diagnostic::new(
                        Code::E0403,
                        format!("unknown block `{}` in a network", sb.head.name),
                    )
                    .label(sb.head.span, "networks contain `population` blocks");
                    if let Some(s) = suggest(&sb.head.name, ["population"]) {
                        d = d.help(format!("did you mean `{s}`?"));
                    }
                    diags.push(d);
                }
                other => diags.push(
                    Diagnostic::new(Code::E0401, "unexpected entry in a network").label(
                        other.span(),
                        "networks contain `population NAME { … }` blocks",
                    ),
                ),
            }
        }
        let ok = !crate::diagnostics::has_errors(&diags);
        self.diags.extend(diags);
        if ok {
            let mut mechs: Vec<MechModel> = Vec::new();
            for m in used_mechs {
                if !mechs.iter().any(|x| x.name == m.name) {
                    mechs.push(m);
                }
            }
            let owner = self.owner(mid);
            self.placement_spans
                .insert((owner, name.name.clone()), spans);
            self.add_network(
                mid,
                NetworkModel {
                    name: name.name.clone(),
                    isf_network_param: None,
                    populations: pops,
                },
                mechs,
            );
        }
    }

    /// A checked network joins the model (root file) or waits until an experiment of the root
    /// file uses it (imported file), with the synapse mechanisms its receptors use.
    fn add_network(&mut self, mid: u32, net: NetworkModel, mechs: Vec<MechModel>) {
        let owner = self.owner(mid);
        if owner == 0 {
            for m in mechs {
                if !self.model.mechanisms.iter().any(|x| x.name == m.name) {
                    self.model.mechanisms.push(m);
                }
            }
            self.model.networks.push(net);
        } else {
            self.imported.push(ImportedDecl {
                module: owner,
                name: net.name.clone(),
                neuron: None,
                network: Some(net),
                mechanisms: mechs,
            });
        }
    }

    fn population(
        &mut self,
        mid: u32,
        pname: &ast::Ident,
        b: &Block,
        base: &Path,
        diags: &mut Vec<Diagnostic>,
    ) -> (PopulationModel, Vec<MechModel>, PlacementSpans) {
        let mut spans = PlacementSpans {
            population: pname.name.clone(),
            name: pname.span,
            location: None,
            distance: None,
        };
        let mut p = PopulationModel {
            name: pname.name.clone(),
            fields: BTreeMap::new(),
            receptors: BTreeMap::new(),
        };
        // Synapse mechanisms visible here (declared or imported): name → (index, parameters).
        let synapses: Vec<VisibleSynapse> = self.modules[mid as usize]
            .syms
            .iter()
            .filter_map(|(n, s)| match s.0 {
                Sym::Mech(i) if self.mechs[i].sort == "synapse" => Some((
                    n.clone(),
                    i,
                    self.mechs[i]
                        .params
                        .iter()
                        .map(|x| (x.0.clone(), x.1))
                        .collect(),
                )),
                _ => None,
            })
            .collect();
        // The visible synapse mechanisms that draw their own release.
        let stochastic: Vec<usize> = synapses
            .iter()
            .map(|x| x.1)
            .filter(|&i| mech_draws(&self.mechs[i].model))
            .collect();
        let mut used_synapses: Vec<(String, usize)> = Vec::new();
        let mut seen: HashMap<String, Span> = HashMap::new();
        const FIELDS: &[&str] = &[
            "cells",
            "synapses",
            "release_probability",
            "activity",
            "delay",
            "cell_type",
            "column",
            "excitatory",
            "location",
            "distance",
        ];
        let mut anatomy_span: Option<Span> = None;
        let mut dynamic_span: Option<Span> = None;
        // Receptors by name, and whether each draws its own release.
        let mut receptor_draws: Vec<(String, bool)> = Vec::new();
        let mut placement_fields: Vec<(String, Span)> = Vec::new();
        for entry in &b.entries {
            if let Some(dup) = dup_check(entry, &mut seen) {
                diags.push(dup);
                continue;
            }
            let mut scope = self.scope(mid);
            let mut ev = Evaluator {
                diags,
                base_dir: base.to_path_buf(),
            };
            match entry {
                Entry::Field(f) => {
                    let n = f.name.name.as_str();
                    if n == "location" {
                        // Region names as in neuron blocks (`apical_dendrite`, …).
                        scope.locals = region_locals();
                    }
                    let v = ev.eval(&f.value, &mut scope);
                    let v = match n {
                        "location" => {
                            spans.location = Some(f.value.span);
                            placement_fields.push((n.to_string(), f.name.span));
                            location_value(&mut ev, v, f.value.span)
                        }
                        "distance" => {
                            spans.distance = Some(f.value.span);
                            placement_fields.push((n.to_string(), f.name.span));
                            distance_value(&mut ev, v, f.value.span)
                        }
                        "cells" => want_count(&mut ev, v, f.value.span, "cells", 1),
                        "synapses" => match v {
                            Val::Obj(ref o) if o.kind == "anatomy" => {
                                anatomy_span = Some(f.value.span);
                                v
                            }
                            other => want_count(&mut ev, other, f.value.span, "synapses", 0),
                        },
                        // `"dynamic"`: every spike is delivered and the receptor decides
                        // (ISF's stochastic synapses, spec 04 §4.5).
                        "release_probability" if matches!(&v, Val::Str(x) if x == "dynamic") => {
                            dynamic_span = Some(f.value.span);
                            v
                        }
                        "release_probability" if matches!(&v, Val::Str(_)) => {
                            ev.diags.push(
                                Diagnostic::new(Code::E0306, "`release_probability` must be a probability or \"dynamic\"")
                                    .label(f.value.span, "unknown release rule")
                                    .help("write e.g. `release_probability: 0.6`, or `\"dynamic\"` for receptors that draw their own release (ProbAMPANMDA2, ProbUDFsyn2)"),
                            );
                            Val::Err
                        }
                        "release_probability" => {
                            let v = ev.expect_dim(v, Dim::ONE, f.value.span, "release_probability");
                            match v.const_si() {
                                Some(x) => ev
                                    .rule(
                                        f.value.span,
                                        rules::probability("`release_probability`", x),
                                    )
                                    .map_or(Val::Err, |_| v),
                                None => v,
                            }
                        }
                        "activity" => match v {
                            Val::Obj(ref o) if builtins::is_activity(o) => v,
                            Val::Err => v,
                            other => {
                                ev.diags.push(Diagnostic::new(Code::E0306, "activity must be an activity generator").label(f.value.span, format!("this is {}", other.type_name())).help("use poisson(interval: …), psth(bins: …, offset: …), spike_times([…]) or a sum of them"));
                                Val::Err
                            }
                        },
                        "delay" => {
                            let v = ev.expect_dim(v, Dim::TIME, f.value.span, "delay");
                            match v.const_si() {
                                Some(x) => ev
                                    .rule(
                                        f.value.span,
                                        rules::non_negative("`delay`", x * 1e3, "ms"),
                                    )
                                    .map_or(Val::Err, |_| v),
                                None => v,
                            }
                        }
                        "cell_type" | "column" => match v {
                            Val::Str(_) | Val::Err => v,
                            other => {
                                ev.diags.push(
                                    Diagnostic::new(Code::E0306, format!("`{n}` must be a string"))
                                        .label(
                                            f.value.span,
                                            format!("this is {}", other.type_name()),
                                        ),
                                );
                                Val::Err
                            }
                        },
                        "excitatory" => match v {
                            Val::Bool(Ex::Const(_)) | Val::Err => v,
                            other => {
                                ev.diags.push(
                                    Diagnostic::new(
                                        Code::E0306,
                                        "`excitatory` must be true or false",
                                    )
                                    .label(f.value.span, format!("this is {}", other.type_name())),
                                );
                                Val::Err
                            }
                        },
                        _ => {
                            ev.diags
                                .push(unknown_field(n, f.name.span, "a population", FIELDS));
                            Val::Err
                        }
                    };
                    if let Some(l) = lower_val(&v) {
                        p.fields.insert(n.to_string(), l);
                    }
                }
                Entry::Block(sb) if sb.head.name == "receptor" => {
                    let Some(rn) = &sb.name else {
                        ev.diags.push(
                            Diagnostic::new(
                                Code::E0101,
                                "a receptor block needs the receptor's name",
                            )
                            .label(sb.head.span, "write `receptor glutamate { … }`"),
                        );
                        continue;
                    };
                    let declared = synapses.iter().find(|x| x.0 == rn.name);
                    let alias: Option<Vec<(String, Dim)>> = receptor_params(&rn.name)
                        .map(|ps| ps.iter().map(|(n, d)| (n.to_string(), *d)).collect());
                    let Some(params) = declared.map(|x| x.2.clone()).or(alias) else {
                        let known: Vec<&str> = RECEPTORS
                            .iter()
                            .map(|r| r.0)
                            .chain(synapses.iter().map(|x| x.0.as_str()))
                            .collect();
                        let mut d =
                            Diagnostic::new(Code::E0206, format!("unknown receptor `{}`", rn.name))
                                .label(rn.span, "not a synapse mechanism");
                        if let Some(s) = suggest(&rn.name, known.iter().copied()) {
                            d = d.help(format!("did you mean `{s}`?"));
                        } else {
                            d = d.note(format!(
                                "receptors: {} (or a mechanism declared `: synapse`)",
                                known.join(", ")
                            ));
                        }
                        ev.diags.push(d);
                        continue;
                    };
                    if let Some(x) = declared {
                        used_synapses.push((x.0.clone(), x.1));
                    }
                    let draws = declared.is_some_and(|x| stochastic.contains(&x.1));
                    receptor_draws.push((rn.name.clone(), draws));
                    let mut fields = BTreeMap::new();
                    for f in value_fields(
                        &sb.body,
                        "a receptor block has parameter values only",
                        ev.diags,
                    ) {
                        let Some(&(_, dim)) = params.iter().find(|p| p.0 == f.name.name) else {
                            let mut d = Diagnostic::new(
                                Code::E0210,
                                format!(
                                    "receptor `{}` has no parameter `{}`",
                                    rn.name, f.name.name
                                ),
                            )
                            .label(f.name.span, "unknown parameter");
                            if let Some(s) =
                                suggest(&f.name.name, params.iter().map(|p| p.0.as_str()))
                            {
                                d = d.help(format!("did you mean `{s}`?"));
                            } else {
                                d = d.note(format!(
                                    "parameters: {}",
                                    params
                                        .iter()
                                        .map(|p| p.0.as_str())
                                        .collect::<Vec<_>>()
                                        .join(", ")
                                ));
                            }
                            ev.diags.push(d);
                            continue;
                        };
                        let v = ev.eval(&f.value, &mut scope);
                        let v = ev.expect_dim(v, dim, f.value.span, &format!("`{}`", f.name.name));
                        // Weights are conductances ≥ 0, as in a network `.param` file.
                        let v = match v.const_si() {
                            Some(x) if f.name.name.starts_with("weight") => ev
                                .rule(
                                    f.value.span,
                                    rules::non_negative(
                                        &format!("`{}`", f.name.name),
                                        x * 1e9,
                                        "nS",
                                    ),
                                )
                                .map_or(Val::Err, |_| v),
                            _ => v,
                        };
                        if let Some(l) = lower_val(&v) {
                            fields.insert(f.name.name.clone(), l);
                        }
                    }
                    p.receptors.insert(rn.name.clone(), fields);
                }
                Entry::Block(sb) => {
                    let mut d = Diagnostic::new(
                        Code::E0403,
                        format!("unknown block `{}` in a population", sb.head.name),
                    )
                    .label(sb.head.span, "populations contain `receptor` blocks");
                    if let Some(s) = suggest(&sb.head.name, ["receptor"]) {
                        d = d.help(format!("did you mean `{s}`?"));
                    }
                    ev.diags.push(d);
                }
                other => ev.diags.push(
                    Diagnostic::new(Code::E0401, "unexpected entry in a population").label(
                        other.span(),
                        "write `name: value` fields and `receptor` blocks",
                    ),
                ),
            }
        }
        if let Some(a) = anatomy_span {
            for (n, at) in &placement_fields {
                diags.push(
                    Diagnostic::new(
                        Code::E0401,
                        format!("`{n}` applies to declared synapses, not to an anatomy"),
                    )
                    .label(*at, "this restricts where declared synapses are placed")
                    .label(
                        a,
                        "these synapses come from .syn/.con files with their own locations",
                    )
                    .help(format!("remove `{n}`, or declare a count: `synapses: 100`")),
                );
            }
        }
        if let Some(at) = dynamic_span
            && !receptor_draws.iter().any(|r| r.1)
        {
            let names: Vec<&str> = receptor_draws.iter().map(|r| r.0.as_str()).collect();
            let mut d = Diagnostic::new(
                Code::E0214,
                format!(
                    "population `{}`: release \"dynamic\" needs a receptor that draws its own release",
                    p.name
                ),
            )
            .label(at, "every spike is delivered; the receptor decides whether it releases")
            .help("use ProbAMPANMDA2 or ProbUDFsyn2 (`import std.synapses.{ProbAMPANMDA2}`), a synapse whose event uses exprand()/unirand(), or a numeric probability");
            if !names.is_empty() {
                d = d.note(format!(
                    "receptors here: {} (deterministic)",
                    names.join(", ")
                ));
            }
            diags.push(d);
        }
        let mut mechs = Vec::new();
        for (n, i) in used_synapses {
            self.mech_by_name(mid, &n);
            mechs.push(self.mechs[i].model.clone());
        }
        for req in ["cells", "activity"] {
            if !seen.contains_key(req) {
                diags.push(
                    Diagnostic::new(
                        Code::E0402,
                        format!("population `{}` has no `{req}`", pname.name),
                    )
                    .label(pname.span, format!("add `{req}: …`")),
                );
            }
        }
        (p, mechs, spans)
    }

    // ------------------------------------------------------------------ experiments

    fn experiment(&mut self, mid: u32, name: &ast::Ident, b: &Block, base: &Path) {
        let mut diags = Vec::new();
        let mut seen: HashMap<String, Span> = HashMap::new();
        let mut neuron: Option<(String, Span)> = None;
        let mut network: Option<String> = None;
        // Declaring module and span of the neuron and network fields.
        let mut neuron_from: Option<u32> = None;
        let mut network_at: Option<(Option<u32>, Span)> = None;
        let mut duration = None;
        let mut dt = (0.025, None);
        let mut trials = 1u64;
        let mut seed = 0u64;
        let mut store = None;
        // Replay files that read, the number listed, and where `replay`/`trials` are written.
        let mut replay: Vec<ReplaySource> = Vec::new();
        let mut replay_listed = 0usize;
        let mut replay_span: Option<Span> = None;
        let mut trials_span: Option<Span> = None;
        let mut stimuli: BTreeMap<String, (BTreeMap<String, model::Value>, Span)> = BTreeMap::new();
        let mut record = Vec::new();
        // (zip marker, block): a plain `sweep` block makes a grid of its axes, `sweep zip`
        // varies its axes together.
        let mut sweeps: Vec<(Option<Span>, &ast::SubBlock)> = Vec::new();
        let region_locals = region_locals();
        const FIELDS: &[&str] = &[
            "neuron", "network", "duration", "dt", "trials", "seed", "store", "replay",
        ];
        for entry in &b.entries {
            if let Some(dup) = dup_check(entry, &mut seen) {
                diags.push(dup);
                continue;
            }
            let from_module = match entry {
                Entry::Field(f) if matches!(f.name.name.as_str(), "neuron" | "network") => {
                    self.decl_module(mid, &f.value)
                }
                _ => None,
            };
            let mut scope = self.scope(mid);
            scope.locals = region_locals.clone();
            let mut ev = Evaluator {
                diags: &mut diags,
                base_dir: base.to_path_buf(),
            };
            match entry {
                Entry::Field(f) => {
                    let v = ev.eval(&f.value, &mut scope);
                    match f.name.name.as_str() {
                        "neuron" | "network" => {
                            let want = if f.name.name == "neuron" {
                                DeclKind::Neuron
                            } else {
                                DeclKind::Network
                            };
                            match v {
                                Val::Decl(k, n) if k == want => {
                                    if want == DeclKind::Neuron {
                                        neuron = Some((n, f.value.span));
                                        neuron_from = from_module;
                                    } else {
                                        network = Some(n);
                                        network_at = Some((from_module, f.value.span));
                                    }
                                }
                                Val::Err => {}
                                other => {
                                    ev.diags.push(
                                        Diagnostic::new(
                                            Code::E0409,
                                            format!(
                                                "`{}` must name a {}",
                                                f.name.name,
                                                want.as_str()
                                            ),
                                        )
                                        .label(
                                            f.value.span,
                                            format!("this is {}", other.type_name()),
                                        ),
                                    );
                                }
                            }
                        }
                        "duration" => {
                            let v = ev.expect_dim(v, Dim::TIME, f.value.span, "duration");
                            if let Some(x) = v.const_si() {
                                if x <= 0.0 {
                                    ev.diags.push(
                                        Diagnostic::new(Code::E0405, "duration must be positive")
                                            .label(f.value.span, "zero or negative"),
                                    );
                                } else {
                                    duration = Some((x * 1e3, f.value.span));
                                }
                            }
                        }
                        "dt" => {
                            let v = ev.expect_dim(v, Dim::TIME, f.value.span, "dt");
                            if let Some(x) = v.const_si() {
                                if x <= 0.0 {
                                    ev.diags.push(
                                        Diagnostic::new(Code::E0405, "time step must be positive")
                                            .label(f.value.span, "zero or negative"),
                                    );
                                } else {
                                    dt = (x * 1e3, Some(f.value.span));
                                }
                            }
                        }
                        "trials" => {
                            if let Some(x) = v.const_si().filter(|x| {
                                x.fract() == 0.0
                                    && *x >= 1.0
                                    && matches!(v, Val::Q { dim, .. } if dim.is_one())
                            }) {
                                trials = x as u64;
                                trials_span = Some(f.value.span);
                            } else if !v.is_err() {
                                ev.diags.push(
                                    Diagnostic::new(
                                        Code::E0407,
                                        "trials must be a positive integer",
                                    )
                                    .label(f.value.span, format!("this is {}", describe_val(&v))),
                                );
                            }
                        }
                        "seed" => {
                            if let Some(x) = v
                                .const_si()
                                .filter(|x| x.fract() == 0.0 && *x >= 0.0 && *x < 2f64.powi(53))
                            {
                                seed = x as u64;
                            } else if !v.is_err() {
                                ev.diags.push(
                                    Diagnostic::new(
                                        Code::E0314,
                                        "seed must be a non-negative integer",
                                    )
                                    .label(f.value.span, format!("this is {}", describe_val(&v))),
                                );
                            }
                        }
                        "replay" => {
                            replay_span = Some(f.value.span);
                            let items = match v {
                                Val::List(items) => items,
                                other => vec![other],
                            };
                            if items.is_empty() {
                                ev.diags.push(
                                    Diagnostic::new(Code::E0314, "replay lists no file")
                                        .label(f.value.span, "empty list")
                                        .help("give one synapse activation or spike-time file per trial"),
                                );
                            }
                            for it in items {
                                replay_listed += 1;
                                match it {
                                    Val::Str(s) => {
                                        if let Some(r) = replay_source(base, &s, f.value.span, ev.diags)
                                        {
                                            replay.push(r);
                                        }
                                    }
                                    Val::Err => {}
                                    other => ev.diags.push(
                                        Diagnostic::new(
                                            Code::E0306,
                                            "replay must be a file path or a list of file paths",
                                        )
                                        .label(f.value.span, format!("this is {}", other.type_name()))
                                        .help("write `replay: \"run0.csv\"` or `replay: [\"run0.csv\", \"run1.csv\"]`"),
                                    ),
                                }
                            }
                        }
                        "store" => match v {
                            Val::Str(s) => {
                                store = Some(base.join(s).to_string_lossy().into_owned())
                            }
                            Val::Err => {}
                            other => ev.diags.push(
                                Diagnostic::new(Code::E0306, "store must be a path string")
                                    .label(f.value.span, format!("this is {}", other.type_name())),
                            ),
                        },
                        other => ev.diags.push(unknown_field(
                            other,
                            f.name.span,
                            "an experiment",
                            FIELDS,
                        )),
                    }
                }
                Entry::Block(sb) => {
                    match sb.head.name.as_str() {
                        "stimulus" => {
                            let sname = sb
                                .name
                                .as_ref()
                                .map(|n| n.name.clone())
                                .unwrap_or_else(|| "stimulus".into());
                            let mut fields = BTreeMap::new();
                            for f in
                                value_fields(&sb.body, "a stimulus block has fields only", ev.diags)
                            {
                                let v = ev.eval(&f.value, &mut scope);
                                let v = match f.name.name.as_str() {
                                    "at" => match v {
                                        Val::Obj(ref o)
                                            if o.kind == "site"
                                                || o.kind == "section"
                                                || o.kind == "apical_distance" =>
                                        {
                                            v
                                        }
                                        Val::Region(r) => Val::Obj(Obj {
                                            kind: "site".into(),
                                            args: vec![
                                                ("region".into(), Val::Str(r)),
                                                ("x".into(), Val::num(0.5)),
                                            ],
                                        }),
                                        Val::Err => v,
                                        other => {
                                            ev.diags.push(Diagnostic::new(Code::E0306, "`at` must be a site").label(f.value.span, format!("this is {}", other.type_name())).help("write e.g. `soma(0.5)`, `section(38, 0.5)` or `apical_distance(620 um)`"));
                                            Val::Err
                                        }
                                    },
                                    "kind" => match v {
                                        Val::Str(ref s)
                                            if ["step", "epsp"].contains(&s.as_str()) =>
                                        {
                                            v
                                        }
                                        _ => {
                                            ev.diags.push(
                                                Diagnostic::new(
                                                    Code::E0306,
                                                    "`kind` must be \"step\" or \"epsp\"",
                                                )
                                                .label(f.value.span, "unknown stimulus kind"),
                                            );
                                            Val::Err
                                        }
                                    },
                                    "amp" | "imax" => ev.expect_dim(
                                        v,
                                        Dim::CURRENT,
                                        f.value.span,
                                        &format!("`{}`", f.name.name),
                                    ),
                                    "delay" | "duration" | "onset" | "tau_rise" | "tau_decay" => ev
                                        .expect_dim(
                                            v,
                                            Dim::TIME,
                                            f.value.span,
                                            &format!("`{}`", f.name.name),
                                        ),
                                    other => {
                                        ev.diags.push(unknown_field(
                                            other,
                                            f.name.span,
                                            "a stimulus",
                                            STIMULUS_FIELDS,
                                        ));
                                        Val::Err
                                    }
                                };
                                if let Some(l) = lower_val(&v) {
                                    fields.insert(f.name.name.clone(), l);
                                }
                            }
                            let has_at = sb
                                .body
                                .entries
                                .iter()
                                .any(|e| matches!(e, Entry::Field(f) if f.name.name == "at"));
                            if !has_at {
                                ev.diags.push(
                                    Diagnostic::new(Code::E0402, "stimulus has no site")
                                        .label(sb.span, "add `at: soma(0.5)`"),
                                );
                            }
                            stimuli.insert(sname, (fields, sb.span));
                        }
                        "record" => {
                            for en in &sb.body.entries {
                                let Entry::Expr(e) = en else {
                                    ev.diags.push(Diagnostic::new(Code::E0401, "a record block lists what to record").label(en.span(), "write e.g. `soma.v` or `spikes(soma, threshold: 0 mV)`"));
                                    continue;
                                };
                                let v = if let ast::ExprKind::Name(n) = &e.kind {
                                    if RECORDABLE.contains(&n.as_str()) {
                                        Val::Obj(Obj {
                                            kind: n.clone(),
                                            args: vec![],
                                        })
                                    } else {
                                        ev.eval(e, &mut scope)
                                    }
                                } else {
                                    ev.eval(e, &mut scope)
                                };
                                match &v {
                                Val::Obj(o) if ["probe", "spikes", "current", "state", "synapse_activations", "presynaptic_spikes", "all_compartments"].contains(&o.kind.as_str()) => {
                                    if let Some(l) = lower_val(&v) {
                                        record.push((l, e.span));
                                    }
                                }
                                Val::Err => {}
                                other => ev.diags.push(Diagnostic::new(Code::E0306, "this cannot be recorded").label(e.span, format!("this is {}", other.type_name())).help("record `soma.v`, `spikes(soma)`, `synapse_activations`, `all_compartments` …")),
                            }
                            }
                        }
                        "sweep" => match &sb.name {
                            None => sweeps.push((None, sb)),
                            Some(n) if n.name == "zip" => sweeps.push((Some(n.span), sb)),
                            Some(n) => ev.diags.push(
                                Diagnostic::new(
                                    Code::E0403,
                                    format!("unknown sweep kind `{}`", n.name),
                                )
                                .label(n.span, "write `sweep { … }` (grid) or `sweep zip { … }`"),
                            ),
                        },
                        other => {
                            let mut d = Diagnostic::new(
                                Code::E0403,
                                format!("unknown block `{other}` in an experiment"),
                            )
                            .label(
                                sb.head.span,
                                "experiments have stimulus, sweep and record blocks",
                            );
                            if let Some(s) = suggest(other, ["stimulus", "sweep", "record"]) {
                                d = d.help(format!("did you mean `{s}`?"));
                            }
                            ev.diags.push(d);
                        }
                    }
                }
                other => ev.diags.push(
                    Diagnostic::new(Code::E0401, "unexpected entry in an experiment").label(
                        other.span(),
                        "experiments have fields and stimulus, sweep and record blocks",
                    ),
                ),
            }
        }
        if neuron.is_none() && !seen.contains_key("neuron") {
            diags.push(
                Diagnostic::new(
                    Code::E0402,
                    format!("experiment `{}` has no neuron", name.name),
                )
                .label(name.span, "add `neuron: NAME`"),
            );
        }
        if duration.is_none() && !seen.contains_key("duration") {
            diags.push(
                Diagnostic::new(
                    Code::E0402,
                    format!("experiment `{}` has no duration", name.name),
                )
                .label(name.span, "add `duration: 300 ms`"),
            );
        }
        if let Some(rspan) = replay_span {
            if network.is_none() && !seen.contains_key("network") {
                diags.push(
                    Diagnostic::new(Code::E0402, "replay needs a network")
                        .label(rspan, "recorded input for these synapses")
                        .label(name.span, "add `network: NAME`")
                        .help("the network's populations give the receptors and weights of every cell type in the replay files"),
                );
            }
            match trials_span {
                Some(tspan) if trials != replay_listed as u64 => diags.push(
                    Diagnostic::new(
                        Code::E0314,
                        format!(
                            "trials is {trials}, but replay lists {replay_listed} file{}",
                            if replay_listed == 1 { "" } else { "s" }
                        ),
                    )
                    .label(tspan, "number of trials")
                    .label(rspan, "one trial per file")
                    .help("leave out `trials`: a replay runs one trial per file"),
                ),
                _ => trials = (replay_listed as u64).max(1),
            }
        }
        let mut n_steps = 0;
        if let Some((dur, dspan)) = duration {
            let k = dur / dt.0;
            if let Err(b) = crate::rules::steps(dur, dt.0) {
                // Too many to simulate (or to count: 1e300 ms would saturate to u64::MAX).
                let mut d = Diagnostic::new(b.code, b.message).label(dspan, b.label);
                if let Some(s) = dt.1 {
                    d = d.label(s, "time step");
                }
                diags.push(d);
            } else if (k - k.round()).abs() > 1e-9 * k.max(1.0) {
                let mut d = Diagnostic::new(Code::E0406, "time step does not divide the duration")
                    .label(dspan, format!("{dur} ms is {k:.4} steps of {} ms", dt.0));
                if let Some(s) = dt.1 {
                    d = d.label(s, "time step");
                }
                diags.push(d.help("choose a duration that is a whole number of steps"));
            } else {
                n_steps = k.round() as u64;
            }
        }
        let ok = !crate::diagnostics::has_errors(&diags);
        self.diags.extend(diags);
        if mid != 0 || !ok {
            return;
        }
        // Neurons and networks of imported files join the model when used here.
        let mut pulled_ok = true;
        if let Some((n, at)) = &neuron {
            pulled_ok &= self.pull_imported(neuron_from, DeclKind::Neuron, n, *at);
        }
        if let (Some(n), Some((from, at))) = (&network, network_at) {
            pulled_ok &= self.pull_imported(from, DeclKind::Network, n, at);
        }
        if !pulled_ok {
            return;
        }
        if let (Some((nn, nat)), Some(net), Some((from, _))) = (&neuron, &network, network_at) {
            self.check_placement(nn, *nat, net, from.map(|m| self.owner(m)).unwrap_or(0));
        }
        // The typed plan: stimuli, recordings and sweep targets, each resolved here so that
        // the run stage has nothing left to reject.
        let mut diags = Vec::new();
        let mut typed_stimuli = Vec::new();
        for (sname, (fields, span)) in &stimuli {
            match typed::stimulus(sname, fields) {
                Ok(s) => typed_stimuli.push(s),
                Err(m) => diags.push(
                    Diagnostic::new(Code::E0306, format!("stimulus `{sname}`: {m}"))
                        .label(*span, "in this stimulus"),
                ),
            }
        }
        let mut typed_record: Vec<model::RecordingModel> = Vec::new();
        let mut record_at: Vec<Span> = Vec::new();
        for (v, span) in &record {
            match typed::recording(v) {
                Ok(r)
                    if network.is_none()
                        && matches!(
                            r.what,
                            model::Recording::SynapseActivations
                                | model::Recording::PresynapticSpikes
                        ) =>
                {
                    diags.push(
                        Diagnostic::new(
                            Code::E0402,
                            format!("recording `{}` needs a network", r.name),
                        )
                        .label(*span, "this records synaptic input")
                        .label(name.span, "add `network: NAME` to this experiment"),
                    );
                }
                Ok(r) => {
                    if let Some(k) = typed_record.iter().position(|o| o.name == r.name) {
                        diags.push(
                            Diagnostic::new(
                                Code::E0416,
                                format!("two recordings are both named `{}`", r.name),
                            )
                            .label(*span, "this recording")
                            .label(record_at[k], "has the same name as this one")
                            .help("record each variable at each site once"),
                        );
                    } else {
                        typed_record.push(r);
                        record_at.push(*span);
                    }
                }
                Err(m) => diags
                    .push(Diagnostic::new(Code::E0306, m).label(*span, "this cannot be recorded")),
            }
        }
        let neuron_name = neuron.as_ref().map(|n| n.0.clone()).unwrap_or_default();
        let (schema, net_error) = self.schema(
            &typed_stimuli,
            &neuron_name,
            network.as_deref(),
            !replay.is_empty(),
        );
        // A network block the run stage could not lower is an error here, not at run time.
        if let (Some(m), Some((_, at))) = (net_error, network_at) {
            diags.push(Diagnostic::new(Code::E0315, m).label(at, "this network"));
        }
        let axes = self.sweeps(
            mid,
            base,
            &sweeps,
            &schema,
            (duration.map(|d| d.0).unwrap_or(0.0), dt.0),
            &mut diags,
        );
        let ok = !crate::diagnostics::has_errors(&diags);
        self.diags.extend(diags);
        if !ok {
            return;
        }
        let sweep_points = crate::run::sweep_points(&axes);
        // The work items are planned (and allocated) up front: their number is a checked fact.
        if let Err(b) = crate::rules::work_items(sweep_points, trials) {
            let mut d = Diagnostic::new(b.code, b.message);
            d = match (trials_span, sweeps.first()) {
                (Some(t), _) if trials > 1 => d.label(t, b.label),
                (_, Some((_, sb))) => d.label(sb.span, b.label),
                _ => d.label(name.span, b.label),
            };
            self.diags.push(d);
            return;
        }
        self.schemas.push(schema);
        self.model.experiments.push(ExperimentModel {
            name: name.name.clone(),
            neuron: neuron.map(|n| n.0).unwrap_or_default(),
            network,
            duration_ms: duration.map(|d| d.0).unwrap_or(0.0),
            dt_ms: dt.0,
            n_steps,
            trials,
            seed,
            stimuli: typed_stimuli,
            sweep: axes,
            sweep_points,
            record: typed_record,
            store,
            replay,
        });
    }

    /// The module that declares what `e` names (`Cell`, or `module.Cell`), seen from module
    /// `mid`; `None` when `e` is not such a reference.
    fn decl_module(&self, mid: u32, e: &ast::Expr) -> Option<u32> {
        let sym_module = |m: u32, name: &str| match self.modules[m as usize].syms.get(name) {
            Some((Sym::Decl(i), _)) => self.decls.get(*i).map(|d| self.owner(d.2)),
            _ => None,
        };
        match &e.kind {
            ast::ExprKind::Name(n) => sym_module(mid, n),
            ast::ExprKind::Paren(inner) => self.decl_module(mid, inner),
            ast::ExprKind::Member(base, field) => match &base.kind {
                ast::ExprKind::Name(m) => match self.modules[mid as usize].syms.get(m) {
                    Some((Sym::Module(t), _)) => sym_module(*t, &field.name),
                    _ => None,
                },
                _ => None,
            },
            _ => None,
        }
    }

    /// Make the neuron or network `name` declared in module `from` part of the model: root
    /// declarations already are; an imported one is added (once) with the mechanisms it uses.
    /// Two different declarations of one name cannot both be in the model (E0105). Returns
    /// false when it could not be added.
    fn pull_imported(&mut self, from: Option<u32>, kind: DeclKind, name: &str, at: Span) -> bool {
        let in_model = |s: &Self| match kind {
            DeclKind::Neuron => s.model.neurons.iter().any(|n| n.name == name),
            _ => s.model.networks.iter().any(|n| n.name == name),
        };
        let from = from.or_else(|| {
            // Not a plain reference: the only declaration of that name, if unique.
            let mut hits = self
                .imported
                .iter()
                .filter(|d| d.name == name && (d.neuron.is_some() == (kind == DeclKind::Neuron)));
            let first = hits.next().map(|d| d.module);
            if hits.next().is_none() { first } else { None }
        });
        let Some(from) = from else {
            // A root declaration with errors, or an ambiguous expression: nothing to add.
            return in_model(self);
        };
        if from == 0 || self.pulled.iter().any(|p| p.0 == from && p.1 == name) {
            return in_model(self);
        }
        let Some(k) = self.imported.iter().position(|d| {
            d.module == from && d.name == name && (d.neuron.is_some() == (kind == DeclKind::Neuron))
        }) else {
            // The imported declaration has errors (reported in its file).
            return false;
        };
        if in_model(self) {
            self.diags.push(
                Diagnostic::new(
                    Code::E0105,
                    format!("two different {}s named `{name}` are used", kind.as_str()),
                )
                .label(at, "this one is declared in an imported file")
                .note("the model identifies neurons and networks by name: rename one of them"),
            );
            return false;
        }
        let d = &self.imported[k];
        for m in &d.mechanisms {
            if !self.model.mechanisms.iter().any(|x| x.name == m.name) {
                self.model.mechanisms.push(m.clone());
            }
        }
        if let Some(n) = &d.neuron {
            self.model.neurons.push(n.clone());
        }
        if let Some(n) = &d.network {
            self.model.networks.push(n.clone());
        }
        self.pulled.push((from, name.to_string()));
        true
    }

    /// Declared synapses need a place on the experiment's neuron: every region a population's
    /// `location` lists must exist on the cell (E0413), and the regions within its `distance`
    /// range must have some length (E0415). Checked once per experiment, on the cell as
    /// lowered (with the generated axon).
    fn check_placement(&mut self, neuron: &str, neuron_at: Span, network: &str, owner: u32) {
        let Some(nm) = self
            .model
            .neurons
            .iter()
            .find(|n| n.name == neuron)
            .cloned()
        else {
            return;
        };
        let Some(net) = self
            .model
            .networks
            .iter()
            .find(|n| n.name == network)
            .cloned()
        else {
            return;
        };
        let Some(Ok(mut morph)) = self.morphologies.get(&nm.source.path).cloned() else {
            return;
        };
        if nm.axon.is_some() {
            morph.add_hay2013_axon();
        }
        let Ok(typed) = crate::network::lower::from_model(&net) else {
            return;
        };
        let spans = self
            .placement_spans
            .get(&(owner, network.to_string()))
            .cloned()
            .unwrap_or_default();
        let placer = crate::network::Placer::new(&morph, &[]);
        let labels: Vec<String> = morph
            .sections
            .iter()
            .map(|s| s.label.as_str().to_string())
            .collect();
        for p in &typed.populations {
            let crate::network::SynapseSource::Declared(d) = &p.synapses else {
                continue;
            };
            if d.count == 0 {
                continue;
            }
            let sp = spans.iter().find(|s| s.population == p.name);
            let at = |f: fn(&PlacementSpans) -> Option<Span>| sp.and_then(f).or(sp.map(|s| s.name));
            if let Err(e) = crate::network::declared::eligible(&placer, &labels, d) {
                let (code, span, what) = match e.kind {
                    crate::network::declared::NoPlaceKind::MissingRegion(_) => {
                        (Code::E0413, at(|s| s.location), "not on this cell")
                    }
                    crate::network::declared::NoPlaceKind::Empty => (
                        Code::E0415,
                        at(|s| s.distance.or(s.location)),
                        "no place for synapses here",
                    ),
                };
                let mut diag =
                    Diagnostic::new(code, format!("population `{}`: {}", p.name, e.message));
                if let Some(s) = span {
                    diag = diag.label(s, what);
                }
                diag = diag
                    .label(neuron_at, format!("on the neuron `{neuron}`"))
                    .note(e.note);
                self.diags.push(diag);
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    /// Every sweepable path of an experiment with these stimuli, neuron and network, and why
    /// its network block cannot be lowered (if it cannot).
    fn schema(
        &self,
        stimuli: &[StimulusModel],
        neuron: &str,
        network: Option<&str>,
        replay: bool,
    ) -> (Schema, Option<String>) {
        let neuron_model = self.model.neurons.iter().find(|n| n.name == neuron);
        // The typed network, as the run stage reads it (an unreadable network file is
        // reported where it is declared; its paths are then simply unknown here).
        let mut lower_error = None;
        let typed_net = network.and_then(|name| {
            let nm = self.model.networks.iter().find(|n| n.name == name)?;
            match &nm.isf_network_param {
                Some(p) => crate::interop::network_param::isf_network_param(Path::new(p)).ok(),
                None => crate::network::lower::from_model(nm)
                    .map_err(|e| lower_error = Some(format!("network `{name}`: {e}")))
                    .ok(),
            }
        });
        let mech_params = |name: &str| -> Option<Vec<(String, Dim)>> {
            self.mechs
                .iter()
                .rev()
                .find(|m| m.name == name)
                .map(|m| m.params.iter().map(|p| (p.0.clone(), p.1)).collect())
        };
        let mech_ions = |name: &str| -> Vec<String> {
            self.mechs
                .iter()
                .rev()
                .find(|m| m.name == name)
                .map(|m| m.model.ions.iter().map(|i| i.ion.clone()).collect())
                .unwrap_or_default()
        };
        let schema = Schema::build(&SchemaInput {
            stimuli,
            neuron: neuron_model,
            network: network.zip(typed_net.as_ref()),
            mech_params: &mech_params,
            mech_ions: &mech_ions,
            replay,
        });
        (schema, lower_error)
    }

    /// The sweep blocks of a root experiment, resolved against the schema of its stimuli,
    /// neuron and network: every axis a typed target with values in canonical units.
    #[allow(clippy::too_many_arguments)]
    fn sweeps(
        &mut self,
        mid: u32,
        base: &Path,
        sweeps: &[(Option<Span>, &ast::SubBlock)],
        schema: &Schema,
        (duration_ms, dt_ms): (f64, f64),
        diags: &mut Vec<Diagnostic>,
    ) -> Vec<SweepAxisModel> {
        if sweeps.is_empty() {
            return Vec::new();
        }
        let mut axes: Vec<SweepAxisModel> = Vec::new();
        let mut spans: Vec<Span> = Vec::new();
        for (zip, sw) in sweeps {
            let first_axis = axes.len();
            for en in &sw.body.entries {
                let Entry::Sweep(ax) = en else {
                    diags.push(
                        Diagnostic::new(Code::E0401, "a sweep block lists axes")
                            .label(en.span(), "write `path.to.parameter in [values]`"),
                    );
                    continue;
                };
                if let Some(a) = self.sweep_axis(mid, ax, base, schema, diags) {
                    axes.push(a);
                    spans.push(ax.span);
                }
            }
            for (i, a) in axes[first_axis..].iter_mut().enumerate() {
                a.group = (first_axis + if zip.is_some() { 0 } else { i }) as u32;
            }
            if zip.is_some() {
                let zipped = &mut axes[first_axis..];
                let len = zipped.first().map(|a| a.values.len());
                if let Some(bad) = zipped.iter().find(|a| Some(a.values.len()) != len) {
                    diags.push(
                        Diagnostic::new(Code::E0309, "zipped sweep axes differ in length")
                            .label(
                                sw.span,
                                format!(
                                    "`{}` has {} values, the first axis {}",
                                    bad.path,
                                    bad.values.len(),
                                    len.unwrap_or(0)
                                ),
                            )
                            .help("axes of `sweep zip` vary together and need equally many values"),
                    );
                }
            }
        }
        // Every point's time step must divide its duration.
        let find = |t: &SweepTarget| axes.iter().position(|a| a.target == *t);
        let (di, ti) = (find(&SweepTarget::Duration), find(&SweepTarget::Dt));
        if di.is_some() || ti.is_some() {
            let vals = |i: Option<usize>, base: f64| -> Vec<f64> {
                match i {
                    Some(i) => axes[i]
                        .values
                        .iter()
                        .filter_map(|v| match v {
                            SweepValue::Num(x) => Some(*x),
                            _ => None,
                        })
                        .collect(),
                    None => vec![base],
                }
            };
            let (ds, ts) = (vals(di, duration_ms), vals(ti, dt_ms));
            let zipped = matches!((di, ti), (Some(a), Some(b)) if axes[a].group == axes[b].group);
            let pairs: Vec<(f64, f64)> = if zipped {
                ds.iter().copied().zip(ts.iter().copied()).collect()
            } else {
                ds.iter()
                    .flat_map(|d| ts.iter().map(move |t| (*d, *t)))
                    .collect()
            };
            let at = di.or(ti).map(|i| spans[i]).unwrap_or(sweeps[0].1.span);
            if let Some(b) = pairs
                .iter()
                .find_map(|(d, t)| crate::rules::steps(*d, *t).err())
            {
                diags.push(
                    Diagnostic::new(b.code, format!("a sweep point: {}", b.message))
                        .label(at, b.label),
                );
            } else if let Some((d, t)) = pairs.into_iter().find(|(d, t)| {
                let k = d / t;
                (k - k.round()).abs() > 1e-9 * k.max(1.0)
            }) {
                diags.push(
                    Diagnostic::new(Code::E0406, "time step does not divide the duration")
                        .label(at, format!("a sweep point runs {d} ms in steps of {t} ms"))
                        .help("every sweep point needs a duration that is a whole number of steps"),
                );
            }
        }
        axes
    }

    /// One sweep axis: its path looked up in the experiment's schema (did-you-mean over the
    /// valid paths when absent), its values checked against the target's dimension and range.
    fn sweep_axis(
        &mut self,
        mid: u32,
        ax: &ast::SweepAxis,
        base: &Path,
        schema: &Schema,
        diags: &mut Vec<Diagnostic>,
    ) -> Option<SweepAxisModel> {
        let segs: Vec<String> = ax
            .path
            .iter()
            .map(|s| match s {
                ast::PathSeg::Name(i) => i.name.clone(),
                ast::PathSeg::Wildcard(_) => "*".into(),
            })
            .collect();
        let path_str = segs.join(".");
        let seg_span = |s: &ast::PathSeg| match s {
            ast::PathSeg::Name(i) => i.span,
            ast::PathSeg::Wildcard(s) => *s,
        };
        let path_span = match (ax.path.first(), ax.path.last()) {
            (Some(a), Some(b)) => seg_span(a).to(seg_span(b)),
            _ => ax.span,
        };
        let mut scope = self.scope(mid);
        scope.locals = region_locals();
        let mut ev = Evaluator {
            diags,
            base_dir: base.to_path_buf(),
        };
        let values = ev.eval(&ax.values, &mut scope);
        let Some(entry) = schema.find(&path_str) else {
            let mut d = Diagnostic::new(
                Code::E0408,
                format!("sweep path `{path_str}` names nothing"),
            )
            .label(path_span, "no sweepable parameter at this path");
            d = match schema.suggest(&path_str) {
                Some(s) => d.help(format!("did you mean `{s}`?")),
                None => d,
            };
            ev.diags.push(d.note("paths look like `stimulus.NAME.amp`, `duration`, `NEURON.region.MECHANISM.param`, `NEURON.region.cm`, `NETWORK.POPULATION|*.RECEPTOR.param`, `NETWORK.POPULATION|*.release_probability` or `NETWORK.POPULATION|*.activity.GENERATOR.param`; `isf plan --sweepable` lists them all"));
            return None;
        };
        let values = match values {
            Val::List(v) => v,
            Val::Err => return None,
            other => {
                ev.diags.push(
                    Diagnostic::new(Code::E0306, "sweep values must be a list or a range")
                        .label(ax.values.span, format!("this is {}", other.type_name()))
                        .help("write `[a, b, c]` or `a .. b by step`"),
                );
                return None;
            }
        };
        let vspan = ax.values.span;
        let mut out = Vec::new();
        let mut unit = String::new();
        let broken =
            |b: crate::rules::Broken| Diagnostic::new(b.code, b.message).label(vspan, b.label);
        let what = format!("a value of `{path_str}`");
        for v in values {
            let value = match entry.kind {
                // A temperature as the neuron's field takes it: degC or kelvin, absolute.
                ValueKind::Quantity { .. } if entry.target == SweepTarget::Temperature => {
                    match temperature_value(&mut ev, v, vspan) {
                        Some(t) => {
                            unit = "degC".into();
                            SweepValue::Num(t)
                        }
                        None => return None,
                    }
                }
                ValueKind::Quantity { dim, range } => {
                    let v = ev.expect_dim(v, dim, vspan, &format!("a value of `{path_str}`"));
                    match lower_val(&v) {
                        Some(model::Value::Num { value, unit: u }) => {
                            if let Err(b) = range.check(&what, value, dim, &u) {
                                ev.diags.push(broken(b));
                                return None;
                            }
                            unit = u;
                            SweepValue::Num(value)
                        }
                        Some(_) => {
                            ev.diags.push(
                                Diagnostic::new(
                                    Code::E0315,
                                    format!("values of `{path_str}` must be constants"),
                                )
                                .label(vspan, "not a compile-time constant"),
                            );
                            return None;
                        }
                        None => return None,
                    }
                }
                ValueKind::Count { min } => {
                    let x = match &v {
                        Val::Q { dim, .. } if dim.is_one() => v.const_si(),
                        Val::Err => return None,
                        _ => None,
                    };
                    let Some(x) = x else {
                        ev.diags.push(
                            Diagnostic::new(
                                Code::E0407,
                                format!("values of `{path_str}` must be whole numbers ≥ {min}"),
                            )
                            .label(vspan, format!("this holds {}", describe_val(&v))),
                        );
                        return None;
                    };
                    match crate::rules::count(&what, x, min as u32) {
                        Ok(n) => {
                            unit = "1".into();
                            SweepValue::Num(f64::from(n))
                        }
                        Err(b) => {
                            ev.diags.push(broken(b));
                            return None;
                        }
                    }
                }
                ValueKind::Regions => match location_value(&mut ev, v, vspan) {
                    Val::List(items) => SweepValue::Regions(
                        items
                            .into_iter()
                            .filter_map(|r| match r {
                                Val::Region(r) => Some(r),
                                _ => None,
                            })
                            .collect(),
                    ),
                    _ => return None,
                },
                ValueKind::LengthPair => match distance_value(&mut ev, v, vspan) {
                    Val::List(items) => {
                        let b: Vec<f64> = items
                            .iter()
                            .filter_map(|x| match lower_val(x) {
                                Some(model::Value::Num { value, .. }) => Some(value),
                                _ => None,
                            })
                            .collect();
                        let [from, to] = b[..] else { return None };
                        unit = "um".into();
                        SweepValue::Pair(from, to)
                    }
                    _ => return None,
                },
            };
            out.push(value);
        }
        Some(SweepAxisModel {
            path: path_str,
            target: entry.target.clone(),
            unit,
            values: out,
            // assigned by the caller: its own grid dimension, or its `sweep zip` group
            group: 0,
        })
    }
}

/// Region names (`soma`, `apical_dendrite`, …; not `all`) as values, for the scopes where
/// they name places on the cell (experiments, a population's `location`).
/// One top-level let of a cycle: its index in the module's lets and where it names the next
/// member of the cycle.
type CycleStep = (usize, Span);

/// The order in which to evaluate a module's top-level lets (every let after the lets it
/// names) and the cycles among them. Each cycle lists its members in dependency order, from
/// the member reached first in source order.
fn let_order(lets: &[&ast::Let]) -> (Vec<usize>, Vec<Vec<CycleStep>>) {
    let index: HashMap<&str, usize> = lets
        .iter()
        .enumerate()
        .map(|(i, l)| (l.name.name.as_str(), i))
        .collect();
    let deps: Vec<Vec<(usize, Span)>> = lets
        .iter()
        .map(|l| {
            let mut names = Vec::new();
            referenced_names(&l.value, &mut names);
            names
                .into_iter()
                .filter_map(|(n, at)| index.get(n.as_str()).map(|&j| (j, at)))
                .collect()
        })
        .collect();
    // 0 unvisited, 1 on the path, 2 done. Iterative depth-first search: (let, next dep).
    let mut state = vec![0u8; lets.len()];
    let mut order = Vec::new();
    let mut cycles: Vec<Vec<CycleStep>> = Vec::new();
    for root in 0..lets.len() {
        if state[root] != 0 {
            continue;
        }
        let mut path: Vec<(usize, usize)> = vec![(root, 0)];
        state[root] = 1;
        while let Some(&mut (i, ref mut k)) = path.last_mut() {
            if let Some(&(j, at)) = deps[i].get(*k) {
                *k += 1;
                match state[j] {
                    0 => {
                        state[j] = 1;
                        path.push((j, 0));
                    }
                    1 => {
                        // The path from `j` to `i`, then `i` names `j`: a cycle.
                        let from = path.iter().position(|p| p.0 == j).unwrap_or(0);
                        let mut cycle: Vec<CycleStep> = path[from..]
                            .windows(2)
                            .map(|w| (w[0].0, deps[w[0].0][w[0].1 - 1].1))
                            .collect();
                        cycle.push((i, at));
                        cycles.push(cycle);
                    }
                    _ => {}
                }
            } else {
                state[i] = 2;
                order.push(i);
                path.pop();
            }
        }
    }
    (order, cycles)
}

/// Names an expression refers to, with where. A called name is a builtin, not a let (a
/// region called with a position comes from the context, never from a let).
fn referenced_names(e: &ast::Expr, out: &mut Vec<(String, Span)>) {
    use ast::ExprKind as K;
    match &e.kind {
        K::Name(n) => out.push((n.clone(), e.span)),
        K::Number { .. } | K::Quantity { .. } | K::Str(_) | K::Bool(_) => {}
        K::Unary(_, a) | K::Paren(a) | K::Member(a, _) => referenced_names(a, out),
        K::Binary(_, a, b) | K::Index(a, b) => {
            referenced_names(a, out);
            referenced_names(b, out);
        }
        K::If(c, a, b) => {
            referenced_names(c, out);
            referenced_names(a, out);
            referenced_names(b, out);
        }
        K::Call(callee, args) => {
            if !matches!(callee.kind, K::Name(_)) {
                referenced_names(callee, out);
            }
            for a in args {
                referenced_names(&a.value, out);
            }
        }
        K::List(items) | K::Tuple(items) => {
            for it in items {
                referenced_names(it, out);
            }
        }
        K::Record(fields) => {
            for (_, v) in fields {
                referenced_names(v, out);
            }
        }
        K::Range { start, end, step } => {
            referenced_names(start, out);
            referenced_names(end, out);
            if let Some(s) = step {
                referenced_names(s, out);
            }
        }
    }
}

/// E0212 for a cycle of top-level lets: the first member's definition, every reference that
/// closes a step, and the cycle spelled out.
fn cycle_diagnostic(lets: &[&ast::Let], cycle: &[CycleStep]) -> Diagnostic {
    let name = |i: usize| lets[i].name.name.as_str();
    let first = cycle[0].0;
    let mut chain: Vec<&str> = cycle.iter().map(|&(i, _)| name(i)).collect();
    chain.push(name(first));
    let mut d = Diagnostic::new(
        Code::E0212,
        format!("cyclic definition: `{}` depends on itself", name(first)),
    )
    .label(
        lets[first].name.span,
        if cycle.len() == 1 {
            format!("`{}` is defined in terms of itself", name(first))
        } else {
            format!(
                "`{}` is defined in terms of itself (through {})",
                name(first),
                chain[1..chain.len() - 1]
                    .iter()
                    .map(|n| format!("`{n}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        },
    );
    for (k, &(i, at)) in cycle.iter().enumerate() {
        let next = cycle.get(k + 1).map_or(first, |c| c.0);
        d = d.label(at, format!("`{}` uses `{}` here", name(i), name(next)));
    }
    d.note(format!("cycle: {}", chain.join(" → ")))
        .help("give one of these lets a value that does not refer back to it")
}

fn region_locals() -> Vec<(String, Val)> {
    REGIONS
        .iter()
        .filter(|r| r.0 != "all")
        .map(|r| (r.0.to_string(), Val::Region(r.0.to_string())))
        .collect()
}

/// A population's `location`: a region or a list of regions, lowered to a list of region
/// names (duplicates removed, order kept).
fn location_value(ev: &mut Evaluator, v: Val, span: Span) -> Val {
    let items = match v {
        Val::Err => return Val::Err,
        Val::Region(_) => vec![v],
        Val::List(items) => items,
        other => {
            ev.diags.push(
                Diagnostic::new(
                    Code::E0306,
                    "`location` must be a region or a list of regions",
                )
                .label(span, format!("this is {}", other.type_name()))
                .help("write e.g. `location: apical_dendrite` or `location: [dendrite, apical_dendrite]`"),
            );
            return Val::Err;
        }
    };
    if items.is_empty() {
        ev.diags.push(
            Diagnostic::new(Code::E0314, "`location` lists no region")
                .label(span, "empty list")
                .help("leave `location` out to place synapses on all dendrites"),
        );
        return Val::Err;
    }
    let mut out: Vec<Val> = Vec::new();
    for it in items {
        match it {
            Val::Region(r) => {
                if !out.iter().any(|x| matches!(x, Val::Region(y) if *y == r)) {
                    out.push(Val::Region(r));
                }
            }
            Val::Err => return Val::Err,
            other => {
                ev.diags.push(
                    Diagnostic::new(Code::E0306, "`location` must list regions")
                        .label(span, format!("this list holds {}", other.type_name()))
                        .note(format!(
                            "regions: {}",
                            REGIONS
                                .iter()
                                .filter(|r| r.0 != "all")
                                .map(|r| r.0)
                                .collect::<Vec<_>>()
                                .join(", ")
                        )),
                );
                return Val::Err;
            }
        }
    }
    Val::List(out)
}

/// A population's `distance`: `(from, to)`, path lengths from the soma with
/// `0 ≤ from < to`.
fn distance_value(ev: &mut Evaluator, v: Val, span: Span) -> Val {
    let items = match v {
        Val::Err => return Val::Err,
        Val::Tuple(items) | Val::List(items) if items.len() == 2 => items,
        other => {
            ev.diags.push(
                Diagnostic::new(Code::E0306, "`distance` must be a pair `(from, to)`")
                    .label(span, format!("this is {}", other.type_name()))
                    .help("write e.g. `distance: (200 um, 800 um)`: path length from the soma"),
            );
            return Val::Err;
        }
    };
    let mut bounds = Vec::new();
    let mut out = Vec::new();
    for it in items {
        let it = ev.expect_dim(it, Dim::LENGTH, span, "`distance`");
        if it.is_err() {
            return Val::Err;
        }
        match it.const_si() {
            Some(x) => bounds.push(x * 1e6),
            None => {
                ev.diags.push(
                    Diagnostic::new(Code::E0315, "`distance` bounds must be constants")
                        .label(span, "not a compile-time constant"),
                );
                return Val::Err;
            }
        }
        out.push(it);
    }
    let (from, to) = (bounds[0], bounds[1]);
    if !(from >= 0.0 && from < to && to.is_finite()) {
        ev.diags.push(
            Diagnostic::new(Code::E0314, "`distance` must satisfy 0 ≤ from < to").label(
                span,
                format!("from {} um to {} um", round_um(from), round_um(to)),
            ),
        );
        return Val::Err;
    }
    Val::List(out)
}

/// A length for messages: µm rounded to 1e-9 (`200`, not `199.99999999999997`).
fn round_um(x: f64) -> f64 {
    (x * 1e9).round() / 1e9
}

pub use super::sweep::RECEPTORS;

/// Whether a synapse mechanism's event block makes random draws.
fn mech_draws(m: &MechModel) -> bool {
    let mut used = Vec::new();
    for e in &m.events {
        e.expr.vars(&mut used);
    }
    used.iter()
        .any(|n| crate::sema::ex::Draw::parse_var(n).is_some())
}

fn receptor_params(name: &str) -> Option<&'static [(&'static str, Dim)]> {
    RECEPTORS.iter().find(|r| r.0 == name).map(|r| r.1)
}

const STIMULUS_FIELDS: &[&str] = &[
    "at",
    "kind",
    "amp",
    "delay",
    "duration",
    "onset",
    "tau_rise",
    "tau_decay",
    "imax",
];

/// Names that can be recorded without arguments.
pub const RECORDABLE: &[&str] = &[
    "synapse_activations",
    "presynaptic_spikes",
    "all_compartments",
];

fn q_var(name: &str, dim: Dim) -> Val {
    let (scale, _) = units::canonical_scale(dim);
    Val::Q {
        dim,
        abs: false,
        ex: Ex::var(name, scale),
    }
}

fn ann_unit(t: &ast::UnitAnn, diags: &mut Vec<Diagnostic>) -> Option<units::Unit> {
    match t {
        ast::UnitAnn::Dimensionless(_) => Some(units::Unit {
            scale: 1.0,
            dim: Dim::ONE,
            affine_offset: None,
        }),
        ast::UnitAnn::Unit(u) => resolve_unit(u, diags),
    }
}

fn check_annotation(ev: &mut Evaluator, v: Val, ty: Option<&ast::UnitAnn>, span: Span) -> Val {
    match ty.and_then(|t| ann_unit(t, ev.diags)) {
        Some(u) if u.affine_offset.is_some() => match v {
            Val::Q { dim, abs: true, .. } if dim == Dim::TEMPERATURE => v,
            other => ev.expect_dim(other, Dim::TEMPERATURE, span, "the value"),
        },
        Some(u) => ev.expect_dim(v, u.dim, span, "the value"),
        None => v,
    }
}

fn name_list(e: &ast::Expr) -> Option<Vec<(String, Span)>> {
    match &e.kind {
        ast::ExprKind::Name(n) => Some(vec![(n.clone(), e.span)]),
        ast::ExprKind::List(items) => items
            .iter()
            .map(|i| match &i.kind {
                ast::ExprKind::Name(n) => Some((n.clone(), i.span)),
                _ => None,
            })
            .collect(),
        _ => None,
    }
}

/// The fields of a block that holds only `name: value` entries; a repeated field (E0104) or
/// any other kind of entry (E0401, `message`) is reported and skipped.
fn value_fields<'b>(
    block: &'b Block,
    message: &str,
    diags: &mut Vec<Diagnostic>,
) -> Vec<&'b ast::Field> {
    let mut seen: HashMap<String, Span> = HashMap::new();
    let mut out = Vec::new();
    for en in &block.entries {
        if let Some(dup) = dup_check(en, &mut seen) {
            diags.push(dup);
            continue;
        }
        match en {
            Entry::Field(f) => out.push(f),
            other => diags.push(
                Diagnostic::new(Code::E0401, message.to_string())
                    .label(other.span(), "write `name: value`"),
            ),
        }
    }
    out
}

fn dup_check(entry: &Entry, seen: &mut HashMap<String, Span>) -> Option<Diagnostic> {
    let (name, span) = match entry {
        Entry::Field(f) => (f.name.name.clone(), f.name.span),
        Entry::Block(b) => {
            let n = match &b.name {
                Some(n) => format!("{} {}", b.head.name, n.name),
                None => b.head.name.clone(),
            };
            if matches!(b.head.name.as_str(), "sweep" | "record") {
                return None;
            }
            (n, b.head.span)
        }
        _ => return None,
    };
    seen.insert(name.clone(), span).map(|prev| {
        Diagnostic::new(Code::E0104, format!("`{name}` is given twice"))
            .label(span, "given again here")
            .label(prev, "first given here")
            .help("remove one of them")
    })
}

/// Resolve and read one replay file (relative to the script's directory): the model entry,
/// or a diagnostic at `span` (missing file E0211; the reader's located E08xx errors).
fn replay_source(
    base: &Path,
    s: &str,
    span: Span,
    diags: &mut Vec<Diagnostic>,
) -> Option<ReplaySource> {
    let path = base.join(s);
    // Shown relative to the working directory when below it.
    let shown = std::env::current_dir()
        .ok()
        .and_then(|cwd| path.strip_prefix(cwd).ok().map(|p| p.display().to_string()))
        .unwrap_or_else(|| path.display().to_string());
    if !path.is_file() {
        diags.push(
            Diagnostic::new(Code::E0211, crate::files::not_found(&path, s))
                .label(span, format!("looked for {shown}"))
                .note("paths are relative to the script that names them"),
        );
        return None;
    }
    match crate::interop::replay::ReplayFile::read(&path) {
        Ok(f) => {
            let (synapses, releases) = f.counts();
            Some(ReplaySource {
                path: path.to_string_lossy().into_owned(),
                format: f.format().to_string(),
                synapses: synapses as u64,
                releases: releases as u64,
            })
        }
        Err(mut e) => {
            e.file = shown;
            diags.push(
                Diagnostic::new(e.code, format!("{}: {}", e.location(), e.message))
                    .label(span, "in this replay file")
                    .note("replay files are ISF synapse activation files or CSVs with columns synapse_id, cell_type, section_id, x, spike_time_ms"),
            );
            None
        }
    }
}

fn unknown_field(name: &str, span: Span, place: &str, known: &[&str]) -> Diagnostic {
    let mut d = Diagnostic::new(Code::E0401, format!("unknown field `{name}` for {place}"))
        .label(span, "not accepted here");
    if let Some(s) = suggest(name, known.iter().copied()) {
        d = d.help(format!("did you mean `{s}`?"));
    } else {
        d = d.note(format!("{place} accepts: {}", known.join(", ")));
    }
    d
}

/// A count (`cells`, `synapses`): a dimensionless constant checked by [`rules::count`]
/// (E0407, as in a network `.param` file); anything else has the wrong type (E0306).
fn want_count(ev: &mut Evaluator, v: Val, span: Span, what: &str, min: u32) -> Val {
    match &v {
        Val::Q {
            dim,
            ex: Ex::Const(x),
            ..
        } if dim.is_one() => ev
            .rule(span, rules::count(&format!("`{what}`"), *x, min))
            .map_or(Val::Err, |_| v),
        Val::Err => v,
        other => {
            ev.diags.push(
                Diagnostic::new(Code::E0306, format!("`{what}` must be a whole number"))
                    .label(span, format!("this is {}", describe_val(other))),
            );
            Val::Err
        }
    }
}

fn describe_val(v: &Val) -> String {
    match v {
        Val::Q {
            ex: Ex::Const(x),
            dim,
            ..
        } if dim.is_one() => format!("{x}"),
        other => other.type_name(),
    }
}

fn temperature_value(ev: &mut Evaluator, v: Val, span: Span) -> Option<f64> {
    match v {
        Val::Q {
            dim,
            abs: true,
            ex: Ex::Const(k),
        } if dim == Dim::TEMPERATURE => Some(k - 273.15),
        Val::Q {
            dim,
            abs: false,
            ex: Ex::Const(k),
        } if dim == Dim::TEMPERATURE => {
            // Kelvin given for an absolute temperature: accepted as thermodynamic temperature.
            Some(k - 273.15)
        }
        Val::Err => None,
        other => {
            ev.expect_dim(other, Dim::TEMPERATURE, span, "temperature");
            None
        }
    }
}

fn discretization(o: &Obj) -> Option<Discretization> {
    let q = |n: &str, scale: f64| o.get(n).and_then(|v| v.const_si()).map(|x| x / scale);
    Some(match o.kind.as_str() {
        "isf_d_lambda" => Discretization::IsfDLambda {
            frequency_hz: q("frequency", 1.0).unwrap_or(100.0),
            max_length_um: q("max_length", 1e-6),
        },
        "d_lambda" => Discretization::DLambda {
            d_lambda: q("d_lambda", 1.0)?,
            frequency_hz: q("frequency", 1.0).unwrap_or(100.0),
        },
        "max_length" => Discretization::MaxLength {
            max_length_um: q("length", 1e-6)?,
        },
        "fixed" => Discretization::Fixed {
            nseg: q("nseg", 1.0)? as u32,
        },
        _ => return None,
    })
}

/// Lower a checked value into the model's canonical form; `None` for errors.
pub fn lower_val(v: &Val) -> Option<model::Value> {
    Some(match v {
        Val::Err => return None,
        Val::Q { dim, abs, ex } => {
            let (scale, unit) = if *abs {
                (1.0, "degC".to_string())
            } else {
                units::canonical_scale(*dim)
            };
            let ex = if *abs {
                Ex::bin(BinOp::Sub, ex.clone(), Ex::Const(273.15))
            } else {
                ex.clone().canonical(scale)
            };
            match ex.as_const() {
                Some(c) => model::Value::Num { value: c, unit },
                None => model::Value::Expr { expr: ex, unit },
            }
        }
        Val::Bool(ex) => match ex.as_const() {
            Some(c) => model::Value::Bool(c != 0.0),
            None => model::Value::Expr {
                expr: ex.clone(),
                unit: "bool".into(),
            },
        },
        Val::Str(s) => model::Value::Str(s.clone()),
        Val::List(items) | Val::Tuple(items) => {
            model::Value::List(items.iter().filter_map(lower_val).collect())
        }
        Val::Record(fs) => model::Value::Record(
            fs.iter()
                .filter_map(|(k, v)| lower_val(v).map(|l| (k.clone(), l)))
                .collect(),
        ),
        Val::Obj(o) => model::Value::Obj {
            kind: o.kind.clone(),
            args: o
                .args
                .iter()
                .filter_map(|(k, v)| lower_val(v).map(|l| (k.clone(), l)))
                .collect(),
        },
        Val::Decl(k, n) => model::Value::Ref {
            decl: k.as_str().into(),
            name: n.clone(),
        },
        Val::Region(r) => model::Value::Str(r.clone()),
        Val::Module(_) => return None,
    })
}
