//! ISF cell parameter files (`.param`, spec 02 §2.1) → readable isf source.
//!
//! [`convert`] writes a `neuron` declaration that imports the mechanisms it uses and states
//! the same cell: morphology, generated axon, discretization, cell modifications, and per
//! label Ra, cm, reversal potentials and mechanisms with named distribution builtins.
//! `neuron X = isf_param("cell.param")` in a script checks exactly this text (as a virtual
//! file next to the `.param`), so a converted file and the `isf_param` call give the same
//! model.
//!
//! What is accepted (everything else is an error, E0803 unknown/unsupported key, E0804
//! missing key, E0802 wrong value type):
//! * `info`: any dict; copied into a comment.
//! * `NMODL_mechanisms`: any dict; ignored (mechanisms come from the stdlib, as in ISF where
//!   the value is a placeholder).
//! * `mech_globals`: must be empty — isf has no global mechanism variables, and silently
//!   dropping a setting would change the cell.
//! * `sim`: `T` → `temperature`, `Vinit` → `v_init`; `dt`, `tStop`, `tStart` and
//!   `recordingSites` belong to an experiment and are copied into a comment.
//! * `neuron`: `filename` (`.hoc`/`.swc`, relative to the `.param` file), optional
//!   `discretization` {`f`, `max_seg_length`}, `cell_modify_functions` limited to
//!   `scale_apical_morph_86` and `scale_apical` (the others are stimuli: write them in an
//!   experiment), `spatialgraph_modify_functions` only if empty (deprecated spines), and label
//!   entries `Soma`, `Dendrite`/`BasalDendrite`, `ApicalDendrite`, `AIS`, `Myelin`, `Node`,
//!   `Axon` with `properties` {`Ra`, `cm`, `ions` {`ek`, `ena`}} and `mechanisms` {`global`
//!   (never read by ISF; ignored), `range`}. `spines` (passive spine correction) is not
//!   supported yet.
//! * Range mechanisms are looked up by name in a [`Catalogue`]: under `isf_param(…)` the
//!   density mechanisms the script sees (its own and its imports') first, then every stdlib
//!   module that declares density mechanisms (`std.channels.hay2011` first, then
//!   `std.channels.isf_extra`); `isf convert --import FILE.isf` puts FILE's own mechanisms
//!   first. An unknown name is E0811, naming every place looked in. The output imports what
//!   it uses. `*_ion` mechanisms are rejected (ISF inserts them but its parameter assignment
//!   is a no-op, spec 02 §2.5). ISF's `g<Name>bar` is `gbar`; other parameter names are kept.
//! * Rules: `uniform`, `linear`, `linear_capped`, `exponential`, `exponential_by_z_dist`
//!   (absolute distances in mm, as ISF divides by 1000: `lambda` per mm, `x_offset` in mm),
//!   `capped_exponential`, `sigmoid`, `uniform_range` (with `outsidescale_sections` written as
//!   `outside_sections: [23, 24]`: those sections get the outside value whatever their
//!   distance). `distance: "relative"` becomes `relative: true`; any other value means
//!   absolute µm, as in ISF.

use crate::diagnostics::Code;
use crate::files::FileError;
use crate::interop::formats::param::{ParamNode, ParamValue, parse_param};
use crate::morph::Label;
use std::collections::BTreeMap;
use std::fmt::Write;
use std::path::{Component, Path, PathBuf};

/// Parameters of one mechanism: name → unit as written (`"S/cm2"`, `"1"` if dimensionless).
pub type MechParams = Vec<(String, String)>;

/// One place where mechanism names are looked up, in lookup order (see [`Catalogue`]).
#[derive(Clone, Debug)]
pub struct Place {
    /// How the place is named in messages: `std.channels.hay2011`, `the script cell.isf and
    /// its imports`, or a file given to `isf convert --import`.
    pub name: String,
    /// The import the converted text needs for a mechanism of this place: a stdlib module
    /// path (`std.channels.hay2011`) or a quoted file path; `None` when the mechanisms are
    /// handed to the converted text directly (a script's own mechanisms under `isf_param`).
    pub import: Option<String>,
    /// Density mechanisms of the place with their parameters.
    pub mechs: BTreeMap<String, MechParams>,
}

/// Where the mechanisms of a cell parameter file are looked up: the places in order, the
/// first that has a name wins (a script's own mechanisms, then its imports, then the stdlib),
/// as receptors are looked up in network files.
#[derive(Clone, Debug, Default)]
pub struct Catalogue {
    pub places: Vec<Place>,
}

impl Catalogue {
    /// Only the stdlib's density mechanisms ([`stdlib_places`]).
    pub fn stdlib() -> Self {
        Catalogue {
            places: stdlib_places(),
        }
    }

    /// The place index and parameters of mechanism `name`.
    pub fn find(&self, name: &str) -> Option<(usize, &MechParams)> {
        self.places
            .iter()
            .enumerate()
            .find_map(|(i, p)| p.mechs.get(name).map(|m| (i, m)))
    }

    /// "place (names…); place (names…)" for an unknown-mechanism error.
    fn describe(&self) -> String {
        self.places
            .iter()
            .map(|p| {
                let names: Vec<&str> = p.mechs.keys().map(String::as_str).collect();
                if names.is_empty() {
                    format!("{} (no density mechanisms)", p.name)
                } else {
                    format!("{} ({})", p.name, names.join(", "))
                }
            })
            .collect::<Vec<_>>()
            .join("; ")
    }
}

/// The density mechanisms declared in isf source `text` with their parameters (what a
/// parameter file can set); point and synapse mechanisms are not cell mechanisms here.
pub fn mechanisms_in_text(text: &str) -> BTreeMap<String, MechParams> {
    let mut out = BTreeMap::new();
    let parsed = crate::syntax::parser::parse_file(crate::source::FileId(0), text);
    let slice = |s: crate::source::Span| text[s.start as usize..s.end as usize].to_string();
    for item in &parsed.file.items {
        let crate::syntax::ast::Item::Decl(d) = item else {
            continue;
        };
        let crate::syntax::ast::DeclBody::Block(b) = &d.body else {
            continue;
        };
        if d.kind != crate::syntax::ast::DeclKind::Mechanism
            || d.sort.as_ref().is_some_and(|s| s.name != "density")
        {
            continue;
        }
        let mut params = Vec::new();
        for e in &b.entries {
            if let crate::syntax::ast::Entry::Stmt(st) = e
                && st.keyword.name == "parameter"
            {
                for bnd in &st.bindings {
                    let unit = match &bnd.ty {
                        Some(crate::syntax::ast::UnitAnn::Unit(u)) => slice(u.span),
                        _ => "1".to_string(),
                    };
                    params.push((bnd.name.name.clone(), unit));
                }
            }
        }
        out.insert(d.name.name.clone(), params);
    }
    out
}

/// Every stdlib module that declares density mechanisms, `std.channels.hay2011` first (the
/// Hay set wins a name it shares with a later module), the others in file order.
pub fn stdlib_places() -> Vec<Place> {
    let mut out: Vec<Place> = crate::stdlib::FILES
        .iter()
        .filter_map(|(path, text)| {
            let mechs = mechanisms_in_text(text);
            if mechs.is_empty() {
                return None;
            }
            let module = format!("std.{}", path.trim_end_matches(".isf").replace('/', "."));
            Some(Place {
                name: module.clone(),
                import: Some(module),
                mechs,
            })
        })
        .collect();
    out.sort_by_key(|p| p.name != "std.channels.hay2011");
    out
}

/// The mechanisms of `std.channels.hay2011` with their parameters, read from the embedded
/// stdlib source.
pub fn hay2011_catalogue() -> BTreeMap<String, MechParams> {
    crate::stdlib::module(&["channels", "hay2011"])
        .map(|(_, text)| mechanisms_in_text(text))
        .unwrap_or_default()
}

/// Read `param` and convert it; relative paths in the output are relative to `out_dir`.
pub fn convert_file(
    param: &Path,
    out_dir: &Path,
    neuron_name: &str,
) -> Result<String, Vec<FileError>> {
    convert_file_with(param, out_dir, neuron_name, &Catalogue::stdlib())
}

/// [`convert_file`] with mechanism names looked up in `cat` (first place first).
pub fn convert_file_with(
    param: &Path,
    out_dir: &Path,
    neuron_name: &str,
    cat: &Catalogue,
) -> Result<String, Vec<FileError>> {
    let name = param.display().to_string();
    let text = crate::files::read_data(param).map_err(|e| {
        vec![FileError::new(
            Code::E0801,
            format!("cannot read file: {e}"),
            &name,
            0,
            0,
        )]
    })?;
    let root = parse_param(&text, &name).map_err(|e| vec![e])?;
    let param_dir = param
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."));
    convert(&root, &name, &param_dir, out_dir, neuron_name, cat)
}

/// A default neuron name from a file name ([`identifier_for`] with prefix `cell_`).
pub fn neuron_name_for(path: &Path) -> String {
    identifier_for(path, "cell")
}

/// A declaration name from a file name: identifier characters kept, others `_`; `PREFIX_`
/// in front when it would start with a digit or be empty; a reserved word
/// (`grammar/keywords.txt`, e.g. `network` from `network.param`) gets a capital first letter
/// (`Network`), since keywords are lower case.
pub fn identifier_for(path: &Path, prefix: &str) -> String {
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut s: String = stem
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if s.is_empty() || s.starts_with(|c: char| c.is_ascii_digit()) {
        s = format!("{prefix}_{s}");
    }
    if crate::syntax::lexer::KEYWORDS.contains(&s.as_str()) {
        let mut c = s.chars();
        s = c
            .next()
            .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
            .unwrap_or_default();
    }
    s
}

/// Why `name` cannot name a declaration (`None` when it can): it must be an identifier
/// (ASCII letter or `_`, then letters, digits, `_`) and not a reserved word.
pub fn identifier_problem(name: &str) -> Option<String> {
    let ok_start = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
    if !ok_start || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Some(format!(
            "`{name}` is not a name: use letters, digits and `_`, not starting with a digit"
        ));
    }
    if crate::syntax::lexer::KEYWORDS.contains(&name) {
        return Some(format!(
            "`{name}` is a reserved word (grammar/keywords.txt); choose another name"
        ));
    }
    None
}

/// The isf region name of an ISF label key.
fn region_name(key: &str) -> Option<&'static str> {
    let l = Label::parse(key)?;
    crate::morph::REGIONS
        .iter()
        .find(|r| r.1 == l.as_str())
        .map(|r| r.0)
}

struct Cx<'a> {
    file: &'a str,
    errors: Vec<FileError>,
    /// (place index, mechanism name) of every mechanism the file uses, first use first.
    used: Vec<(usize, String)>,
}

/// The imports the converted text needs: per place that provides a used mechanism, in
/// lookup order, `import PLACE.*` — or the used names listed, when the glob would also bring
/// a name that an earlier place provides (the earlier one must win in the output too).
fn import_lines(cat: &Catalogue, used: &[(usize, String)]) -> Vec<String> {
    let mut out = Vec::new();
    for (i, place) in cat.places.iter().enumerate() {
        let Some(import) = &place.import else {
            continue;
        };
        let mut names: Vec<&str> = used
            .iter()
            .filter(|(p, _)| *p == i)
            .map(|(_, n)| n.as_str())
            .collect();
        if names.is_empty() {
            continue;
        }
        if import.starts_with('"') {
            // A file import always brings all of the file's own declarations.
            out.push(format!("import {import}"));
            continue;
        }
        names.sort_unstable();
        names.dedup();
        let shadows = place
            .mechs
            .keys()
            .any(|m| cat.find(m).is_some_and(|(j, _)| j != i));
        if shadows {
            out.push(format!("import {import}.{{{}}}", names.join(", ")));
        } else {
            out.push(format!("import {import}.*"));
        }
    }
    out
}

impl Cx<'_> {
    fn err(&mut self, n: &ParamNode, code: Code, msg: impl Into<String>) {
        self.errors
            .push(FileError::new(code, msg, self.file, n.line, n.column));
    }

    fn dict<'n>(&mut self, n: &'n ParamNode, what: &str) -> &'n [(String, ParamNode)] {
        match n.entries() {
            Some(e) => e,
            None => {
                self.err(n, Code::E0802, format!("`{what}` must be a dict"));
                &[]
            }
        }
    }

    fn number(&mut self, n: &ParamNode, what: &str) -> Option<f64> {
        match n.as_f64() {
            Some(v) if v.is_finite() => Some(v),
            _ => {
                self.err(n, Code::E0802, format!("`{what}` must be a finite number"));
                None
            }
        }
    }

    fn unknown(&mut self, n: &ParamNode, key: &str, place: &str, known: &[&str]) {
        self.err(
            n,
            Code::E0803,
            format!(
                "unknown key `{key}` in {place} (accepted: {})",
                known.join(", ")
            ),
        );
    }
}

/// A number as isf source: integers without a fraction, others in Rust's shortest
/// round-trip form (`3.26e-5`, `0.0112`), so that reading it back gives the same `f64`.
fn num(v: f64) -> String {
    if v == v.trunc() && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        format!("{v:?}")
    }
}

/// `v unit`, or just `v` for dimensionless parameters.
fn qty(v: f64, unit: &str) -> String {
    if unit == "1" {
        num(v)
    } else {
        format!("{} {unit}", num(v))
    }
}

/// Convert a parsed cell parameter file. `param_dir` resolves the file's relative paths;
/// the output's paths are relative to `out_dir`.
pub fn convert(
    root: &ParamNode,
    file: &str,
    param_dir: &Path,
    out_dir: &Path,
    neuron_name: &str,
    cat: &Catalogue,
) -> Result<String, Vec<FileError>> {
    let mut cx = Cx {
        file,
        errors: Vec::new(),
        used: Vec::new(),
    };
    let mut header = Vec::new();
    let mut neuron_node = None;
    let mut temperature = None;
    let mut v_init = None;
    let top = cx.dict(root, "the file");
    for (key, n) in top {
        match key.as_str() {
            "info" => {
                let parts: Vec<String> = cx
                    .dict(n, "info")
                    .iter()
                    .map(|(k, v)| format!("{k} {}", v.to_json()))
                    .collect();
                header.push(format!("info: {}", parts.join(", ")));
            }
            "NMODL_mechanisms" => {
                cx.dict(n, "NMODL_mechanisms");
                header.push(
                    "NMODL_mechanisms: ignored; mechanisms are looked up by name (script, imports, \
                     stdlib)"
                        .into(),
                );
            }
            "mech_globals" => {
                for (k, v) in cx.dict(n, "mech_globals") {
                    cx.err(
                        v,
                        Code::E0803,
                        format!(
                            "`mech_globals.{k}` is not supported: isf has no global mechanism \
                             variables"
                        ),
                    );
                }
            }
            "sim" => {
                let mut rest = Vec::new();
                for (k, v) in cx.dict(n, "sim") {
                    match k.as_str() {
                        "T" => temperature = cx.number(v, "sim.T"),
                        "Vinit" => v_init = cx.number(v, "sim.Vinit"),
                        "dt" | "tStop" | "tStart" => {
                            if let Some(x) = cx.number(v, &format!("sim.{k}")) {
                                rest.push(format!("{k} {} ms", num(x)));
                            }
                        }
                        "recordingSites" => rest.push(format!("recordingSites {}", v.to_json())),
                        _ => cx.unknown(
                            v,
                            k,
                            "`sim`",
                            &["T", "Vinit", "dt", "tStop", "tStart", "recordingSites"],
                        ),
                    }
                }
                if !rest.is_empty() {
                    header.push(format!(
                        "sim: {} (set these in an experiment)",
                        rest.join(", ")
                    ));
                }
            }
            "neuron" => neuron_node = Some(n),
            _ => cx.unknown(
                n,
                key,
                "the cell parameter file",
                &["info", "NMODL_mechanisms", "mech_globals", "neuron", "sim"],
            ),
        }
    }
    let Some(neuron) = neuron_node else {
        cx.err(root, Code::E0804, "missing key `neuron`");
        return Err(cx.errors);
    };
    let mut fields = Vec::new();
    let mut regions = Vec::new();
    let entries = cx.dict(neuron, "neuron");
    let mut morphology = None;
    let mut discretization = "isf_d_lambda(frequency: 100 Hz)".to_string();
    let mut modify = Vec::new();
    let mut seen_regions: Vec<&str> = Vec::new();
    for (key, n) in entries {
        match key.as_str() {
            "filename" => match n.as_str() {
                Some(f) => {
                    let p = param_dir.join(f);
                    let kind = match p.extension().and_then(|e| e.to_str()) {
                        Some(e) if e.eq_ignore_ascii_case("swc") => "swc",
                        _ => "hoc",
                    };
                    let shown = relative_to(&p, out_dir);
                    morphology = Some(format!("{kind}({})", quote(&shown)));
                }
                None => cx.err(n, Code::E0802, "`filename` must be a string"),
            },
            "discretization" => {
                let d = cx.dict(n, "discretization");
                let get = |k: &str| d.iter().find(|(x, _)| x == k).map(|(_, v)| v);
                for (k, v) in d {
                    if k != "f" && k != "max_seg_length" {
                        cx.unknown(v, k, "`discretization`", &["f", "max_seg_length"]);
                    }
                }
                match (get("f"), get("max_seg_length")) {
                    (Some(f), Some(m)) => {
                        let f = cx.number(f, "discretization.f").unwrap_or(100.0);
                        discretization = match m.value {
                            ParamValue::Null => format!("isf_d_lambda(frequency: {} Hz)", num(f)),
                            _ => {
                                let m = cx
                                    .number(m, "discretization.max_seg_length")
                                    .unwrap_or(f64::NAN);
                                format!(
                                    "isf_d_lambda(frequency: {} Hz, max_length: {} um)",
                                    num(f),
                                    num(m)
                                )
                            }
                        };
                    }
                    _ => cx.err(
                        n,
                        Code::E0804,
                        "`discretization` needs both `f` and `max_seg_length` (a number or None)",
                    ),
                }
            }
            "cell_modify_functions" => {
                for (k, v) in cx.dict(n, "cell_modify_functions") {
                    let args = cx.dict(v, k);
                    match k.as_str() {
                        "scale_apical_morph_86" => {
                            for (a, av) in args {
                                cx.unknown(av, a, "`scale_apical_morph_86`", &[]);
                            }
                            modify.push("scale_apical_morph_86()".to_string());
                        }
                        "scale_apical" => {
                            let mut scale = None;
                            for (a, av) in args {
                                match a.as_str() {
                                    "scale" => scale = cx.number(av, "scale_apical.scale"),
                                    "compartment" if av.as_str() == Some("ApicalDendrite") => {}
                                    _ => cx.err(
                                        av,
                                        Code::E0803,
                                        format!(
                                            "`scale_apical.{a}` is not supported (only `scale`, \
                                             and `compartment: \"ApicalDendrite\"`)"
                                        ),
                                    ),
                                }
                            }
                            match scale {
                                Some(s) => modify.push(format!("scale_apical(scale: {})", num(s))),
                                None => cx.err(v, Code::E0804, "`scale_apical` needs `scale`"),
                            }
                        }
                        _ => cx.err(
                            v,
                            Code::E0803,
                            format!(
                                "cell-modify function `{k}` is not supported here: stimuli and \
                                 synaptic input belong in an experiment"
                            ),
                        ),
                    }
                }
            }
            "spatialgraph_modify_functions" => {
                if !cx.dict(n, key).is_empty() {
                    cx.err(
                        n,
                        Code::E0803,
                        "`spatialgraph_modify_functions` (explicit spines) is not supported",
                    );
                }
            }
            _ => match region_name(key) {
                Some(r) if seen_regions.contains(&r) => cx.err(
                    n,
                    Code::E0803,
                    format!("label `{key}` describes region `{r}` a second time"),
                ),
                Some(r) => {
                    seen_regions.push(r);
                    if let Some(text) = region(&mut cx, cat, r, n) {
                        regions.push(text);
                    }
                }
                None => cx.unknown(
                    n,
                    key,
                    "`neuron`",
                    &[
                        "filename",
                        "discretization",
                        "cell_modify_functions",
                        "Soma",
                        "Dendrite",
                        "ApicalDendrite",
                        "AIS",
                        "Myelin",
                        "Node",
                        "Axon",
                    ],
                ),
            },
        }
    }
    match morphology {
        Some(m) => fields.push(format!("morphology: {m}")),
        None => cx.err(neuron, Code::E0804, "`neuron` needs `filename`"),
    }
    if neuron.get("AIS").is_some() {
        fields.push("axon: isf_axon()    // the parameters have an `AIS` entry".into());
    }
    if let Some(t) = temperature {
        fields.push(format!("temperature: {} degC", num(t)));
    }
    if let Some(v) = v_init {
        fields.push(format!("v_init: {} mV", num(v)));
    }
    fields.push(format!("discretization: {discretization}"));
    if !modify.is_empty() {
        fields.push(format!("modify: [{}]", modify.join(", ")));
    }
    if !cx.errors.is_empty() {
        return Err(cx.errors);
    }
    let mut out = String::new();
    let src = Path::new(file)
        .file_name()
        .map(|f| f.to_string_lossy().into_owned())
        .unwrap_or_else(|| file.to_string());
    let _ = writeln!(out, "// Converted from the ISF cell parameter file {src}.");
    for h in header {
        let _ = writeln!(out, "// {h}");
    }
    out.push('\n');
    for line in import_lines(cat, &cx.used) {
        let _ = writeln!(out, "{line}");
    }
    out.push('\n');
    let _ = writeln!(out, "neuron {neuron_name} {{");
    for f in fields {
        let _ = writeln!(out, "    {f}");
    }
    for r in regions {
        out.push('\n');
        out.push_str(&r);
    }
    out.push_str("}\n");
    Ok(out)
}

fn quote(s: &str) -> String {
    let mut o = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => o.push_str("\\\""),
            '\\' => o.push_str("\\\\"),
            c => o.push(c),
        }
    }
    o.push('"');
    o
}

/// One region block (indented by four spaces), or `None` after reporting errors.
fn region(cx: &mut Cx, cat: &Catalogue, region: &str, n: &ParamNode) -> Option<String> {
    let before = cx.errors.len();
    let mut lines = Vec::new();
    let mut mech_lines = Vec::new();
    for (k, v) in cx.dict(n, region) {
        match k.as_str() {
            "properties" => {
                for (pk, pv) in cx.dict(v, "properties") {
                    match pk.as_str() {
                        "Ra" => {
                            if let Some(x) = cx.number(pv, "Ra") {
                                lines.push(format!("Ra: {} ohm*cm", num(x)));
                            }
                        }
                        "cm" => {
                            if let Some(x) = cx.number(pv, "cm") {
                                lines.push(format!("cm: {} uF/cm2", num(x)));
                            }
                        }
                        "ions" => {
                            for (ik, iv) in cx.dict(pv, "ions") {
                                match ik.as_str() {
                                    "ek" | "ena" => {
                                        if let Some(x) = cx.number(iv, ik) {
                                            lines.push(format!("{ik}: {} mV", num(x)));
                                        }
                                    }
                                    _ => cx.unknown(iv, ik, "`ions`", &["ek", "ena"]),
                                }
                            }
                        }
                        "spines" => cx.err(
                            pv,
                            Code::E0803,
                            "`spines` (passive spine correction) is not supported yet",
                        ),
                        _ => cx.unknown(pv, pk, "`properties`", &["Ra", "cm", "ions"]),
                    }
                }
            }
            "mechanisms" => {
                for (mk, mv) in cx.dict(v, "mechanisms") {
                    match mk.as_str() {
                        "global" => {
                            cx.dict(mv, "global");
                        }
                        "range" => {
                            for (name, entry) in cx.dict(mv, "range") {
                                if let Some(l) = mechanism(cx, cat, name, entry) {
                                    mech_lines.push(l);
                                }
                            }
                        }
                        _ => cx.unknown(mv, mk, "`mechanisms`", &["global", "range"]),
                    }
                }
            }
            _ => cx.unknown(v, k, "a label entry", &["properties", "mechanisms"]),
        }
    }
    if cx.errors.len() > before {
        return None;
    }
    let mut out = format!("    {region} {{\n");
    for l in lines.into_iter().chain(mech_lines) {
        let _ = writeln!(out, "        {l}");
    }
    out.push_str("    }\n");
    Some(out)
}

/// The isf parameter name of an ISF parameter key of mechanism `mech`: `g<mech>bar` is
/// `gbar`; `gbar` itself is not an ISF (NEURON) name and maps to nothing.
fn param_name(mech: &str, key: &str, params: &[(String, String)]) -> String {
    if key == format!("g{mech}bar") && params.iter().any(|p| p.0 == "gbar") {
        "gbar".into()
    } else if key == "gbar" {
        format!("{key} (write g{mech}bar)")
    } else {
        key.to_string()
    }
}

/// One mechanism line `Name { p: value, … }`.
fn mechanism(cx: &mut Cx, cat: &Catalogue, name: &str, n: &ParamNode) -> Option<String> {
    if name.contains("_ion") {
        cx.err(
            n,
            Code::E0803,
            format!(
                "ion mechanism `{name}` is not supported: ISF ignores its parameters; set reversal \
                 potentials under `ions`"
            ),
        );
        return None;
    }
    let Some((place, params)) = cat.find(name) else {
        cx.err(
            n,
            Code::E0811,
            format!("unknown mechanism `{name}`; looked in {}", cat.describe()),
        );
        return None;
    };
    if !cx.used.iter().any(|(_, u)| u == name) {
        cx.used.push((place, name.to_string()));
    }
    let entries = cx.dict(n, name);
    let get = |k: &str| entries.iter().find(|(x, _)| x == k).map(|(_, v)| v);
    let Some(spatial_node) = get("spatial") else {
        cx.err(
            n,
            Code::E0804,
            format!("mechanism `{name}` needs `spatial`"),
        );
        return None;
    };
    let Some(spatial) = spatial_node.as_str() else {
        cx.err(spatial_node, Code::E0802, "`spatial` must be a string");
        return None;
    };
    let control: &[&str] = match spatial {
        "uniform" => &[],
        "linear" => &["distance", "slope", "offset"],
        "linear_capped" => &[
            "distance",
            "param_name",
            "prox_value",
            "dist_value",
            "dist_value_distance",
        ],
        "exponential" | "exponential_by_z_dist" => {
            &["distance", "offset", "linScale", "_lambda", "xOffset"]
        }
        "capped_exponential" => &[
            "distance", "offset", "linScale", "_lambda", "xOffset", "max_g",
        ],
        "sigmoid" => &["distance", "offset", "linScale", "xOffset", "width"],
        "uniform_range" => &["begin", "end", "outsidescale"],
        other => {
            cx.err(
                spatial_node,
                Code::E0803,
                format!(
                    "unknown spatial rule `{other}` (uniform, linear, linear_capped, exponential, \
                     exponential_by_z_dist, capped_exponential, sigmoid, uniform_range)"
                ),
            );
            return None;
        }
    };
    let before = cx.errors.len();
    let mut c = BTreeMap::new();
    for k in control {
        match get(k) {
            Some(v) if *k == "distance" || *k == "param_name" => {
                c.insert(*k, (f64::NAN, v.as_str().map(str::to_string)));
            }
            Some(v) => {
                if let Some(x) = cx.number(v, k) {
                    c.insert(*k, (x, None));
                }
            }
            None => cx.err(
                n,
                Code::E0804,
                format!("mechanism `{name}` with spatial `{spatial}` needs `{k}`"),
            ),
        }
    }
    let relative = c
        .get("distance")
        .and_then(|d| d.1.as_deref())
        .is_some_and(|d| d == "relative");
    let cv = |k: &str| c.get(k).map(|x| x.0).unwrap_or(f64::NAN);
    // Distances and rates: relative distances are numbers; absolute ones µm (mm for
    // exponential_by_z_dist, where ISF divides distances by 1000).
    let len_unit = if spatial == "exponential_by_z_dist" {
        "mm"
    } else {
        "um"
    };
    let len = |v: f64| {
        if relative {
            num(v)
        } else {
            format!("{} {len_unit}", num(v))
        }
    };
    let per_len = |v: f64| {
        if relative {
            num(v)
        } else {
            format!("{} {len_unit}^-1", num(v))
        }
    };
    let rel = if relative { ", relative: true" } else { "" };
    // ISF's `outsidescale_sections` (uniform_range only): sections that get the outside
    // value whatever their distance; written as `outside_sections: [23, 24]`.
    let mut outside_sections = String::new();
    if spatial == "uniform_range"
        && let Some(v) = get("outsidescale_sections")
    {
        match &v.value {
            ParamValue::List(items) => {
                let mut ks = Vec::new();
                for it in items {
                    match it.as_f64() {
                        Some(k) if k >= 0.0 && k == k.trunc() && k < 1e9 => ks.push(num(k)),
                        _ => cx.err(
                            it,
                            Code::E0802,
                            "`outsidescale_sections` holds section indices (whole numbers from 0)",
                        ),
                    }
                }
                if !ks.is_empty() {
                    outside_sections = format!(", outside_sections: [{}]", ks.join(", "));
                }
            }
            _ => cx.err(
                v,
                Code::E0802,
                "`outsidescale_sections` must be a list of section indices",
            ),
        }
    }
    let mut values = Vec::new();
    if spatial == "linear_capped" {
        let target = c.get("param_name").and_then(|p| p.1.clone());
        match target {
            Some(t) => {
                let pn = param_name(name, &t, params);
                match params.iter().find(|p| p.0 == pn) {
                    Some((_, unit)) => values.push(format!(
                        "{pn}: linear_capped(proximal: {}, distal: {}, distal_distance: {}{rel})",
                        qty(cv("prox_value"), unit),
                        qty(cv("dist_value"), unit),
                        len(cv("dist_value_distance"))
                    )),
                    None => cx.err(
                        get("param_name").unwrap_or(n),
                        Code::E0803,
                        format!("mechanism `{name}` has no parameter `{t}`"),
                    ),
                }
            }
            None => cx.err(
                get("param_name").unwrap_or(n),
                Code::E0802,
                "`param_name` must be a string",
            ),
        }
    }
    for (k, v) in entries {
        if k == "spatial" || control.contains(&k.as_str()) {
            continue;
        }
        if spatial == "uniform_range" && k == "outsidescale_sections" {
            // Handled with the rule below.
            continue;
        }
        if spatial == "uniform_range" && k == "distance" {
            // ISF's uniform_range always uses absolute µm; the key has no effect there.
            continue;
        }
        if spatial == "linear_capped" {
            cx.err(
                v,
                Code::E0803,
                format!("`{k}` in a linear_capped rule: only `param_name` is set by this rule"),
            );
            continue;
        }
        let pn = param_name(name, k, params);
        let Some((_, unit)) = params.iter().find(|p| p.0 == pn) else {
            cx.err(
                v,
                Code::E0803,
                format!(
                    "mechanism `{name}` has no parameter `{k}` (parameters: {})",
                    params
                        .iter()
                        .map(|p| if p.0 == "gbar" {
                            format!("g{name}bar")
                        } else {
                            p.0.clone()
                        })
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            );
            continue;
        };
        let Some(p) = cx.number(v, k) else { continue };
        let base = qty(p, unit);
        let expr = match spatial {
            "uniform" => base,
            "linear" => format!(
                "linear({base}, slope: {}, offset: {}{rel})",
                per_len(cv("slope")),
                num(cv("offset"))
            ),
            "exponential" | "exponential_by_z_dist" | "capped_exponential" => {
                let max = if spatial == "capped_exponential" {
                    format!(", max: {}", qty(cv("max_g"), unit))
                } else {
                    String::new()
                };
                format!(
                    "{spatial}({base}, lambda: {}, offset: {}, scale: {}, x_offset: {}{max}{rel})",
                    per_len(cv("_lambda")),
                    num(cv("offset")),
                    num(cv("linScale")),
                    len(cv("xOffset"))
                )
            }
            "sigmoid" => format!(
                "sigmoid({base}, x_offset: {}, width: {}, offset: {}, scale: {}{rel})",
                len(cv("xOffset")),
                len(cv("width")),
                num(cv("offset")),
                num(cv("linScale"))
            ),
            "uniform_range" => format!(
                "uniform_range({base}, from: {} um, to: {} um, outside: {}{outside_sections})",
                num(cv("begin")),
                num(cv("end")),
                num(cv("outsidescale"))
            ),
            _ => unreachable!("rules are matched above"),
        };
        values.push(format!("{pn}: {expr}"));
    }
    if cx.errors.len() > before {
        return None;
    }
    Some(format!("{name} {{ {} }}", values.join(", ")))
}

/// `target` relative to directory `base` (both made absolute first); falls back to the
/// absolute path when they share no prefix (e.g. different drives).
pub fn relative_to(target: &Path, base: &Path) -> String {
    let abs = |p: &Path| {
        let p = if p.is_absolute() {
            p.to_path_buf()
        } else {
            std::env::current_dir().unwrap_or_default().join(p)
        };
        std::fs::canonicalize(&p).unwrap_or_else(|_| lexical_normalize(&p))
    };
    let t = abs(target);
    let b = abs(base);
    let tc: Vec<Component> = t.components().collect();
    let bc: Vec<Component> = b.components().collect();
    let common = tc.iter().zip(&bc).take_while(|(a, b)| a == b).count();
    if common == 0 {
        return t.display().to_string();
    }
    let mut out = PathBuf::new();
    for _ in common..bc.len() {
        out.push("..");
    }
    for c in &tc[common..] {
        out.push(c.as_os_str());
    }
    out.display().to_string()
}

fn lexical_normalize(p: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            c => out.push(c.as_os_str()),
        }
    }
    out
}
