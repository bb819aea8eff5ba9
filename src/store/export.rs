//! Export of stored tables and values: three layouts and three file formats.
//!
//! Layouts (see `docs/reference.md`, `isf db export`):
//!
//! * **wide** — the stored layout: one row per stored row, an `f64_array` column expanded into
//!   one column per sample (named by its `<column>.labels` attribute, e.g. the sample times),
//!   an `f64_list` column kept as a list (CSV: values joined by `;`; Parquet: a list column).
//! * **long** — one row per sample: `time_ms` (the labels), then one column per stored row
//!   and array column, named by the row's sweep values and trial (`stimulus.step.amp_nA=0.4
//!   trial=1`).
//! * **tidy** — one row per stored row × sample (`time_ms` and one value column per array
//!   column), or per stored row × list entry (one row per event: spike times, synapse
//!   releases); every other column (the trial columns of [`crate::run::tables`] among them)
//!   repeated on each.
//!
//! Every layout gives a [`Frame`] of flat columns; the formats write frames: CSV through the
//! `csv` crate (floats in the shortest form that reads back exactly, so grid times print as
//! `0.075`), Parquet through the `parquet` crate (required `DOUBLE`, `INT64`, UTF-8
//! `BYTE_ARRAY` columns, `LIST<DOUBLE>` for lists, Snappy pages; units and the table's
//! attributes and the layout (`layout`: `wide`, `long`, `tidy`) in the file's key-value
//! metadata), and NumPy `.npy`.
//!
//! The `.npy` writer follows the NumPy format specification: magic `\x93NUMPY`, version
//! bytes (`1 0`; `2 0` when the header needs more than 65535 bytes, `3 0` when it is not
//! ASCII), the little-endian header length, an ASCII dict literal (`descr`, `fortran_order`,
//! `shape`) padded with spaces and a newline so the data starts at a multiple of 64 bytes, then
//! the raw little-endian C-order data. A numeric column is a plain array (a trace table's
//! `f64_array` a 2-D `(rows, samples)` array); a whole frame is a structured array, one field
//! per column (`<f8`, `<i8`, `<U…` strings, `(<f8, (w,))` sub-arrays), which
//! `pandas.DataFrame(numpy.load(path))` turns into the same table.

use super::table::{Column, Table, f64_rows, labels_attr, row_major};
use rmpv::Value;
use std::borrow::Cow;
use std::sync::Arc;

/// How rows are laid out in an export.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Layout {
    Wide,
    Long,
    Tidy,
}

/// Attribute listing a table's trial columns (see [`crate::run::tables`]).
const TRIAL_COLUMNS: &str = "trial_columns";
/// Attribute listing a table's sweep-value columns.
const SWEEP_COLUMNS: &str = "sweep_columns";

/// One flat column of a [`Frame`].
#[derive(Clone, Debug, PartialEq)]
pub enum Flat {
    F64(Vec<f64>),
    I64(Vec<i64>),
    Str(Vec<String>),
    /// A list per row (wide layout of event tables only).
    F64List(Vec<Vec<f64>>),
}

impl Flat {
    fn len(&self) -> usize {
        match self {
            Flat::F64(v) => v.len(),
            Flat::I64(v) => v.len(),
            Flat::Str(v) => v.len(),
            Flat::F64List(v) => v.len(),
        }
    }

    fn kind(&self) -> &'static str {
        match self {
            Flat::F64(_) => "f64",
            Flat::I64(_) => "i64",
            Flat::Str(_) => "str",
            Flat::F64List(_) => "f64_list",
        }
    }

    fn append(&mut self, other: Flat) {
        match (self, other) {
            (Flat::F64(a), Flat::F64(b)) => a.extend(b),
            (Flat::I64(a), Flat::I64(b)) => a.extend(b),
            (Flat::Str(a), Flat::Str(b)) => a.extend(b),
            (Flat::F64List(a), Flat::F64List(b)) => a.extend(b),
            _ => unreachable!("append checks the kinds first"),
        }
    }

    /// Column of `col` with each row repeated `times[r]` times.
    fn repeated(col: &Column, times: &[usize]) -> Option<Flat> {
        fn rep<T: Clone>(v: &[T], times: &[usize]) -> Vec<T> {
            let mut out = Vec::with_capacity(times.iter().sum());
            for (x, &n) in v.iter().zip(times) {
                out.extend(std::iter::repeat_n(x.clone(), n));
            }
            out
        }
        Some(match col {
            Column::F64(v) => Flat::F64(rep(v, times)),
            Column::I64(v) => Flat::I64(rep(v, times)),
            Column::Str(v) => Flat::Str(rep(v, times)),
            _ => return None,
        })
    }
}

/// A flat table ready to be written: named columns of equal length, plus key-value metadata
/// (units, the table's attributes) for formats that keep it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Frame {
    pub columns: Vec<(String, Flat)>,
    pub meta: Vec<(String, String)>,
}

impl Frame {
    /// Number of rows.
    pub fn rows(&self) -> usize {
        self.columns.first().map_or(0, |(_, c)| c.len())
    }

    fn push(&mut self, name: &str, col: Flat) {
        self.columns.push((name.to_string(), col));
    }

    /// Append the rows of `other`, which must have the same columns (names and types).
    pub fn append(&mut self, other: Frame) -> Result<(), String> {
        let names = |f: &Frame| -> Vec<String> {
            f.columns
                .iter()
                .map(|(n, c)| format!("{n} ({})", c.kind()))
                .collect()
        };
        if names(self) != names(&other) {
            return Err(format!(
                "tables have different columns: [{}] and [{}]",
                names(self).join(", "),
                names(&other).join(", ")
            ));
        }
        for ((_, a), (_, b)) in self.columns.iter_mut().zip(other.columns) {
            a.append(b);
        }
        Ok(())
    }
}

/// Names of the columns of `t`.
fn names(t: &Table) -> String {
    t.columns
        .iter()
        .map(|(n, _)| n.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

fn str_list(t: &Table, attr: &str) -> Vec<String> {
    match t.attrs.get(attr) {
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(|v| v.as_str().map(str::to_string))
            .collect(),
        _ => Vec::new(),
    }
}

/// The labels of an array column (`<column>.labels`), when they are numbers.
fn labels(t: &Table, column: &str) -> Option<Vec<f64>> {
    match t.attrs.get(&labels_attr(column)) {
        Some(Value::Array(a)) => a.iter().map(Value::as_f64).collect(),
        _ => None,
    }
}

/// `t` restricted to its trial columns and `column` (with `Some`): what `--column` exports.
pub fn select(t: &Table, column: Option<&str>) -> Result<Table, String> {
    let Some(c) = column else {
        return Ok(t.clone());
    };
    if t.column(c).is_none() {
        return Err(format!("no column '{c}' (columns: {})", names(t)));
    }
    let mut keep = str_list(t, TRIAL_COLUMNS);
    keep.push("sim_trial_index".into());
    keep.push(c.to_string());
    let mut out = t.clone();
    out.columns.retain(|(n, _)| keep.contains(n));
    Ok(out)
}

/// Key-value metadata of a frame: units of columns (`<column>.unit`) and other scalar
/// attributes (`recording`, `dt_ms`, …); long arrays such as sample times are left out.
fn frame_meta(t: &Table) -> Vec<(String, String)> {
    t.attrs
        .iter()
        .filter_map(|(k, v)| {
            let text = match v {
                Value::String(s) => s.as_str()?.to_string(),
                Value::F64(x) => x.to_string(),
                Value::Integer(i) => i.to_string(),
                Value::Array(a) if k == TRIAL_COLUMNS || k == SWEEP_COLUMNS => {
                    serde_json::to_string(&a.iter().filter_map(Value::as_str).collect::<Vec<_>>())
                        .ok()?
                }
                _ => return None,
            };
            Some((k.clone(), text))
        })
        .collect()
}

/// The frame of table `t` in `layout`.
pub fn frame(t: &Table, layout: Layout) -> Result<Frame, String> {
    let rows = t.rows()?;
    let mut meta = frame_meta(t);
    // Readers (the Python package's `read_parquet`) tell the layouts apart by this entry.
    let name = match layout {
        Layout::Wide => "wide",
        Layout::Long => "long",
        Layout::Tidy => "tidy",
    };
    meta.push(("layout".to_string(), name.to_string()));
    let mut f = Frame {
        columns: Vec::new(),
        meta,
    };
    match layout {
        Layout::Wide => {
            for (name, col) in &t.columns {
                match col {
                    Column::F64(v) => f.push(name, Flat::F64(v.clone())),
                    Column::I64(v) => f.push(name, Flat::I64(v.clone())),
                    Column::Str(v) => f.push(name, Flat::Str(v.clone())),
                    Column::F64List(v) => f.push(name, Flat::F64List(v.clone())),
                    Column::F64Array(a) => {
                        let width = a.ncols();
                        let labels = labels(t, name).filter(|l| l.len() == width);
                        for i in 0..width {
                            let head = match &labels {
                                Some(l) => format!("{}", l[i]),
                                None => format!("{name}[{i}]"),
                            };
                            let col = a.column(i).to_vec();
                            f.push(&head, Flat::F64(col));
                        }
                    }
                }
            }
        }
        Layout::Long => {
            let arrays = array_columns(t)?;
            if arrays.is_empty() {
                return Err(format!(
                    "the long layout needs sample columns (f64_array); this table has none \
                     (columns: {}); use --layout tidy",
                    names(t)
                ));
            }
            let (width, times) = common_width(t, &arrays)?;
            f.push(time_name(&times), time_column(times, width));
            let row_labels = row_labels(t, rows);
            for (name, data) in &arrays {
                for (r, label) in row_labels.iter().enumerate() {
                    let head = if arrays.len() > 1 {
                        format!("{name}: {label}")
                    } else {
                        label.clone()
                    };
                    f.push(&head, Flat::F64(data[r * width..(r + 1) * width].to_vec()));
                }
            }
            let mut seen = std::collections::HashSet::new();
            if let Some((n, _)) = f.columns.iter().find(|(n, _)| !seen.insert(n.clone())) {
                return Err(format!("two rows are both labelled `{n}`"));
            }
        }
        Layout::Tidy => {
            let arrays = array_columns(t)?;
            let lists: Vec<(&String, &Vec<Vec<f64>>)> = t
                .columns
                .iter()
                .filter_map(|(n, c)| match c {
                    Column::F64List(v) => Some((n, v)),
                    _ => None,
                })
                .collect();
            let scalars: Vec<&(String, Column)> = t
                .columns
                .iter()
                .filter(|(_, c)| matches!(c, Column::F64(_) | Column::I64(_) | Column::Str(_)))
                .collect();
            match (arrays.is_empty(), lists.as_slice()) {
                (false, []) => {
                    let (width, times) = common_width(t, &arrays)?;
                    let times_each = vec![width; rows];
                    for (n, c) in &scalars {
                        f.push(n, Flat::repeated(c, &times_each).expect("scalar"));
                    }
                    let tcol = match time_column(times, width) {
                        Flat::F64(ts) => Flat::F64(ts.repeat(rows)),
                        Flat::I64(ks) => Flat::I64(ks.repeat(rows)),
                        other => other,
                    };
                    f.push(time_name(&labels(t, arrays[0].0)), tcol);
                    for (name, data) in &arrays {
                        f.push(name, Flat::F64(data.to_vec()));
                    }
                }
                (true, [(name, v)]) => {
                    let counts: Vec<usize> = v.iter().map(Vec::len).collect();
                    for (n, c) in &scalars {
                        f.push(n, Flat::repeated(c, &counts).expect("scalar"));
                    }
                    f.push(&event_name(name), Flat::F64(v.concat()));
                }
                (true, []) => {
                    for (n, c) in &scalars {
                        f.push(n, Flat::repeated(c, &vec![1; rows]).expect("scalar"));
                    }
                }
                _ => {
                    let many: Vec<&str> = arrays
                        .iter()
                        .map(|(n, _)| n.as_str())
                        .chain(lists.iter().map(|(n, _)| n.as_str()))
                        .collect();
                    return Err(format!(
                        "the tidy layout takes either sample columns (f64_array) or one event \
                         list (f64_list); this table has {}; choose one with --column",
                        many.join(", ")
                    ));
                }
            }
        }
    }
    Ok(f)
}

/// An `f64_array` column's name and its values in row-major order (borrowed from the table
/// when its array is in standard layout, as every array read from a store is).
type ArrayColumn<'a> = (&'a String, Cow<'a, [f64]>);

/// The `f64_array` columns of `t` with their data.
fn array_columns(t: &Table) -> Result<Vec<ArrayColumn<'_>>, String> {
    Ok(t.columns
        .iter()
        .filter_map(|(n, c)| match c {
            Column::F64Array(a) => Some((n, row_major(a))),
            _ => None,
        })
        .collect())
}

/// The common width of the array columns and the labels of the first.
fn common_width(
    t: &Table,
    arrays: &[ArrayColumn<'_>],
) -> Result<(usize, Option<Vec<f64>>), String> {
    let width_of = |n: &str| match t.column(n) {
        Some(Column::F64Array(a)) => a.ncols(),
        _ => 0,
    };
    let width = width_of(arrays[0].0);
    let times = labels(t, arrays[0].0).filter(|l| l.len() == width);
    for (n, _) in arrays {
        if width_of(n) != width {
            return Err(format!(
                "sample columns `{}` and `{n}` differ in length; choose one with --column",
                arrays[0].0
            ));
        }
        if let Some(l) = labels(t, n)
            && times.as_ref().is_some_and(|t| *t != l)
        {
            return Err(format!(
                "sample columns `{}` and `{n}` have different sample times; choose one with --column",
                arrays[0].0
            ));
        }
    }
    Ok((width, times))
}

/// `time_ms` for labelled samples, `sample` (the index) otherwise.
fn time_name(times: &Option<Vec<f64>>) -> &'static str {
    if times.is_some() { "time_ms" } else { "sample" }
}

fn time_column(times: Option<Vec<f64>>, width: usize) -> Flat {
    match times {
        Some(t) => Flat::F64(t),
        None => Flat::I64((0..width as i64).collect()),
    }
}

/// The value column of a tidy event export: `times` made singular (`times_ms` → `time_ms`,
/// `release_times_ms` → `release_time_ms`), other names as they are.
fn event_name(list: &str) -> String {
    if list.contains("times") {
        list.replacen("times", "time", 1)
    } else {
        list.to_string()
    }
}

/// A cell as a label part: the shortest exact form of a number.
fn cell_text(c: &Column, r: usize) -> String {
    match c {
        Column::F64(v) => format!("{}", v[r]),
        Column::I64(v) => v[r].to_string(),
        Column::Str(v) => v[r].clone(),
        _ => String::new(),
    }
}

/// The label of each row in the long layout: its sweep values, trial and compartment
/// (`stimulus.step.amp_nA=0.4 trial=1`), or its `sim_trial_index` when the table has no
/// trial columns.
fn row_labels(t: &Table, rows: usize) -> Vec<String> {
    let mut parts: Vec<&str> = Vec::new();
    let sweep = str_list(t, SWEEP_COLUMNS);
    parts.extend(sweep.iter().map(String::as_str));
    if t.column("trial").is_some() && !str_list(t, TRIAL_COLUMNS).is_empty() {
        parts.push("trial");
    }
    if t.column("compartment").is_some() {
        parts.push("compartment");
    }
    let cols: Vec<(&str, &Column)> = parts
        .iter()
        .filter_map(|p| t.column(p).map(|c| (*p, c)))
        .collect();
    let index = t.column("sim_trial_index");
    (0..rows)
        .map(|r| {
            if cols.is_empty() || !cols.iter().any(|(p, _)| *p == "trial") {
                // Without trial columns the stored label (plus compartment) names the row.
                let mut l = index.map_or_else(|| format!("row {r}"), |c| cell_text(c, r));
                if let Some(c) = t.column("compartment") {
                    l += &format!(" compartment={}", cell_text(c, r));
                }
                return l;
            }
            cols.iter()
                .map(|(p, c)| format!("{p}={}", cell_text(c, r)))
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect()
}

/// Several tables (the trial tables of an experiment, its per-trial activation tables) as one:
/// their frames in `layout`, concatenated row-wise (wide, tidy) or side by side on a common
/// time column (long).
pub fn concat(frames: Vec<Frame>, layout: Layout) -> Result<Frame, String> {
    let mut it = frames.into_iter();
    let Some(mut out) = it.next() else {
        return Ok(Frame::default());
    };
    for f in it {
        if layout == Layout::Long {
            if f.columns.first() != out.columns.first() {
                return Err(
                    "the tables have different sample times; export them one by one".into(),
                );
            }
            out.columns.extend(f.columns.into_iter().skip(1));
        } else {
            out.append(f)?;
        }
    }
    Ok(out)
}

/// Several stored tables as one (the trial tables of a sub-store): they must have the same
/// columns and sample times.
pub fn concat_tables(tables: Vec<Table>) -> Result<Table, String> {
    let mut it = tables.into_iter();
    let Some(mut out) = it.next() else {
        return Ok(Table::new());
    };
    for t in it {
        if t.schema() != out.schema() {
            return Err(format!(
                "the tables have different columns: [{}] and [{}]; use --column or --layout tidy",
                names(&out),
                names(&t)
            ));
        }
        for (n, c) in &t.columns {
            if matches!(c, Column::F64Array(_)) && labels(&t, n) != labels(&out, n) {
                return Err(format!(
                    "column `{n}` has different sample times in different tables; use --layout tidy"
                ));
            }
        }
        out.extend(t);
    }
    Ok(out)
}

// ---- CSV ---------------------------------------------------------------------------------

fn csv_err(e: csv::Error) -> String {
    format!("CSV: {e}")
}

/// A frame as CSV: a header line, one record per row; lists joined by `;`. Floats use the
/// shortest form that reads back to the same double (`0.075`, `-74.5`, `NaN`).
pub fn frame_to_csv(f: &Frame) -> Result<Vec<u8>, String> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(f.columns.iter().map(|(n, _)| n.as_str()))
        .map_err(csv_err)?;
    let mut cell = String::new();
    for r in 0..f.rows() {
        for (_, c) in &f.columns {
            cell.clear();
            match c {
                Flat::F64(v) => cell.push_str(&v[r].to_string()),
                Flat::I64(v) => cell.push_str(&v[r].to_string()),
                Flat::Str(v) => cell.push_str(&v[r]),
                Flat::F64List(v) => {
                    for (i, x) in v[r].iter().enumerate() {
                        if i > 0 {
                            cell.push(';');
                        }
                        cell.push_str(&x.to_string());
                    }
                }
            }
            w.write_field(&cell).map_err(csv_err)?;
        }
        w.write_record(None::<&[u8]>).map_err(csv_err)?;
    }
    w.into_inner().map_err(|e| format!("CSV: {e}"))
}

/// A stored table as CSV in the wide layout (`isf db get`).
pub fn table_to_csv(t: &Table) -> Result<String, String> {
    let bytes = frame_to_csv(&frame(t, Layout::Wide)?)?;
    String::from_utf8(bytes).map_err(|e| e.to_string())
}

/// A value as CSV: a list of numbers as one column, a list of lists as rows (no header).
pub fn value_to_csv(v: &Value) -> Result<String, String> {
    let (shape, vals) = value_numbers(v)?;
    let width = shape.get(1).copied().unwrap_or(1).max(1);
    let mut w = csv::WriterBuilder::new()
        .flexible(true)
        .from_writer(Vec::new());
    for row in vals.chunks(width) {
        w.write_record(row.iter().map(f64::to_string))
            .map_err(csv_err)?;
    }
    let bytes = w.into_inner().map_err(|e| format!("CSV: {e}"))?;
    String::from_utf8(bytes).map_err(|e| e.to_string())
}

/// A numeric value as a table: column `value` (1-D) or `value` of `f64_array` rows (2-D).
pub fn value_to_table(v: &Value) -> Result<Table, String> {
    let (shape, vals) = value_numbers(v)?;
    Ok(match shape.as_slice() {
        [_] => Table::new().with("value", Column::F64(vals)),
        [_, w] => Table::new().with(
            "value",
            Column::F64Array(f64_rows(*w, vals).ok_or("the value's rows differ in length")?),
        ),
        _ => unreachable!("value_numbers gives 1-D or 2-D"),
    })
}

// ---- Parquet -----------------------------------------------------------------------------

/// Rows per Parquet row group (readers load a row group at a time).
const ROW_GROUP: usize = 1 << 20;

/// A frame as a Parquet file: one required column per frame column (`DOUBLE`, `INT64`, UTF-8
/// `BYTE_ARRAY`; lists as the standard three-level `LIST` of `DOUBLE`), Snappy-compressed,
/// with the frame's metadata as key-value pairs.
pub fn frame_to_parquet(f: &Frame) -> Result<Vec<u8>, String> {
    use parquet::basic::{Compression, LogicalType, Repetition, Type as Physical};
    use parquet::data_type::{ByteArray, ByteArrayType, DoubleType, Int64Type};
    use parquet::file::metadata::KeyValue;
    use parquet::file::properties::WriterProperties;
    use parquet::file::writer::SerializedFileWriter;
    use parquet::schema::types::Type;
    let pq = |e: parquet::errors::ParquetError| format!("Parquet: {e}");
    fn prim(name: &str, t: Physical) -> parquet::schema::types::PrimitiveTypeBuilder<'_> {
        Type::primitive_type_builder(name, t)
    }
    let mut fields = Vec::new();
    for (name, col) in &f.columns {
        let field = match col {
            Flat::F64(_) => prim(name, Physical::DOUBLE)
                .with_repetition(Repetition::REQUIRED)
                .build(),
            Flat::I64(_) => prim(name, Physical::INT64)
                .with_repetition(Repetition::REQUIRED)
                .build(),
            Flat::Str(_) => prim(name, Physical::BYTE_ARRAY)
                .with_repetition(Repetition::REQUIRED)
                .with_logical_type(Some(LogicalType::String))
                .build(),
            Flat::F64List(_) => {
                let element = prim("element", Physical::DOUBLE)
                    .with_repetition(Repetition::REQUIRED)
                    .build()
                    .map_err(pq)?;
                let list = Type::group_type_builder("list")
                    .with_repetition(Repetition::REPEATED)
                    .with_fields(vec![Arc::new(element)])
                    .build()
                    .map_err(pq)?;
                Type::group_type_builder(name)
                    .with_repetition(Repetition::REQUIRED)
                    .with_logical_type(Some(LogicalType::List))
                    .with_fields(vec![Arc::new(list)])
                    .build()
            }
        }
        .map_err(pq)?;
        fields.push(Arc::new(field));
    }
    let schema = Type::group_type_builder("schema")
        .with_fields(fields)
        .build()
        .map_err(pq)?;
    let kv = f
        .meta
        .iter()
        .map(|(k, v)| KeyValue::new(k.clone(), v.clone()))
        .collect::<Vec<_>>();
    let props = WriterProperties::builder()
        .set_compression(Compression::SNAPPY)
        .set_key_value_metadata((!kv.is_empty()).then_some(kv))
        .build();
    let mut out = Vec::new();
    let mut w =
        SerializedFileWriter::new(&mut out, Arc::new(schema), Arc::new(props)).map_err(pq)?;
    let rows = f.rows();
    let mut start = 0;
    while start < rows {
        let end = (start + ROW_GROUP).min(rows);
        let mut rg = w.next_row_group().map_err(pq)?;
        let mut i = 0;
        while let Some(mut cw) = rg.next_column().map_err(pq)? {
            match &f.columns[i].1 {
                Flat::F64(v) => {
                    cw.typed::<DoubleType>()
                        .write_batch(&v[start..end], None, None)
                        .map_err(pq)?;
                }
                Flat::I64(v) => {
                    cw.typed::<Int64Type>()
                        .write_batch(&v[start..end], None, None)
                        .map_err(pq)?;
                }
                Flat::Str(v) => {
                    let vals: Vec<ByteArray> = v[start..end]
                        .iter()
                        .map(|s| ByteArray::from(s.as_bytes().to_vec()))
                        .collect();
                    cw.typed::<ByteArrayType>()
                        .write_batch(&vals, None, None)
                        .map_err(pq)?;
                }
                Flat::F64List(v) => {
                    // Definition level 1 for a value, 0 for an empty list; repetition level
                    // 0 starts a row, 1 continues its list.
                    let (mut vals, mut def, mut rep) = (Vec::new(), Vec::new(), Vec::new());
                    for row in &v[start..end] {
                        if row.is_empty() {
                            def.push(0);
                            rep.push(0);
                        }
                        for (j, &x) in row.iter().enumerate() {
                            vals.push(x);
                            def.push(1);
                            rep.push(i16::from(j > 0));
                        }
                    }
                    cw.typed::<DoubleType>()
                        .write_batch(&vals, Some(&def), Some(&rep))
                        .map_err(pq)?;
                }
            }
            cw.close().map_err(pq)?;
            i += 1;
        }
        rg.close().map_err(pq)?;
        start = end;
    }
    w.close().map_err(pq)?;
    Ok(out)
}

// ---- npy ---------------------------------------------------------------------------------

/// An array ready for `.npy`: element type, shape and little-endian bytes.
#[derive(Clone, Debug, PartialEq)]
pub struct NpyArray {
    /// NumPy type: `'<f8'`, `'<i8'`, or a structured type (`[('a', '<f8'), …]`), as it
    /// appears in the header.
    pub descr: String,
    pub shape: Vec<usize>,
    pub data: Vec<u8>,
}

impl NpyArray {
    /// A float64 array of the given shape (row-major values).
    pub fn f64(shape: Vec<usize>, values: &[f64]) -> NpyArray {
        NpyArray {
            descr: "'<f8'".into(),
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
            "{{'descr': {}, 'fortran_order': False, 'shape': {shape}, }}",
            self.descr
        );
        // Version 1 has a u16 header length; 2 a u32; 3 is 2 with a UTF-8 header.
        let (version, len_bytes) = if !header.is_ascii() {
            (3u8, 4)
        } else if header.len() + 1 + 10 + 64 > 65535 {
            (2, 4)
        } else {
            (1, 2)
        };
        // magic (6) + version (2) + length precede the header; pad to 64 with the '\n'.
        let total = 8 + len_bytes + header.len() + 1;
        header.push_str(&" ".repeat((64 - total % 64) % 64));
        header.push('\n');
        let mut out = Vec::with_capacity(8 + len_bytes + header.len() + self.data.len());
        out.extend_from_slice(b"\x93NUMPY");
        out.extend_from_slice(&[version, 0]);
        if len_bytes == 2 {
            out.extend_from_slice(&(header.len() as u16).to_le_bytes());
        } else {
            out.extend_from_slice(&(header.len() as u32).to_le_bytes());
        }
        out.extend_from_slice(header.as_bytes());
        out.extend_from_slice(&self.data);
        out
    }
}

/// A Python string literal of `s` (field names in a structured `descr`).
fn py_str(s: &str) -> String {
    let mut out = String::from("'");
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\'' => out.push_str("\\'"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\x{:02x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('\'');
    out
}

/// One field of a structured array.
enum Field<'a> {
    F64(&'a [f64]),
    I64(&'a [i64]),
    Str(&'a [String]),
    Sub(usize, Cow<'a, [f64]>),
}

/// A structured array: one record per row, one field per column, packed.
fn structured(fields: &[(&str, Field<'_>)], rows: usize) -> NpyArray {
    // Fixed-width UTF-32 strings: the longest value of each column (at least 1).
    let str_width = |v: &[String]| {
        v.iter()
            .map(|s| s.chars().count())
            .max()
            .unwrap_or(0)
            .max(1)
    };
    let mut descr = Vec::new();
    let mut size = 0;
    for (name, f) in fields {
        let (d, n) = match f {
            Field::F64(_) => ("'<f8'".to_string(), 8),
            Field::I64(_) => ("'<i8'".to_string(), 8),
            Field::Str(v) => {
                let w = str_width(v);
                (format!("'<U{w}'"), 4 * w)
            }
            Field::Sub(w, _) => (format!("'<f8', ({w},)"), 8 * w),
        };
        descr.push(format!("({}, {d})", py_str(name)));
        size += n;
    }
    let widths: Vec<usize> = fields
        .iter()
        .map(|(_, f)| match f {
            Field::Str(v) => str_width(v),
            _ => 0,
        })
        .collect();
    let mut data = Vec::with_capacity(rows * size);
    for r in 0..rows {
        for ((_, f), &w) in fields.iter().zip(&widths) {
            match f {
                Field::F64(v) => data.extend_from_slice(&v[r].to_le_bytes()),
                Field::I64(v) => data.extend_from_slice(&v[r].to_le_bytes()),
                Field::Str(v) => {
                    let mut n = 0;
                    for c in v[r].chars() {
                        data.extend_from_slice(&(c as u32).to_le_bytes());
                        n += 1;
                    }
                    data.resize(data.len() + 4 * (w - n), 0);
                }
                Field::Sub(w, v) => {
                    for x in &v[r * w..(r + 1) * w] {
                        data.extend_from_slice(&x.to_le_bytes());
                    }
                }
            }
        }
    }
    NpyArray {
        descr: format!("[{}]", descr.join(", ")),
        shape: vec![rows],
        data,
    }
}

/// A frame as a structured array (one field per column). Lists cannot be fields: export
/// event tables in the tidy layout.
pub fn frame_to_npy(f: &Frame) -> Result<NpyArray, String> {
    let mut fields = Vec::new();
    for (name, c) in &f.columns {
        let field = match c {
            Flat::F64(v) => Field::F64(v),
            Flat::I64(v) => Field::I64(v),
            Flat::Str(v) => Field::Str(v),
            Flat::F64List(_) => {
                return Err(format!(
                    "column '{name}' holds a list per row, which .npy cannot hold; \
                     use --layout tidy (one row per event) or CSV/Parquet"
                ));
            }
        };
        fields.push((name.as_str(), field));
    }
    Ok(structured(&fields, f.rows()))
}

/// The `.npy` of a table in the wide layout: with `column`, that column (`f64`, `i64` → 1-D,
/// `f64_array` → 2-D `(rows, samples)`); without, the table's only `f64_array` column as a
/// 2-D array, or — when it has several or none — a structured array of all its columns
/// (`f64_array` columns as sub-array fields).
pub fn table_to_npy(t: &Table, column: Option<&str>) -> Result<NpyArray, String> {
    let rows = t.rows()?;
    let arrays: Vec<&str> = t
        .columns
        .iter()
        .filter(|(_, c)| matches!(c, Column::F64Array(_)))
        .map(|(n, _)| n.as_str())
        .collect();
    let name = match (column, arrays.as_slice()) {
        (Some(c), _) => c.to_string(),
        (None, [one]) => one.to_string(),
        (None, _) => {
            let mut fields = Vec::new();
            for (name, c) in &t.columns {
                let field = match c {
                    Column::F64(v) => Field::F64(v),
                    Column::I64(v) => Field::I64(v),
                    Column::Str(v) => Field::Str(v),
                    Column::F64Array(a) => Field::Sub(a.ncols(), row_major(a)),
                    Column::F64List(_) => {
                        return Err(format!(
                            "column '{name}' holds a list per row, which .npy cannot hold; \
                             use --layout tidy (one row per event), --column, or CSV/Parquet"
                        ));
                    }
                };
                fields.push((name.as_str(), field));
            }
            return Ok(structured(&fields, rows));
        }
    };
    match t.column(&name) {
        Some(Column::F64(v)) => Ok(NpyArray::f64(vec![v.len()], v)),
        Some(Column::I64(v)) => Ok(NpyArray {
            descr: "'<i8'".into(),
            shape: vec![v.len()],
            data: v.iter().flat_map(|x| x.to_le_bytes()).collect(),
        }),
        Some(Column::F64Array(a)) => Ok(NpyArray::f64(vec![rows, a.ncols()], &row_major(a))),
        Some(_) => Err(format!(
            "column '{name}' is not numeric with a fixed shape; export it as CSV or Parquet, \
             or use --layout tidy"
        )),
        None => Err(format!("no column '{name}' (columns: {})", names(t))),
    }
}

/// The numbers of a value that is a list of numbers (1-D) or a list of equally long lists
/// of numbers (2-D): its shape and row-major values.
fn value_numbers(v: &Value) -> Result<(Vec<usize>, Vec<f64>), String> {
    let num = |x: &Value| x.as_f64().or_else(|| x.as_i64().map(|i| i as f64));
    let not = || "only a list of numbers or a list of equal-length lists exports".to_string();
    let Value::Array(items) = v else {
        return Err(not());
    };
    if let Some(vals) = items.iter().map(num).collect::<Option<Vec<f64>>>() {
        return Ok((vec![vals.len()], vals));
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
    Ok((vec![rows.len(), width], rows.concat()))
}

/// A stored value that is a list of numbers (1-D) or a list of equally long lists of numbers
/// (2-D) as a float64 array.
pub fn value_to_npy(v: &Value) -> Result<NpyArray, String> {
    let (shape, vals) = value_numbers(v)?;
    Ok(NpyArray::f64(shape, &vals))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(f: &[u8]) -> (u8, String, usize) {
        let (hlen, at) = if f[6] == 1 {
            (u16::from_le_bytes([f[8], f[9]]) as usize, 10)
        } else {
            (
                u32::from_le_bytes(f[8..12].try_into().unwrap()) as usize,
                12,
            )
        };
        (
            f[6],
            String::from_utf8(f[at..at + hlen].to_vec()).unwrap(),
            at + hlen,
        )
    }

    #[test]
    fn npy_header_is_aligned_and_well_formed() {
        let a = NpyArray::f64(vec![2, 3], &[1., 2., 3., 4., 5., 6.]);
        let f = a.to_npy();
        let (v, h, start) = header(&f);
        assert_eq!((v, start % 64), (1, 0));
        assert!(h.starts_with("{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3), }"));
        assert!(h.ends_with('\n'));
        assert_eq!(f.len(), start + 48);
        let one = NpyArray::f64(vec![4], &[0.0; 4]).to_npy();
        assert!(String::from_utf8_lossy(&one).contains("'shape': (4,)"));
        // A header past 64 KiB (a structured array of many fields) switches to version 2.
        let cols: Vec<(String, Flat)> = (0..5000)
            .map(|i| (format!("column number {i}"), Flat::F64(vec![1.0])))
            .collect();
        let big = frame_to_npy(&Frame {
            columns: cols,
            meta: vec![],
        })
        .unwrap()
        .to_npy();
        let (v, h, start) = header(&big);
        assert_eq!((v, start % 64, big.len() - start), (2, 0, 5000 * 8));
        assert!(h.contains("('column number 4999', '<f8')"));
    }

    #[test]
    fn structured_records_are_packed() {
        let t = Table::new()
            .with("l", Column::Str(vec!["ab".into(), "µ'".into()]))
            .with("n", Column::I64(vec![1, -2]))
            .with(
                "vm",
                Column::F64Array(f64_rows(2, vec![0.5, 1.5, 2.5, 3.5]).unwrap()),
            )
            .with("x", Column::F64Array(f64_rows(1, vec![9.0, 8.0]).unwrap()));
        let a = table_to_npy(&t, None).unwrap();
        assert_eq!(
            a.descr,
            "[('l', '<U2'), ('n', '<i8'), ('vm', '<f8', (2,)), ('x', '<f8', (1,))]"
        );
        assert_eq!(a.data.len(), 2 * (8 + 8 + 16 + 8));
        assert_eq!(&a.data[..8], &[b'a', 0, 0, 0, b'b', 0, 0, 0]);
        assert_eq!(&a.data[40 + 4..40 + 8], &[b'\'', 0, 0, 0]);
        assert_eq!(py_str("a'b\\"), "'a\\'b\\\\'");
    }

    fn run_like() -> Table {
        Table::traces(
            vec!["p000000/t000000".into(), "p000001/t000000".into()],
            &[0.0, 0.025, 0.05],
            f64_rows(3, vec![-75.0, -74.5, -74.25, -70.0, 1.5e-3, 20.0]).unwrap(),
        )
        .with_attr(
            TRIAL_COLUMNS,
            Value::Array(vec!["trial".into(), "amp_nA".into()]),
        )
        .with_attr(SWEEP_COLUMNS, Value::Array(vec!["amp_nA".into()]))
        .with("trial", Column::I64(vec![0, 0]))
        .with("amp_nA", Column::F64(vec![0.4, 0.8]))
    }

    #[test]
    fn layouts() {
        let t = run_like();
        let csv = |l| String::from_utf8(frame_to_csv(&frame(&t, l).unwrap()).unwrap()).unwrap();
        assert_eq!(
            csv(Layout::Wide),
            "sim_trial_index,0,0.025,0.05,trial,amp_nA\n\
             p000000/t000000,-75,-74.5,-74.25,0,0.4\np000001/t000000,-70,0.0015,20,0,0.8\n"
        );
        assert_eq!(
            csv(Layout::Long),
            "time_ms,amp_nA=0.4 trial=0,amp_nA=0.8 trial=0\n0,-75,-70\n0.025,-74.5,0.0015\n\
             0.05,-74.25,20\n"
        );
        let tidy = csv(Layout::Tidy);
        assert!(tidy.starts_with(
            "sim_trial_index,trial,amp_nA,time_ms,vm\np000000/t000000,0,0.4,0,-75\n\
             p000000/t000000,0,0.4,0.025,-74.5\n"
        ));
        assert_eq!(tidy.lines().count(), 1 + 6);
        // Events: one row per event; a trial without events has no row.
        let ev = Table::new()
            .with(
                "sim_trial_index",
                Column::Str(vec!["a,\"b\"".into(), "c".into()]),
            )
            .with(
                "times_ms",
                Column::F64List(vec![vec![1.5, 140.575], vec![]]),
            );
        let f = frame(&ev, Layout::Tidy).unwrap();
        assert_eq!(
            String::from_utf8(frame_to_csv(&f).unwrap()).unwrap(),
            "sim_trial_index,time_ms\n\"a,\"\"b\"\"\",1.5\n\"a,\"\"b\"\"\",140.575\n"
        );
        assert_eq!(
            table_to_csv(&ev).unwrap(),
            "sim_trial_index,times_ms\n\"a,\"\"b\"\"\",1.5;140.575\nc,\n"
        );
        assert!(frame(&ev, Layout::Long).unwrap_err().contains("tidy"));
        assert!(frame_to_npy(&frame(&ev, Layout::Wide).unwrap()).is_err());
        // Arrays and lists side by side: choose one.
        let both = run_like().with("spikes", Column::F64List(vec![vec![], vec![0.05]]));
        assert!(frame(&both, Layout::Tidy).unwrap_err().contains("--column"));
        let only = select(&both, Some("spikes")).unwrap();
        let f = frame(&only, Layout::Tidy).unwrap();
        let heads: Vec<&str> = f.columns.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(heads, ["sim_trial_index", "trial", "amp_nA", "spikes"]);
        assert_eq!(f.rows(), 1);
    }

    #[test]
    fn parquet_file_is_framed() {
        let f = frame(&run_like(), Layout::Tidy).unwrap();
        let b = frame_to_parquet(&f).unwrap();
        assert_eq!(&b[..4], b"PAR1");
        assert_eq!(&b[b.len() - 4..], b"PAR1");
        let ev = Table::new().with(
            "times_ms",
            Column::F64List(vec![vec![1.0, 2.0], vec![], vec![3.0]]),
        );
        let b = frame_to_parquet(&frame(&ev, Layout::Wide).unwrap()).unwrap();
        assert_eq!(&b[..4], b"PAR1");
    }
}
