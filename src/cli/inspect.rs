//! The cell an inspection command shows (`isf morph`, `isf plan --compartments`/`--sites`):
//! from a script (`.isf`, one of its neurons), a morphology (`.hoc`/`.swc`, NEURON defaults,
//! no mechanisms), a morphology with an ISF cell parameter file (`--param`), or a `.param`
//! file alone. Every input becomes a checked [`Model`] — a morphology or `.param` through a
//! one-line script (`neuron N { morphology: hoc("…") }`, `neuron N = isf_param("…")`, the
//! declaration a user would write) — and the chosen neuron is lowered by
//! [`crate::run::cellsim::lower`], the function every run lowers its cell with. So what these
//! commands print is what `isf run` simulates: all cell modifications applied, no second code
//! path.
//!
//! Also here: the per-compartment table in the column layout of NEURON's reference tables
//! (`conformance/discretization/*_segments.csv`), the table of resolved stimulus and
//! recording sites, and the number formats (Python's `repr` for CSV, so that a table written
//! by NEURON's Python and one written here compare as text where the values agree).

use super::check::{Format as DiagFormat, emit};
use crate::diagnostics::{Code, Diagnostic};
use crate::lower::cell::LoweredCell;
use crate::model::{Model, NeuronModel};
use crate::run::cellsim::{PlacedSite, SiteRole};
use crate::sema::Checked;
use clap::Args;
use std::path::{Path, PathBuf};

/// Which cell to inspect (shared by `isf morph` and `isf plan`).
#[derive(Args, Debug, Clone)]
pub struct CellInput {
    /// A script (.isf), a morphology (.hoc, .swc) or an ISF cell parameter file (.param).
    pub file: PathBuf,
    /// With a .hoc/.swc FILE: the ISF cell parameter file of that morphology (the cell
    /// `neuron X = isf_param("CELL.param")` declares; its `neuron.filename` must name FILE).
    #[arg(long, value_name = "CELL.param")]
    pub param: Option<PathBuf>,
    /// With a script: the neuron to show (default: the script's only neuron, or the one
    /// all its experiments use).
    #[arg(long, value_name = "NAME")]
    pub neuron: Option<String>,
}

/// What kind of file the input is, by extension.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Script,
    Morphology,
    Param,
}

fn kind_of(path: &Path) -> Option<Kind> {
    let ext = path.extension()?.to_str()?.to_ascii_lowercase();
    match ext.as_str() {
        "isf" => Some(Kind::Script),
        "hoc" | "swc" => Some(Kind::Morphology),
        "param" => Some(Kind::Param),
        _ => None,
    }
}

/// A checked input and the neuron chosen in it (when the command needs one).
pub struct Loaded {
    pub checked: Checked,
    /// Index into `checked.model.neurons`.
    pub neuron: Option<usize>,
}

impl Loaded {
    /// The chosen neuron (callers ask for one when loading).
    pub fn neuron_model(&self) -> Option<&NeuronModel> {
        self.neuron.and_then(|i| self.checked.model.neurons.get(i))
    }
}

/// Print diagnostics without source spans (command-line errors), as `isf check` prints.
pub fn emit_plain(diags: &[Diagnostic]) {
    emit(
        diags,
        &crate::source::SourceMap::default(),
        DiagFormat::Human,
    );
}

/// Check the input and choose its neuron (`need_neuron`). Diagnostics of the check are
/// printed (warnings too); `None` after errors, which have been printed.
pub fn load(input: &CellInput, need_neuron: bool) -> Option<Loaded> {
    let file = &input.file;
    let Some(kind) = kind_of(file) else {
        emit_plain(&[Diagnostic::new(
            Code::E0422,
            format!(
                "{}: not a script (.isf), morphology (.hoc, .swc) or cell parameter file (.param)",
                file.display()
            ),
        )]);
        return None;
    };
    let misuse = |what: &str, why: &str| {
        emit_plain(&[Diagnostic::new(
            Code::E0422,
            format!("{what} does not apply to {}: {why}", file.display()),
        )]);
    };
    if input.param.is_some() && kind != Kind::Morphology {
        misuse(
            "--param",
            "it gives the biophysics of a .hoc/.swc morphology (a .param FILE is inspected alone; \
             a script names its own)",
        );
        return None;
    }
    if input.neuron.is_some() && kind != Kind::Script {
        misuse(
            "--neuron",
            "it chooses among the neurons of a script (.isf)",
        );
        return None;
    }
    let checked = match kind {
        Kind::Script => crate::validate::check_path(file),
        Kind::Morphology => match &input.param {
            Some(p) => param_script(p, Some(file)),
            None => morphology_script(file),
        },
        Kind::Param => param_script(file, None),
    };
    emit(&checked.diagnostics, &checked.sources, DiagFormat::Human);
    if checked.has_errors() {
        return None;
    }
    let mut loaded = Loaded {
        checked,
        neuron: None,
    };
    // A morphology or .param input has its one neuron: chosen always, so that E0814 holds
    // for every command given FILE --param.
    if need_neuron || input.neuron.is_some() || kind != Kind::Script {
        match choose_neuron(&loaded.checked.model, input.neuron.as_deref(), file) {
            Ok(i) => loaded.neuron = Some(i),
            Err(d) => {
                emit_plain(&[d]);
                return None;
            }
        }
    }
    if let (Kind::Morphology, Some(p), Some(n)) = (kind, &input.param, loaded.neuron_model())
        && let Err(d) = same_morphology(file, p, n)
    {
        emit_plain(&[d]);
        return None;
    }
    Some(loaded)
}

/// The neuron a command shows: `--neuron NAME`, else the only neuron of the model, else the
/// one every experiment uses (E0421 when there is none or the choice is open).
fn choose_neuron(model: &Model, name: Option<&str>, file: &Path) -> Result<usize, Diagnostic> {
    let names: Vec<&str> = model.neurons.iter().map(|n| n.name.as_str()).collect();
    let listed = || {
        if names.is_empty() {
            "it declares none (a neuron imported from another file is shown from that file)"
                .to_string()
        } else {
            format!("neurons: {}", names.join(", "))
        }
    };
    if let Some(want) = name {
        return names.iter().position(|n| *n == want).ok_or_else(|| {
            Diagnostic::new(
                Code::E0421,
                format!("{} has no neuron `{want}`", file.display()),
            )
            .note(listed())
        });
    }
    if names.len() == 1 {
        return Ok(0);
    }
    let mut used: Vec<&str> = model
        .experiments
        .iter()
        .map(|e| e.neuron.as_str())
        .collect();
    used.sort_unstable();
    used.dedup();
    if let [one] = used.as_slice()
        && let Some(i) = names.iter().position(|n| n == one)
    {
        return Ok(i);
    }
    Err(if names.is_empty() {
        Diagnostic::new(
            Code::E0421,
            format!("{} declares no neuron to show", file.display()),
        )
        .note(listed())
    } else {
        Diagnostic::new(
            Code::E0421,
            format!(
                "{} has {} neurons and its experiments do not pick one",
                file.display(),
                names.len()
            ),
        )
        .note(listed())
        .help("choose one with --neuron NAME")
    })
}

/// `--param` must describe the morphology given as FILE: the run lowers the file the `.param`
/// names, so showing it on another morphology would show a cell no run simulates (E0814).
fn same_morphology(file: &Path, param: &Path, neuron: &NeuronModel) -> Result<(), Diagnostic> {
    let canon = |p: &Path| std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf());
    let named = Path::new(&neuron.source.path);
    if canon(file) == canon(named) {
        return Ok(());
    }
    Err(Diagnostic::new(
        Code::E0814,
        format!(
            "{} names the morphology {}, not {}",
            param.display(),
            named.display(),
            file.display()
        ),
    )
    .note("a run of this .param lowers the morphology its `neuron.filename` names")
    .help(format!(
        "inspect `{}` alone, or edit `neuron.filename` in it",
        param.display()
    )))
}

/// A string literal of the language (escapes for `"`, `\` and control characters).
fn literal(s: &str) -> String {
    let mut o = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => o.push_str("\\\""),
            '\\' => o.push_str("\\\\"),
            '\n' => o.push_str("\\n"),
            '\r' => o.push_str("\\r"),
            '\t' => o.push_str("\\t"),
            c if c.is_control() => o.push_str(&format!("\\u{{{:X}}}", c as u32)),
            c => o.push(c),
        }
    }
    o.push('"');
    o
}

/// The declaration name `isf convert` gives a cell from this file (never a keyword).
fn neuron_name(path: &Path) -> String {
    crate::interop::cell_param::neuron_name_for(path)
}

fn absolute(p: &Path) -> PathBuf {
    std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf())
}

/// Check the one-line script `neuron N { morphology: hoc("FILE") }` (or `swc`).
fn morphology_script(file: &Path) -> Checked {
    let fmt = match file.extension().and_then(|e| e.to_str()) {
        Some(e) if e.eq_ignore_ascii_case("swc") => "swc",
        _ => "hoc",
    };
    let text = format!(
        "neuron {} {{\n    morphology: {fmt}({})\n}}\n",
        neuron_name(file),
        literal(&absolute(file).display().to_string())
    );
    virtual_check(file, &text)
}

/// Check the one-line script `neuron N = isf_param("CELL.param")`; `morphology` names the
/// FILE the command was given (for the script's display name).
fn param_script(param: &Path, morphology: Option<&Path>) -> Checked {
    let text = format!(
        "neuron {} = isf_param({})\n",
        neuron_name(morphology.unwrap_or(param)),
        literal(&absolute(param).display().to_string())
    );
    virtual_check(morphology.unwrap_or(param), &text)
}

/// Check generated text; its diagnostics name it `<FILE as a neuron>` and show the line.
fn virtual_check(file: &Path, text: &str) -> Checked {
    let name = format!(
        "<{} as a neuron>",
        file.file_name()
            .map(|f| f.to_string_lossy().into_owned())
            .unwrap_or_default()
    );
    let dir = file
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."));
    crate::validate::check_text(&name, text, &dir)
}

/// Lower `neuron` with the run's lowering (printing the error on failure).
pub fn lower(neuron: &NeuronModel, model: &Model) -> Option<LoweredCell> {
    match crate::run::cellsim::lower(neuron, &model.mechanisms) {
        Ok(c) => Some(c),
        Err(d) => {
            emit_plain(&[d.note(format!("while lowering neuron `{}`", neuron.name))]);
            None
        }
    }
}

// ------------------------------------------------------------------ tables

/// A table: header and rows of already formatted cells.
pub struct Table {
    pub header: Vec<String>,
    pub rows: Vec<Vec<String>>,
}

impl Table {
    /// Comma-separated values with a header line; a cell with a comma, quote or line break
    /// (a site such as `section(38, 0.5)`) is quoted as RFC 4180 says.
    pub fn csv(&self) -> String {
        let line = |cells: &[String]| {
            let quoted: Vec<String> = cells.iter().map(|c| csv_cell(c)).collect();
            quoted.join(",") + "\n"
        };
        let mut s = line(&self.header);
        for r in &self.rows {
            s.push_str(&line(r));
        }
        s
    }

    /// Right-aligned columns separated by two spaces.
    pub fn aligned(&self) -> String {
        let mut width: Vec<usize> = self.header.iter().map(|h| h.chars().count()).collect();
        for r in &self.rows {
            for (w, t) in width.iter_mut().zip(r) {
                *w = (*w).max(t.chars().count());
            }
        }
        let mut s = String::new();
        let mut line = |cells: &[String]| {
            let parts: Vec<String> = cells
                .iter()
                .zip(&width)
                .map(|(c, w)| format!("{c:>w$}"))
                .collect();
            s.push_str(parts.join("  ").trim_end());
            s.push('\n');
        };
        line(&self.header);
        for r in &self.rows {
            line(r);
        }
        s
    }
}

/// One CSV cell: as is, or in double quotes (inner quotes doubled) when it needs them.
fn csv_cell(c: &str) -> String {
    if c.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", c.replace('"', "\"\""))
    } else {
        c.to_string()
    }
}

/// A float as Python's `repr` writes it (the shortest text that reads back to the same
/// value; exponent form below 1e-4 and from 1e16, `nan`, `inf`), the format of NEURON's
/// reference tables written from Python.
pub fn py_float(v: f64) -> String {
    if v.is_nan() {
        return "nan".into();
    }
    if v.is_infinite() {
        return if v > 0.0 { "inf" } else { "-inf" }.into();
    }
    let sci = format!("{v:e}");
    let (mant, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    if (-4..16).contains(&exp) {
        let s = format!("{v}");
        if s.contains('.') { s } else { format!("{s}.0") }
    } else {
        format!("{mant}e{}{:02}", if exp < 0 { '-' } else { '+' }, exp.abs())
    }
}

/// A float with 7 significant digits for reading (`%.7g`: trailing zeros dropped).
pub fn short_float(v: f64) -> String {
    if !v.is_finite() {
        return py_float(v);
    }
    if v == 0.0 {
        return "0".into();
    }
    let sci = format!("{v:.6e}");
    let (mant, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let trim = |s: String| {
        if s.contains('.') {
            s.trim_end_matches('0').trim_end_matches('.').to_string()
        } else {
            s
        }
    };
    if (-4..7).contains(&exp) {
        trim(format!("{v:.*}", (6 - exp).max(0) as usize))
    } else {
        format!("{}e{exp}", trim(mant.to_string()))
    }
}

/// How numbers are written in a table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Numbers {
    /// Every digit (Python's `repr`): CSV.
    Exact,
    /// Seven significant digits: tables for reading.
    Short,
}

impl Numbers {
    fn f(self, v: f64) -> String {
        match self {
            Numbers::Exact => py_float(v),
            Numbers::Short => short_float(v),
        }
    }
}

/// The column name NEURON (and ISF's `.param` files) give mechanism parameter `param`:
/// isf's `gbar` is `g<mechanism>bar` (the inverse of what `isf convert` does); other names
/// are the same.
pub fn neuron_param_name(mechanism: &str, param: &str) -> String {
    if param == "gbar" {
        format!("g{mechanism}bar")
    } else {
        param.to_string()
    }
}

/// One row per compartment in the layout of NEURON's reference tables: `sec_index,
/// seg_index, x, diam_um, area_um2, ri_Mohm, dist_to_soma_um, cm`, then every parameter of
/// every inserted mechanism as `mechanism.parameter` (NEURON's names, canonical units: S/cm²,
/// mV, ms, mM; `nan` where the mechanism is not inserted), then the fixed reversal
/// potentials the regions set (`ek`, `ena`, …; `nan` where none is set).
pub fn compartment_table(cell: &LoweredCell, numbers: Numbers) -> Table {
    let mut header: Vec<String> = [
        "sec_index",
        "seg_index",
        "x",
        "diam_um",
        "area_um2",
        "ri_Mohm",
        "dist_to_soma_um",
        "cm",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let n = cell.n_compartments();
    // Per mechanism: the instance index of each compartment (None where not inserted).
    let mut columns: Vec<(&[f64], Vec<Option<usize>>)> = Vec::new();
    for m in &cell.mechanisms {
        let mut at = vec![None; n];
        for (i, &c) in m.compartments.iter().enumerate() {
            if let Some(slot) = at.get_mut(c) {
                *slot = Some(i);
            }
        }
        for p in &m.params {
            header.push(format!(
                "{}.{}",
                m.name,
                neuron_param_name(&m.name, &p.name)
            ));
            columns.push((&p.values, at.clone()));
        }
    }
    for name in cell.reversal_mv.keys() {
        header.push(name.clone());
    }
    let mut rows = Vec::with_capacity(n);
    for (s, sec) in cell.geometry.sections.iter().enumerate() {
        for k in 0..sec.nseg {
            let c = cell.seg_offset[s] + k;
            let mut r = vec![
                s.to_string(),
                k.to_string(),
                numbers.f(sec.seg_x[k]),
                numbers.f(sec.seg_diam_um[k]),
                numbers.f(sec.seg_area_um2[k]),
                numbers.f(sec.seg_ri_mohm[k]),
                numbers.f(sec.seg_dist_um[k]),
                numbers.f(cell.cm_uf_cm2[c]),
            ];
            for (values, at) in &columns {
                let v = at[c].and_then(|i| values.get(i).copied());
                r.push(numbers.f(v.unwrap_or(f64::NAN)));
            }
            for col in cell.reversal_mv.values() {
                r.push(numbers.f(col[c]));
            }
            rows.push(r);
        }
    }
    Table { header, rows }
}

/// One row per resolved stimulus or recording site: `experiment, role, name, site` (as
/// written), `sec_index, hoc_name, label, x` (where the run places it), `seg_index, seg_x`
/// (the compartment whose node that is: NEURON's segment containing `x`, or `0-end`/`1-end`
/// for the section's end nodes), `dist_to_soma_um` (path distance of `x` from soma(0.5), the
/// convention of the compartment table) and `seg_dist_to_soma_um` (the same at `seg_x`).
pub fn site_table(sites: &[(String, PlacedSite)], cell: &LoweredCell, numbers: Numbers) -> Table {
    let header = [
        "experiment",
        "role",
        "name",
        "site",
        "sec_index",
        "hoc_name",
        "label",
        "x",
        "seg_index",
        "seg_x",
        "dist_to_soma_um",
        "seg_dist_to_soma_um",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let mut rows = Vec::new();
    for (exp, p) in sites {
        let Some(sec) = cell.geometry.sections.get(p.site.section) else {
            continue;
        };
        let x = p.site.x;
        let (seg, seg_x) = if x <= 0.0 {
            ("0-end".to_string(), 0.0)
        } else if x >= 1.0 {
            ("1-end".to_string(), 1.0)
        } else {
            let k = crate::sim::tree::segment_index(sec.nseg as u32, x) as usize;
            (k.to_string(), sec.seg_x.get(k).copied().unwrap_or(f64::NAN))
        };
        let dist = |x: f64| {
            if sec.parent.is_none() {
                (x - 0.5).abs() * sec.length_um
            } else {
                // The 0-end's distance, from the first compartment centre's.
                sec.seg_dist_um.first().copied().unwrap_or(f64::NAN)
                    - sec.seg_x.first().copied().unwrap_or(0.0) * sec.length_um
                    + x * sec.length_um
            }
        };
        rows.push(vec![
            exp.clone(),
            match p.role {
                SiteRole::Stimulus => "stimulus",
                SiteRole::Recording => "recording",
            }
            .to_string(),
            p.name.clone(),
            p.written.clone(),
            p.site.section.to_string(),
            sec.name.clone(),
            sec.label.clone(),
            numbers.f(x),
            seg,
            numbers.f(seg_x),
            numbers.f(dist(x)),
            numbers.f(dist(seg_x)),
        ]);
    }
    Table { header, rows }
}

/// The resolved sites of every experiment of `model` on `neuron`, whose lowered cell is
/// `cell`, as `(experiment, site)`; errors (a site the run could not place) are printed and
/// make the result `Err` after all experiments were tried.
#[allow(clippy::result_unit_err)]
pub fn model_sites(
    model: &Model,
    neuron: &NeuronModel,
    cell: &LoweredCell,
) -> Result<Vec<(String, PlacedSite)>, ()> {
    let mut out = Vec::new();
    let mut failed = false;
    for exp in model.experiments.iter().filter(|e| e.neuron == neuron.name) {
        match crate::run::cellsim::experiment_sites(model, exp, cell) {
            Ok(sites) => out.extend(sites.into_iter().map(|s| (exp.name.clone(), s))),
            Err(d) => {
                emit_plain(&[d.note(format!("in experiment `{}`", exp.name))]);
                failed = true;
            }
        }
    }
    if failed { Err(()) } else { Ok(out) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn py_float_matches_python_repr() {
        // Values and their Python 3 `repr`.
        let cases = [
            (0.5, "0.5"),
            (100.0, "100.0"),
            (-90.0, "-90.0"),
            (0.0, "0.0"),
            (-0.0, "-0.0"),
            (3.26e-05, "3.26e-05"),
            (0.0001, "0.0001"),
            (1.5e-5, "1.5e-05"),
            (12.010038413135636, "12.010038413135636"),
            (999.9999694824219, "999.9999694824219"),
            (1e16, "1e+16"),
            (1234567890123456.0, "1234567890123456.0"),
            (2.5e-310, "2.5e-310"),
            (f64::NAN, "nan"),
            (f64::NEG_INFINITY, "-inf"),
        ];
        for (v, want) in cases {
            assert_eq!(py_float(v), want, "{v:?}");
            if v.is_finite() {
                assert_eq!(py_float(v).parse::<f64>().ok(), Some(v), "round trip");
            }
        }
    }

    #[test]
    fn short_float_is_seven_significant_digits() {
        assert_eq!(short_float(3.26e-05), "3.26e-5");
        assert_eq!(short_float(0.16873125737477918), "0.1687313");
        assert_eq!(short_float(916.4576946244947), "916.4577");
        assert_eq!(short_float(-90.0), "-90");
        assert_eq!(short_float(0.0), "0");
        assert_eq!(short_float(12345678.0), "1.234568e7");
        assert_eq!(short_float(f64::NAN), "nan");
    }

    #[test]
    fn neuron_names_of_parameters() {
        assert_eq!(neuron_param_name("NaTa_t", "gbar"), "gNaTa_tbar");
        assert_eq!(neuron_param_name("pas", "g"), "g");
        assert_eq!(neuron_param_name("CaDynamics_E2", "decay"), "decay");
    }

    #[test]
    fn csv_quotes_cells_with_commas() {
        let t = Table {
            header: vec!["site".into(), "x".into()],
            rows: vec![vec!["section(38, 0.5)".into(), "a\"b".into()]],
        };
        assert_eq!(t.csv(), "site,x\n\"section(38, 0.5)\",\"a\"\"b\"\n");
    }

    #[test]
    fn literals_escape() {
        assert_eq!(literal("a\"b\\c\nd"), "\"a\\\"b\\\\c\\nd\"");
    }

    #[test]
    fn input_kinds() {
        assert_eq!(kind_of(Path::new("a/b.ISF")), Some(Kind::Script));
        assert_eq!(kind_of(Path::new("c.swc")), Some(Kind::Morphology));
        assert_eq!(kind_of(Path::new("c.param")), Some(Kind::Param));
        assert_eq!(kind_of(Path::new("c.txt")), None);
        assert_eq!(neuron_name(Path::new("network.hoc")), "Network");
        assert_eq!(neuron_name(Path::new("86_C2.hoc")), "cell_86_C2");
    }
}
