//! `neuron X = isf_param("cell.param")`: a neuron generated from an ISF cell parameter file,
//! checked as the isf text `isf convert` prints.

use super::*;

impl Session {
    /// `neuron X = isf_param("cell.param")`: translate the file to isf source (exactly what
    /// `isf convert` prints) and check that text as a virtual module next to the `.param`
    /// file, whose neuron (named `X`) joins the model.
    pub(in crate::sema::check) fn isf_param_neuron(
        &mut self,
        mid: u32,
        name: &ast::Ident,
        path: &str,
        span: Span,
    ) {
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
}
