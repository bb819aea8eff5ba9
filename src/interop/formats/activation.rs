//! ISF synapse activation files `simulation_run<NNNN>_synapses.csv` (spec 05 §5.6, 10 §10.6),
//! read for replay and written in the same layout.
//!
//! ```text
//! # synapse type\tsynapse ID\tsoma distance\tsection ID\tsection pt ID\tdendrite label\tactivation times
//! L1_C2\t2\t1360.90328786\t72\t5\tApicalDendrite\t258.249399586,
//! ```
//! One line per active synapse; times are release times in ms, each followed by a comma. The
//! legacy 6-column variant without synapse ID is accepted (synapse ID = −1). Times must be
//! finite and ≥ 0.

use crate::diagnostics::Code;
use crate::files::FileError;
use crate::interop::formats::syn::field_column;
use std::fmt::Write as _;
use std::path::Path;

/// The header line ISF writes (without the line end).
pub const HEADER: &str = "# synapse type\tsynapse ID\tsoma distance\tsection ID\tsection pt \
                          ID\tdendrite label\tactivation times";

/// One active synapse of a synapse activation file.
#[derive(Clone, Debug, PartialEq)]
pub struct ActivationRow {
    /// Synapse type (`<CellType>_<Column>`).
    pub synapse_type: String,
    /// Index within the type; −1 for the legacy 6-column variant.
    pub synapse_id: i64,
    /// Soma distance (spec 01 §1.6 definition 3) in µm.
    pub soma_distance_um: f64,
    /// Section index.
    pub section: u32,
    /// 3-D point index on the section (`ptID`).
    pub point: u32,
    /// Section label (`ApicalDendrite`, `Dendrite`, …).
    pub label: String,
    /// Release times in ms, in file order.
    pub times_ms: Vec<f64>,
}

/// Read and parse a synapse activation file.
pub fn read_activation_file(path: &Path) -> Result<Vec<ActivationRow>, FileError> {
    let name = path.display().to_string();
    let text = crate::files::read_data(path)
        .map_err(|e| FileError::new(Code::E0801, format!("cannot read file: {e}"), &name, 0, 0))?;
    parse_activation(&text, &name)
}

/// Parse a synapse activation file's text; `file` is used in error locations only.
pub fn parse_activation(text: &str, file: &str) -> Result<Vec<ActivationRow>, FileError> {
    let mut rows = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let lineno = i + 1;
        let t = raw.trim();
        if t.is_empty() || t.starts_with('#') {
            continue;
        }
        let line = raw.trim_end_matches(['\r', '\n']);
        let err = |k: usize, msg: String| {
            FileError::new(Code::E0805, msg, file, lineno, field_column(line, k))
        };
        let f: Vec<&str> = line.split('\t').collect();
        // 7 columns; legacy files lack the synapse ID. A line without any time may lack the
        // trailing (empty) times field.
        let (id, rest): (i64, &[&str]) = match f.len() {
            7 => (
                f[1].trim()
                    .parse()
                    .map_err(|_| err(1, format!("synapse ID `{}` is not an integer", f[1])))?,
                &f[2..],
            ),
            6 => (-1, &f[1..]),
            n => {
                return Err(err(
                    0,
                    format!("expected 7 TAB-separated fields (6 for legacy files), found {n}"),
                ));
            }
        };
        let k0 = f.len() - 5; // index of the soma-distance field
        let soma_distance_um: f64 = rest[0]
            .trim()
            .parse()
            .map_err(|_| err(k0, format!("soma distance `{}` is not a number", rest[0])))?;
        let section: u32 = rest[1].trim().parse().map_err(|_| {
            err(
                k0 + 1,
                format!("section ID `{}` is not an integer ≥ 0", rest[1]),
            )
        })?;
        let point: u32 = rest[2].trim().parse().map_err(|_| {
            err(
                k0 + 2,
                format!("point ID `{}` is not an integer ≥ 0", rest[2]),
            )
        })?;
        let times_ms =
            super::time_list(rest[4], "activation time", false).map_err(|m| err(k0 + 4, m))?;
        rows.push(ActivationRow {
            synapse_type: f[0].trim().to_string(),
            synapse_id: id,
            soma_distance_um,
            section,
            point,
            label: rest[3].trim().to_string(),
            times_ms,
        });
    }
    Ok(rows)
}

/// 1-based line numbers of the data rows of an activation file's text (the lines
/// [`parse_activation`] turns into rows, in order), to locate errors found after parsing.
pub fn data_lines(text: &str) -> Vec<usize> {
    text.lines()
        .enumerate()
        .filter(|(_, l)| {
            let t = l.trim();
            !t.is_empty() && !t.starts_with('#')
        })
        .map(|(i, _)| i + 1)
        .collect()
}

/// Write rows in ISF's layout (header, TAB-separated fields, every time followed by a comma).
/// Numbers use the shortest representation that reads back to the same `f64`. Rows are
/// written in the given order (ISF: types sorted by name, then synapse ID).
pub fn write_activation(rows: &[ActivationRow]) -> String {
    let mut s = String::with_capacity(64 * rows.len() + HEADER.len() + 1);
    s.push_str(HEADER);
    s.push('\n');
    for r in rows {
        let _ = write!(
            s,
            "{}\t{}\t{}\t{}\t{}\t{}\t",
            r.synapse_type, r.synapse_id, r.soma_distance_um, r.section, r.point, r.label
        );
        for t in &r.times_ms {
            let _ = write!(s, "{t},");
        }
        s.push('\n');
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_legacy() {
        let text = format!(
            "{HEADER}\nL1_C2\t2\t1360.90328786\t72\t5\tApicalDendrite\t258.249399586,\n\
             VPM_C2\t0\t10.5\t3\t1\tDendrite\t1.5,2.25,\n"
        );
        let rows = parse_activation(&text, "a.csv").unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].synapse_id, 2);
        assert_eq!(rows[0].times_ms, vec![258.249399586]);
        assert_eq!(rows[1].times_ms, vec![1.5, 2.25]);
        assert_eq!(write_activation(&rows), text);
        let legacy = "L1_C2\t1360.9\t72\t5\tApicalDendrite\t1.0,\n";
        let rows = parse_activation(legacy, "b.csv").unwrap();
        assert_eq!(
            (rows[0].synapse_id, rows[0].section, rows[0].point),
            (-1, 72, 5)
        );
    }

    #[test]
    fn located_errors() {
        let e = parse_activation("L1_C2\t2\t13.5\t72\t5\tApical\t1.0,x,\n", "a.csv").unwrap_err();
        assert_eq!((e.code, e.line, e.column), (Code::E0805, 1, 26));
        let e = parse_activation("# h\nL1_C2\t2\tfar\t72\t5\tApical\t1.0,\n", "a.csv").unwrap_err();
        assert_eq!((e.code, e.line, e.column), (Code::E0805, 2, 9));
        let e = parse_activation("L1_C2\t2\t13.5\t72\t5\tApical\t1.0,-2,\n", "a.csv").unwrap_err();
        assert_eq!((e.code, e.line, e.column), (Code::E0805, 1, 26));
        let e = parse_activation("L1_C2\t2\n", "a.csv").unwrap_err();
        assert_eq!((e.code, e.line, e.column), (Code::E0805, 1, 1));
    }
}
