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

/// A CSV record with its 1-based line and the 1-based column of each field.
type Record = (csv::StringRecord, usize, Vec<usize>);

/// The records of a CSV text (read by the `csv` crate: quoted fields, `""` escapes and CRLF
/// line ends), blank lines left out, each with its 1-based line and the 1-based character
/// column of each field.
fn records(text: &str) -> Result<Vec<Record>, (String, usize)> {
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(text.as_bytes());
    let mut out = Vec::new();
    for r in rdr.records() {
        let r = r.map_err(|e| {
            let byte = e.position().map_or(0, |p| p.byte() as usize);
            let line = 1 + text.as_bytes()[..byte.min(text.len())]
                .iter()
                .filter(|&&b| b == b'\n')
                .count();
            (format!("malformed CSV: {e}"), line)
        })?;
        if r.iter().all(|f| f.trim().is_empty()) {
            continue;
        }
        // The reader's position is where it began reading, before the line ends (and blank
        // lines) it skipped, and its line count leaves those out: find the record's first
        // byte and count lines from it.
        let mut byte = r
            .position()
            .map_or(0, |p| p.byte() as usize)
            .min(text.len());
        while matches!(text.as_bytes().get(byte), Some(b'\r' | b'\n')) {
            byte += 1;
        }
        let line = 1 + text.as_bytes()[..byte.min(text.len())]
            .iter()
            .filter(|&&b| b == b'\n')
            .count();
        let columns = field_columns(text.get(byte..).unwrap_or(""), &r);
        out.push((r, line, columns));
    }
    Ok(out)
}

/// The 1-based character column where each field of `rec` starts in `raw` (the text from the
/// record's first byte on): a quoted field spans its value, the two quotes and one more
/// quote per `"` inside.
fn field_columns(raw: &str, rec: &csv::StringRecord) -> Vec<usize> {
    let mut cols = Vec::with_capacity(rec.len());
    let (mut at, mut col) = (0usize, 1usize);
    for f in rec.iter() {
        cols.push(col);
        let rest = raw.get(at..).unwrap_or("");
        let len = if rest.starts_with('"') {
            f.len() + 2 + f.matches('"').count()
        } else {
            f.len()
        };
        col += rest.get(..len).map_or(len, |s| s.chars().count()) + 1;
        at += len + 1;
    }
    cols
}

/// Whether `text` looks like a spike-time CSV: its first non-blank line is a comma-separated
/// header containing `synapse_id` and `spike_time_ms`.
pub fn looks_like_spike_times(text: &str) -> bool {
    let first = text.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
    records(first).is_ok_and(|r| {
        r.first().is_some_and(|(h, _, _)| {
            let names: Vec<&str> = h.iter().map(str::trim).collect();
            names.contains(&"synapse_id") && names.contains(&"spike_time_ms")
        })
    })
}

/// Read and parse a spike-time file.
pub fn read_spike_times_file(path: &Path) -> Result<Vec<SpikeTimeRow>, FileError> {
    let name = path.display().to_string();
    let text = crate::files::read_data(path)
        .map_err(|e| FileError::new(Code::E0801, format!("cannot read file: {e}"), &name, 0, 0))?;
    parse_spike_times(&text, &name)
}

/// Parse a spike-time file's text; `file` is used in error locations only.
pub fn parse_spike_times(text: &str, file: &str) -> Result<Vec<SpikeTimeRow>, FileError> {
    let recs = records(text).map_err(|(m, line)| FileError::new(Code::E0805, m, file, line, 1))?;
    let mut lines = recs.into_iter();
    let Some((header, h_line, _)) = lines.next() else {
        return Err(FileError::new(
            Code::E0805,
            format!("empty file: expected the header `{}`", COLUMNS.join(",")),
            file,
            0,
            0,
        ));
    };
    let names: Vec<&str> = header.iter().map(str::trim).collect();
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
                h_line,
                1,
            )
        })?;
    }
    let mut rows = Vec::new();
    for (f, lineno, cols) in lines {
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
        let columns = idx.map(|k| cols[k]);
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
        let t = "cell_type,synapse_id,x,section_id,spike_time_ms,extra\n\
                 VPM_C2,3,0.5,7,12.5,a\n\nL2_C2,4,1,0,0,b\n";
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

    #[test]
    fn quoted_fields_and_crlf() {
        // A quoted header name, a cell type holding a comma and an escaped quote, CRLF ends.
        let t = "\"synapse_id\",cell_type,section_id,x,spike_time_ms\r\n\
                 0,\"VPM,\"\"C2\"\"\",62,0.25,148.071\r\n\
                 1,\"L4\",23,\"0.5\",38.9\r\n";
        assert!(looks_like_spike_times(t));
        let r = parse_spike_times(t, "s.csv").unwrap();
        assert_eq!(r.len(), 2);
        assert_eq!(r[0].cell_type, "VPM,\"C2\"");
        assert_eq!((r[0].section, r[0].x, r[0].time_ms), (62, 0.25, 148.071));
        assert_eq!((r[1].cell_type.as_str(), r[1].x, r[1].line), ("L4", 0.5, 3));
        // Columns count the quotes: the error points at the bad field itself.
        let h = "synapse_id,cell_type,section_id,x,spike_time_ms\n";
        let e = parse_spike_times(&format!("{h}0,\"A,\"\"B\",3,0.5,-1\n"), "s.csv").unwrap_err();
        assert_eq!((e.code, e.line, e.column), (Code::E0805, 2, 17));
        // A quoted field running to the end of the file is reported, not read as data.
        let e = parse_spike_times(&format!("{h}0,\"VPM,3,0.5,1\n"), "s.csv").unwrap_err();
        assert_eq!((e.code, e.line), (Code::E0805, 2));
    }
}
