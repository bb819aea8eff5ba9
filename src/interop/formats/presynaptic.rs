//! ISF presynaptic cell files `simulation_run<NNNN>_presynaptic_cells.csv` (spec 05 §5.7):
//! the spike times of every presynaptic cell with at least one spike in a trial.
//!
//! ```text
//! # presynaptic cell type\tcell ID\tspike times
//! L4ss_C2\t17\t12.5,148.25,
//! ```
//! TAB-separated; times comma-separated, each followed by a comma. A line may lack the times
//! field. Cell IDs are integers ≥ 0, times finite. Errors are E0614 with file, line and column.

use crate::diagnostics::Code;
use crate::files::FileError;
use crate::interop::formats::syn::field_column;

/// The header line ISF writes (without the line end).
pub const HEADER: &str = "# presynaptic cell type\tcell ID\tspike times";

/// One presynaptic cell of one trial.
#[derive(Clone, Debug, PartialEq)]
pub struct CellRow {
    /// Presynaptic cell type (`<CellType>_<Column>`).
    pub cell_type: String,
    /// Index of the cell within its type (for replayed runs: the synapse row index).
    pub cell_id: i64,
    /// Spike times in ms, in file order.
    pub times_ms: Vec<f64>,
}

/// Parse a presynaptic cell file's text; `file` is used in error locations only.
pub fn parse_presynaptic(text: &str, file: &str) -> Result<Vec<CellRow>, FileError> {
    let mut rows = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let lineno = i + 1;
        let t = raw.trim();
        if t.is_empty() || t.starts_with('#') {
            continue;
        }
        let line = raw.trim_end_matches('\r');
        let err = |k: usize, msg: String| {
            FileError::new(Code::E0614, msg, file, lineno, field_column(line, k))
        };
        let f: Vec<&str> = line.split('\t').collect();
        if !(2..=3).contains(&f.len()) {
            return Err(err(
                0,
                format!(
                    "expected 3 TAB-separated fields (cell type, cell ID, spike times), found {}",
                    f.len()
                ),
            ));
        }
        let cell_type = f[0].trim();
        if cell_type.is_empty() {
            return Err(err(0, "empty presynaptic cell type".into()));
        }
        let cell_id: i64 = f[1]
            .trim()
            .parse()
            .ok()
            .filter(|&n: &i64| n >= 0)
            .ok_or_else(|| {
                err(
                    1,
                    format!("cell ID `{}` is not an integer ≥ 0", f[1].trim()),
                )
            })?;
        let times_ms = super::time_list(f.get(2).copied().unwrap_or(""), "spike time", true)
            .map_err(|m| err(2, m))?;
        rows.push(CellRow {
            cell_type: cell_type.to_string(),
            cell_id,
            times_ms,
        });
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_rows() {
        let t = format!("{HEADER}\nL4ss_C2\t17\t12.5,148.25,\nVPM_C2\t3\n");
        let r = parse_presynaptic(&t, "p.csv").unwrap();
        assert_eq!(r.len(), 2);
        assert_eq!(
            (r[0].cell_type.as_str(), r[0].cell_id, &r[0].times_ms[..]),
            ("L4ss_C2", 17, &[12.5, 148.25][..])
        );
        assert!(r[1].times_ms.is_empty());
    }

    #[test]
    fn located_errors() {
        let e = parse_presynaptic("L4ss_C2\tx\t1,\n", "p.csv").unwrap_err();
        assert_eq!((e.code, e.line, e.column), (Code::E0614, 1, 9));
        let e = parse_presynaptic("# h\nL4ss_C2\t1\t1,nan,\n", "p.csv").unwrap_err();
        assert_eq!((e.code, e.line, e.column), (Code::E0614, 2, 11));
        let e = parse_presynaptic("L4ss_C2\n", "p.csv").unwrap_err();
        assert_eq!((e.code, e.line, e.column), (Code::E0614, 1, 1));
        let e = parse_presynaptic("L4ss_C2\t-1\t1,\n", "p.csv").unwrap_err();
        assert_eq!(e.code, Code::E0614);
    }
}
