//! Imports: `import` items (stdlib modules and relative files, cycles), loading
//! dependencies, and pulling imported neurons and networks into the model when a root
//! experiment uses them.

use super::*;

impl Session {
    pub(super) fn import(&mut self, mid: u32, imp: &ast::Import, base: &Path) {
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
                    self.diags.push(
                        Diagnostic::new(Code::E0202, format!("unknown stdlib module `{wanted}`"))
                            .label(span, "no such module")
                            .suggest_or_list(&wanted, all.iter().map(String::as_str), |all| {
                                format!("stdlib modules: {all}")
                            }),
                    );
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
                        d = d.suggest(&id.name, own.iter().map(String::as_str));
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

    pub(super) fn load_dep(
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

    /// The module that declares what `e` names (`Cell`, or `module.Cell`), seen from module
    /// `mid`; `None` when `e` is not such a reference.
    pub(super) fn decl_module(&self, mid: u32, e: &ast::Expr) -> Option<u32> {
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
    pub(super) fn pull_imported(
        &mut self,
        from: Option<u32>,
        kind: DeclKind,
        name: &str,
        at: Span,
    ) -> bool {
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
        let (mechanisms, neuron, network, check) = (
            d.mechanisms.clone(),
            d.neuron.clone(),
            d.network.clone(),
            d.check,
        );
        for m in mechanisms {
            if !self.model.mechanisms.iter().any(|x| x.name == m.name) {
                self.model.mechanisms.push(m);
            }
        }
        if let Some(n) = neuron {
            self.neuron_in_model(&n.name, check);
            self.model.neurons.push(n);
        }
        if let Some(n) = network {
            self.model.networks.push(n);
        }
        self.pulled.push((from, name.to_string()));
        true
    }
}
