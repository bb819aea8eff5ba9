//! Plain CSV files of presynaptic spike times per synapse, for replaying recorded input
//! (`experiment { replay: "…" }`).
//!
//! ```text
//! synapse_id,cell_type,section_id,x,spike_time_ms
//! 0,VPM_C2,62,0.123825020222,148.071
//! 1,VPM_C2,23,0.905546717643,38.902
//! 1,VPM_C2,23,0.905546717643,152.725
//! ```
//! One row per spike. The header names the columns (any order; other columns are ignored).
//! `x` is the position as a `.syn` file gives it (placed by ISF's rule, see
//! [`crate::network::placement`]); all rows of one `synapse_id` must agree on cell type,
//! section and `x`. Times are in ms and must be finite and ≥ 0.

use crate::diagnostics::Code;
use crate::files::FileError;
use std::path::Path;

/// The columns a spike-time file must have.
pub const COLUMNS: [&str; 5] = [
    "synapse_id",
    "cell_type",
    "section_id",
    "x",
    "spike_time_ms",
];

/// One spike of one synapse.
#[derive(Clone, Debug, PartialEq)]
pub struct SpikeTimeRow {
    /// Synapse ID (identifies the synapse within the file).
    pub synapse_id: u32,
    /// Presynaptic cell type, a population of the network (`VPM_C2`).
    pub cell_type: String,
    /// Section index.
    pub section: u32,
    /// Position along the section, `.syn`-file convention (0…1).
    pub x: f64,
    /// Spike time, ms.
    pub time_ms: f64,
    /// 1-based line in the file.
    pub line: usize,
    /// 1-based column of each of the five fields ([`COLUMNS`] order), for error locations.
    pub columns: [usize; 5],
}

/// Whether `text` looks like a spike-time CSV: its first non-blank line is a comma-separated
/// header containing `synapse_id` and `spike_time_ms`.
pub fn looks_like_spike_times(text: &str) -> bool {
    text.lines()
        .find(|l| !l.trim().is_empty())
        .is_some_and(|h| {
            let names: Vec<&str> = h.split(',').map(str::trim).collect();
            names.contains(&"synapse_id") && names.contains(&"spike_time_ms")
        })
}

/// Read and parse a spike-time file.
pub fn read_spike_times_file(path: &Path) -> Result<Vec<SpikeTimeRow>, FileError> {
    let name = path.display().to_string();
    let text = crate::files::read_data(path)
        .map_err(|e| FileError::new(Code::E0801, format!("cannot read file: {e}"), &name, 0, 0))?;
    parse_spike_times(&text, &name)
}

/// 1-based character column of comma-separated field `k` of `line`.
fn csv_column(line: &str, k: usize) -> usize {
    let mut col = 1;
    for (i, f) in line.split(',').enumerate() {
        if i == k {
            return col;
        }
        col += f.chars().count() + 1;
    }
    col
}

/// Parse a spike-time file's text; `file` is used in error locations only.
pub fn parse_spike_times(text: &str, file: &str) -> Result<Vec<SpikeTimeRow>, FileError> {
    let mut lines = text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty());
    let Some((h0, header)) = lines.next() else {
        return Err(FileError::new(
            Code::E0805,
            format!("empty file: expected the header `{}`", COLUMNS.join(",")),
            file,
            0,
            0,
        ));
    };
    let names: Vec<&str> = header.split(',').map(str::trim).collect();
    let mut idx = [0usize; 5];
    for (k, c) in COLUMNS.iter().enumerate() {
        idx[k] = names.iter().position(|n| n == c).ok_or_else(|| {
            FileError::new(
                Code::E0805,
                format!(
                    "the header has no column `{c}` (expected {})",
                    COLUMNS.join(",")
                ),
                file,
                h0 + 1,
                1,
            )
        })?;
    }
    let mut rows = Vec::new();
    for (i, raw) in lines {
        let line = raw.trim_end_matches('\r');
        let lineno = i + 1;
        let f: Vec<&str> = line.split(',').collect();
        if f.len() != names.len() {
            return Err(FileError::new(
                Code::E0805,
                format!(
                    "expected {} comma-separated fields as in the header, found {}",
                    names.len(),
                    f.len()
                ),
                file,
                lineno,
                1,
            ));
        }
        let columns = idx.map(|k| csv_column(line, k));
        let err =
            |k: usize, msg: String| FileError::new(Code::E0805, msg, file, lineno, columns[k]);
        let field = |k: usize| f[idx[k]].trim();
        let synapse_id: u32 = field(0).parse().map_err(|_| {
            err(
                0,
                format!("synapse_id `{}` is not an integer ≥ 0", field(0)),
            )
        })?;
        let cell_type = field(1).to_string();
        if cell_type.is_empty() {
            return Err(err(1, "empty cell_type".into()));
        }
        let section: u32 = field(2).parse().map_err(|_| {
            err(
                2,
                format!("section_id `{}` is not an integer ≥ 0", field(2)),
            )
        })?;
        let x: f64 = field(3)
            .parse()
            .map_err(|_| err(3, format!("x `{}` is not a number", field(3))))?;
        if !(0.0..=1.0).contains(&x) {
            return Err(err(3, format!("x = {x} is outside [0, 1]")));
        }
        let time_ms: f64 = field(4)
            .parse()
            .map_err(|_| err(4, format!("spike time `{}` is not a number", field(4))))?;
        if !time_ms.is_finite() || time_ms < 0.0 {
            return Err(err(
                4,
                format!("spike time {time_ms} ms: times must be finite and ≥ 0"),
            ));
        }
        rows.push(SpikeTimeRow {
            synapse_id,
            cell_type,
            section,
            x,
            time_ms,
            line: lineno,
            columns,
        });
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_rows_in_any_column_order() {
        let t = "cell_type,synapse_id,x,section_id,spike_time_ms,extra\nVPM_C2,3,0.5,7,12.5,a\n\nL2_C2,4,1,0,0,b\n";
        assert!(looks_like_spike_times(t));
        let r = parse_spike_times(t, "s.csv").unwrap();
        assert_eq!(r.len(), 2);
        assert_eq!(
            (r[0].synapse_id, r[0].cell_type.as_str(), r[0].section),
            (3, "VPM_C2", 7)
        );
        assert_eq!((r[0].x, r[0].time_ms, r[0].line), (0.5, 12.5, 2));
        assert_eq!(r[1].line, 4);
    }

    #[test]
    fn located_errors() {
        let h = "synapse_id,cell_type,section_id,x,spike_time_ms\n";
        let e = parse_spike_times(&format!("{h}0,VPM_C2,3,0.5,-1\n"), "s.csv").unwrap_err();
        assert_eq!((e.code, e.line, e.column), (Code::E0805, 2, 16));
        let e = parse_spike_times(&format!("{h}0,VPM_C2,3,1.5,1\n"), "s.csv").unwrap_err();
        assert_eq!((e.code, e.line, e.column), (Code::E0805, 2, 12));
        let e = parse_spike_times(&format!("{h}0,VPM_C2,s,0.5,1\n"), "s.csv").unwrap_err();
        assert_eq!((e.code, e.line, e.column), (Code::E0805, 2, 10));
        let e = parse_spike_times(&format!("{h}0,VPM_C2,3\n"), "s.csv").unwrap_err();
        assert_eq!((e.code, e.line), (Code::E0805, 2));
        let e = parse_spike_times("synapse_id,x\n", "s.csv").unwrap_err();
        assert_eq!((e.code, e.line), (Code::E0805, 1));
        let e = parse_spike_times(&format!("{h}0,VPM_C2,3,0.5,nan\n"), "s.csv").unwrap_err();
        assert_eq!(e.code, Code::E0805);
        assert!(!looks_like_spike_times("# synapse type\tsynapse ID\n"));
    }
}
