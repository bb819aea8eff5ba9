//! ISF `.con` files: the presynaptic cell of each synapse (spec 10 §10.4), and the
//! consistency check against the matching `.syn` file.
//!
//! ```text
//! # Anatomical connectivity realization file; only valid with synapse realization:
//! # <.syn file base name>
//! # Type - cell ID - synapse ID
//!
//! <type> TAB <presynaptic cell index> TAB <synapse ID>
//! ```
//! ISF ignores a mismatch between the header's anatomical ID and the `.syn` name and fails
//! late (mid-simulation) on a synapse ID beyond the mapped synapses. [`check_against_syn`]
//! reports every inconsistency up front with the `.con` line.

use crate::diagnostics::Code;
use crate::files::FileError;
use crate::interop::formats::syn::{SynFile, field_column};
use std::collections::HashMap;
use std::path::Path;

/// The connections of one presynaptic type, in file order (structure of arrays).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ConType {
    /// Synapse type, e.g. `L5tt_C2`.
    pub name: String,
    /// Presynaptic cell index of each line.
    pub cell: Vec<u32>,
    /// Synapse ID (index within the type in the `.syn` file) of each line.
    pub synapse: Vec<u32>,
    /// 1-based file line of each entry.
    pub line: Vec<u32>,
}

impl ConType {
    /// Number of connections.
    pub fn len(&self) -> usize {
        self.cell.len()
    }

    /// True when there is no connection.
    pub fn is_empty(&self) -> bool {
        self.cell.is_empty()
    }
}

/// A parsed `.con` file.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ConFile {
    /// File name as given by the caller.
    pub file: String,
    /// Anatomical ID: last space-separated token of the second non-empty line (usually the
    /// `.syn` file name).
    pub anatomical_id: Option<String>,
    /// Types in order of first appearance.
    pub types: Vec<ConType>,
    index: HashMap<String, usize>,
}

impl ConFile {
    /// The connections of type `name`.
    pub fn get(&self, name: &str) -> Option<&ConType> {
        self.index.get(name).map(|&i| &self.types[i])
    }
}

/// Read and parse a `.con` file.
pub fn read_con_file(path: &Path) -> Result<ConFile, FileError> {
    let name = path.display().to_string();
    let text = crate::files::read_data(path)
        .map_err(|e| FileError::new(Code::E0801, format!("cannot read file: {e}"), &name, 0, 0))?;
    parse_con(&text, &name)
}

/// Parse `.con` text; `file` is used in error locations only.
pub fn parse_con(text: &str, file: &str) -> Result<ConFile, FileError> {
    let mut out = ConFile {
        file: file.to_string(),
        ..ConFile::default()
    };
    let mut non_empty = 0usize;
    for (i, raw) in text.lines().enumerate() {
        let lineno = i + 1;
        let t = raw.trim();
        if t.is_empty() {
            continue;
        }
        non_empty += 1;
        if t.starts_with('#') {
            if non_empty == 2 {
                out.anatomical_id = t.split(' ').next_back().map(str::to_string);
            }
            continue;
        }
        let line = raw.trim_end_matches(['\r', '\n']);
        let err = |k: usize, msg: String| {
            FileError::new(Code::E0805, msg, file, lineno, field_column(line, k))
        };
        let fields: Vec<&str> = line.split('\t').map(str::trim).collect();
        if fields.len() != 3 {
            return Err(err(
                0,
                format!(
                    "expected `type<TAB>cell ID<TAB>synapse ID`, found {} field(s)",
                    fields.len()
                ),
            ));
        }
        if fields[0].is_empty() {
            return Err(err(0, "empty synapse type".into()));
        }
        let cell: u32 = fields[1]
            .parse()
            .map_err(|_| err(1, format!("cell ID `{}` is not an integer ≥ 0", fields[1])))?;
        let syn: u32 = fields[2].parse().map_err(|_| {
            err(
                2,
                format!("synapse ID `{}` is not an integer ≥ 0", fields[2]),
            )
        })?;
        let idx = match out.index.get(fields[0]) {
            Some(&k) => k,
            None => {
                out.types.push(ConType {
                    name: fields[0].to_string(),
                    ..ConType::default()
                });
                out.index.insert(fields[0].to_string(), out.types.len() - 1);
                out.types.len() - 1
            }
        };
        let ct = &mut out.types[idx];
        ct.cell.push(cell);
        ct.synapse.push(syn);
        ct.line.push(lineno as u32);
    }
    Ok(out)
}

/// Check that a `.con` file matches its `.syn` file: every `.con` type exists in the `.syn`
/// file, every synapse ID is below that type's synapse count and appears exactly once, and
/// every synapse of the `.syn` file is connected (equal counts per type). Errors are located
/// at the `.con` line (or at the first `.syn` line of a type that the `.con` file lacks).
pub fn check_against_syn(con: &ConFile, syn: &SynFile) -> Result<(), FileError> {
    for ct in &con.types {
        let at = |k: usize, msg: String| {
            FileError::new(Code::E0806, msg, &con.file, ct.line[k] as usize, 1)
        };
        let Some(st) = syn.get(&ct.name) else {
            return Err(at(
                0,
                format!("synapse type `{}` does not occur in {}", ct.name, syn.file),
            ));
        };
        let mut seen = vec![false; st.len()];
        for (k, &s) in ct.synapse.iter().enumerate() {
            let Some(slot) = seen.get_mut(s as usize) else {
                return Err(FileError::new(
                    Code::E0806,
                    format!(
                        "synapse ID {s} of `{}` is beyond the {} synapses of that type in {}",
                        ct.name,
                        st.len(),
                        syn.file
                    ),
                    &con.file,
                    ct.line[k] as usize,
                    0,
                ));
            };
            if *slot {
                return Err(at(
                    k,
                    format!("synapse {s} of `{}` is connected twice", ct.name),
                ));
            }
            *slot = true;
        }
        if ct.len() != st.len() {
            let missing = seen.iter().position(|&b| !b).unwrap_or(0);
            return Err(FileError::new(
                Code::E0806,
                format!(
                    "`{}` has {} synapses in {} but {} connections here; synapse {missing} has no \
                     presynaptic cell",
                    ct.name,
                    st.len(),
                    syn.file,
                    ct.len()
                ),
                &con.file,
                ct.line[0] as usize,
                1,
            ));
        }
    }
    for st in &syn.types {
        if con.get(&st.name).is_none() {
            return Err(FileError::new(
                Code::E0806,
                format!(
                    "synapse type `{}` has {} synapses but no connection in {}",
                    st.name,
                    st.len(),
                    con.file
                ),
                &syn.file,
                st.line.first().copied().unwrap_or(0) as usize,
                1,
            ));
        }
    }
    Ok(())
}

/// Write a `.con` file in ISF's layout (spec 10 §10.4): header line 2 names the `.syn` file
/// (its base name: the anatomical ID), optional further `#` comment lines (`notes`), a blank
/// line, then `(type, cell ID, synapse ID)` lines in the given order.
pub fn write_con(syn_name: &str, notes: &[String], lines: &[(&str, u32, u32)]) -> String {
    let mut s = format!(
        "# Anatomical connectivity realization file; only valid with synapse realization:\n# \
         {syn_name}\n# Type - cell ID - synapse ID\n"
    );
    for n in notes {
        s.push_str(&format!("# {n}\n"));
    }
    s.push('\n');
    for (t, c, k) in lines {
        s.push_str(&format!("{t}\t{c}\t{k}\n"));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::interop::formats::syn::parse_syn;

    const SYN: &str = "# Synapse distribution file\n# corresponding to cell: toy\n# Type - section \
                       - section.x\n\nL5tt_C2\t2\t0.25\nL5tt_C2\t2\t1.0\nL1_C2\t1\t0.0\n";
    const CON: &str = "# Anatomical connectivity realization file; only valid with synapse \
                       realization:\n# toy.syn\n# Type - cell ID - synapse \
                       ID\n\nL5tt_C2\t0\t0\nL5tt_C2\t0\t1\nL1_C2\t0\t0\n";

    #[test]
    fn spec_example_matches() {
        let syn = parse_syn(SYN, "toy.syn").unwrap();
        let con = parse_con(CON, "toy.con").unwrap();
        assert_eq!(con.anatomical_id.as_deref(), Some("toy.syn"));
        assert_eq!(con.get("L5tt_C2").unwrap().synapse, vec![0, 1]);
        check_against_syn(&con, &syn).unwrap();
    }

    #[test]
    fn writer_reads_back() {
        let syn = parse_syn(SYN, "toy.syn").unwrap();
        let text = write_con(
            "toy.syn",
            &["seed 3".into()],
            &[("L5tt_C2", 0, 0), ("L5tt_C2", 0, 1), ("L1_C2", 0, 0)],
        );
        let con = parse_con(&text, "toy.con").unwrap();
        assert_eq!(con.anatomical_id.as_deref(), Some("toy.syn"));
        assert!(text.contains("# seed 3\n\nL5tt_C2\t0\t0\n"), "{text}");
        check_against_syn(&con, &syn).unwrap();
        assert_eq!(con.get("L5tt_C2").unwrap().synapse, vec![0, 1]);
    }

    #[test]
    fn mismatches_are_located() {
        let syn = parse_syn(SYN, "toy.syn").unwrap();
        let bad = CON.replace("L5tt_C2\t0\t1", "L5tt_C2\t0\t2");
        let e = check_against_syn(&parse_con(&bad, "toy.con").unwrap(), &syn).unwrap_err();
        assert_eq!((e.code, e.line), (Code::E0806, 6));
        assert!(e.message.contains("beyond"), "{}", e.message);
        let dup = CON.replace("L5tt_C2\t0\t1", "L5tt_C2\t0\t0");
        let e = check_against_syn(&parse_con(&dup, "toy.con").unwrap(), &syn).unwrap_err();
        assert_eq!((e.code, e.line), (Code::E0806, 6));
        assert!(e.message.contains("twice"), "{}", e.message);
        let short = CON.replace("L5tt_C2\t0\t1\n", "");
        let e = check_against_syn(&parse_con(&short, "toy.con").unwrap(), &syn).unwrap_err();
        assert!(
            e.message.contains("synapse 1 has no presynaptic"),
            "{}",
            e.message
        );
        let other = CON.replace("L1_C2", "L2_C2");
        let e = check_against_syn(&parse_con(&other, "toy.con").unwrap(), &syn).unwrap_err();
        assert_eq!((e.code, e.line), (Code::E0806, 7));
        let e = parse_con("A_C2\t1\t-3\n", "a.con").unwrap_err();
        assert_eq!((e.code, e.line, e.column), (Code::E0805, 1, 8));
    }
}
