//! ISF voltage-trace files `<uid>_vm_all_traces.csv` and `<uid>_<site>_vm_dend_traces.csv`
//! (spec 05 §5.5, 10 §10.6): one column of sample times, then one column per trial.
//!
//! ```text
//! t\tVm run 00\tVm run 01
//! 0.0\t-75.0\t-75.0
//! 0.025\t-74.9981\t-74.9979
//! ```
//! TAB-separated; the header is `t` followed by `Vm run NN` (two digits, three past 100
//! trials). Times must be finite and strictly increasing; voltages are numbers (a trial whose
//! simulation diverged may hold `nan`, which is data, not a malformed file). Every row has as
//! many fields as the header. Errors are E0614 with file, line and column.

use crate::diagnostics::Code;
use crate::files::FileError;
use crate::interop::formats::syn::field_column;

/// A parsed voltage-trace file.
#[derive(Clone, Debug, PartialEq)]
pub struct TraceFile {
    /// Sample times in ms (the file's `t` column).
    pub times_ms: Vec<f64>,
    /// The run number of each trace column, from its header `Vm run NN`.
    pub runs: Vec<u32>,
    /// One voltage trace (mV) per column, each `times_ms.len()` samples long.
    pub columns: Vec<Vec<f64>>,
}

/// Parse a voltage-trace file's text; `file` is used in error locations only.
pub fn parse_traces(text: &str, file: &str) -> Result<TraceFile, FileError> {
    let err =
        |line: usize, col: usize, msg: String| FileError::new(Code::E0614, msg, file, line, col);
    let mut lines = text
        .lines()
        .enumerate()
        .map(|(i, l)| (i + 1, l.trim_end_matches('\r')))
        .filter(|(_, l)| !l.trim().is_empty());
    let Some((hline, header)) = lines.next() else {
        return Err(err(
            0,
            0,
            "empty file: expected the header `t\\tVm run 00…`".into(),
        ));
    };
    let names: Vec<&str> = header.split('\t').collect();
    if names[0].trim() != "t" {
        return Err(err(
            hline,
            1,
            format!(
                "the header starts with `{}`, expected `t` then `Vm run NN` per trial",
                names[0].trim()
            ),
        ));
    }
    let mut runs = Vec::with_capacity(names.len() - 1);
    for (k, n) in names.iter().enumerate().skip(1) {
        let run = n
            .trim()
            .strip_prefix("Vm run ")
            .and_then(|d| d.trim().parse::<u32>().ok())
            .ok_or_else(|| {
                err(
                    hline,
                    field_column(header, k),
                    format!("header column `{}` is not `Vm run NN`", n.trim()),
                )
            })?;
        if runs.contains(&run) {
            return Err(err(
                hline,
                field_column(header, k),
                format!("header column `Vm run {run:02}` appears twice"),
            ));
        }
        runs.push(run);
    }
    if runs.is_empty() {
        return Err(err(
            hline,
            1,
            "the header names no `Vm run NN` column".into(),
        ));
    }
    let mut times_ms: Vec<f64> = Vec::new();
    let mut columns: Vec<Vec<f64>> = vec![Vec::new(); runs.len()];
    for (lineno, line) in lines {
        let mut n = 0;
        for (k, f) in line.split('\t').enumerate() {
            n = k + 1;
            if k > runs.len() {
                continue; // counted, reported below
            }
            let s = f.trim();
            let v: f64 = s.parse().map_err(|_| {
                err(
                    lineno,
                    field_column(line, k),
                    format!("`{s}` is not a number"),
                )
            })?;
            if k == 0 {
                if !v.is_finite() {
                    return Err(err(lineno, 1, format!("time {v} is not finite")));
                }
                if let Some(&last) = times_ms.last()
                    && v <= last
                {
                    return Err(err(
                        lineno,
                        1,
                        format!("time {v} ms does not increase (previous sample {last} ms)"),
                    ));
                }
                times_ms.push(v);
            } else {
                columns[k - 1].push(v);
            }
        }
        if n != runs.len() + 1 {
            return Err(err(
                lineno,
                1,
                format!(
                    "{n} TAB-separated field(s), the header has {}",
                    runs.len() + 1
                ),
            ));
        }
    }
    if times_ms.is_empty() {
        return Err(err(hline, 0, "the file has a header but no samples".into()));
    }
    Ok(TraceFile {
        times_ms,
        runs,
        columns,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_columns_and_runs() {
        let t = "t\tVm run 00\tVm run 01\n100.0\t-75.0\t-75.0\n100.025\t-74.9981\t-74.9979\r\n\n";
        let f = parse_traces(t, "a.csv").unwrap();
        assert_eq!(f.runs, vec![0, 1]);
        assert_eq!(f.times_ms, vec![100.0, 100.025]);
        assert_eq!(f.columns[1], vec![-75.0, -74.9979]);
    }

    #[test]
    fn located_errors() {
        let h = "t\tVm run 00\tVm run 01\n";
        let e = parse_traces(&format!("{h}0\t1\t2\n0.025\t-70\tx\n"), "a.csv").unwrap_err();
        assert_eq!((e.code, e.line, e.column), (Code::E0614, 3, 11));
        let e = parse_traces(&format!("{h}0\t1\n"), "a.csv").unwrap_err();
        assert_eq!((e.code, e.line), (Code::E0614, 2));
        let e = parse_traces(&format!("{h}0\t1\t2\t3\n"), "a.csv").unwrap_err();
        assert_eq!((e.code, e.line), (Code::E0614, 2));
        let e = parse_traces(&format!("{h}0\t1\t2\n0\t1\t2\n"), "a.csv").unwrap_err();
        assert_eq!((e.code, e.line), (Code::E0614, 3));
        let e = parse_traces("t\tVm run 00\tvoltage\n0\t1\t2\n", "a.csv").unwrap_err();
        assert_eq!((e.code, e.line, e.column), (Code::E0614, 1, 13));
        let e = parse_traces("time\tVm run 00\n", "a.csv").unwrap_err();
        assert_eq!((e.code, e.line), (Code::E0614, 1));
        assert_eq!(parse_traces("", "a.csv").unwrap_err().code, Code::E0614);
        assert_eq!(parse_traces(h, "a.csv").unwrap_err().code, Code::E0614);
    }
}
