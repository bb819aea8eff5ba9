//! Builders for ISF cells outside the language path: the cable tree from an ISF `.hoc` +
//! `.param` pair, per-compartment densities from a conformance segment table
//! (`discretization/<cell>_segments.csv`), and the Hay et al. (2011) mechanisms lowered from
//! the standard library. A test fixture (the conformance tests and the benchmarks include this file); the general path
//! (a lowered `.isf` neuron to per-compartment densities) lives elsewhere.

use isf::interop::formats::param::{cell_params, read_param_file};
use isf::kernel::MechPlacement;
use isf::model::MechModel;
use isf::morph::cell::CellGeometry;
use isf::morph::{Morphology, discretize, geometry, modify};
use isf::sim::CableTree;
use std::collections::BTreeMap;
use std::path::Path;

/// Names of the 13 Hay et al. (2011) mechanisms of `std.channels.hay2011`.
pub const HAY2011: [&str; 13] = [
    "pas",
    "NaTa_t",
    "NaTs2_t",
    "Nap_Et2",
    "K_Pst",
    "K_Tst",
    "SKv3_1",
    "Im",
    "SK_E2",
    "Ca_HVA",
    "Ca_LVAst",
    "CaDynamics_E2",
    "Ih",
];

/// Lower the 13 mechanisms of `std.channels.hay2011` (by checking a script whose neuron
/// inserts all of them). Errors carry the checker's rendered messages.
pub fn hay2011_mechanisms() -> Result<Vec<MechModel>, String> {
    let body: String = HAY2011
        .iter()
        .map(|m| format!("        {m} {{}}\n"))
        .collect();
    let text = format!(
        "import std.channels.hay2011.*\n\nneuron AllHay {{\n    morphology: swc(\"tiny.swc\")\n    \
         soma {{\n{body}    }}\n}}\n"
    );
    // The checker wants the morphology file to exist: a one-point soma in a private temporary
    // directory (per process and call, removed afterwards).
    static CALLS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let call = CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("isf-hay2011-{}-{call}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    std::fs::write(dir.join("tiny.swc"), "1 1 0 0 0 10 -1\n")
        .map_err(|e| format!("{}: {e}", dir.display()))?;
    let checked = isf::validate::check_text("hay2011_all.isf", &text, &dir);
    let _ = std::fs::remove_dir_all(&dir);
    if checked.has_errors() {
        let msgs: Vec<String> = checked
            .diagnostics
            .iter()
            .map(|d| format!("{}: {}", d.code.as_str(), d.message))
            .collect();
        return Err(msgs.join("; "));
    }
    let mechs = checked.model.mechanisms;
    for m in HAY2011 {
        if !mechs.iter().any(|x| x.name == m) {
            return Err(format!("mechanism {m} missing from the lowered model"));
        }
    }
    Ok(mechs)
}

/// The ISF cell of a `.hoc` + `.param` pair as ISF's `create_cell` builds it: the generated
/// axon when the parameter file has an `AIS` entry, ISF's d-lambda discretization (on the
/// unscaled diameters), then `scale_apical_morph_86` if listed among the cell-modify
/// functions, then geometry. Returns the tree and the geometry.
pub fn isf_cell_tree(hoc: &Path, param: &Path) -> Result<(CableTree, CellGeometry), String> {
    let root = read_param_file(param).map_err(|e| e.to_string())?;
    let cp = cell_params(&root, &param.display().to_string()).map_err(|e| e.to_string())?;
    let mut morph = Morphology::read(hoc).map_err(|e| e.to_string())?;
    if cp.has_ais {
        morph.add_hay2013_axon();
    }
    let nseg = discretize(&morph, &cp.discretization, &cp.passive);
    isf::morph::discretize::total_compartments(&nseg)
        .map_err(|b| format!("error[{}]: {}", b.code.as_str(), b.message))?;
    for f in &cp.cell_modify_functions {
        match f.as_str() {
            "scale_apical_morph_86" => {
                modify::scale_apical_morph_86(&mut morph);
            }
            other => return Err(format!("cell modify function `{other}` is not supported")),
        }
    }
    let geo = geometry(&morph, &nseg, &cp.passive);
    let tree = CableTree::from_geometry(&geo).map_err(|e| e.to_string())?;
    Ok((tree, geo))
}

/// Per-compartment densities of a conformance segment table.
#[derive(Clone, Debug, Default)]
pub struct SegmentTable {
    /// Rows (compartments) in table order: section by section, segments from the 0-end.
    pub n_rows: usize,
    /// `(section, segment)` of each row.
    pub index: Vec<(usize, usize)>,
    /// Columns by header name.
    pub columns: BTreeMap<String, Vec<f64>>,
}

impl SegmentTable {
    /// Read a comma-separated table with a header row (`nan` for absent mechanisms).
    pub fn read(path: &Path) -> Result<SegmentTable, String> {
        let text = isf::files::read_data(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let mut lines = text.lines().filter(|l| !l.trim().is_empty());
        let header: Vec<String> = lines
            .next()
            .ok_or("empty table")?
            .split(',')
            .map(|s| s.trim().to_string())
            .collect();
        let mut cols: Vec<Vec<f64>> = vec![Vec::new(); header.len()];
        for (r, line) in lines.enumerate() {
            let fields: Vec<&str> = line.split(',').collect();
            if fields.len() != header.len() {
                return Err(format!(
                    "row {}: {} fields, header has {}",
                    r + 2,
                    fields.len(),
                    header.len()
                ));
            }
            for (c, f) in fields.iter().enumerate() {
                let v = f.trim().parse::<f64>().map_err(|_| {
                    format!("row {}, column {}: `{f}` is not a number", r + 2, header[c])
                })?;
                cols[c].push(v);
            }
        }
        let n_rows = cols.first().map_or(0, Vec::len);
        let columns: BTreeMap<String, Vec<f64>> = header.into_iter().zip(cols).collect();
        let get = |k: &str| columns.get(k).ok_or(format!("column `{k}` missing"));
        let index = get("sec_index")?
            .iter()
            .zip(get("seg_index")?)
            .map(|(&s, &g)| (s as usize, g as usize))
            .collect();
        Ok(SegmentTable {
            n_rows,
            index,
            columns,
        })
    }

    /// Mechanism placements: for every column `M.p` whose mechanism `M` is in `mechs`, the
    /// compartments where the value is not NaN carry `M`; NEURON's parameter name `g<M>bar` maps
    /// to `gbar`, other names are kept (`pas.g`, `pas.e`, `CaDynamics_E2.decay`, …).
    /// Compartment indices are row numbers (the tree's segment order).
    pub fn placements<'a>(&self, mechs: &'a [MechModel]) -> Result<Vec<MechPlacement<'a>>, String> {
        let mut out: Vec<MechPlacement<'a>> = Vec::new();
        let mut by_mech: BTreeMap<&str, Vec<(String, &Vec<f64>)>> = BTreeMap::new();
        for (name, col) in &self.columns {
            if let Some((m, p)) = name.split_once('.') {
                let p = if p == format!("g{m}bar") {
                    "gbar".to_string()
                } else {
                    p.to_string()
                };
                by_mech.entry(m).or_default().push((p, col));
            }
        }
        for (m, params) in by_mech {
            let mech = mechs
                .iter()
                .find(|x| x.name == m)
                .ok_or_else(|| format!("mechanism `{m}` of the table is not available"))?;
            let present: Vec<usize> = (0..self.n_rows)
                .filter(|&r| params.iter().any(|(_, c)| !c[r].is_nan()))
                .collect();
            let mut cols = BTreeMap::new();
            for (p, c) in params {
                if !mech.parameters.iter().any(|x| x.name == p) {
                    return Err(format!("`{m}` has no parameter `{p}`"));
                }
                let v: Vec<f64> = present.iter().map(|&r| c[r]).collect();
                if let Some(r) = v.iter().position(|x| x.is_nan()) {
                    return Err(format!("`{m}.{p}` missing at row {}", present[r]));
                }
                cols.insert(p, v);
            }
            out.push(MechPlacement {
                mechanism: mech,
                segments: present,
                params: cols,
            });
        }
        Ok(out)
    }

    /// Fixed reversal potentials (`ena`, `ek`, `eca` columns present in the table), NaN where
    /// not set.
    pub fn reversals(&self) -> Vec<(String, Vec<f64>)> {
        ["ena", "ek", "eca"]
            .iter()
            .filter_map(|k| self.columns.get(*k).map(|c| (k.to_string(), c.clone())))
            .collect()
    }
}
