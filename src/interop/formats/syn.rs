//! ISF `.syn` files: synapse locations per presynaptic type (spec 10 §10.3).
//!
//! ```text
//! # Synapse distribution file
//! # corresponding to cell: <cell id>
//! # Type - section - section.x
//!
//! <type> TAB <section index> TAB <x in [0,1]> [TAB <pruned 0|1>]
//! ```
//! Empty lines and lines starting with `#` (after trimming) are skipped. Within a type, the
//! synapse ID is the 0-based order of appearance; `.con` files refer to it. Types are kept in
//! order of first appearance. Unlike ISF (which accepts any float), `x` must lie in [0, 1]
//! (ISF's writers clamp it there), so a corrupted value is reported instead of being snapped
//! silently to a section end.

use crate::diagnostics::Code;
use crate::files::FileError;
use std::collections::HashMap;
use std::path::Path;

/// All synapses of one presynaptic type, in synapse-ID order (structure of arrays).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SynType {
    /// Synapse type, e.g. `L5tt_C2`.
    pub name: String,
    /// Section index of each synapse (input-mapper numbering = hoc `create` order).
    pub section: Vec<u32>,
    /// Position on the section as written in the file (0..=1).
    pub x: Vec<f64>,
    /// Pruned flag of each synapse (all `false` unless the file has the 4th column).
    pub pruned: Vec<bool>,
    /// 1-based file line of each synapse (for located errors downstream).
    pub line: Vec<u32>,
}

impl SynType {
    /// Number of synapses of this type.
    pub fn len(&self) -> usize {
        self.section.len()
    }

    /// True when the type has no synapse.
    pub fn is_empty(&self) -> bool {
        self.section.is_empty()
    }
}

/// A parsed `.syn` file.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SynFile {
    /// File name as given by the caller (for messages).
    pub file: String,
    /// Cell id from the `# corresponding to cell:` header line, if present.
    pub cell: Option<String>,
    /// Types in order of first appearance.
    pub types: Vec<SynType>,
    index: HashMap<String, usize>,
}

impl SynFile {
    /// The synapses of type `name`.
    pub fn get(&self, name: &str) -> Option<&SynType> {
        self.index.get(name).map(|&i| &self.types[i])
    }

    /// Total number of synapses over all types.
    pub fn n_synapses(&self) -> usize {
        self.types.iter().map(SynType::len).sum()
    }
}

/// Read and parse a `.syn` file.
pub fn read_syn_file(path: &Path) -> Result<SynFile, FileError> {
    let name = path.display().to_string();
    let text = crate::files::read_data(path)
        .map_err(|e| FileError::new(Code::E0801, format!("cannot read file: {e}"), &name, 0, 0))?;
    parse_syn(&text, &name)
}

/// 1-based column (in characters) of field `k` of a TAB-separated line.
pub(crate) fn field_column(line: &str, k: usize) -> usize {
    let mut col = 1;
    for (i, f) in line.split('\t').enumerate() {
        if i == k {
            return col;
        }
        col += f.chars().count() + 1;
    }
    col
}

/// Parse `.syn` text; `file` is used in error locations only.
pub fn parse_syn(text: &str, file: &str) -> Result<SynFile, FileError> {
    let mut out = SynFile {
        file: file.to_string(),
        ..SynFile::default()
    };
    for (i, raw) in text.lines().enumerate() {
        let lineno = i + 1;
        let t = raw.trim();
        if t.is_empty() {
            continue;
        }
        if let Some(h) = t.strip_prefix('#') {
            if let Some(c) = h.trim().strip_prefix("corresponding to cell:") {
                out.cell = Some(c.trim().to_string());
            }
            continue;
        }
        let line = raw.trim_end_matches(['\r', '\n']);
        let err = |k: usize, msg: String| {
            FileError::new(Code::E0805, msg, file, lineno, field_column(line, k))
        };
        let fields: Vec<&str> = line.split('\t').map(str::trim).collect();
        if fields.len() != 3 && fields.len() != 4 {
            return Err(err(
                0,
                format!(
                    "expected `type<TAB>section<TAB>x` (optionally `<TAB>pruned`), found {} \
                     field(s)",
                    fields.len()
                ),
            ));
        }
        let ty = fields[0];
        if ty.is_empty() {
            return Err(err(0, "empty synapse type".into()));
        }
        let section: u32 = fields[1].parse().map_err(|_| {
            err(
                1,
                format!("section index `{}` is not an integer ≥ 0", fields[1]),
            )
        })?;
        let x: f64 = fields[2].parse().map_err(|_| {
            err(
                2,
                format!("section position `{}` is not a number", fields[2]),
            )
        })?;
        if !(0.0..=1.0).contains(&x) {
            return Err(err(2, format!("section position {x} is outside [0, 1]")));
        }
        let pruned = match fields.get(3) {
            None => false,
            Some(&"0") => false,
            Some(&"1") => true,
            Some(other) => return Err(err(3, format!("pruned flag `{other}` is not 0 or 1"))),
        };
        let idx = match out.index.get(ty) {
            Some(&k) => k,
            None => {
                out.types.push(SynType {
                    name: ty.to_string(),
                    ..SynType::default()
                });
                out.index.insert(ty.to_string(), out.types.len() - 1);
                out.types.len() - 1
            }
        };
        let st = &mut out.types[idx];
        st.section.push(section);
        st.x.push(x);
        st.pruned.push(pruned);
        st.line.push(lineno as u32);
    }
    Ok(out)
}

/// Python's `repr` of a float (what ISF's writers print with `str(x)`): the shortest
/// round-trip digits, `1.0` for integral values, exponent form `1e-05` below 1e-4.
pub fn py_float(v: f64) -> String {
    if v != 0.0 && v.is_finite() && (v.abs() < 1e-4 || v.abs() >= 1e16) {
        let s = format!("{v:e}");
        let (m, e) = s.split_once('e').unwrap_or((&s, "0"));
        let (sign, d) = match e.strip_prefix('-') {
            Some(d) => ('-', d),
            None => ('+', e),
        };
        return format!("{m}e{sign}{d:0>2}");
    }
    let s = format!("{v}");
    if v.is_finite() && !s.contains('.') {
        format!("{s}.0")
    } else {
        s
    }
}

/// Write a `.syn` file in ISF's layout (spec 10 §10.3): the three header lines naming
/// `cell`, optional further `#` comment lines (`notes`, e.g. the seed that produced the
/// realization; every reader skips them), a blank line, then one line per synapse grouped by
/// type in the given order, `x` clamped to [0, 1] and printed as Python does.
pub fn write_syn(cell: &str, notes: &[String], types: &[(String, Vec<(u32, f64)>)]) -> String {
    let mut s = format!(
        "# Synapse distribution file\n# corresponding to cell: {cell}\n# Type - section - \
         section.x\n"
    );
    for n in notes {
        s.push_str(&format!("# {n}\n"));
    }
    s.push('\n');
    for (name, syns) in types {
        for &(sec, x) in syns {
            s.push_str(&format!("{name}\t{sec}\t{}\n", py_float(x.clamp(0.0, 1.0))));
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOY: &str = "# Synapse distribution file\n# corresponding to cell: toy\n# Type - section \
                       - section.x\n\nL5tt_C2\t2\t0.25\nL5tt_C2\t2\t1.0\nL1_C2\t1\t0.0\n";

    #[test]
    fn spec_example() {
        let s = parse_syn(TOY, "toy.syn").unwrap();
        assert_eq!(s.cell.as_deref(), Some("toy"));
        assert_eq!(s.types.len(), 2);
        let l5 = s.get("L5tt_C2").unwrap();
        assert_eq!(l5.section, vec![2, 2]);
        assert_eq!(l5.x, vec![0.25, 1.0]);
        assert_eq!(l5.line, vec![5, 6]);
        assert_eq!(s.get("L1_C2").unwrap().len(), 1);
        assert_eq!(s.n_synapses(), 3);
    }

    #[test]
    fn located_errors() {
        let e = parse_syn("A_C2\t1\n", "a.syn").unwrap_err();
        assert_eq!((e.code, e.line, e.column), (Code::E0805, 1, 1));
        let e = parse_syn("# h\nA_C2\tx\t0.5\n", "a.syn").unwrap_err();
        assert_eq!((e.code, e.line, e.column), (Code::E0805, 2, 6));
        let e = parse_syn("A_C2\t3\t1.5\n", "a.syn").unwrap_err();
        assert_eq!((e.code, e.line, e.column), (Code::E0805, 1, 8));
        assert!(e.message.contains("outside [0, 1]"), "{}", e.message);
        let e = parse_syn("A_C2\t3\t0.5\t2\n", "a.syn").unwrap_err();
        assert_eq!((e.code, e.column), (Code::E0805, 12));
    }

    #[test]
    fn writer_reads_back() {
        assert_eq!(py_float(1.0), "1.0");
        assert_eq!(py_float(0.0), "0.0");
        assert_eq!(py_float(0.138046479525), "0.138046479525");
        assert_eq!(py_float(1e-5), "1e-05");
        assert_eq!(py_float(2.5e-7), "2.5e-07");
        let types = vec![
            ("L5tt_C2".to_string(), vec![(2, 0.25), (2, 1.0 + 1e-12)]),
            ("L1_C2".to_string(), vec![(1, 3e-6)]),
        ];
        let text = write_syn("toy", &["isf map seed 7".into()], &types);
        assert!(
            text.starts_with(
                "# Synapse distribution file\n# corresponding to cell: toy\n# \
                                  Type - section - section.x\n# isf map seed \
                                  7\n\nL5tt_C2\t2\t0.25\n"
            ),
            "{text}"
        );
        let back = parse_syn(&text, "toy.syn").unwrap();
        assert_eq!(back.cell.as_deref(), Some("toy"));
        assert_eq!(back.get("L5tt_C2").unwrap().x, vec![0.25, 1.0]);
        assert_eq!(back.get("L1_C2").unwrap().x, vec![3e-6]);
    }
}
