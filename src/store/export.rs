//! Export of stored data to interchange formats: CSV text and NumPy `.npy` files.
//!
//! The `.npy` writer follows the NumPy format specification, version 1.0: magic `\x93NUMPY`,
//! version bytes `1 0`, a little-endian `u16` header length, an ASCII dict literal
//! (`descr`, `fortran_order`, `shape`) padded with spaces and a newline so the data starts at
//! a multiple of 64 bytes, then the raw little-endian C-order data.

use super::table::{Column, Table, labels_attr};
use rmpv::Value;
use std::fmt::Write as _;

/// An array ready for `.npy`: element type, shape and little-endian bytes.
#[derive(Clone, Debug, PartialEq)]
pub struct NpyArray {
    /// NumPy type string: `<f8` or `<i8`.
    pub descr: &'static str,
    pub shape: Vec<usize>,
    pub data: Vec<u8>,
}

impl NpyArray {
    /// A float64 array of the given shape (row-major values).
    pub fn f64(shape: Vec<usize>, values: &[f64]) -> NpyArray {
        NpyArray {
            descr: "<f8",
            shape,
            data: values.iter().flat_map(|x| x.to_le_bytes()).collect(),
        }
    }

    /// The complete `.npy` file.
    pub fn to_npy(&self) -> Vec<u8> {
        let shape = match self.shape.as_slice() {
            [n] => format!("({n},)"),
            dims => format!(
                "({})",
                dims.iter()
                    .map(usize::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        };
        let mut header = format!(
            "{{'descr': '{}', 'fortran_order': False, 'shape': {shape}, }}",
            self.descr
        );
        // 6 magic + 2 version + 2 length bytes precede the header; pad to 64 with the '\n'.
        let total = 10 + header.len() + 1;
        header.push_str(&" ".repeat((64 - total % 64) % 64));
        header.push('\n');
        let mut out = Vec::with_capacity(10 + header.len() + self.data.len());
        out.extend_from_slice(b"\x93NUMPY\x01\x00");
        out.extend_from_slice(&(header.len() as u16).to_le_bytes());
        out.extend_from_slice(header.as_bytes());
        out.extend_from_slice(&self.data);
        out
    }
}

/// The array of one numeric column of a table (`F64`, `I64` → 1-D, `F64Array` → 2-D). With
/// `column` unset the table's only `F64Array` column is taken.
pub fn table_to_npy(t: &Table, column: Option<&str>) -> Result<NpyArray, String> {
    let name = match column {
        Some(c) => c.to_string(),
        None => {
            let arrays: Vec<&str> = t
                .columns
                .iter()
                .filter(|(_, c)| matches!(c, Column::F64Array { .. }))
                .map(|(n, _)| n.as_str())
                .collect();
            match arrays.as_slice() {
                [one] => one.to_string(),
                _ => {
                    return Err(format!(
                        "choose a column with --column (columns: {})",
                        names(t)
                    ));
                }
            }
        }
    };
    let rows = t.rows()?;
    match t.column(&name) {
        Some(Column::F64(v)) => Ok(NpyArray::f64(vec![v.len()], v)),
        Some(Column::I64(v)) => Ok(NpyArray {
            descr: "<i8",
            shape: vec![v.len()],
            data: v.iter().flat_map(|x| x.to_le_bytes()).collect(),
        }),
        Some(Column::F64Array { width, data }) => Ok(NpyArray::f64(vec![rows, *width], data)),
        Some(_) => Err(format!(
            "column '{name}' is not numeric with a fixed shape; export it as CSV"
        )),
        None => Err(format!("no column '{name}' (columns: {})", names(t))),
    }
}

fn names(t: &Table) -> String {
    t.columns
        .iter()
        .map(|(n, _)| n.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// A stored value that is a list of numbers (1-D) or a list of equally long lists of numbers
/// (2-D) as a float64 array.
pub fn value_to_npy(v: &Value) -> Result<NpyArray, String> {
    let num = |x: &Value| x.as_f64().or_else(|| x.as_i64().map(|i| i as f64));
    let not = || "only a list of numbers or a list of equal-length lists exports".to_string();
    let Value::Array(items) = v else {
        return Err(not());
    };
    if let Some(vals) = items.iter().map(num).collect::<Option<Vec<f64>>>() {
        return Ok(NpyArray::f64(vec![vals.len()], &vals));
    }
    let rows: Vec<Vec<f64>> = items
        .iter()
        .map(|r| r.as_array().and_then(|r| r.iter().map(num).collect()))
        .collect::<Option<_>>()
        .ok_or_else(not)?;
    let width = rows.first().map_or(0, Vec::len);
    if rows.iter().any(|r| r.len() != width) {
        return Err(not());
    }
    Ok(NpyArray::f64(vec![rows.len(), width], &rows.concat()))
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// A table as CSV: one line per row; an `F64Array` column expands into one column per entry
/// (named by its `<column>.labels` attribute when present, else `<column>[i]`); an `F64List`
/// cell holds its values separated by `;`. Floats use the shortest round-trip form.
pub fn table_to_csv(t: &Table) -> Result<String, String> {
    let rows = t.rows()?;
    let mut header = Vec::new();
    for (name, col) in &t.columns {
        match col {
            Column::F64Array { width, .. } => {
                let labels = t.attrs.get(&labels_attr(name)).and_then(Value::as_array);
                for i in 0..*width {
                    match labels.and_then(|l| l.get(i)).and_then(Value::as_f64) {
                        Some(x) => header.push(format!("{x}")),
                        None => header.push(format!("{name}[{i}]")),
                    }
                }
            }
            _ => header.push(name.clone()),
        }
    }
    let mut out = String::new();
    out += &header
        .iter()
        .map(|h| csv_field(h))
        .collect::<Vec<_>>()
        .join(",");
    out.push('\n');
    for r in 0..rows {
        let mut first = true;
        for (_, col) in &t.columns {
            let mut put = |s: &str| {
                if !first {
                    out.push(',');
                }
                first = false;
                out.push_str(s);
            };
            match col {
                Column::F64(v) => put(&v[r].to_string()),
                Column::I64(v) => put(&v[r].to_string()),
                Column::Str(v) => put(&csv_field(&v[r])),
                Column::F64List(v) => put(&v[r]
                    .iter()
                    .map(f64::to_string)
                    .collect::<Vec<_>>()
                    .join(";")),
                Column::F64Array { width, data } => {
                    let mut line = String::new();
                    for (i, x) in data[r * width..(r + 1) * width].iter().enumerate() {
                        if i > 0 {
                            line.push(',');
                        }
                        let _ = write!(line, "{x}");
                    }
                    put(&line);
                }
            }
        }
        out.push('\n');
    }
    Ok(out)
}

/// A value as CSV: a list of numbers as one column, a list of lists as rows.
pub fn value_to_csv(v: &Value) -> Result<String, String> {
    let a = value_to_npy(v)?;
    let vals: Vec<f64> = a
        .data
        .chunks_exact(8)
        .map(|c| f64::from_le_bytes(c.try_into().expect("8 bytes")))
        .collect();
    let width = a.shape.get(1).copied().unwrap_or(1).max(1);
    let mut out = String::new();
    for row in vals.chunks(width) {
        out += &row.iter().map(f64::to_string).collect::<Vec<_>>().join(",");
        out.push('\n');
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn npy_header_is_aligned_and_well_formed() {
        let a = NpyArray::f64(vec![2, 3], &[1., 2., 3., 4., 5., 6.]);
        let f = a.to_npy();
        let hlen = u16::from_le_bytes([f[8], f[9]]) as usize;
        assert_eq!((10 + hlen) % 64, 0);
        let header = std::str::from_utf8(&f[10..10 + hlen]).unwrap();
        assert!(header.starts_with("{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3), }"));
        assert!(header.ends_with('\n'));
        assert_eq!(f.len(), 10 + hlen + 48);
        let one = NpyArray::f64(vec![4], &[0.0; 4]).to_npy();
        assert!(String::from_utf8_lossy(&one).contains("'shape': (4,)"));
    }

    #[test]
    fn csv_expands_arrays_and_quotes() {
        let t = Table::traces(vec!["a,b".into()], &[0.0, 0.025], vec![-75.0, -74.5])
            .with("spikes", Column::F64List(vec![vec![1.5, 2.0]]));
        assert_eq!(
            table_to_csv(&t).unwrap(),
            "sim_trial_index,0,0.025,spikes\n\"a,b\",-75,-74.5,1.5;2\n"
        );
    }
}
