//! The tables of the input mapper (spec 08 §8.2, spec 10 §10.9): the cell-numbers sheet
//! (`nrCells.csv`), the connections sheet (`ConnectionsV8.csv`) and the
//! `NumberOfConnectedCells.csv` the mapper writes.
//!
//! Both input sheets are TAB-separated. ISF reads them with `split` and `int`/`float`
//! conversions and fails with a Python traceback on the first bad value; here every bad row is
//! a located error (E0821 cell numbers, E0822 connections), and so are duplicate rows, which
//! ISF silently lets the last one win.

use crate::diagnostics::Code;
use crate::files::FileError;
use std::collections::HashMap;
use std::path::Path;

/// ISF's excitatory cell types (`exTypes`).
pub const EXCITATORY: [&str; 11] = [
    "VPM", "L2", "L34", "L4py", "L4sp", "L4ss", "L5st", "L5tt", "L6cc", "L6ccinv", "L6ct",
];

/// ISF's inhibitory cell types (`inhTypes`).
pub const INHIBITORY: [&str; 11] = [
    "SymLocal1",
    "SymLocal2",
    "SymLocal3",
    "SymLocal4",
    "SymLocal5",
    "SymLocal6",
    "L1",
    "L23Trans",
    "L45Sym",
    "L45Peak",
    "L56Trans",
];

/// The cell types of ISF's summary tables, in their fixed order (spec 10 §10.9).
pub const SUMMARY_ORDER: [&str; 22] = [
    "L2",
    "L34",
    "L4py",
    "L4sp",
    "L4ss",
    "L5st",
    "L5tt",
    "L6cc",
    "L6ccinv",
    "L6ct",
    "VPM",
    "L1",
    "L23Trans",
    "L45Peak",
    "L45Sym",
    "L56Trans",
    "SymLocal1",
    "SymLocal2",
    "SymLocal3",
    "SymLocal4",
    "SymLocal5",
    "SymLocal6",
];

/// The 24 barrel columns for which `NumberOfConnectedCells.csv` always has rows.
pub const BARREL_COLUMNS: [&str; 24] = [
    "A1", "A2", "A3", "A4", "Alpha", "B1", "B2", "B3", "B4", "Beta", "C1", "C2", "C3", "C4", "D1",
    "D2", "D3", "D4", "Delta", "E1", "E2", "E3", "E4", "Gamma",
];

/// Presynaptic class of a cell type.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Class {
    /// Excitatory (`EXC`).
    Exc,
    /// Inhibitory (`INH`).
    Inh,
}

/// The class of a cell type, `None` when it is in neither of ISF's lists.
pub fn class_of(cell_type: &str) -> Option<Class> {
    if EXCITATORY.contains(&cell_type) {
        Some(Class::Exc)
    } else if INHIBITORY.contains(&cell_type) {
        Some(Class::Inh)
    } else {
        None
    }
}

/// The cell-numbers sheet: presynaptic cells per (area, cell type).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct NrCells {
    /// File name (for messages).
    pub file: String,
    /// Anatomical areas (columns), in header order.
    pub areas: Vec<String>,
    /// Cell types in row order with their counts per area and their 1-based line.
    pub rows: Vec<(String, Vec<u64>, usize)>,
}

impl NrCells {
    /// Number of cells of `cell_type` in `area` (0 when either is absent).
    pub fn get(&self, area: &str, cell_type: &str) -> u64 {
        let Some(a) = self.areas.iter().position(|x| x == area) else {
            return 0;
        };
        self.rows
            .iter()
            .find(|r| r.0 == cell_type)
            .map(|r| r.1[a])
            .unwrap_or(0)
    }
}

fn read(path: &Path) -> Result<(String, String), FileError> {
    let name = path.display().to_string();
    let text = crate::files::read_data(path)
        .map_err(|e| FileError::new(Code::E0801, format!("cannot read file: {e}"), &name, 0, 0))?;
    Ok((text, name))
}

/// Read the cell-numbers sheet.
pub fn read_nr_cells(path: &Path) -> Result<NrCells, FileError> {
    let (text, name) = read(path)?;
    parse_nr_cells(&text, &name)
}

/// Parse the cell-numbers sheet: a header row `CELL TYPE<TAB>area…`, then one row per cell
/// type with an integer ≥ 0 per area. Every type must be one of ISF's excitatory or
/// inhibitory types (the mapper needs the class to pick the normalisation field).
pub fn parse_nr_cells(text: &str, file: &str) -> Result<NrCells, FileError> {
    let mut out = NrCells {
        file: file.to_string(),
        ..NrCells::default()
    };
    let mut header = false;
    for (i, raw) in text.lines().enumerate() {
        let n = i + 1;
        let line = raw.trim_end_matches('\r');
        if line.trim().is_empty() || line.trim_start().starts_with('#') {
            continue;
        }
        let err = |k: usize, msg: String| {
            FileError::new(
                Code::E0821,
                msg,
                file,
                n,
                crate::interop::formats::syn::field_column(line, k),
            )
        };
        let fields: Vec<&str> = line.split('\t').map(str::trim).collect();
        if fields[0] == "CELL TYPE" {
            if header {
                return Err(err(0, "a second `CELL TYPE` header row".into()));
            }
            header = true;
            for (k, a) in fields.iter().enumerate().skip(1) {
                if a.is_empty() {
                    return Err(err(k, "empty area name in the header".into()));
                }
                if out.areas.iter().any(|x| x == a) {
                    return Err(err(k, format!("area `{a}` appears twice in the header")));
                }
                out.areas.push(a.to_string());
            }
            if out.areas.is_empty() {
                return Err(err(0, "the header names no area".into()));
            }
            continue;
        }
        if !header {
            return Err(err(
                0,
                "expected the header row `CELL TYPE<TAB><area>…` before the first cell type".into(),
            ));
        }
        let t = fields[0];
        if class_of(t).is_none() {
            return Err(err(
                0,
                format!(
                    "`{t}` is not a presynaptic cell type of ISF (excitatory: {}; inhibitory: {})",
                    EXCITATORY.join(", "),
                    INHIBITORY.join(", ")
                ),
            ));
        }
        if out.rows.iter().any(|r| r.0 == t) {
            return Err(err(0, format!("cell type `{t}` has a second row")));
        }
        if fields.len() != out.areas.len() + 1 {
            return Err(err(
                0,
                format!(
                    "{} count(s) for `{t}`, the header names {} area(s)",
                    fields.len() - 1,
                    out.areas.len()
                ),
            ));
        }
        let mut counts = Vec::with_capacity(out.areas.len());
        for (k, f) in fields.iter().enumerate().skip(1) {
            counts.push(
                f.parse::<u64>()
                    .map_err(|_| err(k, format!("cell count `{f}` is not an integer ≥ 0")))?,
            );
        }
        out.rows.push((t.to_string(), counts, n));
    }
    if !header {
        return Err(FileError::new(
            Code::E0821,
            "no header row `CELL TYPE<TAB><area>…`",
            file,
            0,
            0,
        ));
    }
    Ok(out)
}

/// The six PST-density constants of one (class, postsynaptic type) row.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PstConstants {
    /// Per µm of soma length.
    pub soma_length: f64,
    /// Per µm of apical length.
    pub apical_length: f64,
    /// Per µm of basal length.
    pub basal_length: f64,
    /// Per µm² of soma area.
    pub soma_area: f64,
    /// Per µm² of apical area.
    pub apical_area: f64,
    /// Per µm² of basal area.
    pub basal_area: f64,
}

/// The connections sheet: PST constants per (presynaptic class, postsynaptic cell type).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Connections {
    /// File name (for messages).
    pub file: String,
    rows: HashMap<(Class, String), (PstConstants, usize)>,
}

impl Connections {
    /// The constants of a row, if present.
    pub fn get(&self, class: Class, post: &str) -> Option<PstConstants> {
        self.rows.get(&(class, post.to_string())).map(|r| r.0)
    }

    /// Insert a row (for sheets built in memory).
    pub fn insert(&mut self, class: Class, post: &str, c: PstConstants) {
        self.rows.insert((class, post.to_string()), (c, 0));
    }
}

/// Read the connections sheet.
pub fn read_connections(path: &Path) -> Result<Connections, FileError> {
    let (text, name) = read(path)?;
    parse_connections(&text, &name)
}

/// Parse the connections sheet: rows `<…EXCITATORY…|…INHIBITORY…> TAB <post type> TAB` six
/// finite numbers ≥ 0; the `PRESYNAPTIC_CELLTYPE` header row is skipped.
pub fn parse_connections(text: &str, file: &str) -> Result<Connections, FileError> {
    let mut out = Connections {
        file: file.to_string(),
        ..Connections::default()
    };
    for (i, raw) in text.lines().enumerate() {
        let n = i + 1;
        let line = raw.trim_end_matches('\r');
        if line.trim().is_empty()
            || line.trim_start().starts_with('#')
            || line.starts_with("PRESYNAPTIC_CELLTYPE")
        {
            continue;
        }
        let err = |k: usize, msg: String| {
            FileError::new(
                Code::E0822,
                msg,
                file,
                n,
                crate::interop::formats::syn::field_column(line, k),
            )
        };
        let fields: Vec<&str> = line.split('\t').map(str::trim).collect();
        if fields.len() != 8 {
            return Err(err(
                0,
                format!(
                    "expected 8 fields (class, postsynaptic type, SOMA/APICAL/BASAL_LENGTH, \
                     SOMA/APICAL/BASAL_AREA), found {}",
                    fields.len()
                ),
            ));
        }
        let class = if fields[0].contains("EXCITATORY") {
            Class::Exc
        } else if fields[0].contains("INHIBITORY") {
            Class::Inh
        } else {
            return Err(err(
                0,
                format!(
                    "presynaptic class `{}` contains neither EXCITATORY nor INHIBITORY",
                    fields[0]
                ),
            ));
        };
        let mut v = [0.0; 6];
        for k in 0..6 {
            let f = fields[k + 2];
            v[k] = f
                .parse::<f64>()
                .ok()
                .filter(|x| x.is_finite() && *x >= 0.0)
                .ok_or_else(|| err(k + 2, format!("`{f}` is not a finite number ≥ 0")))?;
        }
        let key = (class, fields[1].to_string());
        if let Some((_, first)) = out.rows.get(&key) {
            return Err(err(
                1,
                format!(
                    "second row for {} → `{}` (first on line {first})",
                    fields[0], fields[1]
                ),
            ));
        }
        let c = PstConstants {
            soma_length: v[0],
            apical_length: v[1],
            basal_length: v[2],
            soma_area: v[3],
            apical_area: v[4],
            basal_area: v[5],
        };
        out.rows.insert(key, (c, n));
    }
    Ok(out)
}

/// `NumberOfConnectedCells.csv` (spec 08 §8.7): connected cells per (column, cell type) with
/// zero rows for all 24 barrel columns × 22 cell types, sorted by column then cell type.
pub fn write_connected_cells(counts: &[(String, String, usize)]) -> String {
    let mut rows: std::collections::BTreeMap<(String, String), usize> = Default::default();
    for c in BARREL_COLUMNS {
        for t in SUMMARY_ORDER {
            rows.insert((c.to_string(), t.to_string()), 0);
        }
    }
    for (col, t, n) in counts {
        *rows.entry((col.clone(), t.clone())).or_insert(0) += n;
    }
    let mut s =
        String::from("Presynaptic column\tPresynaptic cell type\tConnected presynaptic cells\n");
    for ((c, t), n) in rows {
        s.push_str(&format!("{c}\t{t}\t{n}\n"));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nr_cells() {
        let t = "CELL TYPE\tC2\tD2\nL5tt\t10\t3\nL1\t0\t4\n";
        let n = parse_nr_cells(t, "n.csv").unwrap();
        assert_eq!(n.areas, ["C2", "D2"]);
        assert_eq!(n.get("D2", "L5tt"), 3);
        assert_eq!(n.get("C2", "L1"), 0);
        assert_eq!(n.get("E2", "L1"), 0);
        let e = |t: &str| parse_nr_cells(t, "n.csv").unwrap_err();
        let x = e("CELL TYPE\tC2\nL5tt\t-1\n");
        assert_eq!((x.code, x.line, x.column), (Code::E0821, 2, 6));
        let x = e("CELL TYPE\tC2\nL9\t1\n");
        assert!(x.message.contains("not a presynaptic"), "{x}");
        let x = e("CELL TYPE\tC2\tD2\nL5tt\t1\n");
        assert!(x.message.contains("1 count(s)"), "{x}");
        let x = e("L5tt\t1\n");
        assert!(x.message.contains("header"), "{x}");
        let x = e("CELL TYPE\tC2\nL5tt\t1\nL5tt\t2\n");
        assert_eq!(x.line, 3);
    }

    #[test]
    fn connections() {
        let t = "PRESYNAPTIC_CELLTYPE\tPOST\ta\tb\tc\td\te\tf\n\
                 EXCITATORY\tL5tt\t0\t0.1\t0.2\t1\t2\t3\n\
                 INHIBITORY\tL5tt\t1\t1\t1\t0\t0\t0\n";
        let c = parse_connections(t, "c.csv").unwrap();
        let e = c.get(Class::Exc, "L5tt").unwrap();
        assert_eq!((e.apical_length, e.basal_area), (0.1, 3.0));
        assert!(c.get(Class::Inh, "L2").is_none());
        let x = parse_connections("OTHER\tL5tt\t0\t0\t0\t0\t0\t0\n", "c.csv").unwrap_err();
        assert_eq!((x.code, x.line), (Code::E0822, 1));
        let x = parse_connections("EXCITATORY\tL5tt\t0\t0\tnan\t0\t0\t0\n", "c.csv").unwrap_err();
        assert_eq!(x.column, 21);
        let x = parse_connections("EXCITATORY\tL5tt\t0\t0\n", "c.csv").unwrap_err();
        assert!(x.message.contains("found 4"), "{x}");
    }

    #[test]
    fn connected_cells_sheet() {
        let s = write_connected_cells(&[
            ("C2".into(), "L5tt".into(), 7),
            ("S1".into(), "L2".into(), 1),
        ]);
        let lines: Vec<&str> = s.lines().collect();
        assert_eq!(lines.len(), 1 + 24 * 22 + 1);
        assert!(lines.contains(&"C2\tL5tt\t7"));
        assert!(lines.contains(&"A1\tVPM\t0"));
        assert_eq!(*lines.last().unwrap(), "S1\tL2\t1");
    }
}
